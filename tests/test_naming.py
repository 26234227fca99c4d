import pytest

from asdlab.data.naming import parse_attributes, parse_filename
from asdlab.core.errors import DataError


def test_sectioned_name_with_key_value_attributes():
    info = parse_filename("section_01_target_test_anomaly_0012_car_A1_spd_7_mic_1.wav")
    assert info == {"section": "01", "domain": "target", "split": "test", "label": "anomaly",
                    "index": 12, "attributes": "car_A1_spd_7_mic_1",
                    "attrs": {"car": "A1", "spd": "7", "mic": "1"}}


def test_sectioned_name_from_a_path_and_upper_case_extension():
    info = parse_filename("/data/valve/train/section_00_source_train_normal_0001_pro_A_wt_200.WAV")
    assert (info["split"], info["index"], info["attrs"]) == ("train", 1, {"pro": "A", "wt": "200"})


def test_no_attribute_is_hidden():
    info = parse_filename("section_00_source_train_normal_0990_noAttribute.wav")
    assert info["attributes"] == "noAttribute"
    assert info["attrs"] == {}


def test_name_without_attribute_part():
    info = parse_filename("section_02_source_test_normal_0000.wav")
    assert (info["section"], info["domain"], info["split"], info["label"], info["index"]) == (
        "02", "source", "test", "normal", 0)
    assert info["attributes"] == ""
    assert info["attrs"] == {}


@pytest.mark.parametrize("raw", ["A1Spd28VMic1", "strength_1_ambient"])
def test_2021_single_token_attributes_kept_whole(raw):
    info = parse_filename(f"section_00_source_train_normal_0000_{raw}.wav")
    assert info["attributes"] == raw
    assert info["attrs"] == {"value": raw}


def test_anonymised_eval_file():
    info = parse_filename("section_03_0042.wav")
    assert info == {"section": "03", "domain": None, "split": "test", "label": None,
                    "index": 42, "attributes": "", "attrs": {}}


@pytest.mark.parametrize("domain", ["source", "target"])
def test_dcase2021_eval_file_tells_its_domain_but_not_its_label(domain):
    info = parse_filename(f"section_03_{domain}_test_0007.wav")
    assert info == {"section": "03", "domain": domain, "split": "test", "label": None,
                    "index": 7, "attributes": "", "attrs": {}}


@pytest.mark.parametrize("label", ["normal", "anomaly"])
def test_dcase2020_name(label):
    info = parse_filename(f"{label}_id_04_00000123.wav")
    assert info == {"section": "04", "domain": None, "split": None, "label": label,
                    "index": 123, "attributes": "", "attrs": {}}


def test_dcase2020_anonymised_eval_file():
    info = parse_filename("id_05_00000007.wav")
    assert (info["section"], info["split"], info["label"], info["index"]) == ("05", "test", None, 7)


def test_parse_attributes():
    assert parse_attributes("car_B1_spd_7_mic_1") == {"car": "B1", "spd": "7", "mic": "1"}
    assert parse_attributes("m-n_W") == {"m-n": "W"}
    assert parse_attributes("volt_1.0_wt_30") == {"volt": "1.0", "wt": "30"}
    assert parse_attributes("noAttribute") == {}
    assert parse_attributes("") == {}
    assert parse_attributes("a_1_a_2") == {"value": "a_1_a_2"}  # repeated key: not pairs
    assert parse_attributes("a__b") == {"value": "a__b"}  # empty token: not pairs


@pytest.mark.parametrize("name", [
    "README.wav",
    "section_0_source_train_normal_0001_x_1.wav",      # one-digit section
    "section_00_source_valid_normal_0001_x_1.wav",     # unknown split
    "section_00_other_train_normal_0001_x_1.wav",      # unknown domain
    "section_00_source_train_normal_0001_x_1.flac",    # not .wav
    "normal_00000001.wav",
])
def test_bad_names_raise_with_file_and_patterns(name):
    with pytest.raises(DataError) as exc:
        parse_filename(f"/some/dir/{name}")
    msg = str(exc.value)
    assert name in msg
    assert "section_SS_NNNN.wav" in msg and "id_XX_NNNNNNNN.wav" in msg

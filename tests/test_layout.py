from pathlib import Path

import pandas as pd
import pytest

from asdlab.data import build_clip_table, find_machine_dirs, summarize
from asdlab.data.layout import BASE_COLUMNS
from asdlab.core.errors import DataError

CLIPS_PER_MACHINE = 3 + 1 + 4 * 2  # make_dcase_tree defaults: train source + target, test


def test_dev_layout_table(tmp_path, make_dcase_tree):
    make_dcase_tree(tmp_path, layout="dev")
    dirs = find_machine_dirs(tmp_path)
    assert [(ds, m) for ds, m, _ in dirs] == [("dev_data", "ToyCar"), ("dev_data", "fan")]
    assert dirs[0][2] == tmp_path / "dev_data" / "raw" / "ToyCar"

    table = build_clip_table(tmp_path)
    assert list(table.columns) == BASE_COLUMNS + ["attr_car", "attr_spd"]
    assert len(table) == 2 * CLIPS_PER_MACHINE
    assert set(table["dataset"]) == {"dev_data"}
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in table["path"])
    assert (table["file"] == table["path"].map(lambda p: Path(p).name)).all()
    assert table["index"].dtype.kind == "i"
    keys = table[["machine", "section", "split", "file"]].apply(tuple, axis=1).tolist()
    assert keys == sorted(keys)

    car = table[table["machine"] == "ToyCar"]
    assert (car["attr_car"] == "A1").all() and (car["attr_spd"] == "7").all()
    fan = table[table["machine"] == "fan"]
    assert fan["attr_car"].isna().all() and (fan["attributes"] == "noAttribute").all()
    test = car[car["split"] == "test"]
    assert test.groupby(["domain", "label"]).size().to_dict() == {
        ("source", "anomaly"): 2, ("source", "normal"): 2,
        ("target", "anomaly"): 2, ("target", "normal"): 2}


def test_flat_layout_and_machine_filter(tmp_path, make_dcase_tree):
    make_dcase_tree(tmp_path, layout="flat")
    (tmp_path / "notes").mkdir()  # a folder without train/test is not a machine
    table = build_clip_table(tmp_path, machines=["fan"])
    assert set(table["machine"]) == {"fan"} and set(table["dataset"]) == {""}
    assert len(table) == CLIPS_PER_MACHINE
    assert set(build_clip_table(tmp_path, machines="ToyCar")["machine"]) == {"ToyCar"}
    with pytest.raises(DataError, match="valve"):
        build_clip_table(tmp_path, machines=["valve"])


def test_root_is_one_machine_folder(tmp_path, make_dcase_tree):
    make_dcase_tree(tmp_path, machines={"bearing": "vel_8_loc_A"}, layout="flat")
    table = build_clip_table(tmp_path / "bearing")
    assert set(table["machine"]) == {"bearing"}
    assert len(table) == CLIPS_PER_MACHINE


def test_dev_and_eval_data_with_anonymised_and_2020_names(tmp_path, make_dcase_tree, write_wav):
    make_dcase_tree(tmp_path, machines={"fan": ""}, layout="dev")
    ev = tmp_path / "eval_data" / "raw" / "Scanner"
    write_wav(ev / "train" / "section_00_source_train_normal_0001_noAttribute.wav", 0.05)
    write_wav(ev / "test" / "section_00_0001.wav", 0.05, seed=1)
    old = tmp_path / "eval_data" / "raw" / "pump"
    write_wav(old / "train" / "normal_id_02_00000000.wav", 0.05, seed=2)
    write_wav(old / "test" / "anomaly_id_02_00000001.wav", 0.05, seed=3)

    table = build_clip_table(tmp_path)
    assert sorted(set(zip(table["dataset"], table["machine"]))) == [
        ("dev_data", "fan"), ("eval_data", "Scanner"), ("eval_data", "pump")]
    anon = table[table["file"] == "section_00_0001.wav"].iloc[0]
    assert (anon["split"], anon["domain"], anon["label"]) == ("test", None, None)
    pump = table[table["machine"] == "pump"].set_index("file")
    assert pump.loc["normal_id_02_00000000.wav", "split"] == "train"
    assert pump.loc["anomaly_id_02_00000001.wav", "split"] == "test"
    assert pump["domain"].isna().all() and set(pump["section"]) == {"02"}
    assert not any(c.startswith("attr_") for c in table.columns)


def test_attributes_csv_wins_over_name(tmp_path, make_dcase_tree, write_wav):
    make_dcase_tree(tmp_path, machines={"ToyCar": "car_A1_spd_7"}, layout="dev", n_train=1,
                    n_test=1)
    mdir = tmp_path / "dev_data" / "raw" / "ToyCar"
    anon = write_wav(mdir / "test" / "section_00_0099.wav", 0.05)
    (mdir / "attributes_00.csv").write_text(
        "file_name,d1p,d1v,d2p,d2v\n"
        "ToyCar/train/section_00_source_train_normal_0001_car_A1_spd_7.wav,car,B2,mic,3\n"
        f"ToyCar/test/{anon.name},car,C1,,\n"
        "ToyCar/test/section_00_9999.wav,car,Z9,,\n")  # a file that is not there: ignored
    table = build_clip_table(tmp_path).set_index("file")
    assert list(table.columns[-3:]) == ["attr_car", "attr_mic", "attr_spd"]
    first = table.loc["section_00_source_train_normal_0001_car_A1_spd_7.wav"]
    assert (first["attr_car"], first["attr_mic"]) == ("B2", "3")
    assert pd.isna(first["attr_spd"])  # the csv replaces the name's attributes
    assert first["attributes"] == "car_A1_spd_7"  # raw string still from the name
    assert table.loc[anon.name, "attr_car"] == "C1" and pd.isna(table.loc[anon.name, "attr_spd"])
    other = table.loc["section_00_target_train_normal_0002_car_A1_spd_7.wav"]
    assert (other["attr_car"], other["attr_spd"]) == ("A1", "7")  # not in the csv: from name
    assert len(table) == 1 + 1 + 4 + 1


def test_bad_attributes_csv(tmp_path, make_dcase_tree):
    make_dcase_tree(tmp_path, machines=["gearbox"], layout="flat", n_train=1, n_test=1)
    csv = tmp_path / "gearbox" / "attributes_00.csv"
    csv.write_text("name,d1p,d1v\nx.wav,a,1\n")
    with pytest.raises(DataError, match="attributes_00.csv.*file_name"):
        build_clip_table(tmp_path)


def test_split_from_name_must_match_folder(tmp_path, write_wav):
    bad = write_wav(tmp_path / "fan" / "test" / "section_00_source_train_normal_0001_a_1.wav",
                    0.05)
    with pytest.raises(DataError) as exc:
        build_clip_table(tmp_path)
    assert bad.name in str(exc.value) and "train" in str(exc.value)


def test_missing_root(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        build_clip_table(tmp_path / "nowhere")


def test_no_machine_folders_lists_layouts(tmp_path):
    (tmp_path / "misc").mkdir()
    with pytest.raises(DataError) as exc:
        find_machine_dirs(tmp_path)
    assert "dev_data" in str(exc.value) and "<machine>/{train,test}" in str(exc.value)


def test_empty_machine_folder(tmp_path, make_dcase_tree):
    make_dcase_tree(tmp_path, machines=["fan"], layout="dev", n_train=1, n_test=1)
    empty = tmp_path / "dev_data" / "raw" / "valve"
    (empty / "train").mkdir(parents=True)
    (empty / "train" / "README.md").write_text("nothing here")
    with pytest.raises(DataError) as exc:
        build_clip_table(tmp_path)
    assert "valve" in str(exc.value) and "no .wav" in str(exc.value)
    assert len(build_clip_table(tmp_path, machines=["fan"])) == 1 + 1 + 4


def test_non_audio_ignored_other_audio_and_bad_wav_names_rejected(tmp_path, make_dcase_tree,
                                                                  write_wav):
    make_dcase_tree(tmp_path, machines=["fan"], layout="flat", n_train=1, n_test=1)
    train = tmp_path / "fan" / "train"
    (train / "README").write_text("x")
    (train / "list.csv").write_text("a,b\n")
    (train / ".DS_Store").write_bytes(b"\0")
    assert len(build_clip_table(tmp_path)) == 1 + 1 + 4

    flac = train / "section_00_source_train_normal_0077_noAttribute.flac"
    flac.write_bytes(b"fLaC")
    with pytest.raises(DataError, match=flac.name):
        build_clip_table(tmp_path)
    flac.unlink()

    odd = write_wav(train / "recording_17.wav", 0.05)
    with pytest.raises(DataError) as exc:
        build_clip_table(tmp_path)
    assert str(odd) in str(exc.value) and "section_SS_NNNN.wav" in str(exc.value)


def test_summarize_counts_and_attribute_status(tmp_path, make_dcase_tree, write_wav):
    make_dcase_tree(tmp_path, machines={"ToyCar": "car_A1", "fan": "noAttribute", "valve": ""},
                    layout="dev", n_train=3, n_test=2)
    write_wav(tmp_path / "dev_data" / "raw" / "fan" / "test" / "section_01_0001.wav", 0.05)
    summary = summarize(build_clip_table(tmp_path))

    assert list(summary.columns) == [
        "dataset", "machine", "section", "attributes", "clips",
        "train/source/normal", "train/target/normal",
        "test/source/normal", "test/source/anomaly", "test/target/normal", "test/target/anomaly",
        "test/-/-"]
    rows = summary.set_index(["machine", "section"])
    assert rows.loc[("ToyCar", "00"), "attributes"] == "public"
    assert rows.loc[("fan", "00"), "attributes"] == "hidden"
    assert rows.loc[("valve", "00"), "attributes"] == "none"
    assert rows.loc[("fan", "01"), "attributes"] == "none"
    car = rows.loc[("ToyCar", "00")]
    assert (car["clips"], car["train/source/normal"], car["train/target/normal"],
            car["test/target/anomaly"], car["test/-/-"]) == (12, 3, 1, 2, 0)
    assert rows.loc[("fan", "01"), "test/-/-"] == 1 and rows.loc[("fan", "01"), "clips"] == 1
    assert (summary["dataset"] == "dev_data").all()

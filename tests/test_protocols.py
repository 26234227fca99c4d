"""Each year's official protocol (issue 15, part 2): hand-computed scores per year, checked against
scikit-learn and the 2025 evaluator's published output; detection from the data (2020 names, the
2021 folder layout, 2024 names); the ``--protocol`` flag; the protocol in ``summary.json``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import hmean
from sklearn.metrics import roc_auc_score

from asdlab.cli import PROTOCOL_CHOICES, main
from asdlab.core.errors import ConfigError, DataError, MetricsError
from asdlab.data import build_clip_table
from asdlab.metrics import (ALL_ROW, ALL_ROW_MEAN, AUTO, PROTOCOLS, detect_protocol, format_table,
                            metrics_table, official_2020, official_jackknife, official_score,
                            official_values, read_metrics_table, resolve_protocol, section_metrics)
from asdlab.metrics.submission import evaluate, load_ground_truth, write_submission

# One section, both domains: the hand example of every protocol with domains.
#   source normals 0.1, 0.4   source anomalies 0.5, 0.3
#   target normals 0.35, 0.6  target anomalies 0.7, 0.2
HAND = {("source", "normal"): [0.1, 0.4], ("source", "anomaly"): [0.5, 0.3],
        ("target", "normal"): [0.35, 0.6], ("target", "anomaly"): [0.7, 0.2]}
# By hand (pairs anomaly > normal; pAUC = 1/2 (1 + (A - 0.005) / 0.095), A = area up to FPR 0.1):
AUC_SOURCE_2022 = 6 / 8      # source normals against all 4 anomalies
AUC_TARGET_2022 = 3 / 8
PAUC_SECTION = 23 / 38       # 8 clips: the top clip is an anomaly, then a normal: A = 0.1 * 1/4
S_AUC, T_AUC = 3 / 4, 2 / 4  # 2021: each domain's normals against its own anomalies
S_PAUC = T_PAUC = 14 / 19    # 2021: in each domain the top clip is an anomaly: A = 0.1 * 1/2
AUC_SECTION = 9 / 16         # 2020: every normal against every anomaly of the section


def hand_clips(machine="fan", section="00", names="2024"):
    rows = []
    for (domain, label), scores in HAND.items():
        for i, s in enumerate(scores):
            file = (f"{label}_id_{section}_{i + 10 * (domain == 'target'):08d}.wav" if names == "2020"
                    else f"section_{section}_{domain}_test_{label}_{i + 1:04d}.wav")
            rows.append({"file": file, "machine": machine, "section": section,
                         "domain": None if names == "2020" else domain, "label": label, "score": s})
    return pd.DataFrame(rows)


def _y_s(frame):
    return (frame["label"] == "anomaly").astype(int).to_numpy(), frame["score"].to_numpy()


def test_hand_values_agree_with_scikit_learn():
    c = hand_clips()
    y, s = _y_s(c)
    assert roc_auc_score(y, s) == pytest.approx(AUC_SECTION)
    assert roc_auc_score(y, s, max_fpr=0.1) == pytest.approx(PAUC_SECTION)
    for d, auc, pauc in (("source", S_AUC, S_PAUC), ("target", T_AUC, T_PAUC)):
        yd, sd = _y_s(c[c["domain"] == d])
        assert roc_auc_score(yd, sd) == pytest.approx(auc)
        assert roc_auc_score(yd, sd, max_fpr=0.1) == pytest.approx(pauc)
        keep = (c["domain"] == d) | (c["label"] == "anomaly")
        ym, sm = _y_s(c[keep])
        assert roc_auc_score(ym, sm) == pytest.approx({"source": AUC_SOURCE_2022, "target": AUC_TARGET_2022}[d])


@pytest.mark.parametrize("protocol", ["dcase2022", "dcase2023", "dcase2024", "dcase2025", None])
def test_2022_to_2025_protocol_by_hand_and_default_unchanged(protocol):
    sections = section_metrics(hand_clips(), protocol)
    row = sections.iloc[0]
    assert row["auc_source"] == pytest.approx(AUC_SOURCE_2022)
    assert row["auc_target"] == pytest.approx(AUC_TARGET_2022)
    assert row["pauc"] == pytest.approx(PAUC_SECTION)
    assert "s_auc" not in sections.columns
    expected = hmean([AUC_SOURCE_2022, AUC_TARGET_2022, PAUC_SECTION])
    assert expected == pytest.approx(69 / 130)  # 3 / (4/3 + 8/3 + 38/23) = 0.5308
    assert official_score(sections) == pytest.approx(expected)
    table = metrics_table(sections)
    assert list(table.columns) == ["AUC source", "AUC target", "pAUC"] and table.index[-1] == ALL_ROW
    assert table.attrs["official_score"] == pytest.approx(expected)
    assert table.attrs.get("protocol") == protocol


def test_2021_protocol_by_hand():
    sections = section_metrics(hand_clips(), "dcase2021")
    row = sections.iloc[0]
    assert [row[c] for c in ("s_auc", "t_auc", "s_pauc", "t_pauc")] == pytest.approx([S_AUC, T_AUC, S_PAUC, T_PAUC])
    expected = hmean([S_AUC, T_AUC, S_PAUC, T_PAUC])
    assert expected == pytest.approx(84 / 127)  # 4 / (4/3 + 2 + 19/14 + 19/14) = 0.6614
    assert official_score(sections) == pytest.approx(expected)  # the protocol travels in attrs
    assert official_score(sections.copy(), "dcase2021") == pytest.approx(expected)
    assert sorted(official_values(sections)) == pytest.approx(sorted([S_AUC, T_AUC, S_PAUC, T_PAUC]))
    table = metrics_table(sections)
    assert list(table.columns) == ["AUC source", "AUC target", "pAUC source", "pAUC target"]
    assert table.loc[ALL_ROW].tolist() == pytest.approx([S_AUC, T_AUC, S_PAUC, T_PAUC])
    assert table.attrs["official_score"] == pytest.approx(expected)
    text = format_table(table)
    assert "Protocol dcase2021: AUC and pAUC per section and domain" in text
    # a table read back without attrs is still recognised by its columns
    plain = pd.DataFrame(sections.to_dict("list"))
    assert official_score(plain) == pytest.approx(expected)


def test_2021_needs_both_labels_in_each_domain_and_domains():
    c = hand_clips()
    with pytest.raises(MetricsError, match="fan' section 00: no target-domain anomalous clips; the dcase2021"):
        section_metrics(c[~((c["domain"] == "target") & (c["label"] == "anomaly"))], "dcase2021")
    with pytest.raises(MetricsError, match="the clips have no domain; the dcase2021 protocol"):
        section_metrics(c.assign(domain=None), "dcase2021")
    with pytest.raises(MetricsError, match="no s_auc, t_auc, s_pauc, t_pauc column"):
        official_values(section_metrics(c), "dcase2021")


def test_2020_protocol_by_hand_averages_ids_within_each_machine_type_first():
    fan00 = hand_clips("fan", "00", names="2020")
    fan02 = pd.DataFrame({"file": [f"{lab}_id_02_{i:08d}.wav" for i, lab in enumerate(["normal", "normal", "anomaly", "anomaly"])],
                          "machine": "fan", "section": "02", "domain": None,
                          "label": ["normal", "normal", "anomaly", "anomaly"], "score": [0.1, 0.2, 0.9, 0.3]})
    pump00 = pd.DataFrame({"file": [f"{lab}_id_00_{i:08d}.wav" for i, lab in enumerate(["normal", "normal", "anomaly", "anomaly"])],
                           "machine": "pump", "section": "00", "domain": None,
                           "label": ["normal", "normal", "anomaly", "anomaly"], "score": [0.5, 0.6, 0.1, 0.2]})
    scores = pd.concat([fan00, fan02, pump00], ignore_index=True)
    assert detect_protocol(scores) == "dcase2020"
    sections = section_metrics(scores, "auto")
    assert sections.attrs["protocol"] == "dcase2020"
    by = sections.set_index(["machine", "section"])
    assert by.loc[("fan", "00"), ["auc", "pauc"]].tolist() == pytest.approx([AUC_SECTION, PAUC_SECTION])
    assert by.loc[("fan", "02"), ["auc", "pauc"]].tolist() == pytest.approx([1.0, 1.0])
    assert by.loc[("pump", "00"), ["auc", "pauc"]].tolist() == pytest.approx([0.0, 9 / 19])  # A = 0
    fan = (AUC_SECTION + PAUC_SECTION + 1 + 1) / 4      # 0.79194...
    pump = (0 + 9 / 19) / 2                               # 0.23684...
    expected = (fan + pump) / 2
    assert expected == pytest.approx(1251 / 2432)       # (963/1216 + 9/38) / 2 = 0.5144
    assert official_score(sections) == pytest.approx(expected)
    assert official_2020(sections) == pytest.approx(expected)
    # the flat mean of all six values would be 0.6069: not the ASDKit / evaluator rule
    assert official_score(sections) != pytest.approx(np.mean(sections[["auc", "pauc"]].to_numpy()))
    table = metrics_table(sections)
    assert list(table.columns) == ["AUC", "pAUC"] and table.index[-1] == ALL_ROW_MEAN
    assert table.loc[ALL_ROW_MEAN].tolist() == pytest.approx(
        [((AUC_SECTION + 1) / 2 + 0) / 2, ((PAUC_SECTION + 1) / 2 + 9 / 19) / 2])
    assert table.attrs["official_score"] == pytest.approx(expected)
    assert table.loc[ALL_ROW_MEAN].mean() == pytest.approx(expected)
    text = format_table(table)
    assert f"Official score (mean over machine types of each type's mean AUC and pAUC): {100 * expected:.2f}%" in text
    assert "Protocol dcase2020" in text
    # the default rule on the same data is today's harmonic mean
    assert official_score(section_metrics(scores)) == pytest.approx(hmean(sections[["auc", "pauc"]].to_numpy().ravel()))


def test_2020_protocol_on_data_with_domains_ignores_them():
    sections = section_metrics(hand_clips(), "dcase2020")
    assert sections["auc_source"].isna().all()
    assert official_score(sections) == pytest.approx((AUC_SECTION + PAUC_SECTION) / 2)


def test_metrics_tables_read_back_with_their_protocol(tmp_path):
    for protocol in ("dcase2020", "dcase2021", "dcase2024"):
        table = metrics_table(section_metrics(hand_clips(), protocol))
        table.to_csv(tmp_path / f"{protocol}.csv")
        back = read_metrics_table(tmp_path / f"{protocol}.csv", protocol)
        assert back.attrs["official_score"] == pytest.approx(table.attrs["official_score"])
        assert back.attrs["protocol"] == protocol
    assert read_metrics_table(tmp_path / "dcase2020.csv").attrs["protocol"] == "dcase2020"
    assert read_metrics_table(tmp_path / "dcase2021.csv").attrs["protocol"] == "dcase2021"
    with pytest.raises(MetricsError, match="does not belong to a dcase2024 table"):
        read_metrics_table(tmp_path / "dcase2020.csv", "dcase2024")


def test_the_2025_evaluator_sample_output_is_reproduced():
    """nttcslab/dcase2025_task2_evaluator README: the MSE baseline's paper table and its
    ``official score`` line, 0.5442827820713174."""
    machines = ["AutoTrash", "HomeCamera", "ToyPet", "ToyRCCar", "BandSealer", "CoffeeGrinder", "Polisher", "ScrewFeeder"]
    src = [0.8102, 0.8140000000000001, 0.677, 0.5284, 0.7198, 0.7303999999999999, 0.6686000000000001, 0.6486]
    tgt = [0.3436, 0.4976, 0.36699999999999994, 0.6271999999999999, 0.3956, 0.4436, 0.443, 0.6592]
    pauc = [0.5421052631578948, 0.5284210526315789, 0.55, 0.5552631578947368, 0.5205263157894737,
            0.5342105263157895, 0.5231578947368422, 0.6210526315789474]
    sections = pd.DataFrame({"machine": machines, "section": "00", "auc_source": src, "auc_target": tgt,
                             "auc": np.nan, "pauc": pauc})
    assert official_score(sections, "dcase2025") == pytest.approx(0.5442827820713174, abs=1e-15)
    assert metrics_table(sections, "dcase2025").loc[ALL_ROW, "AUC source"] == pytest.approx(0.6879822239700398)


def test_jackknife_names_its_protocol():
    c = hand_clips()
    out = official_jackknife(c, protocol="dcase2024")
    assert out["official_ci95_method"].startswith("dcase2024: the evaluator's jackknife over the 8 pooled")
    old = official_jackknife(c, protocol="dcase2021")
    assert "the dcase2021 evaluator reports no interval" in old["official_ci95_method"]
    assert old["official_ci95"] == pytest.approx(out["official_ci95"])  # pooled clips: same width
    assert old["official_interval"][0] == pytest.approx(hmean([S_AUC, T_AUC, S_PAUC, T_PAUC]) - old["official_ci95"])


def test_protocol_names_and_errors():
    assert PROTOCOL_CHOICES == (AUTO, *PROTOCOLS)
    assert resolve_protocol(None) == "dcase2024" and resolve_protocol("dcase2022") == "dcase2022"
    with pytest.raises(ConfigError, match="unknown protocol 'dcase2019'; choose from auto, dcase2020"):
        resolve_protocol("dcase2019")
    with pytest.raises(ConfigError, match="unknown protocol"):
        section_metrics(hand_clips(), "2024")


# --- detection from data written the way the organisers publish it ------------------------------

def tree_2020(root, write_wav):
    """``<machine>/{train,test}`` with ``{normal,anomaly}_id_XX_NNNNNNNN.wav``: fan IDs 00, 02."""
    seed = 0
    for section in ("00", "02"):
        for split, label, n in (("train", "normal", 3), ("test", "normal", 2), ("test", "anomaly", 2)):
            for i in range(n):
                write_wav(root / "fan" / split / f"{label}_id_{section}_{i:08d}.wav", 0.5, seed=seed)
                seed += 1
    return root


def tree_2021(root, write_wav, scores=None):
    """``dev_data/<machine>/{train,source_test,target_test}``; test names without attributes.
    ``scores``: also return a scores table of the test clips with the :data:`HAND` scores."""
    base = root / "dev_data" / "fan"
    seed, rows = 0, []
    for i in range(3):
        write_wav(base / "train" / f"section_00_source_train_normal_{i:04d}_A1Spd28VMic1.wav", 0.5, seed=seed)
        seed += 1
    write_wav(base / "train" / "section_00_target_train_normal_0000_A2Spd28VMic1.wav", 0.5, seed=seed)
    for (domain, label), values in HAND.items():
        for i, s in enumerate(values):
            name = f"section_00_{domain}_test_{label}_{i:04d}.wav"
            write_wav(base / f"{domain}_test" / name, 0.5, seed=seed + 1)
            seed += 1
            rows.append({"file": name, "machine": "fan", "section": "00", "score": s})
    return pd.DataFrame(rows)


def test_detection_from_2020_2021_and_2024_trees(tmp_path, write_wav, make_dcase_tree):
    t2020 = build_clip_table(tree_2020(tmp_path / "d2020", write_wav))
    assert detect_protocol(t2020) == "dcase2020" and t2020["domain"].isna().all()
    tree_2021(tmp_path / "d2021", write_wav)
    t2021 = build_clip_table(tmp_path / "d2021")  # <root>/dev_data/<machine>: the 2021 baseline layout
    test = t2021[t2021["split"] == "test"]
    assert len(test) == 8 and set(test["folder"]) == {"source_test", "target_test"}
    assert (test["domain"] + "_test").tolist() == test["folder"].tolist()
    assert t2021["dataset"].eq("dev_data").all() and detect_protocol(t2021) == "dcase2021"
    t2024 = build_clip_table(make_dcase_tree(tmp_path / "d2024"))
    assert set(t2024["folder"]) == {"train", "test"} and detect_protocol(t2024) == "dcase2024"
    # anonymised evaluation names have no domain either, but they are not 2020 names
    assert detect_protocol(pd.DataFrame({"file": ["section_00_0001.wav"], "domain": [None]})) == "dcase2024"


def test_a_2021_test_folder_must_agree_with_the_name(tmp_path, write_wav):
    tree_2021(tmp_path, write_wav)
    wrong = write_wav(tmp_path / "dev_data" / "fan" / "source_test" / "section_00_target_test_normal_0099.wav", 0.1)
    with pytest.raises(DataError, match=f"{wrong.name}: name says domain 'target' but the file is in source_test/"):
        build_clip_table(tmp_path)


def test_evaluate_detects_2021_from_layout_and_the_flag_overrides_it(tmp_path, write_wav, capsys):
    scores = tree_2021(tmp_path / "data", write_wav)
    write_submission(scores, tmp_path / "sub")
    _, table, score = evaluate(tmp_path / "sub", data_root=tmp_path / "data")
    assert table.attrs["protocol"] == "dcase2021"
    assert score == pytest.approx(hmean([S_AUC, T_AUC, S_PAUC, T_PAUC]))
    assert main(["evaluate", str(tmp_path / "sub"), "--data", str(tmp_path / "data")]) == 0
    printed = capsys.readouterr().out
    assert "Protocol dcase2021" in printed and "pAUC source" in printed
    assert f"{100 * score:.2f}%" in printed
    assert main(["evaluate", str(tmp_path / "sub"), "--data", str(tmp_path / "data"), "--protocol", "dcase2024"]) == 0
    printed = capsys.readouterr().out
    expected = hmean([AUC_SOURCE_2022, AUC_TARGET_2022, PAUC_SECTION])
    assert "Protocol dcase2024" in printed and f"{100 * expected:.2f}%" in printed
    assert main(["evaluate", str(tmp_path / "sub"), "--data", str(tmp_path / "data"), "--protocol", "dcase2020"]) == 0
    assert f"{100 * (AUC_SECTION + PAUC_SECTION) / 2:.2f}%" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path / "sub"), "--protocol", "dcase1999"])


def test_the_2021_evaluators_per_domain_ground_truth(tmp_path):
    gt = tmp_path / "gt" / "ground_truth_data"
    gt.mkdir(parents=True)
    clips = hand_clips()
    for d in ("source", "target"):
        part = clips[clips["domain"] == d]
        (gt / f"ground_truth_fan_section_00_{d}_test.csv").write_text(
            "".join(f"{f},{int(lab == 'anomaly')}\n" for f, lab in zip(part["file"], part["label"])))
    loaded = load_ground_truth(tmp_path / "gt")
    assert set(loaded["folder"]) == {"source_test", "target_test"} and detect_protocol(loaded) == "dcase2021"
    write_submission(clips, tmp_path / "sub")
    _, table, score = evaluate(tmp_path / "sub", ground_truth_dir=tmp_path / "gt")
    assert table.attrs["protocol"] == "dcase2021"
    assert score == pytest.approx(hmean([S_AUC, T_AUC, S_PAUC, T_PAUC]))


# --- run folders ------------------------------------------------------------------------------

def test_run_records_the_protocol_and_the_flag_rescores_only_the_metrics(tmp_path, write_wav, capsys):
    data = tree_2020(tmp_path / "data", write_wav)
    args = ["run", "ae_mse", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "smoke",
            "--set", "epochs=1", "--cache", str(tmp_path / "cache"), "--quiet"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "Protocol dcase2020" in printed and ALL_ROW_MEAN in printed
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert summary["protocol"] == config["protocol"] == "dcase2020"
    metrics = pd.read_csv(tmp_path / "run" / "metrics.csv")
    assert summary["official_score"] == pytest.approx(metrics[["auc", "pauc"]].to_numpy().mean())  # one type
    assert "no interval" in summary["official_ci95_method"]
    scores_before = (tmp_path / "run" / "scores.csv").read_text()
    assert main(args + ["--protocol", "dcase2024"]) == 0
    printed = capsys.readouterr().out
    assert "Protocol dcase2024" in printed and ALL_ROW in printed
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["protocol"] == "dcase2024"
    assert summary["official_score"] == pytest.approx(hmean(metrics[["auc", "pauc"]].to_numpy().ravel()))
    assert json.loads((tmp_path / "run" / "config.json").read_text())["protocol"] == "dcase2024"
    assert (tmp_path / "run" / "scores.csv").read_text() == scores_before  # not retrained


def test_a_run_on_the_2021_layout_scores_per_domain(tmp_path, write_wav):
    from asdlab.runs import load_run, run_method

    tree_2021(tmp_path / "data", write_wav)
    out = run_method("ae_mse", tmp_path / "data", tmp_path / "run", preset="smoke", overrides={"epochs": 1},
                     cache_dir=tmp_path / "cache", progress=False)
    run = load_run(out)
    assert run["summary"]["protocol"] == "dcase2021" and run["config"]["protocol"] == "dcase2021"
    m = run["metrics"]
    assert run["summary"]["official_score"] == pytest.approx(hmean(m[["s_auc", "t_auc", "s_pauc", "t_pauc"]].to_numpy().ravel()))
    assert list(run["table"].columns) == ["AUC source", "AUC target", "pAUC source", "pAUC target"]
    assert run["table"].attrs["protocol"] == "dcase2021"
    assert official_score(m) == pytest.approx(run["summary"]["official_score"])

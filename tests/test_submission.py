"""Submission CSVs, evaluator-style ground truth and end-to-end evaluation."""

import numpy as np
import pandas as pd
import pytest

from asdlab.core.errors import SubmissionError
from asdlab.metrics import official_score, section_metrics
from asdlab.metrics.submission import (evaluate, ground_truth_from_table, load_ground_truth,
                               read_submission, write_submission)

SECTIONS = [("ToyCar", "00"), ("fan", "00"), ("fan", "01")]


def dev_clips(seed=0, n=6):
    """Labelled test clips with scores and decisions: n per domain x label per section."""
    rng = np.random.default_rng(seed)
    rows = []
    for machine, section in SECTIONS:
        for domain in ("source", "target"):
            for label in ("normal", "anomaly"):
                for i in range(n):
                    score = rng.normal() + (label == "anomaly")
                    name = f"section_{section}_{domain}_test_{label}_{i:04d}_a_{i % 2}.wav"
                    rows.append({"file": name, "machine": machine, "section": section,
                                 "domain": domain, "label": label, "score": score,
                                 "decision": int(score > 0.5)})
    return pd.DataFrame(rows)


def write_ground_truth(root, clips, with_domain=True):
    """The evaluator's ground_truth_data/ and ground_truth_domain/ folders for ``clips``."""
    (root / "ground_truth_data").mkdir(parents=True)
    if with_domain:
        (root / "ground_truth_domain").mkdir()
    for (machine, section), g in clips.groupby(["machine", "section"]):
        name = f"ground_truth_{machine}_section_{section}_test.csv"
        g = g.sample(frac=1, random_state=0)  # the evaluator sorts: order must not matter
        (root / "ground_truth_data" / name).write_text(
            "".join(f"{f},{int(lab == 'anomaly')}\n" for f, lab in zip(g["file"], g["label"])))
        if with_domain:
            (root / "ground_truth_domain" / name).write_text(
                "".join(f"{f},{int(d == 'target')}\n" for f, d in zip(g["file"], g["domain"])))
    return root


def test_round_trip_is_exact_headerless_and_sorted(tmp_path):
    clips = dev_clips()
    clips.loc[0, "score"] = 1 / 3
    clips.loc[1, "score"] = -1e-300
    shuffled = clips.sample(frac=1, random_state=1)
    paths = write_submission(shuffled, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in paths)
    assert len(paths) == 2 * len(SECTIONS)
    lines = (tmp_path / "anomaly_score_fan_section_01_test.csv").read_text().splitlines()
    names = [line.split(",")[0] for line in lines]
    assert names == sorted(names) and len(lines) == 24
    assert lines[0].startswith("section_01_source_test_anomaly_0000_a_0.wav,")
    decisions = (tmp_path / "decision_result_fan_section_01_test.csv").read_text().splitlines()
    assert {line.split(",")[1] for line in decisions} <= {"0", "1"}

    back = read_submission(tmp_path)
    expected = clips.sort_values(["machine", "section", "file"], ignore_index=True)
    assert back["file"].tolist() == expected["file"].tolist()
    assert back["machine"].tolist() == expected["machine"].tolist()
    assert back["section"].tolist() == expected["section"].tolist()
    assert back["score"].tolist() == expected["score"].tolist()  # exact floats
    assert back["decision"].tolist() == expected["decision"].tolist()


def test_without_decisions_only_score_files_and_stale_decisions_removed(tmp_path):
    clips = dev_clips()
    write_submission(clips, tmp_path)
    write_submission(clips.drop(columns="decision"), tmp_path)
    assert not list(tmp_path.glob("decision_result_*"))
    assert read_submission(tmp_path)["decision"].isna().all()


@pytest.mark.parametrize("change, message", [
    (lambda c: c.assign(section=0), "bad section"),
    (lambda c: pd.concat([c, c.iloc[:1]]), "appears more than once"),
    (lambda c: c.assign(score=np.where(c.index == 3, np.inf, c["score"])), "not a finite"),
    (lambda c: c.assign(decision=np.where(c.index == 3, 2, c["decision"])), "not 0 or 1"),
    (lambda c: c.assign(decision=np.where(c.index == 3, np.nan, c["decision"])), "some clips only"),
    (lambda c: c.assign(file=np.where(c.index == 3, "a,b.wav", c["file"])), "bad file"),
])
def test_write_refuses_bad_tables(tmp_path, change, message):
    with pytest.raises(SubmissionError, match=message):
        write_submission(change(dev_clips()), tmp_path)
    assert not list(tmp_path.iterdir())


def _one_file(tmp_path, text, name="anomaly_score_fan_section_00_test.csv"):
    (tmp_path / name).write_text(text)
    return tmp_path / name


@pytest.mark.parametrize("text, message", [
    ("file,score\na.wav,0.5\n", "line 1 'file,score' looks like a header line"),
    ("a.wav,0.5\nb.wav,oops\n", "line 2: score 'oops' of 'b.wav' is not valid"),
    ("a.wav,0.5\nb.wav,nan\n", "line 2: score 'nan'"),
    ("a.wav,0.5\nb.wav,0.1,1\n", "line 2: expected 2 columns"),
    ("a.wav,0.5\n\nb.wav,0.1\n", "line 2: expected 2 columns"),
    ("a.wav,0.5\na.wav,0.7\n", "line 2: file 'a.wav' appears more than once"),
    ("", "empty file"),
])
def test_read_errors_name_the_file_and_line(tmp_path, text, message):
    path = _one_file(tmp_path, text)
    with pytest.raises(SubmissionError, match=message) as err:
        read_submission(tmp_path)
    assert str(path) in str(err.value)


def test_read_errors_of_decision_files(tmp_path):
    _one_file(tmp_path, "a.wav,0.5\nb.wav,0.1\n")
    decisions = _one_file(tmp_path, "a.wav,1\nb.wav,0.5\n",
                          "decision_result_fan_section_00_test.csv")
    with pytest.raises(SubmissionError, match="decision '0.5'"):
        read_submission(tmp_path)
    decisions.write_text("a.wav,1\nc.wav,0\n")
    with pytest.raises(SubmissionError,
                       match=r"1 file\(s\) of .* missing: b.wav; 1 file\(s\) not in .*: c.wav"):
        read_submission(tmp_path)
    _one_file(tmp_path, "a.wav,1\n", "decision_result_valve_section_00_test.csv")
    with pytest.raises(SubmissionError,
                       match="has no matching score file .*anomaly_score_valve_section_00"):
        read_submission(tmp_path)


def test_read_of_a_folder_without_submission_files(tmp_path):
    with pytest.raises(SubmissionError, match="does not exist"):
        read_submission(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(SubmissionError, match="no anomaly_score_"):
        read_submission(tmp_path)


def test_load_ground_truth_folder(tmp_path):
    clips = dev_clips()
    gt = load_ground_truth(write_ground_truth(tmp_path / "gt", clips))
    expected = clips[["file", "machine", "section", "label", "domain"]].sort_values(
        ["machine", "section", "file"], ignore_index=True)
    assert gt.to_dict("records") == expected.to_dict("records")


def test_load_ground_truth_without_domain_folder_and_errors(tmp_path):
    clips = dev_clips()
    gt = load_ground_truth(write_ground_truth(tmp_path / "a", clips, with_domain=False))
    assert gt["domain"].isna().all() and set(gt["label"]) == {"normal", "anomaly"}
    root = write_ground_truth(tmp_path / "b", clips)
    (root / "ground_truth_domain" / "ground_truth_fan_section_01_test.csv").unlink()
    with pytest.raises(SubmissionError, match="missing domain ground truth .*fan_section_01"):
        load_ground_truth(root)
    with pytest.raises(SubmissionError, match="no ground_truth_data"):
        load_ground_truth(tmp_path)


def test_ground_truth_from_clip_table_keeps_labelled_test_clips():
    clips = dev_clips()
    table = pd.concat([
        clips.assign(split="test"),
        clips.iloc[:5].assign(split="train", file=lambda c: c["file"].str.replace("test", "train")),
        pd.DataFrame({"file": ["section_00_0000.wav"], "machine": ["HairDryer"], "section": ["00"],
                      "domain": [None], "label": [None], "split": ["test"], "score": [0.0]}),
    ], ignore_index=True)
    gt = ground_truth_from_table(table)
    assert len(gt) == len(clips) and "HairDryer" not in set(gt["machine"])
    assert list(gt.columns) == ["file", "machine", "section", "label", "domain"]
    with pytest.raises(SubmissionError, match="no labelled test clips"):
        ground_truth_from_table(table[table["machine"] == "HairDryer"])


def test_evaluate_against_a_ground_truth_folder(tmp_path):
    clips = dev_clips(n=10)
    write_submission(clips, tmp_path / "sub")
    gt_dir = write_ground_truth(tmp_path / "gt", clips)
    sections, table, score = evaluate(tmp_path / "sub", ground_truth_dir=gt_dir)
    expected = section_metrics(clips)
    pd.testing.assert_frame_equal(sections, expected, check_dtype=False)
    assert score == pytest.approx(official_score(expected))
    assert table.attrs["official_score"] == pytest.approx(score)
    assert list(table.index) == ["ToyCar", "fan (00)", "fan (01)", "All (hmean)"]


def test_evaluate_finds_ground_truth_under_data_root_or_in_file_names(tmp_path):
    clips = dev_clips()
    write_submission(clips, tmp_path / "sub")
    write_ground_truth(tmp_path / "root" / "ground_truth", clips)
    _, _, from_folder = evaluate(tmp_path / "sub", data_root=tmp_path / "root")

    for machine, file in zip(clips["machine"], clips["file"]):  # empty WAVs: names are enough
        wav = tmp_path / "bare" / "dev_data" / "raw" / machine / "test" / file
        wav.parent.mkdir(parents=True, exist_ok=True)
        wav.touch()
    train = tmp_path / "bare" / "dev_data" / "raw" / "fan" / "train"
    train.mkdir()
    (train / "section_00_source_train_normal_0000_a_0.wav").touch()
    sections, _, from_names = evaluate(tmp_path / "sub", data_root=tmp_path / "bare")
    assert from_folder == pytest.approx(from_names)
    assert sections["n_normal_source"].tolist() == [6, 6, 6]
    with pytest.raises(SubmissionError, match="give data_root or ground_truth_dir"):
        evaluate(tmp_path / "sub")


def test_evaluate_names_missing_and_extra_rows(tmp_path):
    clips = dev_clips()
    gt_dir = write_ground_truth(tmp_path / "gt", clips)
    dropped = (clips["file"].str.contains("target_test_normal_0003")
               & (clips["machine"] == "fan") & (clips["section"] == "01"))
    write_submission(clips[~dropped], tmp_path / "sub")
    with pytest.raises(SubmissionError) as err:
        evaluate(tmp_path / "sub", ground_truth_dir=gt_dir)
    message = str(err.value)
    assert "anomaly_score_fan_section_01_test.csv: 1 missing row(s): " \
           "section_01_target_test_normal_0003_a_1.wav" in message
    assert "ToyCar" not in message

    extra = clips.iloc[:1].assign(file="section_00_source_test_normal_9999.wav")
    write_submission(pd.concat([clips, extra]), tmp_path / "sub2")
    with pytest.raises(SubmissionError,
                       match="1 extra row.*section_00_source_test_normal_9999.wav"):
        evaluate(tmp_path / "sub2", ground_truth_dir=gt_dir)


def test_evaluate_names_a_missing_score_file_and_restricts_machines(tmp_path):
    clips = dev_clips()
    gt_dir = write_ground_truth(tmp_path / "gt", clips)
    write_submission(clips[clips["machine"] == "fan"], tmp_path / "sub")
    with pytest.raises(SubmissionError,
                       match=r"missing score file .*anomaly_score_ToyCar_section_00_test.csv"):
        evaluate(tmp_path / "sub", ground_truth_dir=gt_dir)
    sections, _, _ = evaluate(tmp_path / "sub", ground_truth_dir=gt_dir, machines=["fan"])
    assert sections["machine"].tolist() == ["fan", "fan"]
    with pytest.raises(SubmissionError, match="pump"):
        evaluate(tmp_path / "sub", ground_truth_dir=gt_dir, machines=["pump"])


def test_evaluate_dcase2020_style_ground_truth_without_domains(tmp_path):
    clips = dev_clips().assign(domain=None)
    write_submission(clips, tmp_path / "sub")
    gt_dir = write_ground_truth(tmp_path / "gt", clips, with_domain=False)
    sections, table, score = evaluate(tmp_path / "sub", ground_truth_dir=gt_dir)
    assert sections["auc_source"].isna().all()
    assert list(table.columns) == ["AUC", "pAUC"]
    values = np.concatenate([sections["auc"], sections["pauc"]])
    assert score == pytest.approx(len(values) / np.sum(1 / values))


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_a_non_finite_score_on_line_1_is_named_as_such_not_as_a_header(tmp_path, value):
    path = _one_file(tmp_path, f"a.wav,{value}\nb.wav,0.5\n")
    with pytest.raises(SubmissionError) as err:
        read_submission(tmp_path)
    assert str(err.value) == f"{path}, line 1: score '{value}' of 'a.wav' is not a finite number"


def test_a_byte_order_mark_is_named(tmp_path):
    """The official evaluator (open + csv.reader, rows sorted by name) keeps the BOM in the first
    name, which then sorts last: the scores are paired with the wrong labels. Refused by name."""
    path = tmp_path / "anomaly_score_fan_section_00_test.csv"
    path.write_bytes("a.wav,0.5\nb.wav,0.1\n".encode("utf-8-sig"))
    with pytest.raises(SubmissionError, match="starts with a UTF-8 byte-order mark") as err:
        read_submission(tmp_path)
    assert str(err.value).startswith(f"{path}: ") and "\n" not in str(err.value)
    assert sorted(["\ufeffa.wav", "b.wav"]) == ["b.wav", "\ufeffa.wav"]  # why the evaluator mis-pairs


def test_names_that_differ_by_an_invisible_character_are_shown_escaped(tmp_path):
    clips = dev_clips()
    gt_dir = write_ground_truth(tmp_path / "gt", clips)
    write_submission(clips, tmp_path / "sub")
    f = tmp_path / "sub" / "anomaly_score_ToyCar_section_00_test.csv"
    (tmp_path / "sub" / "decision_result_ToyCar_section_00_test.csv").unlink(missing_ok=True)
    lines = f.read_text().splitlines(keepends=True)
    name = lines[1].split(",")[0]
    lines[1] = "\ufeff" + lines[1]  # a BOM inside the file (two files concatenated)
    f.write_text("".join(lines))
    with pytest.raises(SubmissionError) as err:
        evaluate(tmp_path / "sub", ground_truth_dir=gt_dir)
    assert f"1 missing row(s): {name}; 1 extra row(s) not in the ground truth: '\\ufeff{name}'" in str(err.value)

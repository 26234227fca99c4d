"""End to end: ``asdlab run`` on a tiny dataset writes a complete, reproducible run folder."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from asdlab.cli import main
from asdlab.methods import get_method, list_methods
from asdlab.runs import RunExistsError, load_run, run_method
from asdlab.metrics.submission import read_submission

FAST = {"epochs": 2}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from conftest import make_dcase_tree

    root = tmp_path_factory.mktemp("data")
    return make_dcase_tree(root, machines={"ToyCar": "car_A1_spd_7", "fan": "noAttribute"},
                           seconds=0.5, n_train=6, n_test=3)


@pytest.fixture(scope="module")
def mse_run(dataset, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    out = run_method("ae_mse", dataset, tmp / "ae_mse", preset="smoke", overrides=FAST,
                     cache_dir=tmp / "cache", progress=False)
    return out, tmp / "cache"


def test_run_folder_holds_every_file(mse_run):
    out, _ = mse_run
    for name in ["config.json", "scores.csv", "train_scores.csv", "metrics.csv", "table.csv",
                 "summary.json", "checkpoints/ToyCar.pt", "checkpoints/fan.pt",
                 "submission/anomaly_score_ToyCar_section_00_test.csv",
                 "submission/decision_result_fan_section_00_test.csv"]:
        assert (out / name).is_file(), name
    assert not out.with_name(out.name + ".partial").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["method"] == "ae_mse" and config["seed"] == 0
    assert config["params"]["epochs"] == 2 and config["params"]["bottleneck"] == 8
    assert config["asdlab_version"] and config["data_fingerprint"]


def test_scores_cover_every_test_clip_and_match_the_submission(mse_run, dataset):
    out, _ = mse_run
    run = load_run(out)
    scores = run["scores"]
    assert len(scores) == 2 * 2 * 2 * 3  # machines x domains x labels x n_test
    assert list(scores.columns) == ["file", "machine", "section", "domain", "label", "score", "decision"]
    assert set(scores["decision"]) <= {0, 1}
    sub = read_submission(out / "submission")
    merged = scores.merge(sub, on=["file", "machine", "section"], suffixes=("", "_sub"))
    assert len(merged) == len(scores)
    np.testing.assert_allclose(merged["score"], merged["score_sub"], rtol=1e-6)
    assert list(run["table"].index)[-1] == "All (hmean)"
    assert 0.0 < run["summary"]["official_score"] <= 1.0


def test_same_seed_same_scores_and_the_model_cache_is_used(mse_run, dataset, tmp_path):
    out, cache = mse_run
    again = run_method("ae_mse", dataset, tmp_path / "again", preset="smoke", overrides=FAST,
                       cache_dir=tmp_path / "fresh-cache", progress=False)
    a, b = load_run(out)["scores"], load_run(again)["scores"]
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())
    other = run_method("ae_mse", dataset, tmp_path / "seed1", preset="smoke", overrides=FAST,
                       seed=1, cache_dir=tmp_path / "fresh-cache", progress=False)
    assert not np.array_equal(a["score"].to_numpy(), load_run(other)["scores"]["score"].to_numpy())


def test_mahalanobis_reuses_the_trained_autoencoder(mse_run, dataset, tmp_path):
    out, cache = mse_run
    maha = run_method("ae_mahala", dataset, tmp_path / "maha", preset="smoke", overrides=FAST,
                      cache_dir=cache, progress=False)
    for machine in ["ToyCar", "fan"]:
        a = torch.load(out / "checkpoints" / f"{machine}.pt")
        b = torch.load(maha / "checkpoints" / f"{machine}.pt")
        assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (maha / "train").exists()
    scores = load_run(maha)["scores"]
    assert np.isfinite(scores["score"]).all() and (scores["score"] >= 0).all()


def test_existing_runs_are_reused_or_protected(mse_run, dataset, tmp_path):
    out, cache = mse_run
    before = (out / "scores.csv").stat().st_mtime_ns
    assert run_method("ae_mse", dataset, out, preset="smoke", overrides=FAST, cache_dir=cache,
                      progress=False) == out
    assert (out / "scores.csv").stat().st_mtime_ns == before  # reused, not recomputed
    with pytest.raises(RunExistsError, match="different configuration"):
        run_method("ae_mse", dataset, out, preset="smoke", overrides={"epochs": 1},
                   cache_dir=cache, progress=False)
    assert (out / "scores.csv").stat().st_mtime_ns == before
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(RunExistsError, match="no asdlab run"):
        run_method("ae_mse", dataset, foreign, preset="smoke", cache_dir=cache, progress=False)
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_force_replaces_a_run_only_when_the_new_one_is_complete(dataset, tmp_path):
    out = run_method("ae_mse", dataset, tmp_path / "r", preset="smoke", overrides={"epochs": 1},
                     cache_dir=tmp_path / "c", progress=False)
    run_method("ae_mse", dataset, out, preset="smoke", overrides=FAST, cache_dir=tmp_path / "c",
               progress=False, force=True)
    assert load_run(out)["config"]["params"]["epochs"] == 2
    assert not out.with_name("r.old").exists() and not out.with_name("r.partial").exists()


def test_unknown_method_preset_and_parameter_are_clear_errors(dataset, tmp_path):
    with pytest.raises(ValueError, match="unknown method 'nope'.*ae_mse"):
        get_method("nope")
    with pytest.raises(ValueError, match="no parameter 'epoch'"):
        get_method("ae_mse").params("smoke", {"epoch": 3})
    with pytest.raises(ValueError, match="no preset 'huge'"):
        get_method("ae_mse").params("huge")
    assert {"ae_mse", "ae_mahala"} <= {m.name for m in list_methods()}


def test_cli_run_prints_the_table_and_bad_input_exits_2(dataset, tmp_path, capsys):
    code = main(["run", "ae_mse", "--data", str(dataset), "--out", str(tmp_path / "cli"),
                 "--preset", "smoke", "--set", "epochs=1", "--cache", str(tmp_path / "c"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "All (hmean)" in out and "Official score" in out
    assert main(["run", "ae_mse", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x"),
                 "--preset", "smoke"]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["methods"]) == 0
    assert "ae_mahala" in capsys.readouterr().out


def test_cli_evaluate_reproduces_the_run_metrics(mse_run, dataset, capsys):
    out, _ = mse_run
    assert main(["evaluate", str(out / "submission"), "--data", str(dataset)]) == 0
    printed = capsys.readouterr().out
    score = load_run(out)["summary"]["official_score"]
    assert f"Official score (hmean of every AUC and pAUC above): {100 * score:.2f}%" in printed


def test_cli_index_counts_and_writes_the_table(dataset, tmp_path, capsys):
    assert main(["index", str(dataset), "--out", str(tmp_path / "t.csv")]) == 0
    printed = capsys.readouterr().out
    assert "ToyCar" in printed and "hidden" in printed
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 2 * (7 + 12)


def test_a_corrupt_clip_stops_the_run_unless_skipped_and_then_it_is_listed(tmp_path, capsys):
    from conftest import make_dcase_tree

    data = make_dcase_tree(tmp_path / "d", machines={"fan": "noAttribute"}, seconds=0.5, n_train=4, n_test=2)
    bad = next((data / "dev_data" / "raw" / "fan" / "train").glob("*.wav"))
    bad.write_bytes(bad.read_bytes()[:100])  # truncated
    args = ["run", "ae_mse", "--data", str(data), "--preset", "smoke", "--set", "epochs=1",
            "--cache", str(tmp_path / "c"), "--quiet"]
    assert main(args + ["--out", str(tmp_path / "a")]) == 2
    assert bad.name in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    with pytest.warns(UserWarning, match=bad.name):
        assert main(args + ["--out", str(tmp_path / "b"), "--skip-unreadable"]) == 0
    skipped = pd.read_csv(tmp_path / "b" / "skipped.csv")
    assert [p.split("/")[-1] for p in skipped["path"]] == [bad.name]
    assert len(load_run(tmp_path / "b")["train_scores"]) == 4  # 5 training clips, one skipped


def test_machines_restrict_the_run_and_an_unknown_one_is_named(dataset, tmp_path):
    out = run_method("ae_mse", dataset, tmp_path / "fan", preset="smoke", overrides={"epochs": 1},
                     machines=["fan"], cache_dir=tmp_path / "c", progress=False)
    assert set(load_run(out)["scores"]["machine"]) == {"fan"}
    with pytest.raises(ValueError, match=r"\['pump'\] not found; available: \['ToyCar', 'fan'\]"):
        run_method("ae_mse", dataset, tmp_path / "x", preset="smoke", machines=["pump"],
                   cache_dir=tmp_path / "c", progress=False)


def test_stale_runs_are_those_whose_parameters_changed_shape(tmp_path):
    from asdlab.methods import get_method
    from asdlab.runs.folder import stale_runs, write_json

    current = get_method("tastgram_ce").params("smoke")
    cases = {"current": {"method": "tastgram_ce", "preset": "smoke", "params": current},
             "older": {"method": "tastgram_ce", "preset": "smoke",
                       "params": {k: v for k, v in current.items() if k != "crop"}},   # before `crop` existed
             "refused": {"method": "tastgram_ce", "preset": "smoke", "params": {**current, "crop": "middle"}},
             "rescored": {"method": "tastgram_ce", "preset": "smoke", "params": {}, "rescored_from": "x"},
             "unknown": {"method": "no_such_method", "preset": "smoke", "params": {}}}
    for name, config in cases.items():
        (tmp_path / "runs" / name).mkdir(parents=True)
        write_json(tmp_path / "runs" / name / "config.json", config)
    (tmp_path / "runs" / "grid" / "cell").mkdir(parents=True)   # sweep cells sit one level deeper
    write_json(tmp_path / "runs" / "grid" / "cell" / "config.json", cases["older"])
    assert [p.relative_to(tmp_path / "runs").as_posix() for p in stale_runs(tmp_path / "runs")] == \
        ["grid/cell", "older", "refused"]

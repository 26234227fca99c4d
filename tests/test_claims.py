"""The claims benchmark: the verdict rule, the table from hand-made run folders, the run plan,
and one end-to-end run of benchmarks/claims.py at the smoke preset."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from asdlab.analysis import claims as cl
from asdlab.artifacts.embeddings import save_embeddings
from asdlab.core.errors import ConfigError
from asdlab.methods import REGISTRY, get_method, list_methods

ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------
# the verdict rule


def test_mean_sd_is_the_sample_sd():
    assert cl.mean_sd([1, 2, 3, 4]) == pytest.approx((2.5, math.sqrt(5 / 3)))
    mean, sd = cl.mean_sd([7.0])
    assert mean == 7.0 and math.isnan(sd)


@pytest.mark.parametrize("diffs, expected", [
    ([2, 3, 4], "holds"),                  # mean 3 > sd 1
    ([1, 1], "holds"),                     # mean 1 > sd 0
    ([-2, -3, -4], "does not hold"),       # -mean 3 > sd 1
    ([1, -1, 3], "within the spread"),     # mean 1 < sd 2
    ([-1, 1, -3], "within the spread"),    # -mean 1 < sd 2
    ([0, 0, 0], "within the spread"),      # no difference at all
    ([5.0], "one seed: no verdict"),
    ([], "not measured"),
])
def test_verdict_rule(diffs, expected):
    assert cl.verdict(diffs) == expected


def test_verdict_rule_is_printed_under_the_table():
    t = pd.DataFrame([{"paper": "004", "id": "seed004/x", "claim": "A > B", "part": "", "paper_value": "1 vs 0",
                       "side_a": "A", "side_b": "B", "unit": "%", "a_mean": 61.66, "a_sd": 1.04, "b_mean": 60.0,
                       "b_sd": math.nan, "diff_mean": 1.66, "diff_sd": 0.5, "n_seeds": 3, "seeds": "0 1 2",
                       "verdict": "holds", "note": ""}], columns=cl.COLUMNS)
    md = cl.claims_markdown(t, title="T", command="python benchmarks/claims.py --x")
    assert "| seed 004 | A > B | 1 vs 0 | A: 61.7 ± 1.0 % | B: 60.0 % | +1.7 ± 0.5 % | 3 | holds |" in md
    assert cl.VERDICT_RULE in md and "Produced by: `python benchmarks/claims.py --x`" in md
    assert md.startswith("## T\n")


# --------------------------------------------------------------------------------------------
# the claims and the variants


def test_every_registered_method_is_a_baseline_or_a_neural_method_with_a_paper():
    names = {m.name for m in list_methods()}
    assert names <= set(cl.BASELINES) | set(cl.NEURAL_METHODS)
    assert set(cl.NEURAL_METHODS.values()) <= set(cl.PAPERS)
    for name, (method, overrides) in cl.VARIANTS.items():   # every override is a parameter of its method
        if method in REGISTRY:
            get_method(method).params("smoke", overrides)


def test_select_claims_by_paper_and_id():
    ids = [c.id for c in cl.select_claims("seed002")]
    assert ids[:2] == ["seed002/gmm-vs-cosine", "seed002/k-ensemble-vs-single-k"]
    assert {"seed002/sc_adacos-vs-ae_mse", "seed002/sc_adacos-vs-raw_spec"} <= set(ids)
    assert all(i.startswith("seed002/") for i in ids)
    assert [c.id for c in cl.select_claims("4,seed001/ari-vs-logmel")] == \
        [c.id for c in cl.select_claims() if c.paper == "004" or c.id == "seed001/ari-vs-logmel"]
    with pytest.raises(ConfigError, match="'seed009'.*seed000"):
        cl.select_claims(["seed009"])


def test_claims_of_an_unregistered_optional_method_are_left_out(monkeypatch):
    list_methods()
    monkeypatch.delitem(REGISTRY, "tastgram_linear_ce", raising=False)
    ids = {c.id for c in cl.select_claims("seed004")}
    assert "seed004/fig1-ce-arcface" in ids
    assert not any("linear" in i for i in ids)


def test_claims_of_a_missing_required_method_stay_and_fail_in_the_plan(tmp_path, monkeypatch):
    list_methods()
    monkeypatch.delitem(REGISTRY, "stgram_arcface")
    claims = cl.select_claims("seed004/tastgram-vs-stgram")
    assert [c.id for c in claims] == ["seed004/tastgram-vs-stgram"]
    with pytest.raises(ConfigError, match="unknown method 'stgram_arcface'"):
        cl.plan_runs(claims, tmp_path, tmp_path / "runs", "smoke", [0])


def test_a_failing_run_is_reported_not_raised(tmp_path):
    job = cl.RunJob(("raw_spec",), "raw_spec", {}, str(tmp_path / "no-data"), str(tmp_path / "run"), "smoke", 0)
    res = cl.train_job(job)
    assert res["error"].startswith("DataError:") and "no-data" in res["error"]
    assert res["reused"] is False and res["folder"] == str(tmp_path / "run") and res["seconds"] >= 0


def test_plan_runs_shares_the_folder_of_identical_configurations(tmp_path):
    claims = cl.select_claims("seed002,seed003")
    jobs, folders = cl.plan_runs(claims, tmp_path / "data", tmp_path / "runs", "course", [0, 2])
    assert sorted(folders) == [0, 2]
    variants = cl.claim_variants(claims)
    assert set(folders[2]) == set(variants)
    params = {v: get_method(m).params("course", o) for v, (m, o) in variants.items()}
    for a in variants:
        assert folders[2][a].parent == tmp_path / "runs" / "seed2"
        for b in variants:
            same = variants[a][0] == variants[b][0] and params[a] == params[b]
            assert (folders[2][a] == folders[2][b]) == same, (a, b)
    assert len(jobs) == 2 * len(set(folders[0].values()))
    job = next(j for j in jobs if j.seed == 2 and "sc_adacos_k4" in j.variants)
    assert job.method == "sc_adacos" and job.overrides == {"ks": [4]} and job.preset == "course"
    assert job.folder == str(folders[2]["sc_adacos_k4"])


def test_a_bad_override_fails_before_any_training(tmp_path, monkeypatch):
    monkeypatch.setitem(cl.VARIANTS, "sc_adacos_k4", ("sc_adacos", {"ks": "four"}))
    with pytest.raises(ConfigError, match="sc_adacos"):
        cl.plan_runs(cl.select_claims("seed002/k-ensemble-vs-single-k"), tmp_path, tmp_path / "runs", "smoke", [0])


# --------------------------------------------------------------------------------------------
# the table from hand-made run folders


def _run(folder: Path, score: float | None = None, angles: dict | None = None) -> Path:
    """A fake run folder: config.json, summary.json (official score), and with ``angles``
    ({domain: normal angle in degrees}) embeddings whose normal test clips sit at those angles
    from the one class center [1, 0] (anomalies at 70 degrees)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    if score is not None:
        (folder / "summary.json").write_text(json.dumps({"official_score": score}))
    if angles is not None:
        rows, vecs = [], []
        for domain, normal in angles.items():
            for label, deg in (("normal", normal), ("anomaly", 70.0)):
                rows.append({"file": f"section_00_{domain}_test_{label}_0001.wav", "machine": "fan",
                             "section": "00", "domain": domain, "label": label, "split": "test",
                             "attributes": "a_1", "class": "fan/00/a_1", "class_index": 0})
                vecs.append([2 * np.cos(np.radians(deg)), 2 * np.sin(np.radians(deg))])
        save_embeddings(folder, pd.DataFrame(rows), np.array(vecs), centers=np.array([[3.0, 0.0]]),
                        classes=["fan/00/a_1"])
    return folder


SCORES = {"tastgram_arcface": [0.60, 0.62, 0.64], "stgram_arcface": [0.50, 0.55, 0.51]}
ANGLES = {  # seed -> variant -> {domain: median normal angle}
    0: {"tastgram_ce": {"source": 35, "target": 20}, "tastgram_arcface": {"source": 10, "target": 25},
        "tastgram_noisy_arcmix": {"source": 9, "target": 5}},
    1: {"tastgram_ce": {"source": 36, "target": 20}, "tastgram_arcface": {"source": 11, "target": 21},
        "tastgram_noisy_arcmix": {"source": 12, "target": 5}},
    2: {"tastgram_ce": {"source": 34, "target": 20}, "tastgram_arcface": {"source": 9, "target": 23},
        "tastgram_noisy_arcmix": {"source": 7, "target": 5}},
}


@pytest.fixture()
def fake_runs(tmp_path):
    runs = {}
    for seed in (0, 1, 2):
        base = tmp_path / f"seed{seed}"
        f = {v: _run(base / v, SCORES.get(v, [None] * 3)[seed], a) for v, a in ANGLES[seed].items()}
        f["stgram_arcface"] = _run(base / "stgram_arcface", SCORES["stgram_arcface"][seed])
        gc = f["guided_clustering"] = _run(base / "guided_clustering", 0.5)
        pd.DataFrame({"machine": ["gearbox", "slider"], "ari": [0.5, 0.3 + 0.1 * seed],
                      "ari_pretrained": [0.1, 0.1], "ari_features": [0.5, 0.3 + 0.1 * seed + 0.01]}
                     ).to_csv(gc / "cluster_quality.csv", index=False)
        if seed != 2:   # seed 2 has no machine-only baseline
            gain = {"official_score": {"pseudo": 0.58 + seed / 100, "machine_only": 0.55}}
            (gc / "pseudo_label_gain.json").write_text(json.dumps(gain))
        runs[seed] = f
    return runs


CLAIM_IDS = ["seed004/fig1-ce-arcface", "seed004/fig1-arcface-noisy-arcmix", "seed004/tastgram-vs-stgram",
             "seed001/ari-vs-pretrained", "seed001/ari-vs-logmel", "seed001/pseudo-vs-machine-only",
             "seed002/gmm-vs-cosine"]


def test_claims_table_from_fake_run_folders(fake_runs):
    t = cl.claims_table(fake_runs, cl.select_claims(CLAIM_IDS))
    assert list(t.columns) == cl.COLUMNS
    row = t.set_index(["id", "part"]).loc

    r = row[("seed004/tastgram-vs-stgram", "")]         # official, in %: diffs 10, 7, 13
    assert (r.a_mean, r.a_sd, r.b_mean) == pytest.approx((62.0, 2.0, 52.0))
    assert (r.diff_mean, r.diff_sd, r.n_seeds, r.seeds, r.verdict) == pytest.approx((10.0, 3.0, 3, "0 1 2", "holds"))

    r = row[("seed004/fig1-ce-arcface", "source")]       # 35 36 34 vs 10 11 9
    assert (r.a_mean, r.b_mean, r.diff_mean, r.verdict) == pytest.approx((35.0, 10.0, 25.0, "holds"), abs=1e-3)
    r = row[("seed004/fig1-ce-arcface", "target")]       # 20 vs 25 21 23: diffs -5 -1 -3
    assert (r.diff_mean, r.diff_sd, r.verdict) == pytest.approx((-3.0, 2.0, "does not hold"), abs=1e-3)
    r = row[("seed004/fig1-ce-arcface", "all")]          # median of the two normals per seed
    assert (r.a_mean, r.b_mean) == pytest.approx((27.5, 16.5), abs=1e-3)  # (float32 embeddings)
    assert r.claim == "median normal test angle: CE (cosine softmax) > ArcFace [all]"
    r = row[("seed004/fig1-arcface-noisy-arcmix", "source")]  # diffs 1, -1, 2
    assert (r.diff_mean, r.verdict) == pytest.approx((2 / 3, "within the spread"), abs=1e-3)

    r = row[("seed001/ari-vs-pretrained", "")]           # mean over machines: 0.4 0.45 0.5 vs 0.1
    assert (r.a_mean, r.b_mean, r.diff_mean, r.verdict) == pytest.approx((0.45, 0.1, 0.35, "holds"))
    assert row[("seed001/ari-vs-logmel", "")].diff_mean == pytest.approx(-0.005)
    assert row[("seed001/ari-vs-logmel", "")].verdict == "does not hold"   # -0.005 each seed: sd 0
    r = row[("seed001/pseudo-vs-machine-only", "")]      # seed 2 lacks the gain file
    assert (r.n_seeds, r.seeds, r.a_mean, r.b_mean) == pytest.approx((2, "0 1", 58.5, 55.0))
    assert "seed 2:" in r.note and "pseudo_label_gain.json" in r.note

    r = row[("seed002/gmm-vs-cosine", "")]              # no such runs at all
    assert r.verdict == "not measured" and r.n_seeds == 0
    assert r.note == "; ".join(f"seed {s}: no run of sc_adacos_gmm, sc_adacos_cosine" for s in (0, 1, 2))

    one = cl.claims_table({0: fake_runs[0]}, cl.select_claims("seed004/tastgram-vs-stgram"))
    assert one["verdict"].tolist() == ["one seed: no verdict"] and math.isnan(one["diff_sd"].iloc[0])

    assert set(cl.claim_rows(t, "seed001")["id"]) == {i for i in CLAIM_IDS if i.startswith("seed001")}
    assert cl.claim_rows(t, 4)["paper"].eq("004").all() and len(cl.claim_rows(t, "004")) == 7
    with pytest.raises(ConfigError, match="paper='seed9'"):
        cl.claim_rows(t, "seed9")

    md = cl.claims_markdown(t)
    assert "| seed 004 | official score: TASTgram > STgram (both ArcFace) |" in md
    assert "TASTgram: 62.0 ± 2.0 % | STgram: 52.0 ± 2.6 % | +10.0 ± 3.0 % | 3 | holds |" in md
    assert "guided: 0.450 ± 0.050 | pretrained: 0.100 ± 0.000 | +0.350 ± 0.050 | 3 | holds |" in md
    assert "| 0 | not measured [1] |" in md and "| 2 | holds [2] |" in md   # notes, once per claim
    assert "\n[1] seed002/gmm-vs-cosine: seed 0: no run of" in md
    assert "\n[2] seed001/pseudo-vs-machine-only: seed 2:" in md and "[3]" not in md


# --------------------------------------------------------------------------------------------
# the measured table read back for the notebooks


def test_load_claims_reads_back_the_csv_the_benchmark_writes(fake_runs, tmp_path):
    t = cl.claims_table(fake_runs, cl.select_claims(CLAIM_IDS))
    t.to_csv(tmp_path / "claims.csv", index=False)       # as benchmarks/claims.py writes it
    back = cl.load_claims(tmp_path / "claims.csv")
    assert list(back.columns) == cl.COLUMNS and back.attrs["path"] == str(tmp_path / "claims.csv")
    assert back["paper"].tolist() == t["paper"].tolist() and "004" in set(back["paper"])   # not 4
    assert back.loc[back["part"] == "", "id"].tolist() == t.loc[t["part"] == "", "id"].tolist()  # "" stays ""
    assert cl.claims_markdown(back) == cl.claims_markdown(t)
    assert cl.claims_markdown(cl.claim_rows(back, "001")) == cl.claims_markdown(cl.claim_rows(t, "001"))
    r = back.set_index(["id", "part"]).loc[("seed004/tastgram-vs-stgram", "")]
    assert (r.a_mean, r.diff_sd, r.n_seeds, r.seeds, r.verdict) == pytest.approx((62.0, 3.0, 3, "0 1 2", "holds"))
    one = cl.claims_table({0: fake_runs[0]}, cl.select_claims("seed004/tastgram-vs-stgram"))
    one.to_csv(tmp_path / "one.csv", index=False)        # one seed: "0", a NaN sd
    back = cl.load_claims(str(tmp_path / "one.csv")).iloc[0]
    assert back.seeds == "0" and math.isnan(back.diff_sd) and back.note == ""


def test_load_claims_defaults_to_docs_claims_csv_and_names_a_bad_file(tmp_path, monkeypatch):
    import asdlab

    monkeypatch.setattr(asdlab, "__file__", str(tmp_path / "asdlab" / "__init__.py"))
    assert cl.load_claims() is None                      # no docs/claims.csv: nothing to show
    (tmp_path / "docs").mkdir()
    row = {c: "" for c in cl.COLUMNS} | {"paper": "2", "id": "seed002/x", "n_seeds": 0, "verdict": "not measured"}
    pd.DataFrame([row], columns=cl.COLUMNS).to_csv(tmp_path / "docs" / "claims.csv", index=False)
    t = cl.load_claims()
    assert t.attrs["path"] == str(tmp_path / "docs" / "claims.csv") and t["paper"].tolist() == ["002"]
    assert math.isnan(t["a_mean"].iloc[0]) and len(cl.claim_rows(t, "seed002")) == 1
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(tmp_path / 'nope.csv'))}: no such claims CSV"):
        cl.load_claims(tmp_path / "nope.csv")
    with pytest.raises(ConfigError, match=r"^claims_csv=3: must be None or the path of a claims CSV"):
        cl.load_claims(3)
    pd.DataFrame({"paper": ["004"], "claim": ["A > B"]}).to_csv(tmp_path / "other.csv", index=False)
    other = re.escape(str(tmp_path / "other.csv"))
    with pytest.raises(ConfigError, match=rf"^{other}: not a claims CSV of benchmarks/claims.py, "
                                          r"it lacks column\(s\) id, part, paper_value"):
        cl.load_claims(tmp_path / "other.csv")
    (tmp_path / "empty.csv").write_text("")
    empty = re.escape(str(tmp_path / "empty.csv"))
    with pytest.raises(ConfigError, match=rf"^{empty}: not a claims CSV \(EmptyDataError"):
        cl.load_claims(tmp_path / "empty.csv")
    assert "benchmarks/claims.py" in cl.CLAIMS_HOWTO and "docs/claims.csv" in cl.CLAIMS_HOWTO


def test_load_claims_default_follows_the_style_of_the_data(tmp_path, monkeypatch):
    """Notebook 02 on dcase2020-style data reads the table measured there, not the 2024 one."""
    import asdlab

    monkeypatch.setattr(asdlab, "__file__", str(tmp_path / "asdlab" / "__init__.py"))
    (tmp_path / "docs").mkdir()
    for name, paper in (("claims.csv", "2"), ("claims2020.csv", "4")):
        row = {c: "" for c in cl.COLUMNS} | {"paper": paper, "id": f"seed00{paper}/x", "n_seeds": 0}
        pd.DataFrame([row], columns=cl.COLUMNS).to_csv(tmp_path / "docs" / name, index=False)
    assert cl.load_claims(style="dcase2020").attrs["path"] == str(tmp_path / "docs" / "claims2020.csv")
    assert cl.load_claims(style="dcase2020")["paper"].tolist() == ["004"]
    assert cl.load_claims(style="dcase2024")["paper"].tolist() == ["002"] == cl.load_claims()["paper"].tolist()
    assert cl.load_claims(tmp_path / "docs" / "claims.csv", style="dcase2020")["paper"].tolist() == ["002"]
    (tmp_path / "docs" / "claims2020.csv").unlink()
    assert cl.load_claims(style="dcase2020") is None
    with pytest.raises(ConfigError, match=r"^style='dcase2021': no measured claims table of that style; "
                                          r"use one of dcase2024, dcase2020$"):
        cl.load_claims(style="dcase2021")


# --------------------------------------------------------------------------------------------
# benchmarks/claims.py end to end (smoke preset, tiny factory data, one claim)


def _script():
    spec = importlib.util.spec_from_file_location("claims_benchmark", ROOT / "benchmarks" / "claims.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_cli_refuses_an_unknown_claim_before_training(tmp_path, capsys):
    rc = _script().main(["--data", str(tmp_path), "--runs", str(tmp_path / "runs"), "--only", "seed009"])
    assert rc == 2 and "'seed009'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_benchmark_end_to_end_at_smoke(tmp_path, capsys):
    from asdlab.data.synth import generate_dataset

    data = generate_dataset(tmp_path / "factory", "smoke", machines=["fan", "gearbox"], progress=False)
    runs, out = tmp_path / "runs", tmp_path / "report" / "claims.md"
    args = [sys.executable, str(ROOT / "benchmarks" / "claims.py"), "--data", str(data), "--preset", "smoke",
            "--seeds", "0", "1", "--runs", str(runs), "--out", str(out), "--only", "seed004/tastgram-vs-stgram"]
    done = subprocess.run(args + ["--jobs", "2"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 runs (4 new, 0 already present)" in done.stdout
    scores = {(v, s): 100 * json.loads((runs / f"seed{s}" / v / "summary.json").read_text())["official_score"]
              for v in ("tastgram_arcface", "stgram_arcface") for s in (0, 1)}
    table = pd.read_csv(out.with_suffix(".csv"), keep_default_na=False)
    assert table["id"].tolist() == ["seed004/tastgram-vs-stgram"]
    r = table.iloc[0]
    diffs = [scores["tastgram_arcface", s] - scores["stgram_arcface", s] for s in (0, 1)]
    assert r["n_seeds"] == 2 and r["diff_mean"] == pytest.approx(np.mean(diffs))
    assert r["a_mean"] == pytest.approx((scores["tastgram_arcface", 0] + scores["tastgram_arcface", 1]) / 2)
    assert r["verdict"] == cl.verdict(diffs)
    md = out.read_text()
    assert "official score: TASTgram > STgram (both ArcFace)" in md and cl.VERDICT_RULE in md
    assert "Produced by: `python benchmarks/claims.py --data" in md and "--only seed004/tastgram-vs-stgram" in md

    assert _script().main(args[2:]) == 0              # again, in this process: every run is reused
    printed = capsys.readouterr().out
    assert "(0 new, 4 already present)" in printed and printed.count("reused tastgram_arcface") == 2
    assert pd.read_csv(out.with_suffix(".csv"), keep_default_na=False).equals(table)

    stale = runs / "seed1" / "stgram_arcface" / "config.json"   # a run made by other code: not measured
    config = json.loads(stale.read_text())
    config["params"]["epochs"] += 1
    stale.write_text(json.dumps(config))
    assert _script().main(args[2:]) == 1
    printed = capsys.readouterr()
    assert "failed stgram_arcface (stgram_arcface) seed 1" in printed.out and "--replace-stale" in printed.err
    r = pd.read_csv(out.with_suffix(".csv"), keep_default_na=False).iloc[0]
    assert (r["n_seeds"], str(r["seeds"]), r["verdict"]) == (1, "0", "one seed: no verdict")
    assert r["note"] == "seed 1: no run of stgram_arcface"
    assert _script().main(args[2:] + ["--replace-stale"]) == 0           # retrains it
    assert "trained stgram_arcface (stgram_arcface) seed 1" in capsys.readouterr().out
    assert json.loads(stale.read_text())["params"]["epochs"] == config["params"]["epochs"] - 1
    assert pd.read_csv(out.with_suffix(".csv"), keep_default_na=False).iloc[0]["n_seeds"] == 2


def test_claims_grid_is_table2_of_the_grid_claims_with_the_sd_over_seeds():
    def row(cell, a, b):
        return {"id": f"seed000/grid-sc16-fx16-vs-sc{cell[0]}-fx{cell[1]}", "side_a": "SC16/FX16",
                "side_b": f"SC{cell[0]}/FX{cell[1]}", "a_mean": a[0], "a_sd": a[1], "b_mean": b[0], "b_sd": b[1],
                "seeds": "0 1 2"}

    other = {"id": "seed002/gmm-vs-cosine", "side_a": "GMM", "side_b": "cosine", "a_mean": 50.0, "a_sd": 1.0,
             "b_mean": 40.0, "b_sd": 1.0, "seeds": "0 1 2"}
    table = pd.DataFrame([row((1, 1), (60.7, 0.3), (59.7, 0.8)), row((16, 1), (60.7, 0.3), (59.5, 1.0)), other])
    grid = cl.claims_grid(table)
    assert grid.index.tolist() == [1, 16] and grid.columns.tolist() == [1, 16]
    assert grid.loc[16, 16] == pytest.approx(0.607) and grid.loc[1, 1] == pytest.approx(0.597)
    assert grid.loc[16, 1] == pytest.approx(0.595) and math.isnan(grid.loc[1, 16])   # no claim of that cell
    assert grid.attrs["sd"].loc[16, 1] == pytest.approx(0.010) and grid.attrs["seeds"] == "0 1 2"
    assert cl.claims_grid(table.iloc[2:]) is None
    from asdlab.viz import grid_heatmaps

    text = grid_heatmaps({"official": grid}).data[0].text
    assert [list(r) for r in text] == [["59.7 ± 0.8", ""], ["59.5 ± 1.0", "60.7 ± 0.3"]]

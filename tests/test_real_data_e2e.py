"""Real DCASE layouts without the factory (issue 15, part 3): ``asdlab report --preset smoke`` on a
tiny tree of each year's naming (2020, 2021-style, 2024 with an unlabelled evaluation part, 2026
two-channel) runs every notebook; and the fixes it needed, one by one: the channel policy, test
clips of sections without training clips, metrics of the labelled sections, angles of classes
unseen in training, previews from the dataset's own clips, clips of different lengths."""

from __future__ import annotations

import json
import math

import nbformat
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import REAL_YEARS, make_real_tree, write_wav
from asdlab.core.errors import AudioError, ConfigError
from asdlab.data import build_clip_table, check_channel, read_audio

# the smallest selection that executes every notebook: 02 needs a Noisy-ArcMix-family method
# (tastgram_ce, which its explorer trains anyway), 04 a sub-cluster one (sc_noisy_arcmix, whose run
# its grid holds anyway), 05 guided_clustering; 00 and 03 run with any
REPORT_METHODS = ["tastgram_ce", "sc_noisy_arcmix", "guided_clustering"]
NOTEBOOKS = {"00_asd_in_one_hour", "02_noisy_arcmix_angles", "03_compare_methods", "04_subclusters",
             "05_pseudo_labels"} | {f"01_method_report-{m}" for m in REPORT_METHODS}


# --- end to end: one report per year's layout ------------------------------------------------

@pytest.mark.parametrize("year", REAL_YEARS)
def test_report_runs_every_notebook_on_a_real_layout(tmp_path, year):
    from asdlab.cli import main

    data = make_real_tree(tmp_path / "data", year)
    assert not (data / "ground_truth").exists()
    out = tmp_path / "report"
    rc = main(["report", "--data", str(data), "--preset", "smoke", "--out", str(out), "--methods",
               *REPORT_METHODS, "--jobs", "2", "--quiet"])
    report = json.loads((out / "report.json").read_text())
    status = {e["name"]: (e["status"], e.get("error")) for e in report["notebooks"]}
    assert rc == 0, status
    assert set(status) == NOTEBOOKS and all(s == "ok" for s, _ in status.values()), status
    for name in NOTEBOOKS:
        nb = nbformat.read(out / f"{name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, f"{year} {name}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
    teaching = (out / "00_asd_in_one_hour.html").read_text()
    assert "These data have no factory ground truth" in teaching  # the preview and the anomaly kinds say so
    assert "anomaly (kind unknown)" in teaching
    summary = json.loads((out / "runs" / "tastgram_ce" / "summary.json").read_text())
    assert 0 <= summary["official_score"] <= 1
    if year == "2020":  # fan ID 04 has test clips only: left out of every run, listed
        skipped = pd.read_csv(out / "runs" / "tastgram_ce" / "skipped.csv")
        assert len(skipped) == 4 and skipped["path"].str.contains("_id_04_").all()
    if year == "2021":  # test names carry no attributes: every test class is unseen in training
        page = (out / "02_noisy_arcmix_angles.html").read_text()
        assert "measured to the nearest class center of their section" in page
    if year == "2024":  # the evaluation machine has no labels: metrics of the development machines
        metrics = pd.read_csv(out / "runs" / "tastgram_ce" / "metrics.csv")
        assert sorted(metrics["machine"]) == ["RoboticArm", "ToyCar"]
    if year == "2026":  # two-channel clips, read by the default policy
        assert json.loads((out / "runs" / "tastgram_ce" / "config.json").read_text())["channel"] == 0


# --- the channel policy ----------------------------------------------------------------------

def _stereo(path, sr=16000, n=1600):
    """A two-channel WAV: left a 500 Hz sine at 0.5, right a 2 kHz sine at 0.25."""
    t = np.arange(n) / sr
    left, right = 0.5 * np.sin(2 * np.pi * 500 * t), 0.25 * np.sin(2 * np.pi * 2000 * t)
    sf.write(path, np.stack([left, right], axis=1), sr, subtype="FLOAT")
    return left, right


def test_each_channel_policy_on_a_two_channel_file(tmp_path):
    path = tmp_path / "two.wav"
    left, right = _stereo(path)
    np.testing.assert_allclose(read_audio(path), left, atol=1e-7)  # default 0, as the official baseline
    np.testing.assert_allclose(read_audio(path, channel=0), left, atol=1e-7)
    np.testing.assert_allclose(read_audio(path, channel=1), right, atol=1e-7)
    np.testing.assert_allclose(read_audio(path, channel="mean"), (left + right) / 2, atol=1e-7)
    assert read_audio(path, channel="1").dtype == np.float32  # a command line's "1"


def test_a_mono_file_is_its_channel_and_has_no_second_one(tmp_path):
    path = write_wav(tmp_path / "mono.wav", 0.1)
    x = sf.read(path, dtype="float32")[0]
    np.testing.assert_array_equal(read_audio(path, channel=0), x)
    np.testing.assert_array_equal(read_audio(path, channel="mean"), x)
    with pytest.raises(AudioError, match=r"mono\.wav: channel 1 asked for but the file has 1 channel\(s\)"):
        read_audio(path, channel=1)


@pytest.mark.parametrize("bad", [2, -1, "left", True, None])
def test_an_unknown_channel_policy_is_a_config_error(bad):
    with pytest.raises(ConfigError, match=r"^channel=.*: must be 0 .*, 1 .* or 'mean'"):
        check_channel(bad)


def test_the_channel_is_part_of_the_run_config_and_of_the_feature_cache_key(tmp_path):
    from asdlab.runs import RunExistsError, load_run, run_method
    from asdlab.runs.folder import _identity

    data = make_real_tree(tmp_path / "data", "2026", seconds=0.5, n_train=2, n_test=2)
    cache = tmp_path / "cache"
    runs = {ch: run_method("raw_spec", data, tmp_path / f"ch{ch}", preset="smoke", cache_dir=cache,
                           progress=False, channel=ch) for ch in (0, 1, "mean")}
    for ch, folder in runs.items():
        assert load_run(folder)["config"]["channel"] == ch
    scores = {ch: load_run(f)["scores"]["score"].to_numpy() for ch, f in runs.items()}
    assert not np.allclose(scores[0], scores[1]) and not np.allclose(scores[0], scores["mean"])
    keys = sorted(p.name.rsplit("-", 1)[1] for p in (cache / "features").iterdir())
    assert keys == ["ch0", "ch1", "chmean"]
    with pytest.raises(RunExistsError):  # another policy is another run
        run_method("raw_spec", data, runs[0], preset="smoke", cache_dir=cache, progress=False, channel=1)
    config = load_run(runs[0])["config"]
    assert _identity({k: v for k, v in config.items() if k != "channel"}) == _identity(config)  # older runs: 0


def test_the_command_line_passes_the_channel(tmp_path, capsys):
    from asdlab.cli import main

    data = make_real_tree(tmp_path / "data", "2026", seconds=0.5, n_train=2, n_test=2)
    assert main(["run", "raw_spec", "--data", str(data), "--out", str(tmp_path / "run"), "--preset", "smoke",
                 "--channel", "mean", "--cache", str(tmp_path / "cache"), "--quiet"]) == 0
    assert json.loads((tmp_path / "run" / "config.json").read_text())["channel"] == "mean"


# --- sections without training clips; evaluation data without labels -------------------------

def test_test_clips_of_a_section_without_training_clips_are_left_out_and_listed(tmp_path):
    from asdlab.runs import load_run, run_method
    from asdlab.runs.folder import without_untrained_sections

    data = make_real_tree(tmp_path / "data", "2020", seconds=0.5, n_train=2, n_test=1)
    table = build_clip_table(data)
    kept, skipped = without_untrained_sections(table)
    assert len(kept) == len(table) - 2 and not (kept["section"] == "04").any()
    names = sorted(p.rsplit("/", 1)[1] for p, _ in skipped)
    assert names == ["anomaly_id_04_00000000.wav", "normal_id_04_00000000.wav"]
    assert skipped[0][1].startswith("fan/04: no training clips in this machine type and section")
    with pytest.warns(UserWarning, match="2 test clip"):
        run = load_run(run_method("raw_spec", data, tmp_path / "run", preset="smoke", cache_dir=tmp_path / "c",
                                  progress=False))
    assert "04" not in set(run["scores"]["section"]) and run["summary"]["n_skipped"] == 2
    assert len(pd.read_csv(tmp_path / "run" / "skipped.csv")) == 2


def test_metrics_are_computed_on_the_labelled_sections(tmp_path):
    from asdlab.runs import load_run, run_method
    from asdlab.runs.folder import labelled_sections

    scores = pd.DataFrame({"machine": ["a", "a", "b", "b", "c"], "section": ["00", "00", "00", "00", "00"],
                           "label": ["normal", "anomaly", "normal", None, "anomaly"]})
    assert list(labelled_sections(scores).index) == [0, 1, 4]

    data = make_real_tree(tmp_path / "data", "2024", seconds=0.5, n_train=2, n_test=2)
    with pytest.warns(UserWarning, match="metrics computed on the labelled sections only"):
        run = load_run(run_method("raw_spec", data, tmp_path / "run", preset="smoke", cache_dir=tmp_path / "c",
                                  progress=False))
    assert len(run["scores"]) == 2 * 8 + 8  # the evaluation machine's clips are scored (submission) too
    assert sorted(run["metrics"]["machine"]) == ["RoboticArm", "ToyCar"]
    assert run["summary"]["n_test_clips"] == 16 and 0 <= run["summary"]["official_score"] <= 1


# --- angles of classes unseen in training ----------------------------------------------------

def _angle_run(folder):
    """A run folder with 3 classes (fan/00/a along x, fan/00/b along y, pump/00 along z) and
    test clips: known class, unseen class of fan/00, a valve clip (no class in its section), an
    unlabelled clip."""
    from asdlab.artifacts.embeddings import save_embeddings

    classes = ["fan/00/a", "fan/00/b", "pump/00"]
    centers = np.eye(3, dtype=np.float32)
    rows = [("tr_a.wav", "fan", "train", "normal", "fan/00/a", 0),
            ("tr_b.wav", "fan", "train", "normal", "fan/00/b", 1),
            ("known.wav", "fan", "test", "anomaly", "fan/00/a", 0), ("unseen.wav", "fan", "test", "normal", "", -1),
            ("valve.wav", "valve", "test", "normal", "", -1), ("anon.wav", "fan", "test", None, "", -1)]
    meta = pd.DataFrame([dict(file=f, machine=m, section="00", domain="source" if lab else None, label=lab,
                              split=s, attributes="", **{"class": c}, class_index=k) for f, m, s, lab, c, k in rows])
    x = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0.2, 1, 0.5], [1, 0, 0], [1, 0, 0]], np.float32)
    save_embeddings(folder, meta, x, centers=centers, classes=classes)
    return folder


def test_angle_table_measures_unseen_classes_to_their_sections_nearest_center(tmp_path):
    from asdlab.analysis import angle_table

    t = angle_table(_angle_run(tmp_path / "run"))
    assert list(t["file"]) == ["known.wav", "unseen.wav"] and list(t["angle_to"]) == ["class", "section"]
    norm = math.sqrt(0.2 ** 2 + 1 + 0.25)
    np.testing.assert_allclose(t["angle"], [45.0, math.degrees(math.acos(1 / norm))], rtol=1e-5)  # b is nearer than a
    assert t.attrs["note"] == ("1 clip(s) of classes unseen in training measured to the nearest class center of "
                               "their section; 1 clip(s) left out: their section has no class in training; 1 clip(s) "
                               "without a label (evaluation data) left out")
    dropped = angle_table(tmp_path / "run", unknown="drop")
    assert list(dropped["file"]) == ["known.wav"]
    assert "2 clip(s) left out: their class is unknown" in dropped.attrs["note"]


def test_angle_figures_show_the_note_and_survive_empty_tables(tmp_path):
    from asdlab.analysis import angle_table
    from asdlab.viz import angle_histograms

    t = angle_table(_angle_run(tmp_path / "run"))
    fig = angle_histograms({"CE": t, "none": t.iloc[:0]})
    assert "measured to the nearest class center of their section" in fig.layout.title.text
    assert angle_histograms({"none": t.iloc[:0]}).layout.xaxis.range[1] > 0


def test_explorer_measures_unseen_test_classes_to_their_section(tmp_path):
    from asdlab.analysis.toyhead import fit_head
    from asdlab.artifacts.embeddings import load_embeddings
    from asdlab.viz.explorer import clip_angle_table, explorer_data

    data = explorer_data(load_embeddings(_angle_run(tmp_path / "run")))
    assert list(data["test_meta"]["file"]) == ["known.wav", "unseen.wav"] and list(data["test_y"]) == [0, -1]
    assert [list(c) for c in data["test_candidates"]] == [[0], [0, 1]]
    assert "1 test clip(s) left out: their section has no class in training" in data["note"]
    fit = fit_head(data["train_x"], data["train_y"], loss="ce", dim=2, steps=5, seed=0)
    table = clip_angle_table(fit, data)
    to_a, to_b = (fit.angles_to_centers(data["test_x"][1:], np.array([k])) for k in (0, 1))
    assert table["angle"].iloc[1] == pytest.approx(min(to_a[0], to_b[0]))
    assert table["head_class"].iloc[1] == int(np.argmin([to_a[0], to_b[0]]))


def test_subcluster_table_measures_unseen_classes_to_their_sections_subclusters(tmp_path):
    from asdlab.analysis.subclusters import subcluster_angle_summary, subcluster_table

    folder = _angle_run(tmp_path / "run")
    # K = 2 sub-clusters per class: class a at 0 and 60 deg in the x-y plane, b at 90 and 120 deg
    deg = [[0, 60], [90, 120], [0, 0]]
    sub = np.array([[[math.cos(math.radians(d)), math.sin(math.radians(d)), 0] for d in row] for row in deg])
    sub[2] = [[0, 0, 1], [0, 0, 1]]
    np.save(folder / "subcluster_centers.npy", sub.astype(np.float32))
    t = subcluster_table(folder, split="test")
    assert list(t["file"]) == ["known.wav", "unseen.wav", "anon.wav"]  # anon: unknown class, no label
    assert list(t["angle_to"]) == ["class", "section", "section"]
    unseen = t.iloc[1]
    e = np.array([0.2, 1, 0.5]) / math.sqrt(1.29)
    to = {(k, j): math.degrees(math.acos(e @ sub[k, j])) for k in (0, 1) for j in (0, 1)}
    best = min(to, key=to.get)
    assert (unseen["class"], unseen["subcluster"]) == (["fan/00/a", "fan/00/b"][best[0]], best[1])
    assert unseen["angle_subcluster"] == pytest.approx(to[best], rel=1e-5)
    assert unseen["angle_class"] == pytest.approx(math.degrees(math.acos(1 / math.sqrt(1.29))), rel=1e-5)
    assert t.attrs["note"] == ("2 clip(s) of classes unseen in training measured to the nearest (sub-cluster) "
                               "centers of their section; 1 clip(s) left out: their section has no class in training")
    summary = subcluster_angle_summary(t)  # the unlabelled clip is not counted as a normal one
    assert summary.loc["All", "median_normal_class"] == pytest.approx(unseen["angle_class"])


# --- the teaching notebook's clips on data without ground truth ------------------------------

def test_preview_uses_the_datasets_own_clips_without_ground_truth(tmp_path):
    from asdlab.viz.factory_preview import preview

    data = make_real_tree(tmp_path / "data", "2026", seconds=0.5, n_train=1, n_test=2)  # two-channel clips
    fig, clips = preview(data, "ToyCar")
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["normal: section_00_source_test_normal_0001_car_A1_spd_7.wav",
                      "anomaly (kind unknown): section_00_source_test_anomaly_0001_car_A1_spd_7.wav",
                      "anomaly (kind unknown): section_00_source_test_anomaly_0002_car_A1_spd_7.wav"]
    assert len(clips) == 3 and "no factory ground truth" in fig.layout.title.text
    assert fig.data[0].z.shape[1] == 1 + 8000 // 512  # one channel of a 0.5 s clip


def test_preview_of_dcase2020_names_without_domains(tmp_path):
    from asdlab.viz.factory_preview import preview

    fig, clips = preview(make_real_tree(tmp_path / "data", "2020", seconds=0.3, n_train=1, n_test=1), "fan")
    assert [a.text.split(":")[0] for a in fig.layout.annotations] == ["normal"] + ["anomaly (kind unknown)"] * 3


def test_pick_machine_prefers_a_machine_with_labelled_test_clips(tmp_path):
    from asdlab.viz.teaching import pick_machine

    table = build_clip_table(make_real_tree(tmp_path / "data", "2024", seconds=0.1, n_train=1, n_test=1))
    assert pick_machine(table, None) == "RoboticArm"  # not 3DPrinter, whose test clips are anonymised
    assert pick_machine(table, "3DPrinter") == "3DPrinter"


def test_no_ground_truth_note_is_one_line():
    from asdlab.viz.teaching import no_ground_truth

    text = no_ground_truth("the anomaly kinds").data
    assert "\n" not in text and text.endswith("the anomaly kinds cannot be shown.*")


def test_pseudo_label_comparison_follows_the_runs_protocol(tmp_path):
    """A guided-clustering run on DCASE 2020 data: its table is in the 2020 form; the machine-only
    table (written under the 2022+ rule) is recomputed from its scores under dcase2020."""
    from asdlab.analysis import pseudo_labels as pl

    run = tmp_path / "run"
    (run / "machine_only").mkdir(parents=True)
    # fan ID 00: anomalies above both normals (AUC 1, pAUC 1); ID 02: one anomaly on top, one at the
    # bottom (AUC 2/4; pAUC: TPR 1/2 up to FPR 0.1, area 0.05, McClish 0.5 (1 + 0.045 / 0.095))
    rows = [("00", "normal", 0.1), ("00", "normal", 0.2), ("00", "anomaly", 0.3), ("00", "anomaly", 0.4),
            ("02", "normal", 0.5), ("02", "normal", 0.6), ("02", "anomaly", 0.1), ("02", "anomaly", 0.7)]
    pd.DataFrame([dict(file=f"{lab}_id_{i}_{k:08d}.wav", machine="fan", section=i, domain=None, label=lab, score=x)
                  for k, (i, lab, x) in enumerate(rows)]).to_csv(run / "machine_only" / "scores.csv", index=False)
    (run / "table.csv").write_text("machine,AUC,pAUC\nfan (00),0.5,0.5\nfan (02),0.5,0.5\nAll (mean),0.5,0.5\n")
    (run / pl.TABLE_MACHINE_ONLY).write_text("machine,AUC,pAUC\nfan (00),1,1\nfan (02),0.5,0.7\nAll (hmean),0.6,0.8\n")
    (run / "summary.json").write_text(json.dumps({"official_score": 0.5, "protocol": "dcase2020"}))
    (run / pl.GAIN_JSON).write_text(json.dumps({"official_score": {"pseudo": 0.4, "machine_only": 0.7, "gain": -0.3}}))
    (run / pl.GAIN_CSV).write_text("machine,hidden,hmean_pseudo,hmean_machine_only,gain\n")
    t = pl.with_without_table(run)
    pauc = 0.5 * (1 + 0.045 / 0.095)
    assert t.loc["All (mean)", ("machine-only labels", "AUC")] == pytest.approx(0.75)
    assert t.loc["All (mean)", ("machine-only labels", "pAUC")] == pytest.approx((1 + pauc) / 2)
    assert t.loc["Official score", ("machine-only labels", "AUC")] == pytest.approx((1 + 1 + 0.5 + pauc) / 4)
    assert t.loc["Official score", ("pseudo labels", "AUC")] == 0.5  # the run's own, not the 2022+ one
    assert pl.has_gain(run) and not pl.has_gain(tmp_path)


# --- clips of different lengths within one machine -------------------------------------------

@pytest.fixture(scope="module")
def mixed_lengths(tmp_path_factory):
    """ToyCar clips of 1.1 s and 1.0 s (2020's 11 s vs 10 s), RoboticArm of 0.79 s and 1.0 s
    (2024's 7.9 s), alternating within each split."""
    root = tmp_path_factory.mktemp("mixed")
    seed = 0
    for machine, attrs, lengths in (("ToyCar", "car_A1", (1.1, 1.0)), ("RoboticArm", "noAttribute", (0.79, 1.0))):
        names = [("train", f"section_00_source_train_normal_{k:04d}_{attrs}.wav") for k in range(1, 7)]
        names += [("train", f"section_00_target_train_normal_{k:04d}_{attrs}.wav") for k in (1, 2)]
        names += [("test", f"section_00_{d}_test_{lab}_{k:04d}_{attrs}.wav") for d in ("source", "target")
                  for lab in ("normal", "anomaly") for k in (1, 2)]
        for i, (split, name) in enumerate(names):
            write_wav(root / machine / split / name, lengths[i % 2], seed=seed)
            seed += 1
    return root


def _method_names():
    from asdlab.methods import list_methods

    return [m.name for m in list_methods()]


@pytest.mark.parametrize("name", _method_names())
def test_every_method_runs_on_clips_of_different_lengths(mixed_lengths, tmp_path, name):
    from test_method_contract import fast

    from asdlab.runs import load_run, run_method

    lengths = {round(sf.info(p).duration, 2) for p in build_clip_table(mixed_lengths)["path"]}
    assert lengths == {0.79, 1.0, 1.1}
    run = load_run(run_method(name, mixed_lengths, tmp_path / "run", preset="smoke", overrides=fast(name),
                              cache_dir=tmp_path / "cache", progress=False))
    assert len(run["scores"]) == 16 and np.isfinite(run["scores"]["score"]).all()
    assert 0 <= run["summary"]["official_score"] <= 1

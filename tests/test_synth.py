"""The machine-sound factory on its ``smoke`` preset: layout, names, counts, WAV format,
ground truth, determinism, safety of re-runs, and that anomalies really change the sound."""

from __future__ import annotations

import csv
import dataclasses
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asdlab.core.errors import DataError
from asdlab.features import log_mel
from asdlab.data.synth import MACHINES, PRESETS, generate_dataset
from asdlab.data.synth.generate import MARKER, PARTIAL_MARKER
from asdlab.data.synth.machines import MODELS
from asdlab.data.synth.plan import SEVERITY_RANGE, cell_specs, machine_plan
from asdlab.data.synth.presets import CELLS
from asdlab.data.synth.render import render

SMOKE = PRESETS["smoke"]
HIDDEN = {"gearbox", "slider", "ToyTrain"}
NAME = re.compile(r"section_00_(source|target)_(train|test)_(normal|anomaly)_(\d{4})_(.+)\.wav")


@pytest.fixture(scope="session")
def smoke(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("factory") / "smoke", "smoke", progress=False)


def wavs(root: Path, machines=MACHINES) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for m in machines for p in sorted((root / "dev_data" / "raw" / m).glob("*/*.wav"))}


def read_rows(path: Path, header: bool = True) -> list:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh)) if header else list(csv.reader(fh))


def test_public_api():
    assert MACHINES == ("ToyCar", "ToyTrain", "bearing", "fan", "gearbox", "slider", "valve")
    assert set(PRESETS) == {"smoke", "course", "paper"}
    paper = PRESETS["paper"]
    assert (paper.source_train, paper.target_train, paper.test_per_cell, paper.seconds) == (990, 10, 50, 10.0)
    assert SMOKE.target_train >= 3 and SMOKE.test_per_cell >= 3


@pytest.mark.parametrize("preset", ["course", "paper"])
def test_plan_counts_of_larger_presets(preset):
    specs = machine_plan("ToyCar", PRESETS[preset], seed=0)
    assert len({s.file_name for s in specs}) == len(specs) == PRESETS[preset].clips_per_machine
    for cell in CELLS:
        indices = [s.index for s in specs if (s.split, s.domain, s.label) == cell]
        assert indices == list(range(1, PRESETS[preset].count(*cell) + 1))
    assert all(s.seconds == PRESETS[preset].seconds for s in specs)


def test_layout_names_and_counts(smoke):
    for machine in MACHINES:
        found = {cell: [] for cell in CELLS}
        for split in ("train", "test"):
            for path in (smoke / "dev_data" / "raw" / machine / split).iterdir():
                m = NAME.fullmatch(path.name)
                assert m, path
                domain, name_split, label, index, attributes = m.groups()
                assert name_split == split
                found[(split, domain, label)].append(int(index))
                if machine in HIDDEN:
                    assert attributes == "noAttribute"
                else:
                    tokens = attributes.split("_")
                    assert len(tokens) % 2 == 0 and "noAttribute" not in tokens
        for cell, indices in found.items():
            assert sorted(indices) == list(range(1, SMOKE.count(*cell) + 1)), (machine, cell)
    marker = json.loads((smoke / MARKER).read_text())
    assert marker["preset"] == "smoke" and marker["files"] == 7 * SMOKE.clips_per_machine
    assert not (smoke / PARTIAL_MARKER).exists()


def test_wav_format(smoke):
    for path in list((smoke / "dev_data" / "raw" / "fan" / "test").glob("*.wav"))[:5]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype, info.format) == (16000, 1, "PCM_16", "WAV")
        assert info.frames == int(SMOKE.seconds * 16000)
        wave, _ = sf.read(path)
        assert 0.001 < np.sqrt(np.mean(wave ** 2)) < 0.5


def test_evaluator_ground_truth_matches_files(smoke):
    gt = smoke / "ground_truth"
    for machine in MACHINES:
        test_files = sorted(p.name for p in (smoke / "dev_data" / "raw" / machine / "test").glob("*.wav"))
        stem = f"ground_truth_{machine}_section_00_test.csv"
        labels = read_rows(gt / "ground_truth_data" / stem, header=False)
        domains = read_rows(gt / "ground_truth_domain" / stem, header=False)
        assert [name for name, _ in labels] == test_files == [name for name, _ in domains]
        for (name, label), (_, domain) in zip(labels, domains):
            assert label == ("1" if "_anomaly_" in name else "0")
            assert domain == ("1" if "_target_" in name else "0")


def test_true_attributes_and_anomalies_in_ground_truth(smoke):
    gt = smoke / "ground_truth"
    for machine in MACHINES:
        model = MODELS[machine]
        clips = read_rows(gt / "clips" / f"{machine}.csv")
        assert len(clips) == SMOKE.clips_per_machine
        for row in clips:
            keys = dict(model.attributes[row["domain"]])
            assert row["attributes"] == "_".join(f"{k}_{row['attr_' + k]}" for k in keys)
            assert all(row[f"attr_{k}"] in values for k, values in keys.items())
            if row["label"] == "anomaly":
                assert row["anomaly"] in model.anomaly_kinds
                assert SEVERITY_RANGE[0] <= float(row["severity"]) <= SEVERITY_RANGE[1]
            else:
                assert row["anomaly"] == "" and float(row["severity"]) == 0.0
        kinds = {r["anomaly"] for r in clips if r["label"] == "anomaly" and r["domain"] == "source"}
        assert len(kinds) >= 2
        for split in ("train", "test"):
            pairs = read_rows(gt / "ground_truth_attributes" / machine
                              / f"attributes_00_{split}_correspondence.csv")
            published = {p.name for p in (smoke / "dev_data" / "raw" / machine / split).glob("*.wav")}
            assert {r["target_file_name"] for r in pairs} == published
            for r in pairs:
                assert "noAttribute" not in r["source_file_name"]
                assert (r["source_file_name"] != r["target_file_name"]) == (machine in HIDDEN)


def test_attributes_csv_only_for_public_machines(smoke):
    for machine in MACHINES:
        path = smoke / "dev_data" / "raw" / machine / "attributes_00.csv"
        assert path.exists() == (machine not in HIDDEN)
        if machine in HIDDEN:
            continue
        rows = read_rows(path)
        folder = smoke / "dev_data" / "raw" / machine
        files = {f"{machine}/{p.parent.name}/{p.name}" for p in folder.glob("*/*.wav")}
        assert {r["file_name"] for r in rows} == files
        for r in rows:
            pairs = [(r[f"d{i}p"], r[f"d{i}v"]) for i in range(1, len(r) // 2 + 1)]
            assert r["file_name"].endswith("_" + "_".join(f"{k}_{v}" for k, v in pairs) + ".wav")


def test_clip_table_indexes_the_dataset(smoke):
    from asdlab.data import build_clip_table

    table = build_clip_table(smoke)
    assert len(table) == 7 * SMOKE.clips_per_machine
    counts = table.groupby(["machine", "split", "domain", "label"]).size()
    for machine in MACHINES:
        for cell in CELLS:
            assert counts[(machine, *cell)] == SMOKE.count(*cell)
    hidden = table[table.machine.isin(HIDDEN)]
    assert (hidden.attributes == "noAttribute").all()
    fan = table[table.machine == "fan"]
    assert fan.attr_spd.notna().all() and fan.attr_blade.notna().all()


def test_same_seed_same_bytes_whatever_jobs(smoke, tmp_path):
    again = generate_dataset(tmp_path / "again", "smoke", machines=["valve", "gearbox"], jobs=2,
                             progress=False)
    assert wavs(again, ["valve", "gearbox"]) == wavs(smoke, ["valve", "gearbox"])
    for rel in ("ground_truth/clips/gearbox.csv", "dev_data/raw/valve/attributes_00.csv",
                "ground_truth/ground_truth_data/ground_truth_valve_section_00_test.csv"):
        assert (again / rel).read_bytes() == (smoke / rel).read_bytes()
    other = generate_dataset(tmp_path / "other", "smoke", seed=1, machines=["valve"], progress=False)
    assert wavs(other, ["valve"]) != wavs(smoke, ["valve"])


def test_interrupted_generation_is_completed(smoke, tmp_path):
    root = tmp_path / "interrupted"
    shutil.copytree(smoke / "dev_data" / "raw" / "fan", root / "dev_data" / "raw" / "fan")
    victim = next((root / "dev_data" / "raw" / "fan" / "test").glob("*anomaly*.wav"))
    victim.unlink()
    (victim.parent / f".{victim.name}.123.tmp").write_bytes(b"half a file")
    generate_dataset(root, "smoke", machines=["fan"], progress=False)
    assert victim.read_bytes() == (smoke / victim.relative_to(root)).read_bytes()
    assert not list(victim.parent.glob(".*.tmp"))
    assert json.loads((root / MARKER).read_text())["machines"] == ["fan"]


def test_partial_run_of_other_configuration_is_redone(tmp_path):
    root = generate_dataset(tmp_path / "d", "smoke", seed=3, machines=["slider"], progress=False)
    (root / MARKER).rename(root / PARTIAL_MARKER)  # as if seed 3 had been interrupted
    generate_dataset(root, "smoke", seed=4, machines=["slider"], progress=False)
    assert json.loads((root / MARKER).read_text())["seed"] == 4
    assert not (root / PARTIAL_MARKER).exists()


def test_complete_dataset_is_left_alone_or_refused(tmp_path):
    root = generate_dataset(tmp_path / "d", "smoke", machines=["bearing"], progress=False)
    stamps = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}
    assert generate_dataset(root, "smoke", machines=["bearing"], progress=False) == root
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()} == stamps
    with pytest.raises(DataError, match="already holds a complete factory dataset"):
        generate_dataset(root, "course", machines=["bearing"], progress=False)
    with pytest.raises(DataError, match="seed 0"):
        generate_dataset(root, "smoke", seed=1, machines=["bearing"], progress=False)
    generate_dataset(root, "smoke", seed=1, machines=["fan"], force=True, progress=False)
    marker = json.loads((root / MARKER).read_text())
    assert (marker["seed"], marker["machines"]) == (1, ["fan"])
    assert not (root / "dev_data" / "raw" / "bearing").exists()


def test_more_machines_extend_a_dataset(tmp_path):
    root = generate_dataset(tmp_path / "d", "smoke", machines=["valve"], progress=False)
    before = wavs(root, ["valve"])
    generate_dataset(root, "smoke", machines=["valve", "ToyCar"], progress=False)
    assert wavs(root, ["valve"]) == before
    assert json.loads((root / MARKER).read_text())["machines"] == ["ToyCar", "valve"]


def test_foreign_files_are_not_overwritten(tmp_path):
    foreign = (tmp_path / "d" / "dev_data" / "raw" / "fan" / "train"
               / "section_00_source_train_normal_0001_x_1.wav")
    foreign.parent.mkdir(parents=True)
    sf.write(foreign, np.zeros(160), 16000)
    with pytest.raises(DataError, match="does not contain"):
        generate_dataset(tmp_path / "d", "smoke", machines=["fan"], progress=False)
    generate_dataset(tmp_path / "d", "smoke", machines=["fan"], force=True, progress=False)
    assert not foreign.exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"preset": "huge"}, "unknown factory preset"),
    ({"machines": ["pump"]}, "unknown machine type"),
    ({"seed": -1}, "non-negative"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    with pytest.raises(DataError, match=message):
        generate_dataset(tmp_path, progress=False, **kwargs)


@pytest.mark.parametrize("machine", MACHINES)
def test_anomalies_change_the_sound_of_the_same_clip(machine):
    """A clip and its faulty twin (same seed) differ clearly in the log-mel of the most affected
    bands (sustained faults) or moments (sparse faults); a normal clip rendered twice is
    identical, and even the most subtle fault changes it."""
    spec = cell_specs(machine, "test", "source", "normal", 1, 4.0, seed=0)[0]
    normal = render(spec)
    assert np.array_equal(normal, render(spec))
    mel = log_mel(normal.astype(np.float32)).numpy()
    for kind in MODELS[machine].anomaly_kinds:
        faulty = render(dataclasses.replace(spec, anomaly=kind, severity=1.0))
        twin = log_mel(faulty.astype(np.float32)).numpy()
        change = np.abs(twin - mel)
        assert max(np.percentile(change.mean(axis=1), 95), change.mean(axis=0).max()) > 1.0, kind
        subtle = render(dataclasses.replace(spec, anomaly=kind, severity=SEVERITY_RANGE[0]))
        assert not np.array_equal(subtle, normal), kind


def test_preview_shows_normal_and_each_kind(smoke):
    from asdlab.viz.factory_preview import preview

    fig, clips = preview(smoke, "gearbox")
    truth = read_rows(smoke / "ground_truth" / "clips" / "gearbox.csv")
    kinds = {r["anomaly"] for r in truth if r["split"] == "test" and r["domain"] == "source" and r["anomaly"]}
    assert len(fig.data) == len(clips) == 1 + len(kinds)
    assert fig.layout.annotations[0].text.startswith("normal")
    with pytest.raises(DataError, match="no factory ground truth"):
        preview(smoke, "pump")

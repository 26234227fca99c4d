"""The factory's ``dcase2020`` style: machine IDs as physically distinct units, the 2020 layout
and names, per-ID ground truth, markers that keep the two styles apart, and the CLI."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from asdlab.core.errors import DataError
from asdlab.data import build_clip_table
from asdlab.data.groundtruth import factory_ground_truth
from asdlab.data.naming import parse_filename
from asdlab.data.synth import MACHINES, MACHINES_2020, PRESETS_2020, generate_dataset
from asdlab.data.synth.generate import MARKER
from asdlab.data.synth.machines import MODELS
from asdlab.data.synth.plan import CELLS_2020, machine_plan_2020
from asdlab.data.synth.render import render
from asdlab.data.synth.units import Mounting, unit_attributes, unit_mounting

NAME = re.compile(r"(normal|anomaly)_id_(\d{2})_(\d{8})\.wav")
TYPES = ("fan", "valve")  # enough to exercise the style; every 2020 type is planned below


@pytest.fixture(scope="module")
def f20(tmp_path_factory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("f20") / "d", "smoke", machines=TYPES,
                            progress=False, style="dcase2020")


def test_types_and_presets():
    assert set(MACHINES_2020) <= {"ToyCar", "ToyConveyor", "fan", "pump", "slider", "valve"}
    assert {"ToyCar", "fan", "slider", "valve"} <= set(MACHINES_2020)
    assert "bearing" not in MACHINES_2020 and "bearing" in MACHINES
    paper = PRESETS_2020["paper"]
    assert paper.machine_ids("fan") == ("00", "02", "04", "06")
    assert paper.machine_ids("ToyCar") == ("01", "02", "03", "04")
    assert paper.machine_ids("ToyConveyor") == ("01", "02", "03")
    assert paper.clip_seconds("ToyCar") == 11.0 and paper.clip_seconds("fan") == 10.0
    assert PRESETS_2020["course"].machine_ids("fan") == ("00", "02", "04")
    with pytest.raises(NotImplementedError, match="bearing"):
        MODELS["bearing"].unit(np.random.default_rng(0))


@pytest.mark.parametrize("machine", MACHINES_2020)
@pytest.mark.parametrize("preset", ["course", "paper"])
def test_plan_names_and_counts(machine, preset):
    p = PRESETS_2020[preset]
    specs = machine_plan_2020(machine, p, seed=0)
    assert len(specs) == p.clips(machine)
    assert len({(s.split, s.file_name) for s in specs}) == len(specs)
    for unit in p.machine_ids(machine):
        for cell, count in zip(CELLS_2020, p.counts(machine)):
            mine = [s for s in specs if s.section == unit and (s.split, s.domain, s.label) == cell]
            assert [s.index for s in mine] == list(range(count))
            assert all(str(s.rel_path) == f"{machine}/{s.split}/{cell[2]}_id_{unit}_{s.index:08d}.wav"
                       for s in mine)
        assert len({s.attributes for s in specs if s.section == unit}) == 1  # one unit, one operating point
    anomalies = [s for s in specs if s.label == "anomaly"]
    assert {s.anomaly for s in anomalies} == set(MODELS[machine].anomaly_kinds)
    assert all(0.1 <= s.severity <= 1.0 for s in anomalies)


@pytest.mark.parametrize("machine", MACHINES_2020)
def test_units_differ_and_are_reproducible(machine):
    units = [unit_attributes(0, machine, i) for i in ("00", "01", "02", "03", "04", "06")]
    assert unit_attributes(0, machine, "00") == units[0]
    mounts = {unit_mounting(0, machine, i) for i in ("00", "02", "04", "06")}
    assert len(mounts) == 4  # every unit has its own mounting, whatever its operating point
    assert unit_attributes(1, machine, "00") != units[0] or unit_mounting(1, machine, "00") != unit_mounting(0, machine, "00")
    assert all(set(dict(u)) == set(dict(units[0])) for u in units)


def test_mounting_response_and_level():
    m = Mounting((1000.0,), (2.0,), (6.0,), 0.0)
    assert m.response(np.array([1000.0]))[0] == pytest.approx(10 ** (6 / 20), rel=1e-9)
    g, f = 10 ** (6 / 20), np.array([20.0, 8000.0])  # hand value of one resonance off its centre
    assert m.response(f) == pytest.approx(1 + (g - 1) / np.sqrt(1 + (2.0 * (f / 1000 - 1000 / f)) ** 2))
    tilted = Mounting((), (), (), 1.0)
    assert tilted.response(np.array([2000.0]))[0] == pytest.approx(10 ** (1 / 20))
    x = np.random.default_rng(0).standard_normal(16000)
    y = m.apply(x, 16000)
    assert np.sqrt(np.mean(y ** 2)) == pytest.approx(np.sqrt(np.mean(x ** 2)))
    spec_x, spec_y = (np.abs(np.fft.rfft(v)) for v in (x, y))
    band = slice(900, 1100)  # 1 Hz bins: the resonance band is boosted relative to the rest
    assert (spec_y[band].mean() / spec_y.mean()) > 1.3 * (spec_x[band].mean() / spec_x.mean())


def test_units_of_one_type_sound_alike_but_not_the_same():
    """Level-free mean log-mel profiles (64 mels, 3 normal clips per unit): units of one type
    differ from each other, by less on average than from the units of the other types."""
    from asdlab.features import LogMelParams, log_mel
    types, preset = MACHINES_2020, PRESETS_2020["smoke"]

    def profile(machine, unit):
        specs = [s for s in machine_plan_2020(machine, preset, 0) if s.section == unit and s.split == "train"][:3]
        m = np.mean([log_mel(render(s).astype(np.float32), LogMelParams(n_mels=64)).numpy().mean(axis=1)
                     for s in specs], axis=0)
        return m - m.mean()
    profiles = {(t, u): profile(t, u) for t in types for u in preset.machine_ids(t)}
    dist = lambda a, b: float(np.abs(profiles[a] - profiles[b]).mean())
    for t in types:
        units = [k for k in profiles if k[0] == t]
        within = dist(units[0], units[1])
        between = np.mean([dist(u, o) for u in units for o in profiles if o[0] != t])
        assert 0.3 < within < between, (t, within, between)


def test_layout_index_and_wavs(f20):
    for machine in TYPES:
        for split in ("train", "test"):
            names = sorted(p.name for p in (f20 / machine / split).glob("*.wav"))
            assert names and all(NAME.fullmatch(n) for n in names)
    assert not (f20 / "dev_data").exists()
    table = build_clip_table(f20)
    p = PRESETS_2020["smoke"]
    assert sorted(table["machine"].unique()) == sorted(TYPES)
    for machine in TYPES:
        t = table[table["machine"] == machine]
        assert sorted(t["section"].unique()) == list(p.machine_ids(machine))
        assert t["domain"].isna().all()
        counts = t.groupby(["section", "split", "label"]).size()
        assert set(counts.to_dict().values()) <= set(p.counts(machine))
    wave, sr = sf.read(table["path"].iloc[0])
    assert sr == 16000 and len(wave) == 2 * 16000
    info = parse_filename(table["file"].iloc[0])
    assert info["section"] == table["section"].iloc[0]


def test_ground_truth_per_id(f20):
    gt = f20 / "ground_truth"
    assert not (gt / "ground_truth_domain").exists() and not (gt / "ground_truth_attributes").exists()
    for machine in TYPES:
        for unit in PRESETS_2020["smoke"].machine_ids(machine):
            with open(gt / "ground_truth_data" / f"ground_truth_{machine}_section_{unit}_test.csv") as fh:
                rows = list(csv.reader(fh))
            assert rows and all(name.startswith(("normal", "anomaly")) and f"_id_{unit}_" in name for name, _ in rows)
            assert all(int(label) == name.startswith("anomaly") for name, label in rows)
        with open(gt / "clips" / f"{machine}.csv") as fh:
            clips = list(csv.DictReader(fh))
        assert list(clips[0])[:2] == ["file_name", "section"]
        per_unit = {}
        for row in clips:
            attrs = tuple((k, v) for k, v in row.items() if k.startswith("attr_"))
            per_unit.setdefault(row["section"], set()).add(attrs)
        assert all(len(a) == 1 for a in per_unit.values()) and len(set.union(*per_unit.values())) >= 1
    truth = factory_ground_truth(f20)
    assert not truth.duplicated(["machine", "file"]).any()  # train and test normals share names
    table = build_clip_table(f20)
    assert set(zip(table["machine"], table["file"])) == set(zip(truth["machine"], truth["file"]))


def test_markers_keep_styles_apart(f20, tmp_path):
    marker = json.loads((f20 / MARKER).read_text())
    assert marker["style"] == "dcase2020" and marker["machines"] == list(TYPES)
    assert marker["files"] == sum(PRESETS_2020["smoke"].clips(m) for m in TYPES)
    with pytest.raises(DataError, match="style 'dcase2020'.*asked for style 'dcase2024'"):
        generate_dataset(f20, "smoke", machines=TYPES, progress=False)
    before = {p: p.read_bytes() for p in sorted((f20 / "fan").glob("*/*.wav"))[:5]}
    assert generate_dataset(f20, "smoke", machines=TYPES, progress=False, style="dcase2020") == f20
    assert all(p.read_bytes() == b for p, b in before.items())
    with pytest.raises(DataError, match="unknown factory style 'dcase2019'"):
        generate_dataset(tmp_path / "x", "smoke", style="dcase2019")
    with pytest.raises(DataError, match="bearing.*dcase2020 style"):
        generate_dataset(tmp_path / "x", "smoke", machines=["bearing"], style="dcase2020")


def test_force_switches_style(tmp_path):
    root = generate_dataset(tmp_path / "d", "smoke", machines=["fan"], progress=False, style="dcase2020")
    generate_dataset(root, "smoke", machines=["fan"], progress=False, force=True)
    assert not (root / "fan").exists() and (root / "dev_data" / "raw" / "fan" / "train").is_dir()
    assert json.loads((root / MARKER).read_text())["style"] == "dcase2024"


def test_markers_without_style_are_dcase2024(tmp_path):
    root = generate_dataset(tmp_path / "d", "smoke", machines=["fan"], progress=False)
    marker = json.loads((root / MARKER).read_text())
    del marker["style"]
    (root / MARKER).write_text(json.dumps(marker))
    assert generate_dataset(root, "smoke", machines=["fan"], progress=False) == root


def test_cli_style(tmp_path):
    run = lambda *a: subprocess.run([sys.executable, "-m", "asdlab", *a], capture_output=True, text=True)
    out = run("synth", "--style", "dcase2020", "--preset", "smoke", "--machines", "slider",
              "--out", str(tmp_path / "d"), "--quiet")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "d" / "slider" / "train" / "normal_id_00_00000000.wav").is_file()
    bad = run("synth", "--style", "dcase2019", "--out", str(tmp_path / "e"))
    assert bad.returncode == 2 and "invalid choice: 'dcase2019'" in bad.stderr


def test_preview_on_2020_data(f20):
    from asdlab.viz.factory_preview import preview
    fig, clips = preview(f20, "fan")
    kinds = set(factory_ground_truth(f20).query("machine == 'fan'")["anomaly_kind"]) - {""}
    assert len(clips) == 1 + len(kinds) and kinds <= set(MODELS["fan"].anomaly_kinds)
    titles = [a.text for a in fig.layout.annotations]
    assert titles[0].startswith("normal: normal_id_00_")


def test_example_clips_without_domains_show_two_ids(f20):
    from asdlab.viz import teaching
    table = build_clip_table(f20)
    truth = factory_ground_truth(f20)
    clips = teaching.example_clips(table, "valve", truth)
    assert list(clips) == ["id 00 normal", "id 02 normal", "id 00 anomaly", "id 02 anomaly"]
    assert Path(clips["id 02 anomaly"]).name.startswith("anomaly_id_02_")
    sev = truth[truth["machine"] == "valve"].set_index("file")["severity"]
    cell = table.query("machine == 'valve' and split == 'test' and section == '00' and label == 'anomaly'")["file"]
    assert sev[Path(clips["id 00 anomaly"]).name] == sev[cell].max()  # the most severe of the ID

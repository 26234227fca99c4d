"""Shared test helpers: short noise WAVs and tiny DCASE-style dataset trees.

Use them as fixtures (``def test_x(write_wav, make_dcase_tree)``) or import the functions
(``from conftest import write_wav``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DEFAULT_MACHINES = {"ToyCar": "car_A1_spd_7", "fan": "noAttribute"}


def write_wav(path, seconds: float, sr: int = 16000, channels: int = 1, seed: int = 0,
              subtype: str = "PCM_16") -> Path:
    """Write ``seconds`` of uniform noise in [-0.5, 0.5) to ``path`` (parents created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, (round(seconds * sr), channels))
    sf.write(path, noise, sr, subtype=subtype)
    return path


def make_dcase_tree(root, machines=None, layout: str = "dev", seconds: float = 0.05,
                    n_train: int = 3, n_test: int = 2, sections=("00",)) -> Path:
    """Write a tiny dataset with official names under ``root``; return ``root``.

    ``machines``: ``{name: attribute string}`` (``"noAttribute"`` hides them, ``""`` leaves the
    name without attribute part) or a list of names (all ``noAttribute``); default
    :data:`DEFAULT_MACHINES`. ``layout``: ``"dev"`` (``root/dev_data/raw/<machine>``) or
    ``"flat"`` (``root/<machine>``). Per machine and section: ``n_train`` source + 1 target
    training normals and ``n_test`` test clips per domain x label; indices start at 0001.
    """
    if machines is None:
        machines = DEFAULT_MACHINES
    if not isinstance(machines, dict):
        machines = {m: "noAttribute" for m in machines}
    base = {"dev": Path(root) / "dev_data" / "raw", "flat": Path(root)}[layout]
    seed = 0
    for machine, attrs in machines.items():
        for section in sections:
            clips = [("train", "source", "normal")] * n_train + [("train", "target", "normal")]
            clips += [("test", d, lab) for d in ("source", "target") for lab in ("normal", "anomaly")
                      for _ in range(n_test)]
            for index, (split, domain, label) in enumerate(clips, start=1):
                suffix = f"_{attrs}" if attrs else ""
                name = f"section_{section}_{domain}_{split}_{label}_{index:04d}{suffix}.wav"
                write_wav(base / machine / split / name, seconds, seed=seed)
                seed += 1
    return Path(root)


REAL_YEARS = ("2020", "2021", "2024", "2026")


def make_real_tree(root, year: str, seconds: float = 1.0, n_train: int = 4, n_test: int = 2) -> Path:
    """Write a tiny dataset in one year's published DCASE layout under ``root`` (no factory, no
    ``ground_truth/`` folder); return ``root``. Two machine types, ``seconds`` long noise clips.

    * ``"2020"``: ``<machine>/{train,test}/{normal,anomaly}_id_XX_NNNNNNNN.wav``, IDs 00 and 02
      (fan) / 01 and 03 (ToyCar, clips 1.1 x longer, as 2020's 11 s), counters restarting at 0
      per split and label (so train and test names repeat, as in the real files), and fan ID 04
      only in test (an ID without training clips).
    * ``"2021"``: ``<machine>/{train,source_test,target_test}/`` (the 2021 layout), sections 00-02
      per machine, ``section_SS_{source,target}_{train,test}_...``, 2021 attribute strings in
      training names (``A1Spd28VMic1``), none in test names.
    * ``"2024"``: ``dev_data/raw/<machine>/`` (section 00, ``car_A1_spd_7`` / ``noAttribute``,
      the hidden one's clips 0.79 x long, as RoboticArm's 7.9 s) and ``eval_data/raw/<machine>/``
      of a third machine type with anonymised test files ``section_00_NNNN.wav`` (no labels).
    * ``"2026"``: like 2024's development part but every clip two-channel (independent noise per
      channel), plus a ``supplemental/`` folder the readers ignore.
    """
    root = Path(root)
    seed = iter(range(10**6))

    def wav(path, secs=seconds, channels=1):
        write_wav(path, secs, channels=channels, seed=next(seed))

    if year == "2020":
        for machine, ids, secs in (("ToyCar", ("01", "03"), 1.1 * seconds), ("fan", ("00", "02"), seconds)):
            for i in ids:
                for k in range(n_train):
                    wav(root / machine / "train" / f"normal_id_{i}_{k:08d}.wav", secs)
            for i in ids + (("04",) if machine == "fan" else ()):
                for label in ("normal", "anomaly"):
                    for k in range(n_test):
                        wav(root / machine / "test" / f"{label}_id_{i}_{k:08d}.wav", secs)
    elif year == "2021":
        for machine in ("ToyCar", "fan"):
            for section in ("00", "01", "02"):
                names = [("train", f"section_{section}_source_train_normal_{k:04d}_A1Spd28VMic1.wav")
                         for k in range(n_train)]
                names.append(("train", f"section_{section}_target_train_normal_0000_A2Spd31VMic1.wav"))
                names += [(f"{d}_test", f"section_{section}_{d}_test_{lab}_{k:04d}.wav") for d in ("source", "target")
                          for lab in ("normal", "anomaly") for k in range(n_test)]
                for split, name in names:
                    wav(root / machine / split / name)
    elif year in ("2024", "2026"):
        channels = 2 if year == "2026" else 1
        base = root / "dev_data" / "raw"
        machines = (("ToyCar", "car_A1_spd_7", seconds), ("RoboticArm", "noAttribute", 0.79 * seconds))
        for machine, attrs, secs in machines:
            names = [("train", f"section_00_source_train_normal_{k:04d}_{attrs}.wav") for k in range(1, n_train + 1)]
            names.append(("train", f"section_00_target_train_normal_0001_{attrs}.wav"))
            names += [("test", f"section_00_{d}_test_{lab}_{k:04d}_{attrs}.wav") for d in ("source", "target")
                      for lab in ("normal", "anomaly") for k in range(1, n_test + 1)]
            for split, name in names:
                wav(base / machine / split / name, secs, channels)
            if year == "2026":
                wav(base / machine / "supplemental" / "section_00_supplemental_0001.wav", secs, channels)
        if year == "2024":
            ev = root / "eval_data" / "raw" / "3DPrinter"
            for k in range(1, n_train + 1):
                wav(ev / "train" / f"section_00_source_train_normal_{k:04d}_noAttribute.wav")
            wav(ev / "train" / "section_00_target_train_normal_0001_noAttribute.wav")
            for k in range(1, 4 * n_test + 1):
                wav(ev / "test" / f"section_00_{k:04d}.wav")
    else:
        raise ValueError(f"year must be one of {REAL_YEARS}, got {year!r}")
    return root


@pytest.fixture(name="write_wav")
def _write_wav_fixture():
    """The :func:`write_wav` helper."""
    return write_wav


@pytest.fixture(name="make_dcase_tree")
def _make_dcase_tree_fixture():
    """The :func:`make_dcase_tree` helper."""
    return make_dcase_tree


@pytest.fixture(name="make_real_tree")
def _make_real_tree_fixture():
    """The :func:`make_real_tree` helper."""
    return make_real_tree


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    """Keep the suite's features and models out of the user's ~/.cache/asdlab."""
    import os

    old = os.environ.get("ASDLAB_CACHE")
    os.environ["ASDLAB_CACHE"] = str(tmp_path_factory.mktemp("asdlab-cache"))
    yield
    if old is None:
        os.environ.pop("ASDLAB_CACHE", None)
    else:
        os.environ["ASDLAB_CACHE"] = old


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One intra-op thread per test process: the suite runs as 2 processes on 2 cores, and
    torch threads competing with another busy process slow a training step tenfold."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

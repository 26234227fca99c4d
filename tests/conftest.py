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


@pytest.fixture(name="write_wav")
def _write_wav_fixture():
    """The :func:`write_wav` helper."""
    return write_wav


@pytest.fixture(name="make_dcase_tree")
def _make_dcase_tree_fixture():
    """The :func:`make_dcase_tree` helper."""
    return make_dcase_tree


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

"""Issue 18 part 2, the GPU path, checked on the CPU: the precision option (accepted / refused in one
line), the training loop's epoch loss summed on the device (the same numbers as the former
per-batch Python sums, one host read per epoch), bf16 autocast within tolerance on a tiny problem,
precision in a run's identity, the epoch probe, and ``benchmarks/gpu.py --device cpu``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from asdlab.cli import main
from asdlab.core.errors import ConfigError
from asdlab.runs import run_method
from asdlab.runs.folder import RunExistsError, _identity
from asdlab.train import (PRECISIONS, ProbeStop, TrainConfig, autocast, check_precision, fit,
                          probe_epoch, resolve_precision, use_precision)
from asdlab.train.embed import embed, embed_arrays
from asdlab.train.loop import _epoch_seed, epoch_batches, split_indices

ROOT = Path(__file__).resolve().parents[1]
REFUSED = "precision {!r}: not a precision; use fp32 (default) or bf16"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from asdlab.data.synth import generate_dataset

    return generate_dataset(tmp_path_factory.mktemp("factory") / "smoke", "smoke", machines=["fan"], progress=False)


# ---- the option -------------------------------------------------------------------------------

def test_precisions_accepted_and_refused_in_one_line():
    assert PRECISIONS == ("fp32", "bf16")
    assert [check_precision(p) for p in PRECISIONS] == ["fp32", "bf16"]
    for bad in ("fp16", "BF16", "bfloat16", "", None, 32):
        with pytest.raises(ConfigError) as err:
            check_precision(bad)
        assert str(err.value) == REFUSED.format(bad)
    assert resolve_precision() == "fp32"
    with use_precision("bf16"):
        assert resolve_precision() == "bf16" and resolve_precision("fp32") == "fp32"
        with use_precision("fp32"):
            assert resolve_precision() == "fp32"
        assert resolve_precision() == "bf16"
    assert resolve_precision() == "fp32"
    with pytest.raises(ConfigError, match="not a precision"), use_precision("fp16"):
        pass


def test_cli_refuses_a_bad_precision_before_writing_anything(data, tmp_path, capsys):
    out = tmp_path / "run"
    try:
        code = main(["run", "ae_mse", "--data", str(data), "--out", str(out), "--preset", "smoke",
                     "--precision", "fp16", "--quiet"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err.splitlines()
    assert err == ["asdlab run: error: " + REFUSED.format("fp16")]
    assert list(tmp_path.iterdir()) == []


def test_run_method_refuses_a_bad_precision_before_any_work(data, tmp_path):
    with pytest.raises(ConfigError, match="precision 'half'"):
        run_method("ae_mse", data, tmp_path / "run", preset="smoke", precision="half", progress=False)
    assert list(tmp_path.iterdir()) == []


def test_autocast_is_a_no_op_for_fp32_and_bf16_on_cpu():
    x, w = torch.randn(4, 8), torch.randn(8, 3)
    with autocast("cpu", "fp32"):
        assert (x @ w).dtype == torch.float32
    with autocast("cpu", "bf16"):
        assert (x @ w).dtype == torch.bfloat16
    with use_precision("bf16"), autocast(torch.device("cpu")):
        assert (x @ w).dtype == torch.bfloat16


# ---- the loop: device-side sums, one read per epoch ------------------------------------------

def _tiny(seed=0):
    torch.manual_seed(seed)
    x = torch.randn(10, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]]) + 0.1 * torch.randn(10, 1)
    model = torch.nn.Linear(3, 1)
    return model, x, y


def _mse(model, batch):
    return torch.nn.functional.mse_loss(model(batch[0]), batch[1])


def test_epoch_loss_equals_the_hand_mean_of_batch_losses():
    """lr 0 keeps the weights fixed, so each batch loss can be recomputed by hand; the history
    must equal the former Python sum ``sum(float(loss_b) * n_b) / n`` bit for bit."""
    model, x, y = _tiny()
    cfg = TrainConfig(epochs=2, batch_size=3, lr=0.0, val_fraction=0.3, seed=5)
    ref = torch.nn.Linear(3, 1)
    ref.load_state_dict(model.state_dict())
    res = fit(model, len(x), lambda idx, train: (x[idx], y[idx]), _mse, cfg, device="cpu", progress=False)
    train_idx, val_idx = split_indices(len(x), cfg.val_fraction, cfg.seed)
    assert len(val_idx) == 3
    with torch.no_grad():
        for epoch, row in enumerate(res.history):
            batches = epoch_batches(len(train_idx), cfg.batch_size, torch.Generator().manual_seed(_epoch_seed(5, epoch)))
            assert [len(b) for b in batches] == [3, 4]  # the trailing batch of one joins the previous
            total = 0.0
            for b in batches:
                idx = torch.from_numpy(train_idx)[b]
                total += float(_mse(ref, (x[idx], y[idx]))) * len(b)
            assert row["train_loss"] == total / len(train_idx)
            val = float(_mse(ref, (x[val_idx], y[val_idx]))) * len(val_idx)
            assert row["val_loss"] == val / len(val_idx)


def test_no_per_batch_host_read(monkeypatch):
    """The loop reads the device twice an epoch (train and validation sums), whatever the batches
    (reads by the loop's own code; the optimiser's CPU step counters are not device reads)."""
    reads = []
    real_float, real_item = torch.Tensor.__float__, torch.Tensor.item

    def counted(real, kind):
        def read(t):
            if sys._getframe(1).f_globals.get("__name__") == "asdlab.train.loop":
                reads.append(kind)
            return real(t)
        return read

    monkeypatch.setattr(torch.Tensor, "__float__", counted(real_float, "float"))
    monkeypatch.setattr(torch.Tensor, "item", counted(real_item, "item"))
    model, x, y = _tiny()
    fit(model, len(x), lambda idx, train: (x[idx], y[idx]), _mse,
        TrainConfig(epochs=3, batch_size=2, lr=1e-2, val_fraction=0.3), device="cpu", progress=False)
    assert reads == ["float"] * 6


# ---- bf16 on the CPU within tolerance ------------------------------------------------------

def _classifier_problem():
    g = torch.Generator().manual_seed(0)
    centers = 3 * torch.randn(4, 16, generator=g)
    labels = torch.arange(200) % 4
    x = centers[labels] + torch.randn(200, 16, generator=g)
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 4))
    return model, x, labels


def test_bf16_trains_within_tolerance_of_fp32_on_a_tiny_problem():
    """Same data, seed and initial weights: bf16 autocast runs the forward passes in bfloat16
    (seen in the loss function) and ends within 5 % of fp32's losses; the predictions agree."""
    results, dtypes = {}, {}
    for precision in PRECISIONS:
        model, x, y = _classifier_problem()

        def loss_fn(m, batch, precision=precision):
            logits = m(batch[0])
            dtypes[precision] = logits.dtype
            return torch.nn.functional.cross_entropy(logits, batch[1])

        cfg = TrainConfig(epochs=4, batch_size=32, lr=1e-2, val_fraction=0.2, precision=precision)
        res = fit(model, len(x), lambda idx, train: (x[idx], y[idx]), loss_fn, cfg, device="cpu", progress=False)
        results[precision] = (res, model(x).argmax(1))
    assert dtypes == {"fp32": torch.float32, "bf16": torch.bfloat16}
    fp32, bf16 = results["fp32"][0].history, results["bf16"][0].history
    assert fp32[-1]["train_loss"] < 0.5 * fp32[0]["train_loss"]  # it learns
    for a, b in zip(fp32, bf16):
        for key in ("train_loss", "val_loss"):
            assert abs(b[key] - a[key]) <= 0.05 * a[key] + 1e-3, (key, a, b)
    assert (results["fp32"][1] == results["bf16"][1]).float().mean() >= 0.98


def test_embeddings_in_bf16_are_float32_and_close():
    model, x, _ = _classifier_problem()
    model.eval()
    a = embed_arrays(model, x.numpy(), "cpu", batch_size=64)
    b = embed_arrays(model, x.numpy(), "cpu", batch_size=64, precision="bf16")
    with use_precision("bf16"):
        c = embed_arrays(model, x.numpy(), "cpu", batch_size=64)
    assert a.dtype == b.dtype == np.float32 and a.shape == b.shape == (200, 4)
    assert not np.array_equal(a, b) and np.array_equal(b, c)
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.999
    assert np.array_equal(embed_arrays(model, x.numpy(), "cpu", batch_size=64, precision="fp32"), a)
    net = torch.nn.Sequential(torch.nn.Linear(100, 8))
    waves = [np.random.default_rng(i).standard_normal(100 + 30 * i).astype(np.float32) for i in range(3)]
    e32, e16 = embed(net, waves, 100, "all"), embed(net, waves, 100, "all", precision="bf16")
    assert e16.dtype == np.float32 and np.allclose(e16, e32, atol=0.05) and not np.array_equal(e16, e32)


# ---- precision in a run ---------------------------------------------------------------------

def test_precision_is_part_of_a_runs_identity(data, tmp_path):
    """configs written before the key existed mean fp32; a bf16 run is its own run, reused as one."""
    old = {"method": "m", "preset": "smoke", "params": {}, "seed": 0, "data": "d", "data_fingerprint": "f",
           "machines": None, "channel": 0}
    assert _identity(old) == _identity({**old, "precision": "fp32"}) != _identity({**old, "precision": "bf16"})
    out = tmp_path / "run"
    first = run_method("sc_noisy_arcmix", data, out, preset="smoke", overrides={"epochs": 1, "n_clusters": 2},
                       cache_dir=tmp_path / "cache", progress=False, precision="bf16")
    config = json.loads((first / "config.json").read_text())
    assert config["precision"] == "bf16" and config["device"] == "auto"
    stamp = (out / "scores.csv").stat().st_mtime_ns
    run_method("sc_noisy_arcmix", data, out, preset="smoke", overrides={"epochs": 1, "n_clusters": 2},
               cache_dir=tmp_path / "cache", progress=False, precision="bf16")
    assert (out / "scores.csv").stat().st_mtime_ns == stamp  # reused, not retrained
    with pytest.raises(RunExistsError, match="different configuration"):
        run_method("sc_noisy_arcmix", data, out, preset="smoke", overrides={"epochs": 1, "n_clusters": 2},
                   cache_dir=tmp_path / "cache", progress=False)


def test_ae_model_cache_keeps_bf16_models_apart(data, tmp_path):
    """The AE recipes cache trained models: a bf16 model must never be reused by an fp32 run."""
    cache = tmp_path / "cache"
    for precision in ("bf16", "fp32"):
        run_method("ae_mse", data, tmp_path / precision, preset="smoke", overrides={"epochs": 1},
                   cache_dir=cache, progress=False, precision=precision)
    assert len(list((cache / "models" / "ae").glob("*.pt"))) == 2
    a, b = (np.load(tmp_path / p / "embeddings.npy") for p in ("bf16", "fp32"))
    assert not np.array_equal(a, b)


# ---- the probe and the benchmark -------------------------------------------------------------

def test_probe_times_the_first_epoch_and_stops_the_run():
    model, x, y = _tiny()
    before = [p.detach().clone() for p in model.parameters()]
    with probe_epoch(max_batches=2) as probe, pytest.raises(ProbeStop):
        fit(model, len(x), lambda idx, train: (x[idx], y[idx]), _mse,
            TrainConfig(epochs=5, batch_size=3, lr=0.1, val_fraction=0.0), device="cpu", progress=False)
    (rec,) = probe.records
    assert (rec["items"], rec["batches"], rec["steady_items"]) == (6, 2, 3)
    assert 0 < rec["steady_seconds"] <= rec["seconds"]
    assert any(not torch.equal(a, p) for a, p in zip(before, model.parameters()))  # two steps were taken
    model2, x, y = _tiny()
    res = fit(model2, len(x), lambda idx, train: (x[idx], y[idx]), _mse,
              TrainConfig(epochs=1, batch_size=3, lr=0.1, val_fraction=0.0), device="cpu", progress=False)
    assert len(res.history) == 1  # outside the block, nothing is probed


def test_gpu_benchmark_prints_its_table_on_cpu(data, tmp_path):
    out = tmp_path / "table.md"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--data", str(data), "--preset", "smoke",
         "--device", "cpu", "--threads", "1", "--methods", "tastgram_noisy_arcmix", "ae_mse",
         "--precision", "fp32", "bf16", "--set", "epochs=1", "--out", str(out)],
        capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert lines[0] == "| method | precision | device | items | items/s | peak MiB | cpu items/s | ratio | prep s |"
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert [r[:3] for r in rows] == [["tastgram_noisy_arcmix", "fp32", "cpu"], ["tastgram_noisy_arcmix", "bf16", "cpu"],
                                     ["ae_mse", "fp32", "cpu"], ["ae_mse", "bf16", "cpu"]]
    for r in rows:
        assert int(r[3]) > 0 and float(r[4]) > 0 and r[5] == "-" and float(r[7]) > 0
    assert rows[0][7] == "1" and rows[0][6] == rows[0][4]  # on the CPU, fp32: the row is its own reference
    assert out.read_text().startswith(lines[0])
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--data", str(data),
                          "--device", "cpu", "--precision", "fp16"], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and bad.stderr.strip() == "gpu.py: error: " + REFUSED.format("fp16")


def test_device_scripts_parse():
    for script in ("device_check.sh", "make_wheelhouse.sh"):
        assert subprocess.run(["bash", "-n", str(ROOT / "benchmarks" / script)]).returncode == 0

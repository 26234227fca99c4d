import math

import numpy as np
import pytest
import torch

from asdlab.nn.ae import DenseAutoEncoder
from asdlab.train import TrainConfig, fit, split_indices


def _data(n=64, d=20, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32))


def _train(x, cfg, checkpoint=None):
    torch.manual_seed(cfg.seed)
    model = DenseAutoEncoder(x.shape[1], hidden=16, n_layers=2, bottleneck=4)
    result = fit(model, len(x), lambda idx, train: (x[idx],),
                 lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[0]), cfg,
                 device="cpu", checkpoint=checkpoint, progress=False)
    return model, result


def _weights(model):
    return torch.cat([p.detach().flatten() for p in model.state_dict().values() if p.dtype.is_floating_point])


def test_same_seed_same_weights_and_other_seed_differs():
    x = _data()
    cfg = TrainConfig(epochs=3, batch_size=16, lr=1e-2, seed=1)
    a, _ = _train(x, cfg)
    b, _ = _train(x, cfg)
    c, _ = _train(x, TrainConfig(epochs=3, batch_size=16, lr=1e-2, seed=2))
    assert torch.equal(_weights(a), _weights(b))
    assert not torch.equal(_weights(a), _weights(c))


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    x = _data()
    full_cfg = TrainConfig(epochs=4, batch_size=16, lr=1e-2, seed=3)
    full, full_res = _train(x, full_cfg)
    ckpt = tmp_path / "last.ckpt"
    _train(x, TrainConfig(epochs=2, batch_size=16, lr=1e-2, seed=3), checkpoint=ckpt)  # "interrupted"
    resumed, res = _train(x, full_cfg, checkpoint=ckpt)
    assert [h["epoch"] for h in res.history] == [0, 1, 2, 3]
    assert [h["train_loss"] for h in res.history] == [h["train_loss"] for h in full_res.history]
    assert torch.equal(_weights(full), _weights(resumed))


def test_best_epoch_is_chosen_by_validation_loss():
    x = _data()
    _, res = _train(x, TrainConfig(epochs=5, batch_size=16, lr=5e-2, seed=0, val_fraction=0.25))
    vals = [h["val_loss"] for h in res.history]
    assert res.best_epoch == int(np.argmin(vals))
    assert res.best_val_loss == min(vals)


def test_split_indices_partition_and_are_seeded():
    tr, va = split_indices(100, 0.1, seed=0)
    assert len(va) == 10 and len(tr) == 90
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(100))
    assert np.array_equal(va, split_indices(100, 0.1, seed=0)[1])
    assert not np.array_equal(va, split_indices(100, 0.1, seed=1)[1])
    assert len(split_indices(3, 0.0, 0)[1]) == 0


def test_cosine_schedule_reaches_min_lr():
    x = _data()
    _, res = _train(x, TrainConfig(epochs=3, batch_size=32, lr=1e-2, min_lr=1e-4,
                                   schedule="cosine", optimizer="adamw"))
    lrs = [h["lr"] for h in res.history]
    assert lrs[0] == pytest.approx(1e-2) and lrs[-1] == pytest.approx(1e-4)
    assert lrs[1] == pytest.approx(1e-4 + 0.5 * (1e-2 - 1e-4))


def test_a_trailing_batch_of_one_joins_the_previous_batch():
    from asdlab.train import epoch_batches

    sizes = [len(b) for b in epoch_batches(33, 16, torch.Generator().manual_seed(0))]
    assert sizes == [16, 17]
    assert [len(b) for b in epoch_batches(34, 16, None)] == [16, 16, 2]
    x = _data(n=37)  # 90 % of 37 = 33 training items -> batches of 16 and 17, no crash in BatchNorm
    _train(x, TrainConfig(epochs=1, batch_size=16, seed=0))


def test_stratified_split_takes_each_group_in_proportion_and_never_its_last_items():
    from asdlab.train import split_indices

    groups = np.array([0] * 20 + [1] * 3 + [2] * 10 + [3] * 1)
    train, val = split_indices(len(groups), 0.2, seed=0, groups=groups, keep=2)
    assert sorted(np.concatenate([train, val]).tolist()) == list(range(len(groups)))
    counts = {g: int((groups[val] == g).sum()) for g in range(4)}
    assert counts == {0: 4, 1: 1, 2: 2, 3: 0}          # round(3 * 0.2) = 1 still leaves 2 of class 1
    _, val_keep3 = split_indices(len(groups), 0.2, seed=0, groups=groups, keep=3)
    assert int((groups[val_keep3] == 1).sum()) == 0       # a 3-clip class keeps every clip
    again = split_indices(len(groups), 0.2, seed=0, groups=groups, keep=2)[1]
    np.testing.assert_array_equal(val, again)              # seeded
    other = split_indices(len(groups), 0.2, seed=1, groups=groups, keep=2)[1]
    assert not np.array_equal(val, other)
    with pytest.raises(ValueError, match="3 group labels for 4 items"):
        split_indices(4, 0.5, 0, groups=[0, 0, 1])


def test_accuracy_is_recorded_on_validation_items_or_a_fixed_training_sample():
    # a linear classifier on 2 separable classes; the accuracy function counts argmax == label
    g = np.random.default_rng(0)
    x = torch.from_numpy(np.concatenate([g.normal(-2, 1, (40, 3)), g.normal(2, 1, (40, 3))]).astype(np.float32))
    y = torch.tensor([0] * 40 + [1] * 40)
    seen = []

    def right(m, batch):
        seen.append((m.training, len(batch[0])))
        return (m(batch[0]).argmax(dim=1) == batch[1]).sum()

    def train(cfg):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 2)
        return model, fit(model, len(x), lambda idx, train: (x[idx], y[idx]),
                          lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1]), cfg,
                          device="cpu", progress=False, accuracy_fn=right)

    model, res = train(TrainConfig(epochs=3, batch_size=16, lr=0.1, val_fraction=0.25, seed=0))
    _, val = split_indices(80, 0.25, 0)
    expected = float((model(x[val]).argmax(dim=1) == y[val]).float().mean())  # the best (last-loaded) weights
    assert [sorted(h) for h in res.history] == [["epoch", "lr", "train_loss", "val_acc", "val_loss"]] * 3
    assert res.history[res.best_epoch]["val_acc"] == pytest.approx(expected)
    assert not any(training for training, _ in seen) and sum(n for _, n in seen) == 3 * 20  # eval mode, 20 items
    seen.clear()
    _, res = train(TrainConfig(epochs=2, batch_size=16, lr=0.1, val_fraction=0.0, seed=0, acc_items=30))
    assert all("train_acc" in h and math.isnan(h["val_loss"]) for h in res.history)
    assert sum(n for _, n in seen) == 2 * 30 and 0.0 <= res.history[-1]["train_acc"] <= 1.0


def test_plateau_schedule_trains_at_constant_rate_until_the_rule_fires_then_anneals():
    from asdlab.train.loop import _lr_at, plateau_phase
    cfg = TrainConfig(epochs=20, lr=1e-2, min_lr=1e-4, schedule="plateau", anneal_epochs=4, plateau_min_epochs=4)
    rising = [{"epoch": e, "val_loss": 1.0, "val_acc": a} for e, a in enumerate([0.2, 0.5, 0.7, 0.9])]
    assert plateau_phase(cfg, rising) is None  # q=1: 0.9 beats 0.7 by 20 points
    flat = rising + [{"epoch": 4, "val_loss": 1.0, "val_acc": 0.91}]  # q=2: best 0.91 vs 0.7 -> no
    assert plateau_phase(cfg, flat) is None
    flat += [{"epoch": 5, "val_loss": 1.0, "val_acc": 0.9}, {"epoch": 6, "val_loss": 1.0, "val_acc": 0.905},
             {"epoch": 7, "val_loss": 1.0, "val_acc": 0.9}]  # q=2: 0.905 vs 0.91 -> converged after 8 epochs
    assert plateau_phase(cfg, flat) == 8
    assert [_lr_at(cfg, e, 8) for e in (7, 8, 9, 10, 11)] == pytest.approx(
        [1e-2, 1e-4 + 0.5 * (1e-2 - 1e-4) * (1 + math.cos(math.pi / 4)), 1e-4 + 0.5 * (1e-2 - 1e-4),
         1e-4 + 0.5 * (1e-2 - 1e-4) * (1 + math.cos(3 * math.pi / 4)), 1e-4])
    # once annealing started, the phase is read back from the history (a resumed run)
    assert plateau_phase(cfg, flat + [{"epoch": 8, "val_loss": 1.0, "val_acc": 0.9, "phase": "anneal"}]) == 8
    # the cap: the constant phase lasts at most epochs - anneal_epochs = 16 epochs
    climbing = [{"epoch": e, "val_loss": 1.0, "train_loss": 1.0, "val_acc": e / 20} for e in range(16)]
    assert plateau_phase(cfg, climbing[:15]) is None and plateau_phase(cfg, climbing) == 16
    # without an accuracy: the validation loss, or the training loss where there is none
    losses = [{"epoch": e, "val_loss": float("nan"), "train_loss": v} for e, v in enumerate([4, 3, 2, 1.5, 1.5, 1.5])]
    assert plateau_phase(cfg, losses[:4]) is None and plateau_phase(cfg, losses) == 6


def test_fit_with_the_plateau_schedule_stops_after_annealing_and_resumes_identically(tmp_path):
    x = _data()
    cfg = TrainConfig(epochs=40, batch_size=16, lr=1e-2, min_lr=1e-4, seed=0, schedule="plateau",
                      anneal_epochs=3, plateau_min_epochs=4, plateau_tol=0.05)
    _, full = _train(x, cfg)
    phases = [h["phase"] for h in full.history]
    start = phases.index("anneal")
    assert phases == ["train"] * start + ["anneal"] * 3 and 4 <= start < 37
    assert [h["lr"] for h in full.history[:start]] == [1e-2] * start and full.history[-1]["lr"] == pytest.approx(1e-4)
    from asdlab.train.plateau import plateau
    values = [h["val_loss"] for h in full.history[:start]]
    assert plateau(values, tol=0.05)["verdict"] == "converged"
    assert plateau(values[:-1], tol=0.05)["verdict"] != "converged" or start - 1 < 4
    # killed during the second annealing epoch, then resumed from the checkpoint: the same epochs
    ckpt, calls = tmp_path / "c.ckpt", []
    per_epoch = -(-len(split_indices(len(x), cfg.val_fraction, 0)[0]) // 16)  # training batches per epoch

    class Killed(Exception):
        pass

    def dying(idx, train):
        calls.append(train)
        if sum(calls) > (start + 1) * per_epoch:
            raise Killed
        return (x[idx],)

    torch.manual_seed(cfg.seed)
    model = DenseAutoEncoder(x.shape[1], hidden=16, n_layers=2, bottleneck=4)
    with pytest.raises(Killed):
        fit(model, len(x), dying, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[0]), cfg,
            device="cpu", checkpoint=ckpt, progress=False)
    assert torch.load(ckpt, weights_only=False)["history"][-1]["phase"] == "anneal"
    _, resumed = _train(x, cfg, checkpoint=ckpt)
    assert resumed.history == full.history


def test_training_uses_fused_adam_with_the_unfused_update():
    """CPU parameters get torch's fused Adam / AdamW (FUSED_DEVICES): one kernel per step; five
    steps from the same gradients land where the per-tensor loop does, up to float rounding."""
    from asdlab.train.loop import _make_optimizer

    torch.manual_seed(0)
    start = [torch.randn(64, 32), torch.randn(32)]
    out = {}
    for name in ("adam", "adamw"):
        cfg = TrainConfig(epochs=1, lr=1e-2, weight_decay=0.01, optimizer=name)
        fused_params = [p.clone().requires_grad_() for p in start]
        fused = _make_optimizer(fused_params, cfg)
        assert fused.defaults["fused"] is True
        loop_params = [p.clone().requires_grad_() for p in start]
        cls = torch.optim.Adam if name == "adam" else torch.optim.AdamW
        loop = cls(loop_params, lr=1e-2, weight_decay=0.01, foreach=False)
        for step in range(5):
            g = torch.Generator().manual_seed(step)
            for a, b in zip(fused_params, loop_params):
                a.grad = torch.randn(a.shape, generator=g)
                b.grad = a.grad.clone()
            fused.step()
            loop.step()
        out[name] = max((a - b).abs().max().item() for a, b in zip(fused_params, loop_params))
        assert max((a - s).abs().max().item() for a, s in zip(fused_params, start)) > 0.01  # it moved
    assert max(out.values()) < 1e-6, out
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        _make_optimizer(start, TrainConfig(epochs=1, optimizer="sgd"))

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

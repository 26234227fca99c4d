"""The weighted domain sampler: target share per batch and overall, seeding, edge cases."""

import numpy as np
import pytest

from asdlab.train.samplers import DomainBatchSampler

IS_TARGET = np.array([False] * 120 + [True] * 6)   # one factory-course machine: 120 source + 6 target


def test_share_is_20_percent_over_many_batches_and_6_or_7_of_32_in_each():
    s = DomainBatchSampler(IS_TARGET, 0.2)
    rng = np.random.default_rng(0)
    counts = np.array([IS_TARGET[s.draw(32, rng)].sum() for _ in range(5000)])
    assert set(counts) == {6, 7}                        # floor(6.4) or one more
    assert counts.mean() / 32 == pytest.approx(0.2, abs=0.002)   # expectation 6.4 (sd of the mean 0.007)
    assert (counts == 7).mean() == pytest.approx(0.4, abs=0.03)


def test_integer_share_is_exact_in_every_batch():
    s = DomainBatchSampler(IS_TARGET, 0.2)
    rng = np.random.default_rng(1)
    assert all(IS_TARGET[s.draw(10, rng)].sum() == 2 for _ in range(200))
    assert all(IS_TARGET[s.draw(5, rng)].sum() == 1 for _ in range(200))


def test_indices_valid_and_without_repeats_while_possible():
    s = DomainBatchSampler(IS_TARGET, 0.2)
    rng = np.random.default_rng(2)
    b = s.draw(30, rng)                                 # 6 target = all of them, 24 of 120 source
    assert b.dtype == np.int64 and len(b) == 30 and len(set(b.tolist())) == 30
    assert set(b[IS_TARGET[b]].tolist()) == set(range(120, 126))
    b = DomainBatchSampler(IS_TARGET, 0.5).draw(32, rng)   # 16 target draws from 6 clips: repeats
    assert IS_TARGET[b].sum() == 16 and set(b[IS_TARGET[b]].tolist()) <= set(range(120, 126))
    assert not np.all(np.diff(b) > 0)                   # shuffled, not source-then-target


def test_same_seed_same_batches():
    s = DomainBatchSampler(IS_TARGET, 0.2)
    a = [s.draw(32, r) for r in [np.random.default_rng(7)] for _ in range(20)]
    b = [s.draw(32, r) for r in [np.random.default_rng(7)] for _ in range(20)]
    c = [s.draw(32, r) for r in [np.random.default_rng(8)] for _ in range(20)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_edge_cases_and_errors():
    rng = np.random.default_rng(3)
    assert not IS_TARGET[DomainBatchSampler(IS_TARGET, 0.0).draw(32, rng)].any()
    assert IS_TARGET[DomainBatchSampler(IS_TARGET, 1.0).draw(8, rng)].all()
    only_source = np.zeros(10, bool)
    assert len(DomainBatchSampler(only_source, 0.2).draw(16, rng)) == 16   # no target clips: source only
    only_target = np.ones(4, bool)
    b = DomainBatchSampler(only_target, 0.2).draw(8, rng)             # no source clips: target only
    assert len(b) == 8 and set(b.tolist()) <= {0, 1, 2, 3}
    with pytest.raises(ValueError, match="target_fraction must lie in \\[0, 1\\]"):
        DomainBatchSampler(IS_TARGET, 1.5)
    with pytest.raises(ValueError, match="non-empty 1-D boolean"):
        DomainBatchSampler(np.zeros((2, 2), bool))
    with pytest.raises(ValueError, match="batch_size must be positive"):
        DomainBatchSampler(IS_TARGET).draw(0, rng)

"""lessons_lib.train.length_batches: a partition of the items into batches of similar length."""

from __future__ import annotations

import numpy as np
import pytest

from lessons_lib import train


def by_definition(lengths, batch_size, rng=None, indices=None, jitter=8.0):
    """Sort (with jitter) and cut, written out with Python lists."""
    lengths = list(lengths)
    indices = list(range(len(lengths))) if indices is None else list(indices)
    noise = [0.0] * len(indices) if rng is None else list(rng.uniform(0, jitter, len(indices)))
    order = [i for _, _, i in sorted((lengths[i] + u, k, i) for k, (i, u) in enumerate(zip(indices, noise)))]
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    if rng is not None:
        permutation = rng.permutation(len(batches))  # what Generator.shuffle of a list does
        batches = [batches[p] for p in permutation]
    return batches


@pytest.mark.parametrize("n, batch_size", [(1, 1), (1, 32), (10, 3), (101, 32), (64, 64)])
@pytest.mark.parametrize("seed", [None, 0, 7])
def test_equals_the_definition_and_partitions_the_items(n, batch_size, seed):
    lengths = np.random.default_rng(n).integers(20, 200, n)
    rng = None if seed is None else np.random.default_rng(seed)
    ref_rng = None if seed is None else np.random.default_rng(seed)
    ours = train.length_batches(lengths, batch_size, rng)
    assert [b.tolist() for b in ours] == by_definition(lengths, batch_size, ref_rng)
    assert sorted(np.concatenate(ours).tolist()) == list(range(n))
    assert all(len(b) == batch_size for b in ours[:-1] if seed is None)


def test_without_rng_batches_are_sorted_by_length_and_repeatable():
    lengths = np.random.default_rng(3).integers(20, 200, 50)
    batches = train.length_batches(lengths, 8)
    flat = np.concatenate(batches)
    assert np.all(np.diff(lengths[flat]) >= 0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, train.length_batches(lengths, 8)))


def test_jitter_keeps_batches_of_similar_length():
    lengths = np.arange(0, 1000, 10)  # items 10 apart: a jitter below 10 cannot reorder them
    for seed in range(5):
        batches = train.length_batches(lengths, 10, np.random.default_rng(seed), jitter=9.9)
        assert sorted(tuple(b) for b in batches) == [tuple(range(k, k + 10)) for k in range(0, 100, 10)]


def test_indices_select_the_items_to_batch():
    lengths = np.array([50, 10, 40, 20, 30, 60])
    rng, ref_rng = np.random.default_rng(1), np.random.default_rng(1)
    ours = train.length_batches(lengths, 2, rng, indices=[0, 2, 4, 5])
    assert [b.tolist() for b in ours] == by_definition(lengths, 2, ref_rng, indices=[0, 2, 4, 5])
    assert sorted(np.concatenate(ours).tolist()) == [0, 2, 4, 5]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lengths=[], batch_size=2), ValueError, "lengths must be a non-empty 1-D"),
        (dict(lengths=[[1, 2]], batch_size=2), ValueError, "lengths must be a non-empty 1-D"),
        (dict(lengths=[1, 2], batch_size=0), ValueError, "batch_size"),
        (dict(lengths=[1, 2], batch_size=1.5), TypeError, "batch_size"),
        (dict(lengths=[1, 2], batch_size=1, jitter=-1.0), ValueError, "jitter must be >= 0"),
        (dict(lengths=[1, 2], batch_size=1, rng=0), TypeError, "rng must be a numpy.random.Generator"),
        (dict(lengths=[1, 2], batch_size=1, indices=[2]), ValueError, "indices must lie in 0..1"),
        (dict(lengths=[1, 2], batch_size=1, indices=[]), ValueError, "indices must be a non-empty"),
        (dict(lengths=[1, 2], batch_size=1, indices=[0.5]), ValueError, "indices must be a non-empty 1-D array of ints"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        train.length_batches(**kwargs)

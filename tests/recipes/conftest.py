"""Fixtures shared by the recipes' tests."""

from __future__ import annotations

import contextlib

import pytest
import torch

from lessons_lib import data
from lessons_lib.recipes import cnn_fsdd


@contextlib.contextmanager
def prepared(recipe, real_fsdd, config=None):
    """``recipe.prepare(config)`` (default: quick mode) on the real FSDD, the recipe's cache cleared before and after.

    Every recipe keeps its prepared data in an ``lru_cache`` (``recipe._prepare``); a test must
    neither find another test's data there nor leave its own behind.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "load_fsdd", lambda *args, **kwargs: real_fsdd)
        recipe._prepare.cache_clear()
        try:
            yield recipe.prepare(recipe.CONFIGS["quick"] if config is None else config)
        finally:
            recipe._prepare.cache_clear()


@pytest.fixture(scope="module")
def windows(real_fsdd):
    """cnn_fsdd's data (every recording in its window), prepared from the real FSDD and not left in its cache.

    The recipes that read FSDD in fixed windows (``cnn_fsdd``, ``ast_fsdd``) share it.
    """
    with prepared(cnn_fsdd, real_fsdd) as d:
        yield d


def assert_reproducible_and_resumable(recipe, config, d, items, path):
    """Train ``recipe`` twice, then stop after one epoch and resume: the same weights and losses every time.

    ``config`` must ask for 2 epochs. Checks that ``fit`` left torch's global random state alone,
    that a time budget stops the first run after its first epoch, and that the resumed run ends
    where the uninterrupted one did. Returns the first model.
    """
    state = torch.get_rng_state()
    first, h1 = recipe.train(config, d, items, device="cpu", progress=False)
    second, _ = recipe.train(config, d, items, device="cpu", progress=False)
    assert torch.equal(torch.get_rng_state(), state)  # fit forked the random state
    _, h2 = recipe.train(config, d, items, device="cpu", progress=False, checkpoint=path, time_budget=1e-6)
    assert h2.epochs == 1 and h2.stopped
    resumed, h3 = recipe.train(config, d, items, device="cpu", progress=False, checkpoint=path, resume=True)
    assert h3.epochs == 2 and h3.loss == h1.loss
    for key, value in first.state_dict().items():
        assert torch.equal(value, second.state_dict()[key]), key
        assert torch.equal(value, resumed.state_dict()[key]), key
    return first

"""Fixtures shared by the recipes' tests."""

from __future__ import annotations

import pytest

from lessons_lib import data
from lessons_lib.recipes import cnn_fsdd


@pytest.fixture(scope="module")
def windows(real_fsdd):
    """cnn_fsdd's data (every recording in its window), prepared from the real FSDD and not left in its cache.

    The recipes that read FSDD in fixed windows (``cnn_fsdd``, ``ast_fsdd``) share it.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(data, "load_fsdd", lambda *args, **kwargs: real_fsdd)
        cnn_fsdd._prepare.cache_clear()
        try:
            yield cnn_fsdd.prepare(cnn_fsdd.CONFIGS["quick"])
        finally:
            cnn_fsdd._prepare.cache_clear()

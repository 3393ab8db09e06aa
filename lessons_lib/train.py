"""Helpers for training networks on speech: batches of recordings of similar length.

Recordings differ in length, and a batch is padded to its longest member. Sorting
by length before cutting the batches keeps the padding small; a little random
jitter on the lengths and a shuffle of whole batches make every epoch's batches
and their order differ, while a batch still holds recordings of nearly equal
length.

Chapter: ``notebooks/04b_rnn_bptt_lstm.ipynb`` (first used), ``notebooks/04c_lstm_digits.ipynb``
and ``notebooks/05b_ctc_digits.ipynb``.
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int, real_number

__all__ = ["length_batches"]


def length_batches(lengths, batch_size: int, rng: np.random.Generator | None = None, *,
                   indices=None, jitter: float = 8.0) -> list[np.ndarray]:
    """Cut items into batches of similar length; shuffled for training when an ``rng`` is given.

    The items are sorted by :math:`\\ell_i + u_i`, with :math:`u_i \\sim \\mathcal U(0,
    \\text{jitter})` drawn from ``rng`` (:math:`u_i = 0` without one), cut into consecutive
    batches of ``batch_size`` (the last may be smaller), and, with ``rng``, the list of
    batches is shuffled.

    Parameters
    ----------
    lengths : array_like of int, shape (n_items,)
        The length of every item (frames, samples, steps).
    batch_size : int
        Items per batch.
    rng : numpy.random.Generator, optional
        For the jitter and the shuffle. ``None``: sorted by length, no randomness
        (for evaluation).
    indices : array_like of int, optional
        Batch only these items (e.g. a training split); the batches then hold these
        indices. Default: every item, ``0 .. n_items - 1``.
    jitter : float, default 8.0
        The width of the uniform noise added to the lengths before sorting, in the
        units of ``lengths``.

    Returns
    -------
    list of ndarray of int
        The batches; together they hold every index exactly once.

    Raises
    ------
    ValueError
        If ``lengths`` is not 1-D, ``indices`` is empty or out of range, or
        ``batch_size`` or ``jitter`` is invalid.
    TypeError
        If ``rng`` is not a numpy Generator.

    Examples
    --------
    >>> length_batches([5, 1, 4, 2, 3], 2)
    [array([1, 3]), array([4, 2]), array([0])]
    >>> length_batches([5, 1, 4, 2, 3], 2, indices=[0, 2, 4])
    [array([4, 2]), array([0])]
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or not np.issubdtype(lengths.dtype, np.number):
        raise ValueError(f"lengths must be a non-empty 1-D array of numbers, got shape {lengths.shape}")
    batch_size = positive_int(batch_size, "batch_size")
    jitter = real_number(jitter, "jitter")
    if jitter < 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    if indices is None:
        indices = np.arange(lengths.size)
    else:
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"indices must be a non-empty 1-D array of ints, got {indices.dtype} {indices.shape}")
        if indices.min() < 0 or indices.max() >= lengths.size:
            raise ValueError(f"indices must lie in 0..{lengths.size - 1}, got {indices.min()}..{indices.max()}")
    noise = 0 if rng is None else rng.uniform(0, jitter, indices.size)
    order = indices[np.argsort(lengths[indices] + noise, kind="stable")]
    batches = [order[i : i + batch_size] for i in range(0, order.size, batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches

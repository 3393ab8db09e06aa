"""Connectionist temporal classification (CTC): paths, the loss and its gradient, decoding and alignment.

A recogniser that emits one distribution per frame, :math:`y^t_k` for frames
:math:`t = 1..T` and classes :math:`k` (the labels plus a *blank*), must be
trained from transcripts :math:`l = (l_1, \\dots, l_S)` that say nothing about
which frame holds which label. CTC sums over every frame-level labelling
(*path*) :math:`\\pi` of length :math:`T` that the collapse function
:math:`\\mathcal{B}` maps onto :math:`l` (merge repeats, then drop blanks):

.. math:: p(l \\mid x) = \\sum_{\\pi \\in \\mathcal{B}^{-1}(l)} \\prod_{t=1}^{T} y^t_{\\pi_t}.

The sum has exponentially many terms, but the paths share prefixes and
suffixes: on the extended label sequence :math:`l'` (a blank before, between
and after the labels, :math:`2S + 1` states) they form a left-to-right HMM
whose emissions are the network's outputs, and the forward (:math:`\\alpha`)
and backward (:math:`\\beta`) recursions of Chapter 3 compute it in
:math:`O(T S)`. Everything is kept in log space.

Two implementations of the loss share the argument conventions of
``torch.nn.functional.ctc_loss`` (``log_probs`` of shape ``(T, N, C)``, time
first; padded ``(N, S)`` or concatenated targets; ``input_lengths``,
``target_lengths``, ``blank``, ``reduction``, ``zero_infinity``):
:func:`ctc_loss` in NumPy, which returns the loss *and* its gradient with
respect to the logits, written out from the single-sequence recursions; and
:func:`ctc_loss_torch`, batched over sequences with a Python loop over time
only, differentiable, used to train the recogniser on CPU or GPU.
Decoding: :func:`greedy_decode` (best path) and :func:`prefix_beam_search`;
alignment: :func:`forced_align` (Viterbi over the CTC trellis). The error
rates that score the recogniser are in :mod:`lessons_lib.metrics`
(:func:`~lessons_lib.metrics.edit_distance`, :func:`~lessons_lib.metrics.error_rate`).

Shapes: single-sequence functions take ``log_probs`` of shape ``(T, C)``
(time first, as the frames of every other chapter) and a 1-D integer target.

Chapter: ``notebooks/05a_ctc_algorithms.ipynb`` (paths, loss, gradient,
decoding) and ``notebooks/05b_ctc_digits.ipynb`` (the connected-digit recogniser).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._checks import positive_int

__all__ = [
    "extend_target",
    "collapse",
    "min_input_length",
    "count_paths",
    "enumerate_paths",
    "path_log_prob",
    "ctc_forward",
    "ctc_backward",
    "ctc_log_likelihood",
    "ctc_posteriors",
    "ctc_loss",
    "ctc_loss_torch",
    "greedy_decode",
    "prefix_beam_search",
    "forced_align",
    "path_segments",
]

_REDUCTIONS = ("none", "mean", "sum")
_NORMALISATION_TOL = 1e-3  # |logsumexp_k log_probs[t, k]| allowed: float32 softmax outputs pass easily


# --------------------------------------------------------------------------- input checks


def _int_sequence(value, name: str, *, ndim: int | tuple = 1) -> np.ndarray:
    """An integer array (from a list, tuple, ndarray or tensor) of the given rank."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or arr.size == 0):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype}")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in ndims)}, got shape {arr.shape}")
    return arr.astype(np.int64)


def _check_blank(blank, n_classes: int) -> int:
    if isinstance(blank, bool) or not isinstance(blank, (int, np.integer)):
        raise TypeError(f"blank must be an int class index, got {type(blank).__name__}")
    if not 0 <= blank < n_classes:
        raise ValueError(f"blank must be a class index in [0, {n_classes}), got {blank}")
    return int(blank)


def _check_target(target, blank: int, n_classes: int | None, name: str = "target") -> np.ndarray:
    target = _int_sequence(target, name)
    if n_classes is not None:
        outside = target[(target < 0) | (target >= n_classes)]
        if outside.size:
            raise ValueError(f"{name} holds class indices outside [0, {n_classes}): {np.unique(outside).tolist()}")
    if np.any(target == blank):
        raise ValueError(f"{name} must not contain the blank index {blank}")
    return target


def _check_single(log_probs, target, blank):
    """Validate one sequence: log_probs (T, C) float, target (S,) ints without the blank."""
    if isinstance(log_probs, torch.Tensor):
        log_probs = log_probs.detach().cpu().numpy()
    if not isinstance(log_probs, np.ndarray):
        raise TypeError(f"log_probs must be a numpy array of shape (T, C), got {type(log_probs).__name__}")
    if not np.issubdtype(log_probs.dtype, np.floating):
        raise TypeError(f"log_probs must hold floats, got dtype {log_probs.dtype}")
    if log_probs.ndim != 2 or log_probs.shape[0] == 0 or log_probs.shape[1] < 2:
        raise ValueError(f"log_probs must have shape (T, C) with T >= 1 and C >= 2, got {log_probs.shape}")
    log_probs = log_probs.astype(np.float64)
    if np.any(np.isnan(log_probs)) or np.any(log_probs == np.inf):
        raise ValueError("log_probs contains NaN or +inf")
    blank = _check_blank(blank, log_probs.shape[1])
    target = _check_target(target, blank, log_probs.shape[1])
    return log_probs, target, blank


def _check_normalised(worst: float) -> None:
    """worst: the largest |logsumexp over classes| of the frames that count; it must be ~0.

    NaN or +inf anywhere in a frame makes its log-sum NaN or +inf, so one
    reduction over the frames also finds them.
    """
    if math.isnan(worst) or worst == math.inf:
        raise ValueError("log_probs contains NaN or +inf, or a frame whose log-probabilities are all -inf")
    if worst > _NORMALISATION_TOL:
        raise ValueError(
            "log_probs must be log-probabilities over the class axis (apply log_softmax to the logits): "
            f"logsumexp over classes is {worst:.3g} away from 0 at some frame"
        )


def _check_batch(shape, targets, input_lengths, target_lengths, blank, reduction):
    """Validate the torch-style batch arguments.

    Returns padded targets (N, max(target_lengths)) with the blank after each
    sequence's end, input_lengths, target_lengths (int64 NumPy) and the blank.
    """
    if len(shape) != 3:
        raise ValueError(f"log_probs must have shape (T, N, C), got {tuple(shape)}")
    T, N, C = shape
    if T == 0 or N == 0 or C < 2:
        raise ValueError(f"log_probs must have shape (T, N, C) with T, N >= 1 and C >= 2, got {tuple(shape)}")
    blank = _check_blank(blank, C)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    input_lengths = _int_sequence(input_lengths, "input_lengths")
    target_lengths = _int_sequence(target_lengths, "target_lengths")
    for name, lengths in (("input_lengths", input_lengths), ("target_lengths", target_lengths)):
        if lengths.shape != (N,):
            raise ValueError(f"{name} must have shape (N,) = ({N},), got {lengths.shape}")
        if np.any(lengths < 0):
            raise ValueError(f"{name} must be >= 0, got {lengths.tolist()}")
    if np.any(input_lengths > T):
        raise ValueError(
            f"input_lengths must be at most T = {T} (the length of log_probs), got {input_lengths.tolist()}"
        )
    targets = _int_sequence(targets, "targets", ndim=(1, 2))
    longest = int(target_lengths.max())
    if targets.ndim == 2:
        if targets.shape[0] != N:
            raise ValueError(f"padded targets must have shape (N, S) with N = {N}, got {targets.shape}")
        if longest > targets.shape[1]:
            raise ValueError(
                f"target_lengths must be at most S = {targets.shape[1]} (the width of targets), "
                f"got {target_lengths.tolist()}"
            )
        padded = targets[:, :longest]
    else:
        if target_lengths.sum() != targets.shape[0]:
            raise ValueError(
                f"concatenated targets: target_lengths must sum to len(targets) = {targets.shape[0]}, "
                f"got sum {int(target_lengths.sum())}"
            )
        padded = np.full((N, longest), blank, dtype=np.int64)
        padded[np.arange(longest)[None, :] < target_lengths[:, None]] = targets
    in_target = np.arange(longest)[None, :] < target_lengths[:, None]   # (N, S): the labels that count
    _check_target(padded[in_target], blank, C, name="targets")
    padded = np.where(in_target, padded, blank)
    return padded, input_lengths, target_lengths, blank


# --------------------------------------------------------------------------- paths


def extend_target(target, blank: int = 0) -> np.ndarray:
    """The extended label sequence :math:`l'`: a blank before, between and after the labels.

    .. math:: l' = (\\varnothing, l_1, \\varnothing, l_2, \\dots, l_S, \\varnothing), \\qquad |l'| = 2S + 1.

    Its positions are the states of the CTC trellis: even positions are blanks,
    position :math:`2i - 1` is label :math:`l_i`.

    Parameters
    ----------
    target : array_like of int, shape (S,)
        The label sequence, without blanks.
    blank : int, default 0
        The blank's class index.

    Returns
    -------
    ndarray of int64, shape (2S + 1,)

    Raises
    ------
    ValueError
        If ``target`` contains the blank or is not 1-D.

    Examples
    --------
    >>> extend_target([3, 3, 5]).tolist()
    [0, 3, 0, 3, 0, 5, 0]
    """
    blank = _check_blank(blank, np.iinfo(np.int64).max)
    target = _check_target(target, blank, None)
    extended = np.full(2 * target.size + 1, blank, dtype=np.int64)
    extended[1::2] = target
    return extended


def collapse(path, blank: int = 0) -> np.ndarray:
    """The collapse function :math:`\\mathcal{B}`: merge consecutive repeats, then remove the blanks.

    Repeats are merged *before* blanks are removed, so a blank between two equal
    labels keeps them apart: :math:`\\mathcal{B}(a\\,a\\,\\varnothing\\,a) = a\\,a`
    while :math:`\\mathcal{B}(a\\,a\\,a) = a`.

    Parameters
    ----------
    path : array_like of int, shape (T,)
        A frame-level labelling (classes, blanks included).
    blank : int, default 0

    Returns
    -------
    ndarray of int64, shape (S,)

    Examples
    --------
    >>> collapse([1, 1, 0, 1, 2, 2]).tolist()
    [1, 1, 2]
    >>> collapse([0, 0, 0]).tolist()
    []
    """
    path = _int_sequence(path, "path")
    blank = _check_blank(blank, np.iinfo(np.int64).max)
    if path.size == 0:
        return path
    first_of_run = np.ones(path.size, dtype=bool)
    first_of_run[1:] = path[1:] != path[:-1]
    merged = path[first_of_run]
    return merged[merged != blank]


def min_input_length(target) -> int:
    """The fewest frames that can carry ``target``: :math:`S` plus the number of repeated neighbours.

    Each label needs a frame, and two equal neighbours need a blank frame between
    them (otherwise :math:`\\mathcal{B}` merges them), so
    :math:`T_{\\min} = S + |\\{i : l_i = l_{i+1}\\}|`.

    Parameters
    ----------
    target : array_like of int, shape (S,)

    Returns
    -------
    int

    Examples
    --------
    >>> min_input_length([1, 1, 2]), min_input_length([1, 2, 3]), min_input_length([])
    (4, 3, 0)
    """
    target = _int_sequence(target, "target")
    return int(target.size + np.count_nonzero(target[1:] == target[:-1]))


def _can_skip(extended: np.ndarray, blank: int) -> np.ndarray:
    """can_skip[s]: state s may be entered from s - 2 (a label different from the label two states back)."""
    skip = np.zeros(extended.size, dtype=bool)
    skip[2:] = (extended[2:] != blank) & (extended[2:] != extended[:-2])
    return skip


def _path_counts(T: int, extended: np.ndarray, skip: np.ndarray, *, from_end: bool):
    """Exact path counts (Python ints) per trellis state: prefixes reaching s at t, or suffixes leaving it."""
    L = extended.size
    counts = np.zeros((T, L), dtype=object)
    if from_end:
        counts[T - 1, L - 1] = 1
        if L > 1:
            counts[T - 1, L - 2] = 1
        for t in range(T - 2, -1, -1):
            nxt = counts[t + 1]
            counts[t] = nxt.copy()
            counts[t, :-1] += nxt[1:]
            counts[t, :-2] += np.where(skip[2:], nxt[2:], 0)
    else:
        counts[0, : min(2, L)] = 1
        for t in range(1, T):
            prev = counts[t - 1]
            counts[t] = prev.copy()
            counts[t, 1:] += prev[:-1]
            counts[t, 2:] += np.where(skip[2:], prev[:-2], 0)
    return counts


def count_paths(T: int, target) -> int:
    """The number of paths of length ``T`` that collapse to ``target``, counted exactly.

    The forward recursion with every :math:`y^t_k = 1`: the number of ways to
    reach state :math:`s` at frame :math:`t` is the sum of the ways to reach its
    allowed predecessors (:math:`s`, :math:`s-1`, and :math:`s-2` across a blank
    between different labels) at :math:`t-1`.

    Parameters
    ----------
    T : int
        Path length (frames), at least 1.
    target : array_like of int, shape (S,)
        Labels; the blank's index does not matter (it must only differ from them).

    Returns
    -------
    int
        Exact (Python integer, no overflow); 0 when ``T < min_input_length(target)``.

    Examples
    --------
    >>> count_paths(3, [1]), count_paths(3, [1, 1]), count_paths(4, [1, 1])   # e.g. a-a only as "a blank a"
    (6, 1, 5)
    """
    T = positive_int(T, "T")
    target = _int_sequence(target, "target")
    blank = -1  # a placeholder index different from every label
    extended = np.full(2 * target.size + 1, blank, dtype=np.int64)
    extended[1::2] = target
    counts = _path_counts(T, extended, _can_skip(extended, blank), from_end=False)
    return int(counts[T - 1, -1] + (counts[T - 1, -2] if extended.size > 1 else 0))


def enumerate_paths(T: int, target, blank: int = 0, *, max_paths: int = 1_000_000) -> np.ndarray:
    """Every path of length ``T`` that collapses to ``target`` (brute force, for small cases).

    Walks the trellis depth first, keeping only states from which the end can
    still be reached, so it costs time proportional to the number of valid
    paths, not to :math:`C^T`.

    Parameters
    ----------
    T : int
        Path length.
    target : array_like of int, shape (S,)
    blank : int, default 0
    max_paths : int, default 1_000_000
        Refuse to build more rows than this.

    Returns
    -------
    ndarray of int64, shape (count_paths(T, target), T)
        One path per row, ordered lexicographically by their state sequences.

    Raises
    ------
    ValueError
        If there are more than ``max_paths`` paths.

    Examples
    --------
    >>> enumerate_paths(3, [1]).tolist()   # states of l' = (blank, 1, blank): 001, 011, 012, 111, 112, 122
    [[0, 0, 1], [0, 1, 1], [0, 1, 0], [1, 1, 1], [1, 1, 0], [1, 0, 0]]
    """
    T = positive_int(T, "T")
    max_paths = positive_int(max_paths, "max_paths")
    extended = extend_target(target, blank)
    total = count_paths(T, extended[1::2])
    if total > max_paths:
        raise ValueError(f"there are {total} paths of length T = {T}, more than max_paths = {max_paths}")
    L = extended.size
    skip = _can_skip(extended, blank)
    reachable_end = _path_counts(T, extended, skip, from_end=True) > 0  # (T, L): the end is reachable from (t, s)
    states = np.empty((total, T), dtype=np.int64)
    row = 0
    stack = [[s] for s in range(min(2, L) - 1, -1, -1) if reachable_end[0, s]]
    while stack:
        seq = stack.pop()
        t, s = len(seq) - 1, seq[-1]
        if t == T - 1:
            states[row] = seq
            row += 1
            continue
        successors = [s, s + 1] + ([s + 2] if s + 2 < L and skip[s + 2] else [])
        for nxt in reversed(successors):
            if nxt < L and reachable_end[t + 1, nxt]:
                stack.append(seq + [nxt])
    return extended[states]


def path_log_prob(log_probs, path) -> float:
    """The log-probability of one path: :math:`\\log p(\\pi \\mid x) = \\sum_t \\log y^t_{\\pi_t}`.

    Frames are conditionally independent given the input, so a path's
    probability is the product of the per-frame probabilities of its classes.

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
        Per-frame log-probabilities.
    path : array_like of int, shape (T,)

    Returns
    -------
    float

    Examples
    --------
    >>> log_probs = np.log(np.array([[0.5, 0.5], [0.1, 0.9]]))
    >>> round(float(np.exp(path_log_prob(log_probs, [0, 1]))), 2)
    0.45
    """
    log_probs, _, _ = _check_single(log_probs, [], 0)
    path = _int_sequence(path, "path")
    if path.shape != (log_probs.shape[0],):
        raise ValueError(f"path must have shape (T,) = ({log_probs.shape[0]},), got {path.shape}")
    if path.size and (path.min() < 0 or path.max() >= log_probs.shape[1]):
        raise ValueError(f"path holds class indices outside [0, {log_probs.shape[1]})")
    return float(log_probs[np.arange(path.size), path].sum())


# --------------------------------------------------------------------------- forward-backward (NumPy)


def _trellis(log_probs: np.ndarray, target: np.ndarray, blank: int):
    """The states l' (L,), their emissions log y^t_{l'_s} (T, L), and the log-penalty of entering s from s - 2."""
    extended = extend_target(target, blank)
    return extended, log_probs[:, extended], np.where(_can_skip(extended, blank), 0.0, -np.inf)


def _predecessors(prev: np.ndarray, skip_penalty: np.ndarray) -> np.ndarray:
    """(3, L): what state s can come from at the previous frame: s itself, s - 1, and s - 2 where allowed."""
    L = prev.size
    return np.stack((
        prev,
        np.concatenate(([-np.inf], prev[:-1])),
        np.concatenate(([-np.inf, -np.inf], prev[:-2]))[:L] + skip_penalty,
    ))


def ctc_forward(log_probs, target, blank: int = 0) -> np.ndarray:
    """The forward variables :math:`\\log \\alpha_t(s)` of the CTC trellis.

    :math:`\\alpha_t(s)` is the total probability of the path prefixes
    :math:`\\pi_1 \\dots \\pi_t` that collapse to the first labels of
    :math:`l` and are in state :math:`s` of :math:`l'` at frame :math:`t`,
    including the emission at :math:`t` (whether the remaining frames suffice
    to finish :math:`l` is :math:`\\beta`'s business):

    .. math::

        \\alpha_1(1) = y^1_{\\varnothing}, \\quad \\alpha_1(2) = y^1_{l_1}, \\quad
        \\alpha_t(s) = \\Big(\\alpha_{t-1}(s) + \\alpha_{t-1}(s-1)
            + [\\,l'_s \\ne \\varnothing,\\ l'_s \\ne l'_{s-2}\\,]\\, \\alpha_{t-1}(s-2)\\Big)\\, y^t_{l'_s}

    (states counted from 1 in the equation, from 0 in the array). A path may
    start with the first label, not only with a blank, and may skip a blank
    only between two *different* labels.

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
        Per-frame log-probabilities (log_softmax outputs).
    target : array_like of int, shape (S,)
        Labels, without the blank.
    blank : int, default 0

    Returns
    -------
    log_alpha : ndarray, shape (T, 2S + 1)
        ``-inf`` where a state cannot be reached; never NaN.
        :math:`\\log p(l \\mid x)` is the log-sum of the last two entries of
        the last row.

    Raises
    ------
    ValueError
        If ``target`` contains the blank, or ``log_probs`` has the wrong shape or NaN.

    Examples
    --------
    >>> log_probs = np.log(np.full((2, 2), 0.5))     # 2 frames, classes {blank, a}
    >>> np.round(np.exp(ctc_forward(log_probs, [1])), 3)   # states (blank, a, blank)
    array([[0.5 , 0.5 , 0.  ],
           [0.25, 0.5 , 0.25]])
    """
    log_probs, target, blank = _check_single(log_probs, target, blank)
    extended, emit, skip_penalty = _trellis(log_probs, target, blank)  # emit[t, s] = log y^t_{l'_s}
    T, L = emit.shape
    log_alpha = np.full((T, L), -np.inf)
    log_alpha[0, : min(2, L)] = emit[0, : min(2, L)]
    for t in range(1, T):
        log_alpha[t] = np.logaddexp.reduce(_predecessors(log_alpha[t - 1], skip_penalty), axis=0) + emit[t]
    return log_alpha


def ctc_backward(log_probs, target, blank: int = 0) -> np.ndarray:
    """The backward variables :math:`\\log \\beta_t(s)` of the CTC trellis.

    :math:`\\beta_t(s)` is the total probability of the path suffixes
    :math:`\\pi_{t+1} \\dots \\pi_T` that complete a valid path from state
    :math:`s` at frame :math:`t`, *excluding* the emission at :math:`t` (the
    HMM convention of Chapter 3), so that :math:`\\alpha_t(s)\\beta_t(s)` is the
    probability of all valid paths through :math:`s` at :math:`t`:

    .. math::

        \\beta_T(2S+1) = \\beta_T(2S) = 1, \\quad
        \\beta_t(s) = \\beta_{t+1}(s)\\, y^{t+1}_{l'_s} + \\beta_{t+1}(s+1)\\, y^{t+1}_{l'_{s+1}}
            + [\\,l'_{s+2} \\ne \\varnothing,\\ l'_{s+2} \\ne l'_s\\,]\\, \\beta_{t+1}(s+2)\\, y^{t+1}_{l'_{s+2}},

    and :math:`\\sum_s \\alpha_t(s)\\beta_t(s) = p(l \\mid x)` at every :math:`t`.
    (Graves et al. 2006 and torch's internal ``log_beta`` include the emission
    at :math:`t`: theirs is :math:`\\beta_t(s)\\, y^t_{l'_s}`.)

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
    target : array_like of int, shape (S,)
    blank : int, default 0

    Returns
    -------
    log_beta : ndarray, shape (T, 2S + 1)
        ``-inf`` where the end cannot be reached; never NaN.

    Examples
    --------
    >>> log_probs = np.log(np.full((2, 2), 0.5))
    >>> np.round(np.exp(ctc_backward(log_probs, [1])), 3)
    array([[0.5, 1. , 0.5],
           [0. , 1. , 1. ]])
    """
    log_probs, target, blank = _check_single(log_probs, target, blank)
    extended, emit, skip_penalty = _trellis(log_probs, target, blank)
    T, L = emit.shape
    log_beta = np.full((T, L), -np.inf)
    log_beta[T - 1, max(L - 2, 0):] = 0.0
    for t in range(T - 2, -1, -1):
        ahead = log_beta[t + 1] + emit[t + 1]  # log beta_{t+1}(s) y^{t+1}_{l'_s}
        to_next_state = np.concatenate((ahead[1:], [-np.inf]))
        to_two_ahead = np.concatenate((ahead[2:] + skip_penalty[2:], [-np.inf, -np.inf]))[:L]
        log_beta[t] = np.logaddexp.reduce((ahead, to_next_state, to_two_ahead), axis=0)
    return log_beta


def _log_likelihood_from_alpha(log_alpha: np.ndarray) -> float:
    last = log_alpha[-1]
    return float(np.logaddexp(last[-1], last[-2]) if last.size > 1 else last[-1])


def ctc_log_likelihood(log_probs, target, blank: int = 0) -> float:
    """:math:`\\log p(l \\mid x)`, the log of the sum over every path that collapses to ``target``.

    .. math:: \\log p(l \\mid x) = \\log\\big(\\alpha_T(2S+1) + \\alpha_T(2S)\\big)

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
    target : array_like of int, shape (S,)
    blank : int, default 0

    Returns
    -------
    float
        ``-inf`` when ``T < min_input_length(target)``.

    Examples
    --------
    >>> log_probs = np.log(np.full((2, 2), 0.5))   # paths for "a": (a, a), (blank, a), (a, blank)
    >>> round(float(np.exp(ctc_log_likelihood(log_probs, [1]))), 3)
    0.75
    """
    return _log_likelihood_from_alpha(ctc_forward(log_probs, target, blank))


def _class_posteriors(log_probs, target, blank):
    """gamma over classes (T, C), or None when the target is infeasible; and log p."""
    log_alpha = ctc_forward(log_probs, target, blank)
    log_beta = ctc_backward(log_probs, target, blank)
    log_p = _log_likelihood_from_alpha(log_alpha)
    if log_p == -np.inf:
        return None, log_p
    gamma = np.zeros(log_probs.shape)
    np.add.at(gamma.T, extend_target(target, blank), np.exp(log_alpha + log_beta - log_p).T)  # states -> classes
    return gamma, log_p


def _check_feasible(T: int, target) -> None:
    if T < min_input_length(target):
        raise ValueError(
            f"target is infeasible: {T} frames cannot carry it (at least {min_input_length(target)} are needed)"
        )


def ctc_posteriors(log_probs, target, blank: int = 0) -> np.ndarray:
    """Per-frame class posteriors under the CTC alignment: :math:`\\gamma_t(k)`.

    .. math:: \\gamma_t(k) = \\frac{1}{p(l \\mid x)} \\sum_{s \\,:\\, l'_s = k} \\alpha_t(s)\\, \\beta_t(s)

    the probability, over the valid paths weighted by their probability, that
    frame :math:`t` carries class :math:`k`. Each row sums to 1. The gradient of
    the loss with respect to the logits is :math:`y^t_k - \\gamma_t(k)`.

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
    target : array_like of int, shape (S,)
    blank : int, default 0

    Returns
    -------
    gamma : ndarray, shape (T, C)

    Raises
    ------
    ValueError
        If no path of length ``T`` collapses to ``target``, or every such path
        has probability 0.

    Examples
    --------
    >>> log_probs = np.log(np.full((2, 2), 0.5))
    >>> np.round(ctc_posteriors(log_probs, [1]), 3)  # "a" on frame 1 in 2 of the 3 paths, equally likely
    array([[0.333, 0.667],
           [0.333, 0.667]])
    """
    log_probs, target, blank = _check_single(log_probs, target, blank)
    _check_feasible(log_probs.shape[0], target)
    gamma, _ = _class_posteriors(log_probs, target, blank)
    if gamma is None:  # feasible, but every valid path has probability 0 (log_probs of -inf)
        raise ValueError("every path that collapses to target has probability 0 under log_probs")
    return gamma


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False):
    """The CTC loss of a batch and its gradient with respect to the logits, in NumPy.

    Per sequence :math:`n` the loss is :math:`-\\log p(l_n \\mid x_n)` over its
    first ``input_lengths[n]`` frames, and the gradient with respect to the
    logits :math:`u` (``log_probs = log_softmax(u)``) is

    .. math:: \\frac{\\partial (-\\log p)}{\\partial u^t_k} = y^t_k - \\gamma_t(k).

    Arguments and reductions are those of ``torch.nn.functional.ctc_loss``:
    ``"none"`` returns each sequence's loss, ``"sum"`` their sum, ``"mean"``
    the batch mean of each loss divided by its target length (at least 1).

    Parameters
    ----------
    log_probs : ndarray, shape (T, N, C)
        Log-probabilities (log_softmax over the class axis), time first.
    targets : ndarray of int, shape (N, S_max) or (sum(target_lengths),)
        Padded targets (row ``n`` holds ``target_lengths[n]`` labels, then
        anything) or all targets concatenated.
    input_lengths, target_lengths : array_like of int, shape (N,)
    blank : int, default 0
    reduction : {"mean", "sum", "none"}
    zero_infinity : bool, default False
        Replace infinite losses (targets the input is too short for) and their
        gradients by zero.

    Returns
    -------
    loss : float, or ndarray of shape (N,) for ``reduction="none"``
    grad : ndarray, shape (T, N, C)
        d(loss)/d(logits), already scaled by the reduction; zero on frames
        beyond ``input_lengths``. It is also what torch reports as the gradient
        with respect to ``log_probs`` (its CTC backward assumes a log_softmax in
        front). An infeasible sequence has loss ``inf`` and a NaN gradient,
        as in torch, unless ``zero_infinity``.

    Raises
    ------
    ValueError
        Targets containing the blank; negative lengths; ``input_lengths > T``;
        ``target_lengths`` longer than the padded targets or not summing to the
        concatenated length; wrong ranks; ``log_probs`` that are not
        normalised log-probabilities or contain NaN; an unknown ``reduction``.
    TypeError
        Non-integer targets or lengths.

    Examples
    --------
    >>> log_probs = np.log(np.full((2, 1, 2), 0.5))
    >>> loss, grad = ctc_loss(log_probs, np.array([[1]]), [2], [1], reduction="sum")
    >>> bool(np.isclose(loss, -np.log(0.75)))   # paths (a, a), (blank, a), (a, blank)
    True
    """
    if not isinstance(log_probs, np.ndarray):
        raise TypeError(f"log_probs must be a numpy array of shape (T, N, C), got {type(log_probs).__name__}")
    if not np.issubdtype(log_probs.dtype, np.floating):
        raise TypeError(f"log_probs must hold floats, got dtype {log_probs.dtype}")
    padded, input_lengths, target_lengths, blank = _check_batch(
        log_probs.shape, targets, input_lengths, target_lengths, blank, reduction)
    log_probs = log_probs.astype(np.float64)
    T, N, _ = log_probs.shape
    valid = np.arange(T)[:, None] < input_lengths[None, :]  # (T, N)
    with np.errstate(invalid="ignore"):
        log_norm = np.logaddexp.reduce(log_probs[valid], axis=-1)
    _check_normalised(float(np.max(np.abs(log_norm), initial=0.0)))

    losses = np.empty(N)
    grad = np.zeros_like(log_probs)
    for n in range(N):
        T_n, target = input_lengths[n], padded[n, : target_lengths[n]]
        if T_n == 0:
            losses[n] = 0.0 if target.size == 0 else np.inf
            continue
        gamma, log_p = _class_posteriors(log_probs[:T_n, n], target, blank)
        losses[n] = -log_p
        grad[:T_n, n] = np.nan if gamma is None else np.exp(log_probs[:T_n, n]) - gamma

    if zero_infinity:
        infinite = np.isinf(losses)
        losses[infinite] = 0.0
        grad[:, infinite] = 0.0
    if reduction == "none":
        return losses, grad
    if reduction == "sum":
        return float(losses.sum()), grad
    scale = 1.0 / (np.maximum(target_lengths, 1) * N)
    return float(np.sum(losses * scale)), grad * scale[None, :, None]


# --------------------------------------------------------------------------- batched torch loss


def _batch_trellis(padded: np.ndarray, blank: int, device):
    """Extended targets (N, 2S+1) of padded targets (blank-padded), and whether state s may be entered from s - 2."""
    N, S = padded.shape
    extended = np.full((N, 2 * S + 1), blank, dtype=np.int64)
    extended[:, 1::2] = padded
    skip = np.zeros(extended.shape, dtype=bool)
    skip[:, 2:] = (extended[:, 2:] != blank) & (extended[:, 2:] != extended[:, :-2])
    return torch.as_tensor(extended, device=device), torch.as_tensor(skip, device=device)


class _CTCLoss(torch.autograd.Function):
    """-log p(l_n | x_n) per sequence; backward gives the exact derivative -gamma w.r.t. log_probs."""

    @staticmethod
    def forward(ctx, log_probs, extended, skip, input_lengths, target_lengths, zero_infinity, need_beta):
        T, N, C = log_probs.shape
        L = extended.shape[1]
        device, dtype = log_probs.device, log_probs.dtype
        neg_inf = torch.tensor(-math.inf, dtype=dtype, device=device)
        batch = torch.arange(N, device=device)
        states = torch.arange(L, device=device)
        n_states = 2 * target_lengths + 1
        in_trellis = states[None, :] < n_states[:, None]                  # (N, L)
        end_states = in_trellis & (states[None, :] >= n_states[:, None] - 2)
        last = (input_lengths - 1).clamp(min=0)
        emit = log_probs.gather(2, extended.unsqueeze(0).expand(T, N, L))  # (T, N, L): log y^t_{l'_s}

        # beta is alpha run backwards. With the frames of sequence n read from T_n - 1 down to 0 and its
        # states from 2S_n down to 0, the backward recursion for beta_t(s) y^t_{l'_s} is the forward one
        # (the skip rule is symmetric), so both run in one loop over a batch of 2N rows.
        if need_beta:
            mirror_t = (last[None, :] - torch.arange(T, device=device)[:, None]).clamp(min=0)  # (T, N)
            mirror_s = torch.where(in_trellis, n_states[:, None] - 1 - states[None, :], states[None, :])
            emit_reversed = emit.gather(0, mirror_t[:, :, None].expand(T, N, L)).gather(
                2, mirror_s.unsqueeze(0).expand(T, N, L))
            # entering s' from s' - 2 in reversed order is entering mirror(s') + 2 from mirror(s') in order
            skip_reversed = skip.gather(1, (mirror_s + 2).clamp(max=L - 1)) & in_trellis & (states[None, :] >= 2)
            emit, skip = torch.cat((emit, emit_reversed), dim=1), torch.cat((skip, skip_reversed), dim=0)
            padding_states = ~in_trellis
            in_trellis = in_trellis.repeat(2, 1)
        rows = emit.shape[1]
        skip_penalty = torch.where(skip, 0.0, neg_inf)                    # entering s from s - 2

        # the forward recursion, with two -inf columns on the left so that s - 1 and s - 2 are plain slices
        buffer = torch.full((T, rows, L + 2), -math.inf, dtype=dtype, device=device)
        buffer[0, :, 2:] = torch.where(in_trellis & (states[None, :] < 2), emit[0], neg_inf)
        here, one_back, two_back = buffer[:, :, 2:].unbind(0), buffer[:, :, 1:-1].unbind(0), buffer[:, :, :-2].unbind(0)
        emit_at = emit.unbind(0)
        for t in range(1, T):
            summed = torch.logaddexp(torch.logaddexp(here[t - 1], one_back[t - 1]), two_back[t - 1] + skip_penalty)
            torch.add(summed, emit_at[t], out=here[t])
        alpha = buffer[:, :N, 2:]

        final = torch.where(end_states, alpha[last, batch], neg_inf)      # alpha at each sequence's last frame
        log_p = torch.logsumexp(final, dim=1)
        log_p = torch.where(input_lengths == 0, torch.where(target_lengths == 0, 0.0, neg_inf), log_p)
        if need_beta:  # back to frames and states in order: beta_t(s) y^t_{l'_s}
            beta_emit = buffer[:, N:, 2:].gather(0, mirror_t[:, :, None].expand(T, N, L)).gather(
                2, mirror_s.unsqueeze(0).expand(T, N, L))
            beta_emit.masked_fill_(padding_states, -math.inf)  # states past 2S_n + 1 are not in the trellis
            ctx.save_for_backward(alpha, beta_emit, emit[:, :N], log_p, extended, input_lengths)
        ctx.zero_infinity = zero_infinity
        ctx.n_classes = C
        return -log_p

    @staticmethod
    def backward(ctx, grad_output):
        alpha, beta_emit, emit, log_p, extended, input_lengths = ctx.saved_tensors
        T, N, L = alpha.shape
        frames = torch.arange(T, device=alpha.device)[:, None, None] < input_lengths[None, :, None]  # (T, N, 1)
        log_gamma = alpha + beta_emit
        log_gamma -= emit                                                  # alpha_t(s) beta_t(s)
        log_gamma -= log_p[None, :, None]                                  # NaN for infeasible sequences
        log_gamma.masked_fill_(emit == -math.inf, -math.inf)               # y = 0: no path through (t, s)
        gamma_states = log_gamma.masked_fill_(~frames, -math.inf).exp_()
        infeasible = torch.isinf(log_p)
        if bool(infeasible.any()):
            gamma_states.masked_fill_(frames & infeasible[None, :, None], 0.0 if ctx.zero_infinity else math.nan)
        gamma = alpha.new_zeros((T, N, ctx.n_classes))
        gamma.scatter_add_(2, extended.unsqueeze(0).expand(T, N, L), gamma_states)
        grad = gamma.mul_(-grad_output[None, :, None])                    # d(-log p)/d log y = -gamma
        return grad, None, None, None, None, None, None


def ctc_loss_torch(log_probs: torch.Tensor, targets, input_lengths, target_lengths, blank: int = 0,
                   reduction: str = "mean", zero_infinity: bool = False) -> torch.Tensor:
    """The CTC loss in torch, batched and differentiable, for training (a Python loop over time only).

    The same recursions as :func:`ctc_forward` and :func:`ctc_backward`, run on
    all sequences of the batch at once (states padded to the longest target,
    each sequence ending at its own ``input_lengths[n]``). The backward
    variables need no second loop: read each sequence's frames backwards and
    its states from last to first, and :math:`\\beta_t(s)\\, y^t_{l'_s}` obeys
    the forward recursion, so :math:`\\alpha` and :math:`\\beta` run together
    as one batch of :math:`2N` rows (only :math:`\\alpha` when no gradient is
    needed). The backward pass uses the forward-backward result directly,

    .. math:: \\frac{\\partial (-\\log p(l \\mid x))}{\\partial \\log y^t_k} = -\\gamma_t(k),

    the exact derivative with respect to ``log_probs``; through a log_softmax
    it becomes :math:`y^t_k - \\gamma_t(k)` on the logits, the same as
    ``F.ctc_loss``. (``F.ctc_loss`` itself returns :math:`y - \\gamma` as its
    gradient with respect to ``log_probs``, correct only when a log_softmax
    precedes it; ours passes ``torch.autograd.gradcheck`` on a leaf. Where a
    class has probability exactly 0 at a frame, ours gives the gradient 0
    there, ``F.ctc_loss`` NaN.)

    Parameters
    ----------
    log_probs : torch.Tensor, shape (T, N, C)
        Log-probabilities (float32 or float64, any device), time first.
    targets : torch.Tensor of int, shape (N, S_max) or (sum(target_lengths),)
    input_lengths, target_lengths : torch.Tensor or sequence of int, shape (N,)
    blank : int, default 0
    reduction : {"mean", "sum", "none"}
    zero_infinity : bool, default False

    Returns
    -------
    torch.Tensor
        Scalar, or shape (N,) for ``reduction="none"``.

    Raises
    ------
    ValueError, TypeError
        As :func:`ctc_loss`.

    Examples
    --------
    >>> import torch.nn.functional as F
    >>> generator = torch.Generator().manual_seed(0)
    >>> log_probs = torch.randn(6, 2, 4, dtype=torch.float64, generator=generator).log_softmax(-1)
    >>> targets, input_lengths, target_lengths = torch.tensor([[1, 2], [3, 3]]), [6, 5], [2, 2]
    >>> ours = ctc_loss_torch(log_probs, targets, input_lengths, target_lengths)
    >>> bool(torch.isclose(ours, F.ctc_loss(log_probs, targets, input_lengths, target_lengths)))
    True
    """
    if not isinstance(log_probs, torch.Tensor):
        raise TypeError(f"log_probs must be a torch.Tensor of shape (T, N, C), got {type(log_probs).__name__}")
    if not log_probs.is_floating_point():
        raise TypeError(f"log_probs must hold floats, got dtype {log_probs.dtype}")
    padded, input_np, target_np, blank = _check_batch(
        tuple(log_probs.shape), targets, input_lengths, target_lengths, blank, reduction)
    device = log_probs.device
    input_lengths = torch.as_tensor(input_np, device=device)
    target_lengths = torch.as_tensor(target_np, device=device)
    with torch.no_grad():
        padding = torch.arange(log_probs.shape[0], device=device)[:, None] >= input_lengths[None, :]
        _check_normalised(float(torch.logsumexp(log_probs, dim=-1).masked_fill_(padding, 0.0).abs().max()))
    extended, skip = _batch_trellis(padded, blank, device)
    need_beta = log_probs.requires_grad and torch.is_grad_enabled()  # beta only serves the gradient
    losses = _CTCLoss.apply(log_probs, extended, skip, input_lengths, target_lengths, bool(zero_infinity), need_beta)
    if zero_infinity:
        losses = torch.where(torch.isinf(losses), torch.zeros_like(losses), losses)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return (losses / target_lengths.clamp(min=1).to(losses.dtype)).mean()


# --------------------------------------------------------------------------- decoding and alignment


def greedy_decode(log_probs, blank: int = 0) -> list:
    """Best-path decoding: the most probable class at every frame, then collapse.

    .. math:: \\hat{l} = \\mathcal{B}\\big(\\arg\\max_k y^1_k, \\dots, \\arg\\max_k y^T_k\\big)

    This is the most probable *path*, not necessarily the most probable
    *labelling* (which sums over paths): see :func:`prefix_beam_search`.

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
    blank : int, default 0

    Returns
    -------
    list of int

    Examples
    --------
    >>> greedy_decode(np.log(np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])))
    [1, 1]
    """
    log_probs, _, blank = _check_single(log_probs, [], blank)
    return collapse(log_probs.argmax(axis=1), blank).tolist()


def _logaddexp(a: float, b: float) -> float:
    """:math:`\\log(e^a + e^b)` of two Python floats, as ``np.logaddexp`` computes it (without its per-call cost)."""
    if a < b:
        a, b = b, a
    if b == -math.inf:
        return a
    return a + math.log1p(math.exp(b - a))


def prefix_beam_search(log_probs, beam_width: int = 8, blank: int = 0) -> list:
    """Prefix beam search: the most probable labellings, each scored by the sum over its paths.

    Paths that collapse to the same prefix are merged as they are extended.
    Each prefix :math:`\\ell` keeps two numbers, the probability of its paths
    ending in a blank, :math:`p_b(\\ell)`, and ending in its last label,
    :math:`p_{nb}(\\ell)`; at each frame

    .. math::

        p_b'(\\ell) &= (p_b(\\ell) + p_{nb}(\\ell))\\, y^t_\\varnothing, \\qquad
        p_{nb}'(\\ell) \\mathrel{+}= p_{nb}(\\ell)\\, y^t_{\\ell_{\\text{last}}}, \\\\
        p_{nb}'(\\ell k) &\\mathrel{+}= \\begin{cases} p_b(\\ell)\\, y^t_k & k = \\ell_{\\text{last}} \\\\
            (p_b(\\ell) + p_{nb}(\\ell))\\, y^t_k & \\text{otherwise,} \\end{cases}

    and only the ``beam_width`` most probable prefixes are kept. Without
    pruning the scores are exact: :math:`p_b + p_{nb} = p(\\ell \\mid x)`.

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
    beam_width : int, default 8
    blank : int, default 0

    Returns
    -------
    list of (tuple of int, float)
        Labellings with their log-probabilities, most probable first, at most
        ``beam_width`` of them; labellings with probability 0 (too long for
        ``T`` frames) are left out.

    Examples
    --------
    >>> log_probs = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))   # best path is blank, blank
    >>> best, log_p = prefix_beam_search(log_probs)[0]
    >>> best, round(float(np.exp(log_p)), 2)                      # but "a" has 0.24 + 0.24 + 0.16
    ((1,), 0.64)
    """
    log_probs, _, blank = _check_single(log_probs, [], blank)
    beam_width = positive_int(beam_width, "beam_width")
    T, C = log_probs.shape
    labels = [k for k in range(C) if k != blank]
    beams = {(): (0.0, -math.inf)}  # prefix -> (log p_b, log p_nb)
    for t in range(T):
        frame = log_probs[t].tolist()  # Python floats: a search over few prefixes is cheaper without NumPy
        grown: dict = {}

        def add(prefix, log_b=-math.inf, log_nb=-math.inf):
            old_b, old_nb = grown.get(prefix, (-math.inf, -math.inf))
            grown[prefix] = (_logaddexp(old_b, log_b), _logaddexp(old_nb, log_nb))

        for prefix, (log_b, log_nb) in beams.items():
            log_total = _logaddexp(log_b, log_nb)
            add(prefix, log_b=log_total + frame[blank])                 # a blank: prefix unchanged
            if prefix:
                add(prefix, log_nb=log_nb + frame[prefix[-1]])          # the last label repeated: merged
            for k in labels:
                if prefix and k == prefix[-1]:
                    add(prefix + (k,), log_nb=log_b + frame[k])         # a repeat needs a blank between
                else:
                    add(prefix + (k,), log_nb=log_total + frame[k])
        scored = sorted(grown.items(), key=lambda item: -_logaddexp(*item[1]))
        beams = dict(scored[:beam_width])
    scored = [(prefix, _logaddexp(*scores)) for prefix, scores in beams.items()]
    return [(prefix, log_p) for prefix, log_p in scored if log_p > -np.inf]  # drop impossible labellings


def forced_align(log_probs, target, blank: int = 0):
    """The most probable path that collapses to ``target``: Viterbi over the CTC trellis.

    The forward recursion with the sum replaced by a maximum,

    .. math:: \\delta_t(s) = \\max\\big(\\delta_{t-1}(s), \\delta_{t-1}(s-1),
              [\\text{skip allowed}]\\, \\delta_{t-1}(s-2)\\big) + \\log y^t_{l'_s},

    then a backtrace from the better of the two final states. It says which
    frames the model assigns to each label.

    Parameters
    ----------
    log_probs : ndarray, shape (T, C)
    target : array_like of int, shape (S,)
    blank : int, default 0

    Returns
    -------
    path : ndarray of int64, shape (T,)
        The class at each frame; ``collapse(path) == target``.
    log_prob : float
        :math:`\\log p(\\pi^* \\mid x)`.

    Raises
    ------
    ValueError
        If ``T < min_input_length(target)`` (no path exists), or every valid
        path has probability 0.

    Examples
    --------
    >>> log_probs = np.log(np.array([[0.7, 0.3], [0.2, 0.8], [0.6, 0.4]]))
    >>> path, log_p = forced_align(log_probs, [1])
    >>> path.tolist(), round(float(np.exp(log_p)), 3)
    ([0, 1, 0], 0.336)
    """
    log_probs, target, blank = _check_single(log_probs, target, blank)
    T = log_probs.shape[0]
    _check_feasible(T, target)
    extended, emit, skip_penalty = _trellis(log_probs, target, blank)
    L = extended.size
    delta = np.full(L, -np.inf)
    delta[: min(2, L)] = emit[0, : min(2, L)]
    back = np.zeros((T, L), dtype=np.int64)  # how many states back the best predecessor is (0, 1 or 2)
    for t in range(1, T):
        candidates = _predecessors(delta, skip_penalty)
        back[t] = candidates.argmax(axis=0)
        delta = candidates.max(axis=0) + emit[t]
    s = L - 1 if L == 1 or delta[L - 1] >= delta[L - 2] else L - 2
    log_prob = float(delta[s])
    if log_prob == -np.inf:
        raise ValueError("every path that collapses to target has probability 0 under log_probs")
    states = np.empty(T, dtype=np.int64)
    for t in range(T - 1, -1, -1):
        states[t] = s
        s -= back[t, s]
    return extended[states], log_prob


def path_segments(path, blank: int = 0) -> list:
    """The frames each emitted label occupies in a path: ``(label, start, end)`` with frames ``[start, end)``.

    A run of one non-blank class is one token; two runs of the same class
    separated by blanks are two tokens, so the labels listed are exactly
    ``collapse(path)``.

    Parameters
    ----------
    path : array_like of int, shape (T,)
    blank : int, default 0

    Returns
    -------
    list of (int, int, int)

    Examples
    --------
    >>> path_segments([0, 3, 3, 0, 0, 3, 5, 0])
    [(3, 1, 3), (3, 5, 6), (5, 6, 7)]
    """
    path = _int_sequence(path, "path")
    blank = _check_blank(blank, np.iinfo(np.int64).max)
    if path.size == 0:
        return []
    starts = np.flatnonzero(np.concatenate(([True], path[1:] != path[:-1])))
    ends = np.append(starts[1:], path.size)
    return [(int(path[a]), int(a), int(b)) for a, b in zip(starts, ends) if path[a] != blank]

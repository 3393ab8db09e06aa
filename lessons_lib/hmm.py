"""Hidden Markov models: the forward, backward and Viterbi recursions, Baum-Welch, and HMM classes.

An HMM :math:`\\lambda = (\\pi, A, B)` has :math:`N` hidden states. It starts
in state :math:`i` with probability :math:`\\pi_i` (``startprob``), moves from
:math:`i` to :math:`j` with probability :math:`a_{ij}` (``transmat``, rows sum
to 1) and, in state :math:`j` at frame :math:`t`, emits the observation
:math:`o_t` with likelihood :math:`b_j(o_t)`. The recursions work on the
emission **log**-likelihoods ``log_frameprob[t, j]`` = :math:`\\log b_j(o_t)`,
so the same code serves discrete, Gaussian and GMM emissions alike.

A product of thousands of probabilities underflows, so nothing is stored as a
raw probability. :func:`forward`, :func:`backward` and :func:`posteriors`
keep :math:`\\log \\alpha` and :math:`\\log \\beta`; inside one frame they
shift by the frame's maximum, exponentiate, and sum over states in ordinary
arithmetic, which is exact and needs :math:`N` exponentials per frame
instead of the :math:`N^2` of a log-sum-exp per pair of states.
:func:`forward_scaled` is the other classic remedy (Rabiner's scaling), kept
to show its failure: on long sequences whose frames favour different states
by hundreds of nats, as speech frames under GMMs do, a path that is
negligible at one frame and dominant later can round to zero and be lost,
and then the likelihood is wrong. The model classes use it (with its backward
twin) when built with ``implementation="scaling"``, hmmlearn's option of that
name. :func:`viterbi` works in log space, where a maximum of sums needs no
rescaling.

The recursions over time are written as the textbook loops over :math:`t`,
:math:`j` and :math:`i` (``_forward_kernel``, ``_backward_kernel``,
``_viterbi_kernel``) and compiled by numba, as hmmlearn compiles its own
in C++: a loop over states in Python would be hundreds of times slower, and
the maximum in Viterbi has no matrix-product form that NumPy could run.

The classes :class:`CategoricalHMM`, :class:`GaussianHMM` and :class:`GMMHMM`
mirror hmmlearn's (constructor arguments, attribute names, the EM updates and
their priors), so that from the same starting parameters both produce the
same numbers, iteration by iteration; code written for hmmlearn (positional
constructor arguments, ``verbose``, ``implementation``, a ``RandomState``,
``monitor_``) runs on them unchanged. :func:`left_to_right`,
:func:`uniform_segmentation` and :func:`emission_params_from_states` build the
left-to-right word models of the digit recogniser; :func:`flat_start` chains the three.
:func:`forward_log` runs the forward recursion on weights that need not be
probabilities (Chapter 5 runs CTC's trellis through it).

Shapes: frames ``X`` are ``(n_samples, n_features)`` with time on axis 0;
several sequences are stacked in ``X`` and told apart by ``lengths``, as in
hmmlearn.

Chapter: ``notebooks/03a_hmm_algorithms.ipynb`` (algorithms) and
``notebooks/03b_gmm_hmm_digits.ipynb`` (the digit recogniser).
"""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path

import numba
import numpy as np

from . import gmm as _gmm
from ._checks import positive_int
from .logspace import logsumexp

__all__ = [
    "forward",
    "forward_log",
    "forward_scaled",
    "backward",
    "posteriors",
    "viterbi",
    "left_to_right",
    "uniform_segmentation",
    "emission_params_from_states",
    "flat_start",
    "ConvergenceMonitor",
    "NotFittedError",
    "CategoricalHMM",
    "GaussianHMM",
    "GMMHMM",
]

# A frame's summed inflow below this (relative to the frame's largest term) is
# recomputed with a log-sum-exp: exp() of terms more than ~745 nats below the
# maximum rounds to 0, and a sum that small may consist of such terms only.
_TINY = 1e-250


# =========================================================================== the functional core


def _check_model(startprob, transmat, log_frameprob):
    """Validate (pi, A, log B): shapes agree, probabilities are probabilities."""
    for name, value in (("startprob", startprob), ("transmat", transmat)):
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name} must be a float numpy array, got {type(value).__name__}")
    if startprob.ndim != 1:
        raise ValueError(f"startprob must be 1-D, shape (n_states,), got shape {startprob.shape}")
    n_states = startprob.shape[0]
    if n_states == 0:
        raise ValueError("startprob is empty: an HMM needs at least one state")
    if transmat.shape != (n_states, n_states):
        raise ValueError(f"transmat must have shape ({n_states}, {n_states}) to match startprob, got {transmat.shape}")
    _check_distribution(startprob, "startprob")
    _check_distribution(transmat, "transmat")
    if not isinstance(log_frameprob, np.ndarray):
        raise TypeError(f"log_frameprob must be a numpy array, got {type(log_frameprob).__name__}")
    if log_frameprob.ndim != 2 or log_frameprob.shape[1] != n_states:
        raise ValueError(f"log_frameprob must have shape (n_frames, {n_states}), got {log_frameprob.shape}")
    if log_frameprob.shape[0] == 0:
        raise ValueError("log_frameprob has no frames")
    if np.isnan(log_frameprob).any() or np.isposinf(log_frameprob).any():
        raise ValueError("log_frameprob contains NaN or +inf (log-likelihoods may be -inf, not NaN)")
    return startprob.astype(np.float64), transmat.astype(np.float64), log_frameprob.astype(np.float64)


def _check_distribution(value: np.ndarray, name: str) -> None:
    """Entries finite and >= 0, and the last axis sums to 1 (one or several distributions)."""
    if not np.all(np.isfinite(value)) or np.any(value < 0):
        raise ValueError(f"{name} must hold probabilities (finite, >= 0)")
    sums = value.sum(axis=-1)
    if not np.allclose(sums, 1.0):
        what = f"{name} must sum to 1" if value.ndim == 1 else f"every row of {name} must sum to 1"
        raise ValueError(f"{what}, got sums {np.round(sums, 6)}")


def _log(p):
    """log p with log 0 = -inf (forbidden starts, transitions, symbols) and no warning."""
    with np.errstate(divide="ignore"):
        return np.log(p)


def _impossible(where: str = "") -> ValueError:
    return ValueError(f"the sequence is impossible under the model: every path has probability 0{where}")


def _scaled_frames(log_frameprob):
    """Per-frame likelihoods divided by their maximum, and the log of that maximum."""
    shift = log_frameprob.max(axis=1)
    if np.isneginf(shift).any():
        t = int(np.flatnonzero(np.isneginf(shift))[0])
        raise ValueError(f"frame {t} has zero likelihood in every state: the sequence is impossible under the model")
    return np.exp(log_frameprob - shift[:, None]), shift


def _forward_scaled(startprob, transmat, frames):
    """alpha_hat[t] (each sums to 1) and scale factors c[t]; log P = sum log c + sum shifts."""
    alpha, scale = _forward_scaled_kernel(startprob, transmat, frames)
    if np.any(scale == 0.0):
        t = int(np.flatnonzero(scale == 0.0)[0])
        raise ValueError(f"the sequence is impossible under the model: no path reaches frame {t}")
    return alpha, scale


@numba.njit(cache=True)
def _forward_scaled_kernel(startprob, transmat, frames):  # pragma: no cover (compiled; tested through forward_scaled)
    """Rabiner's scaled recursion; a frame that no path reaches gets c[t] = 0 and ends it (the caller reports it)."""
    n_frames, n_states = frames.shape
    alpha = np.zeros((n_frames, n_states))
    scale = np.zeros(n_frames)
    for j in range(n_states):
        alpha[0, j] = startprob[j] * frames[0, j]
    for t in range(n_frames):
        if t:
            for i in range(n_states):
                if alpha[t - 1, i] > 0.0:
                    for j in range(n_states):
                        alpha[t, j] += alpha[t - 1, i] * transmat[i, j]
            for j in range(n_states):
                alpha[t, j] *= frames[t, j]
        c = alpha[t].sum()
        if c == 0.0:
            break
        alpha[t] /= c
        scale[t] = c
    return alpha, scale


@numba.njit(cache=True)
def _backward_scaled_kernel(transmat, frames, scale):  # pragma: no cover (compiled; tested through the models)
    """beta_hat[t] = beta_t / (C_{t+1} ... C_T) with the forward pass's scale factors (hmmlearn's backward_scaling)."""
    n_frames, n_states = frames.shape
    beta = np.ones((n_frames, n_states))
    v = np.empty(n_states)
    for t in range(n_frames - 2, -1, -1):
        for j in range(n_states):
            v[j] = frames[t + 1, j] * beta[t + 1, j] / scale[t + 1]
        for i in range(n_states):
            total = 0.0
            for j in range(n_states):
                total += transmat[i, j] * v[j]
            beta[t, i] = total
    return beta


def _forward_backward_scaled(startprob, transmat, log_frameprob, backward: bool = True):
    """log P, log alpha and log beta computed by the scaled recursions (``implementation="scaling"``).

    The lattices come back as logarithms, so that the posteriors and
    :math:`\\sum_t \\xi_t` are computed by the same code as for the log-space
    recursion; a state the scaling rounded to zero is ``-inf``.
    """
    frames, shift = _scaled_frames(log_frameprob)
    alpha, scale = _forward_scaled(startprob, transmat, frames)
    log_scale = np.cumsum(np.log(scale) + shift)  # log(C_1 ... C_t), C_t = c_t e^{shift_t}
    fwd = _log(alpha) + log_scale[:, None]
    if not backward:
        return float(log_scale[-1]), fwd, None
    bwd = _log(_backward_scaled_kernel(transmat, frames, scale)) + (log_scale[-1] - log_scale)[:, None]
    return float(log_scale[-1]), fwd, bwd


def forward(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The forward algorithm in log space: :math:`\\log P(O \\mid \\lambda)` and :math:`\\log \\alpha`.

    .. math:: \\alpha_1(j) = \\pi_j b_j(o_1), \\qquad
              \\alpha_{t}(j) = \\Big(\\sum_i \\alpha_{t-1}(i)\\, a_{ij}\\Big) b_j(o_t), \\qquad
              P(O \\mid \\lambda) = \\sum_j \\alpha_T(j).

    Only :math:`\\log \\alpha_t` is stored. Each step computes, with
    :math:`m = \\max_i \\log \\alpha_{t-1}(i)`,

    .. math:: \\log \\alpha_t(j) = m + \\log \\Big(\\sum_i e^{\\log \\alpha_{t-1}(i) - m}\\, a_{ij}\\Big) + \\log b_j(o_t),

    the same number as a log-sum-exp over :math:`\\log \\alpha_{t-1}(i) + \\log a_{ij}`,
    with :math:`N` exponentials per frame instead of :math:`N^2`. Where a sum
    comes out below ``1e-250`` (every term may have been too small to survive
    the exponential), that state's sum is recomputed as a log-sum-exp, so no
    path is ever lost. The loops are compiled by numba (``_forward_kernel``).

    Parameters
    ----------
    startprob : ndarray, shape (n_states,)
        :math:`\\pi`, sums to 1.
    transmat : ndarray, shape (n_states, n_states)
        :math:`A`, rows sum to 1; zeros allowed (and kept).
    log_frameprob : ndarray, shape (n_frames, n_states)
        :math:`\\log b_j(o_t)`; ``-inf`` allowed.

    Returns
    -------
    log_prob : float
        :math:`\\log P(O \\mid \\lambda)`.
    fwdlattice : ndarray, shape (n_frames, n_states)
        :math:`\\log \\alpha_t(j)`; equal to hmmlearn's ``_hmmc.forward_log``.

    Raises
    ------
    ValueError
        For probabilities that are negative or do not sum to 1, mismatched
        shapes, NaN, or a sequence with probability 0.

    Examples
    --------
    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> logB = np.log(np.array([[0.5, 0.1], [0.5, 0.1]]))
    >>> log_prob, log_alpha = forward(pi, A, logB)
    >>> round(float(np.exp(log_prob)), 6)  # by hand: .25 * (.9*.5 + .1*.1) + .05 * (.2*.5 + .8*.1)
    0.124
    """
    startprob, transmat, log_frameprob = _check_model(startprob, transmat, log_frameprob)
    return _forward_from_logs(_log(startprob), transmat, _log(transmat), log_frameprob)


def _forward_from_logs(log_pi, transmat, log_A, log_frameprob):
    fwd = _forward_kernel(log_pi, transmat, log_A, log_frameprob)
    log_prob = float(logsumexp(fwd[-1]))
    if log_prob == -np.inf:
        dead = int(np.flatnonzero(np.all(fwd == -np.inf, axis=1))[0])
        raise _impossible(f" (no path reaches frame {dead})")
    return log_prob, fwd


def forward_log(log_startprob: np.ndarray, log_transmat: np.ndarray,
                log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The forward recursion for any non-negative weights, all given as logarithms.

    .. math:: \\log \\alpha_1(j) = \\log \\pi_j + \\log b_j(o_1), \\qquad
              \\log \\alpha_t(j) = \\operatorname{LSE}_i\\big(\\log \\alpha_{t-1}(i) + \\log a_{ij}\\big)
              + \\log b_j(o_t),

    and the total :math:`\\operatorname{LSE}_j \\log \\alpha_T(j)`. This is
    :func:`forward` without its check that :math:`\\pi` and the rows of
    :math:`A` are probability distributions: the start and transition
    weights may be any non-negative numbers (``-inf`` for a forbidden start or
    move). Other models run on the same trellis: Chapter 5's CTC forward
    variables are this recursion with start weights 1 on the first two
    states of the extended label sequence and transition weights 1 for the
    allowed moves, which do not sum to 1 per row.

    The same compiled kernel as :func:`forward` does the work; the weights
    are exponentiated after subtracting their maximum, so large log-weights do
    not overflow.

    Parameters
    ----------
    log_startprob : ndarray of float, shape (n_states,)
        :math:`\\log \\pi_j`; ``-inf`` allowed, NaN and ``+inf`` not.
    log_transmat : ndarray of float, shape (n_states, n_states)
        :math:`\\log a_{ij}`; ``-inf`` allowed, NaN and ``+inf`` not.
    log_frameprob : ndarray of float, shape (n_frames, n_states)
        :math:`\\log b_j(o_t)`; ``-inf`` allowed.

    Returns
    -------
    log_prob : float
        :math:`\\log \\sum_j \\alpha_T(j)`; ``-inf`` when no path has a
        non-zero weight (no error is raised: with weights that are not
        probabilities, a zero total is an answer, not a contradiction).
    fwdlattice : ndarray, shape (n_frames, n_states)
        :math:`\\log \\alpha_t(j)`.

    Raises
    ------
    TypeError
        If an argument is not a float numpy array.
    ValueError
        For mismatched shapes, no frames or no states, NaN or ``+inf``.

    Examples
    --------
    With probabilities it is :func:`forward`:

    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> logB = np.log(np.array([[0.5, 0.1], [0.5, 0.1]]))
    >>> log_prob, _ = forward_log(np.log(pi), np.log(A), logB)
    >>> round(float(np.exp(log_prob)), 6)
    0.124

    With weights that do not sum to 1 it counts paths: two states, every
    move allowed with weight 1, three frames give :math:`2^3 = 8` paths.

    >>> zeros = np.zeros(2)
    >>> round(float(np.exp(forward_log(zeros, np.zeros((2, 2)), np.zeros((3, 2)))[0])), 6)
    8.0
    """
    arrays = {"log_startprob": log_startprob, "log_transmat": log_transmat, "log_frameprob": log_frameprob}
    for name, value in arrays.items():
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name} must be a float numpy array, got {type(value).__name__}"
                            + (f" of dtype {value.dtype}" if isinstance(value, np.ndarray) else ""))
        if np.isnan(value).any() or np.isposinf(value).any():
            raise ValueError(f"{name} contains NaN or +inf (log-weights may be -inf, not NaN or +inf)")
    if log_startprob.ndim != 1 or log_startprob.shape[0] == 0:
        raise ValueError(f"log_startprob must be 1-D with at least one state, got shape {log_startprob.shape}")
    n_states = log_startprob.shape[0]
    if log_transmat.shape != (n_states, n_states):
        raise ValueError(f"log_transmat must have shape ({n_states}, {n_states}) to match log_startprob, "
                         f"got {log_transmat.shape}")
    if log_frameprob.ndim != 2 or log_frameprob.shape[1] != n_states:
        raise ValueError(f"log_frameprob must have shape (n_frames, {n_states}), got {log_frameprob.shape}")
    if log_frameprob.shape[0] == 0:
        raise ValueError("log_frameprob has no frames")
    log_A = log_transmat.astype(np.float64)
    shift = log_A.max()
    if shift == -np.inf:  # no move allowed at all
        shift = 0.0
    fwd = _forward_kernel(log_startprob.astype(np.float64), np.exp(log_A - shift), log_A - shift,
                          log_frameprob.astype(np.float64))
    fwd += shift * np.arange(fwd.shape[0])[:, None]  # each step took one transition of weight e^shift less
    return float(logsumexp(fwd[-1])), fwd


@numba.njit(cache=True)
def _log_sum_exp_of_sums(a, b):  # pragma: no cover (compiled; tested through forward and backward)
    """:math:`\\log \\sum_i e^{a_i + b_i}`, with the largest term factored out."""
    m = -np.inf
    for i in range(a.shape[0]):
        if a[i] + b[i] > m:
            m = a[i] + b[i]
    if m == -np.inf:
        return m
    total = 0.0
    for i in range(a.shape[0]):
        total += np.exp(a[i] + b[i] - m)
    return m + np.log(total)


@numba.njit(cache=True)
def _forward_kernel(log_pi, transmat, log_A, log_frameprob):  # pragma: no cover (compiled; tested through forward)
    n_frames, n_states = log_frameprob.shape
    fwd = np.empty((n_frames, n_states))
    p = np.empty(n_states)
    inflow = np.empty(n_states)
    fwd[0] = log_pi + log_frameprob[0]
    for t in range(1, n_frames):
        m = fwd[t - 1].max()
        if m == -np.inf:  # no path reaches frame t - 1: the caller reports it
            fwd[t:] = -np.inf
            break
        for i in range(n_states):
            p[i] = np.exp(fwd[t - 1, i] - m)  # alpha_{t-1}(i) / e^m, at most 1
        inflow[:] = 0.0
        for i in range(n_states):
            if p[i] > 0.0:
                for j in range(n_states):
                    inflow[j] += p[i] * transmat[i, j]
        for j in range(n_states):
            if inflow[j] >= _TINY:
                fwd[t, j] = m + np.log(inflow[j]) + log_frameprob[t, j]
            else:  # the terms may all have underflowed: the exact log-sum-exp
                fwd[t, j] = _log_sum_exp_of_sums(fwd[t - 1], log_A[:, j]) + log_frameprob[t, j]
    return fwd


def forward_scaled(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The forward algorithm with Rabiner's scaling instead of logarithms.

    Same recursion as :func:`forward`, in probabilities:

    .. math:: \\alpha_1(j) = \\pi_j b_j(o_1), \\qquad
              \\alpha_{t}(j) = \\Big(\\sum_i \\alpha_{t-1}(i)\\, a_{ij}\\Big) b_j(o_t), \\qquad
              P(O \\mid \\lambda) = \\sum_j \\alpha_T(j)

    computed as normalised :math:`\\hat\\alpha_t = \\alpha_t / (c_1 \\cdots c_t)`
    that sum to 1, where the scale factor :math:`c_t = \\sum_i \\alpha'_t(i)` is
    the sum of one recursion step applied to :math:`\\hat\\alpha_{t-1}`, so
    :math:`\\log P = \\sum_t \\log c_t` (Rabiner's tutorial defines the
    reciprocal, and writes :math:`-\\sum_t \\log c_t`).

    Each frame's likelihoods are first divided by their maximum. A state whose
    forward probability falls below about :math:`10^{-308}` of the frame's
    total is rounded to zero; if a path through it would have dominated later
    frames, ``log_prob`` comes out too low. Use :func:`forward` unless you
    know the frames are well conditioned.

    Parameters
    ----------
    startprob, transmat, log_frameprob
        As :func:`forward`.

    Returns
    -------
    log_prob : float
    fwdlattice : ndarray, shape (n_frames, n_states)
        :math:`\\log \\alpha_t(j)`, equal to the log of hmmlearn's scaled
        forward lattice (``_hmmc.forward_scaling``). A state whose probability is
        below about :math:`10^{-308}` of the frame's total is rounded to zero
        (``-inf``) by the scaling; :func:`forward` keeps it.

    Raises
    ------
    ValueError
        As :func:`forward`.

    Examples
    --------
    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> logB = np.log(np.array([[0.5, 0.1], [0.5, 0.1]]))
    >>> bool(np.isclose(forward_scaled(pi, A, logB)[0], forward(pi, A, logB)[0]))
    True
    """
    startprob, transmat, log_frameprob = _check_model(startprob, transmat, log_frameprob)
    frames, shift = _scaled_frames(log_frameprob)
    alpha, scale = _forward_scaled(startprob, transmat, frames)
    log_scale = np.cumsum(np.log(scale) + shift)
    fwdlattice = _log(alpha) + log_scale[:, None]
    return float(log_scale[-1]), fwdlattice


def backward(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> np.ndarray:
    """The backward algorithm in log space: :math:`\\log \\beta`.

    .. math:: \\beta_T(i) = 1, \\qquad \\beta_t(i) = \\sum_j a_{ij}\\, b_j(o_{t+1})\\, \\beta_{t+1}(j),

    computed like :func:`forward`: shift :math:`\\log b_j(o_{t+1}) + \\log \\beta_{t+1}(j)`
    by its maximum, exponentiate, sum over :math:`j`, and fall back to a
    log-sum-exp where the sum underflows (``_backward_kernel``).

    Parameters
    ----------
    startprob, transmat, log_frameprob
        As :func:`forward`.

    Returns
    -------
    bwdlattice : ndarray, shape (n_frames, n_states)
        :math:`\\log \\beta_t(i)`; equal to hmmlearn's ``_hmmc.backward_log``.

    Examples
    --------
    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> logB = np.log(np.array([[0.5, 0.1], [0.5, 0.1]]))
    >>> log_prob, log_alpha = forward(pi, A, logB)
    >>> log_beta = backward(pi, A, logB)
    >>> bool(np.allclose(logsumexp(log_alpha + log_beta, axis=1), log_prob))  # at every frame
    True
    """
    startprob, transmat, log_frameprob = _check_model(startprob, transmat, log_frameprob)
    bwd = _backward_log(transmat, _log(transmat), log_frameprob)
    if logsumexp(_log(startprob) + log_frameprob[0] + bwd[0]) == -np.inf:
        raise _impossible()
    return bwd


def _backward_log(transmat, log_A, log_frameprob):
    return _backward_kernel(transmat, log_A, log_frameprob)


@numba.njit(cache=True)
def _backward_kernel(transmat, log_A, log_frameprob):  # pragma: no cover (compiled; tested through backward)
    n_frames, n_states = log_frameprob.shape
    bwd = np.zeros((n_frames, n_states))
    v = np.empty(n_states)
    p = np.empty(n_states)
    for t in range(n_frames - 2, -1, -1):
        for j in range(n_states):
            v[j] = log_frameprob[t + 1, j] + bwd[t + 1, j]  # log b_j(o_{t+1}) + log beta_{t+1}(j)
        m = v.max()
        if m == -np.inf:  # nothing is possible after frame t: the caller reports it
            bwd[: t + 1] = -np.inf
            break
        for j in range(n_states):
            p[j] = np.exp(v[j] - m)
        for i in range(n_states):
            outflow = 0.0
            for j in range(n_states):
                outflow += transmat[i, j] * p[j]
            if outflow >= _TINY:
                bwd[t, i] = m + np.log(outflow)
            else:  # the terms may all have underflowed: the exact log-sum-exp
                bwd[t, i] = _log_sum_exp_of_sums(log_A[i], v)
    return bwd


def posteriors(startprob: np.ndarray, transmat: np.ndarray,
               log_frameprob: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """State posteriors :math:`\\gamma` and summed transition posteriors :math:`\\sum_t \\xi_t`.

    .. math:: \\gamma_t(i) = P(q_t = i \\mid O, \\lambda) = \\frac{\\alpha_t(i)\\, \\beta_t(i)}{P(O \\mid \\lambda)}, \\qquad
              \\xi_t(i, j) = \\frac{\\alpha_t(i)\\, a_{ij}\\, b_j(o_{t+1})\\, \\beta_{t+1}(j)}{P(O \\mid \\lambda)}

    These are the E-step of Baum-Welch: expected state occupancies and
    expected transition counts. With :math:`u_t = \\alpha_t / \\max \\alpha_t`
    and :math:`v_{t+1} = b(o_{t+1}) \\beta_{t+1} / \\max(\\cdot)`, each
    :math:`\\xi_t = \\operatorname{diag}(u_t) A \\operatorname{diag}(v_{t+1})`
    normalised to sum 1, so :math:`\\sum_t \\xi_t` is one matrix product,
    :math:`A \\odot (U^T V)`, instead of :math:`T N^2` exponentials.

    Parameters
    ----------
    startprob, transmat, log_frameprob
        As :func:`forward`.

    Returns
    -------
    log_prob : float
    gamma : ndarray, shape (n_frames, n_states)
        Rows sum to 1; equal to hmmlearn's ``predict_proba``.
    xi_sum : ndarray, shape (n_states, n_states)
        :math:`\\sum_{t=1}^{T-1} \\xi_t(i, j)`; equal to
        ``exp(_hmmc.compute_log_xi_sum(...))``. All zeros when ``n_frames == 1``.

    Examples
    --------
    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.9, 0.1], [0.2, 0.8]])
    >>> logB = np.log(np.array([[0.5, 0.1], [0.5, 0.1]]))
    >>> log_prob, gamma, xi_sum = posteriors(pi, A, logB)
    >>> bool(np.allclose(gamma.sum(axis=1), 1)), round(float(xi_sum.sum()), 6)  # T - 1 transitions
    (True, 1.0)
    """
    startprob, transmat, log_frameprob = _check_model(startprob, transmat, log_frameprob)
    log_A = _log(transmat)
    log_prob, fwd = _forward_from_logs(_log(startprob), transmat, log_A, log_frameprob)  # validated once, above
    bwd = _backward_log(transmat, log_A, log_frameprob)
    return log_prob, _state_posteriors(fwd, bwd), _xi_sum(transmat, log_A, log_frameprob, fwd, bwd)


def _state_posteriors(fwd, bwd):
    """gamma from log alpha and log beta, each row normalised (as hmmlearn does)."""
    log_gamma = fwd + bwd
    log_gamma -= logsumexp(log_gamma, axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        return np.exp(log_gamma)


def _xi_sum(transmat, log_A, log_frameprob, fwd, bwd):
    """sum_t xi_t from log alpha and log beta, as one matrix product (frames that underflow: in log space)."""
    n_frames, n_states = log_frameprob.shape
    if n_frames == 1:
        return np.zeros((n_states, n_states))
    a = fwd[:-1]
    b = log_frameprob[1:] + bwd[1:]
    with np.errstate(under="ignore", invalid="ignore"):
        u = np.exp(a - a.max(axis=1, keepdims=True))
        v = np.exp(b - b.max(axis=1, keepdims=True))
    norm = np.einsum("ti,ti->t", u @ transmat, v)  # sum_ij u_i a_ij v_j: xi_t before normalisation
    exact = ~(norm >= _TINY)  # underflow (or a -inf row): those frames in log space
    if exact.any():
        u[exact] = 0.0
        v[exact] = 0.0
        norm[exact] = 1.0
    xi_sum = transmat * (u.T @ (v / norm[:, None]))
    for t in np.flatnonzero(exact):
        log_xi = a[t][:, None] + log_A + b[t][None, :]
        with np.errstate(under="ignore"):
            xi_sum += np.exp(log_xi - logsumexp(log_xi))
    return xi_sum


@numba.njit(cache=True)
def _viterbi_kernel(log_pi, log_A, log_frameprob):  # pragma: no cover (compiled; tested through viterbi)
    n_frames, n_states = log_frameprob.shape
    backpointers = np.zeros((n_frames, n_states), dtype=np.int64)
    delta = log_pi + log_frameprob[0]
    best = np.empty(n_states)
    for t in range(1, n_frames):
        psi = backpointers[t]
        best[:] = delta[0] + log_A[0]  # best[j] = max over i of delta[i] + log a_ij, so far i = 0
        for i in range(1, n_states):
            for j in range(n_states):  # the inner loop runs along a row of A: contiguous, vectorised
                score = delta[i] + log_A[i, j]
                if score >= best[j]:  # on a tie the later state wins, as in hmmlearn
                    best[j] = score
                    psi[j] = i
        for j in range(n_states):
            delta[j] = best[j] + log_frameprob[t, j]
    path = np.empty(n_frames, dtype=np.int64)
    path[-1] = np.argmax(delta)
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = backpointers[t, path[t]]
    return delta[path[-1]], path


def viterbi(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The most likely state sequence, by dynamic programming in log space.

    .. math:: \\delta_1(j) = \\log \\pi_j + \\log b_j(o_1), \\qquad
              \\delta_t(j) = \\max_i \\big(\\delta_{t-1}(i) + \\log a_{ij}\\big) + \\log b_j(o_t),

    with back-pointers :math:`\\psi_t(j) = \\arg\\max_i(\\cdot)` followed back
    from :math:`\\arg\\max_j \\delta_T(j)`. The maximum over :math:`i` has no
    matrix-product form, so the loops are written out as in the equation and
    compiled by numba (``_viterbi_kernel``), as fast as hmmlearn's C++.

    Parameters
    ----------
    startprob, transmat, log_frameprob
        As :func:`forward`.

    Returns
    -------
    log_prob : float
        :math:`\\log P(O, Q^* \\mid \\lambda)` of the best path.
    state_sequence : ndarray of int64, shape (n_frames,)
        Equal to hmmlearn's ``_hmmc.viterbi``, also where several paths tie:
        like hmmlearn, the last frame takes the lowest of the tied states and
        every back-pointer the highest of the tied predecessors.

    Examples
    --------
    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.7, 0.3], [0.3, 0.7]])
    >>> logB = np.log(np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9]]))
    >>> viterbi(pi, A, logB)[1]  # delta: [.45, .05] -> [.0315, .1215] -> [.003645, .076545]
    array([0, 1, 1])
    """
    startprob, transmat, log_frameprob = _check_model(startprob, transmat, log_frameprob)
    return _viterbi(_log(startprob), _log(transmat), log_frameprob)


def _viterbi(log_pi, log_A, log_frameprob):
    log_prob, path = _viterbi_kernel(log_pi, log_A, log_frameprob)
    if log_prob == -np.inf:
        raise _impossible()
    return float(log_prob), path


# =========================================================================== building word models


def left_to_right(n_states: int, self_loop: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Start and transition probabilities of a left-to-right (Bakis) chain without skips.

    .. math:: \\pi = (1, 0, \\dots, 0), \\qquad a_{ii} = p, \\quad a_{i,i+1} = 1 - p, \\quad a_{NN} = 1,

    and every other :math:`a_{ij} = 0`. Baum-Welch keeps those zeros at zero,
    so a word model trained from it can only move forward through its states.

    Parameters
    ----------
    n_states : int
        :math:`N \\ge 1`.
    self_loop : float, default 0.5
        :math:`p \\in (0, 1)`, the probability of staying; the expected stay in a
        state is :math:`1 / (1 - p)` frames.

    Returns
    -------
    startprob : ndarray, shape (n_states,)
    transmat : ndarray, shape (n_states, n_states)

    Examples
    --------
    >>> startprob, transmat = left_to_right(3, self_loop=0.6)
    >>> startprob
    array([1., 0., 0.])
    >>> transmat
    array([[0.6, 0.4, 0. ],
           [0. , 0.6, 0.4],
           [0. , 0. , 1. ]])
    """
    n_states = positive_int(n_states, "n_states")
    if isinstance(self_loop, bool) or not isinstance(self_loop, (int, float, np.integer, np.floating)):
        raise TypeError(f"self_loop must be a float in (0, 1), got {type(self_loop).__name__}")
    if not 0.0 < self_loop < 1.0:
        raise ValueError(f"self_loop must be in (0, 1), got {self_loop}")
    startprob = np.zeros(n_states)
    startprob[0] = 1.0
    transmat = np.diag(np.full(n_states, float(self_loop))) + np.diag(np.full(n_states - 1, 1.0 - self_loop), k=1)
    transmat[-1, -1] = 1.0
    return startprob, transmat


def _check_lengths(lengths, n_samples: int) -> np.ndarray:
    """``lengths`` as int64 positive sequence lengths adding up to ``n_samples`` (None: one sequence)."""
    if lengths is None:
        return np.array([n_samples], dtype=np.int64)
    values = np.asarray(lengths)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"lengths must be a non-empty 1-D sequence of ints, got shape {values.shape}")
    if not np.issubdtype(values.dtype, np.integer):
        if not (np.issubdtype(values.dtype, np.floating) and np.all(values == np.round(values))):
            raise TypeError(f"lengths must hold ints, got dtype {values.dtype}")
    if np.any(values <= 0):
        raise ValueError(f"lengths must all be positive, got {values[values <= 0][:5].tolist()}")
    if int(values.sum()) != n_samples:
        raise ValueError(f"lengths add up to {int(values.sum())} but X has {n_samples} frames (rows)")
    return values.astype(np.int64)


def uniform_segmentation(lengths, n_states: int) -> np.ndarray:
    """A "flat start": each sequence cut into ``n_states`` equal parts, state :math:`\\lfloor tN/T \\rfloor` at frame t.

    The usual first alignment for training a left-to-right model from
    scratch: without any model yet, assume every state lasts equally long.

    Parameters
    ----------
    lengths : sequence of int, shape (n_sequences,)
        Frames per sequence; each at least ``n_states``.
    n_states : int

    Returns
    -------
    states : ndarray of int64, shape (sum(lengths),)

    Examples
    --------
    >>> uniform_segmentation([6, 3], 3)
    array([0, 0, 1, 1, 2, 2, 0, 1, 2])
    """
    n_states = positive_int(n_states, "n_states")
    if lengths is None:
        raise TypeError("lengths must be a sequence of ints, got None")
    lengths = _check_lengths(lengths, int(np.sum(np.asarray(lengths))) if np.size(lengths) else -1)
    if np.any(lengths < n_states):
        raise ValueError(f"every sequence needs at least n_states={n_states} frames; lengths has {lengths.min()}")
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    t = np.arange(lengths.sum()) - starts
    return (t * n_states) // np.repeat(lengths, lengths)


def emission_params_from_states(X: np.ndarray, states: np.ndarray, n_states: int, n_mix: int = 1, *,
                                covariance_type: str = "diag", min_covar: float = 1e-3,
                                random_state=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GMM emission parameters for each state from an alignment of frames to states.

    For each state :math:`j`, k-means (:func:`lessons_lib.gmm.kmeans`) splits its
    frames into ``n_mix`` clusters; the weights are the cluster fractions, the
    means the cluster centres, the covariances the clusters' (biased) sample
    covariances plus ``min_covar`` on the diagonal ("diag": their diagonals;
    "spherical": the mean of each diagonal; "tied": the state's pooled
    within-cluster covariance, :math:`\\frac{1}{N_j} \\sum_k \\sum_{t \\in k}
    (\\mathbf o_t - \\boldsymbol\\mu_{jk})(\\cdot)^T`). Applied to
    :func:`uniform_segmentation`, this is the flat-start initialisation of a
    :class:`GMMHMM` (and, with ``n_mix=1``, of a :class:`GaussianHMM`).

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    states : ndarray of int, shape (n_samples,)
        The state of each frame, in ``0 .. n_states - 1``.
    n_states, n_mix : int
    covariance_type : {"diag", "full", "spherical", "tied"}, default "diag"
    min_covar : float, default 1e-3
    random_state : None, int or numpy.random.Generator
        For the k-means++ seeding.

    Returns
    -------
    weights : ndarray, shape (n_states, n_mix)
        Rows sum to 1. A cluster that k-means leaves empty gets weight 0 and
        the state's own covariance.
    means : ndarray, shape (n_states, n_mix, n_features)
    covars : ndarray, shape (n_states, n_mix, n_features) for "diag",
        (n_states, n_mix, n_features, n_features) for "full", (n_states, n_mix)
        for "spherical", (n_states, n_features, n_features) for "tied" (the
        shapes of :class:`GMMHMM`'s ``covars_``)

    Raises
    ------
    ValueError
        If a state has fewer than ``n_mix`` frames.

    Examples
    --------
    >>> X = np.array([[0.0], [0.2], [5.0], [5.4]])
    >>> weights, means, covars = emission_params_from_states(X, np.array([0, 0, 1, 1]), 2)
    >>> means[:, 0, 0], covars[:, 0, 0]  # variances 0.01 and 0.04, plus 1e-3
    (array([0.1, 5.2]), array([0.011, 0.041]))
    """
    X = _as_frames(X)
    n_states = positive_int(n_states, "n_states")
    n_mix = positive_int(n_mix, "n_mix")
    covariance_type = _check_covariance_type(covariance_type)
    states = np.asarray(states)
    if states.shape != (X.shape[0],) or not np.issubdtype(states.dtype, np.integer):
        raise ValueError(f"states must be ints of shape ({X.shape[0]},), got {states.dtype} {states.shape}")
    if states.min() < 0 or states.max() >= n_states:
        raise ValueError(f"states must lie in 0..{n_states - 1}, got {states.min()}..{states.max()}")
    rng = _gmm._rng(random_state)
    n_features = X.shape[1]
    eye = np.eye(n_features)
    weights = np.zeros((n_states, n_mix))
    means = np.zeros((n_states, n_mix, n_features))
    covars = np.zeros(_covars_shape(covariance_type, (n_states, n_mix), n_features))
    for j in range(n_states):  # each state's frames are clustered on their own
        frames = X[states == j]
        if frames.shape[0] < n_mix:
            raise ValueError(f"state {j} has {frames.shape[0]} frames, fewer than n_mix={n_mix}")
        centers, labels, _, _ = _gmm.kmeans(frames, n_mix, random_state=rng)
        for k in range(n_mix):
            members = frames[labels == k] if np.any(labels == k) else frames
            weights[j, k] = np.mean(labels == k)
            means[j, k] = centers[k]
            centered = members - members.mean(axis=0)
            if covariance_type == "diag":
                covars[j, k] = np.mean(centered**2, axis=0) + min_covar
            elif covariance_type == "spherical":
                covars[j, k] = np.mean(centered**2) + min_covar
            elif covariance_type == "full":
                covars[j, k] = centered.T @ centered / members.shape[0] + min_covar * eye
            elif np.any(labels == k):  # tied: the clusters' scatter, pooled
                covars[j] += centered.T @ centered / frames.shape[0]
        if covariance_type == "tied":
            covars[j] += min_covar * eye
    return weights, means, covars


def flat_start(X: np.ndarray, lengths, n_states: int, n_mix: int = 1, *, covariance_type: str = "diag",
               self_loop: float = 0.5, min_covar: float = 1e-3, random_state=None) -> dict[str, np.ndarray]:
    """Starting parameters of a left-to-right GMM-HMM word model, before any training.

    The three steps of a flat start, in one call: :func:`left_to_right` gives
    :math:`\\pi` and :math:`A`; :func:`uniform_segmentation` cuts every
    training sequence into ``n_states`` equal parts; and
    :func:`emission_params_from_states` fits each state's mixture to its part.
    Baum-Welch then moves the boundaries to where the data put them.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
        The frames of all training sequences, stacked.
    lengths : sequence of int, shape (n_sequences,)
        Frames per sequence; each at least ``n_states``.
    n_states, n_mix : int
        :math:`N` states, :math:`K` mixture components per state.
    covariance_type : {"diag", "full", "spherical", "tied"}, default "diag"
    self_loop : float, default 0.5
        The starting :math:`a_{jj}` (:func:`left_to_right`).
    min_covar : float, default 1e-3
        Added to every starting variance.
    random_state : None, int or numpy.random.Generator
        For the k-means++ seeding inside each state.

    Returns
    -------
    dict
        ``startprob_`` (N,), ``transmat_`` (N, N), ``weights_`` (N, K),
        ``means_`` (N, K, D), ``covars_`` (N, K, D), (N, K, D, D), (N, K) or
        (N, D, D) by ``covariance_type``: the attribute names and shapes of
        :class:`GMMHMM` and of hmmlearn's ``GMMHMM``, so that
        ``for name, value in start.items(): setattr(model, name, value)``
        starts either library's model (with ``init_params=""``). For a
        :class:`GaussianHMM` ("diag", "full", "spherical"), take ``means_[:, 0]``
        and ``covars_[:, 0]``; its "tied" matrix is shared by all states, one
        (D, D) matrix such as the frame-weighted mean of the (N, D, D) here.

    Raises
    ------
    ValueError
        If a sequence is shorter than ``n_states``, a state gets fewer than
        ``n_mix`` frames, or an argument is invalid.

    Examples
    --------
    >>> X = np.r_[np.zeros(4), np.ones(4), np.zeros(2), np.ones(2)][:, None]
    >>> start = flat_start(X, [8, 4], n_states=2)
    >>> start["means_"][:, 0, 0], start["transmat_"][0]
    (array([0., 1.]), array([0.5, 0.5]))
    """
    X = _as_frames(X)
    if lengths is None:
        raise TypeError("lengths must be a sequence of ints (frames per sequence), got None")
    lengths = _check_lengths(lengths, X.shape[0])
    startprob, transmat = left_to_right(n_states, self_loop)
    states = uniform_segmentation(lengths, n_states)
    weights, means, covars = emission_params_from_states(
        X, states, n_states, n_mix, covariance_type=covariance_type, min_covar=min_covar,
        random_state=random_state,
    )
    return {"startprob_": startprob, "transmat_": transmat, "weights_": weights, "means_": means, "covars_": covars}


# =========================================================================== the models


class ConvergenceMonitor:
    """The log-likelihood of the training data after each EM iteration, and when to stop.

    hmmlearn's ``ConvergenceMonitor``: same constructor, attributes, stopping
    rule and report format, so code that reads ``model.monitor_`` (or
    subclasses the monitor to change the rule) works unchanged.

    Parameters
    ----------
    tol : float
        Stop when an iteration gains less than ``tol`` nats.
    n_iter : int
        Stop after this many iterations anyway.
    verbose : bool, default False
        Print one line per iteration to ``sys.stderr``, as hmmlearn does:
        the iteration (1, 2, ...), the log-likelihood, and its gain over the
        previous iteration (``nan`` for the first), in the columns
        ``"{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"``.

    Attributes
    ----------
    history : list of float
        :math:`\\log P(X \\mid \\lambda)` under the parameters each E-step used
        (before that iteration's M-step): non-decreasing under EM. Every
        iteration is kept (hmmlearn 0.3 keeps every one too, in a
        ``collections.deque``; indexing, ``len``, iteration and ``list()``
        behave the same on both).
    iter : int
        Iterations run.
    tol, n_iter, verbose
        As given.

    Examples
    --------
    >>> monitor = ConvergenceMonitor(tol=0.01, n_iter=10)
    >>> for log_prob in (-100.0, -90.0, -89.995):
    ...     monitor.report(log_prob)
    >>> monitor.converged, monitor.iter
    (True, 3)

    With ``verbose=True`` each report is a line on stderr:

    >>> import contextlib
    >>> monitor = ConvergenceMonitor(tol=0.01, n_iter=10, verbose=True)
    >>> with contextlib.redirect_stderr(sys.stdout):  # only so that doctest sees the lines
    ...     monitor.report(-100.0); monitor.report(-90.0)
             1    -100.00000000             +nan
             2     -90.00000000     +10.00000000
    """

    _template = "{iter:>10d} {log_prob:>16.8f} {delta:>+16.8f}"

    def __init__(self, tol: float, n_iter: int, verbose: bool = False):
        self.tol = tol
        self.n_iter = n_iter
        self.verbose = verbose
        self.history: list[float] = []
        self.iter = 0

    def __repr__(self) -> str:
        return (f"ConvergenceMonitor(tol={self.tol}, n_iter={self.n_iter}, verbose={self.verbose}, "
                f"iter={self.iter}, history={list(self.history)})")

    def _reset(self) -> None:
        self.history = []
        self.iter = 0

    def report(self, log_prob: float) -> None:
        """Record one iteration's log-likelihood (and print it if ``verbose``)."""
        if self.verbose:
            delta = log_prob - self.history[-1] if len(self.history) else np.nan
            print(self._template.format(iter=self.iter + 1, log_prob=log_prob, delta=delta), file=sys.stderr)
        self.history.append(float(log_prob))
        self.iter += 1

    @property
    def converged(self) -> bool:
        """``True`` once ``n_iter`` iterations ran or the last one gained less than ``tol``."""
        return self.iter == self.n_iter or (len(self.history) >= 2 and self.history[-1] - self.history[-2] < self.tol)


NotFittedError = _gmm.NotFittedError  # one class for both modules: scikit-learn's place and types


def _check_random_state(random_state, name: str = "random_state"):
    """None, an int >= 0, a RandomState (what sklearn's check_random_state takes) or a Generator."""
    if random_state is None or isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)):
        raise TypeError(f"{name} must be None, an int, a numpy.random.RandomState or a numpy.random.Generator, "
                        f"got {type(random_state).__name__}")
    if random_state < 0:
        raise ValueError(f"{name} must be a non-negative int seed, got {random_state}")
    return random_state


def _generator(random_state, name: str = "random_state") -> np.random.Generator:
    """The Generator that ``random_state`` stands for: lessons_lib.gmm's rule, with this argument's name in errors.

    None: numpy's global stream; an int: ``default_rng(seed)``; a RandomState or
    a Generator: its own stream, which advances as it is drawn from (as
    scikit-learn's ``check_random_state`` hands a RandomState on).
    """
    return _gmm._rng(_check_random_state(random_state, name))


def _as_frames(X, name: str = "X") -> np.ndarray:
    """Real-valued frames (n_samples, n_features) as float64, finite."""
    if not isinstance(X, np.ndarray):
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)
        else:
            raise TypeError(f"{name} must be a numpy array of shape (n_samples, n_features), got {type(X).__name__}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)) or X.dtype == np.bool_:
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, shape (n_samples, n_features), got shape {X.shape} "
                         "(one feature per frame: X[:, None])")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no frames")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return X.astype(np.float64, copy=False)


# hmmlearn's four covariance types. "spherical": one variance per Gaussian; "diag": one per feature;
# "full": a matrix per Gaussian; "tied": one matrix shared by all states (GaussianHMM) or by the
# mixture components of a state (GMMHMM).
_COVARIANCE_TYPES = ("spherical", "diag", "full", "tied")


def _check_covariance_type(covariance_type) -> str:
    if covariance_type not in _COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {_COVARIANCE_TYPES}, got {covariance_type!r}")
    return covariance_type


def _covars_shape(covariance_type: str, leading: tuple, n_features: int) -> tuple:
    """hmmlearn's shape of ``covars_``; ``leading`` is (N,) for a GaussianHMM, (N, K) for a GMMHMM.

    Spherical drops the feature axis, diag has one, full two; tied shares one
    matrix along the last leading axis: (D, D) for a GaussianHMM, (N, D, D) for a GMMHMM.
    """
    d = n_features
    return {"spherical": leading, "diag": leading + (d,), "full": leading + (d, d),
            "tied": leading[:-1] + (d, d)}[covariance_type]


def _normalize(a: np.ndarray) -> np.ndarray:
    """Rows (last axis) divided by their sums; an all-zero row stays zero (hmmlearn's ``normalize``)."""
    sums = a.sum(axis=-1, keepdims=True)
    return a / np.where(sums == 0, 1.0, sums)


def _defined(new: np.ndarray, old: np.ndarray) -> np.ndarray:
    """``new`` where it is a number; ``old`` where an update divided zero counts by zero (an unvisited state)."""
    return np.where(np.isfinite(new), new, old)


def _reestimate_rows(counts: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Rows of expected counts normalised into distributions; a row with no counts keeps ``old``.

    A state that the data never leaves (or never visits) has no evidence for its
    row: hmmlearn leaves the row all zero, which is not a distribution and makes
    the model unusable; keeping the previous row changes nothing else.
    """
    sums = counts.sum(axis=-1, keepdims=True)
    return np.where(sums > 0, counts / np.where(sums > 0, sums, 1.0), old)


def _check_covars(covars: np.ndarray, covariance_type: str, name: str = "covars_") -> None:
    if not np.all(np.isfinite(covars)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if covariance_type in ("spherical", "diag"):
        if np.any(covars <= 0):
            raise ValueError(f"{name} must be positive (variances), got min {covars.min()}")
        return
    if not np.allclose(covars, np.swapaxes(covars, -1, -2)):
        raise ValueError(f"{name} must be symmetric positive definite: a matrix is not symmetric")
    if np.any(np.linalg.eigvalsh(covars) <= 0):
        raise ValueError(f"{name} must be symmetric positive definite: a matrix has an eigenvalue <= 0")


def _precisions_cholesky(covars: np.ndarray, covariance_type: str, variance_prior: str) -> np.ndarray:
    """Cholesky factors of the inverse covariances (lessons_lib.gmm's), with an HMM's error message.

    ``covars`` holds one variance, variance vector or matrix per Gaussian (a
    tied matrix counts once); the factors come back in the same layout.
    """
    try:
        return _gmm._precision_cholesky(covars, "full" if covariance_type == "tied" else covariance_type)
    except ValueError:
        raise ValueError("covars_ is not positive definite: a state (or mixture component) has collapsed onto too "
                         "few frames; use more data, fewer states or mixture components, or a variance prior "
                         f"({variance_prior})") from None


class _BaseHMM:
    """What every HMM shares: :math:`(\\pi, A)`, inference through the functional core, Baum-Welch, I/O.

    Subclasses say how a frame is scored (``_log_frameprob``) and how the
    emission parameters are initialised, accumulated and re-estimated.
    """

    _emission_params: tuple[str, ...] = ()

    def __init__(self, n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter, tol,
                 params, init_params, verbose=False, implementation="log"):
        self.n_components = positive_int(n_components, "n_components")
        self.startprob_prior = startprob_prior
        self.transmat_prior = transmat_prior
        if algorithm not in ("viterbi", "map"):
            raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")
        self.algorithm = algorithm
        self.random_state = _check_random_state(random_state)
        self.n_iter = positive_int(n_iter, "n_iter")
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)) or np.isnan(tol):
            raise TypeError(f"tol must be a number, got {tol!r}")
        self.tol = tol
        for name, value in (("params", params), ("init_params", init_params)):
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string of parameter codes, got {type(value).__name__}")
        self.params = params
        self.init_params = init_params
        if not isinstance(verbose, (bool, int, np.integer, np.bool_)):
            raise TypeError(f"verbose must be a bool, got {type(verbose).__name__}")
        self.verbose = verbose
        if implementation not in ("log", "scaling"):
            raise ValueError(f"implementation must be 'log' or 'scaling', got {implementation!r}")
        self.implementation = implementation
        self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)

    def _hyperparameters(self) -> dict:
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {name: getattr(self, name) for name in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._hyperparameters().items() if not isinstance(v, np.ndarray))
        return f"{type(self).__name__}({args})"

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's arguments as a dict, as scikit-learn estimators (and hmmlearn's models) give them.

        ``deep`` is accepted for scikit-learn's ``clone``; there are no nested estimators.

        Examples
        --------
        >>> GaussianHMM(3, "full").get_params()["covariance_type"]
        'full'
        """
        return self._hyperparameters()

    def set_params(self, **params):
        """Change constructor arguments (validated as the constructor validates them); returns ``self``.

        Examples
        --------
        >>> GaussianHMM(3).set_params(n_iter=50, tol=1e-4).n_iter
        50
        """
        current = self._hyperparameters()
        unknown = sorted(set(params) - set(current))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no parameter {unknown[0]!r}; its parameters are "
                             f"{', '.join(current)}")
        checked = type(self)(**{**current, **params})  # raises as the constructor would
        for name in params:
            setattr(self, name, getattr(checked, name))
        return self

    # ----------------------------------------------------------------- parameters

    def _check(self) -> None:
        """Validate the parameters (from fit, or set by hand) before they are used."""
        if not hasattr(self, "startprob_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call fit(X) or set its parameters")
        n = self.n_components
        for name in ("startprob_", "transmat_") + self._emission_params:
            if not hasattr(self, name):
                raise NotFittedError(f"this {type(self).__name__} has no {name}: call fit(X) or set it")
            setattr(self, name, np.asarray(getattr(self, name), dtype=np.float64))
        if self.startprob_.shape != (n,):
            raise ValueError(f"startprob_ must have shape ({n},), got {self.startprob_.shape}")
        if self.transmat_.shape != (n, n):
            raise ValueError(f"transmat_ must have shape ({n}, {n}), got {self.transmat_.shape}")
        _check_distribution(self.startprob_, "startprob_")
        _check_distribution(self.transmat_, "transmat_")
        self._check_emissions()

    def _needs_init(self, code: str, name: str) -> bool:
        return code in self.init_params or not hasattr(self, name)

    def _init(self, X: np.ndarray, rng: np.random.Generator) -> None:
        """hmmlearn's law for the start: Dirichlet(1/N) start and transition probabilities."""
        n = self.n_components
        if self._needs_init("s", "startprob_"):
            self.startprob_ = rng.dirichlet(np.full(n, 1.0 / n))
        if self._needs_init("t", "transmat_"):
            self.transmat_ = rng.dirichlet(np.full(n, 1.0 / n), size=n)
        self._init_emissions(X, rng)

    def _split(self, X, lengths) -> tuple[np.ndarray, list[np.ndarray]]:
        X = self._validate_X(X)
        ends = np.cumsum(_check_lengths(lengths, X.shape[0]))
        return X, np.split(X, ends[:-1])

    def _sequences(self, X, lengths) -> list[np.ndarray]:
        self._check()
        return self._split(X, lengths)[1]

    def _n_fit_scalars(self) -> dict:
        n = self.n_components
        return {"s": n - 1, "t": n * (n - 1)}

    # ----------------------------------------------------------------- inference

    def _forward_backward(self, log_frameprob, log_pi, log_A, backward: bool = True):
        """log P, log alpha and (if ``backward``) log beta of one sequence, by the model's ``implementation``."""
        if self.implementation == "scaling":
            return _forward_backward_scaled(self.startprob_, self.transmat_, log_frameprob, backward)
        log_prob, fwd = _forward_from_logs(log_pi, self.transmat_, log_A, log_frameprob)
        return log_prob, fwd, _backward_log(self.transmat_, log_A, log_frameprob) if backward else None

    def log_frameprob(self, X: np.ndarray) -> np.ndarray:
        """Emission log-likelihoods :math:`\\log b_j(o_t)` of every frame under every state.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)

        Returns
        -------
        ndarray, shape (n_samples, n_components)
            Equal to hmmlearn's ``_compute_log_likelihood(X)``.
        """
        self._check()
        return self._log_frameprob(self._validate_X(X))

    def score(self, X: np.ndarray, lengths=None) -> float:
        """:math:`\\log P(X \\mid \\lambda)` by the forward algorithm, summed over the sequences.

        The forward recursion is the model's ``implementation``: :func:`forward`
        (``"log"``) or :func:`forward_scaled` (``"scaling"``).

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        lengths : sequence of int, optional
            Lengths of the sequences stacked in ``X``; they must add up to
            ``n_samples``. Default: one sequence.

        Returns
        -------
        float

        Raises
        ------
        ValueError
            For a sequence with probability 0 under the model, or bad input.
        """
        sequences = self._sequences(X, lengths)
        log_pi, log_A = _log(self.startprob_), _log(self.transmat_)
        return float(sum(self._forward_backward(self._log_frameprob(x), log_pi, log_A, backward=False)[0]
                         for x in sequences))

    def score_samples(self, X: np.ndarray, lengths=None) -> tuple[float, np.ndarray]:
        """Log-likelihood and the state posteriors :math:`\\gamma_t(i) = P(q_t = i \\mid O, \\lambda)`.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        lengths : sequence of int, optional

        Returns
        -------
        log_prob : float
        posteriors : ndarray, shape (n_samples, n_components)
            Rows sum to 1.
        """
        sequences = self._sequences(X, lengths)
        log_pi, log_A = _log(self.startprob_), _log(self.transmat_)
        total, parts = 0.0, []
        for x in sequences:
            log_frameprob = self._log_frameprob(x)
            log_prob, fwd, bwd = self._forward_backward(log_frameprob, log_pi, log_A)
            parts.append(_state_posteriors(fwd, bwd))
            total += log_prob
        return total, np.concatenate(parts)

    def predict_proba(self, X: np.ndarray, lengths=None) -> np.ndarray:
        """The state posteriors :math:`\\gamma`, shape (n_samples, n_components) (see :meth:`score_samples`)."""
        return self.score_samples(X, lengths)[1]

    def decode(self, X: np.ndarray, lengths=None, algorithm: str | None = None) -> tuple[float, np.ndarray]:
        """The most likely state sequence of each sequence.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        lengths : sequence of int, optional
        algorithm : {"viterbi", "map"}, optional
            ``"viterbi"`` (default: the model's ``algorithm``): the single best
            path, :func:`viterbi`. ``"map"``: the most likely state of each frame
            on its own, :math:`\\arg\\max_i \\gamma_t(i)`, which may string
            together states that no allowed transition connects.

        Returns
        -------
        log_prob : float
            Viterbi: :math:`\\log P(O, Q^* \\mid \\lambda)` summed over sequences.
            MAP: hmmlearn's number, :math:`\\sum_t \\max_i \\gamma_t(i)` (a sum of
            probabilities, not a log-probability), kept for comparability.
        state_sequence : ndarray of int64, shape (n_samples,)
        """
        algorithm = self.algorithm if algorithm is None else algorithm
        if algorithm not in ("viterbi", "map"):
            raise ValueError(f"algorithm must be 'viterbi' or 'map', got {algorithm!r}")
        sequences = self._sequences(X, lengths)
        log_pi, log_A = _log(self.startprob_), _log(self.transmat_)
        total, paths = 0.0, []
        for x in sequences:
            log_frameprob = self._log_frameprob(x)
            if algorithm == "viterbi":
                log_prob, path = _viterbi(log_pi, log_A, log_frameprob)
            else:
                _, fwd, bwd = self._forward_backward(log_frameprob, log_pi, log_A)
                gamma = _state_posteriors(fwd, bwd)
                log_prob, path = gamma.max(axis=1).sum(), gamma.argmax(axis=1)
            total += log_prob
            paths.append(path)
        return float(total), np.concatenate(paths).astype(np.int64)

    def predict(self, X: np.ndarray, lengths=None) -> np.ndarray:
        """The state sequence of :meth:`decode`, shape (n_samples,)."""
        return self.decode(X, lengths)[1]

    def sample(self, n_samples: int = 1, random_state=None, currstate: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Generate frames from the model: a state path from :math:`(\\pi, A)`, then one emission per state.

        Parameters
        ----------
        n_samples : int, default 1
        random_state : None, int, numpy.random.RandomState or numpy.random.Generator
            Default: the model's ``random_state``. An int or a RandomState gives
            reproducible draws, but not hmmlearn's (it draws frame by frame
            from a RandomState; we draw all frames at once from a Generator).
        currstate : int, optional
            The first state (instead of drawing it from :math:`\\pi`), e.g. the
            last state of a previous call, to continue a sequence.

        Returns
        -------
        X : ndarray, shape (n_samples, n_features)
        state_sequence : ndarray of int64, shape (n_samples,)
        """
        self._check()
        n_samples = positive_int(n_samples, "n_samples")
        rng = _generator(self.random_state if random_state is None else random_state)
        u = rng.random(n_samples)
        start_cdf = np.cumsum(self.startprob_)
        trans_cdf = np.cumsum(self.transmat_, axis=1)
        start_cdf /= start_cdf[-1]  # exactly 1 at the end: u < 1 always lands on a state
        trans_cdf /= trans_cdf[:, -1:]
        states = np.empty(n_samples, dtype=np.int64)
        if currstate is None:
            state = int(np.searchsorted(start_cdf, u[0], side="right"))
        else:
            if isinstance(currstate, bool) or not isinstance(currstate, (int, np.integer)) \
                    or not 0 <= currstate < self.n_components:
                raise ValueError(f"currstate must be a state in 0..{self.n_components - 1}, got {currstate!r}")
            state = int(currstate)
        states[0] = state
        for t in range(1, n_samples):  # a Markov chain: each state depends on the previous one
            state = int(np.searchsorted(trans_cdf[state], u[t], side="right"))
            states[t] = state
        return self._sample_emissions(states, rng), states

    # ----------------------------------------------------------------- learning

    def fit(self, X: np.ndarray, lengths=None):
        """Baum-Welch (EM): re-estimate the parameters until the log-likelihood stops improving.

        Each iteration runs the E-step (forward-backward on every sequence with
        the current parameters: :math:`\\gamma`, :math:`\\sum_t \\xi_t` and the
        emission statistics, summed over sequences) and then the M-step
        (:math:`\\pi_i \\propto \\sum_{\\text{seq}} \\gamma_1(i)`,
        :math:`a_{ij} \\propto \\sum_{\\text{seq}} \\sum_t \\xi_t(i, j)`, and the
        emission updates of the subclass; Dirichlet priors as hmmlearn's).
        Parameters that are 0 stay 0. The log-likelihood each E-step computed is
        appended to ``monitor_.history`` (and printed to stderr if ``verbose``);
        fitting stops after ``n_iter`` iterations or when an iteration gains
        less than ``tol``. As in hmmlearn, ``monitor_`` is reset, not replaced:
        a :class:`ConvergenceMonitor` subclass assigned to it decides when to
        stop (it receives the model's current ``tol``, ``n_iter`` and ``verbose``).

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        lengths : sequence of int, optional
            Lengths of the sequences stacked in ``X``. Sequences are never
            joined: no transition is counted from the end of one to the start
            of the next.

        Returns
        -------
        self
        """
        X, sequences = self._split(X, lengths)
        self._init(X, _generator(self.random_state))
        self._check()
        self._validate_X(X)  # against parameters that were set by hand
        if not all(hasattr(type(getattr(self, "monitor_", None)), name) for name in ("report", "_reset", "converged")):
            self.monitor_ = ConvergenceMonitor(self.tol, self.n_iter, self.verbose)
        # hmmlearn resets the monitor it made in __init__ (a subclass assigned to monitor_, even of hmmlearn's
        # class, is kept); the model's tol, n_iter and verbose are copied in, so that changes after
        # construction count.
        self.monitor_.tol, self.monitor_.n_iter, self.monitor_.verbose = self.tol, self.n_iter, self.verbose
        self.monitor_._reset()
        for _ in range(self.n_iter):
            stats = self._initial_stats()
            log_pi, log_A = _log(self.startprob_), _log(self.transmat_)
            log_prob = 0.0
            for x in sequences:
                log_prob += self._accumulate(stats, x, log_pi, log_A)
            self._mstep(stats)
            self.monitor_.report(log_prob)
            if self.monitor_.converged:
                break
        return self

    def _initial_stats(self) -> dict:
        n = self.n_components
        return {"start": np.zeros(n), "trans": np.zeros((n, n))}

    def _accumulate(self, stats: dict, x: np.ndarray, log_pi, log_A) -> float:
        """E-step for one sequence: add its expected counts to ``stats``; return its log-likelihood."""
        log_frameprob, cache = self._log_frameprob_and_cache(x)
        log_prob, fwd, bwd = self._forward_backward(log_frameprob, log_pi, log_A)
        gamma = _state_posteriors(fwd, bwd)
        stats["start"] += gamma[0]
        if "t" in self.params:
            stats["trans"] += _xi_sum(self.transmat_, log_A, log_frameprob, fwd, bwd)
        self._accumulate_emissions(stats, x, gamma, cache)
        return log_prob

    def _log_frameprob_and_cache(self, x):
        return self._log_frameprob(x), None

    def _mstep(self, stats: dict) -> None:
        """M-step for (pi, A): Dirichlet-prior MAP counts, clipped at 0, zeros kept, rows normalised."""
        if "s" in self.params:
            counts = np.maximum(self.startprob_prior - 1.0 + stats["start"], 0.0)
            self.startprob_ = _normalize(np.where(self.startprob_ == 0, 0.0, counts))
        if "t" in self.params:
            counts = np.maximum(self.transmat_prior - 1.0 + stats["trans"], 0.0)
            self.transmat_ = _reestimate_rows(np.where(self.transmat_ == 0, 0.0, counts), self.transmat_)
        self._mstep_emissions(stats)

    # ----------------------------------------------------------------- model selection and more

    def aic(self, X: np.ndarray, lengths=None) -> float:
        """Akaike's criterion :math:`-2 \\log P(X \\mid \\lambda) + 2k`, :math:`k` the model's free parameters."""
        return -2.0 * self.score(X, lengths) + 2.0 * self._n_free_parameters()

    def bic(self, X: np.ndarray, lengths=None) -> float:
        """Bayes' criterion :math:`-2 \\log P(X \\mid \\lambda) + k \\log n`, :math:`n` = ``len(X)`` frames."""
        return -2.0 * self.score(X, lengths) + self._n_free_parameters() * np.log(len(X))

    def _n_free_parameters(self) -> int:
        return int(sum(self._n_fit_scalars().values()))  # every parameter, fitted or fixed, as hmmlearn

    def get_stationary_distribution(self) -> np.ndarray:
        """The state distribution :math:`\\mu` with :math:`\\mu A = \\mu`, shape (n_components,).

        The left eigenvector of :math:`A` for its largest eigenvalue (1),
        normalised to sum 1.
        """
        self._check()
        eigvals, eigvecs = np.linalg.eig(self.transmat_.T)
        vector = np.real_if_close(eigvecs[:, np.argmax(eigvals.real)])
        return vector / vector.sum()

    def save(self, path) -> Path:
        """Write the model to an ``.npz`` file: its parameter arrays plus its hyper-parameters as JSON text.

        No pickle: loading it runs no code, and the file is readable by any
        NumPy version (and by hand). A ``random_state`` that is a Generator or
        a RandomState is not saved (it becomes ``None``).

        Parameters
        ----------
        path : str or pathlib.Path
            ``.npz`` is appended if missing.

        Returns
        -------
        pathlib.Path
            The file written.
        """
        self._check()
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        hyper = {}
        for name, value in self._hyperparameters().items():
            if isinstance(value, (np.random.Generator, np.random.RandomState)):
                value = None
            hyper[name] = value.tolist() if isinstance(value, (np.ndarray, np.generic)) else value
        arrays = {name: getattr(self, name) for name in ("startprob_", "transmat_") + self._emission_params}
        np.savez(path, model_class=np.array(type(self).__name__), hyperparameters=np.array(json.dumps(hyper)),
                 n_features=np.array(self.n_features), **arrays)
        return path

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save` (``np.load(..., allow_pickle=False)``).

        Parameters
        ----------
        path : str or pathlib.Path

        Returns
        -------
        CategoricalHMM, GaussianHMM or GMMHMM
            Of the class that was saved; calling ``load`` on a specific class
            checks that the file holds that class.
        """
        classes = {c.__name__: c for c in (CategoricalHMM, GaussianHMM, GMMHMM)}
        with np.load(path, allow_pickle=False) as archive:
            name = str(archive["model_class"])
            if name not in classes:
                raise ValueError(f"{path} does not hold a lessons_lib.hmm model (model_class={name!r})")
            if cls in classes.values() and name != cls.__name__:
                raise ValueError(f"{path} holds a {name}, not a {cls.__name__}")
            hyper = {k: np.asarray(v) if isinstance(v, list) else v
                     for k, v in json.loads(str(archive["hyperparameters"])).items()}
            model = classes[name](**hyper)
            for key in ("startprob_", "transmat_") + model._emission_params:
                setattr(model, key, archive[key].copy())
            model.n_features = int(archive["n_features"])
        model._check()
        return model


class CategoricalHMM(_BaseHMM):
    """HMM with discrete emissions: in state :math:`j`, symbol :math:`k` with probability :math:`b_j(k)`.

    M-step for the emissions (with a Dirichlet prior of strength ``emissionprob_prior``):

    .. math:: b_j(k) \\propto \\max\\Big(\\text{prior} - 1 + \\sum_{t:\\, o_t = k} \\gamma_t(j),\\; 0\\Big).

    Parameters
    ----------
    n_components : int, default 1
        Number of hidden states :math:`N`.
    startprob_prior, transmat_prior, emissionprob_prior : float or ndarray, default 1.0
        Dirichlet parameters; 1.0 means no prior (maximum likelihood).
    n_features : int, optional
        Number of symbols; default ``max(X) + 1`` at the first ``fit``.
    algorithm : {"viterbi", "map"}, default "viterbi"
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        The randomness of ``fit``'s initialisation and of :meth:`sample`
        (what scikit-learn's ``check_random_state`` accepts, and a
        Generator; None draws from numpy's global random state, as there).
        An int or a RandomState makes them reproducible; they are
        not hmmlearn's draws (it initialises with scikit-learn's ``KMeans``
        and samples frame by frame; a RandomState's stream is read through a
        Generator here).
    n_iter : int, default 10
    tol : float, default 1e-2
    verbose : bool, default False
        Print each EM iteration's log-likelihood to stderr, in hmmlearn's
        format (see :class:`ConvergenceMonitor`).
    params, init_params : str, default "ste"
        Which parameters ``fit`` updates / initialises: ``s`` startprob_,
        ``t`` transmat_, ``e`` emissionprob_. Parameters already set and not
        named in ``init_params`` are used as the starting point.
    implementation : {"log", "scaling"}, default "log"
        How :meth:`score`, :meth:`score_samples`, :meth:`predict_proba`,
        ``decode(algorithm="map")`` and :meth:`fit` run the forward-backward
        recursion (Viterbi is in log space either way). ``"log"``:
        :func:`forward` and :func:`backward`, exact on any sequence.
        ``"scaling"``: Rabiner's scaled recursion (:func:`forward_scaled` and
        its backward twin): no logarithm or exponential inside the recursion,
        so the forward-backward pass is faster (1.0-2.5x measured for 3 to 16
        states; the rest of the E-step costs the same), and the numbers are
        equal on ordinary data; but a
        state whose forward probability falls below about :math:`10^{-308}`
        of its frame's total is rounded to zero, so on long sequences whose
        frames favour different states by hundreds of nats (speech under
        GMMs) a path that dominates later can be lost and the log-likelihood
        comes out too low. Each frame is divided by its largest likelihood
        first, so the frames that make hmmlearn's scaling fail (every
        likelihood below :math:`10^{-300}`) work here.

    Drop-in for hmmlearn: the constructor takes hmmlearn's arguments in
    hmmlearn's order (positional use included), and ``fit``, ``score``,
    ``score_samples``, ``predict_proba``, ``decode``, ``predict``, ``sample``,
    ``aic``, ``bic``, ``monitor_`` and the fitted attributes behave the same;
    using a model before it has parameters raises :class:`NotFittedError`, a
    ``ValueError`` as in hmmlearn. Differences: bad hyper-parameters are
    refused when the model is built (hmmlearn: at ``fit``), and a
    ``random_state`` of the wrong type is a ``TypeError`` (scikit-learn's
    ``check_random_state`` raises ``ValueError``).

    Attributes
    ----------
    startprob_ : ndarray, shape (n_components,)
    transmat_ : ndarray, shape (n_components, n_components)
    emissionprob_ : ndarray, shape (n_components, n_features)
    monitor_ : ConvergenceMonitor

    Examples
    --------
    Eisner's ice-cream diary: hidden hot (0) and cold (1) days, observed 1-3
    ice creams (symbols 0-2).

    >>> model = CategoricalHMM(2)
    >>> model.startprob_ = np.array([0.8, 0.2])
    >>> model.transmat_ = np.array([[0.6, 0.4], [0.5, 0.5]])
    >>> model.emissionprob_ = np.array([[0.2, 0.4, 0.4], [0.5, 0.4, 0.1]])
    >>> ice_creams = np.array([[2], [0], [2]])  # 3, 1, 3 ice creams
    >>> round(float(np.exp(model.score(ice_creams))), 6)  # the sum over all 8 hot/cold paths
    0.028562
    >>> model.predict(ice_creams)  # best path: hot, cold, hot (.8*.4 * .4*.5 * .5*.4 = .0128)
    array([0, 1, 0])
    """

    _emission_params = ("emissionprob_",)

    def __init__(self, n_components: int = 1, startprob_prior=1.0, transmat_prior=1.0, *, emissionprob_prior=1.0,
                 n_features: int | None = None, algorithm: str = "viterbi", random_state=None, n_iter: int = 10,
                 tol: float = 1e-2, verbose: bool = False, params: str = "ste", init_params: str = "ste",
                 implementation: str = "log"):
        super().__init__(n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter, tol,
                         params, init_params, verbose, implementation)
        self.emissionprob_prior = emissionprob_prior
        self.n_features = None if n_features is None else positive_int(n_features, "n_features")

    def _validate_X(self, X) -> np.ndarray:
        if isinstance(X, (list, tuple)):
            X = np.asarray(X)
        if not isinstance(X, np.ndarray):
            raise TypeError(f"X must be a numpy array of symbols, shape (n_samples, 1), got {type(X).__name__}")
        if not np.issubdtype(X.dtype, np.integer):
            raise ValueError(f"X must hold integer symbols 0, 1, 2, ..., got dtype {X.dtype}")
        if X.ndim != 2 or X.shape[1] != 1:
            raise ValueError(f"X must have shape (n_samples, 1), one symbol per row, got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError("X has no frames")
        if X.min() < 0:
            raise ValueError(f"X holds the negative symbol {X.min()}: symbols are 0 .. n_features - 1")
        if self.n_features is None:
            self.n_features = int(X.max()) + 1
        elif X.max() >= self.n_features:
            raise ValueError(f"X holds the symbol {X.max()} but the model emits only 0 .. {self.n_features - 1}")
        return X.astype(np.int64, copy=False)

    def _check_emissions(self) -> None:
        if self.emissionprob_.ndim != 2:
            raise ValueError(f"emissionprob_ must be 2-D (n_components, n_features), got {self.emissionprob_.shape}")
        if self.n_features is None:
            self.n_features = self.emissionprob_.shape[1]
        if self.emissionprob_.shape != (self.n_components, self.n_features):
            raise ValueError(f"emissionprob_ must have shape ({self.n_components}, {self.n_features}), "
                             f"got {self.emissionprob_.shape}")
        _check_distribution(self.emissionprob_, "emissionprob_")

    def _init_emissions(self, X, rng) -> None:
        if self._needs_init("e", "emissionprob_"):
            self.emissionprob_ = _normalize(rng.random((self.n_components, self.n_features)))

    def _log_frameprob(self, X) -> np.ndarray:
        return _log(self.emissionprob_)[:, X[:, 0]].T

    def _n_fit_scalars(self) -> dict:
        return {**super()._n_fit_scalars(), "e": self.n_components * (self.n_features - 1)}

    def _initial_stats(self) -> dict:
        return {**super()._initial_stats(), "obs": np.zeros((self.n_components, self.n_features))}

    def _accumulate_emissions(self, stats, X, gamma, cache) -> None:
        if "e" in self.params:
            np.add.at(stats["obs"].T, X[:, 0], gamma)  # obs[j, k] += gamma_t(j) for each frame with o_t = k

    def _mstep_emissions(self, stats) -> None:
        if "e" in self.params:
            self.emissionprob_ = _reestimate_rows(np.maximum(self.emissionprob_prior - 1.0 + stats["obs"], 0.0),
                                                  self.emissionprob_)

    def _sample_emissions(self, states, rng) -> np.ndarray:
        cdf = np.cumsum(self.emissionprob_, axis=1)
        cdf /= cdf[:, -1:]
        u = rng.random(states.shape[0])
        return np.sum(cdf[states] <= u[:, None], axis=1, dtype=np.int64)[:, None]


def _log_gaussian_tied(X: np.ndarray, means: np.ndarray, precisions_chol: np.ndarray) -> np.ndarray:
    """:math:`\\log \\mathcal N(\\mathbf o_t \\mid \\boldsymbol\\mu_{sk}, \\boldsymbol\\Sigma_s)`, shape (T, S, K).

    ``means`` (S, K, D) share, within each group s, the covariance whose
    precision factor is ``precisions_chol[s]`` (S, D, D), :math:`\\Sigma_s^{-1} = U_s U_s^T`.
    With :math:`\\mathbf y = U_s^T \\mathbf o` and :math:`\\mathbf m = U_s^T \\boldsymbol\\mu`,
    :math:`\\lVert \\mathbf y - \\mathbf m \\rVert^2 = \\lVert \\mathbf y \\rVert^2 - 2 \\mathbf y \\cdot \\mathbf m
    + \\lVert \\mathbf m \\rVert^2`: one product by :math:`U_s` per frame and group, not one per
    Gaussian. Frames and means are first shifted by the means' average, which
    changes no distance and keeps the three terms small (less cancellation).
    """
    n_features = X.shape[1]
    centre = means.reshape(-1, n_features).mean(axis=0)
    y = np.matmul(X - centre, precisions_chol)  # (S, T, D)
    m = np.matmul(means - centre, precisions_chol)  # (S, K, D)
    quad = (np.einsum("std,std->st", y, y)[:, :, None] - 2.0 * np.matmul(y, m.transpose(0, 2, 1))
            + np.einsum("skd,skd->sk", m, m)[:, None, :])  # (S, T, K)
    log_det = np.sum(np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)), axis=1)  # (S,)
    log_density = -0.5 * (n_features * np.log(2 * np.pi) + np.maximum(quad, 0.0)) + log_det[:, None, None]
    return log_density.transpose(1, 0, 2)


class _GaussianEmissions(_BaseHMM):
    """Frames as float vectors whose dimension the model remembers."""

    def _validate_X(self, X) -> np.ndarray:
        X = _as_frames(X)
        n_features = getattr(self, "n_features", None)
        if n_features is not None and X.shape[1] != n_features:
            raise ValueError(f"X has {X.shape[1]} features per frame but the model has n_features={n_features}")
        self.n_features = X.shape[1]
        return X

    def _check_covars_of(self, leading: tuple) -> None:
        """covars_ has hmmlearn's shape for ``leading`` (see ``_covars_shape``) and holds valid covariances."""
        expected = _covars_shape(self.covariance_type, leading, self.n_features)
        if self.covars_.shape != expected:
            raise ValueError(f"covars_ for covariance_type={self.covariance_type!r} must have shape {expected}, "
                             f"got {self.covars_.shape}")
        _check_covars(self.covars_, self.covariance_type)
        self._precisions_chol = None

    def _factors(self) -> np.ndarray:
        """Cholesky factors of every Gaussian's precision, once per parameter set, not once per sequence.

        Shape (G,) for spherical, (G, D) for diag, (G, D, D) for full, where
        G counts the Gaussians; (S, D, D) for tied, S the shared matrices.
        """
        if getattr(self, "_precisions_chol", None) is None:
            tail = {"spherical": (), "diag": self.covars_.shape[-1:]}.get(self.covariance_type,
                                                                          self.covars_.shape[-2:])
            self._precisions_chol = _precisions_cholesky(self.covars_.reshape((-1,) + tail), self.covariance_type,
                                                         self._variance_prior())
        return self._precisions_chol

    def _data_covariance(self, X) -> np.ndarray:
        """The covariance of all frames plus min_covar on the diagonal: hmmlearn's starting covariance."""
        if X.shape[0] < 2:
            raise ValueError("X needs at least 2 frames to initialise covariances")
        return np.atleast_2d(np.cov(X.T)) + self.min_covar * np.eye(X.shape[1])


class GaussianHMM(_GaussianEmissions):
    """HMM with one Gaussian per state: :math:`b_j(\\mathbf o) = \\mathcal N(\\mathbf o \\mid \\boldsymbol\\mu_j, \\boldsymbol\\Sigma_j)`.

    M-step (hmmlearn's, after Huang, Acero and Hon), with
    :math:`N_j = \\sum_t \\gamma_t(j)` and the prior terms (zero by default):

    .. math:: \\boldsymbol\\mu_j = \\frac{w\\, \\boldsymbol\\mu_0 + \\sum_t \\gamma_t(j)\\, \\mathbf o_t}{w + N_j}, \\qquad
              \\boldsymbol\\Sigma_j = \\frac{\\Psi + w (\\boldsymbol\\mu_j - \\boldsymbol\\mu_0)(\\cdot)^T
              + \\sum_t \\gamma_t(j) (\\mathbf o_t - \\boldsymbol\\mu_j)(\\mathbf o_t - \\boldsymbol\\mu_j)^T}{\\nu' + N_j},

    with :math:`w` = ``means_weight``, :math:`\\boldsymbol\\mu_0` = ``means_prior``,
    :math:`\\Psi` = ``covars_prior`` (added to every element), and
    :math:`\\nu' = \\max(\\nu - 1, 0)` (diag, spherical) or :math:`\\max(\\nu - D, 0)`
    (full, tied), :math:`\\nu` = ``covars_weight``. "diag" keeps the diagonal of
    :math:`\\boldsymbol\\Sigma_j`; "spherical" the mean of that diagonal,
    :math:`\\sigma_j^2 \\mathbf I`; "tied" one matrix for all states, the states'
    numerators (without :math:`\\Psi`) summed,
    :math:`\\boldsymbol\\Sigma = (\\Psi + \\sum_j [\\dots]_j) / (\\nu' + \\sum_j N_j)`, as hmmlearn.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"diag", "full", "spherical", "tied"}, default "diag"
    min_covar : float, default 1e-3
        Added to the diagonal of the starting covariance.
    startprob_prior, transmat_prior : float or ndarray, default 1.0
    means_prior, means_weight : float or ndarray, default 0
    covars_prior : float or ndarray, default 1e-2
    covars_weight : float or ndarray, default 1
    algorithm, random_state, n_iter, tol, verbose, implementation
        As :class:`CategoricalHMM`.
    params, init_params : str, default "stmc"
        ``s`` startprob_, ``t`` transmat_, ``m`` means_, ``c`` covars_.

    Attributes
    ----------
    startprob_, transmat_, monitor_
    means_ : ndarray, shape (n_components, n_features)
    covars_ : ndarray, shape (n_components, n_features) for "diag",
        (n_components, n_features, n_features) for "full", (n_components,)
        for "spherical", (n_features, n_features) for "tied": the shapes
        hmmlearn documents, and takes when ``covars_`` is set. (hmmlearn's
        ``covars_`` property returns full matrices; its ``_covars_`` holds
        what ours does, except that for "spherical" after an M-step it
        repeats each state's variance over the features, (n_components,
        n_features).) The starting "spherical" variance is the mean of the
        data's variances; hmmlearn's is the mean of every entry of the
        covariance matrix, off-diagonal ones included, which may be 0 or
        negative for anti-correlated features.
    covars_full_ : ndarray, shape (n_components, n_features, n_features)
        Read-only: every state's full covariance matrix, whatever the
        ``covariance_type``, which is what hmmlearn's ``covars_`` returns. Code
        ported from hmmlearn that reads ``model.covars_[i]`` as a matrix
        should read ``model.covars_full_[i]`` (for "diag" and "spherical"
        ``covars_[i]`` is a vector or a number here). Setting ``covars_``
        takes the same shapes in both libraries.

    Examples
    --------
    >>> model = GaussianHMM(2)
    >>> model.startprob_ = np.array([1.0, 0.0])
    >>> model.transmat_ = np.array([[0.9, 0.1], [0.0, 1.0]])
    >>> model.means_ = np.array([[0.0], [5.0]])
    >>> model.covars_ = np.array([[1.0], [1.0]])
    >>> model.predict(np.array([[0.1], [-0.3], [4.8], [5.2]]))
    array([0, 0, 1, 1])
    """

    _emission_params = ("means_", "covars_")

    def __init__(self, n_components: int = 1, covariance_type: str = "diag", min_covar: float = 1e-3,
                 startprob_prior=1.0, transmat_prior=1.0, means_prior=0, means_weight=0, covars_prior=1e-2,
                 covars_weight=1, algorithm: str = "viterbi", random_state=None, n_iter: int = 10,
                 tol: float = 1e-2, verbose: bool = False, params: str = "stmc", init_params: str = "stmc",
                 implementation: str = "log"):
        super().__init__(n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter, tol,
                         params, init_params, verbose, implementation)
        self.covariance_type = _check_covariance_type(covariance_type)
        self.min_covar = min_covar
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.n_features = None

    @property
    def covars_full_(self) -> np.ndarray:
        """hmmlearn's view of ``covars_``: one full matrix per state, shape (n_components, n_features, n_features).

        Examples
        --------
        >>> model = GaussianHMM(2, "diag")
        >>> model.covars_ = np.array([[1.0, 2.0], [3.0, 4.0]])
        >>> model.covars_full_[1]
        array([[3., 0.],
               [0., 4.]])
        """
        if not hasattr(self, "covars_"):
            raise NotFittedError("this GaussianHMM has no covars_: call fit(X) or set it")
        covars = np.asarray(self.covars_, dtype=np.float64)
        n = self.n_components
        if self.covariance_type == "spherical":
            d = self.n_features if self.n_features is not None else np.asarray(self.means_).shape[-1]
            return covars.reshape(n, 1, 1) * np.eye(d)
        if self.covariance_type == "diag":
            return covars[:, :, None] * np.eye(covars.shape[-1])
        if self.covariance_type == "tied":
            return np.broadcast_to(covars, (n,) + covars.shape).copy()
        return covars.copy()

    def _check_emissions(self) -> None:
        n = self.n_components
        if self.means_.ndim != 2 or self.means_.shape[0] != n:
            raise ValueError(f"means_ must have shape ({n}, n_features), got {self.means_.shape}")
        self.n_features = self.means_.shape[1]
        self._check_covars_of((n,))

    def _variance_prior(self) -> str:
        return "a larger covars_prior, which is added to every variance"

    def _init_emissions(self, X, rng) -> None:
        if self._needs_init("m", "means_"):
            self.means_ = _gmm.kmeans(X, self.n_components, random_state=rng)[0]
        if self._needs_init("c", "covars_"):
            cv = self._data_covariance(X)
            n = self.n_components
            self.covars_ = {"spherical": lambda: np.full(n, np.mean(np.diag(cv))),
                            "diag": lambda: np.tile(np.diag(cv), (n, 1)),
                            "full": lambda: np.tile(cv, (n, 1, 1)),
                            "tied": lambda: cv.copy()}[self.covariance_type]()

    def _log_frameprob(self, X) -> np.ndarray:
        if self.covariance_type == "tied":
            return _log_gaussian_tied(X, self.means_[None], self._factors())[:, 0]
        return _gmm._log_gaussian(X, self.means_, self._factors(), self.covariance_type)

    def _n_fit_scalars(self) -> dict:
        n, d = self.n_components, self.n_features
        covars = {"spherical": n, "diag": n * d, "full": n * d * (d + 1) // 2,
                  "tied": d * (d + 1) // 2}[self.covariance_type]
        return {**super()._n_fit_scalars(), "m": n * d, "c": covars}

    def _initial_stats(self) -> dict:
        n, d = self.n_components, self.n_features
        stats = {**super()._initial_stats(), "post": np.zeros(n), "obs": np.zeros((n, d))}
        if self.covariance_type in ("spherical", "diag"):
            stats["obs**2"] = np.zeros((n, d))
        elif self.covariance_type == "full":
            stats["obs*obs.T"] = np.zeros((n, d, d))
        else:  # tied needs only the sum over states, sum_t o_t o_t^T (the posteriors of a frame sum to 1)
            stats["obs*obs.T"] = np.zeros((d, d))
        return stats

    def _accumulate_emissions(self, stats, X, gamma, cache) -> None:
        if "m" in self.params or "c" in self.params:
            stats["post"] += gamma.sum(axis=0)
            stats["obs"] += gamma.T @ X
        if "c" in self.params:
            if self.covariance_type in ("spherical", "diag"):
                stats["obs**2"] += gamma.T @ X**2
            elif self.covariance_type == "full":  # sum_t gamma_t(j) o_t o_t^T, one matrix product per state
                stats["obs*obs.T"] += np.matmul((gamma.T[:, :, None] * X[None]).transpose(0, 2, 1), X)
            else:
                stats["obs*obs.T"] += X.T @ X

    def _mstep_emissions(self, stats) -> None:
        means_prior, means_weight = self.means_prior, self.means_weight
        denom = stats["post"][:, None]
        if "m" in self.params:
            with np.errstate(divide="ignore", invalid="ignore"):
                self.means_ = _defined((means_weight * means_prior + stats["obs"]) / (means_weight + denom),
                                       self.means_)
        if "c" in self.params:
            meandiff = self.means_ - means_prior
            if self.covariance_type in ("spherical", "diag"):
                c_n = (means_weight * meandiff**2 + stats["obs**2"] - 2 * self.means_ * stats["obs"]
                       + self.means_**2 * denom)
                c_d = max(self.covars_weight - 1, 0) + denom
                covars = (self.covars_prior + c_n) / np.maximum(c_d, 1e-5)
                # spherical: hmmlearn's per-feature variances, averaged over the features
                self.covars_ = covars.mean(axis=1) if self.covariance_type == "spherical" else covars
            elif self.covariance_type == "tied":  # the full-covariance numerators summed over states
                weight = np.broadcast_to(means_weight, (self.n_components,))
                obsmean = stats["obs"].T @ self.means_
                c_n = (np.einsum("j,ji,jk->ik", weight, meandiff, meandiff) + stats["obs*obs.T"] - obsmean
                       - obsmean.T + (stats["post"][:, None] * self.means_).T @ self.means_)
                c_d = max(self.covars_weight - self.n_features, 0) + stats["post"].sum()
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.covars_ = _defined((self.covars_prior + c_n) / c_d, self.covars_)
            else:
                outer = np.einsum("ji,jk->jik", meandiff, meandiff)
                obsmean = np.einsum("ji,jk->jik", stats["obs"], self.means_)
                c_n = (means_weight * outer + stats["obs*obs.T"] - obsmean - obsmean.transpose(0, 2, 1)
                       + np.einsum("ji,jk->jik", self.means_, self.means_) * stats["post"][:, None, None])
                c_d = max(self.covars_weight - self.n_features, 0) + stats["post"][:, None, None]
                with np.errstate(divide="ignore", invalid="ignore"):
                    self.covars_ = _defined((self.covars_prior + c_n) / c_d, self.covars_)
            self._precisions_chol = None

    def _sample_emissions(self, states, rng) -> np.ndarray:
        z = rng.standard_normal((states.shape[0], self.n_features))
        if self.covariance_type == "spherical":
            return self.means_[states] + np.sqrt(self.covars_[states])[:, None] * z
        if self.covariance_type == "diag":
            return self.means_[states] + np.sqrt(self.covars_[states]) * z
        if self.covariance_type == "tied":
            return self.means_[states] + z @ np.linalg.cholesky(self.covars_).T
        return self.means_[states] + np.einsum("tij,tj->ti", np.linalg.cholesky(self.covars_)[states], z)


class GMMHMM(_GaussianEmissions):
    """HMM with a Gaussian mixture per state, the emission model of classic speech recognisers.

    .. math:: b_j(\\mathbf o) = \\sum_{k=1}^{K} w_{jk}\\, \\mathcal N(\\mathbf o \\mid \\boldsymbol\\mu_{jk}, \\boldsymbol\\Sigma_{jk}).

    E-step: the state posterior splits over the components,
    :math:`\\gamma_t(j, k) = \\gamma_t(j)\\, \\frac{w_{jk} \\mathcal N(\\mathbf o_t \\mid \\boldsymbol\\mu_{jk},
    \\boldsymbol\\Sigma_{jk})}{b_j(\\mathbf o_t)}`. M-step (hmmlearn's, priors off by default), with
    :math:`N_{jk} = \\sum_t \\gamma_t(j, k)`:

    .. math:: w_{jk} = \\frac{N_{jk}}{\\sum_k N_{jk}}, \\qquad
              \\boldsymbol\\mu_{jk} = \\frac{\\sum_t \\gamma_t(j, k)\\, \\mathbf o_t}{N_{jk}}, \\qquad
              \\boldsymbol\\Sigma_{jk} = \\frac{\\sum_t \\gamma_t(j, k)\\, (\\mathbf o_t - \\boldsymbol\\mu^{\\text{old}}_{jk})
              (\\cdot)^T}{N_{jk}}.

    Like hmmlearn, the covariance statistics are centred on the means the
    E-step used (:math:`\\boldsymbol\\mu^{\\text{old}}`), not on the new ones;
    the two agree once EM has converged (the difference is
    :math:`(\\boldsymbol\\mu - \\boldsymbol\\mu^{\\text{old}})(\\cdot)^T`). We follow it so
    that both produce the same numbers. "diag" keeps the diagonal of
    :math:`\\boldsymbol\\Sigma_{jk}`; "spherical" one variance per component, the
    squared distances summed over the :math:`D` features,
    :math:`\\sigma^2_{jk} = \\sum_t \\gamma_t(j, k) \\lVert \\mathbf o_t - \\boldsymbol\\mu^{\\text{old}}_{jk}
    \\rVert^2 / (D N_{jk})`; "tied" one matrix per state shared by its components,
    :math:`\\boldsymbol\\Sigma_j = \\sum_k \\sum_t \\gamma_t(j, k) (\\cdot)(\\cdot)^T / \\sum_k N_{jk}`.

    Parameters
    ----------
    n_components : int, default 1
        Number of states :math:`N`.
    n_mix : int, default 1
        Components per state :math:`K`.
    min_covar : float, default 1e-3
    startprob_prior, transmat_prior : float or ndarray, default 1.0
    weights_prior : float or ndarray, default 1.0
    means_prior, means_weight : float or ndarray, default 0.0
    covars_prior, covars_weight : float or ndarray, optional
        hmmlearn's defaults by covariance type: diag -1.5 and 0, full 0 and
        :math:`-(D + 2)`, tied 0 and :math:`-(K + D + 1)`, which make the
        updates plain maximum likelihood; spherical :math:`-(K + 2)/2` and 0,
        hmmlearn's, which divide the scatter by :math:`D(N_{jk} + 1) - K`
        instead of :math:`D N_{jk}` (maximum likelihood only when
        :math:`K = D`; pass ``covars_prior=-(D + 2) / 2`` for it). Shapes as
        hmmlearn's: diag (N, K, D) and (N, K, D); spherical (N, K) and (N, K);
        full (N, K, D, D) and (N, K); tied (N, D, D) and (N,).
    algorithm, random_state, n_iter, tol, verbose, implementation
        As :class:`CategoricalHMM`.
    covariance_type : {"diag", "full", "spherical", "tied"}, default "diag"
    params, init_params : str, default "stmcw"
        ``s``, ``t``, ``m`` means_, ``c`` covars_, ``w`` weights_.

    Attributes
    ----------
    startprob_, transmat_, monitor_
    weights_ : ndarray, shape (n_components, n_mix)
    means_ : ndarray, shape (n_components, n_mix, n_features)
    covars_ : ndarray, shape (n_components, n_mix, n_features) for "diag",
        (n_components, n_mix, n_features, n_features) for "full",
        (n_components, n_mix) for "spherical", (n_components, n_features,
        n_features) for "tied": hmmlearn's shapes. The starting "spherical"
        variance is the mean of the data's variances (hmmlearn's: the mean of
        every entry of the covariance matrix).

    Examples
    --------
    >>> model = GMMHMM(1, n_mix=2)
    >>> model.startprob_, model.transmat_ = np.array([1.0]), np.array([[1.0]])
    >>> model.weights_ = np.array([[0.5, 0.5]])
    >>> model.means_ = np.array([[[-2.0], [2.0]]])
    >>> model.covars_ = np.array([[[1.0], [1.0]]])
    >>> x = np.array([[2.0]])  # 0.5 N(2 | -2, 1) + 0.5 N(2 | 2, 1)
    >>> round(float(np.exp(model.score(x))), 6)
    0.199538
    """

    _emission_params = ("weights_", "means_", "covars_")

    def __init__(self, n_components: int = 1, n_mix: int = 1, min_covar: float = 1e-3, startprob_prior=1.0,
                 transmat_prior=1.0, weights_prior=1.0, means_prior=0.0, means_weight=0.0, covars_prior=None,
                 covars_weight=None, algorithm: str = "viterbi", covariance_type: str = "diag", random_state=None,
                 n_iter: int = 10, tol: float = 1e-2, verbose: bool = False, params: str = "stmcw",
                 init_params: str = "stmcw", implementation: str = "log"):
        super().__init__(n_components, startprob_prior, transmat_prior, algorithm, random_state, n_iter, tol,
                         params, init_params, verbose, implementation)
        self.n_mix = positive_int(n_mix, "n_mix")
        self.min_covar = min_covar
        self.weights_prior = weights_prior
        self.means_prior = means_prior
        self.means_weight = means_weight
        self.covars_prior = covars_prior
        self.covars_weight = covars_weight
        self.covariance_type = _check_covariance_type(covariance_type)
        self.n_features = None

    def _priors(self) -> dict:
        """hmmlearn's prior defaults and shapes (its _init_covar_priors and _fix_priors_shape)."""
        n, m, d = self.n_components, self.n_mix, self.n_features
        defaults, shapes = {  # covariance_type: ((covars_prior, covars_weight), their shapes)
            "diag": ((-1.5, 0.0), ((n, m, d), (n, m, d))),
            "spherical": ((-(m + 2.0) / 2.0, 0.0), ((n, m), (n, m))),
            "full": ((0.0, -(1.0 + d + 1.0)), ((n, m, d, d), (n, m))),
            "tied": ((0.0, -(m + d + 1.0)), ((n, d, d), (n,))),
        }[self.covariance_type]
        covars_prior = defaults[0] if self.covars_prior is None else self.covars_prior
        covars_weight = defaults[1] if self.covars_weight is None else self.covars_weight
        return {"weights_prior": np.broadcast_to(self.weights_prior, (n, m)),
                "means_prior": np.broadcast_to(self.means_prior, (n, m, d)),
                "means_weight": np.broadcast_to(self.means_weight, (n, m)),
                "covars_prior": np.broadcast_to(covars_prior, shapes[0]),
                "covars_weight": np.broadcast_to(covars_weight, shapes[1])}

    def _check_emissions(self) -> None:
        n, m = self.n_components, self.n_mix
        if self.means_.ndim != 3 or self.means_.shape[:2] != (n, m):
            raise ValueError(f"means_ must have shape ({n}, {m}, n_features), got {self.means_.shape}")
        self.n_features = self.means_.shape[2]
        if self.weights_.shape != (n, m):
            raise ValueError(f"weights_ must have shape ({n}, {m}), got {self.weights_.shape}")
        _check_distribution(self.weights_, "weights_")
        self._check_covars_of((n, m))

    def _variance_prior(self) -> str:
        if self.covariance_type in ("spherical", "diag"):  # inverse-gamma: (scatter + 2 covars_weight) / (...)
            return "a positive covars_weight, which adds 2 * covars_weight to every component's scatter"
        return "a positive covars_prior, the matrix added to every component's scatter"

    def _init_emissions(self, X, rng) -> None:
        n, m, d = self.n_components, self.n_mix, X.shape[1]
        if self._needs_init("w", "weights_"):
            self.weights_ = np.full((n, m), 1.0 / m)
        if self._needs_init("m", "means_"):  # k-means into states, then k-means within each state's frames
            centers, labels, _, _ = _gmm.kmeans(X, n, random_state=rng)
            means = np.empty((n, m, d))
            for j in range(n):
                frames = X[labels == j]
                if frames.shape[0] >= m:
                    means[j] = _gmm.kmeans(frames, m, random_state=rng)[0]
                else:
                    means[j] = rng.multivariate_normal(centers.mean(axis=0), self._data_covariance(X), size=m)
            self.means_ = means
        if self._needs_init("c", "covars_"):
            cv = self._data_covariance(X)
            template = {"spherical": np.mean(np.diag(cv)), "diag": np.diag(cv)}.get(self.covariance_type, cv)
            self.covars_ = np.broadcast_to(template, _covars_shape(self.covariance_type, (n, m), d)).copy()

    def _log_components(self, X) -> np.ndarray:
        """:math:`\\log w_{jk} + \\log \\mathcal N(\\mathbf o_t \\mid \\boldsymbol\\mu_{jk}, \\boldsymbol\\Sigma_{jk})`, shape (n_samples, N, K)."""
        n, m, d = self.means_.shape
        if self.covariance_type == "tied":
            return _log_gaussian_tied(X, self.means_, self._factors()) + _log(self.weights_)
        log_densities = _gmm._log_gaussian(X, self.means_.reshape(n * m, d), self._factors(), self.covariance_type)
        return log_densities.reshape(X.shape[0], n, m) + _log(self.weights_)

    def _log_frameprob(self, X) -> np.ndarray:
        return logsumexp(self._log_components(X), axis=2)

    def _log_frameprob_and_cache(self, X):
        log_components = self._log_components(X)
        log_frameprob = logsumexp(log_components, axis=2)
        return log_frameprob, log_components

    def _n_fit_scalars(self) -> dict:
        n, m, d = self.n_components, self.n_mix, self.n_features
        covars = {"spherical": n * m, "diag": n * m * d, "full": n * m * d * (d + 1) // 2,
                  "tied": n * d * (d + 1) // 2}[self.covariance_type]
        # hmmlearn counts n_mix - 1 free weights in all; each state has its own n_mix - 1.
        return {**super()._n_fit_scalars(), "m": n * m * d, "c": covars, "w": n * (m - 1)}

    def _initial_stats(self) -> dict:
        priors = self._priors()
        stats = {**super()._initial_stats(), "post_mix_sum": np.zeros((self.n_components, self.n_mix)),
                 "post_sum": np.zeros(self.n_components)}
        if "m" in self.params:
            stats["m_n"] = priors["means_weight"][:, :, None] * priors["means_prior"]
        if "c" in self.params:
            stats["c_n"] = np.zeros_like(self.covars_)
        return stats

    def _accumulate_emissions(self, stats, X, gamma, log_components, chunk: int = 2048) -> None:
        n, m, d = self.means_.shape
        log_components = log_components - logsumexp(log_components, axis=2, keepdims=True)
        with np.errstate(under="ignore"):
            post = gamma[:, :, None] * np.exp(log_components)  # gamma_t(j, k), shape (T, N, K)
        stats["post_mix_sum"] += post.sum(axis=0)
        stats["post_sum"] += gamma.sum(axis=0)
        post = post.reshape(X.shape[0], n * m)
        if "m" in self.params:
            stats["m_n"] += (post.T @ X).reshape(n, m, d)
        if "c" in self.params:  # centred on the current means, in chunks of frames to bound memory
            means = self.means_.reshape(n * m, d)
            c_n = stats["c_n"].reshape((n * m,) + self.covars_.shape[2:]) if self.covariance_type != "tied" \
                else stats["c_n"]
            for start in range(0, X.shape[0], chunk):
                centered = X[start:start + chunk, None, :] - means  # (t, N*M, D)
                weights = post[start:start + chunk]
                if self.covariance_type == "diag":
                    c_n += np.einsum("tc,tcd->cd", weights, centered**2)
                elif self.covariance_type == "spherical":  # squared distances, summed over features
                    c_n += np.einsum("tc,tcd->c", weights, centered**2)
                elif self.covariance_type == "full":
                    weighted = (weights[:, :, None] * centered).transpose(1, 2, 0)  # (N*M, D, t)
                    c_n += np.matmul(weighted, centered.transpose(1, 0, 2))
                else:  # tied: one matrix per state, summed over its components and the frames
                    t = centered.shape[0]
                    centered = centered.reshape(t, n, m, d).transpose(1, 0, 2, 3).reshape(n, t * m, d)
                    weighted = weights.reshape(t, n, m).transpose(1, 0, 2).reshape(n, t * m, 1) * centered
                    c_n += np.matmul(weighted.transpose(0, 2, 1), centered)

    def _mstep_emissions(self, stats) -> None:
        priors = self._priors()
        d = self.n_features
        if "w" in self.params:
            alphas_minus_one = priors["weights_prior"] - 1.0
            with np.errstate(divide="ignore", invalid="ignore"):
                self.weights_ = _defined((stats["post_mix_sum"] + alphas_minus_one)
                                         / (stats["post_sum"] + alphas_minus_one.sum(axis=1))[:, None], self.weights_)
        if "m" in self.params:
            m_n = stats["m_n"]
            m_d = stats["post_mix_sum"] + priors["means_weight"]
            m_d = np.where((self.weights_ == 0) & np.all(m_n == 0, axis=-1), 1.0, m_d)  # unused component
            with np.errstate(divide="ignore", invalid="ignore"):
                self.means_ = _defined(m_n / m_d[:, :, None], self.means_)
        if "c" in self.params:
            lambdas = priors["means_weight"]
            centered = self.means_ - priors["means_prior"]
            if self.covariance_type == "full":
                c_n = (np.swapaxes(priors["covars_prior"], -1, -2)
                       + lambdas[:, :, None, None] * np.einsum("jki,jkl->jkil", centered, centered) + stats["c_n"])
                c_d = (stats["post_mix_sum"] + 1 + priors["covars_weight"] + d + 1)[:, :, None, None]
            elif self.covariance_type == "tied":  # the full update, numerators and counts summed over components
                c_n = (np.swapaxes(priors["covars_prior"], -1, -2) + stats["c_n"]
                       + np.einsum("jk,jki,jkl->jil", lambdas, centered, centered))
                c_d = (stats["post_sum"] + self.n_mix + priors["covars_weight"] + d + 1)[:, None, None]
            elif self.covariance_type == "spherical":  # the diag update, summed over features
                c_n = (lambdas * np.einsum("jki,jki->jk", centered, centered) + 2 * priors["covars_weight"]
                       + stats["c_n"])
                c_d = d * (stats["post_mix_sum"] + 1) + 2 * (priors["covars_prior"] + 1)
            else:
                c_n = lambdas[:, :, None] * centered**2 + 2 * priors["covars_weight"] + stats["c_n"]
                c_d = stats["post_mix_sum"][:, :, None] + 1 + 2 * (priors["covars_prior"] + 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                self.covars_ = _defined(c_n / c_d, self.covars_)
            self._precisions_chol = None

    def _sample_emissions(self, states, rng) -> np.ndarray:
        n_samples = states.shape[0]
        cdf = np.cumsum(self.weights_, axis=1)
        cdf /= cdf[:, -1:]
        mix = np.sum(cdf[states] <= rng.random(n_samples)[:, None], axis=1)
        z = rng.standard_normal((n_samples, self.n_features))
        means = self.means_[states, mix]
        if self.covariance_type == "spherical":
            return means + np.sqrt(self.covars_[states, mix])[:, None] * z
        if self.covariance_type == "diag":
            return means + np.sqrt(self.covars_[states, mix]) * z
        if self.covariance_type == "tied":  # a state's components share its matrix
            return means + np.einsum("tij,tj->ti", np.linalg.cholesky(self.covars_)[states], z)
        return means + np.einsum("tij,tj->ti", np.linalg.cholesky(self.covars_)[states, mix], z)

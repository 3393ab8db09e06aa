"""Hidden Markov models: the forward, backward and Viterbi recursions and the state posteriors.

An HMM :math:`\\lambda = (\\pi, A, B)` has :math:`N` hidden states. It starts
in state :math:`i` with probability :math:`\\pi_i` (``startprob``), moves from
:math:`i` to :math:`j` with probability :math:`a_{ij}` (``transmat``, rows sum
to 1) and, in state :math:`j` at frame :math:`t`, emits the observation
:math:`o_t` with likelihood :math:`b_j(o_t)`. Everything in this module works
on the emission **log**-likelihoods ``log_frameprob[t, j]`` = :math:`\\log b_j(o_t)`,
so the same recursions serve discrete, Gaussian and GMM emissions alike.

A product of thousands of probabilities underflows, so nothing is computed
with raw probabilities. :func:`forward`, :func:`backward` and
:func:`posteriors` work in log space with log-sum-exp. :func:`forward_scaled`
is the other classic remedy (Rabiner's scaling: renormalise
:math:`\\alpha_t` to sum to 1 and add up the logs of the factors). It is
cheaper, but on long sequences whose frames favour different states by
hundreds of nats, as speech frames under GMMs do, a path that is negligible
at one frame and dominant later can round to zero and be lost, and then the
likelihood is wrong; the notebook shows when. :func:`viterbi` works in log
space, where a maximum of sums needs no rescaling at all.

Names follow hmmlearn (``startprob``, ``transmat``, ``log_frameprob``,
``fwdlattice``), so the comparison in the notebook reads line by line.

Chapter: ``notebooks/03_hmm.ipynb``.
"""

from __future__ import annotations

import numpy as np

from .logspace import logsumexp

__all__ = ["forward", "forward_scaled", "backward", "posteriors", "viterbi"]


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
    for name, value, axis in (("startprob", startprob, None), ("transmat", transmat, 1)):
        if not np.all(np.isfinite(value)) or np.any(value < 0):
            raise ValueError(f"{name} must hold probabilities (finite, >= 0)")
        if not np.allclose(value.sum(axis=axis), 1.0):
            what = "startprob must sum to 1" if axis is None else "every row of transmat must sum to 1"
            raise ValueError(f"{what}, got sums {np.round(value.sum(axis=axis), 6)}")
    if not isinstance(log_frameprob, np.ndarray):
        raise TypeError(f"log_frameprob must be a numpy array, got {type(log_frameprob).__name__}")
    if log_frameprob.ndim != 2 or log_frameprob.shape[1] != n_states:
        raise ValueError(f"log_frameprob must have shape (n_frames, {n_states}), got {log_frameprob.shape}")
    if log_frameprob.shape[0] == 0:
        raise ValueError("log_frameprob has no frames")
    if np.isnan(log_frameprob).any() or np.isposinf(log_frameprob).any():
        raise ValueError("log_frameprob contains NaN or +inf (log-likelihoods may be -inf, not NaN)")
    return startprob.astype(np.float64), transmat.astype(np.float64), log_frameprob.astype(np.float64)


def _log_params(startprob, transmat):
    """log pi and log A, with log 0 = -inf (forbidden starts and transitions)."""
    with np.errstate(divide="ignore"):
        return np.log(startprob), np.log(transmat)


def _impossible() -> ValueError:
    return ValueError("the sequence is impossible under the model: every path has probability 0")


def _scaled_frames(log_frameprob):
    """Per-frame likelihoods divided by their maximum, and the log of that maximum."""
    shift = log_frameprob.max(axis=1)
    if np.isneginf(shift).any():
        t = int(np.flatnonzero(np.isneginf(shift))[0])
        raise ValueError(f"frame {t} has zero likelihood in every state: the sequence is impossible under the model")
    return np.exp(log_frameprob - shift[:, None]), shift


def _forward_scaled(startprob, transmat, frames):
    """alpha_hat[t] (each sums to 1) and scale factors c[t]; log P = sum log c + sum shifts."""
    n_frames, n_states = frames.shape
    alpha = np.empty((n_frames, n_states))
    scale = np.empty(n_frames)
    a = startprob * frames[0]
    for t in range(n_frames):
        if t:
            a = (a @ transmat) * frames[t]
        c = a.sum()
        if c == 0.0:
            raise ValueError(f"the sequence is impossible under the model: no path reaches frame {t}")
        a = a / c
        alpha[t] = a
        scale[t] = c
    return alpha, scale


def forward(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The forward algorithm in log space: :math:`\\log P(O \\mid \\lambda)` and :math:`\\log \\alpha`.

    .. math:: \\alpha_1(j) = \\pi_j b_j(o_1), \\qquad
              \\alpha_{t}(j) = \\Big(\\sum_i \\alpha_{t-1}(i)\\, a_{ij}\\Big) b_j(o_t), \\qquad
              P(O \\mid \\lambda) = \\sum_j \\alpha_T(j),

    computed as :math:`\\log \\alpha_t(j) = \\log b_j(o_t) + \\operatorname{LSE}_i(\\log \\alpha_{t-1}(i) + \\log a_{ij})`.

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
    return _forward_log(*_log_params(startprob, transmat), log_frameprob)


def _forward_log(log_pi, log_A, log_frameprob):
    fwd = np.empty_like(log_frameprob)
    fwd[0] = log_pi + log_frameprob[0]
    for t in range(1, log_frameprob.shape[0]):
        fwd[t] = logsumexp(fwd[t - 1][:, None] + log_A, axis=0) + log_frameprob[t]
    log_prob = float(logsumexp(fwd[-1]))
    if np.isneginf(log_prob):
        raise _impossible()
    return log_prob, fwd


def forward_scaled(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The forward algorithm with Rabiner's scaling instead of logarithms.

    Same recursion as :func:`forward`, in probabilities:

    .. math:: \\alpha_1(j) = \\pi_j b_j(o_1), \\qquad
              \\alpha_{t}(j) = \\Big(\\sum_i \\alpha_{t-1}(i)\\, a_{ij}\\Big) b_j(o_t), \\qquad
              P(O \\mid \\lambda) = \\sum_j \\alpha_T(j)

    computed as normalised :math:`\\hat\\alpha_t = \\alpha_t / (c_1 \\cdots c_t)`
    that sum to 1, so :math:`\\log P = \\sum_t \\log c_t`.

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
    with np.errstate(divide="ignore"):
        fwdlattice = np.log(alpha) + log_scale[:, None]
    return float(log_scale[-1]), fwdlattice


def backward(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> np.ndarray:
    """The backward algorithm in log space: :math:`\\log \\beta`.

    .. math:: \\beta_T(i) = 1, \\qquad \\beta_t(i) = \\sum_j a_{ij}\\, b_j(o_{t+1})\\, \\beta_{t+1}(j)

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
    log_pi, log_A = _log_params(startprob, transmat)
    bwd = _backward_log(log_A, log_frameprob)
    if np.isneginf(logsumexp(log_pi + log_frameprob[0] + bwd[0])):
        raise _impossible()
    return bwd


def posteriors(startprob: np.ndarray, transmat: np.ndarray,
               log_frameprob: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """State posteriors :math:`\\gamma` and summed transition posteriors :math:`\\sum_t \\xi_t`.

    .. math:: \\gamma_t(i) = P(q_t = i \\mid O, \\lambda) = \\frac{\\alpha_t(i)\\, \\beta_t(i)}{P(O \\mid \\lambda)}, \\qquad
              \\xi_t(i, j) = \\frac{\\alpha_t(i)\\, a_{ij}\\, b_j(o_{t+1})\\, \\beta_{t+1}(j)}{P(O \\mid \\lambda)}

    These are the E-step of Baum-Welch: expected state occupancies and
    expected transition counts.

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
    log_pi, log_A = _log_params(startprob, transmat)
    log_prob, fwd = _forward_log(log_pi, log_A, log_frameprob)  # validated once, above
    bwd = _backward_log(log_A, log_frameprob)
    gamma, xi_sum = _posteriors_from_lattices(log_A, log_frameprob, fwd, bwd)
    return log_prob, gamma, xi_sum


def _backward_log(log_A, log_frameprob):
    bwd = np.zeros_like(log_frameprob)
    for t in range(log_frameprob.shape[0] - 2, -1, -1):
        bwd[t] = logsumexp(log_A + (log_frameprob[t + 1] + bwd[t + 1])[None, :], axis=1)
    return bwd


def _posteriors_from_lattices(log_A, log_frameprob, fwd, bwd, chunk: int = 2048):
    """gamma and xi_sum from log alpha and log beta; xi is summed chunk by chunk to bound memory."""
    log_gamma = fwd + bwd
    log_gamma -= logsumexp(log_gamma, axis=1, keepdims=True)
    n_frames, n_states = log_frameprob.shape
    if n_frames == 1:
        return np.exp(log_gamma), np.zeros((n_states, n_states))
    parts = []
    for start in range(0, n_frames - 1, chunk):
        stop = min(start + chunk, n_frames - 1)
        log_xi = (fwd[start:stop, :, None] + log_A[None]
                  + (log_frameprob[start + 1:stop + 1] + bwd[start + 1:stop + 1])[:, None, :])
        log_xi -= logsumexp(log_xi, axis=(1, 2), keepdims=True)  # each xi_t sums to 1
        parts.append(logsumexp(log_xi, axis=0))
    return np.exp(log_gamma), np.exp(logsumexp(np.stack(parts), axis=0))


def viterbi(startprob: np.ndarray, transmat: np.ndarray, log_frameprob: np.ndarray) -> tuple[float, np.ndarray]:
    """The most likely state sequence, by dynamic programming in log space.

    .. math:: \\delta_1(j) = \\log \\pi_j + \\log b_j(o_1), \\qquad
              \\delta_t(j) = \\max_i \\big(\\delta_{t-1}(i) + \\log a_{ij}\\big) + \\log b_j(o_t),

    with back-pointers :math:`\\psi_t(j) = \\arg\\max_i(\\cdot)` followed back
    from :math:`\\arg\\max_j \\delta_T(j)`.

    Parameters
    ----------
    startprob, transmat, log_frameprob
        As :func:`forward`.

    Returns
    -------
    log_prob : float
        :math:`\\log P(O, Q^* \\mid \\lambda)` of the best path.
    state_sequence : ndarray of int64, shape (n_frames,)
        Equal to hmmlearn's ``_hmmc.viterbi`` (ties broken towards the lower state).

    Examples
    --------
    >>> pi = np.array([0.5, 0.5]); A = np.array([[0.7, 0.3], [0.3, 0.7]])
    >>> logB = np.log(np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9]]))
    >>> viterbi(pi, A, logB)[1]  # delta: [.45, .05] -> [.0315, .1215] -> [.003645, .076545]
    array([0, 1, 1])
    """
    startprob, transmat, log_frameprob = _check_model(startprob, transmat, log_frameprob)
    n_frames, n_states = log_frameprob.shape
    log_pi, log_A = _log_params(startprob, transmat)
    backpointers = np.empty((n_frames, n_states), dtype=np.int64)
    delta = log_pi + log_frameprob[0]
    states = np.arange(n_states)
    for t in range(1, n_frames):
        scores = delta[:, None] + log_A  # scores[i, j]: come from i, go to j
        best = np.argmax(scores, axis=0)
        backpointers[t] = best
        delta = scores[best, states] + log_frameprob[t]
    path = np.empty(n_frames, dtype=np.int64)
    path[-1] = int(np.argmax(delta))
    for t in range(n_frames - 1, 0, -1):
        path[t - 1] = backpointers[t, path[t]]
    log_prob = float(delta[path[-1]])
    if np.isneginf(log_prob):
        raise _impossible()
    return log_prob, path

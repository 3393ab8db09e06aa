"""Arithmetic on log-probabilities: the log-sum-exp trick.

Likelihoods of speech frames are tiny: a 39-dimensional Gaussian density is
often below :math:`10^{-40}`, and a product over hundreds of frames underflows
any floating-point number. So the course keeps probabilities as logarithms.
Products become sums, but sums become

.. math:: \\log \\sum_i e^{a_i} = m + \\log \\sum_i e^{a_i - m}, \\qquad m = \\max_i a_i,

where subtracting the maximum first makes the largest term :math:`e^0 = 1`, so
nothing overflows and the sum cannot underflow to zero. Mixture models
(Chapter 2), hidden Markov models (Chapter 3) and CTC (Chapter 5) all use it.

Chapter: ``notebooks/02_gmm_em.ipynb``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["logsumexp"]


def logsumexp(a: np.ndarray, axis: int | tuple | None = None, keepdims: bool = False) -> np.ndarray:
    """Compute :math:`\\log \\sum e^{a}` without overflow or underflow.

    .. math:: \\operatorname{LSE}(a) = m + \\log \\sum_i e^{a_i - m}, \\qquad m = \\max_i a_i

    Entries of :math:`-\\infty` (log 0) are allowed; if every entry along the
    axis is :math:`-\\infty` the result is :math:`-\\infty` (the log of a zero
    sum), without a warning.

    Parameters
    ----------
    a : ndarray of float
        Log-values; ``-inf`` allowed, ``nan`` and ``+inf`` not.
    axis : int, tuple of int or None, default None
        Axis or axes to sum over; ``None`` sums everything.
    keepdims : bool, default False
        Keep the summed axes with length 1.

    Returns
    -------
    ndarray or float
        Equal to ``scipy.special.logsumexp(a, axis=axis, keepdims=keepdims)``.

    Raises
    ------
    TypeError
        If ``a`` is not a real float array.
    ValueError
        If ``a`` is empty or holds NaN or ``+inf``.

    Examples
    --------
    >>> float(logsumexp(np.array([1000.0, 1000.0])))  # naive: log(inf)
    1000.6931471805599
    >>> float(logsumexp(np.array([-1000.0, -1000.0])))  # naive: log(0) = -inf
    -999.3068528194401
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"a must be a numpy array of log-values, got {type(a).__name__}")
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"a must hold real floats (log-values), got dtype {a.dtype}")
    if a.size == 0:
        raise ValueError("a is empty: the log of an empty sum is not defined here")
    if np.isnan(a).any() or np.isposinf(a).any():
        raise ValueError("a contains NaN or +inf")
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # an all -inf slice: shift by 0, exp gives 0, log gives -inf
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True)) + m
    if keepdims:
        return out
    if axis is None:
        return out.reshape(())[()]  # a NumPy scalar, as scipy returns
    return np.squeeze(out, axis=axis)

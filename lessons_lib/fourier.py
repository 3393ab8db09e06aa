"""The discrete Fourier transform: as a matrix, and fast.

The DFT of :math:`N` samples :math:`x[0..N-1]` is

.. math:: X[k] = \\sum_{n=0}^{N-1} x[n]\\, W_N^{kn}, \\qquad W_N = e^{-2\\pi i / N}, \\qquad k = 0, \\dots, N-1,

a matrix-vector product :math:`\\mathbf{X} = \\mathbf{F}_N \\mathbf{x}` with the DFT
matrix :math:`(\\mathbf{F}_N)_{kn} = W_N^{kn}`, which costs :math:`O(N^2)`. The fast Fourier transform computes the same numbers
in :math:`O(N \\log N)`: radix-2 Cooley-Tukey when :math:`N` is a power of two,
and Bluestein's chirp-z algorithm, which rewrites a DFT of any length as a
convolution that a power-of-two FFT can do, otherwise. No length is excluded.

Every function here transforms the **last** axis, accepts real or complex
input with any leading (batch) shape, and returns complex128, like
``numpy.fft``.

Chapter: ``notebooks/01a_sampling_and_fourier.ipynb``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._checks import finite_array, positive_int, sample_rate

__all__ = ["dft_matrix", "dft", "idft", "fft", "ifft", "fft_frequencies"]


def _signal(x, name: str = "x") -> np.ndarray:
    x = finite_array(x, name)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (the last axis is transformed)")
    return x.astype(np.complex128, copy=False)


def dft_matrix(n: int) -> np.ndarray:
    """The :math:`N \\times N` DFT matrix :math:`(\\mathbf{F}_N)_{kn} = W_N^{kn} = e^{-2\\pi i k n / N}`.

    The exponent is reduced modulo :math:`N` first (:math:`kn \\bmod N`), which
    keeps the angles small and the entries accurate for large :math:`N`.

    Parameters
    ----------
    n : int
        Transform length :math:`N`, positive.

    Returns
    -------
    ndarray of complex128, shape (n, n)
        Symmetric; :math:`\\mathbf{F}_N \\mathbf{F}_N^{\\mathsf{H}} = N \\mathbf{I}`, so
        :math:`\\mathbf{F}_N^{-1} = \\mathbf{F}_N^{\\mathsf{H}} / N`.

    Examples
    --------
    >>> np.round(dft_matrix(4))
    array([[ 1.+0.j,  1.+0.j,  1.+0.j,  1.+0.j],
           [ 1.+0.j,  0.-1.j, -1.-0.j, -0.+1.j],
           [ 1.+0.j, -1.-0.j,  1.+0.j, -1.-0.j],
           [ 1.+0.j, -0.+1.j, -1.-0.j,  0.-1.j]])
    """
    n = positive_int(n, "n")
    k = np.arange(n)
    return np.exp(-2j * np.pi * (np.outer(k, k) % n) / n)


def dft(x: np.ndarray) -> np.ndarray:
    """The DFT by the definition, as a matrix product: :math:`\\mathbf{X} = \\mathbf{F}_N \\mathbf{x}`, :math:`O(N^2)`.

    Parameters
    ----------
    x : ndarray, shape (..., N)
        Real or complex; the last axis is transformed.

    Returns
    -------
    ndarray of complex128, shape (..., N)
        Equal to ``numpy.fft.fft(x)``.

    Examples
    --------
    >>> np.round(dft(np.array([1.0, 2.0, 3.0, 4.0])), 10)
    array([10.+0.j, -2.+2.j, -2.+0.j, -2.-2.j])
    """
    x = _signal(x)
    return x @ dft_matrix(x.shape[-1]).T


def idft(X: np.ndarray) -> np.ndarray:
    """The inverse DFT by the definition: :math:`\\mathbf{x} = \\mathbf{F}_N^{\\mathsf{H}} \\mathbf{X} / N`.

    .. math:: x[n] = \\frac{1}{N} \\sum_{k=0}^{N-1} X[k]\\, e^{+2\\pi i k n / N}

    Parameters
    ----------
    X : ndarray, shape (..., N)

    Returns
    -------
    ndarray of complex128, shape (..., N)
        Equal to ``numpy.fft.ifft(X)``.

    Examples
    --------
    >>> np.round(idft(dft(np.array([1.0, 2.0, 3.0]))).real, 10)
    array([1., 2., 3.])
    """
    X = _signal(X, "X")
    n = X.shape[-1]
    return X @ np.conj(dft_matrix(n)).T / n


@lru_cache(maxsize=64)
def _bit_reversed(n: int) -> np.ndarray:
    """Indices 0..n-1 with their log2(n)-bit binary digits reversed (cached, read-only)."""
    bits = n.bit_length() - 1
    index = np.arange(n)
    reversed_index = np.zeros(n, dtype=np.int64)
    for b in range(bits):
        reversed_index |= ((index >> b) & 1) << (bits - 1 - b)
    reversed_index.flags.writeable = False
    return reversed_index


@lru_cache(maxsize=64)
def _twiddles(m: int) -> np.ndarray:
    """:math:`e^{-\\pi i k / m}` for :math:`k = 0, \\dots, m - 1` (cached, read-only)."""
    w = np.exp(-1j * np.pi * np.arange(m) / m)
    w.flags.writeable = False
    return w


def _fft_radix2(x: np.ndarray) -> np.ndarray:
    """Iterative radix-2 decimation-in-time FFT of the last axis (length a power of two).

    After the bit-reversal permutation, every block of :math:`2m` entries holds
    the length-:math:`m` DFTs of its even- and odd-indexed halves; one
    butterfly stage turns them into a length-:math:`2m` DFT,

    .. math:: X[k] = E[k] + w^k O[k], \\quad X[k + m] = E[k] - w^k O[k], \\quad w = e^{-\\pi i / m},

    for all blocks at once. :math:`\\log_2 N` stages of :math:`O(N)` work each.
    """
    n = x.shape[-1]
    batch = x.shape[:-1]
    y = x[..., _bit_reversed(n)]
    m = 1
    while m < n:
        y = y.reshape(*batch, n // (2 * m), 2, m)
        twiddled = y[..., 1, :] * _twiddles(m)
        y = np.concatenate([y[..., 0, :] + twiddled, y[..., 0, :] - twiddled], axis=-1)
        m *= 2
    return y.reshape(*batch, n)


def _fft_bluestein(x: np.ndarray) -> np.ndarray:
    """Bluestein's chirp-z FFT for any length :math:`N`.

    With :math:`kn = \\tfrac12\\left(k^2 + n^2 - (k-n)^2\\right)` the DFT becomes a
    convolution with the chirp :math:`c[j] = e^{\\pi i j^2 / N}`:

    .. math:: X[k] = \\overline{c[k]} \\sum_n \\left(x[n]\\, \\overline{c[n]}\\right) c[k - n],

    computed with power-of-two FFTs of length :math:`M \\ge 2N - 1`.
    """
    n = x.shape[-1]
    j = np.arange(n)
    chirp = np.exp(1j * np.pi * ((j * j) % (2 * n)) / n)  # j^2 mod 2N keeps the angle small
    m = 1 << (2 * n - 2).bit_length()  # smallest power of two >= 2N - 1
    a = np.zeros((*x.shape[:-1], m), dtype=np.complex128)
    a[..., :n] = x * np.conj(chirp)
    b = np.zeros(m, dtype=np.complex128)
    b[:n] = chirp
    b[m - n + 1:] = chirp[1:][::-1]  # c[-j] = c[j], placed circularly
    convolved = _ifft_pow2(_fft_radix2(a) * _fft_radix2(b))
    return np.conj(chirp) * convolved[..., :n]


def _ifft_pow2(X: np.ndarray) -> np.ndarray:
    return np.conj(_fft_radix2(np.conj(X))) / X.shape[-1]


def _resize(x: np.ndarray, n: int | None) -> np.ndarray:
    if n is None:
        return x
    n = positive_int(n, "n")
    length = x.shape[-1]
    if n <= length:
        return x[..., :n]
    return np.concatenate([x, np.zeros((*x.shape[:-1], n - length), dtype=x.dtype)], axis=-1)


def fft(x: np.ndarray, n: int | None = None) -> np.ndarray:
    """The fast Fourier transform of the last axis, for any length.

    Radix-2 Cooley-Tukey for powers of two, Bluestein's algorithm otherwise;
    both :math:`O(N \\log N)`.

    Parameters
    ----------
    x : ndarray, shape (..., L)
        Real or complex.
    n : int, optional
        Transform length: ``x`` is cut to its first ``n`` samples or padded
        with zeros to ``n`` (as ``numpy.fft.fft(x, n)``). Default ``L``.

    Returns
    -------
    ndarray of complex128, shape (..., n)
        Equal to ``numpy.fft.fft(x, n)``.

    Raises
    ------
    TypeError
        If ``x`` is not a float or complex array (integer PCM included).
    ValueError
        If ``x`` is empty or not finite, or ``n <= 0``.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])     # length 5: Bluestein
    >>> np.allclose(fft(x), np.fft.fft(x))
    True
    >>> np.allclose(fft(x, n=8), np.fft.fft(x, n=8))  # zero-padded: radix-2
    True
    """
    x = _resize(_signal(x), n)
    length = x.shape[-1]
    if length == 1:
        return x.copy()
    if length & (length - 1) == 0:
        return _fft_radix2(x)
    return _fft_bluestein(x)


def ifft(X: np.ndarray, n: int | None = None) -> np.ndarray:
    """The inverse FFT of the last axis: :math:`x = \\overline{\\mathrm{FFT}(\\overline X)} / N`.

    Parameters
    ----------
    X : ndarray, shape (..., L)
    n : int, optional
        Cut or zero-pad ``X`` to ``n`` first, as ``numpy.fft.ifft(X, n)``.

    Returns
    -------
    ndarray of complex128, shape (..., n)
        Equal to ``numpy.fft.ifft(X, n)``.

    Examples
    --------
    >>> x = np.array([0.5, -1.0, 2.0])
    >>> np.allclose(ifft(fft(x)), x)
    True
    """
    X = _resize(_signal(X, "X"), n)
    return np.conj(fft(np.conj(X))) / X.shape[-1]


def fft_frequencies(sr: int, n_fft: int) -> np.ndarray:
    """Centre frequency of each bin of a real signal's DFT: :math:`f_k = k f_s / N`.

    Parameters
    ----------
    sr : int
        Sampling rate :math:`f_s` in Hz.
    n_fft : int
        DFT length :math:`N`.

    Returns
    -------
    ndarray of float64, shape (1 + n_fft // 2,)
        :math:`0, f_s/N, \\dots, \\lfloor N/2 \\rfloor f_s / N`, the same as
        ``numpy.fft.rfftfreq(n_fft, 1 / sr)``.

    Examples
    --------
    >>> fft_frequencies(8000, 8)
    array([   0., 1000., 2000., 3000., 4000.])
    """
    sr = sample_rate(sr)
    n_fft = positive_int(n_fft, "n_fft")
    return np.arange(1 + n_fft // 2) * (sr / n_fft)

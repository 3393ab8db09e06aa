"""The mel scale, the mel filterbank and the mel spectrogram.

Listeners judge pitch distances roughly linearly below about 1 kHz and
logarithmically above. The mel scale maps frequency :math:`f` (Hz) to a
perceptual pitch :math:`\\operatorname{mel}(f)` (mels) with that shape. Two
versions are in use:

* **HTK** (used by the HTK toolkit and many papers):
  :math:`\\operatorname{mel}(f) = 2595 \\log_{10}(1 + f / 700)`.
* **Slaney** (from Slaney's Auditory Toolbox; librosa's default):
  linear below 1 kHz, :math:`\\operatorname{mel}(f) = 3f/200`, and logarithmic above,
  :math:`\\operatorname{mel}(f) = 15 + 27 \\ln(f / 1000) / \\ln 6.4`.

A mel filterbank is a set of triangular filters whose centres are equally
spaced in mels; multiplying it with a power spectrogram pools the FFT bins into
:math:`N_\\text{mel}` perceptual bands. Everything here matches librosa's
functions of the same names, argument for argument; the symbols are those of
``book/notation.md``.

Chapter: ``notebooks/01b_stft_mel_mfcc.ipynb``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

from ._checks import finite_array, positive_int, real_number, sample_rate
from .fourier import fft_frequencies
from .spectral import stft

__all__ = ["hz_to_mel", "mel_to_hz", "mel_frequencies", "mel_filterbank", "melspectrogram"]

# Slaney's scale: 200/3 Hz per mel up to 1 kHz, then log steps of ln(6.4)/27.
_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def _as_float_array(x, name: str):
    if isinstance(x, (bool, np.bool_)) or not isinstance(x, (int, float, np.integer, np.floating, np.ndarray)):
        raise TypeError(f"{name} must be a number or a numpy array, got {type(x).__name__}")
    scalar = np.ndim(x) == 0
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr, scalar


def hz_to_mel(frequencies, *, htk: bool = False):
    """Convert frequencies in Hz to mels.

    .. math::
        m_\\text{HTK}(f) = 2595 \\log_{10}\\!\\left(1 + \\frac{f}{700}\\right), \\qquad
        m_\\text{Slaney}(f) = \\begin{cases} 3f/200 & f < 1000 \\\\
                               15 + 27 \\dfrac{\\ln(f/1000)}{\\ln 6.4} & f \\ge 1000 \\end{cases}

    Parameters
    ----------
    frequencies : float or ndarray
        In Hz.
    htk : bool, default False
        HTK's formula instead of Slaney's (librosa's default).

    Returns
    -------
    float or ndarray of float64
        Equal to ``librosa.hz_to_mel(frequencies, htk=htk)``.

    Examples
    --------
    >>> round(hz_to_mel(1000.0), 6), round(hz_to_mel(1000.0, htk=True), 3)
    (15.0, 999.986)
    """
    f, scalar = _as_float_array(frequencies, "frequencies")
    if htk:
        mels = 2595.0 * np.log10(1.0 + f / 700.0)
    else:
        mels = f / _F_SP
        above = f >= _MIN_LOG_HZ
        mels = np.where(above, _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP, mels)
    return float(mels) if scalar else mels


def mel_to_hz(mels, *, htk: bool = False):
    """Convert mels back to Hz: the inverse of :func:`hz_to_mel`.

    .. math::
        f_\\text{HTK}(m) = 700\\left(10^{m/2595} - 1\\right), \\qquad
        f_\\text{Slaney}(m) = \\begin{cases} 200m/3 & m < 15 \\\\
                               1000 \\cdot 6.4^{(m - 15)/27} & m \\ge 15 \\end{cases}

    Parameters
    ----------
    mels : float or ndarray
    htk : bool, default False

    Returns
    -------
    float or ndarray of float64
        Equal to ``librosa.mel_to_hz(mels, htk=htk)``.

    Examples
    --------
    >>> round(mel_to_hz(15.0), 6)
    1000.0
    """
    m, scalar = _as_float_array(mels, "mels")
    if htk:
        freqs = 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    else:
        freqs = np.where(m >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), _F_SP * m)
    return float(freqs) if scalar else freqs


def mel_frequencies(n_mels: int = 128, *, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) equally spaced on the mel scale from ``fmin`` to ``fmax``.

    Parameters
    ----------
    n_mels : int, default 128
    fmin, fmax : float
        End points in Hz, ``0 <= fmin < fmax``.
    htk : bool, default False

    Returns
    -------
    ndarray of float64, shape (n_mels,)
        Equal to ``librosa.mel_frequencies(n_mels, fmin=fmin, fmax=fmax, htk=htk)``.

    Examples
    --------
    >>> f = mel_frequencies(3, fmin=0.0, fmax=2000.0)
    >>> float(f[0]), float(f[2])
    (0.0, 2000.0)
    >>> bool(np.isclose(hz_to_mel(f[1]), (hz_to_mel(0.0) + hz_to_mel(2000.0)) / 2))  # halfway in mels
    True
    """
    n_mels = positive_int(n_mels, "n_mels")
    fmin, fmax = _check_band(fmin, fmax)
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    return mel_to_hz(mels, htk=htk)


def _check_band(fmin, fmax):
    fmin, fmax = real_number(fmin, "fmin"), real_number(fmax, "fmax")
    if fmin < 0:
        raise ValueError(f"fmin must be >= 0 Hz, got {fmin}")
    if not fmin < fmax:
        raise ValueError(f"fmin must be below fmax, got fmin={fmin}, fmax={fmax}")
    return fmin, fmax


def mel_filterbank(
    *,
    sr: int,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm="slaney",
    dtype=np.float32,
) -> np.ndarray:
    """The matrix of triangular mel filters that turns FFT bins into mel bands.

    With :math:`N_\\text{mel} + 2` band edges :math:`\\nu_0 < \\nu_1 < \\dots < \\nu_{N_\\text{mel}+1}`
    equally spaced in mels between ``fmin`` and ``fmax``, the filter of band
    :math:`b` rises linearly from 0 at :math:`\\nu_b` to 1 at :math:`\\nu_{b+1}`
    and falls back to 0 at :math:`\\nu_{b+2}`; at FFT bin frequency
    :math:`f_k = k f_s / N`

    .. math:: H_b[k] = \\max\\!\\left(0, \\min\\!\\left(\\frac{f_k - \\nu_b}{\\nu_{b+1} - \\nu_b},\\;
              \\frac{\\nu_{b+2} - f_k}{\\nu_{b+2} - \\nu_{b+1}}\\right)\\right).

    With ``norm="slaney"`` each triangle is scaled by :math:`2 / (\\nu_{b+2} - \\nu_b)`
    so that all filters have the same area (equal energy per band).

    Parameters
    ----------
    sr : int
        Sampling rate in Hz.
    n_fft : int
        FFT size; the filters have ``1 + n_fft // 2`` columns.
    n_mels : int, default 128
        Number of filters :math:`N_\\text{mel}`.
    fmin : float, default 0.0
        Lowest edge in Hz.
    fmax : float, optional
        Highest edge in Hz, at most the Nyquist frequency ``sr / 2`` (the default).
    htk : bool, default False
        HTK's mel formula instead of Slaney's.
    norm : None, "slaney" or float, default "slaney"
        ``None``: peak 1. ``"slaney"``: equal area. A number :math:`p`: each
        row divided by its :math:`\\ell_p` norm (``np.inf`` for the max).
    dtype : numpy dtype, default float32

    Returns
    -------
    ndarray, shape (n_mels, 1 + n_fft // 2)
        Equal to ``librosa.filters.mel`` with the same arguments.

    Raises
    ------
    ValueError
        If ``sr`` or ``n_fft`` is not positive, ``fmax`` exceeds ``sr / 2``,
        ``fmin`` is negative or not below ``fmax``, or ``norm`` is unknown.

    Warns
    -----
    UserWarning
        If some filters are empty because ``n_mels`` is too large for
        ``n_fft`` (their rows are all zero), as librosa warns too.

    Examples
    --------
    >>> H = mel_filterbank(sr=8000, n_fft=256, n_mels=26, fmin=20.0)
    >>> H.shape, bool((H >= 0).all())
    ((26, 129), True)
    """
    sr = sample_rate(sr)
    n_fft = positive_int(n_fft, "n_fft")
    n_mels = positive_int(n_mels, "n_mels")
    nyquist = sr / 2.0
    if fmax is None:
        fmax = nyquist
    fmin, fmax = _check_band(fmin, fmax)
    if fmax > nyquist:
        raise ValueError(f"fmax={fmax} Hz is above the Nyquist frequency sr/2 = {nyquist} Hz")
    edges = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)  # f_0 .. f_{M+1}
    bins = fft_frequencies(sr, n_fft)  # nu_k
    widths = np.diff(edges)
    rising = (bins[None, :] - edges[:-2, None]) / widths[:-1, None]
    falling = (edges[2:, None] - bins[None, :]) / widths[1:, None]
    # Round to dtype before normalising, as librosa does, so that the two agree to the last bit.
    weights = np.maximum(0.0, np.minimum(rising, falling)).astype(dtype)
    empty = int(np.sum(weights.max(axis=1) == 0))
    if empty:
        warnings.warn(
            f"{empty} of the {n_mels} mel filters are empty (no FFT bin falls inside them): "
            f"n_mels={n_mels} is too many for n_fft={n_fft} at sr={sr}; use fewer mels or a larger n_fft",
            UserWarning,
            stacklevel=2,
        )
    if isinstance(norm, str):
        if norm != "slaney":
            raise ValueError(f"norm must be None, 'slaney' or a number, got {norm!r}")
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    elif norm is not None:
        if isinstance(norm, bool) or not isinstance(norm, (int, float, np.integer, np.floating)) or not norm > 0:
            raise ValueError(f"norm must be None, 'slaney' or a positive number, got {norm!r}")
        magnitude = weights.astype(np.float64)
        lengths = np.sum(magnitude**norm, axis=1) ** (1.0 / norm) if np.isfinite(norm) else magnitude.max(axis=1)
        nonzero = lengths > np.finfo(weights.dtype).tiny
        weights[nonzero] /= lengths[nonzero, None]
    return weights


def melspectrogram(
    *,
    y: np.ndarray | None = None,
    sr: int = 22050,
    S: np.ndarray | None = None,
    n_fft: int = 2048,
    hop_length: int = 512,
    win_length: int | None = None,
    window="hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm="slaney",
) -> np.ndarray:
    """Mel spectrogram: the filterbank applied to a power spectrogram.

    .. math:: S_\\text{mel}[b, m] = \\sum_k H_b[k]\\, |X[k, m]|^p

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,), optional
        The waveform; its STFT is taken with the STFT arguments below.
    sr : int, default 22050
    S : ndarray, shape (1 + n_fft // 2, n_frames), optional
        A spectrogram :math:`|X|^p` computed already (then ``y`` must be None).
    n_fft, hop_length, win_length, window, center, pad_mode
        As :func:`lessons_lib.spectral.stft` (librosa's defaults).
    power : float, default 2.0
        :math:`p`: 2 for power, 1 for magnitude.
    n_mels, fmin, fmax, htk, norm
        As :func:`mel_filterbank`.

    Returns
    -------
    ndarray, shape (n_mels, n_frames)
        Same float precision as ``y`` (or ``S``); equal to
        ``librosa.feature.melspectrogram`` with the same arguments.

    Raises
    ------
    ValueError
        If both or neither of ``y`` and ``S`` are given, ``S`` has the wrong
        height, or ``power <= 0``.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(8000)
    >>> melspectrogram(y=y, sr=8000, n_fft=256, hop_length=80, n_mels=26).shape
    (26, 101)
    """
    if (y is None) == (S is None):
        raise ValueError("give exactly one of y (a waveform) and S (a spectrogram)")
    if not power > 0:
        raise ValueError(f"power must be positive, got {power}")
    if S is None:
        X = stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
                 center=center, pad_mode=pad_mode)
        if power == 2.0:  # |X|^2 without the square root that np.abs would take
            S = np.square(X.real)
            S += np.square(X.imag)
        else:
            S = np.abs(X) ** power
    else:
        S = finite_array(S, "S", allow_complex=False)
        if S.ndim != 2 or S.shape[0] != 1 + n_fft // 2:
            raise ValueError(f"S must have shape (1 + n_fft // 2, n_frames) = ({1 + n_fft // 2}, ...), got {S.shape}")
    # float32 filters, as librosa's default; the product takes the precision of S. The filters are
    # converted to S's dtype first (exact for float32 -> float64): a product of mixed dtypes does not
    # reach BLAS and is about 100 times slower.
    H = _filterbank_for(sr, n_fft, n_mels, fmin, fmax, htk, norm, np.result_type(np.float32, S).str)
    return H @ S


@functools.lru_cache(maxsize=16)
def _filterbank_for(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype) -> np.ndarray:
    """:func:`mel_filterbank` in ``dtype``, cached and read-only: a corpus asks for the same one thousands of times."""
    H = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm).astype(dtype)
    H.flags.writeable = False
    return H

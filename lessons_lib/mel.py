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

Going back, :func:`mel_to_stft` finds a non-negative linear spectrogram whose
mel spectrogram is the given one: the first step of Griffin-Lim from a mel
spectrogram, the baseline of the WaveNet vocoder.

Chapter: ``notebooks/01b_stft_mel_mfcc.ipynb``; :func:`mel_to_stft`:
``notebooks/07c_wavenet_vocoder.ipynb``.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np
import scipy.optimize

from ._checks import finite_array, positive_int, real_number, sample_rate
from .fourier import fft_frequencies
from .spectral import stft

__all__ = ["hz_to_mel", "mel_to_hz", "mel_frequencies", "mel_filterbank", "melspectrogram", "mel_to_stft"]

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


#: Bytes of one block of columns that :func:`mel_to_stft` solves at once (librosa's ``MAX_MEM_BLOCK``).
_BLOCK_BYTES = 2**8 * 2**10


def mel_to_stft(
    M: np.ndarray,
    *,
    sr: int = 22050,
    n_fft: int = 2048,
    power: float = 2.0,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm="slaney",
) -> np.ndarray:
    r"""A non-negative magnitude spectrogram whose mel spectrogram is ``M``: NNLS through the filterbank.

    The filterbank :math:`H` (``n_mels`` x :math:`K`, :math:`K = 1 + N/2`) has
    far fewer rows than columns, so :math:`H P = M` has many solutions; among
    the non-negative ones the least-squares problem

    .. math:: \hat P = \arg\min_{P \ge 0} \frac{1}{2\,|M|} \| H P - M \|_F^2,
              \qquad \hat S = \hat P^{1/p},

    is solved with L-BFGS-B (``scipy.optimize.fmin_l_bfgs_b``, box constraint
    :math:`P \ge 0`, memory :math:`K`), started from the pseudo-inverse
    solution clipped at zero, :math:`P_0 = \max(0, H^+ M)`, in blocks of
    frames of at most 256 KiB of ``M``, exactly as librosa does; the result
    is ``librosa.feature.inverse.mel_to_stft`` with the same arguments. The
    energy inside each mel band is kept; how it spreads over the band's FFT
    bins (the harmonics) is lost: an 8 kHz 40-band mel has one band per
    about 6 bins of a 512-point FFT at the top.

    Parameters
    ----------
    M : ndarray of float, shape (n_mels, n_frames)
        A mel spectrogram :math:`M = H |X|^p`, non-negative (power, not dB:
        convert with :func:`lessons_lib.spectral.db_to_power` first).
    sr : int, default 22050
    n_fft : int, default 2048
        :math:`N`; the result has ``1 + n_fft // 2`` rows.
    power : float, default 2.0
        :math:`p` of ``M`` (2: power, 1: magnitude), > 0.
    fmin, fmax, htk, norm
        The filterbank of ``M`` (:func:`mel_filterbank`; it is built in ``M``'s dtype).

    Returns
    -------
    ndarray, shape (1 + n_fft // 2, n_frames)
        :math:`\hat S`, a magnitude (power 1), non-negative, in ``M``'s dtype: the
        ``S`` that :func:`lessons_lib.spectral.griffinlim` takes.

    Raises
    ------
    TypeError
        If ``M`` is complex, integer or not an array.
    ValueError
        If ``M`` is not 2-D, empty, negative or not finite, ``power <= 0``, or
        the filterbank arguments are invalid.

    Notes
    -----
    The objective is divided by the number of entries of ``M`` and L-BFGS-B
    stops when every projected gradient is below :math:`10^{-5}` (scipy's
    ``pgtol``): an absolute threshold. For quiet spectrograms (FSDD's mel
    powers are mostly far below 1) the pseudo-inverse start already passes
    it, and the answer is :math:`\max(0, H^+ M)`; multiplying ``M`` by a large
    constant makes the solver iterate. librosa behaves the same, and being equal
    to it is the point here: it is the baseline of the vocoder chapter.

    Examples
    --------
    A spectrogram that is already a sum of filter shapes comes back exactly
    through its mel spectrogram:

    >>> H = mel_filterbank(sr=8000, n_fft=64, n_mels=10, dtype=np.float64)
    >>> S = H[[2, 6]].T @ np.array([[1.0, 0.5], [0.0, 2.0]])    # (33, 2) magnitudes
    >>> S_hat = mel_to_stft(H @ S, sr=8000, n_fft=64, power=1.0)
    >>> S_hat.shape, bool(np.allclose(H @ S_hat, H @ S, atol=1e-4))
    ((33, 2), True)
    """
    if isinstance(M, np.ndarray) and M.dtype.kind not in "fc":
        raise TypeError(f"M must be a float array (a mel spectrogram), got dtype {M.dtype}")
    M = finite_array(M, "M", allow_complex=False)
    if M.ndim != 2 or M.size == 0:
        raise ValueError(f"M must be a non-empty 2-D mel spectrogram (n_mels, n_frames), got shape {M.shape}")
    if np.any(M < 0):
        raise ValueError("M must be non-negative (a mel power or magnitude spectrogram, not dB: use "
                         "spectral.db_to_power first)")
    power = real_number(power, "power")
    if not power > 0:
        raise ValueError(f"power must be positive, got {power}")
    H = mel_filterbank(sr=sr, n_fft=n_fft, n_mels=M.shape[0], fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                       dtype=M.dtype)
    P = _nnls(H, M)
    return np.power(P, 1.0 / power, out=P)


def _nnls_objective(x: np.ndarray, shape: tuple, H: np.ndarray, M: np.ndarray) -> tuple[float, np.ndarray]:
    r""":math:`\frac{1}{2|M|}\|HP - M\|^2` and its gradient :math:`H^T (HP - M) / |M|`, ``P`` flattened."""
    residual = H @ x.reshape(shape) - M
    return 0.5 * np.sum(residual**2) / M.size, (H.T @ residual).ravel() / M.size


def _nnls_block(H: np.ndarray, M: np.ndarray, P0: np.ndarray) -> np.ndarray:
    """L-BFGS-B on one block of columns from ``P0``; float64 inside (scipy's), shape of ``P0`` out."""
    x, _, _ = scipy.optimize.fmin_l_bfgs_b(_nnls_objective, P0, args=(P0.shape, H, M),
                                           bounds=[(0, None)] * P0.size, m=H.shape[1])
    return x.reshape(P0.shape)


def _nnls(H: np.ndarray, M: np.ndarray) -> np.ndarray:
    r""":math:`\arg\min_{P \ge 0} \|HP - M\|^2` column block by column block, in ``H``'s dtype."""
    P0 = np.linalg.pinv(H) @ M
    np.clip(P0, 0, None, out=P0)
    width = max(_BLOCK_BYTES // (M.shape[0] * H.itemsize), 1)
    if M.shape[1] <= width:
        return _nnls_block(H, M, P0).astype(H.dtype)
    for start in range(0, M.shape[1], width):  # P0 of the later blocks is not touched by the earlier ones
        P0[:, start:start + width] = _nnls_block(H, M[:, start:start + width], P0[:, start:start + width])
    return P0

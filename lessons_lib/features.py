"""MFCCs, their time derivatives, and the 39-dimensional frames later chapters model.

The classic speech front end:

1. pre-emphasis, :math:`y[n] = x[n] - \\alpha_\\text{pre} x[n-1]`, tilts the spectrum up so
   the weak high formants count as much as the strong low ones;
2. a log-mel spectrogram (:mod:`lessons_lib.mel`, :mod:`lessons_lib.spectral`);
3. a DCT-II over the mel axis, whose first coefficients summarise the smooth
   spectral envelope (the vocal tract) and decorrelate the features: the
   mel-frequency cepstral coefficients (MFCCs);
4. deltas and delta-deltas, local slopes and curvatures over time;
5. cepstral mean and variance normalisation per utterance, which removes a
   fixed channel (microphone) colouring.

13 MFCCs (:math:`C[0, m]` included, standing in for the frame's loudness) plus 13
deltas plus 13 delta-deltas make the 39 numbers per 10 ms frame that GMM-HMM
recognisers have used for decades.

Chapter: ``notebooks/01b_stft_mel_mfcc.ipynb``.
"""

from __future__ import annotations

import functools
from math import factorial

import numpy as np

from ._checks import finite_array, positive_int, real_number, sample_rate, waveform
from .mel import melspectrogram
from .spectral import power_to_db

__all__ = ["preemphasis", "dct_matrix", "mfcc", "delta", "cmvn", "mfcc_features"]


def preemphasis(y: np.ndarray, coef: float = 0.97) -> np.ndarray:
    """First-order high-pass filter :math:`y[n] = x[n] - \\alpha_\\text{pre}\\, x[n-1]`, with :math:`y[0] = x[0]`.

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,)
    coef : float, default 0.97
        :math:`\\alpha_\\text{pre}`, in ``[0, 1)``; 0 returns a copy of ``y``.

    Returns
    -------
    ndarray, shape (n_samples,), dtype of ``y``
        Equal to ``librosa.effects.preemphasis(y, coef=coef, zi=0.0)``.
        (librosa's default ``zi`` instead extrapolates a sample before ``y[0]``.)

    Examples
    --------
    >>> preemphasis(np.array([1.0, 1.0, 1.0]), coef=0.5)
    array([1. , 0.5, 0.5])
    """
    y = waveform(y)
    if not 0 <= real_number(coef, "coef") < 1:
        raise ValueError(f"coef must be a number in [0, 1), got {coef!r}")
    out = y.copy()
    out[1:] -= coef * y[:-1]
    return out


def dct_matrix(n_out: int, n_in: int, *, norm: str | None = "ortho") -> np.ndarray:
    """The first ``n_out`` rows of the DCT-II matrix of size ``n_in``.

    .. math:: D_{cb} = s_c \\cos\\!\\left(\\frac{\\pi c (2b + 1)}{2N_\\text{mel}}\\right), \\quad
              s_0 = \\sqrt{1/N_\\text{mel}},\\; s_{c>0} = \\sqrt{2/N_\\text{mel}}\\ \\text{(ortho)}, \\quad
              s_c = 2\\ \\text{(norm=None)}

    (:math:`N_\\text{mel}` is ``n_in``, the length of the transformed axis.) With
    ``norm="ortho"`` the full matrix is orthogonal, :math:`\\mathbf{D} \\mathbf{D}^\\top = \\mathbf{I}`.

    Parameters
    ----------
    n_out : int
        Rows (coefficients) wanted, ``<= n_in``.
    n_in : int
        :math:`N_\\text{mel}`, the length of the transformed axis.
    norm : {"ortho", None}, default "ortho"

    Returns
    -------
    ndarray of float64, shape (n_out, n_in)
        ``dct_matrix(K, N) @ x`` equals ``scipy.fft.dct(x, type=2, norm=norm, axis=0)[:K]``.

    Examples
    --------
    >>> C = dct_matrix(4, 4)
    >>> np.allclose(C @ C.T, np.eye(4))
    True
    """
    n_out = positive_int(n_out, "n_out")
    n_in = positive_int(n_in, "n_in")
    if n_out > n_in:
        raise ValueError(f"n_out={n_out} must not exceed n_in={n_in}")
    if norm not in ("ortho", None):
        raise ValueError(f"norm must be 'ortho' or None, got {norm!r}")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    C = np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    if norm == "ortho":
        C *= np.sqrt(2.0 / n_in)
        C[0] /= np.sqrt(2.0)
    else:
        C *= 2.0
    return C


def mfcc(*, y: np.ndarray | None = None, sr: int = 22050, S: np.ndarray | None = None, n_mfcc: int = 20,
         lifter: float = 0, **kwargs) -> np.ndarray:
    """Mel-frequency cepstral coefficients: a DCT-II of the log-mel spectrogram.

    .. math:: C[c, m] = \\sum_{b=0}^{N_\\text{mel}-1} D_{cb}\\; 10 \\log_{10} S_\\text{mel}[b, m], \\quad c < N_\\text{mfcc}

    (:func:`dct_matrix` gives :math:`\\mathbf{D}`), optionally liftered,
    :math:`C[c, m] \\leftarrow C[c, m]\\,(1 + \\tfrac{\\lambda}{2}\\sin(\\pi (c+1) / \\lambda))` with
    :math:`\\lambda` = ``lifter``.

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,), optional
    sr : int, default 22050
    S : ndarray, shape (n_mels, n_frames), optional
        A log-power mel spectrogram in dB, instead of ``y``.
    n_mfcc : int, default 20
        :math:`N_\\text{mfcc}`, at most the number of mel bands.
    lifter : float, default 0
        :math:`\\lambda`; 0 means no liftering (22 is HTK's default).
    **kwargs
        Passed to :func:`lessons_lib.mel.melspectrogram` (``n_fft``,
        ``hop_length``, ``n_mels``, ``fmin``, ``fmax``, ...).

    Returns
    -------
    ndarray, shape (n_mfcc, n_frames)
        Equal to ``librosa.feature.mfcc`` with the same arguments.

    Raises
    ------
    ValueError
        If both or neither of ``y`` and ``S`` are given, ``n_mfcc`` exceeds the
        number of mel bands, or ``lifter < 0``.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(8000)
    >>> mfcc(y=y, sr=8000, n_mfcc=13, n_fft=256, hop_length=80, n_mels=26).shape
    (13, 101)
    """
    if S is None:
        if y is None:
            raise ValueError("give exactly one of y (a waveform) and S (a log-mel spectrogram)")
        S = power_to_db(melspectrogram(y=y, sr=sr, **kwargs))
    elif y is not None:
        raise ValueError("give exactly one of y (a waveform) and S (a log-mel spectrogram)")
    else:
        S = finite_array(S, "S", allow_complex=False)
        if S.ndim != 2:
            raise ValueError(f"S must be 2-D, shape (n_mels, n_frames), got shape {S.shape}")
    n_mfcc = positive_int(n_mfcc, "n_mfcc")
    if n_mfcc > S.shape[0]:
        raise ValueError(f"n_mfcc={n_mfcc} exceeds the {S.shape[0]} mel bands")
    if real_number(lifter, "lifter") < 0:
        raise ValueError(f"lifter must be a non-negative number, got {lifter!r}")
    M = (dct_matrix(n_mfcc, S.shape[0]) @ S).astype(S.dtype, copy=False)
    if lifter > 0:
        M *= (1 + (lifter / 2) * np.sin(np.pi * np.arange(1, n_mfcc + 1, dtype=M.dtype) / lifter))[:, None]
    return M


def _check_delta_args(n_frames: int, width, order) -> tuple[int, int]:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"order must be a positive int, got {order!r}")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 3 or width % 2 != 1:
        raise ValueError(f"width must be an odd int >= 3, got {width!r}")
    if width > n_frames:
        raise ValueError(f"width={width} exceeds the {n_frames} frames along axis")
    if order >= width:
        raise ValueError(f"order={order} must be smaller than width={width}")
    return int(width), int(order)


def _derivative_rows(positions: np.ndarray, degree: int, order: int) -> np.ndarray:
    """D[s, p] = d^order/dt^order of t**p at t = positions[s]."""
    rows = np.zeros((positions.shape[0], degree + 1))
    for p in range(order, degree + 1):
        rows[:, p] = factorial(p) / factorial(p - order) * positions.astype(np.float64) ** (p - order)
    return rows


@functools.lru_cache(maxsize=32)
def _savgol_rows(width: int, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights :func:`delta` applies: interior (width,), first and last frames (half, width) each.

    A polynomial of degree ``order`` (as librosa fits) is fitted by least squares to positions
    -h..h and differentiated at 0 (interior), or fitted to positions 0..width-1 of the first
    (last) window and differentiated at the edge frames. Cached and read-only: a corpus calls
    :func:`delta` thousands of times with the same two or three (width, order).
    """
    half = width // 2
    degree = order
    centred = np.arange(-half, half + 1)
    fit = np.linalg.pinv(centred[:, None].astype(np.float64) ** np.arange(degree + 1))  # (degree+1, width)
    interior = (_derivative_rows(np.array([0]), degree, order) @ fit)[0]
    positions = np.arange(width)
    edge_fit = np.linalg.pinv(positions[:, None].astype(np.float64) ** np.arange(degree + 1))
    start = _derivative_rows(positions[:half], degree, order) @ edge_fit
    end = _derivative_rows(positions[width - half:], degree, order) @ edge_fit
    for array in (interior, start, end):
        array.flags.writeable = False
    return interior, start, end


def delta(data: np.ndarray, *, width: int = 9, order: int = 1, axis: int = -1) -> np.ndarray:
    """Local derivative along time by least-squares polynomial fits (Savitzky-Golay).

    Around each frame :math:`t`, a polynomial of degree ``order`` is fitted to
    the ``width`` frames :math:`t - h, \\dots, t + h` (:math:`h = \\lfloor
    \\text{width}/2 \\rfloor`) and its ``order``-th derivative at :math:`t` is
    kept. For ``order=1`` this is the familiar regression formula

    .. math:: \\Delta c_t = \\frac{\\sum_{j=1}^{h} j\\,(c_{t+j} - c_{t-j})}{2 \\sum_{j=1}^{h} j^2}.

    In the first and last :math:`h` frames the polynomial fitted to the first
    (last) ``width`` frames is evaluated instead (librosa's ``mode="interp"``).

    Parameters
    ----------
    data : ndarray of float, any shape
    width : int, default 9
        Odd, at least 3, at most ``data.shape[axis]``.
    order : int, default 1
        1 for delta, 2 for delta-delta (a second derivative of a quadratic fit,
        not the delta of the delta).
    axis : int, default -1
        The time axis.

    Returns
    -------
    ndarray, same shape and dtype as ``data``
        Equal to ``librosa.feature.delta(data, width=width, order=order, axis=axis)``.

    Raises
    ------
    ValueError
        For an even or too small ``width``, one longer than the data, or a
        non-positive ``order``.

    Examples
    --------
    >>> np.round(delta(np.array([0.0, 2.0, 4.0, 6.0, 8.0]), width=3), 10)  # slope 2
    array([2., 2., 2., 2., 2.])
    """
    data = finite_array(data, "data", allow_complex=False)
    x = np.moveaxis(data, axis, -1).astype(np.float64, copy=False)
    width, order = _check_delta_args(x.shape[-1], width, order)
    half = width // 2
    interior, start, end = _savgol_rows(width, order)
    out = np.empty_like(x)
    windows = np.lib.stride_tricks.sliding_window_view(x, width, axis=-1)  # (..., T - width + 1, width)
    out[..., half:x.shape[-1] - half] = windows @ interior
    out[..., :half] = x[..., :width] @ start.T
    out[..., x.shape[-1] - half:] = x[..., -width:] @ end.T
    return np.moveaxis(out, -1, axis).astype(data.dtype, copy=False)


#: A column whose standard deviation is at most this fraction of its largest
#: magnitude is constant up to rounding (see :func:`cmvn`).
CONSTANT_RTOL = 1e-10


def cmvn(features: np.ndarray, *, axis: int | None = None, variance: bool = True) -> np.ndarray:
    """Cepstral mean (and variance) normalisation over one utterance.

    For every feature :math:`d`, over the :math:`T` frames of the utterance,

    .. math:: \\tilde x_{t,d} = \\frac{x_{t,d} - \\mu_d}{\\sigma_d}, \\quad
              \\mu_d = \\frac1T \\sum_t x_{t,d}, \\quad
              \\sigma_d = \\Big(\\frac1T \\sum_t (x_{t,d} - \\mu_d)^2\\Big)^{1/2}.

    A fixed linear channel multiplies the spectrum, which adds (nearly) a
    constant to every log-mel band and so to every cepstral coefficient:
    subtracting the mean removes it.

    **Constant features.** A feature that does not change over the utterance
    has :math:`\\sigma_d = 0` in exact arithmetic, but computed features are
    rarely exactly constant: a delta whose regression window spans every frame
    differs from frame to frame by rounding errors only. Dividing that noise
    by its own tiny standard deviation would give numbers of order 1 that
    depend on the processor's rounding. So a feature with
    :math:`\\sigma_d \\le 10^{-10} \\max_t |x_{t,d}|` (:data:`CONSTANT_RTOL`;
    an all-zero feature included) is treated as constant, and its normalised
    value is exactly 0 at every frame, with or without ``variance``.

    Parameters
    ----------
    features : ndarray of float, 2-D
        One utterance's features.
    axis : {0, 1}
        The **time** axis: the statistics are taken over it. ``0`` for frames
        ``(n_frames, n_features)`` as :func:`mfcc_features` and the GMM/HMM
        chapters lay them out, ``1`` for ``(n_mfcc, n_frames)`` as :func:`mfcc`
        and librosa return them. There is no default, because the wrong axis
        silently normalises across coefficients instead of over time.
    variance : bool, default True
        Also divide by the standard deviation (population, ``ddof=0``).

    Returns
    -------
    ndarray, the shape of ``features``

    Raises
    ------
    TypeError
        If ``axis`` is missing or not an int.
    ValueError
        If ``features`` is not 2-D, holds NaN or infinity, or ``axis`` is not
        0 or 1.

    Examples
    --------
    >>> cmvn(np.array([[1.0, 10.0], [3.0, 10.0]]), axis=0)
    array([[-1.,  0.],
           [ 1.,  0.]])
    """
    X = finite_array(features, "features", allow_complex=False)
    if X.ndim != 2:
        raise ValueError(f"features must be 2-D, (n_frames, n_features) or (n_features, n_frames), got shape {X.shape}")
    if axis is None:
        raise TypeError(
            "cmvn needs axis=, the time axis: axis=0 for frames (n_frames, n_features) as mfcc_features "
            "returns them, axis=1 for (n_mfcc, n_frames) as mfcc and librosa return them"
        )
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis must be an int (0 or 1), got {type(axis).__name__}")
    if axis not in (0, 1):
        raise ValueError(f"axis must be 0 or 1 (the time axis of a 2-D array), got {axis}")
    frames = X if axis == 0 else X.T
    centred = frames - frames.mean(axis=0)
    sigma = centred.std(axis=0)
    constant = sigma <= CONSTANT_RTOL * np.abs(frames).max(axis=0)
    centred[:, constant] = 0.0
    if variance:
        centred /= np.where(constant, 1.0, sigma)
    return centred if axis == 0 else centred.T


def mfcc_features(
    y: np.ndarray,
    sr: int,
    *,
    n_mfcc: int = 13,
    n_fft: int | None = None,
    win_length: int | None = None,
    hop_length: int | None = None,
    n_mels: int = 26,
    fmin: float = 20.0,
    fmax: float | None = None,
    preemph: float = 0.97,
    delta_width: int = 9,
    normalize: bool = True,
) -> np.ndarray:
    """Turn a waveform into frames of MFCCs, deltas and delta-deltas: ``(n_frames, 3 * n_mfcc)``.

    Pre-emphasis, then :func:`mfcc` with a 25 ms Hann window every 10 ms,
    ``n_fft`` the next power of two, ``n_mels`` Slaney mel bands from ``fmin``
    to ``fmax``; then :func:`delta` of order 1 and 2; then, with
    ``normalize``, :func:`cmvn`. For ``n_mfcc=13`` the result has the classic
    39 columns: :math:`[\\mathbf{c}_m, \\Delta \\mathbf{c}_m, \\Delta^2 \\mathbf{c}_m]` for every frame :math:`m`.

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,)
    sr : int
    n_mfcc : int, default 13
    n_fft, win_length, hop_length : int, optional
        Defaults: ``round(0.025 * sr)`` window, ``round(0.010 * sr)`` hop,
        ``n_fft`` the smallest power of two >= the window.
    n_mels : int, default 26
    fmin : float, default 20.0
    fmax : float, optional
        Default ``sr / 2``.
    preemph : float, default 0.97
        Pre-emphasis coefficient; 0 skips it.
    delta_width : int, default 9
        Frames in each delta fit. A recording with fewer frames uses the
        largest odd width that fits (at least 3).
    normalize : bool, default True
        Apply :func:`cmvn` (mean and variance) per recording.

    Returns
    -------
    ndarray, shape (n_frames, 3 * n_mfcc)
        Time on the first axis, as the GMM and HMM chapters expect.

    Raises
    ------
    ValueError
        If the recording yields fewer than 3 frames, or an argument is invalid.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(8000).astype(np.float32)
    >>> mfcc_features(y, 8000).shape
    (101, 39)
    """
    y = waveform(y)
    sr = sample_rate(sr)
    win_length = int(round(0.025 * sr)) if win_length is None else positive_int(win_length, "win_length")
    hop_length = int(round(0.010 * sr)) if hop_length is None else positive_int(hop_length, "hop_length")
    n_fft = 1 << (win_length - 1).bit_length() if n_fft is None else positive_int(n_fft, "n_fft")
    if preemph:
        y = preemphasis(y, preemph)
    M = mfcc(y=y, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
             n_mels=n_mels, fmin=fmin, fmax=fmax)
    n_frames = M.shape[1]
    if n_frames < 3:
        raise ValueError(f"y gives only {n_frames} frames; deltas need at least 3 (a longer recording or a shorter hop)")
    width = min(delta_width, n_frames if n_frames % 2 == 1 else n_frames - 1)
    F = np.concatenate([M, delta(M, width=width, order=1), delta(M, width=width, order=2)]).T
    return cmvn(F, axis=0) if normalize else F

"""Windows, framing, the short-time Fourier transform and its inverse, decibels.

Speech changes every few tens of milliseconds, so one Fourier transform of a
whole utterance mixes every sound in it. The STFT cuts the signal into short,
overlapping frames, tapers each with a window :math:`w` and transforms it:

.. math:: X[k, m] = \\sum_{n=0}^{N-1} w[n]\\, x[n + mR]\\, e^{-2\\pi i k n / N},

with FFT size :math:`N` (``n_fft``), window length :math:`N_w` (``win_length``),
hop :math:`R` (``hop_length``), frequency
bin :math:`k` and frame :math:`m`. The result has frequency on the first axis
and time on the second, ``shape (1 + n_fft // 2, n_frames)``, exactly as
``librosa.stft`` returns it; every default here is librosa's too, so the
comparisons in the notebook read line by line.

The FFT inside :func:`stft` and :func:`istft` is NumPy's (the same algorithm
as :func:`lessons_lib.fourier.fft`, in C); pass ``fft=lessons_lib.fourier.fft``
to :func:`stft` to run ours instead and see the same numbers.

:func:`griffinlim` goes the other way when only the magnitude :math:`|X|`
is known (a vocoder's problem, Chapter 7c): it guesses a phase, and alternates
between the ISTFT and the STFT until the phase agrees with the magnitude.

Chapter: ``notebooks/01b_stft_mel_mfcc.ipynb``; Griffin-Lim: ``notebooks/07c_wavenet_vocoder.ipynb``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._checks import finite_array, positive_int, waveform

__all__ = ["get_window", "frame", "overlap_add", "stft", "istft", "griffinlim", "power_to_db", "amplitude_to_db"]

_WINDOW_NAMES = ("hann", "hamming", "rectangular", "boxcar", "ones")
_BLOCK_BYTES = 1 << 18  # work on about 256 KiB of frames at a time


def get_window(window, win_length: int) -> np.ndarray:
    """A periodic analysis window of ``win_length`` samples.

    Periodic ("DFT-even") windows repeat seamlessly every :math:`N_w` samples,
    which is what overlap-add needs:

    .. math::
        w_\\text{hann}[n] = \\tfrac12 - \\tfrac12 \\cos\\frac{2\\pi n}{N_w}, \\quad
        w_\\text{hamming}[n] = 0.54 - 0.46 \\cos\\frac{2\\pi n}{N_w}, \\quad
        w_\\text{rect}[n] = 1, \\qquad n = 0, \\dots, N_w - 1.

    Parameters
    ----------
    window : {"hann", "hamming", "rectangular"} or ndarray
        A name (``"boxcar"`` and ``"ones"`` mean rectangular), or the window
        itself as an array of length ``win_length``.
    win_length : int
        :math:`N_w`, positive.

    Returns
    -------
    ndarray of float64, shape (win_length,)
        Equal to ``scipy.signal.get_window(window, win_length, fftbins=True)``.

    Raises
    ------
    ValueError
        For an unknown name or an array of the wrong length.

    Examples
    --------
    >>> get_window("hann", 4)
    array([0. , 0.5, 1. , 0.5])
    """
    win_length = positive_int(win_length, "win_length")
    if isinstance(window, np.ndarray):
        w = finite_array(window, "window", allow_complex=False)
        if w.shape != (win_length,):
            raise ValueError(f"window array must have shape ({win_length},) to match win_length, got {w.shape}")
        return w.astype(np.float64, copy=True)
    if not isinstance(window, str) or window.lower() not in _WINDOW_NAMES:
        raise ValueError(f"window must be one of {_WINDOW_NAMES} or an array, got {window!r}")
    name = window.lower()
    if win_length == 1:  # a single sample cannot be tapered (scipy returns [1.] too)
        return np.ones(1)
    phase = 2 * np.pi * np.arange(win_length) / win_length
    if name == "hann":
        return 0.5 - 0.5 * np.cos(phase)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(phase)
    return np.ones(win_length)


def _pad_center(w: np.ndarray, size: int) -> np.ndarray:
    left = (size - w.shape[-1]) // 2
    return np.pad(w, (left, size - w.shape[-1] - left))


def frame(y: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Slice a signal into overlapping frames, without copying.

    Frame :math:`m` holds samples :math:`y[mR], \\dots, y[mR + N_w - 1]`.

    Parameters
    ----------
    y : ndarray, shape (n_samples,)
    frame_length : int
        :math:`N_w` samples per frame.
    hop_length : int
        :math:`R` samples between the starts of consecutive frames.

    Returns
    -------
    ndarray, shape (n_frames, frame_length)
        A read-only view of ``y`` with
        ``n_frames = 1 + (n_samples - frame_length) // hop_length``; equal to
        ``librosa.util.frame(y, frame_length=..., hop_length=...).T``.

    Raises
    ------
    ValueError
        If ``y`` is shorter than one frame, or a length is not positive.

    Examples
    --------
    >>> frame(np.arange(6.0), frame_length=3, hop_length=2)
    array([[0., 1., 2.],
           [2., 3., 4.]])
    """
    y = finite_array(y, "y")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, shape (n_samples,), got shape {y.shape}")
    frame_length = positive_int(frame_length, "frame_length")
    hop_length = positive_int(hop_length, "hop_length")
    if y.shape[0] < frame_length:
        raise ValueError(f"y has {y.shape[0]} samples, fewer than frame_length={frame_length}")
    return np.lib.stride_tricks.sliding_window_view(y, frame_length)[::hop_length]


def overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Add frames back together, each shifted by ``hop_length`` from the last.

    .. math:: y[n] = \\sum_m f_m[n - mR]

    Done in :math:`\\lceil N / R \\rceil` vectorized passes (one per chunk of
    :math:`R` samples within a frame), not a loop over frames.

    Parameters
    ----------
    frames : ndarray, shape (n_frames, frame_length)
    hop_length : int

    Returns
    -------
    ndarray, shape (frame_length + hop_length * (n_frames - 1),)

    Examples
    --------
    >>> overlap_add(np.ones((3, 4)), hop_length=2)
    array([1., 1., 2., 2., 2., 2., 1., 1.])
    """
    frames = finite_array(frames, "frames")
    if frames.ndim != 2:
        raise ValueError(f"frames must be 2-D, shape (n_frames, frame_length), got shape {frames.shape}")
    return _overlap_add(frames, positive_int(hop_length, "hop_length"))


def _overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    n_frames, frame_length = frames.shape
    n_chunks = -(-frame_length // hop_length)
    out = np.zeros((n_frames + n_chunks - 1, hop_length), dtype=np.result_type(frames.dtype, np.float32))
    for k in range(n_chunks):  # chunk k of every frame lands k hops later
        part = frames[:, k * hop_length:(k + 1) * hop_length]
        out[k:k + n_frames, : part.shape[1]] += part
    return out.reshape(-1)[: frame_length + hop_length * (n_frames - 1)]


def _stft_lengths(n_fft, hop_length, win_length):
    n_fft = positive_int(n_fft, "n_fft")
    win_length = n_fft if win_length is None else positive_int(win_length, "win_length")
    if win_length > n_fft:
        raise ValueError(f"win_length={win_length} is longer than n_fft={n_fft}: need n_fft >= win_length")
    if hop_length is None:
        hop_length = win_length // 4
        if hop_length < 1:
            raise ValueError(f"hop_length defaults to win_length // 4 = 0 for win_length={win_length}; pass hop_length")
    hop_length = positive_int(hop_length, "hop_length")
    return n_fft, hop_length, win_length


def stft(
    y: np.ndarray,
    *,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window="hann",
    center: bool = True,
    pad_mode: str = "constant",
    fft=None,
) -> np.ndarray:
    """Short-time Fourier transform.

    .. math:: X[k, m] = \\sum_{n=0}^{N-1} w[n]\\, x[n + mR]\\, e^{-2\\pi i k n / N},
              \\quad k = 0, \\dots, N/2

    Only the non-negative frequencies are kept: for a real signal
    :math:`X[N-k] = \\overline{X[k]}`.

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,)
    n_fft : int, default 2048
        FFT size :math:`N`.
    hop_length : int, optional
        Hop :math:`R`; default ``win_length // 4``.
    win_length : int, optional
        Window length; default ``n_fft``. A shorter window is zero-padded on
        both sides to ``n_fft``.
    window : str or ndarray, default "hann"
        See :func:`get_window`.
    center : bool, default True
        Pad ``n_fft // 2`` samples on both sides so that frame :math:`m` is
        centred on sample :math:`mR`.
    pad_mode : {"constant", "reflect"}, default "constant"
        How to pad when ``center``: zeros, or the signal mirrored.
    fft : callable, optional
        A full complex FFT of the last axis, e.g. :func:`lessons_lib.fourier.fft`.
        Default: NumPy's real FFT, the fast path.

    Returns
    -------
    ndarray of complex, shape (1 + n_fft // 2, n_frames)
        complex64 for float32 ``y``, complex128 for float64; equal to
        ``librosa.stft`` with the same arguments.

    Raises
    ------
    TypeError
        If ``y`` is integer PCM (convert with :func:`lessons_lib.audio.pcm_to_float`).
    ValueError
        If ``y`` is empty, not 1-D or not finite; ``n_fft``, ``hop_length`` or
        ``win_length`` is not positive; ``win_length > n_fft``; or
        ``center=False`` and ``y`` is shorter than ``n_fft``.

    Examples
    --------
    >>> S = stft(np.zeros(8000), n_fft=256, hop_length=80)
    >>> S.shape, S.dtype
    ((129, 101), dtype('complex128'))
    """
    y = waveform(y)
    if fft is not None and not callable(fft):
        raise TypeError(f"fft must be a function such as lessons_lib.fourier.fft, got {type(fft).__name__}")
    n_fft, hop_length, win_length = _stft_lengths(n_fft, hop_length, win_length)
    w = _pad_center(get_window(window, win_length), n_fft)
    if center:
        if pad_mode not in ("constant", "reflect"):
            raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")
        y = np.pad(y, n_fft // 2, mode=pad_mode)
    elif y.shape[0] < n_fft:
        raise ValueError(f"y has {y.shape[0]} samples, fewer than n_fft={n_fft}; use center=True or a smaller n_fft")
    frames = frame(y, n_fft, hop_length)  # (n_frames, n_fft) view, no copy
    dtype = np.complex64 if y.dtype == np.float32 else np.complex128
    out = np.empty((frames.shape[0], 1 + n_fft // 2), dtype=dtype)
    # Transform a block of frames at a time: the windowed copy of a block stays in
    # the CPU cache, where windowing all frames at once would not.
    block = max(1, _BLOCK_BYTES // (16 * n_fft))
    for start in range(0, frames.shape[0], block):
        windowed = frames[start:start + block] * w  # float64, as librosa
        if fft is None:
            out[start:start + block] = np.fft.rfft(windowed, axis=-1)
        else:
            out[start:start + block] = fft(windowed)[..., : 1 + n_fft // 2]
    return out.T  # (1 + n_fft // 2, n_frames): frequency first, as librosa


def istft(
    stft_matrix: np.ndarray,
    *,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_fft: int | None = None,
    window="hann",
    center: bool = True,
    length: int | None = None,
) -> np.ndarray:
    """Inverse STFT by weighted overlap-add.

    Each column is inverted, windowed again and added at its place; dividing by
    the summed squared windows undoes both windowings:

    .. math:: \\hat x[n] = \\frac{\\sum_m w[n - mR]\\, x_m[n - mR]}{\\sum_m w^2[n - mR]}

    Wherever the denominator is not (numerically) zero this returns the
    original signal exactly.

    Parameters
    ----------
    stft_matrix : ndarray of complex, shape (1 + n_fft // 2, n_frames)
    hop_length, win_length, window, center
        As given to :func:`stft`.
    n_fft : int, optional
        Default ``2 * (n_freq - 1)``.
    length : int, optional
        Cut or zero-pad the output to exactly this many samples.

    Returns
    -------
    ndarray of float, shape (n_samples,)
        float32 for complex64 input, float64 otherwise; equal to
        ``librosa.istft`` with the same arguments.

    Raises
    ------
    ValueError
        If the matrix is not 2-D, its height does not match ``n_fft``, or a
        length is not positive.

    Examples
    --------
    >>> y = np.random.default_rng(0).standard_normal(1000)
    >>> np.allclose(istft(stft(y, n_fft=64), n_fft=64, length=1000), y)
    True
    """
    S = finite_array(stft_matrix, "stft_matrix")
    if S.ndim != 2:
        raise ValueError(f"stft_matrix must be 2-D, shape (1 + n_fft // 2, n_frames), got shape {S.shape}")
    n_freq = S.shape[0]
    if n_fft is None:
        n_fft = 2 * (n_freq - 1)
        if n_fft < 1:
            raise ValueError("stft_matrix has one frequency row: pass n_fft explicitly")
    n_fft, hop_length, win_length = _stft_lengths(n_fft, hop_length, win_length)
    if n_freq != 1 + n_fft // 2:
        raise ValueError(f"stft_matrix has {n_freq} rows, but n_fft={n_fft} needs {1 + n_fft // 2}")
    w = _pad_center(get_window(window, win_length), n_fft)
    n_frames = S.shape[1]
    if length is not None:
        length = positive_int(length, "length")
        padded = length + 2 * (n_fft // 2) if center else length
        n_frames = min(n_frames, -(-padded // hop_length))
    out_dtype = np.float32 if S.dtype == np.complex64 else np.float64
    frames = np.fft.irfft(S[:, :n_frames].T, n=n_fft, axis=-1)  # float32 for complex64, as librosa
    frames *= w.astype(frames.dtype)
    y = _overlap_add(frames, hop_length).astype(out_dtype, copy=False)
    window_power = _overlap_add(np.broadcast_to(w * w, (n_frames, n_fft)), hop_length)
    np.divide(y, window_power, out=y, where=window_power > np.finfo(out_dtype).tiny, casting="same_kind")
    start = n_fft // 2 if center else 0
    if length is None:
        length = y.shape[0] - 2 * start
    y = y[start:start + length]
    if y.shape[0] < length:
        y = np.pad(y, (0, length - y.shape[0]))
    return y.astype(out_dtype, copy=False)


def _griffinlim_rng(rng, random_state):
    """librosa's rules for ``random_state``, plus an explicit ``rng`` (a Generator)."""
    if rng is not None:
        if random_state is not None:
            raise ValueError("pass rng or random_state, not both")
        if not isinstance(rng, np.random.Generator):
            raise TypeError("rng must be a numpy.random.Generator (np.random.default_rng(seed)), "
                            f"got {type(rng).__name__}")
        return rng
    if random_state is None:
        return np.random.default_rng()
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        return np.random.RandomState(seed=random_state)  # as librosa: the legacy generator for an int seed
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    raise TypeError("random_state must be None, an int, a RandomState or a Generator, "
                    f"got {type(random_state).__name__}")


def griffinlim(
    S: np.ndarray,
    *,
    n_iter: int = 32,
    hop_length: int | None = None,
    win_length: int | None = None,
    n_fft: int | None = None,
    window="hann",
    center: bool = True,
    dtype=None,
    length: int | None = None,
    pad_mode: str = "constant",
    momentum: float = 0.99,
    init: str | None = "random",
    random_state=None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """A waveform whose STFT magnitude is close to ``S``: (fast) Griffin-Lim.

    Not every complex matrix is the STFT of a signal (neighbouring frames
    overlap, so they must agree). Griffin-Lim alternates two projections: the
    ISTFT followed by the STFT, :math:`P_\\mathcal{C}(X) = \\mathrm{STFT}(\\mathrm{ISTFT}(X))`,
    onto the consistent spectrograms, and keeping the phase while restoring the
    target magnitude, :math:`P_\\mathcal{A}(X) = S\\, X / |X|`. The fast variant
    (Perraudin et al., 2013) adds momentum :math:`\\alpha`:

    .. math::
        T_n = P_\\mathcal{C}(C_{n-1}), \\qquad
        C_n = P_\\mathcal{A}\\!\\left(T_n - \\tfrac{\\alpha}{1 + \\alpha}\\, T_{n-1}\\right),
        \\qquad C_0 = S\\, e^{i \\varphi_0},

    and returns :math:`\\mathrm{ISTFT}(C_N)` after :math:`N` (``n_iter``)
    iterations. :math:`T_n - \\frac{\\alpha}{1+\\alpha} T_{n-1}` is
    :math:`\\frac{1}{1+\\alpha}\\left(T_n + \\alpha (T_n - T_{n-1})\\right)`: the
    paper's extrapolation, rescaled, which :math:`P_\\mathcal{A}` ignores.
    :math:`\\alpha = 0` is the original algorithm (Griffin & Lim, 1984).
    The update is librosa's, step for step (including the division by
    :math:`|X| + \\epsilon` with :math:`\\epsilon` the dtype's smallest normal
    number), so the two agree given the same initial phase :math:`\\varphi_0`.

    Parameters
    ----------
    S : ndarray of float, shape (1 + n_fft // 2, n_frames)
        The target magnitude :math:`S = |X|` (non-negative; not a power or a dB
        spectrogram).
    n_iter : int, default 32
        :math:`N \\ge 0`.
    hop_length, win_length, n_fft, window, center, pad_mode
        As given to :func:`stft` for the spectrogram ``S`` came from; ``n_fft``
        defaults to ``2 * (n_freq - 1)``.
    dtype : numpy float dtype, optional
        The dtype of the waveform each ISTFT makes (and of the result); default
        float32 for a float32 ``S``, float64 otherwise.
    length : int, optional
        Samples in the result (as :func:`istft`); it must give back ``n_frames``
        frames.
    momentum : float, default 0.99
        :math:`\\alpha \\ge 0`; above 1 a ``UserWarning`` (it may diverge), as librosa.
    init : {"random", None}, default "random"
        The initial phase :math:`\\varphi_0`: uniform on :math:`[0, 2\\pi)`,
        drawn as ``2 * pi * rng.random(S.shape)``; ``None`` for zero phase.
    random_state : None, int, numpy.random.RandomState or Generator
        librosa's argument, with librosa's meaning (an int seeds a legacy
        ``RandomState``), so the same ``random_state`` gives librosa's phase.
    rng : numpy.random.Generator, optional
        Draws :math:`\\varphi_0` (instead of ``random_state``). With neither, a
        fresh unseeded generator is used (as librosa): results then vary from
        run to run.

    Returns
    -------
    ndarray of float, shape (n_samples,)
        Equal to ``librosa.griffinlim`` with the same arguments and initial phase.

    Raises
    ------
    TypeError
        If ``S`` is complex or integer, ``rng`` is not a Generator, or
        ``random_state`` or ``dtype`` is of an unsupported type.
    ValueError
        If ``S`` is not 2-D, has negative values, is empty or not finite, or
        its height does not match ``n_fft``; ``n_iter < 0``; ``momentum < 0``;
        ``init`` is neither ``"random"`` nor ``None``; both ``rng`` and
        ``random_state`` are given; or ``length`` does not give ``n_frames``
        frames.

    Examples
    --------
    The relative gap between the target magnitude and the magnitude of the
    result shrinks with the iterations:

    >>> y = np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)
    >>> S = np.abs(stft(y, n_fft=256, hop_length=64))
    >>> def gap(y_hat):
    ...     return float(np.abs(np.abs(stft(y_hat, n_fft=256, hop_length=64)) - S).sum() / S.sum())
    >>> [round(gap(griffinlim(S, n_fft=256, hop_length=64, length=4000, n_iter=n,
    ...                       rng=np.random.default_rng(0))), 2) for n in (0, 8, 32, 128)]
    [0.68, 0.17, 0.06, 0.03]
    """
    if isinstance(S, np.ndarray) and np.iscomplexobj(S):
        raise TypeError("S must be a magnitude spectrogram: pass np.abs of a complex STFT")
    S = finite_array(S, "S", allow_complex=False)
    if S.ndim != 2:
        raise ValueError(f"S must be 2-D, shape (1 + n_fft // 2, n_frames), got shape {S.shape}")
    if np.any(S < 0):
        raise ValueError("S must be a magnitude (non-negative): pass np.abs of an STFT, not dB or a log")
    if isinstance(n_iter, bool) or not isinstance(n_iter, (int, np.integer)):
        raise TypeError(f"n_iter must be an int >= 0, got {type(n_iter).__name__}")
    if n_iter < 0:
        raise ValueError(f"n_iter must be an int >= 0, got {n_iter}")
    if init not in ("random", None):
        raise ValueError(f"init must be 'random' or None (zero phase), got {init!r}")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.integer, np.floating)):
        raise TypeError(f"momentum must be a real number >= 0, got {type(momentum).__name__}")
    if not momentum >= 0:
        raise ValueError(f"momentum must be >= 0, got {momentum}")
    if momentum > 1:
        warnings.warn(f"Griffin-Lim with momentum={momentum} > 1 can be unstable (it may diverge)", stacklevel=2)
    if dtype is not None:
        if not isinstance(dtype, (type, np.dtype, str)) or np.dtype(dtype) not in (np.float32, np.float64):
            raise TypeError(f"dtype must be None, numpy.float32 or numpy.float64, got {dtype!r}")
        dtype = np.dtype(dtype)
    generator = _griffinlim_rng(rng, random_state)
    n_freq, n_frames = S.shape
    if n_fft is None:
        n_fft = 2 * (n_freq - 1)
        if n_fft < 1:
            raise ValueError("S has one frequency row: pass n_fft explicitly")
    n_fft, hop_length, win_length = _stft_lengths(n_fft, hop_length, win_length)
    if n_freq != 1 + n_fft // 2:
        raise ValueError(f"S has {n_freq} rows, but n_fft={n_fft} needs {1 + n_fft // 2}")
    if length is not None:
        length = positive_int(length, "length")
        padded = length + 2 * (n_fft // 2) if center else length
        frames_back = 1 + (padded - n_fft) // hop_length if padded >= n_fft else 0
        if frames_back != n_frames:
            raise ValueError(f"length={length} gives {frames_back} STFT frames at hop_length={hop_length}, "
                             f"but S has {n_frames}: pass the length of the signal S came from (or None)")
    geometry = dict(hop_length=hop_length, win_length=win_length, n_fft=n_fft, window=window, center=center)

    def inverse(X):
        y = istft(X, length=length, **geometry)
        return y if dtype is None else y.astype(dtype, copy=False)

    complex_dtype = np.complex64 if S.dtype == np.float32 else np.complex128
    eps = np.finfo(complex_dtype).tiny
    if init == "random":
        phi = 2 * np.pi * generator.random(size=S.shape)
        angles = (np.cos(phi) + 1j * np.sin(phi)).astype(complex_dtype)
    else:
        angles = np.ones(S.shape, dtype=complex_dtype)
    angles *= S
    step = momentum / (1 + momentum)
    previous = None  # T_{n-1}
    for _ in range(n_iter):
        rebuilt = stft(inverse(angles), pad_mode=pad_mode, **geometry)  # T_n = P_C(C_{n-1})
        angles[:] = rebuilt
        if previous is not None:
            angles -= step * previous
        angles /= np.abs(angles) + eps  # P_A: keep the phase, restore the magnitude
        angles *= S
        previous = rebuilt
    return inverse(angles)


def power_to_db(S: np.ndarray, *, ref=1.0, amin: float = 1e-10, top_db: float | None = 80.0) -> np.ndarray:
    """Convert a power spectrogram to decibels.

    .. math:: S_\\text{dB} = 10 \\log_{10} \\max(\\epsilon, S) - 10 \\log_{10} \\max(\\epsilon, S_\\text{ref}),

    with the floor :math:`\\epsilon` = ``amin``; then, with ``top_db`` (:math:`\\tau`), floor the result at
    :math:`\\max(S_\\text{dB}) - \\tau`.

    Parameters
    ----------
    S : ndarray of float, any shape
        Power (squared magnitude), non-negative.
    ref : float or callable, default 1.0
        :math:`S_\\text{ref}`, or a function of ``S`` such as ``np.max``.
    amin : float, default 1e-10
        :math:`\\epsilon`, the smallest power considered, > 0 (avoids :math:`\\log 0`).
    top_db : float or None, default 80.0
        Dynamic range kept below the peak, >= 0; ``None`` keeps everything.

    Returns
    -------
    ndarray, same shape and float dtype as ``S``
        Equal to ``librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)``.

    Raises
    ------
    TypeError
        If ``S`` is complex: take ``np.abs(S) ** 2`` first.
    ValueError
        If ``amin <= 0`` or ``top_db < 0``.

    Examples
    --------
    >>> power_to_db(np.array([1.0, 10.0, 100.0]))
    array([ 0., 10., 20.])
    """
    S = finite_array(S, "S")
    if np.iscomplexobj(S):
        raise TypeError("S is complex: pass the power np.abs(S) ** 2 (or use amplitude_to_db for |S|)")
    if not amin > 0:
        raise ValueError(f"amin must be positive, got {amin}")
    if top_db is not None and top_db < 0:
        raise ValueError(f"top_db must be non-negative or None, got {top_db}")
    ref_value = ref(S) if callable(ref) else np.abs(ref)
    log_spec = 10.0 * np.log10(np.maximum(amin, S))
    log_spec -= 10.0 * np.log10(np.maximum(amin, ref_value))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def amplitude_to_db(S: np.ndarray, *, ref=1.0, amin: float = 1e-5, top_db: float | None = 80.0) -> np.ndarray:
    """Convert a magnitude spectrogram to decibels: :math:`20 \\log_{10}` of the ratio.

    The same as :func:`power_to_db` on :math:`|S|^2` with ``ref**2`` and
    ``amin**2``.

    Parameters
    ----------
    S : ndarray, any shape
        Magnitudes (a complex STFT is accepted: its absolute value is used).
    ref : float or callable, default 1.0
    amin : float, default 1e-5
    top_db : float or None, default 80.0

    Returns
    -------
    ndarray of float, same shape as ``S``
        Equal to ``librosa.amplitude_to_db`` with the same arguments.

    Examples
    --------
    >>> amplitude_to_db(np.array([1.0, 10.0, 100.0]))
    array([ 0., 20., 40.])
    """
    magnitude = np.abs(finite_array(S, "S"))
    ref_value = ref(magnitude) if callable(ref) else np.abs(ref)
    if not amin > 0:
        raise ValueError(f"amin must be positive, got {amin}")
    return power_to_db(np.square(magnitude), ref=ref_value**2, amin=amin**2, top_db=top_db)

"""How close a vocoder's waveform is to the recording: spectral distances, PESQ and STOI.

A vocoder cannot be scored sample by sample: a waveform with every phase
shifted sounds the same and differs everywhere. The measures here compare what
a listener hears instead.

* :func:`log_spectral_distance` (LSD, dB): the RMS difference of the two
  log-power spectra in each frame, averaged over frames. Phase-blind; 0 for
  identical magnitudes.
* :func:`multi_resolution_stft_distance`: the spectral convergence and the
  log-magnitude L1 distance of Parallel WaveGAN (Yamamoto et al., 2020),
  averaged over several STFT resolutions, so that no single time/frequency
  trade-off decides; :func:`spectral_convergence` and
  :func:`log_magnitude_distance` are its two terms at one resolution.
* :func:`pesq_nb`: PESQ (ITU-T P.862) in narrow-band mode, a model of a
  listening test that returns a mean opinion score from about 1 (bad) to 4.55
  (indistinguishable), from the ``pesq`` package.
* :func:`stoi`: short-time objective intelligibility (Taal et al., 2011),
  about 0 to 1, from the ``pystoi`` package.

The first three are ours (NumPy, on :func:`lessons_lib.spectral.stft`); PESQ
and STOI are standards defined by their reference code, so they are wrapped
with checks that turn those packages' silent failures (a score for a clip too
short to score, a length mismatch) into clear errors.

Chapter: ``notebooks/07c_wavenet_vocoder.ipynb``.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._checks import finite_array, positive_int, real_number, waveform
from .spectral import power_to_db, stft

__all__ = [
    "PARALLEL_WAVEGAN_RESOLUTIONS",
    "STOI_MIN_SECONDS",
    "PESQ_MIN_SECONDS",
    "log_spectral_distance",
    "spectral_convergence",
    "log_magnitude_distance",
    "multi_resolution_stft_distance",
    "pesq_nb",
    "stoi",
]

#: ``(n_fft, hop_length, win_length)`` of Parallel WaveGAN's multi-resolution STFT loss (24 kHz audio).
PARALLEL_WAVEGAN_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))

#: The shortest clip :func:`stoi` accepts, in seconds. pystoi needs 30 frames of 25.6 ms every 12.8 ms
#: (0.397 s at its 10 kHz) left after it drops silent frames; below that it warns and returns 1e-5.
STOI_MIN_SECONDS = 0.5

#: The shortest clip :func:`pesq_nb` accepts, in seconds (the P.862 code refuses less).
PESQ_MIN_SECONDS = 0.25


# --------------------------------------------------------------------------- checks


def _pair(reference, estimate) -> tuple[np.ndarray, np.ndarray]:
    """Two 1-D float waveforms of the same length, as float64."""
    reference = waveform(reference, "reference")
    estimate = waveform(estimate, "estimate")
    if reference.shape != estimate.shape:
        raise ValueError(
            f"reference and estimate must have the same length, got {reference.shape[0]} and "
            f"{estimate.shape[0]} samples: cut both to the shorter (x[:n]) or pass length= to the vocoder"
        )
    return reference.astype(np.float64), estimate.astype(np.float64)


def _magnitudes(S_ref, S_est) -> tuple[np.ndarray, np.ndarray]:
    S_ref = finite_array(S_ref, "S_ref", allow_complex=False)
    S_est = finite_array(S_est, "S_est", allow_complex=False)
    if S_ref.shape != S_est.shape:
        raise ValueError(f"S_ref and S_est must have the same shape, got {S_ref.shape} and {S_est.shape}")
    if np.any(S_ref < 0) or np.any(S_est < 0):
        raise ValueError("S_ref and S_est must be magnitudes (non-negative): pass np.abs of the STFTs")
    return S_ref, S_est


def _positive(value, name: str) -> float:
    value = real_number(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


# --------------------------------------------------------------------------- spectral distances


def log_spectral_distance(
    reference: np.ndarray,
    estimate: np.ndarray,
    *,
    n_fft: int = 512,
    hop_length: int = 128,
    win_length: int | None = None,
    window="hann",
    center: bool = True,
    amin: float = 1e-10,
) -> float:
    """Log-spectral distance in decibels: RMS over frequency, mean over frames.

    With :math:`P[k, m] = |X[k, m]|^2` the power STFT of the reference and
    :math:`\\hat P` that of the estimate, each floored at :math:`\\epsilon`
    (``amin``) so that silence does not give :math:`\\log 0`,

    .. math::
        \\mathrm{LSD} = \\frac{1}{M} \\sum_{m=0}^{M-1}
        \\sqrt{\\frac{1}{K} \\sum_{k=0}^{K-1}
        \\left(10 \\log_{10} \\frac{\\max(P[k, m], \\epsilon)}{\\max(\\hat P[k, m], \\epsilon)}\\right)^2},

    over :math:`K = 1 + N/2` bins and :math:`M` frames. It ignores the phase,
    is symmetric in its two arguments, and scaling the estimate by :math:`g`
    moves it by at most :math:`|20 \\log_{10} g|` dB (exactly that where no
    bin hits the floor).

    Parameters
    ----------
    reference, estimate : ndarray of float, shape (n_samples,)
        Same length.
    n_fft, hop_length, win_length, window, center
        The STFT (:func:`lessons_lib.spectral.stft`); the defaults are
        Chapter 7c's at 8 kHz (64 ms frames every 16 ms).
    amin : float, default 1e-10
        :math:`\\epsilon`, the power floor (-100 dB), > 0.

    Returns
    -------
    float
        :math:`\\mathrm{LSD}` in dB, >= 0.

    Raises
    ------
    TypeError
        If an argument is not a float array (integer PCM included).
    ValueError
        If the lengths differ, an array is not 1-D, empty or not finite,
        ``amin <= 0``, or the STFT parameters are invalid.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(8000)
    >>> log_spectral_distance(x, x)
    0.0
    >>> round(log_spectral_distance(x, 0.5 * x), 4)  # -6.02 dB in every bin
    6.0206
    """
    reference, estimate = _pair(reference, estimate)
    amin = _positive(amin, "amin")
    geometry = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center)
    log_P = power_to_db(np.abs(stft(reference, **geometry)) ** 2, amin=amin, top_db=None)
    log_P_hat = power_to_db(np.abs(stft(estimate, **geometry)) ** 2, amin=amin, top_db=None)
    per_frame = np.sqrt(np.mean((log_P - log_P_hat) ** 2, axis=0))  # (n_frames,)
    return float(np.mean(per_frame))


def spectral_convergence(S_ref: np.ndarray, S_est: np.ndarray) -> float:
    """How much of the reference magnitude the estimate misses: a relative Frobenius error.

    .. math:: L_\\mathrm{sc} = \\frac{\\| S - \\hat S \\|_F}{\\| S \\|_F}

    Not symmetric: the reference's norm is the yardstick. Dominated by the
    loud bins (the formants and harmonics of speech).

    Parameters
    ----------
    S_ref, S_est : ndarray of float, shape (n_freq, n_frames)
        Magnitudes :math:`S = |X|` and :math:`\\hat S`, non-negative, same shape.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ, a value is negative, or ``S_ref`` is all zeros.

    Examples
    --------
    >>> S = np.array([[3.0, 0.0], [0.0, 4.0]])
    >>> spectral_convergence(S, 0.5 * S)
    0.5
    """
    S_ref, S_est = _magnitudes(S_ref, S_est)
    norm = float(np.linalg.norm(S_ref))
    if norm == 0.0:
        raise ValueError("S_ref is all zeros: the spectral convergence is relative to it and undefined")
    return float(np.linalg.norm(S_ref - S_est) / norm)


def log_magnitude_distance(S_ref: np.ndarray, S_est: np.ndarray, *, eps: float = 1e-7) -> float:
    """Mean absolute difference of the log magnitudes (natural log): quiet bins count too.

    Magnitudes are floored through the power, :math:`\\max(S^2, \\epsilon)`,
    as Parallel WaveGAN's loss does:

    .. math:: L_\\mathrm{mag} = \\frac{1}{K M} \\sum_{k, m}
              \\tfrac12 \\left| \\ln \\max(S[k, m]^2, \\epsilon) - \\ln \\max(\\hat S[k, m]^2, \\epsilon) \\right|

    Symmetric; scaling :math:`\\hat S` by :math:`g` gives at most :math:`|\\ln g|`.

    Parameters
    ----------
    S_ref, S_est : ndarray of float, shape (n_freq, n_frames)
        Magnitudes, non-negative, same shape.
    eps : float, default 1e-7
        :math:`\\epsilon`, the power floor, > 0.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the shapes differ, a value is negative, or ``eps <= 0``.

    Examples
    --------
    >>> S = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> round(log_magnitude_distance(S, np.e * S), 12)
    1.0
    """
    S_ref, S_est = _magnitudes(S_ref, S_est)
    eps = _positive(eps, "eps")
    log_ref = 0.5 * np.log(np.maximum(S_ref.astype(np.float64) ** 2, eps))
    log_est = 0.5 * np.log(np.maximum(S_est.astype(np.float64) ** 2, eps))
    return float(np.mean(np.abs(log_ref - log_est)))


def _resolutions(resolutions) -> list[tuple[int, int, int]]:
    try:
        triples = [tuple(r) for r in resolutions]
    except TypeError:
        raise TypeError("resolutions must be a sequence of (n_fft, hop_length, win_length) triples") from None
    if not triples:
        raise ValueError("resolutions is empty: give at least one (n_fft, hop_length, win_length)")
    checked = []
    for triple in triples:
        if len(triple) != 3:
            raise ValueError(f"each resolution must be (n_fft, hop_length, win_length), got {triple}")
        n_fft, hop, win = (positive_int(v, f"resolution {triple}", "three positive ints") for v in triple)
        if win > n_fft:
            raise ValueError(f"resolution {triple}: win_length {win} is longer than n_fft {n_fft}")
        checked.append((n_fft, hop, win))
    return checked


def multi_resolution_stft_distance(
    reference: np.ndarray,
    estimate: np.ndarray,
    *,
    resolutions=PARALLEL_WAVEGAN_RESOLUTIONS,
    window="hann",
    center: bool = True,
    pad_mode: str = "reflect",
    eps: float = 1e-7,
) -> float:
    """Parallel WaveGAN's multi-resolution STFT distance, in NumPy.

    For each resolution :math:`r = (N_r, R_r, W_r)` (FFT size, hop, window
    length), with magnitudes floored as Parallel WaveGAN's code floors them,
    :math:`S_r = \\sqrt{\\max(|\\mathrm{STFT}_r(x)|^2, \\epsilon)}` and
    :math:`\\hat S_r` the same for :math:`\\hat x`,

    .. math::
        D = \\frac{1}{|\\mathcal R|} \\sum_{r \\in \\mathcal R}
        \\left( L_\\mathrm{sc}(S_r, \\hat S_r) + L_\\mathrm{mag}(S_r, \\hat S_r) \\right)

    with :math:`L_\\mathrm{sc}` from :func:`spectral_convergence` and
    :math:`L_\\mathrm{mag}` from :func:`log_magnitude_distance`. Parallel
    WaveGAN trains its generator on this (as a loss, in torch); here it is a
    score. 0 for identical magnitudes; not symmetric (through
    :math:`L_\\mathrm{sc}`). Equal to ``MultiResolutionSTFTLoss`` of the
    paper's code (its two terms added) for one signal.

    Parameters
    ----------
    reference, estimate : ndarray of float, shape (n_samples,)
        Same length.
    resolutions : sequence of (int, int, int), default PARALLEL_WAVEGAN_RESOLUTIONS
        ``(n_fft, hop_length, win_length)`` triples; the default is the paper's
        for 24 kHz audio, ``((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))``.
        At 8 kHz, dividing each by 3 keeps the same durations.
    window : str, default "hann"
    center : bool, default True
    pad_mode : {"reflect", "constant"}, default "reflect"
        As ``torch.stft`` pads in the paper's code.
    eps : float, default 1e-7
        :math:`\\epsilon`, the power floor, > 0 (the paper's).

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        For waveforms as :func:`log_spectral_distance`; an empty or malformed
        ``resolutions``; a window longer than its FFT; ``eps <= 0``.

    Examples
    --------
    >>> x = np.random.default_rng(0).standard_normal(8000)
    >>> multi_resolution_stft_distance(x, x)
    0.0
    >>> round(multi_resolution_stft_distance(x, 0.5 * x), 4)  # 0.5 + ln 2
    1.1931
    """
    reference, estimate = _pair(reference, estimate)
    triples = _resolutions(resolutions)
    eps = _positive(eps, "eps")
    total = 0.0
    for n_fft, hop_length, win_length in triples:
        geometry = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window,
                        center=center, pad_mode=pad_mode)
        S = np.sqrt(np.maximum(np.abs(stft(reference, **geometry)) ** 2, eps))
        S_hat = np.sqrt(np.maximum(np.abs(stft(estimate, **geometry)) ** 2, eps))
        total += spectral_convergence(S, S_hat) + log_magnitude_distance(S, S_hat, eps=eps)
    return total / len(triples)


# --------------------------------------------------------------------------- PESQ and STOI


def _import_pesq():
    try:
        import pesq
    except ImportError as err:
        raise ImportError(
            "pesq_nb needs the 'pesq' package (ITU-T P.862 reference code). It builds from source: "
            "install a C compiler first (Debian/Ubuntu: apt-get install build-essential; macOS: "
            "xcode-select --install; Colab has one), then pip install pesq"
        ) from err
    return pesq


def pesq_nb(reference: np.ndarray, estimate: np.ndarray, sample_rate: int = 8000) -> float:
    """Narrow-band PESQ (ITU-T P.862): a predicted mean opinion score, about 1 to 4.55.

    PESQ aligns the two signals in time, maps both through a model of
    hearing (Bark bands, loudness) and turns the audible difference into a
    MOS-LQO score. It is what listening tests of telephone speech are
    replaced with; narrow-band mode models a 300-3400 Hz handset, which suits
    8 kHz audio. PESQ equalises the overall levels before it compares, so a
    gain on the estimate alone does not lower the score.

    Parameters
    ----------
    reference, estimate : ndarray of float, shape (n_samples,)
        The clean recording and the vocoder's output, same length, at least
        :data:`PESQ_MIN_SECONDS` long, neither silent.
    sample_rate : {8000, 16000}, default 8000
        P.862 is defined at these two rates only.

    Returns
    -------
    float
        MOS-LQO; a signal against itself scores 4.55.

    Raises
    ------
    ImportError
        If ``pesq`` is not installed (with how to install it: it needs a C compiler).
    TypeError
        If an argument is not a float array.
    ValueError
        If the lengths differ, a clip is shorter than :data:`PESQ_MIN_SECONDS`,
        ``sample_rate`` is neither 8000 nor 16000, either signal is silent, or
        PESQ finds no speech in the reference.

    Examples
    --------
    A buzzy 150 Hz "vowel" swelling three times in one second, against
    itself and with white noise added:

    >>> t = np.arange(8000) / 8000
    >>> x = 0.5 * np.sin(2 * np.pi * 3 * t) ** 2 * np.sign(np.sin(2 * np.pi * 150 * t))
    >>> round(pesq_nb(x, x), 2)
    4.55
    >>> noisy = x + 0.05 * np.random.default_rng(0).standard_normal(8000)
    >>> round(pesq_nb(x, noisy), 1)
    2.4
    """
    reference, estimate = _pair(reference, estimate)
    sample_rate = positive_int(sample_rate, "sample_rate", "8000 or 16000")
    if sample_rate not in (8000, 16000):
        raise ValueError(f"sample_rate must be 8000 or 16000 (the rates P.862 defines), got {sample_rate}: "
                         "resample first (lessons_lib.audio.resample)")
    if reference.shape[0] < PESQ_MIN_SECONDS * sample_rate:
        raise ValueError(f"PESQ needs at least {PESQ_MIN_SECONDS} s ({int(PESQ_MIN_SECONDS * sample_rate)} samples), "
                         f"got {reference.shape[0]} samples: concatenate utterances")
    for name, x in (("reference", reference), ("estimate", estimate)):
        if not np.any(x):
            raise ValueError(f"{name} is silent (all zeros): PESQ cannot align or score it")
    pesq = _import_pesq()
    try:
        return float(pesq.pesq(sample_rate, reference, estimate, "nb"))
    except pesq.NoUtterancesError:
        raise ValueError("PESQ found no speech in the reference (it is too quiet or not speech)") from None
    except pesq.PesqError as err:
        raise ValueError(f"PESQ failed: {err}") from err


def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, *, extended: bool = False) -> float:
    """Short-time objective intelligibility (Taal et al., 2011), from ``pystoi``.

    Both signals are resampled to 10 kHz, frames where the reference is more
    than 40 dB below its loudest are dropped, and one-third-octave band
    envelopes over 384 ms segments (30 frames) are correlated; the score is the
    mean correlation, about 0 (unintelligible) to 1.

    pystoi returns 1e-5 (with only a warning) when fewer than 30 non-silent
    frames remain, a number that looks like a score. Here that is an error:
    clips shorter than :data:`STOI_MIN_SECONDS` are refused up front, and a
    longer clip that is mostly silence raises too. Score whole sentences or
    utterances concatenated to a few seconds: on one 384 ms segment the
    number is noisy.

    Parameters
    ----------
    reference, estimate : ndarray of float, shape (n_samples,)
        The clean recording and the processed one, same length.
    sample_rate : int
        Their rate in Hz.
    extended : bool, default False
        Extended STOI (Jensen & Taal, 2016), better for modulated noise.

    Returns
    -------
    float
        1 for identical signals.

    Raises
    ------
    ImportError
        If ``pystoi`` is not installed.
    TypeError
        If an argument is not a float array.
    ValueError
        If the lengths differ, a clip is shorter than :data:`STOI_MIN_SECONDS`,
        or fewer than 30 frames of it are above the silence threshold.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal(16000)
    >>> round(stoi(x, x, 8000), 6)
    1.0
    """
    reference, estimate = _pair(reference, estimate)
    sample_rate = positive_int(sample_rate, "sample_rate", "a positive int (samples per second)")
    if reference.shape[0] < STOI_MIN_SECONDS * sample_rate:
        raise ValueError(f"STOI needs at least {STOI_MIN_SECONDS} s ({int(np.ceil(STOI_MIN_SECONDS * sample_rate))} "
                         f"samples at {sample_rate} Hz), got {reference.shape[0]} samples: concatenate utterances "
                         "(pystoi would return 1e-5)")
    try:
        from pystoi import stoi as pystoi_stoi
    except ImportError as err:
        raise ImportError("stoi needs the 'pystoi' package: pip install pystoi") from err
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        score = float(pystoi_stoi(reference, estimate, sample_rate, extended=bool(extended)))
    for warning in caught:
        if "Not enough STFT frames" in str(warning.message):
            raise ValueError("STOI needs 30 frames (0.4 s) of the reference above its silence threshold (40 dB "
                             "below its peak); this clip has fewer: use longer or concatenated utterances")
        warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return score

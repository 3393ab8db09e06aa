"""Sampling and quantization: from a continuous wave to a list of integers.

A microphone turns pressure into a voltage :math:`x_c(t)`; an analog-to-digital
converter keeps its value every :math:`T_s = 1/f_s` seconds (sampling) and rounds
each value to one of :math:`2^Q` levels (quantization with :math:`Q` bits). This
module holds the small tools Chapter 1 uses to see and hear what each step
costs: pure tones, the frequency a tone above the Nyquist limit aliases to, a
uniform quantizer and the signal-to-noise ratio it leaves.

WaveNet (Chapter 7b) predicts each sample as one of 256 classes; a uniform
8-bit grid would waste most of its levels on loud samples that speech rarely
has. μ-law companding bends the amplitude axis first (:func:`mu_law_compress`),
so that the same 256 levels are fine near zero and coarse near full scale:
:func:`mu_law_encode` and :func:`mu_law_decode` map audio to class indices
``0 .. mu`` and back, exactly as ``librosa.mu_compress``/``librosa.mu_expand``
do (up to a documented offset).

Chapter: ``notebooks/01a_sampling_and_fourier.ipynb``; μ-law: ``notebooks/07b_wavenet.ipynb``.
"""

from __future__ import annotations

import numpy as np

from ._checks import finite_array, positive_int, real_number, sample_rate

__all__ = ["tone", "alias_frequency", "quantize", "snr_db",
           "mu_law_compress", "mu_law_expand", "mu_law_encode", "mu_law_decode"]


def tone(freq: float, sr: int, duration: float, *, amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """A sampled sine wave.

    .. math:: x[n] = A \\sin\\!\\left(2\\pi f \\frac{n}{f_s} + \\varphi\\right), \\quad n = 0, \\dots, N-1,
              \\quad N = \\operatorname{round}(T f_s)

    Parameters
    ----------
    freq : float
        Frequency :math:`f` in Hz (any real value; above :math:`f_s/2` it aliases).
    sr : int
        Sampling rate :math:`f_s` in Hz.
    duration : float
        Length :math:`T` in seconds, > 0.
    amplitude : float, default 1.0
        Peak value :math:`A`.
    phase : float, default 0.0
        Phase :math:`\\varphi` in radians.

    Returns
    -------
    ndarray of float64, shape (round(duration * sr),)

    Raises
    ------
    TypeError, ValueError
        For a non-numeric or non-finite argument, ``sr <= 0`` or a duration
        shorter than one sample.

    Examples
    --------
    >>> x = tone(1000.0, 8000, 0.001)
    >>> np.round(x, 3)
    array([ 0.   ,  0.707,  1.   ,  0.707,  0.   , -0.707, -1.   , -0.707])
    """
    freq = real_number(freq, "freq")
    sr = sample_rate(sr)
    duration = real_number(duration, "duration")
    amplitude = real_number(amplitude, "amplitude")
    phase = real_number(phase, "phase")
    n_samples = int(round(duration * sr))
    if n_samples < 1:
        raise ValueError(f"duration must last at least one sample (1/sr = {1 / sr:g} s), got {duration}")
    n = np.arange(n_samples)
    return amplitude * np.sin(2 * np.pi * freq * n / sr + phase)


def alias_frequency(freq: float, sr: int) -> float:
    """The frequency a real tone appears at after sampling.

    Sampling cannot tell :math:`f` from :math:`f + k f_s` (for any integer
    :math:`k`), nor :math:`f` from :math:`-f` for a real signal, so every tone
    folds into the band :math:`[0, f_s/2]`:

    .. math:: f_\\text{alias} = \\left| f - f_s \\operatorname{round}\\!\\left(\\frac{f}{f_s}\\right) \\right|

    Parameters
    ----------
    freq : float
        The true frequency in Hz.
    sr : int
        The sampling rate in Hz.

    Returns
    -------
    float
        The apparent frequency, in ``[0, sr / 2]``.

    Examples
    --------
    >>> alias_frequency(5000.0, 8000)  # above Nyquist (4 kHz): folds down
    3000.0
    >>> alias_frequency(1000.0, 8000)  # below Nyquist: unchanged
    1000.0
    """
    freq = real_number(freq, "freq")
    sr = sample_rate(sr)
    return float(abs(freq - sr * np.round(freq / sr)))


def quantize(x: np.ndarray, bits: int, *, as_int: bool = False) -> np.ndarray:
    """Round samples in ``[-1, 1)`` to a signed ``bits``-bit grid (mid-tread).

    A signed :math:`Q`-bit integer takes the :math:`2^Q` values
    :math:`-2^{Q-1}, \\dots, 2^{Q-1} - 1` (16 bits: -32768..32767; 8 bits:
    -128..127). The quantizer scales, rounds and clips:

    .. math:: q[n] = \\operatorname{clip}\\!\\left(\\operatorname{round}(2^{Q-1} x[n]),\\;
              -2^{Q-1},\\; 2^{Q-1} - 1\\right), \\qquad x_Q[n] = q[n] / 2^{Q-1}

    Parameters
    ----------
    x : ndarray of float, any shape
        Samples, nominally in ``[-1, 1)``; values outside are clipped.
    bits : int
        Bit depth :math:`Q`, 1 to 32.
    as_int : bool, default False
        Return the integers :math:`q` (int64) instead of :math:`x_Q`.

    Returns
    -------
    ndarray, same shape as ``x``
        float64 :math:`x_Q`, or int64 :math:`q` when ``as_int``.

    Raises
    ------
    TypeError
        If ``x`` is not a float array or ``bits`` not an int.
    ValueError
        If ``bits`` is outside 1..32 or ``x`` is empty or not finite.

    Examples
    --------
    >>> quantize(np.array([-1.0, -0.3, 0.0, 0.3, 0.999]), 8, as_int=True)
    array([-128,  -38,    0,   38,  127])
    >>> quantize(np.array([0.3]), 2)
    array([0.5])
    """
    x = finite_array(x, "x", allow_complex=False)
    bits = positive_int(bits, "bits", "an int from 1 to 32")
    if bits > 32:
        raise ValueError(f"bits must be an int from 1 to 32, got {bits}")
    scale = 2.0 ** (bits - 1)
    q = np.clip(np.round(x.astype(np.float64) * scale), -scale, scale - 1)
    return q.astype(np.int64) if as_int else q / scale


def snr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Signal-to-noise ratio of ``estimate`` against ``reference``, in decibels.

    .. math:: \\mathrm{SNR} = 10 \\log_{10} \\frac{\\sum_n x[n]^2}{\\sum_n (x[n] - \\hat x[n])^2}

    For a full-scale sine quantized to :math:`Q` bits this is close to
    :math:`6.02\\,Q + 1.76` dB.

    Parameters
    ----------
    reference, estimate : ndarray of float, same shape

    Returns
    -------
    float
        ``inf`` when the two are identical.

    Raises
    ------
    ValueError
        If the shapes differ, or ``reference`` is all zeros.

    Examples
    --------
    >>> x = np.array([1.0, -1.0, 1.0, -1.0])
    >>> round(snr_db(x, 0.9 * x), 2)
    20.0
    """
    reference = finite_array(reference, "reference", allow_complex=False)
    estimate = finite_array(estimate, "estimate", allow_complex=False)
    if reference.shape != estimate.shape:
        raise ValueError(f"reference and estimate must have the same shape, got {reference.shape} and {estimate.shape}")
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    if signal == 0.0:
        raise ValueError("reference is all zeros: its SNR is undefined")
    noise = float(np.sum((reference.astype(np.float64) - estimate) ** 2))
    return float("inf") if noise == 0.0 else float(10.0 * np.log10(signal / noise))


# --------------------------------------------------------------------------- mu-law companding


def _mu(mu) -> int:
    if isinstance(mu, bool) or not isinstance(mu, (int, np.integer)):
        raise TypeError(f"mu must be an int >= 1 (255 for 8-bit mu-law), got {type(mu).__name__}")
    if mu < 1:
        raise ValueError(f"mu must be an int >= 1 (255 for 8-bit mu-law), got {mu}")
    return int(mu)


def _unit_interval(x, name: str) -> np.ndarray:
    x = finite_array(x, name, allow_complex=False)
    if np.any(np.abs(x) > 1):
        raise ValueError(f"{name} must lie in [-1, 1], got values from {x.min():g} to {x.max():g}: "
                         "scale the audio first (e.g. divide by its peak)")
    return x


def mu_law_compress(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """Continuous μ-law companding: stretch small amplitudes, squeeze large ones.

    .. math:: F(x) = \\operatorname{sign}(x)\\, \\frac{\\ln(1 + \\mu |x|)}{\\ln(1 + \\mu)},
              \\qquad F : [-1, 1] \\to [-1, 1]

    :math:`F` is odd and increasing with :math:`F(\\pm 1) = \\pm 1`; its slope at
    zero is :math:`\\mu / \\ln(1 + \\mu)` (46 for :math:`\\mu = 255`).

    Parameters
    ----------
    x : ndarray of float, any shape
        Audio in :math:`[-1, 1]`.
    mu : int, default 255
        :math:`\\mu \\ge 1`.

    Returns
    -------
    ndarray of float64, same shape as ``x``
        Equal to ``librosa.mu_compress(x, mu=mu, quantize=False)`` (which also
        returns float64 for float32 input).

    Raises
    ------
    TypeError
        If ``x`` is not a float array (integer PCM included) or ``mu`` is not an int.
    ValueError
        If ``x`` has a value outside :math:`[-1, 1]`, is empty or not finite, or ``mu < 1``.

    Examples
    --------
    >>> mu_law_compress(np.array([-1.0, -0.01, 0.0, 0.01, 1.0])).round(4)
    array([-1.    , -0.2285,  0.    ,  0.2285,  1.    ])
    """
    x = _unit_interval(x, "x")
    mu = _mu(mu)
    return np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(np.float64(mu))


def mu_law_expand(c: np.ndarray, mu: int = 255) -> np.ndarray:
    """The inverse of :func:`mu_law_compress`.

    .. math:: F^{-1}(c) = \\operatorname{sign}(c)\\, \\frac{(1 + \\mu)^{|c|} - 1}{\\mu}

    Parameters
    ----------
    c : ndarray of float, any shape
        Companded values in :math:`[-1, 1]`.
    mu : int, default 255

    Returns
    -------
    ndarray of float64, same shape as ``c``
        Equal to ``librosa.mu_expand(c, mu=mu, quantize=False)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`mu_law_compress`.

    Examples
    --------
    >>> x = np.array([-0.5, 0.001, 0.9])
    >>> np.allclose(mu_law_expand(mu_law_compress(x)), x)
    True
    """
    c = _unit_interval(c, "c")
    mu = _mu(mu)
    return np.sign(c) * (np.power(np.float64(1 + mu), np.abs(c)) - 1.0) / mu


def mu_law_encode(x: np.ndarray, mu: int = 255) -> np.ndarray:
    """μ-law quantization: audio in :math:`[-1, 1]` to class indices ``0 .. mu``.

    The companded value :math:`c = F(x)` (:func:`mu_law_compress`) is compared
    with :math:`\\mu + 1` equally spaced edges :math:`e_j = -1 + 2j/\\mu`,
    :math:`j = 0, \\dots, \\mu`, and the index is the first edge at or above it:

    .. math:: q = \\min\\{\\, j : e_j \\ge F(x) \\,\\}
              = \\left\\lceil \\frac{\\mu\\, (F(x) + 1)}{2} \\right\\rceil \\in \\{0, \\dots, \\mu\\}

    This is librosa's convention, kept so that the two agree exactly; it has
    two consequences worth knowing. Class 0 holds only :math:`x = -1` itself
    (every other value has :math:`F(x) > e_0`), and silence :math:`x = 0` lands
    in class :math:`\\mu / 2` rounded up (128 for :math:`\\mu = 255`).

    ``librosa.mu_compress(x, mu=mu, quantize=True)`` returns the same classes
    shifted to be centred on zero (``-128 .. 127`` for :math:`\\mu = 255`):

    .. math:: q = q_\\text{librosa} + \\left\\lfloor \\frac{\\mu + 1}{2} \\right\\rfloor

    Class indices starting at 0 are what a softmax over :math:`\\mu + 1` classes
    and ``torch.nn.functional.cross_entropy`` expect.

    Parameters
    ----------
    x : ndarray of float, any shape
        Audio in :math:`[-1, 1]`.
    mu : int, default 255
        :math:`\\mu \\ge 1`; there are :math:`\\mu + 1` classes (256 for 8 bits).

    Returns
    -------
    ndarray of int64, same shape as ``x``
        :math:`q`, in ``0 .. mu``.

    Raises
    ------
    TypeError
        If ``x`` is not a float array (integer PCM: convert it with
        :func:`lessons_lib.audio.pcm_to_float`) or ``mu`` is not an int.
    ValueError
        If ``x`` has a value outside :math:`[-1, 1]`, is empty or not finite, or ``mu < 1``.

    Examples
    --------
    >>> mu_law_encode(np.array([-1.0, -0.5, -0.001, 0.0, 0.001, 0.5, 1.0]))
    array([  0,  16, 123, 128, 133, 240, 255])
    """
    c = mu_law_compress(x, mu)
    edges = np.linspace(-1.0, 1.0, int(mu) + 1)
    return np.searchsorted(edges, c, side="left").astype(np.int64)


def mu_law_decode(q: np.ndarray, mu: int = 255) -> np.ndarray:
    """Class indices ``0 .. mu`` back to audio in :math:`[-1, 1]`.

    Each class is centred, scaled to a companded value and expanded with
    :func:`mu_law_expand`:

    .. math:: c = \\frac{2}{\\mu + 1} \\left(q - \\left\\lfloor \\frac{\\mu + 1}{2} \\right\\rfloor\\right),
              \\qquad \\hat x = F^{-1}(c)

    Equal to ``librosa.mu_expand(q - (mu + 1) // 2, mu=mu, quantize=True)``.
    The scale :math:`2 / (\\mu + 1)` is librosa's: it is not the edge spacing
    :math:`2 / \\mu` of :func:`mu_law_encode`, so class :math:`\\mu` decodes to
    0.957 rather than 1 (:math:`\\mu = 255`) and decoding does not return the
    centre of each class; the round trip :math:`\\hat x` still keeps the sign
    of :math:`x` and an error that grows with :math:`|x|`, which is the point of
    μ-law.

    Parameters
    ----------
    q : ndarray of int, any shape
        Class indices in ``0 .. mu`` (e.g. sampled from a WaveNet's softmax).
    mu : int, default 255

    Returns
    -------
    ndarray of float64, same shape as ``q``

    Raises
    ------
    TypeError
        If ``q`` is not an array of integers or ``mu`` is not an int.
    ValueError
        If ``q`` is empty or has a value outside ``0 .. mu``, or ``mu < 1``.

    Examples
    --------
    >>> mu_law_decode(np.array([0, 128, 255])).round(4)
    array([-1.    ,  0.    ,  0.9574])
    >>> x = np.array([-0.5, 0.0, 0.02, 0.8])
    >>> np.abs(mu_law_decode(mu_law_encode(x)) - x).round(4)
    array([0.002 , 0.    , 0.0003, 0.0298])
    """
    mu = _mu(mu)
    if not isinstance(q, np.ndarray):
        raise TypeError(f"q must be a numpy array of class indices, got {type(q).__name__}")
    if not np.issubdtype(q.dtype, np.integer):
        raise TypeError(f"q must hold integer class indices 0..{mu}, got dtype {q.dtype}")
    if q.size == 0:
        raise ValueError("q is empty")
    if q.min() < 0 or q.max() > mu:
        raise ValueError(f"q must hold class indices in 0..{mu} (mu={mu}), got values from {q.min()} to {q.max()}")
    c = (q.astype(np.float64) - (mu + 1) // 2) * (2.0 / (mu + 1))
    return np.sign(c) / mu * (np.power(1.0 + mu, np.abs(c)) - 1.0)

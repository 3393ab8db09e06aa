"""Sampling and quantization: from a continuous wave to a list of integers.

A microphone turns pressure into a voltage :math:`x_c(t)`; an analog-to-digital
converter keeps its value every :math:`T_s = 1/f_s` seconds (sampling) and rounds
each value to one of :math:`2^Q` levels (quantization with :math:`Q` bits). This
module holds the small tools Chapter 1 uses to see and hear what each step
costs: pure tones, the frequency a tone above the Nyquist limit aliases to, a
uniform quantizer and the signal-to-noise ratio it leaves.

Chapter: ``notebooks/01a_sampling_and_fourier.ipynb``.
"""

from __future__ import annotations

import numpy as np

from ._checks import finite_array, positive_int, real_number, sample_rate

__all__ = ["tone", "alias_frequency", "quantize", "snr_db"]


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

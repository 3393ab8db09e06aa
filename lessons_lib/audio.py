"""Reading, writing and resampling audio.

Waveforms are float32 arrays of ``shape (n_samples,)`` with values in
``[-1, 1)``: a 16-bit PCM sample :math:`q \\in \\{-32768, \\dots, 32767\\}`
becomes :math:`x = q / 2^{15}`. This is the scaling soundfile and librosa use,
so a waveform loaded here is bit-for-bit the one ``librosa.load(path, sr=None)``
returns.

This module is plumbing: it uses soundfile (libsndfile) to decode files and
SciPy's polyphase filter to change the sampling rate. Chapter 1 explains
sampling, bit depth and band-limited resampling from first principles.

Chapter: ``notebooks/00_getting_started.ipynb``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ._checks import sample_rate as _check_sr
from ._checks import waveform as _check_waveform

__all__ = ["pcm_to_float", "resample", "load_audio", "save_audio"]


def pcm_to_float(q: np.ndarray) -> np.ndarray:
    """Convert integer PCM samples to float32 in ``[-1, 1)``.

    .. math:: x = \\frac{q}{2^{b-1}}

    for signed ``b``-bit samples; unsigned 8-bit samples (WAV's 8-bit format)
    are centred first, :math:`x = (q - 128) / 128`.

    Parameters
    ----------
    q : ndarray of int8, int16, int32 or uint8, any shape
        PCM samples.

    Returns
    -------
    ndarray of float32, same shape as ``q``

    Raises
    ------
    TypeError
        If ``q`` is not a numpy array of one of the integer types above.

    Examples
    --------
    >>> pcm_to_float(np.array([-32768, 0, 16384], dtype=np.int16))
    array([-1. ,  0. ,  0.5], dtype=float32)
    >>> pcm_to_float(np.array([0, 128, 255], dtype=np.uint8))
    array([-1.       ,  0.       ,  0.9921875], dtype=float32)
    """
    if not isinstance(q, np.ndarray):
        raise TypeError(f"q must be a numpy array of integer PCM samples, got {type(q).__name__}")
    if q.dtype == np.uint8:
        return (q.astype(np.float32) - np.float32(128.0)) * np.float32(1.0 / 128.0)
    if q.dtype not in (np.int8, np.int16, np.int32):
        raise TypeError(f"q must have dtype int8, int16, int32 or uint8, got {q.dtype}")
    bits = 8 * q.dtype.itemsize
    # Scaling by a power of two is exact, so converting first loses nothing more
    # than the float32 rounding that any conversion of 32-bit PCM must do.
    return q.astype(np.float32) * np.float32(2.0 ** -(bits - 1))


def resample(y: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Change the sampling rate of a waveform with a polyphase filter.

    The rate changes by the reduced fraction
    :math:`L/M = f_\\text{target} / f_\\text{orig}`: upsample by :math:`L`,
    low-pass filter (a Kaiser-windowed sinc), downsample by :math:`M`. The
    output has exactly :math:`\\lceil L \\cdot n / M \\rceil` samples, the same
    as ``librosa.resample(y, orig_sr=..., target_sr=..., res_type="polyphase")``.

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,)
        The waveform.
    orig_sr, target_sr : int
        Sampling rates in Hz, positive.

    Returns
    -------
    ndarray, shape (ceil(n_samples * target_sr / orig_sr),)
        Same dtype as ``y``. ``y`` itself (not a copy) when the rates are equal.

    Raises
    ------
    TypeError
        If ``y`` is not a float array or a rate is not an int.
    ValueError
        If ``y`` is not 1-D or holds NaN/inf, or a rate is not positive.

    Examples
    --------
    >>> y = np.zeros(8000, dtype=np.float32)
    >>> resample(y, 8000, 16000).shape
    (16000,)
    """
    _check_waveform(y)
    orig_sr = _check_sr(orig_sr, "orig_sr")
    target_sr = _check_sr(target_sr, "target_sr")
    if orig_sr == target_sr:
        return y
    from scipy.signal import resample_poly

    g = math.gcd(orig_sr, target_sr)
    up, down = target_sr // g, orig_sr // g
    out = resample_poly(y, up, down)
    n_out = -(-up * y.shape[0] // down)  # exact integer ceil(up * n / down)
    if out.shape[0] >= n_out:
        out = out[:n_out]
    else:
        out = np.pad(out, (0, n_out - out.shape[0]))
    return out.astype(y.dtype, copy=False)


def _read_wav(path: Path, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode a 16-bit PCM WAV file with the standard library (for machines without soundfile)."""
    import wave

    try:
        with wave.open(str(path), "rb") as f:
            if f.getsampwidth() != 2:
                raise ValueError(f"could not decode {path}: without soundfile only 16-bit PCM WAV is read")
            channels, sr = f.getnchannels(), f.getframerate()
            q = np.frombuffer(f.readframes(f.getnframes()), dtype="<i2").reshape(-1, channels)
    except (wave.Error, EOFError) as err:
        raise ValueError(f"could not decode {path} as audio: {err}") from err
    data = q.astype(np.float32) / np.float32(32768)
    if channels == 1:
        return np.ascontiguousarray(data[:, 0]), sr
    if mono:
        return np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)), sr
    return np.ascontiguousarray(data.T), sr


def _read(path: Path, mono: bool = True) -> tuple[np.ndarray, int]:
    """Decode ``path`` (known to exist) into float32 samples; no other checks.

    soundfile decodes; where it is not installed (a GPU machine with only torch and
    NumPy), 16-bit PCM WAV files such as FSDD's are read with the standard library.
    """
    try:
        import soundfile as sf
    except ImportError:
        return _read_wav(path, mono)
    try:
        data, sr = sf.read(str(path), dtype="float32")
    except (RuntimeError, sf.LibsndfileError) as err:
        raise ValueError(f"could not decode {path} as audio: {err}") from err
    if data.ndim == 1:  # one channel: soundfile already gives (n_samples,)
        return data, int(sr)
    if mono:  # (n_samples, n_channels) -> average of the channels
        return np.ascontiguousarray(data.mean(axis=1, dtype=np.float32)), int(sr)
    return np.ascontiguousarray(data.T), int(sr)


def load_audio(path, *, sr: int | None = None, mono: bool = True) -> tuple[np.ndarray, int]:
    """Read an audio file as float32 samples in ``[-1, 1)``.

    Parameters
    ----------
    path : str or os.PathLike
        A file soundfile can decode (WAV, FLAC, OGG, ...).
    sr : int, optional
        Resample to this rate with :func:`resample`. ``None`` keeps the file's.
    mono : bool, default True
        Average the channels into one. With ``mono=False`` a multichannel file
        gives ``shape (n_channels, n_samples)``, as librosa does.

    Returns
    -------
    y : ndarray of float32, shape (n_samples,) or (n_channels, n_samples)
    sr : int
        The sampling rate of ``y``.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file cannot be decoded as audio.

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "tone.wav")
    >>> save_audio(path, np.zeros(800, dtype=np.float32), 8000)
    >>> y, sr = load_audio(path)
    >>> y.shape, y.dtype, sr
    ((800,), dtype('float32'), 8000)
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no audio file at {path}")
    y, file_sr = _read(path, mono)
    if sr is not None and sr != file_sr:
        sr = _check_sr(sr, "sr")
        if y.ndim == 1:
            y = resample(y, file_sr, sr)
        else:
            y = np.stack([resample(channel, file_sr, sr) for channel in y])
        return y, sr
    return y, file_sr


def save_audio(path, y: np.ndarray, sr: int, *, subtype: str = "PCM_16") -> None:
    """Write a waveform to a WAV file.

    Parameters
    ----------
    path : str or os.PathLike
        Destination; the folder must exist.
    y : ndarray of float, shape (n_samples,)
        Samples in ``[-1, 1)``; values outside are clipped by libsndfile.
    sr : int
        Sampling rate in Hz.
    subtype : str, default "PCM_16"
        The sample format, as soundfile names it (``"PCM_16"``, ``"FLOAT"``...).

    Raises
    ------
    TypeError, ValueError
        For a waveform or rate of the wrong type or shape.

    Examples
    --------
    >>> import tempfile, os
    >>> save_audio(os.path.join(tempfile.mkdtemp(), "silence.wav"), np.zeros(10), 8000)
    """
    import soundfile as sf

    _check_waveform(y)
    sr = _check_sr(sr, "sr")
    sf.write(str(path), y, sr, subtype=subtype)

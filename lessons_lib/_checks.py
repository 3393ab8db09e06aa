"""Input validation shared by the modules: clear errors that name the argument."""

from __future__ import annotations

import numpy as np


def positive_int(value, name: str, what: str = "a positive int") -> int:
    """``value`` as an int > 0, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be {what}, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be {what}, got {value}")
    return int(value)


def real_number(value, name: str) -> float:
    """``value`` as a finite float, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return float(value)


def sample_rate(value, name: str = "sr") -> int:
    return positive_int(value, name, "a positive int (samples per second)")


def finite_array(x, name: str, *, allow_complex: bool = True) -> np.ndarray:
    """A non-empty, finite, numeric (float or complex) array; integer PCM is refused."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(x).__name__}")
    if np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_:
        raise TypeError(
            f"{name} has integer dtype {x.dtype}: convert PCM samples to floats in [-1, 1) "
            "with lessons_lib.audio.pcm_to_float first"
        )
    if not (np.issubdtype(x.dtype, np.floating) or (allow_complex and np.issubdtype(x.dtype, np.complexfloating))):
        raise TypeError(f"{name} must hold {'real or complex ' if allow_complex else 'real '}numbers, got dtype {x.dtype}")
    if x.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def waveform(y, name: str = "y") -> np.ndarray:
    """A 1-D, non-empty, finite float waveform."""
    if isinstance(y, np.ndarray) and y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, shape (n_samples,), got shape {y.shape}")
    y = finite_array(y, name, allow_complex=False)
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D, shape (n_samples,), got shape {y.shape}")
    return y


def probability(value, name: str) -> float:
    """``value`` as a float in [0, 1) (a dropout or masking probability), else a ``ValueError`` naming ``name``."""
    p = real_number(value, name)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return p

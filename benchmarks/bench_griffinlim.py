"""lessons_lib.spectral.griffinlim against librosa.griffinlim (Chapter 7c).

Both run the same fast Griffin-Lim (momentum 0.99, 32 iterations) from the same random initial phase
(``random_state=0``: librosa's own draw, which ours reproduces), and are checked equal before timing.
Inputs: the magnitude STFT of a speech-like signal (harmonics of a gliding pitch under a moving
envelope), at the chapter's vocoder setting (8 kHz, ``n_fft`` 512, hop 128; 2 s, float64 and float32)
and at librosa's defaults (22.05 kHz, ``n_fft`` 2048, hop 512; 5 s). Each iteration is one ISTFT and one
STFT, so the ratio follows :func:`lessons_lib.spectral.stft` and :func:`lessons_lib.spectral.istft`.
"""

from __future__ import annotations

import librosa
import numpy as np

from lessons_lib import spectral

from .core import Case, assert_close

# (sample rate, seconds, n_fft, hop_length, dtype, label)
SETTINGS = [
    (8000, 2.0, 512, 128, np.float64, "Chapter 7c's setting"),
    (8000, 2.0, 512, 128, np.float32, "Chapter 7c's setting"),
    (22050, 5.0, 2048, 512, np.float64, "librosa defaults"),
]


def _voiced(sr, seconds):
    rng = np.random.default_rng(0)
    t = np.arange(int(sr * seconds)) / sr
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    harmonics = sum(np.sin(k * phase) / k for k in range(1, 20))
    return 0.2 * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2) * harmonics + 0.003 * rng.standard_normal(t.size)


def _setup(sr, seconds, n_fft, hop_length, dtype):
    def setup():
        y = _voiced(sr, seconds).astype(dtype)
        S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop_length))
        return {"S": S, "n_fft": n_fft, "hop_length": hop_length, "length": y.size}
    return setup


def _ours(S, n_fft, hop_length, length):
    return spectral.griffinlim(S, n_fft=n_fft, hop_length=hop_length, length=length, n_iter=32, random_state=0)


def _librosa(S, n_fft, hop_length, length):
    return librosa.griffinlim(S, n_fft=n_fft, hop_length=hop_length, length=length, n_iter=32, random_state=0)


def _same(ours, reference):
    assert ours.dtype == reference.dtype
    rtol = 1e-6 if ours.dtype == np.float64 else 1e-3
    assert_close(ours, reference, rtol=rtol, atol=rtol * np.abs(reference).max())


CASES = [
    Case(f"spectral.griffinlim, 32 iterations, {seconds:g} s @ {sr / 1000:g} kHz, n_fft {n_fft}, hop {hop}, "
         f"{np.dtype(dtype).name} ({label}) (vs librosa.griffinlim)",
         _setup(sr, seconds, n_fft, hop, dtype), _ours, _librosa, _same)
    for sr, seconds, n_fft, hop, dtype, label in SETTINGS
]

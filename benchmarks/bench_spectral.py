"""lessons_lib.spectral, mel and features against librosa on 60 s of 8 kHz audio (Chapter 1)."""

from __future__ import annotations

import librosa
import numpy as np

from lessons_lib import features, mel, spectral

from .core import Case, assert_close

SR = 8000
SPEECH = dict(n_fft=256, hop_length=80, win_length=200)  # 25 ms window, 10 ms hop, as the features use


def _audio():
    rng = np.random.default_rng(0)
    return {"y": (0.1 * rng.standard_normal(60 * SR)).astype(np.float32)}


def _close32(ours, reference):
    assert_close(ours, reference, rtol=1e-5, atol=1e-5 * np.abs(reference).max())


def _recording():
    """One second of float64 audio: the size of an FSDD recording, as the chapters pass them one by one."""
    rng = np.random.default_rng(2)
    return {"y": 0.1 * rng.standard_normal(SR)}


def _librosa_39(y):
    """The same 39-dim frames from librosa: pre-emphasis, MFCC, deltas, per-utterance CMVN."""
    M = librosa.feature.mfcc(y=librosa.effects.preemphasis(y, coef=0.97, zi=0.0), sr=SR, n_mfcc=13, n_mels=26,
                             fmin=20.0, fmax=SR / 2, window="hann", **SPEECH)
    X = np.vstack([M, librosa.feature.delta(M), librosa.feature.delta(M, order=2)]).T
    return (X - X.mean(axis=0)) / X.std(axis=0)


def _close64(ours, reference):
    assert_close(ours, reference, rtol=1e-9, atol=1e-9 * np.abs(reference).max())


def _spectrogram():
    y = _audio()["y"]
    return {"S": librosa.stft(y, **SPEECH)}


CASES = [
    Case("spectral.stft, 60 s @ 8 kHz, librosa defaults (n_fft 2048)", _audio,
         lambda y: spectral.stft(y), lambda y: librosa.stft(y), _close32),
    Case("spectral.stft, 60 s @ 8 kHz, speech (n_fft 256, hop 80)", _audio,
         lambda y: spectral.stft(y, **SPEECH), lambda y: librosa.stft(y, **SPEECH), _close32),
    Case("spectral.istft, 60 s @ 8 kHz, speech", _spectrogram,
         lambda S: spectral.istft(S, **SPEECH), lambda S: librosa.istft(S, **SPEECH), _close32),
    Case("mel.melspectrogram, 60 s @ 8 kHz, librosa defaults", _audio,
         lambda y: mel.melspectrogram(y=y, sr=SR), lambda y: librosa.feature.melspectrogram(y=y, sr=SR), _close32),
    Case("mel.melspectrogram, 60 s @ 8 kHz, speech (26 mels)", _audio,
         lambda y: mel.melspectrogram(y=y, sr=SR, n_mels=26, **SPEECH),
         lambda y: librosa.feature.melspectrogram(y=y, sr=SR, n_mels=26, **SPEECH), _close32),
    Case("features.mfcc, 60 s @ 8 kHz, librosa defaults", _audio,
         lambda y: features.mfcc(y=y, sr=SR), lambda y: librosa.feature.mfcc(y=y, sr=SR), _close32),
    Case("features.mfcc, 60 s @ 8 kHz, speech (13 of 26)", _audio,
         lambda y: features.mfcc(y=y, sr=SR, n_mfcc=13, n_mels=26, **SPEECH),
         lambda y: librosa.feature.mfcc(y=y, sr=SR, n_mfcc=13, n_mels=26, **SPEECH), _close32),
    Case("features.delta, (13, 6000) frames, width 9", lambda: {"M": np.random.default_rng(1).standard_normal((13, 6000))},
         lambda M: features.delta(M), lambda M: librosa.feature.delta(M)),
    Case("features.mfcc_features, one 1 s recording (float64), 39-dim frames", _recording,
         lambda y: features.mfcc_features(y, SR), _librosa_39, _close64),
]

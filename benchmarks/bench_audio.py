"""lessons_lib.audio against librosa (Chapter 0)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from lessons_lib import audio

from .core import Case

SECONDS = 60


def _speechlike(sr: int, seconds: int = SECONDS) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.1 * rng.standard_normal(sr * seconds)).astype(np.float32)


def _pcm():
    q = (_speechlike(8000) * 32768).astype(np.int16)
    return {"q": q}


def _wav_file():
    path = Path(tempfile.mkdtemp()) / "speech.wav"
    sf.write(path, _speechlike(8000), 8000, subtype="PCM_16")
    return {"path": path}


def _check_loaded(ours, reference):
    np.testing.assert_array_equal(ours[0], reference[0])
    assert ours[1] == reference[1]


CASES = [
    Case(
        name="audio.pcm_to_float, 60 s int16",
        setup=_pcm,
        ours=lambda q: audio.pcm_to_float(q),
        reference=lambda q: librosa.util.buf_to_float(q, n_bytes=2),
    ),
    Case(
        name="audio.resample, 60 s 8 kHz -> 16 kHz",
        setup=lambda: {"y": _speechlike(8000)},
        ours=lambda y: audio.resample(y, 8000, 16000),
        reference=lambda y: librosa.resample(y, orig_sr=8000, target_sr=16000, res_type="polyphase"),
    ),
    Case(
        name="audio.resample, 60 s 44.1 kHz -> 16 kHz",
        setup=lambda: {"y": _speechlike(44100)},
        ours=lambda y: audio.resample(y, 44100, 16000),
        reference=lambda y: librosa.resample(y, orig_sr=44100, target_sr=16000, res_type="polyphase"),
    ),
    Case(
        name="audio.load_audio, 60 s 8 kHz WAV",
        setup=_wav_file,
        ours=lambda path: audio.load_audio(path),
        reference=lambda path: librosa.load(path, sr=None),
        check=_check_loaded,
    ),
]

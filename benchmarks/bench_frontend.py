"""lessons_lib.models.frontend.LogMel on the CPU against librosa and against Chapter 1's NumPy path.

Both sides compute the log-mel spectrogram in dB (power 2, ``ref=1.0``, ``amin=1e-10``, ``top_db=80`` per
recording) of float32 audio at 8 kHz with the speech settings of Chapter 1 (25 ms window of 200 samples,
10 ms hop of 80, ``n_fft`` 256, 26 mels from 20 Hz). Two sizes: one 60 s signal, and a batch of 32
one-second recordings, the shape of a training batch of Chapter 6. For the batch, ``LogMel`` takes the
(32, 8000) tensor at once; librosa takes the (32, 8000) array at once for the mel spectrogram (it
vectorizes over leading axes) and ``power_to_db`` per recording (its ``top_db`` counts from the peak of
the whole array); our NumPy path works one recording at a time, as the earlier chapters call it.
The check: equal within 1e-3 dB (float32; the tests measure about 1.5e-4 dB on speech).

``LogMel`` runs on one torch thread (set and restored around each call), as NumPy's FFT inside both
references runs on one: like is compared with like. On a 2-core machine shared with other jobs, torch's
default of two threads was 20 times slower than one (each parallel region waits for a descheduled
thread), which would measure the machine's load, not the code.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch

from lessons_lib import mel, spectral
from lessons_lib.models.frontend import LogMel

from .core import Case, assert_close, one_thread

SR = 8000
SPEECH = dict(n_fft=256, hop_length=80, win_length=200, n_mels=26, fmin=20.0)
LOGMEL = LogMel(sr=SR, **SPEECH)


def _long():
    y = (0.1 * np.random.default_rng(0).standard_normal(60 * SR)).astype(np.float32)
    return {"y": y, "y_torch": torch.from_numpy(y)}


def _batch():
    y = (0.1 * np.random.default_rng(1).standard_normal((32, SR))).astype(np.float32)
    return {"y": y, "y_torch": torch.from_numpy(y)}


def _ours(y, y_torch):
    with torch.no_grad(), one_thread():  # NumPy's and librosa's FFTs run on one thread: compare like with like
        return LOGMEL(y_torch).numpy()


def _librosa(y, y_torch):
    S = librosa.feature.melspectrogram(y=y, sr=SR, **SPEECH)
    if S.ndim == 2:
        return librosa.power_to_db(S)
    return np.stack([librosa.power_to_db(item) for item in S])


def _numpy(y, y_torch):
    if y.ndim == 1:
        return spectral.power_to_db(mel.melspectrogram(y=y, sr=SR, **SPEECH))
    return np.stack([spectral.power_to_db(mel.melspectrogram(y=item, sr=SR, **SPEECH)) for item in y])


def _same_db(ours, reference):
    assert ours.shape == reference.shape
    assert_close(ours, reference, rtol=0, atol=1e-3)


CASES = [
    Case("models.frontend.LogMel, 60 s @ 8 kHz, speech (26 mels), float32, 1 thread "
         "(vs `librosa.feature.melspectrogram` + `librosa.power_to_db`)", _long, _ours, _librosa, _same_db),
    Case("models.frontend.LogMel, 60 s @ 8 kHz, speech (26 mels), float32, 1 thread "
         "(vs our NumPy path, `mel.melspectrogram` + `spectral.power_to_db`)", _long, _ours, _numpy, _same_db),
    Case("models.frontend.LogMel, batch of 32 x 1 s @ 8 kHz, speech, float32, 1 thread (vs librosa, batched mel)",
         _batch, _ours, _librosa, _same_db),
    Case("models.frontend.LogMel, batch of 32 x 1 s @ 8 kHz, speech, float32, 1 thread "
         "(vs our NumPy path, one by one)", _batch, _ours, _numpy, _same_db),
]

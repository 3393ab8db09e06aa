"""lessons_lib.data against loading the same files with librosa (Chapter 0)."""

from __future__ import annotations

import librosa
import numpy as np

from lessons_lib import data

from .core import Case


def _folder():
    return {"folder": data.find_fsdd(download=False)}


def _librosa_all(folder):
    return [librosa.load(p, sr=None)[0] for p in sorted(folder.glob("*.wav"))]


def _check(ours, reference):
    ordered = sorted(zip(ours.paths, ours.waveforms), key=lambda pair: pair[0].name)
    assert len(ordered) == len(reference)
    for (_, y), ref in zip(ordered, reference):
        np.testing.assert_array_equal(y, ref)


CASES = [
    Case(
        name="data.load_fsdd, all 3,000 recordings",
        setup=_folder,
        ours=lambda folder: data.load_fsdd(folder),
        reference=_librosa_all,
        check=_check,
    ),
]

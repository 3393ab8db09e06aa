"""lessons_lib.fourier against numpy.fft (Chapter 1): the FFT from scratch, n = 2^10 .. 2^16."""

from __future__ import annotations

import numpy as np

from lessons_lib import fourier

from .core import Case, assert_close


def _signal(n: int):
    return lambda: {"x": np.random.default_rng(n).standard_normal(n)}


def _close(ours, reference):
    assert_close(ours, reference, rtol=1e-9, atol=1e-9 * np.abs(reference).max())


CASES = [
    Case(name=f"fourier.fft, n = 2^{k}", setup=_signal(2**k), ours=lambda x: fourier.fft(x),
         reference=lambda x: np.fft.fft(x), check=_close)
    for k in range(10, 17)
] + [
    Case(name="fourier.fft, n = 10^4 (Bluestein)", setup=_signal(10_000), ours=lambda x: fourier.fft(x),
         reference=lambda x: np.fft.fft(x), check=_close),
    Case(name="fourier.dft, n = 2^10 (matrix, O(n^2))", setup=_signal(2**10), ours=lambda x: fourier.dft(x),
         reference=lambda x: np.fft.fft(x), check=_close),
]

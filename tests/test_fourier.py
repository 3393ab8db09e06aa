"""lessons_lib.fourier: the DFT matrix, the O(n^2) DFT and the FFT (radix-2 and Bluestein).

Every function is compared with numpy.fft (and librosa for the frequency axis) on
random real and complex input of many lengths, powers of two and not, batched
along the last axis, at float64 tolerance; then the DFT's defining properties
(linearity, Parseval, inversion, orthogonality of the DFT matrix) are checked
with hypothesis, and the bad inputs the contract names are refused.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lessons_lib import fourier

LENGTHS = [1, 2, 3, 5, 7, 8, 16, 100, 997, 1000, 1024, 4096, 2**14]
DFT_LENGTHS = [n for n in LENGTHS if n <= 1024]  # the O(n^2) matrix product stays small


def random_signal(rng, shape, kind="real"):
    x = rng.standard_normal(shape)
    if kind == "complex":
        x = x + 1j * rng.standard_normal(shape)
    return x


def assert_close_to(ours, reference, *, rtol=1e-10, atol_scale=1e-9):
    """float64 comparison; the absolute tolerance is relative to the data's scale."""
    ours = np.asarray(ours)
    assert ours.shape == reference.shape
    scale = max(np.abs(reference).max(), 1.0)
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol_scale * scale)


# --------------------------------------------------------------------------- dft_matrix


@pytest.mark.parametrize("n", DFT_LENGTHS)
def test_dft_matrix_equals_numpy_fft_of_the_identity(n):
    W = fourier.dft_matrix(n)
    assert W.shape == (n, n) and W.dtype == np.complex128
    # column m of W is the DFT of the unit impulse at m
    assert_close_to(W, np.fft.fft(np.eye(n), axis=0))


@pytest.mark.parametrize("n", [1, 2, 3, 8, 100, 997])
def test_dft_matrix_rows_are_orthogonal(n):
    W = fourier.dft_matrix(n)
    np.testing.assert_allclose(W @ np.conj(W).T, n * np.eye(n), rtol=0, atol=1e-9 * n)


def test_dft_matrix_is_symmetric_with_unit_entries():
    W = fourier.dft_matrix(12)
    np.testing.assert_allclose(W, W.T, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.abs(W), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(W[1, 3], np.exp(-2j * np.pi * 3 / 12), rtol=0, atol=1e-14)


# --------------------------------------------------------------------------- dft / idft


@pytest.mark.parametrize("kind", ["real", "complex"])
@pytest.mark.parametrize("n", DFT_LENGTHS)
def test_dft_and_idft_equal_numpy(n, kind):
    rng = np.random.default_rng([n, kind == "complex"])
    x = random_signal(rng, n, kind)
    X = fourier.dft(x)
    assert X.dtype == np.complex128
    assert_close_to(X, np.fft.fft(x))
    back = fourier.idft(X)
    assert back.dtype == np.complex128
    assert_close_to(back, np.fft.ifft(X))
    assert_close_to(back, x.astype(complex))


@pytest.mark.parametrize("shape", [(3, 7), (2, 3, 16), (4, 1), (5, 100)])
def test_dft_and_idft_batched_along_the_last_axis(shape):
    rng = np.random.default_rng(list(shape))
    x = random_signal(rng, shape, "complex")
    X = fourier.dft(x)
    assert_close_to(X, np.fft.fft(x, axis=-1))
    assert_close_to(fourier.idft(X), np.fft.ifft(X, axis=-1))


def test_dft_of_float32_input_is_complex128():
    x = np.random.default_rng(0).standard_normal(33).astype(np.float32)
    X = fourier.dft(x)
    assert X.dtype == np.complex128
    assert_close_to(X, np.fft.fft(x.astype(np.float64)), rtol=1e-10, atol_scale=1e-9)


# --------------------------------------------------------------------------- fft / ifft


@pytest.mark.parametrize("kind", ["real", "complex"])
@pytest.mark.parametrize("n", LENGTHS)
def test_fft_and_ifft_equal_numpy(n, kind):
    rng = np.random.default_rng([n, 1 + (kind == "complex")])
    x = random_signal(rng, n, kind)
    X = fourier.fft(x)
    assert X.dtype == np.complex128
    assert_close_to(X, np.fft.fft(x))
    back = fourier.ifft(X)
    assert back.dtype == np.complex128
    assert_close_to(back, np.fft.ifft(X))


@pytest.mark.parametrize("n", [1, 3, 8, 100, 997, 1024])
@pytest.mark.parametrize("lead", [(2,), (3, 2), (1,)])
def test_fft_and_ifft_batched_along_the_last_axis(lead, n):
    rng = np.random.default_rng([n, *lead])
    x = random_signal(rng, (*lead, n), "complex")
    X = fourier.fft(x)
    assert_close_to(X, np.fft.fft(x, axis=-1))
    assert_close_to(fourier.ifft(X), np.fft.ifft(X, axis=-1))


@pytest.mark.parametrize(
    "length, n",
    [(5, 8), (8, 5), (100, 128), (1000, 997), (997, 1000), (16, 1), (1, 7), (3, 3), (300, 2**12), (4096, 1000)],
)
def test_fft_and_ifft_n_pads_or_truncates_like_numpy(length, n):
    rng = np.random.default_rng([length, n])
    x = random_signal(rng, (2, length), "complex")
    assert_close_to(fourier.fft(x, n=n), np.fft.fft(x, n=n))
    assert_close_to(fourier.ifft(x, n=n), np.fft.ifft(x, n=n))
    real = x.real[0]
    assert_close_to(fourier.fft(real, n=n), np.fft.fft(real, n=n))


def test_fft_of_length_one_is_the_sample():
    assert_close_to(fourier.fft(np.array([2.5])), np.array([2.5 + 0j]))
    assert_close_to(fourier.ifft(np.array([-1.0 + 2j])), np.array([-1.0 + 2j]))
    assert_close_to(fourier.dft(np.array([0.75])), np.array([0.75 + 0j]))
    assert_close_to(fourier.idft(np.array([0.75j])), np.array([0.75j]))


def test_fft_of_float32_input_is_complex128():
    x = np.random.default_rng(3).standard_normal(1000).astype(np.float32)
    X = fourier.fft(x)
    assert X.dtype == np.complex128
    assert_close_to(X, np.fft.fft(x.astype(np.float64)))


def test_fft_of_a_bin_centred_cosine_has_two_peaks():
    n, k = 1000, 37
    x = np.cos(2 * np.pi * k * np.arange(n) / n)
    expected = np.zeros(n, complex)
    expected[[k, n - k]] = n / 2
    assert_close_to(fourier.fft(x), expected)


# --------------------------------------------------------------------------- properties


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 600), seed=st.integers(0, 2**32 - 1),
       a=st.complex_numbers(max_magnitude=10, allow_nan=False, allow_infinity=False),
       b=st.complex_numbers(max_magnitude=10, allow_nan=False, allow_infinity=False))
def test_fft_is_linear(n, seed, a, b):
    rng = np.random.default_rng(seed)
    x, y = random_signal(rng, n, "complex"), random_signal(rng, n, "complex")
    left = fourier.fft(a * x + b * y)
    right = a * fourier.fft(x) + b * fourier.fft(y)
    scale = max(np.abs(right).max(), np.abs(left).max(), 1.0)
    np.testing.assert_allclose(left, right, rtol=1e-10, atol=1e-9 * scale)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1), complex_input=st.booleans())
def test_parseval(n, seed, complex_input):
    rng = np.random.default_rng(seed)
    x = random_signal(rng, n, "complex" if complex_input else "real")
    X = fourier.fft(x)
    np.testing.assert_allclose(np.sum(np.abs(x) ** 2), np.sum(np.abs(X) ** 2) / n, rtol=1e-10)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(1, 3000), seed=st.integers(0, 2**32 - 1), complex_input=st.booleans())
def test_ifft_inverts_fft(n, seed, complex_input):
    rng = np.random.default_rng(seed)
    x = random_signal(rng, n, "complex" if complex_input else "real")
    back = fourier.ifft(fourier.fft(x))
    np.testing.assert_allclose(back, x, rtol=1e-10, atol=1e-10 * max(np.abs(x).max(), 1.0))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**32 - 1))
def test_dft_and_fft_agree(n, seed):
    x = random_signal(np.random.default_rng(seed), n, "complex")
    X = fourier.dft(x)
    np.testing.assert_allclose(fourier.fft(x), X, rtol=1e-10, atol=1e-9 * max(np.abs(X).max(), 1.0))
    np.testing.assert_allclose(fourier.idft(X), x, rtol=1e-10, atol=1e-10 * max(np.abs(x).max(), 1.0))


# --------------------------------------------------------------------------- fft_frequencies


@pytest.mark.parametrize("sr", [8000, 16000, 22050, 44100])
@pytest.mark.parametrize("n_fft", [1, 2, 15, 16, 255, 256, 400, 512, 2048])
def test_fft_frequencies_equal_numpy_and_librosa(sr, n_fft):
    f = fourier.fft_frequencies(sr, n_fft)
    assert f.dtype == np.float64 and f.shape == (1 + n_fft // 2,)
    np.testing.assert_allclose(f, np.fft.rfftfreq(n_fft, 1 / sr), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(f, librosa.fft_frequencies(sr=sr, n_fft=n_fft), rtol=1e-10, atol=1e-9)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("n", [0, -4])
def test_dft_matrix_rejects_non_positive_n(n):
    with pytest.raises(ValueError, match=r"\bn\b"):
        fourier.dft_matrix(n)


def test_dft_matrix_rejects_non_integer_n():
    with pytest.raises((TypeError, ValueError), match=r"\bn\b"):
        fourier.dft_matrix(4.5)


@pytest.mark.parametrize("func", [fourier.dft, fourier.idft, fourier.fft, fourier.ifft])
def test_transforms_reject_empty_and_non_finite_input(func):
    with pytest.raises(ValueError, match="empty"):
        func(np.array([]))
    with pytest.raises(ValueError, match="NaN|finite"):
        func(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match="NaN|finite"):
        func(np.array([0.0, 1.0, np.inf]))


@pytest.mark.parametrize("func", [fourier.fft, fourier.ifft])
@pytest.mark.parametrize("n", [0, -1])
def test_fft_rejects_non_positive_n(func, n):
    with pytest.raises(ValueError, match=r"\bn\b"):
        func(np.ones(8), n=n)


@pytest.mark.parametrize("args, error, match", [
    ((0, 512), ValueError, "sr"),
    ((-8000, 512), ValueError, "sr"),
    ((8000, 0), ValueError, "n_fft"),
    ((8000, -2), ValueError, "n_fft"),
])
def test_fft_frequencies_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        fourier.fft_frequencies(*args)

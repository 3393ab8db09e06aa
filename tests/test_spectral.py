"""lessons_lib.spectral: windows, framing, STFT, ISTFT and decibels.

Each function is compared with its reference on random signals and parameters:
``get_window`` with scipy.signal.get_window (periodic), ``frame`` with
librosa.util.frame, ``stft``/``istft`` with librosa.stft/istft over n_fft, hop,
win_length, windows, centring, padding and dtypes, ``power_to_db`` and
``amplitude_to_db`` with librosa. Then the ISTFT inverts the STFT (hypothesis),
edge cases (short signals, odd n_fft) and the bad inputs the contract names.
``griffinlim`` is compared with librosa.griffinlim from the same initial phase
(librosa's own draw through ``random_state``, a shared Generator, and zero
phase), checked for the Griffin-Lim law (with no momentum the magnitude error
never grows) and for its bad inputs.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal
from hypothesis import given, settings, strategies as st

from lessons_lib import spectral

pytestmark = pytest.mark.filterwarnings("ignore:n_fft=.*too large:UserWarning")


def assert_matches(ours, reference, dtype):
    """Tight tolerance for float64 paths, float32 rounding otherwise; atol scales with the data."""
    ours = np.asarray(ours)
    assert ours.shape == reference.shape
    scale = max(float(np.abs(reference).max()), 1e-300)
    if np.dtype(dtype) in (np.float64, np.complex128):
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-10 * scale)
    else:
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6 * scale)


# --------------------------------------------------------------------------- get_window

WINDOW_NAMES = [("hann", "hann"), ("hamming", "hamming"), ("rectangular", "boxcar"),
                ("boxcar", "boxcar"), ("ones", "boxcar")]


@pytest.mark.parametrize("ours_name, scipy_name", WINDOW_NAMES)
@pytest.mark.parametrize("win_length", [1, 2, 3, 16, 255, 256, 400, 2048])
def test_get_window_equals_scipy_periodic(ours_name, scipy_name, win_length):
    w = spectral.get_window(ours_name, win_length)
    reference = scipy.signal.get_window(scipy_name, win_length, fftbins=True)
    assert w.dtype == np.float64 and w.shape == (win_length,)
    np.testing.assert_allclose(w, reference, rtol=1e-10, atol=1e-14)


def test_get_window_is_periodic_not_symmetric():
    w = spectral.get_window("hann", 8)
    np.testing.assert_allclose(w, 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(8) / 8), rtol=1e-12, atol=1e-15)
    assert not np.allclose(w, scipy.signal.get_window("hann", 8, fftbins=False))


def test_get_window_array_is_a_float64_copy():
    given_window = np.linspace(0, 1, 10, dtype=np.float32)
    w = spectral.get_window(given_window, 10)
    assert w.dtype == np.float64
    np.testing.assert_array_equal(w, given_window.astype(np.float64))
    w[:] = -5
    assert given_window.min() == 0.0, "the caller's array must not change"
    w64 = np.hanning(7)
    out = spectral.get_window(w64, 7)
    assert not np.shares_memory(out, w64)
    np.testing.assert_array_equal(out, w64)


def test_get_window_bad_input():
    with pytest.raises(ValueError, match="window"):
        spectral.get_window("kaiser-bessel-gauss", 16)
    with pytest.raises(ValueError, match="win_length|window"):
        spectral.get_window(np.ones(8), 16)
    with pytest.raises(ValueError, match="win_length"):
        spectral.get_window("hann", 0)
    with pytest.raises(ValueError, match="win_length"):
        spectral.get_window("hann", -4)


# --------------------------------------------------------------------------- frame


@pytest.mark.parametrize("n, frame_length, hop_length", [
    (10, 10, 1), (11, 10, 3), (1000, 256, 64), (1000, 256, 77), (4000, 400, 160),
    (5, 1, 1), (5, 1, 7), (9999, 2048, 512), (3, 2, 1),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_frame_equals_librosa(n, frame_length, hop_length, dtype):
    y = np.random.default_rng([n, frame_length, hop_length]).uniform(-1, 1, n).astype(dtype)
    frames = spectral.frame(y, frame_length, hop_length)
    reference = librosa.util.frame(y, frame_length=frame_length, hop_length=hop_length).T
    assert frames.shape == (1 + (n - frame_length) // hop_length, frame_length) == reference.shape
    assert frames.dtype == dtype
    np.testing.assert_array_equal(frames, reference)


def test_frame_is_a_read_only_view():
    y = np.arange(20.0)
    frames = spectral.frame(y, 8, 4)
    assert np.shares_memory(frames, y)
    assert not frames.flags.writeable
    with pytest.raises(ValueError):
        frames[0, 0] = 1.0


def test_frame_bad_input():
    with pytest.raises(ValueError, match="frame_length"):
        spectral.frame(np.zeros(5), 6, 1)
    with pytest.raises(ValueError, match="hop_length"):
        spectral.frame(np.zeros(10), 4, 0)
    with pytest.raises(ValueError, match="frame_length"):
        spectral.frame(np.zeros(10), 0, 1)
    with pytest.raises(ValueError, match="1-D"):
        spectral.frame(np.zeros((2, 10)), 4, 2)
    with pytest.raises(TypeError, match="pcm_to_float"):
        spectral.frame(np.zeros(10, np.int16), 4, 2)


# --------------------------------------------------------------------------- stft

# (n_fft, hop_length, win_length, window, center, pad_mode)
STFT_CASES = [
    (16, 1, None, "hann", True, "constant"),
    (16, 4, None, "hann", True, "reflect"),
    (16, 3, 12, "hamming", False, "constant"),
    (15, 5, None, "hann", True, "constant"),  # odd n_fft
    (256, 64, None, "hann", True, "constant"),
    (256, 128, 200, "hann", False, "constant"),
    (256, 77, 255, "hamming", True, "reflect"),
    (255, 64, 101, "hann", True, "constant"),  # odd n_fft, odd win_length padded in the centre
    (512, None, None, "hann", True, "constant"),  # default hop = win_length // 4
    (512, None, 400, "hann", True, "constant"),  # default hop from win_length
    (512, 160, 400, "hann", True, "reflect"),
    (512, 129, 301, "rectangular", False, "constant"),
    (2048, None, None, "hann", True, "reflect"),
    (2048, 512, 1024, "hamming", True, "constant"),
    (2048, 1001, 2047, "array", False, "constant"),
]
LENGTHS = {16: [16, 333], 15: [15, 200], 256: [256, 8000], 255: [300, 7001],
           512: [512, 16000], 2048: [2048, 22050 * 2]}


def case_window(window, win_length, n_fft, rng):
    if window != "array":
        return window, {"rectangular": "boxcar"}.get(window, window)
    w = rng.uniform(0.1, 1.0, win_length or n_fft)
    return w, w


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_fft, hop_length, win_length, window, center, pad_mode", STFT_CASES)
def test_stft_equals_librosa(n_fft, hop_length, win_length, window, center, pad_mode, dtype):
    for n in LENGTHS[n_fft]:
        rng = np.random.default_rng([n_fft, n, hop_length or 0, win_length or 0])
        y = rng.uniform(-1, 1, n).astype(dtype)
        ours_window, ref_window = case_window(window, win_length, n_fft, rng)
        S = spectral.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                          window=ours_window, center=center, pad_mode=pad_mode)
        reference = librosa.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                                 window=ref_window, center=center, pad_mode=pad_mode)
        assert S.dtype == (np.complex128 if dtype == np.float64 else np.complex64)
        assert_matches(S, reference, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_stft_defaults_are_librosas(dtype):
    y = np.random.default_rng(11).uniform(-1, 1, 12345).astype(dtype)
    S = spectral.stft(y)
    assert S.shape == (1025, 1 + 12345 // 512)
    assert_matches(S, librosa.stft(y), dtype)


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("n", [1, 2, 5, 100, 255])
def test_stft_of_a_signal_shorter_than_n_fft_with_center(n, pad_mode):
    y = np.random.default_rng(n).uniform(-1, 1, n)
    S = spectral.stft(y, n_fft=256, hop_length=64, pad_mode=pad_mode)
    assert_matches(S, librosa.stft(y, n_fft=256, hop_length=64, pad_mode=pad_mode), np.float64)


def test_stft_of_a_bin_centred_cosine():
    # a cosine exactly on bin 8 of a 64-point rectangular frame: |X[8]| = 32, the rest 0
    n_fft = 64
    y = np.cos(2 * np.pi * 8 * np.arange(640) / n_fft)
    S = spectral.stft(y, n_fft=n_fft, hop_length=16, window="rectangular", center=False)
    expected = np.zeros_like(S, dtype=float)
    expected[8] = 32.0
    np.testing.assert_allclose(np.abs(S), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"hop_length": 0}, ValueError, "hop_length"),
    ({"hop_length": -16}, ValueError, "hop_length"),
    ({"n_fft": 0}, ValueError, "n_fft"),
    ({"n_fft": -8}, ValueError, "n_fft"),
    ({"n_fft": 256, "win_length": 512}, ValueError, "win_length"),
    ({"n_fft": 256, "window": "no-such-window"}, ValueError, "window"),
])
def test_stft_bad_parameters(kwargs, error, match):
    with pytest.raises(error, match=match):
        spectral.stft(np.zeros(1000), **kwargs)


def test_stft_bad_signals():
    with pytest.raises(ValueError, match="n_fft"):
        spectral.stft(np.zeros(100), n_fft=256, center=False)
    with pytest.raises(TypeError, match="pcm_to_float"):
        spectral.stft(np.zeros(1000, np.int16), n_fft=256)
    with pytest.raises(ValueError, match="empty"):
        spectral.stft(np.array([]), n_fft=256)
    with pytest.raises(ValueError, match="1-D"):
        spectral.stft(np.zeros((2, 1000)), n_fft=256)
    with pytest.raises(ValueError, match="NaN|finite"):
        spectral.stft(np.r_[np.zeros(500), np.nan, np.zeros(500)], n_fft=256)


# --------------------------------------------------------------------------- istft

# (n_fft, hop_length, win_length, window, center, length)
ISTFT_CASES = [
    (16, 4, None, "hann", True, None),
    (16, 1, None, "hann", True, 300),
    (16, 3, 12, "hamming", False, None),
    (15, 5, None, "hann", True, 180),  # odd n_fft
    (256, 64, None, "hann", True, None),
    (256, 128, 200, "hann", True, 7000),  # shorter than the frames cover
    (256, 64, None, "hann", True, 9000),  # longer: zero-padded
    (256, 77, 255, "hamming", True, None),
    (512, None, None, "hann", True, None),
    (512, 160, 400, "hann", True, 16000),
    (512, 129, 301, "rectangular", False, None),
    (2048, None, None, "hann", True, None),
    (2048, 512, 1024, "hamming", False, None),
    (2048, 1001, 2047, "array", True, 40000),
]


@pytest.mark.parametrize("dtype", [np.complex128, np.complex64])
@pytest.mark.parametrize("n_fft, hop_length, win_length, window, center, length", ISTFT_CASES)
def test_istft_equals_librosa(n_fft, hop_length, win_length, window, center, length, dtype):
    rng = np.random.default_rng([n_fft, hop_length or 0, win_length or 0, length or 0])
    n_frames = 40 if hop_length == 1 else max(3, 8000 // (hop_length or n_fft // 4))
    # an arbitrary complex matrix: not necessarily the STFT of any signal
    S = (rng.standard_normal((1 + n_fft // 2, n_frames))
         + 1j * rng.standard_normal((1 + n_fft // 2, n_frames))).astype(dtype)
    ours_window, ref_window = case_window(window, win_length, n_fft, rng)
    y = spectral.istft(S, hop_length=hop_length, win_length=win_length, n_fft=n_fft,
                       window=ours_window, center=center, length=length)
    reference = librosa.istft(S, hop_length=hop_length, win_length=win_length, n_fft=n_fft,
                              window=ref_window, center=center, length=length)
    assert y.dtype == (np.float64 if dtype == np.complex128 else np.float32)
    assert_matches(y, reference, np.float64 if dtype == np.complex128 else np.float32)


def test_istft_infers_n_fft_from_the_number_of_bins():
    rng = np.random.default_rng(5)
    S = rng.standard_normal((129, 50)) + 1j * rng.standard_normal((129, 50))
    assert_matches(spectral.istft(S), librosa.istft(S), np.float64)
    assert_matches(spectral.istft(S, hop_length=100), librosa.istft(S, hop_length=100), np.float64)


@settings(max_examples=40, deadline=None)
@given(n_fft=st.sampled_from([16, 64, 256, 512]), hop_div=st.sampled_from([4, 2]),
       n=st.integers(1, 6000), seed=st.integers(0, 2**32 - 1))
def test_istft_inverts_stft(n_fft, hop_div, n, seed):
    y = np.random.default_rng(seed).uniform(-1, 1, n)
    hop = n_fft // hop_div
    S = spectral.stft(y, n_fft=n_fft, hop_length=hop)
    back = spectral.istft(S, hop_length=hop, n_fft=n_fft, length=n)
    assert back.shape == y.shape
    np.testing.assert_allclose(back, y, rtol=1e-10, atol=1e-10)


def test_istft_inverts_stft_float32():
    y = np.random.default_rng(9).uniform(-1, 1, 8000).astype(np.float32)
    back = spectral.istft(spectral.stft(y, n_fft=512, hop_length=128), hop_length=128, length=8000)
    assert back.dtype == np.float32
    np.testing.assert_allclose(back, y, rtol=1e-5, atol=1e-5)


def test_istft_bad_input():
    S = np.ones((129, 10), complex)
    with pytest.raises(ValueError, match="hop_length"):
        spectral.istft(S, hop_length=0)
    with pytest.raises(ValueError, match="hop_length"):
        spectral.istft(S, hop_length=-1)
    with pytest.raises(ValueError, match="win_length"):
        spectral.istft(S, win_length=300)
    with pytest.raises(ValueError, match="empty"):
        spectral.istft(np.ones((129, 0), complex))
    with pytest.raises(ValueError, match="NaN|finite"):
        spectral.istft(np.full((129, 10), np.nan + 0j))


# --------------------------------------------------------------------------- power_to_db / amplitude_to_db


def random_power(rng, shape, dtype):
    # magnitudes spread over ~14 orders, with some exact zeros
    S = np.exp(rng.normal(0, 7, shape))
    S.flat[:: 17] = 0.0
    return S.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ref", [1.0, 0.5, 1e3, np.max, np.median])
@pytest.mark.parametrize("amin", [1e-10, 1e-5, 1.0])
@pytest.mark.parametrize("top_db", [80.0, None, 40.0, 0.0])
def test_power_to_db_equals_librosa(dtype, ref, amin, top_db):
    S = random_power(np.random.default_rng(3), (65, 40), dtype)
    ours = spectral.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    reference = librosa.power_to_db(S, ref=ref, amin=amin, top_db=top_db)
    assert ours.shape == reference.shape
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(ours, reference, rtol=tol, atol=tol * np.abs(reference).max())


def test_power_to_db_defaults_are_librosas():
    S = random_power(np.random.default_rng(4), (129, 30), np.float64)
    np.testing.assert_allclose(spectral.power_to_db(S), librosa.power_to_db(S), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ref", [1.0, 0.5, np.max])
@pytest.mark.parametrize("amin", [1e-5, 1e-3])
@pytest.mark.parametrize("top_db", [80.0, None, 30.0])
def test_amplitude_to_db_equals_librosa(dtype, ref, amin, top_db):
    S = np.sqrt(random_power(np.random.default_rng(6), (65, 40), np.float64)).astype(dtype)
    ours = spectral.amplitude_to_db(S, ref=ref, amin=amin, top_db=top_db)
    reference = librosa.amplitude_to_db(S, ref=ref, amin=amin, top_db=top_db)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(ours, reference, rtol=tol, atol=tol * np.abs(reference).max())
    np.testing.assert_allclose(spectral.amplitude_to_db(S.astype(np.float64)),
                               librosa.amplitude_to_db(S.astype(np.float64)), rtol=1e-10, atol=1e-9)


def test_db_of_an_stft_equals_librosa():
    y = np.random.default_rng(8).uniform(-1, 1, 5000)
    S = np.abs(librosa.stft(y, n_fft=256))
    np.testing.assert_allclose(spectral.amplitude_to_db(S, ref=np.max),
                               librosa.amplitude_to_db(S, ref=np.max), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(spectral.power_to_db(S**2, ref=np.max, top_db=None),
                               librosa.power_to_db(S**2, ref=np.max, top_db=None), rtol=1e-10, atol=1e-9)


def test_db_examples():
    S = np.array([1.0, 10.0, 100.0, 0.0])
    # 0 is floored at amin = 1e-10 (-100 dB), then clipped to top_db below the peak
    np.testing.assert_allclose(spectral.power_to_db(S), [0.0, 10.0, 20.0, -60.0], atol=1e-12)
    np.testing.assert_allclose(spectral.power_to_db(S, top_db=None), [0.0, 10.0, 20.0, -100.0], atol=1e-12)
    np.testing.assert_allclose(spectral.power_to_db(S, ref=np.max, top_db=None), [-20.0, -10.0, 0.0, -120.0],
                               atol=1e-12)
    np.testing.assert_allclose(spectral.amplitude_to_db(np.array([1.0, 10.0, 0.1])), [0.0, 20.0, -20.0], atol=1e-12)


@pytest.mark.parametrize("func", [spectral.power_to_db, spectral.amplitude_to_db])
def test_db_bad_input(func):
    S = np.ones((4, 4))
    with pytest.raises(ValueError, match="amin"):
        func(S, amin=0.0)
    with pytest.raises(ValueError, match="amin"):
        func(S, amin=-1e-10)
    with pytest.raises(ValueError, match="top_db"):
        func(S, top_db=-1.0)
    with pytest.raises(ValueError, match="NaN|finite"):
        func(np.array([[1.0, np.nan]]))


def test_stft_fft_argument_must_be_callable():
    with pytest.raises(TypeError, match="fft must be a function"):
        spectral.stft(np.zeros(512), n_fft=64, fft="numpy")


# --------------------------------------------------------------------------- griffinlim


def voiced(n, seed, sr=8000):
    """A speech-like test signal: a gliding harmonic tone with a moving envelope, plus a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 120 + 40 * np.sin(2 * np.pi * 1.5 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    harmonics = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 12))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return 0.3 * envelope * harmonics + 0.01 * rng.standard_normal(n)


def assert_close_to_librosa(ours, reference, rtol=1e-6):
    assert ours.shape == reference.shape and ours.dtype == reference.dtype
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=rtol * float(np.abs(reference).max()))


GL_CASES = [  # n, n_fft, hop_length, win_length, window, center, pad_mode, momentum, with_length
    (4000, 512, 128, None, "hann", True, "constant", 0.99, True),
    (4000, 512, None, None, "hann", True, "constant", 0.99, False),
    (3001, 256, 64, 200, "hann", True, "reflect", 0.5, True),
    (2500, 255, 60, None, "hamming", True, "constant", 0.0, True),
    (2500, 200, 50, None, "hann", False, "constant", 0.99, True),
    (2500, 128, 32, 96, "hann", False, "constant", 0.0, False),
    (1000, 64, 16, None, "hann", True, "constant", 1.0, True),
    (6000, 1024, 256, 800, "hann", True, "constant", 0.9, True),
]


@pytest.mark.parametrize("n, n_fft, hop_length, win_length, window, center, pad_mode, momentum, with_length", GL_CASES)
@pytest.mark.parametrize("init", ["random", None])
def test_griffinlim_equals_librosa(n, n_fft, hop_length, win_length, window, center, pad_mode, momentum,
                                   with_length, init):
    y = voiced(n, seed=n_fft)
    geometry = dict(n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window, center=center)
    S = np.abs(librosa.stft(y, pad_mode=pad_mode, **geometry))
    kwargs = dict(geometry, n_iter=16, pad_mode=pad_mode, momentum=momentum, init=init,
                  length=n if with_length else None, random_state=n)
    ours = spectral.griffinlim(S, **kwargs)
    reference = librosa.griffinlim(S, **kwargs)
    assert_close_to_librosa(ours, reference)
    if with_length:
        assert ours.shape == (n,)


def test_griffinlim_defaults_are_librosas():
    y = voiced(8000, seed=1)
    S = np.abs(librosa.stft(y))  # n_fft 2048, hop 512
    assert_close_to_librosa(spectral.griffinlim(S, random_state=3), librosa.griffinlim(S, random_state=3))


@pytest.mark.parametrize("make", [np.random.default_rng, np.random.RandomState])
def test_griffinlim_rng_draws_the_phase_librosa_would(make):
    y = voiced(3000, seed=2)
    S = np.abs(librosa.stft(y, n_fft=256, hop_length=64))
    kwargs = dict(n_fft=256, hop_length=64, n_iter=8)
    reference = librosa.griffinlim(S, random_state=make(7), **kwargs)
    assert_close_to_librosa(spectral.griffinlim(S, random_state=make(7), **kwargs), reference)
    if make is np.random.default_rng:
        assert_close_to_librosa(spectral.griffinlim(S, rng=make(7), **kwargs), reference)


def test_griffinlim_zero_iterations_is_the_istft_of_the_initial_guess():
    y = voiced(2000, seed=3)
    S = np.abs(spectral.stft(y, n_fft=128, hop_length=32))
    phi = 2 * np.pi * np.random.default_rng(5).random(S.shape)
    expected = spectral.istft(S * np.exp(1j * phi), n_fft=128, hop_length=32)
    ours = spectral.griffinlim(S, n_fft=128, hop_length=32, n_iter=0, rng=np.random.default_rng(5))
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-14)
    zero_phase = spectral.griffinlim(S, n_fft=128, hop_length=32, n_iter=0, init=None)
    np.testing.assert_allclose(zero_phase, spectral.istft(S.astype(complex), n_fft=128, hop_length=32), atol=1e-14)


@pytest.mark.parametrize("momentum", [0.0, 0.99])
def test_griffinlim_started_from_the_true_phase_stays_there(monkeypatch, momentum):
    """A consistent spectrogram with its own phase is a fixed point: every iteration returns the signal."""
    y = voiced(2048, seed=4)
    X = spectral.stft(y, n_fft=256, hop_length=64)

    class TruePhase:  # stands in for the unseeded generator griffinlim creates without rng/random_state
        def random(self, size):
            assert size == X.shape
            return np.mod(np.angle(X), 2 * np.pi) / (2 * np.pi)

    monkeypatch.setattr(np.random, "default_rng", lambda *args: TruePhase())
    out = spectral.griffinlim(np.abs(X), n_fft=256, hop_length=64, length=2048, n_iter=10, momentum=momentum)
    np.testing.assert_allclose(out, y, rtol=0, atol=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_griffinlim_without_momentum_never_increases_the_magnitude_error(seed):
    """Griffin & Lim (1984): each iteration is a least-squares step, so || |STFT(x_n)| - S || cannot grow."""
    y = voiced(3000, seed=seed)
    S = np.abs(spectral.stft(y, n_fft=256, hop_length=64))
    errors = []
    for n_iter in range(12):
        x = spectral.griffinlim(S, n_fft=256, hop_length=64, n_iter=n_iter, momentum=0.0, random_state=seed)
        errors.append(np.linalg.norm(np.abs(spectral.stft(x, n_fft=256, hop_length=64)) - S))
    assert np.all(np.diff(errors) <= 1e-9 * errors[0]), errors
    assert errors[-1] < 0.5 * errors[0]


def test_griffinlim_momentum_converges_faster_on_speech_like_audio():
    y = voiced(4000, seed=5)
    S = np.abs(spectral.stft(y, n_fft=256, hop_length=64))

    def error(momentum):
        x = spectral.griffinlim(S, n_fft=256, hop_length=64, n_iter=32, momentum=momentum, random_state=0)
        return np.linalg.norm(np.abs(spectral.stft(x, n_fft=256, hop_length=64)) - S)

    assert error(0.99) < 0.8 * error(0.0)


def test_griffinlim_float32_and_dtype():
    y = voiced(3000, seed=6).astype(np.float32)
    S = np.abs(librosa.stft(y, n_fft=256, hop_length=64))
    assert S.dtype == np.float32
    kwargs = dict(n_fft=256, hop_length=64, n_iter=8, random_state=0)
    ours = spectral.griffinlim(S, **kwargs)
    assert_close_to_librosa(ours, librosa.griffinlim(S, **kwargs), rtol=1e-4)
    assert ours.dtype == np.float32
    ours64 = spectral.griffinlim(S, dtype=np.float64, **kwargs)
    assert ours64.dtype == np.float64
    assert_close_to_librosa(ours64, librosa.griffinlim(S, dtype=np.float64, **kwargs), rtol=1e-4)


def test_griffinlim_one_frame_and_one_sample():
    S = np.abs(spectral.stft(np.array([0.5]), n_fft=16, hop_length=4))
    assert S.shape == (9, 1)
    kwargs = dict(n_fft=16, hop_length=4, length=1, n_iter=4, random_state=0)
    assert_close_to_librosa(spectral.griffinlim(S, **kwargs), librosa.griffinlim(S, **kwargs))


def test_griffinlim_momentum_above_one_warns_as_librosa():
    S = np.abs(spectral.stft(voiced(1000, seed=7), n_fft=64, hop_length=16))
    with pytest.warns(UserWarning, match="momentum=1.5 > 1"):
        spectral.griffinlim(S, n_fft=64, hop_length=16, momentum=1.5, n_iter=2, random_state=0)
    with pytest.warns(UserWarning, match="unstable"):
        librosa.griffinlim(S, n_fft=64, hop_length=16, momentum=1.5, n_iter=2, random_state=0)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(momentum=-0.1), ValueError, "momentum must be >= 0"),
    (dict(momentum="fast"), TypeError, "momentum"),
    (dict(init="zeros"), ValueError, "init must be 'random' or None"),
    (dict(n_iter=-1), ValueError, "n_iter"),
    (dict(n_iter=2.0), TypeError, "n_iter"),
    (dict(n_fft=128), ValueError, "n_fft=128 needs 65"),
    (dict(hop_length=0), ValueError, "hop_length"),
    (dict(win_length=100), ValueError, "win_length"),
    (dict(length=100), ValueError, "length=100 gives"),
    (dict(rng=np.random.default_rng(0), random_state=0), ValueError, "not both"),
    (dict(rng=0), TypeError, "rng must be a numpy.random.Generator"),
    (dict(random_state="seed"), TypeError, "random_state"),
    (dict(dtype=np.int16), TypeError, "dtype"),
    (dict(dtype=np.complex64), TypeError, "dtype"),
])
def test_griffinlim_bad_arguments(kwargs, error, match):
    S = np.abs(spectral.stft(voiced(1000, seed=8), n_fft=64, hop_length=16))
    kwargs = dict(dict(n_fft=64, hop_length=16, n_iter=1), **kwargs)
    with pytest.raises(error, match=match):
        spectral.griffinlim(S, **kwargs)


def test_griffinlim_bad_spectrograms():
    X = spectral.stft(voiced(1000, seed=9), n_fft=64, hop_length=16)
    with pytest.raises(TypeError, match="magnitude"):
        spectral.griffinlim(X, n_fft=64, hop_length=16)
    with pytest.raises(ValueError, match="non-negative"):
        spectral.griffinlim(np.abs(X) - 0.5, n_fft=64, hop_length=16)
    with pytest.raises(ValueError, match="2-D"):
        spectral.griffinlim(np.abs(X)[None], n_fft=64, hop_length=16)
    with pytest.raises(ValueError, match="2-D"):
        spectral.griffinlim(np.abs(X[:, 0]), n_fft=64, hop_length=16)
    with pytest.raises(ValueError, match="NaN"):
        spectral.griffinlim(np.full((33, 4), np.nan), n_fft=64, hop_length=16)
    with pytest.raises(TypeError, match="numpy array"):
        spectral.griffinlim(np.abs(X).tolist(), n_fft=64, hop_length=16)
    with pytest.raises(ValueError, match="one frequency row"):
        spectral.griffinlim(np.ones((1, 4)))

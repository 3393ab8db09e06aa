"""lessons_lib.mel: the mel scale, the mel filterbank and the mel spectrogram.

``hz_to_mel``/``mel_to_hz``/``mel_frequencies`` are compared with librosa for both
the HTK and the Slaney scale, ``mel_filterbank`` with librosa.filters.mel over
sample rates, n_fft, n_mels, band edges, every norm (None, "slaney", 1, 2, inf) and
both dtypes, ``melspectrogram`` with librosa.feature.melspectrogram from a
waveform and from a precomputed spectrogram. Properties: the two conversions
invert each other, filterbank rows are non-negative unimodal triangles. Then the
bad inputs the contract names.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from lessons_lib import mel

pytestmark = [
    pytest.mark.filterwarnings("ignore:Empty filters detected:UserWarning"),
    pytest.mark.filterwarnings("ignore:n_fft=.*too large:UserWarning"),
]


def assert_matches(ours, reference, dtype):
    ours = np.asarray(ours)
    assert ours.shape == reference.shape
    scale = max(float(np.abs(reference).max()), 1e-300)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-10 * scale)
    else:
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=1e-6 * scale)


# --------------------------------------------------------------------------- hz <-> mel


@pytest.mark.parametrize("htk", [False, True])
def test_hz_to_mel_and_back_equal_librosa(htk):
    f = np.r_[0.0, 1.0, 200.0, 999.9, 1000.0, 1000.1, np.random.default_rng(1).uniform(0, 24000, 500), 8000.0]
    m = mel.hz_to_mel(f, htk=htk)
    np.testing.assert_allclose(m, librosa.hz_to_mel(f, htk=htk), rtol=1e-10, atol=1e-12)
    mels = np.r_[0.0, 3.0, 15.0, np.random.default_rng(2).uniform(0, 4000 if htk else 60, 500)]
    np.testing.assert_allclose(mel.mel_to_hz(mels, htk=htk), librosa.mel_to_hz(mels, htk=htk),
                               rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("htk", [False, True])
def test_hz_to_mel_2d_arrays(htk):
    f = np.random.default_rng(3).uniform(0, 11025, (4, 6))
    m = mel.hz_to_mel(f, htk=htk)
    assert isinstance(m, np.ndarray) and m.shape == (4, 6)
    np.testing.assert_allclose(m, librosa.hz_to_mel(f, htk=htk), rtol=1e-10)
    np.testing.assert_allclose(mel.mel_to_hz(m, htk=htk), librosa.mel_to_hz(m, htk=htk), rtol=1e-10)


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("f", [0.0, 440.0, 1000.0, 4000.0, 11025.0])
def test_scalars_in_floats_out(f, htk):
    m = mel.hz_to_mel(f, htk=htk)
    assert isinstance(m, float)
    assert m == pytest.approx(float(librosa.hz_to_mel(f, htk=htk)), rel=1e-10, abs=1e-12)
    back = mel.mel_to_hz(m, htk=htk)
    assert isinstance(back, float)
    assert back == pytest.approx(f, rel=1e-10, abs=1e-9)


def test_known_values():
    assert mel.hz_to_mel(1000.0, htk=True) == pytest.approx(2595 * np.log10(1 + 1000 / 700), rel=1e-12)
    assert mel.hz_to_mel(1000.0) == pytest.approx(15.0, rel=1e-12)  # Slaney: 3 mels per 200 Hz up to 1 kHz
    assert mel.hz_to_mel(600.0) == pytest.approx(9.0, rel=1e-12)
    assert mel.hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0, rel=1e-12)  # log step log(6.4)/27


@settings(max_examples=60, deadline=None)
@given(f=st.floats(0, 48000, allow_nan=False), htk=st.booleans())
def test_mel_to_hz_inverts_hz_to_mel(f, htk):
    assert mel.mel_to_hz(mel.hz_to_mel(f, htk=htk), htk=htk) == pytest.approx(f, rel=1e-10, abs=1e-9)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), htk=st.booleans())
def test_mel_to_hz_inverts_hz_to_mel_arrays(seed, htk):
    f = np.random.default_rng(seed).uniform(0, 30000, 50)
    np.testing.assert_allclose(mel.mel_to_hz(mel.hz_to_mel(f, htk=htk), htk=htk), f, rtol=1e-10, atol=1e-9)


# --------------------------------------------------------------------------- mel_frequencies


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("n_mels, fmin, fmax", [
    (128, 0.0, 11025.0), (1, 0.0, 8000.0), (2, 100.0, 4000.0), (26, 20.0, 4000.0), (40, 133.3, 6855.5),
    (80, 0.0, 8000.0), (10, 1500.0, 3000.0),
])
def test_mel_frequencies_equal_librosa(n_mels, fmin, fmax, htk):
    ours = mel.mel_frequencies(n_mels, fmin=fmin, fmax=fmax, htk=htk)
    np.testing.assert_allclose(ours, librosa.mel_frequencies(n_mels, fmin=fmin, fmax=fmax, htk=htk),
                               rtol=1e-10, atol=1e-9)


def test_mel_frequencies_defaults_equal_librosa():
    np.testing.assert_allclose(mel.mel_frequencies(), librosa.mel_frequencies(), rtol=1e-10, atol=1e-9)


# --------------------------------------------------------------------------- mel_filterbank

FILTERBANK_CASES = [
    # sr, n_fft, n_mels, fmin, fmax
    (8000, 256, 26, 20.0, None),
    (8000, 256, 40, 0.0, 4000.0),
    (8000, 200, 26, 300.0, 3400.0),
    (16000, 512, 26, 20.0, None),
    (16000, 512, 80, 0.0, 7600.0),
    (16000, 400, 40, 133.33, 6855.5),
    (22050, 2048, 128, 0.0, None),
    (22050, 1024, 64, 50.0, 10000.0),
    (22050, 255, 20, 0.0, None),  # odd n_fft
    (8000, 16, 4, 0.0, None),
]
NORMS = [None, "slaney", 1, 2, np.inf]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm", NORMS, ids=str)
@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", FILTERBANK_CASES)
def test_mel_filterbank_equals_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm, dtype):
    ours = mel.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                              dtype=dtype)
    reference = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                                    dtype=dtype)
    assert ours.dtype == dtype and ours.shape == (n_mels, 1 + n_fft // 2)
    assert_matches(ours, reference, dtype)


def test_mel_filterbank_defaults_equal_librosa():
    ours = mel.mel_filterbank(sr=22050, n_fft=2048)
    assert ours.dtype == np.float32
    assert_matches(ours, librosa.filters.mel(sr=22050, n_fft=2048), np.float32)


@pytest.mark.parametrize("norm", NORMS, ids=str)
def test_mel_filterbank_with_empty_filters_equals_librosa(norm):
    # more mel bands than FFT bins at the low end: some rows are all zero, and stay so (no NaN)
    with pytest.warns(UserWarning, match="mel filters are empty"):
        ours = mel.mel_filterbank(sr=22050, n_fft=256, n_mels=128, norm=norm, dtype=np.float64)
    with pytest.warns(UserWarning, match="Empty filters"):
        reference = librosa.filters.mel(sr=22050, n_fft=256, n_mels=128, norm=norm, dtype=np.float64)
    assert np.all(np.isfinite(ours))
    assert_matches(ours, reference, np.float64)


@pytest.mark.parametrize("htk", [False, True])
@pytest.mark.parametrize("norm", NORMS, ids=str)
@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", FILTERBANK_CASES)
def test_mel_filterbank_rows_are_triangles(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    fb = mel.mel_filterbank(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                            dtype=np.float64)
    assert np.all(fb >= 0)
    for row in fb:
        nonzero = np.flatnonzero(row)
        if nonzero.size == 0:
            continue
        support = row[nonzero[0]: nonzero[-1] + 1]
        assert np.all(support > 0), "one contiguous band"
        peak = int(np.argmax(support))
        assert np.all(np.diff(support[: peak + 1]) >= 0), "rising up to the peak"
        assert np.all(np.diff(support[peak:]) <= 0), "falling after the peak"
    if norm is None:
        assert fb.max() <= 1.0 + 1e-12


def test_mel_filterbank_rows_have_unit_p_norm():
    for p in (1, 2, np.inf):
        fb = mel.mel_filterbank(sr=16000, n_fft=512, n_mels=40, norm=p, dtype=np.float64)
        np.testing.assert_allclose(np.linalg.norm(fb, ord=p, axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"sr": 0}, ValueError, "sr"),
    ({"sr": -16000}, ValueError, "sr"),
    ({"n_fft": 0}, ValueError, "n_fft"),
    ({"n_fft": -512}, ValueError, "n_fft"),
    ({"n_mels": 0}, ValueError, "n_mels"),
    ({"fmax": 8000.01}, ValueError, "fmax"),
    ({"fmin": -1.0}, ValueError, "fmin"),
    ({"fmin": 4000.0, "fmax": 4000.0}, ValueError, "fmin"),
    ({"fmin": 5000.0, "fmax": 4000.0}, ValueError, "fmin"),
    ({"norm": "bogus"}, ValueError, "norm"),
])
def test_mel_filterbank_bad_input(kwargs, error, match):
    args = {"sr": 16000, "n_fft": 512, "n_mels": 40} | kwargs
    with pytest.raises(error, match=match):
        mel.mel_filterbank(**args)


def test_mel_filterbank_fmax_error_names_the_nyquist_frequency():
    with pytest.raises(ValueError, match="fmax") as info:
        mel.mel_filterbank(sr=8000, n_fft=256, fmax=5000.0)
    assert "4000" in str(info.value)


# --------------------------------------------------------------------------- melspectrogram

MELSPEC_CASES = [
    # sr, n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm
    (22050, 2048, 512, None, "hann", True, "constant", 2.0, 128, 0.0, None, False, "slaney"),
    (8000, 256, 80, 200, "hann", True, "constant", 2.0, 26, 20.0, None, False, "slaney"),
    (16000, 512, 160, 400, "hamming", True, "reflect", 2.0, 40, 0.0, 7000.0, True, None),
    (16000, 512, 128, None, "hann", False, "constant", 1.0, 64, 100.0, 8000.0, False, 2),
    (8000, 255, 63, 201, "hann", True, "constant", 2.0, 20, 0.0, None, True, "slaney"),
    (22050, 1024, 257, 1000, "rectangular", True, "reflect", 1.0, 80, 30.0, 11025.0, False, 1),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "sr, n_fft, hop_length, win_length, window, center, pad_mode, power, n_mels, fmin, fmax, htk, norm",
    MELSPEC_CASES)
def test_melspectrogram_equals_librosa(sr, n_fft, hop_length, win_length, window, center, pad_mode, power,
                                       n_mels, fmin, fmax, htk, norm, dtype):
    rng = np.random.default_rng([sr, n_fft, hop_length, n_mels])
    y = rng.uniform(-1, 1, int(rng.integers(n_fft, 2 * sr))).astype(dtype)
    kwargs = dict(sr=sr, n_fft=n_fft, hop_length=hop_length, win_length=win_length, center=center,
                  pad_mode=pad_mode, power=power, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    ours = mel.melspectrogram(y=y, window=window, **kwargs)
    reference = librosa.feature.melspectrogram(y=y, window={"rectangular": "boxcar"}.get(window, window),
                                               **kwargs)
    assert_matches(ours, reference, dtype)


def test_melspectrogram_defaults_equal_librosa():
    y = np.random.default_rng(0).uniform(-1, 1, 22050)
    assert_matches(mel.melspectrogram(y=y), librosa.feature.melspectrogram(y=y), np.float64)


@pytest.mark.parametrize("power", [1.0, 2.0])
@pytest.mark.parametrize("sr, n_fft, n_mels", [(8000, 256, 26), (16000, 512, 40), (22050, 2048, 128)])
def test_melspectrogram_from_a_spectrogram_equals_librosa(sr, n_fft, n_mels, power):
    y = np.random.default_rng([sr, n_fft]).uniform(-1, 1, sr)
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=n_fft // 4)) ** power
    ours = mel.melspectrogram(S=S, sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=20.0)
    reference = librosa.feature.melspectrogram(S=S, sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=20.0)
    assert_matches(ours, reference, np.float64)


def test_melspectrogram_of_a_short_signal_equals_librosa():
    y = np.random.default_rng(12).uniform(-1, 1, 100)
    assert_matches(mel.melspectrogram(y=y, sr=8000, n_fft=256, hop_length=80, n_mels=26),
                   librosa.feature.melspectrogram(y=y, sr=8000, n_fft=256, hop_length=80, n_mels=26), np.float64)


def test_melspectrogram_bad_input():
    y = np.zeros(4000)
    with pytest.raises(TypeError, match="pcm_to_float"):
        mel.melspectrogram(y=np.zeros(4000, np.int16), sr=8000)
    with pytest.raises(ValueError, match="1-D"):
        mel.melspectrogram(y=np.zeros((2, 4000)), sr=8000, n_fft=256)
    with pytest.raises(ValueError, match="empty"):
        mel.melspectrogram(y=np.array([]), sr=8000, n_fft=256)
    with pytest.raises(ValueError, match="NaN|finite"):
        mel.melspectrogram(y=np.full(4000, np.nan), sr=8000, n_fft=256)
    with pytest.raises(ValueError, match="hop_length"):
        mel.melspectrogram(y=y, sr=8000, n_fft=256, hop_length=0)
    with pytest.raises(ValueError, match="fmax"):
        mel.melspectrogram(y=y, sr=8000, n_fft=256, fmax=4001.0)
    with pytest.raises(ValueError, match="sr"):
        mel.melspectrogram(y=y, sr=0, n_fft=256)


def test_empty_filters_warn_like_librosa():
    """Too many mels for the FFT resolution: both libraries warn, and the empty rows agree."""
    import warnings

    with pytest.warns(UserWarning, match="mel filters are empty"):
        ours = mel.mel_filterbank(sr=8000, n_fft=64, n_mels=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = librosa.filters.mel(sr=8000, n_fft=64, n_mels=64)
    np.testing.assert_array_equal(ours.max(axis=1) == 0, reference.max(axis=1) == 0)
    assert (ours.max(axis=1) == 0).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sensible setting warns nothing
        mel.mel_filterbank(sr=8000, n_fft=256, n_mels=26, fmin=20.0)


# --------------------------------------------------------------------------- mel_to_stft: back from mel to linear


def speechlike_mel(rng, sr, n_fft, n_mels, frames, power, dtype, **filters):
    """A mel spectrogram of coloured noise with a loudness envelope, the kind a vocoder inverts."""
    hop = n_fft // 4
    y = np.convolve(rng.standard_normal(frames * hop), [1.0, 0.9, 0.5])[: frames * hop]
    y *= 0.1 + np.abs(np.sin(np.linspace(0, 3 * np.pi, y.size)))
    S = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop)) ** power
    return librosa.feature.melspectrogram(S=S, sr=sr, n_mels=n_mels, **filters).astype(dtype)


MEL_TO_STFT_CASES = [  # sr, n_fft, n_mels, frames, power, filterbank
    (8000, 512, 40, 30, 2.0, {}),
    (8000, 512, 40, 1, 2.0, {}),
    (8000, 256, 26, 20, 1.0, {"fmin": 20.0, "fmax": 3800.0}),
    (16000, 512, 40, 12, 2.0, {"htk": True, "norm": None}),
    (22050, 1024, 64, 8, 1.5, {"norm": 2.0}),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sr, n_fft, n_mels, frames, power, filters", MEL_TO_STFT_CASES)
def test_mel_to_stft_equals_librosa(sr, n_fft, n_mels, frames, power, filters, dtype):
    """Same problem, start and solver as librosa: equal to a millionth of the largest magnitude.

    Not to the last bit: the two evaluate the objective with different matrix products, and
    L-BFGS-B stops at its tolerance (a relative change of about 1e-8), not at an exact optimum.
    """
    rng = np.random.default_rng(sr + n_fft + frames)
    M = speechlike_mel(rng, sr, n_fft, n_mels, frames, power, dtype, **filters)
    ours = mel.mel_to_stft(M, sr=sr, n_fft=n_fft, power=power, **filters)
    reference = librosa.feature.inverse.mel_to_stft(M, sr=sr, n_fft=n_fft, power=power, **filters)
    assert ours.dtype == reference.dtype == dtype and ours.shape == (1 + n_fft // 2, M.shape[1])
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6 * np.abs(reference).max())


def test_mel_to_stft_in_several_blocks_equals_librosa():
    """More frames than one 256 KiB block holds (128 float64 mels: 256 frames a block): solved block by block."""
    M = speechlike_mel(np.random.default_rng(5), 16000, 1024, 128, 300, 2.0, np.float64)
    ours = mel.mel_to_stft(M, sr=16000, n_fft=1024)
    reference = librosa.feature.inverse.mel_to_stft(M, sr=16000, n_fft=1024)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6 * np.abs(reference).max())


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), power=st.sampled_from([1.0, 2.0]), scale=st.sampled_from([1.0, 1e4]))
def test_mel_to_stft_never_worse_than_its_start(seed, power, scale):
    """For a reachable ``M = H P`` (``P >= 0``): the answer is >= 0 and fits ``M`` at least as well as the start
    ``max(0, H^+ M)``; at a large scale, where the solver's absolute tolerance no longer stops it at once, the
    fit is close to exact (the optimum has no residual)."""
    rng = np.random.default_rng(seed)
    H = mel.mel_filterbank(sr=8000, n_fft=512, n_mels=40, dtype=np.float64)
    M = H @ (scale * rng.exponential(1.0, (257, 5)) * rng.uniform(0, 1, 257)[:, None])
    S_hat = mel.mel_to_stft(M, sr=8000, n_fft=512, power=power)
    assert S_hat.shape == (257, 5) and (S_hat >= 0).all()
    misfit = np.linalg.norm(H @ S_hat**power - M) / np.linalg.norm(M)
    start = np.linalg.norm(H @ np.clip(np.linalg.pinv(H) @ M, 0, None) - M) / np.linalg.norm(M)
    assert misfit <= start * (1 + 1e-9)
    if scale > 1:
        assert misfit < 1e-3


def test_mel_to_stft_of_silence_is_silence():
    assert not mel.mel_to_stft(np.zeros((40, 3)), sr=8000, n_fft=512).any()


def test_mel_to_stft_bad_input():
    M = np.ones((40, 5))
    with pytest.raises(ValueError, match="non-negative.*db_to_power"):
        mel.mel_to_stft(-M, sr=8000, n_fft=512)
    with pytest.raises(ValueError, match="2-D"):
        mel.mel_to_stft(np.ones((2, 40, 5)), sr=8000, n_fft=512)
    with pytest.raises(TypeError, match="float"):
        mel.mel_to_stft(np.ones((40, 5), dtype=np.int64), sr=8000, n_fft=512)
    with pytest.raises(TypeError, match="real"):
        mel.mel_to_stft(M + 0j, sr=8000, n_fft=512)
    with pytest.raises(TypeError, match="numpy array"):
        mel.mel_to_stft([[1.0]], sr=8000, n_fft=512)
    with pytest.raises(ValueError, match="NaN"):
        mel.mel_to_stft(np.full((40, 5), np.nan), sr=8000, n_fft=512)
    with pytest.raises(ValueError, match="power"):
        mel.mel_to_stft(M, sr=8000, n_fft=512, power=0.0)
    with pytest.raises(ValueError, match="fmax"):
        mel.mel_to_stft(M, sr=8000, n_fft=512, fmax=5000.0)

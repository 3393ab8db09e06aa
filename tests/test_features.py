"""lessons_lib.features: pre-emphasis, the DCT, MFCCs, deltas, CMVN and the 39-dim features.

``preemphasis`` is compared with librosa.effects.preemphasis(zi=0.0), ``dct_matrix``
with scipy.fft.dct, ``mfcc`` with librosa.feature.mfcc (from a waveform and from a
dB mel spectrogram, with and without liftering), ``delta`` with
librosa.feature.delta (orders 1 and 2, several widths, both axes), ``cmvn`` with
its formula and ``mfcc_features`` with the reference composition of the contract
(librosa MFCC of the pre-emphasised signal + librosa deltas, transposed, CMVN),
on random signals and on real FSDD recordings. Properties: deltas of ramps and
parabolas. Then the bad inputs the contract names.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings, strategies as st

from lessons_lib import features

pytestmark = [
    pytest.mark.filterwarnings("ignore:Empty filters detected:UserWarning"),
    pytest.mark.filterwarnings("ignore:n_fft=.*too large:UserWarning"),
]


def assert_matches(ours, reference, dtype, *, atol_scale=None):
    ours = np.asarray(ours)
    assert ours.shape == reference.shape
    scale = max(float(np.abs(reference).max()), 1e-300)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=(atol_scale or 1e-10) * scale)
    else:
        np.testing.assert_allclose(ours, reference, rtol=1e-5, atol=(atol_scale or 1e-6) * scale)


# --------------------------------------------------------------------------- preemphasis


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("coef", [0.0, 0.5, 0.95, 0.97, 0.999])
@pytest.mark.parametrize("n", [1, 2, 17, 8000])
def test_preemphasis_equals_librosa_with_zero_initial_state(n, coef, dtype):
    y = np.random.default_rng([n, int(coef * 1000)]).uniform(-1, 1, n).astype(dtype)
    ours = features.preemphasis(y, coef=coef)
    reference = librosa.effects.preemphasis(y, coef=coef, zi=0.0)
    assert_matches(ours, reference, dtype)
    assert ours[0] == y[0], "the first sample is kept"


def test_preemphasis_default_coef_and_formula():
    y = np.array([1.0, 0.5, -0.25, 0.0])
    np.testing.assert_allclose(features.preemphasis(y), [1.0, 0.5 - 0.97, -0.25 - 0.485, 0.2425], rtol=1e-12)


def test_preemphasis_bad_input():
    with pytest.raises(ValueError, match="coef"):
        features.preemphasis(np.ones(10), coef=1.0)
    with pytest.raises(ValueError, match="coef"):
        features.preemphasis(np.ones(10), coef=-0.1)
    with pytest.raises(TypeError, match="pcm_to_float"):
        features.preemphasis(np.ones(10, np.int16))
    with pytest.raises(ValueError, match="1-D"):
        features.preemphasis(np.ones((2, 10)))
    with pytest.raises(ValueError, match="empty"):
        features.preemphasis(np.array([]))
    with pytest.raises(ValueError, match="NaN|finite"):
        features.preemphasis(np.array([0.0, np.inf]))


# --------------------------------------------------------------------------- dct_matrix


@pytest.mark.parametrize("n_out, n_in", [(1, 1), (2, 2), (13, 26), (20, 40), (40, 40), (13, 128), (7, 7), (1, 9)])
def test_dct_matrix_equals_scipy(n_out, n_in):
    D = features.dct_matrix(n_out, n_in)
    reference = scipy.fft.dct(np.eye(n_in), type=2, norm="ortho", axis=0)[:n_out]
    assert D.dtype == np.float64 and D.shape == (n_out, n_in)
    np.testing.assert_allclose(D, reference, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("n", [1, 5, 26, 128])
def test_dct_matrix_times_x_equals_scipy_dct_and_is_orthogonal(n):
    x = np.random.default_rng(n).standard_normal((n, 11))
    D = features.dct_matrix(n, n, norm="ortho")
    reference = scipy.fft.dct(x, type=2, norm="ortho", axis=0)
    np.testing.assert_allclose(D @ x, reference, rtol=1e-10, atol=1e-12 * np.abs(reference).max())
    np.testing.assert_allclose(D @ D.T, np.eye(n), rtol=0, atol=1e-12)


@pytest.mark.parametrize("args, match", [((0, 10), "n_out"), ((-1, 10), "n_out"), ((5, 0), "n_in")])
def test_dct_matrix_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        features.dct_matrix(*args)


# --------------------------------------------------------------------------- mfcc

MFCC_CASES = [
    # sr, n_mfcc, lifter, kwargs for the mel spectrogram
    (22050, 20, 0, {}),
    (22050, 20, 22, {}),
    (8000, 13, 0, dict(n_fft=256, hop_length=80, win_length=200, n_mels=26, fmin=20.0)),
    (8000, 13, 22, dict(n_fft=256, hop_length=80, win_length=200, n_mels=26, fmin=20.0, fmax=4000.0)),
    (16000, 13, 0, dict(n_fft=512, hop_length=160, win_length=400, n_mels=40, htk=True)),
    (16000, 30, 5, dict(n_fft=512, hop_length=101, n_mels=40, fmax=7000.0)),
    (16000, 40, 0, dict(n_fft=1024, hop_length=256, n_mels=40, window="hamming", center=False)),
    (8000, 12, 10, dict(n_fft=255, hop_length=64, n_mels=20, pad_mode="reflect", power=1.0)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sr, n_mfcc, lifter, kwargs", MFCC_CASES)
def test_mfcc_equals_librosa(sr, n_mfcc, lifter, kwargs, dtype):
    rng = np.random.default_rng([sr, n_mfcc, lifter])
    n = int(rng.integers(sr // 2, 2 * sr))
    # noise plus two tones, so that the mel bands differ
    t = np.arange(n) / sr
    y = (0.3 * rng.uniform(-1, 1, n) + 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1234.5 * t))
    y = y.astype(dtype)
    ours = features.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, lifter=lifter, **kwargs)
    reference = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=n_mfcc, lifter=lifter, **kwargs)
    assert_matches(ours, reference, dtype)


@pytest.mark.parametrize("lifter", [0, 22, 3])
@pytest.mark.parametrize("n_mfcc", [1, 13, 26])
def test_mfcc_from_a_db_mel_spectrogram_equals_librosa(n_mfcc, lifter):
    y = np.random.default_rng(n_mfcc + lifter).uniform(-1, 1, 8000)
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=8000, n_fft=256, hop_length=80, n_mels=26))
    ours = features.mfcc(S=S, n_mfcc=n_mfcc, lifter=lifter)
    reference = librosa.feature.mfcc(S=S, n_mfcc=n_mfcc, lifter=lifter)
    assert_matches(ours, reference, np.float64)


def test_mfcc_defaults_equal_librosa():
    y = np.random.default_rng(21).uniform(-1, 1, 22050)
    assert_matches(features.mfcc(y=y), librosa.feature.mfcc(y=y), np.float64)


def test_mfcc_bad_input():
    with pytest.raises(TypeError, match="pcm_to_float"):
        features.mfcc(y=np.zeros(4000, np.int16), sr=8000)
    with pytest.raises(ValueError, match="1-D"):
        features.mfcc(y=np.zeros((2, 4000)), sr=8000)
    with pytest.raises(ValueError, match="NaN|finite"):
        features.mfcc(y=np.full(4000, np.nan), sr=8000)


# --------------------------------------------------------------------------- delta


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("n_frames, width", [(50, 9), (50, 3), (50, 5), (9, 9), (3, 3), (7, 5), (100, 21), (11, 11)])
def test_delta_equals_librosa(n_frames, width, order, axis, dtype):
    rng = np.random.default_rng([n_frames, width, order, axis + 1])
    data = rng.standard_normal((13, n_frames)).astype(dtype)
    if axis == 0:
        data = np.ascontiguousarray(data.T)
    ours = features.delta(data, width=width, order=order, axis=axis)
    reference = librosa.feature.delta(data, width=width, order=order, axis=axis)
    assert_matches(ours, reference, dtype)


def test_delta_defaults_equal_librosa():
    data = np.random.default_rng(0).standard_normal((20, 60))
    assert_matches(features.delta(data), librosa.feature.delta(data), np.float64)
    assert_matches(features.delta(data, order=2), librosa.feature.delta(data, order=2), np.float64)


def test_delta_of_a_1d_sequence_equals_librosa():
    x = np.random.default_rng(1).standard_normal(30)
    assert_matches(features.delta(x, width=5), librosa.feature.delta(x, width=5), np.float64)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(3, 80), half=st.integers(1, 10), slope=st.floats(-100, 100), offset=st.floats(-100, 100))
def test_delta_of_a_ramp_is_its_slope(n, half, slope, offset):
    width = min(2 * half + 1, n if n % 2 else n - 1)
    t = np.arange(n, dtype=float)
    data = np.vstack([offset + slope * t, offset - 2 * slope * t])
    d = features.delta(data, width=width, order=1)
    scale = max(abs(slope), abs(offset), 1.0) * n
    np.testing.assert_allclose(d[0], slope, rtol=1e-9, atol=1e-10 * scale)
    np.testing.assert_allclose(d[1], -2 * slope, rtol=1e-9, atol=1e-10 * scale)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(3, 80), half=st.integers(1, 10), a=st.floats(-10, 10), b=st.floats(-10, 10),
       c=st.floats(-10, 10))
def test_delta_order_2_of_a_parabola_is_twice_its_curvature(n, half, a, b, c):
    width = min(2 * half + 1, n if n % 2 else n - 1)
    t = np.arange(n, dtype=float)
    data = (a * t**2 + b * t + c)[:, None]  # frames on axis 0
    d = features.delta(data, width=width, order=2, axis=0)
    scale = max(abs(a), abs(b), abs(c), 1.0) * n**2
    np.testing.assert_allclose(d[:, 0], 2 * a, rtol=1e-8, atol=1e-10 * scale)


@pytest.mark.parametrize("kwargs, match", [
    ({"width": 4}, "width"),
    ({"width": 1}, "width"),
    ({"width": 2}, "width"),
    ({"width": 11}, "width"),  # more than the 10 frames
    ({"width": 5, "order": 0}, "order"),
    ({"width": 5, "order": -1}, "order"),
])
def test_delta_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        features.delta(np.ones((3, 10)), **kwargs)


def test_delta_width_is_checked_along_the_given_axis():
    data = np.random.default_rng(2).standard_normal((10, 3))
    assert_matches(features.delta(data, width=9, axis=0), librosa.feature.delta(data, width=9, axis=0), np.float64)
    with pytest.raises(ValueError, match="width"):
        features.delta(data, width=5, axis=-1)


# --------------------------------------------------------------------------- cmvn


def reference_cmvn(X, variance=True):
    """The formula over axis 0, with the documented rule for constant columns (exactly 0)."""
    centred = X - X.mean(axis=0)
    sigma = X.std(axis=0)
    constant = sigma <= 1e-10 * np.abs(X).max(axis=0)
    out = centred / np.where(constant, 1.0, sigma) if variance else centred
    out[:, constant] = 0.0
    return out


@pytest.mark.parametrize("shape", [(2, 1), (50, 39), (300, 13), (5, 5)])
def test_cmvn_equals_formula(shape):
    rng = np.random.default_rng(list(shape))
    X = rng.normal(3.0, 5.0, shape) * rng.uniform(0.1, 10, shape[1])
    np.testing.assert_allclose(features.cmvn(X, axis=0), reference_cmvn(X), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(features.cmvn(X, axis=0, variance=False), reference_cmvn(X, False),
                               rtol=1e-10, atol=1e-12)
    out = features.cmvn(X, axis=0)
    np.testing.assert_allclose(out.mean(axis=0), 0.0, atol=1e-10)
    np.testing.assert_allclose(out.std(axis=0), 1.0, rtol=1e-10)
    # axis=1 is the same normalisation on the transposed (librosa) layout
    np.testing.assert_array_equal(features.cmvn(X.T, axis=1), out.T)


def test_cmvn_of_a_constant_column_is_exactly_zero():
    rng = np.random.default_rng(7)
    T = 40
    X = np.column_stack([
        np.full(T, 7.0),                                    # exactly constant
        -3.25 + 1e-15 * rng.standard_normal(T),             # constant up to rounding noise
        np.zeros(T),                                        # all zero
        np.arange(T, dtype=float),                          # a real feature
        1e6 + 1e-3 * rng.standard_normal(T),                # tiny relative variation (1e-9), above 1e-10
    ])
    for variance in (True, False):
        out = features.cmvn(X, axis=0, variance=variance)
        assert np.all(np.isfinite(out))
        np.testing.assert_array_equal(out[:, :3], 0.0)       # exact, whatever the rounding
        expected = (X[:, 3:] - X[:, 3:].mean(axis=0))
        if variance:
            expected = expected / X[:, 3:].std(axis=0)
        np.testing.assert_allclose(out[:, 3:], expected, rtol=1e-9, atol=1e-12)
    # one frame: every feature is constant
    np.testing.assert_array_equal(features.cmvn(rng.normal(size=(1, 5)), axis=0), 0.0)


def test_cmvn_needs_the_time_axis_spelled_out():
    """The trap: mfcc returns (n_mfcc, n_frames), the GMM/HMM chapters use (n_frames, n_features)."""
    y = speechlike(8000, 4000, 3)
    M = features.mfcc(y=y, sr=8000, n_mfcc=13, n_fft=256, hop_length=80, win_length=200, n_mels=26)
    with pytest.raises(TypeError, match="axis=0 for frames"):
        features.cmvn(M)
    over_time = features.cmvn(M, axis=1)
    np.testing.assert_allclose(over_time, reference_cmvn(M.T).T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(over_time.mean(axis=1), 0.0, atol=1e-10)   # every coefficient centred over time
    across = features.cmvn(M, axis=0)                                     # what the wrong axis does
    assert not np.allclose(across, over_time)
    np.testing.assert_allclose(across.mean(axis=0), 0.0, atol=1e-10)      # frames centred across coefficients


def test_cmvn_bad_input():
    with pytest.raises(ValueError, match="features"):
        features.cmvn(np.ones(10))
    with pytest.raises(ValueError, match="NaN|finite"):
        features.cmvn(np.array([[1.0, np.nan], [2.0, 3.0]]))


# --------------------------------------------------------------------------- mfcc_features


def reference_features(y, sr, *, n_mfcc=13, n_fft=None, win_length=None, hop_length=None, n_mels=26, fmin=20.0,
                       fmax=None, preemph=0.97, delta_width=9, normalize=True):
    """The contract's reference composition, built from librosa only."""
    win_length = win_length or round(0.025 * sr)
    hop_length = hop_length or round(0.010 * sr)
    n_fft = n_fft or 1 << (win_length - 1).bit_length()
    fmax = sr / 2 if fmax is None else fmax
    emphasised = librosa.effects.preemphasis(y, coef=preemph, zi=0.0)
    M = librosa.feature.mfcc(y=emphasised, sr=sr, n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop_length,
                             win_length=win_length, window="hann", center=True, power=2.0, n_mels=n_mels,
                             fmin=fmin, fmax=fmax, htk=False)  # mel norm: librosa's default "slaney"
    n_frames = M.shape[1]
    width = delta_width if n_frames >= delta_width else (n_frames if n_frames % 2 else n_frames - 1)
    X = np.vstack([M, librosa.feature.delta(M, width=width), librosa.feature.delta(M, width=width, order=2)]).T
    if normalize:
        X = reference_cmvn(X)
    return X


def speechlike(sr, n, seed):
    """Noise and a few tones under a slow envelope: mel bands and frames that differ."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    envelope = 0.5 + 0.4 * np.sin(2 * np.pi * 3.1 * t)
    tones = sum(a * np.sin(2 * np.pi * f * t + p) for a, f, p in
                zip(rng.uniform(0.05, 0.3, 4), rng.uniform(100, sr / 2 - 200, 4), rng.uniform(0, 6, 4)))
    return envelope * (tones + 0.05 * rng.standard_normal(n))


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("sr", [8000, 16000])
def test_mfcc_features_equal_the_reference_composition(sr, normalize):
    y = speechlike(sr, int(0.87 * sr), sr)
    ours = features.mfcc_features(y, sr, normalize=normalize)
    reference = reference_features(y, sr, normalize=normalize)
    assert ours.shape == (1 + len(y) // round(0.010 * sr), 39) == reference.shape
    assert_matches(ours, reference, np.float64)


@pytest.mark.parametrize("kwargs", [
    dict(n_mfcc=20, n_mels=40),
    dict(n_mfcc=13, n_fft=512, win_length=256, hop_length=64),
    dict(fmin=0.0, fmax=3000.0, preemph=0.0),
    dict(preemph=0.5, delta_width=5),
    dict(delta_width=3, normalize=False),
    dict(n_mfcc=10, n_mels=20, win_length=160, hop_length=81, delta_width=7),
])
def test_mfcc_features_parameters_equal_the_reference_composition(kwargs):
    sr = 8000
    y = speechlike(sr, 6000, len(kwargs))
    ours = features.mfcc_features(y, sr, **kwargs)
    reference = reference_features(y, sr, **kwargs)
    assert ours.shape[1] == 3 * kwargs.get("n_mfcc", 13)
    assert_matches(ours, reference, np.float64)


@pytest.mark.parametrize("n_samples, width", [(160, 3), (240, 3), (320, 5), (400, 5), (480, 7), (560, 7), (640, 9)])
def test_mfcc_features_of_a_short_recording_shrink_the_delta_width(n_samples, width):
    sr = 8000  # hop 80: 1 + n_samples // 80 frames
    y = speechlike(sr, n_samples, n_samples)
    ours = features.mfcc_features(y, sr, normalize=False)
    assert ours.shape == (1 + n_samples // 80, 39)
    assert_matches(ours, reference_features(y, sr, delta_width=width, normalize=False), np.float64)
    # With CMVN. When width == n_frames the Savitzky-Golay fit spans every frame, so the
    # delta columns are constant in exact arithmetic and differ by rounding only: CMVN
    # must give them exactly 0 (not rounding noise divided by its own tiny std).
    normalized = features.mfcc_features(y, sr)
    reference = reference_features(y, sr, delta_width=width)
    assert_matches(normalized, reference, np.float64)
    if width == ours.shape[0]:
        np.testing.assert_array_equal(normalized[:, 13:], 0.0)


@pytest.mark.parametrize("n_samples", [1, 79, 159])
def test_mfcc_features_need_three_frames(n_samples):
    with pytest.raises(ValueError, match="frame"):
        features.mfcc_features(speechlike(8000, n_samples, 0), 8000)


def test_mfcc_features_bad_input():
    y = speechlike(8000, 4000, 1)
    with pytest.raises(TypeError, match="pcm_to_float"):
        features.mfcc_features((y * 32767).astype(np.int16), 8000)
    with pytest.raises(ValueError, match="1-D"):
        features.mfcc_features(np.vstack([y, y]), 8000)
    with pytest.raises(ValueError, match="empty"):
        features.mfcc_features(np.array([]), 8000)
    with pytest.raises(ValueError, match="NaN|finite"):
        features.mfcc_features(np.r_[y, np.nan], 8000)
    with pytest.raises(ValueError, match="sr"):
        features.mfcc_features(y, 0)
    with pytest.raises(ValueError, match="fmax"):
        features.mfcc_features(y, 8000, fmax=5000.0)
    with pytest.raises(ValueError, match="delta_width|width"):
        features.mfcc_features(y, 8000, delta_width=4)
    with pytest.raises(ValueError, match="preemph|coef"):
        features.mfcc_features(y, 8000, preemph=1.0)


def test_mfcc_features_of_real_recordings_equal_the_reference_composition(real_fsdd):
    assert real_fsdd.sample_rate == 8000
    for i in np.linspace(0, len(real_fsdd) - 1, 6).astype(int):
        y = real_fsdd.waveforms[i]  # float32, as loaded
        assert y.dtype == np.float32
        ours = features.mfcc_features(y, real_fsdd.sample_rate)
        # the reference in float64: the exact answer, to float32 rounding of our result.
        # CMVN divides by each column's std, which magnifies float32 rounding (~2e-6 of the
        # scale between librosa's float32 and float64 pipelines), hence atol 1e-5 * scale.
        reference = reference_features(y.astype(np.float64), real_fsdd.sample_rate)
        assert ours.shape == (1 + len(y) // 80, 39)
        assert_matches(ours, reference, np.float32, atol_scale=1e-5)
        raw = features.mfcc_features(y, real_fsdd.sample_rate, normalize=False)
        assert_matches(raw, reference_features(y.astype(np.float64), real_fsdd.sample_rate, normalize=False),
                       np.float32)

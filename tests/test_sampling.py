"""lessons_lib.sampling: tones, aliasing, uniform quantization and the SNR.

``tone`` and ``quantize`` are compared with their defining formulas written with
numpy, ``alias_frequency`` with the peak of numpy's FFT of a tone sampled above
Nyquist, and the quantizer with the 6.02 b + 1.76 dB law and its integer ranges;
then the bad inputs the contract names are refused. The mu-law functions are
compared with librosa.mu_compress/mu_expand (continuous and quantized, with the
documented offset of (mu + 1) // 2) on random audio and edge values.
"""

from __future__ import annotations

import numpy as np
import pytest
import librosa
from hypothesis import given, settings, strategies as st

from lessons_lib import sampling

# --------------------------------------------------------------------------- tone


@pytest.mark.parametrize("sr", [8000, 16000, 22050])
@pytest.mark.parametrize("freq, duration, amplitude, phase", [
    (440.0, 1.0, 1.0, 0.0),
    (1000.0, 0.0123, 0.5, np.pi / 3),
    (3999.5, 0.25, 0.9, -1.0),
    (12345.6, 0.5, 0.25, 2.0),  # above Nyquist for every sr here: the formula still holds
    (0.0, 0.01, 1.0, np.pi / 2),
])
def test_tone_equals_formula(sr, freq, duration, amplitude, phase):
    y = sampling.tone(freq, sr, duration, amplitude=amplitude, phase=phase)
    n = round(duration * sr)
    expected = amplitude * np.sin(2 * np.pi * freq * np.arange(n) / sr + phase)
    assert y.dtype == np.float64 and y.shape == (n,)
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


def test_tone_defaults_are_unit_amplitude_zero_phase():
    y = sampling.tone(100.0, 8000, 0.1)
    np.testing.assert_allclose(y, np.sin(2 * np.pi * 100.0 * np.arange(800) / 8000), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sr", [0, -8000])
def test_tone_rejects_bad_sr(sr):
    with pytest.raises(ValueError, match="sr"):
        sampling.tone(440.0, sr, 1.0)


# --------------------------------------------------------------------------- alias_frequency


@pytest.mark.parametrize("sr", [8000, 16000, 22050])
@pytest.mark.parametrize("freq", [100, 3000, 5000, 7900, 9100, 12345, 17000, 30001, 44000])
def test_alias_frequency_equals_fft_peak_of_sampled_tone(sr, freq):
    # one second of an integer frequency: the FFT bins are exactly 1 Hz apart
    n = np.arange(sr)
    y = np.cos(2 * np.pi * freq * n / sr + 0.3)
    peak_hz = float(np.argmax(np.abs(np.fft.rfft(y))))  # bin k is k Hz
    alias = sampling.alias_frequency(freq, sr)
    assert isinstance(alias, float)
    assert 0.0 <= alias <= sr / 2
    assert alias == pytest.approx(peak_hz, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(freq=st.floats(0, 200_000, allow_nan=False), sr=st.sampled_from([8000, 11025, 16000, 22050, 44100]))
def test_alias_frequency_equals_formula(freq, sr):
    alias = sampling.alias_frequency(freq, sr)
    expected = abs(freq - sr * round(freq / sr))
    assert alias == pytest.approx(expected, rel=1e-10, abs=1e-6)
    assert -1e-9 <= alias <= sr / 2 + 1e-9


def test_alias_frequency_examples():
    assert sampling.alias_frequency(440.0, 8000) == pytest.approx(440.0)
    assert sampling.alias_frequency(5000.0, 8000) == pytest.approx(3000.0)
    assert sampling.alias_frequency(8000.0, 8000) == pytest.approx(0.0)
    assert sampling.alias_frequency(8440.0, 8000) == pytest.approx(440.0)


@pytest.mark.parametrize("sr", [0, -16000])
def test_alias_frequency_rejects_bad_sr(sr):
    with pytest.raises(ValueError, match="sr"):
        sampling.alias_frequency(440.0, sr)


# --------------------------------------------------------------------------- quantize


def reference_quantize(x, bits):
    scale = 2.0 ** (bits - 1)
    return np.clip(np.round(x * scale), -scale, scale - 1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bits", [1, 2, 3, 4, 8, 12, 16, 24, 25, 32])
def test_quantize_equals_formula(bits, dtype):
    rng = np.random.default_rng(bits)
    x = rng.uniform(-1.3, 1.3, 5000).astype(dtype)  # includes values that clip
    q = reference_quantize(x.astype(np.float64), bits)
    ours = sampling.quantize(x, bits)
    assert ours.dtype == np.float64 and ours.shape == x.shape
    np.testing.assert_allclose(ours, q / 2.0 ** (bits - 1), rtol=1e-12, atol=0)
    ints = sampling.quantize(x, bits, as_int=True)
    assert ints.dtype == np.int64
    np.testing.assert_array_equal(ints, q.astype(np.int64))


def test_quantize_of_float32_returns_float64():
    x = np.random.default_rng(7).uniform(-1, 1, 100).astype(np.float32)
    out = sampling.quantize(x, 8)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, reference_quantize(x.astype(np.float64), 8) / 128)


@settings(max_examples=60, deadline=None)
@given(bits=st.integers(1, 24), seed=st.integers(0, 2**32 - 1))
def test_quantize_error_is_at_most_half_a_step_in_range(bits, seed):
    scale = 2.0 ** (bits - 1)
    x = np.random.default_rng(seed).uniform(-1.0, (scale - 1) / scale, 500)
    err = np.abs(sampling.quantize(x, bits) - x)
    assert err.max() <= 0.5 / scale + 1e-12


@pytest.mark.parametrize("bits", range(4, 17))
def test_quantize_snr_follows_the_6_02_b_plus_1_76_law(bits):
    # A long sine whose frequency is no simple fraction of sr, so the error is spread
    # over many levels; its amplitude is the top quantization level (no clipping),
    # and the law is corrected by that amplitude relative to full scale.
    sr, n = 8000, 200_000
    amplitude = 1.0 - 2.0 ** (1 - bits)
    x = amplitude * np.sin(2 * np.pi * 1234.5678 * np.arange(n) / sr + 0.3)
    snr = sampling.snr_db(x, sampling.quantize(x, bits))
    expected = 6.02 * bits + 1.76 + 20 * np.log10(amplitude)
    assert abs(snr - expected) < 0.5, (bits, snr, expected)


def test_quantize_16_bit_integer_range():
    x = np.linspace(-1.0, 1.0, 100_001)
    q = sampling.quantize(x, 16, as_int=True)
    assert q.min() == -32768 and q.max() == 32767
    np.testing.assert_array_equal(sampling.quantize(np.array([-1.0, 0.0, 1.0, 0.5]), 16, as_int=True),
                                  [-32768, 0, 32767, 16384])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bits", [24, 26, 32])
def test_quantize_wide_integer_range(bits, dtype):
    q = sampling.quantize(np.array([-1.0, 1.0], dtype=dtype), bits, as_int=True)
    np.testing.assert_array_equal(q, [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1])
    top = sampling.quantize(np.array([1.0], dtype=dtype), bits)
    assert top[0] < 1.0, "the largest level is one step below +1"


def test_quantize_8_bit_is_signed_minus_128_to_127():
    x = np.linspace(-1.0, 1.0, 10_001)
    q = sampling.quantize(x, 8, as_int=True)
    assert (q.min(), q.max()) == (-128, 127)
    assert (q.min(), q.max()) != (-256, 255)  # not a 9-bit range
    assert len(np.unique(q)) == 256


@pytest.mark.parametrize("bits", [0, -1, 33, 64])
def test_quantize_rejects_bits_out_of_range(bits):
    with pytest.raises(ValueError, match="bits"):
        sampling.quantize(np.zeros(4), bits)


def test_quantize_rejects_integer_pcm_nan_and_empty():
    with pytest.raises(TypeError, match="pcm_to_float"):
        sampling.quantize(np.zeros(4, np.int16), 8)
    with pytest.raises(ValueError, match="NaN|finite"):
        sampling.quantize(np.array([0.0, np.nan]), 8)
    with pytest.raises(ValueError, match="empty"):
        sampling.quantize(np.array([]), 8)


# --------------------------------------------------------------------------- snr_db


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_snr_db_equals_formula(n):
    rng = np.random.default_rng(n)
    reference = rng.uniform(-1, 1, n)
    estimate = reference + rng.normal(0, 0.01, n)
    expected = 10 * np.log10(np.sum(reference**2) / np.sum((reference - estimate) ** 2))
    ours = sampling.snr_db(reference, estimate)
    assert isinstance(ours, float)
    assert ours == pytest.approx(expected, rel=1e-10)


def test_snr_db_examples():
    x = np.array([1.0, -1.0, 1.0, -1.0])
    assert sampling.snr_db(x, x) == np.inf
    assert sampling.snr_db(x, 0.9 * x) == pytest.approx(20.0)
    assert sampling.snr_db(x, np.zeros(4)) == pytest.approx(0.0, abs=1e-12)


def test_snr_db_rejects_shape_mismatch_and_bad_values():
    with pytest.raises(ValueError, match="shape|estimate"):
        sampling.snr_db(np.ones(4), np.ones(5))
    with pytest.raises(ValueError, match="NaN|finite"):
        sampling.snr_db(np.ones(3), np.array([1.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match="pcm_to_float"):
        sampling.snr_db(np.ones(3, np.int16), np.ones(3))


# --------------------------------------------------------------------------- mu-law


def random_audio(seed, n=20_000):
    """Uniform, Gaussian-ish speech-like (mostly small) values and the edges -1, 0, 1."""
    rng = np.random.default_rng(seed)
    small = np.clip(rng.laplace(0.0, 0.05, n), -1, 1)
    return np.concatenate([rng.uniform(-1, 1, n), small, [-1.0, 0.0, 1.0, -0.0, 1e-300, -1e-300]])


MUS = [1, 2, 3, 7, 15, 100, 255, 256, 1023, 65535]


@pytest.mark.parametrize("mu", MUS)
def test_mu_law_compress_and_expand_equal_librosa(mu):
    x = random_audio(mu)
    c = sampling.mu_law_compress(x, mu)
    np.testing.assert_allclose(c, librosa.mu_compress(x, mu=mu, quantize=False), rtol=1e-12, atol=0)
    c2 = np.random.default_rng(mu + 1).uniform(-1, 1, 5000)
    np.testing.assert_allclose(sampling.mu_law_expand(c2, mu), librosa.mu_expand(c2, mu=mu, quantize=False),
                               rtol=1e-12, atol=0)


@pytest.mark.parametrize("mu", MUS)
def test_mu_law_encode_equals_librosa_plus_offset(mu):
    x = random_audio(mu + 100)
    q = sampling.mu_law_encode(x, mu)
    assert q.dtype == np.int64 and q.shape == x.shape
    np.testing.assert_array_equal(q, librosa.mu_compress(x, mu=mu, quantize=True) + (mu + 1) // 2)
    assert q.min() >= 0 and q.max() <= mu


@pytest.mark.parametrize("mu", MUS)
def test_mu_law_decode_equals_librosa(mu):
    q = np.random.default_rng(mu).integers(0, mu + 1, 5000)
    q = np.concatenate([q, [0, mu, (mu + 1) // 2]])
    ours = sampling.mu_law_decode(q, mu)
    assert ours.dtype == np.float64 and ours.shape == q.shape
    np.testing.assert_allclose(ours, librosa.mu_expand(q - (mu + 1) // 2, mu=mu, quantize=True), rtol=1e-12, atol=0)


def test_mu_law_encode_uses_all_256_classes_and_documented_landmarks():
    x = np.linspace(-1.0, 1.0, 2_000_001)
    q = sampling.mu_law_encode(x)
    assert np.array_equal(np.unique(q), np.arange(256))
    assert np.all(np.diff(q) >= 0), "encoding is monotone"
    assert np.count_nonzero(q == 0) == 1, "class 0 holds x = -1 only"
    np.testing.assert_array_equal(sampling.mu_law_encode(np.array([-1.0, 0.0, 1.0])), [0, 128, 255])
    # mu-law spends its classes near zero: F(1/16) = ln(1 + 255/16) / ln 256 = 0.51, so about half of
    # the 256 classes cover |x| < 1/16, where a uniform 8-bit grid would have 16
    compressed_half = np.log1p(255 / 16) / np.log(256)
    assert len(np.unique(q[np.abs(x) < 1 / 16])) == pytest.approx(256 * compressed_half, abs=2)
    assert len(np.unique(sampling.quantize(x[np.abs(x) < 1 / 16], 8, as_int=True))) <= 17


@pytest.mark.parametrize("mu", [15, 255])
def test_mu_law_expand_inverts_compress(mu):
    x = random_audio(3)
    np.testing.assert_allclose(sampling.mu_law_expand(sampling.mu_law_compress(x, mu), mu), x, rtol=1e-12, atol=1e-15)


@settings(max_examples=80, deadline=None)
@given(x=st.floats(-1.0, 1.0, allow_nan=False), mu=st.sampled_from([3, 15, 255, 1023]))
def test_mu_law_round_trip_keeps_sign_and_relative_error_bound(x, mu):
    """The decoded value is within one companded class (2 / mu) of the original."""
    q = sampling.mu_law_encode(np.array([x]), mu)
    x_hat = sampling.mu_law_decode(q, mu)[0]
    assert np.sign(x_hat) == np.sign(x) or x_hat == 0.0 or abs(x) < 1e-300
    c, c_hat = sampling.mu_law_compress(np.array([x, x_hat]), mu)
    assert abs(c - c_hat) <= 2.0 / mu + 2.0 / (mu + 1) + 1e-12


@settings(max_examples=60, deadline=None)
@given(a=st.floats(-1.0, 1.0, allow_nan=False), b=st.floats(-1.0, 1.0, allow_nan=False))
def test_mu_law_compress_is_odd_and_increasing(a, b):
    ca, cb, cna = sampling.mu_law_compress(np.array([a, b, -a]))
    assert cna == -ca
    if a < b:
        assert ca <= cb


def test_mu_law_keeps_shape_and_float32():
    x = np.random.default_rng(0).uniform(-1, 1, (3, 4, 5)).astype(np.float32)
    assert sampling.mu_law_compress(x).shape == (3, 4, 5)
    assert sampling.mu_law_compress(x).dtype == librosa.mu_compress(x, quantize=False).dtype == np.float64
    assert sampling.mu_law_expand(x).dtype == np.float64
    np.testing.assert_array_equal(sampling.mu_law_encode(x), librosa.mu_compress(x) + 128)
    assert sampling.mu_law_encode(x).shape == (3, 4, 5)


def test_mu_law_length_one():
    np.testing.assert_array_equal(sampling.mu_law_encode(np.array([0.25])), librosa.mu_compress(np.array([0.25])) + 128)
    assert sampling.mu_law_decode(np.array([128])).shape == (1,)


@pytest.mark.parametrize("bad", [np.array([0.0, 1.0000001]), np.array([-1.5]), np.array([2.0, -3.0])])
def test_mu_law_encode_rejects_audio_outside_unit_interval(bad):
    for f in (sampling.mu_law_encode, sampling.mu_law_compress):
        with pytest.raises(ValueError, match=r"x must lie in \[-1, 1\]"):
            f(bad)
    with pytest.raises(ValueError, match=r"c must lie in \[-1, 1\]"):
        sampling.mu_law_expand(bad)


@pytest.mark.parametrize("mu", [0, -1, -255])
def test_mu_law_rejects_mu_below_one(mu):
    for f in (sampling.mu_law_encode, sampling.mu_law_compress, sampling.mu_law_expand):
        with pytest.raises(ValueError, match="mu must be an int >= 1"):
            f(np.zeros(3), mu)
    with pytest.raises(ValueError, match="mu must be an int >= 1"):
        sampling.mu_law_decode(np.zeros(3, np.int64), mu)


@pytest.mark.parametrize("mu", [255.0, True, "255"])
def test_mu_law_rejects_non_int_mu(mu):
    with pytest.raises(TypeError, match="mu"):
        sampling.mu_law_encode(np.zeros(3), mu)


def test_mu_law_encode_rejects_pcm_nan_and_empty():
    with pytest.raises(TypeError, match="pcm_to_float"):
        sampling.mu_law_encode(np.zeros(4, np.int16))
    with pytest.raises(ValueError, match="NaN|finite"):
        sampling.mu_law_encode(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="empty"):
        sampling.mu_law_encode(np.array([]))


def test_mu_law_decode_rejects_bad_classes():
    with pytest.raises(ValueError, match=r"0\.\.255"):
        sampling.mu_law_decode(np.array([0, 256]))
    with pytest.raises(ValueError, match=r"0\.\.255"):
        sampling.mu_law_decode(np.array([-1, 3]))
    with pytest.raises(ValueError, match=r"0\.\.15"):
        sampling.mu_law_decode(np.array([16]), 15)
    with pytest.raises(TypeError, match="integer class indices"):
        sampling.mu_law_decode(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="numpy array"):
        sampling.mu_law_decode([0, 1])
    with pytest.raises(ValueError, match="empty"):
        sampling.mu_law_decode(np.array([], np.int64))

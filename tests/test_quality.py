"""lessons_lib.quality: log-spectral distance, multi-resolution STFT distance, PESQ and STOI.

The two spectral distances are compared with references written here on an
independent code path: the log-spectral distance with librosa's STFT and
NumPy, the multi-resolution STFT distance with Parallel WaveGAN's loss written
in torch (``torch.stft``, clamp, Frobenius norm and ``l1_loss``, as the paper's
code). Then their laws: zero for identical signals, symmetry where it holds,
the exact effect of a gain. PESQ and STOI are checked to pass their arguments
to the packages unchanged, to score a recording against itself at the top of
their scale and noisier copies lower, and to refuse what those packages would
score silently (short clips, mismatched lengths, silence).
"""

from __future__ import annotations

import sys

import librosa
import numpy as np
import pesq
import pystoi
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib import quality


def noise(n, seed):
    return np.random.default_rng(seed).standard_normal(n)


def voiced(n, seed, sr=8000):
    """Harmonics of a gliding pitch under a moving envelope, plus a little noise: speech-like spectra."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / sr
    f0 = 130 + 30 * np.sin(2 * np.pi * 2 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(f0) / sr
    harmonics = sum(np.sin(k * phase + rng.uniform(0, 6)) / k for k in range(1, 15))
    return 0.2 * (0.3 + np.sin(2 * np.pi * 2.5 * t) ** 2) * harmonics + 0.003 * rng.standard_normal(n)


# --------------------------------------------------------------------------- log-spectral distance


def reference_lsd(x, y, n_fft, hop_length, win_length, center, amin=1e-10):
    X = librosa.stft(x, n_fft=n_fft, hop_length=hop_length, win_length=win_length, center=center, pad_mode="constant")
    Y = librosa.stft(y, n_fft=n_fft, hop_length=hop_length, win_length=win_length, center=center, pad_mode="constant")
    diff = 10 * np.log10(np.maximum(np.abs(X) ** 2, amin)) - 10 * np.log10(np.maximum(np.abs(Y) ** 2, amin))
    return np.mean([np.sqrt(np.mean(diff[:, m] ** 2)) for m in range(diff.shape[1])])


@pytest.mark.parametrize("n, n_fft, hop_length, win_length, center", [
    (8000, 512, 128, None, True),
    (4001, 256, 64, 200, True),
    (3000, 1024, 256, None, False),
    (777, 128, 50, 128, True),
])
def test_log_spectral_distance_equals_reference(n, n_fft, hop_length, win_length, center):
    x = voiced(n, seed=n)
    y = x + 0.05 * noise(n, seed=n + 1)
    ours = quality.log_spectral_distance(x, y, n_fft=n_fft, hop_length=hop_length, win_length=win_length,
                                         center=center)
    assert isinstance(ours, float)
    assert ours == pytest.approx(reference_lsd(x, y, n_fft, hop_length, win_length, center), rel=1e-10)


def test_log_spectral_distance_floor_matters_only_for_silence():
    x = voiced(4000, seed=3)
    silent = np.zeros(4000)
    # against silence every bin is floored at -100 dB on one side
    assert quality.log_spectral_distance(x, silent) == pytest.approx(reference_lsd(x, silent, 512, 128, None, True))
    assert quality.log_spectral_distance(silent, silent) == 0.0
    assert quality.log_spectral_distance(x, silent, amin=1e-4) < quality.log_spectral_distance(x, silent)


@pytest.mark.parametrize("seed", [0, 1])
def test_log_spectral_distance_is_zero_for_identical_and_symmetric(seed):
    x, y = voiced(5000, seed), voiced(5000, seed + 10)
    assert quality.log_spectral_distance(x, x) == 0.0
    assert quality.log_spectral_distance(x, y) == pytest.approx(quality.log_spectral_distance(y, x), rel=1e-12)
    assert quality.log_spectral_distance(x, y) > 1.0


@settings(max_examples=25, deadline=None)
@given(gain=st.floats(0.01, 100.0), seed=st.integers(0, 1000))
def test_log_spectral_distance_of_a_gain_is_its_decibels(gain, seed):
    x = noise(3000, seed)  # no bin near the -100 dB floor
    assert quality.log_spectral_distance(x, gain * x) == pytest.approx(abs(20 * np.log10(gain)), rel=1e-9, abs=1e-9)


def test_log_spectral_distance_ignores_a_sign_flip_but_not_a_delay():
    x = voiced(4000, seed=4)
    assert quality.log_spectral_distance(x, -x) == pytest.approx(0.0, abs=1e-9)
    assert quality.log_spectral_distance(x, np.roll(x, 300)) > 1.0


# --------------------------------------------------------------------------- multi-resolution STFT distance


def parallel_wavegan_loss(x, y, resolutions, eps=1e-7):
    """Parallel WaveGAN's MultiResolutionSTFTLoss (sc + mag), with y the ground truth and x the generated signal."""
    x, y = torch.from_numpy(x)[None], torch.from_numpy(y)[None]
    sc_total = mag_total = 0.0
    for n_fft, hop, win in resolutions:
        window = torch.hann_window(win, dtype=torch.float64)

        def magnitude(z):
            Z = torch.stft(z, n_fft, hop, win, window, center=True, pad_mode="reflect", return_complex=True)
            return torch.sqrt(torch.clamp(Z.real ** 2 + Z.imag ** 2, min=eps)).transpose(2, 1)

        x_mag, y_mag = magnitude(x), magnitude(y)
        sc_total += torch.norm(y_mag - x_mag, p="fro") / torch.norm(y_mag, p="fro")
        mag_total += F.l1_loss(torch.log(y_mag), torch.log(x_mag))
    return float((sc_total + mag_total) / len(resolutions))


@pytest.mark.parametrize("resolutions", [
    quality.PARALLEL_WAVEGAN_RESOLUTIONS,
    ((512, 128, 512),),
    ((341, 40, 200), (683, 80, 400), (171, 17, 80)),
])
@pytest.mark.parametrize("n", [6000, 24000])
def test_multi_resolution_stft_distance_equals_parallel_wavegan_loss(resolutions, n):
    y = voiced(n, seed=n)  # ground truth
    x = y + 0.02 * noise(n, seed=1)
    ours = quality.multi_resolution_stft_distance(y, x, resolutions=resolutions)
    assert isinstance(ours, float)
    assert ours == pytest.approx(parallel_wavegan_loss(x, y, resolutions), rel=1e-9)


def test_multi_resolution_stft_terms_one_resolution_by_hand():
    rng = np.random.default_rng(0)
    S, S_hat = rng.uniform(0.1, 2.0, (33, 20)), rng.uniform(0.1, 2.0, (33, 20))
    assert quality.spectral_convergence(S, S_hat) == pytest.approx(
        np.sqrt(((S - S_hat) ** 2).sum()) / np.sqrt((S ** 2).sum()), rel=1e-12)
    assert quality.log_magnitude_distance(S, S_hat) == pytest.approx(np.abs(np.log(S) - np.log(S_hat)).mean(),
                                                                      rel=1e-12)
    tiny = np.full((3, 3), 1e-6)  # below sqrt(1e-7): floored
    assert quality.log_magnitude_distance(tiny, np.zeros((3, 3))) == 0.0


def test_multi_resolution_stft_distance_laws():
    y, x = voiced(8000, seed=5), voiced(8000, seed=6)
    assert quality.multi_resolution_stft_distance(y, y) == 0.0
    assert quality.multi_resolution_stft_distance(y, x) != pytest.approx(quality.multi_resolution_stft_distance(x, y))
    g = 0.5  # sc = |1 - g| and mag = |ln g| wherever nothing is floored (white noise)
    w = noise(8000, seed=7)
    assert quality.multi_resolution_stft_distance(w, g * w) == pytest.approx(abs(1 - g) + abs(np.log(g)), rel=1e-9)
    assert quality.spectral_convergence(np.ones((2, 2)), np.zeros((2, 2))) == 1.0
    assert quality.log_magnitude_distance(np.ones((2, 2)), 3 * np.ones((2, 2))) == pytest.approx(np.log(3))
    assert quality.log_magnitude_distance(3 * np.ones((2, 2)), np.ones((2, 2))) == pytest.approx(np.log(3))


def test_multi_resolution_stft_distance_grows_with_noise():
    y = voiced(8000, seed=8)
    scores = [quality.multi_resolution_stft_distance(y, y + s * noise(8000, 9)) for s in (0.001, 0.01, 0.1)]
    assert scores[0] < scores[1] < scores[2]


# --------------------------------------------------------------------------- bad input to the distances


@pytest.mark.parametrize("func", [quality.log_spectral_distance, quality.multi_resolution_stft_distance])
def test_distances_refuse_bad_waveforms(func):
    x = noise(4000, 0)
    with pytest.raises(ValueError, match="same length, got 4000 and 3999"):
        func(x, x[:-1])
    with pytest.raises(ValueError, match="1-D"):
        func(x[None], x[None])
    with pytest.raises(TypeError, match="pcm_to_float"):
        func((x * 1000).astype(np.int16), x)
    with pytest.raises(ValueError, match="NaN"):
        func(x, np.full(4000, np.nan))
    with pytest.raises(TypeError, match="numpy array"):
        func(list(x), x)


def test_distance_parameters_are_checked():
    x = noise(4000, 0)
    with pytest.raises(ValueError, match="amin"):
        quality.log_spectral_distance(x, x, amin=0.0)
    with pytest.raises(ValueError, match="win_length"):
        quality.log_spectral_distance(x, x, n_fft=256, win_length=512)
    with pytest.raises(ValueError, match="empty"):
        quality.multi_resolution_stft_distance(x, x, resolutions=())
    with pytest.raises(ValueError, match=r"\(n_fft, hop_length, win_length\)"):
        quality.multi_resolution_stft_distance(x, x, resolutions=((512, 128),))
    with pytest.raises(ValueError, match="longer than n_fft"):
        quality.multi_resolution_stft_distance(x, x, resolutions=((256, 64, 512),))
    with pytest.raises(ValueError, match="three positive ints"):
        quality.multi_resolution_stft_distance(x, x, resolutions=((256, 0, 256),))
    with pytest.raises(TypeError, match="triples"):
        quality.multi_resolution_stft_distance(x, x, resolutions=5)
    with pytest.raises(ValueError, match="eps"):
        quality.multi_resolution_stft_distance(x, x, eps=-1.0)
    with pytest.raises(ValueError, match="same shape"):
        quality.spectral_convergence(np.ones((3, 4)), np.ones((3, 5)))
    with pytest.raises(ValueError, match="non-negative"):
        quality.log_magnitude_distance(np.ones((3, 4)), -np.ones((3, 4)))
    with pytest.raises(ValueError, match="all zeros"):
        quality.spectral_convergence(np.zeros((3, 4)), np.ones((3, 4)))


# --------------------------------------------------------------------------- PESQ


@pytest.fixture(scope="module")
def utterances(real_fsdd):
    """Three takes of one speaker concatenated (about 1.2 s), the way Chapter 7c scores test takes."""
    return np.concatenate([real_fsdd.waveforms[i] for i in (0, 1, 2)]).astype(np.float64)


def test_pesq_nb_of_a_recording_against_itself_is_the_top_score(utterances):
    assert quality.pesq_nb(utterances, utterances) == pytest.approx(4.549, abs=0.01)
    for gain in (0.25, 2.0):  # the level is equalised before the comparison
        assert quality.pesq_nb(utterances, gain * utterances) == pytest.approx(4.549, abs=0.05)


def test_pesq_nb_falls_as_noise_grows(utterances):
    rng = np.random.default_rng(0)
    scores = [quality.pesq_nb(utterances, utterances + s * rng.standard_normal(utterances.size))
              for s in (0.001, 0.01, 0.05)]
    assert 4.6 > scores[0] > scores[1] > scores[2] > 1.0, scores


def test_pesq_nb_passes_reference_and_estimate_unchanged(utterances):
    degraded = utterances + 0.02 * np.random.default_rng(1).standard_normal(utterances.size)
    assert quality.pesq_nb(utterances, degraded) == pesq.pesq(8000, utterances, degraded, "nb")
    assert quality.pesq_nb(utterances, degraded) != quality.pesq_nb(degraded, utterances)  # PESQ is not symmetric
    up = librosa.resample(utterances, orig_sr=8000, target_sr=16000)
    assert quality.pesq_nb(up, up, sample_rate=16000) == pytest.approx(4.549, abs=0.01)


def test_pesq_nb_refuses_what_pesq_cannot_score(utterances):
    x = utterances
    with pytest.raises(ValueError, match="same length"):
        quality.pesq_nb(x, x[:-10])  # the pesq package would score this
    with pytest.raises(ValueError, match="at least 0.25 s"):
        quality.pesq_nb(x[:1999], x[:1999])
    assert quality.pesq_nb(x[:2000], x[:2000]) > 4.0
    with pytest.raises(ValueError, match="8000 or 16000"):
        quality.pesq_nb(x, x, sample_rate=22050)
    with pytest.raises(ValueError, match="estimate is silent"):
        quality.pesq_nb(x, np.zeros_like(x))
    with pytest.raises(ValueError, match="reference is silent"):
        quality.pesq_nb(np.zeros_like(x), x)
    with pytest.raises(TypeError, match="sample_rate"):
        quality.pesq_nb(x, x, sample_rate=8000.0)


@pytest.mark.parametrize("error, match", [(pesq.NoUtterancesError, "no speech"),
                                           (pesq.BufferTooShortError, "PESQ failed")])
def test_pesq_nb_turns_the_packages_errors_into_value_errors(monkeypatch, error, match):
    def failing(*args):
        raise error("from the P.862 code")

    monkeypatch.setattr(pesq, "pesq", failing)
    x = voiced(4000, seed=0)
    with pytest.raises(ValueError, match=match):
        quality.pesq_nb(x, x)


def test_pesq_nb_without_the_package_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pesq", None)  # import pesq now raises ImportError
    x = voiced(4000, seed=0)
    with pytest.raises(ImportError, match="C compiler"):
        quality.pesq_nb(x, x)


# --------------------------------------------------------------------------- STOI


def test_stoi_of_a_recording_against_itself_is_one(utterances):
    assert quality.stoi(utterances, utterances, 8000) == pytest.approx(1.0, abs=1e-9)


def test_stoi_falls_as_noise_grows_and_equals_pystoi(utterances):
    rng = np.random.default_rng(2)
    noisy = [utterances + s * rng.standard_normal(utterances.size) for s in (0.003, 0.03, 0.3)]
    scores = [quality.stoi(utterances, y, 8000) for y in noisy]
    assert 1.0 > scores[0] > scores[1] > scores[2], scores
    for y, score in zip(noisy, scores):
        assert score == pystoi.stoi(utterances, y, 8000)
    assert quality.stoi(utterances, noisy[1], 8000, extended=True) == pystoi.stoi(utterances, noisy[1], 8000,
                                                                                  extended=True)


def test_stoi_refuses_clips_pystoi_would_score_1e_5(utterances):
    x = utterances
    assert len(x) >= 4000
    with pytest.raises(ValueError, match="at least 0.5 s"):
        quality.stoi(x[:3999], x[:3999], 8000)
    with pytest.raises(ValueError, match="at least 0.5 s"):
        quality.stoi(x[:7999], x[:7999], 16000)
    assert 0.9 < quality.stoi(x[:4000], x[:4000], 8000) <= 1.0 + 1e-9
    # long enough, but mostly silence: pystoi drops the silent frames, then warns and returns 1e-5
    mostly_silent = np.zeros(8000)
    mostly_silent[:1500] = x[:1500]
    with pytest.warns(RuntimeWarning):
        assert pystoi.stoi(mostly_silent, mostly_silent, 8000) == 1e-5
    with pytest.raises(ValueError, match="30 frames"):
        quality.stoi(mostly_silent, mostly_silent, 8000)


def test_stoi_refuses_mismatched_lengths_and_bad_rates(utterances):
    x = utterances
    with pytest.raises(ValueError, match="same length"):
        quality.stoi(x, x[:-1], 8000)
    with pytest.raises(ValueError, match="sample_rate"):
        quality.stoi(x, x, 0)
    with pytest.raises(TypeError, match="sample_rate"):
        quality.stoi(x, x, 8000.0)

"""lessons_lib.recipes.wavenet_vocoder: features, segments, training, vocoding, the baseline and the scores of 07c.

On the real FSDD: every recording cut to whole hops, its classes the μ-law code of its waveform, its log-mel
librosa's (``power_to_db(melspectrogram(...))``, float32 tolerance) with one frame more than hops; the split.
``collate`` against slicing by hand (and its padding), each epoch's segments inside their recordings, ``build``
deterministic and leaving the global random state alone, ``loss`` the cross-entropy by hand (float64); training
2 epochs reproducible and resumable (``assert_reproducible_and_resumable``), and lowering the loss; ``vocode``
equal to ``generate`` by hand, and at a tiny temperature the arg-max of the teacher-forced logits at every step
(``sharpened`` divides the logits, float64, and leaves the model alone); the Griffin-Lim baseline equal to librosa's pipeline (``mel_to_stft`` then
``griffinlim``, same initial phase) on a real mel; ``evaluate``'s numbers equal to the quality functions applied
by hand; bad input (wrong number of bands, a hop that does not match the upsampler, a mismatched dataset, a
spectrogram of one frame, too little test audio) raising clear errors. The upsampling experiment: the energy
at the stride's frequencies against its definition by folding, and the checkerboard of a transposed
convolution whose kernel is not a multiple of its stride (0.1 for kernel 1.5 strides, worked by hand) against
none for nearest + convolution and linear interpolation, whatever their weights.
"""

from __future__ import annotations

import dataclasses
import math

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib import data, quality, recipes, sampling
from lessons_lib.models.wavenet import WaveNet, generate
from lessons_lib.recipes import wavenet_vocoder as recipe

from .conftest import assert_reproducible_and_resumable, prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(layers=2, kernel_size=2, residual_channels=4, gate_channels=8, skip_channels=4,
                     segment_frames=2, batch_size=4, epochs=2, n_train=12, n_test=12)


@pytest.fixture(scope="module")
def utterances(real_fsdd):
    with prepared(recipe, real_fsdd, TINY) as d:
        yield d


def toy(n=6, hops=(5, 3, 8, 2, 6, 4), hop=128, seed=0):
    rng = np.random.default_rng(seed)
    classes = tuple(rng.integers(0, 256, h * hop) for h in hops[:n])
    mels = tuple(rng.normal(-20, 15, (40, h + 1)).astype(np.float32) for h in hops[:n])
    waveforms = tuple(sampling.mu_law_decode(q).astype(np.float32) for q in classes)
    return recipe.Utterances(waveforms, classes, mels, np.arange(n) % 6, np.arange(n - 2), np.arange(n - 2, n),
                             255, 8000, hop)


# --------------------------------------------------------------------------- data


def test_utterances_of_the_real_fsdd(utterances, real_fsdd):
    d = utterances
    assert len(d) == 3000 and (len(d.train), len(d.test)) == (12, 12)
    assert not set(d.train) & set(d.test)
    assert set(real_fsdd.takes[d.test]) <= set(data.FSDD_TEST_TAKES)
    assert set(real_fsdd.takes[d.train]).isdisjoint(data.FSDD_TEST_TAKES)
    for u in (0, 1234, 2999):
        y = d.waveforms[u]
        assert y.dtype == np.float32 and len(y) % 128 == 0 and len(y) <= len(real_fsdd.waveforms[u])
        assert math.isclose(np.abs(y).max(), 0.9, rel_tol=1e-6)
        np.testing.assert_array_equal(d.classes[u], sampling.mu_law_encode(y.astype(np.float64)))
        reference = librosa.power_to_db(librosa.feature.melspectrogram(
            y=y.astype(np.float64), sr=8000, n_fft=512, hop_length=128, n_mels=40))
        assert d.mels[u].shape == (40, len(y) // 128 + 1) == reference.shape
        np.testing.assert_allclose(d.mels[u], reference, rtol=0, atol=1e-4)
    np.testing.assert_array_equal(d.n_hops, [len(q) // 128 for q in d.classes])


def test_collate_slices_and_pads():
    d = toy()
    hop = d.hop_length
    q, c = recipe.collate(d, 3, [0 * recipe.STRIDE + 1, 3 * recipe.STRIDE + 0])
    assert q.shape == (2, 3 * hop + 1) and c.shape == (2, 40, 3) and c.dtype == torch.float32
    np.testing.assert_array_equal(q[0].numpy(), d.classes[0][hop:4 * hop + 1])
    np.testing.assert_allclose(c[0].numpy(), (d.mels[0][:, 1:4] + 20) / 15, rtol=1e-6)
    # recording 3 has 2 hops (3 frames): 2 * hop classes, then silence; 3 frames, no padding needed
    np.testing.assert_array_equal(q[1, :2 * hop].numpy(), d.classes[3])
    assert (q[1, 2 * hop:] == 128).all()
    np.testing.assert_allclose(c[1].numpy(), (d.mels[3][:, :3] + 20) / 15, rtol=1e-6)
    q, c = recipe.collate(d, 5, [3 * recipe.STRIDE])  # 5 frames from a 3-frame mel: quietest value after
    np.testing.assert_allclose(c[0, :, 3:].numpy(), (d.mels[3].min() + 20) / 15, rtol=1e-6)


def test_segments_of_every_epoch():
    d = toy()
    config = recipe.Config(segment_frames=3, segments_per_recording=2, batch_size=3)
    of_epoch = recipe.batches(config, d, d.train)
    ids = np.concatenate(of_epoch(0))
    owners, starts = ids // recipe.STRIDE, ids % recipe.STRIDE
    assert sorted(owners.tolist()) == sorted(np.repeat(d.train, 2).tolist())
    assert (starts <= np.maximum(d.n_hops[owners] - 3, 0)).all()
    np.testing.assert_array_equal(np.concatenate(of_epoch(0)), ids)
    assert not np.array_equal(np.concatenate(of_epoch(1)), ids)


# --------------------------------------------------------------------------- model, loss, training


@pytest.mark.parametrize("upsampler", ["transposed", "nearest", "linear"])
def test_build_is_deterministic(upsampler):
    config = dataclasses.replace(TINY, upsampler=upsampler)
    state = torch.get_rng_state()
    a, b = recipe.build(config), recipe.build(config)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.upsample_conv.mode == upsampler and a.hop_length == 128 and a.cond_channels == 40
    c = torch.zeros(1, 40, 3)
    assert a.upsample_conv(c).shape == (1, 40, 384)


def test_loss_is_the_next_sample_cross_entropy():
    model = recipe.build(TINY).double()
    q = torch.randint(0, 256, (3, 2 * 128 + 1), generator=torch.Generator().manual_seed(0))
    c = torch.randn(3, 40, 2, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    log_p = torch.log_softmax(model(q[:, :-1], c), dim=1)
    by_hand = -torch.stack([log_p[b, q[b, t + 1], t] for b in range(3) for t in range(256)]).mean()
    torch.testing.assert_close(recipe.loss(model, (q, c)), by_hand, rtol=1e-12, atol=1e-12)


def test_training_is_reproducible_and_resumable(utterances, tmp_path):
    assert_reproducible_and_resumable(recipe, TINY, utterances, utterances.train[:8], tmp_path / "vocoder.pt")


def test_training_lowers_the_loss():
    d = toy()
    _, history = recipe.train(dataclasses.replace(TINY, epochs=8, lr=1e-2), d, device="cpu", progress=False)
    assert history.loss[-1] < history.loss[0]


def test_nll_bits_by_hand():
    d = toy()
    model = recipe.build(TINY).double()
    total, count = 0.0, 0
    for u in d.test:
        q = torch.as_tensor(d.classes[u])[None]
        c = torch.as_tensor((d.mels[u][:, :-1].astype(np.float64) + 20) / 15)[None]
        total += F.cross_entropy(model(q, c)[..., :-1], q[:, 1:], reduction="sum").item()
        count += q.shape[1] - 1
    assert math.isclose(recipe.nll_bits(model, d, d.test), total / count / math.log(2), rel_tol=1e-6)


# --------------------------------------------------------------------------- vocoding, baseline, scores


def test_vocode_is_generate_decoded():
    model = recipe.build(TINY)
    d = toy()
    mels = [d.mels[0], d.mels[3]]
    out = recipe.vocode(model, mels, TINY, generator=torch.Generator().manual_seed(4))
    assert [len(y) for y in out] == [5 * 128, 2 * 128]
    c = np.stack([d.mels[0][:, :-1], np.pad(d.mels[3][:, :-1], ((0, 0), (0, 3)), constant_values=d.mels[3].min())])
    q = generate(model, 5 * 128 - 1, c=torch.as_tensor((c + 20) / 15), initial=128,
                 generator=torch.Generator().manual_seed(4))
    for row, y, n in zip(q.numpy(), out, (5, 2)):
        expected = sampling.mu_law_decode(np.concatenate([[128], row])[:n * 128]).astype(np.float32)
        np.testing.assert_array_equal(y, expected)
    again = recipe.vocode(model, mels, TINY, generator=torch.Generator().manual_seed(4))
    assert all(np.array_equal(a, b) for a, b in zip(out, again))


def test_sharpened_divides_the_logits_and_leaves_the_model_alone():
    model = recipe.build(TINY).double()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    q = torch.randint(0, 256, (2, 256), generator=torch.Generator().manual_seed(0))
    c = torch.randn(2, 40, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(recipe.sharpened(model, 0.7)(q, c), model(q, c) / 0.7, rtol=1e-12, atol=1e-12)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
    assert recipe.sharpened(model, 1.0) is model
    for bad in (0.0, -1.0, True, "1"):
        with pytest.raises(ValueError, match="temperature"):
            recipe.sharpened(model, bad)
    with pytest.raises(ValueError, match="mixture"):
        recipe.sharpened(WaveNet(layers=2, stacks=1, residual_channels=4, gate_channels=8, skip_channels=4,
                                 n_mixtures=2), 0.5)


def test_vocode_at_a_tiny_temperature_takes_the_most_likely_class():
    """tau -> 0: every drawn sample is the arg-max of the teacher-forced logits on the drawn sequence."""
    model = recipe.build(dataclasses.replace(TINY, seed=3))
    S_db = toy().mels[0]
    y = recipe.vocode(model, S_db, dataclasses.replace(TINY, temperature=1e-4),
                      generator=torch.Generator().manual_seed(0))[0]
    q = torch.as_tensor(sampling.mu_law_encode(y.astype(np.float64)))[None]
    c = torch.as_tensor((S_db[:, :-1] + 20) / 15)[None]
    with torch.no_grad():
        logits = model(q, c)
    np.testing.assert_array_equal(logits[0, :, :-1].argmax(0).numpy(), q[0, 1:].numpy())
    with pytest.raises(ValueError, match="temperature"):
        recipe.vocode(model, S_db, dataclasses.replace(TINY, temperature=0.0))


def test_griffin_lim_equals_librosas_pipeline(utterances):
    S_db = utterances.mels[1234]
    ours = recipe.griffin_lim(S_db, TINY, rng=np.random.default_rng(3))
    S = librosa.feature.inverse.mel_to_stft(librosa.db_to_power(S_db.astype(np.float64)), sr=8000, n_fft=512)
    reference = librosa.griffinlim(S, n_iter=32, hop_length=128, n_fft=512, momentum=0.99,
                                   length=len(utterances.waveforms[1234]), init="random",
                                   random_state=np.random.default_rng(3))
    assert ours.shape == reference.shape == utterances.waveforms[1234].shape
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-6 * np.abs(reference).max())


def test_evaluate_equals_the_quality_functions_by_hand(utterances):
    d = utterances
    items = d.test[:7]
    model = recipe.build(TINY)
    out = recipe.evaluate(model, TINY, d, device="cpu", items=items)
    reference = np.concatenate([d.waveforms[u] for u in items]).astype(np.float64)
    assert out["test seconds"] == len(reference) / 8000 >= recipe.MIN_TEST_SECONDS
    mels = [d.mels[u] for u in items]
    vocoded = np.concatenate(recipe.vocode(model, mels, TINY, generator=torch.Generator().manual_seed(0)))
    rng = np.random.default_rng(0)
    baseline = np.concatenate([recipe.griffin_lim(m, TINY, rng=rng) for m in mels])
    for name, estimate in (("vocoder", vocoded.astype(np.float64)), ("Griffin-Lim", baseline)):
        assert out[f"{name} LSD dB"] == quality.log_spectral_distance(reference, estimate, n_fft=512,
                                                                      hop_length=128)
        assert out[f"{name} MR-STFT"] == quality.multi_resolution_stft_distance(
            reference, estimate, resolutions=((512, 40, 200), (1024, 80, 400), (256, 16, 80)))
        assert out[f"{name} PESQ-NB"] == quality.pesq_nb(reference, estimate, 8000)
        assert out[f"{name} STOI"] == quality.stoi(reference, estimate, 8000)
    assert out["beats Griffin-Lim"] == (out["vocoder LSD dB"] < out["Griffin-Lim LSD dB"]
                                        and out["vocoder PESQ-NB"] > out["Griffin-Lim PESQ-NB"])
    assert out["test bits per sample"] == recipe.nll_bits(model, d, items)
    assert out["test recordings"] == 7 and out["receptive field"] == model.receptive_field
    assert np.isfinite(out["generation samples per second"]) and out["generation samples per second"] > 0


def test_bad_input():
    model = recipe.build(TINY)
    with pytest.raises(ValueError, match="n_mels=40"):
        recipe.vocode(model, [np.zeros((39, 4))], TINY)
    with pytest.raises(ValueError, match="n_frames >= 2"):
        recipe.vocode(model, [np.zeros((40, 1))], TINY)
    with pytest.raises(ValueError, match="NaN"):
        recipe.vocode(model, [np.full((40, 4), np.nan)], TINY)
    with pytest.raises(ValueError, match="hop must match the upsampler"):
        recipe.vocode(model, [np.zeros((40, 4))], dataclasses.replace(TINY, hop_length=64))
    with pytest.raises(ValueError, match="n_mels=40"):
        recipe.griffin_lim(np.zeros((39, 4)), TINY, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="multiply to 128, but hop_length is 64"):
        recipe.build(dataclasses.replace(TINY, hop_length=64))
    with pytest.raises(ValueError, match="upsampler must be one of"):
        recipe.build(dataclasses.replace(TINY, upsampler="cubic"))
    with pytest.raises(ValueError, match="prepare it with the same config"):
        recipe.train(dataclasses.replace(TINY, n_mels=20), toy(), device="cpu", progress=False)
    with pytest.raises(ValueError, match="multiple of hop_length"):
        recipe.log_mel(np.zeros(100), TINY)
    d = toy()
    with pytest.raises(ValueError, match="raise n_test"):
        recipe.evaluate(model, TINY, d, device="cpu")  # 2 toy test recordings: 1.25 s
    with pytest.raises(ValueError, match="c must have cond_channels=40"):  # the model itself checks too
        model(torch.zeros(1, 256, dtype=torch.long), torch.zeros(1, 39, 2))


def test_registered():
    assert recipes.get("wavenet_vocoder") is recipe
    assert recipes.RECIPES["wavenet_vocoder"][0] == 7
    assert recipes.config_for("wavenet_vocoder", "quick", ["upsampler=nearest"]).upsampler == "nearest"


# --------------------------------------------------------------------------- the upsampling experiment


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), period=st.integers(1, 9), repeats=st.integers(1, 20))
def test_stride_energy_is_the_energy_of_the_folded_mean(seed, period, repeats):
    """Bins h N/s of the DFT hold the period-s pattern: E = (N/s) sum (p - mean p)^2 / sum y^2, p the fold's mean."""
    y = np.random.default_rng(seed).standard_normal(period * repeats)
    p = y.reshape(repeats, period).mean(axis=0)
    expected = repeats * np.sum((p - p.mean()) ** 2) / np.sum(y**2)
    assert math.isclose(recipe.stride_energy(y, period), expected, rel_tol=1e-9, abs_tol=1e-12)


def test_stride_energy_bad_input():
    with pytest.raises(ValueError, match="period=3 divides"):
        recipe.stride_energy(np.ones(10), 3)
    with pytest.raises(ValueError, match="all zeros"):
        recipe.stride_energy(np.zeros(8), 2)


@pytest.mark.parametrize("hop, kernel", [(8, 12), (4, 6), (16, 24)])
def test_transposed_kernel_not_a_multiple_of_the_stride_leaves_a_checkerboard(hop, kernel):
    """Kernel 1.5 strides, equal taps: half of each period gets 2 taps, half 1: pattern (1, 0.5), E = 0.1."""
    y = recipe.upsample_constant("transposed", hop_length=hop, kernel_size=kernel)
    assert set(np.round(y, 12)) == {0.5, 1.0}
    assert math.isclose(recipe.stride_energy(y, hop), 0.0625 / 0.625, rel_tol=1e-9)
    flat = recipe.upsample_constant("transposed", hop_length=hop, kernel_size=2 * hop)  # a multiple: none
    assert recipe.stride_energy(flat, hop) < 1e-20


@pytest.mark.parametrize("random_weights", [False, True])
def test_nearest_and_linear_upsampling_keep_a_constant_constant(random_weights):
    for mode in ("nearest", "linear"):
        y = recipe.upsample_constant(mode, hop_length=8, random_weights=random_weights, seed=1)
        assert recipe.stride_energy(y, 8) < 1e-20, mode
    trained_like = recipe.upsample_constant("transposed", hop_length=8, random_weights=True, seed=1)
    assert recipe.stride_energy(trained_like, 8) > 0.01  # unequal taps: a pattern even with kernel = stride

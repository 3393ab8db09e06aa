"""lessons_lib.recipes.flow_vocoder: segments, training, likelihood, synthesis and scores of 07e's flow vocoders.

On the real FSDD (07c's prepared recordings): ``collate`` against slicing the waveforms and log-mels by hand (and
its padding past a recording's end); training each model 2 epochs reproducible and resumable
(``assert_reproducible_and_resumable``) with the loss falling; ``loss`` equal to ``flow_nll`` of the model's
output; ``nll_nats`` the length-weighted mean of each recording's NLL; ``vocode`` equal to ``model.infer`` on the
spectrograms padded by hand, with the same generator, cut to (F - 1) R samples; the trained model inverting a real
recording in float64 (1e-10); ``evaluate``'s numbers equal to ``quality``'s functions applied by hand to the same
syntheses and to Griffin-Lim with the same phases. Bad input: an unknown model, a segment the squeeze cannot
split, wrong bands, sigma <= 0, a mismatched dataset, too little test audio.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from lessons_lib import quality
from lessons_lib.models.waveglow import flow_nll
from lessons_lib.recipes import flow_vocoder as recipe
from lessons_lib.recipes import wavenet_vocoder

from .conftest import assert_reproducible_and_resumable, prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(n_flows=2, wn_layers=1, wn_channels=4, n_blocks=2, flows_per_block=1, upsample_scales=(128,),
                     wavenet_layers=1, wavenet_channels=4, segment_frames=2, batch_size=4, epochs=2, n_train=12,
                     n_test=12, lr=5e-3, sigmas=(0.5, 1.0))
TINY_FLOWAVENET = dataclasses.replace(TINY, model="flowavenet")


@pytest.fixture(scope="module")
def utterances(real_fsdd):
    with prepared(recipe, real_fsdd, TINY) as d:
        yield d


@pytest.fixture(scope="module")
def trained(utterances):
    return {config.model: recipe.train(config, utterances, device="cpu", progress=False)
            for config in (TINY, TINY_FLOWAVENET)}


def toy(hops=(5, 3), hop=128, seed=0):
    rng = np.random.default_rng(seed)
    waveforms = tuple((0.1 * rng.standard_normal(h * hop)).astype(np.float32) for h in hops)
    mels = tuple(rng.normal(-20, 15, (40, h + 1)).astype(np.float32) for h in hops)
    n = len(hops)
    return wavenet_vocoder.Utterances(waveforms, (np.zeros(1, int),) * n, mels, np.zeros(n, int), np.arange(n),
                                      np.arange(n), 255, 8000, hop)


# --------------------------------------------------------------------------- data


def test_prepare_is_07cs(utterances):
    d = utterances
    assert len(d) == 3000 and (len(d.train), len(d.test)) == (12, 12)
    for u in (0, 2999):
        assert d.mels[u].shape == (40, len(d.waveforms[u]) // 128 + 1)


def test_collate_slices_and_pads(utterances):
    d = utterances
    u = int(d.train[0])
    x, c = recipe.collate(d, 2, [u * recipe.STRIDE + 1])
    np.testing.assert_array_equal(x[0].numpy(), d.waveforms[u][128:384])
    np.testing.assert_allclose(c[0].numpy(), wavenet_vocoder.normalize(d.mels[u][:, 1:4]), rtol=0, atol=1e-6)
    short = toy(hops=(1,))
    x, c = recipe.collate(short, 2, [0])
    np.testing.assert_array_equal(x[0, :128].numpy(), short.waveforms[0])
    assert (x[0, 128:] == 0).all()
    low = wavenet_vocoder.normalize(short.mels[0].min())
    np.testing.assert_allclose(c[0, :, 2].numpy(), low, rtol=0, atol=1e-6)


# --------------------------------------------------------------------------- training


@pytest.mark.parametrize("config", [TINY, TINY_FLOWAVENET], ids=["waveglow", "flowavenet"])
def test_training_is_reproducible_and_resumable(config, utterances, tmp_path):
    model = assert_reproducible_and_resumable(recipe, config, utterances, utterances.train[:8],
                                              tmp_path / "flow.safetensors")
    assert type(model).__name__ == {"waveglow": "WaveGlow", "flowavenet": "FloWaveNet"}[config.model]


@pytest.mark.parametrize("name", recipe.MODELS)
def test_training_lowers_the_loss_and_the_model_inverts_a_real_recording(name, trained, utterances):
    model, history = trained[name]
    assert history.loss[-1] < history.loss[0]
    u = int(utterances.test[0])
    assert recipe.round_trip_error(model, utterances.waveforms[u], utterances.mels[u]) < 1e-10


def test_loss_is_the_flow_nll(trained, utterances):
    model = trained["waveglow"][0]
    batch = recipe.collate(utterances, 2, utterances.train[:3] * recipe.STRIDE)
    with torch.no_grad():
        torch.testing.assert_close(recipe.loss(model, batch), flow_nll(*model(*batch)), rtol=0, atol=0)


def test_nll_nats_weights_recordings_by_length(trained, utterances):
    model = trained["flowavenet"][0]
    items = utterances.test[:3]
    total, count = 0.0, 0
    with torch.no_grad():
        for u in items:
            T = len(utterances.waveforms[u]) // model.divisor * model.divisor
            x = torch.from_numpy(utterances.waveforms[u][:T])[None]
            c = torch.from_numpy(wavenet_vocoder.normalize(utterances.mels[u][:, :T // 128 + 1]))[None]
            total += flow_nll(*model(x, c)).item() * T
            count += T
    assert math.isclose(recipe.nll_nats(model, utterances, items), total / count, rel_tol=1e-9)


# --------------------------------------------------------------------------- synthesis and scores


@pytest.mark.parametrize("name", recipe.MODELS)
def test_vocode_is_infer_on_padded_mels(name, trained, utterances):
    model = trained[name][0]
    mels = [utterances.mels[u] for u in utterances.test[:2]]
    y = recipe.vocode(model, mels, TINY, sigma=0.7, generator=torch.Generator().manual_seed(3))
    hops = max(m.shape[1] for m in mels) - 1
    hops = -(-hops * 128 // model.divisor) * model.divisor // 128
    c = np.stack([np.pad(m, ((0, 0), (0, hops + 1 - m.shape[1])), constant_values=m.min()) for m in mels])
    with torch.no_grad():
        by_hand = model.infer(torch.from_numpy(wavenet_vocoder.normalize(c)), sigma=0.7,
                              generator=torch.Generator().manual_seed(3)).numpy()
    for row, m, ours in zip(by_hand, mels, y):
        assert len(ours) == (m.shape[1] - 1) * 128
        np.testing.assert_array_equal(ours, row[:len(ours)])


def test_evaluate_equals_the_quality_functions_by_hand(trained, utterances):
    config, d = TINY, utterances
    model = trained["waveglow"][0]
    out = recipe.evaluate(model, config, d, device="cpu")
    reference = np.concatenate([d.waveforms[u] for u in d.test]).astype(np.float64)
    mels = [d.mels[u] for u in d.test]
    generator = torch.Generator().manual_seed(config.seed)
    for sigma in config.sigmas:
        ours = np.concatenate(recipe.vocode(model, mels, config, sigma=sigma, generator=generator)).astype(np.float64)
        assert math.isclose(out[f"sigma {sigma:g} LSD dB"],
                            quality.log_spectral_distance(reference, ours, n_fft=512, hop_length=128), rel_tol=1e-9)
        assert math.isclose(out[f"sigma {sigma:g} PESQ-NB"], quality.pesq_nb(reference, ours, 8000), rel_tol=1e-9)
    rng = np.random.default_rng(config.seed)
    baseline = np.concatenate([wavenet_vocoder.griffin_lim(m, config, rng=rng) for m in mels])
    assert math.isclose(out["Griffin-Lim LSD dB"],
                        quality.log_spectral_distance(reference, baseline, n_fft=512, hop_length=128), rel_tol=1e-9)
    assert math.isclose(out["Griffin-Lim PESQ-NB"], quality.pesq_nb(reference, baseline, 8000), rel_tol=1e-9)
    assert math.isclose(out["test nats per sample"], recipe.nll_nats(model, d, d.test), rel_tol=1e-9)
    assert out["round-trip error"] < 1e-10 and out["synthesis samples per second"] > 0
    assert out["parameters"] == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="scoring needs at least"):
        recipe.evaluate(model, config, d, items=d.test[:1])


# --------------------------------------------------------------------------- bad input


def test_bad_configs_and_inputs(trained, utterances):
    with pytest.raises(ValueError, match="model must be one of"):
        recipe.build(dataclasses.replace(TINY, model="wavenet"))
    with pytest.raises(ValueError, match="squeeze needs a multiple of 256"):
        recipe.build(dataclasses.replace(TINY_FLOWAVENET, n_blocks=8, segment_frames=1))
    with pytest.raises(ValueError, match="sigmas must be positive"):
        recipe.build(dataclasses.replace(TINY, sigmas=(0.0,)))
    model = trained["waveglow"][0]
    with pytest.raises(ValueError, match=r"mels\[0\] must be a log-mel spectrogram of shape \(n_mels=40"):
        recipe.vocode(model, [np.zeros((20, 5))], TINY)
    with pytest.raises(ValueError, match="sigma must be a positive"):
        recipe.vocode(model, [np.zeros((40, 5))], TINY, sigma=0.0)
    with pytest.raises(ValueError, match="prepare it with the same config"):
        recipe.train(dataclasses.replace(TINY, n_mels=80), utterances, device="cpu", progress=False)

"""lessons_lib.recipes.wavenet_fsdd: the data, segments, loss, baselines and numbers of 07b.

On the real FSDD: every recording encoded into 0..255 (trimmed, peak-scaled: the loudest sample is the class of
``peak``), the thinned official split disjoint with all six speakers on both sides; ``collate`` against slicing
by hand (and silence padding); each epoch's random segments: exactly ``segments_per_recording`` per recording,
starting inside it, the same for the same epoch. ``build`` deterministic in the seed and leaving the global random
state alone, its receptive field 2,048; ``loss`` equal to the cross-entropy by hand (float64); ``nll_bits`` equal
to a sum of log-softmax terms (float64) and to 8 bits for a model whose logits are constant; ``marginal_bits``
against counting; a tiny ``train`` lowers the loss; ``evaluate``'s keys, and the wrong-speaker number for a
speaker-conditioned model; ``generate_audio`` decodes what ``generate`` draws; the recipe is registered.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessons_lib import data, recipes, sampling
from lessons_lib.models import wavenet
from lessons_lib.models.wavenet import generate
from lessons_lib.recipes import wavenet_fsdd as recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(layers=3, residual_channels=4, gate_channels=8, skip_channels=4, speaker_channels=3,
                     segment=60, batch_size=4, epochs=2, n_train=12, n_test=6)


@pytest.fixture(scope="module")
def recordings(real_fsdd):
    return recipe.recordings_of(real_fsdd, recipe.CONFIGS["quick"])


def toy(n=6, length=200, seed=0):
    rng = np.random.default_rng(seed)
    classes = tuple(rng.integers(0, 256, int(rng.integers(length // 2, length))) for _ in range(n))
    return recipe.Recordings(classes, np.arange(n) % 6, np.arange(n - 2), np.arange(n - 2, n), 255, 8000)


# --------------------------------------------------------------------------- data


def test_recordings_are_encoded_and_split(recordings, real_fsdd):
    config = recipe.CONFIGS["quick"]
    assert len(recordings) == 3000
    assert (len(recordings.train), len(recordings.test)) == (config.n_train, config.n_test)
    assert not set(recordings.train) & set(recordings.test)
    assert set(real_fsdd.takes[recordings.test]) <= set(data.FSDD_TEST_TAKES)
    assert set(real_fsdd.takes[recordings.train]).isdisjoint(data.FSDD_TEST_TAKES)
    for side in (recordings.train, recordings.test):
        assert set(recordings.speakers[side]) == set(range(6))
    loud = sampling.mu_law_encode(np.array([-config.peak, config.peak]))
    for u in (0, 1234, 2999):
        q = recordings.classes[u]
        assert q.dtype == np.int64 and q.min() >= loud[0] and q.max() <= loud[1]
        assert loud[0] in q or loud[1] in q  # the peak is scaled to +-peak
        assert len(q) <= len(real_fsdd.waveforms[u])
        assert recipe.SPEAKERS[recordings.speakers[u]] == real_fsdd.speakers[u]


def test_collate_slices_and_pads_with_silence():
    d = toy()
    ids = [0 * recipe.STRIDE + 5, 3 * recipe.STRIDE + len(d.classes[3]) - 10]
    q, s = recipe.collate(d, 30, ids)
    np.testing.assert_array_equal(q[0].numpy(), d.classes[0][5:35])
    np.testing.assert_array_equal(q[1, :10].numpy(), d.classes[3][-10:])
    assert (q[1, 10:] == 128).all()
    assert s.tolist() == [0, 3]


def test_segments_of_every_epoch():
    d = toy(n=10)
    config = recipe.Config(segment=40, segments_per_recording=3, batch_size=7)
    of_epoch = recipe.batches(config, d, d.train)
    ids = np.concatenate(of_epoch(0))
    owners, starts = ids // recipe.STRIDE, ids % recipe.STRIDE
    assert sorted(owners.tolist()) == sorted(np.repeat(d.train, 3).tolist())
    assert (starts <= np.maximum(d.lengths[owners] - 41, 0)).all()
    np.testing.assert_array_equal(np.concatenate(of_epoch(0)), ids)
    assert not np.array_equal(np.concatenate(of_epoch(1)), ids)


# --------------------------------------------------------------------------- model, loss, numbers


def test_build_is_deterministic_and_leaves_global_state_alone():
    state = torch.get_rng_state()
    a, b = recipe.build(recipe.CONFIGS["quick"]), recipe.build(recipe.CONFIGS["quick"])
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.receptive_field == 2048 and a.classes == 256
    assert recipe.build(recipe.Config(speakers=True)).embed_speakers.num_embeddings == 6
    with pytest.raises(ValueError, match="peak"):
        recipe.build(recipe.Config(peak=1.5))


def test_loss_is_the_next_sample_cross_entropy():
    model = recipe.build(dataclasses.replace(TINY, speakers=True)).double()
    q = torch.randint(0, 256, (3, 40), generator=torch.Generator().manual_seed(0))
    speakers = torch.tensor([0, 5, 2])
    logits = model(q, g=speakers)
    log_p = torch.log_softmax(logits, dim=1)
    by_hand = -torch.stack([log_p[b, q[b, t + 1], t] for b in range(3) for t in range(39)]).mean()
    torch.testing.assert_close(recipe.loss(model, (q, speakers)), by_hand, rtol=1e-12, atol=1e-12)


def test_nll_bits_and_the_baselines():
    d = toy()
    model = recipe.build(TINY).double()
    expected_total, count = 0.0, 0
    for u in d.test:
        q = torch.as_tensor(d.classes[u])[None]
        log_p = torch.log_softmax(model(q), dim=1)[0]
        expected_total -= sum(log_p[q[0, t + 1], t].item() for t in range(q.shape[1] - 1))
        count += q.shape[1] - 1
    assert math.isclose(recipe.nll_bits(model, d, d.test), expected_total / count / math.log(2), rel_tol=1e-10)
    with torch.no_grad():  # constant logits: every class 1/256, 8 bits
        model.last_conv_layers[3].weight.zero_()
        model.last_conv_layers[3].bias.fill_(0.3)
    assert math.isclose(recipe.nll_bits(model, d, d.test), 8.0, rel_tol=1e-12)
    counts = np.ones(256)
    for u in d.train:
        np.add.at(counts, d.classes[u], 1)
    targets = np.concatenate([d.classes[u][1:] for u in d.test])
    expected = -np.mean(np.log2(counts[targets] / counts.sum()))
    assert math.isclose(recipe.marginal_bits(d, d.train, d.test), expected, rel_tol=1e-12)


def test_training_lowers_the_loss_and_evaluate_reports():
    d = toy(n=12, length=300)
    config = dataclasses.replace(TINY, speakers=True, epochs=6, lr=1e-2)
    model, history = recipe.train(config, d, device="cpu", progress=False)
    assert history.loss[-1] < history.loss[0]
    out = recipe.evaluate(model, config, d, device="cpu")
    assert set(out) == {"test bits per sample", "marginal bits per sample", "uniform bits per sample",
                        "receptive field", "parameters", "test recordings", "wrong-speaker bits per sample"}
    assert out["uniform bits per sample"] == 8.0 and out["test recordings"] == 2
    assert all(np.isfinite(v) for v in out.values())


def test_generate_audio_decodes_the_drawn_classes():
    model = recipe.build(dataclasses.replace(TINY, speakers=True))
    audio = recipe.generate_audio(model, TINY, 30, speaker=2, generator=torch.Generator().manual_seed(0))
    q = generate(model, 30, g=torch.tensor([2]), generator=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(audio, sampling.mu_law_decode(q[0].numpy()).astype(np.float32))
    with pytest.raises(ValueError, match="give speaker"):
        recipe.generate_audio(model, TINY, 30)


def test_registered():
    assert recipes.get("wavenet_fsdd") is recipe
    assert recipes.RECIPES["wavenet_fsdd"][0] == 7


def test_ordinal_input_embedding():
    model = recipe.build(TINY)
    w = model.first_conv.weight[:, :, 0].detach()
    levels = torch.linspace(-1, 1, 256)
    direction = w[:, -1] / 3.0  # the column of level +1
    torch.testing.assert_close(w, 3.0 * direction[:, None] * levels[None, :])
    assert model.first_conv.bias.abs().max() == 0
    plain = recipe.build(dataclasses.replace(TINY, ordinal_input=False)).first_conv.weight[:, :, 0].detach()
    assert torch.linalg.matrix_rank(plain) > 1


def test_mixture_output_loss():
    model = recipe.build(dataclasses.replace(TINY, n_mixtures=2)).double()
    assert model.out_channels == 6
    q = torch.randint(0, 256, (2, 30), generator=torch.Generator().manual_seed(0))
    params = model(q[:, :-1])
    expected = wavenet.discretized_mixture_nll(params, q[:, 1:], 256).mean()
    torch.testing.assert_close(recipe.loss(model, (q, torch.tensor([0, 1]))), expected, rtol=1e-12, atol=1e-12)
    d = toy()
    assert np.isfinite(recipe.nll_bits(model, d, d.test))

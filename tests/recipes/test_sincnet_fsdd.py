"""lessons_lib.recipes.sincnet_fsdd: the text-independent split, the chunks, the model, loss and numbers of 06d.

On the real FSDD: every recording at least one chunk long (the short ones centred between zeros); training
digits 0-4 against test digits 5-9 (and the reverse), disjoint, every speaker on both sides; the test chunks
against a brute-force enumeration, ``collate`` against slicing by hand; each epoch's random chunks: exactly
``chunks_per_utterance`` per training recording, inside it, the same for the same epoch. ``build`` deterministic
in the seed and leaving the global random state alone; the two front ends differ by exactly N L - 2 N weights;
``loss`` equal to the cross-entropy by hand (float64, rtol 1e-12); the sinc layer's own learning rate and no
weight decay; a tiny ``train`` lowers the loss; ``error_rates`` against a loop, ``evaluate`` with a model whose
answer the test chooses; the GMM baseline on toy speakers of different spectra (and its parameter count).
"""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessons_lib import recipes
from lessons_lib.data import FSDD
from lessons_lib.models import sincnet
from lessons_lib.recipes import sincnet_fsdd as recipe
from tests.recipes.conftest import prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(sinc_filters=8, sinc_kernel=31, conv_channels=8, fc_units=16, n_fc=1, epochs=2,
                     chunks_per_utterance=1, batch_size=16)


@pytest.fixture(scope="module")
def utterances(real_fsdd):
    with prepared(recipe, real_fsdd) as d:
        yield d


def toy_fsdd(waves, speakers, digits):
    n = len(waves)
    return FSDD(tuple(np.asarray(w, np.float32) for w in waves), 8000, np.asarray(digits), np.asarray(speakers),
                np.zeros(n, np.int64), (None,) * n)


# --------------------------------------------------------------------------- data and split


def test_every_recording_is_trimmed_and_at_least_one_chunk_long(utterances, real_fsdd):
    assert utterances.chunk == 1600 and len(utterances) == 3000
    assert [recipe.SPEAKERS[s] for s in utterances.speakers] == list(real_fsdd.speakers)
    trimmed = [recipe.trim(y, 30.0)[0] for y in real_fsdd.waveforms]
    lengths = np.array([len(y) for y in trimmed])
    assert np.array_equal(utterances.lengths, np.maximum(lengths, 1600))
    short = np.flatnonzero(lengths < 1600)
    for i in list(short[:3]) + [0, 1777, int(np.argmax(lengths))]:
        y, w = trimmed[i], utterances.waves[i]
        s = (len(w) - len(y)) // 2
        assert np.array_equal(w[s : s + len(y)], y) and not w[:s].any() and not w[s + len(y) :].any()


@pytest.mark.parametrize("top_db", [20.0, 30.0, 45.0])
def test_trim_equals_librosa(real_fsdd, top_db):
    for i in range(0, 3000, 37):
        y = real_fsdd.waveforms[i]
        ours, start = recipe.trim(y, top_db)
        theirs, (begin, end) = librosa.effects.trim(y, top_db=top_db, frame_length=256, hop_length=64)
        assert (start, start + len(ours)) == (begin, end) and np.array_equal(ours, theirs)
    silent = np.zeros(500, np.float32)
    assert len(recipe.trim(silent, 30.0)[0]) == len(librosa.effects.trim(silent, top_db=30.0, frame_length=256,
                                                                          hop_length=64)[0])


@pytest.mark.parametrize("train_digits, train_set", [("0-4", {0, 1, 2, 3, 4}), ("5-9", {5, 6, 7, 8, 9})])
def test_the_split_is_text_independent(utterances, train_digits, train_set):
    train, test = recipe.split(recipe.Config(train_digits=train_digits), utterances)
    assert len(train) == len(test) == 1500 and not set(train) & set(test)
    assert set(utterances.digits[train]) == train_set and set(utterances.digits[test]) == set(range(10)) - train_set
    assert set(utterances.speakers[train]) == set(utterances.speakers[test]) == set(range(6))


def test_test_chunks_are_every_hop_inside_each_recording(utterances):
    items = np.array([5, 2999, int(np.argmax(utterances.lengths)), int(np.argmin(utterances.lengths))])
    ids, owner = recipe.chunk_ids(utterances, items, 800)
    expected = [(p, u, s) for p, u in enumerate(items) for s in range(0, utterances.lengths[u] - 1600 + 1, 800)]
    assert [(int(o), int(i // recipe.STRIDE), int(i % recipe.STRIDE)) for o, i in zip(owner, ids)] == expected
    x, y = recipe.collate(utterances, ids)
    assert x.shape == (len(ids), 1600) and x.dtype == torch.float32
    for row, (_, u, s) in enumerate(expected):
        assert np.array_equal(x[row].numpy(), utterances.waves[u][s : s + 1600])
        assert y[row] == utterances.speakers[u]


def test_each_epoch_draws_its_chunks_inside_every_training_recording(utterances):
    config = recipe.Config(chunks_per_utterance=3, batch_size=100)
    train = recipe.split(config, utterances)[0]
    of_epoch = recipe.batches(config, utterances, train)
    ids = np.concatenate(of_epoch(0))
    assert len(of_epoch(0)) == 45 and all(len(b) == 100 for b in of_epoch(0))
    owners, starts = ids // recipe.STRIDE, ids % recipe.STRIDE
    assert np.array_equal(np.bincount(owners, minlength=3000)[train], np.full(1500, 3))
    assert np.all(starts + 1600 <= utterances.lengths[owners])
    assert np.array_equal(ids, np.concatenate(of_epoch(0)))
    assert not np.array_equal(np.sort(ids), np.sort(np.concatenate(of_epoch(1))))


# --------------------------------------------------------------------------- model, loss, optimiser


def test_build_is_deterministic_and_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    a, b = recipe.build(TINY), recipe.build(TINY)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    assert not torch.equal(recipe.build(dataclasses.replace(TINY, seed=1)).fc[0].weight, a.fc[0].weight)


def test_the_two_front_ends_differ_only_in_the_first_layer():
    config = recipe.Config()
    sinc, conv = recipe.build(config), recipe.build(dataclasses.replace(config, frontend="conv"))
    assert isinstance(sinc.sinc, sincnet.SincConv1d) and isinstance(conv.sinc, torch.nn.Conv1d)
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    N, L = config.sinc_filters, config.sinc_kernel
    assert n(conv) - n(sinc) == N * L - 2 * N
    assert n(sinc.features[1:]) == n(conv.features[1:]) and n(sinc.fc) == n(conv.fc)


def test_loss_is_the_cross_entropy_by_hand():
    net = recipe.build(TINY).double().eval()
    x = torch.randn(5, 1600, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.tensor([0, 5, 2, 2, 3])
    z = net(x)
    by_hand = -(z[torch.arange(5), y] - torch.logsumexp(z, dim=1)).mean()
    torch.testing.assert_close(recipe.loss(net, (x, y)), by_hand, rtol=1e-12, atol=0)


def test_the_sinc_layer_has_its_own_learning_rate_and_no_weight_decay():
    config = dataclasses.replace(TINY, lr=1e-3, sinc_lr_scale=100.0, weight_decay=0.1)
    net = recipe.build(config)
    groups = recipe._optimizer(net, config).param_groups
    assert [len(g["params"]) for g in groups] == [len(list(net.parameters())) - 2, 2]
    assert groups[1]["params"][0] is net.sinc.low_hz_ and groups[1]["lr"] == pytest.approx(0.1)
    assert groups[1]["weight_decay"] == 0.0 and groups[0]["weight_decay"] == 0.1
    conv = recipe.build(dataclasses.replace(config, frontend="conv"))
    assert len(recipe._optimizer(conv, config).param_groups) == 1


def test_a_tiny_training_run_lowers_the_loss(utterances):
    train = recipe.split(TINY, utterances)[0][::10]
    config = dataclasses.replace(TINY, epochs=3, lr=3e-3, sinc_lr_scale=1000.0)
    model, history = recipe.train(config, utterances, train, device="cpu", progress=False)
    assert history.epochs == 3 and history.loss[-1] < history.loss[0]
    moved = (model.sinc.cutoffs() - recipe.build(config).sinc.cutoffs()).abs().max().item()
    assert moved > 1.0  # Hz: the large learning rate moves the edges


# --------------------------------------------------------------------------- numbers


def test_error_rates_against_a_loop():
    rng = np.random.default_rng(0)
    owner = np.sort(np.concatenate([np.arange(20), rng.integers(0, 20, 40)]))
    p = rng.dirichlet(np.ones(6), len(owner))
    truth = rng.integers(0, 6, 20)
    out = recipe.error_rates(p, owner, truth)
    chunk = np.mean([np.argmax(p[c]) != truth[owner[c]] for c in range(len(owner))])
    utterance = np.mean([np.argmax(p[owner == u].mean(0)) != truth[u] for u in range(20)])
    assert out == {"chunk error rate": chunk, "utterance error rate": utterance, "test chunks": 60,
                   "test utterances": 20}
    with pytest.raises(ValueError, match="every utterance needs a chunk"):
        recipe.error_rates(p[:2], np.array([0, 0]), truth[:2])


class Always(torch.nn.Module):
    """Says ``speaker`` for every chunk; has a first layer for the parameter count."""

    def __init__(self, speaker):
        super().__init__()
        self.speaker = speaker
        self.sinc = torch.nn.Linear(2, 1)

    def forward(self, x):
        return F.one_hot(torch.full((len(x),), self.speaker), 6).float() * 5


def test_evaluate_reports_the_numbers_of_a_model_the_test_chooses(utterances):
    config = recipe.Config(eval_hop_ms=400.0)
    out = recipe.evaluate(Always(2), config, utterances, device="cpu")
    test = recipe.split(config, utterances)[1]
    ids, owner = recipe.chunk_ids(utterances, test, 3200)
    assert out["test utterances"] == 1500 and out["test chunks"] == len(ids)
    assert out["utterance error rate"] == pytest.approx(np.mean(utterances.speakers[test] != 2))
    assert out["chunk error rate"] == pytest.approx(np.mean(utterances.speakers[test][owner] != 2))
    assert out["utterance accuracy"] == pytest.approx(1 - out["utterance error rate"])
    assert out["parameters"] == out["first-layer parameters"] == 3


def test_the_gmm_baseline_tells_speakers_of_different_spectra_apart():
    rng = np.random.default_rng(0)
    waves, speakers, digits = [], [], []
    for s, name in enumerate(recipe.SPEAKERS):
        for digit in range(10):
            noise = rng.standard_normal(2400)
            waves.append(np.convolve(noise, np.ones(s + 1) / (s + 1), mode="same") * 0.1)  # a low-pass per speaker
            speakers.append(name)
            digits.append(digit)
    d = recipe.utterances_of(toy_fsdd(waves, speakers, digits), 1600)
    out = recipe.gmm_baseline(recipe.Config(eval_hop_ms=100.0), d, n_components=2, max_iter=20)
    assert out["utterance error rate"] == 0.0 and out["chunk error rate"] < 0.05
    assert out["test utterances"] == 30 and out["test chunks"] == 30 * 2  # starts 0 and 800 of 2400 samples
    assert out["parameters"] == 6 * 2 * (1 + 2 * 39)


# --------------------------------------------------------------------------- registration and bad input


def test_the_recipe_is_registered_and_its_configurations_build():
    assert recipes.get("sincnet_fsdd") is recipe
    for mode in ("quick", "full"):
        config = recipes.config_for("sincnet_fsdd", mode)
        with torch.device("meta"):
            recipe.build(config)
    assert recipes.config_for("sincnet_fsdd", "quick", ["frontend=conv", "train_digits=5-9"]).frontend == "conv"


def test_bad_settings_are_refused(utterances):
    for change, message in [({"frontend": "mel"}, "frontend must be 'sinc' or 'conv'"),
                            ({"train_digits": "0-9"}, "train_digits must be '0-4' or '5-9'"),
                            ({"lr": 0.0}, "lr must be > 0"), ({"epochs": 0}, "epochs must be at least 1"),
                            ({"sinc_kernel": 100}, "kernel_size must be odd")]:
        with pytest.raises(ValueError, match=message):
            recipe.build(dataclasses.replace(TINY, **change))
    with pytest.raises(ValueError, match="train_digits"):
        recipe.split(recipe.Config(train_digits="low"), utterances)
    with pytest.raises(ValueError, match="speakers not in SPEAKERS"):
        recipe.utterances_of(toy_fsdd([np.ones(10)], ["alice"], [0]), 4)

"""lessons_lib.recipes.wav2vec2_digits: data, frame labels, masks, loss, training, probe and fine-tuning.

On the real FSDD (Chapter 5's connected digits): waveforms standardised; the frame counts those of the
model's encoder; every frame label the digit of the recording that covers the frame's centre (checked against
the boundaries sample by sample) or GAP. The encoder gives 20-ms frames at 8 kHz. Masks and negatives of an
utterance do not depend on the batch it is in, never touch padding, and change with the epoch. ``loss`` is the
model's loss divided by the masked frames. A tiny ``train`` runs, records validation numbers per epoch and
anneals the Gumbel temperature; ``probe_layers`` equals a least-squares classifier written out with NumPy;
``finetune`` runs Chapter 5's CTC loss and returns a DER in [0, 1+].
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lessons_lib import data
from lessons_lib.recipes import wav2vec2_digits as recipe
from tests.recipes.conftest import prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(n_train=12, n_valid=4, n_test=4, conv_dim=8, hidden=16, heads=2, ff=16, layers=1,
                     pos_groups=2, entries=4, codevector_dim=8, proj_dim=8, negatives=3, epochs=2, batch_size=4,
                     n_probe=6, finetune_epochs=1)


@pytest.fixture(scope="module")
def parts(real_fsdd):
    with prepared(recipe, real_fsdd, TINY) as d:
        yield d


def test_the_encoder_makes_20_ms_frames_at_8_khz():
    config = recipe.model_config(recipe.CONFIGS["quick"])
    assert 1000 * config.hop / 8000 == 20 and config.receptive_field == 240
    full = recipe.model_config(recipe.CONFIGS["full"])
    assert (full.hop, full.receptive_field) == (160, 240)


def test_parts_are_standardised_with_frames_of_the_encoder(parts):
    model = recipe.build(TINY)
    for name, part in parts.items():
        assert len(part) == getattr(TINY, f"n_{name}")
        for wave, n, frames in zip(part.waves, part.lengths, part.frames):
            assert wave.dtype == torch.float32 and len(wave) == n
            # unit variance up to the 1e-7 added to the variance (transformers' epsilon): quiet utterances fall short
            assert abs(float(wave.mean())) < 1e-4 and abs(float(wave.std(unbiased=False)) - 1) < 1e-2
            assert frames == model.wav2vec2.frame_lengths(torch.tensor(int(n))).item()


def test_frame_labels_are_the_digit_under_each_frames_centre(real_fsdd):
    corpus = data.connected_digits(real_fsdd, np.arange(300), 3, rng=np.random.default_rng(0))
    part = recipe.make_part(corpus, TINY)
    config = recipe.model_config(TINY)
    for u in range(len(part)):
        owner = np.full(len(corpus.waveforms[u]), recipe.GAP)  # the digit of every sample
        for (start, end), digit in zip(corpus.boundaries[u], corpus.labels[u]):
            owner[start:end] = digit
        centres = (np.arange(part.frames[u]) * config.hop + (config.receptive_field - 1) / 2).astype(int)
        np.testing.assert_array_equal(part.frame_labels[u], owner[centres])  # centres are x.5: floor is inside
        assert set(part.frame_labels[u]) >= set(corpus.labels[u].tolist())


def test_masks_belong_to_the_utterance_not_the_batch(parts):
    p = parts["train"]
    x, lengths, mask, negatives = recipe.collate(p, np.array([3, 7, 1]), config=TINY, epoch=2)
    alone = recipe.collate(p, np.array([7]), config=TINY, epoch=2)
    frames = p.frames[[3, 7, 1]]
    assert torch.equal(mask[1, : frames[1]], alone[2][0, : frames[1]])
    T = mask.shape[1]
    for b in range(3):
        assert not mask[b, frames[b]:].any() and mask[b].sum() >= 2
        rows = negatives[b][mask[b]]
        assert ((rows // T) == b).all() and mask.reshape(-1)[rows].all()
    later = recipe.collate(p, np.array([3, 7, 1]), config=TINY, epoch=3)
    assert not torch.equal(mask, later[2])
    assert torch.equal(x[0, : lengths[0]], p.waves[3])


def test_loss_is_the_models_loss_per_masked_frame(parts):
    model = recipe.build(TINY).eval()
    batch = recipe.collate(parts["train"], np.array([0, 1]), config=TINY)
    x, lengths, mask, negatives = batch
    with torch.no_grad():
        out = model(x, mask, negatives, lengths=lengths)
        assert torch.allclose(recipe.loss(model, batch), out.loss / mask.sum())


def test_build_is_deterministic_and_leaves_the_global_state_alone():
    state = torch.get_rng_state()
    a, b = recipe.build(TINY), recipe.build(TINY)
    assert torch.equal(torch.get_rng_state(), state)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_gumbel_temperature_is_annealed_geometrically():
    config = dataclasses.replace(TINY, epochs=5)
    temperatures = [recipe.gumbel_temperature(config, e) for e in range(5)]
    assert temperatures[0] == config.gumbel_start and abs(temperatures[-1] - config.gumbel_end) < 1e-12
    ratios = np.array(temperatures[1:]) / np.array(temperatures[:-1])
    np.testing.assert_allclose(ratios, ratios[0])


def test_train_records_validation_and_anneals(parts):
    model, history = recipe.train(TINY, parts, device="cpu", progress=False)
    assert history.epochs == 2 and len(history.valid["perplexity"]) == 2
    assert model.quantizer.temperature == recipe.gumbel_temperature(TINY, 1)
    for value in history.valid["perplexity"]:
        assert TINY.codebooks <= value <= TINY.codebooks * TINY.entries
    assert 0 <= history.valid["accuracy"][-1] <= 1


def test_probe_is_least_squares_on_one_hot_targets(parts):
    model = recipe.build(TINY)
    scores = recipe.probe_layers(model, TINY, parts, [0, 1])
    train_items = np.arange(TINY.n_probe)
    X = np.concatenate(recipe.features(model, parts["train"], [1], train_items), axis=1)[0].astype(np.float64)
    y = np.concatenate([parts["train"].frame_labels[i] for i in train_items])
    Xt = np.concatenate(recipe.features(model, parts["test"], [1]), axis=1)[0].astype(np.float64)
    mean, std = X.mean(0), X.std(0) + 1e-6
    A, At = (X - mean) / std, (Xt - mean) / std
    classes = np.unique(y)
    targets = np.where(y[:, None] == classes[None], 1.0, -1.0)  # RidgeClassifier's {-1, 1} coding
    A1 = np.hstack([A - A.mean(0), np.ones((len(A), 1))])
    penalty = np.eye(A1.shape[1])
    penalty[-1, -1] = 0.0  # the intercept is not penalised
    W = np.linalg.solve(A1.T @ A1 + penalty, A1.T @ targets)
    predicted = classes[(np.hstack([At - A.mean(0), np.ones((len(At), 1))]) @ W).argmax(1)]
    expected = np.mean(predicted == np.concatenate(parts["test"].frame_labels))
    assert abs(scores[1] - expected) < 1e-9
    assert recipe.probe(model, TINY, parts, layer=1) == scores[1]


def test_finetune_and_evaluate_run(parts):
    model = recipe.build(TINY)
    result = recipe.finetune(model.wav2vec2, TINY, parts, 4, device="cpu")
    assert 0 <= result["DER"] and np.isfinite(result["final loss"])
    assert not any(p.grad is not None for p in model.parameters())  # the original is untouched (copied)
    results = recipe.evaluate(model, dataclasses.replace(TINY, labelled=(4,)), parts, device="cpu")
    assert set(results) == {"probe accuracy (pre-trained)", "probe accuracy (random init)", "valid perplexity",
                            "valid accuracy", "DER pre-trained n=4", "DER random init n=4"}

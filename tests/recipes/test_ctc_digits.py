"""lessons_lib.recipes.ctc_digits: the corpus, batches, model, loss and numbers that notebook 05b relies on.

On the real FSDD: the three parts join recordings of disjoint takes (train 10-49, valid 5-9, test 0-4), so
no recording is in two parts; every transcript is the digits of the recordings joined; the features are
Chapter 1's MFCCs stacked by ``stack_frames`` (itself checked against a loop), and the targets the classes
of the transcript. ``collate`` against the padded batch built by hand; ``to_classes``/``to_digits``
inverse; ``build`` deterministic in the seed and leaving the global random state alone; ``loss`` equal to
PyTorch's ``F.ctc_loss`` (reduction "mean": each loss over its target length, then the batch mean) in
float64, values at rtol 1e-10 and parameter gradients at rtol 1e-8; a tiny ``train`` lowers the loss and
records validation per epoch; ``validate`` and ``evaluate`` give exactly the numbers of a model whose
best paths the test chooses (the DER counted by hand).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessons_lib import features
from lessons_lib.recipes import ctc_digits as recipe
from tests.recipes.conftest import prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CONFIG = recipe.Config(n_train=24, n_valid=8, n_test=8)


@pytest.fixture(scope="module")
def parts(real_fsdd):
    """The recipe's corpus built from the real FSDD (and not left in the recipe's cache)."""
    with prepared(recipe, real_fsdd, CONFIG) as d:
        yield d


def test_no_recording_is_in_two_parts_and_each_part_has_its_takes(parts, real_fsdd):
    takes = {"train": range(10, 50), "valid": range(5, 10), "test": range(0, 5)}
    sources = {}
    for name, part in parts.items():
        assert len(part) == getattr(CONFIG, f"n_{name}")
        sources[name] = set(np.concatenate(part.corpus.sources).tolist())
        assert set(real_fsdd.takes[list(sources[name])]) <= set(takes[name]), name
    assert not sources["train"] & sources["valid"]
    assert not sources["train"] & sources["test"]
    assert not sources["valid"] & sources["test"]


def test_transcripts_targets_and_features_follow_the_recordings(parts, real_fsdd):
    for name, part in parts.items():
        c = part.corpus
        for u in range(len(part)):
            assert np.array_equal(c.labels[u], real_fsdd.digits[c.sources[u]]), (name, u)
            assert set(real_fsdd.speakers[c.sources[u]]) == {c.speakers[u]}  # one speaker per utterance
            assert part.targets[u].dtype == torch.int64 and part.targets[u].tolist() == (c.labels[u] + 1).tolist()
            mfcc = features.mfcc_features(c.waveforms[u], c.sample_rate)
            assert part.n_frames[u] == len(mfcc) and part.lengths[u] == len(mfcc) // CONFIG.stack
            assert np.array_equal(part.x[u].numpy(), recipe.stack_frames(mfcc, CONFIG.stack))
        assert part.references() == [lab.tolist() for lab in c.labels]


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
@pytest.mark.parametrize("T", [0, 1, 3, 4, 9])
def test_stack_frames_equals_a_loop(T, factor):
    frames = np.random.default_rng(T).standard_normal((T, 5))
    expected = np.array([np.concatenate([frames[t * factor + j] for j in range(factor)])
                         for t in range(T // factor)]).reshape(T // factor, 5 * factor)
    ours = recipe.stack_frames(frames, factor)
    assert ours.shape == expected.shape and np.array_equal(ours, expected)


def test_to_classes_and_to_digits_are_inverse():
    rng = np.random.default_rng(0)
    for n in (0, 1, 5, 20):
        digits = rng.integers(0, 10, n).tolist()
        classes = recipe.to_classes(digits)
        assert classes.dtype == np.int64 and classes.tolist() == [d + 1 for d in digits]
        assert recipe.to_digits(classes) == digits
    assert recipe.to_classes(range(10)).tolist() == list(range(1, recipe.N_CLASSES)) and recipe.BLANK == 0


def test_collate_pads_inputs_and_targets(parts):
    p = parts["train"]
    indices = np.array([3, 0, 17, 9])
    x, lengths, targets, target_lengths = recipe.collate(p, indices)
    T = p.lengths[indices]
    S = [len(p.targets[u]) for u in indices]
    assert x.shape == (T.max(), 4, 39 * CONFIG.stack) and targets.shape == (4, max(S))
    for b, u in enumerate(indices):
        assert torch.equal(x[: T[b], b], p.x[u]) and not x[T[b] :, b].any()
        assert torch.equal(targets[b, : S[b]], p.targets[u]) and not targets[b, S[b] :].any()
    assert lengths.tolist() == T.tolist() and target_lengths.tolist() == S
    assert lengths.dtype == target_lengths.dtype == targets.dtype == torch.int64


def test_build_is_deterministic_in_the_seed_and_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    a = recipe.build(recipe.Config(hidden=8))
    torch.manual_seed(123)
    b = recipe.build(recipe.Config(hidden=8))
    torch.set_rng_state(state)
    other = recipe.build(recipe.Config(hidden=8, seed=1))
    assert torch.equal(torch.get_rng_state(), state)
    for (name, p), q, r in zip(a.state_dict().items(), b.state_dict().values(), other.state_dict().values()):
        assert torch.equal(p, q) and not torch.equal(p, r), name
    assert a.out.weight.shape == (recipe.N_CLASSES, 16) and a.lstm.input_size == 39 * 4
    deep = recipe.build(recipe.Config(hidden=8, n_layers=2, dropout=0.2, stack=2))
    assert deep.lstm.num_layers == 2 and deep.lstm.dropout == 0.2 and deep.lstm.input_size == 78


def test_loss_equals_pytorchs_ctc_loss_values_and_gradients(parts):
    p = parts["train"]
    model = recipe.build(recipe.Config(hidden=8)).double()
    x, lengths, targets, target_lengths = recipe.collate(p, np.array([1, 5, 2, 11, 7]))
    x = x.double()
    ours = recipe.loss(model, (x, lengths, targets, target_lengths))
    ours_grad = torch.autograd.grad(ours, list(model.parameters()))
    reference = F.ctc_loss(model(x, lengths), targets, lengths, target_lengths, blank=0, reduction="mean")
    reference_grad = torch.autograd.grad(reference, list(model.parameters()))
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=0)
    for g, h in zip(ours_grad, reference_grad):
        torch.testing.assert_close(g, h, rtol=1e-8, atol=1e-12)


def test_train_with_a_tiny_config_lowers_the_loss_and_records_validation(parts):
    config = recipe.Config(n_train=24, n_valid=8, n_test=8, hidden=16, epochs=4, batch_size=8, lr=1e-2)
    batch = recipe.collate(parts["train"], np.arange(24))
    with torch.no_grad():
        before = float(recipe.loss(recipe.build(config), batch))
    model, history = recipe.train(config, parts, device="cpu", progress=False)
    with torch.no_grad():
        after = float(recipe.loss(model, batch))
    assert history.epochs == 4 and history.steps == 4 * 3
    assert after < before - 1.0 and history.loss[-1] < history.loss[0]
    assert sorted(history.valid) == ["DER", "blank share"] and len(history.valid["DER"]) == 4
    assert history.valid["DER"][-1] == recipe.validate(model, parts["valid"])["DER"]


def test_batches_depend_only_on_the_epoch_and_cover_every_utterance(parts):
    p = parts["train"]
    config = recipe.Config(batch_size=5)
    of_epoch, again = recipe.batches(config, p), recipe.batches(config, p)
    for epoch in (0, 1, 7):
        assert [b.tolist() for b in of_epoch(epoch)] == [b.tolist() for b in again(epoch)]
        assert sorted(np.concatenate(of_epoch(epoch)).tolist()) == list(range(len(p)))
    assert [b.tolist() for b in of_epoch(0)] != [b.tolist() for b in of_epoch(1)]


class ChosenPaths(torch.nn.Module):
    """Reads each utterance's index from its inputs (every value of utterance u is u) and outputs
    log-probabilities whose best path is ``paths[u]`` (blank after the end of the path)."""

    def __init__(self, paths):
        super().__init__()
        self.paths = paths

    def forward(self, x, lengths):
        T, N = x.shape[:2]
        best = torch.zeros(T, N, dtype=torch.int64)
        for b in range(N):
            path = self.paths[int(x[0, b, 0])]
            best[: len(path), b] = torch.tensor(path)
        return (8.0 * F.one_hot(best, recipe.N_CLASSES).to(x.dtype)).log_softmax(-1)


def test_validate_and_evaluate_give_the_numbers_of_chosen_best_paths():
    references = [[1, 2, 3], [4, 5], [6], [7, 8, 9, 0]]
    hypotheses = [[1, 2, 3], [4], [6, 6], [7, 1, 9, 0]]  # 0 edits, 1 deletion, 1 insertion, 1 substitution
    lengths = np.array([9, 4, 7, 12])
    paths = []
    for h, T in zip(hypotheses, lengths):  # blank, then each class followed by a blank, then blanks
        path = [recipe.BLANK] + [c for k in recipe.to_classes(h) for c in (int(k), recipe.BLANK)]
        paths.append(path + [recipe.BLANK] * (T - len(path)))
    x = [torch.full((T, 3), float(u)) for u, T in enumerate(lengths)]
    corpus = SimpleNamespace(labels=[np.array(r) for r in references])
    part = recipe.Part(corpus, x, 4 * lengths, lengths, [torch.from_numpy(recipe.to_classes(r)) for r in references])
    model = ChosenPaths(paths)
    log_probs = recipe.log_posteriors(model, part)
    assert [lp.shape for lp in log_probs] == [(T, recipe.N_CLASSES) for T in lengths]
    assert recipe.greedy_digits(log_probs) == hypotheses
    blank_share = (lengths.sum() - sum(len(h) for h in hypotheses)) / lengths.sum()
    assert recipe.validate(model, part) == {"DER": pytest.approx(3 / 10, rel=1e-15),
                                            "blank share": pytest.approx(blank_share, rel=1e-15)}
    results = recipe.evaluate(model, recipe.Config(), {"test": part})
    assert results == {"test DER": pytest.approx(0.3, rel=1e-15), "test utterances": 4, "test digits": 10}

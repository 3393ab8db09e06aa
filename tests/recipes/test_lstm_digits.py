"""lessons_lib.recipes.lstm_digits: the data, batches, model, loss and numbers that notebook 04c relies on.

On the real FSDD: the official split (2,700 / 300, takes 0-4 test), the validation split (takes 5-9)
disjoint from the fitted part (takes 10-49), and every recording's frames equal to Chapter 1's MFCCs.
``collate`` against the padded batch built by hand; ``build`` is deterministic in the seed and leaves the
global random state alone; ``loss`` equals the cross-entropy computed item by item in float64 (rtol
1e-12); a tiny ``train`` lowers the loss and records the validation accuracy of each epoch; ``evaluate``
and ``logits`` give exactly the numbers of a model whose predictions the test chooses.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_lib import features
from lessons_lib.recipes import lstm_digits as recipe
from tests.recipes.conftest import prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def digits(real_fsdd):
    """The recipe's data prepared from the real FSDD (and not left in the recipe's cache)."""
    with prepared(recipe, real_fsdd) as d:
        yield d


def test_prepare_gives_the_official_split_and_a_validation_split_of_takes_5_to_9(digits, real_fsdd):
    takes = real_fsdd.takes
    assert (len(digits.train), len(digits.test), len(digits.valid), len(digits.fit)) == (2700, 300, 300, 2400)
    assert np.array_equal(digits.test, np.flatnonzero(takes < 5))
    assert np.array_equal(digits.train, np.flatnonzero(takes >= 5))
    assert np.array_equal(digits.valid, np.flatnonzero((takes >= 5) & (takes < 10)))
    assert np.array_equal(digits.fit, np.flatnonzero(takes >= 10))
    assert not set(digits.fit) & set(digits.valid)
    assert np.array_equal(np.union1d(digits.fit, digits.valid), digits.train)
    for part in (digits.fit, digits.valid, digits.test):  # every voice and digit on every side
        assert set(real_fsdd.speakers[part]) == set(real_fsdd.speakers)
        assert set(real_fsdd.digits[part]) == set(range(10))
    assert np.array_equal(digits.digits, real_fsdd.digits) and digits.fsdd is real_fsdd


def test_the_frames_are_chapter_1s_mfccs(digits, real_fsdd):
    assert len(digits.frames) == len(real_fsdd) == len(digits.lengths)
    assert np.array_equal(digits.lengths, [len(f) for f in digits.frames])
    for i in (0, 1234, 2999):
        expected = features.mfcc_features(real_fsdd.waveforms[i], real_fsdd.sample_rate)
        assert expected.shape[1] == 39
        assert np.array_equal(digits.frames[i].numpy(), expected)


def test_collate_pads_the_frames_and_keeps_lengths_and_digits(digits):
    indices = np.array([5, 2999, 17, 1000])
    x, n, y = recipe.collate(digits, indices)
    lengths = digits.lengths[indices]
    assert x.shape == (lengths.max(), 4, 39) and x.dtype == digits.frames[0].dtype
    for b, i in enumerate(indices):
        assert torch.equal(x[: lengths[b], b], digits.frames[i])
        assert not x[lengths[b] :, b].any()
    assert n.dtype == torch.int64 and n.tolist() == lengths.tolist()
    assert y.dtype == torch.int64 and y.tolist() == digits.digits[indices].tolist()


def test_build_is_deterministic_in_the_seed_and_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    a = recipe.build(recipe.Config(hidden=8))
    torch.manual_seed(123)  # the global state does not matter
    b = recipe.build(recipe.Config(hidden=8))
    torch.set_rng_state(state)
    other = recipe.build(recipe.Config(hidden=8, seed=1))
    assert torch.equal(torch.get_rng_state(), state)
    for (name, p), q, r in zip(a.state_dict().items(), b.state_dict().values(), other.state_dict().values()):
        assert torch.equal(p, q) and not torch.equal(p, r), name
    assert a.lstm.hidden_size == 8 and a.out.out_features == 10 and a.readout == "last"
    assert recipe.build(recipe.Config(hidden=8, readout="mean")).readout == "mean"


def test_loss_is_the_cross_entropy_of_each_item_alone(digits):
    model = recipe.build(recipe.Config(hidden=12)).double()
    indices = np.array([3, 700, 1500, 2200, 42])
    x, n, y = recipe.collate(digits, indices)
    ours = recipe.loss(model, (x.double(), n, y))
    with torch.no_grad():
        alone = torch.stack([model(x[: n[b], b : b + 1].double(), n[b : b + 1])[0]  # each item, no padding
                             for b in range(len(indices))])
    by_hand = (torch.logsumexp(alone, 1) - alone[torch.arange(len(indices)), y]).mean()
    torch.testing.assert_close(ours.detach(), by_hand, rtol=1e-12, atol=0)
    torch.testing.assert_close(ours.detach(), torch.nn.functional.cross_entropy(alone, y), rtol=1e-12, atol=0)
    assert ours.requires_grad


def test_train_with_a_tiny_config_lowers_the_loss_and_records_validation(digits):
    config = recipe.Config(hidden=16, epochs=3, batch_size=32, lr=1e-2)
    items, valid_items = digits.fit[::10], digits.valid[::10]

    def mean_loss(model):
        z = torch.from_numpy(recipe.logits(model, digits, items))
        return float(torch.nn.functional.cross_entropy(z, torch.from_numpy(digits.digits[items])))

    model, history = recipe.train(config, digits, items, valid_items=valid_items, device="cpu", progress=False)
    assert history.epochs == 3 and history.samples == 3 * len(items)
    assert history.loss[-1] < history.loss[0]
    assert mean_loss(model) < mean_loss(recipe.build(config)) - 0.2
    accuracy = np.mean(recipe.logits(model, digits, valid_items).argmax(1) == digits.digits[valid_items])
    assert len(history.valid["accuracy"]) == 3 and history.valid["accuracy"][-1] == accuracy


class ChosenPredictions(torch.nn.Module):
    """Reads each item's index from its frames (every value of item i is i) and predicts ``table[i]``."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table))

    def forward(self, x, lengths):
        chosen = self.table[x[0, :, 0].long()]
        return 10.0 * torch.nn.functional.one_hot(chosen, 10).to(x.dtype)


def synthetic_digits(n=40, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 7, n)
    frames = [torch.full((T, 39), float(i)) for i, T in enumerate(lengths)]
    order = rng.permutation(n)
    test, train = np.sort(order[:15]), np.sort(order[15:])
    return recipe.Digits(None, frames, lengths, rng.integers(0, 10, n), train, test, train[:5], train[5:])


def test_evaluate_and_logits_give_the_numbers_of_chosen_predictions():
    d = synthetic_digits()
    table = d.digits.copy()
    wrong = d.test[[0, 3, 4, 11]]
    table[wrong] = (table[wrong] + 1) % 10  # exactly 4 test errors
    model = ChosenPredictions(table)
    assert recipe.evaluate(model, recipe.Config(), d) == {"test accuracy": pytest.approx(11 / 15, rel=1e-15),
                                                         "test errors": 4, "test recordings": 15}
    items = np.array([33, 2, 17, 2, 8])  # not sorted by length: predict reorders and must put back
    assert np.array_equal(recipe.logits(model, d, items).argmax(1), table[items])
    assert recipe.evaluate(ChosenPredictions(d.digits), recipe.Config(), d)["test errors"] == 0

"""lessons_lib.recipes.pixelcnn_digits: the data and split, the loss, the baselines and the quick-mode target.

The images are scikit-learn's, as integers, unchanged; the split is fixed, disjoint and complete. ``collate``
against indexing by hand; ``build`` deterministic in the seed and leaving the global random state alone;
``loss`` equal to the cross-entropy by hand in bits (float64, 1e-12); each epoch's batches a permutation of
the training images. ``evaluate`` with models whose answer the test knows (the uniform distribution, the
independent-pixel model itself), and the independent-pixel baseline against counting by hand. A tiny run
lowers the loss; quick mode reaches the issue's target, test bits/dim at least 0.3 below the
independent-pixel baseline.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from lessons_lib import recipes
from lessons_lib.models import pixelcnn
from lessons_lib.recipes import pixelcnn_digits as recipe

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(channels=8, n_layers=2, epochs=2, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    return recipe.prepare()


# --------------------------------------------------------------------------- data and split


def test_the_images_are_sklearns_digits_as_integers(digits):
    bunch = load_digits()
    assert digits.images.dtype == torch.int64 and digits.images.shape == (1797, 8, 8)
    assert np.array_equal(digits.images.numpy(), bunch.images) and np.array_equal(digits.labels.numpy(), bunch.target)
    assert set(np.unique(bunch.images)) <= set(range(17))  # 17 grey levels, 0..16


def test_the_split_is_fixed_disjoint_and_complete(digits):
    assert len(digits.test) == round(0.2 * 1797) and len(digits.train) == 1797 - len(digits.test)
    assert not set(digits.train) & set(digits.test) and set(digits.train) | set(digits.test) == set(range(1797))
    held_out = np.random.default_rng(recipe.SPLIT_SEED).permutation(1797)[: len(digits.test)]
    assert np.array_equal(digits.test, np.sort(held_out))
    other = recipe.prepare(recipe.Config(test_fraction=0.5, seed=3))
    assert len(other.test) == round(0.5 * 1797) and recipe.prepare(recipe.Config(seed=5)) is digits
    assert set(digits.labels[digits.test].tolist()) == set(range(10))


def test_collate_indexes_the_images(digits):
    idx = np.array([1796, 0, 17])
    batch = recipe.collate(digits, idx)
    assert set(batch) == {"x"} and torch.equal(batch["x"], digits.images[idx])
    batch = recipe.collate(digits, idx, conditional=True)
    assert batch["y"].tolist() == digits.labels[idx].tolist()


def test_each_epoch_is_a_permutation_of_the_training_images(digits):
    of_epoch = recipe.batches(recipe.Config(batch_size=100), digits.train)
    first = of_epoch(0)
    assert [len(b) for b in first] == [100] * 14 + [38]
    assert np.array_equal(np.sort(np.concatenate(first)), digits.train)
    assert np.array_equal(np.concatenate(first), np.concatenate(of_epoch(0)))
    assert not np.array_equal(np.concatenate(first), np.concatenate(of_epoch(1)))


# --------------------------------------------------------------------------- model and loss


def test_build_is_deterministic_and_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    a, b = recipe.build(TINY), recipe.build(TINY)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert ka == kb and torch.equal(va, vb)
    other = recipe.build(dataclasses.replace(TINY, seed=1))
    assert not torch.equal(other.layers[0].vertical.weight, a.layers[0].vertical.weight)
    assert isinstance(recipe.build(dataclasses.replace(TINY, arch="plain")), pixelcnn.PixelCNN)
    assert recipe.build(dataclasses.replace(TINY, conditional=True)).n_classes == 10


def test_loss_is_the_cross_entropy_in_bits_by_hand(digits):
    for conditional in (False, True):
        net = recipe.build(dataclasses.replace(TINY, conditional=conditional)).double()
        batch = recipe.collate(digits, [3, 99, 1000], conditional=conditional)
        z = net(batch["x"], batch.get("y"))
        log_p = torch.log_softmax(z, dim=1).gather(1, batch["x"][:, None]).squeeze(1)
        by_hand = -log_p.mean() / math.log(2)
        torch.testing.assert_close(recipe.loss(net, batch), by_hand, rtol=1e-12, atol=0)


def test_a_tiny_training_run_lowers_the_loss(digits):
    config = dataclasses.replace(TINY, epochs=4, batch_size=32, lr=1e-2)
    model, history = recipe.train(config, digits, digits.train[:256], device="cpu", progress=False)
    assert history.epochs == 4 and history.steps == 32 and history.loss[-1] < history.loss[0] - 0.5


# --------------------------------------------------------------------------- numbers


class Constant(torch.nn.Module):
    """Gives every image the same logits ``q`` (levels, 8, 8), whatever its pixels."""

    def __init__(self, q):
        super().__init__()
        self.q = torch.nn.Parameter(q.double())

    def forward(self, x, y=None):
        return self.q.expand(len(x), -1, -1, -1)


def test_the_independent_pixel_baseline_against_counting_by_hand(digits):
    x_train, x_test = digits.images[digits.train].numpy(), digits.images[digits.test].numpy()
    bits = 0.0
    for i in range(8):
        for j in range(8):
            counts = np.bincount(x_train[:, i, j], minlength=17)
            p = (counts + 1) / (len(x_train) + 17)
            bits -= np.log2(p[x_test[:, i, j]]).sum()
    out = recipe.evaluate(Constant(torch.zeros(1, 17, 8, 8)), recipe.Config(), digits, device="cpu")
    assert out["independent bits/dim"] == pytest.approx(bits / (64 * len(x_test)), rel=1e-12)
    assert out["test bits/dim"] == pytest.approx(math.log2(17), rel=1e-12) == out["uniform bits/dim"]
    assert out["test images"] == len(digits.test) and out["parameters"] == 17 * 64


def test_evaluate_scores_the_independent_model_as_the_baseline(digits):
    q = pixelcnn.independent_pixel_logits(digits.images[digits.train], 17)[0]
    out = recipe.evaluate(Constant(q), recipe.Config(), digits, device="cpu")
    assert out["test bits/dim"] == pytest.approx(out["independent bits/dim"], rel=1e-12)
    assert out["gain over independent"] == pytest.approx(0.0, abs=1e-12)
    bits = recipe.image_bits(Constant(q), digits, digits.test[:5])
    assert bits.shape == (5,) and np.all(bits > 0)


def test_quick_mode_beats_the_independent_pixel_baseline_by_the_target(digits):
    config = recipes.config_for("pixelcnn_digits", "quick")
    model, history = recipe.train(config, digits, device="cpu", progress=False)
    out = recipe.evaluate(model, config, digits, device="cpu")
    assert out["test bits/dim"] <= out["independent bits/dim"] - recipe.TARGET_GAIN
    assert out["independent bits/dim"] < out["uniform bits/dim"]


# --------------------------------------------------------------------------- registration and bad input


def test_the_recipe_is_registered_and_its_configurations_build():
    assert recipes.get("pixelcnn_digits") is recipe and recipes.RECIPES["pixelcnn_digits"][0] == 7
    for mode in ("quick", "full"):
        with torch.device("meta"):
            recipe.build(recipes.config_for("pixelcnn_digits", mode))
    config = recipes.config_for("pixelcnn_digits", "quick", ["arch=plain", "n_layers=3"])
    assert config.arch == "plain" and config.n_layers == 3


def test_bad_settings_are_refused():
    for change, message in [({"arch": "recurrent"}, "arch must be 'gated' or 'plain'"),
                            ({"arch": "plain", "conditional": True}, "conditional=True needs arch='gated'"),
                            ({"test_fraction": 1.0}, r"test_fraction must lie in \(0, 1\)"),
                            ({"lr": 0.0}, "lr must be > 0"), ({"alpha": -1.0}, "alpha must be > 0"),
                            ({"epochs": 0}, "epochs must be at least 1"),
                            ({"weight_decay": -0.1}, "weight_decay must be >= 0"),
                            ({"kernel_size": 4}, "kernel_size must be an odd int >= 3"),
                            ({"arch": "plain", "channels": 7}, "channels must be a positive even int")]:
        with pytest.raises(ValueError, match=message):
            recipe.build(dataclasses.replace(TINY, **change))
    with pytest.raises(ValueError, match="test_fraction"):
        recipe.prepare(recipe.Config(test_fraction=0.0))

"""lessons_lib.recipes.glow_digits: the data, the dequantisation, the loss in bits per dimension, the baselines.

The images and split are pixelcnn_digits'; dequantised inputs fall in their grey level's bin (so ``to_images``
undoes ``to_inputs``) and are reproducible; ``loss`` equals the bits per dimension written out with scipy's
normal density and the logit transform's derivative by hand (float64, 1e-10), and a flow that is the
uniform density on [0, 1)^64 scores exactly log2(17); the baselines are pixelcnn_digits'. A tiny run lowers
the loss and beats the uniform baseline.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
from scipy import stats

from lessons_lib import recipes
from lessons_lib.models import flows
from lessons_lib.recipes import glow_digits as recipe
from lessons_lib.recipes import pixelcnn_digits

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(steps=1, hidden=8, epochs=2, batch_size=64)


@pytest.fixture(scope="module")
def digits():
    return recipe.prepare()


def test_the_data_and_split_are_pixelcnn_digits(digits):
    assert digits is pixelcnn_digits.prepare()
    assert len(digits.train) == 1438 and len(digits.test) == 359


def test_dequantised_inputs_fall_in_their_bins(digits):
    x = digits.images[:50]
    y = recipe.to_inputs(x, torch.Generator().manual_seed(0))
    assert y.shape == (50, 1, 8, 8) and torch.all(y >= 0) and torch.all(y < 1)
    assert torch.equal(recipe.to_images(y), x)
    assert torch.equal(recipe.to_inputs(x, torch.Generator().manual_seed(0)), y)
    a, b = recipe.collate(digits, [1, 2], seed=0), recipe.collate(digits, [1, 2], seed=1)
    assert torch.equal(recipe.to_images(a["x"]), recipe.to_images(b["x"])) and not torch.equal(a["x"], b["x"])


def test_loss_is_bits_per_dimension_by_hand(digits):
    batch = recipe.collate(digits, [0, 7, 300])
    y = batch["x"].double().numpy().reshape(3, 64)
    normal = stats.norm.logpdf
    # a fresh RealNVP without the logit transform is the identity: log p(y) = sum log N(y_i)
    identity = recipe.build(dataclasses.replace(TINY, arch="realnvp", alpha=0.0)).double()
    log_p = normal(y).sum(1)
    expected = np.mean((-log_p + 64 * np.log(17)) / (64 * np.log(2)))
    np.testing.assert_allclose(recipe.loss(identity, {"x": batch["x"].double()}).item(), expected, rtol=1e-10)
    # with the logit transform: log p(y) = sum log N(logit(p)) + log|dlogit(p)/dy|, p = a + (1 - 2a) y
    a = 0.05
    logit = recipe.build(dataclasses.replace(TINY, arch="realnvp", alpha=a)).double()
    p = a + (1 - 2 * a) * y
    log_p = (normal(np.log(p / (1 - p))) + np.log((1 - 2 * a) / (p * (1 - p)))).sum(1)
    expected = np.mean((-log_p + 64 * np.log(17)) / (64 * np.log(2)))
    np.testing.assert_allclose(recipe.loss(logit, {"x": batch["x"].double()}).item(), expected, rtol=1e-10)


class UniformOnTheBox(torch.nn.Module):
    """log p(y) = 0 on [0, 1)^64: the uniform distribution over grey levels after dequantisation."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def log_prob(self, y):
        return torch.zeros(len(y), dtype=y.dtype) + 0 * self.w


def test_bits_of_the_uniform_density_are_log2_17(digits):
    bits = recipe.image_bits(UniformOnTheBox(), digits, digits.test[:10])
    np.testing.assert_allclose(bits, math.log2(17), rtol=1e-12)


def test_evaluate_reports_pixelcnn_digits_baselines(digits):
    out = recipe.evaluate(recipe.build(TINY), TINY, digits, device="cpu")
    reference = pixelcnn_digits.evaluate(pixelcnn_digits.build(pixelcnn_digits.Config(channels=4, n_layers=1)),
                                         pixelcnn_digits.Config(), digits, device="cpu")
    assert out["independent bits/dim"] == pytest.approx(reference["independent bits/dim"], rel=1e-12)
    assert out["uniform bits/dim"] == reference["uniform bits/dim"]
    assert out["test images"] == 359 and out["seconds per image"] > 0
    assert out["gain over independent"] == pytest.approx(out["independent bits/dim"] - out["test bits/dim"])


def test_samples_are_images(digits):
    model = recipe.build(TINY)
    with pytest.raises(RuntimeError, match="ActNorm is not initialised"):  # Glow: a forward pass comes first
        model.sample(1)
    model(recipe.collate(digits, digits.train[:64])["x"])
    y = model.sample(4, 0.7, generator=torch.Generator().manual_seed(0))
    images = recipe.to_images(y)
    assert images.shape == (4, 8, 8) and images.dtype == torch.int64
    assert int(images.min()) >= 0 and int(images.max()) <= 16


def test_a_tiny_training_run_lowers_the_loss_below_uniform(digits):
    config = dataclasses.replace(TINY, epochs=3, lr=5e-3)
    model, history = recipe.train(config, digits, digits.train[:512], device="cpu", progress=False)
    assert history.steps == 24 and history.loss[-1] < history.loss[0] - 0.3
    assert recipe.image_bits(model, digits, digits.test).mean() < math.log2(17)


def test_the_recipe_is_registered_and_its_configurations_build():
    assert recipes.get("glow_digits") is recipe and recipes.RECIPES["glow_digits"][0] == 7
    for mode in ("quick", "full"):
        model = recipe.build(recipes.config_for("glow_digits", mode))
        assert isinstance(model.levels[0][0], flows.Logit)
    assert recipe.build(dataclasses.replace(TINY, arch="realnvp", levels=3)).latent_shapes == [(2, 4, 4), (4, 2, 2),
                                                                                               (4, 2, 2)]


def test_bad_settings_are_refused():
    for change, message in [({"arch": "maf"}, "arch must be 'glow' or 'realnvp'"),
                            ({"levels": 4}, "levels must be 1, 2 or 3"), ({"alpha": 0.5}, "alpha must lie"),
                            ({"lr": 0.0}, "lr must be > 0"), ({"steps": 0}, "steps must be at least 1")]:
        with pytest.raises(ValueError, match=message):
            recipe.build(dataclasses.replace(TINY, **change))

"""lessons_lib.recipes.flows_2d: the toy data, the loss, the baselines, the quick-mode target.

The points are scikit-learn's, from the fixed seeds; ``build`` is deterministic and leaves the global random
state alone; ``loss`` equals the change of variables written with autograd's Jacobian and scipy's normal
density (float64, 1e-10); the Gaussian baseline equals scipy's log-density at the maximum-likelihood mean
and covariance; the GMM is the held-out choice. A NaN/inf log-determinant stops training with
NonFiniteLossError. Quick mode reaches the issue's target on two moons (test NLL <= 0.40 nats).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from scipy import stats
from sklearn.datasets import make_circles, make_moons

from lessons_lib import recipes
from lessons_lib.models import flows
from lessons_lib.recipes import flows_2d as recipe
from lessons_lib.train import NonFiniteLossError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(n_train=512, n_test=256, hidden=8, couplings=2, epochs=2, batch_size=64,
                     gmm_components=(1, 2, 8))


def test_the_points_are_scikit_learns_from_fixed_seeds():
    d = recipe.prepare(TINY)
    assert d.train.dtype == torch.float32 and d.train.shape == (512, 2) and d.test.shape == (256, 2)
    np.testing.assert_allclose(d.train.numpy(), make_moons(512, noise=0.05, random_state=0)[0], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d.test.numpy(), make_moons(256, noise=0.05, random_state=1)[0], rtol=1e-6, atol=1e-7)
    c = recipe.prepare(dataclasses.replace(TINY, dataset="circles"))
    np.testing.assert_allclose(c.train.numpy(), make_circles(512, noise=0.05, factor=0.5, random_state=0)[0],
                               rtol=1e-6, atol=1e-7)
    assert recipe.prepare(TINY) is d  # cached


def test_build_is_deterministic_and_leaves_the_global_random_state_alone():
    for arch in ("realnvp", "glow"):
        config = dataclasses.replace(TINY, arch=arch)
        state = torch.random.get_rng_state()
        a, b = recipe.build(config), recipe.build(config)
        assert torch.equal(torch.random.get_rng_state(), state)
        for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items()):
            assert ka == kb and torch.equal(va, vb)
        other = recipe.build(dataclasses.replace(config, seed=1))
        assert any(not torch.equal(va, vb) for va, vb in zip(a.state_dict().values(), other.state_dict().values()))


def test_loss_is_the_change_of_variables_by_hand():
    gen = torch.Generator().manual_seed(0)
    for arch in ("realnvp", "glow"):
        model = recipe.build(dataclasses.replace(TINY, arch=arch)).double()
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=torch.float64))
        for m in model.modules():
            if isinstance(m, flows.ActNorm):
                m.initialized.fill_(True)
        x = torch.randn(5, 2, generator=gen, dtype=torch.float64)
        by_hand = []
        for point in x:
            f = lambda v: model(v[None])[0][0]  # noqa: E731
            jac = torch.autograd.functional.jacobian(f, point)
            z = f(point).detach().numpy()
            by_hand.append(stats.multivariate_normal(np.zeros(2), np.eye(2)).logpdf(z)
                           + np.log(abs(np.linalg.det(jac.numpy()))))
        np.testing.assert_allclose(recipe.loss(model, {"x": x}).item(), -np.mean(by_hand), rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(recipe.mean_nll(model, x), -np.mean(by_hand), rtol=1e-10, atol=1e-10)


def test_the_gaussian_baseline_is_the_maximum_likelihood_gaussian():
    d = recipe.prepare(TINY)
    x, test = d.train.double().numpy(), d.test.double().numpy()
    reference = stats.multivariate_normal(x.mean(0), np.cov(x.T, bias=True)).logpdf(test)
    np.testing.assert_allclose(recipe.gaussian_baseline(d).score_samples(test), reference, rtol=1e-5, atol=1e-5)


def test_the_gmm_is_chosen_by_held_out_likelihood():
    d = recipe.prepare(TINY)
    gmm, scores = recipe.gmm_baseline(TINY, d)
    assert sorted(scores) == [1, 2, 8] and gmm.n_components == max(scores, key=scores.get)
    held_out = d.train.double().numpy()[-round(recipe.GMM_HELD_OUT * 512):]
    assert gmm.score(held_out) == pytest.approx(scores[gmm.n_components], rel=1e-12)
    out = recipe.evaluate(recipe.build(TINY), TINY, d, device="cpu")
    assert out["gmm components"] == gmm.n_components and out["gmm test NLL"] < out["gaussian test NLL"]
    assert set(out) == {"test NLL", "train NLL", "gaussian test NLL", "gmm test NLL", "gmm components",
                        "test points", "parameters"}


def test_log_density_grid_rows_are_y():
    d = recipe.prepare(TINY)
    g = recipe.gaussian_baseline(d)
    xs, ys, log_p = recipe.log_density_grid(g.score_samples, (-1, 2), (-0.5, 1), n=4)
    assert log_p[1, 2] == pytest.approx(g.score_samples(np.array([[xs[2], ys[1]]]))[0], rel=1e-12)
    model = recipe.build(TINY)
    _, _, flow_grid = recipe.log_density_grid(model, (-1, 2), (-0.5, 1), n=4)
    assert flow_grid[3, 0] == pytest.approx(stats.multivariate_normal(np.zeros(2)).logpdf([xs[0], ys[3]]), rel=1e-6)


def test_a_tiny_training_run_lowers_the_loss():
    config = dataclasses.replace(TINY, epochs=4, lr=1e-2)
    model, history = recipe.train(config, recipe.prepare(config), device="cpu", progress=False)
    assert history.epochs == 4 and history.steps == 32 and history.loss[-1] < history.loss[0] - 0.3


def test_a_non_finite_log_det_stops_training_with_a_clear_error():
    config = dataclasses.replace(TINY, epochs=1)
    model = flows.realnvp_2d(2, 8, couplings=2, log_scale_bound=None)  # unbounded log-scale
    with torch.no_grad():
        model.levels[0][0].network[-1].bias.fill_(1e4)  # exp(1e4) overflows
    with pytest.raises(NonFiniteLossError, match="epoch"):
        recipe.train(config, recipe.prepare(config), model=model, device="cpu", progress=False)


def test_quick_mode_reaches_the_target_on_two_moons():
    config = recipes.config_for("flows_2d", "quick")
    assert config.dataset == "moons" and config.arch == "realnvp"
    d = recipe.prepare(config)
    model, _ = recipe.train(config, d, device="cpu", progress=False)
    assert recipe.mean_nll(model, d.test) <= recipe.TARGET_NLL


def test_the_recipe_is_registered_and_its_configurations_build():
    assert recipes.get("flows_2d") is recipe and recipes.RECIPES["flows_2d"][0] == 7
    for mode in ("quick", "full"):
        recipe.build(recipes.config_for("flows_2d", mode))
    assert recipes.config_for("flows_2d", "quick", ["arch=glow", "dataset=circles"]).arch == "glow"


def test_bad_settings_are_refused():
    for change, message in [({"dataset": "spirals"}, "dataset must be one of"),
                            ({"arch": "maf"}, "arch must be 'realnvp' or 'glow'"),
                            ({"noise": -0.1}, "noise must be >= 0"), ({"lr": 0.0}, "lr must be > 0"),
                            ({"couplings": 0}, "couplings must be at least 1"),
                            ({"gmm_components": ()}, "gmm_components")]:
        with pytest.raises(ValueError, match=message):
            recipe.build(dataclasses.replace(TINY, **change))
    with pytest.raises(ValueError, match="dataset"):
        recipe.make_points("spirals", 3, 0.0, 0)

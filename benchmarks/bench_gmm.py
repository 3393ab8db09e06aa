"""lessons_lib.gmm against scikit-learn (Chapter 2): one EM iteration on 100,000 x 39 frames."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

from lessons_lib import gmm, logspace

from .core import Case, assert_close

N, D, K = 100_000, 39, 16


def _frames_and_start(covariance_type: str):
    def setup():
        rng = np.random.default_rng(0)
        centres = rng.normal(0, 3, (K, D))
        X = centres[rng.integers(K, size=N)] + rng.normal(size=(N, D))
        start = dict(weights_init=np.full(K, 1 / K), means_init=X[rng.choice(N, K, replace=False)],
                     precisions_init={"diag": np.ones((K, D)), "full": np.tile(np.eye(D), (K, 1, 1))}[covariance_type])
        return {"X": X, "start": start}
    return setup


def _one_iteration(cls, covariance_type):
    def run(X, start):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one iteration never converges: that is the point
            model = cls(K, covariance_type=covariance_type, max_iter=1, tol=0.0, **start).fit(X)
        return model.means_, model.covariances_, model.lower_bound_
    return run


def _warm_started_steps(cls, n_steps=20):
    """EM one iteration per fit() call (warm_start=True, max_iter=1): notebook 2's way of reading each iteration."""
    def run(X, start):
        model = cls(3, covariance_type="full", warm_start=True, max_iter=1, tol=0.0, **start)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # each call stops at max_iter=1 on purpose
            bounds = [model.fit(X).lower_bound_ for _ in range(n_steps)]
        return model.means_, model.covariances_, np.array(bounds)
    return run


def _small_start():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(5_000, 2)) + 3.0 * rng.integers(3, size=(5_000, 1))
    return {"X": X, "start": dict(weights_init=np.full(3, 1 / 3), means_init=X[:3],
                                  precisions_init=np.tile(np.eye(2), (3, 1, 1)))}


def _same_model(ours, reference):
    for a, b in zip(ours, reference):
        assert_close(a, b, rtol=1e-6, atol=1e-9)


CASES = [
    Case(f"gmm.GaussianMixture, 1 EM iteration, {N:,} x {D}, {K} {ct}", _frames_and_start(ct),
         _one_iteration(gmm.GaussianMixture, ct), _one_iteration(SklearnGaussianMixture, ct), _same_model)
    for ct in ("diag", "full")
] + [
    Case("gmm.GaussianMixture, 20 warm-started fit calls of 1 EM iteration, 5,000 x 2, 3 full", _small_start,
         _warm_started_steps(gmm.GaussianMixture), _warm_started_steps(SklearnGaussianMixture), _same_model),
    Case("gmm.kmeans, 20,000 x 39, 16 clusters, 10 Lloyd iterations",
         lambda: {"X": np.random.default_rng(1).normal(size=(20_000, 39)),
                  "init": np.random.default_rng(2).normal(size=(16, 39))},
         lambda X, init: gmm.kmeans(X, 16, init=init, max_iter=10, tol=0.0)[0],
         lambda X, init: KMeans(16, init=init, n_init=1, max_iter=10, tol=0.0, algorithm="lloyd").fit(X).cluster_centers_,
         lambda a, b: assert_close(a, b, rtol=1e-6, atol=1e-9)),
    Case("logspace.logsumexp, (100,000 x 16), axis 1",
         lambda: {"a": np.random.default_rng(3).normal(0, 50, (100_000, 16))},
         lambda a: logspace.logsumexp(a, axis=1),
         lambda a: __import__("scipy.special", fromlist=["logsumexp"]).logsumexp(a, axis=1)),
]

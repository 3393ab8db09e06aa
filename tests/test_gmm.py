"""lessons_lib.gmm: Gaussian densities, the Mahalanobis distance, k-means and the Gaussian mixture fitted by EM.

``log_multivariate_normal_density`` is compared with scipy.stats.multivariate_normal
for the four covariance types and D in {1, 2, 5, 39}; ``mahalanobis`` with
scipy.spatial.distance.mahalanobis; ``kmeans`` started from an explicit array with
sklearn.cluster.KMeans(init=array, n_init=1, algorithm="lloyd") under the same
max_iter/tol (k-means++ seeding: determinism and the Lloyd fixed point instead);
``GaussianMixture`` with the same weights_init/means_init/precisions_init and
tol/reg_covar/max_iter as sklearn.mixture.GaussianMixture, for every covariance
type, on 2-D blobs and 5-D and 39-D random mixtures, including runs stopped by
max_iter before converging: every fitted attribute (lower_bounds_ per iteration
included) and predict/predict_proba/score_samples/score/bic/aic at rtol 1e-6, and
the stopping rule with tol set just above/below an observed likelihood change.
Properties with hypothesis: the per-iteration log-likelihood never decreases (on
runs where no component collapses, see that test),
predict_proba rows sum to one, score_samples is the log-sum-exp of the weighted
component densities (scipy's), every init_params gives finite parameters, and
sample() draws from the fitted model. Degenerate data (identical points, a cluster
of identical points, a component collapsing onto one point) stays finite thanks to
reg_covar. Then the bad inputs the contract names.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hypothesis import assume, given, settings, strategies as st
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis
from sklearn.cluster import KMeans as SkKMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture as _SkGaussianMixture


class SkGaussianMixture(_SkGaussianMixture):
    """scikit-learn's GaussianMixture, with ``lower_bounds_`` also before scikit-learn 1.7 added it.

    The per-iteration bounds are recorded as scikit-learn computes them, so the comparison is the same
    at the declared floor (scikit-learn 1.4, ``make test-floors``) as at the pinned version.
    """

    def fit_predict(self, X, y=None):
        self._recorded_bounds = []
        labels = super().fit_predict(X, y)
        if not hasattr(self, "lower_bounds_"):
            self.lower_bounds_ = self._recorded_bounds
        return labels

    def _compute_lower_bound(self, *args):
        bound = super()._compute_lower_bound(*args)
        self._recorded_bounds.append(bound)
        return bound

from lessons_lib import gmm

pytestmark = [
    # scikit-learn warns when max_iter stops EM before tol is reached; ours may warn too (any class)
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:.*converge"),
    pytest.mark.filterwarnings("ignore:Number of distinct clusters.*"),
]

COV_TYPES = ["full", "tied", "diag", "spherical"]
INIT_PARAMS = ["kmeans", "k-means++", "random", "random_from_data"]


# --------------------------------------------------------------------------- helpers


def assert_close(ours, reference, *, rtol=1e-6, atol_scale=1e-9, what=""):
    """Values equal at ``rtol``; ``atol`` is ``atol_scale`` times the largest magnitude of the reference."""
    ours = np.asarray(ours, dtype=float)
    reference = np.asarray(reference, dtype=float)
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != {reference.shape}"
    assert np.isfinite(ours).all(), f"{what}: not finite"
    scale = max(float(np.abs(reference).max()), 1e-300) if reference.size else 1.0
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol_scale * scale, err_msg=what)


def assert_all_finite(model):
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_", "lower_bounds_"):
        value = np.asarray(getattr(model, name), dtype=float)
        assert np.isfinite(value).all(), f"{name} is not finite: {value}"
    assert np.isfinite(model.lower_bound_)


def random_spd(rng, d, scale=1.0):
    """A random well-conditioned symmetric positive definite (d, d) matrix."""
    a = rng.normal(size=(d, d))
    return scale * (a @ a.T / d + 0.5 * np.eye(d))


def random_covariances(rng, cov_type, k, d, scale=1.0):
    """Covariances in scikit-learn's layout for ``cov_type``."""
    if cov_type == "full":
        return np.stack([random_spd(rng, d, scale) for _ in range(k)])
    if cov_type == "tied":
        return random_spd(rng, d, scale)
    if cov_type == "diag":
        return scale * rng.uniform(0.2, 3.0, size=(k, d))
    return scale * rng.uniform(0.2, 3.0, size=k)


def full_covariances(cov_type, covariances, k, d):
    """Expand covariances in scikit-learn's layout to (k, d, d)."""
    covariances = np.asarray(covariances, dtype=float)
    if cov_type == "full":
        return covariances
    if cov_type == "tied":
        return np.broadcast_to(covariances, (k, d, d)).copy()
    if cov_type == "diag":
        return np.stack([np.diag(v) for v in covariances])
    return np.stack([v * np.eye(d) for v in covariances])


def precisions_from_covariances(cov_type, covariances):
    """precisions_init for ``cov_type``: full (K,D,D) inverses, tied (D,D) inverse, diag (K,D) 1/var, spherical (K,)."""
    if cov_type in ("full", "tied"):
        return np.linalg.inv(covariances)
    return 1.0 / np.asarray(covariances)


def scipy_log_densities(X, means, covariances_full):
    return np.stack([scipy.stats.multivariate_normal(mean=m, cov=c).logpdf(X).reshape(len(X))
                     for m, c in zip(means, covariances_full)], axis=1)


def make_mixture(seed, n, d, k, spread):
    """n points of a random k-component Gaussian mixture in d dimensions (means ~ N(0, spread^2 I))."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(k, 4.0))
    means = rng.normal(size=(k, d)) * spread
    labels = rng.choice(k, size=n, p=weights)
    labels[:k] = np.arange(k)  # every component has points
    X = np.empty((n, d))
    for j in range(k):
        chol = np.linalg.cholesky(random_spd(rng, d))
        idx = labels == j
        X[idx] = means[j] + rng.normal(size=(idx.sum(), d)) @ chol.T
    return X, labels


def make_blobs(seed, n_per_blob, centers, std=1.0):
    rng = np.random.default_rng(seed)
    centers = np.asarray(centers, dtype=float)
    X = np.concatenate([c + std * rng.normal(size=(n_per_blob, centers.shape[1])) for c in centers])
    return X[rng.permutation(len(X))]


def make_init(seed, X, k, cov_type):
    """Initial weights, means (data points moved a little) and precisions for ``cov_type``."""
    rng = np.random.default_rng(seed)
    n, d = X.shape
    weights = rng.dirichlet(np.full(k, 5.0))
    means = X[rng.choice(n, size=k, replace=False)] + 0.1 * rng.normal(size=(k, d))
    spread = float(np.var(X, axis=0).mean())
    covariances = random_covariances(rng, cov_type, k, d, scale=spread)
    return weights, means, precisions_from_covariances(cov_type, covariances)


def fit_both(X, k, cov_type, init, **kwargs):
    weights, means, precisions = init
    args = dict(n_components=k, covariance_type=cov_type, weights_init=weights, means_init=means,
                precisions_init=precisions, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reference = SkGaussianMixture(n_init=1, **args).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = gmm.GaussianMixture(**args).fit(X)
    return ours, reference


# --------------------------------------------------------------------------- log_multivariate_normal_density


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("d", [1, 2, 5, 39])
@pytest.mark.parametrize("k", [1, 3])
def test_log_density_equals_scipy(k, d, cov_type):
    rng = np.random.default_rng([k, d, COV_TYPES.index(cov_type)])
    X = rng.normal(size=(60, d)) * 2.0
    means = rng.normal(size=(k, d))
    covariances = random_covariances(rng, cov_type, k, d, scale=rng.uniform(0.3, 3.0))
    ours = gmm.log_multivariate_normal_density(X, means, covariances, cov_type)
    reference = scipy_log_densities(X, means, full_covariances(cov_type, covariances, k, d))
    assert_close(ours, reference, rtol=1e-10, atol_scale=1e-10, what="log density")


@pytest.mark.parametrize("d", [1, 2, 5, 39])
def test_log_density_default_type_is_full(d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(20, d))
    means = rng.normal(size=(2, d))
    covariances = random_covariances(rng, "full", 2, d)
    assert_close(gmm.log_multivariate_normal_density(X, means, covariances),
                 scipy_log_densities(X, means, covariances), rtol=1e-10, atol_scale=1e-10)


def test_log_density_far_from_the_mean_and_with_tiny_variances():
    """Densities that underflow to 0 in linear space are still right in log space."""
    rng = np.random.default_rng(5)
    d = 3
    X = np.concatenate([rng.normal(size=(10, d)), 1e3 + rng.normal(size=(5, d))])
    means = np.zeros((2, d))
    covariances = np.stack([np.eye(d) * 1e-6, random_spd(rng, d)])
    ours = gmm.log_multivariate_normal_density(X, means, covariances, "full")
    assert np.isfinite(ours).all()
    assert_close(ours, scipy_log_densities(X, means, covariances), rtol=1e-10, atol_scale=1e-12)


def test_log_density_of_the_standard_normal_by_formula():
    x = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, -2.0]])
    expected = -np.log(2 * np.pi) - 0.5 * (x ** 2).sum(axis=1)
    ours = gmm.log_multivariate_normal_density(x, np.zeros((1, 2)), np.ones(1), "spherical")
    np.testing.assert_allclose(ours[:, 0], expected, rtol=1e-13)


@pytest.mark.parametrize("cov_type, covariances", [
    ("full", np.array([[[1.0, 2.0], [2.0, 1.0]]])),  # eigenvalues 3 and -1
    ("full", np.array([[[1.0, 0.0], [0.0, 0.0]]])),  # singular
    ("tied", np.array([[-1.0, 0.0], [0.0, 1.0]])),
    ("diag", np.array([[1.0, 0.0]])),
    ("diag", np.array([[1.0, -2.0]])),
    ("spherical", np.array([0.0])),
    ("spherical", np.array([-1.0])),
])
def test_log_density_rejects_covariances_that_are_not_positive_definite(cov_type, covariances):
    with pytest.raises(ValueError, match="positive definite"):
        gmm.log_multivariate_normal_density(np.zeros((3, 2)), np.zeros((1, 2)), covariances, cov_type)


@pytest.mark.parametrize("cov_type, means, covariances, match", [
    ("full", np.zeros((2, 3)), np.stack([np.eye(2)] * 2), "means|features|shape"),  # D of means != D of X
    ("full", np.zeros((2, 2)), np.stack([np.eye(2)] * 3), "covariances"),  # K mismatch
    ("full", np.zeros((2, 2)), np.eye(2), "covariances"),
    ("tied", np.zeros((2, 2)), np.eye(3), "covariances"),
    ("diag", np.zeros((2, 2)), np.ones((2, 3)), "covariances"),
    ("diag", np.zeros((2, 2)), np.ones(2), "covariances"),
    ("spherical", np.zeros((2, 2)), np.ones(3), "covariances"),
    ("spherical", np.zeros((2, 2)), np.ones((2, 2)), "covariances"),
])
def test_log_density_rejects_shape_mismatches(cov_type, means, covariances, match):
    with pytest.raises(ValueError, match=match):
        gmm.log_multivariate_normal_density(np.zeros((4, 2)), means, covariances, cov_type)


def test_log_density_rejects_an_unknown_covariance_type():
    with pytest.raises(ValueError, match="covariance_type"):
        gmm.log_multivariate_normal_density(np.zeros((4, 2)), np.zeros((1, 2)), np.ones(1), "bogus")


# --------------------------------------------------------------------------- mahalanobis


@pytest.mark.parametrize("d", [1, 2, 5, 39])
def test_mahalanobis_equals_scipy(d):
    rng = np.random.default_rng(100 + d)
    X = rng.normal(size=(25, d)) * 3.0
    mean = rng.normal(size=d)
    covariance = random_spd(rng, d, scale=rng.uniform(0.2, 5.0))
    inverse = np.linalg.inv(covariance)
    reference = np.array([scipy_mahalanobis(x, mean, inverse) ** 2 for x in X])
    ours = gmm.mahalanobis(X, mean, covariance)
    assert_close(ours, reference, rtol=1e-10, atol_scale=1e-10, what="squared Mahalanobis")


def test_mahalanobis_with_identity_and_diagonal_covariance_by_formula():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(30, 4))
    mean = rng.normal(size=4)
    np.testing.assert_allclose(gmm.mahalanobis(X, mean, np.eye(4)), ((X - mean) ** 2).sum(axis=1), rtol=1e-12)
    var = np.array([0.5, 2.0, 1.0, 4.0])
    np.testing.assert_allclose(gmm.mahalanobis(X, mean, np.diag(var)), ((X - mean) ** 2 / var).sum(axis=1),
                               rtol=1e-12)
    assert gmm.mahalanobis(mean[None, :], mean, np.diag(var))[0] == pytest.approx(0.0, abs=1e-14)


def test_mahalanobis_rejects_a_mean_of_the_wrong_length():
    with pytest.raises(ValueError, match="mean|shape|features"):
        gmm.mahalanobis(np.zeros((3, 2)), np.zeros(3), np.eye(2))


# --------------------------------------------------------------------------- kmeans

KMEANS_CASES = [
    # seed, centers of the blobs, points per blob, std, k, max_iter, tol
    (0, [[0, 0], [6, 0], [0, 6]], 60, 1.0, 3, 300, 1e-4),
    (1, [[0, 0], [4, 1], [1, 4], [5, 5]], 50, 1.0, 4, 300, 0.0),
    (2, [[0, 0], [4, 1], [1, 4], [5, 5]], 50, 1.0, 4, 2, 1e-4),   # stopped by max_iter
    (3, [[0, 0], [6, 0], [0, 6]], 60, 1.5, 3, 300, 0.05),         # stopped by the centre-shift tolerance
    (4, np.eye(5) * 8, 40, 1.0, 5, 300, 1e-4),
    (5, np.eye(5) * 8, 40, 1.0, 5, 300, 1e-6),
    (6, np.concatenate([np.eye(39)[:3] * 12, np.zeros((1, 39))]), 40, 1.0, 4, 300, 1e-4),
]


@pytest.mark.parametrize("seed, centers, n_per_blob, std, k, max_iter, tol", KMEANS_CASES)
def test_kmeans_from_an_init_array_equals_sklearn(seed, centers, n_per_blob, std, k, max_iter, tol):
    X = make_blobs(seed, n_per_blob, centers, std)
    rng = np.random.default_rng(seed + 50)
    init = X[rng.choice(len(X), size=k, replace=False)] + 0.5 * rng.normal(size=(k, X.shape[1]))
    reference = SkKMeans(n_clusters=k, init=init.copy(), n_init=1, max_iter=max_iter, tol=tol,
                         algorithm="lloyd").fit(X)
    assert len(np.unique(reference.labels_)) == k  # the case has no empty cluster
    init_before = init.copy()
    centers_, labels, inertia, n_iter = gmm.kmeans(X, k, init=init, max_iter=max_iter, tol=tol)
    np.testing.assert_array_equal(init, init_before)  # the init array is not modified
    assert int(n_iter) == reference.n_iter_
    np.testing.assert_array_equal(labels, reference.labels_)
    assert_close(centers_, reference.cluster_centers_, rtol=1e-10, atol_scale=1e-10, what="centres")
    assert float(inertia) == pytest.approx(reference.inertia_, rel=1e-10)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(2, 6), d=st.integers(1, 8), n_per_blob=st.integers(5, 40),
       max_iter=st.sampled_from([1, 2, 5, 300]), tol=st.sampled_from([0.0, 1e-4, 1e-2]))
def test_kmeans_on_random_blobs_equals_sklearn(seed, k, d, n_per_blob, max_iter, tol):
    """Well separated blobs, one starting centre near a point of each blob: no cluster ever empties."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-1, 1, size=(k, d)) * 10 * k
    centers[:, 0] = 12.0 * np.arange(k)  # at least 12 apart along the first axis
    X = np.concatenate([c + rng.normal(size=(n_per_blob, d)) for c in centers])
    blob = np.repeat(np.arange(k), n_per_blob)
    order = rng.permutation(len(X))
    X, blob = X[order], blob[order]
    init = np.stack([X[rng.choice(np.flatnonzero(blob == j))] for j in rng.permutation(k)])
    init += 2.0 * rng.normal(size=init.shape)
    reference = SkKMeans(n_clusters=k, init=init, n_init=1, max_iter=max_iter, tol=tol, algorithm="lloyd").fit(X)
    centers_, labels, inertia, n_iter = gmm.kmeans(X, k, init=init, max_iter=max_iter, tol=tol)
    assert int(n_iter) == reference.n_iter_
    np.testing.assert_array_equal(labels, reference.labels_)
    assert_close(centers_, reference.cluster_centers_, rtol=1e-10, atol_scale=1e-10, what="centres")
    assert float(inertia) == pytest.approx(reference.inertia_, rel=1e-10)


def test_kmeans_stopped_by_max_iter_relabels_for_the_final_centres():
    X = make_blobs(2, 50, [[0, 0], [4, 1], [1, 4], [5, 5]], 1.0)
    init = X[:4].copy()
    centers, labels, inertia, n_iter = gmm.kmeans(X, 4, init=init, max_iter=1, tol=0.0)
    assert n_iter == 1
    distances = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))
    assert inertia == pytest.approx(distances.min(axis=1).sum(), rel=1e-12)
    # one Lloyd step from the init: the centres are the means of the points nearest each initial centre
    first = ((X[:, None, :] - init[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    np.testing.assert_allclose(centers, [X[first == j].mean(axis=0) for j in range(4)], rtol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("k", [2, 3, 5])
def test_kmeans_plus_plus_reaches_a_lloyd_fixed_point(seed, k):
    X, _ = make_mixture(seed, 300, 3, 4, spread=3.0)
    centers, labels, inertia, n_iter = gmm.kmeans(X, k, random_state=seed, tol=0.0, max_iter=500)
    assert centers.shape == (k, 3) and labels.shape == (300,)
    assert 1 <= n_iter < 500
    distances = ((X[:, None, :] - centers[None, :, :]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(labels, distances.argmin(axis=1))
    assert inertia == pytest.approx(distances.min(axis=1).sum(), rel=1e-10)
    assert set(np.unique(labels)) == set(range(k))
    np.testing.assert_allclose(centers, [X[labels == j].mean(axis=0) for j in range(k)], rtol=1e-10, atol=1e-12)


def test_kmeans_plus_plus_finds_well_separated_blobs():
    true_centers = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 30.0], [30.0, 30.0], [15.0, 60.0]])
    X = make_blobs(3, 40, true_centers, 1.0)
    for seed in range(5):
        centers, labels, inertia, _ = gmm.kmeans(X, 5, random_state=seed)
        nearest = np.abs(centers[:, None, :] - true_centers[None, :, :]).sum(axis=2).min(axis=0)
        assert nearest.max() < 1.0, f"seed {seed}: a true centre has no k-means centre near it"
        assert inertia < 2.0 * 2 * len(X)  # about n * D * std^2


def test_kmeans_random_state_int_and_generator_are_deterministic():
    X, _ = make_mixture(9, 200, 2, 3, spread=2.0)
    a = gmm.kmeans(X, 4, random_state=7)
    b = gmm.kmeans(X, 4, random_state=7)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    c = gmm.kmeans(X, 4, random_state=np.random.default_rng(3))
    d = gmm.kmeans(X, 4, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(c[0], d[0])
    np.testing.assert_array_equal(c[1], d[1])


def test_kmeans_with_as_many_clusters_as_points():
    X = np.random.default_rng(0).normal(size=(6, 2))
    centers, labels, inertia, _ = gmm.kmeans(X, 6, random_state=0)
    assert inertia == pytest.approx(0.0, abs=1e-20)
    np.testing.assert_allclose(np.sort(centers, axis=0), np.sort(X, axis=0), rtol=1e-12)


def test_kmeans_bad_input():
    X = np.random.default_rng(0).normal(size=(5, 2))
    with pytest.raises(ValueError, match="NaN|finite"):
        gmm.kmeans(np.array([[0.0, 1.0], [np.nan, 1.0], [2.0, 2.0]]), 2)
    with pytest.raises(ValueError, match="2-D|2D|X"):
        gmm.kmeans(np.zeros(5), 2)
    with pytest.raises(ValueError, match="n_clusters"):
        gmm.kmeans(X, 6)
    with pytest.raises(ValueError, match="init"):
        gmm.kmeans(X, 2, init=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="init"):
        gmm.kmeans(X, 2, init=np.zeros((2, 3)))


# --------------------------------------------------------------------------- GaussianMixture == scikit-learn

DATASETS = {
    "blobs2d": lambda: make_blobs(10, 100, [[0, 0], [5, 1], [1, 6]], 1.0),
    "overlap2d": lambda: make_mixture(11, 300, 2, 3, spread=1.5)[0],
    "mix5d": lambda: make_mixture(12, 400, 5, 4, spread=2.5)[0],
    "mix39d": lambda: make_mixture(13, 450, 39, 3, spread=1.5)[0],
}

GMM_CASES = [
    # data set, k, tol, reg_covar, max_iter
    ("blobs2d", 3, 1e-3, 1e-6, 100),
    ("blobs2d", 3, 1e-9, 1e-6, 500),
    ("blobs2d", 3, 1e-3, 1e-6, 2),    # stopped by max_iter, not converged
    ("overlap2d", 3, 1e-6, 1e-3, 400),
    ("overlap2d", 2, 0.0, 1e-6, 15),  # tol=0 never converges
    ("mix5d", 4, 1e-5, 1e-4, 300),
    ("mix5d", 4, 1e-3, 0.5, 100),
    ("mix5d", 4, 1e-3, 1e-6, 3),
    ("mix39d", 3, 1e-4, 1e-3, 100),
    ("mix39d", 3, 1e-3, 1e-6, 2),
]


@pytest.fixture(scope="module")
def datasets():
    return {name: make() for name, make in DATASETS.items()}


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("data_name, k, tol, reg_covar, max_iter", GMM_CASES)
def test_gaussian_mixture_equals_sklearn(datasets, data_name, k, tol, reg_covar, max_iter, cov_type):
    X = datasets[data_name]
    seed = [len(data_name), k, max_iter, COV_TYPES.index(cov_type)]
    init = make_init(seed, X, k, cov_type)
    ours, reference = fit_both(X, k, cov_type, init, tol=tol, reg_covar=reg_covar, max_iter=max_iter)

    assert ours.n_iter_ == reference.n_iter_
    assert bool(ours.converged_) == bool(reference.converged_)
    if max_iter <= 3 or tol == 0.0:
        assert not reference.converged_ and reference.n_iter_ == max_iter  # the case is what it says
    assert len(ours.lower_bounds_) == len(reference.lower_bounds_) == reference.n_iter_
    assert_close(ours.lower_bounds_, reference.lower_bounds_, what="lower_bounds_")
    assert float(ours.lower_bound_) == pytest.approx(reference.lower_bound_, rel=1e-6)
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        assert_close(getattr(ours, name), getattr(reference, name), what=name)
    assert ours.n_features_in_ == X.shape[1]

    rng = np.random.default_rng(seed)
    X_new = X[rng.choice(len(X), 50)] + rng.normal(size=(50, X.shape[1]))
    for data in (X, X_new):
        np.testing.assert_array_equal(ours.predict(data), reference.predict(data))
        assert_close(ours.predict_proba(data), reference.predict_proba(data), atol_scale=1e-9, what="predict_proba")
        assert_close(ours.score_samples(data), reference.score_samples(data), what="score_samples")
        assert float(ours.score(data)) == pytest.approx(reference.score(data), rel=1e-6)
        assert float(ours.bic(data)) == pytest.approx(reference.bic(data), rel=1e-6)
        assert float(ours.aic(data)) == pytest.approx(reference.aic(data), rel=1e-6)


@pytest.mark.parametrize("side", [1 + 1e-5, 1 - 1e-5])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_stopping_rule_matches_sklearn_with_tol_next_to_a_change(datasets, cov_type, side):
    """tol set just above (or below) the change of the likelihood at iteration 6: stop there (or later)."""
    X = datasets["overlap2d"]
    init = make_init(51, X, 3, cov_type)
    _, free = fit_both(X, 3, cov_type, init, tol=0.0, max_iter=30)
    changes = np.abs(np.diff(free.lower_bounds_))
    tol = float(changes[4]) * side  # the change between iterations 5 and 6
    ours, reference = fit_both(X, 3, cov_type, init, tol=tol, max_iter=30)
    if side > 1:
        assert reference.converged_ and reference.n_iter_ <= 6
    assert ours.n_iter_ == reference.n_iter_
    assert bool(ours.converged_) == bool(reference.converged_)
    assert_close(ours.lower_bounds_, reference.lower_bounds_, what="lower_bounds_")


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_fit_predict_equals_sklearn_and_fit_then_predict(datasets, cov_type):
    X = datasets["overlap2d"]
    init = make_init(21, X, 3, cov_type)
    weights, means, precisions = init
    args = dict(n_components=3, covariance_type=cov_type, weights_init=weights, means_init=means,
                precisions_init=precisions, max_iter=5, tol=1e-3)
    ours = gmm.GaussianMixture(**args).fit_predict(X)
    reference = SkGaussianMixture(**args).fit_predict(X)
    np.testing.assert_array_equal(ours, reference)
    np.testing.assert_array_equal(ours, gmm.GaussianMixture(**args).fit(X).predict(X))


def test_fit_returns_self(datasets):
    model = gmm.GaussianMixture(2, random_state=0)
    assert model.fit(datasets["blobs2d"]) is model


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_float32_data_is_fitted_in_float64(datasets, cov_type):
    X32 = datasets["mix5d"].astype(np.float32)
    X64 = X32.astype(np.float64)
    init = make_init(31, X64, 4, cov_type)
    ours, reference = fit_both(X32, 4, cov_type, init, tol=1e-4, max_iter=50)
    _, reference64 = fit_both(X64, 4, cov_type, init, tol=1e-4, max_iter=50)
    assert np.asarray(ours.means_).dtype == np.float64
    assert ours.n_iter_ == reference64.n_iter_
    assert_close(ours.lower_bounds_, reference64.lower_bounds_, what="lower_bounds_")
    for name in ("weights_", "means_", "covariances_"):
        assert_close(getattr(ours, name), getattr(reference64, name), what=name)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_with_every_initial_parameter_given_no_initialisation_runs(datasets, cov_type):
    """init_params and random_state then make no difference."""
    X = datasets["mix5d"]
    weights, means, precisions = make_init(41, X, 4, cov_type)
    results = []
    for init_params, random_state in [("kmeans", 0), ("random", 1), ("random_from_data", 2), ("k-means++", None)]:
        model = gmm.GaussianMixture(4, covariance_type=cov_type, init_params=init_params, random_state=random_state,
                                    weights_init=weights, means_init=means, precisions_init=precisions,
                                    max_iter=20).fit(X)
        results.append(model)
    for other in results[1:]:
        np.testing.assert_array_equal(other.means_, results[0].means_)
        np.testing.assert_array_equal(other.lower_bounds_, results[0].lower_bounds_)
    # and the initial arrays are not modified
    np.testing.assert_array_equal(weights, make_init(41, X, 4, cov_type)[0])
    np.testing.assert_array_equal(precisions, make_init(41, X, 4, cov_type)[2])


# --------------------------------------------------------------------------- initialisations, randomness


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_every_init_params_fits_finite_and_is_deterministic(datasets, cov_type, init_params):
    X = datasets["blobs2d"]
    a = gmm.GaussianMixture(3, covariance_type=cov_type, init_params=init_params, random_state=5).fit(X)
    b = gmm.GaussianMixture(3, covariance_type=cov_type, init_params=init_params, random_state=5).fit(X)
    assert_all_finite(a)
    np.testing.assert_array_equal(a.means_, b.means_)
    np.testing.assert_array_equal(a.lower_bounds_, b.lower_bounds_)
    np.testing.assert_allclose(np.sum(a.weights_), 1.0, rtol=1e-12)
    assert len(a.lower_bounds_) == a.n_iter_ >= 1
    assert a.lower_bound_ == pytest.approx(a.lower_bounds_[-1], rel=1e-12)
    c = gmm.GaussianMixture(3, covariance_type=cov_type, init_params=init_params,
                            random_state=np.random.default_rng(5)).fit(X)
    assert_all_finite(c)


def test_kmeans_init_finds_well_separated_blobs():
    true_centers = np.array([[0.0, 0.0], [25.0, 0.0], [0.0, 25.0]])
    X = make_blobs(4, 150, true_centers, 1.0)
    for cov_type in COV_TYPES:
        model = gmm.GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
        assert model.converged_
        order = np.argsort(model.means_[:, 0] + 2 * model.means_[:, 1])
        np.testing.assert_allclose(model.means_[order], true_centers, atol=0.3)
        np.testing.assert_allclose(model.weights_, 1 / 3, atol=1e-6)
        variances = full_covariances(cov_type, model.covariances_, 3, 2)[:, [0, 1], [0, 1]]
        np.testing.assert_allclose(variances, 1.0, atol=0.3)


def test_means_init_alone_is_used(datasets):
    """With only means_init given, fitting starts from those means (one iteration away from them at most)."""
    X = datasets["blobs2d"]
    means = np.array([[0.0, 0.0], [5.0, 1.0], [1.0, 6.0]])
    model = gmm.GaussianMixture(3, means_init=means, max_iter=1, random_state=0).fit(X)
    assert_all_finite(model)
    np.testing.assert_allclose(model.means_, means, atol=0.5)


# --------------------------------------------------------------------------- properties


def random_data(seed, n, d, scale, n_clusters):
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, d)) * 3
    return scale * (centers[rng.integers(n_clusters, size=n)] + rng.normal(size=(n, d)))


def clustered_data(seed, d, n_clusters, per_cluster, scale):
    """Gaussian clusters (unit noise, centres ~ N(0, 16 I)), centred on 0, times ``scale``."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, d)) * 4
    X = np.concatenate([c + rng.normal(size=(per_cluster, d)) for c in centers])
    return scale * (X - X.mean(axis=0))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 4), k=st.integers(1, 4), more_clusters=st.booleans(),
       per_cluster=st.integers(8, 40), scale=st.floats(0.5, 2.0), cov_type=st.sampled_from(COV_TYPES),
       init_params=st.sampled_from(INIT_PARAMS))
def test_log_likelihood_never_decreases(seed, d, k, more_clusters, per_cluster, scale, cov_type, init_params):
    """EM never lowers the log-likelihood: lower_bounds_ is non-decreasing up to 1e-10 * scale.

    Runs in which a component collapses (its smallest variance falls to about reg_covar) are left out:
    reg_covar makes EM climb a penalised likelihood, not the likelihood itself, and the collapsed variance,
    reg_covar plus the rounding of E[x^2] - mean^2, carries a relative error of eps * x^2 / reg_covar. There
    scikit-learn's own lower_bounds_ dips too, by 1e-9 to 1e-8, from the same initial parameters (e.g.
    clustered_data(3, 2, 3, 9, 2.0), k=3, spherical; random_data(48554160, 49, 2, 20.0, 3), k=4, diag).
    """
    X = clustered_data(seed, d, k + more_clusters, per_cluster, scale)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gmm.GaussianMixture(k, covariance_type=cov_type, init_params=init_params, random_state=seed % 1000,
                                    tol=1e-9, max_iter=60).fit(X)
    bounds = np.asarray(model.lower_bounds_, dtype=float)
    assert len(bounds) == model.n_iter_ >= 1
    assert np.isfinite(bounds).all()
    smallest_variance = min(np.linalg.eigvalsh(c).min() for c in full_covariances(cov_type, model.covariances_, k, d))
    assume(smallest_variance > 1e3 * model.reg_covar)
    slack = 1e-10 * max(1.0, float(np.abs(bounds).max()))
    assert np.all(np.diff(bounds) >= -slack), np.diff(bounds).min()
    assert_all_finite(model)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 5), k=st.integers(1, 4),
       scale=st.floats(0.01, 1000.0), cov_type=st.sampled_from(COV_TYPES), init_params=st.sampled_from(INIT_PARAMS))
def test_fits_are_finite_at_any_scale(seed, d, k, scale, cov_type, init_params):
    """Every initialisation gives finite parameters and log-likelihoods, from tiny to large data scales."""
    X = random_data(seed, 10 * k, d, scale, n_clusters=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gmm.GaussianMixture(k, covariance_type=cov_type, init_params=init_params, random_state=seed % 1000,
                                    max_iter=30).fit(X)
    assert_all_finite(model)
    np.testing.assert_allclose(np.sum(model.weights_), 1.0, rtol=1e-12)
    assert np.all(np.asarray(model.weights_) >= 0)
    assert np.isfinite(model.score_samples(X)).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), d=st.integers(1, 5), k=st.integers(1, 4),
       cov_type=st.sampled_from(COV_TYPES), max_iter=st.integers(1, 20))
def test_posteriors_and_log_density_agree_with_scipy(seed, d, k, cov_type, max_iter):
    X = random_data(seed, 12 * k, d, 2.0, n_clusters=k)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gmm.GaussianMixture(k, covariance_type=cov_type, random_state=seed % 1000, max_iter=max_iter).fit(X)
    X_new = random_data(seed + 1, 30, d, 2.0, n_clusters=k)
    proba = model.predict_proba(X_new)
    assert proba.shape == (30, k) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    weighted = np.log(model.weights_) + scipy_log_densities(
        X_new, model.means_, full_covariances(cov_type, model.covariances_, k, d))
    log_p = scipy.special.logsumexp(weighted, axis=1)
    assert_close(model.score_samples(X_new), log_p, rtol=1e-8, atol_scale=1e-10, what="score_samples")
    assert float(model.score(X_new)) == pytest.approx(log_p.mean(), rel=1e-8)
    np.testing.assert_allclose(proba, np.exp(weighted - log_p[:, None]), rtol=1e-7, atol=1e-12)
    np.testing.assert_array_equal(model.predict(X_new), proba.argmax(axis=1))


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_precisions_are_the_inverse_covariances(datasets, cov_type):
    X = datasets["mix5d"]
    model = gmm.GaussianMixture(4, covariance_type=cov_type, random_state=0).fit(X)
    precisions = np.asarray(model.precisions_)
    if cov_type in ("full", "tied"):
        np.testing.assert_allclose(precisions, np.linalg.inv(model.covariances_), rtol=1e-8, atol=1e-10)
        chol = np.asarray(model.precisions_cholesky_)
        product = chol @ np.swapaxes(chol, -1, -2)  # scikit-learn's layout: precision = L L^T
        np.testing.assert_allclose(product, precisions, rtol=1e-8, atol=1e-10)
    else:
        np.testing.assert_allclose(precisions, 1.0 / np.asarray(model.covariances_), rtol=1e-10)
        np.testing.assert_allclose(np.asarray(model.precisions_cholesky_) ** 2, precisions, rtol=1e-10)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_bic_and_aic_by_formula(datasets, cov_type):
    X = datasets["mix5d"]
    n, d = X.shape
    k = 4
    model = gmm.GaussianMixture(k, covariance_type=cov_type, random_state=0).fit(X)
    cov_params = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}[cov_type]
    p = cov_params + k * d + k - 1
    log_likelihood = n * float(model.score(X))
    assert float(model.bic(X)) == pytest.approx(-2 * log_likelihood + p * np.log(n), rel=1e-10)
    assert float(model.aic(X)) == pytest.approx(-2 * log_likelihood + 2 * p, rel=1e-10)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sample_draws_from_the_fitted_model(cov_type):
    rng = np.random.default_rng(17)
    X = np.concatenate([rng.normal(size=(240, 2)), [8.0, 0.0] + rng.normal(size=(100, 2)) * [2.0, 0.5],
                        [0.0, 9.0] + rng.normal(size=(40, 2))])  # unequal weights and shapes
    model = gmm.GaussianMixture(3, covariance_type=cov_type, random_state=0).fit(X)
    assert np.ptp(model.weights_) > 0.3
    n = 30000
    samples, labels = model.sample(n)
    assert samples.shape == (n, 2) and labels.shape == (n,)
    assert np.issubdtype(np.asarray(labels).dtype, np.integer)
    assert set(np.unique(labels)) <= set(range(3))
    counts = np.bincount(labels, minlength=3)
    sigma = np.sqrt(n * model.weights_ * (1 - model.weights_))
    assert np.all(np.abs(counts - n * model.weights_) < 5 * sigma + 1)
    covariances = full_covariances(cov_type, model.covariances_, 3, 2)
    for j in range(3):
        drawn = samples[labels == j]
        standard_error = np.sqrt(np.diag(covariances[j]) / len(drawn))
        assert np.all(np.abs(drawn.mean(axis=0) - model.means_[j]) < 5 * standard_error)
        np.testing.assert_allclose(np.cov(drawn.T), covariances[j], atol=0.1 * np.abs(covariances[j]).max())
    one = model.sample()
    assert one[0].shape == (1, 2) and one[1].shape == (1,)


def test_sample_is_deterministic_for_a_seed(datasets):
    X = datasets["blobs2d"]
    a = gmm.GaussianMixture(3, random_state=3).fit(X).sample(100)
    b = gmm.GaussianMixture(3, random_state=3).fit(X).sample(100)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


# --------------------------------------------------------------------------- degenerate data


@pytest.mark.parametrize("init_params", INIT_PARAMS)
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_identical_points_stay_finite_with_reg_covar(cov_type, init_params):
    X = np.tile([[1.5, -2.0, 3.0]], (40, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = gmm.GaussianMixture(2, covariance_type=cov_type, init_params=init_params, reg_covar=1e-6,
                                    random_state=0).fit(X)
    assert_all_finite(model)
    np.testing.assert_allclose(np.sum(model.weights_), 1.0, rtol=1e-12)
    # a component that got points sits on them; one that got none (k-means gives every point to one cluster)
    # has weight ~0 and, as in scikit-learn, a zero mean: only finiteness is asked of it
    used = np.asarray(model.weights_) > 1e-6
    assert used.any()
    np.testing.assert_allclose(model.means_[used], np.tile(X[0], (used.sum(), 1)), rtol=1e-9)
    # the empirical covariance is zero: what is left is reg_covar on the diagonal
    np.testing.assert_allclose(full_covariances(cov_type, model.covariances_, 2, 3),
                               np.broadcast_to(1e-6 * np.eye(3), (2, 3, 3)), rtol=1e-6, atol=1e-12)
    assert np.isfinite(model.score_samples(X)).all()
    assert np.isfinite(model.predict_proba(X)).all()
    np.testing.assert_allclose(model.predict_proba(X).sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_a_cluster_of_identical_points_equals_sklearn_and_stays_finite(cov_type):
    rng = np.random.default_rng(8)
    X = np.concatenate([rng.normal(size=(80, 2)), [5.0, 5.0] + 0.8 * rng.normal(size=(80, 2)),
                        np.tile([[-6.0, 4.0]], (25, 1))])
    X = X[rng.permutation(len(X))]
    weights = np.array([0.4, 0.4, 0.2])
    means = np.array([[0.5, 0.5], [4.0, 4.0], [-5.0, 3.0]])
    covariances = {"full": np.stack([np.eye(2)] * 3), "tied": np.eye(2), "diag": np.ones((3, 2)),
                   "spherical": np.ones(3)}[cov_type]
    init = (weights, means, precisions_from_covariances(cov_type, covariances))
    ours, reference = fit_both(X, 3, cov_type, init, reg_covar=1e-4, max_iter=100)
    assert_all_finite(ours)
    collapsed = int(np.argmin(np.abs(ours.means_ - [-6.0, 4.0]).sum(axis=1)))
    np.testing.assert_allclose(ours.means_[collapsed], [-6.0, 4.0], atol=1e-6)
    assert ours.n_iter_ == reference.n_iter_
    assert_close(ours.lower_bounds_, reference.lower_bounds_, what="lower_bounds_")
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_close(getattr(ours, name), getattr(reference, name), what=name)
    if cov_type in ("full", "diag", "spherical"):
        variances = full_covariances(cov_type, ours.covariances_, 3, 2)[collapsed]
        np.testing.assert_allclose(variances, 1e-4 * np.eye(2), rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_a_component_collapsing_onto_one_point_stays_finite(cov_type):
    rng = np.random.default_rng(9)
    X = np.concatenate([rng.normal(size=(100, 2)), [[12.0, -7.0]]])  # one outlier, alone
    means = np.array([[0.0, 0.0], [12.0, -7.0]])
    covariances = {"full": np.stack([np.eye(2)] * 2), "tied": np.eye(2), "diag": np.ones((2, 2)),
                   "spherical": np.ones(2)}[cov_type]
    init = (np.array([0.9, 0.1]), means, precisions_from_covariances(cov_type, covariances))
    ours, reference = fit_both(X, 2, cov_type, init, reg_covar=1e-6, max_iter=100)
    assert_all_finite(ours)
    assert np.isfinite(ours.score_samples(X)).all()
    np.testing.assert_allclose(ours.weights_, reference.weights_, rtol=1e-6)
    np.testing.assert_allclose(ours.means_, reference.means_, rtol=1e-6, atol=1e-9)
    assert_close(ours.lower_bounds_, reference.lower_bounds_, what="lower_bounds_")
    if cov_type != "tied":
        np.testing.assert_allclose(ours.weights_[1], 1 / 101, rtol=1e-6)
        np.testing.assert_allclose(ours.means_[1], [12.0, -7.0], atol=1e-9)


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_identical_points_without_reg_covar_raise_or_stay_finite(cov_type):
    """reg_covar=0 on identical points: a clear ValueError, never NaN/inf parameters."""
    X = np.tile([[1.0, 2.0]], (20, 1))
    model = gmm.GaussianMixture(1, covariance_type=cov_type, reg_covar=0.0, random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X)
    except ValueError as err:
        assert any(word in str(err) for word in ("positive definite", "reg_covar", "singular", "ill-defined")), err
    else:
        assert_all_finite(model)


# --------------------------------------------------------------------------- bad input


@pytest.fixture(scope="module")
def small_X():
    return np.random.default_rng(0).normal(size=(30, 2))


@pytest.mark.parametrize("kwargs, match", [
    ({"n_components": 0}, "n_components"),
    ({"reg_covar": -1e-6}, "reg_covar"),
    ({"tol": -1e-3}, "tol"),
    ({"max_iter": -1}, "max_iter"),  # 0 is allowed, as in scikit-learn: the initial parameters
    ({"covariance_type": "bogus"}, "covariance_type"),
    ({"covariance_type": "Full"}, "covariance_type"),
    ({"init_params": "bogus"}, "init_params"),
    ({"init_params": "kmeans++"}, "init_params"),
    ({"n_components": 3, "weights_init": np.array([0.5, 0.5])}, "weights"),
    ({"n_components": 2, "weights_init": np.array([0.5, 0.4])}, "weights"),
    ({"n_components": 2, "weights_init": np.array([1.5, -0.5])}, "weights"),
    ({"n_components": 2, "weights_init": np.array([[0.5, 0.5]])}, "weights"),
    ({"n_components": 2, "means_init": np.zeros((3, 2))}, "means"),
    ({"n_components": 2, "means_init": np.zeros((2, 3))}, "means"),
    ({"n_components": 2, "means_init": np.zeros(2)}, "means"),
    ({"n_components": 2, "covariance_type": "full", "precisions_init": np.stack([np.eye(2)] * 3)}, "precisions"),
    ({"n_components": 2, "covariance_type": "full", "precisions_init": np.eye(2)}, "precisions"),
    ({"n_components": 2, "covariance_type": "tied", "precisions_init": np.stack([np.eye(2)] * 2)}, "precisions"),
    ({"n_components": 2, "covariance_type": "diag", "precisions_init": np.ones((2, 3))}, "precisions"),
    ({"n_components": 2, "covariance_type": "spherical", "precisions_init": np.ones(3)}, "precisions"),
    ({"n_components": 2, "covariance_type": "full",
      "precisions_init": np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])}, "precisions|positive definite"),
    ({"n_components": 2, "covariance_type": "tied", "precisions_init": -np.eye(2)}, "precisions|positive definite"),
    ({"n_components": 2, "covariance_type": "diag", "precisions_init": np.array([[1.0, 1.0], [1.0, 0.0]])},
     "precisions|positive"),
    ({"n_components": 2, "covariance_type": "spherical", "precisions_init": np.array([1.0, -1.0])},
     "precisions|positive"),
])
def test_bad_parameters_raise(small_X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gmm.GaussianMixture(**kwargs).fit(small_X)


def test_a_precision_that_is_not_symmetric_positive_definite_raises(small_X):
    """[[1, 5], [0, 1]] has a valid Cholesky factor of its lower triangle, but x^T P x < 0 for x = (1, -1)."""
    bad = np.array([[1.0, 5.0], [0.0, 1.0]])
    for cov_type, precisions in [("full", np.stack([np.eye(2), bad])), ("tied", bad)]:
        with pytest.raises(ValueError, match="precisions|positive definite|symmetric"):
            gmm.GaussianMixture(2, covariance_type=cov_type, precisions_init=precisions).fit(small_X)


def test_means_init_with_nan_raises(small_X):
    with pytest.raises(ValueError, match="means"):
        gmm.GaussianMixture(2, means_init=np.array([[0.0, np.nan], [1.0, 1.0]])).fit(small_X)


def test_fit_does_not_modify_its_input(small_X):
    X = small_X.copy()
    gmm.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_array_equal(X, small_X)


@pytest.mark.parametrize("X, match", [
    (np.zeros(10), "2-D|2D|X"),
    (np.zeros((2, 3, 4)), "2-D|2D|X"),
    (np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0]]), "NaN|finite"),
    (np.array([[0.0, 1.0], [np.inf, 2.0], [3.0, 4.0]]), "NaN|finite"),
    (np.zeros((2, 2)) + [[0.0], [1.0]], "n_components|n_samples"),  # 2 samples, 3 components
])
def test_bad_data_raise(X, match):
    with pytest.raises(ValueError, match=match):
        gmm.GaussianMixture(3).fit(X)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"])
def test_methods_before_fit_raise(small_X, method):
    with pytest.raises(RuntimeError, match="not fitted"):
        getattr(gmm.GaussianMixture(2), method)(small_X)


def test_sample_before_fit_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        gmm.GaussianMixture(2).sample(5)


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score", "bic", "aic"])
def test_wrong_number_of_features_after_fit_raises(small_X, method):
    model = gmm.GaussianMixture(2, random_state=0).fit(small_X)
    with pytest.raises(ValueError, match="features"):
        getattr(model, method)(np.zeros((5, 3)))


def test_non_symmetric_covariances_are_rejected_not_misread():
    """Cholesky reads only the lower triangle; a non-symmetric matrix must be an error, not a silent answer."""
    X = np.random.default_rng(0).normal(size=(5, 2))
    bad = np.array([[2.0, 0.0], [1.5, 2.0]])
    with pytest.raises(ValueError, match="symmetric"):
        gmm.log_multivariate_normal_density(X, np.zeros((1, 2)), bad[None], "full")
    with pytest.raises(ValueError, match="symmetric"):
        gmm.log_multivariate_normal_density(X, np.zeros((1, 2)), bad, "tied")
    with pytest.raises(ValueError, match="symmetric"):
        gmm.mahalanobis(X, np.zeros(2), bad)


@pytest.mark.parametrize("tol, max_iter", [(1e-3, 100), (0.0, 12)])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_sklearn_stepped_with_warm_start_replays_one_fit(datasets, cov_type, tol, max_iter):
    """notebooks/02_gmm_em.ipynb (fit_both) reads scikit-learn's per-iteration log-likelihoods on any
    version by calling fit() with warm_start=True, max_iter=1 until converged_: each call must be exactly
    one more iteration of the same EM, with the same stopping rule, as one fit(max_iter=...)."""
    X = datasets["overlap2d"]
    weights, means, precisions = make_init(31, X, 3, cov_type)
    args = dict(n_components=3, covariance_type=cov_type, weights_init=weights, means_init=means,
                precisions_init=precisions, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = SkGaussianMixture(max_iter=max_iter, **args).fit(X)
        stepped = SkGaussianMixture(warm_start=True, max_iter=1, **args)
        bounds = []
        while len(bounds) < max_iter and not (bounds and stepped.converged_):
            bounds.append(stepped.fit(X).lower_bound_)
    np.testing.assert_array_equal(bounds, whole.lower_bounds_)
    assert len(bounds) == whole.n_iter_ and stepped.converged_ == whole.converged_ == (tol > 0)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(stepped, name), getattr(whole, name))
    ours = gmm.GaussianMixture(max_iter=max_iter, **args).fit(X)
    assert_close(ours.lower_bounds_, bounds, what="lower_bounds_")

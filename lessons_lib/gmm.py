"""Gaussian densities, k-means and Gaussian mixture models trained by EM.

A Gaussian mixture explains each observation :math:`\\mathbf x_n` (here: a
39-dimensional MFCC frame) by a hidden choice :math:`z_n` of one of :math:`K`
Gaussian components, made with probabilities :math:`\\pi_k`:

.. math:: p(\\mathbf x) = \\sum_{k=1}^{K} \\pi_k\\, \\mathcal N(\\mathbf x \\mid \\boldsymbol\\mu_k, \\boldsymbol\\Sigma_k).

Expectation-maximisation (EM) alternates between guessing :math:`z_n` softly
(the responsibilities :math:`\\gamma_{nk}`, E-step) and re-estimating
:math:`\\pi_k, \\boldsymbol\\mu_k, \\boldsymbol\\Sigma_k` from those guesses
(M-step); the log-likelihood never decreases.

:class:`GaussianMixture` follows ``sklearn.mixture.GaussianMixture`` step for
step (same constructor arguments, attributes and update order), so that with
the same starting parameters both produce the same numbers; ``n_init``,
``warm_start``, ``verbose`` and ``random_state`` (None, an int, a
``RandomState`` or a ``Generator``) mean what they mean there, so code written
for scikit-learn runs unchanged. Covariance shapes
follow scikit-learn: ``full`` (K, D, D), ``tied`` (D, D), ``diag`` (K, D),
``spherical`` (K,).

Chapter: ``notebooks/02_gmm_em.ipynb``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy import linalg

from ._checks import finite_array, positive_int
from .logspace import logsumexp

__all__ = [
    "COVARIANCE_TYPES",
    "NotFittedError",
    "log_multivariate_normal_density",
    "mahalanobis",
    "kmeans",
    "GaussianMixture",
    "ConvergenceWarning",
]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")


class ConvergenceWarning(UserWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled (scikit-learn's warning of that name).

    A subclass of ``UserWarning``, so ``warnings.simplefilter("ignore", UserWarning)`` silences it too.

    Examples
    --------
    >>> issubclass(ConvergenceWarning, UserWarning)
    True
    """


class NotFittedError(RuntimeError, ValueError, AttributeError):
    """A model was used before ``fit`` (or before its parameters were set).

    Also a ``ValueError`` and an ``AttributeError``, like scikit-learn's
    ``sklearn.exceptions.NotFittedError`` that scikit-learn and hmmlearn raise
    in the same place, so ``except ValueError`` written for them still catches
    it; and a ``RuntimeError``, as this module and :mod:`lessons_lib.hmm` raised
    before. :mod:`lessons_lib.hmm` raises the same class.

    Examples
    --------
    >>> try:
    ...     GaussianMixture(2).predict(np.zeros((3, 1)))
    ... except ValueError as err:
    ...     print(type(err).__name__)
    NotFittedError
    """


# --------------------------------------------------------------------------- inputs


def _as_data(X, name: str = "X") -> np.ndarray:
    X = finite_array(X, name, allow_complex=False)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D, shape (n_samples, n_features), got shape {X.shape}")
    return X.astype(np.float64, copy=False)


def _rng(random_state) -> np.random.Generator:
    """A ``numpy.random.Generator`` for ``random_state``, accepting what ``sklearn.utils.check_random_state`` does.

    ``None``: numpy's global random state (the stream ``np.random.seed`` resets), consumed as
    scikit-learn and hmmlearn consume it; an int >= 0: a new generator seeded with it (numpy's default
    PCG64, so the draws differ from scikit-learn's ``RandomState(int)``); a ``numpy.random.RandomState``:
    its stream, which advances as draws are taken (as in scikit-learn); a ``numpy.random.Generator``:
    itself. Anything else: TypeError.
    """
    if random_state is None:
        return np.random.Generator(np.random.get_bit_generator())
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be a non-negative int, got {random_state}")
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.Generator(random_state._bit_generator)  # shares (and advances) its state
    raise TypeError("random_state must be None, an int, a numpy.random.RandomState or a numpy.random.Generator, "
                    f"got {type(random_state).__name__}")


def _check_covariance_type(covariance_type) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"covariance_type must be one of {COVARIANCE_TYPES}, got {covariance_type!r}")
    return covariance_type


def _check_symmetric(matrices: np.ndarray, name: str) -> None:
    """Cholesky reads one triangle only: a non-symmetric 'covariance' would be silently misread."""
    if not np.allclose(matrices, np.swapaxes(matrices, -1, -2)):
        raise ValueError(f"{name} must be symmetric positive definite: a matrix is not symmetric")


def _covariance_shape(covariance_type: str, n_components: int, n_features: int) -> tuple:
    return {"full": (n_components, n_features, n_features), "tied": (n_features, n_features),
            "diag": (n_components, n_features), "spherical": (n_components,)}[covariance_type]


# --------------------------------------------------------------------------- densities


def _precision_cholesky(covariances: np.ndarray, covariance_type: str) -> np.ndarray:
    """Cholesky factors :math:`U` of the precisions, :math:`\\Sigma^{-1} = U U^T` (lower-triangular inverse)."""
    message = ("covariance is not positive definite (a component may have collapsed onto too few points); "
               "increase reg_covar or use fewer components")
    if covariance_type in ("full", "tied"):
        covs = covariances[None] if covariance_type == "tied" else covariances
        out = np.empty_like(covs)
        eye = np.eye(covs.shape[-1])
        for k, cov in enumerate(covs):
            try:
                chol = linalg.cholesky(cov, lower=True)
            except linalg.LinAlgError:
                raise ValueError(message) from None
            out[k] = linalg.solve_triangular(chol, eye, lower=True).T
        return out[0] if covariance_type == "tied" else out
    if np.any(covariances <= 0.0):
        raise ValueError(message)
    return 1.0 / np.sqrt(covariances)


def _log_det_cholesky(precisions_chol: np.ndarray, covariance_type: str, n_features: int) -> np.ndarray:
    """:math:`\\log \\det U = -\\tfrac12 \\log \\det \\Sigma`, per component."""
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diag(precisions_chol)))
    if covariance_type == "diag":
        return np.sum(np.log(precisions_chol), axis=1)
    return n_features * np.log(precisions_chol)


def _log_gaussian(X: np.ndarray, means: np.ndarray, precisions_chol: np.ndarray, covariance_type: str) -> np.ndarray:
    """:math:`\\log \\mathcal N(x_n \\mid \\mu_k, \\Sigma_k)` for all n, k, from the precision Cholesky factors.

    The quadratic form :math:`(x - \\mu)^T \\Sigma^{-1} (x - \\mu) = \\lVert U^T (x - \\mu) \\rVert^2`;
    for diagonal and spherical covariances it is expanded into three matrix
    products so that no (n, K, D) array is ever formed.
    """
    n_samples, n_features = X.shape
    if covariance_type in ("full", "tied"):
        quad = np.empty((n_samples, means.shape[0]))
        for k, mu in enumerate(means):
            U = precisions_chol if covariance_type == "tied" else precisions_chol[k]
            y = X @ U - mu @ U
            quad[:, k] = np.sum(np.square(y), axis=1)
    elif covariance_type == "diag":
        precisions = precisions_chol**2
        quad = np.sum(means**2 * precisions, axis=1) - 2.0 * (X @ (means * precisions).T) + (X**2) @ precisions.T
    else:
        precisions = precisions_chol**2
        quad = (np.sum(means**2, axis=1) * precisions - 2.0 * (X @ means.T * precisions)
                + np.outer(np.einsum("ij,ij->i", X, X), precisions))
    log_det = _log_det_cholesky(precisions_chol, covariance_type, n_features)
    return -0.5 * (n_features * np.log(2 * np.pi) + quad) + log_det


def log_multivariate_normal_density(X: np.ndarray, means: np.ndarray, covariances: np.ndarray,
                                    covariance_type: str = "full") -> np.ndarray:
    """Log-density of every sample under every Gaussian component.

    .. math:: \\log \\mathcal N(\\mathbf x \\mid \\boldsymbol\\mu, \\boldsymbol\\Sigma)
              = -\\tfrac12 \\left( D \\log 2\\pi + \\log \\det \\boldsymbol\\Sigma
              + (\\mathbf x - \\boldsymbol\\mu)^T \\boldsymbol\\Sigma^{-1} (\\mathbf x - \\boldsymbol\\mu) \\right)

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    means : ndarray, shape (n_components, n_features)
    covariances : ndarray
        ``full``: (n_components, n_features, n_features); ``tied``:
        (n_features, n_features); ``diag``: (n_components, n_features) variances;
        ``spherical``: (n_components,) one variance per component.
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"

    Returns
    -------
    ndarray, shape (n_samples, n_components)
        Equal to ``scipy.stats.multivariate_normal(mean, cov).logpdf(X)`` per component.

    Raises
    ------
    ValueError
        For mismatched shapes or a covariance that is not positive definite.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0]])
    >>> np.round(log_multivariate_normal_density(X, np.zeros((1, 2)), np.eye(2)[None]), 4)
    array([[-1.8379],
           [-2.8379]])
    """
    X = _as_data(X)
    covariance_type = _check_covariance_type(covariance_type)
    means = _as_data(means, "means")
    covariances = finite_array(covariances, "covariances", allow_complex=False).astype(np.float64, copy=False)
    if means.shape[1] != X.shape[1]:
        raise ValueError(f"means has {means.shape[1]} features but X has {X.shape[1]}")
    expected = _covariance_shape(covariance_type, means.shape[0], X.shape[1])
    if covariances.shape != expected:
        raise ValueError(f"covariances for covariance_type={covariance_type!r} must have shape {expected}, "
                         f"got {covariances.shape}")
    if covariance_type in ("full", "tied"):
        _check_symmetric(covariances, "covariances")
    return _log_gaussian(X, means, _precision_cholesky(covariances, covariance_type), covariance_type)


def mahalanobis(X: np.ndarray, mean: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of each sample from ``mean``.

    .. math:: d^2(\\mathbf x) = (\\mathbf x - \\boldsymbol\\mu)^T \\boldsymbol\\Sigma^{-1} (\\mathbf x - \\boldsymbol\\mu)

    The distance in units of the distribution's own spread: the Gaussian's
    density is constant on each surface of constant :math:`d`.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    mean : ndarray, shape (n_features,)
    covariance : ndarray, shape (n_features, n_features), positive definite

    Returns
    -------
    ndarray, shape (n_samples,)
        Equal to ``scipy.spatial.distance.mahalanobis(x, mean, inv(covariance)) ** 2`` per row.

    Examples
    --------
    >>> mahalanobis(np.array([[2.0, 0.0]]), np.zeros(2), np.diag([4.0, 1.0]))
    array([1.])
    """
    X = _as_data(X)
    mean = finite_array(mean, "mean", allow_complex=False).astype(np.float64, copy=False)
    if mean.shape != (X.shape[1],):
        raise ValueError(f"mean must have shape ({X.shape[1]},), got {mean.shape}")
    covariance = finite_array(covariance, "covariance", allow_complex=False).astype(np.float64, copy=False)
    if covariance.shape != (X.shape[1], X.shape[1]):
        raise ValueError(f"covariance must have shape ({X.shape[1]}, {X.shape[1]}), got {covariance.shape}")
    _check_symmetric(covariance, "covariance")
    U = _precision_cholesky(covariance[None], "full")[0]
    return np.sum(np.square((X - mean) @ U), axis=1)


# --------------------------------------------------------------------------- k-means


def _squared_distances(X: np.ndarray, centers: np.ndarray) -> np.ndarray:
    d = np.einsum("ij,ij->i", X, X)[:, None] - 2.0 * X @ centers.T + np.einsum("ij,ij->i", centers, centers)
    return np.maximum(d, 0.0)


def _kmeans_plusplus(X: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding: each new centre drawn with probability proportional to :math:`D(x)^2`."""
    n_samples = X.shape[0]
    centers = np.empty((n_clusters, X.shape[1]))
    centers[0] = X[rng.integers(n_samples)]
    closest = _squared_distances(X, centers[:1])[:, 0]
    for c in range(1, n_clusters):
        total = closest.sum()
        index = rng.integers(n_samples) if total == 0 else rng.choice(n_samples, p=closest / total)
        centers[c] = X[index]
        closest = np.minimum(closest, _squared_distances(X, centers[c:c + 1])[:, 0])
    return centers


def kmeans(X: np.ndarray, n_clusters: int, *, init="k-means++", max_iter: int = 300, tol: float = 1e-4,
           random_state=None) -> tuple[np.ndarray, np.ndarray, float, int]:
    """k-means clustering by Lloyd's algorithm: hard assignments, then centroids, repeated.

    Minimises the inertia :math:`J = \\sum_n \\lVert \\mathbf x_n - \\boldsymbol\\mu_{z_n} \\rVert^2`
    by alternating

    .. math:: z_n = \\arg\\min_k \\lVert \\mathbf x_n - \\boldsymbol\\mu_k \\rVert^2, \\qquad
              \\boldsymbol\\mu_k = \\frac{1}{|\\{n : z_n = k\\}|} \\sum_{n : z_n = k} \\mathbf x_n,

    the limit of EM for a mixture of spherical Gaussians whose variance goes to 0.
    Stops when no assignment changes, or when the centres move by at most
    ``tol`` times the mean per-feature variance of ``X`` (scikit-learn's rule);
    the labels are then recomputed for the final centres.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_features)
    n_clusters : int
        :math:`K`, at most ``n_samples``.
    init : "k-means++" or ndarray of shape (n_clusters, n_features), default "k-means++"
        Starting centres, or k-means++ seeding with ``random_state``.
    max_iter : int, default 300
    tol : float, default 1e-4
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        As scikit-learn's ``check_random_state`` (None: numpy's global state),
        plus a Generator; see :class:`GaussianMixture`.

    Returns
    -------
    centers : ndarray, shape (n_clusters, n_features)
    labels : ndarray of int64, shape (n_samples,)
    inertia : float
    n_iter : int
        With an ``init`` array, all four equal ``sklearn.cluster.KMeans(n_clusters,
        init=init, n_init=1, algorithm="lloyd")`` (while no cluster empties; an
        empty cluster keeps its previous centre here).

    Examples
    --------
    >>> X = np.array([[0.0], [0.2], [10.0], [10.2]])
    >>> centers, labels, inertia, n_iter = kmeans(X, 2, init=np.array([[0.0], [10.0]]))
    >>> centers.ravel(), labels
    (array([ 0.1, 10.1]), array([0, 0, 1, 1]))
    """
    X = _as_data(X)
    n_clusters = positive_int(n_clusters, "n_clusters")
    max_iter = positive_int(max_iter, "max_iter")
    if n_clusters > X.shape[0]:
        raise ValueError(f"n_clusters={n_clusters} must not exceed n_samples={X.shape[0]}")
    if not tol >= 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if isinstance(init, str):
        if init != "k-means++":
            raise ValueError(f"init must be 'k-means++' or an array of centres, got {init!r}")
        centers = _kmeans_plusplus(X, n_clusters, _rng(random_state))
    else:
        centers = _as_data(init, "init").copy()
        if centers.shape != (n_clusters, X.shape[1]):
            raise ValueError(f"init must have shape ({n_clusters}, {X.shape[1]}), got {centers.shape}")
    threshold = tol * np.mean(np.var(X, axis=0))
    n_samples = X.shape[0]
    labels_old = np.full(n_samples, -1)
    strict = False
    # Buffers reused by every iteration: allocating fresh (n, K) arrays each time costs more than the arithmetic.
    scores = np.empty((n_samples, n_clusters))
    onehot = np.zeros((n_clusters, n_samples))
    rows = np.arange(n_samples)

    def nearest(centers):
        # argmin_k |x - c_k|^2 = argmin_k (|c_k|^2 - 2 x.c_k): |x|^2 is the same for every k
        np.matmul(X, centers.T, out=scores)
        np.multiply(scores, -2.0, out=scores)
        np.add(scores, np.einsum("ij,ij->i", centers, centers), out=scores)
        return np.argmin(scores, axis=1)

    for n_iter in range(1, max_iter + 1):
        labels = nearest(centers)
        onehot.fill(0.0)
        onehot[labels, rows] = 1.0
        counts = onehot.sum(axis=1)
        sums = onehot @ X  # per-cluster sums as one matrix product
        new = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], centers)
        shift = np.sum((new - centers) ** 2)
        centers = new
        if np.array_equal(labels, labels_old):
            strict = True
            break
        if shift <= threshold:
            break
        labels_old = labels
    if not strict:
        labels = nearest(centers)
    inertia = float(np.sum((X - centers[labels]) ** 2))
    return centers, labels.astype(np.int64), inertia, n_iter


# --------------------------------------------------------------------------- the mixture


def _estimate_gaussian_parameters(X, resp, reg_covar, covariance_type):
    """M-step sufficient statistics: :math:`N_k`, means and covariances from responsibilities."""
    nk = resp.sum(axis=0) + 10 * np.finfo(resp.dtype).eps
    means = resp.T @ X / nk[:, None]
    if covariance_type == "full":
        n_features = X.shape[1]
        covariances = np.empty((len(nk), n_features, n_features))
        for k in range(len(nk)):
            diff = X - means[k]
            covariances[k] = (resp[:, k] * diff.T) @ diff / nk[k]
            covariances[k].flat[:: n_features + 1] += reg_covar
    elif covariance_type == "tied":
        covariances = X.T @ X - (nk * means.T) @ means
        covariances /= nk.sum()
        covariances.flat[:: len(covariances) + 1] += reg_covar
    else:
        diag = (resp.T @ (X * X)) / nk[:, None] - means**2 + reg_covar
        covariances = diag if covariance_type == "diag" else diag.mean(axis=1)
    return nk, means, covariances


def _precisions_from_cholesky(precisions_chol, covariance_type):
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", precisions_chol, precisions_chol)
    if covariance_type == "tied":
        return precisions_chol @ precisions_chol.T
    return precisions_chol**2


class GaussianMixture:
    """A Gaussian mixture model fitted by expectation-maximisation.

    E-step: responsibilities by Bayes' rule, in log space,

    .. math:: \\gamma_{nk} = \\frac{\\pi_k \\mathcal N(\\mathbf x_n \\mid \\boldsymbol\\mu_k, \\boldsymbol\\Sigma_k)}
              {\\sum_{j} \\pi_j \\mathcal N(\\mathbf x_n \\mid \\boldsymbol\\mu_j, \\boldsymbol\\Sigma_j)}.

    M-step: with :math:`N_k = \\sum_n \\gamma_{nk}`,

    .. math:: \\pi_k = \\frac{N_k}{N}, \\quad
              \\boldsymbol\\mu_k = \\frac{1}{N_k} \\sum_n \\gamma_{nk} \\mathbf x_n, \\quad
              \\boldsymbol\\Sigma_k = \\frac{1}{N_k} \\sum_n \\gamma_{nk}
              (\\mathbf x_n - \\boldsymbol\\mu_k)(\\mathbf x_n - \\boldsymbol\\mu_k)^T + \\epsilon I,

    with :math:`\\epsilon` = ``reg_covar``. The quantity monitored is the mean
    log-likelihood :math:`\\frac1N \\sum_n \\log p(\\mathbf x_n)`, which EM never
    decreases; fitting stops when it changes by less than ``tol``.

    Parameters
    ----------
    n_components : int, default 1
    covariance_type : {"full", "tied", "diag", "spherical"}, default "full"
    tol : float, default 1e-3
    reg_covar : float, default 1e-6
        Added to every variance; keeps a component that collapses onto a few
        points from reaching a singular covariance (infinite likelihood).
    max_iter : int, default 100
        EM iterations per initialisation; 0 keeps the initial parameters (as scikit-learn).
    n_init : int, default 1
        Number of initialisations: EM is run from each, and the run whose final
        ``lower_bound_`` is largest is kept, with its ``converged_``, ``n_iter_``
        and ``lower_bounds_``. Each initialisation draws from the same
        ``random_state`` stream, one after another.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default "kmeans"
        Starting responsibilities: k-means labels (ours, :func:`kmeans`),
        k-means++ seeds, uniform random weights, or random data points.
    weights_init, means_init, precisions_init : ndarray, optional
        Starting parameters (scikit-learn's shapes). If all three are given,
        no initialisation is run.
    random_state : None, int, numpy.random.RandomState or numpy.random.Generator
        What ``sklearn.utils.check_random_state`` accepts, plus a Generator:
        ``None`` draws from numpy's global random state (``np.random.seed``
        makes it repeatable), an int seeds a new generator (numpy's default,
        so the initialisations differ from scikit-learn's, whose k-means
        differs anyway), a ``RandomState`` or ``Generator`` is drawn from and
        advances. Also used by :meth:`sample`.
    warm_start : bool, default False
        If True, every ``fit`` after the first starts from the parameters the
        previous one ended with (``n_init`` is then 1, and the first
        iteration's change is measured from the previous ``lower_bound_``), as
        scikit-learn does; ``fit(X)`` with ``max_iter=1`` then runs one EM
        iteration per call.
    verbose : int, default 0
        1 prints each initialisation and every ``verbose_interval``-th
        iteration to stdout, 2 adds times and log-likelihood changes, in
        scikit-learn's format.
    verbose_interval : int, default 10

    Attributes
    ----------
    weights_ : ndarray, shape (n_components,)
    means_ : ndarray, shape (n_components, n_features)
    covariances_, precisions_, precisions_cholesky_ : ndarray
        Shapes by ``covariance_type`` as in scikit-learn.
    converged_ : bool
        Whether the kept run stopped because the change fell below ``tol``.
    n_iter_ : int
        Iterations of the kept run.
    lower_bound_ : float
        Mean log-likelihood per sample at the last iteration of the kept run
        (``-inf`` when ``max_iter=0``).
    lower_bounds_ : list of float
        The same, after every iteration of the kept run: non-decreasing.
    n_features_in_ : int

    Raises
    ------
    ValueError, TypeError
        From ``fit``, for a parameter out of its range or of the wrong type
        (named in the message), or data of the wrong shape.

    Warns
    -----
    ConvergenceWarning
        When the kept run stopped at ``max_iter`` before converging.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.normal(-3, 1, (100, 1)), rng.normal(3, 1, (100, 1))])
    >>> g = GaussianMixture(2, random_state=0).fit(X)
    >>> np.round(np.sort(g.means_.ravel()))
    array([-3.,  3.])
    >>> bool(np.all(np.diff(g.lower_bounds_) >= 0))
    True

    Several initialisations keep the best; a warm start continues one iteration at a time:

    >>> best = GaussianMixture(2, n_init=3, init_params="random", random_state=0).fit(X)
    >>> bool(best.lower_bound_ >= GaussianMixture(2, init_params="random", random_state=0).fit(X).lower_bound_)
    True
    >>> stepper = GaussianMixture(2, warm_start=True, max_iter=1, random_state=0)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", ConvergenceWarning)  # one iteration per call, on purpose
    ...     bounds = [stepper.fit(X).lower_bound_ for _ in range(3)]
    >>> bool(np.all(np.diff(bounds) >= 0))
    True
    """

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full", tol: float = 1e-3,
                 reg_covar: float = 1e-6, max_iter: int = 100, n_init: int = 1, init_params: str = "kmeans",
                 weights_init=None, means_init=None, precisions_init=None, random_state=None,
                 warm_start: bool = False, verbose: int = 0, verbose_interval: int = 10):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    def __repr__(self) -> str:
        return (f"GaussianMixture(n_components={self.n_components}, covariance_type={self.covariance_type!r}, "
                f"max_iter={self.max_iter}, n_init={self.n_init})")

    # ------------------------------------------------------------------ checks

    def _check_parameters(self, X: np.ndarray) -> None:
        positive_int(self.n_components, "n_components")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, (int, np.integer)):
            raise TypeError(f"max_iter must be an int >= 0, got {type(self.max_iter).__name__}")
        if self.max_iter < 0:
            raise ValueError(f"max_iter must be an int >= 0, got {self.max_iter}")
        positive_int(self.n_init, "n_init", "an int >= 1")
        if not isinstance(self.warm_start, (bool, np.bool_)):
            raise TypeError(f"warm_start must be True or False, got {self.warm_start!r}")
        if not isinstance(self.verbose, (int, np.integer)) or self.verbose < 0:
            raise ValueError(f"verbose must be an int >= 0 (0, 1 or 2), got {self.verbose!r}")
        positive_int(self.verbose_interval, "verbose_interval")
        _check_covariance_type(self.covariance_type)
        if self.init_params not in INIT_PARAMS:
            raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {self.init_params!r}")
        if not self.tol >= 0:
            raise ValueError(f"tol must be >= 0, got {self.tol}")
        if not self.reg_covar >= 0:
            raise ValueError(f"reg_covar must be >= 0, got {self.reg_covar}")
        n_samples, n_features = X.shape
        if self.n_components > n_samples:
            raise ValueError(f"n_components={self.n_components} must not exceed n_samples={n_samples}")
        K = self.n_components
        if self.weights_init is not None:
            w = finite_array(np.asarray(self.weights_init, dtype=np.float64), "weights_init")
            if w.shape != (K,):
                raise ValueError(f"weights_init must have shape ({K},), got {w.shape}")
            if np.any(w < 0) or np.any(w > 1) or not np.isclose(w.sum(), 1.0):
                raise ValueError(f"weights_init must be in [0, 1] and sum to 1, got sum {w.sum()}")
        if self.means_init is not None:
            m = finite_array(np.asarray(self.means_init, dtype=np.float64), "means_init")
            if m.shape != (K, n_features):
                raise ValueError(f"means_init must have shape ({K}, {n_features}), got {m.shape}")
        if self.precisions_init is not None:
            p = finite_array(np.asarray(self.precisions_init, dtype=np.float64), "precisions_init")
            expected = _covariance_shape(self.covariance_type, K, n_features)
            if p.shape != expected:
                raise ValueError(f"precisions_init for covariance_type={self.covariance_type!r} must have shape "
                                 f"{expected}, got {p.shape}")
            self._precision_cholesky_from_precisions(p)  # raises if not positive definite

    def _precision_cholesky_from_precisions(self, precisions: np.ndarray) -> np.ndarray:
        if self.covariance_type in ("full", "tied"):
            mats = precisions[None] if self.covariance_type == "tied" else precisions
            _check_symmetric(mats, "precisions_init")
            try:
                chol = np.array([linalg.cholesky(p, lower=True) for p in mats])
            except linalg.LinAlgError:
                raise ValueError("precisions_init must be symmetric positive definite") from None
            return chol[0] if self.covariance_type == "tied" else chol
        if np.any(precisions <= 0):
            raise ValueError("precisions_init must be positive")
        return np.sqrt(precisions)

    def _check_fitted(self, X) -> np.ndarray:
        if not hasattr(self, "means_"):
            raise NotFittedError("this GaussianMixture is not fitted yet: call fit(X) first")
        X = _as_data(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but the model was fitted with {self.n_features_in_}")
        return X

    # ------------------------------------------------------------------ EM

    def _initialize(self, X: np.ndarray, rng: np.random.Generator) -> None:
        n_samples, _ = X.shape
        K = self.n_components
        resp = None
        if self.weights_init is None or self.means_init is None or self.precisions_init is None:
            resp = np.zeros((n_samples, K))
            if self.init_params == "kmeans":
                _, labels, _, _ = kmeans(X, K, random_state=rng)
                resp[np.arange(n_samples), labels] = 1.0
            elif self.init_params == "k-means++":
                seeds = _kmeans_plusplus(X, K, rng)
                indices = [int(np.flatnonzero((X == s).all(axis=1))[0]) for s in seeds]
                resp[indices, np.arange(K)] = 1.0
            elif self.init_params == "random":
                resp = rng.uniform(size=(n_samples, K))
                resp /= resp.sum(axis=1, keepdims=True)
            else:  # random_from_data
                resp[rng.choice(n_samples, size=K, replace=False), np.arange(K)] = 1.0
            weights, means, covariances = _estimate_gaussian_parameters(X, resp, self.reg_covar, self.covariance_type)
            weights = weights / n_samples
        self.weights_ = weights if self.weights_init is None else np.asarray(self.weights_init, dtype=np.float64)
        self.means_ = means if self.means_init is None else np.asarray(self.means_init, dtype=np.float64)
        if self.precisions_init is None:
            self.covariances_ = covariances
            self.precisions_cholesky_ = _precision_cholesky(covariances, self.covariance_type)
        else:
            precisions = np.asarray(self.precisions_init, dtype=np.float64)
            self.precisions_cholesky_ = self._precision_cholesky_from_precisions(precisions)
            self.covariances_ = np.linalg.inv(precisions) if self.covariance_type in ("full", "tied") \
                else 1.0 / precisions

    def _weighted_log_prob(self, X: np.ndarray) -> np.ndarray:
        """:math:`\\log \\pi_k + \\log \\mathcal N(x_n \\mid \\mu_k, \\Sigma_k)`, shape (n_samples, n_components)."""
        return _log_gaussian(X, self.means_, self.precisions_cholesky_, self.covariance_type) + np.log(self.weights_)

    def _e_step(self, X: np.ndarray) -> tuple[float, np.ndarray]:
        """Mean log-likelihood and log-responsibilities :math:`\\log \\gamma_{nk}`."""
        weighted = self._weighted_log_prob(X)
        log_norm = logsumexp(weighted, axis=1)
        return float(np.mean(log_norm)), weighted - log_norm[:, None]

    def _m_step(self, X: np.ndarray, log_resp: np.ndarray) -> None:
        nk, self.means_, self.covariances_ = _estimate_gaussian_parameters(
            X, np.exp(log_resp), self.reg_covar, self.covariance_type)
        self.weights_ = nk / nk.sum()
        self.precisions_cholesky_ = _precision_cholesky(self.covariances_, self.covariance_type)

    def fit(self, X: np.ndarray, y=None) -> GaussianMixture:
        """Estimate the parameters with EM; see the class docstring.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        y : ignored
            Accepted for scikit-learn's calling convention.

        Returns
        -------
        GaussianMixture
            ``self``, fitted.

        Examples
        --------
        >>> X = np.random.default_rng(0).normal(size=(50, 2))
        >>> GaussianMixture(2, random_state=0).fit(X).means_.shape
        (2, 2)
        """
        self.fit_predict(X)
        return self

    def fit_predict(self, X: np.ndarray, y=None) -> np.ndarray:
        """Fit, then return the most responsible component of each sample.

        EM from each of ``n_init`` initialisations (one, continuing from the
        previous fit, under ``warm_start``); the run with the largest final
        lower bound is kept.

        Parameters
        ----------
        X : ndarray, shape (n_samples, n_features)
        y : ignored
            Accepted for scikit-learn's calling convention.

        Returns
        -------
        ndarray of int64, shape (n_samples,)

        Examples
        --------
        >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
        >>> labels = GaussianMixture(2, random_state=0).fit_predict(X)
        >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
        True
        """
        X = _as_data(X)
        self._check_parameters(X)
        do_init = not (self.warm_start and hasattr(self, "converged_"))  # warm start: continue the last fit
        if not do_init and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but the warm-started model has {self.n_features_in_}")
        self.n_features_in_ = X.shape[1]
        rng = _rng(self.random_state)
        self.converged_ = False
        best_bound, best = -np.inf, None
        for init in range(self.n_init if do_init else 1):
            self._report_init_begin(init)
            if do_init:
                self._initialize(X, rng)
            lower_bound = -np.inf if do_init else self.lower_bound_
            lower_bounds, converged, n_iter = [], False, 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                lower_bound, log_resp = self._e_step(X)
                self._m_step(X, log_resp)
                lower_bounds.append(lower_bound)
                self._report_iteration(n_iter, lower_bound - previous)
                if abs(lower_bound - previous) < self.tol:
                    converged = True
                    break
            if self.max_iter == 0:  # the initial parameters, as they are (the last initialisation's)
                best = (self._get_parameters(), 0, [], False)
            else:
                self._report_init_end(lower_bound, converged)
                if lower_bound > best_bound or best_bound == -np.inf:
                    best_bound, best = lower_bound, (self._get_parameters(), n_iter, lower_bounds, converged)
        params, self.n_iter_, self.lower_bounds_, self.converged_ = best
        self._set_parameters(params)
        self.lower_bound_ = best_bound
        if not self.converged_ and self.max_iter > 0:
            warnings.warn("Best performing initialization did not converge. Try different init parameters, or "
                          f"increase max_iter (now {self.max_iter}), tol, or check for degenerate data.",
                          ConvergenceWarning, stacklevel=2)
        _, log_resp = self._e_step(X)  # labels consistent with predict(X) after fitting
        return log_resp.argmax(axis=1)

    def _get_parameters(self) -> tuple:
        return self.weights_, self.means_, self.covariances_, self.precisions_cholesky_

    def _set_parameters(self, params: tuple) -> None:
        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_ = params

    # ------------------------------------------------------------------ verbose output, scikit-learn's format

    def _report_init_begin(self, init: int) -> None:
        if self.verbose >= 1:
            print(f"Initialization {init}")
            self._init_time = self._iter_time = time.time()

    def _report_iteration(self, n_iter: int, change: float) -> None:
        if self.verbose >= 1 and n_iter % self.verbose_interval == 0:
            if self.verbose == 1:
                print(f"  Iteration {n_iter}")
            else:
                now = time.time()
                print(f"  Iteration {n_iter}\t time lapse {now - self._iter_time:.5f}s\t ll change {change:.5f}")
                self._iter_time = now

    def _report_init_end(self, lower_bound: float, converged: bool) -> None:
        message = "converged" if converged else "did not converge"
        if self.verbose == 1:
            print(f"Initialization {message}.")
        elif self.verbose >= 2:
            print(f"Initialization {message}. time lapse {time.time() - self._init_time:.5f}s\t "
                  f"lower bound {lower_bound:.5f}.")

    @property
    def precisions_(self) -> np.ndarray:
        """Inverse covariances, shaped like ``covariances_``."""
        return _precisions_from_cholesky(self.precisions_cholesky_, self.covariance_type)

    # ------------------------------------------------------------------ using a fitted model

    def score_samples(self, X: np.ndarray) -> np.ndarray:
        """Log-likelihood of each sample, :math:`\\log p(\\mathbf x_n) = \\log \\sum_k \\pi_k \\mathcal N(\\mathbf x_n \\mid \\cdot)`.

        Returns
        -------
        ndarray, shape (n_samples,)

        Examples
        --------
        >>> g = GaussianMixture(1, random_state=0).fit(np.array([[0.0], [1.0], [2.0]]))
        >>> g.score_samples(np.array([[1.0]])).shape
        (1,)
        """
        return logsumexp(self._weighted_log_prob(self._check_fitted(X)), axis=1)

    def score(self, X: np.ndarray) -> float:
        """Mean log-likelihood per sample.

        Examples
        --------
        >>> X = np.array([[0.0], [1.0], [2.0]])
        >>> g = GaussianMixture(1, random_state=0).fit(X)
        >>> bool(np.isclose(g.score(X), g.lower_bound_, atol=1e-3))
        True
        """
        return float(np.mean(self.score_samples(X)))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Responsibilities :math:`\\gamma_{nk}`: the posterior probability of each component.

        Returns
        -------
        ndarray, shape (n_samples, n_components); rows sum to 1.

        Examples
        --------
        >>> g = GaussianMixture(2, random_state=0).fit(np.array([[0.0], [0.1], [5.0], [5.1]]))
        >>> np.allclose(g.predict_proba(np.array([[0.0]])).sum(axis=1), 1.0)
        True
        """
        weighted = self._weighted_log_prob(self._check_fitted(X))
        return np.exp(weighted - logsumexp(weighted, axis=1)[:, None])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The most responsible component of each sample, :math:`\\arg\\max_k \\gamma_{nk}`.

        Examples
        --------
        >>> g = GaussianMixture(2, random_state=0).fit(np.array([[0.0], [0.1], [5.0], [5.1]]))
        >>> bool(g.predict(np.array([[0.05]]))[0] == g.predict(np.array([[0.0]]))[0])
        True
        """
        return self._weighted_log_prob(self._check_fitted(X)).argmax(axis=1)

    def _n_parameters(self) -> int:
        K, D = self.means_.shape
        covariance = {"full": K * D * (D + 1) / 2, "diag": K * D, "tied": D * (D + 1) / 2,
                      "spherical": K}[self.covariance_type]
        return int(covariance + K * D + K - 1)

    def bic(self, X: np.ndarray) -> float:
        """Bayesian information criterion, :math:`-2 \\log L + p \\log N` (lower is better).

        :math:`p` counts the free parameters: means, covariances and
        :math:`K - 1` weights.

        Examples
        --------
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> g = GaussianMixture(1).fit(X)
        >>> bool(np.isclose(g.bic(X), -2 * g.score(X) * 100 + 2 * np.log(100)))
        True
        """
        X = self._check_fitted(X)
        return float(-2 * self.score(X) * X.shape[0] + self._n_parameters() * np.log(X.shape[0]))

    def aic(self, X: np.ndarray) -> float:
        """Akaike information criterion, :math:`-2 \\log L + 2p`.

        Examples
        --------
        >>> X = np.random.default_rng(0).normal(size=(100, 1))
        >>> g = GaussianMixture(1).fit(X)
        >>> bool(np.isclose(g.aic(X), -2 * g.score(X) * 100 + 2 * 2))
        True
        """
        X = self._check_fitted(X)
        return float(-2 * self.score(X) * X.shape[0] + 2 * self._n_parameters())

    def sample(self, n_samples: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Draw from the generative story: :math:`z \\sim \\text{Cat}(\\pi)`, then :math:`\\mathbf x \\sim \\mathcal N(\\mu_z, \\Sigma_z)`.

        The draws come from ``random_state`` as scikit-learn's do: an int gives
        the same draws at every call, a ``RandomState`` or ``Generator``
        advances, ``None`` uses numpy's global state.

        Parameters
        ----------
        n_samples : int, default 1

        Returns
        -------
        X : ndarray, shape (n_samples, n_features)
        z : ndarray of int64, shape (n_samples,)
            The component each sample came from (grouped by component, as scikit-learn).

        Raises
        ------
        NotFittedError
            Before ``fit``.
        ValueError, TypeError
            For ``n_samples`` that is not a positive int.

        Examples
        --------
        >>> g = GaussianMixture(2, random_state=0).fit(np.array([[0.0], [0.1], [5.0], [5.1]]))
        >>> X, z = g.sample(10)
        >>> X.shape, z.shape
        ((10, 1), (10,))
        """
        if not hasattr(self, "means_"):
            raise NotFittedError("this GaussianMixture is not fitted yet: call fit(X) first")
        n_samples = positive_int(n_samples, "n_samples")
        rng = _rng(self.random_state)
        counts = rng.multinomial(n_samples, self.weights_ / self.weights_.sum())
        covariances = getattr(self, "covariances_", None)
        if covariances is None:
            covariances = np.linalg.inv(self.precisions_) if self.covariance_type in ("full", "tied") \
                else 1.0 / self.precisions_
        parts = []
        for k, (mean, count) in enumerate(zip(self.means_, counts)):
            if self.covariance_type == "full":
                parts.append(rng.multivariate_normal(mean, covariances[k], count))
            elif self.covariance_type == "tied":
                parts.append(rng.multivariate_normal(mean, covariances, count))
            else:
                scale = np.sqrt(covariances[k])
                parts.append(mean + rng.standard_normal((count, mean.shape[0])) * scale)
        z = np.repeat(np.arange(self.n_components), counts).astype(np.int64)
        return np.vstack(parts), z

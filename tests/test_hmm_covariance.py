"""lessons_lib.hmm: the "spherical" and "tied" covariance types of GaussianHMM and GMMHMM.

Reference: hmmlearn 0.3.3, as in tests/test_hmm_models.py (whose helpers this file imports). Both
libraries start from the same hand-set parameters (``init_params=""``); after 1, 2 and 4 Baum-Welch
iterations every parameter and ``monitor_.history`` agree at rtol 1e-7 (history 1e-9), on several
sequences of different lengths with a length-1 sequence among them, with hmmlearn's default priors and
with non-default ones, for several seeds, and with ``params`` subsets; a hypothesis property repeats
one iteration on random models of 1-4 states and 1-4 features (where a component's posteriors all
underflow, hmmlearn divides by zero and ours keeps the previous value). Inference (log_frameprob,
score, score_samples, predict_proba, decode viterbi and map, predict, aic, bic) equals hmmlearn's;
log_frameprob also equals densities computed here from scipy. ``covars_`` has hmmlearn's shapes:
GaussianHMM spherical (N,) (hmmlearn's ``_covars_`` after an M-step holds the same variance repeated
per feature, (N, D)), tied (D, D); GMMHMM spherical (N, K), tied (N, D, D). Also: a flat-started word
model of 13-dimensional frames trained as the chapter does; flat_start / emission_params_from_states
against their definitions; the starting covariances of ``fit``; samples (shapes, reproducibility,
per-state moments); save/load round trips; and bad covariances refused with a ValueError that names
``covars_``.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hmmlearn import hmm as hl
from hypothesis import given, settings, strategies as st
from threadpoolctl import threadpool_limits

from lessons_lib import hmm

from .test_hmm_models import (  # noqa: F401  (one_blas_thread, quiet_hmmlearn: autouse fixtures)
    LENGTHS,
    RTOL,
    assert_close,
    assert_same_history,
    one_blas_thread,
    quiet_hmmlearn,
    random_spd,
    word_like_sequences,
)

pytestmark = [
    # hmmlearn's GMMHMM runs sklearn's KMeans inside fit() even with init_params="" (results unused)
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Number of distinct clusters.*"),
]

KINDS = [("gaussian", "spherical"), ("gaussian", "tied"), ("gmm", "spherical"), ("gmm", "tied")]
KIND_IDS = ["gaussian-spherical", "gaussian-tied", "gmm-spherical", "gmm-tied"]


# --------------------------------------------------------------------------- helpers


def random_covars(kind, rng, n_states, n_features, n_mix=2):
    """Random covars_ in hmmlearn's shape for (model, covariance_type)."""
    model, cov = kind
    if cov == "spherical":
        return rng.uniform(0.5, 2.0, (n_states,) if model == "gaussian" else (n_states, n_mix))
    return random_spd(rng, n_features, () if model == "gaussian" else (n_states,))


def random_params(kind, rng, n_states=3, n_features=2, n_mix=2):
    params = {"startprob_": rng.dirichlet(np.ones(n_states)),
              "transmat_": rng.dirichlet(np.ones(n_states), size=n_states)}
    if kind[0] == "gmm":
        params["weights_"] = rng.dirichlet(np.ones(n_mix), size=n_states)
        params["means_"] = rng.normal(0.0, 2.0, (n_states, n_mix, n_features))
    else:
        params["means_"] = rng.normal(0.0, 2.0, (n_states, n_features))
    params["covars_"] = random_covars(kind, rng, n_states, n_features, n_mix)
    return params


def random_data(rng, n_frames, n_features=2):
    centres = rng.normal(0.0, 2.5, (3, n_features))
    return centres[rng.integers(0, 3, n_frames)] + rng.normal(size=(n_frames, n_features))


def build(module, kind, values, **kwargs):
    kwargs.setdefault("init_params", "")
    n_states = values["startprob_"].shape[0]
    if kind[0] == "gaussian":
        model = module.GaussianHMM(n_components=n_states, covariance_type=kind[1], **kwargs)
    else:
        model = module.GMMHMM(n_components=n_states, n_mix=values["weights_"].shape[1], covariance_type=kind[1],
                              **kwargs)
    for name, value in values.items():
        setattr(model, name, np.array(value, copy=True))
    if module is hl:
        model._check()  # hmmlearn sets n_features here
    return model


def make_pair(kind, values, **kwargs):
    return build(hmm, kind, values, **kwargs), build(hl, kind, values, **kwargs)


def reference_covars(theirs, kind):
    """hmmlearn's covariances in its documented shape (the shape ours keeps).

    GaussianHMM keeps them in ``_covars_`` (``covars_`` expands them to full matrices); for "spherical"
    its M-step stores the one variance per state repeated over the features, (N, D).
    """
    if kind[0] == "gmm":
        return theirs.covars_
    covars = theirs._covars_
    if kind[1] == "spherical" and covars.ndim == 2:
        np.testing.assert_array_equal(covars, covars[:, :1].repeat(covars.shape[1], axis=1))
        covars = covars[:, 0]
    return covars


def assert_same_params(ours, theirs, kind, rtol=RTOL):
    names = ["startprob_", "transmat_", "means_"] + (["weights_"] if kind[0] == "gmm" else [])
    for name in names:
        assert_close(getattr(ours, name), getattr(theirs, name), rtol=rtol, what=name)
    assert_close(ours.covars_, reference_covars(theirs, kind), rtol=rtol, what="covars_")


def dense_covariances(kind, params):
    """Every Gaussian's covariance matrix, indexed like means_ without the feature axis."""
    means, covars = params["means_"], params["covars_"]
    d = means.shape[-1]
    if kind[1] == "spherical":
        return covars[..., None, None] * np.eye(d)
    if kind[0] == "gaussian":  # tied: one matrix for every state
        return np.broadcast_to(covars, (means.shape[0], d, d))
    return np.broadcast_to(covars[:, None], means.shape[:2] + (d, d))  # a state's matrix for its components


def log_emissions(kind, params, X):
    """log b_j(x_t) from scipy, independently of both libraries."""
    covs = dense_covariances(kind, params)
    means = params["means_"]
    if kind[0] == "gaussian":
        return np.stack([scipy.stats.multivariate_normal(means[j], covs[j]).logpdf(X).reshape(len(X))
                         for j in range(len(means))], axis=1)
    out = np.empty((len(X), means.shape[0]))
    for j in range(means.shape[0]):
        comps = [np.log(params["weights_"][j, k])
                 + scipy.stats.multivariate_normal(means[j, k], covs[j, k]).logpdf(X).reshape(len(X))
                 for k in range(means.shape[1])]
        out[:, j] = scipy.special.logsumexp(np.stack(comps, axis=1), axis=1)
    return out


# --------------------------------------------------------------------------- 1. Baum-Welch parity with hmmlearn


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_baum_welch_equals_hmmlearn_after_each_iteration(kind, seed):
    rng = np.random.default_rng([50, KINDS.index(kind), seed])
    n_features = 2 + seed  # 2, 3, 4 features
    params = random_params(kind, rng, n_states=3, n_features=n_features)
    X = random_data(rng, sum(LENGTHS), n_features)
    for n_iter in (1, 2, 4):
        ours, theirs = make_pair(kind, params, n_iter=n_iter, tol=-np.inf)
        assert ours.fit(X, LENGTHS) is ours
        theirs.fit(X, LENGTHS)
        assert_same_params(ours, theirs, kind)
        assert_same_history(ours, theirs)
        assert len(ours.monitor_.history) == n_iter
    assert ours.score(X, LENGTHS) == pytest.approx(theirs.score(X, LENGTHS), rel=1e-9)
    assert ours.covars_.shape == params["covars_"].shape  # the shape the model was given


@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(KINDS), n_states=st.integers(1, 4),
       n_features=st.integers(1, 4))
@settings(max_examples=20, deadline=None)
def test_one_em_step_matches_hmmlearn_on_random_models(seed, kind, n_states, n_features):
    rng = np.random.default_rng(seed)
    params = random_params(kind, rng, n_states=n_states, n_features=n_features)
    X = random_data(rng, 40, n_features)
    ours, theirs = make_pair(kind, params, n_iter=1, tol=-np.inf)
    ours.fit(X, [25, 15])
    theirs.fit(X, [25, 15])
    assert_same_history(ours, theirs)
    for name, start in params.items():
        value = ours.covars_ if name == "covars_" else getattr(ours, name)
        reference = reference_covars(theirs, kind) if name == "covars_" else getattr(theirs, name)
        # a component whose posteriors all underflow to 0: hmmlearn divides by its zero count (inf or
        # NaN), ours keeps the previous value (see _defined in lessons_lib.hmm)
        undefined = ~np.isfinite(reference)
        np.testing.assert_array_equal(value[undefined], start[undefined])
        assert_close(np.where(undefined, 0.0, value), np.where(undefined, 0.0, reference), what=name)


PRIOR_CASES = [
    (("gaussian", "spherical"), dict(startprob_prior=1.5, means_prior=0.3, means_weight=2.0, covars_prior=0.5,
                                     covars_weight=3.0)),
    (("gaussian", "spherical"), dict(min_covar=0.1, covars_prior=0.0, covars_weight=1.0)),
    (("gaussian", "tied"), dict(transmat_prior=2.0, means_prior=-0.5, means_weight=1.5, covars_prior=0.2,
                                covars_weight=5.0)),
    (("gaussian", "tied"), dict(means_weight=0.5, covars_prior=0.3 * np.eye(2), covars_weight=0.0)),
    (("gmm", "spherical"), dict(weights_prior=2.0, means_prior=0.4, means_weight=1.0, covars_prior=-1.0,
                                covars_weight=0.5)),
    (("gmm", "spherical"), dict(transmat_prior=2.0, covars_prior=0.5, covars_weight=2.0)),
    (("gmm", "tied"), dict(weights_prior=1.5, means_prior=-0.2, means_weight=0.5, covars_prior=0.3 * np.eye(2),
                           covars_weight=1.0)),
    (("gmm", "tied"), dict(startprob_prior=2.0, covars_prior=np.array([[0.5, 0.1], [0.1, 0.4]]))),
]


@pytest.mark.parametrize("kind, priors", PRIOR_CASES,
                         ids=[f"{KIND_IDS[KINDS.index(k)]}-{i}" for i, (k, _) in enumerate(PRIOR_CASES)])
def test_priors_equal_hmmlearn(kind, priors):
    rng = np.random.default_rng([51, PRIOR_CASES.index((kind, priors))])
    params = random_params(kind, rng, n_states=3, n_features=2)
    X = random_data(rng, sum(LENGTHS), 2)
    for n_iter in (1, 3):
        ours, theirs = make_pair(kind, params, n_iter=n_iter, tol=-np.inf, **priors)
        ours.fit(X, LENGTHS)
        theirs.fit(X, LENGTHS)
        assert_same_params(ours, theirs, kind)
        assert_same_history(ours, theirs)


def test_gmm_spherical_default_prior_is_hmmlearns():
    """hmmlearn's default spherical prior, covars_prior = -(n_mix + 2) / 2, divides the scatter by
    D (N_jk + 1) - K: plain maximum likelihood only when n_mix equals n_features. Ours uses the same
    default (so that the numbers agree) and gives maximum likelihood with covars_prior = -(D + 2) / 2."""
    rng = np.random.default_rng(52)
    kind = ("gmm", "spherical")
    params = random_params(kind, rng, n_states=2, n_features=3, n_mix=2)
    X = random_data(rng, 80, 3)
    ours = build(hmm, kind, params, n_iter=1, params="c")
    theirs = build(hl, kind, params, n_iter=1, params="c")
    ours.fit(X)
    theirs.fit(X)
    assert_close(ours.covars_, theirs.covars_, what="covars_")
    # the ML update from the component posteriors computed here
    ml = build(hmm, kind, params, n_iter=1, params="c", covars_prior=-(3 + 2) / 2)
    gamma = ml.predict_proba(X)
    log_w = np.log(params["weights_"])[None] + np.stack(
        [[scipy.stats.multivariate_normal(params["means_"][j, k], params["covars_"][j, k] * np.eye(3)).logpdf(X)
          for k in range(2)] for j in range(2)]).transpose(2, 0, 1)
    post = gamma[:, :, None] * np.exp(log_w - scipy.special.logsumexp(log_w, axis=2, keepdims=True))
    sq = np.sum((X[:, None, None, :] - params["means_"][None]) ** 2, axis=-1)
    ml.fit(X)
    np.testing.assert_allclose(ml.covars_, np.einsum("tjk,tjk->jk", post, sq) / (3 * post.sum(axis=0)), rtol=1e-9)


PARAMS_SUBSETS = [(("gaussian", "spherical"), "mc"), (("gaussian", "tied"), "mc"), (("gaussian", "tied"), "tm"),
                  (("gmm", "spherical"), "sc"), (("gmm", "tied"), "c"), (("gmm", "tied"), "wm")]


@pytest.mark.parametrize("kind, letters", PARAMS_SUBSETS,
                         ids=[f"{KIND_IDS[KINDS.index(k)]}-{p}" for k, p in PARAMS_SUBSETS])
def test_params_subset_updates_only_those_and_equals_hmmlearn(kind, letters):
    rng = np.random.default_rng([53, PARAMS_SUBSETS.index((kind, letters))])
    start = random_params(kind, rng, n_states=3, n_features=2)
    X = random_data(rng, sum(LENGTHS), 2)
    ours, theirs = make_pair(kind, start, n_iter=3, tol=-np.inf, params=letters)
    ours.fit(X, LENGTHS)
    theirs.fit(X, LENGTHS)
    assert_same_params(ours, theirs, kind)
    assert_same_history(ours, theirs)
    codes = {"startprob_": "s", "transmat_": "t", "means_": "m", "covars_": "c", "weights_": "w"}
    for name, value in start.items():
        if codes[name] in letters:
            assert not np.allclose(getattr(ours, name), value), f"{name} should have been updated"
        else:
            np.testing.assert_array_equal(getattr(ours, name), value, err_msg=f"{name} must stay fixed")


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_flat_started_word_model_equals_hmmlearn(kind):
    """The chapter's use: hmm.flat_start of 13-dimensional word-like frames, trained by repeated fit calls
    with n_iter=1; after every call the parameters and the log-likelihood equal hmmlearn's, and they climb."""
    rng = np.random.default_rng([54, KINDS.index(kind)])
    lengths = [90, 75, 120, 82, 101, 68]
    X = word_like_sequences(rng, 5, 13, lengths)
    start = hmm.flat_start(X, lengths, 5, 2 if kind[0] == "gmm" else 1, covariance_type=kind[1], self_loop=0.8,
                           random_state=0)
    if kind[0] == "gaussian":
        counts = np.bincount(hmm.uniform_segmentation(lengths, 5))
        covars = (start["covars_"][:, 0] if kind[1] == "spherical"
                  else np.average(start["covars_"], axis=0, weights=counts))
        start = {"startprob_": start["startprob_"], "transmat_": start["transmat_"], "means_": start["means_"][:, 0],
                 "covars_": covars}
    ours, theirs = make_pair(kind, start, n_iter=1)
    history = []
    with threadpool_limits(limits=1):  # hmmlearn's GMMHMM runs k-means (OpenMP) in every fit
        for _ in range(3):
            ours.fit(X, lengths)
            theirs.fit(X, lengths)
            assert_same_params(ours, theirs, kind)
            assert_same_history(ours, theirs, rtol=RTOL)
            history += ours.monitor_.history
    assert np.all(np.diff(history) > 0)
    assert_close(ours.log_frameprob(X), theirs._compute_log_likelihood(X), rtol=1e-10, what="log_frameprob")


# --------------------------------------------------------------------------- 2. inference


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["one-sequence", "lengths"])
@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_inference_equals_hmmlearn_and_scipy(kind, lengths):
    rng = np.random.default_rng([55, KINDS.index(kind)])
    params = random_params(kind, rng, n_states=4, n_features=3)
    X = random_data(rng, sum(LENGTHS), 3)
    ours, theirs = make_pair(kind, params)
    assert_close(ours.log_frameprob(X), theirs._compute_log_likelihood(X), rtol=1e-10, what="log_frameprob")
    assert_close(ours.log_frameprob(X), log_emissions(kind, params, X), rtol=1e-10, what="log_frameprob (scipy)")
    assert ours.score(X, lengths) == pytest.approx(theirs.score(X, lengths), rel=1e-10)
    log_prob, post = ours.score_samples(X, lengths)
    ref_log_prob, ref_post = theirs.score_samples(X, lengths)
    assert log_prob == pytest.approx(ref_log_prob, rel=1e-10)
    assert_close(post, ref_post, rtol=1e-8, what="posteriors")
    assert_close(ours.predict_proba(X, lengths), ref_post, rtol=1e-8, what="predict_proba")
    for algorithm in ("viterbi", "map"):
        value, path = ours.decode(X, lengths, algorithm=algorithm)
        ref_value, ref_path = theirs.decode(X, lengths, algorithm=algorithm)
        assert value == pytest.approx(ref_value, rel=1e-10)
        np.testing.assert_array_equal(path, ref_path)
        assert path.shape == (len(X),)
    np.testing.assert_array_equal(ours.predict(X, lengths), theirs.predict(X, lengths))
    # aic/bic: covariance scalars N, D(D+1)/2 (GaussianHMM), N K, N D(D+1)/2 (GMMHMM), as hmmlearn
    extra = (ours.n_components - 1) * (ours.n_mix - 1) if kind[0] == "gmm" else 0  # see test_hmm_models
    assert ours.aic(X, lengths) == pytest.approx(theirs.aic(X, lengths) + 2 * extra, rel=1e-10)
    assert ours.bic(X, lengths) == pytest.approx(theirs.bic(X, lengths) + extra * np.log(len(X)), rel=1e-10)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_log_frameprob_far_from_the_means(kind):
    """Frames 1000 units from every mean: the tied densities expand a square; they must not lose it."""
    rng = np.random.default_rng([56, KINDS.index(kind)])
    params = random_params(kind, rng, n_states=3, n_features=4)
    params["means_"] = params["means_"] + 500.0
    X = random_data(rng, 30, 4) - 500.0
    model = build(hmm, kind, params)
    assert_close(model.log_frameprob(X), log_emissions(kind, params, X), rtol=1e-10, what="log_frameprob")


def test_spherical_is_diag_with_equal_variances_and_tied_is_full_with_equal_matrices():
    """The same model written with each covariance type scores every frame the same."""
    rng = np.random.default_rng(57)
    X = random_data(rng, 40, 3)
    gauss = random_params(("gaussian", "spherical"), rng, n_states=3, n_features=3)
    as_diag = {**gauss, "covars_": np.repeat(gauss["covars_"][:, None], 3, axis=1)}
    np.testing.assert_allclose(build(hmm, ("gaussian", "spherical"), gauss).log_frameprob(X),
                               build(hmm, ("gaussian", "diag"), as_diag).log_frameprob(X), rtol=1e-12)
    tied = random_params(("gmm", "tied"), rng, n_states=3, n_features=3)
    as_full = {**tied, "covars_": np.repeat(tied["covars_"][:, None], 2, axis=1)}
    np.testing.assert_allclose(build(hmm, ("gmm", "tied"), tied).log_frameprob(X),
                               build(hmm, ("gmm", "full"), as_full).log_frameprob(X), rtol=1e-12)


# --------------------------------------------------------------------------- 3. initialisation and helpers


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_fit_from_scratch_starts_from_the_data_covariance(kind):
    """init_params "c": spherical starts at the mean variance of the data, tied at its covariance, both plus
    min_covar (hmmlearn takes the mean of every entry of the covariance matrix for spherical, which can be
    0 or negative for anti-correlated features; the mean of the variances cannot)."""
    rng = np.random.default_rng([58, KINDS.index(kind)])
    X = random_data(rng, 120, 3)
    cls = hmm.GaussianHMM if kind[0] == "gaussian" else hmm.GMMHMM
    model = cls(n_components=2, covariance_type=kind[1], params="", init_params="stmc" + "w" * (kind[0] == "gmm"),
                n_iter=1, random_state=0, min_covar=0.01)
    model.fit(X)
    cv = np.cov(X.T) + 0.01 * np.eye(3)
    shape = {("gaussian", "spherical"): (2,), ("gaussian", "tied"): (3, 3), ("gmm", "spherical"): (2, 1),
             ("gmm", "tied"): (2, 3, 3)}[kind]
    assert model.covars_.shape == shape
    expected = np.mean(np.diag(cv)) if kind[1] == "spherical" else cv
    np.testing.assert_allclose(model.covars_, np.broadcast_to(expected, shape), rtol=1e-12)
    assert model.n_features == 3
    fitted = cls(n_components=2, covariance_type=kind[1], n_iter=5, random_state=0).fit(X)
    assert np.all(np.isfinite(fitted.monitor_.history)) and fitted.covars_.shape == shape


@pytest.mark.parametrize("covariance_type", ["spherical", "tied"])
@pytest.mark.parametrize("n_mix", [1, 3])
def test_emission_params_from_states_by_definition(covariance_type, n_mix):
    """Per state: k-means clusters; spherical = each cluster's mean variance over the features, tied = the
    clusters' scatter about their own means pooled over the state's frames; both + min_covar."""
    rng = np.random.default_rng([59, n_mix])
    n_states, n_features, min_covar = 3, 2, 1e-3
    X = random_data(rng, 150, n_features)
    states = rng.integers(0, n_states, len(X))
    _, means, covars = hmm.emission_params_from_states(X, states, n_states, n_mix, covariance_type=covariance_type,
                                                       min_covar=min_covar, random_state=0)
    diag_weights, diag_means, diag_covars = hmm.emission_params_from_states(
        X, states, n_states, n_mix, covariance_type="diag", min_covar=min_covar, random_state=0)
    np.testing.assert_array_equal(means, diag_means)  # the same clustering
    if covariance_type == "spherical":
        assert covars.shape == (n_states, n_mix)
        np.testing.assert_allclose(covars, (diag_covars - min_covar).mean(axis=2) + min_covar, rtol=1e-12)
        return
    assert covars.shape == (n_states, n_features, n_features)
    full = hmm.emission_params_from_states(X, states, n_states, n_mix, covariance_type="full", min_covar=0.0,
                                           random_state=0)[2]
    for j in range(n_states):
        pooled = np.einsum("k,kij->ij", diag_weights[j], full[j]) + min_covar * np.eye(n_features)
        np.testing.assert_allclose(covars[j], pooled, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["spherical", "tied"])
def test_flat_start_starts_hmmlearns_gmmhmm(covariance_type):
    rng = np.random.default_rng(60)
    lengths = [12, 30, 17]
    X = rng.normal(size=(sum(lengths), 2)) + np.repeat(np.arange(3), lengths)[:, None]
    start = hmm.flat_start(X, lengths, 3, 2, covariance_type=covariance_type, random_state=5)
    pair = make_pair(("gmm", covariance_type), start, n_iter=3, tol=-np.inf)
    for model in pair:
        model.fit(X, lengths)
    assert_same_params(*pair, ("gmm", covariance_type))


# --------------------------------------------------------------------------- 4. sampling


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_sample_shapes_reproducibility_and_moments(kind):
    rng = np.random.default_rng([61, KINDS.index(kind)])
    params = random_params(kind, rng, n_states=2, n_features=3, n_mix=2)
    params["transmat_"] = np.array([[0.9, 0.1], [0.1, 0.9]])
    if kind[0] == "gmm":  # one component per state carries all the weight: the state's moments are its own
        params["weights_"] = np.array([[1.0, 0.0], [0.0, 1.0]])
    model = build(hmm, kind, params)
    X, states = model.sample(20_000, random_state=3)
    assert X.shape == (20_000, 3) and states.shape == (20_000,) and states.dtype == np.int64
    X2, states2 = model.sample(20_000, random_state=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(states, states2)
    covs = dense_covariances(kind, params)
    for j in range(2):
        frames = X[states == j]
        mean = params["means_"][j] if kind[0] == "gaussian" else params["means_"][j, j]
        cov = covs[j] if kind[0] == "gaussian" else covs[j, j]
        se = np.sqrt(np.diag(cov) / len(frames))
        assert np.all(np.abs(frames.mean(axis=0) - mean) < 5 * se)
        np.testing.assert_allclose(np.cov(frames.T), cov, atol=0.1 * np.abs(cov).max())


# --------------------------------------------------------------------------- 5. bad covariances


def bad_covars(kind, covars):
    """(bad value, what the message must say): a variance <= 0, a wrong shape, and for tied a matrix that is
    not positive definite or not symmetric."""
    cases = [(-covars, "positive"), (covars[..., :1] if kind[1] == "tied" else covars[:1], "shape")]
    if kind[1] == "spherical":
        zero = covars.copy()
        zero.flat[1] = 0.0
        cases.append((zero, "positive"))
    else:
        cases.append((covars - 10 * np.eye(covars.shape[-1]), "positive definite"))
        asym = covars.copy()
        asym[..., 0, 1] += 0.5
        cases.append((asym, "symmetric"))
    return cases


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_bad_covars_are_refused(kind):
    rng = np.random.default_rng([62, KINDS.index(kind)])
    params = random_params(kind, rng, n_states=3, n_features=2)
    X = random_data(rng, 20, 2)
    for bad, match in bad_covars(kind, params["covars_"]):
        for method in ("score", "fit", "sample"):
            model = build(hmm, kind, {**params, "covars_": bad}, n_iter=1)
            with pytest.raises(ValueError, match=f"covars_.*{match}"):
                model.sample(5) if method == "sample" else getattr(model, method)(X)


def test_collapsed_tied_covariance_names_the_remedy():
    """Frames that all lie on a line give a singular tied matrix; the message says what to do."""
    X = np.repeat(np.arange(10.0)[:, None], 2, axis=1)
    model = hmm.GaussianHMM(n_components=2, covariance_type="tied", covars_prior=0.0, min_covar=0.0, n_iter=2,
                            random_state=0)
    with pytest.raises(ValueError, match="covars_|positive definite"):
        model.fit(X)


@pytest.mark.parametrize("kind", KINDS, ids=KIND_IDS)
def test_save_load_round_trip(kind, tmp_path):
    rng = np.random.default_rng([63, KINDS.index(kind)])
    params = random_params(kind, rng, n_states=3, n_features=2)
    X = random_data(rng, 30, 2)
    model = build(hmm, kind, params, covars_prior=0.2)
    loaded = type(model).load(model.save(tmp_path / "model"))
    assert loaded.covariance_type == kind[1] and loaded.covars_prior == 0.2
    np.testing.assert_array_equal(loaded.covars_, params["covars_"])
    assert loaded.score(X) == model.score(X)

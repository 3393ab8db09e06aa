"""lessons_lib.hmm model classes: CategoricalHMM, GaussianHMM, GMMHMM, ConvergenceMonitor and the word-model helpers.

Reference: hmmlearn 0.3.3. Both libraries start from the same hand-set parameters
(``init_params=""``), then after 1, 2 and 4 Baum-Welch iterations every parameter
and ``monitor_.history`` agree at rtol 1e-7, for categorical, Gaussian (diag, full)
and GMM (diag, full) emissions, on several sequences of different lengths with a
length-1 sequence among them; for a flat-started left-to-right word model of speech-sized frames (39
features) trained one iteration at a time by repeated ``fit`` calls, which also equal one longer ``fit``
(the chapter's use); with non-default priors (including Dirichlet priors
below 1, which clip counts at 0) and with ``params`` subsets. score,
score_samples, predict_proba, decode (viterbi and map), predict, log_frameprob,
aic, bic and get_stationary_distribution equal hmmlearn's with and without
``lengths``. Left-to-right helpers are checked against their definitions (zeros
stay exactly zero through EM, as in hmmlearn), ``emission_params_from_states``
against statistics computed here from k-means labels. Independent checks: brute
force over every state path on tiny models (emission densities from scipy), a
100,000-frame sequence (no underflow), one-frame sequences, sampling statistics
(transition and emission frequencies within a few standard errors), EM
monotonicity, the convergence rule, save/load round trips through an .npz that
opens without pickle, hypothesis properties, and the bad inputs the contract names.
"""

from __future__ import annotations

import inspect
import itertools
import logging

import numpy as np
import pytest
import scipy.special
import scipy.stats
from hmmlearn import hmm as hl
from hypothesis import given, settings, strategies as st
from threadpoolctl import threadpool_limits

from lessons_lib import hmm
from lessons_lib.gmm import kmeans

pytestmark = [
    # hmmlearn's GMMHMM runs sklearn's KMeans inside fit() even with init_params="" (results unused)
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Number of distinct clusters.*"),
]

RTOL = 1e-7  # the contract asks for <= 1e-6

CATEGORICAL = ("categorical", None)
GAUSS_DIAG = ("gaussian", "diag")
GAUSS_FULL = ("gaussian", "full")
GMM_DIAG = ("gmm", "diag")
GMM_FULL = ("gmm", "full")
SPECS = [CATEGORICAL, GAUSS_DIAG, GAUSS_FULL, GMM_DIAG, GMM_FULL]
SPEC_IDS = ["categorical", "gaussian-diag", "gaussian-full", "gmm-diag", "gmm-full"]

EMISSION_ATTRS = {"categorical": ["emissionprob_"], "gaussian": ["means_", "covars_"],
                  "gmm": ["weights_", "means_", "covars_"]}
LENGTHS = [23, 1, 40, 9, 17]  # several sequences, one of them a single frame


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Thousands of tiny Cholesky solves: threaded BLAS only adds overhead (x100 on a busy 2-core machine)."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(autouse=True)
def quiet_hmmlearn(caplog):
    """hmmlearn logs (not warns) about degenerate fits and non-monotone EM; keep the output clean."""
    caplog.set_level(logging.CRITICAL, logger="hmmlearn")


# --------------------------------------------------------------------------- helpers


def random_spd(rng, n_features, size):
    """``size`` random symmetric positive definite matrices, eigenvalues well away from 0."""
    a = rng.normal(size=(*size, n_features, n_features))
    return a @ np.swapaxes(a, -1, -2) / n_features + 0.5 * np.eye(n_features)


def random_params(spec, rng, n_states=3, n_features=2, n_mix=2):
    """A random parameter dict (attribute name -> array) for the model kind ``spec``."""
    kind, cov = spec
    params = {"startprob_": rng.dirichlet(np.ones(n_states)),
              "transmat_": rng.dirichlet(np.ones(n_states), size=n_states)}
    if kind == "categorical":
        params["emissionprob_"] = rng.dirichlet(np.ones(n_features), size=n_states)
        return params
    shape = (n_states,) if kind == "gaussian" else (n_states, n_mix)
    if kind == "gmm":
        params["weights_"] = rng.dirichlet(np.ones(n_mix), size=n_states)
    params["means_"] = rng.normal(0.0, 2.0, (*shape, n_features))
    if cov == "diag":
        params["covars_"] = rng.uniform(0.5, 2.0, (*shape, n_features))
    else:
        params["covars_"] = random_spd(rng, n_features, shape)
    return params


def random_data(spec, rng, n_frames, n_features=2):
    """Integer symbols (n_frames, 1) for categorical models, clustered real frames otherwise."""
    if spec[0] == "categorical":
        return rng.integers(0, n_features, size=(n_frames, 1))
    centres = rng.normal(0.0, 2.5, (3, n_features))
    return centres[rng.integers(0, 3, n_frames)] + rng.normal(size=(n_frames, n_features))


def build(module, spec, values, **kwargs):
    """A model of ``module`` (lessons_lib.hmm or hmmlearn.hmm) holding copies of ``values``, init_params=""."""
    kind, cov = spec
    n_states = values["startprob_"].shape[0]
    kwargs.setdefault("init_params", "")
    if kind == "categorical":
        model = module.CategoricalHMM(n_components=n_states, n_features=values["emissionprob_"].shape[1], **kwargs)
    elif kind == "gaussian":
        model = module.GaussianHMM(n_components=n_states, covariance_type=cov, **kwargs)
    else:
        model = module.GMMHMM(n_components=n_states, n_mix=values["weights_"].shape[1], covariance_type=cov,
                              **kwargs)
    for name, value in values.items():
        setattr(model, name, np.array(value, copy=True))
    if module is hl and kind != "categorical":
        model._check()  # hmmlearn sets n_features from means_ here (aic/bic need it before score)
    return model


def make_pair(spec, values, **kwargs):
    """(ours, hmmlearn's), both holding copies of the parameter dict ``values``."""
    return build(hmm, spec, values, **kwargs), build(hl, spec, values, **kwargs)


def reference_attr(theirs, spec, name):
    """hmmlearn's value in the native shape: GaussianHMM.covars_ expands diag to full, _covars_ does not."""
    if spec[0] == "gaussian" and name == "covars_":
        return theirs._covars_
    return getattr(theirs, name)


def assert_close(ours, reference, *, rtol=RTOL, what=""):
    ours = np.asarray(ours, dtype=float)
    reference = np.asarray(reference, dtype=float)
    assert ours.shape == reference.shape, f"{what}: shape {ours.shape} != {reference.shape}"
    scale = float(np.abs(reference).max()) if reference.size else 1.0
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=1e-12 * max(scale, 1.0), err_msg=what)


def assert_same_params(ours, theirs, spec, *, rtol=RTOL):
    for name in ["startprob_", "transmat_", *EMISSION_ATTRS[spec[0]]]:
        assert_close(getattr(ours, name), reference_attr(theirs, spec, name), rtol=rtol, what=name)


def assert_same_history(ours, theirs, *, rtol=1e-9):
    assert isinstance(ours.monitor_.history, list)
    ours_history = [float(v) for v in ours.monitor_.history]
    theirs_history = list(theirs.monitor_.history)
    assert len(ours_history) == len(theirs_history)
    np.testing.assert_allclose(ours_history, theirs_history, rtol=rtol, atol=1e-12)  # atol: log P can be ~0
    assert ours.monitor_.iter == theirs.monitor_.iter


def log_emissions(spec, params, X):
    """log b_j(x_t) computed here from scipy, independently of both libraries."""
    kind, cov = spec
    n_states = params["startprob_"].shape[0]
    if kind == "categorical":
        with np.errstate(divide="ignore"):
            return np.log(params["emissionprob_"][:, X[:, 0]].T)
    out = np.empty((len(X), n_states))
    for j in range(n_states):
        if kind == "gaussian":
            c = params["covars_"][j]
            dist = scipy.stats.multivariate_normal(params["means_"][j], np.diag(c) if cov == "diag" else c)
            out[:, j] = np.atleast_1d(dist.logpdf(X))
        else:
            comps = []
            for m in range(params["weights_"].shape[1]):
                c = params["covars_"][j, m]
                dist = scipy.stats.multivariate_normal(params["means_"][j, m], np.diag(c) if cov == "diag" else c)
                comps.append(np.log(params["weights_"][j, m]) + np.atleast_1d(dist.logpdf(X)))
            out[:, j] = scipy.special.logsumexp(np.stack(comps, axis=1), axis=1)
    return out


def n_free_parameters(spec, params, letters="stemcw"):
    """Free scalars of the parameters named in ``letters``, by definition (each distribution loses one)."""
    n_states = params["startprob_"].shape[0]
    counts = {"s": n_states - 1, "t": n_states * (n_states - 1)}
    if spec[0] == "categorical":
        counts["e"] = n_states * (params["emissionprob_"].shape[1] - 1)
    else:
        n_features = params["means_"].shape[-1]
        counts["m"] = params["means_"].size
        per_matrix = n_features if spec[1] == "diag" else n_features * (n_features + 1) // 2
        counts["c"] = params["means_"].size // n_features * per_matrix
        if spec[0] == "gmm":
            counts["w"] = params["weights_"].size - n_states
    return sum(counts.get(letter, 0) for letter in letters)


def path_log_prob(params, log_b, path, lengths=None):
    """log P(O, Q) of one given state path Q (sequences independent)."""
    with np.errstate(divide="ignore"):
        log_pi, log_A = np.log(params["startprob_"]), np.log(params["transmat_"])
    total = 0.0
    for q, lb in zip(split(path, lengths), split(log_b, lengths)):
        total += log_pi[q[0]] + log_A[q[:-1], q[1:]].sum() + lb[np.arange(len(q)), q].sum()
    return total


def split(X, lengths):
    return np.split(X, np.cumsum(lengths)[:-1]) if lengths is not None else [X]


# --------------------------------------------------------------------------- 1. Baum-Welch parity with hmmlearn


@pytest.mark.parametrize("n_iter", [1, 2, 4])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_baum_welch_equals_hmmlearn_after_each_iteration(spec, n_iter):
    rng = np.random.default_rng([1, SPECS.index(spec)])
    n_features = 4 if spec == CATEGORICAL else 2
    params = random_params(spec, rng, n_states=3, n_features=n_features)
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    ours, theirs = make_pair(spec, params, n_iter=n_iter, tol=-np.inf)
    assert ours.fit(X, LENGTHS) is ours
    theirs.fit(X, LENGTHS)
    assert_same_params(ours, theirs, spec)
    assert_same_history(ours, theirs)
    assert len(ours.monitor_.history) == n_iter
    # the fitted model scores and decodes as the fitted reference does
    assert ours.score(X, LENGTHS) == pytest.approx(theirs.score(X, LENGTHS), rel=1e-9)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_baum_welch_without_lengths_equals_hmmlearn(spec):
    rng = np.random.default_rng([2, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=2, n_features=3)
    X = random_data(spec, rng, 60, 3)
    ours, theirs = make_pair(spec, params, n_iter=3, tol=-np.inf)
    ours.fit(X)
    theirs.fit(X)
    assert_same_params(ours, theirs, spec)
    assert_same_history(ours, theirs)


def word_like_sequences(rng, n_states, n_features, lengths):
    """Frames that pass through ``n_states`` segments in order, as a spoken word does: segment boundaries at
    random (not the equal parts a flat start assumes), each segment a two-component mixture with correlated
    features, one sequence per length."""
    centres = rng.normal(0.0, 1.0, (n_states, 2, n_features))
    mixing = np.eye(n_features) + rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
    frames = []
    for n_frames in lengths:
        cuts = np.sort(rng.choice(np.arange(1, n_frames), n_states - 1, replace=False))
        states = np.repeat(np.arange(n_states), np.diff(np.r_[0, cuts, n_frames]))
        components = rng.integers(0, 2, n_frames)
        frames.append(centres[states, components] + rng.normal(size=(n_frames, n_features)) @ mixing)
    return np.concatenate(frames)


def assert_same_inference(ours, theirs, X, lengths):
    assert_close(ours.log_frameprob(X), theirs._compute_log_likelihood(X), rtol=1e-10, what="log_frameprob")
    assert ours.score(X, lengths) == pytest.approx(theirs.score(X, lengths), rel=1e-10)
    assert_close(ours.predict_proba(X, lengths), theirs.predict_proba(X, lengths), rtol=1e-8, what="predict_proba")
    log_best, path = ours.decode(X, lengths)
    ref_log_best, ref_path = theirs.decode(X, lengths)
    assert log_best == pytest.approx(ref_log_best, rel=1e-10)
    np.testing.assert_array_equal(path, ref_path)


@pytest.mark.parametrize("spec, n_features", [(GAUSS_DIAG, 39), (GAUSS_FULL, 13), (GMM_DIAG, 39), (GMM_FULL, 13)],
                         ids=["gaussian-diag-39", "gaussian-full-13", "gmm-diag-39", "gmm-full-13"])
def test_flat_started_word_model_trained_step_by_step_equals_hmmlearn(spec, n_features):
    """The chapter's use (notebooks/03a_hmm_algorithms.ipynb, section 11): a left-to-right flat start
    (hmm.flat_start) of speech-sized frames (39 features, or 13 for full covariances) on several sequences,
    trained by repeated ``fit`` calls with ``n_iter=1`` that continue from the current parameters
    (``init_params=""``). Inference agrees before and after; after every call every parameter and the
    log-likelihood equal hmmlearn's; the log-likelihood climbs; the zeros of the topology stay zero; and the
    steps equal one ``fit`` of as many iterations."""
    rng = np.random.default_rng([41, n_features, SPECS.index(spec)])
    lengths = [90, 75, 120, 82, 101, 68]
    X = word_like_sequences(rng, 5, n_features, lengths)
    start = hmm.flat_start(X, lengths, 5, 2 if spec[0] == "gmm" else 1, covariance_type=spec[1], self_loop=0.8,
                           random_state=0)
    if spec[0] == "gaussian":  # one component: GaussianHMM's shapes
        start = {"startprob_": start["startprob_"], "transmat_": start["transmat_"],
                 "means_": start["means_"][:, 0], "covars_": start["covars_"][:, 0]}
    ours, theirs = make_pair(spec, start, n_iter=1)
    with threadpool_limits(limits=1):  # hmmlearn's GMMHMM runs k-means (OpenMP) in every fit
        assert_same_inference(ours, theirs, X, lengths)
        history = []
        for _ in range(4):
            ours.fit(X, lengths)
            theirs.fit(X, lengths)
            assert_same_params(ours, theirs, spec)
            assert_same_history(ours, theirs, rtol=RTOL)  # 39-D mixtures: rounding drifts past 1e-9
            history += ours.monitor_.history
        assert_same_inference(ours, theirs, X, lengths)
    assert np.all(np.diff(history) > 0)
    np.testing.assert_array_equal(ours.transmat_[start["transmat_"] == 0], 0.0)
    once = build(hmm, spec, start, n_iter=4, tol=-np.inf).fit(X, lengths)
    np.testing.assert_allclose(once.monitor_.history, history, rtol=1e-12)
    for name in start:
        assert_close(getattr(once, name), getattr(ours, name), rtol=1e-12, what=f"{name}: one fit vs steps")


PRIOR_CASES = [
    (CATEGORICAL, dict(startprob_prior=0.5, transmat_prior=2.0, emissionprob_prior=1.5)),
    (CATEGORICAL, dict(startprob_prior=3.0, transmat_prior=0.7, emissionprob_prior=0.9)),
    (GAUSS_DIAG, dict(startprob_prior=1.5, transmat_prior=2.0, means_prior=0.3, means_weight=2.0,
                      covars_prior=0.5, covars_weight=3.0)),
    (GAUSS_DIAG, dict(min_covar=0.1, covars_prior=0.0, covars_weight=1.0)),
    (GAUSS_FULL, dict(transmat_prior=2.0, means_prior=-0.5, means_weight=1.5, covars_prior=0.2,
                      covars_weight=5.0)),
    (GMM_DIAG, dict(transmat_prior=2.0, weights_prior=2.0, means_prior=0.4, means_weight=1.0)),
    (GMM_FULL, dict(startprob_prior=2.0, weights_prior=1.5, means_prior=-0.2, means_weight=0.5)),
]


@pytest.mark.parametrize("spec, priors", PRIOR_CASES,
                         ids=[f"{SPEC_IDS[SPECS.index(s)]}-{i}" for i, (s, _) in enumerate(PRIOR_CASES)])
def test_priors_equal_hmmlearn(spec, priors):
    rng = np.random.default_rng([3, PRIOR_CASES.index((spec, priors))])
    n_features = 5 if spec == CATEGORICAL else 2
    params = random_params(spec, rng, n_states=3, n_features=n_features)
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    for n_iter in (1, 3):
        ours, theirs = make_pair(spec, params, n_iter=n_iter, tol=-np.inf, **priors)
        ours.fit(X, LENGTHS)
        theirs.fit(X, LENGTHS)
        assert_same_params(ours, theirs, spec)
        assert_same_history(ours, theirs)


def test_dirichlet_prior_below_one_clips_counts_at_zero():
    """startprob_prior=0.5 over 2 sequences: prior - 1 + counts < 0 for unlikely states -> exactly 0."""
    rng = np.random.default_rng(4)
    params = random_params(CATEGORICAL, rng, n_states=4, n_features=3)
    params["emissionprob_"] = np.array([[0.98, 0.01, 0.01], [0.01, 0.98, 0.01], [0.01, 0.01, 0.98],
                                        [0.34, 0.33, 0.33]])
    X = np.array([[0], [0], [1], [2], [0], [1], [1], [2]])
    ours, theirs = make_pair(CATEGORICAL, params, n_iter=1, tol=-np.inf, startprob_prior=0.5)
    ours.fit(X, [4, 4])
    theirs.fit(X, [4, 4])
    assert (theirs.startprob_ == 0).any()  # the case is exercised
    np.testing.assert_array_equal(ours.startprob_ == 0, theirs.startprob_ == 0)
    assert_same_params(ours, theirs, CATEGORICAL)


# GaussianHMM with "c" but not "m" is left out: hmmlearn 0.3.3 then skips the occupancy counts the
# covariance update divides by (see test_gaussian_covariance_only_update below)
PARAMS_SUBSETS = [(CATEGORICAL, "e"), (CATEGORICAL, "st"), (GAUSS_DIAG, "mc"), (GAUSS_FULL, "mc"),
                  (GAUSS_DIAG, "tm"), (GMM_DIAG, "w"), (GMM_FULL, "mc"), (GMM_DIAG, "sc")]


@pytest.mark.parametrize("spec, params_subset", PARAMS_SUBSETS,
                         ids=[f"{SPEC_IDS[SPECS.index(s)]}-{p}" for s, p in PARAMS_SUBSETS])
def test_params_subset_updates_only_those_and_equals_hmmlearn(spec, params_subset):
    rng = np.random.default_rng([5, PARAMS_SUBSETS.index((spec, params_subset))])
    n_features = 4 if spec == CATEGORICAL else 2
    start = random_params(spec, rng, n_states=3, n_features=n_features)
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    ours, theirs = make_pair(spec, start, n_iter=3, tol=-np.inf, params=params_subset)
    ours.fit(X, LENGTHS)
    theirs.fit(X, LENGTHS)
    assert_same_params(ours, theirs, spec)
    assert_same_history(ours, theirs)
    letters = {"startprob_": "s", "transmat_": "t", "emissionprob_": "e", "means_": "m", "covars_": "c",
               "weights_": "w"}
    for name, value in start.items():
        if letters[name] not in params_subset:
            np.testing.assert_array_equal(getattr(ours, name), value, err_msg=f"{name} must stay fixed")
        else:
            assert not np.allclose(getattr(ours, name), value), f"{name} should have been updated"


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_gaussian_covariance_only_update(covariance_type):
    """params="c": one M-step gives the MAP covariances around the fixed means, from the state posteriors.

    hmmlearn 0.3.3 accumulates the occupancies sum_t gamma_t(j) only when "m" is in params, so with
    params="c" it divides by zero (full) or by 1e-5 (diag); the formula it uses when it does count them
    is the reference here, evaluated with hmmlearn's posteriors.
    """
    spec = ("gaussian", covariance_type)
    rng = np.random.default_rng(31)
    start = random_params(spec, rng, n_states=3, n_features=2)
    X = random_data(spec, rng, sum(LENGTHS))
    covars_prior, covars_weight = 0.05, 4.0
    ours, theirs = make_pair(spec, start, n_iter=1, tol=-np.inf, params="c", covars_prior=covars_prior,
                             covars_weight=covars_weight)
    gamma = theirs.predict_proba(X, LENGTHS)
    ours.fit(X, LENGTHS)
    occupancy = gamma.sum(axis=0)
    diff = X[:, None, :] - start["means_"][None]  # (T, states, features)
    if covariance_type == "diag":
        scatter = np.einsum("tj,tjf->jf", gamma, diff ** 2)
        expected = (covars_prior + scatter) / np.maximum(max(covars_weight - 1, 0) + occupancy[:, None], 1e-5)
    else:
        scatter = np.einsum("tj,tjf,tjg->jfg", gamma, diff, diff)
        expected = (covars_prior + scatter) / (max(covars_weight - 2, 0) + occupancy[:, None, None])
    np.testing.assert_allclose(ours.covars_, expected, rtol=RTOL)
    np.testing.assert_array_equal(ours.means_, start["means_"])
    np.testing.assert_array_equal(ours.transmat_, start["transmat_"])


def test_fit_initialises_only_what_is_missing():
    """init_params="" and only means_/covars_ set: those are kept, startprob_/transmat_ get initialised."""
    rng = np.random.default_rng(6)
    start = random_params(GAUSS_DIAG, rng, n_states=3, n_features=2)
    X = random_data(GAUSS_DIAG, rng, 50)
    ours = hmm.GaussianHMM(n_components=3, init_params="", params="", n_iter=1, random_state=0)
    ours.means_ = start["means_"].copy()
    ours.covars_ = start["covars_"].copy()
    ours.fit(X)
    np.testing.assert_array_equal(ours.means_, start["means_"])
    np.testing.assert_array_equal(ours.covars_, start["covars_"])
    assert ours.startprob_.shape == (3,) and ours.startprob_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(ours.transmat_.sum(axis=1), 1.0)


# --------------------------------------------------------------------------- 2. inference parity


@pytest.mark.parametrize("lengths", [None, LENGTHS], ids=["one-sequence", "lengths"])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_inference_equals_hmmlearn(spec, lengths):
    rng = np.random.default_rng([7, SPECS.index(spec)])
    n_features = 5 if spec == CATEGORICAL else 3
    params = random_params(spec, rng, n_states=4, n_features=n_features)
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    ours, theirs = make_pair(spec, params)

    assert_close(ours.log_frameprob(X), theirs._compute_log_likelihood(X), rtol=1e-10, what="log_frameprob")
    assert ours.score(X, lengths) == pytest.approx(theirs.score(X, lengths), rel=1e-10)
    log_prob, post = ours.score_samples(X, lengths)
    ref_log_prob, ref_post = theirs.score_samples(X, lengths)
    assert log_prob == pytest.approx(ref_log_prob, rel=1e-10)
    assert_close(post, ref_post, rtol=1e-8, what="score_samples posteriors")
    assert_close(ours.predict_proba(X, lengths), ref_post, rtol=1e-8, what="predict_proba")

    v_log_prob, v_path = ours.decode(X, lengths)
    ref_v_log_prob, ref_v_path = theirs.decode(X, lengths)
    assert v_log_prob == pytest.approx(ref_v_log_prob, rel=1e-10)
    np.testing.assert_array_equal(v_path, ref_v_path)
    v2_log_prob, v2_path = ours.decode(X, lengths, algorithm="viterbi")
    assert v2_log_prob == v_log_prob
    np.testing.assert_array_equal(v2_path, v_path)
    np.testing.assert_array_equal(ours.predict(X, lengths), theirs.predict(X, lengths))

    m_log_prob, m_path = ours.decode(X, lengths, algorithm="map")
    ref_m_log_prob, ref_m_path = theirs.decode(X, lengths, algorithm="map")
    np.testing.assert_array_equal(m_path, ref_m_path)
    assert m_log_prob == pytest.approx(ref_m_log_prob, rel=1e-10)

    n_free = n_free_parameters(spec, params)
    ref_score = theirs.score(X, lengths)
    assert ours.aic(X, lengths) == pytest.approx(-2 * ref_score + 2 * n_free, rel=1e-10)
    assert ours.bic(X, lengths) == pytest.approx(-2 * ref_score + n_free * np.log(len(X)), rel=1e-10)
    # hmmlearn counts n_mix - 1 free GMM weights in all; each state has its own n_mix - 1
    extra = (ours.n_components - 1) * (ours.n_mix - 1) if spec[0] == "gmm" else 0
    assert ours.aic(X, lengths) == pytest.approx(theirs.aic(X, lengths) + 2 * extra, rel=1e-10)
    assert ours.bic(X, lengths) == pytest.approx(theirs.bic(X, lengths) + extra * np.log(len(X)), rel=1e-10)
    assert_close(ours.get_stationary_distribution(), theirs.get_stationary_distribution(), rtol=1e-8,
                 what="stationary distribution")


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_algorithm_map_in_constructor_is_used_by_predict(spec):
    rng = np.random.default_rng([8, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=3, n_features=3)
    X = random_data(spec, rng, 80, 3)
    ours, theirs = make_pair(spec, params, algorithm="map")
    np.testing.assert_array_equal(ours.predict(X, [30, 50]), theirs.predict(X, [30, 50]))
    np.testing.assert_array_equal(ours.predict(X, [30, 50]), np.argmax(ours.predict_proba(X, [30, 50]), axis=1))


@pytest.mark.parametrize("spec, letters", [(CATEGORICAL, "e"), (GAUSS_FULL, "mc"), (GMM_DIAG, "stw")],
                         ids=["categorical-e", "gaussian-full-mc", "gmm-diag-stw"])
def test_aic_bic_count_every_parameter_whatever_params_says(spec, letters):
    """k counts all the model's free parameters, fitted or held fixed (as hmmlearn 0.3.3 does)."""
    rng = np.random.default_rng([32, len(letters)])
    params = random_params(spec, rng, n_states=3, n_features=3)
    X = random_data(spec, rng, 50, 3)
    model = build(hmm, spec, params, params=letters)
    n_free = n_free_parameters(spec, params)
    assert n_free_parameters(spec, params, letters) < n_free
    assert model.aic(X) == pytest.approx(-2 * model.score(X) + 2 * n_free, rel=1e-12)
    assert model.bic(X, [20, 30]) == pytest.approx(-2 * model.score(X, [20, 30]) + n_free * np.log(50), rel=1e-12)


def test_stationary_distribution_is_left_eigenvector():
    rng = np.random.default_rng(9)
    transmat = rng.dirichlet(np.ones(5), size=5)
    model = build(hmm, GAUSS_DIAG, {**random_params(GAUSS_DIAG, rng, n_states=5), "transmat_": transmat})
    pi = model.get_stationary_distribution()
    np.testing.assert_allclose(pi @ transmat, pi, atol=1e-12)
    assert pi.sum() == pytest.approx(1.0, abs=1e-12) and (pi > 0).all()


# --------------------------------------------------------------------------- 3. left-to-right models and helpers


@pytest.mark.parametrize("n_states, self_loop", [(1, 0.5), (2, 0.3), (5, 0.5), (7, 0.9)])
def test_left_to_right_by_definition(n_states, self_loop):
    startprob, transmat = hmm.left_to_right(n_states, self_loop)
    expected_start = np.zeros(n_states)
    expected_start[0] = 1.0
    expected = np.zeros((n_states, n_states))
    for i in range(n_states - 1):
        expected[i, i] = self_loop
        expected[i, i + 1] = 1.0 - self_loop
    expected[-1, -1] = 1.0
    np.testing.assert_array_equal(startprob, expected_start)
    np.testing.assert_allclose(transmat, expected, rtol=1e-15, atol=0)
    np.testing.assert_array_equal(transmat == 0, expected == 0)
    assert startprob.dtype == np.float64 and transmat.dtype == np.float64


def test_left_to_right_default_self_loop_is_one_half():
    np.testing.assert_array_equal(hmm.left_to_right(3)[1], [[0.5, 0.5, 0], [0, 0.5, 0.5], [0, 0, 1]])


@pytest.mark.parametrize("self_loop", [0.0, 1.0, -0.2, 1.5, np.nan])
def test_left_to_right_rejects_bad_self_loop(self_loop):
    with pytest.raises(ValueError, match="self_loop"):
        hmm.left_to_right(3, self_loop)


@pytest.mark.parametrize("n_states", [0, -2])
def test_left_to_right_rejects_bad_n_states(n_states):
    with pytest.raises(ValueError, match="n_states"):
        hmm.left_to_right(n_states)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_left_to_right_zeros_stay_zero_and_equal_hmmlearn(spec):
    rng = np.random.default_rng([10, SPECS.index(spec)])
    n_features = 4 if spec == CATEGORICAL else 2
    params = random_params(spec, rng, n_states=4, n_features=n_features)
    params["startprob_"], params["transmat_"] = hmm.left_to_right(4, 0.6)
    params["transmat_"][0] = [0.5, 0.3, 0.2, 0.0]  # a skip transition, still upper-triangular
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    ours, theirs = make_pair(spec, params, n_iter=3, tol=-np.inf)
    ours.fit(X, LENGTHS)
    theirs.fit(X, LENGTHS)
    np.testing.assert_array_equal(ours.startprob_[params["startprob_"] == 0], 0.0)
    np.testing.assert_array_equal(ours.transmat_[params["transmat_"] == 0], 0.0)
    assert (ours.transmat_[params["transmat_"] > 0] > 0).all()
    assert_same_params(ours, theirs, spec)
    assert_same_history(ours, theirs)


def test_left_to_right_fit_on_sequences_as_long_as_the_model_stays_usable():
    """Sequences of exactly n_states frames (uniform_segmentation accepts them): the last state is only ever
    reached at the last frame, so no transition out of it is observed (0/0 in the M-step). Its row can only
    be [0, ..., 0, 1] (zeros stay zero, rows sum to 1); hmmlearn 0.3.3 leaves it all zero and then refuses
    its own model. The fitted model must score the data it was fitted on."""
    rng = np.random.default_rng(34)
    startprob, transmat = hmm.left_to_right(3, 0.5)
    X = rng.normal(size=(6, 2))
    model = hmm.GaussianHMM(n_components=3, init_params="mc", n_iter=2, tol=-np.inf, random_state=0)
    model.startprob_, model.transmat_ = startprob, transmat
    model.fit(X, [3, 3])
    np.testing.assert_array_equal(model.transmat_[2], [0.0, 0.0, 1.0])
    np.testing.assert_allclose(model.transmat_.sum(axis=1), 1.0, rtol=1e-12)
    assert np.isfinite(model.score(X, [3, 3]))


def uniform_segmentation_by_definition(lengths, n_states):
    return np.concatenate([[(t * n_states) // T for t in range(T)] for T in lengths])


@pytest.mark.parametrize("lengths, n_states", [([5], 5), ([10], 3), ([7, 3, 12], 3), ([100, 1000, 37], 8),
                                               ([4], 1), ([1], 1)])
def test_uniform_segmentation_by_definition(lengths, n_states):
    states = hmm.uniform_segmentation(lengths, n_states)
    assert states.dtype == np.int64
    np.testing.assert_array_equal(states, uniform_segmentation_by_definition(lengths, n_states))


@given(lengths=st.lists(st.integers(1, 60), min_size=1, max_size=5), n_states=st.integers(1, 8))
@settings(max_examples=25, deadline=None)
def test_uniform_segmentation_properties(lengths, n_states):
    lengths = [T + n_states for T in lengths]  # every sequence at least n_states long
    states = hmm.uniform_segmentation(lengths, n_states)
    assert states.shape == (sum(lengths),)
    for seq, T in zip(split(states, lengths), lengths):
        assert seq[0] == 0 and seq[-1] == n_states - 1
        assert np.all(np.diff(seq) >= 0) and np.all(np.diff(seq) <= 1)  # left to right, no skips
        counts = np.bincount(seq, minlength=n_states)
        assert counts.min() >= T // n_states and counts.max() <= -(-T // n_states)


def test_uniform_segmentation_rejects_short_sequences_and_bad_input():
    with pytest.raises(ValueError, match="length"):
        hmm.uniform_segmentation([5, 2, 6], 3)
    with pytest.raises(ValueError, match="lengths"):
        hmm.uniform_segmentation([5, 0], 2)
    with pytest.raises(ValueError, match="lengths"):
        hmm.uniform_segmentation([5, -3], 2)
    with pytest.raises(ValueError, match="n_states"):
        hmm.uniform_segmentation([5], 0)


def separated_state_data(rng, n_states, n_mix, n_features, per_cluster):
    """Frames and their states: in each state, n_mix tight clusters 40 units apart (k-means cannot miss them)."""
    X, states = [], []
    for s in range(n_states):
        for m in range(n_mix):
            centre = 40.0 * np.array([s * n_mix + m] + [(-1) ** m * m] * (n_features - 1), dtype=float)
            n = per_cluster + 3 * m + s
            X.append(centre + rng.normal(size=(n, n_features)) * rng.uniform(0.5, 1.5, n_features))
            states.append(np.full(n, s))
    X, states = np.concatenate(X), np.concatenate(states)
    order = rng.permutation(len(X))  # interleave the states, as a real segmentation would
    return X[order], states[order]


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
@pytest.mark.parametrize("n_mix", [1, 3])
def test_emission_params_from_states_equal_per_cluster_statistics(covariance_type, n_mix):
    rng = np.random.default_rng([11, n_mix])
    n_states, n_features, min_covar = 3, 2, 1e-3
    X, states = separated_state_data(rng, n_states, n_mix, n_features, per_cluster=25)
    weights, means, covars = hmm.emission_params_from_states(
        X, states, n_states, n_mix, covariance_type=covariance_type, min_covar=min_covar, random_state=0)
    assert weights.shape == (n_states, n_mix) and means.shape == (n_states, n_mix, n_features)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-12)
    for s in range(n_states):
        Xs = X[states == s]
        _, labels, _, _ = kmeans(Xs, n_mix, random_state=0)
        expected = []
        for k in range(n_mix):
            Xk = Xs[labels == k]
            diff = Xk - Xk.mean(axis=0)
            cov = diff.T @ diff / len(Xk) + min_covar * np.eye(n_features)  # biased, + min_covar on the diagonal
            expected.append((len(Xk) / len(Xs), Xk.mean(axis=0), np.diag(cov) if covariance_type == "diag" else cov))
        # components come in k-means' order, which is arbitrary: match them by their means
        ours_order = np.lexsort(means[s].T[::-1])
        ref_order = np.lexsort(np.array([e[1] for e in expected]).T[::-1])
        for i, j in zip(ours_order, ref_order):
            assert weights[s, i] == pytest.approx(expected[j][0], rel=1e-12)
            np.testing.assert_allclose(means[s, i], expected[j][1], rtol=1e-10)
            np.testing.assert_allclose(covars[s, i], expected[j][2], rtol=1e-10)


def test_emission_params_from_states_single_mixture_is_state_mean_and_variance():
    """n_mix=1 on overlapping random data: no clustering choice left, plain per-state statistics."""
    rng = np.random.default_rng(12)
    X = rng.normal(size=(90, 3)) * [1.0, 2.0, 0.5]
    states = hmm.uniform_segmentation([30, 60], 3)
    weights, means, covars = hmm.emission_params_from_states(X, states, 3, 1, covariance_type="diag",
                                                             min_covar=0.01)
    np.testing.assert_array_equal(weights, np.ones((3, 1)))
    for s in range(3):
        np.testing.assert_allclose(means[s, 0], X[states == s].mean(axis=0), rtol=1e-12)
        np.testing.assert_allclose(covars[s, 0], X[states == s].var(axis=0) + 0.01, rtol=1e-12)


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_flat_start_is_left_to_right_plus_per_state_statistics_of_equal_parts(covariance_type):
    rng = np.random.default_rng(13)
    lengths = [12, 30, 7]
    X = rng.normal(size=(sum(lengths), 2)) + np.repeat(np.arange(3), lengths)[:, None]
    start = hmm.flat_start(X, lengths, 3, 2, covariance_type=covariance_type, self_loop=0.7, random_state=5)
    assert list(start) == ["startprob_", "transmat_", "weights_", "means_", "covars_"]
    # by definition: the chain of left_to_right, each sequence cut into 3 equal parts by t*N//T
    expected_states = np.concatenate([(np.arange(T) * 3) // T for T in lengths])
    np.testing.assert_array_equal(start["startprob_"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(start["transmat_"], [[0.7, 0.3, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]], rtol=1e-15)
    weights, means, covars = hmm.emission_params_from_states(
        X, expected_states, 3, 2, covariance_type=covariance_type, random_state=5)
    np.testing.assert_array_equal(start["weights_"], weights)
    np.testing.assert_array_equal(start["means_"], means)
    np.testing.assert_array_equal(start["covars_"], covars)
    # the dict starts hmmlearn's GMMHMM unchanged, and both libraries then train to the same model
    pair = (hmm.GMMHMM(3, 2, covariance_type=covariance_type, n_iter=3, init_params=""),
            hl.GMMHMM(3, 2, covariance_type=covariance_type, n_iter=3, init_params=""))
    for model in pair:
        for name, value in start.items():
            setattr(model, name, value.copy())
        model.fit(X, lengths)
    np.testing.assert_allclose(pair[0].means_, pair[1].means_, rtol=1e-7)


def test_flat_start_bad_input():
    X = np.zeros((10, 2))
    with pytest.raises(TypeError, match="lengths"):
        hmm.flat_start(X, None, 2)
    with pytest.raises(ValueError, match="lengths add up to 9"):
        hmm.flat_start(X, [4, 5], 2)
    with pytest.raises(ValueError, match="n_states=3"):
        hmm.flat_start(X, [8, 2], 3)
    with pytest.raises(ValueError, match="self_loop"):
        hmm.flat_start(X, [5, 5], 2, self_loop=1.0)
    with pytest.raises(ValueError, match="covariance_type"):
        hmm.flat_start(X, [5, 5], 2, covariance_type="block")


def test_emission_params_initialise_a_gmmhmm_that_fits_like_hmmlearn():
    """The flat-start recipe of the chapter: left_to_right + uniform_segmentation + emission_params_from_states."""
    rng = np.random.default_rng(13)
    lengths = [30, 41, 25]
    X = np.concatenate([np.linspace(0, 6, T)[:, None] + rng.normal(0, 0.4, (T, 2)) for T in lengths])
    startprob, transmat = hmm.left_to_right(3, 0.8)
    weights, means, covars = hmm.emission_params_from_states(X, hmm.uniform_segmentation(lengths, 3), 3, 2,
                                                             random_state=0)
    params = dict(startprob_=startprob, transmat_=transmat, weights_=weights, means_=means, covars_=covars)
    ours, theirs = make_pair(GMM_DIAG, params, n_iter=4, tol=-np.inf)
    ours.fit(X, lengths)
    theirs.fit(X, lengths)
    assert_same_params(ours, theirs, GMM_DIAG)
    assert_same_history(ours, theirs)


def test_emission_params_from_states_errors():
    rng = np.random.default_rng(14)
    X = rng.normal(size=(20, 2))
    states = np.repeat([0, 1], 10)
    states[0] = 2  # state 2 has a single frame
    with pytest.raises(ValueError, match="state"):
        hmm.emission_params_from_states(X, states, 3, 2)
    with pytest.raises(ValueError, match="covariance_type"):
        hmm.emission_params_from_states(X, np.repeat([0, 1], 10), 2, 1, covariance_type="block")
    with pytest.raises(ValueError, match="states"):
        hmm.emission_params_from_states(X, np.repeat([0, 1], 10)[:-1], 2, 1)


# --------------------------------------------------------------------------- 4. long and one-frame sequences


def test_long_sequence_score_has_no_underflow():
    rng = np.random.default_rng(15)
    params = random_params(GAUSS_DIAG, rng, n_states=3, n_features=2)
    params["transmat_"] = 0.9 * np.eye(3) + 0.1 * params["transmat_"]
    X = random_data(GAUSS_DIAG, rng, 100_000) * 3.0
    ours, theirs = make_pair(GAUSS_DIAG, params)
    score = ours.score(X)
    assert np.isfinite(score) and score < -1e5
    assert score == pytest.approx(theirs.score(X), rel=1e-9)


@pytest.mark.parametrize("spec", [CATEGORICAL, GAUSS_DIAG, GAUSS_FULL], ids=SPEC_IDS[:3])
def test_one_frame_sequence(spec):
    rng = np.random.default_rng([16, SPECS.index(spec)])
    n_features = 3 if spec == CATEGORICAL else 2  # in 2-D one frame still gives positive definite covariances
    params = random_params(spec, rng, n_states=3, n_features=n_features)
    X = random_data(spec, rng, 1, n_features)
    ours, theirs = make_pair(spec, params, n_iter=2, tol=-np.inf)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-12)
    log_prob, path = ours.decode(X)
    ref_log_prob, ref_path = theirs.decode(X)
    assert log_prob == pytest.approx(ref_log_prob, rel=1e-12)
    np.testing.assert_array_equal(path, ref_path)
    assert_close(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)
    if spec == GAUSS_FULL:
        return  # fitting full covariances to one frame is degenerate: test_one_frame_full_covariance_fit
    ours.fit(X)
    theirs.fit(X)
    assert_same_history(ours, theirs)
    for name in ["startprob_", *EMISSION_ATTRS[spec[0]]]:
        assert_close(getattr(ours, name), reference_attr(theirs, spec, name), what=name)
    # No transition was observed, so the M-step for transmat_ is 0/0. hmmlearn leaves all-zero rows (and
    # then refuses to score with its own model); ours must stay a usable model with rows summing to 1.
    np.testing.assert_allclose(ours.transmat_.sum(axis=1), 1.0, rtol=1e-12)
    assert np.isfinite(ours.score(X))


def test_one_frame_full_covariance_fit():
    """One frame: the means move onto it, so hmmlearn's full covariance update is covars_prior in every
    element over the occupancy, a singular matrix. hmmlearn then evaluates the density with 1e-7 added to
    the diagonal; a library that refuses instead must say which parameter is at fault (an HMM has
    covars_/covars_prior/min_covar, not GaussianMixture's reg_covar)."""
    rng = np.random.default_rng(33)
    params = random_params(GAUSS_FULL, rng, n_states=2, n_features=3)
    X = random_data(GAUSS_FULL, rng, 1, 3)
    ours, theirs = make_pair(GAUSS_FULL, params, n_iter=2, tol=-np.inf, params="mc")
    theirs.fit(X)
    try:
        ours.fit(X)
    except ValueError as err:
        assert "reg_covar" not in str(err) and "covars" in str(err), str(err)
    else:
        assert_same_params(ours, theirs, GAUSS_FULL, rtol=1e-6)


@pytest.mark.parametrize("spec", [GMM_DIAG, GMM_FULL], ids=SPEC_IDS[3:])
def test_one_frame_sequence_inference_gmm(spec):
    rng = np.random.default_rng([17, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=3, n_features=3)
    X = random_data(spec, rng, 1, 3)
    ours, theirs = make_pair(spec, params)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-12)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    assert_close(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-10)


# --------------------------------------------------------------------------- 5. brute force on tiny models


def enumerate_paths(params, log_b):
    """log P(O, Q) for every state path Q, by the definition pi_q1 b_q1(o1) prod_t a_{q(t-1) q(t)} b_qt(ot)."""
    n_frames, n_states = log_b.shape
    with np.errstate(divide="ignore"):
        log_pi, log_A = np.log(params["startprob_"]), np.log(params["transmat_"])
    paths = np.array(list(itertools.product(range(n_states), repeat=n_frames)))
    joint = np.array([log_pi[q[0]] + log_b[0, q[0]]
                      + sum(log_A[q[t - 1], q[t]] + log_b[t, q[t]] for t in range(1, n_frames)) for q in paths])
    return paths, joint


@pytest.mark.parametrize("n_states, n_frames", [(2, 1), (2, 5), (3, 4), (3, 6)])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_brute_force_enumeration(spec, n_states, n_frames):
    rng = np.random.default_rng([18, SPECS.index(spec), n_states, n_frames])
    params = random_params(spec, rng, n_states=n_states, n_features=3)
    X = random_data(spec, rng, n_frames, 3)
    model = build(hmm, spec, params)
    log_b = log_emissions(spec, params, X)
    np.testing.assert_allclose(model.log_frameprob(X), log_b, rtol=1e-10)
    paths, joint = enumerate_paths(params, log_b)
    total = scipy.special.logsumexp(joint)
    assert model.score(X) == pytest.approx(total, rel=1e-10)
    log_prob, path = model.decode(X)
    assert log_prob == pytest.approx(joint.max(), rel=1e-10)
    assert path_log_prob(params, log_b, path) == pytest.approx(joint.max(), rel=1e-10)
    runner_up = np.sort(joint)[-2] if len(joint) > 1 else -np.inf
    if joint.max() - runner_up > 1e-9:  # a unique best path (ties happen with discrete symbols)
        np.testing.assert_array_equal(path, paths[np.argmax(joint)])
    weights = np.exp(joint - total)
    marginals = np.stack([np.bincount(paths[:, t], weights=weights, minlength=n_states) for t in range(n_frames)])
    np.testing.assert_allclose(model.predict_proba(X), marginals, rtol=1e-9, atol=1e-14)


def test_brute_force_with_several_sequences():
    rng = np.random.default_rng(19)
    params = random_params(CATEGORICAL, rng, n_states=3, n_features=4)
    lengths = [3, 1, 4]
    X = random_data(CATEGORICAL, rng, 8, 4)
    model = build(hmm, CATEGORICAL, params)
    total, best = 0.0, 0.0
    for Xs in split(X, lengths):
        _, joint = enumerate_paths(params, log_emissions(CATEGORICAL, params, Xs))
        total += scipy.special.logsumexp(joint)
        best += joint.max()
    assert model.score(X, lengths) == pytest.approx(total, rel=1e-10)
    assert model.decode(X, lengths)[0] == pytest.approx(best, rel=1e-10)


# --------------------------------------------------------------------------- 6. sampling


def categorical_model_for_sampling():
    params = dict(startprob_=np.array([0.6, 0.3, 0.1]),
                  transmat_=np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.25, 0.25, 0.5]]),
                  emissionprob_=np.array([[0.5, 0.4, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4], [0.05, 0.05, 0.8, 0.1]]))
    return build(hmm, CATEGORICAL, params), params


def assert_frequencies(counts, probs, n_se=5.0):
    """Row-normalised counts within n_se binomial standard errors of probs (and exact zeros stay zero)."""
    totals = counts.sum(axis=1, keepdims=True)
    freq = counts / totals
    se = np.sqrt(probs * (1 - probs) / totals)
    assert np.all(np.abs(freq - probs) <= n_se * se + 1e-12), f"\n{freq}\nvs\n{probs}"


def test_categorical_sample_statistics():
    model, params = categorical_model_for_sampling()
    X, Z = model.sample(200_000, random_state=0)
    assert X.shape == (200_000, 1) and np.issubdtype(X.dtype, np.integer)
    assert Z.shape == (200_000,) and set(np.unique(Z)) == {0, 1, 2}
    transitions = np.zeros((3, 3))
    np.add.at(transitions, (Z[:-1], Z[1:]), 1)
    assert_frequencies(transitions, params["transmat_"])
    emissions = np.zeros((3, 4))
    np.add.at(emissions, (Z, X[:, 0]), 1)
    assert_frequencies(emissions, params["emissionprob_"])
    assert not (X[Z == 0] == 3).any()  # probability 0 is never drawn
    occupancy = np.bincount(Z, minlength=3) / len(Z)
    np.testing.assert_allclose(occupancy, model.get_stationary_distribution(), atol=0.01)


def test_sample_first_state_follows_startprob_and_currstate():
    model, params = categorical_model_for_sampling()
    rng = np.random.default_rng(1)
    first = np.array([model.sample(1, random_state=rng)[1][0] for _ in range(3000)])
    assert_frequencies(np.bincount(first, minlength=3)[None, :].astype(float), params["startprob_"][None, :])
    for state in range(3):
        X, Z = model.sample(50, random_state=state, currstate=state)
        assert Z[0] == state
        if state == 0:
            assert X[0, 0] != 3


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_sample_is_reproducible(spec):
    rng = np.random.default_rng([20, SPECS.index(spec)])
    model = build(hmm, spec, random_params(spec, rng, n_states=3, n_features=3))
    X1, Z1 = model.sample(40, random_state=7)
    X2, Z2 = model.sample(40, random_state=7)
    X3, Z3 = model.sample(40, random_state=np.random.default_rng(7))
    X4, _ = model.sample(40, random_state=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(Z1, Z2)
    np.testing.assert_array_equal(X1, X3)
    np.testing.assert_array_equal(Z1, Z3)
    assert not np.array_equal(X1, X4)
    assert X1.shape == (40, 1 if spec == CATEGORICAL else 3) and Z1.shape == (40,)
    assert Z1.min() >= 0 and Z1.max() < 3


@pytest.mark.parametrize("spec", [GAUSS_DIAG, GAUSS_FULL, GMM_DIAG, GMM_FULL], ids=SPEC_IDS[1:])
def test_continuous_sample_moments_per_state(spec):
    rng = np.random.default_rng([21, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=3, n_features=2)
    model = build(hmm, spec, params)
    X, Z = model.sample(30_000, random_state=1)
    assert X.shape == (30_000, 2) and X.dtype == np.float64
    assert Z.min() >= 0 and Z.max() <= 2
    for s in range(3):
        Xs = X[Z == s]
        if spec[0] == "gaussian":
            mean = params["means_"][s]
            cov = np.diag(params["covars_"][s]) if spec[1] == "diag" else params["covars_"][s]
        else:  # mixture mean and covariance, exactly
            w, mu = params["weights_"][s], params["means_"][s]
            covs = np.stack([np.diag(c) for c in params["covars_"][s]]) if spec[1] == "diag" else params["covars_"][s]
            mean = w @ mu
            cov = np.einsum("m,mij->ij", w, covs + mu[:, :, None] * mu[:, None, :]) - np.outer(mean, mean)
        se = np.sqrt(np.diag(cov) / len(Xs))
        assert np.all(np.abs(Xs.mean(axis=0) - mean) <= 5 * se), (s, Xs.mean(axis=0), mean)
        np.testing.assert_allclose(np.cov(Xs.T), cov, atol=8 * np.sqrt(2.0 / len(Xs)) * np.abs(cov).max())


def test_gmm_sample_draws_each_mixture_component():
    """Components far apart: each sample is near exactly one component mean, at the weights' frequencies."""
    params = dict(startprob_=np.array([1.0]), transmat_=np.array([[1.0]]), weights_=np.array([[0.2, 0.5, 0.3]]),
                  means_=np.array([[[-50.0, 0.0], [0.0, 50.0], [50.0, 0.0]]]), covars_=np.ones((1, 3, 2)))
    model = build(hmm, GMM_DIAG, params)
    X, Z = model.sample(20_000, random_state=2)
    np.testing.assert_array_equal(Z, 0)
    component = np.argmin(((X[:, None, :] - params["means_"][0]) ** 2).sum(axis=-1), axis=1)
    assert_frequencies(np.bincount(component, minlength=3)[None, :].astype(float), params["weights_"])


# --------------------------------------------------------------------------- 7. EM monotonicity and convergence


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_em_log_likelihood_never_decreases(spec):
    rng = np.random.default_rng([22, SPECS.index(spec)])
    n_features = 4 if spec == CATEGORICAL else 2
    X = random_data(spec, rng, 150, n_features)
    kwargs = dict(n_components=3, n_iter=12, tol=-np.inf, random_state=0)
    if spec == CATEGORICAL:
        model = hmm.CategoricalHMM(n_features=n_features, **kwargs)
    elif spec[0] == "gaussian":
        model = hmm.GaussianHMM(covariance_type=spec[1], covars_prior=0.0, **kwargs)  # plain ML: EM is monotone
    else:
        model = hmm.GMMHMM(n_mix=2, covariance_type=spec[1], **kwargs)
    model.fit(X, [50, 1, 70, 29])
    history = np.array(model.monitor_.history, dtype=float)
    assert len(history) == 12 and np.isfinite(history).all()
    assert np.all(np.diff(history) >= -1e-8 * np.abs(history[1:])), np.diff(history)
    assert history[-1] > history[0]
    # the last entry is the likelihood before the last M-step: the fitted model scores at least that
    assert model.score(X, [50, 1, 70, 29]) >= history[-1] - 1e-8 * abs(history[-1])


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_large_tol_stops_after_two_iterations_like_hmmlearn(spec):
    rng = np.random.default_rng([23, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=2, n_features=3)
    X = random_data(spec, rng, 40, 3)
    ours, theirs = make_pair(spec, params, n_iter=10, tol=1e10)
    ours.fit(X, [25, 15])
    theirs.fit(X, [25, 15])
    assert theirs.monitor_.iter == 2
    assert ours.monitor_.iter == 2 and len(ours.monitor_.history) == 2 and ours.monitor_.converged
    assert_same_params(ours, theirs, spec)
    assert_same_history(ours, theirs)


def test_tol_between_improvements_stops_where_hmmlearn_stops():
    rng = np.random.default_rng(24)
    params = random_params(GAUSS_DIAG, rng)
    X = random_data(GAUSS_DIAG, rng, 100)
    probe = build(hl, GAUSS_DIAG, params, n_iter=8, tol=-np.inf).fit(X)
    gains = np.diff(list(probe.monitor_.history))
    tol = 0.5 * (gains[2] + gains[3]) if gains[3] < gains[2] else gains[3] * 1.0001
    ours, theirs = make_pair(GAUSS_DIAG, params, n_iter=8, tol=tol)
    ours.fit(X)
    theirs.fit(X)
    assert 2 <= theirs.monitor_.iter < 8
    assert_same_history(ours, theirs)
    assert_same_params(ours, theirs, GAUSS_DIAG)


def test_n_iter_reached_is_converged():
    rng = np.random.default_rng(25)
    params = random_params(CATEGORICAL, rng, n_features=3)
    ours = build(hmm, CATEGORICAL, params, n_iter=3, tol=-np.inf)
    ours.fit(random_data(CATEGORICAL, rng, 30, 3))
    assert ours.monitor_.iter == 3 and ours.monitor_.converged
    assert ours.monitor_.n_iter == 3 and ours.monitor_.tol == -np.inf


def test_convergence_monitor_rule():
    monitor = hmm.ConvergenceMonitor(tol=0.5, n_iter=5)
    assert monitor.tol == 0.5 and monitor.n_iter == 5 and monitor.iter == 0 and list(monitor.history) == []
    assert not monitor.converged
    monitor.history, monitor.iter = [-10.0], 1
    assert not monitor.converged
    monitor.history, monitor.iter = [-10.0, -9.0], 2
    assert not monitor.converged  # gained 1.0 >= tol
    monitor.history, monitor.iter = [-10.0, -9.0, -8.7], 3
    assert monitor.converged  # gained 0.3 < tol
    monitor.history, monitor.iter = [-10.0, -9.0, -7.0, -5.0, -3.0], 5
    assert monitor.converged  # iter == n_iter


# --------------------------------------------------------------------------- 8. save and load


def hyper_parameter_names(cls):
    return [name for name in inspect.signature(cls.__init__).parameters if name != "self"]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_save_load_round_trip(spec, tmp_path):
    rng = np.random.default_rng([26, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=3, n_features=3)
    X = random_data(spec, rng, 60, 3)
    extra = {"categorical": dict(transmat_prior=2.0), "gaussian": dict(means_weight=0.5, min_covar=0.01),
             "gmm": dict(weights_prior=1.5)}[spec[0]]
    model = build(hmm, spec, params, n_iter=2, tol=-np.inf, random_state=3, algorithm="map", **extra)
    model.fit(X, [20, 40])
    path = tmp_path / "model.npz"
    model.save(path)
    with np.load(path, allow_pickle=False) as stored:  # no object arrays anywhere
        assert len(stored.files) > 0
        for key in stored.files:
            assert stored[key].dtype != object
    loaded = type(model).load(path)
    assert type(loaded) is type(model)
    for name in ["startprob_", "transmat_", *EMISSION_ATTRS[spec[0]]]:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name), err_msg=name)
        assert getattr(loaded, name).dtype == np.float64
    for name in hyper_parameter_names(type(model)):
        assert getattr(loaded, name) == getattr(model, name), name
    assert loaded.n_features == model.n_features
    assert loaded.score(X, [20, 40]) == model.score(X, [20, 40])
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    # a str path without the suffix: ".npz" is appended and the written path returned; a reload of a reload
    written = loaded.save(str(tmp_path / "again"))
    assert written == tmp_path / "again.npz" and written.exists()
    again = type(model).load(str(written))
    assert again.score(X) == model.score(X)


def test_load_of_another_class_never_mixes_classes(tmp_path):
    """CategoricalHMM.load of a GaussianHMM file refuses (naming the class) or gives the GaussianHMM back."""
    rng = np.random.default_rng(27)
    model = build(hmm, GAUSS_DIAG, random_params(GAUSS_DIAG, rng))
    model.save(tmp_path / "g.npz")
    try:
        loaded = hmm.CategoricalHMM.load(tmp_path / "g.npz")
    except (ValueError, TypeError) as err:
        assert "GaussianHMM" in str(err)
    else:
        assert type(loaded) is hmm.GaussianHMM
        np.testing.assert_array_equal(loaded.means_, model.means_)


# --------------------------------------------------------------------------- 9. bad input


def fitted(spec, seed=28, n_features=3):
    rng = np.random.default_rng(seed)
    params = random_params(spec, rng, n_states=3, n_features=n_features)
    return build(hmm, spec, params), params, random_data(spec, rng, 20, n_features)


def set_and_score(model, name, value, X):
    setattr(model, name, value)  # may raise here already, or at the call
    model.score(X)


BAD_PARAMS = [
    (CATEGORICAL, "transmat_", lambda p: p["transmat_"] * np.array([[1.0], [1.0], [0.8]]), "transmat"),
    (GAUSS_DIAG, "transmat_", lambda p: np.full((3, 3), 0.5), "transmat"),
    (CATEGORICAL, "startprob_", lambda p: np.array([1.2, -0.2, 0.0]), "startprob"),
    (GMM_DIAG, "transmat_", lambda p: np.array([[1.1, -0.1, 0.0], [0.2, 0.4, 0.4], [0, 0, 1.0]]), "transmat"),
    (CATEGORICAL, "startprob_", lambda p: np.array([0.5, 0.5]), "startprob"),
    (GAUSS_FULL, "startprob_", lambda p: np.full(4, 0.25), "startprob"),
    (GAUSS_DIAG, "transmat_", lambda p: np.eye(4), "transmat"),
    (CATEGORICAL, "emissionprob_", lambda p: p["emissionprob_"] * 0.9, "emissionprob"),
    (CATEGORICAL, "emissionprob_", lambda p: np.array([[1.5, -0.5, 0], [0.2, 0.3, 0.5], [1, 0, 0]]),
     "emissionprob"),
    (GMM_DIAG, "weights_", lambda p: np.array([[1.2, -0.2], [0.5, 0.5], [0.5, 0.5]]), "weights"),
    (GMM_FULL, "weights_", lambda p: np.full((3, 2), 0.4), "weights"),
    (GAUSS_DIAG, "covars_", lambda p: p["covars_"] * np.array([[1, 1], [1, 0], [1, 1]]), "covars"),
    (GAUSS_DIAG, "covars_", lambda p: -p["covars_"], "covars"),
    (GAUSS_FULL, "covars_", lambda p: p["covars_"] - 5 * np.eye(2), "covars"),
    (GAUSS_FULL, "covars_", lambda p: p["covars_"] + np.array([[0, 0.3], [0, 0]]), "covars"),
    (GMM_DIAG, "covars_", lambda p: p["covars_"] * np.where(np.arange(2) == 1, -1.0, 1.0), "covars"),
    (GMM_FULL, "covars_", lambda p: p["covars_"] - 5 * np.eye(2), "covars"),
    (GAUSS_DIAG, "means_", lambda p: p["means_"][:2], "means"),
]


@pytest.mark.parametrize("spec, name, bad, match", BAD_PARAMS,
                         ids=[f"{SPEC_IDS[SPECS.index(c[0])]}-{c[1]}-{i}" for i, c in enumerate(BAD_PARAMS)])
def test_bad_parameters_are_refused(spec, name, bad, match):
    model, params, X = fitted(spec, n_features=3 if spec == CATEGORICAL else 2)
    with pytest.raises(ValueError, match=match):
        set_and_score(model, name, bad(params), X)
    # fit refuses them too
    model, params, X = fitted(spec, n_features=3 if spec == CATEGORICAL else 2)
    with pytest.raises(ValueError, match=match):
        setattr(model, name, bad(params))
        model.fit(X)


@pytest.mark.parametrize("lengths", [[10, 5], [10, 12], [25, -5], [20, 0], [0, 20]])
@pytest.mark.parametrize("method", ["score", "fit", "decode", "predict_proba"])
def test_bad_lengths(method, lengths):
    model, _, X = fitted(GAUSS_DIAG)
    with pytest.raises(ValueError, match="lengths"):
        getattr(model, method)(X, lengths)


def test_non_integer_lengths():
    model, _, X = fitted(GAUSS_DIAG)
    with pytest.raises((ValueError, TypeError), match="lengths"):
        model.score(X, [10.5, 9.5])


@pytest.mark.parametrize("X, match", [(np.array([[0], [3]]), "symbol"), (np.array([[0], [-1]]), "symbol"),
                                      (np.array([[0.5], [1.0]]), "integer|symbol"),
                                      (np.array([0, 1, 2]), r"\bX\b")])
@pytest.mark.parametrize("method", ["score", "fit", "predict"])
def test_bad_symbols(method, X, match):
    model, _, _ = fitted(CATEGORICAL, n_features=3)
    with pytest.raises((ValueError, TypeError) if X.dtype.kind == "f" else ValueError, match=match):
        getattr(model, method)(X)


@pytest.mark.parametrize("spec", SPECS[1:], ids=SPEC_IDS[1:])
@pytest.mark.parametrize("method", ["score", "fit", "decode", "predict_proba", "log_frameprob"])
def test_bad_frames(spec, method):
    model, _, X = fitted(spec, n_features=2)
    for bad_value in (np.nan, np.inf, -np.inf):
        Xb = X.copy()
        Xb[3, 1] = bad_value
        with pytest.raises(ValueError, match=r"\bX\b"):
            getattr(model, method)(Xb)
    with pytest.raises(ValueError, match=r"\bX\b"):
        getattr(model, method)(X[:, 0])  # 1-D
    with pytest.raises(ValueError, match="feature"):
        getattr(model, method)(np.hstack([X, X[:, :1]]))  # 3 features, the model has 2


def test_feature_count_mismatch_after_fit():
    rng = np.random.default_rng(29)
    model = hmm.GaussianHMM(n_components=2, n_iter=2, random_state=0).fit(rng.normal(size=(40, 3)))
    assert model.n_features == 3
    with pytest.raises(ValueError, match="feature"):
        model.score(rng.normal(size=(10, 2)))


def test_unknown_covariance_type():
    X = np.random.default_rng(30).normal(size=(30, 2))
    for cls in (hmm.GaussianHMM, hmm.GMMHMM):
        for bad in ("Diag", "block", None):
            with pytest.raises(ValueError, match="covariance_type"):
                cls(n_components=2, covariance_type=bad, n_iter=1).fit(X)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_unknown_algorithm(spec):
    model, params, X = fitted(spec)
    with pytest.raises(ValueError, match="algorithm"):
        model.decode(X, algorithm="beam")
    with pytest.raises(ValueError, match="algorithm"):
        build(hmm, spec, params, algorithm="greedy").predict(X)


@pytest.mark.parametrize("cls", ["CategoricalHMM", "GaussianHMM", "GMMHMM"])
@pytest.mark.parametrize("method", ["score", "score_samples", "decode", "predict", "predict_proba", "sample",
                                    "log_frameprob", "aic", "bic"])
def test_not_fitted(cls, method):
    model = getattr(hmm, cls)(n_components=2)
    X = np.zeros((5, 1), dtype=np.int64) if cls == "CategoricalHMM" else np.zeros((5, 2))
    with pytest.raises(RuntimeError, match="not fitted"):
        model.sample(5) if method == "sample" else getattr(model, method)(X)


def test_not_fitted_save_and_stationary(tmp_path):
    model = hmm.GaussianHMM(n_components=2)
    with pytest.raises(RuntimeError, match="not fitted"):
        model.get_stationary_distribution()
    with pytest.raises(RuntimeError, match="not fitted"):
        model.save(tmp_path / "m.npz")


def test_impossible_sequences():
    # symbol 2 is never emitted by any state
    params = dict(startprob_=np.array([0.5, 0.5]), transmat_=np.array([[0.5, 0.5], [0.5, 0.5]]),
                  emissionprob_=np.array([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]]))
    model = build(hmm, CATEGORICAL, params)
    X = np.array([[0], [2], [1]])
    for method in ("score", "decode", "predict_proba", "fit"):
        with pytest.raises(ValueError, match="impossible|probability 0"):
            getattr(model, method)(X)
    # left-to-right: state 0 must leave at once and state 1 cannot emit symbol 0 twice in a row is forbidden
    params = dict(startprob_=np.array([1.0, 0.0]), transmat_=np.array([[0.0, 1.0], [0.0, 1.0]]),
                  emissionprob_=np.array([[1.0, 0.0], [0.0, 1.0]]))
    model = build(hmm, CATEGORICAL, params)
    assert model.score(np.array([[0], [1], [1]])) == pytest.approx(0.0, abs=1e-12)  # the one possible path
    for method in ("score", "decode", "predict_proba", "fit"):
        with pytest.raises(ValueError, match="impossible|probability 0"):
            getattr(model, method)(np.array([[0], [0], [1]]))
    # the impossible one hides in the second of two sequences
    with pytest.raises(ValueError, match="impossible|probability 0"):
        model.score(np.array([[0], [1], [1], [1], [0]]), [3, 2])


def test_bad_n_components():
    X = np.zeros((5, 2))
    for bad in (0, -1, 2.5):
        with pytest.raises((ValueError, TypeError), match="n_components"):
            hmm.GaussianHMM(n_components=bad).fit(X)


def test_bad_random_state():
    model, _, _ = fitted(GAUSS_DIAG)
    with pytest.raises(TypeError, match="random_state"):
        model.sample(5, random_state="seed")


def test_bad_currstate():
    model, _, _ = fitted(CATEGORICAL)
    with pytest.raises(ValueError, match="currstate"):
        model.sample(5, currstate=3)


# --------------------------------------------------------------------------- 10. properties (hypothesis)


model_cases = st.tuples(st.sampled_from(SPECS), st.integers(1, 4), st.integers(0, 2**32 - 1),
                        st.lists(st.integers(1, 12), min_size=1, max_size=4))


@given(case=model_cases)
@settings(max_examples=25, deadline=None)
def test_posteriors_are_distributions_and_scores_add_over_sequences(case):
    spec, n_states, seed, lengths = case
    rng = np.random.default_rng(seed)
    params = random_params(spec, rng, n_states=n_states, n_features=3)
    X = random_data(spec, rng, sum(lengths), 3)
    model = build(hmm, spec, params)
    post = model.predict_proba(X, lengths)
    assert post.shape == (sum(lengths), n_states)
    assert (post >= 0).all() and (post <= 1 + 1e-12).all()
    np.testing.assert_allclose(post.sum(axis=1), 1.0, rtol=1e-10)
    total = model.score(X, lengths)
    assert total == pytest.approx(sum(model.score(Xs) for Xs in split(X, lengths)), rel=1e-10, abs=1e-10)
    best = model.decode(X, lengths)[0]
    assert best <= total + 1e-9 * abs(total)  # one path is at most the sum over all paths


@given(case=model_cases)
@settings(max_examples=25, deadline=None)
def test_relabelling_states_changes_nothing(case):
    spec, n_states, seed, lengths = case
    rng = np.random.default_rng(seed)
    params = random_params(spec, rng, n_states=n_states, n_features=3)
    X = random_data(spec, rng, sum(lengths), 3)
    perm = rng.permutation(n_states)
    permuted = {name: (value[perm][:, perm] if name == "transmat_" else value[perm]) for name, value in params.items()}
    model, relabelled = build(hmm, spec, params), build(hmm, spec, permuted)
    assert relabelled.score(X, lengths) == pytest.approx(model.score(X, lengths), rel=1e-10)
    np.testing.assert_allclose(relabelled.predict_proba(X, lengths), model.predict_proba(X, lengths)[:, perm],
                               rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(relabelled.log_frameprob(X), model.log_frameprob(X)[:, perm], rtol=1e-12)
    log_prob, path = model.decode(X, lengths)
    r_log_prob, r_path = relabelled.decode(X, lengths)
    assert r_log_prob == pytest.approx(log_prob, rel=1e-10)
    # relabelled state k is old state perm[k]; with ties (common with discrete symbols: the same transitions
    # in another order) the path may differ, but it is a best path of the original model
    log_b = model.log_frameprob(X)
    assert path_log_prob(params, log_b, perm[r_path], lengths) == pytest.approx(log_prob, rel=1e-10)
    assert path_log_prob(params, log_b, path, lengths) == pytest.approx(log_prob, rel=1e-10)


@given(seed=st.integers(0, 2**32 - 1), n_states=st.integers(1, 4))
@settings(max_examples=25, deadline=None)
def test_one_em_step_matches_hmmlearn_on_random_categorical_models(seed, n_states):
    rng = np.random.default_rng(seed)
    params = random_params(CATEGORICAL, rng, n_states=n_states, n_features=3)
    lengths = [int(rng.integers(2, 10)), *rng.integers(1, 10, size=rng.integers(0, 3))]  # >= 1 transition
    X = random_data(CATEGORICAL, rng, sum(lengths), 3)
    ours, theirs = make_pair(CATEGORICAL, params, n_iter=1, tol=-np.inf)
    ours.fit(X, lengths)
    theirs.fit(X, lengths)
    assert_same_params(ours, theirs, CATEGORICAL, rtol=1e-8)
    assert_same_history(ours, theirs)

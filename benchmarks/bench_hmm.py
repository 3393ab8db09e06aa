"""lessons_lib.hmm against hmmlearn (Chapter 3).

T = 20,000 frames, 32 states: the functional core against hmmlearn's compiled
kernels, and the model classes (13-dimensional diagonal Gaussians, the size the
issue sets for its targets; then spherical and tied covariances at the same size)
against hmmlearn's GaussianHMM: score, Viterbi decoding and one Baum-Welch
iteration, each from the same parameters.
"""

from __future__ import annotations

import copy
import logging

import numpy as np
from hmmlearn import _hmmc
from hmmlearn import hmm as hmmlearn_hmm

from lessons_lib import hmm

from .core import Case, assert_close

T, N, D = 20_000, 32, 13


def _model():
    rng = np.random.default_rng(0)
    startprob = rng.dirichlet(np.ones(N))
    transmat = rng.dirichlet(np.ones(N), size=N)
    log_frameprob = rng.normal(-30.0, 10.0, (T, N))
    return {"startprob": startprob, "transmat": transmat, "log_frameprob": log_frameprob}


def _posteriors_hmmlearn(startprob, transmat, log_frameprob):
    log_prob, fwd = _hmmc.forward_log(startprob, transmat, log_frameprob)
    bwd = _hmmc.backward_log(startprob, transmat, log_frameprob)
    gamma = np.exp(fwd + bwd - log_prob)
    return gamma / gamma.sum(axis=1, keepdims=True), np.exp(_hmmc.compute_log_xi_sum(fwd, transmat, bwd, log_frameprob))


def _same_path(ours, reference):
    assert np.isclose(ours[0], reference[0], rtol=1e-12) and np.array_equal(ours[1], reference[1])


def _gaussian_models(covariance_type="diag"):
    """Our GaussianHMM and hmmlearn's with the same parameters, and frames drawn near the states' means."""
    logging.getLogger("hmmlearn").setLevel(logging.ERROR)
    rng = np.random.default_rng(0)
    params = {"startprob_": rng.dirichlet(np.ones(N)), "transmat_": rng.dirichlet(np.ones(N), size=N),
              "means_": rng.normal(size=(N, D)), "covars_": rng.uniform(0.5, 2.0, (N, D))}
    if covariance_type == "spherical":
        params["covars_"] = rng.uniform(0.5, 2.0, N)
    elif covariance_type == "tied":
        a = rng.normal(size=(D, D))
        params["covars_"] = a @ a.T / D + 0.5 * np.eye(D)
    models = []
    for cls in (hmm.GaussianHMM, hmmlearn_hmm.GaussianHMM):
        model = cls(N, covariance_type=covariance_type, init_params="", n_iter=1, tol=-np.inf)
        for name, value in params.items():
            setattr(model, name, value.copy())
        models.append(model)
    X = rng.normal(size=(T, D)) * 1.5
    return {"ours": models[0], "theirs": models[1], "X": X}


def _fit_once(model, X):
    fitted = copy.deepcopy(model).fit(X)
    covars = fitted.covars_ if isinstance(fitted, hmm.GaussianHMM) else fitted._covars_
    if fitted.covariance_type == "spherical" and covars.ndim == 2:  # hmmlearn repeats the variance per feature
        covars = covars[:, 0]
    return fitted.startprob_, fitted.transmat_, fitted.means_, covars


def _same_parameters(ours, reference):
    for a, b in zip(ours, reference):
        assert_close(a, b, rtol=1e-6, atol=1e-12)


CASES = [
    Case(f"hmm.forward (log space), T={T:,}, {N} states (vs _hmmc.forward_log)", _model,
         lambda **m: hmm.forward(**m)[0], lambda **m: _hmmc.forward_log(*m.values())[0],
         lambda a, b: assert_close(a, b, rtol=1e-12)),
    Case(f"hmm.forward_scaled, T={T:,}, {N} states (vs _hmmc.forward_log)", _model,
         lambda **m: hmm.forward_scaled(**m)[0], lambda **m: _hmmc.forward_log(*m.values())[0],
         lambda a, b: assert_close(a, b, rtol=1e-12)),
    Case(f"hmm.viterbi, T={T:,}, {N} states (vs _hmmc.viterbi)", _model,
         lambda **m: hmm.viterbi(**m), lambda **m: _hmmc.viterbi(*m.values()), _same_path),
    Case(f"hmm.posteriors, T={T:,}, {N} states (vs forward_log + backward_log + compute_log_xi_sum)", _model,
         lambda **m: hmm.posteriors(**m)[1:], lambda **m: _posteriors_hmmlearn(**m),
         lambda a, b: [assert_close(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(a, b)]),
    Case(f"hmm.GaussianHMM.score, T={T:,}, {N} states, {D}-dim diag", _gaussian_models,
         lambda ours, theirs, X: ours.score(X), lambda ours, theirs, X: theirs.score(X),
         lambda a, b: assert_close(a, b, rtol=1e-10)),
    Case(f"hmm.GaussianHMM.decode (Viterbi), T={T:,}, {N} states, {D}-dim diag", _gaussian_models,
         lambda ours, theirs, X: ours.decode(X), lambda ours, theirs, X: theirs.decode(X), _same_path),
    Case(f"hmm.GaussianHMM.fit, one Baum-Welch iteration, T={T:,}, {N} states, {D}-dim diag", _gaussian_models,
         lambda ours, theirs, X: _fit_once(ours, X), lambda ours, theirs, X: _fit_once(theirs, X),
         _same_parameters),
]

for _cov in ("spherical", "tied"):
    CASES += [
        Case(f"hmm.GaussianHMM.score, T={T:,}, {N} states, {D}-dim {_cov}", lambda c=_cov: _gaussian_models(c),
             lambda ours, theirs, X: ours.score(X), lambda ours, theirs, X: theirs.score(X),
             lambda a, b: assert_close(a, b, rtol=1e-10)),
        Case(f"hmm.GaussianHMM.decode (Viterbi), T={T:,}, {N} states, {D}-dim {_cov}",
             lambda c=_cov: _gaussian_models(c), lambda ours, theirs, X: ours.decode(X),
             lambda ours, theirs, X: theirs.decode(X), _same_path),
        Case(f"hmm.GaussianHMM.fit, one Baum-Welch iteration, T={T:,}, {N} states, {D}-dim {_cov}",
             lambda c=_cov: _gaussian_models(c), lambda ours, theirs, X: _fit_once(ours, X),
             lambda ours, theirs, X: _fit_once(theirs, X), _same_parameters),
    ]


def _word_models():
    """The digit recogniser's workload: a left-to-right GMM-HMM trained on many short MFCC-like sequences."""
    logging.getLogger("hmmlearn").setLevel(logging.ERROR)
    rng = np.random.default_rng(1)
    lengths = rng.integers(20, 70, 60)
    X = rng.normal(size=(lengths.sum(), 39))
    n_states, n_mix = 5, 4
    startprob, transmat = hmm.left_to_right(n_states)
    weights, means, covars = hmm.emission_params_from_states(X, hmm.uniform_segmentation(lengths, n_states),
                                                             n_states, n_mix, random_state=0)
    params = {"startprob_": startprob, "transmat_": transmat, "weights_": weights, "means_": means,
              "covars_": covars}
    models = []
    for cls in (hmm.GMMHMM, hmmlearn_hmm.GMMHMM):
        model = cls(n_states, n_mix, covariance_type="diag", init_params="", n_iter=2, tol=-np.inf)
        for name, value in params.items():
            setattr(model, name, value.copy())
        models.append(model)
    return {"ours": models[0], "theirs": models[1], "X": X, "lengths": lengths}


def _fit_words(model, X, lengths):
    fitted = copy.deepcopy(model).fit(X, lengths)
    return fitted.transmat_, fitted.weights_, fitted.means_, fitted.covars_


CASES.append(
    Case("hmm.GMMHMM.fit, 2 Baum-Welch iterations, 60 sequences of 20-70 frames, 5 states x 4 mixtures, 39-dim",
         _word_models, lambda ours, theirs, X, lengths: _fit_words(ours, X, lengths),
         lambda ours, theirs, X, lengths: _fit_words(theirs, X, lengths), _same_parameters))

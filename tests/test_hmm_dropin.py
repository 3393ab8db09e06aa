"""lessons_lib.hmm as a drop-in for hmmlearn.hmm: constructors, implementation, verbose, random state, errors.

Reference: hmmlearn 0.3.3. Typical hmmlearn code (the shape of hmmlearn's tutorial: a model set by
hand, scored and decoded; a model learnt from frames with a RandomState, the best of a few starts,
with its AIC and BIC) runs unchanged with ``from lessons_lib import hmm`` and gives hmmlearn's
numbers: the hand-set model's score and decode at rtol 1e-10, posteriors 1e-8, the learnt model's
score, AIC and BIC at 1e-6 and its means at 1e-4 (each library starts from its own k-means; the
best of three starts reaches the same optimum). Constructor signatures equal hmmlearn's (names,
order, defaults, which are keyword-only), so positional calls set the same attributes; get_params,
set_params and scikit-learn's clone work as on hmmlearn's models. ``implementation="scaling"``
equals hmmlearn's scaling (per Baum-Welch iteration: parameters rtol 1e-7, history 1e-9; inference
1e-10) and our "log" (1e-9), and works on frames so unlikely that hmmlearn's scaling fails.
``verbose=True`` writes hmmlearn's lines to stderr (same columns, same numbers); ``monitor_`` has
hmmlearn's attributes, and a ConvergenceMonitor subclass (of ours or of hmmlearn's) assigned to it
is used by ``fit``. ``random_state`` takes None, an int, a RandomState and a Generator
(reproducible; a RandomState is consumed); other types are a TypeError naming it. ``n_features``
and ``covars_full_`` (hmmlearn's ``covars_`` view, all four covariance types) equal hmmlearn's;
the same bad situations raise exceptions of hmmlearn's builtin types (a model without parameters:
NotFittedError, a ValueError and an AttributeError like scikit-learn's), and where hmmlearn fails
late or incidentally (KeyError, IndexError) ours raises a ValueError naming the argument.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import re

import numpy as np
import pytest
from hmmlearn import hmm as hl
from hmmlearn.base import ConvergenceMonitor as HLConvergenceMonitor
from threadpoolctl import threadpool_limits

from lessons_lib import hmm

from .test_hmm_models import (  # noqa: F401  (one_blas_thread, quiet_hmmlearn: autouse fixtures)
    CATEGORICAL,
    GAUSS_DIAG,
    GAUSS_FULL,
    GMM_DIAG,
    GMM_FULL,
    LENGTHS,
    RTOL,
    assert_close,
    assert_same_history,
    assert_same_params,
    make_pair,
    one_blas_thread,
    quiet_hmmlearn,
    random_data,
    random_params,
)

pytestmark = [
    # hmmlearn's GMMHMM runs sklearn's KMeans inside fit() even with init_params="" (results unused)
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:Number of distinct clusters.*"),
]

CLASSES = ["CategoricalHMM", "GaussianHMM", "GMMHMM"]
SPECS = [CATEGORICAL, GAUSS_DIAG, GAUSS_FULL, GMM_DIAG, GMM_FULL]
SPEC_IDS = ["categorical", "gaussian-diag", "gaussian-full", "gmm-diag", "gmm-full"]


# --------------------------------------------------------------------------- 1. typical hmmlearn code, unchanged


def hmmlearn_tutorial(hmm, X, lengths):
    """Code written for hmmlearn (the steps of its tutorial), run with whichever ``hmm`` module is passed in."""
    # a model whose parameters we know, set by hand
    model = hmm.GaussianHMM(3, "full")
    model.startprob_ = np.array([0.6, 0.3, 0.1])
    model.transmat_ = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.3, 0.3, 0.4]])
    model.means_ = np.array([[0.0, 0.0], [3.0, -3.0], [5.0, 10.0]])
    model.covars_ = 0.5 * np.tile(np.identity(2), (3, 1, 1))
    out = {"score": model.score(X, lengths), "posteriors": model.predict_proba(X, lengths)}
    out["viterbi"], out["states"] = model.decode(X, lengths)
    sample, states = model.sample(50, random_state=np.random.RandomState(7))
    out["sample_shapes"] = sample.shape, states.shape
    # learn a model from the frames alone: EM finds a local optimum, so keep the best of a few starts
    best_score, remodel = -np.inf, None
    for idx in range(3):
        candidate = hmm.GaussianHMM(n_components=3, covariance_type="full", n_iter=300, tol=1e-6,
                                    random_state=np.random.RandomState(idx))
        candidate.fit(X, lengths)
        score = candidate.score(X, lengths)
        if score > best_score:
            best_score, remodel = score, candidate
    out["remodel_score"] = best_score
    out["remodel_converged"] = remodel.monitor_.converged
    out["remodel_means"] = remodel.means_[np.lexsort(remodel.means_.T)]  # states in a canonical order
    out["aic"], out["bic"] = remodel.aic(X, lengths), remodel.bic(X, lengths)
    return out


def tutorial_frames():
    """500 frames in 5 sequences from the tutorial's model (drawn here, so both libraries see the same frames)."""
    rng = np.random.default_rng(2024)
    startprob = np.array([0.6, 0.3, 0.1])
    transmat = np.array([[0.7, 0.2, 0.1], [0.3, 0.5, 0.2], [0.3, 0.3, 0.4]])
    means = np.array([[0.0, 0.0], [3.0, -3.0], [5.0, 10.0]])
    lengths = [120, 80, 100, 90, 110]
    frames = []
    for n in lengths:
        state = rng.choice(3, p=startprob)
        for _ in range(n):
            frames.append(means[state] + np.sqrt(0.5) * rng.normal(size=2))
            state = rng.choice(3, p=transmat[state])
    return np.array(frames), lengths


def test_typical_hmmlearn_code_runs_unchanged_with_the_same_numbers():
    X, lengths = tutorial_frames()
    with threadpool_limits(limits=1):
        ours = hmmlearn_tutorial(hmm, X, lengths)
        theirs = hmmlearn_tutorial(hl, X, lengths)
    assert ours["score"] == pytest.approx(theirs["score"], rel=1e-10)
    assert ours["viterbi"] == pytest.approx(theirs["viterbi"], rel=1e-10)
    np.testing.assert_array_equal(ours["states"], theirs["states"])
    assert_close(ours["posteriors"], theirs["posteriors"], rtol=1e-8, what="posteriors")
    assert ours["sample_shapes"] == theirs["sample_shapes"] == ((50, 2), (50,))
    assert ours["remodel_converged"] and theirs["remodel_converged"]
    assert ours["remodel_score"] == pytest.approx(theirs["remodel_score"], rel=1e-6)
    assert_close(ours["remodel_means"], theirs["remodel_means"], rtol=1e-4, what="learnt means")
    assert ours["aic"] == pytest.approx(theirs["aic"], rel=1e-6)
    assert ours["bic"] == pytest.approx(theirs["bic"], rel=1e-6)


# --------------------------------------------------------------------------- 2. constructor conventions


@pytest.mark.parametrize("name", CLASSES)
def test_constructor_signature_is_hmmlearns(name):
    """Same names, same order, same defaults, same keyword-only arguments."""
    def describe(cls):
        return [(p.name, p.kind, p.default) for p in inspect.signature(cls.__init__).parameters.values()]
    assert describe(getattr(hmm, name)) == describe(getattr(hl, name))


POSITIONAL = {
    # every positional argument, none at its default
    "GaussianHMM": (2, "full", 1e-2, 2.0, 3.0, 0.5, 0.25, 0.1, 2.0, "map", 5, 7, 1e-3, False, "stm", "sc", "scaling"),
    "GMMHMM": (2, 3, 1e-2, 2.0, 3.0, 1.5, 0.5, 0.25, 0.1, 2.0, "map", "full", 5, 7, 1e-3, False, "stmw", "sc",
               "scaling"),
    "CategoricalHMM": (2, 2.0, 3.0),
}


@pytest.mark.parametrize("name", CLASSES)
def test_positional_arguments_set_what_they_set_in_hmmlearn(name):
    args = POSITIONAL[name]
    ours, theirs = getattr(hmm, name)(*args), getattr(hl, name)(*args)
    names = [p for p in inspect.signature(getattr(hl, name).__init__).parameters if p != "self"]
    for arg_name in names:
        assert getattr(ours, arg_name) == getattr(theirs, arg_name), arg_name


def test_keyword_only_arguments_are_keyword_only_as_in_hmmlearn():
    with pytest.raises(TypeError):
        hmm.CategoricalHMM(2, 1.0, 1.0, 1.0)
    with pytest.raises(TypeError):
        hl.CategoricalHMM(2, 1.0, 1.0, 1.0)
    model = hmm.CategoricalHMM(2, emissionprob_prior=2.0, n_features=4, implementation="scaling", verbose=True)
    assert (model.emissionprob_prior, model.n_features, model.implementation, model.verbose) == (2.0, 4, "scaling",
                                                                                                  True)


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full", "tied"])
def test_all_four_covariance_types_are_accepted_positionally(covariance_type):
    assert hmm.GaussianHMM(2, covariance_type).covariance_type == covariance_type
    args = (2, 2, 1e-3, 1.0, 1.0, 1.0, 0.0, 0.0, None, None, "viterbi", covariance_type)
    assert hmm.GMMHMM(*args).covariance_type == covariance_type


def test_repr_shows_the_new_arguments():
    text = repr(hmm.GaussianHMM(3, "full", verbose=True, implementation="scaling"))
    assert "verbose=True" in text and "implementation='scaling'" in text and "covariance_type='full'" in text


# --------------------------------------------------------------------------- 3. implementation="log" | "scaling"


@pytest.mark.parametrize("n_iter", [1, 3])
@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_scaling_baum_welch_equals_hmmlearn_scaling_after_each_iteration(spec, n_iter):
    rng = np.random.default_rng([3, SPECS.index(spec)])
    n_features = 4 if spec == CATEGORICAL else 2
    params = random_params(spec, rng, n_states=3, n_features=n_features)
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    ours, theirs = make_pair(spec, params, n_iter=n_iter, tol=-np.inf, implementation="scaling")
    ours.fit(X, LENGTHS)
    theirs.fit(X, LENGTHS)
    assert_same_params(ours, theirs, spec)
    assert_same_history(ours, theirs)
    # and our log implementation gives the same numbers on these frames
    log_model, _ = make_pair(spec, params, n_iter=n_iter, tol=-np.inf, implementation="log")
    log_model.fit(X, LENGTHS)
    for name in params:
        assert_close(getattr(ours, name), getattr(log_model, name), rtol=1e-9, what=name)
    np.testing.assert_allclose(ours.monitor_.history, log_model.monitor_.history, rtol=1e-10)


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
@pytest.mark.parametrize("lengths", [None, LENGTHS])
def test_scaling_inference_equals_hmmlearn_scaling(spec, lengths):
    rng = np.random.default_rng([4, SPECS.index(spec)])
    n_features = 4 if spec == CATEGORICAL else 2
    params = random_params(spec, rng, n_states=3, n_features=n_features)
    X = random_data(spec, rng, sum(LENGTHS), n_features)
    ours, theirs = make_pair(spec, params, implementation="scaling")
    assert ours.score(X, lengths) == pytest.approx(theirs.score(X, lengths), rel=1e-10)
    log_prob, posteriors = ours.score_samples(X, lengths)
    ref_log_prob, ref_posteriors = theirs.score_samples(X, lengths)
    assert log_prob == pytest.approx(ref_log_prob, rel=1e-10)
    assert_close(posteriors, ref_posteriors, rtol=1e-8, what="score_samples")
    assert_close(ours.predict_proba(X, lengths), theirs.predict_proba(X, lengths), rtol=1e-8, what="predict_proba")
    for algorithm in ("viterbi", "map"):
        best, path = ours.decode(X, lengths, algorithm=algorithm)
        ref_best, ref_path = theirs.decode(X, lengths, algorithm=algorithm)
        assert best == pytest.approx(ref_best, rel=1e-10)
        np.testing.assert_array_equal(path, ref_path)


def test_scaling_survives_frames_that_underflow_hmmlearns_scaling():
    """Frames ~1000 nats below 1 in every state: hmmlearn's scaling gives up; ours shifts each frame first."""
    rng = np.random.default_rng(5)
    params = random_params(GAUSS_DIAG, rng, n_states=3, n_features=2)
    params["covars_"] = np.full((3, 2), 1e-4)
    X = random_data(GAUSS_DIAG, rng, 40, 2) * 0.01 + params["means_"][0] + 0.5  # 0.5 = 50 sd off every mean
    ours, theirs = make_pair(GAUSS_DIAG, params, implementation="scaling")
    assert ours.log_frameprob(X).max() < -700
    with pytest.raises((ValueError, RuntimeError)):
        theirs.score(X)
    log_model, _ = make_pair(GAUSS_DIAG, params)
    assert ours.score(X) == pytest.approx(log_model.score(X), rel=1e-12)
    assert_close(ours.predict_proba(X), log_model.predict_proba(X), rtol=1e-9, what="posteriors")


@pytest.mark.parametrize("bad", ["fast", "LOG", None, 1])
def test_bad_implementation(bad):
    with pytest.raises(ValueError, match="implementation"):
        hmm.GaussianHMM(2, implementation=bad)


# --------------------------------------------------------------------------- 4. verbose and monitor_

LINE = re.compile(r"^ {0,9}\d+ {1,16}-?\d+\.\d{8} {0,15}(\+nan|[+-]\d+\.\d{8})$")


def stderr_of(fit):
    buffer = io.StringIO()
    with contextlib.redirect_stderr(buffer):
        fit()
    return buffer.getvalue().splitlines()


@pytest.mark.parametrize("spec", [CATEGORICAL, GAUSS_FULL, GMM_DIAG], ids=["categorical", "gaussian-full", "gmm-diag"])
def test_verbose_prints_hmmlearns_report_lines(spec):
    rng = np.random.default_rng([6, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=3, n_features=3)
    X = random_data(spec, rng, sum(LENGTHS), 3)
    ours, theirs = make_pair(spec, params, n_iter=4, tol=-np.inf, verbose=True)
    ours_lines = stderr_of(lambda: ours.fit(X, LENGTHS))
    theirs_lines = stderr_of(lambda: theirs.fit(X, LENGTHS))
    assert len(ours_lines) == len(theirs_lines) == 4
    for k, (line, reference) in enumerate(zip(ours_lines, theirs_lines)):
        assert LINE.match(line), line
        assert len(line) == len(reference) == 44  # the columns line up as hmmlearn's
        fields, ref_fields = line.split(), reference.split()
        assert int(fields[0]) == int(ref_fields[0]) == k + 1
        np.testing.assert_allclose(float(fields[1]), float(ref_fields[1]), rtol=1e-9)
        if k == 0:
            assert fields[2] == ref_fields[2] == "+nan"
        else:
            np.testing.assert_allclose(float(fields[2]), float(ref_fields[2]), rtol=1e-6, atol=1e-7)


def test_not_verbose_prints_nothing(capsys):
    rng = np.random.default_rng(7)
    params = random_params(GAUSS_DIAG, rng)
    ours, _ = make_pair(GAUSS_DIAG, params, n_iter=3)
    ours.fit(random_data(GAUSS_DIAG, rng, 60))
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_verbose_through_capsys(capsys):
    rng = np.random.default_rng(8)
    params = random_params(GAUSS_DIAG, rng)
    ours, _ = make_pair(GAUSS_DIAG, params, n_iter=2, tol=-np.inf, verbose=True)
    ours.fit(random_data(GAUSS_DIAG, rng, 60))
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 2 and all(LINE.match(line) for line in lines)


def test_monitor_has_hmmlearns_attributes_after_fit():
    rng = np.random.default_rng(9)
    params = random_params(GAUSS_FULL, rng)
    X = random_data(GAUSS_FULL, rng, 200)
    ours, theirs = make_pair(GAUSS_FULL, params, n_iter=50, tol=0.5)
    ours.fit(X)
    theirs.fit(X)
    for name in ("tol", "n_iter", "verbose", "iter", "converged"):
        assert getattr(ours.monitor_, name) == getattr(theirs.monitor_, name), name
    assert ours.monitor_.converged and 2 <= ours.monitor_.iter < 50
    assert len(ours.monitor_.history) == len(theirs.monitor_.history) == ours.monitor_.iter
    np.testing.assert_allclose(list(ours.monitor_.history), list(theirs.monitor_.history), rtol=1e-9)
    assert ours.monitor_.history[-1] == pytest.approx(theirs.monitor_.history[-1], rel=1e-9)


def test_convergence_monitor_constructor_is_hmmlearns():
    ours, theirs = hmm.ConvergenceMonitor(0.5, 7, True), HLConvergenceMonitor(0.5, 7, True)
    assert (ours.tol, ours.n_iter, ours.verbose, ours.iter) == (theirs.tol, theirs.n_iter, theirs.verbose, 0)
    assert hmm.ConvergenceMonitor(0.5, 7).verbose is False


def test_a_convergence_monitor_subclass_on_monitor_is_used_by_fit():
    """hmmlearn's documented customisation: subclass the monitor, assign it to ``monitor_``, then fit."""
    rng = np.random.default_rng(10)
    params = random_params(GAUSS_DIAG, rng)
    X = random_data(GAUSS_DIAG, rng, 150)
    ours, theirs = make_pair(GAUSS_DIAG, params, n_iter=30, tol=-np.inf)
    threshold = None
    for model, base in ((theirs, HLConvergenceMonitor), (ours, hmm.ConvergenceMonitor)):
        class StopAbove(base):
            @property
            def converged(self):
                return self.iter == self.n_iter or self.history[-1] >= threshold
        if threshold is None:  # a level the reference reaches after a few iterations
            probe = hl.GaussianHMM(3, init_params="", n_iter=4, tol=-np.inf)
            for name, value in params.items():
                setattr(probe, name, value.copy())
            threshold = list(probe.fit(X).monitor_.history)[2]
        model.monitor_ = StopAbove(model.monitor_.tol, model.monitor_.n_iter, model.monitor_.verbose)
        model.fit(X)
        assert type(model.monitor_) is StopAbove
    assert theirs.monitor_.iter == 3
    assert_same_history(ours, theirs)


def test_refit_resets_the_monitor_and_takes_new_settings():
    rng = np.random.default_rng(11)
    params = random_params(GAUSS_DIAG, rng)
    X = random_data(GAUSS_DIAG, rng, 80)
    ours, _ = make_pair(GAUSS_DIAG, params, n_iter=3, tol=-np.inf)
    ours.fit(X)
    monitor = ours.monitor_
    ours.n_iter = 2
    ours.fit(X)
    assert ours.monitor_ is monitor and monitor.iter == 2 and len(monitor.history) == 2 and monitor.n_iter == 2


# --------------------------------------------------------------------------- 5. random_state


def fresh_model(spec, **kwargs):
    rng = np.random.default_rng([12, SPECS.index(spec)])
    params = random_params(spec, rng, n_states=3, n_features=3)
    return make_pair(spec, params, **kwargs)[0]


@pytest.mark.parametrize("spec", SPECS, ids=SPEC_IDS)
def test_sample_accepts_every_kind_of_random_state(spec):
    model = fresh_model(spec)
    by_int = model.sample(30, random_state=3)
    by_state = model.sample(30, random_state=np.random.RandomState(3))
    assert by_int[0].shape == by_state[0].shape == (30, 1 if spec == CATEGORICAL else 3)
    for first, second in ((by_int, model.sample(30, random_state=3)),
                          (by_state, model.sample(30, random_state=np.random.RandomState(3))),
                          (model.sample(30, random_state=np.random.default_rng(3)), by_int)):
        np.testing.assert_array_equal(first[0], second[0])
        np.testing.assert_array_equal(first[1], second[1])
    shared = np.random.RandomState(3)  # consumed, as scikit-learn's check_random_state hands it on
    first, second = model.sample(30, random_state=shared), model.sample(30, random_state=shared)
    assert not np.array_equal(first[0], second[0])
    assert model.sample(30)[0].shape == by_int[0].shape  # None: fresh entropy


@pytest.mark.parametrize("random_state", [None, 0, np.int64(5), np.random.RandomState(0), np.random.default_rng(0)])
@pytest.mark.parametrize("name", CLASSES)
def test_constructors_accept_every_kind_of_random_state(name, random_state):
    model = getattr(hmm, name)(2, random_state=random_state)
    assert model.random_state is random_state
    X = (np.random.default_rng(13).integers(0, 3, (40, 1)) if name == "CategoricalHMM"
         else np.random.default_rng(13).normal(size=(40, 2)))
    model.n_iter = 2
    model.fit(X)
    assert np.isfinite(model.score(X))
    model.sample(5)  # the model's own random_state


@pytest.mark.parametrize("name", CLASSES)
def test_fit_is_reproducible_for_an_int_and_for_equal_random_states(name):
    X = (np.random.default_rng(14).integers(0, 4, (60, 1)) if name == "CategoricalHMM"
         else np.random.default_rng(14).normal(size=(60, 2)))
    fits = [getattr(hmm, name)(3, random_state=state, n_iter=2).fit(X)
            for state in (1, 1, np.random.RandomState(1), np.random.RandomState(1))]
    for a, b in ((fits[0], fits[1]), (fits[2], fits[3])):
        np.testing.assert_array_equal(a.transmat_, b.transmat_)
        assert a.monitor_.history == b.monitor_.history


@pytest.mark.parametrize("bad", ["0", 1.5, True, [1, 2], np.random.SeedSequence(0)])
@pytest.mark.parametrize("name", CLASSES)
def test_bad_random_state_is_a_type_error_naming_it(name, bad):
    with pytest.raises(TypeError, match="random_state"):
        getattr(hmm, name)(2, random_state=bad)


@pytest.mark.parametrize("bad", ["0", 1.5, True, object()])
def test_bad_random_state_in_sample(bad):
    with pytest.raises(TypeError, match="random_state"):
        fresh_model(GAUSS_DIAG).sample(5, random_state=bad)


def test_negative_seed_is_a_value_error():
    with pytest.raises(ValueError, match="random_state"):
        hmm.GaussianHMM(2, random_state=-1)


def test_save_load_with_a_random_state_object(tmp_path):
    model = fresh_model(GAUSS_DIAG, random_state=np.random.RandomState(0), verbose=True, implementation="scaling")
    loaded = hmm.GaussianHMM.load(model.save(tmp_path / "model"))
    assert loaded.random_state is None and loaded.verbose is True and loaded.implementation == "scaling"
    X = random_data(GAUSS_DIAG, np.random.default_rng(15), 30, 3)
    assert loaded.score(X) == model.score(X)


# --------------------------------------------------------------------------- 6. attributes and errors


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full", "tied"])
def test_n_features_and_hmmlearns_covars_view(covariance_type):
    rng = np.random.default_rng(16)
    X = random_data(GAUSS_FULL, rng, 120, 3)
    ours = hmm.GaussianHMM(3, covariance_type, n_iter=3, random_state=0)
    theirs = hl.GaussianHMM(3, covariance_type, n_iter=3, random_state=0)
    with threadpool_limits(limits=1):
        ours.fit(X)
        theirs.fit(X)
    assert ours.n_features == theirs.n_features == 3
    # hmmlearn's covars_ (full matrices) from our fitted parameters, set as hmmlearn users set them
    theirs.startprob_, theirs.transmat_, theirs.means_ = ours.startprob_, ours.transmat_, ours.means_
    theirs.covars_ = ours.covars_
    assert ours.covars_full_.shape == theirs.covars_.shape == (3, 3, 3)
    np.testing.assert_allclose(ours.covars_full_, theirs.covars_, rtol=1e-15)
    assert theirs.score(X) == pytest.approx(ours.score(X), rel=1e-10)


def test_covars_full_is_read_only_and_needs_covars():
    model = hmm.GaussianHMM(2)
    with pytest.raises(hmm.NotFittedError, match="covars_"):
        model.covars_full_
    with pytest.raises(AttributeError):
        model.covars_full_ = np.ones((2, 1, 1))


@pytest.mark.parametrize("name", CLASSES)
@pytest.mark.parametrize("method", ["score", "score_samples", "decode", "predict", "predict_proba", "sample",
                                    "get_stationary_distribution"])
def test_not_fitted_is_a_value_error_and_attribute_error_as_in_hmmlearn(name, method):
    X = np.zeros((5, 1), dtype=np.int64) if name == "CategoricalHMM" else np.zeros((5, 2))
    call = {"sample": lambda m: m.sample(5), "get_stationary_distribution": lambda m: m.get_stationary_distribution()
            }.get(method, lambda m: getattr(m, method)(X))
    for module in (hl, hmm):
        with pytest.raises(ValueError) as value_error:
            call(getattr(module, name)(2))
        assert isinstance(value_error.value, AttributeError)
        assert type(value_error.value).__name__ == "NotFittedError"
    with pytest.raises(hmm.NotFittedError, match="not fitted"):
        call(getattr(hmm, name)(2))


def gaussian_pair_member(module):
    model = module.GaussianHMM(2, init_params="", n_iter=1)
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    model.means_ = np.array([[0.0, 0.0], [1.0, 1.0]])
    model.covars_ = np.ones((2, 2))
    return model


def categorical_pair_member(module):
    model = module.CategoricalHMM(2, n_features=3, init_params="")
    model.startprob_ = np.array([0.5, 0.5])
    model.transmat_ = np.array([[0.9, 0.1], [0.2, 0.8]])
    model.emissionprob_ = np.full((2, 3), 1 / 3)
    return model


def set_then_score(attribute, value):
    def situation(module):
        model = gaussian_pair_member(module)
        setattr(model, attribute, value)
        model.score(np.zeros((4, 2)))
    return situation


X_GOOD = np.random.default_rng(17).normal(size=(30, 2))
SITUATIONS = {
    "startprob_ does not sum to 1": set_then_score("startprob_", np.array([0.6, 0.6])),
    "transmat_ has the wrong shape": set_then_score("transmat_", np.eye(3)),
    "transmat_ rows do not sum to 1": set_then_score("transmat_", np.full((2, 2), 0.7)),
    "negative variances": set_then_score("covars_", -np.ones((2, 2))),
    "unknown decoder": lambda module: gaussian_pair_member(module).decode(X_GOOD, algorithm="beam"),
    "lengths do not add up": lambda module: gaussian_pair_member(module).score(X_GOOD, [10, 10]),
    "NaN in X": lambda module: gaussian_pair_member(module).score(np.full((3, 2), np.nan)),
    "1-D X": lambda module: gaussian_pair_member(module).score(X_GOOD[:, 0]),
    "features differ from the fit": lambda module: module.GaussianHMM(2, n_iter=1, random_state=0).fit(
        X_GOOD).score(np.zeros((5, 3))),
}


@pytest.mark.parametrize("situation", list(SITUATIONS))
def test_same_situations_raise_hmmlearns_exception_types(situation):
    caught = {}
    for module in (hl, hmm):
        with pytest.raises(Exception) as error:
            SITUATIONS[situation](module)
        caught[module] = error.value
    builtin = (ValueError, TypeError, AttributeError, KeyError, IndexError, RuntimeError)
    expected = [kind for kind in builtin if isinstance(caught[hl], kind)]
    assert expected, f"hmmlearn raised {type(caught[hl]).__name__}"
    for kind in expected:
        assert isinstance(caught[hmm], kind), f"{situation}: {type(caught[hmm]).__name__} is not a {kind.__name__}"


SHARPER = {
    # where hmmlearn fails late or with an incidental error, ours says what is wrong, as a ValueError
    "unknown covariance_type": (lambda module: module.GaussianHMM(2, "banana"), "covariance_type"),
    "unknown implementation": (lambda module: module.GaussianHMM(2, implementation="fast"), "implementation"),
    "symbol the model cannot emit": (lambda module: categorical_pair_member(module).score(np.array([[0], [5]])),
                                     "symbol"),
    "no states": (lambda module: module.GaussianHMM(0), "n_components"),
}


@pytest.mark.parametrize("situation", list(SHARPER))
def test_situations_hmmlearn_reports_late_are_clear_value_errors(situation):
    make, match = SHARPER[situation]
    with pytest.raises(ValueError, match=match):
        make(hmm)


@pytest.mark.parametrize("bad, error", [("yes", TypeError), (None, TypeError)])
def test_bad_verbose(bad, error):
    with pytest.raises(error, match="verbose"):
        hmm.GaussianHMM(2, verbose=bad)


@pytest.mark.parametrize("name", CLASSES)
def test_get_params_set_params_and_sklearn_clone_as_in_hmmlearn(name):
    from sklearn.base import clone

    args = POSITIONAL[name]
    ours, theirs = getattr(hmm, name)(*args), getattr(hl, name)(*args)
    assert ours.get_params() == theirs.get_params()
    copy = clone(ours)
    assert type(copy) is type(ours) and copy.get_params() == ours.get_params() and copy is not ours
    assert ours.set_params(n_iter=3, tol=0.5) is ours and (ours.n_iter, ours.tol) == (3, 0.5)
    theirs.set_params(n_iter=3, tol=0.5)
    assert ours.get_params() == theirs.get_params()
    with pytest.raises(ValueError, match="no parameter 'n_states'"):
        ours.set_params(n_states=3)
    with pytest.raises(ValueError, match="n_iter"):
        ours.set_params(n_iter=0)
    assert ours.n_iter == 3  # a refused change changes nothing


def test_a_subclass_of_hmmlearns_own_monitor_works_too():
    """Code that subclasses hmmlearn.base.ConvergenceMonitor keeps working after the import changes."""
    rng = np.random.default_rng(18)
    params = random_params(GAUSS_DIAG, rng)
    X = random_data(GAUSS_DIAG, rng, 100)

    class AtMostThree(HLConvergenceMonitor):
        @property
        def converged(self):
            return self.iter >= 3

    ours, _ = make_pair(GAUSS_DIAG, params, n_iter=30, tol=-np.inf)
    ours.monitor_ = AtMostThree(ours.monitor_.tol, ours.monitor_.n_iter, ours.monitor_.verbose)
    ours.fit(X)
    assert type(ours.monitor_) is AtMostThree and ours.monitor_.iter == 3 and len(ours.monitor_.history) == 3

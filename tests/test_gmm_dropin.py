"""lessons_lib.gmm.GaussianMixture as a drop-in for sklearn.mixture.GaussianMixture (issue 18).

The constructor's signature is scikit-learn's (names, order, keyword-only after n_components,
defaults). From the same starting parameters (weights_init/means_init/precisions_init) both are
stepped one EM iteration per ``fit`` call with ``warm_start=True, max_iter=1`` and compared after
every iteration, for the four covariance types (every fitted attribute at rtol 1e-9); a warm start
with a larger ``max_iter`` continues as scikit-learn's does (same iterations, bounds, converged_).
``n_init``: both libraries are handed the same list of starts (a test-only hook replaces the
random initialisation) and must keep the same run (lower_bound_, n_iter_, converged_,
lower_bounds_ and parameters), on data where the starts end at different lower bounds; with our
own random initialisation the kept run is the best of the single runs drawn from the same stream.
``random_state``: None (numpy's global state, as scikit-learn), int, RandomState and Generator in
fit and sample. ``verbose`` prints scikit-learn's lines (times masked). ``max_iter=0`` keeps the
initial parameters. Then the bad inputs.
"""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkLearnGaussianMixture
from threadpoolctl import threadpool_limits

from lessons_lib import gmm

from .test_gmm import COV_TYPES, SkGaussianMixture, assert_close, make_blobs, make_init, make_mixture

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore::lessons_lib.gmm.ConvergenceWarning"),
]

PARAMETERS = ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_")


@pytest.fixture(scope="module", autouse=True)
def one_blas_thread():
    """Hundreds of small fits: threaded BLAS only adds overhead to their tiny Cholesky solves."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def overlap():
    """Three overlapping 2-D clusters: EM takes tens of iterations, and random starts end differently."""
    return make_mixture(21, 300, 2, 3, spread=1.5)[0]


@pytest.fixture(scope="module")
def mix5d():
    return make_mixture(22, 300, 5, 4, spread=2.0)[0]


def assert_same_fit(ours, reference, rtol=1e-9, what=""):
    """Every fitted attribute equal: parameters at rtol, the counters exactly."""
    for name in PARAMETERS:
        assert_close(getattr(ours, name), getattr(reference, name), rtol=rtol, what=f"{what} {name}")
    assert_close(ours.lower_bound_, reference.lower_bound_, rtol=rtol, what=f"{what} lower_bound_")
    assert ours.n_iter_ == reference.n_iter_, what
    assert ours.converged_ == reference.converged_, what


# --------------------------------------------------------------------------- the constructor


def test_signature_is_sklearns():
    ours = inspect.signature(gmm.GaussianMixture).parameters
    reference = inspect.signature(SkLearnGaussianMixture).parameters
    assert list(ours) == list(reference)
    for name, parameter in reference.items():
        assert ours[name].kind == parameter.kind, name
        assert ours[name].default == parameter.default, name


def test_fitted_attributes_are_sklearns(overlap):
    reference = SkGaussianMixture(3, random_state=0).fit(overlap)
    ours = gmm.GaussianMixture(3, random_state=0).fit(overlap)
    public = [name for name in vars(reference) if name.endswith("_") and not name.startswith("_")]
    assert {"weights_", "n_iter_", "lower_bound_", "n_features_in_"} <= set(public)
    for name in public:
        assert hasattr(ours, name), name
    assert ours.n_features_in_ == 2 and isinstance(ours.converged_, bool) and isinstance(ours.n_iter_, int)


def test_fit_and_fit_predict_accept_y(overlap):
    model = gmm.GaussianMixture(3, random_state=0)
    assert model.fit(overlap, None) is model
    np.testing.assert_array_equal(model.fit_predict(overlap, y=None), model.predict(overlap))


# --------------------------------------------------------------------------- per EM iteration, and warm_start


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("data", ["overlap", "mix5d"])
def test_each_em_iteration_equals_sklearn(request, data, cov_type):
    """One EM iteration per fit() call (warm_start=True, max_iter=1) on both sides, compared after each."""
    X = request.getfixturevalue(data)
    k = 3 if data == "overlap" else 4
    weights, means, precisions = make_init([k, COV_TYPES.index(cov_type)], X, k, cov_type)
    args = dict(covariance_type=cov_type, weights_init=weights, means_init=means, precisions_init=precisions,
                warm_start=True, max_iter=1, tol=1e-6)
    ours, reference = gmm.GaussianMixture(k, **args), SkLearnGaussianMixture(k, **args)
    for iteration in range(25):
        ours.fit(X)
        reference.fit(X)
        assert_same_fit(ours, reference, what=f"iteration {iteration + 1}")
        if reference.converged_:
            break
    assert iteration >= 5  # EM had work to do


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_warm_start_continues_as_sklearn(overlap, cov_type):
    """fit(max_iter=4), then max_iter raised and fit again: scikit-learn's continuation, iteration by iteration."""
    weights, means, precisions = make_init([7, COV_TYPES.index(cov_type)], overlap, 3, cov_type)
    args = dict(covariance_type=cov_type, weights_init=weights, means_init=means, precisions_init=precisions,
                warm_start=True, max_iter=4, tol=1e-5)
    ours, reference = gmm.GaussianMixture(3, **args), SkGaussianMixture(3, **args)
    with pytest.warns(gmm.ConvergenceWarning):
        ours.fit(overlap)
    with pytest.warns(SkConvergenceWarning):
        reference.fit(overlap)
    assert_same_fit(ours, reference, what="first fit")
    assert not ours.converged_ and ours.n_iter_ == 4
    ours.max_iter = reference.max_iter = 500
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converged: no warning
        ours.fit(overlap)
        reference.fit(overlap)
    assert_same_fit(ours, reference, what="continued")
    # this fit's bounds as scikit-learn computed them (its lower_bounds_ only exists from 1.7)
    assert_close(ours.lower_bounds_, reference._recorded_bounds, rtol=1e-9, what="lower_bounds_")
    assert ours.converged_ and ours.n_iter_ > 1


@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_warm_start_one_iteration_per_call_equals_one_fit(overlap, cov_type):
    """Our own stepping replays our own single fit exactly (the same arithmetic in the same order)."""
    weights, means, precisions = make_init([8, COV_TYPES.index(cov_type)], overlap, 3, cov_type)
    args = dict(covariance_type=cov_type, weights_init=weights, means_init=means, precisions_init=precisions,
                tol=1e-4)
    whole = gmm.GaussianMixture(3, max_iter=300, **args).fit(overlap)
    stepper = gmm.GaussianMixture(3, max_iter=1, warm_start=True, **args)
    bounds = []
    while len(bounds) < 300 and not (bounds and stepper.converged_):
        bounds.append(stepper.fit(overlap).lower_bound_)
    np.testing.assert_array_equal(bounds, whole.lower_bounds_)
    for name in PARAMETERS:
        np.testing.assert_array_equal(getattr(stepper, name), getattr(whole, name), err_msg=name)


def test_warm_start_does_not_reinitialise_and_ignores_n_init(overlap):
    """The second fit starts where the first ended: equal to a cold fit started from those parameters."""
    model = gmm.GaussianMixture(3, init_params="random_from_data", n_init=3, warm_start=True, max_iter=3, tol=0.0,
                                random_state=np.random.RandomState(5))
    model.fit(overlap)
    state = model.random_state.get_state()[1].copy()
    start = dict(weights_init=model.weights_, means_init=model.means_, precisions_init=model.precisions_)
    model.fit(overlap)
    np.testing.assert_array_equal(model.random_state.get_state()[1], state)  # no new draws: no initialisation
    cold = gmm.GaussianMixture(3, max_iter=3, tol=0.0, **start).fit(overlap)
    for name in PARAMETERS:
        assert_close(getattr(model, name), getattr(cold, name), rtol=1e-12, what=name)


def test_without_warm_start_every_fit_starts_afresh(overlap):
    model = gmm.GaussianMixture(3, max_iter=3, random_state=4)
    first = model.fit(overlap).means_.copy()
    np.testing.assert_array_equal(model.fit(overlap).means_, first)


def test_warm_start_with_a_different_number_of_features_raises(overlap):
    model = gmm.GaussianMixture(2, warm_start=True, random_state=0).fit(overlap)
    with pytest.raises(ValueError, match="features"):
        model.fit(np.random.default_rng(0).normal(size=(50, 3)))


# --------------------------------------------------------------------------- n_init


class _StartsMixin:
    """Test hook: each initialisation takes the next of ``self.starts`` (weights, means, precisions)."""

    def _next_start(self):
        self.weights_init, self.means_init, self.precisions_init = self.starts[self.used]
        self.used += 1


class OursFromStarts(_StartsMixin, gmm.GaussianMixture):
    def _initialize(self, X, rng):
        self._next_start()
        super()._initialize(X, rng)


class SklearnFromStarts(_StartsMixin, SkGaussianMixture):
    def _initialize_parameters(self, X, random_state, *args, **kwargs):
        self._next_start()
        super()._initialize_parameters(X, random_state, *args, **kwargs)


def distinct_starts(X, k, cov_type, n):
    """n starts whose means are random data points: on overlapping data they end at different lower bounds."""
    return [make_init([31, i, COV_TYPES.index(cov_type)], X, k, cov_type) for i in range(n)]


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("max_iter", [200, 6])  # converged runs; runs stopped by max_iter
def test_n_init_keeps_the_run_sklearn_keeps(mix5d, cov_type, max_iter):
    X = mix5d
    starts = distinct_starts(X, 4, cov_type, 5)
    fitted = []
    for cls in (OursFromStarts, SklearnFromStarts):
        model = cls(4, covariance_type=cov_type, n_init=5, max_iter=max_iter, tol=1e-4)
        model.starts, model.used = starts, 0
        fitted.append(model.fit(X))
        assert model.used == 5
    ours, reference = fitted
    assert_same_fit(ours, reference)
    singles = [gmm.GaussianMixture(4, covariance_type=cov_type, max_iter=max_iter, tol=1e-4, weights_init=w,
                                   means_init=m, precisions_init=p).fit(X) for w, m, p in starts]
    bounds = [single.lower_bound_ for single in singles]
    assert max(bounds) - min(bounds) > 1e-3  # the starts differ: the choice matters
    assert ours.lower_bound_ == max(bounds)
    best = singles[int(np.argmax(bounds))]
    assert ours.n_iter_ == best.n_iter_ and ours.converged_ == best.converged_
    for name in PARAMETERS + ("lower_bounds_",):
        np.testing.assert_array_equal(getattr(ours, name), getattr(best, name), err_msg=name)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random", "random_from_data"])
def test_n_init_is_the_best_of_single_runs_from_the_same_stream(overlap, init_params):
    """n_init=6 with a Generator equals six n_init=1 fits drawing one after another from an equal Generator."""
    best = gmm.GaussianMixture(3, init_params=init_params, n_init=6, random_state=np.random.default_rng(3)).fit(overlap)
    stream = np.random.default_rng(3)
    singles = [gmm.GaussianMixture(3, init_params=init_params, random_state=stream).fit(overlap) for _ in range(6)]
    bounds = [single.lower_bound_ for single in singles]
    assert best.lower_bound_ == max(bounds)
    chosen = singles[int(np.argmax(bounds))]  # the first of equal maxima, as scikit-learn
    for name in PARAMETERS + ("n_iter_", "converged_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(best, name), getattr(chosen, name), err_msg=name)


def test_n_init_finds_a_better_optimum_than_a_poor_single_run():
    """Random data points are a poor start: some seeds end well below the best of n_init=8, never above it."""
    X = make_blobs(5, 60, [[0, 0], [6, 0], [0, 6], [6, 6], [3, 3]], std=0.7)
    singles = [gmm.GaussianMixture(5, init_params="random_from_data", random_state=s).fit(X).lower_bound_
               for s in range(8)]
    best = gmm.GaussianMixture(5, init_params="random_from_data", n_init=8, random_state=0).fit(X)
    assert best.lower_bound_ >= singles[0]  # its first initialisation is the single run with the same seed
    assert min(singles) < best.lower_bound_ - 0.01


def test_n_init_warns_only_when_the_kept_run_did_not_converge(mix5d):
    """scikit-learn's rule: the warning is about the best run; here only the last run converges, and it is best."""
    starts = distinct_starts(mix5d, 4, "diag", 3)
    ours = OursFromStarts(4, covariance_type="diag", n_init=3, max_iter=200, tol=1e-4)
    ours.starts, ours.used = starts, 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours.fit(mix5d)
    assert ours.converged_
    stopped = OursFromStarts(4, covariance_type="diag", n_init=3, max_iter=2, tol=1e-4)
    stopped.starts, stopped.used = starts, 0
    with pytest.warns(gmm.ConvergenceWarning, match="did not converge"):
        stopped.fit(mix5d)
    assert issubclass(gmm.ConvergenceWarning, UserWarning)


# --------------------------------------------------------------------------- max_iter=0


def test_max_iter_zero_keeps_the_initial_parameters(overlap):
    weights, means, precisions = make_init(9, overlap, 3, "full")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning for max_iter=0, as scikit-learn
        model = gmm.GaussianMixture(3, max_iter=0, weights_init=weights, means_init=means,
                                    precisions_init=precisions).fit(overlap)
        reference = SkGaussianMixture(3, max_iter=0, random_state=0).fit(overlap)
    np.testing.assert_array_equal(model.weights_, weights)
    np.testing.assert_array_equal(model.means_, means)
    assert_close(model.precisions_, precisions, rtol=1e-12)
    assert_close(model.covariances_, np.linalg.inv(precisions), rtol=1e-12)
    for ours in (model, gmm.GaussianMixture(3, max_iter=0, random_state=0).fit(overlap)):
        assert (ours.n_iter_, ours.lower_bound_, ours.converged_, list(ours.lower_bounds_)) == \
            (reference.n_iter_, reference.lower_bound_, reference.converged_, list(reference.lower_bounds_)) == \
            (0, -np.inf, False, [])


# --------------------------------------------------------------------------- random_state


@pytest.mark.parametrize("make_state", [lambda: 3, lambda: np.int64(3), lambda: np.random.RandomState(3),
                                        lambda: np.random.default_rng(3)], ids=["int", "np.int64", "RandomState",
                                                                                "Generator"])
def test_random_state_kinds_are_deterministic(overlap, make_state):
    for init_params in ["kmeans", "random"]:
        a = gmm.GaussianMixture(3, init_params=init_params, max_iter=5, random_state=make_state()).fit(overlap)
        b = gmm.GaussianMixture(3, init_params=init_params, max_iter=5, random_state=make_state()).fit(overlap)
        for name in PARAMETERS:
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
        np.testing.assert_array_equal(a.sample(20)[0], b.sample(20)[0])


def test_random_state_none_draws_from_numpys_global_state(overlap):
    """As scikit-learn's check_random_state(None): np.random.seed makes a fit repeatable, and the fit consumes it."""
    fits = []
    for _ in range(2):
        np.random.seed(11)
        fits.append(gmm.GaussianMixture(3, init_params="random", max_iter=5).fit(overlap))
    np.testing.assert_array_equal(fits[0].means_, fits[1].means_)
    np.random.seed(11)
    before = np.random.get_state()[1].copy()
    gmm.GaussianMixture(3, init_params="random", max_iter=5).fit(overlap)
    assert not np.array_equal(np.random.get_state()[1], before)


def test_an_instance_advances_an_int_restarts(overlap):
    """As in scikit-learn: a RandomState or Generator is consumed (two fits differ); an int restarts each time."""
    for state in (np.random.RandomState(2), np.random.default_rng(2)):
        model = gmm.GaussianMixture(3, init_params="random", max_iter=3, random_state=state)
        first = model.fit(overlap).means_.copy()
        assert not np.array_equal(model.fit(overlap).means_, first)
        first_draw = model.sample(5)[0]
        assert not np.array_equal(model.sample(5)[0], first_draw)
    model = gmm.GaussianMixture(3, init_params="random", max_iter=3, random_state=2)
    first = model.fit(overlap).means_.copy()
    np.testing.assert_array_equal(model.fit(overlap).means_, first)
    np.testing.assert_array_equal(model.sample(5)[0], model.sample(5)[0])


def test_a_randomstate_is_read_through_its_own_stream():
    """RandomState(s) and a Generator on the same MT19937 state draw the same numbers (one stream, shared)."""
    state = np.random.RandomState(8)
    rng = gmm._rng(state)
    assert isinstance(rng, np.random.Generator)
    twin = np.random.RandomState(8)
    np.testing.assert_array_equal(rng.integers(1000, size=5),
                                  np.random.Generator(twin._bit_generator).integers(1000, size=5))
    assert state.get_state()[2] == twin.get_state()[2]  # the RandomState advanced


def test_kmeans_accepts_a_randomstate(overlap):
    """kmeans (the default initialisation) reads the same kinds of random_state: a RandomState repeats and advances."""
    a = gmm.kmeans(overlap, 3, random_state=np.random.RandomState(6))
    b = gmm.kmeans(overlap, 3, random_state=np.random.RandomState(6))
    np.testing.assert_array_equal(a[0], b[0])
    state = np.random.RandomState(6)
    gmm.kmeans(overlap, 3, random_state=state)
    assert state.get_state()[2] != np.random.RandomState(6).get_state()[2]


@pytest.mark.parametrize("bad, error", [("0", TypeError), (1.5, TypeError), (True, TypeError), ([1, 2], TypeError),
                                        (np.random.MT19937(0), TypeError), (-1, ValueError)])
def test_bad_random_state_raises(overlap, bad, error):
    with pytest.raises(error, match="random_state"):
        gmm.GaussianMixture(2, random_state=bad).fit(overlap)


# --------------------------------------------------------------------------- verbose


def _mask_times(text):
    return re.sub(r"time lapse \d+\.\d+s", "time lapse <t>s", text)


@pytest.mark.parametrize("verbose, interval", [(1, 10), (2, 3)])
def test_verbose_prints_sklearns_lines(overlap, capsys, verbose, interval):
    weights, means, precisions = make_init(12, overlap, 3, "full")
    args = dict(weights_init=weights, means_init=means, precisions_init=precisions, n_init=2, tol=1e-4,
                verbose=verbose, verbose_interval=interval)
    gmm.GaussianMixture(3, **args).fit(overlap)
    ours = capsys.readouterr()
    SkLearnGaussianMixture(3, **args).fit(overlap)
    reference = capsys.readouterr()
    assert ours.err == ""
    ours_text, reference_text = _mask_times(ours.out), _mask_times(reference.out)
    if "Initialization converged:" in reference_text:  # before scikit-learn 1.5 the end line printed converged_
        def keep(text):
            return [line for line in text.splitlines() if not re.match(r"Initialization (converged|did not)", line)]
        assert keep(ours_text) == keep(reference_text)
        assert re.search(r"^Initialization (converged|did not converge)\.", ours_text, re.M)
    else:
        assert ours_text == reference_text
    assert ours.out.count("Initialization") == 4 and "Iteration" in ours.out


def test_not_verbose_prints_nothing(overlap, capsys):
    gmm.GaussianMixture(3, n_init=2, random_state=0).fit(overlap)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_init": 0}, ValueError, "n_init"),
    ({"n_init": -2}, ValueError, "n_init"),
    ({"n_init": 1.5}, TypeError, "n_init"),
    ({"n_init": True}, TypeError, "n_init"),
    ({"warm_start": 1}, TypeError, "warm_start"),
    ({"warm_start": "yes"}, TypeError, "warm_start"),
    ({"warm_start": None}, TypeError, "warm_start"),
    ({"verbose": -1}, ValueError, "verbose"),
    ({"verbose": "loud"}, ValueError, "verbose"),
    ({"verbose_interval": 0}, ValueError, "verbose_interval"),
    ({"max_iter": -1}, ValueError, "max_iter"),
    ({"max_iter": 2.0}, TypeError, "max_iter"),
])
def test_bad_parameters_raise(overlap, kwargs, error, match):
    with pytest.raises(error, match=match):
        gmm.GaussianMixture(2, **kwargs).fit(overlap)


def test_positional_arguments_after_n_components_are_refused_as_in_sklearn():
    with pytest.raises(TypeError):
        gmm.GaussianMixture(2, "diag")
    with pytest.raises(TypeError):
        SkLearnGaussianMixture(2, "diag")

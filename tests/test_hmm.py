"""lessons_lib.hmm (functional core): forward, backward, posteriors and Viterbi.

Checked against hmmlearn 0.3.3's compiled kernels (``hmmlearn._hmmc``) on random
models (ergodic and left-to-right with zeros), against brute-force enumeration
of every state path on tiny models, on 100,000 frames (no underflow), on one
frame, for zero transitions staying zero, with hypothesis properties, and for
bad input.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hmmlearn import _hmmc
from hypothesis import given, settings, strategies as st

from lessons_lib import hmm


def random_model(n_states, rng, left_to_right=False):
    startprob = rng.dirichlet(np.ones(n_states))
    transmat = rng.dirichlet(np.ones(n_states), size=n_states)
    if left_to_right:
        transmat = np.triu(transmat)
        transmat /= transmat.sum(axis=1, keepdims=True)
        startprob = np.zeros(n_states)
        startprob[0] = 1.0
    return startprob, transmat


def random_frames(n_frames, n_states, rng, scale=10.0):
    return rng.normal(-30.0, scale, (n_frames, n_states))


CASES = [(1, 1, False), (2, 1, False), (2, 2, False), (3, 10, False), (5, 200, True), (8, 500, False),
         (32, 2000, False), (6, 3000, True)]


def reference(startprob, transmat, log_frameprob):
    log_prob, fwd = _hmmc.forward_log(startprob, transmat, log_frameprob)
    bwd = _hmmc.backward_log(startprob, transmat, log_frameprob)
    gamma = np.exp(fwd + bwd - log_prob)
    gamma /= gamma.sum(axis=1, keepdims=True)
    if log_frameprob.shape[0] > 1:
        xi_sum = np.exp(_hmmc.compute_log_xi_sum(fwd, transmat, bwd, log_frameprob))
    else:
        xi_sum = np.zeros_like(transmat)
    return log_prob, fwd, bwd, gamma, xi_sum


def assert_lattice(ours, theirs, rtol=1e-10):
    assert ours.shape == theirs.shape
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(theirs))
    finite = np.isfinite(theirs)
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=rtol, atol=1e-9)


@pytest.mark.parametrize("n_states, n_frames, left_to_right", CASES)
def test_everything_equals_hmmlearn(n_states, n_frames, left_to_right):
    rng = np.random.default_rng([n_states, n_frames])
    startprob, transmat = random_model(n_states, rng, left_to_right)
    log_frameprob = random_frames(n_frames, n_states, rng)
    log_prob, fwd, bwd, gamma, xi_sum = reference(startprob, transmat, log_frameprob)

    ours_log_prob, ours_fwd = hmm.forward(startprob, transmat, log_frameprob)
    assert ours_log_prob == pytest.approx(log_prob, rel=1e-12)
    assert_lattice(ours_fwd, fwd)

    assert_lattice(hmm.backward(startprob, transmat, log_frameprob), bwd)

    post_log_prob, ours_gamma, ours_xi = hmm.posteriors(startprob, transmat, log_frameprob)
    assert post_log_prob == pytest.approx(log_prob, rel=1e-12)
    np.testing.assert_allclose(ours_gamma, gamma, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(ours_xi, xi_sum, rtol=1e-8, atol=1e-10 * max(1.0, xi_sum.max()))

    v_log_prob, path = hmm.viterbi(startprob, transmat, log_frameprob)
    ref_log_prob, ref_path = _hmmc.viterbi(startprob, transmat, log_frameprob)
    assert v_log_prob == pytest.approx(ref_log_prob, rel=1e-12)
    np.testing.assert_array_equal(path, ref_path)


@pytest.mark.parametrize("left_to_right", [False, True])
def test_brute_force_enumeration_of_every_path(left_to_right):
    rng = np.random.default_rng(7 + left_to_right)
    n_states, n_frames = 3, 5
    startprob, transmat = random_model(n_states, rng, left_to_right)
    log_frameprob = rng.normal(-2.0, 1.0, (n_frames, n_states))
    B = np.exp(log_frameprob)
    joint = {}
    for path in itertools.product(range(n_states), repeat=n_frames):
        p = startprob[path[0]] * B[0, path[0]]
        for t in range(1, n_frames):
            p *= transmat[path[t - 1], path[t]] * B[t, path[t]]
        joint[path] = p
    total = sum(joint.values())
    gamma = np.zeros((n_frames, n_states))
    xi_sum = np.zeros((n_states, n_states))
    for path, p in joint.items():
        for t, state in enumerate(path):
            gamma[t, state] += p / total
        for t in range(n_frames - 1):
            xi_sum[path[t], path[t + 1]] += p / total
    best = max(joint, key=joint.get)

    assert hmm.forward(startprob, transmat, log_frameprob)[0] == pytest.approx(np.log(total), rel=1e-12)
    assert hmm.forward_scaled(startprob, transmat, log_frameprob)[0] == pytest.approx(np.log(total), rel=1e-12)
    _, ours_gamma, ours_xi = hmm.posteriors(startprob, transmat, log_frameprob)
    np.testing.assert_allclose(ours_gamma, gamma, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ours_xi, xi_sum, rtol=1e-10, atol=1e-14)
    log_best, path = hmm.viterbi(startprob, transmat, log_frameprob)
    assert tuple(path) == best
    assert log_best == pytest.approx(np.log(joint[best]), rel=1e-12)


@pytest.mark.parametrize("left_to_right", [False, True])
def test_one_hundred_thousand_frames_do_not_underflow(left_to_right):
    rng = np.random.default_rng(100_000 + left_to_right)
    startprob, transmat = random_model(4, rng, left_to_right)
    log_frameprob = random_frames(100_000, 4, rng)
    log_prob, fwd, bwd, gamma, xi_sum = reference(startprob, transmat, log_frameprob)
    ours, ours_gamma, ours_xi = hmm.posteriors(startprob, transmat, log_frameprob)
    assert np.isfinite(ours) and ours == pytest.approx(log_prob, rel=1e-10)
    assert np.all(np.isfinite(ours_gamma)) and np.all(np.isfinite(ours_xi))
    np.testing.assert_allclose(ours_gamma, gamma, atol=1e-8)
    np.testing.assert_allclose(ours_xi, xi_sum, rtol=1e-6, atol=1e-6 * xi_sum.max())
    assert hmm.forward(startprob, transmat, log_frameprob)[0] == pytest.approx(log_prob, rel=1e-12)
    np.testing.assert_array_equal(hmm.viterbi(startprob, transmat, log_frameprob)[1],
                                  _hmmc.viterbi(startprob, transmat, log_frameprob)[1])


@pytest.mark.parametrize("n_states, n_frames", [(1, 1), (3, 10), (8, 500), (32, 2000)])
def test_scaled_forward_equals_hmmlearn_on_well_conditioned_frames(n_states, n_frames):
    rng = np.random.default_rng([n_states, n_frames, 1])
    startprob, transmat = random_model(n_states, rng)
    log_frameprob = random_frames(n_frames, n_states, rng, scale=2.0)
    log_prob, fwd = _hmmc.forward_log(startprob, transmat, log_frameprob)
    ours_log_prob, ours_fwd = hmm.forward_scaled(startprob, transmat, log_frameprob)
    assert ours_log_prob == pytest.approx(log_prob, rel=1e-12)
    np.testing.assert_allclose(ours_fwd, fwd, rtol=1e-10)
    # hmmlearn's own scaled kernel, on the same per-frame-normalised likelihoods
    shift = log_frameprob.max(axis=1)
    scaled_log_prob, _, _ = _hmmc.forward_scaling(startprob, transmat, np.exp(log_frameprob - shift[:, None]))
    assert ours_log_prob == pytest.approx(scaled_log_prob + shift.sum(), rel=1e-12)


def test_scaling_loses_paths_when_frames_disagree_by_hundreds_of_nats():
    """The documented failure mode: a path negligible at one frame and dominant later rounds to zero."""
    # Paths 0,1,2,2 (prob .5 e^-800) and 0,0,1,2 (.25 e^-800) carry the likelihood; scaling rounds
    # e^-800 to 0 at frames 1 and 2 and is left with the path 0,0,0,0 (.125 e^-1400).
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    log_frameprob = np.array([[0.0, 0.0, 0.0], [0.0, -800.0, -800.0], [-700.0, -800.0, 0.0], [-700.0, -800.0, 0.0]])
    true_log_prob = hmm.forward(startprob, transmat, log_frameprob)[0]
    np.testing.assert_allclose(true_log_prob, _hmmc.forward_log(startprob, transmat, log_frameprob)[0], rtol=1e-12)
    assert true_log_prob == pytest.approx(-800 + np.log(0.75), abs=1e-6)
    scaled = hmm.forward_scaled(startprob, transmat, log_frameprob)[0]
    assert scaled == pytest.approx(-1400 + 3 * np.log(0.5), abs=1e-6), "the lost path is gone: 600 nats too low"


def test_zero_transitions_stay_zero():
    rng = np.random.default_rng(3)
    startprob, transmat = random_model(5, rng, left_to_right=True)
    log_frameprob = random_frames(300, 5, rng, scale=2.0)
    _, gamma, xi_sum = hmm.posteriors(startprob, transmat, log_frameprob)
    assert np.all(xi_sum[transmat == 0] == 0)
    assert np.all(gamma[0, 1:] == 0), "the chain starts in state 0 only"
    path = hmm.viterbi(startprob, transmat, log_frameprob)[1]
    assert np.all(np.diff(path) >= 0), "a left-to-right model never moves back"


def test_one_frame():
    startprob = np.array([0.2, 0.8])
    transmat = np.array([[0.5, 0.5], [0.1, 0.9]])
    log_frameprob = np.log(np.array([[0.3, 0.6]]))
    expected = np.log(0.2 * 0.3 + 0.8 * 0.6)
    assert hmm.forward(startprob, transmat, log_frameprob)[0] == pytest.approx(expected)
    _, gamma, xi_sum = hmm.posteriors(startprob, transmat, log_frameprob)
    np.testing.assert_allclose(gamma, [[0.06 / 0.54, 0.48 / 0.54]])
    assert np.all(xi_sum == 0)
    assert hmm.viterbi(startprob, transmat, log_frameprob)[1].tolist() == [1]
    np.testing.assert_array_equal(hmm.backward(startprob, transmat, log_frameprob), [[0.0, 0.0]])


@settings(max_examples=40, deadline=None)
@given(n_states=st.integers(1, 6), n_frames=st.integers(1, 60), seed=st.integers(0, 10**6))
def test_posterior_laws(n_states, n_frames, seed):
    rng = np.random.default_rng(seed)
    startprob, transmat = random_model(n_states, rng)
    log_frameprob = random_frames(n_frames, n_states, rng)
    log_prob, gamma, xi_sum = hmm.posteriors(startprob, transmat, log_frameprob)
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, atol=1e-12)
    assert xi_sum.sum() == pytest.approx(n_frames - 1, abs=1e-9)
    # sum_j xi_t(i, j) = gamma_t(i): the transition counts out of i are the occupancies of i
    np.testing.assert_allclose(xi_sum.sum(axis=1), gamma[:-1].sum(axis=0), atol=1e-9)
    fwd = hmm.forward(startprob, transmat, log_frameprob)[1]
    bwd = hmm.backward(startprob, transmat, log_frameprob)
    # alpha_t . beta_t = P(O) at every frame
    np.testing.assert_allclose(np.log(np.sum(np.exp(fwd + bwd - log_prob), axis=1)), 0.0, atol=1e-9)


# ----------------------------------------------------------------------------- bad input

PI = np.array([0.5, 0.5])
A = np.array([[0.9, 0.1], [0.2, 0.8]])
LOGB = np.log(np.full((4, 2), 0.5))


@pytest.mark.parametrize("function", [hmm.forward, hmm.forward_scaled, hmm.backward, hmm.posteriors, hmm.viterbi])
@pytest.mark.parametrize(
    "startprob, transmat, log_frameprob, error, match",
    [
        (np.array([0.6, 0.6]), A, LOGB, ValueError, "startprob must sum to 1"),
        (PI, np.array([[0.9, 0.2], [0.2, 0.8]]), LOGB, ValueError, "row of transmat must sum to 1"),
        (np.array([1.5, -0.5]), A, LOGB, ValueError, "startprob must hold probabilities"),
        (PI, np.array([[1.1, -0.1], [0.2, 0.8]]), LOGB, ValueError, "transmat must hold probabilities"),
        (PI, np.eye(3), LOGB, ValueError, "transmat must have shape"),
        (PI, A, np.zeros((4, 3)), ValueError, "log_frameprob must have shape"),
        (PI, A, np.zeros((0, 2)), ValueError, "no frames"),
        (PI, A, np.array([[0.0, np.nan]]), ValueError, "NaN"),
        (np.array([1, 0]), A, LOGB, TypeError, "startprob must be a float"),
        (PI, A, [[0.0, 0.0]], TypeError, "log_frameprob must be a numpy array"),
        (PI, A, np.full((3, 2), -np.inf), ValueError, "impossible"),
    ],
)
def test_bad_input(function, startprob, transmat, log_frameprob, error, match):
    with pytest.raises(error, match=match):
        function(startprob, transmat, log_frameprob)


def test_a_sequence_no_path_can_produce_is_an_error_not_nan():
    startprob = np.array([1.0, 0.0])
    transmat = np.array([[1.0, 0.0], [0.0, 1.0]])  # state 1 is never reached
    with np.errstate(divide="ignore"):  # frame 1 is only possible in state 1
        log_frameprob = np.log(np.array([[1.0, 1.0], [0.0, 1.0]]))
    for function in (hmm.forward, hmm.posteriors, hmm.viterbi):
        with pytest.raises(ValueError, match="impossible"):
            function(startprob, transmat, log_frameprob)


# --------------------------------------------------------------------------- forward_log: any weights


def brute_force_log_total(log_pi, log_A, log_B):
    """log of the sum over every state path of the product of its weights, by enumeration."""
    n_frames, n_states = log_B.shape
    terms = []
    for path in itertools.product(range(n_states), repeat=n_frames):
        w = log_pi[path[0]] + log_B[0, path[0]]
        for t in range(1, n_frames):
            w += log_A[path[t - 1], path[t]] + log_B[t, path[t]]
        terms.append(w)
    terms = np.array(terms)
    m = terms.max()
    return m + np.log(np.exp(terms - m).sum()) if np.isfinite(m) else -np.inf


@pytest.mark.parametrize("n_states, n_frames", [(1, 1), (1, 6), (3, 1), (3, 5), (4, 4)])
def test_forward_log_with_probabilities_is_forward(n_states, n_frames):
    rng = np.random.default_rng(n_states * 10 + n_frames)
    startprob, transmat = random_model(n_states, rng)
    log_frameprob = random_frames(n_frames, n_states, rng)
    log_prob, fwd = hmm.forward_log(np.log(startprob), np.log(transmat), log_frameprob)
    ref_log_prob, ref_fwd = hmm.forward(startprob, transmat, log_frameprob)
    assert log_prob == pytest.approx(ref_log_prob, rel=1e-12)
    assert_lattice(fwd, ref_fwd, rtol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 50.0, 800.0])
@pytest.mark.parametrize("seed", range(3))
def test_forward_log_with_unnormalised_weights_equals_brute_force(seed, scale):
    # weights far from 1 (log-weights up to +-800) must neither overflow nor underflow
    rng = np.random.default_rng(seed)
    n_states, n_frames = 3, 5
    log_pi = rng.normal(0.0, scale, n_states)
    log_A = rng.normal(0.0, scale, (n_states, n_states))
    log_A[rng.random((n_states, n_states)) < 0.3] = -np.inf  # some forbidden moves
    log_B = rng.normal(0.0, 2.0, (n_frames, n_states))
    log_prob, fwd = hmm.forward_log(log_pi, log_A, log_B)
    expected = brute_force_log_total(log_pi, log_A, log_B)
    assert log_prob == pytest.approx(expected, rel=1e-12, abs=1e-9)
    # the lattice's prefix totals are the totals of the shorter sequences
    for t in range(1, n_frames + 1):
        prefix = brute_force_log_total(log_pi, log_A, log_B[:t])
        m = fwd[t - 1].max()
        assert m + np.log(np.exp(fwd[t - 1] - m).sum()) == pytest.approx(prefix, rel=1e-12, abs=1e-9)


def test_forward_log_counts_paths_and_returns_minus_inf_when_none_survive():
    # every weight 1: the total is the number of paths, N ** T
    log_prob, _ = hmm.forward_log(np.zeros(3), np.zeros((3, 3)), np.zeros((4, 3)))
    assert np.exp(log_prob) == pytest.approx(3**4, rel=1e-12)
    # no move allowed at all: one frame is fine, two frames have no path
    nothing = np.full((2, 2), -np.inf)
    assert hmm.forward_log(np.zeros(2), nothing, np.zeros((1, 2)))[0] == pytest.approx(np.log(2.0))
    log_prob, fwd = hmm.forward_log(np.zeros(2), nothing, np.zeros((2, 2)))
    assert log_prob == -np.inf and np.all(fwd[1] == -np.inf)


@pytest.mark.parametrize(
    "args, error, match",
    [
        ((np.zeros(2), np.zeros((2, 2)), np.zeros((3, 3))), ValueError, "log_frameprob must have shape"),
        ((np.zeros(2), np.zeros((3, 3)), np.zeros((3, 2))), ValueError, "log_transmat must have shape"),
        ((np.zeros((2, 1)), np.zeros((2, 2)), np.zeros((3, 2))), ValueError, "log_startprob must be 1-D"),
        ((np.zeros(0), np.zeros((0, 0)), np.zeros((3, 0))), ValueError, "log_startprob must be 1-D"),
        ((np.zeros(2), np.zeros((2, 2)), np.zeros((0, 2))), ValueError, "no frames"),
        ((np.array([0.0, np.nan]), np.zeros((2, 2)), np.zeros((3, 2))), ValueError, "log_startprob contains NaN"),
        ((np.zeros(2), np.full((2, 2), np.inf), np.zeros((3, 2))), ValueError, r"log_transmat contains NaN or \+inf"),
        ((np.zeros(2, dtype=int), np.zeros((2, 2)), np.zeros((3, 2))), TypeError, "log_startprob must be a float"),
        (([0.0, 0.0], np.zeros((2, 2)), np.zeros((3, 2))), TypeError, "log_startprob must be a float"),
    ],
)
def test_forward_log_bad_input(args, error, match):
    with pytest.raises(error, match=match):
        hmm.forward_log(*args)

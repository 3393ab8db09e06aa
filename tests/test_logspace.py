"""lessons_lib.logspace: the log-sum-exp.

``logsumexp`` is compared with scipy.special.logsumexp on random arrays of one to
three dimensions, for every axis (None, 0, 1, -1, ...) with and without keepdims,
with -inf entries (some, and whole slices that are all -inf), and with huge and
tiny magnitudes where the naive log(sum(exp(a))) overflows or underflows; the
known values of the contract ([1000, 1000] -> 1000 + log 2). Properties: shifting
the input by a constant shifts the result, the result lies between max(a) and
max(a) + log(n). Then the bad input the contract names (an empty array).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings, strategies as st

from lessons_lib.logspace import logsumexp


def assert_matches(ours, reference):
    """Equal to scipy at rtol 1e-10 (relative to the largest finite magnitude), -inf exactly where scipy's is."""
    ours = np.asarray(ours)
    reference = np.asarray(reference)
    assert ours.shape == reference.shape
    assert not np.isnan(ours).any()
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(reference))
    finite = np.isfinite(reference)
    assert np.isfinite(ours[finite]).all()
    if finite.any():
        scale = max(float(np.abs(reference[finite]).max()), 1.0)
        np.testing.assert_allclose(ours[finite], reference[finite], rtol=1e-10, atol=1e-10 * scale)


def random_array(shape, seed, *, magnitude=1.0, neginf_fraction=0.0):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shape) * magnitude
    if neginf_fraction:
        a[rng.random(shape) < neginf_fraction] = -np.inf
    return a


SHAPES_AND_AXES = [
    ((1,), None), ((1,), 0), ((7,), None), ((7,), 0), ((7,), -1),
    ((5, 3), None), ((5, 3), 0), ((5, 3), 1), ((5, 3), -1), ((5, 3), -2),
    ((1, 9), 0), ((1, 9), 1), ((40, 16), 0), ((40, 16), 1),
    ((4, 3, 6), None), ((4, 3, 6), 0), ((4, 3, 6), 1), ((4, 3, 6), 2), ((4, 3, 6), -1),
]


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("magnitude", [1.0, 30.0, 1e3, 1e5, 1e300])
@pytest.mark.parametrize("shape, axis", SHAPES_AND_AXES, ids=str)
def test_logsumexp_equals_scipy(shape, axis, magnitude, keepdims):
    a = random_array(shape, [len(shape), sum(shape), int(math.log10(magnitude))], magnitude=magnitude)
    assert_matches(logsumexp(a, axis=axis, keepdims=keepdims),
                   scipy.special.logsumexp(a, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [(0, 1), (0, 2), (1, 2), (0, 1, 2), (-1, 0)], ids=str)
def test_logsumexp_over_several_axes_equals_scipy(axis, keepdims):
    """The signature takes a tuple of axes, as scipy's does."""
    a = random_array((4, 3, 6), [9, len(axis)], magnitude=100.0, neginf_fraction=0.1)
    assert_matches(logsumexp(a, axis=axis, keepdims=keepdims),
                   scipy.special.logsumexp(a, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("shape, axis", SHAPES_AND_AXES, ids=str)
def test_logsumexp_with_some_neginf_entries_equals_scipy(shape, axis, keepdims):
    a = random_array(shape, [7, len(shape), sum(shape)], magnitude=50.0, neginf_fraction=0.3)
    a.flat[0] = 1.0  # at least one finite entry
    assert_matches(logsumexp(a, axis=axis, keepdims=keepdims),
                   scipy.special.logsumexp(a, axis=axis, keepdims=keepdims))


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_all_neginf_slices_give_neginf_without_nan_or_warning(axis, keepdims):
    a = random_array((6, 5), 3, magnitude=10.0)
    a[2, :] = -np.inf  # a whole row
    a[:, 3] = -np.inf  # a whole column
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = logsumexp(a, axis=axis, keepdims=keepdims)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = scipy.special.logsumexp(a, axis=axis, keepdims=keepdims)
    assert_matches(ours, reference)
    if axis in (1, -1):
        assert np.isneginf(np.asarray(ours).reshape(-1)[2])
        assert np.isfinite(np.asarray(ours).reshape(-1)[[0, 1, 3, 4, 5]]).all()
    if axis == 0:
        assert np.isneginf(np.asarray(ours).reshape(-1)[3])


@pytest.mark.parametrize("axis", [None, 0])
def test_all_neginf_array_gives_neginf(axis):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = logsumexp(np.full(4, -np.inf), axis=axis)
    assert np.isneginf(result)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isneginf(logsumexp(np.array([-np.inf])))


@pytest.mark.parametrize("a, expected", [
    ([1000.0, 1000.0], 1000.0 + math.log(2)),
    ([-1000.0, -1000.0], -1000.0 + math.log(2)),
    ([0.0, 0.0, 0.0, 0.0], math.log(4)),
    ([-np.inf, 5.0], 5.0),
    ([710.0, 0.0], 710.0 + math.log1p(math.exp(-710.0))),
    ([-745.5, -745.5, -745.5], -745.5 + math.log(3)),  # exp underflows to 0 (or a denormal) naively
    ([1e308, 1e308], 1e308),
    ([3.0], 3.0),
])
def test_known_values(a, expected):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = logsumexp(np.array(a))
    assert float(result) == pytest.approx(expected, rel=1e-13, abs=1e-13)


def test_result_of_axis_none_is_a_scalar_like_scipys():
    a = random_array((3, 4), 0)
    ours = logsumexp(a)
    assert np.ndim(ours) == 0
    assert float(ours) == pytest.approx(float(scipy.special.logsumexp(a)), rel=1e-12)
    kept = logsumexp(a, keepdims=True)
    assert np.shape(kept) == (1, 1)
    assert float(np.asarray(kept)[0, 0]) == pytest.approx(float(ours), rel=1e-15)


def test_a_gaussian_mixture_log_density_by_hand():
    """log(0.3 N(x|0,1) + 0.7 N(x|4,1)) at points where the densities underflow to 0 in linear space."""
    x = np.array([-60.0, -40.0, 0.0, 2.0, 4.0, 45.0, 70.0])
    log_terms = np.stack([
        math.log(0.3) - 0.5 * math.log(2 * math.pi) - 0.5 * x ** 2,
        math.log(0.7) - 0.5 * math.log(2 * math.pi) - 0.5 * (x - 4.0) ** 2,
    ], axis=1)
    ours = logsumexp(log_terms, axis=1)
    assert np.isfinite(ours).all()
    hi = log_terms.max(axis=1)
    lo = log_terms.min(axis=1)
    np.testing.assert_allclose(ours, hi + np.log1p(np.exp(lo - hi)), rtol=1e-13)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50),
       shift=st.floats(-1e4, 1e4, allow_nan=False, allow_infinity=False),
       magnitude=st.floats(1e-3, 1e3))
def test_shift_equivariance_and_bounds(seed, n, shift, magnitude):
    a = random_array((n,), seed, magnitude=magnitude)
    base = float(logsumexp(a))
    scale = max(1.0, abs(base), abs(shift))
    assert float(logsumexp(a + shift)) == pytest.approx(base + shift, rel=1e-12, abs=1e-12 * scale)
    assert a.max() - 1e-12 * scale <= base <= a.max() + math.log(n) + 1e-12 * scale
    assert base == pytest.approx(float(scipy.special.logsumexp(a)), rel=1e-10, abs=1e-10)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), rows=st.integers(1, 12), cols=st.integers(1, 12),
       axis=st.sampled_from([None, 0, 1, -1]), keepdims=st.booleans(),
       magnitude=st.sampled_from([1.0, 100.0, 1e6, 1e200]), neginf=st.sampled_from([0.0, 0.2, 0.6]))
def test_random_matrices_equal_scipy(seed, rows, cols, axis, keepdims, magnitude, neginf):
    a = random_array((rows, cols), seed, magnitude=magnitude, neginf_fraction=neginf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = scipy.special.logsumexp(a, axis=axis, keepdims=keepdims)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = logsumexp(a, axis=axis, keepdims=keepdims)
    assert_matches(ours, reference)


def test_input_is_not_modified():
    a = random_array((5, 4), 11, neginf_fraction=0.2)
    copy = a.copy()
    logsumexp(a, axis=1)
    logsumexp(a)
    np.testing.assert_array_equal(a, copy)


@pytest.mark.parametrize("empty", [np.array([]), np.zeros((0, 3)), np.zeros((3, 0))])
def test_empty_array_raises(empty):
    with pytest.raises(ValueError, match="empty"):
        logsumexp(empty)

"""lessons_lib.metrics: accuracy, the confusion matrix, edit distance and error rates.

The references: scikit-learn's ``accuracy_score`` and ``confusion_matrix`` on
random labels (integers and strings, classes missing from the data, a
``labels`` list that reorders and selects classes, one sample, a hundred
thousand samples), and jiwer for edit distances, the word error rate and the
character error rate. Then the laws that tie them together (row and column
sums are the class counts, the trace over N is the accuracy; the edit distance
is a metric) and bad input.
"""

from __future__ import annotations

import jiwer
import numpy as np
import pytest
import sklearn.metrics
import torch
from hypothesis import given, settings, strategies as st

from lessons_lib import metrics


def random_labels(rng, n_classes: int, size: int, *, skip=()) -> np.ndarray:
    """Labels 0 .. n_classes - 1, never one in ``skip``."""
    allowed = np.setdiff1d(np.arange(n_classes), skip)
    return rng.choice(allowed, size=size)


# --------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    for size in (1, 2, 17, 1000):
        n_classes = int(rng.integers(1, 12))
        y_true = random_labels(rng, n_classes, size)
        y_pred = np.where(rng.random(size) < 0.6, y_true, random_labels(rng, n_classes, size))
        expected = sklearn.metrics.accuracy_score(y_true, y_pred)
        assert metrics.accuracy(y_true, y_pred) == pytest.approx(expected, rel=1e-15, abs=0)
        assert metrics.accuracy(y_true.tolist(), y_pred.tolist()) == pytest.approx(expected, rel=1e-15, abs=0)


def test_accuracy_of_strings_tensors_and_extremes():
    words = np.array(["yes", "no", "maybe"])
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.choice(words, 50), rng.choice(words, 50)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sklearn.metrics.accuracy_score(y_true, y_pred))
    t = torch.tensor([0, 1, 2, 3])
    assert metrics.accuracy(t, torch.tensor([0, 1, 0, 0])) == 0.5
    assert metrics.accuracy([4], [4]) == 1.0
    assert metrics.accuracy([4], [5]) == 0.0
    assert metrics.accuracy([True, False], [True, True]) == 0.5


@pytest.mark.parametrize(
    "y_true, y_pred, error, match",
    [
        ([0, 1, 2], [0, 1], ValueError, "same length"),
        ([], [], ValueError, "empty"),
        ([[0, 1]], [[0, 1]], ValueError, "y_true must be 1-D"),
        ([0, 1], [[0, 1]], ValueError, "y_pred must be 1-D"),
        ([0.0, 1.0], [0, 1], TypeError, "y_true must hold integer or string"),
        ([0, 1], [0.5, 1.0], TypeError, "y_pred must hold integer or string"),
        (3, [3], TypeError, "y_true must be a 1-D sequence"),
        ([3], "3", TypeError, "y_pred must be a 1-D sequence"),
        ([0, 1], ["0", "1"], TypeError, "both hold integers or both hold strings"),
    ],
)
def test_accuracy_bad_input(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        metrics.accuracy(y_true, y_pred)


# --------------------------------------------------------------------------- confusion matrix


@pytest.mark.filterwarnings("ignore:A single label was found:UserWarning")  # sklearn, on one-sample cases
@pytest.mark.parametrize("seed", range(8))
def test_confusion_matrix_equals_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    for size in (1, 3, 40, 500):
        n_classes = int(rng.integers(2, 12))
        absent = rng.choice(n_classes, size=int(rng.integers(0, n_classes - 1)), replace=False)
        y_true = random_labels(rng, n_classes, size, skip=absent)
        y_pred = random_labels(rng, n_classes, size, skip=absent[: len(absent) // 2])
        # the labels found in the data
        np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred),
                                      sklearn.metrics.confusion_matrix(y_true, y_pred))
        # every class, those absent from the data included
        expected = sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(n_classes))
        ours = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
        np.testing.assert_array_equal(ours, expected)
        assert ours.shape == (n_classes, n_classes) and ours.dtype == np.int64
        np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, labels=range(n_classes)), expected)


@pytest.mark.parametrize("seed", range(8))
def test_confusion_matrix_with_labels_that_reorder_select_and_are_absent(seed):
    rng = np.random.default_rng(200 + seed)
    n_classes, size = 9, int(rng.integers(1, 80))
    y_true = random_labels(rng, n_classes, size, skip=[7, 8])
    y_pred = random_labels(rng, n_classes, size, skip=[8])
    labels = rng.permutation(n_classes + 3)[: int(rng.integers(1, n_classes + 3))]  # up to 11: 9..11 never occur
    labels = np.append(labels, y_true[0])  # sklearn wants one of them in y_true
    labels = np.unique(labels)[rng.permutation(np.unique(labels).size)]
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, labels=labels),
                                  sklearn.metrics.confusion_matrix(y_true, y_pred, labels=labels))


def test_confusion_matrix_of_strings():
    rng = np.random.default_rng(5)
    words = np.array(["zero", "one", "two", "three", "oh"])
    y_true, y_pred = rng.choice(words[:4], 60), rng.choice(words, 60)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred),
                                  sklearn.metrics.confusion_matrix(y_true, y_pred))
    labels = ["oh", "two", "nine", "zero"]
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true.tolist(), y_pred.tolist(), labels=labels),
                                  sklearn.metrics.confusion_matrix(y_true, y_pred, labels=labels))


def test_confusion_matrix_of_a_long_input_and_of_tensors():
    rng = np.random.default_rng(6)
    y_true, y_pred = rng.integers(0, 10, 100_000), rng.integers(0, 10, 100_000)
    expected = sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(12))
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred, n_classes=12), expected)
    np.testing.assert_array_equal(
        metrics.confusion_matrix(torch.from_numpy(y_true), torch.from_numpy(y_pred), n_classes=12), expected)
    np.testing.assert_array_equal(metrics.confusion_matrix([3], [3], n_classes=4), np.diag([0, 0, 0, 1]))


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6).flatmap(
    lambda k: st.tuples(st.just(k), st.lists(st.tuples(st.integers(0, k - 1), st.integers(0, k - 1)),
                                             min_size=1, max_size=40))))
def test_confusion_matrix_laws(case):
    """Rows sum to the true class counts, columns to the predicted ones; the trace over N is the accuracy."""
    n_classes, pairs = case
    y_true, y_pred = (np.array(column) for column in zip(*pairs))
    matrix = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    np.testing.assert_array_equal(matrix.sum(axis=1), np.bincount(y_true, minlength=n_classes))
    np.testing.assert_array_equal(matrix.sum(axis=0), np.bincount(y_pred, minlength=n_classes))
    assert np.trace(matrix) / len(pairs) == pytest.approx(metrics.accuracy(y_true, y_pred), rel=1e-15)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_pred, y_true, n_classes=n_classes), matrix.T)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(y_true=[0, 1], y_pred=[0]), ValueError, "same length"),
        (dict(y_true=[], y_pred=[]), ValueError, "empty"),
        (dict(y_true=[[0]], y_pred=[[0]]), ValueError, "y_true must be 1-D"),
        (dict(y_true=[0.0, 1.0], y_pred=[0, 1]), TypeError, "y_true must hold integer or string"),
        (dict(y_true=[0, 1], y_pred=[0, 1], n_classes=2, labels=[0, 1]), ValueError, "n_classes or labels"),
        (dict(y_true=[0, 1], y_pred=[0, 1], n_classes=0), ValueError, "n_classes must be a positive int"),
        (dict(y_true=[0, 1], y_pred=[0, 1], n_classes=2.0), TypeError, "n_classes must be a positive int"),
        (dict(y_true=[0, 1], y_pred=[0, 1], n_classes=True), TypeError, "n_classes must be a positive int"),
        (dict(y_true=[0, 2], y_pred=[0, 1], n_classes=2), ValueError, r"y_true must hold class indices in \[0, 2\)"),
        (dict(y_true=[0, 1], y_pred=[-1, 1], n_classes=2), ValueError, r"y_pred must hold class indices in \[0, 2\)"),
        (dict(y_true=["a"], y_pred=["a"], n_classes=2), TypeError, "y_true must hold integer class indices"),
        (dict(y_true=[0, 1], y_pred=[0, 1], labels=[]), ValueError, "labels must name at least one class"),
        (dict(y_true=[0, 1], y_pred=[0, 1], labels=[1, 0, 1]), ValueError, "labels must not repeat"),
        (dict(y_true=[0, 1], y_pred=[0, 1], labels=["0", "1"]), TypeError, "labels must be of the same kind"),
        (dict(y_true=[0, 1], y_pred=[0, 1], labels=[[0, 1]]), ValueError, "labels must be 1-D"),
        (dict(y_true=[0, 1], y_pred=[0, 1], labels=5), TypeError, "labels must be a 1-D sequence"),
    ],
)
def test_confusion_matrix_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        metrics.confusion_matrix(**kwargs)


# --------------------------------------------------------------------------- edit distance and error rate


@pytest.mark.parametrize(
    "reference, hypothesis, expected",
    [
        ("kitten", "sitting", 3),
        ([1, 2, 3], [1, 2, 3], 0),
        ([1, 2, 3], [], 3),
        ([], [4, 5], 2),
        ([], [], 0),
        ([1, 2, 3, 4], [2, 3, 4, 5], 2),
        (["one", "two"], ["two", "one"], 2),
    ],
)
def test_edit_distance_by_hand(reference, hypothesis, expected):
    assert metrics.edit_distance(reference, hypothesis) == expected
    assert metrics.edit_distance(hypothesis, reference) == expected


def jiwer_distance(reference, hypothesis):
    out = jiwer.process_words(" ".join(map(str, reference)), " ".join(map(str, hypothesis)))
    return out.substitutions + out.deletions + out.insertions


def test_edit_distance_equals_jiwer():
    rng = np.random.default_rng(17)
    for _ in range(200):
        reference = rng.integers(0, 4, size=rng.integers(1, 12)).tolist()
        hypothesis = rng.integers(0, 4, size=rng.integers(0, 12)).tolist()
        assert metrics.edit_distance(reference, hypothesis) == jiwer_distance(reference, hypothesis)


@settings(max_examples=80, deadline=None)
@given(*(st.lists(st.integers(0, 3), max_size=10) for _ in range(3)))
def test_edit_distance_is_a_metric(a, b, c):
    """Zero exactly on equal sequences, symmetric, the triangle inequality; bounded by the longer length."""
    d = metrics.edit_distance
    assert (d(a, b) == 0) == (a == b)
    assert d(a, b) == d(b, a)
    assert d(a, c) <= d(a, b) + d(b, c)
    assert abs(len(a) - len(b)) <= d(a, b) <= max(len(a), len(b))


def test_edit_distance_bad_input():
    with pytest.raises(TypeError, match="reference must be a sequence"):
        metrics.edit_distance(5, [5])
    with pytest.raises(TypeError, match="hypothesis must be a sequence"):
        metrics.edit_distance([5], iter([5]))


def test_error_rate_equals_jiwer_wer_and_cer():
    rng = np.random.default_rng(18)
    for _ in range(20):
        n = int(rng.integers(1, 8))
        # no empty reference: jiwer before 4.0 refuses one (test_error_rate_edge_cases covers them)
        references = [rng.integers(0, 10, size=rng.integers(1, 8)).tolist() for _ in range(n)]
        hypotheses = [rng.integers(0, 10, size=rng.integers(0, 8)).tolist() for _ in range(n)]
        expected = jiwer.wer([" ".join(map(str, r)) for r in references], [" ".join(map(str, h)) for h in hypotheses])
        assert metrics.error_rate(references, hypotheses) == pytest.approx(expected, rel=1e-12)
        letters = np.array(list("abcdef"))
        ref_strings = ["".join(rng.choice(letters, size=rng.integers(1, 15))) for _ in range(n)]
        hyp_strings = ["".join(rng.choice(letters, size=rng.integers(0, 15))) for _ in range(n)]
        assert metrics.error_rate(ref_strings, hyp_strings) == pytest.approx(jiwer.cer(ref_strings, hyp_strings),
                                                                              rel=1e-12)


def test_error_rate_edge_cases():
    assert metrics.error_rate([[1, 2, 3], [4]], [[], []]) == 1.0  # every word deleted
    assert metrics.error_rate([[1, 2], []], [[1, 2], [7, 8, 9]]) == pytest.approx(3 / 2)  # insertions count
    assert metrics.error_rate([[1]], [[1]]) == 0.0
    with pytest.raises(ValueError, match="references"):
        metrics.error_rate([[], []], [[1], []])
    with pytest.raises(ValueError, match="references|hypotheses"):
        metrics.error_rate([[1, 2]], [[1], [2]])

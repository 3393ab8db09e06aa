"""How well a recogniser did: accuracy and the confusion matrix of a classifier, edit distance and error rates.

A classifier assigns one class to each of :math:`N` samples; it is scored by
its **accuracy**, the fraction it got right, and its **confusion matrix**,
which says which classes it mistakes for which (row = the true class, column =
the predicted one, the layout of ``sklearn.metrics.confusion_matrix``). A
recogniser of sequences (connected digits, words) can also insert and delete
tokens; it is scored by the **edit distance** between each recognised
sequence and its transcript, summed over a test set into the **error rate**
(the word error rate with words as tokens; ``jiwer.wer`` gives the same
number).

The module needs NumPy only, so a training run on a machine without the
course's reference libraries can still score itself.

Chapter: ``notebooks/03b_gmm_hmm_digits.ipynb`` and
``notebooks/04c_lstm_digits.ipynb`` (accuracy and confusion matrices of the
digit classifiers); ``notebooks/05b_ctc_digits.ipynb`` (edit distance and the
digit error rate of the connected-digit recogniser).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["accuracy", "confusion_matrix", "edit_distance", "error_rate"]

_LABEL_KINDS = "biuUS"  # bool, signed and unsigned int, str, bytes


# --------------------------------------------------------------------------- input checks


def _labels(value, name: str) -> np.ndarray:
    """A 1-D array of class labels (ints or strings) from a list, ndarray or tensor."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise TypeError(f"{name} must be a 1-D sequence of class labels, got {type(value).__name__}")
    if hasattr(value, "detach"):  # a torch tensor, without importing torch
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, shape (n_samples,), got shape {array.shape}")
    if array.size and array.dtype.kind not in _LABEL_KINDS:
        raise TypeError(f"{name} must hold integer or string class labels, got dtype {array.dtype} "
                        "(for floats that hold class indices, use .astype(int))")
    return array


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    """The true and predicted labels: same length, non-empty, comparable."""
    y_true, y_pred = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {y_true.size} and {y_pred.size}")
    if y_true.size == 0:
        raise ValueError("y_true and y_pred are empty: there are no samples to score")
    if (y_true.dtype.kind in "US") != (y_pred.dtype.kind in "US"):
        raise TypeError(f"y_true and y_pred must both hold integers or both hold strings, "
                        f"got dtypes {y_true.dtype} and {y_pred.dtype}")
    return y_true, y_pred


# --------------------------------------------------------------------------- classifiers


def accuracy(y_true, y_pred) -> float:
    """The fraction of samples whose predicted class is the true one.

    .. math:: \\text{acc} = \\frac{1}{N} \\sum_{n=1}^{N} [\\hat y_n = y_n]

    Equals ``sklearn.metrics.accuracy_score`` and the trace of
    :func:`confusion_matrix` divided by :math:`N`.

    Parameters
    ----------
    y_true : array-like of int or str, shape (n_samples,)
        The true class of each sample.
    y_pred : array-like of int or str, shape (n_samples,)
        The predicted class of each sample.

    Returns
    -------
    float
        In :math:`[0, 1]`.

    Raises
    ------
    TypeError
        If an argument is not a 1-D sequence of integer or string labels, or
        one holds integers and the other strings.
    ValueError
        If an argument is not 1-D, the two differ in length, or they are empty.

    Examples
    --------
    >>> accuracy([0, 1, 2, 2], [0, 2, 2, 2])
    0.75
    """
    y_true, y_pred = _pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, *, n_classes: int | None = None, labels=None) -> np.ndarray:
    """Count how often each true class was predicted as each class.

    .. math:: C_{ij} = \\sum_{n=1}^{N} [y_n = c_i]\\,[\\hat y_n = c_j]

    Row :math:`i` is the true class :math:`c_i`, column :math:`j` the
    predicted one, so the diagonal holds the correct decisions, row sums are
    the class counts of ``y_true`` and column sums those of ``y_pred``. The
    classes :math:`c_0, c_1, \\dots` are

    * ``0 .. n_classes - 1`` when ``n_classes`` is given (every label must be
      one of them);
    * ``labels``, in the order given, when ``labels`` is given; as in
      ``sklearn.metrics.confusion_matrix``, samples whose true or predicted
      label is not among them are left out, which selects a sub-matrix;
    * otherwise the sorted labels found in ``y_true`` and ``y_pred``.

    Give ``n_classes`` or ``labels`` whenever a class may be absent from the
    data (a test set with no sample of it, a model that never predicts it):
    only then do the matrices of two runs line up.

    Parameters
    ----------
    y_true : array-like of int or str, shape (n_samples,)
        The true class of each sample.
    y_pred : array-like of int or str, shape (n_samples,)
        The predicted class of each sample.
    n_classes : int, optional
        The classes are the integers ``0 .. n_classes - 1``.
    labels : array-like, shape (n_classes,), optional
        The classes, in the order of the rows and columns; no repeats.

    Returns
    -------
    ndarray of int64, shape (n_classes, n_classes)

    Raises
    ------
    TypeError
        If ``y_true`` or ``y_pred`` is not a 1-D sequence of integer or string
        labels, ``n_classes`` is not an int, or ``labels`` is of another kind
        (integers vs strings) than the data.
    ValueError
        If ``y_true`` and ``y_pred`` differ in length or are empty, both
        ``n_classes`` and ``labels`` are given, ``n_classes`` is not positive
        or a label lies outside ``0 .. n_classes - 1``, or ``labels`` is empty
        or repeats a class.

    Examples
    --------
    >>> confusion_matrix([0, 1, 2, 2], [0, 2, 2, 2])
    array([[1, 0, 0],
           [0, 0, 1],
           [0, 0, 2]])
    >>> confusion_matrix([0, 0, 1], [0, 1, 1], n_classes=3)  # class 2 absent from the data
    array([[1, 1, 0],
           [0, 1, 0],
           [0, 0, 0]])
    >>> confusion_matrix(["yes", "no", "no"], ["yes", "yes", "no"], labels=["yes", "no"])
    array([[1, 0],
           [1, 1]])
    """
    y_true, y_pred = _pair(y_true, y_pred)
    if n_classes is not None and labels is not None:
        raise ValueError("give n_classes or labels, not both")
    if n_classes is not None:
        n_classes = _n_classes(n_classes, y_true, y_pred)
        return _count(y_true.astype(np.int64), y_pred.astype(np.int64), n_classes)
    if labels is None:
        classes = np.unique(np.concatenate([y_true, y_pred]))
    else:
        classes = _labels(labels, "labels")
        if classes.size == 0:
            raise ValueError("labels must name at least one class, got an empty sequence")
        if (classes.dtype.kind in "US") != (y_true.dtype.kind in "US"):
            raise TypeError(f"labels must be of the same kind (integers or strings) as y_true, "
                            f"got dtypes {classes.dtype} and {y_true.dtype}")
        if np.unique(classes).size != classes.size:
            raise ValueError(f"labels must not repeat a class, got {classes.tolist()}")
    i, found_true = _positions(y_true, classes)
    j, found_pred = _positions(y_pred, classes)
    keep = found_true & found_pred
    return _count(i[keep], j[keep], classes.size)


def _n_classes(n_classes, y_true: np.ndarray, y_pred: np.ndarray) -> int:
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)):
        raise TypeError(f"n_classes must be a positive int, got {type(n_classes).__name__}")
    if n_classes <= 0:
        raise ValueError(f"n_classes must be a positive int, got {n_classes}")
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.dtype.kind in "US":
            raise TypeError(f"with n_classes, {name} must hold integer class indices, got dtype {y.dtype}")
        if y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"{name} must hold class indices in [0, {n_classes}) with n_classes={n_classes}, "
                             f"got values from {y.min()} to {y.max()}")
    return int(n_classes)


def _positions(y: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each label of ``y`` in ``classes``, and whether it was found there."""
    order = np.argsort(classes, kind="stable")
    ranked = classes[order]
    at = np.minimum(np.searchsorted(ranked, y), classes.size - 1)
    return order[at], ranked[at] == y


def _count(i: np.ndarray, j: np.ndarray, n_classes: int) -> np.ndarray:
    """C[i, j] += 1 for every pair, as one bincount over the flattened matrix."""
    counts = np.bincount(i * n_classes + j, minlength=n_classes * n_classes)
    return counts.reshape(n_classes, n_classes).astype(np.int64)


# --------------------------------------------------------------------------- sequences


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """The Levenshtein distance: fewest substitutions, deletions and insertions turning one sequence into the other.

    .. math:: D_{i,j} = \\min(D_{i-1,j} + 1,\\ D_{i,j-1} + 1,\\ D_{i-1,j-1} + [r_i \\ne h_j])

    One row of the table at a time; the insertions along a row are a running
    minimum, :math:`D_{i,j} = \\min_{j' \\le j} (E_{i,j'} + j - j')`, so each
    row is a few vectorised NumPy calls.

    Parameters
    ----------
    reference, hypothesis : sequence
        Token sequences (lists of ints or words; a string is a sequence of characters).

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If an argument is not a sequence.

    Examples
    --------
    >>> edit_distance([1, 2, 3, 4], [1, 3, 4, 4, 5])
    3
    """
    for name, seq in (("reference", reference), ("hypothesis", hypothesis)):
        if not hasattr(seq, "__len__") or not hasattr(seq, "__iter__"):
            raise TypeError(f"{name} must be a sequence of tokens (a string is a sequence of characters), "
                            f"got {type(seq).__name__}")
    ref, hyp = list(reference), list(hypothesis)
    if not ref or not hyp:
        return len(ref) + len(hyp)
    vocabulary = {token: i for i, token in enumerate(dict.fromkeys(ref + hyp))}
    r = np.array([vocabulary[token] for token in ref])
    h = np.array([vocabulary[token] for token in hyp])
    columns = np.arange(h.size + 1)
    row = columns.copy()
    for i in range(1, r.size + 1):
        best = np.empty_like(row)
        best[0] = i
        best[1:] = np.minimum(row[1:] + 1, row[:-1] + (h != r[i - 1]))   # deletion, substitution/match
        row = np.minimum.accumulate(best - columns) + columns            # insertions
    return int(row[-1])


def error_rate(references, hypotheses) -> float:
    """Token error rate of a test set: total edit distance over total reference length.

    .. math:: \\text{ER} = \\frac{\\sum_u \\text{edits}(r_u, h_u)}{\\sum_u |r_u|}
              = \\frac{S + D + I}{N}

    With digits as tokens this is the digit error rate; with words, the WER
    (``jiwer.wer`` on the space-joined tokens gives the same number). It can
    exceed 1 when the hypotheses insert many tokens.

    Parameters
    ----------
    references, hypotheses : sequence of sequences
        One token sequence per utterance, in the same order.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If the lists differ in length or every reference is empty.

    Examples
    --------
    >>> error_rate([[1, 2, 3], [4, 5]], [[1, 2, 3], [4]])
    0.2
    """
    references, hypotheses = list(references), list(hypotheses)
    if len(references) != len(hypotheses):
        raise ValueError(
            f"references and hypotheses must have the same length, got {len(references)} and {len(hypotheses)}"
        )
    n_tokens = sum(len(r) for r in references)
    if n_tokens == 0:
        raise ValueError("references are all empty: the error rate is undefined")
    return sum(edit_distance(r, h) for r, h in zip(references, hypotheses)) / n_tokens

"""lessons_lib.ctc: paths, the CTC forward-backward, the loss and its gradient, decoding, alignment.

The references: torch.nn.functional.ctc_loss in float64 (the loss for every
reduction and both target layouts, the gradient on the logits through a
log_softmax, torch's internal log_alpha from ``torch._ctc_loss``), brute force
over every one of the C**T paths of tiny problems (log p(l|x), alpha, beta,
gamma, the best path, the best labelling, the number of paths), and the closed
form comb(T + S - r, 2S) for the number of paths. Every collapse used as a
reference is the test's own (``ref_collapse``), not the library's. Then long
sequences that underflow in probability space, one frame, infeasible targets,
a blank that is not 0, hypothesis laws and bad input.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from scipy.special import logsumexp

from lessons_lib import ctc

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

REDUCTIONS = ("none", "sum", "mean")


# --------------------------------------------------------------------------- references written here


def ref_collapse(path, blank=0) -> list[int]:
    """B(pi): merge runs of equal symbols, then drop the blanks."""
    return [int(k) for k, _ in itertools.groupby(np.asarray(path).tolist()) if k != blank]


def ref_min_length(target) -> int:
    """S plus one frame for the blank that must separate each pair of equal neighbours."""
    target = list(np.asarray(target).tolist())
    return len(target) + sum(a == b for a, b in zip(target, target[1:]))


def ref_count(T, target) -> int:
    """Paths of length T that collapse to target: T - S - r free frames spread over 2S + 1 runs."""
    S = len(target)
    r = ref_min_length(target) - S
    return math.comb(T + S - r, 2 * S) if T + S - r >= 0 else 0


@functools.lru_cache(maxsize=None)
def all_paths(T: int, C: int) -> np.ndarray:
    """Every path of length T over C classes, shape (C**T, T), in lexicographic order."""
    return np.array(list(itertools.product(range(C), repeat=T)), dtype=np.int64).reshape(C**T, T)


def normalized(x, axis=-1):
    return x - logsumexp(x, axis=axis, keepdims=True)


def random_log_probs(T, C, rng, scale=2.0):
    return normalized(rng.normal(0.0, scale, (T, C)))


def random_target(S, C, blank, rng):
    labels = np.array([k for k in range(C) if k != blank])
    return rng.choice(labels, size=S).astype(np.int64)


def representative(target, s, blank) -> list[int]:
    """A shortest symbol sequence that ends in extended state s: l_1 b l_2 b ... l_k (+ b if s is even)."""
    k = (s + 1) // 2
    seq = []
    for i, label in enumerate(np.asarray(target)[:k].tolist()):
        if i:
            seq.append(blank)
        seq.append(label)
    if s % 2 == 0:
        seq.append(blank)
    return seq


def path_states(path, blank) -> list[int]:
    """The extended-target state of a path at every frame, from the collapse of each prefix."""
    states = []
    for t in range(len(path)):
        c = ref_collapse(path[: t + 1], blank)
        states.append(2 * len(c) if path[t] == blank else 2 * len(c) - 1)
    return states


def brute_force(log_probs, target, blank):
    """log p(l|x), gamma (T, C) and the state occupancy (T, 2S+1), summing over every valid path."""
    T, C = log_probs.shape
    paths = all_paths(T, C)
    scores = log_probs[np.arange(T), paths].sum(axis=1)
    valid = np.array([ref_collapse(p, blank) == list(target) for p in paths])
    if not valid.any():
        return -np.inf, None, None
    log_p = logsumexp(scores[valid])
    gamma = np.zeros((T, C))
    occupancy = np.zeros((T, 2 * len(target) + 1))
    for path, weight in zip(paths[valid], np.exp(scores[valid] - log_p)):
        gamma[np.arange(T), path] += weight
        occupancy[np.arange(T), path_states(path, blank)] += weight
    return log_p, gamma, occupancy


def brute_alpha(log_probs, target, blank):
    """alpha_t(s): every prefix pi_1..t whose collapse is a prefix of the target, by the state it ends in."""
    T, C = log_probs.shape
    target = list(np.asarray(target).tolist())
    alpha = np.zeros((T, 2 * len(target) + 1))
    for t in range(T):
        for prefix in all_paths(t + 1, C):
            c = ref_collapse(prefix, blank)
            if len(c) <= len(target) and c == target[: len(c)]:
                s = 2 * len(c) if prefix[-1] == blank else 2 * len(c) - 1
                alpha[t, s] += np.exp(log_probs[np.arange(t + 1), prefix].sum())
    with np.errstate(divide="ignore"):
        return np.log(alpha)


def brute_beta(log_probs, target, blank):
    """beta_t(s): every suffix pi_t+1..T that completes a path in state s at t to a valid path."""
    T, C = log_probs.shape
    target_list = list(np.asarray(target).tolist())
    beta = np.zeros((T, 2 * len(target_list) + 1))
    for s in range(beta.shape[1]):
        head = representative(target, s, blank)
        for t in range(T):
            for suffix in all_paths(T - 1 - t, C):
                if ref_collapse(head + suffix.tolist(), blank) == target_list:
                    beta[t, s] += np.exp(log_probs[np.arange(t + 1, T), suffix].sum())
    with np.errstate(divide="ignore"):
        return np.log(beta)


def brute_labellings(log_probs, blank) -> dict:
    """log p(labelling | x) for every labelling some path produces."""
    T, C = log_probs.shape
    paths = all_paths(T, C)
    scores = log_probs[np.arange(T), paths].sum(axis=1)
    groups: dict = {}
    for path, score in zip(paths, scores):
        groups.setdefault(tuple(ref_collapse(path, blank)), []).append(score)
    return {labels: float(logsumexp(s)) for labels, s in groups.items()}


def assert_lattice(ours, reference, rtol=1e-10):
    """Same -inf pattern, no NaN, finite entries equal."""
    ours = np.asarray(ours)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert not np.isnan(ours).any()
    np.testing.assert_array_equal(np.isneginf(ours), np.isneginf(reference))
    finite = np.isfinite(reference)
    np.testing.assert_allclose(ours[finite], reference[finite], rtol=rtol, atol=1e-12)


def close(ours, reference, rtol=1e-9):
    """Equal in value with the same NaN and inf positions; near-zero entries relative to the largest."""
    ours = np.asarray(ours, dtype=np.float64)
    reference = reference.detach().numpy() if isinstance(reference, torch.Tensor) else np.asarray(reference)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference))
    np.testing.assert_array_equal(np.isposinf(ours), np.isposinf(reference))
    finite = np.isfinite(reference)
    scale = max(float(np.abs(reference[finite]).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(ours[finite], reference[finite], rtol=rtol, atol=1e-12 * scale)


# --------------------------------------------------------------------------- batches and torch


def random_batch(T, N, C, S_max, blank, seed, *, repeats=True):
    """Normalized log_probs (T, N, C), padded targets (N, S_max), lengths; every sequence feasible.

    Sequence 0 sits exactly at the feasibility limit (input_length = min_input_length, at least 1);
    sequence 1 (when S_max >= 3) is a run of one label repeated three times; padding holds any class,
    the blank included, which must be ignored.
    """
    rng = np.random.default_rng(seed)
    log_probs = normalized(rng.normal(0.0, 3.0, (T, N, C)))
    targets = rng.integers(0, C, size=(N, S_max)).astype(np.int64)
    input_lengths = np.zeros(N, dtype=np.int64)
    target_lengths = np.zeros(N, dtype=np.int64)
    labels = np.array([k for k in range(C) if k != blank])
    for n in range(N):
        S = int(rng.integers(0, S_max + 1))
        # few distinct labels, so that equal neighbours (which need a blank between them) are common
        target = rng.choice(labels[:3] if repeats and n % 2 == 0 else labels, size=S).astype(np.int64)
        if n == 1 and S_max >= 3 and repeats:
            target = np.array([labels[-1]] * 3)
        while ref_min_length(target) > T:
            target = target[:-1]
        targets[n, : len(target)] = target
        target_lengths[n] = len(target)
        low = max(ref_min_length(target), 1)
        input_lengths[n] = low if n == 0 else rng.integers(low, T + 1)
    return log_probs, targets, input_lengths, target_lengths


def concatenated(targets, target_lengths):
    return np.concatenate([targets[n, :length] for n, length in enumerate(target_lengths)]).astype(np.int64)


def torch_reference(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
                    zero_infinity=False):
    """F.ctc_loss in float64: loss, the gradient on a leaf log_probs, the gradient on logits (log_softmax)."""
    args = (torch.as_tensor(targets), torch.as_tensor(input_lengths), torch.as_tensor(target_lengths))
    kwargs = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    leaf = torch.tensor(log_probs, dtype=torch.float64, requires_grad=True)
    loss = F.ctc_loss(leaf, *args, **kwargs)
    (leaf_grad,) = torch.autograd.grad(loss.sum(), leaf)
    logits = torch.tensor(log_probs, dtype=torch.float64, requires_grad=True)
    (logits_grad,) = torch.autograd.grad(F.ctc_loss(logits.log_softmax(2), *args, **kwargs).sum(), logits)
    return loss.detach().numpy(), leaf_grad.numpy(), logits_grad.numpy()


def ours_torch(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False,
               dtype=torch.float64):
    """ctc_loss_torch: loss, the gradient on a leaf log_probs, the gradient on logits (log_softmax)."""
    args = (torch.as_tensor(targets), torch.as_tensor(input_lengths), torch.as_tensor(target_lengths))
    kwargs = dict(blank=blank, reduction=reduction, zero_infinity=zero_infinity)
    leaf = torch.tensor(log_probs, dtype=dtype, requires_grad=True)
    loss = ctc.ctc_loss_torch(leaf, *args, **kwargs)
    (leaf_grad,) = torch.autograd.grad(loss.sum(), leaf)
    logits = torch.tensor(log_probs, dtype=dtype, requires_grad=True)
    (logits_grad,) = torch.autograd.grad(ctc.ctc_loss_torch(logits.log_softmax(2), *args, **kwargs).sum(), logits)
    return loss.detach(), leaf_grad, logits_grad


def reduction_scale(input_lengths, target_lengths, reduction, N):
    """d reduced loss / d loss_n: 1 for none and sum, 1 / (N max(S_n, 1)) for mean."""
    if reduction == "mean":
        return 1.0 / (N * np.maximum(np.asarray(target_lengths), 1))
    return np.ones(N)


def time_mask(T, input_lengths):
    return (np.arange(T)[:, None] < np.asarray(input_lengths)[None, :]).astype(np.float64)


# --------------------------------------------------------------------------- the batched loss vs torch

SHAPES = [  # T, N, C, S_max
    (30, 5, 6, 8),
    (12, 1, 4, 3),
    (50, 7, 10, 12),
    (9, 4, 3, 4),
]


@pytest.mark.parametrize("T, N, C, S_max", SHAPES)
@pytest.mark.parametrize("blank_at", ["zero", "last", "middle"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", ["padded", "concatenated"])
def test_ctc_loss_equals_torch(T, N, C, S_max, blank_at, reduction, layout):
    blank = {"zero": 0, "last": C - 1, "middle": C // 2}[blank_at]
    log_probs, targets, input_lengths, target_lengths = random_batch(T, N, C, S_max, blank, seed=[T, N, C, blank])
    if layout == "concatenated":
        targets = concatenated(targets, target_lengths)
    loss, leaf_grad, logits_grad = torch_reference(log_probs, targets, input_lengths, target_lengths, blank,
                                                   reduction)

    ours_loss, ours_grad = ctc.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=blank,
                                        reduction=reduction)
    assert np.shape(ours_loss) == loss.shape
    close(ours_loss, loss, rtol=1e-9)
    close(ours_grad, logits_grad, rtol=1e-9)
    close(ours_grad, leaf_grad, rtol=1e-9)  # torch's CTC backward assumes the log_softmax (see the contract)

    t_loss, t_leaf, t_logits = ours_torch(log_probs, targets, input_lengths, target_lengths, blank, reduction)
    assert t_loss.dtype == torch.float64 and tuple(t_loss.shape) == loss.shape
    close(t_loss, loss, rtol=1e-9)
    close(t_logits, logits_grad, rtol=1e-9)
    # the leaf gradient is the true derivative -gamma: torch's minus the softmax it folds in
    scale = reduction_scale(input_lengths, target_lengths, reduction, N)
    true_grad = leaf_grad - np.exp(log_probs) * time_mask(T, input_lengths)[:, :, None] * scale[None, :, None]
    close(t_leaf, true_grad, rtol=1e-9)


def test_frames_beyond_input_lengths_are_ignored():
    """Rows t >= input_lengths[n] may hold anything finite (not log-probabilities): loss and gradient unchanged."""
    log_probs, targets, input_lengths, target_lengths = random_batch(20, 4, 5, 5, 0, seed=11)
    input_lengths = np.minimum(input_lengths, 15)
    input_lengths = np.maximum(input_lengths, [ref_min_length(targets[n, :target_lengths[n]]) for n in range(4)])
    assert (input_lengths < 20).all()
    loss, _, logits_grad = torch_reference(log_probs, targets, input_lengths, target_lengths, reduction="sum")
    garbage = log_probs.copy()
    rng = np.random.default_rng(0)
    for n in range(4):
        garbage[input_lengths[n]:, n] = rng.normal(5.0, 3.0, (20 - input_lengths[n], 5))
    ours_loss, ours_grad = ctc.ctc_loss(garbage, targets, input_lengths, target_lengths, reduction="sum")
    close(ours_loss, loss)
    close(ours_grad, logits_grad)
    assert np.all(ours_grad[15:] == 0)
    t_loss = ctc.ctc_loss_torch(torch.tensor(garbage), torch.tensor(targets), torch.tensor(input_lengths),
                                torch.tensor(target_lengths), reduction="sum")
    close(t_loss, loss)


def test_mean_divides_by_target_length_at_least_one():
    """The "mean" reduction by hand: mean_n(loss_n / max(S_n, 1)), with an empty target in the batch."""
    log_probs, targets, input_lengths, target_lengths = random_batch(15, 3, 4, 4, 0, seed=5)
    target_lengths[2] = 0
    per_sequence = torch_reference(log_probs, targets, input_lengths, target_lengths, reduction="none")[0]
    by_hand = np.mean(per_sequence / np.maximum(target_lengths, 1))
    assert ctc.ctc_loss(log_probs, targets, input_lengths, target_lengths)[0] == pytest.approx(by_hand, rel=1e-12)
    # an empty target: the only path is all blanks
    assert per_sequence[2] == pytest.approx(-log_probs[: input_lengths[2], 2, 0].sum(), rel=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_infeasible_targets_as_torch(reduction, zero_infinity):
    rng = np.random.default_rng(3)
    T, N, C = 7, 4, 4
    log_probs = normalized(rng.normal(0.0, 2.0, (T, N, C)))
    targets = np.array([[1, 2, 2], [3, 3, 3], [1, 2, 3], [2, 1, 0]])
    target_lengths = np.array([3, 3, 3, 2])
    # [3, 3, 3] needs 5 frames and gets 4; [1, 2, 3] needs 3 and gets 2; the others are feasible,
    # [1, 2, 2] exactly at its limit of 4
    input_lengths = np.array([4, 4, 2, 7])
    loss, _, logits_grad = torch_reference(log_probs, targets, input_lengths, target_lengths, 0, reduction,
                                           zero_infinity)
    ours_loss, ours_grad = ctc.ctc_loss(log_probs, targets, input_lengths, target_lengths, reduction=reduction,
                                        zero_infinity=zero_infinity)
    close(ours_loss, loss)
    close(ours_grad, logits_grad)
    t_loss, _, t_logits = ours_torch(log_probs, targets, input_lengths, target_lengths, 0, reduction,
                                     zero_infinity)
    close(t_loss, loss)
    close(t_logits, logits_grad)
    if reduction == "none":
        if zero_infinity:
            assert ours_loss[1] == 0 and ours_loss[2] == 0
            assert np.all(ours_grad[:, 1:3] == 0) and np.all(t_logits.numpy()[:, 1:3] == 0)
        else:
            assert np.isposinf(ours_loss[1]) and np.isposinf(ours_loss[2])
            assert np.isnan(ours_grad[:4, 1]).all() and np.isnan(ours_grad[:2, 2]).all()
        assert np.isfinite(ours_grad[:, [0, 3]]).all()


@pytest.mark.parametrize("zero_infinity", [False, True])
def test_zero_input_length(zero_infinity):
    """No frames: an empty target has probability 1 (loss 0), any other target is infeasible (inf)."""
    rng = np.random.default_rng(10)
    log_probs = normalized(rng.normal(0.0, 1.0, (4, 3, 3)))
    targets = np.array([[1, 2], [1, 0], [2, 2]])
    args = (targets, np.array([0, 0, 4]), np.array([2, 0, 0]))
    loss, _, logits_grad = torch_reference(log_probs, *args, reduction="none", zero_infinity=zero_infinity)
    ours_loss, ours_grad = ctc.ctc_loss(log_probs, *args, reduction="none", zero_infinity=zero_infinity)
    close(ours_loss, loss)
    close(ours_grad, logits_grad)
    assert ours_loss[0] == (0.0 if zero_infinity else np.inf) and ours_loss[1] == 0.0
    assert np.all(ours_grad[:, :2] == 0)
    t_loss, _, t_logits = ours_torch(log_probs, *args, reduction="none", zero_infinity=zero_infinity)
    close(t_loss, loss)
    close(t_logits, logits_grad)


def test_repeated_labels_at_the_limit():
    """[3, 3, 3] in exactly 5 frames has one path, 3 b 3 b 3; in 4 frames none."""
    rng = np.random.default_rng(9)
    log_probs = normalized(rng.normal(0.0, 1.0, (5, 1, 5)))
    targets = np.array([[3, 3, 3]])
    loss, _ = ctc.ctc_loss(log_probs, targets, np.array([5]), np.array([3]), reduction="none")
    only_path = [3, 0, 3, 0, 3]
    assert loss[0] == pytest.approx(-log_probs[np.arange(5), 0, only_path].sum(), rel=1e-12)
    close(loss, torch_reference(log_probs, targets, [5], [3], reduction="none")[0])
    assert np.isposinf(ctc.ctc_loss(log_probs, targets, np.array([4]), np.array([3]), reduction="none")[0][0])


@pytest.mark.parametrize("target, expected_class", [([], 0), ([2], 2)])
def test_one_frame_one_sequence(target, expected_class):
    log_probs = np.log(np.array([[[0.5, 0.2, 0.3]]]))
    targets = np.array([target], dtype=np.int64).reshape(1, len(target))
    args = (targets, np.array([1]), np.array([len(target)]))
    expected = -np.log([0.5, 0.2, 0.3][expected_class])
    for reduction in REDUCTIONS:
        loss, grad = ctc.ctc_loss(log_probs, *args, reduction=reduction)
        assert float(np.sum(loss)) == pytest.approx(expected, rel=1e-14)
        one_hot = np.eye(3)[expected_class]
        np.testing.assert_allclose(grad[0, 0], np.array([0.5, 0.2, 0.3]) - one_hot, rtol=1e-12, atol=1e-15)
        close(loss, torch_reference(log_probs, *args, reduction=reduction)[0])
        t_loss = ctc.ctc_loss_torch(torch.tensor(log_probs), *map(torch.tensor, args), reduction=reduction)
        assert float(t_loss.sum()) == pytest.approx(expected, rel=1e-14)
    # two equal labels cannot fit in one frame
    loss, _ = ctc.ctc_loss(log_probs, np.array([[1, 1]]), np.array([1]), np.array([2]), reduction="none")
    assert np.isposinf(loss[0])


def test_ctc_loss_takes_float32_and_computes_in_float64():
    log_probs, targets, input_lengths, target_lengths = random_batch(25, 4, 6, 6, 0, seed=21)
    log_probs32 = log_probs.astype(np.float32)
    loss, leaf_grad, _ = torch_reference(log_probs32.astype(np.float64), targets, input_lengths, target_lengths,
                                         reduction="none")
    ours_loss, ours_grad = ctc.ctc_loss(log_probs32, targets, input_lengths, target_lengths, reduction="none")
    close(ours_loss, loss, rtol=1e-9)
    close(ours_grad, leaf_grad, rtol=1e-9)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_ctc_loss_torch_in_float32(reduction):
    log_probs, targets, input_lengths, target_lengths = random_batch(40, 6, 8, 10, 0, seed=31)
    loss, _, logits_grad = torch_reference(log_probs, targets, input_lengths, target_lengths, reduction=reduction)
    t_loss, _, t_logits = ours_torch(log_probs.astype(np.float32), targets, input_lengths, target_lengths,
                                     reduction=reduction, dtype=torch.float32)
    assert t_loss.dtype == torch.float32 and t_logits.dtype == torch.float32
    # F.ctc_loss's own float32 result is off by ~2e-7 (loss) and ~5e-5 of the largest entry (gradient) here
    np.testing.assert_allclose(t_loss.double().numpy(), loss, rtol=1e-6)
    np.testing.assert_allclose(t_logits.double().numpy(), logits_grad, rtol=0, atol=2e-4 * np.abs(logits_grad).max())


def test_ctc_loss_torch_gradcheck():
    """The leaf gradient is the true derivative of -log p(l|x) w.r.t. every log_probs entry."""
    rng = np.random.default_rng(4)
    log_probs = torch.tensor(normalized(rng.normal(0.0, 1.0, (5, 3, 3))), requires_grad=True)
    targets = torch.tensor([[1, 2], [1, 1], [2, 0]])
    input_lengths = torch.tensor([5, 4, 3])
    target_lengths = torch.tensor([2, 2, 1])
    for reduction in REDUCTIONS:
        assert torch.autograd.gradcheck(
            lambda lp: ctc.ctc_loss_torch(lp, targets, input_lengths, target_lengths, reduction=reduction),
            (log_probs,), eps=1e-6, atol=1e-7, rtol=1e-5,
        )


def test_ctc_loss_torch_leaf_gradient_is_minus_brute_force_gamma():
    rng = np.random.default_rng(12)
    log_probs = random_log_probs(5, 3, rng)
    target = np.array([1, 2])
    _, gamma, _ = brute_force(log_probs, target, 0)
    leaf = torch.tensor(log_probs[:, None, :], requires_grad=True)
    loss = ctc.ctc_loss_torch(leaf, torch.tensor(target[None, :]), torch.tensor([5]), torch.tensor([2]), reduction="sum")
    loss.backward()
    np.testing.assert_allclose(leaf.grad[:, 0].numpy(), -gamma, rtol=1e-10, atol=1e-14)
    # while F.ctc_loss returns softmax - gamma for a leaf (it assumes a log_softmax precedes it), as does ctc_loss
    torch_leaf = torch_reference(log_probs[:, None, :], target[None, :], [5], [2], reduction="sum")[1]
    np.testing.assert_allclose(torch_leaf[:, 0], np.exp(log_probs) - gamma, rtol=1e-10, atol=1e-14)
    ours_grad = ctc.ctc_loss(log_probs[:, None, :], np.array([target]), np.array([5]), np.array([2]),
                             reduction="sum")[1]
    np.testing.assert_allclose(ours_grad[:, 0], np.exp(log_probs) - gamma, rtol=1e-10, atol=1e-14)


def test_zero_probabilities_give_a_finite_gradient():
    # classes with probability exactly 0 (log_probs = -inf) at some frames: no valid path uses them there,
    # so gamma is 0 and the gradient is finite (F.ctc_loss returns NaN in those entries)
    rng = np.random.default_rng(13)
    log_probs = random_log_probs(5, 3, rng)
    log_probs[1, 2] = log_probs[3, 1] = -np.inf
    log_probs = log_probs - logsumexp(log_probs, axis=1, keepdims=True)
    target = np.array([1, 2])
    log_p, gamma, _ = brute_force(log_probs, target, 0)
    leaf = torch.tensor(log_probs[:, None, :], requires_grad=True)
    loss = ctc.ctc_loss_torch(leaf, torch.tensor(target[None, :]), torch.tensor([5]), torch.tensor([2]), reduction="sum")
    loss.backward()
    np.testing.assert_allclose(loss.item(), -log_p, rtol=1e-12)
    np.testing.assert_allclose(leaf.grad[:, 0].numpy(), -gamma, rtol=1e-10, atol=1e-14)
    loss_np, grad = ctc.ctc_loss(log_probs[:, None, :], np.array([target]), np.array([5]), np.array([2]),
                                 reduction="sum")
    np.testing.assert_allclose(loss_np, -log_p, rtol=1e-12)
    np.testing.assert_allclose(grad[:, 0], np.exp(log_probs) - gamma, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("function", [ctc.ctc_posteriors, ctc.forced_align])
def test_feasible_target_with_probability_zero_raises(function):
    # T = 2 frames can carry [1], but frame 0 puts all its mass on class 2, so every valid path has probability 0
    log_probs = np.array([[-np.inf, -np.inf, 0.0], np.log([0.3, 0.3, 0.4])])
    assert ctc.ctc_log_likelihood(log_probs, [1]) == -np.inf
    with pytest.raises(ValueError, match="probability 0"):
        function(log_probs, [1])


# --------------------------------------------------------------------------- forward-backward vs brute force

BRUTE_CASES = [  # C, T, target, blank
    (3, 5, [1, 2], 0),
    (3, 6, [1, 1], 0),
    (3, 3, [1, 1], 0),  # T == min_input_length
    (4, 5, [3, 1, 3], 0),
    (3, 4, [], 0),
    (2, 6, [1, 1, 1], 0),
    (2, 5, [1, 1, 1], 0),  # T == min_input_length: one path
    (4, 5, [1, 1, 0], 3),  # blank = C - 1
    (3, 5, [0, 2, 2], 1),  # blank in the middle
    (3, 1, [], 0),
    (3, 1, [2], 0),
    (3, 1, [0], 2),
]
BRUTE_IDS = [f"C{c}-T{t}-{''.join(map(str, l)) or 'empty'}-b{b}" for c, t, l, b in BRUTE_CASES]


@pytest.mark.parametrize("C, T, target, blank", BRUTE_CASES, ids=BRUTE_IDS)
def test_forward_backward_equal_brute_force(C, T, target, blank):
    rng = np.random.default_rng([C, T, len(target), blank])
    log_probs = random_log_probs(T, C, rng, scale=1.0)
    target = np.array(target, dtype=np.int64)
    log_p, gamma, occupancy = brute_force(log_probs, target, blank)

    assert ctc.ctc_log_likelihood(log_probs, target, blank=blank) == pytest.approx(log_p, rel=1e-12)
    log_alpha = ctc.ctc_forward(log_probs, target, blank=blank)
    log_beta = ctc.ctc_backward(log_probs, target, blank=blank)
    assert_lattice(log_alpha, brute_alpha(log_probs, target, blank))
    assert_lattice(log_beta, brute_beta(log_probs, target, blank))
    S = len(target)
    ends = log_alpha[T - 1, 2 * S] if S == 0 else np.logaddexp(log_alpha[T - 1, 2 * S], log_alpha[T - 1, 2 * S - 1])
    assert ends == pytest.approx(log_p, rel=1e-12)
    # alpha_t(s) beta_t(s) / p = P(state s at t | l, x), and the identity at every frame
    np.testing.assert_allclose(np.exp(log_alpha + log_beta - log_p), occupancy, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(logsumexp(log_alpha + log_beta, axis=1), log_p, rtol=1e-12)
    ours_gamma = ctc.ctc_posteriors(log_probs, target, blank=blank)
    np.testing.assert_allclose(ours_gamma, gamma, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("C, T, target, blank", BRUTE_CASES, ids=BRUTE_IDS)
def test_forward_equals_torch_log_alpha(C, T, target, blank):
    rng = np.random.default_rng([C, T, len(target), blank, 1])
    log_probs = random_log_probs(T, C, rng)
    S = len(target)
    padded = torch.tensor([target + [(blank + 1) % C] * (S == 0)])
    _, torch_alpha = torch._ctc_loss(torch.tensor(log_probs[:, None, :]), padded, [T], [S], blank, False)
    assert_lattice(ctc.ctc_forward(log_probs, np.array(target, dtype=np.int64), blank=blank),
                   torch_alpha[0, :, : 2 * S + 1].numpy())


@pytest.mark.parametrize("C, T, target, blank", [(3, 2, [1, 1], 0), (3, 2, [1, 2, 1], 0), (4, 2, [0, 0], 2)])
def test_infeasible_single_sequence(C, T, target, blank):
    rng = np.random.default_rng(0)
    log_probs = random_log_probs(T, C, rng)
    target = np.array(target, dtype=np.int64)
    assert ctc.ctc_log_likelihood(log_probs, target, blank=blank) == -np.inf
    assert_lattice(ctc.ctc_forward(log_probs, target, blank=blank), brute_alpha(log_probs, target, blank))
    assert_lattice(ctc.ctc_backward(log_probs, target, blank=blank), brute_beta(log_probs, target, blank))
    with pytest.raises(ValueError, match="target"):
        ctc.ctc_posteriors(log_probs, target, blank=blank)
    with pytest.raises(ValueError, match="target"):
        ctc.forced_align(log_probs, target, blank=blank)


@pytest.mark.parametrize("blank_at", ["zero", "last", "middle"])
def test_single_sequence_equals_torch(blank_at):
    """Moderate sizes: log p, alpha (torch's log_alpha) and gamma (softmax minus torch's leaf gradient)."""
    rng = np.random.default_rng(["zero", "last", "middle"].index(blank_at))
    T, C, S = 60, 7, 15
    blank = {"zero": 0, "last": C - 1, "middle": C // 2}[blank_at]
    for _ in range(3):
        log_probs = random_log_probs(T, C, rng, scale=3.0)
        target = random_target(S, C, blank, rng)
        loss, leaf_grad, _ = torch_reference(log_probs[:, None, :], target[None, :], [T], [S], blank, "sum")
        log_p = ctc.ctc_log_likelihood(log_probs, target, blank=blank)
        assert log_p == pytest.approx(-float(loss), rel=1e-12)
        _, torch_alpha = torch._ctc_loss(torch.tensor(log_probs[:, None, :]), torch.tensor(target[None, :]), [T],
                                         [S], blank, False)
        log_alpha = ctc.ctc_forward(log_probs, target, blank=blank)
        assert_lattice(log_alpha, torch_alpha[0].numpy())
        log_beta = ctc.ctc_backward(log_probs, target, blank=blank)
        np.testing.assert_allclose(logsumexp(log_alpha + log_beta, axis=1), log_p, rtol=1e-12)
        gamma = ctc.ctc_posteriors(log_probs, target, blank=blank)
        np.testing.assert_allclose(gamma, np.exp(log_probs) - leaf_grad[:, 0], rtol=1e-9, atol=1e-13)
        np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_five_thousand_frames_do_not_underflow():
    """p(l|x) ~ exp(-40000): far below the smallest double, yet log p, alpha, beta and gamma are exact."""
    rng = np.random.default_rng(5000)
    T, C, S = 5000, 20, 50
    log_probs = random_log_probs(T, C, rng, scale=6.0)
    target = random_target(S, C, 0, rng)
    loss, leaf_grad, _ = torch_reference(log_probs[:, None, :], target[None, :], [T], [S], 0, "sum")
    assert float(loss) > 800  # exp(-loss) underflows to 0 in float64
    log_p = ctc.ctc_log_likelihood(log_probs, target)
    assert log_p == pytest.approx(-float(loss), rel=1e-10)
    log_alpha = ctc.ctc_forward(log_probs, target)
    log_beta = ctc.ctc_backward(log_probs, target)
    assert not np.isnan(log_alpha).any() and not np.isnan(log_beta).any()
    np.testing.assert_allclose(logsumexp(log_alpha + log_beta, axis=1), log_p, rtol=1e-10)
    gamma = ctc.ctc_posteriors(log_probs, target)
    np.testing.assert_allclose(gamma, np.exp(log_probs) - leaf_grad[:, 0], rtol=1e-7, atol=1e-10)
    ours_loss, ours_grad = ctc.ctc_loss(log_probs[:, None, :], target[None, :], np.array([T]), np.array([S]),
                                        reduction="sum")
    close(ours_loss, loss, rtol=1e-10)
    # softmax - gamma cancels: both sides carry ~1e-11 absolute rounding from 5000 steps in log space
    np.testing.assert_allclose(ours_grad, leaf_grad, rtol=1e-7, atol=1e-9)


def test_ctc_loss_torch_long_sequence_is_finite_and_exact():
    rng = np.random.default_rng(2000)
    T, N, C = 2000, 2, 12
    log_probs = normalized(rng.normal(0.0, 6.0, (T, N, C)))
    targets = np.stack([random_target(40, C, 0, rng) for _ in range(N)])
    args = (targets, [T, T - 7], [40, 33])
    loss, _, logits_grad = torch_reference(log_probs, *args, reduction="none")
    assert (loss > 800).all()
    t_loss, _, t_logits = ours_torch(log_probs, *args, reduction="none")
    close(t_loss, loss, rtol=1e-10)
    close(t_logits, logits_grad, rtol=1e-7)


@pytest.mark.parametrize("target, blank", [([], 0), ([2], 0), ([0], 1)])
def test_one_frame_by_hand(target, blank):
    log_probs = np.log(np.array([[0.5, 0.2, 0.3]]))
    target = np.array(target, dtype=np.int64)
    k = blank if len(target) == 0 else int(target[0])
    assert ctc.ctc_log_likelihood(log_probs, target, blank=blank) == pytest.approx(np.log([0.5, 0.2, 0.3][k]))
    log_alpha = ctc.ctc_forward(log_probs, target, blank=blank)
    log_beta = ctc.ctc_backward(log_probs, target, blank=blank)
    if len(target) == 0:
        np.testing.assert_allclose(log_alpha, [[np.log(0.5)]])
        np.testing.assert_array_equal(log_beta, [[0.0]])
    else:
        np.testing.assert_allclose(log_alpha, [[np.log([0.5, 0.2, 0.3][blank]), np.log([0.5, 0.2, 0.3][k]), -np.inf]])
        np.testing.assert_array_equal(log_beta, [[-np.inf, 0.0, 0.0]])
    np.testing.assert_array_equal(ctc.ctc_posteriors(log_probs, target, blank=blank), [np.eye(3)[k]])


@settings(max_examples=40, deadline=None)
@given(T=st.integers(1, 40), C=st.integers(2, 6), S=st.integers(0, 8), seed=st.integers(0, 10**6))
def test_posterior_laws(T, C, S, seed):
    rng = np.random.default_rng(seed)
    blank = int(rng.integers(0, C))
    target = random_target(S, C, blank, rng)
    log_probs = random_log_probs(T, C, rng, scale=3.0)
    log_p = ctc.ctc_log_likelihood(log_probs, target, blank=blank)
    feasible = T >= ref_min_length(target)
    assert np.isfinite(log_p) == feasible
    if not feasible:
        return
    assert log_p <= 1e-12
    log_alpha = ctc.ctc_forward(log_probs, target, blank=blank)
    log_beta = ctc.ctc_backward(log_probs, target, blank=blank)
    np.testing.assert_allclose(logsumexp(log_alpha + log_beta, axis=1), log_p, rtol=1e-10, atol=1e-10)
    gamma = ctc.ctc_posteriors(log_probs, target, blank=blank)
    assert (gamma >= 0).all()
    np.testing.assert_allclose(gamma.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    # only the blank and the target's labels can be occupied
    unused = np.setdiff1d(np.arange(C), np.append(target, blank))
    assert np.all(gamma[:, unused] == 0)
    # the best path is at least as probable as the average valid path, and no more than all of them
    path, best = ctc.forced_align(log_probs, target, blank=blank)
    assert ref_collapse(path, blank) == target.tolist()
    assert log_p - math.log(ref_count(T, target)) - 1e-9 <= best <= log_p + 1e-12


# --------------------------------------------------------------------------- paths


@pytest.mark.parametrize(
    "path, blank, expected",
    [
        ([1, 1, 0, 1, 2, 2], 0, [1, 1, 2]),
        ([0, 0, 0], 0, []),
        ([1, 1, 1], 0, [1]),
        ([0, 1, 2, 0], 0, [1, 2]),
        ([2, 0, 0, 2, 1, 1, 2], 2, [0, 1]),
        ([1, 1, 0, 1], 1, [0]),
        ([3], 3, []),
        ([3], 0, [3]),
    ],
)
def test_collapse_by_hand(path, blank, expected):
    assert np.asarray(ctc.collapse(path, blank=blank)).tolist() == expected
    assert np.asarray(ctc.collapse(np.array(path), blank=blank)).tolist() == expected


@pytest.mark.parametrize(
    "target, blank, expected",
    [([1, 2], 0, [0, 1, 0, 2, 0]), ([], 0, [0]), ([], 4, [4]), ([1, 1], 3, [3, 1, 3, 1, 3]), ([0], 2, [2, 0, 2])],
)
def test_extend_target_by_hand(target, blank, expected):
    assert np.asarray(ctc.extend_target(np.array(target, dtype=np.int64), blank=blank)).tolist() == expected


@pytest.mark.parametrize(
    "target, expected", [([1, 1, 2], 4), ([], 0), ([3, 3, 3], 5), ([1, 2, 3], 3), ([1, 2, 1], 3), ([2, 2, 1, 1], 6)]
)
def test_min_input_length_by_hand(target, expected):
    assert ctc.min_input_length(np.array(target, dtype=np.int64)) == expected


@pytest.mark.parametrize("target", [[], [1], [1, 2], [1, 1], [2, 1, 2], [1, 1, 1], [1, 2, 2]])
@pytest.mark.parametrize("T", range(1, 7))
def test_count_and_enumerate_paths_equal_brute_force(T, target):
    C = 3
    target = np.array(target, dtype=np.int64)
    brute = [p for p in all_paths(T, C) if ref_collapse(p, 0) == target.tolist()]
    count = ctc.count_paths(T, target)
    assert isinstance(count, int) and count == len(brute) == ref_count(T, target)
    assert (count == 0) == (T < ref_min_length(target))
    paths = np.asarray(ctc.enumerate_paths(T, target))
    assert paths.shape == (count, T)
    assert sorted(map(tuple, paths.tolist())) == sorted(map(tuple, np.asarray(brute).reshape(-1, T).tolist()))
    for path in paths:
        assert ref_collapse(path, 0) == target.tolist()
    # ordered lexicographically by their extended-state sequences (so also unique)
    states = [tuple(path_states(path, 0)) for path in paths]
    assert all(a < b for a, b in zip(states, states[1:]))


@pytest.mark.parametrize("blank", [1, 3])
def test_enumerate_paths_with_another_blank(blank):
    target = np.array([0, 2, 2] if blank == 1 else [1, 1, 0], dtype=np.int64)
    T, C = 6, 4
    paths = np.asarray(ctc.enumerate_paths(T, target, blank=blank))
    brute = [tuple(p) for p in all_paths(T, C).tolist() if ref_collapse(p, blank) == target.tolist()]
    assert sorted(map(tuple, paths.tolist())) == sorted(brute)
    assert len(paths) == ctc.count_paths(T, target) == ref_count(T, target)
    states = [tuple(path_states(path, blank)) for path in paths]
    assert all(a < b for a, b in zip(states, states[1:]))


def test_enumerate_paths_refuses_too_many():
    target = np.array([1, 2, 3], dtype=np.int64)
    assert ctc.count_paths(12, target) == math.comb(15, 6) == 5005
    assert len(ctc.enumerate_paths(12, target, max_paths=5005)) == 5005
    with pytest.raises(ValueError, match="max_paths"):
        ctc.enumerate_paths(12, target, max_paths=5004)


def test_count_paths_is_exact_for_huge_counts():
    target = np.array([1, 2, 2, 3, 1, 1, 4, 5, 5, 5], dtype=np.int64)  # r = 4 repeats
    assert ctc.count_paths(1000, target) == math.comb(1000 + 10 - 4, 20)
    assert ctc.count_paths(13, target) == 0 and ctc.count_paths(14, target) == 1


def test_path_log_prob_is_the_sum_of_its_frames():
    rng = np.random.default_rng(8)
    log_probs = random_log_probs(12, 5, rng)
    for _ in range(5):
        path = rng.integers(0, 5, size=12)
        manual = sum(log_probs[t, path[t]] for t in range(12))
        assert ctc.path_log_prob(log_probs, path) == pytest.approx(manual, rel=1e-14)


@settings(max_examples=100, deadline=None)
@given(T=st.integers(1, 200), target=st.lists(st.integers(1, 3), max_size=12))
def test_count_paths_closed_form(T, target):
    """Verified by brute force above: count = comb(T + S - r, 2S), zero exactly when T < min_input_length."""
    target = np.array(target, dtype=np.int64)
    count = ctc.count_paths(T, target)
    assert count == ref_count(T, target)
    assert ctc.min_input_length(target) == ref_min_length(target)
    assert (count == 0) == (T < ctc.min_input_length(target))


@settings(max_examples=100, deadline=None)
@given(path=st.lists(st.integers(0, 4), max_size=30), blank=st.integers(0, 4), stretch=st.integers(1, 3))
def test_collapse_laws(path, blank, stretch):
    ours = np.asarray(ctc.collapse(np.array(path, dtype=np.int64), blank=blank)).tolist()
    assert ours == ref_collapse(path, blank)
    # repeating every frame does not change the labelling
    stretched = np.repeat(np.array(path, dtype=np.int64), stretch)
    assert np.asarray(ctc.collapse(stretched, blank=blank)).tolist() == ours
    # the extended target is a path of the target; its odd positions are the target, the even ones blank
    target = np.array(ours, dtype=np.int64)
    if blank not in ours:
        extended = np.asarray(ctc.extend_target(target, blank=blank))
        assert extended[1::2].tolist() == ours and set(extended[::2].tolist()) == {blank}
        assert np.asarray(ctc.collapse(extended, blank=blank)).tolist() == ours


# --------------------------------------------------------------------------- decoding and alignment


def peaked(argmax, C, high=0.8):
    """log posteriors whose argmax at frame t is argmax[t]."""
    probs = np.full((len(argmax), C), (1 - high) / (C - 1))
    probs[np.arange(len(argmax)), argmax] = high
    return np.log(probs)


@pytest.mark.parametrize(
    "argmax, C, blank, expected",
    [
        ([1, 1, 0, 1, 2, 2], 3, 0, [1, 1, 2]),
        ([0, 0, 0], 3, 0, []),
        ([0, 0, 2, 0, 1, 1], 3, 2, [0, 0, 1]),
        ([3, 1, 2, 2, 3], 4, 3, [1, 2]),
    ],
)
def test_greedy_decode_by_hand(argmax, C, blank, expected):
    assert list(ctc.greedy_decode(peaked(argmax, C), blank=blank)) == expected


def test_greedy_decode_is_collapse_of_argmax():
    rng = np.random.default_rng(6)
    for _ in range(20):
        log_probs = random_log_probs(30, 5, rng)
        blank = int(rng.integers(0, 5))
        decoded = ctc.greedy_decode(log_probs, blank=blank)
        assert list(decoded) == ref_collapse(log_probs.argmax(axis=1), blank)
        assert all(type(k) is int for k in decoded)


def test_beam_search_finds_what_best_path_misses():
    """Two frames, p(blank) = 0.6, p(a) = 0.4: the best path is blank blank (0.36) so greedy says nothing,
    but a has three paths (aa, a-, -a) worth 0.16 + 0.24 + 0.24 = 0.64."""
    log_probs = np.log(np.array([[0.6, 0.4], [0.6, 0.4]]))
    assert list(ctc.greedy_decode(log_probs)) == []
    beams = ctc.prefix_beam_search(log_probs, beam_width=4)
    possible = [(labels, score) for labels, score in beams if score > -np.inf]  # (a, a) needs 3 frames
    assert [labels for labels, _ in possible] == [(1,), ()]
    np.testing.assert_allclose([score for _, score in possible], np.log([0.64, 0.36]), rtol=1e-12)
    # with one beam, () beats (a) after the first frame (0.6 > 0.4) and a is never reconsidered
    beams = ctc.prefix_beam_search(log_probs, beam_width=1)
    assert len(beams) == 1 and beams[0][0] == ()
    assert beams[0][1] == pytest.approx(np.log(0.36), rel=1e-12)


@pytest.mark.parametrize("C, T, blank", [(3, 5, 0), (3, 5, 1), (4, 4, 3), (2, 8, 0)])
def test_unpruned_beam_search_is_exact(C, T, blank):
    rng = np.random.default_rng([C, T, blank])
    log_probs = random_log_probs(T, C, rng, scale=1.5)
    brute = brute_labellings(log_probs, blank)
    width = sum((C - 1) ** k for k in range(T + 1))  # every prefix fits: nothing is pruned
    beams = ctc.prefix_beam_search(log_probs, beam_width=width, blank=blank)
    assert 1 <= len(beams) <= width
    scores = [score for _, score in beams]
    assert all(a >= b for a, b in zip(scores, scores[1:]))
    for labels, score in beams:
        assert isinstance(labels, tuple)
        assert score == pytest.approx(brute.get(labels, -np.inf), rel=1e-10)
        assert score == pytest.approx(ctc.ctc_log_likelihood(log_probs, np.array(labels, dtype=np.int64),
                                                             blank=blank), rel=1e-10)
    ranked = sorted(brute, key=brute.get, reverse=True)  # only labellings some path produces
    assert beams[0][0] == ranked[0]
    top = min(10, len(beams), len(ranked))
    assert [labels for labels, _ in beams[:top]] == ranked[:top]


def test_logaddexp_of_python_floats_equals_numpy():
    """The beam search's scalar log-sum-exp: NumPy's values, -inf handled, Python floats out."""
    rng = np.random.default_rng(19)
    pairs = [(float(a), float(b)) for a, b in rng.normal(0.0, 30.0, (200, 2))]
    pairs += [(-np.inf, -np.inf), (-np.inf, 1.5), (2.0, -np.inf), (3.0, 3.0), (-745.0, 0.0), (0.0, -1e-300)]
    for a, b in pairs:
        ours = ctc._logaddexp(a, b)
        assert type(ours) is float
        assert ours == pytest.approx(float(np.logaddexp(a, b)), rel=1e-15, abs=0.0) or ours == np.logaddexp(a, b)


def test_beam_search_scores_are_python_floats():
    log_probs = random_log_probs(12, 4, np.random.default_rng(20))
    for labels, score in ctc.prefix_beam_search(log_probs, beam_width=3):
        assert type(score) is float and all(type(k) is int for k in labels)


def test_beam_width_limits_the_answer():
    rng = np.random.default_rng(14)
    log_probs = random_log_probs(20, 6, rng)
    for width in (1, 2, 5):
        beams = ctc.prefix_beam_search(log_probs, beam_width=width)
        assert 1 <= len(beams) <= width
        # a pruned search can only lose paths: each score is at most the exact log-likelihood
        for labels, score in beams:
            assert score <= ctc.ctc_log_likelihood(log_probs, np.array(labels, dtype=np.int64)) + 1e-12


@pytest.mark.parametrize("C, T, target, blank", [c for c in BRUTE_CASES if c[1] >= ref_min_length(c[2])],
                         ids=[i for c, i in zip(BRUTE_CASES, BRUTE_IDS) if c[1] >= ref_min_length(c[2])])
def test_forced_align_is_the_best_valid_path(C, T, target, blank):
    rng = np.random.default_rng([C, T, len(target), blank, 2])
    log_probs = random_log_probs(T, C, rng, scale=1.5)
    target = np.array(target, dtype=np.int64)
    paths = all_paths(T, C)
    scores = log_probs[np.arange(T), paths].sum(axis=1)
    valid = np.flatnonzero([ref_collapse(p, blank) == target.tolist() for p in paths])
    best = valid[np.argmax(scores[valid])]
    path, log_prob = ctc.forced_align(log_probs, target, blank=blank)
    np.testing.assert_array_equal(path, paths[best])
    assert log_prob == pytest.approx(scores[best], rel=1e-12)
    assert ref_collapse(path, blank) == target.tolist()
    assert ctc.path_log_prob(log_probs, path) == pytest.approx(log_prob, rel=1e-12)
    enumerated = np.asarray(ctc.enumerate_paths(T, target, blank=blank))
    assert log_prob == pytest.approx(max(log_probs[np.arange(T), p].sum() for p in enumerated), rel=1e-12)


def test_forced_align_long_sequence():
    rng = np.random.default_rng(44)
    log_probs = random_log_probs(3000, 10, rng, scale=5.0)
    target = random_target(30, 10, 0, rng)
    path, log_prob = ctc.forced_align(log_probs, target)
    assert ref_collapse(path, 0) == target.tolist()
    assert log_prob == pytest.approx(log_probs[np.arange(3000), path].sum(), rel=1e-12)
    assert log_prob <= ctc.ctc_log_likelihood(log_probs, target)


@pytest.mark.parametrize(
    "path, blank, expected",
    [
        ([0, 1, 1, 0, 1, 2, 2, 0], 0, [(1, 1, 3), (1, 4, 5), (2, 5, 7)]),
        ([1, 1, 2], 0, [(1, 0, 2), (2, 2, 3)]),
        ([0, 0, 0], 0, []),
        ([2, 0, 0, 2, 1], 2, [(0, 1, 3), (1, 4, 5)]),
        ([3], 0, [(3, 0, 1)]),
    ],
)
def test_path_segments_by_hand(path, blank, expected):
    segments = ctc.path_segments(np.array(path, dtype=np.int64), blank=blank)
    assert [tuple(int(v) for v in seg) for seg in segments] == expected


@settings(max_examples=100, deadline=None)
@given(path=st.lists(st.integers(0, 3), max_size=40), blank=st.integers(0, 3))
def test_path_segments_rebuild_the_path(path, blank):
    path = np.array(path, dtype=np.int64)
    segments = ctc.path_segments(path, blank=blank)
    assert [label for label, _, _ in segments] == ref_collapse(path, blank)
    rebuilt = np.full(len(path), blank)
    for label, start, end in segments:
        assert 0 <= start < end <= len(path)
        rebuilt[start:end] = label
    np.testing.assert_array_equal(rebuilt, path)
    # runs: consecutive segments never touch with the same label
    for (a, _, end), (b, start, _) in zip(segments, segments[1:]):
        assert end < start or a != b


# --------------------------------------------------------------------------- bad input

T0, N0, C0 = 6, 2, 4
LP0 = normalized(np.random.default_rng(0).normal(0.0, 1.0, (T0, N0, C0)))
TARGETS0 = np.array([[1, 2, 0], [3, 3, 1]])
IL0 = np.array([6, 5])
TL0 = np.array([2, 3])

LOSS_BAD = [  # argument, value, error, match
    ("targets", np.array([[1, 0, 0], [3, 3, 1]]), ValueError, "targets"),  # the blank inside target_lengths
    ("targets", np.array([[1, 4, 0], [3, 3, 1]]), ValueError, "targets"),  # class C
    ("targets", np.array([[1, -1, 0], [3, 3, 1]]), ValueError, "targets"),
    ("targets", np.array([[1.0, 2.0, 0.0], [3.0, 3.0, 1.0]]), TypeError, "targets"),
    ("targets", np.zeros((2, 3, 1), dtype=np.int64), ValueError, "targets"),
    ("targets", np.array([[1, 2, 0], [3, 3, 1], [1, 1, 1]]), ValueError, "targets"),  # N mismatch
    ("input_lengths", np.array([7, 5]), ValueError, "input_lengths"),
    ("input_lengths", np.array([-1, 5]), ValueError, "input_lengths"),
    ("input_lengths", np.array([6.0, 5.0]), TypeError, "input_lengths"),
    ("input_lengths", np.array([6, 5, 4]), ValueError, "input_lengths"),
    ("input_lengths", np.array([[6, 5]]), ValueError, "input_lengths"),
    ("target_lengths", np.array([2, 4]), ValueError, "target_lengths"),  # longer than S_max = 3
    ("target_lengths", np.array([-1, 3]), ValueError, "target_lengths"),
    ("target_lengths", np.array([2]), ValueError, "target_lengths"),
    ("target_lengths", np.array([2.0, 3.0]), TypeError, "target_lengths"),
    ("log_probs", LP0[:, 0], ValueError, "log_probs"),
    ("log_probs", LP0[None], ValueError, "log_probs"),
    ("log_probs", np.random.default_rng(1).normal(0.0, 1.0, (T0, N0, C0)), ValueError, "log_probs"),  # logits
    ("log_probs", np.where(np.arange(C0) == 2, np.nan, LP0), ValueError, "log_probs"),
    ("blank", C0, ValueError, "blank"),
    ("blank", -1, ValueError, "blank"),
    ("reduction", "avg", ValueError, "reduction"),
]
LOSS_BAD_IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(LOSS_BAD)]


def loss_call(function, **changes):
    kwargs = dict(log_probs=LP0, targets=TARGETS0, input_lengths=IL0, target_lengths=TL0, blank=0, reduction="mean")
    kwargs.update(changes)
    if function is ctc.ctc_loss_torch:
        for name in ("log_probs", "targets", "input_lengths", "target_lengths"):
            kwargs[name] = torch.from_numpy(np.asarray(kwargs[name]))
    return function(kwargs.pop("log_probs"), kwargs.pop("targets"), kwargs.pop("input_lengths"),
                    kwargs.pop("target_lengths"), **kwargs)


@pytest.mark.parametrize("function", [ctc.ctc_loss, ctc.ctc_loss_torch], ids=["numpy", "torch"])
@pytest.mark.parametrize("name, value, error, match", LOSS_BAD, ids=LOSS_BAD_IDS)
def test_ctc_loss_bad_input(function, name, value, error, match):
    loss_call(function)  # the unchanged call is fine
    with pytest.raises(error, match=match):
        loss_call(function, **{name: value})


@pytest.mark.parametrize("function", [ctc.ctc_loss, ctc.ctc_loss_torch], ids=["numpy", "torch"])
def test_concatenated_targets_must_add_up(function):
    flat = np.array([1, 2, 3, 3, 1])
    loss_call(function, targets=flat, target_lengths=np.array([2, 3]))
    with pytest.raises(ValueError, match="target_lengths"):
        loss_call(function, targets=flat, target_lengths=np.array([2, 2]))
    with pytest.raises(ValueError, match="targets"):
        loss_call(function, targets=np.array([1, 2, 3, 0, 1]), target_lengths=np.array([2, 3]))


@pytest.mark.parametrize("function", [ctc.ctc_forward, ctc.ctc_backward, ctc.ctc_log_likelihood,
                                      ctc.ctc_posteriors, ctc.forced_align])
@pytest.mark.parametrize(
    "log_probs, target, blank, error, match",
    [
        (LP0, np.array([1, 2]), 0, ValueError, "log_probs"),  # 3-D
        (LP0[:, 0], np.array([[1, 2]]), 0, ValueError, "target"),
        (LP0[:, 0], np.array([1, 0]), 0, ValueError, "target"),  # contains the blank
        (LP0[:, 0], np.array([1, 4]), 0, ValueError, "target"),  # class C
        (LP0[:, 0], np.array([1.0, 2.0]), 0, TypeError, "target"),
        (LP0[:, 0], np.array([1, 2]), 4, ValueError, "blank"),
        (LP0[:, 0], np.array([1, 2]), -1, ValueError, "blank"),
        (np.where(np.arange(C0) == 1, np.nan, LP0[:, 0]), np.array([1, 2]), 0, ValueError, "log_probs"),
    ],
)
def test_single_sequence_bad_input(function, log_probs, target, blank, error, match):
    function(LP0[:, 0], np.array([1, 2]), blank=0)  # the unchanged call is fine
    with pytest.raises(error, match=match):
        function(log_probs, target, blank=blank)


def test_decoders_and_paths_bad_input():
    log_probs = LP0[:, 0]
    with pytest.raises(ValueError, match="log_probs"):
        ctc.greedy_decode(LP0)
    with pytest.raises(ValueError, match="log_probs"):
        ctc.prefix_beam_search(LP0)
    with pytest.raises(ValueError, match="beam_width"):
        ctc.prefix_beam_search(log_probs, beam_width=0)
    with pytest.raises(TypeError, match="beam_width"):
        ctc.prefix_beam_search(log_probs, beam_width=2.5)
    with pytest.raises(ValueError, match="blank"):
        ctc.greedy_decode(log_probs, blank=C0)
    with pytest.raises(ValueError, match="path"):
        ctc.collapse(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="path"):
        ctc.path_segments(np.zeros((2, 3), dtype=np.int64))
    with pytest.raises(ValueError, match="path"):
        ctc.path_log_prob(log_probs, np.array([0, 1]))  # T = 6 frames, 2 in the path
    with pytest.raises(ValueError, match="target"):
        ctc.extend_target(np.array([1, 0, 2]))
    with pytest.raises(ValueError, match=r"\bT\b"):
        ctc.count_paths(-1, np.array([1]))

"""lessons_lib.nn: softmax, losses, information measures and a NumPy MLP.

Every function is compared with its reference in float64: softmax and the losses
with torch / torch.nn.functional (every reduction, huge logits that overflow a
naive exp), entropy and KL divergence with scipy.stats.entropy, the loss
gradients with torch autograd, and the MLP (forward output, every weight and bias
gradient and the input gradient) with a torch nn.Sequential holding the same
weights, for tanh and ReLU and several layer sizes. Laws: H(p, q) = H(p) + KL(p||q),
KL >= 0 (hypothesis), KL is not symmetric, 0 log 0 = 0, KL = +inf where q = 0 < p.
numerical_gradient is checked on a function with a known derivative, and then
used to check the MLP's hand-written gradients. Then bad input.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special
import scipy.stats
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

from lessons_lib import nn

RTOL = 1e-9


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def close(ours, reference, rtol=RTOL):
    """Equal in shape and value (relative to the reference's scale, so near-zero entries compare sensibly)."""
    ours = np.asarray(ours)
    reference = np.asarray(reference.detach().numpy() if isinstance(reference, torch.Tensor) else reference)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert not np.isnan(ours).any()
    scale = max(float(np.abs(reference[np.isfinite(reference)]).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=1e-12 * scale)


def t(a, requires_grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=requires_grad)


def random_probs(shape, rng, zeros=0.0):
    """Rows (last axis) that sum to 1, with a fraction of exact zeros (never a whole row)."""
    p = rng.random(shape) + 0.01
    if zeros:
        mask = rng.random(shape) < zeros
        mask[..., 0] = False
        p[mask] = 0.0
    return p / p.sum(axis=-1, keepdims=True)


# --------------------------------------------------------------------------- softmax / log_softmax

SOFTMAX_CASES = [((7,), -1), ((4, 5), -1), ((4, 5), 0), ((4, 5), 1), ((3, 4, 6), 1), ((3, 4, 6), -1),
                 ((3, 4, 6), 0), ((1, 1), -1), ((2, 1), -1)]


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e4])
@pytest.mark.parametrize("shape, axis", SOFTMAX_CASES, ids=str)
def test_softmax_and_log_softmax_equal_torch(shape, axis, scale):
    rng = np.random.default_rng([len(shape), sum(shape), axis % 7, int(scale)])
    z = rng.normal(size=shape) * scale
    close(nn.softmax(z, axis=axis), torch.softmax(t(z), dim=axis))
    close(nn.log_softmax(z, axis=axis), torch.log_softmax(t(z), dim=axis))


def test_softmax_default_axis_is_last():
    z = np.random.default_rng(1).normal(size=(3, 4))
    close(nn.softmax(z), torch.softmax(t(z), dim=-1))
    close(nn.log_softmax(z), torch.log_softmax(t(z), dim=-1))


def test_softmax_huge_logits_no_overflow():
    z = np.array([[1e4, -1e4, 0.0], [1e4, 1e4, 1e4], [-1e4, -1e4, -1e4], [-1e4, 1e4 - 1.0, 1e4]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value RuntimeWarning either
        s = nn.softmax(z, axis=-1)
        ls = nn.log_softmax(z, axis=-1)
    assert np.isfinite(s).all() and np.isfinite(ls).all()
    close(s, torch.softmax(t(z), dim=-1))
    close(ls, torch.log_softmax(t(z), dim=-1))
    # the exact values a careful reader can work out by hand
    assert ls[0, 1] == pytest.approx(-2e4, rel=1e-12)
    np.testing.assert_allclose(s[1], np.full(3, 1 / 3), rtol=1e-12)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-12)


def test_softmax_accepts_float32_and_computes_in_float64():
    z = np.random.default_rng(2).normal(size=(4, 6)).astype(np.float32)
    s = nn.softmax(z)
    assert s.dtype == np.float64
    close(s, torch.softmax(t(z.astype(np.float64)), dim=-1))


@settings(max_examples=40, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, max_side=6),
                  elements=st.floats(-1e5, 1e5)))
def test_softmax_is_a_distribution_and_exp_of_log_softmax(z):
    s = nn.softmax(z)
    assert np.all(s >= 0) and np.all(s <= 1)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.exp(nn.log_softmax(z)), s, rtol=1e-10, atol=1e-300)
    # shifting the logits by a constant changes nothing
    np.testing.assert_allclose(nn.softmax(z + 7.5), s, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- losses vs torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4), (1, 1)], ids=str)
def test_mse_loss_equals_torch(shape, reduction):
    rng = np.random.default_rng([len(shape), sum(shape)])
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    close(nn.mse_loss(pred, target, reduction=reduction), F.mse_loss(t(pred), t(target), reduction=reduction))


def test_mse_loss_default_reduction_is_mean():
    rng = np.random.default_rng(3)
    pred, target = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    close(nn.mse_loss(pred, target), F.mse_loss(t(pred), t(target)))


CE_CASES = [(8, 5, 1.0), (1, 3, 1.0), (16, 2, 10.0), (10, 10, 1e4), (3, 1, 1.0)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n, c, scale", CE_CASES, ids=str)
def test_cross_entropy_equals_torch(n, c, scale, reduction):
    rng = np.random.default_rng([n, c, int(scale)])
    logits = rng.normal(size=(n, c)) * scale
    target = rng.integers(0, c, size=n)
    ours = nn.cross_entropy(logits, target, reduction=reduction)
    assert np.isfinite(ours).all()
    close(ours, F.cross_entropy(t(logits), torch.as_tensor(target), reduction=reduction))


def test_cross_entropy_default_reduction_is_mean_and_accepts_int32_labels():
    rng = np.random.default_rng(4)
    logits = rng.normal(size=(6, 4))
    target = rng.integers(0, 4, size=6).astype(np.int32)
    close(nn.cross_entropy(logits, target), F.cross_entropy(t(logits), torch.as_tensor(target, dtype=torch.long)))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("n, c", [(8, 5), (1, 3), (20, 2)], ids=str)
def test_nll_loss_equals_torch(n, c, reduction):
    rng = np.random.default_rng([n, c, 11])
    log_probs = np.log(random_probs((n, c), rng))
    target = rng.integers(0, c, size=n)
    close(nn.nll_loss(log_probs, target, reduction=reduction),
          F.nll_loss(t(log_probs), torch.as_tensor(target), reduction=reduction))


def test_nll_loss_of_log_softmax_is_cross_entropy():
    rng = np.random.default_rng(5)
    logits = rng.normal(size=(7, 4)) * 5
    target = rng.integers(0, 4, size=7)
    close(nn.nll_loss(nn.log_softmax(logits), target), F.cross_entropy(t(logits), torch.as_tensor(target)))


def torch_kl_div(log_q, p, reduction):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns that its "mean" is not the batch mean
        return F.kl_div(t(log_q), t(p), reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("shape, zeros", [((6, 4), 0.0), ((6, 4), 0.3), ((1, 5), 0.0), ((3, 2, 5), 0.2)],
                         ids=str)
def test_kl_div_equals_torch(shape, zeros, reduction):
    rng = np.random.default_rng([len(shape), sum(shape), int(zeros * 10)])
    p = random_probs(shape, rng, zeros=zeros)
    log_q = np.log(random_probs(shape, rng))
    ours = nn.kl_div(log_q, p, reduction=reduction)
    assert np.isfinite(ours).all()  # 0 * log 0 contributes 0, as in torch
    close(ours, torch_kl_div(log_q, p, reduction))


def test_kl_div_term_is_zero_where_p_and_q_are_both_zero():
    """0 log 0 = 0 also when the model gives log q = -inf to a class p never produces.

    torch 2.13 returns NaN for that single term (0 * -inf); every other term must equal torch's.
    """
    log_q = np.array([[-np.inf, math.log(0.25), math.log(0.75)], [math.log(0.5), math.log(0.5), -np.inf]])
    p = np.array([[0.0, 0.5, 0.5], [0.3, 0.7, 0.0]])
    terms = nn.kl_div(log_q, p, reduction="none")
    assert terms[0, 0] == 0.0 and terms[1, 2] == 0.0
    reference = torch_kl_div(log_q, p, "none").numpy()
    defined = p > 0
    close(terms[defined], reference[defined])
    assert nn.kl_div(log_q, p, reduction="sum") == pytest.approx(float(reference[defined].sum()), rel=1e-12)


def test_kl_div_is_inf_where_q_is_zero_and_p_is_not():
    log_q = np.array([[-np.inf, math.log(0.5), math.log(0.5)]])
    p = np.array([[0.2, 0.4, 0.4]])
    assert nn.kl_div(log_q, p, reduction="sum") == np.inf == float(torch_kl_div(log_q, p, "sum"))


def test_kl_div_default_reduction_is_torchs_mean_over_all_elements():
    rng = np.random.default_rng(6)
    p, log_q = random_probs((5, 3), rng), np.log(random_probs((5, 3), rng))
    close(nn.kl_div(log_q, p), torch_kl_div(log_q, p, "mean"))
    # and batchmean is 3 times (the number of classes) torch's mean here
    close(nn.kl_div(log_q, p, reduction="batchmean"), 3 * torch_kl_div(log_q, p, "mean"))


# --------------------------------------------------------------------------- entropy, cross-entropy, KL

@pytest.mark.parametrize("shape, axis", [((5,), -1), ((4, 6), -1), ((4, 6), 1), ((3, 4, 5), -1), ((1, 2), -1)],
                         ids=str)
@pytest.mark.parametrize("zeros", [0.0, 0.3])
def test_entropy_and_kl_divergence_equal_scipy(shape, axis, zeros):
    rng = np.random.default_rng([len(shape), sum(shape), int(zeros * 10)])
    p = random_probs(shape, rng, zeros=zeros)
    q = random_probs(shape, rng)
    close(nn.entropy(p, axis=axis), scipy.stats.entropy(p, axis=axis))
    close(nn.kl_divergence(p, q, axis=axis), scipy.stats.entropy(p, q, axis=axis))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_entropy_and_kl_divergence_normalise_weights_as_scipy_does(axis):
    """Counts instead of probabilities: scipy.stats.entropy divides by the sum first, and so must we."""
    rng = np.random.default_rng([9, axis % 3])
    counts_p = rng.integers(0, 20, size=(4, 5)).astype(float) + np.eye(4, 5)  # no all-zero row or column
    counts_q = rng.integers(1, 20, size=(4, 5)).astype(float)
    close(nn.entropy(counts_p, axis=axis), scipy.stats.entropy(counts_p, axis=axis))
    close(nn.kl_divergence(counts_p, counts_q, axis=axis), scipy.stats.entropy(counts_p, counts_q, axis=axis))


def test_entropy_and_kl_divergence_along_axis_0_equal_scipy():
    rng = np.random.default_rng(7)
    p = random_probs((5, 4), rng, zeros=0.2).T.copy()  # columns sum to 1
    q = random_probs((5, 4), rng).T.copy()
    close(nn.entropy(p, axis=0), scipy.stats.entropy(p, axis=0))
    close(nn.kl_divergence(p, q, axis=0), scipy.stats.entropy(p, q, axis=0))
    close(nn.cross_entropy_between(p, q, axis=0),
          scipy.stats.entropy(p, axis=0) + scipy.stats.entropy(p, q, axis=0))


@pytest.mark.parametrize("seed", range(4))
def test_cross_entropy_between_is_entropy_plus_kl(seed):
    rng = np.random.default_rng(seed)
    p = random_probs((6, 5), rng, zeros=0.25)
    q = random_probs((6, 5), rng)
    h_pq = nn.cross_entropy_between(p, q)
    close(h_pq, nn.entropy(p) + nn.kl_divergence(p, q))
    close(h_pq, scipy.stats.entropy(p, axis=-1) + scipy.stats.entropy(p, q, axis=-1))


def test_cross_entropy_between_equals_torch_cross_entropy_with_probability_targets():
    rng = np.random.default_rng(8)
    logits = rng.normal(size=(5, 4)) * 3
    p = random_probs((5, 4), rng, zeros=0.3)
    ours = nn.cross_entropy_between(p, nn.softmax(logits))
    close(ours, F.cross_entropy(t(logits), t(p), reduction="none"))


def test_kl_divergence_is_not_symmetric():
    p, q = np.array([0.9, 0.1]), np.array([0.5, 0.5])
    kl_pq = nn.kl_divergence(p, q)
    kl_qp = nn.kl_divergence(q, p)
    assert kl_pq == pytest.approx(0.9 * math.log(0.9 / 0.5) + 0.1 * math.log(0.1 / 0.5), rel=1e-12)
    assert kl_qp == pytest.approx(0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1), rel=1e-12)
    assert abs(kl_pq - kl_qp) > 0.1


def test_zero_log_zero_is_zero():
    assert nn.entropy(np.array([1.0, 0.0, 0.0])) == 0.0
    assert nn.entropy(np.array([0.5, 0.0, 0.5])) == pytest.approx(math.log(2), rel=1e-14)
    p = np.array([0.25, 0.75, 0.0])
    q = np.array([0.5, 0.5, 0.0])  # q = 0 where p = 0: no contribution
    assert nn.kl_divergence(p, q) == pytest.approx(0.25 * math.log(0.5) + 0.75 * math.log(1.5), rel=1e-12)
    assert nn.cross_entropy_between(p, q) == pytest.approx(math.log(2), rel=1e-14)
    assert nn.kl_divergence(p, p) == 0.0


def test_kl_and_cross_entropy_are_inf_where_q_is_zero_and_p_is_not():
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    q = np.array([[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]])
    kl = nn.kl_divergence(p, q)
    ce = nn.cross_entropy_between(p, q)
    assert np.isfinite(kl[0]) and kl[0] == pytest.approx(0.0, abs=1e-15)
    assert kl[1] == np.inf and ce[1] == np.inf
    np.testing.assert_array_equal(kl, scipy.stats.entropy(p, q, axis=-1))


probability_vectors = hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(0.0, 1.0)).filter(
    lambda w: w.sum() > 1e-3)


@settings(max_examples=60, deadline=None)
@given(probability_vectors, st.data())
def test_kl_is_nonnegative_and_zero_only_at_p(w, data):
    p = w / w.sum()
    v = data.draw(hnp.arrays(np.float64, p.shape, elements=st.floats(1e-3, 1.0)))
    q = v / v.sum()
    kl = nn.kl_divergence(p, q)
    assert kl >= -1e-12
    assert nn.kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert nn.entropy(p) >= -1e-12
    assert nn.entropy(p) <= math.log(len(p)) + 1e-12
    np.testing.assert_allclose(kl, scipy.stats.entropy(p, q), rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- loss gradients vs autograd

@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 4)], ids=str)
def test_mse_loss_grad_equals_autograd(shape, reduction):
    rng = np.random.default_rng([len(shape), sum(shape), 21])
    pred, target = rng.normal(size=shape), rng.normal(size=shape)
    tp = t(pred, requires_grad=True)
    F.mse_loss(tp, t(target), reduction=reduction).backward()
    close(nn.mse_loss_grad(pred, target, reduction=reduction), tp.grad)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("n, c, scale", CE_CASES, ids=str)
def test_cross_entropy_grad_equals_autograd(n, c, scale, reduction):
    rng = np.random.default_rng([n, c, int(scale), 22])
    logits = rng.normal(size=(n, c)) * scale
    target = rng.integers(0, c, size=n)
    tl = t(logits, requires_grad=True)
    F.cross_entropy(tl, torch.as_tensor(target), reduction=reduction).backward()
    close(nn.cross_entropy_grad(logits, target, reduction=reduction), tl.grad)


def test_cross_entropy_grad_default_is_mean():
    rng = np.random.default_rng(23)
    logits, target = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    onehot = np.eye(3)[target]
    close(nn.cross_entropy_grad(logits, target), (scipy.special.softmax(logits, axis=1) - onehot) / 6)


# --------------------------------------------------------------------------- the MLP vs torch

def torch_mlp(layers, activation):
    act = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU}[activation]
    modules = []
    for i, (weight, bias) in enumerate(layers):
        lin = torch.nn.Linear(weight.shape[1], weight.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(t(weight))
            lin.bias.copy_(t(bias))
        modules.append(lin)
        if i < len(layers) - 1:
            modules.append(act())
    return torch.nn.Sequential(*modules)


MLP_SIZES = [[3, 5, 2], [4, 8, 6, 3], [7, 3], [2, 16, 16, 16, 5], [1, 1, 1]]


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("sizes", MLP_SIZES, ids=str)
def test_mlp_forward_and_backward_equal_torch(sizes, activation):
    rng = np.random.default_rng([len(sizes), sum(sizes)])
    layers = nn.init_mlp(sizes, rng)
    X = rng.normal(size=(9, sizes[0])) * 2
    G = rng.normal(size=(9, sizes[-1]))  # dLoss/doutput of the loss sum(output * G)

    out, cache = nn.mlp_forward(layers, X, activation=activation)
    grads, d_X = nn.mlp_backward(layers, cache, G)

    model = torch_mlp(layers, activation)
    tX = t(X, requires_grad=True)
    t_out = model(tX)
    (t_out * t(G)).sum().backward()
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]

    close(out, t_out)
    assert len(grads) == len(layers)
    for (d_w, d_b), lin in zip(grads, linears):
        close(d_w, lin.weight.grad)
        close(d_b, lin.bias.grad)
    close(d_X, tX.grad)


def test_mlp_single_layer_has_no_activation():
    """A 1-layer ReLU MLP is affine: negative outputs survive (no ReLU after the last layer)."""
    rng = np.random.default_rng(31)
    layers = nn.init_mlp([4, 6], rng)
    X = rng.normal(size=(10, 4)) * 3
    out, _ = nn.mlp_forward(layers, X, activation="relu")
    w, b = layers[0]
    close(out, t(X) @ t(w).T + t(b))
    assert (out < 0).any()


def test_mlp_trains_with_cross_entropy_like_torch():
    """Three SGD steps with our gradients follow torch's (autograd, then p -= lr * p.grad) step for step."""
    rng = np.random.default_rng(32)
    layers = nn.init_mlp([3, 7, 4], rng)
    X = rng.normal(size=(12, 3))
    y = rng.integers(0, 4, size=12)
    model = torch_mlp(layers, "tanh")
    for _ in range(3):
        out, cache = nn.mlp_forward(layers, X, activation="tanh")
        grads, _ = nn.mlp_backward(layers, cache, nn.cross_entropy_grad(out, y))
        layers = nn.sgd_step(layers, grads, 0.5)
        model.zero_grad()
        F.cross_entropy(model(t(X)), torch.as_tensor(y)).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for (w, b), lin in zip(layers, linears):
        close(w, lin.weight)
        close(b, lin.bias)


# --------------------------------------------------------------------------- numerical_gradient

def test_numerical_gradient_of_a_known_function():
    x = np.random.default_rng(41).normal(size=(3, 4))
    x_before = x.copy()

    def f(a):
        return float(np.sum(np.sin(a) * a ** 2))

    g = nn.numerical_gradient(f, x)
    assert g.shape == x.shape
    np.testing.assert_allclose(g, np.cos(x) * x ** 2 + 2 * x * np.sin(x), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(x, x_before)  # x is restored


def test_numerical_gradient_of_a_quadratic_is_exact_up_to_rounding():
    rng = np.random.default_rng(42)
    A = rng.normal(size=(5, 5))
    x = rng.normal(size=5)
    g = nn.numerical_gradient(lambda v: float(v @ A @ v), x, eps=1e-4)
    np.testing.assert_allclose(g, (A + A.T) @ x, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("sizes", [[3, 5, 4], [2, 6, 5, 3]], ids=str)
def test_mlp_gradients_equal_numerical_gradient(sizes, activation):
    rng = np.random.default_rng([len(sizes), sum(sizes), 43])
    layers = nn.init_mlp(sizes, rng)
    X = rng.normal(size=(6, sizes[0]))
    y = rng.integers(0, sizes[-1], size=6)
    out, cache = nn.mlp_forward(layers, X, activation=activation)
    grads, d_X = nn.mlp_backward(layers, cache, nn.cross_entropy_grad(out, y))

    def loss(ls, xx):
        return float(nn.cross_entropy(nn.mlp_forward(ls, xx, activation=activation)[0], y))

    for i, (w, b) in enumerate(layers):
        def f_w(w_new, i=i):
            return loss([(w_new, bb) if j == i else (ww, bb) for j, (ww, bb) in enumerate(layers)], X)

        def f_b(b_new, i=i):
            return loss([(ww, b_new) if j == i else (ww, bb) for j, (ww, bb) in enumerate(layers)], X)

        np.testing.assert_allclose(grads[i][0], nn.numerical_gradient(f_w, w.copy()), rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(grads[i][1], nn.numerical_gradient(f_b, b.copy()), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(d_X, nn.numerical_gradient(lambda xx: loss(layers, xx), X.copy()),
                               rtol=1e-6, atol=1e-9)


# --------------------------------------------------------------------------- sgd_step, init_mlp

def test_sgd_step_is_pure_and_correct():
    rng = np.random.default_rng(51)
    layers = nn.init_mlp([3, 4, 2], rng)
    grads = [(rng.normal(size=w.shape), rng.normal(size=b.shape)) for w, b in layers]
    before = [(w.copy(), b.copy()) for w, b in layers]
    grads_before = [(w.copy(), b.copy()) for w, b in grads]
    new = nn.sgd_step(layers, grads, 0.1)
    for (w, b), (w0, b0), (gw, gb), (nw, nb) in zip(layers, before, grads, new):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
        np.testing.assert_allclose(nw, w0 - 0.1 * gw, rtol=1e-15)
        np.testing.assert_allclose(nb, b0 - 0.1 * gb, rtol=1e-15)
    for (gw, gb), (gw0, gb0) in zip(grads, grads_before):
        np.testing.assert_array_equal(gw, gw0)
        np.testing.assert_array_equal(gb, gb0)


def test_sgd_step_on_a_dict_of_arrays():
    rng = np.random.default_rng(52)
    params = {"weight_ih": rng.normal(size=(8, 3)), "bias_ih": rng.normal(size=8)}
    grads = {"weight_ih": rng.normal(size=(8, 3)), "bias_ih": rng.normal(size=8)}
    before = {k: v.copy() for k, v in params.items()}
    new = nn.sgd_step(params, grads, 0.25)
    assert set(new) == set(params)
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
        np.testing.assert_allclose(new[k], before[k] - 0.25 * grads[k], rtol=1e-15)


@pytest.mark.parametrize("sizes", [[3, 5, 2], [40, 200, 10], [1, 1]], ids=str)
def test_init_mlp_follows_torch_linear_layout_and_law(sizes):
    layers = nn.init_mlp(sizes, np.random.default_rng(61))
    again = nn.init_mlp(sizes, np.random.default_rng(61))
    other = nn.init_mlp(sizes, np.random.default_rng(62))
    assert len(layers) == len(sizes) - 1
    for (w, b), (w2, b2), (w3, _), fan_in, fan_out in zip(layers, again, other, sizes[:-1], sizes[1:]):
        reference = torch.nn.Linear(fan_in, fan_out, dtype=torch.float64)
        assert w.shape == tuple(reference.weight.shape) and b.shape == tuple(reference.bias.shape)
        assert w.dtype == np.float64 and b.dtype == np.float64
        bound = 1 / math.sqrt(fan_in)
        assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
        assert not np.array_equal(w, w3)
    # the law is uniform on [-bound, bound] (a fixed-seed Kolmogorov-Smirnov test on the big layer)
    if sizes[1] == 200:
        w, b = layers[0]
        bound = 1 / math.sqrt(40)
        assert scipy.stats.kstest(w.ravel(), scipy.stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3
        assert scipy.stats.kstest(b.ravel(), scipy.stats.uniform(-bound, 2 * bound).cdf).pvalue > 1e-3


# --------------------------------------------------------------------------- bad input

LOGITS = np.random.default_rng(71).normal(size=(4, 3))
LABELS = np.array([0, 2, 1, 2])


@pytest.mark.parametrize("fn", [nn.cross_entropy, nn.nll_loss, nn.cross_entropy_grad],
                         ids=["cross_entropy", "nll_loss", "cross_entropy_grad"])
@pytest.mark.parametrize("bad", [np.array([0, 3, 1, 2]), np.array([0, -1, 1, 2])], ids=["too-big", "negative"])
def test_labels_out_of_range(fn, bad):
    with pytest.raises(ValueError, match="target"):
        fn(LOGITS, bad)


@pytest.mark.parametrize("fn", [nn.cross_entropy, nn.nll_loss, nn.cross_entropy_grad],
                         ids=["cross_entropy", "nll_loss", "cross_entropy_grad"])
def test_float_labels(fn):
    with pytest.raises((TypeError, ValueError), match="target"):
        fn(LOGITS, np.array([0.0, 2.0, 1.0, 2.0]))


@pytest.mark.parametrize("fn", [nn.cross_entropy, nn.nll_loss, nn.cross_entropy_grad],
                         ids=["cross_entropy", "nll_loss", "cross_entropy_grad"])
def test_labels_of_wrong_length(fn):
    with pytest.raises(ValueError, match="target"):
        fn(LOGITS, np.array([0, 1]))


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)], ids=str)
def test_logits_not_2d(shape):
    z = np.zeros(shape)
    with pytest.raises(ValueError, match="logits"):
        nn.cross_entropy(z, np.zeros(shape[0], dtype=int))
    with pytest.raises(ValueError, match="logits"):
        nn.cross_entropy_grad(z, np.zeros(shape[0], dtype=int))
    with pytest.raises(ValueError, match="log_probs"):
        nn.nll_loss(z, np.zeros(shape[0], dtype=int))


@pytest.mark.parametrize("call", [
    lambda r: nn.mse_loss(np.zeros(3), np.zeros(3), reduction=r),
    lambda r: nn.mse_loss_grad(np.zeros(3), np.zeros(3), reduction=r),
    lambda r: nn.cross_entropy(LOGITS, LABELS, reduction=r),
    lambda r: nn.cross_entropy_grad(LOGITS, LABELS, reduction=r),
    lambda r: nn.nll_loss(LOGITS, LABELS, reduction=r),
    lambda r: nn.kl_div(LOGITS, np.full((4, 3), 1 / 3), reduction=r),
], ids=["mse_loss", "mse_loss_grad", "cross_entropy", "cross_entropy_grad", "nll_loss", "kl_div"])
@pytest.mark.parametrize("reduction", ["average", "Mean", ""])
def test_unknown_reduction(call, reduction):
    with pytest.raises(ValueError, match="reduction"):
        call(reduction)


def test_mse_loss_shape_mismatch_names_target():
    with pytest.raises(ValueError, match="target|prediction"):
        nn.mse_loss(np.zeros((3, 2)), np.zeros((2, 3)))


def test_nan_inputs():
    bad = LOGITS.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match=r"\bz\b"):
        nn.softmax(bad)
    with pytest.raises(ValueError, match=r"\bz\b"):
        nn.log_softmax(bad)
    with pytest.raises(ValueError, match="logits"):
        nn.cross_entropy(bad, LABELS)
    with pytest.raises(ValueError, match="prediction"):
        nn.mse_loss(bad, LOGITS)
    with pytest.raises(ValueError, match="target"):
        nn.mse_loss(LOGITS, bad)
    with pytest.raises(ValueError, match=r"\bp\b"):
        nn.entropy(np.array([0.5, np.nan, 0.5]))
    with pytest.raises(ValueError, match=r"\bX\b"):
        nn.mlp_forward(nn.init_mlp([3, 2], np.random.default_rng(0)), bad)


def test_mlp_bad_input():
    layers = nn.init_mlp([3, 4, 2], np.random.default_rng(72))
    with pytest.raises(ValueError, match="activation"):
        nn.mlp_forward(layers, np.zeros((5, 3)), activation="sigmoid")
    with pytest.raises(ValueError, match=r"\bX\b"):
        nn.mlp_forward(layers, np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"\bX\b"):
        nn.mlp_forward(layers, np.zeros(3))
    out, cache = nn.mlp_forward(layers, np.zeros((5, 3)))
    with pytest.raises(ValueError, match="d_output"):
        nn.mlp_backward(layers, cache, np.zeros((5, 3)))

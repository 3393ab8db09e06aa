"""lessons_lib.conv: convolution, pooling and batch norm against torch, forward and autograd; receptive fields.

Every comparison is in float64 at rtol 1e-9 (relative to the reference's largest entry, so near-zero
entries compare sensibly); the results agree to about 1e-15 in practice. The loss is sum(y * G) with a
random G, so every gradient is non-trivial.

* conv1d / conv2d: a seeded sweep of random shapes and settings (stride, padding, dilation, groups,
  batch) plus named edge cases (stride > kernel, dilation with padding, depthwise and channel-multiplier
  groups, 1x1, batch 1, non-square kernels/strides/dilations, "same" with an even kernel, output of
  length 1); output and the input, weight and bias gradients against F.conv1d/conv2d and autograd.
* conv_transpose1d / conv_transpose2d: a seeded sweep including output_padding, groups and dilation,
  forward and the three gradients.
* max_pool2d / avg_pool2d: a seeded sweep with integer-valued inputs (many ties), padding, dilation
  (max), ceil_mode and count_include_pad; max-pool indices equal torch's return_indices.
* batch_norm: F.batch_norm forward and autograd in train and eval mode for (N, C), (N, C, L),
  (N, C, H, W), with and without affine parameters; running statistics after several steps equal
  torch.nn.BatchNorm1d/2d's, then eval outputs.
* Laws (hypothesis): linearity in x; an impulse returns the kernel reversed; numpy.convolve is conv1d
  with the kernel flipped; the adjoint identity <conv(x), y> = <x, conv_transpose(y)> in 1-D and 2-D;
  conv1d's input gradient is conv_transpose1d; a stride-1 transposed convolution is a correlation with
  the flipped kernel; pooling gradients conserve the upstream gradient's sum.
* receptive_field: hand-worked values, the WaveNet formula of lessons_lib.models.layers, torch modules
  as input, and (hypothesis) the field MEASURED from input gradients of an equivalent torch stack of
  ones-kernels: for every output unit whose predicted field lies inside the input, the first and last
  inputs with a non-zero gradient are the predicted ones.
* Bad input: TypeError/ValueError naming the argument.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib import conv
from lessons_lib.models import layers as model_layers

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def close(ours, reference, rtol=1e-9):
    """Equal in shape and value, relative to the reference's scale."""
    ours = np.asarray(ours)
    reference = reference.detach().numpy() if isinstance(reference, torch.Tensor) else np.asarray(reference)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert np.isfinite(ours).all()
    scale = max(float(np.abs(reference).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=1e-12 * scale)


def tt(a, requires_grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=requires_grad)


# --------------------------------------------------------------------------- convolution


def random_conv(rng, n):
    """One random layer with ``n`` spatial axes: shapes, stride, padding, dilation, groups, bias."""
    groups = int(rng.choice([1, 1, 2, 3]))
    kernel = tuple(int(k) for k in rng.integers(1, 5, n))
    stride = tuple(int(s) for s in rng.integers(1, 4, n))
    dilation = tuple(int(d) for d in rng.integers(1, 4, n))
    padding = tuple(int(p) for p in rng.integers(0, 4, n))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(max(s - 2 * p, 1) + int(rng.integers(0, 7)) for s, p in zip(span, padding))
    return dict(batch=int(rng.integers(1, 4)), c_in=groups * int(rng.integers(1, 4)),
                c_out=groups * int(rng.integers(1, 4)), size=size, kernel=kernel, stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=bool(rng.integers(0, 2)))


def named(**settings):
    base = dict(batch=2, c_in=4, c_out=6, groups=1, stride=1, padding=0, dilation=1, bias=True)
    return {**base, **settings}


EDGE_CASES_1D = {
    "stride>kernel": named(size=(17,), kernel=(2,), stride=3),
    "dilation+padding": named(size=(9,), kernel=(3,), dilation=3, padding=2),
    "depthwise": named(c_in=4, c_out=4, groups=4, size=(10,), kernel=(3,), padding=1),
    "depthwise-multiplier": named(c_in=3, c_out=6, groups=3, size=(8,), kernel=(4,), stride=2),
    "1x1": named(size=(7,), kernel=(1,)),
    "1x1-padded": named(size=(5,), kernel=(1,), padding=2, stride=2),
    "batch1-nobias": named(batch=1, size=(12,), kernel=(5,), stride=2, padding=1, bias=False),
    "same-even-kernel": named(size=(11,), kernel=(4,), dilation=1, padding="same"),
    "same-dilated": named(size=(11,), kernel=(3,), dilation=3, padding="same"),
    "valid": named(size=(9,), kernel=(3,), padding="valid"),
    "output-length-1": named(size=(5,), kernel=(3,), dilation=2),
    "stride-skips-tail": named(size=(12,), kernel=(3,), stride=4),
}
EDGE_CASES_2D = {
    "stride>kernel": named(size=(9, 11), kernel=(2, 2), stride=3),
    "dilation+padding": named(size=(8, 9), kernel=(3, 3), dilation=2, padding=2),
    "depthwise": named(c_in=4, c_out=4, groups=4, size=(7, 6), kernel=(3, 3), padding=1),
    "1x1": named(size=(5, 6), kernel=(1, 1)),
    "batch1": named(batch=1, size=(6, 6), kernel=(3, 3), padding=1),
    "non-square": named(size=(10, 13), kernel=(1, 4), stride=(2, 1), dilation=(3, 1), padding=(0, 2)),
    "non-square-2": named(size=(7, 12), kernel=(3, 2), stride=(1, 3), dilation=(1, 2), padding=(1, 0), groups=2),
    "same-non-square": named(size=(6, 9), kernel=(2, 5), dilation=(3, 1), padding="same", bias=False),
    "spectrogram-like": named(batch=2, c_in=1, c_out=4, size=(40, 21), kernel=(3, 3), padding=1),
}
SWEEP_1D = {f"random-{i}": random_conv(np.random.default_rng(100 + i), 1) for i in range(20)}
SWEEP_2D = {f"random-{i}": random_conv(np.random.default_rng(200 + i), 2) for i in range(20)}


def conv_problem(n, config, seed):
    rng = np.random.default_rng(seed)
    c = config
    x = rng.standard_normal((c["batch"], c["c_in"], *c["size"]))
    weight = rng.standard_normal((c["c_out"], c["c_in"] // c["groups"], *c["kernel"]))
    bias = rng.standard_normal(c["c_out"]) if c["bias"] else None
    return x, weight, bias, rng


@pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")  # torch's note on even kernels
@pytest.mark.parametrize("n, config", [(1, c) for c in {**EDGE_CASES_1D, **SWEEP_1D}.values()]
                         + [(2, c) for c in {**EDGE_CASES_2D, **SWEEP_2D}.values()],
                         ids=[f"1d-{k}" for k in {**EDGE_CASES_1D, **SWEEP_1D}]
                         + [f"2d-{k}" for k in {**EDGE_CASES_2D, **SWEEP_2D}])
def test_conv_forward_and_backward_equal_torch(n, config):
    x, weight, bias, rng = conv_problem(n, config, seed=len(str(config)))
    ours_forward, ours_backward = (conv.conv1d, conv.conv1d_backward) if n == 1 else (conv.conv2d, conv.conv2d_backward)
    torch_forward = F.conv1d if n == 1 else F.conv2d
    args = dict(stride=config["stride"], padding=config["padding"], dilation=config["dilation"],
                groups=config["groups"])
    y, cache = ours_forward(x, weight, bias, **args, return_cache=True)
    G = rng.standard_normal(y.shape)
    d_x, d_weight, d_bias = ours_backward(G, cache)

    x_t, w_t = tt(x, True), tt(weight, True)
    b_t = tt(bias, True) if bias is not None else None
    y_t = torch_forward(x_t, w_t, b_t, **args)
    (y_t * tt(G)).sum().backward()
    close(y, y_t)
    close(d_x, x_t.grad)
    close(d_weight, w_t.grad)
    if bias is None:
        assert d_bias is None
    else:
        close(d_bias, b_t.grad)


def test_conv_accepts_pairs_lists_and_integer_arrays():
    x = np.arange(2 * 3 * 6 * 7).reshape(2, 3, 6, 7)  # integers become float64
    weight = np.ones((4, 3, 2, 3))
    y = conv.conv2d(x, weight, stride=[2, 1], padding=(1, 0), dilation=(1, 2))
    reference = F.conv2d(tt(x), tt(weight), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    assert y.dtype == np.float64
    close(y, reference)


def test_conv_keeps_float32():
    rng = np.random.default_rng(0)
    x, weight = rng.standard_normal((2, 3, 9)).astype(np.float32), rng.standard_normal((4, 3, 3)).astype(np.float32)
    y, cache = conv.conv1d(x, weight, padding=1, return_cache=True)
    d_x, d_weight, _ = conv.conv1d_backward(np.ones_like(y), cache)
    assert y.dtype == d_x.dtype == d_weight.dtype == np.float32
    np.testing.assert_allclose(y, F.conv1d(torch.from_numpy(x), torch.from_numpy(weight), padding=1).numpy(),
                               rtol=1e-5, atol=1e-5)


# --------------------------------------------------------------------------- transposed convolution


def random_transpose(rng, n):
    groups = int(rng.choice([1, 2]))
    kernel = tuple(int(k) for k in rng.integers(1, 5, n))
    stride = tuple(int(s) for s in rng.integers(1, 4, n))
    dilation = tuple(int(d) for d in rng.integers(1, 3, n))
    padding = tuple(int(p) for p in rng.integers(0, 3, n))
    output_padding = tuple(int(rng.integers(0, max(s, d))) for s, d in zip(stride, dilation))
    size = tuple(int(rng.integers(1, 6)) for _ in range(n))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(max(L, (2 * p - k - op) // s + 2)  # at least one output sample
                 for L, p, k, op, s in zip(size, padding, span, output_padding, stride))
    return dict(batch=int(rng.integers(1, 3)), c_in=groups * int(rng.integers(1, 3)),
                c_out=groups * int(rng.integers(1, 3)), size=size, kernel=kernel, stride=stride, padding=padding,
                output_padding=output_padding, dilation=dilation, groups=groups, bias=bool(rng.integers(0, 2)))


TRANSPOSE_CASES = ([(1, random_transpose(np.random.default_rng(300 + i), 1)) for i in range(16)]
                   + [(2, random_transpose(np.random.default_rng(400 + i), 2)) for i in range(10)]
                   + [(1, dict(batch=2, c_in=4, c_out=3, size=(10,), kernel=(8,), stride=(4,), padding=(2,),
                               output_padding=(0,), dilation=(1,), groups=1, bias=True))])  # a 4x upsampler


@pytest.mark.parametrize("n, config", TRANSPOSE_CASES, ids=[f"{n}d-{i}" for i, (n, _) in enumerate(TRANSPOSE_CASES)])
def test_conv_transpose_forward_and_backward_equal_torch(n, config):
    rng = np.random.default_rng(7)
    c = config
    x = rng.standard_normal((c["batch"], c["c_in"], *c["size"]))
    weight = rng.standard_normal((c["c_in"], c["c_out"] // c["groups"], *c["kernel"]))
    bias = rng.standard_normal(c["c_out"]) if c["bias"] else None
    args = dict(stride=c["stride"], padding=c["padding"], output_padding=c["output_padding"], groups=c["groups"],
                dilation=c["dilation"])
    forward, backward = ((conv.conv_transpose1d, conv.conv_transpose1d_backward) if n == 1
                         else (conv.conv_transpose2d, conv.conv_transpose2d_backward))
    y, cache = forward(x, weight, bias, **args, return_cache=True)
    G = rng.standard_normal(y.shape)
    d_x, d_weight, d_bias = backward(G, cache)

    x_t, w_t = tt(x, True), tt(weight, True)
    b_t = tt(bias, True) if bias is not None else None
    y_t = (F.conv_transpose1d if n == 1 else F.conv_transpose2d)(x_t, w_t, b_t, **args)
    (y_t * tt(G)).sum().backward()
    close(y, y_t)
    close(d_x, x_t.grad)
    close(d_weight, w_t.grad)
    if bias is None:
        assert d_bias is None
    else:
        close(d_bias, b_t.grad)


# --------------------------------------------------------------------------- pooling


def random_pool(rng):
    kernel = tuple(int(k) for k in rng.integers(1, 5, 2))
    stride = tuple(int(s) for s in rng.integers(1, 5, 2)) if rng.integers(0, 3) else None
    padding = tuple(int(rng.integers(0, k // 2 + 1)) for k in kernel)
    dilation = tuple(int(d) for d in rng.integers(1, 3, 2))
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = tuple(max(s - 2 * p, 1) + int(rng.integers(0, 6)) for s, p in zip(span, padding))
    return dict(size=size, kernel_size=kernel, stride=stride, padding=padding, dilation=dilation,
                ceil_mode=bool(rng.integers(0, 2)))


POOL_CASES = [random_pool(np.random.default_rng(500 + i)) for i in range(30)] + [
    dict(size=(7, 9), kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True),  # ResNet's stem pool
    dict(size=(13, 13), kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=True),  # SqueezeNet's
    dict(size=(6, 8), kernel_size=2, stride=None, padding=0, dilation=1, ceil_mode=False),
]


@pytest.mark.parametrize("config", POOL_CASES, ids=[f"pool-{i}" for i in range(len(POOL_CASES))])
def test_max_pool2d_equals_torch_with_ties(config):
    rng = np.random.default_rng(11)
    x = rng.integers(0, 3, size=(2, 3, *config["size"])).astype(np.float64)  # many ties
    args = {k: v for k, v in config.items() if k != "size"}
    y, cache = conv.max_pool2d(x, **args, return_cache=True)
    G = rng.standard_normal(y.shape)
    d_x = conv.max_pool2d_backward(G, cache)
    x_t = tt(x, True)
    y_t, indices = F.max_pool2d(x_t, **args, return_indices=True)
    (y_t * tt(G)).sum().backward()
    close(y, y_t)
    np.testing.assert_array_equal(cache["indices"], indices.numpy())
    close(d_x, x_t.grad)


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("config", POOL_CASES, ids=[f"pool-{i}" for i in range(len(POOL_CASES))])
def test_avg_pool2d_equals_torch(config, count_include_pad):
    rng = np.random.default_rng(12)
    x = rng.standard_normal((2, 3, *config["size"]))
    args = {k: v for k, v in config.items() if k not in ("size", "dilation")}  # torch's avg_pool2d has none
    y, cache = conv.avg_pool2d(x, **args, count_include_pad=count_include_pad, return_cache=True)
    G = rng.standard_normal(y.shape)
    d_x = conv.avg_pool2d_backward(G, cache)
    x_t = tt(x, True)
    y_t = F.avg_pool2d(x_t, **args, count_include_pad=count_include_pad)
    (y_t * tt(G)).sum().backward()
    close(y, y_t)
    close(d_x, x_t.grad)


# --------------------------------------------------------------------------- batch norm


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 7), (3, 2, 5, 4), (2, 1, 3, 3)], ids=str)
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("affine", [True, False], ids=["affine", "plain"])
def test_batch_norm_forward_and_backward_equal_torch(shape, training, affine):
    rng = np.random.default_rng(13)
    channels = shape[1]
    x = 2.0 + 3.0 * rng.standard_normal(shape)
    mean, var = rng.standard_normal(channels), rng.uniform(0.5, 2.0, channels)
    weight, bias = (rng.standard_normal(channels), rng.standard_normal(channels)) if affine else (None, None)
    G = rng.standard_normal(shape)
    running = (mean.copy(), var.copy())
    y, cache = conv.batch_norm(x, *running, weight, bias, training=training, momentum=0.3, eps=1e-3,
                               return_cache=True)
    d_x, d_weight, d_bias = conv.batch_norm_backward(G, cache)

    x_t = tt(x, True)
    w_t, b_t = (tt(weight, True), tt(bias, True)) if affine else (None, None)
    running_t = (tt(mean), tt(var))
    y_t = F.batch_norm(x_t, *running_t, w_t, b_t, training=training, momentum=0.3, eps=1e-3)
    (y_t * tt(G)).sum().backward()
    close(y, y_t)
    close(d_x, x_t.grad)
    close(running[0], running_t[0])
    close(running[1], running_t[1])
    if affine:
        close(d_weight, w_t.grad)
        close(d_bias, b_t.grad)
    else:
        assert d_weight is None and d_bias is None


@pytest.mark.parametrize("shape, module", [((6, 4), torch.nn.BatchNorm1d), ((5, 4, 9), torch.nn.BatchNorm1d),
                                           ((3, 4, 6, 5), torch.nn.BatchNorm2d)], ids=["NC", "NCL", "NCHW"])
@pytest.mark.parametrize("momentum", [0.1, 0.5, 1.0])
def test_batch_norm_running_statistics_follow_torch_modules(shape, module, momentum):
    rng = np.random.default_rng(14)
    channels = shape[1]
    bn = module(channels, momentum=momentum, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(tt(rng.standard_normal(channels)))
        bn.bias.copy_(tt(rng.standard_normal(channels)))
    weight, bias = bn.weight.detach().numpy().copy(), bn.bias.detach().numpy().copy()
    running_mean, running_var = np.zeros(channels), np.ones(channels)  # torch's initial values
    bn.train()
    for step in range(5):
        x = step - 1.0 + (1.0 + step) * rng.standard_normal(shape)
        close(conv.batch_norm(x, running_mean, running_var, weight, bias, training=True, momentum=momentum),
              bn(tt(x)))
        close(running_mean, bn.running_mean)
        close(running_var, bn.running_var)
    bn.eval()
    x = rng.standard_normal(shape)
    close(conv.batch_norm(x, running_mean, running_var, weight, bias), bn(tt(x)))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), ndim=st.integers(2, 4), scale=st.floats(1e-2, 1e3))
def test_batch_norm_in_training_standardises_each_channel(seed, ndim, scale):
    rng = np.random.default_rng(seed)
    shape = (4, 3, 5, 2)[:ndim]
    x = 7.0 + scale * rng.standard_normal(shape)
    y = conv.batch_norm(x, None, None, training=True, eps=0.0)
    axes = (0, *range(2, ndim))
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-9)
    np.testing.assert_allclose(y.var(axis=axes), 1.0, rtol=1e-9)


# --------------------------------------------------------------------------- laws


conv1d_settings = st.fixed_dictionaries(dict(
    kernel=st.integers(1, 5), stride=st.integers(1, 4), padding=st.integers(0, 4), dilation=st.integers(1, 3),
    groups=st.sampled_from([1, 2]), extra=st.integers(0, 9), seed=st.integers(0, 2**32 - 1)))


def conv1d_problem(s):
    rng = np.random.default_rng(s["seed"])
    span = s["dilation"] * (s["kernel"] - 1) + 1
    length = max(span - 2 * s["padding"], 1) + s["extra"]
    x = rng.standard_normal((2, 2 * s["groups"], length))
    weight = rng.standard_normal((3 * s["groups"], 2, s["kernel"]))
    args = dict(stride=s["stride"], padding=s["padding"], dilation=s["dilation"], groups=s["groups"])
    return rng, x, weight, args


@settings(max_examples=40, deadline=None)
@given(s=conv1d_settings, a=st.floats(-3, 3), b=st.floats(-3, 3))
def test_conv1d_is_linear_in_x(s, a, b):
    rng, x, weight, args = conv1d_problem(s)
    x2 = rng.standard_normal(x.shape)
    combined = conv.conv1d(a * x + b * x2, weight, **args)
    separate = a * conv.conv1d(x, weight, **args) + b * conv.conv1d(x2, weight, **args)
    np.testing.assert_allclose(combined, separate, rtol=1e-9, atol=1e-9 * (1 + np.abs(separate).max()))


@settings(max_examples=30, deadline=None)
@given(kernel=st.lists(st.floats(-5, 5), min_size=1, max_size=7), where=st.integers(0, 20))
def test_an_impulse_returns_the_kernel_reversed_and_numpy_convolve_flips_it(kernel, where):
    h = np.array(kernel)
    K = len(h)
    x = np.zeros(21 + 2 * (K - 1))
    x[K - 1 + where] = 1.0
    y = conv.conv1d(x[None, None], h[None, None])[0, 0]  # length 21: every position where the impulse is seen
    expected = np.zeros(len(y))
    expected[where: where + K] = h[::-1]
    np.testing.assert_array_equal(y, expected)
    signal = np.random.default_rng(where).standard_normal(30)
    np.testing.assert_allclose(conv.conv1d(signal[None, None], h[::-1][None, None].copy())[0, 0],
                               np.convolve(signal, h, mode="valid"), rtol=1e-12, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(s=conv1d_settings)
def test_conv1d_and_conv_transpose1d_are_adjoint(s):
    rng, x, weight, args = conv1d_problem(s)
    y = rng.standard_normal(conv.conv1d(x, weight, **args).shape)
    span = s["dilation"] * (s["kernel"] - 1) + 1
    output_padding = (x.shape[-1] + 2 * s["padding"] - span) % s["stride"]  # the input length conv1d came from
    back = conv.conv_transpose1d(y, weight, stride=s["stride"], padding=s["padding"], output_padding=output_padding,
                                 groups=s["groups"], dilation=s["dilation"])
    assert back.shape == x.shape
    lhs, rhs = np.vdot(conv.conv1d(x, weight, **args), y), np.vdot(x, back)
    np.testing.assert_allclose(lhs, rhs, rtol=1e-10, atol=1e-10 * np.abs(x).sum() * np.abs(weight).sum())
    # and the input gradient of conv1d is exactly that transposed convolution
    _, cache = conv.conv1d(x, weight, **args, return_cache=True)
    np.testing.assert_allclose(conv.conv1d_backward(y, cache)[0], back, rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kernel=st.tuples(st.integers(1, 3), st.integers(1, 4)),
       stride=st.tuples(st.integers(1, 3), st.integers(1, 3)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_conv2d_and_conv_transpose2d_are_adjoint(seed, kernel, stride, padding, dilation):
    rng = np.random.default_rng(seed)
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    size = [max(k - 2 * p, 1) + int(rng.integers(0, 6)) for k, p in zip(span, padding)]
    x = rng.standard_normal((2, 3, *size))
    weight = rng.standard_normal((4, 3, *kernel))
    y = rng.standard_normal(conv.conv2d(x, weight, None, stride, padding, dilation).shape)
    output_padding = tuple((L + 2 * p - k) % s for L, p, k, s in zip(size, padding, span, stride))
    back = conv.conv_transpose2d(y, weight, None, stride, padding, output_padding, 1, dilation)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.vdot(conv.conv2d(x, weight, None, stride, padding, dilation), y), np.vdot(x, back),
                               rtol=1e-10, atol=1e-10 * np.abs(x).sum() * np.abs(weight).sum())


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kernel=st.integers(1, 5), dilation=st.integers(1, 3), data=st.data())
def test_a_stride_1_transposed_convolution_is_a_correlation_with_the_flipped_kernel(seed, kernel, dilation, data):
    padding = data.draw(st.integers(0, dilation * (kernel - 1)))
    rng = np.random.default_rng(seed)
    y = rng.standard_normal((2, 3, 16))  # long enough for the largest padding, 2 * 12 < 16 + 12
    weight = rng.standard_normal((3, 4, kernel))  # (C_in, C_out, K) of the transposed convolution
    flipped = np.ascontiguousarray(weight[:, :, ::-1].swapaxes(0, 1))  # (C_out, C_in, K), taps reversed
    np.testing.assert_allclose(conv.conv_transpose1d(y, weight, padding=padding, dilation=dilation),
                               conv.conv1d(y, flipped, padding=dilation * (kernel - 1) - padding, dilation=dilation),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), kernel=st.integers(1, 4), stride=st.integers(1, 4), data=st.data())
def test_pooling_gradients_conserve_the_upstream_sum(seed, kernel, stride, data):
    padding = data.draw(st.integers(0, kernel // 2))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 2, 9, 7))
    y, cache = conv.max_pool2d(x, kernel, stride, padding, return_cache=True)
    G = rng.standard_normal(y.shape)
    np.testing.assert_allclose(conv.max_pool2d_backward(G, cache).sum(), G.sum(), rtol=1e-12, atol=1e-12)
    y, cache = conv.avg_pool2d(x, kernel, stride, padding, count_include_pad=False, return_cache=True)
    G = rng.standard_normal(y.shape)
    np.testing.assert_allclose(conv.avg_pool2d_backward(G, cache).sum(), G.sum(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- receptive fields


def test_receptive_field_by_hand():
    assert conv.receptive_field([]) == conv.ReceptiveField(1, 1, 0.0)
    assert conv.receptive_field([conv.Layer(3, padding=1)] * 3) == (7, 1, 0.0)
    assert conv.receptive_field([conv.Layer(3)] * 3) == (7, 1, 3.0)  # no padding: unit 0 is centred on input 3
    # AlexNet's first layers along one axis: conv 11/4 pad 2, max pool 3/2, conv 5 pad 2 (51), max pool 3/2 (67)
    assert conv.receptive_field([(11, 4, 2), (3, 2), (5, 1, 2)]) == (51, 8, 7.0)
    assert conv.receptive_field([(11, 4, 2), (3, 2), (5, 1, 2), (3, 2)]) == (67, 16, 15.0)
    assert conv.receptive_field([(2, 2)] * 4) == (16, 16, 7.5)  # a 2x2 pooling pyramid tiles the input
    rf = conv.receptive_field([conv.Layer((3, 1), stride=(1, 2)), (1, 1)])
    assert rf == conv.ReceptiveField((3, 1), (1, 2), (1.0, 0.0))


@settings(max_examples=20, deadline=None)
@given(kernel=st.integers(1, 4), dilations=st.lists(st.integers(1, 16), max_size=8))
def test_receptive_field_of_causal_stacks_is_the_wavenet_formula(kernel, dilations):
    layers = [conv.Layer(kernel, dilation=d, padding=d * (kernel - 1)) for d in dilations]
    assert conv.receptive_field(layers).size == model_layers.receptive_field(kernel, dilations)


def measured_fields(modules, shape):
    """First and last input index (per axis) with a non-zero gradient, for every output unit (None: padding only).

    The stack of ones-kernels is linear, so feeding every one-hot input as a batch gives the Jacobian.
    """
    n_in = int(np.prod(shape))
    with torch.no_grad():
        y = torch.nn.Sequential(*modules)(torch.eye(n_in, dtype=torch.float64).reshape(n_in, 1, *shape))
    jacobian = y[:, 0].reshape(*shape, *y.shape[2:]).numpy()  # [input position..., output position...]
    out_shape = y.shape[2:]
    fields = {}
    for unit in np.ndindex(*out_shape):
        seen = np.nonzero(jacobian[(..., *unit)] != 0)
        fields[unit] = tuple((int(axis.min()), int(axis.max())) for axis in seen) if seen[0].size else None
    return fields, out_shape


def ones_conv(n, kernel, stride, padding, dilation):
    module = (torch.nn.Conv1d if n == 1 else torch.nn.Conv2d)(1, 1, kernel, stride, padding, dilation, bias=False,
                                                             dtype=torch.float64)
    torch.nn.init.ones_(module.weight)
    return module


def check_predicted_fields(rf, fields, shape):
    size, jump, start = (rf.size, rf.jump, rf.start) if isinstance(rf.size, tuple) else \
        ((rf.size,), (rf.jump,), (rf.start,))
    inside = 0
    for unit, measured in fields.items():
        predicted = [(st_ + u * j - (r - 1) / 2, st_ + u * j + (r - 1) / 2)
                     for u, st_, j, r in zip(unit, start, jump, size)]
        if all(lo >= 0 and hi <= L - 1 for (lo, hi), L in zip(predicted, shape)):
            inside += 1
            assert measured == tuple((int(lo), int(hi)) for lo, hi in predicted), (unit, measured, predicted)
    assert inside >= 2, "the test input was too small to hold two whole fields"


layer_strategy = st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(0, 3), st.integers(1, 3))


@settings(max_examples=25, deadline=None)
@given(stack=st.lists(layer_strategy, min_size=1, max_size=4))
def test_receptive_field_equals_the_one_measured_from_torch_gradients(stack):
    rf = conv.receptive_field(stack)
    length = 2 * rf.size + 3 * rf.jump + 2 * sum(p for _, _, p, _ in stack) + 2
    modules = [ones_conv(1, *layer) for layer in stack]
    fields, _ = measured_fields(modules, (length,))
    check_predicted_fields(rf, fields, (length,))


def test_receptive_field_of_a_2d_stack_with_pooling_and_torch_modules():
    modules = [ones_conv(2, (3, 5), (1, 2), (1, 2), 1), torch.nn.AvgPool2d(2, 2),
               ones_conv(2, 3, 1, (2, 0), (2, 1)), torch.nn.AvgPool2d((3, 2), (2, 1), (1, 0))]
    rf = conv.receptive_field(modules)  # read from the modules themselves
    assert rf == conv.receptive_field([conv.Layer((3, 5), (1, 2), (1, 2)), conv.Layer(2, 2),
                                       conv.Layer(3, 1, (2, 0), (2, 1)), conv.Layer((3, 2), (2, 1), (1, 0))])
    shape = (33, 45)
    fields, _ = measured_fields(modules, shape)
    check_predicted_fields(rf, fields, shape)


def test_receptive_field_reads_same_and_valid_padding_from_modules():
    same = torch.nn.Conv1d(1, 1, 4, padding="same", dilation=2)
    assert conv.receptive_field([same]) == conv.receptive_field([conv.Layer(4, padding=3, dilation=2)])
    assert conv.receptive_field([torch.nn.Conv2d(1, 1, (3, 5), padding="valid")]) == ((3, 5), (1, 1), (1.0, 2.0))


# --------------------------------------------------------------------------- bad input


X1, W1, WT1 = np.zeros((2, 4, 10)), np.zeros((6, 4, 3)), np.zeros((4, 2, 3))
X2, W2 = np.zeros((2, 4, 6, 6)), np.zeros((6, 4, 3, 3))
_, CONV_CACHE = conv.conv1d(X1, W1, return_cache=True)
_, POOL_CACHE = conv.max_pool2d(X2, 2, return_cache=True)

BAD = {
    "x-list": (lambda: conv.conv1d(X1.tolist(), W1), TypeError, "x must be a numpy array"),
    "x-complex": (lambda: conv.conv1d(X1 + 0j, W1), TypeError, "x must hold real numbers"),
    "x-ndim-1d": (lambda: conv.conv1d(X1[0], W1), ValueError, "x must be 3-D"),
    "x-ndim-2d": (lambda: conv.conv2d(X1, W2), ValueError, "x must be 4-D"),
    "weight-ndim": (lambda: conv.conv2d(X2, W1), ValueError, "weight must be 4-D"),
    "channel-mismatch": (lambda: conv.conv1d(X1, np.zeros((6, 3, 3))), ValueError, r"weight\.shape\[1\]"),
    "groups-c-in": (lambda: conv.conv1d(np.zeros((1, 5, 8)), np.zeros((4, 2, 3)), groups=2), ValueError, "groups"),
    "groups-c-out": (lambda: conv.conv1d(X1, np.zeros((3, 2, 3)), groups=2), ValueError, "groups"),
    "groups-zero": (lambda: conv.conv1d(X1, W1, groups=0), ValueError, "groups"),
    "too-short": (lambda: conv.conv1d(np.zeros((1, 4, 4)), W1, dilation=2), ValueError, "x's spatial size"),
    "too-short-2d": (lambda: conv.conv2d(np.zeros((1, 4, 6, 2)), W2, padding=(1, 0)), ValueError,
                     "x's spatial size"),
    "negative-padding": (lambda: conv.conv1d(X1, W1, padding=-1), ValueError, "padding"),
    "padding-word": (lambda: conv.conv1d(X1, W1, padding="full"), ValueError, "padding"),
    "same-strided": (lambda: conv.conv1d(X1, W1, stride=2, padding="same"), ValueError, "padding='same'"),
    "stride-zero": (lambda: conv.conv2d(X2, W2, stride=(1, 0)), ValueError, "stride"),
    "stride-float": (lambda: conv.conv1d(X1, W1, stride=1.5), TypeError, "stride"),
    "stride-triple": (lambda: conv.conv2d(X2, W2, stride=(1, 1, 1)), TypeError, "stride"),
    "dilation-zero": (lambda: conv.conv1d(X1, W1, dilation=0), ValueError, "dilation"),
    "bias-shape": (lambda: conv.conv1d(X1, W1, np.zeros(5)), ValueError, "bias"),
    "backward-cache": (lambda: conv.conv2d_backward(np.zeros((2, 6, 8)), CONV_CACHE), TypeError, "cache"),
    "backward-shape": (lambda: conv.conv1d_backward(np.zeros((2, 6, 9)), CONV_CACHE), ValueError, "d_out"),
    "transpose-channels": (lambda: conv.conv_transpose1d(X1, np.zeros((3, 2, 3))), ValueError, r"weight\.shape\[0\]"),
    "transpose-output-padding": (lambda: conv.conv_transpose1d(X1, WT1, stride=2, output_padding=2), ValueError,
                                 "output_padding"),
    "transpose-no-output": (lambda: conv.conv_transpose1d(np.zeros((1, 4, 1)), np.zeros((4, 1, 1)), padding=1),
                            ValueError, "padding"),
    "transpose-negative-padding": (lambda: conv.conv_transpose1d(X1, WT1, padding=-1), ValueError, "padding"),
    "pool-ndim": (lambda: conv.max_pool2d(X1, 2), ValueError, "x must be 4-D"),
    "pool-padding": (lambda: conv.max_pool2d(X2, 2, padding=2), ValueError, "padding"),
    "pool-negative-padding": (lambda: conv.avg_pool2d(X2, 3, padding=-1), ValueError, "padding"),
    "pool-stride": (lambda: conv.avg_pool2d(X2, 2, stride=0), ValueError, "stride"),
    "pool-too-big": (lambda: conv.max_pool2d(X2, 7), ValueError, "x's spatial size"),
    "pool-ceil-mode": (lambda: conv.avg_pool2d(X2, 2, ceil_mode="yes"), TypeError, "ceil_mode"),
    "pool-cache": (lambda: conv.avg_pool2d_backward(np.zeros((2, 4, 3, 3)), POOL_CACHE), TypeError, "cache"),
    "bn-ndim": (lambda: conv.batch_norm(np.zeros(4), None, None, training=True), ValueError, "x must be"),
    "bn-eval-without-stats": (lambda: conv.batch_norm(np.zeros((4, 2)), None, None), ValueError, "running_mean"),
    "bn-one-value": (lambda: conv.batch_norm(np.zeros((1, 2)), None, None, training=True), ValueError,
                     "more than 1"),
    "bn-weight-shape": (lambda: conv.batch_norm(np.zeros((4, 2)), None, None, np.ones(3), training=True),
                        ValueError, "weight"),
    "bn-momentum": (lambda: conv.batch_norm(np.zeros((4, 2)), None, None, training=True, momentum=1.5),
                    ValueError, "momentum"),
    "bn-momentum-none": (lambda: conv.batch_norm(np.zeros((4, 2)), None, None, training=True, momentum=None),
                         TypeError, "momentum"),
    "bn-eps": (lambda: conv.batch_norm(np.zeros((4, 2)), None, None, training=True, eps=-1.0), ValueError, "eps"),
    "bn-training": (lambda: conv.batch_norm(np.zeros((4, 2)), np.zeros(2), np.ones(2), training="yes"), TypeError,
                    "training"),
    "rf-entry": (lambda: conv.receptive_field([3]), TypeError, r"layers\[0\]"),
    "rf-kernel": (lambda: conv.receptive_field([(0,)]), ValueError, r"layers\[0\]\.kernel"),
    "rf-padding": (lambda: conv.receptive_field([(3, 1, 1), (3, 1, -1)]), ValueError, r"layers\[1\]\.padding"),
    "rf-not-a-list": (lambda: conv.receptive_field(3), TypeError, "layers"),
}


@pytest.mark.parametrize("call, error, message", BAD.values(), ids=BAD.keys())
def test_bad_input_names_the_argument(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_running_statistics_that_cannot_be_updated_in_place_are_refused():
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="running_mean"):
        conv.batch_norm(np.zeros((4, 2)), frozen, np.ones(2), training=True)
    with pytest.raises(TypeError, match="running_var"):  # an integer copy would be updated, not the caller's array
        conv.batch_norm(np.zeros((4, 2)), np.zeros(2), np.ones(2, dtype=int), training=True)
    evaluated = conv.batch_norm(np.ones((4, 2)), frozen, np.ones(2, dtype=int))  # evaluation only reads them
    np.testing.assert_array_equal(evaluated, 1.0 / np.sqrt(1 + 1e-5))

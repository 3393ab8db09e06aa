r"""Convolution, pooling and batch normalisation in NumPy, forward and backward; receptive fields.

What deep learning calls a *convolution* is a **cross-correlation**: the kernel
slides over the input *without being flipped*. For one input channel, stride 1
and no padding,

.. math:: y[t] = \sum_{k=0}^{K-1} w[k] \, x[t + k],

whereas the convolution of signal processing (Chapter 1's filters,
:func:`numpy.convolve`) flips the kernel first,

.. math:: (x * h)[t] = \sum_{k} h[k] \, x[t - k].

The two differ only by the order of the taps: a "convolution" layer with
kernel ``w`` computes the true convolution with the reversed kernel
``w[::-1]``, and :func:`numpy.convolve` ``(x, h, "valid")`` equals
``conv1d(x, h[::-1])``. For a network the difference does not matter (it
learns whichever taps it needs, flipped or not); it matters when a designed
filter is copied into a layer, or a layer's kernel is read as an impulse
response: the impulse response of :func:`conv1d` is its kernel *reversed*
(see its Examples).

The general layer of :func:`conv1d` (torch's ``Conv1d``), for batch item
:math:`n`, output channel :math:`o` and output position :math:`t`, with stride
:math:`s`, padding :math:`p` (zeros on both sides), dilation :math:`d` and
:math:`G` groups (output channel :math:`o` reads only the :math:`C_{in}/G`
input channels of its own group, :math:`c` counting within the group):

.. math:: y[n, o, t] = b[o] + \sum_{c=0}^{C_{in}/G - 1} \sum_{k=0}^{K-1}
          w[o, c, k] \, x[n, g(o) C_{in}/G + c, \; t s + k d - p],
          \qquad L_{out} = \left\lfloor \frac{L + 2p - d(K-1) - 1}{s} \right\rfloor + 1.

:func:`conv2d` is the same sum over two kernel axes. Implementation: the
padded input is seen through :func:`numpy.lib.stride_tricks.sliding_window_view`
(every window at once, no copy), the windows are laid out as columns (*im2col*,
one copy) and the whole layer is **one matrix product** of the weights,
``(C_out, C_in/G * K)``, with the columns, ``(C_in/G * K, L_out)``, per batch item
and group. No computation in the module loops in Python over positions,
channels or kernel taps.

The backward pass needs three things. The bias gradient sums the upstream
gradient :math:`\delta`; the weight gradient is the product of :math:`\delta`
with the same columns. The input gradient is a **transposed convolution**:
every input sample collects :math:`\delta` of each output whose window held
it, times the tap that read it. One matrix product, :math:`W^T \delta`, gives
every window's share for every tap, and *col2im* adds each column back where
its window was; the sum for one input sample runs along a diagonal of the
(tap, position) plane, so it is one strided view and one sum, again without a
loop. Equivalently, it is :math:`\delta` with :math:`s - 1` zeros inserted
between its samples, correlated with the *flipped* kernel (input and output
channels swapped): the backward pass of a convolution is a convolution.
:func:`conv_transpose1d` (the learned upsampler of Chapter 7) is exactly this
operation, and :func:`conv1d` and :func:`conv_transpose1d` are adjoint:
:math:`\langle \mathrm{conv}(x), y \rangle = \langle x, \mathrm{conv}^T(y) \rangle`.

Pooling slides the same windows over each channel alone, with a fixed rule
instead of learned weights: :func:`avg_pool2d` averages each window (a
convolution with a constant kernel), :func:`max_pool2d` keeps its largest
value and sends the gradient back to where that value was. :func:`batch_norm`
normalises each channel with the batch's statistics while training and with
running estimates at evaluation, exactly as ``torch.nn.BatchNorm1d/2d``.
:func:`receptive_field` says which input positions one output unit of a stack
of layers depends on.

Layouts and arguments follow ``torch.nn.functional``: ``x`` is
``(N, C_in, L)`` or ``(N, C_in, H, W)`` (batch, channels, then time, or
frequency and time for a spectrogram), ``weight`` is
``(C_out, C_in/groups, K)`` or ``(C_out, C_in/groups, K_H, K_W)``, and every
function here equals its torch counterpart in float64 (the tests check
1e-9 relative). Forward functions return the output, or ``(output, cache)``
with ``return_cache=True``; the matching ``*_backward(d_out, cache)`` returns
the gradients.

Chapter: ``notebooks/06a_convolution.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "conv1d",
    "conv1d_backward",
    "conv2d",
    "conv2d_backward",
    "conv_transpose1d",
    "conv_transpose1d_backward",
    "conv_transpose2d",
    "conv_transpose2d_backward",
    "max_pool2d",
    "max_pool2d_backward",
    "avg_pool2d",
    "avg_pool2d_backward",
    "batch_norm",
    "batch_norm_backward",
    "Layer",
    "ReceptiveField",
    "receptive_field",
]

_LAYOUT = {1: "(N, C, L)", 2: "(N, C, H, W)"}
_WEIGHT_LAYOUT = {1: "(C_out, C_in/groups, K)", 2: "(C_out, C_in/groups, K_H, K_W)"}


# --------------------------------------------------------------------------- input checks


def _array(value, name: str, ndim: int | None = None, layout: str = "") -> np.ndarray:
    """A real numeric array (integers become float64), of ``ndim`` dimensions when given."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if value.dtype == np.bool_ or not (np.issubdtype(value.dtype, np.floating)
                                       or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, shape {layout}, got shape {value.shape}")
    return value if np.issubdtype(value.dtype, np.floating) else value.astype(np.float64)


def _ints(value, n: int, name: str, minimum: int) -> tuple[int, ...]:
    """An int or a sequence of ``n`` ints, each >= ``minimum``, as an ``n``-tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(items) != n or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in items):
        raise TypeError(f"{name} must be an int or a sequence of {n} ints, got {value!r}")
    if any(v < minimum for v in items):
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(int(v) for v in items)


def _conv_padding(padding, n: int, kernel, dilation, stride) -> tuple[tuple[int, int], ...]:
    """``padding`` as ``(before, after)`` per axis: ints, or torch's ``"valid"`` and ``"same"``."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"padding='same' needs stride 1 (as in torch), got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)  # the odd sample goes after, as torch pads
        raise ValueError(f"padding must be an int, a sequence of ints, 'valid' or 'same', got {padding!r}")
    return tuple((p, p) for p in _ints(padding, n, "padding", 0))


def _span(kernel, dilation) -> tuple[int, ...]:
    """The dilated kernel's extent :math:`d(K-1)+1` per axis."""
    return tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))


def _conv_inputs(x, weight, bias, groups, n: int):
    """x, weight, bias checked against each other for a convolution with ``n`` spatial axes."""
    x = _array(x, "x", n + 2, _LAYOUT[n].replace("C", "C_in"))
    weight = _array(weight, "weight", n + 2, _WEIGHT_LAYOUT[n])
    groups = _ints(groups, 1, "groups", 1)[0]
    if x.shape[1] % groups:
        raise ValueError(f"groups={groups} must divide the input channels C_in = {x.shape[1]} (x.shape[1])")
    if weight.shape[0] % groups:
        raise ValueError(f"groups={groups} must divide the output channels C_out = {weight.shape[0]} "
                         "(weight.shape[0])")
    if weight.shape[1] * groups != x.shape[1]:
        raise ValueError(f"weight.shape[1] = {weight.shape[1]} input channels per group, times groups={groups}, "
                         f"must equal the channels of x, x.shape[1] = {x.shape[1]}")
    if bias is not None:
        bias = _array(bias, "bias", 1, "(C_out,)")
        if bias.shape != (weight.shape[0],):
            raise ValueError(f"bias must have shape (C_out,) = ({weight.shape[0]},), got {bias.shape}")
    return x, weight, bias, groups


def _upstream(d_out, shape: tuple, name: str = "d_out") -> np.ndarray:
    d_out = _array(d_out, name)
    if d_out.shape != tuple(shape):
        raise ValueError(f"{name} must have the output's shape {tuple(shape)}, got {d_out.shape}")
    return d_out


# --------------------------------------------------------------------------- the machinery


def _pad(x: np.ndarray, pads, value: float = 0.0) -> np.ndarray:
    """``x`` padded on its trailing axes by ``(before, after)`` each; negative amounts crop instead."""
    n = len(pads)
    crop = tuple(slice(max(-b, 0), x.shape[x.ndim - n + i] - max(-a, 0)) for i, (b, a) in enumerate(pads))
    x = x[(..., *crop)]
    if all(b <= 0 and a <= 0 for b, a in pads):
        return x
    shape = x.shape[:-n] + tuple(size + max(b, 0) + max(a, 0) for size, (b, a) in zip(x.shape[-n:], pads))
    out = np.full(shape, value, dtype=x.dtype)
    out[(..., *(slice(max(b, 0), max(b, 0) + size) for size, (b, _) in zip(x.shape[-n:], pads)))] = x
    return out


def _windows(xp: np.ndarray, kernel, stride, dilation, out_size) -> np.ndarray:
    """The view ``(N, C, *out_size, *kernel)`` with ``[..., t, k] = xp[..., t s + k d]`` per axis (no copy)."""
    n = len(kernel)
    view = sliding_window_view(xp, _span(kernel, dilation), axis=tuple(range(-n, 0)))
    positions = tuple(slice(0, (o - 1) * s + 1, s) for o, s in zip(out_size, stride))
    taps = tuple(slice(None, None, d) for d in dilation)
    return view[(..., *positions, *taps)]


def _correlate(xp: np.ndarray, weight: np.ndarray, stride, dilation, groups: int, out_size):
    """Cross-correlate the padded input with the weights: im2col and one matrix product.

    Returns the output ``(N, C_out, *out_size)`` and the columns
    ``(N, groups, C_in/groups * K, P)``, ``P`` the number of output positions,
    which the weight gradient reuses.
    """
    n = len(out_size)
    batch, channels = xp.shape[:2]
    kernel = weight.shape[2:]
    win = _windows(xp, kernel, stride, dilation, out_size)  # (N, C, *out, *kernel), a view
    win = win.reshape(batch, groups, channels // groups, *win.shape[2:])
    order = (0, 1, 2, *range(3 + n, 3 + 2 * n), *range(3, 3 + n))  # kernel axes before position axes
    cols = win.transpose(order).reshape(batch, groups, -1, int(np.prod(out_size)))  # im2col: the one copy
    w = weight.reshape(groups, weight.shape[0] // groups, -1)  # (G, C_out/G, C_in/G * K)
    y = np.matmul(w, cols)  # (N, G, C_out/G, P): every position, channel and tap in one product
    return y.reshape(batch, weight.shape[0], *out_size), cols


def _weight_grad(cols: np.ndarray, d_out: np.ndarray, weight_shape) -> np.ndarray:
    """:math:`\\partial L/\\partial w[o, c, k] = \\sum_{n, t} \\delta[n, o, t] \\, x[n, c, t s + k d - p]`."""
    batch, groups = cols.shape[:2]
    delta = d_out.reshape(batch, groups, -1, cols.shape[-1])  # (N, G, C_out/G, P)
    return np.matmul(delta, cols.transpose(0, 1, 3, 2)).sum(axis=0).reshape(weight_shape)


def _col2im(cols: np.ndarray, stride, dilation, pad_before, out_size) -> np.ndarray:
    """Add every column back where its window was: the adjoint of im2col.

    ``cols`` is ``(N, C, *K, *P)``, tap ``k`` of output position ``t``. Returns
    ``out (N, C, *out_size)`` with ``out[t s + k d - p] += cols[k, t]``. Each
    input position ``i`` sums ``cols[k, (i + p - k d) / s]`` over the taps ``k``:
    a diagonal of the (tap, position) plane. With the columns spread ``s``
    apart (zeros between them) and shifted, those diagonals are one strided
    view, ``(N, C, *out_size, *K)``, and the scatter is one sum over its last
    axes. No loop, and no ``numpy.add.at``.
    """
    n = len(out_size)
    kernel, positions = cols.shape[2:2 + n], cols.shape[2 + n:]
    front = tuple(d * (k - 1) for k, d in zip(kernel, dilation))  # room for the last tap's shift
    spread = tuple((L - 1) * s + 1 for L, s in zip(positions, stride))
    length = tuple(max(o + p + f, f + u) for o, p, f, u in zip(out_size, pad_before, front, spread))
    z = np.zeros(cols.shape[:2 + n] + length, dtype=cols.dtype)
    z[(..., *(slice(f, f + u, s) for f, u, s in zip(front, spread, stride)))] = cols
    origin = z[(..., *(slice(p + f, None) for p, f in zip(pad_before, front)))]  # tap 0 of output position 0
    steps = z.strides[2 + n:]
    view = np.lib.stride_tricks.as_strided(  # view[..., i, k] = z[..., k, i + p + f - k d]
        origin, shape=cols.shape[:2] + tuple(out_size) + tuple(kernel),
        strides=z.strides[:2] + steps + tuple(z.strides[2 + a] - d * steps[a] for a, d in enumerate(dilation)),
        writeable=False)
    return view.sum(axis=tuple(range(-n, 0)))


def _transpose(y: np.ndarray, weight: np.ndarray, stride, dilation, groups: int, pad_before, out_size) -> np.ndarray:
    """The transposed correlation, the adjoint of :func:`_correlate` on an input padded by ``pad_before``.

    ``out[n, c, t s + k d - p] += y[n, o, t] w[o, c, k]``: one matrix product
    gives every column ``w^T y`` (what each output position sends to each tap
    of its window), :func:`_col2im` adds them back where the windows were.
    """
    batch, channels = y.shape[:2]
    # (G, C_in/G * K, C_out/G), contiguous: np.matmul with a transposed view would leave BLAS (4x slower)
    w_t = np.ascontiguousarray(weight.reshape(groups, channels // groups, -1).transpose(0, 2, 1))
    cols = np.matmul(w_t, y.reshape(batch, groups, channels // groups, -1))  # (N, G, C_in/G * K, P)
    cols = cols.reshape(batch, groups * weight.shape[1], *weight.shape[2:], *y.shape[2:])
    return _col2im(cols, stride, dilation, pad_before, out_size)


def _out_size(size, span, stride, pads) -> tuple[int, ...]:
    return tuple((L + b + a - k) // s + 1 for L, k, s, (b, a) in zip(size, span, stride, pads))


# --------------------------------------------------------------------------- convolution


def _conv(x, weight, bias, stride, padding, dilation, groups, n: int, return_cache: bool):
    x, weight, bias, groups = _conv_inputs(x, weight, bias, groups, n)
    stride = _ints(stride, n, "stride", 1)
    dilation = _ints(dilation, n, "dilation", 1)
    kernel = weight.shape[2:]
    pads = _conv_padding(padding, n, kernel, dilation, stride)
    span = _span(kernel, dilation)
    padded = tuple(L + b + a for L, (b, a) in zip(x.shape[2:], pads))
    if any(P < k for P, k in zip(padded, span)):
        raise ValueError(f"x's spatial size {x.shape[2:]} with padding {padding!r} is {padded}, smaller than "
                         f"the dilated kernel {span} = dilation * (kernel - 1) + 1 (weight {weight.shape}, "
                         f"dilation {dilation})")
    out_size = _out_size(x.shape[2:], span, stride, pads)
    dtype = np.result_type(x, weight, *(() if bias is None else (bias,)))
    xp = _pad(x.astype(dtype, copy=False), pads)
    y, cols = _correlate(xp, weight.astype(dtype, copy=False), stride, dilation, groups, out_size)
    if bias is not None:
        y += bias.reshape(-1, *(1,) * n)
    if not return_cache:
        return y
    cache = {"op": f"conv{n}d", "x_shape": x.shape, "weight": weight.astype(dtype, copy=False), "cols": cols,
             "has_bias": bias is not None, "stride": stride, "pads": pads, "dilation": dilation,
             "groups": groups, "y_shape": y.shape}
    return y, cache


def _conv_backward(d_out, cache: dict, op: str):
    if not isinstance(cache, dict) or cache.get("op") != op:
        raise TypeError(f"cache must be the cache returned by {op}(..., return_cache=True)")
    d_out = _upstream(d_out, cache["y_shape"])
    n = len(cache["stride"])
    weight = cache["weight"]
    d_out = d_out.astype(weight.dtype, copy=False)
    d_bias = d_out.sum(axis=(0, *range(2, 2 + n))) if cache["has_bias"] else None
    d_weight = _weight_grad(cache["cols"], d_out, weight.shape)
    d_x = _transpose(d_out, weight, cache["stride"], cache["dilation"], cache["groups"],
                     [b for b, _ in cache["pads"]], cache["x_shape"][2:])
    return d_x, d_weight, d_bias


def conv1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1, *, return_cache: bool = False):
    r"""1-D convolution layer (a cross-correlation), equal to ``torch.nn.functional.conv1d``.

    .. math:: y[n, o, t] = b[o] + \sum_{c} \sum_{k=0}^{K-1} w[o, c, k] \, x[n, c, t s + k d - p],
              \qquad L_{out} = \left\lfloor \frac{L + 2p - d(K-1) - 1}{s} \right\rfloor + 1,

    with :math:`x` zero outside :math:`0 \le i < L` and :math:`c` running over
    the input channels of output channel :math:`o`'s group.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, L)
        A batch of signals (one signal: ``x[None]``).
    weight : ndarray, shape (C_out, C_in / groups, K)
    bias : ndarray, shape (C_out,), optional
    stride : int, default 1
        :math:`s \ge 1`, the step between output positions.
    padding : int or {"valid", "same"}, default 0
        :math:`p \ge 0` zeros on each side; ``"same"`` pads :math:`d(K-1)` in
        all (the odd one after, as torch) so that :math:`L_{out} = L` (stride 1 only).
    dilation : int, default 1
        :math:`d \ge 1`, the step between kernel taps.
    groups : int, default 1
        :math:`G`, dividing ``C_in`` and ``C_out``; ``groups = C_in`` is a
        depthwise convolution.
    return_cache : bool, default False
        Also return what :func:`conv1d_backward` needs.

    Returns
    -------
    y : ndarray, shape (N, C_out, L_out)
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError
        An argument that is not a real array, or not an int.
    ValueError
        ``x`` or ``weight`` not 3-D; ``weight.shape[1] * groups != C_in``;
        ``groups`` not dividing ``C_in`` or ``C_out``; ``stride`` or
        ``dilation`` < 1; negative ``padding``; ``x`` (padded) shorter than
        the dilated kernel :math:`d(K-1)+1`.

    Examples
    --------
    The impulse response of a "convolution" layer is its kernel reversed
    (it is a cross-correlation):

    >>> x = np.array([[[0.0, 0.0, 1.0, 0.0, 0.0]]])
    >>> conv1d(x, np.array([[[1.0, 2.0, 3.0]]]), padding=1)
    array([[[0., 3., 2., 1., 0.]]])

    Stride 2 and dilation 2 with a bias:

    >>> conv1d(np.arange(8.0)[None, None], np.ones((1, 1, 2)), np.array([0.5]), stride=2, dilation=2)
    array([[[ 2.5,  6.5, 10.5]]])
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 1, return_cache)


def conv1d_backward(d_out: np.ndarray, cache: dict):
    r"""Gradients of :func:`conv1d` with respect to its input, weight and bias.

    With :math:`\delta = \partial L/\partial y`:

    .. math:: \frac{\partial L}{\partial b[o]} = \sum_{n,t} \delta[n,o,t], \qquad
              \frac{\partial L}{\partial w[o,c,k]} = \sum_{n,t} \delta[n,o,t]\, x[n,c,ts+kd-p], \qquad
              \frac{\partial L}{\partial x[n,c,i]} = \sum_{o} \sum_{k,t:\; ts+kd-p=i} \delta[n,o,t]\, w[o,c,k].

    The last sum is :func:`conv_transpose1d` of :math:`\delta` (zeros inserted
    between its samples, correlated with the flipped kernel), computed as
    :math:`W^T \delta` and col2im.

    Parameters
    ----------
    d_out : ndarray, shape (N, C_out, L_out)
        :math:`\partial L/\partial y`.
    cache : dict
        From ``conv1d(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, shape (N, C_in, L)
    d_weight : ndarray, shape (C_out, C_in / groups, K)
    d_bias : ndarray, shape (C_out,), or None when the layer had no bias

    Raises
    ------
    TypeError
        ``cache`` not from :func:`conv1d`.
    ValueError
        ``d_out`` not of the output's shape.

    Examples
    --------
    >>> x = np.array([[[1.0, 2.0, 3.0, 4.0]]])
    >>> y, cache = conv1d(x, np.array([[[1.0, -1.0]]]), np.zeros(1), return_cache=True)
    >>> d_x, d_weight, d_bias = conv1d_backward(np.ones_like(y), cache)
    >>> d_x, d_weight, d_bias
    (array([[[ 1.,  0.,  0., -1.]]]), array([[[6., 9.]]]), array([3.]))
    """
    return _conv_backward(d_out, cache, "conv1d")


def conv2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1, *, return_cache: bool = False):
    r"""2-D convolution layer (a cross-correlation), equal to ``torch.nn.functional.conv2d``.

    .. math:: y[n, o, i, j] = b[o] + \sum_{c} \sum_{k=0}^{K_H-1} \sum_{l=0}^{K_W-1} w[o, c, k, l] \,
              x[n, c, i s_H + k d_H - p_H, \; j s_W + l d_W - p_W],

    with :math:`H_{out} = \lfloor (H + 2p_H - d_H(K_H-1) - 1)/s_H \rfloor + 1` and
    likewise :math:`W_{out}`. On a spectrogram ``(N, 1, n_mels, n_frames)`` the
    first kernel axis runs over frequency, the second over time.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    weight : ndarray, shape (C_out, C_in / groups, K_H, K_W)
    bias : ndarray, shape (C_out,), optional
    stride, dilation : int or (int, int), default 1
    padding : int, (int, int) or {"valid", "same"}, default 0
    groups : int, default 1
    return_cache : bool, default False
        Also return what :func:`conv2d_backward` needs.

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv1d`, for 4-D arrays and each of the two axes.

    Examples
    --------
    A 2 x 2 box filter over a 3 x 3 ramp:

    >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
    >>> conv2d(x, np.ones((1, 1, 2, 2)))
    array([[[[ 8., 12.],
             [20., 24.]]]])
    >>> conv2d(np.zeros((2, 4, 40, 101)), np.zeros((16, 2, 3, 3)), stride=(1, 2), padding=1, groups=2).shape
    (2, 16, 40, 51)
    """
    return _conv(x, weight, bias, stride, padding, dilation, groups, 2, return_cache)


def conv2d_backward(d_out: np.ndarray, cache: dict):
    r"""Gradients of :func:`conv2d` with respect to its input, weight and bias.

    The equations of :func:`conv1d_backward`, over both kernel axes; the input
    gradient is :func:`conv_transpose2d` of :math:`\delta`.

    Parameters
    ----------
    d_out : ndarray, shape (N, C_out, H_out, W_out)
    cache : dict
        From ``conv2d(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, shape (N, C_in, H, W)
    d_weight : ndarray, shape (C_out, C_in / groups, K_H, K_W)
    d_bias : ndarray, shape (C_out,), or None when the layer had no bias

    Raises
    ------
    TypeError
        ``cache`` not from :func:`conv2d`.
    ValueError
        ``d_out`` not of the output's shape.

    Examples
    --------
    Each input pixel's gradient counts the 2 x 2 windows that contain it:

    >>> y, cache = conv2d(np.ones((1, 1, 3, 3)), np.ones((1, 1, 2, 2)), return_cache=True)
    >>> d_x, d_weight, d_bias = conv2d_backward(np.ones_like(y), cache)
    >>> d_x[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    >>> d_bias is None
    True
    """
    return _conv_backward(d_out, cache, "conv2d")


# --------------------------------------------------------------------------- transposed convolution


def _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, n: int, return_cache: bool):
    x = _array(x, "x", n + 2, _LAYOUT[n].replace("C", "C_in"))
    weight = _array(weight, "weight", n + 2, _WEIGHT_LAYOUT[n].replace("C_out, C_in/groups", "C_in, C_out/groups"))
    groups = _ints(groups, 1, "groups", 1)[0]
    if x.shape[1] % groups:
        raise ValueError(f"groups={groups} must divide the input channels C_in = {x.shape[1]} (x.shape[1])")
    if weight.shape[0] != x.shape[1]:
        raise ValueError(f"weight.shape[0] = {weight.shape[0]} must equal the channels of x, "
                         f"x.shape[1] = {x.shape[1]} (weight is (C_in, C_out/groups, ...))")
    stride = _ints(stride, n, "stride", 1)
    dilation = _ints(dilation, n, "dilation", 1)
    padding = _ints(padding, n, "padding", 0)
    output_padding = _ints(output_padding, n, "output_padding", 0)
    if any(op >= max(s, d) for op, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"output_padding {output_padding} must be smaller than stride {stride} or dilation "
                         f"{dilation} (as in torch)")
    span = _span(weight.shape[2:], dilation)
    out_size = tuple((L - 1) * s - 2 * p + k + op
                     for L, s, p, k, op in zip(x.shape[2:], stride, padding, span, output_padding))
    if any(o < 1 for o in out_size):
        raise ValueError(f"padding {padding} leaves no output: (L - 1) * stride - 2 * padding + "
                         f"dilation * (K - 1) + output_padding + 1 = {out_size}")
    if bias is not None:
        bias = _array(bias, "bias", 1, "(C_out,)")
        if bias.shape != (weight.shape[1] * groups,):
            raise ValueError(f"bias must have shape (C_out,) = ({weight.shape[1] * groups},), got {bias.shape}")
    dtype = np.result_type(x, weight, *(() if bias is None else (bias,)))
    x, weight = x.astype(dtype, copy=False), weight.astype(dtype, copy=False)
    y = _transpose(x, weight, stride, dilation, groups, padding, out_size)
    if bias is not None:
        y += bias.reshape(-1, *(1,) * n)
    if not return_cache:
        return y
    cache = {"op": f"conv_transpose{n}d", "x": x, "weight": weight, "has_bias": bias is not None,
             "stride": stride, "padding": padding, "dilation": dilation, "groups": groups, "y_shape": y.shape}
    return y, cache


def _conv_transpose_backward(d_out, cache: dict, op: str):
    if not isinstance(cache, dict) or cache.get("op") != op:
        raise TypeError(f"cache must be the cache returned by {op}(..., return_cache=True)")
    x, weight = cache["x"], cache["weight"]
    d_out = _upstream(d_out, cache["y_shape"]).astype(weight.dtype, copy=False)
    n = x.ndim - 2
    d_bias = d_out.sum(axis=(0, *range(2, 2 + n))) if cache["has_bias"] else None
    # the adjoint of the transposed convolution is the convolution with the same weight
    padded = _pad(d_out, [(p, p) for p in cache["padding"]])
    d_x, cols = _correlate(padded, weight, cache["stride"], cache["dilation"], cache["groups"], x.shape[2:])
    d_weight = _weight_grad(cols, x, weight.shape)
    return d_x, d_weight, d_bias


def conv_transpose1d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1, *, return_cache: bool = False):
    r"""1-D transposed convolution, equal to ``torch.nn.functional.conv_transpose1d`` (argument order included).

    Each input sample stamps the kernel, scaled, into the output at
    :math:`s` times its position; overlapping stamps add:

    .. math:: y[n, c, t s + k d - p] \mathrel{+}= x[n, o, t] \, w[o, c, k], \qquad
              L_{out} = (L - 1) s - 2p + d(K - 1) + \mathrm{output\_padding} + 1,

    plus the bias. It is the input gradient of :func:`conv1d` with the same
    weight, stride, padding and dilation, hence the adjoint
    :math:`\langle \mathrm{conv1d}(u), v\rangle = \langle u, \mathrm{conv\_transpose1d}(v)\rangle`;
    ``output_padding`` picks one of the :math:`s` input lengths that a strided
    convolution maps to the same output length. Chapter 7's upsamplers use it
    with :math:`K = 2s` (or :math:`K = s`) to raise a frame rate :math:`s`-fold.
    Computed as one matrix product (every stamp, :math:`w^T x`) and col2im
    (the stamps added where they land); equal to ``x`` with :math:`s - 1` zeros
    inserted between its samples, correlated with the flipped kernel.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, L)
    weight : ndarray, shape (C_in, C_out / groups, K)
        torch's layout for transposed convolutions (input channels first).
    bias : ndarray, shape (C_out,), optional
    stride, padding, output_padding, dilation : int
        ``output_padding`` must be smaller than ``stride`` or ``dilation``.
    groups : int, default 1
    return_cache : bool, default False
        Also return what :func:`conv_transpose1d_backward` needs.

    Returns
    -------
    y : ndarray, shape (N, C_out, L_out)
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv1d`; also ``output_padding`` too large, or a ``padding``
        that leaves no output.

    Examples
    --------
    Stride 2 with a kernel of 2 repeats each sample (nearest-neighbour
    upsampling); a kernel of 3 overlaps neighbouring stamps:

    >>> x = np.array([[[1.0, 2.0, 3.0]]])
    >>> conv_transpose1d(x, np.ones((1, 1, 2)), stride=2)
    array([[[1., 1., 2., 2., 3., 3.]]])
    >>> conv_transpose1d(x, np.array([[[0.5, 1.0, 0.5]]]), stride=2, padding=1, output_padding=1)
    array([[[1. , 1.5, 2. , 2.5, 3. , 1.5]]])
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 1, return_cache)


def conv_transpose1d_backward(d_out: np.ndarray, cache: dict):
    r"""Gradients of :func:`conv_transpose1d` with respect to its input, weight and bias.

    .. math:: \frac{\partial L}{\partial x[n,o,t]} = \sum_{c,k} w[o,c,k]\, \delta[n,c,ts+kd-p], \qquad
              \frac{\partial L}{\partial w[o,c,k]} = \sum_{n,t} x[n,o,t]\, \delta[n,c,ts+kd-p],

    i.e. the input gradient is :func:`conv1d` of :math:`\delta` with the same
    weight, and :math:`\partial L/\partial b[c] = \sum_{n,i} \delta[n,c,i]`.

    Parameters
    ----------
    d_out : ndarray, shape (N, C_out, L_out)
    cache : dict
        From ``conv_transpose1d(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, shape (N, C_in, L)
    d_weight : ndarray, shape (C_in, C_out / groups, K)
    d_bias : ndarray, shape (C_out,), or None when there was no bias

    Raises
    ------
    TypeError
        ``cache`` not from :func:`conv_transpose1d`.
    ValueError
        ``d_out`` not of the output's shape.

    Examples
    --------
    >>> y, cache = conv_transpose1d(np.array([[[1.0, 2.0]]]), np.ones((1, 1, 2)), stride=2, return_cache=True)
    >>> d_x, d_weight, _ = conv_transpose1d_backward(np.array([[[1.0, 0.0, 0.0, 1.0]]]), cache)
    >>> d_x, d_weight
    (array([[[1., 1.]]]), array([[[1., 2.]]]))
    """
    return _conv_transpose_backward(d_out, cache, "conv_transpose1d")


def conv_transpose2d(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride=1, padding=0,
                     output_padding=0, groups: int = 1, dilation=1, *, return_cache: bool = False):
    r"""2-D transposed convolution, equal to ``torch.nn.functional.conv_transpose2d``.

    :func:`conv_transpose1d` on both axes:
    :math:`y[n, c, i s_H + k d_H - p_H, j s_W + l d_W - p_W] \mathrel{+}= x[n, o, i, j]\, w[o, c, k, l]`,
    :math:`H_{out} = (H - 1) s_H - 2 p_H + d_H (K_H - 1) + \mathrm{output\_padding}_H + 1`, likewise
    :math:`W_{out}`. It is the input gradient of :func:`conv2d`.

    Parameters
    ----------
    x : ndarray, shape (N, C_in, H, W)
    weight : ndarray, shape (C_in, C_out / groups, K_H, K_W)
    bias : ndarray, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or (int, int)
    groups : int, default 1
    return_cache : bool, default False

    Returns
    -------
    y : ndarray, shape (N, C_out, H_out, W_out)
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError, ValueError
        As :func:`conv_transpose1d`.

    Examples
    --------
    >>> conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)))[0, 0]
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    return _conv_transpose(x, weight, bias, stride, padding, output_padding, groups, dilation, 2, return_cache)


def conv_transpose2d_backward(d_out: np.ndarray, cache: dict):
    r"""Gradients of :func:`conv_transpose2d`: the input gradient is :func:`conv2d` of :math:`\delta`.

    Parameters
    ----------
    d_out : ndarray, shape (N, C_out, H_out, W_out)
    cache : dict
        From ``conv_transpose2d(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, shape (N, C_in, H, W)
    d_weight : ndarray, shape (C_in, C_out / groups, K_H, K_W)
    d_bias : ndarray, shape (C_out,), or None

    Raises
    ------
    TypeError
        ``cache`` not from :func:`conv_transpose2d`.
    ValueError
        ``d_out`` not of the output's shape.

    Examples
    --------
    >>> y, cache = conv_transpose2d(np.ones((1, 1, 2, 2)), np.ones((1, 1, 2, 2)), return_cache=True)
    >>> conv_transpose2d_backward(np.ones_like(y), cache)[0][0, 0]
    array([[4., 4.],
           [4., 4.]])
    """
    return _conv_transpose_backward(d_out, cache, "conv_transpose2d")


# --------------------------------------------------------------------------- pooling


def _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode):
    """Checked pooling arguments and the output size, torch's rules (``pooling_output_shape``)."""
    x = _array(x, "x", 4, _LAYOUT[2])
    kernel = _ints(kernel_size, 2, "kernel_size", 1)
    default = stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)  # torch: the kernel size
    stride = kernel if default else _ints(stride, 2, "stride", 1)
    padding = _ints(padding, 2, "padding", 0)
    dilation = _ints(dilation, 2, "dilation", 1)
    if not isinstance(ceil_mode, (bool, np.bool_)):
        raise TypeError(f"ceil_mode must be a bool, got {type(ceil_mode).__name__}")
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"padding {padding} must be at most half the kernel_size {kernel} (as in torch)")
    span = _span(kernel, dilation)
    out = []
    for L, k, s, p in zip(x.shape[2:], span, stride, padding):
        size = (L + 2 * p - k + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (size - 1) * s >= L + p:  # the last window would start in the right padding
            size -= 1
        out.append(size)
    if any(o < 1 for o in out) or any(L + 2 * p < k for L, p, k in zip(x.shape[2:], padding, span)):
        raise ValueError(f"x's spatial size {x.shape[2:]} with padding {padding} is smaller than the "
                         f"(dilated) kernel {span}: no output")
    extra = tuple(max(0, (o - 1) * s + k - (L + 2 * p))  # ceil_mode: the last window overhangs
                  for o, s, k, L, p in zip(out, stride, span, x.shape[2:], padding))
    pads = tuple((p, p + e) for p, e in zip(padding, extra))
    return x, kernel, stride, pads, dilation, tuple(out)


def max_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False, *,
               return_cache: bool = False):
    r"""2-D max pooling, equal to ``torch.nn.functional.max_pool2d``.

    .. math:: y[n, c, i, j] = \max_{0 \le k < K_H,\; 0 \le l < K_W}
              x[n, c, i s_H + k d_H - p_H, \; j s_W + l d_W - p_W],

    padding counting as :math:`-\infty` (never the maximum). The output size is
    that of :func:`conv2d`, rounded up with ``ceil_mode`` (a last, partial
    window, as long as it starts inside the input or the left padding).

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size`` (windows that tile the input).
    padding : int or (int, int), default 0
        At most half the kernel size, as torch requires.
    dilation : int or (int, int), default 1
    ceil_mode : bool, default False
    return_cache : bool, default False
        Also return what :func:`max_pool2d_backward` needs; its ``"indices"``
        are those of torch's ``return_indices=True`` (the flat position
        ``h * W + w`` of each maximum in its input plane).

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError
        ``x`` not a real array; an argument not an int.
    ValueError
        ``x`` not 4-D; ``stride`` or ``dilation`` < 1; ``padding`` negative or
        above half the kernel; no output.

    Notes
    -----
    Ties go to the first maximum in the window, row by row, as torch's CPU
    kernel; so the gradient of a window of equal values reaches one input.
    Inputs with NaN are not handled as torch does (torch propagates the last
    NaN of a window, NumPy's ``argmax`` finds the first).

    Examples
    --------
    >>> x = np.array([[[[1.0, 5.0, 2.0, 0.0],
    ...                 [3.0, 4.0, 8.0, 1.0]]]])
    >>> max_pool2d(x, 2)
    array([[[[5., 8.]]]])
    >>> y, cache = max_pool2d(x, 2, return_cache=True)
    >>> cache["indices"]
    array([[[[1, 6]]]])
    """
    x, kernel, stride, pads, dilation, out = _pool_geometry(x, kernel_size, stride, padding, dilation, ceil_mode)
    xp = _pad(x, pads, value=-np.inf)
    win = _windows(xp, kernel, stride, dilation, out)  # (N, C, H_out, W_out, K_H, K_W)
    flat = win.reshape(*win.shape[:4], -1)
    arg = flat.argmax(axis=-1)[..., None]  # first maximum, row-major over the window
    y = np.take_along_axis(flat, arg, axis=-1)[..., 0]
    if not return_cache:
        return y
    k, l = np.divmod(arg[..., 0], kernel[1])  # the winning tap
    rows = np.arange(out[0])[:, None] * stride[0] + k * dilation[0] - pads[0][0]
    cols = np.arange(out[1])[None, :] * stride[1] + l * dilation[1] - pads[1][0]
    cache = {"op": "max_pool2d", "indices": rows * x.shape[3] + cols, "x_shape": x.shape, "y_shape": y.shape}
    return y, cache


def max_pool2d_backward(d_out: np.ndarray, cache: dict) -> np.ndarray:
    r"""Gradient of :func:`max_pool2d`: each output's gradient goes to its window's maximum.

    .. math:: \frac{\partial L}{\partial x[n,c,h,w]} = \sum_{i,j:\; \mathrm{argmax}_{ij} = (h, w)} \delta[n,c,i,j],

    a sum because overlapping windows (stride < kernel) can share a maximum.
    Computed with one :func:`numpy.bincount` over the flat indices.

    Parameters
    ----------
    d_out : ndarray, shape (N, C, H_out, W_out)
    cache : dict
        From ``max_pool2d(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, shape (N, C, H, W)

    Raises
    ------
    TypeError
        ``cache`` not from :func:`max_pool2d`.
    ValueError
        ``d_out`` not of the output's shape.

    Examples
    --------
    >>> x = np.array([[[[1.0, 5.0, 2.0], [3.0, 4.0, 0.0]]]])
    >>> y, cache = max_pool2d(x, 2, stride=1, return_cache=True)  # both windows hold the 5
    >>> max_pool2d_backward(np.ones_like(y), cache)
    array([[[[0., 2., 0.],
             [0., 0., 0.]]]])
    """
    if not isinstance(cache, dict) or cache.get("op") != "max_pool2d":
        raise TypeError("cache must be the cache returned by max_pool2d(..., return_cache=True)")
    d_out = _upstream(d_out, cache["y_shape"])
    batch, channels, height, width = cache["x_shape"]
    plane = np.arange(batch * channels).reshape(batch, channels, 1, 1) * (height * width)
    d_x = np.bincount((plane + cache["indices"]).ravel(), weights=d_out.ravel(),
                      minlength=batch * channels * height * width)
    return d_x.reshape(cache["x_shape"]).astype(d_out.dtype, copy=False)


def _window_counts(size, kernel, stride, pads, out, count_include_pad):
    """How many samples each window averages along one axis (torch's divisor)."""
    before, after = pads
    p = before  # the symmetric padding; after - before is ceil_mode's overhang, never counted
    mask = np.zeros(size + before + after)
    mask[0 if count_include_pad else p: size + 2 * p if count_include_pad else size + p] = 1.0
    return sliding_window_view(mask, kernel)[: (out - 1) * stride + 1: stride].sum(axis=-1)


def avg_pool2d(x: np.ndarray, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, *, return_cache: bool = False):
    r"""2-D average pooling, equal to ``torch.nn.functional.avg_pool2d``.

    .. math:: y[n, c, i, j] = \frac{1}{|W_{ij}|} \sum_{(h, w) \in W_{ij}} x[n, c, h, w],

    the window :math:`W_{ij}` starting at :math:`(i s_H - p_H, j s_W - p_W)`,
    padding counting as zeros. The divisor :math:`|W_{ij}|` is
    :math:`K_H K_W` with ``count_include_pad=True`` (torch's default: zeros of
    the padding are averaged in), or the number of real samples in the window
    with ``False``; a ``ceil_mode`` window's overhang past the padding never
    counts. It is a depthwise convolution with the constant kernel
    :math:`1/|W_{ij}|`.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    kernel_size : int or (int, int)
    stride : int or (int, int), optional
        Default: ``kernel_size``.
    padding : int or (int, int), default 0
        At most half the kernel size, as torch requires.
    ceil_mode : bool, default False
    count_include_pad : bool, default True
    return_cache : bool, default False
        Also return what :func:`avg_pool2d_backward` needs.

    Returns
    -------
    y : ndarray, shape (N, C, H_out, W_out)
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError, ValueError
        As :func:`max_pool2d`.

    Examples
    --------
    >>> x = np.arange(1.0, 5.0).reshape(1, 1, 1, 4)
    >>> avg_pool2d(x, (1, 2))
    array([[[[1.5, 3.5]]]])
    >>> avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1))  # zeros of the padding averaged in
    array([[[[1., 3.]]]])
    >>> avg_pool2d(x, (1, 3), stride=(1, 2), padding=(0, 1), count_include_pad=False)
    array([[[[1.5, 3. ]]]])
    """
    x, kernel, stride, pads, dilation, out = _pool_geometry(x, kernel_size, stride, padding, 1, ceil_mode)
    if not isinstance(count_include_pad, (bool, np.bool_)):
        raise TypeError(f"count_include_pad must be a bool, got {type(count_include_pad).__name__}")
    counts = np.multiply.outer(*(_window_counts(L, k, s, p, o, count_include_pad)
                                 for L, k, s, p, o in zip(x.shape[2:], kernel, stride, pads, out)))
    sums = _windows(_pad(x, pads), kernel, stride, dilation, out).sum(axis=(-2, -1))
    y = sums / counts
    if not return_cache:
        return y
    cache = {"op": "avg_pool2d", "x_shape": x.shape, "kernel": kernel, "stride": stride, "pads": pads,
             "counts": counts, "y_shape": y.shape}
    return y, cache


def avg_pool2d_backward(d_out: np.ndarray, cache: dict) -> np.ndarray:
    r"""Gradient of :func:`avg_pool2d`: each output spreads :math:`\delta/|W_{ij}|` evenly over its window.

    .. math:: \frac{\partial L}{\partial x[n,c,h,w]} = \sum_{i,j:\; (h,w) \in W_{ij}} \frac{\delta[n,c,i,j]}{|W_{ij}|},

    the transposed convolution of :math:`\delta/|W|` with a kernel of ones,
    each channel alone.

    Parameters
    ----------
    d_out : ndarray, shape (N, C, H_out, W_out)
    cache : dict
        From ``avg_pool2d(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, shape (N, C, H, W)

    Raises
    ------
    TypeError
        ``cache`` not from :func:`avg_pool2d`.
    ValueError
        ``d_out`` not of the output's shape.

    Examples
    --------
    >>> y, cache = avg_pool2d(np.zeros((1, 1, 2, 4)), 2, return_cache=True)
    >>> avg_pool2d_backward(np.array([[[[1.0, 2.0]]]]), cache)
    array([[[[0.25, 0.25, 0.5 , 0.5 ],
             [0.25, 0.25, 0.5 , 0.5 ]]]])
    """
    if not isinstance(cache, dict) or cache.get("op") != "avg_pool2d":
        raise TypeError("cache must be the cache returned by avg_pool2d(..., return_cache=True)")
    d_out = _upstream(d_out, cache["y_shape"])
    batch, channels, height, width = cache["x_shape"]
    scaled = (d_out / cache["counts"]).reshape(batch * channels, 1, *d_out.shape[2:])
    ones = np.ones((1, 1, *cache["kernel"]), dtype=scaled.dtype)
    d_x = _transpose(scaled, ones, cache["stride"], (1, 1), 1, [b for b, _ in cache["pads"]], (height, width))
    return d_x.reshape(cache["x_shape"])


# --------------------------------------------------------------------------- batch normalisation


def _channel_vector(value, name: str, channels: int, required: bool = False, in_place: bool = False):
    """A per-channel vector of shape (C,); ``in_place``: a running statistic that training updates."""
    if value is None:
        if required:
            raise ValueError(f"{name} is needed in evaluation mode (training=False)")
        return None
    if in_place and isinstance(value, np.ndarray):
        if not np.issubdtype(value.dtype, np.floating):
            raise TypeError(f"{name} is updated in place while training: it must hold floats, got dtype {value.dtype}")
        if not value.flags.writeable:
            raise ValueError(f"{name} is updated in place while training: it must be writeable")
    value = _array(value, name, 1, "(C,)")
    if value.shape != (channels,):
        raise ValueError(f"{name} must have shape (C,) = ({channels},), got {value.shape}")
    return value


def batch_norm(x: np.ndarray, running_mean: np.ndarray | None, running_var: np.ndarray | None,
               weight: np.ndarray | None = None, bias: np.ndarray | None = None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, *, return_cache: bool = False):
    r"""Batch normalisation, equal to ``torch.nn.functional.batch_norm`` (and ``nn.BatchNorm1d/2d``).

    Per channel :math:`c`, over the batch and every position (the axes other than 1):

    .. math:: y = \gamma_c \frac{x - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}} + \beta_c.

    Training (``training=True``): :math:`\mu_c` and :math:`\sigma_c^2` are the
    batch's mean and **biased** variance (divided by the :math:`m` values per
    channel), and the running estimates are updated **in place**, as torch
    does, with the **unbiased** variance:

    .. math:: \hat\mu \leftarrow (1 - \alpha)\hat\mu + \alpha \mu_c, \qquad
              \hat\sigma^2 \leftarrow (1 - \alpha)\hat\sigma^2 + \alpha \frac{m}{m - 1} \sigma_c^2,

    :math:`\alpha` the ``momentum`` (torch's convention: the weight of the new
    batch, 0.1 by default; Keras's "momentum" is :math:`1 - \alpha`).
    Evaluation (``training=False``): :math:`\mu_c, \sigma_c^2` are the running
    estimates, and each sample is normalised alone.

    Parameters
    ----------
    x : ndarray, shape (N, C), (N, C, L) or (N, C, H, W)
    running_mean, running_var : ndarray, shape (C,), or None
        Updated in place while training (None: not tracked); required for evaluation.
    weight, bias : ndarray, shape (C,), optional
        :math:`\gamma` and :math:`\beta` (default 1 and 0).
    training : bool, default False
    momentum : float, default 0.1
        :math:`\alpha \in [0, 1]`.
    eps : float, default 1e-5
    return_cache : bool, default False
        Also return what :func:`batch_norm_backward` needs.

    Returns
    -------
    y : ndarray, the shape of x
    cache : dict
        Only with ``return_cache=True``.

    Raises
    ------
    TypeError
        An array argument not a real array; ``training`` not a bool.
    ValueError
        ``x`` with fewer than 2 dimensions; a vector not of shape (C,); a
        single value per channel while training; no running statistics in
        evaluation; ``momentum`` outside [0, 1]; ``eps`` negative.

    Examples
    --------
    >>> x = np.array([[1.0], [3.0]])  # two samples, one channel
    >>> mean, var = np.zeros(1), np.ones(1)
    >>> np.round(batch_norm(x, mean, var, training=True), 4)
    array([[-1.],
           [ 1.]])
    >>> mean, var  # 0.9 * 0 + 0.1 * 2;  0.9 * 1 + 0.1 * 2 (the unbiased variance of 1, 3)
    (array([0.2]), array([1.1]))
    >>> np.round(batch_norm(x, mean, var), 4)  # evaluation: the running estimates
    array([[0.7628],
           [2.6697]])
    """
    x = _array(x, "x")
    if x.ndim < 2:
        raise ValueError(f"x must be (N, C), (N, C, L) or (N, C, H, W), got shape {x.shape}")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be a bool, got {type(training).__name__}")
    channels = x.shape[1]
    running_mean = _channel_vector(running_mean, "running_mean", channels, not training, in_place=training)
    running_var = _channel_vector(running_var, "running_var", channels, not training, in_place=training)
    weight = _channel_vector(weight, "weight", channels)
    bias = _channel_vector(bias, "bias", channels)
    for value, name in ((momentum, "momentum"), (eps, "eps")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    if not 0 <= momentum <= 1:
        raise ValueError(f"momentum must be in [0, 1] (torch's convention: the weight of the new batch), "
                         f"got {momentum!r}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    axes = (0, *range(2, x.ndim))
    shape = (1, channels) + (1,) * (x.ndim - 2)  # a channel vector broadcast over x
    count = x.size // max(channels, 1)
    if training:
        if count <= 1:
            raise ValueError(f"x of shape {x.shape} has {count} value per channel: training needs more than 1 "
                             "(as torch)")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased: divided by count
        if running_mean is not None:
            running_mean *= 1 - momentum
            running_mean += momentum * mean
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += momentum * var * count / (count - 1)  # unbiased
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    x_hat = (x - mean.reshape(shape)) * inv_std.reshape(shape)
    y = x_hat if weight is None else x_hat * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    if not return_cache:
        return y
    cache = {"op": "batch_norm", "x_hat": x_hat, "inv_std": inv_std, "weight": weight,
             "has_bias": bias is not None, "training": bool(training), "axes": axes, "shape": shape}
    return y, cache


def batch_norm_backward(d_out: np.ndarray, cache: dict):
    r"""Gradients of :func:`batch_norm` with respect to ``x``, ``weight`` and ``bias``.

    With :math:`\hat x = (x - \mu)/\sqrt{\sigma^2 + \epsilon}`,
    :math:`g = \gamma\, \partial L/\partial y` and :math:`\langle \cdot \rangle`
    the mean per channel over the :math:`m` values:

    .. math:: \frac{\partial L}{\partial \beta_c} = \sum \delta, \qquad
              \frac{\partial L}{\partial \gamma_c} = \sum \delta \hat x, \qquad
              \frac{\partial L}{\partial x} = \frac{g - \langle g \rangle - \hat x \langle g \hat x \rangle}
              {\sqrt{\sigma^2 + \epsilon}} \;\; \text{(training)}, \qquad
              \frac{g}{\sqrt{\hat\sigma^2 + \epsilon}} \;\; \text{(evaluation)}.

    While training, :math:`\mu` and :math:`\sigma^2` depend on every sample
    of the batch, which adds the two mean terms; in evaluation the statistics
    are constants.

    Parameters
    ----------
    d_out : ndarray, the shape of x
    cache : dict
        From ``batch_norm(..., return_cache=True)``.

    Returns
    -------
    d_x : ndarray, the shape of x
    d_weight, d_bias : ndarray, shape (C,), or None where the layer had no weight or bias

    Raises
    ------
    TypeError
        ``cache`` not from :func:`batch_norm`.
    ValueError
        ``d_out`` not of x's shape.

    Examples
    --------
    Shifting every output by the same amount cannot change a normalised batch:

    >>> x = np.array([[1.0], [2.0], [6.0]])
    >>> y, cache = batch_norm(x, None, None, np.ones(1), np.zeros(1), training=True, return_cache=True)
    >>> d_x, d_weight, d_bias = batch_norm_backward(np.ones_like(y), cache)
    >>> bool(np.abs(d_x).max() < 1e-12), d_bias
    (True, array([3.]))
    """
    if not isinstance(cache, dict) or cache.get("op") != "batch_norm":
        raise TypeError("cache must be the cache returned by batch_norm(..., return_cache=True)")
    x_hat, inv_std, weight = cache["x_hat"], cache["inv_std"], cache["weight"]
    axes, shape = cache["axes"], cache["shape"]
    d_out = _upstream(d_out, x_hat.shape)
    d_bias = d_out.sum(axis=axes) if cache["has_bias"] else None
    d_weight = (d_out * x_hat).sum(axis=axes) if weight is not None else None
    g = d_out if weight is None else d_out * weight.reshape(shape)
    if cache["training"]:
        g = g - g.mean(axis=axes, keepdims=True) - x_hat * (g * x_hat).mean(axis=axes, keepdims=True)
    return g * inv_std.reshape(shape), d_weight, d_bias


# --------------------------------------------------------------------------- receptive fields


@dataclass(frozen=True)
class Layer:
    """The geometry of one convolution or pooling layer, for :func:`receptive_field`.

    Each field is an int (a 1-D layer, or the same on both axes) or a pair
    ``(height, width)``. ``padding`` is the padding *before* the first sample
    (torch's symmetric padding, or the left part of an asymmetric one).
    Pointwise layers (activations, batch norm, 1 x 1 convolutions with
    stride 1) leave the receptive field unchanged and can be left out.

    Examples
    --------
    >>> Layer(3, padding=1)
    Layer(kernel=3, stride=1, padding=1, dilation=1)
    """

    kernel: int | tuple[int, int]
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    dilation: int | tuple[int, int] = 1


class ReceptiveField(NamedTuple):
    """What one output unit of a stack sees, in input samples (ints or floats; pairs for 2-D stacks).

    Attributes
    ----------
    size : int
        The extent of the field, from its first to its last input sample.
    jump : int
        The distance in input samples between neighbouring output units (the product of the strides).
    start : float
        The centre of output unit 0's field, an input index (negative: in the padding). Unit
        :math:`i` sees input indices ``start + i * jump - (size - 1) / 2`` to ``start + i * jump + (size - 1) / 2``.
    """

    size: int | tuple[int, ...]
    jump: int | tuple[int, ...]
    start: float | tuple[float, ...]


def _as_layer(item, index: int) -> tuple:
    """One entry of ``layers`` as (kernel, stride, padding, dilation), each an int or a pair, checked."""
    if isinstance(item, Layer):
        fields = [item.kernel, item.stride, item.padding, item.dilation]
    elif isinstance(item, tuple) and 1 <= len(item) <= 4:
        fields = list(item + (1, 0, 1)[len(item) - 1:])
    elif hasattr(item, "kernel_size"):  # a torch conv or pooling module
        fields = [item.kernel_size, getattr(item, "stride", None) or item.kernel_size,
                  getattr(item, "padding", 0), getattr(item, "dilation", 1)]
    else:
        raise TypeError(f"layers[{index}] must be a Layer, a tuple (kernel, stride, padding, dilation) or a "
                        f"torch conv/pooling module, got {type(item).__name__}")
    fields = [f[0] if isinstance(f, (tuple, list)) and len(f) == 1 else f for f in fields]  # Conv1d's (3,)
    if isinstance(fields[2], str):  # torch's padding="same" (the left part) or "valid"
        if fields[2] not in ("same", "valid"):
            raise ValueError(f"layers[{index}].padding must be an int, a pair, 'same' or 'valid', got {fields[2]!r}")
        n = 2 if any(isinstance(f, (tuple, list)) for f in fields) else 1
        kernel = _ints(fields[0], n, f"layers[{index}].kernel", 1)
        dilation = _ints(fields[3], n, f"layers[{index}].dilation", 1)
        padding = tuple(d * (k - 1) // 2 if fields[2] == "same" else 0 for k, d in zip(kernel, dilation))
        fields[2] = padding if n == 2 else padding[0]
    n = 2 if any(isinstance(f, (tuple, list)) for f in fields) else 1
    names, minimums = ("kernel", "stride", "padding", "dilation"), (1, 1, 0, 1)
    for f, name, m in zip(fields, names, minimums):
        _ints(f, n, f"layers[{index}].{name}", m)
    return tuple(fields)


def receptive_field(layers) -> ReceptiveField:
    r"""Size, jump and start of the receptive field of one output unit of a stack of layers.

    From the input (:math:`r_0 = 1`, :math:`j_0 = 1`, :math:`s_0 = 0`), each
    layer with kernel :math:`K`, stride :math:`S`, padding :math:`P` and
    dilation :math:`D` (effective kernel :math:`K' = D(K-1)+1`) gives

    .. math:: j_{l} = j_{l-1} S, \qquad r_l = r_{l-1} + (K' - 1)\, j_{l-1}, \qquad
              s_l = s_{l-1} + \left(\frac{K' - 1}{2} - P\right) j_{l-1}:

    a unit of layer :math:`l` covers :math:`K'` units of the layer below,
    which are :math:`j_{l-1}` input samples apart and each see
    :math:`r_{l-1}`. Dilation and strides larger than the kernel leave holes
    inside the field; :math:`r` is its extent. In a stack of stride-1 layers
    the field grows by :math:`K'-1` per layer; after a stride it grows
    :math:`S` times faster.

    Parameters
    ----------
    layers : sequence
        Each a :class:`Layer`, a tuple ``(kernel, stride, padding, dilation)``
        (trailing entries optional), or a torch module with ``kernel_size``,
        ``stride``, ``padding`` (``"same"``/``"valid"`` too) and ``dilation``
        (``nn.Conv1d/2d``, ``nn.MaxPool1d/2d``, ``nn.AvgPool1d/2d``). Entries
        with pairs make the stack 2-D.

    Returns
    -------
    ReceptiveField
        ``size``, ``jump`` (ints) and ``start`` (float); pairs over (height,
        width) for a 2-D stack.

    Raises
    ------
    TypeError
        ``layers`` not a sequence, or an entry of another kind.
    ValueError
        A kernel, stride or dilation < 1, or a negative padding.

    Examples
    --------
    Three 3 x 3 convolutions see 7 x 7 (VGG's argument for small kernels);
    a 2 x 2 max pooling between them doubles the growth:

    >>> receptive_field([Layer(3, padding=1)] * 3)
    ReceptiveField(size=7, jump=1, start=0.0)
    >>> receptive_field([(3, 1, 1), (2, 2), (3, 1, 1), (3, 1, 1)])
    ReceptiveField(size=12, jump=2, start=0.5)
    >>> receptive_field([Layer((3, 5), stride=(1, 2)), Layer(3, dilation=(1, 4))])
    ReceptiveField(size=(5, 21), jump=(1, 2), start=(2.0, 10.0))
    """
    if isinstance(layers, (str, bytes)) or not hasattr(layers, "__iter__"):
        raise TypeError(f"layers must be a sequence of layers, got {type(layers).__name__}")
    parsed = [_as_layer(item, i) for i, item in enumerate(layers)]
    n = 2 if any(isinstance(f, (tuple, list)) for fields in parsed for f in fields) else 1
    size, jump, start = [1] * n, [1] * n, [0.0] * n
    for fields in parsed:
        for axis, (k, s, p, d) in enumerate(zip(*(_ints(f, n, "layer", 0) for f in fields))):
            span = d * (k - 1) + 1
            start[axis] += ((span - 1) / 2 - p) * jump[axis]
            size[axis] += (span - 1) * jump[axis]
            jump[axis] *= s
    if n == 1:
        return ReceptiveField(size[0], jump[0], start[0])
    return ReceptiveField(tuple(size), tuple(jump), tuple(start))

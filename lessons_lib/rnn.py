"""Recurrent networks in NumPy: the Elman RNN, the LSTM and the GRU, forward and backward through time.

A recurrent layer reads a sequence one step at a time and keeps a hidden state
:math:`h_t` that summarises what it has seen:

.. math:: h_t = \\tanh(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}),

the course's :math:`\\mathbf h_t = \\tanh(\\mathbf W_{xh} \\mathbf x_t + \\mathbf W_{hh} \\mathbf h_{t-1}
+ \\mathbf b_h)` (``book/notation.md``) with one sequence per row: :math:`\\mathbf W_{xh}` is
``weight_ih`` and :math:`\\mathbf b_h` is ``bias_ih + bias_hh``.

Backpropagation through time (BPTT) is backpropagation on this loop unrolled:
the gradient reaching :math:`h_t` is the loss's own gradient at step
:math:`t` *plus* what flows back from step :math:`t+1` through
:math:`W_{hh}`, and each weight's gradient is the *sum* over the steps that
used it. Repeated multiplication by :math:`\\operatorname{diag}(\\tanh') W_{hh}`
makes that backward signal shrink or grow geometrically with the time lag;
the LSTM's additive cell state and gradient clipping are the two classic
answers.

Weights are named, shaped and ordered exactly as ``torch.nn.RNN``, ``LSTM`` and
``GRU`` keep them (``weight_ih_l0`` is ``weight_ih`` here; LSTM gates i, f, g,
o; GRU gates r, z, n), so :func:`to_state_dict` loads them into torch
unchanged. Sequences are time-first, ``x`` of shape ``(T, batch, input_size)``,
torch's default (``batch_first=False``). The arithmetic is done in the
inputs' precision: float64 normally (as in the tests against torch), float32
when every array is float32 (twice as fast, as torch's default).

Chapter: ``notebooks/04b_rnn_bptt_lstm.ipynb`` (and ``notebooks/04c_lstm_digits.ipynb``, which runs
a trained PyTorch LSTM through :func:`from_state_dict` and :func:`lstm_forward`).
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int

__all__ = [
    "init_params",
    "to_state_dict",
    "from_state_dict",
    "rnn_forward",
    "rnn_backward",
    "lstm_forward",
    "lstm_backward",
    "gru_forward",
    "gru_backward",
    "truncated_bptt",
    "clip_grad_norm",
]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
_WEIGHTS = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # = 1 / (1 + e^-a), without overflow for large |a|


def _array(value, name: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, got {type(value).__name__}")
    if not (np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.integer)):
        raise TypeError(f"{name} must hold real numbers, got dtype {value.dtype}")
    if np.isnan(value).any():
        raise ValueError(f"{name} contains NaN")
    return value if value.dtype in (np.float32, np.float64) else value.astype(np.float64)


def _check_layer(cell: str, x, states: dict, weight_ih, weight_hh, bias_ih, bias_hh):
    """Shapes of a single-layer recurrent cell, torch's layout; returns float64 arrays."""
    x = _array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D, shape (T, batch, input_size) (time first, as torch), got shape {x.shape}")
    weight_ih, weight_hh = _array(weight_ih, "weight_ih"), _array(weight_hh, "weight_hh")
    bias_ih, bias_hh = _array(bias_ih, "bias_ih"), _array(bias_hh, "bias_hh")
    if weight_hh.ndim != 2 or weight_hh.shape[0] % GATES[cell] or weight_hh.shape[0] != GATES[cell] * weight_hh.shape[1]:
        raise ValueError(f"weight_hh of a {cell} must have shape ({GATES[cell]} * hidden_size, hidden_size), "
                         f"got {weight_hh.shape}")
    hidden = weight_hh.shape[1]
    rows = GATES[cell] * hidden
    if weight_ih.shape != (rows, x.shape[2]):
        raise ValueError(f"weight_ih must have shape ({rows}, {x.shape[2]}) (gates * hidden_size, input_size), "
                         f"got {weight_ih.shape}")
    for name, bias in (("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if bias.shape != (rows,):
            raise ValueError(f"{name} must have shape ({rows},), got {bias.shape}")
    checked = {}
    for name, state in states.items():
        state = _array(state, name)
        if state.shape != (x.shape[1], hidden):
            raise ValueError(f"{name} must have shape (batch, hidden_size) = ({x.shape[1]}, {hidden}), "
                             f"got {state.shape}")
        checked[name] = state
    return x, checked, weight_ih, weight_hh, bias_ih, bias_hh


def _check_upstream(d_outputs, d_state, shape, name_state: str):
    d_outputs = _array(d_outputs, "d_outputs")
    if d_outputs.shape != shape:
        raise ValueError(f"d_outputs must have the outputs' shape {shape}, got {d_outputs.shape}")
    if d_state is None:
        return d_outputs, np.zeros(shape[1:], dtype=d_outputs.dtype)
    d_state = _array(d_state, name_state)
    if d_state.shape != shape[1:]:
        raise ValueError(f"{name_state} must have shape {shape[1:]}, got {d_state.shape}")
    return d_outputs, d_state


def _weight_grads(d_gates_x, d_gates_h, x, h_prev) -> dict:
    """Weight gradients summed over time and batch, as two matrix products (time and batch flattened)."""
    d_ih = d_gates_x.reshape(-1, d_gates_x.shape[-1])
    d_hh = d_gates_h.reshape(-1, d_gates_h.shape[-1])
    return {"weight_ih": d_ih.T @ x.reshape(-1, x.shape[-1]), "weight_hh": d_hh.T @ h_prev.reshape(-1, h_prev.shape[-1]),
            "bias_ih": d_ih.sum(axis=0), "bias_hh": d_hh.sum(axis=0)}


# --------------------------------------------------------------------------- parameters


def init_params(cell: str, input_size: int, hidden_size: int, rng: np.random.Generator) -> dict:
    """Weights of one recurrent layer, drawn as torch draws them: all uniform on :math:`[-1/\\sqrt H, 1/\\sqrt H]`.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    input_size, hidden_size : int
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``weight_ih`` (G*H, I), ``weight_hh`` (G*H, H), ``bias_ih`` (G*H,),
        ``bias_hh`` (G*H,), with G = 1, 4, 3 gates for rnn, lstm, gru.

    Examples
    --------
    >>> {k: v.shape for k, v in init_params("lstm", 39, 8, np.random.default_rng(0)).items()}
    {'weight_ih': (32, 39), 'weight_hh': (32, 8), 'bias_ih': (32,), 'bias_hh': (32,)}
    """
    if cell not in GATES:
        raise ValueError(f"cell must be one of {tuple(GATES)}, got {cell!r}")
    input_size, hidden_size = positive_int(input_size, "input_size"), positive_int(hidden_size, "hidden_size")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    rows, bound = GATES[cell] * hidden_size, 1.0 / np.sqrt(hidden_size)
    shapes = {"weight_ih": (rows, input_size), "weight_hh": (rows, hidden_size), "bias_ih": (rows,), "bias_hh": (rows,)}
    return {name: rng.uniform(-bound, bound, shape) for name, shape in shapes.items()}


def to_state_dict(params: dict) -> dict:
    """The weights as torch tensors named for ``nn.RNN/LSTM/GRU(...).load_state_dict`` (``weight_ih_l0``, ...).

    Parameters
    ----------
    params : dict
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` (numpy).

    Returns
    -------
    dict of torch.Tensor (float64)

    Examples
    --------
    >>> import torch
    >>> lstm = torch.nn.LSTM(3, 2).double()
    >>> lstm.load_state_dict(to_state_dict(init_params("lstm", 3, 2, np.random.default_rng(0))))
    <All keys matched successfully>
    """
    import torch

    missing = [k for k in _WEIGHTS if k not in params]
    if missing:
        raise ValueError(f"params lacks {missing}")
    return {f"{name}_l0": torch.from_numpy(np.array(params[name], dtype=np.float64)) for name in _WEIGHTS}


def from_state_dict(state_dict) -> dict:
    """Our weights from a single-layer torch RNN/LSTM/GRU ``state_dict()`` (float64 numpy arrays).

    Parameters
    ----------
    state_dict : mapping of str to torch.Tensor

    Returns
    -------
    dict
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.

    Examples
    --------
    >>> import torch
    >>> params = from_state_dict(torch.nn.GRU(3, 2).state_dict())
    >>> params["weight_hh"].shape, params["weight_hh"].dtype
    ((6, 2), dtype('float64'))
    """
    missing = [f"{k}_l0" for k in _WEIGHTS if f"{k}_l0" not in state_dict]
    if missing:
        raise ValueError(f"state_dict lacks {missing} (a single-layer, unidirectional RNN/LSTM/GRU with biases)")
    return {name: state_dict[f"{name}_l0"].detach().cpu().double().numpy().copy() for name in _WEIGHTS}


# --------------------------------------------------------------------------- the Elman RNN


def rnn_forward(x: np.ndarray, h0: np.ndarray, weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray,
                bias_hh: np.ndarray, nonlinearity: str = "tanh") -> tuple[np.ndarray, np.ndarray, dict]:
    """The Elman RNN unrolled: :math:`h_t = \\phi(x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh})`.

    The input projections of all steps are one matrix product; only the
    recurrence :math:`h_{t-1} W_{hh}^T` has to wait for the previous step.

    Parameters
    ----------
    x : ndarray, shape (T, batch, input_size)
    h0 : ndarray, shape (batch, hidden_size)
    weight_ih : ndarray, shape (hidden_size, input_size)
    weight_hh : ndarray, shape (hidden_size, hidden_size)
    bias_ih, bias_hh : ndarray, shape (hidden_size,)
    nonlinearity : {"tanh", "relu"}, default "tanh"

    Returns
    -------
    outputs : ndarray, shape (T, batch, hidden_size)
        :math:`h_1, \\dots, h_T`; equal to ``torch.nn.RNN``'s output.
    h_T : ndarray, shape (batch, hidden_size)
    cache : dict
        What :func:`rnn_backward` needs.

    Examples
    --------
    >>> W = {"weight_ih": np.array([[1.0]]), "weight_hh": np.array([[0.5]]),
    ...      "bias_ih": np.zeros(1), "bias_hh": np.zeros(1)}
    >>> outputs, h_T, _ = rnn_forward(np.array([[[1.0]], [[0.0]]]), np.zeros((1, 1)), **W)
    >>> np.round(outputs.ravel(), 4)  # tanh(1), tanh(0.5 tanh(1))
    array([0.7616, 0.3634])
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, states, weight_ih, weight_hh, bias_ih, bias_hh = _check_layer("rnn", x, {"h0": h0}, weight_ih, weight_hh,
                                                                     bias_ih, bias_hh)
    h = states["h0"]
    pre = x @ weight_ih.T + (bias_ih + bias_hh)  # (T, batch, H): every step's input projection at once
    outputs = np.empty_like(pre)
    for t in range(x.shape[0]):  # the recurrence: step t needs h_{t-1}
        a = pre[t] + h @ weight_hh.T
        h = np.tanh(a, out=outputs[t]) if nonlinearity == "tanh" else np.maximum(a, 0.0, out=outputs[t])
    cache = {"x": x, "h0": states["h0"], "outputs": outputs, "weight_ih": weight_ih, "weight_hh": weight_hh,
             "nonlinearity": nonlinearity}
    return outputs, h.copy(), cache


def rnn_backward(d_outputs: np.ndarray, d_h_T: np.ndarray | None, cache: dict) -> dict:
    """Backpropagation through time for :func:`rnn_forward`.

    Going backwards from :math:`t = T`, with :math:`\\delta_t = \\partial L/\\partial a_t`:

    .. math:: \\frac{\\partial L}{\\partial h_t} = \\frac{\\partial \\ell}{\\partial h_t}
              + \\delta_{t+1} W_{hh}, \\qquad
              \\delta_t = \\frac{\\partial L}{\\partial h_t} \\odot \\phi'(a_t), \\qquad
              \\frac{\\partial L}{\\partial W_{hh}} = \\sum_{t} \\delta_t^T h_{t-1}, \\quad
              \\frac{\\partial L}{\\partial W_{ih}} = \\sum_{t} \\delta_t^T x_t,

    where :math:`\\partial \\ell / \\partial h_t` is ``d_outputs[t]`` (plus
    ``d_h_T`` at the last step) and :math:`\\phi'(a_t) = 1 - h_t^2` for tanh.

    Parameters
    ----------
    d_outputs : ndarray, shape (T, batch, hidden_size)
        :math:`\\partial L / \\partial` outputs.
    d_h_T : ndarray, shape (batch, hidden_size), or None
        :math:`\\partial L / \\partial h_T` through the final state (None: 0).
    cache : dict
        From :func:`rnn_forward`.

    Returns
    -------
    dict
        ``x`` (T, batch, I), ``h0`` (batch, H), ``weight_ih``, ``weight_hh``,
        ``bias_ih``, ``bias_hh`` (shapes of the parameters), all equal to
        torch autograd's; and ``h`` (T, batch, H), the total
        :math:`\\partial L / \\partial h_t` at every step, whose norm against the
        time lag shows vanishing or exploding gradients.

    Examples
    --------
    >>> W = {"weight_ih": np.array([[1.0]]), "weight_hh": np.array([[0.5]]),
    ...      "bias_ih": np.zeros(1), "bias_hh": np.zeros(1)}
    >>> outputs, h_T, cache = rnn_forward(np.array([[[1.0]]]), np.zeros((1, 1)), **W)
    >>> grads = rnn_backward(np.ones_like(outputs), None, cache)  # d tanh(x)/dx at x = 1
    >>> np.round(grads["x"].ravel(), 4)
    array([0.42])
    """
    outputs, weight_hh = cache["outputs"], cache["weight_hh"]
    d_outputs, d_h = _check_upstream(d_outputs, d_h_T, outputs.shape, "d_h_T")
    d_pre = np.empty_like(outputs)
    d_hidden = np.empty_like(outputs)
    for t in range(outputs.shape[0] - 1, -1, -1):
        d_h = d_outputs[t] + d_h  # the loss at step t, plus what comes back from step t + 1
        d_hidden[t] = d_h
        h = outputs[t]
        d_pre[t] = d_h * (1.0 - h * h) if cache["nonlinearity"] == "tanh" else d_h * (h > 0)
        d_h = d_pre[t] @ weight_hh  # on to h_{t-1}
    h_prev = np.concatenate([cache["h0"][None], outputs[:-1]])
    grads = _weight_grads(d_pre, d_pre, cache["x"], h_prev)
    grads.update(x=d_pre @ cache["weight_ih"], h0=d_h, h=d_hidden)
    return grads


# --------------------------------------------------------------------------- LSTM


def lstm_forward(x: np.ndarray, h0: np.ndarray, c0: np.ndarray, weight_ih: np.ndarray, weight_hh: np.ndarray,
                 bias_ih: np.ndarray, bias_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """The LSTM, torch's equations and gate order (i, f, g, o).

    .. math:: \\begin{aligned}
              i_t &= \\sigma(\\cdot), \\; f_t = \\sigma(\\cdot), \\; g_t = \\tanh(\\cdot), \\; o_t = \\sigma(\\cdot)
              \\quad \\text{of } x_t W_{ih}^T + b_{ih} + h_{t-1} W_{hh}^T + b_{hh}, \\\\
              c_t &= f_t \\odot c_{t-1} + i_t \\odot g_t, \\qquad h_t = o_t \\odot \\tanh(c_t).
              \\end{aligned}

    Parameters
    ----------
    x : ndarray, shape (T, batch, input_size)
    h0, c0 : ndarray, shape (batch, hidden_size)
    weight_ih : ndarray, shape (4 * hidden_size, input_size)
    weight_hh : ndarray, shape (4 * hidden_size, hidden_size)
    bias_ih, bias_hh : ndarray, shape (4 * hidden_size,)

    Returns
    -------
    outputs : ndarray, shape (T, batch, hidden_size)
        Equal to ``torch.nn.LSTM``'s output.
    h_T, c_T : ndarray, shape (batch, hidden_size)
    cache : dict

    Examples
    --------
    >>> p = init_params("lstm", 3, 2, np.random.default_rng(0))
    >>> outputs, h_T, c_T, _ = lstm_forward(np.zeros((5, 1, 3)), np.zeros((1, 2)), np.zeros((1, 2)), **p)
    >>> outputs.shape, bool(np.all(np.abs(outputs) < 1))
    ((5, 1, 2), True)
    """
    x, states, weight_ih, weight_hh, bias_ih, bias_hh = _check_layer("lstm", x, {"h0": h0, "c0": c0}, weight_ih,
                                                                     weight_hh, bias_ih, bias_hh)
    n_steps, batch, _ = x.shape
    hidden = weight_hh.shape[1]
    pre = x @ weight_ih.T + (bias_ih + bias_hh)  # (T, batch, 4H)
    gates = np.empty_like(pre)  # activated gates i, f, g, o
    cells = np.empty((n_steps, batch, hidden), dtype=pre.dtype)
    outputs = np.empty_like(cells)
    h, c = states["h0"], states["c0"]
    candidate = np.empty((batch, hidden), dtype=pre.dtype)
    for t in range(n_steps):  # in place throughout: fresh arrays at every step cost more than the arithmetic
        gate = gates[t]
        np.matmul(h, weight_hh.T, out=gate)
        gate += pre[t]
        np.tanh(gate[:, 2 * hidden:3 * hidden], out=candidate)  # g
        np.multiply(gate, 0.5, out=gate)  # sigmoid(a) = (1 + tanh(a / 2)) / 2 for i, f, o
        np.tanh(gate, out=gate)
        gate += 1.0
        gate *= 0.5
        gate[:, 2 * hidden:3 * hidden] = candidate
        i, f, g, o = gate[:, :hidden], gate[:, hidden:2 * hidden], gate[:, 2 * hidden:3 * hidden], gate[:, 3 * hidden:]
        c = np.multiply(f, c, out=cells[t])
        np.multiply(i, g, out=candidate)
        c += candidate  # c_t = f * c_{t-1} + i * g
        h = np.multiply(o, np.tanh(c, out=candidate), out=outputs[t])  # h_t = o * tanh(c_t)
    cache = {"x": x, "h0": states["h0"], "c0": states["c0"], "gates": gates, "cells": cells, "outputs": outputs,
             "weight_ih": weight_ih, "weight_hh": weight_hh}
    return outputs, h.copy(), c.copy(), cache


def lstm_backward(d_outputs: np.ndarray, d_h_T: np.ndarray | None, d_c_T: np.ndarray | None, cache: dict) -> dict:
    """Backpropagation through time for :func:`lstm_forward`.

    Per step, from the total :math:`\\partial L/\\partial h_t` and :math:`\\partial L/\\partial c_t`:

    .. math:: \\frac{\\partial L}{\\partial c_t} \\mathrel{+}= \\frac{\\partial L}{\\partial h_t} \\odot o_t \\odot (1 - \\tanh^2 c_t),
              \\quad \\frac{\\partial L}{\\partial c_{t-1}} = \\frac{\\partial L}{\\partial c_t} \\odot f_t,

    the gates' gradients :math:`\\partial o = \\partial h \\odot \\tanh c_t`,
    :math:`\\partial i = \\partial c \\odot g_t`, :math:`\\partial g = \\partial c \\odot i_t`,
    :math:`\\partial f = \\partial c \\odot c_{t-1}`, times each gate's own
    derivative; then as in :func:`rnn_backward`. The path
    :math:`c_t \\to c_{t-1}` is multiplied only by :math:`f_t`, not by a weight
    matrix, which is why LSTM gradients survive long lags.

    Parameters
    ----------
    d_outputs : ndarray, shape (T, batch, hidden_size)
    d_h_T, d_c_T : ndarray, shape (batch, hidden_size), or None
    cache : dict
        From :func:`lstm_forward`.

    Returns
    -------
    dict
        ``x``, ``h0``, ``c0``, ``weight_ih``, ``weight_hh``, ``bias_ih``,
        ``bias_hh`` (equal to torch autograd's), and ``h``, ``c``: the total
        :math:`\\partial L/\\partial h_t` and :math:`\\partial L/\\partial c_t`, shape (T, batch, H).

    Examples
    --------
    >>> p = init_params("lstm", 2, 3, np.random.default_rng(0))
    >>> x, zeros = np.random.default_rng(1).normal(size=(4, 1, 2)), np.zeros((1, 3))
    >>> outputs, h_T, c_T, cache = lstm_forward(x, zeros, zeros, **p)
    >>> grads = lstm_backward(np.zeros_like(outputs), np.ones((1, 3)), None, cache)  # L = sum(h_T)
    >>> bool(np.allclose(grads["h"][-1], 1.0)), grads["weight_ih"].shape
    (True, (12, 2))
    """
    gates, cells, outputs, weight_hh = cache["gates"], cache["cells"], cache["outputs"], cache["weight_hh"]
    d_outputs, d_h = _check_upstream(d_outputs, d_h_T, outputs.shape, "d_h_T")
    _, d_c = _check_upstream(d_outputs, d_c_T, outputs.shape, "d_c_T")
    hidden = weight_hh.shape[1]
    n_steps, batch = outputs.shape[:2]
    i, f, g, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    tanh_c = np.tanh(cells)
    c_prev = np.concatenate([cache["c0"][None], cells[:-1]])
    # Everything that does not depend on the backward signal, for all steps at once: dL/dc_t reaches the
    # pre-activations of i, f, g through these factors, dL/dh_t reaches o's and c_t through the last two.
    via_c = np.stack([g * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g * g)], axis=2)  # (T, batch, 3, H)
    via_h_to_o = tanh_c * o * (1.0 - o)
    via_h_to_c = o * (1.0 - tanh_c * tanh_c)
    d_pre = np.empty((n_steps, batch, 4, hidden), dtype=gates.dtype)
    d_hidden, d_cells = np.empty_like(outputs), np.empty_like(outputs)
    for t in range(n_steps - 1, -1, -1):
        d_h = np.add(d_outputs[t], d_h, out=d_hidden[t])  # the loss at t, plus what comes back from t + 1
        d_c = np.add(d_c, d_h * via_h_to_c[t], out=d_cells[t])
        np.multiply(d_c[:, None, :], via_c[t], out=d_pre[t, :, :3])  # gates i, f, g
        np.multiply(d_h, via_h_to_o[t], out=d_pre[t, :, 3])  # gate o
        d_h = d_pre[t].reshape(batch, 4 * hidden) @ weight_hh
        d_c = d_c * f[t]  # the cell's own path back in time: multiplied by the forget gate only
    d_pre = d_pre.reshape(n_steps, batch, 4 * hidden)
    h_prev = np.concatenate([cache["h0"][None], outputs[:-1]])
    grads = _weight_grads(d_pre, d_pre, cache["x"], h_prev)
    grads.update(x=d_pre @ cache["weight_ih"], h0=d_h, c0=d_c, h=d_hidden, c=d_cells)
    return grads


# --------------------------------------------------------------------------- GRU


def gru_forward(x: np.ndarray, h0: np.ndarray, weight_ih: np.ndarray, weight_hh: np.ndarray, bias_ih: np.ndarray,
                bias_hh: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """The GRU, torch's equations and gate order (r, z, n).

    .. math:: \\begin{aligned}
              r_t &= \\sigma(x_t W_{ir}^T + b_{ir} + h_{t-1} W_{hr}^T + b_{hr}), \\quad
              z_t = \\sigma(x_t W_{iz}^T + b_{iz} + h_{t-1} W_{hz}^T + b_{hz}), \\\\
              n_t &= \\tanh\\big(x_t W_{in}^T + b_{in} + r_t \\odot (h_{t-1} W_{hn}^T + b_{hn})\\big), \\qquad
              h_t = (1 - z_t) \\odot n_t + z_t \\odot h_{t-1}.
              \\end{aligned}

    Parameters
    ----------
    x : ndarray, shape (T, batch, input_size)
    h0 : ndarray, shape (batch, hidden_size)
    weight_ih : ndarray, shape (3 * hidden_size, input_size)
    weight_hh : ndarray, shape (3 * hidden_size, hidden_size)
    bias_ih, bias_hh : ndarray, shape (3 * hidden_size,)

    Returns
    -------
    outputs : ndarray, shape (T, batch, hidden_size)
        Equal to ``torch.nn.GRU``'s output.
    h_T : ndarray, shape (batch, hidden_size)
    cache : dict

    Examples
    --------
    >>> p = init_params("gru", 3, 2, np.random.default_rng(0))
    >>> outputs, h_T, _ = gru_forward(np.zeros((4, 1, 3)), np.zeros((1, 2)), **p)
    >>> bool(np.array_equal(outputs[-1], h_T))
    True
    """
    x, states, weight_ih, weight_hh, bias_ih, bias_hh = _check_layer("gru", x, {"h0": h0}, weight_ih, weight_hh,
                                                                     bias_ih, bias_hh)
    n_steps, batch, _ = x.shape
    hidden = weight_hh.shape[1]
    pre_x = x @ weight_ih.T + bias_ih  # (T, batch, 3H)
    gates = np.empty_like(pre_x)  # r, z, n after their nonlinearities
    hidden_n = np.empty((n_steps, batch, hidden), dtype=pre_x.dtype)  # h_{t-1} W_hn^T + b_hn, which r multiplies
    outputs = np.empty_like(hidden_n)
    h = states["h0"]
    for t in range(n_steps):
        pre_h = h @ weight_hh.T + bias_hh
        rz = _sigmoid(pre_x[t, :, :2 * hidden] + pre_h[:, :2 * hidden])
        r, z = rz[:, :hidden], rz[:, hidden:]
        hidden_n[t] = pre_h[:, 2 * hidden:]
        n = np.tanh(pre_x[t, :, 2 * hidden:] + r * hidden_n[t])
        gates[t, :, :2 * hidden], gates[t, :, 2 * hidden:] = rz, n
        h = outputs[t] = (1.0 - z) * n + z * h
    cache = {"x": x, "h0": states["h0"], "gates": gates, "hidden_n": hidden_n, "outputs": outputs,
             "weight_ih": weight_ih, "weight_hh": weight_hh}
    return outputs, h.copy(), cache


def gru_backward(d_outputs: np.ndarray, d_h_T: np.ndarray | None, cache: dict) -> dict:
    """Backpropagation through time for :func:`gru_forward`.

    With :math:`\\partial h = \\partial L/\\partial h_t`: :math:`\\partial n = \\partial h \\odot (1 - z_t)`,
    :math:`\\partial z = \\partial h \\odot (h_{t-1} - n_t)`, and :math:`h_{t-1}` receives
    :math:`\\partial h \\odot z_t` directly plus everything that flows through
    :math:`W_{hh}`; :math:`r_t` acts on :math:`h_{t-1} W_{hn}^T + b_{hn}`, so the
    candidate's gradient reaches :math:`W_{hn}` and :math:`b_{hn}` multiplied by :math:`r_t`.

    Parameters
    ----------
    d_outputs : ndarray, shape (T, batch, hidden_size)
    d_h_T : ndarray, shape (batch, hidden_size), or None
    cache : dict
        From :func:`gru_forward`.

    Returns
    -------
    dict
        ``x``, ``h0``, ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``
        (equal to torch autograd's) and ``h`` (T, batch, H).

    Examples
    --------
    >>> p = init_params("gru", 2, 3, np.random.default_rng(0))
    >>> outputs, h_T, cache = gru_forward(np.ones((5, 1, 2)), np.zeros((1, 3)), **p)
    >>> grads = gru_backward(np.ones_like(outputs), None, cache)
    >>> grads["x"].shape, grads["weight_hh"].shape
    ((5, 1, 2), (9, 3))
    """
    gates, hidden_n, outputs, weight_hh = cache["gates"], cache["hidden_n"], cache["outputs"], cache["weight_hh"]
    d_outputs, d_h = _check_upstream(d_outputs, d_h_T, outputs.shape, "d_h_T")
    hidden = weight_hh.shape[1]
    d_pre_x, d_pre_h = np.empty_like(gates), np.empty_like(gates)
    d_hidden = np.empty_like(outputs)
    h_prev_all = np.concatenate([cache["h0"][None], outputs[:-1]])
    for t in range(outputs.shape[0] - 1, -1, -1):
        r, z, n = gates[t, :, :hidden], gates[t, :, hidden:2 * hidden], gates[t, :, 2 * hidden:]
        d_h = d_outputs[t] + d_h
        d_hidden[t] = d_h
        d_n = d_h * (1.0 - z) * (1.0 - n * n)  # through tanh
        d_r = d_n * hidden_n[t] * r * (1.0 - r)
        d_z = d_h * (h_prev_all[t] - n) * z * (1.0 - z)
        d_pre_x[t, :, :hidden], d_pre_x[t, :, hidden:2 * hidden], d_pre_x[t, :, 2 * hidden:] = d_r, d_z, d_n
        d_pre_h[t, :, :hidden], d_pre_h[t, :, hidden:2 * hidden], d_pre_h[t, :, 2 * hidden:] = d_r, d_z, d_n * r
        d_h = d_h * z + d_pre_h[t] @ weight_hh
    grads = _weight_grads(d_pre_x, d_pre_h, cache["x"], h_prev_all)
    grads.update(x=d_pre_x @ cache["weight_ih"], h0=d_h, h=d_hidden)
    return grads


# --------------------------------------------------------------------------- truncation and clipping


def truncated_bptt(cell: str, x: np.ndarray, state0, params: dict, d_outputs: np.ndarray, k: int) -> dict:
    """Gradients by truncated BPTT: chunks of ``k`` steps, the state carried forward but not differentiated through.

    The sequence is cut into chunks ``x[0:k], x[k:2k], ...``. Each chunk runs
    forward from the previous chunk's final state, and its backward pass stops
    at the chunk's start, as if that state were a constant (torch:
    ``h = h.detach()`` between chunks). The weight gradients of the chunks are
    added up. Memory and work per update no longer grow with :math:`T`, at the
    price of every dependency longer than ``k`` steps; with ``k >= T`` this is
    full BPTT.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
    x : ndarray, shape (T, batch, input_size)
    state0 : ndarray (batch, hidden_size), or (h0, c0) for "lstm"
    params : dict
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.
    d_outputs : ndarray, shape (T, batch, hidden_size)
        :math:`\\partial L / \\partial` outputs (the loss reads the outputs only).
    k : int
        Truncation length, at least 1.

    Returns
    -------
    dict
        ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.

    Examples
    --------
    >>> p = init_params("rnn", 2, 3, np.random.default_rng(0))
    >>> x, h0 = np.random.default_rng(1).normal(size=(6, 1, 2)), np.zeros((1, 3))
    >>> outputs, _, cache = rnn_forward(x, h0, **p)
    >>> full = rnn_backward(np.ones_like(outputs), None, cache)
    >>> bool(np.allclose(truncated_bptt("rnn", x, h0, p, np.ones_like(outputs), k=6)["weight_hh"], full["weight_hh"]))
    True
    """
    if cell not in GATES:
        raise ValueError(f"cell must be one of {tuple(GATES)}, got {cell!r}")
    k = positive_int(k, "k")
    x = _array(x, "x")
    if x.ndim != 3:
        raise ValueError(f"x must be 3-D, shape (T, batch, input_size), got shape {x.shape}")
    d_outputs = _array(d_outputs, "d_outputs")
    hidden = np.shape(params["weight_hh"])[1] if "weight_hh" in params else None
    if d_outputs.shape != x.shape[:2] + (hidden,):
        raise ValueError(f"d_outputs must have shape (T, batch, hidden_size) = {x.shape[:2] + (hidden,)}, "
                         f"got {d_outputs.shape}")
    weights = {name: params[name] for name in _WEIGHTS}
    if cell == "lstm":
        if not isinstance(state0, (tuple, list)) or len(state0) != 2:
            raise TypeError("state0 of an LSTM must be the pair (h0, c0)")
        state = tuple(state0)
    else:
        state = state0
    total = {name: np.zeros_like(np.asarray(value, dtype=np.float64)) for name, value in weights.items()}
    for start in range(0, x.shape[0], k):
        chunk, d_chunk = x[start:start + k], d_outputs[start:start + k]
        if cell == "rnn":
            _, state, cache = rnn_forward(chunk, state, **weights)
            grads = rnn_backward(d_chunk, None, cache)
        elif cell == "gru":
            _, state, cache = gru_forward(chunk, state, **weights)
            grads = gru_backward(d_chunk, None, cache)
        else:
            _, h, c, cache = lstm_forward(chunk, state[0], state[1], **weights)
            state = (h, c)
            grads = lstm_backward(d_chunk, None, None, cache)
        for name in total:
            total[name] += grads[name]
    return total


def clip_grad_norm(grads, max_norm: float):
    """Rescale gradients so that their global L2 norm is at most ``max_norm`` (torch's ``clip_grad_norm_``).

    .. math:: \\lVert g \\rVert = \\sqrt{\\textstyle\\sum_k \\lVert g_k \\rVert^2}, \\qquad
              g \\leftarrow g \\cdot \\min\\Big(1, \\frac{\\text{max\\_norm}}{\\lVert g \\rVert + 10^{-6}}\\Big).

    The direction is kept; only a step that would be too long is shortened,
    which tames exploding gradients without changing ordinary steps.

    Parameters
    ----------
    grads : dict or list of ndarray
    max_norm : float
        Positive.

    Returns
    -------
    clipped : same structure as ``grads`` (new arrays)
    total_norm : float
        The norm before clipping, as torch returns it.

    Examples
    --------
    >>> clipped, norm = clip_grad_norm([np.array([3.0]), np.array([4.0])], max_norm=1.0)
    >>> norm, np.round(np.concatenate(clipped), 4)
    (5.0, array([0.6, 0.8]))
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, (int, float, np.integer, np.floating)) or max_norm <= 0:
        raise ValueError(f"max_norm must be a positive number, got {max_norm!r}")
    if isinstance(grads, dict):
        arrays = {name: _array(np.asarray(g), f"grads[{name!r}]") for name, g in grads.items()}
        values = list(arrays.values())
    elif isinstance(grads, (list, tuple)):
        values = [_array(np.asarray(g), f"grads[{k}]") for k, g in enumerate(grads)]
    else:
        raise TypeError(f"grads must be a dict or a list of arrays, got {type(grads).__name__}")
    total_norm = float(np.sqrt(sum(float(np.sum(v * v)) for v in values)))
    scale = min(1.0, max_norm / (total_norm + 1e-6))
    if isinstance(grads, dict):
        return {name: v * scale for name, v in arrays.items()}, total_norm
    return type(grads)(v * scale for v in values), total_norm

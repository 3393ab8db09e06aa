"""lessons_lib.rnn: Elman RNN, LSTM and GRU with hand-written backpropagation through time.

For each cell (RNN with tanh and ReLU, LSTM, GRU) the forward pass (outputs and
final states) and EVERY gradient (x, h0, c0, weight_ih, weight_hh, bias_ih,
bias_hh) are compared in float64 with torch.nn.RNN / LSTM / GRU (time-first,
single layer) holding the same weights through to_state_dict. The loss
sum(outputs * G) + sum(h_T * g) (+ sum(c_T * g_c)) makes both dLoss/doutputs and
dLoss/dh_T nonzero. Edge cases: one time step, batch of one, 200 steps. The
per-step gradients "h" (and "c") are compared with torch's gradients of each
step's hidden state (torch.nn.RNNCell / LSTMCell / GRUCell run step by step, retain_grad),
and a few weight gradients with central finite differences. truncated_bptt is
compared with torch with .detach() between chunks (a shorter last chunk
included) and with the full backward pass when k >= T; clip_grad_norm with
torch.nn.utils.clip_grad_norm_. Then init_params, the state-dict round trip and
bad input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from lessons_lib import rnn

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
# (cell, nonlinearity) pairs: the RNN with both of its nonlinearities, the gated cells
VARIANTS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", None)]
VARIANT_IDS = ["rnn-tanh", "rnn-relu", "lstm", "gru"]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def close(ours, reference, rtol=1e-9):
    """Equal in shape and value, relative to the reference's scale (near-zero entries compare sensibly)."""
    ours = np.asarray(ours)
    reference = reference.detach().numpy() if isinstance(reference, torch.Tensor) else np.asarray(reference)
    assert ours.shape == reference.shape, (ours.shape, reference.shape)
    assert np.isfinite(ours).all()
    scale = max(float(np.abs(reference).max(initial=0.0)), 1e-300)
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=1e-12 * scale)


def tt(a, requires_grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=requires_grad)


def torch_module(cell, params, nonlinearity=None):
    """torch.nn.RNN / LSTM / GRU (float64, time-first, one layer) with our weights."""
    hidden, inputs = params["weight_hh"].shape[1], params["weight_ih"].shape[1]
    if cell == "rnn":
        module = torch.nn.RNN(inputs, hidden, nonlinearity=nonlinearity, dtype=torch.float64)
    elif cell == "lstm":
        module = torch.nn.LSTM(inputs, hidden, dtype=torch.float64)
    else:
        module = torch.nn.GRU(inputs, hidden, dtype=torch.float64)
    module.load_state_dict(rnn.to_state_dict(params))
    return module


def torch_cell(cell, params, nonlinearity=None):
    """The one-step torch.nn.RNNCell / LSTMCell / GRUCell with our weights (same names without _l0)."""
    hidden, inputs = params["weight_hh"].shape[1], params["weight_ih"].shape[1]
    if cell == "rnn":
        module = torch.nn.RNNCell(inputs, hidden, nonlinearity=nonlinearity, dtype=torch.float64)
    elif cell == "lstm":
        module = torch.nn.LSTMCell(inputs, hidden, dtype=torch.float64)
    else:
        module = torch.nn.GRUCell(inputs, hidden, dtype=torch.float64)
    module.load_state_dict({name: tt(params[name]) for name in NAMES})
    return module


def problem(cell, T, B, I, H, seed, x_scale=1.0):
    """Random params, input, initial state(s) and loss weights G (T, B, H), g (B, H), g_c (B, H)."""
    rng = np.random.default_rng(seed)
    params = rnn.init_params(cell, I, H, rng)
    x = rng.normal(size=(T, B, I)) * x_scale
    h0 = rng.normal(size=(B, H)) * 0.5
    c0 = rng.normal(size=(B, H)) * 0.5
    G = rng.normal(size=(T, B, H))
    g = rng.normal(size=(B, H))
    g_c = rng.normal(size=(B, H))
    return params, x, h0, c0, G, g, g_c


def ours_forward(cell, x, h0, c0, params, nonlinearity):
    if cell == "rnn":
        out, h_T, cache = rnn.rnn_forward(x, h0, **params, nonlinearity=nonlinearity)
        return out, h_T, None, cache
    if cell == "lstm":
        return rnn.lstm_forward(x, h0, c0, **params)
    out, h_T, cache = rnn.gru_forward(x, h0, **params)
    return out, h_T, None, cache


def ours_backward(cell, d_outputs, d_h_T, d_c_T, cache):
    if cell == "rnn":
        return rnn.rnn_backward(d_outputs, d_h_T, cache)
    if cell == "lstm":
        return rnn.lstm_backward(d_outputs, d_h_T, d_c_T, cache)
    return rnn.gru_backward(d_outputs, d_h_T, cache)


def torch_run(cell, x, h0, c0, params, nonlinearity, G, g, g_c):
    """Forward and autograd in torch; returns outputs, h_T, c_T and the gradient dict named like ours."""
    module = torch_module(cell, params, nonlinearity)
    tx = tt(x, True)
    th0 = tt(h0[None], True)
    tc0 = tt(c0[None], True)
    if cell == "lstm":
        out, (h_n, c_n) = module(tx, (th0, tc0))
    else:
        out, h_n = module(tx, th0)
        c_n = None
    loss = (out * tt(G)).sum()
    if g is not None:
        loss = loss + (h_n[0] * tt(g)).sum()
    if c_n is not None and g_c is not None:
        loss = loss + (c_n[0] * tt(g_c)).sum()
    loss.backward()
    grads = {"x": tx.grad, "h0": th0.grad[0]}
    if cell == "lstm":
        grads["c0"] = tc0.grad[0]
    for name in NAMES:
        grads[name] = getattr(module, name + "_l0").grad
    return out, h_n[0], (None if c_n is None else c_n[0]), grads


def check_against_torch(cell, nl, T, B, I, H, seed, *, with_final=True, x_scale=1.0):
    params, x, h0, c0, G, g, g_c = problem(cell, T, B, I, H, seed, x_scale)
    if not with_final:
        g = g_c = None
    inputs = {"x": x, "h0": h0, "c0": c0, "G": G, "g": g, "g_c": g_c, **params}
    before = {k: None if v is None else v.copy() for k, v in inputs.items()}
    out, h_T, c_T, cache = ours_forward(cell, x, h0, c0, params, nl)
    grads = ours_backward(cell, G, g, g_c, cache)
    for k, v in inputs.items():  # nothing is modified in place
        if v is not None:
            np.testing.assert_array_equal(v, before[k], err_msg=k)
    t_out, t_h, t_c, t_grads = torch_run(cell, x, h0, c0, params, nl, G, g, g_c)
    close(out, t_out)
    close(h_T, t_h)
    if cell == "lstm":
        close(c_T, t_c)
    for name, reference in t_grads.items():
        assert name in grads, f"missing gradient {name!r}"
        close(grads[name], reference)
    return out, grads


# --------------------------------------------------------------------------- forward and backward vs torch

SIZES = [(5, 3, 4, 6), (1, 2, 3, 4), (6, 1, 2, 3), (1, 1, 1, 1), (4, 4, 1, 7), (3, 2, 8, 2)]


@pytest.mark.parametrize("cell, nl", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("T, B, I, H", SIZES, ids=str)
def test_forward_and_every_gradient_equal_torch(cell, nl, T, B, I, H):
    check_against_torch(cell, nl, T, B, I, H, seed=[T, B, I, H, GATES[cell]])


@pytest.mark.parametrize("cell, nl", VARIANTS, ids=VARIANT_IDS)
def test_d_h_T_none_means_no_final_state_term(cell, nl):
    check_against_torch(cell, nl, 4, 3, 2, 5, seed=[11, GATES[cell]], with_final=False)


@pytest.mark.parametrize("cell, nl", VARIANTS, ids=VARIANT_IDS)
def test_large_inputs_saturate_like_torch(cell, nl):
    check_against_torch(cell, nl, 5, 2, 3, 4, seed=[12, GATES[cell]], x_scale=20.0)


@pytest.mark.parametrize("cell, nl", [("rnn", "tanh"), ("lstm", None), ("gru", None)], ids=["rnn", "lstm", "gru"])
def test_long_sequence_stays_finite_and_equals_torch(cell, nl):
    out, grads = check_against_torch(cell, nl, 200, 2, 3, 8, seed=[13, GATES[cell]])
    assert np.isfinite(out).all()
    assert all(np.isfinite(v).all() for v in grads.values())


def test_lstm_d_c_T_alone():
    """Only the final cell state enters the loss: d_outputs = 0, d_h_T = 0."""
    params, x, h0, c0, G, g, g_c = problem("lstm", 4, 2, 3, 5, seed=14)
    _, _, _, cache = rnn.lstm_forward(x, h0, c0, **params)
    grads = rnn.lstm_backward(np.zeros_like(G), np.zeros_like(g), g_c, cache)
    *_, t_grads = torch_run("lstm", x, h0, c0, params, None, np.zeros_like(G), np.zeros_like(g), g_c)
    for name, reference in t_grads.items():
        close(grads[name], reference)


def test_float32_inputs_are_computed_in_float64():
    params, x, h0, c0, G, g, g_c = problem("gru", 3, 2, 3, 4, seed=15)
    out, h_T, cache = rnn.gru_forward(x.astype(np.float32), h0.astype(np.float32), **params)
    assert out.dtype == np.float64 and h_T.dtype == np.float64
    t_out, t_h, _, _ = torch_run("gru", x.astype(np.float32).astype(np.float64),
                                 h0.astype(np.float32).astype(np.float64), c0, params, None, G, g, None)
    close(out, t_out)


# --------------------------------------------------------------------------- per-step gradients "h" and "c"

@pytest.mark.parametrize("cell, nl", VARIANTS, ids=VARIANT_IDS)
@pytest.mark.parametrize("T", [1, 6])
def test_per_step_hidden_gradients_equal_torch(cell, nl, T):
    """'h'[t] = dLoss/dh_t in total (through every later step), 'c'[t] likewise for the LSTM."""
    B, I, H = 3, 2, 4
    params, x, h0, c0, G, g, g_c = problem(cell, T, B, I, H, seed=[21, T, GATES[cell]])
    _, _, _, cache = ours_forward(cell, x, h0, c0, params, nl)
    grads = ours_backward(cell, G, g, g_c, cache)

    step = torch_cell(cell, params, nl)
    h, c = tt(h0), tt(c0)
    hs, cs = [], []
    for t in range(T):
        if cell == "lstm":
            h, c = step(tt(x[t]), (h, c))
            c.retain_grad()
            cs.append(c)
        else:
            h = step(tt(x[t]), h)
        h.retain_grad()
        hs.append(h)
    loss = (torch.stack(hs) * tt(G)).sum() + (h * tt(g)).sum()
    if cell == "lstm":
        loss = loss + (c * tt(g_c)).sum()
    loss.backward()

    close(grads["h"], torch.stack([v.grad for v in hs]))
    if cell == "lstm":
        close(grads["c"], torch.stack([v.grad for v in cs]))


# --------------------------------------------------------------------------- finite differences

@pytest.mark.parametrize("cell, nl", VARIANTS, ids=VARIANT_IDS)
def test_weight_gradients_equal_finite_differences(cell, nl):
    T, B, I, H = 4, 2, 3, 3
    params, x, h0, c0, G, g, g_c = problem(cell, T, B, I, H, seed=[31, GATES[cell]])
    _, _, _, cache = ours_forward(cell, x, h0, c0, params, nl)
    grads = ours_backward(cell, G, g, g_c, cache)

    def loss(p):
        out, h_T, c_T, _ = ours_forward(cell, x, h0, c0, p, nl)
        value = np.sum(out * G) + np.sum(h_T * g)
        return value + (np.sum(c_T * g_c) if cell == "lstm" else 0.0)

    rng = np.random.default_rng(32)
    eps = 1e-6
    for name in NAMES:
        for _ in range(3):
            index = tuple(int(rng.integers(0, n)) for n in params[name].shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (loss(plus) - loss(minus)) / (2 * eps)
            assert grads[name][index] == pytest.approx(numeric, rel=1e-6, abs=1e-8), (name, index)


# --------------------------------------------------------------------------- truncated BPTT

def state0_for(cell, h0, c0):
    return (h0, c0) if cell == "lstm" else h0


def torch_tbptt(cell, x, h0, c0, params, G, k):
    """torch: each chunk of k steps starts from the previous chunk's final state, detached; grads accumulate."""
    module = torch_module(cell, params, "tanh" if cell == "rnn" else None)
    state = (tt(h0[None]), tt(c0[None])) if cell == "lstm" else tt(h0[None])
    T = x.shape[0]
    for start in range(0, T, k):
        out, state = module(tt(x[start:start + k]), state)
        (out * tt(G[start:start + k])).sum().backward()
        state = tuple(s.detach() for s in state) if cell == "lstm" else state.detach()
    return {name: getattr(module, name + "_l0").grad for name in NAMES}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("T, k", [(10, 3), (10, 5), (10, 1), (7, 6), (10, 9)], ids=str)
def test_truncated_bptt_equals_torch_with_detach(cell, T, k):
    params, x, h0, c0, G, g, g_c = problem(cell, T, 2, 3, 4, seed=[41, T, k, GATES[cell]])
    ours = rnn.truncated_bptt(cell, x, state0_for(cell, h0, c0), params, G, k)
    reference = torch_tbptt(cell, x, h0, c0, params, G, k)
    for name in NAMES:
        close(ours[name], reference[name])
    # and truncation really changes the answer (so the comparison above can tell k apart from T)
    _, _, _, cache = ours_forward(cell, x, h0, c0, params, "tanh")
    full = ours_backward(cell, G, None, None, cache)
    assert not np.allclose(ours["weight_hh"], full["weight_hh"], rtol=1e-6, atol=0)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("k", [8, 9, 100])
def test_truncated_bptt_with_k_at_least_T_is_full_backward(cell, k):
    T = 8
    params, x, h0, c0, G, g, g_c = problem(cell, T, 3, 2, 5, seed=[42, k, GATES[cell]])
    ours = rnn.truncated_bptt(cell, x, state0_for(cell, h0, c0), params, G, k)
    _, _, _, cache = ours_forward(cell, x, h0, c0, params, "tanh")
    full = ours_backward(cell, G, None, None, cache)
    reference = torch_tbptt(cell, x, h0, c0, params, G, k)
    for name in NAMES:
        close(ours[name], full[name])
        close(ours[name], reference[name])


# --------------------------------------------------------------------------- clip_grad_norm

def torch_clip(arrays, max_norm):
    tensors = []
    for a in arrays:
        p = torch.zeros(a.shape, dtype=torch.float64, requires_grad=True)
        p.grad = tt(a)
        tensors.append(p)
    total = torch.nn.utils.clip_grad_norm_(tensors, max_norm)
    return [p.grad for p in tensors], float(total)


def random_grads(seed):
    rng = np.random.default_rng(seed)
    return {"weight_ih": rng.normal(size=(8, 3)), "weight_hh": rng.normal(size=(8, 2)) * 3,
            "bias_ih": rng.normal(size=8), "bias_hh": rng.normal(size=8) * 0.1}


@pytest.mark.parametrize("factor", [0.1, 0.5, 1.0, 2.0, 100.0])
@pytest.mark.parametrize("as_list", [False, True], ids=["dict", "list"])
def test_clip_grad_norm_equals_torch(factor, as_list):
    grads = random_grads(51)
    norm = math.sqrt(sum(float(np.sum(v ** 2)) for v in grads.values()))
    max_norm = factor * norm
    reference, t_total = torch_clip(list(grads.values()), max_norm)
    given = list(grads.values()) if as_list else grads
    before = {k: v.copy() for k, v in grads.items()}
    clipped, total = rnn.clip_grad_norm(given, max_norm)
    for k, v in grads.items():  # new arrays: the caller's gradients are left as they were
        np.testing.assert_array_equal(v, before[k])
    assert total == pytest.approx(t_total, rel=1e-12)
    assert total == pytest.approx(norm, rel=1e-12)
    if as_list:
        assert isinstance(clipped, list) and len(clipped) == len(reference)
        pairs = zip(clipped, reference)
    else:
        assert isinstance(clipped, dict) and list(clipped) == list(grads)
        pairs = zip(clipped.values(), reference)
    for ours, ref in pairs:
        close(ours, ref, rtol=1e-12)
    new_norm = math.sqrt(sum(float(np.sum(np.asarray(v) ** 2)) for v in (clipped if as_list else clipped.values())))
    assert new_norm <= max_norm * (1 + 1e-12)


def test_clip_grad_norm_of_zero_gradients():
    grads = [np.zeros((3, 2)), np.zeros(4)]
    reference, t_total = torch_clip(grads, 1.0)
    clipped, total = rnn.clip_grad_norm(grads, 1.0)
    assert total == t_total == 0.0
    for ours, ref in zip(clipped, reference):
        np.testing.assert_array_equal(ours, ref.numpy())


# --------------------------------------------------------------------------- init_params and state dicts

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_init_params_shapes_bounds_and_law(cell):
    I, H = 24, 48
    params = rnn.init_params(cell, I, H, np.random.default_rng(61))
    again = rnn.init_params(cell, I, H, np.random.default_rng(61))
    other = rnn.init_params(cell, I, H, np.random.default_rng(62))
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H)
    assert set(params) == set(NAMES)
    bound = 1 / math.sqrt(H)
    law = scipy.stats.uniform(-bound, 2 * bound).cdf
    for name in NAMES:
        w = params[name]
        assert w.shape == tuple(getattr(module, name + "_l0").shape)
        assert w.shape[0] == GATES[cell] * H
        assert w.dtype == np.float64
        assert np.abs(w).max() <= bound
        np.testing.assert_array_equal(w, again[name])
        assert not np.array_equal(w, other[name])
        assert scipy.stats.kstest(w.ravel(), law).pvalue > 1e-3, name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
def test_state_dict_round_trip(cell, dtype):
    torch.manual_seed(71)
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](3, 5, dtype=dtype)
    params = rnn.from_state_dict(module.state_dict())
    assert set(params) == set(NAMES)
    for name in NAMES:
        assert isinstance(params[name], np.ndarray) and params[name].dtype == np.float64
        np.testing.assert_array_equal(params[name], getattr(module, name + "_l0").detach().double().numpy())
    state = rnn.to_state_dict(params)
    assert set(state) == {name + "_l0" for name in NAMES}
    assert all(isinstance(v, torch.Tensor) and v.dtype == torch.float64 for v in state.values())
    fresh = type(module)(3, 5, dtype=torch.float64)
    fresh.load_state_dict(state)
    for name, value in module.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[name], value.double(), rtol=0, atol=0)


# --------------------------------------------------------------------------- bad input

def args_for(cell, T=3, B=2, I=4, H=5, seed=81):
    params, x, h0, c0, G, g, g_c = problem(cell, T, B, I, H, seed)
    return params, x, h0, c0


def forward(cell, x, h0, c0, params, nonlinearity="tanh"):
    return ours_forward(cell, x, h0, c0, params, nonlinearity if cell == "rnn" else None)


X_NAME = r"\bx\b"


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
class TestBadInput:
    def test_x_not_3d(self, cell):
        params, x, h0, c0 = args_for(cell)
        for bad in (x[0], x[None], x.ravel()):
            with pytest.raises(ValueError, match=r"\bx\b.*3-D"):
                forward(cell, bad, h0, c0, params)

    def test_h0_wrong_shape(self, cell):
        params, x, h0, c0 = args_for(cell)
        for bad in (h0[None], h0[:, :-1], h0[:1], h0.ravel()):  # h0[None] is torch's (1, B, H) layout
            with pytest.raises(ValueError, match=r"h0.*\(2, 5\)"):  # names the argument and the expected shape
                forward(cell, x, bad, c0, params)

    def test_weight_ih_rows_for_another_cell(self, cell):
        params, x, h0, c0 = args_for(cell)
        other = "lstm" if cell != "lstm" else "gru"
        wrong = rnn.init_params(other, 4, 5, np.random.default_rng(82))
        rows = GATES[cell] * 5
        with pytest.raises(ValueError, match=rf"weight_ih.*\({rows}, 4\)"):
            forward(cell, x, h0, c0, {**params, "weight_ih": wrong["weight_ih"]})
        with pytest.raises(ValueError, match="weight_hh"):
            forward(cell, x, h0, c0, {**params, "weight_hh": wrong["weight_hh"]})
        with pytest.raises(ValueError, match=rf"bias_ih.*\({rows},\)"):
            forward(cell, x, h0, c0, {**params, "bias_ih": wrong["bias_ih"]})
        with pytest.raises(ValueError, match=rf"bias_hh.*\({rows},\)"):
            forward(cell, x, h0, c0, {**params, "bias_hh": wrong["bias_hh"]})

    def test_inconsistent_input_size(self, cell):
        params, x, h0, c0 = args_for(cell)
        with pytest.raises(ValueError, match=r"\bx\b|weight_ih"):
            forward(cell, x[:, :, :3], h0, c0, params)

    def test_weight_hh_not_square(self, cell):
        params, x, h0, c0 = args_for(cell)
        with pytest.raises(ValueError, match="weight_hh"):
            forward(cell, x, h0, c0, {**params, "weight_hh": params["weight_hh"][:, :-1]})

    def test_nan_inputs(self, cell):
        params, x, h0, c0 = args_for(cell)
        bad_x = x.copy()
        bad_x[1, 0, 2] = np.nan
        with pytest.raises(ValueError, match=X_NAME):
            forward(cell, bad_x, h0, c0, params)
        bad_h0 = h0.copy()
        bad_h0[0, 0] = np.nan
        with pytest.raises(ValueError, match="h0"):
            forward(cell, x, bad_h0, c0, params)
        bad_w = params["weight_hh"].copy()
        bad_w[0, 0] = np.nan
        with pytest.raises(ValueError, match="weight_hh"):
            forward(cell, x, h0, c0, {**params, "weight_hh": bad_w})

    def test_d_outputs_wrong_shape(self, cell):
        params, x, h0, c0 = args_for(cell)
        out, h_T, c_T, cache = forward(cell, x, h0, c0, params)
        for bad in (out[:-1], out[:, :1], out[0], out[..., :-1]):
            with pytest.raises(ValueError, match=r"d_outputs.*\(3, 2, 5\)"):
                ours_backward(cell, np.ones_like(bad), h_T, c_T, cache)
        with pytest.raises(ValueError, match="d_h_T"):
            ours_backward(cell, np.ones_like(out), h_T[:, :-1], c_T, cache)
        if cell == "lstm":
            with pytest.raises(ValueError, match="d_c_T"):
                ours_backward(cell, np.ones_like(out), h_T, c_T[:1], cache)
        with pytest.raises(ValueError, match="d_outputs"):
            bad = np.ones_like(out)
            bad[0, 0, 0] = np.nan
            ours_backward(cell, bad, h_T, c_T, cache)

    def test_truncated_bptt_k_below_one(self, cell):
        params, x, h0, c0 = args_for(cell)
        d_out = np.ones((3, 2, 5))
        for k in (0, -2):
            with pytest.raises(ValueError, match=r"\bk\b"):
                rnn.truncated_bptt(cell, x, state0_for(cell, h0, c0), params, d_out, k)

    @pytest.mark.parametrize("k", [1, 2, 3])
    @pytest.mark.parametrize("shape", [(2, 2, 5), (5, 2, 5), (4, 2, 5), (3, 1, 5), (3, 2, 4), (3, 2)], ids=str)
    def test_truncated_bptt_d_outputs_wrong_shape(self, cell, shape, k):
        """x is (3, 2, 4) and H = 5, so d_outputs must be (3, 2, 5): shorter, longer or narrower is refused."""
        params, x, h0, c0 = args_for(cell)
        with pytest.raises(ValueError, match="d_outputs"):
            rnn.truncated_bptt(cell, x, state0_for(cell, h0, c0), params, np.ones(shape), k)


def test_lstm_c0_wrong_shape_or_nan():
    params, x, h0, c0 = args_for("lstm")
    with pytest.raises(ValueError, match="c0"):
        rnn.lstm_forward(x, h0, c0[:, :-1], **params)
    with pytest.raises(ValueError, match="c0"):
        rnn.lstm_forward(x, h0, c0[None], **params)
    bad = c0.copy()
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="c0"):
        rnn.lstm_forward(x, h0, bad, **params)


def test_unknown_nonlinearity():
    params, x, h0, c0 = args_for("rnn")
    for bad in ("sigmoid", "Tanh", ""):
        with pytest.raises(ValueError, match="nonlinearity"):
            rnn.rnn_forward(x, h0, **params, nonlinearity=bad)


def test_unknown_cell():
    with pytest.raises(ValueError, match="cell"):
        rnn.init_params("transformer", 3, 4, np.random.default_rng(0))
    params, x, h0, c0 = args_for("rnn")
    with pytest.raises(ValueError, match="cell"):
        rnn.truncated_bptt("RNN", x, h0, params, np.ones((3, 2, 5)), 2)


@pytest.mark.parametrize("max_norm", [0.0, -1.0])
def test_clip_grad_norm_max_norm_not_positive(max_norm):
    with pytest.raises(ValueError, match="max_norm"):
        rnn.clip_grad_norm(random_grads(90), max_norm)
    with pytest.raises(ValueError, match="max_norm"):
        rnn.clip_grad_norm(list(random_grads(90).values()), max_norm)


def test_clip_grad_norm_nan_gradients():
    grads = random_grads(91)
    grads["bias_hh"][2] = np.nan
    with pytest.raises(ValueError, match="grads"):
        rnn.clip_grad_norm(grads, 1.0)


def test_init_params_bad_sizes():
    with pytest.raises(ValueError, match="input_size"):
        rnn.init_params("lstm", 0, 4, np.random.default_rng(0))
    with pytest.raises(ValueError, match="hidden_size"):
        rnn.init_params("lstm", 3, 0, np.random.default_rng(0))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_all_float32_inputs_stay_float32_and_match_float64(cell):
    """Every array float32 -> the arithmetic and every result in float32, close to the float64 result."""
    rng = np.random.default_rng(77)
    params64 = rnn.init_params(cell, 3, 4, rng)
    x64, h64 = rng.normal(size=(6, 2, 3)), rng.normal(size=(2, 4))
    results = {}
    for dtype in (np.float32, np.float64):
        params = {k: v.astype(dtype) for k, v in params64.items()}
        x, h0 = x64.astype(dtype), h64.astype(dtype)
        if cell == "lstm":
            out, h_T, c_T, cache = rnn.lstm_forward(x, h0, h0, **params)
            grads = rnn.lstm_backward(np.ones_like(out), None, None, cache)
            arrays = [out, h_T, c_T, *grads.values()]
        elif cell == "gru":
            out, h_T, cache = rnn.gru_forward(x, h0, **params)
            arrays = [out, h_T, *rnn.gru_backward(np.ones_like(out), None, cache).values()]
        else:
            out, h_T, cache = rnn.rnn_forward(x, h0, **params)
            arrays = [out, h_T, *rnn.rnn_backward(np.ones_like(out), None, cache).values()]
        assert {a.dtype for a in arrays} == {np.dtype(dtype)}
        results[dtype] = arrays
    for a32, a64 in zip(results[np.float32], results[np.float64]):
        np.testing.assert_allclose(a32, a64, rtol=1e-4, atol=1e-5)

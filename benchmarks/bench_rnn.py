"""lessons_lib.rnn's LSTM, forward and backward through time, against torch.nn.LSTM on the CPU (Chapter 4).

Batch 32, T = 100 steps, hidden size 128 (the issue's size), input 39 (MFCC frames). Our NumPy code runs in
the inputs' precision: float64 against torch in float64 (the same arithmetic) and in float32 (torch's default,
with its fused CPU kernels), and float32 against torch's float32.
"""

from __future__ import annotations

import numpy as np
import torch

from lessons_lib import rnn

from .core import Case, assert_close

T, B, I, H = 100, 32, 39, 128


def _inputs():
    rng = np.random.default_rng(0)
    params = rnn.init_params("lstm", I, H, rng)
    return {"params": params, "x": rng.normal(size=(T, B, I)), "d_outputs": rng.normal(size=(T, B, H))}


def _inputs32():
    return {"params": {k: v.astype(np.float32) for k, v in _inputs()["params"].items()},
            "x": _inputs()["x"].astype(np.float32), "d_outputs": _inputs()["d_outputs"].astype(np.float32)}


def _ours(params, x, d_outputs):
    zeros = np.zeros((B, H), dtype=x.dtype)
    outputs, _, _, cache = rnn.lstm_forward(x, zeros, zeros, **params)
    grads = rnn.lstm_backward(d_outputs, None, None, cache)
    return outputs, grads["x"], grads["weight_hh"]


def _torch(dtype):
    def run(params, x, d_outputs):
        module = torch.nn.LSTM(I, H).to(dtype)
        module.load_state_dict({k: v.to(dtype) for k, v in rnn.to_state_dict(params).items()})
        x_t = torch.tensor(x, dtype=dtype, requires_grad=True)
        outputs, _ = module(x_t)
        outputs.backward(torch.tensor(d_outputs, dtype=dtype))
        return outputs.detach().double().numpy(), x_t.grad.double().numpy(), module.weight_hh_l0.grad.double().numpy()
    return run


def _same(tolerance):
    def check(ours, reference):
        for a, b in zip(ours, reference):
            assert_close(a, b, rtol=tolerance, atol=tolerance)
    return check


CASES = [
    Case(f"rnn.lstm_forward + lstm_backward, batch {B}, T={T}, hidden {H} (vs torch.nn.LSTM float64)", _inputs,
         _ours, _torch(torch.float64), _same(1e-9)),
    Case(f"rnn.lstm_forward + lstm_backward, batch {B}, T={T}, hidden {H}, float64 (vs torch.nn.LSTM float32)",
         _inputs, _ours, _torch(torch.float32), _same(2e-3)),
    Case(f"rnn.lstm_forward + lstm_backward, batch {B}, T={T}, hidden {H}, float32 (vs torch.nn.LSTM float32)",
         _inputs32, _ours, _torch(torch.float32), _same(2e-3)),
]

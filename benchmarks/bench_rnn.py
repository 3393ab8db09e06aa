"""lessons_lib.rnn's LSTM, forward and backward through time, against torch.nn.LSTM on the CPU (Chapter 4).

Batch 32, T = 100 steps, hidden size 128 (the issue's size), input 39 (MFCC frames). Our NumPy code computes
in float64; torch is timed in float64 (the same arithmetic) and in float32 (its default, with its fused
CPU kernels).
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


def _ours(params, x, d_outputs):
    zeros = np.zeros((B, H))
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
    Case(f"rnn.lstm_forward + lstm_backward, batch {B}, T={T}, hidden {H} (vs torch.nn.LSTM float32)", _inputs,
         _ours, _torch(torch.float32), _same(2e-3)),
]

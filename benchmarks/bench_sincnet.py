"""lessons_lib.models.sincnet.SincConv1d against an ordinary ``nn.Conv1d`` of the same shape (Chapter 6).

What the sinc layer costs over a plain convolution: every call rebuilds its filters from the edges (a few
element-wise operations on ``out_channels x kernel_size`` values) before the same ``F.conv1d``. The
``nn.Conv1d`` holds the sinc layer's current filters as its weights (no bias), so both compute the same output,
checked before timing. Inputs: a batch of 200 ms chunks at 8 kHz (the recipe's quick size: 32 filters of 101
taps) and at 16 kHz (the paper's: 80 filters of 251 taps). Forward only, and forward + backward of the sum of
squares (the gradient reaching 2 x 32 edges against 32 x 101 weights), under ``torch.no_grad`` for the forward
cases. torch runs on one thread during each call, as in the other model benchmarks.
"""

from __future__ import annotations

import torch

from lessons_lib.models.sincnet import SincConv1d

from .core import Case, assert_close, one_thread

# (filters, taps, sample rate, samples per chunk, batch)
SIZES = [(32, 101, 8000, 1600, 64), (80, 251, 16000, 3200, 32)]


def _setup(filters, taps, sample_rate, samples, batch):
    def setup():
        sinc = SincConv1d(filters, taps, sample_rate)
        conv = torch.nn.Conv1d(1, filters, taps, bias=False)
        with torch.no_grad():
            conv.weight.copy_(sinc.filters().unsqueeze(1))
        x = torch.randn(batch, 1, samples, generator=torch.Generator().manual_seed(0))
        return {"sinc": sinc, "conv": conv, "x": x}
    return setup


def _sinc_forward(sinc, conv, x):
    with torch.no_grad(), one_thread():
        return sinc(x)


def _conv_forward(sinc, conv, x):
    with torch.no_grad(), one_thread():
        return conv(x)


def _sinc_backward(sinc, conv, x):
    sinc.zero_grad(set_to_none=True)
    with one_thread():
        y = sinc(x)
        y.square().sum().backward()
    return y.detach()


def _conv_backward(sinc, conv, x):
    conv.zero_grad(set_to_none=True)
    with one_thread():
        y = conv(x)
        y.square().sum().backward()
    return y.detach()


def _same(ours, reference):
    assert ours.shape == reference.shape
    assert_close(ours.numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)


CASES = [
    case
    for filters, taps, rate, samples, batch in SIZES
    for case in (
        Case(f"models.sincnet.SincConv1d forward, {filters} filters x {taps} taps, batch {batch} x 1 x {samples} "
             f"({rate // 1000} kHz) (vs nn.Conv1d of the same shape)",
             _setup(filters, taps, rate, samples, batch), _sinc_forward, _conv_forward, _same),
        Case(f"models.sincnet.SincConv1d forward + backward, {filters} filters x {taps} taps, batch {batch} x 1 x "
             f"{samples} ({rate // 1000} kHz) (vs nn.Conv1d of the same shape)",
             _setup(filters, taps, rate, samples, batch), _sinc_backward, _conv_backward, _same),
    )
]

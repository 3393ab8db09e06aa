"""lessons_lib.conv's NumPy conv2d, forward and backward, against torch.nn.functional.conv2d on the CPU (Chapter 6).

Both sides compute, in float64, the output of a 3 x 3 convolution with padding 1 and bias and the three
gradients of ``sum(y * G)`` (input, weight, bias): ours with ``conv2d(..., return_cache=True)`` and
``conv2d_backward``, torch with ``F.conv2d`` and autograd. Two shapes: a batch of 16 log-mel spectrograms
(1 channel, 40 mels x 101 frames) into 16 channels, the first layer of Chapter 6's classifiers; and a
mid-network layer, 16 -> 32 channels on 20 x 50. The check: every result equal within 1e-9.

Both sides run on ONE thread (:func:`benchmarks.core.one_thread`: NumPy's BLAS and torch's intra-op pool).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from lessons_lib import conv

from .core import Case, assert_close, one_thread


def _inputs(batch, c_in, c_out, height, width):
    def setup():
        rng = np.random.default_rng(0)
        x = rng.standard_normal((batch, c_in, height, width))
        weight = rng.standard_normal((c_out, c_in, 3, 3)) / np.sqrt(9 * c_in)
        bias = rng.standard_normal(c_out)
        d_out = rng.standard_normal((batch, c_out, height, width))
        tensors = {f"{k}_t": torch.from_numpy(v) for k, v in
                   {"x": x, "weight": weight, "bias": bias, "d_out": d_out}.items()}
        return {"x": x, "weight": weight, "bias": bias, "d_out": d_out, **tensors}
    return setup


def _ours(x, weight, bias, d_out, **_):
    with one_thread():
        y, cache = conv.conv2d(x, weight, bias, padding=1, return_cache=True)
        return (y, *conv.conv2d_backward(d_out, cache))


def _torch(x_t, weight_t, bias_t, d_out_t, **_):
    x, weight, bias = (t.detach().requires_grad_() for t in (x_t, weight_t, bias_t))
    with one_thread():
        y = F.conv2d(x, weight, bias, padding=1)
        y.backward(d_out_t)
    return tuple(t.detach().numpy() for t in (y, x.grad, weight.grad, bias.grad))


def _same(ours, reference):
    for a, b in zip(ours, reference, strict=True):
        assert_close(a, b, rtol=1e-9, atol=1e-9)


CASES = [
    Case("conv.conv2d + conv2d_backward, float64, spectrogram batch 16 x 1 -> 16 channels, 40 x 101, 3 x 3 "
         "(vs F.conv2d + autograd)", _inputs(16, 1, 16, 40, 101), _ours, _torch, _same),
    Case("conv.conv2d + conv2d_backward, float64, mid-network batch 16 x 16 -> 32 channels, 20 x 50, 3 x 3 "
         "(vs F.conv2d + autograd)", _inputs(16, 16, 32, 20, 50), _ours, _torch, _same),
]

"""lessons_lib.models.flows.InvertibleConv1x1: the LU log-determinant against ``torch.linalg.slogdet`` (Chapter 7).

Glow's 1x1 convolution needs :math:`\\log\\lvert\\det \\mathbf W\\rvert` at every forward pass. Stored as
:math:`\\mathbf W = \\mathbf P \\mathbf L (\\mathbf U + \\operatorname{diag}(\\mathbf s))`, it is
:math:`\\sum_c \\log\\lvert s_c\\rvert`, :math:`O(C)`; stored plainly, it is an LU factorisation of
:math:`\\mathbf W` each time, :math:`O(C^3)`. Ours: ``InvertibleConv1x1(C, lu=True).log_abs_det()``; the
reference: ``torch.linalg.slogdet`` of the same layer's assembled weight (``weight_matrix()``, assembled once
in ``setup``), checked equal (float64, 1e-8) before timing. Two settings: the value alone (``torch.no_grad``)
and value + gradient (backward of the log-determinant to the parameters: to ``log_s`` for ours, to the full
``W``, :math:`\\mathbf W^{-\\top}`, for the reference). The layer's parameters are the initial rotation's factors
moved by small random steps (its own log-determinant is 0). One torch thread, float64.
"""

from __future__ import annotations

import torch

from lessons_lib.models.flows import InvertibleConv1x1

from .core import Case, assert_close, one_thread

CHANNELS = [8, 32, 128, 512]
#: Log-determinants per timed call: entering one_thread() costs about as much as an O(C) sum, so each call
#: repeats the computation and the times are per REPEATS evaluations.
REPEATS = 100


def _setup(channels):
    def setup():
        gen = torch.Generator().manual_seed(channels)
        conv = InvertibleConv1x1(channels, lu=True, generator=gen).double()
        with torch.no_grad():
            # triangular factors with random entries grow ill-conditioned with C: small steps, scaled by 1/sqrt(C)
            step = 0.1 / channels ** 0.5
            conv.lower.add_(step * torch.randn(conv.lower.shape, generator=gen, dtype=torch.float64))
            conv.upper.add_(step * torch.randn(conv.upper.shape, generator=gen, dtype=torch.float64))
            conv.log_s.add_(0.1 * torch.randn(conv.log_s.shape, generator=gen, dtype=torch.float64))
        weight = conv.weight_matrix().detach().clone().requires_grad_(True)
        return {"conv": conv, "weight": weight}
    return setup


def _lu(conv, weight):
    with torch.no_grad(), one_thread():
        for _ in range(REPEATS):
            value = conv.log_abs_det()
    return value


def _slogdet(conv, weight):
    with torch.no_grad(), one_thread():
        for _ in range(REPEATS):
            value = torch.linalg.slogdet(weight)[1]
    return value


def _lu_backward(conv, weight):
    with one_thread():
        for _ in range(REPEATS):
            conv.zero_grad(set_to_none=True)
            value = conv.log_abs_det()
            value.backward()
    return value.detach()


def _slogdet_backward(conv, weight):
    with one_thread():
        for _ in range(REPEATS):
            weight.grad = None
            value = torch.linalg.slogdet(weight)[1]
            value.backward()
    return value.detach()


def _same(ours, reference):
    assert_close(ours.numpy(), reference.numpy(), rtol=1e-8, atol=1e-8)


CASES = [
    case
    for c in CHANNELS
    for case in (
        Case(f"models.flows.InvertibleConv1x1 LU log|det W|, C = {c}, x{REPEATS} (vs torch.linalg.slogdet of W)",
             _setup(c), _lu, _slogdet, _same),
        Case(f"models.flows.InvertibleConv1x1 LU log|det W| + gradient, C = {c}, x{REPEATS} (vs "
             f"torch.linalg.slogdet of W + gradient)", _setup(c), _lu_backward, _slogdet_backward, _same),
    )
]

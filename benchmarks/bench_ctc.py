"""lessons_lib.ctc's batched torch CTC loss, forward and backward, against torch.nn.functional.ctc_loss (Chapter 5).

The issue's size: batch N = 32, T = 200 frames, C = 30 classes, targets up to S = 40 labels (lengths 20-40),
on the CPU; and the shape of the digit recogniser's batches (T = 110, C = 11, S <= 5), where the per-step
cost of the Python loop over time weighs more against the little work in each step. Both sides start from the same logits, apply log_softmax, compute the mean loss and backpropagate
to the logits; the check compares the loss and the logits' gradient. The NumPy reference implementation
(:func:`lessons_lib.ctc.ctc_loss`) is for teaching and is not timed against torch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lessons_lib import ctc

from .core import Case, assert_close

T, N, C, S = 200, 32, 30, 40
DIGITS = {"T": 110, "N": 32, "C": 11, "S": 5}  # the shape of a training batch of notebooks/05b_ctc_digits.ipynb


def _inputs(dtype, T=T, N=N, C=C, S=S):
    def setup():
        generator = torch.Generator().manual_seed(0)
        return {
            "logits": torch.randn(T, N, C, generator=generator, dtype=dtype),
            "targets": torch.randint(1, C, (N, S), generator=generator),
            "input_lengths": torch.full((N,), T),
            "target_lengths": torch.randint(S // 2, S + 1, (N,), generator=generator),
        }
    return setup


def _run(loss_fn):
    def run(logits, targets, input_lengths, target_lengths):
        logits = logits.detach().requires_grad_(True)
        loss = loss_fn(logits.log_softmax(-1), targets, input_lengths, target_lengths)
        loss.backward()
        return loss.detach().double().numpy(), logits.grad.double().numpy()
    return run


def _same(tolerance):
    def check(ours, reference):
        for a, b in zip(ours, reference):
            assert_close(a, b, rtol=tolerance, atol=tolerance * 1e-3)
    return check


CASES = [
    Case(f"ctc.ctc_loss_torch forward + backward, N={N}, T={T}, C={C}, S<={S}, float32 (vs F.ctc_loss)",
         _inputs(torch.float32), _run(ctc.ctc_loss_torch), _run(F.ctc_loss), _same(1e-3)),
    Case(f"ctc.ctc_loss_torch forward + backward, N={N}, T={T}, C={C}, S<={S}, float64 (vs F.ctc_loss)",
         _inputs(torch.float64), _run(ctc.ctc_loss_torch), _run(F.ctc_loss), _same(1e-9)),
    Case("ctc.ctc_loss_torch forward + backward, N={N}, T={T}, C={C}, S<={S}, float32 (vs F.ctc_loss; the "
         "recogniser's batches)".format(**DIGITS),
         _inputs(torch.float32, **DIGITS), _run(ctc.ctc_loss_torch), _run(F.ctc_loss), _same(1e-3)),
]

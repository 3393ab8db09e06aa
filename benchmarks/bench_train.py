"""lessons_lib.train.fit against a bare hand-written loop: the cost of the shared training loop (Chapters 4-7).

The same small LSTM classifier (39 inputs, 64 units, 10 classes, a batch of 32 sequences of 50 frames),
the same Adam + OneCycleLR + clipping steps, on the CPU; ``fit`` adds what the bare loop lacks: moving
each batch to the device, the NaN check (one ``.item()`` per step, which the bare loop pays too, for
its running loss), the History and the epoch bookkeeping. Both run 8 steps (one epoch of 8 batches)
from the same initial weights and must end with identical weights. Goal: ``fit`` within 5% of the
bare loop.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from lessons_lib.train import fit

from .core import Case

T, B, I, H, N_STEPS = 50, 32, 39, 64, 8


class _Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(I, H)
        self.out = torch.nn.Linear(H, 10)

    def forward(self, x):
        return self.out(self.lstm(x)[0][-1])


def _setup():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(T, B, I, generator=g), torch.randint(0, 10, (B,), generator=g)) for _ in range(N_STEPS)]
    return {"model": _Classifier(), "batches": batches}


def _optimizer(model):
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    return optimizer, torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=N_STEPS)


def _loss(model, batch):
    x, y = batch
    return F.cross_entropy(model(x), y)


def _with_fit(model, batches):
    model = copy.deepcopy(model)
    optimizer, scheduler = _optimizer(model)
    fit(model, _loss, batches, optimizer=optimizer, scheduler=scheduler, epochs=1, clip=1.0, device="cpu",
        progress=False)
    return model


def _bare_loop(model, batches):
    model = copy.deepcopy(model)
    optimizer, scheduler = _optimizer(model)
    total = 0.0
    for x, y in batches:
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        scheduler.step()
        total += loss.item()
    return model


def _same_weights(ours, reference):
    for (name, a), (_, b) in zip(ours.state_dict().items(), reference.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)


CASES = [
    Case(f"train.fit, {N_STEPS} steps of an LSTM classifier (B={B}, T={T}, H={H}) (vs a bare loop)",
         _setup, _with_fit, _bare_loop, _same_weights),
]

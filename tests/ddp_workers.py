"""A tiny regression task trained by ``fit``, and the worker that ``torch.multiprocessing.spawn`` runs for it.

``tests/test_train.py`` trains the same model in one process (``train``) and in two
processes under DistributedDataParallel (``fit_worker``, gloo backend, CPU). The
spawned processes import this module by its name, ``tests.ddp_workers``, so the
functions live here rather than in the test file.

Everything is float64 and deterministic: the data and the initial weights come from
fixed seeds, and the batches of epoch ``e`` from ``numpy.random.default_rng((SEED, e))``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

from lessons_lib.train import fit

N_ITEMS, N_IN, HIDDEN = 23, 3, 6
#: An odd batch size: with 2 processes the shares are 3 and 2 (and 2 and 1 for the last batch of 3).
BATCH_SIZE = 5
STEPS_PER_EPOCH = -(-N_ITEMS // BATCH_SIZE)
SEED = 11
EPOCHS = 3
CRASH_EXIT_CODE = 3


def data() -> tuple[torch.Tensor, torch.Tensor]:
    """Inputs ``(N_ITEMS, N_IN)`` and targets ``(N_ITEMS, 1)``, float64."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(N_ITEMS, N_IN, generator=generator, dtype=torch.float64)
    y = torch.sin(X @ torch.tensor([[1.0], [-2.0], [0.5]], dtype=torch.float64))
    return X, y


class Perceptron(torch.nn.Module):
    """Two layers, and a third that no loss uses (as the residual output of WaveNet's last unit, or a
    teacher frozen while its student trains): DistributedDataParallel must cope with it."""

    def __init__(self):
        super().__init__()
        self.hidden, self.out = torch.nn.Linear(N_IN, HIDDEN), torch.nn.Linear(HIDDEN, 1)
        self.unused = torch.nn.Linear(HIDDEN, HIDDEN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.tanh(self.hidden(x)))


def make_model(seed: int = 0) -> torch.nn.Module:
    """A two-layer perceptron in float64, initialised from ``seed`` (the global random state is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Perceptron().double()


def batches(epoch: int) -> list[np.ndarray]:
    """Index batches of epoch ``epoch``: a permutation from ``default_rng((SEED, epoch))`` cut into BATCH_SIZE."""
    order = np.random.default_rng((SEED, epoch)).permutation(N_ITEMS)
    return [order[i : i + BATCH_SIZE] for i in range(0, N_ITEMS, BATCH_SIZE)]


def train(*, epochs: int = EPOCHS, checkpoint=None, resume: bool = False, crash_at: int | None = None):
    """``fit`` with Adam, OneCycleLR (over ``EPOCHS`` epochs), clipping, index batches and ``collate``.

    ``crash_at``: the process ends itself with ``os._exit(CRASH_EXIT_CODE)`` at that call of the
    loss function (1-based, counted over all epochs), as a killed job would.
    Returns ``(model, optimizer, scheduler, history)``.
    """
    X, y = data()
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.05, total_steps=EPOCHS * STEPS_PER_EPOCH)
    calls = [0]

    def loss_fn(net, batch):
        calls[0] += 1
        if crash_at is not None and calls[0] == crash_at:
            os._exit(CRASH_EXIT_CODE)
        x, target = batch
        return torch.nn.functional.mse_loss(net(x), target)

    history = fit(model, loss_fn, batches, collate=lambda i: (X[i], y[i]), optimizer=optimizer,
                  scheduler=scheduler, epochs=epochs, clip=1.0, device="cpu", seed=SEED, checkpoint=checkpoint,
                  resume=resume, hparams={"task": "ddp_workers"}, progress=False)
    return model, optimizer, scheduler, history


def fit_worker(rank: int, world_size: int, init_file: str, out_dir: str, runs: list) -> None:
    """Join a gloo process group through ``init_file`` and do ``runs`` in turn, each a :func:`train`.

    ``runs`` is a list of ``{"name": str, "kwargs": dict}``. After each run the process writes
    ``out_dir/<name>-rank<r>.safetensors`` (the weights) and ``out_dir/<name>-rank<r>.json``
    (the History); a run that crashes (``crash_at``) writes nothing and ends the process.
    """
    from safetensors.torch import save_file

    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                                         world_size=world_size)
    try:
        for run in runs:
            model, _, _, history = train(**run["kwargs"])
            stem = Path(out_dir) / f"{run['name']}-rank{rank}"
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{stem}.safetensors")
            Path(f"{stem}.json").write_text(json.dumps(history.to_dict()))
    finally:
        torch.distributed.destroy_process_group()

"""lessons_lib.train: batches of similar length, padding, prediction, and the training loop ``fit``.

* ``length_batches`` against its definition written with Python lists.
* ``segment_batches``: every item gives its pieces, every start lies in its room and every start is drawn
  (hypothesis), the same epoch the same batches, another epoch others; bad input.
* ``fit``: 2 epochs in one run equal 1 epoch + checkpoint + ``resume=True`` with fresh objects + 1 epoch,
  BITWISE on the CPU (every parameter, the optimizer's and the scheduler's state, the History), on a model
  with dropout trained with Adam, OneCycleLR, clipping and index batches from ``default_rng((seed, epoch))``;
  without the saved random state the run differs (so the test can fail). A NaN or infinite loss raises
  ``NonFiniteLossError`` naming the epoch and step, before the step that would spread it. Validation,
  the time budget, mixed precision on the CPU, the progress bar, bad arguments.
* ``fit`` under DistributedDataParallel: 2 processes (``torch.multiprocessing.spawn``, gloo, CPU, float64)
  give the weights of one process on the same global batches, to rtol 1e-12 / atol 1e-14 (the only
  difference is the order of the gradient sum); a DDP run killed in its second epoch and resumed with DDP
  ends BITWISE where an uninterrupted DDP run ends.
* ``pad_batch``, ``to_device`` and ``predict`` against hand-built results.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib import checkpoint as ckpt
from lessons_lib import train
from lessons_lib.train import History, NonFiniteLossError, fit, pad_batch, predict, to_device
from tests.conftest import assert_identical


def by_definition(lengths, batch_size, rng=None, indices=None, jitter=8.0):
    """Sort (with jitter) and cut, written out with Python lists."""
    lengths = list(lengths)
    indices = list(range(len(lengths))) if indices is None else list(indices)
    noise = [0.0] * len(indices) if rng is None else list(rng.uniform(0, jitter, len(indices)))
    order = [i for _, _, i in sorted((lengths[i] + u, k, i) for k, (i, u) in enumerate(zip(indices, noise)))]
    batches = [order[k : k + batch_size] for k in range(0, len(order), batch_size)]
    if rng is not None:
        permutation = rng.permutation(len(batches))  # what Generator.shuffle of a list does
        batches = [batches[p] for p in permutation]
    return batches


@pytest.mark.parametrize("n, batch_size", [(1, 1), (1, 32), (10, 3), (101, 32), (64, 64)])
@pytest.mark.parametrize("seed", [None, 0, 7])
def test_equals_the_definition_and_partitions_the_items(n, batch_size, seed):
    lengths = np.random.default_rng(n).integers(20, 200, n)
    rng = None if seed is None else np.random.default_rng(seed)
    ref_rng = None if seed is None else np.random.default_rng(seed)
    ours = train.length_batches(lengths, batch_size, rng)
    assert [b.tolist() for b in ours] == by_definition(lengths, batch_size, ref_rng)
    assert sorted(np.concatenate(ours).tolist()) == list(range(n))
    assert all(len(b) == batch_size for b in ours[:-1] if seed is None)


@settings(max_examples=40, deadline=None)
@given(rooms=st.lists(st.integers(1, 6), min_size=1, max_size=8), per_item=st.integers(1, 4),
       batch_size=st.integers(1, 7), seed=st.integers(0, 2**16))
def test_segment_batches_cut_every_item_per_item_times_inside_its_room(rooms, per_item, batch_size, seed):
    items = np.arange(len(rooms)) * 3 + 1  # any ids
    of_epoch = train.segment_batches(items, rooms, per_item=per_item, batch_size=batch_size, seed=seed, stride=10)
    batches = of_epoch(0)
    assert all(len(b) == batch_size for b in batches[:-1]) and 1 <= len(batches[-1]) <= batch_size
    ids = np.concatenate(batches)
    owner, start = ids // 10, ids % 10
    for item, room in zip(items, rooms):
        mine = start[owner == item]
        assert len(mine) == per_item and mine.min() >= 0 and mine.max() < room
    assert set(owner.tolist()) == set(items.tolist())
    assert all(np.array_equal(a, b) for a, b in zip(batches, of_epoch(0)))  # the same epoch, the same batches


def test_segment_batches_draw_every_start_and_differ_between_epochs():
    of_epoch = train.segment_batches([0, 1], [5, 1], per_item=20, batch_size=8, seed=3, stride=8)
    starts = [np.concatenate(of_epoch(e)) for e in range(3)]
    assert {int(i) for i in starts[0] if i // 8 == 0} == {0, 1, 2, 3, 4}  # 20 draws from 5 starts: all seen
    assert {int(i) for s in starts for i in s if i // 8 == 1} == {8}  # room 1: the only start
    assert not np.array_equal(starts[0], starts[1]) and not np.array_equal(starts[1], starts[2])
    other_seed = train.segment_batches([0, 1], [5, 1], per_item=20, batch_size=8, seed=4, stride=8)(0)
    assert not np.array_equal(np.concatenate(other_seed), starts[0])


def test_segment_batches_refuse_bad_input():
    with pytest.raises(ValueError, match="same length"):
        train.segment_batches([0, 1], [3], per_item=1, batch_size=2, seed=0)
    with pytest.raises(ValueError, match="same length"):
        train.segment_batches([], [], per_item=1, batch_size=2, seed=0)
    with pytest.raises(ValueError, match="room must lie in 1..stride=8"):
        train.segment_batches([0], [0], per_item=1, batch_size=2, seed=0, stride=8)
    with pytest.raises(ValueError, match="room must lie in 1..stride=8"):
        train.segment_batches([0], [9], per_item=1, batch_size=2, seed=0, stride=8)
    with pytest.raises((TypeError, ValueError), match="per_item"):
        train.segment_batches([0], [2], per_item=0, batch_size=2, seed=0)


def test_without_rng_batches_are_sorted_by_length_and_repeatable():
    lengths = np.random.default_rng(3).integers(20, 200, 50)
    batches = train.length_batches(lengths, 8)
    flat = np.concatenate(batches)
    assert np.all(np.diff(lengths[flat]) >= 0)
    assert all(np.array_equal(a, b) for a, b in zip(batches, train.length_batches(lengths, 8)))


def test_jitter_keeps_batches_of_similar_length():
    lengths = np.arange(0, 1000, 10)  # items 10 apart: a jitter below 10 cannot reorder them
    for seed in range(5):
        batches = train.length_batches(lengths, 10, np.random.default_rng(seed), jitter=9.9)
        assert sorted(tuple(b) for b in batches) == [tuple(range(k, k + 10)) for k in range(0, 100, 10)]


def test_indices_select_the_items_to_batch():
    lengths = np.array([50, 10, 40, 20, 30, 60])
    rng, ref_rng = np.random.default_rng(1), np.random.default_rng(1)
    ours = train.length_batches(lengths, 2, rng, indices=[0, 2, 4, 5])
    assert [b.tolist() for b in ours] == by_definition(lengths, 2, ref_rng, indices=[0, 2, 4, 5])
    assert sorted(np.concatenate(ours).tolist()) == [0, 2, 4, 5]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(lengths=[], batch_size=2), ValueError, "lengths must be a non-empty 1-D"),
        (dict(lengths=[[1, 2]], batch_size=2), ValueError, "lengths must be a non-empty 1-D"),
        (dict(lengths=[1, 2], batch_size=0), ValueError, "batch_size"),
        (dict(lengths=[1, 2], batch_size=1.5), TypeError, "batch_size"),
        (dict(lengths=[1, 2], batch_size=1, jitter=-1.0), ValueError, "jitter must be >= 0"),
        (dict(lengths=[1, 2], batch_size=1, rng=0), TypeError, "rng must be a numpy.random.Generator"),
        (dict(lengths=[1, 2], batch_size=1, indices=[2]), ValueError, "indices must lie in 0..1"),
        (dict(lengths=[1, 2], batch_size=1, indices=[]), ValueError, "indices must be a non-empty"),
        (dict(lengths=[1, 2], batch_size=1, indices=[0.5]), ValueError, "indices must be a non-empty 1-D array of ints"),
    ],
)
def test_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        train.length_batches(**kwargs)


# --- fit: a small model with dropout, Adam, OneCycleLR, clipping, index batches ---------------------

N_ITEMS, N_IN, BATCH_SIZE = 30, 4, 7
STEPS = -(-N_ITEMS // BATCH_SIZE)  # 5 batches per epoch: 7, 7, 7, 7 and 2 items
HPARAMS = {"hidden": 16, "dropout": 0.3, "max_lr": 3e-2}


def toy_data():
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(N_ITEMS, N_IN, generator=generator)
    return X, torch.tanh(X @ torch.arange(1.0, N_IN + 1)[:, None] / N_IN)


X_TOY, Y_TOY = toy_data()


class DropoutNet(torch.nn.Module):
    """x -> Linear -> tanh -> Dropout(0.3) -> Linear: every training step draws random numbers."""

    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(N_IN, 16)
        self.drop = torch.nn.Dropout(0.3)
        self.out = torch.nn.Linear(16, 1)

    def forward(self, x):
        return self.out(self.drop(torch.tanh(self.hidden(x))))


def toy_batches(epoch):
    """The index batches of ``epoch``: a permutation from ``default_rng((3, epoch))``, cut."""
    order = np.random.default_rng((3, epoch)).permutation(N_ITEMS)
    return [order[i : i + BATCH_SIZE] for i in range(0, N_ITEMS, BATCH_SIZE)]


def toy_collate(indices):
    return X_TOY[indices], Y_TOY[indices]


def mse(model, batch):
    x, y = batch
    return F.mse_loss(model(x), y)


def toy_objects(init=0, total_epochs=2):
    """Fresh model (initialised from ``init``), Adam and a OneCycleLR over ``total_epochs``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init)
        model = DropoutNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=HPARAMS["max_lr"],
                                                    total_steps=total_epochs * STEPS)
    return model, optimizer, scheduler


def fit_toy(objects, epochs, *, loss_fn=mse, seed=5, **kwargs):
    model, optimizer, scheduler = objects
    kwargs = {"hparams": HPARAMS, "progress": False} | kwargs
    return fit(model, loss_fn, toy_batches, collate=toy_collate, optimizer=optimizer, scheduler=scheduler,
               epochs=epochs, clip=0.5, seed=seed, device="cpu", **kwargs)


def run_toy(epochs, *, init=0, total_epochs=2, **kwargs):
    objects = toy_objects(init, total_epochs)
    return (*objects, fit_toy(objects, epochs, **kwargs))




def assert_same_run(one, other):
    """Model, optimizer, scheduler and History (all but wall-clock times) identical."""
    (model, optimizer, scheduler, history), (model2, optimizer2, scheduler2, history2) = one, other
    assert_identical(model.state_dict(), model2.state_dict(), "model")
    assert_identical(optimizer.state_dict(), optimizer2.state_dict(), "optimizer")
    assert_identical(scheduler.state_dict(), scheduler2.state_dict(), "scheduler")
    for name in ("loss", "valid", "lr", "steps", "samples", "stopped"):
        assert_identical(getattr(history, name), getattr(history2, name), f"history.{name}")


def test_fit_equals_a_hand_written_loop_bitwise():
    """The reference: seed, then per batch forward, backward, clip, Adam step, OneCycleLR step."""
    model, optimizer, scheduler = toy_objects()
    losses, lrs = [], []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        for epoch in range(2):
            total = 0.0
            for indices in toy_batches(epoch):
                loss = mse(model, toy_collate(indices))
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)
                optimizer.step()
                scheduler.step()
                total += loss.item() * len(indices)
            losses.append(total / N_ITEMS)
            lrs.append(optimizer.param_groups[0]["lr"])
    ours = run_toy(2)
    assert_identical(ours[0].state_dict(), model.state_dict(), "model")
    assert_identical(ours[1].state_dict(), optimizer.state_dict(), "optimizer")
    assert ours[3].loss == losses and ours[3].lr == lrs


def test_train_epoch_is_one_epoch_of_fit():
    model, optimizer, scheduler = toy_objects()
    history = History()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(5)
        mean = train.train_epoch(model, mse, toy_batches(0), optimizer=optimizer, collate=toy_collate,
                                 scheduler=scheduler, clip=0.5, history=history)
    ours = run_toy(1)
    assert_identical(model.state_dict(), ours[0].state_dict(), "model")
    assert mean == ours[3].loss[0] and (history.steps, history.samples) == (STEPS, N_ITEMS)


def test_two_epochs_equal_one_epoch_then_checkpoint_and_resume_bitwise(tmp_path):
    path = tmp_path / "toy.safetensors"
    whole = run_toy(2)
    first = run_toy(1, checkpoint=path)
    assert len(ckpt.load_checkpoint(path).state["history"]["loss"]) == 1
    resumed = run_toy(2, init=99, checkpoint=path, resume=True)  # fresh objects, other initial weights
    assert_same_run(resumed, whole)
    assert resumed[3].epochs == 2 and resumed[3].steps == 2 * STEPS and resumed[3].samples == 2 * N_ITEMS
    assert not torch.equal(first[0].hidden.weight, whole[0].hidden.weight)  # the second epoch did train


def test_without_the_saved_random_state_the_resumed_run_differs(tmp_path, monkeypatch):
    """The test above can fail: resumed with the random state a fresh seed gives, dropout draws other masks."""
    path = tmp_path / "toy.safetensors"
    whole = run_toy(2)
    run_toy(1, checkpoint=path)
    load = ckpt.load_checkpoint

    def forgetful(*args, **kwargs):
        saved = load(*args, **kwargs)
        saved.state["torch_rng"] = torch.Generator().manual_seed(5).get_state()
        return saved

    monkeypatch.setattr(ckpt, "load_checkpoint", forgetful)
    resumed = run_toy(2, init=99, checkpoint=path, resume=True)
    assert resumed[3].loss[0] == whole[3].loss[0]  # epoch 1 came from the checkpoint
    assert resumed[3].loss[1] != whole[3].loss[1]
    assert not torch.equal(resumed[0].hidden.weight, whole[0].hidden.weight)


def test_the_seed_drives_dropout_and_the_global_random_state_is_left_alone():
    state = torch.get_rng_state()
    one, again, other = run_toy(2), run_toy(2), run_toy(2, seed=6)
    assert torch.equal(torch.get_rng_state(), state)
    assert_same_run(one, again)
    assert not torch.equal(one[0].hidden.weight, other[0].hidden.weight)


def test_resuming_a_finished_run_trains_nothing_and_a_missing_checkpoint_starts_afresh(tmp_path):
    path = tmp_path / "sub" / "toy.safetensors"
    fresh = run_toy(2, checkpoint=path, resume=True)  # no checkpoint yet: starts afresh, then writes one
    assert_same_run(fresh, run_toy(2))
    written = path.read_bytes()
    again = run_toy(2, init=99, checkpoint=path, resume=True)
    assert_same_run(again, fresh)
    assert path.read_bytes() == written  # no epoch was trained, so nothing was saved
    assert sorted(p.name for p in path.parent.iterdir()) == ["toy.safetensors"]  # no temporary files


def test_resuming_with_other_hparams_or_another_model_is_a_checkpoint_error(tmp_path):
    path = tmp_path / "toy.safetensors"
    run_toy(1, checkpoint=path)
    with pytest.raises(ckpt.CheckpointError, match="other hyper-parameters; differing: max_lr: saved 0.03, now 0.1"):
        run_toy(2, checkpoint=path, resume=True, hparams={**HPARAMS, "max_lr": 0.1})
    net = torch.nn.Linear(N_IN, 1)
    with pytest.raises(ckpt.CheckpointError, match="holds a DropoutNet, not a Linear"):
        fit(net, mse, toy_batches, collate=toy_collate, optimizer=torch.optim.SGD(net.parameters(), lr=0.1),
            epochs=2, device="cpu", progress=False, checkpoint=path, resume=True)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_loss_stops_training_naming_the_epoch_and_step_before_any_update(bad, tmp_path):
    objects = model, optimizer, scheduler = toy_objects()
    poison_at = STEPS + 3  # epoch 2, step 3 of that epoch, step 8 overall
    calls, before = [0], {}

    def poisoned(model, batch):
        calls[0] += 1
        loss = mse(model, batch)
        if calls[0] == poison_at:
            before.update(model=copy.deepcopy(model.state_dict()), optimizer=copy.deepcopy(optimizer.state_dict()))
            return loss + bad
        return loss

    path = tmp_path / "toy.safetensors"
    with pytest.raises(NonFiniteLossError,
                       match=rf"the training loss is {bad} at epoch 2, step 3 of that epoch \(step 8 overall\)"):
        fit_toy(objects, 2, loss_fn=poisoned, checkpoint=path)
    assert calls[0] == poison_at
    assert_identical(model.state_dict(), before["model"], "model")  # the step with the bad loss was not taken
    assert_identical(optimizer.state_dict(), before["optimizer"], "optimizer")
    assert scheduler.last_epoch == poison_at - 1
    assert len(ckpt.load_checkpoint(path).state["history"]["loss"]) == 1  # the last good epoch is kept


def test_a_diverging_run_stops_at_the_first_non_finite_loss_with_finite_weights():
    net = torch.nn.Linear(N_IN, 1)
    with pytest.raises(NonFiniteLossError, match=r"at epoch \d+, step \d+ of that epoch"):
        fit(net, mse, toy_batches, collate=toy_collate, optimizer=torch.optim.SGD(net.parameters(), lr=1e3),
            epochs=50, device="cpu", progress=False)
    assert all(torch.isfinite(p).all() for p in net.parameters())


def test_a_nan_in_the_data_stops_training():
    net = torch.nn.Linear(N_IN, 1)
    X = X_TOY.clone()
    X[4, 2] = math.nan
    batch = [np.arange(N_ITEMS)]
    with pytest.raises(NonFiniteLossError, match=r"loss is nan at epoch 1, step 1"):
        fit(net, mse, batch, collate=lambda i: (X[i], Y_TOY[i]),
            optimizer=torch.optim.SGD(net.parameters(), lr=0.1), epochs=1, device="cpu", progress=False)


def test_a_large_but_finite_float64_loss_is_not_an_error():
    """A float64 loss of 1e39 is finite: fit must not call it infinite (it does when it casts to float32)."""
    net = torch.nn.Linear(1, 1).double()
    x = torch.ones(4, 1, dtype=torch.float64)
    history = fit(net, lambda m, b: 1e39 + 0 * m(b).sum(), [x], optimizer=torch.optim.SGD(net.parameters(), lr=0.0),
                  epochs=1, device="cpu", progress=False)
    assert history.loss == [1e39]


def test_valid_runs_after_every_epoch_in_eval_mode_without_gradients():
    X_valid, y_valid = toy_data()[0][:10] * 2, Y_TOY[:10]
    seen = []

    def valid(model):
        seen.append((model.training, torch.is_grad_enabled(), type(model).__name__))
        return {"mse": F.mse_loss(model(X_valid), y_valid).item(), "constant": 1}

    model, *_, history = run_toy(3, total_epochs=3, valid=valid)
    assert seen == [(False, False, "DropoutNet")] * 3
    assert model.training  # back in training mode
    assert history.valid["constant"] == [1.0, 1.0, 1.0]
    after_one = run_toy(1, total_epochs=3)[0].eval()  # the same run, stopped after its first epoch
    with torch.no_grad():
        expected = [F.mse_loss(m(X_valid), y_valid).item() for m in (after_one, model.eval())]
    assert [history.valid["mse"][0], history.valid["mse"][-1]] == expected
    assert len(history.loss) == len(history.lr) == len(history.epoch_seconds) == 3


def test_a_time_budget_stops_after_the_epoch_that_would_overrun_it():
    *_, history = run_toy(3, total_epochs=3, time_budget=1e-9)
    assert history.epochs == 1 and history.stopped.startswith("time budget") and "1 of 3 epochs" in history.stopped
    *_, history = run_toy(3, total_epochs=3, time_budget=1e6)
    assert history.epochs == 3 and history.stopped is None
    assert history.seconds == pytest.approx(sum(history.epoch_seconds))
    assert history.samples_per_second == pytest.approx(3 * N_ITEMS / history.seconds)
    assert json.loads(json.dumps(history.to_dict()))["loss"] == history.loss


def test_a_run_stopped_by_its_time_budget_continues_when_resumed(tmp_path):
    """``stopped`` belongs to the session that stopped: resumed without a budget, the run must finish."""
    path = tmp_path / "toy.safetensors"
    *_, history = run_toy(3, total_epochs=3, time_budget=1e-9, checkpoint=path)
    assert history.epochs == 1
    resumed = run_toy(3, total_epochs=3, checkpoint=path, resume=True)
    assert resumed[3].epochs == 3 and resumed[3].stopped is None
    assert_same_run(resumed, run_toy(3, total_epochs=3))


def test_mixed_precision_is_a_no_op_on_the_cpu():
    assert_same_run(run_toy(2, mixed_precision=True), run_toy(2))


def test_progress_true_works_with_tqdm_disabled(capfd):
    if os.environ.get("TQDM_DISABLE") != "1":  # the root conftest sets it, as the book build does
        pytest.skip("TQDM_DISABLE is not 1 in this session")
    assert_same_run(run_toy(2, progress=True), run_toy(2))
    assert capfd.readouterr().err == ""


def test_the_progress_bar_counts_every_step_and_is_closed(monkeypatch):
    import tqdm.auto

    bars = []

    class Bar:
        def __init__(self, total, **kwargs):
            self.total, self.updates, self.closed, self.postfix = total, 0, False, []
            bars.append(self)

        def update(self, n):
            self.updates += n

        def set_postfix(self, **kwargs):
            self.postfix.append(kwargs)

        def close(self):
            self.closed = True

    monkeypatch.setattr(tqdm.auto, "tqdm", Bar)
    *_, history = run_toy(2, progress=True)
    [bar] = bars
    assert (bar.total, bar.updates, bar.closed) == (2 * STEPS, 2 * STEPS, True)
    assert [p["epoch"] for p in bar.postfix] == [1, 2]
    run_toy(2, progress=False)
    assert len(bars) == 1


@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(model="net"), TypeError, "model must be a torch.nn.Module"),
        (dict(loss_fn="mse"), TypeError, "loss_fn must be callable"),
        (dict(optimizer="adam"), TypeError, "optimizer must be a torch.optim.Optimizer"),
        (dict(epochs=0), ValueError, "epochs must be a positive int"),
        (dict(epochs=1.5), TypeError, "epochs must be a positive int"),
        (dict(collate=3), TypeError, "collate must be callable"),
        (dict(clip=0.0), ValueError, "clip must be a positive gradient norm"),
        (dict(clip=-1.0), ValueError, "clip must be a positive gradient norm"),
        (dict(clip="1"), TypeError, "clip must be a real number"),
        (dict(time_budget=0), ValueError, "time_budget must be a positive"),
        (dict(resume=True), ValueError, "resume=True needs a checkpoint"),
        (dict(batches=5), TypeError, "batches must be a callable"),
        (dict(batches=[]), ValueError, "epoch 1 has no batches"),
        (dict(batches=[np.array([0.5, 1.5])]), TypeError, "1-D array of item indices; batch 0 of epoch 1"),
        (dict(batches=[np.array([[0, 1]])]), TypeError, "1-D array of item indices"),
        (dict(loss_fn=lambda m, b: F.mse_loss(m(b[0]), b[1], reduction="none")), TypeError,
         r"loss_fn must return a scalar tensor, got Tensor \(7, 1\)"),
        (dict(loss_fn=lambda m, b: 1.0), TypeError, "loss_fn must return a scalar tensor, got float"),
        (dict(valid=lambda m: 0.5), TypeError, "valid must return a dict"),
    ],
)
def test_bad_fit_arguments(change, error, match):
    model = DropoutNet()
    args = dict(model=model, loss_fn=mse, batches=toy_batches, collate=toy_collate,
                optimizer=torch.optim.SGD(model.parameters(), lr=0.1), epochs=1, device="cpu", progress=False)
    args.update(change)
    with pytest.raises(error, match=match):
        fit(args.pop("model"), args.pop("loss_fn"), args.pop("batches"), **args)


# --- fit under DistributedDataParallel: 2 processes, gloo, CPU --------------------------------------

DDP_RTOL, DDP_ATOL = 1e-12, 1e-14  # float64: the processes sum the gradients in another order, nothing else


def read_run(folder: Path, name: str, rank: int):
    from safetensors.torch import load_file

    stem = folder / f"{name}-rank{rank}"
    return load_file(f"{stem}.safetensors"), json.loads(Path(f"{stem}.json").read_text())


def spawn_two(fn, args, timeout=180.0):
    """``torch.multiprocessing.spawn`` of 2 processes, which fails the test instead of hanging past ``timeout``."""
    import torch.multiprocessing as mp

    context = mp.spawn(fn, args=args, nprocs=2, join=False)
    deadline = time.monotonic() + timeout
    while not context.join(timeout=1.0):  # raises as soon as a process fails
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail(f"the DDP processes did not finish in {timeout:.0f} s")


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory):
    """Two spawns of 2 processes. First: an uninterrupted run, then a run killed in its second epoch.
    Second: that run resumed from (a copy of) its checkpoint. Returns the folder and the first spawn's exception."""
    import torch.multiprocessing as mp

    from tests import ddp_workers as w

    folder = tmp_path_factory.mktemp("ddp")
    runs = [{"name": "whole", "kwargs": {"checkpoint": str(folder / "whole.safetensors")}},
            {"name": "killed", "kwargs": {"checkpoint": str(folder / "killed.safetensors"),
                                          "crash_at": w.STEPS_PER_EPOCH + 2}}]
    crash = None
    try:
        spawn_two(w.fit_worker, (2, str(folder / "rendezvous-1"), str(folder), runs))
    except (mp.ProcessExitedException, mp.ProcessRaisedException) as err:
        crash = err
    shutil.copyfile(folder / "killed.safetensors", folder / "resumed.safetensors")  # keep the crash's for the tests
    resume = [{"name": "resumed", "kwargs": {"checkpoint": str(folder / "resumed.safetensors"), "resume": True}}]
    spawn_two(w.fit_worker, (2, str(folder / "rendezvous-2"), str(folder), resume))
    return folder, crash


def test_ddp_with_two_processes_equals_one_process_on_the_same_global_batches(ddp_runs):
    from tests import ddp_workers as w

    folder, _ = ddp_runs
    (weights, history), (weights_1, _) = read_run(folder, "whole", 0), read_run(folder, "whole", 1)
    model, _, _, single = w.train()
    initial = w.make_model().state_dict()
    for name, value in model.state_dict().items():
        assert torch.equal(weights[name], weights_1[name]), f"the processes disagree on {name}"
        torch.testing.assert_close(weights[name], value, rtol=DDP_RTOL, atol=DDP_ATOL)
        if name.startswith("unused."):  # no gradient: DDP must neither wait for one nor invent one
            assert torch.equal(value, initial[name])
        else:
            assert (value - initial[name]).abs().max() > 1e-3  # trained far beyond the tolerance
    assert history["steps"] == single.steps == w.EPOCHS * w.STEPS_PER_EPOCH
    assert history["samples"] == single.samples == w.EPOCHS * w.N_ITEMS
    np.testing.assert_allclose(history["loss"], single.loss, rtol=1e-6)  # fit logs losses in float32
    np.testing.assert_allclose(history["lr"], single.lr, rtol=1e-15)


def test_a_killed_ddp_run_is_reported_and_keeps_its_last_epoch(ddp_runs):
    import torch.multiprocessing as mp

    from tests import ddp_workers as w

    folder, crash = ddp_runs
    assert isinstance(crash, mp.ProcessExitedException) and crash.exit_code == w.CRASH_EXIT_CODE
    assert not list(folder.glob("killed-rank*")) and not list(folder.glob(".*.tmp"))
    saved = ckpt.load_checkpoint(folder / "killed.safetensors")
    whole = ckpt.load_checkpoint(folder / "whole.safetensors")
    assert len(saved.state["history"]["loss"]) == 1 and saved.state["history"]["steps"] == w.STEPS_PER_EPOCH
    assert saved.state["history"]["loss"][0] == whole.state["history"]["loss"][0]


def test_a_killed_and_resumed_ddp_run_ends_bitwise_where_an_uninterrupted_one_ends(ddp_runs):
    """Bitwise: every piece of state is restored exactly, and with 2 processes each gradient element is the
    sum of two numbers, which floating point gives the same in either order."""
    from tests import ddp_workers as w

    folder, _ = ddp_runs
    whole, whole_history = read_run(folder, "whole", 0)
    for rank in (0, 1):
        resumed, history = read_run(folder, "resumed", rank)
        assert_identical(resumed, whole, f"rank {rank}")
        for name in ("loss", "lr", "steps", "samples"):
            assert history[name] == whole_history[name]
    assert whole_history["steps"] == w.EPOCHS * w.STEPS_PER_EPOCH


# --- pad_batch, to_device, predict --------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_value", [0.0, -1.5])
def test_pad_batch_against_a_hand_built_batch(batch_first, padding_value):
    rng = np.random.default_rng(0)
    sequences = [rng.standard_normal((T, 2, 3)) for T in (3, 1, 5, 5)]
    expected = np.full((5, 4, 2, 3), padding_value)
    for b, s in enumerate(sequences):
        for t in range(len(s)):
            expected[t, b] = s[t]
    if batch_first:
        expected = expected.transpose(1, 0, 2, 3)
    padded, lengths = pad_batch([torch.from_numpy(s) for s in sequences[:2]] + sequences[2:],
                                padding_value=padding_value, batch_first=batch_first)
    assert padded.dtype == torch.float64 and np.array_equal(padded.numpy(), expected)
    assert lengths.dtype == torch.int64 and lengths.device.type == "cpu" and lengths.tolist() == [3, 1, 5, 5]


def test_pad_batch_of_integer_targets_and_of_one_sequence():
    padded, lengths = pad_batch([torch.tensor([3, 1]), torch.tensor([7])], batch_first=True)
    assert padded.tolist() == [[3, 1], [7, 0]] and padded.dtype == torch.int64 and lengths.tolist() == [2, 1]
    padded, lengths = pad_batch([np.ones((1, 4))])
    assert padded.shape == (1, 1, 4) and lengths.tolist() == [1]


@pytest.mark.parametrize(
    "sequences, match",
    [([], "at least one sequence"), ([torch.tensor(1.0)], "time axis"),
     ([np.ones((2, 3)), np.ones((2, 4))], r"feature shape.*\(3,\), \(4,\)")],
)
def test_pad_batch_bad_input(sequences, match):
    with pytest.raises(ValueError, match=match):
        pad_batch(sequences)


def test_to_device_moves_tensors_in_containers_and_keeps_the_rest():
    Pair = namedtuple("Pair", "x n")
    batch = {"pair": Pair(torch.ones(2), np.arange(2)), "list": [torch.zeros(1), "name", 3], "t": (torch.ones(1),)}
    moved = to_device(batch, "meta")
    assert isinstance(moved["pair"], Pair) and moved["pair"].x.device.type == "meta"
    assert moved["pair"].n is batch["pair"].n
    assert moved["list"][0].device.type == "meta" and moved["list"][1:] == ["name", 3]
    assert isinstance(moved["t"], tuple) and moved["t"][0].device.type == "meta"
    assert batch["pair"].x.device.type == "cpu"  # the input is not changed


class FrameNet(torch.nn.Module):
    """A linear map of every frame; records whether it ran in training mode and with gradients."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3, 2).double()
        self.calls = []

    def forward(self, x):
        self.calls.append((self.training, torch.is_grad_enabled()))
        return self.linear(x)


def sequences_and_collate(n=11, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, n)
    items = [torch.from_numpy(rng.standard_normal((T, 3))) for T in lengths]

    def collate(indices):
        x, n = pad_batch([items[i] for i in indices])
        return x, n

    return items, lengths, collate


def test_predict_returns_outputs_in_the_order_of_indices():
    net = FrameNet()
    X = torch.from_numpy(np.random.default_rng(1).standard_normal((10, 3)))
    indices = [7, 2, 9, 2, 0]
    out = predict(net, lambda m, x: m(x), indices, lambda i: X[i], batch_size=2)
    with torch.no_grad():
        expected = np.stack([net.linear(X[i]).numpy() for i in indices])
    assert out.shape == (5, 2)
    np.testing.assert_allclose(out, expected, rtol=1e-14, atol=1e-15)


def test_predict_by_length_equals_one_by_one():
    items, lengths, collate = sequences_and_collate()
    net = FrameNet()

    def per_item(model, batch):  # each item's frames, without padding
        x, n = batch
        y = model(x)
        return [y[: int(T), b] for b, T in enumerate(n)]

    def pooled(model, batch):  # one vector per item: the mean of its frames
        x, n = batch
        real = (torch.arange(len(x))[:, None] < n[None]).to(x)
        return (model(x) * real[..., None]).sum(0) / n[:, None]

    indices = np.array([10, 3, 5, 0, 8, 1])
    frames = predict(net, per_item, indices, collate, lengths=lengths, batch_size=4)
    means = predict(net, pooled, indices, collate, lengths=lengths, batch_size=4)
    assert isinstance(frames, list) and isinstance(means, np.ndarray) and means.shape == (6, 2)
    with torch.no_grad():
        for i, got, mean in zip(indices, frames, means):
            alone = net.linear(items[i]).numpy()
            np.testing.assert_allclose(got, alone, rtol=1e-13, atol=1e-14)
            np.testing.assert_allclose(mean, alone.mean(0), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("training", [True, False])
def test_predict_runs_in_eval_mode_without_gradients_and_restores_the_mode(training):
    items, lengths, collate = sequences_and_collate()
    net = FrameNet().train(training)
    predict(net, lambda m, b: m(b[0]).sum(0), np.arange(5), collate, batch_size=2)
    assert net.calls == [(False, False)] * 3 and net.training == training


def test_predict_gives_bfloat16_outputs_as_float32():
    X = torch.randn(4, 3)
    out = predict(torch.nn.Linear(3, 2), lambda m, x: m(x).to(torch.bfloat16), np.arange(4), lambda i: X[i])
    assert out.dtype == np.float32 and out.shape == (4, 2)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(indices=[]), "indices must be a non-empty 1-D array of ints"),
     (dict(indices=[[0, 1]]), "indices must be a non-empty 1-D array of ints"),
     (dict(indices=[0.5]), "indices must be a non-empty 1-D array of ints"),
     (dict(batch_size=0), "batch_size"),
     (dict(forward=lambda m, x: m(x)[:1]), "forward gave 1 outputs for a batch of 2 items")],
)
def test_predict_bad_input(kwargs, match):
    X = torch.randn(4, 3)
    args = dict(model=torch.nn.Linear(3, 2), forward=lambda m, x: m(x), indices=np.arange(4),
                collate=lambda i: X[i], batch_size=2) | kwargs
    with pytest.raises(ValueError, match=match):
        predict(args.pop("model"), args.pop("forward"), args.pop("indices"), args.pop("collate"), **args)

"""Training networks: one loop for every model of the course, batches of similar length, prediction.

Every trained network of Chapters 4 to 7 is trained by :func:`fit`. What differs
between them is passed in: the model, a loss function ``loss_fn(model, batch) ->
loss`` (cross-entropy, CTC, the negative log-likelihood of a flow...), the
batches of each epoch, an optimizer and, optionally, a learning-rate schedule.
:func:`fit` owns what is the same everywhere:

* moving each batch to the device (models never call ``.cuda()``);
* the step: forward under optional bf16 autocast (CUDA only), backward, gradient
  clipping, optimizer and scheduler step;
* stopping with :class:`NonFiniteLossError`, naming the epoch and step, as soon
  as the loss is NaN or infinite, instead of training on garbage;
* validation after every epoch, a :class:`History` of what happened, a progress
  bar (:mod:`tqdm`; a widget in Jupyter, a line in a terminal, off when the
  environment sets ``TQDM_DISABLE=1``, as the book build and the tests do);
* a checkpoint after every epoch (:mod:`lessons_lib.checkpoint`), and
  ``resume=True`` to continue a stopped run exactly where it stopped;
* several processes through ``torchrun`` (DistributedDataParallel): each
  process takes its share of every batch, and the averaged gradient is the one
  a single process would compute on the whole batch.

Recordings differ in length, and a batch is padded to its longest member.
:func:`length_batches` sorts by length before cutting the batches, which keeps
the padding small; a little random jitter on the lengths and a shuffle of whole
batches make every epoch's batches and their order differ. Models trained on
fixed-length pieces of longer recordings (SincNet's chunks, WaveNet's segments)
draw new random pieces every epoch instead: :func:`segment_batches`. :func:`pad_batch`
pads a list of sequences and returns their lengths, and :func:`predict` runs a
trained model over a set of items without gradients.

This module never imports :mod:`lessons_lib.models`: a recipe
(:mod:`lessons_lib.recipes`) or a notebook combines a model with this loop.

Chapter: ``notebooks/04c_lstm_digits.ipynb`` (first used) and
``notebooks/05b_ctc_digits.ipynb``; every trained model of Chapters 6 and 7.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ._checks import positive_int, real_number

__all__ = [
    "length_batches",
    "segment_batches",
    "pad_batch",
    "to_device",
    "History",
    "NonFiniteLossError",
    "fit",
    "train_epoch",
    "predict",
    "distributed",
]


def length_batches(lengths, batch_size: int, rng: np.random.Generator | None = None, *,
                   indices=None, jitter: float = 8.0) -> list[np.ndarray]:
    """Cut items into batches of similar length; shuffled for training when an ``rng`` is given.

    The items are sorted by :math:`\\ell_i + u_i`, with :math:`u_i \\sim \\mathcal U(0,
    \\text{jitter})` drawn from ``rng`` (:math:`u_i = 0` without one), cut into consecutive
    batches of ``batch_size`` (the last may be smaller), and, with ``rng``, the list of
    batches is shuffled.

    Parameters
    ----------
    lengths : array_like of int, shape (n_items,)
        The length of every item (frames, samples, steps).
    batch_size : int
        Items per batch.
    rng : numpy.random.Generator, optional
        For the jitter and the shuffle. ``None``: sorted by length, no randomness
        (for evaluation).
    indices : array_like of int, optional
        Batch only these items (e.g. a training split); the batches then hold these
        indices. Default: every item, ``0 .. n_items - 1``.
    jitter : float, default 8.0
        The width of the uniform noise added to the lengths before sorting, in the
        units of ``lengths``.

    Returns
    -------
    list of ndarray of int
        The batches; together they hold every index exactly once.

    Raises
    ------
    ValueError
        If ``lengths`` is not 1-D, ``indices`` is empty or out of range, or
        ``batch_size`` or ``jitter`` is invalid.
    TypeError
        If ``rng`` is not a numpy Generator.

    Examples
    --------
    >>> length_batches([5, 1, 4, 2, 3], 2)
    [array([1, 3]), array([4, 2]), array([0])]
    >>> length_batches([5, 1, 4, 2, 3], 2, indices=[0, 2, 4])
    [array([4, 2]), array([0])]
    """
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0 or not np.issubdtype(lengths.dtype, np.number):
        raise ValueError(f"lengths must be a non-empty 1-D array of numbers, got shape {lengths.shape}")
    batch_size = positive_int(batch_size, "batch_size")
    jitter = real_number(jitter, "jitter")
    if jitter < 0:
        raise ValueError(f"jitter must be >= 0, got {jitter}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator or None, got {type(rng).__name__}")
    if indices is None:
        indices = np.arange(lengths.size)
    else:
        indices = np.asarray(indices)
        if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
            raise ValueError(f"indices must be a non-empty 1-D array of ints, got {indices.dtype} {indices.shape}")
        if indices.min() < 0 or indices.max() >= lengths.size:
            raise ValueError(f"indices must lie in 0..{lengths.size - 1}, got {indices.min()}..{indices.max()}")
    noise = 0 if rng is None else rng.uniform(0, jitter, indices.size)
    order = indices[np.argsort(lengths[indices] + noise, kind="stable")]
    batches = [order[i : i + batch_size] for i in range(0, order.size, batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def segment_batches(items, room, *, per_item: int, batch_size: int, seed: int, stride: int = 1 << 20):
    """The batches of every epoch, ``segment_batches(...)(epoch)``: random pieces of the items, drawn anew each epoch.

    Item :math:`u` of ``items`` gives ``per_item`` pieces, each starting at a position drawn
    uniformly from :math:`\\{0, \\dots, r_u - 1\\}` (:math:`r_u` its ``room``: how many starts fit);
    a piece is named by one integer, :math:`u \\cdot \\mathrm{stride} + \\mathrm{start}`, so that a batch is a
    plain index array that a recipe's ``collate`` cuts. The pieces are shuffled and cut into
    batches of ``batch_size`` (the last may be smaller). Epoch :math:`e` draws from
    ``numpy.random.default_rng((seed, e))``: first every start, then the shuffle; the same epoch
    gives the same batches in every process and in a resumed run.

    Parameters
    ----------
    items : array_like of int, shape (n,)
        The items (recordings) to cut, each at most once.
    room : array_like of int, shape (n,)
        For each item, the number of possible starts, at least 1.
    per_item, batch_size : int
        Pieces per item and epoch; pieces per batch.
    seed : int
    stride : int, default 2**20
        Larger than every start: ``id // stride`` is the item, ``id % stride`` the start.

    Returns
    -------
    callable
        ``epoch -> list of ndarray of int64``.

    Raises
    ------
    ValueError
        If ``items`` and ``room`` differ in shape, a room is below 1 or not below ``stride``,
        or ``items`` is empty.

    Examples
    --------
    >>> of_epoch = segment_batches([3, 7], [1, 5], per_item=2, batch_size=3, seed=0, stride=10)
    >>> [len(b) for b in of_epoch(0)], sorted((np.concatenate(of_epoch(0)) // 10).tolist())
    ([3, 1], [3, 3, 7, 7])
    >>> sorted((np.concatenate(of_epoch(0)) % 10).tolist())[:2]  # item 3 has room for one start only
    [0, 0]
    """
    items = np.asarray(items, dtype=np.int64)
    room = np.asarray(room, dtype=np.int64)
    if items.ndim != 1 or items.size == 0 or room.shape != items.shape:
        raise ValueError(f"items and room must be non-empty 1-D arrays of the same length, got shapes "
                         f"{items.shape} and {room.shape}")
    per_item, batch_size = positive_int(per_item, "per_item"), positive_int(batch_size, "batch_size")
    stride = positive_int(stride, "stride")
    if room.min() < 1 or room.max() > stride:
        raise ValueError(f"room must lie in 1..stride={stride} (the starts that fit), got {room.min()}..{room.max()}")
    owners, rooms = np.repeat(items, per_item), np.repeat(room, per_item)

    def of_epoch(epoch: int) -> list[np.ndarray]:
        rng = np.random.default_rng((seed, epoch))
        ids = rng.permutation(owners * stride + rng.integers(0, rooms))
        return [ids[i : i + batch_size] for i in range(0, len(ids), batch_size)]

    return of_epoch


def pad_batch(sequences, *, padding_value: float = 0.0, batch_first: bool = False):
    """Stack sequences of different lengths into one zero-padded tensor, with their lengths.

    Sequence :math:`b` of length :math:`T_b` fills rows :math:`0 .. T_b - 1` of column
    :math:`b`; the rows up to :math:`T_{\\max} = \\max_b T_b` are ``padding_value``.

    Parameters
    ----------
    sequences : sequence of Tensor or ndarray, each shape (T_b, *features)
        The items; the trailing shapes must agree.
    padding_value : float, default 0.0
    batch_first : bool, default False
        ``False``: shape ``(T_max, B, *features)``, PyTorch's recurrent layout;
        ``True``: ``(B, T_max, *features)``.

    Returns
    -------
    padded : Tensor, shape (T_max, B, *features) or (B, T_max, *features)
    lengths : Tensor of int64, shape (B,)
        :math:`T_b`, on the CPU (as ``pack_padded_sequence`` wants them).

    Raises
    ------
    ValueError
        If ``sequences`` is empty, an item has no time axis, or the feature shapes differ.

    Examples
    --------
    >>> x, n = pad_batch([np.ones((2, 3)), np.ones((4, 3))])
    >>> tuple(x.shape), n.tolist(), x[:, 0, 0].tolist()
    ((4, 2, 3), [2, 4], [1.0, 1.0, 0.0, 0.0])
    """
    if len(sequences) == 0:
        raise ValueError("sequences must hold at least one sequence")
    items = [s if isinstance(s, torch.Tensor) else torch.as_tensor(np.asarray(s)) for s in sequences]
    if any(s.ndim == 0 for s in items):
        raise ValueError("every sequence needs a time axis (its first axis); got a 0-d item")
    shapes = {tuple(s.shape[1:]) for s in items}
    if len(shapes) > 1:
        raise ValueError(f"sequences must agree in their feature shape (after the time axis), got {sorted(shapes)}")
    padded = torch.nn.utils.rnn.pad_sequence(items, batch_first=batch_first, padding_value=padding_value)
    return padded, torch.tensor([len(s) for s in items], dtype=torch.int64)


def to_device(batch, device):
    """Move every tensor in a batch (a tensor, or a tuple, list or dict of them) to ``device``.

    Anything else (numbers, strings, NumPy arrays) is returned unchanged. Lengths that
    must stay on the CPU (``pack_padded_sequence`` wants them there) are therefore best
    kept as NumPy arrays or moved back by the model.

    Examples
    --------
    >>> to_device({"x": torch.ones(2), "n": [3, 4]}, "cpu")["x"].device
    device(type='cpu')
    """
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; the message names the epoch and step."""


@dataclass
class History:
    """What :func:`fit` did, epoch by epoch.

    Attributes
    ----------
    loss : list of float
        The mean training loss of every epoch (weighted by batch size when the
        batches are index arrays).
    valid : dict of str to list of float
        Every number the ``valid`` function returned, one entry per epoch.
    lr : list of float
        The learning rate of the first parameter group at the end of every epoch.
    epoch_seconds : list of float
        Wall-clock seconds of every epoch, validation included.
    steps, samples : int
        Optimizer steps taken and items trained on, over all epochs and processes.
    seconds : float
        Wall-clock seconds of the whole run (all sessions, when resumed).
    stopped : str or None
        Why training stopped before ``epochs`` (the time budget), else ``None``.
    """

    loss: list = field(default_factory=list)
    valid: dict = field(default_factory=dict)
    lr: list = field(default_factory=list)
    epoch_seconds: list = field(default_factory=list)
    steps: int = 0
    samples: int = 0
    seconds: float = 0.0
    stopped: str | None = None

    @property
    def epochs(self) -> int:
        """The number of epochs completed."""
        return len(self.loss)

    @property
    def samples_per_second(self) -> float:
        """Training throughput: items per wall-clock second (validation included)."""
        return self.samples / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        """A JSON-able copy (for checkpoints and results files)."""
        return asdict(self)


def distributed() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless ``torch.distributed`` is initialised.

    Under ``torchrun`` the recipe runner initialises the process group; :func:`fit` then
    wraps the model in ``DistributedDataParallel`` and gives each process its share of
    every batch.

    Examples
    --------
    >>> distributed()
    (0, 1)
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _epoch_batches(batches, epoch: int):
    items = batches(epoch) if callable(batches) else batches
    if isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError("batches must be a callable epoch -> batches, or a re-iterable sequence of batches; "
                        f"got {type(items).__name__}")
    return items


def _progress(total, *, enabled: bool, description: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, dynamic_ncols=True)


def _check_finite(value: float, epoch: int, step: int, global_step: int) -> None:
    if not math.isfinite(value):
        raise NonFiniteLossError(
            f"the training loss is {value} at epoch {epoch + 1}, step {step + 1} of that epoch "
            f"(step {global_step + 1} overall); training stopped. Try a lower learning rate, gradient "
            "clipping (clip=...), or look for NaN or infinite values in that batch."
        )


def fit(model, loss_fn: Callable, batches, *, optimizer, epochs: int, collate: Callable | None = None,
        scheduler=None, clip: float | None = None, valid: Callable | None = None, device=None,
        mixed_precision: bool = False, seed: int | None = None, checkpoint=None, resume: bool = False,
        hparams: dict | None = None, time_budget: float | None = None, progress: bool = True) -> History:
    """Train ``model`` by minimising ``loss_fn`` over ``epochs`` passes through the batches.

    Every step computes :math:`\\mathcal L = ` ``loss_fn(model, batch)``, back-propagates,
    clips the gradient to norm ``clip`` (if given), and takes one ``optimizer.step()`` and one
    ``scheduler.step()``: the schedule is per step, as for ``OneCycleLR``.

    Parameters
    ----------
    model : torch.nn.Module
        Moved to ``device``; trained in place.
    loss_fn : callable
        ``loss_fn(model, batch) -> Tensor``, a scalar to minimise, the mean over the
        batch's items. It must call ``model(...)`` (not its attributes), so that
        ``DistributedDataParallel`` sees the forward pass.
    batches : callable or sequence
        ``batches(epoch)`` gives the batches of an epoch (0-based), or one sequence is
        reused every epoch. With ``collate``, each batch is an array of item indices and
        ``collate(indices)`` builds it; without, each is a batch already. Make
        ``batches(epoch)`` depend only on ``epoch`` (e.g. a generator seeded with
        ``(seed, epoch)``), so that a resumed run sees the same batches.
    optimizer : torch.optim.Optimizer
        Built on ``model``'s parameters.
    epochs : int
        The total number of epochs (a resumed run counts the epochs already done).
    collate : callable, optional
        ``collate(indices) -> batch`` (tensors, or a tuple, list or dict of them, on the CPU).
        Required under ``torchrun``: each process collates its share of every batch.
    scheduler : torch.optim.lr_scheduler.LRScheduler, optional
        Stepped after every optimizer step.
    clip : float, optional
        The largest gradient norm, :math:`\\mathbf g \\leftarrow \\mathbf g \\min(1, c / \\lVert\\mathbf g\\rVert)`.
    valid : callable, optional
        ``valid(model) -> dict of str to float``, called after every epoch in eval mode
        without gradients (the unwrapped model); its numbers go into ``History.valid``.
    device : str or torch.device, optional
        Default: :func:`lessons_lib.config.device`.
    mixed_precision : bool, default False
        bf16 autocast for the forward pass and the loss, on CUDA only; ignored on the CPU.
    seed : int, optional
        Seeds the random numbers drawn during training (dropout) in a forked random
        state, so that the caller's global state is left alone. ``None``: use the
        global state as it is.
    checkpoint : str or os.PathLike, optional
        Written atomically after every epoch (model, optimizer, scheduler, ``hparams``,
        history, random state); by the first process only.
    resume : bool, default False
        Continue from ``checkpoint`` if it exists (its ``hparams`` must equal
        ``hparams``); start afresh if it does not.
    hparams : dict, optional
        Saved with the checkpoint and checked on resume.
    time_budget : float, optional
        Seconds. After an epoch, stop (``History.stopped``) if another epoch of the mean
        length so far would end past the budget.
    progress : bool, default True
        Show a progress bar (first process only; ``TQDM_DISABLE=1`` turns it off).

    Returns
    -------
    History

    Raises
    ------
    NonFiniteLossError
        As soon as the loss is NaN or infinite (before the step that would spread it).
    TypeError, ValueError
        For bad arguments, named.
    lessons_lib.checkpoint.CheckpointError
        If ``resume`` finds a checkpoint of another model or other hyper-parameters.

    Examples
    --------
    >>> net = torch.nn.Linear(1, 1)
    >>> x = torch.linspace(-1, 1, 32)[:, None]
    >>> history = fit(net, lambda m, b: torch.nn.functional.mse_loss(m(b[0]), b[1]), [(x, 3 * x + 1)],
    ...               optimizer=torch.optim.SGD(net.parameters(), lr=0.5), epochs=200, device="cpu",
    ...               progress=False)
    >>> round(net.weight.item(), 3), round(net.bias.item(), 3), history.epochs
    (3.0, 1.0, 200)
    """
    from . import checkpoint as ckpt
    from .config import device as default_device

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(model, batch), got {type(loss_fn).__name__}")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    epochs = positive_int(epochs, "epochs")
    if collate is not None and not callable(collate):
        raise TypeError(f"collate must be callable as collate(indices), got {type(collate).__name__}")
    if clip is not None and not real_number(clip, "clip") > 0:
        raise ValueError(f"clip must be a positive gradient norm, got {clip}")
    if time_budget is not None and not real_number(time_budget, "time_budget") > 0:
        raise ValueError(f"time_budget must be a positive number of seconds, got {time_budget}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs a checkpoint path to resume from")
    device = default_device() if device is None else torch.device(device)
    rank, world = distributed()
    if world > 1 and collate is None:
        raise ValueError("under torchrun, batches must be index arrays and collate must be given, "
                         "so that each process can take its share of every batch")
    model.to(device)
    net = model
    if world > 1:
        device_ids = None
        if device.type == "cuda":
            device_ids = [device.index if device.index is not None else torch.cuda.current_device()]
        # find_unused_parameters: a model may hold parameters that a loss never uses (the residual output of
        # WaveNet's last unit; a teacher frozen while its student trains); DDP then waits for their gradients.
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=True)
    autocast = (torch.autocast(device_type="cuda", dtype=torch.bfloat16)
                if mixed_precision and device.type == "cuda" else contextlib.nullcontext())

    history, start = History(), 0
    random_state = (torch.random.fork_rng(devices=[device] if device.type == "cuda" else [])
                    if seed is not None else contextlib.nullcontext())
    with random_state:
        if seed is not None:
            torch.manual_seed(seed)
        if resume and Path(checkpoint).is_file():
            saved = ckpt.load_checkpoint(checkpoint, model, optimizer=optimizer, scheduler=scheduler,
                                         hparams=hparams)
            history = History(**saved.state["history"])
            history.stopped = None  # why the last session stopped does not stop this one
            start = len(history.loss)
            torch.set_rng_state(saved.state["torch_rng"])
            if device.type == "cuda" and "cuda_rng" in saved.state:
                torch.cuda.set_rng_state(saved.state["cuda_rng"], device)
        bar = None
        try:
            for epoch in range(start, epochs):
                if history.stopped:
                    break
                begin = time.perf_counter()
                epoch_batches = _epoch_batches(batches, epoch)
                if bar is None and progress and rank == 0:
                    per_epoch = len(epoch_batches) if hasattr(epoch_batches, "__len__") else None
                    bar = _progress(per_epoch and per_epoch * (epochs - start), enabled=True,
                                    description="training")
                total = train_epoch(net, loss_fn, epoch_batches, optimizer=optimizer, collate=collate,
                                    scheduler=scheduler, clip=clip, device=device, autocast=autocast, epoch=epoch,
                                    history=history, bar=bar)
                history.loss.append(total)
                history.lr.append(float(optimizer.param_groups[0]["lr"]))
                if valid is not None:
                    model.eval()
                    with torch.no_grad():
                        scores = valid(model)
                    model.train()
                    if not isinstance(scores, dict):
                        raise TypeError(f"valid must return a dict of numbers, got {type(scores).__name__}")
                    for name, value in scores.items():
                        history.valid.setdefault(name, []).append(float(value))
                history.epoch_seconds.append(time.perf_counter() - begin)
                history.seconds += history.epoch_seconds[-1]
                if time_budget is not None and epoch + 1 < epochs:
                    mean = sum(history.epoch_seconds) / len(history.epoch_seconds)
                    if history.seconds + mean > time_budget:
                        history.stopped = (f"time budget of {time_budget:.0f} s: {epoch + 1} of {epochs} "
                                           "epochs done")
                if bar is not None:
                    bar.set_postfix(epoch=epoch + 1, loss=f"{total:.4g}")
                if checkpoint is not None:
                    if rank == 0:
                        state = {"history": history.to_dict(), "torch_rng": torch.get_rng_state()}
                        if device.type == "cuda":
                            state["cuda_rng"] = torch.cuda.get_rng_state(device)
                        ckpt.save_checkpoint(checkpoint, model, optimizer=optimizer, scheduler=scheduler,
                                             hparams=hparams, state=state)
                    if world > 1:
                        torch.distributed.barrier()
        finally:
            if bar is not None:
                bar.close()
    return history


def train_epoch(net, loss_fn: Callable, batches, *, optimizer, collate: Callable | None = None, scheduler=None,
                clip: float | None = None, device="cpu", autocast=None, epoch: int = 0,
                history: History | None = None, bar=None) -> float:
    """One pass over an epoch's batches: the training step of :func:`fit`; returns the epoch's mean loss.

    For every batch: build it (``collate``; under ``torchrun`` this process's share of
    it), move it to ``device``, compute :math:`\\mathcal L` = ``loss_fn(net, batch)`` (under
    ``autocast``), stop with :class:`NonFiniteLossError` if it is NaN or infinite, then
    back-propagate, clip the gradient norm to ``clip``, and step the optimizer and the
    scheduler. :func:`fit` calls it once per epoch and adds validation, checkpoints and
    the history; call it directly only to write a loop of your own.

    Parameters
    ----------
    net : torch.nn.Module
        The model (or its ``DistributedDataParallel`` wrapper), already on ``device``.
    loss_fn, optimizer, collate, scheduler, clip :
        As for :func:`fit`.
    batches : iterable
        This epoch's batches: index arrays with ``collate``, else batches.
    device : str or torch.device, default "cpu"
    autocast : context manager, optional
        Entered around the forward pass and the loss (e.g. ``torch.autocast(...)``).
    epoch : int, default 0
        Named in error messages.
    history : History, optional
        Its ``steps`` and ``samples`` are counted up.
    bar : tqdm progress bar, optional
        Advanced by one per step.

    Returns
    -------
    float
        The mean loss over the epoch's items (all processes together).

    Examples
    --------
    >>> net = torch.nn.Linear(1, 1, bias=False)
    >>> x = torch.ones(4, 1)
    >>> sgd = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> with torch.no_grad():
    ...     _ = net.weight.fill_(0.0)
    >>> train_epoch(net, lambda m, b: ((m(b) - 1) ** 2).mean(), [x], optimizer=sgd)  # loss before the step
    1.0
    >>> round(net.weight.item(), 6)  # w - 0.1 * 2 (w - 1)
    0.2
    """
    rank, world = distributed()
    autocast = contextlib.nullcontext() if autocast is None else autocast
    history = History() if history is None else history
    epoch_batches = batches
    total, weight = 0.0, 0
    net.train()
    for step, batch in enumerate(epoch_batches):
        if collate is not None:
            indices = np.asarray(batch)
            if indices.ndim != 1 or not np.issubdtype(indices.dtype, np.integer):
                raise TypeError(f"with collate, every batch must be a 1-D array of item indices; batch {step} "
                                f"of epoch {epoch + 1} is {indices.dtype} {indices.shape}")
            n_global = len(indices)
            if n_global < world:
                continue  # too few items to give every process one: skipped by all processes alike
            share = indices[rank::world]
            scale = len(share) * world / n_global  # so that averaging over processes gives the global mean
            batch = collate(share)
        else:
            n_global, scale = 1, 1.0
        batch = to_device(batch, device)
        with autocast:
            loss = loss_fn(net, batch)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise TypeError(f"loss_fn must return a scalar tensor, got {type(loss).__name__} "
                            f"{tuple(getattr(loss, 'shape', ()))}")
        value = loss.detach().double() * scale  # float64: exact for bf16, float32 and float64 losses
        if world > 1:
            torch.distributed.all_reduce(value)
            value = value / world
        value = value.item()
        _check_finite(value, epoch, step, history.steps)
        optimizer.zero_grad(set_to_none=True)
        (loss * scale if scale != 1.0 else loss).backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm=clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        total += value * n_global
        weight += n_global
        history.steps += 1
        history.samples += n_global
        if bar is not None:
            bar.update(1)
    if weight == 0:
        raise ValueError(f"epoch {epoch + 1} has no batches (with {world} processes, every batch needs "
                         f"at least {world} items)")
    return total / weight


def predict(model, forward: Callable, indices, collate: Callable, *, lengths=None, batch_size: int = 64,
            device=None):
    """Run a trained model over items without gradients, in eval mode; outputs in the order of ``indices``.

    The items are cut into batches of ``batch_size`` (by length with :func:`length_batches`
    when ``lengths`` are given, so that little padding is computed), each batch is built by
    ``collate`` and moved to ``device``, and ``forward(model, batch)`` gives its outputs.

    Parameters
    ----------
    model : torch.nn.Module
        Put in eval mode for the run and back in training mode after it, if it was.
    forward : callable
        ``forward(model, batch)`` returns either a tensor whose first axis is the batch,
        ``(B, ...)``, or a list of ``B`` tensors (e.g. each item's frames without padding).
    indices : array_like of int, shape (n_items,)
        The items to predict.
    collate : callable
        ``collate(batch_indices) -> batch`` as for :func:`fit`.
    lengths : array_like of int, optional
        The length of every item (indexed like the items themselves, not like ``indices``).
    batch_size : int, default 64
    device : str or torch.device, optional
        The model is moved there. Default: the device of the model's first parameter.

    Returns
    -------
    ndarray, shape (n_items, ...), or list of ndarray
        In the order of ``indices``: a list when ``forward`` returns lists (or the
        batches' trailing shapes differ), else one array; bf16 outputs become float32.

    Examples
    --------
    >>> net = torch.nn.Linear(2, 1)
    >>> X = torch.randn(5, 2)
    >>> out = predict(net, lambda m, b: m(b), [4, 0, 2], lambda i: X[i], batch_size=2)
    >>> np.allclose(out, net(X[[4, 0, 2]]).detach().numpy())
    True
    """
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be a non-empty 1-D array of ints, got {indices.dtype} {indices.shape}")
    batch_size = positive_int(batch_size, "batch_size")
    if device is None:
        first = next(iter(model.parameters()), None)
        device = first.device if first is not None else torch.device("cpu")
    else:
        model.to(device)
    if lengths is not None:
        batches = length_batches(lengths, batch_size, indices=indices)
    else:
        batches = [indices[i : i + batch_size] for i in range(0, indices.size, batch_size)]
    outputs, gave_lists = {}, False
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for batch in batches:
                out = forward(model, to_device(collate(batch), device))
                gave_lists = gave_lists or isinstance(out, (list, tuple))
                items = list(out) if isinstance(out, (list, tuple)) else list(out.unbind(0))
                if len(items) != len(batch):
                    raise ValueError(f"forward gave {len(items)} outputs for a batch of {len(batch)} items")
                for i, item in zip(batch.tolist(), items):
                    item = item.detach()
                    outputs[i] = (item.float() if item.dtype == torch.bfloat16 else item).cpu().numpy()
    finally:
        model.train(was_training)
    ordered = [outputs[i] for i in indices.tolist()]
    if gave_lists or len({o.shape for o in ordered}) > 1:
        return ordered
    return np.stack(ordered)


if __name__ == "__main__":  # python -m lessons_lib.train: the recipes' command line
    from lessons_lib.recipes import main

    main()

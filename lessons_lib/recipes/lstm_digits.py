"""Recipe: the LSTM that recognises isolated spoken digits from MFCC frames (Chapter 4).

Data: all 3,000 FSDD recordings as the 39-dimensional MFCC frames of Chapter 1
(``features.mfcc_features``); the official split (takes 0-4 test, 5-49
training), and within the training split takes 5-9 as a validation set.
Model: :class:`lessons_lib.models.recurrent.LSTMClassifier`. Loss: the
cross-entropy of the logits. Training: Adam with a one-cycle learning rate,
gradient clipping at norm 1, batches of recordings of similar length.
Headline: accuracy on the official test split.

Chapter: ``notebooks/04c_lstm_digits.ipynb`` (which chooses ``hidden`` on the
validation split, then trains this recipe on the whole training split).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import data as fsdd_data
from .. import features, metrics
from ..models.recurrent import LSTMClassifier
from ..train import fit, length_batches, pad_batch, predict

__all__ = ["Config", "CONFIGS", "Digits", "prepare", "collate", "build", "loss", "batches", "train", "logits",
           "evaluate"]

NAME = "lstm_digits"
NOTEBOOK = "04c_lstm_digits"
TITLE = "LSTM digit classifier: FSDD isolated digits, MFCC frames"


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (the notebook's quick and full sizes are in ``CONFIGS``).

    Attributes
    ----------
    hidden : int
        LSTM units.
    readout : {"last", "mean"}
    epochs, batch_size : int
    lr : float
        The peak learning rate of the one-cycle schedule.
    clip : float
        The largest gradient norm.
    jitter : float
        Of the lengths before sorting them into batches (frames).
    seed : int
        Initial weights and the batches of every epoch.
    """

    hidden: int = 128
    readout: str = "last"
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    clip: float = 1.0
    jitter: float = 8.0
    seed: int = 0


#: Quick mode: what CI and the book run on a CPU; full mode: the GPU configuration.
CONFIGS = {"quick": Config(hidden=128, epochs=10), "full": Config(hidden=256, epochs=30)}


@dataclass(frozen=True, eq=False)
class Digits:
    """The prepared data: every recording's frames, its digit, and the splits (arrays of indices).

    Attributes
    ----------
    fsdd : lessons_lib.data.FSDD
    frames : list of Tensor, each shape (n_frames, 39), float32
    lengths : ndarray of int, shape (3000,)
    digits : ndarray of int, shape (3000,)
    train, test : ndarray of int
        The official split (test: takes 0-4).
    valid, fit : ndarray of int
        The training split cut again: takes 5-9 validate, takes 10-49 are fitted.
    """

    fsdd: object
    frames: list
    lengths: np.ndarray
    digits: np.ndarray
    train: np.ndarray
    test: np.ndarray
    valid: np.ndarray
    fit: np.ndarray


def prepare(config: Config | None = None) -> Digits:
    """Load FSDD and compute the MFCC frames of every recording (once per process; ``config`` is not needed).

    The example needs the real recordings, so doctest skips it; tests/recipes/test_lstm_digits.py runs it.

    Examples
    --------
    >>> d = prepare()  # doctest: +SKIP
    >>> len(d.train), len(d.valid), len(d.fit), len(d.test), d.frames[0].shape[1]  # doctest: +SKIP
    (2700, 300, 2400, 300, 39)
    """
    return _prepare(str(fsdd_data.find_fsdd()))  # the data folder is part of the cache key


@functools.lru_cache(maxsize=1)
def _prepare(recordings: str) -> Digits:
    fsdd = fsdd_data.load_fsdd(recordings)
    train, test = fsdd_data.official_split(fsdd)
    valid = train[np.isin(fsdd.takes[train], range(5, 10))]
    frames = [torch.from_numpy(features.mfcc_features(y, fsdd.sample_rate)) for y in fsdd.waveforms]
    return Digits(fsdd=fsdd, frames=frames, lengths=np.array([len(f) for f in frames]), digits=fsdd.digits,
                  train=train, test=test, valid=valid, fit=np.setdiff1d(train, valid))


def collate(d: Digits, indices):
    """A batch: padded frames ``(T_max, B, 39)``, lengths ``(B,)`` and digits ``(B,)``.

    Examples
    --------
    >>> d = Digits(None, [torch.ones(2, 39), torch.ones(3, 39)], np.array([2, 3]), np.array([4, 7]),
    ...            *[np.arange(2)] * 4)
    >>> x, n, y = collate(d, np.array([1, 0]))
    >>> tuple(x.shape), n.tolist(), y.tolist()
    ((3, 2, 39), [3, 2], [7, 4])
    """
    x, n = pad_batch([d.frames[i] for i in indices])
    return x, n, torch.from_numpy(np.asarray(d.digits[indices], dtype=np.int64))


def build(config: Config, n_features: int = 39) -> LSTMClassifier:
    """The model, initialised from ``config.seed`` (the global random state is left alone).

    Examples
    --------
    >>> a, b = build(Config(hidden=4)), build(Config(hidden=4))
    >>> torch.equal(a.out.weight, b.out.weight)
    True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return LSTMClassifier(n_features, config.hidden, 10, config.readout)


def loss(model, batch) -> torch.Tensor:
    """The cross-entropy of the logits, averaged over the batch.

    Examples
    --------
    >>> net = build(Config(hidden=4))
    >>> x, n, y = torch.zeros(3, 2, 39), torch.tensor([3, 1]), torch.tensor([0, 9])
    >>> loss(net, (x, n, y)).item() > 0
    True
    """
    x, n, y = batch
    return F.cross_entropy(model(x, n), y)


def logits(model, d: Digits, items, *, device=None, dtype=torch.float32) -> np.ndarray:
    """The model's logits for ``items``, ``(len(items), 10)``, in their order (no gradients).

    ``dtype`` is that of the input frames; the model must have it too (e.g.
    ``copy.deepcopy(model).double()`` for ``torch.float64``).

    Examples
    --------
    >>> d = Digits(None, [torch.ones(2, 39), torch.ones(3, 39)], np.array([2, 3]), np.array([4, 7]),
    ...            *[np.arange(2)] * 4)
    >>> logits(build(Config(hidden=4)), d, [1, 0]).shape
    (2, 10)
    """
    def forward(model, batch):
        x, n, _ = batch
        return model(x.to(dtype), n)

    return predict(model, forward, np.asarray(items), functools.partial(collate, d), lengths=d.lengths,
                   device=device)


def batches(config: Config, d: Digits, items):
    """The batches of every epoch: ``batches(config, d, items)(epoch)`` is a list of index arrays.

    Recordings of similar length share a batch (:func:`lessons_lib.train.length_batches`);
    epoch :math:`e` draws its jitter and order from ``default_rng((config.seed, e))``, so
    a resumed run sees the same batches as an uninterrupted one.

    Examples
    --------
    >>> d = Digits(None, None, np.array([5, 1, 4, 2, 3]), None, *[None] * 4)
    >>> epoch_batches = batches(Config(batch_size=2), d, np.arange(5))
    >>> [b.tolist() for b in epoch_batches(0)] == [b.tolist() for b in epoch_batches(0)]
    True
    >>> sorted(np.concatenate(epoch_batches(1)).tolist())
    [0, 1, 2, 3, 4]
    """
    items = np.asarray(items)

    def of_epoch(epoch: int):
        rng = np.random.default_rng((config.seed, epoch))
        return length_batches(d.lengths, config.batch_size, rng, indices=items, jitter=config.jitter)

    return of_epoch


def train(config: Config, d: Digits, items=None, *, valid_items=None, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Train a model on ``items`` (default: the whole training split); returns ``(model, history)``.

    With ``valid_items``, the accuracy on them is recorded after every epoch
    (``history.valid["accuracy"]``). ``model``: train this one instead of a fresh
    :func:`build` (any module called as ``model(x, lengths)``, e.g. a variant for an
    exercise), with the recipe's optimizer, schedule and batches.

    Examples
    --------
    >>> d = Digits(None, [torch.randn(4, 39) for _ in range(8)], np.full(8, 4), np.arange(8) % 2,
    ...            *[np.arange(8)] * 4)
    >>> model, history = train(Config(hidden=4, epochs=2, batch_size=4), d, device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    items = d.train if items is None else np.asarray(items)
    model = build(config) if model is None else model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = len(length_batches(d.lengths, config.batch_size, indices=items))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * steps_per_epoch)

    def validate(model):
        return {"accuracy": float(np.mean(logits(model, d, valid_items).argmax(1) == d.digits[valid_items]))}

    history = fit(model, loss, batches(config, d, items), collate=functools.partial(collate, d), optimizer=optimizer,
                  scheduler=scheduler, epochs=config.epochs, clip=config.clip,
                  valid=validate if valid_items is not None else None, device=device, seed=config.seed,
                  checkpoint=checkpoint, resume=resume, progress=progress, time_budget=time_budget,
                  hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})
    return model, history


def evaluate(model, config: Config, d: Digits, *, device=None) -> dict:
    """Headline numbers on the official test split: accuracy and the number of errors.

    Examples
    --------
    >>> d = Digits(None, [torch.ones(2, 39)] * 4, np.full(4, 2), np.array([0, 1, 0, 1]), *[np.arange(4)] * 4)
    >>> sorted(evaluate(build(Config(hidden=4)), Config(), d))
    ['test accuracy', 'test errors', 'test recordings']
    """
    predicted = logits(model, d, d.test, device=device).argmax(axis=1)
    return {"test accuracy": metrics.accuracy(d.digits[d.test], predicted),
            "test errors": int(np.sum(predicted != d.digits[d.test])), "test recordings": int(len(d.test))}


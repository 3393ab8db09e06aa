"""Recipe: the BiLSTM-CTC recogniser of connected digits (Chapter 5).

Data: connected-digit utterances built from FSDD by ``data.connected_digits``
(two to five digits of one speaker joined by pauses): training utterances from
takes 10-49, validation utterances from takes 5-9, test utterances from the
official test takes 0-4, so that no recording is shared between the parts.
Features: the 39-dimensional MFCC frames of Chapter 1, ``stack`` consecutive
frames concatenated into one network step. Model:
:class:`lessons_lib.models.recurrent.BiLSTMCTC` with 11 classes (class 0 the
blank, digit :math:`d` class :math:`d + 1`). Loss: our CTC loss,
``ctc.ctc_loss_torch``. Training: Adam with a one-cycle learning rate, gradient
clipping at norm 1. Headline: the digit error rate (DER) of best-path decoding
on the test utterances.

Chapter: ``notebooks/05b_ctc_digits.ipynb`` (which chooses ``lr`` on the
validation utterances, then keeps that run).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import ctc, features, metrics
from .. import data as fsdd_data
from ..models.recurrent import BiLSTMCTC
from ..train import fit, length_batches, pad_batch, predict

__all__ = ["Config", "CONFIGS", "N_CLASSES", "BLANK", "Part", "to_classes", "to_digits", "stack_frames",
           "build_corpus", "make_part", "prepare", "collate", "build", "loss", "batches", "log_posteriors", "greedy_digits", "validate", "train",
           "evaluate"]

NAME = "ctc_digits"
NOTEBOOK = "05b_ctc_digits"
TITLE = "BiLSTM-CTC recogniser: FSDD connected digits, stacked MFCC frames"

#: The blank and the ten digits.
N_CLASSES = 11
BLANK = 0
#: The seed of each part's corpus, and the takes its recordings come from.
CORPUS_SEEDS = {"train": 1, "valid": 2, "test": 3}


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (the notebook's quick and full sizes are in ``CONFIGS``).

    Attributes
    ----------
    n_train, n_valid, n_test : int
        Utterances in each part.
    stack : int
        MFCC frames (10 ms each) concatenated into one network step.
    hidden : int
        LSTM units per direction.
    n_layers : int
    dropout : float
        Between LSTM layers.
    epochs, batch_size : int
    lr : float
        The peak learning rate of the one-cycle schedule.
    clip : float
    jitter : float
        Of the lengths before sorting them into batches (steps).
    seed : int
        Initial weights, dropout and the batches of every epoch.
    """

    n_train: int = 600
    n_valid: int = 100
    n_test: int = 300
    stack: int = 4
    hidden: int = 96
    n_layers: int = 1
    dropout: float = 0.0
    epochs: int = 8
    batch_size: int = 32
    lr: float = 3e-3
    clip: float = 1.0
    jitter: float = 10.0
    seed: int = 0


#: Quick mode: what CI and the book run on a CPU; full mode: the GPU configuration.
CONFIGS = {
    "quick": Config(),
    "full": Config(n_train=4000, n_valid=500, n_test=1000, hidden=192, n_layers=2, dropout=0.2, epochs=30),
}


def to_classes(digits) -> np.ndarray:
    """Digit :math:`d` becomes class :math:`d + 1`; class 0 is the blank.

    Examples
    --------
    >>> to_classes([4, 0, 9]).tolist()
    [5, 1, 10]
    """
    return np.asarray(digits, dtype=np.int64) + 1


def to_digits(classes) -> list:
    """Inverse of :func:`to_classes`.

    Examples
    --------
    >>> to_digits([5, 1, 10])
    [4, 0, 9]
    """
    return [int(k) - 1 for k in classes]


def stack_frames(frames: np.ndarray, factor: int) -> np.ndarray:
    """Concatenate ``factor`` consecutive frames: ``(T, F)`` to ``(T // factor, factor * F)``.

    Frames left over at the end (fewer than ``factor``) are dropped.

    Examples
    --------
    >>> stack_frames(np.arange(10).reshape(5, 2), 2).tolist()
    [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    T = len(frames) // factor
    return frames[: T * factor].reshape(T, factor * frames.shape[1])


@dataclass(frozen=True, eq=False)
class Part:
    """One part of the corpus (train, valid or test), with its features computed once.

    Attributes
    ----------
    corpus : lessons_lib.data.ConnectedDigits
    x : list of Tensor, each shape (n_steps, 39 * stack), float32
    n_frames : ndarray of int
        MFCC frames per utterance, before stacking.
    lengths : ndarray of int
        Network steps per utterance.
    targets : list of Tensor of int64
        The CTC targets (classes 1-10).
    """

    corpus: object
    x: list
    n_frames: np.ndarray
    lengths: np.ndarray
    targets: list

    def __len__(self) -> int:
        return len(self.x)

    def references(self) -> list:
        """The transcripts, as lists of digits."""
        return [lab.tolist() for lab in self.corpus.labels]

    def subset(self, keep) -> "Part":
        """The utterances ``keep`` (indices), with their corpus entries; nothing is recomputed.

        Examples
        --------
        >>> parts = prepare(Config(n_train=4, n_valid=2, n_test=2))
        >>> small = parts["train"].subset([3, 1])
        >>> len(small), small.references() == [parts["train"].references()[i] for i in (3, 1)]
        (2, True)
        """
        keep = np.asarray(keep, dtype=np.int64)
        c = self.corpus
        corpus = None if c is None else fsdd_data.ConnectedDigits(
            waveforms=tuple(c.waveforms[u] for u in keep), sample_rate=c.sample_rate,
            labels=tuple(c.labels[u] for u in keep), speakers=np.asarray(c.speakers)[keep],
            sources=tuple(c.sources[u] for u in keep), boundaries=tuple(c.boundaries[u] for u in keep))
        return Part(corpus=corpus, x=[self.x[u] for u in keep], n_frames=self.n_frames[keep],
                    lengths=self.lengths[keep], targets=[self.targets[u] for u in keep])


def build_corpus(n_train: int, n_valid: int, n_test: int) -> dict:
    """The three parts of connected-digit utterances, each from its own FSDD recordings and seed.

    Test utterances join recordings of the official test takes (0-4), validation
    utterances takes 5-9, training utterances takes 10-49, so no recording is in two
    parts; each part draws from ``default_rng(CORPUS_SEEDS[part])``, so the size of one
    part leaves the others unchanged.

    Returns
    -------
    dict of str to lessons_lib.data.ConnectedDigits

    Examples
    --------
    >>> c = build_corpus(3, 2, 2)
    >>> {part: len(u) for part, u in c.items()}
    {'train': 3, 'valid': 2, 'test': 2}
    """
    fsdd = fsdd_data.load_fsdd()
    train, test = fsdd_data.official_split(fsdd)
    is_valid = np.isin(fsdd.takes[train], range(5, 10))
    recordings = {"train": train[~is_valid], "valid": train[is_valid], "test": test}
    sizes = {"train": n_train, "valid": n_valid, "test": n_test}
    return {part: fsdd_data.connected_digits(fsdd, recordings[part], sizes[part],
                                             rng=np.random.default_rng(CORPUS_SEEDS[part]))
            for part in recordings}


def make_part(corpus, stack: int) -> Part:
    """Features and targets of every utterance of a corpus: stacked MFCC frames and CTC classes.

    Examples
    --------
    >>> p = make_part(build_corpus(2, 1, 1)["train"], stack=4)
    >>> p.x[0].shape[1], bool(np.all(p.lengths == p.n_frames // 4))
    (156, True)
    """
    mfccs = [features.mfcc_features(y, corpus.sample_rate) for y in corpus.waveforms]  # (T_u, 39) each
    x = [torch.from_numpy(stack_frames(m, stack)) for m in mfccs]  # (T_u // stack, 39 stack) each
    return Part(corpus=corpus, x=x, n_frames=np.array([len(m) for m in mfccs]),
                lengths=np.array([len(v) for v in x]), targets=[torch.from_numpy(to_classes(lab)) for lab in corpus.labels])


@functools.lru_cache(maxsize=2)
def _prepare(n_train: int, n_valid: int, n_test: int, stack: int, recordings: str) -> dict:
    return {part: make_part(c, stack) for part, c in build_corpus(n_train, n_valid, n_test).items()}


def prepare(config: Config) -> dict:
    """Build the three parts of the corpus and their features (cached per process).

    Returns
    -------
    dict of str to Part
        ``"train"`` (takes 10-49), ``"valid"`` (takes 5-9), ``"test"`` (takes 0-4).

    Examples
    --------
    >>> parts = prepare(Config(n_train=4, n_valid=2, n_test=2))
    >>> {name: len(p) for name, p in parts.items()}
    {'train': 4, 'valid': 2, 'test': 2}
    """
    recordings = str(fsdd_data.find_fsdd())  # part of the cache key: another data folder, other parts
    return _prepare(config.n_train, config.n_valid, config.n_test, config.stack, recordings)


def collate(p: Part, indices):
    """A batch: padded inputs ``(T, N, F)``, lengths ``(N,)``, padded targets ``(N, S_max)``, target lengths.

    Examples
    --------
    >>> p = Part(None, [torch.ones(3, 2), torch.ones(5, 2)], None, np.array([3, 5]),
    ...          [torch.tensor([1, 2]), torch.tensor([3])])
    >>> x, n, l, s = collate(p, np.array([1, 0]))
    >>> tuple(x.shape), n.tolist(), l.tolist(), s.tolist()
    ((5, 2, 2), [5, 3], [[3, 0], [1, 2]], [1, 2])
    """
    x, lengths = pad_batch([p.x[u] for u in indices])
    targets, target_lengths = pad_batch([p.targets[u] for u in indices], batch_first=True)
    return x, lengths, targets, target_lengths


def build(config: Config, n_features: int | None = None) -> BiLSTMCTC:
    """The model, initialised from ``config.seed`` (the global random state is left alone).

    Examples
    --------
    >>> build(Config(hidden=8)).out.weight.shape
    torch.Size([11, 16])
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return BiLSTMCTC(n_features or 39 * config.stack, config.hidden, N_CLASSES, config.n_layers,
                         config.dropout)


def loss(model, batch) -> torch.Tensor:
    """Our CTC loss (``ctc.ctc_loss_torch``, mean over the batch of the loss per target label).

    Examples
    --------
    >>> p = Part(None, [torch.randn(6, 156)], None, np.array([6]), [torch.tensor([1, 2])])
    >>> loss(build(Config(hidden=4)), collate(p, np.array([0]))).item() > 0
    True
    """
    x, lengths, targets, target_lengths = batch
    return ctc.ctc_loss_torch(model(x, lengths), targets, lengths, target_lengths)


def log_posteriors(model, p: Part, items=None, *, device=None) -> list:
    """The model's log-probabilities for each utterance: a list of ``(T_u, 11)`` float64 arrays.

    Examples
    --------
    >>> p = Part(None, [torch.randn(6, 156), torch.randn(3, 156)], None, np.array([6, 3]), [None, None])
    >>> [lp.shape for lp in log_posteriors(build(Config(hidden=4)), p)]
    [(6, 11), (3, 11)]
    """
    items = np.arange(len(p)) if items is None else np.asarray(items)

    def forward(model, batch):
        x, lengths, _, _ = batch
        log_y = model(x, lengths).double()
        return [log_y[: int(n), k] for k, n in enumerate(lengths)]

    def inputs(indices):  # no targets needed
        x, lengths = pad_batch([p.x[u] for u in indices])
        return x, lengths, None, None

    return predict(model, forward, items, inputs, lengths=p.lengths, device=device)


def greedy_digits(log_probs) -> list:
    """Best-path decoding of every utterance, as lists of digits.

    Examples
    --------
    >>> greedy_digits([np.log(np.eye(11)[[0, 3, 3, 0, 5]] + 1e-9)])
    [[2, 4]]
    """
    return [to_digits(ctc.greedy_decode(lp, blank=BLANK)) for lp in log_probs]


def validate(model, p: Part, *, device=None) -> dict:
    """The digit error rate of best-path decoding on part ``p``, and the share of steps decoded as blank.

    Examples
    --------
    >>> p = Part(None, [torch.randn(6, 156)], None, np.array([6]), [None])
    >>> p = Part(type("C", (), {"labels": [np.array([1])]})(), p.x, None, p.lengths, p.targets)
    >>> sorted(validate(build(Config(hidden=4)), p))
    ['DER', 'blank share']
    """
    log_probs = log_posteriors(model, p, device=device)
    return {"DER": metrics.error_rate(p.references(), greedy_digits(log_probs)),
            "blank share": float(np.mean(np.concatenate([lp.argmax(axis=1) == BLANK for lp in log_probs])))}


def batches(config: Config, p: Part):
    """The batches of every epoch: ``batches(config, p)(epoch)`` is a list of index arrays of ``p``.

    Utterances of similar length share a batch (:func:`lessons_lib.train.length_batches`);
    epoch :math:`e` draws its jitter and order from ``default_rng((config.seed, e))``, so
    a resumed run sees the same batches as an uninterrupted one.

    Examples
    --------
    >>> p = Part(None, [None] * 5, None, np.array([5, 1, 4, 2, 3]), None)
    >>> sorted(np.concatenate(batches(Config(batch_size=2), p)(3)).tolist())
    [0, 1, 2, 3, 4]
    """
    def of_epoch(epoch: int):
        rng = np.random.default_rng((config.seed, epoch))
        return length_batches(p.lengths, config.batch_size, rng, jitter=config.jitter)

    return of_epoch


def train(config: Config, parts: dict, *, valid=True, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Train a model on ``parts["train"]``; returns ``(model, history)``.

    Parameters
    ----------
    valid : bool or callable, default True
        ``True``: record :func:`validate` on ``parts["valid"]`` after every epoch
        (``history.valid["DER"]`` and ``["blank share"]``); a callable ``valid(model) ->
        dict`` replaces it; ``False``: no validation.
    model : torch.nn.Module, optional
        Train this one instead of a fresh :func:`build` (any module called as
        ``model(x, lengths)`` that returns log-probabilities ``(T, N, 11)``), with the
        recipe's optimizer, schedule and batches.

    Examples
    --------
    >>> parts = prepare(Config(n_train=4, n_valid=2, n_test=2))
    >>> _, history = train(Config(n_train=4, n_valid=2, n_test=2, hidden=4, epochs=1, batch_size=2), parts,
    ...                    device="cpu", progress=False)
    >>> history.epochs, sorted(history.valid)
    (1, ['DER', 'blank share'])
    """
    items = parts["train"]
    model = build(config, n_features=items.x[0].shape[1]) if model is None else model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = len(length_batches(items.lengths, config.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * steps_per_epoch)

    if valid is True:
        valid = functools.partial(validate, p=parts["valid"], device=device)
    history = fit(model, loss, batches(config, items), collate=functools.partial(collate, items), optimizer=optimizer,
                  scheduler=scheduler, epochs=config.epochs, clip=config.clip, valid=valid or None,
                  device=device, seed=config.seed, checkpoint=checkpoint, resume=resume, progress=progress,
                  time_budget=time_budget, hparams={"recipe": NAME, **asdict(config)})
    return model, history


def evaluate(model, config: Config, parts: dict, *, device=None) -> dict:
    """Headline numbers on the test utterances: the DER of best-path decoding, and their number.

    Examples
    --------
    >>> parts = prepare(Config(n_train=4, n_valid=2, n_test=2))
    >>> sorted(evaluate(build(Config(hidden=4)), Config(), parts))
    ['test DER', 'test digits', 'test utterances']
    """
    test = parts["test"]
    hypotheses = greedy_digits(log_posteriors(model, test, device=device))
    references = test.references()
    return {"test DER": metrics.error_rate(references, hypotheses), "test utterances": len(test),
            "test digits": int(sum(len(r) for r in references))}

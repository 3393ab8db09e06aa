r"""Recipe: a WaveNet models FSDD's raw 8 kHz audio, one μ-law sample at a time, optionally given the speaker (Ch. 7).

Task. Density estimation: the model gives every sample of a recording a
distribution over the 256 μ-law classes given the samples before it (and,
with ``speakers=True``, the speaker), and is scored by the average negative
log-likelihood of the test recordings in bits per sample,

.. math:: \mathrm{NLL} = -\frac{1}{N} \sum_{u} \sum_{t=1}^{n_u - 1} \log_2 p_\theta(x^u_{t+1} \mid x^u_{\le t}, s_u),

on FSDD's official split (takes 0-4 test). Two baselines need no network:
the uniform distribution (:math:`\log_2 256 = 8` bits) and the marginal
distribution of the classes in the training recordings (the entropy of
single samples, add-one smoothed): what a WaveNet gains over it is what the
past of the signal tells about its next sample. With ``speakers=True`` the
test NLL is also measured with every recording given a *wrong* speaker
(the next one in :data:`SPEAKERS`): if the speaker embedding carries
information, that NLL is higher.

Data. Each recording is trimmed of its silences (:func:`~lessons_lib.recipes.sincnet_fsdd.trim`,
``trim_db``), scaled to a peak of ``peak`` (FSDD's levels differ by a factor
of ten between speakers, and μ-law spends its classes on the loud part of
[-1, 1] poorly for a quiet recording), and μ-law encoded
(:func:`lessons_lib.sampling.mu_law_encode`). Training draws, every epoch,
``segments_per_recording`` random segments of ``segment + 1`` samples from
each training recording (a generator seeded with ``(seed, epoch)``); a
recording shorter than that is padded at its end with the class of silence.
A segment is named by one integer, ``recording * STRIDE + start``.
The input embedding starts as a function of the level each class stands for
(:func:`ordinal_embedding_`), which speeds up the start of training a lot.

Model: :class:`lessons_lib.models.wavenet.WaveNet` (kernel 2, one cycle of
11 dilations: a receptive field of 2,048 samples, 256 ms at 8 kHz, in quick
mode). Loss: the cross-entropy of the logits at steps :math:`0..L-1` against
the classes at :math:`1..L`. Training: AdamW, one-cycle learning rate,
gradient clipping.

Chapter: ``notebooks/07b_wavenet.ipynb``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import data as fsdd_data
from .. import sampling
from ..models.wavenet import WaveNet, discretized_mixture_nll, generate
from ..train import fit, segment_batches
from .sincnet_fsdd import trim

__all__ = ["SPEAKERS", "STRIDE", "WaveNetSizes", "check_sizes", "network", "Config", "CONFIGS", "Recordings", "encode",
           "thin", "prepare", "recordings_of", "split",
           "collate", "build", "ordinal_embedding_", "loss", "batches", "train", "marginal_bits", "nll_bits",
           "evaluate", "generate_audio"]

NAME = "wavenet_fsdd"
NOTEBOOK = "07b_wavenet"
TITLE = "WaveNet on FSDD's raw audio: bits per sample, unconditional or speaker-conditioned"

#: The speakers, in label order (global conditioning indices).
SPEAKERS = fsdd_data.FSDD_SPEAKERS
#: A segment's id is ``recording * STRIDE + start``: larger than any recording's length in samples.
STRIDE = 1 << 20


@dataclass(frozen=True)
class WaveNetSizes:
    """The settings both WaveNet recipes share (this one and ``wavenet_vocoder``): network, audio, training.

    Attributes
    ----------
    layers, stacks, kernel_size : int
        ``layers`` gated units in ``stacks`` cycles of doubling dilations.
    residual_channels, gate_channels, skip_channels : int
    ordinal_input : bool
        Start the input embedding (``first_conv``) as a function of the level the class
        stands for (:func:`ordinal_embedding_`), not at random.
    mu : int
        μ-law :math:`\\mu`; ``mu + 1`` classes.
    trim_db : float
        Silence more than ``trim_db`` below the loudest frame is cut from both ends; 0 keeps it.
    peak : float
        Every recording is scaled to this peak amplitude before μ-law encoding.
    segments_per_recording : int
        Random segments drawn from every training recording per epoch.
    n_train, n_test : int
        Use only the first ``n_train`` training and ``n_test`` test recordings of the
        official split (every ``len // n``-th, so that all speakers and digits stay);
        0: all of them.
    epochs, batch_size : int
    lr, weight_decay, clip : float
        AdamW's peak learning rate (one-cycle), weight decay, and the largest gradient norm.
    seed : int
    """

    layers: int = 11
    stacks: int = 1
    kernel_size: int = 2
    residual_channels: int = 32
    gate_channels: int = 64
    skip_channels: int = 64
    ordinal_input: bool = True
    mu: int = 255
    trim_db: float = 30.0
    peak: float = 0.9
    segments_per_recording: int = 1
    n_train: int = 240
    n_test: int = 60
    epochs: int = 3
    batch_size: int = 16
    lr: float = 1e-2
    weight_decay: float = 0.0
    clip: float = 1.0
    seed: int = 0


def check_sizes(config: WaveNetSizes, *positive: str) -> None:
    """Raise a ``ValueError`` naming the first shared setting out of range, or one of ``positive`` below 1.

    Examples
    --------
    >>> check_sizes(WaveNetSizes(peak=1.5))
    Traceback (most recent call last):
    ...
    ValueError: peak must lie in (0, 1], got 1.5
    """
    for name in ("layers", "stacks", "kernel_size", "segments_per_recording", "epochs", "batch_size", "mu",
                 "residual_channels", "gate_channels", "skip_channels", *positive):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    if not 0 < config.peak <= 1:
        raise ValueError(f"peak must lie in (0, 1], got {config.peak}")
    if not config.lr > 0 or config.weight_decay < 0 or not config.clip > 0:
        raise ValueError("lr and clip must be > 0 and weight_decay >= 0")


def network(config: WaveNetSizes, **conditioning) -> WaveNet:
    """The WaveNet of ``config``'s sizes, initialised from ``config.seed`` (global random state left alone).

    ``conditioning``: the keyword arguments of :class:`~lessons_lib.models.wavenet.WaveNet` for
    its conditioning and output (speakers, mels and their upsampler, a mixture output).

    Examples
    --------
    >>> network(WaveNetSizes(layers=3)).receptive_field  # kernel 2, dilations 1, 2, 4
    8
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = WaveNet(config.mu + 1, config.layers, config.stacks, config.residual_channels,
                        config.gate_channels, config.skip_channels, config.kernel_size, **conditioning)
        if config.ordinal_input:
            ordinal_embedding_(model)
    return model


@dataclass(frozen=True)
class Config(WaveNetSizes):
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    speakers : bool
        Condition on the speaker (an embedding of ``speaker_channels`` per speaker).
    speaker_channels : int
    n_mixtures : int
        0: a softmax over the classes; else a discretised mixture of ``n_mixtures``
        logistics over their levels (:func:`lessons_lib.models.wavenet.discretized_mixture_nll`).
    segment : int
        Predicted samples per training segment (the segment holds one more, the first input).
    layers, stacks, kernel_size, residual_channels, gate_channels, skip_channels, ordinal_input, mu
        The network and the audio, :class:`WaveNetSizes` (as are trim_db, peak,
        segments_per_recording, n_train, n_test, epochs, batch_size, lr, weight_decay, clip, seed).
    """

    speakers: bool = False
    speaker_channels: int = 16
    n_mixtures: int = 0
    segment: int = 1200


#: Quick mode: what CI and the book run on one CPU core; full mode: a larger network on all recordings, on a GPU.
CONFIGS = {
    "quick": Config(),
    "full": Config(layers=30, stacks=3, kernel_size=3, residual_channels=64, gate_channels=128, skip_channels=128,
                   segment=8000, segments_per_recording=4, n_train=0, n_test=0, epochs=40, batch_size=16,
                   lr=2e-3),
}


@dataclass(frozen=True, eq=False)
class Recordings:
    """FSDD's recordings as μ-law classes, with speakers and the official split.

    Attributes
    ----------
    classes : tuple of ndarray of int64
        Each recording's classes, ``0 .. mu``.
    speakers : ndarray of int64, shape (n,)
        Index into :data:`SPEAKERS`.
    train, test : ndarray of int64
        Indices of the official split (takes 5-49 and 0-4), thinned to ``n_train``, ``n_test``.
    mu : int
    sample_rate : int
    """

    classes: tuple
    speakers: np.ndarray
    train: np.ndarray
    test: np.ndarray
    mu: int
    sample_rate: int

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def lengths(self) -> np.ndarray:
        return np.array([len(q) for q in self.classes])


def encode(y: np.ndarray, config: Config) -> np.ndarray:
    """One recording to μ-law classes: trimmed, scaled to ``config.peak``, encoded.

    Examples
    --------
    >>> y = np.concatenate([np.zeros(500), 0.1 * np.sin(np.arange(1000) / 5), np.zeros(500)]).astype(np.float32)
    >>> q = encode(y, Config())
    >>> len(q) < len(y), int(q.min()) >= 0, int(q.max()) <= 255
    (True, True, True)
    """
    y = np.asarray(y, np.float64)
    if config.trim_db > 0:
        trimmed = trim(y, config.trim_db)[0]
        y = trimmed if len(trimmed) else y
    top = np.abs(y).max()
    if top > 0:
        y = y * (config.peak / top)
    return sampling.mu_law_encode(y, config.mu)


def thin(indices: np.ndarray, n: int) -> np.ndarray:
    """Every ``len // n``-th index (``n`` of them, spread over the whole list), or all for ``n = 0``.

    Examples
    --------
    >>> thin(np.arange(10), 3).tolist(), thin(np.arange(4), 0).tolist()
    ([0, 3, 6], [0, 1, 2, 3])
    """
    if n <= 0 or n >= len(indices):
        return indices
    return indices[:: len(indices) // n][:n]


def prepare(config: Config | None = None) -> Recordings:
    """FSDD as μ-law classes with speakers and the (thinned) official split, once per process and setting.

    The example needs the real recordings, so doctest skips it; tests/recipes/test_wavenet_fsdd.py runs it.

    Examples
    --------
    >>> d = prepare(Config())  # doctest: +SKIP
    >>> len(d), len(d.train), len(d.test)  # doctest: +SKIP
    (3000, 240, 60)
    """
    config = config or Config()
    return _prepare(str(fsdd_data.find_fsdd()), float(config.trim_db), float(config.peak), int(config.mu),
                    int(config.n_train), int(config.n_test))


@functools.lru_cache(maxsize=2)
def _prepare(recordings: str, trim_db: float, peak: float, mu: int, n_train: int, n_test: int) -> Recordings:
    return recordings_of(fsdd_data.load_fsdd(recordings),
                         Config(trim_db=trim_db, peak=peak, mu=mu, n_train=n_train, n_test=n_test))


def recordings_of(fsdd, config: Config) -> Recordings:
    """:class:`Recordings` from a loaded :class:`lessons_lib.data.FSDD` (every recording encoded by :func:`encode`).

    Raises
    ------
    ValueError
        If ``fsdd`` holds a speaker not in :data:`SPEAKERS`.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> wave = (0.5 * np.sin(np.arange(800) / 3)).astype(np.float32)
    >>> toy = FSDD((wave, wave), 8000, np.array([3, 3]), np.array(["theo", "lucas"]), np.array([0, 7]),
    ...            (None, None))
    >>> d = recordings_of(toy, Config(trim_db=0, n_train=0, n_test=0))
    >>> d.train.tolist(), d.test.tolist(), d.speakers.tolist(), int(d.classes[0].max())
    ([1], [0], [4, 2], 253)
    """
    unknown = sorted(set(np.asarray(fsdd.speakers).tolist()) - set(SPEAKERS))
    if unknown:
        raise ValueError(f"fsdd holds speakers not in SPEAKERS ({', '.join(SPEAKERS)}): {', '.join(unknown)}")
    train, test = fsdd_data.official_split(fsdd)
    classes = tuple(encode(y, config) for y in fsdd.waveforms)
    speakers = np.array([SPEAKERS.index(s) for s in fsdd.speakers], dtype=np.int64)
    return Recordings(classes, speakers, thin(train, config.n_train), thin(test, config.n_test), config.mu,
                      int(fsdd.sample_rate))


def split(config: Config, d: Recordings) -> tuple[np.ndarray, np.ndarray]:
    """The training and test recordings' indices (the official split, thinned as ``config`` says).

    Examples
    --------
    >>> d = Recordings((np.arange(3),) * 3, np.zeros(3, int), np.array([0, 2]), np.array([1]), 255, 8000)
    >>> [i.tolist() for i in split(Config(), d)]
    [[0, 2], [1]]
    """
    return d.train, d.test


def collate(d: Recordings, length: int, ids) -> tuple[torch.Tensor, torch.Tensor]:
    """Segments of ``length`` classes ``(B, length)`` int64 and their speakers ``(B,)`` from segment ids.

    A segment running past its recording's end is padded with the class of silence,
    ``(mu + 1) // 2``.

    Examples
    --------
    >>> d = Recordings((np.arange(5), np.arange(3)), np.array([0, 4]), np.array([0, 1]), np.array([], int),
    ...                255, 8000)
    >>> q, s = collate(d, 4, [1, STRIDE])
    >>> q.tolist(), s.tolist()
    ([[1, 2, 3, 4], [0, 1, 2, 128]], [0, 4])
    """
    ids = np.asarray(ids, dtype=np.int64)
    silence = (d.mu + 1) // 2
    out = np.full((len(ids), length), silence, dtype=np.int64)
    for row, (u, start) in enumerate(zip(ids // STRIDE, ids % STRIDE)):
        piece = d.classes[u][start:start + length]
        out[row, :len(piece)] = piece
    return torch.from_numpy(out), torch.from_numpy(d.speakers[ids // STRIDE])


def _check(config: Config) -> None:
    check_sizes(config, "segment", "speaker_channels")


def build(config: Config) -> WaveNet:
    """The WaveNet of ``config``, initialised from ``config.seed`` (global random state left alone).

    Examples
    --------
    >>> model = build(Config())
    >>> model.receptive_field, model.embed_speakers is None
    (2048, True)
    >>> build(Config(speakers=True)).embed_speakers
    Embedding(6, 16)
    """
    _check(config)
    return network(config, global_cond_channels=config.speaker_channels if config.speakers else None,
                   n_speakers=len(SPEAKERS) if config.speakers else None, n_mixtures=config.n_mixtures or None)


def ordinal_embedding_(model: WaveNet, scale: float = 3.0) -> WaveNet:
    r"""Set the input embedding to a rank-one function of the level: :math:`W_{:,k} = a\, w\, x_k`, no bias.

    :math:`x_k = 2k/(K-1) - 1` is the companded amplitude class :math:`k` stands for,
    :math:`w \sim \mathcal N(0, I)` one random direction (torch's global generator: call it
    inside a seeded block, as :func:`build` does), :math:`a` = ``scale``. A randomly initialised
    one-hot embedding tells the network nothing about which classes are neighbours, and each
    of its 256 columns learns only from the steps where its class occurs; starting from the
    level, as if the input were the sample value itself (r9y9's ``scalar_input``), the
    network predicts from the signal's shape from the first step, and training moves the
    columns from there. In one run at the quick size (30 steps of 16 segments of 1,200 samples,
    peak learning rate 0.01) it lowered the NLL of 20 test recordings from 7.6 to 6.9 bits per
    sample (the marginal baseline: 7.8).

    Examples
    --------
    >>> model = ordinal_embedding_(WaveNet(classes=5, layers=2, stacks=1, residual_channels=3, gate_channels=2,
    ...                                    skip_channels=2))
    >>> torch.linalg.matrix_rank(model.first_conv.weight[:, :, 0]).item(), model.first_conv.bias.abs().max().item()
    (1, 0.0)
    """
    with torch.no_grad():
        levels = torch.linspace(-1.0, 1.0, model.classes, dtype=model.first_conv.weight.dtype)
        direction = torch.randn(model.first_conv.out_channels, dtype=levels.dtype)
        model.first_conv.weight[:, :, 0] = scale * direction[:, None] * levels[None, :]
        model.first_conv.bias.zero_()
    return model


def loss(model, batch) -> torch.Tensor:
    """The cross-entropy (nats per sample) of the logits at steps ``0 .. L-2`` against the classes at ``1 .. L-1``.

    ``batch`` is ``(q, speakers)``; the speakers are used if the model has global conditioning.

    Examples
    --------
    >>> q = torch.randint(0, 256, (2, 50), generator=torch.Generator().manual_seed(0))
    >>> value = loss(build(Config(layers=3)), (q, torch.tensor([0, 1])))
    >>> abs(value.item() - math.log(256)) < 0.5  # near uniform at initialisation
    True
    """
    q, speakers = batch
    unwrapped = getattr(model, "module", model)
    g = speakers if unwrapped.global_cond_channels is not None else None
    return _nll(unwrapped, model(q[:, :-1], g=g), q[:, 1:]).mean()


def _nll(model: WaveNet, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Nats of every target, ``(batch, T)``: softmax cross-entropy, or the mixture's NLL."""
    if model.n_mixtures is not None:
        return discretized_mixture_nll(outputs, targets, model.classes)
    return F.cross_entropy(outputs, targets, reduction="none")


def batches(config: Config, d: Recordings, items):
    """The batches of every epoch, ``batches(config, d, items)(epoch)``: random segment ids from ``(seed, epoch)``.

    Each recording of ``items`` gives ``segments_per_recording`` segments starting uniformly
    at random in :math:`\\{0, \\dots, \\max(0, n_u - L - 1)\\}`; shuffled, cut into batches.

    Examples
    --------
    >>> d = Recordings((np.arange(10),) * 3, np.zeros(3, int), np.arange(3), np.array([], int), 255, 8000)
    >>> of_epoch = batches(Config(segment=4, batch_size=2, segments_per_recording=2), d, [0, 2])
    >>> [len(b) for b in of_epoch(0)], sorted(set((np.concatenate(of_epoch(0)) // STRIDE).tolist()))
    ([2, 2], [0, 2])
    """
    items = np.asarray(items, dtype=np.int64)
    return segment_batches(items, np.maximum(d.lengths[items] - config.segment - 1, 0) + 1,
                           per_item=config.segments_per_recording, batch_size=config.batch_size, seed=config.seed,
                           stride=STRIDE)


def train(config: Config, d: Recordings, items=None, *, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Train on random segments of ``items`` (default: the training recordings); returns ``(model, history)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = Recordings(tuple(rng.integers(0, 256, 300) for _ in range(4)), np.arange(4), np.arange(4),
    ...                np.array([], int), 255, 8000)
    >>> model, history = train(Config(layers=3, residual_channels=4, gate_channels=8, skip_channels=4,
    ...                               segment=50, batch_size=2, epochs=2), d, device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    _check(config)
    items = d.train if items is None else np.asarray(items)
    model = build(config) if model is None else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    of_epoch = batches(config, d, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    return model, fit(model, loss, of_epoch, collate=functools.partial(collate, d, config.segment + 1),
                      optimizer=optimizer, scheduler=scheduler, clip=config.clip, epochs=config.epochs,
                      device=device, seed=config.seed, checkpoint=checkpoint, resume=resume, progress=progress,
                      time_budget=time_budget, hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})


def marginal_bits(d: Recordings, train, test) -> float:
    r"""Bits per sample of the test recordings under the training recordings' class frequencies (add-one smoothed).

    .. math:: \hat p(k) = \frac{n_k + 1}{N + K}, \qquad
              \text{bits} = -\frac{1}{M} \sum_{u \in \text{test}} \sum_{t \ge 1} \log_2 \hat p(x^u_t),

    over the same predicted samples as :func:`nll_bits` (every sample but the first).

    Examples
    --------
    Training classes 0, 1, 1, 1 of :math:`K = 4` give :math:`\hat p(1) = 4/8`; the test
    recording predicts two 1s:

    >>> d = Recordings((np.array([0, 1, 1, 1]), np.array([2, 1, 1])), np.zeros(2, int), np.array([0]),
    ...                np.array([1]), 3, 8000)
    >>> marginal_bits(d, [0], [1])
    1.0
    """
    K = d.mu + 1
    counts = np.bincount(np.concatenate([d.classes[u] for u in train]), minlength=K) + 1.0
    log_p = np.log2(counts / counts.sum())
    targets = np.concatenate([d.classes[u][1:] for u in test])
    return float(-log_p[targets].mean())


@torch.no_grad()
def nll_bits(model: WaveNet, d: Recordings, items, *, speakers=None, device=None) -> float:
    """Average negative log-likelihood, bits per sample, of every sample after the first of each recording.

    Each recording is one teacher-forced forward pass from its first sample (the
    causal convolutions pad its start with zeros). ``speakers`` (one per item)
    replaces the recordings' own speakers for a speaker-conditioned model.

    Examples
    --------
    >>> d = Recordings((np.array([3, 1, 2]), np.array([0, 0])), np.array([0, 1]), np.array([], int),
    ...                np.array([0, 1]), 255, 8000)
    >>> model = build(Config(layers=2))
    >>> bits = nll_bits(model, d, [0, 1])
    >>> q = [torch.tensor([3, 1, 2]), torch.tensor([0, 0])]
    >>> total = sum(F.cross_entropy(model(x[None, :-1]), x[None, 1:], reduction="sum") for x in q)
    >>> abs(bits - total.item() / 3 / math.log(2)) < 1e-5
    True
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device)
    items = np.asarray(items, dtype=np.int64)
    chosen = d.speakers[items] if speakers is None else np.asarray(speakers, dtype=np.int64)
    total, count = 0.0, 0
    try:
        for u, s in zip(items, chosen):
            q = torch.as_tensor(d.classes[u], dtype=torch.long, device=device)[None]
            if q.shape[1] < 2:
                continue
            g = torch.tensor([int(s)], device=device) if model.global_cond_channels is not None else None
            total += _nll(model, model(q[:, :-1], g=g), q[:, 1:]).sum().item()
            count += q.shape[1] - 1
    finally:
        model.train(was_training)
    return total / count / math.log(2)


def evaluate(model, config: Config, d: Recordings, *, device=None) -> dict:
    """Headline numbers: test bits per sample, against the uniform and marginal baselines.

    Returns
    -------
    dict
        ``test bits per sample``, ``marginal bits per sample``, ``uniform bits per sample``,
        ``receptive field``, ``parameters``, ``test recordings``; with speakers also
        ``wrong-speaker bits per sample``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = Recordings(tuple(rng.integers(0, 256, 100) for _ in range(4)), np.arange(4), np.arange(2),
    ...                np.arange(2, 4), 255, 8000)
    >>> out = evaluate(build(Config(layers=3, speakers=True)), Config(), d)
    >>> out["uniform bits per sample"], out["receptive field"], out["test recordings"]
    (8.0, 8, 2)
    >>> sorted(out)[-1]
    'wrong-speaker bits per sample'
    """
    out = {"test bits per sample": nll_bits(model, d, d.test, device=device),
           "marginal bits per sample": marginal_bits(d, d.train, d.test),
           "uniform bits per sample": math.log2(d.mu + 1),
           "receptive field": int(model.receptive_field),
           "parameters": int(sum(p.numel() for p in model.parameters())),
           "test recordings": int(len(d.test))}
    if model.global_cond_channels is not None:
        wrong = (d.speakers[d.test] + 1) % len(SPEAKERS)
        out["wrong-speaker bits per sample"] = nll_bits(model, d, d.test, speakers=wrong, device=device)
    return out


def generate_audio(model: WaveNet, config: Config, n_samples: int, *, speaker: int | None = None,
                   prompt: np.ndarray | None = None, generator: torch.Generator | None = None) -> np.ndarray:
    """``n_samples`` of audio drawn from the model (after an optional prompt of classes), decoded from μ-law.

    Examples
    --------
    >>> audio = generate_audio(build(Config(layers=3)), Config(), 20, generator=torch.Generator().manual_seed(0))
    >>> audio.shape, bool(np.abs(audio).max() <= 1)
    ((20,), True)
    """
    model = model.eval()
    device = next(model.parameters()).device
    g = None
    if model.global_cond_channels is not None:
        if speaker is None:
            raise ValueError(f"this model is speaker-conditioned: give speaker, an index into {SPEAKERS}")
        g = torch.tensor([int(speaker)], device=device)
    prompt_t = None if prompt is None else torch.as_tensor(np.asarray(prompt), dtype=torch.long,
                                                           device=device)[None]
    q = generate(model, n_samples, g=g, prompt=prompt_t, generator=generator, batch_size=1)
    return sampling.mu_law_decode(q[0].cpu().numpy(), config.mu).astype(np.float32)

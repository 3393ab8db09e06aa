r"""Recipe: the CNN classics and a baseline CNN recognise isolated spoken digits from log-mel images (Chapter 6).

Data: every FSDD recording placed in a fixed window of ``seconds`` (1.0 s,
8,000 samples): a shorter recording (99.3% of them) is centred in it between
zeros; a longer one (20 recordings, up to 2.3 s) keeps its loudest stretch of
that length (:func:`fit_window`). The split is the official one (takes 0-4
test) or leave-one-speaker-out, ``split="loso:<speaker>"``: train on the five
other speakers, test on this one. ``split="loso"`` (every speaker in turn) or
``"loso:<a>,<b>"`` (these) stand for one run per held-out speaker
(:func:`folds`), summarised by :func:`combine`: the preset ``resnet_fsdd_loso``.

Model: :class:`lessons_lib.models.cnn.SpectrogramClassifier`, waveforms in:
the log-mel spectrogram of Chapter 1 (``LogMel(sr=8000, n_fft=256,
win_length=200, hop_length=80, n_mels=40, fmin=20, ref="max", top_db=80)``, 40
mel bands by 101 frames of 10 ms), SpecAugment's masks in training (with
``augment``), the fixed scaling :math:`X = (S_\mathrm{dB} + 60) / 20` (:data:`OFFSET`,
:data:`SCALE`: about the mean and standard deviation of FSDD's log-mel values,
so the image is roughly standardised, as an ImageNet network's input is), and
one of the networks of :mod:`lessons_lib.models.cnn` with one input channel and
ten outputs (:data:`ARCHS`). AlexNet's strides need an image at least 63 pixels
high, so its 40 mel bands are each repeated twice (:func:`repeat_for`).

Sizes. Full mode (a GPU) trains every network at its published width for 30
epochs with augmentation. Quick mode (one CPU core) narrows each network and
gives it a few epochs, :data:`ARCH_DEFAULTS` (a ``Config`` field left at 0 takes
the architecture's value): about 10-25 s of training each, enough for 95% on
the official split; the two networks without batch norm, AlexNet and
SqueezeNet, need two to three times the epochs of the others, at a lower
learning rate.

Augmentation (``augment=True``), three kinds, each where it belongs: every
training recording is shifted in time by up to ``max_shift`` seconds (a
circular shift of its window, :func:`lessons_lib.augment.time_shift`) and mixed
with white Gaussian noise at an SNR drawn uniformly from ``[snr_low, snr_high]``
dB, measured over the window (:func:`lessons_lib.augment.mix_at_snr`), in
:func:`collate`, from a generator seeded with ``(seed, epoch, recording)``;
SpecAugment's frequency and time masks are a layer of the model, drawn from
torch's random state, which :func:`lessons_lib.train.fit` seeds and
checkpoints. A resumed run therefore sees the same augmented data.

Loss: the cross-entropy of the logits. Training: AdamW with a one-cycle learning
rate (peak ``lr``), batches of ``batch_size`` recordings in an order drawn from
``(seed, epoch)``. Headline: test accuracy on the split's test recordings and,
when espeak-ng is installed, on the unseen voices of
:func:`lessons_lib.voices.espeak_digits`; the model's parameters and
multiply-adds per recording.

The command line trains one architecture per preset (``lessons_lib.recipes.PRESETS``):
``cnn_fsdd`` is the baseline CNN, ``alexnet_fsdd``, ``vgg_fsdd``,
``googlenet_fsdd``, ``resnet_fsdd``, ``densenet_fsdd`` and ``squeezenet_fsdd``
the classics.

Chapter: ``notebooks/06b_cnn_classifiers.ipynb`` (the zoo on the official split)
and ``notebooks/06c_cnn_evaluation.ipynb`` (augmentation, leave-one-speaker-out,
unseen voices).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import augment as aug
from .. import data as fsdd_data
from .. import metrics
from ..models import cnn
from ..models.frontend import LogMel
from ..train import fit, predict

__all__ = ["ARCHS", "TITLES", "RECIPE_OF", "ARCH_DEFAULTS", "Augmentation", "check_augmentation", "spec_augment", "Config", "CONFIGS", "Windows", "fit_window", "windows_of", "prepare",
           "split", "augment_waveform", "collate", "frontend", "repeat_for", "build", "loss", "batches", "logits",
           "train", "unseen_voices", "evaluate", "settle", "folds", "combine"]

NAME = "cnn_fsdd"
NOTEBOOK = "06b_cnn_classifiers"
TITLE = "CNN digit classifiers: FSDD isolated digits, log-mel images"

#: The networks, by the name ``Config.arch`` takes: ``lessons_lib.models.cnn`` builders.
ARCHS = {
    "baseline": cnn.baseline_cnn,
    "alexnet": cnn.alexnet,
    "vgg11_bn": cnn.vgg11_bn,
    "googlenet": cnn.googlenet,
    "resnet18": cnn.resnet18,
    "densenet121": cnn.densenet121,
    "squeezenet1_1": cnn.squeezenet1_1,
}

#: How tables and figures name each network.
TITLES = {"baseline": "baseline CNN", "alexnet": "AlexNet", "vgg11_bn": "VGG-11-BN", "googlenet": "GoogLeNet",
          "resnet18": "ResNet-18", "densenet121": "DenseNet-121", "squeezenet1_1": "SqueezeNet 1.1"}

#: The command line's recipe for each network: this module (the baseline) or a preset of it
#: (``lessons_lib.recipes.PRESETS``).
RECIPE_OF = {"baseline": "cnn_fsdd", "alexnet": "alexnet_fsdd", "vgg11_bn": "vgg_fsdd", "googlenet": "googlenet_fsdd",
             "resnet18": "resnet_fsdd", "densenet121": "densenet_fsdd", "squeezenet1_1": "squeezenet_fsdd"}

#: Each network's own settings, taken where a ``Config`` field is 0: its width and epochs on a CPU (quick
#: mode: 10-25 s of training each on one core), and its peak learning rate. AlexNet and SqueezeNet, the two
#: without batch norm, learn more slowly and diverge at the others' rate.
ARCH_DEFAULTS = {
    "baseline": {"width": 0.25, "epochs": 3, "lr": 3e-3},
    "alexnet": {"width": 0.25, "epochs": 9, "lr": 1e-3},
    "vgg11_bn": {"width": 0.125, "epochs": 3, "lr": 3e-3},
    "googlenet": {"width": 0.25, "epochs": 4, "lr": 3e-3},
    "resnet18": {"width": 0.25, "epochs": 3, "lr": 3e-3},
    "densenet121": {"width": 0.125, "epochs": 3, "lr": 3e-3},
    "squeezenet1_1": {"width": 0.5, "epochs": 8, "lr": 2e-3},
}

#: The log-mel front end of Chapter 1 at FSDD's 8 kHz: 25-ms windows, 10-ms hop, 40 bands from 20 Hz.
FRONTEND = {"sr": 8000, "n_fft": 256, "win_length": 200, "hop_length": 80, "fmin": 20.0, "ref": "max",
            "top_db": 80.0}

#: The fixed scaling of the log-mel image, :math:`X = (S_\mathrm{dB} - a) / b`: about the mean and the
#: standard deviation of all FSDD log-mel values (-61.7 and 23.1 dB), so that the image has mean 0 and
#: variance 1, roughly, as ImageNet networks standardise their input images.
OFFSET, SCALE = -60.0, 20.0


@dataclass(frozen=True)
class Augmentation:
    """The training-time augmentation of the recipes on FSDD windows (this one and ``ast_fsdd``).

    Attributes
    ----------
    augment : bool
        Time shift, noise and SpecAugment on the training recordings.
    max_shift : float
        Largest time shift, seconds.
    snr_low, snr_high : float
        The SNR of the added white noise is drawn uniformly between them, dB.
    freq_masks, max_freq_width : int
        SpecAugment: frequency masks per recording and their largest width, mel bands.
    time_masks, max_time_width : int
        SpecAugment: time masks per recording and their largest width, frames.
    """

    augment: bool = False
    max_shift: float = 0.15
    snr_low: float = 10.0
    snr_high: float = 40.0
    freq_masks: int = 2
    max_freq_width: int = 6
    time_masks: int = 2
    max_time_width: int = 10


def check_augmentation(config: Augmentation) -> None:
    """Raise a ``ValueError`` for ``snr_low > snr_high`` or a negative ``max_shift``.

    Examples
    --------
    >>> check_augmentation(Augmentation(snr_low=30.0, snr_high=20.0))
    Traceback (most recent call last):
    ...
    ValueError: snr_low must be <= snr_high, got 30.0 and 20.0
    """
    if not config.snr_low <= config.snr_high:
        raise ValueError(f"snr_low must be <= snr_high, got {config.snr_low} and {config.snr_high}")
    if config.max_shift < 0:
        raise ValueError(f"max_shift must be >= 0 seconds, got {config.max_shift}")


def spec_augment(config: Augmentation) -> aug.SpecAugment | None:
    """The model's SpecAugment layer with ``config``'s masks, or ``None`` without ``config.augment``.

    Examples
    --------
    >>> spec_augment(Augmentation()) is None, type(spec_augment(Augmentation(augment=True))).__name__
    (True, 'SpecAugment')
    """
    if not config.augment:
        return None
    return aug.SpecAugment(n_freq_masks=config.freq_masks, max_freq_width=config.max_freq_width,
                           n_time_masks=config.time_masks, max_time_width=config.max_time_width)


@dataclass(frozen=True)
class Config(Augmentation):
    """Hyper-parameters of the recipe (the notebook's quick and full sizes are in ``CONFIGS``).

    Attributes
    ----------
    arch : str
        A key of :data:`ARCHS`.
    width : float
        Multiplier of every hidden channel count (``lessons_lib.models.cnn``); 0: the
        architecture's CPU width, ``ARCH_DEFAULTS[arch]["width"]``.
    n_mels : int
        Mel bands of the log-mel image.
    seconds : float
        The fixed window every recording is placed in.
    epochs : int
        0: the architecture's quick-mode epochs, ``ARCH_DEFAULTS[arch]["epochs"]``.
    batch_size : int
    lr : float
        The peak learning rate of the one-cycle schedule (AdamW); 0: ``ARCH_DEFAULTS[arch]["lr"]``.
    weight_decay : float
        AdamW's decoupled weight decay.
    augment, max_shift, snr_low, snr_high, freq_masks, max_freq_width, time_masks, max_time_width
        The augmentation, :class:`Augmentation`.
    split : str
        ``"official"``, or ``"loso:<speaker>"`` to test on one speaker and train on the others;
        ``"loso"`` or ``"loso:<a>,<b>,..."``: one run per held-out speaker (every speaker, or
        these), see :func:`folds`.
    seed : int
        Initial weights, batches, augmentation.
    """

    arch: str = "baseline"
    width: float = 0.0
    n_mels: int = 40
    seconds: float = 1.0
    epochs: int = 0
    batch_size: int = 32
    lr: float = 0.0
    weight_decay: float = 1e-2
    split: str = "official"
    seed: int = 0


#: Quick mode: what CI and the book run on a CPU; full mode: the GPU configuration (full width, augmented).
CONFIGS = {"quick": Config(), "full": Config(width=1.0, epochs=30, batch_size=64, augment=True)}


def settle(config: Config) -> Config:
    """``config`` with every 0 among ``width``, ``epochs`` and ``lr`` replaced by the architecture's own value.

    Raises
    ------
    ValueError
        If ``config.arch`` is not a key of :data:`ARCHS`.

    Examples
    --------
    >>> c = settle(Config(arch="alexnet", epochs=3))
    >>> c.width, c.epochs, c.lr
    (0.25, 3, 0.001)
    """
    if config.arch not in ARCHS:
        raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {config.arch!r}")
    own = ARCH_DEFAULTS[config.arch]
    return dataclasses.replace(config, **{k: v for k, v in own.items() if getattr(config, k) == 0})


@dataclass(frozen=True, eq=False)
class Windows:
    """Recordings in fixed windows, their labels, and the original data set.

    Attributes
    ----------
    fsdd : lessons_lib.data.FSDD
        The recordings (FSDD, or the unseen voices of espeak-ng).
    waves : Tensor, shape (n_recordings, n_samples), float32
        Each recording in its window (:func:`fit_window`).
    starts : ndarray of int, shape (n_recordings,)
        Where the recording begins in its window (negative: that many samples were cut before it).
    digits : ndarray of int, shape (n_recordings,)
    speakers : ndarray of str, shape (n_recordings,)
    """

    fsdd: object
    waves: torch.Tensor
    starts: np.ndarray
    digits: np.ndarray
    speakers: np.ndarray

    def __len__(self) -> int:
        return len(self.digits)


def fit_window(y: np.ndarray, n_samples: int) -> tuple[np.ndarray, int]:
    """Place a recording in a window of ``n_samples``: centred between zeros, or its loudest stretch.

    A recording of :math:`n \\le N` samples starts at :math:`s = \\lfloor (N - n) / 2 \\rfloor`
    and zeros fill the rest. A longer one keeps the :math:`N` consecutive samples of
    most energy, :math:`y[i^*:i^* + N]` with :math:`i^* = \\arg\\max_i \\sum_{j=i}^{i+N-1} y[j]^2`
    (the first such :math:`i`), and :math:`s = -i^*`.

    Parameters
    ----------
    y : ndarray, shape (n,)
    n_samples : int
        :math:`N`.

    Returns
    -------
    window : ndarray, shape (n_samples,)
        Of ``y``'s dtype.
    start : int
        :math:`s`: ``window[s + j] == y[j]`` where both exist.

    Raises
    ------
    ValueError
        If ``y`` is not 1-D and non-empty or ``n_samples < 1``.

    Examples
    --------
    >>> fit_window(np.array([1.0, 2.0, 3.0]), 6)
    (array([0., 1., 2., 3., 0., 0.]), 1)
    >>> fit_window(np.array([1.0, 0.0, 0.0, 5.0, 4.0, 0.0]), 3)
    (array([0., 5., 4.]), -2)
    """
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"y must be a non-empty 1-D waveform, got shape {y.shape}")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int, got {n_samples!r}")
    n = y.size
    if n <= n_samples:
        start = (n_samples - n) // 2
        window = np.zeros(n_samples, dtype=y.dtype)
        window[start : start + n] = y
        return window, start
    power = np.concatenate([[0.0], np.cumsum(y.astype(np.float64) ** 2)])
    first = int(np.argmax(power[n_samples:] - power[:-n_samples]))
    return y[first : first + n_samples].copy(), -first


def windows_of(fsdd, seconds: float = 1.0) -> Windows:
    """Every recording of ``fsdd`` in a window of ``seconds`` (:func:`fit_window`).

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(3, np.float32), np.ones(9, np.float32)), 4, np.array([1, 2]), np.array(["a", "b"]),
    ...            np.array([0, 0]), (None, None))
    >>> w = windows_of(toy, 1.0)
    >>> w.waves.tolist(), w.starts.tolist()
    ([[1.0, 1.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0]], [0, 0])
    """
    n_samples = round(seconds * fsdd.sample_rate)
    placed = [fit_window(y, n_samples) for y in fsdd.waveforms]
    waves = torch.from_numpy(np.stack([w for w, _ in placed]).astype(np.float32))
    return Windows(fsdd=fsdd, waves=waves, starts=np.array([s for _, s in placed]), digits=np.asarray(fsdd.digits),
                   speakers=np.asarray(fsdd.speakers))


def prepare(config: Config | None = None) -> Windows:
    """Load FSDD and place every recording in its window (once per process and window length).

    The example needs the real recordings, so doctest skips it; tests/recipes/test_cnn_fsdd.py runs it.

    Examples
    --------
    >>> d = prepare()  # doctest: +SKIP
    >>> tuple(d.waves.shape), len(split(Config(), d)[0])  # doctest: +SKIP
    ((3000, 8000), 2700)
    """
    seconds = (config or Config()).seconds
    return _prepare(str(fsdd_data.find_fsdd()), float(seconds))


@functools.lru_cache(maxsize=2)
def _prepare(recordings: str, seconds: float) -> Windows:
    return windows_of(fsdd_data.load_fsdd(recordings), seconds)


def split(config: Config, d: Windows) -> tuple[np.ndarray, np.ndarray]:
    """The training and test recordings of ``config.split``: the official split or one speaker held out.

    Raises
    ------
    ValueError
        If ``config.split`` is neither ``"official"`` nor ``"loso:<speaker>"`` with a speaker of ``d``.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(3, np.float32),) * 4, 8000, np.array([0, 1, 0, 1]), np.array(["a", "a", "b", "b"]),
    ...            np.array([0, 7, 0, 9]), (None,) * 4)
    >>> d = windows_of(toy)
    >>> [i.tolist() for i in split(Config(), d)], [i.tolist() for i in split(Config(split="loso:b"), d)]
    ([[1, 3], [0, 2]], [[0, 1], [2, 3]])
    """
    if config.split == "official":
        return fsdd_data.official_split(d.fsdd)
    if config.split == "loso" or "," in config.split:
        raise ValueError(f"split {config.split!r} stands for several runs, one per held-out speaker: "
                         f"split each with folds(config, d)")
    if config.split.startswith("loso:"):
        return fsdd_data.speaker_split(d.fsdd, config.split.removeprefix("loso:"))
    raise ValueError(f"split must be 'official', 'loso' or 'loso:<speaker>[,<speaker>...]', got {config.split!r}")


def folds(config: Config, d: Windows) -> dict[str, Config]:
    """The runs of a leave-one-speaker-out configuration: ``{speaker: config with split "loso:<speaker>"}``.

    ``split="loso"`` holds out every speaker of ``d`` in turn (in sorted order);
    ``"loso:<a>,<b>"`` these speakers. Any other split is one run, and the result
    is ``{}`` (:func:`lessons_lib.recipes.run` then trains once).

    Raises
    ------
    ValueError
        If a named speaker is not in ``d``.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(3, np.float32),) * 4, 8000, np.array([0, 1, 0, 1]), np.array(["b", "b", "a", "a"]),
    ...            np.array([0, 7, 0, 9]), (None,) * 4)
    >>> {k: c.split for k, c in folds(Config(split="loso"), windows_of(toy)).items()}
    {'a': 'loso:a', 'b': 'loso:b'}
    >>> folds(Config(split="loso:b"), windows_of(toy)), list(folds(Config(split="loso:b,a"), windows_of(toy)))
    ({}, ['b', 'a'])
    """
    if config.split == "loso":
        held_out = sorted(set(np.asarray(d.speakers).tolist()))
    elif config.split.startswith("loso:") and "," in config.split:
        held_out = [s.strip() for s in config.split.removeprefix("loso:").split(",")]
        known = set(np.asarray(d.speakers).tolist())
        unknown = [s for s in held_out if s not in known]
        if unknown or len(set(held_out)) != len(held_out):
            raise ValueError(f"split must name distinct speakers of the data ({', '.join(sorted(known))}), "
                             f"got {config.split!r}")
    else:
        return {}
    return {speaker: dataclasses.replace(config, split=f"loso:{speaker}") for speaker in held_out}


def combine(per_fold: dict[str, dict]) -> dict:
    """The headline numbers of a leave-one-speaker-out run from each fold's :func:`evaluate`.

    .. math:: \\bar a = \\frac{1}{|S|} \\sum_{s \\in S} a_s, \\qquad a_{\\min} = \\min_{s \\in S} a_s

    with :math:`a_s` the test accuracy on held-out speaker :math:`s`.

    Returns
    -------
    dict
        ``LOSO mean accuracy`` (:math:`\\bar a`), ``worst speaker accuracy``
        (:math:`a_{\\min}`), ``held-out speakers`` (:math:`|S|`), ``held out <s>: test
        accuracy`` per speaker, ``espeak accuracy`` (the mean over the folds' models) when
        every fold measured it, ``parameters`` and ``MFLOPs``.

    Raises
    ------
    ValueError
        If ``per_fold`` is empty.

    Examples
    --------
    >>> out = combine({"a": {"test accuracy": 0.9, "parameters": 5}, "b": {"test accuracy": 0.7, "parameters": 5}})
    >>> round(out["LOSO mean accuracy"], 3), out["worst speaker accuracy"], out["held out b: test accuracy"]
    (0.8, 0.7, 0.7)
    """
    if not per_fold:
        raise ValueError("per_fold must hold at least one fold's results")
    accuracy = {speaker: r["test accuracy"] for speaker, r in per_fold.items()}
    out = {"LOSO mean accuracy": float(np.mean(list(accuracy.values()))),
           "worst speaker accuracy": min(accuracy.values()), "held-out speakers": len(accuracy)}
    out |= {f"held out {speaker}: test accuracy": a for speaker, a in accuracy.items()}
    if all("espeak accuracy" in r for r in per_fold.values()):
        out["espeak accuracy"] = float(np.mean([r["espeak accuracy"] for r in per_fold.values()]))
    first = next(iter(per_fold.values()))
    out |= {k: first[k] for k in ("parameters", "MFLOPs") if k in first}
    return out


def augment_waveform(y: np.ndarray, config: Config, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One training window, augmented: a circular time shift, then white noise at a random SNR.

    .. math::
        \\tilde y[i] = y[(i - k) \\bmod N] + g\\, v[i], \\qquad
        k \\sim \\mathcal U\\{-K, \\dots, K\\}, \\quad v[i] \\sim \\mathcal N(0, 1), \\quad
        \\mathrm{SNR} \\sim \\mathcal U[\\mathrm{snr\\_low}, \\mathrm{snr\\_high}]

    with :math:`K` = ``round(max_shift * sample_rate)`` and the gain :math:`g` of
    :func:`lessons_lib.augment.mix_at_snr` (the SNR measured over the window).
    The draws, in order: the shift, the SNR, the noise.

    Examples
    --------
    >>> y = np.zeros(800, np.float32); y[300:500] = np.sin(np.arange(200.0))
    >>> a = augment_waveform(y, Config(), 8000, np.random.default_rng(1))
    >>> b = augment_waveform(y, Config(), 8000, np.random.default_rng(1))
    >>> a.dtype, a.shape, bool(np.array_equal(a, b)), bool(np.array_equal(a, y))
    (dtype('float32'), (800,), True, False)
    """
    shifted = aug.time_shift(y, round(config.max_shift * sample_rate), rng=rng)
    snr_db = float(rng.uniform(config.snr_low, config.snr_high))
    return aug.mix_at_snr(shifted, rng.standard_normal(y.shape[0]), snr_db)


def collate(d: Windows, indices, *, config: Config | None = None, epoch: int | None = None):
    """A batch: waveforms ``(B, n_samples)`` float32 and digits ``(B,)``; augmented when given an epoch.

    With ``config.augment`` and an ``epoch``, recording :math:`i` is augmented by
    :func:`augment_waveform` with ``numpy.random.default_rng((config.seed, epoch, i))``:
    the same in every batch and every process it lands in, and in a resumed run.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(3, np.float32),) * 2, 8, np.array([4, 7]), np.array(["a", "b"]), np.array([0, 0]),
    ...            (None,) * 2)
    >>> x, y = collate(windows_of(toy), np.array([1, 0]))
    >>> tuple(x.shape), y.tolist()
    ((2, 8), [7, 4])
    """
    indices = np.asarray(indices)
    x = d.waves[torch.from_numpy(indices)]
    if config is not None and config.augment and epoch is not None:
        rate = d.fsdd.sample_rate
        x = torch.from_numpy(np.stack([
            augment_waveform(x[b].numpy(), config, rate, np.random.default_rng((config.seed, epoch, int(i))))
            for b, i in enumerate(indices)]))
    return x, torch.from_numpy(np.asarray(d.digits[indices], dtype=np.int64))


def frontend(config: Config) -> LogMel:
    """The log-mel front end, :data:`FRONTEND` with ``config.n_mels`` bands.

    Examples
    --------
    >>> frontend(Config())(torch.zeros(1, 8000)).shape
    torch.Size([1, 40, 101])
    """
    return LogMel(n_mels=config.n_mels, **FRONTEND)


def repeat_for(body, n_mels: int, n_frames: int) -> tuple[int, int]:
    """How often to repeat each band and frame so that the image is at least ``body.min_size`` on each axis.

    .. math:: r_f = \\lceil m / F \\rceil, \\qquad r_t = \\lceil m / T \\rceil

    Examples
    --------
    >>> repeat_for(cnn.alexnet(10, 1, 0.25), 40, 101), repeat_for(cnn.resnet18(10, 1, 0.25), 40, 101)
    ((2, 1), (1, 1))
    """
    m = getattr(body, "min_size", 1)
    return math.ceil(m / n_mels), math.ceil(m / n_frames)


def build(config: Config) -> cnn.SpectrogramClassifier:
    """The model, waveforms in and logits out, initialised from ``config.seed`` (global random state left alone).

    Raises
    ------
    ValueError
        If ``config.arch`` is unknown, ``config.split`` malformed, or a setting out of range.

    Examples
    --------
    >>> net = build(Config(arch="resnet18"))
    >>> net.body.width, net.repeat, net(torch.zeros(2, 8000)).shape
    (0.25, (1, 1), torch.Size([2, 10]))
    """
    config = settle(config)
    if config.split not in ("official", "loso") and not config.split.startswith("loso:"):
        raise ValueError(f"split must be 'official', 'loso' or 'loso:<speaker>[,<speaker>...]', "
                         f"got {config.split!r}")
    check_augmentation(config)
    if config.width < 0 or config.seconds <= 0 or config.epochs < 0 or config.lr < 0:
        raise ValueError("width, epochs and lr must be >= 0, seconds > 0")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        body = ARCHS[config.arch](num_classes=10, in_channels=1, width=config.width)
    front = frontend(config)
    n_frames = int(front.n_frames(round(config.seconds * FRONTEND["sr"])))
    return cnn.SpectrogramClassifier(front, body, augment=spec_augment(config), offset=OFFSET, scale=SCALE,
                                     repeat=repeat_for(body, config.n_mels, n_frames))


def loss(model, batch) -> torch.Tensor:
    """The cross-entropy of the logits, averaged over the batch.

    Examples
    --------
    >>> net = build(Config(arch="squeezenet1_1"))
    >>> loss(net, (torch.zeros(2, 8000), torch.tensor([3, 5]))).item() > 0
    True
    """
    x, y = batch
    return F.cross_entropy(model(x), y)


def batches(config: Config, items):
    """The batches of every epoch: ``batches(config, items)(epoch)``, a shuffle drawn from ``(seed, epoch)``.

    All windows have one length, so a batch is any ``batch_size`` recordings; the last may be smaller.

    Examples
    --------
    >>> of_epoch = batches(Config(batch_size=2), np.arange(5))
    >>> [b.tolist() for b in of_epoch(0)] == [b.tolist() for b in of_epoch(0)]
    True
    >>> sorted(np.concatenate(of_epoch(1)).tolist()), [len(b) for b in of_epoch(1)]
    ([0, 1, 2, 3, 4], [2, 2, 1])
    """
    items = np.asarray(items)

    def of_epoch(epoch: int):
        order = np.random.default_rng((config.seed, epoch)).permutation(items)
        return [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]

    return of_epoch


def logits(model, d: Windows, items, *, device=None, batch_size: int = 250) -> np.ndarray:
    """The model's logits for ``items``, ``(len(items), 10)``, in their order (eval mode, no gradients).

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(800, np.float32),) * 3, 8000, np.array([0, 1, 2]), np.array(["a"] * 3),
    ...            np.array([0, 1, 2]), (None,) * 3)
    >>> logits(build(Config()), windows_of(toy), [2, 0]).shape
    (2, 10)
    """
    return predict(model, lambda m, batch: m(batch[0]), np.asarray(items), functools.partial(collate, d),
                   batch_size=batch_size, device=device)


def train(config: Config, d: Windows, items=None, *, valid_items=None, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Train a model on ``items`` (default: the training recordings of ``config.split``); returns ``(model, history)``.

    With ``valid_items``, the accuracy on them is recorded after every epoch
    (``history.valid["accuracy"]``). ``model``: train this one instead of a fresh
    :func:`build` (any module taking waveforms ``(B, n_samples)``), with the
    recipe's optimizer, schedule, batches and waveform augmentation.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(800, np.float32),) * 8, 8000, np.arange(8) % 2, np.array(["a"] * 8),
    ...            np.arange(8) + 5, (None,) * 8)
    >>> model, history = train(Config(epochs=2, batch_size=4, augment=True), windows_of(toy), device="cpu",
    ...                        progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    config = settle(config)
    items = split(config, d)[0] if items is None else np.asarray(items)
    model = build(config) if model is None else model
    model.to(memory_format=torch.channels_last)  # NHWC kernels: faster convolutions on CPUs (oneDNN) and GPUs
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    of_epoch = batches(config, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    current = {"epoch": 0}  # fit asks for an epoch's batches before it collates them

    def epoch_batches(epoch: int):
        current["epoch"] = epoch
        return of_epoch(epoch)

    def training_collate(indices):
        return collate(d, indices, config=config, epoch=current["epoch"])

    def validate(model):
        return {"accuracy": float(np.mean(logits(model, d, valid_items).argmax(1) == d.digits[valid_items]))}

    history = fit(model, loss, epoch_batches, collate=training_collate, optimizer=optimizer, scheduler=scheduler,
                  epochs=config.epochs, valid=validate if valid_items is not None else None, device=device,
                  seed=config.seed, checkpoint=checkpoint, resume=resume, progress=progress,
                  time_budget=time_budget, hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})
    return model, history


def unseen_voices(config: Config | None = None) -> Windows | None:
    """The ten digits in espeak-ng's voices (:func:`lessons_lib.voices.espeak_digits`) in windows; ``None`` without espeak-ng.

    Examples
    --------
    >>> u = unseen_voices()  # doctest: +SKIP
    >>> tuple(u.waves.shape)  # doctest: +SKIP
    (120, 8000)
    """
    from .. import voices

    try:
        unseen = voices.espeak_digits()
    except voices.EspeakNotFoundError:
        return None
    return windows_of(unseen, (config or Config()).seconds)


def evaluate(model, config: Config, d: Windows, *, device=None, unseen: Windows | None | bool = True) -> dict:
    """Headline numbers: test accuracy on the split's test recordings and on unseen voices; size and cost.

    Parameters
    ----------
    model : nn.Module
        Waveforms ``(B, n_samples)`` -> logits ``(B, 10)``.
    config : Config
    d : Windows
    unseen : Windows, None or bool, default True
        The unseen-voice set; ``True`` synthesises it (:func:`unseen_voices`), ``None`` or
        ``False`` leaves it out. Also left out when espeak-ng is not installed.

    Returns
    -------
    dict
        ``test accuracy``, ``test errors``, ``test recordings``; ``espeak accuracy`` and
        ``espeak recordings`` with unseen voices; ``parameters``; ``MFLOPs``, the
        multiply-adds of one recording's forward pass (front end excluded) in millions.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(800, np.float32),) * 4, 8000, np.arange(4), np.array(["a"] * 4), np.arange(4),
    ...            (None,) * 4)
    >>> sorted(evaluate(build(Config()), Config(), windows_of(toy), unseen=False))
    ['MFLOPs', 'parameters', 'test accuracy', 'test errors', 'test recordings']
    """
    test = split(config, d)[1]
    predicted = logits(model, d, test, device=device).argmax(axis=1)
    results = {"test accuracy": metrics.accuracy(d.digits[test], predicted),
               "test errors": int(np.sum(predicted != d.digits[test])), "test recordings": int(len(test))}
    if unseen is True:
        unseen = unseen_voices(config)
    if unseen:
        heard = logits(model, unseen, np.arange(len(unseen)), device=device).argmax(axis=1)
        results["espeak accuracy"] = metrics.accuracy(unseen.digits, heard)
        results["espeak recordings"] = len(unseen)
    results["parameters"] = sum(p.numel() for p in model.parameters())
    if isinstance(model, cnn.SpectrogramClassifier):
        n_frames = int(model.frontend.n_frames(d.waves.shape[1]))
        (r_f, r_t), n_mels = model.repeat, model.frontend.n_mels
        results["MFLOPs"] = cnn.count_flops(model.body, (1, 1, r_f * n_mels, r_t * n_frames)) / 1e6
    return results

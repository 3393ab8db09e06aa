r"""Recipe: the WaveNet vocoder turns FSDD's 40-band log-mel spectrograms back into audio, against Griffin-Lim (Ch. 7).

Task. A log-mel spectrogram keeps, per 16 ms frame, the energy of 40 mel
bands and nothing else: no phase, and within each band no detail. A vocoder
has to invent a waveform that fits it. Here a WaveNet
(:class:`lessons_lib.models.wavenet.WaveNet`) conditioned on the log-mel
spectrogram, upsampled to the sample rate
(:class:`~lessons_lib.models.wavenet.ConditioningUpsampler`, ``upsampler``:
``"transposed"``, ``"nearest"`` or ``"linear"``), learns
:math:`p(x_{t+1} \mid x_{\le t}, c)` over 256 μ-law classes, and generates
audio one sample at a time from the spectrogram alone. The baseline needs no
training: the same spectrogram back to a linear magnitude by non-negative
least squares (:func:`lessons_lib.mel.mel_to_stft`), then 32 iterations of
fast Griffin-Lim (:func:`lessons_lib.spectral.griffinlim`, momentum 0.99)
(:func:`griffin_lim`).

Features. Each FSDD recording is trimmed of its silences and scaled to a peak
of ``peak``, as in :mod:`~lessons_lib.recipes.wavenet_fsdd`, and cut to a
whole number of hops. Its log-mel spectrogram is that of Chapter 1 in torch
(:class:`~lessons_lib.models.frontend.LogMel`: 8 kHz, ``n_fft`` 512, hop 128,
40 mels, dB re 1, 80 dB range below each recording's peak) (:func:`log_mel`):
:math:`F = n/R + 1` frames for :math:`n` samples, frame :math:`m` centred on
sample :math:`mR`. Like an inverse STFT, both vocoders turn :math:`F` frames
into :math:`(F - 1) R` samples: the WaveNet conditions samples
:math:`mR .. mR + R - 1` on frame :math:`m` (the last frame, centred just past
the end, it does not use); Griffin-Lim uses all of them. The network reads the spectrogram scaled,
:math:`(S_\mathrm{dB} + 20) / 15` (:func:`normalize`: about zero mean and unit
variance on FSDD).

Training. Teacher forcing: random segments of ``segment_frames`` frames and
:math:`L + 1` samples (:math:`L` = ``segment_frames * hop_length``; the first
:math:`L` are the inputs, the last :math:`L` the targets) starting on a frame
boundary, ``segments_per_recording`` per
training recording per epoch (a generator seeded with ``(seed, epoch)``);
the loss is the cross-entropy of the logits at steps :math:`0..L-1` against
the classes at :math:`1..L`. AdamW, one-cycle learning rate, gradient
clipping, checkpoints through :func:`lessons_lib.train.fit`.

Evaluation (:func:`evaluate`). The test recordings (FSDD's takes 0-4, thinned
to ``n_test``) are vocoded from their log-mel spectrograms by the WaveNet
(:func:`vocode`, cached generation, all at once) and by Griffin-Lim; each
output, the recordings concatenated (at least :data:`MIN_TEST_SECONDS`, for
STOI), is scored against the recordings with :mod:`lessons_lib.quality`:
log-spectral distance, multi-resolution STFT distance (:data:`RESOLUTIONS`),
PESQ-NB and STOI. Also the teacher-forced test NLL in bits per sample (cf.
the unconditional WaveNet of 07b).

The upsampling experiment (:func:`upsample_constant`, :func:`stride_energy`):
a constant spectrogram through each upsampler, and the fraction of the
output's energy at the frequencies of the stride, where a transposed
convolution whose kernel is not a multiple of its stride leaves its
checkerboard.

Chapter: ``notebooks/07c_wavenet_vocoder.ipynb``.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import data as fsdd_data
from .. import mel as mel_module
from .. import quality, sampling, spectral
from ..models.frontend import LogMel
from ..models.wavenet import UPSAMPLERS, ConditioningUpsampler, WaveNet, generate
from ..train import fit, segment_batches
from .sincnet_fsdd import trim
from .wavenet_fsdd import SPEAKERS, WaveNetSizes, check_sizes, network, thin

__all__ = ["OFFSET", "SCALE", "MIN_TEST_SECONDS", "RESOLUTIONS", "STRIDE", "Config", "CONFIGS", "Utterances",
           "level", "frontend", "log_mel", "normalize", "utterances_of", "prepare", "split", "batches", "collate",
           "build", "loss", "train", "fit_on_segments", "nll_bits", "vocode", "sharpened", "griffin_lim", "scores",
           "evaluate", "upsample_constant", "stride_energy"]

NAME = "wavenet_vocoder"
NOTEBOOK = "07c_wavenet_vocoder"
TITLE = "the WaveNet vocoder on FSDD's 40-band log-mels, against Griffin-Lim at the same mel"

#: The network reads :math:`(S_\mathrm{dB} + \mathrm{OFFSET}) / \mathrm{SCALE}`: FSDD's log-mel values have mean
#: about -20 dB and standard deviation about 15 dB (trimmed, peak 0.9).
OFFSET, SCALE = 20.0, 15.0
#: The test recordings are scored concatenated, at least this long (STOI is noisy on short clips).
MIN_TEST_SECONDS = 2.0
#: Multi-resolution STFT distance at 8 kHz: Parallel WaveGAN's three resolutions (24 kHz) at about the same
#: durations, ``(n_fft, hop_length, win_length)``.
RESOLUTIONS = ((512, 40, 200), (1024, 80, 400), (256, 16, 80))
#: A segment's id is ``recording * STRIDE + first frame``.
STRIDE = 1 << 20


@dataclass(frozen=True)
class Config(WaveNetSizes):
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    upsampler : {"transposed", "nearest", "linear"}
        How frames become samples (:class:`~lessons_lib.models.wavenet.ConditioningUpsampler`).
    upsample_scales : tuple of int
        Stages' factors; they multiply to ``hop_length``.
    upsample_kernel_sizes : tuple of int
        Time taps per stage; ``()``: the upsampler's default (kernel = stride for
        ``"transposed"``, :math:`2s + 1` for ``"nearest"``). Unused by ``"linear"``.
    freq_axis_kernel_size : int
        Odd number of neighbouring mel bands each upsampling tap spans.
    n_mels, n_fft, hop_length : int
        The log-mel spectrogram (at FSDD's 8 kHz).
    top_db : float
        Range kept below each recording's loudest mel bin.
    layers, stacks, kernel_size, residual_channels, gate_channels, skip_channels : int
        The WaveNet.
    ordinal_input : bool
        Start the input embedding from the level of each class
        (:func:`lessons_lib.recipes.wavenet_fsdd.ordinal_embedding_`).
    mu : int
        μ-law :math:`\\mu`; ``mu + 1`` classes.
    trim_db, peak : float
        Silence trimming and peak level of every recording, as in ``wavenet_fsdd``.
    segment_frames : int
        Frames per training segment (``segment_frames * hop_length`` predicted samples).
    segments_per_recording : int
    n_train, n_test : int
        Thin the official split to so many recordings (0: all).
    epochs, batch_size : int
    lr, weight_decay, clip : float
    gl_iter : int
        Griffin-Lim iterations of the baseline.
    gl_momentum : float
    temperature : float
        Generation draws from :math:`\\mathrm{softmax}(\\text{logits} / \\tau)`; :math:`\\tau < 1`
        sharpens the distribution (less hiss, less variety), 1 samples the model as trained.
    seed : int
        Initialisation, segments, the Griffin-Lim phases and the vocoder's samples.
    """

    upsampler: str = "transposed"
    upsample_scales: tuple = (4, 4, 8)
    upsample_kernel_sizes: tuple = ()
    freq_axis_kernel_size: int = 3
    n_mels: int = 40
    n_fft: int = 512
    hop_length: int = 128
    top_db: float = 80.0
    segment_frames: int = 6
    gl_iter: int = 32
    gl_momentum: float = 0.99
    temperature: float = 1.0
    # WaveNetSizes with the vocoder's own quick defaults
    layers: int = 10
    kernel_size: int = 3
    skip_channels: int = 32
    n_test: int = 8
    epochs: int = 12
    batch_size: int = 8
    lr: float = 5e-3


#: Quick mode: a small vocoder (10 layers, 32 residual channels), 360 steps of 8 segments of 768 samples: 45 s on
#: one idle CPU core, enough for the loss to fall from 5.5 to 3.8 nats, not to sound like speech. Full mode: r9y9's
#: size (3 cycles of 10 layers, 64 residual channels), every recording, about 10,000 steps of 32 segments of
#: 2,048 samples: sized for about 5 minutes on one H200 (an estimate: not yet run on a GPU).
CONFIGS = {
    "quick": Config(),
    "full": Config(layers=30, stacks=3, residual_channels=64, gate_channels=128, skip_channels=64,
                   segment_frames=16, segments_per_recording=4, n_train=0, n_test=0, epochs=30, batch_size=32,
                   lr=2e-3),
}


@dataclass(frozen=True, eq=False)
class Utterances:
    """FSDD's recordings ready for vocoding: waveform, μ-law classes and log-mel spectrogram of each.

    Attributes
    ----------
    waveforms : tuple of ndarray of float32, shape (n_hops * hop_length,)
        Trimmed, peak-scaled, cut to whole hops: the references the vocoders are scored against.
    classes : tuple of ndarray of int64
        The same, μ-law encoded.
    mels : tuple of ndarray of float32, shape (n_mels, n_hops + 1)
        Log-mel spectrograms in dB (:func:`log_mel`), for ``n_hops * hop_length`` samples.
    speakers : ndarray of int64
    train, test : ndarray of int64
        The official split (takes 5-49, 0-4), thinned.
    mu, sample_rate, hop_length : int
    """

    waveforms: tuple
    classes: tuple
    mels: tuple
    speakers: np.ndarray
    train: np.ndarray
    test: np.ndarray
    mu: int
    sample_rate: int
    hop_length: int

    def __len__(self) -> int:
        return len(self.waveforms)

    @property
    def n_hops(self) -> np.ndarray:
        """Samples of each recording / ``hop_length`` (one frame fewer than its log-mel has)."""
        return np.array([len(q) // self.hop_length for q in self.classes])


# --------------------------------------------------------------------------- features


def level(y: np.ndarray, config: Config) -> np.ndarray:
    """One recording trimmed of silence, scaled to a peak of ``config.peak`` and cut to whole hops (float64).

    A recording shorter than one hop is padded with zeros to one hop.

    Examples
    --------
    >>> y = np.concatenate([np.zeros(500), 0.1 * np.sin(np.arange(1000) / 5), np.zeros(500)])
    >>> x = level(y, Config())
    >>> len(x) % 128, round(float(np.abs(x).max()), 3)
    (0, 0.9)
    """
    y = np.asarray(y, np.float64)
    if config.trim_db > 0:
        trimmed = trim(y, config.trim_db)[0]
        y = trimmed if len(trimmed) else y
    top = np.abs(y).max()
    if top > 0:
        y = y * (config.peak / top)
    hop = config.hop_length
    if len(y) < hop:
        return np.pad(y, (0, hop - len(y)))
    return y[: len(y) // hop * hop]


def frontend(config: Config, sample_rate: int = 8000) -> LogMel:
    """The log-mel front end of ``config`` (float64, dB re 1, ``top_db`` below each item's peak).

    Examples
    --------
    >>> frontend(Config())(torch.zeros(1, 1280, dtype=torch.float64)).shape
    torch.Size([1, 40, 11])
    """
    return LogMel(sr=sample_rate, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels,
                  top_db=config.top_db)


def log_mel(y: np.ndarray, config: Config, sample_rate: int = 8000) -> np.ndarray:
    """The log-mel spectrogram of a waveform of whole hops: ``(n_mels, len(y) / hop + 1)`` float32, in dB.

    The centred STFT gives :math:`n/R + 1` frames for :math:`n` samples, frame :math:`m`
    centred on sample :math:`mR`.

    Raises
    ------
    ValueError
        If ``len(y)`` is not a positive multiple of ``config.hop_length``.

    Examples
    --------
    >>> log_mel(np.random.default_rng(0).standard_normal(1280) * 0.1, Config()).shape
    (40, 11)
    """
    y = np.asarray(y, np.float64)
    if y.ndim != 1 or len(y) == 0 or len(y) % config.hop_length:
        raise ValueError(f"y must be 1-D with a positive multiple of hop_length={config.hop_length} samples, "
                         f"got shape {y.shape} (use level() to cut it)")
    with torch.no_grad():
        S_db = frontend(config, sample_rate)(torch.from_numpy(y))
    return S_db.numpy().astype(np.float32)


def normalize(mel_db) -> torch.Tensor | np.ndarray:
    """What the network reads: :math:`(S_\\mathrm{dB} + 20) / 15` (:data:`OFFSET`, :data:`SCALE`).

    Examples
    --------
    >>> normalize(np.array([-20.0, -5.0]))
    array([0., 1.])
    """
    return (mel_db + OFFSET) / SCALE


def utterances_of(fsdd, config: Config) -> Utterances:
    """:class:`Utterances` from a loaded :class:`lessons_lib.data.FSDD` (each recording through :func:`level`).

    The example needs the real recordings, so doctest skips it; tests/recipes/test_wavenet_vocoder.py runs it.

    Examples
    --------
    >>> d = utterances_of(fsdd_data.load_fsdd(), Config())  # doctest: +SKIP
    >>> d.mels[0].shape[1] == d.n_hops[0] + 1  # doctest: +SKIP
    True
    """
    unknown = sorted(set(np.asarray(fsdd.speakers).tolist()) - set(SPEAKERS))
    if unknown:
        raise ValueError(f"fsdd holds speakers not in SPEAKERS ({', '.join(SPEAKERS)}): {', '.join(unknown)}")
    train, test = fsdd_data.official_split(fsdd)
    sr = int(fsdd.sample_rate)
    waveforms = tuple(level(y, config) for y in fsdd.waveforms)
    mels = tuple(log_mel(y, config, sr) for y in waveforms)
    classes = tuple(sampling.mu_law_encode(y, config.mu) for y in waveforms)
    speakers = np.array([SPEAKERS.index(s) for s in fsdd.speakers], dtype=np.int64)
    return Utterances(tuple(y.astype(np.float32) for y in waveforms), classes, mels, speakers,
                      thin(train, config.n_train), thin(test, config.n_test), config.mu, sr, config.hop_length)


def prepare(config: Config | None = None) -> Utterances:
    """FSDD's recordings with their classes and log-mels, once per process and setting.

    The example needs the real recordings, so doctest skips it; tests/recipes/test_wavenet_vocoder.py runs it.

    Examples
    --------
    >>> d = prepare(Config())  # doctest: +SKIP
    >>> len(d), len(d.train), len(d.test)  # doctest: +SKIP
    (3000, 240, 8)
    """
    config = config or Config()
    return _prepare(str(fsdd_data.find_fsdd()), float(config.trim_db), float(config.peak), int(config.mu),
                    int(config.n_mels), int(config.n_fft), int(config.hop_length), float(config.top_db),
                    int(config.n_train), int(config.n_test))


@functools.lru_cache(maxsize=2)
def _prepare(recordings: str, trim_db, peak, mu, n_mels, n_fft, hop_length, top_db, n_train, n_test):
    config = Config(trim_db=trim_db, peak=peak, mu=mu, n_mels=n_mels, n_fft=n_fft, hop_length=hop_length,
                    top_db=top_db, n_train=n_train, n_test=n_test)
    return utterances_of(fsdd_data.load_fsdd(recordings), config)


def split(config: Config, d: Utterances) -> tuple[np.ndarray, np.ndarray]:
    """The training and test recordings' indices (the official split, thinned as ``config`` says).

    Examples
    --------
    >>> d = Utterances((), (), (), np.array([], int), np.array([3, 4]), np.array([0]), 255, 8000, 128)
    >>> split(Config(), d)
    (array([3, 4]), array([0]))
    """
    return d.train, d.test


# --------------------------------------------------------------------------- training


def batches(config: Config, d: Utterances, items):
    """The batches of every epoch, ``batches(config, d, items)(epoch)``: segment ids from ``(seed, epoch)``.

    Each recording of ``items`` gives ``segments_per_recording`` segments whose first frame is
    uniform in :math:`\\{0, \\dots, \\max(0, H_u - \\text{segment\\_frames})\\}`, :math:`H_u` its hops.

    Examples
    --------
    >>> d = Utterances((np.zeros(1280),) * 3, (np.zeros(1280, int),) * 3, (np.zeros((40, 11)),) * 3,
    ...                np.zeros(3, int), np.arange(3), np.array([], int), 255, 8000, 128)
    >>> of_epoch = batches(Config(segment_frames=4, batch_size=2, segments_per_recording=2), d, [0, 2])
    >>> [len(b) for b in of_epoch(0)], int(max(np.concatenate(of_epoch(0)) % STRIDE)) <= 6
    ([2, 2], True)
    """
    items = np.asarray(items, dtype=np.int64)
    return segment_batches(items, np.maximum(d.n_hops[items] - config.segment_frames, 0) + 1,
                           per_item=config.segments_per_recording, batch_size=config.batch_size, seed=config.seed,
                           stride=STRIDE)


def collate(d: Utterances, segment_frames: int, ids) -> tuple[torch.Tensor, torch.Tensor]:
    """Segments from their ids: classes ``(B, L + 1)`` int64 and scaled log-mels ``(B, n_mels, L / hop)``.

    :math:`L` = ``segment_frames * hop``. A segment starting at frame :math:`a` holds the
    classes of samples :math:`aR .. aR + L` and frames :math:`a .. a + L/R - 1`. Past a
    recording's end the classes are silence, ``(mu + 1) // 2``, and the frames are its
    quietest frame value.

    Examples
    --------
    >>> mels = (np.arange(8.0).reshape(2, 4) - 20,)  # 2 bands, 4 frames for 3 hops of 2 samples
    >>> d = Utterances((np.zeros(6),), (np.arange(6),), mels, np.zeros(1, int), np.arange(1), np.array([], int),
    ...                255, 8000, 2)
    >>> q, c = collate(d, 2, [1])
    >>> q.tolist(), (15 * c - 20).round().tolist()
    ([[2, 3, 4, 5, 128]], [[[-19.0, -18.0], [-15.0, -14.0]]])
    """
    ids = np.asarray(ids, dtype=np.int64)
    hop, n_mels = d.hop_length, d.mels[0].shape[0]
    L = segment_frames * hop
    q = np.full((len(ids), L + 1), (d.mu + 1) // 2, dtype=np.int64)
    c = np.empty((len(ids), n_mels, segment_frames), dtype=np.float32)
    for row, (u, a) in enumerate(zip(ids // STRIDE, ids % STRIDE)):
        piece = d.classes[u][a * hop:a * hop + L + 1]
        q[row, :len(piece)] = piece
        frames = d.mels[u][:, a:a + segment_frames]
        c[row] = frames.min()
        c[row, :, :frames.shape[1]] = frames
    return torch.from_numpy(q), torch.from_numpy(normalize(c))


def _check(config: Config) -> None:
    check_sizes(config, "segment_frames", "n_mels", "n_fft", "hop_length", "gl_iter")
    if config.upsampler not in UPSAMPLERS:
        raise ValueError(f"upsampler must be one of {UPSAMPLERS}, got {config.upsampler!r}")
    if math.prod(config.upsample_scales) != config.hop_length:
        raise ValueError(f"upsample_scales {tuple(config.upsample_scales)} multiply to "
                         f"{math.prod(config.upsample_scales)}, but hop_length is {config.hop_length}: the "
                         "upsampler must turn one frame into hop_length samples")
    if config.gl_momentum < 0:
        raise ValueError(f"gl_momentum must be >= 0, got {config.gl_momentum}")
    if not config.temperature > 0:
        raise ValueError(f"temperature must be > 0, got {config.temperature}")


def build(config: Config) -> WaveNet:
    """The vocoder of ``config``, initialised from ``config.seed`` (global random state left alone).

    Raises
    ------
    ValueError
        Sizes below 1, an unknown upsampler, scales that do not multiply to ``hop_length``.

    Examples
    --------
    >>> model = build(Config())
    >>> model.receptive_field, model.cond_channels, model.hop_length, model.upsample_conv.mode
    (2047, 40, 128, 'transposed')
    """
    _check(config)
    linear = config.upsampler == "linear"
    return network(config, cond_channels=config.n_mels, hop_length=config.hop_length, upsampler=config.upsampler,
                   upsample_scales=None if linear else tuple(config.upsample_scales),
                   upsample_kernel_sizes=None if linear or not config.upsample_kernel_sizes
                   else tuple(config.upsample_kernel_sizes),
                   freq_axis_kernel_size=config.freq_axis_kernel_size)


def loss(model, batch) -> torch.Tensor:
    """Cross-entropy (nats per sample) of the logits at steps ``0 .. L-1`` against the classes at ``1 .. L``.

    ``batch`` is ``(q, c)`` as :func:`collate` makes it.

    Examples
    --------
    >>> model = build(Config(layers=2))
    >>> q = torch.randint(0, 256, (2, 257), generator=torch.Generator().manual_seed(0))
    >>> abs(loss(model, (q, torch.zeros(2, 40, 2))).item() - math.log(256)) < 1.0
    True
    """
    q, c = batch
    return F.cross_entropy(model(q[:, :-1], c), q[:, 1:])


def train(config: Config, d: Utterances, items=None, *, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Train on random segments of ``items`` (default: the training recordings); returns ``(model, history)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = Utterances((np.zeros(640),) * 4, tuple(rng.integers(0, 256, 640) for _ in range(4)),
    ...                tuple(rng.normal(-20, 15, (40, 5)) for _ in range(4)), np.zeros(4, int), np.arange(4),
    ...                np.array([], int), 255, 8000, 128)
    >>> model, history = train(Config(layers=2, residual_channels=4, gate_channels=8, skip_channels=4,
    ...                               segment_frames=2, batch_size=2, epochs=2), d, device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    _check(config)
    return fit_on_segments(config, d, items, build, loss, collate, NAME, model=model, device=device,
                           checkpoint=checkpoint, resume=resume, progress=progress, time_budget=time_budget)


def fit_on_segments(config, d: Utterances, items, build_model, loss_fn, collate_fn, name: str, *, model=None,
                    device=None, checkpoint=None, resume: bool = False, progress: bool = True,
                    time_budget: float | None = None):
    """AdamW with a one-cycle schedule on random mel-aligned segments: the training the mel-conditioned vocoders
    share (this recipe's WaveNet, ``flow_vocoder``'s WaveGlow and FloWaveNet); returns ``(model, history)``.

    ``build_model(config)`` makes the network (unless ``model`` is given), ``loss_fn(model, batch)`` is what
    :func:`~lessons_lib.train.fit` minimises, ``collate_fn(d, config.segment_frames, ids)`` cuts the segments,
    ``name`` goes into the checkpoint's hyper-parameters.

    Raises
    ------
    ValueError
        ``d`` prepared with other mels or another hop than ``config``.

    Examples
    --------
    This recipe's :func:`train` is ``fit_on_segments`` with its own ``build``, ``loss`` and ``collate``:

    >>> rng = np.random.default_rng(0)
    >>> d = Utterances((np.zeros(640),) * 4, tuple(rng.integers(0, 256, 640) for _ in range(4)),
    ...                tuple(rng.normal(-20, 15, (40, 5)) for _ in range(4)), np.zeros(4, int), np.arange(4),
    ...                np.array([], int), 255, 8000, 128)
    >>> config = Config(layers=2, residual_channels=4, gate_channels=8, skip_channels=4, segment_frames=2,
    ...                 batch_size=2, epochs=1)
    >>> model, history = fit_on_segments(config, d, [0, 1], build, loss, collate, "two items", device="cpu",
    ...                                  progress=False)
    >>> history.steps, history.samples
    (1, 2)
    >>> from dataclasses import replace
    >>> fit_on_segments(replace(config, n_mels=80), d, None, build, loss, collate, "80 mels")
    Traceback (most recent call last):
    ...
    ValueError: the data has 40 mels every 128 samples, the config 80 every 128: prepare it with the same config
    """
    if d.hop_length != config.hop_length or d.mels[0].shape[0] != config.n_mels:
        raise ValueError(f"the data has {d.mels[0].shape[0]} mels every {d.hop_length} samples, the config "
                         f"{config.n_mels} every {config.hop_length}: prepare it with the same config")
    items = d.train if items is None else np.asarray(items)
    model = build_model(config) if model is None else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    of_epoch = batches(config, d, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    return model, fit(model, loss_fn, of_epoch, collate=functools.partial(collate_fn, d, config.segment_frames),
                      optimizer=optimizer, scheduler=scheduler, clip=config.clip, epochs=config.epochs,
                      device=device, seed=config.seed, checkpoint=checkpoint, resume=resume, progress=progress,
                      time_budget=time_budget, hparams={"recipe": name, **asdict(config), "items": int(len(items))})


# --------------------------------------------------------------------------- vocoding and scoring


@torch.no_grad()
def nll_bits(model: WaveNet, d: Utterances, items, *, device=None) -> float:
    """Teacher-forced negative log-likelihood, bits per sample, of every sample after the first of each recording.

    Examples
    --------
    >>> d = Utterances((np.zeros(256),), (np.arange(256),), (np.zeros((40, 3)) - 20,), np.zeros(1, int),
    ...                np.array([], int), np.array([0]), 255, 8000, 128)
    >>> model = build(Config(layers=2))
    >>> q, c = torch.arange(256)[None], torch.zeros(1, 40, 2)
    >>> by_hand = F.cross_entropy(model(q, c)[..., :-1], q[:, 1:]).item() / math.log(2)
    >>> abs(nll_bits(model, d, [0]) - by_hand) < 1e-5
    True
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device)
    total, count = 0.0, 0
    try:
        for u in np.asarray(items, dtype=np.int64):
            q = torch.as_tensor(d.classes[u], dtype=torch.long, device=device)[None]
            c = torch.as_tensor(normalize(d.mels[u][:, :-1]), dtype=torch.float32, device=device)[None]
            logits = model(q, c.to(next(model.parameters()).dtype))[..., :-1]
            total += F.cross_entropy(logits, q[:, 1:], reduction="sum").item()
            count += q.shape[1] - 1
    finally:
        model.train(was_training)
    return total / count / math.log(2)


def _check_mels(mels, model: WaveNet, config: Config) -> list[np.ndarray]:
    if isinstance(mels, np.ndarray):
        mels = [mels]
    if model.hop_length != config.hop_length:
        raise ValueError(f"the model's upsampler makes {model.hop_length} samples per frame, but config.hop_length "
                         f"is {config.hop_length}: the mel's hop must match the upsampler")
    checked = []
    for i, S_db in enumerate(mels):
        S_db = np.asarray(S_db)
        if S_db.ndim != 2 or S_db.shape[0] != model.cond_channels or S_db.shape[1] < 2:
            raise ValueError(f"mels[{i}] must be a log-mel spectrogram of shape (n_mels={model.cond_channels}, "
                             f"n_frames >= 2), got shape {S_db.shape}")
        if not np.all(np.isfinite(S_db)):
            raise ValueError(f"mels[{i}] contains NaN or infinite values")
        checked.append(S_db)
    return checked


@torch.no_grad()
def vocode(model: WaveNet, mels, config: Config, *, generator: torch.Generator | None = None) -> list[np.ndarray]:
    """Waveforms drawn from the vocoder given log-mel spectrograms, all in one batch with cached generation.

    For a spectrogram of :math:`F` frames the result has :math:`T = (F - 1) R` samples, as an
    inverse STFT of :math:`F` centred frames: sample 0 is the class of silence (the first
    input) and samples :math:`1 .. T-1` are drawn one by one
    (:func:`lessons_lib.models.wavenet.generate`, from :func:`sharpened` by
    ``config.temperature``), sample :math:`t` reading frame
    :math:`\\lfloor (t - 1)/R \\rfloor` (the last frame is not used). Shorter spectrograms are
    padded to the longest with their quietest value; their samples past :math:`T` are dropped.

    Parameters
    ----------
    model : WaveNet
        With ``cond_channels = n_mels`` and ``hop_length`` of ``config``.
    mels : ndarray or list of ndarray, each shape (n_mels, n_frames), n_frames >= 2
        Log-mel spectrograms in dB, as :func:`log_mel` makes them.
    config : Config
    generator : torch.Generator, optional
        On the model's device.

    Returns
    -------
    list of ndarray of float32, shape ((n_frames - 1) * hop_length,)

    Raises
    ------
    ValueError
        A spectrogram with a number of bands other than the model's, empty or not finite; a
        model whose upsampler's hop is not ``config.hop_length``.

    Examples
    --------
    >>> config = Config(layers=2, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> y = vocode(build(config), [np.full((40, 3), -30.0), np.full((40, 2), -30.0)], config,
    ...            generator=torch.Generator().manual_seed(0))
    >>> [len(x) for x in y], bool(max(np.abs(x).max() for x in y) <= 1)
    ([256, 128], True)
    """
    mels = _check_mels(mels, model, config)
    if not config.temperature > 0:
        raise ValueError(f"config.temperature must be > 0, got {config.temperature}")
    model = sharpened(model, config.temperature)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    frames = [m.shape[1] - 1 for m in mels]
    c = np.stack([np.pad(m[:, :-1], ((0, 0), (0, max(frames) - m.shape[1] + 1)), constant_values=m.min())
                  for m in mels])
    c = torch.as_tensor(normalize(c), dtype=next(model.parameters()).dtype, device=device)
    T = max(frames) * config.hop_length
    silence = (config.mu + 1) // 2
    try:
        q = generate(model, T - 1, c=c, generator=generator, initial=silence) if T > 1 else \
            torch.empty(len(mels), 0, dtype=torch.long, device=device)
    finally:
        model.train(was_training)
    q = torch.cat([torch.full((len(mels), 1), silence, dtype=torch.long, device=device), q], dim=1).cpu().numpy()
    return [sampling.mu_law_decode(row[:n * config.hop_length], config.mu).astype(np.float32)
            for row, n in zip(q, frames)]


def sharpened(model: WaveNet, temperature: float) -> WaveNet:
    r"""The model with its logits divided by :math:`\tau`: sampling it draws from :math:`\mathrm{softmax}(z/\tau)`.

    The last layer of the head is linear (a 1x1 convolution), so dividing its weights and bias
    by :math:`\tau` divides the logits. :math:`\tau = 1` returns ``model`` itself; otherwise a
    copy (the model is left alone).

    Raises
    ------
    ValueError
        If ``temperature`` is not positive, or the model outputs a mixture of logistics.

    Examples
    --------
    >>> model = build(Config(layers=2))
    >>> q, c = torch.zeros(1, 128, dtype=torch.long), torch.zeros(1, 40, 1)
    >>> torch.allclose(sharpened(model, 0.5)(q, c), 2 * model(q, c), atol=1e-5)
    True
    """
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    if model.n_mixtures is not None:
        raise ValueError("sharpened divides softmax logits: this model outputs a mixture of logistics")
    if temperature == 1:
        return model
    sharp = copy.deepcopy(model)
    with torch.no_grad():
        last = sharp.last_conv_layers[-1]
        last.weight /= temperature
        last.bias /= temperature
    return sharp


def griffin_lim(mel_db: np.ndarray, config: Config, *, rng: np.random.Generator, sample_rate: int = 8000
                ) -> np.ndarray:
    r"""The baseline: a log-mel spectrogram back to a waveform by NNLS and fast Griffin-Lim.

    .. math:: M = 10^{S_\mathrm{dB}/10}, \qquad
              \hat S = \texttt{mel\_to\_stft}(M), \qquad
              \hat y = \texttt{griffinlim}(\hat S, 32 \text{ iterations}, \alpha = 0.99)

    The result has ``(n_frames - 1) * hop_length`` samples, like :func:`vocode`'s. Equal to
    ``librosa.griffinlim(librosa.feature.inverse.mel_to_stft(librosa.db_to_power(mel_db), ...))``
    with the same initial phase (tested).

    Parameters
    ----------
    mel_db : ndarray, shape (n_mels, n_frames)
    config : Config
    rng : numpy.random.Generator
        Draws the initial phase.
    sample_rate : int, default 8000

    Returns
    -------
    ndarray of float64, shape ((n_frames - 1) * hop_length,)

    Raises
    ------
    ValueError
        A spectrogram of the wrong number of bands, of fewer than 2 frames, or not finite.

    Examples
    --------
    >>> y = griffin_lim(np.full((40, 3), -30.0), Config(), rng=np.random.default_rng(0))
    >>> y.shape, y.dtype
    ((256,), dtype('float64'))
    """
    mel_db = np.asarray(mel_db, dtype=np.float64)
    if mel_db.ndim != 2 or mel_db.shape[0] != config.n_mels or mel_db.shape[1] < 2:
        raise ValueError(f"mel_db must be a log-mel spectrogram of shape (n_mels={config.n_mels}, n_frames >= 2), "
                         f"got shape {mel_db.shape}")
    S = mel_module.mel_to_stft(10.0 ** (mel_db / 10.0), sr=sample_rate, n_fft=config.n_fft, power=2.0)
    return spectral.griffinlim(S, n_iter=config.gl_iter, hop_length=config.hop_length, n_fft=config.n_fft,
                               momentum=config.gl_momentum, length=(mel_db.shape[1] - 1) * config.hop_length,
                               init="random", rng=rng)


def scores(reference: np.ndarray, estimate: np.ndarray, sample_rate: int = 8000) -> dict:
    """LSD (dB), multi-resolution STFT distance, PESQ-NB and STOI of ``estimate`` against ``reference``.

    :func:`lessons_lib.quality.log_spectral_distance` at 512/128 (the vocoder's own STFT),
    :func:`~lessons_lib.quality.multi_resolution_stft_distance` at :data:`RESOLUTIONS`,
    :func:`~lessons_lib.quality.pesq_nb`, :func:`~lessons_lib.quality.stoi`.

    Examples
    --------
    >>> t = np.arange(16000) / 8000
    >>> x = 0.5 * np.sin(2 * np.pi * 3 * t) ** 2 * np.sign(np.sin(2 * np.pi * 150 * t))
    >>> {k: round(v, 2) for k, v in scores(x, x).items()}
    {'LSD dB': 0.0, 'MR-STFT': 0.0, 'PESQ-NB': 4.55, 'STOI': 1.0}
    """
    return {"LSD dB": quality.log_spectral_distance(reference, estimate, n_fft=512, hop_length=128),
            "MR-STFT": quality.multi_resolution_stft_distance(reference, estimate, resolutions=RESOLUTIONS),
            "PESQ-NB": quality.pesq_nb(reference, estimate, sample_rate),
            "STOI": quality.stoi(reference, estimate, sample_rate)}


def evaluate(model, config: Config, d: Utterances, *, device=None, items=None) -> dict:
    """Headline numbers: the vocoder and Griffin-Lim at the same mels, scored on the test recordings.

    The WaveNet vocodes every test recording's log-mel (:func:`vocode`, generator seeded with
    ``config.seed``), Griffin-Lim too (:func:`griffin_lim`, phases from
    ``numpy.random.default_rng(config.seed)``, one recording after the other); each is
    concatenated and scored against the concatenated recordings (:func:`scores`).

    Returns
    -------
    dict
        ``vocoder <score>`` and ``Griffin-Lim <score>`` for LSD dB, MR-STFT, PESQ-NB, STOI;
        ``beats Griffin-Lim`` (lower LSD and higher PESQ-NB: the full-mode target); ``test
        bits per sample`` (teacher-forced); ``test seconds``, ``test recordings``,
        ``generation samples per second`` (samples of all recordings / wall time),
        ``receptive field``, ``parameters``.

    Raises
    ------
    ValueError
        If the test recordings last less than :data:`MIN_TEST_SECONDS` together.

    Examples
    --------
    It needs the real recordings (doctest skips it; tests/recipes/test_wavenet_vocoder.py runs it):

    >>> config = CONFIGS["quick"]
    >>> d = prepare(config)  # doctest: +SKIP
    >>> model, history = train(config, d)  # doctest: +SKIP
    >>> out = evaluate(model, config, d)  # doctest: +SKIP
    >>> out["Griffin-Lim PESQ-NB"] > out["vocoder PESQ-NB"]  # quick mode: no quality claim  # doctest: +SKIP
    True
    """
    items = d.test if items is None else np.asarray(items, dtype=np.int64)
    reference = np.concatenate([d.waveforms[u] for u in items]).astype(np.float64)
    seconds = len(reference) / d.sample_rate
    if seconds < MIN_TEST_SECONDS:
        raise ValueError(f"the {len(items)} test recordings last {seconds:.2f} s together; scoring needs at least "
                         f"{MIN_TEST_SECONDS} s (STOI): raise n_test")
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device)
    mels = [d.mels[u] for u in items]
    begin = time.perf_counter()
    vocoded = vocode(model, mels, config, generator=torch.Generator(device=device).manual_seed(config.seed))
    generation_seconds = time.perf_counter() - begin
    rng = np.random.default_rng(config.seed)
    baseline = np.concatenate([griffin_lim(m, config, rng=rng, sample_rate=d.sample_rate) for m in mels])
    ours = scores(reference, np.concatenate(vocoded).astype(np.float64), d.sample_rate)
    theirs = scores(reference, baseline, d.sample_rate)
    out = {f"vocoder {k}": v for k, v in ours.items()} | {f"Griffin-Lim {k}": v for k, v in theirs.items()}
    out["beats Griffin-Lim"] = bool(ours["LSD dB"] < theirs["LSD dB"] and ours["PESQ-NB"] > theirs["PESQ-NB"])
    out |= {"test bits per sample": nll_bits(model, d, items, device=device),
            "test seconds": seconds, "test recordings": int(len(items)),
            "generation samples per second": len(reference) / generation_seconds,
            "receptive field": int(model.receptive_field),
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    return out


# --------------------------------------------------------------------------- the upsampling experiment


def upsample_constant(mode: str, *, hop_length: int = 8, kernel_size: int | None = None, frames: int = 32,
                      random_weights: bool = False, seed: int = 0) -> np.ndarray:
    """A constant spectrogram (one band of ones) through a one-stage upsampler: the pattern it adds, per sample.

    ``mode`` and ``kernel_size`` as :class:`~lessons_lib.models.wavenet.ConditioningUpsampler`
    (one stage of stride ``hop_length``, one band). At initialisation a transposed
    convolution has all taps equal, so output sample :math:`n` is proportional to the number
    of kernel taps that reach it: with kernel :math:`k = s` one each, constant; with
    :math:`k` not a multiple of :math:`s`, :math:`\\lfloor k/s \\rfloor` or
    :math:`\\lceil k/s \\rceil` in a pattern of period :math:`s`, the checkerboard. With
    ``random_weights`` the weights are drawn from :math:`\\mathcal N(0, 1)` (seeded): a
    trained transposed convolution's taps differ, and even :math:`k = s` then repeats a
    period-:math:`s` pattern; a repetition followed by a convolution, or linear
    interpolation, maps a constant to a constant whatever the weights. The first and last
    :math:`\\lceil k/s \\rceil` frames' samples (edge effects) are cut off.

    Returns
    -------
    ndarray of float64, shape ((frames - 2 * cut) * hop_length,)

    Raises
    ------
    ValueError
        As the upsampler's; ``frames`` too small to leave an interior.

    Examples
    --------
    >>> upsample_constant("transposed", hop_length=4, kernel_size=6, frames=8)[:8]
    array([1. , 0.5, 0.5, 1. , 1. , 0.5, 0.5, 1. ])
    >>> bool(np.ptp(upsample_constant("nearest", hop_length=4, frames=8)) < 1e-6)
    True
    """
    hop = int(hop_length)
    module = ConditioningUpsampler(hop, mode, kernel_sizes=None if kernel_size is None else (kernel_size,))
    k = kernel_size if kernel_size is not None else (hop if mode == "transposed" else 2 * hop + 1)
    cut = 0 if mode == "linear" else math.ceil(k / hop)
    if frames <= 2 * cut:
        raise ValueError(f"frames must exceed {2 * cut} to leave samples away from the edges, got {frames}")
    module = module.double()
    if random_weights:
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=generator, dtype=p.dtype))
    with torch.no_grad():
        y = module(torch.ones(1, 1, frames, dtype=torch.float64))[0, 0].numpy()
    return y[cut * hop: len(y) - cut * hop]


def stride_energy(y: np.ndarray, period: int) -> float:
    r"""The fraction of a signal's energy at the frequencies of a pattern of period ``period``.

    With :math:`Y = \mathrm{DFT}(y)` of :math:`N` samples (:math:`N` a multiple of
    :math:`s` = ``period``), the bins :math:`h N / s`, :math:`h = 1, \ldots, s-1`, are the
    frequencies :math:`h f_s / s`: the fundamental and harmonics of anything that repeats
    every :math:`s` samples.

    .. math:: E_s = \frac{\sum_{h=1}^{s-1} |Y[hN/s]|^2}{\sum_{k=0}^{N-1} |Y[k]|^2}

    0 for a constant; 1 for a zero-mean pattern that repeats every :math:`s` samples exactly.

    Parameters
    ----------
    y : ndarray of float, shape (N,)
        Not all zeros.
    period : int
        :math:`s \ge 1`, dividing :math:`N`.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    ValueError
        ``y`` not 1-D, all zeros, or of a length that ``period`` does not divide.

    Examples
    --------
    >>> stride_energy(np.ones(16), 4), stride_energy(np.tile([1.0, -1.0], 8), 2)
    (0.0, 1.0)
    """
    y = np.asarray(y, dtype=np.float64)
    period = int(period)
    if y.ndim != 1 or period < 1 or len(y) == 0 or len(y) % period:
        raise ValueError(f"y must be 1-D with a length that period={period} divides, got shape {y.shape}")
    spectrum = np.abs(np.fft.fft(y)) ** 2
    total = spectrum.sum()
    if total == 0:
        raise ValueError("y is all zeros: it has no energy to divide")
    step = len(y) // period
    return float(spectrum[step::step][: period - 1].sum() / total)

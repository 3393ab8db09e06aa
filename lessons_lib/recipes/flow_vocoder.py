r"""Recipe: WaveGlow or FloWaveNet turns FSDD's 40-band log-mels back into audio, against Griffin-Lim (Ch. 7).

Task. As in 07c (:mod:`~lessons_lib.recipes.wavenet_vocoder`): every FSDD
recording trimmed of silence, scaled to a peak of ``peak`` and cut to whole
hops, its log-mel spectrogram at 8 kHz, ``n_fft`` 512, hop 128, 40 mels, with
:math:`F = T/R + 1` frames for :math:`T` samples; the data preparation, the
split, the scaling the networks read (:func:`~lessons_lib.recipes.wavenet_vocoder.normalize`),
the segment sampling, the Griffin-Lim baseline and the scores are 07c's
functions, reused. The vocoder is a normalizing flow
(``model="waveglow"``: :class:`~lessons_lib.models.waveglow.WaveGlow`;
``"flowavenet"``: :class:`~lessons_lib.models.waveglow.FloWaveNet`) from the
waveform :math:`\mathbf{x}` to :math:`\mathbf{z}`, conditioned on the mel.

Training. Maximum likelihood: :func:`~lessons_lib.models.waveglow.flow_nll`
with :math:`\sigma = 1` (as WaveGlow), the exact negative log-likelihood of the
continuous waveform in **nats per sample**, the audio as floats in
:math:`[-1, 1]` at a peak of 0.9 (the number depends on that scale: it is a
density, and can be negative). Random segments of ``segment_frames`` hops
(:math:`L` samples, with the :math:`L/R + 1` frames around them), AdamW,
one-cycle learning rate, gradient clipping, checkpoints, through
:func:`lessons_lib.train.fit`.

Evaluation (:func:`evaluate`). The held-out recordings (takes 0-4, thinned to
``n_test``): the test NLL in nats per sample; each recording's mel vocoded by
the flow at every temperature :math:`\sigma` of ``sigmas``
(:func:`vocode`: :math:`\mathbf{z} \sim \mathcal N(0, \sigma^2 I)`, then
:math:`\mathbf{x} = f^{-1}(\mathbf{z}; c)`, all recordings in one batch) and by
Griffin-Lim, each scored against the recordings
(:func:`~lessons_lib.recipes.wavenet_vocoder.scores`: LSD, MR-STFT, PESQ-NB,
STOI), and the synthesis speed in samples per second. No claim that a small
flow beats Griffin-Lim: the numbers are recorded as they come.

Chapter: ``notebooks/07e_flow_vocoders.ipynb``.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..models.waveglow import FloWaveNet, WaveGlow, flow_nll
from . import wavenet_vocoder
from .wavenet_vocoder import STRIDE, Utterances, batches, griffin_lim, normalize, scores, split

__all__ = ["MODELS", "Config", "CONFIGS", "prepare", "split", "batches", "collate", "build", "loss", "train",
           "nll_nats", "vocode", "round_trip_error", "evaluate"]

NAME = "flow_vocoder"
NOTEBOOK = "07e_flow_vocoders"
TITLE = "WaveGlow and FloWaveNet on FSDD's 40-band log-mels, against Griffin-Lim at the same mel"

#: The two flow vocoders of the chapter.
MODELS = ("waveglow", "flowavenet")

# prepare() shares 07c's cache (one copy of FSDD's features per process)
_prepare = wavenet_vocoder._prepare


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    model : {"waveglow", "flowavenet"}
    n_flows, n_group, n_early_every, n_early_size : int
        WaveGlow's flows, samples per squeezed step, early outputs.
    wn_layers, wn_channels : int
        Each of WaveGlow's coupling networks (:class:`~lessons_lib.models.waveglow.WN`).
    n_blocks, flows_per_block : int
        FloWaveNet's context blocks and the flows in each.
    upsample_scales : tuple of int
        FloWaveNet's upsampling stages (they multiply to ``hop_length``).
    wavenet_layers, wavenet_channels : int
        Each of FloWaveNet's coupling networks (:class:`~lessons_lib.models.waveglow.CouplingWaveNet`).
    kernel_size : int
        Odd kernel of the dilated convolutions of both.
    log_scale_bound : float
        0: the couplings' log-scales unbounded, as both papers; :math:`\\beta > 0`: bounded
        softly to :math:`\\pm\\beta` (``flows.AffineCoupling``).
    n_mels, n_fft, hop_length, top_db, trim_db, peak, mu :
        The data, as 07c (``mu`` only for 07c's shared data preparation).
    segment_frames, segments_per_recording, n_train, n_test, epochs, batch_size : int
    lr, weight_decay, clip : float
    sigmas : tuple of float
        Temperatures :math:`\\sigma` at which :func:`evaluate` vocodes.
    gl_iter : int
    gl_momentum : float
        The Griffin-Lim baseline, as 07c.
    seed : int
        Initialisation, segments, the vocoder's noise and Griffin-Lim's phases.
    """

    model: str = "waveglow"
    n_flows: int = 4
    n_group: int = 8
    n_early_every: int = 2
    n_early_size: int = 2
    wn_layers: int = 4
    wn_channels: int = 32
    n_blocks: int = 3
    flows_per_block: int = 2
    upsample_scales: tuple = (8, 16)
    wavenet_layers: int = 2
    wavenet_channels: int = 32
    kernel_size: int = 3
    log_scale_bound: float = 0.0
    n_mels: int = 40
    n_fft: int = 512
    hop_length: int = 128
    top_db: float = 80.0
    trim_db: float = 30.0
    peak: float = 0.9
    mu: int = 255
    segment_frames: int = 16
    segments_per_recording: int = 1
    n_train: int = 240
    n_test: int = 8
    epochs: int = 4
    batch_size: int = 8
    lr: float = 2e-3
    weight_decay: float = 0.0
    clip: float = 1.0
    sigmas: tuple = (0.6, 0.8, 1.0)
    gl_iter: int = 32
    gl_momentum: float = 0.99
    seed: int = 0


#: Quick mode: a 4-flow WaveGlow (WN of 4 layers x 32 channels), or with ``model="flowavenet"`` a FloWaveNet of 3
#: blocks x 2 flows (coupling WaveNets of 2 layers x 32 channels), 120 steps of 8 segments of 2,048 samples: 20 to
#: 30 s each on one CPU core. The loss falls; the output is not intelligible speech. Full mode: WaveGlow's structure
#: (12 flows, groups of 8, 2 channels out every 4) with WN of 8 layers x 128 channels, or a FloWaveNet of 6 blocks x
#: 6 flows with the paper's 2-layer coupling WaveNets of 128 channels; every recording, segments of 4,096 samples,
#: batch 16, 40 epochs: sized for about 10 minutes on one H200 (an estimate: not yet run on a GPU).
CONFIGS = {
    "quick": Config(),
    "full": Config(n_flows=12, n_early_every=4, wn_layers=8, wn_channels=128, n_blocks=6, flows_per_block=6,
                   wavenet_channels=128, segment_frames=32, segments_per_recording=2, n_train=0, n_test=0,
                   epochs=40, batch_size=16, lr=1e-3),
}


def prepare(config: Config | None = None) -> Utterances:
    """FSDD's recordings with their log-mels: 07c's :func:`~lessons_lib.recipes.wavenet_vocoder.prepare` (shared cache).

    The example needs the real recordings, so doctest skips it; tests/recipes/test_flow_vocoder.py runs it.

    Examples
    --------
    >>> d = prepare(Config())  # doctest: +SKIP
    >>> len(d.train), len(d.test), d.mels[0].shape[1] == d.n_hops[0] + 1  # doctest: +SKIP
    (240, 8, True)
    """
    return wavenet_vocoder.prepare(_data_config(config or Config()))


def _data_config(config: Config) -> wavenet_vocoder.Config:
    return wavenet_vocoder.Config(trim_db=config.trim_db, peak=config.peak, mu=config.mu, n_mels=config.n_mels,
                                  n_fft=config.n_fft, hop_length=config.hop_length, top_db=config.top_db,
                                  n_train=config.n_train, n_test=config.n_test)


# --------------------------------------------------------------------------- segments and the model


def collate(d: Utterances, segment_frames: int, ids) -> tuple[torch.Tensor, torch.Tensor]:
    """Segments from their ids: waveforms ``(B, L)`` float32 and scaled log-mels ``(B, n_mels, L / hop + 1)``.

    :math:`L` = ``segment_frames * hop``. A segment starting at frame :math:`a` holds samples
    :math:`aR .. aR + L - 1` and the frames :math:`a .. a + L/R` centred on its samples
    :math:`0, R, .., L` (a centred STFT's :math:`L/R + 1` frames). Past a recording's end the
    samples are zeros and the frames its quietest frame value. Ids as 07c's
    :func:`~lessons_lib.recipes.wavenet_vocoder.batches` makes them.

    Examples
    --------
    >>> mels = (np.arange(8.0).reshape(2, 4) - 20,)  # 2 bands, 4 frames for 3 hops of 2 samples
    >>> d = Utterances((np.arange(6.0),), (np.zeros(6, int),), mels, np.zeros(1, int), np.arange(1),
    ...                np.array([], int), 255, 8000, 2)
    >>> x, c = collate(d, 2, [1])
    >>> x.tolist(), (15 * c - 20).round().tolist()
    ([[2.0, 3.0, 4.0, 5.0]], [[[-19.0, -18.0, -17.0], [-15.0, -14.0, -13.0]]])
    """
    ids = np.asarray(ids, dtype=np.int64)
    hop, n_mels = d.hop_length, d.mels[0].shape[0]
    L = segment_frames * hop
    x = np.zeros((len(ids), L), dtype=np.float32)
    c = np.empty((len(ids), n_mels, segment_frames + 1), dtype=np.float32)
    for row, (u, a) in enumerate(zip(ids // STRIDE, ids % STRIDE)):
        piece = d.waveforms[u][a * hop:a * hop + L]
        x[row, :len(piece)] = piece
        frames = d.mels[u][:, a:a + segment_frames + 1]
        c[row] = frames.min()
        c[row, :, :frames.shape[1]] = frames
    return torch.from_numpy(x), torch.from_numpy(normalize(c))


def _check(config: Config) -> None:
    if config.model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {config.model!r}")
    for name in ("n_flows", "n_group", "n_early_every", "n_early_size", "wn_layers", "wn_channels", "n_blocks",
                 "flows_per_block", "wavenet_layers", "wavenet_channels", "kernel_size", "n_mels", "n_fft",
                 "hop_length", "segment_frames", "segments_per_recording", "epochs", "batch_size", "gl_iter"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    if config.log_scale_bound < 0:
        raise ValueError(f"log_scale_bound must be >= 0 (0: unbounded), got {config.log_scale_bound}")
    if not config.sigmas or any(not s > 0 for s in config.sigmas):
        raise ValueError(f"sigmas must be positive temperatures, got {config.sigmas}")
    if not 0 < config.peak <= 1:
        raise ValueError(f"peak must lie in (0, 1], got {config.peak}")


def build(config: Config) -> WaveGlow | FloWaveNet:
    """The flow of ``config``, initialised from ``config.seed`` (global random state left alone).

    Raises
    ------
    ValueError
        An unknown model, sizes below 1, sizes the model refuses (e.g. a segment the squeeze cannot split).

    Examples
    --------
    >>> model = build(Config())
    >>> type(model).__name__, model.channels_per_flow, model.hop_length
    ('WaveGlow', (8, 8, 6, 6), 128)
    >>> type(build(Config(model="flowavenet"))).__name__
    'FloWaveNet'
    """
    _check(config)
    bound = config.log_scale_bound or None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.model == "waveglow":
            model = WaveGlow(config.n_mels, config.n_flows, config.n_group, config.n_early_every,
                             config.n_early_size, hop_length=config.hop_length, layers=config.wn_layers,
                             channels=config.wn_channels, kernel_size=config.kernel_size, log_scale_bound=bound)
        else:
            model = FloWaveNet(config.n_mels, config.n_blocks, config.flows_per_block, layers=config.wavenet_layers,
                               channels=config.wavenet_channels, kernel_size=config.kernel_size,
                               hop_length=config.hop_length, upsample_scales=tuple(config.upsample_scales),
                               log_scale_bound=bound)
    L = config.segment_frames * config.hop_length
    if L % model.divisor:
        raise ValueError(f"segment_frames * hop_length = {L} samples, but the {config.model} squeeze needs a "
                         f"multiple of {model.divisor}")
    return model


def loss(model, batch) -> torch.Tensor:
    """:func:`~lessons_lib.models.waveglow.flow_nll` with :math:`\\sigma = 1`: nats per sample of the segments.

    ``batch`` is ``(x, c)`` as :func:`collate` makes it.

    Examples
    --------
    A fresh WaveGlow is a rotation of the squeezed samples (log-det 0), so the loss is the
    Gaussian's on the waveform itself:

    >>> model = build(Config())
    >>> x, c = torch.zeros(2, 2048), torch.zeros(2, 40, 17)
    >>> round(loss(model, (x, c)).item(), 4) == round(0.5 * math.log(2 * math.pi), 4)
    True
    """
    x, c = batch
    z, log_det = model(x, c)
    return flow_nll(z, log_det)


def train(config: Config, d: Utterances, items=None, *, model=None, device=None, checkpoint=None,
          resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Train on random segments of ``items`` (default: the training recordings); returns ``(model, history)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = Utterances(tuple(0.1 * rng.standard_normal(1024).astype(np.float32) for _ in range(4)),
    ...                (np.zeros(1024, int),) * 4, tuple(rng.normal(-20, 15, (40, 9)) for _ in range(4)),
    ...                np.zeros(4, int), np.arange(4), np.array([], int), 255, 8000, 128)
    >>> model, history = train(Config(wn_layers=1, wn_channels=4, segment_frames=4, batch_size=2, epochs=2), d,
    ...                        device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    _check(config)
    return wavenet_vocoder.fit_on_segments(config, d, items, build, loss, collate, NAME, model=model, device=device,
                                           checkpoint=checkpoint, resume=resume, progress=progress,
                                           time_budget=time_budget)


# --------------------------------------------------------------------------- likelihood, synthesis, scores


def _whole(model, n: int) -> int:
    """The longest length <= n samples that the model's squeeze can split."""
    return n // model.divisor * model.divisor


@torch.no_grad()
def nll_nats(model, d: Utterances, items, *, device=None) -> float:
    """Negative log-likelihood, nats per sample, of whole recordings (each cut to what the squeeze can split).

    Examples
    --------
    >>> d = Utterances((np.zeros(256, np.float32),), (np.zeros(256, int),), (np.zeros((40, 3)) - 20,),
    ...                np.zeros(1, int), np.array([], int), np.array([0]), 255, 8000, 128)
    >>> round(nll_nats(build(Config()), d, [0]), 4) == round(0.5 * math.log(2 * math.pi), 4)
    True
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device if device is None else torch.device(device)
    dtype = next(model.parameters()).dtype
    total, count = 0.0, 0
    try:
        for u in np.asarray(items, dtype=np.int64):
            T = _whole(model, len(d.waveforms[u]))
            if T == 0:
                continue
            x = torch.as_tensor(d.waveforms[u][:T], dtype=dtype, device=device)[None]
            c = torch.as_tensor(normalize(d.mels[u][:, :T // d.hop_length + 1]), dtype=dtype, device=device)[None]
            total += flow_nll(*model(x, c)).item() * T
            count += T
    finally:
        model.train(was_training)
    return total / count


@torch.no_grad()
def vocode(model, mels, config: Config, *, sigma: float = 1.0,
           generator: torch.Generator | None = None) -> list[np.ndarray]:
    r"""Waveforms from log-mel spectrograms: :math:`\mathbf{x} = f^{-1}(\mathbf{z}; c)`, with
    :math:`\mathbf{z} \sim \mathcal N(0, \sigma^2 I)`.

    All spectrograms in one batch: each is padded with its quietest value to the longest, and
    further to a length the squeeze can split; each output is cut to :math:`(F - 1) R` samples,
    as 07c's vocoders and Griffin-Lim give.

    Parameters
    ----------
    model : WaveGlow or FloWaveNet
    mels : ndarray or list of ndarray, each shape (n_mels, n_frames), n_frames >= 2
        Log-mel spectrograms in dB.
    config : Config
    sigma : float, default 1.0
    generator : torch.Generator, optional
        On the model's device.

    Returns
    -------
    list of ndarray of float32, shape ((n_frames - 1) * hop_length,)

    Raises
    ------
    ValueError
        A spectrogram of the wrong number of bands, of fewer than 2 frames or not finite;
        ``sigma <= 0``.

    Examples
    --------
    >>> y = vocode(build(Config()), [np.full((40, 3), -30.0), np.full((40, 2), -30.0)], Config(),
    ...            sigma=0.6, generator=torch.Generator().manual_seed(0))
    >>> [len(x) for x in y]
    [256, 128]
    """
    if isinstance(mels, np.ndarray):
        mels = [mels]
    checked = []
    for i, S_db in enumerate(mels):
        S_db = np.asarray(S_db)
        if S_db.ndim != 2 or S_db.shape[0] != model.n_mels or S_db.shape[1] < 2:
            raise ValueError(f"mels[{i}] must be a log-mel spectrogram of shape (n_mels={model.n_mels}, "
                             f"n_frames >= 2), got shape {S_db.shape}")
        if not np.all(np.isfinite(S_db)):
            raise ValueError(f"mels[{i}] contains NaN or infinite values")
        checked.append(S_db)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not sigma > 0:
        raise ValueError(f"sigma must be a positive temperature, got {sigma!r}")
    hop = model.hop_length
    step = model.divisor // math.gcd(model.divisor, hop)  # hops per splittable unit
    hops = max(m.shape[1] - 1 for m in checked)
    hops = -(-hops // step) * step
    c = np.stack([np.pad(m, ((0, 0), (0, hops + 1 - m.shape[1])), constant_values=m.min()) for m in checked])
    parameter = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        y = model.infer(torch.as_tensor(normalize(c), dtype=parameter.dtype, device=parameter.device),
                        sigma=float(sigma), generator=generator)
    finally:
        model.train(was_training)
    y = y.float().cpu().numpy()
    return [row[:(m.shape[1] - 1) * hop] for row, m in zip(y, checked)]


def round_trip_error(model, waveform: np.ndarray, mel_db: np.ndarray) -> float:
    """:math:`\\max_t |f^{-1}(f(\\mathbf{x}; c); c) - \\mathbf{x}|` for one recording, with a float64 copy of the model.

    The recording is cut to what the squeeze can split (and its mel to the matching frames).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x, mel = 0.1 * rng.standard_normal(1024), rng.normal(-20, 15, (40, 9))
    >>> round_trip_error(build(Config()), x, mel) < 1e-12
    True
    """
    exact = copy.deepcopy(model).double().cpu().eval()
    T = _whole(exact, len(waveform))
    x = torch.as_tensor(np.asarray(waveform, dtype=np.float64)[:T])[None]
    c = torch.as_tensor(normalize(np.asarray(mel_db, dtype=np.float64)[:, :T // exact.hop_length + 1]))[None]
    with torch.no_grad():
        z, _ = exact(x, c)
        return float((exact.inverse(z, c) - x).abs().max())


def evaluate(model, config: Config, d: Utterances, *, device=None, items=None) -> dict:
    """Headline numbers: the flow at each :math:`\\sigma` and Griffin-Lim at the same mels, on the test recordings.

    Returns
    -------
    dict
        ``test nats per sample``; for each :math:`\\sigma` of ``config.sigmas``,
        ``sigma <s> <score>`` for LSD dB, MR-STFT, PESQ-NB, STOI (07c's
        :func:`~lessons_lib.recipes.wavenet_vocoder.scores` of the concatenated recordings); the same
        for ``Griffin-Lim <score>``; ``synthesis samples per second`` (over all sigmas),
        ``round-trip error`` (:func:`round_trip_error` on the first test recording),
        ``test seconds``, ``test recordings``, ``parameters``.

    Raises
    ------
    ValueError
        If the test recordings last less than 07c's ``MIN_TEST_SECONDS`` together.

    Examples
    --------
    It needs the real recordings (doctest skips it; tests/recipes/test_flow_vocoder.py runs it):

    >>> config = CONFIGS["quick"]
    >>> d = prepare(config)  # doctest: +SKIP
    >>> model, history = train(config, d)  # doctest: +SKIP
    >>> sorted(evaluate(model, config, d))[:2]  # doctest: +SKIP
    ['Griffin-Lim LSD dB', 'Griffin-Lim MR-STFT']
    """
    items = d.test if items is None else np.asarray(items, dtype=np.int64)
    reference = np.concatenate([d.waveforms[u] for u in items]).astype(np.float64)
    seconds = len(reference) / d.sample_rate
    if seconds < wavenet_vocoder.MIN_TEST_SECONDS:
        raise ValueError(f"the {len(items)} test recordings last {seconds:.2f} s together; scoring needs at least "
                         f"{wavenet_vocoder.MIN_TEST_SECONDS} s (STOI): raise n_test")
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device)
    mels = [d.mels[u] for u in items]
    out = {"test nats per sample": nll_nats(model, d, items, device=device)}
    generator = torch.Generator(device=device).manual_seed(config.seed)
    synthesis = 0.0
    for sigma in config.sigmas:
        begin = time.perf_counter()
        vocoded = vocode(model, mels, config, sigma=sigma, generator=generator)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        synthesis += time.perf_counter() - begin
        ours = scores(reference, np.concatenate(vocoded).astype(np.float64), d.sample_rate)
        out |= {f"sigma {sigma:g} {k}": v for k, v in ours.items()}
    rng = np.random.default_rng(config.seed)
    baseline = np.concatenate([griffin_lim(m, config, rng=rng, sample_rate=d.sample_rate) for m in mels])
    out |= {f"Griffin-Lim {k}": v for k, v in scores(reference, baseline, d.sample_rate).items()}
    out |= {"synthesis samples per second": len(config.sigmas) * len(reference) / synthesis,
            "round-trip error": round_trip_error(model, d.waveforms[items[0]], d.mels[items[0]]),
            "test seconds": seconds, "test recordings": int(len(items)),
            "parameters": int(sum(p.numel() for p in model.parameters()))}
    return out

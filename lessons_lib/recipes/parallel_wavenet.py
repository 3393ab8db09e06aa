r"""Recipe: Parallel WaveNet on FSDD's 40-band log-mels: a Gaussian WaveNet teacher, then an IAF student distilled from it (Ch. 7).

Data. The recordings, log-mels, split and training segments of the WaveNet
vocoder (:mod:`lessons_lib.recipes.wavenet_vocoder`: ``prepare``, ``split``,
``batches``, ``frontend``, ``normalize``; 8 kHz, ``n_fft`` 512, hop 128, 40 mels);
the models read the waveform itself (float, peak 0.9), not its μ-law classes.

Training, in one :func:`lessons_lib.train.fit` run (one checkpoint, resumable):

1. ``epochs`` epochs of the teacher (:class:`~lessons_lib.models.parallel_wavenet.GaussianWaveNet`,
   ClariNet's single Gaussian per step): the negative log-likelihood
   :math:`-\frac1T\sum_n \log \mathcal N(x_n; \mu_n, s_n^2)` of the segments,
   teacher-forced (nats per sample; negative once :math:`s_n` is small).
2. ``student_epochs`` epochs of the student (:class:`~lessons_lib.models.parallel_wavenet.IAFStudent`),
   the teacher frozen: on a sample :math:`x \sim P_S` drawn from the segment's
   mel, :math:`D_\mathrm{KL}(P_S \Vert P_T)` per sample (``kl_method``: closed form or
   Monte Carlo, :func:`~lessons_lib.models.parallel_wavenet.distillation_kl`) plus
   ``power_weight`` times the power loss against the real segment
   (:func:`~lessons_lib.models.parallel_wavenet.power_loss`, divided by :data:`POWER_SCALE`).
   ``history.valid`` holds, per student epoch, the mean ``KL`` and ``power`` of its steps.

One AdamW optimiser with a parameter group per network, each with its own
one-cycle schedule over its own stage (zero learning rate in the other stage).

Evaluation (:func:`evaluate`): the test recordings' mels vocoded by the teacher
(sequentially, :func:`~lessons_lib.models.parallel_wavenet.sample_teacher`) and
by the student (one pass), scored against the recordings with the log-spectral
distance (:func:`lessons_lib.quality.log_spectral_distance`) and per mel band
(:func:`band_energy_db`); and the timing table (:func:`timings`): samples per
second of teacher generation, student generation and teacher scoring, one
utterance of :data:`TIMING_FRAMES` frames, on the model's device.

Chapter: ``notebooks/07f_parallel_wavenet.ipynb``.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from .. import quality
from ..models.parallel_wavenet import (
    GaussianWaveNet, IAFStudent, distillation_kl, power_loss, sample_teacher)
from ..train import fit
from . import wavenet_vocoder as vocoder
from .wavenet_vocoder import Utterances, frontend, normalize, split  # noqa: F401 - the recipe's data API

__all__ = ["POWER_SCALE", "TIMING_FRAMES", "Config", "CONFIGS", "prepare", "split", "batches", "collate",
           "TeacherStudent", "build", "loss", "train", "vocode_teacher", "vocode_student", "band_energy_db",
           "timings", "evaluate"]

NAME = "parallel_wavenet"
NOTEBOOK = "07f_parallel_wavenet"
TITLE = "Parallel WaveNet on FSDD's 40-band log-mels: a Gaussian teacher and an IAF student distilled from it"

#: The power loss is divided by this (about its value for silence against a recording's segment), so that
#: ``power_weight = 1`` weighs it like the KL.
POWER_SCALE = 1e4
#: The timing table vocodes one utterance of this many frames (8,192 samples, about one second).
TIMING_FRAMES = 64

prepare = vocoder.prepare
_prepare = vocoder._prepare  # the cache the tests clear


@dataclass(frozen=True)
class Config(vocoder.Config):
    """Hyper-parameters: the vocoder recipe's data and teacher sizes, and the student's.

    Attributes
    ----------
    layers, stacks, kernel_size, residual_channels, gate_channels, skip_channels : int
        The teacher (:class:`~lessons_lib.models.parallel_wavenet.GaussianWaveNet`).
    epochs, lr : int, float
        The teacher's epochs and peak learning rate.
    student_flows : tuple of int
        Layers of each IAF flow (Parallel WaveNet: (10, 10, 10, 30)).
    student_channels : int
        Residual and skip channels of every flow (gate: twice).
    student_epochs : int
    student_lr : float
    kl_method : {"closed_form", "monte_carlo"}
    power_weight : float
        Weight of the power loss (0: KL alone).
    log_scale_min : float
        Floor of :math:`\\log s_n`, teacher and each flow.
    Others : as :class:`lessons_lib.recipes.wavenet_vocoder.Config` (data, segments, batch, clip, seed).
    """

    layers: int = 10
    residual_channels: int = 32
    gate_channels: int = 64
    skip_channels: int = 32
    epochs: int = 4
    lr: float = 5e-3
    student_flows: tuple = (2, 2, 2, 2)
    student_channels: int = 16
    student_epochs: int = 4
    student_lr: float = 2e-3
    kl_method: str = "closed_form"
    power_weight: float = 1.0
    log_scale_min: float = -7.0
    n_test: int = 8


#: Quick mode: teacher 10 layers x 32 channels (receptive field 2,047 samples), 4 epochs of 30 steps of 8
#: segments of 768 samples; student 4 flows of 2 layers x 16 channels, 4 epochs likewise. Full mode: a GPU-sized
#: teacher (3 cycles of 10 layers, 64 channels, r9y9's vocoder size) and Parallel WaveNet's student shape
#: (flows of 10, 10, 10, 30 layers, 64 channels), every recording (not yet run on a GPU: sizes are estimates).
CONFIGS = {
    "quick": Config(),
    "full": Config(layers=30, stacks=3, residual_channels=64, gate_channels=128, skip_channels=64, epochs=30,
                   student_flows=(10, 10, 10, 30), student_channels=64, student_epochs=30, segment_frames=16,
                   segments_per_recording=4, n_train=0, n_test=0, batch_size=32, lr=2e-3, student_lr=1e-3),
}


# --------------------------------------------------------------------------- data


def batches(config: Config, d: Utterances, items):
    """The segments of every epoch (:func:`lessons_lib.recipes.wavenet_vocoder.batches`), the same in both stages.

    Examples
    --------
    >>> d = Utterances((np.zeros(1280),) * 2, (np.zeros(1280, int),) * 2, (np.zeros((40, 11)),) * 2,
    ...                np.zeros(2, int), np.arange(2), np.array([], int), 255, 8000, 128)
    >>> [len(b) for b in batches(Config(batch_size=2), d, [0, 1])(0)]
    [2]
    """
    return vocoder.batches(config, d, items)


def collate(d: Utterances, segment_frames: int, ids) -> tuple[torch.Tensor, torch.Tensor]:
    """Segments from their ids: waveforms ``(B, L)`` float32 and scaled log-mels ``(B, n_mels, L / hop)``.

    The mels are :func:`lessons_lib.recipes.wavenet_vocoder.collate`'s; the waveform is
    samples :math:`aR .. aR + L - 1` of the recording (zeros past its end), :math:`L` =
    ``segment_frames * hop``, :math:`a` the first frame.

    Examples
    --------
    >>> d = Utterances((np.arange(6.0),), (np.arange(6),), (np.zeros((2, 4)) - 20,), np.zeros(1, int),
    ...                np.arange(1), np.array([], int), 255, 8000, 2)
    >>> x, c = collate(d, 2, [2])
    >>> x.tolist(), tuple(c.shape)
    ([[4.0, 5.0, 0.0, 0.0]], (1, 2, 2))
    """
    ids = np.asarray(ids, dtype=np.int64)
    _, c = vocoder.collate(d, segment_frames, ids)
    L = segment_frames * d.hop_length
    x = np.zeros((len(ids), L), dtype=np.float32)
    for row, (u, a) in enumerate(zip(ids // vocoder.STRIDE, ids % vocoder.STRIDE)):
        piece = d.waveforms[u][a * d.hop_length:a * d.hop_length + L]
        x[row, :len(piece)] = piece
    return torch.from_numpy(x), c


# --------------------------------------------------------------------------- model and loss


class TeacherStudent(nn.Module):
    """The recipe's model: the teacher and the student in one module (one checkpoint, one optimiser).

    ``forward(x, c, stage)`` returns the losses of a batch: stage 0, the teacher's
    ``{"nll"}``; stage 1, the student's ``{"kl", "power"}`` (a sample of the student
    scored by the frozen teacher, and its power loss against ``x``).
    """

    def __init__(self, teacher: GaussianWaveNet, student: IAFStudent, *, kl_method: str = "closed_form",
                 n_fft: int = 512):
        super().__init__()
        self.teacher, self.student = teacher, student
        self.kl_method, self.n_fft = kl_method, n_fft

    def forward(self, x: torch.Tensor, c: torch.Tensor, stage: int) -> dict:
        if stage == 0:
            self.teacher.requires_grad_(True)
            return {"nll": -self.teacher.log_prob(x, c).mean()}
        self.teacher.requires_grad_(False)
        sample = self.student.sample(c)
        kl = distillation_kl(sample, self.teacher, c, method=self.kl_method).kl
        power = power_loss(sample.x, x, n_fft=self.n_fft, hop_length=self.student.hop_length) / POWER_SCALE
        return {"kl": kl, "power": power}


def _check(config: Config) -> None:
    vocoder._check(config)
    if not config.student_flows or any(int(n) < 1 for n in config.student_flows):
        raise ValueError(f"student_flows must be a non-empty tuple of positive layer counts, got "
                         f"{config.student_flows!r}")
    if config.student_channels < 1 or config.student_epochs < 1:
        raise ValueError("student_channels and student_epochs must be at least 1")
    if config.kl_method not in ("closed_form", "monte_carlo"):
        raise ValueError(f"kl_method must be 'closed_form' or 'monte_carlo', got {config.kl_method!r}")
    if config.power_weight < 0 or not config.student_lr > 0:
        raise ValueError("power_weight must be >= 0 and student_lr > 0")


def build(config: Config) -> TeacherStudent:
    """Teacher and student of ``config``, initialised from ``config.seed`` (global random state left alone).

    Examples
    --------
    >>> model = build(Config())
    >>> model.teacher.receptive_field, len(model.student.flows), model.student.hop_length
    (2047, 4, 128)
    """
    _check(config)
    scales = tuple(config.upsample_scales)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        teacher = GaussianWaveNet(config.layers, config.stacks, config.residual_channels, config.gate_channels,
                                  config.skip_channels, config.kernel_size, cond_channels=config.n_mels,
                                  hop_length=config.hop_length, upsample_scales=scales,
                                  freq_axis_kernel_size=config.freq_axis_kernel_size,
                                  log_scale_min=config.log_scale_min)
        ch = config.student_channels
        student = IAFStudent(tuple(int(n) for n in config.student_flows), ch, 2 * ch, ch, config.kernel_size,
                             cond_channels=config.n_mels, hop_length=config.hop_length, upsample_scales=scales,
                             freq_axis_kernel_size=config.freq_axis_kernel_size,
                             log_scale_min=config.log_scale_min)
    return TeacherStudent(teacher, student, kl_method=config.kl_method, n_fft=config.n_fft)


def loss(model, batch, power_weight: float = 1.0) -> torch.Tensor:
    """Stage 0: the teacher's NLL; stage 1: KL + ``power_weight`` x power. ``batch`` is ``(x, c, stage)``.

    Examples
    --------
    >>> model = build(Config(layers=2))
    >>> x, c = torch.zeros(1, 256), torch.zeros(1, 40, 2)
    >>> bool(loss(model, (x, c, 0)) > 0), bool(loss(model, (x, c, 1)) > 0)
    (True, True)
    """
    x, c, stage = batch
    out = model(x, c, int(stage))
    return out["nll"] if "nll" in out else out["kl"] + power_weight * out["power"]


def _one_cycle(start: int, steps: int, pct_start: float = 0.3):
    """A learning-rate factor of the global step: 0 outside ``[start, start + steps)``, inside a warm-up then cosine."""
    def factor(step: int) -> float:
        k = step - start
        if k < 0 or k >= steps:
            return 0.0
        warm = max(1, int(pct_start * steps))
        if k < warm:
            return 0.04 + 0.96 * k / warm
        return 0.5 * (1 + math.cos(math.pi * (k - warm) / max(1, steps - warm))) + 1e-3
    return factor


def train(config: Config, d: Utterances, items=None, *, model=None, distil_only: bool = False, device=None,
          checkpoint=None, resume: bool = False, progress: bool = True, time_budget: float | None = None):
    """Teacher for ``epochs`` epochs, then the student for ``student_epochs``, in one ``fit``; ``(model, history)``.

    ``history.loss`` holds the teacher's NLL for its epochs, then the student's KL +
    power; ``history.valid["KL"]`` and ``["power"]`` the student epochs' mean KL and
    power loss (divided by :data:`POWER_SCALE`, not weighted). With ``distil_only``, ``model``
    (required) holds a trained teacher, and only its student is trained, for
    ``student_epochs`` epochs (e.g. a second student with other settings).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> d = Utterances(tuple(rng.uniform(-0.5, 0.5, 640).astype(np.float32) for _ in range(4)),
    ...                (np.zeros(640, int),) * 4, tuple(rng.normal(-20, 15, (40, 6)) for _ in range(4)),
    ...                np.zeros(4, int), np.arange(4), np.array([], int), 255, 8000, 128)
    >>> config = Config(layers=2, residual_channels=4, gate_channels=8, skip_channels=4, student_flows=(1,),
    ...                 student_channels=4, segment_frames=2, batch_size=2, epochs=1, student_epochs=1)
    >>> model, history = train(config, d, device="cpu", progress=False)
    >>> history.epochs, len(history.valid["KL"])
    (2, 1)
    """
    _check(config)
    if d.hop_length != config.hop_length or d.mels[0].shape[0] != config.n_mels:
        raise ValueError(f"the data has {d.mels[0].shape[0]} mels every {d.hop_length} samples, the config "
                         f"{config.n_mels} every {config.hop_length}: prepare it with the same config")
    items = d.train if items is None else np.asarray(items)
    if distil_only and model is None:
        raise ValueError("distil_only=True needs model= holding the trained teacher")
    model = build(config) if model is None else model
    of_epoch = batches(config, d, items)
    per_epoch = len(of_epoch(0))
    teacher_epochs = 0 if distil_only else config.epochs
    teacher_steps, student_steps = teacher_epochs * per_epoch, config.student_epochs * per_epoch
    optimizer = torch.optim.AdamW([{"params": model.teacher.parameters(), "lr": config.lr},
                                   {"params": model.student.parameters(), "lr": config.student_lr}],
                                  weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, [_one_cycle(0, teacher_steps), _one_cycle(teacher_steps, student_steps)])
    current = {"epoch": 0}
    steps = {"kl": [], "power": []}

    def epoch_batches(epoch: int):
        current["epoch"] = epoch
        return of_epoch(epoch)

    def training_collate(ids):
        x, c = collate(d, config.segment_frames, ids)
        return x, c, torch.tensor(int(current["epoch"] >= teacher_epochs))

    def step_loss(net, batch):
        x, c, stage = batch
        out = net(x, c, int(stage))
        if "nll" in out:
            return out["nll"]
        steps["kl"].append(out["kl"].item())
        steps["power"].append(out["power"].item())
        return out["kl"] + config.power_weight * out["power"]

    def valid(_model) -> dict:
        if not steps["kl"]:
            return {}
        out = {"KL": float(np.mean(steps["kl"])), "power": float(np.mean(steps["power"]))}
        steps["kl"].clear()
        steps["power"].clear()
        return out

    history = fit(model, step_loss, epoch_batches, collate=training_collate, optimizer=optimizer,
                  scheduler=scheduler, clip=config.clip, epochs=teacher_epochs + config.student_epochs,
                  valid=valid, device=device, seed=config.seed, checkpoint=checkpoint, resume=resume,
                  progress=progress, time_budget=time_budget,
                  hparams={"recipe": NAME, **asdict(config), "items": int(len(items)), "distil_only": distil_only})
    model.teacher.requires_grad_(True)
    return model, history


# --------------------------------------------------------------------------- vocoding and scoring


def _conditioning(model, mels, config: Config) -> tuple[torch.Tensor, list[int]]:
    mels = vocoder._check_mels(mels, model, config)
    frames = [m.shape[1] - 1 for m in mels]
    c = np.stack([np.pad(m[:, :-1], ((0, 0), (0, max(frames) - m.shape[1] + 1)), constant_values=m.min())
                  for m in mels])
    weight = next(model.parameters())
    return torch.as_tensor(normalize(c), dtype=weight.dtype, device=weight.device), frames


@torch.no_grad()
def vocode_teacher(teacher: GaussianWaveNet, mels, config: Config, *, generator=None,
                   temperature: float = 1.0) -> list[np.ndarray]:
    """Waveforms drawn from the teacher, one sample at a time, all mels in one batch: ``(F - 1) R`` samples each.

    As :func:`lessons_lib.recipes.wavenet_vocoder.vocode` (the last frame unused, shorter mels padded
    with their quietest value and the extra samples dropped), through
    :func:`~lessons_lib.models.parallel_wavenet.sample_teacher`.

    Examples
    --------
    >>> config = Config(layers=2, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> y = vocode_teacher(build(config).teacher, [np.full((40, 3), -30.0)], config)
    >>> [len(v) for v in y]
    [256]
    """
    was_training = teacher.training
    teacher.eval()
    try:
        c, frames = _conditioning(teacher, mels, config)
        x = sample_teacher(teacher, c=c, generator=generator, temperature=temperature)[0].cpu().numpy()
    finally:
        teacher.train(was_training)
    return [row[:n * config.hop_length].astype(np.float32) for row, n in zip(x, frames)]


@torch.no_grad()
def vocode_student(student: IAFStudent, mels, config: Config, *, generator=None,
                   temperature: float = 1.0) -> list[np.ndarray]:
    """Waveforms from the student in one parallel pass, as :func:`vocode_teacher` (same padding and lengths).

    Examples
    --------
    >>> config = Config()
    >>> y = vocode_student(build(config).student, [np.full((40, 3), -30.0), np.full((40, 2), -30.0)], config)
    >>> [len(v) for v in y]
    [256, 128]
    """
    was_training = student.training
    student.eval()
    try:
        c, frames = _conditioning(student, mels, config)
        x = student.sample(c, generator=generator, temperature=temperature).x.cpu().numpy()
    finally:
        student.train(was_training)
    return [row[:n * config.hop_length].astype(np.float32) for row, n in zip(x, frames)]


def band_energy_db(y: np.ndarray, config: Config, sample_rate: int = 8000) -> np.ndarray:
    """Mean power per mel band over a waveform, in dB: ``(n_mels,)``.

    :math:`10 \\log_{10} \\frac1M \\sum_m 10^{S_\\mathrm{dB}[b, m]/10}`, :math:`S_\\mathrm{dB}` the
    recipe's log-mel (:func:`lessons_lib.recipes.wavenet_vocoder.frontend`). A student that
    whispers (the KL alone) shows bands far from the recording's.

    Examples
    --------
    >>> y = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    >>> e = band_energy_db(y, Config())
    >>> e.shape, int(e.argmax()) == int(band_energy_db(0.1 * y, Config()).argmax())
    ((40,), True)
    """
    y = np.asarray(y, dtype=np.float64)
    with torch.no_grad():
        S_db = frontend(config, sample_rate)(torch.from_numpy(y)).numpy()
    return 10 * np.log10(np.mean(10.0 ** (S_db / 10.0), axis=-1))


def timings(model: TeacherStudent, mel: np.ndarray, config: Config, *, frames: int = TIMING_FRAMES,
            teacher_samples: int | None = None, repeat: int = 5) -> dict:
    """Samples per second of teacher generation, student generation and teacher scoring, one utterance.

    The mel is repeated (tiled along time) to ``frames`` frames, :math:`T` =
    ``frames * hop`` samples, batch 1, on the model's device, no gradients. Teacher
    generation runs :math:`T` sequential steps (or its first ``teacher_samples``: its rate
    per sample does not depend on the length); student generation and teacher scoring
    are one pass each over all :math:`T` (best of ``repeat``: the least disturbed by other jobs; a CUDA device
    is synchronised).

    Returns
    -------
    dict
        ``teacher generation``, ``student generation``, ``teacher scoring`` (samples/s),
        ``student / teacher generation`` (the ratio), ``timing samples``, ``device``.

    Examples
    --------
    >>> config = Config(layers=2, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> out = timings(build(config), np.full((40, 3), -30.0), config, frames=4, repeat=1)
    >>> out["timing samples"], out["student generation"] > 0
    (512, True)
    """
    weight = next(model.parameters())
    device = weight.device
    m = np.asarray(mel)[:, :-1]
    tiled = np.tile(m, (1, math.ceil(frames / m.shape[1])))[:, :frames]
    c = torch.as_tensor(normalize(tiled), dtype=weight.dtype, device=device)[None]
    T = frames * config.hop_length
    n_teacher = T if teacher_samples is None else min(int(teacher_samples), T)
    was_training = model.training
    model.eval()

    def clock(fn, n):
        best = math.inf
        for _ in range(n):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            begin = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            best = min(best, time.perf_counter() - begin)
        return best

    x = torch.zeros(1, T, dtype=weight.dtype, device=device)
    try:
        with torch.no_grad():
            generator = torch.Generator(device=device).manual_seed(config.seed)
            student = clock(lambda: model.student.sample(c, generator=generator), repeat)
            scoring = clock(lambda: model.teacher(x, c), repeat)
            teacher = clock(lambda: sample_teacher(model.teacher, n_teacher, c=c, generator=generator), 1)
    finally:
        model.train(was_training)
    out = {"teacher generation": n_teacher / teacher, "student generation": T / student,
           "teacher scoring": T / scoring}
    out["student / teacher generation"] = out["student generation"] / out["teacher generation"]
    return out | {"timing samples": T, "device": str(device)}


def evaluate(model: TeacherStudent, config: Config, d: Utterances, *, device=None, items=None,
             timing: bool = True) -> dict:
    """Headline numbers: teacher and student vocoding the test mels, against the recordings; the KL; timings.

    Returns
    -------
    dict
        ``teacher LSD dB``, ``student LSD dB`` (each output concatenated against the
        concatenated recordings), ``student-teacher LSD dB``; ``teacher band error dB``,
        ``student band error dB`` (mean absolute difference of :func:`band_energy_db` from the
        recordings'); ``test NLL`` (the teacher's, nats per sample), ``test KL`` (closed form,
        one student sample per test mel), ``test seconds``; with ``timing``, :func:`timings`
        on the first test recording; ``teacher parameters``, ``student parameters``.

    Examples
    --------
    It needs the real recordings (doctest skips it; tests/recipes/test_parallel_wavenet.py runs it):

    >>> config = CONFIGS["quick"]
    >>> d = prepare(config)  # doctest: +SKIP
    >>> model, history = train(config, d)  # doctest: +SKIP
    >>> out = evaluate(model, config, d)  # doctest: +SKIP
    >>> out["student / teacher generation"] >= 100  # the notebook's target  # doctest: +SKIP
    True
    """
    items = d.test if items is None else np.asarray(items, dtype=np.int64)
    device = next(model.parameters()).device if device is None else torch.device(device)
    model.to(device)
    mels = [d.mels[u] for u in items]
    reference = np.concatenate([d.waveforms[u] for u in items]).astype(np.float64)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    teacher_y = np.concatenate(vocode_teacher(model.teacher, mels, config, generator=generator)).astype(np.float64)
    student_y = np.concatenate(vocode_student(model.student, mels, config, generator=generator)).astype(np.float64)
    lsd = functools.partial(quality.log_spectral_distance, n_fft=config.n_fft, hop_length=config.hop_length)
    real_bands = band_energy_db(reference, config, d.sample_rate)
    out = {"teacher LSD dB": lsd(reference, teacher_y), "student LSD dB": lsd(reference, student_y),
           "student-teacher LSD dB": lsd(teacher_y, student_y),
           "teacher band error dB": float(np.abs(band_energy_db(teacher_y, config) - real_bands).mean()),
           "student band error dB": float(np.abs(band_energy_db(student_y, config) - real_bands).mean())}
    was_training = model.training
    model.eval()
    nll, kl, count = 0.0, 0.0, 0
    try:
        with torch.no_grad():
            for u in items:
                c = torch.as_tensor(normalize(d.mels[u][:, :-1]), device=device)[None].float()
                x = torch.as_tensor(d.waveforms[u], device=device)[None].float()
                nll -= model.teacher.log_prob(x, c).sum().item()
                sample = model.student.sample(c, generator=generator)
                kl += distillation_kl(sample, model.teacher, c).kl.item() * x.shape[1]
                count += x.shape[1]
    finally:
        model.train(was_training)
    out |= {"test NLL": nll / count, "test KL": kl / count, "test seconds": len(reference) / d.sample_rate}
    if timing:
        out |= timings(model, d.mels[items[0]], config, teacher_samples=2048)
    out |= {"teacher parameters": int(sum(p.numel() for p in model.teacher.parameters())),
            "student parameters": int(sum(p.numel() for p in model.student.parameters()))}
    return out

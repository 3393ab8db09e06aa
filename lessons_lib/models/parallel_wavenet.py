r"""Parallel WaveNet: a Gaussian WaveNet teacher, an inverse-autoregressive-flow student, and distillation.

A WaveNet (:mod:`lessons_lib.models.wavenet`) *scores* a whole waveform in one
pass (teacher forcing: every :math:`x_{<n}` is known) but must *generate* one
sample at a time, each fed back. Parallel WaveNet (van den Oord et al., 2018)
trains a second network, the student, whose generation is parallel instead:
an inverse autoregressive flow (IAF; Kingma et al., 2016) that turns white
noise :math:`z_n \sim \mathcal N(0, 1)` into audio,

.. math:: x_n = z_n\, s_n(z_{<n}) + \mu_n(z_{<n}),

so that every :math:`x_n` is computed at once from the known :math:`z`; scoring
a given :math:`x` is now the sequential direction
(:math:`z_n = (x_n - \mu_n)/s_n` needs :math:`z_{<n}` first). The student is
trained by *probability density distillation*: minimise
:math:`D_\mathrm{KL}(P_S \Vert P_T) = H(P_S, P_T) - H(P_S)` on the student's own
samples, which the teacher scores in one parallel pass. With a teacher whose
every step is a single Gaussian (ClariNet; Ping et al., 2019) the student's steps
are Gaussian too and the KL of each step has a closed form.

======================================  ====================================================================
piece                                   what it is
======================================  ====================================================================
:class:`GaussianWaveNet`                a :class:`~lessons_lib.models.wavenet.WaveNet` on real-valued samples
                                        with two outputs per step, :math:`\mu_n` and :math:`\log s_n` of
                                        :math:`x_n` given :math:`x_{<n}` (the teacher; also each IAF flow)
:class:`IncrementalGaussianWaveNet`     its cached step-by-step generation (a subclass of
                                        :class:`~lessons_lib.models.wavenet.IncrementalWaveNet`)
:func:`sample_teacher`                  ancestral sampling from the teacher, one sample per step
:class:`IAFStudent`                     :math:`K` flows, each a small :class:`GaussianWaveNet` over the
                                        previous flow's output; ``sample`` in one pass, ``inverse`` and
                                        ``log_prob`` step by step
:func:`gaussian_log_prob`               per-step log density of a Gaussian
:func:`gaussian_entropy`                its entropy
:func:`gaussian_kl`                     the KL of two Gaussians, in closed form
:func:`distillation_kl`                 :math:`D_\mathrm{KL}(P_S \Vert P_T)` per sample: closed form or
                                        Monte Carlo
:func:`power_loss`                      the power (spectral) loss of Parallel WaveNet
======================================  ====================================================================

Shapes. Waveforms and noise are ``(batch, T)`` floats; mel conditioning is
``(batch, n_mels, frames)`` with ``frames * hop_length == T`` (as
:class:`~lessons_lib.models.wavenet.WaveNet`'s); per-step parameters
:math:`\mu_n, \log s_n` come out as ``(batch, T)``. Alignment: the parameters at
step :math:`n` describe :math:`x_n` itself (the input is shifted right by one
sample inside, :func:`shift_right`), and read the conditioning at step
:math:`n`.

Chapter: ``notebooks/07f_parallel_wavenet.ipynb``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int, real_number
from .layers import _check_tensor
from .wavenet import ConditioningUpsampler, IncrementalWaveNet, WaveNet

__all__ = [
    "shift_right",
    "GaussianWaveNet",
    "IncrementalGaussianWaveNet",
    "sample_teacher",
    "IAFStudent",
    "StudentSample",
    "gaussian_log_prob",
    "gaussian_entropy",
    "gaussian_kl",
    "Distillation",
    "distillation_kl",
    "power_loss",
]

LOG_2PI = math.log(2 * math.pi)


def _positive(value, name: str) -> float:
    value = real_number(value, name)
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def _waveform(x, name: str) -> torch.Tensor:
    x = _check_tensor(x, name, "(batch, T)")
    if x.shape[-1] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {tuple(x.shape)}")
    return x


def _length_and_temperature(length, c, hop_length, temperature) -> tuple[int, float]:
    """Samples to generate (default: what ``c`` covers) and a checked temperature > 0."""
    temperature = _positive(temperature, "temperature")
    if length is None:
        if c is None:
            raise ValueError("length is required without local conditioning")
        length = c.shape[-1] * hop_length
    return positive_int(length, "length"), temperature


def shift_right(x: torch.Tensor) -> torch.Tensor:
    r"""The waveform delayed by one sample, a zero first: :math:`u_n = x_{n-1}`, :math:`u_0 = 0`.

    Fed to a causal network, output :math:`n` then sees :math:`x_{<n}` only.

    Parameters
    ----------
    x : Tensor, shape (batch, T)

    Returns
    -------
    Tensor, shape (batch, T)

    Examples
    --------
    >>> shift_right(torch.tensor([[1.0, 2.0, 3.0]])).tolist()
    [[0.0, 1.0, 2.0]]
    """
    return F.pad(x, (1, 0))[..., :-1]


# --------------------------------------------------------------------------- the teacher


class GaussianWaveNet(WaveNet):
    r"""A WaveNet on real-valued samples whose every step is one Gaussian: ClariNet's teacher.

    .. math::

        h^{(0)} = W_{in}\, u, \quad u_n = x_{n-1}, \qquad
        [\mu_n;\ \tilde\ell_n] = \mathrm{WaveNet}(h^{(0)}, c)_n, \qquad
        \log s_n = \max(\tilde\ell_n, \ell_{\min}), \qquad
        p(x_n \mid x_{<n}, c) = \mathcal N(x_n;\ \mu_n, s_n^2),

    the residual stack, skips and head of :class:`~lessons_lib.models.wavenet.WaveNet`
    (it is a subclass: the same units, upsampler and cached generation) with a 1x1
    input convolution from the sample value (one channel, no one-hot) and two
    output channels. The log-scale is floored at :math:`\ell_{\min}` (ClariNet's
    -7 for the teacher: without it the likelihood of a waveform with near-silent
    stretches grows without bound as :math:`s_n \to 0`). Unlike ``WaveNet``,
    the input is shifted inside (:func:`shift_right`), so output :math:`n`
    describes :math:`x_n`, from :math:`x_{<n}` and the conditioning at :math:`n`.
    The same class is each flow of :class:`IAFStudent`, there over :math:`z`.

    Parameters
    ----------
    layers, stacks, residual_channels, gate_channels, skip_channels, kernel_size : int
        As :class:`~lessons_lib.models.wavenet.WaveNet`.
    cond_channels, hop_length, upsampler, upsample_scales, freq_axis_kernel_size : optional
        Local conditioning, as :class:`~lessons_lib.models.wavenet.WaveNet` (``upsampler=None``:
        ``c`` is given at the sample rate).
    log_scale_min : float, default -7.0
        :math:`\ell_{\min}`.
    dropout : float, default 0.0

    Shapes
    ------
    ``forward(x, c=None)``: ``x`` ``(batch, T)`` → ``(mu, log_s)``, each ``(batch, T)``.

    Raises
    ------
    TypeError, ValueError
        As ``WaveNet``; in ``forward``, ``x`` not a 2-D float tensor, conditioning that
        does not cover ``T`` samples.

    Examples
    --------
    >>> teacher = GaussianWaveNet(layers=4, residual_channels=8, gate_channels=16, skip_channels=8,
    ...                           cond_channels=3, hop_length=4)
    >>> x, c = torch.zeros(2, 12), torch.zeros(2, 3, 3)
    >>> mu, log_s = teacher(x, c)
    >>> tuple(mu.shape), bool((log_s >= -7).all())
    ((2, 12), True)
    """

    def __init__(self, layers: int = 10, stacks: int = 1, residual_channels: int = 32, gate_channels: int = 64,
                 skip_channels: int = 32, kernel_size: int = 3, *, cond_channels: int | None = None,
                 hop_length: int | None = None, upsampler: str | None = "transposed",
                 upsample_scales: Sequence[int] | None = None, freq_axis_kernel_size: int = 1,
                 log_scale_min: float = -7.0, dropout: float = 0.0):
        super().__init__(2, layers, stacks, residual_channels, gate_channels, skip_channels, kernel_size,
                         dropout=dropout, cond_channels=cond_channels, hop_length=hop_length, upsampler=upsampler,
                         upsample_scales=upsample_scales, freq_axis_kernel_size=freq_axis_kernel_size)
        self.first_conv = nn.Conv1d(1, residual_channels, 1)
        self.log_scale_min = real_number(log_scale_min, "log_scale_min")

    def extra_repr(self) -> str:
        return f"log_scale_min={self.log_scale_min}"

    def parameters_of(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(mu, log_s)`` from the head's output ``(..., 2, T)`` or ``(batch, 2)``, the log-scale floored."""
        return out[:, 0], out[:, 1].clamp(min=self.log_scale_min)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = _waveform(x, "x")
        h = self.first_conv(shift_right(x).unsqueeze(1))
        c_up, _ = self.conditioning(c, None, x.shape[0], x.shape[1])
        return self.parameters_of(self._logits(h, c_up, None))

    def log_prob(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r"""Teacher-forced :math:`\log p(x_n \mid x_{<n}, c)` of every step, one parallel pass: ``(batch, T)``.

        Examples
        --------
        >>> teacher = GaussianWaveNet(layers=2, residual_channels=4, gate_channels=8, skip_channels=4)
        >>> x = torch.randn(1, 5, generator=torch.Generator().manual_seed(0))
        >>> torch.allclose(teacher.log_prob(x), gaussian_log_prob(x, *teacher(x)))
        True
        """
        mu, log_s = self(x, c)
        return gaussian_log_prob(x, mu, log_s)


class _Affine:
    """``table[x]``: the input 1x1 convolution of a sample value, :math:`W x + b`, shaped like an embedding lookup."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor):
        self.weight, self.bias = weight, bias

    def __getitem__(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.bias, x.unsqueeze(-1).to(self.weight.dtype), self.weight)


class IncrementalGaussianWaveNet(IncrementalWaveNet):
    r"""A :class:`GaussianWaveNet` one sample at a time, with the queues of ``IncrementalWaveNet``.

    The cached generator of Chapter 7b is reused unchanged except at its two ends:
    the input "embedding" is the 1x1 convolution of the sample value,
    :math:`W_{in} x + b` (instead of a table lookup of a class), and the output
    is :math:`(\mu_n, \log s_n)` instead of logits. ``step(u)`` takes the input at
    step :math:`t` (:math:`u_t = x_{t-1}`, 0 at the start) and returns the
    parameters of :math:`x_t`; ``prime(u)`` runs several inputs in one pass.

    Parameters
    ----------
    model : GaussianWaveNet
    c : Tensor, optional
        As in ``GaussianWaveNet.forward``; it covers ``frames * hop_length`` steps.
    batch_size : int, optional

    Raises
    ------
    TypeError, ValueError
        ``model`` not a :class:`GaussianWaveNet`; conditioning as in ``forward``; steps
        beyond the conditioning; inputs not float ``(batch,)`` / ``(batch, P)``.

    Examples
    --------
    Each step equals the teacher-forced pass:

    >>> teacher = GaussianWaveNet(layers=4, residual_channels=4, gate_channels=8, skip_channels=4).eval()
    >>> x = torch.randn(1, 10, generator=torch.Generator().manual_seed(0))
    >>> incremental = IncrementalGaussianWaveNet(teacher)
    >>> u = shift_right(x)
    >>> mu = torch.stack([incremental.step(u[:, t])[0] for t in range(10)], dim=-1)
    >>> torch.allclose(mu, teacher(x)[0], atol=1e-5)
    True
    """

    def __init__(self, model: GaussianWaveNet, c: torch.Tensor | None = None, batch_size: int | None = None):
        if not isinstance(model, GaussianWaveNet):
            raise TypeError(f"model must be a GaussianWaveNet, got {type(model).__name__}")
        super().__init__(model, c, None, batch_size)
        with torch.no_grad():
            self.table = _Affine(model.first_conv.weight[:, 0, 0].detach(), model.first_conv.bias.detach())

    def _check_steps(self, u, name: str, ndim: int) -> torch.Tensor:
        shape = "(batch,)" if ndim == 1 else "(batch, P)"
        if not isinstance(u, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of sample values {shape}, got {type(u).__name__}")
        if not u.is_floating_point():
            raise TypeError(f"{name} must hold floating-point sample values, got dtype {u.dtype}")
        if u.ndim != ndim or u.shape[0] != self.batch_size:
            raise ValueError(f"{name} must have shape {shape} with batch {self.batch_size}, got {tuple(u.shape)}")
        self._check_covered(1 if ndim == 1 else u.shape[1])
        return u

    def step(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The input ``u`` ``(batch,)`` at step ``t`` → ``(mu, log_s)`` of the sample at ``t``, each ``(batch,)``."""
        return self.model.parameters_of(self._step(self._check_steps(u, "u", 1)))

    def prime(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``u.shape[1]`` inputs in one pass; ``(mu, log_s)`` of the last step, each ``(batch,)``."""
        return self.model.parameters_of(super().prime(u))

    def sample(self, length, generator=None):
        """Not here: the parent draws class indices; :func:`sample_teacher` draws real values."""
        raise NotImplementedError("use sample_teacher(model, ...) to draw real-valued samples")


def sample_teacher(model: GaussianWaveNet, length: int | None = None, *, c: torch.Tensor | None = None,
                   generator: torch.Generator | None = None, batch_size: int | None = None,
                   temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""Ancestral sampling from the teacher: one sample per step, each fed back (cached, no gradients).

    .. math:: x_n = \mu_n(x_{<n}) + \tau\, s_n(x_{<n})\, \varepsilon_n, \qquad \varepsilon_n \sim \mathcal N(0, 1),

    :math:`\tau` the temperature (1: the model as trained). :math:`T` samples take
    :math:`T` sequential network steps (:class:`IncrementalGaussianWaveNet`).

    Parameters
    ----------
    model : GaussianWaveNet
    length : int, optional
        Samples to draw (default: as many as ``c`` covers).
    c : Tensor, shape (batch, cond_channels, frames), optional
    generator : torch.Generator, optional
        Draws :math:`\varepsilon` (one ``randn`` of shape ``(batch,)`` per step).
    batch_size : int, optional
        Default: the batch of ``c``, else 1.
    temperature : float, default 1.0

    Returns
    -------
    x, mu, log_s : Tensor, each shape (batch, length)
        The samples and the Gaussian each was drawn from.

    Raises
    ------
    TypeError, ValueError
        ``temperature`` not > 0; ``length`` not a positive int or beyond the conditioning.

    Examples
    --------
    >>> teacher = GaussianWaveNet(layers=3, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> x, mu, log_s = sample_teacher(teacher, 20, generator=torch.Generator().manual_seed(0))
    >>> tuple(x.shape), torch.allclose(teacher(x)[0], mu, atol=1e-5)
    ((1, 20), True)
    """
    if not isinstance(model, GaussianWaveNet):
        raise TypeError(f"model must be a GaussianWaveNet, got {type(model).__name__}")
    length, temperature = _length_and_temperature(length, c, model.hop_length, temperature)
    with torch.no_grad():
        incremental = IncrementalGaussianWaveNet(model, c, batch_size)
        if incremental.max_steps is not None and length > incremental.max_steps:
            raise ValueError(f"the local conditioning covers {incremental.max_steps} samples; asked for {length}")
        batch = incremental.batch_size
        dtype, device = model.first_conv.weight.dtype, model.first_conv.weight.device
        x, mu, log_s = (torch.empty(batch, length, dtype=dtype, device=device) for _ in range(3))
        u = torch.zeros(batch, dtype=dtype, device=device)
        for n in range(length):
            m, ls = model.parameters_of(incremental._step(u))
            eps = torch.randn(batch, generator=generator, dtype=dtype, device=device)
            u = torch.addcmul(m, torch.exp(ls), eps, value=temperature)
            x[:, n], mu[:, n], log_s[:, n] = u, m, ls
    return x, mu, log_s


# --------------------------------------------------------------------------- the student


class StudentSample(NamedTuple):
    """What :meth:`IAFStudent.sample` returns, each ``(batch, T)``: the waveform, its noise, and per step
    the Gaussian of :math:`x_n` given :math:`z_{<n}` and its log density."""

    x: torch.Tensor
    z: torch.Tensor
    mu: torch.Tensor
    log_s: torch.Tensor
    log_prob: torch.Tensor


class IAFStudent(nn.Module):
    r"""Parallel WaveNet's student: :math:`K` inverse autoregressive flows, each a small Gaussian WaveNet over z.

    .. math::

        z^{(0)} = z \sim \mathcal N(0, I), \qquad
        z^{(k)}_n = z^{(k-1)}_n\, s^{(k)}_n(z^{(k-1)}_{<n}, c) + \mu^{(k)}_n(z^{(k-1)}_{<n}, c), \qquad
        x = z^{(K)},

    each flow a :class:`GaussianWaveNet` (``upsampler=None``; the mel is upsampled once,
    by ``upsample_conv``, and shared). Because :math:`z^{(k-1)}_{<n}` depends on
    :math:`z_{<n}` only, the composition is again one affine map per step,

    .. math:: x_n = z_n\, s_n + \mu_n, \qquad s_n = \prod_{k=1}^{K} s^{(k)}_n, \qquad
              \mu_n = \sum_{k=1}^{K} \mu^{(k)}_n \prod_{j=k+1}^{K} s^{(j)}_n,

    with :math:`s_n, \mu_n` functions of :math:`z_{<n}` (van den Oord et al., 2018,
    Sec. 3; Ping et al., 2019, Sec. 3.3): given :math:`z_{<n}`, :math:`x_n` is
    :math:`\mathcal N(\mu_n, s_n^2)`, and
    :math:`\log p_S(x) = \sum_n \log \mathcal N(z_n; 0, 1) - \log s_n`. Sampling is
    :math:`K` parallel passes (``sample``, ``forward``); scoring a given :math:`x`
    needs :math:`z`, recovered one step at a time per flow (``inverse``, cached with
    :class:`IncrementalGaussianWaveNet`: :math:`KT` sequential steps).

    Parameters
    ----------
    flows : sequence of int, default (2, 2, 2, 2)
        Layers of each flow's WaveNet (one cycle of doubling dilations each); :math:`K`
        = ``len(flows)``. Parallel WaveNet: (10, 10, 10, 30).
    residual_channels, gate_channels, skip_channels, kernel_size : int
        Shared by the flows.
    cond_channels : int, optional
        Mel bands; None: unconditional.
    hop_length : int, optional
        Required with ``cond_channels``.
    upsample_scales : sequence of int, optional
    freq_axis_kernel_size : int, default 1
    log_scale_min : float, default -7.0
        Floor of each flow's :math:`\log s^{(k)}_n`.

    Shapes
    ------
    ``forward(z, c=None)``: ``z`` ``(batch, T)``, ``c`` ``(batch, cond_channels, T / hop_length)``
    → ``(x, mu, log_s)``, each ``(batch, T)``.

    Raises
    ------
    TypeError, ValueError
        Sizes not positive ints, ``flows`` empty; in ``forward``, a ``z`` not
        ``(batch, T)``, a mel whose frames times the hop differ from ``T``; in
        ``sample``, ``temperature`` not > 0.

    Examples
    --------
    >>> student = IAFStudent((2, 2), residual_channels=4, gate_channels=8, skip_channels=4,
    ...                      cond_channels=3, hop_length=4)
    >>> out = student.sample(torch.zeros(2, 3, 5), generator=torch.Generator().manual_seed(0))
    >>> tuple(out.x.shape), torch.allclose(out.x, out.z * out.log_s.exp() + out.mu, atol=1e-6)
    ((2, 20), True)
    >>> torch.allclose(student.inverse(out.x, torch.zeros(2, 3, 5)), out.z, atol=1e-4)
    True
    """

    def __init__(self, flows: Sequence[int] = (2, 2, 2, 2), residual_channels: int = 16, gate_channels: int = 32,
                 skip_channels: int = 16, kernel_size: int = 3, *, cond_channels: int | None = None,
                 hop_length: int | None = None, upsample_scales: Sequence[int] | None = None,
                 freq_axis_kernel_size: int = 1, log_scale_min: float = -7.0):
        super().__init__()
        if isinstance(flows, (str, bytes)) or not isinstance(flows, Sequence) or not flows:
            raise ValueError(f"flows must be a non-empty sequence of layer counts, got {flows!r}")
        layers = [positive_int(n, f"flows[{k}]") for k, n in enumerate(flows)]
        self.cond_channels = None if cond_channels is None else positive_int(cond_channels, "cond_channels")
        self.upsample_conv, self.hop_length = None, None
        if self.cond_channels is not None:
            if hop_length is None:
                raise ValueError("hop_length (samples per conditioning frame) is required with cond_channels")
            self.upsample_conv = ConditioningUpsampler(hop_length, "transposed", upsample_scales,
                                                       freq_axis_kernel_size=freq_axis_kernel_size)
            self.hop_length = self.upsample_conv.hop_length
        elif hop_length is not None or upsample_scales is not None:
            raise ValueError("hop_length and upsample_scales need cond_channels (local conditioning)")
        self.flows = nn.ModuleList(
            GaussianWaveNet(n, 1, residual_channels, gate_channels, skip_channels, kernel_size,
                            cond_channels=self.cond_channels, upsampler=None, log_scale_min=log_scale_min)
            for n in layers)

    @property
    def receptive_field(self) -> int:
        """Steps of :math:`z` one :math:`x_n` depends on: :math:`1 + \\sum_k r_k` (each flow looks :math:`r_k` back)."""
        return 1 + sum(flow.receptive_field for flow in self.flows)

    def _conditioning(self, c, batch: int, T: int) -> torch.Tensor | None:
        if self.cond_channels is None:
            if c is not None:
                raise ValueError("c was given but this student has no local conditioning (cond_channels=None)")
            return None
        if c is None:
            raise ValueError(f"c is required: this student was built with cond_channels={self.cond_channels}")
        _check_tensor(c, "c", "(batch, cond_channels, frames)", self.cond_channels)
        if c.shape[0] != batch:
            raise ValueError(f"c has batch {c.shape[0]}, but the samples have batch {batch}")
        if c.shape[-1] * self.hop_length != T:
            raise ValueError(f"c has {c.shape[-1]} frames x hop_length {self.hop_length} = "
                             f"{c.shape[-1] * self.hop_length} samples, but there are {T} samples: give "
                             "T / hop_length frames")
        return self.upsample_conv(c)

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z = _waveform(z, "z")
        c_up = self._conditioning(c, z.shape[0], z.shape[1])
        x, mu, log_s = z, torch.zeros_like(z), torch.zeros_like(z)
        for flow in self.flows:
            mu_k, log_s_k = flow(x, c_up)
            s_k = torch.exp(log_s_k)
            x = x * s_k + mu_k
            mu = mu * s_k + mu_k
            log_s = log_s + log_s_k
        return x, mu, log_s

    def sample(self, c: torch.Tensor | None = None, length: int | None = None, *,
               generator: torch.Generator | None = None, batch_size: int | None = None,
               temperature: float = 1.0) -> StudentSample:
        r"""Draw :math:`z \sim \mathcal N(0, \tau^2 I)` and push it through the flows in one parallel pass.

        Returns a :class:`StudentSample`: ``x``, ``z``, ``mu``, ``log_s`` and
        ``log_prob`` :math:`= \log \mathcal N(x_n; \mu_n, s_n^2)` (the student's density,
        base :math:`\mathcal N(0, 1)`, whatever :math:`\tau`), each ``(batch, T)``;
        :math:`T` = ``length`` or what ``c`` covers. Gradients flow (distillation
        trains through it).

        Raises
        ------
        ValueError
            ``temperature`` not > 0; no length; a mel that does not cover ``length``.
        """
        length, temperature = _length_and_temperature(length, c, self.hop_length, temperature)
        batch = batch_size if batch_size is not None else (c.shape[0] if isinstance(c, torch.Tensor) else 1)
        weight = self.flows[0].first_conv.weight
        z = temperature * torch.randn(positive_int(batch, "batch_size"), length, generator=generator,
                                      dtype=weight.dtype, device=weight.device)
        x, mu, log_s = self(z, c)
        return StudentSample(x, z, mu, log_s, gaussian_log_prob(x, mu, log_s))

    @torch.no_grad()
    def inverse(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r"""The noise that makes ``x``: :math:`z^{(k-1)}_n = (z^{(k)}_n - \mu^{(k)}_n)/s^{(k)}_n`, step by step.

        Flow :math:`K` first, then down to flow 1; within a flow :math:`\mu^{(k)}_n,
        s^{(k)}_n` need :math:`z^{(k-1)}_{<n}`, just recovered
        (:class:`IncrementalGaussianWaveNet`): :math:`KT` sequential steps, the
        price of the student's parallel sampling. No gradients.

        Returns
        -------
        Tensor, shape (batch, T)
        """
        x = _waveform(x, "x")
        c_up = self._conditioning(c, x.shape[0], x.shape[1])
        y = x
        for flow in reversed(self.flows):
            incremental = IncrementalGaussianWaveNet(flow, c_up, x.shape[0])
            previous = torch.empty_like(y)
            u = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
            for n in range(x.shape[1]):
                mu_k, log_s_k = flow.parameters_of(incremental._step(u))
                u = (y[:, n] - mu_k) * torch.exp(-log_s_k)
                previous[:, n] = u
            y = previous
        return y

    def log_prob(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        r""":math:`\log p_S(x_n \mid x_{<n}, c) = \log\mathcal N(z_n; 0, 1) - \log s_n` per step, ``(batch, T)``.

        :math:`z` = :meth:`inverse` (sequential); then one parallel pass gives :math:`s_n`.
        """
        z = self.inverse(x, c)
        with torch.no_grad():
            _, _, log_s = self(z, c)
        return gaussian_log_prob(z, torch.zeros_like(z), torch.zeros_like(z)) - log_s


# --------------------------------------------------------------------------- losses


def gaussian_log_prob(x: torch.Tensor, mu: torch.Tensor, log_s: torch.Tensor) -> torch.Tensor:
    r"""Element-wise :math:`\log \mathcal N(x; \mu, s^2) = -\tfrac12 \log 2\pi - \log s - \tfrac12 ((x - \mu)/s)^2`.

    Examples
    --------
    >>> round(gaussian_log_prob(torch.tensor(0.0), torch.tensor(0.0), torch.tensor(0.0)).item(), 4)
    -0.9189
    """
    return -0.5 * LOG_2PI - log_s - 0.5 * ((x - mu) * torch.exp(-log_s)) ** 2


def gaussian_entropy(log_s: torch.Tensor) -> torch.Tensor:
    r"""Element-wise differential entropy of :math:`\mathcal N(\mu, s^2)`: :math:`\log s + \tfrac12 \log(2\pi e)`.

    Examples
    --------
    >>> round(gaussian_entropy(torch.tensor(0.0)).item(), 4)
    1.4189
    """
    return log_s + 0.5 * (LOG_2PI + 1.0)


def gaussian_kl(mu_p: torch.Tensor, log_s_p: torch.Tensor, mu_q: torch.Tensor, log_s_q: torch.Tensor
                ) -> torch.Tensor:
    r"""Element-wise :math:`D_\mathrm{KL}(\mathcal N(\mu_p, s_p^2) \Vert \mathcal N(\mu_q, s_q^2))`, in nats.

    .. math:: \log\frac{s_q}{s_p} + \frac{s_p^2 + (\mu_p - \mu_q)^2}{2 s_q^2} - \frac12 \;\ge 0,

    zero exactly when :math:`\mu_p = \mu_q` and :math:`s_p = s_q` (ClariNet, Ping et al., 2019, Eq. 5).

    Examples
    --------
    >>> zero, one = torch.tensor(0.0), torch.tensor(1.0)
    >>> gaussian_kl(zero, zero, zero, zero).item(), gaussian_kl(one, zero, zero, zero).item()
    (0.0, 0.5)
    """
    return (log_s_q - log_s_p) + 0.5 * (torch.exp(2 * (log_s_p - log_s_q))
                                        + ((mu_p - mu_q) * torch.exp(-log_s_q)) ** 2) - 0.5


class Distillation(NamedTuple):
    """Per-sample means (nats) over batch and time: ``kl`` = ``cross_entropy`` - ``entropy``."""

    kl: torch.Tensor
    cross_entropy: torch.Tensor
    entropy: torch.Tensor


def distillation_kl(student: StudentSample, teacher: GaussianWaveNet, c: torch.Tensor | None = None, *,
                    method: str = "closed_form") -> Distillation:
    r"""Probability density distillation: :math:`D_\mathrm{KL}(P_S \Vert P_T)` per sample, on the student's samples.

    The teacher scores the student's waveform :math:`x` in one teacher-forced pass,
    giving :math:`\mu^T_n, s^T_n` of :math:`x_n` given :math:`x_{<n}`; the student's
    own :math:`\mu_n, s_n` given :math:`z_{<n}` (the same history) come with the
    sample. By the chain rule the KL of the waveforms is the sum over steps of the
    expected KL of the steps, estimated with the sample's history:

    ``"closed_form"`` (ClariNet): :math:`\frac1T\sum_n D_\mathrm{KL}(\mathcal N(\mu_n, s_n^2) \Vert
    \mathcal N(\mu^T_n, {s^T_n}^2))` (:func:`gaussian_kl`), cross-entropy the KL plus the entropy;

    ``"monte_carlo"`` (Parallel WaveNet): :math:`H(P_S, P_T) \approx -\frac1T \sum_n \log p_T(x_n \mid
    x_{<n})` at the drawn :math:`x_n`, minus :math:`H(P_S) = \frac1T\sum_n \log s_n + \tfrac12
    \log 2\pi e` (exact given :math:`z_{<n}`).

    Both are unbiased; the closed form has the lower variance (it integrates
    :math:`x_n` out). The entropy term is what stops the student collapsing onto the
    teacher's mode; the KL is mode-seeking.

    Parameters
    ----------
    student : StudentSample
        From :meth:`IAFStudent.sample` (with gradients, to train the student).
    teacher : GaussianWaveNet
    c : Tensor, optional
        The teacher's conditioning for ``student.x``.
    method : {"closed_form", "monte_carlo"}

    Returns
    -------
    Distillation
        ``(kl, cross_entropy, entropy)``, scalar tensors.

    Raises
    ------
    ValueError
        Unknown ``method``.
    FloatingPointError
        A KL that is NaN or infinite (the student's scales overflowed or the
        teacher produced non-finite parameters): stop, do not train on it.

    Examples
    --------
    >>> teacher = GaussianWaveNet(layers=2, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> student = IAFStudent((1, 1), residual_channels=4, gate_channels=8, skip_channels=4)
    >>> out = distillation_kl(student.sample(length=16, generator=torch.Generator().manual_seed(0)), teacher)
    >>> bool(out.kl >= 0), torch.allclose(out.kl, out.cross_entropy - out.entropy)
    (True, True)
    """
    if not isinstance(student, StudentSample):
        raise TypeError(f"student must be a StudentSample (IAFStudent.sample), got {type(student).__name__}")
    if method not in ("closed_form", "monte_carlo"):
        raise ValueError(f"method must be 'closed_form' or 'monte_carlo', got {method!r}")
    mu_t, log_s_t = teacher(student.x, c)
    entropy = gaussian_entropy(student.log_s).mean()
    if method == "closed_form":
        kl = gaussian_kl(student.mu, student.log_s, mu_t, log_s_t).mean()
        cross_entropy = kl + entropy
    else:
        cross_entropy = -gaussian_log_prob(student.x, mu_t, log_s_t).mean()
        kl = cross_entropy - entropy
    if not torch.isfinite(kl):
        raise FloatingPointError(f"the distillation KL ({method}) is {kl.item()}: the student's or the teacher's "
                                 "scales overflowed; lower the learning rate or check the inputs for NaN")
    return Distillation(kl, cross_entropy, entropy)


def power_loss(x: torch.Tensor, y: torch.Tensor, *, n_fft: int = 512, hop_length: int = 128) -> torch.Tensor:
    r"""Parallel WaveNet's power loss: the squared distance of power spectrograms, averaged over frames.

    .. math:: \mathcal L_\mathrm{power} = \frac{1}{BM} \sum_{b,m} \sum_k
              \big(|X_b[m, k]|^2 - |Y_b[m, k]|^2\big)^2,

    :math:`X, Y` the STFTs (periodic Hann window of ``n_fft``, hop ``hop_length``,
    centred with zero padding: ``librosa.stft``'s defaults) of the generated and the
    real waveform, :math:`M` frames. The KL alone lets the student put energy where
    the teacher is uncertain, often as whispered noise; this term ties the energy
    in each band to the recording's (van den Oord et al., 2018, Sec. 3.2.1).

    Parameters
    ----------
    x, y : Tensor, shape (batch, T)
        Generated and real waveforms, aligned (the same mel).
    n_fft, hop_length : int

    Returns
    -------
    Tensor, scalar

    Raises
    ------
    TypeError, ValueError
        ``x``, ``y`` not float ``(batch, T)`` of the same shape.

    Examples
    --------
    >>> y = torch.randn(2, 1024, generator=torch.Generator().manual_seed(0))
    >>> power_loss(y, y).item(), bool(power_loss(0.5 * y, y) > 0)
    (0.0, True)
    """
    x, y = _waveform(x, "x"), _waveform(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape (batch, T), got {tuple(x.shape)} and {tuple(y.shape)}")
    n_fft, hop = positive_int(n_fft, "n_fft"), positive_int(hop_length, "hop_length")
    window = torch.hann_window(n_fft, dtype=x.dtype, device=x.device)

    def power(w):
        return torch.stft(w, n_fft, hop, window=window, center=True, pad_mode="constant",
                          return_complex=True).abs().square()

    return (power(x) - power(y)).square().sum(dim=1).mean()

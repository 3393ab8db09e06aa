r"""Flow vocoders: WaveGlow and FloWaveNet, normalizing flows from the waveform to Gaussian noise, given the mel.

A flow vocoder is an invertible function :math:`\mathbf{z} = f(\mathbf{x}; c)`
from a waveform :math:`\mathbf{x}` of :math:`T` samples to a vector
:math:`\mathbf{z}` of the same size, conditioned on a log-mel spectrogram
:math:`c`. With :math:`\mathbf{z} \sim \mathcal N(0, \sigma^2 I)` the change of
variables gives the exact log-likelihood,

.. math:: \log p(\mathbf{x} \mid c) = \log \mathcal N(f(\mathbf{x}; c); 0, \sigma^2 I)
          + \log \left| \det \frac{\partial f}{\partial \mathbf{x}} \right|,

so training is plain maximum likelihood (:func:`flow_nll`), and synthesis draws
:math:`\mathbf{z}` and computes :math:`\mathbf{x} = f^{-1}(\mathbf{z}; c)` for all
samples at once: no sample waits for the one before it, unlike WaveNet.

==============================  =====================================================================
piece                           what it is
==============================  =====================================================================
:class:`WN`                     WaveGlow's coupling network: non-causal dilated convolutions, gated
                                tanh-sigmoid units, the mel added in every layer, zero-initialised end
:class:`NonCausalGatedUnit`     WaveNet's gated residual unit (``layers.GatedResidualUnit``) with a
                                centred instead of a causal convolution
:class:`CouplingWaveNet`        FloWaveNet's coupling network: a small non-causal WaveNet
:class:`WaveGlow`               squeeze of ``n_group`` samples, then flows of invertible 1x1
                                convolution + affine coupling, with early outputs (Prenger et al., 2019)
:class:`FloWaveNet`             context blocks of squeeze, then flows of ActNorm + affine coupling +
                                change of order (Kim et al., 2019)
:func:`waveglow_published`      WaveGlow's published configuration (87,879,272 parameters)
:func:`flowavenet_published`    FloWaveNet's published configuration
:func:`flow_nll`                negative log-likelihood per sample, in nats
:func:`saved_activation_bytes`  memory that training keeps for the backward pass, counted on any device
==============================  =====================================================================

The layers of the flows themselves (:class:`~lessons_lib.models.flows.InvertibleConv1x1`,
:class:`~lessons_lib.models.flows.ActNorm`,
:class:`~lessons_lib.models.flows.AffineCoupling`,
:class:`~lessons_lib.models.flows.Squeeze1d`) live in :mod:`lessons_lib.models.flows`;
this module assembles them into the two vocoders.

Shapes. Waveforms are ``(batch, time)``, float; ``z`` has the waveform's shape.
Log-mel spectrograms are ``(batch, n_mels, frames)``, time last, as
:class:`~lessons_lib.models.frontend.LogMel` returns them, with the convention of
Chapter 7's vocoders (``recipes.wavenet_vocoder``): :math:`T` samples, a whole
number of hops :math:`R`, have :math:`F = T/R + 1` frames (a centred STFT), frame
:math:`m` centred on sample :math:`mR`; synthesis from :math:`F` frames gives
:math:`(F - 1) R` samples. Inside, tensors are ``(batch, channels, time)``.

Relation to the references. :class:`WN` keeps NVIDIA's submodule names
(``start``, ``in_layers``, ``res_skip_layers``, ``cond_layer``, ``end``) and
:class:`WaveGlow` its ``upsample`` (one ``ConvTranspose1d`` of stride hop); its
couplings and 1x1 convolutions are :mod:`~lessons_lib.models.flows` layers (the
mapping of NVIDIA's ``WN.k`` and ``convinv.k`` keys to ours is not written: there
is no package to test it against). Two choices differ from NVIDIA's code and do
not change the parameter count: the upsampled mel is cut centred on the frames
(NVIDIA keeps the first :math:`T` samples), and the coupling network returns
(log-scale, shift) in that order, as ``flows.AffineCoupling`` reads it.
FloWaveNet follows ksw0306's code: the squeezed mel's first half conditions each
coupling, and the change of order swaps the halves of both the signal and the
mel; its ``ZeroConv1d`` scale and the weight norm of its convolutions are left out
(the shapes of every weight are the same).

Chapter: ``notebooks/07e_flow_vocoders.ipynb``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int
from .flows import ActNorm, AffineCoupling, InvertibleConv1x1, Squeeze1d
from .layers import GatedResidualUnit, _check_tensor
from .wavenet import ConditioningUpsampler

__all__ = [
    "WN",
    "NonCausalGatedUnit",
    "CouplingWaveNet",
    "WaveGlow",
    "FloWaveNet",
    "waveglow_published",
    "flowavenet_published",
    "flow_nll",
    "saved_activation_bytes",
]


def _weight_norm(conv: nn.Conv1d, use: bool) -> nn.Module:
    """``conv`` with weight normalisation :math:`w = g\\,v/\\lVert v\\rVert` (one :math:`g` per output channel)."""
    return nn.utils.parametrizations.weight_norm(conv) if use else conv


def _odd(value, name: str) -> int:
    k = positive_int(value, name, "a positive odd int")
    if k % 2 == 0:
        raise ValueError(f"{name} must be odd (a centred, non-causal convolution), got {k}")
    return k


# --------------------------------------------------------------------------- coupling networks


class WN(nn.Module):
    r"""WaveGlow's coupling network: a non-causal WaveNet-like stack that maps half the channels to (log-scale, shift).

    .. math::

        h_0 &= W_\text{start}\, x_a, \qquad
        [a_l;\, b_l] = W_l * h_{l} + V_l\, c \\
        u_l &= \tanh(a_l) \odot \sigma(b_l), \qquad
        [r_l;\, s_l] = W^{rs}_l u_l, \qquad h_{l+1} = h_l + r_l \\
        [\log s;\, t] &= W_\text{end} \sum_l s_l,

    :math:`W_l *` a centred convolution of kernel :math:`k` (odd) and dilation
    :math:`2^l`, :math:`l = 0 .. L-1` (so sample :math:`t` sees :math:`x_a` from
    both sides: the network need not be causal, because it is only ever run on
    the known half), :math:`V_l` the rows of ``cond_layer`` (one 1x1 convolution
    of the squeezed mel for all layers) that belong to layer :math:`l`. The last
    layer has no residual output (its ``res_skip_layers`` entry has
    ``channels`` outputs instead of ``2 * channels``). ``end`` is initialised to
    zero, so every coupling starts as the identity (Prenger et al., 2019; NVIDIA's
    ``glow.py``, whose names these are). With ``weight_norm`` every convolution but
    ``end`` is weight-normalised, as there (torch's parametrisation: keys
    ``...parametrizations.weight.original0`` and ``original1``).

    Parameters
    ----------
    in_channels : int
        Channels of the conditioning half :math:`x_a`.
    cond_channels : int
        Channels of the conditioning :math:`c` (WaveGlow: ``n_mels * n_group``).
    out_channels : int, optional
        Channels of the transformed half :math:`x_b` (default ``in_channels``);
        the output has ``2 * out_channels``.
    layers : int, default 8
    channels : int, default 256
        Even width of the stack.
    kernel_size : int, default 3
        Odd.
    weight_norm : bool, default True

    Shapes
    ------
    ``forward(x_a, cond)``: ``(batch, in_channels, time)`` and ``(batch, cond_channels, time)``
    → ``(batch, 2 * out_channels, time)``: log-scale, then shift.

    Raises
    ------
    TypeError, ValueError
        Sizes not positive ints, an even kernel, odd ``channels``; in ``forward``,
        wrongly shaped inputs.

    Examples
    --------
    The zero-initialised end makes the output zero until training moves it:

    >>> net = WN(4, cond_channels=6, layers=2, channels=8)
    >>> y = net(torch.randn(2, 4, 16), torch.randn(2, 6, 16))
    >>> tuple(y.shape), y.abs().max().item()
    ((2, 8, 16), 0.0)
    >>> sum(p.numel() for p in WN(4, 640).parameters())  # NVIDIA's WN of the first flow
    6777864
    """

    def __init__(self, in_channels: int, cond_channels: int, out_channels: int | None = None, *, layers: int = 8,
                 channels: int = 256, kernel_size: int = 3, weight_norm: bool = True):
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        cond_channels = positive_int(cond_channels, "cond_channels")
        out_channels = in_channels if out_channels is None else positive_int(out_channels, "out_channels")
        layers = positive_int(layers, "layers")
        channels = positive_int(channels, "channels", "a positive even int")
        if channels % 2:
            raise ValueError(f"channels must be even (tanh and sigmoid halves), got {channels}")
        k = _odd(kernel_size, "kernel_size")
        if not isinstance(weight_norm, bool):
            raise TypeError(f"weight_norm must be a bool, got {type(weight_norm).__name__}")
        self.in_channels, self.cond_channels, self.out_channels = in_channels, cond_channels, out_channels
        self.layers, self.channels, self.kernel_size = layers, channels, k
        self.start = _weight_norm(nn.Conv1d(in_channels, channels, 1), weight_norm)
        self.cond_layer = _weight_norm(nn.Conv1d(cond_channels, 2 * channels * layers, 1), weight_norm)
        self.in_layers = nn.ModuleList(
            _weight_norm(nn.Conv1d(channels, 2 * channels, k, dilation=2 ** l, padding=(k - 1) * 2 ** l // 2),
                         weight_norm) for l in range(layers))
        self.res_skip_layers = nn.ModuleList(
            _weight_norm(nn.Conv1d(channels, 2 * channels if l < layers - 1 else channels, 1), weight_norm)
            for l in range(layers))
        self.end = nn.Conv1d(channels, 2 * out_channels, 1)
        with torch.no_grad():
            self.end.weight.zero_()
            self.end.bias.zero_()

    @property
    def receptive_field(self) -> int:
        """Samples of :math:`x_a` (at the squeezed rate) that one output sees: :math:`1 + (k-1)(2^L - 1)`."""
        return 1 + (self.kernel_size - 1) * (2 ** self.layers - 1)

    def forward(self, x_a: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x_a = _check_tensor(x_a, "x_a", "(batch, in_channels, time)", self.in_channels)
        cond = _check_tensor(cond, "cond", "(batch, cond_channels, time)", self.cond_channels)
        if cond.shape[0] != x_a.shape[0] or cond.shape[-1] != x_a.shape[-1]:
            raise ValueError(f"cond of shape {tuple(cond.shape)} does not match x_a of shape {tuple(x_a.shape)}: "
                             "expected the same batch and time")
        h = self.start(x_a)
        v = self.cond_layer(cond).chunk(self.layers, dim=1)  # V_l c, one (batch, 2 channels, time) per layer
        skips = 0
        for l, (conv, res_skip) in enumerate(zip(self.in_layers, self.res_skip_layers)):
            a, b = (conv(h) + v[l]).chunk(2, dim=1)
            out = res_skip(torch.tanh(a) * torch.sigmoid(b))
            if l < self.layers - 1:
                h = h + out[:, :self.channels]
                skips = skips + out[:, self.channels:]
            else:
                skips = skips + out
        return self.end(skips)


class NonCausalGatedUnit(GatedResidualUnit):
    r"""WaveNet's gated residual unit with a centred convolution: output :math:`t` sees the input on both sides.

    The same unit as :class:`~lessons_lib.models.layers.GatedResidualUnit` (same
    equations, names, conditioning, :math:`\sqrt{0.5}` residual scale), except that
    ``conv`` is an ``nn.Conv1d`` padded by :math:`(k-1)d/2` on both sides (``k``
    odd), not a causal one. A flow's coupling network may look into the future: it
    only ever reads the half of the signal that the coupling leaves unchanged,
    which is known whole in both directions (Kim et al., 2019, Sec. 3).

    Parameters
    ----------
    As :class:`~lessons_lib.models.layers.GatedResidualUnit`; ``kernel_size`` must be odd.

    Raises
    ------
    TypeError, ValueError
        As the causal unit's, and an even ``kernel_size``.

    Examples
    --------
    An impulse at step 8 reaches steps 8 - 2 and 8 + 2 (kernel 3, dilation 2), the
    past and the future:

    >>> unit = NonCausalGatedUnit(2, 4, kernel_size=3, dilation=2)
    >>> x = torch.zeros(1, 2, 16)
    >>> x[..., 8] = 1.0
    >>> _, skip = unit(x)
    >>> changed = (skip - unit(torch.zeros(1, 2, 16))[1]).abs().sum(1)[0] > 0
    >>> changed.nonzero().flatten().tolist()
    [6, 8, 10]
    >>> unit.receptive_field
    5
    """

    def __init__(self, residual_channels: int, gate_channels: int, kernel_size: int, dilation: int = 1, **kwargs):
        k = _odd(kernel_size, "kernel_size")
        super().__init__(residual_channels, gate_channels, k, dilation, **kwargs)
        d = self.conv.dilation[0]
        self.conv = nn.Conv1d(self.residual_channels, self.gate_channels, k, dilation=d, padding=(k - 1) * d // 2)

    @property
    def receptive_field(self) -> int:
        return (self.conv.kernel_size[0] - 1) * self.conv.dilation[0] + 1


class CouplingWaveNet(nn.Module):
    r"""FloWaveNet's coupling network: a small non-causal WaveNet from half the channels to (log-scale, shift).

    .. math::

        h_0 = \mathrm{ReLU}(W_\text{front} * x_a), \qquad
        (h_{l+1}, s_l) = \text{unit}_l(h_l, c), \qquad
        [\log s;\, t] = W_\text{out}\, \mathrm{ReLU}(W_1\, \mathrm{ReLU}(\textstyle\sum_l s_l)),

    a centred convolution of 3 taps in front, :math:`L` :class:`NonCausalGatedUnit`
    with dilations :math:`1, 2, \ldots, 2^{L-1}` conditioned on :math:`c`, and
    ReLU-1x1-ReLU-1x1 on the skip sum, the last 1x1 initialised to zero (every
    coupling starts as the identity) (Kim et al., 2019; ksw0306's ``Wavenet`` with
    ``causal=False``).

    Parameters
    ----------
    in_channels : int
    cond_channels : int
    out_channels : int, optional
        Channels of the transformed half (default ``in_channels``); the output has twice as many.
    layers : int, default 2
    channels : int, default 256
        Residual, skip and filter width (the units' ``gate_channels`` is twice it).
    kernel_size : int, default 3

    Shapes
    ------
    ``forward(x_a, cond)``: ``(batch, in_channels, time)``, ``(batch, cond_channels, time)`` →
    ``(batch, 2 * out_channels, time)``.

    Examples
    --------
    >>> net = CouplingWaveNet(2, cond_channels=4, layers=2, channels=8)
    >>> y = net(torch.randn(1, 2, 32), torch.randn(1, 4, 32))
    >>> tuple(y.shape), y.abs().max().item()
    ((1, 4, 32), 0.0)
    """

    def __init__(self, in_channels: int, cond_channels: int, out_channels: int | None = None, *, layers: int = 2,
                 channels: int = 256, kernel_size: int = 3):
        super().__init__()
        in_channels = positive_int(in_channels, "in_channels")
        cond_channels = positive_int(cond_channels, "cond_channels")
        out_channels = in_channels if out_channels is None else positive_int(out_channels, "out_channels")
        layers, channels = positive_int(layers, "layers"), positive_int(channels, "channels")
        k = _odd(kernel_size, "kernel_size")
        self.in_channels, self.cond_channels, self.out_channels = in_channels, cond_channels, out_channels
        self.front_conv = nn.Conv1d(in_channels, channels, 3, padding=1)
        self.res_blocks = nn.ModuleList(
            NonCausalGatedUnit(channels, 2 * channels, k, 2 ** l, skip_channels=channels, cond_channels=cond_channels)
            for l in range(layers))
        self.final_conv = nn.Conv1d(channels, channels, 1)
        self.out_conv = nn.Conv1d(channels, 2 * out_channels, 1)
        with torch.no_grad():
            self.out_conv.weight.zero_()
            self.out_conv.bias.zero_()

    def forward(self, x_a: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x_a = _check_tensor(x_a, "x_a", "(batch, in_channels, time)", self.in_channels)
        h = F.relu(self.front_conv(x_a))
        skips = 0
        for unit in self.res_blocks:
            h, s = unit(h, cond)
            skips = skips + s
        return self.out_conv(F.relu(self.final_conv(F.relu(skips))))


# --------------------------------------------------------------------------- shared checks


def _audio_and_mel(model, x: torch.Tensor, mel: torch.Tensor, x_name: str = "x") -> tuple[torch.Tensor, int]:
    """Check a waveform batch against its mel; returns ``(x, T)``."""
    x = _check_tensor(x, x_name, "(batch, time)")
    T = x.shape[-1]
    if T == 0 or T % model.divisor:
        raise ValueError(f"{x_name} has {T} samples; the squeeze needs a positive multiple of {model.divisor} "
                         f"(lcm of hop_length={model.hop_length} and the squeeze factor {model.squeeze_factor}): "
                         "cut or pad the audio")
    _check_mel(model, mel)
    frames = mel.shape[-1]
    if frames != T // model.hop_length + 1 or mel.shape[0] != x.shape[0]:
        raise ValueError(f"mel of shape {tuple(mel.shape)} does not match {x_name} of shape {tuple(x.shape)}: "
                         f"{T} samples need T / hop_length + 1 = {T // model.hop_length + 1} frames "
                         f"(hop_length={model.hop_length}) and the same batch")
    return x, T


def _check_mel(model, mel: torch.Tensor) -> torch.Tensor:
    mel = _check_tensor(mel, "mel", "(batch, n_mels, frames)", model.n_mels)
    if mel.shape[-1] < 2:
        raise ValueError(f"mel must have at least 2 frames (F frames give (F - 1) * hop_length samples), "
                         f"got shape {tuple(mel.shape)}")
    return mel


def _sigma(sigma) -> float:
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)):
        raise TypeError(f"sigma must be a positive float, got {type(sigma).__name__}")
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be a positive, finite temperature (z ~ N(0, sigma^2 I)), got {sigma}")
    return float(sigma)


def _infer(model, mel: torch.Tensor, sigma, generator) -> torch.Tensor:
    sigma = _sigma(sigma)
    mel = _check_mel(model, mel)
    T = (mel.shape[-1] - 1) * model.hop_length
    if T % model.divisor:
        raise ValueError(f"mel has {mel.shape[-1]} frames, giving {T} samples; the squeeze needs a multiple of "
                         f"{model.divisor}: pad the mel")
    z = torch.randn(mel.shape[0], T, generator=generator, dtype=mel.dtype, device=mel.device)
    return model.inverse(sigma * z, mel)


# --------------------------------------------------------------------------- WaveGlow


def _invertible_conv(channels: int, lu: bool) -> InvertibleConv1x1:
    """``flows.InvertibleConv1x1``; under a ``meta`` default device built on the CPU (its random rotation needs
    values) and moved to ``meta``, so that a model can be sized without allocating."""
    if torch.empty(0).device.type == "meta":
        with torch.device("cpu"):
            return InvertibleConv1x1(channels, lu=lu).to("meta")
    return InvertibleConv1x1(channels, lu=lu)


class WaveGlow(nn.Module):
    r"""WaveGlow: Glow on groups of samples, conditioned on the upsampled mel (Prenger et al., 2019).

    .. math::

        h^{(0)} &= \mathrm{squeeze}_G(\mathbf{x}) \in \mathbb R^{G \times T/G} \\
        h &\leftarrow \mathbf{W}_k h, \qquad
        [h_a;\, h_b] \leftarrow [h_a;\; h_b \odot e^{\log s_k(h_a, c)} + t_k(h_a, c)]
            \qquad (k = 0 .. K-1) \\
        \log\left|\det J\right| &= \sum_k \Big(\tfrac{T}{G} \log|\det \mathbf{W}_k|
            + \sum \log s_k\Big),

    :math:`K` = ``n_flows`` steps of an invertible 1x1 convolution
    :math:`\mathbf{W}_k` (:class:`~lessons_lib.models.flows.InvertibleConv1x1`) and
    an affine coupling (:class:`~lessons_lib.models.flows.AffineCoupling`, its
    network a :class:`WN`) over the :math:`G` = ``n_group`` samples squeezed into
    channels. The mel is upsampled to the sample rate by one transposed
    convolution of stride hop (``upsample``), cut to the :math:`T` samples centred
    on the frames, and squeezed alike to ``n_mels * n_group`` channels. Before
    every ``n_early_every``-th step (not the first), ``n_early_size`` channels leave
    the flow: they are already Gaussian enough, and the later steps are cheaper
    (early outputs, as in RealNVP's multi-scale architecture). ``z`` gathers the
    early outputs and the last channels in that order, and is unsqueezed back to
    ``(batch, T)``.

    Parameters
    ----------
    n_mels : int, default 80
    n_flows : int, default 12
    n_group : int, default 8
        Even number of samples per squeezed time step.
    n_early_every : int, default 4
    n_early_size : int, default 2
        Even.
    hop_length : int, default 256
    upsample_kernel : int, optional
        Taps of ``upsample`` (default ``4 * hop_length``, NVIDIA's 1024 for hop 256); at least ``hop_length``.
    layers, channels, kernel_size : int, default 8, 256, 3
        Each :class:`WN`.
    weight_norm : bool, default True
    lu : bool, default False
        LU-decomposed 1x1 convolutions (Glow's cheaper log-determinant) instead of
        WaveGlow's plain ones.
    log_scale_bound : float, optional
        None (default): the coupling's log-scale unbounded, :math:`e^{\log s}`, as
        WaveGlow; a number :math:`\beta` bounds it softly, :math:`\beta\tanh(\cdot/\beta)`
        (see :class:`~lessons_lib.models.flows.AffineCoupling`).

    Attributes
    ----------
    upsample : nn.ConvTranspose1d
    convinv : ModuleList of InvertibleConv1x1
    coupling : ModuleList of AffineCoupling
    channels_per_flow : tuple of int
        Channels each step acts on (8, 8, 8, 8, 6, ..., 4 for the published model).

    Shapes
    ------
    ``forward(x, mel)``: ``x`` ``(batch, T)``, ``mel`` ``(batch, n_mels, T / hop_length + 1)`` →
    ``(z, log_det)``, ``(batch, T)`` and ``(batch,)``. ``inverse(z, mel)`` → ``x``.
    ``infer(mel, sigma=1.0, generator=None)`` → ``(batch, (frames - 1) * hop_length)``.

    Raises
    ------
    TypeError, ValueError
        Sizes not positive ints, an odd ``n_group`` or ``n_early_size``, early
        outputs that leave fewer than 2 channels; in ``forward``/``inverse``, a
        length that is not a multiple of ``hop_length`` and ``n_group``, a mel whose
        frames or bands do not match; ``sigma <= 0`` in ``infer``.

    Examples
    --------
    >>> model = WaveGlow(n_mels=4, n_flows=4, n_group=4, n_early_every=2, n_early_size=2, hop_length=4,
    ...                  layers=2, channels=8).double()
    >>> x, mel = torch.randn(2, 32, dtype=torch.float64), torch.randn(2, 4, 9, dtype=torch.float64)
    >>> z, log_det = model(x, mel)
    >>> tuple(z.shape), tuple(log_det.shape), model.channels_per_flow
    ((2, 32), (2,), (4, 4, 2, 2))
    >>> torch.allclose(model.inverse(z, mel), x, atol=1e-12)
    True
    >>> tuple(model.infer(mel, sigma=0.6, generator=torch.Generator().manual_seed(0)).shape)
    (2, 32)
    """

    def __init__(self, n_mels: int = 80, n_flows: int = 12, n_group: int = 8, n_early_every: int = 4,
                 n_early_size: int = 2, *, hop_length: int = 256, upsample_kernel: int | None = None,
                 layers: int = 8, channels: int = 256, kernel_size: int = 3, weight_norm: bool = True,
                 lu: bool = False, log_scale_bound: float | None = None):
        super().__init__()
        self.n_mels = positive_int(n_mels, "n_mels")
        self.n_flows = positive_int(n_flows, "n_flows")
        self.n_group = positive_int(n_group, "n_group", "a positive even int")
        self.n_early_every = positive_int(n_early_every, "n_early_every")
        self.n_early_size = positive_int(n_early_size, "n_early_size", "a positive even int")
        self.hop_length = positive_int(hop_length, "hop_length")
        kernel = 4 * self.hop_length if upsample_kernel is None else positive_int(upsample_kernel, "upsample_kernel")
        for name, value in (("n_group", self.n_group), ("n_early_size", self.n_early_size)):
            if value % 2:
                raise ValueError(f"{name} must be even, got {value}")
        if kernel < self.hop_length:
            raise ValueError(f"upsample_kernel must be >= hop_length={self.hop_length} (every sample must be "
                             f"reached by a frame), got {kernel}")
        widths, c = [], self.n_group
        for k in range(self.n_flows):
            if k and k % self.n_early_every == 0:
                c -= self.n_early_size
            widths.append(c)
        if widths[-1] < 2:
            raise ValueError(f"{self.n_flows} flows with an early output of {self.n_early_size} channels every "
                             f"{self.n_early_every} leave {widths[-1]} of n_group={self.n_group} channels; "
                             "a coupling needs at least 2")
        self.channels_per_flow = tuple(widths)
        self.squeeze_factor, self.divisor = self.n_group, math.lcm(self.n_group, self.hop_length)
        self.upsample = nn.ConvTranspose1d(self.n_mels, self.n_mels, kernel, stride=self.hop_length)
        self.squeeze = Squeeze1d(self.n_group)
        cond = self.n_mels * self.n_group
        self.convinv = nn.ModuleList(_invertible_conv(c, lu) for c in widths)
        self.coupling = nn.ModuleList(
            AffineCoupling(c, channels, cond, network=WN(c // 2, cond, c - c // 2, layers=layers, channels=channels,
                                                         kernel_size=kernel_size, weight_norm=weight_norm),
                           log_scale_bound=log_scale_bound)
            for c in widths)

    def upsampled(self, mel: torch.Tensor, T: int) -> torch.Tensor:
        """The mel at the squeezed rate: ``(batch, n_mels * n_group, T / n_group)``.

        The transposed convolution gives :math:`(F-1)R + K` samples; the :math:`T = (F-1)R`
        kept start at :math:`(K - R)/2`, so frame :math:`m`'s taps are centred on
        samples :math:`mR .. mR + R - 1`.
        """
        up = self.upsample(mel)
        start = (self.upsample.kernel_size[0] - self.hop_length) // 2
        up = up[..., start:start + T]
        return self.squeeze(up)[0]

    def forward(self, x: torch.Tensor, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, T = _audio_and_mel(self, x, mel)
        cond = self.upsampled(mel, T)
        h, log_det = self.squeeze(x.unsqueeze(1))
        outputs = []
        for k, (conv, coupling) in enumerate(zip(self.convinv, self.coupling)):
            if k and k % self.n_early_every == 0:
                outputs.append(h[:, :self.n_early_size])
                h = h[:, self.n_early_size:]
            h, ld_w = conv(h)
            h, ld_s = coupling(h, cond)
            log_det = log_det + ld_w + ld_s
        z = self.squeeze.inverse(torch.cat(outputs + [h], dim=1))
        return z.squeeze(1), log_det

    def inverse(self, z: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        z, T = _audio_and_mel(self, z, mel, "z")
        cond = self.upsampled(mel, T)
        h = self.squeeze(z.unsqueeze(1))[0]
        n_early = sum(1 for k in range(1, self.n_flows) if k % self.n_early_every == 0)
        early = list(h[:, :n_early * self.n_early_size].split(self.n_early_size, dim=1))
        h = h[:, n_early * self.n_early_size:]
        for k in reversed(range(self.n_flows)):
            h = self.coupling[k].inverse(h, cond)
            h = self.convinv[k].inverse(h)
            if k and k % self.n_early_every == 0:
                h = torch.cat([early.pop(), h], dim=1)
        return self.squeeze.inverse(h).squeeze(1)

    @torch.no_grad()
    def infer(self, mel: torch.Tensor, sigma: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Synthesis: :math:`\mathbf{x} = f^{-1}(\sigma \boldsymbol\epsilon; c)`,
        :math:`\boldsymbol\epsilon \sim \mathcal N(0, I)`.

        ``sigma`` < 1 (WaveGlow uses 0.6) trades variety for fewer artefacts; ``generator`` draws
        :math:`\boldsymbol\epsilon` (on the mel's device). Returns ``(batch, (frames - 1) * hop_length)``.
        """
        return _infer(self, mel, sigma, generator)


def waveglow_published(**changes) -> WaveGlow:
    """WaveGlow as published: 80 mels, 12 flows, groups of 8, 2 channels out every 4 flows, WN 8 x 256, hop 256.

    87,879,272 parameters with weight norm, 87,731,816 without (NVIDIA's ``config.json``).
    Building it allocates 350 MB; under ``with torch.device("meta"):`` it allocates nothing.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = waveglow_published()
    >>> sum(p.numel() for p in model.parameters())
    87879272
    """
    settings = dict(n_mels=80, n_flows=12, n_group=8, n_early_every=4, n_early_size=2, hop_length=256,
                    upsample_kernel=1024, layers=8, channels=256, kernel_size=3)
    return WaveGlow(**(settings | changes))


# --------------------------------------------------------------------------- FloWaveNet


def _swap_halves(h: torch.Tensor) -> torch.Tensor:
    """FloWaveNet's change of order: ``[a; b] -> [b; a]`` along channels (a permutation, log-det 0)."""
    a, b = h.chunk(2, dim=1)
    return torch.cat([b, a], dim=1)


def _unswap_halves(h: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`_swap_halves` (the same for an even channel count)."""
    half = h.shape[1] - h.shape[1] // 2
    return torch.cat([h[:, half:], h[:, :half]], dim=1)


class FloWaveNet(nn.Module):
    r"""FloWaveNet: context blocks of squeeze, then ActNorm, affine coupling and change of order (Kim et al., 2019).

    .. math::

        \text{block } b:\quad h \leftarrow \mathrm{squeeze}_2(h), \quad c \leftarrow \mathrm{squeeze}_2(c), \quad
        \text{then } n \text{ times: } h \leftarrow \mathrm{swap}\big(\mathrm{coupling}(\mathrm{ActNorm}(h); c_a)\big),
        \; c \leftarrow \mathrm{swap}(c)

    Each block halves the time axis and doubles the channels of the signal and of
    the upsampled mel (so after :math:`B` blocks one step holds :math:`2^B`
    samples: the deeper blocks see a longer context). Each flow is an
    :class:`~lessons_lib.models.flows.ActNorm` and an
    :class:`~lessons_lib.models.flows.AffineCoupling` whose network
    (:class:`CouplingWaveNet`, non-causal) reads the first half of the channels and
    the first half :math:`c_a` of the squeezed mel; the change of order then swaps
    the halves of both, so that the next coupling transforms the other half. The
    mel reaches the sample rate through
    :class:`~lessons_lib.models.wavenet.ConditioningUpsampler` (transposed
    convolutions with kernel :math:`2s`, 3 bands wide, as ksw0306's code).

    Parameters
    ----------
    n_mels : int, default 80
    n_blocks : int, default 8
    n_flows : int, default 6
        Flows per block.
    layers, channels, kernel_size : int, default 2, 256, 3
        Each :class:`CouplingWaveNet`.
    hop_length : int, default 256
    upsample_scales : sequence of int, optional
        Default ``(16, 16)`` for hop 256, else one stage of ``hop_length``; multiply to it.
    log_scale_bound : float, optional
        As :class:`WaveGlow`'s (None: unbounded, as the paper).

    Shapes
    ------
    As :class:`WaveGlow`: ``forward(x, mel) -> (z, log_det)``, ``inverse(z, mel)``,
    ``infer(mel, sigma, generator)``; ``T`` must be a multiple of ``2 ** n_blocks`` and of
    ``hop_length``.

    Examples
    --------
    >>> model = FloWaveNet(n_mels=4, n_blocks=2, n_flows=2, layers=1, channels=8, hop_length=4).double()
    >>> x, mel = torch.randn(3, 16, dtype=torch.float64), torch.randn(3, 4, 5, dtype=torch.float64)
    >>> z, log_det = model(x, mel)
    >>> torch.allclose(model.inverse(z, mel), x, atol=1e-12), tuple(log_det.shape)
    (True, (3,))
    """

    def __init__(self, n_mels: int = 80, n_blocks: int = 8, n_flows: int = 6, *, layers: int = 2,
                 channels: int = 256, kernel_size: int = 3, hop_length: int = 256, upsample_scales=None,
                 log_scale_bound: float | None = None):
        super().__init__()
        self.n_mels = positive_int(n_mels, "n_mels")
        self.n_blocks = positive_int(n_blocks, "n_blocks")
        self.n_flows = positive_int(n_flows, "n_flows")
        self.hop_length = positive_int(hop_length, "hop_length")
        if upsample_scales is None:
            upsample_scales = (16, 16) if self.hop_length == 256 else (self.hop_length,)
        scales = tuple(upsample_scales)
        self.upsample = ConditioningUpsampler(self.hop_length, "transposed", scales,
                                              kernel_sizes=tuple(2 * s for s in scales), freq_axis_kernel_size=3)
        self.squeeze_factor = 2 ** self.n_blocks
        self.divisor = math.lcm(self.squeeze_factor, self.hop_length)
        self.squeeze = Squeeze1d(2)
        self.actnorm = nn.ModuleList()
        self.coupling = nn.ModuleList()
        for b in range(self.n_blocks):
            c, cond = 2 ** (b + 1), self.n_mels * 2 ** b  # signal channels; half the squeezed mel
            for _ in range(self.n_flows):
                self.actnorm.append(ActNorm(c))
                self.coupling.append(AffineCoupling(
                    c, channels, cond,
                    network=CouplingWaveNet(c // 2, cond, c - c // 2, layers=layers, channels=channels,
                                            kernel_size=kernel_size),
                    log_scale_bound=log_scale_bound))

    def _mel_at_rate(self, mel: torch.Tensor, T: int) -> torch.Tensor:
        return self.upsample(mel)[..., :T]

    def _squeezed(self, h: torch.Tensor) -> torch.Tensor:
        return self.squeeze(h)[0]

    def forward(self, x: torch.Tensor, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x, T = _audio_and_mel(self, x, mel)
        c = self._mel_at_rate(mel, T)
        h = x.unsqueeze(1)
        log_det = x.new_zeros(x.shape[0])
        k = 0
        for _ in range(self.n_blocks):
            h, c = self._squeezed(h), self._squeezed(c)
            for _ in range(self.n_flows):
                h, ld_a = self.actnorm[k](h)
                h, ld_s = self.coupling[k](h, c[:, :c.shape[1] // 2])
                h, c = _swap_halves(h), _swap_halves(c)
                log_det = log_det + ld_a + ld_s
                k += 1
        for _ in range(self.n_blocks):
            h = self.squeeze.inverse(h)
        return h.squeeze(1), log_det

    def inverse(self, z: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
        z, T = _audio_and_mel(self, z, mel, "z")
        c = self._mel_at_rate(mel, T)
        h = z.unsqueeze(1)
        ends = []  # the mel as each block leaves it: squeezed, then swapped once per flow
        for _ in range(self.n_blocks):
            h, c = self._squeezed(h), self._squeezed(c)
            c = c if self.n_flows % 2 == 0 else _swap_halves(c)
            ends.append(c)
        k = len(self.coupling)
        for b in reversed(range(self.n_blocks)):
            c = ends[b]
            for _ in range(self.n_flows):
                k -= 1
                h, c = _unswap_halves(h), _unswap_halves(c)
                h = self.coupling[k].inverse(h, c[:, :c.shape[1] // 2])
                h = self.actnorm[k].inverse(h)
            h = self.squeeze.inverse(h)
        return h.squeeze(1)

    @torch.no_grad()
    def infer(self, mel: torch.Tensor, sigma: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
        r"""Synthesis :math:`\mathbf{x} = f^{-1}(\sigma \boldsymbol\epsilon; c)`, as :meth:`WaveGlow.infer`."""
        return _infer(self, mel, sigma, generator)


def flowavenet_published(**changes) -> FloWaveNet:
    """FloWaveNet as published: 80 mels, 8 context blocks of 6 flows, coupling WaveNets of 2 layers x 256, hop 256.

    180,954,782 parameters: every weight and bias of ksw0306's model, whose 181,129,876 also count
    175,094 weight-norm gains and ``ZeroConv1d`` scales that this version leaves out.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     model = flowavenet_published()
    >>> len(model.coupling), sum(p.numel() for p in model.parameters())
    (48, 180954782)
    """
    settings = dict(n_mels=80, n_blocks=8, n_flows=6, layers=2, channels=256, kernel_size=3, hop_length=256)
    return FloWaveNet(**(settings | changes))


# --------------------------------------------------------------------------- training loss and memory


def flow_nll(z: torch.Tensor, log_det: torch.Tensor, sigma: float = 1.0) -> torch.Tensor:
    r"""Negative log-likelihood per sample, in nats, of a flow with prior :math:`\mathcal N(0, \sigma^2 I)`.

    .. math:: \mathrm{NLL} = \frac{1}{B T} \sum_{b} \Big( \sum_t \Big[\frac{z_{bt}^2}{2\sigma^2}
              + \tfrac12 \log (2\pi\sigma^2)\Big] - \log\left|\det J_b\right| \Big)

    The exact :math:`-\log p(\mathbf{x} \mid c)` of a continuous density, averaged over
    the batch and the :math:`T` samples: it depends on the scale of the audio (scaling
    the waveform by :math:`a` adds :math:`\log a` per sample) and can be negative.
    WaveGlow trains with :math:`\sigma = 1` (NVIDIA drops the constant term).

    Parameters
    ----------
    z : Tensor, shape (batch, T)
    log_det : Tensor, shape (batch,)
    sigma : float, default 1.0

    Returns
    -------
    Tensor, scalar

    Raises
    ------
    ValueError
        Mismatched shapes, ``sigma <= 0``, or a ``log_det`` (or ``z``) that is NaN or
        infinite: a flow that diverged stops here with a clear error instead of
        training on NaN.

    Examples
    --------
    The identity flow on standard normal samples costs the entropy of a Gaussian,
    :math:`\tfrac12 \log(2\pi e) \approx 1.419` nats:

    >>> z = torch.randn(4, 100000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> round(flow_nll(z, torch.zeros(4, dtype=torch.float64)).item(), 2)
    1.42
    """
    sigma = _sigma(sigma)
    z = _check_tensor(z, "z", "(batch, T)")
    if not isinstance(log_det, torch.Tensor) or tuple(log_det.shape) != (z.shape[0],):
        got = tuple(log_det.shape) if isinstance(log_det, torch.Tensor) else type(log_det).__name__
        raise ValueError(f"log_det must be a tensor of shape (batch,) = ({z.shape[0]},), got {got}")
    if not bool(torch.isfinite(log_det).all()) or not bool(torch.isfinite(z).all()):
        raise ValueError("the flow produced a NaN or infinite log-determinant or z: training diverged "
                         "(lower the learning rate, clip gradients, or check the input's scale)")
    T = z.shape[1]
    prior = 0.5 * z.pow(2).sum(1) / sigma ** 2 + 0.5 * T * math.log(2 * math.pi * sigma ** 2)
    return ((prior - log_det) / T).mean()


def saved_activation_bytes(model: nn.Module, *inputs: torch.Tensor) -> int:
    """Bytes of the tensors a forward pass saves for the backward pass: the activation memory of training.

    Runs ``model(*inputs)`` with gradients on, under
    ``torch.autograd.graph.saved_tensors_hooks``, and adds up the bytes of every
    distinct tensor autograd saves, each once, the model's parameters left out
    (they are held anyway; weights computed from them, such as weight norm's, count).
    On the ``meta`` device it computes nothing and allocates nothing, so a network can be
    measured at the published size on any machine: the coupling networks (:class:`WN`,
    :class:`CouplingWaveNet`) run there; the assembled vocoders do not, because the
    flow layers check their values (an invertible weight, ActNorm's initialisation).

    Returns
    -------
    int

    Examples
    --------
    A linear layer saves its input for the gradient of its weight:

    >>> layer = nn.Linear(1000, 10, bias=False)
    >>> saved_activation_bytes(layer, torch.zeros(8, 1000))
    32000
    """
    parameters = {id(p) for p in model.parameters()}
    kept, total = {}, 0

    def pack(t: torch.Tensor):
        nonlocal total
        if id(t) not in parameters and id(t) not in kept:
            kept[id(t)] = t  # held, so that its id is not reused by another tensor
            total += t.numel() * t.element_size()
        return t

    with torch.enable_grad(), torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(*inputs)
    return total

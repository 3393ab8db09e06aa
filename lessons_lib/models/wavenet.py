r"""WaveNet: an autoregressive model of raw audio, its conditioning, and fast generation.

WaveNet (van den Oord et al., 2016) writes the probability of a waveform of
μ-law classes :math:`x_1, \ldots, x_T` with the chain rule,

.. math:: p(x \mid h) = \prod_{t=1}^{T} p(x_t \mid x_1, \ldots, x_{t-1}, h),

and computes every factor at once with a stack of dilated causal convolutions
(:class:`~lessons_lib.models.layers.CausalConv1d`, inside
:class:`~lessons_lib.models.layers.GatedResidualUnit`): the output at step
:math:`t` is a softmax over the classes of the *next* sample :math:`x_{t+1}`
and sees the inputs :math:`x_{t-r+1}, \ldots, x_t` only, :math:`r` the
receptive field. :math:`h` is optional conditioning: a global vector (a
speaker) and a local sequence (log-mel frames, upsampled to the sample rate:
the WaveNet vocoder).

==============================  =====================================================================
piece                           what it is
==============================  =====================================================================
:class:`ConditioningUpsampler`  frames to samples: transposed convolutions, nearest-neighbour
                                repetition + convolution, or linear interpolation
:class:`WaveNet`                the network: input 1x1 convolution, gated residual units with
                                doubling dilations in cycles, skip sum, ReLU-1x1-ReLU-1x1 head
:class:`IncrementalWaveNet`     one sample at a time with a queue of past activations per layer
                                ("Fast WaveNet", Paine et al., 2016)
:func:`generate`                ancestral sampling with :class:`IncrementalWaveNet`
:func:`generate_naive`          the same samples, recomputing the whole receptive field every step
:func:`discretized_mixture_nll`  the output option of PixelCNN++: a mixture of logistics over the levels
:func:`sample_discretized_mixture`  drawing from it
:func:`from_wavenet_vocoder`    r9y9's ``wavenet_vocoder.WaveNet`` (0.1.1) as a :class:`WaveNet`
==============================  =====================================================================

Shapes. Samples are μ-law class indices ``(batch, time)``, int64 in
``0 .. classes-1`` (:func:`lessons_lib.sampling.mu_law_encode` makes them);
everything inside is ``(batch, channels, time)``; logits come out as
``(batch, classes, time)``, the layout ``torch.nn.functional.cross_entropy``
takes, so the training loss is ``cross_entropy(logits[..., :-1], q[:, 1:])``.
Local conditioning is ``(batch, cond_channels, frames)`` (a log-mel
spectrogram, time last, as :class:`~lessons_lib.models.frontend.LogMel` returns
it), and ``frames * hop_length`` must equal the number of samples.

Relation to the reference (r9y9's ``wavenet_vocoder``). Submodules carry its
names (``first_conv``, ``conv_layers``, ``last_conv_layers``,
``embed_speakers``, ``upsample_conv``), so its state dict loads after
:func:`~lessons_lib.models.layers.fold_weight_norm` (what
:func:`from_wavenet_vocoder` does, tested equal). Its ``legacy=True`` rescales
the running skip sum by :math:`\sqrt{0.5}` after every unit; ``legacy_skips``
does the same; by default the skips are summed, as in the paper. Not here:
its ``scalar_input`` mode (the sample value itself as the input); the
discretised mixture of logistics it pairs with is here as an output option
(``n_mixtures``), with class indices as the input.

Chapter: ``notebooks/07b_wavenet.ipynb`` (WaveNet, fast generation) and
``notebooks/07c_wavenet_vocoder.ipynb`` (the conditioning upsamplers).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int
from .layers import GatedResidualUnit, _check_tensor, receptive_field

__all__ = [
    "ConditioningUpsampler",
    "WaveNet",
    "IncrementalWaveNet",
    "generate",
    "generate_naive",
    "discretized_mixture_nll",
    "sample_discretized_mixture",
    "from_wavenet_vocoder",
]

UPSAMPLERS = ("transposed", "nearest", "linear")


# --------------------------------------------------------------------------- upsampling the conditioning


class _TrimmedConvTranspose2d(nn.ConvTranspose2d):
    """A transposed convolution along time whose output keeps exactly ``stride`` samples per input frame.

    Output length :math:`(F-1)s + k` is cut to :math:`F s`, dropping
    :math:`\\lfloor (k-s)/2 \\rfloor` samples on the left and the rest on the right.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = super().forward(x)
        stride, kernel = self.stride[1], self.kernel_size[1]
        start = (kernel - stride) // 2
        return y[..., start:start + x.shape[-1] * stride]


class _Repeat(nn.Module):
    """Each frame repeated ``scale`` times along the last axis (nearest-neighbour upsampling)."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def extra_repr(self) -> str:
        return f"scale={self.scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(self.scale, dim=-1)


class _LinearInterpolation(nn.Module):
    """Linear interpolation by ``scale`` along the last axis (``F.interpolate``, ``align_corners=False``)."""

    def __init__(self, scale: int):
        super().__init__()
        self.scale = scale

    def extra_repr(self) -> str:
        return f"scale={self.scale}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, one, bands, frames = x.shape
        y = F.interpolate(x.reshape(batch, bands, frames), size=frames * self.scale, mode="linear",
                          align_corners=False)
        return y.reshape(batch, one, bands, frames * self.scale)


def _int_list(values, name: str, n: int | None = None) -> list[int]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of positive ints, got {type(values).__name__}")
    out = [positive_int(v, f"{name}[{i}]") for i, v in enumerate(values)]
    if not out:
        raise ValueError(f"{name} must not be empty")
    if n is not None and len(out) != n:
        raise ValueError(f"{name} must have one entry per upsampling stage ({n}), got {len(out)}")
    return out


class ConditioningUpsampler(nn.Sequential):
    r"""Local conditioning from frames to samples: each frame becomes ``hop_length`` steps.

    Three choices, the experiment of the vocoder chapter:

    ``"transposed"``
        A transposed convolution per stage, stride :math:`s_i` along time,
        kernel :math:`(f, k_i)` over (bands, time) on the spectrogram seen as a
        one-channel image (r9y9's design): output sample :math:`n` of a stage is
        :math:`b + \sum_{j} w_{n - j s}\, c_j` (one frequency tap shown). With
        :math:`k_i = s_i` every output sample receives exactly one kernel tap;
        when :math:`k_i` is not a multiple of :math:`s_i`, neighbouring samples
        receive different numbers of taps: the checkerboard pattern (Odena et
        al., 2016). The output keeps :math:`F s_i` samples of
        :math:`(F-1)s_i + k_i`. Initialised to :math:`1/(f\,\lceil k_i/s_i\rceil)`
        (with :math:`k_i = s_i`, :math:`f = 1`: plain repetition).
    ``"nearest"``
        Per stage, each frame repeated :math:`s_i` times, then a "same"
        convolution with an odd kernel :math:`(f, k_i)`, initialised to a moving
        average (Odena et al.'s resize-convolution).
    ``"linear"``
        Linear interpolation by the hop (``F.interpolate``, ``align_corners=False``:
        frame :math:`j` sits at the centre of its block of samples); no weights.

    The stages' strides multiply to the hop, :math:`\prod_i s_i = \text{hop}`.
    Upsampling adds no information: every output is a fixed (or learned)
    function of the frames; it only puts one conditioning vector beside each
    sample.

    Parameters
    ----------
    hop_length : int
        Samples per frame.
    mode : {"transposed", "nearest", "linear"}, default "transposed"
    scales : sequence of int, optional
        Upsampling factor :math:`s_i` of each stage (default: one stage,
        ``(hop_length,)``); their product must equal ``hop_length``. ``"linear"``
        always interpolates in one stage.
    kernel_sizes : sequence of int, optional
        Time taps :math:`k_i` of each stage: for ``"transposed"`` at least
        :math:`s_i` (default :math:`s_i`), for ``"nearest"`` odd (default
        :math:`2 s_i + 1`); ``"linear"`` takes none.
    freq_axis_kernel_size : int, default 1
        Odd :math:`f`: taps across neighbouring bands (r9y9 uses 3).
    relu : bool, default False
        A ReLU after every stage, as r9y9 (whose features lie in [0, 1]); log-mels
        are negative, so leave it off for them.

    Shapes
    ------
    ``forward(c)``: ``(batch, bands, frames)`` → ``(batch, bands, frames * hop_length)``.

    Raises
    ------
    TypeError, ValueError
        ``mode`` unknown; scales that do not multiply to ``hop_length``; a
        transposed kernel shorter than its stride, an even ``"nearest"`` or
        frequency kernel; in ``forward``, ``c`` not a 3-D float tensor.

    Examples
    --------
    Each frame becomes 4 samples; at initialisation a transposed convolution
    with kernel = stride repeats frames, linear interpolation ramps:

    >>> c = torch.tensor([[[0.0, 1.0]]])
    >>> ConditioningUpsampler(4, "transposed")(c).tolist()
    [[[0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]]]
    >>> ConditioningUpsampler(4, "linear")(c).tolist()
    [[[0.0, 0.0, 0.125, 0.375, 0.625, 0.875, 1.0, 1.0]]]
    >>> ConditioningUpsampler(4, "transposed", scales=(2, 3))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: scales (2, 3) multiply to 6, but hop_length is 4: ...
    """

    def __init__(self, hop_length: int, mode: str = "transposed", scales: Sequence[int] | None = None, *,
                 kernel_sizes: Sequence[int] | None = None, freq_axis_kernel_size: int = 1, relu: bool = False):
        hop = positive_int(hop_length, "hop_length")
        if not isinstance(mode, str) or mode not in UPSAMPLERS:
            raise ValueError(f"mode must be one of {UPSAMPLERS}, got {mode!r}")
        scales = [hop] if scales is None else _int_list(scales, "scales")
        if math.prod(scales) != hop:
            raise ValueError(f"scales {tuple(scales)} multiply to {math.prod(scales)}, but hop_length is {hop}: "
                             "the upsampler must turn one frame into hop_length samples")
        f = positive_int(freq_axis_kernel_size, "freq_axis_kernel_size", "a positive odd int")
        if f % 2 == 0:
            raise ValueError(f"freq_axis_kernel_size must be odd (centred on each band), got {f}")
        if not isinstance(relu, bool):
            raise TypeError(f"relu must be a bool, got {type(relu).__name__}")
        if mode == "linear":
            if kernel_sizes is not None:
                raise ValueError("kernel_sizes must be None for mode='linear' (it has no weights)")
            stages = [_LinearInterpolation(hop)] + ([nn.ReLU()] if relu else [])
        else:
            default = scales if mode == "transposed" else [2 * s + 1 for s in scales]
            kernels = default if kernel_sizes is None else _int_list(kernel_sizes, "kernel_sizes", len(scales))
            stages = []
            for i, (s, k) in enumerate(zip(scales, kernels)):
                stages += self._stage(mode, s, k, f, i) + ([nn.ReLU()] if relu else [])
        super().__init__(*stages)
        self.hop_length, self.mode, self.scales = hop, mode, tuple(scales)

    @staticmethod
    def _stage(mode: str, s: int, k: int, f: int, i: int) -> list[nn.Module]:
        if mode == "transposed":
            if k < s:
                raise ValueError(f"kernel_sizes[{i}] must be >= scales[{i}] = {s} (a shorter kernel leaves "
                                 f"samples that no frame reaches), got {k}")
            conv = _TrimmedConvTranspose2d(1, 1, (f, k), stride=(1, s), padding=((f - 1) // 2, 0))
            with torch.no_grad():
                conv.weight.fill_(1.0 / (f * math.ceil(k / s)))
                conv.bias.zero_()
            return [conv]
        if k % 2 == 0:
            raise ValueError(f"kernel_sizes[{i}] must be odd for mode='nearest' (a centred convolution), got {k}")
        conv = nn.Conv2d(1, 1, (f, k), padding=((f - 1) // 2, (k - 1) // 2))
        with torch.no_grad():
            conv.weight.fill_(1.0 / (f * k))
            conv.bias.zero_()
        return [_Repeat(s), conv]

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        c = _check_tensor(c, "c", "(batch, bands, frames)")
        return super().forward(c.unsqueeze(1)).squeeze(1)


# --------------------------------------------------------------------------- the network


class WaveNet(nn.Module):
    r"""WaveNet: logits of the next μ-law sample at every step, from causal dilated gated convolutions.

    .. math::

        h^{(0)} &= W_{in}\, \mathrm{onehot}(x) \\
        h^{(l)}, s^{(l)} &= \mathrm{unit}_l(h^{(l-1)}, c, g), \qquad l = 1, \ldots, L,
        \quad d_l = 2^{(l-1) \bmod (L / \text{stacks})} \\
        \text{logits} &= W_2\, \mathrm{ReLU}(W_1\, \mathrm{ReLU}(\textstyle\sum_l s^{(l)})),

    each unit a :class:`~lessons_lib.models.layers.GatedResidualUnit`
    (:math:`z = \tanh(\cdot) \odot \sigma(\cdot)`, residual and skip outputs)
    with dilation :math:`d_l`: the dilations double within a cycle and the
    cycle repeats ``stacks`` times (van den Oord et al., 2016, Sec. 2). The
    receptive field is :math:`r = 1 + (k-1)\sum_l d_l` samples
    (:func:`~lessons_lib.models.layers.receptive_field`; the input and output
    convolutions are 1x1). ``logits[..., t]`` is a function of
    ``q[:, t-r+1 : t+1]`` only, and predicts ``q[:, t+1]``.

    Parameters
    ----------
    classes : int, default 256
        μ-law levels (:math:`\mu + 1`).
    layers : int, default 20
    stacks : int, default 2
        Dilation cycles; must divide ``layers``.
    residual_channels, gate_channels, skip_channels : int, default 64, 128, 64
    kernel_size : int, default 2
        The paper's 2; r9y9's vocoder 3.
    dropout : float, default 0.0
        Before each dilated convolution, training mode only.
    cond_channels : int, optional
        Bands of the local conditioning (e.g. 40 mels); None: none.
    hop_length : int, optional
        Samples per conditioning frame; required with ``cond_channels`` unless
        ``upsampler`` is None.
    upsampler : {"transposed", "nearest", "linear"} or None, default "transposed"
        :class:`ConditioningUpsampler` mode; None: ``c`` is given at the sample rate.
    upsample_scales, upsample_kernel_sizes, freq_axis_kernel_size, upsample_relu
        :class:`ConditioningUpsampler`'s ``scales``, ``kernel_sizes``,
        ``freq_axis_kernel_size``, ``relu``.
    global_cond_channels : int, optional
        Size of the global conditioning vector; None: none.
    n_speakers : int, optional
        With ``global_cond_channels``: learn an embedding per speaker
        (``embed_speakers``) and take speaker indices as ``g``.
    legacy_skips : bool, default False
        Rescale the running skip sum by :math:`\sqrt{0.5}` after each unit (r9y9's ``legacy=True``).
    n_mixtures : int, optional
        Output a discretised mixture of ``n_mixtures`` logistics over the
        ``classes`` levels of :math:`[-1, 1]` (``3 n_mixtures`` channels: mixture
        logits, means, log scales; :func:`discretized_mixture_nll`,
        :func:`sample_discretized_mixture`) instead of a softmax over them.

    Attributes
    ----------
    dilations : list of int
    receptive_field : int
        :math:`r` in samples.
    out_channels : int
        ``classes``, or ``3 * n_mixtures``.
    hop_length : int or None

    Shapes
    ------
    ``forward(q, c=None, g=None)``: ``q`` ``(batch, T)`` int64 class indices
    (or a float one-hot ``(batch, classes, T)``, which lets gradients reach the
    input); ``c`` ``(batch, cond_channels, T / hop_length)`` (or ``(batch,
    cond_channels, T)`` with ``upsampler=None``); ``g`` ``(batch,)`` int64
    speaker indices (with ``n_speakers``) or ``(batch, global_cond_channels)``
    floats → logits ``(batch, classes, T)`` (with ``n_mixtures``, mixture
    parameters ``(batch, 3 * n_mixtures, T)``).

    Raises
    ------
    TypeError, ValueError
        Sizes not positive ints, ``stacks`` not dividing ``layers``,
        conditioning options that do not fit together (see
        :class:`ConditioningUpsampler`); in ``forward``, class indices out of
        range, a ``c`` with the wrong number of bands or frames that do not
        cover ``T`` samples, conditioning missing or unexpected.

    Examples
    --------
    >>> model = WaveNet(layers=6, stacks=2, residual_channels=8, gate_channels=16, skip_channels=8)
    >>> model.dilations, model.receptive_field
    ([1, 2, 4, 1, 2, 4], 15)
    >>> q = torch.randint(0, 256, (2, 100), generator=torch.Generator().manual_seed(0))
    >>> tuple(model(q).shape)
    (2, 256, 100)

    A vocoder: 40 mels, 128 samples per frame:

    >>> vocoder = WaveNet(layers=4, stacks=1, residual_channels=8, gate_channels=16, skip_channels=8,
    ...                   cond_channels=40, hop_length=128, upsample_scales=(4, 4, 8))
    >>> tuple(vocoder(torch.zeros(1, 256, dtype=torch.long), c=torch.zeros(1, 40, 2)).shape)
    (1, 256, 256)
    """

    def __init__(self, classes: int = 256, layers: int = 20, stacks: int = 2, residual_channels: int = 64,
                 gate_channels: int = 128, skip_channels: int = 64, kernel_size: int = 2, *,
                 dropout: float = 0.0, cond_channels: int | None = None, hop_length: int | None = None,
                 upsampler: str | None = "transposed", upsample_scales: Sequence[int] | None = None,
                 upsample_kernel_sizes: Sequence[int] | None = None, freq_axis_kernel_size: int = 1,
                 upsample_relu: bool = False, global_cond_channels: int | None = None,
                 n_speakers: int | None = None, legacy_skips: bool = False, n_mixtures: int | None = None):
        super().__init__()
        self.classes = positive_int(classes, "classes", "a positive int (at least 2)")
        if self.classes < 2:
            raise ValueError(f"classes must be at least 2, got {classes}")
        self.n_mixtures = None if n_mixtures is None else \
            positive_int(n_mixtures, "n_mixtures", "a positive int or None")
        self.out_channels = self.classes if self.n_mixtures is None else 3 * self.n_mixtures
        n_layers, stacks = positive_int(layers, "layers"), positive_int(stacks, "stacks")
        if n_layers % stacks:
            raise ValueError(f"stacks must divide layers (equal dilation cycles), got layers={layers}, "
                             f"stacks={stacks}")
        skip_channels = positive_int(skip_channels, "skip_channels")
        self.kernel_size = positive_int(kernel_size, "kernel_size")
        if not isinstance(legacy_skips, bool):
            raise TypeError(f"legacy_skips must be a bool, got {type(legacy_skips).__name__}")
        self.legacy_skips = legacy_skips
        per_cycle = n_layers // stacks
        self.dilations = [2 ** (i % per_cycle) for i in range(n_layers)]
        self.receptive_field = receptive_field(self.kernel_size, self.dilations)

        self.cond_channels, self.hop_length, self.upsample_conv = self._local_conditioning(
            cond_channels, hop_length, upsampler, upsample_scales, upsample_kernel_sizes,
            freq_axis_kernel_size, upsample_relu)
        self.global_cond_channels = None if global_cond_channels is None else \
            positive_int(global_cond_channels, "global_cond_channels", "a positive int or None")
        self.embed_speakers = None
        if n_speakers is not None:
            if self.global_cond_channels is None:
                raise ValueError("n_speakers needs global_cond_channels (the size of each speaker's embedding)")
            self.embed_speakers = nn.Embedding(positive_int(n_speakers, "n_speakers"), self.global_cond_channels)

        self.first_conv = nn.Conv1d(self.classes, residual_channels, 1)
        self.conv_layers = nn.ModuleList(
            GatedResidualUnit(residual_channels, gate_channels, self.kernel_size, d, skip_channels=skip_channels,
                              cond_channels=self.cond_channels, global_cond_channels=self.global_cond_channels,
                              dropout=dropout)
            for d in self.dilations)
        self.last_conv_layers = nn.Sequential(nn.ReLU(), nn.Conv1d(skip_channels, skip_channels, 1),
                                              nn.ReLU(), nn.Conv1d(skip_channels, self.out_channels, 1))

    @staticmethod
    def _local_conditioning(cond_channels, hop_length, upsampler, scales, kernel_sizes, freq_kernel, relu):
        if cond_channels is None:
            if hop_length is not None or scales is not None or kernel_sizes is not None:
                raise ValueError("hop_length, upsample_scales and upsample_kernel_sizes need cond_channels "
                                 "(local conditioning)")
            return None, None, None
        cond_channels = positive_int(cond_channels, "cond_channels", "a positive int or None")
        if upsampler is None:
            if hop_length not in (None, 1):
                raise ValueError(f"hop_length={hop_length} needs an upsampler (upsampler=None takes c at the "
                                 "sample rate)")
            return cond_channels, 1, None
        if hop_length is None:
            raise ValueError("hop_length (samples per conditioning frame) is required with cond_channels "
                             "and an upsampler")
        module = ConditioningUpsampler(hop_length, upsampler, scales, kernel_sizes=kernel_sizes,
                                       freq_axis_kernel_size=freq_kernel, relu=relu)
        return cond_channels, module.hop_length, module

    # -- inputs

    def _one_hot_input(self, q) -> tuple[torch.Tensor, int, int]:
        """``first_conv`` applied to ``q``: (batch, residual_channels, T), with batch and T."""
        if not isinstance(q, torch.Tensor):
            raise TypeError(f"q must be a torch.Tensor of class indices (batch, T), got {type(q).__name__}")
        if q.is_floating_point():
            _check_tensor(q, "q", "(batch, classes, T)", self.classes)
            return self.first_conv(q), q.shape[0], q.shape[-1]
        x = self._indices(q, "q")
        table = self.first_conv.weight[:, :, 0].T + self.first_conv.bias  # (classes, R): W e_q + b
        return F.embedding(x, table).transpose(1, 2), x.shape[0], x.shape[1]

    def _indices(self, q: torch.Tensor, name: str, ndim: int = 2) -> torch.Tensor:
        if q.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
            raise TypeError(f"{name} must hold integer class indices (int64), got dtype {q.dtype}")
        if q.ndim != ndim:
            raise ValueError(f"{name} must be {ndim}-D, shape {'(batch, T)' if ndim == 2 else '(batch,)'}, "
                             f"got shape {tuple(q.shape)}")
        if q.numel() and (int(q.min()) < 0 or int(q.max()) >= self.classes):
            raise ValueError(f"{name} must hold class indices in 0..{self.classes - 1}, got values in "
                             f"{int(q.min())}..{int(q.max())}")
        return q.long()

    def conditioning(self, c: torch.Tensor | None, g: torch.Tensor | None, batch: int,
                     T: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        r"""Checked conditioning: ``c`` upsampled to ``(batch, cond_channels, T)``, ``g`` as a vector per item.

        ``g`` comes back as ``(batch, global_cond_channels)`` (speaker indices embedded).

        Parameters
        ----------
        c, g : Tensor or None
            As in ``forward``.
        batch, T : int
            The batch size and number of samples they must cover.

        Returns
        -------
        c_up, g_vector : Tensor or None

        Raises
        ------
        TypeError, ValueError
            As ``forward``.

        Examples
        --------
        >>> model = WaveNet(layers=2, stacks=1, residual_channels=4, gate_channels=8, skip_channels=4,
        ...                 cond_channels=3, hop_length=5)
        >>> c_up, g = model.conditioning(torch.zeros(2, 3, 4), None, batch=2, T=20)
        >>> tuple(c_up.shape), g
        ((2, 3, 20), None)
        """
        return self._local(c, batch, T), self._global(g, batch)

    def _local(self, c, batch: int, T: int) -> torch.Tensor | None:
        if self.cond_channels is None:
            if c is not None:
                raise ValueError("c was given but this WaveNet has no local conditioning (cond_channels=None)")
            return None
        if c is None:
            raise ValueError(f"c is required: this WaveNet was built with cond_channels={self.cond_channels}, "
                             f"c of shape (batch, {self.cond_channels}, frames)")
        _check_tensor(c, "c", "(batch, cond_channels, frames)")
        if c.shape[1] != self.cond_channels:
            raise ValueError(f"c must have cond_channels={self.cond_channels} bands on axis 1 (batch, bands, "
                             f"frames), got shape {tuple(c.shape)}")
        if c.shape[0] != batch:
            raise ValueError(f"c has batch {c.shape[0]}, but the samples have batch {batch}")
        if c.shape[-1] * self.hop_length != T:
            raise ValueError(f"c has {c.shape[-1]} frames x hop_length {self.hop_length} = "
                             f"{c.shape[-1] * self.hop_length} samples, but there are {T} samples: give "
                             f"T / hop_length frames (trim the audio to a multiple of the hop)")
        return c if self.upsample_conv is None else self.upsample_conv(c)

    def _global(self, g, batch: int) -> torch.Tensor | None:
        if self.global_cond_channels is None:
            if g is not None:
                raise ValueError("g was given but this WaveNet has no global conditioning "
                                 "(global_cond_channels=None)")
            return None
        if g is None:
            raise ValueError("g is required: this WaveNet was built with global_cond_channels="
                             f"{self.global_cond_channels}")
        if not isinstance(g, torch.Tensor):
            raise TypeError(f"g must be a torch.Tensor, got {type(g).__name__}")
        if self.embed_speakers is not None:
            if g.is_floating_point():
                raise TypeError(f"g must hold speaker indices (int64, shape (batch,)) for this WaveNet "
                                f"(n_speakers={self.embed_speakers.num_embeddings}), got dtype {g.dtype}")
            if g.ndim != 1 or g.shape[0] != batch:
                raise ValueError(f"g must have shape (batch,) = ({batch},), got {tuple(g.shape)}")
            if int(g.min()) < 0 or int(g.max()) >= self.embed_speakers.num_embeddings:
                raise ValueError(f"g must hold speaker indices in 0..{self.embed_speakers.num_embeddings - 1}, "
                                 f"got values in {int(g.min())}..{int(g.max())}")
            return self.embed_speakers(g.long())
        _check_tensor(g, "g", "(batch, global_cond_channels)", self.global_cond_channels)
        if g.shape[0] != batch:
            raise ValueError(f"g has batch {g.shape[0]}, but the samples have batch {batch}")
        return g

    # -- the network

    def _logits(self, x: torch.Tensor, c_up: torch.Tensor | None, g: torch.Tensor | None) -> torch.Tensor:
        """The residual stack and the head on ``x = first_conv(q)``, conditioning already checked."""
        skips = None
        for unit in self.conv_layers:
            x, s = unit(x, c_up, g)
            if skips is None:
                skips = s
            else:
                skips = skips + s
                if self.legacy_skips:
                    skips = skips * math.sqrt(0.5)
        return self.last_conv_layers(skips)

    def forward(self, q: torch.Tensor, c: torch.Tensor | None = None,
                g: torch.Tensor | None = None) -> torch.Tensor:
        x, batch, T = self._one_hot_input(q)
        c_up, g = self.conditioning(c, g, batch, T)
        return self._logits(x, c_up, g)


# --------------------------------------------------------------------------- a discretised mixture of logistics


def _mixture_parts(params, log_scale_min: float):
    """(logit_pi, mu, log_s), each ``(batch, M, T)``, from ``params`` ``(batch, 3M, T)``."""
    _check_tensor(params, "params", "(batch, 3 * n_mixtures, T)")
    if params.shape[1] % 3:
        raise ValueError(f"params must have 3 * n_mixtures channels (logits, means, log scales), "
                         f"got shape {tuple(params.shape)}")
    M = params.shape[1] // 3
    return params[:, :M], params[:, M:2 * M], params[:, 2 * M:].clamp(min=float(log_scale_min))


def discretized_mixture_nll(params: torch.Tensor, q: torch.Tensor, classes: int = 256,
                            log_scale_min: float = -7.0) -> torch.Tensor:
    r"""Negative log-likelihood (nats) of class indices under a discretised mixture of logistics.

    The :math:`K` classes stand for the levels :math:`x_k = 2k/(K-1) - 1` of
    :math:`[-1, 1]`, each the bin :math:`[x_k - \delta, x_k + \delta]`,
    :math:`\delta = 1/(K-1)`, the two outer bins stretched to :math:`\mp\infty`:

    .. math:: P(k) = \sum_{m=1}^{M} \pi_m \left[\sigma\!\left(\frac{x_k + \delta - \mu_m}{s_m}\right)
              - \sigma\!\left(\frac{x_k - \delta - \mu_m}{s_m}\right)\right],
              \qquad \pi = \mathrm{softmax}(\text{logits}),\ s_m = e^{\max(\log s_m,\ \text{log\_scale\_min})}

    (Salimans et al., 2017, PixelCNN++; the output of Parallel WaveNet and of
    r9y9's ``scalar_input`` vocoder). Three parameters per component replace
    :math:`K` logits, and neighbouring levels get similar probabilities by
    construction, which is what makes 16-bit output (:math:`K = 65536`)
    affordable. The levels are whatever the classes encode: amplitudes for
    linear PCM classes, companded amplitudes for μ-law classes. Computed in
    log space; where a bin's probability falls below :math:`10^{-5}`, the
    density at its centre times its width replaces the difference of two
    nearly equal sigmoids, as in PixelCNN++ (tested equal to r9y9's
    ``discretized_mix_logistic_loss``).

    Parameters
    ----------
    params : Tensor, shape (batch, 3 M, T)
        Mixture logits, means and log scales, in that order along axis 1
        (a :class:`WaveNet` built with ``n_mixtures=M`` outputs this).
    q : Tensor, shape (batch, T), int64
        Class indices ``0 .. classes-1``.
    classes : int, default 256
    log_scale_min : float, default -7.0

    Returns
    -------
    Tensor, shape (batch, T)
        :math:`-\log P(q)` at every step.

    Raises
    ------
    TypeError, ValueError
        ``params`` not 3-D float with a multiple of 3 channels; ``q`` not
        integer, of another shape, or out of range.

    Examples
    --------
    One sharp component centred on level 0.0 of 3 classes (-1, 0, 1) puts
    nearly all mass on class 1:

    >>> params = torch.tensor([[[0.0], [0.0], [-6.0]]])
    >>> discretized_mixture_nll(params, torch.tensor([[1]]), classes=3).item() < 1e-6
    True
    """
    logit_pi, mu, log_s = _mixture_parts(params, log_scale_min)
    K = positive_int(classes, "classes")
    if not isinstance(q, torch.Tensor) or q.is_floating_point() or q.shape != (params.shape[0], params.shape[2]):
        raise ValueError(f"q must be integer class indices of shape (batch, T) = "
                         f"{(params.shape[0], params.shape[2])}, got {getattr(q, 'shape', type(q).__name__)}")
    if q.numel() and (int(q.min()) < 0 or int(q.max()) >= K):
        raise ValueError(f"q must hold class indices in 0..{K - 1}")
    q = q.unsqueeze(1)
    x = 2.0 * q.to(params.dtype) / (K - 1) - 1.0
    centred, inv_s, half = x - mu, torch.exp(-log_s), 1.0 / (K - 1)
    plus, minus = inv_s * (centred + half), inv_s * (centred - half)
    cdf_delta = torch.sigmoid(plus) - torch.sigmoid(minus)
    mid = inv_s * centred
    log_pdf_mid = mid - log_s - 2.0 * F.softplus(mid)  # log density of the logistic at the bin's centre
    log_bin = torch.where(cdf_delta > 1e-5, torch.log(cdf_delta.clamp(min=1e-12)),
                          log_pdf_mid - math.log((K - 1) / 2))
    log_p = torch.where(q == 0, plus - F.softplus(plus),  # log sigma(plus): the lowest bin reaches -inf
                        torch.where(q == K - 1, -F.softplus(minus), log_bin))  # log(1 - sigma(minus))
    return -torch.logsumexp(log_p + F.log_softmax(logit_pi, dim=1), dim=1)


def sample_discretized_mixture(params: torch.Tensor, classes: int = 256, *,
                               generator: torch.Generator | None = None, log_scale_min: float = -7.0,
                               return_value: bool = False):
    r"""Draw from a discretised mixture of logistics: a component, a logistic value, its class.

    .. math:: m = \arg\max_j (\text{logit}_j - \log(-\log u_j)), \qquad
              x = \mathrm{clip}\Big(\mu_m + s_m \log\frac{v}{1 - v},\ -1,\ 1\Big), \qquad
              k = \mathrm{round}\Big(\frac{(x + 1)(K - 1)}{2}\Big),

    the component by the Gumbel-max trick and the value by inverting the
    logistic CDF, :math:`u_j, v \sim U(10^{-5}, 1 - 10^{-5})` from
    ``generator`` (drawn as r9y9's ``sample_from_discretized_mix_logistic``
    draws them: from the same seed, the same :math:`x`, tested).

    Parameters
    ----------
    params : Tensor, shape (batch, 3 M, T)
    classes : int, default 256
    generator : torch.Generator, optional
    log_scale_min : float, default -7.0
    return_value : bool, default False
        Also return :math:`x` before quantisation.

    Returns
    -------
    Tensor, shape (batch, T), int64
        :math:`k`; with ``return_value``, also :math:`x`, shape (batch, T).

    Examples
    --------
    >>> params = torch.tensor([[[0.0], [0.5], [-7.0]]])  # one sharp component at 0.5
    >>> sample_discretized_mixture(params, 5, generator=torch.Generator().manual_seed(0)).tolist()
    [[3]]
    """
    logit_pi, mu, log_s = _mixture_parts(params, log_scale_min)
    K = positive_int(classes, "classes")
    batch, M, T = logit_pi.shape
    u = torch.empty(batch, T, M, dtype=params.dtype, device=params.device).uniform_(1e-5, 1.0 - 1e-5,
                                                                                   generator=generator)
    component = (logit_pi.transpose(1, 2) - torch.log(-torch.log(u))).argmax(dim=-1, keepdim=True)  # (batch, T, 1)
    mean = mu.transpose(1, 2).gather(-1, component)[..., 0]
    log_scale = log_s.transpose(1, 2).gather(-1, component)[..., 0]
    v = torch.empty(batch, T, dtype=params.dtype, device=params.device).uniform_(1e-5, 1.0 - 1e-5,
                                                                               generator=generator)
    x = (mean + torch.exp(log_scale) * (torch.log(v) - torch.log1p(-v))).clamp(-1.0, 1.0)
    k = torch.round((x + 1.0) * (K - 1) / 2).long()
    return (k, x) if return_value else k


# --------------------------------------------------------------------------- fast generation


class IncrementalWaveNet:
    r"""A :class:`WaveNet` run one sample at a time, each layer keeping a queue of its past inputs.

    Step :math:`t` needs, in unit :math:`l`, the unit's inputs at
    :math:`t, t-d_l, \ldots, t-(k-1)d_l` only. Teacher-forced, these were
    computed at earlier steps; so each unit keeps its last :math:`(k-1) d_l`
    inputs in a circular buffer (a queue: the oldest entry is read, then
    overwritten by the newest) and one step costs :math:`O(L)` matrix-vector
    products instead of a forward pass over the receptive field (Paine et al.,
    2016, "Fast WaveNet Generation Algorithm"). Buffers start at zero, which is
    the left zero-padding of the causal convolutions, so every step equals the
    teacher-forced forward exactly (tested in float64), from the first sample on.

    The weights are read once, at construction: each dilated convolution
    becomes one ``(k * residual, gate)`` matrix on its stacked taps; the skip
    1x1 convolutions of all units one matrix on all units' :math:`z` (a sum of
    products is one product); the local conditioning is upsampled once and
    the 1x1 convolutions of all units applied to it per step as one matrix
    product; global conditioning is folded into the biases. No dropout (as in
    ``eval`` mode), no gradients.

    Parameters
    ----------
    model : WaveNet
    c : Tensor, optional
        Local conditioning ``(batch, cond_channels, frames)`` as in
        ``WaveNet.forward``: it covers ``frames * hop_length`` steps.
    g : Tensor, optional
        Global conditioning, as in ``WaveNet.forward``.
    batch_size : int, optional
        Default: the batch of ``c`` or ``g``, else 1.

    Attributes
    ----------
    t : int
        Steps taken so far.
    logits : Tensor, shape (batch, classes), or None
        The last step's output.
    max_steps : int or None
        Steps the local conditioning covers (None: unbounded).

    Methods
    -------
    ``step(q)``: ``q`` ``(batch,)`` int64, the input sample at step ``t`` →
    logits ``(batch, classes)`` of the sample at ``t + 1``.
    ``prime(q)``: ``q`` ``(batch, P)``: ``P`` steps in one teacher-forced
    forward pass, filling the queues → the logits of the last step.
    ``sample(length, generator=None)``: ``length`` samples drawn from the last
    logits on, each fed back as the next input → ``(batch, length)`` int64.
    ``fork()``: an independent copy of the state (several continuations of
    one prompt).

    Raises
    ------
    TypeError, ValueError
        ``model`` not a :class:`WaveNet`; conditioning as in ``forward``; in
        ``step``/``prime``, indices out of range or a wrong batch, or more steps
        than the conditioning covers.

    Examples
    --------
    The logits at every step equal the teacher-forced forward's:

    >>> model = WaveNet(layers=4, stacks=2, residual_channels=4, gate_channels=8, skip_channels=4).eval()
    >>> q = torch.randint(0, 256, (1, 12), generator=torch.Generator().manual_seed(0))
    >>> incremental = IncrementalWaveNet(model)
    >>> steps = torch.stack([incremental.step(q[:, t]) for t in range(12)], dim=-1)
    >>> torch.allclose(steps, model(q), atol=1e-5)
    True
    """

    def __init__(self, model: WaveNet, c: torch.Tensor | None = None, g: torch.Tensor | None = None,
                 batch_size: int | None = None):
        if not isinstance(model, WaveNet):
            raise TypeError(f"model must be a WaveNet, got {type(model).__name__}")
        self.model = model
        if batch_size is None:
            batch_size = next((v.shape[0] for v in (c, g) if isinstance(v, torch.Tensor)), 1)
        self.batch_size = positive_int(batch_size, "batch_size")
        weight = model.first_conv.weight
        dtype, device = weight.dtype, weight.device
        with torch.no_grad():
            frames = c.shape[-1] if isinstance(c, torch.Tensor) and c.ndim == 3 else 0
            T = frames * (model.hop_length or 1)
            c_up, g_vec = model.conditioning(c, g, self.batch_size, T)
            self.max_steps = None if c_up is None else T
            self.table = (weight[:, :, 0].T + model.first_conv.bias).detach()  # (classes, R)
            self.units = [self._linearised(unit, g_vec, l) for l, unit in enumerate(model.conv_layers)]
            # the gates' biases of all units side by side: conv bias + U g (+ the local conditioning's bias)
            self.gate_bias = torch.cat([unit["bias"] for unit in self.units], dim=1)  # (batch, L * gate)
            if c_up is not None:
                self.c_up = c_up.transpose(1, 2).contiguous()  # (batch, T, cond)
                self.cond_weight = torch.cat([u.conv1x1c.weight[:, :, 0] for u in model.conv_layers]).T.detach()
                self.gate_bias = self.gate_bias + torch.cat([u.conv1x1c.bias for u in model.conv_layers])
            # the skip path of all units as one matrix on all units' z, r9y9's legacy factors folded in:
            # sum_l f_l (W_l z_l + b_l), f_l = sqrt(0.5) ** (L - max(l, 2) + 1) with legacy, else 1
            n = len(model.conv_layers)
            factors = [math.sqrt(0.5) ** (n - max(l, 2) + 1) if model.legacy_skips else 1.0
                       for l in range(1, n + 1)]
            self.skip_weight = torch.cat([f * u.conv1x1_skip.weight[:, :, 0].T
                                          for f, u in zip(factors, model.conv_layers)]).detach()
            self.skip_bias = sum(f * u.conv1x1_skip.bias for f, u in zip(factors, model.conv_layers)).detach()
            # one tanh per unit: sigmoid(b) = (1 + tanh(b / 2)) / 2, so the gate halves' pre-activations are
            # halved here, the unit computes z' = tanh(a) (1 + tanh(b / 2)) = 2 z, and the two linear maps that
            # read z (residual and skip) are halved instead
            half = torch.ones(self.gate_bias.shape[1], dtype=dtype, device=device).view(n, 2, -1)
            half[:, 1] = 0.5
            half = half.reshape(-1)
            self.gate_bias = self.gate_bias * half
            if c_up is not None:
                self.cond_weight = self.cond_weight * half
            for unit in self.units:
                unit["weight"] = unit["weight"] * half[unit["gates"]]
                unit["out_weight"] = 0.5 * unit["out_weight"]
            self.skip_weight = 0.5 * self.skip_weight
            head = model.last_conv_layers
            self.head = (head[1].weight[:, :, 0].T.detach(), head[1].bias.detach(),
                         head[3].weight[:, :, 0].T.detach(), head[3].bias.detach())
        self.z = torch.zeros(self.batch_size, self.skip_weight.shape[0], dtype=dtype, device=device)
        self.queues = [torch.zeros(max(u["span"], 1), self.batch_size, model.conv_layers[0].residual_channels,
                                   dtype=dtype, device=device) for u in self.units]
        self.t = 0
        self.logits = None

    def _linearised(self, unit: GatedResidualUnit, g_vec: torch.Tensor | None, l: int) -> dict:
        k, d = unit.conv.kernel_size[0], unit.conv.dilation[0]
        gate, scale = unit.gate_channels, unit.residual_scale
        bias = unit.conv.bias.expand(self.batch_size, gate)
        if g_vec is not None:
            bias = bias + unit.conv1x1g(g_vec.unsqueeze(-1))[..., 0]
        return {"k": k, "d": d, "span": (k - 1) * d, "scale": scale,
                "weight": unit.conv.weight.permute(0, 2, 1).reshape(gate, -1).T.detach(),  # (k R, gate)
                "bias": bias.detach().contiguous(),
                "gates": slice(l * gate, (l + 1) * gate), "z": slice(l * gate // 2, (l + 1) * gate // 2),
                # residual: scale (x + W_o z + b_o) = (scale W_o) z + scale b_o + scale x
                "out_weight": (scale * unit.conv1x1_out.weight[:, :, 0].T).detach(),  # (gate/2, R)
                "out_bias": (scale * unit.conv1x1_out.bias).detach()}

    def _check_steps(self, q, name: str, ndim: int) -> torch.Tensor:
        if not isinstance(q, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of class indices, got {type(q).__name__}")
        q = self.model._indices(q, name, ndim)
        if q.shape[0] != self.batch_size:
            raise ValueError(f"{name} has batch {q.shape[0]}, expected batch_size={self.batch_size}")
        self._check_covered(1 if ndim == 1 else q.shape[1])
        return q

    def _check_covered(self, steps: int) -> None:
        """``steps`` more steps from ``t`` stay within the local conditioning."""
        if self.max_steps is not None and self.t + steps > self.max_steps:
            raise ValueError(f"the local conditioning covers {self.max_steps} steps; step {self.t + steps - 1} "
                             "is beyond it")

    def step(self, q: torch.Tensor) -> torch.Tensor:
        """One step: the inputs ``q`` ``(batch,)`` at step ``t`` → logits ``(batch, classes)`` for ``t + 1``."""
        return self._step(self._check_steps(q, "q", 1))

    @torch.no_grad()
    def _step(self, q: torch.Tensor) -> torch.Tensor:
        t = self.t
        x = self.table[q]  # (batch, R)
        gates = self.gate_bias
        if self.max_steps is not None:
            gates = torch.addmm(gates, self.c_up[:, t], self.cond_weight)  # V c_t of every unit at once
        last = self.units[-1]
        for unit, queue in zip(self.units, self.queues):
            k, d, span = unit["k"], unit["d"], unit["span"]
            if k > 1:
                taps = torch.cat([queue[(t - j * d) % span] for j in range(k - 1, 0, -1)] + [x], dim=1)
                queue[t % span] = x  # overwrites the oldest tap, read above
            else:
                taps = x
            h = torch.tanh(torch.addmm(gates[:, unit["gates"]], taps, unit["weight"]))  # tanh(a), tanh(b / 2)
            half = h.shape[1] // 2
            tanh_a = h[:, :half]
            z = torch.addcmul(tanh_a, tanh_a, h[:, half:], out=self.z[:, unit["z"]])  # 2 tanh(a) sigmoid(b)
            if unit is not last:  # the last unit's residual output is read by nothing
                x = torch.addmm(unit["out_bias"], z, unit["out_weight"]).add_(x, alpha=unit["scale"])
        self.t = t + 1
        self.logits = self._head(torch.addmm(self.skip_bias, self.z, self.skip_weight))
        return self.logits

    def _head(self, skips: torch.Tensor) -> torch.Tensor:
        w1, b1, w2, b2 = self.head
        return torch.addmm(b2, torch.relu(torch.addmm(b1, torch.relu(skips), w1)), w2)

    @torch.no_grad()
    def prime(self, q: torch.Tensor) -> torch.Tensor:
        """``q.shape[1]`` teacher-forced steps in one forward pass; the logits of the last one, ``(batch, classes)``."""
        q = self._check_steps(q, "q", 2)
        P = q.shape[1]
        if P == 0:
            raise ValueError("q must hold at least one step, got shape (batch, 0)")
        t0, model = self.t, self.model
        x = self.table[q].transpose(1, 2)  # (batch, R, P)
        # the queues' past, then the new steps: each unit sees its true past, not zeros
        skips = None
        for l, (unit, layer, queue) in enumerate(zip(self.units, model.conv_layers, self.queues)):
            span = unit["span"]
            past = self._queue_in_order(queue, t0, span)  # (batch, R, span): steps t0-span .. t0-1
            full = torch.cat([past, x], dim=-1)
            h = F.conv1d(full, layer.conv.weight, layer.conv.bias, dilation=layer.conv.dilation)  # (batch, G, P)
            h = h + (unit["bias"] - layer.conv.bias).unsqueeze(-1)  # global conditioning
            if self.max_steps is not None:
                h = h + layer.conv1x1c(self.c_up[:, t0:t0 + P].transpose(1, 2))
            a, b = h.chunk(2, dim=1)
            z = torch.tanh(a) * torch.sigmoid(b)
            if span:
                index = torch.arange(t0 + P - span, t0 + P, device=queue.device)
                queue[index % span] = full[..., -span:].permute(2, 0, 1)
            x = (x + layer.conv1x1_out(z)) * unit["scale"]
            s = layer.conv1x1_skip(z)[..., -1]
            if skips is None:
                skips = s
            else:
                skips = skips + s
                if model.legacy_skips:
                    skips = skips * math.sqrt(0.5)
        self.t = t0 + P
        self.logits = self._head(skips)
        return self.logits

    def sample(self, length: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``length`` samples drawn one by one from the last logits on, each fed back: ``(batch, length)`` int64."""
        if self.logits is None:
            raise ValueError("sample continues from the last step: call step or prime first")
        length = _positive_length(length)
        if self.max_steps is not None and self.t + length - 1 > self.max_steps:
            raise ValueError(f"the local conditioning covers {self.max_steps} steps; generation needs "
                             f"{self.t + length - 1}")
        out = torch.empty(self.batch_size, length, dtype=torch.long, device=self.logits.device)
        for t in range(length):
            out[:, t] = _sample(self.logits, generator, self.model)
            if t + 1 < length:
                self._step(out[:, t])  # drawn in range, covered by the conditioning (checked above)
        return out

    def fork(self) -> "IncrementalWaveNet":
        """A copy whose queues evolve independently (several continuations of one primed state)."""
        other = copy.copy(self)
        other.queues = [queue.clone() for queue in self.queues]
        other.z = self.z.clone()
        return other

    @staticmethod
    def _queue_in_order(queue: torch.Tensor, t: int, span: int) -> torch.Tensor:
        """The queue's entries for steps ``t - span .. t - 1``, oldest first, as ``(batch, R, span)``."""
        if span == 0:
            return queue[:0].permute(1, 2, 0)
        index = torch.arange(t - span, t, device=queue.device) % span
        return queue[index].permute(1, 2, 0)


def _sample(logits: torch.Tensor, generator: torch.Generator | None, model: WaveNet | None = None) -> torch.Tensor:
    r"""One class per row drawn from :math:`\mathrm{softmax}(\text{logits})` by inverse transform sampling.

    :math:`u \sim U(0, 1)` from ``generator``; the class is the number of
    cumulative probabilities below :math:`u`. The same logits and generator
    state always give the same class, whichever generator function calls.
    For a ``model`` with ``n_mixtures``, :func:`sample_discretized_mixture`.
    """
    if model is not None and model.n_mixtures is not None:
        return sample_discretized_mixture(logits[..., None], model.classes, generator=generator)[..., 0]
    probabilities = torch.softmax(logits.double(), dim=-1)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64, device=logits.device)
    index = (probabilities.cumsum(-1) < u).sum(-1)
    return index.clamp_(max=logits.shape[-1] - 1)


def _positive_length(length) -> int:
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError(f"length must be a positive int (samples to generate), got {type(length).__name__}")
    if length <= 0:
        raise ValueError(f"length must be a positive int (samples to generate), got {length}")
    return length


def _generation_inputs(model, length, prompt, c, g, batch_size, initial):
    if not isinstance(model, WaveNet):
        raise TypeError(f"model must be a WaveNet, got {type(model).__name__}")
    if length is None:
        if c is None:
            raise ValueError("length is required without local conditioning")
        length = c.shape[-1] * model.hop_length - (0 if prompt is None else prompt.shape[-1] - 1)
    length = _positive_length(length)
    if prompt is not None and initial is not None:
        raise ValueError("give prompt or initial, not both")
    if batch_size is None:
        batch_size = next((v.shape[0] for v in (prompt, c, g) if isinstance(v, torch.Tensor)), 1)
    if prompt is None:
        initial = model.classes // 2 if initial is None else initial
        if isinstance(initial, bool) or not isinstance(initial, int) or not 0 <= initial < model.classes:
            raise ValueError(f"initial must be a class index in 0..{model.classes - 1}, got {initial!r}")
        prompt = torch.full((batch_size, 1), initial, dtype=torch.long, device=model.first_conv.weight.device)
    return length, prompt, batch_size


def generate(model: WaveNet, length: int | None = None, *, c: torch.Tensor | None = None,
             g: torch.Tensor | None = None, generator: torch.Generator | None = None,
             prompt: torch.Tensor | None = None, initial: int | None = None,
             batch_size: int | None = None) -> torch.Tensor:
    r"""Ancestral sampling from a :class:`WaveNet`, one sample per step, with :class:`IncrementalWaveNet`.

    .. math:: x_{t+1} \sim \mathrm{softmax}(\text{logits}_t(x_{\le t}, c, g)),

    each drawn sample fed back as the next input. The first input is the
    class ``initial`` (default ``classes // 2``, silence in μ-law), or a
    recorded ``prompt`` run through the network in one teacher-forced pass.
    Step :math:`t` reads the local conditioning at sample :math:`t`, as in
    training (``logits[..., t]`` predicts ``q[:, t+1]`` from ``c`` at
    :math:`t`): without a prompt, ``c`` covering :math:`T` samples gives
    :math:`T` new samples (r9y9's convention).

    Parameters
    ----------
    model : WaveNet
        Its weights are used as they are (no dropout, no gradients).
    length : int, optional
        Samples to generate, > 0 (default: as many as ``c`` covers).
    c, g : Tensor, optional
        Conditioning as in ``WaveNet.forward``; ``c`` covers the prompt (or
        the initial sample) and the generated samples except the last.
    generator : torch.Generator, optional
        The source of every random number (default: torch's global one); on
        the model's device (``torch.Generator(device="cuda")`` for a model on a GPU).
    prompt : Tensor, shape (batch, P), int64, optional
    initial : int, optional
    batch_size : int, optional
        Default: the batch of ``prompt``, ``c`` or ``g``, else 1.

    Returns
    -------
    Tensor, shape (batch, length), int64
        The new samples (the prompt not included).

    Raises
    ------
    TypeError, ValueError
        ``length`` not a positive int (0 included), ``prompt`` and ``initial``
        both given, conditioning as in ``WaveNet.forward`` or too short.

    Examples
    --------
    >>> model = WaveNet(layers=4, stacks=2, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> x = generate(model, 50, generator=torch.Generator().manual_seed(0), batch_size=2)
    >>> tuple(x.shape), x.dtype
    ((2, 50), torch.int64)
    >>> torch.equal(x, generate(model, 50, generator=torch.Generator().manual_seed(0), batch_size=2))
    True
    """
    length, prompt, batch_size = _generation_inputs(model, length, prompt, c, g, batch_size, initial)
    incremental = IncrementalWaveNet(model, c, g, batch_size)
    total = prompt.shape[1] + length - 1  # inputs the network reads
    if incremental.max_steps is not None and total > incremental.max_steps:
        raise ValueError(f"the local conditioning covers {incremental.max_steps} steps; generation needs {total}")
    if prompt.shape[1] > 1:
        incremental.prime(prompt)
    else:
        incremental.step(prompt[:, 0])
    return incremental.sample(length, generator)


@torch.no_grad()
def generate_naive(model: WaveNet, length: int | None = None, *, c: torch.Tensor | None = None,
                   g: torch.Tensor | None = None, generator: torch.Generator | None = None,
                   prompt: torch.Tensor | None = None, initial: int | None = None,
                   batch_size: int | None = None) -> torch.Tensor:
    r""":func:`generate` without queues: every step reruns the network on the last ``receptive_field`` inputs.

    The output at step :math:`t` depends on the inputs
    :math:`x_{t-r+1}, \ldots, x_t` only, so a forward pass over that window
    gives it exactly; each step costs a whole forward pass of :math:`r`
    samples instead of one sample's worth of work. Same arguments, and for
    the same generator state the same samples, as :func:`generate` (tested).

    Examples
    --------
    >>> model = WaveNet(layers=4, stacks=2, residual_channels=4, gate_channels=8, skip_channels=4)
    >>> fast = generate(model, 30, generator=torch.Generator().manual_seed(1))
    >>> torch.equal(fast, generate_naive(model, 30, generator=torch.Generator().manual_seed(1)))
    True
    """
    length, prompt, batch_size = _generation_inputs(model, length, prompt, c, g, batch_size, initial)
    P, r = prompt.shape[1], model.receptive_field
    total = P + length - 1  # inputs the network reads
    inputs = torch.empty(batch_size, total, dtype=torch.long, device=prompt.device)
    inputs[:, :P] = model._indices(prompt, "prompt")
    c_up, g_vec = model.conditioning(c, g, batch_size, c.shape[-1] * model.hop_length if c is not None else 0)
    if c_up is not None and c_up.shape[-1] < total:
        raise ValueError(f"the local conditioning covers {c_up.shape[-1]} steps; generation needs {total}")
    table = model.first_conv.weight[:, :, 0].T + model.first_conv.bias
    out = torch.empty(batch_size, length, dtype=torch.long, device=prompt.device)
    for t in range(length):
        end = P + t  # inputs[:, :end] are known
        start = max(0, end - r)
        x = F.embedding(inputs[:, start:end], table).transpose(1, 2)
        window = None if c_up is None else c_up[..., start:end]
        out[:, t] = _sample(model._logits(x, window, g_vec)[..., -1], generator, model)
        if end < total:
            inputs[:, end] = out[:, t]
    return out


# --------------------------------------------------------------------------- the reference


def from_wavenet_vocoder(theirs) -> WaveNet:
    r"""r9y9's ``wavenet_vocoder.WaveNet`` (0.1.1) as a :class:`WaveNet` with the same weights.

    The configuration is read from their modules (layers and dilations,
    kernel size, channel counts, conditioning, upsampling scales and their
    frequency kernel, ``legacy``); weight normalisation is folded into plain
    weights (:func:`~lessons_lib.models.layers.fold_weight_norm`); the state
    dict then loads unchanged, because the submodules carry their names.
    Their input is one-hot ``(batch, classes, T)``: ``ours(q)`` equals
    ``theirs(one_hot(q).transpose(1, 2))``, and with conditioning
    ``ours(q, c, g)`` equals ``theirs(x, c, g.view(-1, 1))`` (tested). Their
    upsampler has a ReLU after every stage, so ours is built with
    ``upsample_relu=True``.

    Parameters
    ----------
    theirs : wavenet_vocoder.WaveNet
        With ``scalar_input=False`` (μ-law classes), dilations :math:`2^{i}`
        in equal cycles, the default causal padding.

    Returns
    -------
    WaveNet
        On the CPU, in their dtype, in ``eval`` mode.

    Raises
    ------
    TypeError
        ``theirs`` is not a ``wavenet_vocoder.WaveNet``.
    ValueError
        A configuration :class:`WaveNet` cannot express (``scalar_input``,
        dilations that are not doubling cycles).

    Examples
    --------
    >>> from wavenet_vocoder import WaveNet as TheirWaveNet
    >>> theirs = TheirWaveNet(layers=4, stacks=2, residual_channels=8, gate_channels=8,
    ...                       skip_out_channels=8, legacy=False).eval()  # doctest: +SKIP
    >>> ours = from_wavenet_vocoder(theirs)  # doctest: +SKIP
    """
    try:
        from wavenet_vocoder import WaveNet as TheirWaveNet
    except ImportError as err:
        raise ImportError("from_wavenet_vocoder needs wavenet_vocoder (pip install wavenet_vocoder==0.1.1)") \
            from err
    from .layers import fold_weight_norm

    if not isinstance(theirs, TheirWaveNet):
        raise TypeError(f"theirs must be a wavenet_vocoder.WaveNet, got {type(theirs).__name__}")
    if theirs.scalar_input:
        raise ValueError("theirs uses scalar_input=True (sample values as the input): this WaveNet takes class "
                         "indices")
    units = list(theirs.conv_layers)
    dilations = [u.conv.dilation[0] for u in units]
    per_cycle = dilations.index(1, 1) if dilations.count(1) > 1 else len(dilations)
    stacks = len(dilations) // per_cycle
    if dilations != [2 ** (i % per_cycle) for i in range(len(dilations))]:
        raise ValueError(f"theirs has dilations {dilations}: expected doubling cycles of equal length")
    first = units[0]
    skip_channels = first.conv1x1_skip.out_channels
    upsample = theirs.upsample_conv
    scales = None if upsample is None else [m.stride[1] for m in upsample if isinstance(m, nn.ConvTranspose2d)]
    cond = theirs.cin_channels if theirs.cin_channels > 0 else None
    if cond is not None and upsample is None:
        hop, upsampler, freq = None, None, 1
    elif cond is not None:
        hop, upsampler = math.prod(scales), "transposed"
        freq = upsample[0].kernel_size[0]
    else:
        hop, upsampler, freq, scales = None, "transposed", 1, None
    global_channels = first.conv1x1g.in_channels if first.conv1x1g is not None else None
    n_speakers = theirs.embed_speakers.num_embeddings if theirs.embed_speakers is not None else None
    ours = WaveNet(theirs.out_channels, len(units), stacks, first.conv.in_channels, first.conv.out_channels,
                   skip_channels, first.conv.kernel_size[0], cond_channels=cond, hop_length=hop,
                   upsampler=upsampler, upsample_scales=scales, freq_axis_kernel_size=freq,
                   upsample_relu=upsample is not None, global_cond_channels=global_channels,
                   n_speakers=n_speakers, legacy_skips=bool(theirs.legacy))
    state = fold_weight_norm({k: v.detach().cpu() for k, v in theirs.state_dict().items()})
    dtype = next(iter(state.values())).dtype
    ours = ours.to(dtype)
    ours.load_state_dict(state)
    return ours.eval()

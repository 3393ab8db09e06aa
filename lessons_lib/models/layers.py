r"""Layers shared by the deep-learning chapters: causal, dilated and masked convolution, a gated unit, attention.

Each layer is one named piece of a paper, written once here and used by every
model family that needs it:

==============================  ==========================================  ===========================
layer                           paper                                       used by
==============================  ==========================================  ===========================
``CausalConv1d``                WaveNet (van den Oord et al., 2016)         WaveNet, vocoder, flows
``receptive_field``             WaveNet                                     choosing dilations
``MaskedConv2d``                PixelCNN (van den Oord et al., 2016)        PixelCNN on 8x8 digits
``GatedResidualUnit``           WaveNet; r9y9's ``ResidualConv1dGLU``       WaveNet, WaveNet vocoder
``fold_weight_norm``            weight norm (Salimans and Kingma, 2016)     loading r9y9's checkpoints
``MultiHeadSelfAttention``      Transformer (Vaswani et al., 2017)          wav2vec 2.0, AST
``transformers_reference``     (Hugging Face's ``transformers``)           tests of wav2vec 2.0, AST
==============================  ==========================================  ===========================

Shapes. Convolutions take ``(batch, channels, time)`` (``Conv1d``) and
``(batch, channels, height, width)`` (``Conv2d``), as torch does; attention
takes ``(batch, time, d_model)``, as Hugging Face's audio transformers do.
Every ``forward`` checks the number of dimensions and the channel count and
raises a ``ValueError`` naming the argument, instead of letting torch
broadcast or fail deep inside a kernel.

Names. Submodules are named as in the implementation each chapter compares
against, so that its weights load with one ``load_state_dict``:
:class:`CausalConv1d` keeps ``nn.Conv1d``'s ``weight`` and ``bias``;
:class:`GatedResidualUnit` keeps r9y9's ``conv``, ``conv1x1c``, ``conv1x1g``,
``conv1x1_out``, ``conv1x1_skip`` (after :func:`fold_weight_norm`);
:class:`MultiHeadSelfAttention` keeps ``q_proj``, ``k_proj``, ``v_proj``,
``out_proj`` of Hugging Face's ``Wav2Vec2Attention``
(:func:`load_torch_multihead` copies ``torch.nn.MultiheadAttention``'s
weights in).

Chapter: 6 (wav2vec 2.0, AST) and 7 (PixelCNN, WaveNet, WaveNet vocoder, flows), notebooks to come.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int

__all__ = [
    "CausalConv1d",
    "receptive_field",
    "raster_scan_mask",
    "MaskedConv2d",
    "GatedResidualUnit",
    "fold_weight_norm",
    "MultiHeadSelfAttention",
    "load_torch_multihead",
    "transformers_reference",
]


# --------------------------------------------------------------------------- input checks


def _check_tensor(x, name: str, shape: str, channels: int | None = None, channel_axis: int = 1) -> torch.Tensor:
    """A floating tensor with ``shape.count(',') + 1`` dimensions and ``channels`` on ``channel_axis``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point numbers, got dtype {x.dtype}")
    ndim = shape.count(",") + 1
    if x.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, shape {shape}, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[channel_axis] != channels:
        raise ValueError(f"{name} must have {channels} channels on axis {channel_axis} (shape {shape}), "
                         f"got shape {tuple(x.shape)}")
    return x


def _optional_channels(value, name: str) -> int | None:
    return None if value is None else positive_int(value, name, "a positive int or None")


def _probability(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a float in [0, 1), got {type(value).__name__}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return float(value)


# --------------------------------------------------------------------------- causal convolution


class CausalConv1d(nn.Conv1d):
    r"""A dilated 1-D convolution that sees only the present and the past.

    .. math:: y_t = b + \sum_{i=0}^{k-1} W_i \, x_{t - (k-1-i)\,d}, \qquad x_{t'} = 0 \text{ for } t' < 0,

    with kernel size :math:`k` and dilation :math:`d`: the last tap
    :math:`W_{k-1}` multiplies the present sample, tap :math:`i` the sample
    :math:`(k-1-i)d` steps back. The input is padded with
    :math:`(k-1)d` zeros on the left only, so the output has as many steps as
    the input and :math:`y_t` never depends on :math:`x_{t'}` for
    :math:`t' > t` (van den Oord et al., 2016, "WaveNet", Sec. 2.1). This
    equals ``nn.Conv1d(..., padding=(k-1)*d)`` with its last :math:`(k-1)d`
    outputs dropped, which is how r9y9's ``wavenet_vocoder`` computes it.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Taps :math:`k \ge 1` (WaveNet uses 2; r9y9's vocoder 3).
    dilation : int, default 1
        Spacing :math:`d \ge 1` between taps.
    bias : bool, default True

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels, kernel_size)
    bias : Parameter, shape (out_channels,), or None
        Named as in ``nn.Conv1d``, so its state dict loads unchanged.
    left_padding : int
        :math:`(k-1)d`.
    receptive_field : int
        :math:`(k-1)d + 1` input steps seen by one output step.

    Shapes
    ------
    ``forward(x)``: ``x`` of shape ``(batch, in_channels, time)`` →
    ``(batch, out_channels, time)``.

    Raises
    ------
    TypeError, ValueError
        ``kernel_size`` or ``dilation`` not a positive int; in ``forward``,
        ``x`` not 3-D or without ``in_channels`` channels.

    Examples
    --------
    The impulse response shows which tap meets which sample: with taps
    (1, 2) and dilation 2, the present is weighted by 2, two steps back by 1.

    >>> conv = CausalConv1d(1, 1, kernel_size=2, dilation=2, bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.copy_(torch.tensor([[[1.0, 2.0]]]))
    ...     y = conv(torch.tensor([[[1.0, 0.0, 0.0, 0.0, 0.0]]]))
    >>> y.tolist()
    [[[2.0, 0.0, 1.0, 0.0, 0.0]]]
    >>> conv.receptive_field
    3
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
                 bias: bool = True):
        super().__init__(positive_int(in_channels, "in_channels"), positive_int(out_channels, "out_channels"),
                         positive_int(kernel_size, "kernel_size"), dilation=positive_int(dilation, "dilation"),
                         padding=0, bias=bias)

    @property
    def left_padding(self) -> int:
        return (self.kernel_size[0] - 1) * self.dilation[0]

    @property
    def receptive_field(self) -> int:
        return self.left_padding + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_tensor(x, "x", "(batch, in_channels, time)", self.in_channels)
        return super().forward(F.pad(x, (self.left_padding, 0)))


def receptive_field(kernel_size: int, dilations: Iterable[int]) -> int:
    r"""Input steps seen by one output of a stack of causal convolutions (the WaveNet formula).

    .. math:: r = 1 + (k - 1) \sum_{l=1}^{L} d_l

    Each layer with kernel size :math:`k` and dilation :math:`d_l` reaches
    :math:`(k-1) d_l` steps further into the past. WaveNet's stacks double
    the dilation, :math:`1, 2, \ldots, 512`, and repeat the cycle, so the
    receptive field grows exponentially with depth (van den Oord et al., 2016,
    Sec. 2.1).

    Parameters
    ----------
    kernel_size : int
        :math:`k \ge 1`, shared by every layer.
    dilations : iterable of int
        :math:`d_1, \ldots, d_L \ge 1`, one per layer (empty: :math:`r = 1`,
        the identity). Include the dilation-1 input convolution if the model
        has one.

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        ``kernel_size`` or an entry of ``dilations`` not a positive int.

    Examples
    --------
    One WaveNet cycle of 10 layers with :math:`k = 2` sees 1024 samples; three
    cycles with :math:`k = 3` (r9y9's vocoder), 6139:

    >>> receptive_field(2, [2 ** i for i in range(10)])
    1024
    >>> receptive_field(3, [2 ** i for i in range(10)] * 3)
    6139
    """
    k = positive_int(kernel_size, "kernel_size")
    if isinstance(dilations, (str, bytes)) or not isinstance(dilations, Iterable):
        raise TypeError(f"dilations must be an iterable of positive ints, got {type(dilations).__name__}")
    total = sum(positive_int(d, "dilations[i]") for d in dilations)
    return 1 + (k - 1) * total


# --------------------------------------------------------------------------- masked convolution


def raster_scan_mask(kernel_size: int, mask_type: str) -> torch.Tensor:
    r"""PixelCNN's kernel mask: 1 on the pixels before the centre in raster-scan order.

    .. math:: M_{uv} = \begin{cases} 1 & u < c, \text{ or } u = c \text{ and } v < c \\
              1 & u = v = c \text{ and type B} \\ 0 & \text{otherwise,} \end{cases}
              \qquad c = \lfloor k/2 \rfloor,

    rows :math:`u` (top to bottom) and columns :math:`v` (left to right) of a
    :math:`k \times k` kernel. Type "A" excludes the centre (the first layer,
    which must not see the pixel it predicts); type "B" includes it (later
    layers, whose centre holds features of the pixels *before* it) (van den
    Oord et al., 2016, "Pixel Recurrent Neural Networks", Sec. 3.4).

    Parameters
    ----------
    kernel_size : int
        Odd :math:`k \ge 1`, so that the kernel has a centre.
    mask_type : {"A", "B"}

    Returns
    -------
    Tensor, shape (kernel_size, kernel_size), float32
        Zeros and ones.

    Raises
    ------
    TypeError, ValueError
        ``kernel_size`` not a positive odd int; ``mask_type`` not "A" or "B".

    Examples
    --------
    >>> raster_scan_mask(3, "A")
    tensor([[1., 1., 1.],
            [1., 0., 0.],
            [0., 0., 0.]])
    >>> raster_scan_mask(3, "B")[1].tolist()
    [1.0, 1.0, 0.0]
    """
    k = positive_int(kernel_size, "kernel_size", "a positive odd int")
    if k % 2 == 0:
        raise ValueError(f"kernel_size must be odd (the mask needs a centre pixel), got {k}")
    if not isinstance(mask_type, str):
        raise TypeError(f"mask_type must be 'A' or 'B', got {type(mask_type).__name__}")
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' (first layer, excludes the centre) or 'B' (includes it), "
                         f"got {mask_type!r}")
    c = k // 2
    position = torch.arange(k * k).reshape(k, k)  # raster-scan index of each kernel pixel
    before = position < c * k + c
    return (before | ((position == c * k + c) & (mask_type == "B"))).float()


class MaskedConv2d(nn.Conv2d):
    r"""PixelCNN's masked convolution: each output pixel sees only the pixels before it in raster-scan order.

    .. math:: y = (W \odot M) * x + b,

    a "same"-padded 2-D convolution whose kernel is multiplied by the mask
    :math:`M` of :func:`raster_scan_mask` (broadcast over both channel axes)
    in every forward pass. So the output at pixel :math:`(i, j)` depends only
    on pixels :math:`(i', j')` with :math:`i' < i`, or :math:`i' = i` and
    :math:`j' < j` (type "A"), or also :math:`(i, j)` itself (type "B"). A
    PixelCNN is one type-A layer followed by type-B layers; the stack then
    never sees the pixel it predicts (van den Oord et al., 2016, "Pixel
    Recurrent Neural Networks"; "Conditional Image Generation with PixelCNN
    Decoders"). Every channel sees every channel: for grey images, which need
    none of the paper's R/G/B channel groups.

    Because the mask is applied in ``forward``, the gradient of every masked
    weight is exactly zero, and masked weights (zeroed at construction) stay
    zero under any optimiser that leaves a zero-gradient zero weight alone
    (SGD, Adam, AdamW, with or without weight decay).

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Odd, square kernel; padding ``kernel_size // 2`` keeps height and width.
    mask_type : {"A", "B"}
    bias : bool, default True

    Attributes
    ----------
    weight : Parameter, shape (out_channels, in_channels, kernel_size, kernel_size)
        As in ``nn.Conv2d``; zero where the mask is.
    bias : Parameter, shape (out_channels,), or None
    mask : Tensor, shape (kernel_size, kernel_size)
        A buffer kept out of the state dict (it follows from ``mask_type``).

    Shapes
    ------
    ``forward(x)``: ``(batch, in_channels, height, width)`` →
    ``(batch, out_channels, height, width)``.

    Raises
    ------
    TypeError, ValueError
        As :func:`raster_scan_mask`; in ``forward``, ``x`` not 4-D or without
        ``in_channels`` channels.

    Examples
    --------
    With all weights 1 (even the masked ones: the mask acts in ``forward``), a
    type-A layer counts the pixels a 3x3 kernel sees before each pixel: none
    for the top-left one, 4 in the middle, 3 at the right edge.

    >>> conv = MaskedConv2d(1, 1, kernel_size=3, mask_type="A", bias=False)
    >>> with torch.no_grad():
    ...     _ = conv.weight.fill_(1.0)
    ...     y = conv(torch.ones(1, 1, 3, 3))
    >>> y[0, 0].tolist()
    [[0.0, 1.0, 1.0], [2.0, 4.0, 3.0], [2.0, 4.0, 3.0]]
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str, bias: bool = True):
        mask = raster_scan_mask(kernel_size, mask_type)
        super().__init__(positive_int(in_channels, "in_channels"), positive_int(out_channels, "out_channels"),
                         kernel_size, padding=kernel_size // 2, bias=bias)
        self.mask_type = mask_type
        self.register_buffer("mask", mask, persistent=False)
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mask_type={self.mask_type!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = _check_tensor(x, "x", "(batch, in_channels, height, width)", self.in_channels)
        return self._conv_forward(x, self.weight * self.mask, self.bias)


# --------------------------------------------------------------------------- WaveNet's gated residual unit


class GatedResidualUnit(nn.Module):
    r"""WaveNet's residual block: a dilated causal convolution, a gated activation, residual and skip outputs.

    .. math::

        [a;\, b] &= W * x + V c + U g \qquad (\text{split into halves along channels}) \\
        z &= \tanh(a) \odot \sigma(b) \\
        \text{skip} &= W_s z, \qquad
        \text{out} = \alpha \, (x + W_o z),

    :math:`W *` the dilated causal convolution (:class:`CausalConv1d`) with
    ``gate_channels`` outputs (the filter half :math:`a` and the gate half
    :math:`b`, the paper's :math:`W_f, W_g`), :math:`V` and :math:`U` 1x1
    convolutions of the local conditioning :math:`c` (e.g. upsampled mel
    frames) and of the global conditioning vector :math:`g` (e.g. a speaker
    embedding, added at every step), :math:`W_s, W_o` 1x1 convolutions to the
    skip and residual paths (van den Oord et al., 2016, "WaveNet", Sec. 2.3
    to 2.5). Every convolution has a bias.

    The residual sum is scaled by :math:`\alpha = \sqrt{0.5}` by default, as
    in r9y9's ``wavenet_vocoder`` (after Gehring et al., 2017, ConvS2S): the
    sum of two independent unit-variance signals keeps unit variance, so a
    deep stack neither grows nor needs normalisation. ``residual_scale=1``
    gives the paper's plain :math:`x + W_o z`.

    Submodules carry r9y9's names (``conv``, ``conv1x1c``, ``conv1x1g``,
    ``conv1x1_out``, ``conv1x1_skip``), so a state dict of its
    ``ResidualConv1dGLU`` loads after :func:`fold_weight_norm`, and the halves
    are in its order (``tanh`` on the first, ``sigmoid`` on the second).
    Dropout (probability ``dropout``, training mode only) acts on the input of
    the dilated convolution, as there.

    Parameters
    ----------
    residual_channels : int
        Channels :math:`R` of ``x`` and of the residual output.
    gate_channels : int
        Even number of outputs of the dilated convolution; :math:`z` has half.
    kernel_size : int
    dilation : int, default 1
    skip_channels : int, optional
        Channels of the skip output (default ``residual_channels``).
    cond_channels : int, optional
        Channels of the local conditioning ``c``; None: no ``conv1x1c``.
    global_cond_channels : int, optional
        Size of the global conditioning vector ``g``; None: no ``conv1x1g``.
    dropout : float, default 0.0
        r9y9 uses 0.05.
    residual_scale : float, default sqrt(0.5)

    Shapes
    ------
    ``forward(x, c=None, g=None)``: ``x`` ``(batch, residual_channels, time)``,
    ``c`` ``(batch, cond_channels, time)`` (already upsampled to the
    sample rate), ``g`` ``(batch, global_cond_channels)`` → ``(out, skip)``,
    ``(batch, residual_channels, time)`` and ``(batch, skip_channels, time)``.
    A unit built with conditioning requires it (and one built without refuses
    it). ``out[..., t]`` and ``skip[..., t]`` depend on ``x`` and ``c`` at
    steps :math:`\le t` only.

    Raises
    ------
    TypeError, ValueError
        A channel count, ``kernel_size`` or ``dilation`` not a positive int,
        ``gate_channels`` odd, ``dropout`` outside [0, 1); in ``forward``, a
        wrongly shaped ``x``, ``c`` or ``g``, or conditioning missing or
        unexpected.

    Examples
    --------
    >>> unit = GatedResidualUnit(4, 8, kernel_size=2, dilation=4, skip_channels=3, cond_channels=5)
    >>> out, skip = unit(torch.zeros(2, 4, 10), c=torch.zeros(2, 5, 10))
    >>> tuple(out.shape), tuple(skip.shape)
    ((2, 4, 10), (2, 3, 10))
    >>> sorted(name for name, _ in unit.named_children())
    ['conv', 'conv1x1_out', 'conv1x1_skip', 'conv1x1c']
    """

    def __init__(self, residual_channels: int, gate_channels: int, kernel_size: int, dilation: int = 1, *,
                 skip_channels: int | None = None, cond_channels: int | None = None,
                 global_cond_channels: int | None = None, dropout: float = 0.0,
                 residual_scale: float = math.sqrt(0.5)):
        super().__init__()
        residual_channels = positive_int(residual_channels, "residual_channels")
        gate_channels = positive_int(gate_channels, "gate_channels", "a positive even int")
        if gate_channels % 2:
            raise ValueError(f"gate_channels must be even (filter and gate halves), got {gate_channels}")
        skip_channels = _optional_channels(skip_channels, "skip_channels") or residual_channels
        cond_channels = _optional_channels(cond_channels, "cond_channels")
        global_cond_channels = _optional_channels(global_cond_channels, "global_cond_channels")
        if isinstance(residual_scale, bool) or not isinstance(residual_scale, (int, float)):
            raise TypeError(f"residual_scale must be a float, got {type(residual_scale).__name__}")
        self.residual_channels, self.gate_channels, self.skip_channels = residual_channels, gate_channels, skip_channels
        self.cond_channels, self.global_cond_channels = cond_channels, global_cond_channels
        self.dropout = _probability(dropout, "dropout")
        self.residual_scale = float(residual_scale)

        self.conv = CausalConv1d(residual_channels, gate_channels, kernel_size, dilation)
        self.conv1x1c = None if cond_channels is None else nn.Conv1d(cond_channels, gate_channels, 1)
        self.conv1x1g = None if global_cond_channels is None else nn.Conv1d(global_cond_channels, gate_channels, 1)
        self.conv1x1_out = nn.Conv1d(gate_channels // 2, residual_channels, 1)
        self.conv1x1_skip = nn.Conv1d(gate_channels // 2, skip_channels, 1)

    @property
    def receptive_field(self) -> int:
        return self.conv.receptive_field

    def _checked(self, value, name: str, layer: nn.Conv1d | None, shape: str, x: torch.Tensor):
        """A conditioning input checked against the unit (``layer`` is None: built without it) and ``x``."""
        attribute = {"c": "cond_channels", "g": "global_cond_channels"}[name]
        if layer is None and value is not None:
            raise ValueError(f"{name} was given but this unit has no {attribute} (built with {attribute}=None)")
        if layer is not None and value is None:
            raise ValueError(f"{name} is required: this unit was built with "
                             f"{attribute}={layer.in_channels}, {name} of shape {shape}")
        if value is not None:
            _check_tensor(value, name, shape, layer.in_channels)
            if value.shape[0] != x.shape[0] or (name == "c" and value.shape[-1] != x.shape[-1]):
                raise ValueError(f"{name} of shape {tuple(value.shape)} does not match x of shape "
                                 f"{tuple(x.shape)}: expected {shape} with the same batch"
                                 f"{' and time' if name == 'c' else ''}")
        return value

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None,
                g: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = _check_tensor(x, "x", "(batch, residual_channels, time)", self.residual_channels)
        c = self._checked(c, "c", self.conv1x1c, "(batch, cond_channels, time)", x)
        g = self._checked(g, "g", self.conv1x1g, "(batch, global_cond_channels)", x)
        h = self.conv(F.dropout(x, self.dropout) if self.training and self.dropout else x)  # W * x
        if c is not None:
            h = h + self.conv1x1c(c)  # V c: a value per time step
        if g is not None:
            h = h + self.conv1x1g(g.unsqueeze(-1))  # U g: one value, added at every time step
        a, b = h.chunk(2, dim=1)  # filter, gate
        z = torch.tanh(a) * torch.sigmoid(b)
        return (x + self.conv1x1_out(z)) * self.residual_scale, self.conv1x1_skip(z)


def fold_weight_norm(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    r"""A state dict with weight normalisation folded into plain weights.

    .. math:: w = g \, \frac{v}{\lVert v \rVert},

    the norm taken, for each entry of :math:`g`, over the axes where
    :math:`g` has size 1 (torch's ``weight_norm(dim=0)``: one norm per output
    channel; ``dim=None``: one norm, :math:`g` a scalar) (Salimans and
    Kingma, 2016). Both of torch's layouts are folded: the old
    ``nn.utils.weight_norm`` keys ``NAME.weight_g`` and ``NAME.weight_v`` (the
    ones r9y9's ``wavenet_vocoder`` checkpoints hold), and the
    parametrisation keys ``NAME.parametrizations.weight.original0`` (g) and
    ``...original1`` (v); each pair becomes ``NAME.weight``. Other entries
    are passed through unchanged. The result loads into the same network
    built without weight normalisation, e.g. :class:`GatedResidualUnit`.

    Parameters
    ----------
    state_dict : mapping of str to Tensor

    Returns
    -------
    dict of str to Tensor
        New dict; the input is not modified.

    Raises
    ------
    TypeError
        ``state_dict`` not a mapping.
    ValueError
        A ``g`` without its ``v`` (or the reverse), or shapes that do not
        broadcast.

    Examples
    --------
    :math:`v = (3, 4)` has norm 5, so :math:`g = 10` gives :math:`w = (6, 8)`:

    >>> folded = fold_weight_norm({"conv.bias": torch.zeros(1),
    ...                            "conv.weight_g": torch.tensor([[[10.0]]]),
    ...                            "conv.weight_v": torch.tensor([[[3.0, 4.0]]])})
    >>> sorted(folded), folded["conv.weight"].tolist()
    (['conv.bias', 'conv.weight'], [[[6.0, 8.0]]])
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to tensors, got {type(state_dict).__name__}")
    out = {}
    for key, value in state_dict.items():
        for g_name, v_name in _WEIGHT_NORM_KEYS:
            prefix = _module_prefix(key, g_name)
            if prefix is not None:
                if prefix + v_name not in state_dict:
                    raise ValueError(f"state_dict has {key!r} but not {prefix + v_name!r}: weight norm keeps g and v")
                out[prefix + "weight"] = _weight_from_g_v(value, state_dict[prefix + v_name], key)
                break
            prefix = _module_prefix(key, v_name)
            if prefix is not None:
                if prefix + g_name not in state_dict:
                    raise ValueError(f"state_dict has {key!r} but not {prefix + g_name!r}: weight norm keeps g and v")
                break  # folded when its g is met
        else:
            out[key] = value
    return out


_WEIGHT_NORM_KEYS = (("weight_g", "weight_v"),
                     ("parametrizations.weight.original0", "parametrizations.weight.original1"))


def _module_prefix(key: str, name: str) -> str | None:
    """``"conv."`` for ``key = "conv." + name``, ``""`` for ``key = name``, else None."""
    if key == name:
        return ""
    return key[: -len(name)] if key.endswith("." + name) else None


def _weight_from_g_v(g: torch.Tensor, v: torch.Tensor, key: str) -> torch.Tensor:
    """:math:`g\\,v/\\lVert v\\rVert`, the norm over the axes where ``g`` has size 1 (all of them for a scalar g)."""
    if g.ndim == 0:
        return g * v / v.norm()
    if g.ndim != v.ndim or any(gs not in (1, vs) for gs, vs in zip(g.shape, v.shape)):
        raise ValueError(f"{key} of shape {tuple(g.shape)} does not broadcast against its v of shape {tuple(v.shape)}")
    axes = [axis for axis, size in enumerate(g.shape) if size == 1]
    norm = v.pow(2).sum(dim=axes, keepdim=True).sqrt() if axes else v.abs()  # no axis left: |v|, as torch
    return g * v / norm


# --------------------------------------------------------------------------- attention


class MultiHeadSelfAttention(nn.Module):
    r"""Multi-head scaled dot-product self-attention, with a key padding mask and an optional causal mask.

    .. math::

        Q_h = X W_{q,h}^T + b_{q,h}, \quad K_h = X W_{k,h}^T + b_{k,h}, \quad V_h = X W_{v,h}^T + b_{v,h} \\
        A_h = \operatorname{softmax}\Big(\frac{Q_h K_h^T}{\sqrt{d_h}} + B\Big), \qquad
        Y = [A_1 V_1, \ldots, A_H V_H] \, W_o^T + b_o,

    :math:`H` heads of width :math:`d_h = d_{model}/H` (``q_proj``,
    ``k_proj``, ``v_proj`` compute all heads at once; ``out_proj`` is
    :math:`W_o`), and :math:`B_{ts} = -\infty` where query :math:`t` may not
    attend to key :math:`s` (key :math:`s` is padding, or :math:`s > t` when
    ``causal``), 0 elsewhere (Vaswani et al., 2017, Sec. 3.2). In training
    mode, dropout with probability ``dropout`` acts on :math:`A_h`, as in
    ``torch.nn.MultiheadAttention`` and Hugging Face's ``Wav2Vec2Attention``,
    whose submodule names these are: its weights load unchanged, and
    :func:`load_torch_multihead` copies torch's packed ``in_proj_weight`` in.
    With ``return_weights`` the softmax is written out, as above, so that
    the weights can be returned and read; without, torch's fused kernel
    ``F.scaled_dot_product_attention`` computes the same function from the
    same projections and mask and never stores the ``(batch, n_heads, time,
    time)`` weights (the two paths are equal, tested; in training mode each
    draws its own dropout mask).

    Parameters
    ----------
    d_model : int
    n_heads : int
        Must divide ``d_model``.
    dropout : float, default 0.0
    bias : bool, default True
        Biases of all four projections.
    causal : bool, default False
        Query :math:`t` attends only to keys :math:`s \le t`.

    Shapes
    ------
    ``forward(x, key_padding_mask=None, return_weights=False)``: ``x``
    ``(batch, time, d_model)``; ``key_padding_mask`` ``(batch, time)``, bool,
    True at padding (torch's convention) → ``(batch, time, d_model)``, and
    with ``return_weights`` also the attention weights actually used (after
    dropout), ``(batch, n_heads, time, time)``, rows queries, columns keys.
    Outputs at padded query positions are computed like any other (attending
    to the real keys) and mean nothing; mask them in the loss.

    Raises
    ------
    TypeError, ValueError
        ``d_model`` not divisible by ``n_heads``, ``dropout`` outside [0, 1);
        in ``forward``, ``x`` not ``(batch, time, d_model)``,
        ``key_padding_mask`` not bool of shape ``(batch, time)``, or a query
        left with no key to attend to (all keys padding, or, with ``causal``,
        all keys up to it): a softmax over nothing, which would be NaN, is
        refused with a ValueError naming ``key_padding_mask``.

    Examples
    --------
    Keys marked as padding get exactly zero weight:

    >>> attention = MultiHeadSelfAttention(d_model=8, n_heads=2)
    >>> x = torch.randn(1, 4, 8, generator=torch.Generator().manual_seed(0))
    >>> padding = torch.tensor([[False, False, False, True]])
    >>> y, weights = attention(x, key_padding_mask=padding, return_weights=True)
    >>> tuple(y.shape), tuple(weights.shape)
    ((1, 4, 8), (1, 2, 4, 4))
    >>> weights[..., 3].abs().max().item(), torch.allclose(weights.sum(-1), torch.ones(1, 2, 4))
    (0.0, True)
    """

    def __init__(self, d_model: int, n_heads: int, *, dropout: float = 0.0, bias: bool = True,
                 causal: bool = False):
        super().__init__()
        d_model, n_heads = positive_int(d_model, "d_model"), positive_int(n_heads, "n_heads")
        if d_model % n_heads:
            raise ValueError(f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}")
        if not isinstance(causal, bool):
            raise TypeError(f"causal must be a bool, got {type(causal).__name__}")
        self.d_model, self.n_heads, self.head_dim = d_model, n_heads, d_model // n_heads
        self.dropout, self.causal = _probability(dropout, "dropout"), causal
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def extra_repr(self) -> str:
        return f"d_model={self.d_model}, n_heads={self.n_heads}, dropout={self.dropout}, causal={self.causal}"

    def _heads(self, y: torch.Tensor) -> torch.Tensor:
        """(batch, time, d_model) → (batch, n_heads, time, head_dim)."""
        batch, time, _ = y.shape
        return y.view(batch, time, self.n_heads, self.head_dim).transpose(1, 2)

    def _allowed(self, key_padding_mask: torch.Tensor | None, batch: int, time: int,
                device: torch.device | None = None) -> torch.Tensor | None:
        """Where query t may attend to key s: bool ``(batch, 1, time, time)``, or None when all may.

        Raises a ValueError naming ``key_padding_mask`` if some query has no key left.
        """
        allowed = None
        if key_padding_mask is not None:
            if not isinstance(key_padding_mask, torch.Tensor) or key_padding_mask.dtype != torch.bool:
                got = key_padding_mask.dtype if isinstance(key_padding_mask, torch.Tensor) \
                    else type(key_padding_mask).__name__
                raise TypeError(f"key_padding_mask must be a bool tensor (True at padding), got {got}")
            if tuple(key_padding_mask.shape) != (batch, time):
                raise ValueError(f"key_padding_mask must have shape (batch, time) = {(batch, time)}, "
                                 f"got {tuple(key_padding_mask.shape)}")
            allowed = ~key_padding_mask[:, None, None, :]
        if self.causal:
            past = torch.ones(time, time, dtype=torch.bool, device=device).tril()
            allowed = past[None, None] if allowed is None else allowed & past
        if allowed is not None and not bool(allowed.any(dim=-1).all()):
            where = (~allowed.any(dim=-1)).nonzero()[0].tolist()
            raise ValueError(f"key_padding_mask leaves query {where[-1]} of batch element {where[0]} no key to "
                             f"attend to{' at or before it (causal=True)' if self.causal else ''}: "
                             "every row needs at least one key that is not padding")
        return allowed

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                return_weights: bool = False):
        x = _check_tensor(x, "x", "(batch, time, d_model)", self.d_model, channel_axis=-1)
        batch, time, _ = x.shape
        allowed = self._allowed(key_padding_mask, batch, time, x.device)
        q, k, v = self._heads(self.q_proj(x)), self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        dropout = self.dropout if self.training else 0.0
        if not return_weights:
            heads = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, dropout_p=dropout)
            return self.out_proj(heads.transpose(1, 2).reshape(batch, time, self.d_model))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        weights = torch.softmax(scores, dim=-1)
        if dropout:
            weights = F.dropout(weights, dropout)
        y = self.out_proj((weights @ v).transpose(1, 2).reshape(batch, time, self.d_model))
        return y, weights


def load_torch_multihead(ours: MultiHeadSelfAttention, theirs: nn.MultiheadAttention) -> MultiHeadSelfAttention:
    r"""Copy ``torch.nn.MultiheadAttention``'s weights into a :class:`MultiHeadSelfAttention`.

    torch packs the three input projections into one matrix,
    ``in_proj_weight`` :math:`= [W_q; W_k; W_v]` of shape
    ``(3 d_model, d_model)`` (and ``in_proj_bias`` likewise); they are split
    into ``q_proj``, ``k_proj``, ``v_proj`` in that order. ``out_proj`` has the
    same name and layout in both. Afterwards ``ours(x, mask)`` equals
    ``theirs(x, x, x, key_padding_mask=mask)[0]`` (with ``batch_first=True``).

    Parameters
    ----------
    ours : MultiHeadSelfAttention
        Receives the weights (modified in place, and returned).
    theirs : torch.nn.MultiheadAttention
        Same ``embed_dim`` and ``num_heads``, biases present iff ours has
        them, no separate key/value sizes, no ``add_bias_kv``.

    Returns
    -------
    MultiHeadSelfAttention
        ``ours``.

    Raises
    ------
    TypeError
        Wrong types.
    ValueError
        Sizes, heads or biases that differ, or a layout ours cannot hold.

    Examples
    --------
    >>> theirs = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    >>> ours = load_torch_multihead(MultiHeadSelfAttention(8, 2), theirs)
    >>> x = torch.randn(2, 5, 8, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(ours(x), theirs(x, x, x, need_weights=False)[0], atol=1e-6)
    True
    """
    if not isinstance(ours, MultiHeadSelfAttention):
        raise TypeError(f"ours must be a MultiHeadSelfAttention, got {type(ours).__name__}")
    if not isinstance(theirs, nn.MultiheadAttention):
        raise TypeError(f"theirs must be a torch.nn.MultiheadAttention, got {type(theirs).__name__}")
    if (theirs.embed_dim, theirs.num_heads) != (ours.d_model, ours.n_heads):
        raise ValueError(f"theirs has embed_dim={theirs.embed_dim}, num_heads={theirs.num_heads}; ours has "
                         f"d_model={ours.d_model}, n_heads={ours.n_heads}")
    if not theirs._qkv_same_embed_dim or theirs.bias_k is not None or theirs.add_zero_attn:
        raise ValueError("theirs must use kdim = vdim = embed_dim, add_bias_kv=False and add_zero_attn=False")
    if (theirs.in_proj_bias is None) != (ours.q_proj.bias is None):
        raise ValueError(f"theirs has bias={theirs.in_proj_bias is not None}, ours has "
                         f"bias={ours.q_proj.bias is not None}")
    with torch.no_grad():
        for i, projection in enumerate((ours.q_proj, ours.k_proj, ours.v_proj)):
            rows = slice(i * ours.d_model, (i + 1) * ours.d_model)
            projection.weight.copy_(theirs.in_proj_weight[rows])
            if projection.bias is not None:
                projection.bias.copy_(theirs.in_proj_bias[rows])
        ours.out_proj.weight.copy_(theirs.out_proj.weight)
        if ours.out_proj.bias is not None:
            ours.out_proj.bias.copy_(theirs.out_proj.bias)
    return ours


def transformers_reference():
    """Hugging Face's ``transformers``, the reference of wav2vec 2.0 and the AST, importable even beside a broken torchvision.

    ``transformers`` imports torchvision whenever it is installed (for its image
    utilities, on the way to every model), and torchvision 0.28's wheel from PyPI,
    built for CUDA, fails beside the CPU build of torch (``RuntimeError: operator
    torchvision::nms does not exist``), which makes ``transformers.Wav2Vec2Model``
    and ``ASTModel`` fail to import. :func:`lessons_lib.models.cnn.torchvision_models`
    imports torchvision's Python code without its compiled operators in exactly
    that case; calling it first lets ``transformers`` import. Where torchvision
    works (Colab) or is absent, this changes nothing.

    Returns
    -------
    module
        ``transformers``.

    Raises
    ------
    ImportError
        ``transformers`` is not installed (``pip install transformers``).

    Examples
    --------
    >>> transformers = transformers_reference()
    >>> transformers.Wav2Vec2Model.__name__, transformers.ASTModel.__name__
    ('Wav2Vec2Model', 'ASTModel')
    """
    from .cnn import torchvision_models

    try:
        torchvision_models()
    except ImportError:
        pass  # no torchvision: transformers does not import it
    try:
        import transformers
    except ImportError as err:
        raise ImportError("the reference implementation needs transformers (pip install transformers)") from err
    return transformers

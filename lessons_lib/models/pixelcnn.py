r"""PixelCNN: an image as a chain of conditional distributions, one pixel at a time, and its blind spot.

An autoregressive model writes the probability of an image :math:`\mathbf x` of
:math:`N = H W` pixels with the chain rule, in raster-scan order (row by row, left
to right):

.. math:: p_\theta(\mathbf x) = \prod_{n=1}^{N} p_\theta(x_n \mid x_1, \dots, x_{n-1}),

and a PixelCNN computes all :math:`N` conditionals in one forward pass, by
convolutions whose kernels are masked so that the output at pixel :math:`n` never
sees pixels :math:`n, n+1, \dots` (van den Oord et al., 2016, "Pixel Recurrent
Neural Networks"). Each conditional is a softmax over the ``levels`` grey levels
:math:`0, \dots, K-1`, so training is a cross-entropy, and the model's quality is
its negative log-likelihood in *bits per dimension* (:func:`bits_per_dim`).

==================================  =========================================================
piece                               what it is
==================================  =========================================================
:func:`to_inputs`                   integer images to the network's input, :math:`2x/(K-1) - 1`
:class:`ResidualBlock`              PixelRNN's residual block around a type-B masked convolution
:class:`PixelCNN`                   the plain PixelCNN: type A, type-B blocks, a 1x1 head
:class:`GatedLayer`                 one layer of vertical and horizontal stacks, gated
:class:`GatedPixelCNN`              the gated PixelCNN (van den Oord et al., 2016b),
                                    optionally class-conditional
:func:`sample`                      pixel-by-pixel sampling from a seeded generator
:func:`bits_per_dim`                the negative log-likelihood in bits per pixel
:func:`independent_pixel_logits`    the baseline: one categorical per pixel position
:func:`past_pixels`                 the pixels before one pixel in raster order
:func:`dependency_map`              the pixels an output depends on, from input gradients
:func:`blind_spot`                  past pixels an output does not depend on
==================================  =========================================================

The blind spot. A 3x3 type-B mask lets a pixel see its left neighbour and the
three pixels above it. Stacking :math:`L` such layers reaches :math:`r` rows up
and at most :math:`r` columns to the right (every step up moves at most one column
right), so the pixels above and to the right of that diagonal, though they come
earlier in raster order, never reach the output: a *blind spot* that no depth
removes. The gated PixelCNN (van den Oord et al., 2016, "Conditional Image
Generation with PixelCNN Decoders") splits the work between a *vertical stack*,
which sees whole rows above (a :math:`(k/2 + 1) \times k` kernel, rows
:math:`i - \lfloor k/2 \rfloor \dots i`, shifted so that it never sees row
:math:`i` of the input), and a *horizontal stack*, which sees the pixels to the
left in the current row (a :math:`1 \times (\lfloor k/2 \rfloor + 1)` kernel) and
receives the vertical stack through a 1x1 convolution; with enough layers it sees
every past pixel. :func:`dependency_map` measures both claims from input gradients.

Shapes. Images are integer tensors ``(batch, height, width)`` with values
``0 .. levels - 1``; logits are ``(batch, levels, height, width)``, the class axis
second, as ``F.cross_entropy`` wants. The network's input (:func:`to_inputs`) is one
float channel, ``(batch, 1, height, width)``.

Chapter: ``notebooks/07a_generative_pixelcnn.ipynb``.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int
from .layers import MaskedConv2d

__all__ = [
    "to_inputs",
    "ResidualBlock",
    "PixelCNN",
    "GatedLayer",
    "GatedPixelCNN",
    "sample",
    "bits_per_dim",
    "independent_pixel_logits",
    "past_pixels",
    "dependency_map",
    "blind_spot",
]


# --------------------------------------------------------------------------- input checks


def _levels(levels) -> int:
    k = positive_int(levels, "levels", "an int >= 2 (grey levels)")
    if k < 2:
        raise ValueError(f"levels must be an int >= 2 (grey levels), got {k}")
    return k


def _kernel(kernel_size, name: str = "kernel_size") -> int:
    k = positive_int(kernel_size, name, "an odd int >= 3")
    if k < 3 or k % 2 == 0:
        raise ValueError(f"{name} must be an odd int >= 3 (a masked kernel needs a centre and a past), got {k}")
    return k


def _check_images(x, levels: int, name: str = "x") -> torch.Tensor:
    """An integer tensor (batch, height, width) with values 0..levels-1."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, height, width), got {type(x).__name__}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer grey levels 0..{levels - 1}, got dtype {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"{name} must be 3-D, shape (batch, height, width), got shape {tuple(x.shape)}")
    if x.numel() and (int(x.min()) < 0 or int(x.max()) >= levels):
        raise ValueError(f"{name} must hold grey levels 0..{levels - 1}, got values "
                         f"{int(x.min())}..{int(x.max())}")
    return x


def _check_labels(y, n_classes: int | None, batch: int) -> torch.Tensor | None:
    if n_classes is None:
        if y is not None:
            raise ValueError("y must be None: this model was built without n_classes (unconditional)")
        return None
    if y is None:
        raise ValueError(f"y is required: this model is conditioned on {n_classes} classes")
    if not isinstance(y, torch.Tensor) or y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"y must be an integer torch.Tensor of shape (batch,), got "
                        f"{type(y).__name__ if not isinstance(y, torch.Tensor) else y.dtype}")
    if y.shape != (batch,):
        raise ValueError(f"y must have shape ({batch},), one class per image, got shape {tuple(y.shape)}")
    if batch and (int(y.min()) < 0 or int(y.max()) >= n_classes):
        raise ValueError(f"y must hold classes 0..{n_classes - 1}, got values {int(y.min())}..{int(y.max())}")
    return y


def _check_inputs(u, name: str = "u") -> torch.Tensor:
    if not isinstance(u, torch.Tensor) or not u.is_floating_point():
        raise TypeError(f"{name} must be a floating torch.Tensor of shape (batch, 1, height, width)")
    if u.ndim != 4 or u.shape[1] != 1:
        raise ValueError(f"{name} must have shape (batch, 1, height, width), got shape {tuple(u.shape)}")
    return u


def _pixel(pixel, height: int, width: int) -> tuple[int, int]:
    if not (isinstance(pixel, tuple) and len(pixel) == 2):
        raise TypeError(f"pixel must be a tuple (row, column), got {pixel!r}")
    i, j = (int(v) for v in pixel)
    if not (0 <= i < height and 0 <= j < width):
        raise ValueError(f"pixel must lie on the {height}x{width} canvas, got {pixel}")
    return i, j


def to_inputs(x: torch.Tensor, levels: int) -> torch.Tensor:
    r"""Integer images to the network's input: one float channel in :math:`[-1, 1]`.

    .. math:: u_{ij} = \frac{2 x_{ij}}{K - 1} - 1, \qquad x_{ij} \in \{0, \dots, K-1\}

    Parameters
    ----------
    x : LongTensor, shape (batch, height, width)
        Grey levels :math:`0 \dots K-1`.
    levels : int
        :math:`K \ge 2`.

    Returns
    -------
    Tensor, shape (batch, 1, height, width), float32

    Raises
    ------
    TypeError, ValueError
        ``levels`` < 2; ``x`` not an integer 3-D tensor of values in ``0 .. levels - 1``.

    Examples
    --------
    >>> to_inputs(torch.tensor([[[0, 8, 16]]]), 17).tolist()
    [[[[-1.0, 0.0, 1.0]]]]
    """
    k = _levels(levels)
    x = _check_images(x, k)
    return (x.unsqueeze(1).float() * (2.0 / (k - 1)) - 1.0)


# --------------------------------------------------------------------------- the plain PixelCNN


class ResidualBlock(nn.Module):
    r"""PixelRNN's residual block: 1x1 down, a masked type-B :math:`k \times k` convolution, 1x1 up, plus the input.

    .. math:: \mathbf h' = \mathbf h + W_3 * \mathrm{ReLU}(M_B \odot W_2 *
              \mathrm{ReLU}(W_1 * \mathrm{ReLU}(\mathbf h)))

    with :math:`W_1` a 1x1 convolution from :math:`2h` to :math:`h` channels,
    :math:`W_2` the masked one (:class:`~lessons_lib.models.layers.MaskedConv2d`,
    type "B") and :math:`W_3` a 1x1 convolution back to :math:`2h` (van den Oord et
    al., 2016, "Pixel Recurrent Neural Networks", Fig. 5). 1x1 convolutions mix
    channels of one pixel only, so the block keeps the type-B guarantee: its output
    at a pixel depends on the input at that pixel and the ones before it.

    Parameters
    ----------
    channels : int
        :math:`2h`, even.
    kernel_size : int
        Odd, at least 3.

    Shapes
    ------
    ``forward(h)``: ``(batch, channels, height, width)`` → the same.

    Raises
    ------
    TypeError, ValueError
        ``channels`` not a positive even int, ``kernel_size`` not odd and at least 3.

    Examples
    --------
    >>> block = ResidualBlock(8, 3)
    >>> block(torch.zeros(2, 8, 5, 6)).shape
    torch.Size([2, 8, 5, 6])
    """

    def __init__(self, channels: int, kernel_size: int = 3):
        super().__init__()
        c = positive_int(channels, "channels", "a positive even int")
        if c % 2:
            raise ValueError(f"channels must be a positive even int (the block halves it), got {c}")
        self.down = nn.Conv2d(c, c // 2, 1)
        self.conv = MaskedConv2d(c // 2, c // 2, _kernel(kernel_size), "B")
        self.up = nn.Conv2d(c // 2, c, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(F.relu(self.conv(F.relu(self.down(F.relu(h))))))


class PixelCNN(nn.Module):
    r"""The plain PixelCNN: a type-A masked convolution, type-B residual blocks, a 1x1 head to ``levels`` logits.

    .. math:: \log p_\theta(\mathbf x) = \sum_{i,j} \log \mathrm{softmax}(\mathbf z_{ij})_{x_{ij}}, \qquad
              \mathbf z = f_\theta(\mathbf x), \quad \mathbf z_{ij} \text{ a function of }
              \{x_{i'j'} : (i', j') \prec (i, j)\}

    where :math:`\prec` is "before in raster order". The first layer
    (type A, ``first_kernel_size``) maps the input (:func:`to_inputs`) to
    ``channels`` features and never sees the pixel it sits on; ``n_blocks``
    :class:`ResidualBlock` follow; the head is ReLU, a 1x1 convolution,
    ReLU, and a 1x1 convolution to the logits (van den Oord et al., 2016,
    "Pixel Recurrent Neural Networks", Sec. 3.4-3.5 and Table 4). With
    3x3 kernels the output at :math:`(i, j)` depends on pixel
    :math:`(i - r, j + c)`, :math:`r \ge 1`, only if :math:`c \le r`: the blind
    spot (see :func:`blind_spot`).

    Parameters
    ----------
    levels : int
        :math:`K \ge 2` grey levels; the softmax has ``levels`` classes.
    channels : int, default 32
        Features between blocks (even).
    n_blocks : int, default 4
        Residual blocks (0: the type-A layer and the head only).
    kernel_size : int, default 3
        Of the blocks' masked convolutions (odd, at least 3).
    first_kernel_size : int, optional
        Of the type-A layer (default ``kernel_size``; the paper uses 7).
    head_channels : int, optional
        Of the head's hidden 1x1 layer (default ``channels``).

    Attributes
    ----------
    first : MaskedConv2d
    blocks : nn.Sequential of ResidualBlock
    head : nn.Sequential

    Shapes
    ------
    ``forward(x)``: integer images ``(batch, height, width)`` → logits
    ``(batch, levels, height, width)``. ``forward_inputs(u)``: the same from the
    float input ``(batch, 1, height, width)`` (for :func:`dependency_map`).

    Raises
    ------
    TypeError, ValueError
        A size out of range; in ``forward``, ``x`` not integer, not 3-D or
        outside ``0 .. levels - 1``; ``y`` given (the plain model is
        unconditional).

    Examples
    --------
    >>> net = PixelCNN(levels=17, channels=8, n_blocks=2)
    >>> net(torch.randint(0, 17, (3, 8, 8))).shape
    torch.Size([3, 17, 8, 8])
    """

    n_classes = None

    def __init__(self, levels: int, channels: int = 32, n_blocks: int = 4, kernel_size: int = 3,
                 first_kernel_size: int | None = None, head_channels: int | None = None):
        super().__init__()
        self.levels = _levels(levels)
        c = positive_int(channels, "channels", "a positive even int")
        if c % 2:
            raise ValueError(f"channels must be a positive even int, got {c}")
        if isinstance(n_blocks, bool) or not isinstance(n_blocks, int) or n_blocks < 0:
            raise ValueError(f"n_blocks must be an int >= 0, got {n_blocks!r}")
        k = _kernel(kernel_size)
        k1 = k if first_kernel_size is None else _kernel(first_kernel_size, "first_kernel_size")
        hidden = c if head_channels is None else positive_int(head_channels, "head_channels")
        self.first = MaskedConv2d(1, c, k1, "A")
        self.blocks = nn.Sequential(*(ResidualBlock(c, k) for _ in range(n_blocks)))
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, self.levels, 1))

    def forward_inputs(self, u: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, levels, height, width)`` from the float input ``u`` ``(batch, 1, height, width)``."""
        u = _check_inputs(u)
        _check_labels(y, None, u.shape[0])
        return self.head(self.blocks(self.first(u)))

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_inputs(to_inputs(x, self.levels).to(self.head[-1].weight.dtype), y)


# --------------------------------------------------------------------------- the gated PixelCNN


class GatedLayer(nn.Module):
    r"""One layer of the gated PixelCNN: a vertical and a horizontal stack, gated, linked, optionally conditioned.

    .. math::

        \mathbf a^v &= W^v * \mathbf v + V^v \mathbf e_c, \qquad
        \mathbf v' = \tanh(\mathbf a^v_f) \odot \sigma(\mathbf a^v_g) \\
        \mathbf a^h &= W^h * \mathbf h + U \mathbf a^v + V^h \mathbf e_c, \qquad
        \mathbf h' = [\mathbf h +]\; W_o (\tanh(\mathbf a^h_f) \odot \sigma(\mathbf a^h_g))

    where each pre-activation :math:`\mathbf a` has :math:`2p` channels split into
    the halves :math:`f` (filter) and :math:`g` (gate), :math:`U` and :math:`W_o`
    are 1x1 convolutions, and :math:`\mathbf e_c` is the one-hot class (an
    ``nn.Embedding``) when the model is conditional (van den Oord et al., 2016,
    "Conditional Image Generation with PixelCNN Decoders", Eq. 2-4, Fig. 2).

    Which pixels each stack sees, :math:`c = \lfloor k/2 \rfloor`:

    - vertical, :math:`W^v` of shape :math:`(c + 1) \times k` (type "B") on the
      previous vertical features, rows :math:`i - c \dots i`, columns
      :math:`j - c \dots j + c`; for the first layer (type "A") :math:`c \times k`
      on the image, rows :math:`i - c \dots i - 1`. So :math:`\mathbf v` at row
      :math:`i` always depends on image rows above :math:`i` only, and may feed
      the horizontal stack of row :math:`i` without a shift.
    - horizontal, :math:`W^h` of shape :math:`1 \times (c + 1)` (type "B"),
      columns :math:`j - c \dots j` of the previous horizontal features, with the
      residual connection; for the first layer (type "A") :math:`1 \times c` on
      the image, columns :math:`j - c \dots j - 1`, and no residual.

    Each convolution is padded on the top (vertical) or the left (horizontal)
    only, so these sets hold exactly, with zeros outside the image.

    Parameters
    ----------
    in_channels : int
        1 for the first layer (the image), else ``channels``.
    channels : int
        :math:`p`, features of each stack.
    kernel_size : int
        :math:`k`, odd, at least 3.
    mask_type : {"A", "B"}
    n_classes : int, optional
        Classes of the conditioning; ``None``: unconditional.

    Shapes
    ------
    ``forward(v, h, y=None)``: ``v, h`` of shape ``(batch, in_channels, height,
    width)``, ``y`` ``(batch,)`` → ``(v', h')``, each ``(batch, channels, height, width)``.

    Raises
    ------
    TypeError, ValueError
        A size out of range; ``mask_type`` not "A" or "B"; a type-B layer
        whose ``in_channels`` differ from ``channels``.

    Examples
    --------
    >>> layer = GatedLayer(1, 4, 3, "A")
    >>> v, h = layer(torch.zeros(2, 1, 5, 6), torch.zeros(2, 1, 5, 6))
    >>> v.shape, h.shape
    (torch.Size([2, 4, 5, 6]), torch.Size([2, 4, 5, 6]))
    """

    def __init__(self, in_channels: int, channels: int, kernel_size: int, mask_type: str,
                 n_classes: int | None = None):
        super().__init__()
        c_in, p = positive_int(in_channels, "in_channels"), positive_int(channels, "channels")
        k = _kernel(kernel_size)
        if mask_type not in ("A", "B"):
            raise ValueError(f"mask_type must be 'A' (first layer) or 'B', got {mask_type!r}")
        if mask_type == "B" and c_in != p:
            raise ValueError(f"a type-B layer keeps its width: in_channels must equal channels ({p}), got {c_in}")
        self.mask_type, self.kernel_size, self.channels = mask_type, k, p
        c = k // 2
        rows = c if mask_type == "A" else c + 1
        cols = c if mask_type == "A" else c + 1
        self.vertical = nn.Conv2d(c_in, 2 * p, (rows, k))
        self.horizontal = nn.Conv2d(c_in, 2 * p, (1, cols))
        self.link = nn.Conv2d(2 * p, 2 * p, 1, bias=False)
        self.out = nn.Conv2d(p, p, 1)
        self.n_classes = None if n_classes is None else positive_int(n_classes, "n_classes")
        if self.n_classes is not None:
            self.cond_vertical = nn.Embedding(self.n_classes, 2 * p)
            self.cond_horizontal = nn.Embedding(self.n_classes, 2 * p)

    @staticmethod
    def _gate(a: torch.Tensor) -> torch.Tensor:
        f, g = a.chunk(2, dim=1)
        return torch.tanh(f) * torch.sigmoid(g)

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None = None):
        height, width = v.shape[-2:]
        c = self.kernel_size // 2
        # Top padding c: output row i sees padded rows i..i+rows-1 = image rows i-c..i-c+rows-1.
        a_v = self.vertical(F.pad(v, (c, c, c, 0)))[..., :height, :]
        a_h = self.horizontal(F.pad(h, (c, 0, 0, 0)))[..., :width] + self.link(a_v)
        if y is not None:
            a_v = a_v + self.cond_vertical(y)[:, :, None, None]
            a_h = a_h + self.cond_horizontal(y)[:, :, None, None]
        h_new = self.out(self._gate(a_h))
        return self._gate(a_v), (h_new if self.mask_type == "A" else h + h_new)


class GatedPixelCNN(nn.Module):
    r"""The gated PixelCNN: stacked :class:`GatedLayer` (vertical and horizontal stacks), no blind spot.

    .. math:: p_\theta(\mathbf x \mid c) = \prod_{i,j} \mathrm{softmax}(\mathbf z_{ij})_{x_{ij}},
              \qquad \mathbf z = \mathrm{head}(\mathbf h^{(L)})

    One type-A :class:`GatedLayer` from the image, ``n_layers - 1`` type-B
    ones, and the head (ReLU, 1x1, ReLU, 1x1 to ``levels`` logits) on the
    horizontal stack's output (van den Oord et al., 2016, "Conditional Image
    Generation with PixelCNN Decoders"). With :math:`k = 3` and :math:`L`
    layers the output at :math:`(i, j)` depends on every pixel :math:`(i', j')`
    with :math:`i - L \le i' < i` and :math:`|j' - j| \le L`, and on
    :math:`(i, j - L) \dots (i, j - 1)`: on a canvas of :math:`H \times W`
    pixels, :math:`L \ge \max(H, W) - 1` layers see every past pixel of every
    output (tested with :func:`dependency_map`).

    Parameters
    ----------
    levels : int
        :math:`K \ge 2` grey levels.
    channels : int, default 32
        :math:`p`, features of each stack.
    n_layers : int, default 6
        :math:`L \ge 1` gated layers.
    kernel_size : int, default 3
        Odd, at least 3.
    n_classes : int, optional
        Condition every layer on a class label ``y`` (``None``: unconditional).
    head_channels : int, optional
        Of the head's hidden 1x1 layer (default ``channels``).

    Shapes
    ------
    ``forward(x, y=None)``: integer images ``(batch, height, width)`` and, when
    conditional, classes ``(batch,)`` → logits ``(batch, levels, height, width)``.
    ``forward_inputs(u, y=None)``: the same from the float input
    ``(batch, 1, height, width)``.

    Raises
    ------
    TypeError, ValueError
        A size out of range; ``x`` as for :class:`PixelCNN`; ``y`` missing
        for a conditional model, given for an unconditional one, of the wrong
        shape or outside ``0 .. n_classes - 1``.

    Examples
    --------
    >>> net = GatedPixelCNN(levels=17, channels=8, n_layers=3, n_classes=10)
    >>> net(torch.randint(0, 17, (2, 8, 8)), torch.tensor([3, 7])).shape
    torch.Size([2, 17, 8, 8])
    """

    def __init__(self, levels: int, channels: int = 32, n_layers: int = 6, kernel_size: int = 3,
                 n_classes: int | None = None, head_channels: int | None = None):
        super().__init__()
        self.levels = _levels(levels)
        p = positive_int(channels, "channels")
        n = positive_int(n_layers, "n_layers")
        k = _kernel(kernel_size)
        self.n_classes = None if n_classes is None else positive_int(n_classes, "n_classes")
        hidden = p if head_channels is None else positive_int(head_channels, "head_channels")
        self.layers = nn.ModuleList([GatedLayer(1, p, k, "A", self.n_classes)]
                                    + [GatedLayer(p, p, k, "B", self.n_classes) for _ in range(n - 1)])
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(p, hidden, 1), nn.ReLU(), nn.Conv2d(hidden, self.levels, 1))

    def forward_inputs(self, u: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(batch, levels, height, width)`` from the float input ``u`` ``(batch, 1, height, width)``."""
        u = _check_inputs(u)
        y = _check_labels(y, self.n_classes, u.shape[0])
        v = h = u
        for layer in self.layers:
            v, h = layer(v, h, y)
        return self.head(h)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.forward_inputs(to_inputs(x, self.levels).to(self.head[-1].weight.dtype), y)


# --------------------------------------------------------------------------- sampling and likelihood


@torch.no_grad()
def sample(model: nn.Module, n_images: int, height: int, width: int, *, y: torch.Tensor | None = None,
           generator: torch.Generator | None = None, return_logits: bool = False):
    r"""Draw images pixel by pixel in raster order, each pixel from the softmax of its logits.

    .. math:: x_{ij} \sim \mathrm{softmax}\big(\mathbf z_{ij}(\mathbf x_{\prec ij})\big)

    Starts from an image of zeros; at step :math:`(i, j)` one forward pass of
    the whole image gives the logits :math:`\mathbf z_{ij}`, which depend only on
    the pixels already drawn (causality), and :math:`x_{ij}` is drawn from their
    softmax with ``torch.multinomial``. :math:`H W` forward passes in all: a
    PixelCNN trains in parallel but generates one pixel at a time.

    Parameters
    ----------
    model : PixelCNN or GatedPixelCNN
        Any module with ``levels`` and ``forward(x, y)`` returning
        ``(batch, levels, height, width)`` logits.
    n_images, height, width : int
    y : LongTensor, shape (n_images,), optional
        Classes, for a conditional model.
    generator : torch.Generator, optional
        The only source of randomness (on the model's device); ``None``: torch's global one.
    return_logits : bool, default False
        Also return the logits used at each step.

    Returns
    -------
    x : LongTensor, shape (n_images, height, width)
    logits : Tensor, shape (n_images, levels, height, width)
        Only with ``return_logits``: at :math:`(i, j)`, the logits from which
        :math:`x_{ij}` was drawn (equal to ``model(x)`` at that pixel).

    Raises
    ------
    TypeError, ValueError
        ``n_images``, ``height`` or ``width`` not a positive int; ``y`` as in the model's forward.

    Examples
    --------
    >>> net = GatedPixelCNN(levels=4, channels=4, n_layers=2)
    >>> a = sample(net, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    >>> b = sample(net, 2, 3, 3, generator=torch.Generator().manual_seed(1))
    >>> a.shape, bool(torch.equal(a, b)), int(a.max()) < 4
    (torch.Size([2, 3, 3]), True, True)
    """
    n, height, width = (positive_int(v, name) for v, name in ((n_images, "n_images"), (height, "height"),
                                                                (width, "width")))
    weight = next(model.parameters())
    x = torch.zeros(n, height, width, dtype=torch.long, device=weight.device)
    used = torch.zeros(n, model.levels, height, width, dtype=weight.dtype, device=weight.device) if return_logits else None
    for i in range(height):
        for j in range(width):
            z = model(x, y)[:, :, i, j]
            x[:, i, j] = torch.multinomial(torch.softmax(z.float(), dim=1), 1, generator=generator)[:, 0]
            if return_logits:
                used[:, :, i, j] = z
    return (x, used) if return_logits else x


def bits_per_dim(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The negative log-likelihood of images in bits per pixel, averaged over the batch.

    .. math:: \mathrm{bpd} = -\frac{1}{B H W \ln 2} \sum_{b,i,j} \log \mathrm{softmax}(\mathbf z_{bij})_{x_{bij}}

    With :math:`K` levels, the uniform model scores :math:`\log_2 K`; a model that
    puts probability 1 on every pixel, 0.

    Parameters
    ----------
    logits : Tensor, shape (batch, levels, height, width)
    x : LongTensor, shape (batch, height, width)
        Grey levels ``0 .. levels - 1``.

    Returns
    -------
    Tensor, a scalar (differentiable: minimising it trains the model)

    Raises
    ------
    TypeError, ValueError
        ``logits`` not a floating 4-D tensor; ``x`` not integer, of another
        batch, height or width, or outside ``0 .. levels - 1``.

    Examples
    --------
    >>> round(bits_per_dim(torch.zeros(1, 17, 8, 8), torch.zeros(1, 8, 8, dtype=torch.long)).item(), 4)
    4.0875
    >>> round(bits_per_dim(torch.tensor([[[[0.0]], [[math.log(3.0)]]]]), torch.tensor([[[1]]])).item(), 6)  # p = 3/4
    0.415037
    """
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim != 4:
        raise TypeError("logits must be a floating tensor of shape (batch, levels, height, width)")
    x = _check_images(x, logits.shape[1])
    if x.shape != (logits.shape[0], *logits.shape[2:]):
        raise ValueError(f"x must have shape (batch, height, width) = {(logits.shape[0], *logits.shape[2:])}, "
                         f"got {tuple(x.shape)}")
    return F.cross_entropy(logits, x) / math.log(2.0)


def independent_pixel_logits(x_train: torch.Tensor, levels: int, alpha: float = 1.0) -> torch.Tensor:
    r"""The independent-pixel baseline: one categorical per pixel position, fitted by counting (with smoothing).

    .. math:: \log q(x_{ij} = v) = \log \frac{n_{ij}(v) + \alpha}{N + K\alpha}

    where :math:`n_{ij}(v)` counts the training images with level :math:`v` at
    :math:`(i, j)` and :math:`N` is their number (:math:`\alpha = 1`: add-one
    smoothing, Laplace's rule, so that a level never seen at a position keeps a
    finite cost). It ignores every other pixel: what a PixelCNN gains over it is
    what the context tells.

    Parameters
    ----------
    x_train : LongTensor, shape (n, height, width)
    levels : int
        :math:`K \ge 2`.
    alpha : float, default 1.0
        :math:`\alpha > 0`.

    Returns
    -------
    Tensor, shape (1, levels, height, width), float64
        Log-probabilities, broadcastable as logits: ``bits_per_dim(q.expand(B, -1, -1, -1), x)``.

    Raises
    ------
    TypeError, ValueError
        ``levels`` < 2, ``x_train`` not integer 3-D images in ``0 .. levels - 1`` or empty, ``alpha`` <= 0.

    Examples
    --------
    Three images of one pixel, levels 0, 0, 1 of 3: :math:`(2+1)/6, (1+1)/6, (0+1)/6`.

    >>> q = independent_pixel_logits(torch.tensor([[[0]], [[0]], [[1]]]), 3).exp().flatten()
    >>> [round(v, 6) for v in q.tolist()]
    [0.5, 0.333333, 0.166667]
    """
    k = _levels(levels)
    x = _check_images(x_train, k, "x_train")
    if len(x) == 0:
        raise ValueError("x_train must hold at least one image")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a number > 0, got {alpha!r}")
    counts = F.one_hot(x, k).sum(0).permute(2, 0, 1).double()  # (levels, height, width)
    return (torch.log(counts + alpha) - math.log(len(x) + k * alpha)).unsqueeze(0)


# --------------------------------------------------------------------------- the blind spot, measured


def past_pixels(height: int, width: int, pixel: tuple[int, int]) -> torch.Tensor:
    r"""The pixels before ``pixel`` in raster order: :math:`\{(i', j') : i' < i \text{ or } (i' = i, j' < j)\}`.

    Parameters
    ----------
    height, width : int
    pixel : tuple (i, j)
        Row and column on the canvas.

    Returns
    -------
    BoolTensor, shape (height, width)

    Raises
    ------
    TypeError, ValueError
        A size not a positive int; ``pixel`` not a pair on the canvas.

    Examples
    --------
    >>> past_pixels(3, 3, (1, 1)).int().tolist()
    [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    """
    h, w = positive_int(height, "height"), positive_int(width, "width")
    i, j = _pixel(pixel, h, w)
    return (torch.arange(h * w) < i * w + j).reshape(h, w)


def dependency_map(model: nn.Module, height: int, width: int, pixel: tuple[int, int], *,
                   y: torch.Tensor | None = None, n_draws: int = 8,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Which input pixels the output at ``pixel`` depends on, from input gradients.

    .. math:: D_{i'j'} = \bigvee_{d=1}^{n} \Big[\frac{\partial\, \mathbf w_d^\top \mathbf z_{ij}(\mathbf u_d)}
              {\partial u_{i'j'}} \ne 0\Big]

    for :math:`n` random inputs :math:`\mathbf u_d` (standard normal, float64) and
    random projections :math:`\mathbf w_d` of the ``levels`` logits. A weight that
    a mask zeroes, or a padding that cuts a path, gives a gradient of exactly
    zero, so :math:`D` never holds a pixel the output cannot depend on; a pixel
    the output does depend on could show a zero gradient at one input by accident
    (a ReLU off along every path), hence the union over several draws. Runs on a
    float64 copy of the model (the model itself is left alone).

    Parameters
    ----------
    model : PixelCNN or GatedPixelCNN
        Needs ``forward_inputs(u, y)``.
    height, width : int
        The canvas.
    pixel : tuple (i, j)
        The output pixel.
    y : LongTensor, shape (1,), optional
        The class, for a conditional model.
    n_draws : int, default 8
    generator : torch.Generator, optional
        Draws the inputs and projections (CPU); ``None``: seeded with 0.

    Returns
    -------
    BoolTensor, shape (height, width)

    Raises
    ------
    TypeError, ValueError
        A size not a positive int, ``pixel`` off the canvas, ``y`` as in the model.

    Examples
    --------
    One type-A 3x3 layer and the head: the output at (1, 1) sees its left
    neighbour and the three pixels above.

    >>> net = PixelCNN(levels=4, channels=16, n_blocks=0)
    >>> dependency_map(net, 3, 3, (1, 1)).int().tolist()
    [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    """
    h, w = positive_int(height, "height"), positive_int(width, "width")
    i, j = _pixel(pixel, h, w)
    n = positive_int(n_draws, "n_draws")
    generator = torch.Generator().manual_seed(0) if generator is None else generator
    probe = copy.deepcopy(model).double().cpu()
    for p in probe.parameters():
        p.requires_grad_(False)
    seen = torch.zeros(h, w, dtype=torch.bool)
    for _ in range(n):
        u = torch.randn(1, 1, h, w, dtype=torch.float64, generator=generator).requires_grad_(True)
        projection = torch.randn(model.levels, dtype=torch.float64, generator=generator)
        z = probe.forward_inputs(u, None if y is None else y.cpu())[0, :, i, j]
        (grad,) = torch.autograd.grad(z @ projection, u)
        seen |= grad[0, 0] != 0
    return seen


def blind_spot(model: nn.Module, height: int, width: int, pixel: tuple[int, int], **kwargs) -> torch.Tensor:
    r"""The past pixels the output at ``pixel`` does not depend on: :func:`past_pixels` and not :func:`dependency_map`.

    Parameters
    ----------
    model, height, width, pixel, **kwargs
        As for :func:`dependency_map`.

    Returns
    -------
    BoolTensor, shape (height, width)

    Raises
    ------
    TypeError, ValueError
        As :func:`dependency_map`.

    Examples
    --------
    Two 3x3 layers (type A, one type-B block): the output at (2, 1) misses
    (0, 4), two rows up and three columns right, though it comes before.

    >>> net = PixelCNN(levels=4, channels=16, n_blocks=1)
    >>> blind_spot(net, 3, 5, (2, 1)).int().tolist()
    [[0, 0, 0, 0, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 0]]
    """
    return past_pixels(height, width, pixel) & ~dependency_map(model, height, width, pixel, **kwargs)

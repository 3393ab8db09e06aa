r"""Normalizing flows: invertible layers with cheap log-determinants, and the flows built from them.

A normalizing flow is an invertible, differentiable map :math:`\mathbf z = f(\mathbf x)` from
data to a latent vector of the same size, with a simple base density :math:`p_Z` (here the
standard normal). The change of variables gives the model's density of the data exactly,

.. math::
    \log p_X(\mathbf x) = \log p_Z(f(\mathbf x)) + \log\lvert\det \mathbf J_f(\mathbf x)\rvert,
    \qquad \mathbf J_f(\mathbf x) = \partial f / \partial \mathbf x,

and generation runs the inverse, :math:`\mathbf x = f^{-1}(\mathbf z)` with
:math:`\mathbf z \sim p_Z`. A flow is a composition :math:`f = f_K \circ \dots \circ f_1` of
steps whose Jacobians are triangular or tiny, so that each log-determinant costs
:math:`O(D)` instead of the :math:`O(D^3)` of a general determinant; the log-determinants of
the steps add up (Dinh et al., 2017; Kingma and Dhariwal, 2018; Papamakarios et al., 2021).

==================================  =================================================================
piece                               what it is
==================================  =================================================================
:class:`ActNorm`                    per-channel scale and bias, initialised from the first batch (Glow)
:class:`InvertibleConv1x1`          a learned :math:`C \times C` channel mixing, plain or LU (Glow)
:class:`AffineCoupling`             :math:`\mathbf y_b = \mathbf x_b \odot \exp(s(\mathbf x_a)) + t(\mathbf x_a)`
                                    (RealNVP), masks by channels or checkerboard, optional conditioning
:class:`AdditiveCoupling`           :math:`\mathbf y_b = \mathbf x_b + t(\mathbf x_a)`, volume-preserving (NICE)
:class:`ChannelLinear`              a 1x1 convolution as a linear layer over channels (coupling MLPs)
:class:`Permutation`                a fixed permutation of the channels
:class:`Reverse`                    the channels in reverse order (RealNVP's alternation, WaveGlow)
:func:`squeeze2d`                   images: each 2x2 block of pixels into 4 channels
:class:`Squeeze`                    :func:`squeeze2d` as a flow step
:func:`squeeze1d`                   audio: each group of ``factor`` samples into ``factor`` channels
:class:`Squeeze1d`                  :func:`squeeze1d` as a flow step
:class:`Logit`                      RealNVP's logit transform of data in [0, 1) (images)
:class:`Flow`                       steps in sequence: log-determinants summed, inverse run backwards
:func:`standard_normal_log_prob`    :math:`\log p_Z(\mathbf z)` of the base density, the standard normal
:class:`MultiScaleFlow`             levels of steps with factor-out; ``log_prob``, ``sample(n, sigma)``
:func:`realnvp_2d`                  RealNVP for points: couplings of alternating halves
:func:`glow_2d`                     Glow for points: ActNorm, 1x1 convolution, coupling
:func:`realnvp_image`               RealNVP's multi-scale architecture for images
:func:`glow_image`                  Glow's levels for images
:func:`dequantize`                  integer grey levels to :math:`[0, 1)` with uniform noise
:func:`bits_per_dim`                a log-density of dequantised images as discrete bits per dimension
==================================  =================================================================

The layer protocol. Every step is an ``nn.Module`` with

* ``forward(x, cond=None) -> (z, log_det)``: ``z`` the transformed tensor and ``log_det`` of
  shape ``(batch,)``, :math:`\log\lvert\det \mathbf J\rvert` of the map for each example;
* ``inverse(z, cond=None) -> x``.

Shapes. Tensors are ``(batch, channels, T)`` (audio: time last) or ``(batch, channels, H, W)``
(images). :class:`ActNorm`, :class:`InvertibleConv1x1`, :class:`Permutation`,
:class:`Reverse` and :class:`Flow` take either (any number of trailing positions);
:class:`AffineCoupling` and :class:`AdditiveCoupling` take the one their ``spatial_dims``
says (1: ``(batch, C, T)``, the default; 2: ``(batch, C, H, W)``); :class:`Squeeze` takes
images, :class:`Squeeze1d` audio. A batch of vectors ``(batch, D)`` is a ``(batch, D, 1)``
tensor here: channels are the coordinates, one position. ``cond`` (conditioning, e.g. an
upsampled mel) is ``(batch, cond_channels, *positions)`` with the positions of ``x``; steps
that take no conditioning accept and ignore it, so that a :class:`Flow` can pass it to all.

Chapter: ``notebooks/07d_flows.ipynb`` (the layers); ``notebooks/07e_flow_vocoders.ipynb``
(WaveGlow and FloWaveNet build on them).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .._checks import positive_int, real_number

__all__ = ["ActNorm", "InvertibleConv1x1", "AffineCoupling", "AdditiveCoupling", "Permutation", "Reverse",
           "ChannelLinear", "Logit", "squeeze2d", "unsqueeze2d", "Squeeze", "squeeze1d", "unsqueeze1d", "Squeeze1d",
           "Flow",
           "standard_normal_log_prob", "MultiScaleFlow", "realnvp_2d", "glow_2d", "realnvp_image", "glow_image",
           "dequantize", "bits_per_dim"]


# --------------------------------------------------------------------------- checks


def _check_input(x, name: str, channels: int | None = None, ndim: int | tuple[int, ...] | None = None,
                 shape: str = "(batch, channels, *positions)") -> torch.Tensor:
    """A floating-point tensor with at least a batch, a channel and one position axis."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape {shape}, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if x.ndim < 3 or (allowed is not None and x.ndim not in allowed):
        raise ValueError(f"{name} must have shape {shape}, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name} must have {channels} channels (axis 1), got shape {tuple(x.shape)}")
    return x


def _positions(x: torch.Tensor) -> int:
    """The number of positions per channel: T for audio, H W for images."""
    return math.prod(x.shape[2:])


def _per_channel(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A ``(C,)`` vector shaped to broadcast over ``(batch, C, *positions)``."""
    return v.reshape((1, -1) + (1,) * (x.ndim - 2))


def _constant_log_det(value: torch.Tensor | float, x: torch.Tensor) -> torch.Tensor:
    """The same log-determinant for every example, shape (batch,)."""
    return torch.as_tensor(value, dtype=x.dtype, device=x.device).expand(x.shape[0]).clone()


# --------------------------------------------------------------------------- ActNorm


class ActNorm(nn.Module):
    r"""Activation normalization (Glow): a per-channel affine map, initialised from the data.

    .. math::
        \mathbf y_{:, c, \cdot} = s_c\, \mathbf x_{:, c, \cdot} + b_c, \qquad
        \log\lvert\det \mathbf J\rvert = P \sum_c \log\lvert s_c\rvert,

    with :math:`P` the number of positions per channel (``T``, or ``H W``). The scale is stored
    as its logarithm (``log_scale``), so :math:`s_c = \exp(\cdot) > 0` never crosses zero and the
    map stays invertible. Data-dependent initialisation: the first ``forward`` call sets
    :math:`s_c = 1/\sqrt{\operatorname{var}_c + \epsilon}` and :math:`b_c = -\operatorname{mean}_c\, s_c`
    (statistics over the batch and the positions), so that its own output has zero mean and
    unit variance per channel, and records it in the buffer ``initialized`` (saved with the
    state dict, so a loaded model is not re-initialised).

    Parameters
    ----------
    channels : int
        :math:`C`.
    eps : float, default 1e-6
        Added to the variance at initialisation (a constant channel gets a large, finite scale).

    Raises
    ------
    TypeError, ValueError
        For a bad ``channels``/``eps`` or an input that is not a float ``(batch, C, *positions)`` tensor.
    RuntimeError
        ``inverse`` before the layer was initialised by a ``forward`` call.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> x = 3 + 2 * torch.randn(64, 4, 10, generator=g, dtype=torch.float64)
    >>> norm = ActNorm(4).double()
    >>> z, log_det = norm(x)
    >>> z.mean(dim=(0, 2)).abs().max() < 1e-12, (z.var(dim=(0, 2), unbiased=False) - 1).abs().max() < 1e-6
    (tensor(True), tensor(True))
    >>> log_det.shape, bool(torch.allclose(norm.inverse(z), x, rtol=0, atol=1e-12))
    (torch.Size([64]), True)
    """

    def __init__(self, channels: int, *, eps: float = 1e-6):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.eps = real_number(eps, "eps")
        if self.eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.log_scale = nn.Parameter(torch.zeros(self.channels))
        self.bias = nn.Parameter(torch.zeros(self.channels))
        self.register_buffer("initialized", torch.tensor(False))

    @property
    def scale(self) -> torch.Tensor:
        r""":math:`\mathbf s`, shape (C,)."""
        return self.log_scale.exp()

    @torch.no_grad()
    def initialize(self, x: torch.Tensor) -> None:
        """Set scale and bias so that ``x`` comes out with zero mean and unit variance per channel."""
        x = _check_input(x, "x", self.channels)
        dims = [0] + list(range(2, x.ndim))
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        log_scale = -0.5 * torch.log(var + self.eps)
        self.log_scale.copy_(log_scale)
        self.bias.copy_(-mean * log_scale.exp())
        self.initialized.fill_(True)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, C, *positions) -> ``(z, log_det)``; ``cond`` is ignored."""
        x = _check_input(x, "x", self.channels)
        if not bool(self.initialized):
            self.initialize(x)
        z = x * _per_channel(self.log_scale.exp(), x) + _per_channel(self.bias, x)
        return z, _positions(x) * self.log_scale.sum().expand(x.shape[0]).to(x.dtype)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` (batch, C, *positions) -> ``x``; ``cond`` is ignored."""
        z = _check_input(z, "z", self.channels)
        if not bool(self.initialized):
            raise RuntimeError("ActNorm is not initialised: call forward on a batch of data first "
                               "(its statistics set the scale and bias), or load a trained state dict")
        return (z - _per_channel(self.bias, z)) * _per_channel((-self.log_scale).exp(), z)

    def extra_repr(self) -> str:
        return f"{self.channels}"


# --------------------------------------------------------------------------- invertible 1x1 convolution


def _random_rotation(channels: int, generator: torch.Generator | None) -> torch.Tensor:
    """An orthogonal matrix with determinant +1 from the QR decomposition of a Gaussian matrix."""
    q, r = torch.linalg.qr(torch.randn(channels, channels, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r)).unsqueeze(0)  # the Haar-distributed orthogonal matrix
    if torch.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


class InvertibleConv1x1(nn.Module):
    r"""The invertible 1x1 convolution of Glow: the same learned channel mixing at every position.

    .. math::
        \mathbf y_{:, \cdot} = \mathbf W \mathbf x_{:, \cdot}, \qquad
        \log\lvert\det \mathbf J\rvert = P \log\lvert\det \mathbf W\rvert,

    with :math:`P` the number of positions. ``lu=False`` stores :math:`\mathbf W` itself
    (``weight``) and takes :math:`\log\lvert\det\mathbf W\rvert` from ``torch.linalg.slogdet``,
    :math:`O(C^3)`. ``lu=True`` stores the LU form
    :math:`\mathbf W = \mathbf P \mathbf L (\mathbf U + \operatorname{diag}(\mathbf s))` with
    :math:`\mathbf P` a fixed permutation (buffer ``p``), :math:`\mathbf L` unit lower triangular
    (parameter ``lower``, its strict lower part used), :math:`\mathbf U` strictly upper triangular
    (``upper``) and :math:`\mathbf s = \operatorname{sign} \odot \exp(\texttt{log\_s})` (fixed
    signs, buffer ``sign_s``), so :math:`\log\lvert\det\mathbf W\rvert = \sum_c \texttt{log\_s}_c`,
    :math:`O(C)`. Both start from the same random rotation (:math:`\det \mathbf W = 1`, log-det 0).

    Parameters
    ----------
    channels : int
        :math:`C`.
    lu : bool, default True
        The LU parametrisation (else the plain matrix).
    generator : torch.Generator, optional
        Draws the initial rotation (default: torch's global generator, as ``nn.Linear``).

    Raises
    ------
    TypeError, ValueError
        For bad arguments or inputs; ``ValueError`` also when :math:`\mathbf W` is singular
        (``forward`` and ``inverse``): a singular map has no inverse and log-det :math:`-\infty`.

    Examples
    --------
    >>> conv = InvertibleConv1x1(3, generator=torch.Generator().manual_seed(0)).double()
    >>> w = conv.weight_matrix()
    >>> bool(torch.allclose(w @ w.T, torch.eye(3, dtype=torch.float64), atol=1e-6))  # a rotation (float32) at first
    True
    >>> x = torch.randn(2, 3, 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    >>> z, log_det = conv(x)
    >>> bool(torch.allclose(conv.inverse(z), x, atol=1e-12)), bool(log_det.abs().max() < 1e-6)  # det W = 1
    (True, True)
    """

    def __init__(self, channels: int, lu: bool = True, *, generator: torch.Generator | None = None):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        if not isinstance(lu, bool):
            raise TypeError(f"lu must be a bool, got {type(lu).__name__}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None, got {type(generator).__name__}")
        self.lu = lu
        w = _random_rotation(self.channels, generator)
        dtype = torch.get_default_dtype()
        if lu:
            p, lower, upper = torch.linalg.lu(w)
            diag = torch.diagonal(upper)
            self.register_buffer("p", p.to(dtype))
            self.register_buffer("sign_s", torch.sign(diag).to(dtype))
            self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1).to(dtype))
            self.register_buffer("eye", torch.eye(channels, dtype=dtype))
            self.lower = nn.Parameter(lower.to(dtype))
            self.upper = nn.Parameter(torch.triu(upper, 1).to(dtype))
            self.log_s = nn.Parameter(diag.abs().log().to(dtype))
        else:
            self.weight = nn.Parameter(w.to(dtype))

    def weight_matrix(self) -> torch.Tensor:
        r""":math:`\mathbf W`, shape (C, C) (assembled from the LU factors when ``lu``)."""
        if not self.lu:
            return self.weight
        lower = self.lower * self.lower_mask + self.eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return self.p @ lower @ upper

    def log_abs_det(self) -> torch.Tensor:
        r""":math:`\log\lvert\det\mathbf W\rvert`, a scalar: :math:`\sum_c \texttt{log\_s}_c` or ``slogdet``."""
        if self.lu:
            return self.log_s.sum()
        return torch.linalg.slogdet(self.weight)[1]

    def _check_invertible(self, log_abs_det: torch.Tensor) -> None:
        if not torch.isfinite(log_abs_det):
            raise ValueError(f"the 1x1 convolution's weight W ({self.channels}x{self.channels}) is singular or "
                             f"not finite (log|det W| = {log_abs_det.item()}): the map has no inverse")

    @staticmethod
    def _mix(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,bc...->bo...", w.to(x.dtype), x)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, C, *positions) -> ``(z, log_det)``; ``cond`` is ignored."""
        x = _check_input(x, "x", self.channels)
        log_abs_det = self.log_abs_det()
        self._check_invertible(log_abs_det.detach())
        log_det = (_positions(x) * log_abs_det).to(x.dtype).expand(x.shape[0])
        return self._mix(self.weight_matrix(), x), log_det

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` (batch, C, *positions) -> ``x`` by :math:`\\mathbf W^{-1}`; ``cond`` is ignored."""
        z = _check_input(z, "z", self.channels)
        w = self.weight_matrix()
        if self.lu:
            log_abs_det = self.log_s.detach().sum()
        else:
            sign, log_abs_det = torch.linalg.slogdet(w.detach())
            if sign == 0:
                log_abs_det = torch.tensor(-math.inf)
        self._check_invertible(log_abs_det)
        return self._mix(torch.linalg.inv(w), z)

    def extra_repr(self) -> str:
        return f"{self.channels}, lu={self.lu}"


# --------------------------------------------------------------------------- coupling layers


_CONV = {1: nn.Conv1d, 2: nn.Conv2d}


class ChannelLinear(nn.Linear):
    """A 1x1 convolution as ``nn.Linear`` over the channel axis of ``(batch, C, *positions)``.

    The same map as ``nn.Conv1d(in_features, out_features, 1)`` (weights ``(out, in)`` instead of
    ``(out, in, 1)``), about twice as fast on small inputs; the default coupling network uses it
    when ``kernel_size=1``.

    Examples
    --------
    >>> layer = ChannelLinear(3, 2)
    >>> conv = nn.Conv1d(3, 2, 1)
    >>> conv.weight.data, conv.bias.data = layer.weight.data[..., None], layer.bias.data
    >>> x = torch.randn(4, 3, 5)
    >>> bool(torch.allclose(layer(x), conv(x), atol=1e-6))
    True
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, in_features, *positions) -> (batch, out_features, *positions)``."""
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)
_MASKS = ("channels", "checkerboard")


class _Coupling(nn.Module):
    """What affine and additive coupling share: the mask, the default network, the checks."""

    n_outputs = 2  # how many tensors of the shape of x_b the network returns (log-scale and shift)

    def __init__(self, channels: int, hidden_channels: int, cond_channels: int = 0, *, mask: str = "channels",
                 parity: int = 0, network: nn.Module | None = None, kernel_size: int = 3, spatial_dims: int = 1):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        self.hidden_channels = positive_int(hidden_channels, "hidden_channels")
        if isinstance(cond_channels, bool) or not isinstance(cond_channels, int) or cond_channels < 0:
            raise ValueError(f"cond_channels must be an int >= 0, got {cond_channels!r}")
        self.cond_channels = cond_channels
        if mask not in _MASKS:
            raise ValueError(f"mask must be one of {_MASKS}, got {mask!r}")
        if mask == "channels" and self.channels < 2:
            raise ValueError(f"a channel mask needs channels >= 2 (one half conditions the other), got {channels}")
        if parity not in (0, 1):
            raise ValueError(f"parity must be 0 or 1, got {parity!r}")
        if spatial_dims not in _CONV:
            raise ValueError(f"spatial_dims must be 1 ((batch, C, T) inputs) or 2 ((batch, C, H, W)), "
                             f"got {spatial_dims!r}")
        kernel_size = positive_int(kernel_size, "kernel_size")
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (same-length padding), got {kernel_size}")
        if network is not None and not isinstance(network, nn.Module):
            raise TypeError(f"network must be an nn.Module or None, got {type(network).__name__}")
        self.mask, self.parity, self.spatial_dims, self.kernel_size = mask, parity, spatial_dims, kernel_size
        half = self.channels // 2
        if mask == "channels":
            self.channels_a = half if parity == 0 else self.channels - half
        else:
            self.channels_a = self.channels  # the masked input keeps all channels
        self.channels_b = self.channels - self.channels_a if mask == "channels" else self.channels
        self._custom = network is not None
        self.network = network if network is not None else self._default_network()

    def _default_network(self) -> nn.Sequential:
        k, pad = self.kernel_size, self.kernel_size // 2
        if k == 1:  # an MLP at every position: a linear layer over channels is the same map, and faster
            def conv(c_in, c_out, kernel, padding=0):
                return ChannelLinear(c_in, c_out)
        else:
            conv = _CONV[self.spatial_dims]
        last = conv(self.hidden_channels, self.n_outputs * self.channels_b, k, padding=pad)
        nn.init.zeros_(last.weight)  # a fresh coupling is the identity map
        nn.init.zeros_(last.bias)
        return nn.Sequential(conv(self.channels_a + self.cond_channels, self.hidden_channels, k, padding=pad),
                             nn.ReLU(), conv(self.hidden_channels, self.hidden_channels, 1), nn.ReLU(), last)

    # ---- masks

    def _checkerboard(self, x: torch.Tensor) -> torch.Tensor:
        """1 where x_a lives (the conditioning positions), 0 elsewhere; shape (1, 1, *positions)."""
        grids = torch.meshgrid(*[torch.arange(n, device=x.device) for n in x.shape[2:]], indexing="ij")
        m = (sum(grids) + self.parity) % 2 == 0
        return m.to(x.dtype).reshape((1, 1) + tuple(x.shape[2:]))

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.mask == "checkerboard":
            m = self._checkerboard(x)
            return x * m, x * (1 - m)
        if self.parity == 0:
            return x[:, :self.channels_a], x[:, self.channels_a:]
        return x[:, self.channels_b:], x[:, :self.channels_b]

    def _join(self, x_a: torch.Tensor, y_b: torch.Tensor) -> torch.Tensor:
        if self.mask == "checkerboard":
            m = self._checkerboard(x_a)
            return x_a * m + y_b * (1 - m)
        return torch.cat([x_a, y_b] if self.parity == 0 else [y_b, x_a], dim=1)

    def _b_mask(self, x: torch.Tensor) -> torch.Tensor | float:
        """Where the transformed part lives, to zero the network's output elsewhere (checkerboard)."""
        return 1 - self._checkerboard(x) if self.mask == "checkerboard" else 1.0

    # ---- the network

    def _check(self, x, name: str, cond) -> tuple[torch.Tensor, torch.Tensor | None]:
        shape = "(batch, channels, T)" if self.spatial_dims == 1 else "(batch, channels, H, W)"
        x = _check_input(x, name, self.channels, ndim=2 + self.spatial_dims, shape=shape)
        if self.cond_channels == 0:
            if cond is not None:
                raise ValueError("cond was given but this coupling was built with cond_channels=0")
            return x, None
        if cond is None:
            raise ValueError(f"cond is required: this coupling was built with cond_channels={self.cond_channels}")
        cond_shape = (x.shape[0], self.cond_channels) + tuple(x.shape[2:])
        if not isinstance(cond, torch.Tensor):
            raise TypeError(f"cond must be a torch.Tensor of shape {cond_shape}, got {type(cond).__name__}")
        if tuple(cond.shape) != cond_shape:
            raise ValueError(f"cond must have shape (batch, cond_channels, *positions of {name}) = {cond_shape}, "
                             f"got {tuple(cond.shape)}")
        return x, cond

    def _run_network(self, x_a: torch.Tensor, cond: torch.Tensor | None) -> tuple[torch.Tensor, ...]:
        inputs = x_a if cond is None else torch.cat([x_a, cond.to(x_a.dtype)], dim=1)
        h = self.network(x_a, cond) if self._custom else self.network(inputs)
        expected = (x_a.shape[0], self.n_outputs * self.channels_b) + tuple(x_a.shape[2:])
        if not isinstance(h, torch.Tensor) or tuple(h.shape) != expected:
            got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
            raise ValueError(f"the coupling network must return a tensor of shape (batch, {self.n_outputs} * "
                             f"channels_b, *positions) = {expected}, got {got}")
        return h.chunk(self.n_outputs, dim=1)

    def extra_repr(self) -> str:
        return (f"{self.channels}, {self.hidden_channels}, cond_channels={self.cond_channels}, mask={self.mask!r}, "
                f"parity={self.parity}")


class AffineCoupling(_Coupling):
    r"""The affine coupling layer of RealNVP: half of the input scales and shifts the other half.

    .. math::
        \mathbf y_a = \mathbf x_a, \qquad
        \mathbf y_b = \mathbf x_b \odot \exp\big(s(\mathbf x_a, \mathbf c)\big) + t(\mathbf x_a, \mathbf c),
        \qquad \log\lvert\det \mathbf J\rvert = \textstyle\sum s(\mathbf x_a, \mathbf c),

    and the inverse :math:`\mathbf x_b = (\mathbf y_b - t(\mathbf y_a, \mathbf c)) \odot
    \exp(-s(\mathbf y_a, \mathbf c))`, exact because :math:`\mathbf y_a = \mathbf x_a`. The
    Jacobian is block-triangular with :math:`\exp(s)` on the diagonal of the :math:`\mathbf x_b`
    block, whatever the networks :math:`s(\cdot)`, :math:`t(\cdot)` are; they are never inverted.

    Masks. ``mask="channels"``: :math:`\mathbf x_a` is the first ``channels // 2`` channels and
    :math:`\mathbf x_b` the rest (``parity=1``: :math:`\mathbf x_a` is the last ``channels - channels
    // 2`` channels and :math:`\mathbf x_b` the first ``channels // 2``). ``mask="checkerboard"``:
    :math:`\mathbf x_a` is every position whose index sum is even (odd with ``parity=1``): the
    network sees :math:`\mathbf x` with the :math:`\mathbf x_b` positions zeroed, and its output
    is zeroed on the :math:`\mathbf x_a` positions (RealNVP's spatial mask for images; alternate
    samples for audio). Alternating ``parity`` between layers lets every coordinate be transformed.

    The scale kept stable. The network's first output :math:`h` is bounded softly,
    :math:`s = \beta \tanh(h / \beta)` with :math:`\beta` = ``log_scale_bound`` (default 3): near
    zero :math:`s \approx h`, and one layer never multiplies by more than :math:`e^{\beta}` or less
    than :math:`e^{-\beta}`, so an early, badly scaled step cannot overflow :math:`\exp` and blow up
    the log-determinant (RealNVP bounds :math:`s` with a tanh times a learned scale; Glow uses
    :math:`\operatorname{sigmoid}(h + 2)`, which can only shrink). ``log_scale_bound=None`` uses
    :math:`s = h` unbounded, as WaveGlow does.

    The network. By default a small convolutional network, ``conv(k) -> ReLU -> conv(1) -> ReLU
    -> conv(k)``, ``hidden_channels`` wide, on :math:`\mathbf x_a` concatenated with ``cond``
    along channels; its last convolution starts at zero, so a fresh coupling is the identity.
    A custom ``network`` (an ``nn.Module``) is called as ``network(x_a, cond)`` with ``x_a`` of
    shape ``(batch, channels_a, *positions)`` (``channels_a`` is ``channels`` for a checkerboard
    mask: the masked input) and ``cond`` the tensor given to ``forward`` (``None`` without
    conditioning); it must return ``(batch, 2 * channels_b, *positions)``: the raw log-scale
    :math:`h` in the first ``channels_b`` channels and the shift :math:`t` in the rest (WaveGlow's
    WN puts the shift first: swap the halves when porting its weights). Zero its last layer for
    an identity start. ``hidden_channels`` and ``kernel_size`` then go unused.

    Parameters
    ----------
    channels : int
        :math:`C` of the input.
    hidden_channels : int
        Width of the default network.
    cond_channels : int, default 0
        Channels of the conditioning input ``cond`` (0: no conditioning).
    mask : {"channels", "checkerboard"}, default "channels"
    parity : {0, 1}, default 0
        Which part conditions which (see Masks).
    network : nn.Module, optional
        Replaces the default network (contract above).
    kernel_size : int, default 3
        Odd kernel of the default network's first and last convolution (1: an MLP per position, made of
        :class:`ChannelLinear` layers).
    spatial_dims : {1, 2}, default 1
        1 for ``(batch, C, T)`` inputs, 2 for ``(batch, C, H, W)``.
    log_scale_bound : float or None, default 3.0
        :math:`\beta` above; ``None`` for an unbounded log-scale.

    Attributes
    ----------
    channels_a, channels_b : int
        Channels of :math:`\mathbf x_a` as the network sees it, and of :math:`\mathbf x_b`.

    Raises
    ------
    TypeError, ValueError
        Bad arguments; an input that is not a float tensor with ``channels`` channels; ``cond``
        missing, unexpected or not ``(batch, cond_channels, *positions of x)``; a network output of
        the wrong shape.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> coupling = AffineCoupling(4, 16, cond_channels=2).double()
    >>> x = torch.randn(3, 4, 7, dtype=torch.float64)
    >>> c = torch.randn(3, 2, 7, dtype=torch.float64)
    >>> z, log_det = coupling(x, c)
    >>> bool(torch.equal(z, x)), log_det.tolist()  # a fresh coupling is the identity
    (True, [0.0, 0.0, 0.0])
    >>> with torch.no_grad():
    ...     _ = coupling.network[-1].weight.normal_()
    >>> z, log_det = coupling(x, c)
    >>> bool(torch.equal(z[:, :2], x[:, :2])), bool(torch.allclose(coupling.inverse(z, c), x, atol=1e-12))
    (True, True)
    """

    def __init__(self, channels: int, hidden_channels: int, cond_channels: int = 0, *, mask: str = "channels",
                 parity: int = 0, network: nn.Module | None = None, kernel_size: int = 3, spatial_dims: int = 1,
                 log_scale_bound: float | None = 3.0):
        super().__init__(channels, hidden_channels, cond_channels, mask=mask, parity=parity, network=network,
                         kernel_size=kernel_size, spatial_dims=spatial_dims)
        if log_scale_bound is not None:
            log_scale_bound = real_number(log_scale_bound, "log_scale_bound")
            if log_scale_bound <= 0:
                raise ValueError(f"log_scale_bound must be > 0 or None, got {log_scale_bound}")
        self.log_scale_bound = log_scale_bound

    def log_scale_and_shift(self, x_a: torch.Tensor, cond: torch.Tensor | None = None
                            ) -> tuple[torch.Tensor, torch.Tensor]:
        r"""The log-scale :math:`s(\mathbf x_a, \mathbf c)` (bounded) and shift :math:`t(\mathbf x_a, \mathbf c)`.

        Each is shaped like :math:`\mathbf x_b` (for a checkerboard mask: like ``x``, zero on the
        :math:`\mathbf x_a` positions).
        """
        h, t = self._run_network(x_a, cond)
        s = h if self.log_scale_bound is None else self.log_scale_bound * torch.tanh(h / self.log_scale_bound)
        m = self._b_mask(x_a)
        return s * m, t * m

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, C, *positions), ``cond`` (batch, cond_channels, *positions) -> ``(z, log_det)``."""
        x, cond = self._check(x, "x", cond)
        x_a, x_b = self._split(x)
        s, t = self.log_scale_and_shift(x_a, cond)
        y_b = x_b * torch.exp(s) + t
        return self._join(x_a, y_b), s.flatten(1).sum(dim=1)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` (batch, C, *positions), ``cond`` -> ``x``."""
        z, cond = self._check(z, "z", cond)
        y_a, y_b = self._split(z)
        s, t = self.log_scale_and_shift(y_a, cond)
        return self._join(y_a, (y_b - t) * torch.exp(-s))


class AdditiveCoupling(_Coupling):
    r"""The additive coupling layer of NICE: a shift only, so the volume is preserved.

    .. math::
        \mathbf y_a = \mathbf x_a, \qquad \mathbf y_b = \mathbf x_b + t(\mathbf x_a, \mathbf c),
        \qquad \log\lvert\det \mathbf J\rvert = 0.

    Masks, conditioning and the default network as :class:`AffineCoupling`, except that a custom
    ``network(x_a, cond)`` returns the shift alone, ``(batch, channels_b, *positions)``.

    Parameters
    ----------
    channels, hidden_channels, cond_channels, mask, parity, network, kernel_size, spatial_dims
        As in :class:`AffineCoupling`.

    Raises
    ------
    TypeError, ValueError
        As :class:`AffineCoupling`.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> coupling = AdditiveCoupling(6, 8, mask="checkerboard", spatial_dims=2).double()
    >>> with torch.no_grad():
    ...     _ = coupling.network[-1].weight.normal_()
    >>> x = torch.randn(2, 6, 4, 4, dtype=torch.float64)
    >>> z, log_det = coupling(x)
    >>> log_det, bool(torch.allclose(coupling.inverse(z), x, atol=1e-12))
    (tensor([0., 0.], dtype=torch.float64), True)
    """

    n_outputs = 1

    def __init__(self, channels: int, hidden_channels: int, cond_channels: int = 0, *, mask: str = "channels",
                 parity: int = 0, network: nn.Module | None = None, kernel_size: int = 3, spatial_dims: int = 1):
        super().__init__(channels, hidden_channels, cond_channels, mask=mask, parity=parity, network=network,
                         kernel_size=kernel_size, spatial_dims=spatial_dims)

    def shift(self, x_a: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        r"""The shift :math:`t(\mathbf x_a, \mathbf c)`, shaped like :math:`\mathbf x_b` (zero on the x_a positions)."""
        (t,) = self._run_network(x_a, cond)
        return t * self._b_mask(x_a)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, C, *positions), ``cond`` -> ``(z, log_det)`` with ``log_det`` zero."""
        x, cond = self._check(x, "x", cond)
        x_a, x_b = self._split(x)
        return self._join(x_a, x_b + self.shift(x_a, cond)), _constant_log_det(0.0, x)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` (batch, C, *positions), ``cond`` -> ``x``."""
        z, cond = self._check(z, "z", cond)
        y_a, y_b = self._split(z)
        return self._join(y_a, y_b - self.shift(y_a, cond))


# --------------------------------------------------------------------------- permutations


class Permutation(nn.Module):
    r"""A fixed permutation of the channels: :math:`\mathbf y_{:, c} = \mathbf x_{:, \pi(c)}`, log-det 0.

    A permutation matrix has determinant :math:`\pm 1`, so :math:`\log\lvert\det\mathbf J\rvert = 0`.
    Between coupling layers it changes which coordinates condition which (RealNVP); Glow's
    :class:`InvertibleConv1x1` learns the mixing instead.

    Parameters
    ----------
    channels : int
        :math:`C`.
    permutation : sequence of int, optional
        :math:`\pi` as a list of the ``channels`` indices; default: a random permutation.
    generator : torch.Generator, optional
        Draws the random permutation.

    Raises
    ------
    TypeError, ValueError
        For a ``permutation`` that is not a permutation of ``range(channels)``, or a bad input.

    Examples
    --------
    >>> perm = Permutation(3, [2, 0, 1])
    >>> x = torch.arange(6.0).reshape(1, 3, 2)
    >>> z, log_det = perm(x)
    >>> z[0].tolist(), log_det.tolist(), bool(torch.equal(perm.inverse(z), x))
    ([[4.0, 5.0], [0.0, 1.0], [2.0, 3.0]], [0.0], True)
    """

    def __init__(self, channels: int, permutation=None, *, generator: torch.Generator | None = None):
        super().__init__()
        self.channels = positive_int(channels, "channels")
        if permutation is None:
            perm = torch.randperm(self.channels, generator=generator)
        else:
            perm = torch.as_tensor(permutation)
            if perm.dtype.is_floating_point or perm.dtype == torch.bool or perm.ndim != 1 or \
                    not torch.equal(perm.sort().values, torch.arange(self.channels)):
                raise ValueError(f"permutation must be a permutation of range({self.channels}), got {permutation!r}")
        self.register_buffer("permutation", perm.long())
        self.register_buffer("inverse_permutation", torch.argsort(perm.long()))

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, C, *positions) -> ``(x[:, permutation], 0)``; ``cond`` is ignored."""
        x = _check_input(x, "x", self.channels)
        return x[:, self.permutation], _constant_log_det(0.0, x)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` (batch, C, *positions) -> ``x``; ``cond`` is ignored."""
        z = _check_input(z, "z", self.channels)
        return z[:, self.inverse_permutation]


class Reverse(Permutation):
    """The channels in reverse order, :math:`\\pi(c) = C - 1 - c` (a :class:`Permutation`), log-det 0.

    Parameters
    ----------
    channels : int

    Examples
    --------
    >>> Reverse(3)(torch.arange(3.0).reshape(1, 3, 1))[0].flatten().tolist()
    [2.0, 1.0, 0.0]
    """

    def __init__(self, channels: int):
        channels = positive_int(channels, "channels")
        super().__init__(channels, list(range(channels - 1, -1, -1)))


# --------------------------------------------------------------------------- squeeze


def _factor(factor) -> int:
    factor = positive_int(factor, "factor")
    if factor < 2:
        raise ValueError(f"factor must be >= 2, got {factor}")
    return factor


def squeeze2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    r"""Images: each ``factor x factor`` block of pixels into channels (Glow's squeeze).

    ``(batch, C, H, W) -> (batch, C factor^2, H/factor, W/factor)``; the output channel
    :math:`c f^2 + i f + j` holds pixel :math:`(i, j)` of each block of input channel :math:`c`.
    A reshuffle of coordinates: log-det 0. Trading space for channels lets a channel-mask
    coupling mix neighbouring pixels, and halves the resolution at each scale.

    Parameters
    ----------
    x : Tensor, shape (batch, C, H, W)
    factor : int, default 2

    Returns
    -------
    Tensor, shape (batch, C factor^2, H / factor, W / factor)

    Raises
    ------
    TypeError, ValueError
        ``x`` not a 4-D float tensor, or ``H``/``W`` not divisible by ``factor``.

    Examples
    --------
    >>> x = torch.arange(16.0).reshape(1, 1, 4, 4)
    >>> squeeze2d(x)[0, :, 0, 0].tolist()  # the top-left 2x2 block
    [0.0, 1.0, 4.0, 5.0]
    >>> bool(torch.equal(unsqueeze2d(squeeze2d(x)), x))
    True
    """
    x = _check_input(x, "x", ndim=4, shape="(batch, C, H, W)")
    factor = _factor(factor)
    b, c, h, w = x.shape
    if h % factor or w % factor:
        raise ValueError(f"squeeze2d needs H and W divisible by factor={factor}, got H={h}, W={w}")
    x = x.reshape(b, c, h // factor, factor, w // factor, factor)
    return x.permute(0, 1, 3, 5, 2, 4).reshape(b, c * factor * factor, h // factor, w // factor)


def unsqueeze2d(z: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """The inverse of :func:`squeeze2d`: ``(batch, C f^2, H, W) -> (batch, C, H f, W f)``.

    Parameters
    ----------
    z : Tensor, shape (batch, C factor^2, H, W)
    factor : int, default 2

    Returns
    -------
    Tensor, shape (batch, C, H factor, W factor)

    Raises
    ------
    TypeError, ValueError
        ``z`` not a 4-D float tensor, or its channels not divisible by ``factor**2``.

    Examples
    --------
    >>> unsqueeze2d(torch.arange(4.0).reshape(1, 4, 1, 1))[0, 0].tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """
    z = _check_input(z, "z", ndim=4, shape="(batch, C, H, W)")
    factor = _factor(factor)
    b, c, h, w = z.shape
    if c % (factor * factor):
        raise ValueError(f"unsqueeze2d needs channels divisible by factor**2={factor * factor}, got {c}")
    z = z.reshape(b, c // factor ** 2, factor, factor, h, w)
    return z.permute(0, 1, 4, 2, 5, 3).reshape(b, c // factor ** 2, h * factor, w * factor)


def squeeze1d(x: torch.Tensor, factor: int) -> torch.Tensor:
    r"""Audio: each group of ``factor`` consecutive samples into channels (WaveGlow, FloWaveNet).

    ``(batch, C, T) -> (batch, C factor, T/factor)``; output channel :math:`c f + j` at step
    :math:`n` holds sample :math:`n f + j` of input channel :math:`c`. Log-det 0. WaveGlow's
    groups of 8: a mono waveform becomes 8 channels at an eighth of the rate.

    Parameters
    ----------
    x : Tensor, shape (batch, C, T)
    factor : int
        Samples per group, >= 2; ``T`` must be a multiple.

    Returns
    -------
    Tensor, shape (batch, C factor, T / factor)

    Raises
    ------
    TypeError, ValueError
        ``x`` not a 3-D float tensor, or ``T`` not a multiple of ``factor`` (the message names both).

    Examples
    --------
    >>> squeeze1d(torch.arange(8.0).reshape(1, 1, 8), 4)[0].tolist()
    [[0.0, 4.0], [1.0, 5.0], [2.0, 6.0], [3.0, 7.0]]
    """
    x = _check_input(x, "x", ndim=3, shape="(batch, C, T)")
    factor = _factor(factor)
    b, c, t = x.shape
    if t % factor:
        raise ValueError(f"squeeze1d cannot split T={t} samples into groups of factor={factor}: "
                         f"T must be a multiple of factor (trim or pad the audio first)")
    return x.reshape(b, c, t // factor, factor).transpose(2, 3).reshape(b, c * factor, t // factor)


def unsqueeze1d(z: torch.Tensor, factor: int) -> torch.Tensor:
    """The inverse of :func:`squeeze1d`: ``(batch, C f, T) -> (batch, C, T f)``.

    Parameters
    ----------
    z : Tensor, shape (batch, C factor, T)
    factor : int

    Returns
    -------
    Tensor, shape (batch, C, T factor)

    Raises
    ------
    TypeError, ValueError
        ``z`` not a 3-D float tensor, or its channels not a multiple of ``factor``.

    Examples
    --------
    >>> x = torch.arange(12.0).reshape(1, 2, 6)
    >>> bool(torch.equal(unsqueeze1d(squeeze1d(x, 3), 3), x))
    True
    """
    z = _check_input(z, "z", ndim=3, shape="(batch, C, T)")
    factor = _factor(factor)
    b, c, t = z.shape
    if c % factor:
        raise ValueError(f"unsqueeze1d needs channels divisible by factor={factor}, got {c}")
    return z.reshape(b, c // factor, factor, t).transpose(2, 3).reshape(b, c // factor, t * factor)


class Squeeze(nn.Module):
    """:func:`squeeze2d` as a flow step on images ``(batch, C, H, W)``: log-det 0; ``cond`` is ignored.

    Parameters
    ----------
    factor : int, default 2

    Raises
    ------
    TypeError, ValueError
        ``factor`` < 2; at run time, an input whose ``H`` or ``W`` ``factor`` does not divide.

    Examples
    --------
    >>> z, log_det = Squeeze()(torch.zeros(2, 3, 4, 6))
    >>> tuple(z.shape), log_det.tolist()
    ((2, 12, 2, 3), [0.0, 0.0])
    """

    def __init__(self, factor: int = 2):
        super().__init__()
        self.factor = _factor(factor)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, C, H, W) -> ((batch, C f^2, H/f, W/f), 0)``."""
        z = squeeze2d(x, self.factor)
        return z, _constant_log_det(0.0, z)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, C f^2, H, W) -> (batch, C, H f, W f)``."""
        return unsqueeze2d(z, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


class Squeeze1d(nn.Module):
    """:func:`squeeze1d` as a flow step on audio ``(batch, C, T)``: log-det 0; ``cond`` is ignored.

    Parameters
    ----------
    factor : int
        Samples per group (WaveGlow: 8; FloWaveNet: 2 per block).

    Raises
    ------
    TypeError, ValueError
        ``factor`` < 2; at run time, an input whose length ``T`` is not a multiple of ``factor``.

    Examples
    --------
    >>> z, log_det = Squeeze1d(8)(torch.zeros(2, 1, 64))
    >>> tuple(z.shape), log_det.tolist()
    ((2, 8, 8), [0.0, 0.0])
    """

    def __init__(self, factor: int):
        super().__init__()
        self.factor = _factor(factor)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch, C, T) -> ((batch, C f, T/f), 0)``."""
        z = squeeze1d(x, self.factor)
        return z, _constant_log_det(0.0, z)

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``(batch, C f, T) -> (batch, C, T f)``."""
        return unsqueeze1d(z, self.factor)

    def extra_repr(self) -> str:
        return f"factor={self.factor}"


# --------------------------------------------------------------------------- the logit transform


class Logit(nn.Module):
    r"""RealNVP's logit transform of data in :math:`[0, 1)`: an unbounded space for the flow.

    .. math::
        p = lpha + (1 - 2lpha)\, x, \qquad y = \log p - \log(1 - p), \qquad
        \log\lvert\det \mathbf J
vert = \sum_i ig(\log(1 - 2lpha) - \log p_i - \log(1 - p_i)ig).

    Dequantised images live in a box with hard walls, which a Gaussian pushed through affine
    couplings fits badly; the logit sends the box to all of :math:`\mathbb R^D`, and
    :math:`lpha` keeps the walls :math:`x = 0` (and :math:`x 	o 1`) at a finite distance
    (Dinh et al., 2017, Sec. 4.1, :math:`lpha = 0.05`). Its log-determinant enters the
    likelihood like any other step's, so bits per dimension still measure the data in :math:`[0, 1)`.
    Any shape; ``cond`` is ignored.

    Parameters
    ----------
    alpha : float, default 0.05
        In :math:`[0, 0.5)`.

    Raises
    ------
    ValueError
        ``alpha`` outside :math:`[0, 0.5)`.

    Examples
    --------
    >>> step = Logit(0.05)
    >>> y, log_det = step(torch.tensor([[[0.5]]], dtype=torch.float64))
    >>> y.item(), round(log_det.item(), 6)  # the centre maps to 0 with slope 0.9 / (0.5 * 0.5)
    (0.0, 1.280934)
    >>> step.inverse(y).item()
    0.5
    """

    def __init__(self, alpha: float = 0.05):
        super().__init__()
        alpha = real_number(alpha, "alpha")
        if not 0 <= alpha < 0.5:
            raise ValueError(f"alpha must lie in [0, 0.5), got {alpha}")
        self.alpha = alpha

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` in [0, 1), any shape (batch, ...) -> ``(logit(p), log_det)``."""
        x = _check_input(x, "x", shape="(batch, channels, *positions)")
        p = self.alpha + (1 - 2 * self.alpha) * x
        log_det = (math.log(1 - 2 * self.alpha) - torch.log(p) - torch.log1p(-p)).flatten(1).sum(dim=1)
        return torch.log(p) - torch.log1p(-p), log_det

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` -> ``(sigmoid(z) - alpha) / (1 - 2 alpha)``."""
        z = _check_input(z, "z", shape="(batch, channels, *positions)")
        return (torch.sigmoid(z) - self.alpha) / (1 - 2 * self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


# --------------------------------------------------------------------------- composition


class Flow(nn.Module):
    r"""Flow steps in sequence, :math:`f = f_K \circ \dots \circ f_1`: log-determinants add up.

    .. math::
        \log\lvert\det \mathbf J_f(\mathbf x)\rvert = \sum_{k=1}^{K} \log\lvert\det
        \mathbf J_{f_k}(\mathbf h_{k-1})\rvert, \qquad \mathbf h_0 = \mathbf x,\ \mathbf h_k = f_k(\mathbf h_{k-1}),

    and the inverse runs :math:`f_1^{-1} \circ \dots \circ f_K^{-1}`. ``cond`` is passed to every
    step unchanged (steps without conditioning ignore it); a step that changes the positions
    (a squeeze) needs its conditioning squeezed too, so conditioned flows with squeezes are
    built as several :class:`Flow` s, one per resolution (as WaveGlow and FloWaveNet do).

    Parameters
    ----------
    *steps : nn.Module
        Each with ``forward(x, cond=None) -> (z, log_det)`` and ``inverse(z, cond=None)``.

    Raises
    ------
    TypeError
        A step without an ``inverse`` method.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> flow = Flow(ActNorm(4), InvertibleConv1x1(4), AffineCoupling(4, 8)).double()
    >>> x = torch.randn(5, 4, 6, dtype=torch.float64)
    >>> z, log_det = flow(x)
    >>> len(flow), log_det.shape, bool(torch.allclose(flow.inverse(z), x, atol=1e-12))
    (3, torch.Size([5]), True)
    """

    def __init__(self, *steps: nn.Module):
        super().__init__()
        for i, step in enumerate(steps):
            if not isinstance(step, nn.Module) or not callable(getattr(step, "inverse", None)):
                raise TypeError(f"step {i} must be an nn.Module with an inverse method, got {type(step).__name__}")
        self.steps = nn.ModuleList(steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, i: int) -> nn.Module:
        return self.steps[i]

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` -> ``(z, log_det)``, ``log_det`` of shape (batch,), summed over the steps."""
        _check_input(x, "x")
        log_det = x.new_zeros(x.shape[0])
        for step in self.steps:
            x, step_log_det = step(x, cond)
            log_det = log_det + step_log_det
        return x, log_det

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` -> ``x``, the steps' inverses in reverse order."""
        _check_input(z, "z")
        for step in reversed(self.steps):
            z = step.inverse(z, cond)
        return z


# --------------------------------------------------------------------------- multi-scale flows: RealNVP and Glow


_LOG_2PI = math.log(2 * math.pi)


def standard_normal_log_prob(z: torch.Tensor) -> torch.Tensor:
    r"""The log-density of the base distribution :math:`p_Z = \mathcal N(\mathbf 0, \mathbf I)` per example.

    .. math:: \log p_Z(\mathbf z) = -\tfrac12 \textstyle\sum_i \big(z_i^2 + \log 2\pi\big)

    Parameters
    ----------
    z : Tensor, shape (batch, ...)

    Returns
    -------
    Tensor, shape (batch,)

    Raises
    ------
    TypeError
        ``z`` not a floating-point tensor.

    Examples
    --------
    >>> round(standard_normal_log_prob(torch.zeros(1, 2)).item(), 6)  # -log(2 pi)
    -1.837877
    """
    if not isinstance(z, torch.Tensor) or not torch.is_floating_point(z):
        raise TypeError(f"z must be a floating-point torch.Tensor, got {type(z).__name__}")
    return -0.5 * (z.pow(2) + _LOG_2PI).flatten(1).sum(dim=1)


def _shape_after(step: nn.Module, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape (without batch) that ``step`` turns ``shape`` into: squeezes change it, nothing else does."""
    if isinstance(step, Flow):
        for inner in step.steps:
            shape = _shape_after(inner, shape)
        return shape
    if isinstance(step, Squeeze):
        c, h, w = shape
        f = step.factor
        if h % f or w % f:
            raise ValueError(f"a Squeeze(factor={f}) cannot split images of H={h}, W={w}")
        return (c * f * f, h // f, w // f)
    if isinstance(step, Squeeze1d):
        c, t = shape
        f = step.factor
        if t % f:
            raise ValueError(f"a Squeeze1d cannot split T={t} samples into groups of factor={f}")
        return (c * f, t // f)
    return shape


class MultiScaleFlow(nn.Module):
    r"""Levels of flow steps with factor-out (RealNVP's multi-scale architecture; Glow's levels).

    Level :math:`\ell` runs its steps (a :class:`Flow`, which may start with a squeeze), then,
    except at the last level, *factors out* half of the channels: the last ``C // 2``
    channels go straight to the latent :math:`\mathbf z` and the remaining ones flow on to level
    :math:`\ell + 1`. Each level therefore works on half the dimensions of the one before,
    and deep levels see coarse, long-range structure cheaply (Dinh et al., 2017, Sec. 3.6). The
    prior of every factored-out part is the standard normal (RealNVP's choice; Glow learns a
    Gaussian prior for it conditioned on the remaining half, a refinement left out here), so

    .. math::
        \log p_X(\mathbf x) = \log p_Z(\mathbf z) + \sum_{\ell} \log\lvert\det \mathbf J_{f_\ell}\rvert,
        \qquad p_Z = \mathcal N(\mathbf 0, \mathbf I).

    ``forward(x) -> (z, log_det)`` returns :math:`\mathbf z` flattened, ``(batch, D)``, the
    factored-out parts in the order they leave followed by the last level's output; ``inverse``
    takes that flat vector back to ``x``. With ``vector=True`` the model takes and returns
    vectors ``(batch, D)``, internally ``(batch, D, 1)``: channels are coordinates.

    Parameters
    ----------
    levels : sequence of Flow
        The steps of each level, first to last.
    input_shape : tuple of int
        The shape of one example without the batch axis: ``(C, H, W)``, ``(C, T)``, or ``(D,)``
        with ``vector=True``.
    vector : bool, default False

    Attributes
    ----------
    dims : int
        :math:`D`, the number of coordinates of one example.
    latent_shapes : list of tuple
        The shape of each factored-out part and of the last level's output.

    Raises
    ------
    TypeError, ValueError
        Levels that are not :class:`Flow` s, a bad ``input_shape``, squeezes that do not fit it,
        a split of a single channel; at run time, inputs that do not match ``input_shape``.

    Examples
    --------
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> model = glow_image(1, 8, levels=2, steps=2, hidden_channels=8).double()
    >>> model.latent_shapes, model.dims
    ([(2, 4, 4), (8, 2, 2)], 64)
    >>> x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    >>> z, log_det = model(x)
    >>> z.shape, bool(torch.allclose(model.inverse(z), x, atol=1e-12))
    (torch.Size([3, 64]), True)
    """

    def __init__(self, levels, input_shape, *, vector: bool = False):
        super().__init__()
        levels = list(levels)
        if not levels or not all(isinstance(level, Flow) for level in levels):
            raise TypeError("levels must be a non-empty sequence of Flow")
        shape = tuple(int(n) for n in input_shape)
        if not shape or any(n < 1 for n in shape):
            raise ValueError(f"input_shape must be a tuple of positive sizes, got {input_shape!r}")
        self.vector = bool(vector)
        self.input_shape = shape
        if self.vector:
            if len(shape) != 1:
                raise ValueError(f"vector=True needs input_shape=(D,), got {shape}")
            shape = (shape[0], 1)
        elif len(shape) < 2:
            raise ValueError(f"input_shape must be (C, T) or (C, H, W) (or (D,) with vector=True), got {shape}")
        self.levels = nn.ModuleList(levels)
        self.latent_shapes, self._kept = [], []
        for i, level in enumerate(levels):
            shape = _shape_after(level, shape)
            if i < len(levels) - 1:
                c = shape[0]
                if c < 2:
                    raise ValueError(f"level {i} ends with {c} channel(s): nothing to factor out (squeeze first)")
                self.latent_shapes.append((c // 2,) + shape[1:])
                shape = (c - c // 2,) + shape[1:]
                self._kept.append(c - c // 2)
        self.latent_shapes.append(shape)
        self.dims = math.prod(self.input_shape)

    def _check(self, x, name: str) -> torch.Tensor:
        expected = "(batch, " + ", ".join(str(n) for n in self.input_shape) + ")"
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor of shape {expected}, got {type(x).__name__}")
        if not torch.is_floating_point(x):
            raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
        if x.ndim != 1 + len(self.input_shape) or tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(f"{name} must have shape {expected}, got {tuple(x.shape)}")
        return x.unsqueeze(-1) if self.vector else x

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` (batch, *input_shape) -> ``(z, log_det)``: ``z`` (batch, D), ``log_det`` (batch,)."""
        h = self._check(x, "x")
        log_det = h.new_zeros(h.shape[0])
        parts = []
        for i, level in enumerate(self.levels):
            h, level_log_det = level(h, cond)
            log_det = log_det + level_log_det
            if i < len(self.levels) - 1:
                parts.append(h[:, self._kept[i]:].flatten(1))
                h = h[:, :self._kept[i]]
        parts.append(h.flatten(1))
        return torch.cat(parts, dim=1), log_det

    def inverse(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """``z`` (batch, D) -> ``x`` (batch, *input_shape)."""
        if not isinstance(z, torch.Tensor) or not torch.is_floating_point(z):
            raise TypeError(f"z must be a floating-point torch.Tensor of shape (batch, {self.dims}), "
                            f"got {type(z).__name__}")
        if z.ndim != 2 or z.shape[1] != self.dims:
            raise ValueError(f"z must have shape (batch, {self.dims}), got {tuple(z.shape)}")
        sizes = [math.prod(s) for s in self.latent_shapes]
        parts = [p.reshape((z.shape[0],) + s) for p, s in zip(z.split(sizes, dim=1), self.latent_shapes)]
        h = parts[-1]
        for i in range(len(self.levels) - 1, -1, -1):
            if i < len(self.levels) - 1:
                h = torch.cat([h, parts[i]], dim=1)
            h = self.levels[i].inverse(h, cond)
        return h.squeeze(-1) if self.vector else h

    def log_prob(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        r"""The log-density in nats, shape (batch,).

        .. math:: \log p_X(\mathbf x) = \log p_Z(f(\mathbf x)) + \log\lvert\det\mathbf J_f(\mathbf x)\rvert
        """
        z, log_det = self(x, cond)
        return standard_normal_log_prob(z) + log_det

    @torch.no_grad()
    def sample(self, n: int, sigma: float = 1.0, *, generator: torch.Generator | None = None,
               cond: torch.Tensor | None = None) -> torch.Tensor:
        r"""Draw :math:`\mathbf z \sim \mathcal N(\mathbf 0, \sigma^2 \mathbf I)` and return :math:`f^{-1}(\mathbf z)`.

        Parameters
        ----------
        n : int
            Number of samples.
        sigma : float, default 1.0
            The sampling temperature :math:`\sigma` (> 0; below 1 trades variety for typical samples).
        generator : torch.Generator, optional
            The source of :math:`\mathbf z` (on the model's device).
        cond : Tensor, optional
            Passed to the steps.

        Returns
        -------
        Tensor, shape (n, *input_shape), in the dtype and on the device of the parameters.

        Raises
        ------
        ValueError
            ``sigma`` <= 0 or ``n`` < 1.
        """
        n = positive_int(n, "n")
        sigma = real_number(sigma, "sigma")
        if sigma <= 0:
            raise ValueError(f"sigma must be > 0 (the standard deviation of z), got {sigma}")
        p = next(self.parameters())
        z = torch.randn(n, self.dims, generator=generator, dtype=p.dtype, device=p.device)
        return self.inverse(sigma * z, cond)


def _at_least_two(dims) -> int:
    dims = positive_int(dims, "dims")
    if dims < 2:
        raise ValueError(f"dims must be >= 2 (a coupling needs two parts), got {dims}")
    return dims


def realnvp_2d(dims: int = 2, hidden_channels: int = 64, couplings: int = 8, *,
               log_scale_bound: float | None = 3.0) -> MultiScaleFlow:
    r"""RealNVP for points of :math:`\mathbb R^D` (two moons): affine couplings with alternating halves.

    ``couplings`` :class:`AffineCoupling` layers on ``(batch, D, 1)``, channel masks of
    alternating ``parity`` (so each coordinate is transformed every other layer), each
    network an MLP (``kernel_size=1``) with two hidden layers of ``hidden_channels``. One level:
    no factor-out in two dimensions. Inputs and samples are vectors ``(batch, D)``.

    Parameters
    ----------
    dims : int, default 2
        :math:`D`, at least 2.
    hidden_channels : int, default 64
    couplings : int, default 8
    log_scale_bound : float or None, default 3.0
        As in :class:`AffineCoupling`.

    Returns
    -------
    MultiScaleFlow
        With ``vector=True``: ``forward`` takes ``(batch, D)``.

    Raises
    ------
    TypeError, ValueError
        Non-positive sizes, ``dims`` < 2.

    Examples
    --------
    >>> model = realnvp_2d(couplings=4, hidden_channels=16)
    >>> len(model.levels[0]), model.sample(5, generator=torch.Generator().manual_seed(0)).shape
    (4, torch.Size([5, 2]))
    """
    dims = _at_least_two(dims)
    couplings = positive_int(couplings, "couplings")
    steps = [AffineCoupling(dims, hidden_channels, parity=k % 2, kernel_size=1, log_scale_bound=log_scale_bound)
             for k in range(couplings)]
    return MultiScaleFlow([Flow(*steps)], (dims,), vector=True)


def glow_2d(dims: int = 2, hidden_channels: int = 64, steps: int = 8, *, lu: bool = True,
            log_scale_bound: float | None = 3.0, generator: torch.Generator | None = None) -> MultiScaleFlow:
    r"""Glow for points of :math:`\mathbb R^D`: ``steps`` of ActNorm, invertible 1x1 convolution, affine coupling.

    Each step is :class:`ActNorm` -> :class:`InvertibleConv1x1` (here a learned :math:`D \times D`
    matrix applied to the point) -> :class:`AffineCoupling` (channel mask, MLP network);
    the 1x1 convolution replaces RealNVP's alternation with a learned mixing. One level.
    ActNorm initialises on the first batch it sees: run ``forward`` on data before ``sample``.

    Parameters
    ----------
    dims : int, default 2
    hidden_channels : int, default 64
    steps : int, default 8
    lu : bool, default True
        The LU form of the 1x1 convolutions.
    log_scale_bound : float or None, default 3.0
    generator : torch.Generator, optional
        Draws the 1x1 convolutions' initial rotations.

    Returns
    -------
    MultiScaleFlow
        With ``vector=True``.

    Raises
    ------
    TypeError, ValueError
        Non-positive sizes, ``dims`` < 2.

    Examples
    --------
    >>> model = glow_2d(steps=2, hidden_channels=16, generator=torch.Generator().manual_seed(0))
    >>> [type(s).__name__ for s in model.levels[0]]
    ['ActNorm', 'InvertibleConv1x1', 'AffineCoupling', 'ActNorm', 'InvertibleConv1x1', 'AffineCoupling']
    """
    dims = _at_least_two(dims)
    layers = []
    for _ in range(positive_int(steps, "steps")):
        layers += [ActNorm(dims), InvertibleConv1x1(dims, lu, generator=generator),
                   AffineCoupling(dims, hidden_channels, kernel_size=1, log_scale_bound=log_scale_bound)]
    return MultiScaleFlow([Flow(*layers)], (dims,), vector=True)


def realnvp_image(channels: int, size: int, *, levels: int = 2, hidden_channels: int = 32,
                  couplings: int = 3, log_scale_bound: float | None = 3.0,
                  preprocess: nn.Module | None = None) -> MultiScaleFlow:
    r"""RealNVP's multi-scale architecture for ``(batch, channels, size, size)`` images.

    Each level but the last: ``couplings`` checkerboard couplings (alternating parity), a
    :class:`Squeeze` (2x2 -> 4 channels), ``couplings`` channel-mask couplings (alternating
    parity), then half the channels factored out. The last level: ``couplings + 1``
    checkerboard couplings. Networks: 3x3 convolutions, ``hidden_channels`` wide (RealNVP uses
    residual networks with batch norm; a small plain network suffices for 8x8 digits).
    ``preprocess`` (e.g. :class:`Logit`) becomes the first step of the first level.

    Parameters
    ----------
    channels, size : int
        Input ``(batch, channels, size, size)``; ``size`` divisible by ``2 ** (levels - 1)``.
    levels : int, default 2
    hidden_channels : int, default 32
    couplings : int, default 3
    log_scale_bound : float or None, default 3.0
    preprocess : nn.Module, optional

    Returns
    -------
    MultiScaleFlow

    Raises
    ------
    TypeError, ValueError
        Non-positive sizes, or a size the squeezes cannot halve.

    Examples
    --------
    >>> model = realnvp_image(1, 8, hidden_channels=8)
    >>> model.latent_shapes
    [(2, 4, 4), (2, 4, 4)]
    """
    channels, size, levels = (positive_int(v, n) for v, n in ((channels, "channels"), (size, "size"),
                                                               (levels, "levels")))
    couplings = positive_int(couplings, "couplings")
    kw = dict(spatial_dims=2, log_scale_bound=log_scale_bound)
    flows, c = [], channels
    for level in range(levels):
        steps = [preprocess] if (level == 0 and preprocess is not None) else []
        steps += [AffineCoupling(c, hidden_channels, mask="checkerboard", parity=k % 2, **kw)
                 for k in range(couplings + (level == levels - 1))]
        if level < levels - 1:
            c *= 4
            steps += [Squeeze()] + [AffineCoupling(c, hidden_channels, parity=k % 2, **kw) for k in range(couplings)]
            c -= c // 2
        flows.append(Flow(*steps))
    return MultiScaleFlow(flows, (channels, size, size))


def glow_image(channels: int, size: int, *, levels: int = 2, steps: int = 4, hidden_channels: int = 32,
               lu: bool = True, log_scale_bound: float | None = 3.0, generator: torch.Generator | None = None,
               preprocess: nn.Module | None = None) -> MultiScaleFlow:
    r"""Glow's multi-scale architecture for ``(batch, channels, size, size)`` images.

    Each of ``levels`` levels: a :class:`Squeeze`, then ``steps`` steps of :class:`ActNorm` ->
    :class:`InvertibleConv1x1` -> :class:`AffineCoupling` (channel mask, 3x3 convolutions
    ``hidden_channels`` wide), then (all but the last level) half the channels factored out to
    a standard-normal prior (Kingma and Dhariwal, 2018, Fig. 2, with the learned prior left out).
    ``preprocess`` (e.g. :class:`Logit`) becomes the first step of the first level.
    ActNorm initialises on the first batch it sees: run ``forward`` on data before ``sample``.

    Parameters
    ----------
    channels, size : int
        Input ``(batch, channels, size, size)``; ``size`` divisible by ``2 ** levels``.
    levels : int, default 2
    steps : int, default 4
        :math:`K`, steps per level.
    hidden_channels : int, default 32
    lu : bool, default True
    log_scale_bound : float or None, default 3.0
    generator : torch.Generator, optional
        Draws the 1x1 convolutions' initial rotations.
    preprocess : nn.Module, optional

    Returns
    -------
    MultiScaleFlow

    Raises
    ------
    TypeError, ValueError
        Non-positive sizes, or a size the squeezes cannot halve.

    Examples
    --------
    >>> glow_image(1, 8, steps=1, hidden_channels=8).latent_shapes
    [(2, 4, 4), (8, 2, 2)]
    """
    channels, size, levels = (positive_int(v, n) for v, n in ((channels, "channels"), (size, "size"),
                                                               (levels, "levels")))
    steps = positive_int(steps, "steps")
    flows, c = [], channels
    for level in range(levels):
        c *= 4
        layers = ([preprocess] if (level == 0 and preprocess is not None) else []) + [Squeeze()]
        for _ in range(steps):
            layers += [ActNorm(c), InvertibleConv1x1(c, lu, generator=generator),
                       AffineCoupling(c, hidden_channels, spatial_dims=2, log_scale_bound=log_scale_bound)]
        flows.append(Flow(*layers))
        if level < levels - 1:
            c -= c // 2
    return MultiScaleFlow(flows, (channels, size, size))


def dequantize(x: torch.Tensor, levels: int, *, generator: torch.Generator | None = None,
               dtype: torch.dtype = torch.float32) -> torch.Tensor:
    r"""Integer images to continuous values in :math:`[0, 1)`: :math:`y = (x + u) / K`, :math:`u \sim U[0, 1)`.

    A density on :math:`[0, 1)^D` fitted to these values bounds the probability of the
    integer image from below (uniform dequantisation, Theis et al., 2016): :math:`\log P(\mathbf x)
    \ge \mathbb E_u[\log p(\mathbf y)] - D \log K`; :func:`bits_per_dim` turns a log-density
    into discrete bits per dimension with that term, so the numbers compare with PixelCNN's.

    Parameters
    ----------
    x : LongTensor, any shape
        Grey levels :math:`0 \dots K - 1`.
    levels : int
        :math:`K`.
    generator : torch.Generator, optional
    dtype : torch.dtype, default float32

    Returns
    -------
    Tensor, the shape of ``x``

    Raises
    ------
    TypeError, ValueError
        ``x`` not an integer tensor, or values outside ``0 .. levels - 1``.

    Examples
    --------
    >>> y = dequantize(torch.tensor([0, 16]), 17, generator=torch.Generator().manual_seed(0))
    >>> bool(0 <= y[0] < 1 / 17), bool(16 / 17 <= y[1] < 1)
    (True, True)
    """
    levels = positive_int(levels, "levels")
    if not isinstance(x, torch.Tensor) or torch.is_floating_point(x) or x.dtype == torch.bool:
        raise TypeError(f"x must be an integer tensor of grey levels, got "
                        f"{x.dtype if isinstance(x, torch.Tensor) else type(x).__name__}")
    if x.numel() and (x.min() < 0 or x.max() >= levels):
        raise ValueError(f"x must hold grey levels 0 .. {levels - 1}, got values in [{x.min()}, {x.max()}]")
    u = torch.rand(x.shape, generator=generator, dtype=dtype, device=x.device)
    return (x.to(dtype) + u) / levels


def bits_per_dim(log_prob: torch.Tensor, dims: int, levels: int) -> torch.Tensor:
    r"""A log-density of dequantised data in :math:`[0, 1)^D` as discrete bits per dimension.

    .. math:: \mathrm{bpd} = \frac{-\log p(\mathbf y) + D \log K}{D \log 2}

    (the :math:`D \log K` is the log-determinant of :math:`\mathbf y = (\mathbf x + \mathbf u)/K`;
    a shift of :math:`\mathbf y` before the flow, such as centring, changes nothing).

    Parameters
    ----------
    log_prob : Tensor, shape (batch,)
        :math:`\log p(\mathbf y)` in nats.
    dims : int
        :math:`D` per example.
    levels : int
        :math:`K`.

    Returns
    -------
    Tensor, shape (batch,)

    Examples
    --------
    >>> bits_per_dim(torch.zeros(1), 64, 17)  # the uniform density on [0, 1)^D: log2(17) bits
    tensor([4.0875])
    """
    dims, levels = positive_int(dims, "dims"), positive_int(levels, "levels")
    return (-log_prob + dims * math.log(levels)) / (dims * math.log(2.0))

r"""SincNet: a first layer of band-pass filters with two learned numbers each, on raw audio.

A convolution on raw audio is a bank of filters, and a CNN that learns its first
layer freely spends :math:`L` weights on each filter of :math:`L` taps. Ravanelli
and Bengio (2018) fix the *shape* of every first-layer filter to the one filter a
signal-processing course would draw, the band-pass that keeps the frequencies
between :math:`f_1` and :math:`f_2`, and learn only the two edges:

.. math::
    g[n; f_1, f_2] = 2\nu_2\,\mathrm{sinc}(2\pi\nu_2 n) - 2\nu_1\,\mathrm{sinc}(2\pi\nu_1 n),
    \qquad \nu_i = f_i / f_s, \qquad \mathrm{sinc}(x) = \frac{\sin x}{x},\ \mathrm{sinc}(0) = 1,

for :math:`n = -(L-1)/2, \dots, (L-1)/2`, times a Hamming window :math:`w[n]`. The
ideal band-pass (a rectangle in frequency) has the infinite impulse response
:math:`g`; cutting it to :math:`L` taps ripples the pass band and leaks into the
stop band, and the window trades those ripples for a wider transition band.

==========================  ===========================================================
piece                       what it is
==========================  ===========================================================
:func:`sinc_bandpass`       the windowed band-pass filters of given edges, differentiable
:func:`frequency_response`  the magnitude of the filters' DTFT on a grid of frequencies
:func:`mel_cutoffs`         the initial edges: bands equally spaced on the mel scale
:class:`SincConv1d`         the sinc layer: learned edges, filters rebuilt every call
:class:`ConvBlock`          convolution, max-pooling, layer norm, leaky ReLU, dropout
:class:`SincNetConfig`      the network's sizes (defaults: the paper's)
:class:`SincNet`            the speaker-identification network of the paper
:func:`sincnet`             a SincNet for given classes, sampling rate and chunk length
:func:`sincnet_timit`       the paper's TIMIT configuration (16 kHz, 200 ms chunks)
==========================  ===========================================================

Relation to the reference code (``mravanelli/SincNet``, ``SincConv_fast``). The
parameters are named as there, ``low_hz_`` and ``band_hz_``, shape
``(out_channels, 1)``, in Hz, and mean the same: :math:`f_1 = m_\mathrm{low} +
|\theta_\mathrm{low}|`, :math:`f_2 = \min(f_1 + m_\mathrm{band} + |\theta_\mathrm{band}|,
f_s/2)` (``min_low_hz`` and ``min_band_hz`` default to 50 Hz); they are initialised
as there (:func:`mel_cutoffs`), and, with ``normalize=True`` (the default), every
filter is divided by its centre tap :math:`2(\nu_2 - \nu_1)`, as there. Three
differences, each a correction or a guard: (1) the window is the exact symmetric
Hamming window of :math:`L` taps, :math:`0.54 - 0.46\cos(2\pi k / (L - 1))`, the one
``scipy.signal.firwin`` uses (the reference evaluates its cosine on a grid that is
not quite the filter's); (2) :math:`f_1` is also kept at most :math:`f_s/2 -
m_\mathrm{band}`, so that every band is at least :math:`m_\mathrm{band}` wide and
below Nyquist, whatever the optimiser does; (3) the kernel size must be odd (the
reference silently adds one to an even size). So with ``normalize=False`` each
filter equals ``scipy.signal.firwin(L, [f1, f2], pass_zero=False,
window="hamming", scale=False, fs=fs)`` exactly, and with ``normalize=True`` that
filter divided by :math:`2(f_2 - f_1)/f_s`.

The network (:class:`SincNet`) follows the paper: layer norm of the input chunk,
the sinc layer, two ordinary convolutions, each followed by max-pooling, layer
norm and a leaky ReLU (the reference code takes the absolute value of the sinc
layer's output before pooling; so does this module), then fully connected layers
with batch norm and leaky ReLU, and a linear layer to the speakers' logits. Layer
norm here normalises each example's whole feature map (channels and time) and
learns a scale and a shift per channel (``nn.GroupNorm`` with one group); the
reference code normalises each channel over time and learns a scale and shift per
channel *and time step*. The input's layer norm only standardises the chunk (the
reference also learns a scale and shift per sample). ``frontend="conv"`` replaces the sinc layer with an
ordinary learned ``nn.Conv1d`` of the same shape, the comparison of the paper. ``pooling="stats"``
replaces the paper's flattening of the last feature map with *statistics pooling*, the mean and the
standard deviation of every channel over time (as the x-vector networks of Snyder et al., 2018, pool a
recording): the MLP then sees how often each learned feature occurs in the chunk and how much it varies,
not where, an order-free summary like a GMM's average over frames, which carries over better to words
the network never heard.

Shapes. :class:`SincConv1d` acts on ``(batch, 1, samples)`` and returns ``(batch,
out_channels, frames)``, as ``nn.Conv1d``; :class:`SincNet` takes chunks of
``(batch, input_samples)`` samples and returns logits ``(batch, num_classes)``.
Frequencies are in Hz throughout.

Reference: M. Ravanelli, Y. Bengio, "Speaker recognition from raw waveform with
SincNet", IEEE SLT 2018, arXiv:1808.00158.

Chapter: ``notebooks/06d_sincnet.ipynb``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int, real_number
from ..mel import hz_to_mel, mel_to_hz

__all__ = ["sinc_bandpass", "frequency_response", "mel_cutoffs", "SincConv1d", "ConvBlock", "SincNetConfig", "SincNet",
           "sincnet", "sincnet_timit"]


# --------------------------------------------------------------------------- checks


def _odd_kernel(kernel_size) -> int:
    kernel_size = positive_int(kernel_size, "kernel_size")
    if kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd (a symmetric filter with a centre tap), got {kernel_size}")
    return kernel_size


def _nonnegative(value, name: str) -> float:
    value = real_number(value, name)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def _check_edges(low: torch.Tensor, high: torch.Tensor, sample_rate: float) -> None:
    nyquist = sample_rate / 2
    if not (torch.all(low > 0) and torch.all(high < nyquist)):
        raise ValueError(f"cut-offs must lie in (0, {nyquist:g}) Hz, the open interval below Nyquist; "
                         f"got low edges from {low.min().item():g} and high edges up to {high.max().item():g}")
    if not torch.all(low < high):
        raise ValueError("every low cut-off must be below its high cut-off (f1 < f2)")


# --------------------------------------------------------------------------- the filters


def _hamming(kernel_size: int, *, dtype=torch.float64, device=None) -> torch.Tensor:
    """The symmetric Hamming window of ``kernel_size`` taps, :math:`0.54 - 0.46\\cos(2\\pi k/(L-1))`."""
    k = torch.arange(kernel_size, dtype=dtype, device=device)
    if kernel_size == 1:
        return torch.ones_like(k)
    return 0.54 - 0.46 * torch.cos(2 * math.pi * k / (kernel_size - 1))


def _lowpass_difference(nu_low: torch.Tensor, nu_high: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """:math:`2\\nu_2\\,\\mathrm{sinc}(2\\pi\\nu_2 n) - 2\\nu_1\\,\\mathrm{sinc}(2\\pi\\nu_1 n)`, (filters, taps)."""
    centre = n == 0
    n_safe = torch.where(centre, torch.ones_like(n), n)  # no 0/0, so no NaN in the gradient either
    away = (torch.sin(2 * math.pi * nu_high * n_safe) - torch.sin(2 * math.pi * nu_low * n_safe)) / (math.pi * n_safe)
    return torch.where(centre, 2 * (nu_high - nu_low), away)


def sinc_bandpass(cutoffs, kernel_size: int, sample_rate: float, *, window: bool = True,
                  normalize: bool = False) -> torch.Tensor:
    r"""Band-pass FIR filters with given edges: differences of two sinc low-passes, Hamming-windowed.

    .. math::
        h_j[n] = c_j\, w[n] \left(2\nu_{2j}\,\mathrm{sinc}(2\pi\nu_{2j} n)
                 - 2\nu_{1j}\,\mathrm{sinc}(2\pi\nu_{1j} n)\right),
        \qquad \nu_{ij} = f_{ij} / f_s, \quad n = -\tfrac{L-1}{2}, \dots, \tfrac{L-1}{2},

    with :math:`\mathrm{sinc}(x) = \sin(x)/x`, :math:`w` the symmetric Hamming window
    :math:`w[k] = 0.54 - 0.46\cos(2\pi k/(L-1))` (or 1 without ``window``), and
    :math:`c_j = 1` or, with ``normalize``, :math:`c_j = 1 / (2(\nu_{2j} - \nu_{1j}))`, which
    makes the centre tap 1 (SincNet's scaling). Differentiable in the edges.

    With ``window=True, normalize=False`` row :math:`j` equals
    ``scipy.signal.firwin(L, [f1, f2], pass_zero=False, window="hamming", scale=False, fs=fs)``.

    Parameters
    ----------
    cutoffs : Tensor or array_like, shape (n_filters, 2)
        :math:`(f_1, f_2)` per filter in Hz, :math:`0 < f_1 < f_2 < f_s/2`. A tensor keeps
        its dtype, device and graph; anything else becomes float64.
    kernel_size : int
        :math:`L`, odd.
    sample_rate : float
        :math:`f_s` in Hz.
    window : bool, default True
        Multiply by the Hamming window (``False``: the truncated sinc, a rectangular window).
    normalize : bool, default False
        Divide each filter by its centre tap :math:`2(\nu_2 - \nu_1)`.

    Returns
    -------
    Tensor, shape (n_filters, kernel_size)

    Raises
    ------
    ValueError
        If ``cutoffs`` is not ``(n_filters, 2)`` with :math:`0 < f_1 < f_2 < f_s/2`, or
        ``kernel_size`` is not a positive odd int, or ``sample_rate`` is not positive.

    Examples
    --------
    >>> h = sinc_bandpass([[500.0, 1500.0]], 31, 8000)
    >>> h.shape, round(h[0, 15].item(), 6)  # the centre tap: 2 (nu2 - nu1) = 2 (1500 - 500) / 8000
    (torch.Size([1, 31]), 0.25)
    >>> bool(torch.allclose(h[0], h[0].flip(0), rtol=1e-12, atol=0))  # symmetric: linear phase, delay (L - 1) / 2
    True
    """
    kernel_size = _odd_kernel(kernel_size)
    sample_rate = real_number(sample_rate, "sample_rate")
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
    edges = cutoffs if isinstance(cutoffs, torch.Tensor) else torch.as_tensor(np.asarray(cutoffs, dtype=np.float64))
    if edges.ndim != 2 or edges.shape[1] != 2 or edges.shape[0] == 0:
        raise ValueError(f"cutoffs must have shape (n_filters, 2): (low, high) in Hz per filter, "
                         f"got shape {tuple(edges.shape)}")
    _check_edges(edges[:, 0].detach(), edges[:, 1].detach(), sample_rate)
    return _filters(edges[:, :1], edges[:, 1:], kernel_size, sample_rate, window=window, normalize=normalize)


def _filters(low, high, kernel_size: int, sample_rate: float, *, window=True, normalize=False):
    """The filters of edges ``low`` and ``high``, each shape (n_filters, 1), in Hz; no checks."""
    n = torch.arange(kernel_size, dtype=low.dtype, device=low.device) - (kernel_size - 1) / 2
    h = _lowpass_difference(low / sample_rate, high / sample_rate, n)
    if window:
        h = h * _hamming(kernel_size, dtype=low.dtype, device=low.device)
    if normalize:
        h = h / (2 * (high - low) / sample_rate)
    return h


def frequency_response(h, sample_rate: float, n_fft: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    r"""The magnitude response of FIR filters on ``n_fft // 2 + 1`` frequencies from 0 to Nyquist.

    .. math:: |H_j(f_k)| = \Big|\sum_{m=0}^{L-1} h_j[m]\, e^{-2\pi i f_k m / f_s}\Big|,
              \qquad f_k = k f_s / N_\mathrm{FFT}

    (the zero-padded FFT; the filter's delay changes only the phase).

    Parameters
    ----------
    h : Tensor or ndarray, shape (n_filters, L) or (L,)
    sample_rate : float
    n_fft : int, default 2048
        At least ``L``.

    Returns
    -------
    freqs : ndarray, shape (n_fft // 2 + 1,)
        Hz.
    magnitude : ndarray, shape (n_filters, n_fft // 2 + 1) or (n_fft // 2 + 1,)

    Raises
    ------
    ValueError
        If ``n_fft`` is smaller than the filters.

    Examples
    --------
    >>> f, H = frequency_response(sinc_bandpass([[1000.0, 2000.0]], 101, 8000), 8000, 512)
    >>> f.shape, H.shape, round(float(H[0, 96]), 3)  # bin 96 of 512 is 1500 Hz, inside the band: gain 1
    ((257,), (1, 257), 1.0)
    """
    h = np.asarray(h.detach().cpu() if isinstance(h, torch.Tensor) else h, dtype=np.float64)
    n_fft = positive_int(n_fft, "n_fft")
    if n_fft < h.shape[-1]:
        raise ValueError(f"n_fft ({n_fft}) must be at least the filter length ({h.shape[-1]})")
    return np.fft.rfftfreq(n_fft, 1 / sample_rate), np.abs(np.fft.rfft(h, n_fft, axis=-1))


def mel_cutoffs(n_filters: int, sample_rate: float, *, low_hz: float = 30.0, min_low_hz: float = 50.0,
                min_band_hz: float = 50.0) -> np.ndarray:
    r"""SincNet's initial band edges: ``n_filters`` bands equally spaced on the mel scale.

    :math:`K + 1` points :math:`p_0 < \dots < p_K` equally spaced in HTK mels
    (:math:`m(f) = 2595 \log_{10}(1 + f/700)`) from ``low_hz`` to :math:`f_s/2 -
    (m_\mathrm{low} + m_\mathrm{band})` are the reference code's parameters,
    :math:`\theta_{\mathrm{low},j} = p_j` and :math:`\theta_{\mathrm{band},j} = p_{j+1} - p_j`;
    the edges they stand for are

    .. math:: f_{1j} = m_\mathrm{low} + p_j, \qquad f_{2j} = f_{1j} + m_\mathrm{band} + (p_{j+1} - p_j)
              = p_{j+1} + m_\mathrm{low} + m_\mathrm{band}.

    Narrow bands at low frequencies, wide ones at high frequencies, as the ear's
    critical bands; the top edge is exactly :math:`f_s/2`.

    Parameters
    ----------
    n_filters : int
        :math:`K`.
    sample_rate : float
        :math:`f_s` in Hz.
    low_hz : float, default 30.0
        :math:`p_0`.
    min_low_hz, min_band_hz : float, default 50.0
        :math:`m_\mathrm{low}`, :math:`m_\mathrm{band}`: the smallest low edge and band width.

    Returns
    -------
    ndarray of float64, shape (n_filters, 2)
        :math:`(f_{1j}, f_{2j})` in Hz, ascending.

    Raises
    ------
    ValueError
        If the bands do not fit: ``low_hz`` must be >= 0 and below :math:`f_s/2 - m_\mathrm{low} - m_\mathrm{band}`.

    Examples
    --------
    >>> mel_cutoffs(4, 8000).round(1)
    array([[  80. ,  556.6],
           [ 506.6, 1232.5],
           [1182.5, 2303.3],
           [2253.3, 4000. ]])
    """
    n_filters = positive_int(n_filters, "n_filters")
    sample_rate = real_number(sample_rate, "sample_rate")
    low_hz = _nonnegative(low_hz, "low_hz")
    min_low_hz, min_band_hz = _nonnegative(min_low_hz, "min_low_hz"), _nonnegative(min_band_hz, "min_band_hz")
    top = sample_rate / 2 - (min_low_hz + min_band_hz)
    if not low_hz < top:
        raise ValueError(f"low_hz ({low_hz:g}) must be below sample_rate / 2 - min_low_hz - min_band_hz "
                         f"({top:g} Hz): no room for the bands")
    points = mel_to_hz(np.linspace(hz_to_mel(low_hz, htk=True), hz_to_mel(top, htk=True), n_filters + 1), htk=True)
    low = min_low_hz + points[:-1]
    return np.stack([low, low + min_band_hz + np.diff(points)], axis=1)


# --------------------------------------------------------------------------- the sinc layer


class SincConv1d(nn.Module):
    r"""The sinc layer: a convolution whose filters are band-passes with two learned edges each.

    Every call rebuilds the ``out_channels`` filters from the current edges,

    .. math::
        f_1 = \min\!\left(m_\mathrm{low} + |\theta_\mathrm{low}|,\ \tfrac{f_s}{2} - m_\mathrm{band}\right),
        \qquad f_2 = \min\!\left(f_1 + m_\mathrm{band} + |\theta_\mathrm{band}|,\ \tfrac{f_s}{2}\right),

    with :func:`sinc_bandpass` (Hamming window; with ``normalize``, centre tap 1), and
    correlates the input with them as ``nn.Conv1d`` does:
    :math:`y_j[t] = \sum_k h_j[k]\, x[st + k - p]`. So :math:`0 < m_\mathrm{low} \le f_1`,
    :math:`f_2 - f_1 \ge m_\mathrm{band}` (at Nyquist, where the min caps :math:`f_2`, the
    band is what is left), :math:`f_2 \le f_s/2`: the edges stay positive, ordered and
    below Nyquist however the parameters move. The gradient reaches
    :math:`\theta_\mathrm{low}` and :math:`\theta_\mathrm{band}` through the filters, except
    where a min is active.

    Parameters
    ----------
    out_channels : int
        Filters.
    kernel_size : int
        Taps :math:`L` of each filter, odd.
    sample_rate : float
        :math:`f_s` in Hz.
    stride : int, default 1
    padding : int, default 0
        Zeros added at both ends of the input, as ``nn.Conv1d``.
    min_low_hz, min_band_hz : float, default 50.0
        :math:`m_\mathrm{low} \ge 0` and :math:`m_\mathrm{band} > 0`, with :math:`m_\mathrm{low} +
        m_\mathrm{band} < f_s/2`.
    low_hz : float, default 30.0
        Where the mel initialisation starts (see :func:`mel_cutoffs`).
    cutoffs : array_like, shape (out_channels, 2), optional
        Initial edges in Hz instead of the mel initialisation, :math:`0 < f_1 < f_2 < f_s/2`,
        with :math:`f_1 \ge m_\mathrm{low}` and :math:`f_2 - f_1 \ge m_\mathrm{band}`.
    normalize : bool, default True
        Divide each filter by its centre tap, as the reference code does.
    in_channels : int, default 1
        Must be 1 (accepted for ``nn.Conv1d``'s signature).

    Attributes
    ----------
    low_hz_, band_hz_ : Parameter, shape (out_channels, 1)
        :math:`\theta_\mathrm{low}`, :math:`\theta_\mathrm{band}` in Hz: the only parameters,
        2 per filter (``nn.Conv1d`` of the same shape has ``out_channels * kernel_size``).

    Raises
    ------
    ValueError, TypeError
        For a bad argument, named; in ``forward``, for input not ``(batch, 1, samples)``
        or shorter than one filter.

    Examples
    --------
    >>> sinc = SincConv1d(8, 65, 8000)
    >>> sum(p.numel() for p in sinc.parameters()), sinc(torch.zeros(2, 1, 1600)).shape
    (16, torch.Size([2, 8, 1536]))
    >>> edges = sinc.cutoffs().tolist()  # (low, high) in Hz per filter, mel spaced: narrow first
    >>> [round(f) for f in edges[0]], [round(f) for f in edges[-1]]
    ([80, 319], [3005, 4000])

    Chapter: ``notebooks/06d_sincnet.ipynb``.
    """

    def __init__(self, out_channels: int, kernel_size: int, sample_rate: float, *, stride: int = 1,
                 padding: int = 0, min_low_hz: float = 50.0, min_band_hz: float = 50.0, low_hz: float = 30.0,
                 cutoffs=None, normalize: bool = True, in_channels: int = 1):
        super().__init__()
        if in_channels != 1:
            raise ValueError(f"in_channels must be 1 (SincConv1d filters one waveform), got {in_channels!r}")
        self.out_channels = positive_int(out_channels, "out_channels")
        self.kernel_size = _odd_kernel(kernel_size)
        self.sample_rate = real_number(sample_rate, "sample_rate")
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
        self.stride = positive_int(stride, "stride")
        if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
            raise ValueError(f"padding must be an int >= 0, got {padding!r}")
        self.padding = int(padding)
        self.min_low_hz = _nonnegative(min_low_hz, "min_low_hz")
        self.min_band_hz = _nonnegative(min_band_hz, "min_band_hz")
        if self.min_band_hz == 0:
            raise ValueError("min_band_hz must be > 0: a band of zero width is no filter")
        if not self.min_low_hz + self.min_band_hz < self.sample_rate / 2:
            raise ValueError(f"min_low_hz + min_band_hz must be below Nyquist ({self.sample_rate / 2:g} Hz), "
                             f"got {self.min_low_hz:g} + {self.min_band_hz:g}")
        self.normalize = bool(normalize)
        if cutoffs is None:
            edges = mel_cutoffs(self.out_channels, self.sample_rate, low_hz=low_hz, min_low_hz=self.min_low_hz,
                                min_band_hz=self.min_band_hz)
        else:
            edges = self._checked_cutoffs(cutoffs)
        self.low_hz_ = nn.Parameter(torch.tensor(edges[:, :1] - self.min_low_hz, dtype=torch.get_default_dtype()))
        self.band_hz_ = nn.Parameter(torch.tensor(edges[:, 1:] - edges[:, :1] - self.min_band_hz,
                                                  dtype=torch.get_default_dtype()))

    def _checked_cutoffs(self, cutoffs) -> np.ndarray:
        edges = np.asarray(cutoffs.detach().cpu() if isinstance(cutoffs, torch.Tensor) else cutoffs, dtype=np.float64)
        if edges.shape != (self.out_channels, 2):
            raise ValueError(f"cutoffs must have shape (out_channels, 2) = ({self.out_channels}, 2), "
                             f"got {edges.shape}")
        _check_edges(torch.from_numpy(edges[:, 0]), torch.from_numpy(edges[:, 1]), self.sample_rate)
        if np.any(edges[:, 0] < self.min_low_hz) or np.any(edges[:, 1] - edges[:, 0] < self.min_band_hz):
            raise ValueError(f"cutoffs must have low edges >= min_low_hz ({self.min_low_hz:g} Hz) and bands at "
                             f"least min_band_hz ({self.min_band_hz:g} Hz) wide")
        return edges

    def extra_repr(self) -> str:
        return (f"1, {self.out_channels}, kernel_size={self.kernel_size}, sample_rate={self.sample_rate:g}, "
                f"stride={self.stride}, padding={self.padding}, normalize={self.normalize}")

    def cutoffs(self) -> torch.Tensor:
        """The current edges :math:`(f_1, f_2)` in Hz, shape ``(out_channels, 2)`` (differentiable)."""
        nyquist = self.sample_rate / 2
        low = torch.clamp(self.min_low_hz + self.low_hz_.abs(), max=nyquist - self.min_band_hz)
        high = torch.clamp(low + self.min_band_hz + self.band_hz_.abs(), max=nyquist)
        return torch.cat([low, high], dim=1)

    def filters(self) -> torch.Tensor:
        """The current filters, shape ``(out_channels, kernel_size)``: :func:`sinc_bandpass` of :meth:`cutoffs`."""
        edges = self.cutoffs()
        # The time index and the window are rebuilt in the parameters' dtype (L values: negligible next to the
        # convolution), so that a float64 copy of the layer computes its filters in float64 throughout.
        return _filters(edges[:, :1], edges[:, 1:], self.kernel_size, self.sample_rate, normalize=self.normalize)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Filter ``x``, shape ``(batch, 1, samples)``, into ``(batch, out_channels, frames)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (batch, 1, samples), got {type(x).__name__}")
        if x.ndim != 3 or x.shape[1] != 1:
            raise ValueError(f"x must have shape (batch, 1, samples): one input channel, got shape {tuple(x.shape)}")
        if x.shape[2] + 2 * self.padding < self.kernel_size:
            raise ValueError(f"x has {x.shape[2]} samples (padding {self.padding}), fewer than one filter's "
                             f"{self.kernel_size} taps")
        return F.conv1d(x, self.filters().unsqueeze(1), stride=self.stride, padding=self.padding)


# --------------------------------------------------------------------------- the network


class ConvBlock(nn.Module):
    r"""One convolutional stage of SincNet: convolve, (rectify), max-pool, layer norm, leaky ReLU, dropout.

    .. math:: \mathbf y = \mathrm{drop}\big(\mathrm{lrelu}_\alpha(\mathrm{LN}(
              \mathrm{maxpool}_P(r(\mathbf h * \mathbf x))))\big)

    with :math:`r = |\cdot|` for the first stage (``rectify``) and the identity after;
    :math:`\mathrm{LN}` normalises each example's ``(channels, time)`` map to mean 0 and
    variance 1 and applies a scale and shift per channel (``nn.GroupNorm(1, channels)``).

    Parameters
    ----------
    conv : nn.Module
        ``(batch, in, time) -> (batch, channels, time')``: a :class:`SincConv1d` or an ``nn.Conv1d``.
    channels : int
        Its output channels.
    pool : int
        :math:`P`, the max-pooling width and stride.
    negative_slope : float
        :math:`\alpha` of the leaky ReLU.
    dropout : float
    rectify : bool, default False

    Examples
    --------
    >>> block = ConvBlock(nn.Conv1d(4, 6, 5), 6, 3, 0.2, 0.0)
    >>> block(torch.randn(2, 4, 35)).shape  # 35 - 4 = 31 frames, pooled by 3
    torch.Size([2, 6, 10])

    Chapter: ``notebooks/06d_sincnet.ipynb``.
    """

    def __init__(self, conv: nn.Module, channels: int, pool: int, negative_slope: float, dropout: float,
                 rectify: bool = False):
        super().__init__()
        self.conv = conv
        self.rectify = bool(rectify)
        self.pool = nn.MaxPool1d(pool)
        self.norm = nn.GroupNorm(1, channels)
        self.act = nn.LeakyReLU(negative_slope)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        if self.rectify:
            h = h.abs()
        return self.drop(self.act(self.norm(self.pool(h))))


@dataclass(frozen=True)
class SincNetConfig:
    """The sizes of a :class:`SincNet` (defaults: the paper's TIMIT configuration, 462 speakers).

    Attributes
    ----------
    num_classes : int
        Speakers.
    sample_rate : float
        Hz.
    input_samples : int
        Samples per chunk (200 ms at 16 kHz: 3200).
    sinc_filters, sinc_kernel : int
        The first layer: filters and taps (80 of 251, 15.7 ms at 16 kHz).
    conv_channels, conv_kernels : tuple of int
        The ordinary convolutions after it (60 of 5, twice).
    pool_sizes : tuple of int
        Max-pooling after each convolution, the sinc layer first (3, 3, 3).
    fc_units : tuple of int
        The fully connected layers (2048, 2048, 2048).
    negative_slope : float
        Of every leaky ReLU (0.2).
    conv_dropout, fc_dropout : float
        Dropout after each convolutional and fully connected stage (0 in the paper).
    pooling : {"flatten", "stats"}
        How the last block's ``(channels, frames)`` map becomes the MLP's input: flattened
        (the paper), or statistics pooling, each channel's mean and standard deviation over the
        frames (``2 * channels`` numbers; see :meth:`SincNet.pool`).
    frontend : {"sinc", "conv"}
        The first layer: :class:`SincConv1d`, or an ordinary ``nn.Conv1d`` of the same shape
        (no bias), the paper's CNN baseline.
    min_low_hz, min_band_hz : float
        Of the sinc layer (50 Hz).
    """

    num_classes: int = 462
    sample_rate: float = 16000.0
    input_samples: int = 3200
    sinc_filters: int = 80
    sinc_kernel: int = 251
    conv_channels: tuple = (60, 60)
    conv_kernels: tuple = (5, 5)
    pool_sizes: tuple = (3, 3, 3)
    fc_units: tuple = (2048, 2048, 2048)
    negative_slope: float = 0.2
    conv_dropout: float = 0.0
    fc_dropout: float = 0.0
    pooling: str = "flatten"
    frontend: str = "sinc"
    min_low_hz: float = 50.0
    min_band_hz: float = 50.0


def _ints(values, name: str) -> tuple:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a sequence of positive ints, got {type(values).__name__}")
    return tuple(positive_int(v, f"{name}[{i}]") for i, v in enumerate(values))


def _probability(value, name: str) -> float:
    p = real_number(value, name)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return p


class SincNet(nn.Module):
    r"""SincNet for speaker identification: sinc layer, two convolutions, fully connected layers.

    For a chunk :math:`\mathbf x` of ``input_samples`` samples,

    .. math::
        \mathbf h_0 = \mathrm{LN}(\mathbf x), \quad
        \mathbf h_1 = \mathrm{block}_1(\mathbf h_0) \text{ (sinc layer, } |\cdot|\text{)}, \quad
        \mathbf h_{i+1} = \mathrm{block}_{i+1}(\mathbf h_i), \quad
        \mathbf z_0 = \mathrm{LN}(\mathrm{pool}(\mathbf h_{\mathrm{last}})), \quad
        \mathbf z_{k+1} = \mathrm{drop}(\mathrm{lrelu}_\alpha(\mathrm{BN}(W_k \mathbf z_k + \mathbf b_k))),

    and the logits :math:`W \mathbf z_K + \mathbf b`, one per speaker (a softmax turns
    them into the posteriors that an utterance averages over its chunks). Each block
    is a :class:`ConvBlock` and :math:`\mathrm{pool}` flattens the last feature map, or,
    with ``pooling="stats"``, takes its statistics (:meth:`pool`). The input layer norm has no learned scale (it only
    standardises the chunk); the paper's batch norms use momentum 0.05.

    Layers: ``input_norm``, ``features`` (an ``nn.Sequential`` of :class:`ConvBlock`;
    ``features[0].conv`` is the sinc layer, or the ordinary convolution with
    ``frontend="conv"``), ``flat_norm``, ``fc`` (``nn.Sequential``), ``classifier``.

    Parameters
    ----------
    config : SincNetConfig, optional
        Default: the paper's TIMIT configuration.
    **changes
        Fields of :class:`SincNetConfig` to change.

    Attributes
    ----------
    config : SincNetConfig
    sinc : SincConv1d or nn.Conv1d
        The first layer, ``features[0].conv``.
    feature_shape : tuple of int
        ``(channels, frames)`` after the last convolutional block.

    Raises
    ------
    ValueError, TypeError
        For a bad size; if ``input_samples`` is too short for the convolutions and
        poolings; in ``forward``, for input not ``(batch, input_samples)``.

    Examples
    --------
    >>> net = SincNet(num_classes=6, sample_rate=8000, input_samples=1600, sinc_filters=16, sinc_kernel=125,
    ...               conv_channels=(16, 16), fc_units=(64,))
    >>> net.feature_shape, net(torch.randn(3, 1600)).shape
    ((16, 52), torch.Size([3, 6]))

    Chapter: ``notebooks/06d_sincnet.ipynb``.
    """

    def __init__(self, config: SincNetConfig | None = None, **changes):
        super().__init__()
        config = SincNetConfig(**changes) if config is None else dataclasses.replace(config, **changes)
        self.config = config
        positive_int(config.num_classes, "num_classes")
        samples = positive_int(config.input_samples, "input_samples")
        channels = _ints(config.conv_channels, "conv_channels")
        kernels = _ints(config.conv_kernels, "conv_kernels")
        pools = _ints(config.pool_sizes, "pool_sizes")
        units = _ints(config.fc_units, "fc_units")
        if len(kernels) != len(channels) or len(pools) != len(channels) + 1:
            raise ValueError(f"conv_kernels must have one entry per conv_channels ({len(channels)}) and "
                             f"pool_sizes one more (the sinc layer's), got {len(kernels)} and {len(pools)}")
        slope = real_number(config.negative_slope, "negative_slope")
        conv_drop = _probability(config.conv_dropout, "conv_dropout")
        fc_drop = _probability(config.fc_dropout, "fc_dropout")
        if config.frontend == "sinc":
            first = SincConv1d(config.sinc_filters, config.sinc_kernel, config.sample_rate,
                               min_low_hz=config.min_low_hz, min_band_hz=config.min_band_hz)
        elif config.frontend == "conv":
            first = nn.Conv1d(1, positive_int(config.sinc_filters, "sinc_filters"),
                              _odd_kernel(config.sinc_kernel), bias=False)
        else:
            raise ValueError(f"frontend must be 'sinc' or 'conv', got {config.frontend!r}")
        length = self._pooled(samples, config.sinc_kernel, pools[0])
        blocks = [ConvBlock(first, config.sinc_filters, pools[0], slope, conv_drop, rectify=True)]
        previous = config.sinc_filters
        for c, k, p in zip(channels, kernels, pools[1:]):
            blocks.append(ConvBlock(nn.Conv1d(previous, c, k), c, p, slope, conv_drop))
            length, previous = self._pooled(length, k, p), c
        self.feature_shape = (previous, length)
        self.input_norm = nn.GroupNorm(1, 1, affine=False)
        self.features = nn.Sequential(*blocks)
        if config.pooling not in ("flatten", "stats"):
            raise ValueError(f"pooling must be 'flatten' or 'stats', got {config.pooling!r}")
        flat = previous * length if config.pooling == "flatten" else 2 * previous
        self.flat_norm = nn.LayerNorm(flat)
        layers: list[nn.Module] = []
        for u in units:
            layers += [nn.Linear(flat, u), nn.BatchNorm1d(u, momentum=0.05), nn.LeakyReLU(slope), nn.Dropout(fc_drop)]
            flat = u
        self.fc = nn.Sequential(*layers)
        self.classifier = nn.Linear(flat, config.num_classes)

    def _pooled(self, length: int, kernel: int, pool: int) -> int:
        out = (length - kernel + 1) // pool
        if out < 1:
            raise ValueError(f"input_samples ({self.config.input_samples}) is too short: the convolutions and "
                             f"poolings leave no frame (a kernel of {kernel} on {length} frames, pooled by {pool})")
        return out

    @property
    def sinc(self) -> nn.Module:
        return self.features[0].conv

    def pool(self, h: torch.Tensor) -> torch.Tensor:
        r"""The last feature map ``(batch, channels, frames)`` as the MLP's input vector.

        ``pooling="flatten"``: ``h.flatten(1)``, ``(batch, channels * frames)``. ``pooling="stats"``:
        per channel :math:`c`, the mean and the standard deviation over the :math:`T` frames,

        .. math:: m_c = \frac1T \sum_t h_{ct}, \qquad
                  s_c = \Big(\frac1T \sum_t (h_{ct} - m_c)^2 + \epsilon\Big)^{1/2}, \qquad \epsilon = 10^{-5},

        ``(batch, 2 * channels)``, the means first (:math:`\epsilon` keeps the gradient finite for a
        constant channel).

        Examples
        --------
        >>> net = SincNet(num_classes=2, sample_rate=8000, input_samples=800, sinc_filters=4, sinc_kernel=33,
        ...               conv_channels=(4,), conv_kernels=(3,), pool_sizes=(3, 3), fc_units=(8,), pooling="stats")
        >>> h = torch.tensor([[[1.0, 3.0], [2.0, 2.0]]])
        >>> net.pool(h)
        tensor([[2.0000, 2.0000, 1.0000, 0.0032]])
        """
        if self.config.pooling == "stats":
            return torch.cat([h.mean(-1), (h.var(-1, correction=0) + 1e-5).sqrt()], dim=1)
        return h.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(batch, num_classes)`` of chunks ``x``, shape ``(batch, input_samples)``."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor of shape (batch, {self.config.input_samples}), "
                            f"got {type(x).__name__}")
        if x.ndim != 2 or x.shape[1] != self.config.input_samples:
            raise ValueError(f"x must have shape (batch, input_samples) = (batch, {self.config.input_samples}): "
                             f"chunks of {self.config.input_samples} samples, got shape {tuple(x.shape)}")
        h = self.features(self.input_norm(x.unsqueeze(1)))
        return self.classifier(self.fc(self.flat_norm(self.pool(h))))


def sincnet(num_classes: int, sample_rate: float, input_samples: int, **changes) -> SincNet:
    """A :class:`SincNet` for ``num_classes`` speakers on chunks of ``input_samples`` at ``sample_rate``.

    The other sizes are the paper's (:class:`SincNetConfig`) unless ``changes`` name them.

    Examples
    --------
    >>> net = sincnet(6, 8000, 1600, sinc_filters=8, sinc_kernel=65, conv_channels=(8, 8), fc_units=(32,))
    >>> net(torch.zeros(2, 1600)).shape
    torch.Size([2, 6])
    """
    return SincNet(num_classes=num_classes, sample_rate=sample_rate, input_samples=input_samples, **changes)


def sincnet_timit(num_classes: int = 462, **changes) -> SincNet:
    """The paper's TIMIT configuration: 16 kHz, 200 ms chunks, 80 sinc filters of 251 taps, 60-60 convolutions.

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only
    ...     net = sincnet_timit()
    >>> net.feature_shape, sum(p.numel() for p in net.sinc.parameters())  # 160 = 2 x 80, against 80 x 251
    ((60, 107), 160)
    """
    return SincNet(num_classes=num_classes, **changes)

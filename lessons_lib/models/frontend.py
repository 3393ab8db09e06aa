"""The torch front end: Chapter 1's log-mel spectrogram as a batched, differentiable ``nn.Module``.

Every network of Chapters 6 and 7 reads log-mel features. :class:`LogMel`
computes them on whatever device its input lives on, for a whole batch at once,
with gradients, and gives the same numbers as the NumPy functions that
Chapter 1 builds and proves equal to librosa:

.. code-block:: python

    S_db = spectral.power_to_db(mel.melspectrogram(y=y, sr=sr, ...), ref=..., amin=..., top_db=...)
    S_db = LogMel(sr=sr, ...)(torch.from_numpy(y))       # the same, in torch

Its window and filterbank *are* Chapter 1's (:func:`lessons_lib.spectral.get_window`,
:func:`lessons_lib.mel.mel_filterbank`); only the FFT (``torch.stft``), the
matrix product and the logarithm run in torch. This module imports nothing
beyond torch, NumPy and those two NumPy modules, so it runs on a GPU machine
without librosa.

Chapter: 1 (``notebooks/01b_stft_mel_mfcc.ipynb`` teaches the NumPy path);
the front end of Chapter 6's CNN classifiers (``notebooks/06b_cnn_classifiers.ipynb``) and,
to come, of Chapter 7's vocoders.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from .. import mel, spectral
from .._checks import positive_int, real_number, sample_rate

__all__ = ["LogMel"]


class LogMel(nn.Module):
    """Log-mel spectrogram of a batch of waveforms, equal to Chapter 1's NumPy path.

    For each waveform :math:`x` of the batch, with the window :math:`w`
    (``window`` of ``win_length`` samples, zero-padded on both sides to
    :math:`N` = ``n_fft``), hop :math:`R` and frequency bins :math:`k = 0, \\dots, N/2`:

    .. math::
        X[k, m] &= \\sum_{n=0}^{N-1} w[n]\\, x[n + mR]\\, e^{-2\\pi i k n / N}
                  \\qquad \\text{(STFT; } x \\text{ centre-padded first if center)} \\\\
        S[b, m] &= \\sum_k H_b[k]\\, |X[k, m]|^p
                  \\qquad \\text{(mel filterbank } H \\text{, power } p\\text{)} \\\\
        S_\\text{dB}[b, m] &= 10 \\log_{10} \\max(\\epsilon, S[b, m])
                             - 10 \\log_{10} \\max(\\epsilon, S_\\text{ref}) \\\\
        S_\\text{dB} &\\leftarrow \\max\\!\\left(S_\\text{dB},\\; \\max_{b, m} S_\\text{dB} - \\tau\\right)
                  \\qquad \\text{(if } \\tau \\text{, top\\_db, is not None)}

    with the floor :math:`\\epsilon` = ``amin``. That is
    ``spectral.power_to_db(mel.melspectrogram(y=x, ...), ref=..., amin=..., top_db=...)``
    for each item, and, with librosa's defaults, ``librosa.power_to_db(librosa.feature.melspectrogram(...))``.

    **A batch.** Items are independent: the reference :math:`S_\\text{ref}` of
    ``ref="max"`` and the peak that ``top_db`` counts down from are taken *per
    item* (``power_to_db(S, ref=np.max)`` applied to each item separately),
    never across the batch. For waveforms zero-padded to a common length, pass
    their true ``lengths`` to :meth:`forward`: the maxima are then taken over
    each item's own :meth:`n_frames` frames, and those frames equal the item
    computed alone (with ``pad_mode="constant"``: the zeros of the padding are
    the zeros the centred STFT would have added). Frames past an item's length
    are still returned; mask them with :meth:`n_frames`.

    **Buffers.** The window (padded to ``n_fft``) and the filterbank :math:`H`
    are built once, in float64, by :func:`lessons_lib.spectral.get_window` and
    :func:`lessons_lib.mel.mel_filterbank`, and registered as *non-persistent*
    buffers: they move with ``.to(device)``, ``.double()`` and ``.float()``,
    but they are not in ``state_dict()``: they follow from the constructor's
    arguments, and a model's checkpoint (or a reference model's state-dict
    keys) should not carry them. :math:`H` holds the float32 filter values
    that ``mel.melspectrogram`` and librosa use by default (float32 is their
    default filterbank dtype), exactly, in float64.

    **Precision.** Everything is computed in the input's dtype (float32 or
    float64), with the buffers cast to it, and with autocast switched off
    inside: mixed precision never lowers the precision of the features. For
    float64 results keep the module in float64 (the default; ``.float()``
    rounds the window to float32).

    Parameters
    ----------
    sr : int, default 22050
        Sampling rate :math:`f_s` in Hz.
    n_fft : int, default 2048
        FFT size :math:`N`; ``1 + n_fft // 2`` frequency bins.
    hop_length : int or None, default 512
        Hop :math:`R` in samples; None means ``win_length // 4``, as
        :func:`lessons_lib.spectral.stft`.
    win_length : int, optional
        Window length; default ``n_fft``; at most ``n_fft``.
    window : str or ndarray, default "hann"
        As :func:`lessons_lib.spectral.get_window`.
    center : bool, default True
        Pad ``n_fft // 2`` samples on both sides so that frame :math:`m` is
        centred on sample :math:`mR`.
    pad_mode : {"constant", "reflect"}, default "constant"
        Zeros, or the waveform mirrored (as ``numpy.pad``, for any length).
    power : float, default 2.0
        :math:`p`: 2 for power, 1 for magnitude.
    n_mels : int, default 128
    fmin : float, default 0.0
    fmax : float, optional
        Band edges in Hz; ``fmax`` defaults to ``sr / 2`` and may not exceed it.
    htk : bool, default False
    norm : None, "slaney" or float, default "slaney"
        As :func:`lessons_lib.mel.mel_filterbank`.
    ref : float or "max", default 1.0
        :math:`S_\\text{ref}`: a positive constant, or ``"max"`` for each
        item's largest mel power.
    amin : float, default 1e-10
        :math:`\\epsilon` > 0.
    top_db : float or None, default 80.0
        :math:`\\tau` >= 0, the range kept below each item's peak; None keeps all.

    Attributes
    ----------
    window : Tensor, shape (n_fft,)
        The analysis window, zero-padded to ``n_fft`` (a buffer).
    filterbank : Tensor, shape (n_mels, 1 + n_fft // 2)
        :math:`H` (a buffer).

    Raises
    ------
    TypeError
        If a length is not an int, ``center`` or ``htk`` is not a bool, or a
        number is not a real number.
    ValueError
        If ``sr``, ``n_fft``, ``hop_length``, ``win_length`` or ``n_mels`` is
        not positive, ``win_length > n_fft``, ``fmax > sr / 2``, ``fmin`` is
        negative or not below ``fmax``, ``power``, ``amin`` or ``ref`` is not
        positive, ``top_db < 0``, or ``window``, ``pad_mode``, ``norm`` or
        ``ref`` is unknown.

    Examples
    --------
    >>> logmel = LogMel(sr=8000, n_fft=256, hop_length=80, n_mels=26)
    >>> y = torch.randn(2, 8000, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> S_db = logmel(y)                               # (batch, n_mels, n_frames)
    >>> S_db.shape, S_db.dtype
    (torch.Size([2, 26, 101]), torch.float64)
    >>> chapter_1 = spectral.power_to_db(mel.melspectrogram(y=y[1].numpy(), sr=8000, n_fft=256,
    ...                                                     hop_length=80, n_mels=26))
    >>> bool(np.allclose(S_db[1].numpy(), chapter_1, rtol=1e-12, atol=1e-10))
    True
    >>> logmel.n_frames(torch.tensor([8000, 4000]))    # frames of zero-padded items
    tensor([101,  51])
    """

    window: torch.Tensor
    filterbank: torch.Tensor

    def __init__(
        self,
        *,
        sr: int = 22050,
        n_fft: int = 2048,
        hop_length: int | None = 512,
        win_length: int | None = None,
        window="hann",
        center: bool = True,
        pad_mode: str = "constant",
        power: float = 2.0,
        n_mels: int = 128,
        fmin: float = 0.0,
        fmax: float | None = None,
        htk: bool = False,
        norm="slaney",
        ref=1.0,
        amin: float = 1e-10,
        top_db: float | None = 80.0,
    ) -> None:
        super().__init__()
        self.sr = sample_rate(sr)
        self.n_fft, self.hop_length, self.win_length = spectral._stft_lengths(n_fft, hop_length, win_length)
        self.center = _boolean(center, "center")
        self.htk = _boolean(htk, "htk")
        if pad_mode not in ("constant", "reflect"):
            raise ValueError(f"pad_mode must be 'constant' or 'reflect', got {pad_mode!r}")
        self.pad_mode = pad_mode
        self.power = real_number(power, "power")
        if not self.power > 0:
            raise ValueError(f"power must be positive, got {power}")
        self.n_mels = positive_int(n_mels, "n_mels")
        self.fmin = real_number(fmin, "fmin")
        self.fmax = self.sr / 2.0 if fmax is None else real_number(fmax, "fmax")
        self.norm = norm
        if isinstance(ref, str):
            if ref != "max":
                raise ValueError(f"ref must be a positive number or 'max', got {ref!r}")
            self.ref = ref
        else:
            self.ref = real_number(ref, "ref")
            if not self.ref > 0:
                raise ValueError(f"ref must be a positive number or 'max', got {ref}")
        self.amin = real_number(amin, "amin")
        if not self.amin > 0:
            raise ValueError(f"amin must be positive, got {amin}")
        self.top_db = None if top_db is None else real_number(top_db, "top_db")
        if self.top_db is not None and self.top_db < 0:
            raise ValueError(f"top_db must be non-negative or None, got {top_db}")
        self._window_name = window if isinstance(window, str) else "array"

        w = spectral._pad_center(spectral.get_window(window, self.win_length), self.n_fft)
        # mel.melspectrogram's (and librosa's) filters: float32 values, held exactly in float64.
        H = mel.mel_filterbank(sr=self.sr, n_fft=self.n_fft, n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax,
                               htk=self.htk, norm=norm, dtype=np.float32).astype(np.float64)
        self.register_buffer("window", torch.from_numpy(w), persistent=False)
        self.register_buffer("filterbank", torch.from_numpy(H), persistent=False)

    def extra_repr(self) -> str:
        return (f"sr={self.sr}, n_fft={self.n_fft}, hop_length={self.hop_length}, win_length={self.win_length}, "
                f"window={self._window_name!r}, center={self.center}, pad_mode={self.pad_mode!r}, "
                f"power={self.power}, n_mels={self.n_mels}, fmin={self.fmin}, fmax={self.fmax}, htk={self.htk}, "
                f"norm={self.norm!r}, ref={self.ref!r}, amin={self.amin}, top_db={self.top_db}")

    # ------------------------------------------------------------------ lengths

    def n_frames(self, lengths):
        """Number of STFT frames of waveforms of ``lengths`` samples.

        .. math:: M = 1 + \\left\\lfloor \\frac{L + 2 P - N}{R} \\right\\rfloor,
                  \\qquad P = \\lfloor N/2 \\rfloor \\text{ if center, else } 0

        Parameters
        ----------
        lengths : int, sequence of int or integer Tensor, shape (batch,)
            Samples per waveform, >= 1 (>= ``n_fft`` when ``center=False``).

        Returns
        -------
        int or Tensor of int64, shape (batch,)
            An int for an int; otherwise a tensor on ``lengths``' device.

        Raises
        ------
        TypeError
            If ``lengths`` is not made of integers.
        ValueError
            If a length is below 1, or below ``n_fft`` when ``center=False``.

        Examples
        --------
        >>> LogMel(sr=8000, n_fft=256, hop_length=80).n_frames(8000)
        101
        """
        if isinstance(lengths, (int, np.integer)) and not isinstance(lengths, bool):
            lengths_t = torch.tensor([int(lengths)])
            return int(self._n_frames(self._check_lengths(lengths_t))[0])
        return self._n_frames(self._check_lengths(_as_lengths(lengths)))

    def _n_frames(self, lengths: torch.Tensor) -> torch.Tensor:
        padded = lengths + 2 * (self.n_fft // 2) if self.center else lengths
        return 1 + torch.div(padded - self.n_fft, self.hop_length, rounding_mode="floor")

    def _check_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        if lengths.ndim != 1:
            raise ValueError(f"lengths must be 1-D, shape (batch,), got shape {tuple(lengths.shape)}")
        if lengths.numel():
            shortest = int(lengths.min())
            least = 1 if self.center else self.n_fft
            if shortest < least:
                raise ValueError(f"lengths must be >= {least}" + ("" if self.center else " (n_fft, as center=False)")
                                 + f", got {shortest}")
        return lengths

    # ------------------------------------------------------------------ forward

    def melspectrogram(self, y: torch.Tensor) -> torch.Tensor:
        """The mel power spectrogram :math:`S = H |X|^p`, before decibels.

        Parameters
        ----------
        y : Tensor of float32 or float64, shape (batch, n_samples) or (n_samples,)

        Returns
        -------
        Tensor, shape (batch, n_mels, n_frames) or (n_mels, n_frames)
            In ``y``'s dtype; each item equal to ``mel.melspectrogram(y=item, ...)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`.

        Examples
        --------
        >>> LogMel(sr=8000, n_fft=256, hop_length=80, n_mels=26).melspectrogram(torch.zeros(8000)).shape
        torch.Size([26, 101])
        """
        batch, squeeze = self._check_waveform(y)
        with _no_autocast(batch.device):
            S = self._mel_power(batch)
        return S[0] if squeeze else S

    def forward(self, y: torch.Tensor, lengths=None) -> torch.Tensor:
        """Log-mel spectrogram in dB of each waveform of the batch.

        Parameters
        ----------
        y : Tensor of float32 or float64, shape (batch, n_samples) or (n_samples,)
            Finite samples, time on the last axis.
        lengths : sequence of int or integer Tensor, shape (batch,), optional
            True lengths of zero-padded waveforms: ``ref="max"`` and ``top_db``
            then look only at each item's first ``n_frames(lengths)`` frames.

        Returns
        -------
        Tensor, shape (batch, n_mels, n_frames) or (n_mels, n_frames)
            In ``y``'s dtype, ``n_frames = self.n_frames(n_samples)``.

        Raises
        ------
        TypeError
            If ``y`` is not a tensor, or not float32/float64 (integer PCM:
            divide by 32768 first, see :func:`lessons_lib.audio.pcm_to_float`).
        ValueError
            If ``y`` is not 1-D or 2-D, is empty or not finite; if
            ``center=False`` and it is shorter than ``n_fft``; if ``lengths``
            does not have one length in 1..n_samples per item.

        Examples
        --------
        >>> logmel = LogMel(sr=8000, n_fft=256, hop_length=80, n_mels=26, ref="max")
        >>> S_db = logmel(torch.randn(3, 4000, generator=torch.Generator().manual_seed(0)))
        >>> S_db.shape, S_db.amax(dim=(1, 2))        # each item's peak is its own 0 dB
        (torch.Size([3, 26, 51]), tensor([0., 0., 0.]))
        """
        batch, squeeze = self._check_waveform(y)
        valid = None
        if lengths is not None:
            if squeeze:
                raise ValueError("lengths is for a batch: y must be 2-D, shape (batch, n_samples)")
            lengths = self._check_lengths(_as_lengths(lengths).to(batch.device))
            if lengths.shape != (batch.shape[0],):
                raise ValueError(f"lengths must have one entry per item, shape ({batch.shape[0]},), "
                                 f"got shape {tuple(lengths.shape)}")
            if int(lengths.max()) > batch.shape[1]:
                raise ValueError(f"lengths must be at most n_samples = {batch.shape[1]}, got {int(lengths.max())}")
            frames = torch.arange(self.n_frames(batch.shape[1]), device=batch.device)
            valid = (frames < self._n_frames(lengths)[:, None])[:, None, :]  # (batch, 1, n_frames)
        with _no_autocast(batch.device):
            S_db = self._power_to_db(self._mel_power(batch), valid)
        return S_db[0] if squeeze else S_db

    def _check_waveform(self, y) -> tuple[torch.Tensor, bool]:
        if not isinstance(y, torch.Tensor):
            raise TypeError(f"y must be a torch.Tensor, got {type(y).__name__}")
        if y.dtype not in (torch.float32, torch.float64):
            hint = (": convert PCM samples to floats in [-1, 1) first (lessons_lib.audio.pcm_to_float)"
                    if not (y.is_floating_point() or y.is_complex()) else "")
            raise TypeError(f"y must be float32 or float64, got {y.dtype}{hint}")
        if y.ndim not in (1, 2):
            raise ValueError(f"y must have shape (batch, n_samples) or (n_samples,), got shape {tuple(y.shape)}")
        if y.numel() == 0:
            raise ValueError(f"y is empty, shape {tuple(y.shape)}")
        if not bool(torch.isfinite(y).all()):
            raise ValueError("y contains NaN or infinite values")
        if not self.center and y.shape[-1] < self.n_fft:
            raise ValueError(f"y has {y.shape[-1]} samples, fewer than n_fft={self.n_fft}; "
                             "use center=True or a smaller n_fft")
        return (y[None] if y.ndim == 1 else y), y.ndim == 1

    def _pad(self, y: torch.Tensor) -> torch.Tensor:
        """Centre padding of ``n_fft // 2`` on both sides, as ``numpy.pad`` does it (any length)."""
        p = self.n_fft // 2
        if self.pad_mode == "constant":
            return nn.functional.pad(y, (p, p))
        n = y.shape[-1]
        i = torch.arange(-p, n + p, device=y.device)
        if n == 1:
            return y[:, torch.zeros_like(i)]
        period = 2 * (n - 1)  # the mirrored signal repeats with this period
        i = i.abs() % period
        return y[:, torch.where(i >= n, period - i, i)]

    def _mel_power(self, y: torch.Tensor) -> torch.Tensor:
        if self.center:
            y = self._pad(y)
        X = torch.stft(y, self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
                       window=self.window.to(y.dtype), center=False, onesided=True, return_complex=True)
        if self.power == 2.0:  # |X|^2 without a square root
            S = X.real.square() + X.imag.square()
        else:
            S = X.abs().pow(self.power)
        return torch.matmul(self.filterbank.to(y.dtype), S)  # (batch, n_mels, n_frames)

    def _power_to_db(self, S: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
        S_db = 10.0 * torch.log10(S.clamp(min=self.amin))
        if self.ref == "max":
            S_ref = _item_max(S, valid)
            S_db = S_db - 10.0 * torch.log10(S_ref.clamp(min=self.amin))
        else:
            S_db = S_db - 10.0 * math.log10(max(self.amin, self.ref))
        if self.top_db is not None:
            S_db = torch.maximum(S_db, _item_max(S_db, valid) - self.top_db)
        return S_db


def _item_max(S: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Largest value of each item over its valid frames, shape (batch, 1, 1)."""
    if valid is not None:
        S = S.masked_fill(~valid, -math.inf)
    return S.amax(dim=(1, 2), keepdim=True)


def _as_lengths(lengths) -> torch.Tensor:
    if isinstance(lengths, torch.Tensor):
        if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
        return lengths.long()
    if isinstance(lengths, (Sequence, np.ndarray)) and not isinstance(lengths, str):
        array = np.asarray(lengths)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"lengths must hold integers, got {array.dtype}")
        return torch.as_tensor(array.astype(np.int64))
    raise TypeError(f"lengths must be an int, a sequence of ints or an integer tensor, got {type(lengths).__name__}")


def _boolean(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return bool(value)


def _no_autocast(device: torch.device):
    """Autocast off (features in the input's dtype) on devices that have autocast."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()

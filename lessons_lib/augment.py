r"""Data augmentation from scratch: SpecAugment's masks, time shifts, noise mixed at a chosen SNR, mixup.

A network trained on six speakers learns their voices as well as their digits.
Augmentation shows it each recording in many slightly broken versions, so that
what is left to learn is what survives the damage:

======================  ===========================================  ==========================================
function                what it does                                 where it runs
======================  ===========================================  ==========================================
:func:`spec_augment`    SpecAugment: frequency and time masks on     NumPy, one spectrogram (the notebook,
                        one log-mel spectrogram                      the checks)
:class:`SpecAugment`    the same masks on a batch, in torch          the model, right after ``LogMel``
:func:`time_shift`      shift a waveform in time, circularly or      NumPy, per recording, in a recipe's
                        with zeros                                   ``collate``
:func:`mix_at_snr`      add noise scaled to an exact signal-to-      NumPy, per recording, in ``collate``
                        noise ratio
:func:`mixup`           mix each recording of a batch with another,  torch, per batch, in ``collate``
                        and their labels in the same proportion
======================  ===========================================  ==========================================

Where each piece runs (a design choice). Waveform augmentations act before
the features exist, so they belong to the data pipeline: a recipe's
``collate`` applies :func:`time_shift` and :func:`mix_at_snr` to each training
recording with a ``numpy.random.Generator`` seeded from ``(seed, epoch)``, the
same way the batches are drawn, so that a resumed run sees the same noise.
SpecAugment acts on the log-mel spectrogram, which the models compute
themselves (:class:`lessons_lib.models.frontend.LogMel`), so it is a layer of
the model, ``nn.Sequential(LogMel(...), SpecAugment(...), cnn)``: it masks in
training mode only and is the identity after ``model.eval()``, so evaluation
and :func:`lessons_lib.train.predict` never see a mask. Its random numbers come
from a ``torch.Generator`` you give it, or else from torch's default CPU
generator, which :func:`lessons_lib.train.fit` seeds and checkpoints together
with dropout's; they are always drawn on the CPU, so a batch is masked the same
way on every device.

SpecAugment (Park et al., 2019) has three parts: time warping, frequency
masking and time masking. Only the masks are here. Time warping, a smooth
warp of the spectrogram along time around a random point, was the costliest
of the three (it needs an image-warping routine) and, in the paper's own
ablation, the one that helped least; many later recipes leave it out.
It is an exercise of the chapter. Speed perturbation (Ko et al., 2015),
resampling a recording by a factor such as 0.9 or 1.1 so that both its tempo
and its pitch change, is another classic and needs only
:func:`lessons_lib.audio.resample`; the chapter shows it in prose and leaves
it as an exercise.

Shapes follow the package: a waveform is ``(n_samples,)``; a spectrogram is
``(n_mels, n_frames)``, frequency first; a batch of spectrograms is
``(batch, n_mels, n_frames)``, as ``LogMel`` returns it.

References
----------
D. S. Park, W. Chan, Y. Zhang, C.-C. Chiu, B. Zoph, E. D. Cubuk, Q. V. Le.
"SpecAugment: A Simple Data Augmentation Method for Automatic Speech
Recognition." Interspeech 2019.

T. Ko, V. Peddinti, D. Povey, S. Khudanpur. "Audio Augmentation for Speech
Recognition." Interspeech 2015.

Chapter: ``notebooks/06c_cnn_evaluation.ipynb`` (each augmentation checked and an ablation), used by
the recipe ``lessons_lib.recipes.cnn_fsdd`` of ``notebooks/06b_cnn_classifiers.ipynb``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._checks import finite_array, positive_int, real_number
from ._checks import waveform as _check_waveform

__all__ = ["Masks", "draw_masks", "apply_masks", "spec_augment", "SpecAugment", "time_shift", "mix_at_snr", "mixup"]


class Masks(NamedTuple):
    """Where SpecAugment's masks lie: first bin or frame and width of each.

    Mask :math:`j` of frequency covers the mel bands
    ``freq_starts[j] <= f < freq_starts[j] + freq_widths[j]``; mask :math:`j`
    of time covers the frames ``time_starts[j] <= t < time_starts[j] + time_widths[j]``.
    A width of 0 masks nothing. For one spectrogram (:func:`spec_augment`)
    each field is an int64 array of shape ``(n_masks,)``; for a batch
    (:class:`SpecAugment`) an int64 tensor of shape ``(batch, n_masks)``,
    one row per item.

    Attributes
    ----------
    freq_starts, freq_widths : ndarray or Tensor of int64, shape ([batch,] n_freq_masks)
    time_starts, time_widths : ndarray or Tensor of int64, shape ([batch,] n_time_masks)
    """

    freq_starts: np.ndarray
    freq_widths: np.ndarray
    time_starts: np.ndarray
    time_widths: np.ndarray


# --------------------------------------------------------------------------- checks


def _count(value, name: str) -> int:
    """An int >= 0, else TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative int, got {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative int, got {value}")
    return int(value)


def _ratio(value, name: str) -> float:
    p = real_number(value, name)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return p


def _fill(value):
    if isinstance(value, str):
        if value != "mean":
            raise ValueError(f"fill must be 'mean' or a number, got {value!r}")
        return value
    return real_number(value, "fill")


def _rng(rng, name: str = "rng") -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{name} must be a numpy.random.Generator (np.random.default_rng(seed)), "
                        f"got {type(rng).__name__}")
    return rng


def _spectrogram(S, name: str = "S") -> np.ndarray:
    if isinstance(S, np.ndarray) and S.ndim != 2:
        raise ValueError(f"{name} must be 2-D, shape (n_mels, n_frames), got shape {S.shape}")
    return finite_array(S, name, allow_complex=False)


def _max_time_width(max_time_width: int, max_time_ratio: float, n_frames):
    """Park et al.'s bound on the time masks: :math:`\\min(T, \\lfloor p \\tau \\rfloor)`."""
    if isinstance(n_frames, torch.Tensor):
        return torch.clamp(torch.floor(max_time_ratio * n_frames.double()).long(), max=max_time_width)
    return min(max_time_width, math.floor(max_time_ratio * n_frames))


# --------------------------------------------------------------------------- NumPy: one spectrogram


def draw_masks(n: int, *, n_masks: int, max_width: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw the positions of ``n_masks`` masks along an axis of ``n`` bins (SpecAugment's law).

    Each mask draws its width, then its first bin:

    .. math::
        w_j \\sim \\mathcal U\\{0, \\dots, W'\\}, \\qquad
        s_j \\sim \\mathcal U\\{0, \\dots, n - w_j\\}, \\qquad
        W' = \\min(W, n)

    so the mask :math:`[s_j, s_j + w_j)` always lies inside the axis. Park et
    al. write the start's range as :math:`[0, n - w)`, which could never mask
    the last bin; here every bin can be masked. The draws are
    ``w = rng.integers(0, W' + 1, size=n_masks)``, then
    ``s = rng.integers(0, n - w + 1)``: the same seed gives the same masks.

    Parameters
    ----------
    n : int
        Bins on the axis (mel bands :math:`\\nu`, or frames :math:`\\tau`), >= 1.
    n_masks : int
        :math:`m`, >= 0.
    max_width : int
        :math:`W`, >= 0 (:math:`F` for frequency masks, :math:`T` for time masks).
    rng : numpy.random.Generator

    Returns
    -------
    starts, widths : ndarray of int64, shape (n_masks,)
        :math:`s_j` and :math:`w_j`.

    Raises
    ------
    TypeError
        If a count is not an int or ``rng`` is not a Generator.
    ValueError
        If ``n < 1`` or a count is negative.

    Examples
    --------
    >>> starts, widths = draw_masks(40, n_masks=3, max_width=8, rng=np.random.default_rng(0))
    >>> starts.tolist(), widths.tolist()
    ([9, 11, 1], [7, 5, 4])
    >>> bool(np.all(starts + widths <= 40))
    True
    """
    n = positive_int(n, "n")
    n_masks = _count(n_masks, "n_masks")
    width = min(_count(max_width, "max_width"), n)
    rng = _rng(rng)
    widths = rng.integers(0, width + 1, size=n_masks, dtype=np.int64)
    starts = rng.integers(0, n - widths + 1, size=n_masks, dtype=np.int64)
    return starts, widths


def _covered(n: int, starts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """Boolean of shape (n,): True where any mask ``[start, start + width)`` covers the bin."""
    i = np.arange(n)
    return np.any((i >= starts[:, None]) & (i < (starts + widths)[:, None]), axis=0)


def apply_masks(S: np.ndarray, masks: Masks, *, fill="mean") -> np.ndarray:
    """Replace the masked mel bands and frames of a spectrogram by ``fill``.

    .. math::
        \\tilde S[f, t] = \\begin{cases} c & f \\in \\bigcup_j [s^F_j, s^F_j + w^F_j)
        \\ \\text{or}\\ t \\in \\bigcup_j [s^T_j, s^T_j + w^T_j) \\\\
        S[f, t] & \\text{otherwise} \\end{cases}

    with :math:`c` the mean of :math:`S` (``fill="mean"``, Park et al.'s
    choice) or a constant. On features normalised to mean 0 (CMVN), 0 *is*
    the mean, which is why the paper's code fills with zeros.

    Parameters
    ----------
    S : ndarray of float, shape (n_mels, n_frames)
        A (log-mel) spectrogram, frequency first.
    masks : Masks
        Positions, each field of shape (n_masks,), inside the axes.
    fill : "mean" or float, default "mean"
        :math:`c`; "mean" is the mean of ``S`` before masking.

    Returns
    -------
    ndarray, shape (n_mels, n_frames)
        A new array of ``S``'s dtype; ``S`` is not changed.

    Raises
    ------
    TypeError
        If ``S`` is not a float array or ``fill`` is not a number or "mean".
    ValueError
        If ``S`` is not 2-D or not finite, or a mask leaves its axis.

    Examples
    --------
    >>> S = np.arange(12.0).reshape(3, 4)
    >>> apply_masks(S, Masks(np.array([1]), np.array([1]), np.array([2]), np.array([2])), fill=-1.0)
    array([[ 0.,  1., -1., -1.],
           [-1., -1., -1., -1.],
           [ 8.,  9., -1., -1.]])
    """
    S = _spectrogram(S)
    fill = _fill(fill)
    n_mels, n_frames = S.shape
    freq = _mask_positions(masks.freq_starts, masks.freq_widths, n_mels, "freq")
    time = _mask_positions(masks.time_starts, masks.time_widths, n_frames, "time")
    value = S.mean() if fill == "mean" else fill
    hit = _covered(n_mels, *freq)[:, None] | _covered(n_frames, *time)[None, :]
    return np.where(hit, np.asarray(value, dtype=S.dtype), S)


def _mask_positions(starts, widths, n: int, axis: str) -> tuple[np.ndarray, np.ndarray]:
    starts, widths = np.asarray(starts), np.asarray(widths)
    for name, a in ((f"masks.{axis}_starts", starts), (f"masks.{axis}_widths", widths)):
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise TypeError(f"{name} must be a 1-D array of ints, got dtype {a.dtype}, shape {a.shape}")
    if starts.shape != widths.shape:
        raise ValueError(f"masks.{axis}_starts and masks.{axis}_widths must have the same shape, "
                         f"got {starts.shape} and {widths.shape}")
    if np.any(starts < 0) or np.any(widths < 0) or np.any(starts + widths > n):
        raise ValueError(f"the {axis} masks must lie inside the axis of {n} bins (0 <= start, "
                         f"start + width <= {n}), got starts {starts.tolist()}, widths {widths.tolist()}")
    return starts.astype(np.int64), widths.astype(np.int64)


def spec_augment(S: np.ndarray, *, n_freq_masks: int, max_freq_width: int, n_time_masks: int,
                 max_time_width: int, rng: np.random.Generator, max_time_ratio: float = 1.0, fill="mean",
                 return_masks: bool = False):
    """SpecAugment's frequency and time masks on one spectrogram (Park et al., 2019).

    :math:`m_F` frequency masks of width :math:`f \\sim \\mathcal U\\{0, \\dots, F\\}`
    starting at :math:`f_0 \\sim \\mathcal U\\{0, \\dots, \\nu - f\\}`, and
    :math:`m_T` time masks of width :math:`t \\sim \\mathcal U\\{0, \\dots, T'\\}`
    starting at :math:`t_0 \\sim \\mathcal U\\{0, \\dots, \\tau - t\\}`, where
    :math:`\\nu` = ``n_mels``, :math:`\\tau` = ``n_frames`` and

    .. math:: T' = \\min\\left(T, \\lfloor p\\, \\tau \\rfloor\\right)

    is the paper's upper bound: no time mask is wider than a fraction
    :math:`p` of the utterance (short digits need it). Every masked value
    becomes ``fill`` (:func:`apply_masks`). The masks are drawn with
    :func:`draw_masks`, frequency masks first, then time masks; masks may
    overlap. Time warping is left out (see the module's docstring).

    Parameters
    ----------
    S : ndarray of float, shape (n_mels, n_frames)
        A log-mel spectrogram, frequency first.
    n_freq_masks, max_freq_width : int
        :math:`m_F` and :math:`F`, >= 0.
    n_time_masks, max_time_width : int
        :math:`m_T` and :math:`T`, >= 0.
    rng : numpy.random.Generator
    max_time_ratio : float, default 1.0
        :math:`p \\in [0, 1]`.
    fill : "mean" or float, default "mean"
        The mean of ``S`` (Park et al.), or a constant (0 on normalised features).
    return_masks : bool, default False
        Also return the :class:`Masks` drawn.

    Returns
    -------
    S_aug : ndarray, shape (n_mels, n_frames)
        A new array; ``S`` is not changed. Equal to ``S`` when no mask is drawn.
    masks : Masks
        Only with ``return_masks=True``.

    Raises
    ------
    TypeError
        If ``S`` is not a float array, a count is not an int, ``rng`` is not a Generator.
    ValueError
        If ``S`` is not 2-D or not finite, a count is negative, ``max_time_ratio``
        is outside [0, 1], or ``fill`` is unknown.

    Examples
    --------
    >>> S_aug, masks = spec_augment(np.ones((6, 10)), n_freq_masks=1, max_freq_width=3, n_time_masks=1,
    ...                             max_time_width=4, rng=np.random.default_rng(0), fill=0.0,
    ...                             return_masks=True)
    >>> masks.freq_starts, masks.freq_widths, masks.time_starts, masks.time_widths
    (array([2]), array([3]), array([2]), array([2]))
    >>> S_aug.astype(int)        # mel bands 2, 3, 4 and frames 2, 3 masked
    array([[1, 1, 0, 0, 1, 1, 1, 1, 1, 1],
           [1, 1, 0, 0, 1, 1, 1, 1, 1, 1],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 1, 1, 1, 1, 1, 1]])
    """
    S = _spectrogram(S)
    fill = _fill(fill)
    p = _ratio(max_time_ratio, "max_time_ratio")
    n_mels, n_frames = S.shape
    freq = draw_masks(n_mels, n_masks=n_freq_masks, max_width=max_freq_width, rng=rng)
    time_width = _max_time_width(_count(max_time_width, "max_time_width"), p, n_frames)
    time = draw_masks(n_frames, n_masks=n_time_masks, max_width=time_width, rng=rng)
    masks = Masks(*freq, *time)
    S_aug = apply_masks(S, masks, fill=fill)
    return (S_aug, masks) if return_masks else S_aug


# --------------------------------------------------------------------------- torch: a batch


class SpecAugment(nn.Module):
    """SpecAugment's masks on a batch of spectrograms, as a layer of the model (training mode only).

    Each item of the batch draws its own masks by the law of
    :func:`spec_augment` (frequency masks :math:`f \\sim \\mathcal U\\{0..F\\}`,
    :math:`f_0 \\sim \\mathcal U\\{0..\\nu - f\\}`; time masks
    :math:`t \\sim \\mathcal U\\{0..T'_i\\}`, :math:`t_0 \\sim \\mathcal U\\{0..\\tau_i - t\\}`,
    with :math:`T'_i = \\min(T, \\lfloor p \\tau_i \\rfloor)`), where
    :math:`\\tau_i` is item :math:`i`'s own number of frames: with ``lengths``
    the time masks fall inside each item's true frames, and the zero-padded
    frames past them are left as they are. Masked values become ``fill``:
    each item's mean over its own frames, or a constant.

    Placed after :class:`lessons_lib.models.frontend.LogMel` in a model, it
    masks only while ``self.training``; in eval mode, or with no masks to
    draw, :meth:`forward` returns its input unchanged (the same tensor).

    **Random numbers.** Positions are drawn on the CPU, in float64, as
    :math:`w = \\lfloor u (W' + 1) \\rfloor` and
    :math:`s = \\lfloor u' (n - w + 1) \\rfloor` with :math:`u, u' \\sim \\mathcal U[0, 1)`
    (exactly uniform on the integers, as :func:`draw_masks`' law; not the same
    stream as NumPy's). They come from ``generator`` if given, otherwise from
    torch's default CPU generator, which :func:`lessons_lib.train.fit` seeds
    with its ``seed`` and saves in its checkpoints, as it does for dropout.
    Drawing on the CPU makes a batch's masks the same on every device.

    Parameters
    ----------
    n_freq_masks, max_freq_width : int
        :math:`m_F` and :math:`F`, >= 0.
    n_time_masks, max_time_width : int
        :math:`m_T` and :math:`T`, >= 0.
    max_time_ratio : float, default 1.0
        :math:`p \\in [0, 1]`.
    fill : "mean" or float, default "mean"
    generator : torch.Generator, optional
        A CPU generator for the positions (kept by the module, not in its state dict).

    Raises
    ------
    TypeError, ValueError
        For a count that is not a non-negative int, ``max_time_ratio`` outside
        [0, 1], an unknown ``fill`` or a generator that is not a CPU ``torch.Generator``.

    Examples
    --------
    >>> augment = SpecAugment(n_freq_masks=2, max_freq_width=4, n_time_masks=2, max_time_width=5,
    ...                       generator=torch.Generator().manual_seed(0))
    >>> S = torch.randn(3, 40, 50, dtype=torch.float64)
    >>> S_aug = augment(S, lengths=torch.tensor([50, 30, 41]))
    >>> S_aug.shape, bool(torch.equal(S_aug[1, :, 30:], S[1, :, 30:]))   # padding untouched
    (torch.Size([3, 40, 50]), True)
    >>> augment.eval()(S) is S                                           # identity in eval mode
    True
    """

    def __init__(self, *, n_freq_masks: int, max_freq_width: int, n_time_masks: int, max_time_width: int,
                 max_time_ratio: float = 1.0, fill="mean", generator: torch.Generator | None = None) -> None:
        super().__init__()
        self.n_freq_masks = _count(n_freq_masks, "n_freq_masks")
        self.max_freq_width = _count(max_freq_width, "max_freq_width")
        self.n_time_masks = _count(n_time_masks, "n_time_masks")
        self.max_time_width = _count(max_time_width, "max_time_width")
        self.max_time_ratio = _ratio(max_time_ratio, "max_time_ratio")
        self.fill = _fill(fill)
        if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != "cpu"):
            raise TypeError(f"generator must be a CPU torch.Generator or None, got {generator!r}")
        self.generator = generator

    def extra_repr(self) -> str:
        return (f"n_freq_masks={self.n_freq_masks}, max_freq_width={self.max_freq_width}, "
                f"n_time_masks={self.n_time_masks}, max_time_width={self.max_time_width}, "
                f"max_time_ratio={self.max_time_ratio}, fill={self.fill!r}")

    def draw(self, n_mels: int, lengths) -> Masks:
        """Draw every item's masks: positions only, nothing applied.

        Parameters
        ----------
        n_mels : int
            :math:`\\nu`, >= 1.
        lengths : int Tensor, shape (batch,)
            :math:`\\tau_i`, each item's number of frames, >= 1.

        Returns
        -------
        Masks
            Fields of int64 CPU tensors, shape (batch, n_freq_masks) and (batch, n_time_masks).

        Raises
        ------
        TypeError, ValueError
            If ``n_mels`` is not a positive int or ``lengths`` not a 1-D tensor of positive ints.

        Examples
        --------
        >>> augment = SpecAugment(n_freq_masks=1, max_freq_width=4, n_time_masks=2, max_time_width=5,
        ...                       generator=torch.Generator().manual_seed(0))
        >>> masks = augment.draw(40, torch.tensor([50, 3]))
        >>> masks.time_starts.shape, bool(((masks.time_starts + masks.time_widths) <= torch.tensor([[50], [3]])).all())
        (torch.Size([2, 2]), True)
        """
        n_mels = positive_int(n_mels, "n_mels")
        lengths = _lengths(lengths).cpu()
        batch = lengths.shape[0]
        freq_limit = torch.full((batch,), min(self.max_freq_width, n_mels), dtype=torch.int64)
        freq = self._positions(torch.full((batch,), n_mels, dtype=torch.int64), freq_limit, self.n_freq_masks)
        time_limit = _max_time_width(self.max_time_width, self.max_time_ratio, lengths)
        time = self._positions(lengths, torch.minimum(time_limit, lengths), self.n_time_masks)
        return Masks(*freq, *time)

    def _positions(self, n: torch.Tensor, width: torch.Tensor, n_masks: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Widths ~ U{0..width_i}, then starts ~ U{0..n_i - w}, shape (batch, n_masks) each."""
        shape = (n.shape[0], n_masks)
        u = torch.rand(shape, generator=self.generator, dtype=torch.float64)
        widths = torch.minimum(torch.floor(u * (width[:, None] + 1)).long(), width[:, None])
        room = n[:, None] - widths + 1
        u = torch.rand(shape, generator=self.generator, dtype=torch.float64)
        starts = torch.minimum(torch.floor(u * room).long(), room - 1)
        return starts, widths

    def apply(self, S: torch.Tensor, masks: Masks, lengths=None) -> torch.Tensor:
        """Fill the masked bands and frames of each item (:func:`apply_masks`, batched).

        Parameters
        ----------
        S : Tensor of float, shape (batch, n_mels, n_frames)
        masks : Masks
            Int tensors of shape (batch, n_masks), as :meth:`draw` returns them.
        lengths : int Tensor, shape (batch,), optional
            Frames of each item; frames past them are never changed. Default: all frames.

        Returns
        -------
        Tensor, shape (batch, n_mels, n_frames)
            A new tensor; item :math:`i`'s first ``lengths[i]`` frames equal
            ``apply_masks(S[i, :, :lengths[i]], masks_i, fill=self.fill)``.

        Raises
        ------
        TypeError, ValueError
            As :meth:`forward`, or for masks of the wrong shape.

        Examples
        --------
        >>> augment = SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1, fill=0.0)
        >>> one = torch.tensor([[1]])
        >>> augment.apply(torch.ones(1, 2, 3), Masks(one * 0, one, one * 2, one))
        tensor([[[0., 0., 0.],
                 [1., 1., 0.]]])
        """
        S, lengths = self._check(S, lengths)
        batch, n_mels, n_frames = S.shape
        masks = _batch_masks(masks, batch, n_mels, lengths)
        f = torch.arange(n_mels, device=S.device)
        t = torch.arange(n_frames, device=S.device)
        freq = _any_mask(f, masks.freq_starts, masks.freq_widths)          # (batch, n_mels)
        time = _any_mask(t, masks.time_starts, masks.time_widths)          # (batch, n_frames)
        valid = t[None, :] < lengths[:, None]                               # (batch, n_frames)
        hit = (freq[:, :, None] | time[:, None, :]) & valid[:, None, :]
        if self.fill == "mean":
            value = (S * valid[:, None, :]).sum(dim=(1, 2), keepdim=True) / (n_mels * lengths[:, None, None])
        else:
            value = torch.tensor(self.fill, dtype=S.dtype, device=S.device)
        return torch.where(hit, value.to(S.dtype), S)

    def forward(self, S: torch.Tensor, lengths=None) -> torch.Tensor:
        """Mask each item of the batch in training mode; return ``S`` itself in eval mode.

        Parameters
        ----------
        S : Tensor of float, shape (batch, n_mels, n_frames)
            Log-mel spectrograms, frequency first (``LogMel``'s output).
        lengths : int Tensor or sequence of int, shape (batch,), optional
            Each item's true number of frames (``LogMel.n_frames(sample_lengths)``);
            default: every item has all ``n_frames``.

        Returns
        -------
        Tensor, shape (batch, n_mels, n_frames)
            Masked copy (training mode), or ``S`` itself (eval mode, or no masks to draw).

        Raises
        ------
        TypeError
            If ``S`` is not a floating tensor, or ``lengths`` not integers.
        ValueError
            If ``S`` is not 3-D or ``lengths`` is not one value in 1..n_frames per item.

        Examples
        --------
        >>> augment = SpecAugment(n_freq_masks=1, max_freq_width=5, n_time_masks=1, max_time_width=5,
        ...                       fill=0.0, generator=torch.Generator().manual_seed(4))
        >>> S_aug = augment(torch.ones(2, 20, 30))
        >>> (S_aug == 0).all(dim=2).sum(dim=1), (S_aug == 0).all(dim=1).sum(dim=1)  # bands, frames: <= 5
        (tensor([2, 4]), tensor([5, 3]))
        """
        S, lengths = self._check(S, lengths)
        if not self.training or (self.n_freq_masks == 0 and self.n_time_masks == 0):
            return S
        return self.apply(S, self.draw(S.shape[1], lengths), lengths)

    def _check(self, S, lengths) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(S, torch.Tensor):
            raise TypeError(f"S must be a torch.Tensor of shape (batch, n_mels, n_frames), got {type(S).__name__}")
        if not S.is_floating_point():
            raise TypeError(f"S must hold floating-point numbers, got dtype {S.dtype}")
        if S.ndim != 3:
            raise ValueError(f"S must be 3-D, shape (batch, n_mels, n_frames), got shape {tuple(S.shape)}")
        if S.numel() == 0:
            raise ValueError(f"S is empty, shape {tuple(S.shape)}")
        if lengths is None:
            return S, torch.full((S.shape[0],), S.shape[2], dtype=torch.int64, device=S.device)
        lengths = _lengths(lengths).to(S.device)
        if lengths.shape != (S.shape[0],):
            raise ValueError(f"lengths must have one entry per item, shape ({S.shape[0]},), got {tuple(lengths.shape)}")
        if int(lengths.max()) > S.shape[2]:
            raise ValueError(f"lengths must be at most n_frames = {S.shape[2]}, got {int(lengths.max())}")
        return S, lengths


def _lengths(lengths) -> torch.Tensor:
    if not isinstance(lengths, torch.Tensor):
        if isinstance(lengths, (str, bytes)) or not hasattr(lengths, "__len__"):
            raise TypeError(f"lengths must be a 1-D integer tensor or sequence of ints, got {type(lengths).__name__}")
        array = np.asarray(lengths)
        if array.size and not np.issubdtype(array.dtype, np.integer):
            raise TypeError(f"lengths must hold integers, got {array.dtype}")
        lengths = torch.as_tensor(array.astype(np.int64))
    if lengths.is_floating_point() or lengths.is_complex() or lengths.dtype == torch.bool:
        raise TypeError(f"lengths must hold integers, got dtype {lengths.dtype}")
    if lengths.ndim != 1 or lengths.numel() == 0:
        raise ValueError(f"lengths must be 1-D, shape (batch,), got shape {tuple(lengths.shape)}")
    if int(lengths.min()) < 1:
        raise ValueError(f"lengths must be >= 1 frame, got {int(lengths.min())}")
    return lengths.long()


def _batch_masks(masks, batch: int, n_mels: int, lengths: torch.Tensor) -> Masks:
    """``masks`` as int64 tensors on ``lengths``' device, checked: (batch, k) each, inside every item's axes."""
    if not isinstance(masks, tuple) or len(masks) != 4:
        raise TypeError(f"masks must be a Masks (freq_starts, freq_widths, time_starts, time_widths), "
                        f"got {type(masks).__name__}")
    fields = []
    for name, m in zip(Masks._fields, masks):
        m = torch.as_tensor(m)
        if m.is_floating_point() or m.is_complex() or m.dtype == torch.bool:
            raise TypeError(f"masks.{name} must hold integers, got dtype {m.dtype}")
        if m.ndim != 2 or m.shape[0] != batch:
            raise ValueError(f"masks.{name} must have shape (batch={batch}, n_masks), got {tuple(m.shape)}")
        fields.append(m.to(device=lengths.device, dtype=torch.int64))
    masks = Masks(*fields)
    for axis, starts, widths, n in (("freq", masks.freq_starts, masks.freq_widths, torch.full_like(lengths, n_mels)),
                                    ("time", masks.time_starts, masks.time_widths, lengths)):
        if starts.shape != widths.shape:
            raise ValueError(f"masks.{axis}_starts and masks.{axis}_widths must have the same shape, "
                             f"got {tuple(starts.shape)} and {tuple(widths.shape)}")
        if bool((starts < 0).any() | (widths < 0).any() | (starts + widths > n[:, None]).any()):
            raise ValueError(f"the {axis} masks must lie inside each item's axis (0 <= start, start + width <= "
                             f"{'n_mels' if axis == 'freq' else 'lengths[i]'})")
    return masks


def _any_mask(i: torch.Tensor, starts: torch.Tensor, widths: torch.Tensor) -> torch.Tensor:
    """(batch, n): True where any of the item's masks ``[start, start + width)`` covers bin ``i``."""
    inside = (i[None, None, :] >= starts[:, :, None]) & (i[None, None, :] < (starts + widths)[:, :, None])
    return inside.any(dim=1)


# --------------------------------------------------------------------------- waveforms


def time_shift(y: np.ndarray, max_shift: int, *, rng: np.random.Generator, mode: str = "roll") -> np.ndarray:
    """Shift a waveform by a random number of samples, keeping its length.

    The shift is :math:`k \\sim \\mathcal U\\{-K, \\dots, K\\}`
    (``rng.integers(-max_shift, max_shift, endpoint=True)``), and with
    :math:`n` = ``len(y)``:

    .. math::
        \\text{roll:}\\quad \\tilde y[i] = y[(i - k) \\bmod n], \\qquad
        \\text{pad:}\\quad \\tilde y[i] = \\begin{cases} y[i - k] & 0 \\le i - k < n \\\\
        0 & \\text{otherwise} \\end{cases}

    Roll moves the end round to the start (``np.roll(y, k)``: a permutation,
    energy kept); pad shifts in zeros and drops what falls off the end (for
    FSDD's closely trimmed digits that can cut speech: keep :math:`K` small,
    e.g. 0.1 s, or use roll).

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,)
    max_shift : int
        :math:`K` >= 0, in samples (``int(0.1 * sr)`` for 0.1 s).
    rng : numpy.random.Generator
    mode : {"roll", "pad"}, default "roll"

    Returns
    -------
    ndarray, shape (n_samples,)
        A new array of ``y``'s dtype.

    Raises
    ------
    TypeError
        If ``y`` is not a float array, ``max_shift`` not an int, ``rng`` not a Generator.
    ValueError
        If ``y`` is not 1-D, empty or not finite, ``max_shift < 0``, or ``mode`` is unknown.

    Examples
    --------
    >>> y = np.arange(1.0, 6.0)
    >>> time_shift(y, 2, rng=np.random.default_rng(0))             # k = 2 for this seed
    array([4., 5., 1., 2., 3.])
    >>> time_shift(y, 2, rng=np.random.default_rng(0), mode="pad")
    array([0., 0., 1., 2., 3.])
    """
    y = _check_waveform(y, "y")
    max_shift = _count(max_shift, "max_shift")
    rng = _rng(rng)
    if mode not in ("roll", "pad"):
        raise ValueError(f"mode must be 'roll' or 'pad', got {mode!r}")
    k = int(rng.integers(-max_shift, max_shift, endpoint=True))
    n = y.shape[0]
    source = np.arange(n) - k
    if mode == "roll":
        return y[source % n]
    inside = (source >= 0) & (source < n)
    return np.where(inside, y[np.clip(source, 0, n - 1)], np.zeros((), dtype=y.dtype))


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, *,
               rng: np.random.Generator | None = None) -> np.ndarray:
    """Add noise to speech, scaled so that the signal-to-noise ratio is exactly ``snr_db``.

    With powers measured as mean squares over the speech's :math:`n` samples,

    .. math::
        P_s = \\frac1n \\sum_i s[i]^2, \\qquad P_v = \\frac1n \\sum_i v[i]^2, \\qquad
        g = \\sqrt{\\frac{P_s}{P_v\\, 10^{\\mathrm{SNR}/10}}}, \\qquad
        x = s + g\\, v

    so that :math:`10 \\log_{10}(P_s / P_{g v}) = \\mathrm{SNR}`. The noise
    segment :math:`v` has the speech's length: a longer noise is cut at an
    offset :math:`o \\sim \\mathcal U\\{0, \\dots, n_v - n\\}`, a shorter one is
    repeated (tiled) from an offset :math:`o \\sim \\mathcal U\\{0, \\dots, n_v - 1\\}`,
    :math:`v[i] = \\text{noise}[(o + i) \\bmod n_v]`. Without ``rng`` the offset is 0.

    The arithmetic is done in float64; the mixture is returned in the speech's
    dtype. It is not clipped (clipping would change the SNR): it may leave
    ``[-1, 1)`` at low SNR; scale it afterwards if needed (a gain on the
    mixture keeps the SNR).

    ``snr_db = +inf`` means no noise: a copy of the speech is returned.
    ``snr_db = -inf`` (noise only, with infinite gain) and NaN are refused.

    Parameters
    ----------
    speech : ndarray of float, shape (n_samples,)
        :math:`s`; must not be silent.
    noise : ndarray of float, shape (n_noise,)
        Any length; the segment used must not be silent.
    snr_db : float
        The SNR in dB; ``+inf`` allowed.
    rng : numpy.random.Generator, optional
        Draws the offset into the noise.

    Returns
    -------
    ndarray, shape (n_samples,)
        :math:`x`, in ``speech``'s dtype.

    Raises
    ------
    TypeError
        If ``speech`` or ``noise`` is not a float array, ``snr_db`` is not a
        real number, or ``rng`` is not a Generator.
    ValueError
        If ``speech`` or ``noise`` is not 1-D, empty or not finite; if
        ``speech`` is silent (:math:`P_s = 0`: no SNR can be reached) or the
        noise segment is (:math:`P_v = 0`); if ``snr_db`` is NaN or ``-inf``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s, v = rng.standard_normal(8000), rng.standard_normal(3000)
    >>> x = mix_at_snr(s, v, 10.0, rng=rng)
    >>> round(float(10 * np.log10(np.mean(s ** 2) / np.mean((x - s) ** 2))), 9)
    10.0
    """
    speech = _check_waveform(speech, "speech")
    noise = _check_waveform(noise, "noise")
    if isinstance(snr_db, bool) or not isinstance(snr_db, (int, float, np.integer, np.floating)):
        raise TypeError(f"snr_db must be a real number (dB), got {type(snr_db).__name__}")
    snr_db = float(snr_db)
    if math.isnan(snr_db) or snr_db == -math.inf:
        raise ValueError(f"snr_db must be a number of dB or +inf (no noise), got {snr_db}: "
                         "-inf would need infinitely loud noise")
    if rng is not None:
        rng = _rng(rng)
    s = speech.astype(np.float64)
    P_s = np.mean(s * s)
    if P_s == 0.0:
        raise ValueError("speech is silent (all zeros): no noise level gives it a signal-to-noise ratio")
    if snr_db == math.inf:
        return speech.copy()
    n, n_v = s.shape[0], noise.shape[0]
    if rng is None:
        offset = 0
    elif n_v >= n:
        offset = int(rng.integers(0, n_v - n, endpoint=True))
    else:
        offset = int(rng.integers(0, n_v))
    v = noise.astype(np.float64)[(offset + np.arange(n)) % n_v]
    P_v = np.mean(v * v)
    if P_v == 0.0:
        raise ValueError("noise is silent over the segment mixed in (all zeros): it cannot be scaled to "
                         f"snr_db = {snr_db}")
    g = np.sqrt(P_s / (P_v * 10.0 ** (snr_db / 10.0)))
    return (s + g * v).astype(speech.dtype, copy=False)


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float, rng: np.random.Generator,
          num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Mixup (Zhang et al., 2018): each item mixed with another of the batch, and its label likewise.

    .. math:: \tilde x_i = \lambda_i x_i + (1 - \lambda_i) x_{\pi(i)}, \qquad
              \tilde y_i = \lambda_i e_{y_i} + (1 - \lambda_i) e_{y_{\pi(i)}}, \qquad
              \lambda_i \sim \mathrm{Beta}(\alpha, \alpha)

    with :math:`\pi` a random permutation of the batch and :math:`e_k` the
    one-hot vector of class :math:`k`. The AST paper mixes waveforms, before the
    log-mel front end, as ``lessons_lib.recipes.ast_fsdd`` does: a mixture of two
    recordings is a sound one could hear, and its label says how much of each
    class it holds. Draws, in order: the permutation, then :math:`\lambda`.

    Parameters
    ----------
    x : Tensor, shape (batch, n_samples)
    y : Tensor of int64, shape (batch,)
    alpha : float
        :math:`\alpha > 0`: small values give :math:`\lambda` near 0 or 1 (mild mixing).
    rng : numpy.random.Generator
    num_classes : int, default 10

    Returns
    -------
    x_mixed : Tensor, shape (batch, n_samples), ``x``'s dtype
    y_mixed : Tensor, shape (batch, num_classes), float32
        Class probabilities (each row sums to 1), for ``F.cross_entropy``.

    Raises
    ------
    TypeError, ValueError
        ``alpha`` not positive; ``x`` and ``y`` of different batch sizes.

    Examples
    --------
    >>> x, y = torch.tensor([[1.0, 1.0], [0.0, 0.0]]), torch.tensor([3, 5])
    >>> xm, ym = mixup(x, y, 0.4, np.random.default_rng(0), num_classes=6)
    >>> bool(torch.allclose(ym.sum(1), torch.ones(2))), bool(torch.allclose(xm[:, 0], ym[:, 3]))
    (True, True)
    """
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"x and y must hold the same items, got {x.shape[0]} and {y.shape[0]}")
    partner = torch.from_numpy(rng.permutation(x.shape[0]))
    lam = torch.from_numpy(rng.beta(alpha, alpha, size=x.shape[0]))
    one_hot = F.one_hot(y, num_classes).double()
    x_mixed = (lam[:, None] * x.double() + (1 - lam[:, None]) * x[partner].double()).to(x.dtype)
    y_mixed = lam[:, None] * one_hot + (1 - lam[:, None]) * one_hot[partner]
    return x_mixed, y_mixed.float()

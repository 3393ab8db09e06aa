r"""wav2vec 2.0: self-supervised speech representations from raw audio, every piece written from ``torch.nn``.

The model of Baevski, Zhou, Mohamed and Auli (2020), in the order the paper
introduces its pieces:

==================================  =========================================================
piece                               what it does
==================================  =========================================================
:class:`FeatureEncoder`             a stack of strided 1-D convolutions (:class:`ConvLayer`):
                                    waveform → latent frames :math:`z_t` (20 ms apart at 16 kHz)
:class:`FeatureProjection`          layer norm of :math:`z_t`, then a linear map to the
                                    transformer's width
:func:`compute_mask_indices`        span masking: a share of the frames become span starts,
                                    each masking the next ``mask_length`` frames
:class:`PositionalConvEmbedding`    relative positions: a grouped, weight-normalised
                                    convolution over time, added to the frames
:class:`EncoderLayer`,              the transformer (post-LN "base" or pre-LN "large" layout),
:class:`TransformerEncoder`         attention written once, :class:`~.layers.MultiHeadSelfAttention`
:class:`GumbelQuantizer`            the product quantiser: :math:`G` codebooks of :math:`V`
                                    entries, chosen by a straight-through Gumbel softmax
:func:`sample_negative_indices`     distractors: other masked frames of the same utterance
:func:`contrastive_loss`            find the true quantised frame among distractors,
                                    cosine similarity over a temperature :math:`\kappa`
:func:`codevector_perplexity`,      use every codebook entry: the perplexity of the average
:func:`diversity_loss`              code distribution, pushed towards :math:`G V`
==================================  =========================================================

and the two models, :class:`Wav2Vec2` (the encoder that fine-tuning keeps) and
:class:`Wav2Vec2ForPreTraining` (plus the quantiser and the two projections of the
contrastive task), with builders for the published configurations
(:func:`wav2vec2_base`, :func:`wav2vec2_large_lv60`).

Equal to Hugging Face ``transformers``. Submodules carry the names of
``transformers.Wav2Vec2Model`` and ``Wav2Vec2ForPreTraining``, so their state
dicts load unchanged: :func:`from_transformers` turns one of theirs (built from a
config with random weights in the tests; a downloaded checkpoint in Colab) into
ours with one ``load_state_dict``, and both compute the same hidden states and,
given the same ``mask_time_indices`` and ``sampled_negative_indices``, the same
loss. The base configuration has 95,044,608 parameters with the pre-training
heads and 94,371,712 without, as theirs.

Shapes. Waveforms are ``(batch, n_samples)``; the convolutions work on
``(batch, channels, frames)``; the transformer and everything after it on
``(batch, frames, features)``, time on axis 1, as in ``transformers``. Masks
and lengths count frames, except ``lengths`` given to a model, which counts
samples.

Differences from ``transformers``, all deliberate: the forward pass never draws
random masks by itself (``Wav2Vec2Model`` in training mode applies SpecAugment
when it is given none); masks and negatives come from
:func:`compute_mask_indices` and :func:`sample_negative_indices` with an
explicit ``numpy.random.Generator``; padding is given as lengths in samples
instead of a 0/1 attention mask; activations are GELU only (the published
configurations); adapters and feature-axis masking are not supported
(:func:`from_transformers` refuses such configs with a ``ValueError``).

Reference: A. Baevski, H. Zhou, A. Mohamed, M. Auli, "wav2vec 2.0: A framework
for self-supervised learning of speech representations", NeurIPS 2020.

Chapter: ``notebooks/06e_wav2vec2.ipynb``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int, probability as _probability, real_number
from .layers import MultiHeadSelfAttention, transformers_reference

__all__ = [
    "Wav2Vec2Config", "BASE", "LARGE_LV60",
    "ConvLayer", "FeatureEncoder", "FeatureProjection", "PositionalConvEmbedding", "FeedForward",
    "EncoderLayer", "TransformerEncoder", "Wav2Vec2", "Wav2Vec2Output",
    "compute_mask_indices", "sample_negative_indices",
    "gumbel_softmax", "GumbelQuantizer", "codevector_perplexity", "contrastive_logits", "contrastive_loss",
    "diversity_loss", "Wav2Vec2ForPreTraining", "PreTrainingOutput",
    "wav2vec2_base", "wav2vec2_large_lv60", "transformers_reference", "config_from_transformers",
    "from_transformers",
]


# --------------------------------------------------------------------------- configuration



def _int_tuple(value, name: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
        raise TypeError(f"{name} must be a non-empty sequence of positive ints, got {value!r}")
    return tuple(positive_int(v, name, "a sequence of positive ints") for v in value)


@dataclass(frozen=True)
class Wav2Vec2Config:
    r"""Hyper-parameters of wav2vec 2.0, with the names (and defaults) of ``transformers.Wav2Vec2Config``.

    The defaults are the BASE model of the paper (:data:`BASE`): 7 convolutions of
    512 channels with strides :math:`5 \cdot 2^6 = 320` (20 ms frames at 16 kHz,
    a receptive field of 400 samples, 25 ms), 12 transformer layers of width 768
    with 12 heads and a 3072-unit feed-forward layer, a positional convolution of
    128 taps in 16 groups, and a quantiser of :math:`G = 2` codebooks of
    :math:`V = 320` entries.

    Attributes
    ----------
    conv_dim, conv_kernel, conv_stride : tuple of int
        Output channels, kernel size and stride of each convolution of the
        feature encoder (one entry per layer; equal lengths).
    conv_bias : bool
        Biases in the convolutions (False in BASE, True in LARGE-LV60).
    feat_extract_norm : {"group", "layer"}
        ``"group"``: a group norm with one group per channel after the first
        convolution only (BASE); ``"layer"``: a layer norm over channels after every
        convolution (LARGE-LV60).
    hidden_size, num_hidden_layers, num_attention_heads, intermediate_size : int
        The transformer: width :math:`d`, layers, heads (dividing :math:`d`), feed-forward units.
    num_conv_pos_embeddings, num_conv_pos_embedding_groups : int
        Kernel size and groups (dividing ``hidden_size``) of the positional convolution.
    do_stable_layer_norm : bool
        False: post-LN layers, a layer norm before the first layer (BASE); True:
        pre-LN layers, a layer norm after the last one (LARGE-LV60).
    layer_norm_eps : float
    hidden_dropout, attention_dropout, activation_dropout, feat_proj_dropout, feat_quantizer_dropout : float
        In [0, 1): after attention and feed-forward, on attention weights, inside the
        feed-forward layer, after the feature projection, on the quantiser's input.
    layerdrop : float
        Probability of skipping a whole transformer layer in training.
    mask_time_prob, mask_time_length : float, int
        Span masking (:func:`compute_mask_indices`): about ``mask_time_prob *
        frames / mask_time_length`` spans of ``mask_time_length`` frames. The model
        has a learned mask embedding (``masked_spec_embed``) iff ``mask_time_prob > 0``.
    mask_time_min_masks : int
        At least this many spans per utterance.
    num_codevector_groups, num_codevectors_per_group : int
        :math:`G` and :math:`V`.
    codevector_dim : int
        Width of a quantised frame, :math:`G` code vectors of ``codevector_dim / G`` concatenated.
    proj_codevector_dim : int
        Width of the space where the contrastive loss compares context and quantised frames.
    num_negatives : int
        Distractors :math:`K` per masked frame.
    contrastive_logits_temperature : float
        :math:`\kappa > 0`.
    diversity_loss_weight : float
        :math:`\alpha \ge 0`.

    Raises
    ------
    TypeError, ValueError
        A field of the wrong type or out of range, naming it.

    Examples
    --------
    >>> cfg = Wav2Vec2Config()
    >>> cfg.hidden_size, len(cfg.conv_dim), math.prod(cfg.conv_stride)
    (768, 7, 320)
    >>> Wav2Vec2Config(hidden_size=100, num_attention_heads=12)
    Traceback (most recent call last):
    ...
    ValueError: hidden_size (100) must be divisible by num_attention_heads (12)
    """

    conv_dim: tuple = (512,) * 7
    conv_kernel: tuple = (10, 3, 3, 3, 3, 2, 2)
    conv_stride: tuple = (5, 2, 2, 2, 2, 2, 2)
    conv_bias: bool = False
    feat_extract_norm: str = "group"
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    num_conv_pos_embeddings: int = 128
    num_conv_pos_embedding_groups: int = 16
    do_stable_layer_norm: bool = False
    layer_norm_eps: float = 1e-5
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    activation_dropout: float = 0.1
    feat_proj_dropout: float = 0.0
    feat_quantizer_dropout: float = 0.0
    layerdrop: float = 0.1
    mask_time_prob: float = 0.05
    mask_time_length: int = 10
    mask_time_min_masks: int = 2
    num_codevector_groups: int = 2
    num_codevectors_per_group: int = 320
    codevector_dim: int = 256
    proj_codevector_dim: int = 256
    num_negatives: int = 100
    contrastive_logits_temperature: float = 0.1
    diversity_loss_weight: float = 0.1

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        for name in ("conv_dim", "conv_kernel", "conv_stride"):
            set_(name, _int_tuple(getattr(self, name), name))
        if not len(self.conv_dim) == len(self.conv_kernel) == len(self.conv_stride):
            raise ValueError(f"conv_dim, conv_kernel and conv_stride must have one entry per layer, got lengths "
                             f"{len(self.conv_dim)}, {len(self.conv_kernel)}, {len(self.conv_stride)}")
        for name in ("conv_bias", "do_stable_layer_norm"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {type(getattr(self, name)).__name__}")
        if self.feat_extract_norm not in ("group", "layer"):
            raise ValueError(f"feat_extract_norm must be 'group' or 'layer', got {self.feat_extract_norm!r}")
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                     "num_conv_pos_embeddings", "num_conv_pos_embedding_groups", "mask_time_length",
                     "num_codevector_groups", "num_codevectors_per_group", "codevector_dim", "proj_codevector_dim",
                     "num_negatives"):
            set_(name, positive_int(getattr(self, name), name))
        if isinstance(self.mask_time_min_masks, bool) or not isinstance(self.mask_time_min_masks, int) \
                or self.mask_time_min_masks < 0:
            raise ValueError(f"mask_time_min_masks must be an int >= 0, got {self.mask_time_min_masks!r}")
        for name in ("hidden_dropout", "attention_dropout", "activation_dropout", "feat_proj_dropout",
                     "feat_quantizer_dropout", "layerdrop", "mask_time_prob"):
            set_(name, _probability(getattr(self, name), name))
        for whole, part in (("hidden_size", "num_attention_heads"), ("hidden_size", "num_conv_pos_embedding_groups"),
                            ("codevector_dim", "num_codevector_groups")):
            if getattr(self, whole) % getattr(self, part):
                raise ValueError(f"{whole} ({getattr(self, whole)}) must be divisible by {part} "
                                 f"({getattr(self, part)})")
        if not real_number(self.layer_norm_eps, "layer_norm_eps") > 0:
            raise ValueError(f"layer_norm_eps must be > 0, got {self.layer_norm_eps}")
        if not real_number(self.contrastive_logits_temperature, "contrastive_logits_temperature") > 0:
            raise ValueError(f"contrastive_logits_temperature must be > 0, got {self.contrastive_logits_temperature}")
        if not real_number(self.diversity_loss_weight, "diversity_loss_weight") >= 0:
            raise ValueError(f"diversity_loss_weight must be >= 0, got {self.diversity_loss_weight}")

    @property
    def receptive_field(self) -> int:
        r"""Samples seen by one frame: :math:`1 + \sum_i (k_i - 1) \prod_{j<i} s_j` (400 for BASE)."""
        field, hop = 1, 1
        for kernel, stride in zip(self.conv_kernel, self.conv_stride):
            field += (kernel - 1) * hop
            hop *= stride
        return field

    @property
    def hop(self) -> int:
        r"""Samples between frames: :math:`\prod_i s_i` (320 for BASE: 20 ms at 16 kHz)."""
        return math.prod(self.conv_stride)


#: The BASE model of the paper (``facebook/wav2vec2-base``): 95,044,608 parameters with the pre-training heads.
BASE = Wav2Vec2Config()

#: LARGE pre-trained on LibriVox (``facebook/wav2vec2-large-lv60``): layer norms in the feature encoder,
#: biased convolutions, pre-LN transformer of 24 layers, width 1024.
LARGE_LV60 = Wav2Vec2Config(conv_bias=True, feat_extract_norm="layer", hidden_size=1024, num_hidden_layers=24,
                            num_attention_heads=16, intermediate_size=4096, do_stable_layer_norm=True,
                            codevector_dim=768, proj_codevector_dim=768)


def _check_config(config) -> Wav2Vec2Config:
    if not isinstance(config, Wav2Vec2Config):
        raise TypeError(f"config must be a lessons_lib.models.wav2vec2.Wav2Vec2Config (for a transformers config, "
                        f"use config_from_transformers), got {type(config).__name__}")
    return config


def _check_waveforms(x, name: str = "input_values") -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        got = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
        raise TypeError(f"{name} must be a floating-point torch.Tensor of waveforms, shape (batch, n_samples), "
                        f"got {got}")
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (batch, n_samples), got shape {tuple(x.shape)}")
    return x


# --------------------------------------------------------------------------- feature encoder


class ConvLayer(nn.Module):
    r"""One block of the feature encoder: a strided convolution, an optional normalisation, GELU.

    .. math:: h = \operatorname{GELU}\big(\operatorname{norm}(W * x + b)\big)

    with ``norm`` a group norm with one group per channel (each channel
    standardised over time, then scaled and shifted: BASE's first layer), a layer
    norm over channels (each frame standardised over channels: every layer of
    LARGE-LV60), or nothing. No padding: ``frames = (n - kernel) // stride + 1``.

    Parameters
    ----------
    in_channels, out_channels, kernel_size, stride : int
    bias : bool, default False
    norm : {None, "group", "layer"}

    Attributes
    ----------
    conv : nn.Conv1d
    layer_norm : nn.GroupNorm or nn.LayerNorm, absent without ``norm``
        Named as in ``transformers`` (which calls the group norm ``layer_norm`` too).

    Shapes
    ------
    ``(batch, in_channels, n)`` → ``(batch, out_channels, (n - kernel_size) // stride + 1)``.

    Examples
    --------
    >>> layer = ConvLayer(1, 4, kernel_size=10, stride=5, norm="group")
    >>> layer(torch.zeros(2, 1, 100)).shape
    torch.Size([2, 4, 19])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, *, bias: bool = False,
                 norm: str | None = None):
        super().__init__()
        if norm not in (None, "group", "layer"):
            raise ValueError(f"norm must be None, 'group' or 'layer', got {norm!r}")
        self.conv = nn.Conv1d(positive_int(in_channels, "in_channels"), positive_int(out_channels, "out_channels"),
                              positive_int(kernel_size, "kernel_size"), stride=positive_int(stride, "stride"),
                              bias=bias)
        self.norm = norm
        if norm == "group":
            self.layer_norm = nn.GroupNorm(out_channels, out_channels, affine=True)
        elif norm == "layer":
            self.layer_norm = nn.LayerNorm(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        if self.norm == "group":
            h = self.layer_norm(h)
        elif self.norm == "layer":
            h = self.layer_norm(h.transpose(1, 2)).transpose(1, 2)  # over channels, frame by frame
        return F.gelu(h)


class FeatureEncoder(nn.Module):
    r"""The convolutional feature encoder :math:`f: \mathcal X \to \mathcal Z`: waveform → latent frames.

    A stack of :class:`ConvLayer` s. Frame :math:`t` of the output sees the
    samples :math:`[t H, t H + R)` with hop :math:`H = \prod_i s_i` and receptive
    field :math:`R = 1 + \sum_i (k_i - 1) \prod_{j<i} s_j` (BASE: :math:`H = 320`,
    :math:`R = 400`, 20 and 25 ms at 16 kHz). The number of frames follows the
    convolutions one by one, :math:`n \leftarrow \lfloor (n - k_i)/s_i \rfloor + 1`
    (:meth:`output_length`).

    Parameters
    ----------
    config : Wav2Vec2Config
        Reads ``conv_dim``, ``conv_kernel``, ``conv_stride``, ``conv_bias``, ``feat_extract_norm``.

    Attributes
    ----------
    conv_layers : nn.ModuleList of ConvLayer
    receptive_field, hop : int

    Shapes
    ------
    ``(batch, n_samples)`` → ``(batch, conv_dim[-1], frames)``.

    Raises
    ------
    TypeError, ValueError
        In ``forward``: not a floating ``(batch, n_samples)`` tensor, or fewer
        samples than the receptive field (no frame at all).

    Examples
    --------
    >>> encoder = FeatureEncoder(Wav2Vec2Config(conv_dim=(8,) * 7))
    >>> encoder.receptive_field, encoder.hop, encoder.output_length(16000)
    (400, 320, 49)
    >>> encoder(torch.zeros(1, 16000)).shape
    torch.Size([1, 8, 49])
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        config = _check_config(config)
        layers, previous = [], 1
        for i, (channels, kernel, stride) in enumerate(zip(config.conv_dim, config.conv_kernel, config.conv_stride)):
            norm = "layer" if config.feat_extract_norm == "layer" else ("group" if i == 0 else None)
            layers.append(ConvLayer(previous, channels, kernel, stride, bias=config.conv_bias, norm=norm))
            previous = channels
        self.conv_layers = nn.ModuleList(layers)
        self.kernels, self.strides = config.conv_kernel, config.conv_stride
        self.receptive_field, self.hop = config.receptive_field, config.hop

    def output_length(self, n_samples):
        """Frames made from ``n_samples`` samples (an int, or an integer tensor of lengths); 0 if too short."""
        n = n_samples
        for kernel, stride in zip(self.kernels, self.strides):
            n = (n - kernel) // stride + 1
        if isinstance(n, torch.Tensor):
            return n.clamp(min=0)
        return max(int(n), 0)

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        x = _check_waveforms(input_values)
        if x.shape[1] < self.receptive_field:
            raise ValueError(f"input_values has {x.shape[1]} samples, fewer than the feature encoder's receptive "
                             f"field of {self.receptive_field}: not one frame could be computed")
        h = x[:, None]
        for layer in self.conv_layers:
            h = layer(h)
        return h


class FeatureProjection(nn.Module):
    r"""Layer norm of each latent frame, then a linear map to the transformer's width.

    .. math:: \tilde z_t = \operatorname{LN}(z_t), \qquad x_t = \operatorname{dropout}(W \tilde z_t + b)

    The normalised :math:`\tilde z_t` is returned too: it is what the quantiser
    reads (the targets), while :math:`x_t` goes on to masking and the transformer.

    Parameters
    ----------
    config : Wav2Vec2Config

    Shapes
    ------
    ``(batch, frames, conv_dim[-1])`` → ``(x, z_normed)``: ``(batch, frames, hidden_size)`` and the input's shape.

    Examples
    --------
    >>> projection = FeatureProjection(Wav2Vec2Config(conv_dim=(8,), conv_kernel=(2,), conv_stride=(2,),
    ...                                               hidden_size=12, num_attention_heads=2,
    ...                                               num_conv_pos_embedding_groups=2))
    >>> [tuple(t.shape) for t in projection(torch.randn(2, 5, 8))]
    [(2, 5, 12), (2, 5, 8)]
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        config = _check_config(config)
        self.layer_norm = nn.LayerNorm(config.conv_dim[-1], eps=config.layer_norm_eps)
        self.projection = nn.Linear(config.conv_dim[-1], config.hidden_size)
        self.dropout = nn.Dropout(config.feat_proj_dropout)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z_normed = self.layer_norm(z)
        return self.dropout(self.projection(z_normed)), z_normed


# --------------------------------------------------------------------------- span masking


def compute_mask_indices(shape, mask_prob: float, mask_length: int, *, rng: np.random.Generator,
                         min_masks: int = 0, lengths=None) -> np.ndarray:
    r"""Span masking as the paper samples it: random span starts, each masking the ``mask_length`` frames from it.

    For an utterance of :math:`L` frames, the number of spans is
    :math:`n = \max(m_{\min}, \lfloor p L / M + u \rfloor)` with :math:`u \sim U[0, 1)`
    (so that :math:`E[n] \approx p L / M`), at most :math:`L - M + 1`; :math:`n`
    distinct starts are drawn uniformly from :math:`\{0, \ldots, L - M\}` (without
    replacement) and frames :math:`s, \ldots, s + M - 1` of each start :math:`s`
    are masked. Spans may overlap, so fewer than :math:`pL` frames are masked:
    a frame away from the edges is left unmasked only if none of the :math:`M`
    starts that would cover it is drawn, so the expected masked fraction is about

    .. math:: 1 - \Big(1 - \frac{n}{L - M + 1}\Big)^{M} \approx 1 - (1 - p/M)^M,

    49 % for the paper's :math:`p = 0.65`, :math:`M = 10` (it states the share of
    starts, :math:`p/M = 0.065`, and "about 49 % of all time steps"). This is
    fairseq's and ``transformers``' ``_compute_mask_indices`` (their ``mask_prob``
    is our :math:`p`), with one random rounding :math:`u` per utterance.

    Parameters
    ----------
    shape : (int, int)
        ``(batch, frames)``.
    mask_prob : float
        :math:`p \in [0, 1)`.
    mask_length : int
        :math:`M \ge 1`, at most the frames of every utterance.
    rng : numpy.random.Generator
    min_masks : int, default 0
        :math:`m_{\min}`.
    lengths : array_like of int, shape (batch,), optional
        Frames of each utterance (padding after them is never masked); default: all ``frames``.

    Returns
    -------
    ndarray of bool, shape (batch, frames)
        True at masked frames.

    Raises
    ------
    TypeError
        ``rng`` not a ``numpy.random.Generator``.
    ValueError
        An utterance shorter than one span (``mask_length`` > its frames), lengths
        out of ``[1, frames]``, ``mask_prob`` outside [0, 1).

    Examples
    --------
    >>> mask = compute_mask_indices((2, 30), 0.65, 5, rng=np.random.default_rng(0))
    >>> mask.shape, mask.dtype
    ((2, 30), dtype('bool'))
    >>> compute_mask_indices((1, 4), 0.5, 5, rng=np.random.default_rng(0))
    Traceback (most recent call last):
    ...
    ValueError: mask_length (5) is longer than utterance 0 (4 frames): it is shorter than one masked span
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or len(shape) != 2:
        raise ValueError(f"shape must be (batch, frames), got {shape!r}")
    batch, frames = (positive_int(n, "shape") for n in shape)
    p = _probability(mask_prob, "mask_prob")
    M = positive_int(mask_length, "mask_length")
    if isinstance(min_masks, bool) or not isinstance(min_masks, (int, np.integer)) or min_masks < 0:
        raise ValueError(f"min_masks must be an int >= 0, got {min_masks!r}")
    L = np.full(batch, frames) if lengths is None else np.asarray(lengths)
    if L.shape != (batch,) or not np.issubdtype(L.dtype, np.integer) or L.min() < 1 or L.max() > frames:
        raise ValueError(f"lengths must be {batch} ints in [1, {frames}], got {lengths!r}")
    if (L < M).any():
        u = int(np.argmax(L < M))
        raise ValueError(f"mask_length ({M}) is longer than utterance {u} ({L[u]} frames): it is shorter than one "
                         "masked span")
    n_starts = L - M + 1  # candidate starts of each utterance
    n_spans = np.maximum(np.floor(p * L / M + rng.random(batch)).astype(np.int64), min_masks)
    n_spans = np.minimum(n_spans, n_starts)
    # n distinct starts among the candidates: the n smallest of uniform keys (the others' keys are +inf).
    keys = rng.random((batch, frames))
    keys[np.arange(frames)[None, :] >= n_starts[:, None]] = np.inf
    rank = np.argsort(np.argsort(keys, axis=1), axis=1)
    starts = rank < n_spans[:, None]
    # Frame t is masked iff a start lies in [t - M + 1, t]: a window sum of the starts.
    covering = np.cumsum(starts, axis=1)
    covering[:, M:] -= covering[:, :-M].copy()
    return covering > 0


def sample_negative_indices(mask_time_indices, num_negatives: int, *, rng: np.random.Generator) -> np.ndarray:
    r"""Distractors for the contrastive task: for each masked frame, ``num_negatives`` other masked frames of its utterance.

    For a masked frame :math:`t` of utterance :math:`b`, each of the :math:`K`
    distractors is drawn uniformly, with replacement, from the other masked
    frames of :math:`b` (never :math:`t` itself, never another utterance): the
    model must tell the true quantised frame from quantised frames of the same
    speaker and recording, not from a different voice. As in fairseq and
    ``transformers``, an index is flat over the batch, :math:`b T + t'`, so that
    it picks a row of the ``(batch * frames, dim)`` matrix of quantised frames;
    unmasked frames get the dummy index :math:`b T` (their loss is not computed).

    Parameters
    ----------
    mask_time_indices : array_like of bool, shape (batch, frames)
    num_negatives : int
        :math:`K`.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray of int64, shape (batch, frames, num_negatives)

    Raises
    ------
    ValueError
        An utterance with exactly one masked frame (no other frame to draw), or a mask not 2-D.
    TypeError
        ``rng`` not a ``numpy.random.Generator``.

    Examples
    --------
    >>> mask = np.array([[True, True, False, True]])
    >>> negatives = sample_negative_indices(mask, 3, rng=np.random.default_rng(0))
    >>> negatives.shape, bool(np.isin(negatives[0, mask[0]], [0, 1, 3]).all())
    ((1, 4, 3), True)
    >>> bool((negatives[0, 0] != 0).all())   # never the frame itself
    True
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    mask = np.asarray(mask_time_indices.cpu() if isinstance(mask_time_indices, torch.Tensor) else mask_time_indices)
    if mask.ndim != 2:
        raise ValueError(f"mask_time_indices must have shape (batch, frames), got {mask.shape}")
    mask = mask.astype(bool)
    K = positive_int(num_negatives, "num_negatives")
    batch, frames = mask.shape
    n_masked = mask.sum(axis=1)
    if (n_masked == 1).any():
        raise ValueError(f"utterance {int(np.argmax(n_masked == 1))} has one masked frame: negatives are drawn from "
                         "the other masked frames of the same utterance, so it needs at least two")
    rank = np.cumsum(mask, axis=1) - 1  # the rank of a masked frame among its utterance's masked frames
    draw = np.floor(rng.random((batch, frames, K)) * np.maximum(n_masked - 1, 0)[:, None, None]).astype(np.int64)
    draw += draw >= rank[:, :, None]  # skip the frame itself: uniform over the others
    masked_first = np.argsort(~mask, axis=1, kind="stable")  # row b: its masked frames in order, then the rest
    negatives = np.take_along_axis(masked_first, draw.reshape(batch, -1), axis=1).reshape(batch, frames, K)
    negatives = np.where(mask[:, :, None], negatives, 0)
    return (negatives + frames * np.arange(batch)[:, None, None]).astype(np.int64)


# --------------------------------------------------------------------------- the transformer


class PositionalConvEmbedding(nn.Module):
    r"""Relative positions by convolution: a grouped, weight-normalised convolution over time, then GELU.

    .. math::

        e = \operatorname{GELU}(W * x + b), \qquad
        W_{:,:,k} = g_k \, \frac{V_{:,:,k}}{\lVert V_{:,:,k} \rVert}

    The kernel of :math:`K` taps (128 in the paper) is centred (padding
    :math:`\lfloor K/2 \rfloor`; for an even :math:`K` the last output is dropped
    so that the length is kept) and split into ``groups`` groups of channels
    (16), which cuts its parameters by that factor. Weight normalisation
    (Salimans and Kingma, 2016) over dimension 2 keeps one gain :math:`g_k` per
    tap, the norm taken over all channels of that tap; torch's
    ``nn.utils.parametrizations.weight_norm`` holds :math:`g` and :math:`V` as
    ``conv.parametrizations.weight.original0`` and ``original1``, the keys of
    ``transformers``. The output is added to the frames by the encoder: a
    position signal that depends on the neighbourhood, not on absolute time, so
    utterances of any length work.

    Parameters
    ----------
    config : Wav2Vec2Config
        Reads ``hidden_size``, ``num_conv_pos_embeddings``, ``num_conv_pos_embedding_groups``.

    Shapes
    ------
    ``(batch, frames, hidden_size)`` → the same.

    Examples
    --------
    >>> embed = PositionalConvEmbedding(Wav2Vec2Config(hidden_size=8, num_attention_heads=2,
    ...                                                num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2))
    >>> embed(torch.zeros(1, 6, 8)).shape
    torch.Size([1, 6, 8])
    >>> embed.conv.parametrizations.weight.original0.shape   # one gain per tap
    torch.Size([1, 1, 4])
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        config = _check_config(config)
        K = config.num_conv_pos_embeddings
        conv = nn.Conv1d(config.hidden_size, config.hidden_size, kernel_size=K, padding=K // 2,
                         groups=config.num_conv_pos_embedding_groups)
        nn.init.normal_(conv.weight, mean=0.0, std=2 * math.sqrt(1 / (K * config.hidden_size)))
        nn.init.zeros_(conv.bias)
        self.conv = nn.utils.parametrizations.weight_norm(conv, name="weight", dim=2)
        self.remove_last = K % 2 == 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))
        if self.remove_last:
            h = h[:, :, :-1]
        return F.gelu(h).transpose(1, 2)


class FeedForward(nn.Module):
    r"""The position-wise feed-forward layer: :math:`W_2\, \operatorname{GELU}(W_1 x + b_1) + b_2`, with dropouts.

    Parameters
    ----------
    config : Wav2Vec2Config
        Reads ``hidden_size``, ``intermediate_size``, ``activation_dropout`` (after the GELU), ``hidden_dropout``.

    Examples
    --------
    >>> ff = FeedForward(Wav2Vec2Config(hidden_size=8, num_attention_heads=2, num_conv_pos_embedding_groups=2,
    ...                                 intermediate_size=32))
    >>> ff(torch.zeros(1, 3, 8)).shape
    torch.Size([1, 3, 8])
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        config = _check_config(config)
        self.intermediate_dropout = nn.Dropout(config.activation_dropout)
        self.intermediate_dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.output_dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.output_dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.intermediate_dropout(F.gelu(self.intermediate_dense(x)))
        return self.output_dropout(self.output_dense(h))


class EncoderLayer(nn.Module):
    r"""One transformer layer, post-LN (BASE) or pre-LN (LARGE-LV60, ``stable_layer_norm``).

    .. math::

        \text{post-LN:}\quad h = \operatorname{LN}_1\big(x + \operatorname{Att}(x)\big),
        \qquad y = \operatorname{LN}_2\big(h + \operatorname{FF}(h)\big)

        \text{pre-LN:}\quad h = x + \operatorname{Att}\big(\operatorname{LN}_1(x)\big),
        \qquad y = h + \operatorname{FF}\big(\operatorname{LN}_2(h)\big)

    (dropout after the attention). Pre-LN keeps an un-normalised residual path from
    input to output, which is what lets the 24-layer LARGE model train stably
    (Xiong et al., 2020); its encoder normalises once more after the last layer.

    Parameters
    ----------
    config : Wav2Vec2Config
    stable_layer_norm : bool, optional
        Default: ``config.do_stable_layer_norm``.

    Attributes
    ----------
    attention : MultiHeadSelfAttention
    dropout : nn.Dropout
    layer_norm, final_layer_norm : nn.LayerNorm
        :math:`\operatorname{LN}_1` and :math:`\operatorname{LN}_2`.
    feed_forward : FeedForward

    Shapes
    ------
    ``forward(x, key_padding_mask=None)``: ``(batch, frames, hidden_size)``, mask ``(batch, frames)`` True at padding.

    Examples
    --------
    >>> cfg = Wav2Vec2Config(hidden_size=8, num_attention_heads=2, num_conv_pos_embedding_groups=2,
    ...                      intermediate_size=16)
    >>> EncoderLayer(cfg, stable_layer_norm=True)(torch.randn(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, config: Wav2Vec2Config, stable_layer_norm: bool | None = None):
        super().__init__()
        config = _check_config(config)
        self.stable_layer_norm = config.do_stable_layer_norm if stable_layer_norm is None else bool(stable_layer_norm)
        self.attention = MultiHeadSelfAttention(config.hidden_size, config.num_attention_heads,
                                                dropout=config.attention_dropout)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.feed_forward = FeedForward(config)
        self.final_layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.stable_layer_norm:
            h = x + self.dropout(self.attention(self.layer_norm(x), key_padding_mask))
            return h + self.feed_forward(self.final_layer_norm(h))
        h = self.layer_norm(x + self.dropout(self.attention(x, key_padding_mask)))
        return self.final_layer_norm(h + self.feed_forward(h))


class TransformerEncoder(nn.Module):
    r"""The context network :math:`g: \mathcal Z \to \mathcal C`: positional convolution, then the layers.

    .. math::

        \text{post-LN:}\quad c = L_N \circ \cdots \circ L_1\big(\operatorname{LN}(x + e(x))\big)
        \qquad
        \text{pre-LN:}\quad c = \operatorname{LN}\big(L_N \circ \cdots \circ L_1(x + e(x))\big)

    with :math:`e` the :class:`PositionalConvEmbedding` and dropout after the
    sum. Padded frames are set to zero first and every layer ignores them as
    keys. In training, each layer is skipped with probability ``layerdrop``
    (Fan et al., 2020), drawn from torch's global generator.

    Parameters
    ----------
    config : Wav2Vec2Config

    Attributes
    ----------
    pos_conv_embed : PositionalConvEmbedding
    layer_norm : nn.LayerNorm
    dropout : nn.Dropout
    layers : nn.ModuleList of EncoderLayer

    Shapes
    ------
    ``forward(x, key_padding_mask=None, output_hidden_states=False)``: ``(batch, frames, hidden_size)`` →
    the same, and with ``output_hidden_states`` also the tuple of every layer's input and the last layer's
    output, ``num_hidden_layers + 1`` entries (as ``transformers``; in the pre-LN layout the last entry is
    taken before the final layer norm, so it differs from ``last_hidden_state``).

    Examples
    --------
    >>> cfg = Wav2Vec2Config(hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16,
    ...                      num_conv_pos_embeddings=4, num_conv_pos_embedding_groups=2)
    >>> c, states = TransformerEncoder(cfg).eval()(torch.randn(1, 5, 8), output_hidden_states=True)
    >>> c.shape, len(states), bool(torch.equal(states[-1], c))
    (torch.Size([1, 5, 8]), 3, True)
    """

    def __init__(self, config: Wav2Vec2Config):
        super().__init__()
        config = _check_config(config)
        self.stable_layer_norm = config.do_stable_layer_norm
        self.layerdrop = config.layerdrop
        self.pos_conv_embed = PositionalConvEmbedding(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_hidden_layers))

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                output_hidden_states: bool = False):
        if key_padding_mask is not None:
            x = x.masked_fill(key_padding_mask[:, :, None], 0.0)
        h = x + self.pos_conv_embed(x)
        if not self.stable_layer_norm:
            h = self.layer_norm(h)
        h = self.dropout(h)
        states = [h]
        for layer in self.layers:
            if not (self.training and self.layerdrop > 0 and float(torch.rand([])) < self.layerdrop):
                h = layer(h, key_padding_mask)
            states.append(h)
        if self.stable_layer_norm:
            h = self.layer_norm(h)
        return (h, tuple(states)) if output_hidden_states else h


# --------------------------------------------------------------------------- the model


class Wav2Vec2Output(NamedTuple):
    """What :class:`Wav2Vec2` returns (a tuple whose first element is the last hidden state, as ``transformers``)."""

    #: :math:`c`, ``(batch, frames, hidden_size)``: the contextual representations.
    last_hidden_state: torch.Tensor
    #: :math:`\tilde z = \operatorname{LN}(z)`, ``(batch, frames, conv_dim[-1])``: the quantiser's input.
    extract_features: torch.Tensor
    #: With ``output_hidden_states``: each layer's input, then the last layer's output; else None.
    hidden_states: tuple | None = None
    #: ``(batch, frames)``, True at padding frames; None without ``lengths``.
    padding_mask: torch.Tensor | None = None


def _init_weights(module: nn.Module) -> None:
    """fairseq's and ``transformers``' initialisation: N(0, 0.02) linear layers, He-normal convolutions.

    The weight-normalised positional convolution keeps its own (:class:`PositionalConvEmbedding`), and the
    feature projection is uniform in :math:`\\pm 1/\\sqrt{n_{in}}`.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv1d) and not nn.utils.parametrize.is_parametrized(m):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                k = math.sqrt(m.groups / (m.in_channels * m.kernel_size[0]))
                nn.init.uniform_(m.bias, -k, k)
        elif isinstance(m, (nn.LayerNorm, nn.GroupNorm)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for m in module.modules():
        if isinstance(m, FeatureProjection):
            k = math.sqrt(1 / m.projection.in_features)
            nn.init.uniform_(m.projection.weight, -k, k)
            nn.init.uniform_(m.projection.bias, -k, k)


class Wav2Vec2(nn.Module):
    r"""The wav2vec 2.0 encoder: waveform → latent frames → (masked) → contextual representations.

    .. math::

        z = f(x), \qquad \tilde z = \operatorname{LN}(z), \qquad
        u_t = \begin{cases} m & t \in \mathcal M \\ W \tilde z_t + b & \text{otherwise} \end{cases},
        \qquad c = g(u)

    with :math:`f` the :class:`FeatureEncoder`, the projection of
    :class:`FeatureProjection`, :math:`m` the learned mask embedding
    ``masked_spec_embed`` put in place of the masked frames :math:`\mathcal M`
    (``mask_time_indices``, from :func:`compute_mask_indices`), and :math:`g`
    the :class:`TransformerEncoder`. This is ``transformers.Wav2Vec2Model``,
    whose state dict loads unchanged (see :func:`from_transformers`), and what
    fine-tuning keeps after pre-training.

    Parameters
    ----------
    config : Wav2Vec2Config

    Attributes
    ----------
    feature_extractor : FeatureEncoder
    feature_projection : FeatureProjection
    masked_spec_embed : Parameter, shape (hidden_size,)
        Only when ``config.mask_time_prob > 0`` (as ``transformers``).
    encoder : TransformerEncoder

    Shapes
    ------
    ``forward(input_values, mask_time_indices=None, lengths=None, output_hidden_states=False)``:
    waveforms ``(batch, n_samples)``; ``mask_time_indices`` bool ``(batch, frames)``; ``lengths``
    samples per utterance ``(batch,)`` (padding after them is ignored) → :class:`Wav2Vec2Output`.

    Raises
    ------
    TypeError, ValueError
        Waveforms not ``(batch, n_samples)`` floats or shorter than the receptive field;
        a mask of the wrong shape, or given to a model without ``masked_spec_embed``;
        lengths out of range.

    Examples
    --------
    >>> cfg = Wav2Vec2Config(conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), hidden_size=16,
    ...                      num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
    ...                      num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    >>> model = Wav2Vec2(cfg).eval()
    >>> out = model(torch.randn(2, 800, generator=torch.Generator().manual_seed(0)))
    >>> out.last_hidden_state.shape, out.extract_features.shape, model.frame_lengths(torch.tensor([800, 15]))
    (torch.Size([2, 79, 16]), torch.Size([2, 79, 16]), tensor([79,  0]))
    """

    def __init__(self, config: Wav2Vec2Config = BASE):
        super().__init__()
        self.config = config = _check_config(config)
        self.feature_extractor = FeatureEncoder(config)
        self.feature_projection = FeatureProjection(config)
        if config.mask_time_prob > 0:
            self.masked_spec_embed = nn.Parameter(torch.empty(config.hidden_size).uniform_())
        self.encoder = TransformerEncoder(config)
        _init_weights(self)

    def frame_lengths(self, lengths: torch.Tensor) -> torch.Tensor:
        """Frames of utterances of ``lengths`` samples (integer tensor ``(batch,)``); 0 where too short."""
        return self.feature_extractor.output_length(lengths)

    def _padding_mask(self, lengths, batch: int, n_samples: int, frames: int, device) -> torch.Tensor:
        lengths = torch.as_tensor(lengths, device=device)
        if lengths.shape != (batch,) or lengths.is_floating_point() or lengths.dtype == torch.bool:
            raise ValueError(f"lengths must be {batch} integer sample counts, got {lengths!r}")
        if bool((lengths > n_samples).any()) or bool((lengths < self.feature_extractor.receptive_field).any()):
            raise ValueError(f"lengths must lie in [{self.feature_extractor.receptive_field}, {n_samples}] "
                             f"(the receptive field, the padded length), got {lengths.tolist()}")
        return torch.arange(frames, device=device)[None, :] >= self.frame_lengths(lengths)[:, None]

    def forward(self, input_values: torch.Tensor, mask_time_indices: torch.Tensor | None = None,
                lengths=None, output_hidden_states: bool = False) -> Wav2Vec2Output:
        z = self.feature_extractor(input_values).transpose(1, 2)  # (batch, frames, channels)
        batch, frames, _ = z.shape
        padding = None if lengths is None else self._padding_mask(lengths, batch, input_values.shape[1], frames,
                                                                  z.device)
        x, z_normed = self.feature_projection(z)
        if mask_time_indices is not None:
            if not hasattr(self, "masked_spec_embed"):
                raise ValueError("mask_time_indices given, but this model has no mask embedding "
                                 "(it is made only when config.mask_time_prob > 0)")
            mask = torch.as_tensor(mask_time_indices, device=x.device)
            if tuple(mask.shape) != (batch, frames):
                raise ValueError(f"mask_time_indices must have shape (batch, frames) = {(batch, frames)}, "
                                 f"got {tuple(mask.shape)}")
            x = torch.where(mask.bool()[:, :, None], self.masked_spec_embed.to(x.dtype), x)
        out = self.encoder(x, padding, output_hidden_states=output_hidden_states)
        c, states = out if output_hidden_states else (out, None)
        return Wav2Vec2Output(c, z_normed, states, padding)


# --------------------------------------------------------------------------- quantisation


def gumbel_softmax(logits: torch.Tensor, tau: float, *, hard: bool = True,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""A sample from the Gumbel-softmax (concrete) distribution over the last axis, straight-through if ``hard``.

    .. math::

        y_v = \frac{\exp\big((l_v + n_v)/\tau\big)}{\sum_{v'} \exp\big((l_{v'} + n_{v'})/\tau\big)},
        \qquad n_v = -\log(-\log u_v),\ u_v \sim U(0, 1)

    (Jang et al., 2017; Maddison et al., 2017): :math:`\arg\max_v (l_v + n_v)` is
    an exact sample of the categorical distribution :math:`\operatorname{softmax}(l)`
    (the Gumbel-max trick), and :math:`y` is its differentiable relaxation, nearer
    one-hot as :math:`\tau \to 0`. With ``hard``, the forward value is the one-hot
    vector of the arg max and the gradient is that of :math:`y`
    (straight-through: :math:`\operatorname{onehot} - \operatorname{sg}(y) + y`),
    as wav2vec 2.0 uses it. The noise is drawn as :math:`-\log E`,
    :math:`E \sim \operatorname{Exp}(1)`, exactly as ``torch.nn.functional.gumbel_softmax``
    draws it, so both give the same sample from the same random state.

    Parameters
    ----------
    logits : Tensor, shape (..., V)
    tau : float
        Temperature :math:`\tau > 0`.
    hard : bool, default True
    generator : torch.Generator, optional
        Default: torch's global generator.

    Returns
    -------
    Tensor, shape (..., V)

    Examples
    --------
    >>> y = gumbel_softmax(torch.zeros(4, 3), tau=1.0, generator=torch.Generator().manual_seed(0))
    >>> y.sum(-1).tolist(), sorted(set(y.flatten().tolist()))
    ([1.0, 1.0, 1.0, 1.0], [0.0, 1.0])
    """
    tau = real_number(tau, "tau")
    if not tau > 0:
        raise ValueError(f"tau must be > 0, got {tau}")
    noise = -torch.empty_like(logits, memory_format=torch.legacy_contiguous_format).exponential_(
        generator=generator).log()
    y_soft = ((logits + noise) / tau).softmax(dim=-1)
    if not hard:
        return y_soft
    index = y_soft.argmax(dim=-1, keepdim=True)
    y_hard = torch.zeros_like(logits).scatter_(-1, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


def codevector_perplexity(probs: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""The perplexity of the average code distribution, summed over codebooks.

    .. math::

        \bar p_{g} = \frac{1}{|\mathcal T|}\sum_{t \in \mathcal T} p_{t,g}, \qquad
        \operatorname{PPL} = \sum_{g=1}^{G} \exp\Big(-\sum_{v=1}^{V} \bar p_{g,v} \log \bar p_{g,v}\Big)

    over the frames :math:`\mathcal T` (those where ``mask`` is True, or all).
    It lies between :math:`G` (every frame uses the same entry of each codebook)
    and :math:`G V` (all entries used equally often): "stuck at 2" for
    :math:`G = 2` means a collapsed quantiser.

    Parameters
    ----------
    probs : Tensor, shape (n_frames, G, V)
        Each frame's distribution (soft, or one-hot).
    mask : Tensor of bool, shape (n_frames,) or any shape with n_frames elements, optional

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    >>> codevector_perplexity(torch.full((5, 2, 4), 0.25)).item()   # uniform: G V
    8.0
    >>> codevector_perplexity(torch.eye(4)[[1, 1, 1]].reshape(3, 1, 4)).item()   # one entry: G
    1.0
    """
    if mask is not None:
        keep = mask.reshape(-1).to(probs.device).bool()
        probs = torch.where(keep[:, None, None], probs, torch.zeros_like(probs))
        mean = probs.sum(dim=0) / keep.sum()
    else:
        mean = probs.mean(dim=0)
    return torch.exp(-torch.xlogy(mean, mean).sum(dim=-1)).sum()


class GumbelQuantizer(nn.Module):
    r"""The product quantiser: :math:`G` codebooks of :math:`V` entries, one entry of each chosen per frame.

    .. math::

        l_{t,g} = (W \tilde z_t + b)_{g} \in \mathbb R^V, \qquad
        q_t = \big[\, e_{g, \arg\max_v (l_{t,g,v} + n_{t,g,v})} \,\big]_{g = 1}^{G}

    A linear map gives each frame :math:`V` logits per codebook; in training a
    straight-through :func:`gumbel_softmax` at temperature ``temperature`` picks
    one entry :math:`e_{g,v} \in \mathbb R^{d/G}` of each codebook (and passes
    gradients to the logits); in eval mode the arg max of the logits picks it.
    The :math:`G` chosen entries are concatenated into :math:`q_t \in \mathbb
    R^{d}`: :math:`V^G` possible vectors (102,400 for BASE) from only :math:`G V`
    stored ones. The perplexity (:func:`codevector_perplexity`) comes with it:
    of the soft distributions :math:`\operatorname{softmax}(l_{t,g})` in
    training (what the diversity loss differentiates), of the one-hot choices in
    eval mode, over the frames of ``mask`` if given.

    The temperature is annealed during pre-training (2 → 0.5, by a factor 0.999995
    per update in the paper): set the attribute.

    Parameters
    ----------
    in_features : int
        Width of :math:`\tilde z_t` (``conv_dim[-1]``).
    num_groups, num_vars : int
        :math:`G`, :math:`V`.
    codevector_dim : int
        :math:`d`, divisible by :math:`G`.
    temperature : float, default 2.0

    Attributes
    ----------
    codevectors : Parameter, shape (1, G * V, d / G)
        The codebooks, entry :math:`(g, v)` at row :math:`g V + v`.
    weight_proj : nn.Linear
        ``in_features`` → :math:`G V` logits.

    Shapes
    ------
    ``forward(z, mask=None, generator=None)``: ``(batch, frames, in_features)`` →
    ``(q, perplexity)``, ``(batch, frames, codevector_dim)`` and a scalar.

    Examples
    --------
    >>> quantizer = GumbelQuantizer(8, num_groups=2, num_vars=5, codevector_dim=6).eval()
    >>> q, ppl = quantizer(torch.randn(3, 4, 8, generator=torch.Generator().manual_seed(0)))
    >>> q.shape, 2.0 <= ppl.item() <= 10.0
    (torch.Size([3, 4, 6]), True)
    """

    def __init__(self, in_features: int, num_groups: int, num_vars: int, codevector_dim: int,
                 temperature: float = 2.0):
        super().__init__()
        self.num_groups = positive_int(num_groups, "num_groups")
        self.num_vars = positive_int(num_vars, "num_vars")
        codevector_dim = positive_int(codevector_dim, "codevector_dim")
        if codevector_dim % self.num_groups:
            raise ValueError(f"codevector_dim ({codevector_dim}) must be divisible by num_groups ({num_groups})")
        self.codevectors = nn.Parameter(torch.empty(1, self.num_groups * self.num_vars,
                                                    codevector_dim // self.num_groups).uniform_())
        self.weight_proj = nn.Linear(positive_int(in_features, "in_features"), self.num_groups * self.num_vars)
        self.temperature = real_number(temperature, "temperature")

    def extra_repr(self) -> str:
        return f"num_groups={self.num_groups}, num_vars={self.num_vars}, temperature={self.temperature}"

    def forward(self, z: torch.Tensor, mask: torch.Tensor | None = None,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        batch, frames, _ = z.shape
        G, V = self.num_groups, self.num_vars
        logits = self.weight_proj(z).reshape(batch * frames, G, V)
        if self.training:
            probs = gumbel_softmax(logits.float(), self.temperature, hard=True, generator=generator).type_as(logits)
            perplexity = codevector_perplexity(logits.float().softmax(dim=-1), mask)
        else:
            probs = torch.zeros_like(logits).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
            perplexity = codevector_perplexity(probs, mask)
        # Each group's one-hot choice times its codebook: the chosen entry, e_{g, v_g}, concatenated over groups.
        q = torch.einsum("ngv,gvd->ngd", probs, self.codevectors.reshape(G, V, -1))
        return q.reshape(batch, frames, -1), perplexity


# --------------------------------------------------------------------------- the losses


def contrastive_logits(c: torch.Tensor, q: torch.Tensor, sampled_negative_indices: torch.Tensor,
                       temperature: float = 0.1) -> torch.Tensor:
    r"""Similarities of each context vector to its true quantised frame and to its distractors, over :math:`\kappa`.

    .. math::

        s_{t,0} = \frac{\operatorname{sim}(c_t, q_t)}{\kappa}, \qquad
        s_{t,k} = \frac{\operatorname{sim}(c_t, \tilde q_{t,k})}{\kappa}, \qquad
        \operatorname{sim}(a, b) = \frac{a^\top b}{\lVert a \rVert \lVert b \rVert}

    A distractor identical to the true :math:`q_t` (the same code vectors: common
    while few codebook entries are in use) cannot be told apart, so its logit is
    set to :math:`-\infty`, as fairseq and ``transformers`` do. The similarities
    are computed in float32 for half-precision inputs and in the inputs' dtype
    otherwise (``transformers`` always uses float32, so in float64 the two agree
    to float32's precision only).

    Parameters
    ----------
    c, q : Tensor, shape (batch, frames, dim)
        Projected context vectors and projected quantised frames.
    sampled_negative_indices : Tensor of int, shape (batch, frames, K)
        Flat row indices of ``q.reshape(-1, dim)`` (:func:`sample_negative_indices`).
    temperature : float, default 0.1
        :math:`\kappa`.

    Returns
    -------
    Tensor, shape (batch, frames, 1 + K)
        Column 0 the true frame.

    Examples
    --------
    >>> q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    >>> contrastive_logits(q, q, torch.tensor([[[1], [0]]]), temperature=0.5).tolist()
    [[[2.0, 0.0], [2.0, 0.0]]]
    """
    batch, frames, dim = q.shape
    index = _negative_index(sampled_negative_indices, batch, frames, q.device)
    rows = torch.arange(batch * frames, device=q.device)
    logits = _similarities(c.reshape(-1, dim), q.reshape(-1, dim), rows, index.reshape(batch * frames, -1))
    return logits.reshape(batch, frames, -1) / temperature


def _negative_index(sampled_negative_indices, batch: int, frames: int, device) -> torch.Tensor:
    index = torch.as_tensor(sampled_negative_indices, device=device).long()
    if index.ndim != 3 or tuple(index.shape[:2]) != (batch, frames):
        raise ValueError(f"sampled_negative_indices must have shape (batch, frames, K) with (batch, frames) = "
                         f"{(batch, frames)}, got {tuple(index.shape)}")
    return index


def _similarities(c_rows: torch.Tensor, q_flat: torch.Tensor, rows: torch.Tensor,
                  negatives: torch.Tensor) -> torch.Tensor:
    """Cosine similarities ``(n, 1 + K)`` of context rows to their targets ``q_flat[rows]`` and distractors."""
    work = torch.promote_types(q_flat.dtype, torch.float32)  # half precision is too coarse; float64 stays
    c_unit = F.normalize(c_rows.to(work), dim=-1, eps=1e-8)
    q_unit = F.normalize(q_flat.to(work), dim=-1, eps=1e-8)
    positive = (c_unit * q_unit[rows]).sum(-1, keepdim=True)
    negative = torch.einsum("nd,nkd->nk", c_unit, q_unit[negatives])
    same = (q_flat[negatives] == q_flat[rows][:, None]).all(dim=-1)  # a distractor that is the target itself
    return torch.cat([positive, negative.masked_fill(same, float("-inf"))], dim=1)


def contrastive_loss(c: torch.Tensor, q: torch.Tensor, sampled_negative_indices: torch.Tensor,
                     mask_time_indices: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    r"""The contrastive loss :math:`\mathcal L_m`: identify the true quantised frame at every masked frame.

    .. math::

        \mathcal L_m = \sum_{t \in \mathcal M} -\log
        \frac{\exp(\operatorname{sim}(c_t, q_t)/\kappa)}
             {\exp(\operatorname{sim}(c_t, q_t)/\kappa) + \sum_{k=1}^{K} \exp(\operatorname{sim}(c_t, \tilde q_{t,k})/\kappa)}

    a cross-entropy over :math:`1 + K` candidates (:func:`contrastive_logits`)
    summed over the masked frames :math:`\mathcal M` (a sum, as fairseq and
    ``transformers``; divide by :math:`|\mathcal M|` for a per-frame loss). Its
    value at chance, with all candidates equally similar, is
    :math:`|\mathcal M| \log(1 + K)`. Only the masked frames' similarities are
    computed (``transformers`` computes every frame's and ignores the others).

    Parameters
    ----------
    c, q, sampled_negative_indices, temperature
        As for :func:`contrastive_logits`.
    mask_time_indices : Tensor of bool, shape (batch, frames)

    Returns
    -------
    Tensor, scalar

    Examples
    --------
    At chance (every candidate the same similarity) the loss per masked frame is :math:`\log(1 + K)`:

    >>> c = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]])
    >>> q = torch.tensor([[[0.0, 1.0], [0.0, 2.0], [0.0, 3.0]]])
    >>> negatives = torch.tensor([[[1, 2], [0, 2], [0, 1]]])
    >>> loss = contrastive_loss(c, q, negatives, torch.tensor([[True, True, True]]))
    >>> round(loss.item() / 3, 4), round(math.log(3), 4)
    (1.0986, 1.0986)
    """
    batch, frames, dim = q.shape
    mask = torch.as_tensor(mask_time_indices, device=q.device).bool()
    if tuple(mask.shape) != (batch, frames):
        raise ValueError(f"mask_time_indices must have shape (batch, frames) = {(batch, frames)}, "
                         f"got {tuple(mask.shape)}")
    index = _negative_index(sampled_negative_indices, batch, frames, q.device)
    rows = mask.reshape(-1).nonzero().squeeze(1)  # only the masked frames are scored
    logits = _similarities(c.reshape(-1, dim)[rows], q.reshape(-1, dim), rows,
                           index.reshape(batch * frames, -1)[rows]) / temperature
    return -logits.log_softmax(dim=-1)[:, 0].sum()


def diversity_loss(perplexity: torch.Tensor, num_codevectors: int) -> torch.Tensor:
    r"""The diversity loss :math:`\mathcal L_d`: how far the codebook perplexity is from using every entry.

    .. math:: \mathcal L_d = \frac{G V - \operatorname{PPL}}{G V}

    0 when every entry of every codebook is used equally often on average, near 1
    when each codebook uses one entry. The paper writes it with the entropy,
    :math:`\frac{1}{GV}\sum_g -H(\bar p_g)`; fairseq's code (and ``transformers``)
    use this perplexity form, which has the same minimum; it is what is
    implemented here, so that losses match. ``transformers`` multiplies it by the
    number of masked frames, to match the summed :func:`contrastive_loss`.

    Parameters
    ----------
    perplexity : Tensor, scalar
        :func:`codevector_perplexity`.
    num_codevectors : int
        :math:`G V`.

    Examples
    --------
    >>> diversity_loss(torch.tensor(640.0), 640).item(), diversity_loss(torch.tensor(2.0), 640).item()
    (0.0, 0.996875)
    """
    GV = positive_int(num_codevectors, "num_codevectors")
    return (GV - perplexity) / GV


class PreTrainingOutput(NamedTuple):
    """What :class:`Wav2Vec2ForPreTraining` returns; the losses are None without negatives."""

    #: :math:`\mathcal L_m + \alpha\, |\mathcal M|\, \mathcal L_d`, scalar.
    loss: torch.Tensor | None
    #: Context vectors projected to ``proj_codevector_dim``, ``(batch, frames, proj_codevector_dim)``.
    projected_states: torch.Tensor
    #: Quantised frames projected to ``proj_codevector_dim``, the same shape.
    projected_quantized_states: torch.Tensor
    #: :func:`codevector_perplexity` over the masked frames, scalar.
    codevector_perplexity: torch.Tensor
    #: :math:`\mathcal L_m` (summed over masked frames), scalar.
    contrastive_loss: torch.Tensor | None
    #: :math:`|\mathcal M|\, \mathcal L_d`, scalar.
    diversity_loss: torch.Tensor | None
    #: The encoder's output, :class:`Wav2Vec2Output`.
    encoder: Wav2Vec2Output


class Wav2Vec2ForPreTraining(nn.Module):
    r"""wav2vec 2.0 with its self-supervised task: masked frames, quantised targets, contrastive and diversity losses.

    .. math::

        \mathcal L = \mathcal L_m + \alpha \, |\mathcal M| \, \mathcal L_d, \qquad
        \mathcal L_m = \text{contrastive}\big(W_c\, c,\ W_q\, q,\ \text{negatives}\big)

    The encoder :class:`Wav2Vec2` sees the waveform with the frames :math:`\mathcal M`
    masked; the :class:`GumbelQuantizer` sees the *unmasked* normalised latent
    frames :math:`\tilde z` (through dropout ``feat_quantizer_dropout``) and gives
    the targets :math:`q_t`; ``project_hid`` (:math:`W_c`) and ``project_q``
    (:math:`W_q`) map both to ``proj_codevector_dim``, where
    :func:`contrastive_loss` compares them with temperature :math:`\kappa` and
    :func:`diversity_loss` (weight :math:`\alpha`, times :math:`|\mathcal M|`)
    keeps the codebooks in use. This is ``transformers.Wav2Vec2ForPreTraining``:
    the same state-dict keys, and the same loss given the same masks and
    negatives.

    Parameters
    ----------
    config : Wav2Vec2Config
        ``mask_time_prob`` must be > 0 (the mask embedding is needed).

    Attributes
    ----------
    wav2vec2 : Wav2Vec2
    dropout_features : nn.Dropout
    quantizer : GumbelQuantizer
    project_hid, project_q : nn.Linear

    Shapes
    ------
    ``forward(input_values, mask_time_indices, sampled_negative_indices=None, lengths=None, generator=None)``:
    waveforms ``(batch, n_samples)``, mask bool ``(batch, frames)``, negatives ``(batch, frames, K)`` →
    :class:`PreTrainingOutput`. ``generator`` draws the Gumbel noise in training mode.

    Raises
    ------
    ValueError
        ``config.mask_time_prob`` is 0; in ``forward``, a mask of the wrong shape.

    Examples
    --------
    >>> cfg = Wav2Vec2Config(conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), hidden_size=16,
    ...                      num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
    ...                      num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2, num_codevectors_per_group=8,
    ...                      codevector_dim=8, proj_codevector_dim=8, num_negatives=5, mask_time_length=4)
    >>> model = Wav2Vec2ForPreTraining(cfg).eval()
    >>> rng = np.random.default_rng(0)
    >>> mask = compute_mask_indices((2, 79), 0.5, 4, rng=rng)
    >>> out = model(torch.randn(2, 800, generator=torch.Generator().manual_seed(0)), torch.from_numpy(mask),
    ...             torch.from_numpy(sample_negative_indices(mask, 5, rng=rng)))
    >>> out.projected_states.shape, out.loss.ndim, bool(out.loss > 0)
    (torch.Size([2, 79, 8]), 0, True)
    """

    def __init__(self, config: Wav2Vec2Config = BASE):
        super().__init__()
        self.config = config = _check_config(config)
        if config.mask_time_prob <= 0:
            raise ValueError("config.mask_time_prob must be > 0 for pre-training: the model needs its mask embedding")
        self.wav2vec2 = Wav2Vec2(config)
        self.dropout_features = nn.Dropout(config.feat_quantizer_dropout)
        self.quantizer = GumbelQuantizer(config.conv_dim[-1], config.num_codevector_groups,
                                         config.num_codevectors_per_group, config.codevector_dim)
        self.project_hid = nn.Linear(config.hidden_size, config.proj_codevector_dim)
        self.project_q = nn.Linear(config.codevector_dim, config.proj_codevector_dim)
        nn.init.normal_(self.quantizer.weight_proj.weight, std=1.0)  # fairseq: logits of order 1 from the start
        nn.init.zeros_(self.quantizer.weight_proj.bias)
        self.project_hid.reset_parameters()  # torch's default, as transformers and fairseq
        self.project_q.reset_parameters()

    def forward(self, input_values: torch.Tensor, mask_time_indices: torch.Tensor,
                sampled_negative_indices: torch.Tensor | None = None, lengths=None,
                generator: torch.Generator | None = None, output_hidden_states: bool = False) -> PreTrainingOutput:
        if mask_time_indices is None:
            raise ValueError("mask_time_indices is required: the contrastive task predicts the masked frames "
                             "(draw them with compute_mask_indices)")
        mask = torch.as_tensor(mask_time_indices, device=input_values.device).bool()
        encoded = self.wav2vec2(input_values, mask, lengths=lengths, output_hidden_states=output_hidden_states)
        c = self.project_hid(encoded.last_hidden_state)
        q, perplexity = self.quantizer(self.dropout_features(encoded.extract_features), mask, generator)
        q = self.project_q(q.to(self.project_q.weight.dtype))
        loss = l_m = l_d = None
        if sampled_negative_indices is not None:
            cfg = self.config
            l_m = contrastive_loss(c, q, sampled_negative_indices, mask, cfg.contrastive_logits_temperature)
            l_d = diversity_loss(perplexity, cfg.num_codevector_groups * cfg.num_codevectors_per_group) * mask.sum()
            loss = l_m + cfg.diversity_loss_weight * l_d
        return PreTrainingOutput(loss, c, q, perplexity, l_m, l_d, encoded)


# --------------------------------------------------------------------------- builders and transformers


def wav2vec2_base(pretraining: bool = False, **changes) -> Wav2Vec2 | Wav2Vec2ForPreTraining:
    """The BASE model of the paper: 94,371,712 parameters, 95,044,608 with the pre-training heads.

    Parameters
    ----------
    pretraining : bool, default False
        :class:`Wav2Vec2ForPreTraining` instead of :class:`Wav2Vec2`.
    **changes
        Fields of :data:`BASE` to change (e.g. ``num_hidden_layers=2``).

    Examples
    --------
    >>> with torch.device("meta"):
    ...     sizes = [sum(p.numel() for p in wav2vec2_base(pretraining).parameters()) for pretraining in (False, True)]
    >>> sizes
    [94371712, 95044608]
    """
    config = dataclasses.replace(BASE, **changes)
    return Wav2Vec2ForPreTraining(config) if pretraining else Wav2Vec2(config)


def wav2vec2_large_lv60(pretraining: bool = False, **changes) -> Wav2Vec2 | Wav2Vec2ForPreTraining:
    """LARGE pre-trained on LibriVox (:data:`LARGE_LV60`): layer-norm feature encoder, pre-LN transformer.

    Examples
    --------
    >>> with torch.device("meta"):
    ...     round(sum(p.numel() for p in wav2vec2_large_lv60().parameters()) / 1e6, 1)
    315.4
    """
    config = dataclasses.replace(LARGE_LV60, **changes)
    return Wav2Vec2ForPreTraining(config) if pretraining else Wav2Vec2(config)


_FIELDS = [f.name for f in dataclasses.fields(Wav2Vec2Config)]


def config_from_transformers(hf_config) -> Wav2Vec2Config:
    """Our :class:`Wav2Vec2Config` from a ``transformers.Wav2Vec2Config``, refusing what we do not implement.

    Raises
    ------
    TypeError
        ``hf_config`` has no wav2vec 2.0 fields.
    ValueError
        A setting this module does not support, named: an activation other than
        GELU, adapters (``add_adapter``, ``adapter_attn_dim``), feature-axis masking
        (``mask_feature_prob > 0``), ``apply_spec_augment=False`` with a mask
        embedding, or a ``num_feat_extract_layers`` that disagrees with ``conv_dim``.

    Examples
    --------
    >>> transformers = transformers_reference()
    >>> config_from_transformers(transformers.Wav2Vec2Config(hidden_size=64, num_attention_heads=4,
    ...                                                       num_conv_pos_embedding_groups=4)).hidden_size
    64
    >>> config_from_transformers(transformers.Wav2Vec2Config(hidden_act="relu"))
    Traceback (most recent call last):
    ...
    ValueError: hidden_act='relu' is not supported: this module implements GELU only (the published configurations)
    """
    if not all(hasattr(hf_config, name) for name in ("conv_dim", "hidden_size", "feat_extract_norm")):
        raise TypeError(f"hf_config must be a transformers.Wav2Vec2Config, got {type(hf_config).__name__}")
    for name in ("hidden_act", "feat_extract_activation"):
        if getattr(hf_config, name, "gelu") != "gelu":
            raise ValueError(f"{name}={getattr(hf_config, name)!r} is not supported: this module implements GELU "
                             "only (the published configurations)")
    if getattr(hf_config, "add_adapter", False) or getattr(hf_config, "adapter_attn_dim", None) is not None:
        raise ValueError("adapters (add_adapter, adapter_attn_dim) are not supported")
    if getattr(hf_config, "mask_feature_prob", 0.0) > 0:
        raise ValueError("mask_feature_prob > 0 (SpecAugment along features) is not supported: set it to 0")
    if not getattr(hf_config, "apply_spec_augment", True) and hf_config.mask_time_prob > 0:
        raise ValueError("apply_spec_augment=False is not supported: transformers would ignore the masks; "
                         "set mask_time_prob=0 instead")
    if getattr(hf_config, "num_feat_extract_layers", len(hf_config.conv_dim)) != len(hf_config.conv_dim):
        raise ValueError(f"num_feat_extract_layers ({hf_config.num_feat_extract_layers}) must equal the length of "
                         f"conv_dim ({len(hf_config.conv_dim)})")
    values = {name: getattr(hf_config, name) for name in _FIELDS if hasattr(hf_config, name)}
    for name in ("conv_dim", "conv_kernel", "conv_stride"):
        values[name] = tuple(values[name])
    return Wav2Vec2Config(**values)


def from_transformers(hf_model) -> Wav2Vec2 | Wav2Vec2ForPreTraining:
    """Our model holding the weights of a ``transformers`` wav2vec 2.0 model: one ``load_state_dict``.

    ``transformers.Wav2Vec2Model`` becomes a :class:`Wav2Vec2`;
    ``Wav2Vec2ForPreTraining`` a :class:`Wav2Vec2ForPreTraining` (its quantiser's
    temperature copied too). The keys are the same, so the state dict loads with
    ``strict=True``; ours is made in the same dtype, on the CPU, in eval mode.
    Afterwards ``ours(x).last_hidden_state`` equals ``hf_model(x).last_hidden_state``
    (both in eval mode).

    Parameters
    ----------
    hf_model : transformers.Wav2Vec2Model or transformers.Wav2Vec2ForPreTraining

    Returns
    -------
    Wav2Vec2 or Wav2Vec2ForPreTraining

    Raises
    ------
    TypeError
        Another kind of model.
    ValueError
        A configuration this module does not implement (see :func:`config_from_transformers`).

    Examples
    --------
    >>> transformers = transformers_reference()
    >>> hf_config = transformers.Wav2Vec2Config(
    ...     conv_dim=(16, 16), conv_kernel=(10, 3), conv_stride=(5, 2), hidden_size=16, num_hidden_layers=1,
    ...     num_attention_heads=2, intermediate_size=32, num_conv_pos_embeddings=8, num_conv_pos_embedding_groups=2)
    >>> theirs = transformers.Wav2Vec2Model(hf_config).eval()
    >>> ours = from_transformers(theirs)
    >>> x = torch.randn(1, 800, generator=torch.Generator().manual_seed(0))
    >>> with torch.no_grad():
    ...     torch.allclose(ours(x).last_hidden_state, theirs(x).last_hidden_state, atol=1e-5)
    True
    """
    kind = type(hf_model).__name__
    if kind not in ("Wav2Vec2Model", "Wav2Vec2ForPreTraining"):
        raise TypeError(f"hf_model must be a transformers Wav2Vec2Model or Wav2Vec2ForPreTraining, got {kind}")
    config = config_from_transformers(hf_model.config)
    first = next(hf_model.parameters())
    with torch.device("meta"):
        ours = Wav2Vec2ForPreTraining(config) if kind == "Wav2Vec2ForPreTraining" else Wav2Vec2(config)
    state = {k: v.detach().to("cpu", copy=True) for k, v in hf_model.state_dict().items()}  # not shared
    ours.load_state_dict(state, strict=True, assign=True)
    ours = ours.to(dtype=first.dtype)
    if kind == "Wav2Vec2ForPreTraining":
        ours.quantizer.temperature = float(hf_model.quantizer.temperature)
    return ours.eval()

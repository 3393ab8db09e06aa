r"""The Audio Spectrogram Transformer (AST): a spectrogram cut into overlapping patches, read by attention alone.

Gong, Chung and Glass (2021) asked whether audio classification needs
convolutions at all. Their answer takes the Vision Transformer (ViT;
Dosovitskiy et al., 2021) and its data-efficient variant DeiT (Touvron et al.,
2021) and feeds it a log-mel spectrogram instead of a photograph:

1. :class:`ASTPatchEmbeddings`: the spectrogram is cut into :math:`16 \times 16`
   patches (16 mel bands by 16 frames, 160 ms at a 10 ms hop) that *overlap*:
   a new patch starts every ``frequency_stride`` bands and every
   ``time_stride`` frames (10 and 10 in the paper, so neighbours share 6 rows
   or columns). Each patch, flattened, is multiplied by one shared matrix: a
   linear "word" embedding of the tile (:func:`patch_grid` counts the tiles,
   :func:`extract_patches` cuts them out so that a reader can see one).
2. :class:`ASTEmbeddings`: two learned tokens are put before the patches, the
   classification token ``[CLS]`` and DeiT's distillation token, and a learned
   positional embedding is added to each of the :math:`N + 2` vectors. Without
   it the encoder could not tell a low band from a high one, nor early from late.
3. :class:`ASTLayer` times ``num_hidden_layers``: the pre-LN Transformer encoder
   layer of ViT,

   .. math:: h \leftarrow h + \operatorname{MHSA}(\operatorname{LN}_1(h)), \qquad
             h \leftarrow h + \operatorname{MLP}(\operatorname{LN}_2(h)),

   with the course's one attention,
   :class:`lessons_lib.models.layers.MultiHeadSelfAttention`, and a two-layer
   MLP with a GELU (:class:`ASTMLP`); then a final layer norm
   (:class:`ASTModel`). When nobody asks for the attention weights, the
   attention runs torch's fused ``F.scaled_dot_product_attention`` (the same
   function, tested; as fast as ``transformers``' ``sdpa``); with
   ``output_attentions=True`` it writes the softmax out and returns the weights.
4. :class:`ASTMLPHead`: the outputs at the two tokens are averaged, layer
   normalised and mapped to class scores (:class:`ASTForAudioClassification`).

Equal to Hugging Face ``transformers`` (5.x): our submodules carry the names of
its ``ASTModel`` and ``ASTForAudioClassification``, so that its state dict loads
after one renaming (``o_proj`` is our attention's ``out_proj``):
:func:`from_transformers` returns our model holding the reference's weights,
and the tests show the last hidden state and the logits equal. The base
configuration (:func:`ast_base`, the AudioSet model of the paper: 128 mel
bands, 1024 frames, strides 10) has 86,187,264 parameters without its head.

Shapes. A spectrogram in this package has frequency first,
``(n_mels, n_frames)`` (``lessons_lib`` docstring). The AST reads it, as
``transformers`` does, as a *sequence of mel frames*: ``input_values`` of shape
``(batch, n_frames, n_mels)``, time first, as every frame sequence of the
package (``S.transpose(-1, -2)`` at the boundary; :class:`ASTImageBody` does it
for a model built as :class:`lessons_lib.models.cnn.SpectrogramClassifier`).
Inside, the patch embedding turns it back into a one-channel image, mel bands
as rows (lowest first) and frames as columns, and numbers the patches
row-major: patch :math:`(i, j)`, the :math:`i`-th in frequency and the
:math:`j`-th in time, is token :math:`2 + i T' + j`. The encoder's tensors are
``(batch, tokens, hidden_size)``.

The positional embeddings are learned for one grid of patches, so a model
reads spectrograms of exactly ``num_mel_bins`` by ``max_length``: pad or cut
the audio first (the paper pads AudioSet's 10 s clips to 1024 frames).

References: Y. Gong, Y.-A. Chung, J. Glass, "AST: Audio Spectrogram
Transformer", Interspeech 2021; A. Dosovitskiy et al., "An image is worth
16x16 words", ICLR 2021; H. Touvron et al., "Training data-efficient image
transformers & distillation through attention", ICML 2021.

Chapter: ``notebooks/06f_ast.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import positive_int, probability as _probability, real_number
from .layers import MultiHeadSelfAttention, transformers_reference

__all__ = [
    "ASTConfig", "ast_base", "patch_grid", "num_patches", "extract_patches",
    "ASTPatchEmbeddings", "ASTEmbeddings", "ASTMLP", "ASTLayer", "ASTOutput", "ASTModel",
    "ASTMLPHead", "ASTClassifierOutput", "ASTForAudioClassification", "ASTImageBody",
    "cls_attention", "attention_rollout", "transformers_reference", "config_from_transformers", "from_transformers",
    "ACTIVATIONS",
]

#: The activations of the MLP, by the name ``transformers`` gives them (``hidden_act``).
ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),                          # exact: x Phi(x)
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),  # the same tanh formula, written out in transformers
    "relu": F.relu,
}


# --------------------------------------------------------------------------- configuration and patch counts



@dataclass(frozen=True)
class ASTConfig:
    """Hyper-parameters of an AST, named (and defaulted) as ``transformers.ASTConfig``.

    The defaults are the paper's AudioSet model (:func:`ast_base`), whose patches
    cover 128 mel bands by 1024 frames of 10 ms.

    Attributes
    ----------
    hidden_size : int
        :math:`d`, the width of every token.
    num_hidden_layers : int
        Encoder layers.
    num_attention_heads : int
        Must divide ``hidden_size``.
    intermediate_size : int
        Hidden units of each layer's MLP (:math:`4d` in ViT).
    hidden_act : str
        The MLP's activation, a key of :data:`ACTIVATIONS`.
    hidden_dropout_prob, attention_probs_dropout_prob : float
        Dropout on the embeddings and after attention and MLP; on the attention weights.
    layer_norm_eps : float
    patch_size : int
        :math:`p`: square patches of :math:`p` bands by :math:`p` frames.
    frequency_stride, time_stride : int
        :math:`s_f, s_t`: a new patch every :math:`s_f` bands and :math:`s_t` frames
        (overlapping when below :math:`p`).
    max_length : int
        :math:`T`, frames of the spectrogram.
    num_mel_bins : int
        :math:`F`, mel bands.
    num_labels : int
        Classes of :class:`ASTForAudioClassification` (527 for AudioSet).
    initializer_range : float
        Standard deviation of the truncated normal initial weights.

    Raises
    ------
    TypeError, ValueError
        A size that is not a positive int, heads that do not divide ``hidden_size``,
        an unknown ``hidden_act``, a dropout outside [0, 1), or a spectrogram smaller
        than one patch (``num_mel_bins`` or ``max_length`` below ``patch_size``).

    Examples
    --------
    >>> ASTConfig().grid, ASTConfig().num_patches
    ((12, 101), 1212)
    >>> ASTConfig(num_mel_bins=8)
    Traceback (most recent call last):
    ...
    ValueError: num_mel_bins = 8 is smaller than one patch (patch_size = 16): the spectrogram must be at least 16 mel bands by 16 frames
    """

    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.0
    attention_probs_dropout_prob: float = 0.0
    layer_norm_eps: float = 1e-12
    patch_size: int = 16
    frequency_stride: int = 10
    time_stride: int = 10
    max_length: int = 1024
    num_mel_bins: int = 128
    num_labels: int = 527
    initializer_range: float = 0.02

    def __post_init__(self):
        for name in ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "patch_size",
                     "frequency_stride", "time_stride", "max_length", "num_mel_bins", "num_labels"):
            positive_int(getattr(self, name), name)
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"num_attention_heads must divide hidden_size, got hidden_size={self.hidden_size}, "
                             f"num_attention_heads={self.num_attention_heads}")
        if self.hidden_act not in ACTIVATIONS:
            raise ValueError(f"hidden_act must be one of {', '.join(ACTIVATIONS)}, got {self.hidden_act!r}")
        _probability(self.hidden_dropout_prob, "hidden_dropout_prob")
        _probability(self.attention_probs_dropout_prob, "attention_probs_dropout_prob")
        for name in ("layer_norm_eps", "initializer_range"):
            if not real_number(getattr(self, name), name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        _check_patchable(self.num_mel_bins, self.max_length, self.patch_size, "num_mel_bins", "max_length")

    @property
    def grid(self) -> tuple[int, int]:
        """:math:`(F', T')`, patches along frequency and along time (:func:`patch_grid`)."""
        return patch_grid(self.num_mel_bins, self.max_length, self.patch_size, self.frequency_stride,
                          self.time_stride)

    @property
    def num_patches(self) -> int:
        """:math:`N = F' T'`."""
        f, t = self.grid
        return f * t


def _check_patchable(n_mels: int, n_frames: int, patch_size: int, mels_name: str, frames_name: str) -> None:
    for name, n, what in ((mels_name, n_mels, "mel bands"), (frames_name, n_frames, "frames")):
        if n < patch_size:
            raise ValueError(f"{name} = {n} is smaller than one patch (patch_size = {patch_size}): the spectrogram "
                             f"must be at least {patch_size} mel bands by {patch_size} frames")


def ast_base(num_labels: int = 527, **changes) -> ASTConfig:
    """The paper's configuration (ViT/DeiT-Base on 128 x 1024 log-mel, strides 10), AudioSet's 527 classes.

    Parameters
    ----------
    num_labels : int, default 527
    **changes
        Any other field of :class:`ASTConfig` (e.g. ``max_length=128`` for the
        one-second clips of Speech Commands, as the paper does).

    Returns
    -------
    ASTConfig

    Examples
    --------
    >>> with torch.device("meta"):  # shapes only
    ...     sum(p.numel() for p in ASTModel(ast_base()).parameters())
    86187264
    >>> ast_base(35, max_length=128).num_patches  # Speech Commands: 12 x 12 patches of one second
    144
    """
    return ASTConfig(num_labels=num_labels, **changes)


def patch_grid(n_mels: int, n_frames: int, patch_size: int = 16, frequency_stride: int = 10,
               time_stride: int = 10) -> tuple[int, int]:
    r"""How many patches fit along frequency and along time: the output size of a strided convolution.

    .. math:: F' = \left\lfloor \frac{F - p}{s_f} \right\rfloor + 1, \qquad
              T' = \left\lfloor \frac{T - p}{s_t} \right\rfloor + 1, \qquad N = F' T'

    Patch :math:`(i, j)` covers bands :math:`i s_f, \ldots, i s_f + p - 1` and
    frames :math:`j s_t, \ldots, j s_t + p - 1`; the last rows or columns that
    do not fill a whole patch are not read (at most :math:`s - 1` of them).

    Parameters
    ----------
    n_mels, n_frames : int
        :math:`F` and :math:`T`, each at least ``patch_size``.
    patch_size : int, default 16
        :math:`p`.
    frequency_stride, time_stride : int, default 10
        :math:`s_f` and :math:`s_t`.

    Returns
    -------
    (int, int)
        :math:`(F', T')`.

    Raises
    ------
    TypeError, ValueError
        An argument that is not a positive int, or a spectrogram smaller than one patch.

    Examples
    --------
    The paper's AudioSet input, 128 bands by 1024 frames, strides 10: 12 x 101 = 1,212
    patches; without overlap (strides 16), 8 x 64 = 512.

    >>> patch_grid(128, 1024)
    (12, 101)
    >>> patch_grid(128, 1024, 16, 16, 16)
    (8, 64)
    """
    p = positive_int(patch_size, "patch_size")
    s_f, s_t = positive_int(frequency_stride, "frequency_stride"), positive_int(time_stride, "time_stride")
    F_, T_ = positive_int(n_mels, "n_mels"), positive_int(n_frames, "n_frames")
    _check_patchable(F_, T_, p, "n_mels", "n_frames")
    return (F_ - p) // s_f + 1, (T_ - p) // s_t + 1


def num_patches(n_mels: int, n_frames: int, patch_size: int = 16, frequency_stride: int = 10,
                time_stride: int = 10) -> int:
    """:math:`N = F' T'`, the number of patches (:func:`patch_grid`): the encoder reads :math:`N + 2` tokens.

    Examples
    --------
    >>> num_patches(128, 1024)
    1212
    >>> num_patches(40, 101, patch_size=8, frequency_stride=4, time_stride=4)  # FSDD's 40 x 101 log-mel
    216
    """
    f, t = patch_grid(n_mels, n_frames, patch_size, frequency_stride, time_stride)
    return f * t


def extract_patches(S: torch.Tensor, patch_size: int = 16, frequency_stride: int = 10,
                    time_stride: int = 10) -> torch.Tensor:
    r"""Cut spectrograms into their (overlapping) patches, in the AST's token order.

    .. math:: P_{b,\,i T' + j} = S_b[i s_f : i s_f + p,\; j s_t : j s_t + p]

    The patch embedding of :class:`ASTPatchEmbeddings` is one matrix applied to
    each of these tiles, flattened: ``projection.weight.flatten(1) @
    P.flatten(2).T + bias`` (tested), a linear map of a patch, nothing else.

    Parameters
    ----------
    S : Tensor, shape (batch, n_mels, n_frames)
        Spectrograms in the package's layout, frequency first.
    patch_size, frequency_stride, time_stride : int
        As :func:`patch_grid`.

    Returns
    -------
    Tensor, shape (batch, F' T', patch_size, patch_size)
        Rows are mel bands, columns frames, as in ``S``.

    Raises
    ------
    TypeError, ValueError
        ``S`` not a 3-D floating tensor, or smaller than one patch.

    Examples
    --------
    >>> S = torch.arange(4 * 6.0).reshape(1, 4, 6)
    >>> P = extract_patches(S, patch_size=2, frequency_stride=2, time_stride=2)
    >>> P.shape, P[0, 1].tolist()  # patch (0, 1): bands 0-1, frames 2-3
    (torch.Size([1, 6, 2, 2]), [[2.0, 3.0], [8.0, 9.0]])
    """
    if not isinstance(S, torch.Tensor) or not S.is_floating_point():
        raise TypeError(f"S must be a floating-point torch.Tensor, shape (batch, n_mels, n_frames), "
                        f"got {type(S).__name__ if not isinstance(S, torch.Tensor) else S.dtype}")
    if S.ndim != 3:
        raise ValueError(f"S must have shape (batch, n_mels, n_frames), got {tuple(S.shape)}")
    f, t = patch_grid(S.shape[1], S.shape[2], patch_size, frequency_stride, time_stride)
    tiles = S.unfold(1, patch_size, frequency_stride).unfold(2, patch_size, time_stride)  # (B, F', T', p, p)
    return tiles.reshape(S.shape[0], f * t, patch_size, patch_size)


# --------------------------------------------------------------------------- the pieces of the paper


class ASTPatchEmbeddings(nn.Module):
    r"""Overlapping patches of a spectrogram, each mapped linearly to a token: one strided convolution.

    .. math:: e_{i T' + j} = W \operatorname{vec}(P_{ij}) + b, \qquad W \in \mathbb R^{d \times p^2}

    with :math:`P_{ij}` the patch of :func:`extract_patches`. A ``Conv2d`` with
    one input channel, kernel :math:`p \times p` and stride :math:`(s_f, s_t)`
    computes exactly this for every patch at once.

    Attributes
    ----------
    projection : nn.Conv2d
        ``Conv2d(1, hidden_size, patch_size, stride=(frequency_stride, time_stride))``,
        named as in ``transformers``.

    Shapes
    ------
    ``forward(input_values)``: ``(batch, n_frames, n_mels)``, time first →
    ``(batch, F' T', hidden_size)``.
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.projection = nn.Conv2d(1, config.hidden_size, kernel_size=config.patch_size,
                                    stride=(config.frequency_stride, config.time_stride))

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        image = input_values.transpose(1, 2).unsqueeze(1)  # (batch, 1, n_mels, n_frames): bands are rows
        return self.projection(image).flatten(2).transpose(1, 2)


class ASTEmbeddings(nn.Module):
    r"""The token sequence: ``[CLS]``, the distillation token, the patches; plus learned positions.

    .. math:: h^{(0)} = [\,c;\ g;\ e_0;\ \ldots;\ e_{N-1}\,] + E_{pos}, \qquad E_{pos} \in \mathbb R^{(N+2) \times d}

    The two tokens are learned vectors, the same for every input; whatever the
    encoder writes into them is a summary of the whole spectrogram. DeiT trained
    :math:`g` to imitate a CNN teacher; the AST keeps the token (and initialises
    from DeiT) but trains both tokens for the same labels and averages them.

    Attributes
    ----------
    cls_token, distillation_token : Parameter, shape (1, 1, hidden_size)
    position_embeddings : Parameter, shape (1, num_patches + 2, hidden_size)
    patch_embeddings : ASTPatchEmbeddings
    dropout : nn.Dropout
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        d = config.hidden_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.distillation_token = nn.Parameter(torch.zeros(1, 1, d))
        self.patch_embeddings = ASTPatchEmbeddings(config)
        self.position_embeddings = nn.Parameter(torch.zeros(1, config.num_patches + 2, d))
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        """``(batch, n_frames, n_mels)`` → ``(batch, num_patches + 2, hidden_size)``."""
        patches = self.patch_embeddings(input_values)
        batch = patches.shape[0]
        tokens = torch.cat((self.cls_token.expand(batch, -1, -1), self.distillation_token.expand(batch, -1, -1),
                            patches), dim=1)
        return self.dropout(tokens + self.position_embeddings)


class ASTMLP(nn.Module):
    r"""The position-wise MLP of a Transformer layer: :math:`\mathrm{fc_2}(\sigma(\mathrm{fc_1}(x)))`.

    Attributes
    ----------
    fc1 : nn.Linear, hidden_size → intermediate_size
    fc2 : nn.Linear, intermediate_size → hidden_size
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.hidden_act = config.hidden_act
        self.fc1 = nn.Linear(config.hidden_size, config.intermediate_size)
        self.fc2 = nn.Linear(config.intermediate_size, config.hidden_size)

    def extra_repr(self) -> str:
        return f"hidden_act={self.hidden_act!r}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(ACTIVATIONS[self.hidden_act](self.fc1(x)))


class ASTLayer(nn.Module):
    r"""One pre-LN encoder layer (ViT's): attention and MLP, each behind a layer norm and inside a residual.

    .. math::
        h' = h + \operatorname{drop}(\operatorname{MHSA}(\operatorname{LN}_1(h))), \qquad
        h'' = h' + \operatorname{drop}(\operatorname{MLP}(\operatorname{LN}_2(h')))

    The layer norms sit *before* each sub-layer, so the residual path from
    input to output carries :math:`h` unchanged: the layout that lets deep
    Transformers train without a learning-rate warm-up as delicate as the
    original post-LN one (Xiong et al., 2020).

    Attributes
    ----------
    attention : lessons_lib.models.layers.MultiHeadSelfAttention
    layernorm_before, layernorm_after : nn.LayerNorm
    mlp : ASTMLP
    dropout : nn.Dropout
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.attention = MultiHeadSelfAttention(config.hidden_size, config.num_attention_heads,
                                                dropout=config.attention_probs_dropout_prob)
        self.layernorm_before = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layernorm_after = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = ASTMLP(config)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, h: torch.Tensor, return_weights: bool = False):
        """``(batch, tokens, hidden_size)`` → the same shape; with ``return_weights``, also ``(batch, heads, tokens, tokens)``."""
        x = self.layernorm_before(h)
        weights = None
        if return_weights:
            attended, weights = self.attention(x, return_weights=True)
        else:
            attended = self.attention(x)
        h = h + self.dropout(attended)
        h = h + self.dropout(self.mlp(self.layernorm_after(h)))
        return (h, weights) if return_weights else h


class ASTOutput(NamedTuple):
    """What :class:`ASTModel` returns (``transformers``' names; the first element is the last hidden state).

    Attributes
    ----------
    last_hidden_state : Tensor, shape (batch, num_patches + 2, hidden_size)
        After the final layer norm; tokens 0 and 1 are ``[CLS]`` and the distillation token.
    pooler_output : Tensor, shape (batch, hidden_size)
        The mean of the two tokens' outputs.
    hidden_states : tuple of Tensor or None
        With ``output_hidden_states``: the embeddings and each layer's output (before the final norm).
    attentions : tuple of Tensor or None
        With ``output_attentions``: each layer's weights, ``(batch, heads, tokens, tokens)``.
    """

    last_hidden_state: torch.Tensor
    pooler_output: torch.Tensor
    hidden_states: tuple | None = None
    attentions: tuple | None = None


def _check_input(input_values, config: ASTConfig) -> None:
    shape = f"(batch, max_length={config.max_length}, num_mel_bins={config.num_mel_bins})"
    if not isinstance(input_values, torch.Tensor):
        raise TypeError(f"input_values must be a torch.Tensor of shape {shape}, got {type(input_values).__name__}")
    if not input_values.is_floating_point():
        raise TypeError(f"input_values must hold floating-point numbers, got {input_values.dtype}")
    if input_values.ndim != 3:
        raise ValueError(f"input_values must be 3-D, {shape}: mel frames, time first "
                         f"(a spectrogram S of shape (batch, n_mels, n_frames) is S.transpose(1, 2)), "
                         f"got shape {tuple(input_values.shape)}")
    n_frames, n_mels = input_values.shape[1:]
    p = config.patch_size
    if n_frames < p or n_mels < p:
        raise ValueError(f"input_values is {n_frames} frames x {n_mels} mel bands, smaller than one patch "
                         f"({p} x {p}): the AST reads spectrograms of {config.max_length} frames x "
                         f"{config.num_mel_bins} mel bands")
    if (n_frames, n_mels) != (config.max_length, config.num_mel_bins):
        raise ValueError(f"input_values must have shape {shape}: the positional embeddings were learned for "
                         f"{config.grid[0]} x {config.grid[1]} patches; pad or cut the spectrogram, "
                         f"got shape {tuple(input_values.shape)}")


class ASTModel(nn.Module):
    r"""The AST encoder: embeddings, ``num_hidden_layers`` pre-LN layers, a final layer norm.

    .. math:: h^{(l)} = \operatorname{Layer}_l(h^{(l-1)}), \qquad
              z = \operatorname{LN}(h^{(L)}), \qquad \bar z = \tfrac12 (z_0 + z_1)

    Weights start as DeiT's and the original code's (truncated normal, standard
    deviation ``initializer_range``, for the linear and patch weights, the two
    tokens and the positions; zero biases; layer norms at the identity).

    Parameters
    ----------
    config : ASTConfig

    Attributes
    ----------
    embeddings : ASTEmbeddings
    layers : nn.ModuleList of ASTLayer
    layernorm : nn.LayerNorm

    Shapes
    ------
    ``forward(input_values, output_attentions=False, output_hidden_states=False)``:
    ``input_values`` ``(batch, max_length, num_mel_bins)``, mel frames, time
    first → :class:`ASTOutput`, whose ``last_hidden_state`` is
    ``(batch, num_patches + 2, hidden_size)``.

    Raises
    ------
    TypeError, ValueError
        In ``forward``: ``input_values`` not a floating 3-D tensor, smaller than one
        patch, or not of the configured size.

    Examples
    --------
    >>> config = ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
    ...                    patch_size=8, frequency_stride=4, time_stride=4, max_length=24, num_mel_bins=16)
    >>> torch.manual_seed(0) and None
    >>> out = ASTModel(config)(torch.randn(3, 24, 16), output_attentions=True)
    >>> out.last_hidden_state.shape, out.pooler_output.shape, out.attentions[0].shape  # 3 x 5 patches + 2
    (torch.Size([3, 17, 32]), torch.Size([3, 32]), torch.Size([3, 4, 17, 17]))
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        if not isinstance(config, ASTConfig):
            raise TypeError(f"config must be an ASTConfig, got {type(config).__name__} (for a transformers "
                            f"ASTConfig use config_from_transformers)")
        self.config = config
        self.embeddings = ASTEmbeddings(config)
        self.layers = nn.ModuleList(ASTLayer(config) for _ in range(config.num_hidden_layers))
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        _init_weights(self, config.initializer_range)

    def forward(self, input_values: torch.Tensor, output_attentions: bool = False,
                output_hidden_states: bool = False) -> ASTOutput:
        _check_input(input_values, self.config)
        h = self.embeddings(input_values)
        hidden, attentions = [h], []
        for layer in self.layers:
            if output_attentions:
                h, weights = layer(h, return_weights=True)
                attentions.append(weights)
            else:
                h = layer(h)
            hidden.append(h)
        z = self.layernorm(h)
        return ASTOutput(z, (z[:, 0] + z[:, 1]) / 2, tuple(hidden) if output_hidden_states else None,
                         tuple(attentions) if output_attentions else None)


def _init_weights(module: nn.Module, std: float) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, ASTEmbeddings):
            for p in (m.cls_token, m.distillation_token, m.position_embeddings):
                nn.init.trunc_normal_(p, std=std, a=-2 * std, b=2 * std)


class ASTMLPHead(nn.Module):
    r"""The classifier on the pooled tokens: :math:`y = W \operatorname{LN}(\bar z) + b`.

    Attributes
    ----------
    layernorm : nn.LayerNorm
    dense : nn.Linear, hidden_size → num_labels
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.layernorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dense = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.dense(self.layernorm(pooled))


class ASTClassifierOutput(NamedTuple):
    """What :class:`ASTForAudioClassification` returns; the first element is the logits.

    Attributes
    ----------
    logits : Tensor, shape (batch, num_labels)
    last_hidden_state : Tensor, shape (batch, num_patches + 2, hidden_size)
    attentions : tuple of Tensor or None
        As :class:`ASTOutput`.
    """

    logits: torch.Tensor
    last_hidden_state: torch.Tensor
    attentions: tuple | None = None


class ASTForAudioClassification(nn.Module):
    r"""An AST with its classification head: logits of the mean of the two tokens' outputs.

    .. math:: y = \operatorname{head}\big(\tfrac12 (z_0 + z_1)\big)

    Parameters
    ----------
    config : ASTConfig
        ``num_labels`` classes.

    Attributes
    ----------
    audio_spectrogram_transformer : ASTModel
    classifier : ASTMLPHead

    Shapes
    ------
    ``forward(input_values, output_attentions=False)``: ``(batch, max_length,
    num_mel_bins)`` → :class:`ASTClassifierOutput`, logits ``(batch, num_labels)``.

    Examples
    --------
    >>> config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
    ...                    max_length=40, num_mel_bins=16, num_labels=10)
    >>> ASTForAudioClassification(config)(torch.zeros(2, 40, 16)).logits.shape
    torch.Size([2, 10])
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.config = config
        self.audio_spectrogram_transformer = ASTModel(config)
        self.classifier = ASTMLPHead(config)
        _init_weights(self.classifier, config.initializer_range)

    def forward(self, input_values: torch.Tensor, output_attentions: bool = False) -> ASTClassifierOutput:
        out = self.audio_spectrogram_transformer(input_values, output_attentions=output_attentions)
        return ASTClassifierOutput(self.classifier(out.pooler_output), out.last_hidden_state, out.attentions)


class ASTImageBody(nn.Module):
    r"""An AST classifier as the body of :class:`lessons_lib.models.cnn.SpectrogramClassifier`.

    The CNN bodies take one-channel images ``(batch, 1, n_mels, n_frames)``;
    the AST takes mel frames ``(batch, n_frames, n_mels)``. This is the one
    place where the layout changes, :math:`X \mapsto X^\top`, so that Chapter 6's
    front end, SpecAugment, scaling, training and evaluation code serve the AST
    unchanged. ``forward`` returns the logits only.

    Parameters
    ----------
    config : ASTConfig

    Attributes
    ----------
    ast : ASTForAudioClassification
    min_size : int
        ``patch_size``, for :func:`lessons_lib.recipes.cnn_fsdd.repeat_for`; the
        image must in fact be exactly ``num_mel_bins`` by ``max_length``.

    Examples
    --------
    >>> config = ASTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
    ...                    max_length=101, num_mel_bins=40, num_labels=10)
    >>> ASTImageBody(config)(torch.zeros(3, 1, 40, 101)).shape
    torch.Size([3, 10])
    """

    def __init__(self, config: ASTConfig):
        super().__init__()
        self.ast = ASTForAudioClassification(config)
        self.min_size = config.patch_size

    @staticmethod
    def frames(image: torch.Tensor) -> torch.Tensor:
        """``(batch, 1, n_mels, n_frames)`` → ``(batch, n_frames, n_mels)``."""
        if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[1] != 1:
            got = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
            raise ValueError(f"image must have shape (batch, 1, n_mels, n_frames), got {got}")
        return image[:, 0].transpose(1, 2)

    def forward(self, image: torch.Tensor, output_attentions: bool = False):
        out = self.ast(self.frames(image), output_attentions=output_attentions)
        return out if output_attentions else out.logits


# --------------------------------------------------------------------------- reading the attention


def _check_attentions(attentions) -> list[torch.Tensor]:
    if isinstance(attentions, torch.Tensor) or not isinstance(attentions, (list, tuple)) or not attentions:
        raise TypeError("attentions must be a non-empty tuple or list of tensors (batch, heads, tokens, tokens), "
                        "one per layer: ASTModel(..., output_attentions=True).attentions")
    for A in attentions:
        if not isinstance(A, torch.Tensor) or A.ndim != 4 or A.shape[-1] != A.shape[-2]:
            raise ValueError(f"each attention must have shape (batch, heads, tokens, tokens), got "
                             f"{tuple(A.shape) if isinstance(A, torch.Tensor) else type(A).__name__}")
    return list(attentions)


def cls_attention(attentions, grid: tuple[int, int], layer: int = -1) -> torch.Tensor:
    r"""Where the two summary tokens look: their attention to each patch, on the grid of patches.

    .. math:: M_{ij} = \frac{1}{2H} \sum_{h=1}^{H} \big(A^{(l)}_{h,\,0,\,2 + i T' + j} + A^{(l)}_{h,\,1,\,2 + i T' + j}\big)

    the weights from ``[CLS]`` (row 0) and the distillation token (row 1) to
    patch :math:`(i, j)` in layer :math:`l`, averaged over the heads: the two
    rows whose outputs the head classifies.

    Parameters
    ----------
    attentions : tuple of Tensor, each (batch, heads, N + 2, N + 2)
        ``ASTModel(..., output_attentions=True).attentions``.
    grid : (int, int)
        :math:`(F', T')` with :math:`F' T' = N` (``config.grid``).
    layer : int, default -1
        Which layer (Python indexing).

    Returns
    -------
    Tensor, shape (batch, F', T')
        Frequency on the first axis, as a spectrogram.

    Raises
    ------
    TypeError, ValueError
        ``attentions`` not a sequence of square 4-D tensors, or ``grid`` not matching their size.

    Examples
    --------
    >>> A = torch.full((1, 2, 8, 8), 1 / 8)  # uniform attention over 2 tokens + 2 x 3 patches
    >>> cls_attention([A], (2, 3))
    tensor([[[0.1250, 0.1250, 0.1250],
             [0.1250, 0.1250, 0.1250]]])
    """
    A = _check_attentions(attentions)[layer]
    f, t = (positive_int(n, "grid[i]") for n in grid)
    if A.shape[-1] != f * t + 2:
        raise ValueError(f"grid {f} x {t} needs {f * t + 2} tokens, the attention has {A.shape[-1]}")
    return A[:, :, :2, 2:].mean(dim=(1, 2)).reshape(A.shape[0], f, t)


def attention_rollout(attentions, *, residual: float = 0.5) -> torch.Tensor:
    r"""Attention rollout (Abnar and Zuidema, 2020): how much each input token reaches each output token.

    .. math:: \tilde A^{(l)} = \alpha I + (1 - \alpha) \frac1H \sum_h A^{(l)}_h, \qquad
              R = \tilde A^{(L)} \tilde A^{(L-1)} \cdots \tilde A^{(1)}

    Each layer mixes the tokens by its head-averaged weights and, through the
    residual connection, keeps part of each token as it was (the identity
    with weight :math:`\alpha`); multiplying the layers' matrices follows the
    mixing through the whole stack. Every row of :math:`R` sums to 1. Row 0
    (``[CLS]``) restricted to the patches is the usual rollout map.

    Parameters
    ----------
    attentions : tuple of Tensor, each (batch, heads, tokens, tokens)
    residual : float, default 0.5
        :math:`\alpha \in [0, 1]`.

    Returns
    -------
    Tensor, shape (batch, tokens, tokens)

    Raises
    ------
    TypeError, ValueError
        As :func:`cls_attention`; ``residual`` outside [0, 1].

    Examples
    --------
    With a single layer that attends only to token 0, half of every token stays itself:

    >>> A = torch.zeros(1, 1, 3, 3); A[..., 0] = 1.0
    >>> attention_rollout([A])[0]
    tensor([[1.0000, 0.0000, 0.0000],
            [0.5000, 0.5000, 0.0000],
            [0.5000, 0.0000, 0.5000]])
    """
    A = _check_attentions(attentions)
    alpha = real_number(residual, "residual")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"residual must lie in [0, 1], got {residual}")
    eye = torch.eye(A[0].shape[-1], dtype=A[0].dtype, device=A[0].device)
    R = None
    for weights in A:
        mixed = alpha * eye + (1 - alpha) * weights.mean(dim=1)
        R = mixed if R is None else mixed @ R
    return R


# --------------------------------------------------------------------------- transformers as the reference

_SUPPORTED_ACT = tuple(ACTIVATIONS)


def config_from_transformers(hf_config, num_labels: int | None = None) -> ASTConfig:
    """Our :class:`ASTConfig` for a ``transformers.ASTConfig``; a setting we cannot hold is an error.

    Parameters
    ----------
    hf_config : transformers.ASTConfig
    num_labels : int, optional
        Default: the reference's ``num_labels``.

    Returns
    -------
    ASTConfig

    Raises
    ------
    TypeError
        ``hf_config`` lacks the fields of an ``ASTConfig``.
    ValueError
        A configuration this module does not implement: ``qkv_bias=False`` (our
        attention has biases on all four projections or none), a non-square or
        non-int ``patch_size``, a ``head_dim`` other than ``hidden_size /
        num_attention_heads``, ``num_labels = 0`` (no head), or an activation
        outside :data:`ACTIVATIONS`.

    Examples
    --------
    >>> transformers = transformers_reference()
    >>> config_from_transformers(transformers.ASTConfig(hidden_size=64, num_attention_heads=4)).hidden_size
    64
    >>> config_from_transformers(transformers.ASTConfig(qkv_bias=False))
    Traceback (most recent call last):
    ...
    ValueError: unsupported transformers ASTConfig: qkv_bias=False (our attention has biases on all four projections or on none)
    """
    names = [f.name for f in fields(ASTConfig) if f.name != "num_labels"]
    missing = [n for n in names if not hasattr(hf_config, n)]
    if missing:
        raise TypeError(f"hf_config must be a transformers ASTConfig; {type(hf_config).__name__} lacks "
                        f"{', '.join(missing)}")
    problems = []
    if not getattr(hf_config, "qkv_bias", True):
        problems.append("qkv_bias=False (our attention has biases on all four projections or on none)")
    patch = hf_config.patch_size
    if isinstance(patch, bool) or not isinstance(patch, int):
        problems.append(f"patch_size={patch!r} (square patches, one int)")
    head_dim = getattr(hf_config, "head_dim", None)
    if head_dim is not None and head_dim * hf_config.num_attention_heads != hf_config.hidden_size:
        problems.append(f"head_dim={head_dim} (must be hidden_size / num_attention_heads)")
    if hf_config.hidden_act not in _SUPPORTED_ACT:
        problems.append(f"hidden_act={hf_config.hidden_act!r} (supported: {', '.join(_SUPPORTED_ACT)})")
    labels = hf_config.num_labels if num_labels is None else num_labels
    if labels == 0:
        problems.append("num_labels=0 (a head without a classifier layer)")
    if problems:
        raise ValueError("unsupported transformers ASTConfig: " + "; ".join(problems))
    return ASTConfig(**{n: getattr(hf_config, n) for n in names}, num_labels=labels)


def _rename(key: str) -> str:
    """A ``transformers`` (5.x) AST state-dict key as ours: ``attention.o_proj`` is our ``attention.out_proj``."""
    return key.replace(".attention.o_proj.", ".attention.out_proj.")


def from_transformers(hf_model) -> ASTModel | ASTForAudioClassification:
    """Our model holding the weights of a ``transformers`` ``ASTModel`` or ``ASTForAudioClassification``.

    The configuration is translated by :func:`config_from_transformers`, the
    weights copied (not shared) by name, with one renaming (``o_proj`` →
    ``out_proj``); every key of each side must be matched, in shape. The result
    is on the reference's device, in its dtype and in its training mode. Then
    ``ours(x).last_hidden_state`` equals ``hf_model(x).last_hidden_state`` for an
    ``ASTModel``, and ``ours(x).logits`` equals ``hf_model(x).logits`` for an
    ``ASTForAudioClassification`` (tests: float64, within 1e-10).

    Parameters
    ----------
    hf_model : transformers.ASTModel or transformers.ASTForAudioClassification

    Returns
    -------
    ASTModel or ASTForAudioClassification

    Raises
    ------
    TypeError
        ``hf_model`` is neither.
    ValueError
        An unsupported configuration (:func:`config_from_transformers`), or a state
        dict whose keys or shapes differ from ours (another ``transformers`` layout).

    Examples
    --------
    >>> transformers = transformers_reference()
    >>> hf_config = transformers.ASTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
    ...                                    intermediate_size=64, max_length=32, num_mel_bins=16)
    >>> torch.manual_seed(0) and None
    >>> theirs = transformers.ASTModel(hf_config).eval()
    >>> ours = from_transformers(theirs)
    >>> x = torch.randn(2, 32, 16)
    >>> torch.allclose(ours(x).last_hidden_state, theirs(x).last_hidden_state, atol=1e-5)
    True
    """
    transformers = transformers_reference()
    if isinstance(hf_model, transformers.ASTForAudioClassification):
        config = config_from_transformers(hf_model.config)
        cls = ASTForAudioClassification
    elif isinstance(hf_model, transformers.ASTModel):
        config = config_from_transformers(hf_model.config, num_labels=max(1, hf_model.config.num_labels))
        cls = ASTModel
    else:
        raise TypeError(f"hf_model must be a transformers ASTModel or ASTForAudioClassification, "
                        f"got {type(hf_model).__name__}")
    theirs = {_rename(k): v for k, v in hf_model.state_dict().items()}
    with torch.device("meta"):
        ours = cls(config)
    expected = {k: v.shape for k, v in ours.state_dict().items()}
    unmatched = sorted(set(expected) ^ set(theirs))
    wrong = [k for k in expected if k in theirs and theirs[k].shape != expected[k]]
    if unmatched or wrong:
        raise ValueError("the reference's state dict does not match ours (another transformers layout?): "
                         + (f"keys on one side only: {unmatched[:6]}" if unmatched else "")
                         + (f" shapes differ: {wrong[:6]}" if wrong else ""))
    ours.load_state_dict({k: v.detach().clone() for k, v in theirs.items()}, assign=True)
    return ours.train(hf_model.training)

r"""Recipe: a small Audio Spectrogram Transformer recognises isolated spoken digits from log-mel patches (Chapter 6).

The data, the splits, the waveform augmentation and the evaluation are those
of :mod:`lessons_lib.recipes.cnn_fsdd`, imported, not copied, so that the AST
and the CNNs of notebooks 06b and 06c are compared on exactly the same
recordings: every FSDD recording in a 1 s window (:func:`cnn_fsdd.fit_window
<lessons_lib.recipes.cnn_fsdd.fit_window>`), the official split (takes 0-4
test) or leave-one-speaker-out (``split="loso:<speaker>"``; ``"loso"`` or
``"loso:<a>,<b>"``: one run per held-out speaker, :func:`folds` and
:func:`combine`), the unseen espeak-ng voices in :func:`evaluate`.

Model: :class:`lessons_lib.models.cnn.SpectrogramClassifier` with Chapter 1's
log-mel front end (40 mel bands by 101 frames of 10 ms, ``cnn_fsdd.FRONTEND``),
SpecAugment in training, the fixed scaling :math:`X = (S_\mathrm{dB} + 60) / 20`,
and as its body an AST (:class:`lessons_lib.models.audio_spectrogram_transformer.ASTImageBody`):
``patch_size`` x ``patch_size`` patches every ``frequency_stride`` bands and
``time_stride`` frames, ``hidden_size``-wide tokens, ``num_hidden_layers``
pre-LN layers. The paper's AST is ViT-Base (86 M parameters, 1,212 patches of
16 x 16 at strides 10) initialised from ImageNet (DeiT); here the model has
0.15 M parameters (quick mode), trained from random weights on 2,700
recordings, with small patches, 8 x 8, because a 40-band spectrogram holds only
three 16-band rows of patches from bottom to top: 5 x 12 = 60 patches side by
side in quick mode (strides 8), 9 x 24 = 216 overlapping ones in full mode
(strides 4).

Without pre-training an AST learns slowly: it has none of a CNN's built-in
assumptions (a feature is local, and the same wherever it appears) and must
learn them from the data. Quick mode reaches about 93% on the official split
in 12 epochs (about 90 s on one core) where notebook 6b's CNNs needed 3 to 9;
its loss stays near that of guessing for the first two. Augmentation makes the
task harder still: with the waveform augmentation of Chapter 6 and SpecAugment
on, the same 12 epochs ended near a third in our runs, so quick mode trains
without it (``augment=False``), and full mode, with 100 epochs on a GPU, with it. What helps against over-fitting, each a setting
here: the waveform augmentation and SpecAugment (``augment``), mixup
(``mixup``: training on mixtures of two recordings and of their labels,
:func:`lessons_lib.augment.mixup`), the size and overlap of the patches, dropout and weight decay.

Loss: the cross-entropy of the logits against the (mixed) labels. Training:
AdamW, a one-cycle learning rate (warm-up then cosine decay to zero, peak
``lr``), gradients clipped at norm ``clip``, batches drawn from ``(seed,
epoch)`` (``cnn_fsdd.batches``). Headline: test accuracy of the split and on
unseen voices, parameters and multiply-adds (attention's products included).

Chapter: ``notebooks/06f_ast.ipynb``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..augment import mixup
from ..models import cnn
from ..models.audio_spectrogram_transformer import ASTConfig, ASTImageBody
from ..train import fit
from . import cnn_fsdd
from .cnn_fsdd import FRONTEND, OFFSET, SCALE, Windows, batches, combine, folds, frontend, logits, prepare, split

__all__ = ["Config", "CONFIGS", "ast_config", "build", "collate", "loss", "warmup_cosine", "train", "evaluate",
           "attention_macs", "prepare", "split", "folds", "combine", "logits"]

NAME = "ast_fsdd"
NOTEBOOK = "06f_ast"
TITLE = "Audio Spectrogram Transformer: FSDD isolated digits, log-mel patches"


@dataclass(frozen=True)
class Config(cnn_fsdd.Augmentation):
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    hidden_size, num_hidden_layers, num_attention_heads, intermediate_size : int
        The encoder (:class:`lessons_lib.models.audio_spectrogram_transformer.ASTConfig`).
    patch_size, frequency_stride, time_stride : int
        Patches of ``patch_size`` bands by ``patch_size`` frames, a new one every
        ``frequency_stride`` bands and ``time_stride`` frames.
    dropout : float
        On the embeddings, after attention and after each MLP (not on the attention weights).
    n_mels : int
        Mel bands of the log-mel spectrogram (``cnn_fsdd``'s front end).
    seconds : float
        The fixed window every recording is placed in.
    epochs, batch_size : int
    lr : float
        Peak learning rate of the one-cycle schedule (AdamW).
    warmup : float
        Fraction of the steps spent warming up.
    weight_decay : float
    clip : float
        Largest gradient norm.
    augment, max_shift, snr_low, snr_high, freq_masks, max_freq_width, time_masks, max_time_width
        Time shift, noise and SpecAugment on the training recordings:
        :class:`lessons_lib.recipes.cnn_fsdd.Augmentation`.
    mixup : float
        :math:`\\alpha` of mixup's :math:`\\mathrm{Beta}(\\alpha, \\alpha)`
        (:func:`lessons_lib.augment.mixup`); 0: no mixup.
    split : str
        ``"official"``, ``"loso:<speaker>"``, or ``"loso"`` / ``"loso:<a>,<b>"`` for one run per speaker.
    seed : int
    """

    hidden_size: int = 64
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 128
    patch_size: int = 8
    frequency_stride: int = 8
    time_stride: int = 8
    dropout: float = 0.0
    n_mels: int = 40
    seconds: float = 1.0
    epochs: int = 12
    batch_size: int = 32
    lr: float = 2e-3
    warmup: float = 0.1
    weight_decay: float = 0.05
    clip: float = 1.0
    mixup: float = 0.0
    split: str = "official"
    seed: int = 0


#: Quick mode: one CPU core, about 90 s of training (12 epochs of 5 x 12 non-overlapping 8 x 8 patches, no
#: augmentation, which an AST from random weights cannot afford in so few epochs); full mode: a GPU, overlapping
#: patches (9 x 24 at strides 4), a wider and deeper model, 100 epochs with augmentation, mixup and dropout.
CONFIGS = {
    "quick": Config(),
    "full": Config(hidden_size=192, num_hidden_layers=6, num_attention_heads=6, intermediate_size=768,
                   frequency_stride=4, time_stride=4, dropout=0.1, epochs=100, batch_size=64, lr=1e-3,
                   augment=True, mixup=0.4),
}


def ast_config(config: Config) -> ASTConfig:
    """The AST's configuration: ``config``'s encoder, on the log-mel spectrogram of ``config.seconds``, 10 digits.

    Raises
    ------
    ValueError
        A setting the AST refuses (e.g. patches larger than the spectrogram).

    Examples
    --------
    >>> c = ast_config(Config())
    >>> (c.num_mel_bins, c.max_length), c.grid, c.num_patches
    ((40, 101), (5, 12), 60)
    >>> ast_config(CONFIGS["full"]).grid  # overlapping patches, strides 4
    (9, 24)
    """
    n_frames = int(frontend(config).n_frames(round(config.seconds * FRONTEND["sr"])))
    return ASTConfig(hidden_size=config.hidden_size, num_hidden_layers=config.num_hidden_layers,
                     num_attention_heads=config.num_attention_heads, intermediate_size=config.intermediate_size,
                     hidden_dropout_prob=config.dropout, layer_norm_eps=1e-6, patch_size=config.patch_size,
                     frequency_stride=config.frequency_stride, time_stride=config.time_stride, max_length=n_frames,
                     num_mel_bins=config.n_mels, num_labels=10)


def _check(config: Config) -> None:
    if config.split not in ("official", "loso") and not config.split.startswith("loso:"):
        raise ValueError(f"split must be 'official', 'loso' or 'loso:<speaker>[,<speaker>...]', got {config.split!r}")
    cnn_fsdd.check_augmentation(config)
    if config.mixup < 0 or config.lr <= 0 or config.epochs < 1 or config.clip <= 0 or not 0 <= config.warmup < 1:
        raise ValueError(f"mixup must be >= 0, lr and clip > 0, epochs >= 1, warmup in [0, 1); got mixup="
                         f"{config.mixup}, lr={config.lr}, clip={config.clip}, epochs={config.epochs}, "
                         f"warmup={config.warmup}")


def build(config: Config) -> cnn.SpectrogramClassifier:
    """The model, waveforms in and logits out, initialised from ``config.seed`` (global random state left alone).

    Raises
    ------
    ValueError
        A malformed split, ``snr_low > snr_high``, a negative ``mixup``, or an AST setting out of range.

    Examples
    --------
    >>> net = build(Config())
    >>> net(torch.zeros(2, 8000)).shape, sum(p.numel() for p in net.parameters())
    (torch.Size([2, 10]), 143050)
    """
    _check(config)
    ast = ast_config(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        body = ASTImageBody(ast)
    return cnn.SpectrogramClassifier(frontend(config), body, augment=cnn_fsdd.spec_augment(config), offset=OFFSET,
                                     scale=SCALE)


def collate(d: Windows, indices, *, config: Config | None = None, epoch: int | None = None):
    """A batch: waveforms ``(B, n_samples)`` and digits ``(B,)``, or mixed waveforms and label probabilities ``(B, 10)``.

    With an ``epoch``: ``cnn_fsdd.collate``'s augmentation (``config.augment``),
    then, with ``config.mixup``, :func:`lessons_lib.augment.mixup` drawn from
    ``numpy.random.default_rng([seed, epoch, *indices])``: the same for the same
    batch, in a resumed run too. Without an epoch (evaluation): the plain windows.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(3, np.float32),) * 2, 8, np.array([4, 7]), np.array(["a", "b"]), np.array([0, 0]),
    ...            (None,) * 2)
    >>> x, y = collate(cnn_fsdd.windows_of(toy), np.array([1, 0]), config=Config(augment=False, mixup=0.4), epoch=0)
    >>> tuple(x.shape), tuple(y.shape), y.sum(1).tolist()
    ((2, 8), (2, 10), [1.0, 1.0])
    """
    x, y = cnn_fsdd.collate(d, indices, config=config, epoch=epoch)
    if config is not None and config.mixup > 0 and epoch is not None:
        rng = np.random.default_rng([config.seed, epoch, *np.asarray(indices, dtype=np.int64).tolist()])
        x, y = mixup(x, y, config.mixup, rng)
    return x, y


def loss(model, batch) -> torch.Tensor:
    """The cross-entropy of the logits against hard digits ``(B,)`` or label probabilities ``(B, 10)``.

    Examples
    --------
    >>> net = build(Config(num_hidden_layers=1)).eval()  # no dropout, no masks: the same logits twice
    >>> hard = loss(net, (torch.zeros(2, 8000), torch.tensor([3, 5])))
    >>> soft = loss(net, (torch.zeros(2, 8000), F.one_hot(torch.tensor([3, 5]), 10).float()))
    >>> bool(torch.isclose(hard, soft))
    True
    """
    x, y = batch
    return F.cross_entropy(model(x), y)


def warmup_cosine(steps: int, warmup: float):
    r"""The learning-rate factor of step :math:`k` (0-based): a linear warm-up, then a cosine decay to zero.

    .. math:: \eta_k / \eta = \begin{cases} (k + 1) / W & k < W \\
              \tfrac12 \left(1 + \cos \frac{\pi (k + 1 - W)}{K - W}\right) & k \ge W \end{cases}
              \qquad W = \max(1, \operatorname{round}(w K))

    for :math:`K` steps in all: the peak :math:`\eta` is reached after :math:`W`
    steps and the last step's rate is zero. For ``torch.optim.lr_scheduler.LambdaLR``.

    Parameters
    ----------
    steps : int
        :math:`K \ge 1`.
    warmup : float
        :math:`w \in [0, 1)`, the share of the steps spent warming up.

    Returns
    -------
    callable
        ``factor(k) -> float``.

    Examples
    --------
    >>> factor = warmup_cosine(10, 0.2)
    >>> [round(factor(k), 3) for k in range(10)]
    [0.5, 1.0, 0.962, 0.854, 0.691, 0.5, 0.309, 0.146, 0.038, 0.0]
    """
    steps = max(1, int(steps))
    warm = min(steps, max(1, round(warmup * steps)))

    def factor(k: int) -> float:
        if k < warm:
            return (k + 1) / warm
        return 0.5 * (1.0 + math.cos(math.pi * (k + 1 - warm) / max(1, steps - warm)))

    return factor


def train(config: Config, d: Windows, items=None, *, valid_items=None, train_eval_items=None, model=None,
          device=None, checkpoint=None, resume: bool = False, progress: bool = True,
          time_budget: float | None = None):
    """Train an AST on ``items`` (default: the training recordings of ``config.split``); returns ``(model, history)``.

    With ``valid_items``, ``history.valid["accuracy"]`` holds their accuracy after
    every epoch; with ``train_eval_items`` (e.g. some training recordings),
    ``history.valid["train accuracy"]`` likewise, unaugmented: the two curves
    show over-fitting.

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(800, np.float32),) * 8, 8000, np.arange(8) % 2, np.array(["a"] * 8),
    ...            np.arange(8) + 5, (None,) * 8)
    >>> config = Config(num_hidden_layers=1, epochs=2, batch_size=4, mixup=0.4)
    >>> model, history = train(config, cnn_fsdd.windows_of(toy), device="cpu", progress=False,
    ...                        valid_items=[0, 1], train_eval_items=[2, 3])
    >>> history.epochs, history.steps, sorted(history.valid)
    (2, 4, ['accuracy', 'train accuracy'])
    """
    _check(config)
    items = split(config, d)[0] if items is None else np.asarray(items)
    model = build(config) if model is None else model
    tokens = ("cls_token", "distillation_token", "position_embeddings")  # learned vectors, not weights
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and not n.endswith(tokens)]
    no_decay = [p for n, p in model.named_parameters() if p.ndim < 2 or n.endswith(tokens)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)
    of_epoch = batches(config, items)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(config.epochs * len(of_epoch(0)),
                                                                           config.warmup))
    current = {"epoch": 0}

    def epoch_batches(epoch: int):
        current["epoch"] = epoch
        return of_epoch(epoch)

    def training_collate(indices):
        return collate(d, indices, config=config, epoch=current["epoch"])

    def accuracy(model, chosen):
        chosen = np.asarray(chosen)
        return float(np.mean(logits(model, d, chosen).argmax(1) == d.digits[chosen]))

    def validate(model):
        out = {} if valid_items is None else {"accuracy": accuracy(model, valid_items)}
        return out | ({} if train_eval_items is None else {"train accuracy": accuracy(model, train_eval_items)})

    watching = valid_items is not None or train_eval_items is not None
    history = fit(model, loss, epoch_batches, collate=training_collate, optimizer=optimizer, scheduler=scheduler,
                  epochs=config.epochs, clip=config.clip, valid=validate if watching else None, device=device,
                  seed=config.seed, checkpoint=checkpoint, resume=resume, progress=progress,
                  time_budget=time_budget, hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})
    return model, history


def attention_macs(config: ASTConfig) -> int:
    r"""Multiply-adds of attention's two matrix products in one forward pass, which ``cnn.count_flops`` misses.

    .. math:: 2 L (N + 2)^2 d

    (:math:`QK^\top` and :math:`AV` in each of :math:`L` layers, :math:`N + 2`
    tokens of width :math:`d`, all heads together).

    Examples
    --------
    >>> from lessons_lib.models.audio_spectrogram_transformer import ast_base
    >>> attention_macs(ast_base()) / 1e9  # the paper's model: 27 GMACs of attention alone
    27.165007872
    """
    return 2 * config.num_hidden_layers * (config.num_patches + 2) ** 2 * config.hidden_size


def evaluate(model, config: Config, d: Windows, *, device=None, unseen=True) -> dict:
    """The headline numbers of :func:`lessons_lib.recipes.cnn_fsdd.evaluate`, with attention's multiply-adds added.

    Returns
    -------
    dict
        ``test accuracy``, ``test errors``, ``test recordings``; ``espeak accuracy`` and
        ``espeak recordings`` with unseen voices; ``parameters``; ``MFLOPs`` per recording
        (front end excluded, attention's products included).

    Examples
    --------
    >>> from lessons_lib.data import FSDD
    >>> toy = FSDD((np.ones(800, np.float32),) * 4, 8000, np.arange(4), np.array(["a"] * 4), np.arange(4),
    ...            (None,) * 4)
    >>> out = evaluate(build(Config()), Config(), cnn_fsdd.windows_of(toy), unseen=False)
    >>> out["test recordings"], round(out["MFLOPs"], 1)
    (4, 10.3)
    """
    results = cnn_fsdd.evaluate(model, config, d, device=device, unseen=unseen)
    body = getattr(model, "body", None)
    if isinstance(body, ASTImageBody) and "MFLOPs" in results:
        results["MFLOPs"] += attention_macs(body.ast.config) / 1e6
    return results

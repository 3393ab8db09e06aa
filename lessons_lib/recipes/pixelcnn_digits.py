r"""Recipe: a gated PixelCNN learns scikit-learn's 8x8 handwritten digits, scored in bits per dimension (Chapter 7).

Data: the 1,797 images of ``sklearn.datasets.load_digits`` (bundled with
scikit-learn: no download), 8x8 pixels of 17 grey levels, 0 (white) to 16
(black), with their class 0-9. A fixed split, drawn once from
``numpy.random.default_rng(SPLIT_SEED)``: ``test_fraction`` of the images (359
of 1,797 at 0.2) are the test set, the rest the training set.

Model: :class:`lessons_lib.models.pixelcnn.GatedPixelCNN` (or, with
``arch="plain"``, :class:`~lessons_lib.models.pixelcnn.PixelCNN`), 17-way
softmax per pixel; with ``conditional=True`` every layer also sees the digit's
class. Seven gated 3x3 layers see every past pixel of an 8x8 image (the
receptive field of :math:`L` layers reaches :math:`L` rows up and :math:`L`
columns aside). Loss: the negative log-likelihood in bits per dimension
(:func:`~lessons_lib.models.pixelcnn.bits_per_dim`). Training: AdamW with a
one-cycle learning rate (peak ``lr``), batches of ``batch_size`` training
images in an order drawn from ``(seed, epoch)``.

Headline: the test set's bits per dimension,

.. math:: \mathrm{bpd} = -\frac{1}{N_\mathrm{test}\, 64} \sum_{\mathbf x \in \mathrm{test}}
          \log_2 p_\theta(\mathbf x),

against two baselines that ignore the context: *uniform* (:math:`\log_2 17
\approx 4.09` bits) and *independent pixels*, one categorical per position
fitted on the training images with add-one smoothing
(:func:`~lessons_lib.models.pixelcnn.independent_pixel_logits`). Quick mode (one
CPU core, under a minute) must beat the independent-pixel baseline by at least
0.3 bits per dimension (:data:`TARGET_GAIN`).

Chapter: ``notebooks/07a_generative_pixelcnn.ipynb``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..models import pixelcnn
from ..train import fit, predict

__all__ = ["LEVELS", "SPLIT_SEED", "TARGET_GAIN", "Config", "CONFIGS", "Digits", "prepare", "collate", "build",
           "loss", "batches", "train", "image_bits", "evaluate"]

NAME = "pixelcnn_digits"
NOTEBOOK = "07a_generative_pixelcnn"
TITLE = "gated PixelCNN on scikit-learn's 8x8 digits (17 grey levels), bits per dimension"

#: Grey levels of ``load_digits``: 0..16.
LEVELS = 17
#: Seeds the one permutation that splits the images into training and test sets.
SPLIT_SEED = 0
#: Quick mode's asserted gain, bits per dimension below the independent-pixel baseline.
TARGET_GAIN = 0.3


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    arch : {"gated", "plain"}
        :class:`~lessons_lib.models.pixelcnn.GatedPixelCNN` or :class:`~lessons_lib.models.pixelcnn.PixelCNN`.
    channels : int
        Features per stack (gated) or between blocks (plain, even).
    n_layers : int
        Gated layers (gated), or residual blocks after the type-A layer (plain).
    kernel_size : int
        Odd, at least 3.
    conditional : bool
        Condition on the digit's class (gated only).
    test_fraction : float
        Share of the images held out for testing, in (0, 1).
    epochs, batch_size : int
    lr, weight_decay : float
        Peak learning rate of the one-cycle schedule and AdamW's weight decay.
    alpha : float
        Add-one (Laplace) smoothing of the independent-pixel baseline.
    seed : int
        Initialisation and batch order (the split has its own seed, :data:`SPLIT_SEED`).
    """

    arch: str = "gated"
    channels: int = 32
    n_layers: int = 7
    kernel_size: int = 3
    conditional: bool = False
    test_fraction: float = 0.2
    epochs: int = 10
    batch_size: int = 32
    lr: float = 3e-3
    weight_decay: float = 0.0
    alpha: float = 1.0
    seed: int = 0


#: Quick mode: under a minute on one CPU core; full mode: a wider, deeper network trained longer (a GPU).
CONFIGS = {
    "quick": Config(),
    "full": Config(channels=96, n_layers=12, epochs=120, batch_size=64, lr=1e-3),
}


@dataclass(frozen=True, eq=False)
class Digits:
    """The 8x8 digits and their fixed split.

    Attributes
    ----------
    images : LongTensor, shape (n, 8, 8)
        Grey levels 0..16.
    labels : LongTensor, shape (n,)
        The digit shown, 0..9.
    train, test : ndarray of int64
        Indices of the training and test images (disjoint, together all).
    """

    images: torch.Tensor
    labels: torch.Tensor
    train: np.ndarray
    test: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def _check(config: Config) -> None:
    if config.arch not in ("gated", "plain"):
        raise ValueError(f"arch must be 'gated' or 'plain', got {config.arch!r}")
    if config.conditional and config.arch == "plain":
        raise ValueError("conditional=True needs arch='gated' (the plain PixelCNN here is unconditional)")
    if not 0.0 < config.test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {config.test_fraction}")
    for name in ("lr", "alpha"):
        if not getattr(config, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(config, name)}")
    if config.weight_decay < 0:
        raise ValueError(f"weight_decay must be >= 0, got {config.weight_decay}")
    for name in ("epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")


def prepare(config: Config | None = None) -> Digits:
    """Load ``sklearn.datasets.load_digits`` and split it (once per process and ``test_fraction``).

    Raises
    ------
    ValueError
        If ``config.test_fraction`` is not in (0, 1).

    Examples
    --------
    >>> d = prepare()
    >>> d.images.shape, d.images.dtype, int(d.images.max()), len(d.train), len(d.test)
    (torch.Size([1797, 8, 8]), torch.int64, 16, 1438, 359)
    """
    config = config or Config()
    if not 0.0 < config.test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {config.test_fraction}")
    return _prepare(float(config.test_fraction))


@functools.lru_cache(maxsize=2)
def _prepare(test_fraction: float) -> Digits:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(np.rint(bunch.images).astype(np.int64))
    order = np.random.default_rng(SPLIT_SEED).permutation(len(images))
    n_test = round(test_fraction * len(images))
    return Digits(images, torch.as_tensor(bunch.target.astype(np.int64)), np.sort(order[n_test:]),
                  np.sort(order[:n_test]))


def collate(d: Digits, indices, conditional: bool = False) -> dict:
    """A batch ``{"x": (B, 8, 8) grey levels}``, and ``"y": (B,)`` classes when ``conditional``.

    Examples
    --------
    >>> b = collate(prepare(), [0, 5], conditional=True)
    >>> b["x"].shape, b["y"].tolist()
    (torch.Size([2, 8, 8]), [0, 5])
    """
    indices = torch.as_tensor(np.asarray(indices, dtype=np.int64))
    batch = {"x": d.images[indices]}
    if conditional:
        batch["y"] = d.labels[indices]
    return batch


def build(config: Config) -> torch.nn.Module:
    """The network, images in and ``(B, 17, 8, 8)`` logits out, seeded by ``config.seed`` (global state left alone).

    Raises
    ------
    ValueError
        For a setting out of range (see :class:`Config`) or sizes the network refuses.

    Examples
    --------
    >>> net = build(Config())
    >>> type(net).__name__, len(net.layers), net(torch.zeros(2, 8, 8, dtype=torch.long)).shape
    ('GatedPixelCNN', 7, torch.Size([2, 17, 8, 8]))
    >>> type(build(Config(arch="plain", n_layers=2))).__name__
    'PixelCNN'
    """
    _check(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.arch == "plain":
            return pixelcnn.PixelCNN(LEVELS, config.channels, config.n_layers, config.kernel_size)
        return pixelcnn.GatedPixelCNN(LEVELS, config.channels, config.n_layers, config.kernel_size,
                                      n_classes=10 if config.conditional else None)


def loss(model, batch: dict) -> torch.Tensor:
    """The batch's negative log-likelihood in bits per dimension (what training minimises).

    Examples
    --------
    >>> batch = collate(prepare(), [0, 1])
    >>> 3.5 < loss(build(Config()), batch).item() < 4.7  # about log2(17) = 4.09 at initialisation
    True
    """
    return pixelcnn.bits_per_dim(model(batch["x"], batch.get("y")), batch["x"])


def batches(config: Config, items):
    """The batches of every epoch, ``batches(config, items)(epoch)``: ``items`` shuffled by ``(seed, epoch)``.

    Examples
    --------
    >>> of_epoch = batches(Config(batch_size=2), [3, 4, 5])
    >>> [len(b) for b in of_epoch(0)], sorted(np.concatenate(of_epoch(0)).tolist())
    ([2, 1], [3, 4, 5])
    """
    items = np.asarray(items, dtype=np.int64)

    def of_epoch(epoch: int):
        order = np.random.default_rng((config.seed, epoch)).permutation(items)
        return [order[i : i + config.batch_size] for i in range(0, len(order), config.batch_size)]

    return of_epoch


def train(config: Config, d: Digits, items=None, *, model=None, device=None, checkpoint=None, resume: bool = False,
          progress: bool = True, time_budget: float | None = None):
    """Train on ``items`` (default: the training images); returns ``(model, history)``.

    Examples
    --------
    >>> model, history = train(Config(channels=4, n_layers=2, epochs=2, batch_size=50), prepare(),
    ...                        np.arange(100), device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    _check(config)
    items = d.train if items is None else np.asarray(items)
    model = build(config) if model is None else model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    of_epoch = batches(config, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    return model, fit(model, loss, of_epoch, collate=functools.partial(collate, d, conditional=config.conditional),
                      optimizer=optimizer, scheduler=scheduler, epochs=config.epochs, device=device, seed=config.seed,
                      checkpoint=checkpoint, resume=resume, progress=progress, time_budget=time_budget,
                      hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})


def image_bits(model, d: Digits, items, *, conditional: bool = False, device=None) -> np.ndarray:
    r"""Each image's negative log-likelihood in bits per dimension, :math:`-\log_2 p_\theta(\mathbf x) / 64`.

    Returns
    -------
    ndarray, shape (len(items),), float64

    Examples
    --------
    >>> bits = image_bits(build(Config()), prepare(), [0, 1, 2])
    >>> bits.shape, bool(np.all(bits > 0))
    ((3,), True)
    """
    def forward(m, batch):
        z = m(batch["x"], batch.get("y"))
        return F.cross_entropy(z.double(), batch["x"], reduction="none").mean((1, 2)) / math.log(2.0)

    return np.asarray(predict(model, forward, np.asarray(items), functools.partial(collate, d,
                                                                                  conditional=conditional),
                              batch_size=256, device=device), dtype=np.float64)


def evaluate(model, config: Config, d: Digits, *, device=None) -> dict:
    """Headline numbers: test bits/dim of the model, of the independent-pixel and the uniform baselines.

    Returns
    -------
    dict
        ``test bits/dim``, ``independent bits/dim``, ``uniform bits/dim``, ``gain over
        independent`` (independent minus model, bits/dim), ``test images``, ``parameters``.

    Examples
    --------
    >>> out = evaluate(build(Config()), Config(), prepare())
    >>> round(out["uniform bits/dim"], 4), out["test images"], round(out["independent bits/dim"], 4)
    (4.0875, 359, 2.4242)
    """
    test = d.test
    model_bits = image_bits(model, d, test, conditional=config.conditional, device=device)
    q = pixelcnn.independent_pixel_logits(d.images[d.train], LEVELS, config.alpha)
    x = d.images[test]
    independent = pixelcnn.bits_per_dim(q.expand(len(x), -1, -1, -1), x).item()
    out = {"test bits/dim": float(model_bits.mean()), "independent bits/dim": float(independent),
           "uniform bits/dim": math.log2(LEVELS)}
    out["gain over independent"] = out["independent bits/dim"] - out["test bits/dim"]
    out["test images"] = int(len(test))
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out

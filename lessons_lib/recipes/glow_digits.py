r"""Recipe: Glow (or RealNVP) on scikit-learn's 8x8 digits in bits per dimension, beside the PixelCNN (Chapter 7).

Data: the images and the fixed split of :mod:`lessons_lib.recipes.pixelcnn_digits` (the same
1,438 training and 359 test images of 17 grey levels), so the numbers compare with 07a's.

Dequantisation. A flow is a density on real numbers; the images are integers. Each grey
level :math:`x \in \{0, \dots, 16\}` becomes :math:`y = (x + u)/17 \in [0, 1)`, :math:`u \sim
U[0, 1)` (:func:`lessons_lib.models.flows.dequantize`), fresh noise for every batch; the flow's
first step is RealNVP's logit transform (:class:`~lessons_lib.models.flows.Logit`, ``alpha``),
whose log-determinant counts in the likelihood like every other step's. The flow's density of :math:`y` bounds the
probability of the integer image from below, :math:`\log P(\mathbf x) \ge \mathbb E_u[\log
p(\mathbf y)] - 64 \log 17`, and :func:`~lessons_lib.models.flows.bits_per_dim` reports that
bound in bits per dimension: the same unit, and the same uniform baseline (:math:`\log_2 17
\approx 4.09` bits), as the PixelCNN's exact discrete likelihood, so the flow's number is an
upper bound on its own discrete bits/dim and compares fairly (Theis et al., 2016). The test
score uses one dequantisation draw per image from a fixed seed.

Models: :func:`lessons_lib.models.flows.glow_image` (``levels`` levels of a squeeze and
``steps`` steps of ActNorm, LU 1x1 convolution, affine coupling, half the channels factored
out between levels) or :func:`~lessons_lib.models.flows.realnvp_image` (checkerboard and
channel couplings, squeeze, factor-out). Loss: bits per dimension as above. Training: Adam
with a one-cycle learning rate and gradient clipping (``clip``).

Headline: test bits/dim, beside the uniform and independent-pixel baselines of
``pixelcnn_digits``, and the time to draw one image (one pass of the inverse flow for a
whole batch, against the PixelCNN's 64 sequential passes; :func:`seconds_per_image`).

Chapter: ``notebooks/07d_flows.ipynb``.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..models import flows, pixelcnn
from ..train import fit
from . import pixelcnn_digits
from .pixelcnn_digits import LEVELS, Digits

__all__ = ["LEVELS", "EVAL_SEED", "Config", "CONFIGS", "prepare", "to_inputs", "to_images", "collate", "build",
           "loss", "batches", "train", "image_bits", "seconds_per_image", "evaluate"]

NAME = "glow_digits"
NOTEBOOK = "07d_flows"
TITLE = "Glow or RealNVP on scikit-learn's 8x8 digits (dequantised), bits per dimension"

#: Seeds the dequantisation noise of the test score.
EVAL_SEED = 1234


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    arch : {"glow", "realnvp"}
    levels : int
        Scales (each halves the resolution; 8x8 allows up to 3).
    steps : int
        Flow steps per level (Glow) or couplings per stage (RealNVP).
    hidden : int
        Channels of the coupling networks (3x3 convolutions).
    test_fraction : float
        As in ``pixelcnn_digits`` (the same split).
    epochs, batch_size : int
    lr : float
        Peak learning rate of the one-cycle schedule.
    clip : float
        Gradient-norm clipping.
    alpha : float
        The logit transform's :math:`\alpha`, in [0, 0.5); 0: no logit transform.
    seed : int
        Initialisation, batch order and training dequantisation noise.
    """

    arch: str = "glow"
    levels: int = 2
    steps: int = 4
    hidden: int = 32
    test_fraction: float = 0.2
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    clip: float = 50.0
    alpha: float = 0.05
    seed: int = 0


#: Quick mode: a small Glow, well under a minute on one CPU core; full mode: deeper, wider, longer (a GPU).
CONFIGS = {
    "quick": Config(),
    "full": Config(levels=2, steps=12, hidden=128, epochs=300, batch_size=64, lr=1e-3),
}


def _check(config: Config) -> None:
    if config.arch not in ("glow", "realnvp"):
        raise ValueError(f"arch must be 'glow' or 'realnvp', got {config.arch!r}")
    if not 1 <= config.levels <= 3:
        raise ValueError(f"levels must be 1, 2 or 3 for 8x8 images (each level halves the size), got {config.levels}")
    for name in ("steps", "hidden", "epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    if not 0 <= config.alpha < 0.5:
        raise ValueError(f"alpha must lie in [0, 0.5), got {config.alpha}")
    for name in ("lr", "clip"):
        if not getattr(config, name) > 0:
            raise ValueError(f"{name} must be > 0, got {getattr(config, name)}")


def prepare(config: Config | None = None) -> Digits:
    """The digits and their split, exactly ``pixelcnn_digits.prepare``'s.

    Examples
    --------
    >>> d = prepare()
    >>> len(d.train), len(d.test)
    (1438, 359)
    """
    config = config or Config()
    return pixelcnn_digits.prepare(pixelcnn_digits.Config(test_fraction=config.test_fraction))


def to_inputs(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Integer images ``(B, 8, 8)`` to the flow's input ``(B, 1, 8, 8)``: :math:`(x + u)/17`.

    Examples
    --------
    >>> y = to_inputs(torch.full((1, 8, 8), 16), torch.Generator().manual_seed(0))
    >>> y.shape, bool(y.min() >= 16 / 17), bool(y.max() < 1)
    (torch.Size([1, 1, 8, 8]), True, True)
    """
    return flows.dequantize(x, LEVELS, generator=generator).unsqueeze(1)


def to_images(y: torch.Tensor) -> torch.Tensor:
    """The flow's outputs ``(B, 1, 8, 8)`` back to grey levels ``(B, 8, 8)``: the bin each value falls in.

    Examples
    --------
    >>> to_images(torch.tensor([[[[-0.1, 0.5, 0.99, 3.0]]]])).tolist()  # out-of-range values are clipped
    [[[0, 8, 16, 16]]]
    """
    return torch.floor(y.squeeze(1) * LEVELS).clamp(0, LEVELS - 1).long()


def _generator(*seed) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence([int(s) for s in seed]).generate_state(1)[0]))


def collate(d: Digits, indices, seed: int = 0) -> dict:
    """A batch ``{"x": (B, 1, 8, 8) dequantised inputs}``; the noise is seeded by ``seed`` and the indices.

    Examples
    --------
    >>> a, b = collate(prepare(), [0, 5]), collate(prepare(), [0, 5])
    >>> a["x"].shape, bool(torch.equal(a["x"], b["x"]))
    (torch.Size([2, 1, 8, 8]), True)
    """
    indices = np.asarray(indices, dtype=np.int64)
    return {"x": to_inputs(d.images[torch.as_tensor(indices)], _generator(seed, *indices.tolist()))}


def build(config: Config) -> flows.MultiScaleFlow:
    """The flow for ``(B, 1, 8, 8)`` inputs, seeded by ``config.seed`` (global random state left alone).

    Examples
    --------
    >>> model = build(Config(steps=1, hidden=8))
    >>> model.input_shape, model.latent_shapes
    ((1, 8, 8), [(2, 4, 4), (8, 2, 2)])
    """
    _check(config)
    preprocess = flows.Logit(config.alpha) if config.alpha > 0 else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.arch == "realnvp":
            return flows.realnvp_image(1, 8, levels=config.levels, hidden_channels=config.hidden,
                                       couplings=config.steps, preprocess=preprocess)
        return flows.glow_image(1, 8, levels=config.levels, steps=config.steps, hidden_channels=config.hidden,
                                generator=torch.Generator().manual_seed(config.seed), preprocess=preprocess)


def loss(model, batch: dict) -> torch.Tensor:
    """The batch's mean bits per dimension (the dequantisation bound, :func:`~lessons_lib.models.flows.bits_per_dim`).

    Examples
    --------
    >>> batch = collate(prepare(), [0, 1])
    >>> model = build(Config(arch="realnvp", steps=1, hidden=8, alpha=0.0))  # a fresh RealNVP is the identity
    >>> bool(4.0875 + 0.5 * math.log2(2 * math.pi) < loss(model, batch).item() < 4.0875 + 1.55)
    True
    """
    z, log_det = model(batch["x"])
    return flows.bits_per_dim(flows.standard_normal_log_prob(z) + log_det, 64, LEVELS).mean()


def batches(config: Config, items):
    """The batches of every epoch: ``items`` shuffled by ``(seed, epoch)`` (as ``pixelcnn_digits.batches``).

    Examples
    --------
    >>> [len(b) for b in batches(Config(batch_size=2), [3, 4, 5])(0)]
    [2, 1]
    """
    return pixelcnn_digits.batches(pixelcnn_digits.Config(batch_size=config.batch_size, seed=config.seed), items)


def train(config: Config, d: Digits, items=None, *, model=None, device=None, checkpoint=None, resume: bool = False,
          progress: bool = True, time_budget: float | None = None):
    """Train on ``items`` (default: the training images); returns ``(model, history)``.

    Examples
    --------
    >>> model, history = train(Config(steps=1, hidden=4, epochs=2, batch_size=50), prepare(), np.arange(100),
    ...                        device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    _check(config)
    items = d.train if items is None else np.asarray(items)
    model = build(config) if model is None else model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    of_epoch = batches(config, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    return model, fit(model, loss, of_epoch, collate=functools.partial(collate, d, seed=config.seed),
                      optimizer=optimizer, scheduler=scheduler, clip=config.clip, epochs=config.epochs,
                      device=device, seed=config.seed, checkpoint=checkpoint, resume=resume, progress=progress,
                      time_budget=time_budget, hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})


@torch.no_grad()
def image_bits(model, d: Digits, items, *, device=None, seed: int = EVAL_SEED) -> np.ndarray:
    """Each image's bits per dimension (one dequantisation draw, seeded), shape (len(items),), float64.

    Examples
    --------
    >>> bits = image_bits(build(Config(steps=1, hidden=4)), prepare(), [0, 1, 2])
    >>> bits.shape
    (3,)
    """
    model.eval()
    p = next(model.parameters())
    device = p.device if device is None else device
    y = to_inputs(d.images[torch.as_tensor(np.asarray(items, dtype=np.int64))], _generator(seed))
    out = []
    for part in y.split(512):
        log_p = model.log_prob(part.to(device=device, dtype=p.dtype)).double().cpu()
        out.append(flows.bits_per_dim(log_p, 64, LEVELS))
    return torch.cat(out).numpy()


def seconds_per_image(sample, n: int = 64, repeats: int = 3) -> float:
    """Wall-clock seconds per image of ``sample(n)`` (the best of ``repeats`` calls, divided by ``n``).

    A CUDA result is waited for (``torch.cuda.synchronize``) before the clock stops.

    For a flow: ``lambda n: model.sample(n, generator=g)``; for the PixelCNN:
    ``lambda n: pixelcnn.sample(net, n, 8, 8, generator=g)``.

    Examples
    --------
    >>> seconds_per_image(lambda n: torch.zeros(n), n=4) >= 0
    True
    """
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = sample(n)
        if isinstance(out, torch.Tensor) and out.is_cuda:  # CUDA kernels run asynchronously: wait for them
            torch.cuda.synchronize(out.device)
        best = min(best, time.perf_counter() - start)
    return best / n


def evaluate(model, config: Config, d: Digits, *, device=None) -> dict:
    """Headline numbers: test bits/dim, the baselines of ``pixelcnn_digits``, seconds per sampled image.

    Returns
    -------
    dict
        ``test bits/dim``, ``train bits/dim``, ``independent bits/dim``, ``uniform bits/dim``,
        ``gain over independent``, ``seconds per image`` (a batch of 64, on the model's device),
        ``test images``, ``parameters``.

    Examples
    --------
    >>> out = evaluate(build(Config(steps=1, hidden=4)), Config(), prepare())
    >>> round(out["uniform bits/dim"], 4), round(out["independent bits/dim"], 4)
    (4.0875, 2.4242)
    """
    test_bits = image_bits(model, d, d.test, device=device)
    q = pixelcnn.independent_pixel_logits(d.images[d.train], LEVELS)
    x = d.images[d.test]
    independent = pixelcnn.bits_per_dim(q.expand(len(x), -1, -1, -1), x).item()
    p = next(model.parameters())
    g = torch.Generator(device=p.device).manual_seed(config.seed)
    model.eval()
    out = {"test bits/dim": float(test_bits.mean()),
           "train bits/dim": float(image_bits(model, d, d.train, device=device).mean()),
           "independent bits/dim": float(independent), "uniform bits/dim": math.log2(LEVELS)}
    out["gain over independent"] = out["independent bits/dim"] - out["test bits/dim"]
    out["seconds per image"] = seconds_per_image(lambda n: model.sample(n, generator=g))
    out["test images"] = int(len(d.test))
    out["parameters"] = sum(p.numel() for p in model.parameters())
    return out

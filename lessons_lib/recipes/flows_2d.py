r"""Recipe: RealNVP and Glow learn two-dimensional densities (two moons, circles), scored in nats (Chapter 7).

Data: scikit-learn's ``make_moons`` (two interleaving half circles) or ``make_circles``
(two concentric circles, the inner one half as large), each point moved by Gaussian noise of
standard deviation ``noise`` (0.05), generated offline from fixed seeds: :data:`DATA_SEEDS`
gives the training set (``n_train`` points) and the test set (``n_test`` points), two
independent draws. The coordinates are used as generated, so the numbers are densities of
scikit-learn's points themselves (a rescaling would add its log-determinant to every NLL).

Models: :func:`lessons_lib.models.flows.realnvp_2d` (affine couplings of alternating halves)
or :func:`~lessons_lib.models.flows.glow_2d` (ActNorm, invertible 1x1 convolution, coupling),
``couplings`` layers or steps, MLP networks of two hidden layers of ``hidden`` units. Loss:
the negative log-likelihood in nats per point,

.. math:: \mathcal L = -\frac1B \sum_{i=1}^{B} \Big(\log p_Z(f(\mathbf x_i))
          + \log\lvert\det \mathbf J_f(\mathbf x_i)\rvert\Big).

Training: Adam with a one-cycle learning rate (peak ``lr``), batches of ``batch_size`` points
in an order drawn from ``(seed, epoch)``. A non-finite loss (an overflowing log-determinant)
stops training with :class:`lessons_lib.train.NonFiniteLossError`.

Headline: the test NLL (nats per point) of the flow, beside two baselines fitted to the same
training points: a full-covariance Gaussian (the maximum-likelihood fit, which is what a flow
of affine maps alone could reach) and a Gaussian mixture (Chapter 2's
:class:`lessons_lib.gmm.GaussianMixture`, full covariances), whose number of components is
chosen among ``gmm_components`` by the log-likelihood of a held-out fifth of the training
points. Quick mode must reach a test NLL of at most :data:`TARGET_NLL` = 0.40 nats on two moons.
(A lower bound for reference: the noise alone has entropy :math:`\tfrac12\log(2\pi e\,0.05^2)
\approx -1.58` nats across the curve; with the length of the two half circles, :math:`2\pi`,
the density of two moons has an entropy near :math:`\log 2\pi - 1.58 \approx 0.26` nats.)

Chapter: ``notebooks/07d_flows.ipynb``.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..gmm import GaussianMixture
from ..models import flows
from ..train import fit
from . import pixelcnn_digits

__all__ = ["DATASETS", "DATA_SEEDS", "TARGET_NLL", "Config", "CONFIGS", "Points", "make_points", "prepare",
           "collate", "build", "loss", "batches", "train", "mean_nll", "gaussian_baseline", "gmm_baseline",
           "log_density_grid", "evaluate"]

NAME = "flows_2d"
NOTEBOOK = "07d_flows"
TITLE = "RealNVP and Glow on two moons and circles, test NLL against a Gaussian and a GMM"

#: The toy datasets.
DATASETS = ("moons", "circles")
#: Seeds of scikit-learn's generators: (training set, test set).
DATA_SEEDS = (0, 1)
#: Quick mode's asserted target: test NLL on two moons, nats per point.
TARGET_NLL = 0.40
#: Share of the training points held out to choose the GMM's number of components.
GMM_HELD_OUT = 0.2


@dataclass(frozen=True)
class Config:
    """Hyper-parameters of the recipe (quick and full sizes in ``CONFIGS``).

    Attributes
    ----------
    dataset : {"moons", "circles"}
    arch : {"realnvp", "glow"}
    noise : float
        Standard deviation of scikit-learn's noise.
    n_train, n_test : int
        Points drawn for training and for testing.
    hidden : int
        Units of each hidden layer of the coupling MLPs.
    couplings : int
        Coupling layers (RealNVP) or steps (Glow).
    epochs, batch_size : int
    lr : float
        Peak learning rate of the one-cycle schedule.
    gmm_components : tuple of int
        Candidate numbers of GMM components.
    seed : int
        Initialisation and batch order (the data have their own seeds, :data:`DATA_SEEDS`).
    """

    dataset: str = "moons"
    arch: str = "realnvp"
    noise: float = 0.05
    n_train: int = 20000
    n_test: int = 5000
    hidden: int = 64
    couplings: int = 8
    epochs: int = 25
    batch_size: int = 256
    lr: float = 3e-3
    gmm_components: tuple = (1, 2, 4, 8, 16, 32)
    seed: int = 0


#: Quick mode: about 2,000 steps (15-30 s on one CPU core); full mode: wider, deeper, longer (a GPU helps little).
CONFIGS = {
    "quick": Config(),
    "full": Config(hidden=128, couplings=12, epochs=200, batch_size=512, lr=1e-3,
                   gmm_components=(1, 2, 4, 8, 16, 32, 64, 128)),
}


@dataclass(frozen=True, eq=False)
class Points:
    """Training and test points of one toy dataset.

    Attributes
    ----------
    train, test : Tensor, shape (n, 2), float32
    dataset : str
    """

    train: torch.Tensor
    test: torch.Tensor
    dataset: str


def _check(config: Config) -> None:
    if config.dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {DATASETS}, got {config.dataset!r}")
    if config.arch not in ("realnvp", "glow"):
        raise ValueError(f"arch must be 'realnvp' or 'glow', got {config.arch!r}")
    if not config.noise >= 0:
        raise ValueError(f"noise must be >= 0, got {config.noise}")
    if not config.lr > 0:
        raise ValueError(f"lr must be > 0, got {config.lr}")
    for name in ("n_train", "n_test", "hidden", "couplings", "epochs", "batch_size"):
        if getattr(config, name) < 1:
            raise ValueError(f"{name} must be at least 1, got {getattr(config, name)}")
    if not config.gmm_components or any(int(k) < 1 for k in config.gmm_components):
        raise ValueError(f"gmm_components must be positive ints, got {config.gmm_components!r}")


def make_points(dataset: str, n: int, noise: float, seed: int) -> np.ndarray:
    """``n`` points of scikit-learn's two moons or circles (``factor=0.5``), float64, shape (n, 2).

    Raises
    ------
    ValueError
        An unknown ``dataset``.

    Examples
    --------
    >>> make_points("moons", 4, 0.0, 0).shape
    (4, 2)
    >>> bool(np.allclose(np.linalg.norm(make_points("circles", 100, 0.0, 0), axis=1).max(), 1.0))
    True
    """
    from sklearn.datasets import make_circles, make_moons

    if dataset == "moons":
        return make_moons(n, noise=noise, random_state=seed)[0]
    if dataset == "circles":
        return make_circles(n, noise=noise, factor=0.5, random_state=seed)[0]
    raise ValueError(f"dataset must be one of {DATASETS}, got {dataset!r}")


def prepare(config: Config | None = None) -> Points:
    """The training and test points of ``config.dataset`` (once per process and setting).

    Examples
    --------
    >>> d = prepare(Config(n_train=100, n_test=50))
    >>> d.train.shape, d.test.shape, d.train.dtype
    (torch.Size([100, 2]), torch.Size([50, 2]), torch.float32)
    """
    config = config or Config()
    _check(config)
    return _prepare(config.dataset, float(config.noise), int(config.n_train), int(config.n_test))


@functools.lru_cache(maxsize=4)
def _prepare(dataset: str, noise: float, n_train: int, n_test: int) -> Points:
    train = make_points(dataset, n_train, noise, DATA_SEEDS[0])
    test = make_points(dataset, n_test, noise, DATA_SEEDS[1])
    return Points(torch.as_tensor(train, dtype=torch.float32), torch.as_tensor(test, dtype=torch.float32), dataset)


def collate(d: Points, indices) -> dict:
    """A batch ``{"x": (B, 2) training points}``.

    Examples
    --------
    >>> collate(prepare(Config(n_train=10, n_test=5)), [0, 3])["x"].shape
    torch.Size([2, 2])
    """
    return {"x": d.train[torch.as_tensor(np.asarray(indices, dtype=np.int64))]}


def build(config: Config) -> flows.MultiScaleFlow:
    """The flow, seeded by ``config.seed`` (global random state left alone).

    Examples
    --------
    >>> model = build(Config(couplings=2, hidden=8))
    >>> model.dims, len(model.levels[0])
    (2, 2)
    >>> len(build(Config(arch="glow", couplings=2, hidden=8)).levels[0])  # ActNorm, 1x1, coupling per step
    6
    """
    _check(config)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        if config.arch == "realnvp":
            return flows.realnvp_2d(2, config.hidden, config.couplings)
        return flows.glow_2d(2, config.hidden, config.couplings, generator=torch.Generator().manual_seed(config.seed))


def loss(model, batch: dict) -> torch.Tensor:
    r"""The batch's negative log-likelihood, nats per point: :math:`-\frac1B\sum_i \log p_X(\mathbf x_i)`.

    Examples
    --------
    >>> batch = {"x": torch.zeros(3, 2)}
    >>> round(loss(build(Config(couplings=2, hidden=8)), batch).item(), 4)  # a fresh RealNVP is the identity
    1.8379
    """
    z, log_det = model(batch["x"])
    return -(flows.standard_normal_log_prob(z) + log_det).mean()


def batches(config: Config, items):
    """The batches of every epoch: ``items`` shuffled by ``(seed, epoch)`` (``pixelcnn_digits.batches``).

    Examples
    --------
    >>> of_epoch = batches(Config(batch_size=2), [3, 4, 5])
    >>> [len(b) for b in of_epoch(0)], sorted(np.concatenate(of_epoch(0)).tolist())
    ([2, 1], [3, 4, 5])
    """
    return pixelcnn_digits.batches(pixelcnn_digits.Config(batch_size=config.batch_size, seed=config.seed), items)


def train(config: Config, d: Points, items=None, *, model=None, device=None, checkpoint=None, resume: bool = False,
          progress: bool = True, time_budget: float | None = None):
    """Train on ``items`` (default: every training point); returns ``(model, history)``.

    Examples
    --------
    >>> config = Config(n_train=64, n_test=8, couplings=2, hidden=8, epochs=2, batch_size=32)
    >>> model, history = train(config, prepare(config), device="cpu", progress=False)
    >>> history.epochs, history.steps
    (2, 4)
    """
    _check(config)
    items = np.arange(len(d.train)) if items is None else np.asarray(items)
    model = build(config) if model is None else model
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    of_epoch = batches(config, items)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr,
                                                    total_steps=config.epochs * len(of_epoch(0)))
    return model, fit(model, loss, of_epoch, collate=functools.partial(collate, d), optimizer=optimizer,
                      scheduler=scheduler, epochs=config.epochs, device=device, seed=config.seed,
                      checkpoint=checkpoint, resume=resume, progress=progress, time_budget=time_budget,
                      hparams={"recipe": NAME, **asdict(config), "items": int(len(items))})


@torch.no_grad()
def mean_nll(model, x: torch.Tensor, *, device=None, batch_size: int = 4096) -> float:
    """The mean negative log-likelihood of points ``x`` (n, 2) under a flow, nats per point (float64 sum).

    Examples
    --------
    >>> round(mean_nll(build(Config(couplings=2, hidden=8)), torch.zeros(5, 2)), 4)  # -log N(0; 0, I)
    1.8379
    """
    model.eval()
    p = next(model.parameters())
    device = p.device if device is None else device
    total = 0.0
    for start in range(0, len(x), batch_size):
        part = x[start : start + batch_size].to(device=device, dtype=p.dtype)
        total += -model.log_prob(part).double().sum().item()
    return total / len(x)


def gaussian_baseline(d: Points) -> GaussianMixture:
    """The maximum-likelihood full-covariance Gaussian of the training points (a one-component GMM).

    Examples
    --------
    >>> g = gaussian_baseline(prepare(Config(n_train=200, n_test=10)))
    >>> g.n_components, g.means_.shape
    (1, (1, 2))
    """
    return GaussianMixture(1, covariance_type="full", random_state=0).fit(d.train.double().numpy())


def gmm_baseline(config: Config, d: Points) -> tuple[GaussianMixture, dict]:
    """Chapter 2's GMM, its number of components chosen by held-out log-likelihood.

    The last :data:`GMM_HELD_OUT` of the (already shuffled) training points are held out;
    a GMM with full covariances is fitted to the rest for every ``K`` in
    ``config.gmm_components`` (k-means initialisation, ``random_state=config.seed``), and the
    one with the highest held-out mean log-likelihood is returned.

    Returns
    -------
    gmm : GaussianMixture
    held_out : dict
        ``{K: held-out mean log-likelihood}`` for every candidate.

    Examples
    --------
    >>> config = Config(n_train=400, n_test=10, gmm_components=(1, 8))
    >>> gmm, scores = gmm_baseline(config, prepare(config))
    >>> gmm.n_components, sorted(scores)
    (8, [1, 8])
    """
    x = d.train.double().numpy()
    n_fit = len(x) - int(round(GMM_HELD_OUT * len(x)))
    fitted, scores = {}, {}
    for k in sorted({int(k) for k in config.gmm_components}):
        if k > n_fit:
            continue
        fitted[k] = GaussianMixture(k, covariance_type="full", max_iter=200, random_state=config.seed).fit(x[:n_fit])
        scores[k] = float(fitted[k].score(x[n_fit:]))
    best = max(scores, key=scores.get)
    return fitted[best], scores


@torch.no_grad()
def log_density_grid(log_prob, xlim=(-1.5, 2.5), ylim=(-1.0, 1.5), n: int = 200) -> tuple[np.ndarray, ...]:
    """A log-density on an ``n`` x ``n`` grid, for heat maps.

    Parameters
    ----------
    log_prob : callable or flow
        A flow (its ``log_prob``) or a function ``(m, 2) ndarray -> (m,) log-densities`` (a GMM's
        ``score_samples``).
    xlim, ylim : (float, float)
    n : int

    Returns
    -------
    xs, ys : ndarray, shape (n,)
    log_p : ndarray, shape (n, n)
        ``log_p[i, j]`` at ``(xs[j], ys[i])`` (rows are y, as ``imshow`` wants).

    Examples
    --------
    >>> xs, ys, log_p = log_density_grid(gaussian_baseline(prepare(Config(n_train=100))).score_samples, n=5)
    >>> log_p.shape
    (5, 5)
    """
    xs, ys = np.linspace(*xlim, n), np.linspace(*ylim, n)
    points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    if isinstance(log_prob, torch.nn.Module):
        p = next(log_prob.parameters())
        log_prob.eval()
        values = log_prob.log_prob(torch.as_tensor(points, dtype=p.dtype, device=p.device)).double().cpu().numpy()
    else:
        values = np.asarray(log_prob(points), dtype=np.float64)
    return xs, ys, values.reshape(n, n)


def evaluate(model, config: Config, d: Points, *, device=None) -> dict:
    """Headline numbers: test NLL (nats per point) of the flow, the Gaussian and the chosen GMM.

    Returns
    -------
    dict
        ``test NLL``, ``train NLL``, ``gaussian test NLL``, ``gmm test NLL``, ``gmm components``,
        ``test points``, ``parameters``.

    Examples
    --------
    >>> config = Config(n_train=300, n_test=100, couplings=2, hidden=8, gmm_components=(1, 4))
    >>> out = evaluate(build(config), config, prepare(config))
    >>> round(out["test NLL"], 2) > out["gaussian test NLL"] > out["gmm test NLL"]  # untrained, fitted, fitted
    True
    """
    gaussian = gaussian_baseline(d)
    gmm, _ = gmm_baseline(config, d)
    test = d.test.double().numpy()
    return {"test NLL": mean_nll(model, d.test, device=device), "train NLL": mean_nll(model, d.train, device=device),
            "gaussian test NLL": float(-gaussian.score(test)), "gmm test NLL": float(-gmm.score(test)),
            "gmm components": int(gmm.n_components), "test points": int(len(d.test)),
            "parameters": sum(p.numel() for p in model.parameters())}

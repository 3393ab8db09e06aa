"""Run configuration: the quick/full switch, the compute device, and seeding.

Every notebook of the course runs in one of two modes:

``quick``
    small models and few epochs, so that the notebook finishes in a few
    minutes on a 2-core CPU. This is what CI and the book build run.
``full``
    the real configurations, meant for a GPU.

The mode is chosen once, in one place: the environment variable
``LESSONS_MODE`` (``quick`` or ``full``) if it is set, otherwise ``full`` when
a CUDA GPU is visible to torch and ``quick`` when it is not. Notebooks read it
through :func:`mode` or pick a value per mode with :func:`by_mode`.

"Full" means *bigger where it helps*. A notebook whose computation runs in
NumPy on the CPU (the GMMs of Chapter 2, the GMM-HMMs of Chapter 3) gains
nothing from a GPU, so it passes ``gpu_helps=False``: it then runs its full
configuration only when ``LESSONS_MODE=full`` asks for it, and stays quick on
a Colab GPU runtime.

Chapter: every notebook (the switch is introduced in
``notebooks/00_getting_started.ipynb``).
"""

from __future__ import annotations

import os
import random
from typing import TypeVar

import numpy as np

__all__ = ["MODES", "mode", "is_full", "by_mode", "cuda_available", "device", "seed_everything"]

#: The two run modes, in order of size.
MODES = ("quick", "full")

T = TypeVar("T")


def cuda_available() -> bool:
    """Whether torch is installed and sees a CUDA GPU.

    Returns
    -------
    bool
        ``False`` when torch is not installed, so that the data and signal
        chapters work without it.

    Examples
    --------
    >>> isinstance(cuda_available(), bool)
    True
    """
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def mode(*, gpu_helps: bool = True) -> str:
    """The run mode, ``"quick"`` or ``"full"``.

    ``LESSONS_MODE`` wins when it is set; otherwise the mode is ``"full"``
    exactly when ``gpu_helps`` and :func:`cuda_available` are both true.

    Parameters
    ----------
    gpu_helps : bool, default True
        Whether the notebook's full configuration runs on a GPU. ``False``
        for NumPy-only notebooks: a GPU does not make them faster, so seeing
        one is no reason to run their long configuration.

    Returns
    -------
    str
        One of :data:`MODES`.

    Raises
    ------
    ValueError
        If ``LESSONS_MODE`` is set to anything but ``quick`` or ``full``.
    TypeError
        If ``gpu_helps`` is not a bool.

    Examples
    --------
    >>> mode() in MODES
    True
    >>> import os
    >>> "LESSONS_MODE" in os.environ or mode(gpu_helps=False) == "quick"
    True
    """
    if not isinstance(gpu_helps, bool):
        raise TypeError(f"gpu_helps must be True or False, got {type(gpu_helps).__name__}")
    value = os.environ.get("LESSONS_MODE", "").strip().lower()
    if value:
        if value not in MODES:
            raise ValueError(
                f"LESSONS_MODE must be one of {MODES}, got {os.environ['LESSONS_MODE']!r}"
            )
        return value
    return "full" if gpu_helps and cuda_available() else "quick"


def is_full(*, gpu_helps: bool = True) -> bool:
    """``True`` in full mode, ``False`` in quick mode (see :func:`mode`).

    Examples
    --------
    >>> isinstance(is_full(), bool)
    True
    """
    return mode(gpu_helps=gpu_helps) == "full"


def by_mode(quick: T, full: T, *, gpu_helps: bool = True) -> T:
    """Pick the value for the current mode.

    Parameters
    ----------
    quick : object
        The value to use in quick mode (CPU, CI).
    full : object
        The value to use in full mode.
    gpu_helps : bool, default True
        As in :func:`mode`.

    Returns
    -------
    object
        ``full`` if :func:`is_full`, else ``quick``.

    Examples
    --------
    >>> n_epochs = by_mode(quick=2, full=50)
    >>> n_epochs == (50 if is_full() else 2)
    True
    """
    return full if is_full(gpu_helps=gpu_helps) else quick


def device(prefer: str | None = None):
    """The torch device the notebooks compute on.

    Parameters
    ----------
    prefer : {"cpu", "cuda"} or None
        Ask for a device explicitly. ``None`` reads ``LESSONS_DEVICE``, and if
        that is unset too, picks ``cuda`` when available and ``cpu`` otherwise.

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If the requested device is neither ``cpu`` nor ``cuda`` (``cuda:N``
        is accepted).
    RuntimeError
        If ``cuda`` is requested but no CUDA GPU is visible.

    Examples
    --------
    >>> device("cpu")
    device(type='cpu')
    """
    import torch

    source = "prefer"
    if prefer is None:
        prefer = os.environ.get("LESSONS_DEVICE") or None
        source = "LESSONS_DEVICE"
    if prefer is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(prefer, str):
        raise TypeError(f"{source} must be a string such as 'cpu' or 'cuda', got {type(prefer).__name__}")
    name = prefer.strip().lower()
    if name != "cpu" and name != "cuda" and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ValueError(f"{source} must be 'cpu', 'cuda' or 'cuda:N', got {prefer!r}")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(
            f"{source}={prefer!r} asks for a CUDA GPU, but torch sees none; "
            "use 'cpu' or run on a machine with a GPU (in Colab: Runtime > Change runtime type)"
        )
    return torch.device(name)


def seed_everything(seed: int, *, deterministic: bool = True) -> np.random.Generator:
    """Seed Python, NumPy and torch so that a notebook reruns identically.

    This is the one place where the course touches global random state: a
    notebook calls it once at the top. Library functions never do; they take
    the returned generator (or a :class:`torch.Generator`) explicitly.

    Parameters
    ----------
    seed : int
        A non-negative integer below ``2**32``.
    deterministic : bool, default True
        Also ask torch for deterministic kernels
        (``torch.use_deterministic_algorithms(True, warn_only=True)``,
        cuDNN benchmarking off), which makes GPU runs repeatable at a small
        cost in speed.

    Returns
    -------
    numpy.random.Generator
        ``numpy.random.default_rng(seed)``, to pass on as ``rng``.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (``bool`` is rejected too).
    ValueError
        If ``seed`` is negative or not below ``2**32``.

    Examples
    --------
    >>> rng = seed_everything(0)
    >>> a = rng.random()
    >>> seed_everything(0).random() == a
    True
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    seed = int(seed)
    if not 0 <= seed < 2**32:
        raise ValueError(f"seed must be in [0, 2**32), got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    try:
        import torch
    except ImportError:
        torch = None
    if torch is not None:
        torch.manual_seed(seed)  # seeds every CUDA device too
        if deterministic:
            # cuBLAS needs this set before its first use to be deterministic.
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            torch.backends.cudnn.deterministic = True
    return np.random.default_rng(seed)

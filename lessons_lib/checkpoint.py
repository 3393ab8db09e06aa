"""Checkpoints that survive a crash: tensors in safetensors, everything else as JSON, written atomically.

A checkpoint is one ``.safetensors`` file. Its tensors are the model's
``state_dict`` (keys ``model/<name>``) and every tensor found in the optimizer's
and scheduler's state and in the training state (keys ``optimizer/<n>``,
``scheduler/<n>``, ``state/<n>``). Everything that is not a tensor (learning
rates, step counts, the hyper-parameters, the history so far) is stored as JSON
in the file's metadata, with each tensor replaced by a reference to its key.
Nothing is pickled, so loading a checkpoint cannot run code, and a file
written by one version of torch loads in another.

Two guards make a checkpoint trustworthy:

* **Atomic writes.** The file is written under a temporary name in the same
  folder, flushed to disk, and then renamed over the old one
  (:func:`os.replace`). A crash, a full disk or a killed job leaves either
  the previous checkpoint or the new one, never half of one.
* **A checksum.** The metadata holds the SHA-256 of every tensor's bytes and
  of the JSON beside them. A truncated or corrupted file, or one that is not a
  checkpoint of this library, raises :class:`CheckpointError` with the
  reason, never a deep traceback from inside a deserialiser.

A dict whose only key is ``"__tensor__"``, ``"__items__"`` or ``"__tuple__"``
is reserved for the encoding above and cannot be stored as itself.

Chapter: ``notebooks/04c_lstm_digits.ipynb`` (first used, through
:func:`lessons_lib.train.fit`); every trained model of Chapters 4 to 7.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

__all__ = ["FORMAT", "CheckpointError", "Checkpoint", "save_checkpoint", "load_checkpoint"]

#: The format tag every checkpoint carries in its metadata.
FORMAT = "lessons_lib.checkpoint/1"


class CheckpointError(ValueError):
    """A file is not a readable checkpoint, or does not fit the model or run it is loaded into."""


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` read besides the weights.

    Attributes
    ----------
    path : pathlib.Path
        The file.
    model : str
        The class name of the model that was saved (e.g. ``"LSTMClassifier"``).
    hparams : dict
        The hyper-parameters saved with it (JSON values).
    state : dict
        The training state saved with it (epoch, history, random-number states);
        tensors in it are restored as tensors.
    """

    path: Path
    model: str
    hparams: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)


# --- nested state <-> JSON + tensors ------------------------------------------------------

def _flatten(value, prefix: str, tensors: dict):
    """JSON-able copy of ``value`` with every tensor moved into ``tensors`` under ``prefix/<n>``."""
    if isinstance(value, torch.Tensor):
        key = f"{prefix}/{len([k for k in tensors if k.startswith(prefix + '/')])}"
        tensors[key] = value.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: _flatten(v, prefix, tensors) for k, v in value.items()}
        return {"__items__": [[_flatten(k, prefix, tensors), _flatten(v, prefix, tensors)]
                              for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_flatten(v, prefix, tensors) for v in value]}
    if isinstance(value, list):
        return [_flatten(v, prefix, tensors) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # a NumPy scalar
        return value.item()
    raise CheckpointError(
        f"cannot store a {type(value).__name__} in a checkpoint (under {prefix!r}): only tensors, "
        "numbers, strings, None, and lists, tuples and dicts of them"
    )


def _unflatten(value, tensors: dict):
    if isinstance(value, dict):
        if set(value) == {"__tensor__"}:
            return tensors[value["__tensor__"]]
        if set(value) == {"__items__"}:
            return {_unflatten(k, tensors): _unflatten(v, tensors) for k, v in value["__items__"]}
        if set(value) == {"__tuple__"}:
            return tuple(_unflatten(v, tensors) for v in value["__tuple__"])
        return {k: _unflatten(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_unflatten(v, tensors) for v in value]
    return value


def _digest(tensors: dict, *texts: str) -> str:
    """SHA-256 over ``texts`` (the JSON metadata) and the keys, dtypes, shapes and bytes of ``tensors``."""
    h = hashlib.sha256()
    for text in texts:
        h.update(text.encode() + b"\0")
    for key in sorted(tensors):
        t = tensors[key]
        h.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def _model_name(model) -> str:
    return type(_unwrap(model)).__name__


def _unwrap(model):
    return getattr(model, "module", model) if isinstance(
        model, torch.nn.parallel.DistributedDataParallel) else model


# --- public API ---------------------------------------------------------------------------

def save_checkpoint(path, model, *, optimizer=None, scheduler=None, hparams=None, state=None) -> Path:
    """Write a model (and optionally its optimizer, scheduler and training state) atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write (conventionally ``*.safetensors``); its folder is created.
    model : torch.nn.Module
        Its ``state_dict`` is saved (a ``DistributedDataParallel`` wrapper is unwrapped).
    optimizer : torch.optim.Optimizer, optional
    scheduler : torch.optim.lr_scheduler.LRScheduler, optional
    hparams : dict, optional
        Hyper-parameters (JSON values): checked when the checkpoint is resumed.
    state : dict, optional
        Training state: numbers, strings, lists, dicts and tensors.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    TypeError
        If ``model`` is not a ``torch.nn.Module``.
    CheckpointError
        If ``hparams`` or ``state`` hold something that is neither a tensor nor JSON.

    Examples
    --------
    >>> import tempfile, torch
    >>> net = torch.nn.Linear(3, 2)
    >>> path = save_checkpoint(Path(tempfile.mkdtemp()) / "net.safetensors", net, hparams={"n_in": 3})
    >>> copy = torch.nn.Linear(3, 2)
    >>> load_checkpoint(path, copy).hparams
    {'n_in': 3}
    >>> torch.equal(copy.weight, net.weight)
    True
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    path = Path(path)
    tensors = {f"model/{k}": v.detach().to("cpu").contiguous().clone()
               for k, v in _unwrap(model).state_dict().items()}
    meta = {
        "hparams": _flatten(dict(hparams or {}), "hparams", tensors),
        "optimizer": None if optimizer is None else _flatten(optimizer.state_dict(), "optimizer", tensors),
        "scheduler": None if scheduler is None else _flatten(scheduler.state_dict(), "scheduler", tensors),
        "state": _flatten(dict(state or {}), "state", tensors),
    }
    metadata = {"format": FORMAT, "model": _model_name(model), "meta": json.dumps(meta)}
    metadata["sha256"] = _digest(tensors, metadata["model"], metadata["meta"])
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, str(temporary), metadata=metadata)
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def _read(path: Path):
    from safetensors import safe_open

    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as err:  # safetensors raises its own error types for bad headers and short files
        raise CheckpointError(f"{path} is not a readable checkpoint (truncated or corrupted?): {err}") from None
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a lessons_lib checkpoint "
                              f"(format {metadata.get('format')!r}, expected {FORMAT!r})")
    if _digest(tensors, metadata.get("model", ""), metadata.get("meta", "")) != metadata.get("sha256"):
        raise CheckpointError(f"{path} is corrupted: its contents do not match the checksum written with them")
    try:
        meta = json.loads(metadata["meta"])
    except (KeyError, ValueError) as err:
        raise CheckpointError(f"{path} is corrupted: unreadable metadata ({err})") from None
    return metadata["model"], meta, tensors


def load_checkpoint(path, model=None, *, optimizer=None, scheduler=None, hparams=None) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` into a model, optimizer and scheduler.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    model : torch.nn.Module, optional
        Receives the weights (on whatever device it is). It must be the same class
        with the same parameter names and shapes.
    optimizer, scheduler : optional
        Receive their saved state; asking for one that was not saved is an error.
    hparams : dict, optional
        If given, must equal the saved hyper-parameters (a resumed run must be the
        same run).

    Returns
    -------
    Checkpoint
        The model's class name, the hyper-parameters and the training state.

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    CheckpointError
        If the file is truncated, corrupted or not a checkpoint, if it holds another
        model (a different class, parameter names or shapes), if the optimizer or
        scheduler state asked for is missing, or if ``hparams`` differ.

    Examples
    --------
    >>> import tempfile, torch
    >>> path = save_checkpoint(Path(tempfile.mkdtemp()) / "a.safetensors", torch.nn.Linear(3, 2))
    >>> load_checkpoint(path, torch.nn.Linear(3, 4))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    lessons_lib.checkpoint.CheckpointError: /...a.safetensors holds a Linear whose parameters do not fit the model given: weight: saved (2, 3), model (4, 3); bias: saved (2,), model (4,)
    """
    path = Path(path)
    saved_model, meta, tensors = _read(path)
    if hparams is not None:
        saved = _unflatten(meta["hparams"], tensors)
        scratch = {}
        given = _unflatten(json.loads(json.dumps(_flatten(dict(hparams), "hparams", scratch))), scratch)
        if given != saved:  # both as the file stores them: tuples stay tuples, NumPy scalars become numbers
            changed = sorted((k for k in set(saved) | set(given) if saved.get(k) != given.get(k)), key=str)
            raise CheckpointError(f"{path} was written with other hyper-parameters; differing: " + ", ".join(
                f"{k}: saved {saved.get(k)!r}, now {given.get(k)!r}" for k in changed))
    if model is not None:
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
        module = _unwrap(model)
        weights = {k[len("model/"):]: v for k, v in tensors.items() if k.startswith("model/")}
        if type(module).__name__ != saved_model:
            raise CheckpointError(f"{path} holds a {saved_model}, not a {type(module).__name__}")
        own = module.state_dict()
        problems = [f"{k}: saved {tuple(weights[k].shape)}, model {tuple(own[k].shape)}"
                    for k in own if k in weights and weights[k].shape != own[k].shape]
        problems += [f"missing {k}" for k in own if k not in weights]
        problems += [f"unexpected {k}" for k in weights if k not in own]
        if problems:
            raise CheckpointError(f"{path} holds a {saved_model} whose parameters do not fit the model given: "
                                  + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else ""))
        module.load_state_dict(weights)
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler)):
        if target is None:
            continue
        if meta[name] is None:
            raise CheckpointError(f"{path} holds no {name} state")
        try:
            target.load_state_dict(_unflatten(meta[name], tensors))
        except (ValueError, KeyError, IndexError) as err:
            raise CheckpointError(f"{path} holds {name} state that does not fit the {name} given "
                                  f"({type(target).__name__}): {err}") from None
    return Checkpoint(path=path, model=saved_model, hparams=_unflatten(meta["hparams"], tensors),
                      state=_unflatten(meta["state"], tensors))

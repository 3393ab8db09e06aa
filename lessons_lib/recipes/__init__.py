"""Recipes: every trained model of the course as data, model, loss and its quick and full configurations.

A recipe is one small module per trained model. It holds the model's
hyper-parameters (a frozen ``Config`` dataclass and ``CONFIGS = {"quick": ...,
"full": ...}``) and the functions that a notebook and the command line share:

==================  =====================================================
function            what it does
==================  =====================================================
``prepare(config)`` load the data and compute its features (once per process)
``build(config)``   the model, initialised from ``config.seed``
``loss``            ``loss(model, batch) -> Tensor``, what :func:`~lessons_lib.train.fit` minimises
``train(config, data, ...)``  a fresh model trained with :func:`~lessons_lib.train.fit`
``evaluate(model, config, data)``  the headline numbers, as a dict
==================  =====================================================

====================  =====================================================
module                the model (chapter)
====================  =====================================================
``lstm_digits``       the LSTM digit classifier on MFCC frames (4)
``ctc_digits``        the BiLSTM-CTC recogniser of connected digits (5)
``cnn_fsdd``          CNN digit classifiers on log-mel images: the baseline CNN,
                      and through ``PRESETS`` AlexNet, VGG, GoogLeNet, ResNet,
                      DenseNet and SqueezeNet (``resnet_fsdd``, ...) (6)
``sincnet_fsdd``      SincNet speaker identification from 200 ms chunks of raw
                      audio, text-independent; the plain-CNN front end and
                      MFCC + GMM speaker models to compare (6)
``ast_fsdd``          a small Audio Spectrogram Transformer on log-mel patches (6)
``wav2vec2_digits``   wav2vec 2.0 pre-trained without transcripts on connected
                      digits, probed and fine-tuned with CTC (6)
``pixelcnn_digits``   a gated PixelCNN on scikit-learn's 8x8 digits, bits per
                      dimension against independent pixels (7)
``wavenet_fsdd``      a WaveNet on FSDD's raw audio, bits per sample against the
                      marginal distribution; unconditional or speaker-conditioned (7)
``wavenet_vocoder``   the WaveNet vocoder on FSDD's 40-band log-mels, scored (LSD, PESQ-NB,
                      STOI) against Griffin-Lim at the same mel (7)
``flows_2d``          RealNVP and Glow on two moons and circles, test NLL in nats
                      against a full-covariance Gaussian and Chapter 2's GMM (7)
``glow_digits``       Glow or RealNVP on the 8x8 digits of ``pixelcnn_digits``,
                      dequantised, in bits per dimension beside the PixelCNN (7)
``flow_vocoder``      WaveGlow or FloWaveNet (``model=``; the preset ``flowavenet_fsdd``) on
                      the same log-mels: NLL in nats per sample, scores at temperatures
                      sigma against Griffin-Lim (7)
``parallel_wavenet``  a Gaussian WaveNet teacher and an IAF student distilled from it
                      (KL + power loss) on the same log-mels; LSD and samples/s (7)
====================  =====================================================

A notebook's full mode and the command line run the same code::

    python -m lessons_lib.train --help                        # lists the recipes
    python -m lessons_lib.train lstm_digits --mode quick      # train, checkpoint, evaluate
    python -m lessons_lib.train lstm_digits --resume          # continue from the checkpoint
    torchrun --nproc_per_node=4 -m lessons_lib.train ctc_digits --mode full   # 4 GPUs, DDP
    make full                                                 # every recipe, full mode, results JSON

Chapter: ``notebooks/04c_lstm_digits.ipynb``, ``notebooks/05b_ctc_digits.ipynb`` and
``notebooks/06b_cnn_classifiers.ipynb`` (each trains its recipes); the "Results" page of the
book shows their numbers.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

__all__ = ["RECIPES", "PRESETS", "get", "preset_settings", "config_for", "run", "hardware", "device_slug", "main"]

#: Every recipe: name -> (chapter, one line).
RECIPES = {
    "lstm_digits": (4, "LSTM digit classifier: FSDD isolated digits, MFCC frames (notebook 04c)"),
    "ctc_digits": (5, "BiLSTM-CTC recogniser: FSDD connected digits, stacked MFCC frames (notebook 05b)"),
    "cnn_fsdd": (6, "baseline CNN digit classifier: FSDD isolated digits, log-mel images (notebook 06b)"),
    "alexnet_fsdd": (6, "AlexNet on FSDD log-mel images (notebook 06b)"),
    "vgg_fsdd": (6, "VGG-11 with batch norm on FSDD log-mel images (notebook 06b)"),
    "googlenet_fsdd": (6, "GoogLeNet (Inception v1) on FSDD log-mel images (notebook 06b)"),
    "resnet_fsdd": (6, "ResNet-18 on FSDD log-mel images (notebooks 06b, 06c)"),
    "resnet_fsdd_loso": (6, "ResNet-18, augmented, leave-one-speaker-out: one run per held-out speaker "
                            "(notebook 06c)"),
    "densenet_fsdd": (6, "DenseNet-121 on FSDD log-mel images (notebook 06b)"),
    "squeezenet_fsdd": (6, "SqueezeNet 1.1 on FSDD log-mel images (notebook 06b)"),
    "sincnet_fsdd": (6, "SincNet speaker identification: FSDD's six speakers, text-independent (notebook 06d)"),
    "ast_fsdd": (6, "Audio Spectrogram Transformer on FSDD log-mel patches (notebook 06f)"),
    "wav2vec2_digits": (6, "wav2vec 2.0 pre-trained without labels on FSDD connected digits, linear probe, "
                           "CTC fine-tuning (notebook 06e)"),
    "pixelcnn_digits": (7, "gated PixelCNN on scikit-learn's 8x8 digits, bits per dimension (notebook 07a)"),
    "wavenet_fsdd": (7, "WaveNet on FSDD's raw 8 kHz audio, bits per sample, optionally speaker-conditioned "
                        "(notebook 07b)"),
    "wavenet_vocoder": (7, "WaveNet vocoder on FSDD's 40-band log-mels, against Griffin-Lim at the same mel "
                           "(notebook 07c)"),
    "flows_2d": (7, "RealNVP or Glow (--set arch=glow) on two moons or circles (--set dataset=circles), test NLL "
                    "against a Gaussian and a GMM (notebook 07d)"),
    "glow_digits": (7, "Glow or RealNVP (--set arch=realnvp) on scikit-learn's 8x8 digits, bits per dimension "
                       "(notebook 07d)"),
    "flow_vocoder": (7, "WaveGlow (or FloWaveNet: --set model=flowavenet) on FSDD's 40-band log-mels (notebook 07e)"),
    "flowavenet_fsdd": (7, "FloWaveNet on FSDD's 40-band log-mels (notebook 07e)"),
    "parallel_wavenet": (7, "Parallel WaveNet: Gaussian WaveNet teacher, IAF student distilled on FSDD's 40-band "
                            "log-mels (notebook 07f)"),
}


#: Recipes that are a preset of another recipe's module: name -> (module, settings it fixes). Settings under
#: the key "quick" or "full" apply in that mode only (see :func:`preset_settings`).
PRESETS: dict[str, tuple[str, dict]] = {
    "alexnet_fsdd": ("cnn_fsdd", {"arch": "alexnet"}),
    "vgg_fsdd": ("cnn_fsdd", {"arch": "vgg11_bn"}),
    "googlenet_fsdd": ("cnn_fsdd", {"arch": "googlenet"}),
    "resnet_fsdd": ("cnn_fsdd", {"arch": "resnet18"}),
    "densenet_fsdd": ("cnn_fsdd", {"arch": "densenet121"}),
    "squeezenet_fsdd": ("cnn_fsdd", {"arch": "squeezenet1_1"}),
    # Quick mode holds out the two speakers that were hardest for the quick networks, and gives every fold
    # five epochs; full mode holds out each of the six in turn.
    "resnet_fsdd_loso": ("cnn_fsdd", {"arch": "resnet18", "augment": True, "split": "loso",
                                      "quick": {"split": "loso:george,nicolas", "epochs": 5}}),
    # `make full` trains both flow vocoders of notebook 07e.
    "flowavenet_fsdd": ("flow_vocoder", {"model": "flowavenet"}),
}


def get(name: str):
    """The recipe module behind ``name`` (for a preset, the module it is a preset of).

    Raises
    ------
    ValueError
        If there is no such recipe; the message lists the recipes there are.

    Examples
    --------
    >>> get("lstm_digits").NAME
    'lstm_digits'
    >>> get("lstm")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: no recipe 'lstm'; the recipes are: lstm_digits, ctc_digits, cnn_fsdd, ...
    """
    if name not in RECIPES:
        raise ValueError(f"no recipe {name!r}; the recipes are: {', '.join(RECIPES)}")
    return importlib.import_module(f"{__name__}.{PRESETS.get(name, (name, {}))[0]}")


def preset_settings(name: str, mode: str = "quick") -> dict:
    """The settings the recipe ``name`` fixes in ``mode``: a preset's own, then its ``mode`` ones; {} for a module.

    Examples
    --------
    >>> preset_settings("resnet_fsdd")
    {'arch': 'resnet18'}
    >>> preset_settings("resnet_fsdd_loso", "full")["split"], preset_settings("resnet_fsdd_loso")["split"]
    ('loso', 'loso:george,nicolas')
    """
    settings = dict(PRESETS.get(name, (name, {}))[1])
    per_mode = {m: settings.pop(m, {}) for m in ("quick", "full")}
    return settings | per_mode.get(mode, {})


def _parse_value(text: str, default):
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ValueError(f"expected true or false, got {text!r}")
        return text.lower() in ("true", "1")
    if isinstance(default, tuple):  # comma-separated, each item of the type of the default's items
        items = [item.strip() for item in text.split(",") if item.strip()]
        if default:
            return tuple(type(default[0])(item) for item in items)
        return tuple(int(item) if item.lstrip("-").isdigit() else float(item) for item in items)  # numbers
    return type(default)(text)


def config_for(recipe, mode: str = "quick", overrides=None):
    """The recipe's configuration for ``mode``, with ``overrides`` (``"name=value"`` strings or a dict).

    ``recipe`` is a recipe's name (a preset's settings are applied before the
    overrides) or its module.

    Raises
    ------
    ValueError
        If ``mode`` is not quick or full, or an override names no field or has a bad value.

    Examples
    --------
    >>> config_for("lstm_digits", "quick", ["epochs=2"]).epochs
    2
    >>> config_for(get("lstm_digits"), "fast")
    Traceback (most recent call last):
    ...
    ValueError: mode must be 'quick' or 'full', got 'fast'
    """
    if mode not in ("quick", "full"):
        raise ValueError(f"mode must be 'quick' or 'full', got {mode!r}")
    preset = {}
    if isinstance(recipe, str):
        preset = preset_settings(recipe, mode)
        recipe = get(recipe)
    config = dataclasses.replace(recipe.CONFIGS[mode], **preset) if preset else recipe.CONFIGS[mode]
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    if not overrides:
        return config
    if not isinstance(overrides, dict):
        pairs = {}
        for item in overrides:
            if "=" not in item:
                raise ValueError(f"an override must read name=value, got {item!r}")
            key, value = item.split("=", 1)
            pairs[key.strip()] = value.strip()
        overrides = pairs
    changes = {}
    for key, value in overrides.items():
        if key not in fields:
            raise ValueError(f"{recipe.NAME} has no setting {key!r}; its settings are: {', '.join(fields)}")
        try:
            changes[key] = _parse_value(value, fields[key]) if isinstance(value, str) else value
        except ValueError as err:
            raise ValueError(f"bad value for {key}: {err}") from None
    return dataclasses.replace(config, **changes)


def hardware(device=None) -> dict:
    """Where a run happened: device name, versions, CPU count and the date (for results files).

    Examples
    --------
    >>> sorted(hardware("cpu"))
    ['cpus', 'cuda', 'date', 'device', 'device_kind', 'python', 'torch']
    """
    import torch

    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda":
        name, kind = torch.cuda.get_device_name(device), "cuda"
    else:
        name, kind = platform.processor() or platform.machine(), "cpu"
    return {"device": name, "device_kind": kind, "cuda": torch.version.cuda if kind == "cuda" else None,
            "torch": torch.__version__, "python": platform.python_version(), "cpus": os.cpu_count(),
            "date": datetime.date.today().isoformat()}


def run(name: str, mode: str = "quick", *, overrides=None, device=None, checkpoint=None, resume: bool = False,
        progress: bool = True, time_budget: float | None = None) -> dict:
    """Prepare, train and evaluate one recipe; returns what it measured.

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES`.
    mode : {"quick", "full"}
    overrides : list of str or dict, optional
        Changes to the configuration (see :func:`config_for`).
    device : str or torch.device, optional
    checkpoint : path, optional
        Written after every epoch; with ``resume``, continued from.
    resume, progress, time_budget :
        As for :func:`lessons_lib.train.fit` (``time_budget`` in seconds, for training).

    Returns
    -------
    dict
        ``recipe``, ``mode``, ``config``, ``results`` (the headline numbers), ``epochs``,
        ``stopped``, ``train_minutes``, ``total_minutes``, ``samples_per_second``, ``history``.

    Notes
    -----
    A recipe whose module has ``folds(config, data)`` may stand for several runs,
    e.g. leave-one-speaker-out: ``folds`` returns ``{label: config}``, one fresh
    model is trained and evaluated per fold (checkpoint ``<stem>-<label>``,
    ``time_budget`` shared equally), and the module's ``combine({label: results})``
    gives the headline numbers. Then ``epochs`` and ``train_minutes`` are sums over
    the folds, and ``history`` holds each fold's under ``"folds"``.

    Examples
    --------
    >>> tiny = {"n_train": 8, "n_valid": 4, "n_test": 4, "hidden": 4, "epochs": 1}
    >>> out = run("ctc_digits", overrides=tiny, device="cpu", progress=False)
    >>> out["epochs"], sorted(out["results"])
    (1, ['test DER', 'test digits', 'test utterances'])
    """
    from ..config import device as default_device

    recipe = get(name)
    config = config_for(name, mode, overrides)
    device = default_device() if device is None else device
    begin = time.perf_counter()
    data = recipe.prepare(config)
    folds = recipe.folds(config, data) if hasattr(recipe, "folds") else None
    if not folds:
        model, history = recipe.train(config, data, device=device, checkpoint=checkpoint, resume=resume,
                                      progress=progress, time_budget=time_budget)
        results = recipe.evaluate(model, config, data, device=device)
        return {
            "recipe": name, "chapter": RECIPES[name][0], "mode": mode, "config": dataclasses.asdict(config),
            "results": results, "epochs": history.epochs, "stopped": history.stopped,
            "train_minutes": history.seconds / 60, "total_minutes": (time.perf_counter() - begin) / 60,
            "samples_per_second": history.samples_per_second, "history": history.to_dict(),
        }
    per_fold, histories = {}, {}
    for label, fold in folds.items():
        path = None if checkpoint is None else Path(checkpoint).with_stem(f"{Path(checkpoint).stem}-{label}")
        model, histories[label] = recipe.train(
            fold, data, device=device, checkpoint=path, resume=resume, progress=progress,
            time_budget=None if time_budget is None else time_budget / len(folds))
        per_fold[label] = recipe.evaluate(model, fold, data, device=device)
        del model
    seconds = sum(h.seconds for h in histories.values())
    return {
        "recipe": name, "chapter": RECIPES[name][0], "mode": mode, "config": dataclasses.asdict(config),
        "results": recipe.combine(per_fold), "epochs": sum(h.epochs for h in histories.values()),
        "stopped": "; ".join(f"{label}: {h.stopped}" for label, h in histories.items() if h.stopped) or None,
        "train_minutes": seconds / 60, "total_minutes": (time.perf_counter() - begin) / 60,
        "samples_per_second": sum(h.samples for h in histories.values()) / seconds if seconds > 0 else float("nan"),
        "checkpoint": None if checkpoint is None else str(
            Path(checkpoint).with_stem(f"{Path(checkpoint).stem}-<{'|'.join(folds)}>")),
        "history": {"loss": {label: h.loss for label, h in histories.items()},
                    "valid": {label: h.valid for label, h in histories.items()},
                    "folds": {label: h.to_dict() for label, h in histories.items()}},
    }


def _selected(names: list[str]) -> list[str]:
    chosen = []
    for item in names or ["all"]:
        if item == "all":
            chosen += list(RECIPES)
        elif item.isdigit() or (item.startswith("ch") and item[2:].isdigit()):
            chapter = int(item.removeprefix("ch"))
            found = [n for n, (c, _) in RECIPES.items() if c == chapter]
            if not found:
                raise ValueError(f"no recipe belongs to chapter {chapter}; chapters with recipes: "
                                 f"{sorted({c for c, _ in RECIPES.values()})}")
            chosen += found
        else:
            get(item)
            chosen.append(item)
    return list(dict.fromkeys(chosen))


def _overrides_per_recipe(names: list[str], overrides: list[str]) -> dict:
    """Each ``--set NAME=VALUE`` goes to the selected recipes that have the setting; one none has is an error."""
    per_recipe = {name: [] for name in names}
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set must read NAME=VALUE, got {item!r}")
        key = item.split("=", 1)[0].strip()
        having = [n for n in names if key in {f.name for f in dataclasses.fields(get(n).Config)}]
        if not having:
            raise ValueError(f"no selected recipe has a setting {key!r}; their settings: " + "; ".join(
                f"{n}: {', '.join(f.name for f in dataclasses.fields(get(n).Config))}" for n in names))
        for n in having:
            per_recipe[n].append(item)
    return per_recipe


def _parser() -> argparse.ArgumentParser:
    column = max(map(len, RECIPES)) + 2
    listing = "\n".join(f"  {name:{column}s}chapter {chapter}: {title}" for name, (chapter, title) in RECIPES.items())
    parser = argparse.ArgumentParser(
        prog="python -m lessons_lib.train",
        description="Train recipes of the course (the same code as the notebooks' full mode), write a "
                    "checkpoint after every epoch, evaluate, and optionally write the results as JSON. "
                    "Under torchrun every process trains its share of each batch (DistributedDataParallel).",
        epilog=f"recipes:\n{listing}\n\nA chapter (4, ch5) or 'all' selects several.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipes", nargs="+", metavar="RECIPE", help="recipe names, chapters (4, ch5) or all")
    parser.add_argument("--mode", choices=("quick", "full"), default="quick", help="configuration (default quick)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                        help="change one setting of the configuration (repeatable), e.g. --set epochs=2")
    parser.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: cuda if available; "
                                                        "under torchrun: cuda:LOCAL_RANK)")
    parser.add_argument("--checkpoint-dir", default="checkpoints", type=Path,
                        help="where RECIPE-MODE.safetensors is written (default ./checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the checkpoint if there is one")
    parser.add_argument("--time-budget", type=float, default=None, metavar="MINUTES",
                        help="per recipe: stop training after the epoch that would overrun it")
    parser.add_argument("--results", type=Path, default=None, metavar="PATH",
                        help="merge what each run measured, with the hardware, into this JSON file; a folder "
                             "(an existing one, or a path ending in /) gets MODE-DEVICE.json, e.g. "
                             "results/full-nvidia-h200.json")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser


def _init_distributed(device_arg):
    """Under torchrun (WORLD_SIZE > 1): join the process group; returns the device of this process."""
    import torch

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return device_arg
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and (device_arg is None or device_arg.startswith("cuda"))
    if not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local_rank)
        return f"cuda:{local_rank}"
    return "cpu"


def main(argv=None) -> list[dict]:
    """The command line ``python -m lessons_lib.train`` (see ``--help``); returns the runs' records.

    Examples
    --------
    >>> main(["no_such_recipe"])
    Traceback (most recent call last):
    ...
    SystemExit: 2
    """
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        names = _selected(args.recipes)
        overrides = _overrides_per_recipe(names, args.overrides)
        for name in names:  # every value checked before anything runs (building a model is cheap)
            get(name).build(config_for(name, args.mode, overrides[name]))
    except ValueError as err:
        parser.error(str(err))
    from ..checkpoint import CheckpointError
    from ..train import distributed

    device = _init_distributed(args.device)
    rank = distributed()[0]
    records = []
    for name in names:
        checkpoint = args.checkpoint_dir / f"{name}-{args.mode}.safetensors"
        try:
            record = run(name, args.mode, overrides=overrides[name], device=device, checkpoint=checkpoint,
                         resume=args.resume, progress=not args.no_progress,
                         time_budget=None if args.time_budget is None else 60 * args.time_budget)
        except CheckpointError as err:
            parser.error(f"{err} (start afresh without --resume, or use another --checkpoint-dir)")
        record.setdefault("checkpoint", str(checkpoint))  # a recipe of several folds names one per fold
        records.append(record)
        if rank == 0:
            headline = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                                 for k, v in record["results"].items())
            print(f"{name} ({args.mode}): {headline}; {record['epochs']} epochs in "
                  f"{record['train_minutes']:.2f} min ({record['samples_per_second']:.0f} samples/s)"
                  + (f"; stopped: {record['stopped']}" if record["stopped"] else "")
                  + f"; checkpoint {record['checkpoint']}", flush=True)
    if args.results is not None and rank == 0:
        path = args.results
        if path.is_dir() or str(path).endswith("/"):
            path = path / f"{args.mode}-{device_slug(hardware(_result_device(device)))}.json"
        _write_results(path, records, device, args, sys.argv[1:] if argv is None else argv)
        print(f"results written to {path}", flush=True)
    return records


def device_slug(hw: dict) -> str:
    """A file-name part for a device: ``"NVIDIA H200"`` becomes ``"nvidia-h200"``, a CPU ``"cpu-<kind>"``.

    Examples
    --------
    >>> device_slug({"device": "NVIDIA H200", "device_kind": "cuda"})
    'nvidia-h200'
    >>> device_slug({"device": "x86_64", "device_kind": "cpu"})
    'cpu-x86-64'
    """
    import re

    name = re.sub(r"[^a-z0-9]+", "-", str(hw["device"]).lower()).strip("-")
    return name if hw["device_kind"] == "cuda" else f"cpu-{name}"


def _result_device(device):
    import torch

    return device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")


def _write_results(path: Path, records: list[dict], device, args, argv) -> None:
    from ..train import distributed

    existing = json.loads(path.read_text()) if path.is_file() else {}
    report = {
        "about": "What `make full` (python -m lessons_lib.train --results) measured: headline numbers, "
                 "minutes and throughput per recipe, with the hardware and versions.",
        "hardware": hardware(_result_device(device)),
        "processes": distributed()[1],
        "command": "python -m lessons_lib.train " + " ".join(argv),
        "time_budget_minutes": args.time_budget,
        "recipes": dict(existing.get("recipes", {})),
    }
    for record in records:
        report["recipes"][record["recipe"]] = {k: v for k, v in record.items() if k != "history"} | {
            "loss": record["history"]["loss"], "valid": record["history"]["valid"]}
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(report, indent=1) + "\n")
    os.replace(temporary, path)

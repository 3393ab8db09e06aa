"""lessons_lib.recipes (its ``__init__``): the recipe registry, configurations, and the command line.

``python -m lessons_lib.train --help`` lists every recipe; bad command lines (a recipe or chapter that does
not exist, ``--mode fast``, a setting no recipe has, a value of the wrong type, a malformed ``--set``) exit
with code 2 and say what is wrong. A quick-mode run from the command line (the smallest ``ctc_digits``
that trains: 16 utterances, 8 units, 2 epochs) writes its checkpoint and results; run again with
``--resume`` it trains no further epoch (the checkpoint is not even rewritten) and reports the same
numbers; resumed with another setting it exits with code 2 and the checkpoint's complaint. Under
``torchrun`` (2 processes, gloo) the same run reports ``processes: 2`` and the same losses as one
process, to float32 rounding (rtol 1e-5).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest

from lessons_lib import data, recipes
from lessons_lib.checkpoint import load_checkpoint
from lessons_lib.recipes import ctc_digits, lstm_digits

TINY = ["--set", "n_train=16", "--set", "n_valid=4", "--set", "n_test=4", "--set", "hidden=8",
        "--set", "epochs=2", "--set", "batch_size=8"]


def command_line(*args, cwd, launcher=("-m", "lessons_lib.train"), timeout=300):
    """Run ``python -m lessons_lib.train ARGS`` (one torch thread: the machine may be small and busy)."""
    env = os.environ | {"OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    return subprocess.run([sys.executable, *launcher, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_get_and_the_registry():
    assert list(recipes.RECIPES)[:2] == ["lstm_digits", "ctc_digits"]
    assert recipes.get("lstm_digits") is lstm_digits and recipes.get("ctc_digits") is ctc_digits
    assert set(recipes.PRESETS) <= set(recipes.RECIPES)
    for name, (chapter, title) in recipes.RECIPES.items():
        module = recipes.get(name)
        assert module.NAME == recipes.PRESETS.get(name, (name, {}))[0]
        assert set(module.CONFIGS) == {"quick", "full"} and title and isinstance(chapter, int)
        for mode in ("quick", "full"):
            config = recipes.config_for(name, mode)
            assert all(getattr(config, k) == v for k, v in recipes.preset_settings(name, mode).items())
    with pytest.raises(ValueError, match="no recipe 'ctc'; the recipes are: lstm_digits, ctc_digits"):
        recipes.get("ctc")


def test_a_preset_can_fix_settings_per_mode():
    quick, full = (recipes.config_for("resnet_fsdd_loso", mode) for mode in ("quick", "full"))
    assert (quick.arch, quick.augment, quick.split, quick.epochs) == ("resnet18", True, "loso:george,nicolas", 5)
    assert (full.arch, full.augment, full.split) == ("resnet18", True, "loso")
    assert full.epochs == recipes.get("resnet_fsdd_loso").CONFIGS["full"].epochs  # the mode's own value
    assert recipes.config_for("resnet_fsdd_loso", "quick", ["epochs=2"]).epochs == 2  # overrides come last


def test_config_for_applies_overrides_of_every_type():
    assert recipes.config_for(ctc_digits, "full") is ctc_digits.CONFIGS["full"]
    config = recipes.config_for(ctc_digits, "quick", ["epochs=3", "lr = 0.5", "dropout=0"])
    assert config == dataclasses.replace(ctc_digits.CONFIGS["quick"], epochs=3, lr=0.5, dropout=0.0)
    assert type(config.epochs) is int and type(config.lr) is float and type(config.dropout) is float
    assert recipes.config_for(lstm_digits, "quick", {"readout": "mean", "hidden": 4}).readout == "mean"
    labelled = recipes.config_for("wav2vec2_digits", "quick", ["labelled=10, 100"]).labelled  # a tuple of ints
    assert labelled == (10, 100) and all(type(n) is int for n in labelled)


@pytest.mark.parametrize(
    "mode, overrides, match",
    [("fast", None, "mode must be 'quick' or 'full', got 'fast'"),
     ("quick", ["nonsense=1"], "has no setting 'nonsense'"),
     ("quick", ["epochs=abc"], "bad value for epochs"),
     ("quick", ["epochs=2.5"], "bad value for epochs"),
     ("quick", ["epochs"], "name=value")],
)
def test_config_for_bad_input(mode, overrides, match):
    with pytest.raises(ValueError, match=match):
        recipes.config_for(ctc_digits, mode, overrides)


def test_help_lists_the_recipes(tmp_path):
    done = command_line("--help", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name, (chapter, title) in recipes.RECIPES.items():
        assert f"{name}" in done.stdout and f"chapter {chapter}: {title}" in done.stdout
    for option in ("--mode", "--set", "--resume", "--checkpoint-dir", "--results", "--time-budget"):
        assert option in done.stdout


@pytest.mark.parametrize(
    "argv, words",
    [(["no_such_recipe"], ["no recipe 'no_such_recipe'", "lstm_digits, ctc_digits"]),
     (["ch9"], ["no recipe belongs to chapter 9"]),
     (["ctc_digits", "--mode", "fast"], ["--mode", "invalid choice: 'fast'"]),
     (["ctc_digits", "--set", "nonsense=1"], ["setting 'nonsense'", "n_train"]),
     (["ctc_digits", "--set", "epochs=abc"], ["bad value for epochs", "'abc'"]),
     (["ctc_digits", "--set", "epochs"], ["NAME=VALUE", "'epochs'"]),
     (["lstm_digits", "--set", "readout=xyz"], ["readout must be 'last' or 'mean'"]),
     (["ctc_digits", "--set", "hidden=-3"], ["hidden"]),
     ([], ["RECIPE"])],
)
def test_bad_command_lines_exit_with_code_2_and_say_why(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        recipes.main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m lessons_lib.train" in err
    assert all(w in err for w in words), err


@pytest.fixture(scope="module")
def first_run(real_fsdd_dir, tmp_path_factory):
    """One quick-mode ctc_digits run from the command line, tiny; returns its folder and results."""
    folder = tmp_path_factory.mktemp("cli")
    done = command_line("ctc_digits", "--device", "cpu", "--no-progress", "--checkpoint-dir", folder / "ckpt",
                        *TINY, "--results", folder / "first.json", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder, done, json.loads((folder / "first.json").read_text())


def test_a_command_line_run_writes_a_checkpoint_and_its_results(first_run):
    folder, done, results = first_run
    path = folder / "ckpt" / "ctc_digits-quick.safetensors"
    saved = load_checkpoint(path)
    assert saved.model == "BiLSTMCTC" and saved.hparams["hidden"] == 8 and saved.hparams["recipe"] == "ctc_digits"
    assert len(saved.state["history"]["loss"]) == 2
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left
    record = results["recipes"]["ctc_digits"]
    assert results["processes"] == 1 and results["hardware"]["device_kind"] == "cpu"
    assert record["mode"] == "quick" and record["epochs"] == 2 and record["stopped"] is None
    assert record["config"] == dataclasses.asdict(recipes.config_for(ctc_digits, "quick", TINY[1::2]))
    assert record["loss"] == saved.state["history"]["loss"]
    assert set(record["results"]) == {"test DER", "test utterances", "test digits"}
    assert record["results"]["test utterances"] == 4
    assert "ctc_digits (quick): test DER" in done.stdout


def test_resuming_a_finished_run_trains_nothing_and_reports_the_same_numbers(first_run):
    folder, _, first = first_run
    path = folder / "ckpt" / "ctc_digits-quick.safetensors"
    written = path.read_bytes()
    done = command_line("ctc_digits", "--device", "cpu", "--no-progress", "--checkpoint-dir", folder / "ckpt",
                        *TINY, "--resume", "--results", folder / "resumed.json", cwd=folder)
    assert done.returncode == 0, done.stderr
    again = json.loads((folder / "resumed.json").read_text())["recipes"]["ctc_digits"]
    before = first["recipes"]["ctc_digits"]
    assert path.read_bytes() == written  # no epoch trained, so no checkpoint written
    for key in ("results", "epochs", "loss", "valid", "train_minutes", "samples_per_second", "config"):
        assert again[key] == before[key], key


def test_resuming_with_another_setting_exits_with_code_2_and_the_checkpoints_complaint(first_run, real_fsdd,
                                                                                       capsys, monkeypatch):
    folder, _, _ = first_run
    monkeypatch.setattr(data, "load_fsdd", lambda *args, **kwargs: real_fsdd)
    ctc_digits._prepare.cache_clear()
    try:
        with pytest.raises(SystemExit) as exit_:
            recipes.main(["ctc_digits", "--device", "cpu", "--no-progress", "--checkpoint-dir",
                          str(folder / "ckpt"), *TINY, "--set", "hidden=16", "--resume"])
    finally:
        ctc_digits._prepare.cache_clear()
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "was written with other hyper-parameters; differing: hidden: saved 8, now 16" in err
    assert "start afresh without --resume" in err


def test_torchrun_with_two_processes_trains_the_same_run(first_run):
    folder, _, first = first_run
    done = command_line("--standalone", "--nproc_per_node=2", "-m", "lessons_lib.train", "ctc_digits",
                        "--device", "cpu", "--no-progress", "--checkpoint-dir", folder / "ddp", *TINY,
                        "--results", folder / "ddp.json", cwd=folder, launcher=("-m", "torch.distributed.run"))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((folder / "ddp.json").read_text())
    record, single = results["recipes"]["ctc_digits"], first["recipes"]["ctc_digits"]
    assert results["processes"] == 2 and record["epochs"] == 2
    assert record["loss"] == pytest.approx(single["loss"], rel=1e-5)  # the same global batches, float32
    assert done.stdout.count("ctc_digits (quick): test DER") == 1  # only the first process reports
    assert load_checkpoint(folder / "ddp" / "ctc_digits-quick.safetensors").state["history"]["loss"] == record["loss"]

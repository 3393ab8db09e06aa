"""lessons_lib.config: the mode switch, the device choice and seeding."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from lessons_lib import config


@pytest.mark.parametrize("value, expected", [("quick", "quick"), ("full", "full"), (" FULL ", "full")])
def test_mode_from_environment(monkeypatch, value, expected):
    monkeypatch.setenv("LESSONS_MODE", value)
    assert config.mode() == expected
    assert config.is_full() == (expected == "full")
    assert config.by_mode(quick="q", full="f") == expected[0]


@pytest.mark.parametrize("gpu", [True, False])
def test_mode_follows_the_gpu_when_unset(monkeypatch, gpu):
    monkeypatch.delenv("LESSONS_MODE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert config.cuda_available() is gpu
    assert config.mode() == ("full" if gpu else "quick")


@pytest.mark.parametrize("gpu", [True, False])
def test_cpu_only_notebooks_stay_quick_on_a_gpu_unless_asked(monkeypatch, gpu):
    monkeypatch.delenv("LESSONS_MODE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    assert config.mode(gpu_helps=False) == "quick"
    assert config.is_full(gpu_helps=False) is False
    assert config.by_mode("q", "f", gpu_helps=False) == "q"
    assert config.by_mode("q", "f") == ("f" if gpu else "q")
    monkeypatch.setenv("LESSONS_MODE", "full")  # asked for explicitly: full, GPU or not
    assert config.mode(gpu_helps=False) == "full"
    assert config.by_mode("q", "f", gpu_helps=False) == "f"


def test_gpu_helps_must_be_a_bool():
    with pytest.raises(TypeError, match="gpu_helps must be True or False"):
        config.mode(gpu_helps="no")


def test_mode_rejects_unknown_values(monkeypatch):
    monkeypatch.setenv("LESSONS_MODE", "fast")
    with pytest.raises(ValueError, match=r"LESSONS_MODE must be one of \('quick', 'full'\), got 'fast'"):
        config.mode()


def test_device_choice(monkeypatch):
    monkeypatch.delenv("LESSONS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert config.device() == torch.device("cpu")
    assert config.device("CPU") == torch.device("cpu")
    monkeypatch.setenv("LESSONS_DEVICE", "cpu")
    assert config.device() == torch.device("cpu")


def test_device_errors(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="asks for a CUDA GPU, but torch sees none"):
        config.device("cuda")
    with pytest.raises(ValueError, match="prefer must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        config.device("tpu")
    monkeypatch.setenv("LESSONS_DEVICE", "gpu")
    with pytest.raises(ValueError, match="LESSONS_DEVICE must be"):
        config.device()
    with pytest.raises(TypeError, match="prefer must be a string"):
        config.device(0)


def test_device_cuda_when_available(monkeypatch):
    monkeypatch.delenv("LESSONS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert config.device() == torch.device("cuda")
    assert config.device("cuda:1") == torch.device("cuda", 1)


def draws():
    return random.random(), np.random.rand(), torch.rand(3).tolist()


def test_seed_everything_makes_every_generator_repeat():
    rng = config.seed_everything(123)
    first = draws(), rng.standard_normal(4).tolist()
    rng = config.seed_everything(123)
    assert (draws(), rng.standard_normal(4).tolist()) == first
    rng = config.seed_everything(124)
    assert (draws(), rng.standard_normal(4).tolist()) != first


def test_seed_everything_returns_the_documented_generator():
    assert config.seed_everything(5).random() == np.random.default_rng(5).random()


def test_seed_everything_deterministic_flag():
    try:
        config.seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark is False
    finally:
        torch.use_deterministic_algorithms(False)


@pytest.mark.parametrize("seed, error", [(-1, ValueError), (2**32, ValueError), (1.5, TypeError),
                                         (True, TypeError), ("1", TypeError)])
def test_seed_everything_bad_seed(seed, error):
    with pytest.raises(error, match="seed must"):
        config.seed_everything(seed)

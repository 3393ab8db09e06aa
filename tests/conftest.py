"""Fixtures shared by the unit tests: a small synthetic FSDD and the real one."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from lessons_lib import data


def write_fake_recordings(folder: Path, *, speakers=("alice", "bob"), digits=(0, 3, 7), takes=6,
                          sr=8000, seed=0, max_samples=4000) -> list[Path]:
    """Write ``{digit}_{speaker}_{take}.wav`` files of random 16-bit noise of random length."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for speaker in speakers:
        for digit in digits:
            for take in range(takes):
                n = int(rng.integers(1, max_samples))
                q = rng.integers(-32768, 32768, size=n, dtype=np.int16)
                path = folder / f"{digit}_{speaker}_{take}.wav"
                sf.write(path, q, sr, subtype="PCM_16")
                paths.append(path)
    return paths


def make_archive(recordings: Path, *, top="free-spoken-digit-dataset-1.0.10", extra=()) -> bytes:
    """A .tar.gz laid out like the GitHub release archive, with other files beside recordings/."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        readme = b"# FSDD\n"
        info = tarfile.TarInfo(f"{top}/README.md")
        info.size = len(readme)
        tar.addfile(info, io.BytesIO(readme))
        for path in sorted(recordings.glob("*.wav")):
            tar.add(path, arcname=f"{top}/recordings/{path.name}")
        for name, payload in extra:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    return buf.getvalue()


@pytest.fixture
def fake_recordings(tmp_path) -> Path:
    folder = tmp_path / "root" / "fsdd" / "recordings"
    write_fake_recordings(folder)
    return folder


@pytest.fixture
def no_data_env(monkeypatch, tmp_path):
    """No LESSONS_DATA, no shared/data anywhere, an empty user cache."""
    monkeypatch.delenv("LESSONS_DATA", raising=False)
    monkeypatch.setattr(data, "_shared_candidates", lambda: [])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return tmp_path / "xdg-cache" / "lessons_lib"


@pytest.fixture(scope="session")
def real_fsdd_dir() -> Path:
    """The real FSDD recordings, found without downloading (CI has ../shared/data)."""
    try:
        return data.find_fsdd(download=False)
    except data.DataNotFoundError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have the FSDD copy in ../shared/data: {err}")
        pytest.skip(f"the real FSDD is not on this machine (tests never download it): {err}")


@pytest.fixture(scope="session")
def real_fsdd(real_fsdd_dir):
    return data.load_fsdd(real_fsdd_dir)


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: one torch thread is fastest, and spares a loaded CI machine thread contention."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def assert_identical(a, b, where="state"):
    """Equal structure, types and values; tensors equal bit for bit (dtype and shape included); NaN equals NaN.

    Used by tests/test_train.py and tests/test_checkpoint.py to compare model, optimizer and scheduler state.
    """
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b), f"{where}: keys {list(a)} != {list(b)}"
        for k in a:
            assert_identical(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), f"{where}: {a!r} != {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and (a == b or (a != a and b != b)), f"{where}: {a!r} != {b!r}"

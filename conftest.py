"""Session-wide pytest hooks for the one test command (`make test`).

Six jobs:

1. **Each notebook executes once per run.** nbval (``--nbval-lax``) executes
   every notebook cell by cell. When all cells of a notebook pass, the outputs
   nbval collected are stored in the book's execution cache
   (``_build/.jupyter_cache``, the cache Jupyter Book's ``execute_notebooks:
   cache`` mode reads). The book build that the browser check needs then finds
   every notebook already executed and runs none of them again.
2. **The browser check runs last**, after every notebook, so that it sees their
   cached outputs. **The longest notebooks run first** (by the quick-mode seconds
   in ``lessons_lib/run_times.json``; ``make test`` passes
   ``--no-loadscope-reorder`` so that pytest-xdist hands out files in this order):
   two workers then finish together instead of one waiting for the other's
   three-minute notebook at the end.
3. **Two workers can share the cache.** ``make test`` runs the tests in two
   pytest-xdist workers; the controller creates the cache's database before
   they start, so that two notebooks finishing together only add records.
4. **Doctests never download.** The examples in ``lessons_lib`` call
   ``load_fsdd()`` as a reader would; for the doctests, ``LESSONS_DATA`` points
   at a synthetic FSDD (6 speakers x 10 digits x 50 takes of noise at 8 kHz,
   written once per session), so they run the same on a fresh machine with no
   copy of the data and no network.
5. **Each worker compiles Numba code into its own cache.** librosa compiles
   some functions with Numba on first use (``librosa.yin``'s interpolation,
   ``istft``'s overlap-add...) and caches the machine code beside its sources.
   Two workers (or their notebook kernels) compiling the same function at the
   same moment race on those files: the loser may crash or hang (numba issues
   #4807 and #10128; seen as two notebook cells timing out together in CI). A
   worker's ``NUMBA_CACHE_DIR`` is ``<environment>/numba-cache/<worker>``, which
   its kernels inherit; one process compiles into it at a time.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent

# Progress bars of lessons_lib.train.fit stay out of the test logs and out of the
# notebook outputs stored for the book (tqdm reads TQDM_DISABLE; kernels inherit it).
os.environ.setdefault("TQDM_DISABLE", "1")
BOOK_CACHE = ROOT / "_build" / ".jupyter_cache"

SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")

# notebook path -> {"cells": [items], "ok": bool, "start": float}
_NOTEBOOKS: dict[Path, dict] = {}


def pytest_configure(config):
    if hasattr(config, "workerinput"):
        _own_numba_cache(config.workerinput["workerid"])
    if hasattr(config, "workerinput") or os.environ.get("LESSONS_BOOK_CACHE") == "off":
        return  # an xdist worker: the controller made the cache
    if getattr(config.option, "numprocesses", None):
        from jupyter_cache import get_cache

        get_cache(str(BOOK_CACHE)).list_cache_records()  # creates the database once


def _own_numba_cache(worker: str) -> None:
    """Point this worker (and the kernels it starts) at a Numba cache of its own."""
    import sys

    cache = Path(sys.prefix) / "numba-cache" / worker
    cache.mkdir(parents=True, exist_ok=True)
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
    if "numba" in sys.modules:  # read at import: tell an already imported Numba too
        sys.modules["numba"].config.CACHE_DIR = str(cache)


def _is_nbval_cell(item) -> bool:
    return type(item).__name__ == "IPyNbCell" and hasattr(item, "cell")


def _expected_seconds(notebook: Path) -> float:
    """Quick-mode seconds recorded for a notebook; 120 for one not measured yet."""
    import json

    times = json.loads((ROOT / "lessons_lib" / "run_times.json").read_text())["notebooks"]
    quick = (times.get(notebook.stem) or {}).get("quick") or {}
    return quick.get("seconds") or 120.0


def longest_notebooks_first(items: list) -> list:
    """Notebook cells grouped by notebook, longest notebook first, then every other test in its order."""
    cells = [i for i in items if _is_nbval_cell(i)]
    seconds = {path: _expected_seconds(path) for path in {Path(str(i.parent.fspath)) for i in cells}}
    cells.sort(key=lambda i: -seconds[Path(str(i.parent.fspath))])  # stable: cells keep their order
    return cells + [i for i in items if not _is_nbval_cell(i)]


def pytest_collection_modifyitems(config, items):
    browser = [i for i in items if i.get_closest_marker("browser")]
    others = [i for i in items if not i.get_closest_marker("browser")]
    items[:] = longest_notebooks_first(others) + browser
    for item in items:
        if _is_nbval_cell(item):
            entry = _NOTEBOOKS.setdefault(Path(str(item.parent.fspath)), {"cells": [], "ok": True})
            entry["cells"].append(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not _is_nbval_cell(item):
        return
    report = outcome.get_result()
    entry = _NOTEBOOKS[Path(str(item.parent.fspath))]
    entry.setdefault("start", time.time())
    if report.failed or report.skipped:
        entry["ok"] = False
    if report.when == "teardown" and item is entry["cells"][-1] and entry["ok"]:
        _cache_executed_notebook(Path(str(item.parent.fspath)), entry)


def _cache_executed_notebook(path: Path, entry: dict) -> None:
    """Store the notebook with nbval's outputs where the book build looks first."""
    if os.environ.get("LESSONS_BOOK_CACHE") == "off":
        return  # `make test-floors`: outputs made with other library versions must not reach the book
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    nb = nbformat.read(path, as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    cells = entry["cells"]
    if len(code_cells) != len(cells) or any(c.test_outputs is None for c in cells):
        return  # not every cell ran: let the book build execute it itself
    for count, (cell, item) in enumerate(zip(code_cells, cells), start=1):
        outputs = []
        for out in item.test_outputs:
            out = nbformat.from_dict(dict(out))
            if out.output_type == "execute_result":
                out["execution_count"] = count
            outputs.append(out)
        cell.outputs = outputs
        cell.execution_count = count
    nbformat.validate(nb)
    cache = get_cache(str(BOOK_CACHE))
    cache.cache_notebook_bundle(
        CacheBundleIn(nb, str(path), data={"execution_seconds": time.time() - entry["start"]}),
        check_validity=True,
        overwrite=True,
        description="executed by nbval in the test run",
    )


@pytest.fixture(scope="session")
def synthetic_fsdd(tmp_path_factory) -> Path:
    """A data root holding ``fsdd/recordings`` laid out like the real FSDD, but of noise."""
    from tests.conftest import write_fake_recordings

    root = tmp_path_factory.mktemp("synthetic-data")
    write_fake_recordings(root / "fsdd" / "recordings", speakers=SPEAKERS, digits=range(10), takes=50,
                          max_samples=1200)
    return root


@pytest.fixture(autouse=True)
def _doctests_read_synthetic_fsdd(request):
    if type(request.node).__name__ != "DoctestItem":
        return
    root = request.getfixturevalue("synthetic_fsdd")
    monkeypatch = request.getfixturevalue("monkeypatch")
    monkeypatch.setenv("LESSONS_DATA", str(root))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root / "no-cache"))

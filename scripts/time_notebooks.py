"""Measure how long each notebook takes, as CI runs it, and record it in lessons_lib/run_times.json.

Each notebook runs alone, top to bottom, under nbval (``pytest --nbval-lax``, the
README's test command restricted to that one file), in the mode asked for
(``LESSONS_MODE``). The wall-clock time of the whole run is written to
``lessons_lib/run_times.json`` with the machine and the date, which is where
``lessons_lib.notebook.run_times`` (shown by the notebooks) and the README's
table (checked by tests/test_project.py) read it. Run it on an otherwise idle
machine; a notebook that fails is reported and not recorded.

Usage::

    .venv/bin/python scripts/time_notebooks.py                      # every notebook, quick mode
    .venv/bin/python scripts/time_notebooks.py --mode full notebooks/02_gmm_em.ipynb
    .venv/bin/python scripts/time_notebooks.py --readme             # print the README table
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lessons_lib.notebook import RUN_TIMES, _minutes  # noqa: E402


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = ""
    try:
        import torch

        if torch.cuda.is_available():
            gpu = f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return f"{os.cpu_count()}-core {model}{gpu}"


def time_notebook(path: Path, mode: str, timeout: int) -> float | None:
    env = dict(os.environ, LESSONS_MODE=mode)
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--nbval-cell-timeout={timeout}",
               str(path)]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        print(f"{path.name} ({mode}) FAILED after {seconds:.0f} s:\n{result.stdout[-3000:]}", file=sys.stderr)
        return None
    return seconds


def readme_table(table: dict) -> str:
    lines = ["| notebook | quick mode | full mode |", "|---|---|---|"]
    for name, entry in table["notebooks"].items():
        cells = []
        for mode in ("quick", "full"):
            measured = entry.get(mode)
            cells.append(_minutes(measured["seconds"]) if measured else "not measured yet")
        lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook in notebooks/")
    parser.add_argument("--mode", choices=("quick", "full"), default="quick")
    parser.add_argument("--timeout", type=int, default=3600, help="cell timeout in seconds")
    parser.add_argument("--readme", action="store_true", help="print the README table and exit")
    args = parser.parse_args()
    table = json.loads(RUN_TIMES.read_text())
    if args.readme:
        print(readme_table(table), end="")
        return
    paths = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    today = datetime.date.today().isoformat()
    for path in paths:
        seconds = time_notebook(path.resolve(), args.mode, args.timeout)
        if seconds is None:
            continue
        print(f"{path.stem} ({args.mode}): {seconds:.1f} s")
        entry = table["notebooks"].setdefault(path.stem, {"quick": None, "full": None})
        entry[args.mode] = {"seconds": round(seconds, 1), "machine": machine(), "date": today}
        RUN_TIMES.write_text(json.dumps(table, indent=2) + "\n")


if __name__ == "__main__":
    main()

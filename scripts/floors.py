"""The constraints of `make test-floors`: every course requirement at its declared lower bound.

requirements.txt is the one source of truth: each ``name>=X`` there becomes ``name==X`` here,
so the second environment (.venv-floors) holds exactly the oldest versions the project claims
to support. Two kinds of line are not floors:

* torch keeps the pinned CPU wheel of constraints.txt (Colab keeps its own torch; the floors
  test the NumPy stack around it);
* the test tools of requirements-dev.txt (pytest, nbval, jupyter-book, ...) keep their
  constraints.txt pins: they run the tests, they are not what is tested.

Every other package (numba's llvmlite, jiwer's rapidfuzz, ...) is left to pip's resolver, which
picks versions that agree with the floors.

    python scripts/floors.py            # print the constraints
    python scripts/floors.py --check    # exit 1 unless this Python has exactly those versions
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEPT_AS_PINNED = {"torch"}


def _lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-")]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def floors() -> dict[str, str]:
    """Map each package to the exact version `make test-floors` installs."""
    pins = {_name(line): line.split("==")[1] for line in _lines(ROOT / "constraints.txt")}
    wanted: dict[str, str] = {}
    for requirement in _lines(ROOT / "requirements.txt"):
        name = _name(requirement)
        if name in KEPT_AS_PINNED:
            wanted[name] = pins[name]
            continue
        bound = re.search(r">=\s*([^,;\s]+)", requirement)
        if bound is None:
            raise SystemExit(f"requirements.txt: {requirement!r} declares no lower bound (>=X)")
        wanted[name] = bound.group(1)
    for requirement in _lines(ROOT / "requirements-dev.txt"):
        wanted.setdefault(_name(requirement), pins[_name(requirement)])
    return wanted


def check() -> int:
    """Compare the installed versions with :func:`floors`; print the table; 1 if any differs."""
    from importlib.metadata import PackageNotFoundError, version
    from packaging.version import Version

    bad = 0
    for name, wanted in floors().items():
        try:
            have = version(name)
        except PackageNotFoundError:
            have = "missing"
        # "2.13.0+cpu" is the CPU build of 2.13.0; "1.11" and "1.11.0" are one version
        ok = have != "missing" and Version(Version(have).public) == Version(wanted)
        bad += not ok
        print(f"{name:16} {have:14} {'ok' if ok else 'expected ' + wanted}")
    return 1 if bad else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(check())
    print("# made by scripts/floors.py from requirements.txt (floors) and constraints.txt (torch, test tools)")
    print("\n".join(f"{name}=={version}" for name, version in floors().items()))

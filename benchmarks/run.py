"""Run every benchmark case and print ours vs reference: ``python -m benchmarks``."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import sys
from pathlib import Path

from .core import Case, measure

HERE = Path(__file__).resolve().parent


def discover() -> list[Case]:
    """All ``CASES`` from ``benchmarks/bench_*.py``, in file order."""
    cases: list[Case] = []
    for module in sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name.startswith("bench_")):
        cases.extend(importlib.import_module(f"{__package__}.{module}").CASES)
    return cases


def _fmt(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("-k", "--filter", default="", help="only cases whose name contains this text")
    parser.add_argument("--repeat", type=int, default=7, help="timing rounds per case (best is kept)")
    parser.add_argument("--markdown", action="store_true", help="print rows for benchmarks/README.md")
    args = parser.parse_args(argv)

    cases = [c for c in discover() if args.filter in c.name]
    if not cases:
        parser.error(f"no benchmark case matches {args.filter!r}")
    import numpy

    print(f"# Python {platform.python_version()}, NumPy {numpy.__version__}, {platform.machine()}, "
          f"{platform.processor() or 'cpu'}")
    rows = []
    width = max(len(c.name) for c in cases)
    if not args.markdown:
        print(f"{'case':<{width}}  {'ours':>12}  {'reference':>12}  {'ratio':>6}")
    for case in cases:
        row = measure(case, repeat=args.repeat)
        rows.append(row)
        if args.markdown:
            print(f"| {row['name']} | {_fmt(row['ours_s'])} | {_fmt(row['reference_s'])} | {row['ratio']:.2f}× |")
        else:
            print(f"{row['name']:<{width}}  {_fmt(row['ours_s']):>12}  {_fmt(row['reference_s']):>12}  "
                  f"{row['ratio']:>5.2f}×")
        sys.stdout.flush()
    return rows


if __name__ == "__main__":
    main()

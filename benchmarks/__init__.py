"""Speed of lessons_lib against the reference libraries, measured in one process.

Run ``python -m benchmarks`` (or ``make benchmarks``). Each chapter adds a
``benchmarks/bench_<module>.py`` with a ``CASES`` list of :class:`Case`; the
runner finds them, checks that ours and the reference agree, and prints the
ratio of their times. Results go into the table in ``benchmarks/README.md``.
"""

from .core import Case, measure

__all__ = ["Case", "measure"]

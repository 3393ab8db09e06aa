"""The benchmark runner: every case compares equal results, and the table has a ratio per case."""

from __future__ import annotations

import pytest

from benchmarks import Case, measure
from benchmarks.run import discover, main

CASES = discover()


def test_cases_are_found():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names)) and any(n.startswith("audio.resample") for n in names)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_ours_and_reference_agree(case, real_fsdd_dir):
    case.verify()


def test_a_disagreement_is_caught():
    case = Case("broken", setup=lambda: {"x": 1.0}, ours=lambda x: x, reference=lambda x: x + 1)
    with pytest.raises(AssertionError):
        measure(case, repeat=1, min_time=0.0)


def test_runner_prints_a_ratio(capsys):
    rows = main(["-k", "pcm_to_float", "--repeat", "1"])
    assert len(rows) == 1 and rows[0]["ratio"] > 0
    out = capsys.readouterr().out
    assert "audio.pcm_to_float" in out and "×" in out


def test_unknown_filter_is_an_error():
    with pytest.raises(SystemExit):
        main(["-k", "no such case"])

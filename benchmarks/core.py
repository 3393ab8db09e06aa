"""The benchmark case and the timer."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


@contextmanager
def one_thread():
    """Run the body on ONE thread: torch's intra-op pool and NumPy's BLAS, restored afterwards.

    Both sides of a comparison run this way. On a 2-core machine shared with other jobs, two threads
    each made torch's time for the same convolution swing from 5 to 170 ms between runs (a parallel
    region waits for its descheduled thread): that measures the load, not the code.
    """
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        torch.set_num_threads(threads)


def assert_close(ours, reference, rtol=1e-6, atol=1e-7) -> None:
    """The default agreement check: same shape, values within tolerance."""
    np.testing.assert_allclose(np.asarray(ours), np.asarray(reference), rtol=rtol, atol=atol)


@dataclass
class Case:
    """One comparison: our function and the reference doing the same job.

    Attributes
    ----------
    name : str
        Shown in the table, e.g. ``"audio.resample 60 s 8k->16k"``.
    setup : callable () -> dict
        Builds the inputs once, before timing; its dict is passed as keyword
        arguments to ``ours`` and ``reference``.
    ours, reference : callable (**inputs) -> result
    check : callable (ours_result, reference_result) -> None
        Raises if the two disagree; a benchmark of code that gives a different
        answer would be meaningless. Default :func:`assert_close`.
    """

    name: str
    setup: Callable[[], dict]
    ours: Callable[..., Any]
    reference: Callable[..., Any]
    check: Callable[[Any, Any], None] = field(default=assert_close)

    def verify(self, inputs: dict | None = None) -> None:
        inputs = self.setup() if inputs is None else inputs
        self.check(self.ours(**inputs), self.reference(**inputs))


def _time_per_call(fn, inputs, number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn(**inputs)
    return (time.perf_counter() - start) / number


def measure(case: Case, *, repeat: int = 7, min_time: float = 0.05) -> dict:
    """Time ``ours`` and ``reference`` alternately; keep the best of ``repeat`` rounds.

    The number of calls per round is raised until a round of the slower
    function lasts ``min_time`` seconds. Alternating the two within one
    process means both see the same machine load, so their ratio is stable
    even when absolute times are not.

    Returns
    -------
    dict
        ``name``, ``ours_s`` and ``reference_s`` (seconds per call) and
        ``ratio`` (ours / reference; below 1 means we are faster).
    """
    inputs = case.setup()
    case.verify(inputs)  # also warms up caches and lazy imports
    number = 1
    while max(_time_per_call(case.ours, inputs, number),
              _time_per_call(case.reference, inputs, number)) * number < min_time:
        number *= 2
    ours, reference = [], []
    for _ in range(repeat):
        ours.append(_time_per_call(case.ours, inputs, number))
        reference.append(_time_per_call(case.reference, inputs, number))
    best_ours, best_reference = min(ours), min(reference)
    return {"name": case.name, "ours_s": best_ours, "reference_s": best_reference,
            "ratio": best_ours / best_reference}

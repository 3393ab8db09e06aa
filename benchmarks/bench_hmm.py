"""lessons_lib.hmm's functional core against hmmlearn's compiled kernels (Chapter 3).

T = 20,000 frames, 32 states (the size the issue sets for the model-level targets).
"""

from __future__ import annotations

import numpy as np
from hmmlearn import _hmmc

from lessons_lib import hmm

from .core import Case, assert_close

T, N = 20_000, 32


def _model():
    rng = np.random.default_rng(0)
    startprob = rng.dirichlet(np.ones(N))
    transmat = rng.dirichlet(np.ones(N), size=N)
    log_frameprob = rng.normal(-30.0, 10.0, (T, N))
    return {"startprob": startprob, "transmat": transmat, "log_frameprob": log_frameprob}


def _posteriors_hmmlearn(startprob, transmat, log_frameprob):
    log_prob, fwd = _hmmc.forward_log(startprob, transmat, log_frameprob)
    bwd = _hmmc.backward_log(startprob, transmat, log_frameprob)
    gamma = np.exp(fwd + bwd - log_prob)
    return gamma / gamma.sum(axis=1, keepdims=True), np.exp(_hmmc.compute_log_xi_sum(fwd, transmat, bwd, log_frameprob))


def _same_path(ours, reference):
    assert np.isclose(ours[0], reference[0], rtol=1e-12) and np.array_equal(ours[1], reference[1])


CASES = [
    Case(f"hmm.forward (log space), T={T:,}, {N} states (vs _hmmc.forward_log)", _model,
         lambda **m: hmm.forward(**m)[0], lambda **m: _hmmc.forward_log(*m.values())[0],
         lambda a, b: assert_close(a, b, rtol=1e-12)),
    Case(f"hmm.forward_scaled, T={T:,}, {N} states (vs _hmmc.forward_log)", _model,
         lambda **m: hmm.forward_scaled(**m)[0], lambda **m: _hmmc.forward_log(*m.values())[0],
         lambda a, b: assert_close(a, b, rtol=1e-12)),
    Case(f"hmm.viterbi, T={T:,}, {N} states (vs _hmmc.viterbi)", _model,
         lambda **m: hmm.viterbi(**m), lambda **m: _hmmc.viterbi(*m.values()), _same_path),
    Case(f"hmm.posteriors, T={T:,}, {N} states (vs forward_log + backward_log + compute_log_xi_sum)", _model,
         lambda **m: hmm.posteriors(**m)[1:], lambda **m: _posteriors_hmmlearn(**m),
         lambda a, b: [assert_close(x, y, rtol=1e-6, atol=1e-9) for x, y in zip(a, b)]),
]

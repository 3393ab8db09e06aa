"""lessons_lib.models.parallel_wavenet: what is parallel in Parallel WaveNet, timed (Chapter 7, notebook 07f).

Three comparisons per size, float32, batch 1 (one utterance), one torch thread, no gradients, a 40-band mel
upsampled by 4 x 4 x 8 = hop 128, 8 frames = 1,024 samples:

1. the teacher scoring a waveform in one teacher-forced pass (ours) against the teacher generating it one sample
   at a time with cached queues (``sample_teacher``, the reference): the scored Gaussians equal the generated
   ones (checked);
2. the IAF student generating the same length in one pass (``IAFStudent.sample``, ours) against the teacher
   generating (shape and finiteness checked: different models);
3. the student scoring a waveform, which needs its noise back step by step (``IAFStudent.inverse``, ours),
   against the student generating it (the inverse recovers the noise, checked): the opposite trade.

Sizes: the recipe's quick teacher (10 layers x 32 channels) and student (4 flows of 2 layers x 16 channels), and
a larger pair (teacher 20 layers x 64 channels in 2 cycles, student 4 flows of 4 layers x 32 channels).
"""

from __future__ import annotations

import numpy as np
import torch

from lessons_lib.models.parallel_wavenet import GaussianWaveNet, IAFStudent, sample_teacher

from .core import Case, assert_close, one_thread

# (teacher layers, stacks, channels; student flows, channels; frames)
SIZES = [(10, 1, 32, (2, 2, 2, 2), 16, 8), (20, 2, 64, (4, 4, 4, 4), 32, 8)]
CONDITIONING = dict(cond_channels=40, hop_length=128, upsample_scales=(4, 4, 8))


def _setup(layers, stacks, channels, flows, student_channels, frames):
    def setup():
        torch.manual_seed(0)
        teacher = GaussianWaveNet(layers, stacks, channels, 2 * channels, channels, 3, **CONDITIONING).eval()
        student = IAFStudent(flows, student_channels, 2 * student_channels, student_channels, 3,
                             **CONDITIONING).eval()
        c = torch.randn(1, 40, frames, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            x = student.sample(c, generator=torch.Generator().manual_seed(2)).x
        return {"teacher": teacher, "student": student, "c": c, "x": x}
    return setup


def _teacher_generation(teacher, student, c, x):
    with one_thread():
        return sample_teacher(teacher, c=c, generator=torch.Generator().manual_seed(0))


def _scoring_vs_generation(teacher, student, c, x):
    """Score the teacher's own sample (so the two must agree), timing the scoring pass only."""
    with torch.no_grad(), one_thread():
        return teacher(x, c)


def _student_generation(teacher, student, c, x):
    with torch.no_grad(), one_thread():
        return student.sample(c, generator=torch.Generator().manual_seed(0))


def _student_scoring(teacher, student, c, x):
    with one_thread():
        return student.inverse(x, c)


def _setup_teacher_sample(*size):
    base = _setup(*size)

    def setup():
        inputs = base()
        with one_thread():
            inputs["x"] = sample_teacher(inputs["teacher"], c=inputs["c"],
                                         generator=torch.Generator().manual_seed(0))[0]
        return inputs
    return setup


def _same_gaussians(scored, generated):
    mu, log_s = scored
    _, mu_gen, log_s_gen = generated
    assert_close(mu.numpy(), mu_gen.numpy(), rtol=1e-4, atol=1e-4)
    assert_close(log_s.numpy(), log_s_gen.numpy(), rtol=1e-4, atol=1e-4)


def _both_waveforms(student_out, teacher_out):
    assert student_out.x.shape == teacher_out[0].shape
    assert bool(torch.isfinite(student_out.x).all()) and bool(torch.isfinite(teacher_out[0]).all())


def _student_regenerate(teacher, student, c, x):
    with torch.no_grad(), one_thread():
        return student.sample(c, generator=torch.Generator().manual_seed(2))


def _inverse_check(z, regenerated):
    np.testing.assert_allclose(z.numpy(), regenerated.z.numpy(), rtol=0, atol=1e-3)


def _label(layers, stacks, channels, flows, student_channels, frames):
    return (f"teacher {layers} layers x {channels} ch, student {len(flows)} flows x {flows[0]} layers x "
            f"{student_channels} ch, {frames * 128} samples")


CASES = [
    case
    for size in SIZES
    for case in (
        Case(f"models.parallel_wavenet teacher scoring, one pass, {_label(*size)} "
             "(vs sample_teacher, one sample at a time)",
             _setup_teacher_sample(*size), _scoring_vs_generation, _teacher_generation, _same_gaussians),
        Case(f"models.parallel_wavenet IAFStudent.sample, one pass, {_label(*size)} "
             "(vs sample_teacher, one sample at a time)",
             _setup(*size), _student_generation, _teacher_generation, _both_waveforms),
        Case(f"models.parallel_wavenet IAFStudent.inverse (scoring), step by step, {_label(*size)} "
             "(vs IAFStudent.sample)",
             _setup(*size), _student_scoring, _student_regenerate, _inverse_check),
    )
]

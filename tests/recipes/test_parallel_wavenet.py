"""lessons_lib.recipes.parallel_wavenet: data, the two-stage loss, training, vocoding and the scores of 07f.

On the real FSDD (the vocoder recipe's prepared data): ``collate`` against slicing the recordings by hand
(and its zero padding), the mels the vocoder recipe's; ``build`` deterministic and leaving the global random
state alone; ``loss`` against the definitions by hand (the teacher's Gaussian NLL with ``torch.distributions``;
the student's closed-form KL plus the scaled power loss, from the same random state); training of both stages
reproducible and resumable (``assert_reproducible_and_resumable``), the teacher stage lowering its NLL and the
student stage its KL on toy data; ``vocode_teacher``/``vocode_student`` equal to the models' samplers by hand;
``band_energy_db`` against librosa's mel spectrogram; ``evaluate``'s LSDs equal to the quality function applied
by hand; bad settings and mismatched data raising clear errors. No timing is asserted (only that the table
has positive rates).
"""

from __future__ import annotations

import dataclasses

import librosa
import numpy as np
import pytest
import torch
from torch.distributions import Normal

from lessons_lib import quality
from lessons_lib.models.parallel_wavenet import distillation_kl, power_loss, sample_teacher
from lessons_lib.recipes import parallel_wavenet as recipe
from lessons_lib.recipes import wavenet_vocoder

from .conftest import assert_reproducible_and_resumable, prepared

pytestmark = pytest.mark.usefixtures("one_torch_thread")

TINY = recipe.Config(layers=2, kernel_size=2, residual_channels=4, gate_channels=8, skip_channels=4,
                     student_flows=(1, 1), student_channels=4, segment_frames=2, batch_size=4, epochs=1,
                     student_epochs=1, n_train=8, n_test=4)


@pytest.fixture(scope="module")
def utterances(real_fsdd):
    with prepared(recipe, real_fsdd, TINY) as d:
        yield d


def toy(n=6, hops=(5, 3, 8, 2, 6, 4), hop=128, seed=0):
    rng = np.random.default_rng(seed)
    waveforms = tuple((0.3 * np.sin(np.arange(h * hop) * (0.05 + 0.02 * i))
                       + 0.05 * rng.standard_normal(h * hop)).astype(np.float32) for i, h in enumerate(hops[:n]))
    mels = tuple(wavenet_vocoder.log_mel(y, recipe.Config()) for y in waveforms)
    classes = tuple(np.zeros(len(y), dtype=np.int64) for y in waveforms)
    return recipe.Utterances(waveforms, classes, mels, np.arange(n) % 6, np.arange(n - 2), np.arange(n - 2, n),
                             255, 8000, hop)


def test_collate_slices_waveforms_and_pads_with_zeros():
    d = toy()
    hop = d.hop_length
    x, c = recipe.collate(d, 3, [0 * wavenet_vocoder.STRIDE + 1, 3 * wavenet_vocoder.STRIDE + 0])
    assert x.shape == (2, 3 * hop) and x.dtype == torch.float32 and c.shape == (2, 40, 3)
    np.testing.assert_array_equal(x[0].numpy(), d.waveforms[0][hop:4 * hop])
    np.testing.assert_array_equal(x[1, :2 * hop].numpy(), d.waveforms[3])
    assert (x[1, 2 * hop:] == 0).all()
    _, c_vocoder = wavenet_vocoder.collate(d, 3, [wavenet_vocoder.STRIDE + 0, 1])
    np.testing.assert_array_equal(recipe.collate(d, 3, [wavenet_vocoder.STRIDE + 0, 1])[1].numpy(),
                                  c_vocoder.numpy())


def test_prepared_data_is_the_vocoders(utterances):
    d = utterances
    assert len(d.train) == 8 and len(d.test) == 4
    assert all(len(y) == (m.shape[1] - 1) * 128 for y, m in zip(d.waveforms[:50], d.mels[:50]))


def test_build_is_deterministic():
    state = torch.get_rng_state()
    a, b = recipe.build(TINY), recipe.build(TINY)
    assert torch.equal(torch.get_rng_state(), state)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    assert a.teacher.hop_length == a.student.hop_length == 128 and len(a.student.flows) == 2


def test_loss_of_each_stage_by_hand():
    model = recipe.build(dataclasses.replace(TINY, power_weight=0.5)).double()
    x, c = recipe.collate(toy(), 2, [wavenet_vocoder.STRIDE + 1, 2])
    x, c = x.double(), c.double()
    mu, log_s = model.teacher(x, c)
    expected = -Normal(mu, log_s.exp()).log_prob(x).mean()
    torch.testing.assert_close(recipe.loss(model, (x, c, 0)), expected, rtol=0, atol=1e-10)
    torch.manual_seed(5)
    ours = recipe.loss(model, (x, c, 1), power_weight=0.5)
    torch.manual_seed(5)
    sample = model.student.sample(c)
    by_hand = distillation_kl(sample, model.teacher, c).kl + 0.5 * power_loss(sample.x, x) / recipe.POWER_SCALE
    torch.testing.assert_close(ours, by_hand, rtol=1e-12, atol=1e-12)


def test_training_is_reproducible_and_resumable(utterances, tmp_path):
    first = assert_reproducible_and_resumable(recipe, TINY, utterances, utterances.train[:4],
                                              tmp_path / "pw.safetensors")
    assert isinstance(first, recipe.TeacherStudent)


def test_each_stage_lowers_its_loss():
    d = toy()
    config = dataclasses.replace(TINY, epochs=4, student_epochs=6, batch_size=2, segments_per_recording=4,
                                 power_weight=0.0, student_lr=1e-2)
    _, history = recipe.train(config, d, device="cpu", progress=False)
    assert history.epochs == 10 and len(history.valid["KL"]) == 6
    assert history.loss[3] < history.loss[0]
    assert history.valid["KL"][-1] < history.valid["KL"][0]


def test_vocoding_equals_the_samplers_by_hand():
    model = recipe.build(TINY)
    mels = [np.full((40, 3), -30.0), np.full((40, 2), -40.0)]
    y = recipe.vocode_teacher(model.teacher, mels, TINY, generator=torch.Generator().manual_seed(0))
    c = torch.tensor(recipe.normalize(np.stack([mels[0][:, :2], np.full((40, 2), -40.0)])), dtype=torch.float32)
    c[1, :, 1] = recipe.normalize(-40.0)
    x = sample_teacher(model.teacher, c=c, generator=torch.Generator().manual_seed(0))[0]
    np.testing.assert_array_equal(y[0], x[0].numpy())
    np.testing.assert_array_equal(y[1], x[1, :128].numpy())
    s = recipe.vocode_student(model.student, mels, TINY, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        xs = model.student.sample(c, generator=torch.Generator().manual_seed(1)).x
    np.testing.assert_array_equal(s[0], xs[0].numpy())
    np.testing.assert_array_equal(s[1], xs[1, :128].numpy())


def test_band_energy_against_librosa():
    y = np.random.default_rng(0).standard_normal(4000) * 0.1
    S = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=8000, n_fft=512, hop_length=128, n_mels=40),
                            top_db=80.0)
    expected = 10 * np.log10(np.mean(10 ** (S / 10), axis=1))
    np.testing.assert_allclose(recipe.band_energy_db(y, TINY), expected, rtol=0, atol=1e-4)


def test_evaluate_scores_against_the_quality_functions(utterances):
    model = recipe.build(TINY)
    out = recipe.evaluate(model, TINY, utterances, device="cpu", timing=False)
    reference = np.concatenate([utterances.waveforms[u] for u in utterances.test]).astype(np.float64)
    mels = [utterances.mels[u] for u in utterances.test]
    g = torch.Generator().manual_seed(TINY.seed)
    teacher = np.concatenate(recipe.vocode_teacher(model.teacher, mels, TINY, generator=g))
    student = np.concatenate(recipe.vocode_student(model.student, mels, TINY, generator=g))
    assert out["teacher LSD dB"] == quality.log_spectral_distance(reference, teacher.astype(np.float64))
    assert out["student LSD dB"] == quality.log_spectral_distance(reference, student.astype(np.float64))
    assert out["test KL"] > 0 and out["student parameters"] < out["teacher parameters"] * 2


def test_timing_table_has_positive_rates():
    out = recipe.timings(recipe.build(TINY), np.full((40, 5), -30.0), TINY, frames=4, teacher_samples=100,
                         repeat=1)
    assert out["timing samples"] == 512
    assert all(out[k] > 0 for k in ("teacher generation", "student generation", "teacher scoring"))


@pytest.mark.parametrize("change, match", [
    ({"kl_method": "exact"}, "kl_method"),
    ({"student_flows": ()}, "student_flows"),
    ({"power_weight": -1.0}, "power_weight"),
    ({"upsample_scales": (4, 4)}, "multiply to"),
])
def test_bad_settings(change, match):
    with pytest.raises(ValueError, match=match):
        recipe.build(dataclasses.replace(TINY, **change))


def test_mismatched_data_and_mels_are_refused():
    d = toy()
    with pytest.raises(ValueError, match="prepare it with the same config"):
        recipe.train(dataclasses.replace(TINY, n_mels=20), d, device="cpu", progress=False)
    model = recipe.build(TINY)
    with pytest.raises(ValueError, match="n_mels=40"):
        recipe.vocode_student(model.student, [np.zeros((20, 3))], TINY)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        recipe.vocode_teacher(model.teacher, [np.zeros((40, 3))], TINY, temperature=0.0)

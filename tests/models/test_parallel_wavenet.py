"""lessons_lib.models.parallel_wavenet: the Gaussian teacher, the IAF student, the distillation losses.

References: ``torch.distributions.Normal`` (log density, entropy, KL of two Gaussians), librosa's STFT (the
power loss), ``torch.autograd.functional.jacobian`` (the student's log-determinant) and the definitions
themselves (float64). Teacher: scoring in one pass equals the cached step-by-step generator's Gaussian at every
step, fed the same samples (1e-10); causality as a law (hypothesis). Student: the composed per-step
affine map equals the flows applied one by one, its Jacobian is lower triangular with diagonal ``s_n``, the
sequential inverse recovers the noise (1e-9), perturbing ``z_n`` changes ``x`` only from ``n`` on (hypothesis).
Losses: the Monte-Carlo KL converges to the closed form (many draws, four standard errors), KL >= 0 and exactly
0 for a student equal to the teacher. Bad input raises errors that name the argument.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.distributions import Normal, kl_divergence

from lessons_lib.models.parallel_wavenet import (
    GaussianWaveNet, IAFStudent, IncrementalGaussianWaveNet, StudentSample, distillation_kl, gaussian_entropy,
    gaussian_kl, gaussian_log_prob, power_loss, sample_teacher, shift_right)
from lessons_lib.models.wavenet import WaveNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SMALL = dict(residual_channels=4, gate_channels=8, skip_channels=4)


def teacher(seed=0, cond=True, layers=4, **kw):
    torch.manual_seed(seed)
    kw = {**SMALL, **kw}
    cond_kw = dict(cond_channels=3, hop_length=4, upsample_scales=(2, 2)) if cond else {}
    return GaussianWaveNet(layers, 2, kernel_size=2, **cond_kw, **kw).double().eval()


def student(seed=0, cond=True, flows=(2, 1, 2)):
    torch.manual_seed(seed)
    cond_kw = dict(cond_channels=3, hop_length=4, upsample_scales=(2, 2)) if cond else {}
    return IAFStudent(flows, kernel_size=2, **SMALL, **cond_kw).double().eval()


def mel(batch=2, frames=5, seed=0):
    return torch.randn(batch, 3, frames, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def randomise_(model, seed, scale=0.5):
    """Random weights everywhere (the upsampler's initialisation is a plain repetition)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


# --------------------------------------------------------------------------- the teacher


def test_teacher_is_a_wavenet_with_a_scalar_input_and_two_outputs():
    model = teacher(cond=False)
    assert isinstance(model, WaveNet) and model.first_conv.in_channels == 1
    assert model.last_conv_layers[-1].out_channels == 2
    reference = WaveNet(2, 4, 2, 4, 8, 4, 2)
    count = sum(p.numel() for p in model.parameters())
    assert count == sum(p.numel() for p in reference.parameters()) - 4  # one input channel instead of two


def test_teacher_scoring_equals_step_by_step_generation():
    model = randomise_(teacher(), 1)
    c = mel()
    x, mu, log_s = sample_teacher(model, c=c, generator=torch.Generator().manual_seed(3))
    assert x.shape == mu.shape == log_s.shape == (2, 20)
    scored_mu, scored_log_s = model(x, c)
    torch.testing.assert_close(scored_mu, mu, rtol=0, atol=1e-10)
    torch.testing.assert_close(scored_log_s, log_s, rtol=0, atol=1e-10)
    # and the draws are mu + s * eps with the generator's eps, step by step
    g = torch.Generator().manual_seed(3)
    eps = torch.stack([torch.randn(2, generator=g, dtype=torch.float64) for _ in range(20)], dim=1)
    torch.testing.assert_close(x, mu + log_s.exp() * eps, rtol=0, atol=1e-12)


def test_incremental_prime_equals_steps_and_temperature_scales_the_noise():
    model = randomise_(teacher(cond=False), 2)
    u = torch.randn(1, 9, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    stepped = IncrementalGaussianWaveNet(model)
    for t in range(9):
        last = stepped.step(u[:, t])
    primed = IncrementalGaussianWaveNet(model).prime(u)
    torch.testing.assert_close(primed[0], last[0], rtol=0, atol=1e-10)
    x1, mu1, log_s1 = sample_teacher(model, 6, generator=torch.Generator().manual_seed(0))
    assert x1.shape == (1, 6)
    # tau -> 0: the mean path, x_n = mu_n(x_<n)
    x0, mu0, _ = sample_teacher(model, 6, generator=torch.Generator().manual_seed(0), temperature=1e-12)
    torch.testing.assert_close(x0, mu0, rtol=0, atol=1e-10)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 15), seed=st.integers(0, 1000))
def test_teacher_is_causal(n, seed):
    model = randomise_(teacher(cond=False), seed % 7)
    x = torch.randn(1, 16, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    y = x.clone()
    y[0, n] += 1.0
    (mu_x, ls_x), (mu_y, ls_y) = model(x), model(y)
    assert torch.equal(mu_x[:, :n + 1], mu_y[:, :n + 1]) and torch.equal(ls_x[:, :n + 1], ls_y[:, :n + 1])


def test_teacher_log_prob_against_torch_normal_and_the_floor():
    model = randomise_(teacher(cond=False, log_scale_min=-2.0), 5, scale=2.0)
    x = torch.randn(3, 12, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    mu, log_s = model(x)
    assert log_s.min().item() >= -2.0 and (log_s == -2.0).any()  # the floor binds somewhere
    torch.testing.assert_close(model.log_prob(x), Normal(mu, log_s.exp()).log_prob(x), rtol=0, atol=1e-10)


def test_length_one_and_long_inputs():
    model = teacher(cond=False)
    mu, log_s = model(torch.zeros(2, 1, dtype=torch.float64))
    assert mu.shape == (2, 1)
    x, _, _ = sample_teacher(model, 1, batch_size=2)
    assert x.shape == (2, 1)
    s = student(cond=False)
    out = s.sample(length=1, batch_size=3)
    assert out.x.shape == (3, 1)
    torch.testing.assert_close(s.inverse(out.x), out.z, rtol=0, atol=1e-10)
    long = s.sample(length=5000, generator=torch.Generator().manual_seed(0))
    assert long.x.shape == (1, 5000) and torch.isfinite(long.x).all()


# --------------------------------------------------------------------------- the student


def test_student_composes_its_flows_into_one_affine_map_per_step():
    model = randomise_(student(), 3, scale=0.3)
    c = mel()
    out = model.sample(c, generator=torch.Generator().manual_seed(0))
    # by hand: the flows one after the other
    c_up = model.upsample_conv(c)
    y, log_det = out.z, torch.zeros_like(out.z)
    for flow in model.flows:
        mu_k, log_s_k = flow(y, c_up)
        y = y * log_s_k.exp() + mu_k
        log_det = log_det + log_s_k
    torch.testing.assert_close(out.x, y, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.log_s, log_det, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.x, out.z * out.log_s.exp() + out.mu, rtol=0, atol=1e-12)
    torch.testing.assert_close(out.log_prob, Normal(out.mu, out.log_s.exp()).log_prob(out.x), rtol=0, atol=1e-10)


def test_student_jacobian_is_lower_triangular_with_diagonal_s():
    model = randomise_(student(cond=False), 4, scale=0.3)
    z = torch.randn(1, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: model(v)[0], z)[0, :, 0, :]  # (T, T): dx_n / dz_m
    torch.testing.assert_close(J, J.tril(), rtol=0, atol=0)
    _, _, log_s = model(z)
    torch.testing.assert_close(J.diagonal(), log_s[0].exp(), rtol=0, atol=1e-12)
    # change of variables: log p_S(x) = log N(z; 0, I) - log|det J|
    log_p = Normal(0.0, 1.0).log_prob(z).sum() - torch.linalg.slogdet(J)[1]
    torch.testing.assert_close(model.log_prob(model(z)[0]).sum(), log_p, rtol=0, atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 23), seed=st.integers(0, 1000))
def test_student_is_causal(n, seed):
    """Perturbing z_n changes x only at n and after; mu and s only after n (they see z_<n)."""
    model = randomise_(student(cond=False), seed % 5, scale=0.3)
    z = torch.randn(2, 24, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    w = z.clone()
    w[:, n] += 1.0
    (x1, mu1, ls1), (x2, mu2, ls2) = model(z), model(w)
    assert torch.equal(x1[:, :n], x2[:, :n]) and not torch.equal(x1[:, n], x2[:, n])
    assert torch.equal(mu1[:, :n + 1], mu2[:, :n + 1]) and torch.equal(ls1[:, :n + 1], ls2[:, :n + 1])


def test_student_inverse_recovers_the_noise():
    model = randomise_(student(), 6, scale=0.3)
    c = mel(frames=8)
    out = model.sample(c, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.inverse(out.x, c), out.z, rtol=0, atol=1e-9)
    torch.testing.assert_close(model.log_prob(out.x, c), out.log_prob, rtol=0, atol=1e-8)
    assert model.receptive_field == 1 + sum(f.receptive_field for f in model.flows)


def test_student_temperature_scales_z():
    model = student()
    c = mel()
    a = model.sample(c, generator=torch.Generator().manual_seed(0))
    b = model.sample(c, generator=torch.Generator().manual_seed(0), temperature=0.5)
    torch.testing.assert_close(b.z, 0.5 * a.z, rtol=0, atol=0)


# --------------------------------------------------------------------------- losses


@settings(max_examples=30, deadline=None)
@given(values=st.lists(st.floats(-3, 3), min_size=4, max_size=4))
def test_gaussian_functions_against_torch(values):
    mu_p, ls_p, mu_q, ls_q = (torch.tensor(v, dtype=torch.float64) for v in values)
    p, q = Normal(mu_p, ls_p.exp()), Normal(mu_q, ls_q.exp())
    kl = gaussian_kl(mu_p, ls_p, mu_q, ls_q)
    torch.testing.assert_close(kl, kl_divergence(p, q), rtol=1e-10, atol=1e-10)
    assert kl.item() >= -1e-12
    assert gaussian_kl(mu_p, ls_p, mu_p, ls_p).item() == 0.0
    torch.testing.assert_close(gaussian_entropy(ls_p), p.entropy(), rtol=0, atol=1e-12)
    torch.testing.assert_close(gaussian_log_prob(mu_q, mu_p, ls_p), p.log_prob(mu_q), rtol=0, atol=1e-10)


def test_monte_carlo_kl_of_one_step_converges_to_the_closed_form():
    g = torch.Generator().manual_seed(0)
    mu_p, ls_p, mu_q, ls_q = torch.tensor([0.3, -0.5, 0.2, 0.1], dtype=torch.float64)
    x = mu_p + ls_p.exp() * torch.randn(400_000, generator=g, dtype=torch.float64)
    terms = gaussian_log_prob(x, mu_p, ls_p) - gaussian_log_prob(x, mu_q, ls_q)
    se = terms.std() / len(terms) ** 0.5
    assert abs(terms.mean() - gaussian_kl(mu_p, ls_p, mu_q, ls_q)) < 4 * se


def test_distillation_monte_carlo_converges_to_the_closed_form():
    s, t = randomise_(student(cond=False, flows=(1, 1)), 7, 0.3), randomise_(teacher(cond=False, layers=2), 8, 0.3)
    out = s.sample(length=6, batch_size=50_000, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        closed = distillation_kl(out, t)
        mc = distillation_kl(out, t, method="monte_carlo")
        mu_t, ls_t = t(out.x)
        per_row_mc = (gaussian_log_prob(out.x, mu_t, ls_t).neg() - gaussian_entropy(out.log_s)).mean(1)
        per_row_closed = gaussian_kl(out.mu, out.log_s, mu_t, ls_t).mean(1)
    se = (per_row_mc - per_row_closed).std() / len(per_row_mc) ** 0.5
    assert closed.kl > 0.05  # a real gap, so that agreement means something
    assert abs(mc.kl - closed.kl) < 4 * se
    torch.testing.assert_close(closed.entropy, mc.entropy, rtol=0, atol=0)
    torch.testing.assert_close(closed.kl, closed.cross_entropy - closed.entropy, rtol=0, atol=1e-12)


def test_kl_is_zero_when_the_student_is_the_teacher():
    """A one-flow student with the teacher's weights, both blind to the past (dilated convolutions zeroed):
    then mu_n, s_n of both depend on the mel only, the distributions are equal and the KL is 0."""
    torch.manual_seed(0)
    cond = dict(cond_channels=3, hop_length=4, upsample_scales=(2, 2))
    t = randomise_(GaussianWaveNet(3, 1, kernel_size=2, **SMALL, **cond).double(), 9, 0.3)
    s = IAFStudent((3,), kernel_size=2, **SMALL, cond_channels=3, hop_length=4, upsample_scales=(2, 2)).double()
    with torch.no_grad():
        for unit in t.conv_layers:
            unit.conv.weight.zero_()
        s.upsample_conv.load_state_dict(t.upsample_conv.state_dict())
        s.flows[0].load_state_dict({k: v for k, v in t.state_dict().items() if not k.startswith("upsample_conv")},
                                   strict=True)
    c = mel()
    out = s.sample(c, generator=torch.Generator().manual_seed(0))
    kl = distillation_kl(out, t, c)
    assert abs(kl.kl.item()) < 1e-12
    # and a different student is strictly worse
    s2 = randomise_(student(), 3, 0.3)
    assert distillation_kl(s2.sample(c, generator=torch.Generator().manual_seed(0)), t, c).kl > 0.01


def test_distillation_gradients_reach_the_student_only():
    s, t = student(cond=False, flows=(2, 2)), teacher(cond=False, layers=2)
    t.requires_grad_(False)
    out = s.sample(length=16, generator=torch.Generator().manual_seed(0))
    distillation_kl(out, t).kl.backward()
    unused = {f"flows.{k}.conv_layers.1.conv1x1_out.{w}" for k in (0, 1) for w in ("weight", "bias")}
    assert all((p.grad is None) == (name in unused) for name, p in s.named_parameters())  # last unit's residual
    assert all(p.grad is None for p in t.parameters())


def test_power_loss_against_librosa():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((2, 3000)), rng.standard_normal((2, 3000))
    ours = power_loss(torch.from_numpy(x), torch.from_numpy(y), n_fft=256, hop_length=64).item()
    P = lambda w: np.abs(librosa.stft(w, n_fft=256, hop_length=64)) ** 2  # noqa: E731
    frames = [np.sum((P(a) - P(b)) ** 2, axis=0) for a, b in zip(x, y)]
    assert np.isclose(ours, np.mean(np.concatenate(frames)), rtol=1e-10)


# --------------------------------------------------------------------------- bad input


def test_bad_input_raises_clear_errors():
    t, s = teacher(), student()
    with pytest.raises(ValueError, match="frames x hop_length"):
        t(torch.zeros(2, 21, dtype=torch.float64), mel())
    with pytest.raises(ValueError, match="frames x hop_length"):
        s(torch.zeros(2, 24, dtype=torch.float64), mel())
    with pytest.raises(ValueError, match="c is required"):
        s(torch.zeros(2, 20, dtype=torch.float64))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        sample_teacher(t, c=mel(), temperature=0.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        s.sample(mel(), temperature=-1.0)
    with pytest.raises(ValueError, match="covers 20 samples"):
        sample_teacher(t, 21, c=mel())
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        t(np.zeros((2, 20)), mel())
    with pytest.raises(ValueError, match="x must be 2-D"):
        t(torch.zeros(2, 1, 20, dtype=torch.float64), mel())
    with pytest.raises(TypeError, match="GaussianWaveNet"):
        IncrementalGaussianWaveNet(WaveNet(layers=2))
    with pytest.raises(TypeError, match="floating-point"):
        IncrementalGaussianWaveNet(teacher(cond=False)).step(torch.zeros(1, dtype=torch.long))
    with pytest.raises(ValueError, match="flows must be a non-empty"):
        IAFStudent(())
    with pytest.raises(ValueError, match="method must be"):
        distillation_kl(s.sample(mel()), t, mel(), method="exact")
    with pytest.raises(TypeError, match="StudentSample"):
        distillation_kl((1, 2), t, mel())
    with pytest.raises(ValueError, match="same shape"):
        power_loss(torch.zeros(1, 600), torch.zeros(1, 500))


def test_non_finite_kl_stops_with_a_clear_error():
    t, s = teacher(cond=False), student(cond=False)
    out = s.sample(length=8)
    bad = StudentSample(out.x, out.z, out.mu, out.log_s.clone().fill_(float("inf")), out.log_prob)
    with pytest.raises(FloatingPointError, match="distillation KL"):
        distillation_kl(bad, t)
    with torch.no_grad():
        t.last_conv_layers[-1].bias.fill_(float("nan"))
    with pytest.raises(FloatingPointError, match="distillation KL"):
        distillation_kl(out, t, method="monte_carlo")


def test_shift_right():
    x = torch.arange(1.0, 5.0).reshape(1, 4)
    assert shift_right(x).tolist() == [[0.0, 1.0, 2.0, 3.0]]

"""lessons_lib.models.flows: the invertible layers, RealNVP and Glow, and their log-determinants.

Every layer and every assembled flow, in float64 with random parameters: the inverse
undoes the forward map to 1e-10, and ``log_det`` equals log|det J| of the Jacobian
that torch.autograd.functional.jacobian computes (hypothesis over shapes, seeds,
masks and conditioning). References: ActNorm's initialisation equals torch's
BatchNorm in training mode (zero mean, unit variance per channel); the LU 1x1
convolution's log-det equals torch.linalg.slogdet of the assembled W; squeeze2d equals
F.pixel_unshuffle, squeeze1d WaveGlow's unfold of groups; the coupling layers equal their
formula written out with the network's outputs. Then bad input: odd lengths, a
singular weight, wrong conditioning, non-tensors, a network of the wrong output shape.
The assembled models (RealNVP and Glow for points and images, MultiScaleFlow's factor-out)
obey the same two laws; a 2-D flow's density integrates to 1 on a grid; sampling is the
inverse of scaled normal draws; dequantisation and bits per dimension against closed forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from lessons_lib.models.flows import (ActNorm, AdditiveCoupling, AffineCoupling, ChannelLinear, Flow,
                                      InvertibleConv1x1, Logit, MultiScaleFlow, Permutation, Reverse, Squeeze,
                                      Squeeze1d, bits_per_dim, dequantize, glow_2d, glow_image, realnvp_2d,
                                      realnvp_image, standard_normal_log_prob, squeeze1d, squeeze2d, unsqueeze1d,
                                      unsqueeze2d)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

INVERSE = dict(rtol=0, atol=1e-10)
LOGDET = dict(rtol=1e-9, atol=1e-9)
PROPERTY = settings(max_examples=20, deadline=None)


def generator(*seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(seed)).generate_state(1)[0]))


def randn(*shape, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64)


def randomize(module: nn.Module, gen: torch.Generator, scale: float = 0.5) -> nn.Module:
    """float64, every floating-point parameter drawn from N(0, scale^2): no global RNG, no identity start."""
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(scale * randn(*p.shape, gen=gen))
    return module


def jacobian_log_det(f, x: torch.Tensor) -> torch.Tensor:
    """log|det J| per example from autograd's full Jacobian; examples must not interact."""
    batch, size = x.shape[0], x[0].numel()
    jac = torch.autograd.functional.jacobian(lambda v: f(v).reshape(batch, -1), x).reshape(batch, size, batch, size)
    for b in range(batch):  # off-diagonal blocks: one example never moves another
        others = [c for c in range(batch) if c != b]
        assert torch.all(jac[b][:, others] == 0)
    blocks = torch.stack([jac[b, :, b, :] for b in range(batch)])
    sign, log_abs = torch.linalg.slogdet(blocks)
    assert torch.all(sign != 0)
    return log_abs


def check_flow_step(step: nn.Module, x: torch.Tensor, cond: torch.Tensor | None = None) -> None:
    """The two laws: exact inverse, and log_det = log|det J| (autograd)."""
    z, log_det = step(x, cond)
    assert log_det.shape == (x.shape[0],) and log_det.dtype == x.dtype
    assert z.numel() == x.numel()
    torch.testing.assert_close(step.inverse(z, cond), x, **INVERSE)
    torch.testing.assert_close(log_det, jacobian_log_det(lambda v: step(v, cond)[0], x), **LOGDET)


# =========================================================================== ActNorm


def test_actnorm_initialisation_equals_batch_norm_statistics():
    gen = generator(1)
    x = 2.5 + 3 * randn(16, 5, 9, gen=gen)
    x[:, 2] *= 0.01  # channels of very different scales
    norm = ActNorm(5, eps=1e-15).double()
    assert not bool(norm.initialized)
    z, log_det = norm(x)
    assert bool(norm.initialized)
    reference = nn.BatchNorm1d(5, eps=1e-15, affine=False, momentum=None).double().train()(x)
    torch.testing.assert_close(z, reference, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(z.mean(dim=(0, 2)), torch.zeros(5, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(z.var(dim=(0, 2), unbiased=False), torch.ones(5, dtype=torch.float64),
                               rtol=0, atol=1e-10)
    torch.testing.assert_close(log_det, torch.full((16,), -9 * 0.5 * torch.log(x.var(dim=(0, 2), unbiased=False)).sum(),
                                                   dtype=torch.float64), rtol=1e-12, atol=1e-12)


def test_actnorm_initialises_images_per_channel_and_only_once():
    gen = generator(2)
    x = 1 + 4 * randn(8, 3, 4, 5, gen=gen)
    norm = ActNorm(3).double()
    z, _ = norm(x)
    torch.testing.assert_close(z.mean(dim=(0, 2, 3)), torch.zeros(3, dtype=torch.float64), rtol=0, atol=1e-12)
    torch.testing.assert_close(z.var(dim=(0, 2, 3), unbiased=False), torch.ones(3, dtype=torch.float64),
                               rtol=0, atol=1e-6)
    state = {k: v.clone() for k, v in norm.state_dict().items()}
    norm(10 * randn(8, 3, 4, 5, gen=gen))  # a second batch does not re-initialise
    for k, v in norm.state_dict().items():
        assert torch.equal(v, state[k])
    fresh = ActNorm(3).double()
    fresh.load_state_dict(state)  # the flag travels with the state dict
    assert bool(fresh.initialized)
    torch.testing.assert_close(fresh(x)[0], z, rtol=0, atol=0)


def test_actnorm_inverse_before_initialisation_is_an_error():
    with pytest.raises(RuntimeError, match="not initialised"):
        ActNorm(2).inverse(torch.zeros(1, 2, 3))


def test_actnorm_constant_channel_gets_a_finite_scale():
    x = torch.zeros(4, 2, 3, dtype=torch.float64)
    x[:, 1] = torch.arange(12.0, dtype=torch.float64).reshape(4, 3)
    z, log_det = ActNorm(2).double()(x)
    assert torch.all(torch.isfinite(z)) and torch.all(torch.isfinite(log_det))


@PROPERTY
@given(seed=st.integers(0, 10_000), channels=st.integers(1, 4), positions=st.sampled_from([(1,), (3,), (2, 3)]),
       batch=st.integers(1, 3))
def test_actnorm_inverts_and_log_det_matches_jacobian(seed, channels, positions, batch):
    gen = generator(seed)
    norm = randomize(ActNorm(channels), gen)
    norm.initialized.fill_(True)
    check_flow_step(norm, randn(batch, channels, *positions, gen=gen))


# =========================================================================== InvertibleConv1x1


@pytest.mark.parametrize("lu", [True, False])
def test_invertible_conv_starts_as_a_rotation(lu):
    w = InvertibleConv1x1(6, lu, generator=generator(3)).double().weight_matrix().detach()
    torch.testing.assert_close(w @ w.T, torch.eye(6, dtype=torch.float64), rtol=0, atol=1e-6)
    torch.testing.assert_close(torch.linalg.det(w), torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-6)


def test_plain_and_lu_start_from_the_same_rotation():
    plain = InvertibleConv1x1(5, lu=False, generator=generator(4)).weight_matrix()
    lu = InvertibleConv1x1(5, lu=True, generator=generator(4)).weight_matrix()
    torch.testing.assert_close(lu, plain, rtol=0, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 2, 7, 32])
def test_lu_log_det_equals_slogdet_of_assembled_weight(channels):
    gen = generator(5, channels)
    conv = randomize(InvertibleConv1x1(channels, lu=True, generator=gen), gen)
    w = conv.weight_matrix()
    # the factors have the promised structure
    torch.testing.assert_close(w, conv.p @ (torch.tril(conv.lower, -1) + torch.eye(channels, dtype=torch.float64))
                               @ (torch.triu(conv.upper, 1) + torch.diag(conv.sign_s * conv.log_s.exp())),
                               rtol=0, atol=0)
    assert torch.equal(conv.p @ conv.p.T, torch.eye(channels, dtype=torch.float64))
    torch.testing.assert_close(conv.log_abs_det(), torch.linalg.slogdet(w)[1], rtol=1e-10, atol=1e-10)
    x = randn(2, channels, 3, gen=gen)
    torch.testing.assert_close(conv(x)[1], 3 * torch.linalg.slogdet(w)[1].expand(2), rtol=1e-10, atol=1e-10)


def test_invertible_conv_equals_conv1d_with_the_weight():
    gen = generator(6)
    conv = randomize(InvertibleConv1x1(4, lu=True, generator=gen), gen)
    x = randn(3, 4, 11, gen=gen)
    torch.testing.assert_close(conv(x)[0], F.conv1d(x, conv.weight_matrix().unsqueeze(-1)), rtol=1e-12, atol=1e-12)
    x2 = randn(2, 4, 3, 5, gen=gen)
    torch.testing.assert_close(conv(x2)[0], F.conv2d(x2, conv.weight_matrix()[..., None, None]),
                               rtol=1e-12, atol=1e-12)


@PROPERTY
@given(seed=st.integers(0, 10_000), channels=st.integers(1, 4), positions=st.sampled_from([(1,), (3,), (2, 2)]),
       lu=st.booleans())
def test_invertible_conv_inverts_and_log_det_matches_jacobian(seed, channels, positions, lu):
    gen = generator(seed)
    conv = randomize(InvertibleConv1x1(channels, lu, generator=gen), gen)
    if not lu:  # a random Gaussian matrix, away from singular: add the identity
        with torch.no_grad():
            conv.weight.add_(torch.eye(channels, dtype=torch.float64))
    check_flow_step(conv, randn(2, channels, *positions, gen=gen))


def test_singular_weight_is_a_clear_error():
    conv = InvertibleConv1x1(3, lu=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0]]))
    with pytest.raises(ValueError, match="singular"):
        conv.inverse(torch.zeros(1, 3, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="singular"):
        conv(torch.zeros(1, 3, 2, dtype=torch.float64))
    lu = InvertibleConv1x1(3, lu=True).double()
    with torch.no_grad():
        lu.log_s[1] = -math.inf
    with pytest.raises(ValueError, match="singular"):
        lu.inverse(torch.zeros(1, 3, 2, dtype=torch.float64))


# =========================================================================== coupling layers


def coupling_reference(layer: AffineCoupling, x: torch.Tensor, cond: torch.Tensor | None) -> torch.Tensor:
    """The channel-mask affine coupling written out from the network's raw output."""
    c_a = layer.channels_a
    x_a, x_b = (x[:, :c_a], x[:, c_a:]) if layer.parity == 0 else (x[:, -c_a:], x[:, :-c_a])
    inputs = x_a if cond is None else torch.cat([x_a, cond], dim=1)
    h, t = layer.network(inputs).chunk(2, dim=1)
    s = h if layer.log_scale_bound is None else layer.log_scale_bound * torch.tanh(h / layer.log_scale_bound)
    y_b = x_b * torch.exp(s) + t
    return torch.cat([x_a, y_b] if layer.parity == 0 else [y_b, x_a], dim=1)


@pytest.mark.parametrize("parity", [0, 1])
@pytest.mark.parametrize("channels,cond_channels,bound", [(2, 0, 3.0), (5, 3, 3.0), (4, 2, None)])
def test_affine_coupling_equals_its_formula(parity, channels, cond_channels, bound):
    gen = generator(7, parity, channels)
    layer = randomize(AffineCoupling(channels, 8, cond_channels, parity=parity, log_scale_bound=bound), gen)
    x = randn(3, channels, 6, gen=gen)
    cond = randn(3, cond_channels, 6, gen=gen) if cond_channels else None
    torch.testing.assert_close(layer(x, cond)[0], coupling_reference(layer, x, cond), rtol=1e-12, atol=1e-12)
    assert layer.channels_a + layer.channels_b == channels
    assert layer.channels_a == (channels // 2 if parity == 0 else channels - channels // 2)


@pytest.mark.parametrize("spatial_dims,shape", [(1, (3, 4, 7)), (2, (2, 3, 4, 5))])
@pytest.mark.parametrize("mask", ["channels", "checkerboard"])
def test_fresh_coupling_is_identity_and_x_a_passes_unchanged(spatial_dims, shape, mask):
    gen = generator(8)
    x = randn(*shape, gen=gen)
    for cls in (AffineCoupling, AdditiveCoupling):
        layer = cls(shape[1], 8, mask=mask, spatial_dims=spatial_dims).double()
        z, log_det = layer(x)
        assert torch.equal(z, x) and torch.equal(log_det, torch.zeros(shape[0], dtype=torch.float64))
        randomize(layer, gen)
        z, _ = layer(x)
        assert not torch.allclose(z, x)
        if mask == "channels":
            assert torch.equal(z[:, :shape[1] // 2], x[:, :shape[1] // 2])
        else:
            grids = torch.meshgrid(*[torch.arange(n) for n in shape[2:]], indexing="ij")
            kept = (sum(grids) % 2 == 0).expand_as(x)
            assert torch.equal(z[kept], x[kept]) and not torch.allclose(z[~kept], x[~kept])


def test_log_scale_bound_keeps_huge_network_outputs_finite():
    gen = generator(9)
    layer = randomize(AffineCoupling(2, 4, kernel_size=1), gen, scale=1e3)
    x = 1e3 * randn(5, 2, 1, gen=gen)
    z, log_det = layer(x)
    assert torch.all(torch.isfinite(z)) and torch.all(log_det.abs() <= 3.0 + 1e-12)


class RecordingNetwork(nn.Module):
    """A custom coupling network: records what it is called with."""

    def __init__(self, c_a, c_cond, c_out):
        super().__init__()
        self.conv = nn.Conv1d(c_a + c_cond, c_out, 3, padding=1)
        self.calls = []

    def forward(self, x_a, cond):
        self.calls.append((x_a, cond))
        return self.conv(x_a if cond is None else torch.cat([x_a, cond], dim=1))


@pytest.mark.parametrize("cond_channels", [0, 2])
def test_custom_network_contract(cond_channels):
    gen = generator(10)
    net = RecordingNetwork(2, cond_channels, 2 * 3)
    layer = randomize(AffineCoupling(5, 1, cond_channels, network=net), gen)
    x = randn(2, 5, 4, gen=gen)
    cond = randn(2, cond_channels, 4, gen=gen) if cond_channels else None
    z, log_det = layer(x, cond)
    x_a, seen_cond = net.calls[-1]
    assert torch.equal(x_a, x[:, :2]) and (seen_cond is cond)
    h, t = net.conv(x_a if cond is None else torch.cat([x_a, cond], 1)).chunk(2, 1)
    s = 3.0 * torch.tanh(h / 3.0)
    torch.testing.assert_close(z[:, 2:], x[:, 2:] * s.exp() + t, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(log_det, s.sum(dim=(1, 2)), rtol=1e-12, atol=1e-12)
    additive = randomize(AdditiveCoupling(5, 1, cond_channels, network=RecordingNetwork(2, cond_channels, 3)), gen)
    check_flow_step(additive, x, cond)


def test_network_of_the_wrong_output_shape_is_a_clear_error():
    layer = AffineCoupling(4, 1, network=nn.Conv1d(2, 2, 1)).double()  # returns 2 channels, 4 expected
    layer.network = _ignore_cond(layer.network)
    with pytest.raises(ValueError, match=r"2 \* channels_b"):
        layer(torch.zeros(1, 4, 3, dtype=torch.float64))


class _ignore_cond(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x_a, cond):
        return self.net(x_a)


CONDITIONED = st.sampled_from([0, 2])


@PROPERTY
@given(seed=st.integers(0, 10_000), channels=st.integers(2, 4), length=st.integers(1, 4), cond_channels=CONDITIONED,
       mask=st.sampled_from(["channels", "checkerboard"]), parity=st.sampled_from([0, 1]),
       bound=st.sampled_from([3.0, None]), kernel_size=st.sampled_from([1, 3]))
def test_affine_coupling_inverts_and_log_det_matches_jacobian(seed, channels, length, cond_channels, mask, parity,
                                                              bound, kernel_size):
    gen = generator(seed)
    layer = randomize(AffineCoupling(channels, 6, cond_channels, mask=mask, parity=parity, log_scale_bound=bound,
                                     kernel_size=kernel_size), gen)
    cond = randn(2, cond_channels, length, gen=gen) if cond_channels else None
    check_flow_step(layer, randn(2, channels, length, gen=gen), cond)


@PROPERTY
@given(seed=st.integers(0, 10_000), channels=st.integers(1, 3), hw=st.sampled_from([(2, 2), (2, 3), (1, 3)]),
       cond_channels=CONDITIONED, parity=st.sampled_from([0, 1]), additive=st.booleans())
def test_image_couplings_invert_and_log_det_matches_jacobian(seed, channels, hw, cond_channels, parity, additive):
    gen = generator(seed)
    cls = AdditiveCoupling if additive else AffineCoupling
    layer = randomize(cls(channels, 4, cond_channels, mask="checkerboard", parity=parity, spatial_dims=2), gen)
    cond = randn(2, cond_channels, *hw, gen=gen) if cond_channels else None
    check_flow_step(layer, randn(2, channels, *hw, gen=gen), cond)


@PROPERTY
@given(seed=st.integers(0, 10_000), channels=st.integers(2, 4), length=st.integers(1, 3), cond_channels=CONDITIONED)
def test_additive_coupling_has_zero_log_det_and_inverts(seed, channels, length, cond_channels):
    gen = generator(seed)
    layer = randomize(AdditiveCoupling(channels, 5, cond_channels), gen)
    cond = randn(3, cond_channels, length, gen=gen) if cond_channels else None
    x = randn(3, channels, length, gen=gen)
    assert torch.equal(layer(x, cond)[1], torch.zeros(3, dtype=torch.float64))
    check_flow_step(layer, x, cond)


def test_coupling_conditioning_errors():
    layer = AffineCoupling(4, 8, cond_channels=3).double()
    x = torch.zeros(2, 4, 5, dtype=torch.float64)
    with pytest.raises(ValueError, match="cond is required"):
        layer(x)
    with pytest.raises(ValueError, match="cond must have shape"):
        layer(x, torch.zeros(2, 2, 5, dtype=torch.float64))  # wrong channels
    with pytest.raises(ValueError, match="cond must have shape"):
        layer.inverse(x, torch.zeros(2, 3, 4, dtype=torch.float64))  # wrong length
    with pytest.raises(TypeError, match="cond must be a torch.Tensor"):
        layer(x, np.zeros((2, 3, 5)))
    with pytest.raises(ValueError, match="cond_channels=0"):
        AffineCoupling(4, 8).double()(x, torch.zeros(2, 3, 5, dtype=torch.float64))


def test_coupling_argument_errors():
    with pytest.raises(ValueError, match="mask"):
        AffineCoupling(4, 8, mask="halves")
    with pytest.raises(ValueError, match="channels >= 2"):
        AffineCoupling(1, 8)
    with pytest.raises(ValueError, match="parity"):
        AffineCoupling(4, 8, parity=2)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        AffineCoupling(4, 8, kernel_size=2)
    with pytest.raises(ValueError, match="spatial_dims"):
        AffineCoupling(4, 8, spatial_dims=3)
    with pytest.raises(ValueError, match="cond_channels"):
        AffineCoupling(4, 8, cond_channels=-1)
    with pytest.raises(ValueError, match="log_scale_bound"):
        AffineCoupling(4, 8, log_scale_bound=0.0)
    with pytest.raises(TypeError, match="hidden_channels"):
        AffineCoupling(4, 8.0)
    with pytest.raises(TypeError, match="network"):
        AffineCoupling(4, 8, network=lambda a, c: a)
    with pytest.raises(ValueError, match=r"\(batch, channels, H, W\)"):
        AffineCoupling(4, 8, spatial_dims=2)(torch.zeros(1, 4, 3))


# =========================================================================== permutations and squeezes


@pytest.mark.parametrize("step", [Permutation(5, generator=generator(11)), Permutation(5, [4, 2, 0, 1, 3]),
                                  Reverse(5)])
def test_permutations(step):
    gen = generator(12)
    x = randn(2, 5, 3, gen=gen)
    z, _ = step(x)
    assert torch.equal(z, x[:, step.permutation])
    check_flow_step(step, x)
    check_flow_step(step, randn(2, 5, 2, 2, gen=gen))
    if isinstance(step, Reverse):
        assert torch.equal(z, x.flip(1))


def test_permutation_errors():
    for bad in ([0, 1, 1], [0, 1], [1, 2, 3], [0.0, 1.0, 2.0]):
        with pytest.raises(ValueError, match="permutation"):
            Permutation(3, bad)


@pytest.mark.parametrize("factor", [2, 3])
def test_squeeze2d_equals_pixel_unshuffle(factor):
    x = randn(2, 3, 6, 12, gen=generator(13))
    torch.testing.assert_close(squeeze2d(x, factor), F.pixel_unshuffle(x, factor), rtol=0, atol=0)
    assert torch.equal(unsqueeze2d(squeeze2d(x, factor), factor), x)
    check_flow_step(Squeeze(factor), x[:1, :1, :factor * 2, :factor])


@pytest.mark.parametrize("factor", [2, 8])
def test_squeeze1d_equals_waveglow_groups(factor):
    audio = randn(3, 8 * factor, gen=generator(14))
    waveglow = audio.unfold(1, factor, factor).permute(0, 2, 1)  # WaveGlow's grouping of a mono waveform
    torch.testing.assert_close(squeeze1d(audio.unsqueeze(1), factor), waveglow, rtol=0, atol=0)
    x = randn(2, 3, 4 * factor, gen=generator(15))
    assert torch.equal(unsqueeze1d(squeeze1d(x, factor), factor), x)
    # channel c f + j holds sample n f + j of channel c
    assert torch.equal(squeeze1d(x, factor)[:, 1 * factor + 1, 2], x[:, 1, 2 * factor + 1])
    check_flow_step(Squeeze1d(factor), x[:1, :2, :2 * factor])


def test_squeeze_errors():
    with pytest.raises(ValueError, match=r"T=7.*factor=2"):
        squeeze1d(torch.zeros(1, 1, 7), 2)
    with pytest.raises(ValueError, match=r"T=7.*factor=2"):
        Squeeze1d(2)(torch.zeros(1, 1, 7))
    with pytest.raises(ValueError, match="H=5"):
        squeeze2d(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="factor"):
        squeeze1d(torch.zeros(1, 1, 8), 1)
    with pytest.raises(ValueError, match="channels divisible"):
        unsqueeze1d(torch.zeros(1, 3, 4), 2)
    with pytest.raises(ValueError, match="channels divisible"):
        unsqueeze2d(torch.zeros(1, 3, 4, 4))
    with pytest.raises(ValueError, match=r"\(batch, C, T\)"):
        squeeze1d(torch.zeros(1, 8), 2)


# =========================================================================== assembled flows and bad input


def glow_like(channels: int, cond_channels: int, gen: torch.Generator, steps: int = 2) -> Flow:
    layers = []
    for k in range(steps):
        layers += [ActNorm(channels), InvertibleConv1x1(channels, generator=gen),
                   AffineCoupling(channels, 6, cond_channels, parity=k % 2), Reverse(channels),
                   AdditiveCoupling(channels, 4, cond_channels, mask="checkerboard")]
    flow = randomize(Flow(*layers), gen, scale=0.3)
    for layer in flow.steps:
        if isinstance(layer, ActNorm):
            layer.initialized.fill_(True)
    return flow


@PROPERTY
@given(seed=st.integers(0, 10_000), channels=st.integers(2, 3), length=st.integers(1, 3), cond_channels=CONDITIONED)
def test_assembled_flow_inverts_and_log_det_matches_jacobian(seed, channels, length, cond_channels):
    gen = generator(seed)
    flow = glow_like(channels, cond_channels, gen)
    cond = randn(2, cond_channels, length, gen=gen) if cond_channels else None
    check_flow_step(flow, randn(2, channels, length, gen=gen), cond)


def test_flow_log_det_is_the_sum_of_its_steps():
    gen = generator(16)
    flow = glow_like(4, 0, gen, steps=3)
    x = randn(3, 4, 5, gen=gen)
    total, h = torch.zeros(3, dtype=torch.float64), x
    for step in flow.steps:
        h, log_det = step(h)
        total = total + log_det
    z, log_det = flow(x)
    assert torch.equal(z, h)
    torch.testing.assert_close(log_det, total, rtol=1e-12, atol=1e-12)
    assert len(flow) == 15 and flow[0] is flow.steps[0]


def test_multiscale_style_flow_with_squeezes_inverts():
    gen = generator(17)
    image = Flow(Squeeze(), ActNorm(8), InvertibleConv1x1(8, generator=gen), AffineCoupling(8, 6, spatial_dims=2),
                 Squeeze(), AffineCoupling(32, 6, spatial_dims=2, parity=1))
    randomize(image, gen, scale=0.2)
    image.steps[1].initialized.fill_(True)
    check_flow_step(image, randn(2, 2, 4, 4, gen=gen))
    audio = randomize(Flow(Squeeze1d(4), InvertibleConv1x1(4, generator=gen), AffineCoupling(4, 6), Squeeze1d(2),
                           AffineCoupling(8, 6, parity=1)), gen, scale=0.2)
    check_flow_step(audio, randn(2, 1, 16, gen=gen))


def test_flow_of_a_non_step_is_an_error():
    with pytest.raises(TypeError, match="step 1"):
        Flow(ActNorm(2), nn.Linear(2, 2))


@pytest.mark.parametrize("step", [ActNorm(2), InvertibleConv1x1(2), AffineCoupling(2, 4), AdditiveCoupling(2, 4),
                                  Reverse(2), Flow(Reverse(2))])
def test_bad_input_is_a_clear_error(step):
    with pytest.raises(TypeError, match="torch.Tensor"):
        step(np.zeros((1, 2, 3)))
    with pytest.raises(TypeError, match="floating-point"):
        step(torch.zeros(1, 2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="shape"):
        step(torch.zeros(2, 3))
    if not isinstance(step, Flow):
        with pytest.raises(ValueError, match="2 channels"):
            step(torch.zeros(1, 3, 3))
        with pytest.raises(ValueError, match="2 channels"):
            step.inverse(torch.zeros(1, 3, 3))


def test_constructor_errors():
    with pytest.raises(ValueError, match="channels"):
        ActNorm(0)
    with pytest.raises(TypeError, match="lu"):
        InvertibleConv1x1(3, lu="yes")
    with pytest.raises(TypeError, match="generator"):
        InvertibleConv1x1(3, generator=0)
    with pytest.raises(ValueError, match="eps"):
        ActNorm(2, eps=0.0)


# =========================================================================== RealNVP and Glow


def initialise_actnorms(model: nn.Module) -> nn.Module:
    for layer in model.modules():
        if isinstance(layer, ActNorm):
            layer.initialized.fill_(True)
    return model


MODELS = {
    "realnvp_2d": lambda gen: realnvp_2d(2, 8, couplings=4),
    "glow_2d": lambda gen: glow_2d(3, 8, steps=2, generator=gen),
    "glow_2d_plain": lambda gen: glow_2d(2, 8, steps=2, lu=False, generator=gen),
    "realnvp_image": lambda gen: realnvp_image(1, 4, hidden_channels=4, couplings=2),
    "glow_image": lambda gen: glow_image(1, 4, steps=2, hidden_channels=4, generator=gen),
    "glow_image_3_levels": lambda gen: glow_image(2, 8, levels=3, steps=1, hidden_channels=4, generator=gen),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_invert_and_log_det_matches_jacobian(name):
    gen = generator(20, len(name))
    model = initialise_actnorms(randomize(MODELS[name](gen), gen, scale=0.2))
    x = randn(2, *model.input_shape, gen=gen)
    z, log_det = model(x)
    assert z.shape == (2, model.dims) and log_det.shape == (2,)
    torch.testing.assert_close(model.inverse(z), x, **INVERSE)
    if model.dims <= 64:
        torch.testing.assert_close(log_det, jacobian_log_det(lambda v: model(v)[0], x), **LOGDET)
    torch.testing.assert_close(model.log_prob(x), standard_normal_log_prob(z) + log_det, rtol=0, atol=0)


def test_factor_out_layout():
    """z = [level 0's factored-out half, flattened; the last level's output, flattened]."""
    gen = generator(21)
    model = initialise_actnorms(randomize(glow_image(1, 4, steps=1, hidden_channels=4, generator=gen), gen, 0.2))
    x = randn(3, 1, 4, 4, gen=gen)
    h0, _ = model.levels[0](x)
    h1, _ = model.levels[1](h0[:, :2])
    torch.testing.assert_close(model(x)[0], torch.cat([h0[:, 2:].flatten(1), h1.flatten(1)], 1), rtol=0, atol=0)
    assert model.latent_shapes == [(2, 2, 2), (8, 1, 1)]


def test_2d_density_integrates_to_one():
    gen = generator(22)
    model = initialise_actnorms(randomize(glow_2d(2, 8, steps=2, generator=gen), gen, scale=0.3))
    step = 0.02
    grid = torch.arange(-10, 10, step, dtype=torch.float64) + step / 2
    points = torch.cartesian_prod(grid, grid)
    with torch.no_grad():
        total = model.log_prob(points).exp().sum() * step ** 2
    assert abs(total.item() - 1) < 2e-3


def test_sample_is_the_inverse_of_scaled_normal_draws():
    gen = generator(23)
    model = initialise_actnorms(randomize(realnvp_2d(2, 8, couplings=2), gen, scale=0.3))
    x = model.sample(7, 0.5, generator=torch.Generator().manual_seed(5))
    z = 0.5 * torch.randn(7, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    torch.testing.assert_close(x, model.inverse(z), rtol=0, atol=0)
    assert not x.requires_grad
    image = initialise_actnorms(glow_image(1, 4, steps=1, hidden_channels=4))
    assert image.sample(2).shape == (2, 1, 4, 4)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="sigma"):
            model.sample(3, bad)
    with pytest.raises(ValueError, match="n must be"):
        model.sample(0)


def test_model_input_errors():
    model = realnvp_2d(2, 4, couplings=2)
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model(torch.zeros(3, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0, 0.0]])
    with pytest.raises(ValueError, match=r"\(batch, 2\)"):
        model.inverse(torch.zeros(3, 2, 1))
    with pytest.raises(ValueError, match="nothing to factor out"):
        MultiScaleFlow([Flow(Reverse(1)), Flow(Reverse(1))], (1, 4))
    with pytest.raises(ValueError, match="H=5"):
        MultiScaleFlow([Flow(Squeeze())], (1, 5, 4))
    with pytest.raises(TypeError, match="Flow"):
        MultiScaleFlow([Reverse(2)], (2, 3))
    with pytest.raises(ValueError, match="dims must be >= 2"):
        realnvp_2d(1)
    with pytest.raises(ValueError, match="dims must be >= 2"):
        glow_2d(1)


def test_dequantize_and_bits_per_dim():
    x = torch.tensor([[0, 3], [16, 7]])
    y = dequantize(x, 17, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert torch.all((y * 17).floor().long() == x)
    # a flow that is the identity on [0, 1)^D with a uniform density: log p = 0 -> log2(K) bits
    torch.testing.assert_close(bits_per_dim(torch.zeros(2, dtype=torch.float64), 64, 17),
                               torch.full((2,), math.log2(17), dtype=torch.float64))
    # a density of 2^D on [0, 1/2)^D (log p = D log 2) saves one bit per dimension
    torch.testing.assert_close(bits_per_dim(torch.tensor([64 * math.log(2.0)], dtype=torch.float64), 64, 16),
                               torch.tensor([3.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="grey levels"):
        dequantize(torch.tensor([17]), 17)
    with pytest.raises(TypeError, match="integer"):
        dequantize(torch.tensor([0.5]), 17)


# =========================================================================== ChannelLinear and Logit


def test_channel_linear_equals_a_1x1_convolution():
    gen = generator(30)
    layer = randomize(ChannelLinear(3, 5), gen)
    x = randn(2, 3, 7, gen=gen)
    torch.testing.assert_close(layer(x), F.conv1d(x, layer.weight[..., None], layer.bias), rtol=1e-12, atol=1e-12)
    x2 = randn(2, 3, 4, 5, gen=gen)
    torch.testing.assert_close(layer(x2), F.conv2d(x2, layer.weight[..., None, None], layer.bias),
                               rtol=1e-12, atol=1e-12)
    coupling = AffineCoupling(4, 6, kernel_size=1)
    assert all(isinstance(m, ChannelLinear) for m in coupling.network if not isinstance(m, nn.ReLU))


@pytest.mark.parametrize("alpha", [0.0, 0.05, 0.3])
def test_logit_inverts_and_log_det_matches_jacobian(alpha):
    gen = generator(31)
    x = torch.rand(2, 2, 3, generator=gen, dtype=torch.float64) * 0.98 + 0.01
    check_flow_step(Logit(alpha), x)
    p = alpha + (1 - 2 * alpha) * x
    torch.testing.assert_close(Logit(alpha)(x)[0], torch.special.logit(p), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="alpha"):
        Logit(0.5)

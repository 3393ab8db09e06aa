"""lessons_lib.models.waveglow: WaveGlow and FloWaveNet, their coupling networks, the NLL and the memory count.

No package of either reference installs here, so the models are pinned by their defining properties and by
NVIDIA's published sizes: WaveGlow's published configuration has 87,879,272 parameters with weight norm and
87,731,816 without (NVIDIA's ``glow.py`` with its ``config.json``), its flows act on 8, 6 and 4 channels and its
WN networks read 4, 3 and 2 of them; the published FloWaveNet has the 180,954,782 weights and biases of ksw0306's
code (counted layer by layer from its constructors); ``WN`` equals its equations written out with ``F.conv1d`` on
the folded weights (float64, 1e-12); the non-causal unit equals the causal ``GatedResidualUnit`` run on an input
shifted by half its receptive field (1e-12). For both vocoders, on tiny configurations with every weight randomised
(float64): ``inverse(forward(x)) == x`` (1e-10, hypothesis over seeds and lengths), ``log_det`` equal to
``log|det J|`` of the Jacobian from ``torch.autograd.functional.jacobian`` (1e-8), ``infer`` equal to the inverse
of ``sigma`` times the generator's noise, the upsampled mel of frame m reaching only the samples around m R.
``flow_nll`` against ``torch.distributions.Normal`` (1e-12); ``saved_activation_bytes`` against the bytes a
convolution must keep, and the same on the meta device as on the CPU. Bad input: sigma <= 0, a mel whose frames
do not match the audio (both named), lengths the squeeze cannot split, wrong bands, impossible early outputs,
a NaN log-determinant.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib.models.layers import GatedResidualUnit, fold_weight_norm
from lessons_lib.models.waveglow import (WN, CouplingWaveNet, FloWaveNet, NonCausalGatedUnit, WaveGlow,
                                         flow_nll, flowavenet_published, saved_activation_bytes,
                                         waveglow_published)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

D = torch.float64


def randomized(model, seed=0, scale=0.3):
    """Every parameter moved by Gaussian noise (the zero-initialised ends included), float64."""
    model = model.double()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def tiny_waveglow(seed=0, **changes):
    settings_ = dict(n_mels=3, n_flows=4, n_group=4, n_early_every=2, n_early_size=2, hop_length=4, layers=2,
                     channels=4)
    torch.manual_seed(seed)
    return randomized(WaveGlow(**(settings_ | changes)), seed)


def tiny_flowavenet(seed=0, **changes):
    settings_ = dict(n_mels=3, n_blocks=2, n_flows=3, layers=2, channels=4, hop_length=4)
    torch.manual_seed(seed)
    return randomized(FloWaveNet(**(settings_ | changes)), seed)


def inputs(T=16, n_mels=3, hop=4, batch=2, seed=1):
    g = torch.Generator().manual_seed(seed)
    return (0.5 * torch.randn(batch, T, generator=g, dtype=D),
            torch.randn(batch, n_mels, T // hop + 1, generator=g, dtype=D))


# --------------------------------------------------------------------------- parameter counts


def test_published_waveglow_has_nvidias_parameter_count():
    with torch.device("meta"):
        model = waveglow_published()
        plain = waveglow_published(weight_norm=False)
    assert sum(p.numel() for p in model.parameters()) == 87_879_272
    assert sum(p.numel() for p in plain.parameters()) == 87_731_816
    assert model.channels_per_flow == (8,) * 4 + (6,) * 4 + (4,) * 4
    assert [c.network.in_channels for c in model.coupling] == [4] * 4 + [3] * 4 + [2] * 4
    assert tuple(model.upsample.weight.shape) == (80, 80, 1024) and model.upsample.stride == (256,)


def ksw0306_flowavenet_parameters(n_mels=80, n_blocks=8, n_flows=6, width=256):
    """Weights and biases of ksw0306's FloWaveNet, layer by layer from its constructors (weight-norm gains and
    ZeroConv1d scales not counted: this version has neither)."""
    total = 2 * (3 * 32 + 1)  # two ConvTranspose2d(1, 1, (3, 2 * 16)) upsampling stages
    for b in range(n_blocks):
        c, cin = 2 ** (b + 1), n_mels * 2 ** (b + 1)  # squeezed signal and mel channels of block b
        front = width * (c // 2) * 3 + width  # Conv(c / 2, width, 3)
        per_layer = (2 * (width * width * 3 + width)  # filter_conv, gate_conv
                     + 2 * (width * width + width)  # res_conv, skip_conv
                     + 2 * (cin // 2 * width + width))  # filter_conv_c, gate_conv_c on half the mel
        final = width * width + width + width * c + c  # Conv(width, width, 1), ZeroConv1d(width, c)
        total += n_flows * (front + 2 * per_layer + final + 2 * c)  # + ActNorm's loc and scale
    return total


def test_published_flowavenet_has_the_weights_of_ksw0306s():
    with torch.device("meta"):
        model = flowavenet_published()
    assert sum(p.numel() for p in model.parameters()) == ksw0306_flowavenet_parameters() == 180_954_782


def test_published_flowavenet_sizes():
    with torch.device("meta"):
        model = flowavenet_published()
    assert len(model.coupling) == len(model.actnorm) == 48
    # block b acts on 2^(b+1) channels, its couplings read half of 80 * 2^(b+1) mel channels
    assert [model.actnorm[6 * b].channels for b in range(8)] == [2 ** (b + 1) for b in range(8)]
    assert [model.coupling[6 * b].network.cond_channels for b in range(8)] == [80 * 2 ** b for b in range(8)]


# --------------------------------------------------------------------------- coupling networks


def wn_by_hand(net: WN, x_a, cond):
    """NVIDIA's WN equations with F.conv1d on the folded weights."""
    w = fold_weight_norm(net.state_dict())
    conv = lambda name, x, **kw: F.conv1d(x, w[f"{name}.weight"], w[f"{name}.bias"], **kw)
    h, skips = conv("start", x_a), 0
    v = conv("cond_layer", cond)
    C = net.channels
    for l in range(net.layers):
        a = conv(f"in_layers.{l}", h, dilation=2 ** l, padding=2 ** l) + v[:, 2 * C * l:2 * C * (l + 1)]
        u = torch.tanh(a[:, :C]) * torch.sigmoid(a[:, C:])
        rs = conv(f"res_skip_layers.{l}", u)
        if l < net.layers - 1:
            h, skips = h + rs[:, :C], skips + rs[:, C:]
        else:
            skips = skips + rs
    return conv("end", skips)


@pytest.mark.parametrize("weight_norm", [True, False])
def test_wn_equals_its_equations(weight_norm):
    net = randomized(WN(3, 5, 2, layers=3, channels=6, weight_norm=weight_norm), seed=2)
    g = torch.Generator().manual_seed(3)
    x_a, cond = torch.randn(2, 3, 40, generator=g, dtype=D), torch.randn(2, 5, 40, generator=g, dtype=D)
    y = net(x_a, cond)
    assert y.shape == (2, 4, 40)
    torch.testing.assert_close(y, wn_by_hand(net, x_a, cond), rtol=0, atol=1e-12)
    names = {n for n, _ in net.named_parameters()}
    assert ("start.parametrizations.weight.original0" in names) == weight_norm


def test_wn_starts_at_zero_and_sees_its_receptive_field():
    net = WN(2, 1, layers=3, channels=4).double()
    x = torch.randn(1, 2, 64, dtype=D, requires_grad=True)
    assert net(x, torch.zeros(1, 1, 64, dtype=D)).abs().max() == 0
    net = randomized(net)
    net(x, torch.zeros(1, 1, 64, dtype=D))[0, :, 32].sum().backward()
    reached = (x.grad.abs().sum(1)[0] > 0).nonzero().flatten()
    half = (net.receptive_field - 1) // 2  # 1 + 2 * (1 + 2 + 4) = 15 samples, centred
    assert net.receptive_field == 15
    assert reached.min().item() == 32 - half and reached.max().item() == 32 + half


def test_noncausal_unit_is_the_causal_unit_shifted():
    k, d = 3, 4
    ours = randomized(NonCausalGatedUnit(4, 8, k, d, skip_channels=3, cond_channels=2), seed=5)
    causal = GatedResidualUnit(4, 8, k, d, skip_channels=3, cond_channels=2).double()
    causal.load_state_dict(ours.state_dict())
    g = torch.Generator().manual_seed(6)
    x, c = torch.randn(2, 4, 30, generator=g, dtype=D), torch.randn(2, 2, 30, generator=g, dtype=D)
    shift = (k - 1) * d // 2
    # the causal unit on x padded with `shift` zeros at the end, read `shift` steps later (c delayed to match)
    out_c, skip_c = causal(F.pad(x, (0, shift)), F.pad(c, (shift, 0)))
    out, skip = ours(x, c)
    torch.testing.assert_close(skip, skip_c[..., shift:], rtol=0, atol=1e-12)
    # the residual path adds x itself, unshifted, in both
    torch.testing.assert_close(out - x * ours.residual_scale,
                               (out_c[..., shift:] - F.pad(x, (0, shift))[..., shift:] * causal.residual_scale),
                               rtol=0, atol=1e-12)
    assert ours.receptive_field == causal.receptive_field == 9


def test_noncausal_unit_refuses_an_even_kernel():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        NonCausalGatedUnit(4, 8, 2)


def test_coupling_wavenet_starts_at_zero():
    net = CouplingWaveNet(2, 3, layers=2, channels=8)
    assert net(torch.randn(2, 2, 16), torch.randn(2, 3, 16)).abs().max() == 0


# --------------------------------------------------------------------------- the flows


@pytest.mark.parametrize("build", [tiny_waveglow, tiny_flowavenet])
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2 ** 16), hops=st.integers(1, 6))
def test_inverse_of_forward_is_the_identity(build, seed, hops):
    model = build(seed % 7)
    x, mel = inputs(T=4 * hops * (2 if hops % 2 else 1), seed=seed)
    z, log_det = model(x, mel)
    assert z.shape == x.shape and log_det.shape == (2,)
    torch.testing.assert_close(model.inverse(z, mel), x, rtol=0, atol=1e-10)
    torch.testing.assert_close(model(model.inverse(z, mel), mel)[0], z, rtol=0, atol=1e-10)


@pytest.mark.parametrize("build, T", [(tiny_waveglow, 16), (tiny_waveglow, 8), (tiny_flowavenet, 16),
                                      (tiny_flowavenet, 4)])
def test_log_det_equals_the_jacobians(build, T):
    model = build(seed=3)
    x, mel = inputs(T=T, seed=4)
    model(x, mel)  # FloWaveNet's ActNorm initialises on its first batch
    z, log_det = model(x, mel)
    for b in range(2):
        J = torch.autograd.functional.jacobian(lambda v: model(v[None], mel[b:b + 1])[0][0], x[b])
        assert J.shape == (T, T)
        assert math.isclose(torch.linalg.slogdet(J)[1].item(), log_det[b].item(), abs_tol=1e-8)


def test_waveglow_with_lu_and_bounded_scales_still_inverts():
    model = tiny_waveglow(lu=True, log_scale_bound=2.0)
    x, mel = inputs()
    z, log_det = model(x, mel)
    torch.testing.assert_close(model.inverse(z, mel), x, rtol=0, atol=1e-10)


@pytest.mark.parametrize("build", [tiny_waveglow, tiny_flowavenet])
def test_infer_is_the_inverse_of_scaled_noise(build):
    model = build()
    x, mel = inputs(T=16)
    model(x, mel)
    y = model.infer(mel, sigma=0.6, generator=torch.Generator().manual_seed(9))
    eps = torch.randn(2, 16, generator=torch.Generator().manual_seed(9), dtype=D)
    torch.testing.assert_close(y, model.inverse(0.6 * eps, mel), rtol=0, atol=1e-12)
    assert not torch.equal(y, model.infer(mel, sigma=0.6, generator=torch.Generator().manual_seed(10)))


def test_waveglow_mel_is_centred_on_its_frames():
    model = WaveGlow(n_mels=1, n_flows=1, n_group=2, n_early_every=1, n_early_size=2, hop_length=4,
                     upsample_kernel=12, layers=1, channels=2).double()
    mel = torch.zeros(1, 1, 6, dtype=D, requires_grad=True)  # 5 hops, 20 samples
    up = model.upsample(mel)[..., 4:24]  # kept: (K - R) / 2 = 4 onwards
    torch.testing.assert_close(model.upsampled(mel, 20),
                               up.reshape(1, 1, 10, 2).transpose(2, 3).reshape(1, 2, 10), rtol=0, atol=0)
    up[0, 0, 9].backward()
    # sample 9 lies in frame 2's block (8 .. 11): frames 1, 2, 3 reach it with a kernel of 3 hops
    assert (mel.grad[0, 0] != 0).nonzero().flatten().tolist() == [1, 2, 3]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("build", [tiny_waveglow, tiny_flowavenet])
def test_bad_inputs_raise_clear_errors(build):
    model = build()
    x, mel = inputs(T=16)
    with pytest.raises(ValueError, match="mel of shape .* does not match x of shape"):
        model(x, mel[..., :-1])
    with pytest.raises(ValueError, match="z of shape|mel of shape .* does not match z"):
        model.inverse(x, mel[..., :4])
    with pytest.raises(ValueError, match="squeeze needs a positive multiple of 4"):
        model(x[:, :6], mel[..., :3])
    with pytest.raises(ValueError, match="mel must have 3 channels"):
        model(x, mel[:, :2])
    with pytest.raises(ValueError, match="x must be 2-D"):
        model(x[None], mel)
    for sigma in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="sigma must be a positive"):
            model.infer(mel, sigma=sigma)
    with pytest.raises(TypeError, match="sigma"):
        model.infer(mel, sigma="high")
    with pytest.raises(ValueError, match="at least 2 frames"):
        model.infer(mel[..., :1])


def test_bad_waveglow_sizes():
    with pytest.raises(ValueError, match="n_group must be even"):
        WaveGlow(n_group=7)
    with pytest.raises(ValueError, match="a coupling needs at least 2"):
        WaveGlow(n_flows=12, n_early_every=2, n_early_size=2, layers=1, channels=2)
    with pytest.raises(ValueError, match="upsample_kernel must be >= hop_length"):
        WaveGlow(hop_length=256, upsample_kernel=100)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        WN(2, 2, kernel_size=2)


# --------------------------------------------------------------------------- loss and memory


def test_flow_nll_is_the_gaussian_negative_log_likelihood():
    g = torch.Generator().manual_seed(0)
    z, log_det = torch.randn(3, 50, generator=g, dtype=D), torch.randn(3, generator=g, dtype=D)
    for sigma in (0.6, 1.0):
        normal = torch.distributions.Normal(torch.tensor(0.0, dtype=D), torch.tensor(sigma, dtype=D))
        log_p = normal.log_prob(z).sum(1) + log_det
        torch.testing.assert_close(flow_nll(z, log_det, sigma), -(log_p / 50).mean(), rtol=0, atol=1e-12)


def test_flow_nll_stops_on_a_diverged_flow():
    z = torch.zeros(2, 8)
    with pytest.raises(ValueError, match="NaN or infinite log-determinant"):
        flow_nll(z, torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        flow_nll(z, torch.tensor([0.0, -float("inf")]))
    with pytest.raises(ValueError, match=r"log_det must be a tensor of shape \(batch,\)"):
        flow_nll(z, torch.zeros(3))
    with pytest.raises(ValueError, match="sigma"):
        flow_nll(z, torch.zeros(2), sigma=0.0)


def test_saved_activation_bytes_of_a_convolution_and_on_meta():
    conv = torch.nn.Conv1d(4, 8, 3, bias=False)
    x = torch.zeros(2, 4, 100)
    assert saved_activation_bytes(conv, x) == x.numel() * 4  # the input, for the weight's gradient
    net, g = WN(4, 6, layers=3, channels=8), torch.Generator().manual_seed(0)
    x_a, cond = torch.randn(2, 4, 50, generator=g), torch.randn(2, 6, 50, generator=g)
    on_cpu = saved_activation_bytes(net, x_a, cond)
    with torch.device("meta"):
        meta_net = WN(4, 6, layers=3, channels=8)
    on_meta = saved_activation_bytes(meta_net, x_a.to("meta"), cond.to("meta"))
    assert on_cpu == on_meta > 0

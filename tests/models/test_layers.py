"""lessons_lib.models.layers: the shared layers of Chapters 6 and 7.

Each layer is compared in float64 with an independent computation: CausalConv1d
with nn.Conv1d padded on both sides and trimmed (r9y9's way); MaskedConv2d with
nn.Conv2d on mask-multiplied weights and with a mask written from the
raster-scan definition; GatedResidualUnit with the unit written out tap by tap
and with r9y9's ResidualConv1dGLU forward on weight-normalised convolutions
(loaded through fold_weight_norm, itself checked against the formula and
torch's weight norm); MultiHeadSelfAttention with torch.nn.MultiheadAttention
and F.scaled_dot_product_attention. Laws (hypothesis): causal layers ignore
the future, masked convolutions ignore the pixels at/after the predicted one,
padded keys are ignored. The receptive field formula is checked against the
measured support of an impulse response. Then bad input.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st
from torch import nn

from lessons_lib.models import layers
from lessons_lib.models.layers import (CausalConv1d, GatedResidualUnit, MaskedConv2d, MultiHeadSelfAttention,
                                       fold_weight_norm, load_torch_multihead, raster_scan_mask, receptive_field)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

TIGHT = dict(rtol=1e-12, atol=1e-12)
PROPERTY = settings(max_examples=25, deadline=None)


def generator(*seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(np.random.SeedSequence(list(seed)).generate_state(1)[0]))


def randn(*shape, gen: torch.Generator) -> torch.Tensor:
    return torch.randn(tuple(shape), generator=gen, dtype=torch.float64)


def randomize(module: nn.Module, gen: torch.Generator, positive: bool = False) -> nn.Module:
    """float64, every parameter drawn from a normal (|.| + 0.1 if positive): no global RNG involved."""
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            values = randn(*p.shape, gen=gen)
            p.copy_(values.abs() + 0.1 if positive else values)
    return module


# =========================================================================== CausalConv1d

CAUSAL_CASES = [  # in, out, k, d, T, bias
    (1, 1, 2, 1, 16, True), (3, 5, 2, 4, 20, True), (2, 4, 3, 2, 17, False), (4, 2, 1, 1, 9, True),
    (2, 3, 5, 3, 7, True),  # padding (12) longer than the input
    (2, 2, 3, 8, 1, True),  # a single step
    (3, 3, 2, 16, 300, True),
]


@pytest.mark.parametrize("c_in, c_out, k, d, T, bias", CAUSAL_CASES, ids=str)
def test_causal_conv_equals_symmetric_padding_then_trimming(c_in, c_out, k, d, T, bias):
    gen = generator(c_in, c_out, k, d, T)
    ours = randomize(CausalConv1d(c_in, c_out, k, dilation=d, bias=bias), gen)
    reference = nn.Conv1d(c_in, c_out, k, dilation=d, padding=(k - 1) * d, bias=bias).double()
    reference.load_state_dict(ours.state_dict())  # same names: weight, bias
    x = randn(2, c_in, T, gen=gen)
    expected = reference(x)[..., :T]  # r9y9: drop the last (k-1)d outputs
    torch.testing.assert_close(ours(x), expected, **TIGHT)
    assert ours(x).shape == (2, c_out, T)
    assert ours.left_padding == (k - 1) * d and ours.receptive_field == (k - 1) * d + 1


def test_causal_conv_equals_the_tap_formula():
    """y_t = b + sum_i W_i x_{t-(k-1-i)d}, computed tap by tap with explicit zeros before t = 0."""
    gen = generator(1)
    k, d, T = 3, 2, 11
    conv = randomize(CausalConv1d(2, 3, k, dilation=d), gen)
    x = randn(1, 2, T, gen=gen)
    expected = torch.zeros(1, 3, T, dtype=torch.float64) + conv.bias[:, None]
    for t in range(T):
        for i in range(k):
            s = t - (k - 1 - i) * d
            if s >= 0:
                expected[0, :, t] += conv.weight[:, :, i] @ x[0, :, s]
    torch.testing.assert_close(conv(x), expected, **TIGHT)


@PROPERTY
@given(k=st.integers(1, 4), d=st.integers(1, 5), T=st.integers(1, 30), t=st.integers(0, 29),
       seed=st.integers(0, 2**16))
def test_causal_conv_never_sees_the_future(k, d, T, t, seed):
    t = min(t, T - 1)
    gen = generator(seed)
    conv = randomize(CausalConv1d(2, 3, k, dilation=d), gen)
    x = randn(1, 2, T, gen=gen)
    changed = x.clone()
    changed[..., t + 1:] = randn(1, 2, T - t - 1, gen=gen) * 100
    torch.testing.assert_close(conv(changed)[..., : t + 1], conv(x)[..., : t + 1], **TIGHT)


STACKS = [  # k, dilations, whether the support has no holes
    (2, [1, 2, 4, 8], True), (3, [1, 2, 4, 1, 2, 4], True), (1, [1, 3], True), (4, [3], False),
    (2, [2 ** i for i in range(7)], True), (2, [2, 4], False)]


@pytest.mark.parametrize("k, dilations, contiguous", STACKS, ids=str)
def test_receptive_field_equals_the_measured_support_of_a_stack(k, dilations, contiguous):
    """The output at the last step reaches back exactly receptive_field(k, dilations) input steps."""
    gen = generator(k, len(dilations), sum(dilations))
    stack = nn.Sequential(*(randomize(CausalConv1d(2, 2, k, dilation=d), gen, positive=True) for d in dilations))
    T = receptive_field(k, dilations) + 20
    x = randn(1, 2, T, gen=gen).requires_grad_()
    stack(x)[0, :, -1].sum().backward()  # positive weights: no accidental cancellation
    seen = (x.grad[0].abs().sum(dim=0) > 0).nonzero().flatten().tolist()
    assert seen[-1] == T - 1  # the present
    assert T - seen[0] == receptive_field(k, dilations)  # the earliest input it sees
    # doubling dilations from 1 fill every gap (WaveNet's design); a lone dilated layer leaves holes
    assert (seen == list(range(seen[0], T))) == contiguous


def test_receptive_field_known_values_and_single_layer():
    assert receptive_field(2, []) == 1
    assert receptive_field(2, [1]) == 2 == CausalConv1d(1, 1, 2).receptive_field
    assert receptive_field(5, [3]) == CausalConv1d(1, 1, 5, dilation=3).receptive_field == 13
    assert receptive_field(2, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 5) == 5116  # WaveNet: 5 cycles, k = 2
    assert receptive_field(3, iter([1, 2])) == 7  # any iterable


def test_causal_conv_bad_input():
    with pytest.raises(ValueError, match="kernel_size"):
        CausalConv1d(1, 1, 0)
    with pytest.raises(TypeError, match="kernel_size"):
        CausalConv1d(1, 1, 2.0)
    with pytest.raises(ValueError, match="dilation"):
        CausalConv1d(1, 1, 2, dilation=0)
    with pytest.raises(ValueError, match="in_channels"):
        CausalConv1d(0, 1, 2)
    conv = CausalConv1d(2, 3, 2)
    with pytest.raises(ValueError, match=r"x must be 3-D, shape \(batch, in_channels, time\)"):
        conv(torch.zeros(2, 10))
    with pytest.raises(ValueError, match="x must have 2 channels"):
        conv(torch.zeros(1, 3, 10))
    with pytest.raises(TypeError, match="x must hold floating-point"):
        conv(torch.zeros(1, 2, 10, dtype=torch.int64))
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        conv(np.zeros((1, 2, 10)))
    with pytest.raises(ValueError, match="kernel_size"):
        receptive_field(0, [1])
    with pytest.raises(ValueError, match=r"dilations\[i\]"):
        receptive_field(2, [1, 0])
    with pytest.raises(TypeError, match="dilations"):
        receptive_field(2, 4)
    with pytest.raises(TypeError, match="dilations"):
        receptive_field(2, "124")


# =========================================================================== MaskedConv2d


def mask_by_definition(k: int, mask_type: str) -> torch.Tensor:
    """1 where (u, v) comes before the centre (c, c) in raster order; the centre too for type B."""
    c = k // 2
    return torch.tensor([[float((u, v) < (c, c) or (mask_type == "B" and (u, v) == (c, c)))
                          for v in range(k)] for u in range(k)])


@pytest.mark.parametrize("k", [1, 3, 5, 7])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_raster_scan_mask_matches_its_definition(k, mask_type):
    mask = raster_scan_mask(k, mask_type)
    torch.testing.assert_close(mask, mask_by_definition(k, mask_type), rtol=0, atol=0)
    assert mask.sum() == k * k // 2 + (mask_type == "B")  # half the pixels, plus the centre for B


MASKED_CASES = [(1, 4, 3, "A", 8, 8, True), (4, 4, 3, "B", 8, 8, True), (2, 3, 5, "A", 6, 7, False),
                (3, 2, 7, "B", 8, 8, True), (1, 1, 1, "B", 4, 5, True), (2, 2, 5, "B", 1, 1, True)]


@pytest.mark.parametrize("c_in, c_out, k, mask_type, H, W, bias", MASKED_CASES, ids=str)
def test_masked_conv_equals_conv2d_with_masked_weights(c_in, c_out, k, mask_type, H, W, bias):
    gen = generator(c_in, c_out, k, H, W, ord(mask_type))
    ours = randomize(MaskedConv2d(c_in, c_out, k, mask_type, bias=bias), gen)  # even masked weights nonzero
    reference = nn.Conv2d(c_in, c_out, k, padding=k // 2, bias=bias).double()
    with torch.no_grad():
        reference.weight.copy_(ours.weight * mask_by_definition(k, mask_type).double())
        if bias:
            reference.bias.copy_(ours.bias)
    x = randn(3, c_in, H, W, gen=gen)
    torch.testing.assert_close(ours(x), reference(x), **TIGHT)
    assert ours(x).shape == (3, c_out, H, W)


def test_masked_conv_state_dict_is_conv2d_s():
    gen = generator(2)
    reference = randomize(nn.Conv2d(2, 3, 3, padding=1), gen)
    ours = MaskedConv2d(2, 3, 3, "B").double()
    ours.load_state_dict(reference.state_dict())  # strict: the mask is not a key
    assert set(ours.state_dict()) == {"weight", "bias"}
    assert "mask_type='B'" in repr(ours)


def test_masked_weights_start_at_zero():
    conv = MaskedConv2d(3, 4, 5, "A")
    assert (conv.weight[..., raster_scan_mask(5, "A") == 0] == 0).all()
    assert (conv.weight[..., raster_scan_mask(5, "A") == 1] != 0).all()


@pytest.mark.parametrize("i, j", [(0, 0), (2, 3), (5, 5), (5, 0), (0, 5)])
@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_output_pixel_sees_exactly_the_masked_window(i, j, mask_type):
    """The gradient of y[i, j] is nonzero exactly on the in-image pixels the mask keeps around (i, j)."""
    k, c = 5, 2
    gen = generator(i, j, ord(mask_type))
    conv = randomize(MaskedConv2d(1, 1, k, mask_type), gen, positive=True)
    x = randn(1, 1, 6, 6, gen=gen).requires_grad_()
    conv(x)[0, 0, i, j].backward()
    mask = mask_by_definition(k, mask_type)
    expected = {(i - c + u, j - c + v) for u in range(k) for v in range(k)
                if mask[u, v] and 0 <= i - c + u < 6 and 0 <= j - c + v < 6}
    assert {tuple(p) for p in (x.grad[0, 0] != 0).nonzero().tolist()} == expected


@PROPERTY
@given(mask_type=st.sampled_from("AB"), k=st.sampled_from([1, 3, 5]), H=st.integers(1, 7), W=st.integers(1, 7),
       position=st.integers(0, 48), seed=st.integers(0, 2**16))
def test_masked_conv_ignores_pixels_after_in_raster_order(mask_type, k, H, W, position, seed):
    """Changing pixel p changes no output before p (type B), nor at p (type A)."""
    p = position % (H * W)
    gen = generator(seed)
    conv = randomize(MaskedConv2d(2, 3, k, mask_type), gen)
    x = randn(1, 2, H, W, gen=gen)
    changed = x.clone()
    changed[0, :, p // W, p % W] += 100.0
    unchanged = p + (mask_type == "A")  # raster positions 0 .. unchanged-1 must not move
    before = conv(x).flatten(2)[..., :unchanged]
    torch.testing.assert_close(conv(changed).flatten(2)[..., :unchanged], before, **TIGHT)


@PROPERTY
@given(H=st.integers(2, 8), W=st.integers(2, 8), position=st.integers(0, 63), seed=st.integers(0, 2**16))
def test_pixelcnn_stack_never_sees_the_pixel_it_predicts(H, W, position, seed):
    """One type-A layer then type-B layers (with nonlinearities): output at p ignores pixels p, p+1, ..."""
    p = position % (H * W)
    gen = generator(seed)
    stack = randomize(nn.Sequential(MaskedConv2d(1, 4, 5, "A"), nn.ReLU(), MaskedConv2d(4, 4, 3, "B"), nn.Tanh(),
                                    MaskedConv2d(4, 2, 1, "B")), gen)
    x = randn(1, 1, H, W, gen=gen)
    changed = x.clone().flatten()
    changed[p:] = randn(H * W - p, gen=gen) * 10
    torch.testing.assert_close(stack(changed.view(1, 1, H, W)).flatten(2)[..., : p + 1],
                               stack(x).flatten(2)[..., : p + 1], **TIGHT)


@pytest.mark.parametrize("make_optimizer", [
    lambda params: torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda params: torch.optim.Adam(params, lr=0.1),
    lambda params: torch.optim.AdamW(params, lr=0.1, weight_decay=0.1),
], ids=["sgd", "adam", "adamw"])
def test_optimizer_steps_leave_masked_weights_at_zero(make_optimizer):
    gen = generator(3)
    conv = MaskedConv2d(2, 3, 3, "A").double()
    masked = raster_scan_mask(3, "A") == 0
    start = conv.weight.detach().clone()
    optimizer = make_optimizer(conv.parameters())
    for _ in range(3):
        optimizer.zero_grad()
        conv(randn(4, 2, 5, 5, gen=gen)).pow(2).sum().backward()
        assert (conv.weight.grad[..., masked] == 0).all()
        optimizer.step()
    assert (conv.weight[..., masked] == 0).all()
    assert (conv.weight[..., ~masked] != start[..., ~masked]).all()  # the others did learn


def test_masked_conv_bad_input():
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "C")
    with pytest.raises(ValueError, match="mask_type"):
        MaskedConv2d(1, 1, 3, "a")
    with pytest.raises(TypeError, match="mask_type"):
        MaskedConv2d(1, 1, 3, None)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        MaskedConv2d(1, 1, 4, "A")
    with pytest.raises(ValueError, match="kernel_size"):
        raster_scan_mask(0, "A")
    with pytest.raises(ValueError, match="out_channels"):
        MaskedConv2d(1, 0, 3, "A")
    conv = MaskedConv2d(2, 3, 3, "A")
    with pytest.raises(ValueError, match=r"x must be 4-D, shape \(batch, in_channels, height, width\)"):
        conv(torch.zeros(2, 5, 5))
    with pytest.raises(ValueError, match="x must have 2 channels"):
        conv(torch.zeros(1, 1, 5, 5))


# =========================================================================== GatedResidualUnit


def unit_by_hand(unit: GatedResidualUnit, x, c=None, g=None):
    """The WaveNet block written out: taps as matrix products, 1x1 convolutions as einsums."""
    p = dict(unit.named_parameters())
    k, d = unit.conv.kernel_size[0], unit.conv.dilation[0]
    T = x.shape[-1]
    padded = torch.cat([torch.zeros(*x.shape[:2], (k - 1) * d, dtype=x.dtype), x], dim=-1)
    h = p["conv.bias"][:, None] + sum(torch.einsum("oi,bit->bot", p["conv.weight"][:, :, i],
                                                   padded[..., i * d: i * d + T]) for i in range(k))
    if c is not None:
        h = h + torch.einsum("oi,bit->bot", p["conv1x1c.weight"][..., 0], c) + p["conv1x1c.bias"][:, None]
    if g is not None:
        h = h + (g @ p["conv1x1g.weight"][..., 0].T + p["conv1x1g.bias"])[..., None]
    half = h.shape[1] // 2
    z = torch.tanh(h[:, :half]) * torch.sigmoid(h[:, half:])
    skip = torch.einsum("oi,bit->bot", p["conv1x1_skip.weight"][..., 0], z) + p["conv1x1_skip.bias"][:, None]
    out = x + torch.einsum("oi,bit->bot", p["conv1x1_out.weight"][..., 0], z) + p["conv1x1_out.bias"][:, None]
    return out * unit.residual_scale, skip


UNIT_CASES = [  # R, gate, k, d, skip, cond, global, T, scale
    (4, 8, 2, 1, None, None, None, 12, math.sqrt(0.5)),
    (4, 6, 3, 4, 5, 3, None, 20, math.sqrt(0.5)),
    (3, 8, 2, 2, 2, None, 4, 9, 1.0),
    (5, 10, 3, 8, 6, 2, 3, 33, math.sqrt(0.5)),
    (2, 2, 1, 1, None, 1, 1, 1, 1.0),
]


@pytest.mark.parametrize("R, gate, k, d, skip, cond, glob, T, scale", UNIT_CASES, ids=str)
def test_gated_residual_unit_equals_the_hand_written_block(R, gate, k, d, skip, cond, glob, T, scale):
    gen = generator(R, gate, k, d, T)
    unit = randomize(GatedResidualUnit(R, gate, k, d, skip_channels=skip, cond_channels=cond,
                                       global_cond_channels=glob, residual_scale=scale), gen)
    x = randn(2, R, T, gen=gen)
    c = None if cond is None else randn(2, cond, T, gen=gen)
    g = None if glob is None else randn(2, glob, gen=gen)
    out, skip_out = unit(x, c, g)
    expected_out, expected_skip = unit_by_hand(unit, x, c, g)
    assert out.shape == (2, R, T) and skip_out.shape == (2, skip or R, T)
    torch.testing.assert_close(out, expected_out, **TIGHT)
    torch.testing.assert_close(skip_out, expected_skip, **TIGHT)


def weight_normed_conv(c_in, c_out, k, *, gen, **kwargs) -> nn.Module:
    """An nn.Conv1d under torch's old weight norm: the weight_g / weight_v keys r9y9's checkpoints hold."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # the old API is deprecated, but it is r9y9's
        conv = nn.utils.weight_norm(nn.Conv1d(c_in, c_out, k, **kwargs).double())
    with torch.no_grad():
        conv.weight_v.copy_(randn(*conv.weight_v.shape, gen=gen))
        conv.weight_g.copy_(randn(*conv.weight_g.shape, gen=gen).abs() + 0.5)
        conv.bias.copy_(randn(*conv.bias.shape, gen=gen))
    return conv


def r9y9_residual_conv1d_glu(R, gate, k, d, skip, cond, glob, *, gen) -> nn.ModuleDict:
    """r9y9's ResidualConv1dGLU's modules (weight-normalised, symmetric padding (k-1)d), by their names."""
    modules = {"conv": weight_normed_conv(R, gate, k, gen=gen, padding=(k - 1) * d, dilation=d),
               "conv1x1_out": weight_normed_conv(gate // 2, R, 1, gen=gen),
               "conv1x1_skip": weight_normed_conv(gate // 2, skip, 1, gen=gen)}
    if cond:
        modules["conv1x1c"] = weight_normed_conv(cond, gate, 1, gen=gen)
    if glob:
        modules["conv1x1g"] = weight_normed_conv(glob, gate, 1, gen=gen)
    return nn.ModuleDict(modules)


def r9y9_forward(m: nn.ModuleDict, x, c=None, g_expanded=None):
    """r9y9's ResidualConv1dGLU._forward (not incremental, causal, eval mode), written from its source."""
    residual = x
    h = m["conv"](x)[:, :, : residual.size(-1)]
    a, b = h.split(h.size(1) // 2, dim=1)
    if c is not None:
        ca, cb = m["conv1x1c"](c).split(h.size(1) // 2, dim=1)
        a, b = a + ca, b + cb
    if g_expanded is not None:
        ga, gb = m["conv1x1g"](g_expanded).split(h.size(1) // 2, dim=1)
        a, b = a + ga, b + gb
    z = torch.tanh(a) * torch.sigmoid(b)
    return (m["conv1x1_out"](z) + residual) * math.sqrt(0.5), m["conv1x1_skip"](z)


@pytest.mark.parametrize("cond, glob", [(None, None), (3, None), (3, 2)])
def test_gated_residual_unit_loads_r9y9_weights_through_fold_weight_norm(cond, glob):
    R, gate, k, d, skip, T = 4, 8, 3, 2, 5, 15
    gen = generator(cond or 0, glob or 0)
    reference = r9y9_residual_conv1d_glu(R, gate, k, d, skip, cond, glob, gen=gen)
    assert "conv.weight_g" in reference.state_dict() and "conv1x1_skip.weight_v" in reference.state_dict()
    ours = GatedResidualUnit(R, gate, k, d, skip_channels=skip, cond_channels=cond,
                             global_cond_channels=glob).double()
    ours.load_state_dict(fold_weight_norm(reference.state_dict()))  # strict: every key maps
    x = randn(2, R, T, gen=gen)
    c = None if cond is None else randn(2, cond, T, gen=gen)
    g = None if glob is None else randn(2, glob, gen=gen)
    expected = r9y9_forward(reference, x, c, None if g is None else g[..., None].expand(-1, -1, T))
    for ours_out, reference_out in zip(ours(x, c, g), expected):
        torch.testing.assert_close(ours_out, reference_out, **TIGHT)


@PROPERTY
@given(k=st.integers(1, 3), d=st.integers(1, 4), T=st.integers(1, 24), t=st.integers(0, 23),
       seed=st.integers(0, 2**16))
def test_gated_residual_unit_never_sees_the_future(k, d, T, t, seed):
    t = min(t, T - 1)
    gen = generator(seed)
    unit = randomize(GatedResidualUnit(3, 6, k, d, skip_channels=2, cond_channels=2, global_cond_channels=2), gen)
    x, c, g = randn(1, 3, T, gen=gen), randn(1, 2, T, gen=gen), randn(1, 2, gen=gen)
    x2, c2 = x.clone(), c.clone()
    x2[..., t + 1:] = randn(1, 3, T - t - 1, gen=gen) * 10
    c2[..., t + 1:] = randn(1, 2, T - t - 1, gen=gen) * 10
    for changed, original in zip(unit(x2, c2, g), unit(x, c, g)):
        torch.testing.assert_close(changed[..., : t + 1], original[..., : t + 1], **TIGHT)


def test_conditioning_changes_every_step():
    gen = generator(4)
    unit = randomize(GatedResidualUnit(3, 6, 2, 2, cond_channels=2, global_cond_channels=4), gen)
    x, c, g = randn(2, 3, 10, gen=gen), randn(2, 2, 10, gen=gen), randn(2, 4, gen=gen)
    out, skip = unit(x, c, g)
    for other in [unit(x, randn(2, 2, 10, gen=gen), g), unit(x, c, randn(2, 4, gen=gen))]:
        assert ((other[0] - out).abs().amax(dim=1) > 1e-6).all()  # at every (batch, time)
        assert ((other[1] - out).abs().amax(dim=1) > 1e-6).all()


def test_gated_residual_unit_dropout_acts_in_training_only():
    gen = generator(5)
    unit = randomize(GatedResidualUnit(4, 8, 2, 1, dropout=0.5), gen)
    plain = randomize(GatedResidualUnit(4, 8, 2, 1), generator(5))
    x = randn(2, 4, 30, gen=gen)
    unit.eval()
    for a, b in zip(unit(x), plain(x)):
        torch.testing.assert_close(a, b, **TIGHT)
    unit.train()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        assert not torch.allclose(unit(x)[1], plain(x)[1])
    assert unit.receptive_field == 2


def test_gated_residual_unit_bad_input():
    with pytest.raises(ValueError, match="gate_channels must be even"):
        GatedResidualUnit(4, 7, 2)
    with pytest.raises(ValueError, match="residual_channels"):
        GatedResidualUnit(0, 8, 2)
    with pytest.raises(ValueError, match="kernel_size"):
        GatedResidualUnit(4, 8, 0)
    with pytest.raises(ValueError, match="dilation"):
        GatedResidualUnit(4, 8, 2, 0)
    with pytest.raises(ValueError, match="dropout"):
        GatedResidualUnit(4, 8, 2, dropout=1.0)
    with pytest.raises(TypeError, match="cond_channels"):
        GatedResidualUnit(4, 8, 2, cond_channels=2.5)
    with pytest.raises(TypeError, match="residual_scale"):
        GatedResidualUnit(4, 8, 2, residual_scale="sqrt")
    unit = GatedResidualUnit(4, 8, 2, cond_channels=3)
    x = torch.zeros(2, 4, 10)
    with pytest.raises(ValueError, match="c is required"):
        unit(x)
    with pytest.raises(ValueError, match="g was given"):
        unit(x, torch.zeros(2, 3, 10), torch.zeros(2, 5))
    with pytest.raises(ValueError, match="c of shape .* does not match x"):
        unit(x, torch.zeros(2, 3, 9))
    with pytest.raises(ValueError, match="c must have 3 channels"):
        unit(x, torch.zeros(2, 2, 10))
    with pytest.raises(ValueError, match="x must have 4 channels"):
        unit(torch.zeros(2, 3, 10), torch.zeros(2, 3, 10))
    with pytest.raises(ValueError, match="c was given"):
        GatedResidualUnit(4, 8, 2)(x, torch.zeros(2, 3, 10))
    with pytest.raises(ValueError, match=r"g must be 2-D, shape \(batch, global_cond_channels\)"):
        GatedResidualUnit(4, 8, 2, global_cond_channels=5)(x, g=torch.zeros(2, 5, 10))


# --------------------------------------------------------------------------- fold_weight_norm


def weight_norm_by_formula(g: torch.Tensor, v: torch.Tensor, dim: int | None) -> torch.Tensor:
    """w = g v / ||v||, the norm over every axis but ``dim`` (over all of them for dim=None), slice by slice."""
    if dim is None:
        return g * v / torch.sqrt((v ** 2).sum())
    slices = [g.select(dim, i).reshape(()) * v.select(dim, i) / torch.sqrt((v.select(dim, i) ** 2).sum())
              for i in range(v.shape[dim])]
    return torch.stack(slices, dim=dim)


WEIGHT_NORMED = {"conv1d": lambda: nn.Conv1d(3, 4, 5), "linear": lambda: nn.Linear(6, 2),
                 "conv2d": lambda: nn.Conv2d(2, 3, 3), "conv1d-small": lambda: nn.Conv1d(2, 3, 4)}


@pytest.mark.parametrize("make, dim", [
    (WEIGHT_NORMED["conv1d"], 0), (WEIGHT_NORMED["linear"], 0),
    (WEIGHT_NORMED["conv1d-small"], 2),  # wav2vec 2.0's positional convolution normalises over dim 2
    (WEIGHT_NORMED["conv2d"], 1), (WEIGHT_NORMED["conv1d-small"], None)],
    ids=["conv1d-dim0", "linear-dim0", "conv1d-dim2", "conv2d-dim1", "conv1d-dimNone"])
@pytest.mark.parametrize("api", ["old", "parametrizations"])
def test_fold_weight_norm_equals_the_formula_and_torch(make, dim, api):
    gen = generator(dim if dim is not None else 9, len(api))
    module = make().double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        normed = (nn.utils.weight_norm(module, dim=dim) if api == "old"
                  else nn.utils.parametrizations.weight_norm(module, dim=dim))
    state = normed.state_dict()
    g_key, v_key = (("weight_g", "weight_v") if api == "old"
                    else ("parametrizations.weight.original0", "parametrizations.weight.original1"))
    with torch.no_grad():
        state[g_key].copy_(randn(*state[g_key].shape, gen=gen))
        state[v_key].copy_(randn(*state[v_key].shape, gen=gen))
    folded = fold_weight_norm(state)
    assert set(folded) == {"weight", "bias"}
    torch.testing.assert_close(folded["weight"], weight_norm_by_formula(state[g_key], state[v_key], dim), **TIGHT)
    if api == "parametrizations":  # torch computes the weight itself
        torch.testing.assert_close(folded["weight"], normed.weight, **TIGHT)
    plain = make().double()
    plain.load_state_dict(folded)


def test_fold_weight_norm_keeps_other_entries_and_prefixes_and_the_input():
    gen = generator(6)
    state = {"layers.0.conv.weight_g": randn(4, 1, 1, gen=gen), "layers.0.conv.weight_v": randn(4, 2, 3, gen=gen),
             "layers.0.conv.bias": randn(4, gen=gen), "embed.weight": randn(5, 2, gen=gen),
             "conv1x1g.weight": randn(3, 2, 1, gen=gen)}  # ends in "g", not in "weight_g"
    before = dict(state)
    folded = fold_weight_norm(state)
    assert list(folded) == ["layers.0.conv.weight", "layers.0.conv.bias", "embed.weight", "conv1x1g.weight"]
    assert folded["embed.weight"] is state["embed.weight"] and folded["conv1x1g.weight"] is state["conv1x1g.weight"]
    assert state.keys() == before.keys()


def test_fold_weight_norm_bad_input():
    with pytest.raises(ValueError, match="conv.weight_v"):
        fold_weight_norm({"conv.weight_g": torch.ones(2, 1, 1)})
    with pytest.raises(ValueError, match="conv.weight_g"):
        fold_weight_norm({"conv.weight_v": torch.ones(2, 1, 1)})
    with pytest.raises(ValueError, match="original1"):
        fold_weight_norm({"conv.parametrizations.weight.original0": torch.ones(2, 1, 1)})
    with pytest.raises(ValueError, match="does not broadcast"):
        fold_weight_norm({"weight_g": torch.ones(3, 1, 1), "weight_v": torch.ones(2, 1, 1)})
    with pytest.raises(TypeError, match="state_dict"):
        fold_weight_norm([("weight", torch.ones(1))])


# =========================================================================== MultiHeadSelfAttention


def attention_pair(d_model, n_heads, gen, *, bias=True, causal=False):
    theirs = randomize(nn.MultiheadAttention(d_model, n_heads, bias=bias, batch_first=True), gen).eval()
    ours = load_torch_multihead(MultiHeadSelfAttention(d_model, n_heads, bias=bias, causal=causal).double(), theirs)
    return ours.eval(), theirs


def right_padding(lengths, T):
    return torch.arange(T)[None, :] >= torch.tensor(lengths)[:, None]


ATTENTION_CASES = [(8, 2, 3, 7), (12, 3, 2, 5), (6, 1, 2, 4), (4, 4, 1, 3), (8, 2, 2, 1), (16, 4, 2, 40)]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("d_model, n_heads, B, T", ATTENTION_CASES, ids=str)
def test_attention_equals_torch_multihead_attention(d_model, n_heads, B, T, bias):
    gen = generator(d_model, n_heads, B, T, bias)
    ours, theirs = attention_pair(d_model, n_heads, gen, bias=bias)
    x = randn(B, T, d_model, gen=gen)
    lengths = [T] + [max(1, T - 2 * b - 1) for b in range(1, B)]
    for mask in (None, right_padding(lengths, T)):
        y, weights = ours(x, key_padding_mask=mask, return_weights=True)
        y_ref, weights_ref = theirs(x, x, x, key_padding_mask=mask, average_attn_weights=False)
        torch.testing.assert_close(y, y_ref, **TIGHT)
        torch.testing.assert_close(weights, weights_ref, **TIGHT)
        assert y.shape == (B, T, d_model) and weights.shape == (B, n_heads, T, T)


@pytest.mark.parametrize("d_model, n_heads, B, T", ATTENTION_CASES, ids=str)
def test_causal_attention_equals_torch_with_a_causal_mask(d_model, n_heads, B, T):
    gen = generator(d_model, n_heads, B, T, 1)
    ours, theirs = attention_pair(d_model, n_heads, gen, causal=True)
    x = randn(B, T, d_model, gen=gen)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)  # torch: True = may not attend
    mask = right_padding([T] * B, T)
    mask[-1, T // 2 + 1:] = True
    for padding in (None, mask):
        expected = theirs(x, x, x, attn_mask=future, key_padding_mask=padding, need_weights=False)[0]
        torch.testing.assert_close(ours(x, key_padding_mask=padding), expected, **TIGHT)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_equals_scaled_dot_product_attention(causal):
    gen = generator(7, causal)
    B, T, d_model, H = 3, 9, 12, 3
    ours = randomize(MultiHeadSelfAttention(d_model, H, causal=causal), gen)
    x = randn(B, T, d_model, gen=gen)
    padding = right_padding([9, 6, 1], T)

    def heads(y):
        return y.view(B, T, H, d_model // H).transpose(1, 2)

    q, k, v = heads(ours.q_proj(x)), heads(ours.k_proj(x)), heads(ours.v_proj(x))
    allowed = ~padding[:, None, None, :]  # SDPA: True = takes part
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    expected = ours.out_proj(expected.transpose(1, 2).reshape(B, T, d_model))
    torch.testing.assert_close(ours(x, key_padding_mask=padding), expected, **TIGHT)  # the fused path
    written_out, _ = ours(x, key_padding_mask=padding, return_weights=True)  # the softmax written out
    torch.testing.assert_close(written_out, expected, **TIGHT)
    if causal:  # and SDPA's own causal flag, without padding
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        expected = ours.out_proj(expected.transpose(1, 2).reshape(B, T, d_model))
        torch.testing.assert_close(ours(x), expected, **TIGHT)


@PROPERTY
@given(T=st.integers(1, 12), t=st.integers(0, 11), n_heads=st.sampled_from([1, 2, 4]), seed=st.integers(0, 2**16))
def test_causal_attention_never_sees_the_future(T, t, n_heads, seed):
    t = min(t, T - 1)
    gen = generator(seed)
    attention = randomize(MultiHeadSelfAttention(8, n_heads, causal=True), gen)
    x = randn(2, T, 8, gen=gen)
    changed = x.clone()
    changed[:, t + 1:] = randn(2, T - t - 1, 8, gen=gen) * 10
    torch.testing.assert_close(attention(changed)[:, : t + 1], attention(x)[:, : t + 1], **TIGHT)


@PROPERTY
@given(T=st.integers(2, 12), length=st.integers(1, 11), causal=st.booleans(), seed=st.integers(0, 2**16))
def test_attention_ignores_padded_positions(T, length, causal, seed):
    """Outputs at real positions do not depend on what the padding holds; padded keys get weight 0."""
    length = min(length, T)
    gen = generator(seed)
    attention = randomize(MultiHeadSelfAttention(8, 2, causal=causal), gen)
    padding = right_padding([length], T)
    x = randn(1, T, 8, gen=gen)
    changed = x.clone()
    changed[:, length:] = randn(1, T - length, 8, gen=gen) * 10
    y, weights = attention(x, key_padding_mask=padding, return_weights=True)
    torch.testing.assert_close(attention(changed, key_padding_mask=padding)[:, :length], y[:, :length], **TIGHT)
    assert (weights[..., length:] == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 2, T, dtype=torch.float64), **TIGHT)


def test_a_query_with_no_key_left_raises():
    attention = MultiHeadSelfAttention(8, 2)
    x = torch.zeros(2, 4, 8)
    with pytest.raises(ValueError, match="key_padding_mask leaves query 0 of batch element 1 no key"):
        attention(x, key_padding_mask=torch.tensor([[False] * 4, [True] * 4]))
    causal = MultiHeadSelfAttention(8, 2, causal=True)
    left_padded = torch.tensor([[True, True, False, False]] * 2)  # queries 0, 1 see only padding
    with pytest.raises(ValueError, match="key_padding_mask.*causal=True"):
        causal(x, key_padding_mask=left_padded)
    attention(x, key_padding_mask=left_padded)  # without causal every query still has keys 2, 3


def test_attention_dropout_acts_on_the_weights_in_training_only():
    gen = generator(8)
    attention = randomize(MultiHeadSelfAttention(8, 2, dropout=0.5), gen)
    x = randn(2, 6, 8, gen=gen)
    attention.eval()
    y, weights = attention(x, return_weights=True)
    attention.train()
    with torch.random.fork_rng():
        torch.manual_seed(0)
        y_train, dropped = attention(x, return_weights=True)
    kept = dropped != 0
    assert 0 < kept.float().mean() < 1
    torch.testing.assert_close(dropped[kept], weights[kept] / 0.5, **TIGHT)  # survivors scaled by 1/(1-p)
    assert not torch.allclose(y_train, y)


def test_attention_state_dict_has_hugging_face_names():
    names = set(MultiHeadSelfAttention(8, 2).state_dict())
    assert names == {f"{p}_proj.{w}" for p in ("q", "k", "v", "out") for w in ("weight", "bias")}
    assert set(MultiHeadSelfAttention(8, 2, bias=False).state_dict()) == {f"{p}_proj.weight"
                                                                         for p in ("q", "k", "v", "out")}


def test_attention_bad_input():
    with pytest.raises(ValueError, match="d_model must be divisible by n_heads"):
        MultiHeadSelfAttention(10, 3)
    with pytest.raises(ValueError, match="n_heads"):
        MultiHeadSelfAttention(8, 0)
    with pytest.raises(ValueError, match="dropout"):
        MultiHeadSelfAttention(8, 2, dropout=-0.1)
    with pytest.raises(TypeError, match="causal"):
        MultiHeadSelfAttention(8, 2, causal=1)
    attention = MultiHeadSelfAttention(8, 2)
    with pytest.raises(ValueError, match=r"x must be 3-D, shape \(batch, time, d_model\)"):
        attention(torch.zeros(4, 8))
    with pytest.raises(ValueError, match="x must have 8 channels on axis -1"):
        attention(torch.zeros(1, 4, 6))
    with pytest.raises(TypeError, match="key_padding_mask must be a bool tensor"):
        attention(torch.zeros(1, 4, 8), key_padding_mask=torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(batch, time\)"):
        attention(torch.zeros(1, 4, 8), key_padding_mask=torch.zeros(1, 5, dtype=torch.bool))


def test_load_torch_multihead_bad_input():
    ours = MultiHeadSelfAttention(8, 2)
    with pytest.raises(ValueError, match="num_heads=4"):
        load_torch_multihead(ours, nn.MultiheadAttention(8, 4))
    with pytest.raises(ValueError, match="kdim"):
        load_torch_multihead(ours, nn.MultiheadAttention(8, 2, kdim=4, vdim=4))
    with pytest.raises(ValueError, match="add_bias_kv"):
        load_torch_multihead(ours, nn.MultiheadAttention(8, 2, add_bias_kv=True))
    with pytest.raises(ValueError, match="bias"):
        load_torch_multihead(ours, nn.MultiheadAttention(8, 2, bias=False))
    with pytest.raises(TypeError, match="theirs"):
        load_torch_multihead(ours, nn.Linear(8, 8))
    with pytest.raises(TypeError, match="ours"):
        load_torch_multihead(nn.Linear(8, 8), nn.MultiheadAttention(8, 2))


def test_module_exports():
    assert set(layers.__all__) == {"CausalConv1d", "receptive_field", "raster_scan_mask", "MaskedConv2d",
                                   "GatedResidualUnit", "fold_weight_norm", "MultiHeadSelfAttention",
                                   "load_torch_multihead", "transformers_reference"}


def test_transformers_reference_imports_the_reference_models():
    transformers = layers.transformers_reference()
    config = transformers.Wav2Vec2Config(hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                         intermediate_size=8, conv_dim=(4,), conv_kernel=(3,), conv_stride=(2,),
                                         num_conv_pos_embeddings=2, num_conv_pos_embedding_groups=1)
    assert isinstance(transformers.Wav2Vec2Model(config), torch.nn.Module)
    assert transformers.ASTModel.__module__.startswith("transformers.")

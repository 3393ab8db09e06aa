"""lessons_lib.models.pixelcnn: causality, the blind spot measured, sampling, bits per dimension.

Causality (hypothesis): changing pixel (i, j) never changes the logits at raster positions up to and including
(i, j), for the plain and the gated PixelCNN, conditional or not, and does change the next pixel's. The blind
spot: the plain stack's dependency map (from input gradients) equals the set of pixels reachable through its
masks, computed here by walking the kernels' offsets back from the output pixel; it misses past pixels and
holds no future one. The gated stack's map equals its stated receptive field for a shallow network, and every
past pixel for one deep enough to cover the 12x12 canvas. Sampling: reproducible from the generator, the
logits of every step equal to the forward of the final image, a pixel's draws distributed as its softmax.
bits/dim and the independent-pixel baseline against loops by hand (float64, 1e-12). Parameter counts by
hand. Bad input.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lessons_lib.models import pixelcnn
from lessons_lib.models.pixelcnn import (GatedLayer, GatedPixelCNN, PixelCNN, ResidualBlock, bits_per_dim,
                                         blind_spot, dependency_map, independent_pixel_logits, past_pixels,
                                         sample, to_inputs)

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

PROPERTY = settings(max_examples=25, deadline=None)


def seeded(build, seed: int = 0):
    """A model built under a forked, seeded global random state (the caller's state is left alone)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


MODELS = {
    "plain": lambda: PixelCNN(levels=5, channels=8, n_blocks=2),
    "plain-k5": lambda: PixelCNN(levels=5, channels=8, n_blocks=1, kernel_size=5, first_kernel_size=7),
    "gated": lambda: GatedPixelCNN(levels=5, channels=6, n_layers=3),
    "gated-k5": lambda: GatedPixelCNN(levels=5, channels=6, n_layers=2, kernel_size=5),
    "gated-conditional": lambda: GatedPixelCNN(levels=5, channels=6, n_layers=3, n_classes=4),
}


# =========================================================================== causality


@pytest.mark.parametrize("name", list(MODELS))
@PROPERTY
@given(h=st.integers(1, 7), w=st.integers(1, 7), data=st.data())
def test_changing_a_pixel_never_changes_the_logits_at_it_or_before_it(name, h, w, data):
    net = seeded(MODELS[name]).double()
    seed = data.draw(st.integers(0, 2**31 - 1))
    x = torch.randint(0, 5, (2, h, w), generator=gen(seed))
    y = torch.tensor([1, 3]) if net.n_classes else None
    i, j = data.draw(st.integers(0, h - 1)), data.draw(st.integers(0, w - 1))
    changed = x.clone()
    changed[:, i, j] = (x[:, i, j] + data.draw(st.integers(1, 4))) % 5
    before, after = net(x, y), net(changed, y)
    upto = (torch.arange(h * w) <= i * w + j).reshape(h, w)
    assert torch.equal(before[..., upto], after[..., upto])
    following = (i, j + 1) if j + 1 < w else (i + 1, j) if i + 1 < h else None
    if following is not None:  # the very next pixel to the right, or the one below, does see it
        assert not torch.equal(before[..., following[0], following[1]], after[..., following[0], following[1]])


def test_the_conditional_model_uses_its_class():
    net = seeded(MODELS["gated-conditional"])
    x = torch.randint(0, 5, (1, 4, 4), generator=gen(0))
    a, b = net(x, torch.tensor([0])), net(x, torch.tensor([2]))
    assert not torch.equal(a[..., 0, 0], b[..., 0, 0])  # even the first pixel, which sees no other pixel


def test_to_inputs_maps_the_levels_onto_minus_one_to_one():
    x = torch.arange(17).reshape(1, 1, 17)
    u = to_inputs(x, 17)
    assert u.shape == (1, 1, 1, 17) and u.dtype == torch.float32
    torch.testing.assert_close(u[0, 0, 0], torch.linspace(-1, 1, 17), rtol=0, atol=1e-7)


# =========================================================================== the blind spot


def kernel_offsets(k: int, mask_type: str) -> list[tuple[int, int]]:
    """(row, column) offsets of the input pixels a k x k masked kernel lets an output see, from the definition."""
    c = k // 2
    return [(du, dv) for du in range(-c, c + 1) for dv in range(-c, c + 1)
            if du < 0 or (du == 0 and (dv < 0 or (dv == 0 and mask_type == "B")))]


def reachable(h: int, w: int, pixel, layers) -> torch.Tensor:
    """Input pixels joined to the output ``pixel`` by a path through the masked layers, all inside the canvas.

    ``layers`` lists each layer's offsets from the input side; we walk from the output back to the input.
    Zero padding cuts a path that leaves the canvas, hence the clipping at every layer.
    """
    current = {tuple(pixel)}
    for offsets in reversed(layers):
        current = {(i + du, j + dv) for i, j in current for du, dv in offsets if 0 <= i + du < h and 0 <= j + dv < w}
    out = torch.zeros(h, w, dtype=torch.bool)
    for i, j in current:
        out[i, j] = True
    return out


CANVAS = 12
PIXELS = [(0, 0), (0, 5), (1, 0), (3, 3), (6, 2), (6, 11), (11, 0), (11, 6), (11, 11)]


@pytest.mark.parametrize("n_blocks, k, k1", [(0, 3, 3), (3, 3, 3), (2, 3, 5), (1, 5, 3)])
def test_the_plain_dependency_map_is_the_set_its_masks_reach(n_blocks, k, k1):
    net = seeded(lambda: PixelCNN(levels=4, channels=16, n_blocks=n_blocks, kernel_size=k, first_kernel_size=k1))
    layers = [kernel_offsets(k1, "A")] + [kernel_offsets(k, "B")] * n_blocks
    for pixel in PIXELS:
        assert torch.equal(dependency_map(net, CANVAS, CANVAS, pixel), reachable(CANVAS, CANVAS, pixel, layers))


def test_the_plain_pixelcnn_has_a_blind_spot_and_sees_no_future_pixel():
    net = seeded(lambda: PixelCNN(levels=4, channels=16, n_blocks=5))
    for pixel in PIXELS:
        seen, past = dependency_map(net, CANVAS, CANVAS, pixel), past_pixels(CANVAS, CANVAS, pixel)
        assert not (seen & ~past).any()
        i, j = pixel
        if i > 0 and j + 2 < CANVAS:  # one row up and two columns right: before in raster order, never reached
            assert blind_spot(net, CANVAS, CANVAS, pixel)[i - 1, j + 2]
    # No matter of depth: with 6 layers, (11, 3) sees (5, 9), six rows up and six columns right, not (10, 5).
    assert dependency_map(net, CANVAS, CANVAS, (11, 3))[5, 9] and blind_spot(net, CANVAS, CANVAS, (11, 3))[10, 5]


@pytest.mark.parametrize("n_layers", [1, 3, 5])
def test_the_gated_dependency_map_is_its_stated_receptive_field(n_layers):
    net = seeded(lambda: GatedPixelCNN(levels=4, channels=8, n_layers=n_layers))
    rows, cols = torch.arange(CANVAS)[:, None], torch.arange(CANVAS)[None, :]
    for i, j in PIXELS:
        above = (rows < i) & (rows >= i - n_layers) & ((cols - j).abs() <= n_layers)
        left = (rows == i) & (cols < j) & (cols >= j - n_layers)
        assert torch.equal(dependency_map(net, CANVAS, CANVAS, (i, j)), above | left)


def test_a_gated_pixelcnn_deep_enough_for_the_canvas_sees_every_past_pixel():
    # 11 layers reach 11 rows up and 11 columns aside: all of a 12x12 canvas, from any output pixel.
    net = seeded(lambda: GatedPixelCNN(levels=4, channels=8, n_layers=CANVAS - 1))
    for pixel in PIXELS + [(5, 11), (10, 1)]:
        assert torch.equal(dependency_map(net, CANVAS, CANVAS, pixel), past_pixels(CANVAS, CANVAS, pixel))
        assert not blind_spot(net, CANVAS, CANVAS, pixel).any()
    conditional = seeded(lambda: GatedPixelCNN(levels=4, channels=8, n_layers=CANVAS - 1, n_classes=3))
    assert torch.equal(dependency_map(conditional, CANVAS, CANVAS, (7, 4), y=torch.tensor([2])),
                       past_pixels(CANVAS, CANVAS, (7, 4)))


def test_dependency_map_leaves_the_model_alone():
    net = seeded(lambda: GatedPixelCNN(levels=4, channels=4, n_layers=2))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    dependency_map(net, 5, 5, (2, 2))
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert next(net.parameters()).dtype == torch.float32 and next(net.parameters()).requires_grad


def test_past_pixels_is_the_raster_order():
    for h, w, (i, j) in [(1, 1, (0, 0)), (3, 4, (2, 1)), (5, 2, (0, 1))]:
        expected = torch.tensor([[r < i or (r == i and c < j) for c in range(w)] for r in range(h)])
        assert torch.equal(past_pixels(h, w, (i, j)), expected)


# =========================================================================== sampling


@pytest.mark.parametrize("name, dtype", [("plain", torch.float32), ("gated", torch.float64),
                                         ("gated-conditional", torch.float32)])
def test_sampling_is_reproducible_and_uses_the_forward_logits(name, dtype):
    net = seeded(MODELS[name]).to(dtype)
    y = torch.tensor([0, 3, 1]) if net.n_classes else None
    x, used = sample(net, 3, 5, 4, y=y, generator=gen(7), return_logits=True)
    assert x.shape == (3, 5, 4) and x.dtype == torch.long and 0 <= int(x.min()) and int(x.max()) < 5
    assert torch.equal(x, sample(net, 3, 5, 4, y=y, generator=gen(7)))
    assert not torch.equal(x, sample(net, 3, 5, 4, y=y, generator=gen(8)))
    with torch.no_grad():
        torch.testing.assert_close(used, net(x, y))  # causality: the final image gives the same logits


def test_a_pixels_draws_follow_its_softmax():
    net = seeded(lambda: GatedPixelCNN(levels=3, channels=4, n_layers=1))
    x = sample(net, 6000, 1, 1, generator=gen(0))
    with torch.no_grad():
        p = torch.softmax(net(torch.zeros(1, 1, 1, dtype=torch.long))[0, :, 0, 0].double(), 0)
    frequency = torch.bincount(x.flatten(), minlength=3).double() / 6000
    assert torch.all((frequency - p).abs() <= 4 * torch.sqrt(p * (1 - p) / 6000))


# =========================================================================== likelihood


def test_bits_per_dim_equals_a_sum_by_hand():
    g = gen(0)
    z = torch.randn(2, 3, 2, 4, dtype=torch.float64, generator=g)
    x = torch.randint(0, 3, (2, 2, 4), generator=g)
    total = 0.0
    for b in range(2):
        for i in range(2):
            for j in range(4):
                scores = z[b, :, i, j].tolist()
                total -= math.log2(math.exp(scores[x[b, i, j]]) / sum(math.exp(s) for s in scores))
    assert bits_per_dim(z, x).item() == pytest.approx(total / 16, rel=1e-12, abs=0)
    assert bits_per_dim(torch.zeros(3, 17, 2, 2, dtype=torch.float64),
                        torch.randint(0, 17, (3, 2, 2), generator=g)).item() == pytest.approx(math.log2(17), 1e-14)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), levels=st.integers(2, 9), alpha=st.sampled_from([0.5, 1.0, 2.0]))
def test_the_independent_pixel_baseline_counts_with_smoothing(seed, levels, alpha):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, levels, (7, 2, 3))
    q = independent_pixel_logits(torch.as_tensor(x), levels, alpha)
    assert q.shape == (1, levels, 2, 3) and q.dtype == torch.float64
    for i in range(2):
        for j in range(3):
            for v in range(levels):
                by_hand = (np.sum(x[:, i, j] == v) + alpha) / (7 + levels * alpha)
                assert q[0, v, i, j].exp().item() == pytest.approx(by_hand, rel=1e-12)
    test = torch.as_tensor(rng.integers(0, levels, (4, 2, 3)))
    by_hand = -np.mean([q[0, test[b, i, j], i, j].item() for b in range(4) for i in range(2) for j in range(3)])
    assert bits_per_dim(q.expand(4, -1, -1, -1), test).item() == pytest.approx(by_hand / math.log(2), rel=1e-12)


# =========================================================================== sizes


def test_parameter_counts_by_hand():
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    c, k, levels = 8, 3, 17
    block = (c * c // 2 + c // 2) + (c // 2 * c // 2 * k * k + c // 2) + (c // 2 * c + c)
    assert n(ResidualBlock(c, k)) == block
    first, head = c * 1 * 9 + c, (c * c + c) + (c * levels + levels)
    assert n(PixelCNN(levels, c, n_blocks=2)) == first + 2 * block + head
    p = 6
    gated_b = (p * 2 * p * 2 * 3 + 2 * p) + (p * 2 * p * 2 + 2 * p) + (2 * p) ** 2 + (p * p + p)
    gated_a = (1 * 2 * p * 1 * 3 + 2 * p) + (1 * 2 * p * 1 + 2 * p) + (2 * p) ** 2 + (p * p + p)
    head = (p * p + p) + (p * levels + levels)
    assert n(GatedPixelCNN(levels, p, n_layers=3)) == gated_a + 2 * gated_b + head
    assert n(GatedPixelCNN(levels, p, n_layers=3, n_classes=10)) == gated_a + 2 * gated_b + head + 3 * 2 * 10 * 2 * p
    layer = GatedLayer(p, p, 5, "B")
    assert layer.vertical.weight.shape == (2 * p, p, 3, 5) and layer.horizontal.weight.shape == (2 * p, p, 1, 3)
    layer = GatedLayer(1, p, 5, "A")
    assert layer.vertical.weight.shape == (2 * p, 1, 2, 5) and layer.horizontal.weight.shape == (2 * p, 1, 1, 2)


# =========================================================================== bad input


def test_bad_sizes_are_refused():
    for build, error, message in [
        (lambda: PixelCNN(levels=1), ValueError, "levels must be an int >= 2"),
        (lambda: PixelCNN(levels=2.0), TypeError, "levels"),
        (lambda: PixelCNN(levels=4, kernel_size=4), ValueError, "kernel_size must be an odd int >= 3"),
        (lambda: PixelCNN(levels=4, kernel_size=1), ValueError, "kernel_size must be an odd int >= 3"),
        (lambda: PixelCNN(levels=4, first_kernel_size=6), ValueError, "first_kernel_size must be an odd"),
        (lambda: PixelCNN(levels=4, channels=7), ValueError, "channels must be a positive even int"),
        (lambda: PixelCNN(levels=4, n_blocks=-1), ValueError, "n_blocks must be an int >= 0"),
        (lambda: GatedPixelCNN(levels=4, n_layers=0), ValueError, "n_layers"),
        (lambda: GatedPixelCNN(levels=4, kernel_size=2), ValueError, "kernel_size must be an odd int >= 3"),
        (lambda: GatedPixelCNN(levels=4, n_classes=0), ValueError, "n_classes"),
        (lambda: GatedLayer(1, 4, 3, "C"), ValueError, "mask_type must be 'A'"),
        (lambda: GatedLayer(2, 4, 3, "B"), ValueError, "in_channels must equal channels"),
    ]:
        with pytest.raises(error, match=message):
            build()


def test_bad_images_and_classes_are_refused():
    plain = PixelCNN(levels=4, channels=4, n_blocks=0)
    gated = GatedPixelCNN(levels=4, channels=4, n_layers=1, n_classes=3)
    x = torch.zeros(2, 3, 3, dtype=torch.long)
    for call, error, message in [
        (lambda: plain(x.float()), TypeError, "integer grey levels 0..3"),
        (lambda: plain(x.bool()), TypeError, "integer grey levels"),
        (lambda: plain(x[0]), ValueError, r"3-D, shape \(batch, height, width\)"),
        (lambda: plain(x.numpy()), TypeError, "torch.Tensor"),
        (lambda: plain(x + 4), ValueError, "grey levels 0..3, got values 4..4"),
        (lambda: plain(x - 1), ValueError, "grey levels 0..3"),
        (lambda: plain(x, torch.tensor([0, 1])), ValueError, "y must be None"),
        (lambda: gated(x), ValueError, "y is required"),
        (lambda: gated(x, torch.tensor([0])), ValueError, r"y must have shape \(2,\)"),
        (lambda: gated(x, torch.tensor([0, 3])), ValueError, "classes 0..2"),
        (lambda: gated(x, torch.tensor([0.0, 1.0])), TypeError, "y must be an integer"),
        (lambda: plain.forward_inputs(torch.zeros(2, 2, 3, 3)), ValueError, r"\(batch, 1, height, width\)"),
        (lambda: to_inputs(x, 1), ValueError, "levels"),
        (lambda: bits_per_dim(torch.zeros(2, 4, 3, 3), x[:1]), ValueError, "x must have shape"),
        (lambda: bits_per_dim(torch.zeros(2, 4, 3), x), TypeError, "logits must be a floating tensor"),
        (lambda: bits_per_dim(torch.zeros(2, 3, 3, 3), x + 3), ValueError, "grey levels 0..2"),
        (lambda: independent_pixel_logits(x[:0], 4), ValueError, "at least one image"),
        (lambda: independent_pixel_logits(x, 4, alpha=0.0), ValueError, "alpha must be a number > 0"),
        (lambda: independent_pixel_logits(x + 5, 4), ValueError, "x_train must hold grey levels"),
        (lambda: sample(plain, 0, 3, 3), ValueError, "n_images"),
        (lambda: sample(gated, 1, 3, 3), ValueError, "y is required"),
        (lambda: past_pixels(3, 3, (3, 0)), ValueError, "pixel must lie on the 3x3 canvas"),
        (lambda: past_pixels(3, 3, [1, 1]), TypeError, r"pixel must be a tuple \(row, column\)"),
        (lambda: dependency_map(plain, 0, 3, (0, 0)), ValueError, "height"),
        (lambda: dependency_map(plain, 3, 3, (0, 0), n_draws=0), ValueError, "n_draws"),
    ]:
        with pytest.raises(error, match=message):
            call()

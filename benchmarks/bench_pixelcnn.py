"""lessons_lib.models.pixelcnn against the same networks with the masks folded into plain convolutions (Chapter 7).

What masking costs. ``MaskedConv2d`` multiplies its kernel by the mask in every forward pass (so that the
masked weights keep a zero gradient); the reference is a copy of the same plain PixelCNN whose masked layers
are ordinary ``nn.Conv2d`` holding the already-masked weights, which computes the same logits (checked before
timing) but cannot keep the masked weights at zero in training. Sizes: the recipe's 8x8 digits (batch 32, 32
channels, one type-A layer and six residual blocks) and a 32x32 canvas (batch 16, 64 channels). Forward only
(under ``torch.no_grad``), and forward + backward of the bits per dimension. One torch thread, as in the other
model benchmarks.
"""

from __future__ import annotations

import copy

import torch

from lessons_lib.models.layers import MaskedConv2d
from lessons_lib.models.pixelcnn import PixelCNN, bits_per_dim

from .core import Case, assert_close, one_thread

# (batch, height/width, channels, residual blocks)
SIZES = [(32, 8, 32, 6), (16, 32, 64, 6)]


def _unmasked(model: PixelCNN) -> PixelCNN:
    """A copy whose MaskedConv2d layers are plain nn.Conv2d with the masked weights."""
    plain = copy.deepcopy(model)
    for parent in plain.modules():
        for name, child in list(parent.named_children()):
            if isinstance(child, MaskedConv2d):
                conv = torch.nn.Conv2d(child.in_channels, child.out_channels, child.kernel_size,
                                       padding=child.padding)
                with torch.no_grad():
                    conv.weight.copy_(child.weight * child.mask)
                    conv.bias.copy_(child.bias)
                setattr(parent, name, conv)
    return plain


def _setup(batch, size, channels, blocks):
    def setup():
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            net = PixelCNN(17, channels, blocks)
        x = torch.randint(0, 17, (batch, size, size), generator=torch.Generator().manual_seed(0))
        return {"net": net, "reference": _unmasked(net), "x": x}
    return setup


def _forward(which):
    def run(net, reference, x):
        model = net if which == "ours" else reference
        with torch.no_grad(), one_thread():
            return model(x)
    return run


def _backward(which):
    def run(net, reference, x):
        model = net if which == "ours" else reference
        model.zero_grad(set_to_none=True)
        with one_thread():
            z = model(x)
            bits_per_dim(z, x).backward()
        return z.detach()
    return run


def _same(ours, reference):
    assert ours.shape == reference.shape
    assert_close(ours.numpy(), reference.numpy(), rtol=1e-4, atol=1e-5)


CASES = [
    case
    for batch, size, channels, blocks in SIZES
    for case in (
        Case(f"models.pixelcnn.PixelCNN forward, batch {batch} x {size}x{size}, {channels} channels, 1 + {blocks} "
             f"masked layers (vs nn.Conv2d with the masks folded in)",
             _setup(batch, size, channels, blocks), _forward("ours"), _forward("reference"), _same),
        Case(f"models.pixelcnn.PixelCNN forward + backward, batch {batch} x {size}x{size}, {channels} channels, "
             f"1 + {blocks} masked layers (vs nn.Conv2d with the masks folded in)",
             _setup(batch, size, channels, blocks), _backward("ours"), _backward("reference"), _same),
    )
]

"""lessons_lib.models.wavenet generation against r9y9's ``incremental_forward`` and naive re-computation (Chapter 7).

Three comparisons, one torch thread per call, float32, batch 1, no gradients:

1. Teacher-forced incremental inference: :class:`~lessons_lib.models.wavenet.IncrementalWaveNet` stepping
   through 512 given samples against ``wavenet_vocoder.WaveNet.incremental_forward(test_inputs=...)`` on the
   same weights (``from_wavenet_vocoder``), a small vocoder: 20 layers in 2 cycles, kernel 3, 64 residual /
   128 gate / 64 skip channels, 40 mel bands upsampled by transposed convolutions (4 x 4 x 8 = hop 128).
   Both return the logits at every step: checked equal (atol 1e-4) before timing.
2. The same model generating 512 samples from the same mel frames: :func:`generate` (inverse-transform
   sampling with a torch.Generator) against their ``incremental_forward`` (softmax, then
   ``numpy.random.choice``). The draws differ, so the check is only shape and range.
3. Cached against naive generation as the receptive field grows (32, 256, 2048 samples: kernel 2, one cycle of
   5, 8, 11 dilations, WaveNet's default 64 residual / 128 gate / 64 skip channels, 256 classes): 64 samples
   continuing a prompt of one receptive field, so that every naive window is full. Ours: a fork of an
   :class:`IncrementalWaveNet` primed on the prompt in the set-up, ``.sample(64)`` (what :func:`generate` does
   after its one forward pass over the prompt); reference: :func:`generate_naive` (a forward pass over the last
   receptive field per sample). Samples/s = 64 / time. Checked: the same samples from the same generator.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn.functional as F

from lessons_lib.models.wavenet import IncrementalWaveNet, WaveNet, from_wavenet_vocoder, generate, generate_naive

from .core import Case, one_thread

VOCODER = dict(out_channels=256, layers=20, stacks=2, residual_channels=64, gate_channels=128,
               skip_out_channels=64, kernel_size=3, cin_channels=40, upsample_conditional_features=True,
               upsample_scales=[4, 4, 8], freq_axis_kernel_size=3, legacy=False)
SAMPLES = 512
GROWTH = [5, 8, 11]  # layers of one cycle, kernel 2: receptive field 2 ** layers
NEW_SAMPLES = 64


def _one_thread(fn):
    def call(**inputs):
        with torch.no_grad(), one_thread():
            return fn(**inputs)
    return call


def _vocoder_setup():
    from wavenet_vocoder import WaveNet as TheirWaveNet

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = TheirWaveNet(**VOCODER).eval()
        theirs.make_generation_fast_()  # fold their weight norm too: both sides use plain weights
    ours = from_wavenet_vocoder(theirs)
    generator = torch.Generator().manual_seed(0)
    c = torch.rand(1, 40, SAMPLES // 128, generator=generator)
    q = torch.randint(0, 256, (1, SAMPLES), generator=generator)
    return {"ours": ours, "theirs": theirs, "c": c, "q": q}


@_one_thread
def _ours_teacher_forced(ours, theirs, c, q):
    incremental = IncrementalWaveNet(ours, c)
    return torch.stack([incremental.step(q[:, t]) for t in range(q.shape[1])], dim=-1)


@_one_thread
def _theirs_teacher_forced(ours, theirs, c, q):
    one_hot = F.one_hot(q, 256).float().transpose(1, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return theirs.incremental_forward(initial_input=one_hot[:, :, :1], c=c, T=q.shape[1], test_inputs=one_hot,
                                          softmax=False, quantize=False)


@_one_thread
def _ours_generate(ours, theirs, c, q):
    return generate(ours, c=c, generator=torch.Generator().manual_seed(0))


@_one_thread
def _theirs_generate(ours, theirs, c, q):
    np.random.seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_hot = theirs.incremental_forward(c=c, T=q.shape[1], softmax=True, quantize=True)
    return one_hot.argmax(1)


def _same_logits(ours, reference):
    assert ours.shape == reference.shape
    np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)


def _both_valid(ours, reference):
    assert ours.shape == reference.shape == (1, SAMPLES)
    assert 0 <= int(ours.min()) and int(ours.max()) < 256


def _growth_setup(layers):
    def setup():
        torch.manual_seed(0)
        model = WaveNet(256, layers, 1, 64, 128, 64, kernel_size=2).eval()
        prompt = torch.randint(0, 256, (1, model.receptive_field), generator=torch.Generator().manual_seed(1))
        primed = IncrementalWaveNet(model)
        primed.prime(prompt)
        return {"model": model, "prompt": prompt, "primed": primed}
    return setup


@_one_thread
def _cached(model, prompt, primed):
    return primed.fork().sample(NEW_SAMPLES, torch.Generator().manual_seed(0))


@_one_thread
def _naive(model, prompt, primed):
    return generate_naive(model, NEW_SAMPLES, prompt=prompt, generator=torch.Generator().manual_seed(0))


def _same_samples(ours, reference):
    assert torch.equal(ours, reference)


CASES = [
    Case(f"models.wavenet.IncrementalWaveNet, {SAMPLES} teacher-forced steps, vocoder 20 layers x 64 ch, "
         "mel 40 x hop 128 (vs wavenet_vocoder incremental_forward)",
         _vocoder_setup, _ours_teacher_forced, _theirs_teacher_forced, _same_logits),
    Case(f"models.wavenet.generate, {SAMPLES} samples, same vocoder (vs wavenet_vocoder incremental_forward, "
         "sampling)",
         _vocoder_setup, _ours_generate, _theirs_generate, _both_valid),
] + [
    Case(f"models.wavenet.IncrementalWaveNet.sample (generate after its prompt pass), {NEW_SAMPLES} samples, "
         f"receptive field {2 ** layers} ({layers} layers x 64 ch) (vs generate_naive)",
         _growth_setup(layers), _cached, _naive, _same_samples)
    for layers in GROWTH
]

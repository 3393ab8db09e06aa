"""lessons_lib.models.wav2vec2 against transformers' Wav2Vec2Model: forward, and forward + backward (Chapter 6).

The configuration is the BASE model's shape at a CPU size: the 7-layer feature encoder of 512 channels (strides
320), then 4 transformer layers of width 256 (4 heads, 1024 feed-forward units, positional convolution of 128
taps in 16 groups). Input: a batch of 4 one-second waveforms at 16 kHz (49 frames each). Both models hold the
same weights (transformers' initialisation, loaded into ours by ``from_transformers``).

* forward: eval mode, no gradients; the last hidden states must agree within 1e-4 before timing.
* forward + backward: training mode with every dropout and layer drop at 0 (so that both compute the same
  thing), the loss is the sum of squares of the last hidden state; the outputs must agree within 1e-4 and the
  gradients of the last feed-forward layer and of the first convolution within 1e-2 and 5e-2 of their largest
  entries (float32 rounding: see ``_same_step``).

transformers runs its default attention (``sdpa``: ``F.scaled_dot_product_attention``); ours writes the softmax
out (``layers.MultiHeadSelfAttention``), so that attention maps can be returned. torch runs on one thread
during each call, as in the other model benchmarks. Goal: a ratio within 1.1.
"""

from __future__ import annotations

import torch

from lessons_lib.models import wav2vec2 as w2v

from .core import Case, assert_close, one_thread

BATCH, N_SAMPLES = 4, 16000
CONFIG = dict(hidden_size=256, num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
              hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, layerdrop=0.0,
              mask_time_prob=0.0)  # no mask embedding: transformers would draw SpecAugment masks in training mode


def _setup(training: bool):
    def setup():
        transformers = w2v.transformers_reference()
        torch.manual_seed(0)
        theirs = transformers.Wav2Vec2Model(transformers.Wav2Vec2Config(**CONFIG))
        ours = w2v.from_transformers(theirs)
        theirs.train(training), ours.train(training)
        x = torch.randn(BATCH, N_SAMPLES, generator=torch.Generator().manual_seed(1))
        return {"ours_model": ours, "their_model": theirs, "x": x}
    return setup


def _forward(model, x):
    with torch.no_grad(), one_thread():
        return model(x)[0]


def _step(model, x):
    with one_thread():
        model.zero_grad(set_to_none=True)
        c = model(x)[0]
        c.pow(2).sum().backward()
        first = model.feature_extractor.conv_layers[0].conv.weight.grad
        last = model.encoder.layers[-1].feed_forward.output_dense.weight.grad
        return c.detach(), first, last


def _same_forward(ours, reference):
    assert_close(ours.numpy(), reference.numpy(), rtol=1e-4, atol=1e-4)


def _same_step(ours, reference):
    # Relative to each tensor's largest entry. The first convolution's float32 gradient sums 64,000 samples'
    # contributions through a group norm over time, whose backward pass cancels large terms: two float32
    # computations of it differ by up to a few percent of its largest entry (2.4% here), while in float64 ours
    # and transformers' agree to 4e-11 (and tests/models/test_wav2vec2.py checks every gradient of the
    # pre-training model in float64).
    for (a, b), tolerance in zip(zip(ours, reference), (1e-4, 5e-2, 1e-2)):
        scale = float(b.abs().max())
        assert_close(a.numpy() / scale, b.numpy() / scale, rtol=0, atol=tolerance)


CASES = [
    Case(f"models.wav2vec2.Wav2Vec2 forward, eval, batch {BATCH} x 1 s @ 16 kHz, 4 layers of 256 "
         "(vs transformers.Wav2Vec2Model)", _setup(False),
         lambda ours_model, their_model, x: _forward(ours_model, x),
         lambda ours_model, their_model, x: _forward(their_model, x), _same_forward),
    Case(f"models.wav2vec2.Wav2Vec2 forward + backward, training, batch {BATCH} x 1 s @ 16 kHz, 4 layers of 256 "
         "(vs transformers.Wav2Vec2Model)", _setup(True),
         lambda ours_model, their_model, x: _step(ours_model, x),
         lambda ours_model, their_model, x: _step(their_model, x), _same_step),
]

"""lessons_lib.models.audio_spectrogram_transformer against transformers' ASTModel: forward, and forward + backward.

Two sizes. "base, 4 layers": the paper's width (768, 12 heads, MLP 3072) and patches (16 x 16, strides 10) on
the one-second inputs of its Speech Commands model (128 mel bands x 128 frames: 144 patches + 2 tokens), with 4
of its 12 layers so that a call stays under a second on one core; "recipe": the quick-mode model of
``lessons_lib.recipes.ast_fsdd`` on a training batch of 32 FSDD log-mel spectrograms (40 x 101, 60 patches).
Both models hold the same weights (transformers' random initialisation, copied by ``from_transformers``),
dropout is 0, and transformers runs its default attention (``sdpa``). A forward call is in eval mode without
gradients; a forward + backward call is in training mode: zero the gradients, forward, cross-entropy of the
pooled output's first ten features against fixed labels, backward. The outputs (and two gradients) must agree
before anything is timed. torch runs on one thread during each call, as in ``bench_cnn``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lessons_lib.models import audio_spectrogram_transformer as ast_module

from .core import Case, assert_close, one_thread

transformers = ast_module.transformers_reference()

SIZES = {
    "base, 4 layers, 128 x 128, batch 2": (dict(num_hidden_layers=4, max_length=128, num_mel_bins=128), 2),
    "recipe ast_fsdd, 40 x 101, batch 32": (dict(hidden_size=64, num_hidden_layers=4, num_attention_heads=4,
                                                 intermediate_size=128, patch_size=8, frequency_stride=8,
                                                 time_stride=8, max_length=101, num_mel_bins=40), 32),
}


def _setup(settings: dict, batch: int):
    def setup():
        torch.manual_seed(0)
        theirs = transformers.ASTModel(transformers.ASTConfig(**settings))
        ours = ast_module.from_transformers(theirs)
        generator = torch.Generator().manual_seed(1)
        x = torch.randn(batch, settings["max_length"], settings["num_mel_bins"], generator=generator)
        labels = torch.randint(0, 10, (batch,), generator=generator)
        return {"ours_model": ours, "their_model": theirs, "x": x, "labels": labels}
    return setup


def _forward(model, x):
    model.eval()
    with torch.no_grad(), one_thread():
        return model(x)[0]


def _step(model, x, labels):
    model.train()

    def step():
        model.zero_grad(set_to_none=True)
        out = model(x)
        F.cross_entropy(out[1][:, :10], labels).backward()  # the pooled output's first ten features as logits
        return out[0].detach()

    with one_thread():
        hidden = step()
    patch = model.embeddings.patch_embeddings.projection.weight.grad
    return hidden, patch, model.layernorm.weight.grad


def _same(ours, reference):
    for a, b in zip(ours if isinstance(ours, tuple) else (ours,), reference if isinstance(reference, tuple)
                    else (reference,)):
        assert_close(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-5)


CASES = []
for _name, (_settings, _batch) in SIZES.items():
    CASES.append(Case(f"models.audio_spectrogram_transformer forward, eval, {_name} (vs transformers ASTModel)",
                      _setup(_settings, _batch),
                      lambda ours_model, their_model, x, labels: _forward(ours_model, x),
                      lambda ours_model, their_model, x, labels: _forward(their_model, x), _same))
    CASES.append(Case(f"models.audio_spectrogram_transformer forward + backward, training, {_name} "
                      f"(vs transformers ASTModel)", _setup(_settings, _batch),
                      lambda ours_model, their_model, x, labels: _step(ours_model, x, labels),
                      lambda ours_model, their_model, x, labels: _step(their_model, x, labels), _same))

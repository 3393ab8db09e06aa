"""lessons_lib.models.cnn against torchvision's models: one training step's forward and backward (Chapter 6).

The input is what transfer learning feeds an ImageNet network: a batch of log-mel spectrograms, 64 mel bands x
101 frames (one second at a 10 ms hop), the one channel repeated three times. Both models are at the ImageNet
configuration (1000 classes) and in training mode, hold the same weights (torchvision's initialization, copied
into ours with ``load_state_dict``) and draw the same dropout masks (the same seed before each forward pass, the
global generator's state restored afterwards). A call is: zero the gradients, forward, cross-entropy, backward.
The logits and two gradients (first convolution, last layer) must agree before anything is timed.

torch runs on one thread during each call (set and restored around it), as in ``bench_frontend``: on a shared
2-core machine two threads measure the load more than the code. The goal is a ratio within 1.05: the same
operators in the same order, nothing added but our input check.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lessons_lib.models import cnn

from .core import Case, assert_close, one_thread

N_MELS, N_FRAMES = 64, 101
# (builder, batch): the batch keeps each call between about 0.05 and 0.5 s on one core.
MODELS = [("alexnet", 8), ("vgg11_bn", 2), ("googlenet", 8), ("resnet18", 8), ("resnet50", 4), ("densenet121", 4),
          ("squeezenet1_1", 8)]


def _setup(name: str, batch: int):
    def setup():
        tv = cnn.torchvision_models()
        options = {"aux_logits": False, "init_weights": True} if name == "googlenet" else {}
        torch.manual_seed(0)
        theirs = getattr(tv, name)(**options).train()
        ours = getattr(cnn, name)().train()
        ours.load_state_dict(theirs.state_dict())
        generator = torch.Generator().manual_seed(1)
        spectrogram = torch.randn(batch, 1, N_MELS, N_FRAMES, generator=generator)
        labels = torch.randint(0, 1000, (batch,), generator=generator)
        return {"ours_model": ours, "their_model": theirs, "x": spectrogram.expand(-1, 3, -1, -1), "labels": labels}
    return setup


def _step(model: torch.nn.Module, x: torch.Tensor, labels: torch.Tensor):
    with one_thread():
        model.zero_grad(set_to_none=True)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(2)  # the same dropout masks for both models
            logits = model(x)
        F.cross_entropy(logits, labels).backward()
    parameters = list(model.parameters())
    return logits.detach(), parameters[0].grad, parameters[-2].grad  # first conv's and last layer's weights


def _ours(ours_model, their_model, x, labels):
    return _step(ours_model, x, labels)


def _theirs(ours_model, their_model, x, labels):
    return _step(their_model, x, labels)


def _same(ours, reference):
    for a, b in zip(ours, reference):
        assert_close(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)


CASES = [
    Case(f"models.cnn.{name} forward + backward, training, batch {batch} x 3 x {N_MELS} x {N_FRAMES} "
         f"(vs torchvision.models.{name})", _setup(name, batch), _ours, _theirs, _same)
    for name, batch in MODELS
]

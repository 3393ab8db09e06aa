"""WaveGlow synthesis against the WaveNet vocoder's cached generation, on the CPU (Chapter 7e).

The question of the chapter: a flow turns noise into the whole waveform in one parallel pass
(:meth:`~lessons_lib.models.waveglow.WaveGlow.infer`), where a WaveNet draws one sample after the other,
each step a pass through every layer (:func:`~lessons_lib.models.wavenet.generate`, with 07b's cached
:class:`~lessons_lib.models.wavenet.IncrementalWaveNet`). Both vocode the same 40-band log-mel
spectrogram (hop 128) into 2,048 samples (a quarter of a second at 8 kHz), batch 1, float32, one torch
thread, no gradients, at the two sizes of the recipes: quick (WaveGlow of 4 flows, WN 4 layers x 32
channels, against 07c's quick WaveNet, 10 layers x 32 channels) and full (WaveGlow of 12 flows, WN 8
layers x 128 channels, against 07c's full WaveNet, 30 layers x 64 channels). The models differ, so the
check is only that both give 2,048 finite samples. Samples/s = 2,048 / time.
"""

from __future__ import annotations

import numpy as np
import torch

from lessons_lib.models.wavenet import generate
from lessons_lib.recipes import flow_vocoder, wavenet_vocoder

from .core import Case, one_thread

FRAMES = 17  # 16 hops of 128 samples
SAMPLES = (FRAMES - 1) * 128


def _setup(mode):
    def setup():
        flow = flow_vocoder.build(flow_vocoder.CONFIGS[mode]).eval()
        wavenet = wavenet_vocoder.build(wavenet_vocoder.CONFIGS[mode]).eval()
        mel = torch.randn(1, 40, FRAMES, generator=torch.Generator().manual_seed(0))
        return {"flow": flow, "wavenet": wavenet, "mel": mel}
    return setup


def _flow(flow, wavenet, mel):
    with torch.no_grad(), one_thread():
        return flow.infer(mel, sigma=0.6, generator=torch.Generator().manual_seed(0))


def _wavenet(flow, wavenet, mel):
    with torch.no_grad(), one_thread():
        return generate(wavenet, c=mel[..., :-1], generator=torch.Generator().manual_seed(0))


def _both_vocode(ours, reference):
    assert tuple(ours.shape) == tuple(reference.shape) == (1, SAMPLES)
    assert np.isfinite(ours.numpy()).all()


def _parameters(model) -> str:
    return f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M"


def _name(mode):
    flow, wavenet = (r.CONFIGS[mode] for r in (flow_vocoder, wavenet_vocoder))
    with torch.device("meta"):  # sized without allocating: the module is imported by every benchmark run
        sizes = {"flow": flow_vocoder.build(flow), "wavenet": wavenet_vocoder.build(wavenet)}
    return (f"models.waveglow.WaveGlow.infer, {SAMPLES} samples, {mode} size: {flow.n_flows} flows, WN "
            f"{flow.wn_layers} x {flow.wn_channels} ch ({_parameters(sizes['flow'])}) (vs models.wavenet.generate, "
            f"07c's {wavenet.layers} layers x {wavenet.residual_channels} ch ({_parameters(sizes['wavenet'])}))")


CASES = [Case(_name(mode), _setup(mode), _flow, _wavenet, _both_vocode) for mode in ("quick", "full")]

"""lessons_lib.models.wavenet against r9y9's wavenet_vocoder 0.1.1 and against its defining properties.

Reference: our forward equals ``wavenet_vocoder.WaveNet``'s (float64, random weights, with and without local
conditioning through its transposed-convolution upsampler, global conditioning through its speaker embedding,
``legacy`` on and off) after ``from_wavenet_vocoder``, and our incremental steps equal its teacher-forced
``incremental_forward``; parameter counts equal its (without weight norm) and the formula. Properties: the
receptive field equals ``layers.receptive_field`` and the support of input gradients; causality (hypothesis);
every cached step equals the teacher-forced forward (float64, several configurations, runs past the queues'
wrap-around); ``prime`` equals stepping; cached and naive generation draw the same samples from the same
generator; the sampler's frequencies follow the softmax. Upsamplers: transposed (against the definition
written as a loop, and its checkerboard), nearest + convolution (against scipy), linear (against numpy.interp).
The discretised mixture of logistics: its NLL equals wavenet_vocoder's ``discretized_mix_logistic_loss``
(float64, both outer bins, clamped scales), its probabilities sum to 1, its sampler draws r9y9's values from the
same seed and follows the mixture's probabilities; a mixture WaveNet generates alike with queues and naively.
Bad input raises ValueError/TypeError naming the argument.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib.models import layers
from lessons_lib.models.wavenet import (ConditioningUpsampler, IncrementalWaveNet, WaveNet, _sample,
                                        discretized_mixture_nll, from_wavenet_vocoder, generate, generate_naive,
                                        sample_discretized_mixture)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import wavenet_vocoder  # the reference (pip install wavenet_vocoder==0.1.1)
    from wavenet_vocoder.mixture import discretized_mix_logistic_loss, sample_from_discretized_mix_logistic

pytestmark = [pytest.mark.usefixtures("one_torch_thread"),
              # the reference uses torch's deprecated weight_norm and a non-full backward hook
              pytest.mark.filterwarnings("ignore::FutureWarning"),
              pytest.mark.filterwarnings("ignore::UserWarning")]

PROPERTY = settings(max_examples=20, deadline=None)
SMALL = dict(classes=32, layers=6, stacks=2, residual_channels=6, gate_channels=8, skip_channels=5)


def small(**options) -> WaveNet:
    torch.manual_seed(options.pop("seed", 0))
    return WaveNet(**{**SMALL, **options}).double().eval()


def randomize(model: torch.nn.Module, seed: int = 0, scale: float = 0.5) -> torch.nn.Module:
    """Every parameter drawn at random (initial values such as constant upsampling kernels hide bugs)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(scale * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return model


def indices(batch, T, classes=32, seed=0):
    return torch.randint(0, classes, (batch, T), generator=torch.Generator().manual_seed(seed))


def features(batch, bands, frames, seed=1):
    return torch.rand(batch, bands, frames, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# configurations: (WaveNet options, conditioning maker(batch, T) -> (c, g))
CONFIGS = {
    "plain": ({}, lambda batch, T: (None, None)),
    "kernel3-legacy": ({"kernel_size": 3, "legacy_skips": True}, lambda batch, T: (None, None)),
    "speaker": ({"global_cond_channels": 3, "n_speakers": 4},
                lambda batch, T: (None, torch.arange(batch) % 4)),
    "global-vector": ({"global_cond_channels": 3},
                      lambda batch, T: (None, features(batch, 3, 1)[..., 0])),
    "mel-transposed": ({"cond_channels": 5, "hop_length": 4, "upsample_scales": (2, 2), "freq_axis_kernel_size": 3,
                        "upsample_kernel_sizes": (3, 2)},
                       lambda batch, T: (features(batch, 5, T // 4), None)),
    "mel-nearest": ({"cond_channels": 5, "hop_length": 4, "upsampler": "nearest"},
                    lambda batch, T: (features(batch, 5, T // 4), None)),
    "mel-linear-speaker": ({"cond_channels": 5, "hop_length": 4, "upsampler": "linear",
                            "global_cond_channels": 2, "n_speakers": 3},
                           lambda batch, T: (features(batch, 5, T // 4), torch.arange(batch) % 3)),
    "sample-rate-cond": ({"cond_channels": 2, "upsampler": None},
                         lambda batch, T: (features(batch, 2, T), None)),
    "mixture-speaker": ({"n_mixtures": 3, "global_cond_channels": 2, "n_speakers": 3},
                        lambda batch, T: (None, torch.arange(batch) % 3)),
}


def configured(name, seed=0):
    options, conditioning = CONFIGS[name]
    return randomize(small(**options), seed), conditioning


# --------------------------------------------------------------------------- receptive field and causality


@pytest.mark.parametrize("kernel_size, n_layers, stacks", [(2, 6, 2), (3, 8, 2), (2, 10, 1), (4, 3, 3)])
def test_receptive_field_formula(kernel_size, n_layers, stacks):
    model = WaveNet(classes=8, layers=n_layers, stacks=stacks, residual_channels=2, gate_channels=2,
                    skip_channels=2, kernel_size=kernel_size)
    per_cycle = n_layers // stacks
    assert model.dilations == [2 ** (i % per_cycle) for i in range(n_layers)]
    assert model.receptive_field == layers.receptive_field(kernel_size, model.dilations)
    assert model.receptive_field == wavenet_vocoder.receptive_field_size(n_layers, stacks, kernel_size)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_receptive_field_from_gradients(kernel_size):
    model = randomize(small(kernel_size=kernel_size))
    r, T = model.receptive_field, model.receptive_field + 9
    x = F.one_hot(indices(1, T), 32).double().transpose(1, 2).requires_grad_(True)
    model(x)[0, :, -1].sum().backward()
    reached = (x.grad[0].abs().sum(0) > 0).numpy()
    expected = np.arange(T) >= T - r
    np.testing.assert_array_equal(reached, expected)


@PROPERTY
@given(tau=st.integers(0, 39), seed=st.integers(0, 2 ** 16), name=st.sampled_from(sorted(CONFIGS)))
def test_changing_the_future_never_changes_the_past(tau, seed, name):
    model, conditioning = configured(name)
    T = 40
    q = indices(2, T, seed=seed)
    changed = q.clone()
    changed[:, tau:] = indices(2, T - tau, seed=seed + 1)
    c, g = conditioning(2, T)
    before, after = model(q, c, g), model(changed, c, g)
    torch.testing.assert_close(before[..., :tau], after[..., :tau], rtol=0, atol=1e-12)
    if tau < T and not torch.equal(q[:, tau], changed[:, tau]):
        assert not torch.allclose(before[..., tau], after[..., tau])  # the present does matter


def test_forward_on_one_sample_and_float_one_hot_input():
    model = randomize(small())
    q = indices(3, 1)
    logits = model(q)
    assert logits.shape == (3, 32, 1)
    torch.testing.assert_close(model(F.one_hot(q, 32).double().transpose(1, 2)), logits, rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- the reference


def their_wavenet(seed=0, **options):
    defaults = dict(out_channels=32, layers=6, stacks=2, residual_channels=6, gate_channels=8,
                    skip_out_channels=5, kernel_size=3, legacy=False)
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = wavenet_vocoder.WaveNet(**{**defaults, **options}).double().eval()
    return randomize(theirs, seed)


THEIR_CONFIGS = {
    "plain": {},
    "legacy-kernel2": {"legacy": True, "kernel_size": 2},
    "mel": {"cin_channels": 5, "upsample_conditional_features": True, "upsample_scales": [2, 3],
            "freq_axis_kernel_size": 3},
    "mel-speaker-legacy": {"cin_channels": 5, "upsample_conditional_features": True, "upsample_scales": [4],
                           "freq_axis_kernel_size": 1, "gin_channels": 3, "n_speakers": 4, "legacy": True},
    "speaker": {"gin_channels": 3, "n_speakers": 4},
}


def their_inputs(theirs, batch, T, seed=0):
    q = indices(batch, T, seed=seed)
    c = g = None
    if theirs.cin_channels > 0:
        hop = math.prod(m.stride[1] for m in theirs.upsample_conv if isinstance(m, torch.nn.ConvTranspose2d))
        c = features(batch, theirs.cin_channels, T // hop, seed=seed + 1)
    if theirs.embed_speakers is not None:
        g = torch.arange(batch) % theirs.embed_speakers.num_embeddings
    return q, c, g


@pytest.mark.parametrize("name", sorted(THEIR_CONFIGS))
def test_forward_equals_wavenet_vocoder(name):
    theirs = their_wavenet(**THEIR_CONFIGS[name])
    ours = from_wavenet_vocoder(theirs)
    assert ours.receptive_field == theirs.receptive_field
    q, c, g = their_inputs(theirs, 2, 36)
    with torch.no_grad():
        expected = theirs(F.one_hot(q, 32).double().transpose(1, 2), c, None if g is None else g.view(-1, 1))
        got = ours(q, c, g)
    assert got.shape == expected.shape == (2, 32, 36)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["plain", "mel-speaker-legacy"])
def test_incremental_steps_equal_their_incremental_forward(name):
    theirs = their_wavenet(**THEIR_CONFIGS[name])
    ours = from_wavenet_vocoder(theirs)
    batch, T = 2, 24
    q, c, g = their_inputs(theirs, batch, T)
    one_hot = F.one_hot(q, 32).double().transpose(1, 2)
    with torch.no_grad():
        expected = theirs.incremental_forward(initial_input=one_hot[:, :, :1], c=c,
                                              g=None if g is None else g.view(-1, 1), T=T, test_inputs=one_hot,
                                              softmax=False, quantize=False)
    incremental = IncrementalWaveNet(ours, c, g, batch_size=batch)
    got = torch.stack([incremental.step(q[:, t]) for t in range(T)], dim=-1)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_parameter_count_equals_the_reference_and_the_formula():
    R, G, S, k, classes, cond, gin, speakers = 64, 128, 48, 3, 256, 20, 8, 5
    theirs = wavenet_vocoder.WaveNet(out_channels=classes, layers=12, stacks=3, residual_channels=R,
                                     gate_channels=G, skip_out_channels=S, kernel_size=k, cin_channels=cond,
                                     gin_channels=gin, n_speakers=speakers, weight_normalization=False,
                                     upsample_conditional_features=True, upsample_scales=[4, 8],
                                     freq_axis_kernel_size=3)
    ours = WaveNet(classes, 12, 3, R, G, S, k, cond_channels=cond, hop_length=32, upsample_scales=(4, 8),
                   freq_axis_kernel_size=3, upsample_relu=True, global_cond_channels=gin, n_speakers=speakers)
    count = sum(p.numel() for p in ours.parameters())
    per_unit = (R * k + cond + gin + 3) * G + (G // 2 + 1) * (R + S)
    upsampler = (3 * 4 + 1) + (3 * 8 + 1)
    formula = classes * R + R + 12 * per_unit + (S * S + S) + (S * classes + classes) + speakers * gin + upsampler
    # their first_conv keeps weight norm even with weight_normalization=False: count its folded weight
    folded = layers.fold_weight_norm(theirs.state_dict())
    assert count == formula == sum(v.numel() for v in folded.values())
    assert set(ours.state_dict()) == set(folded)


def test_from_wavenet_vocoder_refuses_what_it_cannot_hold():
    with pytest.raises(TypeError, match="theirs"):
        from_wavenet_vocoder(torch.nn.Conv1d(1, 1, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scalar = wavenet_vocoder.WaveNet(out_channels=30, layers=2, stacks=1, residual_channels=4,
                                         gate_channels=4, skip_out_channels=4, scalar_input=True)
    with pytest.raises(ValueError, match="scalar_input"):
        from_wavenet_vocoder(scalar)


# --------------------------------------------------------------------------- fast generation


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_cached_step_equals_the_teacher_forced_forward(name):
    model, conditioning = configured(name)
    batch, T = 2, 3 * model.receptive_field + 1  # past the queues' wrap-around several times
    T += (-T) % 4  # whole frames
    q = indices(batch, T)
    c, g = conditioning(batch, T)
    expected = model(q, c, g).detach()
    incremental = IncrementalWaveNet(model, c, g, batch_size=batch)
    got = torch.stack([incremental.step(q[:, t]) for t in range(T)], dim=-1)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["kernel3-legacy", "mel-linear-speaker"])
def test_prime_equals_stepping(name):
    model, conditioning = configured(name)
    batch, T = 2, 2 * model.receptive_field + 8
    T += (-T) % 4
    q = indices(batch, T)
    c, g = conditioning(batch, T)
    expected = model(q, c, g).detach()
    incremental = IncrementalWaveNet(model, c, g, batch_size=batch)
    a, b = 5, model.receptive_field + 7  # steps, then a prime, then a shorter prime, then steps
    got = [incremental.step(q[:, t]) for t in range(a)]
    got.append(incremental.prime(q[:, a:b]))
    got.append(incremental.prime(q[:, b:b + 3]))
    got += [incremental.step(q[:, t]) for t in range(b + 3, T)]
    positions = list(range(a)) + [b - 1, b + 2] + list(range(b + 3, T))
    torch.testing.assert_close(torch.stack(got, dim=-1), expected[..., positions], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", ["plain", "kernel3-legacy", "mel-transposed", "mel-linear-speaker"])
def test_cached_and_naive_generation_draw_the_same_samples(name):
    model, conditioning = configured(name)
    model = model.float()
    T = 2 * model.receptive_field + 4
    T += (-T) % 4
    c, g = conditioning(2, T)
    c = None if c is None else c.float()
    fast = generate(model, c=c, g=g, generator=torch.Generator().manual_seed(3), batch_size=2,
                    length=None if c is not None else T)
    naive = generate_naive(model, c=c, g=g, generator=torch.Generator().manual_seed(3), batch_size=2,
                           length=None if c is not None else T)
    assert fast.shape == (2, T) and fast.dtype == torch.int64
    torch.testing.assert_close(fast, naive, rtol=0, atol=0)
    other = generate(model, c=c, g=g, generator=torch.Generator().manual_seed(4), batch_size=2,
                     length=None if c is not None else T)
    assert not torch.equal(fast, other)


def test_generation_from_a_prompt():
    model, _ = configured("plain")
    prompt = indices(2, 30)
    fast = generate(model, 25, prompt=prompt, generator=torch.Generator().manual_seed(0))
    naive = generate_naive(model, 25, prompt=prompt, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(fast, naive, rtol=0, atol=0)
    # the first sample is drawn from the forward's last logits on the prompt, with the same uniform number
    first = _sample(model(prompt)[..., -1], torch.Generator().manual_seed(0))
    torch.testing.assert_close(fast[:, 0], first, rtol=0, atol=0)


def test_generation_of_one_sample_and_a_fixed_first_sample():
    model, _ = configured("plain")
    x = generate(model, 1, initial=5, generator=torch.Generator().manual_seed(0), batch_size=3)
    expected = _sample(model(torch.full((3, 1), 5))[..., 0], torch.Generator().manual_seed(0))
    torch.testing.assert_close(x, expected.view(3, 1), rtol=0, atol=0)


def test_sampler_follows_the_softmax():
    logits = torch.tensor([[2.0, 0.0, -1.0, 1.0]]).repeat(20000, 1)
    drawn = _sample(logits, torch.Generator().manual_seed(0))
    frequencies = torch.bincount(drawn, minlength=4).double() / len(drawn)
    expected = torch.softmax(logits[0].double(), 0)
    assert (frequencies - expected).abs().max() < 4 * math.sqrt(0.25 / len(drawn))
    certain = _sample(torch.tensor([[0.0, 50.0, 0.0]]), torch.Generator().manual_seed(1))
    assert certain.tolist() == [1]


# --------------------------------------------------------------------------- upsamplers


def transposed_by_definition(c, weight, bias, stride):
    """y[n] = b + sum_j sum_m w[m] c[j] over n = j s + m - start, one band, kernel (1, k)."""
    frames, k = c.shape[-1], weight.shape[-1]
    full = np.zeros(c.shape[:-1] + ((frames - 1) * stride + k,))
    for j in range(frames):
        full[..., j * stride:j * stride + k] += c[..., j:j + 1] * weight
    start = (k - stride) // 2
    return full[..., start:start + frames * stride] + bias


@pytest.mark.parametrize("scale, kernel", [(4, 4), (4, 6), (3, 9), (2, 5)])
def test_transposed_upsampler_equals_its_definition(scale, kernel):
    up = randomize(ConditioningUpsampler(scale, "transposed", kernel_sizes=(kernel,)).double(), seed=scale)
    c = features(2, 3, 7)
    w, b = up[0].weight.detach().numpy()[0, 0, 0], up[0].bias.item()
    expected = transposed_by_definition(c.numpy(), w, b, scale)
    np.testing.assert_allclose(up(c).detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_transposed_checkerboard_appears_when_the_kernel_is_not_a_multiple_of_the_stride():
    c = torch.ones(1, 1, 12, dtype=torch.float64)
    for kernel, even in [(4, True), (8, True), (6, False), (5, False)]:
        up = ConditioningUpsampler(4, "transposed", kernel_sizes=(kernel,)).double()
        with torch.no_grad():
            up[0].weight.fill_(1.0)
        interior = up(c)[0, 0, 8:-8].detach()
        assert bool((interior == interior[0]).all()) is even, kernel
        if not even:
            torch.testing.assert_close(interior[4:], interior[:-4])  # the pattern repeats with the stride


def test_nearest_upsampler_equals_repetition_then_scipy_correlation():
    up = randomize(ConditioningUpsampler(6, "nearest", scales=(2, 3), kernel_sizes=(3, 5),
                                         freq_axis_kernel_size=3).double(), seed=2)
    c = features(2, 4, 5).numpy()
    expected = c
    for stage, scale in zip((up[1], up[3]), (2, 3)):
        repeated = np.repeat(expected, scale, axis=-1)
        w = stage.weight.detach().numpy()[0, 0]
        expected = np.stack([scipy.signal.correlate2d(x, w, mode="same") for x in repeated]) + stage.bias.item()
    np.testing.assert_allclose(up(torch.from_numpy(c)).detach().numpy(), expected, rtol=1e-12, atol=1e-12)


def test_linear_upsampler_equals_numpy_interp():
    hop, frames = 8, 6
    c = features(2, 3, frames).numpy()
    positions = np.clip((np.arange(frames * hop) + 0.5) / hop - 0.5, 0, frames - 1)
    expected = np.apply_along_axis(lambda row: np.interp(positions, np.arange(frames), row), -1, c)
    got = ConditioningUpsampler(hop, "linear")(torch.from_numpy(c)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_initial_transposed_upsampler_repeats_frames():
    c = features(1, 3, 4)
    up = ConditioningUpsampler(6, "transposed", scales=(2, 3)).double()
    torch.testing.assert_close(up(c), c.repeat_interleave(6, dim=-1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("mode", ["transposed", "nearest", "linear"])
def test_every_upsampler_gives_hop_samples_per_frame(mode):
    up = ConditioningUpsampler(128, mode, scales=None if mode == "linear" else (4, 4, 8))
    assert up(torch.zeros(2, 40, 3)).shape == (2, 40, 384)


# --------------------------------------------------------------------------- bad input


def test_bad_construction():
    with pytest.raises(ValueError, match="hop_length is 128"):
        WaveNet(cond_channels=40, hop_length=128, upsample_scales=(4, 4, 4))
    with pytest.raises(ValueError, match="hop_length .* required"):
        WaveNet(cond_channels=40)
    with pytest.raises(ValueError, match="need cond_channels"):
        WaveNet(hop_length=128)
    with pytest.raises(ValueError, match="stacks must divide"):
        WaveNet(layers=10, stacks=3)
    with pytest.raises(ValueError, match="n_speakers needs global_cond_channels"):
        WaveNet(n_speakers=3)
    with pytest.raises(ValueError, match="mode must be one of"):
        ConditioningUpsampler(4, "cubic")
    with pytest.raises(ValueError, match="kernel_sizes\\[0\\] must be >= scales\\[0\\]"):
        ConditioningUpsampler(4, "transposed", kernel_sizes=(3,))
    with pytest.raises(ValueError, match="odd"):
        ConditioningUpsampler(4, "nearest", kernel_sizes=(4,))
    with pytest.raises(ValueError, match="freq_axis_kernel_size must be odd"):
        ConditioningUpsampler(4, freq_axis_kernel_size=2)
    with pytest.raises(ValueError, match="one entry per upsampling stage"):
        ConditioningUpsampler(4, scales=(2, 2), kernel_sizes=(2,))
    with pytest.raises(TypeError, match="classes"):
        WaveNet(classes=2.5)


def test_bad_forward_input():
    vocoder = WaveNet(**SMALL, cond_channels=40, hop_length=4, global_cond_channels=2, n_speakers=3)
    q, c, g = indices(2, 16), torch.zeros(2, 40, 4), torch.tensor([0, 2])
    assert vocoder(q, c, g).shape == (2, 32, 16)
    with pytest.raises(ValueError, match="cond_channels=40 bands"):
        vocoder(q, torch.zeros(2, 26, 4), g)
    with pytest.raises(ValueError, match="c has 3 frames x hop_length 4 = 12 samples, but there are 16"):
        vocoder(q, torch.zeros(2, 40, 3), g)
    with pytest.raises(ValueError, match="c is required"):
        vocoder(q, None, g)
    with pytest.raises(ValueError, match="g must hold speaker indices in 0..2"):
        vocoder(q, c, torch.tensor([0, 3]))
    with pytest.raises(TypeError, match="g must hold speaker indices"):
        vocoder(q, c, torch.zeros(2, 2))
    with pytest.raises(ValueError, match="q must hold class indices in 0..31"):
        vocoder(q + 20, c, g)
    with pytest.raises(ValueError, match="q must be 2-D"):
        vocoder(q[0], c, g)
    with pytest.raises(ValueError, match="q must have 32 channels"):
        vocoder(torch.zeros(2, 31, 16), c, g)
    with pytest.raises(TypeError, match="q must be a torch.Tensor"):
        vocoder(q.numpy(), c, g)
    plain = WaveNet(**SMALL)
    with pytest.raises(ValueError, match="c was given"):
        plain(q, c)
    with pytest.raises(ValueError, match="g was given"):
        plain(q, None, g)


def test_bad_generation_input():
    model = WaveNet(**SMALL, cond_channels=3, hop_length=4)
    c = torch.zeros(1, 3, 5)
    for generator_function in (generate, generate_naive):
        with pytest.raises(ValueError, match="length must be a positive int"):
            generator_function(model, 0, c=c)
        with pytest.raises(ValueError, match="length must be a positive int"):
            generator_function(model, -3, c=c)
        with pytest.raises(TypeError, match="length must be a positive int"):
            generator_function(model, 2.0, c=c)
        with pytest.raises(ValueError, match="covers 20 steps"):
            generator_function(model, 21, c=c)
        with pytest.raises(ValueError, match="prompt or initial"):
            generator_function(model, 2, c=c, prompt=indices(1, 3), initial=3)
        with pytest.raises(ValueError, match="initial must be a class index"):
            generator_function(model, 2, c=c, initial=32)
        with pytest.raises(TypeError, match="model must be a WaveNet"):
            generator_function(torch.nn.Linear(2, 2), 3)
    with pytest.raises(ValueError, match="length is required"):
        generate(WaveNet(**SMALL))
    incremental = IncrementalWaveNet(model, c)
    with pytest.raises(ValueError, match="batch_size=1"):
        incremental.step(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="0..31"):
        incremental.step(torch.tensor([40]))
    with pytest.raises(ValueError, match="at least one step"):
        incremental.prime(torch.zeros(1, 0, dtype=torch.long))


def test_forks_of_one_primed_state_continue_independently():
    model, conditioning = configured("mel-linear-speaker")
    T = 48
    c, g = conditioning(2, T)
    prompt = indices(2, 20)
    primed = IncrementalWaveNet(model, c, g)
    primed.prime(prompt)
    first = primed.fork().sample(20, torch.Generator().manual_seed(5))
    second = primed.fork().sample(20, torch.Generator().manual_seed(5))
    torch.testing.assert_close(first, second, rtol=0, atol=0)
    assert primed.t == 20  # forks leave the original where it was
    naive = generate_naive(model, 20, c=c, g=g, prompt=prompt, generator=torch.Generator().manual_seed(5))
    torch.testing.assert_close(first, naive, rtol=0, atol=0)
    with pytest.raises(ValueError, match="covers 48 steps; generation needs 49"):
        primed.fork().sample(30)
    with pytest.raises(ValueError, match="call step or prime first"):
        IncrementalWaveNet(model, c, g).sample(3)


# --------------------------------------------------------------------------- discretised mixture of logistics


def mixture_params(batch, M, T, seed=0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, M, T, generator=generator, dtype=torch.float64)
    means = torch.rand(batch, M, T, generator=generator, dtype=torch.float64) * 2.4 - 1.2
    log_scales = torch.rand(batch, M, T, generator=generator, dtype=torch.float64) * 9 - 8.5  # some below -7
    return torch.cat([logits, means, log_scales], dim=1)


@pytest.mark.parametrize("classes", [256, 17])
def test_mixture_nll_equals_wavenet_vocoder(classes):
    params = mixture_params(3, 4, 50)
    q = torch.randint(0, classes, (3, 50), generator=torch.Generator().manual_seed(1))
    q[0, :3] = torch.tensor([0, classes - 1, classes // 2])  # both outer bins
    x = (2.0 * q.double() / (classes - 1) - 1.0).unsqueeze(-1)
    expected = discretized_mix_logistic_loss(params, x, num_classes=classes, reduce=False)[..., 0]
    torch.testing.assert_close(discretized_mixture_nll(params, q, classes), expected, rtol=1e-12, atol=1e-12)


def test_mixture_probabilities_sum_to_one():
    params = mixture_params(2, 3, 5)
    params[:, 6:] = params[:, 6:].clamp(min=-1.0)  # wide enough that no bin uses the centre approximation
    K = 64
    nll = torch.stack([discretized_mixture_nll(params, torch.full((2, 5), k), K) for k in range(K)])
    torch.testing.assert_close(torch.exp(-nll).sum(0), torch.ones(2, 5, dtype=torch.float64), rtol=1e-10,
                               atol=1e-10)


def test_mixture_sampling_equals_wavenet_vocoder_from_the_same_seed():
    params = mixture_params(2, 5, 40, seed=3)
    torch.manual_seed(11)
    expected = sample_from_discretized_mix_logistic(params)
    k, x = sample_discretized_mixture(params, 256, generator=torch.Generator().manual_seed(11), return_value=True)
    torch.testing.assert_close(x, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(k, torch.round((expected + 1) * 255 / 2).long(), rtol=0, atol=0)


def test_mixture_sampling_follows_the_mixture():
    K, n = 9, 40000
    params = torch.tensor([[[0.3], [-0.9], [0.2], [-0.5], [-1.2], [-2.0]]], dtype=torch.float64)  # 2 components
    k = sample_discretized_mixture(params.expand(n, -1, -1), K, generator=torch.Generator().manual_seed(0))
    frequencies = torch.bincount(k[:, 0], minlength=K).double() / n
    probabilities = torch.exp(-torch.stack([discretized_mixture_nll(params, torch.tensor([[j]]), K)[0, 0]
                                            for j in range(K)]))
    assert (frequencies - probabilities).abs().max() < 4 * math.sqrt(0.25 / n)


def test_a_mixture_wavenet_generates_with_queues_and_naively_alike():
    model, conditioning = configured("mixture-speaker")
    assert model.out_channels == 9 and model(indices(1, 5), g=torch.tensor([0])).shape == (1, 9, 5)
    _, g = conditioning(2, 0)
    fast = generate(model, 40, g=g, generator=torch.Generator().manual_seed(2))
    naive = generate_naive(model, 40, g=g, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(fast, naive, rtol=0, atol=0)
    assert fast.min() >= 0 and fast.max() < 32


def test_bad_mixture_input():
    with pytest.raises(ValueError, match="3 \\* n_mixtures channels"):
        discretized_mixture_nll(torch.zeros(1, 4, 2), torch.zeros(1, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="q must be integer class indices of shape"):
        discretized_mixture_nll(torch.zeros(1, 3, 2), torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="0..255"):
        discretized_mixture_nll(torch.zeros(1, 3, 2), torch.full((1, 2), 256))
    with pytest.raises(TypeError, match="n_mixtures"):
        WaveNet(n_mixtures=1.5)

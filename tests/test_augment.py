"""lessons_lib.augment: SpecAugment's masks, time shifts and noise at an exact SNR.

No reference library implements these exact laws (torchaudio's masks draw real-valued widths), so the
references are the definitions written again, slowly and differently: Python loops over the masks, the draws
replayed from the same seed, ``np.roll``, and the SNR measured from the mixture. Checks: the masks lie where and
are as wide as drawn, the masked bins never exceed the bounds, the same seed gives the same masks, zero masks are
the identity; the laws of the draws (range, every value reachable, roughly uniform); the torch module equals the
NumPy function item by item given the same draws (float64: exact for a constant fill, rtol 1e-12 for the mean),
leaves padding alone and is the identity in eval mode; time_shift's roll is a permutation that keeps the energy
(hypothesis); mix_at_snr reaches the requested SNR to 1e-9 dB on random signals (hypothesis); mixup equals its formula
with the documented draws (permutation, then Beta) and its labels are probabilities; edge cases and bad input
raise errors naming the argument.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from lessons_lib.augment import (Masks, SpecAugment, apply_masks, draw_masks, mix_at_snr, mixup, spec_augment,
                                  time_shift)
from lessons_lib.models.frontend import LogMel

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: no thread contention on CI

SNR_TOL_DB = 1e-9


def masked_by_loops(S, masks, fill):
    """The reference: every mask filled in turn, with Python loops."""
    out = S.copy()
    value = S.mean() if fill == "mean" else fill
    for f0, w in zip(masks.freq_starts.tolist(), masks.freq_widths.tolist()):
        for f in range(f0, f0 + w):
            out[f, :] = value
    for t0, w in zip(masks.time_starts.tolist(), masks.time_widths.tolist()):
        for t in range(t0, t0 + w):
            out[:, t] = value
    return out


def covered(n, starts, widths):
    hit = np.zeros(n, bool)
    for s, w in zip(starts.tolist(), widths.tolist()):
        hit[s:s + w] = True
    return hit


# --------------------------------------------------------------------------- draw_masks


def test_draw_masks_replays_the_documented_draws():
    ours = draw_masks(40, n_masks=5, max_width=7, rng=np.random.default_rng(11))
    rng = np.random.default_rng(11)
    widths = rng.integers(0, 8, size=5)
    starts = rng.integers(0, 40 - widths + 1, size=5)
    np.testing.assert_array_equal(ours[0], starts)
    np.testing.assert_array_equal(ours[1], widths)


@pytest.mark.parametrize("n, max_width", [(40, 8), (5, 9), (1, 3), (12, 0)])
def test_draw_masks_law_range_and_uniformity(n, max_width):
    starts, widths = draw_masks(n, n_masks=20_000, max_width=max_width, rng=np.random.default_rng(n))
    W = min(max_width, n)
    assert widths.min() >= 0 and widths.max() <= W and np.all(starts >= 0) and np.all(starts + widths <= n)
    assert set(widths.tolist()) == set(range(W + 1)), "every width 0..min(W, n) is drawn"
    counts = np.bincount(widths, minlength=W + 1)
    np.testing.assert_allclose(counts / counts.sum(), 1 / (W + 1), atol=0.02)
    for w in range(W + 1):  # given the width, every start 0..n - w is reachable
        assert set(starts[widths == w].tolist()) == set(range(n - w + 1))


def test_draw_masks_same_seed_same_masks_and_zero_masks():
    a = draw_masks(30, n_masks=3, max_width=6, rng=np.random.default_rng(5))
    b = draw_masks(30, n_masks=3, max_width=6, rng=np.random.default_rng(5))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    starts, widths = draw_masks(30, n_masks=0, max_width=6, rng=np.random.default_rng(5))
    assert starts.shape == widths.shape == (0,)


# --------------------------------------------------------------------------- spec_augment (NumPy)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fill", ["mean", 0.0, -80.0])
def test_spec_augment_masks_where_and_as_wide_as_drawn(seed, fill):
    rng = np.random.default_rng(seed)
    n_mels, n_frames = rng.integers(1, 50), rng.integers(1, 120)
    S = rng.standard_normal((n_mels, n_frames)) * 10 - 30
    S_before = S.copy()
    kwargs = dict(n_freq_masks=int(rng.integers(0, 4)), max_freq_width=int(rng.integers(0, 30)),
                  n_time_masks=int(rng.integers(0, 4)), max_time_width=int(rng.integers(0, 60)),
                  max_time_ratio=float(rng.uniform(0, 1)), fill=fill)
    S_aug, masks = spec_augment(S, rng=np.random.default_rng(100 + seed), return_masks=True, **kwargs)
    np.testing.assert_array_equal(S, S_before)  # the input is not changed
    np.testing.assert_array_equal(S_aug, masked_by_loops(S, masks, fill))
    # the masks are the documented draws, frequency first
    rng = np.random.default_rng(100 + seed)
    freq = draw_masks(n_mels, n_masks=kwargs["n_freq_masks"], max_width=kwargs["max_freq_width"], rng=rng)
    time_width = min(kwargs["max_time_width"], math.floor(kwargs["max_time_ratio"] * n_frames))
    time = draw_masks(n_frames, n_masks=kwargs["n_time_masks"], max_width=time_width, rng=rng)
    assert all(np.array_equal(x, y) for x, y in zip(masks, (*freq, *time)))
    # bounds: how many bands and frames can be masked, and the ratio bound of the time masks
    rows, cols = covered(n_mels, masks.freq_starts, masks.freq_widths), covered(n_frames, *masks[2:])
    assert rows.sum() <= kwargs["n_freq_masks"] * min(kwargs["max_freq_width"], n_mels)
    assert cols.sum() <= kwargs["n_time_masks"] * time_width
    assert np.all(masks.time_widths <= kwargs["max_time_ratio"] * n_frames)
    untouched = ~rows[:, None] & ~cols[None, :]
    np.testing.assert_array_equal(S_aug[untouched], S[untouched])


def test_spec_augment_same_seed_same_result_other_seed_differs():
    S = np.random.default_rng(0).standard_normal((40, 80))
    kwargs = dict(n_freq_masks=2, max_freq_width=10, n_time_masks=2, max_time_width=20)
    a = spec_augment(S, rng=np.random.default_rng(1), **kwargs)
    b = spec_augment(S, rng=np.random.default_rng(1), **kwargs)
    c = spec_augment(S, rng=np.random.default_rng(2), **kwargs)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("kwargs", [
    dict(n_freq_masks=0, max_freq_width=10, n_time_masks=0, max_time_width=10),
    dict(n_freq_masks=3, max_freq_width=0, n_time_masks=3, max_time_width=0),
    dict(n_freq_masks=0, max_freq_width=10, n_time_masks=3, max_time_width=10, max_time_ratio=0.0),
])
def test_spec_augment_without_masks_is_the_identity(kwargs):
    S = np.random.default_rng(0).standard_normal((20, 30)).astype(np.float32)
    S_aug = spec_augment(S, rng=np.random.default_rng(0), **kwargs)
    assert S_aug is not S and S_aug.dtype == np.float32
    np.testing.assert_array_equal(S_aug, S)


def test_spec_augment_fill_mean_is_the_mean_and_a_full_mask_fills_everything():
    S = np.random.default_rng(3).standard_normal((4, 6))
    S_aug = spec_augment(S, n_freq_masks=1, max_freq_width=4, n_time_masks=0, max_time_width=0,
                         rng=np.random.default_rng(0))
    masked = ~np.isclose(S_aug, S, rtol=0, atol=0)
    assert masked.any() and np.all(S_aug[masked] == S.mean())
    whole = apply_masks(S, Masks(np.array([0]), np.array([4]), np.array([], int), np.array([], int)), fill=7.0)
    np.testing.assert_array_equal(whole, np.full_like(S, 7.0))


def test_spec_augment_widths_larger_than_the_axis_are_capped():
    S = np.zeros((3, 4))
    _, masks = spec_augment(S, n_freq_masks=50, max_freq_width=100, n_time_masks=50, max_time_width=100,
                            rng=np.random.default_rng(0), return_masks=True)
    assert masks.freq_widths.max() == 3 and masks.time_widths.max() == 4
    assert np.all(masks.freq_starts + masks.freq_widths <= 3) and np.all(masks.time_starts + masks.time_widths <= 4)


# --------------------------------------------------------------------------- SpecAugment (torch)


@pytest.mark.parametrize("fill", ["mean", 0.0])
@pytest.mark.parametrize("seed", range(4))
def test_torch_module_equals_numpy_given_the_same_draws(seed, fill):
    rng = np.random.default_rng(seed)
    batch, n_mels, n_frames = 5, int(rng.integers(1, 40)), int(rng.integers(1, 90))
    lengths = torch.from_numpy(rng.integers(1, n_frames + 1, size=batch))
    lengths[0] = n_frames
    S = torch.from_numpy(rng.standard_normal((batch, n_mels, n_frames)) * 10 - 40)
    augment = SpecAugment(n_freq_masks=2, max_freq_width=int(rng.integers(0, 20)), n_time_masks=3,
                          max_time_width=int(rng.integers(0, 40)), max_time_ratio=0.4, fill=fill,
                          generator=torch.Generator().manual_seed(seed))
    masks = augment.draw(n_mels, lengths)
    ours = augment.apply(S, masks, lengths)
    for i in range(batch):
        L = int(lengths[i])
        item = Masks(*(m[i].numpy() for m in masks))
        reference = apply_masks(S[i, :, :L].numpy(), item, fill=fill)
        if fill == "mean":
            np.testing.assert_allclose(ours[i, :, :L].numpy(), reference, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(ours[i, :, :L].numpy(), reference)
        assert torch.equal(ours[i, :, L:], S[i, :, L:]), "frames past an item's length are never changed"
        assert np.all(item.time_widths <= min(augment.max_time_width, math.floor(0.4 * L)))
        assert np.all(item.time_starts + item.time_widths <= L)
        assert np.all(item.freq_starts + item.freq_widths <= n_mels)


def test_torch_forward_is_draw_then_apply_and_reproducible():
    S = torch.randn(4, 20, 50, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    lengths = torch.tensor([50, 10, 33, 1])
    kwargs = dict(n_freq_masks=2, max_freq_width=6, n_time_masks=2, max_time_width=12)
    a = SpecAugment(**kwargs, generator=torch.Generator().manual_seed(7))(S, lengths)
    b = SpecAugment(**kwargs, generator=torch.Generator().manual_seed(7))(S, lengths)
    manual = SpecAugment(**kwargs, generator=torch.Generator().manual_seed(7))
    c = manual.apply(S, manual.draw(20, lengths), lengths)
    assert torch.equal(a, b) and torch.equal(a, c) and not torch.equal(a, S)
    # without a generator: torch's default CPU generator, which fit(seed=...) seeds and checkpoints
    module = SpecAugment(**kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        d = module(S, lengths)
        torch.manual_seed(3)
        e = module(S, lengths)
    assert torch.equal(d, e)


def test_torch_draw_law_is_uniform_on_the_integers():
    augment = SpecAugment(n_freq_masks=1, max_freq_width=5, n_time_masks=1, max_time_width=5,
                          generator=torch.Generator().manual_seed(0))
    masks = augment.draw(8, torch.full((20_000,), 12))
    widths, starts = masks.freq_widths[:, 0].numpy(), masks.freq_starts[:, 0].numpy()
    np.testing.assert_allclose(np.bincount(widths, minlength=6) / widths.size, 1 / 6, atol=0.02)
    for w in range(6):
        assert set(starts[widths == w].tolist()) == set(range(8 - w + 1))
    time = masks.time_widths[:, 0].numpy()
    assert set(time.tolist()) == set(range(6))


def test_torch_module_is_the_identity_in_eval_mode_and_without_masks():
    S = torch.randn(2, 10, 20)
    augment = SpecAugment(n_freq_masks=2, max_freq_width=5, n_time_masks=2, max_time_width=5)
    assert augment.train()(S) is not S
    assert augment.eval()(S) is S
    none = SpecAugment(n_freq_masks=0, max_freq_width=5, n_time_masks=0, max_time_width=5)
    assert none(S) is S
    assert "n_freq_masks=0" in repr(none) and list(none.state_dict()) == []


def test_torch_module_behind_logmel_in_a_model():
    logmel = LogMel(sr=8000, n_fft=256, hop_length=80, n_mels=20)
    augment = SpecAugment(n_freq_masks=1, max_freq_width=4, n_time_masks=1, max_time_width=8, fill=0.0,
                          generator=torch.Generator().manual_seed(1))
    y = torch.randn(3, 4000, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    lengths = logmel.n_frames(torch.tensor([4000, 2500, 800]))
    S = logmel(y, lengths=torch.tensor([4000, 2500, 800]))
    S_aug = augment(S, lengths)
    assert S_aug.shape == S.shape
    model = torch.nn.Sequential(logmel, augment)
    assert torch.equal(model.eval()(y), logmel(y))


def test_torch_module_float32_and_gradient():
    S = torch.randn(2, 10, 20, requires_grad=True)
    augment = SpecAugment(n_freq_masks=1, max_freq_width=5, n_time_masks=1, max_time_width=5, fill=-1.0,
                          generator=torch.Generator().manual_seed(4))
    out = augment(S)
    assert out.dtype == torch.float32
    out.sum().backward()
    np.testing.assert_array_equal(S.grad.numpy(), (out != -1.0).float().numpy())


# --------------------------------------------------------------------------- time_shift


@pytest.mark.parametrize("mode", ["roll", "pad"])
@pytest.mark.parametrize("seed", range(5))
def test_time_shift_replays_the_documented_draw(mode, seed):
    y = np.random.default_rng(seed).standard_normal(50)
    ours = time_shift(y, 20, rng=np.random.default_rng(seed), mode=mode)
    k = int(np.random.default_rng(seed).integers(-20, 20, endpoint=True))
    if mode == "roll":
        np.testing.assert_array_equal(ours, np.roll(y, k))
    else:
        expected = np.zeros_like(y)
        if k >= 0:
            expected[k:] = y[:len(y) - k]
        else:
            expected[:k] = y[-k:]
        np.testing.assert_array_equal(ours, expected)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), max_shift=st.integers(0, 400), seed=st.integers(0, 2**32 - 1))
def test_time_shift_roll_is_a_permutation_and_keeps_the_energy(n, max_shift, seed):
    y = np.random.default_rng(seed).standard_normal(n)
    rolled = time_shift(y, max_shift, rng=np.random.default_rng(seed), mode="roll")
    np.testing.assert_array_equal(np.sort(rolled), np.sort(y))
    assert math.isclose(np.sum(rolled ** 2), np.sum(y ** 2), rel_tol=1e-12)
    padded = time_shift(y, max_shift, rng=np.random.default_rng(seed), mode="pad")
    assert padded.shape == y.shape and np.sum(padded ** 2) <= np.sum(y ** 2) * (1 + 1e-12)


def test_time_shift_zero_is_the_identity_and_keeps_dtype():
    y = np.random.default_rng(0).standard_normal(30).astype(np.float32)
    for mode in ("roll", "pad"):
        out = time_shift(y, 0, rng=np.random.default_rng(0), mode=mode)
        assert out.dtype == np.float32 and out is not y
        np.testing.assert_array_equal(out, y)


# --------------------------------------------------------------------------- mix_at_snr


def snr_db(speech, mixture):
    speech, mixture = speech.astype(np.float64), mixture.astype(np.float64)
    return 10 * np.log10(np.mean(speech ** 2) / np.mean((mixture - speech) ** 2))


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 2000), n_noise=st.integers(1, 3000), snr=st.floats(-40, 60), seed=st.integers(0, 2**32 - 1),
       scale=st.floats(1e-4, 1.0))
def test_mix_at_snr_reaches_the_snr_exactly(n, n_noise, snr, seed, scale):
    rng = np.random.default_rng(seed)
    speech, noise = scale * rng.standard_normal(n), rng.uniform(-1, 1, n_noise)
    mixture = mix_at_snr(speech, noise, snr, rng=rng)
    assert mixture.shape == speech.shape and mixture.dtype == np.float64
    assert abs(snr_db(speech, mixture) - snr) < SNR_TOL_DB


@pytest.mark.parametrize("n, n_noise", [(100, 250), (100, 100), (100, 37), (1, 5)])
def test_mix_at_snr_cuts_or_tiles_the_noise_from_the_drawn_offset(n, n_noise):
    rng = np.random.default_rng(n_noise)
    speech, noise = rng.standard_normal(n), rng.standard_normal(n_noise)
    mixture = mix_at_snr(speech, noise, 5.0, rng=np.random.default_rng(9))
    draw = np.random.default_rng(9)
    offset = int(draw.integers(0, n_noise - n, endpoint=True)) if n_noise >= n else int(draw.integers(0, n_noise))
    segment = np.concatenate([noise] * (n // n_noise + 2))[offset:offset + n]
    residual = mixture - speech
    gain = residual / segment  # one gain for every sample: the residual is the segment, scaled
    np.testing.assert_allclose(gain, gain[0], rtol=1e-9)
    assert gain[0] > 0
    # without rng the segment starts at 0
    residual = mix_at_snr(speech, noise, 5.0) - speech
    np.testing.assert_allclose(residual / np.resize(noise, n), (residual / np.resize(noise, n))[0], rtol=1e-9)


def test_mix_at_snr_float32_and_infinite_snr():
    rng = np.random.default_rng(0)
    speech, noise = rng.standard_normal(800).astype(np.float32), rng.standard_normal(900).astype(np.float32)
    mixture = mix_at_snr(speech, noise, 20.0, rng=rng)
    assert mixture.dtype == np.float32 and abs(snr_db(speech, mixture) - 20.0) < 1e-4  # float32 rounding
    clean = mix_at_snr(speech, noise, math.inf)
    assert clean is not speech
    np.testing.assert_array_equal(clean, speech)


def test_mix_at_snr_silent_speech_or_noise_is_named():
    speech, noise = np.random.default_rng(0).standard_normal(100), np.random.default_rng(1).standard_normal(100)
    with pytest.raises(ValueError, match="speech is silent"):
        mix_at_snr(np.zeros(100), noise, 0.0)
    with pytest.raises(ValueError, match="noise is silent"):
        mix_at_snr(speech, np.zeros(50), 0.0)
    with pytest.raises(ValueError, match="noise is silent"):  # silent over the segment used, loud elsewhere
        mix_at_snr(speech, np.concatenate([np.zeros(100), np.ones(100)]), 0.0)


@pytest.mark.parametrize("snr", [-math.inf, math.nan])
def test_mix_at_snr_refuses_nan_and_minus_infinity(snr):
    with pytest.raises(ValueError, match="snr_db"):
        mix_at_snr(np.ones(10), np.ones(10), snr)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("call, error, match", [
    (lambda: draw_masks(0, n_masks=1, max_width=1, rng=np.random.default_rng()), ValueError, "n must"),
    (lambda: draw_masks(5, n_masks=-1, max_width=1, rng=np.random.default_rng()), ValueError, "n_masks"),
    (lambda: draw_masks(5, n_masks=1.0, max_width=1, rng=np.random.default_rng()), TypeError, "n_masks"),
    (lambda: draw_masks(5, n_masks=1, max_width=-2, rng=np.random.default_rng()), ValueError, "max_width"),
    (lambda: draw_masks(5, n_masks=1, max_width=1, rng=0), TypeError, "rng"),
    (lambda: spec_augment(np.zeros(5), n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1,
                          rng=np.random.default_rng()), ValueError, "S must be 2-D"),
    (lambda: spec_augment(np.zeros((2, 2), int), n_freq_masks=1, max_freq_width=1, n_time_masks=1,
                          max_time_width=1, rng=np.random.default_rng()), TypeError, "S has integer"),
    (lambda: spec_augment(np.full((2, 2), np.nan), n_freq_masks=1, max_freq_width=1, n_time_masks=1,
                          max_time_width=1, rng=np.random.default_rng()), ValueError, "S contains NaN"),
    (lambda: spec_augment(np.zeros((2, 2)), n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1,
                          rng=np.random.default_rng(), max_time_ratio=1.5), ValueError, "max_time_ratio"),
    (lambda: spec_augment(np.zeros((2, 2)), n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1,
                          rng=np.random.default_rng(), fill="median"), ValueError, "fill"),
    (lambda: spec_augment(np.zeros((2, 2)), n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=-1,
                          rng=np.random.default_rng()), ValueError, "max_time_width"),
    (lambda: apply_masks(np.zeros((2, 2)), Masks(np.array([1]), np.array([2]), np.array([], int),
                                                 np.array([], int))), ValueError, "freq masks must lie"),
    (lambda: apply_masks(np.zeros((2, 2)), Masks(np.array([0.5]), np.array([1]), np.array([], int),
                                                 np.array([], int))), TypeError, "masks.freq_starts"),
    (lambda: SpecAugment(n_freq_masks=-1, max_freq_width=1, n_time_masks=1, max_time_width=1), ValueError,
     "n_freq_masks"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1, generator=0),
     TypeError, "generator"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(torch.zeros(2, 3)),
     ValueError, "S must be 3-D"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(np.zeros((1, 2, 3))),
     TypeError, "S must be a torch.Tensor"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(
        torch.zeros(1, 2, 3, dtype=torch.int64)), TypeError, "floating"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(
        torch.zeros(2, 2, 3), torch.tensor([3, 4])), ValueError, "lengths must be at most"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(
        torch.zeros(2, 2, 3), torch.tensor([3])), ValueError, "one entry per item"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(
        torch.zeros(2, 2, 3), torch.tensor([3, 0])), ValueError, "lengths must be >= 1"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1)(
        torch.zeros(2, 2, 3), torch.tensor([3.0, 2.0])), TypeError, "lengths must hold integers"),
    (lambda: SpecAugment(n_freq_masks=1, max_freq_width=1, n_time_masks=1, max_time_width=1).apply(
        torch.zeros(1, 2, 3), Masks(*[torch.tensor([[0]])] * 2, torch.tensor([[2]]), torch.tensor([[2]]))),
     ValueError, "time masks must lie"),
    (lambda: time_shift(np.zeros((2, 2)), 1, rng=np.random.default_rng()), ValueError, "y must be 1-D"),
    (lambda: time_shift(np.zeros(3), -1, rng=np.random.default_rng()), ValueError, "max_shift"),
    (lambda: time_shift(np.zeros(3), 1, rng=np.random.default_rng(), mode="wrap"), ValueError, "mode"),
    (lambda: time_shift(np.zeros(3), 1, rng=None), TypeError, "rng"),
    (lambda: mix_at_snr(np.ones(3, int), np.ones(3), 0.0), TypeError, "speech"),
    (lambda: mix_at_snr(np.ones(3), np.ones((3, 1)), 0.0), ValueError, "noise must be 1-D"),
    (lambda: mix_at_snr(np.ones(3), np.ones(3), "10"), TypeError, "snr_db"),
    (lambda: mix_at_snr(np.ones(3), np.ones(3), 0.0, rng=1), TypeError, "rng"),
])
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_mixup_is_the_formula_with_the_documented_draws():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(6, 50, generator=generator), torch.tensor([0, 3, 3, 9, 5, 1])
    got_x, got_y = mixup(x, y, 0.4, np.random.default_rng(7))
    rng = np.random.default_rng(7)
    partner, lam = rng.permutation(6), rng.beta(0.4, 0.4, size=6)
    for i in range(6):
        expected = lam[i] * x[i].double().numpy() + (1 - lam[i]) * x[partner[i]].double().numpy()
        np.testing.assert_allclose(got_x[i].numpy(), expected, rtol=1e-6, atol=1e-7)
        label = np.zeros(10)
        label[y[i]] += lam[i]
        label[y[partner[i]]] += 1 - lam[i]
        np.testing.assert_allclose(got_y[i].numpy(), label, rtol=1e-6, atol=1e-7)
    assert got_x.dtype == torch.float32 and got_y.dtype == torch.float32
    for bad in (0.0, -1.0, True):
        with pytest.raises(ValueError, match="alpha"):
            mixup(x, y, bad, np.random.default_rng(0))
    with pytest.raises(ValueError, match="same items"):
        mixup(x, y[:3], 0.4, np.random.default_rng(0))


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 12), alpha=st.floats(0.05, 20.0), seed=st.integers(0, 2**16))
def test_mixed_labels_are_probabilities_on_at_most_two_classes(n, alpha, seed):
    y = torch.from_numpy(np.random.default_rng(seed).integers(0, 10, n))
    _, soft = mixup(torch.zeros(n, 4), y, alpha, np.random.default_rng(seed))
    torch.testing.assert_close(soft.sum(1), torch.ones(n), rtol=0, atol=1e-6)
    assert (soft >= 0).all() and ((soft > 0).sum(1) <= 2).all()

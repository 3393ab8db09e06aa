"""lessons_lib.models.wav2vec2 against transformers 5.24 (random weights from a config, never the hub).

* Equal to ``transformers.Wav2Vec2Model``: the last hidden state, the extracted features and every layer's
  hidden state of small random configurations, in both layouts (group-norm encoder + post-LN, layer-norm
  encoder + pre-LN), with an even and an odd positional kernel, with masked frames and with padding; float64
  to 1e-10, float32 to 1e-5.
* Equal to ``Wav2Vec2ForPreTraining``: loss, contrastive and diversity losses, perplexity and both projections
  given the same ``mask_time_indices`` and ``sampled_negative_indices``: in eval mode, and in training mode
  (dropouts 0) from the same random state, where the Gumbel noise must be the same draw; gradients too.
* Counts: BASE 94,371,712 / 95,044,608 parameters (built on the meta device), LARGE-LV60 equal to theirs,
  identical state-dict keys and shapes.
* Span masking: the masked fraction's mean over many utterances equals its exact expectation (computed from
  the sampling scheme, not from our output) within 4 standard errors; every run of masked frames is at least
  ``mask_length`` long; padding is never masked; errors for utterances shorter than one span.
* Negatives: only other masked frames of the same utterance, uniformly; the flat-index convention of
  ``transformers``' ``_sample_negative_indices``.
* The Gumbel softmax equals ``F.gumbel_softmax`` from the same state; its arg max follows softmax(logits).
* Laws (hypothesis): G <= perplexity <= G V; the contrastive loss at chance is log(1 + K) per masked frame.
* Bad input and unsupported configurations raise clear errors.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib.models import wav2vec2 as w2v
from lessons_lib.models.layers import fold_weight_norm

pytest.importorskip("transformers")
transformers = w2v.transformers_reference()  # imports even beside a torchvision whose compiled operators fail
from transformers.models.wav2vec2 import modeling_wav2vec2 as hf  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py

PROPERTY = settings(max_examples=25, deadline=None)
TOL = {torch.float64: dict(rtol=1e-10, atol=1e-10), torch.float32: dict(rtol=1e-4, atol=1e-5)}

SMALL = dict(conv_dim=(24, 32, 32), conv_kernel=(10, 3, 3), conv_stride=(5, 2, 2), hidden_size=32,
             num_hidden_layers=2, num_attention_heads=4, intermediate_size=48, num_conv_pos_embeddings=16,
             num_conv_pos_embedding_groups=4, num_codevector_groups=2, num_codevectors_per_group=8,
             codevector_dim=16, proj_codevector_dim=12, num_negatives=6, mask_time_length=3, mask_time_prob=0.3)
LAYOUTS = {
    "base": dict(feat_extract_norm="group", conv_bias=False, do_stable_layer_norm=False),
    "large": dict(feat_extract_norm="layer", conv_bias=True, do_stable_layer_norm=True,
                  num_conv_pos_embeddings=15),
}
N_SAMPLES = 1600  # 0.1 s at 16 kHz
FRAMES = 79  # of the small encoder: (1600 - 10) // 5 + 1 = 319, then (319 - 3) // 2 + 1 = 159, then 79


def hf_config(layout="base", **changes):
    return transformers.Wav2Vec2Config(**{**SMALL, **LAYOUTS[layout], **changes})


def hf_model(kind, layout="base", dtype=torch.float32, seed=0, **changes):
    torch.manual_seed(seed)
    model = getattr(transformers, kind)(hf_config(layout, **changes))
    if kind == "Wav2Vec2ForPreTraining":  # transformers leaves codevectors at their uniform init: make them vary
        with torch.no_grad():
            model.quantizer.codevectors.normal_()
    return model.to(dtype).eval()


def waves(batch=2, n=N_SAMPLES, dtype=torch.float32, seed=1):
    return torch.randn(batch, n, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def close(a, b, dtype):
    torch.testing.assert_close(a, b, **TOL[dtype])


def masks_and_negatives(batch, frames, config, seed=0):
    rng = np.random.default_rng(seed)
    mask = w2v.compute_mask_indices((batch, frames), config.mask_time_prob, config.mask_time_length, rng=rng,
                                    min_masks=2)
    negatives = w2v.sample_negative_indices(mask, config.num_negatives, rng=rng)
    return torch.from_numpy(mask), torch.from_numpy(negatives)


# --------------------------------------------------------------------------- equal to Wav2Vec2Model


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_hidden_states_equal_transformers(layout, dtype):
    theirs = hf_model("Wav2Vec2Model", layout, dtype)
    ours = w2v.from_transformers(theirs)
    assert isinstance(ours, w2v.Wav2Vec2) and ours.config.do_stable_layer_norm == (layout == "large")
    x = waves(dtype=dtype)
    with torch.no_grad():
        expected = theirs(x, output_hidden_states=True)
        got = ours(x, output_hidden_states=True)
    close(got.last_hidden_state, expected.last_hidden_state, dtype)
    close(got[0], expected[0], dtype)  # the interface: first element of a tuple
    close(got.extract_features, expected.extract_features, dtype)
    assert len(got.hidden_states) == len(expected.hidden_states) == SMALL["num_hidden_layers"] + 1
    for a, b in zip(got.hidden_states, expected.hidden_states):
        close(a, b, dtype)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_masked_frames_equal_transformers(layout):
    theirs = hf_model("Wav2Vec2Model", layout, torch.float64)
    ours = w2v.from_transformers(theirs)
    x = waves(dtype=torch.float64)
    frames = ours.feature_extractor.output_length(N_SAMPLES)
    mask, _ = masks_and_negatives(2, frames, ours.config)
    with torch.no_grad():
        expected = theirs(x, mask_time_indices=mask).last_hidden_state
        got = ours(x, mask_time_indices=mask).last_hidden_state
        unmasked = ours(x).last_hidden_state
    close(got, expected, torch.float64)
    assert not torch.allclose(got, unmasked)  # the mask changed something


@pytest.mark.parametrize("layout", LAYOUTS)
def test_padding_equals_transformers_attention_mask(layout):
    theirs = hf_model("Wav2Vec2Model", layout, torch.float64)
    ours = w2v.from_transformers(theirs)
    x = waves(dtype=torch.float64)
    lengths = torch.tensor([N_SAMPLES, 1000])
    x[1, 1000:] = 0.0
    attention_mask = (torch.arange(N_SAMPLES)[None] < lengths[:, None]).long()
    with torch.no_grad():
        expected = theirs(x, attention_mask=attention_mask).last_hidden_state
        got = ours(x, lengths=lengths)
    real = ~got.padding_mask
    assert real.sum(1).tolist() == [FRAMES, ours.feature_extractor.output_length(1000)]
    close(got.last_hidden_state[real], expected[real], torch.float64)


def test_an_even_positional_kernel_keeps_the_length():
    theirs = hf_model("Wav2Vec2Model", "base", torch.float64, num_conv_pos_embeddings=8)
    ours = w2v.from_transformers(theirs)
    x = waves(dtype=torch.float64)
    with torch.no_grad():
        close(ours(x).last_hidden_state, theirs(x).last_hidden_state, torch.float64)


def test_positional_weight_is_the_weight_norm_formula():
    ours = w2v.Wav2Vec2(w2v.Wav2Vec2Config(**{**SMALL, "num_conv_pos_embeddings": 5})).double()
    conv = ours.encoder.pos_conv_embed.conv
    folded = fold_weight_norm({k: v for k, v in conv.state_dict().items()})
    g, v = conv.parametrizations.weight.original0, conv.parametrizations.weight.original1
    assert g.shape == (1, 1, 5)  # one gain per tap: norm over output and input channels
    by_hand = g * v / v.pow(2).sum(dim=(0, 1), keepdim=True).sqrt()
    torch.testing.assert_close(conv.weight, by_hand, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(conv.weight, folded["weight"], rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- equal to Wav2Vec2ForPreTraining


def pretraining_pair(layout, dtype, **changes):
    theirs = hf_model("Wav2Vec2ForPreTraining", layout, dtype, **changes)
    ours = w2v.from_transformers(theirs)
    assert isinstance(ours, w2v.Wav2Vec2ForPreTraining)
    return ours, theirs


def assert_same_pretraining(got, expected, dtype):
    # transformers computes the cosine similarities and the cross-entropy in float32 whatever the model's dtype:
    # in float64 the losses agree to float32's precision (everything else to float64's)
    loss_tolerance = dict(rtol=1e-6 if dtype == torch.float64 else 1e-5, atol=1e-6)
    torch.testing.assert_close(got.loss, expected.loss.to(got.loss.dtype), **loss_tolerance)
    torch.testing.assert_close(got.contrastive_loss, expected.contrastive_loss.to(got.loss.dtype), **loss_tolerance)
    close(got.diversity_loss, expected.diversity_loss, dtype)
    close(got.codevector_perplexity, expected.codevector_perplexity, dtype)
    close(got.projected_states, expected.projected_states, dtype)
    close(got.projected_quantized_states, expected.projected_quantized_states, dtype)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_pretraining_loss_equals_transformers_in_eval_mode(layout, dtype):
    ours, theirs = pretraining_pair(layout, dtype)
    x = waves(dtype=dtype)
    mask, negatives = masks_and_negatives(2, FRAMES, ours.config)
    with torch.no_grad():
        expected = theirs(x, mask_time_indices=mask, sampled_negative_indices=negatives)
        got = ours(x, mask, negatives)
    assert_same_pretraining(got, expected, dtype)
    assert torch.isfinite(got.loss) and got.loss > 0


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pretraining_loss_and_gradients_equal_transformers_in_training_mode(layout):
    no_dropout = dict(hidden_dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, layerdrop=0.0)
    ours, theirs = pretraining_pair(layout, torch.float64, **no_dropout)
    ours.train(), theirs.train()
    theirs.set_gumbel_temperature(1.5)
    ours.quantizer.temperature = 1.5
    x = waves(dtype=torch.float64)
    mask, negatives = masks_and_negatives(2, FRAMES, ours.config, seed=3)
    torch.manual_seed(7)  # the Gumbel noise: the same draws for both
    expected = theirs(x, mask_time_indices=mask, sampled_negative_indices=negatives)
    torch.manual_seed(7)
    got = ours(x, mask, negatives)
    assert_same_pretraining(got, expected, torch.float64)
    expected.loss.backward()
    got.loss.backward()
    theirs_grads = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():  # float32's precision, as the losses (key biases: both ~0 exactly)
        expected_grad = theirs_grads[name].grad
        gap = (p.grad - expected_grad).abs().max().item()
        assert gap <= 1e-6 * expected_grad.abs().max().item() + 1e-9, (name, gap)


def test_pretraining_needs_a_mask_and_a_mask_embedding():
    config = w2v.Wav2Vec2Config(**SMALL)
    model = w2v.Wav2Vec2ForPreTraining(config).eval()
    with pytest.raises(ValueError, match="mask_time_indices is required"):
        model(waves(), None)
    with pytest.raises(ValueError, match="mask_time_prob must be > 0"):
        w2v.Wav2Vec2ForPreTraining(dataclasses.replace(config, mask_time_prob=0.0))
    plain = w2v.Wav2Vec2(dataclasses.replace(config, mask_time_prob=0.0))
    assert not hasattr(plain, "masked_spec_embed")
    with pytest.raises(ValueError, match="no mask embedding"):
        plain(waves(), torch.zeros(2, FRAMES, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask_time_indices must have shape \(batch, frames\) = \(2, 79\)"):
        model(waves(), torch.zeros(2, FRAMES - 1, dtype=torch.bool))


# --------------------------------------------------------------------------- counts and keys


def test_base_parameter_counts_are_the_published_ones():
    with torch.device("meta"):
        assert n_params(w2v.wav2vec2_base()) == 94_371_712
        assert n_params(w2v.wav2vec2_base(pretraining=True)) == 95_044_608


@pytest.mark.parametrize("kind", ["Wav2Vec2Model", "Wav2Vec2ForPreTraining"])
@pytest.mark.parametrize("name", ["base", "large_lv60"])
def test_state_dict_keys_and_shapes_equal_transformers(name, kind):
    hf_kwargs = {} if name == "base" else dict(
        conv_bias=True, feat_extract_norm="layer", hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        intermediate_size=4096, do_stable_layer_norm=True, codevector_dim=768, proj_codevector_dim=768)
    with torch.device("meta"):
        theirs = getattr(transformers, kind)(transformers.Wav2Vec2Config(**hf_kwargs))
        ours = getattr(w2v, f"wav2vec2_{name}")(pretraining=kind == "Wav2Vec2ForPreTraining")
    expected = {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == expected
    assert n_params(ours) == n_params(theirs)


def test_receptive_field_and_hop_match_the_frames_transformers_computes():
    theirs = hf_model("Wav2Vec2Model", "base")
    config = w2v.config_from_transformers(theirs.config)
    encoder = w2v.FeatureEncoder(config)
    lengths = torch.arange(encoder.receptive_field, 4000, 37)
    assert torch.equal(encoder.output_length(lengths), theirs._get_feat_extract_output_lengths(lengths))
    assert encoder.output_length(encoder.receptive_field) == 1
    assert encoder.output_length(encoder.receptive_field - 1) == 0
    assert encoder.output_length(encoder.receptive_field + encoder.hop) == 2
    assert (w2v.BASE.receptive_field, w2v.BASE.hop) == (400, 320)


# --------------------------------------------------------------------------- span masking


def expected_masked_fraction(L, p, M):
    """E[masked frames] / L from the sampling scheme: n spans (random rounding), distinct uniform starts."""
    N = L - M + 1
    mean = p * L / M
    low = math.floor(mean)
    dist = {min(low, N): 1 - (mean - low), min(low + 1, N): mean - low}
    total = 0.0
    for n, prob in dist.items():
        for t in range(L):
            covering = min(t, N - 1) - max(0, t - M + 1) + 1  # starts whose span covers frame t
            uncovered = math.comb(N - covering, n) / math.comb(N, n)
            total += prob * (1 - uncovered)
    return total / L


@pytest.mark.parametrize("L, p, M", [(50, 0.65, 10), (200, 0.65, 10), (40, 0.2, 3), (12, 0.5, 12)])
def test_masked_fraction_has_its_expected_value(L, p, M):
    mask = w2v.compute_mask_indices((4000, L), p, M, rng=np.random.default_rng(L))
    fractions = mask.mean(axis=1)
    se = fractions.std() / math.sqrt(len(fractions))
    assert abs(fractions.mean() - expected_masked_fraction(L, p, M)) < 4 * se + 1e-12


def test_the_papers_setting_masks_about_half_of_a_long_utterance():
    mask = w2v.compute_mask_indices((200, 1000), 0.65, 10, rng=np.random.default_rng(0))
    assert abs(mask.mean() - (1 - (1 - 0.065) ** 10)) < 0.01  # "about 49 % of all time steps"


def runs_of_true(row):
    padded = np.concatenate([[False], row, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(int)))
    return edges[1::2] - edges[::2]


@PROPERTY
@given(L=st.integers(1, 80), M=st.integers(1, 12), p=st.floats(0.0, 0.99), min_masks=st.integers(0, 3),
       seed=st.integers(0, 2**32 - 1))
def test_masks_are_runs_of_whole_spans(L, M, p, min_masks, seed):
    if M > L:
        with pytest.raises(ValueError, match="shorter than one masked span"):
            w2v.compute_mask_indices((1, L), p, M, rng=np.random.default_rng(seed))
        return
    mask = w2v.compute_mask_indices((3, L), p, M, rng=np.random.default_rng(seed), min_masks=min_masks)
    for row in mask:
        runs = runs_of_true(row)
        assert (runs >= M).all()
        if min_masks > 0:
            assert row.sum() >= M


def test_padding_is_never_masked_and_transformers_agrees_on_the_mean():
    lengths = np.array([100, 60, 30])
    mask = w2v.compute_mask_indices((3, 100), 0.5, 5, rng=np.random.default_rng(0), lengths=lengths)
    assert not mask[1, 60:].any() and not mask[2, 30:].any()
    ours = w2v.compute_mask_indices((3000, 100), 0.5, 5, rng=np.random.default_rng(1)).mean()
    np.random.seed(0)
    theirs = np.mean([hf._compute_mask_indices((30, 100), 0.5, 5).mean() for _ in range(100)])
    assert abs(ours - theirs) < 0.01


def test_mask_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        w2v.compute_mask_indices((1, 10), 0.5, 2, rng=0)
    with pytest.raises(ValueError, match="mask_prob must lie in"):
        w2v.compute_mask_indices((1, 10), 1.5, 2, rng=rng)
    with pytest.raises(ValueError, match="lengths must be 2 ints"):
        w2v.compute_mask_indices((2, 10), 0.5, 2, rng=rng, lengths=[10, 11])
    with pytest.raises(ValueError, match="utterance 1 \\(2 frames\\)"):
        w2v.compute_mask_indices((2, 10), 0.5, 3, rng=rng, lengths=[10, 2])


# --------------------------------------------------------------------------- negatives


def test_negatives_are_other_masked_frames_of_the_same_utterance_uniformly():
    rng = np.random.default_rng(0)
    mask = np.zeros((2, 20), dtype=bool)
    mask[0, [2, 3, 4, 10, 11]] = True
    mask[1, [0, 7, 19]] = True
    negatives = sample_many = w2v.sample_negative_indices(mask, 4000, rng=rng)
    T = mask.shape[1]
    for b in range(2):
        positions = np.flatnonzero(mask[b])
        for t in positions:
            drawn = sample_many[b, t] - b * T
            others = positions[positions != t]
            assert set(np.unique(drawn)) == set(others)  # all others, nothing else
            counts = np.array([(drawn == o).sum() for o in others])
            expected = 4000 / len(others)
            assert (np.abs(counts - expected) < 5 * math.sqrt(expected)).all()
        assert (negatives[b, ~mask[b]] == b * T).all()  # transformers' dummy index


def test_negatives_follow_the_transformers_convention():
    mask = np.zeros((3, 12), dtype=bool)
    mask[:, 2:9] = True
    np.random.seed(0)
    theirs = hf._sample_negative_indices((3, 12), 5, mask)
    ours = w2v.sample_negative_indices(mask, 5, rng=np.random.default_rng(0))
    for negatives in (theirs, ours):
        assert negatives.shape == (3, 12, 5)
        rows = negatives // 12
        assert (rows == np.arange(3)[:, None, None]).all()
        assert mask.reshape(-1)[negatives[mask]].all()


def test_negatives_need_two_masked_frames():
    mask = np.zeros((2, 5), dtype=bool)
    mask[0, :2] = True
    mask[1, 3] = True
    with pytest.raises(ValueError, match="utterance 1 has one masked frame"):
        w2v.sample_negative_indices(mask, 3, rng=np.random.default_rng(0))


# --------------------------------------------------------------------------- quantiser and losses


def test_gumbel_softmax_equals_torch_from_the_same_state():
    logits = torch.randn(50, 7, dtype=torch.float64, requires_grad=True)
    torch.manual_seed(3)
    theirs = F.gumbel_softmax(logits, tau=0.7, hard=True)
    torch.manual_seed(3)
    ours = w2v.gumbel_softmax(logits, 0.7, hard=True)
    torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    weights = torch.randn(50, 7, dtype=torch.float64)
    g_theirs, = torch.autograd.grad((theirs * weights).sum(), logits)
    g_ours, = torch.autograd.grad((ours * weights).sum(), logits)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)
    torch.manual_seed(4)
    soft = F.gumbel_softmax(logits, tau=2.0, hard=False)
    torch.manual_seed(4)
    torch.testing.assert_close(w2v.gumbel_softmax(logits, 2.0, hard=False), soft, rtol=1e-12, atol=1e-12)


def test_gumbel_max_samples_the_softmax():
    logits = torch.tensor([1.0, 0.0, -1.0, 2.0])
    draws = w2v.gumbel_softmax(logits.expand(40000, 4), tau=0.5, generator=torch.Generator().manual_seed(0))
    frequencies = draws.mean(0)
    p = logits.softmax(0)
    assert torch.all((frequencies - p).abs() < 4 * torch.sqrt(p * (1 - p) / 40000))


@PROPERTY
@given(n=st.integers(1, 30), G=st.integers(1, 3), V=st.integers(1, 9), seed=st.integers(0, 2**31 - 1))
def test_perplexity_lies_between_G_and_GV(n, G, V, seed):
    logits = torch.randn(n, G, V, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3
    ppl = w2v.codevector_perplexity(logits.softmax(-1)).item()
    assert G - 1e-9 <= ppl <= G * V + 1e-9
    hard = F.one_hot(logits.argmax(-1), V).double()
    assert G - 1e-9 <= w2v.codevector_perplexity(hard).item() <= G * min(V, n) + 1e-9


def test_perplexity_over_masked_frames_equals_transformers():
    probs = torch.randn(12, 2, 5, dtype=torch.float64).softmax(-1)
    mask = torch.rand(3, 4) < 0.5
    mask[0, 0] = True
    expected = hf.Wav2Vec2GumbelVectorQuantizer._compute_perplexity(probs, mask)
    torch.testing.assert_close(w2v.codevector_perplexity(probs, mask), expected, rtol=1e-12, atol=1e-12)


@PROPERTY
@given(T=st.integers(2, 10), K=st.integers(1, 6), D=st.integers(2, 5), seed=st.integers(0, 2**31 - 1))
def test_contrastive_loss_at_chance_is_log_one_plus_K(T, K, D, seed):
    rng = np.random.default_rng(seed)
    q = torch.randn(1, T, D, dtype=torch.float64)
    c = torch.zeros(1, T, D, dtype=torch.float64)
    c[..., 0] = 1.0
    q = q + torch.arange(T, dtype=torch.float64)[None, :, None] * 10  # all candidates distinct
    q[..., 0] = 0.0  # orthogonal to every c: all similarities 0 (the other axes keep the candidates distinct)
    mask = np.ones((1, T), dtype=bool)
    negatives = torch.from_numpy(w2v.sample_negative_indices(mask, K, rng=rng))
    loss = w2v.contrastive_loss(c, q, negatives, torch.from_numpy(mask))
    assert math.isclose(loss.item(), T * math.log(1 + K), rel_tol=1e-12)


def test_identical_distractors_are_ignored():
    q = torch.tensor([[[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])
    logits = w2v.contrastive_logits(q, q, torch.tensor([[[1, 2], [0, 2], [0, 1]]]))
    assert logits[0, 0, 1] == float("-inf") and logits[0, 1, 1] == float("-inf")
    assert torch.isfinite(logits[0, 2]).all()


def test_diversity_loss_bounds():
    assert w2v.diversity_loss(torch.tensor(640.0), 640).item() == 0.0
    assert math.isclose(w2v.diversity_loss(torch.tensor(2.0), 640).item(), 638 / 640, rel_tol=1e-6)


# --------------------------------------------------------------------------- bad input, configurations


def test_audio_shorter_than_the_receptive_field_is_refused():
    model = w2v.Wav2Vec2(w2v.Wav2Vec2Config(**SMALL))
    field = model.feature_extractor.receptive_field
    assert field == 10 + 2 * 5 + 2 * 10
    with pytest.raises(ValueError, match=f"fewer than the feature encoder's receptive field of {field}"):
        model(torch.zeros(1, field - 1))
    model(torch.zeros(1, field))  # one frame is enough


def test_bad_waveforms_and_lengths():
    model = w2v.Wav2Vec2(w2v.Wav2Vec2Config(**SMALL))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(1, 400, dtype=torch.long))
    with pytest.raises(ValueError, match=r"shape \(batch, n_samples\)"):
        model(torch.zeros(1, 1, 400))
    with pytest.raises(ValueError, match="lengths must lie in"):
        model(torch.zeros(2, 400), lengths=torch.tensor([400, 10]))


def test_config_errors():
    with pytest.raises(ValueError, match="one entry per layer"):
        w2v.Wav2Vec2Config(conv_dim=(8, 8), conv_kernel=(3,), conv_stride=(1,))
    with pytest.raises(ValueError, match="feat_extract_norm must be 'group' or 'layer'"):
        w2v.Wav2Vec2Config(feat_extract_norm="batch")
    with pytest.raises(ValueError, match=r"codevector_dim \(10\) must be divisible by num_codevector_groups \(3\)"):
        w2v.Wav2Vec2Config(codevector_dim=10, num_codevector_groups=3)
    with pytest.raises(ValueError, match="hidden_dropout must lie in"):
        w2v.Wav2Vec2Config(hidden_dropout=1.0)
    with pytest.raises(TypeError, match="config must be a lessons_lib"):
        w2v.Wav2Vec2(transformers.Wav2Vec2Config())


@pytest.mark.parametrize("change, message", [
    (dict(hidden_act="relu"), "hidden_act='relu' is not supported"),
    (dict(feat_extract_activation="swish"), "feat_extract_activation='swish' is not supported"),
    (dict(add_adapter=True), "adapters"),
    (dict(adapter_attn_dim=8), "adapters"),
    (dict(mask_feature_prob=0.1), "mask_feature_prob"),
    (dict(apply_spec_augment=False), "apply_spec_augment=False"),
])
def test_unsupported_transformers_configs_are_refused(change, message):
    with pytest.raises(ValueError, match=message):
        w2v.config_from_transformers(hf_config(**change))


def test_from_transformers_refuses_other_models():
    with pytest.raises(TypeError, match="Wav2Vec2Model or Wav2Vec2ForPreTraining"):
        w2v.from_transformers(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="transformers.Wav2Vec2Config"):
        w2v.config_from_transformers({"hidden_size": 8})

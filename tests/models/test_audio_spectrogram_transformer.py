"""lessons_lib.models.audio_spectrogram_transformer against transformers 5.x (ASTModel, ASTForAudioClassification).

The reference models are built from small random ``transformers.ASTConfig``s (never downloaded) and every
parameter is redrawn from a seeded normal distribution, the positional embeddings and the two tokens included
(transformers starts them at zero, which would hide a wrong token order). With the weights shared through
``from_transformers``, in eval mode and float64: the last hidden state, the pooled output, the logits and the
gradients equal the reference's within 1e-10 (gradients 1e-9; float32: 1e-5) with transformers' "sdpa"
attention; its "eager" attention rounds the softmax to float32 whatever the dtype, so the hidden states and each
layer's attention weights agree with it within 1e-6. The patch count is the paper's (1,212 at 128 x 1024,
strides 10) and equals transformers' formula and the convolution's output size on a range of sizes (and,
hypothesis, every patch fits and no further one would); the patch embedding is one matrix applied to the
tiles of ``extract_patches``; the base configuration has exactly 86,187,264 parameters, as transformers'
(built on the meta device). Attention rollout's rows sum to 1 (hypothesis) and ``cls_attention`` reads the
reference's weights. Bad input: a spectrogram smaller than a patch or of another size, wrong types, an
unsupported transformers configuration.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from hypothesis import given, settings, strategies as st

from lessons_lib.models import audio_spectrogram_transformer as ast_module
from lessons_lib.models.audio_spectrogram_transformer import (ASTConfig, ASTForAudioClassification, ASTImageBody,
                                                              ASTModel, ast_base, attention_rollout, cls_attention,
                                                              config_from_transformers, extract_patches,
                                                              from_transformers, num_patches, patch_grid)

transformers = ast_module.transformers_reference()  # works beside a torchvision whose compiled operators fail

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PROPERTY = settings(max_examples=40, deadline=None)

# Small configurations that differ in every setting the mapping must carry: patch size and strides (overlapping,
# touching, gapped), width, depth, heads, activation, epsilon, non-square spectrograms.
SMALL = [
    dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, patch_size=16,
         frequency_stride=10, time_stride=10, max_length=48, num_mel_bins=32),
    dict(hidden_size=24, num_hidden_layers=3, num_attention_heads=3, intermediate_size=40, patch_size=8,
         frequency_stride=4, time_stride=6, max_length=37, num_mel_bins=20, hidden_act="gelu_new",
         layer_norm_eps=1e-5),
    dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=1, intermediate_size=16, patch_size=4,
         frequency_stride=5, time_stride=4, max_length=16, num_mel_bins=12, hidden_act="relu"),
]


def reference(kind, seed: int = 0, *, attn_implementation: str = "sdpa", num_labels: int = 7, **settings_):
    """A transformers AST with every parameter drawn from N(0, 0.2^2) (seeded), in eval mode, float64."""
    config = transformers.ASTConfig(**settings_, num_labels=num_labels)
    config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = kind(config).double().eval()
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(0.2 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return model


def spectrograms(config, batch: int = 3, seed: int = 1, dtype=torch.float64) -> torch.Tensor:
    """Random ``input_values``: (batch, max_length, num_mel_bins), time first as transformers reads them."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, config.max_length, config.num_mel_bins, generator=generator, dtype=dtype)


# --------------------------------------------------------------------------- patches


def test_the_paper_has_1212_patches_at_128_by_1024_and_stride_10():
    assert patch_grid(128, 1024, 16, 10, 10) == (12, 101)
    assert num_patches(128, 1024) == 1212 == ASTConfig().num_patches
    hf = transformers.ASTConfig()
    with torch.device("meta"):
        embeddings = transformers.models.audio_spectrogram_transformer.modeling_audio_spectrogram_transformer \
            .ASTEmbeddings(hf)
    assert embeddings.position_embeddings.shape[1] == 1212 + 2


@pytest.mark.parametrize("size", [(128, 1024, 16, 10, 10), (128, 100, 16, 10, 10), (40, 101, 16, 6, 6),
                                  (40, 101, 8, 4, 4), (17, 33, 16, 16, 16), (64, 64, 3, 7, 2)])
def test_patch_grid_equals_transformers_formula_and_the_convolution(size):
    n_mels, n_frames, p, s_f, s_t = size
    hf = transformers.ASTConfig(patch_size=p, frequency_stride=s_f, time_stride=s_t, max_length=n_frames,
                                num_mel_bins=n_mels)
    get_shape = transformers.models.audio_spectrogram_transformer.modeling_audio_spectrogram_transformer \
        .ASTEmbeddings.get_shape
    assert patch_grid(n_mels, n_frames, p, s_f, s_t) == tuple(get_shape(None, hf))
    conv = torch.nn.Conv2d(1, 1, p, stride=(s_f, s_t), device="meta")
    assert patch_grid(n_mels, n_frames, p, s_f, s_t) == tuple(conv(torch.zeros(1, 1, n_mels, n_frames,
                                                                               device="meta")).shape[2:])


@PROPERTY
@given(n=st.integers(1, 300), p=st.integers(1, 20), s=st.integers(1, 20))
def test_every_patch_fits_and_no_further_one_would(n, p, s):
    if n < p:
        with pytest.raises(ValueError, match="smaller than one patch"):
            patch_grid(n, p, p, s, 1)
        return
    f, _ = patch_grid(n, p, p, s, 1)
    assert (f - 1) * s + p <= n < f * s + p


def test_the_patch_embedding_is_one_matrix_applied_to_each_tile():
    config = ASTConfig(**SMALL[1], num_labels=3)
    torch.manual_seed(0)
    model = ASTModel(config).double()
    x = spectrograms(config)
    S = x.transpose(1, 2)  # (batch, n_mels, n_frames), the package's layout
    P = extract_patches(S, config.patch_size, config.frequency_stride, config.time_stride)
    assert P.shape == (3, config.num_patches, 8, 8)
    f, t = config.grid
    i, j = f - 1, 2  # one patch by hand
    torch.testing.assert_close(P[:, i * t + j], S[:, i * 4 : i * 4 + 8, j * 6 : j * 6 + 8], rtol=0, atol=0)
    projection = model.embeddings.patch_embeddings.projection
    by_hand = P.flatten(2) @ projection.weight.flatten(1).T + projection.bias
    torch.testing.assert_close(model.embeddings.patch_embeddings(x), by_hand, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------- parameters and state dict


def test_the_base_configuration_has_86187264_parameters_as_transformers():
    with torch.device("meta"):
        ours = ASTModel(ast_base())
        theirs = transformers.ASTModel(transformers.ASTConfig())
    n = sum(p.numel() for p in ours.parameters())
    assert n == 86_187_264 == sum(p.numel() for p in theirs.parameters())
    with torch.device("meta"):
        classifier = ASTForAudioClassification(ast_base())
    assert sum(p.numel() for p in classifier.parameters()) == n + 2 * 768 + 768 * 527 + 527


@pytest.mark.parametrize("settings_", SMALL[:2])
def test_state_dict_keys_and_shapes_are_the_references_after_one_renaming(settings_):
    for ours_kind, theirs_kind in ((ASTModel, transformers.ASTModel),
                                   (ASTForAudioClassification, transformers.ASTForAudioClassification)):
        with torch.device("meta"):
            theirs = theirs_kind(transformers.ASTConfig(**settings_, num_labels=5))
            ours = ours_kind(ASTConfig(**settings_, num_labels=5))
        renamed = {k.replace(".o_proj.", ".out_proj."): v.shape for k, v in theirs.state_dict().items()}
        assert {k: v.shape for k, v in ours.state_dict().items()} == renamed


# --------------------------------------------------------------------------- equal to transformers


# transformers' "eager" attention takes its softmax in float32 whatever the input's dtype, so in float64 it agrees
# with ours (and with its own "sdpa") only to float32's precision; "sdpa" stays in float64.
TOLERANCE = {"sdpa": 1e-10, "eager": 1e-6}


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
@pytest.mark.parametrize("index", range(len(SMALL)))
def test_last_hidden_state_equals_transformers(index, attn_implementation):
    theirs = reference(transformers.ASTModel, index, attn_implementation=attn_implementation, **SMALL[index])
    ours = from_transformers(theirs)
    assert isinstance(ours, ASTModel) and not ours.training
    x = spectrograms(theirs.config, seed=index)
    with torch.no_grad():
        expected = theirs(x)
        got = ours(x)
    assert got.last_hidden_state.shape == (3, ours.config.num_patches + 2, ours.config.hidden_size)
    tol = TOLERANCE[attn_implementation]
    torch.testing.assert_close(got.last_hidden_state, expected.last_hidden_state, rtol=tol, atol=tol)
    torch.testing.assert_close(got[0], expected[0], rtol=tol, atol=tol)
    torch.testing.assert_close(got.pooler_output, expected.pooler_output, rtol=tol, atol=tol)
    assert got.last_hidden_state.std() > 0.1  # not a trivially small output


@pytest.mark.parametrize("index", range(len(SMALL)))
def test_logits_equal_transformers(index):
    theirs = reference(transformers.ASTForAudioClassification, 10 + index, **SMALL[index])
    ours = from_transformers(theirs)
    assert isinstance(ours, ASTForAudioClassification)
    x = spectrograms(theirs.config, batch=4, seed=20 + index)
    with torch.no_grad():
        expected, got = theirs(x).logits, ours(x)
    assert got.logits.shape == (4, 7)
    torch.testing.assert_close(got.logits, expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(got[0], expected, rtol=1e-10, atol=1e-10)


def test_float32_outputs_agree_within_float32_rounding():
    theirs = reference(transformers.ASTForAudioClassification, 3, **SMALL[0]).float()
    ours = from_transformers(theirs)
    assert next(ours.parameters()).dtype == torch.float32
    x = spectrograms(theirs.config, dtype=torch.float32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x).logits, theirs(x).logits, rtol=1e-5, atol=1e-5)


def test_attention_weights_equal_transformers_and_cls_attention_reads_them():
    theirs = reference(transformers.ASTModel, 4, attn_implementation="eager", **SMALL[1])  # sdpa returns none
    ours = from_transformers(theirs)
    x = spectrograms(theirs.config)
    with torch.no_grad():
        expected = theirs(x, output_attentions=True).attentions
        got = ours(x, output_attentions=True)
    assert len(got.attentions) == len(expected) == 3
    for a, b in zip(got.attentions, expected):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=1e-7)  # theirs rounded to float32 (see TOLERANCE)
    f, t = ours.config.grid
    M = cls_attention(got.attentions, (f, t), layer=1)
    i, j = f - 1, t // 2
    by_hand = (got.attentions[1][:, :, 0, 2 + i * t + j] + got.attentions[1][:, :, 1, 2 + i * t + j]).mean(dim=1) / 2
    torch.testing.assert_close(M[:, i, j], by_hand, rtol=1e-12, atol=1e-12)


def test_gradients_equal_transformers():
    theirs = reference(transformers.ASTForAudioClassification, 5, **SMALL[0])
    ours = from_transformers(theirs)
    x = spectrograms(theirs.config)
    labels = torch.tensor([0, 3, 6])
    torch.nn.functional.cross_entropy(theirs(x).logits, labels).backward()
    torch.nn.functional.cross_entropy(ours(x).logits, labels).backward()
    theirs_params = {k.replace(".o_proj.", ".out_proj."): p for k, p in theirs.named_parameters()}
    for name, p in ours.named_parameters():
        torch.testing.assert_close(p.grad, theirs_params[name].grad, rtol=1e-9, atol=1e-11, msg=name)


def test_from_transformers_copies_the_weights_and_keeps_mode_dtype_and_device():
    theirs = reference(transformers.ASTModel, 6, **SMALL[2]).train()
    ours = from_transformers(theirs)
    assert ours.training and next(ours.parameters()).dtype == torch.float64
    assert all(p.device.type == "cpu" for p in ours.parameters())
    before = theirs.embeddings.cls_token.clone()
    with torch.no_grad():
        ours.embeddings.cls_token.add_(1.0)
    assert torch.equal(theirs.embeddings.cls_token, before)  # copied, not shared


def test_the_image_body_reads_the_transposed_spectrogram():
    config = ASTConfig(**SMALL[1], num_labels=4)
    torch.manual_seed(0)
    body = ASTImageBody(config).double().eval()
    x = spectrograms(config)
    image = x.transpose(1, 2).unsqueeze(1)  # (batch, 1, n_mels, n_frames)
    torch.testing.assert_close(body(image), body.ast(x).logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match=r"image must have shape \(batch, 1, n_mels, n_frames\)"):
        body(x)


def test_dropout_acts_in_training_mode_only():
    config = ASTConfig(**SMALL[0], hidden_dropout_prob=0.3, attention_probs_dropout_prob=0.3, num_labels=2)
    torch.manual_seed(0)
    model = ASTForAudioClassification(config).double()
    x = spectrograms(config)
    model.eval()
    a, b = model(x).logits, model(x).logits
    assert torch.equal(a, b)
    model.train()
    assert not torch.equal(model(x).logits, a)


def test_initial_weights_are_truncated_normal_and_the_tokens_not_zero():
    config = ast_base(10, hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=128,
                      max_length=64, num_mel_bins=32)
    torch.manual_seed(0)
    model = ASTModel(config)
    for p in (model.layers[0].mlp.fc1.weight, model.embeddings.position_embeddings):
        assert p.abs().max() <= 0.04 and 0.015 < p.std() < 0.02  # N(0, 0.02^2) truncated at 2 sd
    assert model.embeddings.cls_token.abs().sum() > 0
    assert torch.equal(model.layers[0].mlp.fc1.bias, torch.zeros(128))


# --------------------------------------------------------------------------- rollout


@PROPERTY
@given(layers=st.integers(1, 4), tokens=st.integers(1, 9), residual=st.floats(0.0, 1.0), seed=st.integers(0, 999))
def test_attention_rollout_rows_sum_to_one(layers, tokens, residual, seed):
    generator = torch.Generator().manual_seed(seed)
    A = [torch.softmax(torch.randn(2, 3, tokens, tokens, generator=generator, dtype=torch.float64), -1)
         for _ in range(layers)]
    R = attention_rollout(A, residual=residual)
    torch.testing.assert_close(R.sum(-1), torch.ones(2, tokens, dtype=torch.float64), rtol=0, atol=1e-12)
    assert (R >= 0).all()


def test_attention_rollout_is_the_product_of_the_mixed_layers():
    generator = torch.Generator().manual_seed(0)
    A = [torch.softmax(torch.randn(1, 2, 4, 4, generator=generator, dtype=torch.float64), -1) for _ in range(3)]
    mixed = [0.5 * torch.eye(4, dtype=torch.float64) + 0.5 * a[0].mean(0) for a in A]
    torch.testing.assert_close(attention_rollout(A)[0], mixed[2] @ mixed[1] @ mixed[0], rtol=1e-12, atol=0)
    torch.testing.assert_close(attention_rollout(A, residual=1.0)[0], torch.eye(4, dtype=torch.float64))


# --------------------------------------------------------------------------- bad input


def test_a_spectrogram_smaller_than_a_patch_or_of_another_size_is_refused():
    config = ASTConfig(**SMALL[0], num_labels=2)
    model = ASTModel(config)
    with pytest.raises(ValueError, match="smaller than one patch"):
        model(torch.zeros(2, 10, 32))
    with pytest.raises(ValueError, match="smaller than one patch"):
        model(torch.zeros(2, 48, 15))
    with pytest.raises(ValueError, match="positional embeddings were learned for 2 x 4 patches"):
        model(torch.zeros(2, 47, 32))
    with pytest.raises(ValueError, match="transpose"):
        model(torch.zeros(48, 32))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(2, 48, 32, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([[0.0]])
    with pytest.raises(ValueError, match="smaller than one patch"):
        extract_patches(torch.zeros(1, 8, 100), 16, 10, 10)
    with pytest.raises(ValueError, match="smaller than one patch"):
        ASTConfig(max_length=15)


@pytest.mark.parametrize("bad, word", [({"hidden_size": 30, "num_attention_heads": 4}, "divide"),
                                       ({"hidden_act": "gelu_fast"}, "hidden_act"),
                                       ({"hidden_dropout_prob": 1.0}, "hidden_dropout_prob"),
                                       ({"patch_size": 0}, "patch_size"), ({"layer_norm_eps": 0.0}, "layer_norm_eps")])
def test_bad_configurations_are_refused(bad, word):
    with pytest.raises((ValueError, TypeError), match=word):
        ASTConfig(**bad)


@pytest.mark.parametrize("bad, word", [({"qkv_bias": False}, "qkv_bias"), ({"hidden_act": "gelu_fast"}, "hidden_act"),
                                       ({"patch_size": [16, 8]}, "patch_size"), ({"num_labels": 0}, "num_labels")])
def test_an_unsupported_transformers_configuration_is_refused(bad, word):
    settings_ = dict(SMALL[0]) | {k: v for k, v in bad.items() if k not in ("patch_size",)}
    hf_config = transformers.ASTConfig(**settings_)
    if "patch_size" in bad:
        hf_config.patch_size = bad["patch_size"]  # transformers' own model cannot be built with it either
    with pytest.raises(ValueError, match=f"unsupported transformers ASTConfig: {word}"):
        config_from_transformers(hf_config)
    if "patch_size" not in bad:
        with torch.device("meta"):
            model = transformers.ASTForAudioClassification(hf_config)
        with pytest.raises(ValueError, match="unsupported transformers ASTConfig"):
            from_transformers(model)


def test_from_transformers_refuses_other_models_and_other_layouts():
    with pytest.raises(TypeError, match="ASTModel or ASTForAudioClassification"):
        from_transformers(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError, match="transformers ASTConfig"):
        config_from_transformers(transformers.Wav2Vec2Config())
    theirs = reference(transformers.ASTModel, 0, **SMALL[2])
    layout = dict(theirs.state_dict())
    layout["layers.0.attention.extra.weight"] = torch.zeros(1)
    theirs.state_dict = lambda: layout  # a layout of another transformers version
    with pytest.raises(ValueError, match="does not match ours"):
        from_transformers(theirs)


def test_the_config_holds_every_field_of_transformers_ast_config_it_needs():
    ours = {f.name for f in dataclasses.fields(ASTConfig)}
    hf = transformers.ASTConfig()
    assert all(hasattr(hf, name) for name in ours)
    assert config_from_transformers(hf, num_labels=527) == ast_base()
    assert set(ast_module.__all__) >= {"from_transformers", "ASTModel", "patch_grid"}


def test_the_fused_attention_path_equals_the_written_out_softmax():
    config = ASTConfig(**SMALL[1], num_labels=2)
    torch.manual_seed(0)
    layer = ast_module.ASTLayer(config).double().eval()
    h = torch.randn(2, config.num_patches + 2, config.hidden_size, dtype=torch.float64)
    fused = layer(h)
    written_out, weights = layer(h, return_weights=True)
    torch.testing.assert_close(fused, written_out, rtol=1e-12, atol=1e-12)
    assert weights.shape == (2, config.num_attention_heads, config.num_patches + 2, config.num_patches + 2)

"""lessons_lib.recipes.ast_fsdd: the AST recipe on cnn_fsdd's windows, splits, augmentation and evaluation.

The data, split, folds, combine and batches are cnn_fsdd's own functions (identity checked), so the AST and the
CNNs see exactly the same recordings. The model on waveforms equals LogMel, the fixed scaling, the transpose to
mel frames and the AST applied by hand (float64, rtol 1e-12); augmentation acts in training mode only.
``collate`` mixes (``augment.mixup``, tested in tests/test_augment.py) cnn_fsdd's augmented batch with the
generator ``[seed, epoch, *indices]``. The soft-label loss equals the cross-entropy by hand. ``attention_macs`` plus ``cnn.count_flops`` equals torch's own FLOP counter
(which sees the attention products). Training is reproducible and resumable, a tiny run lowers the loss and
records both accuracies; bad settings are refused; the registry knows the recipe.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from lessons_lib import augment, data, recipes
from lessons_lib.models import cnn
from lessons_lib.models.audio_spectrogram_transformer import ASTImageBody, patch_grid
from lessons_lib.recipes import ast_fsdd as recipe
from lessons_lib.recipes import cnn_fsdd
from tests.recipes.conftest import assert_reproducible_and_resumable

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # `windows`: tests/recipes/conftest.py


def tiny(**changes) -> recipe.Config:
    """A fast configuration: one narrow layer, big patches."""
    return dataclasses.replace(recipe.Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                             intermediate_size=32, patch_size=16, frequency_stride=12,
                                             time_stride=12, epochs=2, batch_size=16), **changes)


def test_the_data_splits_and_batches_are_cnn_fsdds_own():
    for name in ("prepare", "split", "folds", "combine", "batches", "logits", "frontend"):
        assert getattr(recipe, name) is getattr(cnn_fsdd, name), name
    assert (recipe.OFFSET, recipe.SCALE) == (cnn_fsdd.OFFSET, cnn_fsdd.SCALE)


def test_the_ast_reads_the_log_mel_of_the_cnns_in_patches():
    config = recipe.Config()
    ast = recipe.ast_config(config)
    assert (ast.num_mel_bins, ast.max_length) == (40, 101) == tuple(cnn_fsdd.frontend(config)(torch.zeros(1, 8000))
                                                                    .shape[1:])
    assert ast.grid == patch_grid(40, 101, config.patch_size, config.frequency_stride, config.time_stride)
    assert ast.num_labels == 10 and ast.hidden_dropout_prob == config.dropout


# --------------------------------------------------------------------------- the model


def test_the_model_on_waveforms_is_log_mel_scaling_transpose_and_ast_by_hand(windows):
    model = recipe.build(tiny(augment=True)).double().eval()
    assert isinstance(model.body, ASTImageBody) and isinstance(model.augment, augment.SpecAugment)
    y = windows.waves[[3, 1500, 2999]].double()
    S = cnn_fsdd.frontend(recipe.Config())(y)  # (3, 40, 101), dB
    X = (S - cnn_fsdd.OFFSET) / cnn_fsdd.SCALE
    torch.testing.assert_close(model(y), model.body.ast(X.transpose(1, 2)).logits, rtol=1e-12, atol=1e-12)
    plain = recipe.build(tiny(augment=False)).double()
    plain.load_state_dict(model.state_dict())
    torch.testing.assert_close(plain.eval()(y), model(y), rtol=0, atol=0)  # no masks in eval mode
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        assert not torch.equal(model.features(y), plain.features(y))


def test_build_is_deterministic_in_the_seed_and_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    a = recipe.build(tiny())
    torch.manual_seed(123)
    b = recipe.build(tiny())
    torch.set_rng_state(state)
    other = recipe.build(tiny(seed=1))
    assert torch.equal(torch.get_rng_state(), state)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key]), key
    key = "body.ast.audio_spectrogram_transformer.embeddings.position_embeddings"
    assert not torch.equal(a.state_dict()[key], other.state_dict()[key])


@pytest.mark.parametrize("bad, word", [({"split": "speaker:george"}, "split"), ({"snr_low": 30.0, "snr_high": 5.0},
                                       "snr_low"), ({"mixup": -0.1}, "mixup"), ({"lr": 0.0}, "lr"),
                                       ({"patch_size": 64}, "smaller than one patch"),
                                       ({"hidden_size": 10, "num_attention_heads": 4}, "divide")])
def test_bad_settings_are_refused(bad, word):
    with pytest.raises(ValueError, match=word):
        recipe.build(tiny(**bad))


# --------------------------------------------------------------------------- mixup and collate


def test_collate_mixes_cnn_fsdds_augmented_batch_from_its_own_generator(windows):
    config = tiny(augment=True, mixup=0.4, seed=3)
    indices = np.array([5, 2999, 17, 1000])
    x, y = recipe.collate(windows, indices, config=config, epoch=2)
    plain_x, plain_y = cnn_fsdd.collate(windows, indices, config=config, epoch=2)
    expected = augment.mixup(plain_x, plain_y, 0.4, np.random.default_rng([3, 2, 5, 2999, 17, 1000]))
    assert torch.equal(x, expected[0]) and torch.equal(y, expected[1])
    x_eval, y_eval = recipe.collate(windows, indices, config=config)  # no epoch: evaluation, no mixing
    assert torch.equal(x_eval, windows.waves[indices]) and y_eval.tolist() == windows.digits[indices].tolist()
    no_mix = recipe.collate(windows, indices, config=tiny(augment=True, mixup=0.0, seed=3), epoch=2)
    assert torch.equal(no_mix[0], plain_x) and torch.equal(no_mix[1], plain_y)


def test_the_loss_of_label_probabilities_is_the_cross_entropy_by_hand(windows):
    model = recipe.build(tiny()).double().eval()
    x = windows.waves[[3, 700, 1500]].double()
    soft = torch.tensor([[0.3] + [0.0] * 8 + [0.7], [0.0, 1.0] + [0.0] * 8, [0.1] * 10], dtype=torch.float64)
    with torch.no_grad():
        z = model(x)
    by_hand = -(soft * torch.log_softmax(z, 1)).sum(1).mean()
    torch.testing.assert_close(recipe.loss(model, (x, soft)).detach(), by_hand, rtol=1e-12, atol=0)
    hard = torch.tensor([9, 1, 4])
    torch.testing.assert_close(recipe.loss(model, (x, hard)).detach(),
                               recipe.loss(model, (x, F.one_hot(hard, 10).double())).detach(), rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- cost


def test_attention_macs_complete_count_flops_as_torchs_flop_counter_sees_them():
    from torch.utils.flop_counter import FlopCounterMode

    for config in (tiny(), recipe.Config()):
        body = recipe.build(config).body.eval()
        shape = (1, 1, 40, 101)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():  # the written-out softmax (torch's counter misses its fused CPU kernel)
            body(torch.zeros(shape), output_attentions=True)
        ours = cnn.count_flops(body, shape) + recipe.attention_macs(body.ast.config)
        assert 2 * ours == counter.get_total_flops()  # torch counts a multiply-add as two FLOPs


# --------------------------------------------------------------------------- training and evaluation


def test_training_with_augmentation_and_mixup_is_reproducible_and_resumable(windows, tmp_path):
    assert_reproducible_and_resumable(recipe, tiny(augment=True, mixup=0.4, epochs=2), windows,
                                      np.arange(0, 3000, 47), tmp_path / "ast.safetensors")  # 64 recordings


def test_a_tiny_training_lowers_the_loss_and_records_both_accuracies(windows):
    config = tiny(epochs=8, batch_size=16, lr=5e-3, augment=False)  # an AST from random weights learns slowly
    train, test = cnn_fsdd.split(config, windows)
    items, valid_items = train[::9], test[::5]  # 300 and 60 recordings

    def mean_loss(model):
        z = torch.from_numpy(recipe.logits(model, windows, items))
        return float(F.cross_entropy(z, torch.from_numpy(windows.digits[items])))

    model, history = recipe.train(config, windows, items, valid_items=valid_items, train_eval_items=items[:50],
                                  device="cpu", progress=False)
    assert history.epochs == 8 and history.samples == 8 * len(items) and history.loss[-1] < history.loss[0]
    assert mean_loss(model) < mean_loss(recipe.build(config)) - 0.15
    accuracy = np.mean(recipe.logits(model, windows, valid_items).argmax(1) == windows.digits[valid_items])
    assert history.valid["accuracy"][-1] == accuracy and len(history.valid["train accuracy"]) == 8


def test_evaluate_adds_attention_to_cnn_fsdds_numbers():
    config = tiny()
    model = recipe.build(config)
    small = cnn_fsdd.windows_of(data.FSDD((np.ones(800, np.float32),) * 4, 8000, np.arange(4), np.array(["a"] * 4),
                                          np.arange(4), (None,) * 4))
    ours = recipe.evaluate(model, config, small, unseen=False)
    theirs = cnn_fsdd.evaluate(model, config, small, unseen=False)
    assert ours["MFLOPs"] == pytest.approx(theirs["MFLOPs"] + recipe.attention_macs(model.body.ast.config) / 1e6,
                                           rel=1e-12)
    assert {k: v for k, v in ours.items() if k != "MFLOPs"} == {k: v for k, v in theirs.items() if k != "MFLOPs"}


def test_the_registry_knows_the_recipe():
    assert recipes.RECIPES["ast_fsdd"][0] == 6 and recipes.get("ast_fsdd") is recipe
    quick, full = (recipes.config_for("ast_fsdd", mode) for mode in ("quick", "full"))
    assert quick == recipe.CONFIGS["quick"] and full.mixup > 0 and full.hidden_size > quick.hidden_size
    for config in (quick, full):
        recipe.build(config)
    assert recipe.NOTEBOOK == "06f_ast"

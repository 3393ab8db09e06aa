"""lessons_lib.recipes.cnn_fsdd: the windows, splits, augmentation, model, loss and numbers of notebooks 06b and 06c.

On the real FSDD: every recording centred in its 1-s window between zeros, the 20 longer ones cut to their
loudest second (checked against a brute-force search); the official split and leave-one-speaker-out (no test
speaker in training). ``collate`` against the augmentation done by hand with the documented generator
``(seed, epoch, recording)``, whatever batch a recording lands in; the model on waveforms equals ``LogMel``,
the fixed scaling and the body applied by hand (float64, rtol 1e-12) and augments in training mode only;
training is reproducible under ``fit(seed=...)``, and a run stopped after one epoch and resumed from its
checkpoint ends with exactly the weights of an uninterrupted one; ``loss`` equals the cross-entropy computed
by hand (float64, rtol 1e-12); a tiny ``train`` lowers the loss; ``evaluate`` gives exactly the numbers of a
model whose predictions the test chooses; the presets of ``lessons_lib.recipes`` build every architecture.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from lessons_lib import augment, data, recipes, voices
from lessons_lib.models import cnn
from lessons_lib.recipes import cnn_fsdd as recipe
from tests.recipes.conftest import assert_reproducible_and_resumable

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # `windows`: tests/recipes/conftest.py


def tiny(**changes) -> recipe.Config:
    """A fast configuration: the narrowest baseline, small batches."""
    return dataclasses.replace(recipe.Config(arch="baseline", width=0.125, epochs=2, batch_size=16, lr=3e-3),
                               **changes)


# --------------------------------------------------------------------------- data


def test_every_recording_is_centred_in_its_window_or_cut_to_its_loudest_second(windows, real_fsdd):
    assert windows.waves.shape == (3000, 8000) and windows.waves.dtype == torch.float32
    assert np.array_equal(windows.digits, real_fsdd.digits) and np.array_equal(windows.speakers, real_fsdd.speakers)
    lengths = np.array([len(y) for y in real_fsdd.waveforms])
    assert np.sum(lengths > 8000) == 20
    for i in [0, 1234, 2999, int(np.argmin(lengths)), int(np.flatnonzero(lengths == 8000)[0])
              if np.any(lengths == 8000) else 5]:
        y, w = real_fsdd.waveforms[i], windows.waves[i].numpy()
        s = (8000 - len(y)) // 2
        assert windows.starts[i] == s
        assert np.array_equal(w[s : s + len(y)], y) and not w[:s].any() and not w[s + len(y) :].any()
    for i in np.flatnonzero(lengths > 8000)[[0, 7, -1]]:
        y = real_fsdd.waveforms[i].astype(np.float64)
        energies = [np.sum(y[k : k + 8000] ** 2) for k in range(len(y) - 8000 + 1)]  # brute force
        first = int(np.argmax(energies))
        assert windows.starts[i] == -first
        assert np.array_equal(windows.waves[i].numpy(), real_fsdd.waveforms[i][first : first + 8000])


def test_fit_window_edge_cases_and_bad_input():
    y = np.arange(1.0, 5.0)
    assert fit_equal(recipe.fit_window(y, 4), (y, 0))
    assert fit_equal(recipe.fit_window(y, 5), (np.array([1.0, 2, 3, 4, 0]), 0))  # the odd sample goes after it
    assert fit_equal(recipe.fit_window(y, 7), (np.array([0.0, 1, 2, 3, 4, 0, 0]), 1))
    assert fit_equal(recipe.fit_window(np.array([3.0, 0, 0, 3]), 2), (np.array([3.0, 0]), 0))  # first of a tie
    assert recipe.fit_window(np.ones(3, np.float32), 5)[0].dtype == np.float32
    for bad in (np.zeros(0), np.zeros((2, 3))):
        with pytest.raises(ValueError, match="y must be a non-empty 1-D waveform"):
            recipe.fit_window(bad, 4)
    for n in (0, 2.0, True):
        with pytest.raises(ValueError, match="n_samples"):
            recipe.fit_window(y, n)


def fit_equal(got, expected) -> bool:
    return np.array_equal(got[0], expected[0]) and got[1] == expected[1]


def test_splits_official_and_leave_one_speaker_out(windows, real_fsdd):
    train, test = recipe.split(recipe.Config(), windows)
    assert (len(train), len(test)) == (2700, 300) and np.array_equal(test, np.flatnonzero(real_fsdd.takes < 5))
    for speaker in ("george", "yweweler"):
        train, test = recipe.split(recipe.Config(split=f"loso:{speaker}"), windows)
        assert (len(train), len(test)) == (2500, 500)
        assert speaker not in set(real_fsdd.speakers[train]) and set(real_fsdd.speakers[test]) == {speaker}
        assert len(set(real_fsdd.speakers[train])) == 5 and len(np.union1d(train, test)) == 3000
    with pytest.raises(ValueError, match="test_speaker must be one of"):
        recipe.split(recipe.Config(split="loso:alice"), windows)
    with pytest.raises(ValueError, match="split must be 'official', 'loso' or 'loso:<speaker>"):
        recipe.split(recipe.Config(split="random"), windows)


# --------------------------------------------------------------------------- augmentation in collate


def test_collate_without_augmentation_gives_the_windows_and_the_digits(windows):
    indices = np.array([5, 2999, 17, 1000])
    for kwargs in ({}, {"config": tiny(augment=True)}, {"config": tiny(augment=False), "epoch": 3}):
        x, y = recipe.collate(windows, indices, **kwargs)
        assert torch.equal(x, windows.waves[indices]) and x.dtype == torch.float32
        assert y.dtype == torch.int64 and y.tolist() == windows.digits[indices].tolist()


def test_collate_augments_each_recording_from_its_own_generator(windows):
    config = tiny(augment=True, seed=7)
    indices = np.array([5, 2999, 17, 1000])
    x, _ = recipe.collate(windows, indices, config=config, epoch=2)
    for b, i in enumerate(indices):  # by hand, in the documented order of draws
        rng = np.random.default_rng((7, 2, i))
        shifted = augment.time_shift(windows.waves[i].numpy(), 1200, rng=rng)
        snr = rng.uniform(config.snr_low, config.snr_high)
        expected = augment.mix_at_snr(shifted, rng.standard_normal(8000), snr)
        assert np.array_equal(x[b].numpy(), expected)
        noise = expected.astype(np.float64) - shifted
        assert config.snr_low <= 10 * np.log10(np.mean(shifted.astype(np.float64) ** 2) / np.mean(noise ** 2)) \
            <= config.snr_high
    alone, _ = recipe.collate(windows, indices[[2]], config=config, epoch=2)  # another batch, same recording
    assert torch.equal(alone[0], x[2])
    other, _ = recipe.collate(windows, indices, config=config, epoch=3)
    assert not torch.equal(other, x)


def test_augment_waveform_shifts_circularly_and_adds_noise_at_the_drawn_snr():
    y = np.zeros(8000, np.float32)
    y[3000:5000] = np.sin(0.3 * np.arange(2000))
    config = tiny(snr_low=10.0, snr_high=10.0, max_shift=0.1)
    out = recipe.augment_waveform(y, config, 8000, np.random.default_rng(0))
    rng = np.random.default_rng(0)
    k = int(rng.integers(-800, 800, endpoint=True))
    residual = out.astype(np.float64) - np.roll(y, k)
    np.testing.assert_allclose(10 * np.log10(np.mean(y.astype(np.float64) ** 2) / np.mean(residual ** 2)), 10.0,
                               atol=1e-4)  # float32 rounding of the mixture
    quiet = recipe.augment_waveform(y, tiny(snr_low=200.0, snr_high=200.0, max_shift=0.0), 8000,
                                    np.random.default_rng(0))
    np.testing.assert_allclose(quiet, y, atol=1e-8)  # no shift, noise 200 dB down


# --------------------------------------------------------------------------- the model


def test_settle_and_build_follow_the_architecture_table():
    for arch, own in recipe.ARCH_DEFAULTS.items():
        config = recipe.settle(recipe.Config(arch=arch))
        assert (config.width, config.epochs, config.lr) == (own["width"], own["epochs"], own["lr"])
        assert recipe.settle(recipe.Config(arch=arch, width=0.5, epochs=2, lr=0.1)) == recipe.Config(
            arch=arch, width=0.5, epochs=2, lr=0.1)
        net = recipe.build(recipe.Config(arch=arch))
        assert isinstance(net.body, cnn._Classifier) and net.body.width == own["width"]
        assert net.repeat == ((2, 1) if arch == "alexnet" else (1, 1))
        assert net.augment is None and isinstance(recipe.build(recipe.Config(arch=arch, augment=True)).augment,
                                                  augment.SpecAugment)
    assert set(recipe.ARCHS) == set(recipe.ARCH_DEFAULTS)
    for bad, word in [({"arch": "lenet"}, "arch must be one of"), ({"split": "speaker:george"}, "split"),
                      ({"snr_low": 30.0, "snr_high": 5.0}, "snr_low"), ({"width": -1.0}, "width"),
                      ({"max_shift": -0.1}, "max_shift")]:
        with pytest.raises(ValueError, match=word):
            recipe.build(recipe.Config(**bad))


def test_build_is_deterministic_in_the_seed_and_leaves_the_global_random_state_alone():
    state = torch.get_rng_state()
    a = recipe.build(tiny())
    torch.manual_seed(123)  # the global state does not matter
    b = recipe.build(tiny())
    torch.set_rng_state(state)
    other = recipe.build(tiny(seed=1))
    assert torch.equal(torch.get_rng_state(), state)
    weights = [(k, v) for k, v in a.state_dict().items() if k.endswith("weight") and "features.0" in k]
    assert weights
    for key, value in weights:
        assert torch.equal(value, b.state_dict()[key]) and not torch.equal(value, other.state_dict()[key])


def test_the_model_on_waveforms_is_log_mel_scaling_and_body_by_hand(windows):
    torch.manual_seed(0)
    for arch in ("alexnet", "resnet18"):
        model = recipe.build(tiny(arch=arch, width=0.125)).double().eval()
        y = windows.waves[[3, 1500, 2999]].double()
        S = recipe.frontend(recipe.Config())(y)  # the LogMel of Chapter 1, (3, 40, 101), dB
        image = ((S - recipe.OFFSET) / recipe.SCALE)[:, None]
        if arch == "alexnet":
            image = image.repeat_interleave(2, dim=2)
        torch.testing.assert_close(model(y), model.body(image), rtol=1e-12, atol=1e-12)
    assert (recipe.OFFSET, recipe.SCALE) == (-60.0, 20.0)


def test_augmentation_runs_in_training_mode_only(windows):
    model = recipe.build(tiny(augment=True))
    plain = recipe.build(tiny(augment=False))
    y = windows.waves[:8]
    model.eval(), plain.eval()
    assert torch.equal(model(y), plain(y))  # the same weights; no masks in eval mode
    assert torch.equal(model.features(y), plain.features(y))
    model.train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        masked = model.features(y)
    assert not torch.equal(masked, plain.features(y))


def test_loss_is_the_cross_entropy_by_hand(windows):
    model = recipe.build(tiny()).double().eval()
    indices = np.array([3, 700, 1500, 2200, 42])
    x, y = recipe.collate(windows, indices)
    ours = recipe.loss(model, (x.double(), y))
    with torch.no_grad():
        z = model(x.double())
    by_hand = (torch.logsumexp(z, 1) - z[torch.arange(len(indices)), y]).mean()
    torch.testing.assert_close(ours.detach(), by_hand, rtol=1e-12, atol=0)
    assert ours.requires_grad


# --------------------------------------------------------------------------- training


def test_batches_cover_the_items_once_per_epoch_in_an_order_drawn_from_seed_and_epoch():
    items = np.arange(10, 47)
    of_epoch = recipe.batches(tiny(batch_size=8), items)
    for epoch in (0, 1):
        got = of_epoch(epoch)
        assert [len(b) for b in got] == [8, 8, 8, 8, 5]
        assert sorted(np.concatenate(got).tolist()) == items.tolist()
        assert np.array_equal(np.concatenate(got), np.random.default_rng((0, epoch)).permutation(items))
    assert not np.array_equal(np.concatenate(of_epoch(0)), np.concatenate(of_epoch(1)))


def test_training_with_augmentation_is_reproducible_and_resumable(windows, tmp_path):
    config = tiny(augment=True, epochs=2, batch_size=16)
    items = np.arange(0, 3000, 47)  # 64 recordings
    first = assert_reproducible_and_resumable(recipe, config, windows, items, tmp_path / "cnn.safetensors")
    other, _ = recipe.train(dataclasses.replace(config, seed=1), windows, items, device="cpu", progress=False)
    assert any(not torch.equal(v, other.state_dict()[k]) for k, v in first.state_dict().items())


def test_a_tiny_training_lowers_the_loss_and_records_validation(windows):
    config = tiny(epochs=3, batch_size=32, width=0.25)
    train, test = recipe.split(config, windows)
    items, valid_items = train[::9], test[::5]  # 300 and 60 recordings

    def mean_loss(model):
        z = torch.from_numpy(recipe.logits(model, windows, items))
        return float(torch.nn.functional.cross_entropy(z, torch.from_numpy(windows.digits[items])))

    model, history = recipe.train(config, windows, items, valid_items=valid_items, device="cpu", progress=False)
    assert history.epochs == 3 and history.samples == 3 * len(items) and history.loss[-1] < history.loss[0]
    assert mean_loss(model) < mean_loss(recipe.build(config)) - 0.3
    accuracy = np.mean(recipe.logits(model, windows, valid_items).argmax(1) == windows.digits[valid_items])
    assert history.valid["accuracy"][-1] == accuracy


def test_training_on_a_leave_one_speaker_out_split_never_sees_that_speaker(windows, monkeypatch):
    seen = []
    original = recipe.collate
    monkeypatch.setattr(recipe, "collate", lambda d, indices, **kw: seen.append(np.asarray(indices)) or original(
        d, indices, **kw))
    config = tiny(split="loso:nicolas", epochs=1, batch_size=250)
    model, history = recipe.train(config, windows, device="cpu", progress=False)
    trained = np.concatenate(seen)
    assert history.samples == len(trained) == 2500 and len(set(trained.tolist())) == 2500
    assert "nicolas" not in set(windows.speakers[trained])


# --------------------------------------------------------------------------- evaluation


class ChosenPredictions(torch.nn.Module):
    """Reads each item's index from its waveform (every sample of item i is i) and predicts ``table[i]``."""

    def __init__(self, table):
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table))

    def forward(self, y):
        return 10.0 * torch.nn.functional.one_hot(self.table[y[:, 0].long()], 10).to(y.dtype)


def synthetic(n=40, seed=0, speakers=("a", "b", "c")):
    rng = np.random.default_rng(seed)
    fsdd = data.FSDD(tuple(np.full(int(rng.integers(5, 12)), float(i), np.float32) for i in range(n)), 8,
                     rng.integers(0, 10, n), np.array([speakers[i % len(speakers)] for i in range(n)]),
                     rng.integers(0, 50, n), (None,) * n)
    return recipe.windows_of(fsdd, 1.0)


def test_evaluate_gives_the_numbers_of_chosen_predictions():
    d = synthetic()
    test = recipe.split(recipe.Config(), d)[1]
    table = d.digits.copy()
    wrong = test[[0, 2]]
    table[wrong] = (table[wrong] + 1) % 10
    d = dataclasses.replace(d, waves=torch.arange(len(d)).float()[:, None].repeat(1, 8))  # item i: all i
    unseen = dataclasses.replace(synthetic(20, seed=1), waves=torch.arange(20).float()[:, None].repeat(1, 8))
    unseen_table = unseen.digits.copy()
    unseen_table[:5] = (unseen_table[:5] + 3) % 10
    model = ChosenPredictions(table)
    results = recipe.evaluate(model, recipe.Config(), d, unseen=False)
    assert results == {"test accuracy": pytest.approx((len(test) - 2) / len(test), rel=1e-15), "test errors": 2,
                       "test recordings": len(test), "parameters": 0}
    with_unseen = recipe.evaluate(ChosenPredictions(unseen_table), recipe.Config(), unseen, unseen=unseen)
    assert with_unseen["espeak accuracy"] == pytest.approx(0.75, rel=1e-15) and with_unseen["espeak recordings"] == 20
    loso = recipe.evaluate(model, recipe.Config(split="loso:b"), d, unseen=None)
    held_out = np.flatnonzero(d.speakers == "b")
    assert loso["test recordings"] == len(held_out) and loso["test errors"] == int(np.isin(wrong, held_out).sum())


def test_evaluate_reports_the_size_and_cost_of_a_built_model_and_skips_missing_espeak(monkeypatch):
    def missing(*args, **kwargs):
        raise voices.EspeakNotFoundError("not here")

    monkeypatch.setattr(voices, "espeak_digits", missing)
    assert recipe.unseen_voices() is None
    config = recipe.Config(arch="alexnet")
    model = recipe.build(config)
    d = synthetic()
    results = recipe.evaluate(model, config, dataclasses.replace(d, waves=torch.zeros(len(d), 8000)))
    assert "espeak accuracy" not in results
    assert results["parameters"] == sum(p.numel() for p in model.body.parameters())  # the front end has none
    assert results["MFLOPs"] == cnn.count_flops(model.body, (1, 1, 80, 101)) / 1e6  # bands repeated twice


def test_unseen_voices_are_windows_of_the_espeak_set(monkeypatch):
    fake = synthetic(12).fsdd
    monkeypatch.setattr(voices, "espeak_digits", lambda *args, **kwargs: fake)
    unseen = recipe.unseen_voices(recipe.Config(seconds=2.0))
    assert unseen.fsdd is fake and unseen.waves.shape == (12, 16)


def test_folds_hold_out_each_speaker_or_the_named_ones_and_combine_summarises_them():
    d = synthetic()
    assert {k: c.split for k, c in recipe.folds(recipe.Config(split="loso"), d).items()} == {
        "a": "loso:a", "b": "loso:b", "c": "loso:c"}
    named = recipe.folds(recipe.Config(split="loso:c, a", epochs=7), d)
    assert list(named) == ["c", "a"] and all(c.epochs == 7 for c in named.values())
    assert recipe.folds(recipe.Config(), d) == {} and recipe.folds(recipe.Config(split="loso:b"), d) == {}
    for bad in ("loso:a,zz", "loso:a,a"):
        with pytest.raises(ValueError, match="split must name distinct speakers"):
            recipe.folds(recipe.Config(split=bad), d)
    with pytest.raises(ValueError, match="one per held-out speaker"):
        recipe.split(recipe.Config(split="loso"), d)
    per_fold = {"a": {"test accuracy": 0.5, "espeak accuracy": 0.25, "parameters": 9, "MFLOPs": 1.5},
                "b": {"test accuracy": 0.875, "espeak accuracy": 0.5, "parameters": 9, "MFLOPs": 1.5}}
    assert recipe.combine(per_fold) == {
        "LOSO mean accuracy": 0.6875, "worst speaker accuracy": 0.5, "held-out speakers": 2,
        "held out a: test accuracy": 0.5, "held out b: test accuracy": 0.875, "espeak accuracy": 0.375,
        "parameters": 9, "MFLOPs": 1.5}
    del per_fold["b"]["espeak accuracy"]
    assert "espeak accuracy" not in recipe.combine(per_fold)
    with pytest.raises(ValueError, match="at least one fold"):
        recipe.combine({})


def test_a_leave_one_speaker_out_recipe_trains_and_evaluates_one_model_per_fold(monkeypatch, tmp_path):
    def missing(*args, **kwargs):
        raise voices.EspeakNotFoundError("not here")

    monkeypatch.setattr(voices, "espeak_digits", missing)
    d = synthetic(48)
    d = dataclasses.replace(d, waves=torch.randn(len(d), 8000, generator=torch.Generator().manual_seed(0)))
    monkeypatch.setattr(recipe, "prepare", lambda config=None: d)
    settings = {"arch": "baseline", "width": 0.125, "epochs": 2, "batch_size": 8, "split": "loso:b,a"}
    out = recipes.run("resnet_fsdd_loso", "quick", overrides=settings, device="cpu", progress=False,
                      checkpoint=tmp_path / "loso.safetensors")
    by_hand = {}
    for speaker in ("b", "a"):
        config = recipes.config_for("resnet_fsdd_loso", "quick", {**settings, "split": f"loso:{speaker}"})
        model, _ = recipe.train(config, d, device="cpu", progress=False)
        by_hand[speaker] = recipe.evaluate(model, config, d, unseen=None)
        assert (tmp_path / f"loso-{speaker}.safetensors").is_file()
    assert out["results"] == recipe.combine(by_hand) and out["results"]["held-out speakers"] == 2
    assert out["epochs"] == 4 and list(out["history"]["folds"]) == ["b", "a"]
    assert out["checkpoint"] == str(tmp_path / "loso-<b|a>.safetensors")
    n_trained = sum(int(np.sum(d.speakers != s)) for s in ("a", "b"))
    assert sum(h["samples"] for h in out["history"]["folds"].values()) == 2 * n_trained


# --------------------------------------------------------------------------- the registry


def test_the_presets_pick_each_architecture():
    expected = {"cnn_fsdd": "baseline", "alexnet_fsdd": "alexnet", "vgg_fsdd": "vgg11_bn",
                "googlenet_fsdd": "googlenet", "resnet_fsdd": "resnet18", "densenet_fsdd": "densenet121",
                "squeezenet_fsdd": "squeezenet1_1"}
    for name, arch in expected.items():
        assert recipes.RECIPES[name][0] == 6 and recipes.get(name) is recipe
        quick, full = (recipes.config_for(name, mode) for mode in ("quick", "full"))
        assert quick.arch == full.arch == arch
        assert (quick.width, quick.epochs, quick.augment) == (0.0, 0, False)
        assert (full.width, full.epochs, full.augment) == (1.0, 30, True)
    assert recipes.config_for("resnet_fsdd", "quick", ["split=loso:theo", "augment=true"]).split == "loso:theo"
    of_this_module = [n for n in recipes.RECIPES if recipes.get(n) is recipe]
    assert [n for n in of_this_module if not n.endswith("_loso")] == list(expected)
    assert recipe.RECIPE_OF == {arch: name for name, arch in expected.items()}
    assert list(recipe.TITLES) == list(recipe.ARCHS) == list(recipe.ARCH_DEFAULTS) == list(recipe.RECIPE_OF)
    loso = {mode: recipes.config_for("resnet_fsdd_loso", mode) for mode in ("quick", "full")}
    assert recipes.get("resnet_fsdd_loso") is recipe and loso["full"].split == "loso"  # every speaker in turn
    assert (loso["full"].arch, loso["full"].width, loso["full"].epochs, loso["full"].augment) == (
        "resnet18", 1.0, 30, True)

"""lessons_lib.models.cnn against torchvision 0.28: parameter counts, state-dict keys and shapes, equal outputs
(float32 and float64), published FLOPs; spectrogram inputs, the width multiplier, bad input; torchvision_models().

Speed: the ImageNet-size models are built on the "meta" device wherever only shapes matter (counts, keys, FLOPs,
minimum sizes), which allocates and computes nothing. Where values matter, both models receive one random state
dict by ``load_state_dict(..., assign=True)`` (nothing initialized twice), the 100-million-value classifier
matrices of AlexNet and VGG are drawn once per shape, and inputs are small.
"""

from __future__ import annotations

import functools
import json
import math
import subprocess
import sys
import textwrap
import zlib

import pytest
import torch

from lessons_lib.models import cnn

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BUILDERS = ["alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
            "googlenet", "resnet18", "resnet34", "resnet50", "densenet121", "squeezenet1_0", "squeezenet1_1"]
# torchvision's model cards (the numbers the issue quotes).
PUBLISHED_PARAMS = {"alexnet": 61_100_840, "vgg16": 138_357_544, "vgg16_bn": 138_365_992, "googlenet": 6_624_904,
                    "resnet18": 11_689_512, "densenet121": 7_978_856, "squeezenet1_0": 1_248_424,
                    "squeezenet1_1": 1_235_496}
PUBLISHED_GFLOPS = {"resnet18": 1.814, "alexnet": 0.714, "squeezenet1_1": 0.349, "vgg16": 15.47,
                    "googlenet": 1.498, "densenet121": 2.834}


@pytest.fixture(scope="module")
def tv():
    return cnn.torchvision_models()


def ours_on(device, name, **options):
    with torch.device(device):
        return getattr(cnn, name)(**options)


def theirs_on(device, tv, name, **options):
    if name == "googlenet":  # torchvision's default builds the auxiliary heads; init_weights=False avoids a warning
        options = {"aux_logits": False, "init_weights": False, **options}
    with torch.device(device):
        return getattr(tv, name)(**options)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def published(tv, name):
    return tv.get_model_weights(name).IMAGENET1K_V1.meta


# --------------------------------------------------------------------------- counts and state dicts (shapes only)


@pytest.mark.parametrize("name", PUBLISHED_PARAMS)
def test_parameter_counts_are_the_published_ones(name):
    assert n_params(ours_on("meta", name)) == PUBLISHED_PARAMS[name]


def test_googlenet_with_auxiliary_heads_has_the_published_count(tv):
    assert n_params(ours_on("meta", "googlenet", aux_logits=True)) == 13_004_888
    assert n_params(theirs_on("meta", tv, "googlenet", aux_logits=True)) == 13_004_888


@pytest.mark.parametrize("name", BUILDERS)
def test_every_parameter_count_equals_torchvisions(tv, name):
    ours = n_params(ours_on("meta", name))
    assert ours == n_params(theirs_on("meta", tv, name)) == published(tv, name)["num_params"]


@pytest.mark.parametrize("name, options", [(n, {}) for n in BUILDERS] + [("googlenet", {"aux_logits": True})],
                         ids=BUILDERS + ["googlenet-aux"])
def test_state_dict_keys_and_shapes_equal_torchvisions(tv, name, options):
    ours, theirs = ours_on("meta", name, **options), theirs_on("meta", tv, name, **options)
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(reference)  # same keys, same order
    assert [(v.shape, v.dtype) for v in mine.values()] == [(v.shape, v.dtype) for v in reference.values()]
    result = ours.load_state_dict(reference)  # strict, copying (on "meta": shapes only)
    assert not result.missing_keys and not result.unexpected_keys


# --------------------------------------------------------------------------- equal outputs (values)


def _uniform(shape, low, high, seed, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return torch.empty(shape, dtype=dtype).uniform_(low, high, generator=generator)


@functools.lru_cache(maxsize=None)
def _big_weight(shape, dtype=torch.float32):
    """AlexNet's and VGG's classifier matrices (up to 25088 x 4096): drawn once per shape, shared by the tests."""
    if dtype != torch.float32:
        return _big_weight(shape).to(dtype)
    bound = math.sqrt(6.0 / math.prod(shape[1:]))
    return _uniform(shape, -bound, bound, zlib.crc32(str(shape).encode()))


@pytest.fixture(scope="module", autouse=True)
def _free_big_weights():
    yield
    _big_weight.cache_clear()


def random_state_dict(template):
    """Random values in every tensor of ``template`` (a state dict), seeded by key: He-uniform weights, batch
    norms far from the identity (scale, shift, running mean and variance all random), non-zero biases."""
    values = {}
    for key, t in template.items():
        seed, shape = zlib.crc32(key.encode()), tuple(t.shape)
        if not t.is_floating_point():
            values[key] = torch.zeros(shape, dtype=t.dtype)  # num_batches_tracked
        elif key.endswith("running_mean"):
            values[key] = _uniform(shape, -0.2, 0.2, seed)
        elif key.endswith("running_var"):
            values[key] = _uniform(shape, 0.5, 1.5, seed)
        elif key.endswith("bias"):
            values[key] = _uniform(shape, -0.1, 0.1, seed)
        elif t.ndim == 1:  # a batch norm's scale
            values[key] = _uniform(shape, 0.5, 1.5, seed)
        elif t.numel() > 2_000_000:
            values[key] = _big_weight(shape)
        else:
            bound = math.sqrt(6.0 / math.prod(shape[1:]))
            values[key] = _uniform(shape, -bound, bound, seed)
    return values


def same_weights(tv, name, **options):
    """Our model and torchvision's, in evaluation mode, holding the same random float32 weights."""
    ours, theirs = ours_on("meta", name, **options), theirs_on("meta", tv, name, **options)
    values = random_state_dict(theirs.state_dict())
    theirs.load_state_dict(values, assign=True)
    ours.load_state_dict(values, assign=True)  # strict: every key present, every shape equal
    return ours.eval(), theirs.eval()


def in_float64(*models):
    """The models of :func:`same_weights` in float64, still sharing their weights (converted once)."""
    values = {k: _big_weight(tuple(v.shape), torch.float64) if v.numel() > 2_000_000
              else v.double() if v.is_floating_point() else v for k, v in models[0].state_dict().items()}
    for model in models:
        model.load_state_dict(values, assign=True)
    return models


def input_for(name, batch=2, channels=3, dtype=torch.float32, seed=0):
    """Small non-square inputs: VGG's five 2x2 pools need 32, AlexNet needs 63, the others less."""
    if name.startswith("vgg"):
        batch, size = 1, (32, 40)  # the smallest VGG input: its 13-16 convolutions at 224 x 224 would be slow
    else:
        size = (64, 72) if name == "alexnet" else (48, 56)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, *size, generator=generator, dtype=dtype)


@pytest.mark.parametrize("name", BUILDERS)
def test_outputs_equal_torchvisions_in_float32_and_float64(tv, name):
    ours, theirs = same_weights(tv, name)
    for dtype, tolerance in [(torch.float32, dict(rtol=1e-5, atol=1e-6)),
                             (torch.float64, dict(rtol=1e-12, atol=1e-13))]:
        if dtype == torch.float64:
            ours, theirs = in_float64(ours, theirs)
        x = input_for(name, dtype=dtype)
        with torch.no_grad():
            mine, reference = ours(x), theirs(x)
        assert mine.shape == (x.shape[0], 1000) and mine.dtype == dtype
        assert reference.abs().max() > 1e-3  # the comparison is not between two zeros
        torch.testing.assert_close(mine, reference, **tolerance)


def test_a_state_dict_copies_into_a_built_model(tv):
    """The plain way (no ``assign``): copy torchvision's weights into a model built with its own init."""
    for name in ("resnet18", "squeezenet1_1"):
        theirs = theirs_on("cpu", tv, name)
        theirs.load_state_dict(random_state_dict(theirs.state_dict()))
        ours = getattr(cnn, name)()
        ours.load_state_dict(theirs.state_dict())
        x = input_for(name, seed=1)
        with torch.no_grad():
            torch.testing.assert_close(ours.eval()(x), theirs.eval()(x), rtol=1e-5, atol=1e-6)


def test_googlenet_auxiliary_heads_equal_torchvisions_in_training(tv):
    """In evaluation the heads are unused; in training both models return (logits, aux2, aux1) and train alike."""
    options = dict(aux_logits=True, dropout=0.0, dropout_aux=0.0)
    ours, theirs = in_float64(*same_weights(tv, "googlenet", **options))
    theirs.load_state_dict({k: v.clone() for k, v in theirs.state_dict().items()}, assign=True)  # own buffers
    x = input_for("googlenet", dtype=torch.float64, seed=2)
    mine, reference = ours.train()(x), theirs.train()(x)
    assert type(mine).__name__ == "GoogLeNetOutputs" and mine._fields == reference._fields
    for a, b in zip(mine, reference):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)
    sum(out.square().sum() for out in mine).backward()
    sum(out.square().sum() for out in reference).backward()
    for key in ("conv1.conv.weight", "aux1.fc2.weight", "aux2.conv.conv.weight"):
        torch.testing.assert_close(ours.get_parameter(key).grad, theirs.get_parameter(key).grad,
                                   rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(ours.state_dict()["conv1.bn.running_var"], theirs.state_dict()["conv1.bn.running_var"])


# --------------------------------------------------------------------------- spectrograms, width, minimum sizes


@pytest.mark.parametrize("name, options", [(n, {}) for n in BUILDERS] + [("googlenet", {"aux_logits": True})],
                         ids=BUILDERS + ["googlenet-aux"])
def test_a_narrow_model_trains_on_a_one_channel_spectrogram(name, options):
    """A log-mel spectrogram, 64 mels x 101 frames, one channel, ten digits: a training step at width 1/4."""
    torch.manual_seed(0)
    net = getattr(cnn, name)(num_classes=10, in_channels=1, width=0.25, **options)
    x = torch.randn(2, 1, 64, 101, generator=torch.Generator().manual_seed(3))
    out = net(x)
    outputs = out if isinstance(out, tuple) else (out,)
    assert len(outputs) == (3 if options else 1) and all(o.shape == (2, 10) for o in outputs)
    sum(torch.nn.functional.cross_entropy(o, torch.tensor([3, 7])) for o in outputs).backward()
    for key, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), key
    assert net.eval()(x[:1]).shape == (1, 10)


@pytest.mark.parametrize("name", BUILDERS)
def test_width_scales_every_hidden_channel_count_and_nothing_else(name):
    """width=0.5 halves every hidden count exactly; the input channels (3) and the classes (7) stay."""
    options = {"aux_logits": True} if name == "googlenet" else {}
    full, half = (ours_on("meta", name, num_classes=7, width=w, **options) for w in (1.0, 0.5))
    layers = [(a, b) for a, b in zip(full.modules(), half.modules()) if isinstance(a, (torch.nn.Conv2d, torch.nn.Linear,
                                                                                       torch.nn.BatchNorm2d))]
    assert len(layers) == sum(1 for m in full.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear,
                                                                          torch.nn.BatchNorm2d)))
    for a, b in layers:
        if isinstance(a, torch.nn.BatchNorm2d):
            assert 2 * b.num_features == a.num_features
            continue
        n_in, n_out = ("in_features", "out_features") if isinstance(a, torch.nn.Linear) else ("in_channels",
                                                                                              "out_channels")
        assert getattr(b, n_in) == 3 if getattr(a, n_in) == 3 else 2 * getattr(b, n_in) == getattr(a, n_in)
        assert getattr(b, n_out) == 7 if getattr(a, n_out) == 7 else 2 * getattr(b, n_out) == getattr(a, n_out)
    assert 0.2 < n_params(half) / n_params(full) < 0.3  # about width squared


@pytest.mark.parametrize("name", BUILDERS)
def test_minimum_input_size_is_torchvisions_and_tight(tv, name):
    ours, theirs = ours_on("meta", name).eval(), theirs_on("meta", tv, name).eval()
    m = ours.min_size
    assert (m, m) == tuple(published(tv, name)["min_size"])
    assert ours(torch.zeros(1, 3, m, m + 9, device="meta")).shape == (1, 1000)  # non-square works
    if m > 1:
        for shape in [(1, 3, m - 1, m + 9), (1, 3, m + 9, m - 1)]:
            with pytest.raises(ValueError, match=rf"x is .*needs at least {m} x {m}"):
                ours(torch.zeros(shape, device="meta"))
        with pytest.raises(RuntimeError):  # torchvision fails deep inside, at an empty feature map
            theirs(torch.zeros(1, 3, m + 9, m - 1, device="meta"))


# --------------------------------------------------------------------------- bad input


def test_bad_input_names_the_argument():
    net = cnn.alexnet(num_classes=10, in_channels=1, width=0.0625)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 1, height, width\).*\(2, 3, 64, 101\)"):
        net(torch.zeros(2, 3, 64, 101))  # three channels into a one-channel model
    with pytest.raises(ValueError, match=r"x must have shape"):
        net(torch.zeros(1, 64, 101))  # the channel axis forgotten
    with pytest.raises(ValueError, match=r"x is 8 x 8 .*AlexNet needs at least 63 x 63"):
        net(torch.zeros(1, 1, 8, 8))  # smaller than the total stride
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        net([[0.0]])


@pytest.mark.parametrize("name", BUILDERS)
def test_bad_options_name_the_argument(name):
    build = getattr(cnn, name)
    with torch.device("meta"):
        for bad in (0, -1.0, 0.0):
            with pytest.raises(ValueError, match="width must be > 0"):
                build(width=bad)
        with pytest.raises(TypeError, match="width"):
            build(width="1")
        with pytest.raises(ValueError, match="num_classes"):
            build(num_classes=0)
        with pytest.raises(ValueError, match="in_channels"):
            build(in_channels=0)
        with pytest.raises(TypeError, match="num_classes"):
            build(num_classes=10.0)


def test_bad_family_options_name_the_argument():
    with torch.device("meta"):
        with pytest.raises(ValueError, match="dropout"):
            cnn.vgg11(dropout=1.0)
        with pytest.raises(ValueError, match="dropout_aux"):
            cnn.googlenet(dropout_aux=-0.1)
        with pytest.raises(ValueError, match="drop_rate"):
            cnn.densenet121(drop_rate=1.5)
        with pytest.raises(ValueError, match="depth"):
            cnn.VGG(depth=12)
        with pytest.raises(ValueError, match="version"):
            cnn.SqueezeNet(version="1_2")
        with pytest.raises(TypeError, match="block"):
            cnn.ResNet(torch.nn.Conv2d, (2, 2, 2, 2))
        with pytest.raises(ValueError, match="layers"):
            cnn.ResNet(cnn.BasicBlock, (2, 2, 2))


# --------------------------------------------------------------------------- FLOPs


@pytest.mark.parametrize("name", BUILDERS)
def test_flops_are_torchvisions_published_gflops(tv, name):
    ours = cnn.count_flops(ours_on("meta", name), (1, 3, 224, 224))
    assert ours == cnn.count_flops(theirs_on("meta", tv, name), (1, 3, 224, 224))
    reported = published(tv, name)["_ops"]
    decimals = len(repr(reported).split(".")[1])
    assert round(ours / 1e9, decimals) == reported
    if name in PUBLISHED_GFLOPS:
        assert round(ours / 1e9, 3) == PUBLISHED_GFLOPS[name]


def test_flops_follow_the_formula_layer_by_layer():
    conv = torch.nn.Conv2d(6, 8, kernel_size=(3, 5), stride=2, padding=1, groups=2)
    assert cnn.count_flops(conv, (2, 6, 11, 20)) == 2 * 8 * 6 * 9 * (6 // 2) * 3 * 5  # 6 x 9 outputs
    assert cnn.count_flops(torch.nn.Conv1d(4, 3, 5, dilation=2), (1, 4, 30)) == 3 * 22 * 4 * 5
    assert cnn.count_flops(torch.nn.Linear(16, 10), (4, 7, 16)) == 4 * 7 * 10 * 16  # per token
    # A transposed convolution costs what the convolution it transposes costs.
    up, down = torch.nn.ConvTranspose1d(4, 6, 3, stride=2), torch.nn.Conv1d(6, 4, 3, stride=2)
    x = torch.zeros(1, 4, 10)
    assert cnn.count_flops(up, x) == cnn.count_flops(down, up(x)) == 4 * 10 * 6 * 3
    assert cnn.count_flops(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.BatchNorm1d(4)), x) == 0


def test_flops_count_the_whole_batch_and_leave_the_model_as_it_was():
    net = cnn.googlenet(num_classes=10, in_channels=1, width=0.125, aux_logits=True)  # in training mode
    statistics = net.conv1.bn.running_mean.clone()
    one = cnn.count_flops(net, (1, 1, 64, 101))
    assert cnn.count_flops(net, torch.zeros(3, 1, 64, 101)) == 3 * one
    assert net.training and all(m.training for m in net.modules())
    assert not any(m._forward_hooks for m in net.modules())
    assert torch.equal(net.conv1.bn.running_mean, statistics)
    assert one == cnn.count_flops(cnn.googlenet(num_classes=10, in_channels=1, width=0.125), (1, 1, 64, 101))
    with pytest.raises(TypeError, match="x must be a tensor or a shape"):
        cnn.count_flops(net, (1, 1, 64.0, 101))
    with pytest.raises(TypeError, match="model"):
        cnn.count_flops(lambda x: x, (1, 1))


# --------------------------------------------------------------------------- torchvision_models()


def test_torchvision_models_gives_torchvision_028(tv):
    assert cnn.torchvision_models() is tv is sys.modules["torchvision.models"]
    assert sys.modules["torchvision"].__version__.startswith("0.28")
    assert n_params(theirs_on("meta", tv, "resnet18")) == 11_689_512
    if getattr(sys.modules["torchvision"], "__file__", None) is None:  # the bare package: no operator was registered
        assert "torchvision._meta_registrations" not in sys.modules


FAKE_PACKAGE = {
    "__init__.py": "from . import extension\nraise RuntimeError({message!r})\n",
    "extension.py": "",
    "version.py": "__version__ = '0.0.fake'\n",
    "models/__init__.py": "from .. import extension\n\ndef resnet18():\n    return 'fake resnet18'\n",
}

SCENARIOS = textwrap.dedent("""
    import importlib, json, os, sys
    from lessons_lib.models import cnn

    def forget():
        for name in [n for n in sys.modules if n.split(".")[0] == "torchvision"]:
            del sys.modules[name]

    report = {}
    sys.path.insert(0, sys.argv[1])  # a fake torchvision whose import fails like the CUDA wheel's
    try:
        import torchvision
    except RuntimeError as err:
        report["plain import"] = str(err)
    report["orphans"] = sorted(n for n in sys.modules if n.startswith("torchvision"))
    orphan = sys.modules["torchvision.extension"]
    models = cnn.torchvision_models()
    report["fallback"] = [models.resnet18(), sys.modules["torchvision"].__version__,
                          cnn.torchvision_models() is models,
                          sys.modules["torchvision.extension"] is models.extension is not orphan,
                          hasattr(sys.modules["torchvision"], "__file__")]
    forget(); sys.path[0] = sys.argv[2]  # a torchvision failing for another reason
    try:
        cnn.torchvision_models()
    except RuntimeError as err:
        report["other error"] = str(err)
    forget(); sys.path.pop(0)  # not installed: no folder of sys.path holds torchvision
    sys.path[:] = [p for p in sys.path if not os.path.isdir(os.path.join(p or ".", "torchvision"))]
    importlib.invalidate_caches()
    try:
        cnn.torchvision_models()
    except ImportError as err:
        report["not installed"] = [type(err).__name__, str(err)]
    print(json.dumps(report))
""")


def test_torchvision_models_falls_back_only_on_the_missing_operators(tmp_path):
    """In a fresh interpreter, with fake torchvision packages: the fallback, its clean-up, and the other errors."""
    for folder, message in [("operators", "operator torchvision::nms does not exist"), ("other", "something else")]:
        for path, text in FAKE_PACKAGE.items():
            (tmp_path / folder / "torchvision" / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / folder / "torchvision" / path).write_text(text.format(message=message))
    run = subprocess.run([sys.executable, "-c", SCENARIOS, str(tmp_path / "operators"), str(tmp_path / "other")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["plain import"] == "operator torchvision::nms does not exist"
    assert report["orphans"] == ["torchvision.extension"]  # what the failed import leaves behind
    assert report["fallback"] == ["fake resnet18", "0.0.fake", True, True, False]
    assert report["other error"] == "something else"
    assert report["not installed"][0] == "ImportError" and "pip install torchvision" in report["not installed"][1]


# --------------------------------------------------------------------------- the audio pieces: baseline, waveforms in


def test_the_baseline_has_the_parameters_counted_by_hand_and_takes_a_log_mel_image():
    channels = [32, 64, 128, 256]
    by_hand = sum(9 * c_in * c_out + 2 * c_out for c_in, c_out in zip([1] + channels, channels)) + (256 + 1) * 10
    assert by_hand == 390_890 == n_params(cnn.baseline_cnn())
    half = [16, 32, 64, 128]
    assert n_params(cnn.baseline_cnn(width=0.5)) == sum(
        9 * a * b + 2 * b for a, b in zip([1] + half, half)) + (128 + 1) * 10
    assert n_params(cnn.baseline_cnn(num_classes=7, in_channels=3, width=0.25)) == sum(
        9 * a * b + 2 * b for a, b in zip([3, 8, 16, 32], [8, 16, 32, 64])) + (64 + 1) * 7
    net = cnn.baseline_cnn(width=0.25)
    x = torch.randn(3, 1, 40, 101, generator=torch.Generator().manual_seed(0))
    assert net(x).shape == (3, 10) and net.min_size == 16
    net.eval()  # batch norm with its running statistics, in both computations below
    maps = net.features(x)  # four 2x2 pools: 40 x 101 -> 2 x 6
    assert maps.shape == (3, 64, 2, 6)
    torch.testing.assert_close(net.eval()(x), net.classifier(maps.mean(dim=(2, 3))), rtol=1e-6, atol=1e-6)
    assert cnn.count_flops(net, (1, 1, 40, 101)) == (40 * 101 * 8 * 9 + 20 * 50 * 8 * 16 * 9 + 10 * 25 * 16 * 32 * 9
                                                    + 5 * 12 * 32 * 64 * 9 + 64 * 10)


def test_the_baseline_refuses_bad_input_and_options_by_name():
    net = cnn.baseline_cnn(width=0.25)
    with pytest.raises(ValueError, match=r"x must have shape \(batch, 1, height, width\)"):
        net(torch.zeros(2, 40, 101))
    with pytest.raises(ValueError, match=r"x is 8 x 101 .*BaselineCNN needs at least 16 x 16"):
        net(torch.zeros(1, 1, 8, 101))
    for bad, error, word in [({"width": 0}, ValueError, "width"), ({"dropout": 1.0}, ValueError, "dropout"),
                             ({"num_classes": 0}, ValueError, "num_classes")]:
        with pytest.raises(error, match=word):
            cnn.baseline_cnn(**bad)
    with pytest.raises(TypeError, match="channels"):
        cnn.BaselineCNN(channels=32)
    with pytest.raises(ValueError, match="channels"):
        cnn.BaselineCNN(channels=(32, 0))
    assert cnn.BaselineCNN(channels=(4, 8, 16)).min_size == 8


def _log_mel():
    from lessons_lib.models.frontend import LogMel

    return LogMel(sr=8000, n_fft=256, win_length=200, hop_length=80, n_mels=40, fmin=20.0, ref="max", top_db=80.0)


def test_a_spectrogram_classifier_is_its_front_end_scaling_repetition_and_body_by_hand():
    torch.manual_seed(0)
    body = cnn.alexnet(num_classes=10, in_channels=1, width=0.125).double()
    net = cnn.SpectrogramClassifier(_log_mel(), body, offset=-60.0, scale=20.0, repeat=(2, 1)).eval()
    y = torch.randn(3, 8000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    S = _log_mel()(y)  # (3, 40, 101), dB
    image = ((S + 60.0) / 20.0).repeat_interleave(2, dim=1)[:, None]  # (3, 1, 80, 101)
    assert image.shape == (3, 1, 80, 101)
    torch.testing.assert_close(net(y), body(image), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(net.features(y), (S + 60.0) / 20.0, rtol=0, atol=0)
    torch.testing.assert_close(net.classify(net.features(y)), net(y), rtol=0, atol=0)
    both = cnn.SpectrogramClassifier(_log_mel(), cnn.baseline_cnn(width=0.25), repeat=(2, 3))
    assert both.image(torch.arange(6.0).reshape(1, 2, 3)).tolist() == [[[[0.0] * 3 + [1.0] * 3 + [2.0] * 3] * 2
                                                                          + [[3.0] * 3 + [4.0] * 3 + [5.0] * 3] * 2]]


def test_a_spectrogram_classifier_augments_in_training_mode_only():
    from lessons_lib.augment import SpecAugment

    masks = SpecAugment(n_freq_masks=2, max_freq_width=8, n_time_masks=2, max_time_width=20)
    net = cnn.SpectrogramClassifier(_log_mel(), cnn.baseline_cnn(width=0.25), augment=masks)
    y = torch.randn(4, 8000, generator=torch.Generator().manual_seed(2))
    plain = (_log_mel()(y) + 60.0) / 20.0  # the default scaling
    net.eval()
    assert torch.equal(net.features(y), plain) and torch.equal(net.features(y), net.features(y))
    net.train()
    torch.manual_seed(5)
    first = net.features(y)
    torch.manual_seed(5)
    again = net.features(y)  # the masks come from torch's global random state
    assert torch.equal(first, again) and not torch.equal(first, plain)
    changed = (first != plain).all(dim=2).any(dim=1) | (first != plain).all(dim=1).any(dim=1)
    assert changed.all()  # every item has a masked band or frame


def test_a_spectrogram_classifier_refuses_bad_input_by_name():
    body = cnn.baseline_cnn(width=0.25)
    with pytest.raises(TypeError, match="frontend"):
        cnn.SpectrogramClassifier(lambda y: y, body)
    with pytest.raises(TypeError, match="augment"):
        cnn.SpectrogramClassifier(_log_mel(), body, augment="specaugment")
    with pytest.raises(ValueError, match="scale"):
        cnn.SpectrogramClassifier(_log_mel(), body, scale=0.0)
    for repeat in [(0, 1), (1,), (1.5, 1), "11"]:
        with pytest.raises(ValueError, match="repeat"):
            cnn.SpectrogramClassifier(_log_mel(), body, repeat=repeat)
    net = cnn.SpectrogramClassifier(_log_mel(), body)
    with pytest.raises(ValueError, match=r"y must have shape \(batch, n_samples\)"):
        net(torch.zeros(2, 1, 8000))
    with pytest.raises(TypeError, match="y must be a floating-point torch.Tensor"):
        net(torch.zeros(2, 8000, dtype=torch.int16))
    with pytest.raises(ValueError, match="AlexNet needs at least 63 x 63"):  # 40 bands, no repetition
        cnn.SpectrogramClassifier(_log_mel(), cnn.alexnet(10, 1, 0.125))(torch.zeros(1, 8000))

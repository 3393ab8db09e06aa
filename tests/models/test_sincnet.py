"""lessons_lib.models.sincnet against scipy: the sinc filters equal ``scipy.signal.firwin`` (float64, random
edges, with and without SincNet's centre-tap scaling), the layer's output equals ``numpy.correlate`` with them,
the gradient reaching the two parameters per filter equals finite differences (``torch.autograd.gradcheck``,
float64), the mel initialisation equals librosa's mel points; laws (hypothesis): the frequency response is 1 in
the pass band and near 0 in the stop band away from the edges, and the edges stay positive, ordered and below
Nyquist whatever the parameters; the network's shapes and parameter counts against the paper's layer sizes,
its first block against the same computation in numpy; statistics pooling against numpy's mean and
standard deviation; bad input.
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import scipy.signal
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from lessons_lib.models import sincnet
from lessons_lib.models.sincnet import SincConv1d, SincNet, mel_cutoffs, sinc_bandpass

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def random_edges(rng, n, sample_rate, *, min_low=1.0, min_band=1.0):
    """``n`` random (f1, f2) pairs with min_low <= f1, f2 - f1 >= min_band, f2 < Nyquist."""
    nyquist = sample_rate / 2
    low = rng.uniform(min_low, nyquist - min_band - 1.0, n)
    high = rng.uniform(low + min_band, nyquist - 0.5)
    return np.stack([low, high], axis=1)


def firwin(edges, kernel_size, sample_rate):
    return np.stack([scipy.signal.firwin(kernel_size, [f1, f2], pass_zero=False, window="hamming", scale=False,
                                         fs=sample_rate) for f1, f2 in edges])


def layer64(edges, kernel_size, sample_rate, **options):
    """A float64 SincConv1d whose parameters stand exactly for ``edges``."""
    with torch.device("cpu"):
        torch.set_default_dtype(torch.float64)
        try:
            return SincConv1d(len(edges), kernel_size, sample_rate, cutoffs=edges, **options)
        finally:
            torch.set_default_dtype(torch.float32)


# --------------------------------------------------------------------------- the filters against scipy


@pytest.mark.parametrize("kernel_size, sample_rate", [(31, 8000), (125, 8000), (251, 16000), (1, 8000)])
def test_filters_equal_scipy_firwin(kernel_size, sample_rate):
    edges = random_edges(np.random.default_rng(kernel_size), 20, sample_rate)
    ours = sinc_bandpass(edges, kernel_size, sample_rate)
    assert ours.dtype == torch.float64 and ours.shape == (20, kernel_size)
    np.testing.assert_allclose(ours.numpy(), firwin(edges, kernel_size, sample_rate), rtol=1e-10, atol=1e-13)


def test_sincnets_scaling_is_firwin_over_its_centre_tap():
    sr, L = 16000, 251
    edges = random_edges(np.random.default_rng(1), 30, sr, min_low=50, min_band=50)
    reference = firwin(edges, L, sr)
    constant = 2 * (edges[:, 1] - edges[:, 0]) / sr
    ours = sinc_bandpass(edges, L, sr, normalize=True).numpy()
    np.testing.assert_allclose(ours, reference / constant[:, None], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours[:, L // 2], 1.0, rtol=1e-12)


def test_without_the_window_the_filter_is_the_truncated_ideal_band_pass():
    sr, L = 8000, 63
    edges = random_edges(np.random.default_rng(2), 5, sr)
    reference = firwin(edges, L, sr) / scipy.signal.get_window("hamming", L, fftbins=False)  # firwin = h * w
    np.testing.assert_allclose(sinc_bandpass(edges, L, sr, window=False).numpy(), reference, rtol=1e-9, atol=1e-12)


def test_the_layer_holds_two_numbers_per_filter_and_builds_firwins_filters():
    sr, L = 8000, 101
    edges = random_edges(np.random.default_rng(3), 12, sr, min_low=50, min_band=50)
    for normalize in (False, True):
        layer = layer64(edges, L, sr, normalize=normalize)
        assert {k: tuple(v.shape) for k, v in layer.state_dict().items()} == {"low_hz_": (12, 1), "band_hz_": (12, 1)}
        np.testing.assert_allclose(layer.cutoffs().detach().numpy(), edges, rtol=1e-13)
        constant = 2 * (edges[:, 1] - edges[:, 0]) / sr if normalize else np.ones(12)
        np.testing.assert_allclose(layer.filters().detach().numpy(), firwin(edges, L, sr) / constant[:, None],
                                   rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("stride, padding", [(1, 0), (3, 0), (2, 7)])
def test_the_layer_correlates_like_numpy(stride, padding):
    sr, L = 8000, 41
    edges = random_edges(np.random.default_rng(4), 6, sr, min_low=50, min_band=50)
    layer = layer64(edges, L, sr, stride=stride, padding=padding, normalize=False)
    x = np.random.default_rng(5).standard_normal((2, 500))
    y = layer(torch.from_numpy(x)[:, None]).detach().numpy()
    h = firwin(edges, L, sr)
    padded = np.pad(x, ((0, 0), (padding, padding)))
    expected = np.stack([[np.correlate(xb, hj, mode="valid")[::stride] for hj in h] for xb in padded])
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-12)


def test_frequency_response_equals_scipy_freqz():
    sr, L = 8000, 101
    h = sinc_bandpass(random_edges(np.random.default_rng(9), 3, sr), L, sr)
    f, H = sincnet.frequency_response(h, sr, 1024)
    for j in range(3):
        f_ref, H_ref = scipy.signal.freqz(h[j].numpy(), worN=513, include_nyquist=True, fs=sr)
        np.testing.assert_allclose(f, f_ref, rtol=1e-12)
        np.testing.assert_allclose(H[j], np.abs(H_ref), rtol=1e-9, atol=1e-12)
    with pytest.raises(ValueError, match="n_fft \\(64\\) must be at least the filter length \\(101\\)"):
        sincnet.frequency_response(h, sr, 64)


# --------------------------------------------------------------------------- gradients


def test_the_gradient_reaches_both_parameters_and_equals_finite_differences():
    sr, L = 8000, 33
    edges = random_edges(np.random.default_rng(6), 4, sr, min_low=50, min_band=50)
    x = torch.from_numpy(np.random.default_rng(7).standard_normal((2, 1, 80)))
    for normalize in (False, True):
        layer = layer64(edges, L, sr, normalize=normalize)

        def output(low, band):
            return torch.func.functional_call(layer, {"low_hz_": low, "band_hz_": band}, (x,))  # noqa: B023

        low, band = (p.detach().clone().requires_grad_() for p in (layer.low_hz_, layer.band_hz_))
        assert torch.autograd.gradcheck(output, (low, band), eps=1e-4, atol=1e-7, rtol=1e-5)
        layer = layer64(edges, L, sr, normalize=normalize)
        layer(x).square().sum().backward()
        assert torch.all(layer.low_hz_.grad != 0) and torch.all(layer.band_hz_.grad != 0)


def test_a_learning_step_moves_the_edges():
    layer = SincConv1d(8, 65, 8000)
    before = layer.cutoffs().detach().clone()
    optimizer = torch.optim.SGD(layer.parameters(), lr=10.0)
    x = torch.randn(4, 1, 400, generator=torch.Generator().manual_seed(0))
    layer(x).square().mean().backward()
    optimizer.step()
    assert not torch.allclose(layer.cutoffs(), before)


# --------------------------------------------------------------------------- the mel initialisation


@pytest.mark.parametrize("n_filters, sample_rate", [(80, 16000), (40, 8000), (1, 8000)])
def test_mel_initialisation_equals_librosas_mel_points(n_filters, sample_rate):
    points = librosa.mel_frequencies(n_mels=n_filters + 1, fmin=30.0, fmax=sample_rate / 2 - 100, htk=True)
    edges = mel_cutoffs(n_filters, sample_rate)
    np.testing.assert_allclose(edges[:, 0], points[:-1] + 50, rtol=1e-12)
    np.testing.assert_allclose(edges[:, 1], points[1:] + 100, rtol=1e-12)
    layer = SincConv1d(n_filters, 31, sample_rate)
    np.testing.assert_allclose(layer.cutoffs().detach().numpy(), edges, rtol=1e-6)
    np.testing.assert_allclose(layer.band_hz_.detach().numpy()[:, 0], np.diff(points), rtol=1e-6)


def test_mel_bands_widen_with_frequency():
    edges = mel_cutoffs(40, 16000)
    widths = edges[:, 1] - edges[:, 0]
    assert np.all(np.diff(widths) > 0) and np.all(np.diff(edges[:, 0]) > 0)


# --------------------------------------------------------------------------- laws


@settings(max_examples=40, deadline=None)
@given(st.floats(0.02, 0.3), st.floats(0.05, 0.4), st.sampled_from([101, 151, 201]))
def test_the_response_is_one_in_the_pass_band_and_near_zero_outside(low, width, kernel_size):
    """Hamming: beyond 3.5 / L (cycles per sample) of each edge, within 0.5 % of 1 and below 0.005.

    A Hamming-windowed low-pass ripples by at most about 0.22 % (its side lobes, -53 dB); the band-pass is
    the difference of two low-passes, so the two edges' ripples can add up to twice that (a sweep over
    these ranges reaches 0.43 % in the stop band, for a narrow band near a low edge).
    """
    sr = 1.0
    high = min(low + width, 0.49)
    h = sinc_bandpass([[low, high]], kernel_size, sr)[0].numpy()
    n_fft = 8192
    response = np.abs(np.fft.rfft(h, n_fft))
    f = np.fft.rfftfreq(n_fft, 1 / sr)
    margin = 3.5 / kernel_size
    passband = (f > low + margin) & (f < high - margin)
    stopband = (f < low - margin) | (f > high + margin)
    if passband.any():
        assert np.max(np.abs(response[passband] - 1)) < 5e-3
    assert np.max(response[stopband], initial=0.0) < 5e-3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e5, 1e5), min_size=2, max_size=2), st.sampled_from([8000, 16000]),
       st.floats(0.0, 200.0), st.floats(1.0, 200.0))
def test_the_edges_stay_positive_ordered_and_below_nyquist(raw, sample_rate, min_low, min_band):
    layer = SincConv1d(1, 11, sample_rate, min_low_hz=min_low, min_band_hz=min_band)
    with torch.no_grad():
        layer.low_hz_.fill_(raw[0])
        layer.band_hz_.fill_(raw[1])
    (f1, f2), = layer.cutoffs().tolist()
    nyquist = sample_rate / 2
    assert min_low <= f1 + 1e-2 and f1 <= nyquist - min_band + 1e-2
    assert f2 <= nyquist and f2 - f1 >= min_band - 1e-2
    assert np.all(np.isfinite(layer.filters().detach().numpy()))


# --------------------------------------------------------------------------- the network


def test_the_timit_configuration_has_the_papers_layer_sizes():
    with torch.device("meta"):
        net = sincnet.sincnet_timit()
    # 3200 samples: sinc 251 taps -> 2950 -> pool 3 -> 983; conv 5 -> 979 -> 326; conv 5 -> 322 -> 107
    assert net.feature_shape == (60, 107)
    assert sum(p.numel() for p in net.sinc.parameters()) == 2 * 80
    with torch.device("meta"):
        cnn = sincnet.sincnet_timit(frontend="conv")
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert sum(p.numel() for p in cnn.sinc.parameters()) == 80 * 251
    assert count(cnn) - count(net) == 80 * 251 - 2 * 80
    # every weight by hand: convolutions (with bias), per-channel layer norms, the flat layer norm, the three
    # 2048-unit layers with batch norm, the 462-way output
    expected = (160 + 2 * 80 + (60 * 80 * 5 + 60) + 2 * 60 + (60 * 60 * 5 + 60) + 2 * 60 + 2 * 6420
                + (6420 * 2048 + 2048) + 2 * 2048 + 2 * (2048 * 2048 + 2048 + 2 * 2048) + (2048 * 462 + 462))
    assert count(net) == expected


def test_the_first_block_is_rectify_pool_layer_norm_leaky_relu():
    torch.manual_seed(0)
    net = SincNet(num_classes=3, sample_rate=8000, input_samples=400, sinc_filters=5, sinc_kernel=31,
                  conv_channels=(4,), conv_kernels=(3,), pool_sizes=(3, 2), fc_units=(8,)).double().eval()
    with torch.no_grad():
        net.sinc.band_hz_[-1] -= 10.0  # the mel bank's top edge is Nyquist, which firwin refuses
    x = np.random.default_rng(8).standard_normal((2, 400))
    z = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    h = firwin(net.sinc.cutoffs().detach().numpy(), 31, 8000)
    h = h / (2 * np.diff(net.sinc.cutoffs().detach().numpy(), axis=1) / 8000)
    y = np.abs(np.stack([[np.correlate(zb, hj, "valid") for hj in h] for zb in z]))  # (2, 5, 370)
    y = y[:, :, : 370 // 3 * 3].reshape(2, 5, -1, 3).max(-1)
    y = (y - y.mean((1, 2), keepdims=True)) / np.sqrt(y.var((1, 2), keepdims=True) + 1e-5)
    y = np.where(y > 0, y, 0.2 * y)
    ours = net.features[0](net.input_norm(torch.from_numpy(x)[:, None])).detach().numpy()
    np.testing.assert_allclose(ours, y, rtol=1e-9, atol=1e-11)
    assert net(torch.from_numpy(x)).shape == (2, 3)


def test_statistics_pooling_is_each_channels_mean_and_standard_deviation_over_time():
    torch.manual_seed(1)
    small = dict(num_classes=3, sample_rate=8000, input_samples=400, sinc_filters=5, sinc_kernel=31,
                 conv_channels=(4,), conv_kernels=(3,), pool_sizes=(3, 2), fc_units=(8,))
    net = SincNet(**small, pooling="stats").double().eval()
    x = torch.from_numpy(np.random.default_rng(9).standard_normal((2, 400)))
    h = net.features(net.input_norm(x[:, None])).detach().numpy()  # (2, 4, frames)
    stats = np.concatenate([h.mean(-1), np.sqrt(h.var(-1) + 1e-5)], axis=1)  # numpy's var: the 1/T one
    np.testing.assert_allclose(net.pool(torch.from_numpy(h)).numpy(), stats, rtol=1e-12, atol=0)
    expected = net.classifier(net.fc(net.flat_norm(torch.from_numpy(stats))))
    torch.testing.assert_close(net(x), expected, rtol=1e-12, atol=1e-12)
    # the MLP reads 2 x 4 statistics instead of 4 x frames values: only its first layer and norm change size
    flat = SincNet(**small)
    frames = flat.feature_shape[1]
    n = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert n(flat) - n(net) == (4 * frames - 8) * (8 + 2)
    # a feature map constant in time: standard deviation sqrt(eps), a finite gradient
    constant = torch.ones(1, 4, 7, dtype=torch.float64, requires_grad=True)
    net.pool(constant).sum().backward()
    assert torch.isfinite(constant.grad).all()


def test_the_network_learns_to_separate_two_tones():
    torch.manual_seed(0)
    net = sincnet.sincnet(2, 8000, 400, sinc_filters=8, sinc_kernel=31, conv_channels=(8,), conv_kernels=(3,),
                          pool_sizes=(3, 3), fc_units=(16,))
    t = torch.arange(400) / 8000
    g = torch.Generator().manual_seed(1)
    phase = torch.rand(32, 1, generator=g) * 6.28
    y = torch.arange(32) % 2
    x = torch.sin(2 * torch.pi * torch.where(y[:, None] == 1, 2000.0, 300.0) * t + phase)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(30):
        optimizer.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1


# --------------------------------------------------------------------------- bad input


def test_bad_cutoffs_are_refused():
    for bad in ([[0.0, 100.0]], [[-5.0, 100.0]], [[100.0, 4000.0]], [[100.0, 5000.0]]):
        with pytest.raises(ValueError, match=r"cut-offs must lie in \(0, 4000\) Hz"):
            sinc_bandpass(bad, 31, 8000)
        with pytest.raises(ValueError, match=r"cut-offs must lie in \(0, 4000\) Hz"):
            SincConv1d(1, 31, 8000, cutoffs=bad, min_low_hz=0.0)
    with pytest.raises(ValueError, match="below its high cut-off"):
        sinc_bandpass([[300.0, 200.0]], 31, 8000)
    with pytest.raises(ValueError, match=r"cutoffs must have shape \(n_filters, 2\)"):
        sinc_bandpass([100.0, 200.0], 31, 8000)
    with pytest.raises(ValueError, match=r"shape \(out_channels, 2\) = \(2, 2\)"):
        SincConv1d(2, 31, 8000, cutoffs=[[100.0, 200.0]])
    with pytest.raises(ValueError, match="min_low_hz"):
        SincConv1d(1, 31, 8000, cutoffs=[[20.0, 200.0]])  # below the default 50 Hz floor
    with pytest.raises(ValueError, match="min_band_hz"):
        SincConv1d(1, 31, 8000, cutoffs=[[100.0, 120.0]])


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        SincConv1d(4, 30, 8000)
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        sinc_bandpass([[100.0, 200.0]], 30, 8000)
    with pytest.raises(TypeError, match="out_channels"):
        SincConv1d(4.0, 31, 8000)
    with pytest.raises(ValueError, match="in_channels must be 1"):
        SincConv1d(4, 31, 8000, in_channels=2)
    with pytest.raises(ValueError, match="sample_rate must be > 0"):
        SincConv1d(4, 31, 0)
    with pytest.raises(ValueError, match="min_low_hz \\+ min_band_hz must be below Nyquist"):
        SincConv1d(4, 31, 8000, min_low_hz=3000, min_band_hz=1000)
    with pytest.raises(ValueError, match="min_band_hz must be > 0"):
        SincConv1d(4, 31, 8000, min_band_hz=0.0)
    with pytest.raises(ValueError, match="padding"):
        SincConv1d(4, 31, 8000, padding=-1)
    with pytest.raises(ValueError, match="no room for the bands"):
        mel_cutoffs(4, 8000, low_hz=3950.0)


def test_bad_input_to_the_layer_is_refused():
    layer = SincConv1d(4, 31, 8000)
    with pytest.raises(ValueError, match=r"\(batch, 1, samples\): one input channel"):
        layer(torch.zeros(2, 2, 100))
    with pytest.raises(ValueError, match=r"\(batch, 1, samples\): one input channel"):
        layer(torch.zeros(2, 100))
    with pytest.raises(ValueError, match="fewer than one filter's 31 taps"):
        layer(torch.zeros(2, 1, 30))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer(np.zeros((2, 1, 100)))
    assert SincConv1d(4, 31, 8000, padding=1)(torch.zeros(1, 1, 29)).shape == (1, 4, 1)


def test_bad_input_to_the_network_is_refused():
    small = {"num_classes": 2, "sample_rate": 8000, "sinc_filters": 4, "sinc_kernel": 31, "conv_channels": (4,),
             "conv_kernels": (3,), "pool_sizes": (3, 3), "fc_units": (8,)}
    net = SincNet(input_samples=400, **small)
    with pytest.raises(ValueError, match=r"\(batch, input_samples\) = \(batch, 400\)"):
        net(torch.zeros(2, 399))
    with pytest.raises(ValueError, match=r"\(batch, input_samples\)"):
        net(torch.zeros(2, 1, 400))
    with pytest.raises(ValueError, match="input_samples \\(40\\) is too short"):
        SincNet(input_samples=40, **small)
    with pytest.raises(ValueError, match="frontend must be 'sinc' or 'conv'"):
        SincNet(input_samples=400, **(small | {"frontend": "mel"}))
    with pytest.raises(ValueError, match="pooling must be 'flatten' or 'stats'"):
        SincNet(input_samples=400, **(small | {"pooling": "mean"}))
    with pytest.raises(ValueError, match="pool_sizes one more"):
        SincNet(input_samples=400, **(small | {"pool_sizes": (3,)}))
    with pytest.raises(ValueError, match="fc_dropout must lie in"):
        SincNet(input_samples=400, **(small | {"fc_dropout": 1.0}))

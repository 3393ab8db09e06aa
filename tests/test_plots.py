"""lessons_lib.plots: pixel centres at the frames' times and the bins' frequencies; confusion counts."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from sklearn.metrics import confusion_matrix  # noqa: E402

from lessons_lib import plots, spectral  # noqa: E402


def pixel_centres(extent, shape):
    """Centres of the columns and rows of an image of `shape` drawn over `extent` (origin lower)."""
    left, right, bottom, top = extent
    n_rows, n_cols = shape
    cols = left + (np.arange(n_cols) + 0.5) * (right - left) / n_cols
    rows = bottom + (np.arange(n_rows) + 0.5) * (top - bottom) / n_rows
    return cols, rows


@pytest.mark.parametrize("sr, n_fft, hop, n_samples", [(8000, 256, 80, 4000), (16000, 512, 160, 8001),
                                                       (22050, 2048, 512, 22050), (8000, 8, 3, 1)])
def test_pixel_centres_are_frame_times_and_bin_frequencies(sr, n_fft, hop, n_samples):
    y = np.random.default_rng(0).standard_normal(n_samples)
    S = np.abs(spectral.stft(y, n_fft=n_fft, hop_length=hop)) ** 2
    extent = plots.spectrogram_extent(*S.shape, sr=sr, hop_length=hop)
    cols, rows = pixel_centres(extent, S.shape)
    # centred framing: frame m is centred on sample m * hop; bin k is k * sr / n_fft Hz
    np.testing.assert_allclose(cols, np.arange(S.shape[1]) * hop / sr, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(rows, np.arange(S.shape[0]) * sr / n_fft, rtol=1e-12, atol=1e-9)


def test_uncentred_frames_and_index_rows():
    extent = plots.spectrogram_extent(13, 4, sr=8000, hop_length=80, n_fft=256, center=False,
                                      frequency="index")
    cols, rows = pixel_centres(extent, (13, 4))
    np.testing.assert_allclose(cols, (np.arange(4) * 80 + 128) / 8000, rtol=1e-12)
    np.testing.assert_allclose(rows, np.arange(13), atol=1e-12)


def test_index_rows_need_no_n_fft_even_for_a_single_row():
    # a one-row strip (e.g. a state path drawn under a spectrogram)
    assert plots.spectrogram_extent(1, 3, sr=8000, hop_length=80, frequency="index") == (-0.005, 0.025, -0.5, 0.5)


def test_show_spectrogram_draws_on_that_extent():
    fig, ax = plt.subplots()
    S = np.random.default_rng(1).normal(size=(40, 30))
    image = plots.show_spectrogram(ax, S, sr=8000, hop_length=80, frequency="index", title="t", vmin=-1)
    assert tuple(image.get_extent()) == plots.spectrogram_extent(40, 30, sr=8000, hop_length=80, frequency="index")
    np.testing.assert_array_equal(image.get_array(), S)
    assert ax.get_xlabel() == "time (s)" and ax.get_ylabel() == "band" and ax.get_title() == "t"
    assert image.get_clim()[0] == -1
    plt.close(fig)


def test_show_confusion_writes_every_non_zero_count_in_its_cell():
    rng = np.random.default_rng(2)
    true = rng.integers(0, 4, 200)
    predicted = np.where(rng.random(200) < 0.8, true, rng.integers(0, 4, 200))
    matrix = confusion_matrix(true, predicted)
    fig, ax = plt.subplots()
    plots.show_confusion(ax, matrix, labels="abcd", title="c")
    written = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in ax.texts}
    assert written == {(i, j): int(c) for (i, j), c in np.ndenumerate(matrix) if c}
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcd")
    assert ax.get_xlabel() == "predicted" and ax.get_ylabel() == "true"
    plt.close(fig)


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda ax: plots.show_spectrogram(ax, np.zeros(5), sr=8000, hop_length=80), ValueError, "S_db must be 2-D"),
        (lambda ax: plots.show_spectrogram(ax, np.zeros((3, 3)), sr=0, hop_length=80), ValueError, "sr"),
        (lambda ax: plots.show_spectrogram(ax, np.zeros((3, 3)), sr=8000, hop_length=0), ValueError, "hop_length"),
        (lambda ax: plots.show_spectrogram(ax, np.zeros((3, 3)), sr=8000, hop_length=8, frequency="mel"),
         ValueError, "frequency must be one of"),
        (lambda ax: plots.show_spectrogram(ax, np.zeros((3, 3)), sr=8000, hop_length=8, center=False),
         ValueError, "n_fft is needed"),
        (lambda ax: plots.show_spectrogram(ax, np.zeros((1, 3)), sr=8000, hop_length=8), ValueError, "n_fft"),
        (lambda ax: plots.show_confusion(ax, np.zeros((2, 3))), ValueError, "square"),
        (lambda ax: plots.show_confusion(ax, -np.eye(2)), ValueError, "counts"),
        (lambda ax: plots.show_confusion(ax, np.eye(2), labels=[1]), ValueError, "labels must have 2"),
    ],
)
def test_bad_input(call, error, match):
    fig, ax = plt.subplots()
    try:
        with pytest.raises(error, match=match):
            call(ax)
    finally:
        plt.close(fig)


def test_show_history_draws_each_epochs_number():
    from lessons_lib.plots import show_history
    from lessons_lib.train import History

    run = History(loss=[3.0, 1.5, 0.75, 0.5], valid={"DER": [1.0, 0.4, 0.1, 0.05]}, lr=[1e-3, 3e-3, 2e-3, 1e-5])
    fig, ax = plt.subplots()
    for key, expected in (("loss", run.loss), ("DER", run.valid["DER"]), ("lr", run.lr)):
        line, = show_history(ax, run, key, label=key)
        assert line.get_xdata().tolist() == [1, 2, 3, 4] and line.get_ydata().tolist() == expected
        assert line.get_label() == key
    show_history(ax, run, logy=True, title="t", ylabel="CTC loss", color="C3")
    assert ax.get_yscale() == "log" and ax.get_title() == "t" and ax.get_ylabel() == "CTC loss"
    with pytest.raises(KeyError, match="it has: loss, lr, DER"):
        show_history(ax, run, "accuracy")
    plt.close(fig)

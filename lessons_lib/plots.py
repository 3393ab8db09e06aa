"""Figures that several notebooks draw: spectrograms on true time and frequency axes, confusion matrices,
learning curves.

A spectrogram pixel stands for one frame and one frequency bin, so its
*centre* must sit at that frame's time and that bin's frequency. With
``center=True`` framing (librosa's and :func:`lessons_lib.spectral.stft`'s
default), frame :math:`m` is centred on sample :math:`mR`, at time
:math:`t_m = mR / f_s`; bin :math:`k` of an :math:`N`-point DFT is centred
on :math:`k f_s / N`. Drawing the image from 0 to :math:`M R / f_s` (as
``extent=[0, n_frames * hop / sr, 0, sr / 2]`` does) shifts every frame by
half a hop and every bin by half a bin; :func:`spectrogram_extent` gives the
edges that put the centres in the right place.

Matplotlib is imported only when a figure is drawn, so the rest of the
package does not need it.

Chapter: first used in ``notebooks/01b_stft_mel_mfcc.ipynb``; also 02, 03,
04 and 05.
"""

from __future__ import annotations

import numpy as np

from ._checks import positive_int, sample_rate

__all__ = ["spectrogram_extent", "show_spectrogram", "show_confusion", "show_history"]

_FREQUENCY_AXES = ("linear", "index")


def spectrogram_extent(n_bins: int, n_frames: int, *, sr: int, hop_length: int, n_fft: int | None = None,
                       center: bool = True, frequency: str = "linear") -> tuple[float, float, float, float]:
    """The ``imshow`` extent that puts every pixel's centre at its frame's time and its bin's frequency.

    .. math:: t_m = \\frac{mR + c}{f_s}, \\qquad f_k = \\frac{k f_s}{N},

    with :math:`c = 0` for centred frames and :math:`c = N/2` otherwise; the
    image spans half a hop before the first frame to half a hop after the
    last, and half a bin below 0 Hz to half a bin above :math:`f_s / 2`.

    Parameters
    ----------
    n_bins, n_frames : int
        The spectrogram's shape ``(n_bins, n_frames)``: frequency first, time second.
    sr : int
        Sampling rate :math:`f_s` in Hz.
    hop_length : int
        Hop :math:`R` in samples.
    n_fft : int, optional
        DFT length :math:`N`; default ``2 * (n_bins - 1)``, the length that
        gives ``n_bins`` one-sided bins. Needed for ``center=False``.
    center : bool, default True
        Whether frame :math:`m` is centred on sample :math:`mR` (padded
        framing) or starts there.
    frequency : {"linear", "index"}, default "linear"
        ``"linear"``: rows are DFT bins, in Hz. ``"index"``: rows are numbered
        0, 1, ... (mel bands, cepstral coefficients, states), each row one unit tall.

    Returns
    -------
    (left, right, bottom, top) : tuple of float
        Seconds on the x axis; Hz (or row number) on the y axis.

    Raises
    ------
    ValueError
        For a non-positive size, rate or hop, or an unknown ``frequency``.

    Examples
    --------
    Three frames 10 ms apart at 8 kHz, five bins of an 8-point DFT
    (bins at 0, 1000, ..., 4000 Hz):

    >>> spectrogram_extent(5, 3, sr=8000, hop_length=80)
    (-0.005, 0.025, -500.0, 4500.0)
    >>> spectrogram_extent(40, 3, sr=8000, hop_length=80, frequency="index")
    (-0.005, 0.025, -0.5, 39.5)
    """
    n_bins = positive_int(n_bins, "n_bins")
    n_frames = positive_int(n_frames, "n_frames")
    sr = sample_rate(sr)
    hop_length = positive_int(hop_length, "hop_length")
    if frequency not in _FREQUENCY_AXES:
        raise ValueError(f"frequency must be one of {_FREQUENCY_AXES}, got {frequency!r}")
    if n_fft is None:
        if not center:
            raise ValueError("n_fft is needed for center=False (frame m is centred on sample m * hop + n_fft / 2)")
        if frequency == "linear" and n_bins < 2:
            raise ValueError("n_fft is needed when there is a single frequency bin")
        n_fft = 2 * (n_bins - 1) if frequency == "linear" else None
    else:
        n_fft = positive_int(n_fft, "n_fft")
    offset = n_fft / 2 if not center else 0.0
    left = (offset - hop_length / 2) / sr
    right = ((n_frames - 1) * hop_length + offset + hop_length / 2) / sr
    if frequency == "linear":
        half_bin = sr / n_fft / 2
        bottom, top = -half_bin, (n_bins - 1) * sr / n_fft + half_bin
    else:
        bottom, top = -0.5, n_bins - 0.5
    return float(left), float(right), float(bottom), float(top)


def show_spectrogram(ax, S_db: np.ndarray, *, sr: int, hop_length: int, n_fft: int | None = None,
                     center: bool = True, frequency: str = "linear", title: str | None = None,
                     ylabel: str | None = None, cmap: str = "magma", **imshow_kwargs):
    """Draw a spectrogram (frequency first, time second) on true time and frequency axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    S_db : ndarray of float, shape (n_bins, n_frames)
        Usually in decibels (:func:`lessons_lib.spectral.power_to_db`).
    sr, hop_length, n_fft, center, frequency
        As in :func:`spectrogram_extent`.
    title : str, optional
    ylabel : str, optional
        Default ``"frequency (Hz)"`` for ``frequency="linear"``, ``"band"``
        for ``"index"``.
    cmap : str, default "magma"
    **imshow_kwargs
        Passed on to ``ax.imshow`` (``vmin``, ``vmax``, ...).

    Returns
    -------
    matplotlib.image.AxesImage
        For a colour bar: ``fig.colorbar(image, ax=ax)``.

    Raises
    ------
    ValueError
        If ``S_db`` is not 2-D, or as :func:`spectrogram_extent`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> image = show_spectrogram(ax, np.zeros((129, 101)), sr=8000, hop_length=80)
    >>> image.get_extent()[:2]  # frame 0 at t = 0, frame 100 at t = 1 s
    [-0.005, 1.005]
    >>> plt.close(fig)
    """
    S_db = np.asarray(S_db)
    if S_db.ndim != 2:
        raise ValueError(f"S_db must be 2-D, shape (n_bins, n_frames), got shape {S_db.shape}")
    extent = spectrogram_extent(*S_db.shape, sr=sr, hop_length=hop_length, n_fft=n_fft, center=center,
                                frequency=frequency)
    image = ax.imshow(S_db, origin="lower", aspect="auto", cmap=cmap, extent=extent, **imshow_kwargs)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel or ("frequency (Hz)" if frequency == "linear" else "band"))
    if title is not None:
        ax.set_title(title)
    return image


def show_confusion(ax, matrix: np.ndarray, *, labels=None, title: str | None = None,
                   xlabel: str = "predicted", ylabel: str = "true", cmap: str = "Blues"):
    """Draw a confusion matrix with its counts written in the non-empty cells.

    Row :math:`i`, column :math:`j` holds how often class :math:`i` was
    predicted as class :math:`j` (scikit-learn's
    ``sklearn.metrics.confusion_matrix`` layout), so the diagonal holds the
    correct decisions.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    matrix : ndarray of int, shape (n_classes, n_classes)
    labels : sequence, optional
        Tick labels; default ``0 .. n_classes - 1``.
    title, xlabel, ylabel : str, optional
    cmap : str, default "Blues"

    Returns
    -------
    matplotlib.image.AxesImage

    Raises
    ------
    ValueError
        If ``matrix`` is not square, holds negative counts, or ``labels``
        has the wrong length.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> fig, ax = plt.subplots()
    >>> _ = show_confusion(ax, np.array([[5, 1], [0, 4]]), labels=["yes", "no"])
    >>> [t.get_text() for t in ax.texts]  # the zero cell stays empty
    ['5', '1', '4']
    >>> plt.close(fig)
    """
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.size == 0:
        raise ValueError(f"matrix must be square, shape (n_classes, n_classes), got shape {matrix.shape}")
    if np.any(matrix < 0):
        raise ValueError("matrix must hold counts (>= 0)")
    n = matrix.shape[0]
    labels = list(range(n)) if labels is None else list(labels)
    if len(labels) != n:
        raise ValueError(f"labels must have {n} entries, one per class, got {len(labels)}")
    image = ax.imshow(matrix, cmap=cmap)
    threshold = matrix.max() / 2
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count > threshold else "black")
    ax.set_xticks(range(n), [str(label) for label in labels])
    ax.set_yticks(range(n), [str(label) for label in labels])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title)
    return image


def show_history(ax, history, key: str = "loss", *, label: str | None = None, logy: bool = False,
                 title: str | None = None, ylabel: str | None = None, **plot_kwargs):
    """Draw one number of a training run per epoch: the training loss or a validation score.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
    history : lessons_lib.train.History
        As :func:`lessons_lib.train.fit` returns it.
    key : str, default "loss"
        ``"loss"`` (the mean training loss), ``"lr"``, or a key of ``history.valid``
        (e.g. ``"accuracy"``, ``"DER"``).
    label : str, optional
        The legend entry.
    logy : bool, default False
        A logarithmic y axis.
    title, ylabel : str, optional
        ``ylabel`` defaults to ``key``.
    **plot_kwargs
        Passed on to ``ax.plot`` (default marker ``"o-"``-style dots).

    Returns
    -------
    list of matplotlib.lines.Line2D

    Raises
    ------
    KeyError
        If ``key`` is neither ``"loss"``, ``"lr"`` nor a validation score of the run;
        the message lists those there are.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> from lessons_lib.train import History
    >>> run = History(loss=[2.0, 1.0, 0.5], valid={"accuracy": [0.5, 0.8, 0.9]})
    >>> fig, ax = plt.subplots()
    >>> line, = show_history(ax, run, "accuracy", label="64 units")
    >>> line.get_xdata().tolist(), line.get_ydata().tolist(), ax.get_xlabel()
    ([1, 2, 3], [0.5, 0.8, 0.9], 'epoch')
    >>> plt.close(fig)
    """
    series = {"loss": history.loss, "lr": history.lr, **history.valid}
    if key not in series:
        raise KeyError(f"the run has no {key!r}; it has: {', '.join(series)}")
    values = series[key]
    plot_kwargs.setdefault("marker", "o")
    plot_kwargs.setdefault("markersize", 3)
    lines = ax.plot(np.arange(1, len(values) + 1), values, label=label, **plot_kwargs)
    if logy:
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=ylabel or key)
    if title is not None:
        ax.set_title(title)
    return lines

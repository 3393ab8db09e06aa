"""lessons_lib.models.frontend: LogMel, the torch front end, against Chapter 1's NumPy path.

The reference is ``spectral.power_to_db(mel.melspectrogram(...))`` on each item alone (itself proven equal
to librosa in tests/test_mel.py and tests/test_spectral.py), in float64 at rtol 1e-10 / atol 1e-9 dB, for
settings that cover center True/False, both pad modes, power 1, 1.5 and 2, HTK and Slaney scales, every
norm, fmin/fmax, win_length < n_fft, odd n_fft, ref constant and "max", top_db on and off; on random
and on real FSDD waveforms. Then: a zero-padded batch with lengths equals its items one by one; float32
agrees to 1e-3 dB; gradcheck in float64; buffers follow dtype and device and stay out of the state dict;
autocast does not lower the precision; edge cases (shorter than n_fft, one sample, silence); the frame
count equals the NumPy STFT's; one direct check against librosa; bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lessons_lib import mel, spectral
from lessons_lib.models.frontend import LogMel

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # small tensors: no thread contention on a loaded CI machine

RTOL, ATOL_DB = 1e-10, 1e-9  # float64
ATOL_DB_32 = 1e-3  # float32 against the NumPy path (measured worst on FSDD speech: 1.5e-4 dB)
DB_ARGS = ("ref", "amin", "top_db")

SETTINGS = {
    "speech": dict(sr=8000, n_fft=256, hop_length=80, win_length=200, n_mels=26, fmin=20.0),
    "no-center-magnitude-htk": dict(sr=8000, n_fft=256, hop_length=64, center=False, power=1.0, htk=True,
                                    norm=None, fmin=100.0, fmax=3000.0, n_mels=20),
    "reflect-hamming-l2-max": dict(sr=16000, n_fft=512, hop_length=160, pad_mode="reflect", window="hamming",
                                   norm=2.0, n_mels=40, ref="max", top_db=40.0),
    "odd-nfft-power1.5": dict(sr=8000, n_fft=201, hop_length=50, win_length=151, power=1.5, n_mels=30,
                              top_db=None, ref=0.5, amin=1e-6),
    "odd-nfft-no-center-linf": dict(sr=8000, n_fft=255, hop_length=100, center=False, norm=np.inf, n_mels=16,
                                    fmax=3500.0, ref="max", top_db=None),
    "array-window-rect": dict(sr=11025, n_fft=128, hop_length=32, window=np.kaiser(96, 8.0), win_length=96,
                              n_mels=24, norm=1.0, top_db=60.0, amin=1e-8),
    "librosa-defaults": dict(),
}


def chapter_1(y: np.ndarray, settings: dict) -> np.ndarray:
    """The NumPy path of notebook 01b, with ``ref="max"`` spelled ``ref=np.max``."""
    mel_args = {k: v for k, v in settings.items() if k not in DB_ARGS}
    db_args = {k: v for k, v in settings.items() if k in DB_ARGS}
    if db_args.get("ref") == "max":
        db_args["ref"] = np.max
    return spectral.power_to_db(mel.melspectrogram(y=y, **mel_args), **db_args)


def assert_db_close(ours: torch.Tensor, reference: np.ndarray, atol=ATOL_DB, rtol=RTOL) -> None:
    ours = ours.detach().numpy()
    assert ours.shape == reference.shape and ours.dtype == reference.dtype
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol)


def random_waveform(n: int, seed: int, dtype=np.float64) -> np.ndarray:
    return (0.1 * np.random.default_rng(seed).standard_normal(n)).astype(dtype)


# --------------------------------------------------------------------------- equal to Chapter 1


@pytest.mark.parametrize("name", SETTINGS)
def test_equals_chapter_1_on_random_waveforms(name):
    settings = SETTINGS[name]
    logmel = LogMel(**settings)
    for seed, n in enumerate([4001, 2 * logmel.n_fft + 3]):
        y = random_waveform(n, seed)
        assert_db_close(logmel(torch.from_numpy(y)), chapter_1(y, settings))


@pytest.mark.parametrize("name", ["speech", "reflect-hamming-l2-max"])
def test_mel_power_before_decibels_equals_melspectrogram(name):
    settings = {k: v for k, v in SETTINGS[name].items() if k not in DB_ARGS}
    y = random_waveform(3000, 7)
    S = LogMel(**settings).melspectrogram(torch.from_numpy(y))
    reference = mel.melspectrogram(y=y, **settings)
    np.testing.assert_allclose(S.numpy(), reference, rtol=RTOL, atol=1e-12 * reference.max())


def test_equals_chapter_1_on_real_speech_in_float64_and_float32(real_fsdd):
    settings = dict(sr=real_fsdd.sample_rate, n_fft=256, hop_length=80, win_length=200, n_mels=40, fmin=20.0,
                    ref="max")
    logmel = LogMel(**settings)
    picks = np.random.default_rng(0).choice(len(real_fsdd), 8, replace=False)
    recordings = [real_fsdd.waveforms[i] for i in picks]  # float32, lengths differ
    lengths = [len(y) for y in recordings]
    batch = torch.zeros(len(recordings), max(lengths), dtype=torch.float64)
    for row, y in zip(batch, recordings):
        row[: len(y)] = torch.from_numpy(y)
    S_db = logmel(batch, lengths)
    S_db_32 = logmel(batch.float(), lengths)
    for item, item_32, y, frames in zip(S_db, S_db_32, recordings, logmel.n_frames(lengths)):
        assert_db_close(item[:, :frames], chapter_1(y.astype(np.float64), settings))
        assert_db_close(item_32[:, :frames], chapter_1(y, settings), atol=ATOL_DB_32, rtol=0)


def test_float32_agrees_with_the_numpy_path():
    settings = SETTINGS["speech"]
    y = random_waveform(8000, 3, np.float32)
    S_db = LogMel(**settings)(torch.from_numpy(y))
    assert S_db.dtype == torch.float32
    assert_db_close(S_db, chapter_1(y, settings), atol=ATOL_DB_32, rtol=0)


def test_equals_librosa_with_its_defaults():
    librosa = pytest.importorskip("librosa")
    y = random_waveform(22050, 11)
    expected = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=22050), ref=np.max)
    assert_db_close(LogMel(sr=22050, ref="max")(torch.from_numpy(y)), expected)
    y8 = random_waveform(8000, 12)
    speech = dict(sr=8000, n_fft=256, hop_length=80, win_length=200, n_mels=40, fmin=20.0)
    expected = librosa.power_to_db(librosa.feature.melspectrogram(y=y8, **speech), top_db=None)
    assert_db_close(LogMel(**speech, top_db=None)(torch.from_numpy(y8)), expected)


# --------------------------------------------------------------------------- a batch


@pytest.mark.parametrize("db", [dict(ref=1.0, top_db=80.0), dict(ref="max", top_db=30.0), dict(ref=2.0, top_db=None)])
def test_padded_batch_with_lengths_equals_items_one_by_one(db):
    logmel = LogMel(sr=8000, n_fft=256, hop_length=80, win_length=200, n_mels=26, **db)
    lengths = [3000, 1, 257, 80, 2999]
    items = [random_waveform(n, seed) * (10.0 ** seed) for seed, n in enumerate(lengths)]  # scales differ
    batch = torch.zeros(len(items), max(lengths), dtype=torch.float64)
    for row, y in zip(batch, items):
        row[: len(y)] = torch.from_numpy(y)
    S_db = logmel(batch, lengths=torch.tensor(lengths))
    frames = logmel.n_frames(torch.tensor(lengths))
    assert S_db.shape == (len(items), 26, logmel.n_frames(max(lengths)))
    for item, y, m in zip(S_db, items, frames):
        alone = logmel(torch.from_numpy(y))
        assert alone.shape[-1] == m
        torch.testing.assert_close(item[:, :m], alone, rtol=RTOL, atol=ATOL_DB)


def test_ref_max_and_top_db_act_per_item_not_across_the_batch():
    y = torch.from_numpy(random_waveform(2000, 5))
    batch = torch.stack([y, 1e-3 * y, 1e3 * y])
    # per item: a louder copy has the same dB relative to its own peak
    S_db = LogMel(sr=8000, n_fft=256, hop_length=80, ref="max", top_db=50.0, amin=1e-30)(batch)
    torch.testing.assert_close(S_db[1], S_db[0], rtol=0, atol=1e-9)
    torch.testing.assert_close(S_db[2], S_db[0], rtol=0, atol=1e-9)
    # with a constant ref the items are 60 dB apart, and each keeps its own 20 dB below its own peak
    S_db = LogMel(sr=8000, n_fft=256, hop_length=80, ref=1.0, top_db=20.0, amin=1e-30)(batch)
    torch.testing.assert_close(S_db[1], S_db[0] - 60.0, rtol=0, atol=1e-9)
    for item in S_db:
        assert float(item.max() - item.min()) == pytest.approx(20.0, abs=1e-9)


def test_batch_without_padding_equals_items_for_reflect_padding():
    logmel = LogMel(**SETTINGS["reflect-hamming-l2-max"])
    batch = torch.from_numpy(np.stack([random_waveform(3000, s) for s in range(3)]))
    S_db = logmel(batch)
    for item, y in zip(S_db, batch):
        torch.testing.assert_close(item, logmel(y), rtol=RTOL, atol=ATOL_DB)


# --------------------------------------------------------------------------- gradients, dtype, device


@pytest.mark.parametrize("settings", [dict(power=2.0, ref=1.0, top_db=None),
                                      dict(power=1.0, ref="max", top_db=200.0, center=False),
                                      dict(power=2.0, ref=0.1, top_db=None, pad_mode="reflect", win_length=24)])
def test_gradcheck(settings):
    # amin far below every mel power of the noise: the floor is never active and log10 is smooth there
    logmel = LogMel(sr=8000, n_fft=32, hop_length=8, n_mels=6, amin=1e-20, **settings)
    y = torch.randn(2, 72, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    assert float(logmel.melspectrogram(y.detach()).min()) > 1e-10
    assert torch.autograd.gradcheck(logmel, (y,), eps=1e-6, atol=1e-7, rtol=1e-6)


def test_buffers_follow_dtype_and_device_and_stay_out_of_the_state_dict():
    logmel = LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8)
    assert logmel.window.dtype == logmel.filterbank.dtype == torch.float64
    assert logmel.state_dict() == {} and list(logmel.parameters()) == []
    np.testing.assert_array_equal(logmel.window.numpy(), spectral.get_window("hann", 64))
    np.testing.assert_array_equal(logmel.filterbank.numpy(),
                                  mel.mel_filterbank(sr=8000, n_fft=64, n_mels=8).astype(np.float64))
    assert logmel.float().window.dtype == logmel.filterbank.dtype == torch.float32
    assert logmel.to(torch.float64).window.dtype == logmel.filterbank.dtype == torch.float64
    on_meta = LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8).to("meta")
    assert on_meta.window.device.type == on_meta.filterbank.device.type == "meta"
    logmel.load_state_dict({})  # a checkpoint of a model holding a LogMel carries nothing of it


def test_output_dtype_is_the_input_dtype_whatever_the_module_dtype():
    y = random_waveform(1000, 2)
    expected = chapter_1(y, dict(sr=8000, n_fft=64, hop_length=16, n_mels=8))
    logmel = LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8).float()
    assert logmel(torch.from_numpy(y.astype(np.float32))).dtype == torch.float32
    S_db = logmel(torch.from_numpy(y))
    assert S_db.dtype == torch.float64  # computed in float64 with the float32-rounded window
    assert_db_close(S_db, expected, atol=1e-4, rtol=0)
    assert_db_close(logmel.double()(torch.from_numpy(y)), expected, atol=1e-4, rtol=0)


def test_autocast_does_not_lower_the_precision():
    logmel = LogMel(sr=8000, n_fft=256, hop_length=80, n_mels=26)
    y = torch.from_numpy(random_waveform(2000, 4, np.float32))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        inside = logmel(y)
    assert inside.dtype == torch.float32
    torch.testing.assert_close(inside, logmel(y), rtol=0, atol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_on_cuda_equals_chapter_1():
    settings = SETTINGS["reflect-hamming-l2-max"]
    y = random_waveform(4000, 9)
    S_db = LogMel(**settings).to("cuda")(torch.from_numpy(y).to("cuda"))
    assert S_db.device.type == "cuda"
    assert_db_close(S_db.cpu(), chapter_1(y, settings))


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("n_fft", [64, 63])
@pytest.mark.parametrize("n", [1, 2, 40])
def test_shorter_than_n_fft_with_center(n, n_fft, pad_mode):
    settings = dict(sr=8000, n_fft=n_fft, hop_length=16, n_mels=8, pad_mode=pad_mode)
    y = random_waveform(n, n)
    assert_db_close(LogMel(**settings)(torch.from_numpy(y)), chapter_1(y, settings))


def test_exactly_one_frame_without_center():
    settings = dict(sr=8000, n_fft=64, hop_length=16, n_mels=8, center=False)
    y = random_waveform(64, 0)
    S_db = LogMel(**settings)(torch.from_numpy(y))
    assert S_db.shape == (8, 1)
    assert_db_close(S_db, chapter_1(y, settings))


@pytest.mark.parametrize("db", [dict(ref=1.0, top_db=80.0), dict(ref="max", top_db=80.0),
                                dict(ref=1.0, amin=1e-5, top_db=None)])
def test_silence_hits_the_floor_as_numpy_does(db):
    settings = dict(sr=8000, n_fft=64, hop_length=16, n_mels=8, **db)
    y = np.zeros(500)
    S_db = LogMel(**settings)(torch.zeros(2, 500, dtype=torch.float64))
    expected = chapter_1(y, settings)  # -100 dB (amin 1e-10), 0 dB (ref max of zeros), -50 dB (amin 1e-5)
    assert np.unique(expected).size == 1
    for item in S_db:
        assert_db_close(item, expected)


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize("n_fft, hop_length", [(64, 16), (63, 10), (200, 80)])
def test_n_frames_equals_the_stft_frame_count(center, n_fft, hop_length):
    logmel = LogMel(sr=8000, n_fft=n_fft, hop_length=hop_length, n_mels=8, center=center)
    lengths = np.arange(1 if center else n_fft, 700, 7)
    expected = [spectral.stft(np.zeros(n), n_fft=n_fft, hop_length=hop_length, center=center).shape[1]
                for n in lengths]
    assert logmel.n_frames(torch.from_numpy(lengths)).tolist() == expected
    assert logmel.n_frames(lengths.tolist()).tolist() == expected
    assert [logmel.n_frames(int(n)) for n in lengths] == expected
    assert logmel(torch.zeros(int(lengths[-1]))).shape[-1] == expected[-1]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(n_fft=0), ValueError, "n_fft"),
    (dict(n_fft=256.0), TypeError, "n_fft"),
    (dict(hop_length=0), ValueError, "hop_length"),
    (dict(win_length=300, n_fft=256), ValueError, "win_length"),
    (dict(sr=0), ValueError, "sr"),
    (dict(sr=8000, fmax=4001.0), ValueError, "fmax"),
    (dict(fmin=-1.0), ValueError, "fmin"),
    (dict(n_mels=0), ValueError, "n_mels"),
    (dict(power=0.0), ValueError, "power"),
    (dict(amin=0.0), ValueError, "amin"),
    (dict(top_db=-1.0), ValueError, "top_db"),
    (dict(ref="min"), ValueError, "ref"),
    (dict(ref=0.0), ValueError, "ref"),
    (dict(pad_mode="wrap"), ValueError, "pad_mode"),
    (dict(window="triangle"), ValueError, "window"),
    (dict(norm="l2"), ValueError, "norm"),
    (dict(center="yes"), TypeError, "center"),
    (dict(htk=1), TypeError, "htk"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        LogMel(**{"sr": 8000, "n_fft": 256, "hop_length": 80, "n_mels": 26, **kwargs})


@pytest.mark.parametrize("y, error, match", [
    (np.zeros(100), TypeError, "torch.Tensor"),
    (torch.zeros(100, dtype=torch.int16), TypeError, "pcm_to_float"),
    (torch.zeros(100, dtype=torch.complex64), TypeError, "float32 or float64"),
    (torch.zeros(100, dtype=torch.float16), TypeError, "float32 or float64"),
    (torch.zeros(2, 3, 100), ValueError, "shape"),
    (torch.zeros(()), ValueError, "shape"),
    (torch.zeros(2, 0), ValueError, "empty"),
    (torch.tensor([0.0, float("nan"), 0.0]), ValueError, "NaN"),
    (torch.tensor([0.0, float("inf")]), ValueError, "infinite"),
])
def test_bad_waveforms_are_refused(y, error, match):
    with pytest.raises(error, match=match):
        LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8)(y)


def test_short_waveform_without_center_is_refused():
    with pytest.raises(ValueError, match="n_fft=64"):
        LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8, center=False)(torch.zeros(63))


@pytest.mark.parametrize("lengths, error, match", [
    ([10, 0], ValueError, ">= 1"),
    ([10, 101], ValueError, "at most n_samples"),
    ([10], ValueError, "one entry per item"),
    ([[10, 20]], ValueError, "1-D"),
    ([10.0, 20.0], TypeError, "integers"),
    (torch.tensor([10.0, 20.0]), TypeError, "integers"),
    ("10", TypeError, "lengths"),
])
def test_bad_lengths_are_refused(lengths, error, match):
    with pytest.raises(error, match=match):
        LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8)(torch.zeros(2, 100), lengths)


def test_lengths_need_a_batch_and_n_frames_checks_lengths():
    logmel = LogMel(sr=8000, n_fft=64, hop_length=16, n_mels=8, center=False)
    with pytest.raises(ValueError, match="2-D"):
        logmel(torch.zeros(100), [100])
    with pytest.raises(ValueError, match="n_fft"):
        logmel.n_frames(63)
    with pytest.raises(TypeError, match="lengths"):
        logmel.n_frames(100.0)

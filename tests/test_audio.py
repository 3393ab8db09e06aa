"""lessons_lib.audio against soundfile and librosa."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import librosa
from hypothesis import given, settings, strategies as st

from lessons_lib.audio import load_audio, pcm_to_float, resample, save_audio

RATES = [(8000, 16000), (16000, 8000), (44100, 22050), (8000, 11025), (22050, 16000), (48000, 8000)]


@pytest.mark.parametrize("subtype, dtype", [("PCM_16", np.int16), ("PCM_32", np.int32)])
def test_pcm_to_float_equals_soundfile(tmp_path, subtype, dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    q = rng.integers(info.min, info.max, size=2000, endpoint=True, dtype=dtype)
    q[:2] = [info.min, info.max]
    path = tmp_path / "x.wav"
    sf.write(path, q, 8000, subtype=subtype)
    raw, _ = sf.read(path, dtype=np.dtype(dtype).name)
    np.testing.assert_array_equal(raw, q)
    reference, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(pcm_to_float(raw), reference)


def test_pcm_to_float_unsigned_8_bit_equals_soundfile(tmp_path):
    q = np.arange(256, dtype=np.uint8)
    path = tmp_path / "u8.wav"
    # WAV stores 8-bit audio unsigned; libsndfile maps int16 (q - 128) * 256 onto it exactly.
    sf.write(path, (q.astype(np.int16) - 128) * 256, 8000, subtype="PCM_U8")
    reference, _ = sf.read(path, dtype="float32")
    np.testing.assert_array_equal(pcm_to_float(q), reference)


def test_pcm_to_float_signed_8_bit_range():
    q = np.array([-128, -1, 0, 127], dtype=np.int8)
    np.testing.assert_array_equal(pcm_to_float(q), np.array([-1, -1 / 128, 0, 127 / 128], np.float32))


@pytest.mark.parametrize("bad", [np.zeros(3), np.zeros(3, np.int64), [1, 2, 3]])
def test_pcm_to_float_rejects_non_pcm(bad):
    with pytest.raises(TypeError, match="q must"):
        pcm_to_float(bad)


@pytest.mark.parametrize("orig_sr, target_sr", RATES)
@pytest.mark.parametrize("n", [1, 7, 1000, 8191])
def test_resample_equals_librosa_polyphase(orig_sr, target_sr, n):
    rng = np.random.default_rng(n)
    y = rng.standard_normal(n).astype(np.float32) * 0.3
    ours = resample(y, orig_sr, target_sr)
    reference = librosa.resample(y, orig_sr=orig_sr, target_sr=target_sr, res_type="polyphase")
    assert ours.shape == reference.shape and ours.dtype == reference.dtype
    np.testing.assert_allclose(ours, reference, rtol=1e-6, atol=1e-7)


def test_resample_same_rate_is_identity():
    y = np.linspace(-1, 1, 11)
    assert resample(y, 8000, 8000) is y


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 3000), orig=st.integers(1000, 48000), target=st.integers(1000, 48000))
def test_resample_length_is_exact_ceiling(n, orig, target):
    out = resample(np.zeros(n), orig, target)
    assert out.shape == (-(-n * target // orig),)


def test_resample_keeps_a_tone_below_nyquist():
    sr, f = 16000, 440.0
    t = np.arange(sr) / sr
    y = np.sin(2 * np.pi * f * t)
    down = resample(y, sr, 8000)
    t8 = np.arange(down.size) / 8000
    # away from the edges the filter passes a 440 Hz tone unchanged
    np.testing.assert_allclose(down[400:-400], np.sin(2 * np.pi * f * t8)[400:-400], atol=2e-3)


@pytest.mark.parametrize(
    "args, error, message",
    [
        ((np.zeros((2, 5)), 8000, 16000), ValueError, "y must be 1-D"),
        ((np.zeros(5, np.int16), 8000, 16000), TypeError, "pcm_to_float"),
        (([0.0, 1.0], 8000, 16000), TypeError, "y must be a numpy array"),
        ((np.array([0.0, np.nan]), 8000, 16000), ValueError, "NaN or infinite"),
        ((np.zeros(5), 0, 16000), ValueError, "orig_sr must be a positive int"),
        ((np.zeros(5), 8000, 16000.0), TypeError, "target_sr must be a positive int"),
        ((np.zeros(5), True, 16000), TypeError, "orig_sr must be a positive int"),
    ],
)
def test_resample_bad_input(args, error, message):
    with pytest.raises(error, match=message):
        resample(*args)


def test_load_audio_equals_librosa(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "x.wav"
    sf.write(path, rng.integers(-32768, 32768, 5000, dtype=np.int16), 8000)
    y, sr = load_audio(path)
    reference, ref_sr = librosa.load(path, sr=None)
    assert sr == ref_sr == 8000
    np.testing.assert_array_equal(y, reference)
    y16, sr16 = load_audio(path, sr=16000)
    reference16, _ = librosa.load(path, sr=16000, res_type="polyphase")
    assert sr16 == 16000
    np.testing.assert_allclose(y16, reference16, rtol=1e-6, atol=1e-7)


def test_load_audio_stereo_like_librosa(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "stereo.wav"
    sf.write(path, rng.uniform(-0.9, 0.9, (3000, 2)), 16000, subtype="PCM_16")
    mono, _ = load_audio(path)
    np.testing.assert_allclose(mono, librosa.load(path, sr=None, mono=True)[0], rtol=1e-6, atol=1e-7)
    both, _ = load_audio(path, mono=False)
    reference, _ = librosa.load(path, sr=None, mono=False)
    assert both.shape == reference.shape == (2, 3000)
    np.testing.assert_array_equal(both, reference)
    both8, sr8 = load_audio(path, sr=8000, mono=False)
    assert sr8 == 8000 and both8.shape == (2, 1500)
    np.testing.assert_allclose(both8[1], resample(reference[1], 16000, 8000), rtol=1e-6, atol=1e-7)


def test_save_then_load_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    y = rng.uniform(-0.99, 0.99, 1234).astype(np.float32)
    save_audio(tmp_path / "f.wav", y, 22050, subtype="FLOAT")
    back, sr = load_audio(tmp_path / "f.wav")
    assert sr == 22050
    np.testing.assert_array_equal(back, y)
    save_audio(tmp_path / "p.wav", y, 22050)  # 16-bit: off by at most one quantization step
    back16, _ = load_audio(tmp_path / "p.wav")
    np.testing.assert_allclose(back16, y, atol=1.0 / 32768 + 1e-7)


def test_load_audio_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no audio file at"):
        load_audio(tmp_path / "missing.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ValueError, match="could not decode"):
        load_audio(tmp_path / "text.wav")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_audio(3)
    sf.write(tmp_path / "ok.wav", np.zeros(10, np.int16), 8000)
    with pytest.raises(ValueError, match="sr must be a positive int"):
        load_audio(tmp_path / "ok.wav", sr=-1)


def test_save_audio_errors(tmp_path):
    with pytest.raises(ValueError, match="y must be 1-D"):
        save_audio(tmp_path / "x.wav", np.zeros((2, 2)), 8000)
    with pytest.raises(ValueError, match="sr must be a positive int"):
        save_audio(tmp_path / "x.wav", np.zeros(4), 0)


def test_wav_is_read_without_soundfile(tmp_path, monkeypatch):
    """On a machine without soundfile (a bare GPU machine), 16-bit WAV files read to the same samples."""
    import sys

    import soundfile as sf

    rng = np.random.default_rng(0)
    mono = rng.integers(-32768, 32768, size=1001).astype(np.int16)
    stereo = rng.integers(-32768, 32768, size=(501, 2)).astype(np.int16)
    sf.write(tmp_path / "mono.wav", mono, 8000, subtype="PCM_16")
    sf.write(tmp_path / "stereo.wav", stereo, 16000, subtype="PCM_16")
    expected = {(name, m): load_audio(tmp_path / name, mono=m) for name in ("mono.wav", "stereo.wav")
                for m in (True, False)}
    sf.write(tmp_path / "float.wav", rng.uniform(-1, 1, 100), 8000, subtype="FLOAT")
    monkeypatch.setitem(sys.modules, "soundfile", None)  # import soundfile now raises ImportError
    for (name, m), (y, sr) in expected.items():
        y2, sr2 = load_audio(tmp_path / name, mono=m)
        assert sr2 == sr and y2.dtype == np.float32
        np.testing.assert_array_equal(y2, y)
    with pytest.raises(ValueError, match="could not decode"):  # a float WAV: only 16-bit PCM without soundfile
        load_audio(tmp_path / "float.wav")

"""lessons_lib.voices: the unseen-voice digits synthesised by espeak-ng, and the trimming they need.

trim_silence is checked against librosa.effects.trim (same rule: energy relative to the loudest window; with a
hop of one sample, librosa's centred windows are ours moved by half a window) and against its definition.
espeak_digits is checked on what the chapter relies on: the requested voices x 10 digits, 8 kHz, float32 in
[-1, 1) at the documented peak, non-silent, plausible durations (0.2-1.5 s), trimmed (first and last 10 ms within
top_db of the loudest 10 ms, where the untrimmed synthesis starts and ends in silence), deterministic, cached
without sharing arrays, every voice different from every other, FSDD's order and labels; variants, speeds and
pitch; bad input and a missing espeak-ng named clearly.

espeak-ng is a system program (scripts/install_espeak.sh installs it). Without it these tests skip on a reader's
machine and fail in CI, where the set-up installs it.
"""

from __future__ import annotations

import itertools
import os

import librosa
import numpy as np
import pytest

from lessons_lib import voices
from lessons_lib.data import FSDD
from lessons_lib.voices import DEFAULT_VOICES, DIGIT_WORDS, EspeakNotFoundError, espeak_digits, trim_silence

SR = 8000
TEN_MS = SR // 100
TOP_DB = 35.0


@pytest.fixture(scope="module")
def espeak() -> str:
    try:
        return voices.espeak_path()
    except EspeakNotFoundError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have espeak-ng (run scripts/install_espeak.sh in the set-up): {err}")
        pytest.skip(f"espeak-ng is not installed here: {err}")


@pytest.fixture(scope="module")
def digits(espeak) -> FSDD:
    return espeak_digits(cache=False)


def db_below_peak(y: np.ndarray, window: np.ndarray) -> float:
    """Energy of ``window`` in dB relative to the loudest 10-ms window of ``y`` (sliding by one sample)."""
    y = y.astype(np.float64)
    frames = np.lib.stride_tricks.sliding_window_view(y, TEN_MS)
    peak = np.max(np.sum(frames ** 2, axis=1))
    with np.errstate(divide="ignore"):  # a silent window is -inf dB
        return 10 * np.log10(np.sum(window.astype(np.float64) ** 2) / peak)


# --------------------------------------------------------------------------- trim_silence (no espeak needed)


def burst(seed: int, n_before: int, n_word: int, n_after: int) -> np.ndarray:
    """Silence, a noise burst with a rising and falling envelope, silence."""
    rng = np.random.default_rng(seed)
    envelope = np.sin(np.linspace(0, np.pi, n_word)) ** 3
    return np.concatenate([np.zeros(n_before), envelope * rng.standard_normal(n_word), np.zeros(n_after)])


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("top_db", [20.0, 35.0, 60.0])
def test_trim_silence_equals_librosa_with_a_one_sample_hop(seed, top_db):
    y = burst(seed, 300 + 37 * seed, 2000 + 101 * seed, 400)
    ours, (start, end) = trim_silence(y, SR, top_db=top_db)
    reference, (ref_start, ref_end) = librosa.effects.trim(y, top_db=top_db, frame_length=TEN_MS, hop_length=1)
    # librosa's window k is centred on sample k: ours starting at k - L/2.
    assert (ref_start, ref_end) == (start + TEN_MS // 2, end - TEN_MS // 2 + 1)
    np.testing.assert_array_equal(ours, y[start:end])


@pytest.mark.parametrize("seed", range(5))
def test_trim_silence_keeps_exactly_the_loud_windows(seed):
    y = burst(seed, 500, 3000, 800) + 1e-6 * np.random.default_rng(seed).standard_normal(4300)
    ours, (start, end) = trim_silence(y, SR, top_db=TOP_DB)
    assert np.shares_memory(ours, y) and len(ours) == end - start
    assert db_below_peak(y, y[start:start + TEN_MS]) >= -TOP_DB - 1e-9
    assert db_below_peak(y, y[end - TEN_MS:end]) >= -TOP_DB - 1e-9
    assert db_below_peak(y, y[start - 1:start - 1 + TEN_MS]) < -TOP_DB  # one sample earlier is quiet
    assert db_below_peak(y, y[end - TEN_MS + 1:end + 1]) < -TOP_DB  # and one sample later


def test_trim_silence_edge_cases():
    y = np.ones(50)  # shorter than a window: kept whole
    out, index = trim_silence(y, SR)
    assert out is y and index.tolist() == [0, 50]
    loud = np.ones(1000, dtype=np.float32)  # loud everywhere: nothing cut, dtype kept
    out, index = trim_silence(loud, SR)
    assert index.tolist() == [0, 1000] and out.dtype == np.float32


@pytest.mark.parametrize("call, error, match", [
    (lambda: trim_silence(np.zeros(100), SR), ValueError, "y is silent"),
    (lambda: trim_silence(np.ones((2, 100)), SR), ValueError, "y must be 1-D"),
    (lambda: trim_silence(np.ones(100, dtype=np.int16), SR), TypeError, "y has integer"),
    (lambda: trim_silence(np.ones(100), 0), ValueError, "sr"),
    (lambda: trim_silence(np.ones(100), SR, top_db=0), ValueError, "top_db"),
    (lambda: trim_silence(np.ones(100), SR, frame_ms=-1.0), ValueError, "frame_ms"),
])
def test_trim_silence_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(voices.shutil, "which", lambda name: None)
    with pytest.raises(EspeakNotFoundError, match="install_espeak.sh"):
        espeak_digits()
    assert issubclass(EspeakNotFoundError, RuntimeError)


# --------------------------------------------------------------------------- the synthesised set


def test_the_set_has_every_voice_saying_every_digit(digits):
    assert isinstance(digits, FSDD) and digits.sample_rate == SR
    assert len(DEFAULT_VOICES) >= 10 and len(digits) == len(DEFAULT_VOICES) * 10
    # FSDD's order: digit, then speaker (in the order given), then take
    expected = [(d, v) for d in range(10) for v in DEFAULT_VOICES]
    assert list(zip(digits.digits.tolist(), digits.speakers.tolist())) == expected
    assert digits.digits.dtype == np.int64 and digits.takes.dtype == np.int64 and np.all(digits.takes == 0)
    assert [p.name for p in digits.paths] == [f"{d}_{v}_0.wav" for d, v in expected]
    assert digits.index(7, "en-us+m3") == 7 * len(DEFAULT_VOICES) + DEFAULT_VOICES.index("en-us+m3")


def test_recordings_look_like_fsdd(digits):
    for y in digits.waveforms:
        assert y.dtype == np.float32 and y.ndim == 1
        assert -1.0 <= y.min() and y.max() < 1.0
        np.testing.assert_allclose(np.abs(y).max(), 0.3, rtol=1e-6)  # the documented peak level
        assert np.sqrt(np.mean(y.astype(np.float64) ** 2)) > 0.01  # not silent
        assert 0.2 <= len(y) / SR <= 1.5
        assert db_below_peak(y, y[:TEN_MS]) >= -TOP_DB - 0.01, "starts with silence: not trimmed"
        assert db_below_peak(y, y[-TEN_MS:]) >= -TOP_DB - 0.01, "ends with silence: not trimmed"


def test_untrimmed_synthesis_has_silence_that_trimming_removes(espeak):
    raw = espeak_digits(["en-us", "en-029+m6"], top_db=None, cache=False)
    trimmed = espeak_digits(["en-us", "en-029+m6"], cache=False)
    for y, t in zip(raw.waveforms, trimmed.waveforms):
        assert db_below_peak(y, y[-TEN_MS:]) < -TOP_DB  # espeak-ng's ~300 ms of trailing silence
        kept, (start, end) = trim_silence(y, SR, top_db=TOP_DB)
        assert len(t) == end - start < len(y)
        np.testing.assert_allclose(t, kept * (0.3 / np.abs(kept).max()), rtol=1e-5, atol=1e-7)


def test_deterministic_and_cached_without_sharing_arrays(digits):
    again = espeak_digits(cache=False)
    assert all(np.array_equal(a, b) for a, b in zip(digits.waveforms, again.waveforms))
    first, second = espeak_digits(), espeak_digits()  # the second comes from the cache
    assert all(np.array_equal(a, b) and a is not b for a, b in zip(first.waveforms, second.waveforms))
    first.waveforms[0][:] = 0.0  # a caller's change does not reach the cache
    assert np.array_equal(espeak_digits().waveforms[0], digits.waveforms[0])


def test_different_voices_differ(digits):
    for d in range(10):
        items = [digits.waveforms[digits.index(d, v)] for v in DEFAULT_VOICES]
        for a, b in itertools.combinations(items, 2):
            assert len(a) != len(b) or not np.allclose(a, b, atol=1e-3)


def test_a_variant_espeak_ignores_is_refused(espeak):
    with pytest.raises(ValueError, match="identical recordings"):
        espeak_digits(["en-gb", "en-gb+f4"], words=("one",))


def test_variants_speeds_and_pitch(espeak):
    both = espeak_digits(["en-us"], variants=["m1", "f2"], words=("one", "seven"), speed=(130, 260))
    assert sorted(set(both.speakers.tolist())) == ["en-us+f2", "en-us+m1"]
    assert both.digits.tolist() == [0] * 4 + [1] * 4 and both.takes.tolist() == [0, 1] * 4
    for d, v in itertools.product((0, 1), ("en-us+m1", "en-us+f2")):
        slow, fast = both.waveforms[both.index(d, v, 0)], both.waveforms[both.index(d, v, 1)]
        assert len(fast) < 0.8 * len(slow), "260 words per minute is faster than 130"
    low, high = (espeak_digits(["en-us"], words=("nine",), pitch=p).waveforms[0] for p in (10, 90))
    assert len(low) != len(high) or not np.allclose(low, high, atol=1e-3)
    defaults = espeak_digits(variants=["m3"], words=("two",))
    assert len(set(defaults.speakers.tolist())) == len({v.split("+")[0] for v in DEFAULT_VOICES})


def test_version(espeak):
    assert voices.espeak_version()[0].isdigit()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(voices=["en-xx"]), ValueError, "no voice 'en-xx'"),
    (dict(voices=["en-us+m99"]), ValueError, "no variant 'm99'"),
    (dict(voices=["en-us", "en-us"]), ValueError, "distinct"),
    (dict(voices=[]), ValueError, "voices is empty"),
    (dict(voices="en-us"), TypeError, "voices must be a sequence"),
    (dict(voices=[1]), TypeError, "voices must hold str"),
    (dict(voices=["en-us+m1"], variants=["f2"]), ValueError, "variant of their own"),
    (dict(words=("one", "-v")), ValueError, "words"),
    (dict(words=("",)), ValueError, "words"),
    (dict(speed=20), ValueError, "speed"),
    (dict(speed=[150, 1.5]), TypeError, "speed"),
    (dict(speed="fast"), TypeError, "speed"),
    (dict(pitch=100), ValueError, "pitch"),
    (dict(peak=1.0), ValueError, "peak"),
    (dict(top_db=-3.0), ValueError, "top_db"),
    (dict(sr=0), ValueError, "sr"),
    (dict(cache="yes"), TypeError, "cache"),
])
def test_bad_arguments_are_named(espeak, kwargs, error, match):
    with pytest.raises(error, match=match):
        espeak_digits(**kwargs)

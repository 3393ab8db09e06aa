r"""Unseen voices: the ten digits spoken by the espeak-ng synthesiser, made on this machine when asked for.

FSDD's official split tests on the same six speakers it trains on, and a CNN
reaches about 99% there: the test says little about a voice the network has
never heard. Leave-one-speaker-out (:func:`lessons_lib.data.leave_one_speaker_out`)
is one answer; this module is another: :func:`espeak_digits` has the open-source
formant synthesiser espeak-ng say "zero" ... "nine" in a dozen voices (accents
of English and voice variants) and returns them as a
:class:`lessons_lib.data.FSDD`, so the features, models and evaluation code
written for FSDD apply unchanged. Each "speaker" is one espeak-ng voice, e.g.
``"en-gb-scotland+m4"`` (Scottish English, variant male 4).

Nothing is downloaded and nothing is stored: the recordings are synthesised
into a temporary folder, read, and the folder is deleted; within one Python
process the result is cached in memory (``cache=True``). The set depends on
the espeak-ng version installed (Debian 12 and Ubuntu 24.04 ship 1.51), which
:func:`espeak_version` reports so a notebook can record it beside its results.

How a recording is made to look like FSDD's
-------------------------------------------
1. **Synthesis.** ``espeak-ng -v <voice> -w <file>.wav <word>`` (22,050 Hz,
   16-bit), with ``-s <speed>`` (words per minute) and ``-p <pitch>`` (0-99)
   when given.
2. **Rate.** Resampled to FSDD's 8,000 Hz with :func:`lessons_lib.audio.resample`
   (a polyphase low-pass filter: nothing above 4 kHz survives, as in FSDD).
3. **Trimming.** espeak-ng pads a word with about 10 ms of silence before
   and 300 ms after it. FSDD's recordings are cut closely around the word
   (measured over its 3,000 files: the first 10 ms lie a median 24 dB, the
   last 10 ms 29 dB, below the loudest 10 ms). :func:`trim_silence` cuts
   every sample before the first and after the last 10-ms window whose
   energy is within ``top_db`` = 35 dB of the loudest window's.
4. **Level.** FSDD is not normalised: its peaks range from 0.01 to 1.0
   (median 0.27, different for each speaker). Each synthesised word is
   scaled to a peak of ``peak`` = 0.3, a typical FSDD level; features that
   are invariant to level (log-mel with per-utterance normalisation) do not
   care, features that are not see a plausible one.

Chapter: ``notebooks/06b_cnn_classifiers.ipynb`` and ``notebooks/06c_cnn_evaluation.ipynb`` (the
unseen-voice test set).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

import numpy as np

from . import audio
from ._checks import finite_array, real_number
from ._checks import sample_rate as _check_sr
from .data import FSDD

__all__ = [
    "EspeakNotFoundError",
    "INSTALL_HINT",
    "DIGIT_WORDS",
    "DEFAULT_VOICES",
    "espeak_path",
    "espeak_version",
    "trim_silence",
    "espeak_digits",
]

#: How to get espeak-ng, quoted by :class:`EspeakNotFoundError`.
INSTALL_HINT = (
    "install espeak-ng: in a course checkout run 'bash scripts/install_espeak.sh' (as root on Debian/Ubuntu), "
    "or 'sudo apt-get install espeak-ng' (Debian/Ubuntu), 'brew install espeak-ng' (macOS); in Colab "
    "'!apt-get install -y espeak-ng'"
)
#: The words spoken, in the order of their labels: ``DIGIT_WORDS[d]`` is digit ``d``, as FSDD's speakers say it.
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: Twelve voices: seven accents of English as espeak-ng 1.51 names them (``en`` is British English; write it
#: so, not ``en-gb``, which ignores variants), each with one or two of espeak-ng's voice variants (``m1``-``m7``
#: male, ``f1``-``f4`` female; none: the accent's own voice).
#: FSDD's six speakers are all men; three of these voices are women's, so the set also asks whether a
#: model trained on men's voices recognises a higher one.
DEFAULT_VOICES = (
    "en-us",
    "en-us+m3",
    "en-us+f2",
    "en",
    "en+m5",
    "en+f4",
    "en-gb-x-rp+m2",
    "en-gb-scotland+m4",
    "en-029+m6",
    "en-gb-x-gbclan+m7",
    "en-gb-x-gbcwmd+m1",
    "en-gb-x-rp+f3",
)

#: espeak-ng's limits for -s (words per minute) and -p.
_SPEED_RANGE = (80, 450)
_PITCH_RANGE = (0, 99)
_ESPEAK_RATE = 22050


class EspeakNotFoundError(RuntimeError):
    """The ``espeak-ng`` program is not installed (or not on ``PATH``); the message says how to install it."""


# --------------------------------------------------------------------------- the program


def espeak_path() -> str:
    """The ``espeak-ng`` program on ``PATH``.

    Returns
    -------
    str
        Its full path.

    Raises
    ------
    EspeakNotFoundError
        If it is not installed; the message names ``scripts/install_espeak.sh``.

    Examples
    --------
    >>> try:
    ...     found = espeak_path().endswith("espeak-ng")
    ... except EspeakNotFoundError as err:
    ...     found = "install_espeak.sh" in str(err)
    >>> found
    True
    """
    path = shutil.which("espeak-ng")
    if path is None:
        raise EspeakNotFoundError(f"espeak-ng is not installed (not found on PATH): {INSTALL_HINT}")
    return path


def espeak_version() -> str:
    """The installed espeak-ng's version, e.g. ``"1.51"`` (record it beside results: the voices change with it).

    Returns
    -------
    str

    Raises
    ------
    EspeakNotFoundError
        If espeak-ng is not installed.

    Examples
    --------
    >>> try:
    ...     ok = espeak_version()[0].isdigit()
    ... except EspeakNotFoundError:
    ...     ok = True
    >>> ok
    True
    """
    return _version(espeak_path())


@functools.lru_cache(maxsize=4)
def _version(exe: str) -> str:
    out = subprocess.run([exe, "--version"], check=True, capture_output=True, text=True).stdout
    match = re.search(r"text-to-speech:\s*([0-9][^\s]*)", out)
    return match.group(1) if match else out.strip()


@functools.lru_cache(maxsize=4)
def _known_voices(exe: str) -> tuple[frozenset, frozenset]:
    """What ``-v`` accepts: (languages, voice names and files, lower-cased; variant files, as spelled)."""
    def table(arg: str) -> list[tuple[list[str], list[str]]]:
        out = subprocess.run([exe, arg], check=True, capture_output=True, text=True).stdout
        # columns: Pty Language Age/Gender VoiceName File, then "(language priority)" pairs
        return [(line.split(), re.findall(r"\(([^\s()]+) \d+\)", line))
                for line in out.splitlines()[1:] if len(line.split()) >= 5]

    bases = frozenset(name.lower() for row, others in table("--voices") for name in (row[1], row[3], row[4], *others))
    variants = frozenset(row[4].split("!v/", 1)[1] for row, _ in table("--voices=variant") if "!v/" in row[4])
    return bases, variants


# --------------------------------------------------------------------------- trimming


def trim_silence(y: np.ndarray, sr: int, *, top_db: float = 35.0, frame_ms: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Cut the silence before and after a word: keep from the first to the last loud window.

    With windows of :math:`L` = ``round(frame_ms * sr / 1000)`` samples
    starting at every sample :math:`i = 0, \\dots, n - L`,

    .. math::
        E[i] = \\sum_{j=i}^{i+L-1} y[j]^2, \\qquad
        \\text{loud}(i) \\iff 10 \\log_{10} \\frac{E[i]}{\\max_k E[k]} \\ge -\\text{top\\_db}

    and the kept samples run from the first loud window's first sample to the
    last loud window's last sample, so the first and the last ``frame_ms`` of
    the result are each within ``top_db`` of the loudest window. This is
    ``librosa.effects.trim``'s rule (energy relative to the peak) with a hop
    of one sample and windows that start at the signal's edge instead of
    being centred on it. A signal shorter than one window is returned whole.

    Parameters
    ----------
    y : ndarray of float, shape (n_samples,)
    sr : int
        Sampling rate in Hz.
    top_db : float, default 35.0
        The threshold below the loudest window, in dB, > 0.
    frame_ms : float, default 10.0
        Window length in milliseconds, > 0.

    Returns
    -------
    y_trimmed : ndarray, shape (end - start,)
        A view of ``y``.
    index : ndarray of int64, shape (2,)
        ``[start, end]``: ``y_trimmed = y[start:end]`` (as librosa returns it).

    Raises
    ------
    TypeError
        If ``y`` is not a float array or ``sr`` not an int.
    ValueError
        If ``y`` is not 1-D or not finite, is silent (all zeros), or
        ``top_db``/``frame_ms`` is not positive.

    Examples
    --------
    A word (ones) between silence and a faint tail 60 dB down; at 8 kHz a window is 80 samples:

    >>> y = np.concatenate([np.zeros(300), np.ones(400), 1e-3 * np.ones(200), np.zeros(100)])
    >>> y_trimmed, index = trim_silence(y, 8000)
    >>> index.tolist()            # a window reaching one sample of the word is loud (-19 dB)
    [221, 779]

    A sudden onset therefore keeps up to one window of silence before it; speech,
    which rises over tens of milliseconds, is cut close to where it becomes audible.
    """
    y = finite_array(y, "y", allow_complex=False)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, shape (n_samples,), got shape {y.shape}")
    sr = _check_sr(sr)
    top_db = real_number(top_db, "top_db")
    if not top_db > 0:
        raise ValueError(f"top_db must be positive (dB below the loudest window), got {top_db}")
    frame_ms = real_number(frame_ms, "frame_ms")
    if not frame_ms > 0:
        raise ValueError(f"frame_ms must be positive, got {frame_ms}")
    x = y.astype(np.float64)
    if not np.any(x):
        raise ValueError("y is silent (all zeros): there is no word to trim around")
    n, L = x.shape[0], max(1, round(frame_ms * sr / 1000))
    if n <= L:
        return y, np.array([0, n], dtype=np.int64)
    c = np.concatenate([[0.0], np.cumsum(x * x)])
    E = np.maximum(c[L:] - c[:-L], 0.0)  # energy of the window starting at each sample
    loud = np.flatnonzero(E >= E.max() * 10.0 ** (-top_db / 10.0))
    start, end = int(loud[0]), int(loud[-1]) + L
    return y[start:end], np.array([start, end], dtype=np.int64)


# --------------------------------------------------------------------------- the data set


def espeak_digits(voices: Sequence[str] | None = None, *, sr: int = 8000, words: Sequence[str] = DIGIT_WORDS,
                  variants: Sequence[str] | None = None, speed=None, pitch: int | None = None,
                  peak: float | None = 0.3, top_db: float | None = 35.0, cache: bool = True) -> FSDD:
    """Synthesise every word in every voice with espeak-ng, as an FSDD-shaped data set.

    For each voice :math:`v`, word :math:`d` and speed :math:`k`, the
    recording is (see the module's docstring for why each step)

    .. math::
        x = \\frac{a}{\\max_i |\\tilde x[i]|}\\, \\tilde x, \\qquad
        \\tilde x = \\operatorname{trim}\\big(\\operatorname{resample}_{22050 \\to sr}
        (\\text{espeak-ng}(v, d, k))\\big)

    with :math:`a` = ``peak``. Its labels: ``digits`` = the word's position in
    ``words``, ``speakers`` = the voice, ``takes`` = the speed's position in
    ``speed`` (0 for one speed). Entries are sorted as FSDD's: by digit, then
    speaker (in the order given), then take. ``paths`` holds names in FSDD's
    pattern, ``{digit}_{voice}_{take}.wav``, for display only: the files were
    temporary and no longer exist.

    Parameters
    ----------
    voices : sequence of str, optional
        espeak-ng voices, ``"<language>"`` or ``"<language>+<variant>"``
        (``espeak-ng --voices=en`` lists the languages, ``espeak-ng
        --voices=variant`` the variants). Default :data:`DEFAULT_VOICES`, 12 voices.
    sr : int, default 8000
        Sampling rate of the result (FSDD's).
    words : sequence of str, default :data:`DIGIT_WORDS`
        What is said; the label of ``words[d]`` is ``d``.
    variants : sequence of str, optional
        If given, every voice (each without a ``+variant`` of its own; default
        the seven accents of :data:`DEFAULT_VOICES`) is combined with every
        variant: ``voices=["en-us"], variants=["m1", "f2"]`` gives
        ``"en-us+m1"`` and ``"en-us+f2"``.
    speed : int or sequence of int, optional
        Words per minute, 80-450 (espeak-ng's default, 175, if None); a
        sequence gives one take per speed.
    pitch : int, optional
        0-99 (the voice's own if None, 50 for most).
    peak : float or None, default 0.3
        Peak level of each recording, in (0, 1); None keeps espeak-ng's level
        (after resampling and trimming).
    top_db : float or None, default 35.0
        Trimming threshold (:func:`trim_silence`); None does not trim.
    cache : bool, default True
        Reuse the recordings synthesised by an earlier call with the same
        arguments in this process (each call still returns its own arrays).

    Returns
    -------
    lessons_lib.data.FSDD
        ``len(voices) * len(words) * n_speeds`` recordings, float32 waveforms in
        [-1, 1), ``sample_rate == sr``.

    Raises
    ------
    EspeakNotFoundError
        If espeak-ng is not installed (the message says how to install it).
    TypeError
        If an argument has the wrong type.
    ValueError
        If a voice or variant is not one espeak-ng has, a voice is repeated,
        ``voices`` or ``words`` is empty, a word is empty or starts with "-",
        a number is out of range, a recording came out silent, or two voices
        gave identical recordings of every word (espeak-ng ignores some
        variants silently: ``"en-gb+f4"`` is ``"en-gb"``; ``"en+f4"`` works).
    RuntimeError
        If espeak-ng itself fails (its message is quoted).

    Examples
    --------
    espeak-ng must be installed, so doctest skips this; ``tests/test_voices.py`` runs it.

    >>> unseen = espeak_digits()                                   # doctest: +SKIP
    >>> len(unseen), unseen.sample_rate, sorted(set(unseen.speakers.tolist()))[:3]   # doctest: +SKIP
    (120, 8000, ['en', 'en+f4', 'en+m5'])
    >>> i = unseen.index(7, "en-us+m3")                            # doctest: +SKIP
    >>> unseen.digits[i], unseen.paths[i].name                     # doctest: +SKIP
    (np.int64(7), '7_en-us+m3_0.wav')
    """
    exe = espeak_path()
    voices = _voices(voices, variants, exe)
    words = _words(words)
    sr = _check_sr(sr)
    speeds = _speeds(speed)
    if pitch is not None:
        pitch = _in_range(pitch, "pitch", *_PITCH_RANGE)
    if peak is not None:
        peak = real_number(peak, "peak")
        if not 0 < peak < 1:
            raise ValueError(f"peak must lie in (0, 1) or be None, got {peak}")
    if top_db is not None:
        top_db = real_number(top_db, "top_db")
        if not top_db > 0:
            raise ValueError(f"top_db must be positive or None, got {top_db}")
    if not isinstance(cache, (bool, np.bool_)):
        raise TypeError(f"cache must be True or False, got {type(cache).__name__}")
    synthesise = _synthesise_cached if cache else _synthesise
    waveforms = synthesise(exe, voices, words, speeds, pitch, sr, peak, top_db)
    labels = [(d, v, k) for d in range(len(words)) for v in voices for k in range(len(speeds))]
    return FSDD(
        waveforms=tuple(np.array(y) for y in waveforms),
        sample_rate=sr,
        digits=np.array([d for d, _, _ in labels], dtype=np.int64),
        speakers=np.array([v for _, v, _ in labels]),
        takes=np.array([k for _, _, k in labels], dtype=np.int64),
        paths=tuple(PurePosixPath(f"{d}_{v}_{k}.wav") for d, v, k in labels),
    )


def _synthesise(exe: str, voices: tuple, words: tuple, speeds: tuple, pitch, sr: int, peak, top_db) -> tuple:
    """The recordings, in the order digit, voice, speed: float32, read-only.

    The espeak-ng processes run a few at a time (each writes its own file, so the
    result does not depend on the order they finish in); the files are then read in order.
    """
    jobs = [(word, voice, wpm) for word in words for voice in voices for wpm in speeds]
    with tempfile.TemporaryDirectory(prefix="espeak-digits-") as tmp:
        paths = [Path(tmp) / f"{j}.wav" for j in range(len(jobs))]
        commands = [[exe, "-v", voice, "-w", str(path)]
                    + (["-s", str(wpm)] if wpm is not None else [])
                    + (["-p", str(pitch)] if pitch is not None else [])
                    + [word]
                    for (word, voice, wpm), path in zip(jobs, paths)]
        with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
            results = list(pool.map(functools.partial(subprocess.run, capture_output=True, text=True), commands))
        out = []
        for (word, voice, _), path, result in zip(jobs, paths, results):
            if result.returncode != 0 or not path.is_file():
                raise RuntimeError(f"espeak-ng failed to say {word!r} in voice {voice!r} "
                                   f"(exit status {result.returncode}): {result.stderr.strip()}")
            y, _ = audio.load_audio(path, sr=sr)
            out.append(_finish(y, sr, peak, top_db, f"{word!r} in voice {voice!r}"))
    _check_distinct(out, voices, len(words), len(speeds))
    return tuple(out)


def _check_distinct(waveforms: list, voices: tuple, n_words: int, n_speeds: int) -> None:
    """Refuse two voices that gave identical recordings of every word: espeak-ng ignored a variant.

    (It does so silently: in espeak-ng 1.51 ``"en-gb+f4"`` sounds exactly like ``"en-gb"``,
    whereas ``"en+f4"`` applies the variant.)
    """
    n_voices = len(voices)
    seen: dict = {}
    for i, voice in enumerate(voices):
        key = tuple(waveforms[(d * n_voices + i) * n_speeds + k].tobytes() for d in range(n_words)
                    for k in range(n_speeds))
        if key in seen:
            raise ValueError(f"voices {seen[key]!r} and {voice!r} gave identical recordings: espeak-ng ignored a "
                             "variant (e.g. 'en-gb+f4' sounds as 'en-gb'; write 'en+f4'). Choose distinct voices.")
        seen[key] = voice


_synthesise_cached = functools.lru_cache(maxsize=8)(_synthesise)


def _finish(y: np.ndarray, sr: int, peak, top_db, what: str) -> np.ndarray:
    """Trim, scale to ``peak``, float32, read-only."""
    if not np.any(y):
        raise ValueError(f"espeak-ng produced silence for {what}")
    if top_db is not None:
        y, _ = trim_silence(y, sr, top_db=top_db)
    y = y.astype(np.float64)
    if peak is not None:
        y = y * (peak / np.max(np.abs(y)))
    y = np.clip(y, -1.0, 1.0 - 2.0 ** -15).astype(np.float32)
    y.setflags(write=False)
    return y


# --------------------------------------------------------------------------- argument checks


def _strings(value, name: str) -> tuple:
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be a sequence of str (a list or tuple), got {type(value).__name__}")
    if not value:
        raise ValueError(f"{name} is empty")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} must hold str, got {type(item).__name__}")
    return tuple(value)


def _voices(voices, variants, exe: str) -> tuple:
    if voices is None:
        voices = DEFAULT_VOICES if variants is None else tuple(dict.fromkeys(v.split("+")[0] for v in DEFAULT_VOICES))
    voices = _strings(voices, "voices")
    if variants is not None:
        variants = _strings(variants, "variants")
        own = [v for v in voices if "+" in v]
        if own:
            raise ValueError(f"with variants, voices must not carry a variant of their own, got {own}")
        voices = tuple(f"{v}+{variant}" for v in voices for variant in variants)
    repeated = sorted({v for v in voices if voices.count(v) > 1})
    if repeated:
        raise ValueError(f"voices must be distinct (each is one speaker), got {repeated} more than once")
    bases, known_variants = _known_voices(exe)
    for voice in voices:
        base, _, variant = voice.partition("+")
        if base.lower() not in bases:
            raise ValueError(f"voices: espeak-ng has no voice {base!r} (in {voice!r}); "
                             "'espeak-ng --voices=en' lists the English ones")
        if variant and variant not in known_variants:
            raise ValueError(f"voices: espeak-ng has no variant {variant!r} (in {voice!r}); "
                             f"'espeak-ng --voices=variant' lists them, e.g. {sorted(known_variants)[:6]}")
    return voices


def _words(words) -> tuple:
    words = _strings(words, "words")
    for word in words:
        if not word.strip() or word.lstrip().startswith("-") or "\n" in word:
            raise ValueError(f"words must be non-empty single lines not starting with '-', got {word!r}")
    return words


def _speeds(speed) -> tuple:
    if speed is None:
        return (None,)
    if isinstance(speed, (int, np.integer)) and not isinstance(speed, bool):
        return (_in_range(speed, "speed", *_SPEED_RANGE),)
    if isinstance(speed, (str, bytes)) or not isinstance(speed, Sequence) or not speed:
        raise TypeError(f"speed must be None, an int or a non-empty sequence of ints (words per minute), "
                        f"got {speed!r}")
    return tuple(_in_range(s, "speed", *_SPEED_RANGE) for s in speed)


def _in_range(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int in {low}..{high}, got {type(value).__name__}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be an int in {low}..{high}, got {value}")
    return int(value)

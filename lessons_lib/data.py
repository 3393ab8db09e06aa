"""The Free Spoken Digit Dataset (FSDD): finding it, fetching it, loading it, splitting it.

FSDD v1.0.10 holds 3,000 mono 16-bit WAV recordings at 8 kHz: six male
English speakers each say every digit 0-9 fifty times. A file is named
``{digit}_{speaker}_{take}.wav``; by the dataset's own convention takes 0-4
are the test set and takes 5-49 the training set. It is licensed CC BY-SA 4.0
(credit: Zohar Jackson and the FSDD contributors).

Where the data comes from
-------------------------
:func:`find_fsdd` looks, in this order, in

1. the ``path`` argument, if given;
2. the folder named by the environment variable ``LESSONS_DATA``;
3. a ``shared/data`` folder beside or above the current directory or this
   package (a course checkout keeps the data in ``../shared/data``);
4. the user cache, ``$XDG_CACHE_HOME/lessons_lib`` or ``~/.cache/lessons_lib``;

and only then downloads the v1.0.10 archive into the user cache
(:func:`download_fsdd`). Each of 1, 2 and 4 may be a data root holding
``fsdd/recordings``, an ``fsdd`` folder holding ``recordings``, or the
``recordings`` folder itself.

A download is verified before it is kept: the SHA-256 of every recording is
taken, and the digest of the list of those hashes must equal
:data:`FSDD_RECORDINGS_SHA256` (see :func:`recordings_digest`). It is written
into a temporary folder in the cache and moved into place with one atomic
rename, so an interrupted or corrupt download never leaves a half-filled cache.

Chapter: ``notebooks/00_getting_started.ipynb``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._checks import positive_int

__all__ = [
    "FSDD_VERSION",
    "FSDD_URL",
    "FSDD_RECORDINGS_SHA256",
    "FSDD_N_RECORDINGS",
    "FSDD_SAMPLE_RATE",
    "FSDD_SPEAKERS",
    "FSDD_TEST_TAKES",
    "DataNotFoundError",
    "DownloadError",
    "FSDD",
    "recordings_digest",
    "default_cache_dir",
    "find_fsdd",
    "download_fsdd",
    "load_fsdd",
    "official_split",
    "speaker_split",
    "leave_one_speaker_out",
    "ConnectedDigits",
    "connected_digits",
]

FSDD_VERSION = "1.0.10"
#: The public archive of the tagged release, downloaded only as a last resort.
FSDD_URL = (
    "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v1.0.10.tar.gz"
)
#: SHA-256 over the sorted per-recording hashes of v1.0.10 (see recordings_digest).
#: Reproduce it in a shell: ``cd recordings && sha256sum *.wav | LC_ALL=C sort -k2 | sha256sum``.
FSDD_RECORDINGS_SHA256 = "1801eae019c063377d98f831d3f93574f259475df7332bb0e3d1b080fb5e6959"
FSDD_N_RECORDINGS = 3000
FSDD_SAMPLE_RATE = 8000
FSDD_SPEAKERS = ("george", "jackson", "lucas", "nicolas", "theo", "yweweler")
#: Takes (the number at the end of a file name) that the official split tests on.
FSDD_TEST_TAKES = range(0, 5)

_NAME = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[a-z]+)_(?P<take>[0-9]+)\.wav$")
_ARCHIVE_MEMBER = re.compile(r"^[^/]+/recordings/([0-9]_[a-z]+_[0-9]+\.wav)$")
_OFFLINE_HELP = (
    "To work offline, copy the FSDD 'recordings' folder onto this machine and either pass "
    "load_fsdd(path=...) or set the environment variable LESSONS_DATA to a folder holding "
    "fsdd/recordings."
)


class DataNotFoundError(FileNotFoundError):
    """The dataset is in none of the places searched and may not be downloaded."""


class DownloadError(RuntimeError):
    """Downloading or verifying the archive failed; nothing was written to the cache."""


@dataclass(frozen=True, eq=False)
class FSDD:
    """The loaded dataset: one entry per recording, in a fixed order.

    Recordings are sorted by digit, then speaker, then take, so index ``i``
    means the same recording on every machine.

    Attributes
    ----------
    waveforms : tuple of ndarray of float32, each shape (n_samples_i,)
        The recordings, values in ``[-1, 1)``; lengths differ.
    sample_rate : int
        Samples per second of every waveform (8000 unless resampled).
    digits : ndarray of int64, shape (n_recordings,)
        The spoken digit, 0-9: the class label.
    speakers : ndarray of str, shape (n_recordings,)
        The speaker's name.
    takes : ndarray of int64, shape (n_recordings,)
        The repetition number from the file name, 0-49.
    paths : tuple of pathlib.Path
        The file each waveform came from.
    """

    waveforms: tuple
    sample_rate: int
    digits: np.ndarray
    speakers: np.ndarray
    takes: np.ndarray
    paths: tuple

    def __len__(self) -> int:
        return len(self.waveforms)

    def index(self, digit: int, speaker: str, take: int = 0) -> int:
        """The index of one recording, found by its labels.

        Parameters
        ----------
        digit : int
            0-9.
        speaker : str
            One of ``sorted(set(fsdd.speakers))``.
        take : int, default 0
            The repetition number, 0-49.

        Returns
        -------
        int
            ``i`` such that ``waveforms[i]`` is that recording.

        Raises
        ------
        KeyError
            If no recording has these labels.

        Examples
        --------
        >>> fsdd = load_fsdd()
        >>> i = fsdd.index(7, "theo", 12)
        >>> fsdd.paths[i].name
        '7_theo_12.wav'
        """
        hits = np.flatnonzero((self.digits == digit) & (self.speakers == speaker) & (self.takes == take))
        if hits.size == 0:
            raise KeyError(f"no recording of digit {digit!r} by speaker {speaker!r}, take {take!r} "
                           f"(speakers: {sorted(set(self.speakers.tolist()))})")
        return int(hits[0])

    def __repr__(self) -> str:
        return (
            f"FSDD({len(self)} recordings, {self.sample_rate} Hz, "
            f"speakers={sorted(set(self.speakers.tolist()))})"
        )


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def recordings_digest(recordings: str | os.PathLike) -> str:
    """SHA-256 digest of a folder of recordings, independent of file dates.

    Each ``*.wav`` file is hashed; the lines ``"<sha256>  <name>\\n"`` (the
    format of ``sha256sum``), sorted by file name, are concatenated and hashed
    again. Equal digests mean byte-identical recordings with identical names.

    Parameters
    ----------
    recordings : str or os.PathLike
        A folder of ``.wav`` files.

    Returns
    -------
    str
        64 hexadecimal characters.

    Raises
    ------
    FileNotFoundError
        If ``recordings`` is not a folder.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "0_a_0.wav").write_bytes(b"RIFF")
    >>> len(recordings_digest(d))
    64
    """
    folder = Path(recordings)
    if not folder.is_dir():
        raise FileNotFoundError(f"recordings must be a folder of .wav files, {folder} is not a folder")
    names = sorted(p.name for p in folder.glob("*.wav"))  # code-point order, as LC_ALL=C sort
    lines = "".join(f"{_sha256_file(folder / n)}  {n}\n" for n in names)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def default_cache_dir() -> Path:
    """The user cache that downloads go to.

    ``$XDG_CACHE_HOME/lessons_lib`` when that variable is set, otherwise
    ``~/.cache/lessons_lib``. The dataset lands in ``<cache>/fsdd/recordings``.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> default_cache_dir().name
    'lessons_lib'
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lessons_lib"


def _as_path(value, name: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise TypeError(f"{name} must be a str or os.PathLike folder, got {type(value).__name__}")
    return Path(value).expanduser()


def _recordings_in(folder: Path) -> Path | None:
    """The recordings folder inside ``folder`` (a data root, an fsdd folder or itself)."""
    for candidate in (folder / "fsdd" / "recordings", folder / "recordings", folder):
        if candidate.is_dir() and any(candidate.glob("*.wav")):
            return candidate
    return None


def _shared_candidates() -> list[Path]:
    starts = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    seen, out = set(), []
    for start in starts:
        for folder in (start, *start.parents):
            candidate = folder / "shared" / "data"
            if candidate not in seen:
                seen.add(candidate)
                out.append(candidate)
    return out


def find_fsdd(path=None, *, download: bool = True, cache_dir=None) -> Path:
    """Find the FSDD ``recordings`` folder, downloading it as a last resort.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Look here and nowhere else: a data root holding ``fsdd/recordings``,
        an ``fsdd`` folder, or the ``recordings`` folder itself.
    download : bool, default True
        Whether to download the archive when the data is found nowhere.
    cache_dir : str or os.PathLike, optional
        The user cache to look in and download to; default
        :func:`default_cache_dir`.

    Returns
    -------
    pathlib.Path
        The folder holding the ``.wav`` files.

    Raises
    ------
    DataNotFoundError
        If ``path`` or ``LESSONS_DATA`` is given but holds no recordings, or if
        the data is found nowhere and ``download`` is false. The message lists
        every place searched.
    DownloadError
        If the download fails or does not verify (see :func:`download_fsdd`).
    TypeError
        If ``path`` or ``cache_dir`` is not a path.

    Examples
    --------
    >>> find_fsdd().name
    'recordings'
    """
    if path is not None:
        folder = _as_path(path, "path")
        found = _recordings_in(folder)
        if found is None:
            raise DataNotFoundError(
                f"path={str(path)!r} holds no FSDD recordings: expected .wav files in it, in "
                f"{folder / 'recordings'} or in {folder / 'fsdd' / 'recordings'}"
            )
        return found

    env = os.environ.get("LESSONS_DATA")
    if env:
        found = _recordings_in(Path(env).expanduser())
        if found is None:
            raise DataNotFoundError(
                f"LESSONS_DATA={env!r} holds no FSDD recordings: expected "
                f"{Path(env) / 'fsdd' / 'recordings'} with .wav files. Fix or unset LESSONS_DATA."
            )
        return found

    searched = []
    for candidate in _shared_candidates():
        searched.append(candidate)
        found = _recordings_in(candidate) if (candidate / "fsdd").is_dir() else None
        if found is not None:
            return found

    cache = default_cache_dir() if cache_dir is None else _as_path(cache_dir, "cache_dir")
    searched.append(cache)
    found = _recordings_in(cache) if (cache / "fsdd").is_dir() else None
    if found is not None:
        return found

    if not download:
        places = "\n  ".join(str(p) for p in searched)
        raise DataNotFoundError(
            "FSDD was not found and download=False. Searched:\n  " + places + "\n" + _OFFLINE_HELP
        )
    return download_fsdd(cache)


def _fetch(url: str, destination: Path, timeout: float) -> None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            expected = response.headers.get("Content-Length")
            received = 0
            with open(destination, "wb") as out:
                for block in iter(lambda: response.read(1 << 16), b""):
                    out.write(block)
                    received += len(block)
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        raise DownloadError(
            f"could not download the FSDD archive from {url}: {err}. "
            "Check the network connection (are you offline?). " + _OFFLINE_HELP
        ) from err
    if expected is not None and received != int(expected):
        raise DownloadError(
            f"the download from {url} was cut short: got {received} of {expected} bytes. "
            "Try again; nothing was written to the cache."
        )


def _extract_recordings(archive: Path, destination: Path) -> int:
    """Extract ``<top>/recordings/*.wav`` members; return how many."""
    destination.mkdir(parents=True)
    count = 0
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                match = _ARCHIVE_MEMBER.match(member.name)
                if match is None or not member.isfile():
                    continue
                source = tar.extractfile(member)
                (destination / match.group(1)).write_bytes(source.read())
                count += 1
    except (tarfile.TarError, EOFError, zlib.error, OSError) as err:
        raise DownloadError(
            f"the FSDD archive is corrupt or truncated ({type(err).__name__}: {err}). "
            "Try the download again; nothing was written to the cache."
        ) from err
    return count


_PARTIAL_PREFIX = ".fsdd-download-"
_STALE_SECONDS = 6 * 3600


def _remove_stale_downloads(cache: Path) -> None:
    """Delete temporary folders left by a download whose process was killed.

    Only folders untouched for hours are removed, so a download running in
    another process at the same time is left alone.
    """
    now = time.time()
    for partial in cache.glob(_PARTIAL_PREFIX + "*"):
        try:
            if now - partial.stat().st_mtime > _STALE_SECONDS:
                shutil.rmtree(partial, ignore_errors=True)
        except OSError:
            pass


def download_fsdd(
    cache_dir=None,
    *,
    url: str | None = None,
    sha256: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download the FSDD archive into the user cache, verify it, and return its recordings.

    The archive is fetched into a temporary folder inside ``cache_dir``, its
    ``recordings/*.wav`` members are extracted there, and
    :func:`recordings_digest` of the result must equal ``sha256``. Only then
    is the folder renamed to ``<cache_dir>/fsdd`` (an atomic rename); on any
    failure the temporary folder is removed, so the cache is never left half
    written.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Default :func:`default_cache_dir`.
    url : str, optional
        Where to fetch the ``.tar.gz`` from (``file://`` works too); default
        :data:`FSDD_URL`.
    sha256 : str, optional
        The expected :func:`recordings_digest`; default
        :data:`FSDD_RECORDINGS_SHA256`.
    timeout : float, default 60
        Seconds to wait for the server to answer.

    Returns
    -------
    pathlib.Path
        ``<cache_dir>/fsdd/recordings``.

    Raises
    ------
    DownloadError
        If the network is unreachable, the transfer is cut short, the archive
        is corrupt, holds no recordings, or its digest differs from ``sha256``.

    Examples
    --------
    >>> download_fsdd()  # doctest: +SKIP
    PosixPath('/home/me/.cache/lessons_lib/fsdd/recordings')
    """
    cache = default_cache_dir() if cache_dir is None else _as_path(cache_dir, "cache_dir")
    url = FSDD_URL if url is None else url
    sha256 = FSDD_RECORDINGS_SHA256 if sha256 is None else sha256
    if not isinstance(url, str):
        raise TypeError(f"url must be a str, got {type(url).__name__}")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise ValueError(f"sha256 must be 64 lower-case hexadecimal characters, got {sha256!r}")
    final = cache / "fsdd"
    cache.mkdir(parents=True, exist_ok=True)
    _remove_stale_downloads(cache)
    work = Path(tempfile.mkdtemp(prefix=_PARTIAL_PREFIX, dir=cache))
    try:
        archive = work / "archive.tar.gz"
        _fetch(url, archive, timeout)
        staged = work / "fsdd"
        n = _extract_recordings(archive, staged / "recordings")
        if n == 0:
            raise DownloadError(
                f"the archive from {url} holds no recordings/*.wav files; is it the FSDD archive?"
            )
        digest = recordings_digest(staged / "recordings")
        if digest != sha256:
            raise DownloadError(
                f"checksum mismatch for the FSDD archive from {url}: the {n} recordings have "
                f"SHA-256 digest {digest}, expected {sha256}. The download is corrupt or is not "
                f"FSDD v{FSDD_VERSION}; nothing was written to the cache. Try again. " + _OFFLINE_HELP
            )
        try:
            os.rename(staged, final)
        except OSError:
            # Another process finished first; keep its (equally verified) copy.
            if _recordings_in(final) is None:
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final / "recordings"


def load_fsdd(path=None, *, sr: int | None = None, download: bool = True, cache_dir=None) -> FSDD:
    """Load every FSDD recording with its digit, speaker and take.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Where the data is (see :func:`find_fsdd` for the search order when it
        is ``None``).
    sr : int, optional
        Resample every recording to this rate (:func:`lessons_lib.audio.resample`);
        ``None`` keeps 8000 Hz.
    download : bool, default True
        Allow downloading the archive as a last resort.
    cache_dir : str or os.PathLike, optional
        The user cache (default :func:`default_cache_dir`).

    Returns
    -------
    FSDD
        Recordings sorted by digit, speaker and take.

    Raises
    ------
    DataNotFoundError, DownloadError
        See :func:`find_fsdd`.
    ValueError
        If a ``.wav`` file in the folder is not named ``{digit}_{speaker}_{take}.wav``,
        or the recordings do not share one sampling rate.

    Examples
    --------
    >>> fsdd = load_fsdd()
    >>> len(fsdd), fsdd.sample_rate
    (3000, 8000)
    """
    from .audio import _check_sr, _read, resample

    if sr is not None:
        sr = _check_sr(sr, "sr")
    folder = find_fsdd(path, download=download, cache_dir=cache_dir)
    entries = []
    for file in folder.glob("*.wav"):
        match = _NAME.match(file.name)
        if match is None:
            raise ValueError(
                f"unexpected file {file}: FSDD recordings are named "
                "'{digit}_{speaker}_{take}.wav', e.g. '7_theo_12.wav'"
            )
        entries.append((int(match["digit"]), match["speaker"], int(match["take"]), file))
    entries.sort(key=lambda e: (e[0], e[1], e[2]))

    waveforms, rates = [], set()
    for *_, file in entries:
        y, file_sr = _read(file)
        rates.add(file_sr)
        waveforms.append(y)
    if len(rates) > 1:
        raise ValueError(f"the recordings in {folder} have different sampling rates: {sorted(rates)}")
    rate = rates.pop()
    if sr is not None and sr != rate:
        waveforms = [resample(y, rate, sr) for y in waveforms]
        rate = sr
    return FSDD(
        waveforms=tuple(waveforms),
        sample_rate=int(rate),
        digits=np.array([e[0] for e in entries], dtype=np.int64),
        speakers=np.array([e[1] for e in entries], dtype=str),
        takes=np.array([e[2] for e in entries], dtype=np.int64),
        paths=tuple(e[3] for e in entries),
    )


def _check_fsdd(fsdd) -> FSDD:
    if not isinstance(fsdd, FSDD):
        raise TypeError(f"fsdd must be the FSDD returned by load_fsdd, got {type(fsdd).__name__}")
    return fsdd


def official_split(fsdd: FSDD) -> tuple[np.ndarray, np.ndarray]:
    """The dataset's own train/test split: takes 0-4 test, takes 5-49 train.

    Every speaker and digit appears on both sides, so this split measures how
    well a model generalises to new recordings of voices it has heard.

    Parameters
    ----------
    fsdd : FSDD

    Returns
    -------
    train, test : ndarray of int64
        Indices into ``fsdd``, ascending; disjoint, together all recordings.
        For the full dataset, 2,700 and 300.

    Examples
    --------
    >>> train, test = official_split(load_fsdd())
    >>> len(train), len(test)
    (2700, 300)
    """
    fsdd = _check_fsdd(fsdd)
    is_test = np.isin(fsdd.takes, np.asarray(FSDD_TEST_TAKES))
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def speaker_split(fsdd: FSDD, test_speaker: str) -> tuple[np.ndarray, np.ndarray]:
    """Hold one speaker out: test on ``test_speaker``, train on everyone else.

    This split asks the harder question: does the model recognise a voice it
    has never heard?

    Parameters
    ----------
    fsdd : FSDD
    test_speaker : str
        One of the speakers in ``fsdd.speakers``.

    Returns
    -------
    train, test : ndarray of int64
        Indices into ``fsdd``, ascending.

    Raises
    ------
    ValueError
        If ``test_speaker`` is not in the dataset.

    Examples
    --------
    >>> train, test = speaker_split(load_fsdd(), "theo")
    >>> len(train), len(test)
    (2500, 500)
    """
    fsdd = _check_fsdd(fsdd)
    names = sorted(set(fsdd.speakers.tolist()))
    if not isinstance(test_speaker, str) or test_speaker not in names:
        raise ValueError(f"test_speaker must be one of {names}, got {test_speaker!r}")
    is_test = fsdd.speakers == test_speaker
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def leave_one_speaker_out(fsdd: FSDD) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """Every speaker-independent fold: each speaker in turn is the test set.

    Parameters
    ----------
    fsdd : FSDD

    Yields
    ------
    speaker : str
        The held-out speaker, in alphabetical order.
    train, test : ndarray of int64
        As :func:`speaker_split` returns them.

    Examples
    --------
    >>> [s for s, _, _ in leave_one_speaker_out(load_fsdd())]
    ['george', 'jackson', 'lucas', 'nicolas', 'theo', 'yweweler']
    """
    fsdd = _check_fsdd(fsdd)
    for speaker in sorted(set(fsdd.speakers.tolist())):
        train, test = speaker_split(fsdd, speaker)
        yield speaker, train, test


@dataclass(frozen=True, eq=False)
class ConnectedDigits:
    """Utterances of several digits in a row, built from FSDD recordings by :func:`connected_digits`.

    Attributes
    ----------
    waveforms : tuple of ndarray of float32, each shape (n_samples_u,)
    sample_rate : int
    labels : tuple of ndarray of int64, each shape (n_digits_u,)
        The digits spoken, in order: the transcript.
    speakers : ndarray of str, shape (n_utterances,)
    sources : tuple of ndarray of int64, each shape (n_digits_u,)
        The FSDD index of each recording joined, in order.
    boundaries : tuple of ndarray of int64, each shape (n_digits_u, 2)
        Where each recording lies in the waveform: samples ``[start, end)``.
    """

    waveforms: tuple
    sample_rate: int
    labels: tuple
    speakers: np.ndarray
    sources: tuple
    boundaries: tuple

    def __len__(self) -> int:
        return len(self.waveforms)

    def __repr__(self) -> str:
        n_digits = sum(len(lab) for lab in self.labels)
        return f"ConnectedDigits({len(self)} utterances, {n_digits} digits, {self.sample_rate} Hz)"


def connected_digits(fsdd: FSDD, indices, n_utterances: int, *, min_digits: int = 2, max_digits: int = 5,
                     gap=(0.05, 0.3), rng: np.random.Generator) -> ConnectedDigits:
    """Build connected-digit utterances by joining one speaker's recordings with short random silences.

    For each utterance: a speaker drawn uniformly from those present in
    ``indices``; a number of digits drawn uniformly from
    ``[min_digits, max_digits]``; for each digit, one of that speaker's
    recordings in ``indices`` drawn uniformly (digits follow from the recordings
    drawn); silences of uniformly random length in ``gap`` seconds before,
    between and after the recordings. Only recordings in ``indices`` are
    used, so utterances built from ``official_split``'s training indices never
    contain a test recording. The same ``rng`` state gives the same corpus.

    Parameters
    ----------
    fsdd : FSDD
    indices : array_like of int
        The recordings allowed (e.g. the train or the test part of a split).
    n_utterances : int
    min_digits, max_digits : int, default 2 and 5
        Inclusive range of the number of digits per utterance.
    gap : (float, float), default (0.05, 0.3)
        Range of each silence, in seconds.
    rng : numpy.random.Generator

    Returns
    -------
    ConnectedDigits

    Raises
    ------
    ValueError
        Indices out of range or empty, ``min_digits > max_digits``, a negative or
        reversed ``gap``.
    TypeError
        ``rng`` that is not a ``numpy.random.Generator``.

    Examples
    --------
    >>> fsdd = load_fsdd()
    >>> train, test = official_split(fsdd)
    >>> corpus = connected_digits(fsdd, test, 3, rng=np.random.default_rng(0))
    >>> len(corpus), all(2 <= len(digits) <= 5 for digits in corpus.labels)
    (3, True)
    >>> all(np.isin(src, test).all() for src in corpus.sources)   # test recordings only
    True
    """
    fsdd = _check_fsdd(fsdd)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    indices = np.asarray(indices)
    if indices.ndim != 1 or indices.size == 0 or not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"indices must be a non-empty 1-D array of recording indices, got {indices!r}")
    if indices.min() < 0 or indices.max() >= len(fsdd):
        raise ValueError(f"indices must lie in [0, {len(fsdd)}), got values from {indices.min()} to {indices.max()}")
    n_utterances = positive_int(n_utterances, "n_utterances")
    min_digits = positive_int(min_digits, "min_digits")
    max_digits = positive_int(max_digits, "max_digits")
    if min_digits > max_digits:
        raise ValueError(f"min_digits ({min_digits}) must not exceed max_digits ({max_digits})")
    try:
        gap_low, gap_high = (float(g) for g in gap)
    except (TypeError, ValueError):
        raise ValueError(f"gap must be a pair (shortest, longest) of seconds, got {gap!r}") from None
    if not 0 <= gap_low <= gap_high or not np.isfinite(gap_high):
        raise ValueError(f"gap must satisfy 0 <= shortest <= longest, got {gap!r}")

    indices = np.unique(indices)
    speaker_names = np.unique(fsdd.speakers[indices])
    by_speaker = {name: indices[fsdd.speakers[indices] == name] for name in speaker_names}
    sr = fsdd.sample_rate
    waveforms, labels, speakers, sources, boundaries = [], [], [], [], []
    for _ in range(n_utterances):
        speaker = speaker_names[rng.integers(len(speaker_names))]
        pool = by_speaker[speaker]
        chosen = pool[rng.integers(len(pool), size=rng.integers(min_digits, max_digits + 1))]
        silences = np.round(rng.uniform(gap_low, gap_high, size=chosen.size + 1) * sr).astype(np.int64)
        recordings = [np.asarray(fsdd.waveforms[index], dtype=np.float32) for index in chosen]
        gaps = [np.zeros(n, dtype=np.float32) for n in silences]
        waveforms.append(np.concatenate([piece for pair in zip(gaps, recordings) for piece in pair] + gaps[-1:]))
        sizes = np.array([r.size for r in recordings], dtype=np.int64)
        starts = np.cumsum(silences[:-1]) + np.cumsum(sizes) - sizes  # silences up to k, recordings before k
        boundaries.append(np.stack((starts, starts + sizes), axis=1))
        labels.append(fsdd.digits[chosen].astype(np.int64))
        speakers.append(speaker)
        sources.append(chosen.astype(np.int64))
    return ConnectedDigits(tuple(waveforms), sr, tuple(labels), np.array(speakers), tuple(sources), tuple(boundaries))

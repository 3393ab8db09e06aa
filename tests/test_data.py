"""lessons_lib.data: the FSDD loader, its search order, its download and its splits."""

from __future__ import annotations

import http.server
import os
import shutil
import subprocess
import threading
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf

from lessons_lib import data
from lessons_lib.data import (
    DataNotFoundError,
    DownloadError,
    download_fsdd,
    find_fsdd,
    leave_one_speaker_out,
    load_fsdd,
    official_split,
    recordings_digest,
    speaker_split,
)

from .conftest import make_archive, write_fake_recordings


def leftovers(cache: Path) -> list[str]:
    """Anything a download left in the cache besides a complete fsdd/ folder."""
    if not cache.exists():
        return []
    return sorted(p.name for p in cache.iterdir() if p.name != "fsdd")


# --------------------------------------------------------------------------- loading


def test_load_matches_librosa_and_file_names(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    assert len(fsdd) == 2 * 3 * 6
    assert fsdd.sample_rate == 8000
    for i in range(len(fsdd)):
        reference, sr = librosa.load(fsdd.paths[i], sr=None)
        assert sr == 8000
        np.testing.assert_array_equal(fsdd.waveforms[i], reference)
        assert fsdd.waveforms[i].dtype == np.float32
        digit, speaker, take = fsdd.paths[i].stem.split("_")
        assert (fsdd.digits[i], fsdd.speakers[i], fsdd.takes[i]) == (int(digit), speaker, int(take))
    keys = list(zip(fsdd.digits.tolist(), fsdd.speakers.tolist(), fsdd.takes.tolist()))
    assert keys == sorted(keys), "recordings are ordered by digit, speaker, take"


def test_take_numbers_sort_numerically(tmp_path):
    folder = tmp_path / "recordings"
    write_fake_recordings(folder, speakers=("a",), digits=(1,), takes=12)
    assert load_fsdd(folder).takes.tolist() == list(range(12))  # not 0, 1, 10, 11, 2, ...


@pytest.mark.parametrize("level", ["root", "fsdd", "recordings"])
def test_path_may_name_any_level(fake_recordings, level):
    path = {"recordings": fake_recordings, "fsdd": fake_recordings.parent,
            "root": fake_recordings.parent.parent}[level]
    assert find_fsdd(path) == fake_recordings


def test_resample_on_load_matches_librosa(fake_recordings):
    fsdd = load_fsdd(fake_recordings, sr=16000)
    assert fsdd.sample_rate == 16000
    for y, path in zip(fsdd.waveforms[:8], fsdd.paths[:8]):
        reference, _ = librosa.load(path, sr=16000, res_type="polyphase")
        np.testing.assert_allclose(y, reference, rtol=1e-6, atol=1e-7)


def test_repr_names_size_and_rate(fake_recordings):
    assert repr(load_fsdd(fake_recordings)) == "FSDD(36 recordings, 8000 Hz, speakers=['alice', 'bob'])"


# --------------------------------------------------------------------------- bad input


def test_wrong_path_says_what_was_expected(tmp_path):
    with pytest.raises(DataNotFoundError, match=r"path=.*nowhere.*holds no FSDD recordings"):
        find_fsdd(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataNotFoundError, match="expected .wav files"):
        load_fsdd(tmp_path / "empty")


def test_wrong_path_type():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        load_fsdd(42)


def test_unexpected_file_name_is_named(fake_recordings):
    sf.write(fake_recordings / "hello.wav", np.zeros(10, dtype=np.int16), 8000)
    with pytest.raises(ValueError, match=r"hello\.wav.*\{digit\}_\{speaker\}_\{take\}\.wav"):
        load_fsdd(fake_recordings)


def test_mixed_sample_rates_rejected(tmp_path):
    folder = tmp_path / "recordings"
    write_fake_recordings(folder, speakers=("a",), digits=(1,), takes=2)
    sf.write(folder / "2_a_0.wav", np.zeros(10, dtype=np.int16), 16000)
    with pytest.raises(ValueError, match=r"different sampling rates: \[8000, 16000\]"):
        load_fsdd(folder)


@pytest.mark.parametrize("sr", [0, -8000])
def test_bad_target_rate(fake_recordings, sr):
    with pytest.raises(ValueError, match="sr must be a positive int"):
        load_fsdd(fake_recordings, sr=sr)


# --------------------------------------------------------------------------- search order


def test_explicit_path_beats_environment(fake_recordings, tmp_path, monkeypatch):
    other = tmp_path / "other" / "fsdd" / "recordings"
    write_fake_recordings(other, speakers=("zed",))
    monkeypatch.setenv("LESSONS_DATA", str(other.parent.parent))
    assert find_fsdd(fake_recordings) == fake_recordings
    assert find_fsdd() == other


def test_environment_beats_shared(fake_recordings, monkeypatch, tmp_path):
    shared = tmp_path / "checkout-parent"
    write_fake_recordings(shared / "shared" / "data" / "fsdd" / "recordings", speakers=("zed",))
    monkeypatch.chdir(shared)
    monkeypatch.setenv("LESSONS_DATA", str(fake_recordings.parent.parent))
    assert find_fsdd() == fake_recordings


def test_broken_environment_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("LESSONS_DATA", str(tmp_path / "missing"))
    with pytest.raises(DataNotFoundError, match="LESSONS_DATA=.*missing.*Fix or unset LESSONS_DATA"):
        find_fsdd()


def test_shared_data_beside_the_checkout(monkeypatch, tmp_path):
    monkeypatch.delenv("LESSONS_DATA", raising=False)
    recordings = tmp_path / "shared" / "data" / "fsdd" / "recordings"
    write_fake_recordings(recordings)
    notebooks = tmp_path / "main" / "notebooks"
    notebooks.mkdir(parents=True)
    monkeypatch.chdir(notebooks)  # as a notebook runs: two levels below ../shared
    assert find_fsdd() == recordings


def test_shared_beats_cache(monkeypatch, tmp_path, no_data_env):
    write_fake_recordings(no_data_env / "fsdd" / "recordings", speakers=("cached",))
    shared = tmp_path / "shared" / "data" / "fsdd" / "recordings"
    write_fake_recordings(shared)
    monkeypatch.setattr(data, "_shared_candidates", lambda: [tmp_path / "shared" / "data"])
    assert find_fsdd() == shared


def test_user_cache_is_used_before_downloading(no_data_env, monkeypatch):
    cached = no_data_env / "fsdd" / "recordings"
    write_fake_recordings(cached)
    monkeypatch.setattr(data, "download_fsdd", lambda *a, **k: pytest.fail("must not download"))
    assert find_fsdd() == cached
    assert data.default_cache_dir() == no_data_env


def test_nothing_found_offline_lists_every_place(no_data_env, monkeypatch, tmp_path):
    monkeypatch.setattr(data, "_shared_candidates", lambda: [tmp_path / "a" / "shared" / "data"])
    with pytest.raises(DataNotFoundError) as info:
        find_fsdd(download=False)
    message = str(info.value)
    assert str(tmp_path / "a" / "shared" / "data") in message
    assert str(no_data_env) in message
    assert "LESSONS_DATA" in message and "path=" in message


# --------------------------------------------------------------------------- download


def test_download_verifies_and_fills_the_cache(fake_recordings, tmp_path, no_data_env, monkeypatch):
    archive = tmp_path / "fsdd.tar.gz"
    archive.write_bytes(make_archive(fake_recordings))
    monkeypatch.setattr(data, "FSDD_URL", archive.as_uri())
    monkeypatch.setattr(data, "FSDD_RECORDINGS_SHA256", recordings_digest(fake_recordings))

    found = find_fsdd()  # nothing anywhere: falls through to the download
    assert found == no_data_env / "fsdd" / "recordings"
    assert sorted(p.name for p in found.iterdir()) == sorted(p.name for p in fake_recordings.iterdir())
    for path in fake_recordings.iterdir():
        assert (found / path.name).read_bytes() == path.read_bytes()
    assert leftovers(no_data_env) == []
    # the second call finds the cache and does not download again
    monkeypatch.setattr(data, "download_fsdd", lambda *a, **k: pytest.fail("must not download"))
    assert find_fsdd() == found


def test_checksum_mismatch_leaves_nothing(fake_recordings, tmp_path):
    archive = tmp_path / "fsdd.tar.gz"
    archive.write_bytes(make_archive(fake_recordings))
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match=r"checksum mismatch.*expected 0{64}.*nothing was written"):
        download_fsdd(cache, url=archive.as_uri(), sha256="0" * 64)
    assert not (cache / "fsdd").exists()
    assert leftovers(cache) == []


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_archive_leaves_nothing(fake_recordings, tmp_path, damage):
    payload = make_archive(fake_recordings)
    payload = payload[: len(payload) // 2] if damage == "truncated" else os.urandom(5000)
    archive = tmp_path / "fsdd.tar.gz"
    archive.write_bytes(payload)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="corrupt or truncated"):
        download_fsdd(cache, url=archive.as_uri(), sha256=recordings_digest(fake_recordings))
    assert leftovers(cache) == [] and not (cache / "fsdd").exists()


def test_archive_without_recordings(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    archive = tmp_path / "other.tar.gz"
    archive.write_bytes(make_archive(empty))
    with pytest.raises(DownloadError, match="holds no recordings"):
        download_fsdd(tmp_path / "cache", url=archive.as_uri())
    assert leftovers(tmp_path / "cache") == []


def test_archive_members_cannot_escape(fake_recordings, tmp_path):
    evil = [("../../escaped.wav", b"x"), ("top/recordings/../../escaped2.wav", b"y")]
    archive = tmp_path / "fsdd.tar.gz"
    archive.write_bytes(make_archive(fake_recordings, extra=evil))
    cache = tmp_path / "deep" / "cache"
    found = download_fsdd(cache, url=archive.as_uri(), sha256=recordings_digest(fake_recordings))
    assert not list(tmp_path.rglob("escaped*.wav"))
    assert recordings_digest(found) == recordings_digest(fake_recordings)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_network_says_what_to_do(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/fsdd.tar.gz"
    with pytest.raises(DownloadError, match=r"could not download.*offline.*LESSONS_DATA"):
        download_fsdd(tmp_path / "cache", url=url, timeout=5)
    assert leftovers(tmp_path / "cache") == []


class _ShortServer(http.server.BaseHTTPRequestHandler):
    """Promises 100000 bytes and sends 100: a connection cut mid-download."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "100000")
        self.end_headers()
        self.wfile.write(b"\x1f\x8b" + b"\0" * 98)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args):
        pass


def test_cut_download_leaves_nothing(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), _ShortServer)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/fsdd.tar.gz"
        with pytest.raises(DownloadError, match="could not download|cut short"):
            download_fsdd(tmp_path / "cache", url=url, timeout=10)
    finally:
        thread.join(5)
        server.server_close()
    assert leftovers(tmp_path / "cache") == []


@pytest.mark.parametrize("bad", ["abc", "A" * 64, 123])
def test_bad_expected_checksum(tmp_path, bad):
    with pytest.raises(ValueError, match="sha256 must be 64 lower-case hexadecimal"):
        download_fsdd(tmp_path, url="file:///nonexistent.tar.gz", sha256=bad)


def test_digest_equals_sha256sum_pipeline(fake_recordings):
    if shutil.which("sha256sum") is None:
        pytest.skip("coreutils sha256sum is not installed")
    shell = subprocess.run(
        "sha256sum *.wav | LC_ALL=C sort -k2 | sha256sum", shell=True, cwd=fake_recordings,
        capture_output=True, text=True, check=True,
    ).stdout.split()[0]
    assert recordings_digest(fake_recordings) == shell


def test_digest_sees_one_changed_byte(fake_recordings):
    before = recordings_digest(fake_recordings)
    victim = sorted(fake_recordings.glob("*.wav"))[3]
    payload = bytearray(victim.read_bytes())
    payload[-1] ^= 1
    victim.write_bytes(bytes(payload))
    assert recordings_digest(fake_recordings) != before


def test_digest_needs_a_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="must be a folder"):
        recordings_digest(tmp_path / "missing")


# --------------------------------------------------------------------------- splits


def test_official_split_on_fake_data(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    train, test = official_split(fsdd)
    assert np.all(fsdd.takes[test] < 5) and np.all(fsdd.takes[train] >= 5)
    assert sorted(np.concatenate([train, test]).tolist()) == list(range(len(fsdd)))


def test_split_input_checks(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    with pytest.raises(TypeError, match="fsdd must be the FSDD returned by load_fsdd"):
        official_split([1, 2, 3])
    with pytest.raises(ValueError, match=r"test_speaker must be one of \['alice', 'bob'\], got 'carol'"):
        speaker_split(fsdd, "carol")
    with pytest.raises(TypeError):
        next(leave_one_speaker_out("not a dataset"))


# --------------------------------------------------------------------------- the real dataset


def test_real_data_matches_the_published_digest(real_fsdd_dir):
    assert recordings_digest(real_fsdd_dir) == data.FSDD_RECORDINGS_SHA256


def test_real_dataset_shape_facts(real_fsdd):
    assert len(real_fsdd) == data.FSDD_N_RECORDINGS == 3000
    assert real_fsdd.sample_rate == data.FSDD_SAMPLE_RATE == 8000
    assert tuple(sorted(set(real_fsdd.speakers.tolist()))) == data.FSDD_SPEAKERS
    cells = Counter(zip(real_fsdd.digits.tolist(), real_fsdd.speakers.tolist()))
    assert len(cells) == 60 and set(cells.values()) == {50}
    assert set(real_fsdd.takes.tolist()) == set(range(50))


def test_real_waveforms_equal_librosa(real_fsdd):
    rng = np.random.default_rng(7)
    for i in rng.choice(len(real_fsdd), size=25, replace=False):
        reference, sr = librosa.load(real_fsdd.paths[i], sr=None)
        assert sr == real_fsdd.sample_rate
        np.testing.assert_array_equal(real_fsdd.waveforms[i], reference)


def test_real_official_split(real_fsdd):
    train, test = official_split(real_fsdd)
    assert (len(train), len(test)) == (2700, 300)
    assert not set(train) & set(test)
    per_cell = Counter(zip(real_fsdd.digits[test].tolist(), real_fsdd.speakers[test].tolist()))
    assert set(per_cell.values()) == {5} and len(per_cell) == 60


def test_real_leave_one_speaker_out(real_fsdd):
    folds = list(leave_one_speaker_out(real_fsdd))
    assert [s for s, _, _ in folds] == list(data.FSDD_SPEAKERS)
    held_out = []
    for speaker, train, test in folds:
        assert (len(train), len(test)) == (2500, 500)
        assert set(real_fsdd.speakers[test].tolist()) == {speaker}
        assert speaker not in set(real_fsdd.speakers[train].tolist())
        held_out.extend(test.tolist())
    assert sorted(held_out) == list(range(3000))


def test_a_killed_download_is_cleaned_up_later(fake_recordings, tmp_path):
    cache = tmp_path / "cache"
    stale = cache / ".fsdd-download-old"
    (stale / "fsdd" / "recordings").mkdir(parents=True)
    os.utime(stale, (0, 0))  # untouched since 1970: its process is long gone
    fresh = cache / ".fsdd-download-running"
    fresh.mkdir()  # another process downloading right now
    archive = tmp_path / "fsdd.tar.gz"
    archive.write_bytes(make_archive(fake_recordings))
    download_fsdd(cache, url=archive.as_uri(), sha256=recordings_digest(fake_recordings))
    assert not stale.exists() and fresh.exists()


# --------------------------------------------------------------------------- connected digits


def locate(waveform, recordings, low, high):
    """Start of each recording, found verbatim and in order, with silence (zeros) of low..high samples
    before, between and after them; None if there is no such placement."""
    nonzero = np.flatnonzero(waveform)

    def search(j, position):
        # the silence after `position` ends at the next nonzero sample at the latest
        later = nonzero[np.searchsorted(nonzero, position):]
        first_sound = int(later[0]) if later.size else len(waveform)
        if j == len(recordings):
            return [] if low <= len(waveform) - position <= high and first_sound == len(waveform) else None
        recording = recordings[j]
        first, last = position + low, min(position + high, first_sound, len(waveform) - len(recording))
        candidates = first + np.flatnonzero(waveform[first:last + 1] == recording[0]) if last >= first else []
        for start in candidates:
            if np.array_equal(waveform[start:start + len(recording)], recording):
                rest = search(j + 1, start + len(recording))
                if rest is not None:
                    return [start] + rest
        return None

    return search(0, 0)


def check_corpus(corpus, fsdd, indices, n_utterances, min_digits=2, max_digits=5, gap=(0.05, 0.3)):
    """Everything connected_digits promises about each utterance."""
    assert len(corpus) == n_utterances
    assert len(corpus.waveforms) == len(corpus.labels) == len(corpus.sources) == len(corpus.speakers) == n_utterances
    assert corpus.sample_rate == fsdd.sample_rate
    low, high = int(np.floor(gap[0] * fsdd.sample_rate)), int(np.ceil(gap[1] * fsdd.sample_rate))
    allowed = set(np.asarray(indices).tolist())
    for u in range(n_utterances):
        sources = np.asarray(corpus.sources[u])
        assert min_digits <= len(sources) <= max_digits
        assert set(sources.tolist()) <= allowed, "a recording outside indices"
        np.testing.assert_array_equal(corpus.labels[u], fsdd.digits[sources])
        assert set(fsdd.speakers[sources].tolist()) == {corpus.speakers[u]}, "one speaker per utterance"
        waveform = corpus.waveforms[u]
        assert waveform.dtype == np.float32 and waveform.ndim == 1
        recordings = [fsdd.waveforms[i] for i in sources]
        total = sum(len(r) for r in recordings)
        assert total + (len(sources) + 1) * low <= len(waveform) <= total + (len(sources) + 1) * high
        starts = locate(waveform, recordings, low, high)
        assert starts is not None, f"utterance {u}: the recordings are not there verbatim, in order, between silences"
        ends = [s + len(r) for s, r in zip(starts, recordings)]
        np.testing.assert_array_equal(corpus.boundaries[u], np.array([starts, ends]).T.reshape(-1, 2))


def test_connected_digits_join_recordings_of_one_speaker(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    indices = np.flatnonzero(fsdd.takes < 4)
    corpus = data.connected_digits(fsdd, indices, 200, rng=np.random.default_rng(0))
    check_corpus(corpus, fsdd, indices, 200)
    # drawn uniformly: every length, both speakers, every allowed recording turn up in 200 utterances
    assert Counter(len(s) for s in corpus.sources).keys() == {2, 3, 4, 5}
    assert 60 < Counter(corpus.speakers.tolist())["alice"] < 140
    assert set(np.concatenate(corpus.sources).tolist()) == set(indices.tolist())


def test_connected_digits_other_lengths_and_gaps(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    indices = np.flatnonzero(fsdd.takes >= 4)
    corpus = data.connected_digits(fsdd, indices, 30, min_digits=3, max_digits=3, gap=(0.01, 0.02),
                                   rng=np.random.default_rng(1))
    check_corpus(corpus, fsdd, indices, 30, 3, 3, (0.01, 0.02))
    one = data.connected_digits(fsdd, indices, 20, min_digits=1, max_digits=1, gap=(0.0, 0.0),
                                rng=np.random.default_rng(2))
    for waveform, sources in zip(one.waveforms, one.sources):
        assert len(sources) == 1
        np.testing.assert_array_equal(waveform, fsdd.waveforms[sources[0]])  # no silence at all


def test_connected_digits_use_only_speakers_in_indices(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    indices = np.flatnonzero(fsdd.speakers == "bob")
    corpus = data.connected_digits(fsdd, indices, 25, rng=np.random.default_rng(3))
    assert set(corpus.speakers.tolist()) == {"bob"}
    check_corpus(corpus, fsdd, indices, 25)


def test_connected_digits_same_seed_same_corpus(fake_recordings):
    fsdd = load_fsdd(fake_recordings)
    indices = np.arange(len(fsdd))
    a, b, c = (data.connected_digits(fsdd, indices, 15, rng=np.random.default_rng(seed)) for seed in (5, 5, 6))
    for u in range(15):
        np.testing.assert_array_equal(a.waveforms[u], b.waveforms[u])
        np.testing.assert_array_equal(a.sources[u], b.sources[u])
        np.testing.assert_array_equal(a.labels[u], b.labels[u])
    np.testing.assert_array_equal(a.speakers, b.speakers)
    assert [s.tolist() for s in a.sources] != [s.tolist() for s in c.sources]
    assert any(len(x) != len(y) or not np.array_equal(x, y) for x, y in zip(a.waveforms, c.waveforms))


def test_real_connected_digits_keep_train_and_test_apart(real_fsdd):
    train, test = official_split(real_fsdd)
    for indices, seed in ((train, 0), (test, 1)):
        corpus = data.connected_digits(real_fsdd, indices, 12, rng=np.random.default_rng(seed))
        check_corpus(corpus, real_fsdd, indices, 12)
    test_corpus = data.connected_digits(real_fsdd, test, 100, rng=np.random.default_rng(2))
    assert set(np.concatenate(test_corpus.sources).tolist()) <= set(test.tolist())
    assert set(real_fsdd.takes[np.concatenate(test_corpus.sources)].tolist()) <= set(range(5))


@pytest.mark.parametrize(
    "changes, error, match",
    [
        (dict(fsdd="fsdd"), TypeError, "fsdd"),
        (dict(indices=np.array([], dtype=np.int64)), ValueError, "indices"),
        (dict(indices=np.array([0, 10_000])), ValueError, "indices"),
        (dict(indices=np.array([-1, 0])), ValueError, "indices"),
        (dict(indices=np.array([0.0, 1.0])), (TypeError, ValueError), "indices"),
        (dict(n_utterances=0), ValueError, "n_utterances"),
        (dict(n_utterances=2.5), TypeError, "n_utterances"),
        (dict(min_digits=0), ValueError, "min_digits"),
        (dict(min_digits=4, max_digits=3), ValueError, "max_digits"),
        (dict(gap=(0.3, 0.05)), ValueError, "gap"),
        (dict(gap=(-0.1, 0.2)), ValueError, "gap"),
        (dict(gap=0.1), ValueError, "gap"),
        (dict(rng=0), TypeError, "rng"),
    ],
)
def test_connected_digits_bad_arguments(fake_recordings, changes, error, match):
    fsdd = load_fsdd(fake_recordings)

    def call(**changes):
        kwargs = dict(fsdd=fsdd, indices=np.arange(len(fsdd)), n_utterances=3, rng=np.random.default_rng(0))
        kwargs.update(changes)
        return data.connected_digits(kwargs.pop("fsdd"), kwargs.pop("indices"), kwargs.pop("n_utterances"), **kwargs)

    assert len(call()) == 3  # the unchanged call is fine
    with pytest.raises(error, match=match):
        call(**changes)


def test_index_finds_a_recording_by_its_labels(fake_recordings):
    fsdd = data.load_fsdd(fake_recordings)
    for i in range(len(fsdd)):
        assert fsdd.index(int(fsdd.digits[i]), str(fsdd.speakers[i]), int(fsdd.takes[i])) == i
    assert fsdd.paths[fsdd.index(3, "bob", 4)].name == "3_bob_4.wav"
    assert fsdd.index(7, "alice") == fsdd.index(7, "alice", 0)
    with pytest.raises(KeyError, match="digit 5 by speaker 'alice'"):
        fsdd.index(5, "alice")           # digit 5 is not in the fake data
    with pytest.raises(KeyError, match="speakers: \\['alice', 'bob'\\]"):
        fsdd.index(3, "carol")

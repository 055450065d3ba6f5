"""The SQLite cache under stress: broken, locked and unwritable files, and many writers at once.

A cache is never a point of failure: each broken state gives a CacheWarning
and a miss, and a client call with that cache still reaches the provider and
returns its text. Many threads and processes writing at once lose nothing and
tear nothing.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import sqlite3
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import pytest

from llm_client import CacheWarning, FakeProvider, LLMClient, LLMRequest, SQLiteCache, make_cache_key

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="m", prompt="What is cached?")
ANSWER = "fresh from the provider"


def value_for(writer: int, index: int) -> str:
    """A long value (about 8 KB, several SQLite pages) that is unique to its key, so tearing shows."""
    seed = hashlib.sha256(f"{writer}:{index}".encode()).hexdigest()
    return f"<{writer}:{index}>" + seed * 128 + f"</{writer}:{index}>"


def key_for(writer: int, index: int) -> str:
    return f"writer-{writer}-entry-{index}"


def _client_call_goes_through(cache: SQLiteCache) -> None:
    """A call with ``cache`` reaches the provider, returns its text, and warns about the cache."""
    provider = FakeProvider([ANSWER])
    client = LLMClient(provider, cache=cache, sleep=lambda seconds: None)
    with pytest.warns(CacheWarning):
        assert client.call(REQ) == ANSWER
    assert provider.call_count == 1


# -- broken files ---------------------------------------------------------------------------


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database\x00\xff" * 200)


def _bad_header(path: Path) -> None:
    path.write_bytes(b"SQLite format 3\x00" + b"\xde\xad\xbe\xef" * 1000)


def _corrupt_pages(path: Path) -> None:
    cache = SQLiteCache(path)
    for i in range(50):
        cache.set(key_for(0, i), value_for(0, i))
    cache.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = b"\xa5" * (4096 - 100)  # the schema page, after the file header
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("spoil", [_garbage, _bad_header, _corrupt_pages], ids=["garbage", "bad-header", "pages"])
def test_a_corrupt_file_warns_misses_and_the_call_goes_through(tmp_path: Path, spoil: object) -> None:
    path = tmp_path / "cache.db"
    spoil(path)  # type: ignore[operator]
    cache = SQLiteCache(path, timeout_s=0.05)
    with pytest.warns(CacheWarning):
        assert cache.get(key_for(0, 1)) is None
    with pytest.warns(CacheWarning):
        cache.set("k", "v")
    _client_call_goes_through(cache)


def _prepared(path: Path) -> None:
    cache = SQLiteCache(path)
    cache.set("present", "stored before the lock")
    cache.close()


def test_a_database_locked_by_another_connection_warns_misses_and_the_call_goes_through(tmp_path: Path) -> None:
    """Another connection holds the file in EXCLUSIVE locking mode: nothing can be read or written."""
    path = tmp_path / "cache.db"
    _prepared(path)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA locking_mode=EXCLUSIVE")
    locker.execute("BEGIN EXCLUSIVE")
    try:
        cache = SQLiteCache(path, timeout_s=0.05)
        with pytest.warns(CacheWarning, match="locked"):
            assert cache.get("present") is None
        with pytest.warns(CacheWarning, match="locked"):
            cache.set("written during the lock", "value")
        _client_call_goes_through(cache)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert cache.get("present") == "stored before the lock", "the cache did not recover after the lock"
        assert cache.get("written during the lock") is None  # the failed write left nothing behind


def test_a_write_lock_held_elsewhere_drops_the_write_with_a_warning_but_reads_go_on(tmp_path: Path) -> None:
    """Another connection is inside an EXCLUSIVE transaction: reads are served (WAL), writes warn and miss."""
    path = tmp_path / "cache.db"
    _prepared(path)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        cache = SQLiteCache(path, timeout_s=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("error", CacheWarning)
            assert cache.get("present") == "stored before the lock"
        with pytest.warns(CacheWarning, match="locked"):
            cache.set("dropped", "written during the lock")
        _client_call_goes_through(cache)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert cache.get("dropped") is None
        cache.set("after", "written after the lock")
        assert cache.get("after") == "written after the lock"


@pytest.mark.parametrize(
    "raw", ["not json {", '{"an": "object"}', "42", "null", ""], ids=["not-json", "object", "number", "null", "empty"]
)
def test_a_stored_value_that_is_not_a_json_string_warns_misses_and_is_replaced(tmp_path: Path, raw: str) -> None:
    path = tmp_path / "cache.db"
    cache = SQLiteCache(path, timeout_s=0.05)
    key = make_cache_key(REQ)
    cache.set("other", "untouched")
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT OR REPLACE INTO llm_cache (key, value) VALUES (?, ?)", (key, raw))
    with pytest.warns(CacheWarning):
        assert cache.get(key) is None
    _client_call_goes_through(cache)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert cache.get(key) == ANSWER  # the good answer replaced the bad entry
        assert cache.get("other") == "untouched"


def _under_a_regular_file(tmp_path: Path) -> Path:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    return blocker / "cache.db"


def _a_directory(tmp_path: Path) -> Path:
    directory = tmp_path / "cache.db"
    directory.mkdir()
    return directory


def _under_proc(tmp_path: Path) -> Path:
    return Path("/proc/llm-client-cache-test/cache.db")


def _read_only_directory(tmp_path: Path) -> Path:
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o500)
    return directory / "cache.db"


UNWRITABLE = [
    pytest.param(_under_a_regular_file, id="under-a-regular-file"),
    pytest.param(_a_directory, id="path-is-a-directory"),
    pytest.param(
        _under_proc,
        id="under-proc",
        marks=pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc on this system"),
    ),
    pytest.param(
        _read_only_directory,
        id="read-only-directory",
        marks=pytest.mark.skipif(
            hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through directory permissions"
        ),
    ),
]


@pytest.mark.parametrize("location", UNWRITABLE)
def test_an_unwritable_location_warns_misses_and_the_call_goes_through(tmp_path: Path, location: object) -> None:
    path = location(tmp_path)  # type: ignore[operator]
    cache = SQLiteCache(path, timeout_s=0.05)
    try:
        with pytest.warns(CacheWarning):
            assert cache.get("k") is None
        with pytest.warns(CacheWarning):
            cache.set("k", "v")
        _client_call_goes_through(cache)
    finally:
        if path.parent.name == "read-only":
            path.parent.chmod(0o700)


# -- a file this process may not write ------------------------------------------------------


def _writes_refused(monkeypatch: pytest.MonkeyPatch, path: Path) -> None:
    """Make the OS refuse writes to ``path`` as for a file owned by someone else, even as root
    (who ignores permission bits): every read-write open of it is read-only underneath."""
    real_connect = sqlite3.connect

    def connect(database: object, *args: object, uri: bool = False, **kwargs: object) -> sqlite3.Connection:
        if not uri and Path(str(database)).absolute() == path.absolute():
            return real_connect(f"file:{path.absolute()}?mode=ro", *args, uri=True, **kwargs)  # type: ignore[arg-type]
        return real_connect(database, *args, uri=uri, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", connect)


def _rollback_journal_file(path: Path) -> None:
    """A cache file as another tool might leave it: not in WAL mode (switching needs a write)."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE llm_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO llm_cache VALUES (?, ?)", (make_cache_key(REQ), json.dumps(ANSWER)))
    conn.close()


@pytest.mark.parametrize("state", ["closed", "wal_left_behind", "rollback_journal"])
def test_a_read_only_cache_file_still_serves_its_answers_and_writes_warn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, state: str
) -> None:
    path = tmp_path / "shared.sqlite"
    writer = SQLiteCache(path)
    if state == "rollback_journal":
        _rollback_journal_file(path)
    else:
        writer.set(make_cache_key(REQ), ANSWER)
    if state == "closed":
        writer.close()
    _writes_refused(monkeypatch, path)
    cache = SQLiteCache(path)
    provider = FakeProvider(["a fresh answer"])
    client = LLMClient(provider, cache=cache, sleep=lambda seconds: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert client.call(REQ) == ANSWER, "the stored answer is served"
    assert provider.call_count == 0
    other = LLMRequest(model="m", prompt="not cached yet")
    with pytest.warns(CacheWarning, match="read-?only"):
        assert client.call(other) == "a fresh answer"
    assert provider.call_count == 1
    writer.close()


# -- many writers at once -------------------------------------------------------------------


def _assert_every_entry_intact(path: Path, expected: dict[str, str]) -> None:
    """Read back through a fresh cache and through raw SQL: every key, exactly its value, nothing else."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        fresh = SQLiteCache(path)
        for key, value in expected.items():
            assert fresh.get(key) == value, f"{key} lost or torn"
        assert len(fresh) == len(expected)
        fresh.close()
    with sqlite3.connect(path) as conn:
        rows = dict(conn.execute("SELECT key, value FROM llm_cache"))
    assert {key: json.loads(value) for key, value in rows.items()} == expected


THREADS = 8
WRITES_PER_THREAD = 200
SHARED_KEYS = 5  # written by every thread: the last write wins, whole


def test_many_threads_writing_at_once_lose_and_tear_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    cache = SQLiteCache(path)  # one object shared by every thread, as an application would
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def writer(number: int) -> None:
        try:
            start.wait()
            for index in range(WRITES_PER_THREAD):
                cache.set(key_for(number, index), value_for(number, index))
                if index % 40 == 0:
                    cache.set(f"shared-{index // 40}", value_for(number, index))
                    assert cache.get(key_for(number, index)) == value_for(number, index)
            cache.close()
        except BaseException as exc:
            failures.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert failures == []
    assert [w for w in caught if issubclass(w.category, CacheWarning)] == [], "a write was dropped"

    expected = {key_for(n, i): value_for(n, i) for n in range(THREADS) for i in range(WRITES_PER_THREAD)}
    fresh = SQLiteCache(path)
    for shared in range(SHARED_KEYS):
        value = fresh.get(f"shared-{shared}")
        candidates = {value_for(n, shared * 40) for n in range(THREADS)}
        assert value in candidates, f"shared-{shared} is torn or lost"
        expected[f"shared-{shared}"] = value
    fresh.close()
    _assert_every_entry_intact(path, expected)


PROCESSES = 4
WRITES_PER_PROCESS = 200

_CHILD = """
import sys, hashlib, warnings
from llm_client import SQLiteCache, CacheWarning
{helpers}
path, number, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
warnings.simplefilter("error", CacheWarning)  # a dropped write fails the child
cache = SQLiteCache(path)
print("ready", flush=True)
sys.stdin.readline()  # wait until every process is ready, then write together
for index in range(count):
    cache.set(key_for(number, index), value_for(number, index))
    cache.set("shared", value_for(number, index))
print("done", flush=True)
"""


def test_many_processes_writing_at_once_lose_and_tear_nothing(tmp_path: Path) -> None:
    path = tmp_path / "cache.db"
    SQLiteCache(path).set("created", "before the writers")  # the table exists before the race starts
    script = _CHILD.format(helpers=inspect.getsource(value_for) + inspect.getsource(key_for))
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), str(number), str(WRITES_PER_PROCESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,  # not the repository root, whose llm_client/ would shadow the package under test
        )
        for number in range(PROCESSES)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "ready", child.stderr.read() if child.stderr else ""
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = [child.communicate(timeout=120) for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    for child, (out, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert out.strip() == "done"

    expected = {key_for(n, i): value_for(n, i) for n in range(PROCESSES) for i in range(WRITES_PER_PROCESS)}
    expected["created"] = "before the writers"
    last_values = {value_for(n, WRITES_PER_PROCESS - 1) for n in range(PROCESSES)}
    shared = SQLiteCache(path).get("shared")
    assert shared in last_values, "the shared key holds a torn value or not the last write of any process"
    expected["shared"] = shared
    _assert_every_entry_intact(path, expected)

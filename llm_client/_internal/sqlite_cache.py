"""A cache in an SQLite file, shared by threads and processes.

Values are stored as JSON text, never pickled, so a cache file can be read
(and cannot run code). A cache is an optimisation, never a point of failure:
when the file is corrupt, locked or holds a value that is not valid JSON, the
cache warns (``warnings.warn`` with :class:`~llm_client.caches.CacheWarning`
and a ``llm.cache_error`` log line) and behaves as a miss, and the call goes
through to the provider. A read-only file still serves what it holds; only
writes warn.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import urllib.parse
from pathlib import Path

from llm_client._internal.cache_values import decoded, encoded
from llm_client._internal.caller import warn_at_caller
from llm_client._internal.checks import check_number
from llm_client.caches import CacheWarning, _check_entry
from llm_client.logs import log_event

__all__ = ["SQLiteCache"]


def _is_read_only_error(exc: sqlite3.OperationalError) -> bool:
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text


class SQLiteCache:
    """A cache in an SQLite file, shared safely by threads and processes.

    ``path`` is the database file (created with its table on first use).
    ``timeout_s`` is how long, in seconds, a write waits for another writer's
    lock before the cache gives up on that write (a warning and no caching).
    Each thread of each process uses its own connection. The file is in WAL
    mode (it gets ``-wal`` and ``-shm`` companions; keep it on a local disk):
    reads go on while another connection writes. A file this process cannot
    write (read-only file or folder) is opened read-only: its answers are
    served, and each write warns instead.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout_s: float = 5.0) -> None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        if not str(path):
            raise ValueError("path must not be empty")
        self.path = Path(path)
        self.timeout_s = check_number("timeout_s", timeout_s, strictly_positive=True)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"SQLiteCache({str(self.path)!r})"

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        pid: int | None = getattr(self._local, "pid", None)
        if conn is None or pid != os.getpid():  # a forked child needs its own
            try:
                conn = self._open_read_write()
                self._local.read_only = False
            except sqlite3.OperationalError as exc:
                if not _is_read_only_error(exc) or not self.path.is_file():
                    raise
                conn = self._open_read_only()
                self._local.read_only = True
            self._local.conn = conn
            self._local.pid = os.getpid()
        return conn

    def _open_read_write(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            # WAL: readers never wait for a writer, and a commit is one append to the log
            # (synchronous=NORMAL: no fsync per write; a cache may lose its last writes
            # on power loss, never its consistency), so many writers rarely wait long.
            self._use_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS llm_cache (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        """Open a file this process may not write: read-only, else immutable (a WAL file in a
        read-only folder cannot make its ``-shm`` companion, so it is read as it stands)."""
        base = "file:" + urllib.parse.quote(str(self.path.absolute()))
        for mode in ("?mode=ro", "?mode=ro&immutable=1"):
            conn = sqlite3.connect(base + mode, uri=True, timeout=self.timeout_s, isolation_level=None)
            try:
                conn.execute("SELECT 1 FROM llm_cache LIMIT 1").fetchall()
            except sqlite3.Error as exc:
                conn.close()
                last: sqlite3.Error = exc
                continue
            return conn
        raise last

    def _use_wal(self, conn: sqlite3.Connection) -> None:
        """Switch the file to WAL, waiting up to ``timeout_s`` for connections opening it at the same time.

        SQLite reports "database is locked" at once, without waiting, when two
        connections switch a new file's journal mode together; so wait here.
        """
        give_up = time.monotonic() + self.timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= give_up:
                    raise
                time.sleep(0.005)

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _warn(self, action: str, exc: BaseException) -> None:
        message = f"SQLiteCache {action} failed for {str(self.path)!r}: {type(exc).__name__}: {exc}; treated as a miss"
        warn_at_caller(message, CacheWarning)
        log_event(logging.WARNING, "llm.cache_error", error_type=type(exc).__name__, reason=action)

    def get(self, key: str) -> str | None:
        _check_entry(key)
        try:
            row = self._connection().execute("SELECT value FROM llm_cache WHERE key = ?", (key,)).fetchone()
        except sqlite3.Error as exc:
            self._drop_connection()
            self._warn("read", exc)
            return None
        if row is None:
            return None
        try:
            return decoded(row[0])
        except (TypeError, ValueError) as exc:
            self._warn("decode", exc)
            return None

    def set(self, key: str, value: str) -> None:
        _check_entry(key, value)
        stored = encoded(value)
        try:
            conn = self._connection()
            if getattr(self._local, "read_only", False):
                raise sqlite3.OperationalError("the cache file is read-only here: answers are served, not stored")
            conn.execute(
                "INSERT OR REPLACE INTO llm_cache (key, value) VALUES (?, ?)", (key, stored)
            )
        except sqlite3.Error as exc:
            self._drop_connection()
            self._warn("write", exc)

    def __len__(self) -> int:
        try:
            row = self._connection().execute("SELECT COUNT(*) FROM llm_cache").fetchone()
        except sqlite3.Error as exc:
            self._drop_connection()
            self._warn("count", exc)
            return 0
        return int(row[0])

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        self._drop_connection()

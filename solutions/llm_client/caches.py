"""Where answers are kept so the same request is never paid for twice.

A cache maps a cache key (see :func:`llm_client.make_cache_key`) to the text
of a successful answer. Two implementations share one small protocol:

- :class:`MemoryCache`: a dict, for one process.
- ``SQLiteCache``: a file, shared by threads and processes (in
  ``llm_client/_internal/sqlite_cache.py``: what a file shared by processes
  needs is not the lesson).

A cache is an optimisation, never a point of failure: a cache that cannot be
read or written warns with :class:`CacheWarning` and behaves as a miss, and
the call goes through to the provider.
"""

from __future__ import annotations

import threading
from typing import Protocol, runtime_checkable

__all__ = ["Cache", "CacheWarning", "MemoryCache"]


class CacheWarning(RuntimeWarning):
    """The cache could not be read or written; the call went on without it."""


@runtime_checkable
class Cache(Protocol):
    """What the client needs of a cache."""

    def get(self, key: str) -> str | None:
        """Return the text stored under ``key``, or None on a miss."""
        ...

    def set(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any earlier value."""
        ...


def _check_entry(key: object, value: object = "") -> None:
    if not isinstance(key, str):
        raise TypeError(f"key must be a str, got {type(key).__name__}")
    if not isinstance(value, str):
        raise TypeError(f"value must be a str, got {type(value).__name__}")


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class MemoryCache:
    """A cache in a dict, safe to share between threads of one process."""

    def __init__(self) -> None:
        self._store: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        _check_entry(key)
        with self._lock:
            return self._store.get(key)

    def set(self, key: str, value: str) -> None:
        _check_entry(key, value)
        with self._lock:
            self._store[key] = value

    def __len__(self) -> int:
        with self._lock:
            return len(self._store)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._store

    def __repr__(self) -> str:
        return f"MemoryCache(entries={len(self)})"

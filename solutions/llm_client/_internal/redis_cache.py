"""A cache in Redis, shared by every worker on every machine that uses the same Redis.

It keeps every promise of :class:`~llm_client._internal.sqlite_cache.SQLiteCache`:
values are JSON text, never pickled; a cache is an optimisation, never a
point of failure. A Redis that is down, slow (every call gives up after
``timeout_s``), full (``maxmemory`` with no eviction) or holding a value that
is not a JSON string makes the cache warn (:class:`~llm_client.caches.CacheWarning`
and a ``llm.cache_error`` log line) and behave as a miss; the call goes
through to the provider. Keys are the client's scoped cache keys, under a
``namespace`` prefix; ``ttl_s`` makes Redis forget an answer after that long.
"""

from __future__ import annotations

import logging
import math

from llm_client._internal.cache_values import decoded, encoded
from llm_client._internal.caller import warn_at_caller
from llm_client._internal.checks import check_number
from llm_client._internal.redis_support import check_url, connect, redis_errors
from llm_client.caches import CacheWarning, _check_entry
from llm_client.logs import log_event

__all__ = ["RedisCache"]


class RedisCache:
    """A cache in Redis, shared by threads, processes and machines.

    - ``url``: ``redis://host:port/db``, ``rediss://...`` or ``unix:///path/redis.sock``.
    - ``ttl_s``: None (keep until Redis evicts it), or the seconds an answer is kept (> 0; whole
      milliseconds at least).
    - ``timeout_s``: the most one Redis call may take, connect included (> 0; 0.25 s by default).
    - ``namespace``: the prefix of every key (``"llm_client:cache:"``), so one Redis can hold other data.

    redis-py must be installed (the ``redis`` extra). Nothing is sent to Redis until the first get or set.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl_s: float | None = None,
        timeout_s: float = 0.25,
        namespace: str = "llm_client:cache:",
    ) -> None:
        self.url = check_url(url)
        self.ttl_s = None if ttl_s is None else check_number("ttl_s", ttl_s, strictly_positive=True)
        self.timeout_s = check_number("timeout_s", timeout_s, strictly_positive=True, maximum=60.0)
        if not isinstance(namespace, str):
            raise TypeError(f"namespace must be a str, got {type(namespace).__name__}")
        self.namespace = namespace
        self._redis = connect(self.url, self.timeout_s, "RedisCache")
        self._errors = redis_errors()

    def __repr__(self) -> str:
        return f"RedisCache({self.url!r})"

    def _warn(self, action: str, exc: BaseException) -> None:
        message = f"RedisCache {action} failed for {self.url!r}: {type(exc).__name__}: {exc}; treated as a miss"
        warn_at_caller(message, CacheWarning)
        log_event(logging.WARNING, "llm.cache_error", error_type=type(exc).__name__, reason=action)

    def get(self, key: str) -> str | None:
        _check_entry(key)
        try:
            raw = self._redis.get(self.namespace + key)
        except self._errors as exc:
            self._warn("read", exc)
            return None
        if raw is None:
            return None
        try:
            return decoded(raw)
        except (TypeError, ValueError) as exc:
            self._warn("decode", exc)
            return None

    def set(self, key: str, value: str) -> None:
        _check_entry(key, value)
        stored = encoded(value)
        px = None if self.ttl_s is None else max(1, math.ceil(self.ttl_s * 1000))
        try:
            self._redis.set(self.namespace + key, stored.encode("utf-8"), px=px)
        except self._errors as exc:
            self._warn("write", exc)

    def __len__(self) -> int:
        """How many answers the namespace holds (a SCAN of the keys: for tests and notebooks, not hot paths)."""
        try:
            return sum(1 for _ in self._redis.scan_iter(match=_glob_escape(self.namespace) + "*", count=1000))
        except self._errors as exc:
            self._warn("count", exc)
            return 0

    def clear(self) -> None:
        """Delete every answer of the namespace (Redis errors warn)."""
        try:
            keys = list(self._redis.scan_iter(match=_glob_escape(self.namespace) + "*", count=1000))
            if keys:
                self._redis.delete(*keys)
        except self._errors as exc:
            self._warn("clear", exc)

    def close(self) -> None:
        """Close the connections to Redis (a later call opens new ones)."""
        self._redis.close()


def _glob_escape(text: str) -> str:
    """``text`` matched literally by a Redis glob pattern (SCAN MATCH)."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)

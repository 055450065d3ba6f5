"""What :class:`~llm_client._internal.shared_limiter.SharedLimiter` and
:class:`~llm_client._internal.redis_cache.RedisCache` need of redis-py, imported only when one is made.

redis-py is an optional extra (``pip install 'llm-client-course[redis]'``):
``import llm_client`` never needs it. Every connection made here is bounded
in time: a connect and every command give up after ``timeout_s``, and
redis-py's own retries are turned off, so a Redis that is down or hung costs
one short timeout, never more.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_url", "connect", "redis_errors"]

_MISSING = (
    "{what} needs the redis package (redis-py), which is an optional extra: "
    "pip install 'llm-client-course[redis]' (or pip install redis)"
)


def check_url(url: object) -> str:
    """``url`` if it is a non-empty str (``redis://host:port/db``, ``rediss://``, ``unix:///path``)."""
    if not isinstance(url, str):
        raise TypeError(f"url must be a str (redis://host:port/0 or unix:///path), got {type(url).__name__}")
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"url must start with redis://, rediss:// or unix://, got {url!r}")
    return url


def connect(url: str, timeout_s: float, what: str) -> Any:
    """A redis-py client for ``url`` whose connects and commands each give up after ``timeout_s`` seconds.

    ``what`` names the caller in the ImportError raised when redis-py is not installed.
    """
    try:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
    except ImportError as exc:
        raise ImportError(_MISSING.format(what=what)) from exc
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        retry_on_timeout=False,
        decode_responses=False,
    )


def redis_errors() -> tuple[type[BaseException], ...]:
    """What a Redis that is down, slow, full or broken raises through redis-py (and the OS beneath it)."""
    import redis

    return (redis.RedisError, OSError)

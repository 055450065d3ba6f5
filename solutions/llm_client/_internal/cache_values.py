"""How a cache file or a shared cache stores an answer: as JSON text, never pickled, so it can be read and
cannot run code. Shared by SQLiteCache and RedisCache."""

from __future__ import annotations

import json

from llm_client.caches import _is_utf8

__all__ = ["decoded", "encoded"]


def encoded(value: str) -> str:
    """``value`` as JSON text; a lone surrogate (which a JSON body can escape) is not UTF-8, so it stays
    \\u-escaped."""
    return json.dumps(value, ensure_ascii=not _is_utf8(value))


def decoded(raw: str | bytes | bytearray) -> str:
    """The answer stored as ``raw``; ValueError or TypeError when it is not JSON text holding a string."""
    value = json.loads(raw)
    if not isinstance(value, str):
        raise TypeError(f"stored value is {type(value).__name__}, not str")
    return value

"""The cache key of a request (exercise 2): one key per effective input, the same in every process."""

from __future__ import annotations

import hashlib  # needed by ex2  # noqa: F401
import json  # needed by ex2  # noqa: F401
import math
from dataclasses import fields  # needed by ex2  # noqa: F401
from typing import Any

from llm_client.request import LLMRequest

__all__ = ["make_cache_key"]


def _canonical(value: Any) -> Any:
    """Map values that mean the same to one JSON value: 0 and 0.0 both become 0.0."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"cannot key a non-finite number: {value!r}")
        return number
    if isinstance(value, (tuple, list)):
        return [_canonical(item) for item in value]
    raise TypeError(f"cannot key a value of type {type(value).__name__}")


def make_cache_key(req: LLMRequest) -> str:
    """Return the cache key of ``req``: the SHA-256 hex digest (64 lowercase hex characters)
    of a canonical JSON text of every field of the request.

    Two requests that could get different answers get different keys: every
    field counts (model, prompt, system_prompt, temperature, max_tokens, top_p,
    stop, reasoning_effort, and any field added to LLMRequest later), and a
    setting left unset (None, never sent) differs from every value it could
    take, whatever the provider's default is (``max_tokens=None`` is not 4096,
    ``reasoning_effort=None`` not "medium"). The same effective input gets the
    same key in every process, for every PYTHONHASHSEED (so never ``hash()``),
    and on every machine: caches are shared through SQLite files and Redis, so
    the key holds only the request, never the host name, an API key or any
    other secret.

    Examples: a system prompt of "You are a pirate." and one of "You are a
    poet." give different keys; ``temperature=None`` and ``temperature=0``
    differ; ``temperature=0`` and ``temperature=0.0`` agree, and so do
    ``stop=["END"]`` and ``stop=("END",)``.
    """
    if not isinstance(req, LLMRequest):
        raise TypeError(f"req must be an LLMRequest, got {type(req).__name__}")
    # TODO(ex2): write make_cache_key; notebooks/02_ex2_cache_key.ipynb walks you through it.
    raise NotImplementedError("ex2: make_cache_key is not written yet (see notebooks/02_ex2_cache_key.ipynb)")

"""llm_client: a small, reliable client for LLM APIs.

Given a request, return text or raise a clear error: with bounded waiting
(timeouts and a deadline), bounded retries with backoff and jitter, Retry-After
honoured, caching of successes only, and log lines that show their fields.

The public names: the clients, the request, the errors, the providers, the
caches, the batch runners and the limiters, ``enable_logging``, and the
functions the exercises write. Each is imported from its module on first use,
so one exercise's file never stops another's from loading.
"""

from __future__ import annotations

import logging as _logging
from typing import TYPE_CHECKING, Any

from llm_client import _lazy

if TYPE_CHECKING:
    from llm_client.adaptive import AdaptiveLimiter
    from llm_client.async_client import AsyncLLMClient
    from llm_client.backoff import add_jitter, backoff_delay
    from llm_client.batch import arun_batch, run_batch
    from llm_client.cache_key import make_cache_key
    from llm_client.caches import Cache, CacheWarning, MemoryCache, SQLiteCache
    from llm_client.client import LLMClient
    from llm_client.errors import (
        AuthenticationError,
        ConfigurationError,
        ContentRefusedError,
        DeadlineExceededError,
        InvalidRequestError,
        LLMConnectionError,
        LLMError,
        LLMTimeoutError,
        MalformedResponseError,
        ProviderError,
        QuotaExceededError,
        RateLimitError,
        RedirectError,
        ResponseTooLargeError,
        RetriesExhaustedError,
        ServerError,
        StructuredOutputError,
        TruncatedAnswerWarning,
    )
    from llm_client.limiter import RateLimiter, TokenBucket, estimate_tokens
    from llm_client.logs import enable_logging
    from llm_client.providers import (
        AnthropicProvider,
        AsyncProvider,
        FakeProvider,
        LLMResponse,
        OpenAIProvider,
        Provider,
    )
    from llm_client.request import LLMRequest
    from llm_client.retry import rate_limit_delay
    from llm_client.retry_after import parse_retry_after
    from llm_client.structured import parse_structured

#: Each module, and the names it exports here: imported on the first use of one of them.
_EXPORTS = _lazy.by_name(
    {
        "llm_client.client": ("LLMClient",),
        "llm_client.async_client": ("AsyncLLMClient",),
        "llm_client.request": ("LLMRequest",),
        "llm_client.errors": (
            "AuthenticationError",
            "ConfigurationError",
            "ContentRefusedError",
            "DeadlineExceededError",
            "InvalidRequestError",
            "LLMConnectionError",
            "LLMError",
            "LLMTimeoutError",
            "MalformedResponseError",
            "ProviderError",
            "QuotaExceededError",
            "RateLimitError",
            "RedirectError",
            "ResponseTooLargeError",
            "RetriesExhaustedError",
            "ServerError",
            "StructuredOutputError",
            "TruncatedAnswerWarning",
        ),
        "llm_client.providers": (
            "AnthropicProvider",
            "AsyncProvider",
            "FakeProvider",
            "LLMResponse",
            "OpenAIProvider",
            "Provider",
        ),
        "llm_client.caches": ("Cache", "CacheWarning", "MemoryCache", "SQLiteCache"),
        "llm_client.batch": ("arun_batch", "run_batch"),
        "llm_client.limiter": ("RateLimiter", "TokenBucket", "estimate_tokens"),
        "llm_client.adaptive": ("AdaptiveLimiter",),
        "llm_client.logs": ("enable_logging",),
        "llm_client.cache_key": ("make_cache_key",),
        "llm_client.backoff": ("add_jitter", "backoff_delay"),
        "llm_client.retry_after": ("parse_retry_after",),
        "llm_client.retry": ("rate_limit_delay",),
        "llm_client.structured": ("parse_structured",),
    }
)

__all__ = [
    "AdaptiveLimiter",
    "AnthropicProvider",
    "AsyncLLMClient",
    "AsyncProvider",
    "AuthenticationError",
    "Cache",
    "CacheWarning",
    "ConfigurationError",
    "ContentRefusedError",
    "DeadlineExceededError",
    "FakeProvider",
    "InvalidRequestError",
    "LLMClient",
    "LLMConnectionError",
    "LLMError",
    "LLMRequest",
    "LLMResponse",
    "LLMTimeoutError",
    "MalformedResponseError",
    "MemoryCache",
    "OpenAIProvider",
    "Provider",
    "ProviderError",
    "QuotaExceededError",
    "RateLimitError",
    "RateLimiter",
    "RedirectError",
    "ResponseTooLargeError",
    "RetriesExhaustedError",
    "SQLiteCache",
    "ServerError",
    "StructuredOutputError",
    "TokenBucket",
    "TruncatedAnswerWarning",
    "add_jitter",
    "arun_batch",
    "backoff_delay",
    "enable_logging",
    "estimate_tokens",
    "make_cache_key",
    "parse_retry_after",
    "parse_structured",
    "rate_limit_delay",
    "run_batch",
]

_logging.getLogger("llm_client").addHandler(_logging.NullHandler())


def __getattr__(name: str) -> Any:
    return _lazy.load(__name__, _EXPORTS, name, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

"""The names ``llm_client`` and ``llm_client.providers`` export, each loaded from its module on first use (PEP 562).

So ``import llm_client`` loads no module of any exercise, and using one name
loads only the modules it needs: a broken exercise file costs only the names
that live in it.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping
from typing import Any


def load(package: str, exports: Mapping[str, str], name: str, namespace: dict[str, Any]) -> Any:
    """Return export ``name`` of ``package`` from its module in ``exports``, kept in ``namespace`` for next time.

    Raises AttributeError, as for any missing attribute, when ``package`` does not export ``name``.
    """
    module = exports.get(name)
    if module is None:
        raise AttributeError(f"module {package!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    namespace[name] = value
    return value


def by_name(modules: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """``{"pkg.a": ("A", "B"), "pkg.b": ("C",)}`` -> ``{"A": "pkg.a", "B": "pkg.a", "C": "pkg.b"}``."""
    return {name: module for module, names in modules.items() for name in names}


PACKAGE = by_name(
    {
        "llm_client.client": ("LLMClient",),
        "llm_client._internal.async_client": ("AsyncLLMClient",),
        "llm_client.request": ("LLMRequest",),
        "llm_client.errors": (
            "AuthenticationError",
            "ClientClosedError",
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
            "StreamInterruptedError",
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
        "llm_client.caches": ("Cache", "CacheWarning", "MemoryCache"),
        "llm_client._internal.sqlite_cache": ("SQLiteCache",),
        "llm_client._internal.batch": ("arun_batch", "run_batch"),
        "llm_client.limiter": ("TokenBucket",),
        "llm_client._internal.rate_limiter": ("RateLimiter", "estimate_tokens"),
        "llm_client._internal.adaptive": ("AdaptiveLimiter",),
        "llm_client._internal.shared_limiter": ("SharedLimiter",),
        "llm_client._internal.redis_cache": ("RedisCache",),
        "llm_client.logs": ("enable_logging",),
        "llm_client.cache_key": ("make_cache_key",),
        "llm_client.backoff": ("add_jitter", "backoff_delay"),
        "llm_client.retry_after": ("parse_retry_after", "retry_delay"),
        "llm_client.structured": ("parse_structured",),
    }
)

PACKAGE_ALL = [
    "AdaptiveLimiter",
    "AnthropicProvider",
    "AsyncLLMClient",
    "AsyncProvider",
    "AuthenticationError",
    "Cache",
    "CacheWarning",
    "ClientClosedError",
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
    "RedisCache",
    "ResponseTooLargeError",
    "RetriesExhaustedError",
    "SQLiteCache",
    "ServerError",
    "SharedLimiter",
    "StreamInterruptedError",
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
    "retry_delay",
    "run_batch",
]


PROVIDERS = by_name(
    {
        "llm_client._internal.anthropic_messages": ("AnthropicProvider",),
        "llm_client.providers.base": ("AsyncProvider", "LLMResponse", "Provider"),
        "llm_client._internal.fake_provider": ("FakeCall", "FakeProvider", "echo_reply"),
        "llm_client._internal.openai_chat": ("OpenAIProvider",),
    }
)

PROVIDERS_ALL = sorted(PROVIDERS)


def package_getattr(name: str) -> Any:
    """``llm_client.__getattr__``: the export ``name``, imported from its module."""
    return load("llm_client", PACKAGE, name, _namespace("llm_client"))


def package_dir() -> list[str]:
    """``llm_client.__dir__``."""
    return sorted({*_namespace("llm_client"), *PACKAGE})


def providers_getattr(name: str) -> Any:
    """``llm_client.providers.__getattr__``: the export ``name``, imported from its module."""
    return load("llm_client.providers", PROVIDERS, name, _namespace("llm_client.providers"))


def providers_dir() -> list[str]:
    """``llm_client.providers.__dir__``."""
    return sorted({*_namespace("llm_client.providers"), *PROVIDERS})


def _namespace(package: str) -> dict[str, Any]:
    return vars(sys.modules[package])


logging.getLogger("llm_client").addHandler(logging.NullHandler())

"""llm_client: a small, reliable client for LLM APIs.

Given a request, return text or raise a clear error: with bounded waiting
(timeouts and a deadline), bounded retries with backoff and jitter, Retry-After
honoured, caching of successes only, and log lines that show their fields.
"""

import logging as _logging

from llm_client.adaptive import AdaptiveLimiter
from llm_client.async_client import AsyncLLMClient
from llm_client.backoff import add_jitter, backoff_delay
from llm_client.batch import BatchResult, arun_batch, run_batch
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
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    StructuredOutputError,
)
from llm_client.limiter import PacedProvider, RateLimiter, TokenBucket, estimate_tokens
from llm_client.logs import enable_logging
from llm_client.policy import RetryPolicy
from llm_client.providers import (
    AnthropicProvider,
    AsyncProvider,
    FakeCall,
    FakeProvider,
    LLMResponse,
    OpenAIProvider,
    Provider,
)
from llm_client.request import LLMRequest, make_cache_key
from llm_client.retry import rate_limit_delay
from llm_client.retry_after import parse_retry_after
from llm_client.structured import parse_structured

_logging.getLogger("llm_client").addHandler(_logging.NullHandler())

__all__ = [
    "AdaptiveLimiter",
    "AnthropicProvider",
    "AsyncLLMClient",
    "AsyncProvider",
    "AuthenticationError",
    "BatchResult",
    "Cache",
    "CacheWarning",
    "ConfigurationError",
    "ContentRefusedError",
    "DeadlineExceededError",
    "FakeCall",
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
    "PacedProvider",
    "Provider",
    "ProviderError",
    "RateLimitError",
    "RateLimiter",
    "RetriesExhaustedError",
    "RetryPolicy",
    "SQLiteCache",
    "ServerError",
    "StructuredOutputError",
    "TokenBucket",
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

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

from typing import TYPE_CHECKING

from llm_client._internal.lazy import PACKAGE_ALL as __all__  # noqa: F401
from llm_client._internal.lazy import package_dir as __dir__  # noqa: F401
from llm_client._internal.lazy import package_getattr as __getattr__  # noqa: F401

if TYPE_CHECKING:
    from llm_client._internal.adaptive import AdaptiveLimiter as AdaptiveLimiter
    from llm_client._internal.async_client import AsyncLLMClient as AsyncLLMClient
    from llm_client._internal.batch import arun_batch as arun_batch
    from llm_client._internal.batch import run_batch as run_batch
    from llm_client._internal.rate_limiter import RateLimiter as RateLimiter
    from llm_client._internal.rate_limiter import estimate_tokens as estimate_tokens
    from llm_client._internal.redis_cache import RedisCache as RedisCache
    from llm_client._internal.shared_limiter import SharedLimiter as SharedLimiter
    from llm_client._internal.sqlite_cache import SQLiteCache as SQLiteCache
    from llm_client.backoff import add_jitter as add_jitter
    from llm_client.backoff import backoff_delay as backoff_delay
    from llm_client.cache_key import make_cache_key as make_cache_key
    from llm_client.caches import Cache as Cache
    from llm_client.caches import CacheWarning as CacheWarning
    from llm_client.caches import MemoryCache as MemoryCache
    from llm_client.client import LLMClient as LLMClient
    from llm_client.errors import (
        AuthenticationError as AuthenticationError,
    )
    from llm_client.errors import (
        ClientClosedError as ClientClosedError,
    )
    from llm_client.errors import (
        ConfigurationError as ConfigurationError,
    )
    from llm_client.errors import (
        ContentRefusedError as ContentRefusedError,
    )
    from llm_client.errors import (
        DeadlineExceededError as DeadlineExceededError,
    )
    from llm_client.errors import (
        InvalidRequestError as InvalidRequestError,
    )
    from llm_client.errors import (
        LLMConnectionError as LLMConnectionError,
    )
    from llm_client.errors import (
        LLMError as LLMError,
    )
    from llm_client.errors import (
        LLMTimeoutError as LLMTimeoutError,
    )
    from llm_client.errors import (
        MalformedResponseError as MalformedResponseError,
    )
    from llm_client.errors import (
        ProviderError as ProviderError,
    )
    from llm_client.errors import (
        QuotaExceededError as QuotaExceededError,
    )
    from llm_client.errors import (
        RateLimitError as RateLimitError,
    )
    from llm_client.errors import (
        RedirectError as RedirectError,
    )
    from llm_client.errors import (
        ResponseTooLargeError as ResponseTooLargeError,
    )
    from llm_client.errors import (
        RetriesExhaustedError as RetriesExhaustedError,
    )
    from llm_client.errors import (
        ServerError as ServerError,
    )
    from llm_client.errors import (
        StreamInterruptedError as StreamInterruptedError,
    )
    from llm_client.errors import (
        StructuredOutputError as StructuredOutputError,
    )
    from llm_client.errors import (
        TruncatedAnswerWarning as TruncatedAnswerWarning,
    )
    from llm_client.limiter import TokenBucket as TokenBucket
    from llm_client.logs import enable_logging as enable_logging
    from llm_client.providers import (
        AnthropicProvider as AnthropicProvider,
    )
    from llm_client.providers import (
        AsyncProvider as AsyncProvider,
    )
    from llm_client.providers import (
        FakeProvider as FakeProvider,
    )
    from llm_client.providers import (
        LLMResponse as LLMResponse,
    )
    from llm_client.providers import (
        OpenAIProvider as OpenAIProvider,
    )
    from llm_client.providers import (
        Provider as Provider,
    )
    from llm_client.request import LLMRequest as LLMRequest
    from llm_client.retry_after import parse_retry_after as parse_retry_after
    from llm_client.retry_after import retry_delay as retry_delay
    from llm_client.structured import parse_structured as parse_structured

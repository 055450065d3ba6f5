"""One attempt over HTTP, and every outcome mapped onto the error tree (exercise 6).

:class:`HTTPProvider` is what both HTTP providers share: one POST per
attempt (:meth:`~HTTPProvider.complete`), never retried here (retrying is the
client's job). Each provider adds only what differs: URL, headers, payload,
parsing (``OpenAIProvider`` and ``AnthropicProvider``, in ``_internal/``).

The table (see :mod:`llm_client.errors`)::

    2xx                      -> the provider parses the body
    429                      -> RateLimitError (retry_after from the headers)
    408                      -> LLMTimeoutError
    409, 5xx, 529            -> ServerError
    401, 403                 -> AuthenticationError
    other 4xx (400, 404 ...) -> InvalidRequestError (never retried)
    anything else            -> MalformedResponseError

:func:`error_for_response` wraps that table with what the providers' own
headers and bodies say (the official SDKs read the same signals):

    429 that waiting will not cure (no credit, a billing or spend limit,
    one request over the per-minute token limit) -> QuotaExceededError
    Retry-After / retry-after-ms on 408, 409, 429, 5xx, 529 -> .retry_after
    x-should-retry: true | false -> .retryable, whatever the status says

    httpx.TimeoutException   -> LLMTimeoutError
    httpx.UnsupportedProtocol-> ConfigurationError (a bad base_url will not heal)
    httpx.TransportError     -> LLMConnectionError
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpx

from llm_client._internal.http_support import (
    asked_wait,
    check_base_url,
    is_quota,
    parse_retry_after,
    provider_details,
    provider_message,
    rate_limit_headers,
    retry_after_applies,
)
from llm_client._internal.sender import HTTPSender
from llm_client.errors import (
    AuthenticationError,
    ConfigurationError,
    InvalidRequestError,
    LLMConnectionError,
    LLMTimeoutError,
    MalformedResponseError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from llm_client.providers.base import LLMResponse, check_attempt
from llm_client.request import LLMRequest

if TYPE_CHECKING:
    from llm_client._internal.stream_core import StreamDecoder, StreamEnd

__all__ = ["HTTPProvider", "error_for_response", "error_for_status", "error_for_transport"]


def error_for_status(response: httpx.Response, *, provider: str) -> ProviderError:
    """Return (not raise) the error for a non-2xx ``response`` from ``provider``.

    Its class is the module docstring's table: a 429 is a RateLimitError with
    the ``retry_after`` that ``parse_retry_after`` reads in the headers; a 408
    an LLMTimeoutError; a 409 (a conflict, such as a lock timeout, which the
    official SDKs retry), a 5xx or a 529 a ServerError; a 401 (the key is
    missing, wrong or revoked) or a 403 (no permission, or a region the
    provider does not serve) an AuthenticationError; any other 4xx an
    InvalidRequestError; anything else a MalformedResponseError. Each carries
    ``status_code`` and ``provider_message``.
    """
    status = response.status_code
    detail = provider_message(response)
    described = f"{provider} answered HTTP {status}" + (f": {detail}" if detail else "")
    # BEGIN SOLUTION ex6
    kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
    if status == 429:
        return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
    if status == 408:
        return LLMTimeoutError(described, **kwargs)
    if status == 409 or 500 <= status < 600:
        return ServerError(described, **kwargs)
    if status in (401, 403):
        return AuthenticationError(described, **kwargs)
    if 400 <= status < 500:
        return InvalidRequestError(described, **kwargs)
    return MalformedResponseError(described, **kwargs)
    # END SOLUTION


def error_for_response(response: httpx.Response, *, provider: str) -> ProviderError:
    """Return (not raise) the error for a non-2xx ``response``: :func:`error_for_status`'s,
    refined by what the provider's headers and body say (see the module docstring).

    ``x-should-retry`` overrides ``retryable`` as OpenAI's and Anthropic's SDKs do;
    ``retry_after`` (seconds) is read on 408, 409, 5xx and 529 as on a 429; the
    provider's error ``type`` and ``code`` and its request id are kept.
    """
    status = response.status_code
    if status == 429 and is_quota(response):
        detail = provider_message(response)
        error: ProviderError = QuotaExceededError(
            f"{provider} answered HTTP 429 for a limit that waiting will not lift" + (f": {detail}" if detail else ""),
            status_code=status,
            provider_message=detail,
        )
    else:
        error = error_for_status(response, provider=provider)
    if status != 429 and retry_after_applies(status):  # a 429's wait is error_for_status's to read
        error.retry_after = asked_wait(response)
    should_retry = response.headers.get("x-should-retry", "").strip().lower()
    if should_retry in ("true", "false"):
        error.retryable = should_retry == "true"
    error.error_type, error.error_code, error.request_id = provider_details(response)
    error.headers = rate_limit_headers(response)
    return error


def error_for_transport(exc: httpx.HTTPError, *, provider: str) -> ProviderError | ConfigurationError:
    """Return (not raise) the error for an httpx exception raised while talking to ``provider``.

    A timeout is an LLMTimeoutError; a URL whose scheme httpx cannot speak
    (``httpx.UnsupportedProtocol``) a ConfigurationError, which no retry heals;
    any other failure an LLMConnectionError. The caller raises it ``from exc``
    so the httpx error stays on the chain.
    """
    # BEGIN SOLUTION ex6
    if isinstance(exc, httpx.TimeoutException):
        return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return ConfigurationError(f"{provider}: unsupported URL ({exc})")
    if isinstance(exc, httpx.TransportError):
        return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")
    return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
    # END SOLUTION


class HTTPProvider:
    """One chat API over HTTP. Subclasses define ``name``, ``url``, ``headers()``,
    ``payload(req)`` and ``parse(response)``.

    ``http_client`` is the ``httpx.Client`` to send with (inject one with a
    ``MockTransport``, or mock it with respx, in tests); ``async_http_client``
    the ``httpx.AsyncClient`` for :meth:`acomplete` (by default one per event
    loop, closed by :meth:`aclose`). Whatever client is given, redirects are
    never followed, one attempt never outlives its ``timeout_s`` and a body
    larger than ``max_response_bytes`` (counted after decompression) is refused
    (see :mod:`llm_client._internal.sender`).

    Every request leaves through ``self._http``, the provider's sender:
    ``self._http.post(url, json=..., headers=..., timeout=seconds)`` sends one
    POST through that client and returns the ``httpx.Response``, or raises the
    ``httpx.HTTPError`` that ended it.
    """

    name = "http"

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str,
        http_client: httpx.Client | None,
        async_http_client: httpx.AsyncClient | None,
        max_response_bytes: int,
    ) -> None:
        self.base_url = check_base_url(base_url)
        self._api_key = api_key
        self._http = HTTPSender(
            provider=self.name,
            http_client=http_client,
            async_http_client=async_http_client,
            max_response_bytes=max_response_bytes,
        )

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    @property
    def url(self) -> str:
        """The endpoint."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        """The request headers; raises ConfigurationError when a needed key is missing."""
        raise NotImplementedError

    def payload(self, req: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``req``."""
        raise NotImplementedError

    def parse(self, response: httpx.Response) -> LLMResponse:
        """Turn a 2xx ``response`` into an LLMResponse, or raise a ProviderError."""
        raise NotImplementedError

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """Make one attempt; see :class:`~llm_client.providers.base.Provider` for the contract.

        At most one POST leaves, through ``self._http``, with ``self.payload(req)``
        as JSON, ``self.headers()`` and ``timeout_s``; it is never retried, slept
        on or logged here. A missing key is ``self.headers()``'s to refuse (a
        ConfigurationError, before anything is sent; a loopback server needs
        none). An httpx error: :func:`error_for_transport`'s error, raised
        from it. A non-2xx response: :func:`error_for_response`'s error. A 2xx
        response: what ``self.parse`` makes of it.
        """
        check_attempt(req, timeout_s)
        # BEGIN SOLUTION ex6
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        # END SOLUTION

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """:meth:`complete`, awaited: the bytes travel without blocking the event loop, then
        ``complete`` itself maps and parses them (the same headers, payload, errors and parsing)."""
        check_attempt(req, timeout_s)
        outcome = await self._http.afetch(self.url, json=self.payload(req), headers=self.headers(), timeout=timeout_s)
        with self._http.replaying(outcome):
            return self.complete(req, timeout_s=timeout_s)

    def stream_payload(self, req: LLMRequest) -> dict[str, Any]:
        """The JSON body that asks for ``req``'s answer as a stream of events."""
        return {**self.payload(req), "stream": True}

    def stream_decoder(self) -> StreamDecoder:
        """A new reader of this provider's stream events (see ``_internal/stream_core.py``)."""
        raise NotImplementedError

    def stream_attempt(self, req: LLMRequest, *, timeout_s: float, total_s: float) -> Iterator[str | StreamEnd]:
        """One streamed attempt: its text deltas, then its StreamEnd, or a ProviderError
        (``_internal/stream_http.py``); ``timeout_s`` bounds the wait for each text delta, ``total_s``
        the whole stream. Closing the iterator closes the connection."""
        from llm_client._internal.stream_http import stream_attempt

        return stream_attempt(
            self, req, timeout_s=timeout_s, total_s=total_s, errors=(error_for_response, error_for_transport)
        )

    def astream_attempt(
        self, req: LLMRequest, *, timeout_s: float, total_s: float
    ) -> AsyncIterator[str | StreamEnd]:
        """:meth:`stream_attempt`, as an async iterator."""
        from llm_client._internal.stream_http import astream_attempt

        return astream_attempt(
            self, req, timeout_s=timeout_s, total_s=total_s, errors=(error_for_response, error_for_transport)
        )

    def close(self) -> None:
        """Close the ``httpx.Client`` this provider made (a given one is yours to close)."""
        self._http.close()

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient`` this provider made (a given one is yours to close)."""
        await self._http.aclose()

"""Anthropic's Messages API."""

from __future__ import annotations

from typing import Any

import httpx

from llm_client.checks import check_int
from llm_client.errors import ConfigurationError, ContentRefusedError, MalformedResponseError
from llm_client.providers.async_http import AsyncHTTP
from llm_client.providers.base import LLMResponse, check_attempt
from llm_client.providers.http import (
    check_base_url,
    error_for_status,
    error_for_transport,
    json_body,
    rate_limit_headers,
    resolve_api_key,
)
from llm_client.request import LLMRequest

__all__ = ["AnthropicProvider"]


class AnthropicProvider:
    """Calls ``POST {base_url}/v1/messages`` with the headers the API requires.

    ``api_key`` defaults to the ``ANTHROPIC_API_KEY`` environment variable and
    is checked at the first call. The Messages API requires ``max_tokens``:
    when the request leaves it None, ``default_max_tokens`` is sent.
    ``http_client`` and ``async_http_client`` are the ``httpx`` clients that
    :meth:`complete` and :meth:`acomplete` send with (by default a new
    ``httpx.Client``, and one ``httpx.AsyncClient`` per event loop, closed by
    :meth:`aclose`).
    """

    name = "anthropic"
    api_version = "2023-06-01"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.anthropic.com",
        http_client: httpx.Client | None = None,
        default_max_tokens: int = 1024,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        base_url = check_base_url(base_url)
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(f"http_client must be an httpx.Client, got {type(http_client).__name__}")
        check_int("default_max_tokens", default_max_tokens, minimum=1)
        self.base_url = base_url
        self.default_max_tokens = default_max_tokens
        self._api_key = resolve_api_key(api_key, "ANTHROPIC_API_KEY")
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client()
        self._ahttp = AsyncHTTP(async_http_client)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"AnthropicProvider(base_url={self.base_url!r}, api_key=<{key}>)"

    @property
    def url(self) -> str:
        """The Messages endpoint."""
        return f"{self.base_url}/v1/messages"

    def headers(self) -> dict[str, str]:
        """The request headers; raises ConfigurationError when the key is missing."""
        if not self._api_key:
            raise ConfigurationError(
                "AnthropicProvider has no API key: pass api_key=... or set ANTHROPIC_API_KEY"
            )
        return {
            "x-api-key": self._api_key,
            "anthropic-version": self.api_version,
            "content-type": "application/json",
        }

    def payload(self, req: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``req``; the system prompt is a top-level field here.

        The Messages API takes ``temperature`` from 0.0 to 1.0 (a higher one is
        refused here with ValueError, before anything is sent) and accepts either
        ``temperature`` or ``top_p``, not both: when ``top_p`` is set it is sent
        instead of ``temperature``.
        """
        if req.temperature > 1.0:
            raise ValueError(f"temperature must be <= 1.0 for AnthropicProvider, got {req.temperature!r}")
        body: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens if req.max_tokens is not None else self.default_max_tokens,
            "messages": [{"role": "user", "content": req.prompt}],
        }
        if req.top_p is not None:
            body["top_p"] = req.top_p
        else:
            body["temperature"] = req.temperature
        if req.system_prompt is not None:
            body["system"] = req.system_prompt
        if req.stop:
            body["stop_sequences"] = list(req.stop)
        return body

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """Make one attempt; see :class:`~llm_client.providers.base.Provider` for the contract."""
        check_attempt(req, timeout_s)
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_status(response, provider=self.name)
        return self.parse(response)

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """:meth:`complete`, awaited: the same headers, payload, error mapping and parsing."""
        check_attempt(req, timeout_s)
        headers = self.headers()
        response = await self._ahttp.post(
            self.url, json_body=self.payload(req), headers=headers, timeout_s=timeout_s, provider=self.name
        )
        return self.parse(response)

    def close(self) -> None:
        """Close the ``httpx.Client`` this provider made (a given one is yours to close)."""
        if self._owns_http:
            self._http.close()

    async def aclose(self) -> None:
        """Close the ``httpx.AsyncClient`` this provider made (a given one is yours to close)."""
        await self._ahttp.aclose()

    def parse(self, response: httpx.Response) -> LLMResponse:
        """Turn a 2xx Messages ``response`` into an LLMResponse: the text blocks, joined."""
        body = json_body(response, provider=self.name)
        if body.get("stop_reason") == "refusal":
            raise ContentRefusedError(f"{self.name}: the model refused (stop_reason='refusal')", status_code=200)
        content = body.get("content")
        if not isinstance(content, list):
            raise MalformedResponseError(f"{self.name} answered with no content", status_code=response.status_code)
        texts = [
            block["text"]
            for block in content
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
        ]
        if not texts:
            raise MalformedResponseError(
                f"{self.name} answered with no text block (stop_reason={body.get('stop_reason')!r})",
                status_code=response.status_code,
            )
        usage = body.get("usage")
        return LLMResponse(
            text="".join(texts),
            model=str(body.get("model") or ""),
            finish_reason=body.get("stop_reason"),
            usage={k: v for k, v in usage.items() if isinstance(v, int)} if isinstance(usage, dict) else {},
            headers=rate_limit_headers(response),
        )

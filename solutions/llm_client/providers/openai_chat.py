"""OpenAI Chat Completions, and every server that speaks it (Ollama, vLLM, LM Studio ...)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

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

__all__ = ["OpenAIProvider"]

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


class OpenAIProvider:
    """Calls ``POST {base_url}/chat/completions``.

    ``api_key`` defaults to the ``OPENAI_API_KEY`` environment variable; it is
    read when the provider is made and checked at the first call, so a missing
    key never breaks an import. A server on loopback (``localhost``,
    ``127.0.0.1``, ``::1``) needs no key. ``http_client`` is the
    ``httpx.Client`` to send with (inject one with a ``MockTransport``, or
    mock it with respx, in tests). ``async_http_client`` is the
    ``httpx.AsyncClient`` that :meth:`acomplete` sends with (by default one
    per event loop, closed by :meth:`aclose`).
    """

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.openai.com/v1",
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        base_url = check_base_url(base_url)
        if http_client is not None and not isinstance(http_client, httpx.Client):
            raise TypeError(f"http_client must be an httpx.Client, got {type(http_client).__name__}")
        self.base_url = base_url
        self._api_key = resolve_api_key(api_key, "OPENAI_API_KEY")
        self._owns_http = http_client is None
        self._http = http_client if http_client is not None else httpx.Client()
        self._ahttp = AsyncHTTP(async_http_client)

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"OpenAIProvider(base_url={self.base_url!r}, api_key=<{key}>)"

    @property
    def url(self) -> str:
        """The Chat Completions endpoint."""
        return f"{self.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        """The request headers; raises ConfigurationError when a needed key is missing."""
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        elif urlsplit(self.base_url).hostname not in _LOOPBACK_HOSTS:
            raise ConfigurationError(
                "OpenAIProvider has no API key: pass api_key=... or set OPENAI_API_KEY"
            )
        return headers

    @staticmethod
    def payload(req: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``req``: messages (system first, if any) and the settings that are set."""
        messages = []
        if req.system_prompt is not None:
            messages.append({"role": "system", "content": req.system_prompt})
        messages.append({"role": "user", "content": req.prompt})
        body: dict[str, Any] = {"model": req.model, "messages": messages, "temperature": req.temperature}
        if req.max_tokens is not None:
            body["max_tokens"] = req.max_tokens
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.stop:
            body["stop"] = list(req.stop)
        return body

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        """Make one attempt; see :class:`~llm_client.providers.base.Provider` for the contract."""
        check_attempt(req, timeout_s)
        # BEGIN SOLUTION ex5
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_status(response, provider=self.name)
        return self.parse(response)
        # END SOLUTION

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
        """Turn a 2xx Chat Completions ``response`` into an LLMResponse, or raise MalformedResponseError."""
        body = json_body(response, provider=self.name)
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise MalformedResponseError(f"{self.name} answered with no choices", status_code=response.status_code)
        choice = choices[0]
        message = choice.get("message")
        text = message.get("content") if isinstance(message, dict) else None
        refusal = message.get("refusal") if isinstance(message, dict) else None
        if isinstance(refusal, str) and refusal:
            raise ContentRefusedError(
                f"{self.name}: the model refused: {refusal[:200]}",
                status_code=response.status_code,
                provider_message=refusal[:500],
            )
        if not isinstance(text, str) and choice.get("finish_reason") == "content_filter":
            raise ContentRefusedError(
                f"{self.name}: a content filter stopped the answer (finish_reason='content_filter')",
                status_code=response.status_code,
            )
        if not isinstance(text, str):
            raise MalformedResponseError(
                f"{self.name} answered with no text content (finish_reason={choice.get('finish_reason')!r})",
                status_code=response.status_code,
            )
        usage = body.get("usage")
        return LLMResponse(
            text=text,
            model=str(body.get("model") or ""),
            finish_reason=choice.get("finish_reason"),
            usage={k: v for k, v in usage.items() if isinstance(v, int)} if isinstance(usage, dict) else {},
            headers=rate_limit_headers(response),
        )

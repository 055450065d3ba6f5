"""OpenAI Chat Completions, and every server that speaks it (Ollama, vLLM, LM Studio ...).

The payload and the parsing; the attempt itself is
:meth:`~llm_client.providers.http.HTTPProvider.complete` (exercise 6).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from llm_client._internal.http_support import (
    credentials_redacted,
    json_body,
    rate_limit_headers,
    redact_credentials,
    request_id_of,
    resolve_api_key,
)
from llm_client._internal.sender import DEFAULT_MAX_RESPONSE_BYTES
from llm_client._internal.stream_core import SSEEvent, StreamEnd, event_json, stream_error
from llm_client.errors import ConfigurationError, ContentRefusedError, MalformedResponseError
from llm_client.providers.base import LLMResponse
from llm_client.providers.http import HTTPProvider
from llm_client.request import LLMRequest

__all__ = ["OpenAIProvider"]

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}

def _answered_empty(message: object, finish_reason: object) -> bool:
    """``content: null`` that is an empty answer: a normal finish, and no tool call in its place."""
    return isinstance(message, dict) and not message.get("tool_calls") and finish_reason in ("stop", "length")


class OpenAIStream:
    """Reads a Chat Completions stream: ``data:`` chunks (``choices[0].delta.content``), a usage chunk
    (``stream_options.include_usage``: no choices), then ``data: [DONE]``. A chunk holding ``error``
    ends the stream with that error; ``delta.refusal`` or ``finish_reason`` "content_filter" is a
    ContentRefusedError at the end, after the partial text."""

    def __init__(self, provider: str = "openai") -> None:
        self.provider = provider
        self.done = False
        self.finish_reason: str | None = None
        self.model = ""
        self.usage: dict[str, int] = {}
        self._refusal: list[str] = []

    def feed(self, event: SSEEvent) -> list[str]:
        if event.data.strip() == "[DONE]":
            self.done = True
            return []
        chunk = event_json(self.provider, event)
        if chunk.get("error"):
            raise stream_error(self.provider, chunk["error"])
        if isinstance(chunk.get("model"), str):
            self.model = chunk["model"]
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = {k: v for k, v in usage.items() if isinstance(v, int)}
        texts: list[str] = []
        choices = chunk.get("choices")
        for choice in choices if isinstance(choices, list) else []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if isinstance(delta, dict):
                if isinstance(delta.get("content"), str):
                    texts.append(delta["content"])
                if isinstance(delta.get("refusal"), str):
                    self._refusal.append(delta["refusal"])
            if isinstance(choice.get("finish_reason"), str):
                self.finish_reason = choice["finish_reason"]
        return texts

    def end(self) -> StreamEnd:
        refusal = "".join(self._refusal)
        if refusal:
            raise ContentRefusedError(
                f"{self.provider}: the model refused: {refusal[:200]}", provider_message=refusal[:500]
            )
        if self.finish_reason == "content_filter":
            raise ContentRefusedError(
                f"{self.provider}: a content filter stopped the answer (finish_reason='content_filter')"
            )
        return StreamEnd(self.finish_reason, self.model, self.usage)


class OpenAIProvider(HTTPProvider):
    """Calls ``POST {base_url}/chat/completions``.

    ``api_key`` defaults to the ``OPENAI_API_KEY`` environment variable; it is
    read when the provider is made and checked at the first call, so a missing
    key never breaks an import. A server on loopback (``localhost``,
    ``127.0.0.1``, ``::1``) needs no key. ``http_client``,
    ``async_http_client`` and ``max_response_bytes``: see :class:`HTTPProvider`.

    ``reasoning`` (False by default) says the model is a reasoning model: the
    token bound is sent as ``max_completion_tokens`` in place of ``max_tokens``,
    and ``stop`` is not sent (reasoning models refuse it). Nothing is guessed
    from the model's name: model families change faster than any pattern.
    Sampling settings (``temperature``, ``top_p``) and ``reasoning_effort`` are
    sent whenever the request sets them, and never otherwise; a model that
    refuses one answers 400, an InvalidRequestError naming it.
    """

    name = "openai"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str = "https://api.openai.com/v1",
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        reasoning: bool = False,
    ) -> None:
        if not isinstance(reasoning, bool):
            raise TypeError(f"reasoning must be True or False, got {type(reasoning).__name__}")
        self.reasoning = reasoning
        super().__init__(
            api_key=resolve_api_key(api_key, "OPENAI_API_KEY"),
            base_url=base_url,
            http_client=http_client,
            async_http_client=async_http_client,
            max_response_bytes=max_response_bytes,
        )

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
            raise ConfigurationError("OpenAIProvider has no API key: pass api_key=... or set OPENAI_API_KEY")
        return headers

    def payload(self, req: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``req``: messages (system first, if any) and the settings that are set.

        A reasoning model (see ``reasoning``) gets ``max_completion_tokens`` in place of
        ``max_tokens``, and no ``stop``.
        """
        messages = []
        if req.system_prompt is not None:
            messages.append({"role": "system", "content": req.system_prompt})
        messages.append({"role": "user", "content": req.prompt})
        body: dict[str, Any] = {"model": req.model, "messages": messages}
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.max_tokens is not None:
            body["max_completion_tokens" if self.reasoning else "max_tokens"] = req.max_tokens
        if req.reasoning_effort is not None:
            body["reasoning_effort"] = req.reasoning_effort
        if req.stop and not self.reasoning:
            body["stop"] = list(req.stop)
        return body

    def stream_payload(self, req: LLMRequest) -> dict[str, Any]:
        """:meth:`payload`, streamed, with the token usage in a last chunk (``stream_options.include_usage``)."""
        return {**self.payload(req), "stream": True, "stream_options": {"include_usage": True}}

    def stream_decoder(self) -> OpenAIStream:
        return OpenAIStream(self.name)

    def parse(self, response: httpx.Response) -> LLMResponse:
        """Turn a 2xx Chat Completions ``response`` into an LLMResponse.

        A refusal, or ``finish_reason: "content_filter"`` (even with partial
        text), is a ContentRefusedError. ``content: null`` with ``finish_reason``
        "stop" or "length" and no tool call is an empty answer, ``""``; any other
        answer without usable text is a MalformedResponseError.
        """
        with credentials_redacted(response):
            body = json_body(response, provider=self.name)
            choices = body.get("choices")
            if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
                raise MalformedResponseError(f"{self.name} answered with no choices", status_code=response.status_code)
            choice = choices[0]
            message = choice.get("message")
            text = message.get("content") if isinstance(message, dict) else None
            refusal = message.get("refusal") if isinstance(message, dict) else None
            if isinstance(refusal, str) and refusal:
                refusal = redact_credentials(refusal, response)  # before it is cut: no part of a key is left
                raise ContentRefusedError(
                    f"{self.name}: the model refused: {refusal[:200]}",
                    status_code=response.status_code,
                    provider_message=refusal[:500],
                )
            if choice.get("finish_reason") == "content_filter":
                partial = f" after {len(text)} characters of partial text" if isinstance(text, str) and text else ""
                raise ContentRefusedError(
                    f"{self.name}: a content filter stopped the answer (finish_reason='content_filter'){partial}",
                    status_code=response.status_code,
                )
            if text is None and _answered_empty(message, choice.get("finish_reason")):
                text = ""  # the model answered, with nothing: an answer all the same, not a fault to retry
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
                request_id=request_id_of(response),
            )

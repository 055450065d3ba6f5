"""Anthropic's Messages API."""

from __future__ import annotations

from typing import Any

import httpx

from llm_client._internal.checks import check_int
from llm_client._internal.http_support import (
    credentials_redacted,
    json_body,
    rate_limit_headers,
    request_id_of,
    resolve_api_key,
)
from llm_client._internal.sender import DEFAULT_MAX_RESPONSE_BYTES
from llm_client._internal.stream_core import SSEEvent, StreamEnd, event_json, stream_error
from llm_client.errors import ConfigurationError, ContentRefusedError, MalformedResponseError
from llm_client.providers.base import LLMResponse
from llm_client.providers.http import HTTPProvider
from llm_client.request import LLMRequest

__all__ = ["AnthropicProvider"]


#: The stop reasons of a turn that ended as the model meant it to (or at a token limit): no text then is "".
_NORMAL_ENDS = frozenset({"end_turn", "stop_sequence", "max_tokens", "model_context_window_exceeded", "pause_turn"})


class AnthropicStream:
    """Reads a Messages stream: ``message_start`` (model, input usage), ``content_block_start`` /
    ``content_block_delta`` (``text_delta``; thinking and tool input are not text) /
    ``content_block_stop``, ``message_delta`` (``stop_reason``, output usage), ``message_stop``;
    ``ping`` anywhere; ``error`` ends the stream with that error. ``stop_reason`` "refusal" is a
    ContentRefusedError at the end, after the partial text."""

    def __init__(self, provider: str = "anthropic") -> None:
        self.provider = provider
        self.done = False
        self.finish_reason: str | None = None
        self.model = ""
        self.usage: dict[str, int] = {}

    def _add_usage(self, usage: object) -> None:
        if isinstance(usage, dict):
            self.usage.update({k: v for k, v in usage.items() if isinstance(v, int)})

    def feed(self, event: SSEEvent) -> list[str]:
        body = event_json(self.provider, event)
        kind = body.get("type") if isinstance(body.get("type"), str) else event.event
        if kind == "error":
            raise stream_error(self.provider, body.get("error"))
        if kind == "message_start":
            message = body.get("message")
            if isinstance(message, dict):
                self.model = str(message.get("model") or "")
                self._add_usage(message.get("usage"))
        elif kind == "content_block_start":
            block = body.get("content_block")
            if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
                return [block["text"]]
        elif kind == "content_block_delta":
            delta = body.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                return [delta["text"]]
        elif kind == "message_delta":
            delta = body.get("delta")
            if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
                self.finish_reason = delta["stop_reason"]
            self._add_usage(body.get("usage"))
        elif kind == "message_stop":
            self.done = True
        return []

    def end(self) -> StreamEnd:
        if self.finish_reason == "refusal":
            raise ContentRefusedError(f"{self.provider}: the model refused (stop_reason='refusal')")
        return StreamEnd(self.finish_reason, self.model, self.usage)


class AnthropicProvider(HTTPProvider):
    """Calls ``POST {base_url}/v1/messages`` with the headers the API requires.

    ``api_key`` defaults to the ``ANTHROPIC_API_KEY`` environment variable and
    is checked at the first call. The Messages API requires ``max_tokens``:
    when the request leaves it None, ``default_max_tokens`` is sent.
    ``http_client``, ``async_http_client`` and ``max_response_bytes``: see
    :class:`~llm_client.providers.http.HTTPProvider`.
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
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        check_int("default_max_tokens", default_max_tokens, minimum=1)
        super().__init__(
            api_key=resolve_api_key(api_key, "ANTHROPIC_API_KEY"),
            base_url=base_url,
            http_client=http_client,
            async_http_client=async_http_client,
            max_response_bytes=max_response_bytes,
        )
        self.default_max_tokens = default_max_tokens

    @property
    def url(self) -> str:
        """The Messages endpoint."""
        return f"{self.base_url}/v1/messages"

    def headers(self) -> dict[str, str]:
        """The request headers; raises ConfigurationError when the key is missing."""
        if not self._api_key:
            raise ConfigurationError("AnthropicProvider has no API key: pass api_key=... or set ANTHROPIC_API_KEY")
        return {
            "x-api-key": self._api_key,
            "anthropic-version": self.api_version,
            "content-type": "application/json",
        }

    def payload(self, req: LLMRequest) -> dict[str, Any]:
        """The JSON body for ``req``; the system prompt is a top-level field here.

        Sampling settings are sent only when the request sets them: current
        Claude models refuse ``temperature`` (a 400 says so), so a request that
        leaves it unset works everywhere. The Messages API takes ``temperature``
        from 0.0 to 1.0 (a higher one is refused here with ValueError, before
        anything is sent). ``reasoning_effort`` has no Messages counterpart here:
        it is refused with ValueError.
        """
        if req.temperature is not None and req.temperature > 1.0:
            raise ValueError(f"temperature must be <= 1.0 for AnthropicProvider, got {req.temperature!r}")
        if req.reasoning_effort is not None:
            raise ValueError("reasoning_effort is not sent by AnthropicProvider: leave it None")
        body: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens if req.max_tokens is not None else self.default_max_tokens,
            "messages": [{"role": "user", "content": req.prompt}],
        }
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if req.top_p is not None:
            body["top_p"] = req.top_p
        if req.system_prompt is not None:
            body["system"] = req.system_prompt
        if req.stop:
            body["stop_sequences"] = list(req.stop)
        return body

    def stream_decoder(self) -> AnthropicStream:
        return AnthropicStream(self.name)

    def parse(self, response: httpx.Response) -> LLMResponse:
        """Turn a 2xx Messages ``response`` into an LLMResponse: the text blocks, joined.

        ``stop_reason`` "refusal" is a ContentRefusedError (even with partial
        text); "max_tokens" and "model_context_window_exceeded" give a truncated
        answer (:attr:`LLMResponse.truncated`), which the client never caches.
        ``content: []`` (or only thinking blocks) with a normal end is an empty
        answer, ``""``; a tool call with no text is a MalformedResponseError.
        """
        with credentials_redacted(response):
            body = json_body(response, provider=self.name)
            if body.get("stop_reason") == "refusal":
                raise ContentRefusedError(
                    f"{self.name}: the model refused (stop_reason='refusal')", status_code=response.status_code
                )
            content = body.get("content")
            if not isinstance(content, list):
                raise MalformedResponseError(f"{self.name} answered with no content", status_code=response.status_code)
            texts = [
                block["text"]
                for block in content
                if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
            ]
            tool_use = any(isinstance(block, dict) and block.get("type") == "tool_use" for block in content)
            if not texts and not tool_use and body.get("stop_reason") in _NORMAL_ENDS:
                texts = [""]  # the model answered, with nothing (Claude sends this): an answer, not a fault
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
                request_id=request_id_of(response),
            )

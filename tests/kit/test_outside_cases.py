"""The client against servers that echo the key where the other tests did not look.

A server may put the credential it was sent into a malformed status or header
line (which httpx, httpcore and h11 quote in their errors), or percent-encode
it into a message or a redirect target. The key used here holds ``+``, ``/``
and ``=``, as base64-shaped keys do, so its percent-encoded form differs from
it. Each server is a thread the test starts and stops; each answers at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import traceback
from urllib.parse import quote, quote_plus

import pytest
from test_hostile_servers import REQ, Behaviour, LoopbackServer

from llm_client import AnthropicProvider, LLMClient, OpenAIProvider
from llm_client.errors import LLMError

pytestmark = pytest.mark.kit

KEY = "sk-kit+OUTSIDE/9f3c1e7a5b2d4c6e8a0b=="


def _lowercase_escapes(text: str) -> str:
    """``text`` with its percent escapes in lower case (``%2B`` -> ``%2b``), as some servers write them."""
    return re.sub(r"%[0-9A-F]{2}", lambda match: match.group().lower(), text)


FORMS = (KEY, quote(KEY, safe=""), quote(KEY), quote_plus(KEY))
FORMS += tuple(_lowercase_escapes(form) for form in FORMS[1:])
FORMS += (KEY.replace("/", "\\/"),)  # as a JSON encoder that escapes "/" writes it


def _credential(request: bytes) -> bytes:
    for line in request.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"authorization", b"x-api-key"):
            return value.strip()
    return b""


def bad_header_line(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nX-Echo " + _credential(request) + b"\r\n\r\n")


def bad_status_line(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    conn.sendall(b"HTTP/1.1 2OO " + _credential(request) + b"\r\n\r\n")


def percent_encoded_message(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    credential = _credential(request).decode()
    message = f"Incorrect API key {quote(credential, safe='')} ({quote_plus(credential)})"
    body = json.dumps({"error": {"message": message}}).encode()
    conn.sendall(
        b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )


def lowercase_percent_encoded_message(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    credential = _credential(request).decode().removeprefix("Bearer ")
    message = f"Key {_lowercase_escapes(quote(credential, safe=''))} or {_lowercase_escapes(quote_plus(credential))}"
    body = json.dumps({"error": {"message": message}}).encode()
    conn.sendall(
        b"HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    )


def percent_encoded_redirect(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    target = b"/elsewhere?key=" + quote(_credential(request).decode(), safe="").encode()
    conn.sendall(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: " + target + b"\r\ncontent-length: 0\r\n\r\n")


def _provider(name: str, base_url: str) -> OpenAIProvider | AnthropicProvider:
    if name == "openai":
        return OpenAIProvider(api_key=KEY, base_url=base_url)
    return AnthropicProvider(api_key=KEY, base_url=base_url.removesuffix("/v1"))


def _call(provider: OpenAIProvider | AnthropicProvider, path: str) -> LLMError:
    if path == "sync":
        with LLMClient(provider, timeout_s=2.0, max_retries=1, sleep=lambda s: None) as client:
            with pytest.raises(LLMError) as caught:
                client.call(REQ)
        return caught.value

    async def scenario() -> LLMError:
        try:
            await provider.acomplete(REQ, timeout_s=2.0)
        except LLMError as exc:
            return exc
        finally:
            await provider.aclose()
        raise AssertionError("an echoing server gave an answer")

    return asyncio.run(scenario())


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize("provider_name", ["openai", "anthropic"])
@pytest.mark.parametrize(
    "behaviour",
    [
        bad_header_line,
        bad_status_line,
        percent_encoded_message,
        lowercase_percent_encoded_message,
        percent_encoded_redirect,
    ],
    ids=[
        "malformed-header-line",
        "malformed-status-line",
        "percent-encoded-message",
        "lowercase-percent-encoded-message",
        "percent-encoded-redirect",
    ],
)
def test_a_key_echoed_raw_or_percent_encoded_reaches_no_error_message_repr_or_traceback(
    behaviour: Behaviour, provider_name: str, path: str
) -> None:
    with LoopbackServer(behaviour) as server:
        error = _call(_provider(provider_name, server.base_url), path)
    assert server.requests >= 1, "the server was reached"
    shown = "".join(traceback.format_exception(error)) + repr(error) + str(error)
    shown += "".join(repr(getattr(error, name, "")) for name in ("location", "provider_message", "last_error"))
    for form in FORMS:
        assert form not in shown, f"the key reached the error as {form!r}"
    assert "[redacted]" in shown, "the echoed key was there to redact"


def echoed_in_headers(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    credential = _credential(request)
    body = json.dumps({"error": {"message": "no"}}).encode()
    conn.sendall(
        b"HTTP/1.1 401 Bad "
        + credential
        + b"\r\nx-echo: "
        + credential
        + b"\r\nlocation: /x?k="
        + quote(credential.decode(), safe="").encode()
        + b"&lower="
        + _lowercase_escapes(quote(credential.decode(), safe="")).encode()
        + b"\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n" % len(body)
        + body
    )


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize(
    "behaviour", [echoed_in_headers, bad_header_line], ids=["headers-and-reason", "malformed-line"]
)
def test_a_key_echoed_in_response_headers_reaches_no_httpx_or_httpcore_log_record(
    behaviour: Behaviour, path: str
) -> None:
    records = _Records()
    loggers = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        logger.addHandler(records)
    try:
        with LoopbackServer(behaviour) as server:
            _call(_provider("openai", server.base_url), path)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(records)
            logger.setLevel(level)
    text = "\n".join(records.texts)
    assert "receive_response_headers" in text, "httpcore's DEBUG logging ran"
    for form in FORMS:
        assert form not in text, f"the key reached a log record as {form!r}"


# -- a key quoted back in a 200 answer, where parsing builds the error ------------------------------


def _answer(conn: socket.socket, body: bytes, extra: bytes = b"") -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n" + extra
    conn.sendall(head + b"content-length: %d\r\n\r\n" % len(body) + body)


def _bare(request: bytes) -> str:
    return _credential(request).decode().removeprefix("Bearer ")


def key_as_content_encoding(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    _answer(conn, b"x", b"content-encoding: " + _bare(request).encode() + b"\r\n")


def key_in_a_long_refusal(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    refusal = "x" * 190 + _bare(request)  # the key straddles where the message is cut
    message = {"role": "assistant", "content": None, "refusal": refusal}
    _answer(conn, json.dumps({"choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}).encode())


def key_as_finish_reason(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    key = _bare(request)
    message = {"role": "assistant", "content": None}
    openai = {"choices": [{"index": 0, "message": message, "finish_reason": key}]}
    anthropic = {"type": "message", "content": [], "stop_reason": key}
    _answer(conn, json.dumps(openai if b"/chat/completions" in request.split(b"\r\n")[0] else anthropic).encode())


def key_json_escaped_in_a_body_that_is_not_json(conn: socket.socket, request: bytes, stop: threading.Event) -> None:
    _answer(conn, b'{"echo": "' + _bare(request).replace("/", "\\/").encode() + b'"')


@pytest.mark.parametrize("path", ["sync", "async"])
@pytest.mark.parametrize(
    ("behaviour", "providers"),
    [
        (key_as_content_encoding, ["openai", "anthropic"]),
        (key_in_a_long_refusal, ["openai"]),
        (key_as_finish_reason, ["openai", "anthropic"]),
        (key_json_escaped_in_a_body_that_is_not_json, ["openai", "anthropic"]),
    ],
    ids=["content-encoding", "long-refusal", "finish-or-stop-reason", "json-escaped-in-non-json"],
)
def test_a_key_quoted_back_in_a_success_answer_reaches_no_error(
    behaviour: Behaviour, providers: list[str], path: str
) -> None:
    for provider_name in providers:
        with LoopbackServer(behaviour) as server:
            error = _call(_provider(provider_name, server.base_url), path)
        shown = "".join(traceback.format_exception(error)) + repr(error) + str(error)
        shown += "".join(repr(getattr(error, name, "")) for name in ("location", "provider_message"))
        for form in FORMS:
            assert form not in shown, f"{provider_name}: the key reached the error as {form!r}"
        assert KEY[:10] not in shown, f"{provider_name}: part of the key reached the error"
        assert "[redacted]" in shown, f"{provider_name}: the echoed key was there to redact"

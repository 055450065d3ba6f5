"""No header value, in any encoding, escapes the sender as anything but an LLMError or a usable answer.

Generated: any header name the HTTP grammar allows, with any bytes but CR and LF as its value (UTF-8 digits,
latin-1, stray high bytes, NUL), on a 200, a 429 and a 503, to both providers, sync and async.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

from llm_client import AnthropicProvider, LLMError, LLMRequest, LLMResponse, OpenAIProvider

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="m", prompt="p")
TOKEN = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
NAMES = st.one_of(
    st.sampled_from(
        ["retry-after", "retry-after-ms", "x-should-retry", "x-request-id", "request-id", "content-type",
         "x-ratelimit-limit-requests", "x-ratelimit-reset-requests", "anthropic-ratelimit-requests-reset",
         "content-encoding", "location"]
    ),
    st.text(alphabet=TOKEN, min_size=1, max_size=12),
)  # fmt: skip
VALUES = st.one_of(
    st.binary(max_size=24).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.text(max_size=8).map(lambda s: s.encode("utf-8").replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from(
        [b"\xd9\xa3", b"\xef\xbc\x93", b"\xd9\xa1\xd9\xa5\xd9\xa0\xd9\xa0", b"\xff", b"1\x00", b"\xd9\xa1e9"]
    ),  # UTF-8 for an Arabic-Indic 3, a fullwidth 3, an Arabic-Indic 1500; a stray byte; NUL
)
BODIES = {
    "openai": {"choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}]},
    "anthropic": {"type": "message", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"},
}


def _provider(name: str) -> OpenAIProvider | AnthropicProvider:
    cls = OpenAIProvider if name == "openai" else AnthropicProvider
    return cls(api_key="sk-test", http_client=httpx.Client())


def _handler(name: str, status: int, headers: list[tuple[bytes, bytes]]) -> object:
    def handle(request: httpx.Request) -> httpx.Response:
        body = BODIES[name] if status == 200 else {"error": {"type": "x", "message": "no"}}
        return httpx.Response(status, headers=headers, json=body)

    return handle


def _judge(outcome: object) -> None:
    assert isinstance(outcome, LLMResponse | LLMError), f"{type(outcome).__name__} escaped: {outcome!r}"


@settings(max_examples=150, deadline=None, derandomize=True, database=None)
@given(
    provider=st.sampled_from(["openai", "anthropic"]),
    status=st.sampled_from([200, 429, 503, 400]),
    headers=st.lists(st.tuples(NAMES.map(str.encode), VALUES), min_size=1, max_size=3),
)
def test_any_header_bytes_end_in_an_answer_or_an_llm_error_sync_and_async(
    provider: str, status: int, headers: list[tuple[bytes, bytes]]
) -> None:
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=_handler(provider, status, headers))
        sender = _provider(provider)
        try:
            outcome: object = sender.complete(REQ, timeout_s=5.0)
        except Exception as exc:  # judged below: only an LLMError may leave
            outcome = exc
        _judge(outcome)

        async def main() -> object:
            try:
                return await sender.acomplete(REQ, timeout_s=5.0)
            except Exception as exc:
                return exc
            finally:
                await sender.aclose()

        _judge(asyncio.run(main()))


def test_a_utf8_digit_in_retry_after_is_no_wait_at_all() -> None:
    with respx.mock() as router:
        arabic_three = b"\xd9\xa3"
        router.route().respond(429, headers=[(b"retry-after", arabic_three)], json={"error": {"message": "slow"}})
        with pytest.raises(LLMError) as caught:
            _provider("openai").complete(REQ, timeout_s=5.0)
    assert caught.value.retry_after is None  # type: ignore[attr-defined]

"""Hidden tier, exercise 6: error_for_status, error_for_transport and HTTPProvider.complete, against the reference.

``complete`` goes over a real transport: this process runs a scripted HTTP server on 127.0.0.1
(tests/hidden/loopback.py) and each child calls it with an ``OpenAIProvider`` (or an ``AnthropicProvider``)
whose key is made up for the example; a 1xx, which no real connection hands over, is answered in memory by
the transport of the client given to the provider. What is compared: the outcome (the response, or the
error's class and fields, chained to the same httpx class), what arrived at the server (one POST per call,
its path, body and headers; none for a bad ``timeout_s``), which client carried it (the provider's own,
never an httpx client made on the side) with the attempt's timeout, the llm_client log records (their text
aside), and that the key shows up nowhere: not in the error, its arguments, its cause, the log records or
httpx's own. The class of the error for every httpx error is compared, a transport failure or not
(DecodingError, TooManyRedirects ...: "any other failure an LLMConnectionError").

Free, as the contract leaves it: the wording of messages (an error for a status still names its provider
and its status number, and a refused ``timeout_s`` is named), and an error's ``retry_after`` straight from
error_for_status on a 408, 409 or 5xx (error_for_response reads it there, whoever reads it first).
Exercise 4's parse_retry_after is stood in for (ops/ex6.py), so exercise 6 is graded alone.
"""

from __future__ import annotations

import json
import math
import re
import string
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from tests.hidden.conftest import Pair
from tests.hidden.loopback import Loopback, Reply

pytestmark = pytest.mark.ex6

#: No shrinking: a wrong answer fails at its first example, and a shrink costs two child calls a step.
QUICK = settings(phases=(Phase.explicit, Phase.generate))
#: The "now" of ops/ex6.py's stand-in for exercise 4 (HTTP-dates are read relative to it).
FROZEN_NOW = 1_800_000_000.0
#: The request headers compared (the others are httpx's own).
RELEVANT_HEADERS = ("authorization", "content-type", "accept-encoding", "host")
#: The httpx errors that are transport failures (their kit error's class is compared exactly, as for the others).
TRANSPORT_KINDS = (
    "TransportError", "TimeoutException", "ConnectTimeout", "ReadTimeout", "WriteTimeout", "PoolTimeout",
    "NetworkError", "ConnectError", "ReadError", "WriteError", "CloseError", "ProtocolError",
    "LocalProtocolError", "RemoteProtocolError", "ProxyError", "UnsupportedProtocol",
    "ConnectionResetByPeer", "SlowPool",
)  # fmt: skip
#: The other httpx errors: "any other failure an LLMConnectionError", compared exactly too.
OTHER_KINDS = ("HTTPError", "RequestError", "DecodingError", "TooManyRedirects", "HTTPStatusError")


@pytest.fixture(scope="module")
def server() -> Iterator[Loopback]:
    with Loopback() as running:
        yield running


# -- what crosses, made comparable ------------------------------------------------------------------------


def _short(value: Any, limit: int = 1500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_error(description: Any) -> bool:
    return isinstance(description, dict) and {"error", "bases", "fields"} <= set(description)


def shape(description: Any) -> Any:
    """``description`` without messages and tracebacks; an error's cause as its class and fields alone (what
    is chained below the cause is httpx's and httpcore's own)."""
    if isinstance(description, list):
        return [shape(item) for item in description]
    if not isinstance(description, dict):
        return description
    if _is_error(description):
        dropped = ("message", "traceback", "cause", "cause_is_context")
        out = {k: shape(v) for k, v in description.items() if k not in dropped}
        cause = description.get("cause")
        if _is_error(cause):
            out["cause"] = {"type": cause["type"], "bases": cause["bases"], "fields": shape(cause["fields"])}
        else:
            out["cause"] = shape(cause)
        return out
    return {k: shape(v) for k, v in description.items() if k != "traceback"}


def names_the_facts(message: Any, provider: str, status: int) -> bool:
    """True when ``message`` names ``provider`` and ``status`` (as a number of its own): the facts an error for a
    status states, however it words them."""
    text = message if isinstance(message, str) else ""
    return provider in text and re.search(rf"(?<![0-9]){status}(?![0-9])", text) is not None


def secret_of(key: str | None) -> str | None:
    return None if key is None else key.removeprefix("sk-hidden-")


def assert_no_key(what: str, key: str | None, *texts: Any) -> None:
    secret = secret_of(key)
    if not secret:
        return
    for text in texts:
        dumped = text if isinstance(text, str) else json.dumps(text)
        assert secret not in dumped, f"{what}: the API key shows up in {_short(text)}"


# -- inputs -----------------------------------------------------------------------------------------------

keys = st.text(string.ascii_letters + string.digits, min_size=16, max_size=24).map(lambda s: f"sk-hidden-{s}")
WORDS = ["Rate", "limit", "reached", "for", "model", "The", "server", "is", "overloaded", "try", "again", "later",
         "Invalid", "value", "max_tokens", "not", "found", "é", "日本", "<b>", '"quoted"', "\n", "42"]  # fmt: skip
messages = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join)
ERROR_TYPES = ["invalid_request_error", "server_error", "rate_limit_exceeded", "tokens", "overloaded_error"]
QUOTA = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "code": "insufficient_quota",
    }
}


@st.composite
def error_bodies(draw: st.DrawFn) -> str:
    """An error body in the shapes providers send: OpenAI's and Anthropic's objects, a bare string, a message
    at the top, HTML from a proxy, nothing, or something else."""
    message = draw(st.one_of(messages, messages, st.just(""), st.none(), st.integers(), st.text(max_size=600)))
    inner: dict[str, Any] = {}
    if draw(st.booleans()) or draw(st.booleans()):
        inner["message"] = message
    if draw(st.booleans()):
        inner["type"] = draw(st.sampled_from(ERROR_TYPES))
    if draw(st.booleans()):
        inner["code"] = draw(st.one_of(st.sampled_from(["rate_limit", "invalid_api_key"]), st.none(), st.integers()))
    shapes = [
        json.dumps({"error": inner}),
        json.dumps({"type": "error", "error": inner}),
        json.dumps({"error": message}),
        json.dumps({"message": message}),
        json.dumps({"error": inner, "message": draw(messages)}),
        json.dumps({"detail": message}),
        json.dumps([message]),
        "<html><body><h1>502 Bad Gateway</h1></body></html>",
        "",
        draw(messages),
        "{\"error\": {\"message\": \"cut",
    ]
    return draw(st.sampled_from(shapes))


def _date(delta: int) -> str:
    return formatdate(FROZEN_NOW + delta, usegmt=True)


retry_values = st.one_of(
    st.integers(0, 120).map(str),
    st.sampled_from(["1.5", "0", "-1", "abc", "", " 7 ", "1e3", "inf"]),
    st.integers(-100, 300).map(_date),
)
wait_headers = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["Retry-After", "retry-after", "RETRY-AFTER"]), retry_values),
        st.tuples(st.sampled_from(["retry-after-ms", "Retry-After-Ms"]), st.one_of(retry_values, st.just("1500"))),
    ),
    max_size=2,
)
other_headers = st.lists(
    st.sampled_from(
        [("Content-Type", "application/json"), ("Content-Type", "text/html"), ("x-request-id", "req_123"),
         ("x-ratelimit-remaining-requests", "0"), ("x-ratelimit-reset-tokens", "6m0s")]
    ),
    max_size=2,
    unique=True,
)
statuses = st.one_of(
    st.sampled_from(
        [100, 101, 103, 199, 300, 301, 302, 304, 307, 399, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410,
         413, 415, 418, 421, 422, 425, 428, 429, 429, 429, 431, 451, 499, 500, 501, 502, 503, 504, 505, 507, 511,
         520, 529, 598, 599, 600, 999]
    ),
    st.integers(100, 199),
    st.integers(300, 599),
    st.integers(600, 999),
)
providers = st.sampled_from(["openai", "anthropic", "acme"])


def _retry_after_free(outcome: Any, status: int) -> Any:
    """On a 408, 409 or 5xx, error_for_status's retry_after is left free (error_for_response sets it there)."""
    returned = outcome.get("items", {}).get("returned") if isinstance(outcome, dict) else None
    if not (status in (408, 409) or 500 <= status < 600) or not _is_error(returned):
        return outcome
    fields = {k: v for k, v in returned["fields"].items() if k != "retry_after"}
    return {**outcome, "items": {"returned": {**returned, "fields": fields}}}


def _error_for_status(pair: Pair, statuses: list[int], **args: Any) -> None:
    """error_for_status on a response of each of ``statuses`` (the same headers and body): the reference's
    error, returned, for each."""
    got, want = pair.run("ex6.error_for_status", statuses=statuses, **args)
    for name, outcome in (("the reference", want), ("the submission", got)):
        assert "ok" in outcome["result"] and len(outcome["result"]["ok"].get("items", [])) == len(statuses), (
            f"ex6.error_for_status in {name} did not run: {_short(outcome['result'])}"
        )
    for status, mine, theirs in zip(statuses, got["result"]["ok"]["items"], want["result"]["ok"]["items"], strict=True):
        assert _is_error(theirs["items"].get("returned")), f"the reference returned no error: {_short(theirs)}"
        shown = {"status": status, **args}
        assert shape(_retry_after_free(mine, status)) == shape(_retry_after_free(theirs, status)), (
            f"error_for_status({_short(shown)}):\nexpected {_short(theirs)}\n     got {_short(mine)}"
        )
        provider = args.get("provider", "openai")
        assert names_the_facts(theirs["items"]["returned"]["message"], provider, status), (
            f"the reference's error_for_status({_short(shown)}) does not name {provider!r} and {status}: "
            f"{_short(theirs)}"
        )
        assert names_the_facts(mine["items"]["returned"]["message"], provider, status), (
            f"error_for_status({_short(shown)}): expected str(error) to name the provider {provider!r} and the status "
            f"{status} (wording free), got {_short(mine['items']['returned']['message'])}"
        )
    assert_no_key("error_for_status", args.get("key"), want["result"])
    assert_no_key("error_for_status", args.get("key"), got["result"], got["logs"])


# -- error_for_status -------------------------------------------------------------------------------------


#: Each of these is in every example's batch (every status whose class differs from its neighbours').
EVERY_TIME = [100, 103, 199, 300, 302, 304, 399, 400, 401, 402, 403, 404, 407, 408, 409, 410, 413, 418, 422, 428,
              429, 451, 499, 500, 502, 503, 504, 511, 520, 529, 599, 600, 999]  # fmt: skip


@pytest.mark.points(6)
@settings(QUICK, max_examples=40)
@given(
    more=st.lists(statuses, max_size=4),
    waits=wait_headers,
    others=other_headers,
    body=error_bodies(),
    provider=providers,
    key=st.one_of(keys, st.none()),
)
@example(more=[], waits=[("Retry-After", "3")], others=[], body=json.dumps({"error": {"message": "slow"}}),
         provider="openai", key=None)  # fmt: skip
@example(more=[], waits=[("retry-after-ms", "1500"), ("Retry-After", "9")], others=[], body="", provider="openai",
         key=None)  # fmt: skip
@example(more=[], waits=[("Retry-After", _date(30))], others=[], body="", provider="openai", key=None)
@example(more=[], waits=[], others=[], body=json.dumps({"error": {"message": "Overloaded"}}), provider="anthropic",
         key=None)  # fmt: skip
def test_error_for_status_returns_the_references_error_for_every_status_header_and_body(
    pair: Pair, more: list[int], waits: list[tuple[str, str]], others: list[tuple[str, str]], body: str,
    provider: str, key: str | None,
) -> None:  # fmt: skip
    headers = [list(pair_) for pair_ in [*waits, *others]]
    _error_for_status(pair, [*EVERY_TIME, *more], headers=headers, body=body, provider=provider, key=key)


@st.composite
def echoing_bodies(draw: st.DrawFn, key: str) -> tuple[str, str]:
    """A body that echoes the key the request sent (some servers do), and the encoding it is sent in."""
    quoted = draw(st.sampled_from([key, f"Bearer {key}", f"key={key}", f"Clé invalide : {key}"]))
    shapes = [
        json.dumps({"error": {"message": f"Incorrect API key provided: {quoted}. Find yours at ...", "type": "x"}}),
        json.dumps({"error": f"bad key {quoted}"}),
        json.dumps({"message": quoted}),
        json.dumps({"error": {"message": f"{'x' * draw(st.integers(480, 505))}{quoted}"}}),
        f"<html><body>401: {quoted} is not valid</body></html>",
        quoted,
    ]
    return draw(st.sampled_from(shapes)), draw(st.sampled_from(["utf-8", "utf-8", "latin-1"]))


@pytest.mark.points(2)
@QUICK
@given(status=statuses, key=keys, data=st.data(), in_reason=st.booleans())
def test_error_for_status_never_repeats_the_key_a_body_echoes(
    pair: Pair, status: int, key: str, data: st.DataObject, in_reason: bool
) -> None:
    body, encoding = data.draw(echoing_bodies(key))
    reason = f"Bad Key {key}" if in_reason else None
    statuses_ = [status, 400, 401, 403, 404, 429, 500, 503]
    _error_for_status(pair, statuses_, headers=[], body=body, encoding=encoding, reason=reason, key=key)


# -- error_for_transport ----------------------------------------------------------------------------------


@pytest.mark.points(4)
@settings(QUICK, max_examples=30)
@given(text=messages, key=keys, provider=providers)
def test_error_for_transport_returns_the_references_error_for_each_httpx_error(
    pair: Pair, text: str, key: str, provider: str
) -> None:
    kinds = [*TRANSPORT_KINDS, *OTHER_KINDS]
    got, want = pair.run("ex6.error_for_transport", kinds=kinds, text=text, key=key, provider=provider)
    for name, outcome in (("the reference", want), ("the submission", got)):
        assert "ok" in outcome["result"] and len(outcome["result"]["ok"].get("items", [])) == len(kinds), (
            f"ex6.error_for_transport in {name} did not run: {_short(outcome['result'])}"
        )
    for kind, mine, theirs in zip(kinds, got["result"]["ok"]["items"], want["result"]["ok"]["items"], strict=True):
        args = {"kind": kind, "text": text, "provider": provider}
        assert _is_error(theirs["items"].get("returned")), f"the reference returned no error: {_short(theirs)}"
        assert shape(mine) == shape(theirs), (
            f"error_for_transport({_short(args)}):\nexpected {_short(theirs)}\n     got {_short(mine)}"
        )
    assert_no_key("error_for_transport", key, want["result"])
    assert_no_key("error_for_transport", key, got["result"], got["logs"])


# -- complete, over a real transport ----------------------------------------------------------------------


def _relevant(arrived: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**one, "headers": {k: v for k, v in one["headers"].items() if k in RELEVANT_HEADERS}} for one in arrived
    ]


def _logs(outcome: dict[str, Any]) -> list[Any]:
    return [[record["logger"], record["level"], record["fields"]] for record in outcome["logs"]]


def _bad_timeout(timeout_s: Any) -> bool:
    return not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0)


def call_complete(pair: Pair, server: Loopback, replies: list[Reply], **args: Any) -> dict[str, Any]:
    """``complete`` in both children against ``server`` answering ``replies``; assert the same outcome, the same
    requests on the wire through the same client, the same log records, and the key nowhere; an error raised
    for a status names its provider and that status."""
    args.setdefault("port", server.port)
    server.script(*replies)
    got = pair.submission.call("ex6.complete", None, **args)
    got_arrived = server.arrived()
    server.script(*replies)
    want = pair.reference.call("ex6.complete", None, **args)
    want_arrived = server.arrived()
    shown = {k: v for k, v in args.items() if k != "port"}
    reference = want["result"].get("ok", {}).get("items", {})
    bug = args.get("transport_raises") == "ValueError" or _bad_timeout(args.get("timeout_s"))
    assert "returned" in reference or bug or "LLMError" in reference.get("raised", {}).get("bases", ()), (
        f"complete({_short(shown)}) failed in the reference itself (is this test out of date?): {_short(want)}"
    )
    assert shape(got["result"]) == shape(want["result"]), (
        f"complete({_short(shown)}) answered {_short(replies, 600)}:\nexpected {_short(want['result'])}\n"
        f"     got {_short(got['result'])}"
    )
    assert _relevant(got_arrived) == _relevant(want_arrived), (
        f"complete({_short(shown)}) answered {_short(replies, 600)}: expected these requests at the server "
        f"{_short(_relevant(want_arrived))}, got {_short(_relevant(got_arrived))}"
    )
    assert _logs(got) == _logs(want), (
        f"complete({_short(shown)}): expected the log records {_short(_logs(want))}, got {_short(_logs(got))}"
    )
    key = args.get("key")
    assert_no_key("complete (the reference)", key, want["result"])
    assert_no_key(f"complete({_short(shown)})", key, got["result"], got["logs"])
    raised = reference.get("raised", {})
    status = raised.get("fields", {}).get("status_code", {}).get("value") if _is_error(raised) else None
    if isinstance(status, int) and not 200 <= status < 300:
        provider = args.get("provider", "openai")
        assert names_the_facts(raised["message"], provider, status), (
            f"the reference's complete({_short(shown)}) raised an error that does not name {provider!r} and "
            f"{status}: {_short(raised)}"
        )
        mine = got["result"]["ok"]["items"]["raised"]["message"]
        assert names_the_facts(mine, provider, status), (
            f"complete({_short(shown)}) answered HTTP {status}: expected str(error) to name the provider "
            f"{provider!r} (the provider's name) and the status {status} (wording free), got {_short(mine)}"
        )
    return got


def completion(text: str, finish_reason: str | None, model: str, usage: Any, refusal: str | None = None) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": text}
    if refusal is not None:
        message["refusal"] = refusal
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return json.dumps(body).encode("utf-8")


@st.composite
def answers(draw: st.DrawFn, key: str | None) -> Reply:
    """A 2xx: a chat completion (maybe truncated, refused, filtered, gzipped), or a body that is none."""
    usage = draw(
        st.one_of(
            st.none(),
            st.fixed_dictionaries({"prompt_tokens": st.integers(0, 999), "completion_tokens": st.integers(0, 999)}),
            st.just({"prompt_tokens": 3, "details": {"cached": 1}}),
        )
    )
    finish = draw(st.sampled_from(["stop", "stop", "length", "tool_calls", None, "content_filter"]))
    refusal = draw(st.sampled_from([None, None, None, "I can't help with that."]))
    body = completion(draw(st.text(max_size=40)), finish, draw(st.sampled_from(["gpt-x-2026", ""])), usage, refusal)
    body = draw(st.sampled_from([body, body, body, b"<html>proxy</html>", b'{"choices": []}', b"[]", b"",
                                 b'{"error": {"message": "hidden error"}}']))  # fmt: skip
    headers = list(draw(other_headers))
    if key is not None and draw(st.booleans()):
        headers.append(("x-ratelimit-limit-requests", key))  # a server that echoes the key in a header
    return Reply(
        status=draw(st.sampled_from([200, 200, 200, 201, 202, 203, 206])),
        headers=(("Content-Type", "application/json"), *headers),
        body=body,
        gzip=draw(st.booleans()),
    )


MODELS = ["gpt-test", "gpt-4o", "o3-mini", "gpt-5", "gpt-5-chat", "llama3"]
requests = st.fixed_dictionaries(
    {"model": st.sampled_from(MODELS), "prompt": st.text(min_size=1, max_size=40).filter(str.strip)},
    optional={
        "system_prompt": st.text(min_size=1, max_size=20).filter(str.strip),
        "temperature": st.floats(0.0, 2.0),
        "max_tokens": st.integers(1, 4096),
        "top_p": st.floats(0.01, 1.0),
        "stop": st.lists(st.sampled_from(["END", "\n\n", "###"]), max_size=2, unique=True),
    },
)
calls = st.fixed_dictionaries(
    {
        "req": requests,
        "timeout_s": st.floats(1.0, 60.0),
        "given_client": st.booleans(),
        "reasoning": st.sampled_from([None, None, True, False]),
    }
)


@pytest.mark.points(5)
@settings(QUICK, max_examples=30)
@given(call=calls, key=st.one_of(keys, keys, st.none()), data=st.data())
def test_complete_sends_one_post_through_its_own_client_and_returns_the_references_answer(
    pair: Pair, server: Loopback, call: dict[str, Any], key: str | None, data: st.DataObject
) -> None:
    reply = data.draw(answers(key))
    call_complete(pair, server, [reply], key=key, **call)


@st.composite
def failures(draw: st.DrawFn, key: str) -> Reply:
    """A 4xx or 5xx (a 429 often, a quota 429, Retry-After on any, x-should-retry), or a redirect."""
    status = draw(
        st.one_of(
            st.sampled_from([400, 401, 403, 404, 408, 409, 413, 422, 429, 429, 429, 500, 502, 503, 504, 529, 600,
                             999]),
            st.integers(400, 599),
            st.integers(600, 999),
            st.sampled_from([300, 301, 302, 303, 307, 308]),
        )
    )
    headers = [*draw(wait_headers), *draw(other_headers)]
    if draw(st.booleans()):
        headers.append(("x-should-retry", draw(st.sampled_from(["true", "false", "TRUE", "maybe"]))))
    if 300 <= status < 400:
        location = draw(st.sampled_from(["http://127.0.0.1:9/v1/chat/completions", "/v2/chat/completions",
                                         f"http://user:{key}@evil.test/steal", None]))  # fmt: skip
        if location is not None:
            headers.append(("Location", location))
        body = b""
    else:
        text = draw(st.one_of(error_bodies(), st.just(json.dumps(QUOTA))))
        if draw(st.integers(0, 4)) == 0:
            text = json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}})
        body = text.encode("utf-8")
    return Reply(status=status, headers=tuple(headers), body=body)


def status_sweep(key: str) -> list[Reply]:
    """Every row of the status table once, then what error_for_response adds to it."""
    body = json.dumps({"error": {"message": "Nope", "type": "invalid_request_error", "code": "nope"}}).encode()
    table = [Reply(status, headers=(("Retry-After", "2"), ("x-request-id", "req_1")), body=body)
             for status in (400, 401, 403, 404, 408, 409, 410, 413, 418, 422, 429, 451, 499, 500, 502, 503, 504, 529,
                            599, 600, 999)]  # fmt: skip
    return [
        *table,
        Reply(429, body=json.dumps(QUOTA).encode()),
        Reply(429, headers=(("retry-after-ms", "1500"), ("Retry-After", _date(40))), body=body),
        Reply(503, headers=(("x-should-retry", "false"), ("Retry-After", "2"))),
        Reply(500, headers=(("retry-after-ms", "250"),)),
        Reply(400, headers=(("x-should-retry", "true"),)),
        Reply(401, body=json.dumps({"error": {"message": f"Incorrect API key provided: {key}"}}).encode()),
        Reply(302, headers=(("Location", f"http://user:{key}@evil.test/"),)),
        Reply(307, headers=(("Location", "/v2/chat/completions"),)),
        Reply(301),
    ]


#: What the given client's transport answers in memory: statuses no connection hands over (a 1xx, which httpx
#: reads past), each with a completion's body, as a 200 would carry it: only a 2xx is an answer.
IN_MEMORY = [100, 103, 199, 600, 999]


def by_provider(call: dict[str, Any], provider: str) -> dict[str, Any]:
    """``call`` for ``provider`` (an AnthropicProvider has no ``reasoning`` option, and refuses a temperature
    above 1: it is halved)."""
    if provider != "anthropic":
        return call
    req = dict(call["req"])
    if req.get("temperature") is not None:
        req["temperature"] = req["temperature"] / 2
    return {**call, "req": req, "provider": provider, "reasoning": None}


@pytest.mark.points(6)
@settings(QUICK, max_examples=30)
@given(call=calls, key=keys, data=st.data(), provider=st.sampled_from(["openai", "anthropic"]))
@example(call={"req": {"model": "gpt-test", "prompt": "hi"}, "timeout_s": 5.0, "given_client": False,
               "reasoning": None}, key="sk-hidden-0123456789abcdef", data=None, provider="openai")  # fmt: skip
def test_complete_raises_the_references_error_for_each_status_chained_and_without_the_key(
    pair: Pair, server: Loopback, call: dict[str, Any], key: str, data: st.DataObject | None, provider: str
) -> None:
    if data is None:  # the explicit example: every row of the table, through both clients and both providers
        for index, reply in enumerate(status_sweep(key)):
            mode = {"given_client": bool(index % 2)}
            kind = ("openai", "anthropic")[index // 2 % 2]
            call_complete(pair, server, [reply], key=key, **by_provider({**call, **mode}, kind))
        body = completion("Hi!", "stop", "gpt-test", {"prompt_tokens": 1, "completion_tokens": 1})
        for index, status in enumerate(IN_MEMORY):
            answer = {"status": status, "headers": [["Content-Type", "application/json"]], "body": body.decode()}
            mine = {"given_client": True, "transport_answers": answer}
            kind = ("openai", "anthropic")[index % 2]
            call_complete(pair, server, [Reply()], key=key, **by_provider({**call, **mine}, kind))
        return
    call_complete(pair, server, [data.draw(failures(key))], key=key, **by_provider(call, provider))


BREAKDOWNS = ("refused", "hang_up", "cut", "cut_error", "status_line", "header_line", "garbage", "bad_gzip",
              "too_large")  # fmt: skip


def breakdown(kind: str, key: str, n: int) -> tuple[Reply, dict[str, Any]]:
    """The connection fails (``kind``): refused, closed before an answer or mid-body (after ``n`` bytes), a status
    or header line that is not HTTP (quoting the key), a body that does not decompress, one larger than
    max_response_bytes (``n + 1``). Returns the reply and what the call adds to its arguments."""
    body = completion("a long enough answer " * 4, "stop", "m", None)
    if kind == "refused":
        return Reply(), {"host": "127.0.0.2"}
    if kind == "too_large":
        return Reply(body=body, gzip=bool(n % 2)), {"max_response_bytes": n + 1}
    return {
        "hang_up": Reply(hang_up=True),
        "cut": Reply(body=body, cut_after=n),
        "cut_error": Reply(503, body=json.dumps(QUOTA).encode(), cut_after=n % 20 + 1),
        "status_line": Reply(status_line=f"HTTP/1.1 abc {key}"),
        "header_line": Reply(status_line=f"HTTP/1.1 500 Oops\r\nX-Bad Header: {key}"),
        "garbage": Reply(status_line=["HELLO", "SSH-2.0-OpenSSH_9.6", key][n % 3]),
        "bad_gzip": Reply(headers=(("Content-Encoding", "gzip"),), body=b"not gzip at all"),
    }[kind], {}


#: What a transport may raise while sending: httpx's RequestErrors (never HTTPStatusError, which only
#: raise_for_status raises), or a bug of its own.
RAISED_BY_TRANSPORT = (*TRANSPORT_KINDS, "RequestError", "DecodingError", "TooManyRedirects", "ValueError")


@pytest.mark.points(3)
@settings(QUICK, max_examples=8)
@given(
    call=calls,
    key=keys,
    broken=st.lists(st.tuples(st.sampled_from(BREAKDOWNS), st.integers(0, 40)), min_size=3, max_size=3),
    raised=st.lists(st.sampled_from(RAISED_BY_TRANSPORT), min_size=3, max_size=3),
)
@example(call={"req": {"model": "gpt-test", "prompt": "hi"}, "timeout_s": 5.0, "given_client": False,
               "reasoning": None}, key="sk-hidden-0123456789abcdef",
         broken=[(kind, 7 * index) for index, kind in enumerate(BREAKDOWNS)],
         raised=list(RAISED_BY_TRANSPORT))  # fmt: skip
def test_complete_turns_a_broken_connection_into_the_references_error_chained_to_httpx(
    pair: Pair, server: Loopback, call: dict[str, Any], key: str, broken: list[tuple[str, int]], raised: list[str]
) -> None:
    """Connections that break (through one client or the other), and errors a given client's transport raises;
    the explicit example has every one of each."""
    for index, (kind, n) in enumerate(broken):
        reply, extra = breakdown(kind, key, n)
        mode = {"given_client": call["given_client"] != bool(index % 2)}
        call_complete(pair, server, [reply], key=key, **{**call, **mode, **extra})
    for index, kind in enumerate(raised):
        text = f"failed for {key}" if index % 2 and kind != "ValueError" else "failed"  # a bug's text is not redacted
        mine = {"given_client": True, "transport_raises": kind, "raise_text": text}
        call_complete(pair, server, [Reply()], key=key, **{**call, **mine})


@pytest.mark.points(2)
def test_complete_gives_up_at_the_attempts_timeout_however_slow_the_server(pair: Pair, server: Loopback) -> None:
    req = {"model": "gpt-test", "prompt": "Say hi."}
    body = completion("hi", "stop", "m", None)
    for reply, given_client in (
        (Reply(body=body, delay_s=0.6), False),  # no first byte before the timeout
        (Reply(body=body[:12], trickle_s=0.05), True),  # every byte in time, the whole body not
    ):
        call_complete(
            pair, server, [reply], key="sk-hidden-slowslowslowslow", req=req, timeout_s=0.15, given_client=given_client
        )


#: A ``timeout_s`` check_attempt refuses (a ValueError naming it), whatever the server would answer.
BAD_TIMEOUTS = [-1.0, 0.0, -0.001, math.nan, -math.inf, math.inf, 0]


@pytest.mark.points(1)
@settings(QUICK, max_examples=10)
@given(call=calls, bad=st.sampled_from(BAD_TIMEOUTS))
@example(call={"req": {"model": "gpt-test", "prompt": "hi"}, "timeout_s": 5.0, "given_client": False,
               "reasoning": None}, bad=-1.0)  # fmt: skip
def test_complete_without_a_key_for_a_remote_server_fails_before_anything_is_sent(
    pair: Pair, server: Loopback, call: dict[str, Any], bad: float
) -> None:
    """No key for a remote server, or a ``timeout_s`` that is not > 0 (check_attempt's ValueError, naming it):
    nothing is sent."""
    call_complete(pair, server, [Reply()], key=None, host="127.0.0.2", **call)
    body = completion("Hi!", "stop", "gpt-test", None)
    got = call_complete(pair, server, [Reply(body=body)], key="sk-hidden-timeouttimeout", **{**call, "timeout_s": bad})
    raised = got["result"]["ok"]["items"]["raised"]
    assert raised["error"] == "ValueError" and "timeout_s" in raised["message"], (
        f"complete(timeout_s={bad!r}): expected a ValueError naming timeout_s, got {_short(raised)}"
    )

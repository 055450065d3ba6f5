"""Fault sequences for the client, a transport that replays them, and an oracle of the expected outcome.

A *fault* is what the provider (or the network) does on one attempt: time out,
refuse the connection, answer 5xx, 429 with some Retry-After, a broken body,
or a valid success. A *sequence* is the faults of consecutive attempts; when
the client asks for more attempts than the sequence holds, every further one
gets :data:`FILLER` (a plain 503).

:func:`run` drives a sequence through the real provider (``OpenAIProvider`` or
``AnthropicProvider``) on an ``httpx.MockTransport`` and a real ``LLMClient``
with a fake clock and sleep, and records what happened. :func:`expected` is the
oracle: from the documented rules alone (the error table of
``llm_client.errors``, and the retry rules of ``tests/grader/fault_oracle.py``,
the grader's oracle for exercise 1), it says what
must happen. It shares no code with the client: its backoff is the formula
``min(cap, base * 2**attempt)``, its jitter a draw from its own
``random.Random`` seeded like the client's.
"""

from __future__ import annotations

import calendar
import contextlib
import email.utils
import importlib
import json
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from unittest import mock

import httpx
from hypothesis import strategies as st

from llm_client import (
    AnthropicProvider,
    AuthenticationError,
    DeadlineExceededError,
    InvalidRequestError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    MalformedResponseError,
    MemoryCache,
    OpenAIProvider,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
)
from tests.grader.fault_oracle import Settings, Step, predict

#: The wall-clock "now" (Unix seconds) that Retry-After HTTP-dates are read against.
FIXED_NOW = 1_800_000_000

REQUEST = LLMRequest(model="test-model", prompt="Say something reliable.")
SENT_KEY = "sk-test-faults"

#: The errors the client may retry (from the table in llm_client/errors.py).
RETRYABLE = (LLMTimeoutError, LLMConnectionError, RateLimitError, ServerError, MalformedResponseError)


class ProgrammingError(RuntimeError):
    """A bug below the client (not an httpx error): must reach the caller unchanged, never retried."""


# -- faults ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What one attempt meets. ``kind`` picks the behaviour; ``param`` refines it; ``cost_s`` is its duration."""

    kind: str
    param: Any = None
    cost_s: float = 0.0

    def __repr__(self) -> str:  # short, for hypothesis' falsifying examples
        return f"Fault({self.kind!r}, {self.param!r}, cost_s={self.cost_s!r})"


@dataclass(frozen=True)
class Expectation:
    """What the oracle says one attempt's fault becomes.

    ``text`` for a valid success; otherwise ``error`` (the mapped error type),
    ``cause`` (the type ``__cause__`` must be an instance of, or None for no
    cause), ``status`` (the error's status_code) and ``retry_after`` (for a 429).
    """

    text: str | None = None
    error: type[BaseException] | None = None
    cause: type[BaseException] | None = None
    status: int | None = None
    retry_after: float | None = None

    @property
    def retryable(self) -> bool:
        return self.error is not None and issubclass(self.error, RETRYABLE)


FILLER = Fault("server", 503)

_SERVER_STATUSES = (500, 502, 503, 504, 529)
_FATAL_STATUSES = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: InvalidRequestError,
    422: InvalidRequestError,
}
_TIMEOUTS = {
    "read": httpx.ReadTimeout,
    "connect": httpx.ConnectTimeout,
    "write": httpx.WriteTimeout,
    "pool": httpx.PoolTimeout,
}
_TRANSPORT = {
    "connect": httpx.ConnectError,
    "read": httpx.ReadError,
    "protocol": httpx.RemoteProtocolError,
    "write": httpx.WriteError,
}
_HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1><p>nginx</p></body></html>"
_BAD_BODIES = (
    b'{"choices": [{"message": {"content": "trunc',  # truncated mid-string
    b'{"id": "x", "choices": ',  # truncated after a key
    b"",  # empty
    b"not json at all",
    b"\xff\xfe\x00\x00garbage",  # not even text
    b"{'single': 'quotes'}",
)

#: Statuses other than 429 whose Retry-After is honoured.
_WAIT_STATUSES = (408, 409, 500, 503, 529)

# Retry-After variants: (header name, header value, expected retry_after in seconds or None).
_GARBAGE_VALUES = ("soon", "", "NaN", "inf", "-inf", "1e400", "12 seconds", "0x10", "Wed, 99 Foo 2026", "--1")


def _date(offset_s: int, form: str = "imf") -> str:
    """An HTTP-date ``offset_s`` seconds from FIXED_NOW in one of RFC 9110's three forms."""
    when = time.gmtime(FIXED_NOW + offset_s)
    if form == "rfc850":
        return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", when)
    if form == "asctime":
        return time.strftime("%a %b ", when) + f"{when.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", when)
    return email.utils.formatdate(FIXED_NOW + offset_s, usegmt=True)


@st.composite
def retry_after_headers(draw: st.DrawFn) -> tuple[dict[str, str], float | None]:
    """Headers of a 429 and the retry_after (seconds) they must give."""
    variant = draw(
        st.sampled_from(
            [
                "none",
                "seconds",
                "fraction",
                "millis",
                "date_future",
                "date_rfc850",
                "date_asctime",
                "date_past",
                "huge",
                "garbage",
                "negative",
                "millis_and_seconds",
            ]
        )
    )
    if variant == "none":
        return {}, None
    if variant == "seconds":
        n = draw(st.integers(0, 180))
        return {"Retry-After": str(n)}, float(n)
    if variant == "fraction":
        x = draw(st.floats(0.0, 180.0, allow_nan=False, allow_infinity=False))
        return {"Retry-After": repr(x)}, x
    if variant == "millis":
        ms = draw(st.integers(0, 180_000))
        return {"retry-after-ms": str(ms)}, ms / 1000.0
    if variant == "date_future":
        k = draw(st.integers(0, 180))
        return {"Retry-After": _date(k)}, float(k)
    if variant in ("date_rfc850", "date_asctime"):
        k = draw(st.integers(0, 180))
        return {"Retry-After": _date(k, variant.removeprefix("date_"))}, float(k)
    if variant == "date_past":
        k = draw(st.integers(1, 10**6))
        return {"Retry-After": _date(-k)}, 0.0
    if variant == "huge":
        value = draw(st.sampled_from(["86400", "1e9", "99999999999", "1e308"]))
        return {"Retry-After": value}, float(value)
    if variant == "negative":  # invalid: back off instead
        n = draw(st.integers(1, 100))
        return {"Retry-After": f"-{n}"}, None
    if variant == "millis_and_seconds":  # the millisecond header wins
        ms = draw(st.integers(0, 90_000))
        return {"retry-after-ms": str(ms), "Retry-After": "120"}, ms / 1000.0
    return {"Retry-After": draw(st.sampled_from(_GARBAGE_VALUES))}, None


#: Seconds an attempt takes on the fake clock.
costs = st.one_of(st.just(0.0), st.floats(0.0, 5.0, allow_nan=False, allow_infinity=False))


@st.composite
def faults(draw: st.DrawFn, *, kinds: tuple[str, ...] | None = None) -> Fault:
    """One fault of any kind (or of ``kinds``)."""
    kind = draw(st.sampled_from(kinds or FAULT_KINDS))
    cost = draw(costs)
    if kind == "ok":
        return Fault(kind, draw(st.integers(0, 10**6)), cost)
    if kind == "timeout":
        return Fault(kind, draw(st.sampled_from(sorted(_TIMEOUTS))), cost)
    if kind == "transport":
        return Fault(kind, draw(st.sampled_from(sorted(_TRANSPORT))), cost)
    if kind in ("server", "server_html"):
        return Fault(kind, draw(st.sampled_from(_SERVER_STATUSES)), cost)
    if kind == "rate_limit":
        headers, _ = draw(retry_after_headers())
        return Fault(kind, tuple(sorted(headers.items())), cost)
    if kind == "server_retry_after":
        headers, _ = draw(retry_after_headers())
        return Fault(kind, (draw(st.sampled_from(_WAIT_STATUSES)), tuple(sorted(headers.items()))), cost)
    if kind == "bad_json":
        return Fault(kind, draw(st.sampled_from(_BAD_BODIES)), cost)
    if kind == "fatal":
        return Fault(kind, draw(st.sampled_from(sorted(_FATAL_STATUSES))), cost)
    return Fault(kind, None, cost)


FAULT_KINDS = (
    "ok",  # 200 with a valid answer
    "timeout",  # httpx timeout (read, connect, write, pool)
    "transport",  # connection refused, reset, protocol error
    "broken_body",  # 200 whose body stream breaks half-way
    "server",  # 5xx or 529 with a JSON error body
    "server_html",  # 5xx with a proxy's HTML page
    "timeout_408",  # HTTP 408
    "rate_limit",  # 429 with some Retry-After
    "server_retry_after",  # 408, 409, 5xx or 529 with some Retry-After
    "bad_json",  # 200 with a truncated, empty or non-JSON body
    "html_200",  # 200 with a proxy's HTML page
    "error_body_200",  # 200 whose JSON is an error
    "no_choices",  # 200 with no answer in it
    "not_object",  # 200 whose JSON is a list
    "fatal",  # 400, 401, 403, 404, 422: never retried
)


def success_text(fault: Fault) -> str:
    return f"answer #{fault.param} \u2713"


def expectation(fault: Fault) -> Expectation:
    """The oracle for one attempt: the documented mapping of a fault to a result."""
    kind, param = fault.kind, fault.param
    if kind == "ok":
        return Expectation(text=success_text(fault))
    if kind == "timeout":
        return Expectation(error=LLMTimeoutError, cause=_TIMEOUTS[param])
    if kind == "transport":
        return Expectation(error=LLMConnectionError, cause=_TRANSPORT[param])
    if kind == "broken_body":
        return Expectation(error=LLMConnectionError, cause=httpx.ReadError)
    if kind in ("server", "server_html"):
        return Expectation(error=ServerError, status=param)
    if kind == "timeout_408":
        return Expectation(error=LLMTimeoutError, status=408)
    if kind == "rate_limit":
        return Expectation(error=RateLimitError, status=429, retry_after=_expected_retry_after(dict(param)))
    if kind == "server_retry_after":  # the same wait as a 429's, from the same headers
        status, headers = param
        error = LLMTimeoutError if status == 408 else ServerError
        return Expectation(error=error, status=status, retry_after=_expected_retry_after(dict(headers)))
    if kind in ("bad_json", "html_200"):
        return Expectation(error=MalformedResponseError, cause=ValueError, status=200)
    if kind in ("error_body_200", "no_choices", "not_object"):
        return Expectation(error=MalformedResponseError, status=200)
    if kind == "fatal":
        return Expectation(error=_FATAL_STATUSES[param], status=param)
    if kind == "bug":
        return Expectation(error=ProgrammingError)
    raise AssertionError(f"unknown fault kind {kind!r}")


def _expected_retry_after(headers: dict[str, str]) -> float | None:
    """What the headers mean, by their documented forms (not by calling the parser)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lowered:
        return int(lowered["retry-after-ms"]) / 1000.0
    value = lowered.get("retry-after")
    if value is None or value in _GARBAGE_VALUES:
        return None
    if value.startswith("-"):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parts = email.utils.parsedate_tz(value)
    assert parts is not None, value
    offset = calendar.timegm(parts[:6]) - (parts[9] or 0) - FIXED_NOW  # every form is GMT
    return max(0.0, offset)


# -- the replay transport ---------------------------------------------------------------


class FakeClock:
    """Monotonic seconds that move only when told: by sleeps and by attempts."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _BrokenStream(httpx.SyncByteStream):
    def __iter__(self) -> Iterator[bytes]:
        yield b'{"choices": [{"message": {"content": "half an ans'
        raise httpx.ReadError("connection reset by peer")


def _body(provider: str, fault: Fault) -> Any:
    if fault.kind == "ok":
        text = success_text(fault)
        if provider == "anthropic":
            cut = len(text) // 2  # two text blocks: the answer is their concatenation
            return {
                "type": "message",
                "model": "test-model",
                "stop_reason": "end_turn",
                "content": [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}],
                "usage": {"input_tokens": 3, "output_tokens": 4},
            }
        return {
            "id": "c1",
            "model": "test-model",
            "usage": {"prompt_tokens": 3, "completion_tokens": 4},
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
        }
    if fault.kind == "no_choices":
        if provider == "anthropic":
            return {
                "type": "message",
                "content": [{"type": "tool_use", "id": "t", "name": "x", "input": {}}],
                "stop_reason": "tool_use",
            }
        return {"id": "c1", "choices": []}
    if fault.kind == "error_body_200":
        return {"error": {"type": "overloaded_error", "message": "Overloaded, try again"}}
    if fault.kind == "not_object":
        return ["not", "an", "object"]
    return {"error": {"message": f"{fault.kind} {fault.param}", "type": "error"}}


def respond(provider: str, fault: Fault) -> httpx.Response:
    """The response (or the exception) the transport produces for ``fault``."""
    kind, param = fault.kind, fault.param
    if kind == "timeout":
        raise _TIMEOUTS[param]("timed out")
    if kind == "transport":
        raise _TRANSPORT[param]("connection failed")
    if kind == "bug":
        raise ProgrammingError("a bug below the client")
    if kind == "broken_body":
        return httpx.Response(200, headers={"content-type": "application/json"}, stream=_BrokenStream())
    if kind == "server_html":
        return httpx.Response(param, headers={"content-type": "text/html"}, content=_HTML)
    if kind == "html_200":
        return httpx.Response(200, headers={"content-type": "text/html"}, content=_HTML)
    if kind == "bad_json":
        return httpx.Response(200, headers={"content-type": "application/json"}, content=param)
    status = {
        "ok": 200,
        "no_choices": 200,
        "error_body_200": 200,
        "not_object": 200,
        "timeout_408": 408,
        "rate_limit": 429,
    }.get(kind, param)
    headers = dict(param) if kind == "rate_limit" else {}
    if kind == "server_retry_after":
        status, headers = param[0], dict(param[1])
    return httpx.Response(status, headers=headers, json=_body(provider, fault))


@dataclass
class Observation:
    """What one run did: every event in order, the sleeps (and the clock when each ended), the timeouts sent,
    the cache writes, the outcome."""

    events: list[tuple[str, float]] = field(default_factory=list)
    sleeps: list[float] = field(default_factory=list)
    sleep_ends: list[float] = field(default_factory=list)
    timeouts: list[dict[str, float]] = field(default_factory=list)
    sent_keys: list[str] = field(default_factory=list)
    cache_sets: list[tuple[str, str]] = field(default_factory=list)
    cache_contents: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    error: BaseException | None = None

    @property
    def attempts(self) -> int:
        return sum(1 for name, _ in self.events if name == "attempt")


@dataclass(frozen=True)
class Config:
    """The client's settings for one run."""

    provider: str = "openai"
    max_retries: int = 2
    deadline_s: float | None = None
    max_retry_after_s: float = 60.0
    timeout_s: float = 30.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 8.0
    seed: int = 0


configs = st.builds(
    Config,
    provider=st.sampled_from(["openai", "anthropic"]),
    max_retries=st.sampled_from([3, 2, 4, 1, 5, 6, 0]),  # the first is drawn most: not 0
    deadline_s=st.one_of(st.none(), st.floats(0.01, 40.0, allow_nan=False, allow_infinity=False)),
    max_retry_after_s=st.one_of(st.sampled_from([0.0, 1.0, 30.0, 60.0, 120.0]), st.floats(0.0, 200.0)),
    timeout_s=st.sampled_from([0.5, 10.0, 30.0]),
    backoff_base_s=st.sampled_from([0.0, 0.01, 0.5, 1.0]),
    backoff_cap_s=st.sampled_from([0.0, 2.0, 8.0, 30.0]),
    seed=st.integers(0, 2**32 - 1),
)


def sequences(max_size: int = 6, *, kinds: tuple[str, ...] | None = None) -> st.SearchStrategy[list[Fault]]:
    """Sequences of faults of ``kinds`` (default: every kind); with every kind, about half end in a success."""
    if kinds is not None:
        return st.lists(faults(kinds=kinds), max_size=max_size)
    failures = st.lists(faults(kinds=tuple(k for k in FAULT_KINDS if k != "ok")), max_size=max_size)
    ending: st.SearchStrategy[list[Fault]] = st.one_of(st.just([]), faults(kinds=("ok",)).map(lambda ok: [ok]))
    return st.builds(lambda head, tail: head + tail, failures, ending)


class RecordingCache(MemoryCache):
    """A MemoryCache that also records every write."""

    def __init__(self, sets: list[tuple[str, str]]) -> None:
        super().__init__()
        self._sets = sets

    def set(self, key: str, value: str) -> None:
        self._sets.append((key, value))
        super().set(key, value)


@contextlib.contextmanager
def frozen_wall_clock() -> Iterator[None]:
    """Read HTTP-dates in Retry-After against :data:`FIXED_NOW` instead of the real time, and
    let no real-time bound end an attempt (attempts take simulated time here)."""
    module = importlib.import_module("llm_client.retry_after")
    sender = importlib.import_module("llm_client._internal.sender")
    # An attempt here costs simulated seconds on FakeClock, so the real wall-clock bound
    # (tested against loopback servers in test_hostile_servers.py) must not cut it short.
    with mock.patch.object(module, "time", SimpleNamespace(time=lambda: float(FIXED_NOW))), mock.patch.object(
        sender, "WALL_CLOCK_SLACK_S", 60.0
    ):
        yield


def run(sequence: list[Fault], config: Config) -> Observation:
    """Drive ``sequence`` through the real provider and client; return what happened."""
    seen = Observation()
    clock = FakeClock()
    queue = list(sequence)

    def handler(request: httpx.Request) -> httpx.Response:
        fault = queue.pop(0) if queue else FILLER
        seen.events.append(("attempt", clock.now))
        seen.timeouts.append(dict(request.extensions["timeout"]))
        seen.sent_keys.append(request.headers.get("authorization") or request.headers.get("x-api-key", ""))
        clock.now += fault.cost_s
        return respond(config.provider, fault)

    def sleep(seconds: float) -> None:
        seen.events.append(("sleep", seconds))
        seen.sleeps.append(seconds)
        clock.now += seconds
        seen.sleep_ends.append(clock.now)

    cache = RecordingCache(seen.cache_sets)
    with httpx.Client(transport=httpx.MockTransport(handler)) as http, frozen_wall_clock():
        provider: OpenAIProvider | AnthropicProvider
        if config.provider == "anthropic":
            provider = AnthropicProvider(api_key=SENT_KEY, http_client=http)
        else:
            provider = OpenAIProvider(api_key=SENT_KEY, http_client=http)
        client = LLMClient(
            provider,
            cache=cache,
            max_retries=config.max_retries,
            timeout_s=config.timeout_s,
            deadline_s=config.deadline_s,
            max_retry_after_s=config.max_retry_after_s,
            backoff_base_s=config.backoff_base_s,
            backoff_cap_s=config.backoff_cap_s,
            sleep=sleep,
            clock=clock,
            rng=random.Random(config.seed),
        )
        try:
            seen.text = client.call(REQUEST)
        except (LLMError, ProgrammingError) as exc:
            seen.error = exc
    seen.cache_contents = {key: cache.get(key) or "" for key, _ in seen.cache_sets}
    return seen


# -- the oracle ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """What must happen: the text, or the error type with the last attempt's expectation."""

    attempts: int
    sleeps: list[float]
    timeouts: list[float]
    text: str | None = None
    error: type[BaseException] | None = None
    last: Expectation | None = None
    faults: list[Fault] = field(default_factory=list)


def _step(fault: Fault) -> Step:
    """What ``fault`` is to the retry loop, by the documented error table."""
    result = expectation(fault)
    return Step(
        text=result.text,
        retryable=result.retryable,
        # A wait asked on a 408, 409, 5xx or 529 is honoured exactly as a 429's.
        rate_limited=result.error is RateLimitError or fault.kind == "server_retry_after",
        retry_after=result.retry_after,
        cost_s=fault.cost_s,
    )


_GAVE_UP = {"attempts_exhausted": RetriesExhaustedError, "deadline": DeadlineExceededError}


def expected(sequence: list[Fault], config: Config) -> Outcome:
    """The outcome the documented rules require for ``sequence`` under ``config`` (the grader's oracle)."""
    jitter = random.Random(config.seed)

    def backoff(attempt: int) -> float:
        return jitter.uniform(0.0, min(config.backoff_cap_s, config.backoff_base_s * 2.0**attempt))

    settings = Settings(
        max_retries=config.max_retries,
        timeout_s=config.timeout_s,
        deadline_s=config.deadline_s,
        max_retry_after_s=config.max_retry_after_s,
    )
    want = predict([_step(f) for f in sequence], settings, backoff=backoff, filler=_step(FILLER))
    used = [sequence[n] if n < len(sequence) else FILLER for n in range(want.attempts)]
    last = expectation(used[-1])
    error = None if want.text is not None else _GAVE_UP.get(want.gave_up or "", last.error)
    return Outcome(want.attempts, want.waits, want.timeouts, want.text, error, last, used)


def is_finite_non_negative(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value >= 0.0


def describe(sequence: list[Fault], config: Config) -> str:
    return json.dumps({"config": config.__dict__, "sequence": [repr(f) for f in sequence]}, default=str)

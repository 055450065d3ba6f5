"""Exercise 1: the call path. LLMClient._call_path answers one call from the cache or from the first attempt that
succeeds; after_failure decides, after each failed attempt, to wait and try again or to give up.

How it is graded. Every test makes real calls through LLMClient.call (the fault sequences through
AsyncLLMClient.call too) with everything around the call path injected, so no other exercise is needed and
nothing waits for real or touches the network:

- the provider is a ScriptedProvider (below): attempt n meets the n-th reply of its script (a text, a response,
  or an exception to raise) and moves the fake clock by that attempt's cost; it records each attempt's timeout;
- the cache is a RecordingCache (a MemoryCache that records every get and set), and ``key_fn`` gives the key
  "key:<prompt>", so exercise 2's make_cache_key is never used;
- ``waits`` is a ScriptedWaits: the seconds to wait after each attempt come from a table, and it records what
  it was asked; exercises 3 and 4 (default_wait) are never used;
- ``sleep`` and ``clock`` are a fake Clock: each sleep is recorded and moves the clock.

Each table then checks what the contract in llm_client/client.py says: the text returned (its type first, then
its value; for a stored answer, the whole response ``call_response`` returns) or the error raised (its exact
type, ``attempts``, ``last_error`` and ``__cause__``), the provider's attempts and the timeout each was given,
the sleeps, the cache's reads (one per call) and writes, and the log events (caught
from the "llm_client" logger, with their fields). The last test replays fixed-seed fault sequences through both
clients and compares each outcome with the oracle in fault_oracle.py, written from the rules, not from the
reference.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import Callable, Sequence

import pytest

from llm_client import (
    AsyncLLMClient,
    AuthenticationError,
    ConfigurationError,
    ContentRefusedError,
    DeadlineExceededError,
    InvalidRequestError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMResponse,
    LLMTimeoutError,
    MalformedResponseError,
    MemoryCache,
    QuotaExceededError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    TruncatedAnswerWarning,
)
from tests.grader.fault_oracle import Settings, Step, fault_sequence, predict, step_of

pytestmark = pytest.mark.ex1

REQ = LLMRequest(model="m", prompt="hello")
KEY = "key:hello"  # key_of(REQ)
START = 100.0  # the fake clock's time when a test begins

Reply = str | LLMResponse | BaseException


def key_of(req: LLMRequest) -> str:
    """The cache key every client here is given (key_fn), in place of exercise 2's make_cache_key."""
    return "key:" + req.prompt


class Clock:
    """Fake monotonic seconds, moved by the attempts' costs and by the recorded sleeps."""

    def __init__(self) -> None:
        self.now = START
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


class ScriptedProvider:
    """Attempt n meets ``script[n]``, a (reply, cost_s) pair: the clock moves by cost_s, then a str is answered
    (finish_reason "stop"), an LLMResponse returned as it is, an exception raised. Past the end of the script,
    ``filler`` is raised (None: the test fails, that attempt was not expected). ``timeouts`` records the
    ``timeout_s`` of each attempt, so ``len(timeouts)`` is the number of attempts."""

    name = "scripted"

    def __init__(self, clock: Clock, script: Sequence[tuple[Reply, float]], *, filler: LLMError | None = None):
        self.clock = clock
        self.script = list(script)
        self.filler = filler
        self.timeouts: list[float] = []

    @property
    def attempts(self) -> int:
        return len(self.timeouts)

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        attempt = len(self.timeouts)
        self.timeouts.append(timeout_s)
        if attempt < len(self.script):
            reply, cost_s = self.script[attempt]
        elif self.filler is not None:
            reply, cost_s = self.filler, 0.0
        else:
            raise AssertionError(
                f"expected at most {len(self.script)} attempt(s), got a call to the provider for attempt {attempt} "
                "(counted from 0)"
            )
        self.clock.now += cost_s
        if isinstance(reply, BaseException):
            raise reply
        if isinstance(reply, LLMResponse):
            return reply
        return LLMResponse(reply, req.model, finish_reason="stop")

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        return self.complete(req, timeout_s=timeout_s)


class RecordingCache(MemoryCache):
    """A MemoryCache holding ``stored`` at first, that records every get (its key) and set (key and value)."""

    def __init__(self, stored: dict[str, str] | None = None) -> None:
        super().__init__()
        for key, value in (stored or {}).items():
            super().set(key, value)
        self.gets: list[object] = []
        self.sets: list[tuple[object, object]] = []

    def get(self, key: str) -> str | None:
        self.gets.append(key)
        return super().get(key)

    def set(self, key: str, value: str) -> None:
        self.sets.append((key, value))
        super().set(key, value)


class EvictingCache(RecordingCache):
    """A RecordingCache that forgets an entry once it has been read, as a TTL that ends (or an LRU that
    evicts) between two reads would: only the text the first read returned is left to answer with."""

    def get(self, key: str) -> str | None:
        value = super().get(key)
        if value is not None:
            with self._lock:
                self._store.pop(key, None)
        return value


class ScriptedWaits:
    """The ``waits`` setting: after attempt n, wait ``seconds[n]`` (1.0 past the table); records each
    (error, attempt) it was asked about, in order."""

    def __init__(self, seconds: Sequence[float] = ()) -> None:
        self.seconds = list(seconds)
        self.asked: list[tuple[LLMError, int]] = []

    def __call__(self, error: LLMError, attempt: int) -> float:
        self.asked.append((error, attempt))
        return self.seconds[attempt] if attempt < len(self.seconds) else 1.0


def make_client(
    clock: Clock,
    provider: ScriptedProvider,
    *,
    cache: MemoryCache | None = None,
    waits: Callable[[LLMError, int], float] | None = None,
    max_retries: int = 2,
    timeout_s: float = 30.0,
    deadline_s: float | None = None,
    cache_truncated: bool = False,
    cache_namespace: str | None = None,
) -> LLMClient:
    """An LLMClient with everything injected: nothing from exercises 2 to 7 is used."""
    return LLMClient(
        provider,
        cache=cache,
        key_fn=key_of,
        waits=waits if waits is not None else ScriptedWaits(),
        sleep=clock.sleep,
        clock=clock,
        max_retries=max_retries,
        timeout_s=timeout_s,
        deadline_s=deadline_s,
        cache_truncated=cache_truncated,
        cache_namespace=cache_namespace,
    )


def outcome_of(client: LLMClient, *, warn: bool = False, **options: object) -> object:
    """The text ``client.call(REQ, **options)`` returns, or the exception it raises (an exercise stub's
    NotImplementedError goes up). TruncatedAnswerWarning is silenced unless ``warn``."""
    try:
        with warnings.catch_warnings():
            if not warn:
                warnings.simplefilter("ignore", TruncatedAnswerWarning)
            return client.call(REQ, **options)  # type: ignore[arg-type]
    except NotImplementedError:
        raise
    except Exception as exc:
        return exc


def response_of(client: LLMClient, **options: object) -> object:
    """The LLMResponse ``client.call_response(REQ, **options)`` returns (call()'s text and the rest of the
    answer), or the exception it raises (an exercise stub's NotImplementedError goes up)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TruncatedAnswerWarning)
            return client.call_response(REQ, **options)  # type: ignore[arg-type]
    except NotImplementedError:
        raise
    except Exception as exc:
        return exc


def check_text(outcome: object, want: str, what: str) -> None:
    assert type(outcome) is str, f"expected the text {want!r} ({what}), got {outcome!r}"
    assert outcome == want, f"expected the text {want!r} ({what}), got {outcome!r}"


def check_gave_up(
    outcome: object, wrapper: type[RetriesExhaustedError], attempts: int, last: LLMError, what: str
) -> None:
    """``outcome`` is exactly a ``wrapper`` with ``attempts``, and ``last`` as last_error and as __cause__."""
    assert type(outcome) is wrapper, f"expected {wrapper.__name__} ({what}), got {outcome!r}"
    assert isinstance(outcome, RetriesExhaustedError)
    assert outcome.attempts == attempts, f"expected attempts={attempts} on the error ({what}), got {outcome.attempts!r}"
    assert outcome.last_error is last, (
        f"expected last_error to be the last attempt's error {last!r} ({what}), got {outcome.last_error!r}"
    )
    assert outcome.__cause__ is last, (
        f"expected the last attempt's error chained as __cause__ (raise ... from error) ({what}), "
        f"got {outcome.__cause__!r}"
    )


# -- reading the log -------------------------------------------------------------------------

MISSING = "<missing>"


def events(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The client's log events, in order."""
    return [r for r in caplog.records if r.name == "llm_client" and str(getattr(r, "event", "")).startswith("llm.")]


def fields(record: logging.LogRecord, *names: str) -> tuple[object, ...]:
    return tuple(record.__dict__.get(name, MISSING) for name in names)


def check_call_fields(records: list[logging.LogRecord]) -> None:
    """Every event of one call carries the same request_id, and the request's model."""
    ids = {fields(r, "request_id")[0] for r in records}
    assert len(ids) == 1, f"expected every event of one call to carry the same request_id, got {sorted(map(str, ids))}"
    request_id = ids.pop()
    assert isinstance(request_id, str) and request_id, (
        f"expected a request_id on every event (call.log adds it), got {request_id!r}"
    )
    models = [fields(r, "model")[0] for r in records]
    assert all(model == REQ.model for model in models), f"expected model={REQ.model!r} on every event, got {models}"


# -- the cache -------------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_stored_answer_is_returned_without_asking_the_provider(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llm_client")
    clock = Clock()
    provider = ScriptedProvider(clock, [("from the provider", 0.0)])
    cache = RecordingCache({KEY: "stored answer"})
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        outcome = outcome_of(make_client(clock, provider, cache=cache), warn=True)
    check_text(outcome, "stored answer", "the text stored under the call's key")
    cut = [str(w.message) for w in warned if issubclass(w.category, TruncatedAnswerWarning)]
    assert cut == [], (
        f"expected a stored answer returned as LLMResponse(text, req.model), not cut, got the warnings {cut}"
    )
    assert provider.attempts == 0, f"expected no attempt on a cache hit, got {provider.attempts}"
    assert cache.gets == [KEY], (
        f"expected the cache read once, under call.key {KEY!r}, got the reads {cache.gets}: keep the text get "
        "returned (a second read can miss an entry evicted in between)"
    )
    assert cache.sets == [], f"expected nothing stored on a cache hit (it is there already), got {cache.sets}"
    assert clock.sleeps == [], f"expected no sleep on a cache hit, got {clock.sleeps}"
    got = [(r.event, r.levelno, *fields(r, "attempt", "latency_s")) for r in events(caplog)]  # type: ignore[attr-defined]
    want = [("llm.cache_hit", logging.INFO, None, 0.0)]
    assert got == want, f"expected one event (event, level, attempt, latency_s) {want}, got {got}"
    check_call_fields(events(caplog))
    # call_response: the whole answer a hit gives, LLMResponse(text, req.model) marked from_cache by the client
    clock = Clock()
    provider = ScriptedProvider(clock, [("from the provider", 0.0)])
    answer = response_of(make_client(clock, provider, cache=RecordingCache({KEY: "stored answer"})))
    expected = LLMResponse("stored answer", REQ.model, from_cache=True)
    assert isinstance(answer, LLMResponse) and answer == expected, (
        f"expected call_response() of a stored answer to be {expected!r} (the request's model, no finish_reason, "
        f"usage or request_id: return LLMResponse(text, req.model)), got {answer!r}"
    )
    # a cache that forgets the entry once it has been read (a TTL ending between two reads)
    clock = Clock()
    provider = ScriptedProvider(clock, [("from the provider", 0.0)])
    evicting = EvictingCache({KEY: "stored answer"})
    outcome = outcome_of(make_client(clock, provider, cache=evicting))
    check_text(outcome, "stored answer", "the text the one cache read returned, even when the entry is gone after it")


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_stored_empty_string_is_an_answer_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llm_client")
    clock = Clock()
    provider = ScriptedProvider(clock, [("from the provider", 0.0)])
    cache = RecordingCache({KEY: ""})
    outcome = outcome_of(make_client(clock, provider, cache=cache))
    check_text(outcome, "", 'a stored "" is an answer: the look-up misses only when get returns None')
    assert provider.attempts == 0, (
        f'expected no attempt when "" is stored (test the look-up with `is not None`, not its truth), '
        f"got {provider.attempts}"
    )
    assert cache.sets == [], f"expected nothing stored on a cache hit, got {cache.sets}"
    got = [r.event for r in events(caplog)]  # type: ignore[attr-defined]
    assert got == ["llm.cache_hit"], f"expected one llm.cache_hit event, got {got}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_miss_asks_the_provider_once_and_stores_the_answer_under_the_call_key() -> None:
    for namespace in (None, "v2"):
        clock = Clock()
        provider = ScriptedProvider(clock, [("fresh answer", 0.5)])
        cache = RecordingCache()
        client = make_client(clock, provider, cache=cache, cache_namespace=namespace)
        what = f"cache_namespace={namespace!r}"
        check_text(outcome_of(client), "fresh answer", f"the provider's answer, {what}")
        assert provider.attempts == 1, f"expected 1 attempt ({what}), got {provider.attempts}"
        assert provider.timeouts == [30.0], f"expected the attempt to get timeout_s=30.0, got {provider.timeouts}"
        assert cache.gets, f"expected the cache to be read before the provider is asked ({what})"
        key = cache.gets[0]
        assert isinstance(key, str) and key.endswith(KEY) and (namespace is not None) == (key != KEY), (
            f"expected the cache read under call.key (key_fn's key, scoped by the namespace), got {key!r} ({what})"
        )
        assert cache.sets == [(key, "fresh answer")], (
            f"expected the answer stored once under call.key {key!r} ({what}), got {cache.sets}"
        )
        check_text(outcome_of(client), "fresh answer", f"the stored answer, {what}")
        assert provider.attempts == 1, f"expected the second call answered from the cache ({what})"
        assert cache.gets == [key, key], (
            f"expected one cache read per call, under call.key {key!r} ({what}), got the reads {cache.gets}"
        )
        assert clock.sleeps == [], f"expected no sleep ({what}), got {clock.sleeps}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_use_cache_false_neither_reads_nor_writes_and_no_cache_works(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llm_client")
    clock = Clock()
    provider = ScriptedProvider(clock, [("fresh answer", 0.0)])
    cache = RecordingCache({KEY: "stored answer"})
    outcome = outcome_of(make_client(clock, provider, cache=cache), use_cache=False)
    check_text(outcome, "fresh answer", "use_cache=False: the provider's answer, not the stored one")
    assert provider.attempts == 1, f"expected 1 attempt with use_cache=False, got {provider.attempts}"
    assert cache.gets == [] and cache.sets == [], (
        f"expected use_cache=False (call.key is None) to skip the cache both ways, got the reads {cache.gets} "
        f"and the writes {cache.sets}"
    )
    assert "llm.cache_hit" not in [r.event for r in events(caplog)], "expected no llm.cache_hit with use_cache=False"  # type: ignore[attr-defined]
    clock = Clock()
    provider = ScriptedProvider(clock, [("fresh answer", 0.0)])
    outcome = outcome_of(make_client(clock, provider, cache=None))
    check_text(outcome, "fresh answer", "a client without a cache (cache=None)")
    assert provider.attempts == 1, f"expected 1 attempt without a cache, got {provider.attempts}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_an_answer_cut_at_a_token_limit_is_not_stored_unless_cache_truncated() -> None:
    cases: list[tuple[str | None, bool, bool]] = [  # finish_reason, cache_truncated, stored
        ("length", False, False),
        ("max_tokens", False, False),
        ("stop", False, True),
        (None, False, True),
        ("length", True, True),
        ("stop", True, True),
    ]
    for finish_reason, cache_truncated, stored in cases:
        clock = Clock()
        answer = LLMResponse("an answer cut sh", "m", finish_reason=finish_reason)
        provider = ScriptedProvider(clock, [(answer, 0.0), ("asked again", 0.0)])
        cache = RecordingCache()
        client = make_client(clock, provider, cache=cache, cache_truncated=cache_truncated)
        what = f"finish_reason={finish_reason!r}, cache_truncated={cache_truncated}"
        check_text(outcome_of(client), "an answer cut sh", f"the answer is returned, {what}")
        want = [(KEY, "an answer cut sh")] if stored else []
        assert cache.sets == want, (
            f"expected the cache writes {want} ({what}: response.truncated is {answer.truncated}), got {cache.sets}"
        )
        again = outcome_of(client)
        check_text(again, "an answer cut sh" if stored else "asked again", f"the next call, {what}")


# -- the attempts ----------------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_an_exception_that_is_not_an_llm_error_goes_up_untouched_and_is_not_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="llm_client")
    for bug in (TypeError("a bug in the provider"), KeyError("text"), RuntimeError("a bug below the client")):
        caplog.clear()
        clock = Clock()
        provider = ScriptedProvider(clock, [(bug, 0.0), ("never", 0.0)])
        cache = RecordingCache()
        outcome = outcome_of(make_client(clock, provider, cache=cache, max_retries=3))
        what = type(bug).__name__
        assert outcome is bug, (
            f"expected the provider's {what} itself to reach the caller (only an LLMError is a failed attempt), "
            f"got {outcome!r}"
        )
        assert outcome.__cause__ is None, f"expected the {what} unwrapped and unchained, got {outcome.__cause__!r}"
        assert provider.attempts == 1, f"expected 1 attempt, a {what} is never retried, got {provider.attempts}"
        assert clock.sleeps == [] and cache.sets == [], (
            f"expected no sleep and nothing stored after a {what}, got {clock.sleeps} and {cache.sets}"
        )
        logged = [r.event for r in events(caplog)]  # type: ignore[attr-defined]
        assert logged == [], f"expected no event for a {what} (it is not a failed attempt), got {logged}"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_an_error_that_is_not_retryable_is_raised_as_it_is_at_once() -> None:
    overruled = ServerError("HTTP 503 with x-should-retry: false", status_code=503)
    overruled.retryable = False
    errors: list[LLMError] = [
        InvalidRequestError("bad request", status_code=400),
        AuthenticationError("bad key", status_code=401),
        QuotaExceededError("out of credit", status_code=429),
        ContentRefusedError("refused"),
        ConfigurationError("no API key"),
        overruled,
    ]
    chained = ConfigurationError("openai: unsupported URL")
    chained.__cause__ = ValueError("unsupported protocol 'ftp'")  # as the provider raises it, ``from`` httpx's
    errors.append(chained)
    for error in errors:
        cause = error.__cause__
        clock = Clock()
        provider = ScriptedProvider(clock, [(error, 0.5), ("never", 0.0)])
        cache = RecordingCache()
        waits = ScriptedWaits()
        outcome = outcome_of(make_client(clock, provider, cache=cache, waits=waits, max_retries=3))
        what = f"{type(error).__name__} with retryable={error.retryable}"
        assert waits.asked == [], f"expected no wait asked for a {what}: there is no next attempt, got {waits.asked}"
        assert outcome is error, f"expected the {what} itself to be raised, got {outcome!r}"
        assert provider.attempts == 1, f"expected 1 attempt for a {what}, got {provider.attempts}"
        assert clock.sleeps == [], f"expected no sleep before raising a {what}, got {clock.sleeps}"
        assert cache.sets == [], f"expected nothing stored when the call fails ({what}), got {cache.sets}"
        assert error.__cause__ is cause, (
            f"expected the {what} raised as it is, its cause kept ({cause!r}), got cause {error.__cause__!r}"
        )


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_after_the_last_attempt_it_gives_up_with_retries_exhausted_chained_to_the_last_error() -> None:
    for max_retries in (0, 1, 3):
        errors: list[LLMError] = [
            [ServerError, LLMTimeoutError, LLMConnectionError][n % 3](f"failure {n}") for n in range(max_retries + 1)
        ]
        for error in errors:
            error.__cause__ = OSError("the transport's own error, which the provider chained")
        seconds = [0.5 * (n + 1) for n in range(max_retries + 1)]
        clock = Clock()
        provider = ScriptedProvider(clock, [(e, 0.25) for e in errors])
        cache = RecordingCache()
        waits = ScriptedWaits(seconds)
        client = make_client(clock, provider, cache=cache, waits=waits, max_retries=max_retries)
        outcome = outcome_of(client)
        what = f"max_retries={max_retries}, every attempt fails"
        assert [attempt for _, attempt in waits.asked] == list(range(max_retries)), (
            f"expected a wait asked after each attempt but the last ({what}), got {waits.asked}"
        )
        assert provider.attempts == max_retries + 1, (
            f"expected max_retries + 1 = {max_retries + 1} attempt(s) ({what}), got {provider.attempts}"
        )
        check_gave_up(outcome, RetriesExhaustedError, max_retries + 1, errors[-1], what)
        assert clock.sleeps == seconds[:max_retries], (
            f"expected a wait after each attempt but the last, {seconds[:max_retries]} ({what}), got {clock.sleeps}"
        )
        assert cache.sets == [], f"expected nothing stored when the call fails ({what}), got {cache.sets}"
    # the max_retries given to one call wins over the client's (call.policy.max_retries), both ways
    clock = Clock()
    errors = [ServerError("HTTP 500", status_code=500), ServerError("HTTP 502", status_code=502)]
    provider = ScriptedProvider(clock, [(errors[0], 0.0), (errors[1], 0.0), ("too late", 0.0)])
    outcome = outcome_of(make_client(clock, provider, max_retries=5), max_retries=1)
    assert provider.attempts == 2, (
        f"expected 2 attempts for call(req, max_retries=1) on a client with max_retries=5, got {provider.attempts}"
    )
    check_gave_up(outcome, RetriesExhaustedError, 2, errors[1], "call(req, max_retries=1)")
    clock = Clock()
    provider = ScriptedProvider(clock, [(errors[0], 0.0), (errors[1], 0.0), ("third time lucky", 0.0)])
    outcome = outcome_of(make_client(clock, provider, max_retries=0), max_retries=2)
    check_text(outcome, "third time lucky", "call(req, max_retries=2) on a client with max_retries=0")
    assert provider.attempts == 3, f"expected 3 attempts for call(req, max_retries=2), got {provider.attempts}"


class _OwnRetryableError(LLMError):
    """Not a ProviderError: any LLMError is a failed attempt, and its own ``retryable`` decides."""

    retryable = True


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_retryable_errors_are_retried_after_exactly_the_waits_the_waits_setting_returns() -> None:
    flagged = InvalidRequestError("HTTP 400 with x-should-retry: true", status_code=400)
    flagged.retryable = True  # retryable is the error's own word, which a header may change
    errors: list[LLMError] = [
        ServerError("HTTP 503", status_code=503),
        LLMTimeoutError("read timed out"),
        LLMConnectionError("connection reset"),
        RateLimitError(retry_after=9.0),
        MalformedResponseError("truncated body", status_code=200),
        flagged,
        _OwnRetryableError("an LLMError of the caller's own that says it may heal"),
    ]
    seconds = [0.5, 1.25, 3.0, 0.75, 2.5, 4.0, 0.1]
    clock = Clock()
    provider = ScriptedProvider(clock, [*[(e, 0.25) for e in errors], ("ok", 0.25)])
    waits = ScriptedWaits(seconds)
    client = make_client(clock, provider, waits=waits, max_retries=7, deadline_s=1000.0)
    check_text(outcome_of(client), "ok", "the answer after seven retryable errors (every LLMError may fail an attempt)")
    assert provider.attempts == 8, f"expected 8 attempts (seven errors, then the answer), got {provider.attempts}"
    assert clock.sleeps == seconds, (
        f"expected the client to sleep exactly what the waits setting returned, {seconds}, got {clock.sleeps} "
        "(the wait is call.wait(error, attempt), even for a 429 that carries a Retry-After)"
    )
    asked = [(type(error).__name__, attempt) for error, attempt in waits.asked]
    want = [(type(error).__name__, attempt) for attempt, error in enumerate(errors)]
    assert asked == want and all(got is error for (got, _), error in zip(waits.asked, errors, strict=True)), (
        f"expected call.wait asked once per retry with the error and the attempt (from 0), {want}, got {asked}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_a_wait_that_would_pass_the_deadline_ends_the_call_with_deadline_exceeded() -> None:
    # (deadline_s, attempt cost, waits, attempts made, sleeps): the time spent counts the waits too
    cases: list[tuple[float, float, list[float], int, list[float]]] = [
        (10.0, 1.0, [2.0, 30.0], 2, [2.0]),  # 4 s spent, 30 s more would end at 34 s
        (10.0, 0.0, [6.0, 6.0], 2, [6.0]),  # 6 s spent (all waiting), 6 s more would end at 12 s
        (20.0, 0.5, [50.0], 1, []),
    ]
    for deadline_s, cost_s, seconds, attempts, sleeps in cases:
        errors: list[LLMError] = [RateLimitError(retry_after=s) for s in seconds]
        clock = Clock()
        provider = ScriptedProvider(clock, [*[(e, cost_s) for e in errors], ("too late", 0.0)])
        cache = RecordingCache()
        client = make_client(
            clock, provider, cache=cache, waits=ScriptedWaits(seconds), max_retries=3, deadline_s=deadline_s
        )
        outcome = outcome_of(client)
        what = f"deadline_s={deadline_s}, attempts of {cost_s} s, waits {seconds}"
        assert provider.attempts == attempts, f"expected {attempts} attempt(s) ({what}), got {provider.attempts}"
        check_gave_up(outcome, DeadlineExceededError, attempts, errors[attempts - 1], what)
        assert clock.sleeps == sleeps, f"expected the sleeps {sleeps} ({what}), got {clock.sleeps}"
        assert cache.sets == [], f"expected nothing stored when the call fails ({what}), got {cache.sets}"
    # after the last attempt there is no wait to weigh: the attempts ran out, whatever the deadline
    clock = Clock()
    last = ServerError("HTTP 503", status_code=503)
    provider = ScriptedProvider(clock, [(last, 0.0)])
    client = make_client(clock, provider, waits=ScriptedWaits([50.0]), max_retries=0, deadline_s=1.0)
    check_gave_up(outcome_of(client), RetriesExhaustedError, 1, last, "max_retries=0, deadline 1 s")


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_a_wait_that_ends_exactly_at_the_deadline_is_taken() -> None:
    clock = Clock()
    provider = ScriptedProvider(clock, [(RateLimitError(retry_after=3.0), 2.0), ("ok", 0.0)])
    client = make_client(clock, provider, waits=ScriptedWaits([3.0]), deadline_s=5.0)
    check_text(outcome_of(client), "ok", "a 3 s wait after 2 s ends at the 5 s deadline: not past it")
    assert clock.sleeps == [3.0], f"expected one sleep of 3 s, got {clock.sleeps}"
    assert provider.attempts == 2, f"expected 2 attempts, got {provider.attempts}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_each_attempt_gets_its_own_timeout_from_call_attempt_timeout() -> None:
    # (timeout_s, deadline_s, per-call timeout_s, waits, attempt costs, the timeout each attempt must get)
    cases: list[tuple[float, float | None, float | None, list[float], list[float], list[float]]] = [
        (4.0, None, None, [1.0, 1.0], [1.0, 1.0, 1.0], [4.0, 4.0, 4.0]),
        (4.0, None, 2.5, [1.0, 1.0], [1.0, 1.0, 1.0], [2.5, 2.5, 2.5]),
        # 10 s deadline: attempts start at 0 s, 4 s and 8 s; the last has 2 s left
        (4.0, 10.0, None, [1.0, 1.0], [3.0, 3.0, 3.0], [4.0, 4.0, 2.0]),
        # 7 s deadline: attempts start at 0 s, 2.5 s and 5 s
        (30.0, 7.0, None, [2.0, 2.0], [0.5, 0.5, 0.5], [7.0, 4.5, 2.0]),
    ]
    for timeout_s, deadline_s, per_call, waits, costs, want in cases:
        clock = Clock()
        errors = [ServerError("HTTP 503", status_code=503), LLMTimeoutError("read timed out")]
        provider = ScriptedProvider(clock, [(errors[0], costs[0]), (errors[1], costs[1]), ("ok", costs[2])])
        client = make_client(clock, provider, waits=ScriptedWaits(waits), timeout_s=timeout_s, deadline_s=deadline_s)
        what = f"timeout_s={timeout_s}, deadline_s={deadline_s}, per-call {per_call}, waits {waits}, costs {costs}"
        check_text(outcome_of(client, timeout_s=per_call), "ok", what)
        assert [type(t) for t in provider.timeouts] == [float] * len(want), (
            f"expected {len(want)} attempts, each given a float timeout ({what}), got {provider.timeouts!r}"
        )
        assert provider.timeouts == pytest.approx(want), (
            f"expected the attempts' timeouts {want} ({what}), got {provider.timeouts}: ask "
            "call.attempt_timeout() for each attempt, right before it (the per-call timeout, cut near the deadline)"
        )


# -- the log ---------------------------------------------------------------------------------


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_each_attempt_logs_its_outcome_with_its_own_latency(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llm_client")
    clock = Clock()
    script: list[tuple[Reply, float]] = [
        (ServerError("HTTP 503", status_code=503), 0.5),
        (RateLimitError(retry_after=2.0), 0.75),  # starts 2 s into the call, after a 1.5 s wait
        ("ok", 0.25),  # starts 4.75 s into the call
    ]
    provider = ScriptedProvider(clock, script)
    outcome = outcome_of(make_client(clock, provider, waits=ScriptedWaits([1.5, 2.0]), max_retries=3))
    check_text(outcome, "ok", "the answer of the third attempt")
    names = ("attempt", "latency_s", "error_type", "sleep_s")
    got = [(r.event, r.levelno, *fields(r, *names)) for r in events(caplog)]  # type: ignore[attr-defined]
    want = [
        ("llm.attempt_failed", logging.WARNING, 0, 0.5, "ServerError", MISSING),
        ("llm.retry_scheduled", logging.INFO, 0, MISSING, "ServerError", 1.5),
        ("llm.attempt_failed", logging.WARNING, 1, 0.75, "RateLimitError", MISSING),
        ("llm.retry_scheduled", logging.INFO, 1, MISSING, "RateLimitError", 2.0),
        ("llm.attempt_ok", logging.INFO, 2, 0.25, None, MISSING),
    ]
    short = [row[:3] for row in got]
    assert short == [row[:3] for row in want], (
        f"expected the events (event, level, attempt) {[row[:3] for row in want]}, got {short}"
    )
    latencies = [(row[0], row[3]) for row in got if row[0] != "llm.retry_scheduled"]
    want_latencies = [(row[0], row[3]) for row in want if row[0] != "llm.retry_scheduled"]
    assert latencies == [(name, pytest.approx(s)) for name, s in want_latencies], (
        f"expected latency_s to be the seconds each attempt took, {want_latencies}, got {latencies} "
        "(call.latency(): since the attempt began, not since the call began)"
    )
    kinds = [(row[0], row[4]) for row in got]
    assert kinds == [(row[0], row[4]) for row in want], (
        f"expected error_type, the error's class name, on each failure event, got {kinds}"
    )
    slept = [(row[0], row[5]) for row in got if row[0] == "llm.retry_scheduled"]
    assert slept == [(row[0], row[5]) for row in want if row[0] == "llm.retry_scheduled"], (
        f"expected sleep_s on each llm.retry_scheduled to be the wait (1.5 s, then 2.0 s), got {slept}"
    )
    check_call_fields(events(caplog))


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_giving_up_logs_one_event_with_its_reason(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="llm_client")
    fail, retry, gave_up = "llm.attempt_failed", "llm.retry_scheduled", "llm.gave_up"
    # (script, max_retries, deadline_s, waits, the events (event, attempt, error_type, reason))
    cases: list[tuple[list[LLMError], int, float | None, list[float], list[tuple[object, ...]]]] = [
        (
            [InvalidRequestError("bad", status_code=400)],
            2,
            None,
            [],
            [(fail, 0, "InvalidRequestError", MISSING), (gave_up, 0, "InvalidRequestError", "not_retryable")],
        ),
        (
            [ServerError("HTTP 503", status_code=503), LLMTimeoutError("slow")],
            1,
            None,
            [1.0],
            [
                (fail, 0, "ServerError", MISSING),
                (retry, 0, "ServerError", MISSING),
                (fail, 1, "LLMTimeoutError", MISSING),
                (gave_up, 1, "LLMTimeoutError", "attempts_exhausted"),
            ],
        ),
        (
            [RateLimitError(retry_after=50.0)],
            2,
            20.0,
            [50.0],
            [(fail, 0, "RateLimitError", MISSING), (gave_up, 0, "RateLimitError", "deadline")],
        ),
    ]
    for errors, max_retries, deadline_s, seconds, want in cases:
        caplog.clear()
        clock = Clock()
        provider = ScriptedProvider(clock, [(e, 0.0) for e in errors])
        client = make_client(
            clock, provider, waits=ScriptedWaits(seconds), max_retries=max_retries, deadline_s=deadline_s
        )
        outcome = outcome_of(client)
        assert isinstance(outcome, LLMError), f"expected the call to fail, got {outcome!r}"
        reason = want[-1][3]
        got = [(r.event, *fields(r, "attempt", "error_type", "reason")) for r in events(caplog)]  # type: ignore[attr-defined]
        assert got == want, (
            f"expected the events (event, attempt, error_type, reason) {want} when the call gives up ({reason}), "
            f"got {got}"
        )
        last = events(caplog)[-1]
        assert last.levelno == logging.ERROR, f"expected llm.gave_up at ERROR ({reason}), got {last.levelname}"
        check_call_fields(events(caplog))


# -- fault sequences -------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """The stand-in backoff: 0.25 s doubled per attempt, up to 8 s, without jitter."""
    return min(8.0, 0.25 * 2.0**attempt)


def stand_in_waits(max_retry_after_s: float) -> Callable[[LLMError, int], float]:
    """The waits setting of the fault sequences, in place of exercises 3 and 4: a 429's Retry-After when it
    is known and at most ``max_retry_after_s``, else the stand-in backoff (the oracle's rule 3)."""

    def waits(error: LLMError, attempt: int) -> float:
        asked = error.retry_after if isinstance(error, RateLimitError) else None
        return asked if asked is not None and asked <= max_retry_after_s else backoff(attempt)

    return waits


def run_sequence(replies: list[tuple[str | LLMError, float]], settings: Settings, *, use_async: bool) -> None:
    """Make one call through replies (then 503s) and check it against the oracle."""
    clock = Clock()
    filler = ServerError("HTTP 503", status_code=503)
    provider = ScriptedProvider(clock, replies, filler=filler)
    cache = RecordingCache()
    options = {
        "cache": cache,
        "key_fn": key_of,
        "waits": stand_in_waits(settings.max_retry_after_s),
        "clock": clock,
        "max_retries": settings.max_retries,
        "timeout_s": settings.timeout_s,
        "deadline_s": settings.deadline_s,
        "max_retry_after_s": settings.max_retry_after_s,
    }
    outcome: object
    try:
        if use_async:
            outcome = asyncio.run(AsyncLLMClient(provider, sleep=clock.async_sleep, **options).call(REQ))  # type: ignore[arg-type]
        else:
            outcome = LLMClient(provider, sleep=clock.sleep, **options).call(REQ)  # type: ignore[arg-type]
    except LLMError as exc:
        outcome = exc
    want = predict([step_of(r, c) for r, c in replies], settings, backoff=backoff, filler=Step(retryable=True))
    what = f"{'AsyncLLMClient' if use_async else 'LLMClient'}: replies {[r for r, _ in replies]!r}, {settings}"
    assert provider.attempts == want.attempts, f"expected {want.attempts} attempt(s), got {provider.attempts} ({what})"
    assert clock.sleeps == want.waits, f"expected the sleeps {want.waits}, got {clock.sleeps} ({what})"
    assert provider.timeouts == pytest.approx(want.timeouts), (
        f"expected the attempts' timeouts {want.timeouts}, got {provider.timeouts} ({what})"
    )
    if want.text is not None:
        check_text(outcome, want.text, what)
        assert cache.sets == [(KEY, want.text)], f"expected the answer stored once, got {cache.sets} ({what})"
        return
    assert cache.sets == [], f"expected nothing stored when the call fails, got {cache.sets} ({what})"
    last = replies[want.attempts - 1][0] if want.attempts <= len(replies) else filler
    if want.gave_up == "not_retryable":
        assert outcome is last, f"expected the non-retryable {last!r} raised as it is, got {outcome!r} ({what})"
        return
    assert isinstance(last, LLMError)
    wrapper = DeadlineExceededError if want.gave_up == "deadline" else RetriesExhaustedError
    check_gave_up(outcome, wrapper, want.attempts, last, what)


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_fixed_seed_fault_sequences_end_as_the_rules_say_in_both_clients() -> None:
    for seed in range(300):
        replies, settings = fault_sequence(seed)
        run_sequence(replies, settings, use_async=False)
    for seed in range(0, 300, 3):
        replies, settings = fault_sequence(seed)
        run_sequence(replies, settings, use_async=True)

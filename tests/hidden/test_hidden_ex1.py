"""Hidden tier, exercise 1: the call path (LLMClient._call_path and after_failure) against the reference.

Each example builds one client in each child (``ex1.calls`` in ops/ex1.py) with every collaborator a proxy
answered by a fresh :class:`Script`: attempt n of the run meets ``replies[n]`` (an answer, or an error the
child builds, then 503s past the end) and moves the fake clock by its cost; the n-th wait asked is
``waits[n]`` (1.0 past the end); the cache holds what ``stored`` put there and what the client stores.
The clock moves only in attempts and sleeps, and the child's clock reads it as the script's last answer
said: how often a clock is read is free. The script records every question.

Compared between the submission and the reference: each call's whole answer as ``call_response`` returns it
(text, model, finish_reason, usage, request_id, from_cache: a stored answer is ``LLMResponse(text,
req.model)``, so it reports the request's model) or its error (class, bases, fields, the chain of causes; the
wording free), which of the provider's exceptions the error, its last_error and its cause are, the warnings'
categories; the trace (each attempt with its request and timeout, each wait asked with its error and attempt,
each sleep, each cache read and write, every read counted: a call reads the cache once, since an entry evicted
between two reads would turn a hit into no answer) and what the cache holds at the end; the log events
(logger, level, and the fields the contract names; the request id only by which events share one). The
AsyncLLMClient runs the same sequences: it reuses after_failure.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.hidden import wire
from tests.hidden.conftest import Pair, _short

pytestmark = pytest.mark.ex1

START = 100.0
#: What an attempt meets past the end of the script: a retryable 503, at no cost.
FILLER: dict[str, Any] = {"raise": {"class": "ServerError", "status_code": 503}, "cost_s": 0.0}
#: Attempts of one call after which the provider proxy refuses more (a call that never ends); after as many
#: refusals, it stops the child.
RUNAWAY = 40
#: A failing example is reported as generated: shrinking one reruns both children hundreds of times, and the
#: grade must come in seconds. The message shows the whole example (its settings, replies and waits).
NO_SHRINKING = (Phase.explicit, Phase.generate)
#: What the contract leaves free in a described outcome.
FREE = frozenset({"message", "traceback", "cause_is_context"})
#: The fields of a log event the contract names (request_id is compared by which events share one).
LOG_FIELDS = ("event", "model", "attempt", "latency_s", "error_type", "reason", "sleep_s")

RETRYABLE = ["ServerError", "LLMTimeoutError", "LLMConnectionError", "RateLimitError", "MalformedResponseError"]
FATAL = [
    "InvalidRequestError",
    "AuthenticationError",
    "QuotaExceededError",
    "ContentRefusedError",
    "RedirectError",
    "ResponseTooLargeError",
    "ConfigurationError",  # the kit's errors that are not a ProviderError fail an attempt too
    "StructuredOutputError",
    "LLMError",
]
BUGS = ["ValueError", "TypeError", "KeyError", "RuntimeError", "OSError", "ZeroDivisionError"]


def _key(description: Any) -> str:
    return json.dumps(description, sort_keys=True)


class Script:
    """The grader's side of one run (see the module docstring): answers the child's proxies and records them.

    ``replies`` are met in turn by the run's attempts; with ``per_call``, ``replies[c]`` by call ``c``'s own.
    """

    def __init__(self, replies: list[Any], waits: list[float], *, per_call: bool = False) -> None:
        self.replies = replies
        self.per_call = per_call
        self.waits = waits
        self.now = START
        self.attempts = 0
        self.attempts_of: dict[int, int] = {}
        self.refused = 0
        self.waits_asked = 0
        self.trace: list[list[Any]] = []
        self.cache: dict[str, Any] = {}

    def _reply(self, call: int) -> dict[str, Any]:
        n, self.attempts = self.attempts, self.attempts + 1
        made = self.attempts_of[call] = self.attempts_of.get(call, 0) + 1
        if made > RUNAWAY:
            self.refused += 1
            return {"halt": True} if self.refused > RUNAWAY else {"runaway": True, "now": self.now}
        replies = self.replies
        if self.per_call:
            replies = self.replies[call] if 0 <= call < len(self.replies) else []
            n = made - 1
        reply: dict[str, Any] = replies[n] if n < len(replies) else FILLER
        self.now += reply["cost_s"]
        # An answer carries the provider's request id and usage, so that the response returned is told apart
        # from one rebuilt from its text.
        made_by = {"request_id": f"provider-{self.attempts}", "usage": {"output_tokens": self.attempts}}
        return {**made_by, **{k: v for k, v in reply.items() if k != "cost_s"}, "now": self.now}

    def __call__(self, kind: str, args: dict[str, Any]) -> Any:
        if kind == "cache.seed":
            self.cache[_key(args["key"])] = args["value"]
            return None
        self.trace.append([kind, args])
        if kind == "provider.complete":
            return self._reply(args.get("call", 0))
        if kind == "sleep":
            seconds = args.get("seconds", {})
            if seconds.get("type") in ("float", "int") and isinstance(seconds.get("value"), (int, float)):
                self.now += seconds["value"]
            return {"now": self.now}
        if kind == "waits":
            n, self.waits_asked = self.waits_asked, self.waits_asked + 1
            return self.waits[n] if n < len(self.waits) else 1.0
        if kind == "cache.get":
            stored = self.cache.get(_key(args["key"]))
            return stored["value"] if isinstance(stored, dict) and stored.get("type") == "str" else None
        if kind == "cache.set":
            self.cache[_key(args["key"])] = args["value"]
            return None
        raise AssertionError(f"the child asked {kind!r}, which no proxy of ex1 asks")


def _events(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """The log events of a run: logger, level and the named fields (missing ones marked), text and id aside."""
    events = []
    for record in outcome["logs"]:
        fields = record["fields"]
        named = {name: fields.get(name, "<missing>") for name in LOG_FIELDS}
        events.append({"logger": record["logger"], "level": record["level"], **named})
    return events


def _first_difference(got: Any, want: Any, path: tuple[str, ...] = ()) -> str:
    """Where two descriptions first differ, and how (``call 0: outcome.model.value: expected 'm', got 'x'``)."""
    if type(got) is type(want) and isinstance(got, dict) and got != want:
        for key in [*want, *(k for k in got if k not in want)]:
            if got.get(key, "<missing>") != want.get(key, "<missing>"):
                step = () if key in ("items", "fields") else (str(key),)
                return _first_difference(got.get(key, "<missing>"), want.get(key, "<missing>"), (*path, *step))
    if type(got) is type(want) and isinstance(got, list) and len(got) == len(want) and got != want:
        for index, (a, e) in enumerate(zip(got, want, strict=True)):
            if a != e:
                return _first_difference(a, e, (*path, str(index)))
    where = ".".join(path[1:]) if path else ""
    call = f"call {path[0]}: " if path else ""
    return f"{call}{where or 'the outcome'}: expected {_short(want, 300)}, got {_short(got, 300)}"


def _count(trace: list[list[Any]], kind: str) -> int:
    """How many of ``trace``'s questions are of ``kind``."""
    return sum(1 for entry in trace if entry[0] == kind)


def _part(result: dict[str, Any], name: str) -> Any:
    """One part of a run's described value (the whole description when the run itself failed)."""
    return result.get("ok", {}).get("items", {}).get(name, result)


def same_run(
    pair: Pair,
    *,
    replies: list[Any],
    waits: list[float],
    setup: dict[str, Any],
    calls: list[dict[str, Any]],
    stored: dict[str, str] | None = None,
    use_async: bool = False,
    per_call: bool = False,
) -> None:
    """Run the calls in both children and assert that everything the contract promises is the same."""
    scripts: list[Script] = []

    def answers() -> Script:
        scripts.append(Script(replies, waits, per_call=per_call))
        return scripts[-1]

    args = {"settings": setup, "calls": calls, "stored": stored or {}, "use_async": use_async, "start": START}
    got, want = pair.run("ex1.calls", answers=answers, **args)
    mine, theirs = scripts
    assert "ok" in want["result"] and not theirs.refused, f"the reference failed to run: {_short(want, 2000)}"
    what = f"{'AsyncLLMClient' if use_async else 'LLMClient'} {_short(args, 400)}, replies {_short(replies, 400)}"
    if waits:
        what += f", waits {waits}"
    result, expected = wire.without(got["result"], FREE), wire.without(want["result"], FREE)
    outcomes, expected_outcomes = _part(result, "calls"), _part(expected, "calls")
    assert outcomes == expected_outcomes, (
        f"{what}: {_first_difference(outcomes, expected_outcomes)}; expected the calls to end with "
        f"{_short(expected_outcomes, 1500)}, got {_short(outcomes, 1500)}"
    )
    # Every cache read counts: reading again after a hit (test, then get) is a second read, and an entry
    # evicted in between (a TTL, an LRU, another process) turns the hit into an answer of None.
    trace, expected_trace = mine.trace, theirs.trace
    reads, expected_reads = _count(trace, "cache.get"), _count(expected_trace, "cache.get")
    assert reads == expected_reads, (
        f"{what}: expected {expected_reads} cache read(s) (one per call that uses the cache: keep what get "
        f"returned, never read again), got {reads}: the trace {_short(trace, 1500)}"
    )
    assert trace == expected_trace, (
        f"{what}: expected the calls to the provider, the wait rule, sleep and the cache "
        f"{_short(expected_trace, 1500)}, got {_short(trace, 1500)}"
    )
    assert result == expected, f"{what}: expected {_short(expected, 1500)}, got {_short(result, 1500)}"
    assert mine.cache == theirs.cache, (
        f"{what}: expected the cache to hold {_short(theirs.cache)} at the end, got {_short(mine.cache)}"
    )
    events, expected_events = _events(got), _events(want)
    assert events == expected_events, (
        f"{what}: expected the log events {_short(expected_events, 1500)}, got {_short(events, 1500)}"
    )
    categories = [w["category"] for w in got["warnings"]]
    expected_categories = [w["category"] for w in want["warnings"]]
    assert categories == expected_categories, f"{what}: expected the warnings {expected_categories}, got {categories}"


# -- the inputs -------------------------------------------------------------------------------

costs = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5])
wait_values = st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 7.5])
finish_reasons = st.sampled_from(["stop", None, "length", "max_tokens", "end_turn", "pause_turn"])
prompts = st.sampled_from(["hello", "again"])
flags = st.sampled_from([None, None, None, True, False])
causes = st.sampled_from([None, None, "ValueError", "OSError"])


def error_specs(
    classes: list[str], *, retryable: st.SearchStrategy[Any] = flags, cause: st.SearchStrategy[Any] = causes
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "class": st.sampled_from(classes),
            "status_code": st.sampled_from([None, 429, 503, 400]),
            "retry_after": st.sampled_from([None, 0.0, 2.0, 90.0]),
            "retryable": retryable,
            "cause": cause,
        }
    )


def failures(specs: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"raise": specs, "cost_s": costs})


answers = st.fixed_dictionaries({"text": st.text(max_size=6), "finish_reason": finish_reasons, "cost_s": costs})
retryable_failures = failures(error_specs(RETRYABLE, retryable=st.none()))
#: What one attempt meets, by kind: mostly a retryable failure, so that calls run to their limits.
REPLY_KINDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "answer": answers,
    "retryable": retryable_failures,
    "any error": failures(error_specs(RETRYABLE + FATAL)),
    "bug": failures(error_specs(BUGS, retryable=st.none(), cause=st.none())),
}
any_reply = st.sampled_from(["retryable", "answer", "retryable", "any error", "retryable", "answer", "bug"]).flatmap(
    REPLY_KINDS.__getitem__
)
call_options = st.fixed_dictionaries(
    {},
    optional={
        "timeout_s": st.sampled_from([0.25, 2.0, 30.0]),
        "max_retries": st.integers(min_value=0, max_value=3),
        "use_cache": st.booleans(),
    },
)
models = st.sampled_from(["m", "model-b"])
one_call = st.fixed_dictionaries({"prompt": prompts, "model": models, "options": call_options})
plain_call = st.fixed_dictionaries({"prompt": prompts, "model": st.just("m"), "options": st.just({})})
stored_texts = st.dictionaries(prompts, st.sampled_from(["", "stored answer", "x"]), max_size=2)


any_cache = st.booleans()
any_deadline = st.one_of(st.none(), st.sampled_from([0.5, 1.0, 2.0, 3.5, 5.0, 12.0]))
any_max_retries = st.integers(min_value=0, max_value=4)


def setups(
    *,
    cache: st.SearchStrategy[bool] = any_cache,
    deadline: st.SearchStrategy[Any] = any_deadline,
    max_retries: st.SearchStrategy[int] = any_max_retries,
) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "max_retries": max_retries,
            "timeout_s": st.sampled_from([0.5, 3.0, 30.0]),
            "deadline_s": deadline,
            "cache": cache,
            "cache_truncated": st.booleans(),
            "cache_namespace": st.sampled_from([None, "v2"]),
        }
    )


@st.composite
def near_the_deadline(draw: st.DrawFn) -> dict[str, Any]:
    """Retryable failures, then an answer, with a deadline that the wait after attempt k reaches exactly, or
    passes by a quarter second, or misses by one (all the times are sums of quarters: exact in floats)."""
    failed = draw(st.integers(min_value=1, max_value=4))
    spent = [draw(costs) for _ in range(failed + 1)]
    waits = [draw(wait_values) for _ in range(failed)]
    k = draw(st.integers(min_value=0, max_value=failed - 1))
    at = sum(spent[: k + 1]) + sum(waits[: k + 1])
    deadline = max(at + draw(st.sampled_from([0.0, 0.0, -0.25, 0.25])), 0.25)
    errors = [draw(error_specs(RETRYABLE, retryable=st.none(), cause=st.none())) for _ in range(failed)]
    replies = [{"raise": error, "cost_s": cost} for error, cost in zip(errors, spent, strict=False)]
    replies.append({"text": "in time", "finish_reason": "stop", "cost_s": spent[-1]})
    setup = draw(setups(deadline=st.just(deadline), max_retries=st.integers(min_value=k + 1, max_value=5)))
    return {"replies": replies, "waits": waits, "setup": setup}


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.points(4)
@settings(max_examples=40, phases=NO_SHRINKING)
@given(
    replies=st.lists(any_reply, max_size=6),
    waits=st.lists(wait_values, max_size=5),
    setup=setups(),
    calls=st.lists(one_call, min_size=1, max_size=2),
    stored=stored_texts,
)
def test_llmclient_meets_generated_faults_as_the_reference_does(
    pair: Pair,
    replies: list[dict[str, Any]],
    waits: list[float],
    setup: dict[str, Any],
    calls: list[dict[str, Any]],
    stored: dict[str, str],
) -> None:
    same_run(pair, replies=replies, waits=waits, setup=setup, calls=calls, stored=stored)


@pytest.mark.points(2)
@settings(max_examples=30, phases=NO_SHRINKING)
@given(run=near_the_deadline(), call=plain_call)
def test_a_wait_ending_at_the_deadline_is_taken_and_one_past_it_ends_the_call(
    pair: Pair, run: dict[str, Any], call: dict[str, Any]
) -> None:
    same_run(pair, replies=run["replies"], waits=run["waits"], setup=run["setup"], calls=[call])


@pytest.mark.points(1)
@settings(max_examples=25, phases=NO_SHRINKING)
@given(
    failed=st.lists(retryable_failures, max_size=4),
    waits=st.lists(wait_values, max_size=4),
    setup=setups(cache=st.just(False), deadline=st.one_of(st.none(), st.sampled_from([2.0, 4.5, 7.0]))),
    timeout_s=st.one_of(st.none(), st.sampled_from([0.5, 1.5, 4.0])),
    max_retries=st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
)
def test_each_attempt_gets_its_timeout_and_a_call_s_own_settings_win(
    pair: Pair,
    failed: list[dict[str, Any]],
    waits: list[float],
    setup: dict[str, Any],
    timeout_s: float | None,
    max_retries: int | None,
) -> None:
    replies = [*failed, {"text": "ok", "finish_reason": "stop", "cost_s": 0.5}]
    options = {k: v for k, v in (("timeout_s", timeout_s), ("max_retries", max_retries)) if v is not None}
    call = {"prompt": "hello", "model": "m", "options": options}
    same_run(pair, replies=replies, waits=waits, setup=setup, calls=[call])


@pytest.mark.points(3)
@settings(max_examples=40, phases=NO_SHRINKING)
@given(
    replies=st.lists(st.one_of(answers, answers, retryable_failures), min_size=1, max_size=4),
    setup=setups(cache=st.just(True), deadline=st.none(), max_retries=st.integers(min_value=0, max_value=2)),
    calls=st.lists(one_call, min_size=2, max_size=3),
    stored=stored_texts,
)
def test_stored_answers_are_served_and_only_whole_answers_stored(
    pair: Pair,
    replies: list[dict[str, Any]],
    setup: dict[str, Any],
    calls: list[dict[str, Any]],
    stored: dict[str, str],
) -> None:
    same_run(pair, replies=replies, waits=[], setup=setup, calls=calls, stored=stored)


@pytest.mark.points(2)
@settings(max_examples=25, phases=NO_SHRINKING)
@given(
    failed=st.lists(retryable_failures, max_size=3),
    bug=failures(error_specs(BUGS, retryable=st.none(), cause=st.none())),
    setup=setups(deadline=st.none(), max_retries=st.integers(min_value=3, max_value=4)),
    calls=st.lists(plain_call, min_size=1, max_size=2),
)
def test_a_bug_below_the_client_goes_up_untouched_and_is_never_retried(
    pair: Pair, failed: list[dict[str, Any]], bug: dict[str, Any], setup: dict[str, Any], calls: list[dict[str, Any]]
) -> None:
    replies = [*failed, bug, {"text": "never", "finish_reason": "stop", "cost_s": 0.0}]
    same_run(pair, replies=replies, waits=[0.5, 1.0, 0.25], setup=setup, calls=calls)


#: The errors that end a call at once, each met by one call of a run: every class that is not retryable,
#: the retryable ones flagged not retryable (x-should-retry: false), and three flagged retryable.
FINALS: list[dict[str, Any]] = [
    *({"class": name, "status_code": 400} for name in FATAL),
    *({"class": name, "status_code": 503, "retryable": False} for name in RETRYABLE),
    *({"class": name, "status_code": 400, "retryable": True} for name in ("InvalidRequestError", "LLMError")),
    {"class": "ConfigurationError", "retryable": True},
]
CAUSES = [None, "ValueError", "OSError"]


@pytest.mark.points(2)
@settings(max_examples=8, phases=NO_SHRINKING)
@given(
    failed=st.lists(retryable_failures, max_size=2),
    cost_s=costs,
    waits=st.lists(wait_values, max_size=4),
    setup=setups(
        # With a cache, the calls (one prompt) also show that an error stores nothing: the next call asks again.
        cache=st.booleans(),
        deadline=st.sampled_from([None, 60.0]),
        max_retries=st.integers(min_value=2, max_value=4),  # the final error comes at the last attempt, or before
    ),
)
def test_an_error_that_is_not_retryable_is_raised_as_it_is_and_the_flag_decides(
    pair: Pair, failed: list[dict[str, Any]], cost_s: float, waits: list[float], setup: dict[str, Any]
) -> None:
    replies = []
    for n, final in enumerate(FINALS):
        error = {**final, "retry_after": 2.0 if n % 2 else None, "cause": CAUSES[n % len(CAUSES)]}
        after = {"text": "after", "finish_reason": "stop", "cost_s": 0.0}
        replies.append([*failed, {"raise": error, "cost_s": cost_s}, after])
    calls = [{"prompt": "hello", "model": "m", "options": {}} for _ in FINALS]
    same_run(pair, replies=replies, waits=waits, setup=setup, calls=calls, per_call=True)


@pytest.mark.points(3)
@settings(max_examples=25, phases=NO_SHRINKING)
@given(
    replies=st.lists(any_reply, max_size=6),
    waits=st.lists(wait_values, max_size=5),
    setup=setups(),
    calls=st.lists(one_call, min_size=1, max_size=2),
    near=near_the_deadline(),
)
def test_asyncllmclient_reuses_after_failure_and_ends_as_the_reference_does(
    pair: Pair,
    replies: list[dict[str, Any]],
    waits: list[float],
    setup: dict[str, Any],
    calls: list[dict[str, Any]],
    near: dict[str, Any],
) -> None:
    same_run(pair, replies=replies, waits=waits, setup=setup, calls=calls, use_async=True)
    same_run(pair, replies=near["replies"], waits=near["waits"], setup=near["setup"], calls=calls[:1], use_async=True)

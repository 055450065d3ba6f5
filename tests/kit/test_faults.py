"""Fault injection: generated sequences of provider and network failures, through the real providers and client.

Each test draws a sequence of faults (see ``fault_sequences.py``) and client
settings, replays the sequence with an ``httpx.MockTransport`` under the real
``OpenAIProvider`` or ``AnthropicProvider`` and a real ``LLMClient`` (fake
clock and sleep, seeded rng, recording cache), and checks one group of
invariants against the oracle ``expected()``, which is written from the
documented rules, not from the client's code.
"""

from __future__ import annotations

import itertools
import math

import httpx
import pytest
from fault_sequences import (
    FAULT_KINDS,
    FIXED_NOW,
    REQUEST,
    RETRYABLE,
    Config,
    Fault,
    Outcome,
    ProgrammingError,
    configs,
    describe,
    expectation,
    expected,
    faults,
    is_finite_non_negative,
    retry_after_headers,
    run,
    sequences,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_client import (
    DeadlineExceededError,
    LLMError,
    RateLimitError,
    RetriesExhaustedError,
    make_cache_key,
    parse_retry_after,
)
from llm_client.errors import ProviderError

pytestmark = pytest.mark.kit

FAST = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FEW = settings(FAST, max_examples=60)


def _check_error_chain(error: BaseException, outcome: Outcome, context: str) -> None:
    """The raised error is the documented type; wrappers chain the last attempt's error, which chains its cause."""
    last = outcome.last
    assert last is not None and last.error is not None
    assert type(error) is outcome.error, context
    mapped: BaseException = error  # raised as it is, unless wrapped
    if outcome.error in (RetriesExhaustedError, DeadlineExceededError):
        assert isinstance(error, RetriesExhaustedError)
        mapped = error.last_error
        assert error.__cause__ is mapped, context
        assert error.attempts == outcome.attempts, context
    assert type(mapped) is last.error, context
    if isinstance(mapped, ProviderError):
        assert mapped.status_code == last.status, context
    if last.cause is None:
        assert mapped.__cause__ is None, context
    else:
        assert isinstance(mapped.__cause__, last.cause), context
    if isinstance(mapped, RateLimitError):
        assert mapped.retry_after == last.retry_after, context


@FAST
@given(sequence=sequences(), config=configs)
def test_every_fault_sequence_ends_as_the_oracle_says(sequence: list[Fault], config: Config) -> None:
    """The whole model at once: outcome, attempts, each sleep, each timeout, cache writes, error chain."""
    seen = run(sequence, config)
    want = expected(sequence, config)
    context = describe(sequence, config)
    assert seen.attempts == want.attempts, context
    assert seen.sleeps == want.sleeps, context
    assert [t["read"] for t in seen.timeouts] == want.timeouts, context
    key = make_cache_key(REQUEST)
    if want.text is not None:
        assert seen.error is None and seen.text == want.text, context
        # Stored under the request's key, scoped to the provider and base URL that answered.
        assert [(k.startswith("ns-") and k.endswith(":" + key), v) for k, v in seen.cache_sets] == [
            (True, want.text)
        ], context
    else:
        assert seen.text is None and seen.error is not None, context
        assert seen.cache_sets == [], context
        _check_error_chain(seen.error, want, context)


@FAST
@given(sequence=sequences(), config=configs)
def test_attempts_are_bounded_and_no_sleep_follows_the_last_attempt(sequence: list[Fault], config: Config) -> None:
    seen = run(sequence, config)
    assert 1 <= seen.attempts <= config.max_retries + 1
    names = [name for name, _ in seen.events]
    assert names[0] == "attempt" and names[-1] == "attempt", "a call starts and ends with an attempt"
    assert all(a != b for a, b in itertools.pairwise(names)), "attempts and sleeps alternate"
    assert len(seen.sleeps) == seen.attempts - 1
    assert all(is_finite_non_negative(s) for s in seen.sleeps), seen.sleeps


@FAST
@given(
    sequence=sequences(kinds=tuple(k for k in FAULT_KINDS if k not in ("ok", "fatal"))),
    config=configs.filter(lambda c: c.deadline_s is not None),
)
def test_sleeps_are_finite_non_negative_and_never_pass_the_deadline(sequence: list[Fault], config: Config) -> None:
    seen = run(sequence, config)
    assert config.deadline_s is not None
    assert all(is_finite_non_negative(s) for s in seen.sleeps), seen.sleeps
    assert sum(seen.sleeps) <= config.deadline_s
    # Counting the attempts' own time too: no sleep ends past the deadline.
    assert all(end <= config.deadline_s for end in seen.sleep_ends), seen.sleep_ends
    assert all(t["read"] <= config.timeout_s for t in seen.timeouts)
    if isinstance(seen.error, RetriesExhaustedError) and not isinstance(seen.error, DeadlineExceededError):
        assert seen.attempts == config.max_retries + 1, "gave up early without blaming the deadline"


@FAST
@given(sequence=sequences(), config=configs)
def test_text_comes_only_from_a_valid_success_and_only_successes_are_cached(
    sequence: list[Fault], config: Config
) -> None:
    seen = run(sequence, config)
    if seen.text is not None:
        last = sequence[seen.attempts - 1]
        assert last.kind == "ok", "text returned from an attempt that did not succeed"
        assert seen.text == expectation(last).text
        assert all(f.kind != "ok" for f in sequence[: seen.attempts - 1]), "a success was retried"
        assert [value for _, value in seen.cache_sets] == [seen.text]
        assert list(seen.cache_contents.values()) == [seen.text]
    else:
        assert seen.cache_sets == [], "a failure was cached"
        assert all(f.kind != "ok" for f in sequence[: seen.attempts]), "a success was not returned"


@FAST
@given(sequence=sequences(kinds=tuple(k for k in FAULT_KINDS if k != "ok")), config=configs)
def test_every_failure_is_a_documented_error_chained_to_its_cause(sequence: list[Fault], config: Config) -> None:
    seen = run(sequence, config)
    error = seen.error
    assert isinstance(error, LLMError), f"{type(error).__name__} is not an LLMError"
    last_fault = sequence[seen.attempts - 1] if seen.attempts <= len(sequence) else None
    if isinstance(error, RetriesExhaustedError):
        assert error.attempts == seen.attempts
        assert error.__cause__ is error.last_error, "the wrapper is not chained to the last attempt's error"
        mapped = error.last_error
        assert mapped.retryable
    else:
        mapped = error
        assert not error.retryable, "a retryable error escaped without being retried to the end"
    if last_fault is not None:
        want = expectation(last_fault)
        assert type(mapped) is want.error
        if want.cause is not None:
            assert isinstance(mapped.__cause__, want.cause), "the httpx/json exception is not chained"
        else:
            assert mapped.__cause__ is None


@FEW
@given(
    before=st.lists(faults(kinds=tuple(k for k in FAULT_KINDS if k not in ("ok", "fatal"))), max_size=3),
    fatal=faults(kinds=("fatal",)),
    after=sequences(max_size=3),
    config=configs.filter(lambda c: c.max_retries >= 3 and c.deadline_s is None),
)
def test_a_non_retryable_status_is_tried_exactly_once(
    before: list[Fault], fatal: Fault, after: list[Fault], config: Config
) -> None:
    seen = run([*before, fatal, *after], config)
    assert seen.attempts == len(before) + 1, "the call went on after a non-retryable status"
    assert type(seen.error) is expectation(fatal).error
    assert seen.error.__cause__ is None  # raised as it is, not wrapped
    assert len(seen.sleeps) == len(before)


@FAST
@given(
    headers=st.lists(retry_after_headers(), min_size=1, max_size=4),
    config=configs.filter(lambda c: c.deadline_s is None),
)
def test_a_usable_retry_after_is_slept_exactly(
    headers: list[tuple[dict[str, str], float | None]], config: Config
) -> None:
    sequence = [Fault("rate_limit", tuple(sorted(h.items()))) for h, _ in headers]
    seen = run(sequence, config)
    for attempt, sleep_s in enumerate(seen.sleeps):
        wanted = headers[attempt][1] if attempt < len(headers) else None
        if wanted is not None and wanted <= config.max_retry_after_s:
            assert sleep_s == wanted, f"attempt {attempt}: slept {sleep_s}, asked {wanted}"
        elif attempt < len(headers):
            ceiling = min(config.backoff_cap_s, config.backoff_base_s * 2.0**attempt)
            assert 0.0 <= sleep_s <= ceiling, f"attempt {attempt}: {sleep_s} is not a backoff within {ceiling}"


@FEW
@given(before=sequences(max_size=3, kinds=("timeout", "server", "rate_limit", "bad_json")), config=configs)
def test_a_programming_error_below_the_client_is_raised_unchanged_and_never_retried(
    before: list[Fault], config: Config
) -> None:
    sequence = [*before, Fault("bug")]
    want = expected(sequence, config)
    seen = run(sequence, config)
    assert seen.attempts == want.attempts
    if want.error is ProgrammingError:
        assert type(seen.error) is ProgrammingError, "a bug was wrapped or retried"
        assert seen.cache_sets == []


@FEW
@given(headers=retry_after_headers())
def test_the_retry_after_oracle_agrees_with_parse_retry_after(headers: tuple[dict[str, str], float | None]) -> None:
    """Keeps the oracle honest: its reading of each header form is the documented one."""
    raw, wanted = headers
    got = parse_retry_after(httpx.Headers(raw), now=float(FIXED_NOW))
    assert got == wanted
    assert got is None or (math.isfinite(got) and got >= 0.0)


def test_the_fault_kinds_cover_every_retryable_error() -> None:
    kinds = {expectation(Fault(k, _param_for(k))).error for k in FAULT_KINDS}
    assert set(RETRYABLE) <= kinds


def _param_for(kind: str) -> object:
    return {
        "timeout": "read",
        "transport": "connect",
        "server": 503,
        "server_html": 502,
        "rate_limit": (),
        "server_retry_after": (503, (("Retry-After", "2"),)),
        "bad_json": b"",
        "fatal": 400,
        "ok": 1,
    }.get(kind)

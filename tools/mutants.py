"""Common wrong answers ("mutants"): each one replaces a whole solution block of the reference.

Each mutant is a mistake a learner is likely to make in one exercise. It names its exercise and the
function whose solution block it replaces, as exercises.toml names it (``make_cache_key``,
``LLMClient._call_path``), and holds the whole wrong answer: the lines that go between that block's
``# BEGIN SOLUTION exN`` and ``# END SOLUTION`` markers, written at any indentation (they are dedented,
then indented like the block). Applying one finds the block by its markers, in the exercise's files, so
the reference may change freely around the block and inside it: no mutant quotes the reference's text.
A body uses only what the block may use, the function's arguments and its module's names (``_canonical``,
``call.wait``), and imports anything else itself (``import time``); when those change, the exercise has
changed, and its mutants follow it.

The kit's validity tests (tests/kit/test_grader_validity.py, and ``python -m tools mutants``) apply each
mutant to a fresh copy of solutions/llm_client/, grade the copy, and require it to lose points in its
own exercise and in no other. ``ALTERNATIVES`` are the opposite: right answers written another way,
which must keep full marks. A mutant whose exercise has no solution block in that function, or whose
file no longer parses once the body is in, raises MutantError.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.grader.catalog import load_catalog
from tools.generate_learner import MarkerError, find_blocks


class MutantError(ValueError):
    """A mutant does not fit the package: no such solution block, or a body that does not parse there."""


@dataclass(frozen=True)
class Mutant:
    """Replace the solution block of ``exercise`` in ``function`` ("name" or "Class.name") by ``body``."""

    name: str
    exercise: str
    function: str
    body: str
    why: str


def apply_mutant(mutant: Mutant, package_dir: Path) -> None:
    """Apply ``mutant`` to the llm_client package in ``package_dir``; raise MutantError if it does not fit."""
    catalog = load_catalog()
    exercise = catalog.get(mutant.exercise)
    if exercise is None:
        raise MutantError(f"mutant {mutant.name}: exercises.toml has no exercise {mutant.exercise}")
    found, others = [], []
    for name in exercise.files:  # "llm_client/client.py", relative to the repository root
        path = package_dir.joinpath(*Path(name).parts[1:])
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        try:
            blocks = [b for b in find_blocks(text, path=name, known=catalog) if b.exercise == mutant.exercise]
        except MarkerError as exc:
            raise MutantError(f"mutant {mutant.name}: {exc}") from exc
        found += [(path, text, b) for b in blocks if b.function == mutant.function]
        others += [b.function for b in blocks]
    if len(found) != 1:
        how_many = "no solution block" if not found else f"{len(found)} solution blocks (expected 1)"
        raise MutantError(
            f"mutant {mutant.name}: {mutant.exercise} has {how_many} in {mutant.function}; its blocks are in "
            f"{', '.join(others) or 'no function'} ({', '.join(exercise.files)})"
        )
    path, text, block = found[0]
    lines = text.splitlines()
    body = textwrap.dedent(mutant.body).strip("\n").splitlines()
    lines[block.begin + 1 : block.end] = [block.indent + line if line.strip() else "" for line in body]
    mutated = "\n".join(lines) + "\n"
    try:
        ast.parse(mutated)
    except SyntaxError as exc:
        raise MutantError(f"mutant {mutant.name}: {path.name} does not parse with its body: {exc}") from exc
    path.write_text(mutated, encoding="utf-8")


MUTANTS: tuple[Mutant, ...] = (
    # -- ex1: the call path ------------------------------------------------------------------------
    Mutant(
        "cached_empty_text_missed", "ex1", "LLMClient._call_path",
        why="a stored empty text is taken for a miss: the provider is asked again for an answer already stored",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "cache_hit_not_logged", "ex1", "LLMClient._call_path",
        why="a stored answer is returned without the llm.cache_hit event",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "cache_never_read", "ex1", "LLMClient._call_path",
        why="answers are stored but never read: every call asks the provider",
        body="""
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "key_made_again_from_the_request", "ex1", "LLMClient._call_path",
        why="the key is made again from the request instead of call.key: use_cache=False, the client's key function "
        "and its cache namespace are ignored",
        body="""
        from llm_client.cache_key import make_cache_key

        key = make_cache_key(req) if self.cache is not None else None
        if key is not None and self.cache is not None:
            cached = self.cache.get(key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "truncated_answer_cached", "ex1", "LLMClient._call_path",
        why="an answer cut at a token limit is stored, and served again as if it were whole",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None:
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "cache_truncated_ignored", "ex1", "LLMClient._call_path",
        why="cache_truncated=True is ignored: a cut answer is never stored, even when asked for",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and not response.truncated:
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "cache_reserved_before_the_attempts", "ex1", "LLMClient._call_path",
        why="an empty text is stored before the first attempt, to be replaced by the answer: a call that fails leaves "
        "it behind, and the next call returns '' without asking the provider",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        if call.key is not None and self.cache is not None:
            self.cache.set(call.key, "")
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "every_exception_is_a_failed_attempt", "ex1", "LLMClient._call_path",
        why="a bug (a TypeError, say) is handed to after_failure as a failed attempt instead of going straight up",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except Exception as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "policy_timeout_instead_of_attempt_timeout", "ex1", "LLMClient._call_path",
        why="each attempt gets the whole timeout even when the deadline is nearer, and its latency is not measured "
        "from its own start",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.policy.timeout_s)
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "loop_makes_max_retries_attempts", "ex1", "LLMClient._call_path",
        why="max_retries taken as the number of attempts: the last retry is never made, and max_retries=0 makes none",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "attempts_counted_from_one", "ex1", "LLMClient._call_path",
        why="attempts numbered from 1: after_failure gives up one attempt early and every log line names the wrong "
        "attempt",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(1, call.policy.max_retries + 2):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "last_failure_raised_as_it_is", "ex1", "LLMClient._call_path",
        why="the last failed attempt never reaches after_failure: its error goes up bare, not logged and not as "
        "RetriesExhaustedError",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                if attempt == call.policy.max_retries:
                    raise
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "attempt_ok_logged_before_the_attempt", "ex1", "LLMClient._call_path",
        why="llm.attempt_ok is logged before the provider answers: a failed attempt logs it too, with a stale latency",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "fixed_wait_instead_of_after_failures", "ex1", "LLMClient._call_path",
        why="after_failure's wait is thrown away and a fixed second slept instead: the backoff and Retry-After are "
        "ignored",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                after_failure(call, error, attempt)
                self.sleep(1.0)
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "wait_not_slept", "ex1", "LLMClient._call_path",
        why="the wait after_failure returns is never slept: each retry follows its failure at once",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                after_failure(call, error, attempt)
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "every_error_retried", "ex1", "after_failure",
        why="a 400 or a bad key is retried like a 503, and the caller waits for an error that cannot heal",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not isinstance(error, LLMError):
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "one_attempt_too_few", "ex1", "after_failure",
        why="max_retries counts the attempts, not the retries after the first",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt + 1 >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "last_error_not_chained", "ex1", "after_failure",
        why="giving up drops the last attempt's error from the chain",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from None
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from None
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "attempts_miscounted", "ex1", "after_failure",
        why="the error says one attempt fewer than were made (attempts are counted from 0)",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "deadline_ignores_the_wait", "ex1", "after_failure",
        why="a wait that ends past the deadline is started anyway",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "deadline_refuses_an_exact_fit", "ex1", "after_failure",
        why="a wait that ends exactly at the deadline is refused",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s >= deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "deadline_reported_as_exhausted", "ex1", "after_failure",
        why="running out of time is reported as running out of attempts",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "failed_attempt_logged_at_debug", "ex1", "after_failure",
        why="a failed attempt is logged at DEBUG, which an ordinary log setup never shows",
        body="""
        error_type = type(error).__name__
        call.log(logging.DEBUG, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "retry_not_logged", "ex1", "after_failure",
        why="the log never says a retry is coming, or after how long",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        return sleep_s
        """,
    ),
    Mutant(
        "failure_logs_elapsed_as_latency", "ex1", "after_failure",
        why="latency_s is the time since the first attempt, waits included, not the time the attempt took",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.elapsed(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "not_retryable_gave_up_silently", "ex1", "after_failure",
        why="a call that ends on a non-retryable error logs no reason",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "wait_computed_by_hand", "ex1", "after_failure",
        why="the wait is computed here instead of asked of call.wait: the client's waits and a 429's Retry-After are "
        "ignored",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = min(call.policy.backoff_cap_s, call.policy.backoff_base_s * 2**attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "wait_asked_before_giving_up", "ex1", "after_failure",
        why="the wait rule is asked after every failure, also one that ends the call: a wait (a random draw, or the "
        "caller's waits function) asked for nothing",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        sleep_s = call.wait(error, attempt)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "retry_logged_before_the_deadline_check", "ex1", "after_failure",
        why="llm.retry_scheduled is logged before the deadline check: a call that then gives up says it will retry too",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        return sleep_s
        """,
    ),
    Mutant(
        "not_retryable_raised_from_none", "ex1", "after_failure",
        why="an error that is not retryable is raised 'from None': the httpx error the provider chained it to is lost",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error from None
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "only_provider_errors_fail_an_attempt", "ex1", "LLMClient._call_path",
        why="only a ProviderError is a failed attempt: a ConfigurationError or the caller's own LLMError "
        "skips the decision (no log, no retry)",
        body="""
        from llm_client.errors import ProviderError

        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except ProviderError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "exhausted_chained_to_the_cause", "ex1", "after_failure",
        why="RetriesExhaustedError is chained to the last error's own cause (httpx's) instead of to the last error",
        body="""
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.attempt_failed", attempt, latency_s=call.latency(), error_type=error_type)
        if not error.retryable:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")
            raise error
        attempts_made = attempt + 1
        if attempt >= call.policy.max_retries:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="attempts_exhausted")
            raise RetriesExhaustedError(
                f"gave up after {attempts_made} attempt(s); last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error.__cause__ or error
        sleep_s = call.wait(error, attempt)
        deadline = call.policy.deadline_s
        if deadline is not None and call.elapsed() + sleep_s > deadline:
            call.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="deadline")
            raise DeadlineExceededError(
                f"gave up after {attempts_made} attempt(s): waiting {sleep_s:.3f}s more would pass "
                f"deadline_s={deadline}; last error: {error_type}: {error}",
                attempts=attempts_made,
                last_error=error,
            ) from error
        call.log(logging.INFO, "llm.retry_scheduled", attempt, error_type=error_type, sleep_s=sleep_s)
        return sleep_s
        """,
    ),
    Mutant(
        "cache_hit_reports_another_model", "ex1", "LLMClient._call_path",
        why="a stored answer comes back as LLMResponse(text, 'cache'): call_response() reports a model that never "
        "answered instead of the request's",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, "cache")
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    Mutant(
        "cache_read_twice", "ex1", "LLMClient._call_path",
        why="the cache is tested, then read again: an entry evicted between the two reads (a TTL, an LRU, another "
        "process) makes the call return None",
        body="""
        if call.key is not None and self.cache is not None:
            if self.cache.get(call.key) is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(self.cache.get(call.key), req.model)
        for attempt in range(call.policy.max_retries + 1):
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            if call.key is not None and self.cache is not None and (self.cache_truncated or not response.truncated):
                self.cache.set(call.key, response.text)
            return response
        raise self._no_error_after(call)
        """,
    ),
    # -- ex2: the cache key ------------------------------------------------------------------------
    Mutant(
        "key_misses_system_prompt", "ex2", "make_cache_key",
        why="two requests with different system prompts share a cache entry",
        body="""
        canonical = {
            field.name: _canonical(getattr(req, field.name)) for field in fields(req) if field.name != "system_prompt"
        }
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_misses_sampling_settings", "ex2", "make_cache_key",
        why="only model, prompt and temperature keyed, as in a first draft",
        body="""
        keyed = [field for field in fields(req) if field.name not in ("top_p", "stop", "max_tokens")]
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in keyed}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_uses_builtin_hash", "ex2", "make_cache_key",
        why="hash() of a str changes with PYTHONHASHSEED, so keys differ between processes",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return format(hash(raw) % 2**64, "016x") * 4
        """,
    ),
    Mutant(
        "key_without_canonical_numbers", "ex2", "make_cache_key",
        why="temperature=0 and 0.0 serialize differently and get two keys",
        body="""
        canonical = {field.name: getattr(req, field.name) for field in fields(req)}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_glues_strings", "ex2", "make_cache_key",
        why="values concatenated without names or separators collide",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = "".join(str(canonical[name]) for name in sorted(canonical))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_joins_values_with_a_separator", "ex2", "make_cache_key",
        why="a separator inside a value makes two requests one key: prompt 'a|b' + system 'c' is prompt 'a' + system "
        "'b|c'",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = "|".join(str(canonical[field.name]) for field in fields(req))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_joins_names_and_values", "ex2", "make_cache_key",
        why="names do not help when a value can hold ';prompt=': one value can forge the next field",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = ";".join(f"{name}={value}" for name, value in sorted(canonical.items()))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_stringifies_values", "ex2", "make_cache_key",
        why="every value made a string: system_prompt=None and system_prompt='None' share a key",
        body="""
        canonical = {field.name: str(_canonical(getattr(req, field.name))) for field in fields(req)}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_joins_stop_sequences", "ex2", "make_cache_key",
        why="stop=('a,b',) and stop=('a', 'b') are joined into the same string",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        canonical["stop"] = ",".join(req.stop)
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_rounds_numbers", "ex2", "make_cache_key",
        why="numbers rounded to one decimal: temperature 0.7 and 0.74 share a key",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        canonical = {k: round(v, 1) if isinstance(v, float) else v for k, v in canonical.items()}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_normalizes_text", "ex2", "make_cache_key",
        why="prompts that differ in case or surrounding whitespace are different input, but share a key",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        canonical = {k: v.strip().lower() if isinstance(v, str) else v for k, v in canonical.items()}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_drops_non_ascii", "ex2", "make_cache_key",
        why="'café' and 'caf' share a key: the text is encoded to ASCII, dropping what does not fit",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("ascii", "ignore")).hexdigest()
        """,
    ),
    Mutant(
        "key_truncates_long_values", "ex2", "make_cache_key",
        why="long prompts that differ only after their first 200 characters share a key",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        canonical = {k: v[:200] if isinstance(v, str) else v for k, v in canonical.items()}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_from_repr", "ex2", "make_cache_key",
        why="the dataclass repr writes temperature=0 and temperature=0.0 differently",
        body="""
        raw = repr(req)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_unset_as_zero", "ex2", "make_cache_key",
        why="a setting left unset (None) is keyed as 0: an unsent temperature shares a key with temperature=0",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name) or 0) for field in fields(req)}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_names_todays_fields", "ex2", "make_cache_key",
        why="today's eight field names written out instead of dataclasses.fields: a field added to LLMRequest later "
        "is not keyed",
        body="""
        names = ("model", "prompt", "system_prompt", "temperature", "max_tokens", "top_p", "stop", "reasoning_effort")
        canonical = {name: _canonical(getattr(req, name)) for name in names}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_unset_max_tokens_as_a_default", "ex2", "make_cache_key",
        why="an unset max_tokens keyed as 4096, a provider's default: unset and max_tokens=4096 share a key",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        if canonical["max_tokens"] is None:
            canonical["max_tokens"] = 4096.0
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_salted_with_the_host_name", "ex2", "make_cache_key",
        why="the host name mixed into the key: the same request gets another key on another machine, so a cache "
        "shared through a SQLite file or Redis never hits",
        body="""
        import platform

        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256((platform.node() + raw).encode("utf-8")).hexdigest()
        """,
    ),
    # -- ex3: backoff and jitter -------------------------------------------------------------------
    Mutant(
        "backoff_without_cap", "ex3", "backoff_delay",
        why="the delay keeps doubling past the cap",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        return math.ldexp(base, min(attempt, 1000))
        """,
    ),
    Mutant(
        "backoff_off_by_one", "ex3", "backoff_delay",
        why="attempt 0 already waits 2 * base",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return min(cap, math.ldexp(base, attempt + 1))
        """,
    ),
    Mutant(
        "backoff_overflows", "ex3", "backoff_delay",
        why="base * 2**attempt raises OverflowError for a huge attempt",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if base * 2**attempt >= cap:
            return cap
        return min(cap, math.ldexp(base, attempt))
        """,
    ),
    Mutant(
        "backoff_cap_over_base_overflows", "ex3", "backoff_delay",
        why="cap / base overflows to inf for a tiny base and a huge cap, and ldexp then raises OverflowError",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt >= math.log2(cap / base):
            return cap
        return min(cap, math.ldexp(base, attempt))
        """,
    ),
    Mutant(
        "jitter_never_below_half", "ex3", "add_jitter",
        why="'equal jitter': waits never go below half the delay",
        body="""
        source = rng if rng is not None else random
        return source.uniform(delay_s / 2, delay_s)
        """,
    ),
    Mutant(
        "jitter_ignores_rng", "ex3", "add_jitter",
        why="a seeded rng passed in is not used, so waits cannot be reproduced",
        body="""
        source = random
        return source.uniform(0.0, delay_s)
        """,
    ),
    Mutant(
        "backoff_zero_base_crashes", "ex3", "backoff_delay",
        why="base=0 or cap=0 reaches math.log2(0), which raises ValueError instead of returning 0.0",
        body="""
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return min(cap, math.ldexp(base, attempt))
        """,
    ),
    Mutant(
        "backoff_zero_cap_crashes", "ex3", "backoff_delay",
        why="cap=0 reaches math.log2(0), which raises ValueError instead of returning 0.0",
        body="""
        if base == 0.0:
            return 0.0
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return min(cap, math.ldexp(base, attempt))
        """,
    ),
    Mutant(
        "backoff_overflow_means_cap", "ex3", "backoff_delay",
        why="an OverflowError is taken to mean 'past the cap', but 1e-300 * 2**1030 is only about 1e10",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        try:
            return min(cap, base * 2**attempt)
        except OverflowError:
            return cap
        """,
    ),
    Mutant(
        "backoff_int_power_after_log_test", "ex3", "backoff_delay",
        why="below the cap, base * 2**attempt still overflows for a tiny base: 2**1100 is no float",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return min(cap, base * 2**attempt)
        """,
    ),
    Mutant(
        "backoff_float_power_after_log_test", "ex3", "backoff_delay",
        why="2.0**1024 overflows although base * 2**1024 is far below the cap for a tiny base",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return min(cap, base * 2.0**attempt)
        """,
    ),
    Mutant(
        "backoff_exponent_clamped", "ex3", "backoff_delay",
        why="the exponent is clamped at 64 to avoid overflow, so a tiny base stops growing too early",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return min(cap, math.ldexp(base, min(attempt, 64)))
        """,
    ),
    Mutant(
        "backoff_first_wait_is_base", "ex3", "backoff_delay",
        why="attempt 0 returns base even when base is above cap: the first wait breaks the cap",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt == 0:
            return base
        if attempt >= math.log2(cap) - math.log2(base):
            return cap
        return math.ldexp(base, attempt)
        """,
    ),
    Mutant(
        "backoff_threshold_truncated", "ex3", "backoff_delay",
        why="int() of the logarithm returns the cap one attempt early when cap / base is not a power of 2",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        if attempt >= int(math.log2(cap) - math.log2(base)):
            return cap
        return min(cap, math.ldexp(base, attempt))
        """,
    ),
    Mutant(
        "jitter_added_to_the_delay", "ex3", "add_jitter",
        why="jitter added on top of the delay: waits up to twice the backoff",
        body="""
        source = rng if rng is not None else random
        return delay_s + source.uniform(0.0, delay_s)
        """,
    ),
    Mutant(
        "jitter_in_whole_seconds", "ex3", "add_jitter",
        why="whole seconds only: a delay under one second is never jittered (always 0)",
        body="""
        source = rng if rng is not None else random
        return float(source.randint(0, int(delay_s)))
        """,
    ),
    Mutant(
        "jitter_not_scaled", "ex3", "add_jitter",
        why="a draw from [0, 1) whatever the delay",
        body="""
        source = rng if rng is not None else random
        return source.random()
        """,
    ),
    Mutant(
        "jitter_short_of_the_delay", "ex3", "add_jitter",
        why="a margin kept below the delay: the top of the interval is never drawn",
        body="""
        source = rng if rng is not None else random
        return source.uniform(0.0, 0.95 * delay_s)
        """,
    ),
    Mutant(
        "jitter_fixed_seed_without_rng", "ex3", "add_jitter",
        why="without rng, a fresh Random(0) gives every caller the same wait: no spreading at all",
        body="""
        source = rng if rng is not None else random.Random(0)
        return source.uniform(0.0, delay_s)
        """,
    ),
    # -- ex4: rate limits --------------------------------------------------------------------------
    Mutant(
        "retry_after_ignored", "ex4", "retry_delay",
        why="the wait the provider asked for is ignored; always backoff",
        body="""
        return backoff(attempt)
        """,
    ),
    Mutant(
        "retry_after_without_cap", "ex4", "retry_delay",
        why="a Retry-After of an hour is obeyed",
        body="""
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return asked
        return backoff(attempt)
        """,
    ),
    Mutant(
        "retry_after_zero_is_falsy", "ex4", "retry_delay",
        why="Retry-After: 0 is treated as missing",
        body="""
        asked = getattr(error, "retry_after", None)
        if asked and asked <= max_retry_after_s:
            return asked
        return backoff(attempt)
        """,
    ),
    Mutant(
        "retry_after_only_for_a_429", "ex4", "retry_delay",
        why="only a RateLimitError's wait is read: a 503 or 529 that says when to come back is retried on backoff",
        body="""
        from llm_client.errors import RateLimitError

        if isinstance(error, RateLimitError) and error.retry_after is not None:
            if error.retry_after <= max_retry_after_s:
                return error.retry_after
        return backoff(attempt)
        """,
    ),
    Mutant(
        "http_date_not_understood", "ex4", "parse_retry_after",
        why="only numeric Retry-After values are read",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        return None
        """,
    ),
    Mutant(
        "retry_after_ms_read_as_seconds", "ex4", "parse_retry_after",
        why="retry-after-ms: 1500 becomes a 25-minute wait",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "header_names_case_sensitive", "ex4", "parse_retry_after",
        why="'Retry-After' is missed in a plain dict",
        body="""
        lowered = {str(name): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "past_date_negative", "ex4", "parse_retry_after",
        why="a date in the past gives a negative wait",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return when.timestamp() - now
        """,
    ),
    Mutant(
        "retry_delay_sleeps_itself", "ex4", "retry_delay",
        why="the function waits by itself, then the client waits again: every 429 costs twice",
        body="""
        asked = getattr(error, "retry_after", None)
        if asked is not None and asked <= max_retry_after_s:
            import time

            time.sleep(asked)
            return asked
        return backoff(attempt)
        """,
    ),
    Mutant(
        "unusable_retry_after_ms_gives_none", "ex4", "parse_retry_after",
        why="a garbage retry-after-ms hides a usable Retry-After",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        if "retry-after-ms" in lowered:
            millis = _parse_seconds(lowered["retry-after-ms"])
            return None if millis is None else millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "http_date_through_local_time", "ex4", "parse_retry_after",
        why="time.mktime reads the GMT wall time as local time: right only where local time is UTC",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, time.mktime(when.timetuple()) - now)
        """,
    ),
    Mutant(
        "http_date_naive_strptime", "ex4", "parse_retry_after",
        why="strptime gives a naive datetime, and .timestamp() takes it as local time",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        from datetime import datetime

        try:
            when = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT")
        except ValueError:
            return None
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "http_date_naive_result_taken_as_local", "ex4", "parse_retry_after",
        why="parsedate_to_datetime gives a naive datetime for asctime dates, and .timestamp() takes it as local time",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "retry_after_clamped_to_the_cap", "ex4", "retry_delay",
        why="a Retry-After of an hour becomes a wait of max_retry_after_s instead of the backoff",
        body="""
        asked = getattr(error, "retry_after", None)
        if asked is not None:
            return min(asked, max_retry_after_s)
        return backoff(attempt)
        """,
    ),
    Mutant(
        "backoff_drawn_before_it_is_needed", "ex4", "retry_delay",
        why="backoff is called even when Retry-After is used, drawing a random number for nothing",
        body="""
        asked = getattr(error, "retry_after", None)
        fallback = backoff(attempt)
        if asked is not None and asked <= max_retry_after_s:
            return asked
        return fallback
        """,
    ),
    Mutant(
        "retry_after_cap_exclusive", "ex4", "retry_delay",
        why="a Retry-After equal to max_retry_after_s is not honoured",
        body="""
        asked = getattr(error, "retry_after", None)
        if asked is not None and asked < max_retry_after_s:
            return asked
        return backoff(attempt)
        """,
    ),
    Mutant(
        "retry_after_nan_accepted", "ex4", "parse_retry_after",
        why="float() reads 'nan', 'inf' and '-5': waits that are no waits",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        try:
            seconds = float(value)
        except ValueError:
            seconds = None
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "retry_after_whole_seconds_only", "ex4", "parse_retry_after",
        why="Retry-After: 0.5 is not understood",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = float(value) if value.isdigit() else None
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, when.timestamp() - now)
        """,
    ),
    Mutant(
        "http_date_ignores_now", "ex4", "parse_retry_after",
        why="the date is measured from the clock, not from the now given",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            if "," in value:
                return None
            when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT
        return max(0.0, when.timestamp() - time.time())
        """,
    ),
    # -- ex5: structured output --------------------------------------------------------------------
    Mutant(
        "fence_not_stripped", "ex5", "parse_structured",
        why="JSON inside a ```json fence is rejected",
        body="""
        candidate = text
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "validation_error_leaks", "ex5", "parse_structured",
        why="pydantic's ValidationError escapes instead of StructuredOutputError",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except KeyError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "rejected_answer_not_shown", "ex5", "ask_again",
        why="the repair does not show the model the answer it rejected",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        return dataclasses.replace(req, prompt=repair_prompt(req.prompt, "", error.validation_errors))
        """,
    ),
    Mutant(
        "errors_not_fed_back", "ex5", "ask_again",
        why="the repair asks the same question again without saying what was wrong",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        return req
        """,
    ),
    Mutant(
        "one_repair_too_many", "ex5", "ask_again",
        why="max_repairs + 1 repairs are made",
        body="""
        if answers > max_repairs + 1:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))
        """,
    ),
    Mutant(
        "give_up_without_the_last_answer", "ex5", "ask_again",
        why="the final error no longer says which answer was rejected, or why",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text="",
                validation_errors=[],
            ) from error
        return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))
        """,
    ),
    Mutant(
        "repair_drops_the_request_settings", "ex5", "ask_again",
        why="the repair is a new request with only model and prompt: the system prompt and settings are lost",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        return type(req)(model=req.model, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))
        """,
    ),
    Mutant(
        "repair_forgets_the_task", "ex5", "ask_again",
        why="the repair shows the rejected answer and its errors, but not the original task",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        fixed = repair_prompt("Fix your previous answer.", error.raw_text, error.validation_errors)
        return dataclasses.replace(req, prompt=fixed)
        """,
    ),
    Mutant(
        "final_error_not_chained", "ex5", "ask_again",
        why="the error that ends the call drops the last parse error from its chain",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from None
        return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))
        """,
    ),
    Mutant(
        "fence_stripped_by_hand", "ex5", "parse_structured",
        why="only a fence that opens the text with ```json is removed; prose around a fence is not",
        body="""
        candidate = text.strip().removeprefix("```json").removesuffix("```")
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "validation_errors_without_their_location", "ex5", "parse_structured",
        why="the errors no longer say which field was wrong",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "validation_error_not_chained", "ex5", "parse_structured",
        why="pydantic's ValidationError is dropped from the chain",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from None
        """,
    ),
    Mutant(
        "json_error_in_another_shape", "ex5", "parse_structured",
        why="text that is not JSON is reported with another type and location than pydantic's json_invalid at ()",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "value_error", "loc": ("text",), "msg": str(exc)}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "raw_text_is_the_extracted_json", "ex5", "parse_structured",
        why="raw_text loses the fence and prose around the JSON",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=candidate,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=candidate,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "schema_called_with_keywords", "ex5", "parse_structured",
        why="schema(**data) raises TypeError, not StructuredOutputError, for JSON that is not an object",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema(**data)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "give_up_reraises_the_last_error", "ex5", "ask_again",
        why="the last parse error is raised as it is, not a new error chained to it",
        body="""
        if answers > max_repairs:
            raise error
        return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))
        """,
    ),
    Mutant(
        "one_repair_too_few", "ex5", "ask_again",
        why="one repair too few: max_repairs counts the first answer",
        body="""
        if answers >= max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))
        """,
    ),
    Mutant(
        "structured_errors_kept_whole", "ex5", "parse_structured",
        why="pydantic's errors() also holds the rejected input, a url and ctx: the error carries them all",
        body="""
        candidate = extract_json(text)
        try:
            data = json.loads(candidate)
        except ValueError as exc:
            raise StructuredOutputError(
                f"the answer is not valid JSON: {exc}",
                raw_text=text,
                validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],
            ) from exc
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            errors = [dict(e) for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    # -- ex6: the provider call --------------------------------------------------------------------
    Mutant(
        "no_timeout_passed", "ex6", "HTTPProvider.complete",
        why="the per-attempt timeout never reaches httpx",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "cause_not_chained", "ex6", "HTTPProvider.complete",
        why="the httpx exception is dropped from the chain",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from None
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "client_errors_retried", "ex6", "error_for_status",
        why="a 400 is mapped to a retryable error and retried",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return ServerError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "auth_is_plain_invalid_request", "ex6", "error_for_status",
        why="401/403 become InvalidRequestError, not AuthenticationError",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in ():
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "rate_limit_without_retry_after", "ex6", "error_for_status",
        why="the 429's Retry-After header is not read",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=None, **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "request_timeout_408_not_retried", "ex6", "error_for_status",
        why="408 falls into 'other 4xx' and becomes InvalidRequestError, which is never retried",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "conflict_409_not_retried", "ex6", "error_for_status",
        why="409 becomes InvalidRequestError, which is never retried",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "unexpected_status_is_invalid_request", "ex6", "error_for_status",
        why="a 302 or 304 becomes InvalidRequestError instead of MalformedResponseError",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        return InvalidRequestError(described, **kwargs)
        """,
    ),
    Mutant(
        "overloaded_529_not_server_error", "ex6", "error_for_status",
        why="529 (overloaded) is not recognised as a server error",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or 500 <= status <= 504:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "timeout_is_connection_error", "ex6", "error_for_transport",
        why="a timeout is reported as a connection error",
        body="""
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"{provider}: unsupported URL ({exc})")
        if isinstance(exc, httpx.TransportError):
            return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")
        return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
        """,
    ),
    Mutant(
        "unsupported_protocol_retried", "ex6", "error_for_transport",
        why="a bad base_url (httpx.UnsupportedProtocol) becomes a retryable LLMConnectionError",
        body="""
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")
        if isinstance(exc, httpx.TransportError):
            return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")
        return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
        """,
    ),
    Mutant(
        "provider_message_dropped", "ex6", "error_for_status",
        why="the provider's explanation from the error body is lost",
        body="""
        kwargs: dict[str, Any] = {"status_code": status}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "only_listed_4xx_are_invalid_requests", "ex6", "error_for_status",
        why="410, 413, 415, 418, 451 ... fall through to MalformedResponseError, which is retried",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if status in (400, 404, 422):
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "complete_retries_server_errors", "ex6", "HTTPProvider.complete",
        why="complete() retries a 5xx by itself; under the client's retries that is 3 x (max_retries + 1) requests",
        body="""
        headers = self.headers()
        for _ in range(3):
            try:
                response = self._http.post(
                    self.url, json=self.payload(req), headers=headers, timeout=timeout_s
                )
            except httpx.HTTPError as exc:
                raise error_for_transport(exc, provider=self.name) from exc
            if response.status_code < 500:
                break
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "complete_retries_timeouts", "ex6", "HTTPProvider.complete",
        why="complete() tries again after a timeout: one attempt becomes two requests",
        body="""
        headers = self.headers()
        try:
            try:
                response = self._http.post(
                    self.url, json=self.payload(req), headers=headers, timeout=timeout_s
                )
            except httpx.TimeoutException:
                response = self._http.post(
                    self.url, json=self.payload(req), headers=headers, timeout=timeout_s
                )
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "error_message_holds_the_body", "ex6", "error_for_status",
        why="the raw body goes into the message, and with it the key a server echoed back",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(f"{provider} answered HTTP {status}: {response.text}", **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "provider_message_read_raw", "ex6", "error_for_status",
        why="the message is read from the body as it is: not redacted, and a KeyError or JSON error for other bodies",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": response.json()["error"]["message"]}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "error_for_status_raises", "ex6", "error_for_status",
        why="error_for_status raises a 5xx's error instead of returning it",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            raise ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "error_for_transport_raises", "ex6", "error_for_transport",
        why="error_for_transport raises the connection error instead of returning it",
        body="""
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"{provider}: unsupported URL ({exc})")
        if isinstance(exc, httpx.TransportError):
            raise LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")
        return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
        """,
    ),
    Mutant(
        "server_errors_without_provider_message", "ex6", "error_for_status",
        why="a 5xx loses the provider's explanation",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, status_code=status)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "some_timeouts_are_connection_errors", "ex6", "error_for_transport",
        why="a WriteTimeout or PoolTimeout becomes a connection error",
        body="""
        if isinstance(exc, (httpx.ReadTimeout, httpx.ConnectTimeout)):
            return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"{provider}: unsupported URL ({exc})")
        if isinstance(exc, httpx.TransportError):
            return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")
        return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
        """,
    ),
    Mutant(
        "only_transport_errors_caught", "ex6", "HTTPProvider.complete",
        why="an httpx.DecodingError or TooManyRedirects escapes as a raw httpx exception",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.TransportError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "programming_errors_wrapped", "ex6", "HTTPProvider.complete",
        why="a bug below complete() becomes a retryable LLMConnectionError",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except Exception as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "only_200_is_a_success", "ex6", "HTTPProvider.complete",
        why="a 201 or 203 with a valid answer is an error",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if response.status_code != 200:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "retry_after_read_by_hand", "ex6", "error_for_status",
        why="the 429's wait is read from Retry-After only: retry-after-ms and HTTP-dates are lost",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            asked = float(response.headers["retry-after"]) if "retry-after" in response.headers else None
            return RateLimitError(described, retry_after=asked, **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "transport_error_shows_the_request_headers", "ex6", "error_for_transport",
        why="the request's headers hold Authorization: Bearer <key>, so the message holds the key",
        body="""
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"{provider}: unsupported URL ({exc})")
        if isinstance(exc, httpx.TransportError):
            return LLMConnectionError(f"{provider}: connection failed ({exc}; headers {dict(exc.request.headers)})")
        return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
        """,
    ),
    Mutant(
        "complete_raises_error_for_status", "ex6", "HTTPProvider.complete",
        why="the status table alone: no quota 429, no Retry-After on a 5xx, no x-should-retry",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_status(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "complete_checks_the_key_itself", "ex6", "HTTPProvider.complete",
        why="a missing key refused by a check of its own: a keyless call to a local server (Ollama) is refused too",
        body="""
        if not self._api_key:
            raise ConfigurationError(f"{self.name}: no API key")
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "status_600_is_server_error", "ex6", "error_for_status",
        why="a status of 600 or more becomes a retryable ServerError, where only 500-599 is a 5xx",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or status >= 500:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    Mutant(
        "a_1xx_is_an_answer", "ex6", "HTTPProvider.complete",
        why="only a status of 400 or more is an error, so a 1xx with a completion's body is parsed as an answer",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.HTTPError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if response.status_code >= 400:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "decoding_error_is_malformed_response", "ex6", "error_for_transport",
        why="an httpx.DecodingError becomes a MalformedResponseError, not the docstring's LLMConnectionError",
        body="""
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")
        if isinstance(exc, httpx.UnsupportedProtocol):
            return ConfigurationError(f"{provider}: unsupported URL ({exc})")
        if isinstance(exc, httpx.DecodingError):
            return MalformedResponseError(f"{provider}: the body could not be decoded ({exc})")
        if isinstance(exc, httpx.TransportError):
            return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")
        return LLMConnectionError(f"{provider}: HTTP error ({type(exc).__name__}: {exc})")
        """,
    ),
    Mutant(
        "status_message_is_the_detail_alone", "ex6", "error_for_status",
        why="the message is the provider's detail alone: str(error) names neither the provider nor the status",
        body="""
        kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}
        described = detail or ""
        if status == 429:
            return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
        if status == 408:
            return LLMTimeoutError(described, **kwargs)
        if status == 409 or 500 <= status < 600:
            return ServerError(described, **kwargs)
        if status in (401, 403):
            return AuthenticationError(described, **kwargs)
        if 400 <= status < 500:
            return InvalidRequestError(described, **kwargs)
        return MalformedResponseError(described, **kwargs)
        """,
    ),
    # -- ex7: the token bucket (optional) ----------------------------------------------------------
    Mutant(
        "bucket_refills_past_capacity", "ex7", "TokenBucket.take",
        why="a long quiet spell lets an unbounded burst through",
        body="""
        if now > self.updated:
            self.tokens = self.tokens + (now - self.updated) * self.rate
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_never_lends", "ex7", "TokenBucket.take",
        why="callers that arrive together are all told to wait the same, so they go together",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens = max(0.0, self.tokens - amount)
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_wait_ignores_rate", "ex7", "TokenBucket.take",
        why="the wait is the token deficit, not the time the refill needs",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens
        """,
    ),
    Mutant(
        "bucket_ignores_amount", "ex7", "TokenBucket.take",
        why="a 400-token request costs one token",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= 1.0
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_updated_goes_back", "ex7", "TokenBucket.take",
        why="an earlier clock reading moves updated back, so the next refill counts the same seconds twice",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_sleeps_itself", "ex7", "TokenBucket.take",
        why="take() waits by itself, then the caller waits again",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        import time

        time.sleep(-self.tokens / self.rate)
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_forgives_debt", "ex7", "TokenBucket.take",
        why="the refill starts from zero, forgetting the tokens lent to callers still waiting",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, max(0.0, self.tokens) + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_waits_for_the_whole_amount", "ex7", "TokenBucket.take",
        why="the wait ignores the tokens already there and the callers already waiting",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return amount / self.rate
        """,
    ),
    Mutant(
        "bucket_waits_whole_tokens", "ex7", "TokenBucket.take",
        why="a partly refilled bucket still makes the caller wait for a whole token",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        import math

        return math.ceil(-self.tokens) / self.rate
        """,
    ),
    Mutant(
        "bucket_reads_the_clock", "ex7", "TokenBucket.take",
        why="the now given is ignored and the real clock read instead",
        body="""
        import time

        now = time.monotonic()
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_caps_before_refilling", "ex7", "TokenBucket.take",
        why="the cap is applied before the refill, so a quiet spell still overfills the bucket",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens) + (now - self.updated) * self.rate
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_refills_backwards", "ex7", "TokenBucket.take",
        why="a clock reading earlier than the last one removes tokens",
        body="""
        if now != self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    # -- ex8: streaming (optional) -------------------------------------------------------------------
    Mutant(
        "sse_strips_every_space", "ex8", "parse_sse_block",
        why="every leading space of a value is dropped, not just one",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.lstrip(" ")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_keeps_the_space", "ex8", "parse_sse_block",
        why="the space after the colon stays in the value",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_strips_the_value", "ex8", "parse_sse_block",
        why="values are stripped at both ends, so meaningful spaces vanish",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value.strip()
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_joins_data_without_newlines", "ex8", "parse_sse_block",
        why="data lines are glued together with nothing between them",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_first_event_line_wins", "ex8", "parse_sse_block",
        why="a second event line is ignored, though the last one names the event",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event" and event == "message":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_empty_event_name_kept", "ex8", "parse_sse_block",
        why="an empty event line names the event '' instead of 'message'",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_no_data_is_an_empty_event", "ex8", "parse_sse_block",
        why="a block without data is returned as an event with empty data",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_splits_at_the_last_colon", "ex8", "parse_sse_block",
        why="the line is split at its last colon, so a value holding one is cut",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.rpartition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_field_names_ignore_case", "ex8", "parse_sse_block",
        why="Data and DATA are taken for data, though field names are case-sensitive",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            name = name.lower()
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "sse_line_without_colon_skipped", "ex8", "parse_sse_block",
        why="a line with no colon is dropped, though it is a field with an empty value",
        body="""
        event = "message"
        data: list[str] = []
        for line in lines:
            if line.startswith(":") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            if value.startswith(" "):
                value = value[1:]
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value or "message"
        joined = "\\n".join(data)
        if not joined:
            return None
        return SSEEvent(event, joined)
        """,
    ),
    Mutant(
        "stream_retries_after_text", "ex8", "after_stream_failure",
        why="a retryable failure after text is retried, so the caller gets text twice",
        body="""
        if not partial_text or error.retryable:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        chars = len(partial_text)
        call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=error_type, partial_chars=chars)
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        ) from error
        """,
    ),
    Mutant(
        "stream_never_retries", "ex8", "after_stream_failure",
        why="a failure before any text ends the stream too, though nothing would repeat",
        body="""
        error_type = type(error).__name__
        chars = len(partial_text)
        call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=error_type, partial_chars=chars)
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        ) from error
        """,
    ),
    Mutant(
        "stream_refusal_first", "ex8", "after_stream_failure",
        why="a refusal is raised before after_failure is asked, even with no text yet",
        body="""
        if isinstance(error, ContentRefusedError):
            raise error
        if not partial_text:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        chars = len(partial_text)
        call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=error_type, partial_chars=chars)
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        ) from error
        """,
    ),
    Mutant(
        "stream_wraps_the_refusal", "ex8", "after_stream_failure",
        why="a refusal after text is wrapped as an interruption, though it is the model's own end",
        body="""
        if not partial_text:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        chars = len(partial_text)
        call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=error_type, partial_chars=chars)
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        ) from error
        """,
    ),
    Mutant(
        "stream_logs_nothing", "ex8", "after_stream_failure",
        why="the interruption is never logged, so nobody sees why the answer stopped",
        body="""
        if not partial_text:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        ) from error
        """,
    ),
    Mutant(
        "stream_logs_a_warning", "ex8", "after_stream_failure",
        why="the interruption is logged as a WARNING without the length of the text",
        body="""
        if not partial_text:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        call.log(logging.WARNING, "llm.stream_interrupted", attempt, error_type=error_type)
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        ) from error
        """,
    ),
    Mutant(
        "stream_not_chained", "ex8", "after_stream_failure",
        why="the interruption is not chained to its cause, so the traceback hides it",
        body="""
        if not partial_text:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        chars = len(partial_text)
        call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=error_type, partial_chars=chars)
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text=partial_text,
            cause=error,
        )
        """,
    ),
    Mutant(
        "stream_forgets_the_partial_text", "ex8", "after_stream_failure",
        why="the interruption carries no partial text, so what the caller holds is lost",
        body="""
        if not partial_text:
            return after_failure(call, error, attempt)
        error_type = type(error).__name__
        chars = len(partial_text)
        call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=error_type, partial_chars=chars)
        if isinstance(error, ContentRefusedError):
            raise error
        raise StreamInterruptedError(
            f"the stream failed after {len(partial_text)} characters ({error_type}: {error})",
            partial_text="",
            cause=error,
        ) from error
        """,
    ),
)


# Right answers in another form: each must keep its exercise's full marks.
ALTERNATIVES: tuple[Mutant, ...] = (
    Mutant(
        "call_path_with_a_while_loop", "ex1", "LLMClient._call_path",
        why="a while loop that counts the attempts itself: after_failure raises after the last one, so it ends the "
        "same",
        body="""
        if call.key is not None and self.cache is not None:
            cached = self.cache.get(call.key)
            if cached is not None:
                call.log(logging.INFO, "llm.cache_hit", None, latency_s=0.0)
                return LLMResponse(cached, req.model)
        attempt = 0
        while True:
            try:
                response = self.provider.complete(req, timeout_s=call.attempt_timeout())
            except LLMError as error:
                self.sleep(after_failure(call, error, attempt))
                attempt += 1
                continue
            call.log(logging.INFO, "llm.attempt_ok", attempt, latency_s=call.latency())
            keep = self.cache_truncated or not response.truncated
            if keep and call.key is not None and self.cache is not None:
                self.cache.set(call.key, response.text)
            return response
        """,
    ),
    Mutant(
        "key_json_list_of_values", "ex2", "make_cache_key",
        why="a JSON list of the values in field order is unambiguous too",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = json.dumps([canonical[field.name] for field in fields(req)])
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_without_none_fields", "ex2", "make_cache_key",
        why="fields that are None left out of a JSON object: a missing name still differs from any value",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = json.dumps({k: v for k, v in canonical.items() if v is not None}, sort_keys=True)
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "key_repr_of_sorted_items", "ex2", "make_cache_key",
        why="repr() quotes every string, so the serialization is unambiguous",
        body="""
        canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}
        raw = repr(sorted(canonical.items()))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()
        """,
    ),
    Mutant(
        "jitter_from_the_top", "ex3", "add_jitter",
        why="full jitter on (0, delay_s], one draw from the generator",
        body="""
        source = rng if rng is not None else random
        return delay_s * (1.0 - source.random())
        """,
    ),
    Mutant(
        "jitter_uniform_reversed", "ex3", "add_jitter",
        why="uniform(b, a) draws from the same interval as uniform(a, b)",
        body="""
        source = rng if rng is not None else random
        return source.uniform(delay_s, 0.0)
        """,
    ),
    Mutant(
        "backoff_by_doubling", "ex3", "backoff_delay",
        why="doubling in a loop that stops at the cap: exact, and never overflows",
        body="""
        if base == 0.0 or cap == 0.0:
            return 0.0
        delay = base
        for _ in range(attempt):
            if delay >= cap:
                break
            delay *= 2
        return min(cap, delay)
        """,
    ),
    Mutant(
        "http_date_with_timegm", "ex4", "parse_retry_after",
        why="calendar.timegm reads the date's fields as UTC, whatever the local time zone",
        body="""
        lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}

        millis = _parse_seconds(lowered.get("retry-after-ms"))
        if millis is not None:
            return millis / 1000.0

        value = lowered.get("retry-after")
        if value is None:
            return None
        seconds = _parse_seconds(value)
        if seconds is not None:
            return seconds
        import calendar
        from email.utils import parsedate

        parsed = parsedate(value)
        if parsed is None:
            return None
        return max(0.0, calendar.timegm(parsed) - now)
        """,
    ),
    Mutant(
        "retry_delay_in_one_expression", "ex4", "retry_delay",
        why="one conditional expression; backoff is still called only when it is needed",
        body="""
        asked = getattr(error, "retry_after", None)
        return asked if asked is not None and asked <= max_retry_after_s else backoff(attempt)
        """,
    ),
    Mutant(
        "parse_with_model_validate_json", "ex5", "parse_structured",
        why="pydantic parses and validates in one step and reports bad JSON as json_invalid at ()",
        body="""
        candidate = extract_json(text)
        try:
            return schema.model_validate_json(candidate)
        except ValidationError as exc:
            errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]
            raise StructuredOutputError(
                f"the answer does not match {schema.__name__}: {exc.error_count()} validation error(s)",
                raw_text=text,
                validation_errors=errors,
            ) from exc
        """,
    ),
    Mutant(
        "ask_again_rebuilds_the_request", "ex5", "ask_again",
        why="a new request from every field of the old one, the prompt replaced",
        body="""
        if answers > max_repairs:
            raise StructuredOutputError(
                f"no valid answer after {answers} answer(s): {error.message}",
                raw_text=error.raw_text,
                validation_errors=error.validation_errors,
            ) from error
        fixed = repair_prompt(req.prompt, error.raw_text, error.validation_errors)
        return type(req)(**{**dataclasses.asdict(req), "prompt": fixed})
        """,
    ),
    Mutant(
        "complete_catches_request_error", "ex6", "HTTPProvider.complete",
        why="every exception httpx raises while sending is an httpx.RequestError",
        body="""
        headers = self.headers()
        try:
            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)
        except httpx.RequestError as exc:
            raise error_for_transport(exc, provider=self.name) from exc
        if not response.is_success:
            raise error_for_response(response, provider=self.name)
        return self.parse(response)
        """,
    ),
    Mutant(
        "bucket_checks_before_taking", "ex7", "TokenBucket.take",
        why="checking before taking gives the same waits",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
        if self.tokens >= amount:
            self.tokens -= amount
            return 0.0
        self.tokens -= amount
        return -self.tokens / self.rate
        """,
    ),
    Mutant(
        "bucket_updated_with_max", "ex7", "TokenBucket.take",
        why="updated = max(updated, now) never moves updated back either",
        body="""
        if now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = max(self.updated, now)
        self.tokens -= amount
        if self.tokens >= 0.0:
            return 0.0
        return -self.tokens / self.rate
        """,
    ),
    # -- ex8 ----------------------------------------------------------------------------------------------
    Mutant(
        "sse_split_and_no_comment_branch", "ex8", "parse_sse_block",
        why="a comment is a field named '', which is ignored anyway; str.split with a limit splits once",
        body="""
        event, data = "message", []
        for line in lines:
            name, value = (line.split(":", 1) + [""])[:2]
            value = value[1:] if value[:1] == " " else value
            if name == "event":
                event = value if value else "message"
            elif name == "data":
                data.append(value)
        return SSEEvent(event, "\\n".join(data)) if any(data) or len(data) > 1 else None
        """,
    ),
    Mutant(
        "stream_failure_checks_text_last", "ex8", "after_stream_failure",
        why="the branches in the other order, with a shorter message",
        body="""
        if partial_text:
            kind = type(error).__name__
            call.log(logging.ERROR, "llm.stream_interrupted", attempt, error_type=kind, partial_chars=len(partial_text))
            if not isinstance(error, ContentRefusedError):
                interrupted = StreamInterruptedError(f"cut: {kind}", partial_text=partial_text, cause=error)
                raise interrupted from error
            raise error
        return after_failure(call, error, attempt)
        """,
    ),
)

"""Common wrong answers ("mutants"), as text substitutions applied to a copy of the reference package.

Each mutant is a mistake a learner is likely to make in one exercise. The
kit's validity tests apply each one to a fresh copy of solutions/llm_client/,
grade the copy, and require it to lose points in its own exercise and in no
other. ``ALTERNATIVES`` are the opposite: right answers written another way,
which must keep full marks. A substitution that does not find its target text exactly ``count``
times raises MutantError, so a change to the reference cannot silently turn
a mutant into a copy of the right answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class MutantError(ValueError):
    """A mutant's target text is not in the file (or not as often as expected)."""


@dataclass(frozen=True)
class Mutant:
    """Replace ``old`` by ``new`` (exactly ``count`` occurrences) in ``file`` of the package."""

    name: str
    exercise: str
    file: str
    old: str
    new: str
    why: str
    count: int = 1


def apply_mutant(mutant: Mutant, package_dir: Path) -> None:
    """Apply ``mutant`` to the llm_client package in ``package_dir``; raise MutantError if it does not fit."""
    path = package_dir / mutant.file
    text = path.read_text(encoding="utf-8")
    found = text.count(mutant.old)
    if found != mutant.count:
        raise MutantError(
            f"mutant {mutant.name}: expected {mutant.count} occurrence(s) of its target in {mutant.file}, "
            f"found {found}; update tools/mutants.py to the reference:\n{mutant.old}"
        )
    path.write_text(text.replace(mutant.old, mutant.new), encoding="utf-8")


MUTANTS: tuple[Mutant, ...] = (
    # -- ex1: the cache key -------------------------------------------------------------------
    Mutant(
        "key_misses_system_prompt",
        "ex1",
        "request.py",
        "for field in fields(req)}",
        'for field in fields(req) if field.name != "system_prompt"}',
        "two requests with different system prompts share a cache entry",
    ),
    Mutant(
        "key_misses_sampling_settings",
        "ex1",
        "request.py",
        "for field in fields(req)}",
        'for field in fields(req) if field.name not in ("top_p", "stop", "max_tokens")}',
        "only model, prompt and temperature keyed, as in a first draft",
    ),
    Mutant(
        "key_uses_builtin_hash",
        "ex1",
        "request.py",
        'return hashlib.sha256(raw.encode("utf-8")).hexdigest()',
        'return format(hash(raw) % 2**64, "016x") * 4',
        "hash() of a str changes with PYTHONHASHSEED, so keys differ between processes",
    ),
    Mutant(
        "key_without_canonical_numbers",
        "ex1",
        "request.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}",
        "canonical = {field.name: getattr(req, field.name) for field in fields(req)}",
        "temperature=0 and 0.0 serialize differently and get two keys",
    ),
    Mutant(
        "key_glues_strings",
        "ex1",
        "request.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        'raw = "".join(str(canonical[name]) for name in sorted(canonical))',
        "values concatenated without names or separators collide",
    ),
    # -- ex2: backoff and jitter ---------------------------------------------------------------
    Mutant(
        "backoff_without_cap",
        "ex2",
        "backoff.py",
        "    if attempt >= math.log2(cap) - math.log2(base):\n"
        "        return cap\n"
        "    return min(cap, math.ldexp(base, attempt))",
        "    return math.ldexp(base, min(attempt, 1000))",
        "the delay keeps doubling past the cap",
    ),
    Mutant(
        "backoff_off_by_one",
        "ex2",
        "backoff.py",
        "    return min(cap, math.ldexp(base, attempt))",
        "    return min(cap, math.ldexp(base, attempt + 1))",
        "attempt 0 already waits 2 * base",
    ),
    Mutant(
        "backoff_overflows",
        "ex2",
        "backoff.py",
        "    if attempt >= math.log2(cap) - math.log2(base):\n        return cap\n",
        "    if base * 2**attempt >= cap:\n        return cap\n",
        "base * 2**attempt raises OverflowError for a huge attempt",
    ),
    Mutant(
        "backoff_cap_over_base_overflows",
        "ex2",
        "backoff.py",
        "if attempt >= math.log2(cap) - math.log2(base):",
        "if attempt >= math.log2(cap / base):",
        "cap / base overflows to inf for a tiny base and a huge cap, and ldexp then raises OverflowError",
    ),
    Mutant(
        "jitter_never_below_half",
        "ex2",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return source.uniform(delay_s / 2, delay_s)",
        "'equal jitter': waits never go below half the delay",
    ),
    Mutant(
        "jitter_ignores_rng",
        "ex2",
        "backoff.py",
        "source = rng if rng is not None else random",
        "source = random",
        "a seeded rng passed in is not used, so waits cannot be reproduced",
    ),
    # -- ex3: rate limits ----------------------------------------------------------------------
    Mutant(
        "retry_after_ignored",
        "ex3",
        "retry.py",
        "    if error.retry_after is not None and error.retry_after <= max_retry_after_s:\n"
        "        return error.retry_after\n",
        "",
        "the wait the provider asked for is ignored; always backoff",
    ),
    Mutant(
        "retry_after_without_cap",
        "ex3",
        "retry.py",
        "if error.retry_after is not None and error.retry_after <= max_retry_after_s:",
        "if error.retry_after is not None:",
        "a Retry-After of an hour is obeyed",
    ),
    Mutant(
        "retry_after_zero_is_falsy",
        "ex3",
        "retry.py",
        "if error.retry_after is not None and error.retry_after <= max_retry_after_s:",
        "if error.retry_after and error.retry_after <= max_retry_after_s:",
        "Retry-After: 0 is treated as missing",
    ),
    Mutant(
        "http_date_not_understood",
        "ex3",
        "retry_after.py",
        "        when = parsedate_to_datetime(value)\n",
        "        raise ValueError(value)\n",
        "only numeric Retry-After values are read",
    ),
    Mutant(
        "retry_after_ms_read_as_seconds",
        "ex3",
        "retry_after.py",
        "return millis / 1000.0",
        "return millis",
        "retry-after-ms: 1500 becomes a 25-minute wait",
    ),
    Mutant(
        "header_names_case_sensitive",
        "ex3",
        "retry_after.py",
        "lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}",
        "lowered = {str(name): str(value).strip() for name, value in headers.items()}",
        "'Retry-After' is missed in a plain dict",
    ),
    Mutant(
        "past_date_negative",
        "ex3",
        "retry_after.py",
        "return max(0.0, when.timestamp() - now)",
        "return when.timestamp() - now",
        "a date in the past gives a negative wait",
    ),
    # -- ex4: structured output ----------------------------------------------------------------
    Mutant(
        "fence_not_stripped",
        "ex4",
        "structured.py",
        "candidate = extract_json(text)",
        "candidate = text",
        "JSON inside a ```json fence is rejected",
    ),
    Mutant(
        "validation_error_leaks",
        "ex4",
        "structured.py",
        "    try:\n        return schema.model_validate(data)\n    except ValidationError as exc:",
        "    try:\n        return schema.model_validate(data)\n    except KeyError as exc:",
        "pydantic's ValidationError escapes instead of StructuredOutputError",
    ),
    Mutant(
        "rejected_answer_not_shown",
        "ex4",
        "structured.py",
        "prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        'prompt=repair_prompt(req.prompt, "", error.validation_errors))',
        "the repair does not show the model the answer it rejected",
    ),
    Mutant(
        "errors_not_fed_back",
        "ex4",
        "structured.py",
        "return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        "return req",
        "the repair asks the same question again without saying what was wrong",
    ),
    Mutant(
        "one_repair_too_many",
        "ex4",
        "structured.py",
        "if answers > max_repairs:",
        "if answers > max_repairs + 1:",
        "max_repairs + 1 repairs are made",
    ),
    Mutant(
        "give_up_without_the_last_answer",
        "ex4",
        "structured.py",
        "raw_text=error.raw_text,\n            validation_errors=error.validation_errors,\n        ) from error",
        'raw_text="",\n            validation_errors=[],\n        ) from error',
        "the final error no longer says which answer was rejected, or why",
    ),
    # -- ex5: the provider call ----------------------------------------------------------------
    Mutant(
        "no_timeout_passed",
        "ex5",
        "providers/openai_chat.py",
        "response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)",
        "response = self._http.post(self.url, json=self.payload(req), headers=headers)",
        "the per-attempt timeout never reaches httpx",
    ),
    Mutant(
        "cause_not_chained",
        "ex5",
        "providers/openai_chat.py",
        "raise error_for_transport(exc, provider=self.name) from exc",
        "raise error_for_transport(exc, provider=self.name) from None",
        "the httpx exception is dropped from the chain",
    ),
    Mutant(
        "client_errors_retried",
        "ex5",
        "providers/http.py",
        "    if 400 <= status < 500:\n        return InvalidRequestError(described, **kwargs)",
        "    if 400 <= status < 500:\n        return ServerError(described, **kwargs)",
        "a 400 is mapped to a retryable error and retried",
    ),
    Mutant(
        "auth_is_plain_invalid_request",
        "ex5",
        "providers/http.py",
        "if status in (401, 403):",
        "if status in ():",
        "401/403 become InvalidRequestError, not AuthenticationError",
    ),
    Mutant(
        "rate_limit_without_retry_after",
        "ex5",
        "providers/http.py",
        "retry_after=parse_retry_after(response.headers)",
        "retry_after=None",
        "the 429's Retry-After header is not read",
    ),
    Mutant(
        "request_timeout_408_not_retried",
        "ex5",
        "providers/http.py",
        "    if status == 408:\n        return LLMTimeoutError(described, **kwargs)\n",
        "",
        "408 falls into 'other 4xx' and becomes InvalidRequestError, which is never retried",
    ),
    Mutant(
        "conflict_409_not_retried",
        "ex5",
        "providers/http.py",
        "if status == 409 or status >= 500:",
        "if status >= 500:",
        "409 becomes InvalidRequestError, which is never retried",
    ),
    Mutant(
        "unexpected_status_is_invalid_request",
        "ex5",
        "providers/http.py",
        "    if 400 <= status < 500:\n        return InvalidRequestError(described, **kwargs)\n"
        "    return MalformedResponseError(described, **kwargs)\n",
        "    return InvalidRequestError(described, **kwargs)\n",
        "a 302 or 304 becomes InvalidRequestError instead of MalformedResponseError",
    ),
    Mutant(
        "overloaded_529_not_server_error",
        "ex5",
        "providers/http.py",
        "if status == 409 or status >= 500:",
        "if status == 409 or 500 <= status <= 504:",
        "529 (overloaded) is not recognised as a server error",
    ),
    Mutant(
        "timeout_is_connection_error",
        "ex5",
        "providers/http.py",
        "    if isinstance(exc, httpx.TimeoutException):\n"
        '        return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")\n',
        "",
        "a timeout is reported as a connection error",
    ),
    Mutant(
        "unsupported_protocol_retried",
        "ex5",
        "providers/http.py",
        "    if isinstance(exc, httpx.UnsupportedProtocol):\n"
        '        return ConfigurationError(f"{provider}: unsupported URL ({exc})")\n',
        "",
        "a bad base_url (httpx.UnsupportedProtocol) becomes a retryable LLMConnectionError",
    ),
    Mutant(
        "provider_message_dropped",
        "ex5",
        "providers/http.py",
        'kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}',
        'kwargs: dict[str, Any] = {"status_code": status}',
        "the provider's explanation from the error body is lost",
    ),
    # -- ex6 (optional): the token bucket -------------------------------------------------------
    Mutant(
        "bucket_refills_past_capacity",
        "ex6",
        "limiter.py",
        "self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)",
        "self.tokens = self.tokens + (now - self.updated) * self.rate",
        "a long quiet spell lets an unbounded burst through",
    ),
    Mutant(
        "bucket_never_lends",
        "ex6",
        "limiter.py",
        "        self.tokens -= amount\n",
        "        self.tokens = max(0.0, self.tokens - amount)\n",
        "callers that arrive together are all told to wait the same, so they go together",
    ),
    Mutant(
        "bucket_wait_ignores_rate",
        "ex6",
        "limiter.py",
        "return -self.tokens / self.rate",
        "return -self.tokens",
        "the wait is the token deficit, not the time the refill needs",
    ),
    Mutant(
        "bucket_ignores_amount",
        "ex6",
        "limiter.py",
        "        self.tokens -= amount\n",
        "        self.tokens -= 1.0\n",
        "a 400-token request costs one token",
    ),
    Mutant(
        "bucket_updated_goes_back",
        "ex6",
        "limiter.py",
        "            self.updated = now\n        self.tokens -= amount\n",
        "        self.updated = now\n        self.tokens -= amount\n",
        "an earlier clock reading moves updated back, so the next refill counts the same seconds twice",
    ),
    Mutant(
        "bucket_refills_backwards",
        "ex6",
        "limiter.py",
        "if now > self.updated:",
        "if now != self.updated:",
        "a clock reading earlier than the last one removes tokens",
    ),
    # -- ex7: the retry loop -------------------------------------------------------------------
    Mutant(
        "every_error_retried",
        "ex7",
        "retry_loop.py",
        "    if not error.retryable:\n",
        "    if not isinstance(error, LLMError):\n",
        "a 400 or a bad key is retried like a 503, and the caller waits for an error that cannot heal",
    ),
    Mutant(
        "one_attempt_too_few",
        "ex7",
        "retry_loop.py",
        "if attempt >= state.policy.max_retries:",
        "if attempt + 1 >= state.policy.max_retries:",
        "max_retries counts the attempts, not the retries after the first",
    ),
    Mutant(
        "last_error_not_chained",
        "ex7",
        "retry_loop.py",
        "        ) from error\n",
        "        ) from None\n",
        "giving up drops the last attempt's error from the chain",
        count=2,
    ),
    Mutant(
        "attempts_miscounted",
        "ex7",
        "retry_loop.py",
        "attempts_made = attempt + 1",
        "attempts_made = attempt",
        "the error says one attempt fewer than were made (attempts are counted from 0)",
    ),
    Mutant(
        "retry_after_ignored_by_the_loop",
        "ex7",
        "retry_loop.py",
        "sleep_s = state.rate_limit_wait(error, attempt)",
        "sleep_s = state.backoff(attempt)",
        "a 429's Retry-After is never honoured: every wait is the backoff",
    ),
    Mutant(
        "deadline_ignores_the_wait",
        "ex7",
        "retry_loop.py",
        "if deadline is not None and state.elapsed() + sleep_s > deadline:",
        "if deadline is not None and state.elapsed() > deadline:",
        "a wait that ends past the deadline is started anyway",
    ),
    Mutant(
        "deadline_refuses_an_exact_fit",
        "ex7",
        "retry_loop.py",
        "if deadline is not None and state.elapsed() + sleep_s > deadline:",
        "if deadline is not None and state.elapsed() + sleep_s >= deadline:",
        "a wait that ends exactly at the deadline is refused",
    ),
    Mutant(
        "deadline_reported_as_exhausted",
        "ex7",
        "retry_loop.py",
        "        raise DeadlineExceededError(\n",
        "        raise RetriesExhaustedError(\n",
        "running out of time is reported as running out of attempts",
    ),
    Mutant(
        "failed_attempt_logged_at_debug",
        "ex7",
        "retry_loop.py",
        'state.log(logging.WARNING, "llm.attempt_failed"',
        'state.log(logging.DEBUG, "llm.attempt_failed"',
        "a failed attempt is logged at DEBUG, which an ordinary log setup never shows",
    ),
    Mutant(
        "retry_not_logged",
        "ex7",
        "retry_loop.py",
        "    state.log(logging.INFO, \"llm.retry_scheduled\", attempt, error_type=error_type, sleep_s=sleep_s)\n",
        "",
        "the log never says a retry is coming, or after how long",
    ),
    Mutant(
        "not_retryable_gave_up_silently",
        "ex7",
        "retry_loop.py",
        'state.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")\n'
        "        raise error\n",
        "raise error\n",
        "a call that ends on a non-retryable error logs no reason",
    ),
)


# Right answers in another form: each must keep its exercise's full marks.
ALTERNATIVES: tuple[Mutant, ...] = (
    Mutant(
        "jitter_from_the_top",
        "ex2",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return delay_s * (1.0 - source.random())",
        "full jitter on (0, delay_s], one draw from the generator",
    ),
    Mutant(
        "jitter_uniform_reversed",
        "ex2",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return source.uniform(delay_s, 0.0)",
        "uniform(b, a) draws from the same interval as uniform(a, b)",
    ),
    Mutant(
        "bucket_updated_with_max",
        "ex6",
        "limiter.py",
        "            self.updated = now\n        self.tokens -= amount\n",
        "        self.updated = max(self.updated, now)\n        self.tokens -= amount\n",
        "updated = max(updated, now) never moves updated back either",
    ),
)

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


# The reference's reading of an HTTP-date in parse_retry_after, which two entries below replace.
_HTTP_DATE_PARSED = (
    "    try:\n"
    "        when = parsedate_to_datetime(value)\n"
    "    except (TypeError, ValueError, IndexError, OverflowError):\n"
    "        return None\n"
    "    if when.tzinfo is None:\n"
    '        if "," in value:  # IMF-fixdate and RFC 850 must name GMT\n'
    "            return None\n"
    "        when = when.replace(tzinfo=UTC)  # asctime's form names no zone: it is GMT\n"
)


MUTANTS: tuple[Mutant, ...] = (
    # -- ex2: the cache key -------------------------------------------------------------------
    Mutant(
        "key_misses_system_prompt",
        "ex2",
        "cache_key.py",
        "for field in fields(req)}",
        'for field in fields(req) if field.name != "system_prompt"}',
        "two requests with different system prompts share a cache entry",
    ),
    Mutant(
        "key_misses_sampling_settings",
        "ex2",
        "cache_key.py",
        "for field in fields(req)}",
        'for field in fields(req) if field.name not in ("top_p", "stop", "max_tokens")}',
        "only model, prompt and temperature keyed, as in a first draft",
    ),
    Mutant(
        "key_uses_builtin_hash",
        "ex2",
        "cache_key.py",
        'return hashlib.sha256(raw.encode("utf-8")).hexdigest()',
        'return format(hash(raw) % 2**64, "016x") * 4',
        "hash() of a str changes with PYTHONHASHSEED, so keys differ between processes",
    ),
    Mutant(
        "key_without_canonical_numbers",
        "ex2",
        "cache_key.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}",
        "canonical = {field.name: getattr(req, field.name) for field in fields(req)}",
        "temperature=0 and 0.0 serialize differently and get two keys",
    ),
    Mutant(
        "key_glues_strings",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        'raw = "".join(str(canonical[name]) for name in sorted(canonical))',
        "values concatenated without names or separators collide",
    ),
    Mutant(
        "key_joins_values_with_a_separator",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        'raw = "|".join(str(canonical[field.name]) for field in fields(req))',
        "a separator inside a value makes two requests one key: prompt 'a|b' + system 'c' is prompt 'a' + system 'b|c'",
    ),
    Mutant(
        "key_joins_names_and_values",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        'raw = ";".join(f"{name}={value}" for name, value in sorted(canonical.items()))',
        "names do not help when a value can hold ';prompt=': one value can forge the next field",
    ),
    Mutant(
        "key_stringifies_values",
        "ex2",
        "cache_key.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}",
        "canonical = {field.name: str(_canonical(getattr(req, field.name))) for field in fields(req)}",
        "every value made a string: system_prompt=None and system_prompt='None' share a key",
    ),
    Mutant(
        "key_joins_stop_sequences",
        "ex2",
        "cache_key.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n"
        '    canonical["stop"] = ",".join(req.stop)\n',
        "stop=('a,b',) and stop=('a', 'b') are joined into the same string",
    ),
    Mutant(
        "key_rounds_numbers",
        "ex2",
        "cache_key.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n"
        "    canonical = {k: round(v, 1) if isinstance(v, float) else v for k, v in canonical.items()}\n",
        "numbers rounded to one decimal: temperature 0.7 and 0.74 share a key",
    ),
    Mutant(
        "key_normalizes_text",
        "ex2",
        "cache_key.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n"
        "    canonical = {k: v.strip().lower() if isinstance(v, str) else v for k, v in canonical.items()}\n",
        "prompts that differ in case or surrounding whitespace are different input, but share a key",
    ),
    Mutant(
        "key_drops_non_ascii",
        "ex2",
        "cache_key.py",
        'return hashlib.sha256(raw.encode("utf-8")).hexdigest()',
        'return hashlib.sha256(raw.encode("ascii", "ignore")).hexdigest()',
        "'café' and 'caf' share a key: the text is encoded to ASCII, dropping what does not fit",
    ),
    Mutant(
        "key_truncates_long_values",
        "ex2",
        "cache_key.py",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n",
        "canonical = {field.name: _canonical(getattr(req, field.name)) for field in fields(req)}\n"
        "    canonical = {k: v[:200] if isinstance(v, str) else v for k, v in canonical.items()}\n",
        "long prompts that differ only after their first 200 characters share a key",
    ),
    Mutant(
        "key_from_repr",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        "raw = repr(req)",
        "the dataclass repr writes temperature=0 and temperature=0.0 differently",
    ),
    # -- ex3: backoff and jitter ---------------------------------------------------------------
    Mutant(
        "backoff_without_cap",
        "ex3",
        "backoff.py",
        "    if attempt >= math.log2(cap) - math.log2(base):\n"
        "        return cap\n"
        "    return min(cap, math.ldexp(base, attempt))",
        "    return math.ldexp(base, min(attempt, 1000))",
        "the delay keeps doubling past the cap",
    ),
    Mutant(
        "backoff_off_by_one",
        "ex3",
        "backoff.py",
        "    return min(cap, math.ldexp(base, attempt))",
        "    return min(cap, math.ldexp(base, attempt + 1))",
        "attempt 0 already waits 2 * base",
    ),
    Mutant(
        "backoff_overflows",
        "ex3",
        "backoff.py",
        "    if attempt >= math.log2(cap) - math.log2(base):\n        return cap\n",
        "    if base * 2**attempt >= cap:\n        return cap\n",
        "base * 2**attempt raises OverflowError for a huge attempt",
    ),
    Mutant(
        "backoff_cap_over_base_overflows",
        "ex3",
        "backoff.py",
        "if attempt >= math.log2(cap) - math.log2(base):",
        "if attempt >= math.log2(cap / base):",
        "cap / base overflows to inf for a tiny base and a huge cap, and ldexp then raises OverflowError",
    ),
    Mutant(
        "jitter_never_below_half",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return source.uniform(delay_s / 2, delay_s)",
        "'equal jitter': waits never go below half the delay",
    ),
    Mutant(
        "jitter_ignores_rng",
        "ex3",
        "backoff.py",
        "source = rng if rng is not None else random",
        "source = random",
        "a seeded rng passed in is not used, so waits cannot be reproduced",
    ),
    Mutant(
        "backoff_zero_base_crashes",
        "ex3",
        "backoff.py",
        "    if base == 0.0 or cap == 0.0:\n        return 0.0\n",
        "",
        "base=0 or cap=0 reaches math.log2(0), which raises ValueError instead of returning 0.0",
    ),
    Mutant(
        "backoff_zero_cap_crashes",
        "ex3",
        "backoff.py",
        "if base == 0.0 or cap == 0.0:",
        "if base == 0.0:",
        "cap=0 reaches math.log2(0), which raises ValueError instead of returning 0.0",
    ),
    Mutant(
        "backoff_overflow_means_cap",
        "ex3",
        "backoff.py",
        "    if attempt >= math.log2(cap) - math.log2(base):\n"
        "        return cap\n"
        "    return min(cap, math.ldexp(base, attempt))",
        "    try:\n"
        "        return min(cap, base * 2**attempt)\n"
        "    except OverflowError:\n"
        "        return cap",
        "an OverflowError is taken to mean 'past the cap', but 1e-300 * 2**1030 is only about 1e10",
    ),
    Mutant(
        "backoff_int_power_after_log_test",
        "ex3",
        "backoff.py",
        "return min(cap, math.ldexp(base, attempt))",
        "return min(cap, base * 2**attempt)",
        "below the cap, base * 2**attempt still overflows for a tiny base: 2**1100 is no float",
    ),
    Mutant(
        "backoff_float_power_after_log_test",
        "ex3",
        "backoff.py",
        "return min(cap, math.ldexp(base, attempt))",
        "return min(cap, base * 2.0**attempt)",
        "2.0**1024 overflows although base * 2**1024 is far below the cap for a tiny base",
    ),
    Mutant(
        "backoff_exponent_clamped",
        "ex3",
        "backoff.py",
        "return min(cap, math.ldexp(base, attempt))",
        "return min(cap, math.ldexp(base, min(attempt, 64)))",
        "the exponent is clamped at 64 to avoid overflow, so a tiny base stops growing too early",
    ),
    Mutant(
        "backoff_threshold_truncated",
        "ex3",
        "backoff.py",
        "if attempt >= math.log2(cap) - math.log2(base):",
        "if attempt >= int(math.log2(cap) - math.log2(base)):",
        "int() of the logarithm returns the cap one attempt early when cap / base is not a power of 2",
    ),
    Mutant(
        "jitter_added_to_the_delay",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return delay_s + source.uniform(0.0, delay_s)",
        "jitter added on top of the delay: waits up to twice the backoff",
    ),
    Mutant(
        "jitter_in_whole_seconds",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return float(source.randint(0, int(delay_s)))",
        "whole seconds only: a delay under one second is never jittered (always 0)",
    ),
    Mutant(
        "jitter_not_scaled",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return source.random()",
        "a draw from [0, 1) whatever the delay",
    ),
    Mutant(
        "jitter_short_of_the_delay",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return source.uniform(0.0, 0.95 * delay_s)",
        "a margin kept below the delay: the top of the interval is never drawn",
    ),
    Mutant(
        "jitter_fixed_seed_without_rng",
        "ex3",
        "backoff.py",
        "source = rng if rng is not None else random",
        "source = rng if rng is not None else random.Random(0)",
        "without rng, a fresh Random(0) gives every caller the same wait: no spreading at all",
    ),
    # -- ex4: rate limits ----------------------------------------------------------------------
    Mutant(
        "retry_after_ignored",
        "ex4",
        "retry.py",
        "    if error.retry_after is not None and error.retry_after <= max_retry_after_s:\n"
        "        return error.retry_after\n",
        "",
        "the wait the provider asked for is ignored; always backoff",
    ),
    Mutant(
        "retry_after_without_cap",
        "ex4",
        "retry.py",
        "if error.retry_after is not None and error.retry_after <= max_retry_after_s:",
        "if error.retry_after is not None:",
        "a Retry-After of an hour is obeyed",
    ),
    Mutant(
        "retry_after_zero_is_falsy",
        "ex4",
        "retry.py",
        "if error.retry_after is not None and error.retry_after <= max_retry_after_s:",
        "if error.retry_after and error.retry_after <= max_retry_after_s:",
        "Retry-After: 0 is treated as missing",
    ),
    Mutant(
        "http_date_not_understood",
        "ex4",
        "retry_after.py",
        "        when = parsedate_to_datetime(value)\n",
        "        raise ValueError(value)\n",
        "only numeric Retry-After values are read",
    ),
    Mutant(
        "retry_after_ms_read_as_seconds",
        "ex4",
        "retry_after.py",
        "return millis / 1000.0",
        "return millis",
        "retry-after-ms: 1500 becomes a 25-minute wait",
    ),
    Mutant(
        "header_names_case_sensitive",
        "ex4",
        "retry_after.py",
        "lowered = {str(name).lower(): str(value).strip() for name, value in headers.items()}",
        "lowered = {str(name): str(value).strip() for name, value in headers.items()}",
        "'Retry-After' is missed in a plain dict",
    ),
    Mutant(
        "past_date_negative",
        "ex4",
        "retry_after.py",
        "return max(0.0, when.timestamp() - now)",
        "return when.timestamp() - now",
        "a date in the past gives a negative wait",
    ),
    Mutant(
        "retry_delay_sleeps_itself",
        "ex4",
        "retry.py",
        "        return error.retry_after\n",
        "        import time\n\n        time.sleep(error.retry_after)\n        return error.retry_after\n",
        "the function waits by itself, then the client waits again: every 429 costs twice",
    ),
    Mutant(
        "unusable_retry_after_ms_gives_none",
        "ex4",
        "retry_after.py",
        '    millis = _parse_seconds(lowered.get("retry-after-ms"))\n'
        "    if millis is not None:\n"
        "        return millis / 1000.0\n",
        '    if "retry-after-ms" in lowered:\n'
        '        millis = _parse_seconds(lowered["retry-after-ms"])\n'
        "        return None if millis is None else millis / 1000.0\n",
        "a garbage retry-after-ms hides a usable Retry-After",
    ),
    Mutant(
        "http_date_through_local_time",
        "ex4",
        "retry_after.py",
        "return max(0.0, when.timestamp() - now)",
        "return max(0.0, time.mktime(when.timetuple()) - now)",
        "time.mktime reads the GMT wall time as local time: right only where local time is UTC",
    ),
    Mutant(
        "http_date_naive_strptime",
        "ex4",
        "retry_after.py",
        _HTTP_DATE_PARSED,
        "    from datetime import datetime\n\n"
        "    try:\n"
        '        when = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT")\n'
        "    except ValueError:\n"
        "        return None\n",
        "strptime gives a naive datetime, and .timestamp() takes it as local time",
    ),
    Mutant(
        "http_date_naive_result_taken_as_local",
        "ex4",
        "retry_after.py",
        _HTTP_DATE_PARSED,
        "    try:\n"
        "        when = parsedate_to_datetime(value)\n"
        "    except (TypeError, ValueError, IndexError, OverflowError):\n"
        "        return None\n",
        "parsedate_to_datetime gives a naive datetime for asctime dates, and .timestamp() takes it as local time",
    ),
    Mutant(
        "retry_after_clamped_to_the_cap",
        "ex4",
        "retry.py",
        "    if error.retry_after is not None and error.retry_after <= max_retry_after_s:\n"
        "        return error.retry_after\n",
        "    if error.retry_after is not None:\n"
        "        return min(error.retry_after, max_retry_after_s)\n",
        "a Retry-After of an hour becomes a wait of max_retry_after_s instead of the backoff",
    ),
    Mutant(
        "backoff_drawn_before_it_is_needed",
        "ex4",
        "retry.py",
        "    if error.retry_after is not None and error.retry_after <= max_retry_after_s:\n"
        "        return error.retry_after\n"
        "    return backoff(attempt)\n",
        "    fallback = backoff(attempt)\n"
        "    if error.retry_after is not None and error.retry_after <= max_retry_after_s:\n"
        "        return error.retry_after\n"
        "    return fallback\n",
        "backoff is called even when Retry-After is used, drawing a random number for nothing",
    ),
    Mutant(
        "retry_after_cap_exclusive",
        "ex4",
        "retry.py",
        "error.retry_after <= max_retry_after_s:",
        "error.retry_after < max_retry_after_s:",
        "a Retry-After equal to max_retry_after_s is not honoured",
    ),
    Mutant(
        "retry_after_nan_accepted",
        "ex4",
        "retry_after.py",
        "    seconds = _parse_seconds(value)\n",
        "    try:\n        seconds = float(value)\n    except ValueError:\n        seconds = None\n",
        "float() reads 'nan', 'inf' and '-5': waits that are no waits",
    ),
    Mutant(
        "retry_after_whole_seconds_only",
        "ex4",
        "retry_after.py",
        "    seconds = _parse_seconds(value)\n",
        "    seconds = float(value) if value.isdigit() else None\n",
        "Retry-After: 0.5 is not understood",
    ),
    Mutant(
        "http_date_ignores_now",
        "ex4",
        "retry_after.py",
        "return max(0.0, when.timestamp() - now)",
        "return max(0.0, when.timestamp() - time.time())",
        "the date is measured from the clock, not from the now given",
    ),
    # -- ex5: structured output ----------------------------------------------------------------
    Mutant(
        "fence_not_stripped",
        "ex5",
        "structured.py",
        "candidate = extract_json(text)",
        "candidate = text",
        "JSON inside a ```json fence is rejected",
    ),
    Mutant(
        "validation_error_leaks",
        "ex5",
        "structured.py",
        "    try:\n        return schema.model_validate(data)\n    except ValidationError as exc:",
        "    try:\n        return schema.model_validate(data)\n    except KeyError as exc:",
        "pydantic's ValidationError escapes instead of StructuredOutputError",
    ),
    Mutant(
        "rejected_answer_not_shown",
        "ex5",
        "structured.py",
        "prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        'prompt=repair_prompt(req.prompt, "", error.validation_errors))',
        "the repair does not show the model the answer it rejected",
    ),
    Mutant(
        "errors_not_fed_back",
        "ex5",
        "structured.py",
        "return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        "return req",
        "the repair asks the same question again without saying what was wrong",
    ),
    Mutant(
        "one_repair_too_many",
        "ex5",
        "structured.py",
        "if answers > max_repairs:",
        "if answers > max_repairs + 1:",
        "max_repairs + 1 repairs are made",
    ),
    Mutant(
        "give_up_without_the_last_answer",
        "ex5",
        "structured.py",
        "raw_text=error.raw_text,\n            validation_errors=error.validation_errors,\n        ) from error",
        'raw_text="",\n            validation_errors=[],\n        ) from error',
        "the final error no longer says which answer was rejected, or why",
    ),
    Mutant(
        "repair_drops_the_request_settings",
        "ex5",
        "structured.py",
        "return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        "return type(req)(model=req.model, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        "the repair is a new request with only model and prompt: the system prompt and settings are lost",
    ),
    Mutant(
        "repair_forgets_the_task",
        "ex5",
        "structured.py",
        "prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        'prompt=repair_prompt("Fix your previous answer.", error.raw_text, error.validation_errors))',
        "the repair shows the rejected answer and its errors, but not the original task",
    ),
    Mutant(
        "final_error_not_chained",
        "ex5",
        "structured.py",
        "            validation_errors=error.validation_errors,\n        ) from error",
        "            validation_errors=error.validation_errors,\n        ) from None",
        "the error that ends the call drops the last parse error from its chain",
    ),
    Mutant(
        "fence_stripped_by_hand",
        "ex5",
        "structured.py",
        "candidate = extract_json(text)",
        'candidate = text.strip().removeprefix("```json").removesuffix("```")',
        "only a fence that opens the text with ```json is removed; prose around a fence is not",
    ),
    Mutant(
        "validation_errors_without_their_location",
        "ex5",
        "structured.py",
        'errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]',
        'errors = [{"type": e["type"], "msg": e["msg"]} for e in exc.errors()]',
        "the errors no longer say which field was wrong",
    ),
    Mutant(
        "validation_error_not_chained",
        "ex5",
        "structured.py",
        "            validation_errors=errors,\n        ) from exc",
        "            validation_errors=errors,\n        ) from None",
        "pydantic's ValidationError is dropped from the chain",
    ),
    Mutant(
        "json_error_in_another_shape",
        "ex5",
        "structured.py",
        'validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],',
        'validation_errors=[{"type": "value_error", "loc": ("text",), "msg": str(exc)}],',
        "text that is not JSON is reported with another type and location than pydantic's json_invalid at ()",
    ),
    Mutant(
        "raw_text_is_the_extracted_json",
        "ex5",
        "structured.py",
        "raw_text=text,",
        "raw_text=candidate,",
        "raw_text loses the fence and prose around the JSON",
        count=2,
    ),
    Mutant(
        "schema_called_with_keywords",
        "ex5",
        "structured.py",
        "        return schema.model_validate(data)\n",
        "        return schema(**data)\n",
        "schema(**data) raises TypeError, not StructuredOutputError, for JSON that is not an object",
    ),
    Mutant(
        "give_up_reraises_the_last_error",
        "ex5",
        "structured.py",
        "    if answers > max_repairs:\n        raise StructuredOutputError(",
        "    if answers > max_repairs:\n        raise error\n        raise StructuredOutputError(",
        "the last parse error is raised as it is, not a new error chained to it",
    ),
    Mutant(
        "one_repair_too_few",
        "ex5",
        "structured.py",
        "if answers > max_repairs:",
        "if answers >= max_repairs:",
        "one repair too few: max_repairs counts the first answer",
    ),
    # -- ex6: the provider call ----------------------------------------------------------------
    Mutant(
        "no_timeout_passed",
        "ex6",
        "providers/http.py",
        "response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)",
        "response = self._http.post(self.url, json=self.payload(req), headers=headers)",
        "the per-attempt timeout never reaches httpx",
    ),
    Mutant(
        "cause_not_chained",
        "ex6",
        "providers/http.py",
        "raise error_for_transport(exc, provider=self.name) from exc",
        "raise error_for_transport(exc, provider=self.name) from None",
        "the httpx exception is dropped from the chain",
    ),
    Mutant(
        "client_errors_retried",
        "ex6",
        "providers/http.py",
        "    if 400 <= status < 500:\n        return InvalidRequestError(described, **kwargs)",
        "    if 400 <= status < 500:\n        return ServerError(described, **kwargs)",
        "a 400 is mapped to a retryable error and retried",
    ),
    Mutant(
        "auth_is_plain_invalid_request",
        "ex6",
        "providers/http.py",
        "if status in (401, 403):",
        "if status in ():",
        "401/403 become InvalidRequestError, not AuthenticationError",
    ),
    Mutant(
        "rate_limit_without_retry_after",
        "ex6",
        "providers/http.py",
        "retry_after=parse_retry_after(response.headers)",
        "retry_after=None",
        "the 429's Retry-After header is not read",
    ),
    Mutant(
        "request_timeout_408_not_retried",
        "ex6",
        "providers/http.py",
        "    if status == 408:\n        return LLMTimeoutError(described, **kwargs)\n",
        "",
        "408 falls into 'other 4xx' and becomes InvalidRequestError, which is never retried",
    ),
    Mutant(
        "conflict_409_not_retried",
        "ex6",
        "providers/http.py",
        "if status == 409 or status >= 500:",
        "if status >= 500:",
        "409 becomes InvalidRequestError, which is never retried",
    ),
    Mutant(
        "unexpected_status_is_invalid_request",
        "ex6",
        "providers/http.py",
        "    if 400 <= status < 500:\n        return InvalidRequestError(described, **kwargs)\n"
        "    return MalformedResponseError(described, **kwargs)\n",
        "    return InvalidRequestError(described, **kwargs)\n",
        "a 302 or 304 becomes InvalidRequestError instead of MalformedResponseError",
    ),
    Mutant(
        "overloaded_529_not_server_error",
        "ex6",
        "providers/http.py",
        "if status == 409 or status >= 500:",
        "if status == 409 or 500 <= status <= 504:",
        "529 (overloaded) is not recognised as a server error",
    ),
    Mutant(
        "timeout_is_connection_error",
        "ex6",
        "providers/http.py",
        "    if isinstance(exc, httpx.TimeoutException):\n"
        '        return LLMTimeoutError(f"{provider} did not answer in time ({type(exc).__name__})")\n',
        "",
        "a timeout is reported as a connection error",
    ),
    Mutant(
        "unsupported_protocol_retried",
        "ex6",
        "providers/http.py",
        "    if isinstance(exc, httpx.UnsupportedProtocol):\n"
        '        return ConfigurationError(f"{provider}: unsupported URL ({exc})")\n',
        "",
        "a bad base_url (httpx.UnsupportedProtocol) becomes a retryable LLMConnectionError",
    ),
    Mutant(
        "provider_message_dropped",
        "ex6",
        "providers/http.py",
        'kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}',
        'kwargs: dict[str, Any] = {"status_code": status}',
        "the provider's explanation from the error body is lost",
    ),
    Mutant(
        "only_listed_4xx_are_invalid_requests",
        "ex6",
        "providers/http.py",
        "    if 400 <= status < 500:\n        return InvalidRequestError(described, **kwargs)",
        "    if status in (400, 404, 422):\n        return InvalidRequestError(described, **kwargs)",
        "410, 413, 415, 418, 451 ... fall through to MalformedResponseError, which is retried",
    ),
    Mutant(
        "complete_retries_server_errors",
        "ex6",
        "providers/http.py",
        "        try:\n"
        "            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)\n"
        "        except httpx.HTTPError as exc:\n"
        "            raise error_for_transport(exc, provider=self.name) from exc\n",
        "        for _ in range(3):\n"
        "            try:\n"
        "                response = self._http.post(\n"
        "                    self.url, json=self.payload(req), headers=headers, timeout=timeout_s\n"
        "                )\n"
        "            except httpx.HTTPError as exc:\n"
        "                raise error_for_transport(exc, provider=self.name) from exc\n"
        "            if response.status_code < 500:\n"
        "                break\n",
        "complete() retries a 5xx by itself; under the client's retries that is 3 x (max_retries + 1) requests",
    ),
    Mutant(
        "complete_retries_timeouts",
        "ex6",
        "providers/http.py",
        "            response = self._http.post(self.url, json=self.payload(req), headers=headers, timeout=timeout_s)\n"
        "        except httpx.HTTPError as exc:\n",
        "            try:\n"
        "                response = self._http.post(\n"
        "                    self.url, json=self.payload(req), headers=headers, timeout=timeout_s\n"
        "                )\n"
        "            except httpx.TimeoutException:\n"
        "                response = self._http.post(\n"
        "                    self.url, json=self.payload(req), headers=headers, timeout=timeout_s\n"
        "                )\n"
        "        except httpx.HTTPError as exc:\n",
        "complete() tries again after a timeout: one attempt becomes two requests",
    ),
    Mutant(
        "error_message_holds_the_body",
        "ex6",
        "providers/http.py",
        "        return AuthenticationError(described, **kwargs)",
        '        return AuthenticationError(f"{provider} answered HTTP {status}: {response.text}", **kwargs)',
        "the raw body goes into the message, and with it the key a server echoed back",
    ),
    Mutant(
        "provider_message_read_raw",
        "ex6",
        "providers/http.py",
        'kwargs: dict[str, Any] = {"status_code": status, "provider_message": detail}',
        'kwargs: dict[str, Any] = {"status_code": status, "provider_message": response.json()["error"]["message"]}',
        "the message is read from the body as it is: not redacted, and a KeyError or JSON error for other bodies",
    ),
    Mutant(
        "error_for_status_raises",
        "ex6",
        "providers/http.py",
        "        return ServerError(described, **kwargs)",
        "        raise ServerError(described, **kwargs)",
        "error_for_status raises a 5xx's error instead of returning it",
    ),
    Mutant(
        "error_for_transport_raises",
        "ex6",
        "providers/http.py",
        '        return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")',
        '        raise LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")',
        "error_for_transport raises the connection error instead of returning it",
    ),
    Mutant(
        "server_errors_without_provider_message",
        "ex6",
        "providers/http.py",
        "        return ServerError(described, **kwargs)",
        "        return ServerError(described, status_code=status)",
        "a 5xx loses the provider's explanation",
    ),
    Mutant(
        "some_timeouts_are_connection_errors",
        "ex6",
        "providers/http.py",
        "if isinstance(exc, httpx.TimeoutException):",
        "if isinstance(exc, (httpx.ReadTimeout, httpx.ConnectTimeout)):",
        "a WriteTimeout or PoolTimeout becomes a connection error",
    ),
    Mutant(
        "only_transport_errors_caught",
        "ex6",
        "providers/http.py",
        "        except httpx.HTTPError as exc:\n            raise error_for_transport(",
        "        except httpx.TransportError as exc:\n            raise error_for_transport(",
        "an httpx.DecodingError or TooManyRedirects escapes as a raw httpx exception",
    ),
    Mutant(
        "programming_errors_wrapped",
        "ex6",
        "providers/http.py",
        "        except httpx.HTTPError as exc:\n            raise error_for_transport(",
        "        except Exception as exc:\n            raise error_for_transport(",
        "a bug below complete() becomes a retryable LLMConnectionError",
    ),
    Mutant(
        "only_200_is_a_success",
        "ex6",
        "providers/http.py",
        "if not response.is_success:",
        "if response.status_code != 200:",
        "a 201 or 203 with a valid answer is an error",
    ),
    Mutant(
        "retry_after_read_by_hand",
        "ex6",
        "providers/http.py",
        "retry_after=parse_retry_after(response.headers)",
        'retry_after=float(response.headers["retry-after"]) if "retry-after" in response.headers else None',
        "the 429's wait is read from Retry-After only: retry-after-ms and HTTP-dates are lost",
    ),
    # -- ex7 (optional): the token bucket -------------------------------------------------------
    Mutant(
        "bucket_refills_past_capacity",
        "ex7",
        "limiter.py",
        "self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)",
        "self.tokens = self.tokens + (now - self.updated) * self.rate",
        "a long quiet spell lets an unbounded burst through",
    ),
    Mutant(
        "bucket_never_lends",
        "ex7",
        "limiter.py",
        "        self.tokens -= amount\n",
        "        self.tokens = max(0.0, self.tokens - amount)\n",
        "callers that arrive together are all told to wait the same, so they go together",
    ),
    Mutant(
        "bucket_wait_ignores_rate",
        "ex7",
        "limiter.py",
        "return -self.tokens / self.rate",
        "return -self.tokens",
        "the wait is the token deficit, not the time the refill needs",
    ),
    Mutant(
        "bucket_ignores_amount",
        "ex7",
        "limiter.py",
        "        self.tokens -= amount\n",
        "        self.tokens -= 1.0\n",
        "a 400-token request costs one token",
    ),
    Mutant(
        "bucket_updated_goes_back",
        "ex7",
        "limiter.py",
        "            self.updated = now\n        self.tokens -= amount\n",
        "        self.updated = now\n        self.tokens -= amount\n",
        "an earlier clock reading moves updated back, so the next refill counts the same seconds twice",
    ),
    Mutant(
        "bucket_sleeps_itself",
        "ex7",
        "limiter.py",
        "        return -self.tokens / self.rate\n",
        "        time.sleep(-self.tokens / self.rate)\n        return -self.tokens / self.rate\n",
        "take() waits by itself, then the caller waits again",
    ),
    Mutant(
        "bucket_forgives_debt",
        "ex7",
        "limiter.py",
        "self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)",
        "self.tokens = min(self.capacity, max(0.0, self.tokens) + (now - self.updated) * self.rate)",
        "the refill starts from zero, forgetting the tokens lent to callers still waiting",
    ),
    Mutant(
        "bucket_waits_for_the_whole_amount",
        "ex7",
        "limiter.py",
        "return -self.tokens / self.rate",
        "return amount / self.rate",
        "the wait ignores the tokens already there and the callers already waiting",
    ),
    Mutant(
        "bucket_waits_whole_tokens",
        "ex7",
        "limiter.py",
        "return -self.tokens / self.rate",
        "return math.ceil(-self.tokens) / self.rate",
        "a partly refilled bucket still makes the caller wait for a whole token",
    ),
    Mutant(
        "bucket_reads_the_clock",
        "ex7",
        "limiter.py",
        "        if now > self.updated:\n",
        "        now = time.monotonic()\n        if now > self.updated:\n",
        "the now given is ignored and the real clock read instead",
    ),
    Mutant(
        "bucket_caps_before_refilling",
        "ex7",
        "limiter.py",
        "self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)",
        "self.tokens = min(self.capacity, self.tokens) + (now - self.updated) * self.rate",
        "the cap is applied before the refill, so a quiet spell still overfills the bucket",
    ),
    Mutant(
        "bucket_refills_backwards",
        "ex7",
        "limiter.py",
        "if now > self.updated:",
        "if now != self.updated:",
        "a clock reading earlier than the last one removes tokens",
    ),
    # -- ex1: the retry loop -------------------------------------------------------------------
    Mutant(
        "every_error_retried",
        "ex1",
        "retry_loop.py",
        "    if not error.retryable:\n",
        "    if not isinstance(error, LLMError):\n",
        "a 400 or a bad key is retried like a 503, and the caller waits for an error that cannot heal",
    ),
    Mutant(
        "one_attempt_too_few",
        "ex1",
        "retry_loop.py",
        "if attempt >= state.policy.max_retries:",
        "if attempt + 1 >= state.policy.max_retries:",
        "max_retries counts the attempts, not the retries after the first",
    ),
    Mutant(
        "last_error_not_chained",
        "ex1",
        "retry_loop.py",
        "        ) from error\n",
        "        ) from None\n",
        "giving up drops the last attempt's error from the chain",
        count=2,
    ),
    Mutant(
        "attempts_miscounted",
        "ex1",
        "retry_loop.py",
        "attempts_made = attempt + 1",
        "attempts_made = attempt",
        "the error says one attempt fewer than were made (attempts are counted from 0)",
    ),
    Mutant(
        "retry_after_ignored_by_the_loop",
        "ex1",
        "retry_loop.py",
        "sleep_s = state.rate_limit_wait(error, attempt)",
        "sleep_s = state.backoff(attempt)",
        "a 429's Retry-After is never honoured: every wait is the backoff",
    ),
    Mutant(
        "deadline_ignores_the_wait",
        "ex1",
        "retry_loop.py",
        "if deadline is not None and state.elapsed() + sleep_s > deadline:",
        "if deadline is not None and state.elapsed() > deadline:",
        "a wait that ends past the deadline is started anyway",
    ),
    Mutant(
        "deadline_refuses_an_exact_fit",
        "ex1",
        "retry_loop.py",
        "if deadline is not None and state.elapsed() + sleep_s > deadline:",
        "if deadline is not None and state.elapsed() + sleep_s >= deadline:",
        "a wait that ends exactly at the deadline is refused",
    ),
    Mutant(
        "deadline_reported_as_exhausted",
        "ex1",
        "retry_loop.py",
        "        raise DeadlineExceededError(\n",
        "        raise RetriesExhaustedError(\n",
        "running out of time is reported as running out of attempts",
    ),
    Mutant(
        "failed_attempt_logged_at_debug",
        "ex1",
        "retry_loop.py",
        'state.log(logging.WARNING, "llm.attempt_failed"',
        'state.log(logging.DEBUG, "llm.attempt_failed"',
        "a failed attempt is logged at DEBUG, which an ordinary log setup never shows",
    ),
    Mutant(
        "retry_not_logged",
        "ex1",
        "retry_loop.py",
        "    state.log(logging.INFO, \"llm.retry_scheduled\", attempt, error_type=error_type, sleep_s=sleep_s)\n",
        "",
        "the log never says a retry is coming, or after how long",
    ),
    Mutant(
        "failure_logs_elapsed_as_latency",
        "ex1",
        "retry_loop.py",
        '"llm.attempt_failed", attempt, latency_s=state.latency(),',
        '"llm.attempt_failed", attempt, latency_s=state.elapsed(),',
        "latency_s is the time since the first attempt, waits included, not the time the attempt took",
    ),
    Mutant(
        "not_retryable_gave_up_silently",
        "ex1",
        "retry_loop.py",
        'state.log(logging.ERROR, "llm.gave_up", attempt, error_type=error_type, reason="not_retryable")\n'
        "        raise error\n",
        "raise error\n",
        "a call that ends on a non-retryable error logs no reason",
    ),
    Mutant(
        "transport_error_shows_the_request_headers",
        "ex6",
        "providers/http.py",
        'return LLMConnectionError(f"{provider}: connection failed ({type(exc).__name__}: {exc})")',
        'return LLMConnectionError(f"{provider}: connection failed ({exc}; headers {dict(exc.request.headers)})")',
        "the request's headers hold Authorization: Bearer <key>, so the message holds the key",
    ),
    Mutant(
        "complete_raises_error_for_status",
        "ex6",
        "providers/http.py",
        "            raise error_for_response(response, provider=self.name)\n        return self.parse(response)",
        "            from llm_client.providers.http import error_for_status\n\n"
        "            raise error_for_status(response, provider=self.name)\n        return self.parse(response)",
        "the status table alone: no quota 429, no Retry-After on a 5xx, no x-should-retry",
    ),
    Mutant(
        "structured_errors_kept_whole",
        "ex5",
        "structured.py",
        'errors = [{"type": e["type"], "loc": e["loc"], "msg": e["msg"]} for e in exc.errors()]',
        "errors = [dict(e) for e in exc.errors()]",
        "pydantic's errors() also holds the rejected input, a url and ctx: the error carries them all",
    ),
)


# Right answers in another form: each must keep its exercise's full marks.
ALTERNATIVES: tuple[Mutant, ...] = (
    Mutant(
        "jitter_from_the_top",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return delay_s * (1.0 - source.random())",
        "full jitter on (0, delay_s], one draw from the generator",
    ),
    Mutant(
        "jitter_uniform_reversed",
        "ex3",
        "backoff.py",
        "return source.uniform(0.0, delay_s)",
        "return source.uniform(delay_s, 0.0)",
        "uniform(b, a) draws from the same interval as uniform(a, b)",
    ),
    Mutant(
        "key_json_list_of_values",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        "raw = json.dumps([canonical[field.name] for field in fields(req)])",
        "a JSON list of the values in field order is unambiguous too",
    ),
    Mutant(
        "key_without_none_fields",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        "raw = json.dumps({k: v for k, v in canonical.items() if v is not None}, sort_keys=True)",
        "fields that are None left out of a JSON object: a missing name still differs from any value",
    ),
    Mutant(
        "key_repr_of_sorted_items",
        "ex2",
        "cache_key.py",
        'raw = json.dumps(canonical, sort_keys=True, ensure_ascii=False, separators=(",", ":"))',
        "raw = repr(sorted(canonical.items()))",
        "repr() quotes every string, so the serialization is unambiguous",
    ),
    Mutant(
        "backoff_by_doubling",
        "ex3",
        "backoff.py",
        "    if attempt >= math.log2(cap) - math.log2(base):\n"
        "        return cap\n"
        "    return min(cap, math.ldexp(base, attempt))",
        "    delay = base\n"
        "    for _ in range(attempt):\n"
        "        if delay >= cap:\n"
        "            break\n"
        "        delay *= 2\n"
        "    return min(cap, delay)",
        "doubling in a loop that stops at the cap: exact, and never overflows",
    ),
    Mutant(
        "http_date_with_timegm",
        "ex4",
        "retry_after.py",
        _HTTP_DATE_PARSED + "    return max(0.0, when.timestamp() - now)\n",
        "    import calendar\n"
        "    from email.utils import parsedate\n\n"
        "    parsed = parsedate(value)\n"
        "    if parsed is None:\n"
        "        return None\n"
        "    return max(0.0, calendar.timegm(parsed) - now)\n",
        "calendar.timegm reads the date's fields as UTC, whatever the local time zone",
    ),
    Mutant(
        "parse_with_model_validate_json",
        "ex5",
        "structured.py",
        "    candidate = extract_json(text)\n"
        "    try:\n"
        "        data = json.loads(candidate)\n"
        "    except ValueError as exc:\n"
        "        raise StructuredOutputError(\n"
        '            f"the answer is not valid JSON: {exc}",\n'
        "            raw_text=text,\n"
        '            validation_errors=[{"type": "json_invalid", "loc": (), "msg": f"Invalid JSON: {exc}"}],\n'
        "        ) from exc\n"
        "    try:\n"
        "        return schema.model_validate(data)\n",
        "    candidate = extract_json(text)\n"
        "    try:\n"
        "        return schema.model_validate_json(candidate)\n",
        "pydantic parses and validates in one step and reports bad JSON as json_invalid at ()",
    ),
    Mutant(
        "retry_delay_in_one_expression",
        "ex4",
        "retry.py",
        "    if error.retry_after is not None and error.retry_after <= max_retry_after_s:\n"
        "        return error.retry_after\n"
        "    return backoff(attempt)\n",
        "    wait = error.retry_after\n"
        "    return wait if wait is not None and wait <= max_retry_after_s else backoff(attempt)\n",
        "one conditional expression; backoff is still called only when it is needed",
    ),
    Mutant(
        "ask_again_rebuilds_the_request",
        "ex5",
        "structured.py",
        "return dataclasses.replace(req, prompt=repair_prompt(req.prompt, error.raw_text, error.validation_errors))",
        "fixed = repair_prompt(req.prompt, error.raw_text, error.validation_errors)\n"
        '    return type(req)(**{**dataclasses.asdict(req), "prompt": fixed})',
        "a new request from every field of the old one, the prompt replaced",
    ),
    Mutant(
        "complete_catches_request_error",
        "ex6",
        "providers/http.py",
        "        except httpx.HTTPError as exc:\n            raise error_for_transport(",
        "        except httpx.RequestError as exc:\n            raise error_for_transport(",
        "every exception httpx raises while sending is an httpx.RequestError",
    ),
    Mutant(
        "bucket_checks_before_taking",
        "ex7",
        "limiter.py",
        "        self.tokens -= amount\n        if self.tokens >= 0.0:\n            return 0.0\n",
        "        if self.tokens >= amount:\n            self.tokens -= amount\n            return 0.0\n"
        "        self.tokens -= amount\n",
        "checking before taking gives the same waits",
    ),
    Mutant(
        "bucket_updated_with_max",
        "ex7",
        "limiter.py",
        "            self.updated = now\n        self.tokens -= amount\n",
        "        self.updated = max(self.updated, now)\n        self.tokens -= amount\n",
        "updated = max(updated, now) never moves updated back either",
    ),
)

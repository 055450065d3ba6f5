"""Exercise 5: structured output. Parse and validate (parse_structured); ask again with the errors (ask_again).

Graded through call_structured, which drives the flow those two functions decide, on a client whose call asks
the provider once (``OneAttemptClient`` below): this exercise needs neither exercise 1's call path nor exercise
2's cache key.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_client import (
    FakeProvider,
    LLMRequest,
    MemoryCache,
    StructuredOutputError,
    parse_structured,
)
from llm_client._internal.client_base import SyncClientBase
from llm_client.structured import schema_cache_key

pytestmark = pytest.mark.ex5


class Weather(BaseModel):
    city: str
    temp_c: float


class Capital(BaseModel):
    country: str
    capital: str


VALID = '{"city": "Oslo", "temp_c": -3.5}'
WRONG_TYPE = '{"city": "Oslo", "temp_c": "freezing"}'
NOT_JSON = "It is cold in Oslo today."
REQ = LLMRequest(model="m", prompt="Weather in Oslo as JSON with city and temp_c.")


def simple_key(req: LLMRequest) -> str:
    """A stand-in for make_cache_key: any stable text will do here."""
    return f"{req.model}|{req.system_prompt}|{req.prompt}"


class OneAttemptClient(SyncClientBase):
    """LLMClient's call_structured over a call that asks the provider once, without a cache or retries."""

    def call(
        self, req: LLMRequest, *, timeout_s: float | None = None, max_retries: int | None = None, use_cache: bool = True
    ) -> str:
        return self.provider.complete(req, timeout_s=30.0).text


def make_client(script: list[str], cache: MemoryCache | None = None) -> tuple[OneAttemptClient, FakeProvider]:
    provider = FakeProvider(script, default=lambda req: "(no more scripted answers)")
    sleeps: list[float] = []
    return OneAttemptClient(provider, cache=cache, key_fn=simple_key, sleep=sleeps.append), provider


# -- parse_structured ---------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_parses_plain_json_into_the_schema() -> None:
    got = parse_structured(VALID, Weather)
    assert got == Weather(city="Oslo", temp_c=-3.5), f"expected Weather(city='Oslo', temp_c=-3.5), got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_parses_json_inside_a_code_fence() -> None:
    for text in (f"```json\n{VALID}\n```", f"Here you go:\n```\n{VALID}\n```\nEnjoy!"):
        got = parse_structured(text, Weather)
        assert got == Weather(city="Oslo", temp_c=-3.5), f"expected the fenced JSON to parse, got {got!r} for {text!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_text_that_is_not_json_raises_structured_output_error() -> None:
    with pytest.raises(StructuredOutputError) as info:
        parse_structured(NOT_JSON, Weather)
    error = info.value
    assert error.raw_text == NOT_JSON, f"expected raw_text to be the text as given, got {error.raw_text!r}"
    assert error.validation_errors and all(isinstance(e, dict) for e in error.validation_errors), (
        f"expected validation_errors to be a non-empty list of dicts, got {error.validation_errors!r}"
    )
    assert error.__cause__ is not None, "expected the JSON error to be chained (raise ... from exc)"
    shapes = [(e.get("type"), tuple(e.get("loc", ("missing",)))) for e in error.validation_errors]
    assert shapes == [("json_invalid", ())], (
        "expected one error of type 'json_invalid' at loc () for text that is not JSON (the shape pydantic "
        f"gives it), got {error.validation_errors!r}"
    )
    for broken in ('{"city": "Oslo", "temp_c": 1,}', '{"city": "Oslo"', "```json\nnot json\n```"):
        with pytest.raises(StructuredOutputError) as bad:
            parse_structured(broken, Weather)
        assert [e.get("type") for e in bad.value.validation_errors] == ["json_invalid"], (
            f"expected one 'json_invalid' error for {broken!r}, got {bad.value.validation_errors!r}"
        )
        assert bad.value.raw_text == broken, f"expected raw_text {broken!r}, got {bad.value.raw_text!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_schema_mismatch_raises_with_pydantic_errors() -> None:
    fenced = f"```json\n{WRONG_TYPE}\n```"
    with pytest.raises(StructuredOutputError) as info:
        parse_structured(fenced, Weather)
    error = info.value
    assert error.raw_text == fenced, f"expected raw_text to be the whole text as given, got {error.raw_text!r}"
    locations = [tuple(e.get("loc", ())) for e in error.validation_errors]
    assert ("temp_c",) in locations, f"expected an error located at temp_c, got {error.validation_errors!r}"
    assert all("msg" in e for e in error.validation_errors), "expected each error to carry a 'msg'"
    kept = {"type", "loc", "msg"}
    extra = [sorted(set(e) - kept) for e in error.validation_errors if set(e) != kept]
    assert not extra, (
        f"expected each error reduced to exactly type, loc and msg, got the extra keys {extra} "
        "(pydantic's errors() also holds the rejected input, a documentation url and ctx: keep only those three)"
    )
    assert isinstance(error.__cause__, ValidationError), (
        f"expected pydantic's ValidationError as __cause__ (raise ... from exc), got {error.__cause__!r}"
    )
    with pytest.raises(StructuredOutputError) as missing:
        parse_structured('{"city": "Oslo"}', Weather)
    shapes = [(e.get("type"), tuple(e.get("loc", ()))) for e in missing.value.validation_errors]
    assert shapes == [("missing", ("temp_c",))], (
        f"expected one 'missing' error at temp_c, got {missing.value.validation_errors!r}"
    )
    for not_an_object in ("[1, 2]", '"Oslo"', "null", "42"):
        try:
            parse_structured(not_an_object, Weather)
        except StructuredOutputError as exc:
            assert exc.validation_errors and exc.raw_text == not_an_object, (
                f"expected the errors and the raw text for {not_an_object!r}, got {exc.validation_errors!r}"
            )
        except Exception as exc:  # the test reports what escaped
            pytest.fail(
                f"expected StructuredOutputError for {not_an_object!r} (JSON, but not an object), got "
                f"{type(exc).__name__}: {exc} (let the schema validate the parsed value: model_validate)"
            )
        else:
            pytest.fail(f"expected StructuredOutputError for {not_an_object!r} (JSON, but not an object)")


# -- call_structured ----------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_valid_first_answer_is_returned() -> None:
    client, provider = make_client([VALID])
    got = client.call_structured(REQ, Weather)
    assert got == Weather(city="Oslo", temp_c=-3.5), f"expected the parsed Weather, got {got!r}"
    assert provider.call_count == 1, f"expected 1 call to the model, got {provider.call_count}"


@pytest.mark.points(2)
@pytest.mark.hint(2)
def test_invalid_answer_is_repaired_with_the_errors_fed_back() -> None:
    client, provider = make_client([WRONG_TYPE, VALID])
    got = client.call_structured(REQ, Weather, max_repairs=1)
    assert got == Weather(city="Oslo", temp_c=-3.5), f"expected the repaired answer, got {got!r}"
    assert provider.call_count == 2, f"expected 2 calls (answer, repair), got {provider.call_count}"
    second = provider.calls[1].request
    assert REQ.prompt in second.prompt, "expected the second prompt to repeat the original task"
    assert "freezing" in second.prompt, "expected the second prompt to show the rejected answer"
    assert "temp_c" in second.prompt, (
        f"expected the second prompt to say what was wrong (the validation error at temp_c), got:\n{second.prompt}"
    )
    assert second.model == REQ.model, "expected the repair to go to the same model"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_a_repair_changes_only_the_prompt() -> None:
    req = LLMRequest(
        model="m", prompt=REQ.prompt, system_prompt="Answer in JSON only.", temperature=0.3, max_tokens=200,
        top_p=0.9, stop=("END",),
    )
    client, provider = make_client([NOT_JSON, WRONG_TYPE, VALID])
    got = client.call_structured(req, Weather, max_repairs=2)
    assert got == Weather(city="Oslo", temp_c=-3.5), f"expected the repaired answer, got {got!r}"
    for number, call in enumerate(provider.calls[1:], start=1):
        sent = call.request
        assert replace(sent, prompt=req.prompt) == req, (
            f"expected repair {number} to be the same request with only its prompt replaced, got {sent!r} "
            f"for {req!r} (keep the system prompt and the settings: dataclasses.replace)"
        )
        assert sent.prompt.count(req.prompt) == 1, (
            f"expected repair {number}'s prompt to hold the original task once, got:\n{sent.prompt}"
        )
    assert "freezing" in provider.calls[2].request.prompt and NOT_JSON not in provider.calls[2].request.prompt, (
        "expected the second repair to show the answer it rejects (the second one), built from the original prompt"
    )


@pytest.mark.points(2)
@pytest.mark.hint(3)
def test_max_repairs_bounds_the_calls_then_raises() -> None:
    client, provider = make_client([NOT_JSON, WRONG_TYPE, "still not json"])
    with pytest.raises(StructuredOutputError) as info:
        client.call_structured(REQ, Weather, max_repairs=2)
    assert provider.call_count == 3, f"expected 1 answer + 2 repairs = 3 calls, got {provider.call_count}"
    assert info.value.raw_text == "still not json", f"expected raw_text of the last answer, got {info.value.raw_text!r}"
    assert info.value.validation_errors, "expected the last validation errors on the exception"
    assert isinstance(info.value.__cause__, StructuredOutputError), (
        f"expected the final error chained to the last answer's StructuredOutputError, got {info.value.__cause__!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_max_repairs_zero_means_one_answer_only() -> None:
    client, provider = make_client([WRONG_TYPE, VALID])
    with pytest.raises(StructuredOutputError):
        client.call_structured(REQ, Weather, max_repairs=0)
    assert provider.call_count == 1, f"expected exactly 1 call with max_repairs=0, got {provider.call_count}"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_invalid_output_is_never_cached() -> None:
    cache = MemoryCache()
    client, provider = make_client([NOT_JSON, WRONG_TYPE, VALID], cache=cache)
    with pytest.raises(StructuredOutputError):
        client.call_structured(REQ, Weather, max_repairs=1)
    assert len(cache) == 0, f"expected nothing cached after a failed structured call, got {len(cache)} entries"
    got = client.call_structured(REQ, Weather, max_repairs=0)
    assert got == Weather(city="Oslo", temp_c=-3.5), "expected a fresh call to the model after the failure"
    assert provider.call_count == 3, f"expected the model to be asked again (3 calls), got {provider.call_count}"


@pytest.mark.points(2)
@pytest.mark.hint(1)
def test_valid_output_is_cached_under_a_key_that_includes_the_schema() -> None:
    cache = MemoryCache()
    client, provider = make_client([VALID, '{"country": "Norway", "capital": "Oslo"}'], cache=cache)
    first = client.call_structured(REQ, Weather)
    again = client.call_structured(REQ, Weather)
    assert again == first, f"expected the cached Weather on the second call, got {again!r}"
    assert provider.call_count == 1, f"expected the second call to be served from the cache, got {provider.call_count}"
    assert len(cache) == 1, f"expected one cache entry, got {len(cache)}"
    assert simple_key(REQ) not in cache, (
        "expected the structured answer to be cached under a key that includes the schema, "
        "not under the plain request key"
    )
    other = client.call_structured(REQ, Capital)
    assert other == Capital(country="Norway", capital="Oslo"), (
        f"expected a different schema to miss the cache and ask the model, got {other!r}"
    )
    assert provider.call_count == 2, f"expected 2 calls (one per schema), got {provider.call_count}"
    stored = cache.get(schema_cache_key(simple_key(REQ), Weather))
    assert stored is not None and json.loads(stored) == {"city": "Oslo", "temp_c": -3.5}, (
        f"expected the Weather's JSON under schema_cache_key(key, Weather), got {stored!r}"
    )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_fenced_valid_answer_is_cached_and_the_next_call_is_a_hit() -> None:
    class Reading(BaseModel):
        """A schema whose JSON names are aliases, as for an API that speaks camelCase."""

        model_config = ConfigDict(populate_by_name=False)
        city: str
        temp_c: float = Field(alias="tempC")

    cache = MemoryCache()
    fenced = f"Sure! Here it is:\n```json\n{VALID}\n```"
    client, provider = make_client([fenced, '```json\n{"city": "Oslo", "tempC": 2.5}\n```'], cache=cache)
    first = client.call_structured(REQ, Weather)
    again = client.call_structured(REQ, Weather)
    assert first == again == Weather(city="Oslo", temp_c=-3.5), f"expected the same Weather twice, got {first!r}"
    assert provider.call_count == 1, (
        f"expected a fenced valid answer to be cached and the second call to be a hit (1 call), "
        f"got {provider.call_count} calls"
    )
    other = replace(REQ, prompt="A reading for Oslo as JSON with city and tempC.")
    reading = client.call_structured(other, Reading)
    expected = Reading.model_validate({"city": "Oslo", "tempC": 2.5})
    assert client.call_structured(other, Reading) == reading == expected, (
        f"expected the aliased Reading twice, got {reading!r}"
    )
    assert provider.call_count == 2, f"expected the second Reading from the cache (2 calls), got {provider.call_count}"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_a_repair_keeps_the_model_and_settings_of_the_request() -> None:
    req = LLMRequest(model="m2", prompt=REQ.prompt, system_prompt="Answer in JSON.", max_tokens=64, stop=("END",))
    client, provider = make_client([WRONG_TYPE, VALID])
    client.call_structured(req, Weather, max_repairs=1)
    assert provider.call_count == 2, f"expected 2 calls (answer, repair), got {provider.call_count}"
    second = provider.calls[1].request
    kept = {name: getattr(second, name) for name in ("model", "system_prompt", "max_tokens", "stop")}
    want = {name: getattr(req, name) for name in kept}
    assert kept == want, f"expected the repair to keep the request's other fields {want}, got {kept}"

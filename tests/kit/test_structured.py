"""parse_structured and LLMClient.call_structured (llm_client/structured.py, llm_client/client.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fake_time import make_client
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from llm_client import (
    FakeProvider,
    LLMRequest,
    MemoryCache,
    ServerError,
    StructuredOutputError,
    parse_structured,
)
from llm_client.structured import ask_again, extract_json, repair_prompt, schema_cache_key, structured_flow

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-4o-mini", prompt="Describe Ada Lovelace as JSON with name and age.")


class Person(BaseModel):
    name: str
    age: int


class City(BaseModel):
    name: str
    population: int


class DictCache(dict[str, str]):
    """A cache whose entries the test can read back."""

    def set(self, key: str, value: str) -> None:
        self[key] = value


client = make_client


# -- parse_structured ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Ada", "age": 36}',
        '  {"name": "Ada", "age": 36}\n',
        '```json\n{"name": "Ada", "age": 36}\n```',
        '```\n{"name": "Ada", "age": 36}\n```',
        'Here is the JSON:\n\n```json\n{"name": "Ada", "age": 36}\n```\nAnything else?',
        '```JSON\n{\n  "name": "Ada",\n  "age": 36\n}\n```',
    ],
    ids=["plain", "padded", "fenced-json", "fenced", "fenced-with-prose", "fenced-multiline"],
)
def test_parse_returns_a_validated_instance_from_json_fenced_or_not(text: str) -> None:
    assert parse_structured(text, Person) == Person(name="Ada", age=36)


@pytest.mark.parametrize(
    "text",
    ["Ada is 36.", '{"name": "Ada", "age": 36', "```json\nnot json\n```", ""],
    ids=["prose", "cut", "fence", "empty"],
)
def test_parse_of_text_that_is_not_json_raises_with_the_raw_text(text: str) -> None:
    with pytest.raises(StructuredOutputError) as caught:
        parse_structured(text, Person)
    assert caught.value.raw_text == text
    assert [e["type"] for e in caught.value.validation_errors] == ["json_invalid"]
    assert isinstance(caught.value.__cause__, json.JSONDecodeError)


def test_parse_of_json_that_breaks_the_schema_raises_with_each_validation_error() -> None:
    text = '{"name": 5, "age": "old"}'
    with pytest.raises(StructuredOutputError) as caught:
        parse_structured(text, Person)
    error = caught.value
    assert error.raw_text == text
    assert {tuple(e["loc"]): e["type"] for e in error.validation_errors} == {
        ("name",): "string_type",
        ("age",): "int_parsing",
    }
    assert all(e["msg"] for e in error.validation_errors)
    assert isinstance(error.__cause__, ValidationError)


def test_extract_json_takes_the_first_fenced_block() -> None:
    assert extract_json('a\n```json\n{"a": 1}\n```\nb\n```json\n{"b": 2}\n```') == '{"a": 1}'


def test_repair_prompt_holds_the_task_the_rejected_answer_and_each_problem() -> None:
    errors = [{"type": "int_parsing", "loc": ("age",), "msg": "Input should be a valid integer"}]
    prompt = repair_prompt("Describe Ada.", '{"age": "old"}', errors)
    assert prompt.startswith("Describe Ada.")
    assert '{"age": "old"}' in prompt
    assert "age: Input should be a valid integer" in prompt


def test_schema_cache_key_differs_per_schema_and_from_the_plain_key() -> None:
    base = "0" * 64
    assert schema_cache_key(base, Person) == schema_cache_key(base, Person)
    assert schema_cache_key(base, Person) != schema_cache_key(base, City)
    assert schema_cache_key(base, Person) != base
    assert schema_cache_key(base, Person) != schema_cache_key("1" * 64, Person)


# -- the flow, without I/O -------------------------------------------------------------------


def test_the_flow_yields_each_request_and_returns_the_first_valid_answer() -> None:
    flow = structured_flow(REQ, Person, max_repairs=2)
    assert next(flow) == REQ
    repair = flow.send('{"name": "Ada", "age": "old"}')
    assert repair.model == REQ.model and repair.prompt.startswith(REQ.prompt) and '"old"' in repair.prompt
    with pytest.raises(StopIteration) as done:
        flow.send('{"name": "Ada", "age": 36}')
    assert done.value.value == Person(name="Ada", age=36)


def test_the_flow_raises_after_max_repairs_plus_one_rejected_answers() -> None:
    flow = structured_flow(REQ, Person, max_repairs=1)
    next(flow)
    flow.send("not json")
    with pytest.raises(StructuredOutputError) as info:
        flow.send('{"name": "Ada"}')
    assert info.value.raw_text == '{"name": "Ada"}'
    assert ("age",) in [tuple(e["loc"]) for e in info.value.validation_errors]


def test_ask_again_repairs_while_repairs_are_left_then_gives_up_chained() -> None:
    error = StructuredOutputError("bad", raw_text="oops", validation_errors=[{"loc": ("age",), "msg": "missing"}])
    again = ask_again(REQ, error, answers=1, max_repairs=1)
    assert again.prompt == repair_prompt(REQ.prompt, "oops", error.validation_errors)
    assert again.model == REQ.model and again.system_prompt == REQ.system_prompt
    with pytest.raises(StructuredOutputError) as info:
        ask_again(REQ, error, answers=2, max_repairs=1)
    assert info.value.__cause__ is error
    assert info.value.raw_text == "oops" and info.value.validation_errors == error.validation_errors


# -- call_structured -------------------------------------------------------------------------


def test_call_structured_returns_a_validated_instance() -> None:
    provider = FakeProvider(['```json\n{"name": "Ada", "age": 36}\n```'])
    assert client(provider).call_structured(REQ, Person) == Person(name="Ada", age=36)
    assert provider.call_count == 1


def test_an_invalid_answer_is_asked_again_with_the_validation_errors_fed_back() -> None:
    provider = FakeProvider(['{"name": "Ada", "age": "thirty-six"}', '{"name": "Ada", "age": 36}'])
    assert client(provider).call_structured(REQ, Person) == Person(name="Ada", age=36)
    assert provider.call_count == 2
    second = provider.calls[1].request
    assert REQ.prompt in second.prompt
    assert '"thirty-six"' in second.prompt  # the rejected answer
    assert "age" in second.prompt and "valid integer" in second.prompt  # what was wrong with it
    assert (second.model, second.system_prompt, second.temperature) == (REQ.model, REQ.system_prompt, REQ.temperature)


@pytest.mark.parametrize("max_repairs", [0, 1, 3])
def test_after_max_repairs_it_raises_with_the_last_raw_text_and_errors(max_repairs: int) -> None:
    answers = [f'{{"name": "Ada", "age": "bad {i}"}}' for i in range(max_repairs + 1)]
    provider = FakeProvider([*answers, '{"name": "Ada", "age": 36}'])
    with pytest.raises(StructuredOutputError) as caught:
        client(provider).call_structured(REQ, Person, max_repairs=max_repairs)
    assert provider.call_count == max_repairs + 1
    assert caught.value.raw_text == answers[-1]
    assert [tuple(e["loc"]) for e in caught.value.validation_errors] == [("age",)]
    assert isinstance(caught.value.__cause__, StructuredOutputError)


def test_each_repair_feeds_back_the_latest_rejected_answer() -> None:
    provider = FakeProvider(['{"name": "Ada"}', '{"age": 36}', '{"name": "Ada", "age": 36}'])
    client(provider).call_structured(REQ, Person, max_repairs=2)
    third = provider.calls[2].request.prompt
    assert '{"age": 36}' in third
    assert '{"name": "Ada"}' not in third
    assert third.count(REQ.prompt) == 1


def test_transient_errors_inside_call_structured_are_retried_like_call() -> None:
    provider = FakeProvider([ServerError("HTTP 503"), '{"name": "Ada", "age": 36}'])
    assert client(provider).call_structured(REQ, Person).age == 36


def test_only_valid_output_is_cached_and_a_hit_skips_the_provider() -> None:
    cache = MemoryCache()
    provider = FakeProvider(['{"name": "Ada", "age": "old"}', '{"name": "Ada", "age": 36}'])
    llm = client(provider, cache=cache)
    first = llm.call_structured(REQ, Person)
    assert len(cache) == 1  # one entry: the valid instance, never the rejected text
    assert llm.call_structured(REQ, Person) == first
    assert provider.call_count == 2


def test_a_fenced_answer_is_cached_as_its_validated_json_so_the_next_call_is_a_hit() -> None:
    cache = DictCache()
    provider = FakeProvider(['Sure! Here it is:\n```json\n{"name": "Ada", "age": 36}\n```'], default=None)
    llm = client(provider, cache=cache)
    assert llm.call_structured(REQ, Person) == llm.call_structured(REQ, Person) == Person(name="Ada", age=36)
    assert provider.call_count == 1
    [stored] = cache.values()
    assert json.loads(stored) == {"name": "Ada", "age": 36}


def test_a_failed_call_structured_caches_nothing() -> None:
    cache = MemoryCache()
    with pytest.raises(StructuredOutputError):
        client(FakeProvider(["nope", "still nope"]), cache=cache).call_structured(REQ, Person)
    assert len(cache) == 0


def test_the_schema_is_part_of_the_cache_key() -> None:
    cache = MemoryCache()
    provider = FakeProvider(['{"name": "Ada", "age": 36}', '{"name": "Paris", "population": 2100000}'])
    llm = client(provider, cache=cache)
    assert llm.call_structured(REQ, Person) == Person(name="Ada", age=36)
    assert llm.call_structured(REQ, City) == City(name="Paris", population=2100000)
    assert len(cache) == 2
    assert llm.call_structured(REQ, Person).age == 36
    assert llm.call_structured(REQ, City).population == 2100000
    assert provider.call_count == 2


def test_structured_and_plain_answers_do_not_share_an_entry() -> None:
    provider = FakeProvider(['{"name": "Ada", "age": 36}', "plain text"])
    llm = client(provider, cache=MemoryCache())
    llm.call_structured(REQ, Person)
    assert llm.call(REQ) == "plain text"


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = Field(alias="firstName")
    email_address: str = Field(alias="emailAddress")


def test_a_cached_instance_of_an_aliased_schema_is_a_hit() -> None:
    provider = FakeProvider(['{"firstName": "Ada", "emailAddress": "ada@example.org"}'], default=None)
    llm = client(provider, cache=MemoryCache())
    first = llm.call_structured(REQ, Contact)
    assert llm.call_structured(REQ, Contact) == first
    assert provider.call_count == 1


def test_a_cached_entry_that_no_longer_validates_is_a_miss() -> None:
    cache = MemoryCache()
    provider = FakeProvider(['{"name": "Ada", "age": 36}'])
    llm = client(provider, cache=cache, key_fn=lambda req: "fixed")
    cache.set(schema_cache_key("fixed", Person), '{"name": "Ada"}')  # e.g. written under an older schema
    assert llm.call_structured(REQ, Person) == Person(name="Ada", age=36)
    assert provider.call_count == 1


@pytest.mark.parametrize(
    ("args", "options", "error", "name"),
    [
        ((REQ, dict), {}, TypeError, "schema"),
        ((REQ, "Person"), {}, TypeError, "schema"),
        ((REQ, Person), {"max_repairs": -1}, ValueError, "max_repairs"),
        ((REQ, Person), {"max_repairs": True}, TypeError, "max_repairs"),
        (("prompt", Person), {}, TypeError, "req"),
        ((REQ, Person), {"timeout_s": 0}, ValueError, "timeout_s"),
    ],
)
def test_call_structured_refuses_bad_arguments_before_asking(
    args: tuple[Any, ...], options: dict[str, Any], error: type, name: str
) -> None:
    provider = FakeProvider()
    with pytest.raises(error, match=name):
        client(provider).call_structured(*args, **options)
    assert provider.call_count == 0

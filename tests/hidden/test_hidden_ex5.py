"""Hidden tier, exercise 5: parse_structured, ask_again and the structured_flow they drive, against the reference.

The schemas are in ops/ex5.py (nested, aliased, constrained, optional fields). What the contract leaves free
is not compared: an error's message, the wording of a repair prompt (only what it holds crosses: the original
task, the rejected answer, each failing location), the message of a ``json_invalid`` error and of the few
errors whose wording pydantic words differently for JSON text than for parsed data, and the class of the error
a JSON failure is chained to (``json.JSONDecodeError``, or pydantic's own when it parses the JSON itself).
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from tests.hidden.conftest import Pair
from tests.hidden.remote import Answer

pytestmark = pytest.mark.ex5

#: No shrinking: a wrong answer fails at its first example, and a shrink costs two child calls a step.
QUICK = settings(phases=(Phase.explicit, Phase.generate))

#: Error types whose ``msg`` pydantic words one way for parsed data and another for JSON text
#: ("a valid dictionary or instance of X" / "an object"), or that json and pydantic word each their own way.
LOOSE_MSG_TYPES = frozenset({"json_invalid", "model_type", "list_type", "dict_type", "model_attributes_type"})

# -- what crosses, made comparable ------------------------------------------------------------------------


def _value(description: Any) -> Any:
    return description.get("value") if isinstance(description, dict) else None


def _is_error(description: Any) -> bool:
    return isinstance(description, dict) and {"error", "bases", "fields"} <= set(description)


def _json_failure(error: dict[str, Any]) -> bool:
    """The error carries a ``json_invalid`` entry: the text was not JSON."""
    errors = error.get("fields", {}).get("validation_errors", {})
    items = errors.get("items") if isinstance(errors, dict) else None
    return any(
        isinstance(entry, dict) and _value(entry.get("items", {}).get("type")) == "json_invalid"
        for entry in items or []
    )


def _entry(description: dict[str, Any]) -> dict[str, Any]:
    """One validation error (a dict described): its loc as a sequence (tuple or list), its msg free where
    the wording is pydantic's choice of mode."""
    items = dict(description["items"])
    loc = items.get("loc")
    if isinstance(loc, dict) and loc.get("type") in ("tuple", "list"):
        items["loc"] = {"type": "sequence", "items": loc["items"]}
    msg = items.get("msg")
    if _value(items.get("type")) in LOOSE_MSG_TYPES and isinstance(msg, dict) and msg.get("type") == "str":
        items["msg"] = {"type": "str", "nonempty": bool(msg.get("value"))}
    return {**description, "items": items}


def loose(description: Any) -> Any:
    """``description`` without what the contract leaves free (see the module docstring)."""
    if isinstance(description, list):
        return [loose(item) for item in description]
    if not isinstance(description, dict):
        return description
    if _is_error(description):
        out = {k: loose(v) for k, v in description.items() if k not in ("message", "cause_is_context", "traceback")}
        if _json_failure(description):
            out["cause"] = "an exception" if _is_error(description.get("cause")) else description.get("cause")
        return out
    if description.get("type") == "dict" and isinstance(description.get("items"), dict):
        keys = set(description["items"])
        if {"loc", "type"} <= keys:
            description = _entry(description)
    return {k: loose(v) for k, v in description.items() if k != "traceback"}


def same(op: str, got: dict[str, Any], want: dict[str, Any], args: dict[str, Any]) -> None:
    raised = want["result"].get("raised")
    assert raised is None or raised.get("error") == "StructuredOutputError", (
        f"{op}({_short(args)}) failed in the reference itself (is this test out of date?): {_short(want)}"
    )
    assert loose(got["result"]) == loose(want["result"]), (
        f"{op}({_short(args)}):\nexpected {_short(want['result'])}\n     got {_short(got['result'])}"
    )


def _short(value: Any, limit: int = 1500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# -- inputs -----------------------------------------------------------------------------------------------

anything = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 5),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=2),
    st.dictionaries(st.text(string.ascii_lowercase, max_size=3), st.integers(-3, 3), max_size=2),
)
short_text = st.text(min_size=1, max_size=8)


@st.composite
def objects(draw: st.DrawFn, fields: dict[str, st.SearchStrategy[Any]]) -> dict[str, Any]:
    """A JSON object with each field mostly present, sometimes one key too many or under another name."""
    out: dict[str, Any] = {}
    for name, strategy in fields.items():
        if draw(st.integers(0, 4)) > 0:
            out[name] = draw(strategy)
    if draw(st.integers(0, 5)) == 0:
        out[draw(st.sampled_from(["extra", "station_id", "unit", "tempC"]))] = draw(anything)
    return out


points = objects({"x": st.one_of(st.integers(-100, 100), anything), "y": st.one_of(st.integers(-9, 9), anything)})
readings = objects(
    {
        "stationId": st.one_of(st.text(min_size=1, max_size=8), st.text(max_size=12), anything),
        "temp_c": st.one_of(
            st.floats(-100, 100, width=32), st.integers(-100, 100), st.sampled_from(["12.5", "cold", ""]), anything
        ),
        "tags": st.one_of(st.lists(st.text(max_size=4), max_size=5), anything),
        "where": st.one_of(st.none(), points, anything),
        "kind": st.one_of(st.sampled_from(["land", "sea"]), st.sampled_from(["air", "LAND"]), anything),
    }
)
forecasts = objects(
    {
        "city": st.one_of(short_text, anything),
        "days": st.one_of(st.lists(readings, max_size=3), anything),
        "note": st.one_of(st.none(), short_text, anything),
    }
)
capitals = objects(
    {
        "country": st.one_of(short_text, anything),
        "capital": st.one_of(short_text, anything),
        "population": st.one_of(st.integers(-10, 10**12), st.none(), anything),
    }
)
PAYLOADS: dict[str, st.SearchStrategy[Any]] = {
    "Point": points,
    "Reading": readings,
    "Forecast": forecasts,
    "Capital": capitals,
}
not_objects = st.one_of(st.lists(st.integers(), max_size=3), st.text(max_size=6), st.integers(), st.none())
prose = st.text(string.ascii_letters + " .,:!?'", max_size=30)
FORMS = (
    "plain", "fenced", "fenced_bare", "fenced_other_tag", "prose_around_fence", "fence_closed_on_the_line",
    "tag_and_spaces", "two_fences", "unclosed_fence", "trailing_prose", "leading_prose", "truncated",
    "not_json", "empty", "blank", "padded",
)  # fmt: skip


@st.composite
def answers(draw: st.DrawFn, schema: str) -> str:
    """A model's answer for ``schema``: JSON (valid or not for it), fenced or not, with prose or not, broken or not."""
    data = draw(st.one_of(PAYLOADS[schema], PAYLOADS[schema], not_objects))
    body = json.dumps(data, indent=draw(st.sampled_from([None, 2])), ensure_ascii=draw(st.booleans()))
    form = draw(st.sampled_from(FORMS))
    before, after = draw(prose), draw(prose)
    if form == "plain":
        return body
    if form == "fenced":
        return f"```json\n{body}\n```"
    if form == "fenced_bare":
        return f"```\n{body}\n```"
    if form == "fenced_other_tag":
        return f"```{draw(st.sampled_from(['JSON', 'js', 'json5', 'text']))}\n{body}\n```"
    if form == "prose_around_fence":
        return f"{before}\n```json\n{body}\n```\n{after}"
    if form == "fence_closed_on_the_line":
        return f"```json\n{body}```"
    if form == "tag_and_spaces":
        return f"```json  \n{body}\n```  "
    if form == "two_fences":
        return f"```json\n{draw(st.sampled_from(['{', 'null', '{}']))}\n```\n{before}\n```json\n{body}\n```"
    if form == "unclosed_fence":
        return f"```json\n{body}"
    if form == "trailing_prose":
        return f"{body}\n{after}"
    if form == "leading_prose":
        return f"{before} {body}"
    if form == "truncated":
        return body[: draw(st.integers(0, max(0, len(body) - 1)))]
    if form == "not_json":
        return before
    if form == "empty":
        return ""
    if form == "blank":
        return draw(st.sampled_from([" ", "\n\n", " \t "]))
    return f"  \n{body}\n\t "  # padded


schemas = st.sampled_from(sorted(PAYLOADS))


@st.composite
def schema_and_answer(draw: st.DrawFn) -> tuple[str, str]:
    schema = draw(schemas)
    return schema, draw(answers(schema))


VALID_READING = '{"stationId": "OSL-1", "temp_c": -3.5, "tags": ["coast"], "where": {"x": 4}}'
WRONG_READING = '{"stationId": "", "temp_c": 99, "tags": [1], "where": {"x": 1.5}, "kind": "air"}'
VALID_FORECAST = json.dumps({"city": "Oslo", "days": [json.loads(VALID_READING)]})
WRONG_FORECAST = json.dumps({"city": "Oslo", "days": [{"stationId": "OSL-1"}], "extra": 1})

# The prompt of a request: capitals, so that no generated answer text or location is part of it.
tasks = st.lists(st.sampled_from(["GIVE", "THE", "WEATHER", "AS", "JSON", "FOR", "OSLO", "NOW"]), min_size=2).map(
    lambda words: "TASK: " + " ".join(words) + "."
)
requests = st.fixed_dictionaries(
    {"model": st.sampled_from(["m", "gpt-test", "claude-test"]), "prompt": tasks},
    optional={
        "system_prompt": st.sampled_from(["Answer in JSON only.", "Be brief."]),
        "temperature": st.floats(0.0, 2.0),
        "max_tokens": st.integers(1, 4096),
        "top_p": st.floats(0.01, 1.0),
        "stop": st.lists(st.sampled_from(["END", "\n\n", "###"]), max_size=2, unique=True),
    },
)

# ask_again's inputs: locations of lowercase names with an underscore and of numbers >= 100, errors whose
# messages hold neither, and rejected texts of other characters: what a prompt holds is told apart.
names = st.text(string.ascii_lowercase, min_size=2, max_size=6)
loc_parts = st.one_of(st.builds("{}_{}".format, names, names), st.integers(100, 99999))
MESSAGES = ["Field required", "Input should be a valid integer", "String should have at least 1 character",
            "Input should be 'land' or 'sea'", "Invalid JSON: expected value"]  # fmt: skip
validation_errors = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["missing", "int_parsing", "string_too_short", "literal_error", "json_invalid"]),
            "loc": st.lists(loc_parts, max_size=3),
            "msg": st.sampled_from(MESSAGES),
        }
    ),
    min_size=1,
    max_size=3,
)
rejected_texts = st.one_of(
    st.text("{}[]\":,0123456789 .-xyz\n", min_size=1, max_size=40), st.sampled_from(["", "not json at all"])
)
given_errors = st.fixed_dictionaries(
    {"raw_text": rejected_texts, "validation_errors": validation_errors, "caused": st.booleans()}
)


# -- parse_structured -------------------------------------------------------------------------------------


def _parse(pair: Pair, text: str, schema: str) -> None:
    got, want = pair.run("ex5.parse_structured", text=text, schema=schema)
    same("ex5.parse_structured", got, want, {"text": text, "schema": schema})


VALID = {
    "Reading": VALID_READING,
    "Forecast": VALID_FORECAST,
    "Point": '{"x": 2, "y": 3}',
    "Capital": '{"country": "Norway", "capital": "Oslo", "population": 5}',
}


def wrapped(valid: str) -> list[str]:
    """``valid`` as models write it: bare, fenced with a tag or without, inside prose, padded."""
    return [valid, f"```json\n{valid}\n```", f"```\n{valid}\n```", f"Sure! Here it is:\n```json\n{valid}\n```\nBye.",
            f"```JSON  \n{valid}```", f"  {valid}\n"]  # fmt: skip


@st.composite
def valid_answers(draw: st.DrawFn) -> tuple[str, str]:
    schema = draw(schemas)
    return schema, draw(st.one_of(st.sampled_from(wrapped(VALID[schema])), answers(schema)))


@pytest.mark.points(4)
@QUICK
@given(case=valid_answers())
@example(case=("Reading", "\n".join(["Sure! Here it is:", "```json", VALID_READING, "```", "Bye."])))
@example(case=("Forecast", f"```json\n{VALID_FORECAST}\n```"))
@example(case=("Capital", f"```\n{VALID['Capital']}\n```"))
@example(case=("Point", f"```JSON  \n{VALID['Point']}```"))
def test_parse_structured_returns_the_references_object_for_json_fenced_or_not(
    pair: Pair, case: tuple[str, str]
) -> None:
    schema, text = case
    _parse(pair, text, schema)


@pytest.mark.points(3)
@QUICK
@given(case=schema_and_answer())
@example(case=("Reading", WRONG_READING))
@example(case=("Forecast", WRONG_FORECAST))
@example(case=("Reading", f"```json\n{WRONG_READING}\n```"))
@example(case=("Reading", f"{VALID_READING}\nHope that helps!"))
@example(case=("Reading", "It is cold in Oslo today."))
@example(case=("Reading", "[1, 2]"))
@example(case=("Point", ""))
@example(case=("Guarded", '{"code": "bad"}'))
def test_parse_structured_rejects_what_the_reference_rejects_with_the_same_error(
    pair: Pair, case: tuple[str, str]
) -> None:
    schema, text = case
    _parse(pair, text, schema)


@pytest.mark.points(1)
def test_a_bug_in_the_schemas_own_validator_goes_up_untouched_not_as_a_rejected_answer(pair: Pair) -> None:
    got, want = pair.run("ex5.parse_structured", text='{"code": "boom"}', schema="Guarded")
    assert want["result"].get("raised", {}).get("error") == "TypeError", want["result"]
    raised = got["result"].get("raised") or {}
    assert raised.get("error") == "TypeError" and raised.get("cause") is None, (
        "a TypeError raised by the schema's own validator is a bug: it must reach the caller as it is, not become "
        f"a StructuredOutputError that asks the model for a repair; got {got['result']}"
    )


# -- ask_again --------------------------------------------------------------------------------------------


def _ask_again(pair: Pair, **args: Any) -> dict[str, Any]:
    got, want = pair.run("ex5.ask_again", **args)
    same("ex5.ask_again", got, want, args)
    return got


@st.composite
def repair_cases(draw: st.DrawFn, *, left: bool) -> dict[str, Any]:
    """ask_again's arguments with repairs ``left`` (answers <= max_repairs) or none left."""
    if left:
        max_repairs = draw(st.integers(1, 4))
        answers = draw(st.integers(1, max_repairs))
    else:
        max_repairs = draw(st.integers(0, 4))
        answers = draw(st.integers(max_repairs + 1, max_repairs + 3))
    return {"req": draw(requests), "error": draw(given_errors), "answered": answers, "max_repairs": max_repairs}


@pytest.mark.points(3)
@settings(QUICK, max_examples=40)
@given(case=repair_cases(left=True))
def test_ask_again_asks_the_same_request_with_a_prompt_holding_the_task_the_answer_and_its_errors(
    pair: Pair, case: dict[str, Any]
) -> None:
    _ask_again(pair, **case)


@pytest.mark.points(2)
@settings(QUICK, max_examples=40)
@given(case=repair_cases(left=False))
def test_ask_again_gives_up_after_max_repairs_with_the_last_answer_chained_to_its_error(
    pair: Pair, case: dict[str, Any]
) -> None:
    _ask_again(pair, **case)


# -- the flow they drive ----------------------------------------------------------------------------------

NO_MORE = "(no more scripted answers)"


class Model:
    """The grader's side of a driven flow: answers each request with the next scripted text, records what it
    was asked."""

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.asked: list[dict[str, Any]] = []

    def __call__(self, kind: str, args: dict[str, Any]) -> Any:
        self.asked.append({"kind": kind, **args})
        return self.script.pop(0) if self.script else NO_MORE


def models(script: list[str]) -> tuple[list[Model], Callable[[], Answer]]:
    made: list[Model] = []

    def factory() -> Answer:
        made.append(Model(script))
        return made[-1]

    return made, factory


@st.composite
def flows(draw: st.DrawFn) -> dict[str, Any]:
    schema = draw(schemas)
    script = draw(st.lists(st.one_of(answers(schema), st.just(VALID[schema])), min_size=1, max_size=5))
    return {"req": draw(requests), "schema": schema, "max_repairs": draw(st.integers(0, 3)), "script": script}


@pytest.mark.points(3)
@settings(QUICK, max_examples=40)
@given(case=flows())
@example(case={"req": {"model": "m", "prompt": "TASK: GIVE THE WEATHER."}, "schema": "Reading", "max_repairs": 2,
               "script": ["It is cold.", WRONG_READING, f"```json\n{VALID_READING}\n```"]})  # fmt: skip
@example(case={"req": {"model": "m", "prompt": "TASK: GIVE THE WEATHER.", "system_prompt": "Be brief.",
                       "temperature": 0.5, "max_tokens": 9, "top_p": 0.5, "stop": ["END"]},
               "schema": "Forecast", "max_repairs": 1, "script": [WRONG_FORECAST, "nope", VALID_FORECAST]})  # fmt: skip
def test_structured_flow_asks_what_the_reference_asks_and_ends_the_same(pair: Pair, case: dict[str, Any]) -> None:
    script = case.pop("script")
    made, factory = models(script)
    got, want = pair.run("ex5.structured_flow", answers=factory, **case)
    sub, ref = made
    assert sub.asked == ref.asked, (
        f"structured_flow({_short(case)}) answered {_short(script)}:\nthe reference asked {_short(ref.asked)}\n"
        f"     the submission asked {_short(sub.asked)}"
    )
    same("ex5.structured_flow", got, want, {**case, "script": script})

"""Exercise 5 in the child: parse_structured, ask_again, and the structured_flow they drive.

The schemas live here, so both children validate against the very same classes
(``ops.ex5.Reading`` ...): nested models, aliases, constraints, optional fields,
a Literal and a model that forbids extra keys.

A repair prompt's wording is the submission's own: what crosses for it is what
it holds (:func:`prompt_holds`), never its text.
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any, Literal

import wire
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class Point(BaseModel):
    x: int
    y: int = 0


class Reading(BaseModel):
    """Aliased (camelCase on the wire), constrained, nested and optional fields."""

    station_id: str = Field(alias="stationId", min_length=1, max_length=8)
    temp_c: float = Field(ge=-90, le=60)
    tags: list[str] = Field(default_factory=list, max_length=3)
    where: Point | None = None
    kind: Literal["land", "sea"] = "land"


class Forecast(BaseModel):
    """A list of nested models, and no extra key allowed."""

    model_config = ConfigDict(extra="forbid")
    city: str
    days: list[Reading] = Field(min_length=1)
    note: str | None = None


class Capital(BaseModel):
    country: str
    capital: str
    population: int | None = Field(default=None, ge=0)


class Guarded(BaseModel):
    """A schema whose own validator has a bug for one value: a TypeError is a bug, never a rejected answer."""

    code: str

    @field_validator("code")
    @classmethod
    def _known(cls, value: str) -> str:
        if value == "boom":
            raise TypeError("a bug in the schema's own validator")
        if value == "bad":
            raise ValueError("not a known code")
        return value


SCHEMAS: dict[str, type[BaseModel]] = {
    "Point": Point, "Reading": Reading, "Forecast": Forecast, "Capital": Capital, "Guarded": Guarded,
}  # fmt: skip

#: The most answers a driven flow is given before the op stops it (a flow that never ends).
MAX_ANSWERS = 12

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n(.*?)\n?```", re.DOTALL)


def _request(fields: dict[str, Any]) -> Any:
    from llm_client.request import LLMRequest

    return LLMRequest(**fields)


def _given_error(spec: dict[str, Any]) -> Any:
    """The StructuredOutputError a parse would have raised: its raw text, its errors (loc as tuples), a cause."""
    from llm_client.errors import StructuredOutputError

    errors = [{"type": e["type"], "loc": tuple(e["loc"]), "msg": e["msg"]} for e in spec["validation_errors"]]
    error = StructuredOutputError("the answer was rejected", raw_text=spec["raw_text"], validation_errors=errors)
    if spec.get("caused"):
        error.__cause__ = ValueError("what the parse met")
    return error


def prompt_holds(prompt: Any, original: str, rejected: str, locations: list[tuple[Any, ...]]) -> dict[str, Any]:
    """What a repair prompt holds: the original task (how many times), the rejected answer (as given, or quoted
    the way JSON or repr() quote it), and, outside those two, every part of each failing location."""
    if not isinstance(prompt, str):
        return {"is_text": False}
    rest = prompt.replace(original, "\x00")
    forms = {rejected, json.dumps(rejected)[1:-1], json.dumps(rejected, ensure_ascii=False)[1:-1], repr(rejected)[1:-1]}
    shown = [form for form in sorted(forms, key=len, reverse=True) if form and form in rest]
    for form in shown:
        rest = rest.replace(form, "\x00")
    first_task = prompt.find(original)
    first_shown = min((prompt.find(form) for form in shown), default=-1)
    return {
        "is_text": True,
        "task_first": first_task != -1 and (first_shown == -1 or first_task <= first_shown),
        "task_times": prompt.count(original),
        "shows_rejected": not rejected or bool(shown),
        "names_each_location": [all(str(part) in rest for part in loc) for loc in locations],
    }


def _asked(asked: Any, original: Any, rejected: str | None, locations: list[tuple[Any, ...]]) -> dict[str, Any]:
    """A request as it crosses: its type and every field but the prompt, described; the prompt as what it holds."""
    if not (dataclasses.is_dataclass(asked) and not isinstance(asked, type)):
        return {"not_a_request": wire.describe(asked)}
    fields = {f.name: wire.describe(getattr(asked, f.name)) for f in dataclasses.fields(asked) if f.name != "prompt"}
    prompt = getattr(asked, "prompt", None)
    if rejected is None:
        holds: dict[str, Any] = {"is_the_original": prompt == original.prompt}
    else:
        holds = prompt_holds(prompt, original.prompt, rejected, locations)
    return {"type": wire.describe(asked)["type"], "fields": fields, "prompt_holds": holds}


def _locations(text: str, schema: type[BaseModel]) -> list[tuple[Any, ...]]:
    """Where ``text`` fails ``schema``, worked out here (not by the graded code): the locations a repair names."""
    match = _FENCE.search(text)
    candidate = (match.group(1) if match else text).strip()
    try:
        data = json.loads(candidate)
    except ValueError:
        return [()]
    try:
        schema.model_validate(data)
    except ValidationError as exc:
        return [tuple(e["loc"]) for e in exc.errors()]
    return []


def parse_structured(channel: Any, *, text: str, schema: str) -> Any:
    from llm_client.structured import parse_structured as graded

    return graded(text, SCHEMAS[schema])


def ask_again(channel: Any, *, req: dict[str, Any], error: dict[str, Any], answered: int, max_repairs: int) -> Any:
    """``ask_again(req, error, answers=answered, max_repairs=...)``: the next request (its prompt as what it
    holds), or the error it raises."""
    from llm_client.structured import ask_again as graded

    request = _request(req)
    given = _given_error(error)
    asked = graded(request, given, answers=answered, max_repairs=max_repairs)
    locations = [tuple(e["loc"]) for e in given.validation_errors]
    return _asked(asked, request, given.raw_text, locations)


def structured_flow(channel: Any, *, req: dict[str, Any], schema: str, max_repairs: int) -> Any:
    """Drive ``structured_flow(req, schema, max_repairs=...)`` as the clients do; each request it yields is
    answered by the grader (``model.answer``). Returns the flow's value, or raises what it raises."""
    from llm_client.structured import structured_flow as flow_of

    request = _request(req)
    model = SCHEMAS[schema]
    flow = flow_of(request, model, max_repairs=max_repairs)
    asked = next(flow)
    rejected: str | None = None
    for _ in range(MAX_ANSWERS):
        locations = _locations(rejected, model) if rejected is not None else []
        text = channel.ask("model.answer", _asked(asked, request, rejected, locations))
        try:
            asked = flow.send(text)
        except StopIteration as done:
            return done.value
        rejected = text
    return f"the flow still asked after {MAX_ANSWERS} answers"


OPS = {
    "ex5.parse_structured": parse_structured,
    "ex5.ask_again": ask_again,
    "ex5.structured_flow": structured_flow,
}

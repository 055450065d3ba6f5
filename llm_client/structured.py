"""Structured output: turn model text into a validated pydantic object, or say exactly why not.

The whole conversation is one flow without I/O, :func:`structured_flow`: a
generator that yields each request to send and receives each answer's text
(``flow.send(text)``), the way httpx's ``Auth.auth_flow`` yields requests and
receives responses. It ends by returning the validated object, or by raising
StructuredOutputError. LLMClient and AsyncLLMClient each drive it in a few
lines, so both validate, repair and fail in exactly the same way.

The flow itself is two decisions, each a plain function:

- :func:`parse_structured`: is this text a valid answer? (parse, then validate);
- :func:`ask_again`: after a rejected answer, the request that asks again with
  the errors fed back (:func:`repair_prompt`), or the error that ends the call.
"""

from __future__ import annotations

import dataclasses  # needed by ex5  # noqa: F401
import hashlib
import json
import re
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, ValidationError  # needed by ex5  # noqa: F401

from llm_client.errors import StructuredOutputError

if TYPE_CHECKING:
    from llm_client.request import LLMRequest

__all__ = [
    "ask_again",
    "check_schema",
    "extract_json",
    "parse_structured",
    "repair_prompt",
    "schema_cache_key",
    "structured_flow",
]

T = TypeVar("T", bound=BaseModel)

_FENCE = re.compile(r"```[a-zA-Z0-9_-]*[ \t]*\n(.*?)\n?```", re.DOTALL)


def check_schema(schema: Any) -> type[BaseModel]:
    """Return ``schema`` if it is a pydantic model class, else raise TypeError naming it."""
    if not (isinstance(schema, type) and issubclass(schema, BaseModel)):
        raise TypeError(f"schema must be a pydantic BaseModel subclass, got {schema!r}")
    return schema


def extract_json(text: str) -> str:
    """The JSON part of ``text``: the inside of the first fenced code block if there is one, else all of it."""
    match = _FENCE.search(text)
    return (match.group(1) if match else text).strip()


def parse_structured(text: str, schema: type[T]) -> T:
    """Parse ``text`` as JSON (a fenced block around it is fine) and validate it against ``schema``.

    Returns the validated instance. Raises StructuredOutputError carrying
    ``raw_text`` (the text as given) and ``validation_errors`` (pydantic's
    ``errors()`` shape; for text that is not JSON at all, one error of type
    ``json_invalid``), chained to the JSON or validation error.

    With ``Ticket`` a model of a ``title`` and a ``priority`` (low, medium or high)::

        '{"title": "Login fails", "priority": "high"}'    -> Ticket(title='Login fails', priority='high')
        the same in a json code fence, prose around it   -> the same Ticket
        'Sure! High priority.'                           -> raises: json_invalid at ()
        '{"title": "Login fails", "priority": "urgent"}'  -> raises: literal_error at ('priority',)
    """
    # TODO(ex5): write parse_structured; notebooks/05_ex5_structured_output.ipynb walks you through it.
    raise NotImplementedError("ex5: parse_structured is not written yet (see notebooks/05_ex5_structured_output.ipynb)")


def ask_again(req: LLMRequest, error: StructuredOutputError, *, answers: int, max_repairs: int) -> LLMRequest:
    """The request to send after the ``answers``-th rejected answer (counted from 1), or the error that ends the call.

    ``error`` is what :func:`parse_structured` raised for the rejected answer.
    While repairs are left (``answers <= max_repairs``), returns ``req`` with
    its prompt replaced by ``repair_prompt(req.prompt, error.raw_text,
    error.validation_errors)``: the same model, the original task, the rejected
    answer and what was wrong with it. Otherwise raises StructuredOutputError
    carrying the last answer's ``raw_text`` and ``validation_errors``, chained
    to ``error``.
    """
    # TODO(ex5): write ask_again; notebooks/05_ex5_structured_output.ipynb walks you through it.
    raise NotImplementedError("ex5: ask_again is not written yet (see notebooks/05_ex5_structured_output.ipynb)")


def structured_flow(req: LLMRequest, schema: type[T], *, max_repairs: int) -> Generator[LLMRequest, str, T]:
    """The structured-output conversation for ``req``, without I/O.

    Yields each request to send (``req`` first) and expects the text of its
    answer back through ``send``; returns (``StopIteration.value``) the first
    answer that validates against ``schema``, after at most ``max_repairs + 1``
    answers, or raises StructuredOutputError. Driving it::

        flow = structured_flow(req, schema, max_repairs=1)
        asked = next(flow)
        while True:
            text = ...  # send ``asked``, get its text
            try:
                asked = flow.send(text)
            except StopIteration as done:
                return done.value
    """
    asked = req
    answers = 0
    while True:
        text = yield asked
        answers += 1
        try:
            return parse_structured(text, schema)
        except StructuredOutputError as exc:
            asked = ask_again(req, exc, answers=answers, max_repairs=max_repairs)


def repair_prompt(original_prompt: str, bad_text: str, errors: list[dict[str, Any]]) -> str:
    """The prompt that asks again: the original task, the rejected answer, and what was wrong with it."""
    problems = "\n".join(
        f"- {'.'.join(str(part) for part in e.get('loc', ())) or '(root)'}: {e.get('msg', e.get('type'))}"
        for e in errors
    )
    return (
        f"{original_prompt}\n\n"
        f"Your previous answer was:\n{bad_text}\n\n"
        f"It was rejected because:\n{problems}\n\n"
        "Answer again with only the corrected JSON."
    )


def schema_cache_key(base_key: str, schema: type[BaseModel]) -> str:
    """A cache key for ``schema``-validated output of the request whose key is ``base_key``.

    The schema's name and JSON Schema are part of it, so the same prompt
    validated against two schemas never shares an entry with the other, or
    with the plain-text answer.
    """
    schema_json = json.dumps(
        {"name": schema.__qualname__, "schema": schema.model_json_schema()}, sort_keys=True, default=str
    )
    return hashlib.sha256(f"{base_key}\x00{schema_json}".encode()).hexdigest()

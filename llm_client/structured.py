"""Structured output: turn model text into a validated pydantic object, or say exactly why not."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError  # needed by ex4  # noqa: F401

from llm_client.errors import StructuredOutputError  # needed by ex4  # noqa: F401

__all__ = ["check_schema", "extract_json", "parse_structured", "repair_prompt", "schema_cache_key"]

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
    """
    # TODO(ex4): write parse_structured; notebooks/06_ex4_structured_output.ipynb walks you through it.
    raise NotImplementedError("ex4: parse_structured is not written yet (see notebooks/06_ex4_structured_output.ipynb)")


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

"""Values as plain JSON, the only form in which anything crosses between the grader and a graded child.

Both sides import this module: the child to describe what the graded code returned
or raised, the parent to compare two descriptions. A description names the
value's exact type, so an object that claims to equal anything describes as what
it is (``{"type": "builtins.object"}``) and equals nothing it should not.
Nothing is ever unpickled, and the parent never imports the graded package.

Described exactly: None, bool, int, float (``inf``, ``-inf`` and ``nan`` as
strings), str, list and tuple, dict with str keys, a dataclass (its fields), a
pydantic model (its ``model_dump(mode="json")``), an exception (its class, the
class's base names, its message, the public attributes the kit's errors carry,
and its ``__cause__``). Anything else is its type's name alone.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

#: The attributes of the kit's errors that a description keeps (each only when the error has it).
ERROR_FIELDS = (
    "status_code",
    "retry_after",
    "retryable",
    "provider_message",
    "attempts",
    "last_error",
    "raw_text",
    "validation_errors",
    "location",
    "limit_bytes",
    "error_type",
    "error_code",
    "request_id",
)
#: How deep a description follows nested values (a cause's cause ...).
MAX_DEPTH = 8


def _type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}"


def _float(value: float) -> Any:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def describe(value: object, depth: int = 0) -> dict[str, Any]:
    """A JSON-ready description of ``value`` (see the module docstring)."""
    if depth > MAX_DEPTH:
        return {"type": _type_name(value), "truncated": True}
    kind = type(value)
    if value is None:
        return {"type": "None"}
    if kind is bool:
        return {"type": "bool", "value": value}
    if kind is int:
        return {"type": "int", "value": value}
    if kind is float:
        return {"type": "float", "value": _float(value)}  # type: ignore[arg-type]
    if kind is str:
        return {"type": "str", "value": value}
    if kind is list or kind is tuple:
        return {"type": kind.__name__, "items": [describe(item, depth + 1) for item in value]}  # type: ignore[attr-defined]
    if kind is dict:
        items = value.items()  # type: ignore[attr-defined]
        if all(type(key) is str for key, _ in items):
            return {"type": "dict", "items": {key: describe(item, depth + 1) for key, item in items}}
        return {"type": "dict", "pairs": [[describe(k, depth + 1), describe(v, depth + 1)] for k, v in items]}
    if isinstance(value, BaseException):
        return describe_error(value, depth)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: describe(getattr(value, f.name), depth + 1) for f in dataclasses.fields(value)}
        return {"type": _type_name(value), "fields": fields}
    dump = getattr(value, "model_dump", None)
    if callable(dump) and any(base.__name__ == "BaseModel" for base in kind.__mro__):
        try:
            return {"type": _type_name(value), "model": describe(dump(mode="json"), depth + 1)}
        except Exception as exc:  # a model that cannot dump itself is described by that failure
            return {"type": _type_name(value), "model_error": type(exc).__name__}
    return {"type": _type_name(value)}


def describe_error(error: BaseException, depth: int = 0) -> dict[str, Any]:
    """An exception's class, its bases' names, message, the kit's fields it has, and its cause."""
    kind = type(error)
    fields = {name: describe(getattr(error, name), depth + 1) for name in ERROR_FIELDS if hasattr(error, name)}
    try:
        message = str(error)
    except Exception:  # an exception whose __str__ fails still describes
        message = "<unprintable>"
    cause = error.__cause__
    return {
        "type": _type_name(error),
        "error": kind.__name__,
        "bases": [base.__name__ for base in kind.__mro__[1:] if base is not object],
        "message": message,
        "fields": fields,
        "cause": None if cause is None else describe(cause, depth + 1),
        "cause_is_context": cause is not None and cause is error.__context__,
    }


def without(description: Any, keys: frozenset[str] = frozenset({"message"})) -> Any:
    """``description`` with ``keys`` dropped at every level: what a contract leaves free (a message's wording)."""
    if isinstance(description, dict):
        return {key: without(value, keys) for key, value in description.items() if key not in keys}
    if isinstance(description, list):
        return [without(item, keys) for item in description]
    return description

"""Exercise 2 in the child: make_cache_key over a batch of requests, and its refusal of what is no request."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace
from typing import Any


def _build(spec: dict[str, Any]) -> Any:
    """The LLMRequest ``spec`` describes: its fields (``stop`` a list), how ``stop`` is passed (``stop_as``:
    "tuple" or "list") and how the request is made (``build``: "keywords", "positional" or "replace")."""
    from llm_client import LLMRequest

    fields = dict(spec)
    stop_as = fields.pop("stop_as", "tuple")
    build = fields.pop("build", "keywords")
    if "stop" in fields:
        fields["stop"] = tuple(fields["stop"]) if stop_as == "tuple" else list(fields["stop"])
    if build == "positional":
        names = [field.name for field in dataclasses.fields(LLMRequest)]
        return LLMRequest(*(fields[name] for name in names if name in fields))
    if build == "replace":
        return dataclasses.replace(LLMRequest(model="other-model", prompt="other prompt", stop=("x",)), **fields)
    return LLMRequest(**fields)


def keys(channel: Any, *, requests: list[dict[str, Any]]) -> Any:
    """``make_cache_key`` of each request ``requests`` describes (see ``_build``), in order."""
    from llm_client import make_cache_key

    built = [_build(spec) for spec in requests]
    return [make_cache_key(request) for request in built]


@dataclasses.dataclass(frozen=True)
class _LookAlike:
    """A request in all but its type."""

    model: str = "gpt-test"
    prompt: str = "hi"
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None


def refuse(channel: Any, *, what: str) -> Any:
    """Key one valid request (a stub fails here already), then the non-request ``what`` names."""
    from llm_client import LLMRequest, make_cache_key

    first = make_cache_key(LLMRequest(model="gpt-test", prompt="hi"))
    fields = {
        "model": "gpt-test",
        "prompt": "hi",
        "system_prompt": None,
        "temperature": None,
        "max_tokens": None,
        "top_p": None,
        "stop": (),
        "reasoning_effort": None,
    }
    things: dict[str, Any] = {
        "none": None,
        "str": "gpt-test|hi",
        "bytes": b"gpt-test|hi",
        "dict": fields,
        "list": list(fields.values()),
        "namespace": SimpleNamespace(**fields),
        "lookalike": _LookAlike(),
        "the_class": LLMRequest,
        "int": 0,
    }
    return [type(first).__name__, make_cache_key(things[what])]


OPS = {"ex2.keys": keys, "ex2.refuse": refuse}

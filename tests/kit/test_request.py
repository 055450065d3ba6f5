"""LLMRequest validation and make_cache_key (llm_client/request.py)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from llm_client import LLMRequest, make_cache_key

pytestmark = pytest.mark.kit

BASE: dict[str, Any] = {"model": "gpt-4o-mini", "prompt": "Name the capital of France."}


def request(**changes: Any) -> LLMRequest:
    return LLMRequest(**{**BASE, **changes})


# -- LLMRequest ------------------------------------------------------------------------------


def test_request_defaults_are_the_documented_ones() -> None:
    req = LLMRequest(model="m", prompt="p")
    assert (req.system_prompt, req.temperature, req.max_tokens, req.top_p, req.stop, req.reasoning_effort) == (
        None, None, None, None, (), None
    )


def test_request_is_frozen() -> None:
    req = request()
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.prompt = "changed"  # type: ignore[misc]


def test_request_stores_a_stop_list_as_a_tuple_so_it_stays_hashable() -> None:
    req = request(stop=["END", "###"])
    assert req.stop == ("END", "###")
    assert hash(req) == hash(request(stop=("END", "###")))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 0),
        ("temperature", 2.0),
        ("max_tokens", 1),
        ("top_p", 1.0),
        ("top_p", 0.01),
        ("system_prompt", "You answer in one word."),
        ("stop", ("\n\n",)),
        ("stop", (" ", "\n")),
    ],
)
def test_request_accepts_boundary_values(field: str, value: Any) -> None:
    assert getattr(request(**{field: value}), field) == value


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("model", "", ValueError),
        ("model", "   ", ValueError),
        ("model", None, TypeError),
        ("model", 4, TypeError),
        ("prompt", "", ValueError),
        ("prompt", 42, TypeError),
        ("prompt", b"bytes", TypeError),
        ("prompt", ["a", "list"], TypeError),
        ("system_prompt", "", ValueError),
        ("system_prompt", 1, TypeError),
        ("temperature", math.nan, ValueError),
        ("temperature", math.inf, ValueError),
        ("temperature", -0.1, ValueError),
        ("temperature", 2.01, ValueError),
        ("temperature", True, TypeError),
        ("temperature", "0.5", TypeError),
        ("max_tokens", 0, ValueError),
        ("max_tokens", -5, ValueError),
        ("max_tokens", True, TypeError),
        ("max_tokens", 10.0, TypeError),
        ("top_p", 0.0, ValueError),
        ("top_p", 1.5, ValueError),
        ("top_p", math.nan, ValueError),
        ("top_p", False, TypeError),
        ("stop", "END", TypeError),
        ("stop", ("",), ValueError),
        ("stop", (1,), TypeError),
    ],
)
def test_request_rejects_invalid_values_at_construction_naming_the_field(field: str, value: Any, error: type) -> None:
    with pytest.raises(error, match=rf"\b{field}\b"):
        request(**{field: value})


# -- make_cache_key --------------------------------------------------------------------------

HEX64 = re.compile(r"[0-9a-f]{64}")


def test_cache_key_is_64_lowercase_hex_characters() -> None:
    assert HEX64.fullmatch(make_cache_key(request()))


def test_cache_key_is_the_same_for_equal_requests_built_separately() -> None:
    assert make_cache_key(request(stop=["a"], top_p=0.5)) == make_cache_key(request(stop=("a",), top_p=0.5))


_KEY_SCRIPT = """
from llm_client import LLMRequest, make_cache_key
print(make_cache_key(LLMRequest(model="m", prompt="héllo ✓", system_prompt="s", temperature=0.7,
                                max_tokens=64, top_p=0.9, stop=("END", "###"))))
"""


def test_cache_key_is_the_same_in_other_processes_and_hash_seeds(tmp_path: Path) -> None:
    here = make_cache_key(
        LLMRequest(
            model="m",
            prompt="héllo ✓",
            system_prompt="s",
            temperature=0.7,
            max_tokens=64,
            top_p=0.9,
            stop=("END", "###"),
        )
    )
    children = [  # started together, so the two imports overlap
        subprocess.Popen(
            [sys.executable, "-c", _KEY_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=tmp_path,  # not the repository root, whose llm_client/ is the learner package
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in ("0", "4242")
    ]
    keys = set()
    for child in children:
        out, err = child.communicate(timeout=60)
        assert child.returncode == 0, err
        keys.add(out.strip())
    assert keys == {here}


@pytest.mark.parametrize(
    "changes",
    [
        {"model": "gpt-4o"},
        {"prompt": "Name the capital of Spain."},
        {"system_prompt": "Answer in French."},
        {"temperature": 0.7},
        {"max_tokens": 100},
        {"top_p": 0.9},
        {"stop": ("END",)},
        {"reasoning_effort": "low"},
        {"temperature": 0.0},
    ],
    ids=lambda changes: "=".join(map(str, next(iter(changes.items())))),
)
def test_cache_key_changes_when_any_output_affecting_field_changes(changes: dict[str, Any]) -> None:
    assert make_cache_key(request(**changes)) != make_cache_key(request())


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"system_prompt": "A", "prompt": "B"}, {"system_prompt": "B", "prompt": "A"}),
        ({"stop": ("ab", "c")}, {"stop": ("a", "bc")}),
        ({"stop": ("a,b",)}, {"stop": ("a", "b")}),
        ({"max_tokens": 1}, {"top_p": 1.0}),
        ({"system_prompt": "You are terse."}, {"prompt": "You are terse.\nName the capital of France."}),
    ],
)
def test_cache_key_tells_apart_requests_that_concatenate_alike(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert make_cache_key(request(**first)) != make_cache_key(request(**second))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ({"temperature": 0}, {"temperature": 0.0}),
        ({"temperature": 1}, {"temperature": 1.0}),
        ({"top_p": 1}, {"top_p": 1.0}),
        ({"stop": ["x"]}, {"stop": ("x",)}),
        ({}, {"system_prompt": None, "temperature": None, "max_tokens": None, "top_p": None, "stop": ()}),
    ],
)
def test_cache_key_is_the_same_for_the_same_effective_input(first: dict[str, Any], second: dict[str, Any]) -> None:
    assert make_cache_key(request(**first)) == make_cache_key(request(**second))


def test_cache_key_tells_a_setting_left_unset_from_every_value_it_could_take() -> None:
    unset = make_cache_key(request())
    assert request().temperature is None and request().top_p is None
    for value in (0, 0.0, 1.0, 2.0):
        assert make_cache_key(request(temperature=value)) != unset
    assert make_cache_key(request(top_p=1.0)) != unset


def test_cache_key_holds_none_of_the_request_text() -> None:
    secret = "my-password-is-hunter2"
    key = make_cache_key(request(prompt=secret, system_prompt=secret))
    assert HEX64.fullmatch(key)
    assert "hunter2" not in key


def test_cache_key_rejects_anything_but_a_request() -> None:
    with pytest.raises(TypeError, match="req"):
        make_cache_key({"model": "m", "prompt": "p"})  # type: ignore[arg-type]

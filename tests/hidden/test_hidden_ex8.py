"""Hidden tier, exercise 8 (optional): parse_sse_block and after_stream_failure against the reference.

parse_sse_block has one right answer for every block, so it is compared exactly, on generated blocks: data
lines with and without the space after the colon, comments, event names (empty ones too), unknown fields,
fields without a colon, names that differ only in case, values that hold colons. after_stream_failure is run
on generated failures (the error's class, the attempt, the retries allowed, the partial text) with a stand-in
for exercise 1's after_failure; what it returned or raised (which object, its partial text, its cause and
chaining), whom it asked, and what it logged are compared.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.hidden.conftest import Pair
from tests.hidden.ops.ex8 import ERRORS

pytestmark = pytest.mark.ex8

NAMES = ["data", "event", "id", "retry", "Data", "DATA", "Event", "", "x", "data ", " data"]
values = st.one_of(
    st.sampled_from(["", " ", "  ", "[DONE]", '{"a": 1}', "a:b", ": x", " lead", "ping", "message"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=12),
)


@st.composite
def lines(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["field", "field", "field", "comment", "bare"]))
    if kind == "comment":
        return ":" + draw(values)
    name = draw(st.sampled_from(NAMES))
    if kind == "bare":
        return name
    space = draw(st.sampled_from(["", " ", "  "]))
    return f"{name}:{space}{draw(values)}"


blocks = st.lists(lines(), min_size=1, max_size=8)


@pytest.mark.points(3)
@given(block=blocks)
@example(block=["event: content_block_delta", ": a comment", "data: a", "data:b"])
@example(block=["data:  two spaces", "id: 1"])
@example(block=["data", "data"])
@example(block=["event:", "data: x"])
@example(block=["event: a", "event: b", "data: x"])
@example(block=["Data: x"])
@example(block=["data: a:b"])
def test_parse_sse_block_is_the_references_for_generated_blocks(pair: Pair, block: list[str]) -> None:
    pair.same_result("ex8.parse_block", lines=block)


@pytest.mark.points(2)
@given(block=st.lists(st.sampled_from([": ping", "event: ping", "id: 3", "retry: 10", "data", "data:", "x: y"]),
                      min_size=1, max_size=4))  # fmt: skip
def test_parse_sse_block_finds_no_event_where_the_reference_finds_none(pair: Pair, block: list[str]) -> None:
    pair.same_result("ex8.parse_block", lines=block)


partial = st.one_of(st.just(""), st.text(max_size=20))


def _failure(pair: Pair, case: dict[str, Any]) -> None:
    got = pair.same_result("ex8.stream_failure", **case)
    assert "ok" in got["result"], f"after_stream_failure's run failed: {got['result']}"


@st.composite
def failures(draw: st.DrawFn, *, text: st.SearchStrategy[str]) -> dict[str, Any]:
    max_retries = draw(st.integers(min_value=0, max_value=4))
    return {
        "error": draw(st.sampled_from(ERRORS)),
        "message": draw(st.sampled_from(["busy", "cut", ""])),
        "attempt": draw(st.integers(min_value=0, max_value=max_retries)),
        "partial_text": draw(text),
        "max_retries": max_retries,
        "wait": draw(st.sampled_from([0.0, 0.25, 1.5])),
    }


@pytest.mark.points(2)
@given(case=failures(text=st.just("")))
@example(case={"error": "ServerError", "message": "busy", "attempt": 1, "partial_text": "", "max_retries": 1,
               "wait": 0.5})  # fmt: skip
def test_before_any_text_a_failure_is_after_failures_as_the_reference(pair: Pair, case: dict[str, Any]) -> None:
    _failure(pair, case)


@pytest.mark.points(3)
@given(case=failures(text=st.text(min_size=1, max_size=20)))
@example(case={"error": "ContentRefusedError", "message": "no", "attempt": 0, "partial_text": "Hel",
               "max_retries": 2, "wait": 0.5})  # fmt: skip
@example(case={"error": "ServerError", "message": "cut", "attempt": 0, "partial_text": "Hel", "max_retries": 2,
               "wait": 0.5})  # fmt: skip
def test_after_text_a_failure_ends_the_stream_as_the_reference_ends_it(pair: Pair, case: dict[str, Any]) -> None:
    _failure(pair, case)

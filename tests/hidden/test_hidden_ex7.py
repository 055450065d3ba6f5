"""Hidden tier, exercise 7 (optional): TokenBucket.take against the reference, over generated call sequences.

Waits, balances and times are compared to 1e-9 relative (an algebraically equal formula may round differently);
types, errors and the order of events exactly.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hidden import wire
from tests.hidden.conftest import Pair

pytestmark = pytest.mark.ex7

rates = st.floats(min_value=0.01, max_value=1000.0)
capacities = st.floats(min_value=1.0, max_value=500.0)


def _close(got: Any, want: Any) -> bool:
    if isinstance(got, dict) and isinstance(want, dict):
        if got.get("type") == want.get("type") == "float":
            a, b = got["value"], want["value"]
            if isinstance(a, float) and isinstance(b, float):
                return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
            return bool(a == b)
        return got.keys() == want.keys() and all(_close(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_close(a, b) for a, b in zip(got, want, strict=True))
    return bool(got == want)


def _compare(pair: Pair, **args: Any) -> None:
    got, want = pair.run("ex7.take_sequence", **args)
    loose = frozenset({"message", "traceback"})
    a, b = wire.without(got["result"], loose), wire.without(want["result"], loose)
    assert _close(a, b), f"take_sequence({args}): expected {b}, got {a}"


@st.composite
def sequences(draw: st.DrawFn, *, backwards: bool) -> dict[str, Any]:
    capacity = draw(capacities)
    start = draw(st.floats(min_value=0.0, max_value=100.0))
    now = start
    calls = []
    for _ in range(draw(st.integers(min_value=1, max_value=12))):
        step = draw(st.floats(min_value=-2.0 if backwards else 0.0, max_value=5.0))
        now = max(0.0, now + step)
        amount = draw(st.one_of(st.none(), st.floats(min_value=0.0, max_value=capacity)))
        calls.append([now, amount])
    return {"rate": draw(rates), "capacity": capacity, "start": start, "calls": calls}


@pytest.mark.points(5)
@given(case=sequences(backwards=False))
def test_each_take_waits_lends_and_refills_as_the_reference(pair: Pair, case: dict[str, Any]) -> None:
    _compare(pair, **case)


@pytest.mark.points(4)
@given(case=sequences(backwards=True))
def test_a_clock_that_seems_to_go_back_changes_what_the_reference_changes(pair: Pair, case: dict[str, Any]) -> None:
    _compare(pair, **case)


@pytest.mark.points(2)
@given(
    now=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.text(max_size=2)),
    amount=st.one_of(st.floats(min_value=-5.0, max_value=50.0), st.booleans()),
)
def test_bad_arguments_are_refused_as_the_reference_refuses_them(pair: Pair, now: Any, amount: Any) -> None:
    _compare(pair, rate=2.0, capacity=10.0, start=0.0, calls=[[1.0, 1.0], [now, amount]])

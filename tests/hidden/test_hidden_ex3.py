"""Hidden tier, exercise 3: backoff_delay against the reference, and add_jitter's draws, on generated inputs.

backoff_delay has one right value for every input (its formula, without overflow), so it is compared exactly.
add_jitter's contract leaves free how a draw u from [0, 1) becomes a wait in [0, delay_s], so long as it is
uniform: the wait must be delay_s * u or delay_s * (1 - u) for every u the generator gives, and it must use
exactly one draw of the generator it was given (or of the random module's, when given none).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.hidden.conftest import Pair

pytestmark = pytest.mark.ex3

EDGES = [0.0, 5e-324, 1e-300, 1e-10, 0.25, 0.5, 1.0, 3.0, 60.0, 1e6, 1e300, 1.7976931348623157e308]
attempts = st.one_of(st.integers(min_value=0, max_value=64), st.integers(min_value=0, max_value=5000))
seconds = st.one_of(st.sampled_from(EDGES), st.floats(min_value=0.0, max_value=1e308, allow_nan=False))
odd = st.one_of(
    st.integers(min_value=-3, max_value=-1),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.5, True, False, None, "1", 1.5]),
)
units = st.lists(st.floats(min_value=0.0, max_value=1.0, exclude_max=True), min_size=3, max_size=6)


@pytest.mark.points(4)
@given(attempt=attempts, base=seconds, cap=seconds)
@example(attempt=1100, base=1e-300, cap=1e300)
@example(attempt=2000, base=5e-324, cap=1.7976931348623157e308)
@example(attempt=3, base=0.5, cap=0.0)
@example(attempt=1030, base=1e-300, cap=1e300)
@example(attempt=5, base=3.0, cap=60.0)
@example(attempt=0, base=4.0, cap=1.0)
@example(attempt=1, base=4.0, cap=1.0)
def test_backoff_delay_is_the_references_for_every_attempt_base_and_cap(
    pair: Pair, attempt: int, base: float, cap: float
) -> None:
    pair.same_result("ex3.backoff_delay", attempt=attempt, base=base, cap=cap)


@st.composite
def near_the_cap(draw: st.DrawFn) -> tuple[int, float, float]:
    """An attempt one below, at or one above where base * 2**attempt first reaches cap."""
    base = draw(st.floats(min_value=1e-6, max_value=100.0))
    cap = base * draw(st.floats(min_value=1.01, max_value=1e6))
    threshold = math.log2(cap / base)
    attempt = max(0, math.floor(threshold) + draw(st.integers(min_value=-1, max_value=2)))
    return attempt, base, cap


@pytest.mark.points(2)
@given(case=near_the_cap())
@example(case=(2, 0.5, 3.0))
@example(case=(3, 0.5, 6.0))
def test_backoff_delay_reaches_the_cap_on_the_references_attempt(pair: Pair, case: tuple[int, float, float]) -> None:
    attempt, base, cap = case
    pair.same_result("ex3.backoff_delay", attempt=attempt, base=base, cap=cap)


@pytest.mark.points(1)
@given(attempt=st.one_of(attempts, odd), base=st.one_of(seconds, odd), cap=st.one_of(seconds, odd))
def test_backoff_delay_refuses_what_the_reference_refuses_with_the_same_error(
    pair: Pair, attempt: object, base: object, cap: object
) -> None:
    pair.same_result("ex3.backoff_delay", attempt=attempt, base=base, cap=cap)


def _jitter_is_uniform(pair: Pair, delay_s: float, draws: list[float], *, given: bool) -> None:
    got, want = pair.run("ex3.add_jitter", delay_s=delay_s, draws=draws, given=given)
    assert "ok" in want["result"], want
    assert "ok" in got["result"], f"add_jitter({delay_s!r}) raised: {got['result']}"
    rows = got["result"]["ok"]["items"]
    waits = []
    for u, row in zip(draws, rows, strict=True):
        wait, used, bits = (item.get("value") for item in row["items"])
        kind = row["items"][0]["type"]
        assert kind == "float", f"add_jitter({delay_s!r}) must return a float, got {kind}"
        assert used == 1 and bits == 0, (
            f"add_jitter({delay_s!r}) must use exactly one draw of {'its rng' if given else 'the random module'}, "
            f"used {used} (and {bits} bit draws)"
        )
        waits.append((u, wait))
    slack = delay_s * 1e-9 + 1e-300  # a + (b - a) * u and b * u round differently near 0
    forward = all(math.isclose(w, delay_s * u, rel_tol=1e-9, abs_tol=slack) for u, w in waits)
    backward = all(math.isclose(w, delay_s * (1 - u), rel_tol=1e-9, abs_tol=slack) for u, w in waits)
    assert forward or backward, (
        f"add_jitter({delay_s!r}) must map each draw u uniformly onto [0, {delay_s!r}]; draws and waits: {waits}"
    )


@pytest.mark.points(3)
@given(delay_s=seconds, draws=units)
@example(delay_s=4.0, draws=[0.0, 0.5, 0.9999999999999999])
def test_add_jitter_maps_each_draw_of_its_rng_uniformly_onto_zero_to_the_delay(
    pair: Pair, delay_s: float, draws: list[float]
) -> None:
    _jitter_is_uniform(pair, delay_s, draws, given=True)


@pytest.mark.points(1)
@given(delay_s=seconds, draws=units)
def test_add_jitter_without_an_rng_draws_once_from_the_random_module(
    pair: Pair, delay_s: float, draws: list[float]
) -> None:
    _jitter_is_uniform(pair, delay_s, draws, given=False)


@pytest.mark.points(1)
@given(delay_s=odd)
def test_add_jitter_refuses_what_the_reference_refuses(pair: Pair, delay_s: Any) -> None:
    pair.same_result("ex3.add_jitter", free=frozenset({"message"}), delay_s=delay_s, draws=[0.5])

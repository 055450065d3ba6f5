"""backoff_delay and add_jitter (llm_client/backoff.py)."""

from __future__ import annotations

import math
import random
import statistics
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm_client import add_jitter, backoff_delay

pytestmark = pytest.mark.kit


# -- backoff_delay ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attempt", "expected"),
    [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (30, 8.0)],
)
def test_backoff_doubles_from_base_per_attempt_counted_from_zero_up_to_cap(attempt: int, expected: float) -> None:
    assert backoff_delay(attempt) == expected


@pytest.mark.parametrize(
    ("attempt", "base", "cap", "expected"),
    [
        (3, 1.0, 100.0, 8.0),
        (0, 0.25, 10.0, 0.25),
        (0, 2.0, 1.0, 1.0),  # a cap below base wins from the first attempt
        (7, 0.0, 8.0, 0.0),
        (7, 1.0, 0.0, 0.0),
    ],
)
def test_backoff_uses_the_given_base_and_cap(attempt: int, base: float, cap: float, expected: float) -> None:
    assert backoff_delay(attempt, base=base, cap=cap) == expected


@pytest.mark.parametrize("attempt", [1024, 1075, 10**6, 10**100])
def test_backoff_returns_the_cap_for_huge_attempts_without_overflow(attempt: int) -> None:
    assert backoff_delay(attempt) == 8.0
    assert backoff_delay(attempt, base=1e-300, cap=30.0) == 30.0


@pytest.mark.parametrize(("attempt", "expected"), [(0, 1e-300), (1000, math.ldexp(1e-300, 1000)), (10**6, 1e308)])
def test_backoff_never_overflows_when_cap_over_base_is_beyond_a_float(attempt: int, expected: float) -> None:
    # cap / base would be 1e608, which is inf as a float: the comparison uses log2(cap) - log2(base).
    assert backoff_delay(attempt, base=1e-300, cap=1e308) == expected


@given(
    attempt=st.integers(min_value=0, max_value=5000),
    base=st.floats(min_value=5e-324, max_value=1e300),
    cap=st.floats(min_value=1e-300, max_value=1.7976931348623157e308),
)
def test_backoff_is_exact_and_finite_for_extreme_bases_and_caps(attempt: int, base: float, cap: float) -> None:
    got = backoff_delay(attempt, base=base, cap=cap)
    assert math.isfinite(got)
    assert math.isclose(got, float(min(Fraction(cap), Fraction(base) * 2**attempt)), rel_tol=1e-12)


@given(
    attempt=st.integers(min_value=0, max_value=5000),
    base=st.floats(min_value=1e-6, max_value=1e6),
    cap=st.floats(min_value=1e-6, max_value=1e6),
)
def test_backoff_matches_min_of_cap_and_base_times_two_to_the_attempt(attempt: int, base: float, cap: float) -> None:
    exact = min(Fraction(cap), Fraction(base) * 2**attempt)
    assert math.isclose(backoff_delay(attempt, base=base, cap=cap), float(exact), rel_tol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [
        ({"attempt": -1}, ValueError, "attempt"),
        ({"attempt": 1.0}, TypeError, "attempt"),
        ({"attempt": True}, TypeError, "attempt"),
        ({"attempt": 0, "base": -0.5}, ValueError, "base"),
        ({"attempt": 0, "base": math.nan}, ValueError, "base"),
        ({"attempt": 0, "cap": -1.0}, ValueError, "cap"),
        ({"attempt": 0, "cap": math.inf}, ValueError, "cap"),
    ],
)
def test_backoff_rejects_bad_arguments_naming_them(kwargs: dict[str, Any], error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        backoff_delay(**kwargs)


# -- add_jitter ------------------------------------------------------------------------------


def test_jitter_uses_the_given_rng() -> None:
    drawn = [add_jitter(4.0, rng=random.Random(11)) for _ in range(3)]
    assert drawn == [4.0 * random.Random(11).random()] * 3


def test_jitter_with_a_seeded_rng_reproduces_the_sequence() -> None:
    first, second = random.Random(2024), random.Random(2024)
    assert [add_jitter(8.0, rng=first) for _ in range(20)] == [add_jitter(8.0, rng=second) for _ in range(20)]


def test_jitter_spreads_over_the_whole_interval_from_zero() -> None:
    rng = random.Random(7)
    draws = [add_jitter(8.0, rng=rng) for _ in range(2000)]
    assert all(0.0 <= d <= 8.0 for d in draws)
    # Full jitter, not "half plus jitter": draws reach near 0 and near the delay, and average half of it.
    assert min(draws) < 0.1
    assert max(draws) > 7.9
    assert 3.7 < statistics.fmean(draws) < 4.3


def test_jitter_without_rng_draws_from_the_random_module() -> None:
    state = random.getstate()
    try:
        random.seed(99)
        drawn = add_jitter(3.0)
        random.seed(99)
        assert drawn == 3.0 * random.random()
    finally:
        random.setstate(state)


def test_jitter_of_zero_is_zero() -> None:
    assert add_jitter(0.0, rng=random.Random(1)) == 0.0


@pytest.mark.parametrize(("delay", "error"), [(-0.1, ValueError), (math.nan, ValueError), (math.inf, ValueError)])
def test_jitter_rejects_negative_or_non_finite_delays(delay: float, error: type) -> None:
    with pytest.raises(error, match="delay_s"):
        add_jitter(delay, rng=random.Random(1))


def test_jitter_rejects_an_rng_that_is_not_a_random_generator() -> None:
    with pytest.raises(TypeError, match="rng"):
        add_jitter(1.0, rng=42)  # type: ignore[arg-type]

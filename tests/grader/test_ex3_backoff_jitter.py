"""Exercise 3: capped exponential backoff (backoff_delay) and full jitter (add_jitter).

Attempts are counted from 0; delays are in seconds.
"""

from __future__ import annotations

import random
import statistics
from fractions import Fraction

import pytest

from llm_client import add_jitter, backoff_delay

pytestmark = pytest.mark.ex3


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_default_schedule_doubles_from_half_a_second_up_to_8() -> None:
    expected = [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    got = [backoff_delay(attempt) for attempt in range(len(expected))]
    assert got == expected, (
        f"expected backoff_delay(0..6) to be {expected}, got {got} "
        "(attempt 0 waits base, each attempt doubles it, cap limits it)"
    )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_base_and_cap_are_honoured() -> None:
    expected = [1.0, 2.0, 4.0, 5.0, 5.0]
    got = [backoff_delay(attempt, base=1.0, cap=5.0) for attempt in range(5)]
    assert got == expected, f"expected backoff_delay(0..4, base=1, cap=5) to be {expected}, got {got}"
    got_small = [backoff_delay(attempt, base=0.1, cap=0.3) for attempt in range(3)]
    assert got_small == pytest.approx([0.1, 0.2, 0.3]), (
        f"expected backoff_delay(0..2, base=0.1, cap=0.3) to be [0.1, 0.2, 0.3], got {got_small}"
    )
    above = [backoff_delay(attempt, base=4.0, cap=1.0) for attempt in range(3)]
    assert above == [1.0, 1.0, 1.0], f"the cap wins even over the first wait: base=4, cap=1 gives {above}"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_huge_attempts_return_the_cap_without_overflow() -> None:
    for attempt in (10, 63, 64, 1100, 10**6):
        try:
            got = backoff_delay(attempt)
        except OverflowError as exc:
            pytest.fail(f"expected backoff_delay({attempt}) to be the cap 8.0, got OverflowError: {exc}")
        assert got == 8.0, f"expected backoff_delay({attempt}) to be the cap 8.0, got {got!r}"
    assert all(backoff_delay(a, base=2.0, cap=3.0) <= 3.0 for a in range(100)), "a delay went above the cap"
    # cap / base is beyond the largest float here (1e608): compare the logarithms instead.
    for attempt, expected in ((0, 1e-300), (10**6, 1e308)):
        try:
            got = backoff_delay(attempt, base=1e-300, cap=1e308)
        except OverflowError as exc:
            pytest.fail(
                f"expected backoff_delay({attempt}, base=1e-300, cap=1e308) to be {expected}, got OverflowError: "
                f"{exc} (cap / base is too big for a float)"
            )
        assert got == expected, (
            f"expected backoff_delay({attempt}, base=1e-300, cap=1e308) to be {expected}, got {got!r}"
        )


def _exact_backoff(attempt: int, base: float, cap: float) -> float:
    """min(cap, base * 2**attempt), computed exactly (no float overflow), then rounded once."""
    if attempt > 4400:  # 2**4400 * (the smallest float) is far above the largest float
        return cap
    return float(min(Fraction(cap), Fraction(base) * 2**attempt))


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_exact_values_across_the_whole_range() -> None:
    # Where base is tiny, base * 2**attempt stays below the cap for attempts far above 1024,
    # where 2**attempt is no longer a float: the exact value is still expected there.
    settings = [(0.5, 8.0), (1.0, 5.0), (0.1, 0.3), (3.0, 1e6), (1e-300, 1e308), (5e-324, 1e308),
                (1e-5, 1e300), (2.0**-1000, 2.0**1000), (1e300, 1e308), (0.25, 0.25)]
    attempts = sorted({*range(0, 66), *range(1000, 1100, 3), *range(2000, 2200, 11), 2097, 2098, 3000, 10**5})
    for base, cap in settings:
        for attempt in attempts:
            expected = _exact_backoff(attempt, base, cap)
            try:
                got = backoff_delay(attempt, base=base, cap=cap)
            except OverflowError as exc:
                pytest.fail(
                    f"expected backoff_delay({attempt}, base={base!r}, cap={cap!r}) to be {expected!r}, "
                    f"got OverflowError: {exc} (below the cap, compute base * 2**attempt with math.ldexp)"
                )
            assert got == expected, (
                f"expected backoff_delay({attempt}, base={base!r}, cap={cap!r}) to be {expected!r} "
                f"(min(cap, base * 2**attempt)), got {got!r}"
            )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_a_zero_base_or_cap_means_no_wait() -> None:
    for attempt in (0, 1, 5, 64, 1100, 10**6):
        for base, cap in ((0.0, 8.0), (0.5, 0.0), (0.0, 0.0)):
            try:
                got = backoff_delay(attempt, base=base, cap=cap)
            except (ValueError, ZeroDivisionError, OverflowError) as exc:
                pytest.fail(
                    f"expected backoff_delay({attempt}, base={base}, cap={cap}) to be 0.0, got "
                    f"{type(exc).__name__}: {exc} (math.log2(0) is an error: handle base == 0 or cap == 0 first)"
                )
            assert got == 0.0, f"expected backoff_delay({attempt}, base={base}, cap={cap}) to be 0.0, got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_negative_attempt_is_refused() -> None:
    assert backoff_delay(0) == 0.5, f"expected backoff_delay(0) to be 0.5, got {backoff_delay(0)!r}"
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(-1)


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_jitter_stays_between_0_and_the_delay() -> None:
    rng = random.Random(1)
    draws = [add_jitter(4.0, rng=rng) for _ in range(2000)]
    outside = [d for d in draws if not 0.0 <= d <= 4.0]
    assert not outside, f"expected every add_jitter(4.0) to be within [0, 4], got {outside[:5]}"
    assert add_jitter(0.0, rng=random.Random(2)) == 0.0, "expected add_jitter(0.0) to be 0.0"


@pytest.mark.points(2)
@pytest.mark.hint(3)
def test_jitter_covers_the_whole_interval() -> None:
    rng = random.Random(3)
    draws = [add_jitter(4.0, rng=rng) for _ in range(2000)]
    lower_half = sum(d < 2.0 for d in draws)
    assert lower_half > 800, (
        f"expected about half of add_jitter(4.0) to fall below 2.0 (full jitter draws from [0, 4]), "
        f"got {lower_half} of 2000"
    )
    assert min(draws) < 0.1, f"expected some waits close to 0, the smallest was {min(draws):.3f}"
    assert max(draws) > 3.9, f"expected some waits close to the delay 4.0, the largest was {max(draws):.3f}"
    mean = statistics.fmean(draws)
    assert 1.8 < mean < 2.2, f"expected the mean of add_jitter(4.0) to be about 2.0, got {mean:.3f}"
    for delay in (0.3, 0.01, 2.5, 1000.0):
        waits = [add_jitter(delay, rng=rng) for _ in range(400)]
        outside = [w for w in waits if not 0.0 <= w <= delay]
        assert not outside, f"expected every add_jitter({delay}) within [0, {delay}], got {outside[:3]}"
        spread = sum(w < delay / 2 for w in waits)
        assert 120 < spread < 280 and len(set(waits)) > 300, (
            f"expected add_jitter({delay}) to spread over the whole of [0, {delay}] (about half below {delay / 2}), "
            f"got {spread} of 400 below it and {len(set(waits))} different waits"
        )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_seeded_rng_reproduces_the_same_waits() -> None:
    first = [add_jitter(8.0, rng=random.Random(42)) for _ in range(3)]
    rng_a, rng_b = random.Random(42), random.Random(42)
    seq_a = [add_jitter(8.0, rng=rng_a) for _ in range(10)]
    seq_b = [add_jitter(8.0, rng=rng_b) for _ in range(10)]
    assert seq_a == seq_b, f"expected two Random(42) to give the same waits, got {seq_a[:3]} and {seq_b[:3]}"
    assert len(set(seq_a)) > 1, f"expected the waits to vary from draw to draw, got {seq_a[:3]}"
    assert first[0] == first[1] == first[2], "expected a fresh Random(42) to give the same first wait every time"
    other = [add_jitter(8.0, rng=random.Random(7)) for _ in range(1)]
    assert other[0] != first[0], "expected a different seed to give a different wait"


class _Always(random.Random):
    """A generator whose every draw (random(), and so uniform(a, b)) is ``value`` of the way through [0, 1)."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_the_rng_passed_in_is_used() -> None:
    # Any uniform draw from r will do: r.uniform(0, d), d * r.random(), d * (1 - r.random()), r.uniform(d, 0) ...
    for value in (0.25, 0.1):
        got = add_jitter(4.0, rng=_Always(value))
        allowed = (value * 4.0, (1.0 - value) * 4.0)
        if any(got == pytest.approx(wait) for wait in allowed):
            continue
        # Drawn from r, the same draws give the same wait; drawn from the random module, almost never.
        if add_jitter(4.0, rng=_Always(value)) == got:
            why = (
                "the same draws gave the same wait, so it seems to come from r, but not spread over the whole of "
                "[0, 4]: full jitter draws from 0 up to "
                "the delay, e.g. r.uniform(0, delay); a draw over part of it (the upper half, from delay / 2) "
                "gives other waits"
            )
        else:
            why = "the same draws from r gave different waits: was the random module used instead of r?"
        pytest.fail(
            f"expected add_jitter(4.0, rng=r) to draw its wait from r over [0, 4]: r's every draw is {value} of "
            f"the way through [0, 1), so the wait should be {allowed[0]:g} or {allowed[1]:g}, got {got!r} ({why})"
        )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_without_rng_the_random_module_is_used() -> None:
    state = random.getstate()
    try:
        random.seed(1234)
        first = add_jitter(4.0)
        random.seed(1234)
        second = add_jitter(4.0)
        random.seed(4321)
        other = add_jitter(4.0)
        varied = {add_jitter(4.0) for _ in range(20)}
    finally:
        random.setstate(state)
    assert first == second, (
        "expected add_jitter(4.0) to draw from the random module (random.seed makes it repeat), "
        f"got {first} and {second}"
    )
    assert other != first and len(varied) > 1, (
        "expected add_jitter(4.0) without rng to draw from the random module, so another random.seed gives "
        f"another wait and the waits vary: got {first} for seed 1234 and {other} for seed 4321"
    )
    assert 0.0 <= first <= 4.0, f"expected a wait within [0, 4], got {first}"
    assert add_jitter(0.0) == 0.0, f"expected add_jitter(0.0) to be 0.0, got {add_jitter(0.0)!r}"

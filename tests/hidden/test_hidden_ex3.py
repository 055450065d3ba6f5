"""Hidden tier, exercise 3: backoff_delay and add_jitter against the reference, on generated inputs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.hidden.conftest import Pair

pytestmark = pytest.mark.ex3

attempts = st.integers(min_value=0, max_value=5000)
seconds = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
odd = st.one_of(
    st.integers(min_value=-3, max_value=-1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
)


@pytest.mark.points(5)
@given(attempt=attempts, base=seconds, cap=seconds)
def test_backoff_delay_is_the_references_for_every_attempt_base_and_cap(
    pair: Pair, attempt: int, base: float, cap: float
) -> None:
    pair.same_result("ex3.backoff_delay", attempt=attempt, base=base, cap=cap)


@pytest.mark.points(2)
@given(attempt=st.one_of(attempts, odd), base=st.one_of(seconds, odd), cap=st.one_of(seconds, odd))
def test_backoff_delay_refuses_what_the_reference_refuses_with_the_same_error(
    pair: Pair, attempt: object, base: object, cap: object
) -> None:
    pair.same_result("ex3.backoff_delay", attempt=attempt, base=base, cap=cap)


@pytest.mark.points(4)
@given(delay_s=seconds, seed=st.one_of(st.none(), st.integers(min_value=0, max_value=2**32)))
def test_add_jitter_draws_the_references_wait_from_the_same_generator(
    pair: Pair, delay_s: float, seed: int | None
) -> None:
    pair.same_result("ex3.add_jitter", delay_s=delay_s, seed=seed)


@pytest.mark.points(1)
@given(delay_s=odd)
def test_add_jitter_refuses_what_the_reference_refuses(pair: Pair, delay_s: object) -> None:
    pair.same_result("ex3.add_jitter", delay_s=delay_s, seed=1)

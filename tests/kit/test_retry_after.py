"""parse_retry_after (llm_client/retry_after.py)."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from llm_client import parse_retry_after

pytestmark = pytest.mark.kit

NOW = 1_790_000_000.0  # a fixed Unix time, in seconds


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": "0.5"}, 0.5),
        ({"Retry-After": "0"}, 0.0),
        ({"retry-after": " 3 "}, 3.0),
        ({"RETRY-AFTER": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"Retry-After-Ms": "250"}, 0.25),
        ({"retry-after-ms": "12.5"}, 0.0125),
    ],
)
def test_reads_seconds_and_milliseconds_in_any_header_case(headers: dict[str, str], expected: float) -> None:
    assert parse_retry_after(headers, now=NOW) == pytest.approx(expected)


def test_milliseconds_win_over_seconds() -> None:
    assert parse_retry_after({"retry-after-ms": "800", "retry-after": "5"}, now=NOW) == pytest.approx(0.8)


def test_unparseable_milliseconds_fall_back_to_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "soon", "retry-after": "5"}, now=NOW) == 5.0


@pytest.mark.parametrize("offset", [30, 1, 3600])
def test_reads_an_http_date_relative_to_now(offset: int) -> None:
    headers = {"Retry-After": formatdate(NOW + offset, usegmt=True)}
    assert parse_retry_after(headers, now=NOW) == pytest.approx(offset)


def test_an_http_date_in_the_past_gives_zero_not_a_negative_wait() -> None:
    assert parse_retry_after({"Retry-After": formatdate(NOW - 90, usegmt=True)}, now=NOW) == 0.0


def test_an_http_date_is_taken_relative_to_the_current_time_by_default() -> None:
    wait = parse_retry_after({"Retry-After": formatdate(time.time() + 120, usegmt=True)})
    assert wait is not None and 110 <= wait <= 120


@pytest.mark.parametrize("value", ["-5", "-0.5"])
def test_a_negative_number_gives_zero(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=NOW) == 0.0
    assert parse_retry_after({"retry-after-ms": value}, now=NOW) == 0.0


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Content-Type": "application/json"},
        {"Retry-After": ""},
        {"Retry-After": "soon"},
        {"Retry-After": "nan"},
        {"Retry-After": "inf"},
        {"Retry-After": "-inf"},
        {"retry-after-ms": "NaN"},
        {"Retry-After": "Wed, 99 Foo 2026 07:28:00 GMT"},
        {"Retry-After": "Wed, 21 Oct 2026 07:28:00"},  # an HTTP-date without its GMT zone
    ],
)
def test_gives_none_when_absent_or_unparseable(headers: dict[str, str]) -> None:
    assert parse_retry_after(headers, now=NOW) is None


def test_reads_httpx_headers_case_insensitively() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "4"}), now=NOW) == 4.0
    assert parse_retry_after(httpx.Headers([("RETRY-AFTER-MS", "300")]), now=NOW) == pytest.approx(0.3)
    date = formatdate(NOW + 12, usegmt=True)
    assert parse_retry_after(httpx.Headers({"retry-after": date}), now=NOW) == pytest.approx(12.0)


def test_reads_the_headers_of_a_real_429_response() -> None:
    response = httpx.Response(429, headers={"retry-after": "20", "x-ratelimit-remaining-requests": "0"})
    assert parse_retry_after(response.headers, now=NOW) == 20.0

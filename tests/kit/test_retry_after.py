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


@pytest.mark.parametrize("value", ["-5", "-0.5", "-1"])
def test_a_negative_number_is_invalid_and_gives_none(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=NOW) is None
    assert parse_retry_after({"retry-after-ms": value}, now=NOW) is None


@pytest.mark.parametrize("value", ["+1", "1_000", "-0", "0x10", "1.", ".5", "\u0661"])
def test_a_number_float_would_read_but_no_server_writes_is_invalid(value: str) -> None:
    assert parse_retry_after({"Retry-After": value}, now=NOW) is None
    assert parse_retry_after({"retry-after-ms": value, "Retry-After": "3"}, now=NOW) == 3.0


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("7", 7.0), ("0.25", 0.25), ("1e3", 1000.0)])
def test_plain_digits_with_a_fraction_or_an_exponent_are_read(value: str, seconds: float) -> None:
    assert parse_retry_after({"Retry-After": value}, now=NOW) == seconds


def test_a_negative_millisecond_value_falls_back_to_retry_after() -> None:
    assert parse_retry_after({"retry-after-ms": "-100", "Retry-After": "3"}, now=NOW) == 3.0


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


# -- tables replayed from the official clients' own tests -----------------------------------------

# urllib3/urllib3, test/test_retry.py (test_respect_retry_after_header_sleep): "now" is
# 2019-06-03 11:00:00 UTC and each of RFC 9110's three HTTP-date forms names 11:30:12 GMT,
# 1812 s later; a date that has passed means no wait. Also urllib3's test_parse_retry_after
# (whitespace around seconds) and test_parse_retry_after_invalid ("-1").
URLLIB3_NOW = 1_559_559_600.0  # 2019-06-03 11:00:00 UTC

URLLIB3_TABLE = [
    ("3600", 3600.0),
    ("Mon, 3 Jun 2019 12:00:00 UTC", 3600.0),
    ("Mon, 3 Jun 2019 11:00:00 UTC", 0.0),
    ("Mon, 03 Jun 2019 11:30:12 GMT", 1812.0),  # IMF-fixdate
    ("Monday, 03-Jun-19 11:30:12 GMT", 1812.0),  # RFC 850
    ("Mon Jun  3 11:30:12 2019", 1812.0),  # asctime, which names no zone: GMT
    ("0", 0.0),
    ("1000", 1000.0),
    ("\t42 ", 42.0),
    ("-1", None),
]


@pytest.mark.parametrize(("value", "expected"), URLLIB3_TABLE)
def test_urllib3s_retry_after_table_reads_every_http_date_form_as_gmt(value: str, expected: float | None) -> None:
    got = parse_retry_after({"Retry-After": value}, now=URLLIB3_NOW)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Jerusalem", "America/New_York"])
def test_an_asctime_date_is_gmt_whatever_the_local_time_zone(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert parse_retry_after({"Retry-After": "Mon Jun  3 11:30:12 2019"}, now=URLLIB3_NOW) == 1812.0
    finally:
        monkeypatch.undo()
        time.tzset()


# openai/openai-python, tests/test_client.py (test_parse_retry_after_header): "now" is 1696004797
# (Fri, 29 Sep 2023 16:26:37 GMT). Its table gives the SDK's sleep; here, the wait the headers
# ask for (the cap and the fallback to backoff are the retry policy's, tested in test_faults.py).
OPENAI_NOW = 1_696_004_797.0

OPENAI_TABLE = [
    ("20", 20.0),
    ("0", 0.0),
    ("-10", None),  # the SDK backs off here too
    ("60", 60.0),
    ("121", 121.0),  # past the SDK's 120 s cap, so it backs off; the policy's own cap decides here
    ("Fri, 29 Sep 2023 16:26:57 GMT", 20.0),
    ("Fri, 29 Sep 2023 16:26:37 GMT", 0.0),
    ("Fri, 29 Sep 2023 16:26:27 GMT", 0.0),
    ("Fri, 29 Sep 2023 16:28:37 GMT", 120.0),
    ("99999999999999999999999999999999999", 1e35),
    ("inf", None),
    ("nan", None),
    ("Zun, 29 Sep 2023 16:26:27 GMT", 0.0),  # the day name is not checked: a date in the past
    ("Fri, 29 Sep 100000 16:26:57 GMT", None),
    ("", None),
]


@pytest.mark.parametrize(("value", "expected"), OPENAI_TABLE)
def test_openai_pythons_retry_after_table(value: str, expected: float | None) -> None:
    got = parse_retry_after({"retry-after": value}, now=OPENAI_NOW)
    assert got == (pytest.approx(expected) if expected is not None else None)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [  # openai-python, tests/test_client.py (test_retry_after_max_delay): retry-after-ms is milliseconds
        ({"retry-after-ms": "120000"}, 120.0),
        ({"retry-after-ms": "120001"}, 120.001),
        ({"retry-after": "Fri, 29 Sep 2023 16:28:38 GMT"}, 121.0),
    ],
)
def test_openai_pythons_max_delay_headers_give_the_wait_they_name(headers: dict[str, str], expected: float) -> None:
    assert parse_retry_after(headers, now=OPENAI_NOW) == pytest.approx(expected)

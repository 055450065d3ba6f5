"""Exercise 4: rate limits. Read Retry-After (parse_retry_after) and decide the wait after a failure (retry_delay).

All waits are in seconds; ``now`` is a Unix timestamp.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate

import httpx
import pytest

from llm_client import LLMTimeoutError, RateLimitError, ServerError, parse_retry_after, retry_delay

pytestmark = pytest.mark.ex4

NOW = 1_800_000_000.0  # a fixed "now", so no test depends on the clock


def http_date(timestamp: float) -> str:
    return formatdate(timestamp, usegmt=True)


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def rfc850_date(timestamp: float) -> str:
    """The obsolete RFC 850 form, e.g. ``Sunday, 06-Nov-94 08:49:37 GMT``."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year % 100:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    )


def asctime_date(timestamp: float) -> str:
    """C's asctime form, e.g. ``Sun Nov  6 08:49:37 1994``: it names no zone, and HTTP reads it as GMT."""
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday][:3]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )


# -- parse_retry_after --------------------------------------------------------------------


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_retry_after_ms_is_milliseconds() -> None:
    got = parse_retry_after({"retry-after-ms": "1500"}, now=NOW)
    assert got == pytest.approx(1.5), f"expected retry-after-ms: 1500 to mean 1.5 seconds, got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_retry_after_seconds_whole_and_fractional() -> None:
    for value, expected in (("2", 2.0), ("0.5", 0.5), ("0", 0.0), (" 7 ", 7.0)):
        got = parse_retry_after({"retry-after": value}, now=NOW)
        assert got == pytest.approx(expected), f"expected Retry-After: {value!r} to mean {expected} s, got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_retry_after_ms_wins_over_retry_after() -> None:
    got = parse_retry_after({"retry-after": "9", "retry-after-ms": "250"}, now=NOW)
    assert got == pytest.approx(0.25), (
        f"expected retry-after-ms (more precise) to be used when both headers are present: 0.25 s, got {got!r}"
    )
    # A retry-after-ms that cannot be read is as good as missing: Retry-After is used.
    for garbage in ("fast", "", "nan", "inf", "1e400", "1,500"):
        headers = {"retry-after-ms": garbage, "retry-after": "3"}
        got = parse_retry_after(headers, now=NOW)
        assert got == pytest.approx(3.0), (
            f"expected {headers} to mean 3 s: a retry-after-ms that cannot be read is as good as missing, so "
            f"Retry-After is used; got {got!r}"
        )
    dated = {"retry-after-ms": "soon", "retry-after": http_date(NOW + 12)}
    got = parse_retry_after(dated, now=NOW)
    assert got == pytest.approx(12.0), f"expected {dated} to mean 12 s, got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_http_date_is_relative_to_now() -> None:
    got = parse_retry_after({"retry-after": http_date(NOW + 30)}, now=NOW)
    assert got == pytest.approx(30.0), (
        f"expected Retry-After: {http_date(NOW + 30)} with now={NOW} to mean 30 s, got {got!r}"
    )
    got_later = parse_retry_after({"retry-after": http_date(NOW + 30)}, now=NOW + 10)
    assert got_later == pytest.approx(20.0), f"expected the same date 10 s later to mean 20 s, got {got_later!r}"


@contextmanager
def local_time_zone(tz: str) -> Iterator[None]:
    """Run the block with the process's local time zone set to ``tz`` (a POSIX TZ string: no tz database needed)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = tz
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


# New York (UTC-5, UTC-4 in summer), Kolkata (UTC+5:30, no summer time), and UTC itself.
LOCAL_TIME_ZONES = ["EST+5EDT,M3.2.0/2,M11.1.0/2", "IST-5:30", "UTC0"]


@pytest.mark.points(1)
@pytest.mark.hint(2)
@pytest.mark.skipif(not hasattr(time, "tzset"), reason="the local time zone can only be changed on Unix")
def test_http_dates_are_gmt_whatever_the_local_time_zone() -> None:
    # An HTTP-date is always GMT: reading it through local time is off by hours outside UTC.
    # parsedate_to_datetime returns a naive datetime for the asctime form (it names no zone): it is GMT too.
    for tz in LOCAL_TIME_ZONES:
        with local_time_zone(tz):
            for now, wait in ((NOW, 30.0), (1_784_000_000.0, 45.0)):  # a January date, and one in July
                for form in (http_date, rfc850_date, asctime_date):
                    value = form(now + wait)
                    got = parse_retry_after({"retry-after": value}, now=now)
                    assert got == pytest.approx(wait), (
                        f"expected Retry-After: {value} with now={now} to mean {wait} s with the local "
                        f"time zone set to {tz!r}, got {got!r} (an HTTP-date is GMT, in all three forms, even "
                        "the asctime one that names no zone: do not convert it through local time, e.g. with "
                        "time.mktime or a naive datetime; give a naive result tzinfo=UTC)"
                    )


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_http_date_in_the_past_means_no_wait() -> None:
    got = parse_retry_after({"retry-after": http_date(NOW - 120)}, now=NOW)
    assert got == 0.0, f"expected a date in the past to mean 0.0 s (never negative), got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_http_date_without_now_uses_the_clock() -> None:
    import time

    got = parse_retry_after({"retry-after": http_date(time.time() + 3600)})
    assert got is not None and 3500 < got <= 3600, f"expected about 3600 s for a date an hour ahead, got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_header_names_in_any_case_dict_or_httpx_headers() -> None:
    cases = [
        ({"Retry-After": "3"}, 3.0),
        ({"RETRY-AFTER": "3"}, 3.0),
        ({"Retry-After-Ms": "250"}, 0.25),
        (httpx.Headers({"Retry-After": "4"}), 4.0),
        (httpx.Headers({"Retry-After-MS": "500"}), 0.5),
    ]
    for headers, expected in cases:
        got = parse_retry_after(headers, now=NOW)
        assert got == pytest.approx(expected), f"expected {dict(headers)} to mean {expected} s, got {got!r}"


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_missing_or_garbage_gives_none() -> None:
    for headers in ({}, {"content-type": "application/json"}, {"retry-after": "soon"}, {"retry-after": ""},
                    {"retry-after": "nan"}, {"retry-after": "inf"}, {"retry-after": "1e400"},
                    {"retry-after-ms": "fast"}, {"retry-after": "-inf"}, {"retry-after-ms": "nan"}):
        got = parse_retry_after(headers, now=NOW)
        assert got is None, f"expected None for {headers} (nothing usable), got {got!r}"
    negative = parse_retry_after({"retry-after": "-5"}, now=NOW)
    assert negative is None, f"expected a negative Retry-After to be invalid (None: back off instead), got {negative!r}"


# -- retry_delay ---------------------------------------------------------------------


class Backoff:
    """A stand-in backoff that records the attempts it was asked about."""

    def __init__(self, value: float = 99.0) -> None:
        self.value = value
        self.asked: list[int] = []

    def __call__(self, attempt: int) -> float:
        self.asked.append(attempt)
        return self.value


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_retry_after_within_the_cap_is_honoured() -> None:
    backoff = Backoff()
    got = retry_delay(RateLimitError(retry_after=2.0), 0, max_retry_after_s=60.0, backoff=backoff)
    assert got == 2.0, f"expected the wait the provider asked for (2.0 s), got {got!r}"
    at_cap = retry_delay(RateLimitError(retry_after=60.0), 1, max_retry_after_s=60.0, backoff=backoff)
    assert at_cap == 60.0, f"expected retry_after equal to max_retry_after_s (60) to be honoured, got {at_cap!r}"
    unavailable = ServerError("HTTP 503", status_code=503, retry_after=2.5)
    got_503 = retry_delay(unavailable, 0, max_retry_after_s=60.0, backoff=backoff)
    assert got_503 == 2.5, f"expected a 503's Retry-After (2.5 s) to be honoured like a 429's, got {got_503!r}"
    assert backoff.asked == [], f"expected backoff not to be called when Retry-After is honoured, got {backoff.asked}"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_retry_after_of_zero_is_honoured() -> None:
    got = retry_delay(RateLimitError(retry_after=0.0), 0, max_retry_after_s=60.0, backoff=Backoff())
    assert got == 0.0, f"expected retry_after=0 to mean 'retry now' (0.0 s), got {got!r}; 0 is not None"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_retry_after_above_the_cap_falls_back_to_backoff() -> None:
    backoff = Backoff(1.25)
    got = retry_delay(RateLimitError(retry_after=3600.0), 3, max_retry_after_s=60.0, backoff=backoff)
    assert got == 1.25, f"expected backoff(3) (1.25 s) when Retry-After (3600 s) is above the cap, got {got!r}"
    assert backoff.asked == [3], f"expected backoff to be asked about attempt 3, got {backoff.asked}"


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_no_retry_after_falls_back_to_backoff() -> None:
    backoff = Backoff(0.75)
    got = retry_delay(RateLimitError(retry_after=None), 2, max_retry_after_s=60.0, backoff=backoff)
    assert got == 0.75, f"expected backoff(2) (0.75 s) when the provider gave no Retry-After, got {got!r}"
    timed_out = retry_delay(LLMTimeoutError("slow"), 1, max_retry_after_s=60.0, backoff=backoff)
    assert timed_out == 0.75, f"expected backoff(1) after a timeout, which asks no wait, got {timed_out!r}"
    assert backoff.asked == [2, 1], f"expected backoff to be asked about attempts 2 then 1, got {backoff.asked}"

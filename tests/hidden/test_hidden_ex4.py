"""Hidden tier, exercise 4: parse_retry_after and retry_delay against the reference, on generated inputs.

parse_retry_after gets batches of generated headers: numbers of seconds or milliseconds, garbage, both
headers at once, and HTTP-dates in RFC 9110's three forms around ``now``, names in any case, as a dict or
as ``httpx.Headers``, and often under a local time zone that is not UTC. Waits are compared to a
microsecond (an algebraically equal reading, ``ms * 0.001`` or a datetime's microseconds, rounds
differently), an int wait equal to the float one is the same wait; None, errors and their classes
exactly. Only what the contract promises is generated: a number written otherwise (``+1``, ``1_000``,
``.5``, ``1e3``), a date in another zone or outside 1970-2065 (RFC 850's two-digit years) is left out;
a date whose zone is another name of GMT, or none, may be read as GMT or refused, never through local time.

retry_delay gets errors of several classes, with and without a wait, around the cap; its backoff and
``time.sleep`` are proxies, so the attempts it asked the backoff about, and any sleep, are compared too.
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.hidden import wire
from tests.hidden.conftest import Pair

pytestmark = pytest.mark.ex4

#: A failing example is reported as found: shrinking a batch would ask the children many times more.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)

# New York (UTC-5, UTC-4 in summer), Kolkata (UTC+5:30), Auckland (UTC+12/+13), Sao Paulo (UTC-3), UTC itself;
# POSIX TZ strings, so no tz database is needed.
NON_UTC_ZONES = ["EST+5EDT,M3.2.0/2,M11.1.0/2", "IST-5:30", "NZST-12NZDT,M9.5.0,M4.1.0/3", "<-03>3"]
ZONES = st.one_of(st.none(), st.just("UTC0"), st.sampled_from(NON_UTC_ZONES))

# -- comparing ------------------------------------------------------------------------------------------------

LOOSE = frozenset({"message", "traceback"})


def _number(description: Any) -> float | None:
    if isinstance(description, dict) and description.get("type") in ("int", "float"):
        return float(description["value"])  # a number, or "nan", "inf", "-inf"
    return None


def _close(got: Any, want: Any) -> bool:
    a, b = _number(got), _number(want)
    if a is not None and b is not None:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b or math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-6)
    if isinstance(got, dict) and isinstance(want, dict):
        return got.keys() == want.keys() and all(_close(got[k], want[k]) for k in got)
    if isinstance(got, list) and isinstance(want, list):
        return len(got) == len(want) and all(_close(x, y) for x, y in zip(got, want, strict=True))
    return bool(got == want)


def _short(value: Any, limit: int = 500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _items(outcome: dict[str, Any], count: int) -> list[Any]:
    result = wire.without(outcome["result"], LOOSE)
    assert "ok" in result, f"the batch raised: {_short(result)}"
    items = result["ok"].get("items")
    assert isinstance(items, list) and len(items) == count, f"unexpected result {_short(result)}"
    return items


def same_cases(op: str, cases: list[dict[str, Any]], got: dict[str, Any], want: dict[str, Any]) -> list[Any]:
    """Assert that each case came out as the reference's (see the module docstring); return the submission's."""
    actual, expected = _items(got, len(cases)), _items(want, len(cases))
    for case, a, e in zip(cases, actual, expected, strict=True):
        assert _close(a, e), f"{op}({_short(case)}): expected {_short(e)}, got {_short(a)}"
    return actual


# -- HTTP-dates ------------------------------------------------------------------------------------------------

_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: RFC 850 writes two-digit years, read as 1969-2068: dates are generated from 1970 to 2065.
LATEST_DATE = 3_000_000_000


def imf_fixdate(timestamp: int, zone: str = "GMT") -> str:
    return formatdate(timestamp, usegmt=True)[:-3] + zone if zone != "GMT" else formatdate(timestamp, usegmt=True)


def rfc850_date(timestamp: int, zone: str = "GMT") -> str:
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d}-{_MONTHS[t.tm_mon - 1]}-{t.tm_year % 100:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {zone}"
    ).rstrip()


def asctime_date(timestamp: int) -> str:
    t = time.gmtime(timestamp)
    return (
        f"{_DAYS[t.tm_wday][:3]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )


FORMS: dict[str, Callable[[int], str]] = {"imf": imf_fixdate, "rfc850": rfc850_date, "asctime": asctime_date}

# -- headers ---------------------------------------------------------------------------------------------------


_CASE_STYLES = st.sampled_from(["lower", "title", "upper", "mixed", "mixed"])
_FLIPS = st.integers(min_value=0, max_value=2**16 - 1)


def cased(draw: st.DrawFn, name: str) -> str:
    """``name`` in a generated mix of upper and lower case."""
    style = draw(_CASE_STYLES)
    if style == "lower":
        return name
    if style == "title":
        return "-".join(part.capitalize() for part in name.split("-"))
    if style == "upper":
        return name.upper()
    flips = draw(_FLIPS)
    return "".join(ch.upper() if flips >> i & 1 else ch for i, ch in enumerate(name))


_PAD = st.sampled_from(["", "", " ", "\t", "  ", " \t"])
_PADDING = st.tuples(_PAD, _PAD)


def padded(draw: st.DrawFn, value: str) -> str:
    left, right = draw(_PADDING)
    return left + value + right


numbers = st.tuples(
    st.one_of(
        st.sampled_from(["0", "00", "007", "0.0", "0.5", "1", "2", "2.5", "120", "3600", "86400", "0.001"]),
        st.integers(min_value=0, max_value=10**6).map(str),
        st.integers(min_value=0, max_value=10**35).map(str),
        st.tuples(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**6)).map(
            lambda whole_fraction: f"{whole_fraction[0]}.{whole_fraction[1]}"
        ),
    ),
    _PADDING,
).map(lambda value_padding: value_padding[1][0] + value_padding[0] + value_padding[1][1])
garbage = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "soon",
            "-5",
            "-0.5",
            "-1",
            "-100",
            "nan",
            "NaN",
            "inf",
            "-inf",
            "Infinity",
            "1e400",
            "1,500",
            "5s",
            "5 s",
            "0x10",
            "1.5.2",
            "--1",
            "1 2",
            "null",
            "None",
            "true",
            "1/2",
            "Retry later",
            "GMT",
            "tomorrow",
            "2 seconds",
        ]
    ),
    st.text(alphabet="abcxyzXYZ -_,;:/()", max_size=6),
)
numbers_or_garbage = st.one_of(numbers, garbage)
#: Values no reading may accept, tried in every example, each under both names.
ALWAYS_REFUSED = ["", "soon", "-5", "-0.5", "nan", "NaN", "inf", "-inf", "Infinity", "1e400", "1,500"]
decoys = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "x-retry-after",
                "retry-after-s",
                "x-retry-after-ms",
                "retry",
                "content-type",
                "x-ratelimit-reset-requests",
                "x-ratelimit-remaining-tokens",
                "ms",
                "after",
            ]
        ),
        numbers_or_garbage,
    ),
    max_size=2,
    unique_by=lambda pair: pair[0],
)
nows = st.one_of(
    st.floats(min_value=1e6, max_value=LATEST_DATE - 2e6),
    st.integers(min_value=1_000_000, max_value=LATEST_DATE - 2_000_000).map(float),
)
nows_or_none = st.one_of(st.none(), nows)
offsets = st.one_of(
    st.integers(min_value=-5, max_value=5),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.integers(min_value=-(10**8), max_value=10**8),
)
_KINDS = st.sampled_from(["dict", "dict", "httpx"])
_ROTATIONS = st.integers(min_value=0, max_value=3)
_FORM_NAMES = st.sampled_from(sorted(FORMS))
_SECONDS_KINDS = st.sampled_from(["number", "date", "garbage"])


def _case(draw: st.DrawFn, headers: list[tuple[str, str]], *, now: float | None, tz: str | None) -> dict[str, Any]:
    pairs = [*headers, *draw(decoys)]
    turn = draw(_ROTATIONS) % len(pairs) if pairs else 0
    return {"headers": [list(p) for p in pairs[turn:] + pairs[:turn]], "kind": draw(_KINDS), "now": now, "tz": tz}


@st.composite
def value_cases(draw: st.DrawFn) -> list[dict[str, Any]]:
    """At most one of the two headers: each generated number or garbage, and each of ALWAYS_REFUSED, under each
    name; and no header at all."""
    cases = []
    for value in [*draw(st.lists(numbers_or_garbage, min_size=1, max_size=5)), *ALWAYS_REFUSED]:
        for which in ("retry-after", "retry-after-ms"):
            cases.append(_case(draw, [(cased(draw, which), value)], now=draw(nows_or_none), tz=draw(ZONES)))
    cases.append(_case(draw, [], now=draw(nows_or_none), tz=None))
    return cases


def _stamp(now: float, offset: int) -> int:
    return min(max(math.floor(now) + offset, 0), LATEST_DATE)


@st.composite
def both_header_cases(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Both headers: the millisecond one a number or garbage, Retry-After a number, a date or garbage."""
    cases = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        now = draw(nows)
        millis = draw(numbers_or_garbage)
        kind = draw(_SECONDS_KINDS)
        if kind == "number":
            seconds = draw(numbers)
        elif kind == "date":
            seconds = padded(draw, FORMS[draw(_FORM_NAMES)](_stamp(now, draw(offsets))))
        else:
            seconds = draw(garbage)
        headers = [(cased(draw, "retry-after-ms"), millis), (cased(draw, "retry-after"), seconds)]
        cases.append(_case(draw, headers, now=now, tz=draw(ZONES)))
    return cases


_DATE_ZONES = st.one_of(st.sampled_from(NON_UTC_ZONES), ZONES)


@st.composite
def date_cases(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Each form of a few dates around ``now``, under one local time zone; sometimes a garbage millisecond
    header beside; and dates long past with no ``now`` given (a wait of 0.0, whatever the clock says)."""
    now = draw(nows)
    tz = draw(_DATE_ZONES)
    cases = []
    for offset in draw(st.lists(offsets, min_size=1, max_size=3)):
        for form in FORMS.values():
            headers = [(cased(draw, "retry-after"), padded(draw, form(_stamp(now, offset))))]
            if draw(st.booleans()):
                headers.append((cased(draw, "retry-after-ms"), draw(garbage)))
            cases.append(_case(draw, headers, now=now, tz=tz))
    # 1990 to 2020: RFC 850's two-digit year is the same year whether read as Python does or by RFC 9110's rule.
    past = draw(st.integers(min_value=631_152_000, max_value=1_600_000_000))
    for form in FORMS.values():
        cases.append(_case(draw, [(cased(draw, "retry-after"), form(past))], now=None, tz=tz))
    return cases


def _parse(pair: Pair, cases: list[dict[str, Any]]) -> list[Any]:
    got, want = pair.run("ex4.parse_many", cases=cases)
    return same_cases("parse_retry_after", cases, got, want)


@pytest.mark.points(2)
@settings(max_examples=30, phases=NO_SHRINK)
@given(cases=value_cases())
def test_a_number_of_seconds_or_milliseconds_or_garbage_reads_as_the_reference(
    pair: Pair, cases: list[dict[str, Any]]
) -> None:
    _parse(pair, cases)


@pytest.mark.points(2)
@settings(phases=NO_SHRINK)
@given(cases=both_header_cases())
def test_the_millisecond_header_wins_when_usable_as_in_the_reference(pair: Pair, cases: list[dict[str, Any]]) -> None:
    _parse(pair, cases)


@pytest.mark.points(3)
@settings(phases=NO_SHRINK)
@given(cases=date_cases())
def test_an_http_date_in_each_form_is_a_gmt_moment_relative_to_now(pair: Pair, cases: list[dict[str, Any]]) -> None:
    _parse(pair, cases)


@pytest.mark.points(1)
@settings(max_examples=30, phases=NO_SHRINK)
@given(
    now=nows,
    offsets=st.lists(st.integers(min_value=-(10**6), max_value=10**6), min_size=1, max_size=3),
    tz=st.sampled_from(NON_UTC_ZONES),
)
def test_a_date_whose_zone_is_another_name_for_gmt_or_none_is_read_as_gmt_or_refused(
    pair: Pair, now: float, offsets: list[int], tz: str
) -> None:
    # Outside the three forms, so free: each answer may be None (no usable date) or the GMT reading.
    dated = []
    for offset in offsets:
        stamp = _stamp(now, offset)
        values = [imf_fixdate(stamp, zone) for zone in ("-0000", "+0000", "UT", "UTC")]
        values += [imf_fixdate(stamp, "").rstrip(), rfc850_date(stamp, "-0000"), rfc850_date(stamp, "")]
        dated += [(value, stamp) for value in values]
    cases = [{"headers": [["Retry-After", value]], "kind": "dict", "now": now, "tz": tz} for value, _ in dated]
    got, want = pair.run("ex4.parse_many", cases=cases)
    for label, outcome in (("the reference", want), ("the submission", got)):
        for (value, stamp), item in zip(dated, _items(outcome, len(cases)), strict=True):
            gmt = max(0.0, float(calendar.timegm(time.gmtime(stamp))) - now)
            number = _number(item)
            assert item == {"type": "None"} or (number is not None and math.isclose(number, gmt, abs_tol=1e-6)), (
                f"parse_retry_after({{'Retry-After': {value!r}}}, now={now!r}) with TZ={tz!r}: {label} gave "
                f"{_short(item)}; expected None or the GMT reading {gmt!r} (never a reading through local time)"
            )


@pytest.mark.points(1)
@settings(phases=NO_SHRINK)
@given(
    bad=st.one_of(
        st.tuples(st.sampled_from(["none", "line", "pairs", "number", "bytes"]), st.just(0.0)),
        st.tuples(st.none(), st.sampled_from(["nan", "inf", "-inf", True, False, "now", "1800000000", None, [1.0]])),
    )
)
def test_parse_retry_after_refuses_what_the_reference_refuses(pair: Pair, bad: tuple[str | None, Any]) -> None:
    headers, now = bad
    pair.same_result("ex4.parse_refuses", headers=headers, now=now)


# -- retry_delay -----------------------------------------------------------------------------------------------


class Script:
    """Answers one child's proxies: the backoff gives ``value`` (or raises when ``fails``); records every call."""

    def __init__(self, value: float, fails: bool) -> None:
        self.value = value
        self.fails = fails
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, kind: str, args: dict[str, Any]) -> Any:
        self.calls.append((kind, args))
        if kind == "backoff":
            return {"raise": "backoff failed"} if self.fails else self.value
        return None


def _delays(pair: Pair, cases: list[dict[str, Any]], value: float, fails: bool = False) -> None:
    scripts: list[Script] = []

    def answers() -> Script:
        scripts.append(Script(value, fails))
        return scripts[-1]

    got, want = pair.run("ex4.delays", answers=answers, cases=cases)
    same_cases("retry_delay", cases, got, want)
    mine, theirs = scripts
    for index, case in enumerate(cases):
        a, e = _calls_of(mine.calls, index), _calls_of(theirs.calls, index)
        assert a == e, f"retry_delay({_short(case)}): expected these calls to the backoff (and no sleep) {e}, got {a}"


def _calls_of(calls: list[tuple[str, dict[str, Any]]], index: int) -> list[tuple[str, dict[str, Any]]]:
    """The proxy calls made during case ``index`` (each case starts with a "case" call)."""
    starts = [i for i, (kind, _) in enumerate(calls) if kind == "case"]
    if index >= len(starts):
        return []
    end = starts[index + 1] if index + 1 < len(starts) else len(calls)
    return calls[starts[index] + 1 : end]


caps = st.one_of(
    st.sampled_from([0.0, 0, 60.0, 60, 0.5, 1e-9, 120.0, 3600.0]),
    st.floats(min_value=0.0, max_value=1e6).filter(lambda x: math.copysign(1.0, x) > 0),
)
_WAITING = [
    ("RateLimitError", 429),
    ("ServerError", 503),
    ("ServerError", 529),
    ("ServerError", 500),
    ("ServerError", 409),
    ("LLMTimeoutError", 408),
]
_NOT_WAITING = [
    ("LLMConnectionError", None),
    ("MalformedResponseError", 200),
    ("LLMTimeoutError", None),
    ("StructuredOutputError", None),
]


@pytest.mark.points(3)
@settings(max_examples=30, phases=NO_SHRINK)
@given(
    cap=caps,
    other=st.floats(min_value=0.0, max_value=1e6).filter(lambda x: math.copysign(1.0, x) > 0),
    attempt=st.one_of(st.integers(min_value=0, max_value=12), st.integers(min_value=0, max_value=10**6)),
    value=st.floats(min_value=0.0, max_value=1e4).filter(lambda x: math.copysign(1.0, x) > 0),
    fails=st.integers(min_value=0, max_value=9).map(lambda n: n == 0),
)
def test_retry_delay_trusts_the_wait_within_the_cap_else_asks_the_backoff(
    pair: Pair, cap: float, other: float, attempt: int, value: float, fails: bool
) -> None:
    cap_f = float(cap)
    waits: list[float | None] = [None, 0.0, cap_f, math.nextafter(cap_f, math.inf), cap_f / 2, cap_f + 1.0, other]
    cases = []
    for name, status in _WAITING:
        for wait in waits:
            error: dict[str, Any] = {"class": name, "status_code": status, "retry_after": wait}
            cases.append({"error": error, "attempt": attempt, "max_retry_after_s": cap})
    for quiet, code in _NOT_WAITING:
        error = {"class": quiet, "status_code": code, "retry_after": None}
        cases.append({"error": error, "attempt": attempt, "max_retry_after_s": cap})
    _delays(pair, cases, value, fails)


@pytest.mark.points(1)
@settings(phases=NO_SHRINK)
@given(
    bad=st.one_of(
        st.tuples(st.just("error"), st.sampled_from(["ValueError", "text", "none", "class"])),
        st.tuples(st.just("attempt"), st.sampled_from([-1, -100, True, False, 1.0, "0", None])),
        st.tuples(st.just("max_retry_after_s"), st.sampled_from([-1.0, -1e-9, "nan", "inf", "-inf", True, "60", None])),
        st.tuples(st.just("backoff"), st.sampled_from(["none", "number"])),
    )
)
def test_retry_delay_refuses_what_the_reference_refuses(pair: Pair, bad: tuple[str, Any]) -> None:
    valid: dict[str, Any] = {
        "error": {"class": "RateLimitError", "retry_after": None},
        "attempt": 1,
        "max_retry_after_s": 60.0,
        "backoff": "proxy",
    }
    where, value = bad
    wrong = {**valid, where: {"class": value} if where == "error" else value}
    _delays(pair, [valid, wrong], 0.25)

"""Hidden tier, exercise 2: make_cache_key against the reference, on generated requests.

The key's text is free (only a str is promised): what is compared is which requests of a batch share a
key. Two requests must share one exactly when they are equal field by field (``temperature=1`` and
``1.0``, ``stop`` as a list or a tuple; a setting left unset, None, equal to no value: every field whose
default is None is tried unset and at values a default might take), a field added to LLMRequest later
counts as well (the child adds one, ``seed``), and a key must be the same in another process and on another
machine (another host name and user). Each batch is a generated request, and requests built from it that
differ in one field, that are equal but built another way, or whose values, joined, would read alike.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from tests.hidden import wire
from tests.hidden.conftest import Pair
from tests.hidden.remote import Child

pytestmark = pytest.mark.ex2

Spec = dict[str, Any]

TEXT_FIELDS = ("model", "prompt", "system_prompt", "reasoning_effort")
#: The text fields that may be None (not set).
OPTIONAL_TEXT = ("system_prompt", "reasoning_effort")
# Separators a key built by joining strings might use, and the ways it might write a field's name.
SEPARATORS = [
    "",
    "|",
    ",",
    ";",
    ":",
    " ",
    "\n",
    "\t",
    "\x00",
    "\x1f",
    "/",
    "-",
    "_",
    "&",
    ", ",
    " | ",
    "||",
    "::",
    "\r\n",
    "=",
    "\x1e",
    "; ",
]
NAMINGS = ["", "{}=", "{}:", "{}: ", "'{}': ", '"{}": ']
#: For each field whose default is None (unset: never sent, so the provider's own default applies), values
#: that default might be mistaken for: an unset setting must get a key of its own, apart from each of them.
#: (A blank text is no value of a text field: LLMRequest refuses it.) The reference's fields must match.
UNSET_LOOKALIKES: dict[str, list[Any]] = {
    "system_prompt": ["You are a helpful assistant.", "None", "null", "none", "default", "0", "()"],
    "temperature": [0, 0.0, 1, 1.0, 0.7, 0.5, 0.2, 2.0],
    "max_tokens": [1, 16, 100, 256, 512, 1000, 1024, 2048, 4000, 4096, 8192, 16384, 32768, 65536, 128000],
    "top_p": [1, 1.0, 0.9, 0.95, 0.5, 0.1],
    "reasoning_effort": ["none", "minimal", "low", "medium", "high", "xhigh", "default", "None", "null"],
}
#: The field the child adds to LLMRequest (ops/ex2.py, ADDED_FIELD), and values it is given.
ADDED_FIELD = "seed"
ADDED_VALUES: list[Any] = [None, 0, 1, 7, 42, 1234]
#: A failing example is reported as found: shrinking a batch would ask the children hundreds of times more.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)

# -- generated requests ---------------------------------------------------------------------------

_words = st.sampled_from(
    [
        "gpt-test",
        "Name a prime number.",
        "Answer in one word.",
        "None",
        "null",
        "none",
        "café",
        "Привет",
        "hi 🙂",
        "a|b",
        "a,b",
        "'x'",
        '"x"',
        "[1, 2]",
        '{"a": 1}',
        "model=x;prompt=y",
        "\\",
        "\n\n",
        " x ",
        "END",
        "x\x00y",
    ]
)
_any_text = st.text(min_size=1, max_size=12)
texts = st.one_of(_words, _any_text).filter(lambda s: bool(s.strip()))
stop_items = st.one_of(_words, _any_text, st.sampled_from(["\n", "\n\n", " ", "\t"]))
temperatures = st.one_of(
    st.sampled_from([0, 1, 2, 0.0, 0.7, 1.0, 2.0]),
    st.floats(min_value=0.0, max_value=2.0).filter(lambda x: math.copysign(1.0, x) > 0),
)
efforts = st.one_of(st.sampled_from(["none", "minimal", "low", "medium", "high"]), texts)
top_ps = st.one_of(
    st.none(), st.just(1), st.floats(min_value=0.0, max_value=1.0, exclude_min=True).filter(lambda x: x > 0)
)


@st.composite
def requests(draw: st.DrawFn) -> Spec:
    prompt = draw(texts)
    if draw(st.integers(min_value=0, max_value=4)) == 0:
        prompt = (prompt + " ") * (4100 // (len(prompt) + 1) + 1)  # longer than 4096 characters
    return {
        "model": draw(texts),
        "prompt": prompt,
        "system_prompt": draw(st.one_of(st.none(), texts)),
        "temperature": draw(st.one_of(st.none(), temperatures)),
        "max_tokens": draw(st.one_of(st.none(), st.integers(min_value=1, max_value=1_000_000))),
        "top_p": draw(top_ps),
        "stop": draw(st.lists(stop_items, max_size=3)),
        "reasoning_effort": draw(st.one_of(st.none(), efforts)),
        "stop_as": draw(st.sampled_from(["tuple", "list"])),
    }


# -- requests built from a generated one ----------------------------------------------------------


def _valid_text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _text_changes(value: str) -> list[str]:
    """Texts that differ from ``value`` in one way a careless key would not see."""
    ascii_only = "".join(ch for ch in value if ord(ch) < 128)
    changed = [
        value + "x",
        "x" + value,
        value.upper(),
        value.lower(),
        value.swapcase(),
        " " + value,
        value + " ",
        "\n" + value,
        value + "\t",
        value + "é",
        value + "🙂",
        value + "\u0301",
        ascii_only,
        value[:-1],
        unicodedata.normalize("NFD", value),
        unicodedata.normalize("NFC", value),
        unicodedata.normalize("NFKC", value),
        value.replace(" ", "  "),
        value + value,
    ]
    # Two values that differ only after their first 4096 characters: a key that keeps only a prefix of a text
    # (to bound its size) gives them one key.
    long = (value + " ") * (4100 // (len(value) + 1) + 1)
    changed += [long + "A", long + "B"]
    return [text for text in changed if _valid_text(text) and text != value]


def _number_changes(value: float, low: float, high: float) -> list[float | int]:
    candidates: list[float | int] = [
        0,
        1,
        0.7,
        0.74,
        0.75,
        0.9,
        0.95,
        0.9001,
        math.nextafter(value, high),
        math.nextafter(value, low),
        value + 0.04,
        value - 0.04,
        round(value, 1),
        round(value, 3),
        float(f"{value:.6g}"),
        value * 1.001,
        value + 1e-9,
    ]
    return [c for c in candidates if low <= c <= high and c != value and math.copysign(1.0, c) > 0]


def one_field_changes(base: Spec) -> list[Spec]:
    """Requests that differ from ``base`` in exactly one field."""
    out: list[Spec] = []
    for name in ("model", "prompt"):
        out += [{**base, name: text} for text in _text_changes(base[name])]
    for name in OPTIONAL_TEXT:
        value = base[name]
        if value is None:
            out += [{**base, name: text} for text in ("None", "null", "none", "'None'", '"None"', "()", "0")]
        else:
            out += [{**base, name: None}]
            out += [{**base, name: text} for text in _text_changes(value)]
    temperature = base["temperature"]
    if temperature is None:  # not set is not any value
        out += [{**base, "temperature": t} for t in (0, 0.0, 1, 1.0, 0.7, 2.0)]
    else:
        out += [{**base, "temperature": None}]
        out += [{**base, "temperature": t} for t in _number_changes(temperature, 0.0, 2.0)]
        out += [{**base, "temperature": t} for t in (2, 2.0) if t != temperature]
    tokens = base["max_tokens"]
    if tokens is None:
        out += [{**base, "max_tokens": n} for n in (1, 256, 1_000_000)]
    else:
        out += [{**base, "max_tokens": None}]
        out += [{**base, "max_tokens": n} for n in (tokens + 1, tokens - 1, tokens * 10, 1) if n >= 1 and n != tokens]
    top_p = base["top_p"]
    if top_p is None:
        out += [{**base, "top_p": p} for p in (1, 1.0, 0.5, 0.9)]
    else:
        out += [{**base, "top_p": None}]
        out += [{**base, "top_p": p} for p in _number_changes(top_p, 0.0, 1.0) if p > 0]
    stop = list(base["stop"])
    stops: list[list[str]] = [["None"], ["null"], ["END"], ["()"], ["[]"], ["\n"], ["\n\n"]]
    if stop:
        stops += [
            stop[:-1],
            [*stop, "END"],
            [*stop, stop[0]],
            stop[::-1],
            [",".join(stop)],
            ["".join(stop)],
            [" ".join(stop)],
            ["|".join(stop)],
            [str(stop)],
            [json.dumps(stop)],
            [str(tuple(stop))],
            list(stop[0]),
            [item.upper() for item in stop],
            [item + " " for item in stop],
        ]
    if len(stop) >= 2:
        stops += [[stop[0] + "," + stop[1], *stop[2:]], [stop[0] + stop[1], *stop[2:]]]
    out += [{**base, "stop": s} for s in stops if s != stop and all(s)]
    # Whatever base holds, each field whose default is None unset and at each value its default might be.
    for name, values in UNSET_LOOKALIKES.items():
        out += [{**base, name: None}, *({**base, name: value} for value in values)]
    return out


def added_field_changes(base: Spec) -> list[Spec]:
    """Requests of LLMRequest with a field added later (``ADDED_FIELD``) that differ from ``base`` in it
    only, and equal ones built another way."""
    out: list[Spec] = [{**base, ADDED_FIELD: value} for value in ADDED_VALUES]
    out += [dict(base), {**base, ADDED_FIELD: 42, "build": "positional"}, {**base, ADDED_FIELD: 7, "build": "replace"}]
    return out


def twins(base: Spec) -> list[Spec]:
    """Requests equal to ``base`` field by field, built another way."""
    out: list[Spec] = []
    flipped_stop = "list" if base["stop_as"] == "tuple" else "tuple"
    temperature, top_p = base["temperature"], base["top_p"]
    other_temperature = float(temperature) if isinstance(temperature, int) else temperature  # None stays None
    if isinstance(temperature, float) and temperature.is_integer():
        other_temperature = int(temperature)
    other_top_p = top_p
    if isinstance(top_p, int):
        other_top_p = float(top_p)
    elif isinstance(top_p, float) and top_p.is_integer():
        other_top_p = int(top_p)
    out.append({**base, "stop_as": flipped_stop})
    out.append({**base, "temperature": other_temperature})
    out.append({**base, "top_p": other_top_p})
    out.append({**base, "temperature": other_temperature, "top_p": other_top_p, "stop_as": flipped_stop})
    out.append({**base, "build": "positional"})
    out.append({**base, "build": "replace", "stop_as": flipped_stop})
    out.append(dict(base))
    return out


def glued(base: Spec, extra: str, a: str, b: str, c: str) -> list[Spec]:
    """Different requests whose values would read alike once joined, with or without names, in any order."""
    out: list[Spec] = []
    for first in TEXT_FIELDS:
        for second in TEXT_FIELDS:
            if first == second:
                continue
            for sep in [*SEPARATORS, extra]:
                for naming in NAMINGS:
                    name = naming.format(second) if naming else ""
                    out.append({**base, first: f"{a}{sep}{name}{b}", second: c})
                    out.append({**base, first: a, second: f"{b}{sep}{name}{c}"})
    out += [{**base, "model": a + b, "prompt": c}, {**base, "model": a, "prompt": b + c}]
    out += [{**base, "system_prompt": a, "prompt": c}, {**base, "system_prompt": c, "prompt": a}]
    for name in OPTIONAL_TEXT:
        out += [{**base, name: text} for text in (None, "None", "null", "none", f"'{a}'", f'"{a}"', a)]
    out += [
        {**base, "system_prompt": a, "reasoning_effort": None},
        {**base, "system_prompt": None, "reasoning_effort": a},
    ]
    stops = [
        [a, c],
        [a + c],
        [f"{a},{c}"],
        [f"{a} {c}"],
        [f"{a}|{c}"],
        [f"{a}\n{c}"],
        [f"{a}\x00{c}"],
        [a, c, a],
        [f"{a},{c}", a],
        [a, f"{c},{a}"],
        [str([a, c])],
        [json.dumps([a, c])],
        [str((a, c))],
        ["None"],
        [],
        [f"{a}{extra}{c}"],
        [a + extra, c],
        [a, extra + c],
    ]
    out += [{**base, "stop": s} for s in stops if all(s)]
    return [
        spec
        for spec in out
        if all(_valid_text(spec[f]) or (f in OPTIONAL_TEXT and spec[f] is None) for f in TEXT_FIELDS)
    ]


# -- comparing which requests share a key ---------------------------------------------------------


def _groups(outcome: dict[str, Any], count: int) -> list[int]:
    """For each request, the index of the first request with the same key; fails unless every key is a str."""
    result = outcome["result"]
    assert "ok" in result, f"make_cache_key raised: {wire.without(result.get('raised'), frozenset({'traceback'}))}"
    described = result["ok"]
    assert described.get("type") == "list" and len(described["items"]) == count, f"unexpected result {described}"
    keys = []
    for item in described["items"]:
        assert item["type"] == "str", f"expected every key to be a str, got {item['type']}"
        assert re.fullmatch(r"[0-9a-f]{64}", item["value"]), (
            f"expected every key to be 64 lowercase hex characters (a SHA-256 hexdigest), got {item['value']!r}"
        )
        keys.append(item["value"])
    first: dict[str, int] = {}
    return [first.setdefault(key, index) for index, key in enumerate(keys)]


def _show(spec: Spec) -> str:
    return repr({k: v for k, v in spec.items() if k != "stop_as" or v != "tuple"})[:400]


def same_sharing(pair: Pair, batch: list[Spec], *, op: str = "ex2.keys", note: str = "") -> list[int]:
    """Assert that the submission's keys of ``batch`` (made by ``op``) are shared exactly where the reference's
    are; ``note`` ends a failure's message."""
    got, want = pair.run(op, requests=batch)
    expected = _groups(want, len(batch))
    actual = _groups(got, len(batch))
    for index, (a, e) in enumerate(zip(actual, expected, strict=True)):
        if a == e:
            continue
        if a != index:  # the submission gives request `index` the key of an earlier, different request
            raise AssertionError(
                f"expected different keys for two different requests, got the same for\n  {_show(batch[a])}\n"
                f"  {_show(batch[index])}{note}"
            )
        raise AssertionError(
            f"expected the same key for two equal requests, got two keys for\n  {_show(batch[e])}\n"
            f"  {_show(batch[index])}{note}"
        )
    return actual


@pytest.fixture(scope="module")
def unset_lookalikes(pair: Pair) -> dict[str, list[Any]]:
    """UNSET_LOOKALIKES, once checked against the reference: it names every field whose default is None."""
    described = pair.reference.call("ex2.unset_fields")["result"]
    names = [item["value"] for item in described["ok"]["items"]]
    assert names == list(UNSET_LOOKALIKES), (
        f"UNSET_LOOKALIKES names {list(UNSET_LOOKALIKES)}, but the fields of LLMRequest whose default is None are "
        f"{names}: give each one values its default might be mistaken for"
    )
    return UNSET_LOOKALIKES


@pytest.mark.points(5)
@settings(max_examples=40, phases=NO_SHRINK)
@given(base=requests())
def test_a_request_that_differs_in_one_field_gets_another_key(
    pair: Pair, unset_lookalikes: dict[str, list[Any]], base: Spec
) -> None:
    same_sharing(pair, [base, *one_field_changes(base)])
    same_sharing(
        pair,
        [base, *added_field_changes(base)],
        op="ex2.keys_with_added_field",
        note=f"\n({ADDED_FIELD} is a field added to LLMRequest later: every field of the request counts, so list "
        "them with dataclasses.fields instead of naming today's)",
    )


@pytest.mark.points(2)
@settings(phases=NO_SHRINK)
@given(base=requests())
def test_a_request_equal_field_by_field_gets_the_same_key(pair: Pair, base: Spec) -> None:
    same_sharing(pair, [base, *twins(base)])


@pytest.mark.points(3)
@settings(max_examples=4, phases=NO_SHRINK)
@given(base=requests(), extra=st.text(min_size=1, max_size=3), a=texts, b=st.text(max_size=4), c=texts)
def test_values_that_read_alike_once_joined_get_different_keys(
    pair: Pair, base: Spec, extra: str, a: str, b: str, c: str
) -> None:
    same_sharing(pair, [base, *glued(base, extra, a, b, c)])


@pytest.fixture(scope="module")
def another_submission(submission: Child) -> Iterator[Child]:
    """The same submission in a second process (with its own hash seed)."""
    with Child(submission.package_parent, label="submission-again") as child:
        yield child


@pytest.fixture(scope="module")
def another_machine(submission: Child) -> Iterator[Child]:
    """The same submission in a process that runs ``ex2.keys_elsewhere``: as if on another machine."""
    with Child(submission.package_parent, label="submission-elsewhere") as child:
        yield child


@pytest.mark.points(2)
@settings(max_examples=10, phases=NO_SHRINK)
@given(batch=st.lists(requests(), min_size=1, max_size=8))
def test_a_key_is_the_same_in_another_process(
    pair: Pair, another_submission: Child, another_machine: Child, batch: list[Spec]
) -> None:
    batch = [*batch, *[spec for base in batch[:2] for spec in one_field_changes(base)[:10]]]
    here = pair.submission.call("ex2.keys", requests=batch)
    there = another_submission.call("ex2.keys", requests=batch)
    _groups(here, len(batch))  # every key a str
    _groups(there, len(batch))
    assert here["result"] == there["result"], (
        "expected the same keys in another process, got different ones: hash() changes from process to process; "
        f"use hashlib on a stable serialization\n  one process: {str(here)[:300]}\n  another:     {str(there)[:300]}"
    )
    # Caches are shared between machines (a SQLite file copied, one Redis): nothing of the machine in a key.
    elsewhere = another_machine.call("ex2.keys_elsewhere", requests=batch)
    _groups(elsewhere, len(batch))
    assert here["result"] == elsewhere["result"], (
        "expected the same keys on another machine (another host name and user), got different ones: a cache "
        "is shared between machines through a SQLite file or Redis, so a key holds the request and nothing of "
        f"the machine\n  this machine: {str(here)[:300]}\n  another:      {str(elsewhere)[:300]}"
    )


@pytest.mark.points(1)
@settings(phases=NO_SHRINK)
@given(what=st.sampled_from(["none", "str", "bytes", "dict", "list", "namespace", "lookalike", "the_class", "int"]))
def test_what_is_no_request_is_refused_as_the_reference_refuses_it(pair: Pair, what: str) -> None:
    pair.same_result("ex2.refuse", what=what)

"""Exercise 2: the cache key of a request (make_cache_key).

A cache key must change whenever anything that can change the answer changes,
stay the same for the same effective input, and be the same in every process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import llm_client
from llm_client import LLMRequest, make_cache_key

pytestmark = pytest.mark.ex2

BASE = LLMRequest(model="gpt-test", prompt="Name a prime number.")
FULL = LLMRequest(
    model="gpt-test",
    prompt="Name a prime number.",
    system_prompt="Answer in one word.",
    temperature=0.7,
    max_tokens=50,
    top_p=0.9,
    stop=("\n", "END"),
)

# One change per field; each pair must get two different keys.
FIELD_CHANGES = {
    "model": (BASE, replace(BASE, model="gpt-test-2")),
    "prompt": (BASE, replace(BASE, prompt="Name an even number.")),
    "system_prompt": (BASE, replace(BASE, system_prompt="Answer in French.")),
    "temperature": (BASE, replace(BASE, temperature=0.0)),  # not set (None, not sent) is not 0.0
    "max_tokens": (BASE, replace(BASE, max_tokens=5)),
    "top_p": (BASE, replace(BASE, top_p=1.0)),  # not set is not the value 1.0
    "stop": (BASE, replace(BASE, stop=("END",))),
    "reasoning_effort": (BASE, replace(BASE, reasoning_effort="low")),
}

# For each field whose default is None (unset: never sent, so the provider's own default applies), values that
# default might be mistaken for; the unset request must get a key apart from each.
UNSET_LOOKALIKES: dict[str, list[Any]] = {
    "system_prompt": ["You are a helpful assistant.", "None", "null", "none", "default"],
    "temperature": [0, 0.0, 1, 1.0, 0.7],
    "max_tokens": [1, 256, 1024, 4096, 8192],
    "top_p": [1, 1.0, 0.9],
    "reasoning_effort": ["none", "minimal", "low", "medium", "high"],
}


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_equal_requests_get_equal_keys() -> None:
    twin = LLMRequest(
        model="gpt-test",
        prompt="Name a prime number.",
        system_prompt="Answer in one word.",
        temperature=0.7,
        max_tokens=50,
        top_p=0.9,
        stop=["\n", "END"],  # type: ignore[arg-type]  # a list is accepted and stored as a tuple
    )
    assert make_cache_key(FULL) == make_cache_key(twin), "two equal requests should get the same key"
    assert make_cache_key(FULL) == make_cache_key(FULL), "the same request should always get the same key"
    for req in (BASE, FULL):
        key = make_cache_key(req)
        assert isinstance(key, str), f"expected a str, got {type(key).__name__}: {key!r}"
        assert re.fullmatch(r"[0-9a-f]{64}", key), (
            f"expected 64 lowercase hex characters (a SHA-256 hexdigest), got {key!r} ({len(key)} characters)"
        )


@pytest.mark.points(1)
@pytest.mark.hint(1)
@pytest.mark.parametrize("field_name", list(FIELD_CHANGES))
def test_key_changes_when_any_field_changes(field_name: str) -> None:
    before, after = FIELD_CHANGES[field_name]
    assert make_cache_key(before) != make_cache_key(after), (
        f"expected a different key when only {field_name} changes "
        f"({getattr(before, field_name)!r} -> {getattr(after, field_name)!r}), got the same key: "
        f"{field_name} can change the answer, so it must be part of the key"
    )
    unset = {f.name for f in dataclasses.fields(LLMRequest) if f.default is None}
    assert unset == set(UNSET_LOOKALIKES), f"UNSET_LOOKALIKES must name {sorted(unset)}"  # the grader's own check
    for value in UNSET_LOOKALIKES.get(field_name, []):
        assert make_cache_key(BASE) != make_cache_key(replace(BASE, **{field_name: value})), (
            f"expected {field_name} left unset (None: not sent, the provider's default applies) and "
            f"{field_name}={value!r} to give two keys, got the same key: an unset setting is not any value it "
            "could take, so key None as None"
        )


# Separators a key built by joining strings might use, and the ways it might write a field's name.
SEPARATORS = ["", "|", ",", ";", ":", " ", "\n", "\t", "\x00", "\x1f", "/", "-", "_", "&", ", ", " | "]
NAMINGS = ["{}=", "{}:", "{}: ", "'{}': ", '"{}": ']
TEXT_FIELDS = ["model", "prompt", "system_prompt"]


def _forged_pairs() -> list[tuple[LLMRequest, LLMRequest]]:
    """Pairs of different requests whose values, joined with a separator (with or without field names), agree.

    In each pair one text field's value ends with what the next field would look like, so that
    ``f + sep + g`` reads the same both ways: a serialization that can tell them apart must mark
    where a value ends (quoting, as JSON does), whatever order it writes the fields in.
    """
    pairs = []
    for first in TEXT_FIELDS:
        for second in TEXT_FIELDS:
            if first == second:
                continue
            for sep in SEPARATORS:
                for naming in ["", *NAMINGS]:
                    name = naming.format(second) if naming else ""
                    left_values: dict[str, Any] = {first: f"a{sep}{name}b", second: "c"}
                    right_values: dict[str, Any] = {first: "a", second: f"b{sep}{name}c"}
                    pairs.append((replace(BASE, **left_values), replace(BASE, **right_values)))
    return pairs


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_values_do_not_run_into_each_other() -> None:
    # Stop sequences that only differ in how they are joined are compared only when stop is keyed at all;
    # when it is not, test_key_changes_when_any_field_changes[stop] reports that instead.
    stop_keyed = make_cache_key(BASE) != make_cache_key(replace(BASE, stop=("END",)))
    # In each pair the prompts differ, so the keys differ whichever other fields are keyed,
    # unless the values are glued together: "ab" + "c" and "a" + "bc" are both "abc".
    pairs = [
        (LLMRequest(model="ab", prompt="c"), LLMRequest(model="a", prompt="bc")),
        (replace(BASE, system_prompt="x", prompt="y"), replace(BASE, system_prompt="y", prompt="x")),
        # None is no text: a system prompt that reads "None" (or "null") is a different request.
        (BASE, replace(BASE, system_prompt="None")),
        (BASE, replace(BASE, system_prompt="null")),
        (replace(BASE, system_prompt="x"), replace(BASE, system_prompt="'x'")),
        (replace(BASE, system_prompt="x"), replace(BASE, system_prompt='"x"')),
        *_forged_pairs(),
    ]
    if stop_keyed:
        stops = [("a", "b"), ("ab",), ("a,b",), ("a b",), ("a|b",), ("a\nb",), ("a\x00b",), ("a", "b", "c"),
                 ("a,b", "c"), ("a", "b,c"), ("['a', 'b']",), ('["a","b"]',), ("('a', 'b')",), ("None",)]
        pairs += [(replace(BASE, stop=x), replace(BASE, stop=y)) for i, x in enumerate(stops) for y in stops[i + 1 :]]
        pairs.append((BASE, replace(BASE, stop=("None",))))
    for left, right in pairs:
        assert make_cache_key(left) != make_cache_key(right), (
            f"expected different keys for two different requests, got the same for\n  {left}\n  {right}\n"
            "(the values ran into each other or lost their type: serialize the fields with their names, "
            "e.g. as a JSON object, instead of joining strings or turning values into strings)"
        )


@pytest.mark.points(1)
@pytest.mark.hint(1)
def test_every_character_and_digit_of_a_value_counts() -> None:
    long_text = "Summarize this report. " * 200
    pairs = [
        ("prompt in another case", replace(BASE, prompt="hello"), replace(BASE, prompt="Hello")),
        ("a space after the prompt", replace(BASE, prompt="hello"), replace(BASE, prompt="hello ")),
        ("a newline before the prompt", replace(BASE, prompt="hello"), replace(BASE, prompt="\nhello")),
        ("an accent", replace(BASE, prompt="café"), replace(BASE, prompt="cafe")),
        ("a non-ASCII character", replace(BASE, prompt="café"), replace(BASE, prompt="caf")),
        ("another script", replace(BASE, prompt="Привет"), replace(BASE, prompt="Пока")),
        ("an emoji", replace(BASE, prompt="hi 🙂"), replace(BASE, prompt="hi 🙃")),
        ("the last character of a long prompt", replace(BASE, prompt=long_text + "A"),
         replace(BASE, prompt=long_text + "B")),
        ("the system prompt's case", replace(BASE, system_prompt="Be brief."),
         replace(BASE, system_prompt="be brief.")),
        ("the model's case", replace(BASE, model="gpt-test"), replace(BASE, model="GPT-test")),
        ("temperature 0.7 -> 0.74", replace(BASE, temperature=0.7), replace(BASE, temperature=0.74)),
        ("temperature 0.7 -> 0.7000001", replace(BASE, temperature=0.7), replace(BASE, temperature=0.7000001)),
        ("top_p 0.9 -> 0.95", replace(BASE, top_p=0.9), replace(BASE, top_p=0.95)),
        ("top_p 0.9 -> 0.9001", replace(BASE, top_p=0.9), replace(BASE, top_p=0.9001)),
        ("max_tokens 100 -> 1000", replace(BASE, max_tokens=100), replace(BASE, max_tokens=1000)),
        ("max_tokens 10 -> 11", replace(BASE, max_tokens=10), replace(BASE, max_tokens=11)),
    ]
    # Whitespace is a real stop sequence; compared only when stop is keyed at all (see above).
    if make_cache_key(BASE) != make_cache_key(replace(BASE, stop=("END",))):
        pairs.append(("a stop that is whitespace", replace(BASE, stop=("\n",)), replace(BASE, stop=("\n\n",))))
    for what, left, right in pairs:
        assert make_cache_key(left) != make_cache_key(right), (
            f"expected different keys when only {what} changes, got the same key: the model sees every "
            "character and every digit, so the key must too (no rounding, trimming, lower-casing or dropped "
            "characters)"
        )


@pytest.mark.points(1)
@pytest.mark.hint(3)
def test_equal_numbers_share_a_key_and_a_field_added_later_is_keyed() -> None:
    as_int = LLMRequest(model="gpt-test", prompt="hi", temperature=0)
    as_float = LLMRequest(model="gpt-test", prompt="hi", temperature=0.0)
    assert make_cache_key(as_int) == make_cache_key(as_float), (
        "expected temperature=0 and temperature=0.0 to give the same key (same effective input), got two keys"
    )
    one = replace(BASE, temperature=1)
    assert make_cache_key(one) == make_cache_key(replace(BASE, temperature=1.0)), (
        "expected temperature=1 and temperature=1.0 to give the same key, got two keys"
    )
    assert make_cache_key(BASE) != make_cache_key(replace(BASE, temperature=0)), (
        "expected temperature left unset (None: not sent) and temperature=0 to give two keys: the model's "
        "default temperature is not 0"
    )
    # A field added to LLMRequest later (seed), in a new process whose request.py has it from the start.
    seeds = [None, 0, 1, 42]
    requests = [{**_fields_of(BASE), "seed": seed} for seed in seeds]
    keys = _keys_in_a_new_process(requests, hash_seed="0", mode="added_field")
    assert len(set(keys)) == len(seeds), (
        f"expected four keys for requests that differ only in a field added to LLMRequest later (seed={seeds}), "
        f"got {len(set(keys))}: list the request's fields with dataclasses.fields instead of naming today's, so "
        "a new field is keyed without an edit"
    )


# The child first loads only the modules that define LLMRequest and make_cache_key, without running the
# package's __init__ (which imports httpx and pydantic): a start-up of milliseconds instead of a second,
# and the same make_cache_key. Code that needs the whole package gets it imported as usual. A sixth argument
# changes the world first: "elsewhere", the standard library reports another machine's host name and user;
# "added_field", LLMRequest has one more field, seed (None: unset), as if request.py had gained it.
_CHILD = """
import dataclasses, importlib, importlib.abc, importlib.machinery, json, sys, types

mode = sys.argv[5] if len(sys.argv) > 5 else ""
if mode == "elsewhere":
    import getpass, os, platform, socket, uuid
    host, user, real_uname = "another-machine", "another-user", platform.uname()
    socket.gethostname = lambda: host
    socket.getfqdn = lambda name="": name or host + ".example.org"
    platform.node = lambda: host
    platform.uname = lambda: real_uname._replace(node=host)
    if hasattr(os, "uname"):  # not on Windows
        real_os_uname = os.uname()
        os.uname = lambda: os.uname_result((real_os_uname[0], host, *real_os_uname[2:]))
    uuid.getnode = lambda: 0x02ABCDEF0123
    getpass.getuser = lambda: user
    os.environ.update(HOSTNAME=host, COMPUTERNAME=host, USER=user, LOGNAME=user, USERNAME=user)

class AddedField(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path) if name == "llm_client.request" else None
        if spec is not None and spec.loader is not None:
            self.inner, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.inner.create_module(spec)

    def exec_module(self, module):
        self.inner.exec_module(module)
        base = module.LLMRequest
        field = ("seed", "int | None", dataclasses.field(default=None))
        module.LLMRequest = dataclasses.make_dataclass(base.__name__, [field], bases=(base,), frozen=True)
        module.LLMRequest.__module__, module.LLMRequest.__qualname__ = base.__module__, base.__qualname__

if mode == "added_field":
    sys.meta_path.insert(0, AddedField())

def keys(request_module, key_module):
    request_type = importlib.import_module(request_module).LLMRequest
    make_cache_key = importlib.import_module(key_module).make_cache_key
    return [make_cache_key(request_type(**fields)) for fields in json.loads(sys.argv[1])]

package = types.ModuleType("llm_client")
package.__path__ = [sys.argv[2]]
sys.modules["llm_client"] = package
try:
    found = keys(sys.argv[3], sys.argv[4])
except Exception:  # it needs the whole package: import it as usual
    for name in [m for m in sys.modules if m.partition(".")[0] == "llm_client"]:
        del sys.modules[name]
    found = keys("llm_client", "llm_client")
print(json.dumps(found))
"""


def _fields_of(req: LLMRequest) -> dict[str, Any]:
    return {**req.__dict__, "stop": list(req.stop)}


def _keys_in_a_new_process(requests: list[dict[str, Any]], *, hash_seed: str, mode: str = "") -> list[str]:
    """make_cache_key of the request each of ``requests`` (its fields) describes, in a fresh Python process
    with PYTHONHASHSEED ``hash_seed``, in the world ``mode`` makes (see _CHILD)."""
    package_parent = Path(llm_client.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(package_parent)}
    child = subprocess.run(
        [
            sys.executable, "-c", _CHILD, json.dumps(requests), str(package_parent / "llm_client"),
            LLMRequest.__module__, make_cache_key.__module__, *([mode] if mode else []),
        ],
        env=env,
        cwd=package_parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, f"a fresh Python process could not compute the keys:\n{child.stderr[-2000:]}"
    keys: list[str] = json.loads(child.stdout)
    return keys


@pytest.mark.points(1)
@pytest.mark.hint(2)
def test_key_is_the_same_in_another_process() -> None:
    requests = [BASE, FULL, replace(FULL, stop=()), replace(FULL, prompt="Ein Primzahl, bitte: café 🙂", top_p=None)]
    here = [make_cache_key(r) for r in requests]  # fails at once while the exercise is not started
    # A hash seed that differs from this process's one: hash() of a str would change with it.
    seed = "1" if os.environ.get("PYTHONHASHSEED") == "0" else "0"
    there = _keys_in_a_new_process([_fields_of(r) for r in requests], hash_seed=seed)
    assert there == here, (
        f"expected the same keys in a new process (PYTHONHASHSEED={seed}), got different ones:\n"
        f"  this process: {here[0]}\n  new process:  {there[0]}\n"
        "hash() changes from process to process; use hashlib (e.g. sha256) on a stable serialization"
    )
    # Caches are shared between machines (a SQLite file copied, one Redis): nothing of the machine in a key.
    elsewhere = _keys_in_a_new_process([_fields_of(r) for r in requests], hash_seed=seed, mode="elsewhere")
    assert elsewhere == here, (
        "expected the same keys on another machine (another host name and user), got different ones:\n"
        f"  this machine: {here[0]}\n  another:      {elsewhere[0]}\n"
        "a cache is shared between machines through a SQLite file or Redis: key the request, nothing of the machine"
    )

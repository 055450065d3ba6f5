"""MemoryCache and SQLiteCache (llm_client/caches.py)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from provider_payloads import OPENAI_BASE_URL, SENTINEL_KEY, openai_completion

from llm_client import (
    Cache,
    CacheWarning,
    FakeProvider,
    LLMClient,
    LLMRequest,
    MemoryCache,
    OpenAIProvider,
    SQLiteCache,
    make_cache_key,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-4o-mini", prompt="Name the capital of France.")


@pytest.fixture(params=["memory", "sqlite"])
def cache(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "memory":
        yield MemoryCache()
        return
    sqlite_cache = SQLiteCache(tmp_path / "cache.sqlite3")
    yield sqlite_cache
    sqlite_cache.close()


def raw_rows(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT key, value FROM llm_cache ORDER BY key").fetchall()
    conn.close()
    return rows


# -- both caches -----------------------------------------------------------------------------


def test_both_caches_follow_the_cache_protocol(cache: Any) -> None:
    assert isinstance(cache, Cache)


def test_a_missing_key_is_a_miss(cache: Any) -> None:
    assert cache.get("absent") is None


@pytest.mark.parametrize("value", ["Paris.", "", "héllo ✓ 日本", '{"json": "inside"}', "line\nbreak\x00nul"])
def test_a_stored_value_comes_back_exactly(cache: Any, value: str) -> None:
    cache.set("k", value)
    assert cache.get("k") == value


def test_setting_a_key_again_replaces_its_value(cache: Any) -> None:
    cache.set("k", "old")
    cache.set("k", "new")
    assert cache.get("k") == "new"
    assert len(cache) == 1


@pytest.mark.parametrize(("key", "value", "name"), [(1, "v", "key"), ("k", 1, "value"), ("k", b"v", "value")])
def test_non_string_keys_and_values_are_refused(cache: Any, key: Any, value: Any, name: str) -> None:
    with pytest.raises(TypeError, match=name):
        cache.set(key, value)
    assert len(cache) == 0


def test_a_client_with_either_cache_pays_once_for_a_repeated_request(cache: Any) -> None:
    provider = FakeProvider(["Paris."])
    client = LLMClient(provider, cache=cache)
    assert [client.call(REQ) for _ in range(3)] == ["Paris."] * 3
    assert provider.call_count == 1
    assert cache.get(make_cache_key(REQ)) == "Paris."


# -- SQLiteCache -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Paris.", 'a "quoted" {"x": [1, 2]}', "ünïcode ✓"])
def test_sqlite_stores_values_as_json_text_never_pickled(tmp_path: Path, value: str) -> None:
    path = tmp_path / "cache.sqlite3"
    sqlite_cache = SQLiteCache(path)
    sqlite_cache.set("k", value)
    sqlite_cache.close()
    [(key, stored)] = raw_rows(path)
    assert key == "k"
    assert isinstance(stored, str)  # TEXT, not a pickled BLOB
    assert json.loads(stored) == value


def test_sqlite_entries_persist_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    first = SQLiteCache(path)
    first.set("k", "Paris.")
    first.close()
    second = SQLiteCache(str(path))
    assert second.get("k") == "Paris."
    assert len(second) == 1
    second.close()


def test_a_new_client_on_the_same_sqlite_file_is_answered_from_it(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    first_cache = SQLiteCache(path)
    LLMClient(FakeProvider(["Paris."]), cache=first_cache).call(REQ)
    first_cache.close()
    provider = FakeProvider(default=None)
    second_cache = SQLiteCache(path)
    assert LLMClient(provider, cache=second_cache).call(REQ) == "Paris."
    assert provider.call_count == 0
    second_cache.close()


def test_a_stored_value_that_is_not_json_text_warns_and_is_a_miss(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    sqlite_cache = SQLiteCache(path)
    sqlite_cache.set("k", "ok")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE llm_cache SET value = ? WHERE key = ?", ("not json", "k"))
        conn.execute("INSERT INTO llm_cache VALUES (?, ?)", ("n", "[1, 2]"))
    conn.close()
    with pytest.warns(CacheWarning, match="decode"):
        assert sqlite_cache.get("k") is None
    with pytest.warns(CacheWarning, match="decode"):
        assert sqlite_cache.get("n") is None
    sqlite_cache.close()


def test_an_unusable_sqlite_file_warns_and_the_call_still_goes_through(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    path.write_bytes(b"this is not an SQLite database" * 100)
    sqlite_cache = SQLiteCache(path)
    provider = FakeProvider(["Paris."])
    with pytest.warns(CacheWarning):
        assert LLMClient(provider, cache=sqlite_cache).call(REQ) == "Paris."
    assert provider.call_count == 1
    sqlite_cache.close()


@pytest.mark.parametrize(
    ("path", "options", "error", "name"),
    [
        (42, {}, TypeError, "path"),
        ("", {}, ValueError, "path"),
        ("cache.sqlite3", {"timeout_s": 0}, ValueError, "timeout_s"),
    ],
)
def test_sqlite_cache_refuses_bad_arguments(path: Any, options: dict[str, Any], error: type, name: str) -> None:
    with pytest.raises(error, match=name):
        SQLiteCache(path, **options)


def test_no_api_key_reaches_the_cache_file(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite3"
    sqlite_cache = SQLiteCache(path)
    with httpx.Client() as http, respx.mock(base_url=OPENAI_BASE_URL) as router:
        router.post("/chat/completions").mock(return_value=httpx.Response(200, json=openai_completion("Paris.")))
        LLMClient(OpenAIProvider(api_key=SENTINEL_KEY, http_client=http), cache=sqlite_cache).call(REQ)
    sqlite_cache.close()
    assert [json.loads(value) for _, value in raw_rows(path)] == ["Paris."]
    assert SENTINEL_KEY.encode() not in path.read_bytes()


def test_an_answer_holding_a_lone_surrogate_is_cached_and_read_back_unchanged(tmp_path: Path) -> None:
    # A JSON body may escape a lone surrogate ("\ud800"); SQLite cannot store such text as UTF-8.
    answer = "broken \ud800 token"
    sqlite_cache = SQLiteCache(tmp_path / "cache.sqlite3")
    provider = FakeProvider([answer])
    client = LLMClient(provider, cache=sqlite_cache)
    assert client.call(REQ) == answer
    assert client.call(REQ) == answer
    assert provider.call_count == 1
    sqlite_cache.close()

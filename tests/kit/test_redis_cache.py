"""RedisCache against a real redis-server: every promise of SQLiteCache, and a Redis down, slow or full."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from redis_server import RedisServer, redis_server

from llm_client import Cache, CacheWarning, FakeProvider, LLMClient, LLMRequest, RedisCache

pytestmark = [pytest.mark.kit, pytest.mark.timeout(60)]

REQ = LLMRequest(model="gpt-4o-mini", prompt="Name the capital of France.")


@pytest.fixture
def server() -> Iterator[RedisServer]:
    yield from redis_server()


@pytest.fixture
def cache(server: RedisServer) -> Iterator[RedisCache]:
    redis_cache = RedisCache(server.url)
    yield redis_cache
    redis_cache.close()


def test_redis_cache_follows_the_cache_protocol(cache: RedisCache) -> None:
    assert isinstance(cache, Cache)
    assert cache.get("absent") is None


@pytest.mark.parametrize("value", ["Paris.", "", "héllo ✓ 日本", '{"json": "inside"}', "line\nbreak\x00nul", "\ud800"])
def test_a_stored_value_comes_back_exactly(cache: RedisCache, value: str) -> None:
    cache.set("k", value)
    assert cache.get("k") == value


def test_setting_a_key_again_replaces_its_value_and_values_are_json_text(cache: RedisCache, server: Any) -> None:
    cache.set("k", "old")
    cache.set("k", "new")
    assert cache.get("k") == "new"
    assert len(cache) == 1
    assert server.client().get("llm_client:cache:k") == b'"new"'  # JSON text, never pickled


@pytest.mark.parametrize(("key", "value", "name"), [(1, "v", "key"), ("k", 1, "value"), ("k", b"v", "value")])
def test_non_string_keys_and_values_are_refused(cache: RedisCache, key: Any, value: Any, name: str) -> None:
    with pytest.raises(TypeError, match=name):
        cache.set(key, value)
    assert len(cache) == 0


def test_two_caches_on_one_redis_share_answers_and_a_client_pays_once(server: RedisServer) -> None:
    provider = FakeProvider()
    with LLMClient(provider, cache=RedisCache(server.url)) as first:
        assert first.call(REQ) == first.call(REQ)
    with LLMClient(provider, cache=RedisCache(server.url)) as second:  # another worker, same Redis
        second.call(REQ)
    assert len(provider.calls) == 1


def test_entries_with_a_time_to_live_expire(server: RedisServer) -> None:
    cache = RedisCache(server.url, ttl_s=0.3)
    cache.set("k", "v")
    assert cache.get("k") == "v"
    assert 0 < server.client().pttl("llm_client:cache:k") <= 300  # type: ignore[attr-defined]
    time.sleep(0.5)
    assert cache.get("k") is None


def test_a_stored_value_that_is_not_json_text_warns_and_is_a_miss(cache: RedisCache, server: Any) -> None:
    server.client().set("llm_client:cache:bad", b"\x80not json")
    server.client().set("llm_client:cache:num", b"42")
    for key in ("bad", "num"):
        with pytest.warns(CacheWarning, match="decode"):
            assert cache.get(key) is None


def test_a_down_redis_warns_and_the_call_goes_through(server: RedisServer) -> None:
    server.stop()
    provider = FakeProvider()
    with LLMClient(provider, cache=RedisCache(server.url)) as client, pytest.warns(CacheWarning, match="RedisCache"):
        assert client.call(REQ)
    assert len(provider.calls) == 1


def test_a_redis_that_comes_back_is_used_again(server: RedisServer) -> None:
    cache = RedisCache(server.url)
    server.stop()
    with pytest.warns(CacheWarning):
        cache.set("k", "v")
    server.start()
    cache.set("k", "v")
    assert cache.get("k") == "v"


def test_a_hung_redis_costs_one_short_timeout_per_call_and_the_call_goes_through(server: RedisServer) -> None:
    cache = RedisCache(server.url, timeout_s=0.2)
    cache.set("warm", "connection open")  # a connection is open when the server stops answering
    provider = FakeProvider()
    server.pause()
    try:
        with LLMClient(provider, cache=cache) as client, warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.monotonic()
            assert client.call(REQ)
            took = time.monotonic() - started
    finally:
        server.resume()
    assert len(provider.calls) == 1
    assert [w.category for w in caught] and all(issubclass(w.category, CacheWarning) for w in caught)
    assert took < 2.0, f"a hung Redis held the call {took:.2f} s"


def test_a_full_redis_warns_on_write_and_the_call_goes_through() -> None:
    for server in redis_server("--maxmemory", "1mb", "--maxmemory-policy", "noeviction"):
        cache = RedisCache(server.url)
        big = "x" * 200_000
        with pytest.warns(CacheWarning, match="write"):
            for index in range(40):
                cache.set(f"big{index}", big)
        provider = FakeProvider()
        with LLMClient(provider, cache=cache) as client, warnings.catch_warnings():
            warnings.simplefilter("ignore", CacheWarning)
            assert client.call(REQ)
        assert len(provider.calls) == 1


@pytest.mark.parametrize(
    ("args", "options", "error"),
    [
        ((1,), {}, TypeError),
        (("localhost:6379",), {}, ValueError),
        (("redis://localhost",), {"ttl_s": 0}, ValueError),
        (("redis://localhost",), {"timeout_s": -1}, ValueError),
        (("redis://localhost",), {"namespace": 3}, TypeError),
    ],
)
def test_redis_cache_refuses_bad_arguments(args: tuple[Any, ...], options: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        RedisCache(*args, **options)

"""SharedLimiter against a real redis-server: one allowance for every worker that uses the same name."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import textwrap
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from redis_server import RedisServer, redis_server

from llm_client import AdaptiveLimiter, AsyncLLMClient, FakeProvider, LLMClient, LLMRequest, SharedLimiter, run_batch
from llm_client._internal.rate_limiter import PacedProvider
from llm_client._internal.shared_limiter import SharedLimiterWarning, SharedTurn

pytestmark = [pytest.mark.kit, pytest.mark.timeout(120)]


@pytest.fixture
def server() -> Iterator[RedisServer]:
    yield from redis_server()


def openai_headers(limit: int, remaining: int, reset: str) -> dict[str, str]:
    return {
        "x-ratelimit-limit-requests": str(limit),
        "x-ratelimit-remaining-requests": str(remaining),
        "x-ratelimit-reset-requests": reset,
    }


def test_a_shared_limiter_is_an_adaptive_limiter_and_a_pacer(server: RedisServer) -> None:
    limiter = SharedLimiter(server.url, "org/proj/model")
    assert isinstance(limiter, AdaptiveLimiter)
    PacedProvider(FakeProvider(), limiter)  # accepted where any limiter is
    assert "org/proj/model" in repr(limiter)


def test_a_limiter_that_learned_nothing_starts_conservatively(server: RedisServer) -> None:
    limiter = SharedLimiter(server.url, "fresh", initial_rate=10.0)
    turns = [limiter.reserve() for _ in range(5)]
    assert isinstance(turns[0], SharedTurn) and turns[0].wait == 0.0
    gaps = [b.redis_at - a.redis_at for a, b in itertools.pairwise(turns)]
    assert all(abs(gap - 0.1) < 0.01 for gap in gaps), gaps  # one at a time, at initial_rate
    snapshot = limiter.snapshot()
    assert snapshot is not None and snapshot["turns"] == 5 and snapshot["told"] is False


def test_what_one_limiter_learns_from_headers_paces_another_with_the_same_name(server: RedisServer) -> None:
    first = SharedLimiter(server.url, "org/proj/gpt")
    turn = first.acquire()
    first.observe(turn, openai_headers(50, 49, "20ms"))  # a bucket of 50, refilled at 50 a second
    second = SharedLimiter(server.url, "org/proj/gpt")
    snapshot = second.snapshot()
    assert snapshot is not None and snapshot["told"] and snapshot["burst"] == 50
    assert snapshot["requests_per_s"] == pytest.approx(50, rel=0.05)
    # The burst left is shared: together the two take it, then wait at the server's pace.
    waits = [limiter.reserve().wait for limiter in (first, second) for _ in range(30)]
    assert waits[:45].count(0.0) >= 44 and all(w > 0 for w in waits[52:])
    other = SharedLimiter(server.url, "org/proj/another-model")
    assert other.reserve().wait == 0.0 and other.snapshot()["told"] is False  # type: ignore[index]


def test_only_an_answer_to_a_turn_well_after_a_burst_can_show_that_more_is_left(server: RedisServer) -> None:
    """Turns given at once, out of a burst, go out from many workers' threads in any order: the server's
    ``remaining`` in the answer to one of them may not yet count those given just before it, so it cannot
    raise the shared allowance. A turn that went two of its round trips after the burst can."""
    first, second = SharedLimiter(server.url, "burst"), SharedLimiter(server.url, "burst")
    first.observe(first.acquire(), openai_headers(50, 49, "20ms"))  # learned: a bucket of 50, 49 left
    burst = [second.reserve() for _ in range(40)]
    assert all(turn.wait == 0.0 for turn in burst)
    before = second.snapshot()
    assert before is not None and before["level"] < 12  # about 49 - 2.5 kept back - 40
    # The last turn of the burst reached the server before the 39 others: it says only the probe was counted.
    second.observe(burst[-1], openai_headers(50, 48, "40ms"))
    after = second.snapshot()
    assert after is not None and after["level"] < before["level"] + 3 and after["epoch"] == before["epoch"]
    queued = [second.reserve() for _ in range(20)]
    last = queued[-1]
    assert isinstance(last, SharedTurn) and last.wait > 0  # it goes 1 / rate after the one before it
    # Its answer (no round trip yet: it is observed before its time) says 30 were left: the schedule was too
    # slow, and its waiters queue again sooner.
    second.observe(last, openai_headers(50, 30, "400ms"))
    raised = second.snapshot()
    assert raised is not None and raised["level"] > after["level"] + 10 and raised["epoch"] == after["epoch"] + 1


def test_a_rate_limit_429_empties_the_shared_allowance_and_honours_retry_after(server: RedisServer) -> None:
    first, second = SharedLimiter(server.url, "x"), SharedLimiter(server.url, "x")
    turn = first.acquire()
    first.observe(turn, openai_headers(50, 49, "20ms"))
    turn = first.acquire()
    first.observe(turn, {}, rate_limited=True, retry_after=0.5)
    assert second.reserve().wait > 0  # the other worker waits too
    started = time.monotonic()
    second.acquire()
    assert time.monotonic() - started >= 0.3
    assert second.snapshot()["rate_limited"] == 1  # type: ignore[index]


def test_429s_without_headers_lower_the_shared_rate_once_per_schedule(server: RedisServer) -> None:
    first, second = SharedLimiter(server.url, "y", initial_rate=20.0), SharedLimiter(server.url, "y")
    turns = [first.reserve(), second.reserve()]
    first.observe(turns[0], {}, rate_limited=True)
    second.observe(turns[1], {}, rate_limited=True)  # sent under the same schedule: says nothing new
    assert first.snapshot()["requests_per_s"] == pytest.approx(20 * 0.7)  # type: ignore[index]
    assert first.snapshot()["rate_limited"] == 2  # type: ignore[index]


WORKER = textwrap.dedent(
    """
    import json, sys, time
    from llm_client import SharedLimiter
    limiter = SharedLimiter(sys.argv[1], "two-processes", initial_rate=20.0)
    sys.stdout.write("ready\\n"); sys.stdout.flush()
    sys.stdin.readline()
    times = []
    for _ in range(20):
        limiter.acquire()
        times.append(time.time())
    print(json.dumps(times))
    """
)


def test_two_processes_sharing_one_name_share_one_allowance(server: RedisServer) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, server.url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=os.environ,
            cwd=server.folder,  # not the repository root, whose llm_client/ would shadow the chosen package
        )
        for _ in range(2)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        for worker in workers:
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        times = sorted(t for worker in workers for t in json.loads(worker.communicate(timeout=30)[0]))
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
    # 40 turns at 20 a second, one at a time: 1.95 s at least (each process alone would take 0.95 s).
    assert len(times) == 40
    assert times[-1] - times[0] >= 1.8, times[-1] - times[0]
    for i in range(len(times) - 21):
        assert times[i + 21] - times[i] >= 0.95  # never more than 21 in any second


def test_redis_stopped_mid_batch_the_batch_goes_on_per_process_and_warns(server: RedisServer) -> None:
    calls = 0

    def reply(req: LLMRequest) -> str:
        nonlocal calls
        calls += 1
        if calls == 10:
            server.stop()
        return "ok"

    limiter = SharedLimiter(server.url, "stopped", initial_rate=200.0, timeout_s=0.2)
    requests = [LLMRequest(model="m", prompt=f"p{i}") for i in range(40)]
    with LLMClient(FakeProvider(default=reply)) as client, pytest.warns(SharedLimiterWarning, match="per process"):
        results = run_batch(client, requests, limiter=limiter, concurrency=4, progress=False)
    assert results == ["ok"] * 40
    assert not limiter.shared


def test_redis_down_from_the_start_warns_once_and_paces_per_process(server: RedisServer) -> None:
    server.stop()
    limiter = SharedLimiter(server.url, "down", timeout_s=0.1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(5):
            limiter.observe(limiter.acquire(), {})
    assert [w.category for w in caught] == [SharedLimiterWarning]


def test_arun_batch_paces_with_a_shared_limiter(server: RedisServer) -> None:
    from llm_client import arun_batch

    limiter = SharedLimiter(server.url, "async", initial_rate=100.0)
    requests = [LLMRequest(model="m", prompt=f"p{i}") for i in range(20)]

    async def main() -> list[Any]:
        async with AsyncLLMClient(FakeProvider()) as client:
            return await arun_batch(client, requests, limiter=limiter, concurrency=4, progress=False)

    started = time.monotonic()
    results = asyncio.run(main())
    assert len(results) == 20 and all(isinstance(r, str) for r in results)
    assert time.monotonic() - started >= 0.17  # 20 turns at 100 a second, one at a time
    assert limiter.snapshot()["turns"] == 20  # type: ignore[index]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1, "n"), TypeError),
        (("redis://h", 2), TypeError),
        (("redis://h", " "), ValueError),
        (("h:1", "n"), ValueError),
    ],
)
def test_shared_limiter_refuses_bad_arguments(args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(error):
        SharedLimiter(*args)


def test_the_package_imports_without_redis_and_says_how_to_get_it(tmp_path: Any) -> None:
    code = textwrap.dedent(
        """
        import sys
        sys.modules["redis"] = None  # as if redis-py were not installed
        import llm_client
        from llm_client import RedisCache, SharedLimiter
        for make in (lambda: SharedLimiter("redis://localhost", "n"), lambda: RedisCache("redis://localhost")):
            try:
                make()
            except ImportError as exc:
                assert "llm-client-course[redis]" in str(exc), exc
            else:
                raise AssertionError("no ImportError")
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=os.environ, cwd=tmp_path
    )
    assert done.stdout.strip() == "ok", done.stderr


def test_the_lua_take_schedules_as_gcra_take_does(server: RedisServer) -> None:
    """The script that takes a turn restates Gcra.take in Lua: both must give the same turn and schedule."""
    from llm_client._internal.gcra import Gcra

    limiter = SharedLimiter(server.url, "lua-vs-python")
    redis_now = limiter.reserve().redis_at  # creates the key; now on Redis's clock, about
    cases = [
        # (requests, tokens, tokens asked): schedules owing turns, paused, and with a token allowance
        (Gcra(20.0, 5.0, redis_now + 10.0), None, 0),
        (Gcra(20.0, 5.0, redis_now + 1.0, redis_now + 5.0), None, 0),
        (Gcra(50.0, 50.0, redis_now + 3.0), Gcra(100.0, 1000.0, redis_now + 20.0), 300),
        (Gcra(50.0, 50.0, redis_now + 3.0), Gcra(100.0, 1000.0, redis_now + 20.0, redis_now + 30.0), 2000),
    ]
    for requests, tokens, asked in cases:

        def put(state: Any, now: float, requests: Any = requests, tokens: Any = tokens) -> None:
            state.requests, state.tokens = requests, tokens

        limiter._transact(put)
        turn = limiter.reserve(asked)
        # Every time in these schedules is ahead of Redis's clock, so the result does not depend on "now".
        go, expected_requests = requests.take(redis_now, 1.0)
        expected_tokens = tokens
        if tokens is not None and asked:
            token_go, expected_tokens = tokens.take(redis_now, float(asked))
            go = max(go, token_go)
        assert isinstance(turn, SharedTurn)
        assert turn.redis_at == pytest.approx(go, abs=1e-6)
        seen, _ = limiter._read()
        assert seen is not None
        assert seen.requests.tat == pytest.approx(expected_requests.tat, abs=1e-6)
        assert seen.requests.hold == requests.hold
        if expected_tokens is not None:
            assert seen.tokens is not None and seen.tokens.tat == pytest.approx(expected_tokens.tat, abs=1e-6)


def test_a_turn_is_one_round_trip(server: RedisServer) -> None:
    """Taking a turn is one EVALSHA (the hot path), not a transaction."""
    limiter = SharedLimiter(server.url, "one-trip", initial_rate=1000.0)
    limiter.reserve()  # loads the script
    monitor: Any = server.client()
    before = {k: v["calls"] for k, v in monitor.info("commandstats").items()}
    for _ in range(10):
        limiter.reserve()
    after = {k: v["calls"] for k, v in monitor.info("commandstats").items()}
    called = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert called.get("cmdstat_evalsha") == 10, called
    assert "cmdstat_watch" not in called and "cmdstat_multi" not in called, called


def test_a_hash_this_version_cannot_read_starts_again(server: RedisServer) -> None:
    limiter = SharedLimiter(server.url, "garbled", initial_rate=5.0)
    client: Any = server.client()
    client.hset(limiter.key, mapping={"v": "1", "r_rate": "not a number"})
    assert limiter.reserve().wait == 0.0
    snapshot = limiter.snapshot()
    assert snapshot is not None and snapshot["requests_per_s"] == 5.0 and snapshot["turns"] == 1

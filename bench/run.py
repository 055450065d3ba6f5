"""The kit's benchmarks, in one command: raw httpx, this kit's client and the official openai SDK, side by side.

Everything talks to bench/server.py, started here on 127.0.0.1 (never any
other host). Five measurements:

1. **Overhead per call**: an instant server (no latency, no limit); the median
   time of one uncached call, sequentially on one kept-alive connection, as a
   ratio to raw httpx doing the same POST and reading the same field.
2. **Cache hits**: one ``client.call(req)`` answered from a MemoryCache and
   from an SQLiteCache (a file in a temporary directory).
3. **A rate-limited batch**: N requests (300) against a server that allows R
   per second (50, with a burst of B = 50), answers after 0.05 s and sends
   OpenAI's rate-limit headers; wall time as a ratio to the minimum
   (N - B) / R, the 429s the server sent, and the requests that failed. This
   kit's batch runners with no rate given (the adaptive limiter, async and on
   threads; once against the same server sending no rate-limit headers and no
   Retry-After; and once against a server whose headers state a per-minute
   allowance, 60 R a minute, while it enforces the R-per-second bucket: a
   quantized limit), with RateLimiter(R), and with no limiter; and the SDK's
   AsyncOpenAI with an asyncio.Semaphore: as is, and with every failed request
   sent again until none fails.
4. **Overload**: N requests (100) against a server with no rate limit that
   answers 30% of requests, at random, with a 429 about its capacity ("That
   model is currently overloaded"), not the caller's rate; the kit's default
   batch next to the SDK's: wall time, answers per second, failed requests.
5. **A restart**: 50 requests (0.2 s per answer) during which the server stops
   0.3 s in, drops every connection, refuses new ones for 2 s and comes back;
   the requests lost with default settings, over 20 runs seeded 0 to 19 (the
   kit's ``rng``, the SDK's ``random``).

Each figure is the median over ``--runs`` runs (20 seeded runs for the
restart; the contenders of a measurement alternate within each run, so they
share the machine's noise).

    python bench/run.py                  # everything (about nine minutes)
    python bench/run.py --quick          # a smoke run with small numbers (seconds)
    python bench/run.py --only batch,overload,restart   # some measurements
    python bench/run.py --write-readme   # also put the tables into bench/README.md (only those measured)

The reference package in solutions/ is measured (``--package DIR`` picks
another). The openai SDK is a bench-only dependency (bench/requirements.txt);
without it its rows are skipped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
README = HERE / "README.md"
MODEL = "bench-model"


@dataclass(frozen=True)
class Settings:
    """How much to measure. Times in seconds."""

    runs: int
    overhead_calls: int
    memory_hits: int
    sqlite_hits: int
    batch_size: int
    rate_per_s: float
    burst: float
    latency_s: float
    concurrency: int
    overload_size: int = 100
    overload_share: float = 0.3
    restart_size: int = 50
    restart_runs: int = 20
    restart_latency_s: float = 0.2
    outage_after_s: float = 0.3
    outage_s: float = 2.0

    @classmethod
    def full(cls, runs: int, restart_runs: int = 20) -> Settings:
        return cls(runs, 2000, 20000, 5000, 300, 50.0, 50.0, 0.05, 16, restart_runs=restart_runs)

    @property
    def stated_per_minute(self) -> float:
        """The per-minute allowance the quantized server states: its per-second rate, times 60."""
        return self.rate_per_s * 60.0

    @property
    def minimum_s(self) -> float:
        """The soonest a batch can end: the burst at once, then the rest at the server's rate (answers aside)."""
        return max(0.0, self.batch_size - self.burst) / self.rate_per_s

    @classmethod
    def quick(cls) -> Settings:
        return cls(1, 30, 200, 100, 12, 50.0, 5.0, 0.02, 4, 12, 0.3, 12, 1, 0.02, 0.02, 0.3)


# -- the server -------------------------------------------------------------------------------


class BenchServer:
    """bench/server.py in a subprocess, and its control endpoints."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "server.py"), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.match(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not match:
            self.close()
            raise RuntimeError(f"bench/server.py did not start: {line!r}")
        self.url = match[1]
        import httpx

        self._control = httpx.Client(base_url=self.url, timeout=10.0)

    @property
    def api_base(self) -> str:
        return f"{self.url}/v1"

    def reset(
        self,
        *,
        latency_s: float = 0.0,
        rate_per_s: float | None = None,
        burst: float = 1.0,
        **options: Any,
    ) -> None:
        """New settings (see bench/server.py's Config: rate_headers, retry_after, stated_per_minute,
        overload_share, seed), zeroed counters, a full bucket."""
        config = {"latency_s": latency_s, "rate_per_s": rate_per_s, "burst": burst}
        self._control.post("/reset", json=config | options).raise_for_status()

    def outage(self, after_s: float, seconds: float) -> None:
        """A restart: ``after_s`` from now the server drops every connection and refuses new ones for ``seconds``."""
        self._control.post("/outage", json={"after_s": after_s, "seconds": seconds}).raise_for_status()

    def wait_until_up(self, not_before: float) -> None:
        """Sleep until ``not_before`` (time.perf_counter), then until the server answers again."""
        time.sleep(max(0.0, not_before - time.perf_counter()))
        for _ in range(100):
            with contextlib.suppress(Exception):
                self.stats()
                return
            time.sleep(0.05)
        raise RuntimeError("bench/server.py did not come back after its outage")

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._control.get("/stats").json()
        return stats

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._control.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


# -- measuring ----------------------------------------------------------------------------------


def timed(calls: int, call: Callable[[], object]) -> float:
    """Seconds per call, over ``calls`` calls (after one untimed call that opens the connection)."""
    call()
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls


def atimed(calls: int, call: Callable[[], Awaitable[object]]) -> float:
    """:func:`timed` for a coroutine function, in a fresh event loop."""

    async def loop() -> float:
        await call()
        start = time.perf_counter()
        for _ in range(calls):
            await call()
        return (time.perf_counter() - start) / calls

    return asyncio.run(loop())


@dataclass
class Samples:
    """Several runs' values for each contender, in the order first measured."""

    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float) -> None:
        self.values.setdefault(name, []).append(value)

    def median(self, name: str) -> float:
        return statistics.median(self.values[name])


def have_sdk() -> bool:
    return importlib.util.find_spec("openai") is not None


# -- 1. overhead per call -------------------------------------------------------------------------


def overhead(server: BenchServer, settings: Settings, sdk: bool) -> Samples:
    import httpx

    from llm_client import AsyncLLMClient, LLMClient, LLMRequest, OpenAIProvider

    server.reset()
    req = LLMRequest(model=MODEL, prompt="Say hello.")
    body = OpenAIProvider(api_key="bench", base_url=server.api_base).payload(req)
    url = f"{server.api_base}/chat/completions"
    headers = {"content-type": "application/json", "authorization": "Bearer bench"}
    samples = Samples()
    n = settings.overhead_calls

    for _ in range(settings.runs):
        with httpx.Client() as http:
            samples.add(
                "sync: raw httpx", timed(n, lambda: http.post(url, json=body, headers=headers).json()["choices"])
            )
        with LLMClient(OpenAIProvider(api_key="bench", base_url=server.api_base)) as client:
            samples.add("sync: LLMClient", timed(n, lambda client=client: client.call(req)))  # type: ignore[misc]
        with httpx.Client() as http:
            given = LLMClient(OpenAIProvider(api_key="bench", base_url=server.api_base, http_client=http))
            samples.add(
                "sync: LLMClient, the caller's httpx.Client",
                timed(n, lambda client=given: client.call(req)),  # type: ignore[misc]
            )
        if sdk:
            import openai

            with openai.OpenAI(api_key="bench", base_url=server.api_base) as sdk_client:
                create = sdk_client.chat.completions.create
                messages: Any = [{"role": "user", "content": req.prompt}]
                samples.add(
                    "sync: openai SDK",
                    timed(n, lambda create=create, m=messages: create(model=MODEL, messages=m)),  # type: ignore[misc]
                )

        async def raw_async() -> float:
            async with httpx.AsyncClient() as ahttp:

                async def one() -> object:
                    return (await ahttp.post(url, json=body, headers=headers)).json()["choices"]

                await one()
                start = time.perf_counter()
                for _ in range(n):
                    await one()
                return (time.perf_counter() - start) / n

        samples.add("async: raw httpx", asyncio.run(raw_async()))

        async def kit_async() -> float:
            async with httpx.AsyncClient() as ahttp:
                provider = OpenAIProvider(api_key="bench", base_url=server.api_base, async_http_client=ahttp)
                client = AsyncLLMClient(provider)
                await client.call(req)
                start = time.perf_counter()
                for _ in range(n):
                    await client.call(req)
                return (time.perf_counter() - start) / n

        samples.add("async: AsyncLLMClient", asyncio.run(kit_async()))
        if sdk:
            import openai

            async def sdk_async() -> float:
                async with openai.AsyncOpenAI(api_key="bench", base_url=server.api_base) as aclient:
                    messages: Any = [{"role": "user", "content": req.prompt}]
                    await aclient.chat.completions.create(model=MODEL, messages=messages)
                    start = time.perf_counter()
                    for _ in range(n):
                        await aclient.chat.completions.create(model=MODEL, messages=messages)
                    return (time.perf_counter() - start) / n

            samples.add("async: openai SDK", asyncio.run(sdk_async()))
    return samples


# -- 2. cache hits --------------------------------------------------------------------------------


def cache_hits(server: BenchServer, settings: Settings) -> Samples:
    from llm_client import AsyncLLMClient, LLMClient, LLMRequest, MemoryCache, OpenAIProvider, SQLiteCache

    server.reset()
    req = LLMRequest(model=MODEL, prompt="Say hello, from the cache.")
    samples = Samples()
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(settings.runs):
            sqlite = SQLiteCache(Path(tmp) / f"cache-{run}.sqlite")
            for label, cache, hits in (
                ("MemoryCache", MemoryCache(), settings.memory_hits),
                ("SQLiteCache", sqlite, settings.sqlite_hits),
            ):
                provider = OpenAIProvider(api_key="bench", base_url=server.api_base)
                client = LLMClient(provider, cache=cache)
                samples.add(f"LLMClient, {label}", timed(hits, lambda c=client: c.call(req)))  # type: ignore[misc]
                aclient = AsyncLLMClient(provider, cache=cache)
                samples.add(f"AsyncLLMClient, {label}", atimed(hits, lambda c=aclient: c.call(req)))  # type: ignore[misc]
            sqlite.close()
    return samples


# -- the batch runners -------------------------------------------------------------------------


async def kit_async_batch(server: BenchServer, requests: list[Any], concurrency: int, limiter: Any, seed: Any) -> int:
    """This kit's AsyncLLMClient (default settings, its rng seeded with ``seed``) and arun_batch; the failures."""
    import httpx

    from llm_client import AsyncLLMClient, LLMError, OpenAIProvider, arun_batch

    async with httpx.AsyncClient() as ahttp:
        provider = OpenAIProvider(api_key="bench", base_url=server.api_base, async_http_client=ahttp)
        client = AsyncLLMClient(provider, rng=random.Random(seed))
        results = await arun_batch(client, requests, concurrency=concurrency, limiter=limiter, progress=False)
    return sum(isinstance(r, LLMError) for r in results)


def kit_threads_batch(server: BenchServer, requests: list[Any], concurrency: int, limiter: Any, seed: Any) -> int:
    """This kit's LLMClient (default settings, its rng seeded with ``seed``) and run_batch; the failures."""
    import httpx

    from llm_client import LLMClient, LLMError, OpenAIProvider, run_batch

    with httpx.Client(limits=httpx.Limits(max_keepalive_connections=concurrency)) as http:
        provider = OpenAIProvider(api_key="bench", base_url=server.api_base, http_client=http)
        client = LLMClient(provider, rng=random.Random(seed))
        results = run_batch(client, requests, concurrency=concurrency, limiter=limiter, progress=False)
    return sum(isinstance(r, LLMError) for r in results)


async def sdk_batch(server: BenchServer, requests: list[Any], concurrency: int, until_done: bool = False) -> int:
    """The openai SDK's AsyncOpenAI (its defaults) with a Semaphore and gather; the failures.

    With ``until_done`` the failed requests are sent again (up to 50 rounds) until none fails.
    """
    import openai

    async with openai.AsyncOpenAI(api_key="bench", base_url=server.api_base) as client:
        semaphore = asyncio.Semaphore(concurrency)

        async def one(req: Any) -> str | None:
            async with semaphore:
                completion = await client.chat.completions.create(
                    model=req.model, messages=[{"role": "user", "content": req.prompt}]
                )
                return completion.choices[0].message.content

        pending = requests
        for _ in range(50 if until_done else 1):
            outcomes = await asyncio.gather(*(one(r) for r in pending), return_exceptions=True)
            pending = [r for r, o in zip(pending, outcomes, strict=True) if isinstance(o, BaseException)]
            if not pending:
                break
        return len(pending)


def batch_requests(n: int, label: str = "Request") -> list[Any]:
    from llm_client import LLMRequest

    return [LLMRequest(model=MODEL, prompt=f"{label} number {i}.") for i in range(n)]


# -- 3. the rate-limited batch -------------------------------------------------------------------


@dataclass
class BatchRun:
    wall_s: float
    rate_limited: int
    failed: int
    attempts: int


QUANTIZED = "AsyncLLMClient + arun_batch, adaptive, headers state {per_minute:g}/min, server enforces {rate:g}/s"


def batch(server: BenchServer, settings: Settings, sdk: bool) -> dict[str, list[BatchRun]]:
    from llm_client import RateLimiter

    n, c = settings.batch_size, settings.concurrency
    requests = batch_requests(n)

    def pace(kind: str) -> Any:
        """The ``limiter`` argument: "auto" (adaptive), a RateLimiter at the server's rate, or None."""
        return {"adaptive": "auto", "rate": RateLimiter(settings.rate_per_s), "none": None}[kind]

    def kit_async(kind: str) -> int:
        return asyncio.run(kit_async_batch(server, requests, c, pace(kind), None))

    silent = {"rate_headers": False, "retry_after": False}
    quantized = {"stated_per_minute": settings.stated_per_minute}
    contenders: dict[str, tuple[Callable[[], int], dict[str, Any]]] = {
        "AsyncLLMClient + arun_batch, adaptive (the default)": (lambda: kit_async("adaptive"), {}),
        f"LLMClient + run_batch ({c} threads), adaptive": (
            lambda: kit_threads_batch(server, requests, c, "auto", None),
            {},
        ),
        "AsyncLLMClient + arun_batch, adaptive, server sends no rate-limit headers": (
            lambda: kit_async("adaptive"),
            silent,
        ),
        QUANTIZED.format(per_minute=settings.stated_per_minute, rate=settings.rate_per_s): (
            lambda: kit_async("adaptive"),
            quantized,
        ),
        "AsyncLLMClient + arun_batch + RateLimiter": (lambda: kit_async("rate"), {}),
        "AsyncLLMClient + arun_batch, no limiter": (lambda: kit_async("none"), {}),
    }
    if sdk:
        contenders["openai AsyncOpenAI + Semaphore + gather"] = (
            lambda: asyncio.run(sdk_batch(server, requests, c)),
            {},
        )
        contenders["openai, failed requests sent again until none fails"] = (
            lambda: asyncio.run(sdk_batch(server, requests, c, until_done=True)),
            {},
        )

    runs: dict[str, list[BatchRun]] = {name: [] for name in contenders}
    for _ in range(settings.runs):
        for name, (run, server_options) in contenders.items():
            server.reset(
                latency_s=settings.latency_s, rate_per_s=settings.rate_per_s, burst=settings.burst, **server_options
            )
            start = time.perf_counter()
            failed = run()
            wall = time.perf_counter() - start
            stats = server.stats()
            runs[name].append(BatchRun(wall, stats["rate_limited"], failed, stats["requests"]))
    return runs


# -- 4. overload ----------------------------------------------------------------------------------


def overload(server: BenchServer, settings: Settings, sdk: bool) -> dict[str, list[BatchRun]]:
    """A batch against a server with no rate limit that answers a share of requests with a capacity 429."""
    n, c = settings.overload_size, settings.concurrency
    requests = batch_requests(n, "Overloaded request")
    contenders: dict[str, Callable[[int], int]] = {
        "AsyncLLMClient + arun_batch (the defaults)": lambda seed: asyncio.run(
            kit_async_batch(server, requests, c, "auto", seed)
        ),
        f"LLMClient + run_batch ({c} threads, the defaults)": lambda seed: kit_threads_batch(
            server, requests, c, "auto", seed
        ),
    }
    if sdk:
        contenders[SDK_AS_IS] = lambda seed: asyncio.run(sdk_batch(server, requests, c))
    runs: dict[str, list[BatchRun]] = {name: [] for name in contenders}
    for seed in range(settings.runs):
        for name, run in contenders.items():
            server.reset(latency_s=settings.latency_s, overload_share=settings.overload_share, seed=seed)
            random.seed(seed)  # the SDK's jitter
            start = time.perf_counter()
            failed = run(seed)
            wall = time.perf_counter() - start
            stats = server.stats()
            runs[name].append(BatchRun(wall, stats["overloaded"] + stats["rate_limited"], failed, stats["requests"]))
    return runs


SDK_AS_IS = "openai AsyncOpenAI + Semaphore + gather (its defaults)"


# -- 5. a restart -----------------------------------------------------------------------------------


def restart(server: BenchServer, settings: Settings, sdk: bool) -> dict[str, list[BatchRun]]:
    """A batch through a restart: the server drops everything and refuses connections for a while."""
    n, c = settings.restart_size, settings.concurrency
    requests = batch_requests(n, "Restarted request")
    contenders: dict[str, Callable[[int], int]] = {
        "AsyncLLMClient + arun_batch (the defaults)": lambda seed: asyncio.run(
            kit_async_batch(server, requests, c, "auto", seed)
        ),
    }
    if sdk:
        contenders[SDK_AS_IS] = lambda seed: asyncio.run(sdk_batch(server, requests, c))
    runs: dict[str, list[BatchRun]] = {name: [] for name in contenders}
    for seed in range(settings.restart_runs):
        for name, run in contenders.items():
            server.reset(latency_s=settings.restart_latency_s)
            start = time.perf_counter()
            server.outage(settings.outage_after_s, settings.outage_s)
            random.seed(seed)  # the SDK's jitter
            failed = run(seed)
            wall = time.perf_counter() - start
            server.wait_until_up(start + settings.outage_after_s + settings.outage_s + 0.05)
            stats = server.stats()
            runs[name].append(BatchRun(wall, stats["rate_limited"], failed, stats["requests"]))
    return runs


# -- the report ---------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    versions = []
    for package in ("httpx", "openai"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions.append(f"{package} {version(package)}")
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}; " + ", ".join(versions)
    )


def load() -> str:
    """The 1-minute load average: other work on the machine slows every contender, not evenly."""
    with contextlib.suppress(OSError, AttributeError):
        return f"{os.getloadavg()[0]:.2f}"
    return "unknown"


def overhead_table(samples: Samples) -> list[str]:
    lines = ["| client | per call (median) | ratio to raw httpx |", "|---|---:|---:|"]
    for name in samples.values:
        mode = name.split(":", 1)[0]
        base = samples.median(f"{mode}: raw httpx")
        value = samples.median(name)
        lines.append(f"| {name} | {value * 1e6:.0f} us | {value / base:.2f}x |")
    return lines


def cache_table(samples: Samples) -> list[str]:
    lines = ["| client, cache | per hit (median) |", "|---|---:|"]
    lines += [f"| {name} | {samples.median(name) * 1e6:.1f} us |" for name in samples.values]
    return lines


def batch_table(runs: dict[str, list[BatchRun]], settings: Settings) -> list[str]:
    minimum = settings.minimum_s
    lines = [
        "| client | wall time (median) | / minimum | 429s (median) | 429s / responses | failed requests (median) "
        "| HTTP requests (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, results in runs.items():
        wall = statistics.median(r.wall_s for r in results)
        limited = statistics.median(r.rate_limited for r in results)
        attempts = statistics.median(r.attempts for r in results)
        lines.append(
            f"| {name} | {wall:.2f} s | {wall / minimum:.3f}x | {limited:g} | "
            f"{limited / max(attempts, 1):.1%} | "
            f"{statistics.median(r.failed for r in results):g} | {attempts:g} |"
        )
    return lines


def overload_table(runs: dict[str, list[BatchRun]], settings: Settings) -> list[str]:
    n = settings.overload_size
    sdk = runs.get(SDK_AS_IS)
    sdk_wall = statistics.median(r.wall_s for r in sdk) if sdk else None
    lines = [
        "| client | wall time (median) | / the SDK's | answers per second (median) | 429s (median) "
        "| failed requests (median, total) | HTTP requests (median) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, results in runs.items():
        wall = statistics.median(r.wall_s for r in results)
        ratio = f"{wall / sdk_wall:.2f}x" if sdk_wall else "-"
        rate = statistics.median((n - r.failed) / r.wall_s for r in results)
        failed = statistics.median(r.failed for r in results)
        lines.append(
            f"| {name} | {wall:.2f} s | {ratio} | {rate:.1f} | {statistics.median(r.rate_limited for r in results):g} "
            f"| {failed:g}, {sum(r.failed for r in results)} in {len(results)} runs "
            f"| {statistics.median(r.attempts for r in results):g} |"
        )
    return lines


def restart_table(runs: dict[str, list[BatchRun]]) -> list[str]:
    lines = [
        "| client | lost requests (median) | lost (fewest, most) | runs that lost none | wall time (median) "
        "| HTTP requests (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, results in runs.items():
        lost = [r.failed for r in results]
        lines.append(
            f"| {name} | {statistics.median(lost):g} | {min(lost)}, {max(lost)} | "
            f"{sum(x == 0 for x in lost)} of {len(lost)} | {statistics.median(r.wall_s for r in results):.2f} s "
            f"| {statistics.median(r.attempts for r in results):g} |"
        )
    return lines


MEASUREMENTS = ("overhead", "cache", "batch", "overload", "restart")


def section(
    name: str, table: list[str], settings: Settings, sdk: bool, quick: bool, loads: tuple[str, str]
) -> list[str]:
    """One measurement's text: what was measured, when and how, and its table."""
    runs = settings.restart_runs if name == "restart" else settings.runs
    when = (
        f"Measured {dt.date.today().isoformat()} on {machine()}; load average {loads[0]} before, {loads[1]} after; "
        f"{'runs seeded 0 to ' + str(runs - 1) if name == 'restart' else 'medians over ' + str(runs) + ' run(s)'}"
        f"{' (--quick: small numbers, not for quoting)' if quick else ''}."
    )
    if not sdk:
        when += " The openai SDK is not installed: its rows are skipped (pip install -r bench/requirements.txt)."
    title = {
        "overhead": f"**Overhead per uncached call**, instant server, {settings.overhead_calls} sequential calls "
        "per run:",
        "cache": f"**Cache hits**, `client.call(req)` answered from the cache ({settings.memory_hits} memory hits, "
        f"{settings.sqlite_hits} SQLite hits per run):",
        "batch": f"**Batch of {settings.batch_size} requests**, server limit {settings.rate_per_s:g}/s (a bucket of "
        f"{settings.burst:g}), {settings.latency_s:g} s per answer, concurrency {settings.concurrency}; "
        f"minimum ({settings.batch_size:g} - {settings.burst:g}) / {settings.rate_per_s:g} = {settings.minimum_s:g} s:",
        "overload": f"**Overload: batch of {settings.overload_size} requests**, no rate limit, "
        f"{settings.overload_share:.0%} of requests answered with a capacity 429 at random, "
        f"{settings.latency_s:g} s per answer, concurrency {settings.concurrency}:",
        "restart": f"**Restart: batch of {settings.restart_size} requests**, {settings.restart_latency_s:g} s per "
        f"answer, concurrency {settings.concurrency}; {settings.outage_after_s:g} s in, the server drops every "
        f"connection and refuses new ones for {settings.outage_s:g} s; {settings.restart_runs} runs:",
    }[name]
    return [title, "", when, "", *table]


def write_readme(sections: dict[str, list[str]]) -> None:
    """Replace, in bench/README.md, the block of each measurement in ``sections`` (the others stay as they are)."""
    readme = README.read_text(encoding="utf-8")
    for name, lines in sections.items():
        start_marker, end_marker = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
        start, end = readme.index(start_marker) + len(start_marker), readme.index(end_marker)
        readme = readme[:start] + "\n" + "\n".join(lines) + "\n" + readme[end:]
    README.write_text(readme, encoding="utf-8")


@contextlib.contextmanager
def running_server() -> Iterator[BenchServer]:
    server = BenchServer()
    try:
        yield server
    finally:
        server.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark raw httpx, this kit's client and the openai SDK.")
    parser.add_argument("--quick", action="store_true", help="small numbers, one run: a smoke test, not for quoting")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median reported); default 5")
    parser.add_argument("--restart-runs", type=int, default=20, help="seeded runs of the restart; default 20")
    parser.add_argument(
        "--only", default=",".join(MEASUREMENTS), help=f"comma-separated measurements, of {', '.join(MEASUREMENTS)}"
    )
    parser.add_argument("--no-sdk", action="store_true", help="leave out the openai SDK rows")
    parser.add_argument("--package", type=Path, default=ROOT / "solutions", help="directory holding llm_client")
    parser.add_argument("--write-readme", action="store_true", help="put the tables into bench/README.md")
    parser.add_argument("--json", type=Path, help="also write the raw samples to this file")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.restart_runs < 1:
        parser.error("--runs and --restart-runs must be at least 1")
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(MEASUREMENTS))
    if unknown or not only:
        parser.error(f"--only takes some of {', '.join(MEASUREMENTS)}, got {args.only!r}")
    sys.path.insert(0, str(args.package.resolve()))
    settings = Settings.quick() if args.quick else Settings.full(args.runs, args.restart_runs)
    sdk = have_sdk() and not args.no_sdk
    if not have_sdk() and not args.no_sdk:
        print("openai is not installed: the SDK rows are skipped", file=sys.stderr)

    sections: dict[str, list[str]] = {}
    raw: dict[str, Any] = {"settings": settings.__dict__}
    with running_server() as server:
        print(f"server: {server.url}", file=sys.stderr, flush=True)
        for name in MEASUREMENTS:
            if name not in only:
                continue
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
            load_before = load()
            table: list[str]
            if name == "overhead":
                samples = overhead(server, settings, sdk)
                table, raw["overhead_s"] = overhead_table(samples), samples.values
            elif name == "cache":
                samples = cache_hits(server, settings)
                table, raw["cache_hit_s"] = cache_table(samples), samples.values
            else:
                measure = {"batch": batch, "overload": overload, "restart": restart}[name]
                runs = measure(server, settings, sdk)
                raw[name] = {contender: [r.__dict__ for r in results] for contender, results in runs.items()}
                if name == "batch":
                    table = batch_table(runs, settings)
                elif name == "overload":
                    table = overload_table(runs, settings)
                else:
                    table = restart_table(runs)
            sections[name] = section(name, table, settings, sdk, args.quick, (load_before, load()))
    print("\n\n".join("\n".join(lines) for lines in sections.values()))
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    if args.write_readme:
        write_readme(sections)
    return 0


if __name__ == "__main__":
    sys.exit(main())

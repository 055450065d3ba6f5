"""The kit's benchmarks, in one command: raw httpx, this kit's client and the official openai SDK, side by side.

Everything talks to bench/server.py, started here on 127.0.0.1 (never any
other host). Three measurements:

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
   threads, and once against the same server sending no rate-limit headers
   and no Retry-After), with RateLimiter(R), and with no limiter; and the
   SDK's AsyncOpenAI with an asyncio.Semaphore: as is, and with every failed
   request sent again until none fails.

Each figure is the median over ``--runs`` runs (the contenders of a
measurement alternate within each run, so they share the machine's noise).

    python bench/run.py                  # the full run (about two minutes)
    python bench/run.py --quick          # a smoke run with small numbers (seconds)
    python bench/run.py --write-readme   # also put the tables into bench/README.md

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
RESULTS_START = "<!-- bench:results -->"
RESULTS_END = "<!-- /bench:results -->"
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

    @classmethod
    def full(cls, runs: int) -> Settings:
        return cls(runs, 2000, 20000, 5000, 300, 50.0, 50.0, 0.05, 16)

    @property
    def minimum_s(self) -> float:
        """The soonest a batch can end: the burst at once, then the rest at the server's rate (answers aside)."""
        return max(0.0, self.batch_size - self.burst) / self.rate_per_s

    @classmethod
    def quick(cls) -> Settings:
        return cls(1, 30, 200, 100, 12, 50.0, 5.0, 0.02, 4)


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
        rate_headers: bool = True,
        retry_after: bool = True,
    ) -> None:
        config = {"latency_s": latency_s, "rate_per_s": rate_per_s, "burst": burst}
        self._control.post("/reset", json=config | {"rate_headers": rate_headers, "retry_after": retry_after})

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


# -- 3. the rate-limited batch -------------------------------------------------------------------


@dataclass
class BatchRun:
    wall_s: float
    rate_limited: int
    failed: int
    attempts: int


def batch(server: BenchServer, settings: Settings, sdk: bool) -> dict[str, list[BatchRun]]:
    import httpx

    from llm_client import (
        AsyncLLMClient,
        LLMClient,
        LLMError,
        LLMRequest,
        OpenAIProvider,
        RateLimiter,
        arun_batch,
        run_batch,
    )

    n, c = settings.batch_size, settings.concurrency
    requests = [LLMRequest(model=MODEL, prompt=f"Request number {i}.") for i in range(n)]

    def pace(kind: str) -> Any:
        """The ``limiter`` argument: "auto" (adaptive), a RateLimiter at the server's rate, or None."""
        return {"adaptive": "auto", "rate": RateLimiter(settings.rate_per_s), "none": None}[kind]

    async def kit_async(kind: str) -> int:
        async with httpx.AsyncClient() as ahttp:
            provider = OpenAIProvider(api_key="bench", base_url=server.api_base, async_http_client=ahttp)
            results = await arun_batch(
                AsyncLLMClient(provider), requests, concurrency=c, limiter=pace(kind), progress=False
            )
        return sum(isinstance(r, LLMError) for r in results)

    def kit_threads(kind: str) -> int:
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=c)) as http:
            client = LLMClient(OpenAIProvider(api_key="bench", base_url=server.api_base, http_client=http))
            results = run_batch(client, requests, concurrency=c, limiter=pace(kind), progress=False)
        return sum(isinstance(r, LLMError) for r in results)

    async def sdk_gather(until_done: bool) -> int:
        import openai

        async with openai.AsyncOpenAI(api_key="bench", base_url=server.api_base) as client:
            semaphore = asyncio.Semaphore(c)

            async def one(req: LLMRequest) -> str | None:
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

    silent = {"rate_headers": False, "retry_after": False}
    contenders: dict[str, tuple[Callable[[], int], dict[str, bool]]] = {
        "AsyncLLMClient + arun_batch, adaptive (the default)": (lambda: asyncio.run(kit_async("adaptive")), {}),
        f"LLMClient + run_batch ({c} threads), adaptive": (lambda: kit_threads("adaptive"), {}),
        "AsyncLLMClient + arun_batch, adaptive, server sends no rate-limit headers": (
            lambda: asyncio.run(kit_async("adaptive")),
            silent,
        ),
        "AsyncLLMClient + arun_batch + RateLimiter": (lambda: asyncio.run(kit_async("rate")), {}),
        "AsyncLLMClient + arun_batch, no limiter": (lambda: asyncio.run(kit_async("none")), {}),
    }
    if sdk:
        contenders["openai AsyncOpenAI + Semaphore + gather"] = (lambda: asyncio.run(sdk_gather(False)), {})
        contenders["openai, failed requests sent again until none fails"] = (
            lambda: asyncio.run(sdk_gather(True)),
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


def report(settings: Settings, sections: dict[str, list[str]], sdk: bool, quick: bool, loads: tuple[str, str]) -> str:
    minimum = settings.minimum_s
    head = [
        f"Measured {dt.date.today().isoformat()} on {machine()}; load average {loads[0]} before, {loads[1]} after.",
        f"Medians over {settings.runs} run(s){' (--quick: small numbers, not for quoting)' if quick else ''}.",
    ]
    if not sdk:
        head.append("The openai SDK is not installed: its rows are skipped (pip install -r bench/requirements.txt).")
    parts = [" ".join(head), ""]
    parts += [
        f"**Overhead per uncached call**, instant server, {settings.overhead_calls} sequential calls per run:",
        "",
        *sections["overhead"],
        "",
        f"**Cache hits**, `client.call(req)` answered from the cache ({settings.memory_hits} memory hits, "
        f"{settings.sqlite_hits} SQLite hits per run):",
        "",
        *sections["cache"],
        "",
        f"**Batch of {settings.batch_size} requests**, server limit {settings.rate_per_s:g}/s (a bucket of "
        f"{settings.burst:g}), {settings.latency_s:g} s per answer, concurrency {settings.concurrency}; "
        f"minimum ({settings.batch_size:g} - {settings.burst:g}) / {settings.rate_per_s:g} = {minimum:g} s:",
        "",
        *sections["batch"],
    ]
    return "\n".join(parts) + "\n"


def write_readme(text: str) -> None:
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(RESULTS_START) + len(RESULTS_START), readme.index(RESULTS_END)
    README.write_text(readme[:start] + "\n" + text + readme[end:], encoding="utf-8")


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
    parser.add_argument("--no-sdk", action="store_true", help="leave out the openai SDK rows")
    parser.add_argument("--package", type=Path, default=ROOT / "solutions", help="directory holding llm_client")
    parser.add_argument("--write-readme", action="store_true", help="put the tables into bench/README.md")
    parser.add_argument("--json", type=Path, help="also write the raw samples to this file")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    sys.path.insert(0, str(args.package.resolve()))
    settings = Settings.quick() if args.quick else Settings.full(args.runs)
    sdk = have_sdk() and not args.no_sdk
    if not have_sdk() and not args.no_sdk:
        print("openai is not installed: the SDK rows are skipped", file=sys.stderr)

    load_before = load()
    with running_server() as server:
        print(f"server: {server.url}; measuring overhead ...", file=sys.stderr, flush=True)
        over = overhead(server, settings, sdk)
        print("measuring cache hits ...", file=sys.stderr, flush=True)
        hits = cache_hits(server, settings)
        print("measuring the rate-limited batch ...", file=sys.stderr, flush=True)
        runs = batch(server, settings, sdk)
    sections = {
        "overhead": overhead_table(over),
        "cache": cache_table(hits),
        "batch": batch_table(runs, settings),
    }
    text = report(settings, sections, sdk, args.quick, (load_before, load()))
    print(text)
    if args.json:
        raw = {
            "settings": settings.__dict__,
            "overhead_s": over.values,
            "cache_hit_s": hits.values,
            "batch": {name: [r.__dict__ for r in results] for name, results in runs.items()},
        }
        args.json.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")
    if args.write_readme:
        write_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Four worker processes, one limit: SharedLimiter (Redis) against the default per-process limiter.

A batch of 300 requests is split over 4 worker processes (75 each, ``run_batch``
with 8 threads) against bench/server.py on loopback, which allows 50 requests a
second with a burst of 50 (0.05 s per answer). The soonest the 300 can end is
5.0 s: the burst at once, then 250 at 50 a second. Four rounds, each with both
limiters:

- **together**: the four start at the same moment;
- **staggered**: they start 1 s apart;
- **killed**: the last worker is killed (SIGKILL) 2 s in; the others go on.

In the "together" round the official ``openai`` SDK runs beside them: four
workers, each sending its 75 requests on 8 threads through one ``OpenAI``
client with its defaults (2 retries honouring ``retry-after-ms``), as its
documentation shows (skipped when the SDK is not installed).

Each round is run ``--runs`` times (5 by default), the contenders taking turns
within a run. The table gives medians: the time to the last answer (and its
ratio to 5.0 s when all 300 were answered), the share of responses that were
429s, and the failed requests (with the total over all runs). With ``--json
PATH`` the figures are written to PATH: for each round and contender its
median run, with the attempts sent in each second (the notebook
notebooks/10_beyond_one_process.ipynb reads such a file), and every run.
Needs redis-server (Debian's package) and redis-py (the ``redis`` extra). The
reference package in solutions/ is measured (``--package DIR`` picks another).

    python bench/shared_limit.py [--runs 10] [--json notebooks/10_beyond_one_process.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKERS = 4
PER_WORKER = 75
RATE = 50.0
BURST = 50.0
LATENCY_S = 0.05
MINIMUM_S = (WORKERS * PER_WORKER - BURST) / RATE  # 5.0 s


def worker(api_base: str, redis_url: str, limiter_kind: str, index: int, out: str) -> None:
    """One worker process: say "ready", read its start time (wall clock) from stdin, wait for it, run 75
    requests, write what happened to ``out``."""
    if limiter_kind == "sdk":
        sdk_worker(api_base, index, out)
        return
    from llm_client import LLMClient, LLMRequest, OpenAIProvider, SharedLimiter, run_batch

    attempts: list[tuple[float, bool]] = []

    class Recorded:
        """The OpenAI provider, noting the time and outcome of each attempt."""

        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.name = inner.name

        def complete(self, req: Any, *, timeout_s: float) -> Any:
            sent = time.time()
            try:
                answer = self.inner.complete(req, timeout_s=timeout_s)
            except Exception:
                attempts.append((sent, False))
                raise
            attempts.append((sent, True))
            return answer

        def close(self) -> None:
            self.inner.close()

    limiter: Any = SharedLimiter(redis_url, "bench/org/proj/model") if limiter_kind == "shared" else "auto"
    requests = [LLMRequest(model="bench", prompt=f"w{index} r{i}", max_tokens=8) for i in range(PER_WORKER)]
    with LLMClient(Recorded(OpenAIProvider(api_key="bench", base_url=api_base))) as client:
        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        time.sleep(max(0.0, start_at - time.time()))
        results = run_batch(client, requests, limiter=limiter, concurrency=8, progress=False)
        ended = time.time()
    failed = sum(1 for r in results if not isinstance(r, str))
    Path(out).write_text(json.dumps({"ended": ended, "failed": failed, "attempts": attempts}))


def sdk_worker(api_base: str, index: int, out: str) -> None:
    """The same worker with the openai SDK: one ``OpenAI`` client (its defaults), 8 threads; each attempt's
    time and outcome noted by the HTTP client's event hooks."""
    from concurrent.futures import ThreadPoolExecutor

    import openai

    attempts: list[tuple[float, bool]] = []
    sent: dict[int, float] = {}

    def on_request(request: Any) -> None:
        sent[id(request)] = time.time()

    def on_response(response: Any) -> None:
        attempts.append((sent.pop(id(response.request), time.time()), response.status_code < 400))

    http = openai.DefaultHttpxClient(event_hooks={"request": [on_request], "response": [on_response]})
    with openai.OpenAI(api_key="bench", base_url=api_base, http_client=http) as client:

        def ask(i: int) -> bool:
            try:
                client.chat.completions.create(
                    model="bench", messages=[{"role": "user", "content": f"w{index} r{i}"}], max_tokens=8
                )
            except openai.OpenAIError:
                return False
            return True

        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        time.sleep(max(0.0, start_at - time.time()))
        with ThreadPoolExecutor(8) as pool:
            answered = list(pool.map(ask, range(PER_WORKER)))
        ended = time.time()
    Path(out).write_text(json.dumps({"ended": ended, "failed": answered.count(False), "attempts": attempts}))


class Redis:
    """redis-server on a Unix socket in a temporary folder (no TCP port, no persistence)."""

    def __init__(self) -> None:
        path = shutil.which("redis-server")
        if path is None:
            raise SystemExit("bench/shared_limit.py needs redis-server (apt-get install redis-server)")
        self.folder = tempfile.mkdtemp(prefix="redis")
        self.socket = os.path.join(self.folder, "redis.sock")
        self.url = f"unix://{self.socket}"
        self.process = subprocess.Popen(
            [path, "--port", "0", "--unixsocket", self.socket, "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        import redis

        for _ in range(200):
            try:
                if redis.Redis(unix_socket_path=self.socket).ping():
                    return
            except (redis.RedisError, OSError):
                time.sleep(0.025)
        raise RuntimeError("redis-server did not start")

    def flush(self) -> None:
        import redis

        redis.Redis(unix_socket_path=self.socket).flushall()

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)


def one_round(
    server: Any, redis: Redis, limiter_kind: str, stagger_s: float, kill_after_s: float | None, package: Path
) -> dict[str, Any]:
    server.reset(latency_s=LATENCY_S, rate_per_s=RATE, burst=BURST)
    redis.flush()
    with tempfile.TemporaryDirectory() as folder:
        outs = [os.path.join(folder, f"w{i}.json") for i in range(WORKERS)]
        procs = [
            subprocess.Popen(
                [sys.executable, __file__, "--worker", server.api_base, redis.url, limiter_kind,
                 str(i), outs[i]],
                cwd=folder,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=os.environ | {"PYTHONPATH": os.pathsep.join([str(package), os.environ.get("PYTHONPATH", "")])},
            )
            for i in range(WORKERS)
        ]  # fmt: skip
        for proc in procs:  # the clock starts once every worker has imported llm_client (slow on a busy machine)
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        start_at = time.time() + 0.2
        for i, proc in enumerate(procs):
            assert proc.stdin is not None
            proc.stdin.write(f"{start_at + i * stagger_s!r}\n")
            proc.stdin.flush()
        if kill_after_s is not None:
            time.sleep(max(0.0, start_at + kill_after_s - time.time()))
            procs[-1].send_signal(signal.SIGKILL)
        for proc in procs:
            proc.wait(120)
        done = [json.loads(Path(out).read_text()) for out in outs if Path(out).exists()]
    stats = server.stats()
    attempts = sorted(t - start_at for d in done for t, _ in d["attempts"])
    answered = sum(1 for d in done for _, ok in d["attempts"] if ok)
    took = max(d["ended"] for d in done) - start_at
    per_second = [0] * (int(took) + 1)
    for t in attempts:
        if 0 <= t < len(per_second):
            per_second[int(t)] += 1
    return {
        "limiter": limiter_kind,
        "stagger_s": stagger_s,
        "killed_after_s": kill_after_s,
        "workers_finished": len(done),
        "answered": answered,
        "seconds": round(took, 3),
        "ratio": round(took / MINIMUM_S, 3) if answered == WORKERS * PER_WORKER else None,
        "responses": stats["requests"],
        "rate_limited": stats["rate_limited"],
        "share_429": round(stats["rate_limited"] / max(1, stats["requests"]), 4),
        "failed": sum(d["failed"] for d in done),
        "attempts_per_s": per_second,
    }


ROUNDS = (("together", 0.0, None), ("staggered", 1.0, None), ("killed", 0.0, 2.0))


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run whose time is the median (the lower of the two middle ones for an even count)."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    return ordered[(len(ordered) - 1) // 2]


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the runs of one round and contender."""
    ratios = [r["ratio"] for r in runs if r["ratio"] is not None]
    return {
        "runs": len(runs),
        "seconds": statistics.median(r["seconds"] for r in runs),
        "ratio": statistics.median(ratios) if len(ratios) == len(runs) else None,
        "answered": statistics.median(r["answered"] for r in runs),
        "rate_limited": statistics.median(r["rate_limited"] for r in runs),
        "responses": statistics.median(r["responses"] for r in runs),
        "share_429": statistics.median(r["share_429"] for r in runs),
        "share_429_most": max(r["share_429"] for r in runs),
        "failed": statistics.median(r["failed"] for r in runs),
        "failed_total": sum(r["failed"] for r in runs),
    }


LABELS = {
    "shared": "SharedLimiter (Redis), one name",
    "default": "the default limiter, one per process",
    "sdk": "openai SDK, its defaults",
}


def table(medians: dict[tuple[str, str], dict[str, Any]], runs: int) -> str:
    """The Markdown table of the medians."""
    lines = [
        "| round | limiter | answered (median) | time to last answer (median) | / 5.0 s | 429s / responses "
        "(median, most) | failed requests (median, total) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for (name, kind), m in medians.items():
        ratio = "" if m["ratio"] is None else f"{m['ratio']:.3f}x"
        lines.append(
            f"| {name} | {LABELS[kind]} | {m['answered']:g} | {m['seconds']:.2f} s | {ratio} | "
            f"{m['share_429']:.1%}, {m['share_429_most']:.1%} | {m['failed']:g}, {m['failed_total']} in {runs} runs |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--worker":
        worker(args[1], args[2], args[3], int(args[4]), args[5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of every round (medians reported); default 5")
    parser.add_argument("--no-sdk", action="store_true", help="leave out the openai SDK's row")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--package", type=Path, default=ROOT / "solutions", help="directory holding llm_client")
    options = parser.parse_args(args)
    sys.path.insert(0, str(HERE))
    from run import BenchServer, machine

    with_sdk = not options.no_sdk and importlib.util.find_spec("openai") is not None
    if not options.no_sdk and not with_sdk:
        print("openai is not installed: the SDK row is skipped", file=sys.stderr)
    server, redis = BenchServer(), Redis()
    load_before = os.getloadavg()[0]
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {}
    try:
        for run in range(options.runs):
            for name, stagger, kill in ROUNDS:
                kinds = ["shared", "default"] + (["sdk"] if with_sdk and name == "together" else [])
                for kind in kinds:
                    row = one_round(server, redis, kind, stagger, kill, options.package.resolve())
                    row |= {"round": name, "run": run}
                    samples.setdefault((name, kind), []).append(row)
                    ratio = "" if row["ratio"] is None else f" ({row['ratio']:.2f}x)"
                    print(
                        f"run {run + 1}/{options.runs} {name:<10} {kind:<8} {row['answered']:>3} answered in "
                        f"{row['seconds']:6.2f} s{ratio:<9} 429s {row['rate_limited']:>4}/{row['responses']:<4} "
                        f"({row['share_429']:.1%})  failed {row['failed']}",
                        flush=True,
                    )
    finally:
        server.close()
        redis.close()
    load_after = os.getloadavg()[0]
    medians = {key: summary(runs) for key, runs in samples.items()}
    when = f"{machine()}; load average {load_before:.2f} before, {load_after:.2f} after"
    when += f"; medians over {options.runs} run(s)."
    print()
    print(when)
    print(table(medians, options.runs))
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {
            "rate_per_s": RATE,
            "burst": BURST,
            "minimum_s": MINIMUM_S,
            "measured": when,
            "rounds": [median_run(runs) for runs in samples.values()],
            "medians": [{"round": name, "limiter": kind} | m for (name, kind), m in medians.items()],
            "runs": [row for runs in samples.values() for row in runs],
        }
        options.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Four worker processes, one limit: SharedLimiter (Redis) against the default per-process limiter.

A batch of 300 requests is split over 4 worker processes (75 each, ``run_batch``
with 8 threads) against bench/server.py on loopback, which allows 50 requests a
second with a burst of 50 (0.05 s per answer). The soonest the 300 can end is
5.0 s: the burst at once, then 250 at 50 a second. Four rounds, each with both
limiters:

- **together**: the four start at the same moment;
- **staggered**: they start 1 s apart;
- **killed**: the last worker is killed (SIGKILL) 2 s in; the others go on.

Each round prints the time to the last answer (and its ratio to 5.0 s when all
300 ran), the share of responses that were 429s, and the failed requests. With
``--json PATH`` the figures, and the attempts sent per second, are written to
PATH (the notebook notebooks/10_beyond_one_process.ipynb reads such a file).
Needs redis-server (Debian's package) and redis-py (the ``redis`` extra). The
reference package in solutions/ is measured (``--package DIR`` picks another).

    python bench/shared_limit.py [--json notebooks/10_beyond_one_process.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
    with LLMClient(Recorded(OpenAIProvider(api_key="bench", base_url=api_base))) as client:  # type: ignore[arg-type]
        print("ready", flush=True)
        start_at = float(sys.stdin.readline())
        time.sleep(max(0.0, start_at - time.time()))
        results = run_batch(client, requests, limiter=limiter, concurrency=8, progress=False)
        ended = time.time()
    failed = sum(1 for r in results if not isinstance(r, str))
    Path(out).write_text(json.dumps({"ended": ended, "failed": failed, "attempts": attempts}))


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


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "--worker":
        worker(args[1], args[2], args[3], int(args[4]), args[5])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--package", type=Path, default=ROOT / "solutions", help="directory holding llm_client")
    options = parser.parse_args(args)
    sys.path.insert(0, str(HERE))
    from run import BenchServer

    server, redis = BenchServer(), Redis()
    rows = []
    try:
        for name, stagger, kill in (("together", 0.0, None), ("staggered", 1.0, None), ("killed", 0.0, 2.0)):
            for kind in ("shared", "default"):
                row = one_round(server, redis, kind, stagger, kill, options.package.resolve()) | {"round": name}
                rows.append(row)
                ratio = "" if row["ratio"] is None else f" ({row['ratio']:.2f}x)"
                print(
                    f"{name:<10} {kind:<8} {row['answered']:>3} answered in {row['seconds']:6.2f} s{ratio:<9}"
                    f" 429s {row['rate_limited']:>4}/{row['responses']:<4} ({row['share_429']:.1%})"
                    f"  failed {row['failed']}",
                    flush=True,
                )
    finally:
        server.close()
        redis.close()
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        figures = {"rate_per_s": RATE, "burst": BURST, "minimum_s": MINIMUM_S, "rounds": rows}
        options.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmarks run: ``python bench/run.py --quick`` end to end, against bench/server.py on loopback.

A smoke test only: it checks that every measurement ran and produced its
table, never how fast anything was. The openai SDK is a bench-only
dependency (bench/requirements.txt, not requirements-dev.txt): when it is
installed its rows must be there, and when it is not they are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.kit

ROOT = Path(__file__).resolve().parents[2]
HAVE_SDK = importlib.util.find_spec("openai") is not None


def test_the_quick_benchmark_runs_every_measurement_and_prints_its_tables(tmp_path: Path) -> None:
    raw = tmp_path / "samples.json"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--json", str(raw)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for heading in ("**Overhead per uncached call**", "**Cache hits**", "**Batch of 12 requests**"):
        assert heading in out
    for row in (
        "| sync: LLMClient |",
        "| async: AsyncLLMClient |",
        "| LLMClient, SQLiteCache |",
        "| AsyncLLMClient, MemoryCache |",
        "| AsyncLLMClient + arun_batch, adaptive (the default) |",
        "| AsyncLLMClient + arun_batch, adaptive, server sends no rate-limit headers |",
        "| AsyncLLMClient + arun_batch + RateLimiter |",
        "| AsyncLLMClient + arun_batch, no limiter |",
    ):
        assert row in out, f"no row {row!r} in:\n{out}"
    assert ("| sync: openai SDK |" in out) == HAVE_SDK
    samples = json.loads(raw.read_text())
    for name in ("AsyncLLMClient + arun_batch + RateLimiter", "AsyncLLMClient + arun_batch, adaptive (the default)"):
        batch = samples["batch"][name]
        assert len(batch) == 1 and batch[0]["attempts"] >= 12, "every request of the batch reached the server"
        assert batch[0]["failed"] == 0


def test_the_bench_server_answers_chat_completions_and_429s_with_openais_rate_limit_and_retry_headers() -> None:
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "bench" / "server.py"), "--rate-per-s", "1", "--burst", "1"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
        with httpx.Client(base_url=url, timeout=10) as http:
            first = http.post("/v1/chat/completions", json=body)
            second = http.post("/v1/chat/completions", json=body)
            stats = http.get("/stats").json()
        assert first.status_code == 200
        assert first.json()["choices"][0]["message"]["content"] == "echo: hello"
        assert first.headers["x-ratelimit-limit-requests"] == "1"
        assert first.headers["x-ratelimit-remaining-requests"] == "0"
        assert first.headers["x-ratelimit-reset-requests"].endswith("s"), "a Go duration: 1s, or 999ms"
        assert second.headers["x-ratelimit-remaining-requests"] == "0"
        assert second.status_code == 429
        assert int(second.headers["retry-after"]) >= 1 and 1 <= int(second.headers["retry-after-ms"]) <= 1000
        assert second.json()["error"]["code"] == "rate_limit_exceeded"
        assert (stats["requests"], stats["ok"], stats["rate_limited"]) == (2, 1, 1)
        with httpx.Client(base_url=url, timeout=10) as http:
            http.post("/reset", json={"rate_per_s": 1, "burst": 1, "rate_headers": False, "retry_after": False})
            quiet = [http.post("/v1/chat/completions", json=body) for _ in range(2)]
        assert [r.status_code for r in quiet] == [200, 429]
        assert not [name for r in quiet for name in r.headers if name.startswith(("x-ratelimit-", "retry-after"))]
    finally:
        process.terminate()
        process.wait(timeout=10)

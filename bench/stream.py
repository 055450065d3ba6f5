"""Streaming on loopback: time to first token and total time, the kit's ``stream()`` beside raw httpx and the
official OpenAI SDK, against one local server that speaks OpenAI's chat-completions SSE.

    python bench/stream.py                  # 7 runs each, the median printed
    python bench/stream.py --runs 15 --tokens 400 --first-ms 50 --gap-ms 1

The reference package in solutions/ is measured.

The server waits ``--first-ms`` before the first chunk (the model "thinking"), then sends ``--tokens`` chunks
``--gap-ms`` apart, then the finish chunk and ``[DONE]``. Every contender opens a fresh client per run (a new
connection: the server closes each one), so the figures include connecting. What is measured is the overhead
each client adds over the wire: the server's own delays are the floor (first-ms, and first-ms + tokens * gap-ms).
The OpenAI SDK's row is skipped when ``openai`` is not installed (``pip install -r bench/requirements.txt``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "solutions"))  # the reference package

import httpx

from llm_client import LLMClient, LLMRequest, OpenAIProvider

MODEL = "bench-model"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def serve(first_s: float, gap_s: float, tokens: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, data: bytes) -> None:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.send_header("connection", "close")
            self.end_headers()
            time.sleep(first_s)
            self._send(_chunk({"role": "assistant", "content": ""}))
            for n in range(tokens):
                if n:
                    time.sleep(gap_s)
                self._send(_chunk({"content": f"t{n} "}))
            self._send(_chunk({}, "stop") + b"data: [DONE]\n\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def kit(url: str) -> Iterator[str]:
    with LLMClient(OpenAIProvider(api_key="k", base_url=url + "/v1"), cache=None) as client:
        yield from client.stream(LLMRequest(model=MODEL, prompt="hi"))


def raw_httpx(url: str) -> Iterator[str]:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True}
    with httpx.Client() as http, http.stream("POST", url + "/v1/chat/completions", json=body) as response:
        for line in response.iter_lines():
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                return
            text = json.loads(data)["choices"][0]["delta"].get("content")
            if text:
                yield text


def openai_sdk(url: str) -> Iterator[str]:
    import openai

    with openai.OpenAI(api_key="k", base_url=url + "/v1", max_retries=0) as client:
        stream = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
        for chunk in stream:
            text = chunk.choices[0].delta.content if chunk.choices else None
            if text:
                yield text


def measure(contender: Callable[[str], Iterator[str]], url: str, runs: int, tokens: int) -> tuple[float, float]:
    """Median seconds to the first non-empty delta and to the end, over ``runs`` runs (after one warm-up)."""
    firsts, totals = [], []
    for run in range(runs + 1):
        start = time.perf_counter()
        first = None
        count = 0
        for _ in contender(url):
            count += 1
            if first is None:
                first = time.perf_counter() - start
        total = time.perf_counter() - start
        assert count == tokens and first is not None, f"{contender.__name__}: {count} deltas of {tokens}"
        if run:
            firsts.append(first)
            totals.append(total)
    return statistics.median(firsts), statistics.median(totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--first-ms", type=float, default=20.0)
    parser.add_argument("--gap-ms", type=float, default=1.0)
    args = parser.parse_args(argv)
    server = serve(args.first_ms / 1000, args.gap_ms / 1000, args.tokens)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    contenders: list[tuple[str, Callable[[str], Iterator[str]]]] = [("raw httpx", raw_httpx), ("llm_client", kit)]
    try:
        import openai  # noqa: F401

        contenders.append(("openai SDK", openai_sdk))
    except ImportError:
        print("openai is not installed: its row is skipped (pip install -r bench/requirements.txt)")
    floor_total = args.first_ms + args.tokens * args.gap_ms
    print(f"{args.tokens} deltas, first after {args.first_ms:g} ms, then every {args.gap_ms:g} ms "
          f"(floor: {args.first_ms:g} ms / {floor_total:g} ms); median of {args.runs} runs")  # fmt: skip
    print(f"{'client':<12} {'first token ms':>15} {'total ms':>10}")
    try:
        for name, contender in contenders:
            first, total = measure(contender, url, args.runs, args.tokens)
            print(f"{name:<12} {first * 1000:>15.1f} {total * 1000:>10.1f}")
    finally:
        server.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

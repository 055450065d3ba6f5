"""A local OpenAI-compatible Chat Completions server for the benchmarks: loopback only, asyncio only.

It answers ``POST /v1/chat/completions`` (and ``/chat/completions``) with a
``chat.completion`` object that echoes the last message, after ``latency_s``
seconds. With a rate limit it keeps a token bucket of ``burst`` requests,
refilled at ``rate_per_s`` per second, and answers a request that finds it
empty with HTTP 429, OpenAI's error body, and both ``Retry-After`` (whole
seconds, rounded up) and ``retry-after-ms`` (the time until the next token).
A 429 is answered at once: latency applies to answers only. Every answer and
every 429 also carries OpenAI's rate-limit headers, as api.openai.com sends
them: ``x-ratelimit-limit-requests`` (the bucket's size),
``x-ratelimit-remaining-requests`` (whole requests left, rounded down) and
``x-ratelimit-reset-requests`` (the time until the bucket is full again, as a
Go duration: ``20ms``, ``1.5s``, ``1m0s``). With ``rate_headers`` false (and
``retry_after`` false) the server sends none of them, like a server that only
says 429.

Control endpoints, for the benchmark runner:

- ``GET /stats``: ``{"requests", "ok", "rate_limited", "config"}`` since the last reset;
- ``POST /reset`` with ``{"latency_s": 0.2, "rate_per_s": 50, "burst": 5, "rate_headers": true,
  "retry_after": true}`` (``rate_per_s`` null for no limit): new settings, zeroed counters, a full bucket.

Run it alone with ``python bench/server.py --port 8000``; it prints
``listening on http://127.0.0.1:PORT`` once it accepts connections (port 0, the
default, picks a free port). It only ever binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import time
from dataclasses import asdict, dataclass
from typing import Any

HOST = "127.0.0.1"
_MAX_BODY = 1 << 20
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 413: "Payload Too Large", 429: "Too Many Requests"}


@dataclass
class Config:
    """The server's behaviour: seconds of latency per answer, and the limit (None: no limit)."""

    latency_s: float = 0.0
    rate_per_s: float | None = None
    burst: float = 1.0
    rate_headers: bool = True
    retry_after: bool = True


class Limiter:
    """The server's token bucket: ``burst`` tokens, ``rate_per_s`` new ones per second."""

    def __init__(self, rate_per_s: float | None, burst: float) -> None:
        self.rate = rate_per_s
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def admit(self) -> float:
        """0.0 when a request may go (its token is taken); else the seconds until the next token."""
        if self.rate is None:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate

    def headers(self) -> dict[str, str]:
        """OpenAI's rate-limit headers for the bucket as it is now (none without a limit)."""
        if self.rate is None:
            return {}
        full_in = (self.burst - self.tokens) / self.rate
        return {
            "x-ratelimit-limit-requests": f"{self.burst:g}",
            "x-ratelimit-remaining-requests": str(max(0, math.floor(self.tokens))),
            "x-ratelimit-reset-requests": go_duration(full_in),
        }


def go_duration(seconds: float) -> str:
    """``seconds`` as Go prints a duration, the form of OpenAI's reset headers: ``20ms``, ``1.5s``, ``6m0s``."""
    if seconds < 1.0:
        return f"{math.ceil(seconds * 1000)}ms"
    minutes, rest = divmod(seconds, 60.0)
    return f"{int(minutes)}m{rest:.3g}s" if minutes else f"{seconds:.3g}s"


class BenchServer:
    """The request counters, the settings and the handlers."""

    def __init__(self, config: Config) -> None:
        self.reset(config)

    def reset(self, config: Config) -> None:
        self.config = config
        self.limiter = Limiter(config.rate_per_s, config.burst)
        self.requests = 0
        self.ok = 0
        self.rate_limited = 0
        self.completion_ids = 0

    def rate_headers(self) -> dict[str, str]:
        return self.limiter.headers() if self.config.rate_headers else {}

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "rate_limited": self.rate_limited,
            "config": asdict(self.config),
        }

    async def chat_completion(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.requests += 1
        wait = self.limiter.admit()
        if wait > 0:
            self.rate_limited += 1
            millis = max(1, math.ceil(wait * 1000))
            error = {
                "error": {
                    "message": f"Rate limit reached for requests. Please try again in {millis}ms.",
                    "type": "requests",
                    "param": None,
                    "code": "rate_limit_exceeded",
                }
            }
            headers = self.rate_headers()
            if self.config.retry_after:
                headers |= {"retry-after": str(math.ceil(wait)), "retry-after-ms": str(millis)}
            return 429, headers, json.dumps(error).encode()
        headers = self.rate_headers()
        try:
            request = json.loads(body)
            model = str(request["model"])
            prompt = str(request["messages"][-1]["content"])
        except (ValueError, KeyError, IndexError, TypeError):
            message = "expected a JSON body with model and messages"
            error = {"error": {"message": message, "type": "invalid_request_error"}}
            return 400, {}, json.dumps(error).encode()
        if self.config.latency_s > 0:
            await asyncio.sleep(self.config.latency_s)
        self.ok += 1
        self.completion_ids += 1
        answer = {
            "id": f"chatcmpl-bench{self.completion_ids}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": f"echo: {prompt[:200]}", "refusal": None},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": 8, "total_tokens": 16},
        }
        return 200, headers, json.dumps(answer).encode()

    async def route(self, method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        if method == "POST" and path in ("/v1/chat/completions", "/chat/completions"):
            return await self.chat_completion(body)
        if method == "GET" and path == "/stats":
            return 200, {}, json.dumps(self.stats()).encode()
        if method == "POST" and path == "/reset":
            try:
                self.reset(Config(**json.loads(body or b"{}")))
            except (ValueError, TypeError) as exc:
                return 400, {}, json.dumps({"error": {"message": str(exc)}}).encode()
            return 200, {}, json.dumps(self.stats()).encode()
        return 404, {}, json.dumps({"error": {"message": f"no route for {method} {path}"}}).encode()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One connection: HTTP/1.1 requests one after another (keep-alive) until the client closes."""
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                length = int(headers.get("content-length", "0"))
                extra: dict[str, str] = {}
                if length > _MAX_BODY:
                    status, payload = 413, b'{"error": {"message": "body too large"}}'
                    keep_alive = False
                else:
                    body = await reader.readexactly(length) if length else b""
                    status, extra, payload = await self.route(method, target.split("?", 1)[0], body)
                    keep_alive = headers.get("connection", "").lower() != "close"
                head_lines = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}",
                    "content-type: application/json",
                    f"content-length: {len(payload)}",
                    *(f"{name}: {value}" for name, value in extra.items()),
                ]
                if not keep_alive:
                    head_lines.append("connection: close")
                writer.write(("\r\n".join(head_lines) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
                if not keep_alive:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
            pass  # the client closed the connection, or sent something that is not HTTP/1.1
        finally:
            writer.close()


async def serve(port: int, config: Config) -> None:
    server = BenchServer(config)
    listener = await asyncio.start_server(server.handle, HOST, port, backlog=1024)
    bound = listener.sockets[0].getsockname()[1]
    print(f"listening on http://{HOST}:{bound}", flush=True)
    async with listener:
        await listener.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency-s", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--rate-per-s", type=float, default=None, help="requests per second (default: no limit)")
    parser.add_argument("--burst", type=float, default=1.0, help="requests the bucket holds")
    parser.add_argument("--no-rate-headers", action="store_true", help="send no x-ratelimit-* headers")
    parser.add_argument("--no-retry-after", action="store_true", help="send no Retry-After with a 429")
    args = parser.parse_args(argv)
    config = Config(args.latency_s, args.rate_per_s, args.burst, not args.no_rate_headers, not args.no_retry_after)
    try:
        asyncio.run(serve(args.port, config))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

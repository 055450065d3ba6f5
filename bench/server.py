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

Three faults, for the runner's fault measurements:

- **A quantized limit** (``stated_per_minute``): the headers state a per-minute
  allowance, a bucket of ``stated_per_minute`` refilled at ``stated_per_minute / 60``
  per second (``x-ratelimit-limit-requests: 3000``, and the reset is the time until
  that bucket is full again), while the server enforces the ``rate_per_s`` /
  ``burst`` bucket, as OpenAI and Anthropic document that a per-minute limit may be
  enforced over shorter intervals. Its 429 says it is a rate limit.
- **Overload** (``overload_share``): that share of requests, drawn at random
  (``seed``), is answered at once with a 429 about capacity, not the caller's
  rate (OpenAI's words: "That model is currently overloaded with other
  requests"), with no ``Retry-After``; it takes nothing from the bucket.
- **A restart** (``POST /outage``): after ``after_s`` seconds the server closes its
  listening socket and drops every open connection (requests in flight get no
  answer, new connections are refused), and ``seconds`` later it listens again
  on the same port.

Control endpoints, for the benchmark runner:

- ``GET /stats``: ``{"requests", "ok", "rate_limited", "overloaded", "config"}`` since the last reset;
- ``POST /reset`` with ``{"latency_s": 0.2, "rate_per_s": 50, "burst": 5, "rate_headers": true,
  "retry_after": true, "stated_per_minute": null, "overload_share": 0.0, "seed": 0}``
  (``rate_per_s`` null for no limit): new settings, zeroed counters, a full bucket;
- ``POST /outage`` with ``{"after_s": 0.3, "seconds": 2.0}``: a restart, as above.

Run it alone with ``python bench/server.py --port 8000``; it prints
``listening on http://127.0.0.1:PORT`` once it accepts connections (port 0, the
default, picks a free port). It only ever binds to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import time
from collections.abc import Callable
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
    stated_per_minute: float | None = None  # the allowance the headers state, when it is not the one enforced
    overload_share: float = 0.0  # the share of requests answered with a capacity 429, at random
    seed: int = 0  # of the overload draws


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
        #: Starts a restart: ``(after_s, seconds)``; set by :func:`serve`, which owns the listening socket.
        self.on_outage: Callable[[float, float], None] = lambda after_s, seconds: None

    def reset(self, config: Config) -> None:
        if not 0.0 <= config.overload_share <= 1.0:
            raise ValueError(f"overload_share must be between 0 and 1, got {config.overload_share!r}")
        if config.stated_per_minute is not None and config.stated_per_minute <= 0:
            raise ValueError(f"stated_per_minute must be above 0, got {config.stated_per_minute!r}")
        self.config = config
        self.limiter = Limiter(config.rate_per_s, config.burst)
        per_minute = config.stated_per_minute
        self.stated = None if per_minute is None else Limiter(per_minute / 60.0, per_minute)
        self.rng = random.Random(config.seed)
        self.requests = 0
        self.ok = 0
        self.rate_limited = 0
        self.overloaded = 0
        self.completion_ids = 0

    def rate_headers(self) -> dict[str, str]:
        if not self.config.rate_headers:
            return {}
        return (self.limiter if self.stated is None else self.stated).headers()

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "ok": self.ok,
            "rate_limited": self.rate_limited,
            "overloaded": self.overloaded,
            "config": asdict(self.config),
        }

    def overload(self) -> tuple[int, dict[str, str], bytes]:
        """A 429 about the server's capacity, not the caller's rate: OpenAI's words, no Retry-After."""
        self.overloaded += 1
        error = {
            "error": {
                "message": "That model is currently overloaded with other requests. You can retry your request.",
                "type": "server_error",
                "param": None,
                "code": None,
            }
        }
        return 429, self.rate_headers(), json.dumps(error).encode()

    async def chat_completion(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        self.requests += 1
        if self.config.overload_share and self.rng.random() < self.config.overload_share:
            return self.overload()
        wait = self.limiter.admit()
        if wait == 0 and self.stated is not None:
            wait = self.stated.admit()  # the stated allowance is enforced too
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
        if method == "POST" and path == "/outage":
            try:
                asked = json.loads(body or b"{}")
                after_s, seconds = float(asked.get("after_s", 0.0)), float(asked["seconds"])
                if not (0 <= after_s <= 60 and 0 < seconds <= 60):
                    raise ValueError("after_s and seconds must be between 0 and 60 (seconds above 0)")
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                return 400, {}, json.dumps({"error": {"message": str(exc)}}).encode()
            self.on_outage(after_s, seconds)
            return 200, {}, json.dumps({"after_s": after_s, "seconds": seconds}).encode()
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
    writers: set[asyncio.StreamWriter] = set()
    outages: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        try:
            await server.handle(reader, writer)
        finally:
            writers.discard(writer)

    listener = await asyncio.start_server(handle, HOST, port, backlog=1024)
    bound = listener.sockets[0].getsockname()[1]

    async def outage(after_s: float, seconds: float) -> None:
        """A restart: stop listening, drop every connection, and listen again on the same port."""
        nonlocal listener
        await asyncio.sleep(after_s)
        listener.close()
        for writer in list(writers):
            writer.transport.abort()
        await asyncio.sleep(seconds)
        listener = await asyncio.start_server(handle, HOST, bound, backlog=1024)

    def start_outage(after_s: float, seconds: float) -> None:
        task = asyncio.get_running_loop().create_task(outage(after_s, seconds))
        outages.add(task)
        task.add_done_callback(outages.discard)

    server.on_outage = start_outage
    print(f"listening on http://{HOST}:{bound}", flush=True)
    try:
        await asyncio.Event().wait()  # until the process is stopped
    finally:
        listener.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency-s", type=float, default=0.0, help="seconds before each answer")
    parser.add_argument("--rate-per-s", type=float, default=None, help="requests per second (default: no limit)")
    parser.add_argument("--burst", type=float, default=1.0, help="requests the bucket holds")
    parser.add_argument("--no-rate-headers", action="store_true", help="send no x-ratelimit-* headers")
    parser.add_argument("--no-retry-after", action="store_true", help="send no Retry-After with a 429")
    parser.add_argument(
        "--stated-per-minute", type=float, default=None, help="headers state this per-minute allowance instead"
    )
    parser.add_argument("--overload-share", type=float, default=0.0, help="share of requests answered 429 overloaded")
    args = parser.parse_args(argv)
    config = Config(
        args.latency_s,
        args.rate_per_s,
        args.burst,
        not args.no_rate_headers,
        not args.no_retry_after,
        args.stated_per_minute,
        args.overload_share,
    )
    try:
        asyncio.run(serve(args.port, config))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

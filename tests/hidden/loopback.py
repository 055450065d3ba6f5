"""A scripted HTTP server on 127.0.0.1, for the hidden tier's provider calls over a real transport.

The grader's process runs it (the graded children connect to it); a test starts it
and stops it (``with Loopback() as server``). Before each graded call the test
scripts what the server answers (:meth:`Loopback.script`, one :class:`Reply` per
request, the last repeated) and afterwards reads what arrived (:meth:`Loopback.arrived`:
method, path, headers, body, in order). A reply can be an ordinary response, a
response that waits before its first byte, one that trickles its body, one cut off
mid-body, a connection closed without an answer, or a status line of the script's
own making. Every wait ends at once when the server stops, every connection has a
socket timeout, and nothing listens beyond loopback.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: Seconds a connection may sit idle (reading a request, or writing to a client that stopped reading).
SOCKET_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Reply:
    """What the server does with one request.

    ``status``, ``headers`` and ``body`` make the response (a Content-Length is added unless
    ``headers`` names one; ``gzip`` compresses the body and says so). ``delay_s``: seconds
    before the first byte. ``trickle_s``: the body is sent one byte at a time, this many
    seconds apart. ``cut_after``: only this many bytes of the body are sent, then the
    connection closes. ``hang_up``: the connection closes before any answer.
    ``status_line``: sent instead of ``HTTP/1.1 <status> <reason>``.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    reason: str | None = None
    delay_s: float = 0.0
    trickle_s: float = 0.0
    cut_after: int | None = None
    hang_up: bool = False
    status_line: str | None = None
    gzip: bool = False


@dataclass
class Arrival:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "headers": self.headers, "body": self.body}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = SOCKET_TIMEOUT_S
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _any(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = {"not_json": raw.decode("utf-8", "replace")}
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.server.loopback._arrive(Arrival(self.command, self.path, headers, body))
        self._reply(reply)

    do_POST = do_GET = do_PUT = do_PATCH = do_DELETE = _any

    def _reply(self, reply: Reply) -> None:
        stopping = self.server.loopback.stopping
        if reply.hang_up or (reply.delay_s and stopping.wait(reply.delay_s)):
            self.close_connection = True
            return
        body = gzip.compress(reply.body, mtime=0) if reply.gzip else reply.body
        headers = list(reply.headers)
        if reply.gzip:
            headers.append(("Content-Encoding", "gzip"))
        if not any(name.lower() == "content-length" for name, _ in headers):
            headers.append(("Content-Length", str(len(body))))
        reason = reply.reason if reply.reason is not None else self.responses.get(reply.status, ("Status",))[0]
        line = reply.status_line if reply.status_line is not None else f"HTTP/1.1 {reply.status} {reason}"
        head = line + "\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers) + "\r\n"
        try:
            self.wfile.write(head.encode("latin-1"))
            self.wfile.flush()
            if reply.cut_after is not None:
                self.wfile.write(body[: reply.cut_after])
                self.wfile.flush()
                self.close_connection = True
                return
            if reply.trickle_s:
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    if stopping.wait(reply.trickle_s):
                        break
                self.close_connection = True
                return
            self.wfile.write(body)
            self.wfile.flush()
        except OSError:  # the client stopped listening (a timed-out attempt): nothing to answer
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, loopback: Loopback) -> None:
        self.loopback = loopback
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # a client that hung up mid-answer is part of the script, not a failure


class Loopback:
    """The scripted server (see the module docstring): ``with Loopback() as server: server.port ...``."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._replies: list[Reply] = [Reply()]
        self._arrived: list[Arrival] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        assert self._server is not None, "the server is not running"
        return int(self._server.server_address[1])

    def start(self) -> Loopback:
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="hidden-loopback", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
        self._server = self._thread = None

    def __enter__(self) -> Loopback:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with ``replies`` in turn (the last one for every request after it), and
        forget what arrived so far."""
        with self._lock:
            self._replies = list(replies) or [Reply()]
            self._arrived = []

    def arrived(self) -> list[dict[str, Any]]:
        """What arrived since :meth:`script`, in order."""
        with self._lock:
            return [arrival.as_dict() for arrival in self._arrived]

    def _arrive(self, arrival: Arrival) -> Reply:
        with self._lock:
            self._arrived.append(arrival)
            return self._replies.pop(0) if len(self._replies) > 1 else self._replies[0]


"""The wall-clock bound of a sync attempt, kept by the sockets themselves.

httpx's timeouts bound each socket operation, not the attempt: a server that
sends one byte every 0.3 s never trips a 2 s read timeout. Inside
:func:`attempt_ends`, every socket operation of a :class:`BoundedTransport`
gets at most what is left of the attempt (``min(its own timeout, deadline -
now)``), and one that starts with nothing left raises httpcore's timeout at
once, so the attempt as a whole (connect, send, every read) ends by the
deadline on the caller's own thread (a TLS handshake is one such operation:
CPython gives the handshake as a whole the socket's timeout). The system
resolver has no timeout of its own, so a connection to a host name (not an
IP address) is opened on a short-lived thread that the attempt stops waiting
for at its deadline; a connection, once open, is kept alive and serves the
attempts that follow.

The sender uses this transport for the ``httpx.Client`` it makes itself. A
client the caller gives may carry any transport, and a proxy the environment
names has httpx's own, so the sender bounds those attempts from a worker
thread instead (:mod:`~llm_client._internal.sender`).
"""

from __future__ import annotations

import contextvars
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

__all__ = ["BoundedTransport", "attempt_ends"]

#: The monotonic time (seconds) at which the attempt running in this thread or task must end.
_ENDS: contextvars.ContextVar[float | None] = contextvars.ContextVar("llm_client_attempt_ends", default=None)

#: Bytes handed to one socket write, so that a server that stops reading meets the deadline too.
_WRITE_CHUNK = 64 * 1024


@contextmanager
def attempt_ends(deadline: float) -> Iterator[None]:
    """Within the block, socket operations of a BoundedTransport end by ``deadline`` (``time.monotonic()``)."""
    token = _ENDS.set(deadline)
    try:
        yield
    finally:
        _ENDS.reset(token)


def _left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the attempt; ``error`` when nothing is left."""
    ends = _ENDS.get()
    if ends is None:
        return timeout
    left = ends - time.monotonic()
    if left <= 0:
        raise error("the attempt's time is up")
    return left if timeout is None else min(timeout, left)


class _BoundedStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the attempt's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        for start in range(0, len(buffer), _WRITE_CHUNK):
            self._stream.write(buffer[start : start + _WRITE_CHUNK], _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = _left(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _BoundedBackend(httpcore.NetworkBackend):
    """httpcore's sync backend, its streams bounded by the attempt's deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _left(timeout, httpcore.ConnectTimeout)

        def connect() -> httpcore.NetworkStream:
            return self._backend.connect_tcp(host, port, bounded, local_address, socket_options)

        return _BoundedStream(connect() if _is_address(host) else _connect_within(connect, bounded))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _left(timeout, httpcore.ConnectTimeout)
        return _BoundedStream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _is_address(host: str) -> bool:
    """True for an IP address (nothing to resolve), False for a host name."""
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _connect_within(connect: Callable[[], httpcore.NetworkStream], seconds: float | None) -> httpcore.NetworkStream:
    """``connect()`` (name resolution included) on its own thread, waited for at most ``seconds``;
    a connection that opens after the wait ended is closed."""
    opened: Future[httpcore.NetworkStream] = Future()

    def run() -> None:
        try:
            opened.set_result(connect())
        except BaseException as exc:  # handed to the waiting attempt, which raises it
            opened.set_exception(exc)

    threading.Thread(target=run, name="llm-client-connect", daemon=True).start()
    try:
        return opened.result(timeout=seconds)
    except TimeoutError:
        opened.add_done_callback(_close_if_open)
        raise httpcore.ConnectTimeout("no connection within the attempt's time (name resolution included)") from None


def _close_if_open(opened: Future[httpcore.NetworkStream]) -> None:
    if opened.exception() is None:
        opened.result().close()


class BoundedTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` with httpx's default limits and TLS settings, its sockets bounded
    by :func:`attempt_ends` (outside such a block it behaves as httpx's own)."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context()
        super().__init__(verify=ssl_context)
        self._pool = httpcore.ConnectionPool(  # httpx's default limits
            ssl_context=ssl_context,
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_BoundedBackend(),
        )

"""A real redis-server for the tests of SharedLimiter and RedisCache: started on a Unix socket, always stopped.

:func:`redis_server` is the fixture's body: Debian's ``redis-server`` (``apt-get install redis-server``)
with no TCP port, no persistence, on a Unix socket in a fresh short temporary folder. When it is missing,
the test is skipped with the reason, except under ``CI=true`` (as ``test_browser.py`` does for Chromium),
where it fails: CI installs it (``.ci/run``). Starting and stopping are bounded; at the end the server is
killed if it does not stop.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

START_S = 10.0  # the most a start may take
STOP_S = 5.0


def redis_server_path() -> str:
    """The redis-server to start, or skip (fail under CI=true) naming what is missing."""
    path = shutil.which("redis-server")
    missing = "redis-server is not installed (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        path, missing = None, "redis-py is not installed (pip install -r requirements-dev.txt)"
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the Redis tests cannot run: {missing}")
        pytest.skip(missing)
    return path


class RedisServer:
    """One redis-server process, on the Unix socket :attr:`url` names."""

    def __init__(self, *extra: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="redis"))  # short: a socket path has at most 107 bytes
        self.socket = self.folder / "redis.sock"
        self.url = f"unix://{self.socket}"
        self._args = [
            redis_server_path(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.folder),
            *extra,
        ]  # fmt: skip
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        """Start it (again, on the same socket) and wait until it answers PING."""
        import redis

        self.process = subprocess.Popen(self._args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        give_up = time.monotonic() + START_S
        while time.monotonic() < give_up:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited at start with {self.process.returncode}")
            try:
                with redis.Redis(unix_socket_path=str(self.socket), socket_timeout=1.0) as client:
                    if client.ping():
                        return
            except (redis.RedisError, OSError):
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not answer within {START_S} s")

    def client(self) -> object:
        import redis

        return redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2.0)

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open and nothing answers, as a hung server."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after STOP_S); its state is gone."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(STOP_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_S)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def redis_server(*extra: str) -> Iterator[RedisServer]:
    """The fixture's body: a started server, stopped and removed at the end whatever happens."""
    server = RedisServer(*extra)
    try:
        yield server
    finally:
        server.close()

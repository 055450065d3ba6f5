"""Start a mock LLM server someone else wrote (a PyPI package) on loopback, for the kit's tests.

:func:`start_server` runs ``python -m MODULE ...`` on a free port of 127.0.0.1,
waits (bounded) until its readiness URL answers, and returns a
:class:`RunningServer`; :meth:`RunningServer.stop` terminates it, and kills it
if it does not end in time. A package that is not installed, or a server that
does not come up, is a skip naming the reason (a failure under ``CI=true``,
where ``requirements-dev.txt`` is installed and a skip would hide a broken pin),
as the browser test does.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import httpx
import pytest

#: How long a server may take to answer its readiness URL: importing FastAPI and uvicorn on a
#: busy two-core machine takes a second or two; this leaves room without letting a stuck start hang the run.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 5.0


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``; under ``CI=true`` (where requirements-dev.txt is installed) fail instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a third-party server cannot run: {reason}")
    pytest.skip(reason)


def require(module: str, package: str) -> None:
    """Skip (see :func:`unavailable`) unless ``module`` can be imported."""
    if importlib.util.find_spec(module) is None:
        unavailable(f"{package} is not installed (pip install -r requirements-dev.txt)")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    """A server process on 127.0.0.1:``port``; its output goes to ``log``."""

    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    _control: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=5.0, trust_env=False), repr=False)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the server's own control API (never through the client under test); the JSON answer."""
        response = self._control.request(method, f"{self.origin}{path}", json=body)
        response.raise_for_status()
        return response.json()

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the process (its whole group: uvicorn may start children); kill it if it lingers."""
        self._control.close()
        if self.process.poll() is None:
            _signal_group(self.process, signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _signal_group(self.process, signal.SIGKILL)
                self.process.wait(STOP_TIMEOUT_S)


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass


def start_server(
    name: str, module: str, args: list[str], *, ready_path: str, log: Path, attempts: int = 2
) -> RunningServer:
    """``python -m module *args`` with ``{port}`` in ``args`` replaced by a free port of 127.0.0.1.

    Returns once ``GET ready_path`` answers 200. A port taken between choosing it and the
    server binding it gets one more try on a new port; a server that still does not come up
    within :data:`START_TIMEOUT_S` is stopped, and the test skips (see :func:`unavailable`)
    with the end of its output.
    """
    last = f"{name} did not start"
    for _ in range(attempts):
        port = free_port()
        argv = [sys.executable, "-m", module, *(arg.replace("{port}", str(port)) for arg in args)]
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_COLOR": "1", "TERM": "dumb"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, env=env,
                cwd=log.parent, start_new_session=True,
            )
        server = RunningServer(name, port, process, log)
        try:
            failure = _wait_until_ready(server, ready_path)
        except BaseException:  # interrupted (a test timeout, ^C): leave no server behind
            server.stop()
            raise
        if failure is None:
            return server
        server.stop()
        last = f"{name} did not start on 127.0.0.1: {failure}; its output ended:\n{server.log_tail()}"
    unavailable(last)


def _wait_until_ready(server: RunningServer, ready_path: str) -> str | None:
    """None once ``GET ready_path`` answers 200, else why not."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        code = server.process.poll()
        if code is not None:
            return f"it exited with status {code}"
        try:
            if server._control.get(f"{server.origin}{ready_path}", timeout=1.0).status_code == 200:
                return None
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return f"{ready_path} did not answer 200 within {START_TIMEOUT_S:.0f} s"

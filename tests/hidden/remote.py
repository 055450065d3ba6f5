"""The grader's side of a graded child (:mod:`tests.hidden.child`): start it, send it inputs, answer its proxies.

A :class:`Child` runs one package (the submission's, or the reference as the
oracle) in a process of its own, in a scratch folder that holds only the child's
program and, for a submission, a clean copy of the package with only the
catalog's exercise files laid over it. The grader's process never imports the
graded package: every value crosses as JSON (:mod:`tests.hidden.wire`).

Each call is bounded: a child that does not answer in ``timeout_s`` seconds, or
dies, is killed with its whole process group, and the call describes that as a
failure (``{"raised": {"type": "child:timeout"}}``); the next call starts a new
child.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PACKAGE = "llm_client"
#: Seconds one operation may take, all of its proxy questions included.
CALL_TIMEOUT_S = 10.0
#: Seconds a child may take to start and load its operations.
START_TIMEOUT_S = 30.0

Answer = Callable[[str, dict[str, Any]], Any]


class ChildFailure(RuntimeError):
    """The child died, hung, or broke the protocol."""


def lay_over(clean: Path, submitted: Path, files: Iterable[str], dest: Path) -> Path:
    """``dest/llm_client``: a copy of the ``clean`` package with each of ``files`` (``llm_client/...``) taken
    from the ``submitted`` package when it has it. Symbolic links are refused. Returns ``dest``."""
    target = dest / PACKAGE
    shutil.copytree(clean, target, ignore=shutil.ignore_patterns("__pycache__"))
    for file in files:
        relative = Path(file).relative_to(PACKAGE)
        source = submitted / relative
        if source.is_symlink():
            raise ChildFailure(f"{file} in the submission is a symbolic link")
        if source.is_file():
            shutil.copyfile(source, target / relative)
    return dest


class Child:
    """One graded package in a child process (see the module docstring)."""

    def __init__(self, package_parent: Path, *, label: str, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.package_parent = package_parent
        self.label = label
        self.timeout_s = timeout_s
        self.scratch = Path(tempfile.mkdtemp(prefix=f"hidden-{label}-"))
        self.harness = self.scratch / "harness"
        self.harness.mkdir()
        for name in ("child.py", "wire.py"):
            shutil.copyfile(HERE / name, self.harness / name)
        shutil.copytree(HERE / "ops", self.harness / "ops", ignore=shutil.ignore_patterns("__pycache__"))
        self.stderr_path = self.scratch / "stderr.txt"
        self.process: subprocess.Popen[bytes] | None = None
        self._buffer = b""

    # -- the process ------------------------------------------------------------------------------

    def _start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.scratch),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        self._stderr = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(self.harness / "child.py"), str(self.package_parent)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=self.scratch,
            env=env,
            start_new_session=True,
        )
        self._buffer = b""
        ready = self._read(START_TIMEOUT_S)
        if "ready" not in ready:
            raise ChildFailure(f"the {self.label} child did not start: {ready}")

    def _kill(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def close(self) -> None:
        self._kill()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the protocol -----------------------------------------------------------------------------

    def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self.process is not None and self.process.stdout is not None
        deadline = time.monotonic() + timeout_s
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                left = deadline - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise ChildFailure("timeout")
                chunk = os.read(self.process.stdout.fileno(), 65536)
                if not chunk:
                    raise ChildFailure("died")
                self._buffer += chunk
                if len(self._buffer) > 50_000_000:
                    raise ChildFailure("flooded the pipe")
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            message: dict[str, Any] = json.loads(line)
        except ValueError as exc:
            raise ChildFailure("broke the protocol") from exc
        return message

    def _send(self, message: dict[str, Any]) -> None:
        assert self.process is not None and self.process.stdin is not None
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode("utf-8"))
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise ChildFailure("died") from exc

    def call(self, op: str, answer: Answer | None = None, **args: Any) -> dict[str, Any]:
        """Run ``op`` with ``args`` in the child; answer its proxy questions with ``answer(kind, args)``.

        Returns ``{"result": {"ok": ...} | {"raised": ...}, "logs": [...], "warnings": [...]}``;
        a child that hangs or dies gives ``{"result": {"raised": {"type": "child:<what>"}}, ...}``.
        """
        try:
            if self.process is None or self.process.poll() is not None:
                self._kill()
                self._start()
            self._send({"op": op, "args": args})
            deadline = time.monotonic() + self.timeout_s
            while True:
                message = self._read(max(deadline - time.monotonic(), 0.0))
                if "ask" in message:
                    if answer is None:
                        raise ChildFailure(f"asked {message['ask']!r} with no one to answer")
                    self._send({"answer": answer(str(message["ask"]), dict(message.get("args") or {}))})
                    continue
                if "result" not in message:
                    raise ChildFailure("broke the protocol")
                return message
        except ChildFailure as exc:
            self._kill()
            return {"result": {"raised": {"type": f"child:{exc}"}}, "logs": [], "warnings": []}

    def stderr_tail(self, limit: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        except OSError:
            return ""

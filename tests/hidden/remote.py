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

When the grader runs as root and the environment variable named by
``tests.grader.launch.CHILD_USER_VARIABLE`` names an unprivileged user, every child
but the reference runs as that user, with no supplementary group: its scratch
folder (a copy of the package, the child's program, a home of its own) is readable
by that user's group only, and nothing of the grader's (the hidden tests, the
reference, the reports) is readable by it.
"""

from __future__ import annotations

import json
import os
import pwd
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

from tests.grader.launch import CHILD_USER_VARIABLE

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PACKAGE = "llm_client"
#: Seconds one operation may take, all of its proxy questions included.
CALL_TIMEOUT_S = 10.0
#: Seconds a child may take to start and load its operations.
START_TIMEOUT_S = 30.0

Answer = Callable[[str, dict[str, Any]], Any]
#: The label of the child that runs the reference: it always runs as the grader's own user.
REFERENCE_LABEL = "reference"


def _child_user(label: str) -> tuple[int, int] | None:
    """(uid, gid) of the user a child labelled ``label`` runs as, or None for the grader's own user."""
    name = os.environ.get(CHILD_USER_VARIABLE, "")
    if not name or label == REFERENCE_LABEL or os.geteuid() != 0:
        return None
    entry = pwd.getpwnam(name)
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ChildFailure(f"{CHILD_USER_VARIABLE}={name!r} is not an unprivileged user")
    return entry.pw_uid, entry.pw_gid


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
        self.home = self.scratch
        self.user = _child_user(label)
        if self.user is not None:
            self._open_to(*self.user)

    def _open_to(self, uid: int, gid: int) -> None:
        """Make the scratch folder the child's, as the user ``uid``: a copy of the package it may read, and
        a home it may write; only that user's group can enter the folder."""
        copy = self.scratch / "package"
        shutil.copytree(self.package_parent / PACKAGE, copy / PACKAGE, ignore=shutil.ignore_patterns("__pycache__"))
        for path in [copy, *copy.rglob("*"), self.harness, *self.harness.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.package_parent = copy
        self.home = self.scratch / "home"
        self.home.mkdir()
        os.chown(self.home, uid, gid)
        os.chown(self.scratch, 0, gid)
        self.scratch.chmod(0o750)

    # -- the process ------------------------------------------------------------------------------

    def _start(self) -> None:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        as_user: dict[str, Any] = {}
        if self.user is not None:
            as_user = {"user": self.user[0], "group": self.user[1], "extra_groups": []}
        self._stderr = open(self.stderr_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-B", str(self.harness / "child.py"), str(self.package_parent)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=self.home,
            env=env,
            start_new_session=True,
            **as_user,
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
        except BaseException:  # a test's timeout, an answerer's own failure: the child is out of step, end it
            self._kill()
            raise

    def stderr_tail(self, limit: int = 4000) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")[-limit:]
        except OSError:
            return ""

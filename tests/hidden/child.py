"""The graded child: runs the submission's functions on inputs the grader sends, and describes what they did.

Started by :mod:`tests.hidden.remote` as ``python -I -B child.py PACKAGE_PARENT`` in a
scratch folder that holds only this file, ``wire.py``, the ``ops`` folder and nothing
of the grader's expectations. It speaks JSON lines on the pipes it was given:

- the grader sends ``{"op": "ex3.backoff_delay", "args": {...}}``;
- while an operation runs it may ask the grader for a collaborator's answer
  (``{"ask": "provider.complete", "args": {...}}``, answered ``{"answer": ...}``):
  the provider, the clock, the sleep, the cache and the wait rule of a stateful
  exercise are proxies, so the grader decides what they do and sees every call;
- the child answers ``{"result": ..., "logs": [...], "warnings": [...]}``: the
  value or the error (described by :mod:`wire`), the llm_client log records and
  the warnings the operation raised.

The graded code's own prints go to stderr: the protocol keeps a file descriptor of
its own. Nothing here decides a grade: the grader compares what this child
describes with what a child running the reference describes.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import os
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import wire  # noqa: E402  (the folder above is put on the path first)

#: The attributes every LogRecord has: what is left of a record's __dict__ are the fields it was logged with.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("n", logging.INFO, "p", 1, "m", None, None))) | {"message", "asctime"}


class Channel:
    """The JSON-lines pipe to the grader."""

    def __init__(self, reader: io.TextIOBase, writer: io.TextIOBase) -> None:
        self.reader = reader
        self.writer = writer

    def send(self, message: dict[str, Any]) -> None:
        self.writer.write(json.dumps(message) + "\n")
        self.writer.flush()

    def receive(self) -> dict[str, Any] | None:
        line = self.reader.readline()
        if not line:
            return None
        message: dict[str, Any] = json.loads(line)
        return message

    def ask(self, kind: str, args: dict[str, Any]) -> Any:
        """Ask the grader what a proxied collaborator does; return its answer."""
        self.send({"ask": kind, "args": args})
        reply = self.receive()
        if reply is None or "answer" not in reply:
            raise SystemExit(3)  # the grader hung up
        return reply["answer"]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: wire.describe(v) for k, v in vars(record).items() if k not in _RECORD_ATTRIBUTES}
        try:
            text = record.getMessage()
        except Exception:
            text = "<unformattable>"
        self.records.append({"logger": record.name, "level": record.levelno, "text": text, "fields": fields})


def _load_ops() -> dict[str, Callable[..., Any]]:
    ops: dict[str, Callable[..., Any]] = {}
    for path in sorted((HERE / "ops").glob("ex*.py")):
        module = importlib.import_module(f"ops.{path.stem}")
        ops.update(getattr(module, "OPS", {}))
    return ops


def run(op: Callable[..., Any], args: dict[str, Any], channel: Channel) -> dict[str, Any]:
    """Run one operation; describe its result, its log records and its warnings."""
    records = _Records()
    logger = logging.getLogger("llm_client")
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = op(channel, **args)
        result = {"ok": wire.describe(value)}
    except BaseException as exc:  # the graded code's own failure is the thing described
        if isinstance(exc, SystemExit) and exc.code == 3:
            raise
        result = {"raised": wire.describe_error(exc), "traceback": traceback.format_exc()[-4000:]}
    finally:
        logger.removeHandler(records)
    seen = [{"category": w.category.__name__, "message": str(w.message), "filename": w.filename} for w in caught]
    return {"result": result, "logs": records.records, "warnings": seen}


def _no_real_sleep(seconds: float) -> None:
    """time.sleep in the child: the graded code is given a sleep of its own, and must never wait for real."""
    if seconds > 0:
        raise RuntimeError(f"the graded code slept for real ({seconds!r} s) instead of using the sleep it was given")


def main(argv: list[str]) -> int:
    time.sleep = _no_real_sleep
    package_parent = argv[1]
    sys.path.insert(0, package_parent)
    protocol_out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)  # the graded code's prints go to stderr, never into the protocol
    sys.stdout = sys.stderr
    channel = Channel(io.TextIOWrapper(os.fdopen(os.dup(0), "rb"), encoding="utf-8"), protocol_out)
    ops = _load_ops()
    channel.send({"ready": sorted(ops)})
    while True:
        request = channel.receive()
        if request is None:
            return 0
        op = ops.get(request.get("op", ""))
        if op is None:
            channel.send({"result": {"raised": {"type": "unknown-op", "message": str(request.get("op"))}}})
            continue
        channel.send(run(op, dict(request.get("args", {})), channel))


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

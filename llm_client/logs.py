"""Log events of the client: one line per outcome, with its fields in the text.

The library only adds a ``NullHandler`` to the ``llm_client`` logger; where
the lines go is the application's choice. In a notebook, one call shows them::

    from llm_client import enable_logging
    enable_logging()

Each event is logged as ``<event> request_id=... model=... attempt=...
latency_s=... error_type=...`` so the fields appear in ordinary log output, not
only in ``extra`` (the same fields are also attached to the record, for
structured handlers). Events: ``llm.cache_hit``, ``llm.attempt_ok``,
``llm.attempt_failed``, ``llm.retry_scheduled`` (with ``sleep_s``),
``llm.gave_up``, ``llm.cache_error``.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

__all__ = ["EVENT_FIELDS", "enable_logging", "log_event", "logger"]

logger = logging.getLogger("llm_client")

#: The fields every event carries, in the order they are printed.
EVENT_FIELDS = ("request_id", "model", "attempt", "latency_s", "error_type")

_HANDLER_NAME = "llm_client.enable_logging"


def _format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    text = str(value)
    # Quoted when it has a space or a character such as a newline, so one event stays one line.
    return text if text and " " not in text and text.isprintable() else repr(text)


def log_event(level: int, event: str, **fields: Any) -> None:
    """Log ``event`` with ``fields`` written into the message and attached as ``extra``.

    The fields of :data:`EVENT_FIELDS` are always printed (``-`` when None);
    any other field (``sleep_s``, ``reason``) follows them.
    """
    if not logger.isEnabledFor(level):
        return
    ordered = {name: fields.get(name) for name in EVENT_FIELDS}
    ordered.update({k: v for k, v in fields.items() if k not in ordered})
    text = " ".join(f"{name}={_format_value(value)}" for name, value in ordered.items())
    logger.log(level, "%s %s", event, text, extra={"event": event, **ordered})


def enable_logging(level: int | str = logging.INFO, *, stream: TextIO | None = None) -> logging.Handler:
    """Print the client's log lines to ``stream`` (default ``sys.stdout``, which notebooks show).

    Calling it again replaces the handler it added before, so a re-run
    notebook cell never prints each line twice. Returns the handler.
    """
    for handler in list(logger.handlers):
        if handler.get_name() == _HANDLER_NAME:
            logger.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter("%(levelname)-7s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler

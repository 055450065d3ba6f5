"""Keep the keys the providers send out of httpx's and httpcore's own log records.

A server may echo a key in a response header, a reason phrase or a malformed
status line; httpcore logs response headers and errors at DEBUG, httpx the
status line at INFO. :func:`remember_secret` records each key a provider
resolves, and a filter on those loggers replaces it (as sent and
percent-encoded) with ``[redacted]`` before any handler sees the record.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import quote, quote_plus

__all__ = ["remember_secret", "secret_forms"]

_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks")
_secrets: set[str] = set()
_lock = threading.Lock()


def secret_forms(secret: str) -> tuple[str, ...]:
    """``secret`` as sent and as a server would percent-encode it into a URL or a message."""
    return (secret, quote(secret, safe=""), quote(secret), quote_plus(secret))


class _RedactSecrets(logging.Filter):
    """Replaces every remembered secret in a record's message; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = sorted(_secrets, key=len, reverse=True)
        if not secrets:
            return True
        text = record.getMessage()
        if any(secret in text for secret in secrets):
            for secret in secrets:
                text = text.replace(secret, "[redacted]")
            record.msg, record.args = text, None
        return True


_FILTER = _RedactSecrets()


def remember_secret(secret: str) -> None:
    """Redact ``secret`` (an API key about to be sent) from httpx's and httpcore's log records."""
    with _lock:
        _secrets.update(form for form in secret_forms(secret) if form.strip())
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)

"""Keep the keys the providers send out of httpx's and httpcore's own log records.

A server may echo a key in a response header, a reason phrase or a malformed
status line; httpcore logs response headers and errors at DEBUG, httpx the
status line at INFO. :func:`remember_secret` records each key a provider
resolves, and a filter on those loggers replaces it (as sent and
percent-encoded, the escapes in either case) with ``[redacted]`` before any
handler sees the record.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

__all__ = ["remember_secret", "secret_forms", "secrets_pattern"]

_LOGGERS = ("httpx", "httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks")
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_lock = threading.Lock()
_ESCAPE = re.compile(r"(%[0-9A-Fa-f]{2})")


def secret_forms(secret: str) -> tuple[str, ...]:
    """``secret`` as sent, as a server would percent-encode it into a URL or a message, and as
    JSON escapes it (``/`` as ``\\/``, as some servers write it)."""
    escaped = json.dumps(secret)[1:-1]
    return (secret, quote(secret, safe=""), quote(secret), quote_plus(secret), escaped, escaped.replace("/", "\\/"))


def _form_regex(form: str) -> str:
    """A regex for ``form`` whose percent escapes match in either case (``%2B`` and ``%2b``)."""
    return "".join(f"%(?i:{part[1:]})" if _ESCAPE.fullmatch(part) else re.escape(part) for part in _ESCAPE.split(form))


def secrets_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for every form (:func:`secret_forms`) of each of ``secrets``, longest first,
    percent escapes matched in either case; ``None`` when there is nothing to match."""
    forms = sorted({form for secret in secrets for form in secret_forms(secret) if form.strip()}, key=len, reverse=True)
    return re.compile("|".join(_form_regex(form) for form in forms)) if forms else None


class _RedactSecrets(logging.Filter):
    """Replaces every remembered secret in a record's message; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        pattern = _pattern
        if pattern is None:
            return True
        text = record.getMessage()
        redacted = pattern.sub("[redacted]", text)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


_FILTER = _RedactSecrets()


def remember_secret(secret: str) -> None:
    """Redact ``secret`` (an API key about to be sent) from httpx's and httpcore's log records."""
    global _pattern
    with _lock:
        if secret.strip() and secret not in _secrets:
            _secrets.add(secret)
            _pattern = secrets_pattern(_secrets)
        for name in _LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)

"""Read a response body with a size limit counted after decompression.

httpx decompresses a whole network chunk at once, so a small gzip bomb can
grow to hundreds of megabytes before anyone counts. :class:`BoundedBody`
decompresses with zlib's ``max_length`` instead: memory never holds more than
the limit plus one network chunk, however the body is compressed.
"""

from __future__ import annotations

import zlib
from typing import Protocol

from llm_client.errors import MalformedResponseError, ResponseTooLargeError

__all__ = ["ACCEPT_ENCODING", "BoundedBody"]

#: The encodings asked for, and the only ones a body may use (besides identity).
ACCEPT_ENCODING = "gzip, deflate"


class _Decoder(Protocol):
    def decode(self, data: bytes, max_length: int) -> bytes: ...


class _Identity:
    def decode(self, data: bytes, max_length: int) -> bytes:
        return data


class _Zlib:
    """gzip (``wbits`` 16 + 15) or deflate: zlib-wrapped, or raw as some servers send it."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._obj = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        self._started = False
        self.pending = b""

    def decode(self, data: bytes, max_length: int) -> bytes:
        """Up to ``max_length`` bytes of output; input not yet decoded stays in ``pending``."""
        try:
            out = self._obj.decompress(data, max_length)
        except zlib.error:
            if self._gzip or self._started:
                raise
            self._obj = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as httpx accepts it
            out = self._obj.decompress(data, max_length)
        self._started = True
        self.pending = self._obj.unconsumed_tail
        return out


class BoundedBody:
    """Collects a body's raw bytes, decoded per ``content_encoding``, up to ``limit`` bytes.

    ``truncate`` False (a success): passing ``limit`` raises ResponseTooLargeError.
    ``truncate`` True (an error body, read only for its message): the bytes past
    ``limit`` are dropped and :attr:`full` turns True. A corrupt or unsupported
    encoding raises MalformedResponseError. ``provider`` and ``status`` name the
    response in those errors.
    """

    def __init__(self, content_encoding: str, *, limit: int, truncate: bool, provider: str, status: int) -> None:
        self.limit = limit
        self.truncate = truncate
        self.full = False
        self._provider = provider
        self._status = status
        self._parts: list[bytes] = []
        self._size = 0
        encodings = [part.strip().lower() for part in content_encoding.split(",") if part.strip()]
        compressed = [name for name in encodings if name != "identity"]
        if len(compressed) > 1 or any(name not in ("gzip", "x-gzip", "deflate") for name in compressed):
            raise MalformedResponseError(
                f"{provider} answered HTTP {status} with Content-Encoding {content_encoding!r}; "
                f"only {ACCEPT_ENCODING} were asked for",
                status_code=status,
            )
        self._decoder: _Decoder = _Zlib(gzip=compressed[0] != "deflate") if compressed else _Identity()

    def feed(self, raw: bytes) -> None:
        """Decode and keep ``raw`` (one network chunk)."""
        data = raw
        while data and not self.full:
            room = self.limit - self._size
            try:
                out = self._decoder.decode(data, room + 1)
            except zlib.error as exc:
                raise MalformedResponseError(
                    f"{self._provider} answered HTTP {self._status} with a body that does not decompress",
                    status_code=self._status,
                ) from exc
            data = getattr(self._decoder, "pending", b"")
            self._keep(out)
            if not out:
                break

    def _keep(self, out: bytes) -> None:
        if self._size + len(out) <= self.limit:
            self._parts.append(out)
            self._size += len(out)
            return
        if not self.truncate:
            raise ResponseTooLargeError(
                f"{self._provider} answered HTTP {self._status} with a body larger than "
                f"max_response_bytes={self.limit} (counted after decompression); reading stopped there",
                limit_bytes=self.limit,
                status_code=self._status,
            )
        self._parts.append(out[: self.limit - self._size])
        self._size = self.limit
        self.full = True

    def content(self) -> bytes:
        """The decoded bytes kept so far."""
        return b"".join(self._parts)

    def take(self) -> bytes:
        """The decoded bytes kept since the last take, let go of (a stream's pieces): the count, and
        so the limit, still covers everything fed."""
        out = b"".join(self._parts)
        self._parts.clear()
        return out

"""The ``httpx.AsyncClient`` the sender's async path uses: one per event loop, or the caller's."""

from __future__ import annotations

import asyncio

import httpx

__all__ = ["AsyncHTTP"]


class AsyncHTTP:
    """The ``httpx.AsyncClient`` a provider sends with.

    ``given`` is an ``httpx.AsyncClient`` the caller made (and closes), or
    None: then one is made on first use in each event loop. Pooled
    connections belong to the loop that opened them, so a later
    ``asyncio.run`` gets a fresh client instead of a pool tied to a closed
    loop. Close the client made here with :meth:`aclose` (what
    ``AsyncLLMClient.aclose`` and ``async with AsyncLLMClient(...)`` do) in
    the loop that used it.
    """

    def __init__(self, given: httpx.AsyncClient | None = None) -> None:
        if given is not None and not isinstance(given, httpx.AsyncClient):
            raise TypeError(f"async_http_client must be an httpx.AsyncClient, got {type(given).__name__}")
        self._given = given
        self._own: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"AsyncHTTP(given={self._given is not None})"

    def client(self) -> httpx.AsyncClient:
        """The client to send with in the running event loop."""
        if self._given is not None:
            return self._given
        loop = asyncio.get_running_loop()
        if self._own is None or self._loop is not loop:
            # Keep every pooled connection alive, so a batch of up to 100 concurrent calls reuses its connections.
            self._own = httpx.AsyncClient(limits=httpx.Limits(max_connections=100, max_keepalive_connections=100))
            self._loop = loop
        return self._own

    async def aclose(self) -> None:
        """Close the client made here; a given client is the caller's to close."""
        own, self._own, self._loop = self._own, None, None
        if own is not None:
            await own.aclose()

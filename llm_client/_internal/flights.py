"""One flight per request: identical calls in flight at once share one trip to the provider.

Without it, sixteen threads that miss the cache for the same prompt at the
same moment pay sixteen times. :class:`Flights` (threads) and
:class:`AsyncFlights` (asyncio tasks) run the first call for a key and make
every identical call that arrives while it is in flight wait for it and share
its outcome: the same text, or the same error raised again. Once the flight
lands, the next call for that key starts a new one (by then the cache, if
any, holds the answer).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["AsyncFlights", "Flights"]

R = TypeVar("R")


class _Flight(Generic[R]):
    def __init__(self) -> None:
        self.landed = threading.Event()
        self.result: R | None = None
        self.error: BaseException | None = None


class Flights(Generic[R]):
    """Flights shared by the threads of one client."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flying: dict[Hashable, _Flight[R]] = {}

    def run(self, key: Hashable, fly: Callable[[], R]) -> R:
        """Return ``fly()``'s result, or the one of the identical call already in flight for ``key``
        (its error, if it failed, is raised here too)."""
        with self._lock:
            flight = self._flying.get(key)
            leading = flight is None
            if flight is None:
                flight = self._flying[key] = _Flight()
        if not leading:
            flight.landed.wait()
            if flight.error is not None:
                raise flight.error
            return flight.result  # type: ignore[return-value]
        try:
            flight.result = fly()
        except BaseException as exc:
            flight.error = exc
            raise
        finally:
            with self._lock:
                del self._flying[key]
            flight.landed.set()
        return flight.result


class AsyncFlights(Generic[R]):
    """Flights shared by the tasks of one client, per event loop."""

    def __init__(self) -> None:
        self._flying: dict[tuple[int, Hashable], asyncio.Future[R]] = {}

    async def run(self, key: Hashable, fly: Callable[[], Awaitable[R]]) -> R:
        """:meth:`Flights.run`, awaited. A waiting task whose leader was cancelled flies itself."""
        loop = asyncio.get_running_loop()
        slot = (id(loop), key)
        while True:
            flight = self._flying.get(slot)
            if flight is None:
                break
            try:
                return await asyncio.shield(flight)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if not flight.cancelled() or (task is not None and task.cancelling()):
                    raise
        flight = self._flying[slot] = loop.create_future()
        try:
            result = await fly()
        except asyncio.CancelledError:
            flight.cancel()
            raise
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: no "never retrieved" warning when no one waited
            raise
        else:
            flight.set_result(result)
            return result
        finally:
            del self._flying[slot]

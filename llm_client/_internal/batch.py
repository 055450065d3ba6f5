"""Run many requests through one client: results in order, a bound on concurrency, a pace, a progress bar.

- :func:`run_batch` drives an :class:`~llm_client.LLMClient` from a pool of threads;
- :func:`arun_batch` drives an :class:`~llm_client.AsyncLLMClient` from asyncio tasks.

Both return one result per request, in the order of the requests: the text,
or the :class:`~llm_client.errors.LLMError` that request ended with (after the
client's own retries). One failed request never sinks the batch. Anything
else (a ``TypeError``, a ``NotImplementedError``, ``KeyboardInterrupt``,
cancellation) is a programming error or a stop: no new request is started,
and it propagates unchanged.

Every attempt (retries included) waits for its turn before it is sent, so the
batch stays under the provider's limit rather than discovering it through
429s: the batch runs on a copy of the client whose provider is wrapped in a
:class:`~llm_client.limiter.PacedProvider`; the client given is not changed.
The pace is ``limiter``: by default (``"auto"``) a new
:class:`~llm_client._internal.adaptive.AdaptiveLimiter`, shared by every thread or task
of the batch, that learns the provider's limit from its rate-limit headers and
its 429s; a :class:`~llm_client.limiter.RateLimiter` for a rate you know; an
AdaptiveLimiter of your own to share what it learned between batches; or None
for no pacing at all.
The progress bar is ``tqdm``'s, imported only when a bar is shown; in
JupyterLab it updates in place.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import threading
from collections.abc import Iterable
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Literal, Protocol, TypeAlias

from llm_client._internal.adaptive import AdaptiveLimiter
from llm_client._internal.caller import at_site, call_site, site_var
from llm_client._internal.checks import check_int
from llm_client._internal.rate_limiter import PacedProvider, RateLimiter
from llm_client.errors import LLMError
from llm_client.request import LLMRequest

__all__ = ["BatchLimiter", "BatchResult", "arun_batch", "run_batch"]

#: One request's outcome: its text, or the LLMError it ended with.
BatchResult: TypeAlias = str | LLMError

#: What paces a batch: "auto" (learn the limit), a limiter, or None (no pacing).
BatchLimiter: TypeAlias = RateLimiter | AdaptiveLimiter | Literal["auto"] | None


class _Bar(Protocol):
    def update(self, n: int = 1) -> object: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> object: ...

    def close(self) -> object: ...


class _NoBar:
    """What stands in for the bar when ``progress=False``."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


class _Tally:
    """Counts finished and failed requests, and shows them on the bar (thread-safe)."""

    def __init__(self, total: int, progress: bool) -> None:
        self._lock = threading.Lock()
        self.failed = 0
        if progress and total:
            from tqdm import tqdm

            self._bar: _Bar = tqdm(total=total, unit="req", desc="llm batch", dynamic_ncols=True)
        else:
            self._bar = _NoBar()

    def record(self, result: BatchResult) -> None:
        with self._lock:
            if isinstance(result, LLMError):
                self.failed += 1
                self._bar.set_postfix_str(f"failed={self.failed}", refresh=False)
            self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def _check_batch(
    requests: Iterable[LLMRequest], concurrency: int, limiter: BatchLimiter, progress: bool
) -> list[LLMRequest]:
    if isinstance(requests, (str, bytes)) or not isinstance(requests, Iterable):
        raise TypeError(f"requests must be an iterable of LLMRequest, got {type(requests).__name__}")
    items = list(requests)
    for index, req in enumerate(items):
        if not isinstance(req, LLMRequest):
            raise TypeError(f"requests[{index}] must be an LLMRequest, got {type(req).__name__}")
    check_int("concurrency", concurrency, minimum=1)
    if not (limiter is None or isinstance(limiter, (RateLimiter, AdaptiveLimiter)) or _auto(limiter)):
        raise TypeError(f"limiter must be 'auto', a RateLimiter, an AdaptiveLimiter or None, got {limiter!r}")
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be True or False, got {type(progress).__name__}")
    return items


def _auto(limiter: object) -> bool:
    return isinstance(limiter, str) and limiter == "auto"


def _paced(client: Any, limiter: BatchLimiter) -> Any:
    """``client``, or a shallow copy of it whose provider waits for ``limiter`` before every attempt.

    ``"auto"`` is a new AdaptiveLimiter, one for the whole batch (no pacing for
    a client without a ``provider`` to wrap).
    """
    if limiter is None or (_auto(limiter) and not hasattr(client, "provider")):
        return client
    if not hasattr(client, "provider"):
        raise TypeError(f"a limiter needs an LLMClient or AsyncLLMClient (with .provider), got {type(client).__name__}")
    paced = copy.copy(client)
    paced.provider = PacedProvider(client.provider, AdaptiveLimiter() if isinstance(limiter, str) else limiter)
    return paced


def run_batch(
    client: Any,
    requests: Iterable[LLMRequest],
    *,
    concurrency: int = 8,
    limiter: BatchLimiter = "auto",
    progress: bool = True,
) -> list[BatchResult]:
    """Send every request through ``client.call`` from at most ``concurrency`` threads.

    ``client`` is an :class:`~llm_client.LLMClient` (anything whose ``call(req)``
    returns text). Returns, in request order, each text or the LLMError its
    request ended with. Each attempt first waits for its turn at ``limiter``
    (``limiter.acquire``; see the module docstring, and None for no pacing).
    ``progress`` shows a tqdm bar with the count of failures.
    """
    items = _check_batch(requests, concurrency, limiter, progress)
    call = getattr(client, "call", None)
    if not callable(call):
        raise TypeError(f"client must have a call(req) method, got {type(client).__name__}")
    if inspect.iscoroutinefunction(call):
        raise TypeError(f"{type(client).__name__}.call is async: use `await arun_batch(client, requests)`")
    call = _paced(client, limiter).call
    results: list[BatchResult | None] = [None] * len(items)
    tally = _Tally(len(items), progress)
    stop = threading.Event()
    site = call_site()  # the worker threads' warnings point at the line that called run_batch

    def one(index: int) -> None:
        if stop.is_set():
            return
        try:
            result: BatchResult = call(items[index])
        except LLMError as exc:
            result = exc
        except BaseException:
            stop.set()  # before this thread (or another) picks up the next request
            raise
        results[index] = result
        tally.record(result)

    try:
        with ThreadPoolExecutor(max_workers=min(concurrency, len(items)) or 1, thread_name_prefix="llm-batch") as pool:
            futures: list[Future[None]] = [pool.submit(at_site, site, one, index) for index in range(len(items))]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            finally:
                stop.set()  # a stop (an error, Ctrl-C) starts nothing new; calls under way finish
                for future in futures:
                    future.cancel()
            for future in futures:
                error = None if future.cancelled() else future.exception()
                if error is not None:
                    raise error
    finally:
        tally.close()
    return _finished(results)


async def arun_batch(
    client: Any,
    requests: Iterable[LLMRequest],
    *,
    concurrency: int = 8,
    limiter: BatchLimiter = "auto",
    progress: bool = True,
) -> list[BatchResult]:
    """Send every request through ``await client.call`` from at most ``concurrency`` tasks.

    ``client`` is an :class:`~llm_client.AsyncLLMClient` (anything whose
    ``call(req)`` is a coroutine returning text). Returns, in request order,
    each text or the LLMError its request ended with. Each attempt first
    waits for its turn at ``limiter`` (``limiter.aacquire``; see the module
    docstring, and None for no pacing). ``progress`` shows a tqdm bar with
    the count of failures. When the batch is cancelled
    or a task raises anything but an LLMError, every task is cancelled first.
    """
    items = _check_batch(requests, concurrency, limiter, progress)
    call = getattr(client, "call", None)
    if not inspect.iscoroutinefunction(call):
        raise TypeError(
            f"client must have an async call(req) method, got {type(client).__name__}: "
            "for an LLMClient use run_batch(client, requests)"
        )
    call = _paced(client, limiter).call
    results: list[BatchResult | None] = [None] * len(items)
    tally = _Tally(len(items), progress)
    pending = iter(range(len(items)))  # shared by the workers: each index is taken once

    async def worker() -> None:
        for index in pending:
            try:
                result: BatchResult = await call(items[index])
            except LLMError as exc:
                result = exc
            results[index] = result
            tally.record(result)

    token = site_var.set(call_site())  # copied into each task: their warnings point at the awaiting line
    try:
        workers = [asyncio.create_task(worker()) for _ in range(min(concurrency, len(items)))]
    finally:
        site_var.reset(token)
    try:
        if workers:
            await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        tally.close()
    for task in workers:
        error = None if task.cancelled() else task.exception()
        if error is not None:
            raise error
    return _finished(results)


def _finished(results: list[BatchResult | None]) -> list[BatchResult]:
    missing = [index for index, result in enumerate(results) if result is None]
    if missing:
        raise AssertionError(f"requests {missing[:5]} finished without a result")
    return [result for result in results if result is not None]

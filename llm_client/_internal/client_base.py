"""The settings both clients share, declared once, and everything around the call path that is not the lesson.

:class:`ClientBase` checks the settings, picks each call's policy, request id
and cache key (scoped to who answers it), runs identical calls in flight once,
and drives the structured-output flow. The call path itself, the cache, the
attempts, the waits and the log lines, is :class:`~llm_client.LLMClient`'s
(exercise 1); the async client reuses its decision after a failure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Any, Generic, NamedTuple, Self, TypeVar

from pydantic import BaseModel, ValidationError

from llm_client._internal.caller import warn_at_caller
from llm_client._internal.calls import Call, Waits
from llm_client._internal.checks import check_int, check_number
from llm_client._internal.flights import AsyncFlights, Flights
from llm_client._internal.policy import RetryPolicy
from llm_client.caches import Cache
from llm_client.errors import ClientClosedError, LLMError, TruncatedAnswerWarning
from llm_client.logs import log_event
from llm_client.providers.base import LLMResponse, Provider
from llm_client.request import LLMRequest

__all__ = ["ClientBase", "SyncClientBase", "cache_scope", "new_request_id"]

T = TypeVar("T", bound=BaseModel)
P = TypeVar("P")


def new_request_id() -> str:
    """A short random id that ties together the log lines of one call."""
    return uuid.uuid4().hex[:12]


def _make_cache_key(req: LLMRequest) -> str:
    """The default ``key_fn``: exercise 2's make_cache_key, imported at the first call that needs a key."""
    from llm_client.cache_key import make_cache_key

    return make_cache_key(req)


def _check_callable(name: str, value: Any) -> None:
    if not callable(value):
        raise TypeError(f"{name} must be callable, got {type(value).__name__}")


def _check_flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")


def cache_scope(provider: object, namespace: str | None) -> str:
    """The prefix a client puts before each cache key: "" or ``"ns-<16 hex>:"``.

    It names who answered: the provider's ``name`` and ``base_url`` when the
    provider has a ``base_url`` (the HTTP providers), and ``namespace`` when
    given; so two providers, two base URLs or two namespaces sharing one cache
    never get each other's answers. It is a hash: a base URL's credentials never
    reach a cache file. An offline provider without a ``base_url`` (FakeProvider)
    and no namespace give "" (the keys are ``key_fn``'s own).
    """
    base_url = getattr(provider, "base_url", None)
    parts: list[str] = []
    if isinstance(base_url, str):
        parts += [str(getattr(provider, "name", type(provider).__name__)), base_url]
    if namespace is not None:
        parts += ["namespace", namespace]
    if not parts:
        return ""
    return "ns-" + hashlib.sha256(json.dumps(parts).encode("utf-8")).hexdigest()[:16] + ":"


def _check_request(req: Any) -> LLMRequest:
    if not isinstance(req, LLMRequest):
        raise TypeError(f"req must be an LLMRequest, got {type(req).__name__}")
    return req


class _StructuredCall(NamedTuple, Generic[T]):
    """One structured call as it starts: its cache key (or None), the cached object (or None), and its flow."""

    key: str | None
    cached: T | None
    flow: Generator[LLMRequest, str, T]


class ClientBase(Generic[P]):
    """The settings, declared once, and everything but the waiting, shared by LLMClient and AsyncLLMClient.

    The keyword arguments are the settings of both clients (see
    :class:`LLMClient`); a subclass names the provider method it calls
    (``_provider_method``) and the ``sleep`` it uses by default
    (``_default_sleep``), and adds only the loops that wait.
    """

    _provider_method = "complete"
    #: The wait rule without a ``waits`` setting: ``(error, attempt, *, policy, rng) -> seconds``; each client names it.
    _default_waits: Callable[..., float]
    _default_sleep: Callable[[float], object] = staticmethod(time.sleep)

    def __init__(
        self,
        provider: P,
        *,
        cache: Cache | None = None,
        max_retries: int = 6,
        timeout_s: float = 30.0,
        deadline_s: float | None = None,
        max_retry_after_s: float = 60.0,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        key_fn: Callable[[LLMRequest], str] = _make_cache_key,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 8.0,
        cache_namespace: str | None = None,
        cache_truncated: bool = False,
        waits: Waits | None = None,
        max_stream_s: float = 600.0,
    ) -> None:
        if not callable(getattr(provider, self._provider_method, None)):
            raise TypeError(
                f"provider must have a {self._provider_method}(req, *, timeout_s) method, got {type(provider).__name__}"
            )
        if cache is not None and not isinstance(cache, Cache):
            raise TypeError(f"cache must have get(key) and set(key, value) methods, got {type(cache).__name__}")
        if rng is not None and not isinstance(rng, random.Random):
            raise TypeError(f"rng must be a random.Random, got {type(rng).__name__}")
        sleep = type(self)._default_sleep if sleep is None else sleep
        _check_callable("sleep", sleep)
        self._check_sleep(sleep)
        _check_callable("clock", clock)
        _check_callable("key_fn", key_fn)
        if waits is not None:
            _check_callable("waits", waits)
        if cache_namespace is not None and not isinstance(cache_namespace, str):
            raise TypeError(f"cache_namespace must be a str or None, got {type(cache_namespace).__name__}")
        _check_flag("cache_truncated", cache_truncated)
        self.provider = provider
        self.cache = cache
        self.policy = RetryPolicy(
            max_retries=max_retries,
            timeout_s=timeout_s,
            deadline_s=deadline_s,
            max_retry_after_s=max_retry_after_s,
            backoff_base_s=backoff_base_s,
            backoff_cap_s=backoff_cap_s,
        )
        self.sleep = sleep
        self._clock = clock
        self._rng = rng
        self._key_fn = key_fn
        self._waits = waits
        self._scope = cache_scope(provider, cache_namespace)
        self.cache_truncated = cache_truncated
        #: The bound of one streamed attempt, start to end, when the call has no ``deadline_s``.
        self.max_stream_s = check_number("max_stream_s", max_stream_s, strictly_positive=True)
        self._closed = False
        self._flights: Flights[LLMResponse] = Flights()
        self._aflights: AsyncFlights[LLMResponse] = AsyncFlights()

    def _check_sleep(self, sleep: Callable[[float], object]) -> None:
        """Refuse a ``sleep`` this client cannot use (a subclass's check; any callable will do here)."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(provider={self.provider!r}, cache={self.cache!r}, "
            f"max_retries={self.policy.max_retries}, timeout_s={self.policy.timeout_s}, "
            f"deadline_s={self.policy.deadline_s})"
        )

    # -- the pieces ------------------------------------------------------------------------

    def _policy_for(self, timeout_s: float | None, max_retries: int | None) -> RetryPolicy:
        changes: dict[str, Any] = {}
        if timeout_s is not None:
            changes["timeout_s"] = timeout_s
        if max_retries is not None:
            changes["max_retries"] = max_retries
        return dataclasses.replace(self.policy, **changes) if changes else self.policy

    def wait_before_retry(self, error: LLMError, attempt: int) -> float:
        """Seconds to wait after ``error`` ended attempt ``attempt``: the ``waits`` setting, else the
        client's default (:func:`~llm_client.client.default_wait`) with its backoff settings and rng."""
        if self._waits is not None:
            return self._waits(error, attempt)
        return type(self)._default_waits(error, attempt, policy=self.policy, rng=self._rng)

    def _cached(self, key: str | None, req: LLMRequest, request_id: str) -> str | None:
        """The text stored under ``key`` (logged as a hit), or None."""
        if key is None or self.cache is None:
            return None
        text = self.cache.get(key)
        if text is not None:
            log_event(logging.INFO, "llm.cache_hit", request_id=request_id, model=req.model, latency_s=0.0)
        return text

    def _lookup(self, req: LLMRequest, call: Call) -> LLMResponse | None:
        """For the async path: the stored answer under ``call.key`` as a response, or None."""
        text = self._cached(call.key, req, call.request_id)
        return None if text is None else LLMResponse(text, req.model)

    def _record(self, call: Call, attempt: int, response: LLMResponse) -> None:
        """For the async path: log the attempt that succeeded, and store its text when it may be stored."""
        call.log(logging.INFO, "llm.attempt_ok", attempt, **{"latency_s": call.latency()})
        storable = call.key if self.cache_truncated or not response.truncated else None
        if storable is not None and self.cache is not None:
            self.cache.set(storable, response.text)

    def _no_error_after(self, call: Call) -> AssertionError:
        """What a path raises when every attempt failed and after_failure never raised (a broken exercise 1)."""
        return AssertionError(
            f"every attempt failed, yet after_failure returned a wait after the last one (attempt "
            f"{call.policy.max_retries}, counted from 0): there it must raise RetriesExhaustedError "
            "(or DeadlineExceededError) from the last error"
        )

    def _begin(self, req: LLMRequest, timeout_s: float | None, max_retries: int | None, use_cache: bool) -> Call:
        """Check a call's arguments, choose its policy, id and cache key (None: no cache), and start its clock."""
        self._refuse_if_closed()
        _check_request(req)
        _check_flag("use_cache", use_cache)
        policy = self._policy_for(timeout_s, max_retries)
        key = self._scope + self._key_fn(req) if use_cache and self.cache is not None else None
        return Call(
            policy,
            key=key,
            clock=self._clock,
            waits=self.wait_before_retry,
            request_id=new_request_id(),
            model=req.model,
        )

    def _refuse_if_closed(self) -> None:
        if self._closed:
            raise ClientClosedError(f"{type(self).__name__} was closed: make a new client to call again")

    def _flight(self, req: LLMRequest, call: Call) -> tuple[object, ...]:
        """What makes two calls identical: the request, the policy and the cache key."""
        return (req, call.policy, call.key)

    def _warn_if_truncated(self, response: LLMResponse) -> None:
        """Warn with TruncatedAnswerWarning when ``response`` stopped at a token limit."""
        if response.truncated:
            warn_at_caller(
                f"the answer stopped at a token limit (finish_reason={response.finish_reason!r}): "
                + ("it is cached anyway (cache_truncated=True)" if self.cache_truncated else "it is not cached"),
                TruncatedAnswerWarning,
            )

    def _begin_structured(
        self,
        req: LLMRequest,
        schema: type[T],
        max_repairs: int,
        timeout_s: float | None,
        max_retries: int | None,
        use_cache: bool,
    ) -> _StructuredCall[T]:
        """Check a structured call's arguments, look in the cache, and start its flow."""
        from llm_client import structured  # the exercise's module, loaded when a structured call needs it

        self._refuse_if_closed()
        _check_request(req)
        structured.check_schema(schema)
        _check_flag("use_cache", use_cache)
        check_int("max_repairs", max_repairs, minimum=0)
        self._policy_for(timeout_s, max_retries)  # validate before any network call
        key = (
            self._scope + structured.schema_cache_key(self._key_fn(req), schema)
            if use_cache and self.cache is not None
            else None
        )
        text = self._cached(key, req, new_request_id())
        cached = None
        if text is not None:
            try:
                cached = schema.model_validate_json(text)
            except ValidationError:
                pass  # an entry from an older schema: treat as a miss and overwrite it
        return _StructuredCall(key, cached, structured.structured_flow(req, schema, max_repairs=max_repairs))

    def _keep_structured(self, call: _StructuredCall[T], done: StopIteration) -> T:
        """Cache the validated result the flow returned in ``done`` (when the call uses the cache); return it."""
        result: T = done.value
        if self.cache is not None and call.key is not None:
            # by_alias and round_trip: the stored JSON must validate again on the next hit.
            self.cache.set(call.key, result.model_dump_json(by_alias=True, round_trip=True))
        return result




def _answered(response: LLMResponse, call: Call) -> LLMResponse:
    """``response`` marked ``from_cache`` when the call made no attempt (its path found it stored)."""
    return dataclasses.replace(response, from_cache=call.attempts_started == 0)


class SyncClientBase(ClientBase[Provider]):
    """What LLMClient adds around its call path: closing, ``with``, and structured output."""

    #: The call, which LLMClient defines: ``call(req, *, timeout_s, max_retries, use_cache) -> str``.
    call: Callable[..., str]
    #: One call's path, which LLMClient defines (exercise 1): ``_call_path(req, call) -> LLMResponse``.
    _call_path: Callable[[LLMRequest, Call], LLMResponse]
    #: The decision after a failed attempt, which LLMClient names (exercise 1's after_failure); a stream passes it on.
    _after_failure: Callable[[Call, LLMError, int], float]

    def call_response(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> LLMResponse:
        """The whole answer to ``req``: its text, ``usage``, ``finish_reason``, the provider's ``request_id``,
        and ``from_cache`` (True when no attempt was made). Arguments: :meth:`LLMClient.call`'s."""
        call = self._begin(req, timeout_s, max_retries, use_cache)
        response = self._flights.run(self._flight(req, call), lambda: self._call_path(req, call))
        self._warn_if_truncated(response)
        return _answered(response, call)

    def stream(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> Iterator[str]:
        """The text of the answer to ``req`` as it is written: an iterator of text deltas (str).

        ``timeout_s`` bounds the wait for the first delta and between deltas (pings do not count);
        ``deadline_s`` the whole stream, else ``max_stream_s``. A failure before the first delta is
        retried like any attempt; after it, StreamInterruptedError carries ``partial_text``. A
        refusal raises ContentRefusedError after the partial text; a cut answer warns
        (TruncatedAnswerWarning). Only a stream that ended normally is cached, under ``call``'s key;
        a cache hit is the whole answer as one delta. Closing the iterator early (``close()``, or
        leaving a ``for`` loop and dropping it) closes the connection at once.
        """
        from llm_client._internal.stream_path import stream_path

        call = self._begin(req, timeout_s, max_retries, use_cache)
        return stream_path(self, req, call, type(self)._after_failure)

    def close(self) -> None:
        """Close what the provider opened (its ``close``, when it has one): its pooled connections. A call
        after this raises ClientClosedError."""
        self._closed = True
        close = getattr(self.provider, "close", None)
        if close is not None:
            close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def call_structured(
        self,
        req: LLMRequest,
        schema: type[T],
        *,
        max_repairs: int = 1,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> T:
        """Return the model's answer to ``req`` as a validated instance of the pydantic model ``schema``.

        The text is parsed as JSON (a fenced code block around it is fine) and
        validated. When that fails, the model is asked again with the
        validation errors fed back, up to ``max_repairs`` times; then
        StructuredOutputError is raised. Only valid output is cached, under a
        key that includes the schema.
        """
        call = self._begin_structured(req, schema, max_repairs, timeout_s, max_retries, use_cache)
        if call.cached is not None:
            return call.cached
        asked = next(call.flow)
        while True:
            text = self.call(asked, timeout_s=timeout_s, max_retries=max_retries, use_cache=False)
            try:
                asked = call.flow.send(text)
            except StopIteration as done:
                return self._keep_structured(call, done)

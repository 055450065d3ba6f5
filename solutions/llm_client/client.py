"""The client: the one place where requests meet caching, retries, timeouts and logging.

Contract: given an :class:`~llm_client.LLMRequest`, return text (or a
validated object) or raise an :class:`~llm_client.errors.LLMError` that says
what went wrong. Programming errors are never retried or wrapped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import time
import uuid
import warnings
from collections.abc import Callable, Generator
from types import TracebackType
from typing import Any, Generic, NamedTuple, Self, TypeVar

from pydantic import BaseModel, ValidationError

from llm_client.caches import Cache
from llm_client.checks import check_int
from llm_client.errors import LLMError, TruncatedAnswerWarning
from llm_client.flights import AsyncFlights, Flights
from llm_client.logs import log_event
from llm_client.policy import RetryPolicy, RetryState
from llm_client.providers.base import LLMResponse, Provider
from llm_client.request import LLMRequest

__all__ = ["LLMClient", "cache_scope", "new_request_id"]

T = TypeVar("T", bound=BaseModel)
P = TypeVar("P")


def new_request_id() -> str:
    """A short random id that ties together the log lines of one call."""
    return uuid.uuid4().hex[:12]


def _make_cache_key(req: LLMRequest) -> str:
    """The default ``key_fn``: exercise 1's make_cache_key, imported at the first call that needs a key."""
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


def _gave_no_error(policy: RetryPolicy) -> AssertionError:
    """What the retry loop raises when every attempt failed and after_failure never raised (a broken ex7)."""
    return AssertionError(
        f"every attempt failed, yet after_failure returned a wait after the last one (attempt {policy.max_retries}, "
        "counted from 0): there it must raise RetriesExhaustedError (or DeadlineExceededError) from the last error"
    )


def _check_request(req: Any) -> LLMRequest:
    if not isinstance(req, LLMRequest):
        raise TypeError(f"req must be an LLMRequest, got {type(req).__name__}")
    return req


class _Call(NamedTuple):
    """One call as it starts: its policy, its id for the logs, its cache key (or None) and the cached text (or None)."""

    policy: RetryPolicy
    request_id: str
    key: str | None
    cached: str | None


class _StructuredCall(NamedTuple, Generic[T]):
    """One structured call as it starts: its cache key (or None), the cached object (or None), and its flow."""

    key: str | None
    cached: T | None
    flow: Generator[LLMRequest, str, T]


class _ClientBase(Generic[P]):
    """The settings, declared once, and everything but the waiting, shared by LLMClient and AsyncLLMClient.

    The keyword arguments are the settings of both clients (see
    :class:`LLMClient`); a subclass names the provider method it calls
    (``_provider_method``) and the ``sleep`` it uses by default
    (``_default_sleep``), and adds only the loops that wait.
    """

    _provider_method = "complete"
    _default_sleep: Callable[[float], object] = staticmethod(time.sleep)

    def __init__(
        self,
        provider: P,
        *,
        cache: Cache | None = None,
        max_retries: int = 2,
        timeout_s: float = 30.0,
        deadline_s: float | None = None,
        max_retry_after_s: float = 60.0,
        sleep: Callable[[float], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        key_fn: Callable[[LLMRequest], str] = _make_cache_key,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        cache_namespace: str | None = None,
        cache_truncated: bool = False,
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
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._key_fn = key_fn
        self._scope = cache_scope(provider, cache_namespace)
        self.cache_truncated = cache_truncated
        self._flights: Flights[str] = Flights()
        self._aflights: AsyncFlights[str] = AsyncFlights()

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

    def _state(self, req: LLMRequest, policy: RetryPolicy, request_id: str) -> RetryState:
        return RetryState(policy, clock=self._clock, rng=self._rng, request_id=request_id, model=req.model)

    def _cached(self, key: str | None, req: LLMRequest, request_id: str) -> str | None:
        if key is None or self.cache is None:
            return None
        text = self.cache.get(key)
        if text is not None:
            log_event(logging.INFO, "llm.cache_hit", request_id=request_id, model=req.model, latency_s=0.0)
        return text

    def _begin(self, req: LLMRequest, timeout_s: float | None, max_retries: int | None, use_cache: bool) -> _Call:
        """Check a call's arguments, choose its policy and id, and look in the cache."""
        _check_request(req)
        _check_flag("use_cache", use_cache)
        policy = self._policy_for(timeout_s, max_retries)
        request_id = new_request_id()
        key = self._scope + self._key_fn(req) if use_cache and self.cache is not None else None
        return _Call(policy, request_id, key, self._cached(key, req, request_id))

    def _flight(self, req: LLMRequest, call: _Call) -> tuple[object, ...]:
        """What makes two calls identical: the request, the policy and the cache key."""
        return (req, call.policy, call.key)

    def _keep(self, call: _Call, response: LLMResponse) -> str:
        """Cache the text a successful attempt returned (when the call uses the cache); return it.

        A truncated answer (it stopped at a token limit) warns with
        TruncatedAnswerWarning and is cached only when ``cache_truncated`` is True.
        """
        if response.truncated:
            warnings.warn(
                f"the answer stopped at a token limit (finish_reason={response.finish_reason!r}): "
                + ("it is cached anyway (cache_truncated=True)" if self.cache_truncated else "it is not cached"),
                TruncatedAnswerWarning,
                stacklevel=4,
            )
            if not self.cache_truncated:
                return response.text
        if call.key is not None and self.cache is not None:
            self.cache.set(call.key, response.text)
        return response.text

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
        if call.key is not None and self.cache is not None:
            # by_alias and round_trip: the stored JSON must validate again on the next hit.
            self.cache.set(call.key, result.model_dump_json(by_alias=True, round_trip=True))
        return result


class LLMClient(_ClientBase[Provider]):
    """A reliable client around one provider.

    Arguments (times in seconds; attempts counted from 0):

    - ``provider``: anything with ``complete(req, *, timeout_s) -> LLMResponse``.
    - ``cache``: a :class:`~llm_client.caches.Cache`, or None for no caching.
    - ``max_retries``: retries after the first attempt, so at most ``max_retries + 1`` attempts.
    - ``timeout_s``: the timeout of each attempt, passed to the HTTP layer.
    - ``deadline_s``: None, or a bound on a whole call, sleeps included.
    - ``max_retry_after_s``: the longest Retry-After honoured; a longer one falls back to backoff.
    - ``sleep``, ``clock``, ``rng``: injected so tests never wait (``time.sleep``,
      ``time.monotonic`` and the ``random`` module by default).
    - ``key_fn``: how a request becomes a cache key (``make_cache_key``).
    - ``backoff_base_s``, ``backoff_cap_s``: the backoff curve.
    - ``cache_namespace``: None, or a name added to every cache key (say, a prompt
      version or a tenant). The provider's name and base URL are added already
      (see :func:`cache_scope`): ``make_cache_key(req)`` names the request, the
      client names who answers it.
    - ``cache_truncated``: cache answers that stopped at a token limit (False: they
      are returned with a TruncatedAnswerWarning, never cached).

    Identical calls in flight at once (the same request and settings, from
    several threads) reach the provider once and share its answer or error.

    Close it with ``client.close()``, or use ``with LLMClient(...) as client:``:
    that closes the ``httpx.Client`` the provider made.
    """

    def _send(self, req: LLMRequest, policy: RetryPolicy, request_id: str) -> LLMResponse:
        """The retry loop: one attempt after another until success or the policy says stop."""
        state = self._state(req, policy, request_id)
        for attempt in state.attempts:
            timeout_s = state.attempt_timeout()
            try:
                response = self.provider.complete(req, timeout_s=timeout_s)
            except LLMError as exc:
                self._sleep(state.after_failure(exc, attempt))
                continue
            state.record_success(attempt)
            return response
        raise _gave_no_error(policy)

    def close(self) -> None:
        """Close what the provider opened (its ``close``, when it has one): its pooled connections."""
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

    # -- the public calls ------------------------------------------------------------------

    def call(
        self,
        req: LLMRequest,
        *,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        use_cache: bool = True,
    ) -> str:
        """Return the model's text for ``req``.

        Looks in the cache first (unless ``use_cache`` is False or there is no
        cache); then makes at most ``max_retries + 1`` attempts, each with
        ``timeout_s`` (both default to the client's settings); caches the
        text only when an attempt succeeded.
        """
        call = self._begin(req, timeout_s, max_retries, use_cache)
        if call.cached is not None:
            return call.cached

        def fly() -> str:
            landed = self._cached(call.key, req, call.request_id)  # a flight that landed since we looked
            return landed if landed is not None else self._keep(call, self._send(req, call.policy, call.request_id))

        return self._flights.run(self._flight(req, call), fly)

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

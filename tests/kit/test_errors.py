"""The error tree and what each error carries (llm_client/errors.py)."""

from __future__ import annotations

import pytest

import llm_client
from llm_client import (
    AuthenticationError,
    ConfigurationError,
    DeadlineExceededError,
    InvalidRequestError,
    LLMConnectionError,
    LLMError,
    LLMTimeoutError,
    MalformedResponseError,
    ProviderError,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    StructuredOutputError,
)

pytestmark = pytest.mark.kit


@pytest.mark.parametrize(
    ("error", "parent", "retryable"),
    [
        (ConfigurationError("no key"), LLMError, False),
        (LLMTimeoutError("slow"), ProviderError, True),
        (LLMConnectionError("refused"), ProviderError, True),
        (RateLimitError(), ProviderError, True),
        (ServerError("boom", status_code=503), ProviderError, True),
        (MalformedResponseError("html"), ProviderError, True),
        (InvalidRequestError("bad", status_code=400), ProviderError, False),
        (AuthenticationError("key", status_code=401), InvalidRequestError, False),
        (StructuredOutputError("bad json", raw_text="x", validation_errors=[]), LLMError, False),
        (RetriesExhaustedError("gave up", attempts=3, last_error=ServerError("x")), LLMError, False),
        (DeadlineExceededError("late", attempts=2, last_error=ServerError("x")), RetriesExhaustedError, False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)
def test_each_error_sits_in_the_tree_and_says_whether_a_retry_may_help(
    error: LLMError, parent: type, retryable: bool
) -> None:
    assert isinstance(error, parent)
    assert isinstance(error, LLMError)
    assert error.retryable is retryable
    assert type(error).retryable is retryable


def test_provider_error_is_an_llm_error_and_not_retryable_by_default() -> None:
    assert issubclass(ProviderError, LLMError)
    assert LLMError("x").retryable is False


def test_every_exported_error_is_an_llm_error() -> None:
    exported = [getattr(llm_client, name) for name in llm_client.__all__]
    errors = [
        obj
        for obj in exported
        if isinstance(obj, type) and issubclass(obj, Exception) and not issubclass(obj, Warning)
    ]
    assert len(errors) >= 13
    assert all(issubclass(error, LLMError) for error in errors)


def test_rate_limit_error_carries_retry_after_in_seconds_and_status_429() -> None:
    error = RateLimitError("slow down", retry_after=2.5, provider_message="Rate limit reached")
    assert (error.retry_after, error.status_code, error.provider_message) == (2.5, 429, "Rate limit reached")
    assert RateLimitError().retry_after is None


def test_invalid_request_error_carries_status_code_and_provider_message() -> None:
    error = InvalidRequestError(
        "openai answered HTTP 400: bad temperature", status_code=400, provider_message="bad temperature"
    )
    assert error.status_code == 400
    assert error.provider_message == "bad temperature"
    assert "bad temperature" in str(error)
    assert error.message == str(error)


def test_structured_output_error_carries_raw_text_and_validation_errors() -> None:
    problems = [{"type": "int_parsing", "loc": ("age",), "msg": "Input should be a valid integer"}]
    error = StructuredOutputError("no", raw_text='{"age": "old"}', validation_errors=problems)
    assert error.raw_text == '{"age": "old"}'
    assert error.validation_errors == problems


def test_retries_exhausted_error_carries_the_attempt_count_and_last_error() -> None:
    last = ServerError("HTTP 503", status_code=503)
    error = RetriesExhaustedError("gave up after 3 attempts", attempts=3, last_error=last)
    assert error.attempts == 3
    assert error.last_error is last


@pytest.mark.parametrize(
    "error",
    [
        RateLimitError("slow down", retry_after=2.5),
        InvalidRequestError("bad", status_code=400, provider_message="why"),
        StructuredOutputError("bad json", raw_text="x", validation_errors=[{"type": "json_invalid"}]),
        RetriesExhaustedError("gave up", attempts=3, last_error=ServerError("x", status_code=503)),
        DeadlineExceededError("late", attempts=2, last_error=LLMTimeoutError("slow")),
    ],
)
def test_every_error_survives_pickling_with_its_message_and_fields(error: LLMError) -> None:
    # A worker process (ProcessPoolExecutor, multiprocessing) sends its errors back pickled.
    import pickle

    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert repr(copy.__dict__) == repr(error.__dict__)

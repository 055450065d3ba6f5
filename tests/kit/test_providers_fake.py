"""FakeProvider: deterministic, scriptable, and it records every call (llm_client/_internal/fake_provider.py)."""

from __future__ import annotations

from typing import Any

import pytest

from llm_client import FakeProvider, LLMRequest, Provider, RateLimitError, ServerError
from llm_client.providers import FakeCall, echo_reply

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="fake-model", prompt="Name the capital of France.")


def test_it_is_a_provider() -> None:
    assert isinstance(FakeProvider(), Provider)
    assert FakeProvider.name == "fake"


def test_without_a_script_it_echoes_the_request_the_same_every_time() -> None:
    fake = FakeProvider()
    first = fake.complete(REQ, timeout_s=1.0)
    assert first.text == "[fake-model] Name the capital of France."
    assert first.text == FakeProvider().complete(REQ, timeout_s=1.0).text == echo_reply(REQ)
    assert (first.model, first.finish_reason) == ("fake-model", "stop")


def test_the_script_is_answered_in_order_then_the_default() -> None:
    fake = FakeProvider(["one", "two"], default=lambda req: f"default for {req.model}")
    answers = [fake.complete(REQ, timeout_s=1.0).text for _ in range(4)]
    assert answers == ["one", "two", "default for fake-model", "default for fake-model"]


def test_a_scripted_exception_is_raised_as_it_is() -> None:
    limited = RateLimitError(retry_after=2.0)
    fake = FakeProvider([limited, "after"])
    with pytest.raises(RateLimitError) as caught:
        fake.complete(REQ, timeout_s=1.0)
    assert caught.value is limited
    assert fake.complete(REQ, timeout_s=1.0).text == "after"


def test_a_scripted_callable_answers_from_the_request() -> None:
    fake = FakeProvider([lambda req: req.prompt.upper()])
    assert fake.complete(REQ, timeout_s=1.0).text == "NAME THE CAPITAL OF FRANCE."


def test_every_call_is_recorded_with_its_request_and_timeout() -> None:
    fake = FakeProvider([ServerError("503"), "ok"])
    other = LLMRequest(model="fake-model", prompt="Another.")
    with pytest.raises(ServerError):
        fake.complete(REQ, timeout_s=2.5)
    fake.complete(other, timeout_s=7.0)
    assert fake.calls == [FakeCall(REQ, 2.5), FakeCall(other, 7.0)]
    assert fake.call_count == 2


def test_push_adds_replies_to_the_end_of_the_script() -> None:
    fake = FakeProvider(["first"], default=None)
    fake.push("second", "third")
    assert [fake.complete(REQ, timeout_s=1.0).text for _ in range(3)] == ["first", "second", "third"]


def test_a_used_up_script_without_default_fails_loudly() -> None:
    fake = FakeProvider(["only"], default=None)
    fake.complete(REQ, timeout_s=1.0)
    with pytest.raises(AssertionError, match="used up"):
        fake.complete(REQ, timeout_s=1.0)


def test_the_script_is_copied_so_later_changes_to_the_list_do_not_leak_in() -> None:
    script = ["one"]
    fake = FakeProvider(script, default=None)
    script.append("two")
    fake.complete(REQ, timeout_s=1.0)
    with pytest.raises(AssertionError):
        fake.complete(REQ, timeout_s=1.0)


def test_push_refuses_an_exception_class_that_would_be_returned_as_text() -> None:
    with pytest.raises(TypeError, match=r"replies\[0\] is the exception class RateLimitError"):
        FakeProvider().push(RateLimitError)  # type: ignore[arg-type]


def test_the_repr_counts_what_is_left_and_what_was_called() -> None:
    fake = FakeProvider(["a", "b"])
    fake.complete(REQ, timeout_s=1.0)
    assert repr(fake) == "FakeProvider(remaining=1, calls=1)"


@pytest.mark.parametrize(
    ("script", "options", "name"),
    [
        ("just a string", {}, "script"),
        ([42], {}, "script"),
        ([ServerError], {}, "exception class ServerError"),
        ([], {"default": "text"}, "default"),
    ],
)
def test_a_bad_script_is_refused_at_construction(script: Any, options: dict[str, Any], name: str) -> None:
    with pytest.raises(TypeError, match=name):
        FakeProvider(script, **options)


@pytest.mark.parametrize(
    ("req", "timeout_s", "error", "name"),
    [("a prompt", 1.0, TypeError, "req"), (REQ, 0.0, ValueError, "timeout_s"), (REQ, -1, ValueError, "timeout_s")],
)
def test_a_bad_call_is_refused_and_not_recorded(req: Any, timeout_s: Any, error: type, name: str) -> None:
    fake = FakeProvider()
    with pytest.raises(error, match=name):
        fake.complete(req, timeout_s=timeout_s)
    assert fake.calls == []

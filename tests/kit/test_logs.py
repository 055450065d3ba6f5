"""Log events and enable_logging (llm_client/logs.py), as the client emits them."""

from __future__ import annotations

import io
import logging
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from fake_time import FakeTime, make_client
from provider_payloads import (
    ANTHROPIC_BASE_URL,
    OPENAI_BASE_URL,
    SENTINEL_KEY,
    anthropic_error,
    anthropic_message,
    openai_completion,
    openai_error,
)

from llm_client import (
    AnthropicProvider,
    AuthenticationError,
    FakeProvider,
    LLMClient,
    LLMError,
    LLMRequest,
    MemoryCache,
    OpenAIProvider,
    ServerError,
    enable_logging,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="gpt-4o-mini", prompt="Name the capital of France.")
PLAIN = logging.Formatter("%(message)s")
REQUEST_ID = re.compile(r"request_id=([0-9a-f]{12})\b")
FAILED_THEN_GAVE_UP = ["llm.attempt_failed", "llm.gave_up"]


@pytest.fixture
def lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    """The client's log lines so far, formatted as ordinary ``%(message)s`` output."""
    caplog.set_level(logging.DEBUG, logger="llm_client")
    return lambda: [PLAIN.format(r) for r in caplog.records if r.name.startswith("llm_client")]


@pytest.fixture
def restore_logger() -> Iterator[logging.Logger]:
    logger = logging.getLogger("llm_client")
    handlers, level = list(logger.handlers), logger.level
    yield logger
    for handler in logger.handlers:
        if handler not in handlers:
            logger.removeHandler(handler)
    logger.setLevel(level)


client = make_client


def events(text_lines: list[str]) -> list[str]:
    return [line.split(" ", 1)[0] for line in text_lines]


# -- one event per outcome, fields in the text -----------------------------------------------


def test_a_retried_call_logs_failure_retry_and_success_with_their_fields(lines: Callable[[], list[str]]) -> None:
    clock = FakeTime(start=0.0)

    def slow_answer(req: LLMRequest) -> str:
        clock.now += 1.25
        return "Paris."

    client(FakeProvider([ServerError("HTTP 503", status_code=503), slow_answer]), clock).call(REQ)
    failed, scheduled, ok = lines()
    assert events([failed, scheduled, ok]) == ["llm.attempt_failed", "llm.retry_scheduled", "llm.attempt_ok"]
    for line in (failed, scheduled, ok):
        assert REQUEST_ID.search(line)
        assert "model=gpt-4o-mini" in line
    assert "attempt=0" in failed and "error_type=ServerError" in failed and "latency_s=0.000" in failed
    assert "attempt=0" in scheduled and re.search(r"sleep_s=\d+\.\d{3}", scheduled)
    assert "attempt=1" in ok and "latency_s=1.250" in ok and "error_type=-" in ok
    assert len({REQUEST_ID.search(line).group(1) for line in (failed, scheduled, ok)}) == 1  # type: ignore[union-attr]


def test_the_scheduled_sleep_in_the_log_is_the_sleep_taken(lines: Callable[[], list[str]]) -> None:
    slept: list[float] = []
    LLMClient(
        FakeProvider([ServerError("503"), "ok"]), sleep=slept.append, rng=random.Random(8), backoff_base_s=2.0
    ).call(REQ)
    [scheduled] = [line for line in lines() if line.startswith("llm.retry_scheduled")]
    assert f"sleep_s={slept[0]:.3f}" in scheduled


def test_a_cache_hit_is_one_event_with_the_request_fields(lines: Callable[[], list[str]]) -> None:
    llm = client(FakeProvider(["Paris."]), cache=MemoryCache())
    llm.call(REQ)
    first = len(lines())
    llm.call(REQ)
    [hit] = lines()[first:]
    assert hit.startswith("llm.cache_hit ")
    assert REQUEST_ID.search(hit) and "model=gpt-4o-mini" in hit and "attempt=-" in hit


@pytest.mark.parametrize(
    ("script", "options", "expected", "reason"),
    [
        ([AuthenticationError("HTTP 401", status_code=401)], {}, FAILED_THEN_GAVE_UP, "not_retryable"),
        (
            [ServerError("503"), ServerError("503")],
            {"max_retries": 1},
            ["llm.attempt_failed", "llm.retry_scheduled", "llm.attempt_failed", "llm.gave_up"],
            "attempts_exhausted",
        ),
        ([ServerError("503")], {"deadline_s": 0.001, "backoff_base_s": 5.0}, FAILED_THEN_GAVE_UP, "deadline"),
    ],
    ids=["not-retryable", "exhausted", "deadline"],
)
def test_giving_up_is_one_event_with_its_reason_and_error_type(
    script: list[LLMError], options: dict[str, Any], expected: list[str], reason: str, lines: Callable[[], list[str]]
) -> None:
    with pytest.raises(LLMError):
        client(FakeProvider(script), **options).call(REQ)
    text = lines()
    assert events(text) == expected
    gave_up = text[-1]
    assert f"reason={reason}" in gave_up
    assert f"error_type={type(script[-1]).__name__}" in gave_up
    assert f"attempt={len(script) - 1}" in gave_up


def test_each_call_has_its_own_request_id(lines: Callable[[], list[str]]) -> None:
    llm = client(FakeProvider(["a", "b"]))
    llm.call(REQ)
    llm.call(LLMRequest(model="gpt-4o-mini", prompt="Another question."))
    ids = [REQUEST_ID.search(line).group(1) for line in lines()]  # type: ignore[union-attr]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_the_fields_are_also_attached_to_the_record(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="llm_client")
    client(FakeProvider([ServerError("503"), "ok"])).call(REQ)
    failed = next(r for r in caplog.records if getattr(r, "event", None) == "llm.attempt_failed")
    assert (failed.model, failed.attempt, failed.error_type) == ("gpt-4o-mini", 0, "ServerError")  # type: ignore[attr-defined]
    assert re.fullmatch(r"[0-9a-f]{12}", failed.request_id)  # type: ignore[attr-defined]
    assert failed.levelno == logging.WARNING


def test_a_model_name_with_a_newline_stays_on_one_log_line(lines: Callable[[], list[str]]) -> None:
    client(FakeProvider(["ok"])).call(LLMRequest(model="evil\nllm.gave_up", prompt="p"))
    [ok] = lines()
    assert "\n" not in ok
    assert "model='evil\\nllm.gave_up'" in ok


# -- handlers --------------------------------------------------------------------------------

_HANDLERS_SCRIPT = """
import logging, sys
import llm_client
from llm_client import FakeProvider, LLMClient, LLMRequest, ServerError
loggers = [logging.getLogger(n) for n in logging.root.manager.loggerDict if n.startswith("llm_client")]
print(sorted({type(h).__name__ for lg in loggers for h in lg.handlers}), len(logging.getLogger().handlers))
LLMClient(FakeProvider([ServerError("503"), "ok"]), sleep=lambda s: None).call(LLMRequest(model="m", prompt="p"))
"""


def test_the_library_adds_only_a_null_handler_and_prints_nothing_by_itself(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _HANDLERS_SCRIPT], cwd=tmp_path, capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "['NullHandler'] 0"
    assert done.stderr == ""  # the WARNING for the failed attempt went nowhere: no last-resort output


def test_enable_logging_prints_the_events_to_the_given_stream(restore_logger: logging.Logger) -> None:
    stream = io.StringIO()
    handler = enable_logging(stream=stream)
    client(FakeProvider(["ok"])).call(REQ)
    assert handler in restore_logger.handlers
    [line] = stream.getvalue().splitlines()
    assert "llm_client llm.attempt_ok" in line and "attempt=0" in line and REQUEST_ID.search(line)


def test_enable_logging_twice_leaves_one_handler_and_prints_each_line_once(restore_logger: logging.Logger) -> None:
    first, second = io.StringIO(), io.StringIO()
    enable_logging(stream=first)
    enable_logging(stream=second)
    client(FakeProvider(["ok"])).call(REQ)
    added = [h for h in restore_logger.handlers if not isinstance(h, logging.NullHandler)]
    assert len(added) == 1
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_enable_logging_writes_to_stdout_by_default(restore_logger: logging.Logger) -> None:
    handler = enable_logging()
    assert isinstance(handler, logging.StreamHandler)
    assert handler.stream is sys.stdout


def test_enable_logging_sets_the_level(restore_logger: logging.Logger) -> None:
    stream = io.StringIO()
    enable_logging(logging.WARNING, stream=stream)
    client(FakeProvider([ServerError("503"), "ok"])).call(REQ)
    assert [line.split()[2] for line in stream.getvalue().splitlines()] == ["llm.attempt_failed"]


# -- no secrets ------------------------------------------------------------------------------


def test_no_api_key_appears_in_any_log_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # every logger: the client's and the HTTP library's
    echoed = f"Incorrect API key provided: {SENTINEL_KEY}."
    with httpx.Client() as http, respx.mock(assert_all_called=False) as router:
        router.post(f"{OPENAI_BASE_URL}/chat/completions").mock(
            side_effect=[
                httpx.Response(500, json=openai_error(500)),
                httpx.Response(200, json=openai_completion()),
                httpx.Response(401, json=openai_error(401, message=echoed)),
            ]
        )
        router.post(f"{ANTHROPIC_BASE_URL}/v1/messages").mock(
            side_effect=[
                httpx.Response(529, json=anthropic_error(529)),
                httpx.Response(200, json=anthropic_message()),
                httpx.Response(401, json=anthropic_error(401, message=echoed)),
            ]
        )
        for provider in (
            OpenAIProvider(api_key=SENTINEL_KEY, http_client=http),
            AnthropicProvider(api_key=SENTINEL_KEY, http_client=http),
        ):
            llm = client(provider)
            llm.call(REQ)
            with pytest.raises(AuthenticationError):
                llm.call(LLMRequest(model="gpt-4o-mini", prompt="again"))
    text = "\n".join(logging.Formatter("%(name)s %(message)s %(args)s").format(r) for r in caplog.records)
    assert "llm.attempt_failed" in text and "HTTP Request" in text  # both loggers were heard
    assert SENTINEL_KEY not in text
    assert SENTINEL_KEY not in str(caplog.records)

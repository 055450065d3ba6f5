"""Every warning the client raises points at the caller's line (llm_client/_internal/caller.py).

So Python's default filter shows it once per calling line, not once per process, and a filter on the
caller's module matches it.
"""

from __future__ import annotations

import asyncio
import sys
import warnings
from pathlib import Path

import pytest

from llm_client import (
    AsyncLLMClient,
    CacheWarning,
    FakeProvider,
    LLMClient,
    LLMRequest,
    LLMResponse,
    MemoryCache,
    SQLiteCache,
    TruncatedAnswerWarning,
    arun_batch,
    run_batch,
)

pytestmark = pytest.mark.kit

REQ = LLMRequest(model="m", prompt="p")
HERE = str(Path(__file__).resolve())


class Cut(FakeProvider):
    """Answers every attempt with a text cut at the token limit."""

    def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        super().complete(req, timeout_s=timeout_s)
        return LLMResponse("Paris is", req.model, finish_reason="length")

    async def acomplete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
        return self.complete(req, timeout_s=timeout_s)


def _line() -> int:
    return sys._getframe(1).f_lineno


def test_a_truncated_answer_warns_from_the_line_that_called_the_client() -> None:
    client = LLMClient(Cut(), cache=MemoryCache(), key_fn=lambda r: r.prompt, sleep=lambda s: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _line() + 1
        client.call(REQ)
    [warning] = [w for w in caught if w.category is TruncatedAnswerWarning]
    assert (warning.filename, warning.lineno) == (HERE, line)


def test_a_truncated_structured_answer_warns_from_the_callers_line_too() -> None:
    from pydantic import BaseModel

    class City(BaseModel):
        name: str

    class CutJson(FakeProvider):
        def complete(self, req: LLMRequest, *, timeout_s: float) -> LLMResponse:
            return LLMResponse('{"name": "Paris"}', req.model, finish_reason="length")

    client = LLMClient(CutJson(), key_fn=lambda r: r.prompt, sleep=lambda s: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _line() + 1
        client.call_structured(REQ, City)
    assert [(w.filename, w.lineno) for w in caught if w.category is TruncatedAnswerWarning] == [(HERE, line)]


def test_the_async_client_warns_from_the_awaiting_line() -> None:
    client = AsyncLLMClient(Cut(), key_fn=lambda r: r.prompt, sleep=_no_sleep)
    lines: list[int] = []

    async def main() -> None:
        lines.append(_line() + 1)
        await client.call(REQ)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(main())
    assert [(w.filename, w.lineno) for w in caught if w.category is TruncatedAnswerWarning] == [(HERE, lines[0])]


async def _no_sleep(seconds: float) -> None:
    raise AssertionError("no retry expected")


def test_a_cache_that_cannot_be_read_warns_from_the_callers_line(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not an sqlite database" * 100)
    cache = SQLiteCache(path)
    client = LLMClient(FakeProvider(["fresh"]), cache=cache, key_fn=lambda r: r.prompt, sleep=lambda s: None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _line() + 1
        assert client.call(REQ) == "fresh"
    cache_warnings = [w for w in caught if w.category is CacheWarning]
    assert cache_warnings, "a corrupt cache file warns"
    assert {(w.filename, w.lineno) for w in cache_warnings} == {(HERE, line)}


def test_a_batch_on_threads_warns_from_the_line_that_called_run_batch() -> None:
    """Its calls run on a thread pool, whose stack starts in the standard library, not at the caller's line."""
    client = LLMClient(Cut(), key_fn=lambda r: r.prompt, sleep=lambda s: None)
    requests = [LLMRequest(model="m", prompt=f"p{i}") for i in range(6)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = _line() + 1
        results = run_batch(client, requests, concurrency=3, limiter=None, progress=False)
    assert results == ["Paris is"] * 6
    assert [(w.filename, w.lineno) for w in caught if w.category is TruncatedAnswerWarning] == [(HERE, line)] * 6


def test_a_batch_of_tasks_warns_from_the_line_that_awaited_arun_batch() -> None:
    client = AsyncLLMClient(Cut(), key_fn=lambda r: r.prompt, sleep=_no_sleep)
    requests = [LLMRequest(model="m", prompt=f"p{i}") for i in range(6)]
    lines: list[int] = []

    async def main() -> list[object]:
        lines.append(_line() + 1)
        return await arun_batch(client, requests, concurrency=3, limiter=None, progress=False)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        results = asyncio.run(main())
    assert results == ["Paris is"] * 6
    assert [(w.filename, w.lineno) for w in caught if w.category is TruncatedAnswerWarning] == [(HERE, lines[0])] * 6


def test_under_the_default_filter_a_batch_warns_once_from_its_line_and_a_module_filter_matches_it() -> None:
    client = LLMClient(Cut(), key_fn=lambda r: r.prompt, sleep=lambda s: None)
    requests = [LLMRequest(model="m", prompt=f"p{i}") for i in range(4)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("default")
        globals().pop("__warningregistry__", None)
        run_batch(client, requests, concurrency=2, limiter=None, progress=False)
    assert [w.category for w in caught] == [TruncatedAnswerWarning], "once for the line, not once per thread"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=TruncatedAnswerWarning, module=__name__)
        run_batch(client, requests, concurrency=2, limiter=None, progress=False)
    assert [w for w in caught if w.category is TruncatedAnswerWarning] == [], "a filter on the caller's module"

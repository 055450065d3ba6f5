"""No API key leaks: not in logs, reprs, exception messages, tracebacks, cache files or grader reports.

A sentinel key goes in; every text the kit produces on every path is searched
for it. The HTTP paths run against a real loopback server (so httpx's and
httpcore's own DEBUG logging runs too) that behaves as badly as a server can:
it echoes the credential it was sent in its error messages and bodies.
"""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from llm_client import (
    AnthropicProvider,
    AuthenticationError,
    CacheWarning,
    ConfigurationError,
    LLMClient,
    LLMConnectionError,
    LLMError,
    LLMRequest,
    LLMTimeoutError,
    MalformedResponseError,
    OpenAIProvider,
    RateLimitError,
    RetriesExhaustedError,
    ServerError,
    SQLiteCache,
    enable_logging,
)

pytestmark = pytest.mark.kit

SENTINEL = "sk-SENTINEL-do-not-leak-1234"
ROOT = Path(__file__).resolve().parents[2]
REQ = LLMRequest(model="test-model", prompt="Tell me a secret.", system_prompt="Be careful.")


def _leaks(text: str) -> bool:
    """True when ``text`` holds the key, whole or its distinctive middle."""
    return SENTINEL in text or "SENTINEL-do-not-leak" in text


# -- a loopback server that echoes the credential it receives -------------------------------


class _EchoingHandler(BaseHTTPRequestHandler):
    """Answers by the first path segment: /ok, /401, /429, /500, /529, /html, /error200, /hang."""

    protocol_version = "HTTP/1.1"
    release: threading.Event

    def log_message(self, format: str, *args: Any) -> None:  # the server stays quiet
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        credential = self.headers.get("authorization") or self.headers.get("x-api-key") or ""
        scenario = self.path.strip("/").split("/")[0]
        echoed = f"Incorrect API key provided: {credential}. You can find your key in your account."
        if scenario == "hang":
            self.release.wait(5.0)  # longer than the client's timeout; released at teardown
            return
        if scenario == "ok":
            anthropic = self.path.endswith("/v1/messages")
            body: Any = (
                {"content": [{"type": "text", "text": "a harmless answer"}], "stop_reason": "end_turn"}
                if anthropic
                else {"choices": [{"message": {"content": "a harmless answer"}, "finish_reason": "stop"}]}
            )
            self._send(200, json.dumps(body).encode(), "application/json")
        elif scenario == "html":
            self._send(200, f"<html><body>Proxy error for {credential}</body></html>".encode(), "text/html")
        elif scenario == "error200":
            self._send(200, json.dumps({"error": {"message": echoed}}).encode(), "application/json")
        else:
            extra = {"retry-after": "1"} if scenario == "429" else {}
            self._send(int(scenario), json.dumps({"error": {"message": echoed}}).encode(), "application/json", extra)

    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    release = threading.Event()
    handler = type("Handler", (_EchoingHandler,), {"release": release})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def closed_port() -> int:
    """A loopback port with nothing listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Capture(logging.Handler):
    """Keeps every record, formatted with its message, exception text and every attribute (extras included)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.__dict__))


@pytest.fixture
def debug_logs() -> Iterator[_Capture]:
    """Every logger at DEBUG (httpx's and httpcore's included), captured on the root logger."""
    capture = _Capture()
    root = logging.getLogger()
    names = ["httpx", "httpcore", "llm_client"]
    saved = {name: logging.getLogger(name).level for name in names}
    saved_root = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _chain(error: BaseException) -> list[BaseException]:
    """The error, its causes and contexts, and a wrapper's last_error."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [error]
    while todo:
        current = todo.pop()
        if current is None or any(current is s for s in seen):
            continue
        seen.append(current)
        todo += [current.__cause__, current.__context__, getattr(current, "last_error", None)]
    return seen


def _error_texts(error: BaseException) -> list[str]:
    texts = ["".join(traceback.format_exception(error))]
    for item in _chain(error):
        texts += [str(item), repr(item)]
        if isinstance(item, LLMError):
            texts.append(repr(vars(item)))
    return texts


# -- every HTTP path --------------------------------------------------------------------------


@dataclass(frozen=True)
class Path_:
    scenario: str
    error: type[LLMError] | None  # None: a success


PATHS = [
    Path_("ok", None),
    Path_("401", AuthenticationError),
    Path_("403", AuthenticationError),
    Path_("429", RetriesExhaustedError),
    Path_("500", RetriesExhaustedError),
    Path_("529", RetriesExhaustedError),
    Path_("html", RetriesExhaustedError),
    Path_("error200", RetriesExhaustedError),
    Path_("hang", RetriesExhaustedError),
    Path_("refused", RetriesExhaustedError),
]
LAST_ERROR = {
    "429": RateLimitError,
    "500": ServerError,
    "529": ServerError,
    "html": MalformedResponseError,
    "error200": MalformedResponseError,
    "hang": LLMTimeoutError,
    "refused": LLMConnectionError,
}


def _provider(kind: str, base_url: str) -> OpenAIProvider | AnthropicProvider:
    if kind == "anthropic":
        return AnthropicProvider(api_key=SENTINEL, base_url=base_url)
    return OpenAIProvider(api_key=SENTINEL, base_url=f"{base_url}/v1")


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
@pytest.mark.parametrize("path", PATHS, ids=[p.scenario for p in PATHS])
def test_no_path_writes_the_key_to_logs_reprs_errors_tracebacks_or_the_cache(
    kind: str, path: Path_, server: str, closed_port: int, debug_logs: _Capture, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{closed_port}" if path.scenario == "refused" else f"{server}/{path.scenario}"
    provider = _provider(kind, base)
    cache = SQLiteCache(tmp_path / "cache.db")
    stream = io.StringIO()
    handler = enable_logging(logging.DEBUG, stream=stream)
    try:
        client = LLMClient(
            provider,
            cache=cache,
            max_retries=1,
            timeout_s=0.2 if path.scenario != "hang" else 0.05,
            sleep=lambda seconds: None,
        )
        texts = [repr(provider), repr(client), repr(REQ), repr(cache), str(client)]
        error: LLMError | None = None
        try:
            texts.append(client.call(REQ))
        except LLMError as exc:
            error = exc
    finally:
        logging.getLogger("llm_client").removeHandler(handler)
        cache.close()

    if path.error is None:
        assert error is None
    else:
        assert type(error) is path.error, error
        if path.scenario in LAST_ERROR:
            assert isinstance(error, RetriesExhaustedError)
            assert type(error.last_error) is LAST_ERROR[path.scenario]
        texts += _error_texts(error)
    texts += [*debug_logs.texts, stream.getvalue()]
    assert any("httpx" in t or "httpcore" in t for t in debug_logs.texts), "httpx's own DEBUG logging did not run"
    leaked = [t for t in texts if _leaks(t)]
    assert leaked == [], f"the key leaked in: {leaked[0][:500]}"
    for file in tmp_path.iterdir():  # the database and its -wal/-shm companions
        assert SENTINEL.encode() not in file.read_bytes(), f"the key is in {file.name}"


def test_the_server_really_echoes_the_key(server: str) -> None:
    """Guards the test above: its server does send the key back, so redaction is what keeps it out."""
    import httpx

    response = httpx.post(f"{server}/401/chat", headers={"authorization": f"Bearer {SENTINEL}"}, json={}, timeout=2.0)
    assert SENTINEL in response.text


# -- configuration errors -------------------------------------------------------------------


def _missing_key_error(factory: Callable[[], object]) -> BaseException:
    provider = factory()
    client = LLMClient(provider, sleep=lambda seconds: None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as info:
        client.call(REQ)
    return info.value


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda: OpenAIProvider(api_key=SENTINEL + "\n\x00"), "a control character"),
        (lambda: OpenAIProvider(api_key=SENTINEL + " extra"), "an inner space"),
        (lambda: AnthropicProvider(api_key="\u00e9" + SENTINEL), "a non-ASCII character"),
    ],
    ids=["control-char", "inner-space", "non-ascii"],
)
def test_a_key_refused_for_its_characters_is_not_repeated(make: Callable[[], object], what: str) -> None:
    with pytest.raises(ValueError) as info:
        make()
    assert not any(_leaks(t) for t in _error_texts(info.value)), what


@pytest.mark.parametrize("env_var", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"])
def test_a_key_from_the_environment_with_bad_characters_is_refused_without_repeating_it(
    env_var: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env_var, SENTINEL + "\x7f")
    with pytest.raises(ValueError, match=env_var) as info:
        OpenAIProvider() if env_var == "OPENAI_API_KEY" else AnthropicProvider()
    assert not any(_leaks(t) for t in _error_texts(info.value))


@pytest.mark.parametrize("env_var", ["OPENAI_API_KEY", "ANTHROPIC_API_KEY"])
def test_a_key_from_the_environment_stays_out_of_reprs(env_var: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_var, SENTINEL)
    provider = OpenAIProvider() if env_var == "OPENAI_API_KEY" else AnthropicProvider()
    assert "api_key=<set>" in repr(provider)
    assert not _leaks(repr(provider)) and not _leaks(repr(LLMClient(provider)))


def test_a_missing_key_error_names_the_variable_and_nothing_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    error = _missing_key_error(lambda: OpenAIProvider())
    assert "OPENAI_API_KEY" in str(error)


def test_cache_warnings_do_not_carry_the_key(tmp_path: Path, server: str, debug_logs: _Capture) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    cache = SQLiteCache(blocker / "cache.db", timeout_s=0.05)
    client = LLMClient(_provider("openai", f"{server}/ok"), cache=cache, sleep=lambda seconds: None)
    with pytest.warns(CacheWarning) as caught:
        assert client.call(REQ) == "a harmless answer"
    assert not any(_leaks(str(w.message)) for w in caught)
    assert not any(_leaks(t) for t in debug_logs.texts)


# -- the grader's report --------------------------------------------------------------------


def _grade(tmp_path: Path, name: str, *, solutions: bool) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update({"OPENAI_API_KEY": SENTINEL, "ANTHROPIC_API_KEY": SENTINEL, "PYTHONDONTWRITEBYTECODE": "1"})
    args = [
        sys.executable,
        "-m",
        "pytest",
        "tests/grader",
        "-q",
        "-p",
        "no:randomly",
        "--grade-report",
        str(tmp_path / name),
    ]
    if solutions:
        args.append("--solutions")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.mark.skipif(not (ROOT / "tests" / "grader").is_dir(), reason="tests/grader (the grader) is not in this tree")
def test_grader_reports_and_output_never_hold_the_key(tmp_path: Path) -> None:
    """Graded with the keys in the environment: the reference (all pass) and the learner stubs (all fail)."""
    runs = {
        "reference": _grade(tmp_path, "reference.json", solutions=True),
        "learner": _grade(tmp_path, "learner.json", solutions=False),
    }
    for label, run in runs.items():
        output, _ = run.communicate(timeout=300)
        report_path = tmp_path / f"{label}.json"
        assert report_path.is_file(), f"{label}: no report written\n{output[-2000:]}"
        report = report_path.read_text()
        assert json.loads(report)["tests"], f"{label}: the report lists no tests"
        assert not _leaks(report), f"{label}: the key is in the grade report"
        assert not _leaks(output), f"{label}: the key is in the grader's output"
    reference = json.loads((tmp_path / "reference.json").read_text())
    assert all(test["status"] == "passed" for test in reference["tests"]), "the keys in the environment changed a grade"

"""An optional exercise never breaks a required path.

With every required exercise solved and every optional one left as its stub, every public function on the
required path works: here, the batch runners with their default limiter (the AdaptiveLimiter), against
providers that send rate-limit headers (OpenAI's, Anthropic's), none at all, and 429s. And no module outside an
optional exercise's own file uses what that exercise writes, except the module that is its product
(``_internal/rate_limiter.py``: RateLimiter is what exercise 7 builds).

The batches run in a fresh interpreter on a package generated with tools/generate_learner.py, on fake time:
the default limiter is made with AdaptiveLimiter's own defaults, which the program points at a fake clock.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.grader.catalog import load_catalog
from tools.generate_learner import SOLUTIONS_PACKAGE, generate_package

pytestmark = pytest.mark.kit

CATALOG = load_catalog()
REQUIRED = {ex.id for ex in CATALOG.values() if not ex.optional}
OPTIONAL = {ex.id for ex in CATALOG.values() if ex.optional}
#: The module of each optional exercise's file, e.g. "llm_client.limiter" for ex7.
OPTIONAL_MODULES = {
    file.removesuffix(".py").replace("/", "."): ex.id for ex in CATALOG.values() if ex.optional for file in ex.files
}
#: The modules (paths inside the package) that may use an optional exercise's module: its products.
PRODUCTS = {
    "llm_client.limiter": {"_internal/rate_limiter.py"},
    "llm_client.streaming": {"_internal/stream_path.py", "_internal/stream_http.py"},
}

PROGRAM = r'''
import asyncio, json, sys, threading

import llm_client
from llm_client import (
    AdaptiveLimiter, AsyncLLMClient, LLMClient, LLMRequest, LLMResponse, RateLimitError, TokenBucket,
    arun_batch, run_batch,
)


class FakeTime:
    """One clock for every thread and task, moved only by sleeps; who slept how long is kept."""

    def __init__(self):
        self.now = 0.0
        self.lock = threading.Lock()
        self.slept = {"limiter": [], "client": []}

    def clock(self):
        with self.lock:
            return self.now

    def sleeper(self, who):
        def sleep(seconds):
            assert seconds >= 0
            with self.lock:
                self.slept[who].append(seconds)
                self.now += seconds
        return sleep

    def async_sleeper(self, who):
        sleep = self.sleeper(who)

        async def async_sleep(seconds):
            sleep(seconds)
            await asyncio.sleep(0)
        return async_sleep


LIMIT, TOKEN_LIMIT = 5, 1000


class Provider:
    """Answers every request but the calls in ``fail`` (a 429 each, with its Retry-After), with ``dialect``'s headers.

    The headers say the requests allowance is nearly used up, so the limiter has to pace.
    """

    def __init__(self, dialect, fail):
        self.dialect, self.fail = dialect, fail
        self.lock = threading.Lock()
        self.calls = 0

    def _answer(self, req):
        with self.lock:
            self.calls += 1
            n = self.calls
        if n in self.fail:
            raise RateLimitError(retry_after=self.fail[n])
        return LLMResponse(text=f"answer to {req.prompt}", model=req.model, headers=self.headers(n))

    def headers(self, n):
        used = min(n, LIMIT)
        if self.dialect == "openai":
            return {
                "x-ratelimit-limit-requests": str(LIMIT),
                "x-ratelimit-remaining-requests": str(LIMIT - used),
                "x-ratelimit-reset-requests": f"{used * 200}ms",
                "x-ratelimit-limit-tokens": str(TOKEN_LIMIT),
                "x-ratelimit-remaining-tokens": str(TOKEN_LIMIT - 10 * used),
                "x-ratelimit-reset-tokens": f"{used * 600}ms",
            }
        if self.dialect == "anthropic":  # the first answer finds both buckets full
            reset = "2026-01-01T00:00:01Z"
            return {
                "anthropic-ratelimit-requests-limit": str(LIMIT),
                "anthropic-ratelimit-requests-remaining": str(LIMIT - used + 1),
                "anthropic-ratelimit-requests-reset": reset,
                "anthropic-ratelimit-input-tokens-limit": str(TOKEN_LIMIT),
                "anthropic-ratelimit-input-tokens-remaining": str(TOKEN_LIMIT - 10 * (used - 1)),
                "anthropic-ratelimit-input-tokens-reset": reset,
            }
        return {}

    def complete(self, req, *, timeout_s):
        return self._answer(req)

    async def acomplete(self, req, *, timeout_s):
        return self._answer(req)


def stub_raises():
    try:
        TokenBucket(1.0, 1.0).take(0.0)
    except NotImplementedError:
        return True
    return False


SCENARIOS = {
    "openai": {3: 0.5},  # the third call is a 429 that asks for half a second
    "anthropic": {2: None},  # a 429 without Retry-After
    "none": {2: None, 3: None},  # no headers: the limiter learns from the 429s alone
}
REQUESTS = [LLMRequest(model="m", prompt=f"question {n}") for n in range(12)]
outcome = {"package": llm_client.__file__, "stub_raises": stub_raises(), "runs": {}}
for mode in ("sync", "async"):
    for dialect, fail in SCENARIOS.items():
        time = FakeTime()
        AdaptiveLimiter.__init__.__kwdefaults__.update(
            clock=time.clock, sleep=time.sleeper("limiter"), async_sleep=time.async_sleeper("limiter")
        )
        provider = Provider(dialect, fail)
        if mode == "sync":
            client = LLMClient(provider, max_retries=3, sleep=time.sleeper("client"), clock=time.clock)
            results = run_batch(client, REQUESTS, concurrency=4, progress=False)
        else:
            client = AsyncLLMClient(provider, max_retries=3, sleep=time.async_sleeper("client"), clock=time.clock)
            results = asyncio.run(arun_batch(client, REQUESTS, concurrency=4, progress=False))
        outcome["runs"][f"{mode}:{dialect}"] = {
            "answered": [r == f"answer to {req.prompt}" for r, req in zip(results, REQUESTS)],
            "results": [str(r) for r in results],
            "calls": provider.calls,
            "limiter_waits": sum(1 for s in time.slept["limiter"] if s > 0),
        }
json.dump(outcome, sys.stdout)
'''


def _run_partly_solved(tmp_path: Path) -> dict[str, Any]:
    generate_package(tmp_path / "llm_client", keep=REQUIRED)
    program = tmp_path / "batches.py"
    program.write_text(PROGRAM, encoding="utf-8")
    env = {"PYTHONPATH": str(tmp_path), "PATH": "", "PYTHONDONTWRITEBYTECODE": "1"}
    if "SYSTEMROOT" in os.environ:  # Windows needs it to start an interpreter
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    done = subprocess.run(
        [sys.executable, str(program)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"the batches failed with {sorted(OPTIONAL)} unsolved:\n{done.stderr[-4000:]}"
    outcome: dict[str, Any] = json.loads(done.stdout)
    return outcome


def test_the_catalog_has_required_and_optional_exercises() -> None:
    assert REQUIRED and OPTIONAL, "this test is about optional exercises next to required ones"
    assert "llm_client.limiter" in OPTIONAL_MODULES, "exercise 7 (limiter.py) is optional"


def test_with_optional_exercises_unsolved_the_batch_runners_default_limiter_answers_every_request(
    tmp_path: Path,
) -> None:
    outcome = _run_partly_solved(tmp_path)
    assert Path(outcome["package"]).resolve().is_relative_to(tmp_path.resolve()), "the generated package ran"
    assert outcome["stub_raises"], "TokenBucket.take is the stub in the generated package"
    assert sorted(outcome["runs"]) == sorted(
        f"{m}:{d}" for m in ("sync", "async") for d in ("openai", "anthropic", "none")
    )
    for name, run in outcome["runs"].items():
        assert all(run["answered"]), f"{name}: {run['results']}"
        assert run["calls"] > len(run["answered"]), f"{name}: the 429s were retried"
        assert run["limiter_waits"] > 0, f"{name}: the default limiter paced the batch (on fake time)"


# -- no module uses an optional exercise's code, but its product --------------------------------


def _module_name(path: Path) -> str:
    rel = path.relative_to(SOLUTIONS_PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``import from`` names, relative ones included."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node that runs when the module is used: ``if TYPE_CHECKING:`` bodies are for type checkers only."""
    nodes: list[ast.AST] = []
    todo: list[ast.AST] = [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and _type_checking(node):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def _uses(path: Path, module: str, names: set[str]) -> list[str]:
    """How the module at ``path`` uses ``module`` or one of its ``names`` at run time: one line each."""
    me = _module_name(path)
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in _runtime_nodes(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            found += [(line, f"import {a.name}") for a in node.names if a.name == module]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(node, me, path.name == "__init__.py")
            package, _, leaf = module.rpartition(".")
            if source == module or (source == package and any(a.name in names | {leaf} for a in node.names)):
                found.append((line, f"from {source} import {', '.join(a.name for a in node.names)}"))
        elif isinstance(node, ast.Name) and node.id in names:
            found.append((line, node.id))
        elif isinstance(node, ast.Attribute) and node.attr in names:
            found.append((line, f".{node.attr}"))
    return [f"line {line}: {what}" for line, what in sorted(found)]


def _defined(path: Path) -> set[str]:
    """The names a module defines at its top level (its classes and functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))}


@pytest.mark.parametrize("module", sorted(OPTIONAL_MODULES))
def test_no_module_but_the_exercises_product_uses_an_optional_exercises_code(module: str) -> None:
    own = SOLUTIONS_PACKAGE.parent / (module.replace(".", "/") + ".py")
    names = _defined(own)
    assert "TokenBucket" in names or module != "llm_client.limiter"
    allowed = {own} | {SOLUTIONS_PACKAGE / rel for rel in PRODUCTS.get(module, set())}
    uses = {
        path.relative_to(SOLUTIONS_PACKAGE).as_posix(): found
        for path in sorted(SOLUTIONS_PACKAGE.rglob("*.py"))
        if path not in allowed and (found := _uses(path, module, names))
    }
    assert uses == {}, f"{module} ({OPTIONAL_MODULES[module]}, optional) is used outside it: {uses}"

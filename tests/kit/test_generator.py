"""The learner-package generator (tools/generate_learner.py) and the package it writes."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tools.generate_learner import (
    LEARNER_PACKAGE,
    SOLUTIONS_PACKAGE,
    MarkerError,
    build_package,
    check_package,
    generate_package,
    render,
)

ROOT = Path(__file__).resolve().parents[2]

CATALOG = load_catalog()
GENERATOR = [sys.executable, "-m", "tools", "generate"]

SAMPLE = textwrap.dedent(
    '''\
    import math


    class Thing:
        def area(self, r: float) -> float:
            """The area."""
            if r < 0:
                raise ValueError("r")
            # BEGIN SOLUTION ex3
            return math.pi * r * r
            # END SOLUTION


    def double(x: int) -> int:
        # BEGIN SOLUTION ex2
        return 2 * x
        # END SOLUTION
    '''
)


def test_learner_package_is_up_to_date_with_solutions() -> None:
    problems = check_package()
    assert not problems, "llm_client/ is stale; run: python -m tools generate\n" + "\n".join(problems)


def test_check_mode_exits_0_when_up_to_date_and_1_when_stale(tmp_path: Path) -> None:
    stale = tmp_path / "llm_client"
    generate_package(stale)
    check = [*GENERATOR, "--check", "--dest", str(stale)]
    ok = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    (stale / "backoff.py").write_text("# edited by hand\n", encoding="utf-8")
    (stale / "extra.py").write_text("", encoding="utf-8")
    bad = subprocess.run(check, cwd=ROOT, capture_output=True, text=True, check=False)
    assert bad.returncode == 1
    assert "out of date: llm_client/backoff.py" in bad.stderr
    assert "not in solutions/: llm_client/extra.py" in bad.stderr
    assert "run: python -m tools generate" in bad.stderr


def test_a_block_becomes_a_todo_and_a_raise_at_its_indentation() -> None:
    out = render(SAMPLE, path="sample.py", catalog=CATALOG)
    ex3 = CATALOG["ex3"]
    assert f"        # TODO(ex3): write Thing.area; {ex3.notebook} walks you through it." in out
    assert f'        raise NotImplementedError("ex3: Thing.area is not written yet (see {ex3.notebook})")' in out
    assert '    raise NotImplementedError("ex2: double is not written yet' in out
    assert "SOLUTION" not in out and "math.pi" not in out and "2 * x" not in out
    assert 'raise ValueError("r")' in out, "code outside the blocks is kept"
    assert "import math  # needed by ex3  # noqa: F401" in out, "an import only the answer used is kept, marked"
    ast.parse(out)


def test_keep_leaves_the_named_exercises_solved() -> None:
    out = render(SAMPLE, path="sample.py", catalog=CATALOG, keep={"ex3"})
    assert "return math.pi * r * r" in out and "SOLUTION" not in out
    assert "ex2: double is not written yet" in out
    assert "import math\n" in out, "no noqa mark when the import is still used"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("def f():\n    # BEGIN SOLUTION ex2\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    # END SOLUTION\n", "without a BEGIN"),
        ("def f():\n    # BEGIN SOLUTION ex2\n    # BEGIN SOLUTION ex3\n    # END SOLUTION\n", "inside the block"),
        ("def f():\n    # BEGIN SOLUTION ex99\n    return 1\n    # END SOLUTION\n", "'ex99', which is not in"),
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", "names no exercise"),
        ("def f():\n    # BEGIN SOLUTIONS ex2\n    return 1\n", "malformed"),
        ("# BEGIN SOLUTION ex2\nX = 1\n# END SOLUTION\n", "inside a function"),
    ],
)
def test_wrong_markers_are_refused_naming_the_file_and_line(source: str, message: str) -> None:
    with pytest.raises(MarkerError, match=message) as info:
        render(source, path="pkg/mod.py", catalog=CATALOG)
    assert str(info.value).startswith("pkg/mod.py:")


def test_check_reports_a_marker_error_in_solutions(tmp_path: Path) -> None:
    src = tmp_path / "llm_client"
    shutil.copytree(SOLUTIONS_PACKAGE, src, ignore=shutil.ignore_patterns("__pycache__"))
    backoff = src / "backoff.py"
    backoff.write_text(backoff.read_text(encoding="utf-8").replace("# END SOLUTION", "", 1), encoding="utf-8")
    problems = check_package(LEARNER_PACKAGE, src=src)
    assert len(problems) == 1 and "llm_client/backoff.py" in problems[0], problems


def test_every_exercise_block_is_stubbed_and_nothing_else_changes() -> None:
    solutions = build_package(keep=CATALOG)
    learner = build_package()
    assert solutions.keys() == learner.keys()
    for rel, data in learner.items():
        text = data.decode("utf-8") if rel.endswith(".py") else ""
        assert "SOLUTION" not in text, rel
        source = (SOLUTIONS_PACKAGE / rel).read_bytes()
        if b"# BEGIN SOLUTION" not in source:
            assert data == source, f"{rel} has no exercise but differs from solutions/"
    stubs = sum(d.count(b"raise NotImplementedError(") for d in learner.values())
    blocks = sum(p.read_text(encoding="utf-8").count("# BEGIN SOLUTION") for p in SOLUTIONS_PACKAGE.rglob("*.py"))
    assert stubs == blocks


def test_generated_package_passes_ruff(tmp_path: Path) -> None:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -r requirements-dev.txt)")
    for keep in (set(), {"ex3"}, {"ex5"}):
        dest = tmp_path / f"keep-{'-'.join(sorted(keep)) or 'none'}" / "llm_client"
        generate_package(dest, keep=keep)
        done = subprocess.run(
            [ruff, "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(dest)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr


_LEARNER_CHECK = r"""
import io, sys
from pathlib import Path
import llm_client
from llm_client import (FakeProvider, LLMClient, LLMRequest, MemoryCache, SQLiteCache, ServerError,
                        enable_logging, RateLimitError)
from llm_client.logs import log_event
assert Path(llm_client.__file__).parent == Path(sys.argv[1]), llm_client.__file__
req = LLMRequest(model="m", prompt="hello")
log = io.StringIO()
enable_logging(stream=log)
solved = set(sys.argv[3].split(",")) - {""}

def must_raise(fn, exercise):
    try:
        fn()
    except NotImplementedError as exc:
        assert str(exc).startswith(exercise + ":"), exc
        return
    raise AssertionError(f"expected the {exercise} stub to raise NotImplementedError")

# Outside the exercises everything works: the fake provider, both caches, logging.
for cache in (MemoryCache(), SQLiteCache(Path(sys.argv[2]) / "c.sqlite")):
    cache.set("k", "v")
    assert cache.get("k") == "v" and cache.get("other") is None
assert FakeProvider(["hi"]).complete(req, timeout_s=1.0).text == "hi"
log_event(20, "llm.probe", request_id="r")
assert "llm.probe" in log.getvalue()

sleeps, cache = [], MemoryCache()
if "ex1" not in solved:
    # The call path is exercise 1: its stub reaches the caller at once, nothing asked, stored or slept.
    provider = FakeProvider(["hi"])
    client = LLMClient(provider, cache=cache, key_fn=lambda r: r.prompt, sleep=sleeps.append)
    must_raise(lambda: client.call(req), "ex1")
    assert provider.call_count == 0 and len(cache) == 0 and sleeps == []
else:
    provider = FakeProvider(["hi"])
    client = LLMClient(provider, cache=cache, key_fn=lambda r: r.prompt, sleep=sleeps.append)
    assert client.call(req) == "hi" and client.call(req) == "hi" and provider.call_count == 1
    assert "llm.attempt_ok" in log.getvalue() and "llm.cache_hit" in log.getvalue()
    # A stub's NotImplementedError reaches the caller at once: never retried, never cached.
    cache = MemoryCache()
    provider = FakeProvider(["hi"])
    must_raise(lambda: LLMClient(provider, cache=cache, sleep=sleeps.append).call(req), "ex2")
    assert provider.call_count == 0 and len(cache) == 0 and sleeps == []
    # The default waits are exercises 3 and 4: a failed attempt meets the Retry-After decision (ex4) first.
    for failure in (ServerError("boom", status_code=500), RateLimitError(retry_after=1.0)):
        provider = FakeProvider([failure, "hi"])
        client = LLMClient(provider, cache=cache, key_fn=lambda r: r.prompt, sleep=sleeps.append, max_retries=3)
        must_raise(lambda: client.call(req), "ex4")
        assert provider.call_count == 1 and len(cache) == 0 and sleeps == [], (provider.call_count, len(cache), sleeps)
    # Given waits, the client retries without them.
    provider = FakeProvider([ServerError("boom", status_code=500), "hi"])
    client = LLMClient(provider, key_fn=lambda r: r.prompt, sleep=sleeps.append, waits=lambda e, a: 0.25)
    assert client.call(req) == "hi" and sleeps == [0.25]
    sleeps.clear()
    from llm_client import OpenAIProvider
    import httpx
    openai = OpenAIProvider(api_key="sk-x", base_url="http://127.0.0.1:9/v1", http_client=httpx.Client())
    client = LLMClient(openai, cache=cache, key_fn=lambda r: r.prompt, sleep=sleeps.append, max_retries=3)
    must_raise(lambda: client.call(req), "ex6")
    assert len(cache) == 0 and sleeps == []
print("learner package ok")
"""


@pytest.mark.parametrize("solved", [(), ("ex1",)])
def test_learner_package_works_outside_the_exercises_and_stubs_reach_the_caller(
    tmp_path: Path, solved: tuple[str, ...]
) -> None:
    package = LEARNER_PACKAGE
    if solved:
        package = tmp_path / "pkg" / "llm_client"
        generate_package(package, keep=set(solved))
    env = {"PATH": "", "PYTHONPATH": str(package.parent), "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [sys.executable, "-c", _LEARNER_CHECK, str(package), str(tmp_path), ",".join(solved)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and "learner package ok" in done.stdout, done.stdout + done.stderr

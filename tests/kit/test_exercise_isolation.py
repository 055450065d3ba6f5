"""One exercise, one fate: a file an exercise names that cannot be imported costs that exercise only.

``import llm_client`` loads no exercise's module, and neither does using a name that is not an
exercise's; each exercise's module is imported where it is called. So a copy of the reference whose
file for one exercise has a syntax error, or raises when imported, still earns full marks in every
other exercise when the whole grader runs on it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.grader.catalog import load_catalog
from tools.generate_learner import SOLUTIONS_PACKAGE
from tools.grading_runs import Grade, copy_package, grade_many

pytestmark = pytest.mark.kit

CATALOG = load_catalog()
POINTS = {ex.id: float(ex.points) for ex in CATALOG.values()}
#: Each learner file an exercise names, as a path inside the package, with its exercise.
EXERCISE_FILES = {file.removeprefix("llm_client/"): ex.id for ex in CATALOG.values() for file in ex.files}
BREAKAGES = {
    "syntax": "\ndef broken(:\n",
    "raise": '\nraise RuntimeError("this module fails when it is imported")\n',
}


def _module(file: str) -> str:
    return "llm_client." + file.removesuffix(".py").replace("/", ".")


def _loaded_after(statement: str) -> set[str]:
    """The llm_client modules a fresh interpreter has loaded after running ``statement``."""
    listing = "print(json.dumps(sorted(m for m in sys.modules if m.startswith('llm_client'))))"
    program = f"import sys, json\n{statement}\n{listing}"
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(SOLUTIONS_PACKAGE.parent), "PATH": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout))


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ("import llm_client", set()),
        ("from llm_client import LLMRequest, FakeProvider, MemoryCache, SQLiteCache, LLMError, enable_logging", set()),
        ("from llm_client import OpenAIProvider, AnthropicProvider, AdaptiveLimiter", {"llm_client.providers.http"}),
        ("from llm_client import LLMClient, AsyncLLMClient", {"llm_client.client"}),
        ("from llm_client import run_batch", {"llm_client.client"}),
    ],
)
def test_importing_the_package_loads_no_exercise_module_and_a_client_only_the_call_path(
    statement: str, allowed: set[str]
) -> None:
    loaded = _loaded_after(statement)
    exercise_modules = {_module(file) for file in EXERCISE_FILES}
    assert loaded & exercise_modules <= allowed, (
        f"{statement!r} loads exercise modules {sorted(loaded & exercise_modules - allowed)}"
    )


def test_each_exercise_name_loads_only_its_own_module() -> None:
    for name, file in [
        ("make_cache_key", "cache_key.py"),
        ("backoff_delay", "backoff.py"),
        ("parse_structured", "structured.py"),
    ]:
        loaded = _loaded_after(f"from llm_client import {name}")
        others = {_module(f) for f in EXERCISE_FILES if f != file}
        assert loaded & others == set(), f"{name} loads {sorted(loaded & others)}"


@pytest.fixture(scope="module")
def broken_grades(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Grade]:
    base = tmp_path_factory.mktemp("isolation")
    parents = {}
    for file in EXERCISE_FILES:
        for kind, tail in BREAKAGES.items():
            name = f"{kind}:{file}"
            parent = copy_package(SOLUTIONS_PACKAGE, base / name.replace("/", "_").replace(":", "-"))
            with open(parent / "llm_client" / file, "a", encoding="utf-8") as handle:
                handle.write(tail)
            parents[name] = parent
    return grade_many(parents)


@pytest.mark.parametrize("kind", sorted(BREAKAGES))
@pytest.mark.parametrize("file", sorted(EXERCISE_FILES))
def test_a_file_that_cannot_be_imported_costs_only_its_exercise(
    broken_grades: dict[str, Grade], file: str, kind: str
) -> None:
    grade = broken_grades[f"{kind}:{file}"]
    owner = EXERCISE_FILES[file]
    others = {ex: got for ex, got in grade.by_exercise.items() if ex != owner}
    assert others == {ex: points for ex, points in POINTS.items() if ex != owner}, grade.output[-3000:]
    assert grade.by_exercise.get(owner, 0.0) < POINTS[owner], f"{file} broken ({kind}) still earned all of {owner}"

"""The hidden tier grades by behaviour, the same every time, without importing the submission.

Each grading here is a real one (``tests.grader.launch.run_grading(..., hidden=True)``): the hidden tier alone,
in a pytest process whose children run the submission and the reference.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tools.generate_learner import LEARNER_PACKAGE, SOLUTIONS_PACKAGE, generate_package
from tools.grading_runs import Grade, copy_package, grade
from tools.mutants import MUTANTS, apply_mutant

pytestmark = pytest.mark.kit

CATALOG = load_catalog()
FULL = {ex.id: float(ex.points) for ex in CATALOG.values()}


def _hidden(parent: Path) -> Grade:
    return grade(parent, hidden=True, timeout_s=600.0)


def test_the_reference_gets_every_hidden_point_and_the_stubs_none(tmp_path: Path) -> None:
    reference = _hidden(copy_package(SOLUTIONS_PACKAGE, tmp_path / "reference"))
    stubs = _hidden(copy_package(LEARNER_PACKAGE, tmp_path / "stubs"))
    assert reference.by_exercise == FULL, reference.output[-3000:]
    assert stubs.by_exercise == dict.fromkeys(FULL, 0.0), stubs.output[-3000:]
    assert all(t["name"].split(":")[0].endswith("(hidden)") for t in reference.report["tests"])
    assert all(t.get("visibility") == "after_due_date" for t in reference.report["tests"])


def test_one_exercise_solved_earns_exactly_its_hidden_points(tmp_path: Path) -> None:
    generate_package(tmp_path / "only" / "llm_client", keep={"ex3"})
    got = _hidden(tmp_path / "only").by_exercise
    assert got == {ex: (points if ex == "ex3" else 0.0) for ex, points in FULL.items()}


def test_the_same_submission_gets_the_same_hidden_grade_twice(tmp_path: Path) -> None:
    parent = copy_package(SOLUTIONS_PACKAGE, tmp_path / "mutant")
    apply_mutant(next(m for m in MUTANTS if m.name == "retry_after_zero_is_falsy"), parent / "llm_client")
    first, second = _hidden(parent), _hidden(parent)
    outcome = [(t["name"], t["score"]) for t in first.report["tests"]]
    assert outcome == [(t["name"], t["score"]) for t in second.report["tests"]]
    assert first.by_exercise["ex4"] < FULL["ex4"]


def test_the_grading_process_never_imports_the_submitted_code(tmp_path: Path) -> None:
    """An exercise file that notes which process imported it is imported by the children only."""
    parent = copy_package(SOLUTIONS_PACKAGE, tmp_path / "noted")
    marker = tmp_path / "imported-by.jsonl"
    backoff = parent / "llm_client" / "backoff.py"
    note = (
        "import json as _json, os as _os, sys as _sys\n"
        f"with open({str(marker)!r}, 'a') as _f:\n"
        "    _f.write(_json.dumps({'pid': _os.getpid(), 'argv': _sys.argv}) + '\\n')\n"
    )
    backoff.write_text(backoff.read_text(encoding="utf-8") + "\n" + note, encoding="utf-8")
    os.chmod(tmp_path, 0o755)
    graded = _hidden(parent)
    assert graded.by_exercise["ex3"] == FULL["ex3"]
    importers = [json.loads(line) for line in marker.read_text(encoding="utf-8").splitlines()]
    assert importers, "the submission's exercise file was never run"
    assert all(Path(entry["argv"][0]).name == "child.py" for entry in importers), importers

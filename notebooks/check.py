"""Grade one exercise from a notebook.

    from check import check
    check("ex2")

runs the grader's tests for that exercise (the same tests as ``pytest -m ex2``
in a terminal at the repository root), prints the points table and returns the
points earned. An unsolved exercise simply earns no points: ``check`` never
raises because a test failed.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = ["check"]

#: The repository root: the folder that holds notebooks/, llm_client/ and tests/.
ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "tests" / "grader"

#: The longest a grading run may take, in seconds (a stuck exercise must not hang the notebook).
TIMEOUT_S = 300.0

_EXERCISE = re.compile(r"^ex[1-9]$")
# Terminal colour codes, which pytest may add to its output.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# The separator line the grader prints above its table: "===== grade =====".
_TABLE_HEADER = re.compile(r"^=+ grade =+$")
# pytest's closing summary line, e.g. "3 failed, 7 passed, 60 deselected in 0.41s".
_SUMMARY = re.compile(r"^=*\s*\d+ \w+.* in [\d.]+s\b")


def check(exercise: str, hint: int | None = None) -> int:
    """Run the grader for ``exercise`` ("ex1" .. "ex5", or "ex6"), print its table, return the points earned.

    Failing tests earn no points and are listed with what went wrong; nothing
    is raised for them. ``hint`` asks for that hint of the exercise (counted
    from 1) in place of the one the table shows by itself. Raises ValueError
    only when ``exercise`` is not an exercise id or ``hint`` not a positive int.
    """
    if not isinstance(exercise, str) or not _EXERCISE.match(exercise):
        raise ValueError(f'exercise must be an id like "ex2", got {exercise!r}')
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int) or hint < 1):
        raise ValueError(f"hint must be a hint number counted from 1, got {hint!r}")
    if not GRADER.is_dir():
        print(f"The grader is not in this copy of the course ({GRADER} is missing), so {exercise} cannot be graded.")
        return 0
    launch = _launcher()
    with tempfile.TemporaryDirectory(prefix="llm-course-check-") as tmp:
        run = launch.run_grading(
            launch.package_parent_from_pythonpath() or ROOT,
            report_path=Path(tmp) / "report.json",
            exercises=[exercise],
            timeout_s=TIMEOUT_S,
            extra_args=["-q", "--no-header", *(["--hint", str(hint)] if hint is not None else [])],
        )
    if run.timed_out:
        print(f"Grading {exercise} took longer than {TIMEOUT_S:.0f} s and was stopped.")
        print("Is something waiting for real (time.sleep, a network call) or looping forever?")
        return 0
    report = run.report
    if run.returncode == 5:
        print(f"The grader has no tests marked {exercise}.")
        return 0
    print(_table(run.output, report))
    if report is None:
        print(f"The grader could not run (pytest exit code {run.returncode}); its output is above.")
        return 0
    points, max_points = _exercise_points(report, exercise)
    print(f"\n{exercise}: {points}/{max_points} points")
    return points


def _launcher() -> ModuleType:
    """The grader's launcher (tests/grader/launch.py), loaded from its file: this folder is not a package."""
    name = "llm_course_grading_launch"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GRADER / "launch.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _exercise_points(report: dict[str, Any], exercise: str) -> tuple[int, int]:
    """Points earned and possible in ``exercise``, summed over its tests in the report.

    Summed per test rather than read from the report's totals, because an
    optional exercise's points are not part of the report's ``max_score``.
    """
    tests = [t for t in report.get("tests", []) if isinstance(t, dict) and str(t.get("name", "")).startswith(exercise)]
    if not tests:
        return _points(report.get("score")), _points(report.get("max_score"))
    earned = sum(float(t.get("score") or 0) for t in tests)
    possible = sum(float(t.get("max_score") or 0) for t in tests)
    return _points(earned), _points(possible)


def _points(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return round(value)


def _table(output: str, report: dict[str, Any] | None) -> str:
    """The grader's table: the lines after its "grade" header, without pytest's own summary line.

    Falls back to the table in the report, then to the last lines of the output.
    """
    lines = _ANSI.sub("", output).rstrip().splitlines()
    start = next((i for i, line in enumerate(lines) if _TABLE_HEADER.match(line.strip())), None)
    if start is not None:
        table = [line for line in lines[start + 1 :] if not _SUMMARY.match(line.strip())]
        return "\n".join(table).rstrip()
    if report is not None and isinstance(report.get("output"), str) and report["output"].strip():
        return str(report["output"]).rstrip()
    return "\n".join(lines[-25:])

"""Grade one exercise from a notebook.

    from check import check
    check("ex3")

runs the grader's tests for that exercise (the same tests as ``pytest -m ex3``
in a terminal at the repository root, through the grader's own launcher) and
prints that exercise's row of the points table, its hint, what each failing test
expected and what it got (or the file and line of an error that keeps the
exercise's tests from loading), and the next step; it returns the points earned.
An unsolved exercise simply earns no points: ``check`` never raises because a
test failed.
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


def check(exercise: str, hint: int | None = None) -> int:
    """Run the grader for ``exercise`` ("ex1" .. "ex6", or the optional "ex7" and "ex8"), print its table, return
    the points earned.

    Failing tests earn no points and are listed with what went wrong; nothing
    is raised for them. ``hint`` asks for that hint of the exercise (counted
    from 1) in place of the one the table shows by itself. Raises ValueError
    only when ``exercise`` is not an exercise id, or ``hint`` not a positive int
    or past the exercise's last hint (the message names the range, "1..3").
    """
    if not isinstance(exercise, str) or not _EXERCISE.match(exercise):
        raise ValueError(f'exercise must be an id like "ex3", got {exercise!r}')
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int) or hint < 1):
        raise ValueError(f"hint must be a hint number counted from 1, got {hint!r}")
    if not GRADER.is_dir():
        print(f"The grader is not in this copy of the course ({GRADER} is missing), so {exercise} cannot be graded.")
        return 0
    if hint is not None and (ROOT / "exercises.toml").is_file():
        info = _grader_module("catalog").load_catalog(ROOT / "exercises.toml").get(exercise)
        if info is not None and hint > len(info.hints):
            raise ValueError(f"hint {hint} is out of range: {exercise} has hints 1..{len(info.hints)}")
    launch = _launcher()
    with tempfile.TemporaryDirectory(prefix="llm-course-check-") as tmp:
        run = launch.run_grading(
            launch.package_parent_from_pythonpath() or ROOT,
            report_path=Path(tmp) / "report.json",
            exercises=[exercise],
            timeout_s=TIMEOUT_S,
            write_bytecode=True,  # as plain pytest does: the next check starts faster
            extra_args=["-q", "--no-header", *(["--hint", str(hint)] if hint is not None else [])],
        )
    if run.timed_out:
        print(f"Grading {exercise} took longer than {TIMEOUT_S:.0f} s and was stopped.")
        print("Is something waiting for real (time.sleep, a network call) or looping forever?")
        return 0
    if run.returncode == 5:
        print(f"The grader has no tests marked {exercise}.")
        return 0
    report = run.report
    if report is None:
        print(_table(run.output, None))
        print(f"The grader could not run (pytest exit code {run.returncode}); its output is above.")
        return 0
    points, max_points = _exercise_points(report, exercise)
    print(feedback(report, exercise, _next_step(exercise) if points == max_points else None))
    print(f"\n{exercise}: {points}/{max_points} points")
    return points


def feedback(report: dict[str, Any], exercise: str, following: str | None = None) -> str:
    """What check() prints for ``exercise`` from a grading report (results.json).

    The exercise's row of the grader's table and its hint, then each failing test with
    the first lines of its error (what was expected, what came), then the next step:
    running the check again, or ``following`` (where to go along the path) once it passes.
    """
    table = [line for line in str(report.get("output", "")).splitlines() if line.strip()]
    body = [line for line in table if not line.startswith(("total:", "next:", "more hints:"))]
    tips = [line for line in table if line.startswith("more hints:")]
    failures = _failures(report, exercise)
    lines = [*body, *failures]
    if following is None:
        if any(str(t.get("name", "")).endswith("could not be loaded") for t in _tests_of(report, exercise)):
            todo = "fix the error above"
        elif failures:
            todo = "fix the first failing test above"
        else:
            todo = "write the functions named above"
        lines.append(f'next: {todo}, then run check("{exercise}") again')
        lines += tips
    else:
        lines.append(f"next: {following}")
    return "\n".join(lines)


def _failures(report: dict[str, Any], exercise: str) -> list[str]:
    """Each failing test of ``exercise`` that ran, with its message indented under it."""
    lines = []
    for test in _tests_of(report, exercise):
        name, output = str(test.get("name", "")), str(test.get("output", ""))
        if test.get("status") == "passed" or " not started: " in output or name.endswith("could not be loaded"):
            continue
        message = output.split("\n\n", 1)[0].strip().splitlines() or ["(no message)"]
        lines.append(f"      x {name.removeprefix(f'{exercise}: ')}")
        lines += [f"          {line}" for line in message]
    return lines


def _tests_of(report: dict[str, Any], exercise: str) -> list[dict[str, Any]]:
    """The report's entries for ``exercise`` (their names begin with its id)."""
    tests = report.get("tests", [])
    return [t for t in tests if isinstance(t, dict) and str(t.get("name", "")).startswith(f"{exercise}: ")]


def _next_step(exercise: str) -> str:
    """Where to go once ``exercise`` passes: the notebook after its own, in path order (an exercise's id and
    title when that notebook has one), or word that the path is done."""
    catalog = _grader_module("catalog").load_catalog(ROOT / "exercises.toml")
    info = catalog.get(exercise)
    notebooks = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if info is None or info.notebook not in notebooks:
        return "run check() for the next exercise of your notebook"
    later = notebooks[notebooks.index(info.notebook) + 1 :]
    if not later:
        return "that was the last exercise of the course: every notebook is done"
    owner = next((ex for ex in catalog.values() if ex.notebook == later[0]), None)
    if owner is None:
        return f"open {later[0]} (no exercise to write there)"
    optional = " (optional)" if owner.optional else ""
    return f"{owner.id} {owner.title}{optional}: open {owner.notebook}"


def _launcher() -> ModuleType:
    """The grader's launcher (tests/grader/launch.py); watch mode grades through it too."""
    return _grader_module("launch")


def _table(output: str, report: dict[str, Any] | None) -> str:
    """The grader's whole table: from its report, else the last lines of its output."""
    if report is not None and isinstance(report.get("output"), str) and report["output"].strip():
        return str(report["output"]).rstrip()
    return "\n".join(_ANSI.sub("", output).rstrip().splitlines()[-25:])


def _grader_module(stem: str) -> ModuleType:
    """A module of the grader (tests/grader/STEM.py), loaded from its file: this folder is not a package."""
    name = f"llm_course_grader_{stem}"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, GRADER / f"{stem}.py")
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
    tests = _tests_of(report, exercise)
    if not tests:
        return _points(report.get("score")), _points(report.get("max_score"))
    earned = sum(float(t.get("score") or 0) for t in tests)
    possible = sum(float(t.get("max_score") or 0) for t in tests)
    return _points(earned), _points(possible)


def _points(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0
    return round(value)

"""Feedback that helps: ``check("exN")`` shows only that exercise, what each failing test expected and
what it got, the hint and the next step; an error that keeps an exercise's tests from loading is shown
with its file and line, in check() and in the grader's table."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tests.grader.grading import error_summary
from tests.grader.launch import run_grading
from tools.generate_learner import SOLUTIONS_PACKAGE
from tools.mutants import MUTANTS, apply_mutant

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
TIMEOUT_S = 120.0


def _package(parent: Path, *, mutant: str | None = None, append: str = "", to: str = "backoff.py") -> Path:
    """A copy of the reference in ``parent``, with a catalogued wrong answer or code appended to a file."""
    shutil.copytree(SOLUTIONS_PACKAGE, parent / "llm_client", ignore=shutil.ignore_patterns("__pycache__"))
    if mutant is not None:
        apply_mutant(next(m for m in MUTANTS if m.name == mutant), parent / "llm_client")
    if append:
        with open(parent / "llm_client" / to, "a", encoding="utf-8") as handle:
            handle.write("\n" + append + "\n")
    return parent


def _line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").splitlines().index(text) + 1


def _check(exercise: str, package_parent: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    program = f"from check import check; print('returned', check({exercise!r}))"
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_check_shows_each_failing_test_with_what_it_expected_and_got(tmp_path: Path) -> None:
    out = _check("ex3", _package(tmp_path, mutant="backoff_off_by_one"))
    rows = [line for line in out.splitlines() if re.match(r"^ex\d+ ", line)]
    assert len(rows) == 1 and rows[0].startswith("ex3 "), f"only ex3's row:\n{out}"
    assert "x test_default_schedule_doubles_from_half_a_second_up_to_8" in out
    assert "expected backoff_delay(0..6) to be [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0], got [1.0, 2.0," in out
    assert "hint: " in out
    assert 'next: fix the first failing test above, then run check("ex3") again' in out
    assert "total:" not in out and not re.search(r"\d+ (passed|failed).* in [\d.]+s", out), "no pytest summary"
    assert re.search(r"^ex3: [0-9]+/12 points$", out, re.MULTILINE) and "returned 12" not in out


def test_check_names_the_file_and_line_of_a_syntax_error(tmp_path: Path) -> None:
    parent = _package(tmp_path, append="def broken(:")
    line = _line_of(parent / "llm_client" / "backoff.py", "def broken(:")
    out = _check("ex3", parent)
    assert f"SyntaxError: invalid syntax in llm_client/backoff.py, line {line}: def broken(:" in out, out
    assert 'next: fix the error above, then run check("ex3") again' in out
    rows = [row for row in out.splitlines() if re.match(r"^ex\d+ ", row)]
    assert len(rows) == 1 and rows[0].startswith("ex3 "), "another exercise's broken file is not shown"


def test_the_grader_table_names_the_file_and_line_of_a_syntax_error(tmp_path: Path) -> None:
    parent = _package(tmp_path, append="def broken(:")
    line = _line_of(parent / "llm_client" / "backoff.py", "def broken(:")
    run = run_grading(parent, exercises=["ex3"], timeout_s=TIMEOUT_S)
    assert f"SyntaxError: invalid syntax in llm_client/backoff.py, line {line}: def broken(:" in run.output
    assert run.report is not None
    loaded = [t for t in run.report["tests"] if t["name"] == "ex3: the grader tests could not be loaded"]
    assert loaded and loaded[0]["output"].startswith("SyntaxError: invalid syntax in llm_client/backoff.py")


def test_the_grader_table_names_where_an_error_at_import_was_raised(tmp_path: Path) -> None:
    parent = _package(tmp_path, append="raise RuntimeError('broken at import')", to="retry_after.py")
    line = _line_of(parent / "llm_client" / "retry_after.py", "raise RuntimeError('broken at import')")
    run = run_grading(parent, exercises=["ex4"], timeout_s=TIMEOUT_S)
    where = f"RuntimeError: broken at import in llm_client/retry_after.py, line {line}:"
    assert where in run.output, run.output[-3000:]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'x.py:3: in <module>\n    import y\nE     File "/w/sub/llm_client/backoff.py", line 7\n'
            "E       def f(:\nE            ^\nE   SyntaxError: invalid syntax",
            "SyntaxError: invalid syntax in llm_client/backoff.py, line 7: def f(:",
        ),
        (
            "tests/grader/test_ex4.py:5: in <module>\n    from llm_client import x\n"
            "/w/llm_client/__init__.py:2: in <module>\n    from llm_client.retry_after import y\n"
            "/w/llm_client/retry_after.py:9: in <module>\n    raise KeyError('k')\nE   KeyError: 'k'",
            "KeyError: 'k' in llm_client/retry_after.py, line 9: raise KeyError('k')",
        ),
        ("E   ModuleNotFoundError: No module named 'respx'", "ModuleNotFoundError: No module named 'respx'"),
    ],
    ids=["syntax-error", "raised-at-import", "outside-the-package"],
)
def test_an_error_summary_names_the_deepest_place_in_the_learner_package(text: str, expected: str) -> None:
    assert error_summary(text) == expected


def test_an_endless_loop_in_plain_pytest_fails_only_its_test_after_the_per_test_limit(tmp_path: Path) -> None:
    parent = _package(tmp_path, append="def backoff_delay(*args, **kwargs):\n    while True:\n        pass")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(parent)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/grader", "-m", "ex3", "-q",
         "-k", "test_negative_attempt_is_refused or test_jitter_stays_between_0_and_the_delay"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
    )  # fmt: skip
    out = done.stdout
    assert "Failed: Timeout (>5.0s) from pytest-timeout" in out, out[-3000:]
    assert "llm_client/backoff.py" in out and "while True:" in out, "the traceback shows where it looped"
    assert re.search(r"\b1 failed, 1 passed\b", out), out[-1500:]


def _check_module() -> object:
    sys.path.insert(0, str(ROOT / "notebooks"))
    try:
        import check

        return check
    finally:
        sys.path.remove(str(ROOT / "notebooks"))


def test_the_next_step_after_a_passed_exercise_follows_the_notebooks_in_path_order() -> None:
    check = _check_module()
    steps = {ex: check._next_step(ex) for ex in CATALOG}  # type: ignore[attr-defined]
    assert steps["ex1"] == f"ex2 {CATALOG['ex2'].title}: open {CATALOG['ex2'].notebook}"
    # after the last required exercise comes the notebook without an exercise, not the optional one
    assert steps["ex6"] == "open notebooks/07_putting_it_together.ipynb (no exercise to write there)"
    last = max(CATALOG.values(), key=lambda ex: ex.notebook)
    later = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    later = [nb for nb in later if nb > last.notebook]
    assert steps[last.id] == (
        f"open {later[0]} (no exercise to write there)"
        if later
        else "that was the last exercise of the course: every notebook is done"
    )
    assert all("then run check" not in step for step in steps.values())

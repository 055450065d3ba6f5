"""The instructor tools are one command, ``python -m tools COMMAND``, and none of them edits sys.path."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from tools.__main__ import COMMANDS, main
from tools.dev_check import problems
from tools.generate_learner import SOLUTIONS_PACKAGE, generate_package
from tools.mutants import ALTERNATIVES, MUTANTS

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {"generate", "check", "release", "classroom", "gradescope", "mutants", "grade-class"}


def _tools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tools", *args], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )


def test_help_lists_every_command_and_each_is_a_module_with_a_main() -> None:
    done = _tools("--help")
    assert done.returncode == 0, done.stderr
    assert set(COMMANDS) == EXPECTED
    for name, (module, _) in COMMANDS.items():
        assert f"  {name} " in done.stdout, f"{name} missing from --help"
        assert callable(importlib.import_module(module).main), module


@pytest.mark.parametrize("command", sorted(EXPECTED))
def test_each_command_answers_help_under_its_own_name(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: python -m tools {command}" in capsys.readouterr().out


def test_an_unknown_command_is_refused_with_the_list_of_commands() -> None:
    done = _tools("build")
    assert done.returncode == 2
    assert "unknown command 'build'" in done.stderr and "grade-class" in done.stderr


def _edits_sys_path(tree: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "path":
            if isinstance(node.value, ast.Name) and node.value.id == "sys":
                return True
    return False


def test_no_tool_or_grader_module_touches_sys_path_or_runs_as_a_script_of_its_own() -> None:
    scripts = []
    for path in sorted([*(ROOT / "tools").rglob("*.py"), *(ROOT / "tests" / "grader").glob("*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        assert not _edits_sys_path(tree), f"{path.relative_to(ROOT)} uses sys.path"
        if "__name__" in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}:
            scripts.append(path.relative_to(ROOT).as_posix())
    # The launcher, the sealed child the autograders start, Gradescope's parent program and the tools' entry point.
    assert scripts == [
        "tests/grader/launch.py",
        "tests/grader/sealed.py",
        "tools/__main__.py",
        "tools/platforms/gradescope/grade_submission.py",
    ], "one way to run each tool: python -m tools"


def test_check_reports_a_stale_learner_package_without_grading(tmp_path: Path) -> None:
    learner = tmp_path / "llm_client"
    generate_package(learner)
    (learner / "backoff.py").write_text("# edited by hand\n", encoding="utf-8")
    found = problems(learner=learner, solutions=SOLUTIONS_PACKAGE)
    assert found == ["out of date: llm_client/backoff.py", "run: python -m tools generate"]


def test_mutants_grades_each_wrong_answer_of_an_exercise_and_says_it_is_caught() -> None:
    done = _tools("mutants", "--exercise", "ex7")
    assert done.returncode == 0, done.stdout + done.stderr
    names = [m.name for m in (*MUTANTS, *ALTERNATIVES) if m.exercise == "ex7"]
    lines = done.stdout.splitlines()
    for name in names:
        assert any(line.startswith(f"ex7 {name}: ") and ("caught" in line or "kept" in line) for line in lines), name
    assert lines[-1] == f"{len(names)} of {len(names)} as expected"

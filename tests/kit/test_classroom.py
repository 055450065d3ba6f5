"""GitHub Classroom: the workflow's step commands, run as the command grader runs them, grade honestly.

Classroom grades the public tier, in the learner's repository. The workflow installs the grader's
packages from the pinned list written into it, and each step runs the grader from a fresh copy taken
from the commit, outside the repository. A step passes only when the report the grader sealed,
written outside the repository, says every test of its exercise passed; a test that runs too long
fails alone; a step the command grader stops (SIGTERM when its timeout passes) leaves no process behind.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
from pathlib import Path

import yaml

from tests.grader.catalog import load_catalog
from tests.kit.platform_runs import (
    add_files,
    classroom_step,
    classroom_steps,
    command_grader_env,
    commit_all,
    make_repository,
    step_command,
)
from tools.build_classroom import STEP_TIMEOUT_MIN, TEMPLATES, WORKFLOW, build, pinned_requirements
from tools.build_classroom import step_command as workflow_step_command
from tools.generate_learner import generate_package
from tools.release import release

CATALOG = load_catalog()
REQUIRED = [ex for ex in CATALOG.values() if not ex.optional]


def test_each_required_exercise_is_one_step_running_a_fresh_copy_of_the_sealed_grader() -> None:
    assert WORKFLOW.read_text(encoding="utf-8") == build(), "run: python -m tools classroom"
    steps = classroom_steps()
    assert list(steps) == [ex.id for ex in REQUIRED]
    for ex in REQUIRED:
        inputs = steps[ex.id]
        command = inputs["command"]
        assert command == workflow_step_command(ex.id)
        assert 'git archive "${{ github.sha }}"' in command and '"${{ runner.temp }}/grader-XXXXXX"' in command
        assert command.endswith(f'exec python -I -B "$g/tests/grader/sealed.py" step {ex.id} --repository .')
        assert int(inputs["max-score"]) == ex.points and int(inputs["timeout"]) == STEP_TIMEOUT_MIN
    assert all((TEMPLATES / name).is_file() for name in ("workflow.yml", "step.yml", "reporter_env.yml"))


def test_the_grader_packages_are_installed_from_the_list_in_the_workflow_itself() -> None:
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["run-autograding-tests"]["steps"]
    installs = [step["run"] for step in steps if "pip" in str(step.get("run", ""))]
    assert len(installs) == 1
    words = installs[0].split()
    assert words[:7] == ["python", "-I", "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
    assert words[7:] == pinned_requirements() and all("==" in pin for pin in words[7:])
    assert "requirements" not in installs[0], "no file of the repository names what is installed"


def _listing(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if ".git" not in p.relative_to(folder).parts}


def test_only_the_solved_exercise_passes_and_the_repository_is_left_as_it_was(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "repo", keep={"ex3"})
    before = _listing(repo)
    results = {ex.id: classroom_step(repo, ex.id) for ex in REQUIRED}
    assert {ex for ex, result in results.items() if result.passed} == {"ex3"}, results["ex3"].output[-3000:]
    assert "ex3: 12 of 12 points (verified)" in results["ex3"].output
    assert "ex2: 0 of 13 points (verified)" in results["ex2"].output
    assert _listing(repo) == before, "the report, caches and bytecode go outside the repository"


def test_one_test_that_never_ends_fails_alone_and_the_step_ends(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "repo", keep={"ex3"})
    loop = """+
_backoff_delay = backoff_delay


def backoff_delay(attempt, *args, **kwargs):
    while attempt > 1000:
        pass
    return _backoff_delay(attempt, *args, **kwargs)
"""
    add_files(repo, {"llm_client/backoff.py": loop})
    result = classroom_step(repo, "ex3")
    assert not result.passed and not result.timed_out, result.output[-3000:]
    assert "Timeout" in result.output
    earned = next(line for line in result.output.splitlines() if line.startswith("ex3: ") and "verified" in line)
    assert 0 < float(earned.split()[1]) < CATALOG["ex3"].points, earned


def _ended(pid: int, timeout_s: float) -> bool:
    """Whether process ``pid`` ends (or has ended) within ``timeout_s`` seconds; watched through a pidfd."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], timeout_s)[0])
    finally:
        os.close(fd)


def test_a_step_stopped_by_the_command_grader_leaves_no_process_behind(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "repo", keep={"ex3"})
    fifo = tmp_path / "pids"
    os.mkfifo(fifo)
    hang = f"""+
import os as _os
import subprocess as _subprocess

_sleeper = _subprocess.Popen(["sleep", "600"])
with open({str(fifo)!r}, "w") as _handle:
    _handle.write(f"{{_os.getpid()}} {{_sleeper.pid}}")
while True:
    pass
"""
    add_files(repo, {"llm_client/__init__.py": hang})
    command = step_command("ex3", repo, tmp_path / "runner-temp")
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    shell = subprocess.Popen(["/bin/sh", "-c", command], cwd=repo, env=command_grader_env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    started: list[int] = []
    try:
        assert select.select([reader], [], [], 120)[0], "the submission's code never ran"
        started = [int(pid) for pid in os.read(reader, 100).split()]
        assert len(started) == 2 and not any(_ended(pid, 0) for pid in started)
        shell.send_signal(signal.SIGTERM)  # what the command grader does when the step's timeout passes
        assert shell.wait(timeout=60) != 0
        assert all(_ended(pid, 30) for pid in started), "the grader and what it started must be gone"
    finally:
        os.close(reader)
        if shell.poll() is None:
            shell.kill()
        for pid in started:
            if not _ended(pid, 0):
                os.kill(pid, signal.SIGKILL)


def test_a_syntax_error_in_the_optional_exercise_fails_no_required_step(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_repository(repo, keep={ex.id for ex in CATALOG.values()})
    optional = next(ex for ex in CATALOG.values() if ex.optional)
    add_files(repo, {optional.files[0]: "+def broken(:\n"})
    failed = {ex.id: result.output for ex in REQUIRED if not (result := classroom_step(repo, ex.id)).passed}
    assert not failed, failed


def test_the_learner_copy_grades_with_its_own_workflow_steps(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    release(copy)
    commit_all(copy)  # what the template repository's first commit holds
    assert classroom_step(copy, "ex3").score == 0, "the copy's stubs earn nothing"
    shutil.rmtree(copy / "llm_client")
    generate_package(copy / "llm_client", keep={"ex3"})
    commit_all(copy)
    solved = classroom_step(copy, "ex3")
    assert solved.score == CATALOG["ex3"].points, solved.output[-3000:]

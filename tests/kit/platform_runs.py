"""Run the real platform entry points as the platforms run them: a Classroom step, Gradescope's run_autograder.

- ``classroom_step``: the step's ``command`` from .github/workflows/classroom.yml, its
  ``${{ runner.temp }}`` and ``${{ github.sha }}`` filled in as GitHub Actions fills them (a runner's
  temporary folder, the commit checked out), run as classroom-resources/autograding-command-grader runs
  it (``/bin/sh -c`` with only PATH, HOME, FORCE_COLOR and the DOTNET_* variables; on timeout SIGTERM to
  that shell; pass = exit status 0). ``make_repository`` makes a git repository with one commit, as
  actions/checkout leaves it.
- ``install_gradescope`` / ``run_autograder``: the autograder zip laid out as Gradescope lays it
  out (``source/``, ``run_autograder`` at the root, ``submission/``), then run_autograder.
- ``python_for(user)``: an interpreter ``user`` can execute, with the kit's packages (the kit's
  own virtual environment may sit in a folder only root can enter).
- ``dedicated_users(n)``: that many unprivileged users made for a test and removed after (root only),
  so ending every process of one never touches another test's.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.grader.catalog import ROOT
from tools.autograding import GRADER_REQUIREMENTS, grader_files
from tools.generate_learner import generate_package

WORKFLOW = ROOT / ".github" / "workflows" / "classroom.yml"

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
UNPRIVILEGED = "nobody"


def make_repository(dest: Path, keep: set[str], *, commit: bool = True) -> Path:
    """A learner repository at ``dest``: the grader, the catalog and llm_client/ with the ``keep`` exercises solved;
    committed (a git repository with one commit, as a Classroom step finds it) unless ``commit`` is False."""
    for rel in grader_files(ROOT):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, dest / rel)
    generate_package(dest / "llm_client", keep=keep)
    if commit:
        commit_all(dest)
    return dest


def commit_all(repo: Path, message: str = "work") -> str:
    """Commit everything in ``repo`` (made a git repository if it is not one); return the commit."""
    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-c", "user.name=learner", "-c", "user.email=learner@example.invalid",
             "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
            cwd=repo, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return done.stdout.strip()

    if not (repo / ".git").exists():
        git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "--allow-empty", "-m", message)
    return git("rev-parse", "HEAD")


def add_files(dest: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative path: text) under ``dest``; a text starting with '+' is appended."""
    for rel, text in files.items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("+"):
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("\n" + text[1:])
        else:
            path.write_text(text, encoding="utf-8")


# -- GitHub Classroom ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    passed: bool
    returncode: int
    output: str
    timed_out: bool
    max_score: int

    @property
    def score(self) -> int:
        return self.max_score if self.passed else 0


def classroom_steps() -> dict[str, dict[str, Any]]:
    """The command-grader steps of the committed workflow, by step id, with their ``with:`` inputs."""
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = workflow["jobs"]["run-autograding-tests"]["steps"]
    return {
        step["id"]: step["with"]
        for step in steps
        if str(step.get("uses", "")).startswith("classroom-resources/autograding-command-grader")
    }


def command_grader_env(python: str = sys.executable) -> dict[str, str]:
    """The command grader's environment: the runner's PATH (with setup-python's python first) and HOME."""
    path = os.pathsep.join([str(Path(python).parent), os.environ.get("PATH", "/usr/bin:/bin")])
    return {"PATH": path, "FORCE_COLOR": "true", "DOTNET_CLI_HOME": "/tmp", "DOTNET_NOLOGO": "true",
            "HOME": os.environ.get("HOME", "/tmp")}  # fmt: skip


def actions_expressions(text: str, repo: Path, runner_temp: Path) -> str:
    """``text`` with the expressions GitHub Actions fills in a step's inputs: ``runner.temp``, ``github.sha``."""
    values = {"runner.temp": str(runner_temp), "github.sha": commit_of(repo)}

    def value(match: re.Match[str]) -> str:
        return values[match[1]]

    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", value, text)


def commit_of(repo: Path) -> str:
    """The commit checked out in ``repo`` (what ``github.sha`` is)."""
    done = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, timeout=60, check=True
    )
    return done.stdout.strip()


def step_command(exercise: str, repo: Path, runner_temp: Path) -> str:
    """The shell command of the workflow's step for ``exercise``, as GitHub Actions hands it to the command grader."""
    runner_temp.mkdir(parents=True, exist_ok=True)
    return actions_expressions(str(classroom_steps()[exercise]["command"]), repo, runner_temp)


def classroom_step(
    repo: Path, exercise: str, *, timeout_s: float | None = None, python: str = sys.executable
) -> StepResult:
    """Run the workflow's step for ``exercise`` in ``repo`` as the command grader does (``python`` is the one
    setup-python put first on PATH); the runner's temporary folder is ``repo``'s sibling ``runner-temp``."""
    inputs = classroom_steps()[exercise]
    limit = float(inputs.get("timeout", 10)) * 60 if timeout_s is None else timeout_s
    command = step_command(exercise, repo, repo.parent / "runner-temp")
    shell = subprocess.Popen(
        ["/bin/sh", "-c", command], cwd=repo, env=command_grader_env(python),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    timed_out = False
    try:
        output, _ = shell.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        shell.send_signal(signal.SIGTERM)  # what execSync does when its timeout passes
        output, _ = shell.communicate(timeout=60)
    return StepResult(shell.returncode == 0 and not timed_out, shell.returncode, output, timed_out,
                      int(inputs.get("max-score", 0)))  # fmt: skip


# -- Gradescope ----------------------------------------------------------------------------------


def _system_python() -> str | None:
    """An interpreter of this Python version outside any private folder, or None."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for folder in ("/usr/bin", "/usr/local/bin"):
        candidate = Path(folder) / name
        if candidate.is_file() and candidate.resolve().stat().st_mode & 0o001:
            return str(candidate)
    return None


def _grader_distributions() -> list[str]:
    """The distributions pinned in requirements-grader.txt: everything a grading run imports."""
    lines = (ROOT / GRADER_REQUIREMENTS).read_text(encoding="utf-8").splitlines()
    return [line.split("==", 1)[0].strip() for line in lines if "==" in line and not line.lstrip().startswith("#")]


def _copy_distribution(name: str, site: Path) -> None:
    """Copy the installed files of distribution ``name`` (those inside site-packages) into ``site``."""
    dist = importlib.metadata.distribution(name)
    for entry in dist.files or []:
        relative = Path(str(entry))
        source = Path(str(dist.locate_file(entry)))
        if relative.parts[:1] == ("..",) or not source.is_file():
            continue  # scripts in bin/, and files already removed
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@contextmanager
def python_for(user: str) -> Iterator[str | None]:
    """An interpreter ``user`` can run, seeing the kit's installed packages; None when there is none."""
    system = _system_python()
    if system is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="grader-python-"))
    try:
        folder.chmod(0o755)
        subprocess.run([system, "-m", "venv", "--without-pip", str(folder / "venv")], check=True, timeout=120)
        site = next((folder / "venv" / "lib").glob("python3*/site-packages"))
        # Copies, not a .pth to the kit's site-packages: the kit may sit in a folder only root can enter.
        for name in _grader_distributions():
            _copy_distribution(name, site)
        for path in [folder, *folder.rglob("*")]:
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
        python = str(folder / "venv" / "bin" / "python")
        yield python if can_run_as(user, python) else None
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def dedicated_users(count: int, prefix: str = "llmkit") -> Iterator[list[str]]:
    """``count`` unprivileged users (no home, no login, a group each) made for the caller and removed after,
    with every process they still have; needs root."""
    names = [f"{prefix}{os.getpid() % 100000}x{n}" for n in range(count)]
    made: list[str] = []
    try:
        for name in names:
            subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin",
                            name], check=True, capture_output=True, timeout=60)  # fmt: skip
            made.append(name)
        yield names
    finally:
        from tests.grader.launch import account, end_processes_of

        for name in made:
            end_processes_of(account(name))
            subprocess.run(["userdel", name], capture_output=True, timeout=60, check=False)
            subprocess.run(["groupdel", name], capture_output=True, timeout=60, check=False)


def can_run_as(user: str, python: str) -> bool:
    """Whether ``user`` can import pytest with ``python`` (False when not root)."""
    if not IS_ROOT:
        return False
    account = pwd.getpwnam(user)
    done = subprocess.run(
        ["setpriv", f"--reuid={account.pw_uid}", f"--regid={account.pw_gid}", "--clear-groups", "--",
         python, "-c", "import pytest, pytest_timeout"],
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    return done.returncode == 0


def install_gradescope(zip_path: Path, root: Path) -> Path:
    """Lay the zip out as Gradescope does: its contents in source/, run_autograder at the root."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, stat.S_IMODE(mode))
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def run_autograder(
    root: Path, python: str, *, user: str | None = None, extra_env: dict[str, str] | None = None, timeout_s: float = 330
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """Run ``root/run_autograder``; return the run and results.json."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_PYTHON": python, "HOME": str(root), **(extra_env or {})}  # fmt: skip
    if user is not None:
        env["AUTOGRADER_USER"] = user
    done = subprocess.run(
        [str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=timeout_s,
        check=False,
    )  # fmt: skip
    results = root / "results" / "results.json"
    assert results.is_file(), done.stdout + done.stderr
    return done, json.loads(results.read_text(encoding="utf-8"))


def score_by_exercise(results: dict[str, Any]) -> dict[str, float]:
    """Points per exercise id in a results.json whose test names begin with the id."""
    scores: dict[str, float] = {}
    for test in results.get("tests", []):
        ex = str(test["name"]).split(":", 1)[0]
        scores[ex] = scores.get(ex, 0.0) + float(test.get("score", 0.0))
    return scores

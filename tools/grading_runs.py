"""Grade an llm_client package in a subprocess and read its score: the kit's way to test the grader.

``grade(package_parent)`` runs ``python -m pytest tests/grader`` with
``PYTHONPATH=package_parent`` (so the package in ``package_parent/llm_client``
is the one graded, whatever else is installed) and returns the scores from
the ``--grade-report`` JSON.

``grade_many`` runs many gradings in parallel. Where the OS can fork, it
starts one worker process (this module, run as a script) that imports pytest,
pydantic, httpx and respx once and forks a child per grading, so each grading
costs its tests rather than a Python start-up; elsewhere it starts one
subprocess per grading. Either way every grading is a process of its own
that imports the package under test afresh.

Pytest's plugin auto-loading is switched off in these runs: the grader needs
none of the installed plugins, and loading them costs more than the tests.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GRADER = ROOT / "tests" / "grader"
PACKAGE = "llm_client"


@dataclass(frozen=True)
class Grade:
    """The outcome of one grader run."""

    returncode: int
    output: str
    report: dict[str, Any]
    by_exercise: dict[str, float] = field(default_factory=dict)
    max_by_exercise: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return float(self.report.get("score", 0.0))

    @property
    def max_score(self) -> float:
        return float(self.report.get("max_score", 0.0))


def grader_env(package_parent: Path) -> dict[str, str]:
    """The environment of a grader subprocess that must import ``package_parent/llm_client``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_", "COVERAGE_"))}
    env["PYTHONPATH"] = str(package_parent)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("OPENAI_API_KEY", None)
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def parse_report(report: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, float]]:
    """Score and possible points per exercise id, from a results.json whose test names begin with the id."""
    earned: dict[str, float] = {}
    possible: dict[str, float] = {}
    for test in report.get("tests", []):
        ex = str(test["name"]).split(":", 1)[0].split()[0]
        earned[ex] = earned.get(ex, 0.0) + float(test["score"])
        possible[ex] = possible.get(ex, 0.0) + float(test["max_score"])
    return earned, possible


def _pytest_args(root: Path, report_path: Path, args: Iterable[str]) -> list[str]:
    return [
        str(root / "tests" / "grader"),
        "-q",
        "-p",
        "no:cacheprovider",
        "--grade-report",
        str(report_path),
        *args,
    ]


def _read_grade(returncode: int, output: str, report_path: Path) -> Grade:
    if not report_path.is_file():
        raise RuntimeError(f"the grader wrote no report (exit {returncode}):\n{output[-4000:]}")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    earned, possible = parse_report(report)
    return Grade(returncode, output, report, earned, possible)


def grade(
    package_parent: Path,
    *,
    args: Iterable[str] = (),
    root: Path = ROOT,
    timeout_s: float = 300.0,
) -> Grade:
    """Run the grader of ``root`` on ``package_parent/llm_client``; return its report and output."""
    if not (package_parent / PACKAGE / "__init__.py").is_file():
        raise FileNotFoundError(f"no {PACKAGE} package in {package_parent}")
    with tempfile.TemporaryDirectory(prefix="grade-report-") as tmp:
        report_path = Path(tmp) / "results.json"
        done = subprocess.run(
            [sys.executable, "-m", "pytest", *_pytest_args(root, report_path, args)],
            cwd=root,
            env=grader_env(package_parent),
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        return _read_grade(done.returncode, done.stdout + done.stderr, report_path)


def copy_package(src: Path, dest_parent: Path) -> Path:
    """Copy the package directory ``src`` to ``dest_parent/llm_client`` (no caches); return ``dest_parent``."""
    shutil.copytree(src, dest_parent / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest_parent


def grade_many(
    package_parents: Mapping[str, Path],
    *,
    args: Mapping[str, Iterable[str]] | None = None,
    workers: int | None = None,
    root: Path = ROOT,
    timeout_s: float = 600.0,
) -> dict[str, Grade]:
    """Grade several packages at once; results by the same names.

    ``args`` gives extra pytest arguments per name (``["-m", "ex2"]`` grades one exercise).
    """
    extra = {name: list(extra_args) for name, extra_args in (args or {}).items()}
    workers = workers or max(2, os.cpu_count() or 2)
    for parent in package_parents.values():
        if not (parent / PACKAGE / "__init__.py").is_file():
            raise FileNotFoundError(f"no {PACKAGE} package in {parent}")
    if not hasattr(os, "fork"):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                name: pool.submit(grade, parent, args=extra.get(name, ()), root=root)
                for name, parent in package_parents.items()
            }
            return {name: future.result() for name, future in futures.items()}
    with tempfile.TemporaryDirectory(prefix="grade-many-") as tmp:
        jobs: list[dict[str, Any]] = [
            {
                "name": name,
                "package_parent": str(parent),
                "pytest_args": _pytest_args(root, Path(tmp) / f"{index}.json", extra.get(name, ())),
                "report": str(Path(tmp) / f"{index}.json"),
                "output": str(Path(tmp) / f"{index}.txt"),
            }
            for index, (name, parent) in enumerate(package_parents.items())
        ]
        env = grader_env(Path(tmp))
        done = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--workers", str(workers), "--root", str(root)],
            input=json.dumps(jobs),
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the grading worker failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
        codes = json.loads(done.stdout)
        grades = {}
        for job in jobs:
            output = Path(job["output"]).read_text(encoding="utf-8", errors="replace")
            grades[job["name"]] = _read_grade(codes[job["name"]], output, Path(job["report"]))
        return grades


def _run_forked(job: dict[str, Any], root: Path) -> int:
    """Fork a child that runs the grader for ``job`` with its output in ``job['output']``; return its pid."""
    pid = os.fork()
    if pid:
        return pid
    code = 70
    try:
        import pytest

        fd = os.open(job["output"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.environ["PYTHONPATH"] = job["package_parent"]
        os.chdir(root)
        code = int(pytest.main(job["pytest_args"]))
    except BaseException:  # the child must never return into the worker's loop
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _serve(argv: list[str]) -> int:
    """The worker: read jobs (JSON) from stdin, run them in forked children, print exit codes by name."""
    import argparse

    parser = argparse.ArgumentParser(description="run grader jobs in forked children")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--root", type=Path, default=ROOT)
    options = parser.parse_args(argv)
    jobs: list[dict[str, Any]] = json.load(sys.stdin)
    # What every grading imports, loaded once here and shared by the children.
    import httpx  # noqa: F401
    import pydantic  # noqa: F401
    import pytest  # noqa: F401
    import respx  # noqa: F401
    from _pytest import config, main, python, terminal  # noqa: F401

    sys.path.insert(0, "")  # as ``python -m pytest`` would have it
    pending = list(jobs)
    running: dict[int, str] = {}
    codes: dict[str, int] = {}
    while pending or running:
        while pending and len(running) < options.workers:
            job = pending.pop(0)
            running[_run_forked(job, options.root.resolve())] = job["name"]
        pid, status = os.wait()
        if pid in running:
            codes[running.pop(pid)] = os.waitstatus_to_exitcode(status)
    print(json.dumps(codes))
    return 0


if __name__ == "__main__":
    sys.exit(_serve(sys.argv[1:]))

"""Grade llm_client packages with the real grader and read their scores: the kit's way to test the grader.

``grade(package_parent)`` grades ``package_parent/llm_client`` in a process of its
own through the grader's launcher (``tests.grader.launch.run_grading``: the same
environment rules as every other grading run) and returns its report and output.
``grade_many`` runs many gradings at once, with a bound on how many run together.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.grader.catalog import ROOT
from tests.grader.launch import PACKAGE, GradingRun, points_by_exercise, run_grading


@dataclass(frozen=True)
class Grade:
    """The outcome of one grader run that wrote its report."""

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


def _grade_of(run: GradingRun) -> Grade:
    if run.report is None or run.returncode is None:
        state = "timed out" if run.timed_out else f"exit {run.returncode}"
        raise RuntimeError(f"the grader wrote no report ({state}):\n{run.output[-4000:]}")
    points = points_by_exercise(run.report)
    earned = {ex: got for ex, (got, _) in points.items()}
    possible = {ex: most for ex, (_, most) in points.items()}
    return Grade(run.returncode, run.output, run.report, earned, possible)


def _exercises_and_rest(args: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split ``-m exN`` (one exercise) off pytest arguments; the launcher takes exercises by id."""
    rest = list(args)
    if len(rest) >= 2 and rest[0] == "-m" and " " not in rest[1]:
        return [rest[1]], rest[2:]
    return [], rest


def grade(
    package_parent: Path,
    *,
    args: Iterable[str] = (),
    root: Path = ROOT,
    timeout_s: float = 300.0,
    hidden: bool = False,
) -> Grade:
    """Run the grader of ``root`` on ``package_parent/llm_client``; return its report and output.

    ``args`` are extra pytest arguments; ``["-m", "ex3"]`` grades one exercise; ``hidden``
    grades with the hidden tier instead of the public one.
    Raises RuntimeError when the run wrote no report.
    """
    if not (package_parent / PACKAGE / "__init__.py").is_file():
        raise FileNotFoundError(f"no {PACKAGE} package in {package_parent}")
    exercises, rest = _exercises_and_rest(args)
    with tempfile.TemporaryDirectory(prefix="grade-report-") as tmp:
        run = run_grading(
            package_parent,
            report_path=Path(tmp) / "results.json",
            exercises=exercises,
            timeout_s=timeout_s,
            root=root,
            extra_args=["-q", *rest],
            hidden=hidden,
        )
    return _grade_of(run)


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
    timeout_s: float = 300.0,
    hidden: bool = False,
) -> dict[str, Grade]:
    """Grade several packages at once, at most ``workers`` together; results by the same names.

    ``args`` gives extra pytest arguments per name (``["-m", "ex3"]`` grades one exercise);
    ``timeout_s`` bounds each grading, in seconds.
    """
    extra = {name: list(extra_args) for name, extra_args in (args or {}).items()}
    for parent in package_parents.values():
        if not (parent / PACKAGE / "__init__.py").is_file():
            raise FileNotFoundError(f"no {PACKAGE} package in {parent}")
    with ThreadPoolExecutor(max_workers=workers or max(2, os.cpu_count() or 2)) as pool:
        futures = {
            name: pool.submit(
                grade, parent, args=extra.get(name, ()), root=root, timeout_s=timeout_s, hidden=hidden
            )
            for name, parent in package_parents.items()
        }
        return {name: future.result() for name, future in futures.items()}

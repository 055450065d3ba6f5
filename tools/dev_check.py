"""``python -m tools check``: the kit's exercises are sound, as rustlings' ``dev check`` checks its own.

- ``llm_client/`` is freshly generated from ``solutions/`` (its markers are right);
- the reference passes every grader test: every exercise earns all its points;
- every untouched stub fails: every exercise of the learner package earns 0;
- a package with only exercise N solved earns exactly N's points, for every N
  (no exercise's tests need another exercise's answer).

Exit status 0 when all of it holds, 1 otherwise, with one line per problem.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.grader.catalog import ROOT, load_catalog
from tools.generate_learner import LEARNER_PACKAGE, SOLUTIONS_PACKAGE, check_package, generate_package
from tools.grading_runs import Grade, copy_package, grade_many


def problems(
    *,
    root: Path = ROOT,
    solutions: Path = SOLUTIONS_PACKAGE,
    learner: Path = LEARNER_PACKAGE,
    workers: int | None = None,
    hidden: bool = False,
) -> list[str]:
    """Everything that keeps the exercises of ``solutions`` and ``learner`` from being sound (empty when they are).

    A stale ``learner`` package is reported without grading anything.
    """
    found = check_package(learner, src=solutions)
    if found:
        return [*found, "run: python -m tools generate"]
    catalog = load_catalog(root / "exercises.toml")
    full = {ex.id: float(ex.points) for ex in catalog.values()}
    with tempfile.TemporaryDirectory(prefix="tools-check-") as tmp:
        base = Path(tmp)
        parents = {
            "reference": copy_package(solutions, base / "reference"),
            "stubs": copy_package(learner, base / "stubs"),
        }
        for ex in catalog:
            generate_package(base / f"only-{ex}" / "llm_client", keep={ex}, src=solutions)
            parents[f"only-{ex}"] = base / f"only-{ex}"
        grades = grade_many(parents, workers=workers, root=root, hidden=hidden)
    expected = {
        "reference": full,
        "stubs": dict.fromkeys(full, 0.0),
        **{f"only-{ex}": {e: (p if e == ex else 0.0) for e, p in full.items()} for ex in catalog},
    }
    found = []
    for name, want in expected.items():
        got = grades[name].by_exercise
        for ex, points in want.items():
            if got.get(ex) != points:
                found.append(f"{name}: {ex} earned {got.get(ex, 0.0):g}, expected {points:g}")
    return found + _failing_reference_tests(grades["reference"])


def _failing_reference_tests(reference: Grade) -> list[str]:
    return [f"reference fails {t['name']}" for t in reference.report.get("tests", []) if t.get("status") != "passed"]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools check", description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=None, help="gradings at once (default: the CPU count)")
    parser.add_argument("--hidden", action="store_true", help="check the hidden tier instead of the public one")
    args = parser.parse_args(argv)
    found = problems(workers=args.jobs, hidden=args.hidden)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        return 1
    print("every stub fails, every solution passes, and each exercise is graded on its own")
    return 0

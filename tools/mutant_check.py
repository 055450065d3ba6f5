"""``python -m tools mutants``: grade every catalogued wrong answer, and every right answer written another way.

Each mutant of ``tools/mutants.py`` replaces one solution block in a fresh copy of the
reference, and its exercise is graded (``-m exN``): a wrong answer must lose points there
("caught"), a right answer written another way (``ALTERNATIVES``) must keep them all. Prints
one line per mutant, and says so when one does not apply (its block is gone); exit status 0
when every wrong answer is caught and every right one kept.
``--hidden`` grades with the hidden tier (tests/hidden/) instead of the public one.
``tests/kit/test_grader_validity.py`` proves the same, and that nothing is lost elsewhere.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from tests.grader.catalog import ROOT, load_catalog
from tools.generate_learner import SOLUTIONS_PACKAGE
from tools.grading_runs import copy_package, grade_many
from tools.mutants import ALTERNATIVES, MUTANTS, Mutant, MutantError, apply_mutant


def verdicts(
    exercises: Sequence[str] = (), *, root: Path = ROOT, workers: int | None = None, hidden: bool = False
) -> list[tuple[str, bool]]:
    """One (line, ok) per mutant of ``exercises`` (all when empty), wrong answers first; graded by the hidden
    tier when ``hidden``."""
    full = {ex.id: float(ex.points) for ex in load_catalog(root / "exercises.toml").values()}
    chosen = [m for m in (*MUTANTS, *ALTERNATIVES) if not exercises or m.exercise in exercises]
    lines: dict[str, tuple[str, bool]] = {}
    with tempfile.TemporaryDirectory(prefix="tools-mutants-") as tmp:
        parents: dict[str, Path] = {}
        for mutant in chosen:
            parent = copy_package(SOLUTIONS_PACKAGE, Path(tmp) / mutant.name)
            try:
                apply_mutant(mutant, parent / "llm_client")
            except MutantError as exc:
                lines[mutant.name] = (f"{mutant.name}: does not apply: {exc}", False)
                continue
            parents[mutant.name] = parent
        grades = grade_many(
            parents, args={n: ["-m", m.exercise] for n, m in _by_name(chosen).items()}, workers=workers, hidden=hidden
        )
    for mutant in chosen:
        if mutant.name in lines:
            continue
        got = grades[mutant.name].by_exercise.get(mutant.exercise, 0.0)
        most = full[mutant.exercise]
        right = mutant in ALTERNATIVES
        ok = got == most if right else got < most
        state = ("kept full marks" if ok else "LOST POINTS") if right else ("caught" if ok else "NOT CAUGHT")
        lines[mutant.name] = (f"{mutant.exercise} {mutant.name}: {got:g}/{most:g} {state} ({mutant.why})", ok)
    return [lines[m.name] for m in chosen]


def _by_name(mutants: Sequence[Mutant]) -> dict[str, Mutant]:
    return {m.name: m for m in mutants}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools mutants", description=__doc__.split("\n\n")[0])
    parser.add_argument("--exercise", "-m", action="append", default=[], help="only this exercise (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, help="gradings at once (default: the CPU count)")
    parser.add_argument("--hidden", action="store_true", help="grade with the hidden tier instead of the public one")
    args = parser.parse_args(argv)
    unknown = set(args.exercise) - set(load_catalog())
    if unknown:
        print(f"--exercise: no such exercise {sorted(unknown)}", file=sys.stderr)
        return 2
    results = verdicts(args.exercise, workers=args.jobs, hidden=args.hidden)
    for line, _ in results:
        print(line)
    failed = sum(not ok for _, ok in results)
    print(f"{len(results) - failed} of {len(results)} as expected")
    return 1 if failed else 0

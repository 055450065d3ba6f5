"""Grade a whole class: one results.json per learner and a grades.csv, each submission graded in isolation.

    python -m tools grade-class SUBMISSIONS --out RESULTS [--jobs 2] [--test-timeout 10] [--timeout 300]

``SUBMISSIONS`` holds one entry per learner, named after the learner: a folder or a
``.zip``. A submission is either a repository (or any tree) with an ``llm_client/``
package somewhere inside (the shallowest one is graded), or loose ``.py`` files that
are laid over the learner stubs by file name (``backoff.py`` replaces
``llm_client/backoff.py``; names that are not stub files are ignored).

Each learner is graded in a temporary folder of its own holding a copy of the grader
and of the submitted package, by a process of its own (``tests.grader.launch``), with
``--jobs`` gradings at once, each test bounded by ``--test-timeout`` seconds and each
run by ``--timeout`` seconds. When a run ends without a report (an endless loop or
``os._exit`` at import, a crash), each exercise is graded again in a process of its
own, so a broken file costs only the exercises that need it. The points written are
recomputed from the report's tests and capped at each exercise's points.

``RESULTS/<learner>/results.json`` is the learner's report (Gradescope's format) and
``RESULTS/<learner>/output.txt`` the end of the grader's output;
``RESULTS/grades.csv`` has one row per learner: points per exercise, the total
(optional exercises included, as extra credit) and a note.

What this cannot prevent: a submission runs as the instructor's user, so code that
means harm can read or change anything that user can (other learners' temporary
copies included). Grade untrusted code in a container or as an unprivileged user.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from tests.grader.catalog import ROOT, Exercise, load_catalog
from tests.grader.launch import PACKAGE, GradingRun, points_by_exercise, run_grading
from tools.autograding import grader_files

#: Limits on an unpacked zip: total bytes and number of files.
ZIP_MAX_BYTES = 100 * 1024 * 1024
ZIP_MAX_FILES = 5_000
DEFAULT_JOBS = 2
DEFAULT_TEST_TIMEOUT_S = 10.0
DEFAULT_TIMEOUT_S = 300.0
#: The address space one grading may use, in bytes: output printed without end cannot exhaust memory.
MEMORY_LIMIT_BYTES = 4 * 1024**3
_IGNORED_PARTS = {"__MACOSX", "__pycache__", ".git"}


class SubmissionError(ValueError):
    """A submission that cannot be graded (no package, a bad zip)."""


@dataclass(frozen=True)
class LearnerGrade:
    """One learner's row of grades.csv: points earned per exercise id, their total, and a note."""

    learner: str
    points: dict[str, float]
    note: str = ""

    @property
    def total(self) -> float:
        return sum(self.points.values())


def find_submissions(folder: Path) -> dict[str, Path]:
    """The submissions in ``folder`` by learner name (a folder's name, or a zip's name without .zip)."""
    if not folder.is_dir():
        raise NotADirectoryError(f"submissions: {folder} is not a folder")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in _IGNORED_PARTS:
            continue
        if entry.is_dir() or (entry.is_file() and entry.suffix.lower() == ".zip"):
            name = re.sub(r"[^\w.@+-]+", "_", entry.stem if entry.is_file() else entry.name)
            while name in found:
                name += "_"
            found[name] = entry
    return found


def unpack(source: Path, dest: Path) -> Path:
    """Copy a submission folder, or safely extract a zip, to ``dest``; return ``dest``.

    A zip member with an absolute path or ``..``, a symbolic link, or a zip over the size or
    file-count limits raises SubmissionError.
    """
    if source.is_dir():
        shutil.copytree(source, dest, symlinks=True, ignore=shutil.ignore_patterns(*_IGNORED_PARTS, "*.pyc"))
        return dest
    try:
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > ZIP_MAX_FILES or sum(m.file_size for m in members) > ZIP_MAX_BYTES:
                raise SubmissionError(f"{source.name}: over {ZIP_MAX_FILES} files or {ZIP_MAX_BYTES} bytes unpacked")
            dest.mkdir(parents=True)
            for member in members:
                path = PurePosixPath(member.filename.replace("\\", "/"))
                if path.is_absolute() or ".." in path.parts or (member.external_attr >> 16) & 0o170000 == 0o120000:
                    raise SubmissionError(f"{source.name}: refused member {member.filename!r}")
                if _IGNORED_PARTS.intersection(path.parts):
                    continue
                target = dest.joinpath(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{source.name}: not a readable zip ({exc})") from exc
    return dest


def _package_in(tree: Path) -> Path | None:
    """The shallowest ``llm_client/`` package in ``tree``, or None."""
    found = [
        init.parent
        for init in tree.rglob(f"{PACKAGE}/__init__.py")
        if not _IGNORED_PARTS.intersection(init.relative_to(tree).parts) and not init.is_symlink()
    ]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def assemble(tree: Path, work: Path, *, root: Path = ROOT) -> str:
    """Lay out ``work`` for grading: the grader of ``root`` and the package found in ``tree``.

    Returns a note for grades.csv (empty when the submission held a package). Loose ``.py``
    files are laid over the stubs of ``root/llm_client`` by file name; a name that matches
    more than one stub file (``__init__.py``) or none is ignored.
    """
    for rel in grader_files(root):
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, work / rel)
    package = _package_in(tree)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    if package is not None:
        shutil.copytree(package, work / PACKAGE, symlinks=True, ignore=ignore)
        return ""
    shutil.copytree(root / PACKAGE, work / PACKAGE, ignore=ignore)
    stubs: dict[str, list[Path]] = {}
    for stub in (work / PACKAGE).rglob("*.py"):
        stubs.setdefault(stub.name, []).append(stub)
    laid = []
    for loose in sorted(p for p in tree.rglob("*.py") if not _IGNORED_PARTS.intersection(p.relative_to(tree).parts)):
        targets = stubs.get(loose.name, [])
        if len(targets) == 1 and loose.is_file() and not loose.is_symlink():
            shutil.copyfile(loose, targets[0])
            laid.append(loose.name)
    if not laid:
        raise SubmissionError(f"no {PACKAGE}/ package and no .py file named like a stub file")
    return "loose files: " + ", ".join(laid)


def merged_report(runs: dict[str, GradingRun], catalog: dict[str, Exercise]) -> dict[str, Any]:
    """One results.json from per-exercise runs; an exercise whose run left no report scores 0."""
    tests: list[dict[str, Any]] = []
    for ex, run in runs.items():
        own = [t for t in (run.report or {}).get("tests", []) if str(t.get("name", "")).startswith(f"{ex}:")]
        if own:
            tests += own
            continue
        why = "did not finish in time" if run.timed_out else f"ended without a report (exit {run.returncode})"
        tests.append(
            {
                "name": f"{ex}: the grading run {why}",
                "score": 0.0,
                "max_score": float(catalog[ex].points),
                "status": "failed",
                "output": run.output[-4000:],
            }
        )
    return {
        "score": sum(float(t.get("score") or 0.0) for t in tests),
        "max_score": float(sum(ex.points for ex in catalog.values() if not ex.optional)),
        "output": "graded one exercise per process",
        "tests": tests,
    }


def capped_points(report: dict[str, Any], catalog: dict[str, Exercise]) -> dict[str, float]:
    """Points per catalog exercise from the report's tests, each between 0 and the exercise's points."""
    found = points_by_exercise(report)
    return {ex: min(max(found.get(ex, (0.0, 0.0))[0], 0.0), float(info.points)) for ex, info in catalog.items()}


@dataclass(frozen=True)
class Prepared:
    """A submission laid out for grading in ``work`` (None when it cannot be graded), with its note."""

    learner: str
    work: Path | None
    note: str


def prepare(learner: str, source: Path, scratch: Path, *, root: Path = ROOT) -> Prepared:
    """Unpack ``source`` into a new folder under ``scratch`` and lay out the grader and the package there."""
    folder = Path(tempfile.mkdtemp(prefix="learner-", dir=scratch))
    try:
        note = assemble(unpack(source, folder / "submission"), folder / "work", root=root)
    except SubmissionError as exc:
        return Prepared(learner, None, str(exc))
    shutil.rmtree(folder / "submission", ignore_errors=True)
    return Prepared(learner, folder / "work", note)


def grade_prepared(
    prepared: Prepared,
    out: Path,
    *,
    catalog: dict[str, Exercise],
    timeout_s: float = DEFAULT_TIMEOUT_S,
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
) -> LearnerGrade:
    """Grade one prepared submission in processes of its own; write ``out/<learner>/``; return its row."""
    target = out / prepared.learner
    target.mkdir(parents=True, exist_ok=True)
    work, note = prepared.work, prepared.note
    if work is None:
        report = merged_report({}, catalog)
        report.update(output=note, tests=[])
        (target / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return LearnerGrade(prepared.learner, dict.fromkeys(catalog, 0.0), note)

    def run(exercises: Sequence[str]) -> GradingRun:
        try:
            return run_grading(
                work,
                root=work,
                exercises=exercises,
                timeout_s=timeout_s,
                test_timeout_s=test_timeout_s,
                extra_args=["-q"],
                memory_limit_bytes=MEMORY_LIMIT_BYTES,
            )
        except OSError as exc:  # the submission removed its own copy of the package or of the grader
            return GradingRun(None, f"the grading run could not start: {exc}", None)

    whole = run(())
    if whole.report is not None and not whole.timed_out:
        report, output = whole.report, whole.output
    else:
        runs = {ex: run([ex]) for ex in catalog}
        report = merged_report(runs, catalog)
        output = "\n".join(f"===== {ex} =====\n{r.output[-20_000:]}" for ex, r in runs.items())
        ended = "timed out" if whole.timed_out else f"ended without a report (exit {whole.returncode})"
        note = "; ".join(filter(None, [note, f"graded one exercise per process: the whole run {ended}"]))
    (target / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (target / "output.txt").write_text(output, encoding="utf-8", errors="replace")
    return LearnerGrade(prepared.learner, capped_points(report, catalog), note)


def grade_class(
    submissions: Path,
    out: Path,
    *,
    jobs: int = DEFAULT_JOBS,
    root: Path = ROOT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
) -> list[LearnerGrade]:
    """Grade every submission in ``submissions``, ``jobs`` at once; write ``out``; return the rows by learner.

    Every submission is unpacked before any is graded, so a submission that deletes files
    cannot take another's away.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    catalog = load_catalog(root / "exercises.toml")
    found = find_submissions(submissions)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="grade-class-", ignore_cleanup_errors=True) as scratch:
        prepared = [prepare(learner, source, Path(scratch), root=root) for learner, source in found.items()]
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [
                pool.submit(
                    grade_prepared, one, out, catalog=catalog, timeout_s=timeout_s, test_timeout_s=test_timeout_s
                )
                for one in prepared
            ]
            rows = [future.result() for future in futures]
    write_csv(rows, out / "grades.csv", list(catalog))
    return rows


def write_csv(rows: Sequence[LearnerGrade], path: Path, exercises: Sequence[str]) -> None:
    """grades.csv: learner, one column of points per exercise, total, note."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", *exercises, "total", "note"])
        for row in rows:
            writer.writerow(
                [row.learner, *(f"{row.points.get(ex, 0.0):g}" for ex in exercises), f"{row.total:g}", row.note]
            )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools grade-class", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder with one folder or .zip per learner")
    parser.add_argument("--out", type=Path, required=True, help="where results.json per learner and grades.csv go")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"gradings at once (default {DEFAULT_JOBS})")
    parser.add_argument("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT_S, help="seconds per test")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per grading run")
    args = parser.parse_args(argv)
    try:
        rows = grade_class(
            args.submissions.resolve(),
            args.out.resolve(),
            jobs=args.jobs,
            timeout_s=args.timeout,
            test_timeout_s=args.test_timeout,
        )
    except (ValueError, NotADirectoryError) as exc:
        print(f"grade-class: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        print(f"{row.learner}: {row.total:g}" + (f"  ({row.note})" if row.note else ""))
    print(f"wrote {args.out / 'grades.csv'}")
    return 0

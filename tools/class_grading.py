"""Grade a whole class: one results.json per learner and a grades.csv, both tiers, each learner in isolation.

    python -m tools grade-class SUBMISSIONS --out RESULTS [--jobs 2] [--timeout 300] [--test-timeout 10]
                                [--exercise ex3 ...] [--user NAME ...] [--python PATH] [--same-user]

``SUBMISSIONS`` holds one entry per learner, named after the learner: a folder or a
``.zip`` (a cloned repository, a zip of ``llm_client/``, loose ``.py`` files; a zip
inside a folder is unpacked too). Symbolic links are never followed nor copied.
Only the catalog's exercise files come from a submission (``llm_client/backoff.py``
...), laid over a clean copy of the package made from the reference
(``tests.hidden.remote.lay_over``); loose files count by name (``http.py`` is
``llm_client/providers/http.py``).

Each learner is graded on both tiers, by the path Gradescope's autograder uses too
(``grade_learner``):

- the hidden tier (tests/hidden/) decides the points: its pytest process never
  imports the submission, which runs in a child process that compares with the
  reference only through JSON;
- the public tier (the grader tests learners have) gives feedback, each exercise in
  a sealed child of its own (tests/grader/sealed.py), worth 0 points here.

Run as root (a container, CI), every process of a learner's code runs as a dedicated
unprivileged user (``--user``, one per job; by default ``llm-grader-1`` ..., made when
missing), with no supplementary group. That user cannot read the hidden tests, the
reference, the instructor's repository, the submissions or the results (while
grading, they are made unreadable to it and restored after), cannot write the grader
or the results, and has at most a few hundred processes; when the learner's grade is
written, no process of that user is left running, and its files in the temporary
folders are gone. Every learner has a cap on its total time (``--timeout`` seconds,
both tiers together) and output, so one that hangs delays the class by at most its
own cap. Not root, grade-class refuses unless told ``--same-user``, which runs the
submissions as your own user: they could then read the reference and the hidden
tests, change your files and leave processes running.

``RESULTS/<learner>/results.json`` is the learner's report (Gradescope's format: the
hidden tests with their points, the public tests at 0 points as feedback) and
``RESULTS/<learner>/output.txt`` the end of both tiers' output; ``RESULTS/grades.csv``
has one row per learner: hidden points per exercise, their total (optional exercises
included, as extra credit), the public tier's points per exercise and total, and a note.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import queue
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tests.grader import sealed
from tests.grader.catalog import ROOT, Exercise, load_catalog
from tests.grader.launch import (
    PACKAGE,
    Account,
    GradingRun,
    account,
    end_processes_of,
    points_by_exercise,
    run_grading,
)
from tools.autograding import grader_files

#: Limits on an unpacked submission: total bytes and number of files; the largest exercise file taken.
ZIP_MAX_BYTES = 100 * 1024 * 1024
ZIP_MAX_FILES = 5_000
EXERCISE_FILE_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_JOBS = 2
DEFAULT_TEST_TIMEOUT_S = 10.0
#: Seconds a learner may take in all, both tiers together.
DEFAULT_TIMEOUT_S = 300.0
#: Seconds the hidden tier's run of all exercises may take; when it ends without a report (it hung, or
#: crashed), each exercise it lacks is run on its own, sharing what is left of the learner's time.
HIDDEN_RUN_TIMEOUT_S = 120.0
#: The address space one grading process may use, in bytes: output printed without end cannot exhaust memory.
MEMORY_LIMIT_BYTES = 4 * 1024**3
#: The dedicated users made when none are named: llm-grader-1, llm-grader-2, ...
USER_PREFIX = "llm-grader-"
#: The pytest plugin that keeps what a hidden run finished when it is stopped (tools/platforms/partial_report.py).
PARTIAL_REPORT_PLUGIN = "tools.platforms.partial_report"
#: What the grading users must be able to import with the grading Python.
GRADING_IMPORTS = "import pytest, pytest_timeout, httpx, pydantic"
#: The Gradescope visibilities a hidden test may have in results.json.
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
NO_PACKAGE = (
    "No llm_client/ package was found in the submission: submit your repository, a zip of llm_client/, "
    "or the exercise files you changed (backoff.py, http.py, ...)."
)
#: Folders never looked into: caches, version control, virtual environments and installed packages.
_IGNORED_PARTS = {"__MACOSX", "__pycache__", ".git", ".venv", "venv", "site-packages", "node_modules", ".tox",
                  ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints"}  # fmt: skip
#: The only files a submission's copy keeps: Python files (the package, loose files) and zips (unpacked).
_KEPT_SUFFIXES = (".py", ".zip")


class SubmissionError(ValueError):
    """A submission that cannot be graded (no package, a bad zip)."""


class GradingSetupError(RuntimeError):
    """The class cannot be graded as asked (not root without --same-user, a user that cannot run Python)."""


@dataclass(frozen=True)
class LearnerGrade:
    """One learner's row of grades.csv: hidden and public points per exercise id, and a note."""

    learner: str
    points: dict[str, float]
    note: str = ""
    public: dict[str, float] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(self.points.values())

    @property
    def public_total(self) -> float:
        return sum(self.public.values())


# -- submissions ------------------------------------------------------------------------------


def find_submissions(folder: Path) -> dict[str, Path]:
    """The submissions in ``folder`` by learner name (a folder's name, or a zip's name without .zip)."""
    if not folder.is_dir():
        raise NotADirectoryError(f"submissions: {folder} is not a folder")
    found: dict[str, Path] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in _IGNORED_PARTS or entry.is_symlink():
            continue
        if entry.is_dir() or (entry.is_file() and entry.suffix.lower() == ".zip"):
            name = re.sub(r"[^\w.@+-]+", "_", entry.stem if entry.is_file() else entry.name)
            while name in found:
                name += "_"
            found[name] = entry
    return found


def copy_without_links(source: Path, dest: Path) -> list[str]:
    """Copy the Python files and zips of the tree ``source`` to ``dest`` without following or copying any
    symbolic link; return the links left out (relative paths). Caches, version control and virtual
    environments are left out too; the copy is bounded in files and bytes (SubmissionError past
    ZIP_MAX_FILES or ZIP_MAX_BYTES)."""
    links: list[str] = []
    files = size = 0
    dest.mkdir(parents=True)
    for top, dirs, names in os.walk(source, followlinks=False):
        here = Path(top)
        relative = here.relative_to(source)
        for name in sorted(dirs):
            if (here / name).is_symlink():
                links.append((relative / name).as_posix())
                dirs.remove(name)
            elif name in _IGNORED_PARTS:
                dirs.remove(name)
            else:
                (dest / relative / name).mkdir()
        for name in names:
            path = here / name
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                links.append((relative / name).as_posix())
                continue
            if not stat.S_ISREG(info.st_mode) or not name.lower().endswith(_KEPT_SUFFIXES):
                continue
            files, size = files + 1, size + info.st_size
            if files > ZIP_MAX_FILES or size > ZIP_MAX_BYTES:
                raise SubmissionError(f"{source.name}: over {ZIP_MAX_FILES} files or {ZIP_MAX_BYTES} bytes")
            with open(path, "rb") as src, open(dest / relative / name, "wb") as out:  # never a link: lstat above
                shutil.copyfileobj(src, out)
    return links


def _extract(source: Path, dest: Path) -> list[str]:
    """Extract the zip ``source`` into ``dest`` safely; return the links it held, which are left out."""
    links: list[str] = []
    try:
        with zipfile.ZipFile(source) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > ZIP_MAX_FILES or sum(m.file_size for m in members) > ZIP_MAX_BYTES:
                raise SubmissionError(f"{source.name}: over {ZIP_MAX_FILES} files or {ZIP_MAX_BYTES} bytes unpacked")
            dest.mkdir(parents=True, exist_ok=True)
            for member in members:
                path = PurePosixPath(member.filename.replace("\\", "/"))
                if path.is_absolute() or ".." in path.parts:
                    raise SubmissionError(f"{source.name}: refused member {member.filename!r}")
                if (member.external_attr >> 16) & 0o170000 == 0o120000:
                    links.append(path.as_posix())
                    continue
                if _IGNORED_PARTS.intersection(path.parts) or path.suffix == ".pyc":
                    continue
                target = dest.joinpath(*path.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{source.name}: not a readable zip ({exc})") from exc
    return links


def unpack(source: Path, dest: Path) -> list[str]:
    """Copy a submission folder, or extract a zip, to ``dest`` (the zips at the top of a folder are extracted
    beside it); return the symbolic links left out. A zip member with an absolute path or ``..``, or a
    submission over the size or file-count limits, raises SubmissionError."""
    if source.is_dir() and not source.is_symlink():
        links = copy_without_links(source, dest)
        for number, archive in enumerate(sorted(p for p in dest.glob("*") if p.suffix.lower() == ".zip")):
            with contextlib.suppress(SubmissionError):
                links += _extract(archive, dest / f"_unzipped_{number}")
        return links
    if source.is_file() and not source.is_symlink():
        return _extract(source, dest)
    raise SubmissionError(f"{source.name}: neither a folder nor a zip")


def find_package(tree: Path) -> Path | None:
    """The shallowest ``llm_client/`` package in ``tree`` (never through a link), or None."""
    found = [
        Path(top)
        for top, _, names in os.walk(tree, followlinks=False)
        if Path(top).name == PACKAGE and "__init__.py" in names and not _IGNORED_PARTS.intersection(Path(top).parts)
    ]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def exercise_files(catalog: dict[str, Exercise]) -> list[str]:
    """The files the catalog's exercises are written in (``llm_client/...``): all a submission contributes."""
    return sorted({file for exercise in catalog.values() for file in exercise.files})


def assemble(tree: Path, clean: Path, dest_parent: Path, files: Sequence[str]) -> str:
    """``dest_parent/llm_client``: the ``clean`` package with each of ``files`` taken from the submission in
    ``tree`` (its package, or loose files by name). Returns a note for grades.csv (empty when the submission
    held a package); SubmissionError when it holds neither a package nor a file named like an exercise file."""
    from tests.hidden.remote import lay_over

    package = find_package(tree)
    chosen = dest_parent.parent / f"{dest_parent.name}-taken"
    notes = []
    taken: list[str] = []
    for file in files:
        relative = Path(file).relative_to(PACKAGE)
        if package is not None:
            source: Path | None = package / relative
        else:
            loose = sorted(
                (p for p in tree.rglob(relative.name) if not _IGNORED_PARTS.intersection(p.relative_to(tree).parts)),
                key=lambda p: (len(p.parts), str(p)),
            )
            source = loose[0] if loose else None
        if source is None or source.is_symlink() or not source.is_file():
            continue
        if source.stat().st_size > EXERCISE_FILE_MAX_BYTES:
            notes.append(f"{file} is over {EXERCISE_FILE_MAX_BYTES} bytes: not taken")
            continue
        target = chosen / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        taken.append(relative.name)
    if package is None and not taken:
        raise SubmissionError(NO_PACKAGE)
    chosen.mkdir(parents=True, exist_ok=True)
    lay_over(clean, chosen, files, dest_parent)
    shutil.rmtree(chosen, ignore_errors=True)
    if package is None:
        notes.insert(0, "loose files: " + ", ".join(taken))
    return "; ".join(notes)


@dataclass(frozen=True)
class Prepared:
    """A submission laid out for grading: ``folder`` holds ``grader/`` (the public grader) and
    ``package/llm_client`` (None when it cannot be graded, with the reason in ``note``)."""

    learner: str
    folder: Path | None
    note: str

    @property
    def grader(self) -> Path:
        assert self.folder is not None
        return self.folder / "grader"

    @property
    def package_parent(self) -> Path:
        assert self.folder is not None
        return self.folder / "package"


def clean_package(root: Path, dest_parent: Path) -> Path:
    """``dest_parent/llm_client``: the learner package generated from ``root``'s reference; returns it."""
    from tools.generate_learner import generate_package

    generate_package(dest_parent / PACKAGE, src=root / "solutions" / PACKAGE)
    return dest_parent / PACKAGE


def prepare(
    learner: str,
    source: Path,
    scratch: Path,
    *,
    clean: Path,
    root: Path = ROOT,
    user: Account | None = None,
) -> Prepared:
    """Unpack ``source`` in a new folder under ``scratch`` and lay out there the public grader and the package.

    With ``user``, the folder is readable by that user's group only, and writable by none but root.
    """
    folder = Path(tempfile.mkdtemp(prefix="learner-", dir=scratch))
    catalog = load_catalog(root / "exercises.toml")
    try:
        links = unpack(source, folder / "submission")
        note = assemble(folder / "submission", clean, folder / "package", exercise_files(catalog))
    except SubmissionError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        return Prepared(learner, None, str(exc))
    finally:
        shutil.rmtree(folder / "submission", ignore_errors=True)
    if links:
        shown = ", ".join(links[:5]) + (" ..." if len(links) > 5 else "")
        note = "; ".join(filter(None, [note, f"symbolic links left out: {shown}"]))
    for rel in grader_files(root):
        (folder / "grader" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / rel, folder / "grader" / rel)
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    if user is not None:
        os.chown(folder, 0, user.gid)
        folder.chmod(0o750)
    return Prepared(learner, folder, note)


# -- one learner, both tiers --------------------------------------------------------------------


@dataclass
class LearnerResult:
    """What grading one learner gave: points per exercise of each tier, the results.json, the output, a note,
    and the grade in a few lines (``summary``)."""

    points: dict[str, float]
    public: dict[str, float]
    report: dict[str, Any]
    output: str
    note: str
    summary: str = ""


def hidden_exercises(root: Path) -> set[str]:
    """The exercises that have hidden tests in ``root`` (a ``tests/hidden/test_hidden_exN*.py`` file)."""
    found = (re.match(r"test_hidden_(ex\d+)", p.name) for p in (root / "tests" / "hidden").glob("test_hidden_ex*.py"))
    return {match[1] for match in found if match}


def _hidden_tests(run: GradingRun | None, exercise: str) -> list[dict[str, Any]]:
    tests = (run.report or {}).get("tests", []) if run is not None else []
    return [t for t in tests if isinstance(t, dict) and str(t.get("name", "")).startswith(f"{exercise} (hidden):")]


def _finished_exercises(path: Path, exercises: list[str], run: GradingRun) -> dict[str, GradingRun]:
    """From a stopped run's partial report (tools/platforms/partial_report.py): a run of its own for each
    exercise all of whose collected hidden tests finished."""
    try:
        partial = json.loads(path.read_text(encoding="utf-8"))
        collected = [str(name) for name in partial["collected"]]
        tests = [t for t in partial["tests"] if isinstance(t, dict)]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    finished = {}
    for ex in exercises:
        names = {name for name in collected if name.startswith(f"{ex} (hidden): ")}
        own = [t for t in tests if t.get("name") in names]
        if names and {t.get("name") for t in own} == names:
            finished[ex] = GradingRun(run.returncode, run.output, {"tests": own}, run.timed_out)
    return finished


def _why(run: GradingRun | None) -> str:
    if run is None:
        return "did not run: the learner's time ran out"
    if run.timed_out:
        return "did not finish within the learner's time"
    return f"ended without a report (exit {run.returncode})"


def grade_learner(
    prepared: Prepared,
    *,
    root: Path = ROOT,
    exercises: Sequence[str] | None = None,
    user: Account | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
    python: str = sys.executable,
    private: Path,
    hidden_visibility: str = "visible",
    public_jobs: int = 1,
    hidden_run_timeout_s: float = HIDDEN_RUN_TIMEOUT_S,
) -> LearnerResult:
    """Grade one prepared submission on both tiers within ``timeout_s`` seconds in all; see the module doc.

    ``root`` holds the hidden tests and the reference (read by this process only); ``private`` is a folder
    only this process's user can read, for the hidden tier's reports. ``user`` runs the learner's code as
    that account (this process must be root); every process of it is ended before this returns. The
    hidden tier runs first (it decides the grade), all exercises in one run of at most
    ``hidden_run_timeout_s`` seconds; the public tier gets the time left.
    """
    catalog = load_catalog(root / "exercises.toml")
    wanted = [ex for ex in catalog if exercises is None or ex in exercises]
    with_hidden = [ex for ex in wanted if ex in hidden_exercises(root)]
    deadline = time.monotonic() + timeout_s
    if prepared.folder is None:
        return _ungraded(prepared, catalog, wanted)
    package_parent = prepared.package_parent
    outputs: list[str] = []

    def left() -> float:
        return deadline - time.monotonic()

    def hidden(selected: list[str], limit: float, name: str) -> GradingRun | None:
        if min(left(), limit) < 2:
            return None
        # No per-test timeout: each call to the submission's child is bounded by the hidden tier itself, and
        # a test stopped halfway would leave that child out of step with the next test.
        run = run_grading(
            package_parent, root=root, exercises=selected, hidden=True, timeout_s=min(left(), limit), python=python,
            child_account=user, memory_limit_bytes=MEMORY_LIMIT_BYTES, report_path=private / f"{name}.json",
            extra_args=["-q", "--timeout=0", "--basetemp", str(private / f"{name}-tmp"),
                        f"--hidden-visibility={hidden_visibility}", "-p", PARTIAL_REPORT_PLUGIN,
                        "--partial-report", str(private / f"{name}-partial.json")],
        )  # fmt: skip
        outputs.append(f"===== hidden tier: {' '.join(selected)} =====\n{run.output[-40_000:]}")
        return run

    try:
        whole = hidden(with_hidden, hidden_run_timeout_s, "hidden") if with_hidden else None
        runs: dict[str, GradingRun | None] = dict.fromkeys(with_hidden, whole)
        if whole is not None and whole.report is None:  # stopped or crashed: keep the exercises it finished
            runs.update(_finished_exercises(private / "hidden-partial.json", with_hidden, whole))
        missing = [ex for ex in with_hidden if not _hidden_tests(runs[ex], ex)] if len(with_hidden) > 1 else []
        for number, ex in enumerate(missing):  # the others: each exercise on its own, a fair share of the time left
            runs[ex] = hidden([ex], left() / (len(missing) - number), f"hidden-{ex}")
    finally:
        if user is not None:
            end_processes_of(user)
    verdicts: dict[str, sealed.Verdict] = {}

    def public(exercise: str) -> sealed.Verdict:
        if left() < 2:
            verdict = sealed.Verdict(exercise, float(catalog[exercise].points))
            verdict.problem = "not graded: the learner's time ran out"
            return verdict
        return sealed.run_exercise(
            prepared.grader, package_parent, exercise, timeout_s=min(sealed.EXERCISE_TIMEOUT_S, left()),
            per_test_timeout_s=test_timeout_s, python=python, user=user, work_dir=prepared.folder,
            memory_bytes=MEMORY_LIMIT_BYTES,
        )  # fmt: skip

    try:
        with ThreadPoolExecutor(max_workers=max(1, public_jobs)) as pool:
            verdicts = dict(zip(wanted, pool.map(public, wanted), strict=True))
    finally:
        if user is not None:
            end_processes_of(user)
    outputs += [f"===== public tier: {ex} =====\n{v.output[-20_000:]}" for ex, v in verdicts.items()]
    return _result(prepared, catalog, wanted, runs, verdicts, hidden_visibility, "\n".join(outputs))


def _ungraded(prepared: Prepared, catalog: dict[str, Exercise], wanted: list[str]) -> LearnerResult:
    report = {
        "score": 0.0,
        "max_score": float(sum(catalog[ex].points for ex in wanted if not catalog[ex].optional)),
        "output": prepared.note,
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": [],
    }
    return LearnerResult(dict.fromkeys(catalog, 0.0), dict.fromkeys(catalog, 0.0), report, prepared.note, prepared.note)


def _result(
    prepared: Prepared,
    catalog: dict[str, Exercise],
    wanted: list[str],
    runs: dict[str, GradingRun | None],
    verdicts: dict[str, sealed.Verdict],
    visibility: str,
    output: str,
) -> LearnerResult:
    """The learner's results.json and points: hidden tests carry the points, public ones are feedback."""
    points = dict.fromkeys(catalog, 0.0)
    public = dict.fromkeys(catalog, 0.0)
    hidden_tests: list[dict[str, Any]] = []
    public_tests: list[dict[str, Any]] = []
    lines, hidden_lines = [], []
    problems = []
    for ex in wanted:
        info = catalog[ex]
        run = runs.get(ex)
        own = _hidden_tests(run, ex)
        verdict = verdicts.get(ex)
        if ex not in runs:  # an exercise with no hidden tests yet: its public tests decide, and the note says so
            problems.append(f"{ex} has no hidden tests: its public tests decide")
            earned = verdict.score if verdict is not None else 0.0
            for test in verdict.tests if verdict is not None else []:
                hidden_tests.append({**test, "visibility": "visible"})
        elif own:
            hidden_tests += own
            earned = points_by_exercise({"tests": own}).get(ex, (0.0, 0.0))[0]
        else:
            why = _why(run)
            problems.append(f"{ex} hidden tier {why}")
            hidden_tests.append(
                {"name": f"{ex} (hidden): the hidden tests {why}", "score": 0.0, "max_score": float(info.points),
                 "status": "failed", "output": run.output[-4000:] if run else "", "visibility": visibility}
            )  # fmt: skip
            earned = 0.0
        points[ex] = min(max(earned, 0.0), float(info.points))
        extra = " (optional, extra credit)" if info.optional else ""
        tier = "hidden tests" if ex in runs else "public tests: it has no hidden tests"
        hidden_lines.append(f"{ex}{extra}: {points[ex]:g} of {info.points:g} points ({tier})")
        if verdict is None:
            continue
        public[ex] = verdict.score
        note = f": {verdict.problem}" if verdict.problem else ""
        lines.append(f"{ex}{extra}: {verdict.score:g} of {verdict.points:g} (public tests, feedback){note}")
        if ex in runs:  # else they are listed above, with their points
            public_tests += [{**t, "score": 0.0, "max_score": 0.0, "visibility": "visible"} for t in verdict.tests]
        if verdict.problem:
            public_tests.append(
                {"name": f"{ex}: {verdict.problem}", "score": 0.0, "max_score": 0.0, "status": "failed",
                 "output": verdict.output[-4000:], "visibility": "visible"}
            )  # fmt: skip
    required = [ex for ex in wanted if not catalog[ex].optional]
    total = sum(points[ex] for ex in required)
    possible = float(sum(catalog[ex].points for ex in required))
    bonus = sum(points[ex] for ex in wanted if catalog[ex].optional)
    extra_credit = f", plus {bonus:g} extra credit" if bonus else ""
    hidden_lines.append(f"grade: {total:g} of {possible:g} points{extra_credit}")
    summary = [
        "The grade comes from the hidden tests; the public tests (the ones you have) are feedback.",
        *lines,
    ]
    if visibility == "visible":
        summary += ["", *hidden_lines]
    else:
        hidden_tests.insert(
            0,
            {"name": "hidden tests: the grade", "score": 0.0, "max_score": 0.0, "status": "passed",
             "output": "\n".join(hidden_lines), "visibility": visibility},
        )  # fmt: skip
    tables = "\n\n".join(v.table for v in verdicts.values() if v.table)
    report = {
        "score": total + bonus,
        "max_score": possible,
        "output": "\n".join(summary) + ("\n\n" + tables if tables else ""),
        "visibility": "visible",
        "stdout_visibility": "visible" if visibility == "visible" else "hidden",
        "tests": public_tests + hidden_tests,
    }
    note = "; ".join(filter(None, [prepared.note, *problems]))
    return LearnerResult(points, public, report, output, note, "\n".join(hidden_lines))


# -- isolation ----------------------------------------------------------------------------------


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def grading_accounts(names: Sequence[str], *, create: bool) -> list[Account]:
    """The accounts of ``names``, each made (no home, no login, a group of its own) when missing and ``create``."""
    accounts = []
    for name in names:
        try:
            accounts.append(account(name))
            continue
        except ValueError:
            if not create or not re.fullmatch(r"[a-z_][a-z0-9_-]{0,30}", name):
                raise
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", name],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        print(f"grade-class: made the grading user {name}")
        accounts.append(account(name))
    return accounts


#: (user, python) pairs already checked by ``check_python`` in this process.
_CHECKED: set[tuple[Account, str]] = set()


def check_python(user: Account, python: str) -> None:
    """GradingSetupError unless ``user`` can run ``python`` and import what grading needs with it."""
    if (user, python) in _CHECKED:
        return
    try:
        done = subprocess.run(
            [python, "-I", "-c", GRADING_IMPORTS], user=user.uid, group=user.gid, extra_groups=[], cwd="/",
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/"}, capture_output=True, text=True,
            timeout=120, check=False,
        )  # fmt: skip
        problem = done.stderr.strip()[-300:] if done.returncode != 0 else ""
    except OSError as exc:
        problem = str(exc)
    if problem:
        raise GradingSetupError(
            f"the grading user {user.name} cannot run {python} with the grader's packages ({problem}); "
            "give --python an interpreter outside any folder only you can read (and outside the repository, which "
            "grading hides from that user), with the packages of requirements-grader.txt"
        )
    _CHECKED.add((user, python))


def remove_files_of(user: Account, folders: Sequence[Path]) -> None:
    """Remove what ``user`` left at the top of the shared temporary ``folders`` (its processes are gone)."""
    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in folder.iterdir():
                with contextlib.suppress(OSError):
                    if entry.lstat().st_uid != user.uid:
                        continue
                    if entry.is_dir() and not entry.is_symlink():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink()


def _temporary_folders() -> list[Path]:
    found = {Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp"), Path("/dev/shm")}
    return sorted(p for p in found if p.is_dir())


@contextlib.contextmanager
def hidden_from(paths: Sequence[Path], users: Sequence[Account]) -> Iterator[list[str]]:
    """While inside: none of ``users`` can enter ``paths`` (the other users' permissions taken away, and the
    group's when it is one of theirs); restored after. Yields what was changed, for the note printed."""
    changed: list[tuple[Path, int]] = []
    gids = {u.gid for u in users}
    try:
        for path in dict.fromkeys(p.resolve() for p in paths):
            info = path.stat()
            mode = stat.S_IMODE(info.st_mode)
            wanted = mode & ~0o007 & (~0o070 if info.st_gid in gids else ~0)
            if wanted != mode:
                path.chmod(wanted)
                changed.append((path, mode))
        yield [str(p) for p, _ in changed]
    finally:
        for path, mode in reversed(changed):
            with contextlib.suppress(OSError):
                path.chmod(mode)


# -- the class ----------------------------------------------------------------------------------


def grade_class(
    submissions: Path,
    out: Path,
    *,
    jobs: int = DEFAULT_JOBS,
    root: Path = ROOT,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    test_timeout_s: float = DEFAULT_TEST_TIMEOUT_S,
    exercises: Sequence[str] | None = None,
    users: Sequence[str] | None = None,
    same_user: bool = False,
    python: str = sys.executable,
    hidden_run_timeout_s: float = HIDDEN_RUN_TIMEOUT_S,
    say: Callable[[str], None] = print,
) -> list[LearnerGrade]:
    """Grade every submission in ``submissions``, ``jobs`` at once; write ``out``; return the rows by learner.

    ``exercises`` limits grading to those ids (all by default); ``timeout_s`` caps each learner, both tiers
    together, and ``hidden_run_timeout_s`` the hidden tier's first run (see ``grade_learner``). Run as root,
    each job's learners run as
    one of ``users`` (default ``llm-grader-1`` ..., made when missing); ``same_user`` runs them as this
    process's user instead (refused otherwise when not root). Every submission is unpacked before any is
    graded, so one that deletes files cannot take another's away.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive int, got {jobs!r}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    catalog = load_catalog(root / "exercises.toml")
    unknown = [ex for ex in exercises or () if ex not in catalog]
    if unknown:
        raise ValueError(f"exercises: no {', '.join(unknown)} in the catalog")
    if not (root / "tests" / "hidden").is_dir() or not (root / "solutions" / PACKAGE).is_dir():
        raise GradingSetupError(f"{root} has no hidden tests or no reference: grade-class needs an instructor copy")
    accounts: list[Account] = []
    if not same_user:
        if not is_root():
            raise GradingSetupError(
                "grade-class runs each learner's code as a dedicated unprivileged user, which needs root: run it as "
                "root in a container or CI. --same-user grades as your own user instead, where a submission can "
                "read the reference and the hidden tests, change any file you can, and leave processes running."
            )
        accounts = grading_accounts(users or [f"{USER_PREFIX}{n}" for n in range(1, jobs + 1)], create=users is None)
        jobs = min(jobs, len(accounts))
    elif is_root():
        say("grade-class: --same-user as root: every submission runs as root")
    found = find_submissions(submissions)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[LearnerGrade] = []
    with contextlib.ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="grade-class-")))
        if accounts:
            changed = stack.enter_context(hidden_from([root, submissions, out], accounts))
            if changed:
                say("grade-class: while grading, the grading users cannot enter " + ", ".join(changed))
            for user in accounts:
                check_python(user, python)
            scratch.chmod(0o711)  # each learner's folder inside is its own user's group's only
        private = scratch / "private"
        private.mkdir(mode=0o700)
        clean = clean_package(root, private / "clean")
        prepared = [
            prepare(learner, source, scratch, clean=clean, root=root) for learner, source in found.items()
        ]
        free: queue.Queue[Account | None] = queue.Queue()
        for slot in range(jobs):
            free.put(accounts[slot] if accounts else None)

        def grade_one(one: Prepared) -> LearnerGrade:
            user = free.get()
            mine = Path(tempfile.mkdtemp(prefix="learner-private-", dir=private))
            try:
                if user is not None and one.folder is not None:
                    os.chown(one.folder, 0, user.gid)
                    one.folder.chmod(0o750)
                try:
                    result = grade_learner(
                        one, root=root, exercises=exercises, user=user, timeout_s=timeout_s,
                        test_timeout_s=test_timeout_s, python=python, private=mine,
                        hidden_run_timeout_s=hidden_run_timeout_s,
                    )  # fmt: skip
                except Exception as exc:  # the grader's own failure: this learner is regraded by hand, the rest go on
                    failed = Prepared(one.learner, None, f"grading failed ({type(exc).__name__}: {exc})")
                    result = grade_learner(failed, root=root, exercises=exercises, private=mine)
            finally:
                ended = user is None or end_processes_of(user)
                if user is not None:
                    remove_files_of(user, _temporary_folders())
                shutil.rmtree(mine, ignore_errors=True)
                if one.folder is not None:
                    shutil.rmtree(one.folder, ignore_errors=True)
                free.put(user)
            if not ended:
                result.note = "; ".join(filter(None, [result.note, "some of its processes could not be ended"]))
            write_learner(out / one.learner, result)  # when no process of the learner is left
            return LearnerGrade(one.learner, result.points, result.note, result.public)

        try:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                rows = list(pool.map(grade_one, prepared))
        finally:
            for user in accounts:
                end_processes_of(user)
    write_csv(rows, out / "grades.csv", list(catalog))
    return rows


def write_learner(target: Path, result: LearnerResult) -> None:
    """``target/results.json`` and ``target/output.txt``."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "results.json").write_text(json.dumps(result.report, indent=2) + "\n", encoding="utf-8")
    (target / "output.txt").write_text(result.output, encoding="utf-8", errors="replace")


def write_csv(rows: Sequence[LearnerGrade], path: Path, exercises: Sequence[str]) -> None:
    """grades.csv: learner, hidden points per exercise, total, public points per exercise, public total, note."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", *exercises, "total", *(f"{ex} public" for ex in exercises), "public total", "note"])
        for row in rows:
            writer.writerow(
                [row.learner, *(f"{row.points.get(ex, 0.0):g}" for ex in exercises), f"{row.total:g}",
                 *(f"{row.public.get(ex, 0.0):g}" for ex in exercises), f"{row.public_total:g}", row.note]
            )  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools grade-class", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", type=Path, help="a folder with one folder or .zip per learner")
    parser.add_argument("--out", type=Path, required=True, help="where results.json per learner and grades.csv go")
    parser.add_argument("--jobs", type=int, default=DEFAULT_JOBS, help=f"learners at once (default {DEFAULT_JOBS})")
    parser.add_argument("--test-timeout", type=float, default=DEFAULT_TEST_TIMEOUT_S, help="seconds per public test")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds per learner, both tiers together"
    )
    parser.add_argument("--exercise", action="append", default=None, help="grade only this exercise (repeatable)")
    parser.add_argument(
        "--user", action="append", default=None, help=f"a grading user, one per job (default {USER_PREFIX}N, made)"
    )
    parser.add_argument("--python", default=sys.executable, help="the Python the grading users run (default this one)")
    parser.add_argument(
        "--same-user", action="store_true", help="run the submissions as your own user (unsafe: see the docs)"
    )
    args = parser.parse_args(argv)
    try:
        rows = grade_class(
            args.submissions.resolve(),
            args.out.resolve(),
            jobs=args.jobs,
            timeout_s=args.timeout,
            test_timeout_s=args.test_timeout,
            exercises=args.exercise,
            users=args.user,
            same_user=args.same_user,
            python=args.python,
        )
    except (ValueError, NotADirectoryError, GradingSetupError, subprocess.CalledProcessError) as exc:
        print(f"grade-class: {exc}", file=sys.stderr)
        return 2
    for row in rows:
        print(f"{row.learner}: {row.total:g} (public {row.public_total:g})" + (f"  ({row.note})" if row.note else ""))
    print(f"wrote {args.out / 'grades.csv'}")
    return 0

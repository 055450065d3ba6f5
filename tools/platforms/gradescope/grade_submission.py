"""Gradescope: grade /autograder/submission and write /autograder/results/results.json.

run_autograder runs this as root. It copies the grader and the submitted package
to a folder the submission's user can read but not write, locks the grader's
sources and the results folder away from that user, grades each exercise in a
child process of its own run as that user (tests/grader/sealed.py: a
per-test timeout, a per-exercise timeout that kills the child's process group,
a sealed report), and writes results.json itself from what it could verify.
The whole run ends within AUTOGRADER_DEADLINE_S seconds (default 270), and an
exercise that had no time left scores 0 with a line that says so.

Three forms of submission are graded:
- a repository (uploaded, from GitHub, or as a zip): its shallowest ``llm_client/``;
- a zip of ``llm_client/`` itself;
- loose ``.py`` files at the top: each is laid over the stub file of the same
  name (``backoff.py`` over ``llm_client/backoff.py``, ``http.py`` over
  ``llm_client/providers/http.py``).

Environment: AUTOGRADER_ROOT (default /autograder), AUTOGRADER_USER (default
student; used when run as root), AUTOGRADER_DEADLINE_S, AUTOGRADER_TEST_TIMEOUT_S
(default 5 s per test), AUTOGRADER_JOBS (exercises graded at once, default 2),
AUTOGRADER_EXERCISES (comma-separated ids: grade only these; default all).
Optional exercises are extra credit: their points add to the score, not to max_score.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
SOURCE = ROOT / "source"
SUBMISSION = ROOT / "submission"
RESULTS = ROOT / "results" / "results.json"
GRADER_FILES = ("exercises.toml", "pyproject.toml", "tests/__init__.py", "tests/conftest.py")
PACKAGE = "llm_client"
#: Limits on what a submitted zip may unpack to.
ZIP_MAX_BYTES = 50_000_000
ZIP_MAX_FILES = 5_000


def _copy(src: Path, dest: Path) -> None:
    """Copy the file or tree ``src`` to ``dest``, leaving out caches; links stay links (root never follows them)."""
    if src.is_dir():
        shutil.copytree(src, dest, symlinks=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "__MACOSX"))
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)


def open_to_readers(top: Path) -> None:
    """Make everything under ``top`` readable by everyone and writable by its owner (root) only."""
    for path in [top, *top.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() else 0o644)


def copy_grader(dest: Path) -> Path:
    """Copy the grader (catalog, configuration, tests/conftest.py, tests/grader/) to ``dest``; return it."""
    for rel in GRADER_FILES:
        _copy(SOURCE / rel, dest / rel)
    _copy(SOURCE / "tests" / "grader", dest / "tests" / "grader")
    return dest


def _unzip(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``, skipping names that would land outside it; bounded in size."""
    with zipfile.ZipFile(archive) as zipped:
        members = [m for m in zipped.infolist() if not m.is_dir()][:ZIP_MAX_FILES]
        total = 0
        for member in members:
            target = (dest / member.filename).resolve()
            total += member.file_size
            if not target.is_relative_to(dest.resolve()) or total > ZIP_MAX_BYTES or "__MACOSX" in target.parts:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(member) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)


def _shallowest_package(folder: Path) -> Path | None:
    """The shallowest ``llm_client/`` holding an ``__init__.py`` under ``folder``, not following links."""
    found = [
        Path(top)
        for top, _, files in os.walk(folder)
        if Path(top).name == PACKAGE and "__init__.py" in files and "__MACOSX" not in Path(top).parts
    ]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def _lay_over_stubs(loose: list[Path], stubs: Path, dest: Path) -> list[str]:
    """Copy the stub package to ``dest`` and each loose file over the stub file of its name; return those used."""
    shutil.copytree(stubs, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    by_name: dict[str, Path] = {}
    for path in sorted(dest.rglob("*.py"), key=lambda p: (len(p.parts), str(p))):
        by_name.setdefault(path.name, path)
    used = []
    for path in loose:
        if path.name in by_name and not path.is_symlink():
            shutil.copyfile(path, by_name[path.name])
            used.append(path.name)
    return used


def collect_submission(submission: Path, stubs: Path, dest: Path, scratch: Path) -> str | None:
    """Put the submitted package in ``dest`` (a folder named llm_client); None, or why nothing was found."""
    unzipped = scratch / "unzipped"  # removed before any submitted code runs
    unzipped.mkdir(parents=True)
    for number, archive in enumerate(sorted(submission.glob("*.zip"))):
        try:
            _unzip(archive, unzipped / str(number))
        except (zipfile.BadZipFile, OSError):
            continue
    for folder in (submission, unzipped):
        package = _shallowest_package(folder)
        if package is not None:
            _copy(package, dest)
            return None
    tops = [submission, *(p for p in unzipped.iterdir() if p.is_dir())]
    loose = [p for top in tops for p in sorted(top.glob("*.py"))]
    if loose and _lay_over_stubs(loose, stubs, dest):
        return None
    shutil.rmtree(dest, ignore_errors=True)
    return (
        "No llm_client/ package was found in the submission: submit your repository, a zip of llm_client/, "
        "or the .py files you changed (backoff.py, request.py, ...)."
    )


def _load_sealed(grader: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("sealed_grading", grader / "tests" / "grader" / "sealed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def results_json(verdicts: list[Any], catalog: dict[str, tuple[float, str, bool]], elapsed_s: float) -> dict[str, Any]:
    """Gradescope's results.json from the verified verdicts, in catalog order."""
    tests: list[dict[str, Any]] = []
    lines = []
    for verdict in verdicts:
        points, _, is_optional = catalog[verdict.exercise]
        tests += verdict.tests
        missing = points - sum(t["max_score"] for t in verdict.tests)
        if verdict.problem:
            tests.append(
                {
                    "name": f"{verdict.exercise}: {verdict.problem}",
                    "score": 0.0,
                    "max_score": max(missing, 0.0),
                    "status": "failed",
                    "output": verdict.output[-4000:],
                }
            )
        extra = " (optional, extra credit)" if is_optional else ""
        note = f": {verdict.problem}" if verdict.problem else ""
        lines.append(f"{verdict.exercise}{extra}: {verdict.score:g} of {points:g} points{note}")
    required = [v for v in verdicts if not catalog[v.exercise][2]]
    optional = [v for v in verdicts if catalog[v.exercise][2]]
    total = sum(v.score for v in required)
    possible = sum(catalog[v.exercise][0] for v in required)
    bonus = sum(v.score for v in optional)
    lines.append(f"total: {total:g} of {possible:g} points" + (f", plus {bonus:g} extra credit" if optional else ""))
    tables = "\n\n".join(v.table for v in verdicts if v.table)
    return {
        "score": total + bonus,
        "max_score": possible,
        "execution_time": round(elapsed_s, 3),
        "output": "\n".join(lines) + ("\n\n" + tables if tables else ""),
        "visibility": "visible",
        "stdout_visibility": "visible",
        "tests": tests,
    }


def write_results(results: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".partial")
    partial.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    partial.replace(RESULTS)


def _grading_user() -> str:
    """AUTOGRADER_USER (default student, made by setup.sh), or nobody where that user does not exist."""
    wanted = os.environ.get("AUTOGRADER_USER", "student")
    try:
        pwd.getpwnam(wanted)
    except KeyError:
        print(f"there is no user {wanted!r}; the submission runs as nobody")
        return "nobody"
    return wanted


def main() -> int:
    try:
        return grade_all()
    except Exception as exc:  # the learner always gets a results.json that says what happened
        message = f"The autograder failed ({type(exc).__name__}: {exc}); tell your instructor."
        print(message)
        write_results({"score": 0.0, "output": message, "stdout_visibility": "visible", "tests": []})
        raise


def grade_all() -> int:
    started = time.monotonic()
    deadline = started + float(os.environ.get("AUTOGRADER_DEADLINE_S", "270"))
    per_test = float(os.environ.get("AUTOGRADER_TEST_TIMEOUT_S", "5"))
    jobs = max(1, int(os.environ.get("AUTOGRADER_JOBS", "2")))
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    user = _grading_user() if is_root else None
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if is_root:  # the submission's user can read neither the grader's sources nor the results
        for private in (SOURCE, RESULTS.parent):
            private.chmod(0o700)
    work = Path(tempfile.mkdtemp(prefix="autograder-"))
    work.chmod(0o755)
    try:
        grader = copy_grader(work / "grader")
        sealed = _load_sealed(grader)
        catalog = sealed.catalog_points(grader)
        wanted = [ex for ex in os.environ.get("AUTOGRADER_EXERCISES", "").split(",") if ex in catalog]
        catalog = {ex: entry for ex, entry in catalog.items() if ex in wanted or not wanted}
        problem = collect_submission(SUBMISSION, SOURCE / "stubs" / PACKAGE, work / "package" / PACKAGE, work)
        if problem is not None:
            print(problem)
            write_results({"score": 0.0, "output": problem, "stdout_visibility": "visible", "tests": []})
            return 0
        shutil.rmtree(work / "unzipped", ignore_errors=True)
        open_to_readers(work)

        def grade(exercise: str) -> Any:
            remaining = deadline - time.monotonic()
            if remaining < 5:
                verdict = sealed.Verdict(exercise, catalog[exercise][0])
                verdict.problem = "not graded: the autograder's time ran out"
                return verdict
            return sealed.run_exercise(
                grader, work / "package", exercise, timeout_s=min(sealed.EXERCISE_TIMEOUT_S, remaining - 2),
                per_test_timeout_s=per_test, python=sys.executable, user=user, work_dir=work,
            )  # fmt: skip

        with ThreadPoolExecutor(max_workers=jobs) as pool:
            verdicts = list(pool.map(grade, catalog))
        for verdict in verdicts:
            print(verdict.output)
        results = results_json(verdicts, catalog, time.monotonic() - started)
        print(results["output"].split("\n\n")[0])
        write_results(results)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

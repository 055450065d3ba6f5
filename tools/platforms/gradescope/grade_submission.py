"""Gradescope: grade /autograder/submission and write /autograder/results/results.json.

run_autograder runs this as root. It grades through the same isolated path as
``python -m tools grade-class`` (tools/class_grading.py, ``grade_learner``), from
the autograder's own folder (``source/``, which it makes readable by root only):

- only the catalog's exercise files come from the submission, laid over a clean
  copy of the package made from the reference; symbolic links are never followed;
- the hidden tier (tests/hidden/) decides the grade: its pytest process, run as
  root, never imports the submission, whose child process runs as the unprivileged
  grading user and cannot read the hidden tests, the reference or the results;
  those tests' ``visibility`` in results.json is the zip's setting (after the due
  date unless built otherwise: ``python -m tools gradescope --hidden-visibility``);
- the public tier (the tests learners have) gives feedback at 0 points, each
  exercise in a sealed child run as that user (tests/grader/sealed.py);
- when the grade is written, no process of that user is left running.

The whole run ends within AUTOGRADER_DEADLINE_S seconds (default 270). Three forms
of submission are graded: a repository (uploaded, from GitHub, or as a zip): its
shallowest ``llm_client/``; a zip of ``llm_client/`` itself; loose ``.py`` files,
each taken for the exercise file of the same name (``backoff.py``, ``http.py``).

Environment: AUTOGRADER_ROOT (default /autograder), AUTOGRADER_USER (default
student; used when run as root), AUTOGRADER_DEADLINE_S, AUTOGRADER_TEST_TIMEOUT_S
(default 5 s per public test), AUTOGRADER_JOBS (public exercises graded at once,
default 2), AUTOGRADER_EXERCISES (comma-separated ids: grade only these; default
all), AUTOGRADER_HIDDEN_VISIBILITY (overrides the zip's setting), AUTOGRADER_HIDDEN_RUN_TIMEOUT_S
(seconds for the hidden tier's run of all exercises before each is run on its own; default 120).
Optional exercises are extra credit: their points add to the score, not to max_score.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
SOURCE = ROOT / "source"
SUBMISSION = ROOT / "submission"
RESULTS = ROOT / "results" / "results.json"
#: What the zip was built with (tools/build_gradescope.py): {"hidden_visibility": ...}.
SETTINGS = SOURCE / "settings.json"
#: Seconds kept back from the deadline for writing the results.
MARGIN_S = 10.0


def class_grading(source: Path = SOURCE) -> ModuleType:
    """tools.class_grading of the autograder's own folder (its ``tests`` and ``tools`` packages, from their files)."""
    for name in ("tests", "tools"):
        if name not in sys.modules:
            spec = importlib.machinery.PathFinder.find_spec(name, [str(source)])
            if spec is None or spec.loader is None:
                raise ImportError(f"no {name}/ package in {source}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
    return importlib.import_module("tools.class_grading")


def write_results(results: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".partial")
    partial.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    partial.replace(RESULTS)


def hidden_visibility() -> str:
    """AUTOGRADER_HIDDEN_VISIBILITY, else the zip's setting, else after_due_date."""
    try:
        settings = json.loads(SETTINGS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        settings = {}
    return os.environ.get("AUTOGRADER_HIDDEN_VISIBILITY") or str(settings.get("hidden_visibility", "after_due_date"))


def _grading_user(grading: ModuleType) -> Any:
    """AUTOGRADER_USER (default student, made by setup.sh), or nobody where that user does not exist."""
    wanted = os.environ.get("AUTOGRADER_USER", "student")
    try:
        return grading.account(wanted)
    except ValueError:
        print(f"there is no unprivileged user {wanted!r}; the submission runs as nobody")
        return grading.account("nobody")


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
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if is_root:  # the submission's user can read neither the grader, the hidden tests, the reference nor the results
        for private in (SOURCE, RESULTS.parent):
            private.chmod(0o700)
    grading = class_grading()
    user = _grading_user(grading) if is_root else None
    visibility = hidden_visibility()
    if visibility not in grading.VISIBILITIES:
        raise ValueError(f"hidden visibility must be one of {', '.join(grading.VISIBILITIES)}, got {visibility!r}")
    catalog = grading.load_catalog(SOURCE / "exercises.toml")
    wanted = [ex for ex in os.environ.get("AUTOGRADER_EXERCISES", "").split(",") if ex in catalog] or None
    work = Path(tempfile.mkdtemp(prefix="autograder-"))
    try:
        work.chmod(0o711)  # the learner's folder inside is the grading user's group's only
        private = work / "private"
        private.mkdir(mode=0o700)
        clean = grading.clean_package(SOURCE, private / "clean")
        prepared = grading.prepare("submission", SUBMISSION, work, clean=clean, root=SOURCE, user=user)
        if prepared.folder is None:
            print(prepared.note)
            write_results({"score": 0.0, "output": prepared.note, "stdout_visibility": "visible", "tests": []})
            return 0
        (private / "learner").mkdir(mode=0o700)
        try:
            result = grading.grade_learner(
                prepared, root=SOURCE, exercises=wanted, user=user,
                timeout_s=max(deadline - time.monotonic() - MARGIN_S, 1.0), test_timeout_s=per_test,
                python=sys.executable, private=private / "learner", hidden_visibility=visibility, public_jobs=jobs,
                hidden_run_timeout_s=float(os.environ.get("AUTOGRADER_HIDDEN_RUN_TIMEOUT_S", "120")),
            )  # fmt: skip
        finally:
            if user is not None:
                grading.end_processes_of(user)
        results = {**result.report, "execution_time": round(time.monotonic() - started, 3)}
        print(result.output)  # run_autograder's stdout: for the instructor (hidden from learners unless all is visible)
        print(result.report["output"])
        print(result.summary)
        if result.note:
            print(f"note: {result.note}")
        write_results(results)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

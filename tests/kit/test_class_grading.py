"""Grading a whole class (``python -m tools grade-class``): every submission form is graded on both tiers,
each learner in isolation, and a broken or hostile submission never stops the others nor changes their grades.

The submissions are made on the fly from the reference: honest ones in each accepted form (a repository
folder, a zip of the package, loose files), and broken or hostile ones (a syntax error, ``os._exit(0)`` at
import, an endless loop, one that deletes every file it can reach, one that prints without end, a file
that is not a zip). The learners' code runs as two dedicated users made for this test (root only); the
hidden tier decides the points, the public tier is reported beside them.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tests.grader.launch import account, processes_of
from tests.kit.platform_runs import IS_ROOT, dedicated_users, python_for
from tools.class_grading import (
    GradingSetupError,
    SubmissionError,
    find_submissions,
    grade_class,
    hidden_from,
    unpack,
)
from tools.generate_learner import SOLUTIONS_PACKAGE, generate_package

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
GRADED = ["ex2", "ex3"]
FULL = {ex: float(CATALOG[ex].points) for ex in GRADED}
#: grades.csv rows by learner, the results folder, the submissions folder.
Graded = tuple[dict[str, dict[str, str]], Path, Path]


def _reference(parent: Path) -> Path:
    shutil.copytree(SOLUTIONS_PACKAGE, parent / "llm_client", ignore=shutil.ignore_patterns("__pycache__"))
    return parent / "llm_client"


def _append(path: Path, code: str) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("\n" + code + "\n")


def _inside_backoff_delay(package: Path, code: str) -> None:
    """Put ``code`` at the start of backoff_delay's answer (ex3)."""
    path = package / "backoff.py"
    text = path.read_text(encoding="utf-8")
    marker = "    # BEGIN SOLUTION ex3\n"
    assert marker in text
    path.write_text(text.replace(marker, marker + code, 1), encoding="utf-8")


@pytest.fixture(scope="module")
def users() -> Iterator[list[str]]:
    if not IS_ROOT:
        pytest.skip("grade-class runs each learner as a dedicated unprivileged user, which needs root")
    with dedicated_users(2, prefix="llmclass") as names:
        yield names


@pytest.fixture(scope="module")
def grading_python(users: list[str]) -> Iterator[str]:
    with python_for(users[0]) as python:
        if python is None:
            pytest.skip(f"no Python here that {users[0]} can run with the kit's packages")
        yield python


@pytest.fixture(scope="module")
def graded(users: list[str], grading_python: str, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    subs = tmp_path_factory.mktemp("submissions")
    out = tmp_path_factory.mktemp("results")
    # Honest submissions, one per form.
    _reference(subs / "alice" / "my-repo")  # a repository with llm_client/ below the top
    only_ex3 = tmp_path_factory.mktemp("bob")
    generate_package(only_ex3 / "llm_client", keep={"ex3"})
    with zipfile.ZipFile(subs / "bob.zip", "w") as archive:  # a zip of the package, only ex3 solved
        for path in sorted((only_ex3 / "llm_client").rglob("*.py")):
            archive.write(path, path.relative_to(only_ex3).as_posix())
    (subs / "carol").mkdir()  # loose files laid over the stubs by name
    shutil.copy(SOLUTIONS_PACKAGE / "backoff.py", subs / "carol" / "backoff.py")
    (subs / "carol" / "notes.py").write_text("x = 1\n", encoding="utf-8")
    # Broken and hostile submissions (in the exercise files: only they are taken from a submission).
    _append(_reference(subs / "dave") / "backoff.py", "def broken(:")
    _append(_reference(subs / "erin") / "backoff.py", "import os\nos._exit(0)")
    _inside_backoff_delay(_reference(subs / "frank"), "    while True:\n        pass\n")
    deleter = (
        "import pathlib, shutil\n"
        f"shutil.rmtree({str(subs)!r}, ignore_errors=True)\n"  # every submission's original
        f"shutil.rmtree({str(out)!r}, ignore_errors=True)\n"  # the results
        "shutil.rmtree(pathlib.Path.cwd(), ignore_errors=True)\n"  # where it runs
        "shutil.rmtree(pathlib.Path(__file__).parent, ignore_errors=True)\n"  # its own package
    )
    _append(_reference(subs / "grace") / "backoff.py", deleter)
    noisy = "    print('x' * 1_000_000)\n    raise ValueError('noisy')\n"  # each failing test reports 1 MB of output
    _inside_backoff_delay(_reference(subs / "heidi"), noisy)
    (subs / "ivan.zip").write_bytes(b"this is not a zip")
    rows = grade_class(
        subs, out, jobs=2, users=users, python=grading_python, exercises=GRADED, timeout_s=60.0,
        test_timeout_s=4.0, hidden_run_timeout_s=30.0, say=lambda _: None,
    )  # fmt: skip
    assert [row.learner for row in rows] == sorted(row.learner for row in rows)
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        table = {row["learner"]: row for row in csv.DictReader(handle)}
    return table, out, subs


def _points(row: dict[str, str]) -> dict[str, float]:
    return {ex: float(row[ex]) for ex in GRADED}


def _public(row: dict[str, str]) -> dict[str, float]:
    return {ex: float(row[f"{ex} public"]) for ex in GRADED}


def test_grades_csv_has_a_row_per_learner_with_both_tiers_per_exercise(graded: Graded) -> None:
    table, out, _ = graded
    assert set(table) == {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"}
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["learner", *CATALOG, "total", *(f"{ex} public" for ex in CATALOG), "public total", "note"]
    for learner, row in table.items():
        assert float(row["total"]) == sum(_points(row).values()), learner
        assert float(row["public total"]) == sum(_public(row).values()), learner
        assert (out / learner / "results.json").is_file(), f"no results.json for {learner}"


def test_each_submission_form_is_graded_as_its_code_deserves_on_both_tiers(graded: Graded) -> None:
    table, out, _ = graded
    only_ex3 = {ex: FULL[ex] if ex == "ex3" else 0.0 for ex in GRADED}
    assert _points(table["alice"]) == FULL == _public(table["alice"]), "a repository with llm_client/ inside"
    assert _points(table["bob"]) == only_ex3 == _public(table["bob"]), "a zip of the package"
    assert _points(table["carol"]) == only_ex3 == _public(table["carol"]), "loose files"
    assert table["carol"]["note"] == "loose files: backoff.py"
    report = json.loads((out / "alice" / "results.json").read_text(encoding="utf-8"))
    assert report["score"] == sum(FULL.values())
    hidden = [t for t in report["tests"] if " (hidden): " in t["name"]]
    public = [t for t in report["tests"] if " (hidden)" not in t["name"]]
    assert hidden and all(t["status"] == "passed" and t["score"] == t["max_score"] > 0 for t in hidden)
    assert public and all(t["status"] == "passed" and t["max_score"] == 0 for t in public), "feedback, 0 points"


def test_a_broken_or_hostile_submission_costs_only_its_own_points(graded: Graded) -> None:
    table, out, subs = graded
    assert subs.exists() and (out / "grades.csv").is_file(), "the deleting submission reached nothing of the grader's"
    expected = {"ex2": FULL["ex2"], "ex3": 0.0}
    for learner, why in (("dave", "a syntax error"), ("erin", "os._exit(0) at import"), ("frank", "an endless loop")):
        assert _points(table[learner]) == expected, f"{why} in backoff.py costs ex3 and only ex3"
    assert "time" in table["frank"]["note"], table["frank"]["note"]
    heidi = _points(table["heidi"])  # backoff_delay prints without end and fails; add_jitter still earns its points
    assert 0 < heidi["ex3"] < FULL["ex3"] and heidi["ex2"] == FULL["ex2"], heidi
    assert (out / "heidi" / "output.txt").stat().st_size < 1_000_000, "the output kept is bounded"
    assert _points(table["grace"])["ex2"] == FULL["ex2"]
    assert float(table["ivan"]["total"]) == 0.0 and "not a readable zip" in table["ivan"]["note"]


def test_no_process_of_a_learner_is_left_and_the_repository_is_readable_again(graded: Graded, users: list[str]) -> None:
    assert not [pid for name in users for pid in processes_of(account(name).uid)]
    assert stat.S_IMODE(ROOT.stat().st_mode) & 0o005 == 0o005, "the repository's permissions are restored"


def test_unpacking_refuses_a_zip_that_writes_outside_its_folder(tmp_path: Path) -> None:
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../outside.py", "x = 1\n")
    with pytest.raises(SubmissionError, match="refused member"):
        unpack(bad, tmp_path / "dest")
    assert not (tmp_path / "outside.py").exists()


def test_unpacking_a_folder_never_follows_nor_copies_a_symbolic_link(tmp_path: Path) -> None:
    source = tmp_path / "learner"
    (source / "llm_client").mkdir(parents=True)
    (source / "llm_client" / "__init__.py").write_text("", encoding="utf-8")
    (source / "llm_client" / "backoff.py").symlink_to(SOLUTIONS_PACKAGE / "backoff.py")
    (source / "answers").symlink_to(SOLUTIONS_PACKAGE)
    links = unpack(source, tmp_path / "dest")
    assert sorted(links) == ["answers", "llm_client/backoff.py"]
    found = {p.relative_to(tmp_path / "dest").as_posix() for p in (tmp_path / "dest").rglob("*")}
    assert found == {"llm_client", "llm_client/__init__.py"}


def test_the_grading_users_cannot_enter_what_is_hidden_from_them_and_it_is_restored(tmp_path: Path) -> None:
    folder = tmp_path / "repo"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    grader = account("nobody") if IS_ROOT else None
    if grader is None:
        pytest.skip("needs a user to hide the folder from")
    with hidden_from([folder], [grader]) as changed:
        assert changed == [str(folder.resolve())] and stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_submissions_are_named_after_their_folder_or_zip(tmp_path: Path) -> None:
    (tmp_path / "ann lee").mkdir()
    (tmp_path / "bo.zip").write_bytes(b"")
    (tmp_path / "readme.txt").write_text("not a submission", encoding="utf-8")
    (tmp_path / ".hidden").mkdir()
    assert list(find_submissions(tmp_path)) == ["ann_lee", "bo"]


def test_the_command_refuses_a_bad_jobs_count_naming_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools", "grade-class", str(tmp_path), "--out", str(tmp_path / "out"), "--jobs", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "jobs must be a positive int" in done.stderr


def test_not_root_it_refuses_unless_told_same_user_and_says_what_that_risks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tools.class_grading.is_root", lambda: False)
    with pytest.raises(GradingSetupError) as refused:
        grade_class(tmp_path, tmp_path / "out")
    message = str(refused.value)
    assert "needs root" in message and "--same-user" in message
    assert "read the reference and the hidden tests" in message and "leave processes running" in message


def test_with_same_user_it_grades_as_the_callers_user(tmp_path: Path) -> None:
    subs = tmp_path / "subs"
    (subs / "carol").mkdir(parents=True)
    shutil.copy(SOLUTIONS_PACKAGE / "backoff.py", subs / "carol" / "backoff.py")
    said: list[str] = []
    rows = grade_class(subs, tmp_path / "out", same_user=True, exercises=["ex3"], say=said.append)
    assert [row.points["ex3"] for row in rows] == [FULL["ex3"]] and [row.public["ex3"] for row in rows] == [FULL["ex3"]]
    assert not IS_ROOT or said == ["grade-class: --same-user as root: every submission runs as root"]
    assert os.access(tmp_path / "out" / "carol" / "results.json", os.R_OK)


def test_an_exercise_without_hidden_tests_is_graded_by_its_public_tests_and_the_note_says_so(tmp_path: Path) -> None:
    from tests.grader.sealed import Verdict
    from tools.class_grading import Prepared, _result, hidden_exercises

    assert {"ex2", "ex3"} <= hidden_exercises(ROOT)
    verdict = Verdict("ex3", FULL["ex3"], score=FULL["ex3"], passed_all=True)
    verdict.tests = [{"name": "ex3: test_one", "score": FULL["ex3"], "max_score": FULL["ex3"], "status": "passed",
                      "output": ""}]  # fmt: skip
    result = _result(Prepared("ann", tmp_path, ""), CATALOG, ["ex3"], {}, {"ex3": verdict}, "after_due_date", "")
    assert result.points["ex3"] == FULL["ex3"] and result.report["score"] == FULL["ex3"]
    assert result.note == "ex3 has no hidden tests: its public tests decide"
    assert [t["name"] for t in result.report["tests"]] == ["hidden tests: the grade", "ex3: test_one"]


def test_a_stopped_hidden_run_keeps_only_the_exercises_it_finished_in_full(tmp_path: Path) -> None:
    from tests.grader.launch import GradingRun
    from tools.class_grading import _finished_exercises

    def entry(name: str) -> dict[str, object]:
        return {"name": name, "score": 1.0, "max_score": 1.0, "status": "passed", "output": ""}

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps({
        "collected": ["ex2 (hidden): test_a", "ex2 (hidden): test_b", "ex3 (hidden): test_c", "ex3 (hidden): test_d"],
        "tests": [entry("ex2 (hidden): test_a"), entry("ex2 (hidden): test_b"), entry("ex3 (hidden): test_c")],
    }), encoding="utf-8")  # fmt: skip
    stopped = GradingRun(None, "output", None, timed_out=True)
    kept = _finished_exercises(partial, ["ex2", "ex3", "ex4"], stopped)
    assert list(kept) == ["ex2"] and kept["ex2"].report == {"tests": [entry("ex2 (hidden): test_a"),
                                                                     entry("ex2 (hidden): test_b")]}  # fmt: skip
    assert _finished_exercises(tmp_path / "none.json", ["ex2"], stopped) == {}

"""Grading a whole class (``python -m tools grade-class``): every submission form is graded, each in
isolation, and a broken or hostile submission never stops the others nor changes their grades.

The submissions are made on the fly from the reference: honest ones in each accepted form (a
repository folder, a zip of the package, loose files laid over the stubs), and hostile ones (a
syntax error, ``os._exit(0)`` at import, an endless loop, one that deletes every file it can reach,
one that prints without end).
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tools.class_grading import SubmissionError, find_submissions, grade_class, unpack
from tools.generate_learner import SOLUTIONS_PACKAGE, generate_package

ROOT = Path(__file__).resolve().parents[2]
CATALOG = load_catalog()
FULL = {ex.id: float(ex.points) for ex in CATALOG.values()}
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
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
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
    # Broken and hostile submissions.
    _append(_reference(subs / "dave") / "backoff.py", "def broken(:")
    _append(_reference(subs / "erin") / "__init__.py", "import os\nos._exit(0)")
    _inside_backoff_delay(_reference(subs / "frank"), "    while True:\n        pass\n")
    deleter = (
        "import pathlib, shutil\n"
        f"shutil.rmtree({str(subs)!r}, ignore_errors=True)\n"  # every submission's original
        "shutil.rmtree(pathlib.Path.cwd(), ignore_errors=True)\n"  # its own copy of the grader
    )
    _append(_reference(subs / "grace") / "__init__.py", deleter)
    noisy = "    print('x' * 1_000_000)\n    raise ValueError('noisy')\n"  # each failing test reports 1 MB of output
    _inside_backoff_delay(_reference(subs / "heidi"), noisy)
    (subs / "ivan.zip").write_bytes(b"this is not a zip")
    rows = grade_class(subs, out, jobs=2, timeout_s=180.0, test_timeout_s=4.0)
    assert [row.learner for row in rows] == sorted(row.learner for row in rows)
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        table = {row["learner"]: row for row in csv.DictReader(handle)}
    return table, out, subs


def _points(row: dict[str, str]) -> dict[str, float]:
    return {ex: float(row[ex]) for ex in CATALOG}


def test_grades_csv_has_a_row_per_learner_with_points_per_exercise_and_total(graded: Graded) -> None:
    table, out, _ = graded
    assert set(table) == {"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan"}
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == ["learner", *CATALOG, "total", "note"]
    for learner, row in table.items():
        assert float(row["total"]) == sum(_points(row).values()), learner
        assert (out / learner / "results.json").is_file(), f"no results.json for {learner}"


def test_each_submission_form_is_graded_as_its_code_deserves(graded: Graded) -> None:
    table, out, _ = graded
    assert _points(table["alice"]) == FULL, "a repository with llm_client/ anywhere inside"
    assert _points(table["bob"]) == {ex: FULL[ex] if ex == "ex3" else 0.0 for ex in FULL}, "a zip of the package"
    assert _points(table["carol"]) == {ex: FULL[ex] if ex == "ex3" else 0.0 for ex in FULL}, "loose files"
    assert table["carol"]["note"] == "loose files: backoff.py"
    report = json.loads((out / "alice" / "results.json").read_text(encoding="utf-8"))
    assert report["score"] == sum(FULL.values()) and all(t["status"] == "passed" for t in report["tests"])


def test_a_broken_or_hostile_submission_costs_only_its_own_points(graded: Graded) -> None:
    table, out, subs = graded
    assert not subs.exists(), "the deleting submission did run"
    assert _points(table["dave"])["ex3"] == 0.0, "a syntax error in backoff.py costs ex3"
    assert _points(table["erin"]) == dict.fromkeys(FULL, 0.0), "os._exit(0) at import earns nothing"
    assert "graded one exercise per process" in table["erin"]["note"]
    frank = _points(table["frank"])
    assert frank["ex3"] < FULL["ex3"] and frank["ex2"] == FULL["ex2"], "an endless loop costs its tests only"
    assert "Timeout" in json.dumps(json.loads((out / "frank" / "results.json").read_text(encoding="utf-8")))
    heidi = _points(table["heidi"])
    assert heidi["ex3"] < FULL["ex3"] and heidi["ex2"] == FULL["ex2"]
    assert (out / "heidi" / "output.txt").stat().st_size < 1_000_000, "the output kept is bounded"
    assert float(table["ivan"]["total"]) == 0.0 and "not a readable zip" in table["ivan"]["note"]


def test_unpacking_refuses_a_zip_that_writes_outside_its_folder(tmp_path: Path) -> None:
    bad = tmp_path / "evil.zip"
    with zipfile.ZipFile(bad, "w") as archive:
        archive.writestr("../outside.py", "x = 1\n")
    with pytest.raises(SubmissionError, match="refused member"):
        unpack(bad, tmp_path / "dest")
    assert not (tmp_path / "outside.py").exists()


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

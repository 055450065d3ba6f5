"""The Gradescope autograder zip (tools/build_gradescope.py): run_autograder grades a submission into results.json."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.grader.catalog import load_catalog
from tools.build_gradescope import build
from tools.generate_learner import generate_package

ROOT = Path(__file__).resolve().parents[2]

CATALOG = load_catalog()
REQUIRED_TOTAL = float(sum(ex.points for ex in CATALOG.values() if not ex.optional))


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("zip") / "autograder.zip")


def install(zip_path: Path, root: Path) -> None:
    """Lay the zip out as Gradescope does: the contents in source/, run_autograder at the root."""
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(root / "source")
        for info in archive.infolist():
            mode = info.external_attr >> 16
            if mode:
                os.chmod(root / "source" / info.filename, stat.S_IMODE(mode))
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()


def run_autograder(root: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AUTOGRADER_ROOT": str(root),
        "AUTOGRADER_PYTHON": sys.executable,
        "HOME": str(root),
    }
    done = subprocess.run(
        [str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    results = root / "results" / "results.json"
    assert results.is_file(), done.stdout + done.stderr
    return done, json.loads(results.read_text(encoding="utf-8"))


def test_the_zip_holds_setup_run_autograder_and_the_grader(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        requirements = archive.read("requirements-grader.txt").decode()
    expected = {"setup.sh", "run_autograder", "grade_submission.py", "tests/conftest.py", "tests/grader/grading.py"}
    assert expected <= names
    assert {ex.grader for ex in CATALOG.values()} <= names
    assert "exercises.toml" in names and "pyproject.toml" in names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any(n.startswith(("solutions/", "llm_client/", "tools/", "tests/kit/")) for n in names), names
    for package in ("httpx", "pydantic", "pytest", "respx"):
        assert package in requirements


def test_the_shell_scripts_parse(autograder_zip: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        archive.extractall(tmp_path)
    for script in ("setup.sh", "run_autograder"):
        done = subprocess.run(["bash", "-n", str(tmp_path / script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_run_autograder_grades_a_submission_into_results_json(autograder_zip: Path, tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    install(autograder_zip, root)
    # A repository-shaped submission with only exercise 2 solved.
    generate_package(root / "submission" / "my-repo" / "llm_client", keep={"ex2"})
    done, results = run_autograder(root)
    assert done.returncode == 0, done.stderr
    assert results["score"] == CATALOG["ex2"].points
    assert results["max_score"] == REQUIRED_TOTAL
    tests = results["tests"]
    assert tests and {t["name"].split(":")[0] for t in tests} == set(CATALOG)
    for test in tests:
        assert test["status"] in ("passed", "failed")
        assert test["score"] in (0.0, test["max_score"]) and test["max_score"] > 0
        assert isinstance(test["output"], str)
        assert (test["status"] == "passed") == test["name"].startswith("ex2:"), test
    assert f"total: {CATALOG['ex2'].points} of {REQUIRED_TOTAL:g} points" in results["output"]
    assert "total:" in done.stdout, "the grader's table goes to Gradescope's stdout too"


def test_a_submission_without_llm_client_scores_zero_with_a_message(autograder_zip: Path, tmp_path: Path) -> None:
    root = tmp_path / "autograder"
    install(autograder_zip, root)
    (root / "submission" / "README.md").write_text("nothing here\n", encoding="utf-8")
    done, results = run_autograder(root)
    assert done.returncode == 0
    assert results["score"] == 0.0 and results["tests"] == []
    assert "No llm_client/ package was found" in results["output"]

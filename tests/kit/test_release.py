"""The learner-only copy (tools/release.py) and the GitHub Classroom workflow it ships."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

from build_classroom import WORKFLOW, build  # noqa: E402
from catalog import load_catalog  # noqa: E402

CATALOG = load_catalog()
REQUIRED_TOTAL = sum(ex.points for ex in CATALOG.values() if not ex.optional)
RELEASE = ROOT / "tools" / "release.py"


def learner_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",) and not k.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only for speed: the grader needs no plugin
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "course"
    done = subprocess.run([sys.executable, str(RELEASE), str(dest)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return dest


def test_the_copy_holds_the_course_and_the_grader(release_dir: Path) -> None:
    for rel in ("llm_client/__init__.py", "tests/conftest.py", "tests/grader/grading.py", "exercises.toml",
                "pyproject.toml", "requirements.txt", "README.md", ".github/workflows/classroom.yml"):
        assert (release_dir / rel).is_file(), rel
    for ex in CATALOG.values():
        assert (release_dir / ex.grader).is_file(), ex.grader
    readme = (release_dir / "README.md").read_text(encoding="utf-8")
    assert "--solutions" not in readme and "pytest -m ex2" in readme
    assert all(ex.notebook in readme for ex in CATALOG.values())


def test_the_copy_holds_no_answers_and_no_instructor_files(release_dir: Path) -> None:
    for rel in ("solutions", "tools", "tests/kit", "bench", ".ci", "requirements-dev.txt"):
        assert not (release_dir / rel).exists(), rel
    for path in release_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"# BEGIN SOLUTION" not in data and b"# END SOLUTION" not in data, path
            assert b"mutant" not in data.lower() or path.suffix == ".ipynb", path


def test_the_grader_runs_on_the_copy_and_gives_0_points_with_the_table(release_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=release_dir,
        env=learner_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert f"llm_client under test: {release_dir / 'llm_client'}" in output
    assert f"total: 0 of {REQUIRED_TOTAL} points" in output, output[-3000:]
    assert all(f"{ex} not started" in output for ex in CATALOG), output[-3000:]
    assert "Traceback" not in output and "error" not in output.lower().split("= grade =")[0], output[-3000:]


def test_solutions_flag_is_refused_in_the_copy(release_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--solutions", "-p", "no:cacheprovider", "--co", "-q"],
        cwd=release_dir,
        env=learner_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 4 and "has no solutions/" in done.stderr, done.stdout + done.stderr


def test_release_refuses_a_folder_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x", encoding="utf-8")
    done = subprocess.run([sys.executable, str(RELEASE), str(tmp_path)], capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "is not empty" in done.stderr


def test_the_classroom_workflow_is_up_to_date_with_the_catalog() -> None:
    assert WORKFLOW.read_text(encoding="utf-8") == build(), "run: python tools/build_classroom.py"


def test_the_classroom_workflow_has_one_step_per_required_exercise_with_its_points() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for ex in CATALOG.values():
        step = f"        id: {ex.id}\n"
        if ex.optional:
            assert step not in text
            continue
        assert step in text
        block = text[text.index(step) :].split("      - name:")[0]
        assert f"command: 'python -m pytest tests/grader -m {ex.id}'" in block
        assert f"max-score: {ex.points}\n" in block
        assert f"{ex.id.upper()}_RESULTS: \"${{{{steps.{ex.id}.outputs.result}}}}\"" in text
    runners = [ex.id for ex in CATALOG.values() if not ex.optional]
    assert f"runners: {','.join(runners)}\n" in text

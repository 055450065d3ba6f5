"""The learner-only copy (tools/release.py) and the GitHub Classroom workflow it ships."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tools.build_classroom import WORKFLOW, build

ROOT = Path(__file__).resolve().parents[2]

CATALOG = load_catalog()
REQUIRED_TOTAL = sum(ex.points for ex in CATALOG.values() if not ex.optional)
RELEASE = [sys.executable, "-m", "tools", "release"]

#: Folders that exist only in the instructor's copy; the learner copy must not send anyone looking for them.
INSTRUCTOR_ONLY = ("solutions/", "tools/", "tests/kit", "bench/")
#: Files of the learner copy allowed to name them anyway, and why.
INSTRUCTOR_ONLY_ALLOWED = {
    # The same conftest serves both copies: it must know where the reference and the kit's tests
    # would be, to refuse --solutions with a clear message and to leave tests/kit/ out of a grading run.
    # Its docstrings say "instructor copies only", and --help hides --solutions where solutions/ is absent.
    "tests/conftest.py",
}


def learner_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",) and not k.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"  # only for speed: the grader needs no plugin
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


@pytest.fixture(scope="module")
def release_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("release") / "course"
    done = subprocess.run([*RELEASE, str(dest)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return dest


def test_the_copy_holds_the_course_and_the_grader(release_dir: Path) -> None:
    for rel in ("llm_client/__init__.py", "tests/conftest.py", "tests/grader/grading.py", "exercises.toml",
                "pyproject.toml", "requirements.txt", "README.md", ".github/workflows/classroom.yml"):
        assert (release_dir / rel).is_file(), rel
    for ex in CATALOG.values():
        assert (release_dir / ex.grader).is_file(), ex.grader
    readme = (release_dir / "README.md").read_text(encoding="utf-8")
    assert "--solutions" not in readme and "pytest -m ex3" in readme
    assert all(ex.notebook in readme for ex in CATALOG.values())


def test_the_copy_holds_no_answers_and_no_instructor_files(release_dir: Path) -> None:
    for rel in ("solutions", "tools", "tests/kit", "tests/hidden", "bench", ".ci", "requirements-dev.txt"):
        assert not (release_dir / rel).exists(), rel
    for path in release_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"# BEGIN SOLUTION" not in data and b"# END SOLUTION" not in data, path
            assert b"mutant" not in data.lower() or path.suffix == ".ipynb", path


def test_the_copy_sends_no_one_to_instructor_only_files(release_dir: Path) -> None:
    mentions = []
    for path in sorted(release_dir.rglob("*")):
        rel = path.relative_to(release_dir).as_posix()
        if not path.is_file() or rel in INSTRUCTOR_ONLY_ALLOWED:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # not a text file
        for number, line in enumerate(text.splitlines(), start=1):
            mentions += [f"{rel}:{number}: {line.strip()}" for name in INSTRUCTOR_ONLY if name in line]
    assert mentions == []
    assert all((release_dir / rel).is_file() for rel in INSTRUCTOR_ONLY_ALLOWED)


def test_the_copy_rewrites_only_the_lines_about_instructor_files(release_dir: Path) -> None:
    pyproject = (release_dir / "pyproject.toml").read_text(encoding="utf-8")
    original = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    markers = tomllib.loads(pyproject)["tool"]["pytest"]["ini_options"]["markers"]
    expected = tomllib.loads(original)["tool"]["pytest"]["ini_options"]["markers"]
    assert markers == [m for m in expected if not m.startswith("kit:")] and len(markers) == len(expected) - 1
    assert len(pyproject.splitlines()) == len(original.splitlines()) - 1

    catalog = (release_dir / "exercises.toml").read_text(encoding="utf-8")
    assert tomllib.loads(catalog) == tomllib.loads((ROOT / "exercises.toml").read_text(encoding="utf-8"))
    assert "# id        the exercise id; also the grader's pytest marker\n" in catalog
    assert "solution" not in catalog.lower() and "instructor" not in catalog.lower()

    workflow = (release_dir / ".github" / "workflows" / "classroom.yml").read_text(encoding="utf-8")
    assert workflow.startswith("# The autograding workflow: ")
    assert "build_classroom" not in workflow
    code = [line for line in workflow.splitlines() if not line.startswith("#")]
    assert code == [line for line in WORKFLOW.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]


def test_the_readme_says_where_each_autograder_runs_the_tests(release_dir: Path) -> None:
    readme = " ".join((release_dir / "README.md").read_text(encoding="utf-8").split())
    assert "GitHub Classroom, every push runs this grader in your repository" in readme
    assert "the optional exercises are not autograded there" in readme
    assert "which run your exercise files in a process of their own" in readme
    assert "the autograder uses its own copy" not in readme


def test_pytest_help_in_the_copy_does_not_offer_solutions(release_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--help", "-p", "no:cacheprovider"],
        cwd=release_dir,
        env=learner_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--grade-report" in done.stdout and "--solutions" not in done.stdout and "solutions/" not in done.stdout


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
    done = subprocess.run([*RELEASE, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 1 and "is not empty" in done.stderr


def test_the_classroom_workflow_is_up_to_date_with_the_catalog() -> None:
    assert WORKFLOW.read_text(encoding="utf-8") == build(), "run: python -m tools classroom"


def test_the_classroom_workflow_has_one_step_per_required_exercise_with_its_points() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for ex in CATALOG.values():
        step = f"        id: {ex.id}\n"
        if ex.optional:
            assert step not in text
            continue
        assert step in text
        block = text[text.index(step) :].split("      - name:")[0]
        assert f"step {ex.id} --repository ." in block and "git archive" in block, block
        assert f"max-score: {ex.points}\n" in block
        assert f"{ex.id.upper()}_RESULTS: \"${{{{steps.{ex.id}.outputs.result}}}}\"" in text
    runners = [ex.id for ex in CATALOG.values() if not ex.optional]
    assert f"runners: {','.join(runners)}\n" in text

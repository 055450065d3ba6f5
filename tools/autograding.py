"""What the autograders share: the file that pins the grader's packages, and the files it runs from."""

from __future__ import annotations

from pathlib import Path

from tests.grader.catalog import ROOT

#: The files a grader run needs besides the package under test (relative to the repository root).
GRADER_FILES = ("pyproject.toml", "exercises.toml", "tests/__init__.py", "tests/conftest.py")
GRADER_DIR = "tests/grader"
#: The grader's packages, pinned to exact versions (installed by Classroom, Gradescope and learners).
GRADER_REQUIREMENTS = "requirements-grader.txt"


def grader_files(root: Path = ROOT) -> list[Path]:
    """The grader's own files (relative paths): conftest, plugin, one test file per exercise, catalog, config."""
    files = [Path(f) for f in GRADER_FILES]
    files += sorted(p.relative_to(root) for p in (root / GRADER_DIR).glob("*.py"))
    return files

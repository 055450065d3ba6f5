"""What the autograders share: the packages the grader needs, and the files it runs from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.grader.catalog import ROOT

#: The files a grader run needs besides the package under test (relative to the repository root).
GRADER_FILES = ("pyproject.toml", "exercises.toml", "tests/__init__.py", "tests/conftest.py")
GRADER_DIR = "tests/grader"
#: Packages the grader itself needs, on top of llm_client's own dependencies.
GRADER_TOOLS = ("pytest", "respx")


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9_.\-]+", requirement.strip())
    return match[0].lower().replace("_", "-") if match else ""


def grader_requirements(root: Path = ROOT) -> list[str]:
    """The requirement lines a grader run installs: llm_client's dependencies, pytest and respx.

    The version ranges come from requirements.txt (the course's pins), falling back to
    pyproject.toml's dependency list.
    """
    with open(root / "pyproject.toml", "rb") as handle:
        runtime = tomllib.load(handle)["project"]["dependencies"]
    pinned: dict[str, str] = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            pinned[_name(line)] = line
    wanted = [_name(r) for r in runtime] + list(GRADER_TOOLS)
    requirements = []
    for name, fallback in zip(wanted, [*runtime, *GRADER_TOOLS], strict=True):
        requirements.append(pinned.get(name, fallback))
    return requirements


def grader_files(root: Path = ROOT) -> list[Path]:
    """The grader's own files (relative paths): conftest, plugin, one test file per exercise, catalog, config."""
    files = [Path(f) for f in GRADER_FILES]
    files += sorted(p.relative_to(root) for p in (root / GRADER_DIR).glob("*.py"))
    return files

"""Both packages, the tests and the tools stay ruff-clean, and both packages mypy --strict clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(*command: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_ruff_finds_nothing_in_the_kit() -> None:
    run = _run(sys.executable, "-m", "ruff", "check", "--no-cache", ".")
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("package_root", ["solutions", "."], ids=["reference", "learner"])
def test_mypy_strict_finds_nothing_in_the_package(package_root: str, tmp_path: Path) -> None:
    run = _run(
        sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"),
        "--cache-dir", str(tmp_path / "mypy"), "-p", "llm_client",
        cwd=ROOT / package_root,
    )
    assert run.returncode == 0, run.stdout + run.stderr

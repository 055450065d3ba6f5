"""Choose which llm_client package the tests import, and load the grader.

- plain ``pytest`` grades the learner package ``llm_client/`` of this repository;
- ``pytest --solutions`` grades the reference in ``solutions/`` (instructor
  copies only; it sets PYTHONPATH so subprocesses and notebook kernels import
  it too);
- ``PYTHONPATH=DIR pytest`` grades the ``llm_client`` package in DIR.

The chosen directory is put first on ``sys.path``, ahead of the current
directory and of an editable install, so ``python -m pytest`` picks the same
package as ``pytest``. The grader plugin (tests/grader/grading.py) prints the
score table at the end of every run that includes grader tests, and writes a
Gradescope results.json with ``--grade-report PATH``.
"""

from __future__ import annotations

import sys

# Before anything that needs Python 3.11 (the grader reads its catalog with tomllib): say so plainly and stop.
if sys.version_info < (3, 11):  # noqa: UP036
    _you_have = ".".join(str(part) for part in sys.version_info[:3])
    print(f"this course needs Python 3.11 or newer; you have {_you_have}", file=sys.stderr)
    raise SystemExit(4)  # pytest's exit code for a usage error

import argparse
import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
PACKAGE = "llm_client"


def _package_dir_from_pythonpath() -> Path | None:
    """The first PYTHONPATH entry that holds an llm_client package, or None."""
    for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep):
        if entry and (Path(entry) / PACKAGE / "__init__.py").is_file():
            return Path(entry).resolve()
    return None


def _use_package_from(directory: Path) -> None:
    """Make ``import llm_client`` load ``directory/llm_client``, forgetting any copy imported before."""
    wanted = str(directory)
    sys.path[:] = [entry for entry in sys.path if entry != wanted]
    sys.path.insert(0, wanted)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


def _load_grader_plugin() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llm_client_grader", ROOT / "tests" / "grader" / "grading.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# Decided at import, before any test module (or another conftest) imports llm_client.
_use_package_from(_package_dir_from_pythonpath() or ROOT)
grading = _load_grader_plugin()


def pytest_addoption(parser: pytest.Parser) -> None:
    # Listed in --help only where there is a reference to grade; still refused clearly where there is none.
    parser.addoption(
        "--solutions",
        action="store_true",
        help="grade the reference package in solutions/ instead of the learner package"
        if SOLUTIONS.is_dir()
        else argparse.SUPPRESS,
    )
    grading.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--solutions"):
        if not (SOLUTIONS / PACKAGE / "__init__.py").is_file():
            raise pytest.UsageError("--solutions: this copy of the course has no solutions/ (run plain pytest)")
        _use_package_from(SOLUTIONS)
        # Subprocesses (notebook kernels, the cross-process tests) import the same package.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOLUTIONS), os.environ.get("PYTHONPATH")]))
    grading.register(config, root=ROOT)


def pytest_report_header(config: pytest.Config) -> str:
    spec = importlib.util.find_spec(PACKAGE)
    where = Path(spec.origin).parent if spec and spec.origin else "not found"
    return f"llm_client under test: {where}"


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave the kit's own tests (tests/kit/, instructor copies only) out of a grading run.

    They test the reference, so they are collected with --solutions, when the
    package under test is the reference anyway, or when named on the command line.
    """
    kit = ROOT / "tests" / "kit"
    if collection_path != kit or config.getoption("--solutions"):
        return None
    spec = importlib.util.find_spec(PACKAGE)  # located, not imported: a broken package is graded, not raised here
    if spec is not None and spec.origin and Path(spec.origin).resolve().is_relative_to(SOLUTIONS):
        return None
    named = any(Path(arg.split("::")[0]).resolve().is_relative_to(kit) for arg in config.args)
    return None if named else True

"""Choose which llm_client package the tests import, and load the grader.

- plain ``pytest`` grades the learner package ``llm_client/`` of this repository;
- ``pytest --solutions`` grades the reference in ``solutions/`` (instructor
  copies only; it sets PYTHONPATH so subprocesses and notebook kernels import
  it too);
- ``PYTHONPATH=DIR pytest`` grades the ``llm_client`` package in DIR.

The chosen directory is put first on ``sys.path`` (for what the tests start), and
a finder ahead of every other makes ``import llm_client`` load it, ahead of the
current directory and of an editable install, so ``python -m pytest`` picks the
same package as ``pytest``. The grader plugin (tests/grader/grading.py) prints the
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
import importlib.abc
import importlib.machinery
import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

from tests.grader import grading
from tests.grader.launch import PACKAGE, package_parent_from_pythonpath

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
HIDDEN = ROOT / "tests" / "hidden"


class _PackageFinder(importlib.abc.MetaPathFinder):
    """Finds ``llm_client`` in the chosen directory only, whatever else sys.path or an install offers.

    pytest puts the repository root first on sys.path before it imports each test
    module of the ``tests`` package; the root holds the learner package, which must
    not win over the package chosen for the run.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != PACKAGE:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, [str(self.directory)])


_finder = _PackageFinder(ROOT)


def _use_package_from(directory: Path) -> None:
    """Make ``import llm_client`` load ``directory/llm_client``, forgetting any copy imported before."""
    wanted = str(directory)
    sys.path[:] = [entry for entry in sys.path if entry != wanted]
    sys.path.insert(0, wanted)
    _finder.directory = directory
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    importlib.invalidate_caches()


# Decided at import, before any test module (or another conftest) imports llm_client.
_use_package_from(package_parent_from_pythonpath() or ROOT)


def pytest_addoption(parser: pytest.Parser) -> None:
    # Listed in --help only where there is a reference to grade; still refused clearly where there is none.
    parser.addoption(
        "--solutions",
        action="store_true",
        help="grade the reference package in solutions/ instead of the learner package"
        if SOLUTIONS.is_dir()
        else argparse.SUPPRESS,
    )
    parser.addoption(
        "--hidden",
        action="store_true",
        help="add the hidden tier (tests/hidden/: the submission compared with the reference in child processes)"
        if HIDDEN.is_dir()
        else argparse.SUPPRESS,
    )
    grading.add_options(parser)
    grading.add_hidden_visibility_option(parser)


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--hidden") and not (HIDDEN / "conftest.py").is_file():
        raise pytest.UsageError("--hidden: this copy of the course has no hidden tests (instructor copies only)")
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


def _selected_exercises(config: pytest.Config) -> set[str] | None:
    """The exercises ``-m`` selects when it names only exercise ids ("ex3", "ex2 or ex4"), else None."""
    expression = (config.getoption("markexpr", "") or "").strip()
    words = expression.split()
    ids = words[::2]
    if not words or any(word != "or" for word in words[1::2]) or not all(grading.EXERCISE_MARK.match(w) for w in ids):
        return None
    return set(ids)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Leave out of a grading run what it cannot select: the kit's tests, and other exercises' grader files.

    The kit's own tests (tests/kit/, instructor copies only) test the reference, so they
    are collected with --solutions, when the package under test is the reference anyway,
    or when named on the command line. ``-m ex3`` collects only ex3's grader file (the
    catalog names it; each of its tests is marked ex3 and no other file's is), so a run
    of one exercise imports only what that exercise's tests import.
    """
    selected = _selected_exercises(config)
    plugin = config.pluginmanager.get_plugin("llm-client-grader")
    if selected is not None and plugin is not None and collection_path.suffix == ".py":
        owner = plugin.exercise_of_file(collection_path)
        if owner is not None and owner not in selected:
            return True
    if collection_path == HIDDEN:
        return None if config.getoption("--hidden") else True
    kit = ROOT / "tests" / "kit"
    if collection_path != kit or config.getoption("--solutions"):
        return None
    spec = importlib.util.find_spec(PACKAGE)  # located, not imported: a broken package is graded, not raised here
    if spec is not None and spec.origin and Path(spec.origin).resolve().is_relative_to(SOLUTIONS):
        return None
    named = any(Path(arg.split("::")[0]).resolve().is_relative_to(kit) for arg in config.args)
    return None if named else True

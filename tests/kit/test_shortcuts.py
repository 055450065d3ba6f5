"""No shortcut earns points: each one, on a submission with only ex3 solved, gets no more than the honest score.

Every case runs the real entry points: the Classroom step commands of the committed workflow,
run as GitHub Classroom's command grader runs them, and Gradescope's run_autograder from the
built zip (as an unprivileged user when the tests run as root). The honest score of each
submission is 0 for ex2 (a stub), which every shortcut is tried on; shortcuts that leave the
submission's code working must also still earn ex3's points.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tests.kit.platform_runs import (
    IS_ROOT,
    UNPRIVILEGED,
    add_files,
    classroom_step,
    install_gradescope,
    make_repository,
    python_for,
    run_autograder,
    score_by_exercise,
)
from tools.build_gradescope import build

CATALOG = load_catalog()
HONEST = CATALOG["ex3"].points
#: Set by a forged report: every test of every exercise passed.
FORGED = '{"score": 1000, "tests": [], "body": "{}", "seal": "0"}'

FORCE_PASS_CONFTEST = """\
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    report.longrepr = None
    return report
"""

#: A shortcut: the files it adds to the submission (a text starting with '+' is appended to the file).
SHORTCUTS: dict[str, dict[str, str]] = {
    "conftest.py at the repository root": {"conftest.py": FORCE_PASS_CONFTEST},
    "conftest.py inside llm_client": {"llm_client/conftest.py": FORCE_PASS_CONFTEST},
    "pytest.py at the root": {"pytest.py": "import sys\nsys.exit(0)\n"},
    "_pytest package at the root": {"_pytest/__init__.py": "import sys\nsys.exit(0)\n"},
    "os._exit(0) at import": {"llm_client/__init__.py": "+import os\nos._exit(0)\n"},
    "sys.exit(0) at import": {"llm_client/__init__.py": "+import sys\nsys.exit(0)\n"},
    "atexit handler that rewrites the results": {
        "llm_client/__init__.py": "+"
        + f"""
import atexit as _atexit
import sys as _sys


def _rewrite() -> None:
    targets = [a for a in _sys.argv if a.endswith(".json")] + ["@RESULTS@"]
    for target in targets:
        try:
            with open(target, "w") as handle:
                handle.write({FORGED!r})
        except OSError:
            pass


_atexit.register(_rewrite)
"""
    },
    "grader plugin patched through sys.modules": {
        "llm_client/__init__.py": "+"
        + """
import sys as _sys

for _module in list(_sys.modules.values()):
    if hasattr(_module, "GraderPlugin") and hasattr(_module, "TestResult"):
        _module.TestResult.passed = property(lambda self: True)
        _module.TestResult.score = property(lambda self: self.points)
"""
    },
    "pytest's test reports patched through sys.modules": {
        "llm_client/__init__.py": "+"
        + """
import sys as _sys

_reports = _sys.modules["_pytest.reports"]
_original = _reports.TestReport.__init__


def _passed(self, *args, **kwargs):
    _original(self, *args, **kwargs)
    self.outcome = "passed"
    self.longrepr = None


_reports.TestReport.__init__ = _passed
"""
    },
}
#: Shortcuts that leave the submission's own answers working: they must get exactly the honest score.
HARMLESS = {
    "conftest.py at the repository root",
    "conftest.py inside llm_client",
    "pytest.py at the root",
    "_pytest package at the root",
}


def submission(dest: Path, shortcut: str, results: Path) -> Path:
    make_repository(dest, keep={"ex3"})
    files = {rel: text.replace("@RESULTS@", str(results)) for rel, text in SHORTCUTS[shortcut].items()}
    add_files(dest, files)
    return dest


@pytest.mark.parametrize("shortcut", list(SHORTCUTS))
def test_a_shortcut_earns_no_more_than_the_honest_score_on_classroom(shortcut: str, tmp_path: Path) -> None:
    repo = submission(tmp_path / "repo", shortcut, tmp_path / "results.json")
    unsolved = classroom_step(repo, "ex2")
    assert unsolved.score == 0, unsolved.output[-3000:]
    if shortcut in HARMLESS:  # and the submission's own answer still earns its points
        solved = classroom_step(repo, "ex3")
        assert solved.score == HONEST, solved.output[-3000:]


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture(scope="module")
def unprivileged_python() -> Iterator[str]:
    """An interpreter the unprivileged user can run; skips where the tests cannot switch user."""
    if not IS_ROOT:
        pytest.skip("running the submission as an unprivileged user needs root")
    with python_for(UNPRIVILEGED) as python:
        if python is None:
            pytest.skip(f"no Python here that {UNPRIVILEGED} can run with the kit's packages")
        yield python


@pytest.mark.parametrize("shortcut", list(SHORTCUTS))
def test_a_shortcut_earns_no_more_than_the_honest_score_on_gradescope(
    shortcut: str, autograder_zip: Path, unprivileged_python: str, tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    submission(root / "submission" / "my-repo", shortcut, root / "results" / "results.json")
    graded = "ex2,ex3" if shortcut in HARMLESS else "ex2"
    env = {"AUTOGRADER_EXERCISES": graded}
    done, results = run_autograder(root, unprivileged_python, user=UNPRIVILEGED, extra_env=env)
    assert score_by_exercise(results).get("ex2", 0.0) == 0.0, results["output"]
    assert results["score"] == (HONEST if shortcut in HARMLESS else 0.0), done.stdout[-3000:]

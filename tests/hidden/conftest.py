"""The hidden tier: each exercise graded by comparing the submission with the reference, in child processes.

Instructor copies only (``python -m tools release`` never ships ``tests/hidden/``).
``pytest --hidden`` adds these tests to a grading run. The package graded is the
run's (``--solutions``, ``PYTHONPATH=DIR`` or the learner package); only the
catalog's exercise files are taken from it, laid over a clean copy of the package.
Two children run: the submission and the reference (the oracle). This process
imports neither: the inputs go out and the descriptions come back as JSON.

Inputs are generated with hypothesis, derandomized, with a fixed number of
examples and no shrinking: the same submission gets the same grade every time,
and a wrong answer is graded as fast as a right one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.grader.catalog import load_catalog
from tests.grader.launch import package_parent_from_pythonpath
from tests.hidden import wire
from tests.hidden.remote import Answer, Child, lay_over

ROOT = Path(__file__).resolve().parent.parent.parent
SOLUTIONS = ROOT / "solutions"

settings.register_profile(
    "hidden",
    # No shrinking: a failing example is reported as generated. Shrinking reruns both children hundreds
    # of times, which would make a wrong answer take minutes to grade instead of seconds.
    phases=(Phase.explicit, Phase.generate),
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=60,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("hidden")


def graded_parent(config: pytest.Config) -> Path:
    """The folder holding the ``llm_client`` this run grades."""
    if config.getoption("--solutions"):
        return SOLUTIONS
    return package_parent_from_pythonpath() or ROOT


@pytest.fixture(scope="session")
def reference() -> Iterator[Child]:
    with Child(SOLUTIONS, label="reference") as child:
        yield child


@pytest.fixture(scope="session")
def submission(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Child]:
    from tools.generate_learner import generate_package

    work = tmp_path_factory.mktemp("hidden-submission")
    clean = work / "clean" / "llm_client"
    generate_package(clean)
    files = [file for exercise in load_catalog().values() for file in exercise.files]
    laid = lay_over(clean, graded_parent(request.config) / "llm_client", files, work / "graded")
    os.chmod(laid, 0o755)
    with Child(laid, label="submission") as child:
        yield child


class Pair:
    """The submission and the reference, run on the same inputs."""

    def __init__(self, submission: Child, reference: Child) -> None:
        self.submission = submission
        self.reference = reference

    def run(
        self, op: str, answers: Callable[[], Answer] | None = None, **args: Any
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run ``op`` in both children; a stateful op's proxies are answered by a fresh ``answers()`` in each."""
        got = self.submission.call(op, answers() if answers else None, **args)
        want = self.reference.call(op, answers() if answers else None, **args)
        return got, want

    def same_result(self, op: str, *, free: frozenset[str] = frozenset({"message"}), **args: Any) -> dict[str, Any]:
        """Assert that ``op`` returns or raises the same for both (what ``free`` names aside); return the
        submission's whole outcome."""
        got, want = self.run(op, **args)
        loose = free | {"traceback"}
        assert wire.without(got["result"], loose) == wire.without(want["result"], loose), (
            f"{op}({_short(args)}): expected {_short(want['result'])}, got {_short(got['result'])}"
        )
        return got


def _short(value: Any, limit: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@pytest.fixture(scope="session")
def pair(submission: Child, reference: Child) -> Pair:
    return Pair(submission, reference)

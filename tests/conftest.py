"""Choose which llm_client package the tests import.

Plain ``pytest`` grades the learner package ``llm_client/``; ``pytest --solutions``
grades the reference in ``solutions/``; ``PYTHONPATH=DIR pytest`` grades DIR's package.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--solutions",
        action="store_true",
        help="grade the reference package in solutions/ instead of the learner package",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--solutions"):
        sys.path.insert(0, str(SOLUTIONS))
        # Subprocesses (notebook kernels, the cross-process tests) import the same package.
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SOLUTIONS), os.environ.get("PYTHONPATH")]))
        for name in [m for m in sys.modules if m == "llm_client" or m.startswith("llm_client.")]:
            del sys.modules[name]

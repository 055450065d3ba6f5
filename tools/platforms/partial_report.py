"""A pytest plugin for the hidden tier's runs that grade-class and Gradescope start: a report that survives a kill.

``-p tools.platforms.partial_report --partial-report PATH`` writes to PATH, once the tests are collected and
again after each test, the names of the grader tests collected and the entries (as ``--grade-report`` writes
them) of those that finished. A run stopped at its time limit writes no ``--grade-report``; this file still
says which exercises were graded in full before it stopped, so only the others are run again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

GRADER_PLUGIN = "llm-client-grader"
_state: dict[str, Any] = {"config": None, "finished": set()}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--partial-report", default=None, metavar="PATH", help="write the finished tests here as they end")


def pytest_configure(config: pytest.Config) -> None:
    _state["config"] = config


def _write() -> None:
    config = _state["config"]
    path = config.getoption("--partial-report") if config is not None else None
    grader = config.pluginmanager.get_plugin(GRADER_PLUGIN) if config is not None else None
    if not path or grader is None:
        return
    names = {result.name: result.nodeid for result in grader.results.values()}
    tests = [t for t in grader.report().get("tests", []) if names.get(t.get("name")) in _state["finished"]]
    target = Path(path)
    partial = target.with_name(target.name + ".part")
    partial.write_text(json.dumps({"collected": sorted(names), "tests": tests}), encoding="utf-8")
    partial.replace(target)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    _write()


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "teardown":
        _state["finished"].add(report.nodeid)
        _write()

"""The grader's pytest plugin: points per exercise, a score table, and a Gradescope report.

Every grader test carries its exercise's marker (``pytest.mark.ex3``) and its
worth (``pytest.mark.points(2)``); it may name the catalog hint (exercises.toml)
that helps when it fails, ``pytest.mark.hint(n)``, counted from 1 (the first
hint when it names none). At the end of each run that included grader tests the
plugin prints one row per exercise: points earned of possible, a status, and
for an exercise that is not done the hint of its first failing test (where to
begin, the catalog's ``start``, while the exercise is not started); then the
total and where to go next. ``--hint N`` shows hint N of each exercise the run
grades instead (done or not): the next hint, asked for (``check("ex3", hint=2)`` in a notebook); an N
past the last hint of an exercise the run grades is a usage error that names the range.

A test that fails because an exercise stub still raises NotImplementedError is
reported in one line ("ex3 not started: backoff_delay still raises
NotImplementedError (see notebooks/...)") and counted as "not started" in
pytest's summary line; it still fails the run.

``--grade-report PATH`` writes Gradescope's results.json: top-level ``score``
and ``max_score``, and one entry per test whose ``name`` begins with its
exercise id, with ``score``, ``max_score``, ``status`` and ``output``.

Two tiers: the public grader tests (tests/grader/, shipped to learners) and, in
instructor copies, the hidden tests (tests/hidden/, added with ``--hidden``).
The table shows each tier's rows and total. When a run includes the hidden tier,
its tests carry the points in the report and the public tests are listed at
0 points (feedback); the hidden tests' Gradescope ``visibility`` is
``--hidden-visibility`` (``after_due_date`` unless told).

This module is registered by tests/conftest.py (``register``); it imports nothing
from llm_client, so it reports even when the package under test cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import re
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.grader.catalog import Exercise, load_catalog

EXERCISE_MARK = re.compile(r"^ex\d+$")
STUB_MESSAGE = re.compile(r"^(?P<ex>ex\d+): (?P<function>\S+) is not written yet \(see (?P<notebook>[^)]+)\)$")
NOT_STARTED = "not started"
PACKAGE = "llm_client"
#: Seconds a grader test may run in a run that set no ``--timeout`` (the autograders set 5 s).
GRADER_TEST_TIMEOUT_S = 5.0
#: Seconds a hidden-tier test may run, starting its two child processes included (each runs many examples).
HIDDEN_TEST_TIMEOUT_S = 60.0
# Where an error happened: a SyntaxError's own location line, or a traceback entry ("path.py:12: in f").
_SYNTAX_AT = re.compile(r'^E\s+File "(?P<path>[^"]+)", line (?P<line>\d+)')
_FRAME_AT = re.compile(r"^(?P<path>\S+\.py):(?P<line>\d+): in ")
_MESSAGE_LINES = 8
_MESSAGE_CHARS = 1000
_OUTPUT_LIMIT = 4000
_WIDTH = 100


@dataclass
class TestResult:
    """The grade of one grader test, filled in as its phases report."""

    nodeid: str
    name: str
    exercise: str
    points: float
    hint: int = 1
    tier: str = "public"
    failed: bool = False
    skipped: bool = False
    not_started: str | None = None
    output: str = ""

    @property
    def passed(self) -> bool:
        return not self.failed and not self.skipped

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0


@dataclass
class ExerciseTally:
    """The results of one exercise in this run."""

    info: Exercise
    results: list[TestResult] = field(default_factory=list)
    tier: str = "public"
    collection_error: str | None = None
    asked_hint: int | None = None

    @property
    def earned(self) -> float:
        return sum(r.score for r in self.results)

    @property
    def possible(self) -> float:
        return sum(r.points for r in self.results) if self.results else float(self.info.points)

    @property
    def status(self) -> str:
        if self.collection_error is not None:
            return "error: its tests could not be loaded"
        failing = [r for r in self.results if not r.passed]
        if not failing:
            return "passed"
        if all(r.not_started for r in failing) and len(failing) == len(self.results):
            return NOT_STARTED
        return f"{len(failing)} of {len(self.results)} tests failing"

    @property
    def hint(self) -> str | None:
        """The hint asked for (shown even once the exercise passes); else, while it does not pass, the catalog hint
        of the first failing test, or where to begin if not started."""
        if not self.info.hints or (self.status == "passed" and self.asked_hint is None):
            return None
        hints = self.info.hints
        if self.asked_hint is not None:  # in range: the plugin refused any other at collection
            number = self.asked_hint
            if number > len(hints):
                return f"--hint {number} is out of range: {self.info.id} has hints 1..{len(hints)}"
            return f"({number} of {len(hints)}) {hints[number - 1]}"
        if self.status == NOT_STARTED and self.info.start:
            return self.info.start
        failing = next((r for r in self.results if not r.passed), None)
        number = 1 if failing is None or self.status == NOT_STARTED else failing.hint
        return hints[min(max(number, 1), len(hints)) - 1]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader", "the exercise grader")
    group.addoption(
        "--grade-report",
        metavar="PATH",
        default=None,
        help="write a Gradescope results.json with the score of every grader test to PATH",
    )
    group.addoption(
        "--hint",
        metavar="N",
        type=_hint_number,
        default=None,
        help="show hint N (counted from 1) of each exercise the run grades, in place of the usual one",
    )


def add_hidden_visibility_option(parser: pytest.Parser) -> None:
    parser.getgroup("grader").addoption(
        "--hidden-visibility",
        choices=("hidden", "after_due_date", "after_published", "visible"),
        default="after_due_date",
        help="the Gradescope visibility of the hidden tier's tests in --grade-report (default after_due_date)",
    )


def _hint_number(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"--hint takes a hint number counted from 1, got {value!r}")
    return int(value)


def register(config: pytest.Config, *, root: Path) -> None:
    """Install the grader plugin for this run (called from tests/conftest.py)."""
    config.addinivalue_line("markers", "hint(n): the catalog hint (counted from 1) to show when a grader test fails")
    if not config.pluginmanager.has_plugin("llm-client-grader"):
        config.pluginmanager.register(GraderPlugin(config, root=root), "llm-client-grader")


def stub_not_started(exc: BaseException | None) -> re.Match[str] | None:
    """The parsed message of an exercise stub's NotImplementedError in ``exc``'s chain, or None."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, NotImplementedError):
            match = STUB_MESSAGE.match(str(exc))
            if match:
                return match
        exc = exc.__cause__ or exc.__context__
    return None


def not_started_line(match: re.Match[str]) -> str:
    return (
        f"{match['ex']} not started: {match['function']} still raises NotImplementedError "
        f"(see {match['notebook']})"
    )


def _in_package(path: str) -> str | None:
    """``path`` from its ``llm_client/`` on (the learner's file), or None when it is not in the package."""
    parts = path.replace("\\", "/").split("/")
    if PACKAGE not in parts[:-1]:
        return None
    start = len(parts) - 1 - parts[::-1].index(PACKAGE)
    return "/".join(parts[start:])


def error_summary(text: str) -> str:
    """One line for an error report: the error, and where in the learner's package it happened.

    "SyntaxError: invalid syntax in llm_client/backoff.py, line 62: def broken(:" for a file that
    does not compile; the deepest line of the package in the traceback for an error raised there.
    """
    lines = text.splitlines()
    errors = [line[1:].strip() for line in lines if line.startswith("E ") and line[1:].strip()]
    cause = errors[-1] if errors else "the tests could not be loaded"
    where: tuple[str, str, str] | None = None
    for index, line in enumerate(lines):
        match = _SYNTAX_AT.match(line) or _FRAME_AT.match(line)
        short = _in_package(match["path"]) if match else None
        if match and short:
            following = lines[index + 1] if index + 1 < len(lines) else ""
            code = following[1:].strip() if following.startswith("E ") else following.strip()
            where = (short, match["line"], code)
    if where is None:
        return cause
    path, line_no, code = where
    return f"{cause} in {path}, line {line_no}" + (f": {code}" if code else "")


def failure_message(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """The first lines of a failing test's error: for an assertion, what was expected and what came."""
    lines = excinfo.exconly(tryshort=True).splitlines()[:_MESSAGE_LINES]
    text = "\n".join(line.rstrip() for line in lines).strip()
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


class GraderPlugin:
    """Collects grader results and reports them (see the module docstring)."""

    def __init__(self, config: pytest.Config, *, root: Path) -> None:
        self.config = config
        self.root = root
        self.grader_dir = root / "tests" / "grader"
        self.hidden_dir = root / "tests" / "hidden"
        catalog_path = root / "exercises.toml"
        self.catalog = load_catalog(catalog_path) if catalog_path.is_file() else {}
        self.results: dict[str, TestResult] = {}
        self.collection_errors: dict[str, str] = {}
        self.hidden_collection_errors: dict[str, str] = {}
        self.started = time.monotonic()

    # -- collection --------------------------------------------------------------------------

    def _is_hidden_path(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.hidden_dir.resolve())

    def _is_grader_path(self, path: Path) -> bool:
        return path.resolve().is_relative_to(self.grader_dir.resolve()) or self._is_hidden_path(path)

    def exercise_of_file(self, path: Path) -> str | None:
        """The exercise whose grader file ``path`` is (the catalog's ``grader``, else its name), or None."""
        if not self._is_grader_path(path):
            return None
        if self._is_hidden_path(path):
            hidden = re.match(r"test_hidden_(ex\d+)", path.name)
            return hidden[1] if hidden else None
        for info in self.catalog.values():
            if info.grader and (self.root / info.grader).resolve() == path.resolve():
                return info.id
        match = re.match(r"test_(ex\d+)_", path.name)
        return match[1] if match else None

    def _bound_each_test(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Give every grader test a time limit (pytest-timeout), unless the run set one (``--timeout``).

        So an endless loop in a learner's function fails that test, not the whole run, in plain
        ``pytest`` and in ``check()`` as on the autograders.
        """
        loaded = any(config.pluginmanager.hasplugin(name) for name in ("pytest_timeout", "timeout"))
        if not loaded or config.getoption("timeout", None) is not None:
            return
        for item in items:
            if item.nodeid in self.results and item.get_closest_marker("timeout") is None:
                hidden = self.results[item.nodeid].tier == "hidden"
                item.add_marker(pytest.mark.timeout(HIDDEN_TEST_TIMEOUT_S if hidden else GRADER_TEST_TIMEOUT_S))

    def _refuse_a_hint_out_of_range(self, config: pytest.Config) -> None:
        """``--hint N`` past the last hint of an exercise this run grades is an error naming the range.

        Called once the run's tests are selected (``-m ex3`` keeps only ex3's), so an exercise with
        fewer hints that this run does not grade is no reason to refuse.
        """
        asked = config.getoption("--hint", None)
        if asked is None:
            return
        graded = {result.exercise for result in self.results.values()} | set(self._collection_errors())
        beyond = [
            f"{info.id} has hints 1..{len(info.hints)}"
            for info in self.catalog.values()
            if info.id in graded and asked > len(info.hints)
        ]
        if beyond:
            raise pytest.UsageError(f"--hint {asked} is out of range: " + "; ".join(beyond))

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        problems = []
        for item in items:
            if not self._is_grader_path(item.path):
                continue
            exercises = sorted({m.name for m in item.iter_markers() if EXERCISE_MARK.match(m.name)})
            points = item.get_closest_marker("points")
            if len(exercises) != 1 or points is None or len(points.args) != 1:
                problems.append(f"{item.nodeid}: needs exactly one exN marker and one points(n) marker")
                continue
            owner = self.exercise_of_file(item.path)
            if owner is not None and owner != exercises[0]:  # ``-m exN`` collects only exN's file
                problems.append(f"{item.nodeid}: marked {exercises[0]} in {owner}'s grader file")
                continue
            hint = item.get_closest_marker("hint")
            number = 1 if hint is None else hint.args[0] if len(hint.args) == 1 else None
            info = self.catalog.get(exercises[0])
            if not isinstance(number, int) or number < 1 or (info is not None and number > len(info.hints)):
                problems.append(f"{item.nodeid}: hint(n) must name one of {exercises[0]}'s hints, counted from 1")
                continue
            tier = "hidden" if self._is_hidden_path(item.path) else "public"
            self.results[item.nodeid] = TestResult(
                nodeid=item.nodeid,
                name=f"{exercises[0]}{' (hidden)' if tier == 'hidden' else ''}: {item.name}",
                exercise=exercises[0],
                points=float(points.args[0]),
                hint=number,
                tier=tier,
            )
        if problems:
            raise pytest.UsageError("grader tests without their marks:\n" + "\n".join(problems))
        self._refuse_a_hint_out_of_range(config)
        self._bound_each_test(config, items)
        if self.results and config.option.tbstyle == "auto":
            config.option.tbstyle = "short"

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if not report.failed:
            return
        path = Path(str(self.config.rootpath / report.nodeid.split("::")[0]))
        if not self._is_grader_path(path):
            return
        exercise = self.exercise_of_file(path)
        if exercise is not None:
            errors = self.hidden_collection_errors if self._is_hidden_path(path) else self.collection_errors
            errors[exercise] = report.longreprtext[-_OUTPUT_LIMIT:]

    # -- running -----------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport | None:
        """A stub's failure is reported in one line, made here: pytest's traceback of it is never formatted.

        Any other failure keeps pytest's report, with the first lines of its error as a "message".

        Formatting a traceback reads and parses the source of every frame; for a run of
        untouched stubs that was most of the grader's time.
        """
        if call.excinfo is None or item.nodeid not in self.results:
            return None
        match = stub_not_started(call.excinfo.value)
        if match is None:  # pytest makes the report; the test's message goes with it
            item.user_properties.append(("message", failure_message(call.excinfo)))
            return None
        line = not_started_line(match)
        sections = [(f"Captured {key} {when}", content) for when, key, content in item._report_sections]
        return pytest.TestReport(
            item.nodeid,
            item.location,
            dict.fromkeys(item.keywords, 1),
            "failed",
            line,
            call.when,  # type: ignore[arg-type]  # never "collect" for a test item
            sections,
            call.duration,
            call.start,
            call.stop,
            user_properties=[*item.user_properties, ("not_started", line)],
        )

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Any:
        if report.failed and any(name == "not_started" for name, _ in getattr(report, "user_properties", ())):
            return NOT_STARTED, "N", ("NOT STARTED", {"yellow": True})
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        result = self.results.get(report.nodeid)
        if result is None:
            return
        if report.failed:
            if not result.failed:
                result.failed = True
                not_started = next((str(v) for k, v in report.user_properties if k == "not_started"), None)
                result.not_started = not_started
                message = next((str(v) for k, v in report.user_properties if k == "message"), "")
                details = report.longreprtext[-_OUTPUT_LIMIT:]
                result.output = not_started or (f"{message}\n\n{details}" if message else details)
        elif report.skipped and report.when in ("setup", "call"):
            result.skipped = True
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            result.output = f"skipped: {reason}"

    # -- reporting ---------------------------------------------------------------------------

    def _collection_errors(self) -> dict[str, str]:
        """The test files that could not be loaded, by exercise, for the exercises this run selects.

        ``pytest -m ex3`` collects every file before it selects; another exercise's broken file
        is not ex3's business.
        """
        expression = self.config.getoption("markexpr", "") or ""
        named = set(re.findall(r"\bex\d+\b", expression))
        if not named or re.search(r"\bnot\b", expression):
            return dict(self.collection_errors)
        return {ex: error for ex, error in self.collection_errors.items() if ex in named}

    def tallies(self) -> list[ExerciseTally]:
        """One tally per exercise that had tests (or a broken test file) in this run, in catalog order."""
        errors = self._collection_errors()
        tallies = []
        for tier in ("public", "hidden"):
            results = [r for r in self.results.values() if r.tier == tier]
            tier_errors = errors if tier == "public" else self.hidden_collection_errors
            ids = {r.exercise for r in results} | set(tier_errors)
            order = [ex for ex in self.catalog if ex in ids] + sorted(ids - set(self.catalog))
            for ex in order:
                info = self.catalog.get(ex) or Exercise(
                    id=ex, title=ex, points=0, notebook="", grader="", files=(), functions=(), hints=()
                )
                tally = ExerciseTally(info, [r for r in results if r.exercise == ex], tier=tier)
                tally.collection_error = tier_errors.get(ex)
                tally.asked_hint = self.config.getoption("--hint", None)
                tallies.append(tally)
        return tallies

    @staticmethod
    def _points(value: float) -> str:
        return f"{value:g}"

    def table_lines(self) -> list[str]:
        tallies = self.tallies()
        if not tallies:
            return []
        title_width = max(len(t.info.title) + (11 if t.info.optional else 0) for t in tallies)
        lines = [f"{'exercise':<{title_width + 6}} {'points':>9}  status"]
        indent = " " * 6
        public = [t for t in tallies if t.tier == "public"]
        hidden = [t for t in tallies if t.tier == "hidden"]
        for tier, rows in (("public", public), ("hidden", hidden)):
            if not rows:
                continue
            if tier == "hidden":
                lines.append("hidden tier (decides the grade where the instructor grades):")
            for tally in rows:
                lines.extend(self._row(tally, title_width, indent, hints=tier == "public"))
            lines.append(self._total(rows, "total" if tier == "public" else "hidden total"))
        todo = next((t for t in public if t.status != "passed"), None)
        if todo is not None:
            where = f": read {todo.info.notebook}" if todo.info.notebook else ""
            lines.append(f"next: {todo.info.id} {todo.info.title}{where}, then run `pytest -m {todo.info.id}`")
            if len(todo.info.hints) > 1:
                lines.append(
                    f"more hints: `pytest -m {todo.info.id} --hint N` shows hint N of {len(todo.info.hints)}; "
                    f'in its notebook, check("{todo.info.id}", hint=N)'
                )
        return lines

    def _row(self, tally: ExerciseTally, title_width: int, indent: str, *, hints: bool) -> list[str]:
        score = f"{self._points(tally.earned)}/{self._points(tally.possible)}"
        label = tally.info.title + (" (optional)" if tally.info.optional else "")
        lines = [f"{tally.info.id:<5} {label:<{title_width}} {score:>9}  {tally.status}"]
        if tally.status == "passed":
            if hints and tally.hint:  # asked for by number: a learner may read on after passing
                lines.append(f"{indent}hint: {tally.hint}")
            return lines
        if tally.collection_error:
            lines.append(f"{indent}{error_summary(tally.collection_error)}")
        stubs = dict.fromkeys(r.not_started for r in tally.results if r.not_started)
        lines.extend(f"{indent}{line}" for line in stubs if line)
        if hints and tally.hint:
            lines.extend(
                textwrap.wrap(
                    f"hint: {tally.hint}",
                    width=_WIDTH,
                    initial_indent=indent,
                    subsequent_indent=indent + "  ",
                    break_on_hyphens=False,
                )
            )
        return lines

    def _total(self, tallies: list[ExerciseTally], label: str) -> str:
        required = [t for t in tallies if not t.info.optional]
        optional = [t for t in tallies if t.info.optional]
        extra = f"{self._points(sum(t.earned for t in optional))} of {self._points(sum(t.possible for t in optional))}"
        if not required:
            return f"{label}: {extra} optional points"
        earned = sum(t.earned for t in required)
        possible = sum(t.possible for t in required)
        line = f"{label}: {self._points(earned)} of {self._points(possible)} points"
        return line + (f", plus {extra} optional" if optional else "")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        lines = self.table_lines()
        if not lines:
            return
        terminalreporter.write_sep("=", "grade")
        for line in lines:
            terminalreporter.write_line(line)

    def report(self) -> dict[str, Any]:
        """The Gradescope results.json of this run.

        With the hidden tier in the run, its tests carry the points and the public tests are listed at 0
        points (their outcome is feedback); the hidden tests' visibility is ``--hidden-visibility``.
        """
        graded_tier = "hidden" if any(r.tier == "hidden" for r in self.results.values()) else "public"
        visibility = self.config.getoption("--hidden-visibility", "after_due_date")
        tests: list[dict[str, Any]] = []
        errors = [(ex, error, "public") for ex, error in self._collection_errors().items()]
        errors += [(ex, error, "hidden") for ex, error in self.hidden_collection_errors.items()]
        for ex, error, tier in errors:
            info = self.catalog.get(ex)
            counts = tier == graded_tier
            entry = {
                "name": f"{ex}{' (hidden)' if tier == 'hidden' else ''}: the grader tests could not be loaded",
                "score": 0.0,
                "max_score": float(info.points if info and counts else 0),
                "status": "failed",
                "output": f"{error_summary(error)}\n\n{error}",
            }
            if tier == "hidden":
                entry["visibility"] = visibility
            tests.append(entry)
        for result in self.results.values():
            counts = result.tier == graded_tier
            entry = {
                "name": result.name,
                "score": result.score if counts else 0.0,
                "max_score": result.points if counts else 0.0,
                "status": "passed" if result.passed else "failed",
                "output": result.output,
            }
            if result.tier == "hidden":
                entry["visibility"] = visibility
            tests.append(entry)
        optional = {ex for ex, info in self.catalog.items() if info.optional}
        tallies = [t for t in self.tallies() if t.tier == graded_tier]
        return {
            "score": sum(t["score"] for t in tests),
            "max_score": sum(t.possible for t in tallies if t.info.id not in optional),
            "execution_time": round(time.monotonic() - self.started, 3),
            "output": "\n".join(self.table_lines()),
            "visibility": "visible",
            "stdout_visibility": "visible",
            "tests": tests,
        }

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        path = self.config.getoption("--grade-report")
        if path:
            target = Path(path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(self.report(), indent=2) + "\n", encoding="utf-8")

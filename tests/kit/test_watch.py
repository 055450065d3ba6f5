"""Watch mode (notebooks/watch.py): grade again on every saved .py file, and show progress over all exercises.

The change stream is injected, so no test waits for a file system event.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import watchfiles
from watchfiles import Change

from tests.grader.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = ROOT / "llm_client"

REPORT = {
    "score": 25.0,
    "max_score": 86.0,
    "tests": [
        {"name": "ex2: a test", "score": 13.0, "max_score": 13.0},
        {"name": "ex3: a test", "score": 12.0, "max_score": 12.0},
        {"name": "ex4: a test", "score": 0.0, "max_score": 16.0},
        {"name": "ex7: a test", "score": 0.0, "max_score": 11.0},
    ],
}


@pytest.fixture
def watch(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """notebooks/watch.py, imported as the command imports it (its folder first on sys.path), grading llm_client/."""
    monkeypatch.syspath_prepend(str(NOTEBOOKS))
    monkeypatch.delenv("PYTHONPATH", raising=False)  # --solutions sets it; the learner package is what is watched
    return importlib.import_module("watch")


def _fake_grader(watch: ModuleType, runs: list[int]) -> Any:
    def grade() -> Any:
        runs.append(len(runs))
        return watch.Grade(f"TABLE {len(runs)}", REPORT)

    return grade


def test_it_grades_once_then_again_for_each_batch_that_saves_a_python_file(watch: ModuleType) -> None:
    runs: list[int] = []
    lines: list[str] = []
    stream = [
        {(Change.modified, str(PACKAGE / "backoff.py"))},
        {(Change.added, str(PACKAGE / ".ipynb_checkpoints" / "notes.txt"))},  # not source: no grading
        {(Change.modified, str(PACKAGE / "retry_after.py")), (Change.added, str(PACKAGE / "providers" / "http.py"))},
    ]
    made = watch.watch(stream, grade=_fake_grader(watch, runs), write=lines.append, clock=lambda: 0.0)
    text = "\n".join(lines)
    assert made == 3 and runs == [0, 1, 2]
    assert "graded every exercise" in text
    assert "graded again after you saved llm_client/backoff.py" in text
    assert "graded again after you saved llm_client/providers/http.py, llm_client/retry_after.py" in text
    assert text.count("TABLE") == 3 and text.count("Progress: [") == 3


def test_progress_shows_a_bar_over_all_exercises(watch: ModuleType) -> None:
    line = watch.progress_line(REPORT)
    bar = "#" * 15 + "-" * 15
    assert line == f"Progress: [{bar}] 2 of 4 exercises done, 25 of 41 points, plus 0 of 11 optional"


def test_progress_counts_optional_points_apart_from_the_required_total(watch: ModuleType) -> None:
    report = {"score": 36.0, "max_score": 25.0, "tests": [
        {"name": "ex2: a test", "score": 13.0, "max_score": 13.0},
        {"name": "ex3: a test", "score": 12.0, "max_score": 12.0},
        {"name": "ex7: a test", "score": 11.0, "max_score": 11.0},
    ]}  # fmt: skip
    assert watch.progress_line(report).endswith("3 of 3 exercises done, 25 of 25 points, plus 11 of 11 optional")
    assert "unknown" in watch.progress_line(None)


def test_ctrl_c_stops_watching_quietly(watch: ModuleType) -> None:
    def interrupted() -> Iterator[set[tuple[Change, str]]]:
        yield {(Change.modified, str(PACKAGE / "backoff.py"))}
        raise KeyboardInterrupt

    lines: list[str] = []
    made = watch.watch(interrupted(), grade=_fake_grader(watch, []), write=lines.append)
    assert made == 2 and lines[-1] == "Stopped watching."


def test_it_watches_the_package_folder_with_watchfiles(watch: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_watch(*paths: Path, **options: Any) -> Iterator[set[tuple[Change, str]]]:
        seen.update(paths=paths, **options)
        return iter(())

    monkeypatch.setattr(watchfiles, "watch", fake_watch)
    made = watch.watch(grade=_fake_grader(watch, []), write=lambda text: None)
    assert made == 1
    assert [Path(p).resolve() for p in seen["paths"]] == [PACKAGE.resolve()]
    assert isinstance(seen["watch_filter"], watchfiles.PythonFilter)


def test_with_the_real_grader_a_save_shows_the_table_and_progress_again(watch: ModuleType) -> None:
    if "raise NotImplementedError" not in (PACKAGE / "backoff.py").read_text(encoding="utf-8"):
        pytest.skip("llm_client/ has no exercise stubs (it is a copy of the reference)")
    lines: list[str] = []
    made = watch.watch([{(Change.modified, str(PACKAGE / "backoff.py"))}], write=lines.append)
    text = "\n".join(lines)
    assert made == 2
    assert text.count("ex3   Backoff and jitter") == 2 and "ex3 not started" in text, text[-3000:]
    pattern = r"^Progress: \[-{30}\] 0 of (\d+) exercises done, 0 of (\d+) points, plus 0 of \d+ optional$"
    progress = re.findall(pattern, text, re.MULTILINE)
    catalog = load_catalog()
    required = sum(ex.points for ex in catalog.values() if not ex.optional)
    assert progress == [(str(len(catalog)), str(required))] * 2, text[-3000:]


def test_the_command_is_named_in_start_here_and_in_the_learner_readme() -> None:
    from tools.release import learner_readme

    start_here = (NOTEBOOKS / "00_start_here.ipynb").read_text(encoding="utf-8")
    assert "python notebooks/watch.py" in start_here
    assert "notebooks/watch.py" in learner_readme(list(load_catalog().values()), has_start=True)

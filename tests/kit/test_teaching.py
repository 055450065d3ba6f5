"""The notebooks teach by behaviour, not steps: the conventions every notebook keeps, checked as stored.

- The first keystroke comes early: at most 1,500 words of markdown come before the learner first
  edits ``llm_client/``, counted from ``00_start_here`` through the first cell of
  ``01_ex1_call_path`` that starts with "## Your turn" (that cell included).
- Every exercise notebook (the catalog's) opens with a failure the learner runs: a code cell
  whose first line starts "# Watch it fail:", before its "## Your turn". It asks a prediction
  question (a markdown cell holding "**Predict.**") that a later code cell answers, and its last
  two markdown cells are headed "## Key points" and "## References" (the check cell may come
  before them).
- A fact that goes stale is dated: any cell, of any notebook, that names a model id (``gpt-...``,
  an o-series id such as ``o3-mini``, ``claude-...``) also holds "checked YYYY-MM-DD".
- Every notebook states its time: a "**Time:**" line in its first cell, in minutes.
- Scaffolding fades: no exercise's stub docstring in ``llm_client/`` lists numbered steps (a line
  opening "1."), ex1 excepted (the first exercise may guide step by step); and the last required
  exercise's notebook names every test of its grader, since it gives the contract and the tests.

A word, for the count, is what ``str.split`` finds in a markdown cell once its fenced code blocks
and the URLs of its links are taken out.
"""

from __future__ import annotations

import ast
import datetime
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.grader.catalog import Exercise, load_catalog

pytestmark = pytest.mark.kit

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
LEARNER = ROOT / "llm_client"

#: Every notebook of the course, in path order.
ALL = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
CATALOG = load_catalog()
#: (exercise id, its notebook's file name), in catalog order.
EXERCISE_NOTEBOOKS = [(ex.id, Path(ex.notebook).name) for ex in CATALOG.values()]

START_HERE = "00_start_here.ipynb"
FIRST_EXERCISE = "01_ex1_call_path.ipynb"
#: The most markdown words a learner reads before the first keystroke in llm_client/.
WORDS_BEFORE_FIRST_KEYSTROKE = 1500
#: The exercise whose docstrings may still guide step by step.
GUIDED = "ex1"

FENCED_CODE = re.compile(r"```.*?```", re.DOTALL)
LINK_URL = re.compile(r"\]\([^)]*\)")
#: A model id: gpt-..., an o-series id (o1, o3-mini, o4-mini-deep-research...), claude-...
MODEL_ID = re.compile(r"\b(?:gpt-[\w.-]+|o[1-9](?:-[a-z][\w-]*)?|claude-[\w.-]+)(?![\w])", re.IGNORECASE)
CHECKED = re.compile(r"\bchecked (\d{4}-\d{2}-\d{2})\b")
NUMBERED_STEP = re.compile(r"^\s*\d+\.\s")
TIME = re.compile(r"\*\*Time:\*\*[^\n]*\bminutes\b")


def _cells(name: str) -> list[dict[str, Any]]:
    cells: list[dict[str, Any]] = json.loads((NOTEBOOKS / name).read_text(encoding="utf-8"))["cells"]
    return cells


def _source(cell: dict[str, Any]) -> str:
    source = cell["source"]
    return "".join(source) if isinstance(source, list) else str(source)


def markdown_words(text: str) -> int:
    """The words of a markdown cell: its fenced code blocks and link URLs left out."""
    return len(LINK_URL.sub("]", FENCED_CODE.sub(" ", text)).split())


def _your_turn(cells: list[dict[str, Any]]) -> int | None:
    """The index of the first markdown cell that starts with "## Your turn", or None."""
    return next(
        (
            index
            for index, cell in enumerate(cells)
            if cell["cell_type"] == "markdown" and _source(cell).lstrip().startswith("## Your turn")
        ),
        None,
    )


def words_before_the_first_keystroke() -> tuple[int, dict[str, int]]:
    """The markdown words from 00_start_here through 01's first "## Your turn" cell, and per notebook."""
    first = _cells(FIRST_EXERCISE)
    your_turn = _your_turn(first)
    assert your_turn is not None, f"{FIRST_EXERCISE} has no markdown cell that starts with '## Your turn'"
    counted = {
        START_HERE: _cells(START_HERE),
        FIRST_EXERCISE: first[: your_turn + 1],
    }
    per_notebook = {
        name: sum(markdown_words(_source(cell)) for cell in cells if cell["cell_type"] == "markdown")
        for name, cells in counted.items()
    }
    return sum(per_notebook.values()), per_notebook


# -- the counting, proven on made-up text first ----------------------------------------------------


def test_a_word_is_what_split_finds_once_code_blocks_and_link_urls_are_out() -> None:
    text = "Read [the RFC](https://www.rfc-editor.org/rfc/rfc9110) now.\n\n```python\nx = 1\ny = 2\n```\n\nDone `here`."
    assert markdown_words(text) == 6  # Read [the RFC] now. Done `here`.


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("Set it to gpt-4o-mini, or gpt-5.1.", ["gpt-4o-mini", "gpt-5.1"]),
        ("o1, o3-mini and o4-mini shut down", ["o1", "o3-mini", "o4-mini"]),
        ('LLMRequest(model="claude-opus-4-7")', ["claude-opus-4-7"]),
        ("no model here: docs.claude.com, chatgpt-image, demo-model, 0o1777, Python 3.11", []),
    ],
)
def test_model_ids_are_recognised(text: str, ids: list[str]) -> None:
    assert [match.group().rstrip(".,") for match in MODEL_ID.finditer(text)] == ids


# -- the first keystroke -------------------------------------------------------------------------


def test_at_most_1500_words_of_markdown_come_before_the_first_edit_of_llm_client() -> None:
    total, per_notebook = words_before_the_first_keystroke()
    assert total <= WORDS_BEFORE_FIRST_KEYSTROKE, (
        f"{total} words of markdown before the first '## Your turn' of {FIRST_EXERCISE} "
        f"(at most {WORDS_BEFORE_FIRST_KEYSTROKE}): {per_notebook}"
    )


# -- every exercise notebook ---------------------------------------------------------------------


def test_every_exercise_of_the_catalog_has_its_notebook() -> None:
    missing = [f"{exercise}: {name}" for exercise, name in EXERCISE_NOTEBOOKS if name not in ALL]
    assert missing == [], f"the catalog names notebooks that are not in notebooks/: {missing}"


@pytest.mark.parametrize(("exercise", "name"), EXERCISE_NOTEBOOKS)
def test_exercise_notebook_opens_with_a_failure_the_learner_runs(exercise: str, name: str) -> None:
    cells = _cells(name)
    watch = [
        index
        for index, cell in enumerate(cells)
        if cell["cell_type"] == "code" and _source(cell).lstrip().startswith("# Watch it fail:")
    ]
    assert watch, f"{name} ({exercise}) has no code cell whose first line starts with '# Watch it fail:'"
    your_turn = _your_turn(cells)
    assert your_turn is None or watch[0] < your_turn, (
        f"{name}: its failing demo (cell {watch[0]}) comes after its '## Your turn' (cell {your_turn}): open with it"
    )


@pytest.mark.parametrize(("exercise", "name"), EXERCISE_NOTEBOOKS)
def test_exercise_notebook_asks_a_prediction_that_a_later_cell_answers(exercise: str, name: str) -> None:
    cells = _cells(name)
    asks = [
        index for index, cell in enumerate(cells) if cell["cell_type"] == "markdown" and "**Predict.**" in _source(cell)
    ]
    assert asks, f"{name} ({exercise}) asks no '**Predict.**' question"
    answered = [index for index in asks if any(cell["cell_type"] == "code" for cell in cells[index + 1 :])]
    assert answered, f"{name}: no code cell follows its prediction question (cell {asks[0]}) to answer it"


@pytest.mark.parametrize(("exercise", "name"), EXERCISE_NOTEBOOKS)
def test_exercise_notebook_ends_with_its_key_points_then_its_references(exercise: str, name: str) -> None:
    headings = [_source(cell).lstrip().split("\n", 1)[0] for cell in _cells(name) if cell["cell_type"] == "markdown"]
    assert len(headings) >= 2, f"{name} has fewer than two markdown cells"
    assert headings[-2].startswith("## Key points") and headings[-1].startswith("## References"), (
        f"{name} ({exercise}): its last two markdown cells must be headed '## Key points' and '## References', "
        f"not {headings[-2:]}"
    )


# -- every notebook ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_a_cell_that_names_a_model_says_when_that_was_checked(name: str) -> None:
    undated = []
    for index, cell in enumerate(_cells(name)):
        text = _source(cell)
        named = sorted({match.group().rstrip(".,;:") for match in MODEL_ID.finditer(text)})
        if not named:
            continue
        dates = CHECKED.findall(text)
        if not dates:
            undated.append(f"cell {index} ({cell.get('id')}) names {', '.join(named)}")
        for date in dates:
            datetime.date.fromisoformat(date)  # a real date, or ValueError
    assert undated == [], f"{name}: a model id goes stale; say 'checked YYYY-MM-DD' in the same cell:\n" + "\n".join(
        undated
    )


@pytest.mark.parametrize("name", ALL)
def test_notebook_states_its_time_in_minutes(name: str) -> None:
    cells = _cells(name)
    first = _source(cells[0]) if cells else ""
    assert TIME.search(first), f"{name}: its first cell must state its time, '**Time:** about N minutes ...'"


# -- the exercises' own text ---------------------------------------------------------------------


def _docstring(path: Path, qualified: str) -> str | None:
    """The docstring of ``qualified`` ("parse_structured", "TokenBucket.take") in ``path``, or None if not found."""
    scope: list[ast.stmt] = ast.parse(path.read_text(encoding="utf-8")).body
    node: ast.AST | None = None
    for part in qualified.split("."):
        node = next(
            (
                child
                for child in scope
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and child.name == part
            ),
            None,
        )
        if node is None:
            return None
        scope = node.body  # type: ignore[attr-defined]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    return ast.get_docstring(node) or ""


def _stubs() -> list[tuple[Exercise, str]]:
    return [(ex, function) for ex in CATALOG.values() if ex.id != GUIDED for function in ex.functions]


@pytest.mark.parametrize(("exercise", "function"), _stubs(), ids=lambda value: getattr(value, "id", value))
def test_no_stub_docstring_lists_numbered_steps(exercise: Exercise, function: str) -> None:
    found = {path: _docstring(LEARNER.parent / path, function) for path in exercise.files}
    docstrings = {path: text for path, text in found.items() if text is not None}
    assert docstrings, f"{exercise.id}: {function} is in none of {list(exercise.files)}"
    for path, text in docstrings.items():
        steps = [line.strip() for line in text.splitlines() if NUMBERED_STEP.match(line)]
        assert steps == [], (
            f"{exercise.id}: {function}'s docstring in {path} lists numbered steps; "
            f"give the contract and examples instead: {steps}"
        )


def _last_required() -> Exercise:
    return [ex for ex in CATALOG.values() if not ex.optional][-1]


def test_the_last_required_exercise_names_every_test_of_its_grader() -> None:
    exercise = _last_required()
    tests = sorted(
        node.name
        for node in ast.walk(ast.parse((ROOT / exercise.grader).read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    )
    assert tests, f"{exercise.grader} has no tests"
    text = "\n".join(_source(cell) for cell in _cells(Path(exercise.notebook).name) if cell["cell_type"] == "markdown")
    missing = [test for test in tests if test not in text]
    assert missing == [], f"{exercise.notebook} ({exercise.id}, the last required exercise) never names {missing}"

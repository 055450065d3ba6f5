"""The exercise catalog (exercises.toml) agrees with the solution blocks, the grader files and pytest's markers.

(That the catalog's points equal the sum of the grader tests' points is checked on a real grader run,
in test_grader_validity.py.)
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from tests.grader.catalog import CatalogError, load_catalog
from tools.generate_learner import SOLUTIONS_PACKAGE, find_blocks

ROOT = Path(__file__).resolve().parents[2]

CATALOG = load_catalog()
GRADER = ROOT / "tests" / "grader"


def _blocks_by_exercise() -> dict[str, set[str]]:
    """{exercise id: {'file.py:function', ...}} for every block in solutions/."""
    found: dict[str, set[str]] = {}
    for path in sorted(SOLUTIONS_PACKAGE.rglob("*.py")):
        rel = path.relative_to(SOLUTIONS_PACKAGE.parent).as_posix()
        for block in find_blocks(path.read_text(encoding="utf-8"), path=rel, known=CATALOG):
            found.setdefault(block.exercise, set()).add(f"{rel}:{block.function}")
    return found


BLOCKS = _blocks_by_exercise()


def test_every_block_names_an_exercise_of_the_catalog() -> None:
    # find_blocks refuses unknown ids; this checks every file once more, by id.
    assert set(BLOCKS) <= set(CATALOG)


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_every_exercise_has_blocks_in_solutions(exercise: str) -> None:
    assert BLOCKS.get(exercise), f"{exercise} has no '# BEGIN SOLUTION {exercise}' block in solutions/llm_client/"


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_files_and_functions_match_the_blocks(exercise: str) -> None:
    entry = CATALOG[exercise]
    files = {spot.split(":")[0] for spot in BLOCKS.get(exercise, ())}
    functions = {spot.split(":")[1] for spot in BLOCKS.get(exercise, ())}
    assert set(entry.files) == files, f"{exercise}.files should list {sorted(files)}"
    assert set(entry.functions) == functions, f"{exercise}.functions should list {sorted(functions)}"


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_every_exercise_has_its_grader_file_marked_with_its_id(exercise: str) -> None:
    entry = CATALOG[exercise]
    grader = ROOT / entry.grader
    assert grader.parent == GRADER and grader.is_file(), f"{exercise}: no grader file {entry.grader}"
    assert re.fullmatch(rf"test_{exercise}_\w+\.py", grader.name), f"{grader.name} should start with test_{exercise}_"
    assert f"pytestmark = pytest.mark.{exercise}\n" in grader.read_text(encoding="utf-8")


def test_no_orphan_grader_files() -> None:
    named = {(ROOT / entry.grader).resolve() for entry in CATALOG.values()}
    orphans = [p.name for p in sorted(GRADER.glob("test_*.py")) if p.resolve() not in named]
    assert not orphans, f"grader files that no exercise in exercises.toml names: {orphans}"


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_catalog_entry_is_complete(exercise: str) -> None:
    entry = CATALOG[exercise]
    assert entry.title and entry.points > 0
    assert re.fullmatch(rf"notebooks/\d\d_{exercise}_\w+\.ipynb", entry.notebook), entry.notebook
    assert 2 <= len(entry.hints) <= 3 and len(set(entry.hints)) == len(entry.hints)


def _hints_named_by_grader_tests(path: Path) -> dict[str, int]:
    """{test name: the hint its @pytest.mark.hint(n) names (1 without one)} for the tests in ``path``."""
    named: dict[str, int] = {}
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.FunctionDef) or not node.name.startswith("test_"):
            continue
        named[node.name] = 1
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and ast.unparse(decorator.func) == "pytest.mark.hint":
                assert len(decorator.args) == 1 and isinstance(decorator.args[0], ast.Constant), node.name
                named[node.name] = decorator.args[0].value
    return named


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_every_hint_is_named_by_a_grader_test_and_every_test_names_a_hint(exercise: str) -> None:
    entry = CATALOG[exercise]
    named = _hints_named_by_grader_tests(ROOT / entry.grader)
    wrong = {test: n for test, n in named.items() if not (isinstance(n, int) and 1 <= n <= len(entry.hints))}
    assert not wrong, f"{exercise} has {len(entry.hints)} hints; these grader tests name another: {wrong}"
    unused = sorted(set(range(1, len(entry.hints) + 1)) - set(named.values()))
    assert not unused, f"no grader test of {exercise} shows its hint(s) {unused} (@pytest.mark.hint(n))"


@pytest.mark.parametrize("exercise", [ex.id for ex in CATALOG.values() if not ex.optional])
def test_every_required_exercise_has_its_notebook(exercise: str) -> None:
    notebook = ROOT / CATALOG[exercise].notebook
    assert notebook.is_file(), f"{exercise}: the notebook {CATALOG[exercise].notebook} does not exist"
    assert exercise in notebook.read_text(encoding="utf-8"), f"{notebook.name} never mentions {exercise}"


def test_pytest_knows_every_exercise_marker() -> None:
    with open(ROOT / "pyproject.toml", "rb") as handle:
        markers = tomllib.load(handle)["tool"]["pytest"]["ini_options"]["markers"]
    names = {m.split(":")[0].split("(")[0].strip() for m in markers}
    assert set(CATALOG) | {"points"} <= names, "add the missing exercise markers to pyproject.toml"


def test_optional_exercises_come_after_the_required_ones() -> None:
    flags = [entry.optional for entry in CATALOG.values()]
    assert flags == sorted(flags)
    assert not all(flags)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[exercise]]\nid = "exA"\n', "lacks"),
        ("", "no \\[\\[exercise\\]\\] entries"),
    ],
)
def test_a_broken_catalog_is_refused(tmp_path: Path, toml: str, message: str) -> None:
    path = tmp_path / "exercises.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)


def test_a_duplicate_id_or_bad_points_is_refused(tmp_path: Path) -> None:
    source = (ROOT / "exercises.toml").read_text(encoding="utf-8")
    first = source[source.index("[[exercise]]") : source.index("[[exercise]]", source.index("[[exercise]]") + 1)]
    path = tmp_path / "exercises.toml"
    path.write_text(first + "\n" + first, encoding="utf-8")
    with pytest.raises(CatalogError, match="appears twice"):
        load_catalog(path)
    path.write_text(re.sub(r"points = \d+", "points = 0", first), encoding="utf-8")
    with pytest.raises(CatalogError, match="points must be a positive int"):
        load_catalog(path)

"""What a learner reads stays small: the lesson outside ``llm_client/_internal/``, everything else inside it.

Measured on the learner package as shipped (``llm_client/``), the same files the learner-only copy holds:

- the required path (every module outside ``_internal/`` but an optional exercise's) is at most 14 modules and
  1,500 lines in all, docstrings included;
- each optional exercise adds at most one module, of at most 200 lines;
- ``__init__.py`` files hold only imports (the lazy exports live in ``_internal/lazy.py``);
- every exercise is written outside ``_internal/``, and the modules import each other without a cycle.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.grader.catalog import ROOT, load_catalog

pytestmark = pytest.mark.kit

PACKAGE = ROOT / "llm_client"
MAX_REQUIRED_MODULES = 14
MAX_REQUIRED_LINES = 1500
MAX_OPTIONAL_LINES = 200


def _visible_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "_internal" not in p.relative_to(PACKAGE).parts)


def _optional_files() -> set[str]:
    return {file for ex in load_catalog().values() if ex.optional for file in ex.files}


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_required_path_is_at_most_14_modules_and_1500_lines() -> None:
    optional = _optional_files()
    required = [p for p in _visible_modules() if p.relative_to(ROOT).as_posix() not in optional]
    total = sum(_lines(p) for p in required)
    listing = ", ".join(f"{p.relative_to(PACKAGE)} {_lines(p)}" for p in required)
    assert len(required) <= MAX_REQUIRED_MODULES, f"{len(required)} modules on the required path: {listing}"
    assert total <= MAX_REQUIRED_LINES, f"{total} lines on the required path: {listing}"


def test_each_optional_exercise_adds_at_most_one_module_of_200_lines() -> None:
    for ex in load_catalog().values():
        if not ex.optional:
            continue
        assert len(ex.files) == 1, f"{ex.id} spreads over {ex.files}"
        path = ROOT / ex.files[0]
        assert "_internal" not in path.parts
        assert _lines(path) <= MAX_OPTIONAL_LINES, f"{ex.files[0]} has {_lines(path)} lines"


def _only_imports(body: list[ast.stmt]) -> bool:
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            continue  # the docstring
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING" and not node.orelse:
            if _only_imports(node.body):
                continue
        return False
    return True


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("__init__.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_init_files_hold_only_imports(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert _only_imports(tree.body), f"{path.relative_to(ROOT)} holds more than imports"


def test_every_exercise_is_written_outside_internal_and_its_files_exist() -> None:
    for ex in load_catalog().values():
        for file in ex.files:
            assert (ROOT / file).is_file(), f"{ex.id}: {file} is missing"
            assert "_internal" not in Path(file).parts, f"{ex.id} asks the learner to open {file}"


def test_the_learner_modules_name_internal_modules_that_exist() -> None:
    """A learner module may lean on ``_internal/`` (imports), and each name it imports from there exists."""
    for path in _visible_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llm_client._internal"):
                module = importlib.import_module(node.module.replace("llm_client", "llm_client", 1))
                for alias in node.names:
                    assert hasattr(module, alias.name), f"{path.name} imports {node.module}.{alias.name}"


def _imports(path: Path) -> set[str]:
    """The llm_client modules ``path`` imports, at load time or inside a function (not for type checking)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            node.body = []
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("llm_client"):
            found.add(node.module)
            if node.module in ("llm_client", "llm_client.providers"):  # ``from llm_client import retry_after``
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("llm_client"))
    return found


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def test_no_two_modules_import_each_other_directly_or_through_others() -> None:
    """No cycle, even through an import inside a function: each module can be read knowing only those it names."""
    graph = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}
    for name in list(graph):
        graph[name].discard("llm_client")  # every module's package: imported first, and it imports only _internal.lazy
        graph[name].discard("llm_client.providers")
    visiting: list[str] = []
    done: set[str] = set()

    def visit(module: str) -> None:
        if module in done:
            return
        assert module not in visiting, "import cycle: " + " -> ".join([*visiting[visiting.index(module) :], module])
        visiting.append(module)
        for target in sorted(graph.get(module, set())):
            if target != module and target in graph:
                visit(target)
        visiting.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)

"""Generate the learner package ``llm_client/`` from the reference in ``solutions/llm_client/``.

Every block between a ``# BEGIN SOLUTION exN`` line and the next ``# END SOLUTION``
line becomes, at the block's indentation, a ``# TODO(exN): ...`` comment and a
``raise NotImplementedError(...)`` that names the exercise, the function and the
notebook to read. Everything outside the blocks is copied unchanged, so the
learner package works as shipped except for the exercises.

Two details keep the generated files ruff-clean: an import, or a local variable
assigned before a block, that only the removed answer used gets a
``# noqa`` comment saying which exercise needs it (it stays as a hint).

Usage (from the repository root)::

    python -m tools generate            # (re)write llm_client/
    python -m tools generate --check    # exit 1 if llm_client/ is stale or a marker is wrong

Library use (the kit's tests build partly solved packages with it)::

    generate_package(dest, keep={"ex3"})        # every block stubbed except ex3's
"""

from __future__ import annotations

import argparse
import ast
import re
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.grader.catalog import CATALOG_PATH, ROOT, Exercise, load_catalog

SOLUTIONS_PACKAGE = ROOT / "solutions" / "llm_client"
LEARNER_PACKAGE = ROOT / "llm_client"

BEGIN = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?:[ \t]+(?P<id>\S+))?[ \t]*$")
END = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
_ANY_MARKER = re.compile(r"#\s*(BEGIN|END)\s+SOLUTION")
_DEF = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?def[ \t]+(?P<name>\w+)")
_CLASS = re.compile(r"^(?P<indent>[ \t]*)class[ \t]+(?P<name>\w+)")
_LINE_LIMIT = 120
_SKIP_PARTS = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}


class MarkerError(ValueError):
    """A solution marker is unbalanced, misspelt, or names an exercise the catalog does not know."""


@dataclass(frozen=True)
class Block:
    """One solution block: lines ``begin`` .. ``end`` (0-based, both marker lines included)."""

    exercise: str
    begin: int
    end: int
    indent: str
    function: str


def _indent_width(indent: str) -> int:
    return len(indent.expandtabs(4))


def _enclosing_function(lines: list[str], index: int, indent: str) -> str:
    """``name`` or ``Class.name`` of the def that holds line ``index``."""
    width = _indent_width(indent)
    for i in range(index - 1, -1, -1):
        match = _DEF.match(lines[i])
        if match and _indent_width(match["indent"]) < width:
            def_width = _indent_width(match["indent"])
            for j in range(i - 1, -1, -1):
                above = lines[j]
                if above.strip() and _indent_width(above[: len(above) - len(above.lstrip())]) < def_width:
                    cls = _CLASS.match(above)
                    return f"{cls['name']}.{match['name']}" if cls else match["name"]
            return match["name"]
    raise MarkerError(f"line {index + 1}: a solution block must sit inside a function")


def find_blocks(text: str, *, path: str, known: Iterable[str]) -> list[Block]:
    """Return the solution blocks of ``text``; raise MarkerError naming ``path`` and the line when one is wrong."""
    known_ids = set(known)
    lines = text.splitlines()
    blocks: list[Block] = []
    open_at: int | None = None
    open_id = ""
    open_indent = ""
    for index, line in enumerate(lines):
        where = f"{path}:{index + 1}"
        begin = BEGIN.match(line)
        if begin:
            if open_at is not None:
                raise MarkerError(f"{where}: BEGIN SOLUTION inside the block opened at line {open_at + 1}")
            ex_id = begin["id"]
            if ex_id is None:
                raise MarkerError(f"{where}: BEGIN SOLUTION names no exercise (write '# BEGIN SOLUTION ex2')")
            if ex_id not in known_ids:
                raise MarkerError(f"{where}: BEGIN SOLUTION names {ex_id!r}, which is not in {CATALOG_PATH.name}")
            open_at, open_id, open_indent = index, ex_id, begin["indent"]
        elif END.match(line):
            if open_at is None:
                raise MarkerError(f"{where}: END SOLUTION without a BEGIN SOLUTION before it")
            try:
                function = _enclosing_function(lines, open_at, open_indent)
            except MarkerError as exc:
                raise MarkerError(f"{path}:{exc}") from None
            blocks.append(Block(open_id, open_at, index, open_indent, function))
            open_at = None
        elif _ANY_MARKER.search(line):
            raise MarkerError(f"{where}: malformed solution marker {line.strip()!r}")
    if open_at is not None:
        raise MarkerError(f"{path}:{open_at + 1}: BEGIN SOLUTION {open_id} is never closed by END SOLUTION")
    return blocks


def stub_lines(block: Block, exercise: Exercise) -> list[str]:
    """The lines that replace ``block``: a TODO comment and a raise, at the block's indentation."""
    pad = block.indent
    notebook = exercise.notebook
    todo = f"{pad}# TODO({exercise.id}): write {block.function}; {notebook} walks you through it."
    if len(todo) > _LINE_LIMIT:
        todo = f"{pad}# TODO({exercise.id}): write {block.function}; see {notebook}."
    message = f"{exercise.id}: {block.function} is not written yet (see {notebook})"
    one_line = f'{pad}raise NotImplementedError("{message}")'
    if len(one_line) <= _LINE_LIMIT:
        return [todo, one_line]
    return [todo, f"{pad}raise NotImplementedError(", f'{pad}    "{message}"', f"{pad})"]


def _used_names(tree: ast.AST) -> set[str]:
    used: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Store):
            used.add(node.id)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id == "__all__" and isinstance(node.value, ast.List):
                    used.update(str(e.value) for e in node.value.elts if isinstance(e, ast.Constant))
    return used


def _add_noqa(lines: list[str], line_no: int, code: str, exercise: str) -> None:
    line = lines[line_no - 1]
    if "#" in line:
        return  # already commented (or a string with '#'): leave it for ruff to report
    marked = f"{line}  # needed by {exercise}  # noqa: {code}"
    lines[line_no - 1] = marked if len(marked) <= _LINE_LIMIT else f"{line}  # noqa: {code}"


def _keep_lint_clean(original: str, generated: str, stubs: Mapping[int, str]) -> str:
    """Mark imports and locals that only a removed answer used, so the learner file stays ruff-clean.

    ``stubs`` maps the 1-based line of each generated raise to its exercise id.
    """
    lines = generated.splitlines()
    new_tree = ast.parse(generated)
    old_used = _used_names(ast.parse(original))
    new_used = _used_names(new_tree)
    first_exercise = next(iter(stubs.values()))
    for node in new_tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and node.module == "__future__":
                continue
            for alias in node.names:
                name = alias.asname or alias.name.split(".")[0]
                if name in old_used and name not in new_used:
                    _add_noqa(lines, getattr(alias, "lineno", node.lineno), "F401", first_exercise)
    for func in ast.walk(new_tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        end = func.end_lineno or func.lineno
        exercises = [ex for line_no, ex in stubs.items() if func.lineno <= line_no <= end]
        if not exercises:
            continue
        loaded = {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
        params = {a.arg for a in [*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs]}
        for inner in ast.walk(func):
            if isinstance(inner, ast.Assign) and len(inner.targets) == 1:
                target = inner.targets[0]
                if isinstance(target, ast.Name) and target.id not in loaded and target.id not in params:
                    _add_noqa(lines, target.lineno, "F841", exercises[0])
    return "\n".join(lines) + ("\n" if generated.endswith("\n") else "")


def render(text: str, *, path: str, catalog: Mapping[str, Exercise], keep: Iterable[str] = ()) -> str:
    """The learner version of one source file.

    Blocks of exercises in ``keep`` keep their answer (the marker lines are dropped);
    every other block becomes a stub.
    """
    kept = set(keep)
    blocks = find_blocks(text, path=path, known=catalog)
    if not blocks:
        return text
    lines = text.splitlines()
    out: list[str] = []
    stubs: dict[int, str] = {}
    cursor = 0
    for block in blocks:
        out.extend(lines[cursor : block.begin])
        if block.exercise in kept:
            out.extend(lines[block.begin + 1 : block.end])
        else:
            replacement = stub_lines(block, catalog[block.exercise])
            raise_line = next(i for i, line in enumerate(replacement) if "raise NotImplementedError" in line)
            stubs[len(out) + raise_line + 1] = block.exercise
            out.extend(replacement)
        cursor = block.end + 1
    out.extend(lines[cursor:])
    generated = "\n".join(out) + ("\n" if text.endswith("\n") else "")
    if stubs:
        generated = _keep_lint_clean(text, generated, stubs)
    return generated


def _source_files(src: Path) -> list[Path]:
    return sorted(
        p for p in src.rglob("*") if p.is_file() and not _SKIP_PARTS.intersection(p.relative_to(src).parts)
        and p.suffix not in {".pyc", ".pyo"}
    )


def build_package(
    src: Path = SOLUTIONS_PACKAGE,
    *,
    catalog: Mapping[str, Exercise] | None = None,
    keep: Iterable[str] = (),
) -> dict[str, bytes]:
    """The learner package as {relative path: content}, built in memory from ``src``."""
    catalog = load_catalog() if catalog is None else catalog
    kept = set(keep)
    unknown = kept - set(catalog)
    if unknown:
        raise MarkerError(f"keep names exercises not in the catalog: {sorted(unknown)}")
    files: dict[str, bytes] = {}
    for path in _source_files(src):
        rel = path.relative_to(src).as_posix()
        data = path.read_bytes()
        if path.suffix == ".py":
            text = data.decode("utf-8")
            data = render(text, path=f"{src.name}/{rel}", catalog=catalog, keep=kept).encode("utf-8")
        files[rel] = data
    return files


def write_package(dest: Path, files: Mapping[str, bytes]) -> list[str]:
    """Make ``dest`` hold exactly ``files``; return the relative paths written or removed."""
    changed: list[str] = []
    dest.mkdir(parents=True, exist_ok=True)
    for rel, data in files.items():
        target = dest / rel
        if target.is_file() and target.read_bytes() == data:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        changed.append(rel)
    for path in _source_files(dest):
        rel = path.relative_to(dest).as_posix()
        if rel not in files:
            path.unlink()
            changed.append(rel)
    for directory in sorted((d for d in dest.rglob("*") if d.is_dir()), reverse=True):
        if directory.name == "__pycache__":
            shutil.rmtree(directory, ignore_errors=True)
        elif not any(directory.iterdir()):
            directory.rmdir()
    return changed


def generate_package(dest: Path, *, keep: Iterable[str] = (), src: Path = SOLUTIONS_PACKAGE) -> None:
    """Write the learner package to ``dest`` (a ``llm_client`` directory), leaving ``keep``'s answers in."""
    write_package(dest, build_package(src, keep=keep))


def check_package(dest: Path = LEARNER_PACKAGE, *, src: Path = SOLUTIONS_PACKAGE) -> list[str]:
    """The problems with ``dest``: a marker error in ``src``, or each file that differs from a fresh generation."""
    try:
        files = build_package(src)
    except MarkerError as exc:
        return [str(exc)]
    problems: list[str] = []
    for rel, data in files.items():
        target = dest / rel
        if not target.is_file():
            problems.append(f"missing: {dest.name}/{rel}")
        elif target.read_bytes() != data:
            problems.append(f"out of date: {dest.name}/{rel}")
    if dest.is_dir():
        for path in _source_files(dest):
            rel = path.relative_to(dest).as_posix()
            if rel not in files:
                problems.append(f"not in solutions/: {dest.name}/{rel}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that llm_client/ is up to date")
    parser.add_argument("--dest", type=Path, default=LEARNER_PACKAGE, help="the package directory to write")
    parser.add_argument("--keep", action="append", default=[], metavar="EXID", help="leave this exercise solved")
    args = parser.parse_args(argv)
    if args.check:
        problems = check_package(args.dest)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: python -m tools generate", file=sys.stderr)
            return 1
        print(f"{args.dest} is up to date with {SOLUTIONS_PACKAGE}")
        return 0
    try:
        changed = write_package(args.dest, build_package(keep=args.keep))
    except MarkerError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"wrote {args.dest}: {len(changed)} file(s) changed" + (f" ({', '.join(changed)})" if changed else ""))
    return 0


"""The exercise catalog (exercises.toml at the repository root), read and checked.

The one reader of the catalog: the grader's plugin, the notebook check and the instructor tools all use
``load_catalog``. It ships to learners with the grader and imports nothing from llm_client.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

#: The repository root: the folder that holds exercises.toml, tests/ and llm_client/.
ROOT = Path(__file__).resolve().parents[2]
CATALOG_PATH = ROOT / "exercises.toml"

_ID = re.compile(r"^ex\d+$")
_REQUIRED = ("id", "title", "points", "notebook", "grader", "files", "functions", "hints")


class CatalogError(ValueError):
    """exercises.toml is missing a field or holds a wrong value."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of the course. Paths are relative to the repository root."""

    id: str
    title: str
    points: int
    notebook: str
    grader: str
    files: tuple[str, ...]
    functions: tuple[str, ...]
    hints: tuple[str, ...]
    optional: bool = False
    #: Where to begin (the file, the function, the notebook): shown while the exercise is not started.
    start: str = ""


def load_catalog(path: Path = CATALOG_PATH) -> dict[str, Exercise]:
    """Return the exercises of ``path`` by id, in file order; raise CatalogError when an entry is wrong."""
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    entries = data.get("exercise")
    if not isinstance(entries, list) or not entries:
        raise CatalogError(f"{path}: no [[exercise]] entries")
    catalog: dict[str, Exercise] = {}
    for number, entry in enumerate(entries, start=1):
        missing = [name for name in _REQUIRED if name not in entry]
        if missing:
            raise CatalogError(f"{path}: exercise #{number} lacks {', '.join(missing)}")
        ex_id = entry["id"]
        if not isinstance(ex_id, str) or not _ID.match(ex_id):
            raise CatalogError(f"{path}: exercise #{number} has id {ex_id!r}; ids look like 'ex2'")
        if ex_id in catalog:
            raise CatalogError(f"{path}: exercise id {ex_id} appears twice")
        points = entry["points"]
        if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
            raise CatalogError(f"{path}: {ex_id}.points must be a positive int, got {points!r}")
        hints = entry["hints"]
        if not isinstance(hints, list) or not 2 <= len(hints) <= 3 or not all(isinstance(h, str) for h in hints):
            raise CatalogError(f"{path}: {ex_id}.hints must be two or three strings")
        catalog[ex_id] = Exercise(
            id=ex_id,
            title=str(entry["title"]),
            points=points,
            notebook=str(entry["notebook"]),
            grader=str(entry["grader"]),
            files=tuple(entry["files"]),
            functions=tuple(entry["functions"]),
            hints=tuple(hints),
            optional=bool(entry.get("optional", False)),
            start=str(entry.get("start", "")),
        )
    return catalog

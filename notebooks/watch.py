"""Watch mode: grade every exercise again each time you save a file in llm_client/.

From the repository root::

    python notebooks/watch.py

grades all exercises once, prints the grader's table and a progress line, then
waits. Each time a ``.py`` file under ``llm_client/`` is saved, it grades again
and prints the new table. Ctrl+C stops it. Grading runs in a process of its
own, exactly as ``check()`` and ``pytest`` do, so what you see is what the
autograder will give.

The file watching is watchfiles' (a Rust notifier, no polling loop of our
own); ``watch()`` also takes the stream of changes as an argument, so it can
be driven without a file system.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import check  # notebooks/check.py: python puts a script's own folder first on sys.path

__all__ = ["Grade", "grade_all", "main", "progress_line", "watch"]

#: The longest one grading run may take, in seconds.
TIMEOUT_S = 300.0
#: Width of the progress bar, in characters.
BAR_WIDTH = 30
#: Clears a terminal and puts the cursor top left.
CLEAR = "\x1b[2J\x1b[H"

#: One batch of file changes, as watchfiles yields them: {(change, path), ...}.
Changes = set[tuple[Any, str]]


@dataclass(frozen=True)
class Grade:
    """One grading run over every exercise: the grader's table and its results.json (None if it wrote none)."""

    table: str
    report: dict[str, Any] | None


def package_dir() -> Path:
    """The llm_client/ folder that the grader grades, and that watch mode watches."""
    return (check._launcher().package_parent_from_pythonpath() or check.ROOT) / "llm_client"


def grade_all() -> Grade:
    """Grade every exercise of the package in ``package_dir()``, in a process of its own."""
    launch = check._launcher()
    run = launch.run_grading(package_dir().parent, exercises=[], timeout_s=TIMEOUT_S, extra_args=["-q", "--no-header"])
    if run.timed_out:
        return Grade(
            f"Grading took longer than {TIMEOUT_S:.0f} s and was stopped: is something waiting or looping?", None
        )
    return Grade(check._table(run.output, run.report), run.report)


def progress_line(report: dict[str, Any] | None) -> str:
    """Exercises fully done out of all graded, as a bar, and the points: "[####----] 2 of 6 exercises done ..."."""
    if report is None:
        return "Progress: unknown (the grader wrote no report; its output is above)"
    by_exercise = check._launcher().points_by_exercise(report)
    done = sum(1 for earned, possible in by_exercise.values() if possible > 0 and earned >= possible)
    total = len(by_exercise)
    filled = round(BAR_WIDTH * done / total) if total else 0
    bar = "#" * filled + "-" * (BAR_WIDTH - filled)
    optional = {ex.id for ex in check._grader_module("catalog").load_catalog(check.ROOT / "exercises.toml").values()
                if ex.optional}  # fmt: skip
    required = [points for ex, points in by_exercise.items() if ex not in optional]
    extra = [points for ex, points in by_exercise.items() if ex in optional]
    line = f"Progress: [{bar}] {done} of {total} exercises done, {_sum(required)} points"
    return line + (f", plus {_sum(extra)} optional" if extra else "")


def _sum(points: list[tuple[float, float]]) -> str:
    """"earned of possible" over (earned, possible) pairs."""
    return f"{sum(e for e, _ in points):g} of {sum(p for _, p in points):g}"


def _is_source_change(change: tuple[Any, str]) -> bool:
    return change[1].endswith(".py")


def _saved(changes: Changes, root: Path) -> list[str]:
    """The saved .py files of one batch of changes, relative to ``root`` when they are under it."""
    names = []
    for _, path in sorted(filter(_is_source_change, changes), key=lambda change: change[1]):
        resolved = Path(path).resolve()
        names.append(str(resolved.relative_to(root)) if resolved.is_relative_to(root) else path)
    return names


def watch(
    changes: Iterable[Changes] | None = None,
    *,
    grade: Callable[[], Grade] = grade_all,
    write: Callable[[str], object] = print,
    clear: bool = False,
    clock: Callable[[], float] = time.time,
) -> int:
    """Grade once, then again after every batch of ``changes`` that saved a ``.py`` file; return the runs made.

    ``changes`` is the stream of file-change batches (watchfiles' ``watch`` on
    ``package_dir()`` when None); a batch without a ``.py`` file (a notebook
    checkpoint, a cache file) grades nothing. ``clear`` wipes the terminal
    before each table. Stops when the stream ends or on Ctrl+C.
    """
    if changes is None:
        import watchfiles

        changes = watchfiles.watch(package_dir(), watch_filter=watchfiles.PythonFilter())
    root = package_dir().parent.resolve()
    runs = 0

    def show(reason: str) -> None:
        nonlocal runs
        result = grade()
        runs += 1
        stamp = time.strftime("%H:%M:%S", time.localtime(clock()))
        write((CLEAR if clear else "") + f"[{stamp}] {reason}\n")
        write(result.table)
        write("\n" + progress_line(result.report))
        write(f"Watching {package_dir()} for saved changes (Ctrl+C stops).")

    try:
        show("graded every exercise")
        for batch in changes:
            saved = _saved(batch, root)
            if saved:
                show(f"graded again after you saved {', '.join(saved)}")
    except KeyboardInterrupt:
        write("Stopped watching.")
    return runs


def main(argv: list[str] | None = None) -> int:
    """``python notebooks/watch.py``: watch until Ctrl+C."""
    if argv:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        print("usage: python notebooks/watch.py   (no arguments)", file=sys.stderr)
        return 2
    watch(clear=sys.stdout.isatty())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

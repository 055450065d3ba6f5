"""The learner's path: every notebook runs top to bottom with only the exercises before it solved.

"Every notebook runs top to bottom in the learner copy, in path order, with only the earlier
exercises solved, and reaches its check cell. A cell that needs a later exercise says which, and
skips with a message." For each notebook, in the order a learner meets them:

- a learner package is built from solutions/ with the exercises of the notebooks *before* this one
  solved and every other exercise a stub (tools.generate_learner): none for 00 and 01, ex1 for 02,
  ex1 to ex6 for 07 and 08;
- the notebook runs in a kernel of its own (nbclient; cwd notebooks/, PYTHONPATH that package,
  LLM_COURSE_OFFLINE=1, no API keys), every cell, its check cell included;
- the only errors allowed are the NotImplementedError of the notebook's own exercise, which it must
  reach; a cell that needs a later exercise must catch it and say so (a NotImplementedError naming a
  later exercise fails the test with the cell that let it through);
- the check cell runs and grades its exercise as not done yet (that exercise is still a stub here).

One notebook at a time, each with bounded time: the machine is shared.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tools.generate_learner import generate_package

pytestmark = pytest.mark.kit

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
CATALOG = ROOT / "exercises.toml"

#: The notebooks in the order a learner opens them.
PATH = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
#: Each exercise, in catalog order: (id, notebook file name, points).
EXERCISES = [
    (entry["id"], Path(entry["notebook"]).name, int(entry["points"]))
    for entry in tomllib.loads(CATALOG.read_text(encoding="utf-8"))["exercise"]
]
POINTS = {exercise: points for exercise, _, points in EXERCISES}

CELL_TIMEOUT_S = 60
#: One notebook, kernel start and check cell included.
RUN_TIMEOUT_S = 420
OFFLINE_ENV = {"LLM_COURSE_OFFLINE": "1"}
CHECK_CALL = re.compile(r"""\bcheck\(\s*["'](ex\d+)["']""")
STUB = re.compile(r"^(ex\d+): ")


def own_exercise(name: str) -> str | None:
    """The exercise notebook ``name`` teaches, or None (00, 07)."""
    return next((exercise for exercise, notebook, _ in EXERCISES if notebook == name), None)


def solved_before(name: str) -> frozenset[str]:
    """The exercises a learner has solved on opening ``name``: those taught by the notebooks before it."""
    return frozenset(exercise for exercise, notebook, _ in EXERCISES if notebook in PATH and notebook < name)


def test_the_path_solves_exactly_the_exercises_before_each_notebook() -> None:
    assert solved_before("00_start_here.ipynb") == frozenset()
    assert solved_before("01_ex1_call_path.ipynb") == frozenset()
    assert solved_before("02_ex2_cache_key.ipynb") == {"ex1"}
    assert solved_before("06_ex6_provider_call.ipynb") == {"ex1", "ex2", "ex3", "ex4", "ex5"}
    assert solved_before("07_putting_it_together.ipynb") == {f"ex{n}" for n in range(1, 7)}
    assert solved_before("08_ex7_token_bucket.ipynb") == {f"ex{n}" for n in range(1, 7)}
    for exercise, notebook, _ in EXERCISES:
        assert notebook in PATH, f"{exercise}'s notebook {notebook} is not in notebooks/"
        assert own_exercise(notebook) == exercise


# Runs one notebook in a fresh kernel, every error kept (allow_errors), and writes the executed copy.
# A kernel that died while starting, before any cell ran, is started once more.
_EXECUTE = """
import sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

source, target, timeout = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
for attempt in (0, 1):
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(source.parent)}})
    try:
        client.execute()
        break
    except RuntimeError as exc:
        if attempt or "before replying to kernel_info" not in str(exc):
            raise
        print("the kernel died at start; started again", file=sys.stderr)
nbformat.write(nb, target)
"""


@pytest.fixture(scope="session")
def learner_packages(tmp_path_factory: pytest.TempPathFactory) -> dict[frozenset[str], Path]:
    """A cache of built packages: the exercises left solved -> the directory that holds that llm_client/."""
    return {}


def package_with(solved: frozenset[str], packages: dict[frozenset[str], Path], tmp: Path) -> Path:
    if solved not in packages:
        parent = tmp / ("solved-" + ("-".join(sorted(solved)) or "none"))
        generate_package(parent / "llm_client", keep=solved)
        packages[solved] = parent
    return packages[solved]


def run_notebook(name: str, package_parent: Path, out: Path) -> tuple[Any, str]:
    """Execute notebooks/``name`` against ``package_parent``/llm_client; return the executed notebook and the log."""
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PYTHONPATH")}
    env.update(OFFLINE_ENV, PYTHONPATH=str(package_parent), PYTHONDONTWRITEBYTECODE="1")
    done = subprocess.run(
        [sys.executable, "-c", _EXECUTE, str(NOTEBOOKS / name), str(out), str(CELL_TIMEOUT_S)],
        cwd=NOTEBOOKS, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    log = done.stdout + done.stderr
    assert done.returncode == 0 and out.is_file(), f"{name} could not be executed:\n{log[-4000:]}"
    return nbformat.read(out, as_version=4), log  # type: ignore[no-untyped-call]


def _text(cell: Any) -> str:
    parts = []
    for output in cell.outputs:
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.append(str(output.get("data", {}).get("text/plain", "")))
    return "".join(parts)


@pytest.mark.parametrize("name", PATH)
def test_notebook_runs_on_the_path_with_only_the_earlier_exercises_solved(
    name: str, learner_packages: dict[frozenset[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> None:
    solved = solved_before(name)
    own = own_exercise(name)
    package = package_with(solved, learner_packages, tmp_path_factory.getbasetemp())
    nb, log = run_notebook(name, package, tmp_path_factory.mktemp("executed") / name)
    cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    where = f"{name} (solved: {', '.join(sorted(solved)) or 'none'})"

    unrun = [index for index, cell in enumerate(cells) if cell.execution_count is None]
    assert unrun == [], f"{where}: code cells {unrun} never ran\n{log[-2000:]}"

    own_stubs = []
    for index, cell in enumerate(cells):
        for output in cell.outputs:
            if output.output_type != "error":
                continue
            stub = STUB.match(output.evalue) if output.ename == "NotImplementedError" else None
            if stub and stub.group(1) == own:
                own_stubs.append(index)
                continue
            if stub and stub.group(1) not in solved:
                problem = f"it needs {stub.group(1)}, which comes later: it must say so and skip, not fail"
            else:
                problem = "it fails"
            traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(output.traceback))
            pytest.fail(
                f"{where}, code cell {index}: {problem}\n{output.ename}: {output.evalue}\n"
                f"--- the cell ---\n{cell.source}\n--- traceback ---\n{traceback[-3000:]}"
            )
    if own is not None:
        assert own_stubs, f"{where} never reaches its own exercise {own}'s stub"

    checks = [(index, cell) for index, cell in enumerate(cells) if "from check import check" in cell.source]
    if own is not None:
        assert checks and checks[-1][0] == len(cells) - 1, f"{where} does not end with its check cell"
    for index, cell in checks:
        exercise = CHECK_CALL.search(cell.source)
        assert exercise, f"{where}, code cell {index} imports check but never calls it"
        graded = exercise.group(1)
        assert graded not in solved, f"{where}: its check cell grades {graded}, which is already solved here"
        shown = _text(cell)
        assert f"{graded}: 0/{POINTS[graded]} points" in shown, (
            f"{where}: the check cell (code cell {index}) did not grade {graded} as not done yet:\n{shown[-3000:]}"
        )

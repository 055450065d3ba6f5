"""The notebooks: stored clean, free of answers, and working against both packages.

- Against the reference (solutions/), every notebook runs top to bottom under
  nbval, offline. The outputs that teach (cache keys, backoff schedules from
  seeded generators, statuses, call counts) are checked by assertions inside
  the cells, because the notebooks are stored without outputs for nbval to
  compare with.
- Against the learner package (llm_client/, with its exercise stubs), every
  error a notebook shows is a NotImplementedError that names an exercise, and
  the cells that teach before an exercise (the worked examples) run clean.
  (test_notebook_path.py runs each notebook with the exercises before it solved.)

Each notebook runs in its own subprocess; a small pool runs them side by side.
Kernels started side by side can collide on a loopback port (jupyter_client picks
free ports, then the kernel binds them): a notebook whose kernel died before
answering kernel_info, before any of its cells ran, is run again on its own, once.
Nothing else is retried, and a retry is written to the timings artifact.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"
LEARNER_PACKAGE = ROOT / "llm_client"
CATALOG = ROOT / "exercises.toml"

#: The notebooks the course must have; any other notebooks/NN_*.ipynb is run and checked the same way.
REQUIRED = [
    "00_start_here.ipynb",
    "01_ex1_call_path.ipynb",
    "02_ex2_cache_key.ipynb",
    "03_ex3_backoff_jitter.ipynb",
    "04_ex4_rate_limits.ipynb",
    "05_ex5_structured_output.ipynb",
    "06_ex6_provider_call.ipynb",
    "07_putting_it_together.ipynb",
    "08_ex7_token_bucket.ipynb",
]
NAMES = sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
#: The exercise notebooks ("04_ex4_rate_limits.ipynb") and the exercise each one teaches.
EXERCISE_OF = {name: match.group(1) for name in NAMES if (match := re.match(r"^\d\d_(ex\d+)_", name))}
#: Notebooks that need no exercise solved: against the learner package they show no error at all.
#: (Every other notebook calls the client, whose call path is exercise 1.)
NEEDS_NO_EXERCISE = ["00_start_here.ipynb"]

CELL_TIMEOUT_S = 30
RUN_TIMEOUT_S = 120
STUB_MESSAGE = re.compile(r"\bex[1-9]\b")
#: Notebooks and JupyterLab must never reach the network from a test run.
OFFLINE_ENV = {"LLM_COURSE_OFFLINE": "1"}


def _load(path: Path) -> Any:
    return nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]


def _read(name: str) -> Any:
    return _load(NOTEBOOKS / name)


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _is_check_cell(cell: Any) -> bool:
    return cell.cell_type == "code" and "from check import check" in cell.source


def _env(pythonpath: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")}
    env.update(OFFLINE_ENV, PYTHONPATH=str(pythonpath), PYTHONDONTWRITEBYTECODE="1")
    return env


def _learner_package_has_stubs() -> bool:
    pattern = re.compile(r"raise NotImplementedError\(\s*[\"']ex\d")
    return any(pattern.search(path.read_text(encoding="utf-8")) for path in LEARNER_PACKAGE.rglob("*.py"))


# -- running the notebooks -----------------------------------------------------------------

#: The reference runs: two nbval processes, each running every other notebook, one after the other.
REFERENCE_GROUPS = [NAMES[0::2], NAMES[1::2]]


@dataclass
class ReferenceRun:
    """One nbval process over a group of notebooks, and its per-cell results (JUnit XML)."""

    returncode: int
    output: str
    cells: dict[str, list[tuple[str, float, str | None]]]  # notebook -> [(cell, seconds, failure)]
    retried: list[str] = field(default_factory=list)  # notebooks run again because their kernel died at start


#: What jupyter_client says when a kernel process exits while starting, before running any cell.
KERNEL_DIED_AT_START = "Kernel died before replying to kernel_info"


def _run_reference(names: list[str], junit: Path) -> ReferenceRun:
    """nbval against solutions/, with a notebook whose kernel died at start run again on its own, once."""
    run = _run_reference_once(names, junit)
    for name in names:
        cells = run.cells.get(name, [])
        if cells and all(failure and KERNEL_DIED_AT_START in failure for _, _, failure in cells):
            again = _run_reference_once([name], junit.with_name(f"{junit.stem}-{name}.xml"))
            run.cells[name] = again.cells.get(name, [])
            run.output += f"\n[{name}: its kernel died at start; run again on its own]\n" + again.output
            run.retried.append(name)
    return run


def _run_reference_once(names: list[str], junit: Path) -> ReferenceRun:
    """nbval against solutions/: every cell is a test, and a cell that raises fails."""
    command = [
        sys.executable, "-m", "pytest", *[f"notebooks/{name}" for name in names],
        "--nbval-lax", "--nbval-current-env", f"--nbval-cell-timeout={CELL_TIMEOUT_S}",
        "--nbval-sanitize-with", "notebooks/sanitize.cfg",
        "-p", "no:cacheprovider", "-p", "nbval", "-q", "--no-header", f"--junitxml={junit}",
    ]  # fmt: skip
    done = subprocess.run(
        command, cwd=ROOT, env=_env(SOLUTIONS), capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 2, check=False
    )
    cells: dict[str, list[tuple[str, float, str | None]]] = {}
    if junit.is_file():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            classname = case.get("classname") or ""  # "notebooks.02_ex2_cache_key.ipynb"
            notebook = next((name for name in names if classname.endswith(name)), classname)
            problem = next((child for child in case if child.tag in ("failure", "error")), None)
            failure = None if problem is None else (problem.get("message") or "") + "\n" + (problem.text or "")
            cells.setdefault(notebook, []).append((case.get("name", ""), float(case.get("time", 0.0)), failure))
    return ReferenceRun(done.returncode, done.stdout + done.stderr, cells)


# Executes notebooks side by side (each in its own kernel), with every error kept (allow_errors)
# and the check cells left out (check() has its own tests below); writes the executed copies.
_EXECUTE = """
import asyncio, json, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

out_dir, timeout, sources = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
seconds, retried = {}, []

async def execute(source, limit):
    async with limit:
        started = time.monotonic()
        nb = nbformat.read(source, as_version=4)
        nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and "from check import check" in c.source)]
        for attempt in (0, 1):
            client = NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                                    resources={"metadata": {"path": str(Path(source).parent)}})
            try:
                await client.async_execute()
                break
            except RuntimeError as exc:  # the kernel died at start, before any cell ran: once more
                if attempt or "before replying to kernel_info" not in str(exc):
                    raise
                retried.append(Path(source).name)
        nbformat.write(nb, out_dir / Path(source).name)
        seconds[Path(source).name] = round(time.monotonic() - started, 1)

async def main():
    limit = asyncio.Semaphore(3)
    await asyncio.gather(*(execute(source, limit) for source in sources))

asyncio.run(main())
(out_dir / "seconds.json").write_text(json.dumps(seconds))
(out_dir / "retried.json").write_text(json.dumps(retried))
"""


@dataclass
class LearnerRun:
    """The notebooks executed against llm_client/, errors kept."""

    returncode: int
    output: str
    executed: dict[str, Any]
    seconds: dict[str, float]
    retried: list[str]


def _run_learner(names: list[str], out_dir: Path) -> LearnerRun:
    command = [sys.executable, "-c", _EXECUTE, str(out_dir), str(CELL_TIMEOUT_S), *[str(NOTEBOOKS / n) for n in names]]
    done = subprocess.run(
        command, cwd=ROOT, env=_env(ROOT), capture_output=True, text=True, timeout=RUN_TIMEOUT_S * 2, check=False
    )
    executed = {name: _load(out_dir / name) for name in names if (out_dir / name).is_file()}
    seconds_file = out_dir / "seconds.json"
    seconds = json.loads(seconds_file.read_text()) if seconds_file.is_file() else {}
    retried_file = out_dir / "retried.json"
    retried = json.loads(retried_file.read_text()) if retried_file.is_file() else []
    return LearnerRun(done.returncode, done.stdout + done.stderr, executed, seconds, retried)


@dataclass
class Runs:
    reference: list[ReferenceRun]
    learner: LearnerRun | None

    def reference_cells(self, name: str) -> tuple[ReferenceRun, list[tuple[str, float, str | None]]]:
        group = next(i for i, names in enumerate(REFERENCE_GROUPS) if name in names)
        run = self.reference[group]
        return run, run.cells.get(name, [])


@pytest.fixture(scope="session")
def notebook_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """Every notebook against the reference and (when it has stubs) the learner package, all at once."""
    assert sorted(name for group in REFERENCE_GROUPS for name in group) == sorted(NAMES)
    work = tmp_path_factory.mktemp("notebook-runs")
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=len(REFERENCE_GROUPS) + 1) as pool:
        reference = [
            pool.submit(_run_reference, names, work / f"reference-{i}.xml") for i, names in enumerate(REFERENCE_GROUPS)
        ]
        learner = pool.submit(_run_learner, NAMES, work) if _learner_package_has_stubs() else None
        runs = Runs([future.result() for future in reference], learner.result() if learner else None)
    timings: dict[str, Any] = {
        "wall_s": round(time.monotonic() - started, 1),
        "reference_s": {
            name: round(sum(seconds for _, seconds, _ in runs.reference_cells(name)[1]), 1) for name in NAMES
        },
        "learner_s": runs.learner.seconds if runs.learner else None,
        "kernel_died_at_start_and_run_again": {
            "reference": [name for run in runs.reference for name in run.retried],
            "learner": runs.learner.retried if runs.learner else None,
        },
    }
    artifacts = ROOT / "artifacts" / "notebooks"
    artifacts.mkdir(parents=True, exist_ok=True)
    (artifacts / "timings.json").write_text(json.dumps(timings, indent=2) + "\n", encoding="utf-8")
    return runs


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_top_to_bottom_against_the_reference(notebook_runs: Runs, name: str) -> None:
    run, cells = notebook_runs.reference_cells(name)
    assert cells, f"nbval ran no cell of {name}:\n{run.output[-4000:]}"
    failures = [f"{cell}: {failure}" for cell, _, failure in cells if failure is not None]
    assert failures == [], f"{name} failed under nbval against solutions/:\n" + "\n".join(failures)[-6000:]
    assert len(cells) == len(_code_cells(_read(name)))


@pytest.mark.parametrize("name", NAMES)
def test_notebook_fails_only_at_unsolved_stubs_against_the_learner_package(notebook_runs: Runs, name: str) -> None:
    if not _learner_package_has_stubs():
        pytest.skip("llm_client/ has no exercise stubs yet (it is a plain copy of the reference)")
    run = notebook_runs.learner
    assert run is not None and name in run.executed, f"{name} could not be executed:\n{run and run.output[-4000:]}"
    cells = _code_cells(run.executed[name])
    errors = [
        (index, output) for index, cell in enumerate(cells) for output in cell.outputs if output.output_type == "error"
    ]
    for index, output in errors:
        assert output.ename == "NotImplementedError" and STUB_MESSAGE.search(output.evalue), (
            f"{name}, code cell {index}: {output.ename}: {output.evalue}\n{cells[index].source}"
        )
    if name in NEEDS_NO_EXERCISE:
        assert errors == [], f"{name} must run without any exercise solved"
        return
    assert errors, f"{name} never reached an exercise stub"
    named = {match.group() for _, output in errors if (match := STUB_MESSAGE.search(output.evalue))}
    if name in EXERCISE_OF:
        assert EXERCISE_OF[name] in named, f"{name} never reached its own exercise's stub, only {named}"
    # Everything before the exercise (setup, idea, worked example) runs clean.
    first_error = min(index for index, _ in errors)
    source = _read(name)
    your_turn = next(
        (i for i, cell in enumerate(source.cells) if cell.cell_type == "markdown" and "## Your turn" in cell.source),
        None,
    )
    if your_turn is not None:
        code_before = sum(1 for cell in source.cells[:your_turn] if cell.cell_type == "code")
        assert first_error >= code_before, f"{name}: code cell {first_error} fails before the exercise starts"
    else:
        assert first_error > 0, f"{name}: the setup cell failed"


# -- the notebooks as stored ---------------------------------------------------------------


def test_the_course_has_its_notebooks_named_in_order() -> None:
    assert set(REQUIRED) <= set(NAMES), f"missing: {sorted(set(REQUIRED) - set(NAMES))}"
    assert all(re.match(r"^\d\d_[a-z0-9_]+\.ipynb$", name) for name in NAMES), NAMES


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_stored_without_outputs_or_execution_counts(name: str) -> None:
    nb = _read(name)
    nbformat.validate(nb)
    for index, cell in enumerate(_code_cells(nb)):
        assert cell.outputs == [], f"{name}: code cell {index} is stored with outputs"
        assert cell.execution_count is None, f"{name}: code cell {index} is stored with an execution count"
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_starts_by_making_sure_llm_client_imports(name: str) -> None:
    first = _code_cells(_read(name))[0].source
    assert "import llm_client" in first and "except ModuleNotFoundError" in first


def _solution_lines() -> dict[str, set[str]]:
    """Every telling code line of every reference answer block, by exercise.

    Short lines and bare scaffolding (``except ValueError as exc:``, ``raise X(``) are
    left out: they say nothing of the answer, and worked examples may use them.
    """
    block = re.compile(r"# BEGIN SOLUTION (ex\d+)\n(.*?)# END SOLUTION", re.DOTALL)
    lines: dict[str, set[str]] = {}
    for path in (SOLUTIONS / "llm_client").rglob("*.py"):
        for exercise, body in block.findall(path.read_text(encoding="utf-8")):
            for line in body.splitlines():
                stripped = line.strip()
                if len(stripped) >= 28 and not stripped.startswith(("#", "except ")) and not stripped.endswith("("):
                    lines.setdefault(exercise, set()).add(stripped)
    return lines


def test_reference_answers_have_blocks_to_compare_with() -> None:
    assert set(_solution_lines()) >= {"ex1", "ex2", "ex3", "ex4", "ex5", "ex6", "ex7"}


@pytest.mark.parametrize("name", NAMES)
def test_notebook_holds_no_solution_code(name: str) -> None:
    text = "\n".join(cell.source for cell in _read(name).cells)
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    leaked = sorted(line for lines in _solution_lines().values() for line in lines if line in text)
    assert leaked == [], f"{name} contains lines of the reference answers: {leaked}"


@pytest.mark.parametrize("name", sorted(EXERCISE_OF))
def test_exercise_notebook_states_objectives_points_at_its_functions_and_ends_with_its_check(name: str) -> None:
    nb = _read(name)
    exercise = EXERCISE_OF[name]
    assert "**Objectives.**" in nb.cells[0].source
    last = _code_cells(nb)[-1]
    assert _is_check_cell(last) and f'points = check("{exercise}")' in last.source
    if not CATALOG.is_file():
        pytest.skip("exercises.toml is not there to compare with")
    entry = _catalog_entry(exercise)
    assert entry["notebook"] == f"notebooks/{name}"
    text = "\n".join(cell.source for cell in nb.cells if cell.cell_type == "markdown")
    for needed in [*entry["files"], *entry["functions"]]:
        assert needed in text, f"{name} never names {needed}"


def _shows_what_check_returns(source: str) -> bool:
    """Whether Jupyter would print check()'s return value: the cell ends with a bare ``check(...)``, no ``;``."""
    body = ast.parse(source).body
    last = body[-1] if body else None
    return (
        isinstance(last, ast.Expr)
        and isinstance(last.value, ast.Call)
        and isinstance(last.value.func, ast.Name)
        and last.value.func.id == "check"
        and not source.rstrip().endswith(";")
    )


def test_the_bare_check_detector_tells_the_cells_apart() -> None:
    assert _shows_what_check_returns('from check import check\n\ncheck("ex3")')
    assert not _shows_what_check_returns('from check import check\n\npoints = check("ex3")')
    assert not _shows_what_check_returns('from check import check\n\ncheck("ex3");')


@pytest.mark.parametrize("name", NAMES)
def test_no_cell_shows_the_points_check_returns_under_its_table(name: str) -> None:
    shown = [cell.source for cell in _code_cells(_read(name)) if "check(" in cell.source]
    shown = [source for source in shown if _shows_what_check_returns(source)]
    assert shown == [], f"{name}: end the cell with `points = check(...)`, not a bare check(...): {shown}"


#: "**Time:** about 20 minutes (core session)." in each notebook's first cell.
TIME = re.compile(r"\*\*Time:\*\* about (\d+) minutes \((core session|homework|optional)[^)]*\)\.")
#: The lesson is one session of 90 to 150 minutes; the core path must fit it.
SESSION_MINUTES = (90, 150)
#: What every notebook's closing references must cite.
REFERENCES = [
    "rfc9110#section-10.2.3",  # Retry-After
    "rfc9110#section-5.6.7",  # HTTP-date
    "aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter",
    "platform.openai.com/docs/guides/rate-limits",
    "platform.openai.com/docs/guides/error-codes",
    "docs.claude.com/en/api/rate-limits",
    "docs.claude.com/en/api/errors",
    "tenacity.readthedocs.io",
    "stamina.hynek.me",
]


def _time(name: str) -> tuple[int, str]:
    match = TIME.search(_read(name).cells[0].source)
    assert match, f"{name}: the first cell must say **Time:** about N minutes (core session|homework|optional)."
    return int(match.group(1)), match.group(2)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_states_its_time_and_whether_it_is_core_homework_or_optional(name: str) -> None:
    minutes, _ = _time(name)
    assert 5 <= minutes <= 45, f"{name}: {minutes} minutes is not one sitting"


def test_the_core_path_fits_one_session_and_start_here_lists_every_notebook_with_its_time() -> None:
    core = {name: minutes for name in NAMES for minutes, part in [_time(name)] if part == "core session"}
    low, high = SESSION_MINUTES
    assert low <= sum(core.values()) <= high, f"the core path takes {sum(core.values())} minutes: {core}"
    table = _read("00_start_here.ipynb").cells[1].source
    for name in NAMES:
        minutes, part = _time(name)
        row = next((line for line in table.splitlines() if line.startswith(f"| `{name[:-6]}` |")), "")
        assert f"| {minutes} min, {part.split()[0]} |" in row, f"00_start_here lists {name} without its time"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_ends_with_its_references(name: str) -> None:
    last = _read(name).cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## References"), f"{name} ends without them"
    missing = [link for link in REFERENCES if link not in last.source]
    assert missing == [], f"{name}'s references lack {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_picks_up_saved_edits_without_a_kernel_restart(name: str) -> None:
    nb = _read(name)
    first = _code_cells(nb)[0].source
    assert "%load_ext autoreload" in first and "%autoreload 2" in first
    text = "\n".join(cell.source for cell in nb.cells).lower()
    assert "restart kernel" not in text and "restart the kernel" not in text, f"{name} still asks for a restart"


@pytest.mark.parametrize("name", sorted(EXERCISE_OF))
def test_exercise_notebook_asks_one_prediction_question_that_the_next_cell_answers(name: str) -> None:
    cells = _read(name).cells
    asks = [i for i, cell in enumerate(cells) if cell.cell_type == "markdown" and "**Predict.**" in cell.source]
    assert len(asks) == 1, f"{name} has {len(asks)} prediction questions, not one"
    question, answer = cells[asks[0]], cells[asks[0] + 1]
    assert re.search(r"What will\s+(the\s+next\s+cell|this)\s+print", question.source), question.source
    assert answer.cell_type == "code" and "print(" in answer.source, f"{name}: the next cell must print the answer"


# -- check() -------------------------------------------------------------------------------


def _check_in_subprocess(exercise: str, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    program = f"import sys; from check import check; points = check({exercise!r}); print('points returned:', points)"
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=NOTEBOOKS, env=_env(pythonpath), capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip


def _catalog_entry(exercise: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = tomllib.loads(CATALOG.read_text(encoding="utf-8"))["exercise"]
    return next(entry for entry in entries if entry["id"] == exercise)


def test_check_prints_the_table_and_returns_full_points_for_the_reference() -> None:
    if not (ROOT / "tests" / "grader").is_dir() or not CATALOG.is_file():
        pytest.skip("the grader is not there yet")
    done = _check_in_subprocess("ex3", SOLUTIONS)
    assert done.returncode == 0, done.stderr
    full = int(_catalog_entry("ex3")["points"])
    assert f"points returned: {full}" in done.stdout, done.stdout
    assert re.search(rf"^ex3 .* {full}/{full}\s+passed$", done.stdout, re.MULTILINE), done.stdout
    assert not re.search(r"\d+ passed.* in [\d.]+s", done.stdout), "the table only, not pytest's summary"


def test_check_returns_zero_without_raising_for_an_unsolved_exercise() -> None:
    if not _learner_package_has_stubs():
        pytest.skip("llm_client/ has no exercise stubs yet (it is a plain copy of the reference)")
    if not (ROOT / "tests" / "grader").is_dir():
        pytest.skip("the grader is not there yet")
    done = _check_in_subprocess("ex2", ROOT)
    assert done.returncode == 0, done.stderr
    assert "points returned: 0" in done.stdout and "not started" in done.stdout, done.stdout


def test_notebook_code_and_check_py_pass_the_linter() -> None:
    pytest.importorskip("ruff", reason="ruff is not installed (pip install -r requirements-dev.txt)")
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "notebooks/"],
        cwd=ROOT, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_only_a_notebook_whose_kernel_died_before_any_cell_is_run_again_and_only_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    died = f"RuntimeError: {KERNEL_DIED_AT_START}"
    calls: list[list[str]] = []

    def fake_once(names: list[str], junit: Path) -> ReferenceRun:
        calls.append(names)
        if len(calls) == 1:  # the side-by-side run: a died at start, b failed a cell, c passed
            cells: dict[str, list[tuple[str, float, str | None]]] = {
                "a.ipynb": [("Cell 0", 0.0, died), ("Cell 1", 0.0, died)],
                "b.ipynb": [("Cell 0", 0.1, None), ("Cell 1", 0.1, "AssertionError: wrong")],
                "c.ipynb": [("Cell 0", 0.1, None)],
            }
            return ReferenceRun(1, "side by side", cells)
        return ReferenceRun(1, "again", {names[0]: [("Cell 0", 0.1, died)]})  # dies again: kept as a failure

    monkeypatch.setattr(sys.modules[__name__], "_run_reference_once", fake_once)
    run = _run_reference(["a.ipynb", "b.ipynb", "c.ipynb"], tmp_path / "r.xml")
    assert calls == [["a.ipynb", "b.ipynb", "c.ipynb"], ["a.ipynb"]]
    assert run.retried == ["a.ipynb"]
    assert run.cells["a.ipynb"] == [("Cell 0", 0.1, died)]
    assert run.cells["b.ipynb"][1][2] == "AssertionError: wrong"

"""No shortcut earns more than the honest score, on each platform's real entry point.

- **GitHub Classroom** grades the public tier in the learner's repository: the step commands of the
  committed workflow, run as GitHub Classroom's command grader runs them. The shortcuts tried there are
  the ones Classroom is meant to stop (a ``conftest.py``, a ``pytest.py`` shadow, exiting at import, an
  ``atexit`` rewrite, patching pytest or the grader through ``sys.modules``, a wheel named in the
  repository's requirements, code that rewrites the grader for a later step). Code that rewrites the
  grader inside the process it is graded by (finding the seal's secret, erasing exceptions, replacing the
  tests) is, on Classroom, the same as editing the grader: the README says so.
- **grade-class** and **Gradescope's run_autograder** grade with the hidden tier, whose deciding process
  never imports the submission, and take only the exercise files from a submission. Every shortcut is
  tried on grade-class (two classes graded once each, ``exercises=["ex2"]`` and ``["ex3"]``); Gradescope
  runs the same grading path (``tools.class_grading.grade_learner``), so its runs cover what differs
  there: its results file, its folders, and files outside the exercise files.

A shortcut targets an exercise left unsolved (ex2, or ex3), so the honest score there is 0; the
shortcuts that leave the code working must keep the solved exercise's points. Run as root only (the
learner's code runs as dedicated users made for these tests, removed after).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.grader.catalog import ROOT, load_catalog
from tests.grader.launch import account, processes_of
from tests.kit.platform_runs import (
    IS_ROOT,
    WORKFLOW,
    add_files,
    classroom_step,
    commit_all,
    dedicated_users,
    install_gradescope,
    make_repository,
    python_for,
    run_autograder,
    score_by_exercise,
)
from tools.build_classroom import pinned_requirements
from tools.build_gradescope import build
from tools.class_grading import LearnerGrade, grade_class, hidden_from

CATALOG = load_catalog()
HONEST = CATALOG["ex3"].points
#: Set by a forged report: every test of every exercise passed.
FORGED = '{"score": 1000, "tests": [], "body": "{}", "seal": "0"}'

FORCE_PASS_CONFTEST = """\
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    report.outcome = "passed"
    report.longrepr = None
    return report
"""

ATEXIT_REWRITE = f"""
import atexit as _atexit
import sys as _sys


def _rewrite() -> None:
    targets = [a for a in _sys.argv if a.endswith(".json")] + @RESULTS@
    for target in targets:
        try:
            with open(target, "w") as handle:
                handle.write({FORGED!r})
        except OSError:
            pass


_atexit.register(_rewrite)
"""

PATCH_GRADER_PLUGIN = """
import sys as _sys

for _module in list(_sys.modules.values()):
    if hasattr(_module, "GraderPlugin") and hasattr(_module, "TestResult"):
        _module.TestResult.passed = property(lambda self: True)
        _module.TestResult.score = property(lambda self: self.points)
"""

PATCH_TEST_REPORTS = """
import sys as _sys

if "_pytest.reports" in _sys.modules:
    _reports = _sys.modules["_pytest.reports"]
    _original = _reports.TestReport.__init__

    def _passed(self, *args, **kwargs):
        _original(self, *args, **kwargs)
        self.outcome = "passed"
        self.longrepr = None

    _reports.TestReport.__init__ = _passed
"""

#: A shortcut for Classroom: the files it adds to the repository (a text starting with '+' is appended).
SHORTCUTS: dict[str, dict[str, str]] = {
    "conftest.py at the repository root": {"conftest.py": FORCE_PASS_CONFTEST},
    "conftest.py inside llm_client": {"llm_client/conftest.py": FORCE_PASS_CONFTEST},
    "pytest.py at the root": {"pytest.py": "import sys\nsys.exit(0)\n"},
    "_pytest package at the root": {"_pytest/__init__.py": "import sys\nsys.exit(0)\n"},
    "os._exit(0) at import": {"llm_client/__init__.py": "+import os\nos._exit(0)\n"},
    "sys.exit(0) at import": {"llm_client/__init__.py": "+import sys\nsys.exit(0)\n"},
    "atexit handler that rewrites the results": {"llm_client/__init__.py": "+" + ATEXIT_REWRITE},
    "grader plugin patched through sys.modules": {"llm_client/__init__.py": "+" + PATCH_GRADER_PLUGIN},
    "pytest's test reports patched through sys.modules": {"llm_client/__init__.py": "+" + PATCH_TEST_REPORTS},
}
#: Shortcuts that leave the submission's own answers working: they must get exactly the honest score.
HARMLESS = {
    "conftest.py at the repository root",
    "conftest.py inside llm_client",
    "pytest.py at the root",
    "_pytest package at the root",
}

# -- shortcuts written in an exercise file (the only files grade-class and Gradescope take) ------------

SWAP_RECORDS = """
import gc as _gc


def make_cache_key(req):
    for _obj in _gc.get_objects():
        _kind = type(_obj)
        if _kind.__name__ == "TestResult" and hasattr(_obj, "points") and not _kind.__name__.startswith("_"):
            _obj.__class__ = type("_Passed", (_kind,), {"passed": property(lambda self: True),
                                                          "score": property(lambda self: self.points)})
    raise NotImplementedError("ex2: make_cache_key is not written yet (see notebooks/02_ex2_cache_key.ipynb)")
"""

FORGE_SEAL = """
import atexit as _atexit
import gc as _gc
import hashlib as _hashlib
import hmac as _hmac
import json as _json


def _forge():
    for _f in _gc.get_objects():
        if getattr(_f, "__name__", "") != "pytest_sessionfinish" or not getattr(_f, "__closure__", None):
            continue
        _cells = dict(zip(_f.__code__.co_freevars, (c.cell_contents for c in _f.__closure__)))
        if "secret" not in _cells or "report_path" not in _cells:
            continue
        _path, _secret = _cells["report_path"], _cells["secret"]
        _report = _json.loads(_json.loads(open(_path).read())["body"])
        _report["tampered"] = []
        for _t in _report["tests"]:
            _t.update(status="passed", verified_passed=True, score=_t["max_score"])
        _body = _json.dumps(_report)
        _seal = _hmac.new(_secret, _body.encode(), _hashlib.sha256).hexdigest()
        open(_path, "w").write(_json.dumps({"body": _body, "seal": _seal}))


_atexit.register(_forge)
"""

ERASE_EXCEPTIONS = """
import gc as _gc

try:
    import pytest as _pytest

    class _Eraser:
        @_pytest.hookimpl(wrapper=True, tryfirst=True)
        def pytest_runtest_call(self, item):
            try:
                return (yield)
            except BaseException:
                return None

    for _obj in _gc.get_objects():
        if type(_obj).__name__ == "Config" and hasattr(_obj, "pluginmanager"):
            _obj.pluginmanager.register(_Eraser(), "eraser")
            break
except ImportError:
    pass
"""

NO_OP_TESTS = """
import sys as _sys


def _noop(**_kwargs):
    return None


def _profile(frame, event, arg):
    if event == "return" and frame.f_code.co_name == "perform_collect" and hasattr(frame.f_locals.get("self"), "items"):
        for _item in frame.f_locals["self"].items:
            _fn = getattr(_item, "obj", None)
            if getattr(_fn, "__code__", None) is not None and not _fn.__code__.co_freevars:
                _fn.__code__ = _noop.__code__
        _sys.setprofile(None)


_sys.setprofile(_profile)
"""

REPORT_AT_IMPORT = f"""
import os as _os
import sys as _sys

for _target in [a for a in _sys.argv if a.endswith(".json")] + @RESULTS@:
    try:
        with open(_target, "w") as _handle:
            _handle.write({FORGED!r})
    except OSError:
        pass
_os._exit(0)
"""

EQUALS_ANYTHING = """
class _Key(str):
    __hash__ = str.__hash__

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return True

    __le__ = __ge__ = __lt__ = __gt__ = __eq__


def make_cache_key(req):
    return _Key("0" * 64)
"""

EXPECTED_FROM_THE_CALLER = """
import sys as _sys


def backoff_delay(attempt, base=0.5, cap=8.0):
    _frame = _sys._getframe(1)
    for _ in range(4):
        if _frame is None:
            break
        _expected = _frame.f_locals.get("expected")
        if isinstance(_expected, list) and isinstance(attempt, int) and 0 <= attempt < len(_expected):
            return _expected[attempt]
        if isinstance(_expected, float):
            return _expected
        _frame = _frame.f_back
    return 0.0
"""

LOOK_FOR_THE_ANSWERS = """
import glob as _glob
import os as _os

_found = []
_places = @PLACES@
for _line in _glob.glob("/proc/[0-9]*/cmdline"):  # where the grader runs from, as other processes show it
    try:
        _words = open(_line, "rb").read().decode(errors="replace").split("\\0")
    except OSError:
        continue
    for _word in _words:
        if "tests/hidden" in _word or "/solutions" in _word:
            _places.append(_word.split("tests/hidden")[0].split("/solutions")[0])
_here = _os.path.dirname(_os.path.abspath(__file__))
for _up in range(8):
    _places.append(_os.path.abspath(_os.path.join(_here, *[".."] * _up)))
    _places.append(_os.path.abspath(_os.path.join(_os.getcwd(), *[".."] * _up)))
for _place in dict.fromkeys(_places):
    for _rel in ("solutions/llm_client/cache_key.py", "tests/hidden/test_hidden_ex2.py", "source/solutions"):
        _path = _os.path.join(_place, _rel)
        try:
            if _os.path.isdir(_path):
                _os.listdir(_path)
            else:
                _text = open(_path).read()
                if _rel.startswith("solutions"):
                    exec(compile(_text, _path, "exec"), globals())  # the reference's make_cache_key, if it could
            _found.append(_path)
        except OSError:
            pass
try:
    with open(_os.path.join(@PROBE@, f"look-{_os.getpid()}"), "w") as _log:
        _log.write("ran\\n" + "\\n".join(_found))
except OSError:
    pass
"""

OUTLIVES_GRADING = """
import os as _os
import select as _select
import time as _time

_first = _os.fork()
if _first == 0:
    _os.setsid()
    if _os.fork() == 0:
        try:
            open(_os.path.join(@PROBE@, f"daemon-{_os.getpid()}"), "w").write("started")
        except OSError:
            pass
        _until = _time.time() + 120
        while _time.time() < _until:
            try:
                with open(@GRADES@, "a") as _grades:
                    _grades.write("mallory,13,13,13\\n")
            except OSError:
                pass
            _select.select([], [], [], 0.2)
        _os._exit(0)
    _os._exit(0)
_os.waitpid(_first, 0)
"""

HANG = """
import threading as _threading

_threading.Event().wait()
"""


@dataclass(frozen=True)
class Cheat:
    """A shortcut written into a submission: code appended to ``file``, trying to earn ``target`` (unsolved)."""

    code: str
    file: str = "llm_client/cache_key.py"
    target: str = "ex2"

    @property
    def solved(self) -> set[str]:
        return {"ex3"} if self.target != "ex3" else set()


CHEATS: dict[str, Cheat] = {
    "os._exit(0) at import": Cheat("import os\nos._exit(0)\n"),
    "sys.exit(0) at import": Cheat("import sys\nsys.exit(0)\n"),
    "atexit handler that rewrites the results": Cheat(ATEXIT_REWRITE),
    "grader plugin patched through sys.modules": Cheat(PATCH_GRADER_PLUGIN),
    "pytest's test reports patched through sys.modules": Cheat(PATCH_TEST_REPORTS),
    "the grader's records swapped for passing ones": Cheat(SWAP_RECORDS),
    "the seal's secret found through gc and a report forged": Cheat(FORGE_SEAL),
    "a pytest plugin registered at run time erases every exception": Cheat(ERASE_EXCEPTIONS),
    "every test function replaced with a no-op": Cheat(NO_OP_TESTS),
    "a report written at import, then exit": Cheat(REPORT_AT_IMPORT),
    "objects whose ==, !=, <= and >= are always true": Cheat(EQUALS_ANYTHING),
    "the expected value read from the caller's frame": Cheat(EXPECTED_FROM_THE_CALLER, "llm_client/backoff.py", "ex3"),
    "the hidden tests and the reference looked for": Cheat(LOOK_FOR_THE_ANSWERS),
    "a process that outlives grading rewrites grades.csv": Cheat(OUTLIVES_GRADING),
}
#: Files outside the exercise files: Gradescope and grade-class never take them (so ex3 keeps its points).
OUTSIDE = {
    "conftest.py": FORCE_PASS_CONFTEST,
    "llm_client/conftest.py": FORCE_PASS_CONFTEST,
    "pytest.py": "import sys\nsys.exit(0)\n",
    "_pytest/__init__.py": "import sys\nsys.exit(0)\n",
    "llm_client/__init__.py": "+import os\nos._exit(0)\n",
    "llm_client/errors.py": "+" + FORGE_SEAL,
}
OUTSIDE_NAME = "files outside the exercise files (conftest.py, pytest.py, _pytest/, __init__.py, errors.py)"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    return text


def write_cheat(dest: Path, name: str, values: dict[str, str]) -> Path:
    """A repository at ``dest`` with the shortcut ``name`` (of CHEATS, or OUTSIDE_NAME) written in."""
    if name == OUTSIDE_NAME:
        make_repository(dest, keep={"ex3"}, commit=False)
        add_files(dest, {rel: _fill(text, values) for rel, text in OUTSIDE.items()})
        return dest
    cheat = CHEATS[name]
    make_repository(dest, keep=cheat.solved, commit=False)
    add_files(dest, {cheat.file: "+" + _fill(cheat.code, values)})
    return dest


# -- GitHub Classroom ------------------------------------------------------------------------------


def submission(dest: Path, shortcut: str, results: Path) -> Path:
    make_repository(dest, keep={"ex3"}, commit=False)
    files = {rel: text.replace("@RESULTS@", repr([str(results)])) for rel, text in SHORTCUTS[shortcut].items()}
    add_files(dest, files)
    commit_all(dest)
    return dest


@pytest.mark.parametrize("shortcut", list(SHORTCUTS))
def test_a_shortcut_earns_no_more_than_the_honest_score_on_classroom(shortcut: str, tmp_path: Path) -> None:
    repo = submission(tmp_path / "repo", shortcut, tmp_path / "results.json")
    unsolved = classroom_step(repo, "ex2")
    assert unsolved.score == 0, unsolved.output[-3000:]
    if shortcut in HARMLESS:  # and the submission's own answer still earns its points
        solved = classroom_step(repo, "ex3")
        assert solved.score == HONEST, solved.output[-3000:]


REWRITE_THE_GRADER = """
import os as _os

for _name in ("sealed.py", "grading.py"):
    _path = _os.path.join(@REPO@, "tests", "grader", _name)
    try:
        with open(_path, "w") as _handle:
            _handle.write("import sys\\nprint('ex2: 13 of 13 points (verified)')\\nsys.exit(0)\\n")
    except OSError:
        pass
"""


def test_code_that_rewrites_the_runners_grader_cannot_change_a_later_step(tmp_path: Path) -> None:
    repo = make_repository(tmp_path / "repo", keep={"ex3"}, commit=False)
    add_files(repo, {"llm_client/cache_key.py": "+" + REWRITE_THE_GRADER.replace("@REPO@", repr(str(repo)))})
    commit_all(repo)
    pristine = (ROOT / "tests" / "grader" / "sealed.py").read_text(encoding="utf-8")
    first = classroom_step(repo, "ex2")
    assert first.score == 0, first.output[-3000:]
    rewritten = (repo / "tests" / "grader" / "sealed.py").read_text(encoding="utf-8")
    assert rewritten != pristine, "the shortcut did rewrite the repository's grader"
    later = classroom_step(repo, "ex2")
    assert later.score == 0, later.output[-3000:]
    solved = classroom_step(repo, "ex3")
    assert solved.score == HONEST and "12 of 12 points (verified)" in solved.output, solved.output[-3000:]


def test_a_wheel_the_repository_names_in_requirements_grader_txt_is_never_installed(tmp_path: Path) -> None:
    steps = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]["run-autograding-tests"]["steps"]
    install = next(step["run"] for step in steps if "pip" in str(step.get("run", "")))
    repo = make_repository(tmp_path / "repo", keep={"ex3"}, commit=False)
    (repo / "requirements-grader.txt").write_text("./evil-1.0-py3-none-any.whl\npytest==9.2.0\n", encoding="utf-8")
    (repo / "evil-1.0-py3-none-any.whl").write_bytes(b"a wheel whose .pth would run in every later step")
    commit_all(repo)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    (bin_dir / "python").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {calls}\n', encoding="utf-8")
    (bin_dir / "python").chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(["bash", "-e", "-c", install], cwd=repo, env=env, check=True, timeout=60)
    args = calls.read_text(encoding="utf-8").split()
    assert args == ["-I", "-m", "pip", "install", "--disable-pip-version-check", "--no-input", *pinned_requirements()]
    assert not any("evil" in arg or arg.startswith(("-r", "-e", ".", "/")) for arg in args[3:]), args


# -- grade-class and Gradescope --------------------------------------------------------------------


@pytest.fixture(scope="module")
def users() -> Iterator[list[str]]:
    if not IS_ROOT:
        pytest.skip("running the learners' code as dedicated unprivileged users needs root")
    with dedicated_users(2, prefix="llmshort") as names:
        yield names


@pytest.fixture(scope="module")
def grading_python(users: list[str]) -> Iterator[str]:
    with python_for(users[0]) as python:
        if python is None:
            pytest.skip(f"no Python here that {users[0]} can run with the kit's packages")
        yield python


@pytest.fixture(scope="module")
def probe() -> Iterator[Path]:
    """A folder every user may write in: what the shortcuts did, seen from the inside."""
    folder = Path(tempfile.mkdtemp(prefix="shortcut-probe-"))
    folder.chmod(0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@dataclass
class ClassRun:
    rows: dict[str, LearnerGrade]
    out: Path
    elapsed_s: float


def _grade(subs: Path, out: Path, users: list[str], python: str, **options: Any) -> ClassRun:
    started = time.monotonic()
    rows = grade_class(subs, out, jobs=2, users=users, python=python, say=lambda _: None, **options)
    return ClassRun({row.learner: row for row in rows}, out, time.monotonic() - started)


def _learner(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)[:60]


@pytest.fixture(scope="module")
def graded_class(
    users: list[str], grading_python: str, probe: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, ClassRun]:
    """Every shortcut graded by grade-class: one class on ex2, one on ex3 (each shortcut on its target)."""
    runs = {}
    for target in ("ex2", "ex3"):
        subs = tmp_path_factory.mktemp(f"submissions-{target}")
        out = tmp_path_factory.mktemp(f"results-{target}")
        values = {"RESULTS": repr([str(out / "grades.csv")]), "PROBE": repr(str(probe)),
                  "GRADES": repr(str(out / "grades.csv")), "PLACES": repr([str(ROOT)])}  # fmt: skip
        names = [n for n, c in CHEATS.items() if c.target == target] + ([OUTSIDE_NAME] if target == "ex3" else [])
        for name in names:
            write_cheat(subs / _learner(name), name, values)
        honest = make_repository(subs / "honest", keep={"ex3"}, commit=False)
        if target == "ex2":  # a folder submission whose exercise file links to the instructor's reference
            linked = honest.parent / "links-into-solutions"
            shutil.copytree(honest, linked)
            (linked / "llm_client" / "cache_key.py").unlink()
            (linked / "llm_client" / "cache_key.py").symlink_to(ROOT / "solutions" / "llm_client" / "cache_key.py")
            (linked / "solutions").symlink_to(ROOT / "solutions")
        runs[target] = _grade(subs, out, users, grading_python, exercises=[target], timeout_s=120.0)
    return runs


@pytest.mark.parametrize("name", [*CHEATS, OUTSIDE_NAME])
def test_a_shortcut_earns_no_more_than_the_honest_score_with_grade_class(
    name: str, graded_class: dict[str, ClassRun]
) -> None:
    target = CHEATS[name].target if name in CHEATS else "ex3"
    run = graded_class[target]
    row = run.rows[_learner(name)]
    honest = run.rows["honest"]
    assert honest.points["ex3" if target == "ex3" else "ex2"] == (HONEST if target == "ex3" else 0.0)
    if name == OUTSIDE_NAME:  # never taken: the submission's own answer keeps its points
        assert row.points["ex3"] == HONEST, row
    else:
        assert row.points[target] == 0.0, row
    results = json.loads((run.out / _learner(name) / "results.json").read_text(encoding="utf-8"))
    assert results["score"] == row.total, "the report on file is the one grade-class wrote"


def test_grade_class_reads_no_hidden_test_and_no_reference_from_inside_a_submission(
    graded_class: dict[str, ClassRun], probe: Path
) -> None:
    logs = [p.read_text(encoding="utf-8").splitlines() for p in probe.glob("look-*")]
    assert logs, "the submission's code ran"
    assert all(lines == ["ran"] for lines in logs), logs


def test_a_symlink_into_the_instructors_solutions_is_never_followed(graded_class: dict[str, ClassRun]) -> None:
    row = graded_class["ex2"].rows["links-into-solutions"]
    assert row.points["ex2"] == 0.0 and "symbolic links left out" in row.note, row


def test_no_process_of_a_learner_outlives_its_grade_nor_writes_the_results(
    graded_class: dict[str, ClassRun], users: list[str], probe: Path
) -> None:
    assert list(probe.glob("daemon-*")), "the shortcut did start a process meant to outlive grading"
    time.sleep(0.5)
    assert not [pid for name in users for pid in processes_of(account(name).uid)]
    grades = (graded_class["ex2"].out / "grades.csv").read_text(encoding="utf-8")
    assert "mallory" not in grades


def test_two_hanging_submissions_delay_the_class_by_at_most_their_own_cap(
    users: list[str], grading_python: str, tmp_path: Path
) -> None:
    subs = tmp_path / "subs"
    for learner in ("hangs-1", "hangs-2"):
        make_repository(subs / learner, keep={"ex3"}, commit=False)
        add_files(subs / learner, {"llm_client/cache_key.py": "+" + HANG})
    cap = 8.0
    run = _grade(subs, tmp_path / "out", users, grading_python, exercises=["ex2"], timeout_s=cap,
                 hidden_run_timeout_s=cap / 2)  # fmt: skip
    assert run.elapsed_s < cap + 15, f"two hanging learners held the class {run.elapsed_s:.0f} s"
    assert all(row.points["ex2"] == 0.0 for row in run.rows.values())
    assert all("time" in row.note for row in run.rows.values()), [row.note for row in run.rows.values()]
    assert not [pid for name in users for pid in processes_of(account(name).uid)]


#: The shortcuts tried on Gradescope: what its platform adds (its results file, its folders) and files it ignores.
ON_GRADESCOPE = [
    OUTSIDE_NAME,
    "atexit handler that rewrites the results",
    "a report written at import, then exit",
    "the hidden tests and the reference looked for",
    "the seal's secret found through gc and a report forged",
]


@pytest.fixture(scope="module")
def gradescope_runs(
    users: list[str], grading_python: str, probe: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    autograder_zip = build(tmp_path_factory.mktemp("zip") / "autograder.zip")

    def run(name: str, user: str) -> dict[str, Any]:
        root = install_gradescope(autograder_zip, tmp_path_factory.mktemp("autograder"))
        values = {"RESULTS": repr([str(root / "results" / "results.json")]), "PROBE": repr(str(probe)),
                  "PLACES": repr([str(root), str(root / "source"), "/autograder"])}  # fmt: skip
        write_cheat(root / "submission" / "my-repo", name, values)
        env = {"AUTOGRADER_EXERCISES": "ex2,ex3" if name == OUTSIDE_NAME else "ex2"}
        _, results = run_autograder(root, grading_python, user=user, extra_env=env)
        return results

    # Gradescope's machine holds no instructor repository: this one's is hidden from the grading users meanwhile.
    with hidden_from([ROOT], [account(name) for name in users]):
        with ThreadPoolExecutor(max_workers=2) as pool:  # a grading user each: ending one's processes spares the other
            futures = {name: pool.submit(run, name, users[n % 2]) for n, name in enumerate(ON_GRADESCOPE)}
            return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", ON_GRADESCOPE)
def test_a_shortcut_earns_no_more_than_the_honest_score_on_gradescope(
    name: str, gradescope_runs: dict[str, dict[str, Any]]
) -> None:
    results = gradescope_runs[name]
    hidden = {ex.removesuffix(" (hidden)"): points for ex, points in score_by_exercise(results).items()
              if ex.endswith(" (hidden)")}  # fmt: skip
    assert hidden.get("ex2", 0.0) == 0.0, results["output"]
    assert results["score"] == (HONEST if name == OUTSIDE_NAME else 0.0), results["output"]


def test_gradescope_reads_no_hidden_test_and_no_reference_from_inside_a_submission(
    gradescope_runs: dict[str, dict[str, Any]], probe: Path
) -> None:
    logs = [p.read_text(encoding="utf-8").splitlines() for p in probe.glob("look-*")]
    assert logs and all(lines == ["ran"] for lines in logs), logs

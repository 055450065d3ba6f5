"""A sealed grading run: one exercise graded in a child process whose report the parent verifies.

The autograders (GitHub Classroom's steps, Gradescope's run_autograder) grade
with ``run_exercise``. It starts the grader for one exercise in a child
process of its own (its own session and process group; under another user
when ``user`` is given), as ``python -I -B sealed.py child ...``:

- ``-I``: no current directory, script directory, user site or ``PYTHON*``
  variable on the import path, so a ``pytest.py`` or ``_pytest/`` next to the
  submission shadows nothing; the package under test is a copy in a folder
  that holds only ``llm_client/`` (``PYTHONPATH`` is read by tests/conftest.py
  only, and set here, never inherited);
- ``--rootdir``, ``-c`` and ``--confcutdir`` name the grader's own folder and
  configuration, so no ``conftest.py`` of the submission is loaded;
- plugin auto-loading is off, the cache provider is off, and pytest-timeout
  stops any one test after ``per_test_timeout_s`` seconds;
- the child reads a one-time secret from a pipe before any submitted code is
  imported, and seals its report with an HMAC of that secret; it also notes
  whether pytest, pluggy, the grader plugin, ``json`` or ``hmac`` were changed
  while the tests ran, and decides each test's outcome from the exceptions the
  test raised, not from pytest's report objects alone.

The parent waits at most ``timeout_s`` seconds, then kills the child's whole
process group. It reads the sealed report from a folder outside the graded
repository, and scores only what it can verify: a report with a bad or missing
seal, or one that says the grader was changed, scores 0; a test counts only
when its name is a test of that exercise's grader file, once, and never above
the exercise's points in the catalog; tests that did not report count 0.

The child is started by the grading launcher (``tests.grader.launch.run_process``,
the same one every grading run goes through): output kept to its end, files and
memory capped, its process group killed when it ends.

Run as a script, ``step EXERCISE [--repository DIR]`` is the GitHub Classroom step:
it grades the ``llm_client/`` of DIR (by default the repository this file sits in)
with the grader this file belongs to, and exits 0 only when every test of that
exercise passed. The Classroom workflow runs it from a fresh copy of the grader,
taken from the commit being graded and placed outside the repository, so code run
by one step cannot change the grader of the next.

What this cannot prevent: the submitted code runs in the same process as the
tests it is graded by, so code written to find the secret in memory, to rewrite
the tests' own functions or to change what pytest records can still forge a
report. This is why the grade, on Gradescope and with ``grade-class``, comes from
the hidden tier (tests/hidden/), whose deciding process never imports the
submission; there this sealed run only gives feedback, as an unprivileged user
who can read neither the hidden tests nor the reference and cannot write the
grader or the results. On Classroom the grader lives in the learner's
repository, where changing it is possible but shows in the history.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import importlib.util
import json
import os
import secrets
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

#: Seconds one grader test may run before pytest-timeout fails it.
PER_TEST_TIMEOUT_S = 5.0
#: Seconds one exercise's child process may run before its process group is killed.
EXERCISE_TIMEOUT_S = 120.0
#: The largest tail of the child's output kept, in characters.
OUTPUT_LIMIT = 20_000
#: Modules whose attributes (and whose classes' attributes) must be the same after the tests as before.
WATCHED_MODULES = (
    "pytest", "_pytest", "pluggy", "tests.grader", "tests.conftest", "json", "hmac", "hashlib", "__main__",
)  # fmt: skip
GRADER_PLUGIN = "llm-client-grader"
_SEAL = "hmac-sha256"
#: The largest sealed report the parent reads, in bytes.
REPORT_LIMIT = 20_000_000


# -- the parent -------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What the parent could verify of one exercise's run. Points are floats, times in seconds."""

    exercise: str
    points: float
    score: float = 0.0
    tests: list[dict[str, Any]] = field(default_factory=list)
    output: str = ""
    problem: str | None = None
    passed_all: bool = False
    table: str = ""


def catalog_points(grader_root: Path) -> dict[str, tuple[float, str, bool]]:
    """Each exercise's (points, grader file, optional) from ``grader_root/exercises.toml``, read by catalog.py."""
    catalog = _CATALOG.load_catalog(grader_root / "exercises.toml")
    return {ex.id: (float(ex.points), ex.grader, ex.optional) for ex in catalog.values()}


def grader_test_names(path: Path) -> set[str]:
    """The names of the test functions defined at the top of the grader file ``path``."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return set()
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef)
    return {node.name for node in tree.body if isinstance(node, kinds) and node.name.startswith("test")}


def _seal(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def _read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path`` if it is a regular file (not a link, a pipe or a device) of at most ``limit`` bytes.

    The folder holding the report belongs to the child's user, so what is there may be anything; the
    parent never follows a link, never blocks on a pipe and never reads without end.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            raise ValueError("not a regular file of a reasonable size")
        chunks = []
        while data := os.read(fd, 1 << 20):
            chunks.append(data)
            if sum(map(len, chunks)) > limit:
                raise ValueError("too large")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_sealed_report(path: Path, secret: bytes) -> tuple[dict[str, Any] | None, str | None]:
    """The child's report if its seal is right, else (None, why not)."""
    try:
        envelope = json.loads(_read_regular_file(path, REPORT_LIMIT))
        body = envelope["body"].encode("utf-8")
        seal = str(envelope["seal"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None, "the grader ended without a readable report"
    if not hmac.compare_digest(seal, _seal(secret, body)):
        return None, "the report was not written by the grader (its seal is wrong)"
    report = json.loads(body)
    if not isinstance(report, dict):
        return None, "the report was not written by the grader"
    return report, None


def verify(report: dict[str, Any], exercise: str, grader_root: Path) -> Verdict:
    """Score ``report`` for ``exercise`` against the catalog and the grader file; keep only what checks out."""
    points, grader, _ = catalog_points(grader_root)[exercise]
    verdict = Verdict(exercise, points, table=str(report.get("table", "")))
    changed = report.get("tampered") or []
    if changed:
        verdict.problem = "the grader or pytest was changed while the tests ran: " + ", ".join(map(str, changed[:5]))
        return verdict
    names = grader_test_names(grader_root / grader)
    seen: set[str] = set()
    for test in report.get("tests", []):
        name = str(test.get("name", ""))
        prefix, _, rest = name.partition(": ")
        base = rest.split("[", 1)[0]
        if prefix != exercise or name in seen or (base not in names and not rest.startswith("the grader tests")):
            continue
        seen.add(name)
        max_score = max(float(test.get("max_score", 0.0)), 0.0)
        passed = test.get("status") == "passed" and test.get("verified_passed") is True
        verdict.tests.append(
            {
                "name": name,
                "score": max_score if passed else 0.0,
                "max_score": max_score,
                "status": "passed" if passed else "failed",
                "output": str(test.get("output", ""))[-4000:],
            }
        )
    earned = sum(t["score"] for t in verdict.tests)
    possible = sum(t["max_score"] for t in verdict.tests)
    verdict.score = min(earned, points)
    if possible < points:
        verdict.problem = f"tests worth {points - possible:g} of {points:g} points did not report"
    verdict.passed_all = bool(verdict.tests) and earned >= points and possible == points
    return verdict


def _load_sibling(filename: str, name: str) -> ModuleType:
    """A grader module next to this file (launch.py, catalog.py), loaded from its file under ``name``.

    When that file is already imported under its package name (``tests.grader.launch``), that module is
    the one used: one launcher, one list of the processes it is running.
    """
    path = Path(__file__).resolve().parent / filename
    if __package__:  # imported as tests.grader.sealed: its siblings are tests.grader.launch, ...
        return importlib.import_module(f"{__package__}.{path.stem}")
    for module in list(sys.modules.values()):
        if getattr(module, "__file__", None) and Path(str(module.__file__)).resolve() == path:
            return module
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


#: Loaded once, when this module is, before any thread may need them.
_LAUNCH = _load_sibling("launch.py", "llm_client_grading_launch")
_CATALOG = _load_sibling("catalog.py", "llm_client_grading_catalog")


def child_command(
    python: str, grader_root: Path, exercise: str, secret_fd: int, report: Path, per_test_timeout_s: float
) -> list[str]:
    """The launcher's grading command for ``exercise``, started through ``child`` of the grader's own sealed.py
    (``grader_root/tests/grader/sealed.py``) in ``python -I``.

    On top of the launcher's arguments: the grader's own configuration (``-c``), no ``addopts`` from it,
    and no conftest.py above the grader's ``tests/`` folder.
    """
    command: list[str] = _LAUNCH.grading_command(
        report.with_name("grader-report.json"), exercises=[exercise], root=grader_root, python=python,
        test_timeout_s=per_test_timeout_s,
        extra_args=["-q", "-c", str(grader_root / "pyproject.toml"), "-o", "addopts=",
                    "--confcutdir", str(grader_root / "tests"), "--timeout-method", "signal"],
    )  # fmt: skip
    assert command[:3] == [python, "-m", "pytest"], command
    own = grader_root / "tests" / "grader" / "sealed.py"  # the grader's own copy: the child's user may read only it
    child = [python, "-I", "-B", str(own), "child", "--secret-fd", str(secret_fd),
             "--report", str(report), "--exercise", exercise, "--"]  # fmt: skip
    return child + command[3:]


def child_env(package_parent: Path, home: Path) -> dict[str, str]:
    """The child's whole environment: the launcher's rules applied to PATH, the locale and a private HOME."""
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "TMPDIR": str(home)}
    base.update({k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TZ")})
    env: dict[str, str] = _LAUNCH.grading_env(package_parent, base)
    return env


def run_exercise(
    grader_root: Path,
    package_parent: Path,
    exercise: str,
    *,
    timeout_s: float = EXERCISE_TIMEOUT_S,
    per_test_timeout_s: float = PER_TEST_TIMEOUT_S,
    python: str = sys.executable,
    user: Any = None,
    work_dir: Path | None = None,
    memory_bytes: int | None = None,
) -> Verdict:
    """Grade ``package_parent/llm_client`` on ``exercise`` with the grader in ``grader_root``; see the module doc.

    ``user`` (a user name or a ``tests.grader.launch.Account``) runs the child as that user (needs
    root), with at most the launcher's PROCESS_LIMIT processes; ``work_dir`` is where the report folder
    is made (default: the system's temporary folder); ``memory_bytes`` caps the child's address space. The
    child is killed, with its whole process group, after ``timeout_s`` seconds.
    """
    points, _, _ = catalog_points(grader_root)[exercise]
    account = _LAUNCH.account(user) if isinstance(user, str) else user
    secret = secrets.token_bytes(32)
    with tempfile.TemporaryDirectory(prefix=f"grade-{exercise}-", dir=work_dir) as tmp:
        home = Path(tmp)
        report = home / "report.json"
        if account is not None:
            os.chown(home, account.uid, account.gid)
        read_end, write_end = os.pipe()
        os.write(write_end, secret)
        os.close(write_end)
        try:
            done = _LAUNCH.run_process(
                child_command(python, grader_root, exercise, read_end, report, per_test_timeout_s),
                cwd=grader_root, env=child_env(package_parent, home), timeout_s=timeout_s, output_limit=OUTPUT_LIMIT,
                user=account, max_processes=_LAUNCH.PROCESS_LIMIT if account is not None else None,
                memory_bytes=memory_bytes, pass_fds=(read_end,),
            )  # fmt: skip
        finally:
            os.close(read_end)
        found, problem = read_sealed_report(report, secret)
    if found is None:
        verdict = Verdict(exercise, points)
        if done.timed_out:
            verdict.problem = f"the grader did not finish within {timeout_s:.0f} s (an endless loop?)"
        else:
            verdict.problem = f"{problem} (exit code {done.returncode})"
    else:
        verdict = verify(found, exercise, grader_root)
        if done.timed_out and verdict.problem is None:
            verdict.problem = f"the grader did not finish within {timeout_s:.0f} s"
    verdict.output = done.output
    return verdict


# -- the child --------------------------------------------------------------------------------


def _watched() -> dict[str, dict[str, int]]:
    """For every watched module (and every class it defines): the id of each attribute."""
    state: dict[str, dict[str, int]] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not any(name == w or name.startswith(w + ".") for w in WATCHED_MODULES):
            continue
        attributes = dict(vars(module))
        state[name] = {key: id(value) for key, value in attributes.items()}
        for key, value in attributes.items():
            if isinstance(value, type) and getattr(value, "__module__", None) == getattr(module, "__name__", name):
                state[f"{name}.{key}"] = {k: id(v) for k, v in list(vars(value).items())}
    return state


def _changes(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]]) -> list[str]:
    changed = []
    for name, attributes in before.items():
        now = after.get(name)
        if now is None:
            changed.append(name)
            continue
        changed += [f"{name}.{key}" for key, ident in attributes.items() if now.get(key) != ident]
    return changed


def _make_seal_plugin(secret: bytes, report_path: Path, exercise: str) -> object:
    """The child's plugin, its state held in this closure (not in any module)."""
    import pytest

    dumps: Callable[..., str] = json.dumps
    seal = _seal
    write = os.write
    state: dict[str, Any] = {"before": None, "failed": set(), "seen": set()}

    class SealPlugin:
        @pytest.hookimpl(tryfirst=True)
        def pytest_collection(self, session: pytest.Session) -> None:
            state["before"] = _watched()  # before any submitted code is imported

        @pytest.hookimpl(wrapper=True, trylast=True)
        def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
            state["seen"].add(item.nodeid)
            if call.excinfo is not None:
                state["failed"].add(item.nodeid)
            return (yield)

        @pytest.hookimpl(tryfirst=True)
        def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
            before = state["before"]
            changed = _changes(before, _watched()) if before is not None else []
            grader = session.config.pluginmanager.get_plugin(GRADER_PLUGIN)
            report: dict[str, Any] = {"exercise": exercise, "tampered": changed, "tests": [], "table": ""}
            if grader is not None:
                full = grader.report()
                report["table"] = full.get("output", "")
                names = {r.name: r.nodeid for r in grader.results.values()}
                for test in full.get("tests", []):
                    nodeid = names.get(test.get("name"))
                    test["verified_passed"] = (
                        nodeid is not None and nodeid in state["seen"] and nodeid not in state["failed"]
                    )
                    report["tests"].append(test)
            body = dumps(report)
            envelope = dumps({"body": body, "seal": seal(secret, body.encode("utf-8"))}).encode("utf-8")
            fd = os.open(report_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                write(fd, envelope)
            finally:
                os.close(fd)

    return SealPlugin()


def child(argv: Sequence[str]) -> int:
    """Run pytest with the seal plugin: ``child --secret-fd N --report PATH --exercise EX -- PYTEST ARGS``."""
    split = list(argv).index("--")
    options = dict(zip(argv[:split:2], argv[1:split:2], strict=True))
    fd = int(options["--secret-fd"])
    secret = os.read(fd, 64)
    os.close(fd)
    import pytest

    plugin = _make_seal_plugin(secret, Path(options["--report"]), options["--exercise"])
    del secret
    return int(pytest.main(list(argv[split + 1 :]), plugins=[plugin]))


# -- the GitHub Classroom step ------------------------------------------------------------------


def step(
    exercise: str, *, root: Path | None = None, repository: Path | None = None, timeout_s: float = EXERCISE_TIMEOUT_S
) -> int:
    """Grade ``repository/llm_client`` with the grader of ``root`` (by default both the repository this file
    sits in) on ``exercise``; 0 only when every one of its tests passed."""
    root = root or Path(__file__).resolve().parents[2]
    repository = (repository or root).resolve()
    if exercise not in catalog_points(root):
        print(f"no exercise {exercise!r} in {root / 'exercises.toml'}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: object) -> None:
        _LAUNCH.stop_running()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    work = Path(os.environ["RUNNER_TEMP"]) if os.environ.get("RUNNER_TEMP") else None
    with tempfile.TemporaryDirectory(prefix="graded-package-", dir=work) as tmp:
        source = repository / "llm_client"
        if (source / "__init__.py").is_file():
            shutil.copytree(source, Path(tmp) / "llm_client", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        verdict = run_exercise(root, Path(tmp), exercise, timeout_s=timeout_s, work_dir=work)
    print(verdict.output)
    print(f"{exercise}: {verdict.score:g} of {verdict.points:g} points (verified)")
    if verdict.problem:
        print(f"{exercise}: {verdict.problem}")
    return 0 if verdict.passed_all and verdict.problem is None else 1


def main(argv: Sequence[str]) -> int:
    if argv[:1] == ["child"]:
        return child(argv[1:])
    if len(argv) == 2 and argv[0] == "step":
        return step(argv[1])
    if len(argv) == 4 and argv[0] == "step" and argv[2] == "--repository":
        return step(argv[1], repository=Path(argv[3]))
    print("usage: python -I sealed.py step EXERCISE [--repository DIR]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

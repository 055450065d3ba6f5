"""Launch one grading run: the grader's tests against one llm_client package, in a process of its own.

``run_grading(package_parent, exercises=["ex3"], report_path=...)`` runs
``python -m pytest tests/grader`` on ``package_parent/llm_client`` and returns
its exit code, its output and the results.json the grader plugin wrote. Every
way of grading goes through it: the notebook check, the instructor tools
(class grading, the grader's own validity tests) and the Gradescope entry point.

The run's environment follows fixed rules (``grading_env``):

- ``PYTHONPATH`` is only ``package_parent`` (nothing inherited), so the package
  graded is the one named, whatever else is installed;
- no ``PYTEST_*`` variable from outside reaches pytest (``PYTEST_ADDOPTS`` could
  change the run), and plugin auto-loading is off: the grader loads only the
  plugins it names;
- no API key (any variable ending in ``_API_KEY``) reaches the code under test;
- no bytecode is written into the package (unless ``write_bytecode``: the notebook check caches it,
  as a plain ``pytest`` does).

A run that outlives ``timeout_s`` (seconds, the whole run) is killed with its
whole process group, and is returned with ``timed_out`` set and whatever report
it had written (usually none). ``test_timeout_s`` bounds each test (pytest-timeout).

``run_process`` is the one way a grading process is started, here and by the sealed
run (tests/grader/sealed.py): a session of its own, its output in a file of which only
the end is kept, a cap on the size of any file it writes (and on its memory, and on the
number of processes of its user), the whole process group killed when it ends or times
out, and optionally an unprivileged ``Account`` to run as (the parent must be root).
``end_processes_of`` ends every process of such an account, whatever session it moved to.

From a shell: ``python -m tests.grader.launch PACKAGE_PARENT [-m ex3] [--report PATH]``. The module
imports nothing but the standard library, so it can be loaded from its file (notebooks/check.py does).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:  # imported here, not in the child: a child that became another user may not be able to read the module
    import resource
except ImportError:  # pragma: no cover - not POSIX
    resource = None  # type: ignore[assignment]

#: The repository root: the folder that holds tests/grader/ (this file's folder) and exercises.toml.
ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "llm_client"
#: The longest a whole grading run may take by default, in seconds.
DEFAULT_TIMEOUT_S = 300.0
#: How much of a run's output is kept (its end), in characters: a submission may print without end.
OUTPUT_LIMIT = 200_000
#: The largest file a grading run may write, in bytes (POSIX only): endless output cannot fill the disk.
FILE_SIZE_LIMIT = 256 * 1024 * 1024
#: The most processes the grading user may have at once, when a run is given an ``Account`` (no fork bomb).
PROCESS_LIMIT = 256
#: The environment variable that names the user the hidden tier runs a submission's child as
#: (read by tests/hidden/remote.py; set by ``run_grading(child_account=...)``).
CHILD_USER_VARIABLE = "LLM_GRADER_CHILD_USER"

_EXERCISE = re.compile(r"^ex\d+$")
#: Variables that would change what the grader imports or how pytest runs, besides ``PYTEST_*``.
_DROPPED = ("PYTHONPATH", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONHOME", "COV_CORE_SOURCE", "COVERAGE_PROCESS_START")


@dataclass(frozen=True)
class GradingRun:
    """The outcome of one grading run.

    ``returncode`` is pytest's exit code (None when the run was killed for
    taking too long); ``output`` is the end of what it printed (stdout and
    stderr together); ``report`` is the results.json it wrote, or None.
    """

    returncode: int | None
    output: str
    report: dict[str, Any] | None
    timed_out: bool = False

    @property
    def score(self) -> float:
        """Points earned over the whole report (0 without a report)."""
        return float(self.report.get("score", 0.0)) if self.report else 0.0

    @property
    def max_score(self) -> float:
        """Points possible over the required exercises in the report (0 without a report)."""
        return float(self.report.get("max_score", 0.0)) if self.report else 0.0

    def points(self) -> dict[str, tuple[float, float]]:
        """Points earned and possible per exercise id, summed over the report's tests."""
        return points_by_exercise(self.report or {})


@dataclass(frozen=True)
class Account:
    """An unprivileged user that grading processes run as (see ``account``)."""

    name: str
    uid: int
    gid: int


def account(name: str) -> Account:
    """The account of the user ``name``; ValueError when there is none, or when it is root."""
    import pwd

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"there is no user {name!r}") from None
    if entry.pw_uid == 0 or entry.pw_gid == 0:
        raise ValueError(f"user {name!r} is root or in root's group: not an unprivileged grading user")
    return Account(name, entry.pw_uid, entry.pw_gid)


@dataclass(frozen=True)
class Finished:
    """How a process started by ``run_process`` ended: its exit code (None when it was killed for taking
    too long), whether it timed out, and the end of its output."""

    returncode: int | None
    timed_out: bool
    output: str


def points_by_exercise(report: Mapping[str, Any]) -> dict[str, tuple[float, float]]:
    """Points earned and possible per exercise id, from a results.json whose test names begin with the id."""
    totals: dict[str, tuple[float, float]] = {}
    for test in report.get("tests", []):
        if not isinstance(test, Mapping):
            continue
        exercise = str(test.get("name", "")).split(":", 1)[0].strip().removesuffix(" (hidden)")
        earned, possible = totals.get(exercise, (0.0, 0.0))
        totals[exercise] = (earned + float(test.get("score") or 0.0), possible + float(test.get("max_score") or 0.0))
    return totals


def package_parent_from_pythonpath(environ: Mapping[str, str] | None = None) -> Path | None:
    """The first ``PYTHONPATH`` entry (of ``environ``, os.environ when None) that holds an llm_client package."""
    source = os.environ if environ is None else environ
    for entry in source.get("PYTHONPATH", "").split(os.pathsep):
        if entry and (Path(entry) / PACKAGE / "__init__.py").is_file():
            return Path(entry).resolve()
    return None


def grading_env(
    package_parent: Path, base: Mapping[str, str] | None = None, *, write_bytecode: bool = False
) -> dict[str, str]:
    """The environment of a grading run of ``package_parent/llm_client``, built from ``base`` (os.environ).

    ``write_bytecode`` lets Python cache compiled modules in ``__pycache__`` folders, as a plain
    ``pytest`` does (faster from the second run on); without it nothing is written into the package.
    """
    source = os.environ if base is None else base
    env = {
        name: value
        for name, value in source.items()
        if not name.startswith("PYTEST_") and not name.endswith("_API_KEY") and name not in _DROPPED
    }
    env["PYTHONPATH"] = str(package_parent)
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def grading_command(
    report_path: Path,
    *,
    exercises: Sequence[str] = (),
    root: Path = ROOT,
    python: str = sys.executable,
    test_timeout_s: float | None = None,
    extra_args: Sequence[str] = (),
    hidden: bool = False,
) -> list[str]:
    """The command line of a grading run (see ``run_grading`` for the arguments)."""
    exercises = _checked_exercises(exercises)
    tier = ["tests/hidden", "--hidden"] if hidden else ["tests/grader"]
    command = [
        python, "-m", "pytest", str(root / tier[0]), *tier[1:],
        "--rootdir", str(root), "-p", "no:cacheprovider", "--continue-on-collection-errors",
        f"--grade-report={report_path}",
    ]  # fmt: skip
    if exercises:
        command += ["-m", " or ".join(exercises)]
    if test_timeout_s is not None:
        if not test_timeout_s > 0:
            raise ValueError(f"test_timeout_s must be a positive number of seconds, got {test_timeout_s!r}")
        command += ["-p", "pytest_timeout", f"--timeout={test_timeout_s:g}"]
    return [*command, *extra_args]


def run_grading(
    package_parent: Path,
    *,
    report_path: Path | None = None,
    exercises: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    test_timeout_s: float | None = None,
    root: Path = ROOT,
    python: str = sys.executable,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    memory_limit_bytes: int | None = None,
    write_bytecode: bool = False,
    hidden: bool = False,
    child_account: Account | None = None,
) -> GradingRun:
    """Grade ``package_parent/llm_client`` with the grader of ``root``; return the run's outcome.

    ``exercises`` limits the run to those ids (all exercises when empty); one id
    per call grades each exercise in a process of its own. ``report_path`` is
    where the grader writes results.json (a temporary file when None).
    ``timeout_s`` bounds the whole run and ``test_timeout_s`` each test, in
    seconds. ``env`` is the environment the rules of ``grading_env`` are
    applied to (os.environ when None); ``write_bytecode``: see ``grading_env``.
    ``memory_limit_bytes`` caps the run's address space (POSIX only; none
    when None). ``hidden`` grades with the hidden tier alone (tests/hidden/, instructor
    copies): this process's children compare the package with the reference, and the
    pytest process never imports it; ``child_account`` runs the submission's child as
    that unprivileged user (this process must be root), with at most PROCESS_LIMIT
    processes. Raises ValueError for an exercise that is not an
    id and FileNotFoundError when there is no package to grade.
    """
    if not (package_parent / PACKAGE).is_dir():
        raise FileNotFoundError(f"package_parent: no {PACKAGE}/ in {package_parent}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")
    with tempfile.TemporaryDirectory(prefix="llm-grading-") as tmp:
        report = Path(tmp) / "results.json" if report_path is None else report_path
        report.unlink(missing_ok=True)
        command = grading_command(
            report,
            exercises=exercises,
            root=root,
            python=python,
            test_timeout_s=test_timeout_s,
            extra_args=extra_args,
            hidden=hidden,
        )
        run_env = grading_env(package_parent, env, write_bytecode=write_bytecode)
        run_env.pop(CHILD_USER_VARIABLE, None)
        if child_account is not None:
            run_env[CHILD_USER_VARIABLE] = child_account.name
        done = run_process(
            command,
            cwd=root,
            env=run_env,
            timeout_s=timeout_s,
            memory_bytes=memory_limit_bytes,
            max_processes=PROCESS_LIMIT if child_account is not None else None,
        )
        return GradingRun(done.returncode, done.output, _read_report(report), done.timed_out)


def _checked_exercises(exercises: Sequence[str]) -> list[str]:
    if isinstance(exercises, str):
        raise TypeError("exercises must be a list of ids such as ['ex3'], not a string")
    wrong = [ex for ex in exercises if not isinstance(ex, str) or not _EXERCISE.match(ex)]
    if wrong:
        raise ValueError(f"exercises must be ids such as 'ex3', got {wrong!r}")
    return list(exercises)


def _limits(memory_bytes: int | None, max_processes: int | None) -> Callable[[], None]:
    """What the child runs between fork and exec (after it became its user): cap the size of any file
    it writes, its memory, and the number of processes its user may have."""

    def apply() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))
        if memory_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        if max_processes is not None:
            resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))

    return apply


#: The processes ``run_process`` started that are still running: ``stop_running`` kills their groups.
RUNNING: set[subprocess.Popen[bytes]] = set()


def run_process(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    output_limit: int = OUTPUT_LIMIT,
    memory_bytes: int | None = None,
    max_processes: int | None = None,
    user: Account | None = None,
    pass_fds: Sequence[int] = (),
) -> Finished:
    """Run ``command`` and wait at most ``timeout_s`` seconds; return how it ended and its output's end.

    The process gets a session of its own, its output (stdout and stderr) goes to a file, not a pipe,
    so a process left behind holding it open never keeps the caller waiting, and only the last
    ``output_limit`` characters are kept. Any file it writes is capped at FILE_SIZE_LIMIT bytes;
    ``memory_bytes`` caps its address space, ``max_processes`` the processes of its user. ``user``
    runs it as that account, with no supplementary group (the caller must be root). When it ends,
    or after ``timeout_s``, its whole process group is killed; ``pass_fds`` are inherited.
    """
    posix = os.name == "posix"
    with tempfile.TemporaryFile() as sink:
        kwargs: dict[str, Any] = {}
        if user is not None:
            kwargs = {"user": user.uid, "group": user.gid, "extra_groups": []}
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=posix,
            preexec_fn=_limits(memory_bytes, max_processes) if posix else None,
            pass_fds=tuple(pass_fds),
            **kwargs,
        )
        RUNNING.add(process)
        timed_out = False
        try:
            returncode: int | None = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            timed_out, returncode = True, None
        finally:
            _kill_group(process, posix=posix)  # whatever the run left behind in its group goes with it
            process.wait()
            RUNNING.discard(process)
        return Finished(returncode, timed_out, _tail(sink, output_limit))


def stop_running() -> None:
    """Kill the process group of every process ``run_process`` started that is still running."""
    for process in list(RUNNING):
        _kill_group(process, posix=os.name == "posix")


def _kill_group(process: subprocess.Popen[bytes], *, posix: bool) -> None:
    if posix:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()


def processes_of(uid: int) -> list[int]:
    """The ids of the processes whose real or effective user is ``uid`` (Linux: read from /proc)."""
    found = []
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("Uid:"):
                ids = line.split()[1:3]
                if str(uid) in ids:
                    found.append(int(entry.name))
                break
    return found


def end_processes_of(user: Account, *, rounds: int = 50) -> bool:
    """Kill every process of ``user`` (the caller must be root); True when none is left.

    The signal is sent as ``user`` itself (``kill(-1, SIGKILL)`` from a process that has become that
    user), so it reaches every process of that user, in whatever session, and no other user's, and a
    process that forks meanwhile is caught by the next round.
    """
    true = shutil.which("true") or "/bin/true"

    def kill_all() -> None:  # pragma: no cover - runs in the child, as ``user``
        os.kill(-1, signal.SIGKILL)

    for _ in range(rounds):
        if not processes_of(user.uid):
            return True
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run([true], user=user.uid, group=user.gid, extra_groups=[], preexec_fn=kill_all,
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=10, check=False)  # fmt: skip
        time.sleep(0.02)
    return not processes_of(user.uid)


def _tail(handle: Any, limit: int = OUTPUT_LIMIT) -> str:
    """The last ``limit`` bytes written to the open binary file ``handle``, as text, saying how much was left out."""
    try:
        handle.seek(0, os.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - limit))
        data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return text if size <= limit else f"[... {size - limit} bytes of output left out ...]\n{text}"


def _read_report(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: Sequence[str] | None = None) -> int:
    """Grade one package from a shell; print the grader's output; exit with pytest's exit code."""
    parser = argparse.ArgumentParser(prog="python -m tests.grader.launch", description=__doc__.splitlines()[0])
    parser.add_argument("package_parent", type=Path, help="the folder that holds the llm_client/ to grade")
    parser.add_argument("-m", "--exercise", action="append", default=[], help="grade only this exercise (repeatable)")
    parser.add_argument("--report", type=Path, default=None, help="where to write results.json")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds for the whole run")
    parser.add_argument("--test-timeout", type=float, default=None, help="seconds for each test")
    options = parser.parse_args(argv)
    run = run_grading(
        options.package_parent.resolve(),
        report_path=options.report.resolve() if options.report else None,
        exercises=options.exercise,
        timeout_s=options.timeout,
        test_timeout_s=options.test_timeout,
    )
    print(run.output, end="")
    if run.timed_out:
        print(f"the grading run did not end within {options.timeout:g} s and was stopped", file=sys.stderr)
        return 124
    return run.returncode if run.returncode is not None else 1


if __name__ == "__main__":
    sys.exit(main())

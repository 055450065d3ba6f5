"""How long a learner waits for the grader: medians of wall times, in the learner-only copy.

    python bench/grader_speed.py             # 5 runs of each (about a minute)
    python bench/grader_speed.py --runs 3

It writes the learner-only copy (``python -m tools release``) to a temporary folder and measures,
with the interpreter it runs under (the course's environment, every plugin of requirements.txt
installed):

- ``pytest -m exN`` for each exercise, and plain ``pytest`` over all of them: the learner's commands;
- a notebook check cell: ``check("exN")`` called in a running Python process, as a kernel runs it;
- the same two commands with pytest's plugin auto-loading back on (``-o addopts=...``), as the
  grader ran before it named its plugins, for comparison.

Each is measured twice: on the untouched stubs, and with the reference's answers copied into the
copy's ``llm_client/`` (a learner who has solved everything, so every test runs to its end).
Targets: ``pytest -m exN`` under 1.5 s, ``pytest`` under 2 s, a check cell under 1 s. Each figure is
the median wall time and, in brackets, the median CPU time (user and system, the grading processes
included): on a busy machine the wall time grows with the load and the CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK_PROGRAM = """
import json, resource, sys, time, contextlib, io
from check import check

def cpu():
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

times = []
for _ in range(int(sys.argv[2])):
    start, start_cpu = time.perf_counter(), cpu()
    with contextlib.redirect_stdout(io.StringIO()):
        check(sys.argv[1])
    times.append((time.perf_counter() - start, cpu() - start_cpu))
print(json.dumps(times))
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _medians(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def _wall(command: list[str], cwd: Path, runs: int) -> tuple[float, float]:
    """Median wall time and median CPU time (user + system) of ``command``, in seconds."""
    samples = []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), _children_cpu()
        subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, timeout=600, check=False)
        samples.append((time.perf_counter() - start, _children_cpu() - start_cpu))
    return _medians(samples)


def _check_cell(copy: Path, exercise: str, runs: int) -> tuple[float, float]:
    done = subprocess.run(
        [sys.executable, "-c", CHECK_PROGRAM, exercise, str(runs)],
        cwd=copy / "notebooks", env=_env(), capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return _medians([(wall, cpu) for wall, cpu in json.loads(done.stdout.splitlines()[-1])])


def measure(copy: Path, runs: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU times in seconds, by what was measured, in the learner copy ``copy``."""
    with open(copy / "exercises.toml", "rb") as handle:
        exercises = [entry["id"] for entry in tomllib.load(handle)["exercise"]]
    with open(copy / "pyproject.toml", "rb") as handle:
        addopts = tomllib.load(handle)["tool"]["pytest"]["ini_options"]["addopts"]
    autoload_on = ["-o", "addopts=" + addopts.replace("--disable-plugin-autoload", "")]
    pytest = [sys.executable, "-m", "pytest", "-q"]
    figures: dict[str, tuple[float, float]] = {}
    for ex in exercises:
        figures[f"pytest -m {ex}"] = _wall([*pytest, "-m", ex], copy, runs)
    figures["pytest"] = _wall(pytest, copy, runs)
    for ex in exercises:
        figures[f'check("{ex}")'] = _check_cell(copy, ex, runs)
    first = exercises[0]
    before = _wall([*pytest, "-m", first, *autoload_on], copy, runs)
    figures[f"pytest -m {first}, plugins auto-loaded (before)"] = before
    figures["pytest, plugins auto-loaded (before)"] = _wall([*pytest, *autoload_on], copy, runs)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per figure; the median is shown (default 5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="grader-speed-") as tmp:
        copy = Path(tmp) / "course"
        subprocess.run([sys.executable, "-m", "tools", "release", str(copy)], cwd=ROOT, check=True, timeout=300)
        results["stubs"] = measure(copy, args.runs)
        shutil.rmtree(copy / "llm_client")
        shutil.copytree(ROOT / "solutions" / "llm_client", copy / "llm_client")
        results["solved"] = measure(copy, args.runs)
    width = max(len(name) for name in results["stubs"])
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"medians of {args.runs} runs, seconds: wall (CPU) ({os.cpu_count()} CPUs, load average {load})")
    print(f"{'':<{width}}  {'stubs':>12}  {'solved':>12}")
    for name in results["stubs"]:
        cells = [f"{results[k][name][0]:5.2f} ({results[k][name][1]:4.2f})" for k in ("stubs", "solved")]
        print(f"{name:<{width}}  {cells[0]:>12}  {cells[1]:>12}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

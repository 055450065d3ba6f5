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
Targets: ``pytest -m exN`` under 1.5 s, ``pytest`` under 2 s, a check cell under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
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
import json, sys, time, contextlib, io
from check import check
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        check(sys.argv[1])
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("PYTEST_")}


def _wall(command: list[str], cwd: Path, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, timeout=600, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _check_cell(copy: Path, exercise: str, runs: int) -> float:
    done = subprocess.run(
        [sys.executable, "-c", CHECK_PROGRAM, exercise, str(runs)],
        cwd=copy / "notebooks", env=_env(), capture_output=True, text=True, timeout=600, check=True,
    )  # fmt: skip
    return statistics.median(json.loads(done.stdout.splitlines()[-1]))


def measure(copy: Path, runs: int) -> dict[str, float]:
    """Median wall times in seconds, by what was measured, in the learner copy ``copy``."""
    with open(copy / "exercises.toml", "rb") as handle:
        exercises = [entry["id"] for entry in tomllib.load(handle)["exercise"]]
    with open(copy / "pyproject.toml", "rb") as handle:
        addopts = tomllib.load(handle)["tool"]["pytest"]["ini_options"]["addopts"]
    autoload_on = ["-o", "addopts=" + addopts.replace("--disable-plugin-autoload", "")]
    pytest = [sys.executable, "-m", "pytest", "-q"]
    figures: dict[str, float] = {}
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
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="grader-speed-") as tmp:
        copy = Path(tmp) / "course"
        subprocess.run([sys.executable, "-m", "tools", "release", str(copy)], cwd=ROOT, check=True, timeout=300)
        results["stubs"] = measure(copy, args.runs)
        shutil.rmtree(copy / "llm_client")
        shutil.copytree(ROOT / "solutions" / "llm_client", copy / "llm_client")
        results["solved"] = measure(copy, args.runs)
    width = max(len(name) for name in results["stubs"])
    print(f"median wall time of {args.runs} runs, seconds ({os.cpu_count()} CPUs)")
    print(f"{'':<{width}}  {'stubs':>6}  {'solved':>6}")
    for name in results["stubs"]:
        print(f"{name:<{width}}  {results['stubs'][name]:6.2f}  {results['solved'][name]:6.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

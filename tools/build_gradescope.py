"""Build the Gradescope autograder zip: setup.sh, run_autograder, and the grader with what it needs.

    python -m tools gradescope                 # writes dist/gradescope_autograder.zip
    python -m tools gradescope --out PATH.zip

Upload the zip as a Gradescope "Zip file upload" autograder (Ubuntu 22.04 or
newer). Learners submit their repository (from GitHub or as a zip); the
submission must hold an ``llm_client/`` package, anywhere in it.

On Gradescope, setup.sh makes a virtual environment with Python 3.11 or newer
and the grader's packages; run_autograder copies the submitted ``llm_client/``
next to the grader, runs it, and leaves ``results/results.json``: the score,
one entry per grader test (named ``exN: test_...``) with its output, and the
score table. The autograder root is ``/autograder``; set ``AUTOGRADER_ROOT``
to run it somewhere else (the kit's tests do), and ``AUTOGRADER_PYTHON`` to
choose the interpreter.
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from tests.grader.catalog import ROOT
from tools.autograding import grader_files, grader_requirements

DEFAULT_OUT = ROOT / "dist" / "gradescope_autograder.zip"

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; }
PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null && python_ok "$candidate"; then PYTHON="$candidate"; break; fi
done
if [ -z "$PYTHON" ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3.11 python3.11-venv
  PYTHON=python3.11
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$(basename "$PYTHON")-venv"
fi
"$PYTHON" -m venv "$ROOT/venv"
"$ROOT/venv/bin/python" -m pip install --quiet --upgrade pip
"$ROOT/venv/bin/python" -m pip install --quiet -r "$ROOT/source/requirements-grader.txt"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission; it must leave results/results.json.
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${AUTOGRADER_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source" || exit 1
exec "$PYTHON" "$ROOT/source/grade_submission.py"
"""

GRADE_SUBMISSION = '''\
"""Grade the llm_client/ package of a Gradescope submission; write results/results.json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(os.environ.get("AUTOGRADER_ROOT", "/autograder"))
SOURCE = ROOT / "source"
SUBMISSION = ROOT / "submission"
RESULTS = ROOT / "results" / "results.json"
TIMEOUT_S = 600


def find_package() -> Path | None:
    """The shallowest llm_client/ package in the submission, or None."""
    found = [p.parent for p in SUBMISSION.rglob("llm_client/__init__.py") if "__MACOSX" not in p.parts]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def fail(message: str) -> int:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"score": 0.0, "output": message, "stdout_visibility": "visible", "tests": []}, indent=2),
        encoding="utf-8",
    )
    print(message)
    return 0


def main() -> int:
    package = find_package()
    if package is None:
        return fail("No llm_client/ package was found in the submission: submit the repository that holds it.")
    target = SOURCE / "llm_client"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(package, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env.update({"PYTHONPATH": str(SOURCE), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONDONTWRITEBYTECODE": "1"})
    command = [
        sys.executable, "-m", "pytest", "tests/grader", "-p", "no:cacheprovider",
        "--continue-on-collection-errors", "--grade-report", str(RESULTS),
    ]
    try:
        done = subprocess.run(
            command, cwd=SOURCE, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return fail(f"The grader did not finish within {TIMEOUT_S} s (an endless loop or a real sleep?).")
    print(done.stdout)
    print(done.stderr, file=sys.stderr)
    if not RESULTS.is_file():
        return fail("The grader could not run on this submission:\\n" + (done.stdout + done.stderr)[-5000:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
'''


def _add(archive: zipfile.ZipFile, name: str, data: str | bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def build(out: Path = DEFAULT_OUT, *, root: Path = ROOT) -> Path:
    """Write the autograder zip to ``out``; return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH, executable=True)
        _add(archive, "run_autograder", RUN_AUTOGRADER, executable=True)
        _add(archive, "grade_submission.py", GRADE_SUBMISSION)
        _add(archive, "requirements-grader.txt", "\n".join(grader_requirements(root)) + "\n")
        for rel in grader_files(root):
            _add(archive, rel.as_posix(), (root / rel).read_bytes())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools gradescope", description="build the Gradescope autograder zip"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write it (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    path = build(args.out)
    print(f"wrote {path}")
    return 0


#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image. Its default image is
# Ubuntu 22.04, whose python3 is 3.10: the grader needs 3.11 or newer, which 22.04 has in its
# universe repository (python3.11, python3.11-venv).
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
GRADING_USER="${AUTOGRADER_USER:-student}"
export DEBIAN_FRONTEND=noninteractive

python_ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; }

PYTHON=""
for candidate in python3.13 python3.12 python3.11 python3; do
  if command -v "$candidate" >/dev/null 2>&1 && python_ok "$candidate"; then
    PYTHON="$(command -v "$candidate")"
    break
  fi
done
if [ -z "$PYTHON" ]; then
  apt-get update -qq
  apt-get install -y -qq python3.11 python3.11-venv
  PYTHON="$(command -v python3.11)"
fi

# A virtual environment is proved by making one: `-m venv --help` succeeds where ensurepip is missing.
rm -rf "$ROOT/venv"
if ! "$PYTHON" -m venv "$ROOT/venv"; then
  apt-get update -qq
  apt-get install -y -qq "$(basename "$PYTHON")-venv"
  rm -rf "$ROOT/venv"
  "$PYTHON" -m venv "$ROOT/venv"
fi
"$ROOT/venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
  -r "$ROOT/source/requirements-grader.txt"
"$ROOT/venv/bin/python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version'
chmod -R a+rX "$ROOT/venv"

# Submissions run as this user: no home, no login, no password, a group of its own. It cannot read the
# autograder's folder (the hidden tests, the reference) nor write the results; when a grade is written,
# no process of it is left running.
if ! id -u "$GRADING_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --user-group --shell /usr/sbin/nologin "$GRADING_USER"
fi

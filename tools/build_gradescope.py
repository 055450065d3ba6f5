"""Build the Gradescope autograder zip: setup.sh, run_autograder, and the grader with what it needs.

    python -m tools gradescope                 # writes dist/gradescope_autograder.zip
    python -m tools gradescope --out PATH.zip

Upload the zip as a Gradescope "Zip file upload" autograder (default image,
Ubuntu 22.04). The scripts are real files in tools/platforms/gradescope/:
setup.sh installs Python 3.11 and the pinned grader packages
(requirements-grader.txt) in a virtual environment and adds the unprivileged
user submissions run as; run_autograder starts grade_submission.py, which grades
each exercise in a sealed child process (tests/grader/sealed.py) and writes
``results/results.json`` from what it verified. Learners submit their
repository, a zip of ``llm_client/``, or the ``.py`` files they changed (laid
over the stubs, which the zip carries in ``stubs/llm_client/``). The score is
out of the required exercises' points; optional ones are extra credit.
Environment variables for running it elsewhere (the kit's tests do):
AUTOGRADER_ROOT, AUTOGRADER_PYTHON, AUTOGRADER_USER (see grade_submission.py).
"""

from __future__ import annotations

import argparse
import zipfile
from pathlib import Path

from tests.grader.catalog import ROOT
from tools.autograding import GRADER_REQUIREMENTS, grader_files

DEFAULT_OUT = ROOT / "dist" / "gradescope_autograder.zip"
#: The real files of the autograder: Gradescope's two scripts and the program run_autograder starts.
TEMPLATES = Path(__file__).resolve().parent / "platforms" / "gradescope"
SCRIPTS = {"setup.sh": True, "run_autograder": True, "grade_submission.py": False}


def _add(archive: zipfile.ZipFile, name: str, data: str | bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def build(out: Path = DEFAULT_OUT, *, root: Path = ROOT) -> Path:
    """Write the autograder zip to ``out``; return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for name, executable in SCRIPTS.items():
            _add(archive, name, (TEMPLATES / name).read_bytes(), executable=executable)
        _add(archive, GRADER_REQUIREMENTS, (root / GRADER_REQUIREMENTS).read_bytes())
        for rel in grader_files(root):
            _add(archive, rel.as_posix(), (root / rel).read_bytes())
        stubs = root / "llm_client"
        for path in sorted(stubs.rglob("*.py")):
            if "__pycache__" not in path.parts:
                _add(archive, f"stubs/{path.relative_to(root).as_posix()}", path.read_bytes())
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


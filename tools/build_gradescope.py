"""Build the Gradescope autograder zip: setup.sh, run_autograder, and both tiers of the grader.

    python -m tools gradescope                                     # writes dist/gradescope_autograder.zip
    python -m tools gradescope --out PATH.zip --hidden-visibility hidden

Upload the zip as a Gradescope "Zip file upload" autograder (default image,
Ubuntu 22.04). The scripts are real files in tools/platforms/gradescope/:
setup.sh installs Python 3.11 and the pinned grader packages
(requirements-grader.txt) in a virtual environment and adds the unprivileged
user submissions run as; run_autograder starts grade_submission.py, which grades
through the same isolated path as ``python -m tools grade-class``: the hidden tier
decides the grade, the public tier gives feedback. The zip is for instructors
only: it carries the hidden tests (tests/hidden/), the reference
(solutions/llm_client/, the hidden tier's oracle, from which the clean package
is made) and the tools that grade (tools/class_grading.py and what it imports);
on Gradescope they sit in a folder only root can read. ``--hidden-visibility``
(written to settings.json) is when learners see the hidden tests' results:
``after_due_date`` (default), ``after_published``, ``hidden`` (never) or
``visible``. Learners submit their repository, a zip of ``llm_client/``, or the
exercise files they changed. The score is out of the required exercises' points;
optional ones are extra credit. Environment variables for running it elsewhere
(the kit's tests do): AUTOGRADER_ROOT, AUTOGRADER_PYTHON, AUTOGRADER_USER (see
grade_submission.py).
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

from tests.grader.catalog import ROOT
from tools.autograding import GRADER_REQUIREMENTS, grader_files

DEFAULT_OUT = ROOT / "dist" / "gradescope_autograder.zip"
#: The real files of the autograder: Gradescope's two scripts and the program run_autograder starts.
TEMPLATES = Path(__file__).resolve().parent / "platforms" / "gradescope"
SCRIPTS = {"setup.sh": True, "run_autograder": True, "grade_submission.py": False}
#: The instructor-only parts the zip carries besides the public grader: folders whose files all go, and files.
INSTRUCTOR_FOLDERS = ("tests/hidden", "solutions/llm_client")
INSTRUCTOR_FILES = (
    "tools/__init__.py", "tools/autograding.py", "tools/class_grading.py", "tools/generate_learner.py",
    "tools/platforms/partial_report.py",
)  # fmt: skip
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
_SKIPPED = {"__pycache__", ".hypothesis", ".pytest_cache"}


def instructor_files(root: Path = ROOT) -> list[Path]:
    """The hidden tests, the reference and the grading tools (relative paths), for the zip."""
    found = [Path(f) for f in INSTRUCTOR_FILES]
    for folder in INSTRUCTOR_FOLDERS:
        found += sorted(
            p.relative_to(root)
            for p in (root / folder).rglob("*")
            if p.is_file() and not _SKIPPED.intersection(p.relative_to(root).parts) and p.suffix != ".pyc"
        )
    return found


def _add(archive: zipfile.ZipFile, name: str, data: str | bytes, *, executable: bool = False) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    archive.writestr(info, data)


def build(out: Path = DEFAULT_OUT, *, root: Path = ROOT, hidden_visibility: str = "after_due_date") -> Path:
    """Write the autograder zip to ``out``; return its path. ``hidden_visibility``: see the module doc."""
    if hidden_visibility not in VISIBILITIES:
        raise ValueError(f"hidden_visibility must be one of {', '.join(VISIBILITIES)}, got {hidden_visibility!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        for name, executable in SCRIPTS.items():
            _add(archive, name, (TEMPLATES / name).read_bytes(), executable=executable)
        _add(archive, GRADER_REQUIREMENTS, (root / GRADER_REQUIREMENTS).read_bytes())
        _add(archive, "settings.json", json.dumps({"hidden_visibility": hidden_visibility}, indent=2) + "\n")
        for rel in [*grader_files(root), *instructor_files(root)]:
            _add(archive, rel.as_posix(), (root / rel).read_bytes())
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools gradescope", description="build the Gradescope autograder zip"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where to write it (default {DEFAULT_OUT})")
    parser.add_argument(
        "--hidden-visibility",
        choices=VISIBILITIES,
        default="after_due_date",
        help="when learners see the hidden tests' results (default after_due_date; hidden: never)",
    )
    args = parser.parse_args(argv)
    path = build(args.out, hidden_visibility=args.hidden_visibility)
    print(f"wrote {path}")
    return 0


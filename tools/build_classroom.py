"""Write the GitHub Classroom autograding workflow, .github/workflows/classroom.yml, from the catalog.

The workflow is filled in from real template files in tools/platforms/classroom/
(workflow.yml, step.yml, reporter_env.yml): one step per required exercise, using
GitHub Classroom's command grader, worth the exercise's points. Classroom grades
the public tier only, in the learner's repository (the hidden tier never leaves
the instructor's copy: clone the repositories and run ``grade-class`` for it).

- The grader's packages are installed from the pinned list written into the
  workflow itself (from requirements-grader.txt, when this is run), never from a
  file of the repository, with ``python -I`` so nothing in the repository is
  imported by pip.
- Each step first makes a fresh copy of the grader outside the repository, taken
  from the commit being graded (``git archive ${{ github.sha }}``), and runs
  ``sealed.py step exN --repository .`` from it: code that one step ran cannot
  change the grader of the next. The grader runs on a copy of ``llm_client/`` in
  an isolated interpreter, and the step passes only when the report it sealed,
  written outside the repository, says every test of that exercise passed; a
  step that runs out of time has its whole process group killed.

Optional exercises are left out of the Classroom total; learners still see them
in their own runs.

    python -m tools classroom           # write the workflow
    python -m tools classroom --check   # exit 1 if the committed workflow is out of date
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from tests.grader.catalog import ROOT, Exercise, load_catalog
from tools.autograding import GRADER_DIR, GRADER_FILES, GRADER_REQUIREMENTS

WORKFLOW = ROOT / ".github" / "workflows" / "classroom.yml"
TEMPLATES = Path(__file__).resolve().parent / "platforms" / "classroom"
#: Minutes the command grader gives a step; the grader itself stops an exercise after 2 minutes.
STEP_TIMEOUT_MIN = 5


def _quote(text: str) -> str:
    """A YAML single-quoted scalar."""
    return "'" + text.replace("'", "''") + "'"


def pinned_requirements(root: Path = ROOT) -> list[str]:
    """The ``name==version`` lines of requirements-grader.txt, in order."""
    lines = (root / GRADER_REQUIREMENTS).read_text(encoding="utf-8").splitlines()
    pins = [line.split("#", 1)[0].strip() for line in lines]
    pins = [pin for pin in pins if pin]
    wrong = [pin for pin in pins if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[A-Za-z0-9.+!-]+", pin)]
    if wrong:
        raise ValueError(f"{GRADER_REQUIREMENTS}: every line must pin one package as name==version, got {wrong}")
    return pins


def step_command(exercise: str) -> str:
    """A step's shell command: a fresh copy of the grader from the commit, outside the repository, then its step."""
    files = " ".join([*GRADER_FILES, GRADER_DIR])
    return (
        'g="$(mktemp -d "${{ runner.temp }}/grader-XXXXXX")" && '
        f'git archive "${{{{ github.sha }}}}" {files} | tar -x -C "$g" && '
        f'exec python -I -B "$g/tests/grader/sealed.py" step {exercise} --repository .'
    )


def _fill(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", value)
    return template


def workflow_text(exercises: list[Exercise], templates: Path = TEMPLATES, *, pins: list[str] | None = None) -> str:
    """The workflow file for ``exercises`` (required ones only), installing ``pins`` (requirements-grader.txt's)."""
    names = ("workflow.yml", "step.yml", "reporter_env.yml")
    read = {name: (templates / name).read_text(encoding="utf-8") for name in names}
    required = [ex for ex in exercises if not ex.optional]
    steps = "".join(
        _fill(
            read["step.yml"],
            {
                "LABEL": _quote(f"{ex.id} {ex.title}"),
                "ID": ex.id,
                "TIMEOUT_MIN": str(STEP_TIMEOUT_MIN),
                "POINTS": str(ex.points),
                "COMMAND": _quote(step_command(ex.id)),
            },
        )
        for ex in required
    )
    env = "".join(_fill(read["reporter_env.yml"], {"ID_UPPER": ex.id.upper(), "ID": ex.id}) for ex in required)
    runners = ",".join(ex.id for ex in required)
    pinned = "\n".join(f"          {pin}" for pin in (pinned_requirements() if pins is None else pins))
    values = {"STEPS": steps.rstrip("\n"), "REPORTER_ENV": env.rstrip("\n"), "RUNNERS": runners, "PINS": pinned}
    return _fill(read["workflow.yml"], values)


def build(root: Path = ROOT) -> str:
    return workflow_text(list(load_catalog(root / "exercises.toml").values()), pins=pinned_requirements(root))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools classroom", description="write .github/workflows/classroom.yml from exercises.toml"
    )
    parser.add_argument("--check", action="store_true", help="only check that the workflow is up to date")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        if not WORKFLOW.is_file() or WORKFLOW.read_text(encoding="utf-8") != text:
            print(f"{WORKFLOW.relative_to(ROOT)} is out of date; run: python -m tools classroom", file=sys.stderr)
            return 1
        print(f"{WORKFLOW.relative_to(ROOT)} is up to date")
        return 0
    WORKFLOW.parent.mkdir(parents=True, exist_ok=True)
    WORKFLOW.write_text(text, encoding="utf-8")
    print(f"wrote {WORKFLOW.relative_to(ROOT)}")
    return 0


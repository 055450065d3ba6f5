"""Write the GitHub Classroom autograding workflow, .github/workflows/classroom.yml, from the catalog.

One step per required exercise, using GitHub Classroom's command grader: the step
runs ``python -m pytest tests/grader -m exN`` and is worth the exercise's points
(all or nothing: Classroom gives a step its points only when the command passes;
the step's log shows the grader's table and failures). Optional exercises are
left out of the Classroom total; learners still see them in their own runs.

    python -m tools classroom           # write the workflow
    python -m tools classroom --check   # exit 1 if the committed workflow is out of date
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.grader.catalog import ROOT, Exercise, load_catalog
from tools.autograding import grader_requirements

WORKFLOW = ROOT / ".github" / "workflows" / "classroom.yml"
STEP_TIMEOUT_MIN = 5


def _quote(text: str) -> str:
    """A YAML single-quoted scalar."""
    return "'" + text.replace("'", "''") + "'"


def workflow_text(exercises: list[Exercise], requirements: list[str]) -> str:
    """The workflow file for ``exercises`` (required ones only), installing ``requirements``."""
    install = "python -m pip install " + " ".join(f'"{r}"' for r in requirements)
    lines = [
        "# GitHub Classroom autograding: one step per exercise, worth its points (all or nothing per step).",
        "# Written from exercises.toml by `python -m tools classroom`; edit the catalog and run it again.",
        "name: Autograding Tests",
        "'on':",
        "  - push",
        "  - repository_dispatch",
        "permissions:",
        "  checks: write",
        "  actions: read",
        "  contents: read",
        "jobs:",
        "  run-autograding-tests:",
        "    runs-on: ubuntu-latest",
        "    if: github.actor != 'github-classroom[bot]'",
        "    steps:",
        "      - name: Checkout code",
        "        uses: actions/checkout@v4",
        "      - name: Set up Python",
        "        uses: actions/setup-python@v5",
        "        with:",
        "          python-version: '3.11'",
        "      - name: Install what the grader needs",
        "        run: |",
        f"          {install}",
    ]
    required = [ex for ex in exercises if not ex.optional]
    for ex in required:
        label = f"{ex.id} {ex.title}"
        lines += [
            f"      - name: {_quote(label)}",
            f"        id: {ex.id}",
            "        uses: classroom-resources/autograding-command-grader@v1",
            "        with:",
            f"          test-name: {_quote(label)}",
            "          setup-command: ''",
            f"          command: {_quote(f'python -m pytest tests/grader -m {ex.id}')}",
            f"          timeout: {STEP_TIMEOUT_MIN}",
            f"          max-score: {ex.points}",
        ]
    lines += [
        "      - name: Autograding Reporter",
        "        uses: classroom-resources/autograding-grading-reporter@v1",
        "        env:",
    ]
    lines += [f'          {ex.id.upper()}_RESULTS: "${{{{steps.{ex.id}.outputs.result}}}}"' for ex in required]
    lines += [
        "        with:",
        f"          runners: {','.join(ex.id for ex in required)}",
    ]
    return "\n".join(lines) + "\n"


def build(root: Path = ROOT) -> str:
    return workflow_text(list(load_catalog(root / "exercises.toml").values()), grader_requirements(root))


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


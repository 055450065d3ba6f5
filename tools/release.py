"""Write the learner-only copy of the kit: what a GitHub Classroom template repository holds.

    python -m tools release DEST           # DEST must not exist, or be empty
    python -m tools release DEST --git     # and make DEST a git repository with one commit

The copy holds the course (notebooks/), the learner package (llm_client/, with
the exercise stubs), the grader (tests/conftest.py, tests/grader/,
exercises.toml), the GitHub Classroom workflow (.github/), the ways to open
the course online (.devcontainer/ for Codespaces, binder/ for Binder) and the
project files, with a README written for learners. It leaves out everything that
gives answers away or is for instructors: solutions/, tools/ (generator,
mutants, autograder builders), tests/kit/, tests/hidden/ (the hidden tier), bench/, .ci/ and the kit's dev
requirements. The files are the ones git tracks or would track (new, not ignored), as they are in the work tree,
except for the lines about instructor-only files, which are rewritten or dropped
(see LEARNER_EDITS).

The release is refused when llm_client/ is not freshly generated from
solutions/, or when any copied file still holds a solution marker.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.grader.catalog import ROOT, Exercise, load_catalog
from tools.generate_learner import check_package

#: Paths (files, or folders ending in /) that never go to learners.
EXCLUDED = (
    "solutions/", "tools/", "tests/kit/", "tests/hidden/", "bench/", ".ci/", "requirements-dev.txt", "README.md",
)  # fmt: skip
_NEVER = {".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".ipynb_checkpoints",
          ".hypothesis", "dist", "build", "artifacts"}


#: The comment the learner copy's Classroom workflow starts with, in place of the instructor's.
CLASSROOM_COMMENT = """\
# The autograding workflow: on every push, GitHub Classroom runs the grader in this repository,
# one step per required exercise, worth the exercise's points when all of its tests pass.
"""


def _drop_kit_marker(text: str) -> str:
    """pyproject.toml: the ``kit`` marker belongs to tests the learner copy does not have."""
    return re.sub(r'^[ \t]*"kit:[^"\n]*",?[ \t]*\n', "", text, flags=re.MULTILINE)


def _learner_workflow_comment(text: str) -> str:
    """classroom.yml: replace the leading comment (it names the instructor's generator)."""
    body = re.sub(r"\A(?:#[^\n]*\n)+", "", text)
    return CLASSROOM_COMMENT + body


def _learner_catalog_comment(text: str) -> str:
    """exercises.toml: describe ``id`` without the solution blocks, which the copy does not have."""
    line = "# id        the exercise id; also the grader's pytest marker"
    return re.sub(r"^# id\b.*$", line, text, flags=re.MULTILINE)


#: Copied files whose text is rewritten for learners: the lines that speak of instructor-only files.
LEARNER_EDITS: dict[str, Callable[[str], str]] = {
    "pyproject.toml": _drop_kit_marker,
    ".github/workflows/classroom.yml": _learner_workflow_comment,
    "exercises.toml": _learner_catalog_comment,
}


class ReleaseError(RuntimeError):
    """The kit is not in a state that can be handed to learners."""


def _tracked_files(root: Path) -> list[str]:
    try:
        done = subprocess.run(
            # the files git tracks: a file never added (an instructor's scratch notes) never ships
            ["git", "-C", str(root), "ls-files", "-z"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
    except (OSError, subprocess.CalledProcessError):
        files = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
        return sorted(f for f in files if not _NEVER.intersection(f.split("/")))
    return sorted(f for f in done.stdout.split("\0") if f)


def released_files(root: Path = ROOT) -> list[str]:
    """The repository-relative paths that go into the learner copy (README.md is written, not copied)."""
    keep = []
    for rel in _tracked_files(root):
        if any(rel == ex or rel.startswith(ex) for ex in EXCLUDED if ex.endswith("/")) or rel in EXCLUDED:
            continue
        if _NEVER.intersection(rel.split("/")) or not (root / rel).is_file():
            continue
        keep.append(rel)
    return keep


def learner_readme(exercises: list[Exercise], *, has_start: bool) -> str:
    rows = "\n".join(
        f"| {ex.id} | {ex.title}{' (optional)' if ex.optional else ''} | {ex.points} | `{ex.notebook}` | "
        + ", ".join(f"`{f}`" for f in ex.files)
        + " |"
        for ex in exercises
    )
    required = sum(ex.points for ex in exercises if not ex.optional)
    start = "Start with `notebooks/00_start_here.ipynb`.\n" if has_start else ""
    return f"""# Reliable LLM clients: the exercises

You build the parts of `llm_client/` that make a call to an LLM API reliable:
a cache key, backoff with jitter, rate-limit handling, structured output and the
provider's HTTP call. Each part is an exercise with its notebook, and a grader
scores each one as you go.

## Set up

Python 3.11 or newer:

```bash
python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/jupyter lab notebooks/
```

{start}
## The exercises

Each exercise is a function (or two) in `llm_client/` that still raises
`NotImplementedError`; look for `# TODO(exN)`. Each exercise is graded on its
own, but the notebooks build on exercise 1, the client's call path: work in order.

| id | exercise | points | notebook | files |
|----|----------|--------|----------|-------|
{rows}

The required exercises are worth {required} points.

## Check your work

```bash
.venv/bin/pytest            # all exercises: points per exercise, a hint, and where to go next
.venv/bin/pytest -m ex3     # one exercise
.venv/bin/pytest -m ex3 --hint 2   # the same, with the exercise's second hint
.venv/bin/python notebooks/watch.py   # watch mode: grades everything again each time you save
```

The last cell of each exercise notebook runs the same check. The grader's
tests are in `tests/grader/`: read them to see exactly what is expected.

On GitHub Classroom, every push runs this grader in your repository
(`.github/workflows/classroom.yml`): one step per required exercise, worth
its points when the grader's report says all of that exercise's tests passed;
the optional exercises are not autograded there. Your instructor's grade may
also come from more tests than these (on Gradescope, or by grading the class's
repositories), which run your exercise files in a process of their own and
compare what they do with the reference, as a user who cannot change the tests
or the results. Points come only from code that passes the tests: a score obtained any
other way (editing the tests, the workflow or the grader, or code that meddles
with the test run) is not a grade, and both platforms keep what was submitted
for your instructor to see.
"""


def release(dest: Path, *, root: Path = ROOT, git: bool = False) -> list[str]:
    """Write the learner copy of ``root`` to ``dest``; return the files written."""
    problems = check_package(root / "llm_client", src=root / "solutions" / "llm_client")
    if problems:
        raise ReleaseError(
            "llm_client/ is not up to date; run: python -m tools generate\n" + "\n".join(problems)
        )
    if dest.exists() and any(dest.iterdir()):
        raise ReleaseError(f"{dest} is not empty")
    dest_resolved = dest.resolve()
    if dest_resolved == root.resolve() or dest_resolved.is_relative_to(root.resolve()):
        raise ReleaseError(f"{dest} is inside the kit; choose a folder outside it")
    files = released_files(root)
    leaks = [rel for rel in files if b"# BEGIN SOLUTION" in (root / rel).read_bytes() and rel.endswith(".py")]
    if leaks:
        raise ReleaseError(f"solution markers in files for learners: {leaks}")
    dest.mkdir(parents=True, exist_ok=True)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
        if rel in LEARNER_EDITS:
            text = target.read_text(encoding="utf-8")
            target.write_text(LEARNER_EDITS[rel](text), encoding="utf-8")
    exercises = list(load_catalog(root / "exercises.toml").values())
    readme = learner_readme(exercises, has_start=(root / "notebooks" / "00_start_here.ipynb").is_file())
    (dest / "README.md").write_text(readme, encoding="utf-8")
    written = [*files, "README.md"]
    if git:
        identity = {"GIT_AUTHOR_NAME": "course", "GIT_AUTHOR_EMAIL": "course@example.invalid"}
        env = {**identity, "GIT_COMMITTER_NAME": "course", "GIT_COMMITTER_EMAIL": "course@example.invalid"}
        env.update(os.environ)
        message = "The course: notebooks, exercises and grader"
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", message]):
            subprocess.run(["git", "-C", str(dest), *command], check=True, timeout=120, env=env)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools release", description="write the learner-only copy of the kit to DEST"
    )
    parser.add_argument("dest", type=Path, metavar="DEST")
    parser.add_argument("--git", action="store_true", help="make DEST a git repository with one commit")
    args = parser.parse_args(argv)
    try:
        written = release(args.dest, git=args.git)
    except ReleaseError as exc:
        print(f"release refused: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(written)} files to {args.dest}")
    return 0


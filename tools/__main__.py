"""``python -m tools COMMAND [ARGS]``: the instructor tools (run from the repository root).

Each command is a module of this package with a ``main(argv) -> int``; ``python -m tools COMMAND --help``
shows its arguments.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: command -> (module, what it does)
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("tools.generate_learner", "write llm_client/ from solutions/ (--check: fail when it is stale)"),
    "check": ("tools.dev_check", "every stub fails its exercise's tests and every solution passes them"),
    "mutants": ("tools.mutant_check", "grade every catalogued wrong answer; each must lose points in its exercise"),
    "grade-class": ("tools.class_grading", "grade a folder of submissions: results.json per learner, grades.csv"),
    "release": ("tools.release", "write the learner-only copy of the kit (a Classroom template repository)"),
    "classroom": ("tools.build_classroom", "write the GitHub Classroom workflow from the catalog"),
    "gradescope": ("tools.build_gradescope", "build the Gradescope autograder zip"),
}


def usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: python -m tools COMMAND [ARGS]   (python -m tools COMMAND --help for its arguments)", ""]
    lines += [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by the first argument with the rest; return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    result: int = module.main(rest)
    return result


if __name__ == "__main__":
    sys.exit(main())

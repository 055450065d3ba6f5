"""The README's promises stay true: the tests it cites exist, and CI runs its commands."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_test_the_readme_cites_exists() -> None:
    cited = re.findall(r"`(tests/[\w/]+\.py)(?:::(\w+))?`", README)
    assert len(cited) >= 15, "the Guarantees table cites the tests that prove each promise"
    missing = []
    for path, name in cited:
        source = ROOT / path
        if not source.is_file():
            missing.append(path)
        elif name and f"def {name}(" not in source.read_text(encoding="utf-8"):
            missing.append(f"{path}::{name}")
    assert not missing, f"the README cites tests that do not exist: {missing}"


def test_ci_installs_and_tests_with_the_readme_commands() -> None:
    quickstart = README.split("## Quickstart", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    setup, tests = [line for line in quickstart.splitlines() if line.strip() and not line.startswith("#")]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = setup.split(" && .venv/bin/jupyter lab")[0]
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt")
    for step in install.split(" && "):
        assert step.replace(" -r", " -q -r") in ci or step in ci, f"CI does not run the README's {step!r}"
    assert tests.replace("pip install -r", "pip install -q -r") in ci, "CI does not run the README's test command"


def test_the_readme_exercise_table_matches_the_catalog() -> None:
    import tomllib

    catalog = tomllib.loads((ROOT / "exercises.toml").read_text(encoding="utf-8"))["exercise"]
    rows = dict(re.findall(r"^\| (ex\d) \|.*\| (\d+) \|$", README, flags=re.MULTILINE))
    assert rows == {ex["id"]: str(ex["points"]) for ex in catalog}, "README's exercise table is out of date"
    for ex in catalog:
        assert Path(ex["notebook"]).stem in README, f"README does not name {ex['notebook']}"

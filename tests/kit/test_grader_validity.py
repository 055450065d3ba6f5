"""The grader is right: full marks for the reference, 0 for the stubs, each exercise graded on its own,
every common wrong answer (tools/mutants.py: a wrong answer in place of one solution block) loses points
in its own exercise and nowhere else, every right answer written another way keeps full marks, and a
failing test shows the hint that fits it.

Each package is graded by the real grader in a subprocess (``PYTHONPATH`` pointing to a temporary
copy), and the scores are read from its ``--grade-report`` JSON. All gradings run in parallel, once.

A mutant is graded on its own exercise only (``-m exN``). That it loses nothing elsewhere follows from
the one-exercise packages: when only exercise j is solved, every other block is a stub that raises
NotImplementedError (which nothing in the package catches), and j still scores full marks; so j's tests
never run another exercise's block, and no change inside that block can cost j a point.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tools.generate_learner import SOLUTIONS_PACKAGE, generate_package
from tools.grading_runs import Grade, copy_package, grade_many
from tools.mutants import ALTERNATIVES, MUTANTS, Mutant, MutantError, apply_mutant

ROOT = Path(__file__).resolve().parents[2]

CATALOG = load_catalog()
POINTS = {ex.id: float(ex.points) for ex in CATALOG.values()}
REQUIRED_TOTAL = sum(ex.points for ex in CATALOG.values() if not ex.optional)


@pytest.fixture(scope="module")
def mutant_errors() -> dict[str, MutantError]:
    return {}


@pytest.fixture(scope="module")
def grades(tmp_path_factory: pytest.TempPathFactory, mutant_errors: dict[str, MutantError]) -> dict[str, Grade]:
    base = tmp_path_factory.mktemp("grading")
    parents = {
        "reference": copy_package(SOLUTIONS_PACKAGE, base / "reference"),
        "learner": copy_package(ROOT / "llm_client", base / "learner"),
    }
    broken = copy_package(SOLUTIONS_PACKAGE, base / "broken")
    with open(broken / "llm_client" / "__init__.py", "a", encoding="utf-8") as handle:
        handle.write("\ndef broken(:\n")
    parents["broken"] = broken
    for ex in CATALOG:
        parent = base / f"only-{ex}"
        generate_package(parent / "llm_client", keep={ex})
        parents[f"only-{ex}"] = parent
    for mutant in (*MUTANTS, *ALTERNATIVES):
        parent = copy_package(SOLUTIONS_PACKAGE, base / f"mutant-{mutant.name}")
        try:
            apply_mutant(mutant, parent / "llm_client")
        except MutantError as exc:
            mutant_errors[mutant.name] = exc
            continue
        parents[f"mutant-{mutant.name}"] = parent
    args = {f"mutant-{m.name}": ["-m", m.exercise] for m in (*MUTANTS, *ALTERNATIVES)}
    return grade_many(parents, args=args)


def shown_hints(output: str) -> list[str]:
    """The hints of the grader's table in ``output``, each unwrapped into one line."""
    hints: list[list[str]] = []
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("      hint: "):
            current = [line.removeprefix("      hint: ")]
            hints.append(current)
        elif current is not None and line.startswith("        "):
            current.append(line.strip())
        else:
            current = None
    return [" ".join(parts) for parts in hints]


def test_reference_scores_full_marks(grades: dict[str, Grade]) -> None:
    ref = grades["reference"]
    failed = [t["name"] for t in ref.report["tests"] if t["status"] != "passed"]
    assert not failed, f"the reference fails grader tests: {failed}\n{ref.output[-3000:]}"
    assert ref.returncode == 0, ref.output[-3000:]
    assert ref.max_score == REQUIRED_TOTAL, "max_score counts the required exercises only"
    assert ref.score == sum(POINTS.values()), "score counts the optional exercises too (extra credit)"
    assert ref.by_exercise == POINTS


def test_catalog_points_equal_the_sum_of_the_grader_tests_points(grades: dict[str, Grade]) -> None:
    assert grades["reference"].max_by_exercise == POINTS, (
        "exercises.toml points differ from the @pytest.mark.points of the grader tests"
    )


def test_untouched_learner_package_scores_zero_and_shows_where_to_start(grades: dict[str, Grade]) -> None:
    learner = grades["learner"]
    assert learner.score == 0.0
    assert learner.by_exercise == dict.fromkeys(POINTS, 0.0)
    assert learner.max_score == REQUIRED_TOTAL
    assert learner.returncode == 1, "a run with failing grader tests must fail"
    output = learner.output
    assert "= grade =" in output.replace("=" * 3, "="), output[-2000:]
    assert f"total: 0 of {REQUIRED_TOTAL:g} points" in output
    first = next(iter(CATALOG.values()))
    assert f"next: {first.id} {first.title}: read {first.notebook}" in output
    for ex in CATALOG.values():
        assert f"{ex.id} not started:" in output, f"no 'not started' line for {ex.id}"
    assert shown_hints(output) == [ex.start for ex in CATALOG.values()], "not started: only where to begin is shown"
    assert "Traceback" not in output and "NotImplementedError(" not in output, "stub failures must be one line each"
    assert "Interrupted" not in output
    for test in learner.report["tests"]:
        assert test["status"] == "failed" and test["score"] == 0
        assert " not started: " in test["output"] and len(test["output"].splitlines()) == 1, test


def test_a_package_that_cannot_be_imported_scores_zero_with_a_report(grades: dict[str, Grade]) -> None:
    broken = grades["broken"]
    assert broken.score == 0.0 and broken.max_score == REQUIRED_TOTAL
    assert broken.max_by_exercise == POINTS, "every exercise is reported, with its points to lose"
    for test in broken.report["tests"]:
        assert test["name"].endswith(": the grader tests could not be loaded") and test["status"] == "failed"
        assert "SyntaxError" in test["output"]
    assert "error: its tests could not be loaded" in broken.output
    assert "SyntaxError: invalid syntax in llm_client/__init__.py, line" in broken.output


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_a_package_with_only_one_exercise_solved_scores_exactly_its_points(
    grades: dict[str, Grade], exercise: str
) -> None:
    got = grades[f"only-{exercise}"].by_exercise
    expected = {ex: (POINTS[ex] if ex == exercise else 0.0) for ex in POINTS}
    assert got == expected, grades[f"only-{exercise}"].output[-3000:]


@pytest.mark.parametrize("exercise", list(CATALOG))
def test_every_exercise_has_at_least_eight_mutants(exercise: str) -> None:
    assert sum(m.exercise == exercise for m in MUTANTS) >= 8


def test_each_mutant_has_its_own_name_and_replaces_a_function_of_its_exercise() -> None:
    names = [m.name for m in (*MUTANTS, *ALTERNATIVES)]
    assert len(names) == len(set(names)), "two mutants share a name"
    for mutant in (*MUTANTS, *ALTERNATIVES):
        assert mutant.function in CATALOG[mutant.exercise].functions, mutant


def test_a_mutant_of_a_function_without_a_solution_block_does_not_apply(tmp_path: Path) -> None:
    package = copy_package(SOLUTIONS_PACKAGE, tmp_path) / "llm_client"
    gone = Mutant("gone", "ex4", "rate_limit_delay", "return 0.0", "a function since renamed")
    with pytest.raises(MutantError, match="ex4 has no solution block in rate_limit_delay; its blocks are in "):
        apply_mutant(gone, package)
    broken = Mutant("broken", "ex3", "add_jitter", "return (", "a body that does not parse")
    with pytest.raises(MutantError, match=r"backoff\.py does not parse with its body"):
        apply_mutant(broken, package)


@pytest.mark.parametrize("alternative", ALTERNATIVES, ids=[m.name for m in ALTERNATIVES])
def test_each_right_answer_written_another_way_keeps_full_marks(
    grades: dict[str, Grade], mutant_errors: dict[str, MutantError], alternative: Mutant
) -> None:
    if alternative.name in mutant_errors:
        raise mutant_errors[alternative.name]
    result = grades[f"mutant-{alternative.name}"]
    assert result.by_exercise == {alternative.exercise: POINTS[alternative.exercise]}, (
        f"{alternative.name} ({alternative.why}) lost points:\n{result.output[-3000:]}"
    )


@pytest.mark.parametrize(
    ("mutant", "hint"),
    [
        ("backoff_off_by_one", 1),  # backoff_delay
        ("backoff_cap_over_base_overflows", 2),  # backoff_delay, overflow
        ("jitter_ignores_rng", 3),  # add_jitter
        ("retry_after_ms_read_as_seconds", 1),  # parse_retry_after
        ("retry_after_ignored", 3),  # retry_delay
        ("retry_after_zero_is_falsy", 3),  # retry_delay
        ("request_timeout_408_not_retried", 2),  # error_for_status
        ("unsupported_protocol_retried", 3),  # error_for_transport
        ("no_timeout_passed", 1),  # HTTPProvider.complete
    ],
)
def test_a_failing_exercise_shows_the_hint_of_its_first_failing_test(
    grades: dict[str, Grade], mutant: str, hint: int
) -> None:
    exercise = next(m.exercise for m in MUTANTS if m.name == mutant)
    output = grades[f"mutant-{mutant}"].output
    assert shown_hints(output) == [CATALOG[exercise].hints[hint - 1]], output[-3000:]


def test_a_run_of_only_optional_exercises_totals_only_the_optional_points(grades: dict[str, Grade]) -> None:
    output = grades["mutant-bucket_never_lends"].output
    got = grades["mutant-bucket_never_lends"].by_exercise["ex7"]
    assert f"total: {got:g} of {POINTS['ex7']:g} optional points" in output, output[-2000:]
    assert "total: 0 of 0 points" not in output


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_each_wrong_answer_loses_points_in_its_own_exercise(
    grades: dict[str, Grade], mutant_errors: dict[str, MutantError], mutant: Mutant
) -> None:
    if mutant.name in mutant_errors:
        raise mutant_errors[mutant.name]
    result = grades[f"mutant-{mutant.name}"]
    got = result.by_exercise
    assert set(got) == {mutant.exercise}, f"expected only {mutant.exercise}'s tests to run, got {sorted(got)}"
    assert got[mutant.exercise] < POINTS[mutant.exercise], (
        f"{mutant.name} ({mutant.why}) scored full marks in {mutant.exercise}"
    )


def test_wrong_answers_are_reported_as_expected_versus_got(grades: dict[str, Grade]) -> None:
    output = grades["mutant-backoff_off_by_one"].output
    assert "expected backoff_delay(0..6) to be [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0], got [1.0," in output
    assert "tests failing" in output
    failing = grades["mutant-backoff_off_by_one"].report["tests"]
    messages = [t["output"] for t in failing if t["status"] == "failed"]
    assert messages and all("expected" in m for m in messages), messages

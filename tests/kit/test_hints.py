"""Hints nudge, they never answer; and no answer ships in the learner package.

- Every catalog hint (and every "where to begin" line) is one line of prose: it
  shares no statement or expression of 20 characters or more, no run of 20
  characters of code and no whole line with any reference answer (the blocks
  between ``# BEGIN SOLUTION`` and ``# END SOLUTION``), and it reads as prose,
  not as code (no calls, assignments, comparisons or attribute chains).
- Hints come when asked for: a not-started exercise shows only where to
  begin; ``pytest -m exN --hint N`` in a terminal and ``check("exN", hint=N)``
  in a notebook show hint N, and an N past the last hint is an error naming
  the range ("1..3"), never the last hint in its place.
- The learner package (``llm_client/``) holds none of the statements of any
  reference answer, in any file: an answer copied into another module (an
  async twin, a second provider) would hand it to the learner.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

from tests.grader.catalog import load_catalog
from tests.grader.launch import run_grading

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = ROOT / "solutions" / "llm_client"
LEARNER = ROOT / "llm_client"
CATALOG = ROOT / "exercises.toml"

#: The shortest code shared with an answer that counts as giving it away, in characters.
SHARED_CODE = 20
#: The longest hint, in characters: one line in the grader's table (wrapped) and in a notebook.
HINT_LENGTH = 240
#: Shorter statements (``return 0.0``, ``continue``) say nothing of an answer and occur everywhere.
TELLING_STATEMENT = 40

_BLOCK = re.compile(r"^[ \t]*# BEGIN SOLUTION (ex\d+)[ \t]*\n(.*?)^[ \t]*# END SOLUTION", re.DOTALL | re.MULTILINE)

#: What code looks like in a sentence: a call, an assignment or keyword argument, a comparison,
#: a power, an arrow, an attribute chain on self or a module, a subscript, a lambda.
CODE_LIKE = {
    "a call": re.compile(r"[\w\])]\("),
    "an assignment or keyword argument": re.compile(r"\w\s*(?<![=!<>])=(?!=)\s*[\w\"'(\[{-]"),
    "a comparison": re.compile(r"==|!=|<=|>=|\bis not None\b|\bis None\b"),
    "a power or an arrow": re.compile(r"\*\*|->"),
    "a dotted name": re.compile(r"\b[a-z_]\w*\.(?!py\b|ipynb\b|toml\b)[a-z_]\w*"),
    "a subscript": re.compile(r"\w\[[^\]]*\]"),
    "a keyword of code": re.compile(r"\b(lambda|def|elif|isinstance|from exc|return [a-z_]+\b\()"),
}


def _normalize(text: str) -> str:
    return " ".join(text.split())


def _catalog() -> list[dict[str, object]]:
    entries: list[dict[str, object]] = tomllib.loads(CATALOG.read_text(encoding="utf-8"))["exercise"]
    return entries


def _texts() -> list[tuple[str, str]]:
    """(where, text) for every hint and every "where to begin" line of the catalog."""
    texts: list[tuple[str, str]] = []
    for entry in _catalog():
        hints = entry["hints"]
        assert isinstance(hints, list)
        texts.extend((f"{entry['id']} hint {n}", str(hint)) for n, hint in enumerate(hints, start=1))
        if "start" in entry:
            texts.append((f"{entry['id']} start", str(entry["start"])))
    return texts


def _answers() -> list[tuple[str, str]]:
    """(exercise, dedented body) of every reference answer block."""
    blocks = [
        (exercise, textwrap.dedent(body))
        for path in sorted(SOLUTIONS.rglob("*.py"))
        for exercise, body in _BLOCK.findall(path.read_text(encoding="utf-8"))
    ]
    assert blocks, f"no answer blocks under {SOLUTIONS}"
    return blocks


def _nodes(body: str) -> list[ast.AST]:
    tree = ast.parse(body)  # a block is whole statements; return/continue parse outside their function or loop
    return [node for node in ast.walk(tree) if isinstance(node, ast.stmt | ast.expr)]


def _fragments(body: str) -> set[str]:
    """Every statement and expression of an answer, as code, that is long enough to give something away."""
    texts = {_normalize(ast.unparse(node)) for node in _nodes(body) if not isinstance(node, ast.Name | ast.Constant)}
    return {text for text in texts if len(text) >= SHARED_CODE and not re.fullmatch(r"[\w.]+", text)}


def _statements(body: str) -> set[str]:
    return {
        text
        for node in _nodes(body)
        if isinstance(node, ast.stmt) and len(text := ast.unparse(node)) >= TELLING_STATEMENT
    }


def _code_only(body: str) -> str:
    """The answer's code with comments and the words inside string literals removed, whitespace collapsed."""
    lines = []
    for line in body.splitlines():
        line = re.sub(r"\"[^\"]*\"|'[^']*'", '""', line)
        lines.append(line.split("#", 1)[0])
    return _normalize(" ".join(lines))


def _lines(body: str) -> set[str]:
    return {
        stripped for line in body.splitlines() if len(stripped := line.strip()) >= 12 and not stripped.startswith("#")
    }


def _shared_run(text: str, code: str, length: int = SHARED_CODE) -> str | None:
    """The first run of ``length`` characters of ``text`` that also occurs in ``code``.

    Words cut at the run's edges are dropped first, and what is left must be more than one
    name (the function to write, the error to raise: the notebooks name them too).
    """
    flat = _normalize(text)
    for start in range(len(flat) - length + 1):
        run = flat[start : start + length]
        if run not in code:
            continue
        whole = re.sub(r"^\w+", "", run) if start > 0 and flat[start - 1].isalnum() else run
        end = start + length
        whole = re.sub(r"\w+$", "", whole) if end < len(flat) and flat[end].isalnum() else whole
        if len(re.findall(r"\w+", whole)) > 1 or re.search(r"[()\[\]{}=<>*+/%]", whole):
            return run
    return None


def _gives_away(text: str, body: str) -> list[str]:
    flat = _normalize(text)
    found = [f"the code {fragment!r}" for fragment in sorted(_fragments(body)) if fragment in flat]
    found += [f"the line {line!r}" for line in sorted(_lines(body)) if _normalize(line) in flat]
    if (run := _shared_run(text, _code_only(body))) is not None:
        found.append(f"the run {run!r}")
    return found


# -- the checks proven on made-up hints first -------------------------------------------------

ANSWER = """\
if status == 429:
    return RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs)
return min(cap, math.ldexp(base, attempt))
"""


@pytest.mark.parametrize(
    "hint",
    [
        "return min(cap, math.ldexp(base, attempt))",
        "Use min(cap, math.ldexp(base, attempt)) here.",
        "A 429 is RateLimitError(described, retry_after=parse_retry_after(response.headers), **kwargs).",
        "read it with parse_retry_after(response.headers) first",
    ],
)
def test_a_hint_holding_answer_code_is_caught(hint: str) -> None:
    assert _gives_away(hint, ANSWER)


@pytest.mark.parametrize(
    "hint",
    [
        "A 429 means slow down: use the wait the server asked for when it sent one.",
        "The cap wins once doubling the base would pass it; decide that before multiplying.",
    ],
)
def test_a_hint_in_prose_passes(hint: str) -> None:
    assert _gives_away(hint, ANSWER) == []
    assert [kind for kind, pattern in CODE_LIKE.items() if pattern.search(hint)] == []


@pytest.mark.parametrize(
    "hint",
    [
        "call math.ldexp(base, attempt)",
        "set delay = base",
        "check attempt >= log2 of the ratio",
        "base * 2**attempt",
        "use self.headers first",
        "json.dumps with sort_keys",
        "look at headers['retry-after']",
        "return error.retry_after when it is set",
    ],
)
def test_a_code_like_hint_is_caught(hint: str) -> None:
    assert [kind for kind, pattern in CODE_LIKE.items() if pattern.search(hint)]


# -- the catalog ------------------------------------------------------------------------------


def test_every_exercise_says_where_to_begin_and_has_hints() -> None:
    for entry in _catalog():
        start, files = str(entry.get("start", "")), entry["files"]
        assert isinstance(files, list)
        assert start.startswith("Begin in "), f"{entry['id']}: start must say where to begin, got {start!r}"
        assert files[0] in start and Path(str(entry["notebook"])).stem in start, (
            f"{entry['id']}: start must name {files[0]} and the notebook"
        )


@pytest.mark.parametrize(("where", "text"), _texts())
def test_each_hint_is_one_line_of_prose(where: str, text: str) -> None:
    assert "\n" not in text and len(text) <= HINT_LENGTH, f"{where} is not one line of at most {HINT_LENGTH} chars"
    kinds = [kind for kind, pattern in CODE_LIKE.items() if pattern.search(text)]
    assert kinds == [], f"{where} reads as code ({', '.join(kinds)}): {text}"


@pytest.mark.parametrize(("where", "text"), _texts())
def test_no_hint_shares_code_with_any_reference_answer(where: str, text: str) -> None:
    shared = {exercise: found for exercise, body in _answers() if (found := _gives_away(text, body))}
    assert shared == {}, f"{where} gives an answer away: {shared}"


# -- hints on request ---------------------------------------------------------------------------

RUN_TIMEOUT_S = 120.0


def _needs_stubs() -> None:
    if "raise NotImplementedError" not in (LEARNER / "backoff.py").read_text(encoding="utf-8"):
        pytest.skip("llm_client/ has no exercise stubs (it is a copy of the reference)")


def test_a_not_started_exercise_shows_where_to_begin_and_how_to_ask_for_more() -> None:
    _needs_stubs()
    ex3 = load_catalog()["ex3"]
    run = run_grading(ROOT, exercises=["ex3"], timeout_s=RUN_TIMEOUT_S)
    flat = _normalize(run.output)
    assert _normalize(ex3.start) in flat, run.output[-2000:]
    assert not any(_normalize(hint) in flat for hint in ex3.hints), "a not-started exercise gets no concept hint yet"
    assert 'pytest -m ex3 --hint N` shows hint N of 3; in its notebook, check("ex3", hint=N)' in run.output


def test_the_hint_asked_for_in_a_terminal_is_shown() -> None:
    _needs_stubs()
    ex4 = load_catalog()["ex4"]
    run = run_grading(ROOT, exercises=["ex4"], timeout_s=RUN_TIMEOUT_S, extra_args=["--hint", "2"])
    flat = _normalize(run.output)
    assert _normalize(f"hint: (2 of 3) {ex4.hints[1]}") in flat, run.output[-2000:]
    assert _normalize(ex4.start) not in flat and _normalize(ex4.hints[0]) not in flat


def test_a_hint_asked_for_is_shown_even_once_the_exercise_passes() -> None:
    """A learner who passed may still read on: ``--hint N`` is an explicit request, so it is answered."""
    ex4 = load_catalog()["ex4"]
    run = run_grading(ROOT / "solutions", exercises=["ex4"], timeout_s=RUN_TIMEOUT_S, extra_args=["--hint", "3"])
    flat = _normalize(run.output)
    assert "passed" in run.output, run.output[-2000:]
    assert _normalize(f"hint: (3 of 3) {ex4.hints[2]}") in flat, run.output[-2000:]
    unasked = run_grading(ROOT / "solutions", exercises=["ex4"], timeout_s=RUN_TIMEOUT_S)
    assert "hint:" not in unasked.output, "a passed exercise shows no hint unless one is asked for"


def test_a_hint_number_past_the_last_is_an_error_naming_the_range_and_zero_is_refused() -> None:
    ex3 = load_catalog()["ex3"]
    run = run_grading(ROOT, exercises=["ex3"], timeout_s=RUN_TIMEOUT_S, extra_args=["--hint", "9"])
    assert run.returncode == 4, run.output[-2000:]
    assert f"--hint 9 is out of range: ex3 has hints 1..{len(ex3.hints)}" in run.output, run.output[-2000:]
    assert not any(_normalize(hint) in _normalize(run.output) for hint in ex3.hints), "no hint shown in its place"
    refused = run_grading(ROOT, exercises=["ex3"], timeout_s=RUN_TIMEOUT_S, extra_args=["--hint", "0"])
    assert refused.returncode == 4 and "--hint takes a hint number counted from 1" in refused.output


def test_a_hint_number_in_range_for_the_exercise_graded_is_not_refused_for_another() -> None:
    """The range is checked against the exercises the run grades (``-m ex3``), not the whole catalog."""
    ex3 = load_catalog()["ex3"]
    run = run_grading(ROOT, exercises=["ex3"], timeout_s=RUN_TIMEOUT_S, extra_args=["--hint", str(len(ex3.hints))])
    assert run.returncode != 4 and "out of range" not in run.output, run.output[-2000:]


def test_a_hint_number_past_the_last_is_refused_in_a_notebook_with_its_range() -> None:
    ex3 = load_catalog()["ex3"]
    program = "from check import check; check('ex3', hint=9)"
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"ValueError: hint 9 is out of range: ex3 has hints 1..{len(ex3.hints)}" in done.stderr, done.stderr
    assert "points" not in done.stdout, "refused before any grading ran"


def test_the_hint_asked_for_in_a_notebook_is_shown() -> None:
    _needs_stubs()
    ex6 = load_catalog()["ex6"]
    program = "from check import check; print('returned', check('ex6', hint=3))"
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}  # the learner package
    done = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _normalize(f"(3 of 3) {ex6.hints[2]}") in _normalize(done.stdout), done.stdout[-2000:]
    assert "returned 0" in done.stdout
    refused = subprocess.run(
        [sys.executable, "-c", "from check import check; check('ex6', hint=0)"],
        cwd=ROOT / "notebooks", capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert "ValueError: hint must be a hint number counted from 1, got 0" in refused.stderr


# -- the learner package ------------------------------------------------------------------------


def _shipped_answers(package: Path) -> list[str]:
    """Where ``package`` holds a statement of a reference answer: as code, or as a line in a docstring or comment."""
    statements = {statement: exercise for exercise, body in _answers() for statement in _statements(body)}
    lines = {
        (exercise, stripped)
        for exercise, body in _answers()
        for line in body.splitlines()
        if len(stripped := line.strip()) >= TELLING_STATEMENT and not stripped.startswith("#")
    }
    found = []
    for path in sorted(package.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        where = path.relative_to(package.parent)
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.stmt) and (code := ast.unparse(node)) in statements:
                found.append(f"{where}:{node.lineno} holds {statements[code]}'s {code.splitlines()[0]!r}")
        flat = _normalize(source)
        found += [
            f"{where} holds {exercise}'s line {line!r}" for exercise, line in sorted(lines) if _normalize(line) in flat
        ]
    return found


def test_the_learner_package_ships_no_answer_in_code_docstrings_or_comments() -> None:
    found = _shipped_answers(LEARNER)
    assert found == [], "the learner package ships answers:\n" + "\n".join(found)


def test_an_answer_copied_into_another_module_or_a_docstring_is_found(tmp_path: Path) -> None:
    body = next(body for exercise, body in _answers() if exercise == "ex6" and "self._http.post(" in body)
    statement = next(line.strip() for line in body.splitlines() if "self._http.post(" in line)
    package = tmp_path / "llm_client"
    package.mkdir()
    (package / "clean.py").write_text('"""Nothing here."""\n\nANSWER = 42\n', encoding="utf-8")
    (package / "twin.py").write_text(f"def send(self, req, headers, timeout_s):\n    {statement}\n", encoding="utf-8")
    (package / "notes.py").write_text(f'"""How it is done:\n\n    {statement}\n"""\n', encoding="utf-8")
    found = _shipped_answers(package)
    assert any(f.startswith("llm_client/twin.py:2 holds ex6") for f in found), found
    assert any(f.startswith("llm_client/notes.py holds ex6") for f in found), found
    assert not any("clean.py" in f for f in found)

"""The Gradescope autograder (tools/build_gradescope.py, tools/platforms/gradescope/) as Gradescope runs it.

run_autograder grades through the same isolated path as grade-class: the hidden tier decides the
score (its tests shown to learners as the zip's visibility says), the public tier is feedback at 0
points, and the submission's code runs as an unprivileged user when it runs as root (the kit's CI
does; the tests make that user and remove it after). It accepts a repository, a zip of llm_client/
and loose .py files; one endless loop costs only its exercise, and the run ends by itself. setup.sh
makes a Python 3.11 virtual environment on an Ubuntu 22.04 whose own Python is 3.10.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.grader.catalog import ROOT, load_catalog
from tests.grader.launch import account, processes_of
from tests.kit.platform_runs import (
    IS_ROOT,
    add_files,
    dedicated_users,
    install_gradescope,
    make_repository,
    python_for,
    run_autograder,
    score_by_exercise,
)
from tools.build_gradescope import SCRIPTS, TEMPLATES, build
from tools.class_grading import hidden_from
from tools.generate_learner import generate_package

CATALOG = load_catalog()
REQUIRED_TOTAL = float(sum(ex.points for ex in CATALOG.values() if not ex.optional))
EX3 = float(CATALOG["ex3"].points)


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture(scope="module")
def runner() -> Iterator[tuple[str, str | None]]:
    """(python, user) for run_autograder: a dedicated unprivileged user where the tests run as root (the
    instructor's repository hidden from it meanwhile, as Gradescope's machine holds none), else this user."""
    if not IS_ROOT:
        yield sys.executable, None
        return
    with dedicated_users(1, prefix="llmscope") as [user], python_for(user) as python:
        if python is None:
            yield sys.executable, None
            return
        with hidden_from([ROOT], [account(user)]):
            yield python, user


def hidden_scores(results: dict[str, Any]) -> dict[str, float]:
    """Points per exercise of the hidden tier (the grade) in a results.json."""
    return {ex.removesuffix(" (hidden)"): points for ex, points in score_by_exercise(results).items()
            if ex.endswith(" (hidden)")}  # fmt: skip


@pytest.fixture(scope="module")
def unprivileged(runner: tuple[str, str | None]) -> tuple[str, str]:
    python, user = runner
    if user is None:
        pytest.skip("running the submission as an unprivileged user needs root (and a Python that user can run)")
    return python, user


def test_the_zip_holds_the_scripts_the_pinned_packages_both_tiers_and_the_reference(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        scripts = {name: archive.read(name) for name in SCRIPTS}
        requirements = archive.read("requirements-grader.txt").decode()
        settings = json.loads(archive.read("settings.json"))
    assert scripts == {name: (TEMPLATES / name).read_bytes() for name in SCRIPTS}
    assert {"tests/conftest.py", "tests/grader/grading.py", "tests/grader/sealed.py", "exercises.toml"} <= names
    assert {ex.grader for ex in CATALOG.values()} <= names
    hidden = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "hidden").rglob("*.py")}
    assert hidden <= names and {f"solutions/{f}" for ex in CATALOG.values() for f in ex.files} <= names
    assert {n for n in names if n.startswith("tools/")} == {
        "tools/__init__.py", "tools/autograding.py", "tools/class_grading.py", "tools/generate_learner.py",
        "tools/platforms/partial_report.py",
    }  # fmt: skip
    assert settings == {"hidden_visibility": "after_due_date"}
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any(n.startswith(("llm_client/", "tests/kit/", "stubs/")) or "__pycache__" in n for n in names), names
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), pins
    assert {line.split("==")[0] for line in pins} >= {"httpx", "pydantic", "pytest", "pytest-timeout", "respx"}


def test_the_requirements_the_learner_installs_include_the_pinned_grader_packages() -> None:
    assert "-r requirements-grader.txt" in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()


def test_the_shell_scripts_parse() -> None:
    for script in ("setup.sh", "run_autograder"):
        done = subprocess.run(["bash", "-n", str(TEMPLATES / script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_the_hidden_tier_decides_the_score_and_is_shown_as_the_zip_says(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    generate_package(root / "submission" / "my-repo" / "llm_client", keep={"ex3", "ex7"})
    python, user = runner
    graded = ["ex2", "ex3", "ex7"]
    done, results = run_autograder(root, python, user=user, extra_env={"AUTOGRADER_EXERCISES": ",".join(graded)})
    assert done.returncode == 0, done.stderr
    optional = float(CATALOG["ex7"].points)
    required = float(CATALOG["ex2"].points + CATALOG["ex3"].points)
    assert results["score"] == EX3 + optional and results["max_score"] == required
    assert hidden_scores(results) == {ex: (ex in ("ex3", "ex7")) * float(CATALOG[ex].points) for ex in graded}
    hidden = [t for t in results["tests"] if t["name"].startswith(tuple(f"{ex} (hidden):" for ex in graded))]
    public = [t for t in results["tests"] if t not in hidden and not t["name"].startswith("hidden tests")]
    assert hidden and all(t["visibility"] == "after_due_date" and t["max_score"] > 0 for t in hidden)
    assert public and all(t["visibility"] == "visible" and t["max_score"] == 0 for t in public), "feedback"
    assert {t["status"] for t in public if t["name"].startswith("ex3:")} == {"passed"}
    grade = next(t for t in results["tests"] if t["name"] == "hidden tests: the grade")
    assert grade["visibility"] == "after_due_date"
    assert f"grade: {EX3:g} of {required:g} points, plus {optional:g} extra credit" in grade["output"]
    assert "hidden" not in results["output"].split("feedback.")[1], "what learners see at once says nothing hidden"
    assert results["stdout_visibility"] == "hidden" and "grade:" in done.stdout, "the instructor's stdout has it"


def test_a_zip_built_with_hidden_tests_shown_at_once_says_so(
    runner: tuple[str, str | None], tmp_path: Path
) -> None:
    visible = build(tmp_path / "visible.zip", hidden_visibility="visible")
    root = install_gradescope(visible, tmp_path / "autograder")
    make_repository(root / "submission" / "my-repo", keep={"ex3"}, commit=False)
    _, results = run_autograder(root, runner[0], user=runner[1], extra_env={"AUTOGRADER_EXERCISES": "ex3"})
    assert hidden_scores(results) == {"ex3": EX3}
    assert "ex3: 12 of 12 points (hidden tests)" in results["output"] and results["stdout_visibility"] == "visible"
    assert all(t["visibility"] == "visible" for t in results["tests"])


def _zip_folder(folder: Path, archive: Path) -> None:
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted(folder.rglob("*")):
            zipped.write(path, path.relative_to(folder.parent).as_posix())


@pytest.mark.parametrize("form", ["zip of llm_client", "loose .py files"])
def test_a_zip_of_the_package_and_loose_files_are_graded_too(
    form: str, autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    package = tmp_path / "work" / "llm_client"
    generate_package(package, keep={"ex3"})
    if form == "zip of llm_client":
        _zip_folder(package, root / "submission" / "llm_client.zip")
    else:
        (root / "submission" / "backoff.py").write_bytes((package / "backoff.py").read_bytes())
        (root / "submission" / "notes.py").write_text("print('not part of the package')\n", encoding="utf-8")
    python, user = runner
    _, results = run_autograder(root, python, user=user, extra_env={"AUTOGRADER_EXERCISES": "ex2,ex3"})
    assert hidden_scores(results) == {"ex2": 0.0, "ex3": EX3}, results["output"]


def test_a_submission_without_the_package_scores_zero_with_a_message(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    (root / "submission" / "README.md").write_text("nothing here\n", encoding="utf-8")
    done, results = run_autograder(root, runner[0], user=runner[1])
    assert done.returncode == 0
    assert results["score"] == 0.0 and results["tests"] == []
    assert "No llm_client/ package was found" in results["output"]


def test_the_submission_runs_as_a_user_who_can_read_no_hidden_test_and_write_no_result(
    autograder_zip: Path, unprivileged: tuple[str, str], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    repo = make_repository(root / "submission" / "my-repo", keep={"ex3"}, commit=False)
    source = root / "source"
    written = [root / "results" / "results.json", source / "tests" / "grader" / "grading.py"]
    read = [source / "tests" / "hidden" / "test_hidden_ex3.py", source / "solutions" / "llm_client" / "backoff.py"]
    log_dir = Path(tempfile.mkdtemp(prefix="probe-"))  # somewhere the unprivileged user may write
    log_dir.chmod(0o777)
    probe = f"""+
import os as _os
import sys as _sys

_grader_copy = _os.path.join(_os.path.dirname(_sys.argv[0]), "grading.py")
with open({str(log_dir / "probe.log")!r}, "a") as _log:
    for _target in {[str(t) for t in written]!r} + [_grader_copy]:
        try:
            with open(_target, "a") as _handle:
                _handle.write("# changed")
            print("wrote", _target, file=_log)
        except OSError:
            print("refused", _target, file=_log)
    for _target in {[str(t) for t in read]!r}:
        try:
            open(_target).read()
            print("read", _target, file=_log)
        except OSError:
            print("refused", _target, file=_log)
    print("uid", _os.getuid(), file=_log)
"""
    add_files(repo, {"llm_client/backoff.py": probe})
    try:
        env = {"AUTOGRADER_EXERCISES": "ex3"}
        _, results = run_autograder(root, unprivileged[0], user=unprivileged[1], extra_env=env)
        probes = (log_dir / "probe.log").read_text(encoding="utf-8").splitlines()
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    uid = account(unprivileged[1]).uid
    assert probes and all(line.split()[0] == "refused" or line == f"uid {uid}" for line in probes), probes
    assert len([line for line in probes if line.startswith("uid")]) >= 2, "both tiers ran the submission's code"
    assert hidden_scores(results) == {"ex3": EX3}
    assert not processes_of(uid), "no process of the grading user is left"


def test_an_endless_loop_costs_only_its_exercise_and_the_run_ends_by_itself(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    repo = make_repository(root / "submission" / "my-repo", keep={"ex2", "ex3"}, commit=False)
    # A loop that even swallows the per-test timeout: only killing its process ends it.
    loop = """+
def make_cache_key(req):
    while True:
        try:
            pass
        except BaseException:
            pass
"""
    add_files(repo, {"llm_client/cache_key.py": loop})
    env = {"AUTOGRADER_EXERCISES": "ex2,ex3", "AUTOGRADER_DEADLINE_S": "40", "AUTOGRADER_HIDDEN_RUN_TIMEOUT_S": "8"}
    _, results = run_autograder(root, runner[0], user=runner[1], extra_env=env, timeout_s=120)
    assert hidden_scores(results) == {"ex2": 0.0, "ex3": EX3}, results["output"]
    assert results["execution_time"] < 40


def test_setup_sh_installs_python_3_11_on_an_ubuntu_whose_python_is_3_10(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    real_python = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    fakes = {
        "python3": "#!/bin/sh\nexit 1\n",  # Ubuntu 22.04's python3 is 3.10: too old
        "apt-get": f'#!/bin/sh\necho "apt-get $*" >> {log}\n'
        f'case "$*" in *"install"*python3.11*) ln -sf {real_python} {bin_dir}/python3.11;; esac\n',
        "useradd": f'#!/bin/sh\necho "useradd $*" >> {log}\n',
        "id": "#!/bin/sh\nexit 1\n",
    }
    for name, text in fakes.items():
        (bin_dir / name).write_text(text, encoding="utf-8")
        (bin_dir / name).chmod(0o755)
    for tool in ("rm", "chmod", "basename", "mkdir", "cat", "sed", "ln", "dirname", "uname", "readlink", "cp"):
        found = subprocess.run(["which", tool], capture_output=True, text=True, check=False).stdout.strip()
        if found:
            (bin_dir / tool).symlink_to(found)
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "requirements-grader.txt").write_text("# nothing to fetch offline\n", encoding="utf-8")
    env = {"PATH": str(bin_dir), "AUTOGRADER_ROOT": str(root), "HOME": str(tmp_path), "PIP_NO_INDEX": "1"}
    done = subprocess.run(["/bin/bash", str(TEMPLATES / "setup.sh")], env=env, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    calls = log.read_text(encoding="utf-8")
    assert "install -y -qq python3.11 python3.11-venv" in calls
    assert "useradd --system --no-create-home --user-group --shell /usr/sbin/nologin student" in calls
    venv_python = root / "venv" / "bin" / "python"
    version = subprocess.run([str(venv_python), "-c", "import sys; print(sys.prefix, sys.version_info >= (3, 11))"],
                             capture_output=True, text=True, check=True, timeout=60).stdout.split()  # fmt: skip
    assert version == [str(root / "venv"), "True"]


def test_a_syntax_error_in_the_optional_exercise_costs_only_its_points(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    repo = root / "submission" / "my-repo"
    shutil.copytree(ROOT / "solutions" / "llm_client", repo / "llm_client")
    optional = next(ex for ex in CATALOG.values() if ex.optional)
    add_files(repo, {optional.files[0]: "+def broken(:\n"})
    graded = ["ex3", optional.id]
    _, results = run_autograder(root, runner[0], user=runner[1], extra_env={"AUTOGRADER_EXERCISES": ",".join(graded)})
    assert hidden_scores(results) == {"ex3": EX3, optional.id: 0.0}, results["output"]
    assert results["score"] == EX3

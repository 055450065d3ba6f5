"""The Gradescope autograder (tools/build_gradescope.py, tools/platforms/gradescope/) as Gradescope runs it.

run_autograder grades each exercise in a child process, as an unprivileged user when it runs as
root (the kit's CI does), and writes results.json itself from what it verified. It accepts a
repository, a zip of llm_client/ and loose .py files; one endless loop costs only its exercise,
and the run ends by itself. setup.sh makes a Python 3.11 virtual environment on an Ubuntu 22.04
whose own Python is 3.10.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.grader.catalog import ROOT, load_catalog
from tests.kit.platform_runs import (
    IS_ROOT,
    UNPRIVILEGED,
    add_files,
    install_gradescope,
    make_repository,
    python_for,
    run_autograder,
    score_by_exercise,
)
from tools.build_gradescope import SCRIPTS, TEMPLATES, build
from tools.generate_learner import generate_package

CATALOG = load_catalog()
REQUIRED_TOTAL = float(sum(ex.points for ex in CATALOG.values() if not ex.optional))
EX3 = float(CATALOG["ex3"].points)


@pytest.fixture(scope="module")
def autograder_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory.mktemp("zip") / "autograder.zip")


@pytest.fixture(scope="module")
def runner() -> Iterator[tuple[str, str | None]]:
    """(python, user) for run_autograder: the unprivileged user where the tests run as root, else this user."""
    if not IS_ROOT:
        yield sys.executable, None
        return
    with python_for(UNPRIVILEGED) as python:
        yield (python, UNPRIVILEGED) if python is not None else (sys.executable, None)


@pytest.fixture(scope="module")
def unprivileged(runner: tuple[str, str | None]) -> tuple[str, str]:
    python, user = runner
    if user is None:
        pytest.skip("running the submission as an unprivileged user needs root (and a Python that user can run)")
    return python, user


def test_the_zip_holds_the_real_scripts_the_pinned_packages_the_grader_and_the_stubs(autograder_zip: Path) -> None:
    with zipfile.ZipFile(autograder_zip) as archive:
        names = set(archive.namelist())
        modes = {info.filename: info.external_attr >> 16 for info in archive.infolist()}
        scripts = {name: archive.read(name) for name in SCRIPTS}
        requirements = archive.read("requirements-grader.txt").decode()
    assert scripts == {name: (TEMPLATES / name).read_bytes() for name in SCRIPTS}
    assert {"tests/conftest.py", "tests/grader/grading.py", "tests/grader/sealed.py", "exercises.toml"} <= names
    assert {ex.grader for ex in CATALOG.values()} <= names
    assert {f"stubs/{f}" for ex in CATALOG.values() for f in ex.files} <= names
    assert modes["run_autograder"] & 0o111 and modes["setup.sh"] & 0o111
    assert not any(n.startswith(("solutions/", "llm_client/", "tools/", "tests/kit/")) for n in names), names
    pins = [line for line in requirements.splitlines() if line and not line.startswith("#")]
    assert pins and all("==" in line for line in pins), pins
    assert {line.split("==")[0] for line in pins} >= {"httpx", "pydantic", "pytest", "pytest-timeout", "respx"}


def test_the_requirements_the_learner_installs_include_the_pinned_grader_packages() -> None:
    assert "-r requirements-grader.txt" in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()


def test_the_shell_scripts_parse() -> None:
    for script in ("setup.sh", "run_autograder"):
        done = subprocess.run(["bash", "-n", str(TEMPLATES / script)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr


def test_a_repository_is_graded_per_exercise_into_results_json(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    generate_package(root / "submission" / "my-repo" / "llm_client", keep={"ex3", "ex7"})
    python, user = runner
    done, results = run_autograder(root, python, user=user)
    assert done.returncode == 0, done.stderr
    optional = float(sum(ex.points for ex in CATALOG.values() if ex.optional))
    assert results["score"] == EX3 + optional and results["max_score"] == REQUIRED_TOTAL
    assert score_by_exercise(results) == {ex: (ex in ("ex3", "ex7")) * float(CATALOG[ex].points) for ex in CATALOG}
    for test in results["tests"]:
        assert test["status"] in ("passed", "failed") and test["score"] in (0.0, test["max_score"])
    assert f"total: {EX3:g} of {REQUIRED_TOTAL:g} points, plus {optional:g} extra credit" in results["output"]
    assert "total:" in done.stdout, "the summary goes to Gradescope's stdout too"


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
    assert score_by_exercise(results) == {"ex2": 0.0, "ex3": EX3}, results["output"]


def test_a_submission_without_the_package_scores_zero_with_a_message(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    (root / "submission" / "README.md").write_text("nothing here\n", encoding="utf-8")
    done, results = run_autograder(root, runner[0], user=runner[1])
    assert done.returncode == 0
    assert results["score"] == 0.0 and results["tests"] == []
    assert "No llm_client/ package was found" in results["output"]


def test_the_submission_runs_as_a_user_who_cannot_write_the_results_or_the_grader(
    autograder_zip: Path, unprivileged: tuple[str, str], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    repo = make_repository(root / "submission" / "my-repo", keep={"ex3"})
    targets = [root / "results" / "results.json", root / "source" / "tests" / "grader" / "grading.py"]
    log_dir = Path(tempfile.mkdtemp(prefix="probe-"))  # somewhere the unprivileged user may write
    log_dir.chmod(0o777)
    probe = f"""+
import os as _os
import sys as _sys

_grader_copy = _os.path.join(_os.path.dirname(_sys.argv[0]), "grading.py")
with open({str(log_dir / "probe.log")!r}, "a") as _log:
    for _target in {[str(t) for t in targets]!r} + [_grader_copy]:
        try:
            with open(_target, "a") as _handle:
                _handle.write("# changed")
            print("wrote", _target, file=_log)
        except OSError:
            print("refused", _target, file=_log)
    print("uid", _os.getuid(), file=_log)
"""
    add_files(repo, {"llm_client/__init__.py": probe})
    try:
        env = {"AUTOGRADER_EXERCISES": "ex3"}
        _, results = run_autograder(root, unprivileged[0], user=unprivileged[1], extra_env=env)
        probes = (log_dir / "probe.log").read_text(encoding="utf-8").splitlines()
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)
    assert [line.split()[0] for line in probes] == ["refused", "refused", "refused", "uid"], probes
    assert probes[-1] != "uid 0"
    assert results["score"] == EX3


def test_an_endless_loop_costs_only_its_exercise_and_the_run_ends_by_itself(
    autograder_zip: Path, runner: tuple[str, str | None], tmp_path: Path
) -> None:
    root = install_gradescope(autograder_zip, tmp_path / "autograder")
    repo = make_repository(root / "submission" / "my-repo", keep={"ex2", "ex3"})
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
    env = {"AUTOGRADER_EXERCISES": "ex2,ex3", "AUTOGRADER_DEADLINE_S": "20"}
    _, results = run_autograder(root, runner[0], user=runner[1], extra_env=env, timeout_s=120)
    assert score_by_exercise(results) == {"ex2": 0.0, "ex3": EX3}, results["output"]
    assert "ex2: 0 of 13 points: the grader did not finish within" in results["output"]


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
    assert "useradd --system --no-create-home --shell /usr/sbin/nologin student" in calls
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
    _, results = run_autograder(root, runner[0], user=runner[1])
    expected = {ex: 0.0 if ex == optional.id else float(CATALOG[ex].points) for ex in CATALOG}
    assert score_by_exercise(results) == expected, results["output"]
    assert results["score"] == REQUIRED_TOTAL

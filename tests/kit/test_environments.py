"""The course opens where classes already work: Codespaces, Binder and a JupyterHub.

- ``.devcontainer/devcontainer.json`` (JSON with comments, as VS Code reads it): a Python image the
  course supports; once the container is created, the README's install command; each time the editor
  attaches, JupyterLab on the notebooks, opening Start here, on a forwarded port; the Python and Jupyter
  extensions, with the course's ``.venv`` as the interpreter and first on PATH.
- ``binder/``, what repo2docker reads (``runtime.txt``, ``requirements.txt``, ``postBuild``): a Python
  repo2docker can install, the course's requirements, and a JupyterLab default workspace that opens
  ``notebooks/00_start_here.ipynb``; repo2docker itself (``--no-build``, no Docker) writes the Dockerfile
  for the learner copy from them. The learner copy carries both folders.
- On a Python older than 3.11, the grader and the first cell of Start here name the Python they need,
  before anything that needs 3.11: shown with a faked ``sys.version_info``, and for real with Debian's
  pypy3 (Python 3.9) where it is installed.
- The slow tests set the learner copy up in a fresh virtual environment with those very commands
  (packages from PyPI, through pip's cache), then start JupyterLab both ways on loopback, run Start here
  in the environment's kernel, and run the grader, which prints its table.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEVCONTAINER = ROOT / ".devcontainer" / "devcontainer.json"
BINDER = ROOT / "binder"
START_HERE = "notebooks/00_start_here.ipynb"
#: The files that open the course online; the learner copy carries each of them unchanged.
ENVIRONMENT_FILES = (
    ".devcontainer/devcontainer.json",
    "binder/runtime.txt",
    "binder/requirements.txt",
    "binder/postBuild",
    "binder/workspace.json",
)
#: Python versions repo2docker installs (its buildpacks/conda/supported_python_version.py) that the course runs on.
REPO2DOCKER_PYTHONS = ("3.11", "3.12", "3.13", "3.14")
#: What the README tells learners to run after installing; the devcontainer's install command must precede it.
README_OPEN = " && .venv/bin/jupyter lab notebooks/"
#: A Python older than the course needs, as a faked sys.version_info.
OLD_PYTHON = (3, 10, 4, "final", 0)

INSTALL_TIMEOUT_S = 900
LAB_STARTUP_TIMEOUT_S = 120
NOTEBOOK_TIMEOUT_S = 300


# -- JSON with comments ----------------------------------------------------------------------

_STRING = r'"(?:\\.|[^"\\])*"'
_COMMENT = re.compile(rf"({_STRING})|//[^\n]*|/\*.*?\*/", re.DOTALL)
_TRAILING_COMMA = re.compile(rf"({_STRING})|,(?=\s*[}}\]])")


def read_jsonc(text: str) -> Any:
    """Parse JSON with ``//`` and ``/* */`` comments and trailing commas, as VS Code reads devcontainer.json.

    Comments and commas inside strings are kept; a comment counts as white space.
    """
    without_comments = _COMMENT.sub(lambda m: m.group(1) or " ", text)
    return json.loads(_TRAILING_COMMA.sub(lambda m: m.group(1) or "", without_comments))


def test_the_jsonc_reader_drops_comments_and_trailing_commas_but_keeps_slashes_in_strings() -> None:
    text = """// the head
    {"url": "https://example.invalid/a//b", /* inline */ "quote": "say \\"//\\" and /* this */",
     "list": [1, 2,], "n": 1/**/, // the tail
    }"""
    assert read_jsonc(text) == {
        "url": "https://example.invalid/a//b",
        "quote": 'say "//" and /* this */',
        "list": [1, 2],
        "n": 1,
    }
    with pytest.raises(json.JSONDecodeError):
        read_jsonc('{"a": 1 "b": 2}')


# -- the devcontainer ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def devcontainer() -> dict[str, Any]:
    config = read_jsonc(DEVCONTAINER.read_text(encoding="utf-8"))
    assert isinstance(config, dict)
    return config


def _min_python() -> tuple[int, int]:
    """The oldest Python the course supports, from pyproject.toml's requires-python (">=3.11")."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^requires-python\s*=\s*">=\s*(\d+)\.(\d+)"', text, flags=re.MULTILINE)
    assert match, "pyproject.toml states requires-python as >=X.Y"
    return int(match[1]), int(match[2])


def _lab_command(devcontainer: dict[str, Any]) -> list[str]:
    """The JupyterLab command the devcontainer runs each time the editor attaches."""
    attach = devcontainer["postAttachCommand"]
    commands = list(attach.values()) if isinstance(attach, dict) else [attach]
    labs = [shlex.split(command) for command in commands if "jupyter lab" in command]
    assert len(labs) == 1, commands
    return labs[0]


def _options(command: list[str]) -> dict[str, str]:
    return dict(arg.removeprefix("--").split("=", 1) for arg in command if arg.startswith("--") and "=" in arg)


def test_the_devcontainer_image_is_a_python_the_course_supports(devcontainer: dict[str, Any]) -> None:
    image = devcontainer["image"]
    match = re.fullmatch(r"mcr\.microsoft\.com/devcontainers/python:(?:\d+-)?(\d+)\.(\d+)(?:-[a-z]+)?", image)
    assert match, f"not one of the devcontainers Python images: {image}"
    assert (int(match[1]), int(match[2])) >= _min_python()


def test_the_devcontainer_installs_the_course_with_the_readme_command(devcontainer: dict[str, Any]) -> None:
    create = devcontainer["postCreateCommand"]
    assert create.startswith("python3 -m venv .venv && .venv/bin/pip install -r requirements.txt"), create
    assert create + README_OPEN in (ROOT / "README.md").read_text(encoding="utf-8")
    assert (ROOT / "requirements.txt").is_file()


def test_the_devcontainer_starts_jupyterlab_at_start_here_on_its_forwarded_port(devcontainer: dict[str, Any]) -> None:
    lab = _lab_command(devcontainer)
    assert lab[:2] == [".venv/bin/jupyter", "lab"] and "--no-browser" in lab, lab
    root = ROOT / lab[2]
    assert root.is_dir(), f"JupyterLab's folder {lab[2]} does not exist"
    options = _options(lab)
    port = int(options["port"])
    assert port in devcontainer["forwardPorts"] and str(port) in devcontainer["portsAttributes"]
    start = options["LabApp.default_url"].removeprefix("/lab/tree/")
    assert (root / start).resolve() == (ROOT / START_HERE).resolve(), options["LabApp.default_url"]
    assert options.get("ServerApp.token", "x") != "", "the login token stays on"


def test_the_devcontainer_recommends_python_and_jupyter_and_uses_the_course_environment(
    devcontainer: dict[str, Any],
) -> None:
    vscode = devcontainer["customizations"]["vscode"]
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(vscode["extensions"])
    venv = "${containerWorkspaceFolder}/.venv"
    assert vscode["settings"]["python.defaultInterpreterPath"] == f"{venv}/bin/python"
    assert devcontainer["remoteEnv"]["PATH"].startswith(f"{venv}/bin:"), "pytest in a terminal is the course's"
    assert " .venv " in f" {devcontainer['postCreateCommand']} ", "the environment the settings name is the one made"
    for path in devcontainer["customizations"]["codespaces"]["openFiles"]:
        assert (ROOT / path).is_file(), path


# -- Binder (repo2docker) --------------------------------------------------------------------


def test_binder_asks_repo2docker_for_a_python_the_course_supports() -> None:
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-(\d+)\.(\d+)", runtime)
    assert match, f"runtime.txt must read python-X.Y, not {runtime!r}"
    assert f"{match[1]}.{match[2]}" in REPO2DOCKER_PYTHONS
    assert (int(match[1]), int(match[2])) >= _min_python()
    # repo2docker ignores runtime.txt next to an environment.yml, and refuses both binder/ and .binder/.
    assert not (BINDER / "environment.yml").exists() and not (ROOT / ".binder").exists()


def test_binder_installs_the_course_requirements_with_the_learner_package() -> None:
    lines = (BINDER / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if line.strip() and not line.startswith("#")] == ["-r ../requirements.txt"]
    # repo2docker runs pip from the repository root, where "-e ." is the learner package.
    assert "-e ." in (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()


def test_binder_post_build_is_an_executable_script_that_stops_at_its_first_error() -> None:
    post_build = BINDER / "postBuild"
    text = post_build.read_text(encoding="utf-8")
    assert text.startswith("#!/bin/bash\n") and "\nset -euo pipefail\n" in text
    assert os.access(post_build, os.X_OK)
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "-s", "binder/postBuild"], capture_output=True, text=True, check=False
    )
    if tracked.returncode == 0 and tracked.stdout:  # a git checkout: the executable bit is committed
        assert tracked.stdout.startswith("100755 "), tracked.stdout
    assert 'jupyter lab workspaces import "$(dirname "$0")/workspace.json"' in text


def test_binder_default_workspace_opens_start_here() -> None:
    workspace = json.loads((BINDER / "workspace.json").read_text(encoding="utf-8"))
    assert workspace["metadata"]["id"] == "default"
    main = workspace["data"]["layout-restorer:data"]["main"]
    assert main["dock"]["widgets"] == [f"notebook:{START_HERE}"] and main["current"] == f"notebook:{START_HERE}"
    assert workspace["data"][f"notebook:{START_HERE}"]["data"] == {"path": START_HERE, "factory": "Notebook"}
    assert (ROOT / START_HERE).is_file()


# -- the learner copy ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("environments") / "course"
    done = subprocess.run(
        [sys.executable, "-m", "tools", "release", str(dest)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return dest


def test_the_learner_copy_carries_the_devcontainer_and_binder_files(
    course_copy: Path, devcontainer: dict[str, Any]
) -> None:
    for rel in ENVIRONMENT_FILES:
        assert (course_copy / rel).read_bytes() == (ROOT / rel).read_bytes(), rel
    assert os.access(course_copy / "binder" / "postBuild", os.X_OK)
    readme = (course_copy / "README.md").read_text(encoding="utf-8")
    assert devcontainer["postCreateCommand"] + README_OPEN in readme, "the copy's README installs the same way"


def test_repo2docker_builds_the_learner_copy_with_its_python_then_its_requirements_then_post_build(
    course_copy: Path,
) -> None:
    pytest.importorskip("repo2docker", reason="repo2docker is not installed (pip install -r requirements-dev.txt)")
    done = subprocess.run(
        [sys.executable, "-m", "repo2docker", "--no-build", "--no-run", "--debug", "--user-id", "1000",
         "--user-name", "jovyan", str(course_copy)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip().removeprefix("python-")
    assert f"Building conda environment for python={runtime}" in done.stderr, done.stderr[-3000:]
    dockerfile = done.stdout
    whole_repository = dockerfile.index("COPY --chown=1000:1000 src/ ${REPO_DIR}/")
    requirements = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    post_build = dockerfile.index("RUN ./binder/postBuild")
    # "-e ." needs the whole repository in place: repo2docker installs after copying it, and the learner owns it.
    assert whole_repository < requirements < post_build


# -- an older Python ---------------------------------------------------------------------------


def _first_cell_of_start_here() -> str:
    cells = json.loads((ROOT / START_HERE).read_text(encoding="utf-8"))["cells"]
    return "".join(next(cell for cell in cells if cell["cell_type"] == "code")["source"])


def _run_with_old_python(code: str, cwd: Path, *, setup: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``setup``, then ``code`` with sys.version_info saying OLD_PYTHON."""
    script = f"{setup}\nimport sys\nsys.version_info = {OLD_PYTHON!r}\n{code}"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_grader_stops_on_an_older_python_naming_the_python_it_needs() -> None:
    done = _run_with_old_python("import runpy\nrunpy.run_path('tests/conftest.py')", ROOT)
    assert done.returncode == 4, done.stderr
    assert done.stderr == "this course needs Python 3.11 or newer; you have 3.10.4\n"


def test_start_here_stops_on_an_older_python_naming_the_python_it_needs() -> None:
    # The cell runs as a kernel runs it: in IPython, magics included (IPython itself is imported first).
    setup = "from IPython.core.interactiveshell import InteractiveShell\nshell = InteractiveShell.instance()"
    code = f"result = shell.run_cell({_first_cell_of_start_here()!r})\nprint('raised:', repr(result.error_in_exec))"
    done = _run_with_old_python(code, ROOT / "notebooks", setup=setup)
    assert done.returncode == 0, done.stderr
    raised = done.stdout.strip().splitlines()[-1]
    assert raised.startswith("raised: RuntimeError('This course needs Python 3.11 or newer; "
                             "this notebook runs on Python 3.10.4."), done.stdout  # fmt: skip
    assert "Change Kernel" in raised and "llm_client loaded" not in done.stdout


def test_on_a_real_python_3_9_the_grader_and_start_here_name_the_python_they_need() -> None:
    pypy = shutil.which("pypy3")
    if pypy is None:
        missing = "no Python older than 3.11 here: Debian's pypy3 (Python 3.9) is not installed (apt-get install pypy3)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the older-Python test cannot run: {missing}")
        pytest.skip(missing)
    grader = subprocess.run([pypy, "tests/conftest.py"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert grader.returncode == 4, grader.stderr
    assert grader.stderr.startswith("this course needs Python 3.11 or newer; you have 3.9."), grader.stderr
    # pypy3 has no IPython: the cell runs without its magic lines (%autoreload), which come before the check.
    python = "\n".join(line for line in _first_cell_of_start_here().splitlines() if not line.startswith("%"))
    cell = subprocess.run([pypy, "-c", python], cwd=ROOT / "notebooks", capture_output=True, text=True, timeout=120)
    assert cell.returncode == 1
    assert "RuntimeError: This course needs Python 3.11 or newer; this notebook runs on Python 3.9." in cell.stderr


# -- the course, set up in a fresh virtual environment -----------------------------------------

#: Variables that would make the fresh environment less fresh: another Python, package or Jupyter setup, a key.
_NOT_PASSED_ON = re.compile(r"^(PYTHONPATH|PYTHONHOME|VIRTUAL_ENV|CONDA_.*|PYTEST_.*|JUPYTER.*|IPYTHONDIR|.*_API_KEY)$")


def _fresh_env(home: Path, venv: Path | None = None) -> dict[str, str]:
    """This machine's environment (pip's settings and cache included) with no other Python or Jupyter setup."""
    env = {key: value for key, value in os.environ.items() if not _NOT_PASSED_ON.match(key)}
    path = [str(venv / "bin")] if venv else []
    path += [str(Path(sys.base_prefix) / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
    env["PATH"] = os.pathsep.join(path)
    if venv:
        env["VIRTUAL_ENV"] = str(venv)
    for variable, folder in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
                             ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"),
                             ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("IPYTHONDIR", "ipython"),
                             ("MPLCONFIGDIR", "matplotlib")):  # fmt: skip
        (home / folder).mkdir(parents=True, exist_ok=True)
        env[variable] = str(home / folder)
    env.update(LLM_COURSE_OFFLINE="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _shell(command: str, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@dataclass
class Installed:
    """The learner copy after the devcontainer's and Binder's setup commands, and where its Jupyter files live."""

    course: Path
    venv: Path
    home: Path

    def env(self) -> dict[str, str]:
        return _fresh_env(self.home, self.venv)


@pytest.fixture(scope="module")
def installed(course_copy: Path, devcontainer: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """Codespaces' postCreateCommand in a fresh copy, then what repo2docker runs: binder's requirements, postBuild."""
    home = tmp_path_factory.mktemp("jupyter-home")
    _shell(devcontainer["postCreateCommand"], course_copy, _fresh_env(home), INSTALL_TIMEOUT_S)
    done = Installed(course_copy, course_copy / ".venv", home)
    # repo2docker: pip install -r binder/requirements.txt from the repository root, then binder/postBuild.
    _shell("pip install -q -r binder/requirements.txt", course_copy, done.env(), INSTALL_TIMEOUT_S)
    _shell("binder/postBuild", course_copy, done.env(), 120)
    return done


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Lab:
    url: str
    client: httpx.Client


@contextmanager
def _jupyterlab(command: list[str], cwd: Path, env: dict[str, str]) -> Iterator[Lab]:
    """Run ``command`` (a ``jupyter lab`` command line) on a free loopback port until it serves; stop it after."""
    port, token = _free_port(), secrets.token_hex(16)
    argv = [*command, "--ServerApp.ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}", "--no-browser"]  # fmt: skip
    if os.geteuid() == 0:  # CI runs as root
        argv.append("--allow-root")
    process = subprocess.Popen(
        argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    assert process.stdout is not None
    log: list[str] = []
    give_up = threading.Timer(LAB_STARTUP_TIMEOUT_S, process.kill)
    give_up.start()
    try:
        for line in process.stdout:  # JupyterLab logs the address it serves once it is ready
            log.append(line)
            if f"http://127.0.0.1:{port}/" in line:
                break
        give_up.cancel()
        assert process.poll() is None, "".join(log)
        threading.Thread(target=lambda: log.extend(process.stdout or []), daemon=True).start()  # keep the pipe open
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"token {token}"},
                          timeout=30) as client:  # fmt: skip
            yield Lab(f"http://127.0.0.1:{port}", client)
            client.post("/api/shutdown")
        process.wait(timeout=30)
    finally:
        give_up.cancel()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def _kernel_is_the_environments(lab: Lab, venv: Path, env: dict[str, str]) -> None:
    specs = lab.client.get("/api/kernelspecs").json()
    assert specs["default"] == "python3" and "python3" in specs["kernelspecs"]
    listed = subprocess.run([str(venv / "bin" / "jupyter"), "kernelspec", "list", "--json"], env=env,
                            capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    resource_dir = Path(json.loads(listed.stdout)["kernelspecs"]["python3"]["resource_dir"])
    assert resource_dir.resolve().is_relative_to(venv.resolve()), "the python3 kernel is the course environment's"


@pytest.mark.slow
def test_codespaces_jupyterlab_opens_start_here_with_the_environments_kernel(
    installed: Installed, devcontainer: dict[str, Any]
) -> None:
    lab_command = [arg for arg in _lab_command(devcontainer) if not arg.startswith("--port=")]
    with _jupyterlab(lab_command, installed.course, installed.env()) as lab:
        landing = lab.client.get("/")
        assert landing.status_code == 302, landing
        assert httpx.URL(landing.headers["location"]).path == "/lab/tree/00_start_here.ipynb", landing.headers
        page = lab.client.get("/lab/tree/00_start_here.ipynb")
        assert page.status_code == 200 and "JupyterLab" in page.text
        # A forwarded port reaches JupyterLab through a proxy that keeps its own Host; the token still guards it.
        proxied = lab.client.get("/lab/tree/00_start_here.ipynb", headers={"Host": "course-8888.app.github.dev"})
        assert proxied.status_code == 200, proxied
        assert httpx.get(f"{lab.url}/api/contents", timeout=30).status_code == 403
        notebook = lab.client.get("/api/contents/00_start_here.ipynb")
        assert notebook.status_code == 200 and notebook.json()["type"] == "notebook"
        _kernel_is_the_environments(lab, installed.venv, installed.env())


@pytest.mark.slow
def test_binder_jupyterlab_opens_start_here_from_its_default_workspace(installed: Installed) -> None:
    # repo2docker starts JupyterLab in the repository root; Binder's links open /lab, the default workspace.
    with _jupyterlab([str(installed.venv / "bin" / "jupyter"), "lab"], installed.course, installed.env()) as lab:
        workspace = lab.client.get("/lab/api/workspaces/default").json()
        assert workspace["data"]["layout-restorer:data"]["main"]["current"] == f"notebook:{START_HERE}"
        assert lab.client.get(f"/api/contents/{START_HERE}").json()["type"] == "notebook"
        assert lab.client.get("/lab").status_code == 200
        _kernel_is_the_environments(lab, installed.venv, installed.env())


# Runs in the course environment: Start here in its python3 kernel, plus one cell that reports the kernel's prefix.
_EXECUTE = """
import json, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

path = Path(sys.argv[1])
nb = nbformat.read(path, as_version=4)
nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.prefix)"))
NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
outputs = [[o.get("text", "") for o in cell.outputs if o.output_type == "stream"] for cell in nb.cells
           if cell.cell_type == "code"]
print(json.dumps(outputs))
"""


@pytest.mark.slow
def test_start_here_runs_top_to_bottom_in_the_environments_kernel(installed: Installed) -> None:
    python = installed.venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", _EXECUTE, START_HERE], cwd=installed.course, env=installed.env(),
        capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT_S, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    outputs = json.loads(done.stdout.strip().splitlines()[-1])
    assert "".join(outputs[-1]).strip() == str(installed.venv), "the notebook ran in the course environment"
    loaded = next(text for cell in outputs for text in cell if "llm_client loaded from" in text)
    assert loaded.strip().endswith(str(installed.course / "llm_client")), loaded


@pytest.mark.slow
def test_the_grader_prints_its_table_in_the_fresh_environment(installed: Installed) -> None:
    done = subprocess.run(
        [str(installed.venv / "bin" / "pytest"), "-p", "no:cacheprovider"], cwd=installed.course,
        env=installed.env(), capture_output=True, text=True, timeout=NOTEBOOK_TIMEOUT_S, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 1, output[-3000:]
    assert f"llm_client under test: {installed.course / 'llm_client'}" in output
    assert re.search(r"total: 0 of \d+ points", output), output[-3000:]

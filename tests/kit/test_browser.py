"""A learner's view: JupyterLab in a real browser runs an exercise notebook from top to bottom.

JupyterLab starts on loopback (a free port, a token, its own temporary config,
runtime and settings folders) against the reference package; headless Chromium
(Debian's, driven by Playwright; no browser download) opens a copy of the ex3
notebook, runs it with the menu Run > Run All Cells, and waits until the kernel
is idle and every code cell has an execution count. The page must show no
error output, must show what the notebook teaches (the thundering-herd numbers
and plot) and the grader's full marks (and not the bare number check() returns),
and must never request anything but loopback. Screenshots go to artifacts/browser/.

Skipped when Chromium or Playwright is missing, except under CI=true, where
that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "03_ex3_backoff_jitter.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts" / "browser"
# Any http(s) or ws(s) address that is not on this machine.
NOT_LOOPBACK = re.compile(r"^(?!(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/)(https?|wss?):")
STARTUP_TIMEOUT_S = 60
RUN_TIMEOUT_S = 120
#: Shown by the notebook only when backoff_delay and the simulation work (seeded, so exact).
EXPECTED_TEXT = "Without jitter: 1000 retries in the busiest tenth of a second."
ERROR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def _require_browser() -> Any:
    """The Playwright sync API, or skip (fail under CI=true) naming what is missing."""
    missing = None
    sync_api: Any = None
    if not CHROMIUM.is_file():
        missing = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        from playwright import sync_api
    except ImportError:
        missing = missing or "Playwright for Python is not installed (pip install -r requirements-dev.txt)"
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and the browser test cannot run: {missing}")
        pytest.skip(missing)
    return sync_api


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Lab:
    """A running JupyterLab: where it listens and where the notebook is."""

    url: str
    token: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        """Call JupyterLab's REST API; returns the decoded JSON answer."""
        request = urllib.request.Request(
            f"{self.url}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None


def _write_config(home: Path, port: int, token: str) -> dict[str, str]:
    """Config, runtime and settings folders of this JupyterLab only; returns the environment to start it with."""
    config, runtime, settings, workspaces = (home / name for name in ("config", "runtime", "settings", "workspaces"))
    for folder in (config, runtime, settings, workspaces):
        folder.mkdir(parents=True)
    server = {
        "ServerApp": {
            "ip": "127.0.0.1",
            "port": port,
            "port_retries": 0,
            "open_browser": False,
            "root_dir": str(home / "course"),
            "allow_root": os.geteuid() == 0,  # CI runs as root
        },
        "IdentityProvider": {"token": token},
        # Nothing from outside: no news feed, no update check, no extension index.
        "LabApp": {
            "news_url": None,
            "check_for_updates_class": "jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "extension_manager": "readonly",
        },
    }
    (config / "jupyter_server_config.json").write_text(json.dumps(server), encoding="utf-8")
    # Every cell stays in the page (no windowing), so the test can read every prompt and output.
    notebook_settings = settings / "@jupyterlab" / "notebook-extension"
    notebook_settings.mkdir(parents=True)
    (notebook_settings / "tracker.jupyterlab-settings").write_text(
        json.dumps({"windowingMode": "none"}), encoding="utf-8"
    )
    apputils = settings / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False}), encoding="utf-8"
    )
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
        PYTHONPATH=str(ROOT / "solutions"),  # the kernel imports the reference answers
        LLM_COURSE_OFFLINE="1",
    )
    env.pop("OPENAI_API_KEY", None)
    env.pop("ANTHROPIC_API_KEY", None)
    return env


def _lay_out_course(home: Path) -> Path:
    """A copy of the notebook and check.py, beside the repository's grader, as a learner's checkout has them."""
    course = home / "course"
    (course / "notebooks").mkdir(parents=True)
    shutil.copy2(ROOT / "notebooks" / NOTEBOOK, course / "notebooks" / NOTEBOOK)
    shutil.copy2(ROOT / "notebooks" / "check.py", course / "notebooks" / "check.py")
    for name in ("tests", "pyproject.toml", "exercises.toml"):
        if (ROOT / name).exists():
            (course / name).symlink_to(ROOT / name)
    return course


def _stop(lab: Lab) -> None:
    """Shut JupyterLab and its kernels down; kill its process group if it does not go."""
    if lab.process.poll() is None:
        try:
            lab.api("/api/shutdown", method="POST")
            lab.process.wait(timeout=15)
        except (OSError, urllib.error.URLError, subprocess.TimeoutExpired):
            pass
    if lab.process.poll() is None:
        os.killpg(lab.process.pid, signal.SIGTERM)
        try:
            lab.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(lab.process.pid, signal.SIGKILL)
            lab.process.wait(timeout=10)


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[Lab]:
    _require_browser()
    port, token = _free_port(), secrets.token_hex(16)
    env = _write_config(tmp_path, port, token)
    _lay_out_course(tmp_path)
    log = tmp_path / "jupyterlab.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyterlab", "--no-browser"],
            cwd=tmp_path / "course",
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so it can be killed as a whole
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, tmp_path, process, log)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with {process.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
            try:
                lab.api("/api/status")
                break
            except (OSError, urllib.error.URLError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start in {STARTUP_TIMEOUT_S} s:\n{log.read_text()[-3000:]}")
                time.sleep(0.25)
        yield lab
    finally:
        _stop(lab)


@dataclass
class PageRun:
    prompts: list[str]
    errors: list[str]
    text: str
    images: int
    check_cell_results: int  # "Out[n]:" results under the last (check) cell
    blocked: list[str] = field(default_factory=list)


_PAGE_STATE = """() => {
  const cells = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')];
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {
    prompts: cells.map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || ''),
    status: indicator ? indicator.getAttribute('data-status') : null,
    errors: document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
  };
}"""


def _start_kernel(lab: Lab) -> None:
    """Start the notebook's kernel: a session for its path, which the page connects to when it opens it.

    So the page never has to ask which kernel to use, however slowly it loads.
    """
    path = f"notebooks/{NOTEBOOK}"
    session = lab.api(
        "/api/sessions", "POST", {"path": path, "name": NOTEBOOK, "type": "notebook", "kernel": {"name": "python3"}}
    )
    assert session["kernel"]["id"], session


# The kernel status in the notebook's toolbar and status bar: "Python 3 (ipykernel) | Idle".
_KERNEL_IDLE_IN_PAGE = (
    "() => { const i = document.querySelector('.jp-Notebook-ExecutionIndicator');"
    " return !!i && i.getAttribute('data-status') === 'idle'"
    " && [...document.querySelectorAll('.jp-StatusBar-TextItem')].some(e => /\\| Idle$/.test(e.textContent.trim())); }"
)


# True once the kernel is idle again and every code cell shows an execution count
# (or a cell failed, which stops Run All: the test then reports the error at once).
_ALL_RUN = (
    "() => { const state = (" + _PAGE_STATE + ")(); return state.status === 'idle' && state.prompts.length > 0"
    " && (state.errors > 0 || state.prompts.every(p => /^\\[\\d+\\]:$/.test(p.trim()))); }"
)


def _run_all_cells(sync_api: Any, lab: Lab) -> PageRun:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob(f"{Path(NOTEBOOK).stem}-*.png"):
        old.unlink()
    blocked: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def refuse(route: Any) -> None:
                blocked.append(route.request.url)
                route.abort()

            # Matched in the browser driver, so loopback traffic is never held up by the test.
            context.route(NOT_LOOPBACK, refuse)
            page = context.new_page()
            page.set_default_timeout(RUN_TIMEOUT_S * 1000)
            try:
                page.goto(f"{lab.url}/lab/tree/notebooks/{NOTEBOOK}?token={lab.token}")
                page.wait_for_selector(".jp-Notebook .jp-CodeCell")
                page.wait_for_function(_KERNEL_IDLE_IN_PAGE, polling=250)
                page.click(".lm-MenuBar-itemLabel:text-is('Run')")
                page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
                page.wait_for_function(_ALL_RUN, polling=250)
            except Exception:
                page.screenshot(path=str(ARTIFACTS / "03_ex3_backoff_jitter-failure.png"))
                raise
            state = page.evaluate(_PAGE_STATE)
            errors = page.locator(f"{ERROR_OUTPUT}, .jp-OutputArea-output.jp-RenderedText[data-mime-type*=error]")
            error_texts = [errors.nth(i).inner_text() for i in range(errors.count())]
            text = page.locator(".jp-Notebook").inner_text()
            images = page.locator(".jp-OutputArea-output img").count()
            check_cell = page.locator(".jp-Notebook .jp-CodeCell").last
            check_cell_results = check_cell.locator(".jp-OutputArea-executeResult").count()
            if images:
                page.locator(".jp-OutputArea-output img").first.scroll_into_view_if_needed()
                page.wait_for_timeout(300)
                page.screenshot(path=str(ARTIFACTS / "03_ex3_backoff_jitter-plot.png"))
            page.locator(".jp-Notebook .jp-CodeCell").last.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
            page.screenshot(path=str(ARTIFACTS / "03_ex3_backoff_jitter-check.png"))
            context.close()
        finally:
            browser.close()
    return PageRun(state["prompts"], error_texts, text, images, check_cell_results, blocked)


def test_an_exercise_notebook_runs_in_jupyterlab_with_run_all_cells(jupyterlab: Lab) -> None:
    sync_api = _require_browser()
    _start_kernel(jupyterlab)
    run = _run_all_cells(sync_api, jupyterlab)

    assert run.errors == [], "error output in the page:\n" + "\n---\n".join(run.errors)
    assert run.prompts and all(re.fullmatch(r"\[\d+\]:", p.strip()) for p in run.prompts), run.prompts
    assert EXPECTED_TEXT in run.text
    assert run.images >= 1, "the thundering-herd plot is not in the page"
    if (ROOT / "tests" / "grader").is_dir():
        earned = re.search(r"ex3: (\d+)/(\d+) points", run.text)
        assert earned and earned.group(1) == earned.group(2) != "0", "the check cell did not show full marks"
        assert run.check_cell_results == 0, "the check cell shows check()'s return value under its table"
    assert run.blocked == [], f"the page tried to leave the machine: {run.blocked}"
    assert (ARTIFACTS / "03_ex3_backoff_jitter-plot.png").stat().st_size > 10_000

"""The student's path in a real browser: the released lab 01 in JupyterLab, with the project's
environment (kernel, ``flowlab``, the nbgrader extension), driven through Debian's chromium.

A student types an answer into a task cell and runs the notebook down to its test cell; nbgrader's
Validate button passes the complete example submission and fails the untouched one.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from browser_support import PageRecord, launch_chromium
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from flowlab import course

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LAB = "lab01_bijectors"
TASK_ANSWER = "X, _ = make_moons(n_samples=10000, noise=0.05, random_state=SEED)"
EXECUTION_TIMEOUT_MS = 180_000

# Settings a fresh JupyterLab reads from the (temporary) user config folder: every cell in the DOM
# (no virtual scrolling), and no news toast over the notebook.
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with token auth over a copy of lab 01 and two example submissions."""
    root = tmp_path_factory.mktemp("jupyterlab")
    shutil.copytree(course.LABS / LAB, root / "labs" / LAB)
    (root / "examples").mkdir()
    for example in ("complete", "untouched"):
        shutil.copy(course.AUTOGRADER / "examples" / LAB / f"{example}.ipynb",
                    root / "examples" / f"{example}.ipynb")
    # The repository's nbgrader config, as a student's `jupyter lab labs/` in a clone reads it: it
    # sets the course's per-cell timeout, which the full budget's training cells need.
    for config_file in ("nbgrader_config.py", "autograder/nbgrader_config.py"):
        (root / config_file).parent.mkdir(exist_ok=True)
        shutil.copy(course.ROOT / config_file, root / config_file)
    config = root / "jupyter-config"
    for name, values in USER_SETTINGS.items():
        path = config / "lab" / "user-settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config), JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    env.pop("FLOWLAB_BUDGET", None)  # a student's kernel: the default budget
    log = (root / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI runs as root
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}api/status?token={token}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (root / "jupyterlab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield base, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    chromium = launch_chromium()
    yield chromium
    chromium.close()


def open_notebook(browser, jupyterlab, path: str):
    base, token, _ = jupyterlab
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    record = PageRecord()
    record.watch(page)
    page.goto(f"{base}lab/tree/{path}?token={token}&reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=90_000)
    page.wait_for_selector(".jp-NotebookPanel [data-status='idle']", timeout=90_000)
    return page, record


def cells(page):
    return page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")


def prompt(cell) -> str:
    return cell.locator(".jp-InputArea-prompt").inner_text().strip()


def describe_cells(page, count: int) -> str:
    """The prompt and the first line of each of the first ``count`` cells, for a failure message."""
    lines = []
    for index in range(count):
        cell = cells(page).nth(index)
        first_line = (cell.locator(".jp-InputArea-editor").inner_text() or "").strip().split("\n")[0]
        lines.append(f"  cell {index} {prompt(cell)!r}: {first_line[:70]}"
                     + "".join(f"\n    error: {text[-300:]}" for text in error_outputs(cell)))
    return "\n".join(lines)


def wait_executed(page, cell, after: str = "", server_log=None):
    """Wait until ``cell`` shows an execution count (``[n]:``) different from ``after``; on a time-out,
    say what every cell up to it shows, and the end of the server's log."""
    handle = cell.element_handle()
    try:
        page.wait_for_function(
            """([cell, after]) => {
                const text = cell.querySelector('.jp-InputArea-prompt').innerText.trim();
                return /^\\[\\d+\\]:$/.test(text) && text !== after;
            }""", arg=[handle, after], timeout=EXECUTION_TIMEOUT_MS)
    except PlaywrightTimeout:
        index = cells(page).evaluate_all("(all, cell) => all.indexOf(cell)", handle)
        kernel = page.locator(".jp-NotebookPanel [data-status]").first.get_attribute("data-status")
        pytest.fail(f"cell {index} did not finish in {EXECUTION_TIMEOUT_MS / 1000:.0f} s "
                    f"(kernel status {kernel!r}):\n{describe_cells(page, index + 1)}\n"
                    + (f"JupyterLab's log ends:\n{server_log.read_text()[-3000:]}" if server_log else ""))


def error_outputs(cell) -> list[str]:
    """Text of the error and stderr outputs of ``cell`` (JupyterLab renders both as stderr)."""
    return cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ).all_inner_texts()


def wait_active(page, index: int):
    page.wait_for_function("index => document.querySelectorAll('.jp-NotebookPanel .jp-Notebook "
                           ".jp-Cell')[index].classList.contains('jp-mod-active')",
                           arg=index, timeout=30_000)


def run_cells_from(page, first: int, count: int):
    """Select cell ``first`` and press Shift+Enter ``count`` times, as a student runs cells. Each press
    waits for the one before it to move the selection, so no key lands before the notebook is ready."""
    cells(page).nth(first).locator(".jp-InputArea-prompt").click()
    wait_active(page, first)
    for step in range(1, count + 1):
        page.keyboard.press("Shift+Enter")
        wait_active(page, first + step)


def test_a_typed_answer_passes_its_test_cell(browser, jupyterlab):
    page, record = open_notebook(browser, jupyterlab, f"labs/{LAB}/{LAB}.ipynb")
    log = jupyterlab[2] / "jupyterlab.log"
    page.wait_for_function("""() => [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')]
        .some(cell => cell.innerText.includes('NotImplementedError'))""", timeout=90_000)
    texts = cells(page).all_inner_texts()
    kinds = cells(page).evaluate_all("cells => cells.map(c => c.classList.contains('jp-CodeCell'))")
    task = next(i for i, text in enumerate(texts) if kinds[i] and "NotImplementedError" in text)
    test = task + 1
    assert "checks.expect" in texts[test], texts[test]

    # The untouched task fails, and so does its test cell: errors are visible where we look. (An
    # error cancels the cells queued after it, as in any kernel, so the test cell runs on its own.)
    run_cells_from(page, 0, task + 1)
    wait_executed(page, cells(page).nth(task), server_log=log)
    assert any("NotImplementedError" in text for text in error_outputs(cells(page).nth(task)))
    run_cells_from(page, test, 1)
    wait_executed(page, cells(page).nth(test), server_log=log)
    assert error_outputs(cells(page).nth(test)), "the test cell ran on no answer without an error"

    # The student replaces the task cell's body with a correct answer and runs on to the test.
    before = prompt(cells(page).nth(test))
    cells(page).nth(task).locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(TASK_ANSWER)
    run_cells_from(page, task, 2)
    wait_executed(page, cells(page).nth(test), after=before, server_log=log)
    assert error_outputs(cells(page).nth(task)) == []
    assert error_outputs(cells(page).nth(test)) == [], error_outputs(cells(page).nth(test))
    assert not record.console_errors, record.console_errors
    page.context.close()


@pytest.mark.parametrize(("example", "verdict"), [("complete", "validation-success"),
                                                  ("untouched", "validation-failed")])
def test_the_validate_button_judges_the_example_submissions(browser, jupyterlab, example, verdict):
    page, _ = open_notebook(browser, jupyterlab, f"examples/{example}.ipynb")
    page.locator(".jp-NotebookPanel .jp-Toolbar").get_by_text("Validate", exact=True).click()
    message = page.wait_for_selector(".jp-Dialog #validation-message", timeout=EXECUTION_TIMEOUT_MS)
    classes = message.get_attribute("class")
    assert verdict in classes, f"{example}: {classes}: {message.inner_text()[:2000]}"
    if verdict == "validation-success":
        assert "Success! Your notebook passes all the tests." in message.inner_text()
    else:
        assert "The following cell failed:" in message.inner_text()
    page.context.close()

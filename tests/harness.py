"""What the tests and the bench scripts share: the command line, a live app server, Chromium, waits on a page.

A plain module (no pytest): tests/conftest.py re-exports it, and bench scripts import it as
`from tests.harness import ...` after putting the repository root on sys.path.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
import warnings
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download its own browsers here: Debian's Chromium, with what keeps it quiet offline (DESIGN 6)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


# ---- the command line ------------------------------------------------------------------------------------------

class Result(NamedTuple):
    """What `python -m genlib ...` did: exit status, stdout, stderr (unpacks as `rc, out, err = run_cli(...)`)."""
    rc: int
    out: str
    err: str


def last_json(stdout: str):
    """The JSON summary the command line prints as its last stdout line."""
    return json.loads(stdout.strip().splitlines()[-1])


def run_cli(*args, env: dict | None = None, cwd: str | os.PathLike | None = None, process: bool = False,
            timeout: float = 600) -> Result:
    """Run the command line `python -m genlib *args` (arguments may be paths or numbers) from `cwd` (default the
    repository root) with `env` added to the environment.

    In this process by default: genlib.cli.main with sys.argv, the environment and the working directory set as
    `python -m genlib` would have them, stdout and stderr captured, an argparse exit turned into its status, and an
    uncaught exception into status 1 and the traceback on stderr, as the interpreter prints it. Warnings show on
    stderr under the interpreter's default filters. That skips the ~2 s torch import of a new interpreter per call.
    process=True starts a real `python -m genlib` (timeout in seconds) for what only a new process shows: a fresh
    global state (seeding), settings read once at import or interpreter start (GENLIB_CHECKPOINT_DIR,
    OMP_NUM_THREADS), what the interpreter itself prints.
    """
    argv = [str(a) for a in args]
    cwd = Path(cwd or ROOT)
    if process:
        p = subprocess.run([sys.executable, "-m", "genlib", *argv], cwd=cwd, capture_output=True, text=True,
                           timeout=timeout, env={**os.environ, **(env or {})})
        return Result(p.returncode, p.stdout, p.stderr)

    import torch

    from genlib import cli

    out, err = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    old_env = {k: os.environ.get(k) for k in env or {}}
    rng = torch.get_rng_state()  # the command line may seed the global generator: leave the caller's as it was
    sys.argv = [str(ROOT / "genlib" / "__main__.py"), *argv]
    os.environ.update(env or {})
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.resetwarnings()  # a new interpreter's defaults, not the test runner's (which records them)
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            warnings.showwarning = lambda m, c, f, n, file=None, line=None: sys.stderr.write(
                warnings.formatwarning(m, c, f, n, line))
            try:
                rc = cli.main(argv)
            except SystemExit as e:  # argparse: --help (0) and usage errors (2)
                rc = e.code if isinstance(e.code, int) else 0 if e.code is None else 1
            except Exception:  # noqa: BLE001 - what the interpreter would print for an uncaught exception
                traceback.print_exc(file=sys.stderr)
                rc = 1
    finally:
        sys.argv = old_argv
        os.chdir(old_cwd)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        torch.set_rng_state(rng)
    return Result(rc, out.getvalue(), err.getvalue())


# ---- a live app server -------------------------------------------------------------------------------------------

def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int | None = None, env: dict | None = None, script: str | os.PathLike | None = None,
                 cwd: str | os.PathLike | None = None, timeout: float = 60) -> tuple[subprocess.Popen, str]:
    """`streamlit run SCRIPT` (default serve.py, the app as the README starts it) headless on a free loopback port; returns (process, base URL) once
    its health endpoint answers. The server's output goes to a temporary file (a pipe nobody reads would block the
    server once full); it is shown if the server does not come up. Stop it with stop_server."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(script or ROOT / "serve.py"), "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, cwd=cwd or ROOT, env={**os.environ, **(env or {})}, stdout=log,
                            stderr=subprocess.STDOUT)
    proc.log = log
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    log.seek(0)
    raise RuntimeError(f"streamlit did not start within {timeout:.0f} s (exit status {proc.returncode}):\n"
                       + log.read().decode(errors="replace"))


@contextlib.contextmanager
def served(env: dict | None = None, **kw):
    """`with served(env={...}) as url:` a fresh server (start_server's keywords) for the block, stopped after it."""
    proc, url = start_server(env=env, **kw)
    try:
        yield url
    finally:
        stop_server(proc)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log = getattr(proc, "log", None)
    if log is not None:
        log.close()


# ---- Chromium ---------------------------------------------------------------------------------------------------

def chromium_available() -> bool:
    return Path(CHROMIUM).exists()


def launch_chromium(playwright, *extra_args: str):
    """Debian's Chromium through Playwright (`with sync_playwright() as p: browser = launch_chromium(p)`)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])


# ---- waits on a page --------------------------------------------------------------------------------------------

# The app's script state, watched: the first use installs an observer that stamps every change of
# data-test-script-state (window.__stStateSince); `restart` stamps now, so stability is counted from the call on.
_WATCH = """(restart) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app) return false;
  if (window.__stObserved !== app) {
    window.__stObserved = app;
    window.__stStateSince = performance.now();
    new MutationObserver(() => { window.__stStateSince = performance.now(); })
      .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  }
  if (restart) window.__stStateSince = performance.now();
  return true;
}"""
# True once the app is idle with its title drawn and its script state has not changed for `settle` ms. One predicate
# evaluated at one moment: the title and the idle state are seen together, never from two different runs.
_SETTLED = "([idle, settle]) => (" + _WATCH + """)(false)
  && document.querySelector("[data-testid='stMain'] h1") !== null && document.querySelector(idle) !== null
  && performance.now() - window.__stStateSince >= settle"""


def wait_idle(page, timeout: float = 60_000, settle: float = 250) -> None:
    """Wait until the page's script has run and finished: its h1 title is drawn (every page draws one first; right
    after a load the state alone would race with the first run) and the app's script state has stayed 'notRunning'
    for `settle` ms, counted from this call on.

    The settle time outlasts the gap between the two runs of a first visit to a page of a fresh server (the first,
    with Streamlit's file-based page routing, draws no title; the app's navigation then reruns it: 15-180 ms
    measured), and the time from a click to the start of the run it asks for: a run that starts within it restarts
    the wait, which then ends `settle` ms after that run ended."""
    page.evaluate(_WATCH, True)
    page.wait_for_function(_SETTLED, arg=[IDLE, settle], timeout=timeout, polling=50)


# True once every image on the page has finished loading (or failed) and every plotly chart has drawn its svg
_RENDERED = """() => [...document.images].every(i => i.complete)
  && [...document.querySelectorAll("[data-testid='stPlotlyChart']")].every(c => c.querySelector('svg.main-svg'))"""


def wait_rendered(page, timeout: float = 30_000) -> None:
    """Wait until the browser has drawn what the last run sent: images loaded, plotly charts drawn."""
    page.wait_for_function(_RENDERED, timeout=timeout, polling=100)


def assert_refused(result, *words) -> None:
    """A user mistake on the command line: exit 2, nothing on stdout, one line on stderr starting with 'error: ' and
    holding `words`, no traceback. `result` is (rc, out, err), e.g. a run_cli Result."""
    rc, stdout, stderr = result
    assert rc == 2 and "Traceback" not in stderr, (rc, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert stdout == "", stdout


def draw_one(page, canvas) -> None:
    """Draw a "1" on a drawing canvas (a vertical stroke from its upper middle) with the real mouse."""
    box = canvas.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(20):
        page.mouse.move(x + i * 0.5, y + i * box["height"] * 0.03)
    page.mouse.up()


def set_beta_half(page) -> None:
    """RBM Gibbs chains: move the "Inverse temperature" slider from 1.0 to 0.5 with the keyboard, as a student does."""
    import re

    beta = page.get_by_role("slider", name=re.compile("Inverse temperature"))
    beta.focus()
    for _ in range(10):
        page.keyboard.press("ArrowLeft")
    wait_idle(page)
    assert "0.50" in page.locator("[data-testid='stSlider']").filter(has_text="Inverse temperature").inner_text()

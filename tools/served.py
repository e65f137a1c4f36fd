"""A live app server, Debian's Chromium through Playwright, and waits on a page: what the tests (tests/harness.py
re-exports it) and the bench scripts share. A plain module: no pytest, no genlib.

    from tools.served import launch_chromium, served, wait_idle
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# Playwright cannot download its own browsers here: Debian's Chromium, with what keeps it quiet offline
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


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

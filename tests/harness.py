"""The tests' plain helpers: the command line, and what a browser test does on a page; a live app server, Chromium
and the waits on a page come from tools/served.py (shared with the bench scripts) and are re-exported here.

A plain module (no pytest): tests/conftest.py re-exports it.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tools/ lives at the repository root
    sys.path.insert(0, str(ROOT))

from tools.served import (CHROMIUM, CHROMIUM_ARGS, IDLE, chromium_available, free_port,  # noqa: E402,F401
                          launch_chromium, served, start_server, stop_server, wait_idle, wait_rendered)


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

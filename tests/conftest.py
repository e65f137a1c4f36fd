"""Shared fixtures: the bundled data, the real MNIST test split, and a live app server + Chromium.

The plain helpers live in tests/harness.py (the command line, page helpers) and tools/served.py (server, Chromium,
waits: shared with the bench scripts); they are re-exported here under their old names.
"""
from __future__ import annotations

import re
import os
from pathlib import Path

import pytest
import torch

from harness import (CHROMIUM, CHROMIUM_ARGS, IDLE, ROOT, Result, chromium_available,  # noqa: F401
                     last_json, launch_chromium, run_cli, served, start_server, stop_server, wait_idle, wait_rendered)

MNIST_TEST = ROOT.parent / "shared" / "data" / "mnist-test"

torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def mnist():
    from genlib.data import load_mnist

    return load_mnist(None)


@pytest.fixture(scope="session")
def mnist_test_root() -> Path:
    if not (MNIST_TEST / "MNIST" / "raw").is_dir():
        pytest.skip(f"the real MNIST test split is not at {MNIST_TEST}")
    return MNIST_TEST


@pytest.fixture(scope="session")
def app_server():
    proc, url = start_server()
    yield url
    stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    if not chromium_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but Chromium is missing at {CHROMIUM}; the browser tests must run")
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


def pytest_collection_modifyitems(items) -> None:
    """Mark every test of the browser and proxy files `browser`, so that `pytest -m "not browser"` runs the rest."""
    for item in items:
        name = item.path.name
        if name.startswith("test_browser") or name == "test_proxy.py":
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash[REPORT] = report if report.when == "call" else item.stash.get(REPORT, None)
    return report


REPORT = pytest.StashKey()


@pytest.fixture
def page(browser, request):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    yield pg
    report = request.node.stash.get(REPORT, None)
    if report is not None and report.failed:  # keep what the browser showed when the test failed
        try:
            shot(pg, "FAILED-" + request.node.name)
        except Exception:  # noqa: BLE001 - a screenshot must not hide the real failure
            pass
    ctx.close()


@pytest.fixture
def one_torch_thread():
    """For tests of tiny tensors: one intra-op thread is fastest, and on a loaded 2-core machine a second thread
    makes every small op wait for a core (tens of times slower). Restored after the test."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def assert_no_exception(page) -> None:
    exc = page.locator("[data-testid='stException']")
    assert exc.count() == 0, "exception shown on the page:\n" + exc.first.inner_text()
    body = page.locator("body").inner_text()
    assert "Traceback (most recent call last)" not in body, body[:2000]


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ (kept by CI for a look by eye)."""
    out = ROOT / "test-artifacts"
    out.mkdir(exist_ok=True)
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# ---- Streamlit AppTest helpers (no browser) ---------------------------------------------------------------

def open_page(page: str | None = None, timeout: float = 90):
    """Run app.py in an AppTest, switch to `page` (e.g. "pages/vae.py") and check that nothing raised."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)
    at.run()
    if page:
        at.switch_page(page)
        at.run()
    assert not at.exception, at.exception
    return at


def shown_text(markdown: str) -> str:
    """What a reader sees of markdown that escapes its punctuation and breaks autolinks with invisible word joiners
    (pages/views/untrusted.literal): the text itself."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown).replace("\u2060", "")


def button(at, label: str):
    """The button with this label (the first, if several)."""
    return next(b for b in at.button if b.label == label)


def wait_for_counter(page, pattern: str, at_least: int, timeout: float = 60_000) -> None:
    """Wait until the page text matches the JS regex `pattern` (one group of digits) with a value >= at_least,
    e.g. a chain's step counter climbing while the fragment's browser timer plays it."""
    page.wait_for_function("([p, n]) => { const m = document.body.innerText.match(new RegExp(p)); "
                           "return m !== null && +m[1] >= n; }", arg=[pattern, at_least], timeout=timeout)


def open_tab(page, name: str):
    """Click the tab `name` and wait until its panel is drawn (tabs switch in the browser, without a run; only the
    open tab's panel is in the page). Returns the panel's locator."""
    page.get_by_role("tab", name=name, exact=True).click()
    panel = page.get_by_role("tabpanel", name=name, exact=True)
    panel.wait_for(state="visible", timeout=20_000)
    return panel

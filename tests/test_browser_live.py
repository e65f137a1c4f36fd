"""End to end: live views driven by the browser (only while someone looks; the space bar; no broken frames) in Chromium.

A chain keeps advancing while its tab is visible; a hidden tab (the Page Visibility API, emulated by overriding
document.visibilityState and sending visibilitychange, as a browser does when a tab goes to the background) stops
asking the server for ticks, says so, and goes on by itself once visible again; a few minutes without input pause it
too (GENLIB_IDLE_S shortens the wait here) until Resume is clicked (the RBM chains and the Langevin lab play as
flipbook batches, views.flipbook; training uses views.ticker); the space bar plays and pauses; RBM chain frames never
break ("Image source error") while playing, pausing and changing β. Screenshots go to test-artifacts/."""
import re
import time

import pytest
from conftest import assert_no_exception, open_tab, shot, wait_idle
from harness import served, set_beta_half

STEP = "() => { const m = document.body.innerText.match(/p\\(v\\|h\\) · step ([0-9]+)/); return m ? +m[1] : -1; }"
TICKER = ".genlib-ticker:visible"  # the status line of the live view on screen (a hidden tab's has no layout)
TK = ("([...document.querySelectorAll('.genlib-ticker')].find((e) => e.getClientRects().length) "
      "|| { dataset: {}, innerText: '' })")
FB = "(document.querySelector('.flipbook') || { dataset: {} })"  # the playing chains' flipbook (views.flipbook)
QUEUED_S = 3.5  # the longest the RBM flipbook plays on without asking: two batches of 10 frames at 10 frames/s, + slack
# what a browser does when the tab goes to the background (or comes back): the state, then the event
SET_HIDDEN = """(hidden) => {
  Object.defineProperty(document, "visibilityState", { configurable: true, get: () => hidden ? "hidden" : "visible" });
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def step(page) -> int:
    return page.evaluate(STEP)


def wait_steps(page, at_least: int, timeout: float = 60_000) -> None:
    page.wait_for_function(f"() => ({STEP})() >= {at_least}", timeout=timeout)


def play_button(page):
    return page.get_by_role("button", name=re.compile("(Play|Pause)$")).first


def open_gibbs(page, url: str, console: list) -> None:
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(url + "/rbm")
    wait_idle(page, timeout=180_000)
    open_tab(page, "Gibbs chains")
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    page.wait_for_function(f"() => ({STEP})() === 0", timeout=60_000)


def assert_stays(page, seconds: float = 3.0) -> int:
    """The chain's step does not move for `seconds` (no tick asked, none computed); returns it."""
    s = step(page)
    time.sleep(seconds)
    assert step(page) == s, "the chain advanced while it should be paused"
    return s


def test_hidden_tab_pauses_chains_and_visible_resumes_space_bar_and_no_broken_frames(app_server, page):
    console: list[str] = []
    open_gibbs(page, app_server, console)
    play_button(page).click()
    wait_steps(page, 3)  # a chain keeps advancing while visible, with no click
    shot(page, "live-rbm-gibbs-playing")

    page.evaluate(SET_HIDDEN, True)  # the flipbook plays out what it has and asks for no more
    book = page.locator(".flipbook")
    page.wait_for_function(f"() => {FB}.dataset.paused === 'hidden'", timeout=10_000)
    assert "Paused: this tab was hidden" in book.inner_text()
    time.sleep(QUEUED_S)  # the queued frames play out and a batch already asked for may arrive
    s = assert_stays(page)  # no new batch was computed
    shot(page, "live-rbm-gibbs-hidden")

    page.evaluate(SET_HIDDEN, False)  # visible again: goes on by itself
    wait_steps(page, s + 2, timeout=30_000)
    assert book.get_attribute("data-paused") == ""

    # Pause, β 1.0 -> 0.5, Play, Pause (this once broke images): frames keep loading, no "Image source error"
    play_button(page).click()
    wait_idle(page)
    set_beta_half(page)
    s = step(page)
    # the space bar plays (the slider has the focus: not a text field) and pauses
    page.keyboard.press(" ")
    wait_steps(page, s + 3)
    page.keyboard.press(" ")
    page.wait_for_selector("button:has-text('Play')", timeout=30_000)
    wait_idle(page)
    assert_stays(page, 2.0)
    assert page.evaluate("() => [...document.images].every(i => i.complete && i.naturalWidth > 0)")
    assert_no_exception(page)
    broken = [c for c in console if "Image source error" in c]
    assert not broken, broken


def test_no_input_for_a_while_pauses_until_resume_is_clicked(browser):
    with served(env={"GENLIB_IDLE_S": "6"}) as url:
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        try:
            open_gibbs(page, url, [])
            play_button(page).click()
            wait_steps(page, 2)
            # nobody moves: after 6 s without input the browser stops asking
            page.wait_for_function(f"() => {FB}.dataset.paused === 'idle'", timeout=30_000)
            assert "Paused after 6 seconds without interaction" in page.locator(".flipbook").inner_text()
            time.sleep(QUEUED_S)
            s = assert_stays(page)
            shot(page, "live-rbm-gibbs-idle")
            page.locator(".flipbook").get_by_role("button", name="Resume").click()
            wait_steps(page, s + 2, timeout=30_000)
            assert_no_exception(page)
        finally:
            ctx.close()


FRAME = "() => { const m = document.body.innerText.match(/step ([0-9]+) · frame ([0-9]+) of/); return m ? +m[2] : -1; }"
ASKS_SHOWN = "() => { const e = document.querySelector('.flipbook'); return e ? +e.dataset.shown : -1; }"


def test_flipbook_stops_asking_while_hidden(app_server, page):
    page.goto(app_server + "/langevin")
    wait_idle(page, timeout=180_000)
    page.get_by_role("button", name=re.compile("Play$")).first.click()
    page.wait_for_function(f"() => ({FRAME})() >= 8", timeout=60_000)
    page.evaluate(SET_HIDDEN, True)
    page.wait_for_function("() => document.querySelector('.flipbook').dataset.paused === 'hidden'", timeout=10_000)
    assert "Paused: this tab was hidden" in page.locator(".flipbook").inner_text()
    shot(page, "live-langevin-hidden")
    time.sleep(2)  # the queued frames play out and a batch already asked for may arrive
    f = page.evaluate(f"({FRAME})()")
    time.sleep(3)
    assert page.evaluate(f"({FRAME})()") == f  # no new batch was computed
    page.evaluate(SET_HIDDEN, False)
    page.wait_for_function(f"() => ({FRAME})() >= {f + 6}", timeout=30_000)
    assert_no_exception(page)
    page.get_by_role("button", name=re.compile("Pause$")).first.click()


@pytest.mark.parametrize("path", ["/autoencoder"])
def test_live_training_pauses_while_hidden(app_server, page, path):
    page.goto(app_server + path)
    wait_idle(page, timeout=180_000)
    page.get_by_role("button", name=re.compile("Start$")).first.click()
    ticker = page.locator(TICKER).first
    page.wait_for_function(f"() => /Training: step [1-9]/.test({TK}.innerText)",
                           timeout=60_000)
    shot(page, "live-autoencoder-training")
    page.evaluate(SET_HIDDEN, True)
    page.wait_for_function(f"() => {TK}.dataset.paused === 'hidden'", timeout=10_000)
    time.sleep(1.5)
    asks = ticker.get_attribute("data-asks")
    time.sleep(3)
    assert ticker.get_attribute("data-asks") == asks
    shot(page, "live-autoencoder-hidden")
    page.evaluate(SET_HIDDEN, False)
    page.wait_for_function(f"() => +{TK}.dataset.asks > {asks}", timeout=10_000)
    assert_no_exception(page)
    page.get_by_role("button", name=re.compile("Pause$")).first.click()


def test_two_live_sessions_in_one_server_both_advance(app_server, browser):
    """Two students on one server, both playing Gibbs chains: both advance (the fair share slows them evenly, never
    one of them to a stop)."""
    ctxs = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(2)]
    try:
        pages = [c.new_page() for c in ctxs]
        for pg in pages:
            open_gibbs(pg, app_server, [])
        for pg in pages:
            play_button(pg).click()
        starts = [step(pg) for pg in pages]
        for pg, s in zip(pages, starts):
            wait_steps(pg, s + 3)
        for pg in pages:
            assert_no_exception(pg)
            play_button(pg).click()
    finally:
        for c in ctxs:
            c.close()

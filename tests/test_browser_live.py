"""End to end: live views driven by the browser (only while someone looks; the space bar) in Chromium.

Every live view (views.live: the RBM Gibbs chains, the Langevin lab, training) keeps advancing while its tab is
visible; a hidden tab (the Page Visibility API, emulated by overriding document.visibilityState and sending
visibilitychange, as a browser does when a tab goes to the background: headless Chromium keeps every page visible,
so bringing another page to the front does not hide this one) stops asking the server, says so, and goes on by
itself once visible again; a few minutes without input pause it too (GENLIB_IDLE_S shortens the wait here) until
Resume is clicked. Either way the Play button reads Resume and the status line says why, as the server's state
machine (views.live.mode) draws both. The space bar plays and pauses. Screenshots go to test-artifacts/."""
import re
import time

import pytest
from conftest import assert_no_exception, open_tab, shot, wait_idle
from harness import served, set_beta_half

IDLE_S = 6  # GENLIB_IDLE_S of the idle tests' server
STEP = "() => { const m = document.body.innerText.match(/p\\(v\\|h\\) · step ([0-9]+)/); return m ? +m[1] : -1; }"
# the live view on screen (a hidden tab panel's has no layout)
LV = "([...document.querySelectorAll('.genlib-live')].find((e) => e.getClientRects().length) || { dataset: {} })"
MODE = f"() => {LV}.dataset.mode"
SHOWN = f"() => +({LV}.dataset.shown || -1)"  # frames the browser has displayed
ASKS = f"() => +({LV}.dataset.asks || -1)"  # requests it sent the server
STATUS = f"() => ({LV}.querySelector?.('.status') || {{}}).textContent || ''"
QUEUED_S = 3.5  # the longest the RBM chains play on without asking: two batches of 10 frames at 10 frames/s, + slack
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


def wait_mode(page, mode: str, timeout: float = 30_000) -> None:
    page.wait_for_function(f"() => ({MODE})() === '{mode}'", timeout=timeout)


def play_button(page):
    """The Play button of the view on screen, whatever it reads (Play, Pause, Resume, Start)."""
    return page.locator("button:visible").filter(has_text=re.compile("(Play|Pause|Resume|Start)$")).first


def label(page) -> str:
    return play_button(page).inner_text().split("\n")[-1].strip()


def assert_reads(page, text: str) -> None:
    """The Play button reads `text` (the server redrew it; a moment after the status line, it may come later)."""
    page.locator("button:visible").filter(has_text=re.compile(f"{text}$")).first.wait_for(timeout=10_000)
    assert label(page) == text, label(page)


@pytest.fixture(scope="module")
def idle_server():
    with served(env={"GENLIB_IDLE_S": str(IDLE_S)}) as url:
        yield url


def open_gibbs(page, url: str, console: list) -> None:
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(url + "/rbm")
    wait_idle(page, timeout=180_000)
    open_tab(page, "Gibbs chains")
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    page.wait_for_function(f"() => ({STEP})() === 0", timeout=60_000)


def open_samplers(page, url: str) -> None:
    """The Langevin lab's Samplers tab, its live view drawn (frame 0)."""
    page.goto(url + "/langevin")
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    page.wait_for_function(f"() => {LV}.querySelector?.('canvas') && ({MODE})() === 'paused'", timeout=60_000)


def wait_played_out(page, timeout: float = 30_000) -> None:
    """Paused: the browser plays out the frames it holds to the newest (the one the metrics under it describe);
    then the scrubber shows."""
    page.wait_for_function(f"() => {LV}.querySelector?.('.scrub')?.style.visibility === 'visible'", timeout=timeout)


def assert_stays(page, seconds: float = 3.0) -> int:
    """The chain's step does not move for `seconds` (no tick asked, none computed); returns it."""
    s = step(page)
    time.sleep(seconds)
    assert step(page) == s, "the chain advanced while it should be paused"
    return s


def assert_asks_nothing(page, seconds: float = 3.0) -> int:
    """Once the frames held are played out, the view shows no new frame and asks nothing for `seconds`."""
    time.sleep(2.0)  # the queued frames play out (30 frames/s, at most a batch and a half) and an answer may come
    shown, asks = page.evaluate(SHOWN), page.evaluate(ASKS)
    time.sleep(seconds)
    assert (page.evaluate(SHOWN), page.evaluate(ASKS)) == (shown, asks), "the view went on while it should be paused"
    return shown


def test_hidden_tab_pauses_chains_and_visible_resumes_and_space_bar(app_server, page):
    console: list[str] = []
    open_gibbs(page, app_server, console)
    play_button(page).click()
    wait_steps(page, 3)  # a chain keeps advancing while visible, with no click
    shot(page, "live-rbm-gibbs-playing")

    page.evaluate(SET_HIDDEN, True)  # the view plays out what it has and asks for no more
    wait_mode(page, "hidden", timeout=10_000)
    assert page.evaluate(STATUS) == "Paused: this tab was hidden. It goes on when the tab is visible again."
    assert_reads(page, "Resume")
    time.sleep(QUEUED_S)  # the queued frames play out and a batch already asked for may arrive
    s = assert_stays(page)  # no new batch was computed
    shot(page, "live-rbm-gibbs-hidden")

    page.evaluate(SET_HIDDEN, False)  # visible again: goes on by itself
    wait_steps(page, s + 2, timeout=30_000)
    assert page.evaluate(MODE) == "playing"
    assert_reads(page, "Pause")

    # Pause, β 1.0 -> 0.5 on the paused chains, then the space bar plays (the slider has the focus: not a text
    # field) and pauses
    play_button(page).click()
    wait_idle(page)
    set_beta_half(page)
    s = step(page)
    page.keyboard.press(" ")
    wait_steps(page, s + 3)
    page.keyboard.press(" ")
    page.wait_for_selector("button:has-text('Play')", timeout=30_000)
    wait_mode(page, "paused")
    wait_idle(page)
    wait_played_out(page)
    assert_stays(page, 2.0)
    assert_no_exception(page)
    assert not console, console


def test_no_input_for_a_while_pauses_until_resume_is_clicked(idle_server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        open_gibbs(page, idle_server, [])
        play_button(page).click()
        wait_steps(page, 2)
        # nobody moves: after 6 s without input the browser stops asking and tells the server
        wait_mode(page, "idle", timeout=30_000)
        assert page.evaluate(STATUS) == f"Paused after {IDLE_S} seconds without interaction: press Resume to go on."
        assert_reads(page, "Resume")
        time.sleep(QUEUED_S)
        s = assert_stays(page)
        shot(page, "live-rbm-gibbs-idle")
        play_button(page).click()  # Resume
        wait_steps(page, s + 2, timeout=30_000)
        assert_reads(page, "Pause")
        assert_no_exception(page)
    finally:
        ctx.close()


def test_idle_langevin_samplers_read_resume_and_resume_plays(idle_server, browser):
    """Paused for idleness, the Play button read "Pause" (the picture had stopped, its own Resume under it): now
    the button reads Resume and the status line says the chains paused without interaction, and Resume plays on."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    try:
        open_samplers(page, idle_server)
        play_button(page).click()
        page.wait_for_function(f"() => ({SHOWN})() >= 12", timeout=60_000)
        # no input from here on: after IDLE_S seconds the browser stops asking and tells the server
        wait_mode(page, "idle", timeout=30_000)
        assert_reads(page, "Resume")
        assert page.locator("button:visible").filter(has_text=re.compile("Pause$")).count() == 0
        assert page.evaluate(STATUS) == f"Paused after {IDLE_S} seconds without interaction: press Resume to go on."
        shown = assert_asks_nothing(page)
        assert page.locator(".genlib-live .scrub").is_visible()  # the frames held can be scrubbed meanwhile
        shot(page, "live-langevin-idle")
        play_button(page).click()  # Resume: the user is here
        page.wait_for_function(f"() => ({SHOWN})() >= {shown + 12}", timeout=30_000)
        assert page.evaluate(MODE) == "playing" and page.evaluate(STATUS).startswith("Playing")
        assert_reads(page, "Pause")
        assert_no_exception(page)
        play_button(page).click()
        wait_mode(page, "paused")
    finally:
        ctx.close()


def test_hidden_langevin_samplers_read_resume_and_go_on_when_visible(app_server, page):
    """A hidden tab: the chains stop, the Play button reads Resume and the status line says why; visible again,
    they go on by themselves (also when the tab comes back before the server heard that it was hidden)."""
    open_samplers(page, app_server)
    play_button(page).click()
    page.wait_for_function(f"() => ({SHOWN})() >= 12", timeout=60_000)
    page.evaluate(SET_HIDDEN, True)
    wait_mode(page, "hidden", timeout=10_000)
    assert page.evaluate(STATUS) == "Paused: this tab was hidden. It goes on when the tab is visible again."
    assert_reads(page, "Resume")
    shown = assert_asks_nothing(page)
    shot(page, "live-langevin-hidden")
    page.evaluate(SET_HIDDEN, False)
    page.wait_for_function(f"() => ({SHOWN})() >= {shown + 12} && ({MODE})() === 'playing'", timeout=30_000)
    assert_reads(page, "Pause")

    # hidden and shown again at once: the server's answer to "hidden" comes after the tab is visible again
    for _ in range(3):
        asks = page.evaluate(ASKS)
        page.evaluate(SET_HIDDEN, True)
        page.wait_for_function(f"() => ({ASKS})() > {asks}", timeout=10_000, polling=5)  # "hidden" sent
        page.evaluate(SET_HIDDEN, False)
        time.sleep(2.0)  # the answer ("hidden") arrives on a visible tab
        shown = page.evaluate(SHOWN)
        page.wait_for_function(f"() => ({SHOWN})() >= {shown + 12} && ({MODE})() === 'playing'", timeout=30_000)
    assert_reads(page, "Pause")
    assert_no_exception(page)
    play_button(page).click()
    wait_mode(page, "paused")


@pytest.mark.parametrize("path", ["/autoencoder"])
def test_live_training_pauses_while_hidden(app_server, page, path):
    page.goto(app_server + path)
    wait_idle(page, timeout=180_000)
    page.get_by_role("button", name=re.compile("Start$")).first.click()
    page.wait_for_function(f"() => /Training: step [1-9]/.test(({STATUS})())", timeout=60_000)
    shot(page, "live-autoencoder-training")
    page.evaluate(SET_HIDDEN, True)
    wait_mode(page, "hidden", timeout=10_000)
    assert_reads(page, "Resume")
    time.sleep(1.5)
    asks = page.evaluate(ASKS)
    time.sleep(3)
    assert page.evaluate(ASKS) == asks
    shot(page, "live-autoencoder-hidden")
    page.evaluate(SET_HIDDEN, False)
    page.wait_for_function(f"() => ({ASKS})() > {asks}", timeout=10_000)
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


# the lowest opacity of an element of the page's main area that Streamlit marks stale (1 when none is)
STALE_OPACITY = """() => Math.min(1, ...[...document.querySelectorAll("[data-testid='stMain'] [data-stale='true']")]
  .map((e) => +getComputedStyle(e).opacity))"""


def test_panels_of_a_slow_training_tick_are_not_faded(app_server, page):
    """The EBM's live training, whose ticks take a quarter of a second and more: while the server computes the next
    tick, the panels it drew stay as they are (Streamlit fades a rerunning fragment's elements after a moment: the
    training panels flickered grey at every slow tick)."""
    page.goto(app_server + "/ebm?ebm-tab=Train")
    wait_idle(page, timeout=180_000)
    open_tab(page, "Train")
    page.get_by_role("button", name=re.compile("Start$")).first.click()
    page.wait_for_function(f"() => /Training: step/.test(({STATUS})())", timeout=60_000)
    lowest, end = 1.0, time.monotonic() + 20
    while time.monotonic() < end:
        lowest = min(lowest, page.evaluate(STALE_OPACITY))
        time.sleep(0.05)
    assert lowest > 0.99, lowest
    assert_no_exception(page)
    page.get_by_role("button", name=re.compile("Pause$")).first.click()

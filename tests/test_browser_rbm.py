"""End to end: the RBM page in Chromium. A Gibbs chain plays (the live view: the browser draws the frames the server
sends) and pauses at its last frame, which the scrubber then moves through; training and chains (the steps that once
broke images: rbm-500-cd1, validation digits, 10 steps per frame, play, pause, β 1.0 -> 0.5, play) never break an
image and β acts on the running chains; a link with settings reproduces the chains frame for frame, stepped or
played; a lesson sets its controls and starts; in projector mode at 1280 x 720 the chains' picture is above the fold.
Screenshots go to test-artifacts/."""
import re
import time

import pytest
from conftest import assert_no_exception, open_tab, shot, wait_idle
from harness import set_beta_half

from genlib import checkpoints

STEP = "() => { const m = document.body.innerText.match(/p\\(v\\|h\\) · step ([0-9]+)/); return m ? +m[1] : -1; }"
TRAIN_STEP = "() => { const m = document.body.innerText.match(/· step ([0-9]+) · epoch/); return m ? +m[1] : -1; }"
SHOWN = "() => { const e = document.querySelector('.genlib-live'); return e ? +e.dataset.shown : -1; }"
CAPTION = "() => document.querySelector('.genlib-live .cap').textContent"
# what the chains' panels show now: the pixels of the p(v|h) and v grids and of the free-energy traces
PICTURE = "() => [...document.querySelectorAll('.genlib-live canvas')].map((c) => c.toDataURL()).join('|')"
GRIDS = "() => [...document.querySelectorAll('.genlib-live canvas')].slice(0, 2).map((c) => c.toDataURL()).join('|')"
# every frame the live view shows, by its caption (polled faster than the 10 frames/s it plays at)
RECORD = """() => { window.__frames = {}; let last = null; setInterval(() => {
  const cap = document.querySelector('.genlib-live .cap');
  if (!cap || cap.textContent === last) return;
  last = cap.textContent;
  window.__frames[last] = (""" + GRIDS + """)();
}, 10); }"""
ALL_IMAGES_OK = "() => [...document.images].every(i => i.complete && i.naturalWidth > 0)"
NEEDS_CD1 = pytest.mark.skipif(not checkpoints.resolve("rbm-500-cd1").exists(), reason="needs rbm-500-cd1")


def button(page, name: str):
    return page.get_by_role("button", name=re.compile(f"{name}$")).first


def wait_step(page, at_least: int, expr: str = STEP, timeout: float = 60_000) -> None:
    page.wait_for_function(f"() => ({expr})() >= {at_least}", timeout=timeout)


def scrub_to(page, frame: int) -> None:
    """Move the paused view's frame scrubber to absolute frame `frame`, as a drag does."""
    page.locator(".genlib-live .scrub").fill(str(frame))


def test_rbm_chain_plays_in_the_browser(app_server, page):
    page.goto(app_server + "/rbm")
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    shot(page, "rbm-train")
    open_tab(page, "Gibbs chains")
    page.wait_for_selector("text=p(v|h) · step 0")
    before = page.evaluate(PICTURE)
    button(page, "Play").click()
    # the browser plays the frames it holds and asks for the next batches, without any click
    page.wait_for_function(f"() => ({SHOWN})() >= 5", timeout=60_000)
    shown, step = page.evaluate(SHOWN), page.evaluate(STEP)
    page.wait_for_function(f"() => ({SHOWN})() >= {shown + 10}", timeout=30_000)
    assert page.evaluate(STEP) >= step + 10 and page.evaluate(PICTURE) != before  # the picture moves with the steps
    widths = page.locator(".genlib-live canvas").evaluate_all("cs => cs.map((c) => c.getBoundingClientRect().width)")
    assert len(widths) == 3 and widths[0] == widths[1] and 1.3 < widths[2] / widths[0] < 1.7  # columns 2 : 2 : 3
    assert "Playing at 10 frames/s" in page.locator(".genlib-live .head").inner_text()
    assert button(page, "Pause").is_visible()
    assert_no_exception(page)
    shot(page, "rbm-chain-playing")
    button(page, "Pause").click()
    page.wait_for_selector(".genlib-live[data-mode='paused']", timeout=30_000)
    wait_idle(page)
    assert button(page, "Play").is_visible()
    # paused: the scrubber shows, at the last frame held; it moves the whole picture back to an earlier frame
    scrub = page.locator(".genlib-live .scrub")
    scrub.wait_for(state="visible", timeout=10_000)
    time.sleep(0.5)  # the frames of a batch in flight play out
    last = int(scrub.get_attribute("max"))
    assert last >= shown + 10 and int(scrub.input_value()) == last
    assert page.evaluate(STEP) == last  # one Gibbs step per frame
    at_last = page.evaluate(PICTURE)
    scrub_to(page, 3)
    assert page.evaluate(CAPTION).startswith("p(v|h) · step 3 ") and page.evaluate(PICTURE) != at_last
    scrub_to(page, last)
    assert page.evaluate(PICTURE) == at_last  # the same frame, the same picture
    shot(page, "rbm-chain-paused")
    open_tab(page, "Likelihood")
    page.wait_for_selector("text=/mean free energy, validation digits/")
    assert page.get_by_text(re.compile("Run AIS will take about")).count() == 1  # the estimate, before any click
    assert_no_exception(page)
    shot(page, "rbm-likelihood")


@NEEDS_CD1
def test_training_and_chains_never_break_an_image(app_server, page):
    """Live training, then the chains of rbm-500-cd1 from validation digits, 10 steps per frame:
    play, pause, β 1.0 -> 0.5, play, pause. No "Image source error" in the console, every image loaded."""
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(app_server + "/rbm")
    wait_idle(page, timeout=180_000)
    button(page, "Start").click()
    wait_step(page, 30, TRAIN_STEP, timeout=120_000)  # several ticks, each redrawing the filters
    button(page, "Pause").click()
    wait_idle(page)
    assert page.evaluate(ALL_IMAGES_OK)

    page.goto(app_server + "/rbm?rbm-tab=Gibbs+chains&rbm-model=rbm-500-cd1&rbm-start=validation+digits"
              "&rbm-per-frame=10")
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    assert "rbm-500-cd1" in page.get_by_text(re.compile("^Model: ")).inner_text()
    button(page, "Play").click()
    wait_step(page, 50, timeout=120_000)
    button(page, "Pause").click()
    page.wait_for_selector("button:has-text('Play')", timeout=30_000)
    wait_idle(page)
    set_beta_half(page)
    s = page.evaluate(STEP)
    button(page, "Play").click()
    wait_step(page, s + 30, timeout=120_000)
    assert page.evaluate(CAPTION).endswith("β = 0.5")  # the running chains took the new β
    shot(page, "rbm-cd1-chains-beta-0.5")
    button(page, "Pause").click()
    page.wait_for_selector("button:has-text('Play')", timeout=30_000)
    wait_idle(page)
    assert page.evaluate(ALL_IMAGES_OK)
    assert_no_exception(page)
    broken = [c for c in console if "Image source error" in c]
    assert not broken, broken


def chains_after_steps(browser, url: str, steps: int) -> tuple[str, str]:
    """Open `url` in a fresh browser context (a new session), press Step `steps` times; returns (the seed input's
    value, the pixels of the p(v|h) and v grids)."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.goto(url)
        wait_idle(page, timeout=180_000)
        assert_no_exception(page)
        for i in range(steps):
            button(page, "Step").click()
            page.wait_for_function(f"() => ({STEP})() === {5 * (i + 1)}", timeout=30_000)
        wait_idle(page)
        seed = page.locator("[data-testid='stNumberInput']").filter(has_text="Seed").locator("input").input_value()
        return seed, page.evaluate(GRIDS)
    finally:
        ctx.close()


def test_a_link_reproduces_the_chains(app_server, browser):
    link = (app_server + "/rbm?rbm-tab=Gibbs+chains&rbm-n=16&rbm-start=validation+digits&rbm-per-frame=5"
            "&rbm-seed=7")
    seed, a = chains_after_steps(browser, link, 3)
    assert seed == "7"
    seed2, b = chains_after_steps(browser, link, 3)
    assert (seed2, b) == (seed, a)  # another session, the same link: the same frame after 3 steps
    _, c = chains_after_steps(browser, link.replace("rbm-seed=7", "rbm-seed=8"), 3)
    assert c != a  # the seed is in the link, and it matters


def played_frames(browser, url: str, steps: int) -> dict[str, str]:
    """Open `url` in a fresh browser context (a new session), Play until the chains pass step `steps`; returns the
    frames shown, {caption: the pixels of the p(v|h) and v grids}."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = ctx.new_page()
        page.goto(url)
        wait_idle(page, timeout=180_000)
        page.evaluate(RECORD)
        button(page, "Play").click()
        wait_step(page, steps)
        button(page, "Pause").click()
        page.wait_for_selector("button:has-text('Play')", timeout=30_000)
        assert_no_exception(page)
        return page.evaluate("() => window.__frames")
    finally:
        ctx.close()


def test_a_link_reproduces_the_played_frames(app_server, browser):
    link = app_server + "/rbm?rbm-tab=Gibbs+chains&rbm-n=16&rbm-start=validation+digits&rbm-seed=7"
    a, b = played_frames(browser, link, 12), played_frames(browser, link, 12)
    first = [c for c in a if re.match(r"p\(v\|h\) · step ([1-9]|1[0-2]) ", c)]
    assert len(first) == 12 and all(a[c] == b[c] for c in first)  # frame for frame, the same pictures
    c = played_frames(browser, link.replace("rbm-seed=7", "rbm-seed=8"), 3)
    assert any(c[k] != a[k] for k in c if k in first)


@pytest.mark.skipif(not checkpoints.resolve("rbm-500").exists(), reason="needs rbm-500")
def test_a_lesson_sets_the_chains_and_plays(app_server, page):
    page.goto(app_server + "/rbm")
    wait_idle(page, timeout=180_000)
    button(page, "β < 1 and β > 1").click()
    wait_step(page, 30, timeout=120_000)  # the lesson opened the Gibbs chains tab and started them (slow when loaded)
    assert "0.50" in page.locator("[data-testid='stSlider']").filter(has_text="Inverse temperature").inner_text()
    assert page.locator("[data-testid='stAlert']").filter(has_text="the chains freeze").count() == 1
    button(page, "Pause").click()
    wait_idle(page)
    assert_no_exception(page)


def test_projector_mode_shows_the_chains_above_the_fold(browser):
    from harness import served

    with served() as url:
        ctx = browser.new_context(viewport={"width": 1280, "height": 720})
        try:
            page = ctx.new_page()
            page.goto(url + "/rbm?projector=true&rbm-tab=Gibbs+chains")
            wait_idle(page, timeout=180_000)
            time.sleep(0.5)
            assert_no_exception(page)
            page.wait_for_selector(".genlib-live canvas")
            box = page.locator(".genlib-live canvas").first.bounding_box()
            assert box is not None and box["y"] + box["height"] / 2 < 720, box
            shot(page, "rbm-projector-chains")
        finally:
            ctx.close()

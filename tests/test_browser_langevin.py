"""End to end: the Langevin & SGLD lab in Chromium. The chains play (the browser's flipbook shows frame after frame
by itself), the SGLD tab steps and plays, the 2-D EBM tab steps, and no exception shows. Screenshots go to
test-artifacts/."""
import re

from conftest import assert_no_exception, open_tab, shot, wait_idle

FRAME = "() => { const m = document.body.innerText.match(/step ([0-9]+) · frame ([0-9]+) of/); return m ? +m[2] : -1; }"
SHOWN = "() => { const e = document.querySelector('.flipbook'); return e ? +e.dataset.shown : -1; }"
# paused: the flipbook is gone and the charts show the newest frame ("frame N of N")
PAUSED = "() => !document.querySelector('.flipbook') && /frame ([0-9]+) of \\1(?![0-9])/.test(document.body.innerText)"


def visible_button(page, name):
    return page.locator("button:visible").filter(has_text=re.compile(f"{name}$")).first


def test_langevin_lab_plays_chains_in_the_browser(app_server, page):
    page.goto(app_server + "/langevin")
    wait_idle(page)
    assert_no_exception(page)
    page.wait_for_selector("text=step 0 · frame 0 of 0")
    visible_button(page, "Play").click()
    # the browser's flipbook plays the frames and asks the server for the next batches, without any click
    page.wait_for_function(f"() => ({FRAME})() >= 8", timeout=60_000)
    assert_no_exception(page)
    assert page.evaluate(SHOWN) >= 8 and page.locator(".flipbook img").evaluate("i => i.naturalWidth") > 0
    shot(page, "langevin-samplers-playing")
    visible_button(page, "Pause").click()
    page.wait_for_function(PAUSED, timeout=30_000)
    wait_idle(page)
    frame = page.evaluate(f"({FRAME})()")
    assert frame >= 8 and visible_button(page, "Play").is_visible()  # paused at the newest frame computed
    assert page.locator("text=/acceptance/").count() >= 1

    open_tab(page, "SGLD")
    visible_button(page, "Step").click()
    wait_idle(page)
    page.wait_for_selector("text=/step 10 · frame 1 of 1/")
    assert_no_exception(page)
    visible_button(page, "Play").click()
    page.wait_for_function(f"() => ({SHOWN})() >= 8", timeout=60_000)
    assert_no_exception(page)
    shot(page, "langevin-sgld-playing")
    visible_button(page, "Pause").click()
    wait_idle(page)
    assert page.locator(".flipbook").count() == 0
    shot(page, "langevin-sgld")

    open_tab(page, "2-D EBM")
    visible_button(page, "Step").click()
    wait_idle(page)
    page.wait_for_function("() => /iteration [1-9]/.test(document.body.innerText)", timeout=30_000)
    assert_no_exception(page)
    shot(page, "langevin-ebm")

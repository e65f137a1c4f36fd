"""End to end: the Langevin & SGLD lab in Chromium. The chains play (the browser's flipbook shows frame after frame
by itself), the SGLD tab steps and plays, the 2-D EBM tab steps, and no exception shows. Screenshots go to
test-artifacts/."""
import re

from conftest import assert_no_exception, open_tab, shot, wait_idle

FRAME = "() => { const m = document.body.innerText.match(/step ([0-9]+) · frame ([0-9]+) of/); return m ? +m[2] : -1; }"
SHOWN = "() => { const e = document.querySelector('.flipbook'); return e ? +e.dataset.shown : -1; }"
# paused: the flipbook is gone and the charts are back
PAUSED = "() => !document.querySelector('.flipbook') && document.querySelectorAll('.stPlotlyChart').length >= 2"


def visible_button(page, name):
    return page.locator("button:visible").filter(has_text=re.compile(f"{name}$")).first


def test_langevin_lab_plays_chains_in_the_browser(app_server, page):
    page.goto(app_server + "/langevin")
    wait_idle(page)
    assert_no_exception(page)
    page.wait_for_selector("text=/step 0 · frame 0 of/")
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
    page.wait_for_selector("text=/step 10 · frame 1 of/")
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


def top(page, selector):
    return page.locator(selector).first.bounding_box()["y"]


def test_play_and_pause_share_one_layout_and_dead_chains_show_a_dash(app_server, page):
    """The playing frame (axes, marginals, metrics line) sits where the paused charts sit. With every ULA chain dead
    (η = 0.5, set through the link), the KL reads "—" and says why (not a perfect 0). The link sets the controls."""
    img = page.locator(".flipbook img")

    def play_then_pause(ready: str) -> None:
        paused_top = top(page, ".stPlotlyChart")
        visible_button(page, "Play").click()
        page.wait_for_function(ready, timeout=90_000)
        assert img.evaluate("i => i.naturalHeight") == 380 + 16 + 260  # the panels with axes, the marginals under them
        img.wait_for(state="visible")
        playing_top = img.bounding_box()["y"]
        visible_button(page, "Pause").click()
        page.wait_for_function(PAUSED, timeout=90_000)  # a batch in flight finishes first (slow on a busy machine)
        wait_idle(page)
        assert_no_exception(page)
        for y in (paused_top, top(page, ".stPlotlyChart")):
            assert abs(playing_top - y) < 24, (playing_top, y)  # no jump between play and pause

    page.goto(app_server + "/langevin")
    wait_idle(page)
    play_then_pause(f"() => ({SHOWN})() >= 3")
    visible_button(page, "Restart").click()
    wait_idle(page)

    page.goto(app_server + "/langevin?lv-target=correlated+Gaussian&lv-eta=0.5")
    wait_idle(page)
    assert_no_exception(page)
    assert "σ = 1, effective temperature" in page.locator("body").inner_text()  # σ = √(2η) with η = 0.5 from the link
    visible_button(page, "Step").click()  # the chains die in the first steps: the warning is there before Play
    page.wait_for_selector("text=/of 300 ULA chains were sent to infinity/")
    play_then_pause("() => /ULA dead chains 300 .*ULA — \\(no live chains\\)/.test("
                    "(document.querySelector('.flipbook .cap') || {}).textContent)")
    body = page.locator("body").inner_text()
    assert "KL: — (no live chains: all 300 ULA chains were sent to infinity" in body and "0.000" not in body
    kl = page.locator("[data-testid='stMetric']").filter(has_text="KL to exact").first.inner_text()
    assert kl.strip().endswith("—")
    shot(page, "langevin-dead-paused")


def test_a_link_reproduces_the_chains_and_a_lesson_sets_its_controls(app_server, browser):
    url = app_server + "/langevin?lv-target=banana&lv-eta=0.1&lv-seed=7&lv-chains=100"
    lines = []
    for _ in range(2):  # two visitors of the same link see the same chains after the same steps
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        pg.goto(url)
        wait_idle(pg)
        pg.wait_for_function("() => document.querySelector(\"input[aria-label='Seed']\")?.value === '7'",
                             timeout=30_000)  # the seed from the link
        pg.wait_for_selector("text=/step 0 · frame 0 of/")
        assert pg.locator("input[aria-label='Chains']").first.input_value() == "100"
        for _ in range(3):
            visible_button(pg, "Step").click()
            wait_idle(pg)
        pg.wait_for_selector("text=/step 15 · frame 3 of/")
        lines.append(pg.locator("text=/step 15 · frame 3 of/").first.inner_text())
        ctx.close()
    assert lines[0] == lines[1] and "KL to exact: ULA " in lines[0] and "(noise floor 0.553)" in lines[0]
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.goto(app_server + "/langevin?lv-tab=SGLD")
    wait_idle(pg)
    pg.get_by_role("button", name="SGD finds one mode, SGLD visits both").click()
    pg.wait_for_function(f"() => ({SHOWN})() >= 3", timeout=60_000)  # the lesson set its controls and plays
    assert pg.locator("text=/Each SGD chain/").count() >= 1  # its sentence on what to watch
    assert "lv-tab=SGLD" in pg.url
    visible_button(pg, "Pause").click()
    wait_idle(pg)
    assert_no_exception(pg)
    ctx.close()


def test_projector_mode_puts_the_picture_above_the_fold(app_server, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    pg = ctx.new_page()
    pg.goto(app_server + "/langevin?projector=true")
    wait_idle(pg)
    assert_no_exception(pg)
    pg.wait_for_selector(".stPlotlyChart")
    box = pg.locator(".stPlotlyChart").first.bounding_box()
    assert box["y"] + 0.5 * box["height"] < 720, box  # at least half of the main chart shows without scrolling
    shot(pg, "langevin-projector")
    ctx.close()

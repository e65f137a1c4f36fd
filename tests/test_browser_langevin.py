"""End to end: the Langevin & SGLD lab in Chromium. The chains play in the browser's live view (views.live: it keeps
the frames the server sends and draws them on canvases, asking for the next batch by itself); paused, the scrubber
shows any frame held; the SGLD tab steps and plays, the 2-D EBM tab steps, and no exception shows. Screenshots go to
test-artifacts/."""
import re

from conftest import assert_no_exception, open_tab, shot, wait_idle

# the live view on screen (only the open tab's is in the page; one without layout is not the one shown)
LV = "([...document.querySelectorAll('.genlib-live')].find((e) => e.getClientRects().length) || { dataset: {} })"
SHOWN = f"() => +({LV}.dataset.shown || -1)"  # frames the browser has displayed since it mounted
CAP = f"() => ({LV}.querySelector?.('.cap') || {{}}).textContent || ''"  # the caption of the frame on screen
# the step and the frame number in the caption of the frame on screen (-1 before one shows)
STEP = f"() => {{ const m = ({CAP})().match(/^step ([0-9]+) · frame ([0-9]+) /); return m ? +m[1] : -1; }}"
MODE = f"() => {LV}.dataset.mode"
SCRUB = ".genlib-live .scrub"
# pixels of the colour `rgb` (within 40 per channel) in the canvas `k` of the live view, below its top `top` rows
PIXELS = """([k, rgb, top]) => {
  const c = [...document.querySelectorAll('.genlib-live canvas')].filter((e) => e.getClientRects().length)[k];
  const r = window.devicePixelRatio || 1, d = c.getContext('2d').getImageData(0, top * r, c.width, c.height - top * r).data;
  let n = 0;
  for (let o = 0; o < d.length; o += 4)
    if (Math.abs(d[o] - rgb[0]) < 40 && Math.abs(d[o + 1] - rgb[1]) < 40 && Math.abs(d[o + 2] - rgb[2]) < 40 && d[o + 3] > 200) n++;
  return n;
}"""


def rgb(color: str) -> list[int]:
    return [int(color[i:i + 2], 16) for i in (1, 3, 5)]


def visible_button(page, name):
    return page.locator("button:visible").filter(has_text=re.compile(f"{name}$")).first


def open_lab(page, url: str) -> None:
    page.goto(url)
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)
    page.wait_for_function(f"() => ({LV}).querySelector?.('canvas') && ({STEP})() >= 0", timeout=60_000)


def scrub_to_start(page) -> None:
    """Paused: the scrubber is there; move it to the first frame with the keyboard, as a student does."""
    page.locator(SCRUB).wait_for(state="visible", timeout=30_000)
    page.locator(SCRUB).focus()
    page.keyboard.press("Home")


def test_langevin_lab_plays_chains_in_the_browser(app_server, page):
    open_lab(page, app_server + "/langevin")
    assert page.evaluate(CAP).startswith("step 0 · frame 0 ")
    assert page.locator(SCRUB).evaluate("e => getComputedStyle(e).visibility") == "hidden"  # one frame: nothing to scrub
    visible_button(page, "Play").click()
    # the browser plays the frames and asks the server for the next batches, without any click
    page.wait_for_function(f"() => ({SHOWN})() >= 8 && ({STEP})() >= 40", timeout=60_000)
    s = page.evaluate(STEP)
    page.wait_for_function(f"() => ({STEP})() > {s}", timeout=30_000)  # the caption's step climbs
    assert page.evaluate(MODE) == "playing" and visible_button(page, "Pause").is_visible()
    from pages.lab.common import COLORS

    # the chains are drawn on the panels and their histograms on the marginals (under the legend)
    assert page.evaluate(PIXELS, [0, rgb(COLORS["ULA"]), 30]) > 50
    assert page.evaluate(PIXELS, [1, rgb(COLORS["MALA"]), 30]) > 50
    assert page.evaluate(PIXELS, [2, rgb(COLORS["ULA"]), 24]) > 50 and page.evaluate(PIXELS, [2, rgb(COLORS["MALA"]), 24]) > 50
    assert_no_exception(page)
    shot(page, "langevin-samplers-playing")
    visible_button(page, "Pause").click()
    page.wait_for_function(f"() => ({MODE})() === 'paused'", timeout=30_000)
    wait_idle(page)
    assert visible_button(page, "Play").is_visible()
    assert page.locator("[data-testid='stMetric']").filter(has_text="acceptance").count() >= 1  # metrics under it
    # paused at the newest frame held, the scrubber over every frame held: Home shows the start, arrows step on
    held = int(page.evaluate(f"() => {LV}.dataset.held"))
    page.locator(SCRUB).wait_for(state="visible", timeout=30_000)
    assert page.locator(SCRUB).evaluate("e => [+e.min, +e.max, +e.value]") == [0, held - 1, held - 1]
    assert page.evaluate(STEP) == 5 * (held - 1)  # 5 steps per frame
    scrub_to_start(page)
    page.wait_for_function(f"() => ({CAP})().startsWith('step 0 · frame 0 ')", timeout=5_000)
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => ({CAP})().startsWith('step 15 · frame 3 ')", timeout=5_000)
    assert page.locator(SCRUB).input_value() == "3"
    assert page.evaluate(PIXELS, [0, rgb(COLORS["ULA"]), 30]) > 50  # the picture of that frame
    shot(page, "langevin-samplers-scrubbed")

    open_tab(page, "SGLD")
    page.wait_for_function(f"() => ({STEP})() === 0", timeout=60_000)
    visible_button(page, "Step").click()
    wait_idle(page)
    page.wait_for_function(f"() => ({CAP})().startsWith('step 10 · frame 1 ')", timeout=30_000)
    assert_no_exception(page)
    visible_button(page, "Play").click()
    page.wait_for_function(f"() => ({SHOWN})() >= 8 && ({STEP})() >= 50", timeout=60_000)
    assert_no_exception(page)
    shot(page, "langevin-sgld-playing")
    visible_button(page, "Pause").click()
    page.wait_for_function(f"() => ({MODE})() === 'paused'", timeout=30_000)
    wait_idle(page)
    assert page.locator(".stPlotlyChart").count() == 2  # the step schedule and the traces under the picture
    shot(page, "langevin-sgld")

    open_tab(page, "2-D EBM")
    visible_button(page, "Step").click()
    wait_idle(page)
    page.wait_for_function("() => /iteration [1-9]/.test(document.body.innerText)", timeout=30_000)
    assert_no_exception(page)
    shot(page, "langevin-ebm")


def top(page):
    return page.locator(".genlib-live canvas").first.bounding_box()["y"]


def test_play_and_pause_share_one_layout_and_dead_chains_show_a_dash(app_server, page):
    """The picture does not move between play and pause (one canvas picture, the scrubber's room kept). With every
    ULA chain dead (η = 0.5, set through the link), the KL reads "—" and says why (not a perfect 0), and no ULA
    histogram is drawn (a flat 0 would read as a density). The link sets the controls."""
    from pages.lab.common import COLORS

    def play_then_pause(ready: str) -> None:
        paused_top = top(page)
        visible_button(page, "Play").click()
        page.wait_for_function(ready, timeout=90_000)
        playing_top = top(page)
        visible_button(page, "Pause").click()
        page.wait_for_function(f"() => ({MODE})() === 'paused'", timeout=90_000)
        wait_idle(page)
        assert_no_exception(page)
        page.locator(SCRUB).wait_for(state="visible", timeout=30_000)
        for y in (paused_top, top(page)):
            assert abs(playing_top - y) < 2, (playing_top, y)  # no jump between play and pause

    open_lab(page, app_server + "/langevin")
    play_then_pause(f"() => ({SHOWN})() >= 3")
    visible_button(page, "Restart").click()
    wait_idle(page)

    open_lab(page, app_server + "/langevin?lv-target=correlated+Gaussian&lv-eta=0.5")
    assert "σ = 1, effective temperature" in page.locator("body").inner_text()  # σ = √(2η) with η = 0.5 from the link
    visible_button(page, "Step").click()  # the chains die in the first steps: the warning is there before Play
    page.wait_for_selector("text=/of 300 ULA chains were sent to infinity/")
    play_then_pause(f"() => /ULA dead chains 300 .*ULA — \\(no live chains\\)/.test(({CAP})())")
    body = page.locator("body").inner_text()
    assert "KL: — (no live chains: all 300 ULA chains were sent to infinity" in body and "0.000" not in body
    kl = page.locator("[data-testid='stMetric']").filter(has_text="KL to exact").first.inner_text()
    assert kl.strip().endswith("—")
    assert page.evaluate(PIXELS, [0, rgb(COLORS["ULA"]), 30]) == 0  # no ULA chain left on its panel
    assert page.evaluate(PIXELS, [2, rgb(COLORS["ULA"]), 24]) == 0  # nor a ULA histogram on the marginals
    assert page.evaluate(PIXELS, [2, rgb(COLORS["MALA"]), 24]) > 50  # MALA's is there
    shot(page, "langevin-dead-paused")


def test_a_lesson_plays_by_itself_and_dead_chains_warn(app_server, page):
    """The lesson "ULA blows up at η = 0.5" sets its controls and plays at once: the frames advance, every ULA chain
    dies and the warning says so while the chains play."""
    open_lab(page, app_server + "/langevin")
    page.get_by_role("button", name="ULA blows up at η = 0.5").click()
    page.wait_for_function(f"() => ({MODE})() === 'playing' && ({SHOWN})() >= 12", timeout=60_000)
    page.wait_for_selector("text=/300 of 300 ULA chains were sent to infinity/", timeout=60_000)
    page.wait_for_function(f"() => / ULA dead chains 300 /.test(({CAP})())", timeout=30_000)
    assert page.locator("text=/Within a few frames every ULA chain leaves the picture/").count() >= 1
    assert "lv-eta=0.5" in page.url
    s = page.evaluate(STEP)
    page.wait_for_function(f"() => ({STEP})() > {s}", timeout=30_000)  # still playing
    assert_no_exception(page)
    shot(page, "langevin-lesson-blow-up")
    visible_button(page, "Pause").click()
    wait_idle(page)


def test_a_link_reproduces_the_chains_and_a_lesson_sets_its_controls(app_server, browser):
    url = app_server + "/langevin?lv-target=banana&lv-eta=0.1&lv-seed=7&lv-chains=100"
    lines = []
    for _ in range(2):  # two visitors of the same link see the same chains after the same steps
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = ctx.new_page()
        open_lab(pg, url)
        pg.wait_for_function("() => document.querySelector(\"input[aria-label='Seed']\")?.value === '7'",
                             timeout=30_000)  # the seed from the link
        assert pg.evaluate(CAP).startswith("step 0 · frame 0 ")
        assert pg.locator("input[aria-label='Chains']").first.input_value() == "100"
        for _ in range(3):
            visible_button(pg, "Step").click()
            wait_idle(pg)
        pg.wait_for_function(f"() => ({CAP})().startsWith('step 15 · frame 3 ')", timeout=30_000)
        lines.append(pg.evaluate(CAP))
        ctx.close()
    assert lines[0] == lines[1] and "KL to exact: ULA " in lines[0] and "(noise floor 0.553)" in lines[0]
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    open_lab(pg, app_server + "/langevin?lv-tab=SGLD")
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
    open_lab(pg, app_server + "/langevin?projector=true")
    box = pg.locator(".genlib-live canvas").first.bounding_box()
    assert box["y"] + 0.5 * box["height"] < 720, box  # at least half of the main picture shows without scrolling
    shot(pg, "langevin-projector")
    ctx.close()

"""End to end: the EBM page in Chromium. A Langevin chain plays (the live view: the browser draws the frames the
server sends) and pauses; a link with settings reproduces the same chain; the Train tab says what a long iteration is
doing; projector mode puts the chains above the fold."""
import re

from conftest import assert_no_exception, open_tab, shot, wait_for_counter, wait_idle, wait_rendered
from harness import draw_one

LINK = "/ebm?ebm-tab=Langevin+chains&ebm-seed=7&ebm-total=32&ebm-per=4&ebm-n=9"
# the step in the chains' caption, and the pixels of the image grid
STEP = "() => { const m = /step ([0-9]+) of/.exec(document.querySelector('.genlib-live .cap')?.textContent); " \
       "return m ? +m[1] : -1; }"
GRID = "() => document.querySelector('.genlib-live canvas').toDataURL()"


def visible_button(page, name: str):
    return page.locator("button:visible").filter(has_text=re.compile(f"{name}$")).first


def image_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "Image source" in m.text else None)
    return errors


def test_ebm_chain_plays_in_the_browser(app_server, page):
    errors = image_errors(page)
    page.goto(app_server + "/ebm")
    wait_idle(page)
    open_tab(page, "Langevin chains")
    page.wait_for_selector("text=step 0 of 256")
    start = page.evaluate(GRID)
    visible_button(page, "Play").click()
    page.wait_for_function(f"() => ({STEP})() >= 8", timeout=60_000)
    assert visible_button(page, "Pause").is_visible()
    s = page.evaluate(STEP)
    page.wait_for_function(f"() => ({STEP})() >= {s + 16}", timeout=60_000)  # frame after frame, by itself
    assert page.evaluate(GRID) != start  # the chains moved away from their noise
    assert_no_exception(page)
    shot(page, "ebm-chain-playing")
    visible_button(page, "Pause").click()
    page.wait_for_selector(".genlib-live[data-mode='paused']", timeout=30_000)
    wait_idle(page)
    assert visible_button(page, "Play").is_visible() and page.evaluate(STEP) < 256
    assert "Paused" in page.locator(".genlib-live .status").inner_text()
    open_tab(page, "Energies")
    page.wait_for_selector("text=/uniform noise: median E/")  # zoomed on the digits: noise is named at the edge
    page.wait_for_selector("text=/of the rotated digits/")
    assert_no_exception(page)
    assert not errors, errors
    shot(page, "ebm-energies")


def chain_after_two_steps(page, url: str) -> str:
    """Open `url`, check the settings it carries, press Step twice and return the chains' picture (its pixels)."""
    page.goto(url)
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Langevin chains", exact=True)
    panel.wait_for(state="visible", timeout=20_000)
    page.wait_for_selector("text=step 0 of 32")
    for _ in range(2):
        panel.get_by_role("button", name=re.compile("Step$")).click()
        wait_idle(page)
    page.wait_for_function(f"() => ({STEP})() === 8", timeout=30_000)
    return page.evaluate(GRID)


def test_a_link_with_settings_reproduces_the_chain(app_server, browser):
    pictures = []
    for link in (LINK, LINK, LINK.replace("ebm-seed=7", "ebm-seed=8")):  # three fresh sessions
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        pictures.append(chain_after_two_steps(page, app_server + link))
        if len(pictures) == 1:  # the widgets show the link's settings
            assert page.get_by_label("Chain seed", exact=True).and_(page.locator("input")).input_value() == "7"
            assert page.locator("[data-testid='stSlider']").filter(has_text="Steps per frame") \
                .locator("[aria-valuetext]").first.get_attribute("aria-valuetext") == "4"
            assert_no_exception(page)
        ctx.close()
    assert pictures[0].startswith("data:image/png") and pictures[0] == pictures[1]  # same link, same chain
    assert pictures[2] != pictures[0]  # another seed, other chains


def test_train_tab_shows_the_progress_of_a_long_iteration(app_server, page):
    errors = image_errors(page)
    page.goto(app_server + "/ebm?ebm-k=100&ebm-batch=128")
    wait_idle(page)
    page.wait_for_selector("text=/per 100 iterations on this machine/")  # the time estimate before Start
    page.get_by_role("button", name=re.compile("Start$")).click()
    # 100 Langevin steps on 128 images outlast a tick: the panel counts the steps instead of staying at "step 0"
    wait_for_counter(page, r"Langevin step ([0-9]+) of 100", 1, timeout=60_000)
    first = int(re.search(r"Langevin step ([0-9]+) of 100", page.locator("body").inner_text()).group(1))
    wait_for_counter(page, r"Langevin step ([0-9]+) of 100", first + 1, timeout=60_000)  # live, not stale
    assert page.locator("text=Press Start or Step to train").count() == 0
    shot(page, "ebm-train-progress")
    page.get_by_role("button", name=re.compile("Pause")).click()
    page.get_by_role("button", name=re.compile("Start$")).wait_for()
    wait_idle(page)
    assert_no_exception(page)
    assert not errors, errors


def test_projector_mode_puts_the_chains_above_the_fold(app_server, browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 720})
    page = ctx.new_page()
    page.goto(app_server + LINK + "&projector=true")
    wait_idle(page)
    page.wait_for_selector("text=step 0 of 32")
    box = page.locator(".genlib-live canvas").first.bounding_box()
    assert box is not None and box["y"] < 720 - 100, box  # at least its top 100 px visible without scrolling
    assert_no_exception(page)
    shot(page, "ebm-projector")
    ctx.close()


def test_a_drawn_digit_shows_on_the_zoomed_energy_axis(app_server, page):
    """The energy axis spans the digits and the drawing (noise is named at the edge), so the drawn
    digit's line lies inside the plot, beside the real and rotated digits."""
    page.goto(app_server + "/ebm?ebm-tab=Energies")
    wait_idle(page)
    panel = page.get_by_role("tabpanel", name="Energies", exact=True)
    canvas = panel.locator("canvas").last
    canvas.wait_for(timeout=30_000)
    canvas.scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    draw_one(page, canvas)
    note = panel.locator("[data-testid='stPlotlyChart'] text").filter(has_text="your drawing: E =")
    note.first.wait_for(timeout=60_000)
    wait_idle(page)
    wait_rendered(page)
    plot = panel.locator("[data-testid='stPlotlyChart'] .plotly .bglayer rect, [data-testid='stPlotlyChart'] "
                         ".plotly .nsewdrag").first.bounding_box()
    mark = note.first.bounding_box()
    assert plot["x"] - 5 <= mark["x"] + mark["width"] / 2 <= plot["x"] + plot["width"] + 5, (plot, mark)
    assert panel.locator("[data-testid='stPlotlyChart'] text").filter(has_text="uniform noise: median E").count() == 1
    assert_no_exception(page)
    shot(page, "ebm-energies-drawn")

"""End to end, in a fresh browser context each, as a newcomer meets them: a lesson's settings reach the page's address,
and projector mode puts each page's main visual and its Play/Step (or Start) button above the fold.

- The RBM's "β < 1 and β > 1" lesson clicked from the Train tab (the page a newcomer lands on): the address once held
  only rbm-model and rbm-tab, so a link copied then opened at β 1.00, 1 step per frame, from uniform noise. A
  lesson's settings for controls not drawn before (the Gibbs chains tab's, drawn only once that tab is open) never
  reached the address: Streamlit writes a value set from code into the address only for a widget drawn in an earlier
  run (pages/views/url.put).
- Projector mode at 1280 x 720: the visual (the live view's canvases, the latent map, the charts) and its
  Play/Step or Start button lie inside the window, page not scrolled, before and while it plays; at 1400 x 900 with a
  lesson's note open, the EBM's and the RBM's chains too.

Screenshots of each view go to test-artifacts/projector/."""
import re

import pytest

from conftest import ROOT, assert_no_exception, open_tab, wait_idle
from genlib import checkpoints

NEEDS_RBM_500 = pytest.mark.skipif(not checkpoints.resolve("rbm-500").exists(), reason="needs rbm-500")
SHOTS = ROOT / "test-artifacts" / "projector"


def shot(page, name: str) -> None:
    """A screenshot of what the window shows (not the full page: the fold is the point)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def slider_value(page, label: str) -> float:
    """The value a slider shows on its thumb."""
    box = page.locator("[data-testid='stSlider']").filter(has_text=label).first
    return float(box.locator("[data-testid='stSliderThumbValue']").first.inner_text())


def select_value(page, label: str) -> str:
    """The choice a select box shows (its text and its input's value)."""
    return page.locator("[data-testid='stSelectbox']").filter(has_text=label).first.evaluate(
        "(e) => e.textContent + ' ' + [...e.querySelectorAll('input')].map((i) => i.value).join(' ')")


def chains_settings(page) -> dict:
    """What the RBM's Gibbs chains tab shows: β, steps per frame, the start."""
    panel = page.get_by_role("tabpanel", name="Gibbs chains", exact=True)
    panel.wait_for(state="visible", timeout=30_000)
    panel.locator("[data-testid='stSliderThumbValue']").first.wait_for(timeout=30_000)
    start = select_value(page, "Start from")
    return {"beta": slider_value(page, "Inverse temperature"), "steps": int(slider_value(page, "Steps per frame")),
            "start": next((s for s in ("uniform noise", "validation digits", "persistent chains") if s in start), start)}


@NEEDS_RBM_500
def test_a_lesson_clicked_from_the_train_tab_puts_its_settings_in_the_link(app_server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = ctx.new_page()
    page.goto(app_server + "/rbm")
    wait_idle(page)
    page.get_by_role("tab", name="Train", exact=True).wait_for()
    page.get_by_role("button", name="β < 1 and β > 1", exact=True).click()
    page.get_by_role("tabpanel", name="Gibbs chains", exact=True).wait_for(state="visible", timeout=30_000)
    wait_idle(page)
    try:
        page.wait_for_url(re.compile(r"rbm-beta=0\.5.*|.*rbm-beta=0\.5"), timeout=10_000)
    except Exception:  # noqa: BLE001 - the assertion below says what the address holds
        pass
    link = page.url
    shown = chains_settings(page)
    ctx.close()
    assert shown == {"beta": 0.5, "steps": 10, "start": "validation digits"}, shown
    for part in ("rbm-beta=0.5", "rbm-per-frame=10", "rbm-start=validation+digits", "rbm-tab=Gibbs+chains"):
        assert part in link, f"{part} missing from the address {link}"

    other = browser.new_context(viewport={"width": 1400, "height": 1000})  # a student opening the copied link
    page = other.new_page()
    page.goto(link)
    wait_idle(page)
    got = chains_settings(page)
    assert_no_exception(page)
    other.close()
    assert got == shown, f"the link {link} opens at {got}, the lesson showed {shown}"


# ---- projector mode: the visual and its Play/Start button above the fold --------------------------------------

PLAY = re.compile(r"(Play|Start)$")
RUNNING = re.compile(r"(Pause)$")
# every canvas of the page's main area at least 20 px square (the live view's, the latent map's), or the first
# `charts` charts (plotly's, and the line charts the browser draws from data: views.live.chart): their boxes in window
# coordinates
BOXES = """(charts) => {
  const seen = (e) => { const r = e.getBoundingClientRect(); return r.width > 20 && r.height > 20; };
  const box = (e) => { const r = e.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, left: r.left,
                                                                    right: r.right}; };
  const main = document.querySelector("[data-testid='stMain']") || document.body;
  const out = charts ? [...main.querySelectorAll("[data-testid='stPlotlyChart'], .genlib-chart")].filter(seen).slice(0, charts)
                     : [...main.querySelectorAll("canvas")].filter(seen);
  return out.map(box);
}"""
# (name, address, what the visual is: 0 = the canvases, n = the first n charts, the lesson to click)
VIEWS = [
    ("rbm-chains", "/rbm?rbm-tab=Gibbs+chains", 0),
    ("rbm-train", "/rbm", 1),
    ("ebm-chains", "/ebm?ebm-tab=Langevin+chains", 0),
    ("vae-map", "/vae?vae-tab=Latent+grid", 0),
    ("vae-train", "/vae", 3),
    ("langevin-2d-ebm", "/langevin?lv-tab=2-D+EBM", 1),
]


def assert_in_view(page, charts: int, button, what: str, width: int, height: int) -> None:
    """The visual (see BOXES) and `button` lie inside the width x height window, nothing scrolled."""
    boxes = page.evaluate(BOXES, charts)
    assert boxes, f"{what}: no visual drawn"
    b = button.bounding_box()
    assert b is not None, f"{what}: the button is not drawn"
    for r in [*boxes, {"top": b["y"], "bottom": b["y"] + b["height"], "left": b["x"], "right": b["x"] + b["width"]}]:
        assert r["top"] >= 0 and r["bottom"] <= height + 1 and r["left"] >= 0 and r["right"] <= width + 1, (
            f"{what}: {r} is not inside the {width} x {height} window (visual {boxes}, button {b})")


def wait_visual(page, charts: int, timeout: float = 90_000) -> None:
    page.wait_for_function(f"() => ({BOXES})({charts}).length > 0", timeout=timeout, polling=250)


def open_projector(app_server, browser, name: str, path: str, width: int, height: int):
    """A fresh context of width x height on `path` in projector mode, its page idle: (context, page). The RBM views
    need the bundled rbm-500 (skipped without it)."""
    if name.startswith("rbm") and not checkpoints.resolve("rbm-500").exists():
        pytest.skip("needs rbm-500")
    ctx = browser.new_context(viewport={"width": width, "height": height})
    page = ctx.new_page()
    page.goto(app_server + path + ("&" if "?" in path else "?") + "projector=true")
    wait_idle(page)
    return ctx, page


@pytest.mark.parametrize("name,path,charts", VIEWS, ids=[v[0] for v in VIEWS])
def test_projector_mode_keeps_the_visual_and_its_button_above_the_fold(app_server, browser, name, path, charts):
    ctx, page = open_projector(app_server, browser, name, path, 1280, 720)
    play = page.get_by_role("button", name=PLAY).first
    if name != "vae-map":  # the latent map has no Play: it is drawn at once
        play.wait_for(timeout=60_000)
        if charts == 0:
            wait_visual(page, charts)
            assert_in_view(page, charts, play, f"{name}, paused", 1280, 720)
        b = play.bounding_box()
        assert b is not None and b["y"] + b["height"] <= 720, f"{name}: Play/Start at {b}, below the fold"
        page.mouse.click(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2)  # as a student does: no scrolling
        pause = page.get_by_role("button", name=RUNNING).first
        pause.wait_for(timeout=30_000)
        wait_visual(page, charts)
        page.wait_for_timeout(4_000)  # a few frames or ticks
        shot(page, name)
        assert_in_view(page, charts, pause, f"{name}, playing", 1280, 720)
    else:
        wait_visual(page, charts)
        page.wait_for_timeout(1_000)
        shot(page, name)
        assert_in_view(page, charts, page.get_by_role("tab", name="Latent grid", exact=True), name, 1280, 720)
    assert_no_exception(page)
    ctx.close()


LESSON_VIEWS = [("rbm-chains-lesson", "/rbm", "β < 1 and β > 1"),
                ("ebm-chains-lesson", "/ebm?ebm-tab=Langevin+chains", "Short-run chains from noise")]


@pytest.mark.parametrize("name,path,lesson", LESSON_VIEWS, ids=[v[0] for v in LESSON_VIEWS])
def test_projector_mode_with_a_lesson_note_keeps_the_chains_above_the_fold(app_server, browser, name, path, lesson):
    ctx, page = open_projector(app_server, browser, name, path, 1400, 900)
    button = page.get_by_role("button", name=lesson, exact=True)
    try:
        button.wait_for(timeout=30_000)
    except Exception:  # noqa: BLE001 - projector mode may fold the lessons away
        page.locator("[data-testid='stExpander'] summary").filter(has_text="Try this").first.click()
    button.click()
    pause = page.get_by_role("button", name=RUNNING).first
    pause.wait_for(timeout=60_000)
    wait_visual(page, 0)
    page.wait_for_timeout(3_000)
    page.evaluate("() => { const m = document.querySelector(\"[data-testid='stMain']\"); if (m) m.scrollTop = 0; "
                  "window.scrollTo(0, 0); }")  # the fold is what the page shows unscrolled
    page.wait_for_timeout(300)
    shot(page, name)
    assert page.get_by_role("alert").filter(has_text=lesson).count() + page.locator(
        "[data-testid='stAlert']").filter(has_text=lesson).count() > 0, "the lesson's note is not open"
    assert_in_view(page, 0, pause, name, 1400, 900)
    assert_no_exception(page)
    ctx.close()

"""In a real Chromium, each test in a fresh browser (a newcomer's): the dark theme chosen in Streamlit's menu holds on
a reload and on a link to another page (serve.py), the live views draw no white boxes on a dark page (live.js), and
the VAE page's small things: the latent map's side panel before a hover and after the mouse leaves, the equations and
lesson labels that fit at 1400 px, and the lessons in one compact row on a phone (chrome.lessons)."""
import re

from conftest import assert_no_exception, open_tab, shot, wait_idle

APP_BG = "() => getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor"
# the app's background is dark (its r + g + b under 200) or light (over 600)
IS_DARK = ("() => { const a = document.querySelector(\"[data-testid='stApp']\"); if (!a) return false;"
           " const m = getComputedStyle(a).backgroundColor.match(/\\d+/g); return !!m && +m[0] + +m[1] + +m[2] < 200; }")
IS_LIGHT = IS_DARK.replace("< 200", "> 600")
# [r, g, b, a] of the canvas `sel` (the i-th) at (x, y) in CSS pixels from its top left corner
PIXEL = """([sel, i, x, y]) => { const c = document.querySelectorAll(sel)[i]; if (!c || !c.width) return null;
  const r = c.width / c.getBoundingClientRect().width;
  return [...c.getContext('2d').getImageData(Math.round(x * r), Math.round(y * r), 1, 1).data]; }"""


def choose_theme(page, name: str) -> None:
    """As a user does: the app's ⋮ menu, then the theme's button under Settings; Escape closes the menu."""
    page.locator("[data-testid='stMainMenu']").click()
    page.locator(f"[data-testid='stMainMenuItem-theme-{name}']").click()
    page.keyboard.press("Escape")


def wait_theme(page, dark: bool, timeout: float = 10_000) -> None:
    try:
        page.wait_for_function(IS_DARK if dark else IS_LIGHT, timeout=timeout)
    except Exception as e:  # noqa: BLE001 - say what the page showed
        raise AssertionError(f"{page.url}: the app's background is {page.evaluate(APP_BG)}, expected "
                             f"{'dark' if dark else 'light'}") from e


# ---- 1. the theme chosen in the menu holds for the whole app ------------------------------------------------------

def test_dark_theme_chosen_in_the_menu_survives_a_reload_and_a_link(app_server, page):
    page.goto(app_server + "/")
    wait_idle(page)
    wait_theme(page, dark=False)  # a newcomer whose browser prefers light gets light
    choose_theme(page, "Dark")
    wait_theme(page, dark=True)
    # to another page by the app's own navigation, then a reload there (Streamlit stored the choice under "/")
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Variational autoencoder").click()
    page.wait_for_url(re.compile(r"/vae"), timeout=30_000)
    wait_idle(page)
    wait_theme(page, dark=True)
    page.reload()
    wait_idle(page)
    wait_theme(page, dark=True)
    shot(page, "theme-dark-vae-reloaded")
    # a link to another page, in this tab and in a new tab of the same browser
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    wait_theme(page, dark=True)
    other = page.context.new_page()
    other.goto(app_server + "/ebm")
    wait_idle(other)
    wait_theme(other, dark=True)
    # the last choice wins, wherever it was made: Light on the EBM page, then the autoencoder's link again
    choose_theme(other, "Light")
    wait_theme(other, dark=False)
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    wait_theme(page, dark=False)
    assert_no_exception(page)


# ---- 2. the live views on a dark page -----------------------------------------------------------------------------

def dark_pixel(page, at: list, most: int) -> list | None:
    """Wait (15 s at most) until the canvas pixel `at` (PIXEL's arguments) is drawn and darker than `most` (r + g + b);
    returns what it is then: None when it is dark enough, else the pixel."""
    try:
        page.wait_for_function(f"() => {{ const p = ({PIXEL})({at}); "
                               f"return !!p && p[3] > 200 && p[0] + p[1] + p[2] < {most}; }}", timeout=15_000)
        return None
    except Exception:  # noqa: BLE001 - the test says what it found
        return page.evaluate(PIXEL, at)


def test_live_views_on_a_dark_page_draw_no_white_boxes(app_server, page):
    # the Langevin lab's Samplers tab: the density behind the chains (white where it is ~0, at the plot's corner)
    page.goto(app_server + "/langevin")
    wait_idle(page, timeout=180_000)
    page.locator(".genlib-live canvas").first.wait_for(timeout=60_000)
    choose_theme(page, "Dark")
    wait_theme(page, dark=True)
    # inside the plot box (left 56, top 30), at z = (-4, 4): redrawn in the dark theme, with no click
    density = dark_pixel(page, [".genlib-live canvas", 0, 56 + 4, 30 + 4], 200)
    page.locator(".genlib-live").first.scroll_into_view_if_needed()
    shot(page, "theme-dark-langevin-samplers")
    assert_no_exception(page)

    # the RBM's Gibbs chains: the gaps of the image grids
    page.goto(app_server + "/rbm?rbm-tab=Gibbs+chains")
    wait_idle(page, timeout=180_000)
    open_tab(page, "Gibbs chains")
    page.wait_for_selector("text=p(v|h) · step 0", timeout=60_000)
    if not page.evaluate(IS_DARK):  # (the choice on the lab's page holds here: test 1 checks that)
        choose_theme(page, "Dark")
    wait_theme(page, dark=True)
    gap = dark_pixel(page, [".genlib-live canvas", 0, 1, 1], 400)  # the first grid's corner: the gap around it
    page.locator(".genlib-live").first.scroll_into_view_if_needed()
    shot(page, "theme-dark-rbm-gibbs")
    assert_no_exception(page)
    assert (density, gap) == (None, None), f"on a dark page: the density's corner {density}, the grid's gap {gap}"


# ---- 3. the VAE page -----------------------------------------------------------------------------------------------

def side(page, key: str):
    return page.locator(f".st-key-{key} .latentmap")


def hover_and_leave(page, key: str) -> None:
    box = page.locator(f".st-key-{key} canvas.map").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.locator(f".st-key-{key} .latentmap[data-cell='hover']").wait_for(timeout=10_000)
    assert page.locator(f".st-key-{key} canvas.cell").is_visible()
    assert not page.locator(f".st-key-{key} .cellhint").is_visible()
    assert re.match(r"z\[0\] = -?[0-9.]+, z\[1\] = -?[0-9.]+$", side(page, key).locator(".z").inner_text())
    page.mouse.move(2, box["y"] + box["height"] * 0.4)  # off the map, to the left


def test_latent_map_side_panel_hints_before_a_hover_and_shows_the_pinned_digit_after(app_server, page):
    page.goto(app_server + "/vae?vae-tab=Clusters")
    wait_idle(page, timeout=180_000)
    key = "vae-cluster-map"
    page.locator(f".st-key-{key} canvas.map").wait_for(timeout=30_000)
    # before the first hover, nothing pinned: a hint in the cell's place, not an empty black square
    hint = page.locator(f".st-key-{key} .cellhint")
    hint.wait_for(state="visible", timeout=10_000)
    assert "Move the mouse over the map" in hint.inner_text()
    assert not page.locator(f".st-key-{key} canvas.cell").is_visible()
    shot(page, "vae-clusters-side-hint")
    hover_and_leave(page, key)
    hint.wait_for(state="visible", timeout=10_000)  # the mouse left: the hint again, not the last digit
    assert not page.locator(f".st-key-{key} canvas.cell").is_visible()
    assert side(page, key).locator(".z").inner_text() == "Click the map to decode that point."

    # the latent grid has a pointer (the cross, at z = 0 first): its digit shows until the mouse is on the map
    open_tab(page, "Latent grid")
    wait_idle(page)
    key = "vae-grid-map"
    page.locator(f".st-key-{key} .latentmap[data-cell='pinned']").wait_for(timeout=30_000)
    assert side(page, key).locator(".z").inner_text().startswith("at the cross: z[0] = 0.00, z[1] = 0.00.")
    cell = page.locator(f".st-key-{key} canvas.cell")
    assert cell.is_visible()
    pinned = side(page, key).get_attribute("data-hover-cell")
    lit = page.evaluate("""(sel) => { const c = document.querySelector(sel), d = c.getContext('2d')
        .getImageData(0, 0, c.width, c.height).data; let n = 0; for (let o = 0; o < d.length; o += 4) n += d[o] > 100;
        return n; }""", f".st-key-{key} canvas.cell")
    assert lit > 100, lit  # a digit, not a black square
    hover_and_leave(page, key)
    page.locator(f".st-key-{key} .latentmap[data-cell='pinned']").wait_for(timeout=10_000)
    assert side(page, key).get_attribute("data-hover-cell") == pinned  # back to the pointer's digit
    assert_no_exception(page)


def test_vae_equations_and_lesson_labels_fit_at_1400_px(app_server, page):
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(app_server + "/vae?vae-tab=Latent+grid")
    wait_idle(page, timeout=180_000)
    page.locator("[data-testid='stExpander'] summary").filter(has_text="What you see").click()
    page.locator("[data-testid='stExpander'] .katex-display").first.wait_for(timeout=10_000)
    sizes = page.locator("[data-testid='stExpander'] .katex-display").evaluate_all(
        "es => es.map(e => [e.scrollWidth, e.clientWidth])")
    assert len(sizes) >= 3
    shot(page, "vae-what-you-see-1400")
    # every lesson's label shows whole on its button (it wraps rather than ending in "...")
    labels = page.locator("[class*='st-key-vae-lesson-'] button:visible [data-testid='stMarkdownContainer']")
    labels.nth(4).wait_for(timeout=30_000)
    assert labels.count() == 5
    cut = labels.evaluate_all("es => es.filter(e => e.scrollWidth > e.clientWidth + 1).map(e => e.innerText)")
    wide = [s for s, c in sizes if s > c + 1]  # an equation cut at the right edge: its width
    assert (wide, cut) == ([], []), (sizes, cut)
    assert_no_exception(page)


def test_vae_lessons_take_one_compact_row_on_a_phone(app_server, browser):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    try:
        page.goto(app_server + "/vae")
        wait_idle(page, timeout=180_000)
        buttons = page.locator("[class*='st-key-vae-lesson-'] button:visible")
        buttons.nth(4).wait_for(timeout=30_000)
        assert buttons.count() == 5
        tops = buttons.evaluate_all("bs => bs.map(b => Math.round(b.getBoundingClientRect().top))")
        assert max(tops) - min(tops) <= 2, tops  # one row (Streamlit stacked them: five lines, a screenful)
        heights = buttons.evaluate_all("bs => bs.map(b => b.getBoundingClientRect().height)")
        assert max(heights) <= 48, heights
        # the tab bar and the page's content start in the screen's upper part (at 695 px of 844 with the buttons
        # stacked)
        tabs = page.get_by_role("tablist").first.bounding_box()
        assert tabs["y"] < 844 * 0.6, tabs
        shot(page, "vae-phone-390")
        # the row scrolls sideways: the last lesson is reached and works
        page.get_by_role("button", name="Reparameterisation and the IWAE gap").click()
        page.locator("[data-testid='stAlert']").filter(has_text="Reparameterisation and the IWAE gap").wait_for(
            timeout=60_000)
        wait_idle(page, timeout=120_000)
        assert_no_exception(page)
    finally:
        ctx.close()

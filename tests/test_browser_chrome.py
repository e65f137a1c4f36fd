"""The app's chrome in a real Chromium, for teaching: projector mode from the URL and from the sidebar, the "Copy link"
address that reproduces the view, and the dark theme offered by the menu."""
import re

from conftest import assert_no_exception, shot, wait_idle, wait_rendered


def root_font_px(page) -> float:
    return float(page.evaluate("() => parseFloat(getComputedStyle(document.documentElement).fontSize)"))


def sidebar_expanded(page) -> bool:
    return page.locator("[data-testid='stSidebar']").get_attribute("data-collapsed") == "false"


def test_projector_mode_from_the_url_enlarges_text_plots_and_hides_the_sidebar(app_server, page):
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    normal = root_font_px(page)
    assert sidebar_expanded(page)

    page.goto(app_server + "/autoencoder?projector=true")
    wait_idle(page)
    wait_rendered(page)
    # the style arrives with the script's first messages: wait for it rather than for a fixed time
    page.wait_for_function(f"() => parseFloat(getComputedStyle(document.documentElement).fontSize) > {normal}",
                           timeout=30_000)
    assert root_font_px(page) >= 16 and root_font_px(page) > normal  # every rem-sized text grows
    assert not sidebar_expanded(page)  # the visual gets the whole width
    assert page.get_by_text(re.compile(r"^Data: ")).count() == 0  # boilerplate line hidden
    # plotly tick labels drawn at 16 px or more (chrome.plot)
    page.wait_for_selector("[data-testid='stPlotlyChart'] .xtick text", timeout=60_000)
    tick_px = page.evaluate("() => parseFloat(document.querySelector(\"[data-testid='stPlotlyChart'] .xtick text\")"
                            ".style.fontSize)")
    assert tick_px >= 16, tick_px
    # the training curves the browser draws (views.live.chart) in projector mode too: 1.3 times as tall (320 px), at
    # most 330 px, with 16 px tick labels and 18 px text (live.js draws them at the sizes the flag asks for)
    page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_function("() => document.querySelector('.genlib-chart')?.chart?.series.length > 0", timeout=60_000)
    chart = page.evaluate("() => { const e = document.querySelector('.genlib-chart'); return {projector: "
                          "e.chart.projector, height: e.querySelector('canvas').getBoundingClientRect().height}; }")
    assert chart == {"projector": True, "height": 330}, chart
    assert_no_exception(page)
    shot(page, "chrome-projector-1280")


def test_copy_link_gives_the_address_that_reproduces_the_view(app_server, page, browser):
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    page.locator("[data-testid='stSidebar']").get_by_text("Projector mode").click()
    page.wait_for_url(re.compile(r"projector=true"), timeout=30_000)  # the toggle is bound to the URL
    wait_idle(page)
    assert not sidebar_expanded(page)  # projector mode folds the sidebar away; the teacher opens it again
    page.locator("[data-testid='stExpandSidebarButton']").click()
    page.locator("[data-testid='stSidebar']").get_by_role("button", name=re.compile("Copy link")).click()
    code = page.locator("[data-testid='stPopoverBody'] code").first
    code.wait_for(timeout=10_000)
    link = code.inner_text().strip()
    assert link.startswith(app_server + "/autoencoder?") and "projector=true" in link, link

    other = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()  # a student opening the link
    try:
        other.goto(link)
        wait_idle(other)
        assert root_font_px(other) >= 16
        assert other.locator("[data-testid='stSidebar'] input[type='checkbox']").first.is_checked()
    finally:
        other.context.close()


def test_the_menu_offers_the_dark_theme_and_light_stays_the_default(app_server, page):
    page.goto(app_server + "/")
    wait_idle(page)

    def background() -> tuple[int, ...]:
        rgb = page.evaluate("() => getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor")
        return tuple(int(v) for v in re.findall(r"\d+", rgb)[:3])

    assert sum(background()) > 600  # light for a browser that prefers light
    page.locator("[data-testid='stMainMenu']").click()
    page.locator("[data-testid='stMainMenuItem-theme-Dark']").click()
    page.wait_for_function("() => { const m = getComputedStyle(document.querySelector(\"[data-testid='stApp']\"))"
                           ".backgroundColor.match(/\\d+/g); return m && (+m[0] + +m[1] + +m[2]) < 200; }",
                           timeout=10_000)
    assert sum(background()) < 200
    shot(page, "chrome-dark-home")

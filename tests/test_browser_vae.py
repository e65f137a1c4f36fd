"""End to end in a real Chromium: the VAE page opens, every tab renders, moving the grid pointer redraws the digit."""
from conftest import assert_no_exception, open_tab, shot, wait_idle

TABS = ["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"]


def big_digit_src(page) -> str:
    img = page.locator("[data-testid='stImage']").filter(has_text="decoded at").locator("img").first
    img.wait_for(timeout=20_000)
    return img.get_attribute("src")


def test_vae_page_tabs_and_grid_pointer(app_server, page):
    page.goto(app_server + "/vae")
    wait_idle(page)
    assert "Variational autoencoder" in page.locator("h1").first.inner_text()
    assert_no_exception(page)
    for name in TABS:
        open_tab(page, name)  # only the open tab's panel is in the page: an error in it shows once it is drawn
        assert_no_exception(page)
    open_tab(page, "Latent grid")
    before = big_digit_src(page)
    caption = page.locator("[data-testid='stImage']").filter(has_text="decoded at").first.inner_text()
    assert "z[0] = 0.00" in caption
    thumb = page.locator("[data-testid='stSlider']").filter(has_text="pointer z[0]").locator("input[type='range']")
    thumb.focus()
    for _ in range(30):  # 30 steps of 0.05: the pointer moves to z[0] = 1.5
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stImage\"]')].some(e => /z\\[0\\] = 1\\.50/.test(e.innerText))",
        timeout=30_000)
    wait_idle(page)
    after = big_digit_src(page)
    assert after != before  # the decoded image at the new pointer position came back
    assert_no_exception(page)
    shot(page, "vae-latent-grid")

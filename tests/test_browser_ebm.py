"""End to end: the EBM page plays a Langevin chain in Chromium; the picture and the step counter move."""
from conftest import assert_no_exception, open_tab, play_chain, shot, wait_idle


def test_ebm_chain_plays_in_the_browser(app_server, page):
    page.goto(app_server + "/ebm")
    wait_idle(page)
    open_tab(page, "Langevin chains")
    page.wait_for_selector("text=step 0 of 256")
    chain_img = page.locator("[data-testid='stImage']").filter(has_text="of 256").locator("img")  # not the buffer's
    play_chain(page, chain_img.first, r"step ([0-9]+) of 256", 24, "ebm-chain-playing")
    open_tab(page, "Energies")
    page.wait_for_selector("text=/uniform noise \\(n=500\\)/")
    assert_no_exception(page)
    shot(page, "ebm-energies")

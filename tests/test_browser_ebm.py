"""End to end: the EBM page plays a Langevin chain in Chromium; the picture and the step counter move."""
import re

from conftest import assert_no_exception, shot, wait_for_counter, wait_idle


def test_ebm_chain_plays_in_the_browser(app_server, page):
    page.goto(app_server + "/ebm")
    wait_idle(page)
    page.get_by_role("tab", name="Langevin chains").click()
    page.wait_for_selector("text=step 0 of 256")
    chain_img = page.locator("[data-testid='stImage']").filter(has_text="of 256").locator("img")  # not the buffer's
    first = chain_img.first.get_attribute("src")
    page.get_by_role("button", name=re.compile("^.*Play$")).click()
    # frames arrive from the fragment's browser timer, one every tick
    wait_for_counter(page, r"step ([0-9]+) of 256", 1, timeout=30_000)
    wait_for_counter(page, r"step ([0-9]+) of 256", 24)
    assert chain_img.first.get_attribute("src") != first
    assert_no_exception(page)
    shot(page, "ebm-chain-playing")
    page.get_by_role("button", name=re.compile("Pause")).click()
    wait_idle(page)
    page.get_by_role("tab", name="Energies").click()
    page.wait_for_selector("text=/uniform noise \\(n=500\\)/")
    assert_no_exception(page)
    shot(page, "ebm-energies")

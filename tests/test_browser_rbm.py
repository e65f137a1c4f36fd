"""End to end: the RBM page plays a Gibbs chain in Chromium; the picture and the step counter move."""
import re

from conftest import assert_no_exception, shot, wait_for_counter, wait_idle


def test_rbm_chain_plays_in_the_browser(app_server, page):
    page.goto(app_server + "/rbm")
    wait_idle(page)
    assert_no_exception(page)
    shot(page, "rbm-train")
    page.get_by_role("tab", name="Gibbs chains").click()
    page.wait_for_selector("text=p(v|h) · step 0")
    first = page.locator("[data-testid='stImage'] img").nth(1).get_attribute("src")
    page.get_by_role("button", name=re.compile("^.*Play$")).click()
    # frames arrive from the fragment's browser timer, one every tick
    wait_for_counter(page, r"p\(v\|h\) · step ([0-9]+)", 1, timeout=30_000)
    wait_for_counter(page, r"p\(v\|h\) · step ([0-9]+)", 5)
    assert page.locator("[data-testid='stImage'] img").nth(1).get_attribute("src") != first
    assert_no_exception(page)
    shot(page, "rbm-chain-playing")
    page.get_by_role("button", name=re.compile("Pause")).click()
    wait_idle(page)
    page.get_by_role("tab", name="Likelihood").click()
    page.wait_for_selector("text=mean free energy")
    assert_no_exception(page)
    shot(page, "rbm-likelihood")

"""End to end: the RBM page plays a Gibbs chain in Chromium; the picture and the step counter move."""
import re

from conftest import assert_no_exception, shot, wait_idle


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
    page.wait_for_function("() => /p\\(v\\|h\\) · step ([1-9][0-9]*)/.test(document.body.innerText)", timeout=30_000)
    page.wait_for_function("() => { const m = document.body.innerText.match(/p\\(v\\|h\\) · step ([0-9]+)/); "
                           "return m && +m[1] >= 5; }", timeout=60_000)
    assert page.locator("[data-testid='stImage'] img").nth(1).get_attribute("src") != first
    assert_no_exception(page)
    shot(page, "rbm-chain-playing")
    page.get_by_role("button", name=re.compile("Pause")).click()
    wait_idle(page)
    page.get_by_role("tab", name="Likelihood").click()
    page.wait_for_selector("text=mean free energy")
    assert_no_exception(page)
    shot(page, "rbm-likelihood")

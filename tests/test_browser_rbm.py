"""End to end: the RBM page plays a Gibbs chain in Chromium; the picture and the step counter move."""
from conftest import assert_no_exception, open_tab, play_chain, shot, wait_idle


def test_rbm_chain_plays_in_the_browser(app_server, page):
    page.goto(app_server + "/rbm")
    wait_idle(page)
    assert_no_exception(page)
    shot(page, "rbm-train")
    open_tab(page, "Gibbs chains")
    page.wait_for_selector("text=p(v|h) · step 0")
    play_chain(page, page.locator("[data-testid='stImage'] img").nth(1), r"p\(v\|h\) · step ([0-9]+)", 5,
               "rbm-chain-playing")
    open_tab(page, "Likelihood")
    page.wait_for_selector("text=mean free energy")
    assert_no_exception(page)
    shot(page, "rbm-likelihood")

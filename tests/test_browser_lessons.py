"""Lessons as a newcomer clicks them, in Chromium: each lesson sets every setting it depends on (whatever lesson ran
before it), and what its note tells the reader to do can be done on the page."""
import re

from conftest import assert_no_exception, wait_idle


def click(page, name: str) -> None:
    page.locator("button:visible").filter(has_text=re.compile(f"{re.escape(name)}$")).first.click()  # after its icon
    wait_idle(page)


def test_an_autoencoder_lesson_after_the_diverging_one_trains_at_its_own_rate(app_server, page):
    """"A learning rate that diverges" sets lr 10 000; "The 2-D code map" then loads the pretrained model, and Start
    trains it at a sensible rate (before, the lr stayed at 10 000 and the pretrained model diverged at once)."""
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    click(page, "A learning rate that diverges")
    page.locator("[data-testid='stAlertContentError']").filter(has_text="diverged").first.wait_for(timeout=60_000)
    click(page, "The 2-D code map")
    click(page, "Start")
    page.wait_for_selector("text=/step [1-9][0-9]* · epoch/", timeout=60_000)  # it trains
    click(page, "Pause")
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="source: ae-mnist-2d").first
    assert " · lr 0.001 · " in caption.inner_text(), caption.inner_text()
    assert page.locator("[data-testid='stAlertContentError']").filter(has_text="diverged").count() == 0
    assert_no_exception(page)


def test_the_vae_latent_2_vs_16_lesson_matches_its_sidebar_and_its_note_can_be_followed(app_server, page):
    """The lesson loads vae-mlp-bern-16: no box claims the sidebar differs from the run (it shows that very model), and
    the comparison its note describes (choose vae-conv-2d, press Load) works."""
    page.goto(app_server + "/vae")
    wait_idle(page)
    click(page, "Latent 2 vs 16")
    page.get_by_text("Current model (vae-mlp-bern-16)").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stAlert']").filter(has_text="differ from this run").count() == 0
    note = page.locator("[data-testid='stAlert']").filter(has_text="Latent 2 vs 16").first.inner_text()
    assert "choose vae-conv-2d under Pretrained" in note, note
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text="Checkpoint").click()
    page.keyboard.type("vae-conv-2d")  # the selectbox filters its options as one types
    page.keyboard.press("Enter")
    wait_idle(page)
    click(page, "Load pretrained vae-conv-2d")
    page.get_by_text("Current model (vae-conv-2d)").first.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stAlert']").filter(has_text="differ from this run").count() == 0
    assert_no_exception(page)


def copied_link(page) -> str:
    page.locator("[data-testid='stSidebar']").get_by_role("button", name=re.compile("Copy link")).click()
    code = page.locator("[data-testid='stPopoverBody'] code").first
    code.wait_for(timeout=10_000)
    link = code.inner_text().strip()
    page.keyboard.press("Escape")
    return link


def test_copy_link_holds_what_a_lesson_just_set(app_server, page):
    """After a lesson, "Copy link" gives the address the lesson made (before, the address from before the click: the
    link was built before the page's controls wrote their new values into the address)."""
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    click(page, "Code size 2 vs 32")
    page.wait_for_url(re.compile(r"ae-code=32"), timeout=30_000)  # the address bar has it
    link = copied_link(page)  # while the lesson's run trains (its ticks rerun the live view only)
    assert "ae-code=32" in link, link
    assert sorted(link.split("?", 1)[1].split("&")) == sorted(page.url.split("?", 1)[1].split("&")), (link, page.url)
    assert_no_exception(page)

"""End to end in a real Chromium: every page opens without an exception; the Autoencoder trains live."""
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from conftest import assert_no_exception, served, shot, wait_for_counter, wait_idle, wait_rendered

TICK_S = 0.4  # the live-training fragment's browser timer (pages/views/training.py live(every=...))
STEP = r"step ([0-9]+) ·"  # the training caption's step counter


def steps(page) -> int:
    """The step counter of the Autoencoder page's training caption."""
    return int(re.search(STEP, page.locator("text=/step [0-9]+ ·/").first.inner_text()).group(1))


def nav_links(page):
    return page.locator("[data-testid='stSidebarNav'] a")


def test_every_page_opens_without_exception(app_server, page):
    page.goto(app_server)
    wait_idle(page)
    assert "Generative models explorer" in page.locator("h1").first.inner_text()
    assert_no_exception(page)
    shot(page, "home")
    hrefs = [nav_links(page).nth(i).get_attribute("href") for i in range(nav_links(page).count())]
    assert len(hrefs) >= 2
    for href in hrefs:
        page.goto(href if href.startswith("http") else app_server + "/" + href.lstrip("/"))
        wait_idle(page)
        wait_rendered(page)  # images and charts drawn before the screenshot
        assert_no_exception(page)
        shot(page, "page-" + (href.rstrip("/").rsplit("/", 1)[-1] or "home"))


# the Autoencoder's loss curve on the page: a browser-drawn line chart titled "Reconstruction error" with a point
CURVE = ("() => [...document.querySelectorAll('.genlib-chart')].some(e => e.chart && "
         "e.chart.title === 'Reconstruction error' && e.chart.series.some(s => s.x.length > 0))")

def test_autoencoder_trains_live_and_draws_the_loss_curve(app_server, page):
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    assert not page.evaluate(CURVE)  # no curve before training
    page.wait_for_selector("[data-testid='stPlotlyChart']", timeout=30_000)  # the code map
    page.get_by_role("button", name=re.compile("Start")).click()
    # the fragment ticks by itself (a browser timer): the step counter climbs and the curve appears
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')]"
        ".some(e => /step ([3-9]|[0-9]{2,}) /.test(e.innerText))", timeout=60_000)
    page.wait_for_function(CURVE, timeout=60_000)  # the loss curve, drawn by the browser (views.live.chart)
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 1  # the code map
    wait_for_counter(page, STEP, steps(page) + 1)  # still training, tick after tick
    assert_no_exception(page)
    shot(page, "autoencoder-training")
    page.get_by_role("button", name=re.compile("Pause")).click()
    page.get_by_role("button", name=re.compile("Start")).wait_for()  # the full rerun that stops the timer is done
    wait_idle(page)
    a = steps(page)
    with pytest.raises(PlaywrightTimeout):  # paused means paused: no step for three ticks of the timer
        wait_for_counter(page, STEP, a + 1, timeout=3 * TICK_S * 1000)
    assert steps(page) == a
    assert_no_exception(page)


def test_bad_checkpoint_upload_shows_an_error_box_and_the_page_keeps_working(app_server, page, tmp_path):
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    page.get_by_text("Open a checkpoint file").click()
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x89PNG not a checkpoint at all" * 10)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bad))
    page.wait_for_selector("text=Could not open broken.safetensors", timeout=20_000)
    wait_idle(page)
    assert_no_exception(page)
    page.get_by_role("button", name=re.compile("Step")).click()  # still alive: a training tick works
    page.wait_for_function(CURVE, timeout=20_000)
    assert_no_exception(page)


def test_wrong_data_dir_shows_a_notice_in_the_browser(browser, tmp_path):
    with served(env={"GENLIB_DATA": str(tmp_path / "no-mnist-here")}) as url:
        pg = browser.new_page()
        pg.goto(url)
        wait_idle(pg)
        notice = pg.locator("[data-testid='stAlertContentWarning']").first.inner_text()
        assert "train-images-idx3-ubyte" in notice and "bundled" in notice
        assert_no_exception(pg)
        pg.close()


def test_first_visit_straight_to_a_page_uses_the_app_navigation(browser):
    """A fresh server whose very first visitor opens /autoencoder (not v1 'pages/' routing)."""
    with served() as url:
        pg = browser.new_page()
        pg.goto(url + "/autoencoder")
        wait_idle(pg)
        pg.wait_for_selector("h1:has-text('Autoencoder')")
        labels = [t.strip().splitlines()[-1] for t in pg.locator("[data-testid='stSidebarNav'] a").all_inner_texts()]
        assert "Home" in labels and "ui" not in labels and "app" not in labels, labels
        assert_no_exception(pg)
        pg.close()


def test_home_links_lead_into_the_pages(app_server, page):
    """Home: every page is linked with its one-line promise, and a "start here" link opens the page at its tab."""
    page.goto(app_server)
    wait_idle(page)
    # the page list's last link drawn (a cold server's first run of Home may outlast wait_idle's first quiet spell)
    page.locator("[data-testid='stPageLink'] a").filter(has_text="Langevin & SGLD lab").wait_for(timeout=60_000)
    links = page.locator("[data-testid='stPageLink'] a")
    targets = {(links.nth(i).get_attribute("href") or "").split("?")[0].rstrip("/").rsplit("/", 1)[-1]
               for i in range(links.count())}
    assert {"lecture", "autoencoder", "vae", "ebm", "rbm", "langevin"} <= targets, targets
    page.get_by_role("link", name=re.compile("Open the Langevin chains")).click()
    panel = page.get_by_role("tabpanel", name="Langevin chains", exact=True)
    panel.wait_for(state="visible", timeout=30_000)
    page.wait_for_selector("h1:has-text('Energy-based model')")
    page.wait_for_selector("text=step 0 of 256", timeout=60_000)  # the chains tab itself ran (only the open tab runs)
    assert "ebm-tab=Langevin" in page.url
    assert_no_exception(page)


def test_an_autoencoder_link_reproduces_the_run(app_server, browser):
    """Shareable state: ?ae-code=8&ae-seed=3 opens a run with code size 8 whose fresh weights come from seed 3 (the
    same reconstructions in two sessions; another seed, other ones)."""
    pictures = []
    for query in ("ae-code=8&ae-seed=3", "ae-code=8&ae-seed=3", "ae-code=8&ae-seed=4"):
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = ctx.new_page()
        page.goto(f"{app_server}/autoencoder?{query}")
        wait_idle(page)
        page.wait_for_selector("text=/code size 8 \\(layers 784–512–256–8\\) · step 0/")
        img = page.locator("[data-testid='stImage']").filter(has_text="their reconstructions").locator("img").first
        pictures.append(img.get_attribute("src"))
        assert page.locator("text=The code map is drawn for a 2-D code").count() == 1
        assert_no_exception(page)
        ctx.close()
    assert pictures[0] == pictures[1] and pictures[2] != pictures[0]

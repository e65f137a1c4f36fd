"""The lecture in a real Chromium at 1280 × 720, as a teacher projects it: walk from the first step to the last with
Next (a screenshot of each step under test-artifacts/lecture/) and again with the → key, back with ←, step a
slow-motion view, and open a step by its link on a fresh server. Each step's opening time on the warm server is
printed (and written to test-artifacts/lecture/timings.txt); DESIGN keeps speed targets out of the tests."""
import re
import time

import pytest

from conftest import ROOT, assert_no_exception
from harness import served, wait_idle
from pages.lecture_steps.steps import STEPS

OUT = ROOT / "test-artifacts" / "lecture"
VIEWPORT = {"width": 1280, "height": 720}
N = len(STEPS)
# drawn: every image loaded, every visible plotly chart drawn (a chart in a closed expander may wait until it opens),
# and no skeleton left (a widget whose code the browser loads on its first use shows one until then)
DRAWN = """() => [...document.images].every(i => i.complete)
  && [...document.querySelectorAll("[data-testid='stPlotlyChart']")]
       .every(c => c.getClientRects().length === 0 || c.querySelector('svg.main-svg'))
  && document.querySelectorAll("[data-testid='stSkeleton']").length === 0"""


def drawn(page) -> None:
    page.wait_for_function(DRAWN, timeout=120_000, polling=100)


def settle(page) -> None:
    """The run is over and the browser has drawn it."""
    wait_idle(page, timeout=120_000)
    drawn(page)
    wait_idle(page, timeout=120_000)


def heading(page) -> str:
    return page.locator("[data-testid='stMain'] h1").first.inner_text()


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@pytest.fixture
def lecture(browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    yield ctx.new_page()
    ctx.close()


# stamps the end of every script run (performance.now() when the app's state turns 'notRunning')
RUN_ENDS = """() => { if (window.__runEnds) return; window.__runEnds = [];
  new MutationObserver((records) => { for (const r of records)
      if (r.target.dataset.testid === 'stApp' && r.target.dataset.testScriptState === 'notRunning')
        window.__runEnds.push(performance.now()); })
    .observe(document.body, {attributes: true, subtree: true, attributeFilter: ['data-test-script-state']}); }"""


# [top, bottom] in pixels of the step's first picture (a chart, an image, a canvas), null when it has none
FIRST_PICTURE = """() => { const r = [...document.querySelectorAll("[data-testid='stMain'] :is(.js-plotly-plot, " +
    "[data-testid='stImage'] img, canvas)")].map(e => e.getBoundingClientRect())
  .find(r => r.width > 20 && r.height > 20); return r ? [r.top, r.bottom] : null; }"""


def walk_with_next(page, url: str, shots: bool) -> list[tuple[float, float]]:
    """From step 1 to the last with Next; returns, for steps 2..N, the seconds from the click to the end of the run
    it started, and to the browser's having drawn it (images, charts, widgets)."""
    page.goto(url + "/lecture?projector=true")
    settle(page)
    page.evaluate(RUN_ENDS)
    times = []
    for n, s in enumerate(STEPS, 1):
        assert heading(page) == s.title, n
        assert n == 1 or f"lecture-step={n}" in page.url, page.url
        assert_no_exception(page)
        if shots:  # the first walk: the step's picture within the fold, then a screenshot
            box = page.evaluate(FIRST_PICTURE)
            assert box is None or box[1] <= VIEWPORT["height"] + 1, (n, s.title, box)
            page.mouse.move(2, 2)  # no tooltip over the picture (it fades out)
            page.wait_for_timeout(400)
            page.screenshot(path=str(OUT / f"{n:02d}-{slug(s.title)}.png"))  # the viewport: what the room sees
        if n < N:
            t0 = page.evaluate("() => performance.now()")
            page.get_by_role("button", name="Next", exact=True).click()
            wait_idle(page, timeout=120_000)
            idle = page.evaluate("() => performance.now()")
            # the last run that ended after the click (a click may start more than one: a component's first event)
            ended = page.evaluate("t => { const e = window.__runEnds.filter(x => x > t); "
                                  "return e.length ? Math.max(...e) : null; }", t0)
            drawn(page)
            shown = page.evaluate("() => performance.now()")
            if ended is None:  # no state change seen (the app element was drawn anew): wait_idle's end less its settle
                ended = idle - 250
            times.append(((ended - t0) / 1000, (shown - t0) / 1000))
            settle(page)
    assert page.get_by_role("button", name="Next", exact=True).is_disabled()
    return times


def test_walk_every_step_with_next_and_time_each_on_a_warm_server(app_server, browser, lecture):
    OUT.mkdir(parents=True, exist_ok=True)
    walk_with_next(lecture, app_server, shots=True)  # also warms the server's caches
    ctx = browser.new_context(viewport=VIEWPORT)  # a new session (and a fresh browser cache) on the warm server
    try:
        times = walk_with_next(ctx.new_page(), app_server, shots=False)
    finally:
        ctx.close()
    lines = [f"{n:2d} {STEPS[n - 1].title:42s} run ended {ran:5.2f} s  drawn {drawn:5.2f} s"
             for n, (ran, drawn) in enumerate(times, 2)]
    report = "\n".join(["step opening times after Next, warm server, a new session (projector mode):", *lines])
    (OUT / "timings.txt").write_text(report + "\n")
    print(report)


def test_walk_with_the_arrow_keys(app_server, lecture):
    page = lecture
    page.goto(app_server + "/lecture?lecture-step=1")
    settle(page)
    for n in range(2, N + 1):
        page.keyboard.press("ArrowRight")
        page.wait_for_function("t => document.querySelector(\"[data-testid='stMain'] h1\")?.innerText === t",
                               arg=STEPS[n - 1].title, timeout=120_000)
        settle(page)
        assert f"lecture-step={n}" in page.url
        assert_no_exception(page)
    page.keyboard.press("ArrowRight")  # past the last step: it stays
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("t => document.querySelector(\"[data-testid='stMain'] h1\")?.innerText === t",
                           arg=STEPS[N - 2].title, timeout=120_000)
    settle(page)
    assert f"lecture-step={N - 1}" in page.url
    # typing in a field keeps the arrows: the step's number field moves its caret, not the lecture
    field = page.locator("[data-testid='stNumberInput'] input").first
    field.click()
    field.press("ArrowLeft")
    page.wait_for_timeout(500)
    wait_idle(page, timeout=120_000)
    assert heading(page) == STEPS[N - 2].title


def test_slow_motion_steps_forward_and_back_in_the_browser(app_server, lecture):
    page = lecture
    n = next(i for i, s in enumerate(STEPS, 1) if s.title.startswith("Gibbs sampling"))
    page.goto(app_server + f"/lecture?lecture-step={n}&projector=true")
    settle(page)
    where = page.get_by_text(re.compile(r"^Gibbs step \d+, part \d of 5$"))
    assert where.inner_text() == "Gibbs step 1, part 1 of 5"
    for k in range(2, 6):
        page.get_by_role("button", name="Step forward").click()
        settle(page)
        assert where.inner_text() == f"Gibbs step 1, part {k} of 5"
    page.get_by_role("button", name="Step forward").click()
    settle(page)
    assert where.inner_text() == "Gibbs step 2, part 1 of 5"
    page.get_by_role("button", name="Step back").click()
    settle(page)
    assert where.inner_text() == "Gibbs step 1, part 5 of 5"
    assert_no_exception(page)
    page.mouse.move(2, 2)
    page.wait_for_timeout(400)
    page.screenshot(path=str(OUT / f"{n:02d}-gibbs-part-5.png"))


def test_a_link_opens_the_lecture_at_its_step_on_a_fresh_server(browser):
    n = next(i for i, s in enumerate(STEPS, 1) if s.title.startswith("The MNIST EBM"))
    with served() as url:
        ctx = browser.new_context(viewport=VIEWPORT)
        try:
            page = ctx.new_page()
            page.goto(url + f"/lecture?lecture-step={n}")
            settle(page)
            assert heading(page) == STEPS[n - 1].title
            assert f"lecture-step={n}" in page.url
            assert_no_exception(page)
        finally:
            ctx.close()

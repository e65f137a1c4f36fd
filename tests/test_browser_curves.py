"""The training curves drawn by the browser (views.live.chart, live.js) in a real Chromium: on the Autoencoder page,
Start trains live and within 30 s the chart's series grow tick by tick; paused, the chart holds the run's history up
to the step the caption names (train and validation at the same steps, finite, the validation error falling), its
lines are on the canvas in their colours, the pointer over the plot reads the nearest step's values, the canvas
follows its column's width, and on a dark page its text is light."""
import re

from conftest import assert_no_exception, shot, wait_idle
from test_browser_lesson_truths import WAIT_S

# the first line chart: its data and its canvas's size
CHART = """() => { const e = document.querySelector('.genlib-chart'); if (!e || !e.chart) return null;
  const c = e.querySelector('canvas'), r = c.getBoundingClientRect();
  return {title: e.chart.title, xlabel: e.chart.xlabel, ylabel: e.chart.ylabel, log_y: e.chart.log_y,
          series: e.chart.series.map(s => ({name: s.name, x: s.x, y: s.y, color: s.color})),
          width: r.width, height: r.height, column: e.parentElement.getBoundingClientRect().width,
          color: getComputedStyle(e).color}; }"""
# how many pixels of the first chart's canvas are within 40 of the colour [r, g, b] (each channel)
COUNT = """([r, g, b]) => { const c = document.querySelector('.genlib-chart canvas');
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
  for (let o = 0; o < d.length; o += 4) if (d[o + 3] > 200 && Math.abs(d[o] - r) < 40 && Math.abs(d[o + 1] - g) < 40
    && Math.abs(d[o + 2] - b) < 40) n++;
  return n; }"""
BLUE, ORANGE = (0x00, 0x72, 0xB2), (0xE6, 0x9F, 0x00)  # viz.PALETTE's first two: train, validation


def points(page) -> int:
    c = page.evaluate(CHART)
    return len(c["series"][0]["x"]) if c and c["series"] else 0


def caption_step(page) -> int:
    return int(re.search(r"· step (\d+) ·", page.locator("[data-testid='stMain']").inner_text()).group(1))


def test_autoencoder_curves_grow_while_training_and_hold_the_history(app_server, page):
    page.goto(app_server + "/autoencoder")
    wait_idle(page, timeout=180_000)
    page.get_by_role("button", name=re.compile(r"Start$")).first.click()
    page.get_by_role("button", name=re.compile(r"Pause$")).first.wait_for(timeout=30_000)
    page.wait_for_function(f"() => ({CHART})() !== null", timeout=WAIT_S * 1000)
    first = points(page)
    # the series grow while training (a tick is a few hundred ms here; 30 s stretched by this machine's load)
    page.wait_for_function(f"() => {{ const c = ({CHART})(); return c && c.series[0].x.length >= {first + 3}; }}",
                           timeout=WAIT_S * 1000, polling=250)
    page.get_by_role("button", name=re.compile(r"Pause$")).first.click()
    wait_idle(page)
    page.wait_for_timeout(500)
    c = page.evaluate(CHART)
    assert (c["title"], c["xlabel"], c["ylabel"], c["log_y"]) == ("Reconstruction error", "training step",
                                                                   "MSE per pixel", True)
    lines = {s["name"]: s for s in c["series"]}
    assert list(lines) == ["train", "validation"] and lines["train"]["color"] == "#0072B2"
    train, val = lines["train"], lines["validation"]
    assert train["x"] == val["x"] and train["x"] == sorted(train["x"]) and len(train["x"]) >= first + 3
    assert train["x"][-1] == caption_step(page)  # the history up to the step the caption names
    assert all(y is not None and 0 < y < 1 for y in train["y"] + val["y"])  # a finite MSE per pixel of [0, 1] images
    assert val["y"][-1] < val["y"][0]  # training lowers the validation error
    # the lines are on the canvas, in their colours (not a blank canvas)
    assert page.evaluate(COUNT, list(BLUE)) > 50 and page.evaluate(COUNT, list(ORANGE)) > 50
    # the canvas is as wide as its column and follows it
    assert abs(c["width"] - c["column"]) < 2 and c["height"] == 320
    # the readout of the step under the pointer: its values, as the chart holds them
    canvas = page.locator(".genlib-chart canvas")
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 20, box["y"] + box["height"] / 2)
    tip = page.locator(".genlib-chart .tip")
    tip.wait_for(state="visible", timeout=5_000)
    text = tip.inner_text()
    assert f"training step {train['x'][-1]}" in text and "train: " in text and "validation: " in text, text
    got = float(re.search(r"validation: ([0-9.e+-]+)", text).group(1))
    assert abs(got - val["y"][-1]) <= 1e-3 * val["y"][-1], (got, val["y"][-1])
    page.mouse.move(5, 5)
    tip.wait_for(state="hidden", timeout=5_000)
    shot(page, "curves-ae-light")
    page.set_viewport_size({"width": 1000, "height": 1000})
    page.wait_for_function(f"() => {{ const c = ({CHART})(); return Math.abs(c.width - c.column) < 2 "
                           f"&& c.width < {c['width'] - 100}; }}", timeout=10_000)
    assert_no_exception(page)


def test_autoencoder_curves_are_readable_on_a_dark_page(app_server, browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    page = ctx.new_page()
    try:
        page.goto(app_server + "/autoencoder")
        wait_idle(page, timeout=180_000)
        page.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function(f"() => ({CHART})() !== null", timeout=60_000)
        wait_idle(page)
        bg = page.evaluate("() => getComputedStyle(document.querySelector(\"[data-testid='stApp']\")).backgroundColor")
        assert sum(map(int, re.findall(r"\d+", bg)[:3])) < 200, bg  # the page is dark
        ink = [int(v) for v in re.findall(r"\d+", page.evaluate(CHART)["color"])[:3]]
        assert sum(ink) > 500, ink  # the chart's text colour is light
        # and so are the pixels of its title, axes and labels: many light pixels, drawn in that colour
        assert page.evaluate(COUNT, ink) > 300
        page.locator(".genlib-chart").scroll_into_view_if_needed()
        shot(page, "curves-ae-dark")
        assert_no_exception(page)
    finally:
        ctx.close()

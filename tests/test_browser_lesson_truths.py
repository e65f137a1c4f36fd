"""Each lesson fixed here says what is on screen within 30 s of its click, in a fresh browser session: the numbers are
read from the page (the plotly charts' data, the live view's frames) and checked against the lesson's sentence, which
must name them. Before (7597b77): the VAE's β = 4 promised about 3 nats after 300 steps (87 s here), the RBM's PCD
run −160 (it reached about −171), CD-1 from noise a comparison with a free energy no chart showed, AIS a narrow band
(50 nats), the 2-D EBM's eight Gaussians separate spots within a minute (still joined at 520 iterations) and two
moons a loss near 0 (about −1 to −3)."""
import math
import os
import re
import time

import pytest

from conftest import assert_no_exception, wait_idle
from genlib import checkpoints

# what a lesson's sentence may take to come true after the click: 30 s, stretched by the load of this shared machine
# beyond its cores (other test runs slow the app's ticks down; at most 4 times)
WAIT_S = 30 * min(4.0, max(1.0, os.getloadavg()[0] / (os.cpu_count() or 1)))

# every chart on the page: its title and traces (name, x, y, z), the plotly charts' and the line charts the browser
# draws from data (views.live.chart: the training curves; z null)
PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(p => ({
  title: (p.layout && p.layout.title && (p.layout.title.text ?? p.layout.title)) || '',
  data: (p._fullData || p.data || []).map(t => ({name: t.name || '', x: Array.from(t.x || []), y: Array.from(t.y || []),
                                  z: t.z ? Array.from(t.z, r => Array.from(r)) : null}))})).concat(
  [...document.querySelectorAll('.genlib-chart')].filter(e => e.chart).map(e => ({title: e.chart.title,
    data: e.chart.series.map(s => ({name: s.name, x: Array.from(s.x), y: Array.from(s.y), z: null}))})))"""
# the live view's frame on show: its step and the mean of one of its float parts
LIVE_FRAME = """(part) => { const el = document.querySelector('.genlib-live'); const v = el && el.parentElement.live;
  if (!v) return null; const f = v.frames[v.shown - v.base]; if (!f || !f.parts[part]) return null;
  const a = Array.from(f.parts[part]); return {step: f.step, mean: a.reduce((s, e) => s + e, 0) / a.length,
  min: Math.min(...a), max: Math.max(...a)}; }"""


def goto(page, url: str) -> None:
    page.goto(url)
    wait_idle(page, timeout=180_000)
    assert_no_exception(page)


def click_lesson(page, title: str) -> float:
    """Click the lesson and return the time of the click."""
    page.locator("button:visible").filter(has_text=re.compile(f"{re.escape(title)}$")).first.click()
    return time.monotonic()


def note(page, title: str) -> str:
    box = page.locator("[data-testid='stAlert']").filter(has_text=title).first
    box.wait_for(timeout=30_000)
    return box.inner_text()


def plot(page, title_part: str) -> dict | None:
    return next((p for p in page.evaluate(PLOTS) if title_part in p["title"]), None)


def caption_count(page, pattern: str) -> int:
    """The count that `pattern` (one group of digits) finds in the page's text, 0 when none."""
    m = re.search(pattern, page.locator("body").inner_text())
    return int(m.group(1)) if m else 0


def until(clicked: float, done, poll: float = 1.0):
    """Poll `done()` until it returns a true value or WAIT_S after the click; its last value."""
    value = done()
    while not value and time.monotonic() - clicked < WAIT_S:
        time.sleep(poll)
        value = done()
    return value


def test_rbm_pcd_reaches_about_minus_172_at_step_400(app_server, page):
    """PCD with 16 hidden units: its exact log-likelihood at step 400 (about 30 s) is about −172 nats, as the note
    says (before: "about −160 nats after 30 s", which it reaches only after about 1200 steps)."""
    goto(page, app_server + "/rbm")
    clicked = click_lesson(page, "CD-1 vs PCD (2/2)")
    text = note(page, "CD-1 vs PCD (2/2)")
    assert "about −172 nats at step 400" in text, text

    def at_400() -> float | None:  # the exact log-likelihood's first point at step 400 or later
        fig = plot(page, "exact log-likelihood")
        exact = [t for t in (fig or {"data": []})["data"] if "exact" in t["name"] and "previous" not in t["name"]]
        return next((y for x, y in zip(exact[0]["x"], exact[0]["y"]) if x >= 400 and y is not None), None) \
            if exact else None

    until(clicked, at_400)
    last = at_400()
    assert last is not None, caption_count(page, r"step (\d+) · epoch")
    assert -176 < last < -166, last  # about −172, past CD-1's −175
    assert_no_exception(page)


@pytest.mark.skipif(not checkpoints.resolve("rbm-500-cd1").exists(), reason="needs checkpoints/rbm-500-cd1")
def test_rbm_cd1_chains_from_noise_sink_below_the_digits_free_energy(app_server, page):
    """rbm-500-cd1's chains from noise: within 30 s their free energy (the live view's traces) is about −300, far
    below the −265 of validation digits that the note now states (before, it asked to compare with a free energy of
    digits that no chart shows)."""
    goto(page, app_server + "/rbm")
    clicked = click_lesson(page, "CD-1 from noise")
    text = note(page, "CD-1 from noise")
    assert "−265" in text and "about −300" in text, text
    fe = until(clicked, lambda: (lambda f: f if f and f["step"] >= 300 else None)(page.evaluate(LIVE_FRAME, "fe")))
    fe = fe or page.evaluate(LIVE_FRAME, "fe")
    assert fe is not None and fe["step"] >= 100, fe
    assert fe["mean"] < -285 and fe["min"] < -330, fe  # about −300, some −370: far below the digits' −265
    assert_no_exception(page)


# the rows of the page's first data frame, read from the grid's accessible table (the grid itself is a canvas)
DATAFRAME_ROWS = """() => { const t = document.querySelector("[data-testid='stDataFrame'] table"); if (!t) return [];
  const head = [...t.querySelectorAll("th, [role=columnheader]")].map(c => c.textContent.trim()).filter(Boolean);
  const cells = [...t.querySelectorAll("[role=gridcell]")].map(c => c.textContent.trim());
  const n = head.length, rows = [];
  for (let k = 0; n && k + n <= cells.length; k += n) rows.push(Object.fromEntries(head.map((h, i) => [h, cells[k + i]])));
  return rows; }"""


@pytest.mark.skipif(not (checkpoints.resolve("rbm-16").exists() and checkpoints.resolve("rbm-16-cd1").exists()),
                    reason="needs checkpoints/rbm-16 and rbm-16-cd1")
def test_rbm_ais_100_band_is_wide_as_the_note_says(app_server, page):
    """AIS with 100 temperatures, the table the lesson fills, read from the page: it overstates the likelihood by 1
    to 3 nats and its band is about 50 nats wide, as the note says (before: "a narrow band")."""
    goto(page, app_server + "/rbm")
    clicked = click_lesson(page, "AIS, 100 steps")
    text = note(page, "AIS, 100 steps")
    assert "about 50 nats wide" in text, text
    rows = until(clicked, lambda: [r for r in page.evaluate(DATAFRAME_ROWS) if r.get("temperatures") == "100"])
    if len(rows) < 2:  # the two annealing runs take longer on a loaded machine
        page.wait_for_function(f"() => ({DATAFRAME_ROWS})().length >= 2", timeout=240_000)
        rows = page.evaluate(DATAFRAME_ROWS)
    assert [r["temperatures"] for r in rows] == ["100", "100"], rows
    for r in rows:
        low, high = map(float, r["AIS band (±3 s.e.)"].strip("[]").split(","))
        ll = float(r["AIS log-likelihood"])
        assert 35 < high - low < 70, r  # about 50 nats
        assert high - ll > 0.8 * (high - low), r  # almost all of it above the estimate
        assert 0.5 < float(r["AIS − exact"]) < 4, r  # 1 to 3 nats
    assert_no_exception(page)


def open_ebm2d(page, app_server: str) -> None:
    goto(page, app_server + "/langevin")
    page.get_by_role("tab", name="2-D EBM", exact=True).click()
    page.get_by_role("tabpanel", name="2-D EBM", exact=True).wait_for(state="visible", timeout=20_000)
    wait_idle(page, timeout=60_000)


def test_ebm2d_eight_gaussians_forms_a_joined_ring_within_30_s(app_server, page):
    """After 30 s the heat map's low energy lies on the ring of the eight Gaussians (lower there than at the centre
    and the corners), and the note says the ring is still joined then and separates only after about 1000 iterations
    (before: "within a minute ... eight separate spots"; at 520 iterations, 75 s, it was still joined)."""
    open_ebm2d(page, app_server)
    clicked = click_lesson(page, "Eight Gaussians separate")
    text = note(page, "Eight Gaussians separate")
    assert "Within 30 s" in text and "still joined" in text and "about 1000 iterations" in text, text
    until(clicked, lambda: caption_count(page, r"iteration (\d+) · eight_gaussians") >= 200)
    heat = next((p for p in page.evaluate(PLOTS) if any(t["z"] for t in p["data"])), None)
    assert heat is not None
    t = next(t for t in heat["data"] if t["z"])
    z, xs, ys = t["z"], t["x"], t["y"]

    def at(x: float, y: float) -> float:  # the plotted value at the grid point nearest (x, y)
        i = min(range(len(ys)), key=lambda k: abs(ys[k] - y))
        j = min(range(len(xs)), key=lambda k: abs(xs[k] - x))
        return z[i][j]

    ring = [at(2.5 * math.cos(a * math.pi / 4), 2.5 * math.sin(a * math.pi / 4)) for a in range(8)]
    centre, corners = at(0, 0), [at(sx * 3.8, sy * 3.8) for sx in (-1, 1) for sy in (-1, 1)]
    # the map may plot E or −E: the ring must be on the side of the data, away from the centre and the corners
    low = sum(ring) / 8
    assert low > centre and low > max(corners), (ring, centre, corners)  # z is −E: bright (high) on the ring
    assert_no_exception(page)


def test_ebm2d_two_moons_loss_falls_below_zero_within_30_s(app_server, page):
    """Two moons: after 30 s the loss E_data − E_neg is below 0 (about −1), as the note now says (before: "hover near
    0"; it fell to about −3)."""
    open_ebm2d(page, app_server)
    clicked = click_lesson(page, "Two moons")
    text = note(page, "Two moons")
    assert "fall below 0" in text and "near 0" not in text, text
    until(clicked, lambda: caption_count(page, r"iteration (\d+) · two_moons") >= 200)
    fig = plot(page, "loss E_data")
    assert fig is not None
    loss = next(t for t in fig["data"] if t["name"] == "E_data − E_neg")
    tail = loss["y"][-5:]
    assert tail and sum(tail) / len(tail) < -0.4, (loss["name"], loss["y"][-10:])
    assert_no_exception(page)

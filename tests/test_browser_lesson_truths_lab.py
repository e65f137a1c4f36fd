"""The Langevin lab's Samplers and SGLD lessons say what is on screen within 30 s of the click, in a fresh browser
session at 1400 x 900: each test reads the chains' positions and the metrics line from the live view's frames (the
frames the browser holds, pages/views/live.js) and checks the lesson's sentence against them.

"ULA blows up at η = 0.5": its dead-chain count (300) is checked by test_browser_langevin.py
(test_a_lesson_plays_by_itself_and_dead_chains_warn); here only what it says of MALA. Before (4201991) that sentence
said MALA "still samples p": after 30 s its KL was 0.4 to 0.6 against a noise floor of 0.2 (it accepts 14 % of its
moves and mixes slowly)."""
import re

import numpy as np
import pytest

from conftest import assert_no_exception, wait_idle
from test_browser_lesson_truths import click_lesson, note, until

# the last `last` frames held by the live view on screen (0: all): step, caption and the named parts (positions
# [x1, y1, x2, y2, ...]; a dead chain's NaN as null), and the scene's exact marginals ({x, p} for x1 and x2; null
# without marginals)
FRAMES = """([parts, last]) => { const el = [...document.querySelectorAll('.genlib-live')].find(e => e.getClientRects().length);
  const v = el && el.parentElement.live; if (!v || !v.scene) return null;
  const m = v.scene.rows.flat().find(p => p.kind === 'marginals');
  return {exact: m ? m.exact : null, frames: v.frames.slice(-last).map(f => ({step: f.step, caption: f.caption,
    parts: Object.fromEntries(parts.map(p => [p, Array.from(f.parts[p] || [], x => isFinite(x) ? x : null)]))}))}; }"""


@pytest.fixture
def page(browser):  # a fresh session in a 1400 x 900 window
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    yield ctx.new_page()
    ctx.close()


def lesson(page, app_server: str, tab: str, title: str) -> float:
    """Open the lab at `tab`, click the lesson, check its note is shown; the time of the click."""
    page.goto(f"{app_server}/langevin?lv-tab={tab}")
    wait_idle(page, timeout=180_000)
    clicked = click_lesson(page, title)
    note(page, title)
    return clicked


def held(page, parts: tuple[str, ...], last: int = 0) -> dict | None:
    """The live view's last frames (0: all held): {"steps", "captions", name: positions [frames, chains, 2] (NaN:
    dead), "exact"}."""
    got = page.evaluate(FRAMES, [list(parts), last])
    if not got or not got["frames"]:
        return None
    out = {"steps": [f["step"] for f in got["frames"]], "captions": [f["caption"] for f in got["frames"]],
           "exact": got["exact"]}
    for p in parts:
        out[p] = np.array([[np.nan if v is None else v for v in f["parts"][p]] for f in got["frames"]],
                          dtype=float).reshape(len(got["frames"]), -1, 2)
    return out


def number(caption: str, pattern: str) -> float:
    m = re.search(pattern, caption)
    assert m, (pattern, caption)
    return float(m.group(1))


def after(page, parts: tuple[str, ...], step: int, claim, last: int = 0):
    """A poll for `until`: the held frames (the `last` ones) once the newest is at `step` or later and
    `claim(frames)` holds, else None."""
    def ready():
        f = held(page, parts, last)
        return f if f is not None and f["steps"][-1] >= step and claim(f) else None
    return ready


def exact_std(exact: list[dict]) -> np.ndarray:
    """The standard deviations of x1 and x2 under the exact marginals the page draws (dotted)."""
    out = []
    for m in exact:
        x, p = np.array(m["x"]), np.array(m["p"])
        w = p / p.sum()
        out.append(np.sqrt((w * (x - (w * x).sum()) ** 2).sum()))
    return np.array(out)


# ---- Samplers -----------------------------------------------------------------------------------------------------

def test_sigma_sqrt_eta_ula_marginals_narrower_than_p_mala_on_p(app_server, page):
    """σ = √η: ULA's marginals are narrower than the exact p (about 1/√2 of its width: p² at T = ½), MALA's match p."""
    clicked = lesson(page, app_server, "Samplers", "σ = √η samples p², not p")

    def ratios(f):  # ULA's and MALA's standard deviations (x1, x2) over the exact p's, at the newest frame
        s = exact_std(f["exact"])
        return [np.nanstd(f[n][-1], axis=0) / s for n in ("ULA", "MALA")]

    def claim(f):
        ula, mala = ratios(f)
        return (ula < 0.82).all() and (abs(mala - 1) < 0.15).all()

    f = until(clicked, after(page, ("ULA", "MALA"), 200, claim, 1)) or held(page, ("ULA", "MALA"), 1)
    assert f is not None and f["steps"][-1] >= 200, f and f["steps"][-1]
    assert claim(f), (f["steps"][-1], ratios(f))  # ULA about 0.71 (1/√2), MALA about 1
    assert_no_exception(page)


def test_eta_half_mala_rejects_most_moves_and_stays_in_the_picture(app_server, page):
    """η = 0.5: MALA loses no chain, accepts few moves (about 14 %) and, mixing slowly, is still above the KL's noise
    floor after 30 s, as the note now says."""
    clicked = lesson(page, app_server, "Samplers", "ULA blows up at η = 0.5")
    text = note(page, "ULA blows up at η = 0.5")
    assert "acceptance about 14 %" in text and "still samples p" not in text, text

    def metrics(f):
        cap = f["captions"][-1]
        return (np.isfinite(f["MALA"][-1]).all(), number(cap, r"MALA acceptance ([0-9.]+)%"),
                number(cap, r"MALA ([0-9.]+) \(noise floor"), number(cap, r"noise floor ([0-9.]+)"))

    def claim(f):
        live, acc, kl, floor = metrics(f)
        return live and 8 < acc < 25 and kl > floor + 0.05

    f = until(clicked, after(page, ("MALA",), 100, claim, 1)) or held(page, ("MALA",), 1)
    assert f is not None and claim(f), f and (f["steps"][-1], metrics(f))
    assert_no_exception(page)


def test_small_steps_ula_and_mala_agree_and_mala_accepts_almost_all(app_server, page):
    """η = 0.01 on the banana: MALA accepts almost every move (over 97 %), and both KLs sit near the noise floor and
    near each other."""
    clicked = lesson(page, app_server, "Samplers", "Small steps: ULA ≈ MALA")

    def metrics(f):
        cap = f["captions"][-1]
        return (number(cap, r"MALA acceptance ([0-9.]+)%"), number(cap, r"ULA ([0-9.]+), MALA"),
                number(cap, r"MALA ([0-9.]+) \(noise floor"), number(cap, r"noise floor ([0-9.]+)"))

    def claim(f):
        acc, ula, mala, floor = metrics(f)
        return acc > 97 and abs(ula - mala) < 0.08 and max(ula, mala) < 1.5 * floor

    f = until(clicked, after(page, ("ULA",), 400, claim, 1)) or held(page, ("ULA",), 1)
    assert f is not None and claim(f), f and (f["steps"][-1], metrics(f))
    assert_no_exception(page)


def test_large_steps_widen_ula_across_the_narrow_direction(app_server, page):
    """η = 0.1, σ = √(2η): ULA's variance across the narrow direction (1, −1)/√2 of the correlated Gaussian is well
    above MALA's (about twice), and its KL stays above the noise floor and MALA's."""
    clicked = lesson(page, app_server, "Samplers", "Large steps bias ULA even at T = 1")
    across = np.array([1.0, -1.0]) / np.sqrt(2)  # the narrow direction of Σ = [[1, 0.9], [0.9, 1]]

    def metrics(f):
        cap = f["captions"][-1]
        var = [np.nanvar(f[n][-1] @ across) for n in ("ULA", "MALA")]
        return (var[0] / var[1], number(cap, r"ULA ([0-9.]+), MALA"), number(cap, r"MALA ([0-9.]+) \(noise floor"),
                number(cap, r"noise floor ([0-9.]+)"))

    def claim(f):
        ratio, ula, mala, floor = metrics(f)
        return ratio > 1.4 and ula > 1.3 * floor and ula > mala + 0.08

    f = until(clicked, after(page, ("ULA", "MALA"), 100, claim, 1)) or held(page, ("ULA", "MALA"), 1)
    assert f is not None and claim(f), f and (f["steps"][-1], metrics(f))
    assert_no_exception(page)


# ---- SGLD ---------------------------------------------------------------------------------------------------------

METHODS = ("SGD", "SGLD", "full-batch Langevin")


def kl(caption: str, name: str) -> float:
    return number(caption, re.escape(name) + r" [0-9]+% / ([0-9.]+)")


def test_sgd_stays_in_one_mode_while_sgld_chains_visit_both(app_server, page):
    """Over the frames held (the last 600 at most): in their second half no SGD chain changes the sign of θ₂, while
    at least 90 % of the SGLD chains have been on both sides."""
    clicked = lesson(page, app_server, "SGLD", "SGD finds one mode, SGLD visits both")

    def metrics(f):
        sgd = f["SGD"][len(f["steps"]) // 2:, :, 1]
        sgld = f["SGLD"][:, :, 1]
        return (int(((sgd > 0).any(0) & (sgd < 0).any(0)).sum()), float(((sgld > 0).any(0) & (sgld < 0).any(0)).mean()))

    def claim(f):
        sgd_both, sgld_both = metrics(f)
        return sgd_both == 0 and sgld_both >= 0.9

    f = until(clicked, after(page, ("SGD", "SGLD"), 1000, claim)) or held(page, ("SGD", "SGLD"))
    assert f is not None and f["steps"][-1] >= 1000 and claim(f), f and (f["steps"][-1], metrics(f))
    assert_no_exception(page)


def test_welling_teh_schedule_shrinks_the_step_and_sgld_approaches_full_batch(app_server, page):
    """γ = 0.55: ε at the newest frame is under a fifth of the first frame's, SGLD's chains change mode less often in
    the second half of the frames than in the first, and its KL is within 0.1 of full-batch Langevin's."""
    clicked = lesson(page, app_server, "SGLD", "Welling & Teh's schedule: γ = 0.55")

    def metrics(f):
        steps = [c for c in f["captions"] if "ε = —" not in c]  # frame 0 has taken no step yet
        eps = [number(c, r"ε = ([0-9.e+-]+) ·") for c in (steps[0], steps[-1])]
        hops = np.diff(np.sign(f["SGLD"][:, :, 1]), axis=0) != 0
        k = len(hops) // 2
        return eps, int(hops[:k].sum()), int(hops[k:].sum()), kl(f["captions"][-1], "SGLD"), \
            kl(f["captions"][-1], "full-batch Langevin")

    def claim(f):
        (e0, e1), first, second, sgld, full = metrics(f)
        return e1 < e0 / 5 and first > second and abs(sgld - full) < 0.1

    f = until(clicked, after(page, ("SGLD",), 1000, claim)) or held(page, ("SGLD",))
    assert f is not None and claim(f), f and (f["steps"][0], f["steps"][-1], metrics(f))
    assert_no_exception(page)


def test_minibatch_of_one_widens_sgld_and_keeps_its_kl_far_above_full_batch(app_server, page):
    """n = 1: SGLD's cloud is wider in θ₁ than full-batch Langevin's (by over 30 %) and its KL over ten times as
    large."""
    clicked = lesson(page, app_server, "SGLD", "Minibatch noise: n = 1")

    def metrics(f):
        half = len(f["steps"]) // 2
        wide = [np.nanstd(f[n][half:, :, 0]) for n in ("SGLD", "full-batch Langevin")]
        cap = f["captions"][-1]
        return wide[0] / wide[1], kl(cap, "SGLD"), kl(cap, "full-batch Langevin")

    def claim(f):
        ratio, sgld, full = metrics(f)
        return ratio > 1.3 and sgld > 10 * full

    parts = ("SGLD", "full-batch Langevin")
    f = until(clicked, after(page, parts, 1000, claim)) or held(page, parts)
    assert f is not None and claim(f), f and (f["steps"][-1], metrics(f))
    assert_no_exception(page)

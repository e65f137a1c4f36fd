"""End to end, in a fresh browser session each, as a newcomer meets them: the chain views' Play button and status tell
the truth and the chains go on as long as they should.

- A lesson clicked on the EBM page's "Langevin chains" tab plays the chains (the step climbs) with the button reading
  Pause; it once said "Playing" while the picture stayed at step 2 and the button read Play.
- While a lesson's chains play on the EBM page (opened from another tab), the button reads Pause, not Play.
- A chain at its last step says it finished, its button reads Replay, and Replay runs it again from step 0 with the
  same seed; Play once did nothing there, and said nothing.
- The RBM's "β < 1 and β > 1" lesson plays on past 200 frames (the view keeps the last ones); it once stopped at
  its 200-frame cap, about 20 s in.

The helpers read what a student sees (the step in the chains' caption, the Play button's label), so they read the same
on the earlier designs of these views."""
import re

import pytest

from conftest import assert_no_exception, open_tab, shot, wait_idle
from genlib import checkpoints

LABELS = ("Play", "Pause", "Resume", "Replay")
# the label of the chains' Play button (the first of the labels on a visible button) and the step in the chains'
# caption, read together in one go
NOW = """(pattern) => {
  const buttons = [...document.querySelectorAll("button")].filter((b) => b.offsetParent !== null)
    .map((b) => b.innerText.trim());
  const label = ["Play", "Pause", "Resume", "Replay"].find((l) => buttons.some((t) => t.endsWith(l))) || "";
  const m = document.body.innerText.match(new RegExp(pattern));
  return { step: m ? +m[1] : -1, label };
}"""
# every (step, label) seen, polled every 50 ms from the moment it is called
RECORD = """(pattern) => { window.__seen = []; setInterval(() => {
  const now = (""" + NOW + """)(pattern), last = window.__seen[window.__seen.length - 1];
  if (!last || last.step !== now.step || last.label !== now.label) window.__seen.push(now);
}, 50); }"""
EBM_STEP = r"step ([0-9]+) of 64"
NEEDS_RBM_500 = pytest.mark.skipif(not checkpoints.resolve("rbm-500").exists(), reason="needs rbm-500")


def now(page, pattern: str) -> dict:
    return page.evaluate(NOW, pattern)


def wait_until(page, pattern: str, at_least: int, timeout: float) -> dict:
    """Wait until the step reaches `at_least`, or the chains stop (the button reads Play or Replay again) after they
    started; returns what was seen then ({step, label})."""
    page.wait_for_function("([p, n]) => { const s = (" + NOW + ")(p); return s.step >= n || "
                           "(s.label !== 'Pause' && s.label !== '' && s.step > 0 && window.__started); }",
                           arg=[pattern, at_least], timeout=timeout, polling=50)
    return now(page, pattern)


def started(page) -> None:
    """From now on a button back at Play or Replay means the chains stopped."""
    page.evaluate("() => { window.__started = true; }")


def seen(page) -> list[dict]:
    return page.evaluate("() => window.__seen")


@pytest.mark.parametrize("lesson", ["Short-run chains from noise", "Chains from the replay buffer"])
def test_a_lesson_clicked_on_the_ebm_chains_tab_plays_them(app_server, page, lesson):
    page.goto(app_server + "/ebm")
    wait_idle(page)
    open_tab(page, "Langevin chains")
    page.wait_for_selector("text=step 0 of 256")
    page.evaluate(RECORD, EBM_STEP)
    page.get_by_role("button", name=lesson, exact=True).click()
    page.wait_for_selector("text=/step [0-9]+ of 64/", timeout=30_000)  # the lesson's settings: 64 steps, 2 a frame
    started(page)
    got = wait_until(page, EBM_STEP, 12, timeout=40_000)
    assert got["step"] >= 12, (f"at step {got['step']} of 64 the button read {got['label']}: the chains should go on, "
                               "the button reading Pause")
    shot(page, "defect-ebm-lesson-on-the-chains-tab")
    playing = [s for s in seen(page) if 0 < s["step"] < 64]
    assert playing and all(s["label"] == "Pause" for s in playing), playing  # never "Play" while it plays
    assert_no_exception(page)


def test_while_a_lesson_plays_the_ebm_chains_the_button_reads_pause(app_server, page):
    page.goto(app_server + "/ebm")  # the Train tab
    wait_idle(page)
    page.evaluate(RECORD, EBM_STEP)
    page.get_by_role("button", name="Chains from the replay buffer", exact=True).click()
    page.get_by_role("tab", name="Langevin chains", selected=True).wait_for(timeout=30_000)
    page.wait_for_selector("text=/step [0-9]+ of 64/", timeout=30_000)
    started(page)
    got = wait_until(page, EBM_STEP, 12, timeout=40_000)
    assert got["step"] >= 12, (f"at step {got['step']} of 64 the button read {got['label']}: the chains should go on, "
                               "the button reading Pause")
    playing = [s for s in seen(page) if 0 < s["step"] < 64]
    assert playing and all(s["label"] == "Pause" for s in playing), playing
    assert_no_exception(page)


def test_a_finished_chain_says_so_and_replays_from_step_0(app_server, page):
    pattern = r"step ([0-9]+) of 32"
    page.goto(app_server + "/ebm?ebm-tab=Langevin+chains&ebm-total=32&ebm-per=8&ebm-n=4&ebm-seed=3")
    wait_idle(page)
    page.wait_for_selector("text=step 0 of 32")
    page.get_by_role("button", name=re.compile("Play$")).first.click()
    page.wait_for_function("(p) => (" + NOW + ")(p).step === 32", arg=pattern, timeout=60_000)
    # at its last step: the button says what it does now, the status line says why the chains stopped
    page.wait_for_function("(p) => (" + NOW + ")(p).label === 'Replay'", arg=pattern, timeout=20_000)
    wait_idle(page)
    assert "Finished" in page.locator(".genlib-live .status").inner_text()
    end = page.locator(".genlib-live canvas").first.evaluate("c => c.toDataURL()")
    shot(page, "defect-ebm-finished")
    page.evaluate(RECORD, pattern)
    page.get_by_role("button", name=re.compile("Replay$")).first.click()
    page.wait_for_function("(p) => { const s = (" + NOW + ")(p); return s.label === 'Replay' && s.step === 32 && "
                           "window.__seen.some((x) => x.step < 32); }", arg=pattern, timeout=60_000)
    steps = [s["step"] for s in seen(page)] + [now(page, pattern)["step"]]  # the last one may not be recorded yet
    again = steps[next(i for i, s in enumerate(steps) if s < 32):]
    assert again[0] <= 8 and again == sorted(again) and again[-1] == 32, steps  # from the start, up to the end again
    wait_idle(page)
    # the replay is a new run from step 0 (the old frames are gone, the scrubber starts at step 0), from the same seed
    scrub = page.locator(".genlib-live .scrub")
    scrub.wait_for(state="visible", timeout=10_000)
    assert page.locator(".genlib-live").get_attribute("data-held") == "5"  # steps 0, 8, 16, 24, 32
    assert page.locator(".genlib-live canvas").first.evaluate("c => c.toDataURL()") == end
    scrub.fill(scrub.get_attribute("min"))
    assert page.locator(".genlib-live .cap").inner_text().startswith("step 0 of 32")
    assert_no_exception(page)


@NEEDS_RBM_500
def test_the_rbm_temperature_lesson_plays_past_200_frames(app_server, page):
    pattern = r"p\(v\|h\) · step ([0-9]+)"
    page.goto(app_server + "/rbm")
    wait_idle(page, timeout=180_000)
    page.get_by_role("button", name="β < 1 and β > 1", exact=True).click()
    page.wait_for_function("(p) => (" + NOW + ")(p).step > 0", arg=pattern, timeout=60_000)
    started(page)
    # 10 Gibbs steps a frame (the lesson's setting): 210 frames are step 2100, about 21 s at 10 frames/s
    got = wait_until(page, pattern, 2100, timeout=180_000)
    assert got["step"] >= 2100, f"the chains stopped at step {got['step']} (frame {got['step'] // 10})"
    assert got["label"] == "Pause"
    assert int(page.locator(".genlib-live").get_attribute("data-shown")) > 200  # frames played in the browser
    shot(page, "defect-rbm-past-200-frames")
    page.get_by_role("button", name=re.compile("Pause$")).first.click()
    wait_idle(page)
    assert_no_exception(page)

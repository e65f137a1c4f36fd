"""Screenshots of every live view, before Play, playing (or training) and paused, for comparing two versions by eye.

    .venv/bin/python bench/shots_live.py --out DIR [--only NAME ...] [--play-seconds 6]

One fresh server for all views; one fresh Chromium context (1400 x 900) per view. Per view: open it, scroll its run
buttons to the top of the window, screenshot (NAME-0-initial.png), press Play / Start, wait --play-seconds,
screenshot (NAME-1-playing.png), press Pause, wait until the page is idle, screenshot (NAME-2-paused.png). Each line
printed says what the browser showed (frames counted by the player, if it has a counter). Nothing is asserted.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_live import shown_js  # noqa: E402
from tools.served import launch_chromium, served, wait_idle, wait_rendered  # noqa: E402

VIEWPORT = {"width": 1400, "height": 900}
# name -> (path, tab to click or None, the button that starts it)
VIEWS = {
    "rbm-gibbs-chains": ("/rbm", "Gibbs chains", "Play"),
    "ebm-langevin-chains": ("/ebm", "Langevin chains", "Play"),
    "langevin-samplers": ("/langevin", "Samplers", "Play"),
    "langevin-sgld": ("/langevin", "SGLD", "Play"),
    "langevin-ebm2d": ("/langevin", "2-D EBM", "Start"),
    "ae-train": ("/autoencoder", None, "Start"),
    "vae-train": ("/vae", "Train", "Start"),
    "rbm-train": ("/rbm", "Train", "Start"),
    "ebm-train": ("/ebm", "Train", "Start"),
}


def button(page, label: str):
    return page.locator("button:visible").filter(has_text=re.compile(f"{label}$")).first


def to_top(page, label: str) -> None:
    """Scroll the run buttons' row (the button `label`) to the top of the window: the live view is right under it."""
    b = button(page, label)
    if b.count():
        b.evaluate("(e) => { const row = e.closest(\"[data-testid='stHorizontalBlock']\") || e;"
                   " row.scrollIntoView({block: 'start'}); let p = row.parentElement;"
                   " while (p && p.scrollHeight <= p.clientHeight) p = p.parentElement;"
                   " if (p) p.scrollTop -= 70; }")  # below Streamlit's header bar
    page.wait_for_timeout(300)


def snap(page, path: Path) -> None:
    """A screenshot once the images have loaded and the plotly charts have drawn (at most 10 s: a live view may
    redraw them all the time)."""
    try:
        wait_rendered(page, timeout=10_000)
    except Exception:  # noqa: BLE001 - take it as it is
        pass
    page.screenshot(path=str(path))


def shoot(url: str, name: str, out: Path, play_s: float, browser) -> str:
    path, tab, start = VIEWS[name]
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(120_000)
    page = ctx.new_page()
    try:
        page.goto(url + path, timeout=120_000)
        wait_idle(page, timeout=120_000)
        if tab:
            page.get_by_role("tab", name=tab, exact=True).click()
            wait_idle(page, timeout=120_000)
        to_top(page, start)
        snap(page, out / f"{name}-0-initial.png")
        button(page, start).click()
        page.wait_for_timeout(1500)
        to_top(page, "Pause")
        page.wait_for_timeout(int(play_s * 1000))
        shown = page.evaluate(shown_js())
        snap(page, out / f"{name}-1-playing.png")
        paused = button(page, "Pause")
        was_playing = paused.count() > 0 and paused.is_visible()
        if was_playing:
            paused.click()
        wait_idle(page, timeout=120_000)
        page.wait_for_timeout(1000)
        to_top(page, start)
        snap(page, out / f"{name}-2-paused.png")
        exc = page.locator("[data-testid='stException']").count()
        return (f"{name}: frames shown while playing {shown if shown >= 0 else '(no counter)'}; "
                f"{'paused' if was_playing else 'NO Pause button (had it stopped?)'}; page exceptions {exc}")
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", nargs="+", choices=list(VIEWS))
    ap.add_argument("--play-seconds", type=float, default=8.0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    t0 = time.monotonic()
    with served(env={"MALLOC_ARENA_MAX": "2"}, timeout=120) as url, sync_playwright() as p:
        browser = launch_chromium(p)
        for name in args.only or VIEWS:
            try:
                print(shoot(url, name, out, args.play_seconds, browser), flush=True)
            except Exception as e:  # noqa: BLE001 - one view failing does not stop the others
                print(f"{name}: FAILED {type(e).__name__}: {str(e).splitlines()[0][:200]}", flush=True)
        browser.close()
    print(f"screenshots in {out} ({time.monotonic() - t0:.0f} s; code {ROOT})")


if __name__ == "__main__":
    main()

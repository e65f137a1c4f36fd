"""App speed: server start to rendered home page, one Autoencoder tick, page switches (Chromium).

    .venv/bin/python bench/bench_app.py [--runs 5]

Prints a table of medians against the app's speed targets (start 8 s, tick 300 ms, page switch 2 s). Needs
Debian's chromium (/usr/bin/chromium).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.served import IDLE, launch_chromium, served  # noqa: E402


def server_start_to_home(browser, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        with served() as url:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("h1:has-text('Generative models explorer')", timeout=60_000)
            page.wait_for_selector(IDLE, timeout=60_000)
            times.append(time.perf_counter() - t0)
            page.close()
    return times


def page_switches(browser, url: str, runs: int) -> list[float]:
    page = browser.new_page()
    page.goto(url)
    page.wait_for_selector(IDLE)
    times = []
    for i in range(2 * runs):
        target = "Autoencoder" if i % 2 == 0 else "Home"
        heading = "Autoencoder" if target == "Autoencoder" else "Generative models explorer"
        t0 = time.perf_counter()
        page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=target, exact=True).click()
        page.wait_for_selector(f"h1:has-text('{heading}')", timeout=30_000)
        page.wait_for_selector(IDLE, timeout=30_000)
        times.append(time.perf_counter() - t0)
    page.close()
    return times


def ae_ticks(runs: int) -> list[float]:
    """The fragment's work for one tick: optimizer steps + validation + the figures and images it redraws."""
    import torch

    from genlib import data, viz
    from genlib.models.autoencoder import AEConfig, Autoencoder
    from pages.views import training

    torch.set_num_threads(os.cpu_count() or 1)
    mn = data.load_mnist()
    tr = training.new_trainer(Autoencoder(AEConfig(code_size=2)), mn, 1e-3, 128)
    fixed = mn.val.images[:16]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        tr.tick(mn.val.images)
        with torch.no_grad():
            rec = tr.model(fixed).clamp(0, 1)
            codes = tr.model.encode(mn.val.images)
        viz.curves(tr.history, {"train_loss": "train", "val_loss": "validation"}).to_json()
        viz.png_bytes(viz.grid(torch.cat([fixed, rec]), nrow=8))
        viz.code_scatter(codes, mn.val.labels).to_json()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    rows = []
    ticks = ae_ticks(30)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        starts = server_start_to_home(browser, args.runs)
        with served() as url:
            switches = page_switches(browser, url, args.runs)
        browser.close()
    rows.append(("server start -> home rendered in Chromium", statistics.median(starts), max(starts), 8.0, "s"))
    rows.append(("Autoencoder tick (steps + validation + redraw data)", 1000 * statistics.median(ticks),
                 1000 * max(ticks), 300.0, "ms"))
    rows.append(("page switch in Chromium (Home <-> Autoencoder)", statistics.median(switches), max(switches), 2.0, "s"))
    print(f"machine: {os.cpu_count()} CPU cores, torch threads {__import__('torch').get_num_threads()}")
    print(f"{'measure':55s} {'median':>8s} {'max':>8s} {'target':>8s}  unit  ok")
    for name, med, mx, target, unit in rows:
        print(f"{name:55s} {med:8.2f} {mx:8.2f} {target:8.2f}  {unit:4s}  {'yes' if med <= target else 'NO'}")


if __name__ == "__main__":
    main()

"""Sampler speed: 1000 chains x 1000 ULA (and MALA) steps on 2-D targets, vectorised genlib.samplers against a
straightforward per-chain numpy loop; optionally the frames per second of the chain animation in Chromium.

    .venv/bin/python bench/bench_samplers.py            # sampler table
    .venv/bin/python bench/bench_samplers.py --browser  # + frames per second of the animations while playing

Targets: ULA 1000 x 1000 in at most 1 s; animation at least 10 frames per second.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from genlib import densities as D  # noqa: E402
from genlib import samplers as S  # noqa: E402

CHAINS, STEPS = 1000, 1000


def run_vectorised(target, kind: str, dtype=torch.float64) -> float:
    g = torch.Generator().manual_seed(0)
    x0 = S.init_chains(CHAINS, 2, g, dtype=dtype)
    eta = 0.05
    gen = (S.ula(target.grad, x0, eta, math.sqrt(2 * eta), g) if kind == "ULA"
           else S.mala(target.log_prob, target.grad, x0, eta, g))
    t0 = time.perf_counter()
    for st in gen:
        if st.step == STEPS:
            break
    return time.perf_counter() - t0


def reference_ula_numpy(grad_np, chains: int) -> float:
    """The textbook loop: for each chain, for each step, x += eta grad + sigma w (numpy, one chain at a time)."""
    rng = np.random.default_rng(0)
    eta = 0.05
    sigma = math.sqrt(2 * eta)
    t0 = time.perf_counter()
    for _ in range(chains):
        x = rng.uniform(-1, 1, 2)
        for _ in range(STEPS):
            x = x + eta * grad_np(x) + sigma * rng.standard_normal(2)
    return time.perf_counter() - t0


def gaussian_grad_np(prec):
    return lambda x: -prec @ x


def banana_grad_np(a=1.2, b=0.5, s=0.5):
    def f(x):
        u = x[1] - b * (x[0] ** 2 - a ** 2)
        return np.array([-x[0] / a ** 2 + u / s ** 2 * 2 * b * x[0], -u / s ** 2])
    return f


def sampler_table(repeats: int, ref_chains: int) -> None:
    rows = []
    gauss, banana = D.Gaussian(), D.Banana()
    refs = {"correlated Gaussian": gaussian_grad_np(gauss.prec.numpy()), "banana": banana_grad_np()}
    for name, t in [("correlated Gaussian", gauss), ("banana", banana)]:
        for kind in ("ULA", "MALA"):
            run_vectorised(t, kind)  # warm-up
            times = [run_vectorised(t, kind) for _ in range(repeats)]
            med = statistics.median(times)
            ref = None
            if kind == "ULA":
                ref = reference_ula_numpy(refs[name], ref_chains) * CHAINS / ref_chains
            rows.append((name, kind, med, min(times), ref))
    print(f"\n{CHAINS} chains x {STEPS} steps, float64, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{os.cpu_count()} CPU cores (shared with other jobs)")
    print(f"reference: per-chain numpy loop, timed on {ref_chains} chains and scaled to {CHAINS}\n")
    print("| target | sampler | vectorised median (s) | best (s) | target <= 1 s | reference (s) | speed-up |")
    print("|---|---|---|---|---|---|---|")
    for name, kind, med, best, ref in rows:
        ok = "yes" if med <= 1.0 else "NO"
        r = f"{ref:.1f}" if ref else "–"
        sp = f"{ref / med:.0f}x" if ref else "–"
        print(f"| {name} | {kind} | {med:.3f} | {best:.3f} | {ok if kind == 'ULA' else '(n/a)'} | {r} | {sp} |")


def browser_fps(seconds: float) -> None:
    """Play the Samplers tab (300 and 1000 chains) and the SGLD tab in Chromium and count the frames the browser
    displays: the flipbook (pages/views/flipbook.py) counts them in its data-shown attribute, and data-waits counts its ticks
    with no frame ready. The server once with torch's default thread count (ui.torch_threads: GENLIB_THREADS or
    all cores) and once with GENLIB_THREADS=1."""
    from playwright.sync_api import sync_playwright

    from tools.served import launch_chromium, served, wait_idle

    def counter(name):
        return f"() => {{ const e = document.querySelector('.flipbook'); return e ? +e.dataset.{name} : -1; }}"

    shown_js, waits_js = counter("shown"), counter("waits")
    server_js = ("() => { const m = document.body.innerText.match(/Server: ([0-9]+) ms per frame/); "
                 "return m ? +m[1] : -1; }")

    def button(pg, name):
        return pg.locator("button:visible").filter(has_text=re.compile(f"{name}$")).first

    def measure(pg) -> tuple[float, int, float]:
        """(frames displayed per second, ticks without a frame, median server ms per frame) while playing."""
        button(pg, "Play").click()
        pg.wait_for_function(f"() => ({shown_js})() >= 3", timeout=60_000)
        f0, w0, t0 = pg.evaluate(shown_js), pg.evaluate(waits_js), time.perf_counter()
        server = []
        while time.perf_counter() - t0 < seconds:
            pg.wait_for_timeout(250)
            server.append(pg.evaluate(server_js))
        f1, w1, t1 = pg.evaluate(shown_js), pg.evaluate(waits_js), time.perf_counter()
        button(pg, "Pause").click()
        wait_idle(pg)
        button(pg, "Restart").click()
        wait_idle(pg)
        server = [v for v in server if v >= 0]
        return (f1 - f0) / (t1 - t0), w1 - w0, statistics.median(server) if server else float("nan")

    results = []
    for threads in (None, "1"):
        env = {"GENLIB_THREADS": threads} if threads else {}
        label = threads or f"default ({os.cpu_count()})"
        with served(env=env) as url, sync_playwright() as p:
            b = launch_chromium(p)
            pg = b.new_page(viewport={"width": 1400, "height": 1000})
            pg.goto(url + "/langevin")
            wait_idle(pg)
            for chains in (300, 1000):
                box = pg.locator("input[aria-label='Chains']:visible").first
                box.fill(str(chains))
                box.press("Enter")
                wait_idle(pg)
                results.append((label, f"Samplers, {chains} chains", *measure(pg)))
            pg.get_by_role("tab", name="SGLD").click()
            wait_idle(pg)
            results.append((label, "SGLD, 50 chains x 3", *measure(pg)))
            b.close()
    base = baseline_fps(seconds)
    load = os.getloadavg()[0]
    print(f"\nChain animation in Chromium (ULA + MALA, 5 steps per frame; SGLD 10 steps per frame): frames the "
          f"browser displayed per second, {seconds:.0f} s each; load average {load:.1f} on {os.cpu_count()} cores\n")
    print("| torch threads in the server | tab | frames per second | target >= 10 | ticks without a frame | "
          "server ms per frame (median) |")
    print("|---|---|---|---|---|---|")
    for threads, what, fps, waits, server in results:
        print(f"| {threads} | {what} | {fps:.1f} | {'yes' if fps >= 10 else 'NO'} | {waits} | "
              f"{'–' if math.isnan(server) else f'{server:.0f}'} |")
    print(f"\nFor comparison, a fragment that redraws one caption per 100 ms browser timer (one round trip per frame, "
          f"as the page did before the flipbook): {base:.1f} frames per second.")


BASELINE_APP = """
import streamlit as st
st.title("baseline")
st.session_state.setdefault("n", 0)
@st.fragment(run_every=0.1)
def f():
    st.session_state.n += 1
    st.caption(f"step 0 · frame {st.session_state.n} of")
f()
"""


def baseline_fps(seconds: float) -> float:
    """Frames per second of a fragment that only redraws one caption on a 100 ms browser timer: the ceiling of one
    server round trip per frame on this machine (what the page did before the flipbook)."""
    import tempfile

    from playwright.sync_api import sync_playwright

    from tools.served import launch_chromium, served

    js = "() => { const m = document.body.innerText.match(/frame ([0-9]+) of/); return m ? +m[1] : -1; }"
    with tempfile.TemporaryDirectory() as d:
        app = Path(d) / "baseline.py"
        app.write_text(BASELINE_APP)
        with served(script=app, cwd=d) as url, sync_playwright() as p:
            b = launch_chromium(p)
            pg = b.new_page(viewport={"width": 1400, "height": 1000})
            pg.goto(url)
            pg.wait_for_function(f"() => ({js})() >= 3", timeout=60_000)
            f0, t0 = pg.evaluate(f"({js})()"), time.perf_counter()
            pg.wait_for_timeout(int(seconds * 1000))  # the measuring window
            f1, t1 = pg.evaluate(f"({js})()"), time.perf_counter()
            b.close()
    return (f1 - f0) / (t1 - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--ref-chains", type=int, default=50, help="chains the slow reference loop is timed on")
    ap.add_argument("--browser", action="store_true", help="also measure the animation's frames per second")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--browser-only", action="store_true", help="skip the sampler table")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if not args.browser_only:
        sampler_table(args.repeats, args.ref_chains)
    if args.browser or args.browser_only:
        browser_fps(args.seconds)


if __name__ == "__main__":
    main()

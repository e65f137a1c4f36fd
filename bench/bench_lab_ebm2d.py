"""Does the Langevin lab's 2-D EBM separate the eight Gaussians within a minute, while a class watches?

Trains with the page's code path (pages.lab.ebm2d.new_ebm and tick, the page's default settings) for a wall-clock
budget and prints, at checkpoints, how many of the 8 centres have a local maximum of -E near them and the smallest
energy barrier between neighbouring modes (E at the arc midpoint minus E at the two centres). Usage:
    python bench/bench_lab_ebm2d.py [--seconds 60] [--set key=value ...]   (EBM2DConfig fields, or lr=...)
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import torch  # noqa: E402

from genlib.models.ebm2d import mode_report  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", nargs="*", default=[])
    a = ap.parse_args()
    torch.set_num_threads(int(os.environ.get("GENLIB_THREADS", os.cpu_count() or 1)))
    from pages.lab import ebm2d as page

    cfg, lr = page.DEFAULT_CONFIG, page.DEFAULT_LR
    for kv in a.set:
        k, v = kv.split("=")
        if k == "lr":
            lr = float(v)
        else:
            cfg = replace(cfg, **{k: type(getattr(cfg, k))(v if type(getattr(cfg, k)) is not bool else v == "1")})
    state = page.new_ebm("eight_gaussians", a.seed, cfg, lr)
    t0 = time.perf_counter()
    marks = [a.seconds * f for f in (0.25, 0.5, 0.75, 1.0)]
    print(f"config {cfg} lr {lr}, {torch.get_num_threads()} threads, load {os.getloadavg()[0]:.2f}")
    print(f"{'seconds':>8} {'iters':>6} {'modes':>6} {'min barrier':>12} {'samples cover':>14}")
    while marks:
        page.tick(state)
        el = time.perf_counter() - t0
        if el >= marks[0]:
            marks.pop(0)
            r = mode_report(state["trainer"].model)
            print(f"{el:8.1f} {state['trainer'].step_count:6d} {r['modes']:6d} {r['min_barrier']:12.2f} "
                  f"{r['covered']:14d}", flush=True)


if __name__ == "__main__":
    main()

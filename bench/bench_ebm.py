"""EBM speed: Langevin steps per second for 128 images, and one training iteration at the default setting.

    .venv/bin/python bench/bench_ebm.py
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from genlib.data import load_mnist  # noqa: E402
from genlib.models.ebm import EBM, EBMConfig  # noqa: E402
from genlib.samplers import run  # noqa: E402
from genlib.train import TrainConfig, Trainer  # noqa: E402


def main() -> None:
    torch.manual_seed(0)
    model = EBM(EBMConfig()).eval()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(128, 1, 28, 28, generator=g) * 2 - 1
    run(model.chain(x, g), 5)  # warm-up
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        run(model.chain(x, g), 60)
        runs.append(60 / (time.perf_counter() - t0))
    mn = load_mnist()
    tr = Trainer(EBM(EBMConfig()), mn.train.images, TrainConfig(lr=1e-4, beta1=0.0, batch_size=128))
    tr.step()
    its = []
    for _ in range(5):
        t0 = time.perf_counter()
        tr.step()
        its.append(time.perf_counter() - t0)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"machine: {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}; EBM {n_params} parameters")
    print(f"{'measure':60s} {'median':>10s}")
    print(f"{'Langevin steps per second, 128 images (60-step chains)':60s} {statistics.median(runs):10.1f}")
    print(f"{'one training iteration (batch 128, 60 Langevin steps), s':60s} {statistics.median(its):10.3f}")


if __name__ == "__main__":
    main()

"""RBM speed: CD-1 training throughput (784 x 500, batch 64) against a straightforward autograd implementation,
the machine's float32 matmul peak, Gibbs steps per second for 100 chains, and AIS wall time at the default settings.

    .venv/bin/python bench/bench_rbm.py [--quick]     (--quick: skip the AIS run)

The reference differentiates the course's loss, mean F(v_data) - mean F(v_1), with autograd (v_1 from one Gibbs
step under no_grad), as one would write it first; genlib's update writes the same gradient in closed form and
reuses p(h|v_data) from the sampling step. Both use the same SGD optimizer. Numbers are wall-clock medians on a
shared machine: read the ratio, it is measured in the same run.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from genlib import models  # noqa: E402
from genlib import checkpoints  # noqa: E402
from genlib.data import binarize_fixed, load_mnist  # noqa: E402
from genlib.models.rbm import RBM, RBMConfig, ais, base_rate_biases  # noqa: E402
from genlib.samplers import gibbs, run  # noqa: E402

V, H, B = 784, 500, 64


class ReferenceRBM(nn.Module):
    """The textbook version: sample with no_grad, then backpropagate the free-energy difference."""

    def __init__(self):
        super().__init__()
        self.W = nn.Parameter(torch.randn(H, V) * 0.01)
        self.b = nn.Parameter(torch.zeros(V))
        self.c = nn.Parameter(torch.zeros(H))

    def free_energy(self, v):
        return -(v @ self.b) - F.softplus(F.linear(v, self.W, self.c)).sum(1)

    def loss(self, v0, g):
        with torch.no_grad():
            h0 = torch.bernoulli(torch.sigmoid(F.linear(v0, self.W, self.c)), generator=g)
            v1 = torch.bernoulli(torch.sigmoid(F.linear(h0, self.W.t(), self.b)), generator=g)
        return self.free_energy(v0).mean() - self.free_energy(v1).mean()


def timed(fn, n: int, repeats: int = 7) -> float:
    """Median seconds per call of fn over `repeats` blocks of n calls."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def matmul_peak() -> float:
    """Best float32 GFLOP/s of a 1024^3 matrix product (the machine's practical peak with these threads)."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    t = min(timed(lambda: a @ b, 5, 5) for _ in range(2))
    return 2 * 1024 ** 3 / t / 1e9


def main() -> None:
    quick = "--quick" in sys.argv
    torch.manual_seed(0)
    mn = load_mnist()
    data = binarize_fixed(mn.train.images[:B * 20]).reshape(-1, V)
    g = torch.Generator().manual_seed(0)
    batches = [data[i * B:(i + 1) * B] for i in range(20)]

    ours = RBM(RBMConfig(n_hidden=H, k=1))
    ours.initialized.fill_(True)
    opt = torch.optim.SGD(ours.parameters(), lr=0.1)
    it = iter(range(10 ** 9))

    def ours_step():
        opt.zero_grad(set_to_none=True)
        ours.compute_grads(batches[next(it) % 20], g)
        opt.step()

    ref = ReferenceRBM()
    ropt = torch.optim.SGD(ref.parameters(), lr=0.1)

    def ref_step():
        ropt.zero_grad(set_to_none=True)
        ref.loss(batches[next(it) % 20], g).backward()
        ropt.step()

    # interleave blocks of the two so that load from other jobs hits both alike; median per-block times
    ref_step(), ours_step()
    t_refs, t_ourss = [], []
    for _ in range(9):
        for fn, out in ((ref_step, t_refs), (ours_step, t_ourss)):
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            out.append((time.perf_counter() - t0) / 20)
    t_ref, t_ours = statistics.median(t_refs), statistics.median(t_ourss)
    ratio = statistics.median(r / o for r, o in zip(t_refs, t_ourss))
    # matrix products per CD-1 update: c + W v0, p(v|h0), p(h|v1), and the [2B, H]^T [2B, V] gradient product
    flops = 2 * B * V * H * 3 + 2 * (2 * B) * H * V
    peak = matmul_peak()

    model = ours
    v = torch.bernoulli(torch.full((100, V), 0.5), generator=g)

    def gibbs_block():
        run(gibbs(model, v, g), 10)

    t_gibbs = timed(gibbs_block, 5) / 10

    print(f"machine: {os.cpu_count()} CPU cores (shared with other jobs), torch threads {torch.get_num_threads()}, "
          f"torch {torch.__version__}")
    print(f"{'measure':58s} {'value':>12s}")
    print(f"{'float32 matmul peak (1024^3), GFLOP/s':58s} {peak:12.1f}")
    print(f"{'CD-1 update, reference (autograd of F difference), ms':58s} {1e3 * t_ref:12.2f}")
    print(f"{'CD-1 update, genlib (closed form), ms':58s} {1e3 * t_ours:12.2f}")
    print(f"{'CD-1 speed-up (median of paired block ratios)':58s} {ratio:12.2f}x")
    print(f"{'CD-1 genlib, digits per second':58s} {B / t_ours:12.0f}")
    print(f"{'CD-1 genlib, GFLOP/s (4 matmuls, % of peak)':58s} {flops / t_ours / 1e9:7.1f} ({100 * flops / t_ours / 1e9 / peak:.0f} %)")
    print(f"{'Gibbs steps per second, 100 chains, 784 x 500':58s} {1 / t_gibbs:12.0f}")
    if not quick:
        path = checkpoints.resolve("rbm-500")
        m = models.load(path) if path.exists() else ours
        base = base_rate_biases(binarize_fixed(mn.train.images))
        res = ais(m, base, n_runs=100, generator=torch.Generator().manual_seed(0))
        name = "rbm-500" if path.exists() else "untrained 784 x 500"
        print(f"{'AIS wall time, 14 500 temperatures, 100 runs (' + name + '), s':58s} {res.seconds:12.1f}")


if __name__ == "__main__":
    main()

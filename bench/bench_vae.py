"""VAE speed: training throughput of the course's MLP VAE against a torch.distributions version of the same
model, the 30 x 30 latent-grid image, and draw -> encode -> redraw.

    .venv/bin/python bench/bench_vae.py

Speed targets of the VAE page: throughput ratio >= 1.5x; grid <= 60 ms median; draw -> encode -> redraw <= 150 ms.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import distributions as D

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from genlib import models  # noqa: E402
from genlib import checkpoints, viz  # noqa: E402
from genlib.data import canvas_to_digit, load_mnist  # noqa: E402
from genlib.models.vae import VAE, VAEConfig, decode_grid, ellipse, grid_axis  # noqa: E402
from genlib.train import TrainConfig, Trainer  # noqa: E402

COURSE = VAEConfig(latent=8, hidden=(512, 512), likelihood="gaussian")  # 784-512-512-8, mean tanh, variance 1


class DistributionsVAE(torch.nn.Module):
    """The straightforward reference: the same layers, the loss written with torch.distributions objects."""

    def __init__(self, model: VAE):
        super().__init__()
        self.m = model

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(len(x), 784)
        mu, logvar = self.m.encode(x)
        q = D.Normal(mu, torch.exp(0.5 * logvar))
        z = q.rsample()
        px = D.Normal(self.m.decode(z).reshape(len(x), 784), 1.0)
        kl = D.kl_divergence(q, D.Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(-1)
        return (-px.log_prob(x).sum(-1) + kl).mean()


def steps_per_second(step, n: int = 40) -> float:
    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return n / (time.perf_counter() - t0)


def median_ms(f, n: int = 30) -> float:
    f()
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        times.append(1000 * (time.perf_counter() - t0))
    return statistics.median(times)


def main() -> None:
    mn = load_mnist()
    x = mn.train.images

    # ours: the genlib trainer (closed-form KL, fused Gaussian log-likelihood)
    torch.manual_seed(0)
    ours = Trainer(VAE(COURSE), x, TrainConfig(lr=1e-3, batch_size=128))
    # reference: the same model and batches, a plain loop with torch.distributions and Adam
    torch.manual_seed(0)
    ref = DistributionsVAE(VAE(COURSE)).train()
    opt = torch.optim.Adam(ref.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(0)

    def ref_step():
        idx = torch.randint(0, len(x), (128,), generator=g)
        opt.zero_grad()
        ref.loss(x[idx]).backward()
        opt.step()

    rows = []
    a, b = [], []
    for _ in range(3):  # interleave to share the machine's ups and downs fairly
        a.append(steps_per_second(ours.step))
        b.append(steps_per_second(ref_step))
    sa, sb = statistics.median(a), statistics.median(b)
    rows.append(("MLP VAE 784-512-512-8 training, steps/s (batch 128)", f"{sa:.1f}", f"{sb:.1f}", f"{sa / sb:.2f}x"))

    # the 30 x 30 grid: decode 900 latents and compose one image (as the page does, PNG included), for the
    # course's conv decoder and for the MLP decoder of the default 2-D VAE (speed does not depend on training)
    path = checkpoints.resolve("vae-conv-2d")
    model = models.load(path) if path.exists() else VAE(VAEConfig(latent=2, encoder="conv", decoder="conv", hidden=(16,))).eval()
    mlp = VAE(VAEConfig(latent=2)).eval()
    axis = grid_axis(30, "scale", 1.0)
    for name, m in (("conv decoder (vae-conv-2d)", model), ("MLP decoder 2-512-512-784", mlp)):
        grid_ms = median_ms(lambda: viz.png_bytes(decode_grid(m, axis, axis)), n=15)
        rows.append((f"30 x 30 grid, {name}: decode + compose + PNG, ms", f"{grid_ms:.1f}", "", "target <= 60"))

    # draw -> encode -> redraw: canvas RGBA -> 28 x 28 digit -> q(z|x) -> reconstruction and ellipse -> PNG
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[60:220, 125:155] = 255

    def draw():
        d = canvas_to_digit(canvas)
        with torch.no_grad():
            mu, lv = model.encode(d)
            rec = model.decode_images(mu)
        ellipse(mu[0], lv[0])
        viz.png_bytes(viz.grid(torch.cat([d, rec]), nrow=2))

    draw_ms = median_ms(draw)
    rows.append(("draw -> encode -> redraw, ms", f"{draw_ms:.1f}", "", "target <= 150"))

    print(f"machine: {os.cpu_count()} CPU cores, torch threads {torch.get_num_threads()}, torch {torch.__version__}; "
          f"grid model: {'vae-conv-2d' if path.exists() else 'untrained conv VAE'}")
    print(f"{'measure':62s} {'genlib':>10s} {'reference':>10s} {'ratio/target':>14s}")
    for r in rows:
        print(f"{r[0]:62s} {r[1]:>10s} {r[2]:>10s} {r[3]:>14s}")


if __name__ == "__main__":
    main()

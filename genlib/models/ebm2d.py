"""A 2-D energy-based model: an MLP energy trained with Langevin negatives on a toy data set (Du & Mordatch 2019;
short-run negatives as in Nijkamp et al. 2019, persistent ones as in Tieleman 2008).

p(x) = exp(-E(x)) / Z for x in R^2. The gradient of the negative log-likelihood is
    E_data[dE/dtheta] - E_{x ~ p}[dE/dtheta],
estimated with negatives x ~ p drawn by ULA on log p = -E:  x <- x - eta dE/dx + sigma w  (T = sigma^2 / (2 eta)),
started from uniform noise on [-box, box]^2 each iteration (short-run) or from a persistent buffer of earlier
negatives (a share `reinit` restarted from noise). Loss: mean E(data) - mean E(neg) + alpha mean(E(data)^2 + E(neg)^2).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import samplers
from ..train import Preset, TrainConfig
from .base import Model, fixed_generator


@dataclass(frozen=True)
class EBM2DConfig:
    hidden: int = 64  # width of the hidden layers
    layers: int = 3  # hidden layers
    steps: int = 30  # Langevin steps per training iteration
    step_size: float = 0.02  # eta
    noise: float = 0.2  # sigma; sqrt(2 eta) = 0.2 samples p itself (T = 1)
    persistent: bool = True  # persistent buffer of negatives, or short-run from noise every iteration
    buffer_size: int = 2000
    reinit: float = 0.05  # persistent: share of each batch restarted from noise
    alpha: float = 0.1  # weight of the energy regulariser
    box: float = 4.0  # negatives start uniformly in [-box, box]^2 and are kept inside it

    def __post_init__(self):
        if self.hidden < 1 or self.layers < 1 or self.steps < 1 or self.buffer_size < 1:
            raise ValueError("hidden size, layers, steps and buffer size must be positive")
        if not (self.step_size > 0) or self.noise < 0:
            raise ValueError(f"the step size must be > 0 and the noise >= 0, got {self.step_size}, {self.noise}")
        if not 0 <= self.reinit <= 1:
            raise ValueError(f"reinit must be a share between 0 and 1, got {self.reinit}")


class EBM2D(Model):
    kind = "ebm2d"
    image_data = False  # trains on 2-D toy points (the app's Langevin lab), not on digits

    def __init__(self, config: EBM2DConfig = EBM2DConfig()):
        super().__init__()
        self.config = config
        dims = [2] + [config.hidden] * config.layers
        layers: list[nn.Module] = []
        for a, b in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(a, b), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Linear(dims[-1], 1))
        self.register_buffer("replay", torch.zeros(config.buffer_size, 2))
        self.register_buffer("replay_ready", torch.zeros((), dtype=torch.bool))
        self.negatives: torch.Tensor | None = None  # the last batch of negatives, for a picture

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) [N] for points x [N, 2]."""
        return self.net(x).squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.energy(x)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """d log p / dx = -dE/dx [N, 2]; the weights get no gradient."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.energy(x).sum(), x)
        return -g

    def _noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        return (torch.rand(n, 2, generator=generator) * 2 - 1) * self.config.box

    def langevin(self, x: torch.Tensor, steps: int, generator: torch.Generator) -> torch.Tensor:
        """`steps` ULA steps from x; chains that blow up restart from noise, all stay inside the box."""
        c = self.config
        st = samplers.run(samplers.ula(self.score, x, c.step_size, c.noise, generator), steps)
        out = st.x
        if st.n_dead:
            out = torch.where(st.alive[:, None], out, self._noise(len(out), generator))
        return out.clamp(-c.box, c.box).detach()

    def draw_negatives(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n negatives: short-run from noise, or persistent chains from the buffer (updated in place)."""
        c = self.config
        if not c.persistent:
            return self.langevin(self._noise(n, generator), c.steps, generator)
        x, idx = samplers.replay_starts(self.replay, self.replay_ready, n, c.reinit,
                                        lambda k: self._noise(k, generator), generator)
        x = self.langevin(x, c.steps, generator)
        if self.training:
            self.replay[idx] = x
        return x

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Contrastive loss of a batch of data points x [B, 2] against B Langevin negatives (kept in `negatives`)."""
        generator = fixed_generator(generator, x.device)  # never the global generator
        neg = self.draw_negatives(len(x), generator)
        self.negatives = neg
        e_data, e_neg = self.energy(x), self.energy(neg)
        cd = e_data.mean() - e_neg.mean()
        reg = (e_data ** 2).mean() + (e_neg ** 2).mean()
        return {"loss": cd + self.config.alpha * reg, "cd": cd.detach(), "e_data": e_data.mean().detach(),
                "e_neg": e_neg.mean().detach(), "reg": reg.detach()}

    @torch.no_grad()
    def energy_grid(self, extent=(-4.0, 4.0, -4.0, 4.0), n: int = 80) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(xs, ys, E [n(y), n(x)]) on cell centres of an n x n grid."""
        x0, x1, y0, y1 = extent
        xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
        gx, gy = np.meshgrid(xs, ys)
        pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float32)
        return xs, ys, self.energy(pts).reshape(n, n).numpy()


PRESETS = {
    "default": Preset(EBM2DConfig(), TrainConfig(lr=1e-3, batch_size=128), epochs=10),
}


def eight_centres(radius: float = 2.5) -> torch.Tensor:
    """The centres [8, 2] of genlib.data's "eight_gaussians" (angles k 2 pi / 8, radius 2.5)."""
    ang = torch.arange(8, dtype=torch.float32) * (2 * np.pi / 8)
    return radius * torch.stack([torch.cos(ang), torch.sin(ang)], 1)


@torch.no_grad()
def mode_report(model: EBM2D, n: int = 161, near: float = 0.5, samples: int = 800, steps: int = 200,
                seed: int = 0) -> dict[str, float | int]:
    """How well a 2-D EBM trained on "eight_gaussians" separates the eight modes:
    modes: centres with a local maximum of -E (over its 5 x 5 grid neighbourhood on an n x n grid of [-4, 4]^2)
    within `near`; min_barrier: the smallest, over neighbouring centres, of E at the midpoint of the arc between
    them minus the larger of the two lowest energies within `near` of each centre (> 0: a barrier separates them);
    off_data: the lowest energy more than 1 away from every centre minus the highest of those mode energies (> 0: no
    spurious mode off the data, such as a deep corner); covered: centres holding at least 2 % of `samples` Langevin
    samples (`steps` ULA steps from uniform noise)."""
    xs, ys, e = model.energy_grid((-4.0, 4.0, -4.0, 4.0), n)
    p = np.pad(-e, 2, constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(p, (5, 5))  # [n, n, 5, 5]
    peak = -e >= win.max((2, 3))
    gx, gy = np.meshgrid(xs, ys)
    c = eight_centres().numpy()
    d = np.hypot(gx[None] - c[:, 0, None, None], gy[None] - c[:, 1, None, None])  # [8, n, n]
    modes = int(sum((peak & (d[k] < near)).any() for k in range(8)))
    low = np.array([e[d[k] < near].min() for k in range(8)])
    mid_ang = (np.arange(8) + 0.5) * (2 * np.pi / 8)
    mid = torch.tensor(2.5 * np.stack([np.cos(mid_ang), np.sin(mid_ang)], 1), dtype=torch.float32)
    e_mid = model.energy(mid).numpy()
    barrier = float(min(e_mid[k] - max(low[k], low[(k + 1) % 8]) for k in range(8)))
    far = d.min(0) > 1.0  # cells more than 1 from every centre: no data there
    off = float(e[far].min() - low.max())  # > 0: every such cell is less likely than the least likely mode
    g = torch.Generator().manual_seed(seed)
    was = model.training
    model.eval()
    x = model.langevin(model._noise(samples, g), steps, g)
    model.train(was)
    counts = (torch.cdist(x, eight_centres()) < 0.6).sum(0)
    return {"modes": modes, "min_barrier": barrier, "off_data": off, "covered": int((counts >= 0.02 * samples).sum())}

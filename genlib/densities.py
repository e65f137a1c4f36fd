"""2-D target densities with exact answers, for the Langevin / MALA / SGLD lab (Welling & Teh 2011 posterior).

Every target gives, for points x of shape [N, 2]:
  - `log_prob(x)` [N]: the log density up to a constant (the constant is `log_z`, known in closed form, so
    `log_prob(x) - log_z` is the normalised log density);
  - `grad(x)` [N, 2]: the score  d log p / dx  (closed form where short, autograd otherwise);
  - `grid(n)`: the exact density on an n x n grid over `extent`, normalised so that it sums to 1 times the
    cell area (the mass outside `extent` is negligible for every target here);
  - `sample(n, generator)`: exact independent samples (closed form, or from the fine grid).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

LOG_2PI = math.log(2 * math.pi)


@dataclass
class Grid:
    """Exact density on a regular grid: xs [n], ys [m], density [m, n] (rows = y), with sum * dx * dy = 1."""

    xs: np.ndarray
    ys: np.ndarray
    density: np.ndarray

    @property
    def cell(self) -> float:
        return float((self.xs[1] - self.xs[0]) * (self.ys[1] - self.ys[0]))

    def coarse(self, bins: int) -> np.ndarray:
        """The exact probabilities of a bins x bins partition of the extent [bins(y), bins(x)], summing to 1 (the
        grid's size must be a multiple of bins); computed once per grid and bins (a page asks every frame)."""
        kept = self.__dict__.setdefault("_coarse", {})
        if bins not in kept:
            n = len(self.xs)
            if n % bins:
                raise ValueError(f"the grid size {n} must be a multiple of bins={bins}")
            k = n // bins
            p = self.density.reshape(bins, k, bins, k).sum((1, 3))
            kept[bins] = p / p.sum()
        return kept[bins]

    def marginals(self) -> tuple[np.ndarray, np.ndarray]:
        """Exact marginal densities p(x1) on xs and p(x2) on ys."""
        dx, dy = self.xs[1] - self.xs[0], self.ys[1] - self.ys[0]
        return self.density.sum(0) * dy, self.density.sum(1) * dx


class Target:
    """Base class: subclasses set name, extent and implement log_prob (and log_z, grad, sample if they can)."""

    name = "target"
    description = ""
    extent: tuple[float, float, float, float] = (-4.0, 4.0, -4.0, 4.0)  # x1min, x1max, x2min, x2max
    log_z = 0.0

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Score d log p / dx by autograd; rows are independent (a NaN row never touches the others)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.log_prob(x).sum(), x)
        return g

    def grid_points(self, n: int = 200) -> tuple[np.ndarray, np.ndarray, torch.Tensor]:
        """Cell centres of an n x n grid over `extent` and the points [n*n, 2] (float64, row-major in y)."""
        x0, x1, y0, y1 = self.extent
        xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
        gx, gy = np.meshgrid(xs, ys)  # [n(y), n(x)]
        pts = torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.float64)
        return xs, ys, pts

    def grid(self, n: int = 200) -> Grid:
        xs, ys, pts = self.grid_points(n)
        with torch.no_grad():
            lp = self.log_prob(pts).reshape(n, n).numpy()
        d = np.exp(lp - lp.max())
        d /= d.sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])
        return Grid(xs, ys, d)

    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Exact samples from a fine grid (500 x 500 cells, uniform within a cell): a fallback for any target."""
        gr = self.grid(500)
        p = torch.tensor(gr.density.ravel(), dtype=torch.float64)
        idx = torch.multinomial(p, n, replacement=True, generator=generator)
        iy, ix = idx // 500, idx % 500
        dx, dy = gr.xs[1] - gr.xs[0], gr.ys[1] - gr.ys[0]
        jit = torch.rand(n, 2, generator=generator, dtype=torch.float64) - 0.5
        x = torch.tensor(gr.xs)[ix] + jit[:, 0] * dx
        y = torch.tensor(gr.ys)[iy] + jit[:, 1] * dy
        return torch.stack([x, y], 1).float()


class Gaussian(Target):
    """Correlated Gaussian N(mean, cov); log p = -1/2 (x-m)^T S^-1 (x-m), score = -S^-1 (x-m)."""

    name = "correlated Gaussian"

    def __init__(self, mean=(0.0, 0.0), cov=((1.0, 0.9), (0.9, 1.0)), extent=(-4.0, 4.0, -4.0, 4.0)):
        self.mean = torch.tensor(mean, dtype=torch.float64)
        self.cov = torch.tensor(cov, dtype=torch.float64)
        self.prec = torch.linalg.inv(self.cov)
        self.chol = torch.linalg.cholesky(self.cov)
        self.extent = extent
        self.log_z = float(LOG_2PI + 0.5 * torch.logdet(self.cov))
        r = float(self.cov[0, 1] / torch.sqrt(self.cov[0, 0] * self.cov[1, 1]))
        self.description = f"N(m, Σ) with unit variances and correlation {r:g}" if r else "N(m, Σ)"

    def _centred(self, x):
        """(d, d S^-1) for d = x - m. d S^-1 is written out for 2-D (d0 P[0] + d1 P[1]): a [N,2]x[2,2] matmul goes
        through BLAS threads, which on a busy 2-core machine made each sampler step 5-40x slower than these
        element-wise ops. On 300 chains each tensor operation costs more than its arithmetic, so m and the rows of
        S^-1 are kept per dtype, and the last x's pair is kept: MALA asks log_prob and grad of the same proposal."""
        memo = self.__dict__.get("_memo")  # one tuple, replaced whole: the target is shared between threads
        if memo is not None and memo[0] is x and memo[1] == x._version:
            return memo[2], memo[3]
        rows = self.__dict__.setdefault("_rows", {})
        if x.dtype not in rows:
            p = self.prec.to(x.dtype)
            rows[x.dtype] = (self.mean.to(x.dtype), p[0], p[1])
        m, p0, p1 = rows[x.dtype]
        d = x - m
        pd = d[:, :1] * p0 + d[:, 1:] * p1
        if not x.requires_grad:  # (a graph is never kept)
            self.__dict__["_memo"] = (x, x._version, d, pd)
        return d, pd

    def log_prob(self, x):
        d, pd = self._centred(x)
        return -0.5 * (pd * d).sum(1)

    def grad(self, x):
        return -self._centred(x)[1]

    def sample(self, n, generator):
        w = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        return (self.mean + w @ self.chol.T).float()


class Mixture(Target):
    """Equal-weight mixture of isotropic Gaussians N(mu_k, s^2 I); well separated, so chains rarely switch modes."""

    name = "Gaussian mixture"

    def __init__(self, means=((-2.5, -2.5), (-2.5, 2.5), (2.5, -2.5), (2.5, 2.5)), std=0.6,
                 extent=(-5.5, 5.5, -5.5, 5.5)):
        self.means = torch.tensor(means, dtype=torch.float64)
        self.std = std
        self.extent = extent
        self.log_z = LOG_2PI + 2 * math.log(std)  # log p below is already averaged over the K components
        self.description = f"{len(means)} Gaussians with std {std:g}, equal weights, at the corners (±2.5, ±2.5)"

    def log_prob(self, x):
        d2 = ((x[:, None, :] - self.means.to(x.dtype)[None]) ** 2).sum(-1)  # [N, K]
        return torch.logsumexp(-0.5 * d2 / self.std ** 2, 1) - math.log(len(self.means))

    def grad(self, x):
        m = self.means.to(x.dtype)
        d = x[:, None, :] - m[None]  # [N, K, 2]
        r = torch.softmax(-0.5 * (d ** 2).sum(-1) / self.std ** 2, 1)  # responsibilities [N, K]
        return -(r[:, :, None] * d).sum(1) / self.std ** 2

    def sample(self, n, generator):
        k = torch.randint(0, len(self.means), (n,), generator=generator)
        return (self.means[k] + self.std * torch.randn(n, 2, generator=generator, dtype=torch.float64)).float()


class Banana(Target):
    """Twisted Gaussian (Haario et al. 1999): x1 ~ N(0, a^2), x2 | x1 ~ N(b (x1^2 - a^2), s^2).

    The map (x1, x2) -> (x1, x2 - b (x1^2 - a^2)) has unit Jacobian, so Z is that of the Gaussian."""

    name = "banana"

    def __init__(self, a=1.2, b=0.5, s=0.5, extent=(-4.5, 4.5, -3.0, 7.0)):
        self.a, self.b, self.s = a, b, s
        self.extent = extent
        self.log_z = LOG_2PI + math.log(a * s)
        self.description = f"x₁ ~ N(0, {a:g}²), x₂ | x₁ ~ N({b:g}(x₁² − {a:g}²), {s:g}²)"

    def log_prob(self, x):
        x1, x2 = x[:, 0], x[:, 1]
        u = x2 - self.b * (x1 ** 2 - self.a ** 2)
        return -0.5 * x1 ** 2 / self.a ** 2 - 0.5 * u ** 2 / self.s ** 2

    def grad(self, x):
        x1, x2 = x[:, 0], x[:, 1]
        u = x2 - self.b * (x1 ** 2 - self.a ** 2)
        g1 = -x1 / self.a ** 2 + (u / self.s ** 2) * 2 * self.b * x1
        g2 = -u / self.s ** 2
        return torch.stack([g1, g2], 1)

    def sample(self, n, generator):
        w = torch.randn(n, 2, generator=generator, dtype=torch.float64)
        x1 = self.a * w[:, 0]
        return torch.stack([x1, self.b * (x1 ** 2 - self.a ** 2) + self.s * w[:, 1]], 1).float()


class Ring(Target):
    """Ring of radius R: log p = -(|x| - R)^2 / (2 s^2).

    Z = 2 pi int_0^inf r exp(-(r-R)^2/(2 s^2)) dr = 2 pi [s^2 exp(-R^2/(2 s^2)) + R s sqrt(pi/2) (1 + erf(R/(s sqrt 2)))]."""

    name = "ring"

    def __init__(self, radius=2.0, std=0.3, extent=(-3.5, 3.5, -3.5, 3.5)):
        self.R, self.s = radius, std
        self.extent = extent
        R, s = radius, std
        z = 2 * math.pi * (s * s * math.exp(-R * R / (2 * s * s)) + R * s * math.sqrt(math.pi / 2)
                           * (1 + math.erf(R / (s * math.sqrt(2)))))
        self.log_z = math.log(z)
        self.description = f"radius {radius:g}, radial std {std:g}"

    def log_prob(self, x):
        r = x.norm(dim=1)
        return -0.5 * (r - self.R) ** 2 / self.s ** 2

    def grad(self, x):
        r = x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return -(r - self.R) / self.s ** 2 * x / r


class Funnel(Target):
    """Neal's funnel (2003) in 2-D: v ~ N(0, sv^2), x | v ~ N(0, e^v); coordinates (x1, x2) = (x, v).

    The neck (v << 0) has a huge curvature e^{-v}: a step size fine in the mouth sends chains there to infinity."""

    name = "funnel"

    def __init__(self, sv=1.5, extent=(-10.0, 10.0, -5.5, 5.5)):
        self.sv = sv
        self.extent = extent
        self.log_z = LOG_2PI + math.log(sv)
        self.description = f"v ~ N(0, {sv:g}²) vertical, x | v ~ N(0, eᵛ) horizontal"

    def log_prob(self, x):
        u, v = x[:, 0], x[:, 1]
        return -0.5 * v ** 2 / self.sv ** 2 - 0.5 * u ** 2 * torch.exp(-v) - 0.5 * v

    def grad(self, x):
        u, v = x[:, 0], x[:, 1]
        e = torch.exp(-v)
        return torch.stack([-u * e, -v / self.sv ** 2 + 0.5 * u ** 2 * e - 0.5], 1)

    def sample(self, n, generator):
        v = self.sv * torch.randn(n, generator=generator, dtype=torch.float64)
        u = torch.exp(v / 2) * torch.randn(n, generator=generator, dtype=torch.float64)
        return torch.stack([u, v], 1).float()


TARGETS = {
    "correlated Gaussian": Gaussian,
    "Gaussian mixture": Mixture,
    "banana": Banana,
    "ring": Ring,
    "funnel": Funnel,
}


def make_target(name: str) -> Target:
    if name not in TARGETS:
        raise ValueError(f"unknown target {name!r}; choose one of {', '.join(TARGETS)}")
    return TARGETS[name]()


# ---- Welling & Teh (2011), section 5.1: a bimodal posterior -------------------------------------------------

WT_SEED = 0  # see welling_teh_data: with this seed the posterior has two clear modes, near (0.05, 1.07) and (1.11, -1.07)
WT_N = 100


def welling_teh_data(n: int = WT_N, seed: int = WT_SEED, theta=(0.0, 1.0), var_x: float = 2.0) -> torch.Tensor:
    """x_i ~ 1/2 N(theta1, var_x) + 1/2 N(theta1 + theta2, var_x) (var_x a variance), float64 [n]."""
    g = torch.Generator().manual_seed(seed)
    comp = torch.rand(n, generator=g, dtype=torch.float64) < 0.5
    mean = torch.where(comp, theta[0], theta[0] + theta[1])
    return mean + math.sqrt(var_x) * torch.randn(n, generator=g, dtype=torch.float64)


class WellingTehPosterior(Target):
    """p(theta | x) for theta1 ~ N(0, 10), theta2 ~ N(0, 1), x_i ~ 1/2 N(theta1, 2) + 1/2 N(theta1 + theta2, 2).

    (All second arguments are variances, as in Welling & Teh 2011.) The posterior is symmetric-ish under
    (theta1, theta2) -> (theta1 + theta2, -theta2), hence two modes: near (0, 1) and near (1, -1).
    `minibatch_grad` is SGLD's estimate  grad log prior + N/n sum_{i in batch} grad log p(x_i | theta)."""

    name = "Welling & Teh posterior"

    def __init__(self, x: torch.Tensor | None = None, var1: float = 10.0, var2: float = 1.0, var_x: float = 2.0,
                 extent=(-1.5, 2.5, -3.0, 3.0), seed: int = WT_SEED):
        self.x = welling_teh_data(seed=seed, var_x=var_x) if x is None else x.to(torch.float64)
        self.var1, self.var2, self.var_x = var1, var2, var_x
        self.extent = extent
        self.log_z = float("nan")  # not known in closed form: the grid normalises
        self.seed = seed
        self.description = (f"{len(self.x)} points drawn with θ = (0, 1), seed {seed}; prior variances "
                            f"{var1:g}, {var2:g}; likelihood variance {var_x:g}")

    def _log_lik(self, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """log p(x_ij | theta_i) for theta [C, 2], x [C, n] or [n] -> [C, n]."""
        t1, t2 = theta[:, :1], theta[:, 1:]
        a = -0.5 * (x - t1) ** 2 / self.var_x
        b = -0.5 * (x - t1 - t2) ** 2 / self.var_x
        return torch.logaddexp(a, b) - math.log(2) - 0.5 * math.log(2 * math.pi * self.var_x)

    def log_prior(self, theta):
        return -0.5 * theta[:, 0] ** 2 / self.var1 - 0.5 * theta[:, 1] ** 2 / self.var2

    def log_prob(self, theta):
        x = self.x.to(theta.dtype)
        return self.log_prior(theta) + self._log_lik(theta, x).sum(1)

    def _score(self, theta: torch.Tensor, x: torch.Tensor, scale: float) -> torch.Tensor:
        # closed form: with responsibilities r = p(component 2 | x, theta),
        # d/dt1 log p(x|t) = (x - t1 - r t2) / var_x,  d/dt2 = r (x - t1 - t2) / var_x
        t1, t2 = theta[:, :1], theta[:, 1:]
        a = -0.5 * (x - t1) ** 2 / self.var_x
        b = -0.5 * (x - t1 - t2) ** 2 / self.var_x
        r = torch.sigmoid(b - a)
        g1 = ((x - t1 - r * t2) / self.var_x).sum(1)
        g2 = (r * (x - t1 - t2) / self.var_x).sum(1)
        prior = torch.stack([-theta[:, 0] / self.var1, -theta[:, 1] / self.var2], 1)
        return prior + scale * torch.stack([g1, g2], 1)

    def grad(self, theta):
        return self._score(theta, self.x.to(theta.dtype)[None], 1.0)

    def minibatch_grad(self, theta: torch.Tensor, batch: int, generator: torch.Generator) -> torch.Tensor:
        """Unbiased estimate of the score from `batch` points per chain (with replacement), [C, 2]."""
        n = len(self.x)
        self._check_batch(batch)
        idx = torch.randint(0, n, (len(theta), batch), generator=generator)
        return self._score(theta, self.x.to(theta.dtype)[idx], n / batch)

    def minibatch_score(self, batch: int, generator: torch.Generator) -> Callable[[torch.Tensor], torch.Tensor]:
        """SGLD's gradient estimate as a function of theta, with `batch` checked now (a ValueError), not at the first step."""
        self._check_batch(batch)
        return lambda theta: self.minibatch_grad(theta, batch, generator)

    def _check_batch(self, batch: int) -> None:
        if not 1 <= batch <= len(self.x):
            raise ValueError(f"the minibatch size must be between 1 and {len(self.x)}, got {batch}")

    def mode_masses(self, n: int = 200) -> tuple[float, float]:
        """Exact posterior mass of the two halves split by the line through the saddle, theta2 > 0 vs < 0."""
        gr = self.grid(n)
        up = gr.density[gr.ys > 0].sum() * gr.cell
        return float(up), float(1 - up)

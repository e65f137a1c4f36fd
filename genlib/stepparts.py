"""The parts of one sampler step, for showing it in slow motion: one block Gibbs step of an RBM (Hinton 2002) and one
Langevin step, unadjusted (ULA) or Metropolis-adjusted (MALA, Roberts & Tweedie 1996).

Each function draws its random numbers from the generator in the same order, with the same shapes, as the chain
engine (genlib.samplers), so the last part is exactly the sampler's next state for the same generator:
- `gibbs_parts` as RBM.gibbs_step (samplers.gibbs): the hidden coins, then the visible coins;
- `langevin_parts` as samplers.ula / samplers.mala with step size eta/2 and noise sqrt(eta) (`sampler_settings`):
  the Gaussian noise xi, then (MALA) the uniform u of the accept test.

The Langevin step is written in the course's notation, with one step size eta:
    x' = x + (eta/2) grad log p(x) + sqrt(eta) xi,   xi ~ N(0, I),
the Euler step of dX = grad log p dt + sqrt(2) dW with dt = eta/2, whose stationary law is p (temperature 1).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genlib.models.rbm import bernoulli
from genlib.samplers import MAX_ABS


@dataclass(frozen=True)
class GibbsParts:
    """One Gibbs step of one chain, v -> p(h|v) -> h -> p(v|h) -> v'. Visible tensors [V], hidden tensors [H]."""
    v: torch.Tensor  # the state before the step (binary)
    p_h: torch.Tensor  # p(h_j = 1 | v) = sigmoid(beta (c_j + W_j . v))
    h: torch.Tensor  # h_j ~ Bernoulli(p(h_j = 1 | v)), independent given v
    p_v: torch.Tensor  # p(v_i = 1 | h) = sigmoid(beta (b_i + W_:,i . h))
    v_next: torch.Tensor  # v'_i ~ Bernoulli(p(v_i = 1 | h)): the chain's next state


@torch.no_grad()
def gibbs_parts(model, v: torch.Tensor, generator: torch.Generator, beta: float = 1.0) -> GibbsParts:
    """The parts of one block Gibbs step of `model` (an RBM) from the binary state v ([V] or [1, ...])."""
    v = v.reshape(1, -1).to(torch.float32)
    p_h = model.p_h(v, beta)
    h = bernoulli(p_h, generator)
    p_v = model.p_v(h, beta)
    v_next = bernoulli(p_v, generator)
    return GibbsParts(v[0], p_h[0], h[0], p_v[0], v_next[0])


@dataclass(frozen=True)
class LangevinParts:
    """One Langevin step of one chain in 2-D (tensors [2]). For ULA the proposal is the new position; for MALA it is
    accepted when u < alpha = min(1, exp(log_alpha)), else the chain stays at x."""
    x: torch.Tensor  # the position before the step
    eta: float  # the step size
    grad: torch.Tensor  # grad log p(x)
    drift: torch.Tensor  # (eta/2) grad log p(x): uphill in log p
    xi: torch.Tensor  # xi ~ N(0, I)
    noise: torch.Tensor  # sqrt(eta) xi
    proposal: torch.Tensor  # y = x + drift + noise
    x_next: torch.Tensor  # ULA: y; MALA: y if accepted, else x
    mala: bool = False
    log_alpha: float | None = None  # MALA: log [p(y) q(x|y) / (p(x) q(y|x))]
    u: float | None = None  # MALA: u ~ U[0, 1), the accept test's draw
    accepted: bool = True

    @property
    def alpha(self) -> float | None:
        """MALA's acceptance probability min(1, p(y) q(x|y) / (p(x) q(y|x))) (None for ULA)."""
        if self.log_alpha is None:
            return None
        return math.exp(min(self.log_alpha, 0.0)) if math.isfinite(self.log_alpha) else 0.0


def sampler_settings(eta: float) -> tuple[float, float]:
    """(step size, noise) of samplers.ula / samplers.mala for x' = x + (eta/2) grad log p(x) + sqrt(eta) xi."""
    return eta / 2, math.sqrt(eta)


@torch.no_grad()
def langevin_parts(target, x: torch.Tensor, eta: float, generator: torch.Generator, mala: bool = False
                   ) -> LangevinParts:
    """The parts of one Langevin step on `target` (log_prob and grad, as genlib.densities.Target) from x ([2]).

    MALA's proposal density is q(y|x) = N(y; x + (eta/2) grad log p(x), eta I), so
        log q(x|y) - log q(y|x) = (|y - x - d(x)|^2 - |x - y - d(y)|^2) / (2 eta),   d(z) = (eta/2) grad log p(z)."""
    if not eta > 0 or not math.isfinite(eta):
        raise ValueError(f"the step size must be positive and finite, got {eta}")
    step, sd = sampler_settings(eta)
    x = x.reshape(1, 2)
    g = target.grad(x)
    drift = step * g
    xi = torch.randn(x.shape, generator=generator, dtype=x.dtype)
    noise = sd * xi
    y = x + drift + noise
    if not mala:
        return LangevinParts(x[0], eta, g[0], drift[0], xi[0], noise[0], y[0], y[0])
    mean_x = x + drift
    mean_y = y + step * target.grad(y)
    log_q_y_given_x = -((y - mean_x) ** 2).sum(1) / (2 * sd ** 2)
    log_q_x_given_y = -((x - mean_y) ** 2).sum(1) / (2 * sd ** 2)
    log_alpha = target.log_prob(y) - target.log_prob(x) + log_q_x_given_y - log_q_y_given_x
    u = torch.rand(1, generator=generator, dtype=x.dtype)
    # a proposal that is not finite, or beyond the samplers' bound |y_j| <= MAX_ABS, is rejected (as in samplers.mala)
    ok = bool(torch.isfinite(log_alpha).all()) and bool(torch.isfinite(y).all()) and bool((y.abs() <= MAX_ABS).all())
    accepted = ok and bool(torch.log(u) < log_alpha)
    return LangevinParts(x[0], eta, g[0], drift[0], xi[0], noise[0], y[0], (y if accepted else x)[0], True,
                         float(log_alpha) if ok else -math.inf, float(u), accepted)

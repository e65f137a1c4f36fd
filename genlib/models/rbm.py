"""Bernoulli restricted Boltzmann machine: CD-k (Hinton 2002), persistent CD (Tieleman 2008), exact log Z for
small models, pseudo-likelihood and annealed importance sampling (Salakhutdinov & Murray 2008).

Binary visible units v in {0,1}^V, hidden units h in {0,1}^H, weights W [H, V] (ARCHITECTURE.md, Contracts), biases b [V], c [H]:
    E(v, h) = -b.v - c.h - h^T W v,        p(v, h) = exp(-E(v, h)) / Z
    F(v)    = -log sum_h exp(-E(v, h)) = -b.v - sum_j softplus(c_j + W_j.v)          (free energy)
    p(h_j = 1 | v) = sigmoid(c_j + W_j.v),   p(v_i = 1 | h) = sigmoid(b_i + (W^T h)_i)
The log-likelihood gradient is a difference of a data term and a model term,
    d log p(v) / dW = E[h v^T | v] - E_model[h v^T],
and CD-k replaces the model expectation by k block-Gibbs steps started at the data; PCD keeps a set of
persistent chains that continue from one update to the next. The update is computed in closed form (no
autograd): grad = -(positive - negative statistics), and the trainer's optimizer (SGD with momentum, weight
decay and a learning-rate schedule) does the rest.

Every sampler here takes an inverse temperature beta: p_beta(v, h) is proportional to exp(-beta E(v, h)).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import limits, samplers
from ..train import Preset, TrainConfig
from .base import Model, fixed_generator

EXACT_MAX_HIDDEN = 20  # exact log Z sums over 2^H hidden states (or 2^V visible states, whichever is smaller)


def bernoulli(p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Binary samples with P(1) = p: u < p with u ~ U[0, 1). Draws the same numbers as torch.bernoulli(p, generator)
    (bit for bit, on the CPU) but about 3x faster, since torch.rand is vectorised."""
    return (torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device) < p).to(p.dtype)


@dataclass(frozen=True)
class RBMConfig:
    n_hidden: int = 500
    n_visible: int = 784
    k: int = 1  # Gibbs steps per update (CD-k, or PCD-k)
    persistent: bool = False  # PCD: the negative phase continues persistent chains
    n_chains: int = 100  # number of persistent chains (PCD only)
    init_std: float = 0.01  # initial weights ~ N(0, init_std^2)
    init_seed: int = 0  # seed of the weights drawn by RBM(config) itself; genlib.models.create(..., seed) redraws them
    max_weight: float = 50.0  # |W| beyond this counts as a blow-up (the trainer rolls back)

    def __post_init__(self):
        if self.n_hidden < 1 or self.n_visible < 1:
            raise ValueError(f"need at least one hidden and one visible unit, got {self.n_hidden} and {self.n_visible}")
        if self.k < 1:
            raise ValueError(f"k (Gibbs steps per update) must be at least 1, got {self.k}")
        if self.n_chains < 1:
            raise ValueError(f"the number of persistent chains must be at least 1, got {self.n_chains}")
        if not self.init_std >= 0 or not self.max_weight > 0:
            raise ValueError("init_std must be >= 0 and max_weight > 0")


class WeightsDiverged(FloatingPointError):
    """The weights grew without bound (learning rate too large)."""


class RBM(Model):
    kind = "rbm"
    binary = True  # the trainer binarizes every batch afresh
    manual_grads = True  # compute_grads: the CD-k / PCD update in closed form
    can_sample = True
    can_chain = True

    def __init__(self, config: RBMConfig = RBMConfig()):
        super().__init__()
        self.config = config
        H, V = config.n_hidden, config.n_visible
        init = torch.Generator().manual_seed(config.init_seed)
        self.weight = nn.Parameter(torch.randn(H, V, generator=init) * config.init_std)
        self.visible_bias = nn.Parameter(torch.zeros(V))
        self.hidden_bias = nn.Parameter(torch.zeros(H))
        # set by the first training step: visible biases from the data, persistent chains from the data
        self.register_buffer("initialized", torch.zeros((), dtype=torch.bool))
        if config.persistent:
            self.register_buffer("chains", torch.zeros(config.n_chains, V))

    @torch.no_grad()
    def init_weights(self, generator: torch.Generator) -> None:
        """W ~ N(0, init_std^2) from `generator`, biases 0 (the visible biases are set from the data at the first step)."""
        self.weight.copy_(torch.randn(self.weight.shape, generator=generator) * self.config.init_std)

    # ---- energies and conditionals (v: [N, V] or [N, 1, 28, 28]) ---------------------------------------------
    def _flat(self, v: torch.Tensor) -> torch.Tensor:
        return v.reshape(len(v), self.config.n_visible)

    def hidden_input(self, v: torch.Tensor) -> torch.Tensor:
        """c + W v  [N, H]. Outside autograd the last result is kept for the same state and weights: a Gibbs chain
        on a page asks twice for each state's c + W v (its free energy, drawn with the frame, then p(h|v) of the
        next step), and this product is most of a step's cost. Callers must not change the result in place."""
        v, w, c = self._flat(v), self.weight, self.hidden_bias
        if torch.is_grad_enabled():
            return torch.addmm(c, v, w.t())
        # the state by its memory and version counter (an in-place change bumps it); the memo keeps v, w and c
        # alive, so no other tensor can take their memory while it stands
        key = (v.data_ptr(), v.device, v.dtype, v.shape, v.stride(), v._version, w._version, c._version)
        memo = self.__dict__.get("_hidden_memo")
        if memo is not None and memo[0] == key and memo[2] is w and memo[3] is c:
            return memo[4]
        out = torch.addmm(c, v, w.t())
        self.__dict__["_hidden_memo"] = (key, v, w, c, out)  # one tuple, replaced whole: safe between threads
        return out

    def free_energy(self, v: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """F_beta(v) = -beta b.v - sum_j softplus(beta (c_j + W_j.v))  [N]; beta = 1 is the model's F."""
        v = self._flat(v)
        return -beta * (v @ self.visible_bias) - F.softplus(beta * self.hidden_input(v)).sum(1)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """E(v, h) = -b.v - c.h - h^T W v  [N]."""
        v = self._flat(v)
        return -(v @ self.visible_bias) - (h @ self.hidden_bias) - ((h @ self.weight) * v).sum(1)

    def p_h(self, v: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """p(h = 1 | v) [N, H]."""
        return torch.sigmoid(beta * self.hidden_input(v))

    def p_v(self, h: torch.Tensor, beta: float = 1.0) -> torch.Tensor:
        """p(v = 1 | h) [N, V]."""
        return torch.sigmoid(beta * torch.addmm(self.visible_bias, h, self.weight))

    def gibbs_step(self, v: torch.Tensor, generator: torch.Generator, beta: float = 1.0
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One block Gibbs step v -> h ~ p(h|v) -> v' ~ p(v|h); returns (v', p(v'=1|h), h)."""
        h = bernoulli(self.p_h(v, beta), generator=generator)
        pv = self.p_v(h, beta)
        return bernoulli(pv, generator=generator), pv, h

    # ---- training ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _init_from_data(self, v0: torch.Tensor, generator: torch.Generator) -> None:
        """Visible biases = log-odds of the pixel means (Hinton's practical guide, sec. 8); chains = data."""
        p = v0.mean(0).clamp(0.01, 0.99)
        self.visible_bias.copy_(torch.log(p / (1 - p)))
        if self.config.persistent:
            idx = torch.randint(0, len(v0), (self.config.n_chains,), generator=generator, device=v0.device)
            self.chains.copy_(v0[idx])
        self.initialized.fill_(True)

    @torch.no_grad()
    def compute_grads(self, x: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """Fill p.grad with minus the CD-k / PCD-k estimate of the log-likelihood gradient (no autograd).

        positive phase: <h v^T>_data with h replaced by p(h|v_data) (Rao-Blackwellised);
        negative phase: <p(h|v_k) v_k^T> over the k-step (CD) or persistent (PCD) chains.
        """
        c = self.config
        if not bool(self.initialized):
            self._init_from_data(self._flat(x), generator)
        lo, hi = torch.aminmax(self.weight)  # one vectorised pass; max |W_ji| = max(-lo, hi)
        if max(-float(lo), float(hi)) > c.max_weight:
            raise WeightsDiverged(f"weights blew up (|W| > {c.max_weight:g})")
        v0 = self._flat(x)
        ph0 = torch.sigmoid(self.hidden_input(v0))
        if c.persistent:
            vk = self.chains
            for _ in range(c.k):
                vk, _, _ = self.gibbs_step(vk, generator)
            self.chains.copy_(vk)
            pv_recon = self.p_v(bernoulli(ph0, generator=generator))
        else:
            h = bernoulli(ph0, generator=generator)
            for i in range(c.k):
                pv = self.p_v(h)
                if i == 0:
                    pv_recon = pv
                vk = bernoulli(pv, generator=generator)
                if i < c.k - 1:
                    h = bernoulli(self.p_h(vk), generator=generator)
        phk = self.p_h(vk)
        n, m = len(v0), len(vk)
        # -(<ph0 v0^T>/n - <phk vk^T>/m) as one matrix product: [-ph0/n, phk/m]^T [v0; vk]
        lhs = torch.cat([ph0 / -n, phk / m])
        self.weight.grad = lhs.t() @ torch.cat([v0, vk])
        self.visible_bias.grad = vk.mean(0) - v0.mean(0)
        self.hidden_bias.grad = phk.mean(0) - ph0.mean(0)
        recon = (v0 - pv_recon).pow(2).sum(1).mean()
        return {"loss": recon, "recon": recon}

    @torch.no_grad()
    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Validation terms: reconstruction error (summed squared error of p(v|h), h ~ p(h|v), per digit),
        mean free energy and the stochastic pseudo-log-likelihood, per digit."""
        generator = fixed_generator(generator, x.device)  # never the global generator
        v = self._flat(x)
        pv = self.p_v(bernoulli(self.p_h(v), generator=generator))
        recon = (v - pv).pow(2).sum(1).mean()
        return {"loss": recon, "recon": recon, "free_energy": self.free_energy(v).mean(),
                "pseudo_ll": pseudo_likelihood(self, v, generator).mean()}

    # ---- sampling ---------------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample_chain(self, n: int, steps: int, generator: torch.Generator, start: torch.Tensor | None = None,
                     every: int = 1, beta: float = 1.0) -> list[torch.Tensor]:
        """Frames [n, 1, 28, 28] of p(v|h) along Gibbs chains from uniform-noise binary images (or `start`)."""
        v = bernoulli(torch.full((n, self.config.n_visible), 0.5), generator=generator) if start is None \
            else self._flat(start).clone()
        frames = [v.reshape(n, 1, 28, 28)]
        chain = samplers.gibbs(self, v, generator, beta)
        for i in range(1, steps + 1):
            state = next(chain)
            if i % every == 0 or i == steps:
                frames.append(state.mean.reshape(n, 1, 28, 28))
        return frames

    @torch.no_grad()
    def reconstruct(self, v: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One Gibbs step from the data, v -> h ~ p(h|v) -> p(v|h): the reconstructions of the lecture's RBM code,
        as images [N, 1, 28, 28] of the means p(v = 1 | h)."""
        h = bernoulli(self.p_h(self._flat(v)), generator=generator)
        return self.p_v(h).reshape(len(v), 1, 28, 28)

    def sample(self, n: int, generator: torch.Generator, steps: int = 1000) -> torch.Tensor:
        """n images p(v|h) [n, 1, 28, 28] after `steps` Gibbs steps from noise."""
        return self.sample_chain(n, steps, generator, every=steps)[-1]

    # ---- likelihoods ------------------------------------------------------------------------------------------
    @torch.no_grad()
    def eval_metrics(self, x01: torch.Tensor, samples=None, generator=None, ais_runs: int = 100,
                     ais_betas: int = 14_500, seed: int = 0, pl_limit: int = 1000) -> dict[str, float]:
        """Test log-likelihood from AIS log Z (and exact log Z for small models), exact pseudo-likelihood.

        x01: digits in [0, 1]; binarized once with the fixed evaluation seed.
        """
        from ..data import binarize_fixed

        v = self._flat(binarize_fixed(x01))
        g = torch.Generator().manual_seed(seed)
        mean_f = float(self.free_energy(v).mean())
        res = ais(self, base_rate_biases(v), n_runs=ais_runs, betas=default_betas(ais_betas), generator=g)
        ll, ll_low, ll_high = log_likelihood(mean_f, res)
        out = {"ais_logz": res.logz, "ais_logz_low": res.logz_low, "ais_logz_high": res.logz_high,
               "test_ll": ll, "test_ll_low": ll_low, "test_ll_high": ll_high, "ais_seconds": res.seconds,
               "pseudo_ll": float(pseudo_likelihood_exact(self, v[:pl_limit]).mean()),
               "mean_free_energy": mean_f}
        if min(self.config.n_hidden, self.config.n_visible) <= EXACT_MAX_HIDDEN:
            z = exact_log_z(self)
            out.update(exact_logz=z, exact_test_ll=log_likelihood(mean_f, z)[0])
        return out


# ---- likelihood estimates --------------------------------------------------------------------------------------
def pseudo_likelihood(model: RBM, v: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Stochastic pseudo-log-likelihood [N]: V * log p(v_i | v_-i) for one random pixel i per digit
    (as scikit-learn's score_samples); p(v_i | v_-i) = sigmoid(F(v with v_i flipped) - F(v))."""
    v = model._flat(v)
    i = torch.randint(0, v.shape[1], (len(v),), generator=generator, device=v.device)
    flipped = v.clone()
    rows = torch.arange(len(v), device=v.device)
    flipped[rows, i] = 1 - flipped[rows, i]
    return v.shape[1] * F.logsigmoid(model.free_energy(flipped) - model.free_energy(v))


@torch.no_grad()
def pseudo_likelihood_exact(model: RBM, v: torch.Tensor, chunk: int = 32) -> torch.Tensor:
    """Pseudo-log-likelihood [N] = sum_i log p(v_i | v_-i), every pixel flipped in turn.

    Flipping v_i changes the hidden input by s_i W[:, i] with s_i = 1 - 2 v_i, and F by
    -s_i b_i - sum_j [softplus(a_j + s_i W_ji) - softplus(a_j)].
    """
    v = model._flat(v)
    out = []
    for x in v.split(chunk):
        a = model.hidden_input(x)  # [n, H]
        s = 1 - 2 * x  # [n, V]
        a_flip = a[:, None, :] + s[:, :, None] * model.weight.t()[None]  # [n, V, H]
        dF = -s * model.visible_bias - (F.softplus(a_flip).sum(2) - F.softplus(a).sum(1, keepdim=True))
        out.append(F.logsigmoid(dF).sum(1))  # log p(v_i | v_-i) = log sigmoid(F(v_flip) - F(v))
    return torch.cat(out)


def _bit_table(n: int, start: int, stop: int) -> torch.Tensor:
    """Rows start..stop-1 of the table of all binary vectors of length n [stop - start, n]."""
    idx = torch.arange(start, stop)
    return ((idx[:, None] >> torch.arange(n)) & 1).float()


@torch.no_grad()
def exact_log_z(model: RBM, beta: float = 1.0, chunk: int = 1 << 14) -> float:
    """log Z by summing over every state of the smaller layer (at most 2^20 states), in float64.

    Over hidden states: Z = sum_h exp(beta c.h) prod_i (1 + exp(beta (b_i + (W^T h)_i)));
    over visible states: Z = sum_v exp(-F_beta(v)).
    """
    H, V = model.config.n_hidden, model.config.n_visible
    n = min(H, V)
    if n > EXACT_MAX_HIDDEN:
        raise ValueError(f"exact log Z needs at most {EXACT_MAX_HIDDEN} hidden (or visible) units, this model has {H}")
    W, b, c = (t.detach().double() for t in (model.weight, model.visible_bias, model.hidden_bias))
    parts = []
    for start in range(0, 1 << n, chunk):
        s = _bit_table(n, start, min(start + chunk, 1 << n)).double()
        if H <= V:  # s are hidden states
            parts.append(beta * (s @ c) + F.softplus(beta * (s @ W + b)).sum(1))
        else:  # s are visible states
            parts.append(beta * (s @ b) + F.softplus(beta * (s @ W.t() + c)).sum(1))
    return float(torch.logsumexp(torch.cat(parts), 0))


@torch.no_grad()
def exact_log_probs(model: RBM) -> torch.Tensor:
    """log p(v) for every visible state (index = sum_i v_i 2^i) [2^V]; small models only (V <= 20)."""
    V = model.config.n_visible
    if V > EXACT_MAX_HIDDEN:
        raise ValueError(f"enumerating p(v) needs at most {EXACT_MAX_HIDDEN} visible units")
    W, b, c = (t.detach().double() for t in (model.weight, model.visible_bias, model.hidden_bias))
    v = _bit_table(V, 0, 1 << V).double()
    neg_f = v @ b + F.softplus(v @ W.t() + c).sum(1)
    return neg_f - torch.logsumexp(neg_f, 0)


def default_betas(n: int = 14_500) -> torch.Tensor:
    """Salakhutdinov & Murray's schedule: 500 steps on [0, 0.5], 4000 on [0.5, 0.9], 10000 on [0.9, 1],
    scaled to n inverse temperatures in all."""
    if n < 3:
        raise ValueError("AIS needs at least 3 inverse temperatures")
    n1, n2 = max(1, round(n * 500 / 14_500)), max(1, round(n * 4000 / 14_500))
    n3 = max(1, n - n1 - n2)
    d = torch.float64
    return torch.cat([torch.linspace(0, 0.5, n1 + 1, dtype=d)[:-1], torch.linspace(0.5, 0.9, n2 + 1, dtype=d)[:-1],
                      torch.linspace(0.9, 1.0, n3, dtype=d)])


def base_rate_biases(v: torch.Tensor, smoothing: float = 0.05) -> torch.Tensor:
    """Visible biases of the base-rate model (no hidden units): log-odds of the smoothed pixel means."""
    p = (v.reshape(len(v), -1).float().mean(0) * len(v) + smoothing) / (len(v) + 2 * smoothing)
    return torch.log(p) - torch.log1p(-p)


@dataclass
class AISResult:
    logz: float  # log of the mean importance weight times Z_A
    logz_low: float  # log(mean w - 3 std err) + log Z_A  (-inf clamped to logz - 50 when the band reaches 0)
    logz_high: float  # log(mean w + 3 std err) + log Z_A
    log_weights: torch.Tensor  # [runs]
    seconds: float


@torch.no_grad()
def ais(model: RBM, base_bias: torch.Tensor, n_runs: int = 100, betas: torch.Tensor | None = None,
        generator: torch.Generator | None = None, progress: Callable[[float], None] | None = None) -> AISResult:
    """Annealed importance sampling estimate of log Z (Salakhutdinov & Murray 2008).

    Intermediate distributions, with the base-rate model A (biases b_A, no hidden units) at beta = 0:
        p*_beta(v) = exp((1 - beta) b_A.v + beta b.v) prod_j (1 + exp(beta (c_j + W_j.v)))
    Each run starts with v ~ p_A and accumulates log w += log p*_{beta_k}(v) - log p*_{beta_{k-1}}(v), then
    moves v by one Gibbs step that leaves p*_{beta_k} invariant. log Z = log Z_0 + log mean(w), with
    log Z_0 = sum_i softplus(b_A,i) + H log 2.
    """
    import time

    t0 = time.perf_counter()
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    betas = default_betas() if betas is None else betas.double()
    limits.check("AIS runs x inverse temperatures", int(n_runs) * len(betas), 1, limits.MAX_AIS_WORK)
    W, b, c = model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()
    bA = base_bias.to(b.dtype)
    v = bernoulli(torch.sigmoid(bA).expand(n_runs, -1), generator=g)
    logw = torch.zeros(n_runs, dtype=torch.float64)
    db = b - bA
    a = torch.addmm(c, v, W.t())  # hidden input of the current v  [runs, H]
    prev = 0.0
    K = len(betas)
    every = max(1, K // 100)
    for k in range(1, K):
        bk = float(betas[k])
        # log p*_k(v) - log p*_{k-1}(v) for the current v
        logw += ((bk - prev) * (v @ db) + F.softplus(bk * a).sum(1) - F.softplus(prev * a).sum(1)).double()
        # Gibbs step at beta_k: h ~ sigmoid(beta (c + W v)); v ~ sigmoid((1 - beta) b_A + beta (b + W^T h))
        h = bernoulli(torch.sigmoid(bk * a), generator=g)
        v = bernoulli(torch.sigmoid((1 - bk) * bA + bk * torch.addmm(b, h, W)), generator=g)
        a = torch.addmm(c, v, W.t())
        prev = bk
        if progress is not None and k % every == 0:
            progress(k / (K - 1))
    # Z of p*_0 = Z_A * 2^H (at beta = 0 each hidden unit is free: a factor 1 + e^0 = 2)
    log_za = float(F.softplus(bA.double()).sum()) + W.shape[0] * math.log(2.0)
    m = float(logw.max())
    w = torch.exp(logw - m)  # weights scaled by exp(-m)
    mean, se = float(w.mean()), float(w.std() / math.sqrt(n_runs)) if n_runs > 1 else 0.0
    logz = log_za + m + math.log(mean)
    high = log_za + m + math.log(mean + 3 * se)
    low = log_za + m + math.log(mean - 3 * se) if mean - 3 * se > 0 else logz - 50.0
    if progress is not None:
        progress(1.0)
    return AISResult(logz, low, high, logw, time.perf_counter() - t0)


def ais_seconds(model: RBM, n_runs: int, n_betas: int, probe_betas: int = 8) -> float:
    """An estimate of the wall time of `ais(model, ..., n_runs, default_betas(n_betas))`, in seconds, to show before
    it starts: a short timed run of `probe_betas` temperatures (with at most 200 runs) scaled up linearly in
    temperatures and runs. Takes a few milliseconds for the bundled RBMs."""
    import time

    runs = max(1, min(int(n_runs), 200))
    bias = torch.zeros(model.config.n_visible, dtype=model.visible_bias.dtype)
    betas = torch.linspace(0, 1, max(3, probe_betas), dtype=torch.float64)
    ais(model, bias, n_runs=runs, betas=betas[:3], generator=torch.Generator().manual_seed(0))  # warm-up
    per_step = math.inf
    for _ in range(3):  # the fastest of three probes: one probe on a busy machine may catch a stall
        t0 = time.perf_counter()
        ais(model, bias, n_runs=runs, betas=betas, generator=torch.Generator().manual_seed(0))
        per_step = min(per_step, (time.perf_counter() - t0) / (len(betas) - 1))
    return per_step * max(int(n_betas) - 1, 0) * max(int(n_runs), 1) / runs


def log_likelihood(mean_free_energy: float, logz: "float | AISResult") -> tuple[float, float, float]:
    """Average log p(v) = -mean F(v) - log Z with its band (low, high); for an AIS estimate the band comes from its
    +-3 standard-error band on Z (a larger log Z gives a lower log-likelihood), for an exact log Z it is the value."""
    if isinstance(logz, AISResult):
        return -mean_free_energy - logz.logz, -mean_free_energy - logz.logz_high, -mean_free_energy - logz.logz_low
    return (-mean_free_energy - logz,) * 3


PRESETS = {
    # the course's setting (the default preset): CD-1, plain SGD with learning rate 0.1, batch 64, 10 epochs
    "cd1": Preset(RBMConfig(n_hidden=500, k=1), TrainConfig(optimizer="sgd", lr=0.1, batch_size=64), epochs=10),
    # persistent CD with momentum, weight decay and a linearly decaying learning rate. With only 4500 training digits
    # weight decay matters most (AIS test log-likelihood after 300 epochs: 1e-4 -108.2, 5e-4 -104.7, 1e-3 -103.4,
    # 2e-3 -102.7, 4e-3 -104.1 nats); 600 epochs at 2e-3 reach -98.6 (checkpoints/rbm-500)
    "pcd": Preset(RBMConfig(n_hidden=500, k=1, persistent=True, n_chains=100),
                  TrainConfig(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=2e-3, lr_end=0.0, batch_size=100),
                  epochs=600),
    # small enough for the exact log Z (2^16 hidden states)
    "small": Preset(RBMConfig(n_hidden=16, k=1, persistent=True, n_chains=100),
                    TrainConfig(optimizer="sgd", lr=0.01, momentum=0.9, weight_decay=1e-4, lr_end=0.0, batch_size=100),
                    epochs=100),
    # the course's CD-1 setting on 16 hidden units: the case where AIS can be checked against the exact answer
    "small-cd1": Preset(RBMConfig(n_hidden=16, k=1), TrainConfig(optimizer="sgd", lr=0.1, batch_size=64), epochs=10),
}

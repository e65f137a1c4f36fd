"""The one chain engine: ULA, MALA, SGLD, SGD, Gibbs for the RBM, image Langevin and the replay buffer for the EBMs,
one recorder of frames, energies and statistics, and diagnostics. Samplers are generators of chain states,
vectorised over chains.

Papers: unadjusted and Metropolis-adjusted Langevin (MALA): Roberts & Tweedie 1996, "Exponential convergence of
Langevin distributions and their discrete approximations"; stochastic gradient Langevin dynamics (SGLD): Welling &
Teh 2011, "Bayesian learning via stochastic gradient Langevin dynamics"; effective sample size with Geyer's
(1992) initial positive sequence, as in Stan.

All chains are rows of one tensor x [C, d]. A sampler yields a `ChainState` after every step. A chain whose
state becomes non-finite or leaves |x_j| <= max_abs (a step size too large for the local curvature sends it
to infinity) is marked dead: its row becomes NaN and stays frozen, the other chains go on untouched.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from genlib import limits

Score = Callable[[torch.Tensor], torch.Tensor]  # x [C, d] -> d log p / dx [C, d]
LogProb = Callable[[torch.Tensor], torch.Tensor]  # x [C, d] -> log p(x) [C] (up to a constant)
MAX_ABS = 1e3  # |x_j| beyond this counts as sent to infinity (every 2-D target here lives inside |x| < 10)


@dataclass
class ChainState:
    x: torch.Tensor  # [C, d]; rows of dead chains are NaN
    step: int  # steps done
    alive: torch.Tensor  # [C] bool
    step_size: float  # the step size of the last step (changes along an SGLD schedule)
    accepted: torch.Tensor | None = None  # MALA: accepted proposals per chain so far [C]
    died: int = 0  # chains that died in this step
    mean: torch.Tensor | None = None  # Gibbs: p(v = 1 | h) of the step [C, d], the picture a page shows

    @property
    def n_dead(self) -> int:
        return int((~self.alive).sum())

    @property
    def acceptance_rate(self) -> float | None:
        """Share of accepted MALA proposals over all steps of the live chains (None for other samplers)."""
        if self.accepted is None or self.step == 0 or not bool(self.alive.any()):
            return None
        return float(self.accepted[self.alive].sum() / (self.step * self.alive.sum()))


def temperature(step_size: float, noise: float) -> float:
    """Effective temperature of x <- x + eta grad log p + sigma w: T = sigma^2 / (2 eta).

    This update is the Euler step (dt = eta) of dX = grad log p dt + sqrt(2T) dW, whose stationary law is
    p^(1/T). The textbook choice sigma = sqrt(2 eta) gives T = 1 (samples p); the course's sigma = sqrt(eta)
    gives T = 1/2 (samples p^2, sharper than p); sigma = 0 is gradient ascent (T = 0)."""
    return noise ** 2 / (2 * step_size)


def check_settings(x0: torch.Tensor, step_size: float | None = None, noise: float | None = None) -> None:
    """Refuse impossible settings with a message a page can show as it is."""
    if x0.dim() != 2:
        raise ValueError(f"chains must be a [chains, dims] tensor, got shape {tuple(x0.shape)}")
    if x0.shape[0] < 1:
        raise ValueError("the number of chains must be at least 1")
    if step_size is not None and not (step_size > 0 and math.isfinite(step_size)):
        raise ValueError(f"the step size must be a positive number, got {step_size}")
    if noise is not None and not (noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"the noise scale must be zero or positive, got {noise}")


def init_chains(n: int, dims: int, generator: torch.Generator, low: float = -1.0, high: float = 1.0,
                dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """n chains started uniformly in [low, high]^dims (the course starts them in [-1, 1])."""
    if n < 1:
        raise ValueError(f"the number of chains must be at least 1, got {n}")
    return low + (high - low) * torch.rand(n, dims, generator=generator, dtype=dtype)


def _inside(x: torch.Tensor, max_abs: float) -> torch.Tensor:
    """Rows of x that are finite with every |x_j| <= max_abs [N] (bool)."""
    # |x_j| <= max_abs is false for NaN and for +-inf, so with a finite bound it is the finiteness test as well
    return (x.abs() <= max_abs).all(1) if math.isfinite(max_abs) else torch.isfinite(x).all(1)


def _retire(x: torch.Tensor, alive: torch.Tensor, max_abs: float, all_alive: bool = False
            ) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Mark chains that left the finite box dead (their rows become NaN); returns (x, alive, newly dead).
    `all_alive` says that every entry of `alive` is true (it is then not read: fewer tensor operations per step)."""
    inside = _inside(x, max_abs)
    ok = inside if all_alive else alive & inside
    died = (len(x) if all_alive else int(alive.sum())) - int(ok.sum())
    if died:
        x = torch.where(ok[:, None], x, torch.full_like(x, float("nan")))
    return x, ok, died


def _row_sums(a: torch.Tensor) -> torch.Tensor:
    """a.sum(1) of [N, d]: for d = 2 written a0 + a1, the same numbers bit for bit (a sum of two is one addition) at
    half the cost of torch's reduction on a few hundred rows."""
    return torch.add(*a.unbind(1)) if a.shape[1] == 2 else a.sum(1)


def _safe(x: torch.Tensor, alive: torch.Tensor, all_alive: bool = False) -> torch.Tensor:
    # dead rows are fed to the gradient as zeros, so no NaN/inf ever enters a computation of a live chain
    # (with every chain alive that is x itself: the same numbers, a few tensor operations fewer per step)
    return x if all_alive else torch.where(alive[:, None], x, torch.zeros_like(x))


def ula(grad_log_p: Score, x0: torch.Tensor, step_size: float, noise: float, generator: torch.Generator,
        max_abs: float = MAX_ABS, clip: tuple[float, float] | None = None) -> Iterator[ChainState]:
    """Unadjusted Langevin algorithm: x <- x + eta grad log p(x) + sigma w, w ~ N(0, I), endless.

    eta (step size) and sigma (noise) are separate settings; see `temperature`. Biased for any eta > 0: even at
    T = 1 it samples a distribution that differs from p by O(eta) (Roberts & Tweedie 1996). With `clip`
    = (low, high) each step is projected back into the box (the image EBM keeps pixels in [-1, 1]).
    Settings are checked here, at the call (a ValueError), not at the first step."""
    check_settings(x0, step_size, noise)
    return _ula(grad_log_p, x0, step_size, noise, generator, max_abs, clip)


def _ula(grad_log_p, x0, step_size, noise, generator, max_abs, clip) -> Iterator[ChainState]:
    x, alive, t = x0.detach().clone(), torch.ones(len(x0), dtype=torch.bool, device=x0.device), 0
    x, alive, died = _retire(x, alive, max_abs, all_alive=True)
    all_alive = died == 0
    while True:
        w = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        x_new = x + step_size * grad_log_p(_safe(x, alive, all_alive)) + noise * w
        if clip is not None:
            x_new = x_new.clamp(*clip)
        x = x_new if all_alive else torch.where(alive[:, None], x_new, x)
        x, alive, died = _retire(x, alive, max_abs, all_alive)
        all_alive = all_alive and died == 0
        t += 1
        yield ChainState(x, t, alive, step_size, died=died)


def mala(log_p: LogProb, grad_log_p: Score, x0: torch.Tensor, step_size: float, generator: torch.Generator,
         noise: float | None = None, max_abs: float = MAX_ABS) -> Iterator[ChainState]:
    """Metropolis-adjusted Langevin (Roberts & Tweedie 1996): a ULA step as proposal, then accept/reject.

    Proposal y = x + eta grad log p(x) + sigma w, i.e. q(y | x) = N(y; x + eta grad log p(x), sigma^2 I), with
    sigma = sqrt(2 eta) unless given. Accept with probability
        min(1, p(y) q(x | y) / (p(x) q(y | x))),
    which makes p itself invariant for every eta and sigma (ULA's bias and temperature are both corrected).
    A non-finite proposal is rejected, so MALA chains never die; large steps just stop being accepted."""
    if noise is None:
        noise = math.sqrt(2 * step_size)
    check_settings(x0, step_size, noise)
    if noise == 0:
        raise ValueError("MALA needs noise > 0 (its proposal must have a density)")
    return _mala(log_p, grad_log_p, x0, step_size, generator, noise, max_abs)


def _mala(log_p, grad_log_p, x0, step_size, generator, noise, max_abs) -> Iterator[ChainState]:
    x = x0.detach().clone()
    lp, g = log_p(x), grad_log_p(x)
    alive = torch.isfinite(x).all(1) & torch.isfinite(lp) & torch.isfinite(g).all(1)
    x = torch.where(alive[:, None], x, torch.full_like(x, float("nan")))
    accepted = torch.zeros(len(x), dtype=x.dtype)
    t, all_alive = 0, bool(alive.all())  # MALA chains never die: alive stays as it starts
    while True:
        xs = _safe(x, alive, all_alive)
        if not all_alive:
            lp, g = torch.where(alive, lp, 0.0), _safe(g, alive)
        mean_x = xs + step_size * g
        y = mean_x + noise * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        lp_y, g_y = log_p(y), grad_log_p(y)
        mean_y = y + step_size * g_y
        # log q(y|x) = -|y - mean_x|^2 / (2 sigma^2), written s / (-2 sigma^2): the same number as -(s) / (2 sigma^2)
        # (IEEE division is exact up to sign), one tensor operation fewer
        dy, dx = y - mean_x, xs - mean_y
        log_q_y_given_x = _row_sums(dy * dy) / (-2 * noise ** 2)
        log_q_x_given_y = _row_sums(dx * dx) / (-2 * noise ** 2)
        log_alpha = lp_y - lp + log_q_x_given_y - log_q_y_given_x
        u = torch.rand(len(x), generator=generator, dtype=x.dtype)
        ok = torch.isfinite(log_alpha) & _inside(y, max_abs)
        if not all_alive:
            ok = alive & ok
        acc = ok & (torch.log(u) < log_alpha)  # a NaN log_alpha is not finite: `ok` rejects it already
        rows = acc[:, None]
        x = torch.where(rows, y, x)
        lp = torch.where(acc, lp_y, lp)
        g = torch.where(rows, g_y, g)
        accepted = accepted + acc  # a new tensor every step: the state may keep it as it is
        t += 1
        yield ChainState(x, t, alive, step_size, accepted=accepted)


@dataclass(frozen=True)
class StepSchedule:
    """Welling & Teh's step sizes eps_t = a (b + t)^(-gamma), t = 0, 1, ...; gamma in (0.5, 1] satisfies
    sum eps_t = inf and sum eps_t^2 < inf (Robbins-Monro); gamma = 0 is a constant step a b^0 = a."""

    a: float = 0.05
    b: float = 10.0
    gamma: float = 0.55

    def __post_init__(self):
        if not (self.a > 0 and math.isfinite(self.a)):
            raise ValueError(f"the schedule's a must be positive, got {self.a}")
        if not self.b > 0:
            raise ValueError(f"the schedule's b must be positive, got {self.b}")
        if not 0 <= self.gamma <= 1:
            raise ValueError(f"the schedule's gamma must lie in [0, 1], got {self.gamma}")

    def __call__(self, t: int | np.ndarray) -> float | np.ndarray:
        return self.a * (self.b + t) ** (-self.gamma)


def _schedule_steps(grad: Score, x0: torch.Tensor, schedule: StepSchedule, generator: torch.Generator,
                    noisy: bool, max_abs: float) -> Iterator[ChainState]:
    check_settings(x0)  # at the call: the generator below only starts at the first step
    return _scheduled(grad, x0, schedule, generator, noisy, max_abs)


def _scheduled(grad, x0, schedule, generator, noisy, max_abs) -> Iterator[ChainState]:
    x, alive, t, all_alive = x0.detach().clone(), torch.ones(len(x0), dtype=torch.bool), 0, True
    while True:
        eps = float(schedule(t))
        # Welling & Teh eq. 4: dtheta = eps/2 (grad log p(theta) + N/n sum grad log p(x_i|theta)) + N(0, eps)
        x_new = x + 0.5 * eps * grad(_safe(x, alive, all_alive))
        if noisy:
            x_new = x_new + math.sqrt(eps) * torch.randn(x.shape, generator=generator, dtype=x.dtype)
        x = x_new if all_alive else torch.where(alive[:, None], x_new, x)
        x, alive, died = _retire(x, alive, max_abs, all_alive)
        all_alive = all_alive and died == 0
        t += 1
        yield ChainState(x, t, alive, eps, died=died)


def sgld(grad_estimate: Score, x0: torch.Tensor, schedule: StepSchedule, generator: torch.Generator,
         max_abs: float = MAX_ABS) -> Iterator[ChainState]:
    """Stochastic gradient Langevin dynamics (Welling & Teh 2011): theta <- theta + eps_t/2 g + sqrt(eps_t) w.

    `grad_estimate(theta)` is an unbiased minibatch estimate of grad log p(theta | data) (it draws its own
    minibatch); with the full-data gradient this is Langevin dynamics at temperature 1 with a step schedule.
    As eps_t -> 0 the injected noise (variance eps_t) dominates the minibatch noise (variance ~eps_t^2), so the
    chain samples the posterior without a Metropolis step."""
    return _schedule_steps(grad_estimate, x0, schedule, generator, True, max_abs)


def sgd(grad_estimate: Score, x0: torch.Tensor, schedule: StepSchedule, generator: torch.Generator,
        max_abs: float = MAX_ABS) -> Iterator[ChainState]:
    """Plain stochastic gradient ascent on log p with the same steps, eps_t/2 g: it finds a mode, it does not sample."""
    return _schedule_steps(grad_estimate, x0, schedule, generator, False, max_abs)


class SGLD(torch.optim.Optimizer):
    """SGLD as an optimizer (Welling & Teh 2011): p <- p - eps_t/2 grad U(p) + sqrt(eps_t) w, w ~ N(0, I).

    U is the loss: the negative log posterior estimated on a minibatch, -log p(theta) - N/n sum log p(x_i|theta).
    eps_t = a (b + t)^(-gamma), with t the number of steps this parameter has taken. Noise comes from `generator`
    (its own torch.Generator, never the global RNG); `noise=False` makes it plain SGD with the same steps."""

    def __init__(self, params, a: float = 0.01, b: float = 1.0, gamma: float = 0.55,
                 generator: torch.Generator | None = None, noise: bool = True):
        StepSchedule(a, b, gamma)  # validates
        super().__init__(params, dict(a=a, b=b, gamma=gamma, noise=noise))
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                t = state.get("step", 0)
                eps = group["a"] * (group["b"] + t) ** (-group["gamma"])
                p.add_(p.grad, alpha=-0.5 * eps)
                if group["noise"]:
                    w = torch.randn(p.shape, generator=self.generator, dtype=p.dtype, device=p.device)
                    p.add_(w, alpha=math.sqrt(eps))
                state["step"] = t + 1
                state["lr"] = eps
        return loss


# ---- samplers of the image models -------------------------------------------------------------------------------

def langevin_images(energy: Callable[[torch.Tensor], torch.Tensor], x0: torch.Tensor, step_size: float, noise: float,
                    grad_clamp: float, generator: torch.Generator) -> Iterator[ChainState]:
    """ULA on images in [-1, 1] for an energy model (Du & Mordatch 2019): grad log p = -dE/dx, clamped per pixel to
    +-grad_clamp, each step projected back into [-1, 1]. x0 [N, ...] (e.g. [N, 1, 28, 28]); the states are the
    flattened images [N, prod(...)]. The energy network's weights get no gradient."""
    if not (grad_clamp > 0):
        raise ValueError(f"the gradient clamp must be positive, got {grad_clamp}")
    shape = x0.shape

    def score(flat: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xi = flat.reshape(shape).requires_grad_(True)
            (g,) = torch.autograd.grad(energy(xi).sum(), xi)
        return -g.clamp(-grad_clamp, grad_clamp).reshape(len(flat), -1)

    return ula(score, x0.detach().reshape(len(x0), -1), step_size, noise, generator, clip=(-1.0, 1.0))


def run(chain: Iterator[ChainState], steps: int) -> ChainState:
    """Advance a chain by `steps` steps (at least 1) and return its last state."""
    if steps < 1:
        raise ValueError(f"the number of steps must be at least 1, got {steps}")
    for _ in range(steps):
        state = next(chain)
    return state


def gibbs(model, v0: torch.Tensor, generator: torch.Generator, beta: float | Callable[[], float] = 1.0
          ) -> Iterator[ChainState]:
    """Block Gibbs sampling of an RBM, v -> h ~ p(h|v) -> v' ~ p(v|h), at inverse temperature beta (a number, or a
    function read before every step so that a page can change it while the chain runs). States: the sampled
    v [N, V]; `mean` is p(v' = 1 | h), the smooth picture of the chain. `model` provides gibbs_step(v, generator, beta)."""
    beta_now = beta if callable(beta) else (lambda: beta)
    if not beta_now() > 0:
        raise ValueError(f"the inverse temperature must be positive, got {beta_now()}")
    v = v0.detach().reshape(len(v0), -1).clone()
    return _gibbs(model, v, generator, beta_now)


def _gibbs(model, v, generator, beta_now) -> Iterator[ChainState]:
    alive, t = torch.ones(len(v), dtype=torch.bool, device=v.device), 0
    while True:
        with torch.no_grad():  # a block, not a decorator: that would enter and leave no_grad at every yield
            v, pv, _ = model.gibbs_step(v, generator, beta_now())
        t += 1
        yield ChainState(v, t, alive, 0.0, mean=pv)


def replay_starts(buffer: torch.Tensor, ready: torch.Tensor, n: int, reinit: float,
                  noise: Callable[[int], torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Starting points of n chains from a replay buffer of earlier samples (Du & Mordatch 2019; persistent chains as in
    Tieleman 2008): n random entries, a share `reinit` of them restarted from noise(k). The buffer fills with noise
    at its first use (`ready` is a bool tensor flag). Returns (x [n, ...], idx); write the moved chains back with
    buffer[idx] = x."""
    if not bool(ready):
        buffer.copy_(noise(len(buffer)))
        ready.fill_(True)
    idx = torch.randint(0, len(buffer), (n,), generator=generator, device=buffer.device)
    x = buffer[idx].clone()
    fresh = torch.rand(n, generator=generator, device=buffer.device) < reinit
    x[fresh] = noise(int(fresh.sum()))
    return x, idx


class Recorder:
    """A chain recorded for a page to play, pause and scrub, and for a GIF: the one recorder of every sampler here.

    Each `advance(k)` runs k steps and records a frame: the state (rows of dead chains NaN), the Gibbs mean p(v|h) if
    the sampler gives one (`means=True`), each chain's energy if an `energy` function is given (E(x), or the RBM's free energy),
    the step, the step size and MALA's acceptance rate so far. The chain stops after `total_steps` steps (None: it
    runs on); only the most recent `max_frames` frames are kept, a sliding window: past it each new frame drops the
    oldest one with its entries in every list, so index 0 is the oldest frame kept (`steps[i]` is frame i's step,
    `dropped` counts the frames dropped). `store` keeps the states in a smaller dtype (binary RBM states as uint8;
    means then float16).
    """

    def __init__(self, chain: Iterator[ChainState], x0: torch.Tensor, *, max_frames: int = limits.MAX_FRAMES,
                 total_steps: int | None = None, energy: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 store: torch.dtype | None = None, means: bool = False):
        if max_frames < 1 or (total_steps is not None and total_steps < 0):
            raise ValueError(f"need max_frames >= 1 and total_steps >= 0, got {max_frames} and {total_steps}")
        self._chain, self._energy, self._store = chain, energy, store
        self.max_frames, self.total_steps = max_frames, total_steps
        x0 = x0.detach().reshape(len(x0), -1)
        self.frames: list[torch.Tensor] = [self._keep(x0)]
        # Gibbs means p(v|h); the start frame shows the start state itself
        self.means: list[torch.Tensor] | None = [self._keep_mean(x0)] if means else None
        self.energies: list[torch.Tensor] = [self._energy_of(x0)] if energy is not None else []
        self.steps, self.acceptance, self.step_sizes = [0], [None], [None]
        self.state: ChainState | None = None
        self.dead = 0
        self.dropped = 0  # frames recorded and then dropped from the front of the window

    def _keep(self, x: torch.Tensor) -> torch.Tensor:
        return x.to(self._store) if self._store is not None else x.clone()

    def _keep_mean(self, m: torch.Tensor) -> torch.Tensor:
        return m.half() if self._store is not None else m.clone()

    @torch.no_grad()
    def _energy_of(self, x: torch.Tensor) -> torch.Tensor:
        return self._energy(x).detach()

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def recorded(self) -> int:
        """Frames recorded since the start (the start frame included), kept or dropped: the number of the next frame."""
        return self.dropped + len(self.frames)

    @property
    def first_step(self) -> int:
        """The step of the oldest frame kept (0 until the window is full)."""
        return self.steps[0]

    @property
    def full(self) -> bool:
        """No more frames: the chain's length `total_steps` is reached (never for a chain with no length)."""
        return self.total_steps is not None and self.steps[-1] >= self.total_steps

    def advance(self, k: int) -> int:
        """k more steps (fewer at the end of the chain), then record a frame. Returns how many chains died."""
        if self.total_steps is not None:
            k = min(k, self.total_steps - self.steps[-1])
        if self.full or k < 1:
            return 0
        died = 0
        for _ in range(k):
            self.state = next(self._chain)
            died += self.state.died
        st = self.state
        self.dead = st.n_dead
        self.frames.append(self._keep(st.x))
        if self.means is not None:
            self.means.append(self._keep_mean(st.mean if st.mean is not None else st.x))
        if self._energy is not None:
            self.energies.append(self._energy_of(st.x))
        self.steps.append(st.step)
        self.acceptance.append(st.acceptance_rate)
        self.step_sizes.append(st.step_size)
        if len(self.frames) > self.max_frames:  # the window: drop the oldest frame from every list
            for entries in (self.frames, self.means, self.energies, self.steps, self.acceptance, self.step_sizes):
                if entries:
                    del entries[0]
            self.dropped += 1
        return died

    def frame(self, i: int) -> torch.Tensor:
        """The state of frame i [C, d] (as float32 when stored compactly)."""
        return self.frames[i].float() if self._store is not None else self.frames[i]

    def mean(self, i: int) -> torch.Tensor:
        """The Gibbs mean p(v|h) of frame i (the state itself when no means are recorded), float [C, d]."""
        return self.means[i].float() if self.means is not None else self.frame(i)

    def trace(self, start: int = 0) -> np.ndarray:
        """Frames from `start` on as an array [T, C, d]."""
        return torch.stack([self.frame(i) for i in range(start, len(self.frames))]).numpy()


# ---- diagnostics ---------------------------------------------------------------------------------------------

def _as_tc(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    return a[:, None] if a.ndim == 1 else a


def autocovariance(x) -> np.ndarray:
    """Autocovariance of each chain by FFT: x [T] or [T, C] -> [T, C] (lag along axis 0, biased 1/T estimate)."""
    a = _as_tc(x)
    T = a.shape[0]
    a = a - a.mean(0)
    n = 1 << (2 * T - 1).bit_length()
    f = np.fft.rfft(a, n=n, axis=0)
    return np.fft.irfft(f * np.conj(f), n=n, axis=0)[:T] / T


def autocorrelation(x, max_lag: int | None = None) -> np.ndarray:
    """Autocorrelation rho_k, k = 0..max_lag, averaged over chains: x [T] or [T, C] -> [max_lag + 1]."""
    ac = autocovariance(x)
    rho = (ac / np.where(ac[0] > 0, ac[0], 1.0)).mean(1)
    return rho if max_lag is None else rho[: max_lag + 1]


def ess(x) -> float:
    """Effective sample size of the chains x [T] or [T, C] (one coordinate), Stan's multi-chain estimator.

    rho_k = 1 - (W - mean_c acov_c(k)) / var+, with W the mean within-chain variance and var+ the pooled
    variance estimate; tau = -1 + 2 sum_k P_k over Geyer's initial positive, monotone sequence
    P_k = rho_2k + rho_2k+1; ESS = C T / tau. Chains with NaNs (dead) are left out. About T C for iid
    draws, and T C (1 - rho)/(1 + rho) for an AR(1) with coefficient rho."""
    a = _as_tc(x)
    a = a[:, np.isfinite(a).all(0)]
    T, C = a.shape
    if C == 0 or T < 4:
        return float("nan")
    acov = autocovariance(a)  # [T, C]
    w = acov[0].mean() * T / (T - 1)
    var_plus = w * (T - 1) / T + (a.mean(0).var(ddof=1) if C > 1 else 0.0)
    if var_plus <= 0:
        return float("nan")
    rho = 1 - (w - acov.mean(1)) / var_plus
    rho[0] = 1.0
    m = (T - 1) // 2
    p = rho[0:2 * m:2] + rho[1:2 * m + 1:2]  # P_k, k = 0..m-1
    pos = np.nonzero(p <= 0)[0]
    p = p[: pos[0]] if len(pos) else p
    p = np.minimum.accumulate(p)  # initial monotone sequence
    tau = -1 + 2 * p.sum()
    return float(T * C / max(tau, 1.0 / math.log10(max(T * C, 10))))


def binned(samples, grid, bins: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """(sample frequencies, exact probabilities) on a bins x bins partition of the grid's extent.

    The exact part sums the fine grid (its size must be a multiple of `bins`); samples outside the extent
    are put in the border cells, dead (NaN) chains are left out."""
    s = np.asarray(samples, dtype=np.float64)
    s = s[np.isfinite(s).all(1)]
    p = grid.coarse(bins)  # [bins(y), bins(x)]
    k = len(grid.xs) // bins
    dx, dy = grid.xs[1] - grid.xs[0], grid.ys[1] - grid.ys[0]
    x0, y0 = grid.xs[0] - dx / 2, grid.ys[0] - dy / 2
    ix = np.clip(((s[:, 0] - x0) / (k * dx)).astype(int), 0, bins - 1)
    iy = np.clip(((s[:, 1] - y0) / (k * dy)).astype(int), 0, bins - 1)
    q = np.bincount(iy * bins + ix, minlength=bins * bins).reshape(bins, bins).astype(np.float64)  # counts per cell
    return q / max(len(s), 1), p


def kl_to_grid(samples, grid, bins: int = 24) -> float:
    """KL(q || p) between the histogram q of the samples and the exact p on bins x bins cells.

    A plug-in estimate: with n samples it sits about (occupied cells - 1) / (2 n) above the truth. Dead (NaN) chains
    are left out; with no finite sample at all the KL is undefined: NaN (not 0, which would read as a perfect fit)."""
    q, p = binned(samples, grid, bins)
    if not q.any():
        return float("nan")
    m = q > 0
    return float((q[m] * np.log(q[m] / np.maximum(p[m], 1e-300))).sum())


def tv_to_grid(samples, grid, bins: int = 24) -> float:
    """Total variation distance 1/2 sum |q - p| on bins x bins cells, in [0, 1]; NaN with no finite sample."""
    q, p = binned(samples, grid, bins)
    if not q.any():
        return float("nan")
    return float(0.5 * np.abs(q - p).sum())


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidth: float = 1.0) -> float:
    """Unbiased squared maximum mean discrepancy with a Gaussian kernel of the given bandwidth (Gretton et al. 2012)."""
    x = x[torch.isfinite(x).all(1)].double()
    y = y[torch.isfinite(y).all(1)].double()
    if len(x) < 2 or len(y) < 2:
        return float("nan")

    def k(a, b):
        return torch.exp(-torch.cdist(a, b) ** 2 / (2 * bandwidth ** 2))

    n, m = len(x), len(y)
    kxx, kyy = k(x, x), k(y, y)
    return float((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1)) + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
                 - 2 * k(x, y).mean())

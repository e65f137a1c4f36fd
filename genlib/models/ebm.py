"""Energy-based model on MNIST trained with Langevin negatives and a replay buffer (Du & Mordatch 2019).

A CNN gives each image x in [-1, 1]^784 an energy E(x); p(x) = exp(-E(x)) / Z. The gradient of the negative
log-likelihood is  dE(x_data)/dtheta - E_{x ~ p}[dE(x)/dtheta],  so training lowers the energy of data and
raises the energy of samples drawn from the model by Langevin dynamics
    x <- clamp(x - step * clamp(dE/dx, +-c) + noise * eps, -1, 1),   eps ~ N(0, I),
started from a replay buffer of earlier samples (a share `reinit` fresh from uniform noise). The loss is
    L = mean E(x_data) - mean E(x_sample) + alpha * mean(E(x_data)^2 + E(x_sample)^2),
the last term keeping energies near zero (it is what makes training stable).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from .. import samplers


@dataclass(frozen=True)
class EBMConfig:
    channels: int = 16  # width of the first conv layer; 16 gives about 7.7e4 parameters
    alpha: float = 0.1  # weight of the energy regulariser
    steps: int = 60  # Langevin steps per training iteration
    step_size: float = 10.0  # multiplies the clamped energy gradient
    noise: float = 0.005  # standard deviation of the Langevin noise (separate from the step size)
    grad_clamp: float = 0.03  # per-pixel clamp on dE/dx
    buffer_size: int = 4096
    reinit: float = 0.05  # share of each batch's chains started from uniform noise
    data_noise: float = 0.005  # Gaussian noise added to data digits (smooths the data distribution)
    max_energy: float = 1e3  # |E| beyond this counts as a blow-up (the trainer rolls back)

    def __post_init__(self):
        if self.steps < 1 or self.buffer_size < 1 or self.channels < 1:
            raise ValueError("steps, buffer size and channels must be positive")
        if not 0 <= self.reinit <= 1:
            raise ValueError(f"reinit must be a share between 0 and 1, got {self.reinit}")
        if self.step_size <= 0 or self.noise < 0 or self.grad_clamp <= 0:
            raise ValueError("the step size and the gradient clamp must be > 0 and the noise >= 0")


class Swish(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(x)


class EnergyDiverged(FloatingPointError):
    """Energies exploded or the samples collapsed."""


def langevin(energy, x: torch.Tensor, steps: int, generator: torch.Generator, step_size: float, noise: float,
             grad_clamp: float) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x, E(x)) after each Langevin step on images in [-1, 1]; the network's weights get no gradient.

    The Langevin lab's ULA (genlib.samplers.ula) on the flattened images, with grad log p = -dE/dx clamped
    per pixel to +-grad_clamp and each step projected back into [-1, 1]. E(x) is that of the state the step
    started from (it comes free with the gradient)."""
    shape, last = x.shape, {}

    def score(flat: torch.Tensor) -> torch.Tensor:
        with torch.enable_grad():
            xi = flat.reshape(shape).requires_grad_(True)
            e = energy(xi)
            (g,) = torch.autograd.grad(e.sum(), xi)
        last["e"] = e.detach()
        return -g.clamp(-grad_clamp, grad_clamp).reshape(len(flat), -1)

    chain = samplers.ula(score, x.detach().reshape(len(x), -1), step_size, noise, generator, clip=(-1.0, 1.0))
    for _ in range(steps):
        state = next(chain)
        yield state.x.reshape(shape), last["e"]


class LangevinChain:
    """A chain the page can play, pause and scrub: frames in [0, 1] and the energy of each image per frame."""

    def __init__(self, energy, x: torch.Tensor, total: int, generator: torch.Generator, step_size: float,
                 noise: float, grad_clamp: float):
        self.energy, self.total = energy, total
        self._gen = langevin(energy, x, total, generator, step_size, noise, grad_clamp)
        self._x = x
        with torch.no_grad():
            self.energies = [energy(x)]  # [n] per frame
        self.frames = [(x + 1) / 2]
        self.steps = [0]

    @property
    def done(self) -> bool:
        return self.steps[-1] >= self.total

    def advance(self, k: int) -> None:
        """k more Langevin steps (fewer at the end of the chain), then record a frame."""
        k = min(k, self.total - self.steps[-1])
        if k <= 0:
            return
        for _ in range(k):
            self._x, _ = next(self._gen)
        with torch.no_grad():
            self.energies.append(self.energy(self._x))
        self.frames.append((self._x + 1) / 2)
        self.steps.append(self.steps[-1] + k)


class EBM(nn.Module):
    kind = "ebm"

    def __init__(self, config: EBMConfig = EBMConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        # strided convolutions 28 -> 16 -> 8 -> 4 -> 2, Swish activations, then a small dense head -> scalar
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 5, 2, 4), Swish(),
            nn.Conv2d(c, 2 * c, 3, 2, 1), Swish(),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), Swish(),
            nn.Conv2d(4 * c, 4 * c, 3, 2, 1), Swish(),
            nn.Flatten(), nn.Linear(16 * c, 4 * c), Swish(), nn.Linear(4 * c, 1))
        self.register_buffer("replay", torch.zeros(config.buffer_size, 1, 28, 28))
        self.register_buffer("replay_ready", torch.zeros((), dtype=torch.bool))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) [N] for images x in [-1, 1], shape [N, 1, 28, 28]."""
        return self.net(x.reshape(-1, 1, 28, 28)).squeeze(1)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """Energy of images given in [0, 1] (the app's convention)."""
        return self.energy(x01 * 2 - 1)

    def _negatives(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Starting points: chains from the replay buffer, a share `reinit` restarted from uniform noise."""
        c, dev = self.config, self.replay.device
        if not bool(self.replay_ready):
            self.replay.copy_(torch.rand(self.replay.shape, generator=generator, device=dev) * 2 - 1)
            self.replay_ready.fill_(True)
        idx = torch.randint(0, c.buffer_size, (n,), generator=generator, device=dev)
        x = self.replay[idx].clone()
        fresh = torch.rand(n, generator=generator, device=dev) < c.reinit
        x[fresh] = torch.rand(int(fresh.sum()), 1, 28, 28, generator=generator, device=dev) * 2 - 1
        return x, idx

    def loss(self, x01: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
        c = self.config
        x = x01.reshape(-1, 1, 28, 28) * 2 - 1
        x = (x + c.data_noise * torch.randn(x.shape, generator=generator, device=x.device)).clamp(-1, 1)
        neg, idx = self._negatives(len(x), generator)
        was_training = self.training
        self.eval()
        for neg, _ in langevin(self.energy, neg, c.steps, generator, c.step_size, c.noise, c.grad_clamp):
            pass
        self.train(was_training)
        if self.training:
            self.replay[idx] = neg
        e_data, e_neg = self.energy(x), self.energy(neg)
        cdiv = e_data.mean() - e_neg.mean()
        reg = c.alpha * (e_data.pow(2).mean() + e_neg.pow(2).mean())
        big = max(e_data.detach().abs().max().item(), e_neg.detach().abs().max().item())
        if not big < c.max_energy:
            raise EnergyDiverged(f"energies exploded (|E| = {big:.3g} > {c.max_energy:g})")
        if len(neg) > 8 and neg.std(0).mean().item() < 1e-3:
            raise EnergyDiverged("the samples collapsed onto one image")
        return {"loss": cdiv + reg, "e_data": e_data.mean(), "e_sample": e_neg.mean(), "reg": reg / c.alpha}

    @torch.no_grad()
    def sample_chain(self, n: int, steps: int, generator: torch.Generator, start: torch.Tensor | None = None,
                     every: int = 1, step_size: float | None = None, noise: float | None = None) -> list[torch.Tensor]:
        """Frames [n, 1, 28, 28] in [0, 1] of Langevin chains from uniform noise (or `start` in [0, 1])."""
        c = self.config
        dev = self.replay.device
        x = torch.rand(n, 1, 28, 28, generator=generator, device=dev) * 2 - 1 if start is None else start.to(dev) * 2 - 1
        frames = [(x + 1) / 2]
        chain = langevin(self.energy, x, steps, generator, c.step_size if step_size is None else step_size,
                         c.noise if noise is None else noise, c.grad_clamp)
        for i, (x, _) in enumerate(chain, 1):
            if i % every == 0 or i == steps:
                frames.append((x + 1) / 2)
        return frames

    def sample(self, n: int, generator: torch.Generator, steps: int = 256) -> torch.Tensor:
        """n images from uniform noise after `steps` Langevin steps."""
        return self.sample_chain(n, steps, generator, every=steps)[-1]

    @torch.no_grad()
    def eval_metrics(self, x01: torch.Tensor, n_samples: int = 500, steps: int = 256, seeds: int = 4) -> dict[str, float]:
        """Energies of real digits and noise, and sample quality of `n_samples` chains from noise.

        Quality uses our bundled MNIST classifier. One set of 500 chains gives a Frechet distance that swings by
        about +-10 with the sampling seed, so each score is the mean over `seeds` sets (seeds 0, 1, ...), with
        the Frechet distance's min and max. The floor compares as many real training digits (the bundled set,
        a fresh draw per seed) with the same reference digits `x01`.
        """
        from .. import checkpoints, quality
        from ..data import bundled_digits

        dev = self.replay.device  # everything runs where the model is
        clf = checkpoints.load(checkpoints.resolve(quality.CLASSIFIER), kind="classifier").to(dev)
        real, x01 = bundled_digits().images.to(dev), x01.to(dev)
        runs, samples = [], []
        for seed in range(seeds):
            g = torch.Generator(device=dev).manual_seed(seed)
            samples.append(self.sample(n_samples, g, steps))
            floor = real[torch.randperm(len(real), generator=g, device=dev)[:n_samples]]
            runs.append(quality.scores(clf, samples[-1], x01, floor))
        out = {f"sample_{k}": sum(r[k] for r in runs) / seeds for k in runs[0]}
        fds = [r["frechet"] for r in runs]
        out.update(sample_frechet_min=min(fds), sample_frechet_max=max(fds), sample_seeds=seeds)
        noise = torch.rand(n_samples, 1, 28, 28, generator=g, device=dev)
        out.update(energy_real=float(self(x01[:2000]).mean()), energy_samples=float(self(torch.cat(samples)).mean()),
                   energy_noise=float(self(noise).mean()), sample_steps=steps, n_samples=n_samples)
        return out


PRESETS = {
    "default": dict(lr=1e-4, beta1=0.0, batch_size=128, epochs=10),
    # the pretrained ebm-mnist: shorter chains per iteration and more restarts from noise, so that a negative
    # sample is on average 1/reinit * steps = 267 Langevin steps old, like the 256-step chains from noise we
    # judge it by (with the defaults a negative is ~1200 steps old and short chains from noise stay noisy)
    "mnist": dict(lr=2e-4, beta1=0.0, batch_size=128, epochs=60, steps=40, reinit=0.15),
}

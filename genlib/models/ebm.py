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
from ..data import EVAL_SEED
from ..train import Preset, SplitIteration, TrainConfig, Trainer
from .base import Model, fixed_generator


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


SAMPLE_STEPS = 256  # Langevin steps from noise to a sample (what `sample`, the app's chains and `eval` use)


class EnergyDiverged(FloatingPointError):
    """Energies exploded or the samples collapsed."""


class Negatives:
    """One iteration's negatives in the making: the data batch with its noise, the chains' starts (replay buffer, a
    share from noise) and their Langevin chain, which `advance(n)` moves n steps at a time. A page spreads an
    iteration over several short ticks with it (LangevinIteration); EBM.loss(x01, g, negatives) then finishes it with
    the same random numbers in the same order as EBM.loss(x01, g) in one go."""

    def __init__(self, model: "EBM", x01: torch.Tensor, generator: torch.Generator):
        c = model.config
        x = x01.reshape(-1, 1, 28, 28) * 2 - 1
        self.data = (x + c.data_noise * torch.randn(x.shape, generator=generator, device=x.device)).clamp(-1, 1)
        self.start, self.idx = model.negatives_start(len(x), generator)
        self.model, self.chain = model, model.chain(self.start, generator)
        self.total, self.done = c.steps, 0  # Langevin steps to take, taken
        self.x = self.start  # the chains now [n, 1, 28, 28]

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    def advance(self, n: int) -> int:
        """Up to n more Langevin steps (never past `total`), in eval mode; returns the number taken."""
        k = max(0, min(n, self.total - self.done))
        if k:
            was_training = self.model.training
            self.model.eval()
            try:
                for _ in range(k):
                    self.x = next(self.chain).x.reshape(self.start.shape)
            finally:
                self.model.train(was_training)
            self.done += k
        return k


class EBM(Model):
    kind = "ebm"
    can_sample = True
    can_chain = True
    scored = True  # eval scores its samples with the bundled classifier

    def __init__(self, config: EBMConfig = EBMConfig()):
        super().__init__()
        self.config = config
        c = config.channels
        # strided convolutions 28 -> 16 -> 8 -> 4 -> 2, Swish activations
        # x * sigmoid(x) (nn.SiLU), then a small dense head -> scalar
        self.net = nn.Sequential(
            nn.Conv2d(1, c, 5, 2, 4), nn.SiLU(),
            nn.Conv2d(c, 2 * c, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(2 * c, 4 * c, 3, 2, 1), nn.SiLU(),
            nn.Conv2d(4 * c, 4 * c, 3, 2, 1), nn.SiLU(),
            nn.Flatten(), nn.Linear(16 * c, 4 * c), nn.SiLU(), nn.Linear(4 * c, 1))
        self.register_buffer("replay", torch.zeros(config.buffer_size, 1, 28, 28))
        self.register_buffer("replay_ready", torch.zeros((), dtype=torch.bool))

    def energy(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) [N] for images x in [-1, 1], shape [N, 1, 28, 28]."""
        return self.net(x.reshape(-1, 1, 28, 28)).squeeze(1)

    def forward(self, x01: torch.Tensor) -> torch.Tensor:
        """Energy of images given in [0, 1] (the app's convention)."""
        return self.energy(x01 * 2 - 1)

    def noise(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """n images of uniform noise in [-1, 1]."""
        return torch.rand(n, 1, 28, 28, generator=generator, device=self.replay.device) * 2 - 1

    def chain(self, x: torch.Tensor, generator: torch.Generator, step_size: float | None = None,
              noise: float | None = None) -> Iterator[samplers.ChainState]:
        """Langevin chains on this energy from images x in [-1, 1] (the config's step size and noise unless given)."""
        c = self.config
        return samplers.langevin_images(self.energy, x, c.step_size if step_size is None else step_size,
                                        c.noise if noise is None else noise, c.grad_clamp, generator)

    def negatives_start(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Starting points: chains from the replay buffer, a share `reinit` restarted from uniform noise."""
        return samplers.replay_starts(self.replay, self.replay_ready, n, self.config.reinit,
                                      lambda k: self.noise(k, generator), generator)

    def loss(self, x01: torch.Tensor, generator: torch.Generator | None = None,
             negatives: Negatives | None = None) -> dict[str, torch.Tensor]:
        """The loss terms on a batch x01 in [0, 1]. `negatives`: this batch's negatives begun earlier (Negatives(self,
        x01, generator), advanced in pieces); its remaining Langevin steps run here, so the result is exactly that of
        loss(x01, generator) with the generator in the state it had at Negatives(...)."""
        c = self.config
        if negatives is None:
            negatives = Negatives(self, x01, fixed_generator(generator, x01.device))  # never the global generator
        negatives.advance(negatives.total)
        x, neg = negatives.data, negatives.x
        if self.training:
            self.replay[negatives.idx] = neg
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
        x = self.noise(n, generator) if start is None else start.to(self.replay.device) * 2 - 1
        frames = [(x + 1) / 2]
        chain = self.chain(x, generator, step_size, noise)
        for i in range(1, steps + 1):
            state = next(chain)
            if i % every == 0 or i == steps:
                frames.append((state.x.reshape(x.shape) + 1) / 2)
        return frames

    def sample(self, n: int, generator: torch.Generator, steps: int | None = None) -> torch.Tensor:
        """n images from uniform noise after `steps` (default SAMPLE_STEPS) Langevin steps."""
        steps = SAMPLE_STEPS if steps is None else steps
        return self.sample_chain(n, steps, generator, every=steps)[-1]

    @torch.no_grad()
    def eval_metrics(self, x01: torch.Tensor, samples: torch.Tensor | None = None,
                     generator: torch.Generator | None = None, n_noise: int = 500) -> dict[str, float]:
        """Mean energies of real digits x01 (the first 2000), of the scored `samples` and of uniform noise drawn with
        `generator` (the one that drew the samples; a fresh one with seed 0 otherwise)."""
        dev = self.replay.device
        g = generator if generator is not None else torch.Generator(device=dev).manual_seed(0)
        noise = torch.rand(n_noise, 1, 28, 28, generator=g, device=dev)
        out = {"energy_real": float(self(x01.to(dev)[:2000]).mean())}
        if samples is not None:
            out["energy_samples"] = float(self(samples).mean())
        out.update(energy_noise=float(self(noise).mean()), sample_steps=SAMPLE_STEPS)
        return out


class LangevinIteration(SplitIteration):
    """An EBM's training iteration in pieces (set it as `Trainer.split`; Trainer.tick drives it), for the app's Train
    tab: one iteration (K Langevin steps for the negatives, then the optimizer step) can take longer than a tick of the
    page, so each tick advances the negatives' chain by the Langevin steps that fit in its budget, and the optimizer
    step comes in the tick where the chain has its K steps. The run is exactly the one Trainer.step makes (the same
    batches, random numbers, replay buffer and weights): Negatives draws in the order EBM.loss does. A validation pass
    (every `val_every` iterations, on the tick's `val`: at most 500 digits, Trainer.validate's numbers) is spread over
    ticks the same way, its chains from a generator seeded EVAL_SEED as genlib.train.evaluate does. `phase`, `done`
    and `total` say where it is; `unit_seconds` is one Langevin step of the chains (measured, smoothed)."""

    def __init__(self, model: EBM, val_every: int = 10):
        super().__init__(val_every)
        self.model = model
        self.job: Negatives | None = None
        self._x = None  # the batch of the training iteration in progress
        self._val = None  # the digits of the validation pass in progress
        self._generator: torch.Generator | None = None  # the trainer's, for the training iteration's loss

    @property
    def done(self) -> int:
        return self.job.done if self.job is not None else 0

    @property
    def total(self) -> int:
        return self.job.total if self.job is not None else self.model.config.steps

    def begin(self, trainer: Trainer, phase: str, val: torch.Tensor | None) -> None:
        if phase == "validate":
            if len(val) > 500:
                raise ValueError("validate on at most 500 digits (one batch of genlib.train.evaluate)")
            self._val = val
            self.job = Negatives(self.model, val, torch.Generator(device=trainer.device).manual_seed(EVAL_SEED))
        else:
            self._x, self._generator = trainer.next_batch(), trainer.generator
            self.job = Negatives(self.model, self._x, trainer.generator)

    def advance(self, n: int) -> int:
        return self.job.advance(n)

    def loss(self) -> dict[str, torch.Tensor]:
        # the chain's remaining steps (none) and the loss, as EBM.loss(x, generator) would compute them in one go
        return self.model.loss(self._x, self._generator, self.job)

    def metrics(self) -> dict[str, torch.Tensor]:
        return self.model.loss(self._val, None, self.job)

    def clear(self) -> None:
        super().clear()
        self.job = self._x = self._val = self._generator = None


PRESETS = {
    "default": Preset(EBMConfig(), TrainConfig(lr=1e-4, beta1=0.0, batch_size=128), epochs=10),
    # the pretrained ebm-mnist: shorter chains per iteration and more restarts from noise, so that a negative
    # sample is on average 1/reinit * steps = 267 Langevin steps old, like the 256-step chains from noise we
    # judge it by (with the defaults a negative is ~1200 steps old and short chains from noise stay noisy)
    "mnist": Preset(EBMConfig(steps=40, reinit=0.15), TrainConfig(lr=2e-4, beta1=0.0, batch_size=128), epochs=60),
}

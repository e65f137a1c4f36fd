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

import collections
import time
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from .. import samplers
from ..data import EVAL_SEED
from ..train import Diverged, Preset, TrainConfig, Trainer
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
    iteration over several short ticks with it (LiveTraining); EBM.loss(x01, g, negatives) then finishes it with the
    same random numbers in the same order as EBM.loss(x01, g) in one go."""

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


class LiveTraining:
    """Live training of an EBM in ticks shorter than one iteration (the app's Train tab).

    One iteration (K Langevin steps for the negatives, then the optimizer step) can take longer than a tick of the
    page. Here the negatives' chain advances as many Langevin steps as fit in a tick's time budget, and the optimizer
    step happens in the tick where the chain has its K steps: the run is exactly the one Trainer.step would make (the
    same batches, random numbers, replay buffer and weights). Every `val_every` iterations a validation pass on `val`
    (at most 500 digits; Trainer.validate's numbers, added to the last history record) is spread over ticks the same
    way. `phase` ("train", "validate" or "idle"), `done` and `total` say what it is doing. A divergence rolls the run
    back to the start of its iteration (trainer.message says so), as Trainer.run does."""

    def __init__(self, trainer: Trainer, val: torch.Tensor | None = None, val_every: int = 10):
        if val is not None and len(val) > 500:
            raise ValueError("validate on at most 500 digits (one batch of genlib.train.evaluate)")
        self.trainer, self.val, self.val_every = trainer, val, val_every
        self.job: Negatives | None = None
        self.phase = "idle"
        self._x = None  # the batch of the training iteration in progress
        self._snap = None  # the run at the start of the last training iteration: the rollback point
        self._since_val = 0
        self.finished_at: collections.deque[float] = collections.deque(maxlen=21)  # clock at each finished iteration
        self.work = 0.0  # seconds of computation since the last finished iteration (its chain, a validation pass)
        self.work_per_iteration: float | None = None  # measured, smoothed
        self.langevin_seconds: float | None = None  # one Langevin step of the chains, measured, smoothed
        self._measured: float | None = None  # the last seconds_per_iteration

    @property
    def done(self) -> int:
        return self.job.done if self.job is not None else 0

    @property
    def total(self) -> int:
        return self.job.total if self.job is not None else self.trainer.model.config.steps

    def seconds_per_iteration(self) -> float | None:
        """Wall-clock seconds per iteration over the last (up to 20) iterations made while running without a pause
        (kept after a pause; None until 3 iterations ran in a row)."""
        t = self.finished_at
        if len(t) >= 3:
            self._measured = (t[-1] - t[0]) / (len(t) - 1)
        return self._measured

    def rewind(self) -> None:
        """Drop the work in progress: the run returns to the start of its iteration (the page calls this when paused,
        so that a saved checkpoint is exactly the run at a finished step; the next tick redoes the same iteration)."""
        if self.job is not None and self.phase == "train":
            self.trainer._restore(self._snap)
        self.job, self.phase, self.work = None, "idle", 0.0
        self.finished_at.clear()

    def _begin(self) -> None:
        tr = self.trainer
        if self.val is not None and self.val_every > 0 and self._since_val >= self.val_every and tr.history:
            tr.model.eval()  # as genlib.train.evaluate: eval mode, the generator seeded EVAL_SEED
            self.phase = "validate"
            self.job = Negatives(tr.model, self.val, torch.Generator(device=tr.device).manual_seed(EVAL_SEED))
        else:
            self._snap = tr._snapshot()
            tr.model.train()  # as Trainer.step: train mode, then the batch
            self._x = tr.next_batch()
            self.phase = "train"
            self.job = Negatives(tr.model, self._x, tr.generator)

    def _finish(self) -> bool:
        """The optimizer step (or the validation's metrics) on the finished chains; True for an optimizer step."""
        tr, job = self.trainer, self.job
        if self.phase == "train":
            out = tr.step(loss=lambda: tr.model.loss(self._x, tr.generator, job))
            if not tr._params_finite():
                raise Diverged("a parameter became NaN or infinite")
            tr.history.append({"step": tr.step_count, "epoch": tr.epoch + tr.pos / max(len(tr.data), 1),
                               **{f"train_{k}": v for k, v in out.items()}})
            self._since_val += 1
        else:
            with torch.no_grad():
                out = tr.model.loss(self.val, None, job)
            tr.model.train()
            tr.history[-1].update({f"val_{k}": float(v) for k, v in out.items()})
            self._since_val = 0
        self.job, self.phase = None, "idle"
        return self._since_val > 0

    def tick(self, budget: float | None = 0.25, max_langevin: int | None = None,
             iterations: int | None = None) -> dict | None:
        """Work for about `budget` seconds (as given; None: no limit) and at
        most `max_langevin` Langevin steps, stopping once `iterations` optimizer steps are done; at least one Langevin
        step. Returns what it did ({"phase", "done", "total", "steps", "tick_ms"}), or None when the run diverged."""
        tr = self.trainer
        t0 = time.perf_counter()
        over = lambda: budget is not None and time.perf_counter() - t0 > budget  # noqa: E731
        taken = steps = 0
        worked = 0.0  # computing time of the iterations finished in this tick
        try:
            while True:
                t = time.perf_counter()
                if self.job is None:
                    self._begin()
                while not self.job.finished:
                    ta = time.perf_counter()
                    taken += self.job.advance(1)
                    dt = time.perf_counter() - ta
                    ls = self.langevin_seconds
                    self.langevin_seconds = dt if ls is None else 0.8 * ls + 0.2 * dt
                    if over() or (max_langevin is not None and taken >= max_langevin):
                        break
                if not self.job.finished:
                    self.work += time.perf_counter() - t
                    break
                stepped = self._finish()
                self.work += time.perf_counter() - t
                if stepped:
                    steps += 1
                    now = time.perf_counter()
                    self.finished_at.append(now)
                    self.seconds_per_iteration()  # keep the wall-clock rate for after a pause
                    w = self.work_per_iteration
                    self.work_per_iteration = self.work if w is None else 0.7 * w + 0.3 * self.work
                    tr.history[-1]["seconds"] = self.work
                    worked += self.work
                    self.work = 0.0
                if (iterations is not None and steps >= iterations) or over() or \
                        (max_langevin is not None and taken >= max_langevin):
                    break
        except FloatingPointError as e:
            failed, bad_step = self.phase, tr.step_count + (self.phase == "train")
            if failed == "validate":
                tr.history.pop()
            tr._restore(self._snap)
            self.job, self.phase, self._since_val, self.work = None, "idle", 0, 0.0
            self.finished_at.clear()
            where = " (in validation)" if failed == "validate" else ""
            tr.message = (f"Training diverged near step {bad_step}{where} ({e}); restored the last good state "
                          f"(step {tr.step_count}). Try a smaller learning rate.")
            return None
        tr.message = None
        rec = {"phase": self.phase, "done": self.done, "total": self.total, "steps": steps,
               "tick_ms": 1000 * (time.perf_counter() - t0)}
        if steps:  # "seconds": what the finished iterations took (each spread over ticks), as in Trainer.run's record
            rec["seconds"] = worked
            tr.history[-1]["tick_ms"] = rec["tick_ms"]
        return rec


PRESETS = {
    "default": Preset(EBMConfig(), TrainConfig(lr=1e-4, beta1=0.0, batch_size=128), epochs=10),
    # the pretrained ebm-mnist: shorter chains per iteration and more restarts from noise, so that a negative
    # sample is on average 1/reinit * steps = 267 Langevin steps old, like the 256-step chains from noise we
    # judge it by (with the defaults a negative is ~1200 steps old and short chains from noise stay noisy)
    "mnist": Preset(EBMConfig(steps=40, reinit=0.15), TrainConfig(lr=2e-4, beta1=0.0, batch_size=128), epochs=60),
}

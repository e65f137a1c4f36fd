"""The plain autoencoder of the course: code h = f(x; W), reconstruction g(h; V), mean squared error.

An MLP encoder f maps a flattened digit (784 pixels) to a code of `code_size` numbers; a mirrored decoder
g maps it back to 784 pixel values with a linear last layer (no squashing: the plain least-squares
autoencoder, so a far too large learning rate really diverges). Training minimises
    L = 1/(N*784) * sum_n ||x_n - g(f(x_n))||^2 .
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ..train import Preset, TrainConfig
from .base import Model


@dataclass(frozen=True)
class AEConfig:
    code_size: int = 2
    hidden: tuple[int, ...] = (512, 256)

    def __post_init__(self):
        if not 1 <= self.code_size <= 784:
            raise ValueError(f"code size must be between 1 and 784, got {self.code_size}")
        if any(h < 1 for h in self.hidden):
            raise ValueError(f"hidden layer sizes must be positive, got {self.hidden}")


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Autoencoder(Model):
    kind = "ae"
    can_sample = True

    def __init__(self, config: AEConfig = AEConfig()):
        super().__init__()
        self.config = config
        self.encoder = mlp([784, *config.hidden, config.code_size])
        self.decoder = mlp([config.code_size, *reversed(config.hidden), 784])
        # Empirical mean and std of training codes: an AE has no prior, so `sample` decodes codes drawn
        # from this diagonal Gaussian fitted after training (see `after_training`).
        self.register_buffer("code_mean", torch.zeros(config.code_size))
        self.register_buffer("code_std", torch.ones(config.code_size))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """x [N, 1, 28, 28] or [N, 784] in [0, 1] -> code h [N, code_size]."""
        return self.encoder(x.reshape(len(x), -1))

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        """code h [N, code_size] -> reconstruction [N, 1, 28, 28] (pixel values, about in [0, 1])."""
        return self.decoder(h).reshape(-1, 1, 28, 28)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Mean squared reconstruction error per pixel."""
        mse = (self(x) - x.reshape(-1, 1, 28, 28)).pow(2).mean()
        return {"loss": mse}

    @torch.no_grad()
    def after_training(self, x: torch.Tensor) -> None:
        """Fit the Gaussian that `sample` draws codes from to the codes of the training digits x."""
        h = self.encode(x)
        self.code_mean.copy_(h.mean(0))
        self.code_std.copy_(h.std(0).clamp_min(1e-6))

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Decode n codes drawn from the Gaussian fitted to the training codes."""
        h = self.code_mean + self.code_std * torch.randn(n, self.config.code_size, generator=generator)
        return self.decode(h).clamp(0, 1)


PRESETS = {
    "default": Preset(AEConfig(code_size=2), TrainConfig(lr=1e-3, batch_size=128), epochs=30),
    "mnist-2d": Preset(AEConfig(code_size=2), TrainConfig(lr=1e-3, batch_size=128), epochs=100),
}

"""A small MNIST CNN classifier, used only to score generated samples (as the Inception network is for FID).

Two conv blocks and a 128-unit feature layer; trained with cross-entropy on (images, labels). Its features
feed the Frechet distance between samples and real digits (Heusel et al. 2017), its softmax the share of
confidently labelled samples and the entropy of the predicted class histogram.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..train import Preset, TrainConfig
from .base import Dropout, Model, fixed_generator, use_generator


@dataclass(frozen=True)
class ClassifierConfig:
    features: int = 128
    shift: int = 2  # training augmentation: random shifts of up to this many pixels


class Classifier(Model):
    kind = "classifier"
    supervised = True

    def __init__(self, config: ClassifierConfig = ClassifierConfig()):
        super().__init__()
        self.config = config
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),  # 14 -> 7
            nn.Flatten(), Dropout(0.25), nn.Linear(64 * 7 * 7, config.features), nn.ReLU())
        self.head = nn.Sequential(Dropout(0.25), nn.Linear(config.features, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The feature vector [N, features] of images in [0, 1]."""
        return self.body(x.reshape(-1, 1, 28, 28))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [N, 10]."""
        return self.head(self.features(x))

    def loss(self, batch, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        x, y = batch
        generator = fixed_generator(generator, x.device)
        use_generator(self, generator)
        x = x.reshape(-1, 1, 28, 28)
        s = self.config.shift
        if self.training and s > 0:  # one random shift per batch, zero-filled (torch.roll would wrap around)
            dx, dy = (int(v) for v in torch.randint(-s, s + 1, (2,), generator=generator, device=x.device))
            x = torch.roll(F.pad(x, (s, s, s, s)), (dy, dx), (2, 3))[:, :, s:-s, s:-s]
        logits = self(x)
        return {"loss": F.cross_entropy(logits, y), "accuracy": (logits.argmax(1) == y).float().mean()}


PRESETS = {
    "default": Preset(ClassifierConfig(), TrainConfig(lr=1e-3, batch_size=64), epochs=30),
}

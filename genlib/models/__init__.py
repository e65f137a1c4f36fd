"""The model families and their registry: kind -> config class, model class, presets."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import autoencoder


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    config_cls: type
    model_cls: type
    presets: dict = field(default_factory=dict)  # name -> {model and training settings}
    description: str = ""


KINDS: dict[str, ModelSpec] = {
    "ae": ModelSpec("ae", autoencoder.AEConfig, autoencoder.Autoencoder, autoencoder.PRESETS,
                    "plain autoencoder trained on the mean squared reconstruction error"),
}

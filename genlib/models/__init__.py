"""The model registry: kind -> config class, model class and typed presets; creating a model from a config and a
seed, and building one from a checkpoint (`load`). The contract every model follows is in `base.py`."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch

from .. import checkpoints
from ..checkpoints import Checkpoint, CheckpointError
from ..train import Preset, Trainer
from . import autoencoder, classifier, ebm, ebm2d, rbm, vae
from .base import Model


@dataclass(frozen=True)
class ModelSpec:
    kind: str
    config_cls: type
    model_cls: type[Model]
    presets: dict[str, Preset] = field(default_factory=dict)
    default_preset: str = "default"  # the preset `train KIND` uses without --preset


KINDS: dict[str, ModelSpec] = {
    "ae": ModelSpec("ae", autoencoder.AEConfig, autoencoder.Autoencoder, autoencoder.PRESETS),
    "classifier": ModelSpec("classifier", classifier.ClassifierConfig, classifier.Classifier, classifier.PRESETS),
    "ebm": ModelSpec("ebm", ebm.EBMConfig, ebm.EBM, ebm.PRESETS),
    "ebm2d": ModelSpec("ebm2d", ebm2d.EBM2DConfig, ebm2d.EBM2D, ebm2d.PRESETS),
    "rbm": ModelSpec("rbm", rbm.RBMConfig, rbm.RBM, rbm.PRESETS, default_preset="cd1"),
    "vae": ModelSpec("vae", vae.VAEConfig, vae.VAE, vae.PRESETS),
}


def spec(kind: str) -> ModelSpec:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose one of {', '.join(sorted(KINDS))}")
    return KINDS[kind]


def create(kind: str, config=None, seed: int = 0) -> Model:
    """A new model of `kind` (default config if None) whose initial weights come from its own
    torch.Generator(seed): the same weights for the same seed, whatever other sessions do with the global RNG."""
    s = spec(kind)
    model = s.model_cls(config if config is not None else s.config_cls())
    model.init_weights(torch.Generator().manual_seed(int(seed)))
    return model


def build(ckpt: Checkpoint, kind: str | None = None) -> Model:
    """The model a checkpoint describes, with its weights, in eval mode; `kind` if given must match."""
    name = ckpt.path or "checkpoint"
    got_kind = ckpt.meta.get("kind")
    if got_kind not in KINDS:
        raise CheckpointError(f"{name}: unknown model kind {got_kind!r} (known: {', '.join(sorted(KINDS))})")
    if kind is not None and got_kind != kind:
        raise CheckpointError(f"{name}: this is a {got_kind!r} checkpoint, but a {kind!r} model was expected")
    s = KINDS[got_kind]
    cfg = ckpt.meta.get("config", {})
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{name}: its config is not a JSON object")
    try:
        config = checkpoints.config_from_dict(s.config_cls, cfg, where=str(name))
        model = s.model_cls(config)
    except CheckpointError:
        raise
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{name}: invalid {got_kind} config ({e})") from None
    expected = model.state_dict()
    got = ckpt.model_tensors()
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{name}: tensors do not match a {got_kind} model with this config "
                              f"(missing: {', '.join(missing) or '-'}; unexpected: {', '.join(unexpected) or '-'})")
    for k, t in got.items():
        if t.shape != expected[k].shape:
            raise CheckpointError(f"{name}: tensor {k!r} has shape {list(t.shape)}, the config needs {list(expected[k].shape)}")
    model.load_state_dict(got)
    return model.eval()


def load(path: str | os.PathLike, kind: str | None = None) -> Model:
    """Load any genlib checkpoint file as its model, in eval mode."""
    return build(checkpoints.read(path), kind)


def from_bytes(data: bytes, name: str = "checkpoint", kind: str | None = None) -> Model:
    """A model from the bytes of a checkpoint file (an upload), in eval mode; `name` names it in errors."""
    return build(checkpoints.from_bytes(data, name), kind)


def resume(path: str | os.PathLike, data, device: str | torch.device = "cpu") -> Trainer:
    """A trainer that continues the run saved at `path` exactly where it stopped (on the same device)."""
    ckpt = checkpoints.read(path)
    return Trainer.resume(ckpt, build(ckpt), data, device)

"""The model registry: kind -> config class, model class and typed presets; creating a model from a config and a
seed, and building one from a checkpoint (`load`). The contract every model follows is in `base.py`."""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import torch

from .. import checkpoints, limits
from ..checkpoints import Checkpoint, CheckpointError, quoted
from ..text import printable
from ..train import Preset, Trainer
from . import autoencoder, classifier, ebm, ebm2d, rbm, vae
from .base import Model, own_rng


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


def expected_tensors(kind: str, config) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    """name -> (dtype, shape) of every tensor a `kind` model with `config` holds, found without allocating any (the
    model is built on PyTorch's "meta" device, which records shapes only)."""
    with torch.device("meta"), own_rng(torch.Generator()):
        skeleton = spec(kind).model_cls(config)
    return {k: (t.dtype, tuple(t.shape)) for k, t in skeleton.state_dict().items()}


def check_size(kind: str, config) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    """`expected_tensors`, after checking that the model holds at most limits.MAX_PARAMETERS numbers (ValueError)."""
    expected = expected_tensors(kind, config)
    n = sum(math.prod(shape) for _, shape in expected.values())
    limits.check("the model's size", n, None, limits.MAX_PARAMETERS, "parameters and buffers")
    return expected


def create(kind: str, config=None, seed: int = 0) -> Model:
    """A new model of `kind` (default config if None) whose initial weights come from its own
    torch.Generator(seed): the same weights for the same seed, whatever other sessions (threads) do. Nothing touches
    the global torch generator, not even PyTorch's default layer initialisation (see base.own_rng). A config larger
    than limits.MAX_PARAMETERS is refused (ValueError) before anything is allocated."""
    s = spec(kind)
    config = config if config is not None else s.config_cls()
    check_size(kind, config)
    with own_rng(torch.Generator().manual_seed(int(seed))):  # PyTorch's default layer initialisation
        model = s.model_cls(config)
    model.init_weights(torch.Generator().manual_seed(int(seed)))  # a model's own initialisation (the RBM's)
    return model


def build(ckpt: Checkpoint, kind: str | None = None) -> Model:
    """The model a checkpoint describes, with its weights, in eval mode; `kind` if given must match.

    Checked in this order, each before anything is allocated: the kind; the config's types and ranges
    (limits.check_config); the model's size (limits.MAX_PARAMETERS, counted on the meta device); the names, shapes and
    dtypes of the file's tensors (from its header) against those the config needs. Only then are the tensors read
    (a float tensor holding NaN or inf is refused: Checkpoint.tensors) and the model built."""
    name = printable(ckpt.path or "checkpoint")
    got_kind = ckpt.meta.get("kind")
    if got_kind not in KINDS:
        raise CheckpointError(f"{name}: unknown model kind {quoted(got_kind)} (known: {', '.join(sorted(KINDS))})")
    if kind is not None and got_kind != kind:
        raise CheckpointError(f"{name}: this is a {got_kind!r} checkpoint, but a {kind!r} model was expected")
    s = KINDS[got_kind]
    cfg = ckpt.meta.get("config", {})
    if not isinstance(cfg, dict):
        raise CheckpointError(f"{name}: its config is not a JSON object")
    config = checkpoints.config_from_dict(s.config_cls, cfg, where=name)
    try:
        expected = check_size(got_kind, config)
    except ValueError as e:
        raise CheckpointError(f"{name}: refused: {e}") from None
    except (TypeError, RuntimeError, NotImplementedError) as e:  # a config the model cannot be built from
        raise CheckpointError(f"{name}: invalid {got_kind} config ({printable(e)})") from None
    got = ckpt.model_specs()
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{name}: tensors do not match a {got_kind} model with this config "
                              f"(missing: {printable(', '.join(missing) or '-')}; "
                              f"unexpected: {printable(', '.join(unexpected) or '-')})")
    for k, t in got.items():
        dtype, shape = expected[k]
        if t.shape != shape:
            raise CheckpointError(f"{name}: tensor {quoted(k)} has shape {list(t.shape)}, the config needs "
                                  f"{list(shape)}")
        if t.dtype != dtype:
            raise CheckpointError(f"{name}: tensor {quoted(k)} holds {t.dtype}, the model needs {dtype}")
    tensors = ckpt.model_tensors()  # read (and checked finite) before the model is built
    with own_rng(torch.Generator()):  # its initial weights are replaced by the file's at once
        model = s.model_cls(config)
    model.load_state_dict(tensors)
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


"""The model families and their registry: kind -> config class, model class, presets."""
from __future__ import annotations

from dataclasses import dataclass, field

from . import autoencoder, classifier, ebm, rbm, vae


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
    "classifier": ModelSpec("classifier", classifier.ClassifierConfig, classifier.Classifier, classifier.PRESETS,
                            "small CNN digit classifier, for sample-quality scores only"),
    "ebm": ModelSpec("ebm", ebm.EBMConfig, ebm.EBM, ebm.PRESETS, "convolutional energy-based model, Langevin negatives"),
    "vae": ModelSpec("vae", vae.VAEConfig, vae.VAE, vae.PRESETS, "variational autoencoder (MLP or conv, Bernoulli or Gaussian decoder)"),
    "rbm": ModelSpec("rbm", rbm.RBMConfig, rbm.RBM, rbm.PRESETS, "Bernoulli restricted Boltzmann machine, CD-k or persistent CD"),
}

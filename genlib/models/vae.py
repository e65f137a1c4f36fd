"""Variational autoencoder (Kingma & Welling 2014), optionally trained on the IWAE bound (Burda et al. 2016).

q(z|x) = N(mu(x), diag sigma^2(x)), p(z) = N(0, I), p(x|z) Bernoulli (logits) or Gaussian (mean tanh, var 1).
Training maximises the ELBO  E_q[log p(x|z)] - beta * KL(q(z|x) || p(z))  with z = mu + sigma * eps
(the reparameterisation trick), so the loss is  rec + beta * w_t * KL  with rec = -log p(x|z) in nats per
digit and a KL warm-up weight w_t rising linearly from 0 to 1 over `warmup_steps` (Sonderby et al. 2016).
With `iw_k > 1` the loss is the negative importance-weighted bound with k samples instead.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .. import metrics
from ..train import Preset, TrainConfig
from .base import Dropout, Model, fixed_generator, use_generator
from ..data import EVAL_SEED, binarize_fixed


@dataclass(frozen=True)
class VAEConfig:
    latent: int = 2
    encoder: str = "mlp"  # "mlp" or "conv"
    decoder: str = "mlp"  # "mlp" or "conv"
    hidden: tuple[int, ...] = (512, 512)  # MLP hidden layers; conv: the dense layer(s) after the convolutions
    channels: tuple[int, int] = (32, 64)  # conv filters of the two stride-2 layers
    likelihood: str = "bernoulli"  # "bernoulli" (logits, binarized digits) or "gaussian" (mean tanh, variance 1)
    beta: float = 1.0  # weight of the KL term
    warmup_steps: int = 0  # KL weight rises linearly from 0 to beta over this many steps (0: no warm-up)
    dropout: float = 0.0  # dropout on hidden MLP layers while training
    shift: int = 0  # data augmentation: random translation by up to this many pixels while training
    iw_k: int = 1  # importance samples of the training objective (1: the ELBO)

    def __post_init__(self):
        if not 2 <= self.latent <= 64:
            raise ValueError(f"latent size must be between 2 and 64, got {self.latent}")
        if self.encoder not in ("mlp", "conv") or self.decoder not in ("mlp", "conv"):
            raise ValueError(f"encoder and decoder must be 'mlp' or 'conv', got {self.encoder!r}, {self.decoder!r}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")
        if not self.hidden or any(h < 1 for h in self.hidden) or any(c < 1 for c in self.channels):
            raise ValueError(f"layer sizes must be positive, got hidden={self.hidden}, channels={self.channels}")
        if self.beta < 0 or self.warmup_steps < 0 or not 0 <= self.dropout < 1 or not 0 <= self.shift <= 4 \
                or self.iw_k < 1:
            raise ValueError("need beta >= 0, warmup_steps >= 0, 0 <= dropout < 1, 0 <= shift <= 4, iw_k >= 1")


def _mlp(sizes: list[int], dropout: float, last_act: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_act:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(Dropout(dropout))
    return nn.Sequential(*layers)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image [N, 1, 28, 28] by its own random (dy, dx) in [-s, s]^2, filling with zeros."""
    n, s = len(x), max_shift
    pad = nn.functional.pad(x, (s, s, s, s))
    d = torch.randint(0, 2 * s + 1, (2, n), generator=generator, device=x.device)
    ar = torch.arange(28, device=x.device)
    rows = (d[0][:, None] + ar)[:, :, None]  # [N, 28, 1]
    cols = (d[1][:, None] + ar)[:, None, :]  # [N, 1, 28]
    return pad[torch.arange(n, device=x.device)[:, None, None], 0, rows, cols].unsqueeze(1)


class VAE(Model):
    kind = "vae"
    can_sample = True

    def __init__(self, config: VAEConfig = VAEConfig()):
        super().__init__()
        self.config = c = config
        c1, c2 = c.channels
        if c.encoder == "mlp":
            self.enc = _mlp([784, *c.hidden], c.dropout, last_act=True)
        else:  # 28 -> 14 -> 7 with stride-2 3x3 convolutions, then dense layer(s)
            self.enc = nn.Sequential(
                nn.Unflatten(1, (1, 28, 28)),
                nn.Conv2d(1, c1, 3, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 3, 2, 1), nn.ReLU(), nn.Flatten(),
                _mlp([c2 * 49, *c.hidden], c.dropout, last_act=True))
        self.to_stats = nn.Linear(c.hidden[-1], 2 * c.latent)  # -> (mu, log sigma^2)
        if c.decoder == "mlp":
            self.dec = _mlp([c.latent, *reversed(c.hidden), 784], c.dropout)
        else:  # mirrored: dense -> 64 x 7 x 7 -> transposed convs 14 -> 28 -> one channel of logits
            self.dec = nn.Sequential(
                _mlp([c.latent, *reversed(c.hidden[:-1]), c2 * 49], c.dropout, last_act=True),
                nn.Unflatten(1, (c2, 7, 7)),
                nn.ConvTranspose2d(c2, c2, 3, 2, 1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(c2, c1, 3, 2, 1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(c1, 1, 3, 1, 1), nn.Flatten())
        # optimizer steps taken (drives the KL warm-up); a buffer, so checkpoints and roll-back carry it
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    @property
    def binary(self) -> bool:
        """Bernoulli models train on freshly binarized digits (the trainer does it per batch)."""
        return self.config.likelihood == "bernoulli"

    # ---- the model --------------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, 1, 28, 28] or [N, 784] in [0, 1] -> (mu, logvar), each [N, latent]."""
        mu, logvar = self.to_stats(self.enc(x.reshape(len(x), 784))).chunk(2, dim=-1)
        return mu, logvar.clamp(-12, 8)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z [N, latent] -> [N, 1, 28, 28]: Bernoulli logits, or Gaussian means (tanh of the last layer)."""
        out = self.dec(z).reshape(-1, 1, 28, 28)
        return out if self.binary else torch.tanh(out)

    def mean_image(self, decoded: torch.Tensor) -> torch.Tensor:
        """The decoder's mean E[x|z] as an image in [0, 1] (sigmoid of logits, or the clipped Gaussian mean)."""
        return torch.sigmoid(decoded) if self.binary else decoded.clamp(0, 1)

    @torch.no_grad()
    def decode_images(self, z: torch.Tensor) -> torch.Tensor:
        return self.mean_image(self.decode(z))

    def log_px(self, x: torch.Tensor, decoded: torch.Tensor) -> torch.Tensor:
        """log p(x|z) per digit [N], summed over the 784 pixels (nats)."""
        x, decoded = x.reshape(len(x), 784), decoded.reshape(len(decoded), 784)
        if self.binary:
            return metrics.bernoulli_log_px(decoded, x)
        return metrics.gaussian_log_px(decoded, x, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction mean (from the posterior mean), [N, 1, 28, 28] in [0, 1]."""
        return self.decode_images(self.encode(x)[0])

    def kl_weight(self) -> float:
        c = self.config
        w = min(1.0, float(self.steps) / c.warmup_steps) if c.warmup_steps and self.training else 1.0
        return c.beta * w

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """rec + beta * w_t * KL (negative ELBO, nats per digit), or the negative IWAE bound if iw_k > 1."""
        c = self.config
        generator = fixed_generator(generator, x.device)
        use_generator(self, generator)
        x = x.reshape(len(x), 1, 28, 28)
        if self.training and c.shift:
            x = random_shift(x, c.shift, generator)
        w = self.kl_weight()
        if self.training and torch.is_grad_enabled():
            self.steps += 1
        mu, logvar = self.encode(x)
        kl = metrics.gaussian_kl(mu, logvar).sum(-1)  # closed form, [N]
        k = c.iw_k if self.training else 1
        z = metrics.reparameterize(mu, logvar, generator, k)  # [k, N, D] (or [N, D])
        zf = z.reshape(-1, c.latent)
        xk = x.reshape(1, len(x), 784).expand(k, -1, -1).reshape(-1, 784) if k > 1 else x
        log_px = self.log_px(xk, self.decode(zf)).reshape(k, len(x)) if k > 1 else self.log_px(x, self.decode(zf))
        rec = -log_px.mean(0) if k > 1 else -log_px
        if k > 1:  # log w_i = log p(x|z_i) + w (log p(z_i) - log q(z_i|x)); loss = -log mean_i w_i
            lw = log_px + w * (metrics.log_std_normal(z) - metrics.log_normal_diag(z, mu, logvar))
            loss = -(torch.logsumexp(lw, 0) - math.log(k)).mean()
        else:
            loss = (rec + w * kl).mean()
        return {"loss": loss, "rec": rec.mean(), "kl": kl.mean(), "nelbo": (rec + kl).mean()}

    @torch.no_grad()
    def eval_metrics(self, x: torch.Tensor, samples=None, generator=None, k: int = 100) -> dict[str, float]:
        """Extra figures for `python -m genlib eval`: the IWAE bound with k samples (its negative: an upper bound on
        the NLL) and the active units (dimensions with KL > 0.01 nats)."""
        was = self.training
        self.eval()
        if self.binary:
            x = binarize_fixed(x)
        g = torch.Generator().manual_seed(EVAL_SEED)
        iw = metrics.iwae_bound(self, x, k, g).mean().item()
        kld = metrics.kl_per_dim(self, x)
        self.train(was)
        return {f"iwae_k{k}": iw, f"nll_iwae_k{k}": -iw, "active_units": int((kld > 0.01).sum())}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator) -> torch.Tensor:
        """Decoder means of n prior draws z ~ N(0, I): [n, 1, 28, 28] in [0, 1]."""
        return self.decode_images(torch.randn(n, self.config.latent, generator=generator))


# ---- helpers for the explorer (pure functions, no Streamlit) ---------------------------------------------

def grid_axis(n: int, mode: str = "quantile", value: float = 0.05) -> torch.Tensor:
    """n coordinates along one latent axis: prior quantiles Phi^-1(linspace(q, 1 - q)) with q = `value`
    (mode "quantile"), or linspace(-value, value) in raw z (mode "scale"; value 1 is the course figure)."""
    if mode == "quantile":
        q = min(max(value, 1e-4), 0.49)
        return torch.distributions.Normal(0.0, 1.0).icdf(torch.linspace(q, 1 - q, n))
    return torch.linspace(-value, value, n)


def grid_latents(xs: torch.Tensor, ys: torch.Tensor, dims: tuple[int, int] = (0, 1),
                 base: torch.Tensor | None = None, latent: int = 2) -> torch.Tensor:
    """Latent points of an n x n grid, [n*n, latent], row-major with z[dims[1]] decreasing down the rows
    (so the image reads like a plot with y up); other dimensions fixed to `base` (zeros by default)."""
    base = torch.zeros(latent) if base is None else base
    z = base.repeat(len(ys) * len(xs), 1)
    yy, xx = torch.meshgrid(ys.flip(0), xs, indexing="ij")
    z[:, dims[0]] = xx.reshape(-1)
    z[:, dims[1]] = yy.reshape(-1)
    return z


@torch.no_grad()
def decode_grid(model: VAE, xs: torch.Tensor, ys: torch.Tensor, dims: tuple[int, int] = (0, 1),
                base: torch.Tensor | None = None) -> np.ndarray:
    """Decode the grid and compose one image (n*28, n*28) float32 in [0, 1], no padding (the course figure)."""
    model.eval()
    z = grid_latents(xs, ys, dims, base, model.config.latent)
    imgs = model.decode_images(z).reshape(len(ys), len(xs), 28, 28)
    return imgs.permute(0, 2, 1, 3).reshape(len(ys) * 28, len(xs) * 28).numpy()


@torch.no_grad()
def posterior_samples(model, x: torch.Tensor, k: int, generator: torch.Generator
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The reparameterisation made visible: (mu [D], logvar [D], z [k, D]) with z_i = mu + sigma * eps_i,
    eps_i ~ N(0, I), for one digit x [1, ...] (draws from `generator`, never the global one)."""
    mu, logvar = model.encode(x[:1])
    return mu[0], logvar[0], metrics.reparameterize(mu[0], logvar[0], generator, k)


@torch.no_grad()
def log_likelihood_estimates(model, x: torch.Tensor, k: int, generator: torch.Generator) -> dict[str, float]:
    """For one digit x [1, ...]: the ELBO and the IWAE bound from the same k importance samples z_i ~ q(z|x),
    log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x):

        ELBO ~= 1/k sum_i log w_i   <=   IWAE_k = log 1/k sum_i w_i   <=   log p(x)

    (the first inequality is Jensen's for these very samples; IWAE_k rises with k towards log p(x): Burda et al.
    2016). log p(x) - ELBO = KL(q(z|x) || p(z|x)): the gap shrinks to `gap` = IWAE_k - ELBO, a lower bound on that
    KL for large k. Nats. Works for any model with encode / decode / log_px (metrics.iwae_log_weights)."""
    lw = metrics.iwae_log_weights(model, x[:1], k, generator)[:, 0]  # [k]
    elbo = float(lw.mean())
    iwae = float(torch.logsumexp(lw, 0) - math.log(k))
    # the effective sample size of the normalised weights: k when q(z|x) is the exact posterior, ~1 when one sample
    # dominates (then IWAE_k is still far below log p(x))
    w = torch.softmax(lw, 0)
    return {"elbo": elbo, "iwae": iwae, "gap": iwae - elbo, "k": k, "ess": float(1.0 / (w * w).sum())}


def interpolate(z0: torch.Tensor, z1: torch.Tensor, n: int, spherical: bool = False) -> torch.Tensor:
    """n points from z0 to z1 [n, D]: linear, or spherical (slerp, keeps the norm typical of the prior)."""
    t = torch.linspace(0, 1, n)[:, None]
    if not spherical:
        return (1 - t) * z0 + t * z1
    omega = torch.arccos((z0 / z0.norm() * z1 / z1.norm()).sum().clamp(-1 + 1e-6, 1 - 1e-6))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * z0 + (torch.sin(t * omega) / so) * z1


def ellipse(mu: torch.Tensor, logvar: torch.Tensor, dims: tuple[int, int] = (0, 1), n: int = 60) -> np.ndarray:
    """The 1-sigma ellipse of a diagonal Gaussian in two chosen dimensions, as points [n, 2]."""
    t = torch.linspace(0, 2 * math.pi, n)
    s = torch.exp(0.5 * logvar)
    return torch.stack([mu[dims[0]] + s[dims[0]] * torch.cos(t), mu[dims[1]] + s[dims[1]] * torch.sin(t)], 1).numpy()


# Presets for `python -m genlib train vae --preset NAME`: model settings and training settings together.
ADAM = TrainConfig(lr=1e-3, batch_size=128)
PRESETS = {
    "default": Preset(VAEConfig(latent=2), ADAM, epochs=30),
    # the course's Keras conv VAE: conv 32, 64 stride 2, dense 16, latent 2, mirrored transposed convs, BCE
    "conv-2d": Preset(VAEConfig(latent=2, encoder="conv", decoder="conv", hidden=(16,)), ADAM, epochs=60),
    # the course's MLP VAE 784-512-512-8 with a Gaussian decoder (mean tanh, variance 1)
    "mlp-gauss-8": Preset(VAEConfig(latent=8, hidden=(512, 512), likelihood="gaussian"), ADAM, epochs=60),
    # the best Bernoulli VAE for the log-likelihood figure (see checkpoints/README.md)
    # (shifts of 1 pixel and dropout against overfitting the 4500 digits; lr decays linearly to 1e-4)
    "mlp-bern-16": Preset(VAEConfig(latent=16, hidden=(512, 512), warmup_steps=2000, shift=1, dropout=0.1),
                          TrainConfig(lr=1e-3, lr_end=1e-4, batch_size=128), epochs=400),
    # a sharper 2-D latent map than the conv VAE: the mlp-bern-16 recipe with a 2-D latent, trained on the IWAE bound
    # with 5 importance samples (Burda et al. 2016), which tightens the bound a 2-D Gaussian q leaves loose
    "mlp-2d": Preset(VAEConfig(latent=2, hidden=(512, 512), warmup_steps=2000, shift=1, dropout=0.1, iw_k=5),
                     TrainConfig(lr=1e-3, lr_end=1e-4, batch_size=128), epochs=400),
}

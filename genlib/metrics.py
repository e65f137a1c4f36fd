"""Evaluation metrics: the ELBO and its terms, the Gaussian KL, and the IWAE bound (Burda et al. 2016).

Small, generic functions. A latent-variable model here provides `encode(x) -> (mu, logvar)`,
`decode(z)` and `log_px(x, decoded) -> [N]` (log p(x|z) summed over pixels), as the VAE does.
"""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, diag e^logvar) || N(0, I)) per dimension, [N, D]: 1/2 (mu^2 + sigma^2 - 1 - log sigma^2)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)


def log_normal_diag(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """log N(z; mu, diag e^logvar), summed over the last dimension."""
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(-1)


def log_std_normal(z: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I), summed over the last dimension."""
    return -0.5 * (LOG_2PI + z.pow(2)).sum(-1)


def bernoulli_log_px(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """log Bernoulli(x; sigmoid(logits)) summed over pixels: x*l - softplus(l) = -BCE. Shapes [..., 784]."""
    return (x * logits - torch.nn.functional.softplus(logits)).sum(-1)


def gaussian_log_px(mean: torch.Tensor, x: torch.Tensor, var: float = 1.0) -> torch.Tensor:
    """log N(x; mean, var I) summed over pixels (a density, so it can exceed 0 for small var)."""
    d = x.shape[-1]
    return -0.5 * ((x - mean).pow(2).sum(-1) / var + d * (LOG_2PI + math.log(var)))


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor, generator: torch.Generator | None, k: int | None = None):
    """z = mu + sigma * eps, eps ~ N(0, I); with k, k draws per row: [k, N, D]."""
    shape = mu.shape if k is None else (k, *mu.shape)
    if generator is None:  # never the global generator (shared by every session of the app)
        generator = torch.Generator(device=mu.device).manual_seed(0)
    eps = torch.randn(shape, generator=generator, dtype=mu.dtype, device=mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


@torch.no_grad()
def kl_per_dim(model, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Mean KL(q(z_j|x) || N(0,1)) over the digits, per latent dimension [D]; near 0 = a collapsed dimension."""
    out = [gaussian_kl(*model.encode(x[i:i + batch_size])).sum(0) for i in range(0, len(x), batch_size)]
    return torch.stack(out).sum(0) / len(x)


def iwae_log_weights(model, x: torch.Tensor, k: int, generator: torch.Generator | None,
                     chunk: int = 500) -> torch.Tensor:
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x), z_i ~ q(z|x), i = 1..k: [k, N].

    All k * N draws z are made at once (the same random numbers whatever `chunk`); they are decoded `chunk` at a time,
    so that the decoder's activations stay bounded (a conv decoder holds ~0.3 MB per image: k = 100 draws of 100 digits
    at once took 3 GB)."""
    mu, logvar = model.encode(x)
    z = reparameterize(mu, logvar, generator, k)  # [k, N, D]
    zf = z.reshape(-1, z.shape[-1])
    xk = x.reshape(1, len(x), -1).expand(k, -1, -1).reshape(k * len(x), -1)
    log_px = torch.cat([model.log_px(xk[i:i + chunk], model.decode(zf[i:i + chunk]))
                        for i in range(0, len(zf), chunk)]).reshape(k, len(x))
    return log_px + log_std_normal(z) - log_normal_diag(z, mu, logvar)


@torch.no_grad()
def iwae_bound(model, x: torch.Tensor, k: int, generator: torch.Generator, batch_size: int = 100) -> torch.Tensor:
    """The importance-weighted bound L_k = E[log 1/k sum_i w_i] <= log p(x), one estimate per digit [N].

    L_1 is the ELBO; L_k rises with k towards log p(x) (Burda, Grosse, Salakhutdinov 2016, Theorem 1).
    """
    out = []
    for i in range(0, len(x), batch_size):
        lw = iwae_log_weights(model, x[i:i + batch_size], k, generator)
        out.append(torch.logsumexp(lw, 0) - math.log(k))
    return torch.cat(out)

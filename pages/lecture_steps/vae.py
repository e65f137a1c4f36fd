"""The lecture's third part, autoencoders and VAEs: the autoencoder page's code map, the VAE Train tab's figures
with a bundled 16-D VAE, and the VAE page's Draw, Latent grid, Clusters and Interpolate tabs (pages/vae_tabs/) with
the course's bundled 2-D conv VAE, read-only."""
from __future__ import annotations

from types import SimpleNamespace

import streamlit as st
import torch

from genlib import metrics, viz
from genlib.data import MNIST, binarize_fixed
from pages.vae_tabs import clusters, draw, grid, interpolate
from pages.vae_tabs.common import Run
from pages.views import chain_player, chrome, setup

AE = "ae-mnist-2d"
VAE2 = "vae-conv-2d"  # the course's conv VAE with a 2-D latent (the VAE page's default)
VAE16 = "vae-mlp-bern-16"  # 16-D latent, Bernoulli: its KL per dimension shows which dimensions are used


def run(mn: MNIST) -> Run:
    """The VAE tabs' view of the bundled 2-D VAE, untouched (no trainer: nothing trains here)."""
    model = setup.pretrained(VAE2)
    return Run(mn, {"source": VAE2, "running": False}, SimpleNamespace(model=model, step_count=0), model,
               chrome.projector(), (VAE2,))


@st.cache_resource(show_spinner="Encoding the validation digits ...")
def ae_codes(name: str) -> torch.Tensor:
    with torch.no_grad():
        return setup.pretrained(name).encode(setup.mnist().val.images)


@st.cache_resource(show_spinner="Computing the ELBO of the validation digits ...")
def elbo_terms(name: str) -> dict[str, float]:
    """Nats per validation digit (binarized once): the ELBO from one z ~ q(z|x) per digit, log w = log p(x|z) +
    log p(z) - log q(z|x) (whose mean is the ELBO), the closed-form KL, and the reconstruction term their difference."""
    model, x = setup.pretrained(name), binarize_fixed(setup.mnist().val.images)
    with torch.no_grad():
        elbo = float(metrics.iwae_log_weights(model, x, 1, torch.Generator().manual_seed(0)).mean())
        kl = float(metrics.gaussian_kl(*model.encode(x)).sum(-1).mean())
        kl_dims = metrics.kl_per_dim(model, x)
    return {"elbo": elbo, "kl": kl, "rec": -elbo - kl, "kl_dims": kl_dims}


def autoencoder(mn: MNIST) -> None:
    chrome.plot(viz.code_scatter(ae_codes(AE), mn.val.labels, title=f"Codes h of the validation digits ({AE})"),
                key="lecture-ae-codes")


def elbo(mn: MNIST) -> None:
    model, t = setup.pretrained(VAE16), elbo_terms(VAE16)
    m = st.columns(3)
    m[0].metric("reconstruction −E_q log p(x|z)", f"{t['rec']:.1f} nats")
    m[1].metric("KL(q(z|x) ‖ p(z))", f"{t['kl']:.1f} nats")
    m[2].metric("−ELBO = reconstruction + KL", f"{-t['elbo']:.1f} nats")
    val = mn.val.images
    fixed = val[torch.linspace(0, len(val) - 1, 16).long()]
    with torch.no_grad():
        rec = model(fixed)
    chain_player.frame(st, viz.grid(torch.cat([fixed[:8], rec[:8], fixed[8:], rec[8:]]), nrow=8),
                       f"{VAE16}, per validation digit. Rows 1, 3: validation digits · rows 2, 4: reconstructions "
                       "(decoder mean at z = μ), as the VAE page's Train tab shows them", width=chrome.image_width(440))


def gaussian_kl(mn: MNIST) -> None:
    kld = elbo_terms(VAE16)["kl_dims"]
    chrome.plot(viz.kl_bars(kld), key="lecture-kl-bars")
    st.caption(f"{VAE16}: E_x KL(q(z_j|x) ‖ N(0, 1)) of each latent dimension, as the VAE page's Train tab draws it; "
               f"{int((kld < 0.05).sum())} of {len(kld)} are near 0 nats (collapsed: they carry nothing).")


def reparameterisation(mn: MNIST) -> None:
    draw.render(run(mn))


def latent_map(mn: MNIST) -> None:
    grid.render(run(mn))


def label_clusters(mn: MNIST) -> None:
    clusters.render(run(mn))


def interpolation(mn: MNIST) -> None:
    interpolate.render(run(mn))

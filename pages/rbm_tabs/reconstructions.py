"""The RBM page's Reconstructions tab, the lecture's picture: real digits, their one-step reconstructions and
samples of free-running chains."""
from __future__ import annotations

import streamlit as st
import torch

from genlib import viz
from genlib.data import MNIST, binarize_fixed
from genlib.models.rbm import RBM
from pages.views import chrome, setup, url

PIC_N = 16


def lecture_images(mn: MNIST, model: RBM, seed: int, steps: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PIC_N validation digits (binarized once), their one-step reconstructions, and PIC_N free-running samples after
    `steps` Gibbs steps from uniform noise, all from one generator seeded with `seed`."""
    g = torch.Generator().manual_seed(seed)
    real = binarize_fixed(mn.val.images[torch.randperm(len(mn.val), generator=g)[:PIC_N]]).reshape(PIC_N, 1, 28, 28)
    return real, model.reconstruct(real, g), model.sample(PIC_N, g, steps=steps)


def picture(mn: MNIST, name: str, model: RBM, model_key, seed: int, steps: int):
    """lecture_images of the chosen model, kept: once per server for a bundled checkpoint (the same for every
    session and the lecture), else once per session and model state."""
    shared = setup.bundled(name)
    return chrome.memo("rbm_pic", (name, seed, steps) if shared else (model_key(name, model), model, seed, steps),
                       lambda: lecture_images(mn, model, seed, steps), shared=shared)


def render(mn: MNIST, chosen, model_key) -> None:
    """The tab: `chosen()` is (name, model, a sentence saying which model), `model_key(name, model)` identifies the
    model's state."""
    name, model, said = chosen()
    if model is not None:
        st.caption(said)
        view = st.container() if chrome.projector() else st  # projector mode: the picture above its controls
        c1, c2 = st.columns(2)
        steps = url.bound(c1.select_slider, "Gibbs steps of the samples", [10, 100, 1000, 5000], value=1000,
                                 key="rbm-pic-steps",
                                 help="How long the free-running chains run from uniform noise before their means "
                                 "p(v|h) are shown.")
        pic_seed = url.bound(c2.number_input, "Seed", 0, 10_000, 0, key="rbm-pic-seed",
                                   help="Seed of the digits drawn and of the chains: a new seed, new digits.")
        secs = steps * PIC_N * model.config.n_hidden * 784 * 4 / 2e9  # two [n, V] x [V, H] products per step
        with st.spinner(f"Running {PIC_N} chains for {steps:,} Gibbs steps (about {max(secs, 0.1):.1f} s) ..."):
            pics = picture(mn, name, model, model_key, int(pic_seed), steps)
        view.image(viz.lecture_picture(*pics), width=chrome.image_width(900))
        chrome.explain(container=view, text="Left real digits $v$; middle their reconstructions after one Gibbs step "
                       "$v \\to h \\sim p(h|v) \\to p(v|h)$ (what CD-1 trains on); right the means $p(v|h)$ of "
                       f"free-running chains after {steps:,} steps from noise: what the model generates.")

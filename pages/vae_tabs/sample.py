"""The VAE page's Sample tab: digits decoded from prior draws z ~ N(0, I)."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from genlib import viz
from genlib.models import vae as V
from pages.views import chrome, url

SS = st.session_state


def resample() -> None:  # a new seed, kept in the URL: the link shows these very samples
    SS["vae-sseed"] = (int(SS.get("vae-sseed", 0)) + 1) % 2**31


@torch.no_grad()
def prior_grid(model: V.VAE, n: int, seed: int, nrow: int = 16) -> np.ndarray:
    """Decoder means E[x|z] of n prior draws z ~ N(0, I) from `seed` (the same z for models of the same latent size),
    as one grid image of `nrow` digits a row."""
    return viz.grid(model.eval().sample(n, torch.Generator().manual_seed(int(seed))), nrow=nrow)


def render(model: V.VAE) -> None:
    c = st.columns([2, 2, 1], vertical_alignment="bottom")
    s_seed = url.bound(c[0].number_input, "Sample seed", 0, 2**31 - 1, 0, key="vae-sseed",
                               help="Seed of the prior draws z ~ N(0, I).")
    s_n = url.bound(c[1].slider, "How many", 8, 128, 64, 8, key="vae-sn",
                      help="Digits decoded from z ~ N(0, I).")
    c[2].button("Resample", key="vae-resample", on_click=resample, icon=":material/casino:", width="stretch",
                help="New draws: the next seed.")
    st.image(prior_grid(model, s_n, s_seed), clamp=True, width="stretch",
             caption=f"decoder means E[x|z] of {s_n} prior draws z ~ N(0, I), seed {s_seed}")
    chrome.explain("Ancestral sampling: z ~ p(z) = N(0, I), then the decoder's mean E[x|z]. Blurry digits and "
                   "odd shapes come from z where q(z|x) of real digits rarely goes (the holes in the map).")

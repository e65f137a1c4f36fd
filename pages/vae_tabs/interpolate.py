"""The VAE page's Interpolate tab: the decoded path between the codes of two validation digits."""
from __future__ import annotations

import streamlit as st
import torch

from genlib import viz
from genlib.models import vae as V
from pages.vae_tabs.common import Run
from pages.views import chrome, url


def render(run: Run) -> None:
    model, val = run.model, run.val
    mu_v, _ = run.val_codes()
    top2, top2_note = run.top_dims()
    c = st.columns(4)
    i0 = url.bound(c[0].number_input, "From digit #", 0, len(val) - 1, 0, key="vae-i0",
                           help="Start of the path: the μ of this validation digit.")
    i1 = url.bound(c[1].number_input, "To digit #", 0, len(val) - 1, len(val) - 1, key="vae-i1",
                           help="End of the path: the μ of this validation digit.")
    steps = url.bound(c[2].slider, "Steps", 3, 20, 10, key="vae-isteps",
                        help="Decoded points along the path.")
    sph = url.bound(c[3].checkbox, "Spherical (slerp)", key="vae-slerp",
                        help="Interpolate along a great circle: the path keeps a norm typical of the prior instead "
                        "of cutting through the low-norm centre.")
    path = V.interpolate(mu_v[i0], mu_v[i1], steps, sph)
    strip = model.decode_images(path)
    st.image(viz.grid(torch.cat([val[i0:i0 + 1], strip, val[i1:i1 + 1]]), nrow=steps + 2), clamp=True,
             caption="left: start digit · decoded path · right: end digit", width="stretch")
    fig = viz.latent_map(mu_v, run.mn.val.labels, top2, "The path on the latent map (validation means)" + top2_note)
    chrome.plot(viz.mark_path(fig, path, top2), key="vae-interp",
                max_height=230)  # projector mode: the path's map within the fold of 1280 x 720, under the strip
    chrome.explain("The path runs from μ(x₀) to μ(x₁); each point z on it is decoded to E[x|z]. A path through "
                   "empty regions of the map (low q, high p(z)) decodes to blends.")

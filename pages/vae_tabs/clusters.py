"""The VAE page's Clusters tab: the encoder means of real digits on the latent map, a click decodes, a box selects."""
from __future__ import annotations

import streamlit as st
import torch

from genlib import viz
from pages.vae_tabs.common import Run, dim_pair, map_extent
from pages.views import chrome, latent_map, url

SS = st.session_state


def pin_cluster() -> None:
    p = latent_map.clicked("vae-cluster-map")
    if p:
        SS["vae-cpick"] = (round(p["x"], 2), round(p["y"], 2))


def render(run: Run) -> None:
    mn, model, D = run.mn, run.model, run.D
    splits = {"validation": mn.val} | ({"test": mn.test} if mn.test is not None else {})
    left, right = st.columns([5, 2])
    digit_slot = right.empty()
    with right:
        split = url.bound(st.radio, "Digits", list(splits), horizontal=True, key="vae-split",
                         help="Which digits to encode (the test split only if the data folder holds it).")
        d = splits[split]
        nmax = min(len(d), 5000)
        n_pts = url.bound(st.slider, "How many", 100, nmax, min(1000, nmax), 100, key="vae-npts",
                          help="Digits to encode (the first N).")
        cdims = dim_pair(D, ("x dim", "y dim"), ("vae-cx", "vae-cy"), "Pick two different dimensions.")
    mu_c = chrome.memo("vae_cluster_codes", (model, run.trainer.step_count, split, n_pts),
                       lambda: run.encode_means(d.images[:n_pts])[0])
    R = map_extent(mu_c[:, list(cdims)])
    pick = SS.get("vae-cpick")
    pick = pick if pick is not None and max(abs(pick[0]), abs(pick[1])) <= R else None
    with left:
        marks = [{"type": "cross", "x": pick[0], "y": pick[1], "color": viz.PALETTE[3]}] if pick else []
        latent_map.latent_map(
            "vae-cluster-map", extent=(-R, R, -R, R), dims=cdims, projector=run.proj, on_click=pin_cluster,
            max_size=280 if run.proj else 560,  # projector: 420 px, the map within the fold of 1280 x 720
            title=f"Encoder means μ(x) of {n_pts} {split} digits", points=(mu_c[:, list(cdims)].numpy(),
                                                                          d.labels[:n_pts].numpy()),
            atlas=run.hover_atlas("clusters", (-R, R, -R, R), cdims, torch.zeros(D)), marks=marks,
            hint="Click the map to decode that point.")
        chrome.explain("Dots: the encoder means μ(x) of real digits, coloured by their label; dotted circles: the "
                       "prior p(z) = N(0, I) at 1, 2, 3 σ. Regions of one colour are where the decoder draws that "
                       "digit." + (" Other dimensions at 0 for the decodings." if D > 2 else ""))
    if pick:
        z = torch.zeros(D)
        z[cdims[0]], z[cdims[1]] = pick
        digit_slot.image(viz.to_uint8(model.decode_images(z[None])[0, 0].numpy(), 8),
                         width=chrome.image_width(168),
                         caption=f"clicked: decoded at z[{cdims[0]}] = {pick[0]:.2f}, z[{cdims[1]}] = {pick[1]:.2f}")
    else:
        digit_slot.caption("Click the map to decode that point here.")
    with st.expander("Select digits with a box or a lasso"):
        fig = viz.latent_map(mu_c, d.labels[:n_pts], cdims, f"Encoder means μ(x) of {n_pts} {split} digits")
        ev = chrome.plot(fig, key="vae-clusters", on_select="rerun", selection_mode=("points", "box", "lasso"))
        picked = viz.selected_points(ev.selection.points if ev and ev.selection else [], d.labels[:n_pts])
        if picked:
            st.image(viz.grid(d.images[picked[:64]], nrow=16), clamp=True,
                     caption=f"{len(picked)} selected digit(s)" + (" (first 64 shown)" if len(picked) > 64 else ""))

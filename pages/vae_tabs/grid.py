"""The VAE page's Latent grid tab: the decoded n x n grid over two latent dimensions, a pointer and a hover atlas."""
from __future__ import annotations

import streamlit as st
import torch

from genlib import viz
from genlib.models import vae as V
from pages.vae_tabs.common import ATLAS_N, Run, dim_pair
from pages.views import chrome, latent_map, url

SS = st.session_state


def pin_pointer() -> None:  # a click on the map (before the script): move the pointer sliders there
    p = latent_map.clicked("vae-grid-map")
    if p:
        SS["vae-px"], SS["vae-py"] = round(p["x"], 2), round(p["y"], 2)


def render(run: Run) -> None:
    model, trainer, val, D = run.model, run.trainer, run.val, run.D
    left, right = st.columns([5, 2])
    digit_slot = right.empty()  # the pointer's digit, above the controls
    with right:
        c = st.columns(2)
        n = url.bound(c[0].slider, "Grid size n", 5, 40, 20, key="vae-n",
                        help="The map shows n × n decoded digits.")
        mode = url.bound(c[1].radio, "Range", ["prior quantiles", "± scale in z"], key="vae-range",
                          help="Prior quantiles: the axes run through Φ⁻¹(q) ... Φ⁻¹(1−q), equal prior mass per "
                          "cell (the VAE paper's figure; cells are drawn at their true z, so they widen outwards). "
                          "± scale: a plain range in z; 1 reproduces the course figure.")
        if mode == "prior quantiles":
            val_r = url.bound(st.slider, "Tail quantile q", 0.01, 0.2, 0.05, 0.01, key="vae-q",
                              help="Probability left out at each end.")
        else:
            val_r = url.bound(st.slider, "Scale", 0.25, 5.0, 1.0, 0.25, key="vae-scale",
                              help="The grid spans [−scale, scale] on both axes.")
        dims = dim_pair(D, ("x: dimension", "y: dimension"), ("vae-dx", "vae-dy"),
                        "Pick two different dimensions to sweep.")
        base = torch.zeros(D)
        if D > 2:
            fix = url.bound(st.radio, "Fix the other dimensions at", ["0 (prior mean)", "the code of a validation digit"],
                           key="vae-fix", help="The dimensions not swept keep these values.")
            if fix != "0 (prior mean)":
                idx = url.bound(st.number_input, "Validation digit #", 0, len(val) - 1, 0, key="vae-fixidx",
                                      help="Its encoder mean μ fixes the rest.")
                base = run.encode_means(val[idx:idx + 1])[0][0]
        axis = V.grid_axis(n, "quantile" if mode == "prior quantiles" else "scale", val_r)
        lo, hi = round(float(axis[0]), 2), round(float(axis[-1]), 2)
        # the pointer's range is the grid's span (values from a wider grid are clamped): the cross never leaves the map
        for k in ("vae-px", "vae-py"):
            if k in SS:
                SS[k] = min(max(float(SS[k]), lo), hi)
        hint = "Move the pointer, or click the map: the digit decoded there is shown above."
        px_ = url.bound(st.slider, f"pointer z[{dims[0]}]", lo, hi, 0.0, 0.01, key="vae-px", help=hint)
        py_ = url.bound(st.slider, f"pointer z[{dims[1]}]", lo, hi, 0.0, 0.01, key="vae-py", help=hint)
    # decoding n^2 digits is the slow part (~0.5 s for the conv decoder at n = 30): keep the last grid, so that
    # moving the pointer only decodes one digit
    img = chrome.memo("vae_grid", (model, trainer.step_count, n, mode, val_r, dims, tuple(base.tolist())),
                      lambda: V.decode_grid(model, axis, axis, dims, base))
    step_ = float(axis[1] - axis[0])
    e0, e1 = float(axis[0]) - step_ / 2, float(axis[-1]) + step_ / 2
    with left:
        latent_map.latent_map(
            "vae-grid-map", extent=(e0, e1, e0, e1), dims=dims, projector=run.proj, rings=False,
            title=f"{n} × {n} decoded grid", on_click=pin_pointer,
            background=latent_map.background(img, axis.numpy(), axis.numpy()),
            atlas=run.hover_atlas("grid", (e0, e1, e0, e1), dims, base),
            marks=[{"type": "cross", "x": px_, "y": py_, "color": viz.PALETTE[3]}],
            hint="Click the map to move the pointer (the cross) there.",
            max_size=260 if run.proj else 560)  # projector mode (x 1.5): the map above the fold of 1280 x 720
        chrome.explain(f"Each cell is the decoder's mean E[x|z] at one z of the {n} × {n} grid: the map p(x|z) "
                       "draws over the latent plane. Hovering decodes under the mouse in your browser (a "
                       f"{ATLAS_N} × {ATLAS_N} atlas); a click decodes that exact z on the server.")
    z = base.clone()
    z[dims[0]], z[dims[1]] = px_, py_
    big = model.decode_images(z[None])[0, 0].numpy()
    digit_slot.image(viz.to_uint8(big, 8), width=chrome.image_width(168),
                     caption=f"decoded at z[{dims[0]}] = {px_:.2f}, z[{dims[1]}] = {py_:.2f}")

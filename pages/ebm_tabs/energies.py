"""The EBM page's Energies tab: the energies of real, rotated and sampled digits, noise and your own digit."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from genlib import viz
from genlib.data import MNIST
from pages.ebm_tabs.common import pictures
from pages.views import chrome, digit_input, untrusted, url


def render(state: dict, mn: MNIST) -> None:
    """The tab: `state` is the session's run (its model and step count)."""
    model = state["trainer"].model
    zoom = url.bound(st.toggle, "Zoom on the digits", True, key="ebm-zoom",
                     help="On: the axis spans the real, rotated and sampled digits (and your image), where the "
                     "differences are small; noise lies far to the right and is named at the edge. Off: the full "
                     "range.")

    def reference_energies() -> dict:
        """Energies of 500 real digits, the same digits rotated and 500 noise images: computed once per model
        state, not on every rerun."""
        g = torch.Generator().manual_seed(0)
        real = (mn.test.images if mn.test is not None else mn.val.images)[:500]
        ref = {"real digits" + (" (test)" if mn.test is not None else " (validation)"): real,
               "rotated digits (90°)": torch.rot90(real, 1, (2, 3)),
               "uniform noise": torch.rand(500, 1, 28, 28, generator=g)}
        with torch.no_grad():
            return {k: model(v).numpy() for k, v in ref.items()}

    energies = dict(chrome.memo("ebm_ref_energies", (model, state["trainer"].step_count), reference_energies))
    groups = {}
    ch = (st.session_state.get("ebm_chain") or {}).get("chain")
    if ch is not None and len(ch) > 1:
        groups[f"chain samples (step {ch.steps[-1]})"] = pictures(ch, -1)
    plot_slot, text_slot = st.container(), st.container()
    draw_col, up_col = st.columns(2)
    with draw_col:
        drawn, problem_d = digit_input.drawing("ebm-canvas", chrome.image_width(196))
        st.caption("Draw a digit (white on black).")
    with up_col:
        image, problem_u = digit_input.upload("ebm-upload", "…or upload an image (PNG, JPEG, ...; up to 4096 × "
                                              "4096 pixels)", "Converted to a 28 × 28 grey digit (white on "
                                              "black, centred) before its energy is computed.")
    mine = {"your drawing": drawn, "your image": image}
    groups |= {name: x for name, x in mine.items() if x is not None}
    for problem in (problem_d, problem_u):
        if problem:
            untrusted.error(problem)
    with torch.no_grad():
        energies |= {k: model(v).numpy() for k, v in groups.items()}
    noise_name = "uniform noise"
    energies[noise_name] = energies.pop(noise_name)  # last: the digit groups get blue, orange and green
    digits = tuple(k for k in energies if k != noise_name and k not in mine)
    chrome.plot(viz.energy_histogram(energies, marks=tuple(k for k in mine if k in energies),
                                     zoom=digits if zoom else ()), key="ebm-hist", container=plot_slot)
    real_e, rot_e = energies[digits[0]], energies["rotated digits (90°)"]
    cut = float(np.percentile(real_e, 95))
    chrome.explain(
        f"p(x) ∝ e^(−E(x)): low energy = typical digit. Above E = {cut:.3g} (the 95th percentile of real "
        f"digits) lie {100 * np.mean(rot_e > cut):.0f} % of the rotated digits and "
        f"{100 * np.mean(energies[noise_name] > cut):.0f} % of the noise images: a high energy flags an input "
        "unlike the training data.", container=text_slot)
    if ch is None or len(ch) <= 1:
        text_slot.caption("Play the Langevin chains (second tab) to add their samples to this plot.")
    for name in mine:
        if name in groups:
            st.image(viz.grid(groups[name]), caption=f"{name} as the model sees it: "
                     f"E = {float(energies[name][0]):.3f}", width=chrome.image_width(140))

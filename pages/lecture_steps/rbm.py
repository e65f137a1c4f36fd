"""The lecture's first part, Boltzmann machines: each view shows a bundled RBM through the RBM page's own views and
figures (pages/rbm_tabs/, genlib.viz) or the slow-motion Gibbs step (views.slowmo)."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from genlib import viz
from genlib.data import MNIST, binarize_fixed
from genlib.models.rbm import ais_seconds, bernoulli, log_likelihood
from pages.rbm_tabs import likelihood, reconstructions
from pages.rbm_tabs.train import describe
from pages.views import chrome, setup, slowmo, url

PCD = "rbm-500"  # the RBM page's default model: 500 hidden units trained with PCD
CD1 = "rbm-500-cd1"  # the same size trained with CD-1
SMALL = "rbm-16"  # 16 hidden units: log Z by enumeration, to check AIS against
PIC_STEPS = 1000  # Gibbs steps of the free-running samples (the Reconstructions tab's default)


@st.cache_resource(show_spinner="Computing free energies ...")
def free_energies(name: str) -> dict[str, np.ndarray]:
    """F(v) of 500 validation digits (binarized once), the same digits rotated by 90° and 500 uniform-noise images."""
    mn, model = setup.mnist(), setup.pretrained(name)
    real = binarize_fixed(mn.val.images[:500])
    noise = bernoulli(torch.full((500, 784), 0.5), torch.Generator().manual_seed(0))
    with torch.no_grad():
        return {k: model.free_energy(x).numpy() for k, x in
                {"real digits (validation)": real, "rotated digits (90°)": torch.rot90(real, 1, (2, 3)),
                 "uniform noise": noise}.items()}


def lecture_images(name: str, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The Reconstructions tab's picture of a bundled RBM (real digits, reconstructions, samples), once per server
    (the tab's own cache: a lecture step and the tab at its defaults share it)."""
    with st.spinner(f"Running 16 Gibbs chains for {PIC_STEPS} steps ..."):
        return reconstructions.picture(setup.mnist(), name, setup.pretrained(name), None, seed, PIC_STEPS)


def energy(mn: MNIST) -> None:
    e = free_energies(PCD)
    fig = viz.energy_histogram(dict(e), zoom=("real digits (validation)", "rotated digits (90°)"))
    fig.update_xaxes(title="free energy F(v) (dashed: each group's median)")
    chrome.plot(fig, key="lecture-free-energy")
    st.caption(f"{PCD} ({describe(setup.pretrained(PCD))}): the free energies of real, rotated and noise images, "
               "as the EBM page's Energies tab draws energies.")


def cd_k(mn: MNIST) -> None:
    model = setup.pretrained(CD1)
    st.image(viz.filters(model.weight), width=chrome.image_width(320),
             caption=f"{CD1} ({describe(model)}): the weights of 100 hidden units as 28 × 28 filters, as the RBM "
             "page's Train tab draws them.")


def gibbs(mn: MNIST) -> None:
    slowmo.gibbs("lecture-gibbs", setup.pretrained(PCD), mn, PCD)


def picture(mn: MNIST) -> None:
    st.image(viz.lecture_picture(*lecture_images(PCD)), width="stretch",
             caption=f"{PCD} ({describe(setup.pretrained(PCD))}), as the RBM page's Reconstructions tab draws it: "
             f"16 validation digits, their reconstructions, and 16 chains after {PIC_STEPS} Gibbs steps from noise.")


def pcd_vs_cd1(mn: MNIST) -> None:
    for name in (PCD, CD1):
        model = setup.pretrained(name)
        real, _, samples = lecture_images(name)
        with torch.no_grad():
            f_real, f_samples = float(model.free_energy(real).mean()), float(model.free_energy(samples).mean())
        st.image(viz.grid(samples, nrow=8), width=560, clamp=True,
                 caption=f"{name}, {describe(model)}: mean free energy of 16 real digits {f_real:.0f}, of these "
                 f"samples {f_samples:.0f}")
    st.caption(f"The means p(v|h) of 16 chains after {PIC_STEPS} Gibbs steps from noise, as the RBM page's "
               "Reconstructions tab makes them.")


def ais(mn: MNIST) -> None:
    """The Likelihood tab's estimate against the exact value, through the tab's functions (run_ais, log_likelihood):
    its whole view recomputes the exact log Z (seconds) at every rerun, too slow for a step that opens at once."""
    model = setup.pretrained(SMALL)
    logz, mean_f = likelihood.bundled_exact(setup.mnist(), SMALL)
    split = likelihood.split_name(mn)
    c1, c2 = st.columns([2, 1], vertical_alignment="bottom")
    betas = url.bound(c1.select_slider, "Inverse temperatures", [100, 300, 1000, 3000], value=100,
                      key="lecture-ais-betas", help="Intermediate distributions p_β between the base-rate model "
                      "(β = 0) and the RBM (β = 1); Salakhutdinov & Murray use 14 500. Few temperatures miss mass.")
    secs = chrome.memo("lecture_ais_eta", (model, betas), lambda: ais_seconds(model, 100, betas))
    results = st.session_state.setdefault("lecture_ais", {})
    if c2.button(f"Run AIS (about {likelihood.fmt_seconds(secs)})", key="lecture-ais", type="primary",
                 icon=":material/calculate:", width="stretch",
                 help="100 annealing runs from the base rate of the training digits, seed 0, as the Likelihood tab "
                 "runs them."):
        bar = st.progress(0.0, text="annealing ...")
        results[betas] = likelihood.run_ais(mn, model, 100, betas, lambda f: bar.progress(min(f, 1.0)))
        bar.empty()
    m = st.columns(3)
    m[0].metric(f"exact log-likelihood, {split} digits", f"{log_likelihood(mean_f, logz)[0]:.2f} nats",
                help=f"−mean F(v) − log Z with log Z = {logz:.3f}, summed over all 2^16 hidden states.")
    res = results.get(betas)
    if res is not None:
        ll, low, high = log_likelihood(mean_f, res)
        m[1].metric(f"AIS, {betas} temperatures", f"{ll:.2f} nats", help=f"Band [{low:.2f}, {high:.2f}]: ±3 "
                    "standard errors of the mean importance weight over 100 runs.")
        m[2].metric("AIS − exact", f"{ll - log_likelihood(mean_f, logz)[0]:+.2f} nats",
                    help="Above 0: AIS underestimates log Z and overstates the log-likelihood.")
        st.caption(f"AIS band [{low:.2f}, {high:.2f}] nats; {res.seconds:.1f} s.")
    else:
        m[1].caption("Press Run AIS for the estimate.")
    st.caption(f"Model: the bundled checkpoint {SMALL}, {describe(model)}; {split} digits, binarized once. The RBM "
               "page's Likelihood tab runs the same estimate on any model.")

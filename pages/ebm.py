"""Energy-based model page: train with Langevin negatives, watch chains turn noise into digits, compare energies.

A view: the sidebar's sampler and the tab bar; each tab lives in pages/ebm_tabs/."""
import streamlit as st

from genlib import checkpoints, models
from genlib.models.ebm import EBM, EBMConfig
from pages.ebm_tabs import chains, energies, lessons, train
from pages.views import chrome, setup, training, url

PRETRAINED = "ebm-mnist"
TABS = ["Train", "Langevin chains", "Energies"]

mn = setup.mnist()
chrome.header(
    "Energy-based model",
    "A convolutional network gives every image an energy $E_\\theta(x)$; the model is "
    "$p_\\theta(x) = e^{-E_\\theta(x)}/Z_\\theta$. Training (Du & Mordatch 2019) lowers the energy of real digits "
    "and raises the energy of samples drawn by Langevin dynamics on $E_\\theta$, started mostly from a replay "
    "buffer of earlier samples and partly (5 %) from uniform noise. Images live in $[-1, 1]^{784}$ here.",
    [r"\nabla_\theta \mathcal{L} = \mathbb{E}_{x\sim\mathrm{data}}[\nabla_\theta E_\theta(x)]"
     r" - \mathbb{E}_{x\sim p_\theta}[\nabla_\theta E_\theta(x)]",
     r"x_{k+1} = \mathrm{clip}\big(x_k - \eta\,\mathrm{clip}(\nabla_x E_\theta(x_k), \pm c) + \sigma\,\varepsilon_k,\ -1, 1\big),"
     r"\quad \varepsilon_k \sim \mathcal{N}(0, I)",
     r"\mathcal{L} = \overline{E_\theta(x_\mathrm{data})} - \overline{E_\theta(x_\mathrm{sample})}"
     r" + \alpha\,\big(\overline{E_\theta(x_\mathrm{data})^2} + \overline{E_\theta(x_\mathrm{sample})^2}\big)"],
    mn,
)


def make_trainer(model: EBM, lr: float = 1e-4, batch: int = 64):
    return training.new_trainer(model, mn, lr, batch, beta1=0.0)


def fresh_state() -> dict:
    model = setup.pretrained_copy(PRETRAINED) if checkpoints.resolve(PRETRAINED).exists() else None
    source = PRETRAINED if model is not None else "new"
    return {"trainer": make_trainer(model if model is not None else models.create("ebm", EBMConfig(), 0)),
            "running": False, "source": source}


state = chrome.session("ebm", fresh_state)
lesson_slot = st.container()  # the "Try this" row: here, or under the tabs in projector mode (drawn at the end)

with st.sidebar:
    st.header("Langevin sampler")
    step_size = url.bound(st.slider, "Step size η", 0.5, 30.0, 10.0, 0.5, key="ebm-eta",
                          help="Multiplies the clamped energy gradient in each Langevin step (training and chains).")
    noise = url.bound(st.select_slider, "Noise σ", [0.0, 0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1], value=0.005,
                             key="ebm-sigma",
                             help="Standard deviation of the Gaussian noise added in each step, set apart from the "
                             "step size (the textbook choice would tie them: σ = √(2η)).")
    seed = url.bound(st.number_input, "Chain seed", 0, 10_000, 0, key="ebm-seed",
                           help="Seed of the chains' random generator: the same seed and settings give the same chains "
                           "(a shared link reproduces them).")

tabs = dict(zip(TABS, url.bound(st.tabs, TABS, key="ebm-tab")))
for name, render in [("Train", lambda: train.render(state, mn, step_size, noise, PRETRAINED, make_trainer)),
                     ("Langevin chains", lambda: chains.render(state, mn, step_size, noise, seed)),
                     ("Energies", lambda: energies.render(state, mn))]:
    if tabs[name].open:  # lazy tabs: only the open tab runs
        with tabs[name]:
            render()

with lesson_slot if not chrome.projector() else st.container():
    chrome.lessons("ebm", lessons.LESSONS)

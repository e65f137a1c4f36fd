"""The 2-D EBM tab: an energy network trained live on a toy data set with Langevin negatives (genlib.train.Trainer)."""
from __future__ import annotations

from dataclasses import replace

import streamlit as st
import torch

from genlib import models
from genlib import samplers as S
from genlib import viz
from genlib.data import TOYS, toy_data
from genlib.models.ebm2d import EBM2DConfig
from genlib.train import TrainConfig, Trainer
from pages.lab.common import SIGMA_MAX, projector_first
from pages.views import chrome, share, training, untrusted, url

TICK = 0.1  # seconds between redraws of the training view while it runs (the browser asks for each tick)
BUDGET = 0.12  # seconds of training per tick (the fair slice when the server is shared and that is less)
BOX = (-4.0, 4.0, -4.0, 4.0)
# The page's defaults (its controls start here), chosen so that the eight Gaussians separate into eight modes within
# a minute of live training (as a class watches). Measured (genlib.models.ebm2d.mode_report; bench/bench_lab_ebm2d.py
# through new_ebm/tick, tests/test_lab.py at 1200 iterations): with short-run negatives from noise and Adam at 1e-2
# the modes separate after about 1000 iterations (seeds 0, 1, 3; seed 2 after 1500); at 3e-3 seed 2 had not
# separated after 2000; persistent negatives at 3e-3 took about 1500; the library's defaults (persistent, 1e-3) not
# within 2000. A weaker energy regulariser (alpha 0.01) let the far corners sink to E = -30.
DEFAULT_CONFIG = EBM2DConfig(persistent=False)
DEFAULT_LR = 1e-2
STEP_SIZES = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1]
AUTOSTART = "lv-e-autostart"  # set by a lesson: a fresh run with its settings, training


def new_ebm(dataset: str, seed: int, config: EBM2DConfig, lr: float) -> dict:
    """A fresh run: 5000 points of `dataset`, weights and trainer seeded with `seed`; not running."""
    data = toy_data(dataset, 5000, torch.Generator().manual_seed(seed))
    model = models.create("ebm2d", config, seed)
    return {"trainer": Trainer(model, data, TrainConfig(lr=lr, batch_size=128, seed=seed)), "running": False}


def tick(state: dict, budget: float | None = BUDGET, max_steps: int = 20) -> dict | None:
    """Training steps for about `budget` seconds (None: no time limit), at least one, at most `max_steps` (no
    validation pass: the view draws the energy itself). None after a divergence: the trainer rolled back to the state
    before the tick and says so in its `message`; training pauses."""
    rec = state["trainer"].tick(None, budget=budget, max_steps=max_steps)
    if rec is None:
        state["running"] = False
    return rec


def settings() -> tuple[str, str, EBM2DConfig | None, str | None, float, int]:
    """The tab's controls, each bound to the URL: (data set, negatives mode, config or None, the config's error,
    learning rate, seed)."""
    c = DEFAULT_CONFIG
    c1, c2, c3, c4 = st.columns(4)
    dataset = url.bound(c1.selectbox, "Data set", TOYS, key="lv-e-data",
                           help="The 2-D toy data set the energy is fitted to.")
    neg_mode = url.bound(c1.radio, "Negatives", ["persistent", "short-run from noise"], key="lv-e-neg", horizontal=True,
                        index=0 if c.persistent else 1,
                        help="Persistent: chains continue from a buffer of earlier negatives (5 % restarted from "
                        "noise). Short-run: fresh chains from uniform noise in [-4, 4]² every iteration.")
    k = url.bound(c2.slider, "Langevin steps", 5, 100, c.steps, 5, key="lv-e-steps",
                  help="ULA steps per training iteration.")
    eta = url.bound(c2.select_slider, "Step size η", STEP_SIZES, value=c.step_size, key="lv-e-eta",
                           help="ULA step size on log p = −E.")
    sigma = url.bound(c3.number_input, "Noise σ", 0.0, SIGMA_MAX, c.noise, 0.05, format="%.3f", key="lv-e-sigma",
                            help=f"ULA noise, from 0 to {SIGMA_MAX:g}; σ = √(2η) gives T = 1.")
    lr = url.bound(c3.select_slider, "Learning rate", training.LEARNING_RATES, value=DEFAULT_LR, key="lv-e-lr",
                          format_func=lambda v: f"{v:g}", help="Adam step size of the energy network. Too large a "
                          "step makes the training diverge: the step is then undone and training pauses.")
    seed = url.bound(c4.number_input, "Seed", 0, 10_000, 0, key="lv-e-seed",
                           help="Seed of data, weights, chains.")
    c4.markdown(f"T = σ²/(2η) = **{S.temperature(eta, sigma) if sigma >= 0 else float('nan'):.3g}**")
    try:
        cfg, error = replace(DEFAULT_CONFIG, steps=k, step_size=eta, noise=float(sigma),
                             persistent=neg_mode == "persistent"), None
    except ValueError as e:
        cfg, error = None, str(e)
    return dataset, neg_mode, cfg, error, lr, int(seed)


def _autostart() -> None:
    st.session_state[AUTOSTART] = True


_D = DEFAULT_CONFIG
LESSONS = [
    chrome.Lesson("Eight Gaussians separate",
                  "Within 30 s (about 200 iterations) a bright ring of low energy forms through the eight Gaussians, "
                  "still joined; the negatives (×), fresh from noise, cross the gaps between the modes and push the "
                  "energy there up, so the ring breaks into eight separate spots (about 1000 iterations: a few "
                  "minutes here).",
                  {"lv-e-data": "eight_gaussians", "lv-e-neg": "short-run from noise", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": _D.noise, "lv-e-lr": DEFAULT_LR}, _autostart),
    chrome.Lesson("Persistent negatives (replay buffer)",
                  "The negatives continue from a buffer of earlier ones, so they follow the model and sit on the "
                  "ring: the gaps between the modes open later than with negatives fresh from noise.",
                  {"lv-e-data": "eight_gaussians", "lv-e-neg": "persistent", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": _D.noise, "lv-e-lr": DEFAULT_LR}, _autostart),
    chrome.Lesson("A cold sampler (T = ¼)",
                  "With σ = √(η/2) the negatives sample p⁴ and crowd the centres: to match the data the model flattens "
                  "its energy, and the learnt modes come out wider than the data's.",
                  {"lv-e-data": "eight_gaussians", "lv-e-neg": "short-run from noise", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": round((_D.step_size / 2) ** 0.5, 3),
                   "lv-e-lr": DEFAULT_LR}, _autostart),
    chrome.Lesson("Two moons",
                  "Curved, thin data: watch the low energy (bright) gather on the moons, and the loss E_data − E_neg "
                  "fall below 0 (about −1 after 200 iterations, 30 s here; −3 later): the data sit lower than the negatives, which short "
                  "runs from noise never bring all the way onto the thin moons.",
                  {"lv-e-data": "two_moons", "lv-e-neg": "short-run from noise", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": _D.noise, "lv-e-lr": DEFAULT_LR}, _autostart),
]


def view(trainer: Trainer, dataset: str, neg_mode: str) -> None:
    """The learned energy with data and negatives, and the loss curves (training.live shows the run's messages)."""
    hist = trainer.history
    st.caption(f"iteration {trainer.step_count} · {dataset} · negatives: {neg_mode}")
    left, right = st.columns([3, 2])
    grid = trainer.model.energy_grid(BOX, 70)
    chrome.plot(viz.energy_map_figure(grid, trainer.data, trainer.model.negatives, BOX), key="lv-e-heat",
                container=left, max_height=270)  # projector mode: the map above the fold of 1280 x 720
    chrome.explain("Bright is low energy $E_\\theta(x)$, i.e. high $p_\\theta(x) \\propto e^{-E_\\theta(x)}$; the "
                   "colours span the data region. Training lowers $E$ at the data and raises it at the Langevin "
                   "negatives.", container=left)
    if hist:
        chrome.plot(viz.energy_loss_figure([h["step"] for h in hist], [h["train_cd"] for h in hist],
                                           [h["train_e_data"] for h in hist], [h["train_e_neg"] for h in hist],
                                           title="loss E_data − E_neg (mean per tick)"), key="lv-e-loss", container=right)
        chrome.explain("$\\overline{E_\\theta(x_\\mathrm{data})} - \\overline{E_\\theta(x_\\mathrm{neg})}$: the "
                       "contrastive term of $\\mathcal L$; near 0 when the negatives look like the data.",
                       container=right)
    else:
        right.info("Press Start or Step to train; the loss appears here.")


def render() -> None:
    """The 2-D EBM tab (call it only while the tab is open)."""
    first = projector_first()
    chrome.lessons("lv-e", LESSONS)
    dataset, neg_mode, cfg, error, lr, seed = settings()
    state = st.session_state.get("lv_ebm")
    if state is None or state["key"] != (dataset, seed):
        state = {"key": (dataset, seed), **new_ebm(dataset, seed, cfg or DEFAULT_CONFIG, lr)}
        st.session_state["lv_ebm"] = state
    if error:
        state["running"] = False
        untrusted.error(f"Cannot train with these settings: {error}.")
        return
    if st.session_state.pop(AUTOSTART, False):  # a lesson: a fresh run with its settings, training
        state.update(new_ebm(dataset, seed, cfg, lr))
        state["running"] = True
    state["trainer"].model.config = cfg  # sampler settings apply from the next step on
    if state["trainer"].config.lr != lr:
        state["trainer"].set_hparams(lr=lr)
    with first:
        step, reset = training.train_buttons("lv-ebm", state)
    if reset:
        state.update(new_ebm(dataset, seed, cfg, lr))
    if step:
        training.safe_tick(state, lambda: tick(state))
    with first:
        training.live(state, lambda budget: tick(state, share.cut(BUDGET, budget)),
                      lambda tr: view(tr, dataset, neg_mode), every=TICK)

"""The 2-D EBM tab: an energy network trained live on a toy data set with Langevin negatives (genlib.train.Trainer)."""
from __future__ import annotations

from collections.abc import Callable
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
from pages.views import chrome, live, share, training, untrusted, url

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
PAIR = "lv-e-pair"  # set by a lesson that compares: (label, config changes) of a second run trained beside it


def new_ebm(dataset: str, seed: int, config: EBM2DConfig, lr: float) -> dict:
    """A fresh run: 5000 points of `dataset`, weights and trainer seeded with `seed`; not running."""
    data = toy_data(dataset, 5000, torch.Generator().manual_seed(seed))
    model = models.create("ebm2d", config, seed)
    return {"trainer": Trainer(model, data, TrainConfig(lr=lr, batch_size=128, seed=seed)), "running": False}


def tick(state: dict, budget: float | None = BUDGET, max_steps: int = 20) -> dict | None:
    """Training steps for about `budget` seconds (None: no time limit), at least one, at most `max_steps` (no
    validation pass: the view draws the energy itself). None after a divergence: the trainer rolled back to the state
    before the tick and says so in its `message`; training pauses. With a second run beside it (state["rival"], a
    lesson's comparison) the rival then trains as many iterations as this run did, so both are always at the same
    iteration (a tick takes about twice the budget: drawing two maps costs about as much as the training)."""
    rival = state.get("rival")
    rec = state["trainer"].tick(None, budget=budget, max_steps=max_steps)
    if rival and rec is not None:
        training.catch_up(state["trainer"], rival["trainer"], name=f"the run beside ({rival['label']})")
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
    st.session_state.pop(PAIR, None)


def _beside(label: str, **changes) -> Callable[[], None]:
    """A lesson's start: its run, and beside it the same run with `changes` to its sampler (labelled `label`)."""
    def start() -> None:
        _autostart()
        st.session_state[PAIR] = (label, changes)
    return start


_D = DEFAULT_CONFIG
# the persistent lesson's Langevin steps per iteration: too few for chains from noise to reach the ring, enough for
# chains that go on from the buffer (measured at 50 and 100 iterations, seeds 0 and 1: 82-93 % of the persistent
# negatives within 0.5 of the ring, 58-69 % of the fresh ones; 5 steps: 68-78 % and 48-52 %)
PERSISTENT_STEPS = 10
LESSONS = [
    chrome.Lesson("Eight Gaussians separate",
                  "Within 30 s (about 200 iterations) a bright ring of low energy forms through the eight Gaussians, "
                  "still joined; the negatives (×), fresh from noise, cross the gaps between the modes and push the "
                  "energy there up, so the ring breaks into eight separate spots (about 1000 iterations: a few "
                  "minutes here).",
                  {"lv-e-data": "eight_gaussians", "lv-e-neg": "short-run from noise", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": _D.noise, "lv-e-lr": DEFAULT_LR}, _autostart),
    chrome.Lesson("Persistent negatives (replay buffer)",
                  f"Two runs side by side with only {PERSISTENT_STEPS} Langevin steps per iteration: left the "
                  "negatives (×) continue from a buffer of earlier ones, so they follow the model onto the ring; "
                  "right they start afresh from noise and do not get there: after 50 iterations (within 30 s) "
                  "about 80 % of the persistent negatives lie within 0.5 of the ring, about 60 % of the fresh ones.",
                  {"lv-e-data": "eight_gaussians", "lv-e-neg": "persistent", "lv-e-steps": PERSISTENT_STEPS,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": _D.noise, "lv-e-lr": DEFAULT_LR},
                  _beside("short-run from noise", persistent=False)),
    chrome.Lesson("A cold sampler (T = ¼)",
                  "Two runs side by side: left σ = √(η/2), so the negatives sample p⁴, more peaked than p; right "
                  "σ = √(2η), T = 1. To match the data with its too-cold negatives the left model flattens its "
                  "energy: its bright area (energy within 1 of the data's mean) comes out wider: about 35 % of the "
                  "map against 25 % at T = 1 after 25 iterations, 33 % against 21 % after 50 (within 30 s).",
                  {"lv-e-data": "eight_gaussians", "lv-e-neg": "short-run from noise", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": round((_D.step_size / 2) ** 0.5, 3),
                   "lv-e-lr": DEFAULT_LR}, _beside("T = 1", noise=round((2 * _D.step_size) ** 0.5, 3))),
    chrome.Lesson("Two moons",
                  "Curved, thin data: watch the low energy (bright) gather on the moons, and the loss E_data − E_neg "
                  "fall below 0 (about −1 after 200 iterations, 30 s here; −3 later): the data sit lower than the negatives, which short "
                  "runs from noise never bring all the way onto the thin moons.",
                  {"lv-e-data": "two_moons", "lv-e-neg": "short-run from noise", "lv-e-steps": _D.steps,
                   "lv-e-eta": _D.step_size, "lv-e-sigma": _D.noise, "lv-e-lr": DEFAULT_LR}, _autostart),
]


def energy_map(trainer: Trainer, key: str, container, title: str | None = None) -> None:
    """The learned energy as a heat map with the data and the last negatives."""
    fig = viz.energy_map_figure(trainer.model.energy_grid(BOX, 70), trainer.data, trainer.model.negatives, BOX)
    if title:  # one of two maps side by side: the map as large as the half width allows (the explanation under
        # the maps names the marks, the colours are those of the map alone)
        fig.update_layout(title=dict(text=title), showlegend=False, margin=dict(l=10, r=10, t=40, b=10))
        fig.update_traces(showscale=False, selector=dict(type="heatmap"))
    chrome.plot(fig, key=key, container=container, max_height=270)  # projector mode: the map above the fold


def describe(cfg: EBM2DConfig) -> str:
    """A run's sampler in a few words."""
    return (f"{'persistent' if cfg.persistent else 'from noise'}, {cfg.steps} steps, "
            f"T = {S.temperature(cfg.step_size, cfg.noise):.2g}")


def view_pair(state: dict, dataset: str) -> None:
    """A lesson's comparison: this run's energy and negatives beside the other run's, at the same iteration."""
    runs = (state["trainer"], state["rival"]["trainer"])
    st.caption(f"iteration {runs[0].step_count} · {dataset} · two runs side by side, the same data, weights and "
               "learning rate · Reset ends the comparison")
    for col, tr, key in zip(st.columns(2), runs, ("lv-e-heat", "lv-e-heat-2")):
        energy_map(tr, key, col, describe(tr.model.config))
    chrome.explain("Bright is low energy $E_\\theta(x)$ (each map coloured over its own data region); white dots "
                   "are data, orange crosses the last batch of Langevin negatives, where training raises $E$.")


def view(trainer: Trainer, dataset: str, neg_mode: str) -> None:
    """The learned energy with data and negatives, and the loss curves (training.live shows the run's messages)."""
    hist = trainer.history
    st.caption(f"iteration {trainer.step_count} · {dataset} · negatives: {neg_mode}")
    left, right = st.columns([3, 2])
    energy_map(trainer, "lv-e-heat", left)
    chrome.explain("Bright is low energy $E_\\theta(x)$, i.e. high $p_\\theta(x) \\propto e^{-E_\\theta(x)}$; the "
                   "colours span the data region. Training lowers $E$ at the data and raises it at the Langevin "
                   "negatives.", container=left)
    if hist:
        live.chart("lv-e-loss", **viz.energy_loss_figure(
            [h["step"] for h in hist], [h["train_cd"] for h in hist], [h["train_e_data"] for h in hist],
            [h["train_e_neg"] for h in hist], title="loss E_data − E_neg (mean per tick)"), container=right)
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
        state.update(new_ebm(dataset, seed, cfg, lr), rival=None)
        state["running"] = True
        pair = st.session_state.pop(PAIR, None)
        if pair is not None:  # and beside it the same run with the lesson's other sampler
            state["rival"] = {"label": pair[0], **new_ebm(dataset, seed, replace(cfg, **pair[1]), lr)}
    state["trainer"].model.config = cfg  # sampler settings apply from the next step on
    if state["trainer"].config.lr != lr:
        state["trainer"].set_hparams(lr=lr)
    with first:
        step, reset = training.train_buttons("lv-ebm", state)
    if reset:
        state.update(new_ebm(dataset, seed, cfg, lr), rival=None)
    if step:
        training.safe_tick(state, lambda: tick(state))
    with first:
        # two runs side by side: twice the budget for each (their two maps cost as much to draw as one tick trains)
        training.live(state, lambda budget: tick(state, share.cut(BUDGET * (2 if state.get("rival") else 1), budget)),
                      lambda tr: view_pair(state, dataset) if state.get("rival") else view(tr, dataset, neg_mode),
                      every=TICK)

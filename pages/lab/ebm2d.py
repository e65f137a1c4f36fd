"""The 2-D EBM tab: an energy network trained live on a toy data set with Langevin negatives (genlib.train.Trainer)."""
from __future__ import annotations

import streamlit as st
import torch

from genlib import models
from genlib import samplers as S
from genlib import viz
from genlib.data import TOYS, toy_data
from genlib.models.ebm2d import EBM2DConfig
from genlib.train import TrainConfig, Trainer
from pages.lab.common import SIGMA_MAX
from pages.views import training

TICK = 0.1  # seconds between redraws of the training view while it runs (the browser's timer)
BOX = (-4.0, 4.0, -4.0, 4.0)


def new_ebm(dataset: str, seed: int, config: EBM2DConfig, lr: float) -> dict:
    """A fresh run: 5000 points of `dataset`, weights and trainer seeded with `seed`; not running."""
    data = toy_data(dataset, 5000, torch.Generator().manual_seed(seed))
    model = models.create("ebm2d", config, seed)
    return {"trainer": Trainer(model, data, TrainConfig(lr=lr, batch_size=128, seed=seed)), "running": False}


def tick(state: dict, budget: float = 0.12, max_steps: int = 20) -> dict | None:
    """Training steps for about `budget` seconds. None after a divergence: the trainer rolled back to the state
    before the tick and says so in its `message`; training pauses."""
    rec = state["trainer"].run(max_steps, time_budget=budget)
    if rec is None:
        state["running"] = False
    return rec


def settings() -> tuple[str, str, EBM2DConfig | None, str | None, float, int]:
    """The tab's controls: (data set, negatives mode, config or None, the config's error, learning rate, seed)."""
    c1, c2, c3, c4 = st.columns(4)
    dataset = c1.selectbox("Data set", TOYS, key="lv-e-data", help="The 2-D toy data set the energy is fitted to.")
    neg_mode = c1.radio("Negatives", ["persistent", "short-run from noise"], key="lv-e-neg", horizontal=True,
                        help="Persistent: chains continue from a buffer of earlier negatives (5 % restarted from "
                        "noise). Short-run: fresh chains from uniform noise in [-4, 4]² every iteration.")
    k = c2.slider("Langevin steps", 5, 100, 30, 5, key="lv-e-steps", help="ULA steps per training iteration.")
    eta = c2.select_slider("Step size η", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], value=0.02, key="lv-e-eta",
                           help="ULA step size on log p = −E.")
    sigma = c3.number_input("Noise σ", 0.0, SIGMA_MAX, 0.2, 0.05, format="%.3f", key="lv-e-sigma",
                            help=f"ULA noise, from 0 to {SIGMA_MAX:g}; √(2η) = 0.2 at the default step gives T = 1.")
    lr = c3.select_slider("Learning rate", training.LEARNING_RATES, value=1e-3, key="lv-e-lr",
                          format_func=lambda v: f"{v:g}", help="Adam step size of the energy network. Too large a "
                          "step makes the training diverge: the step is then undone and training pauses.")
    seed = c4.number_input("Seed", 0, 10_000, 0, key="lv-e-seed", help="Seed of data, weights, chains.")
    c4.markdown(f"T = σ²/(2η) = **{S.temperature(eta, sigma) if sigma >= 0 else float('nan'):.3g}**")
    try:
        cfg, error = EBM2DConfig(steps=k, step_size=eta, noise=float(sigma), persistent=neg_mode == "persistent"), None
    except ValueError as e:
        cfg, error = None, str(e)
    return dataset, neg_mode, cfg, error, lr, int(seed)


def view(trainer: Trainer, dataset: str, neg_mode: str) -> None:
    """The trainer's rollback message, the learned energy with data and negatives, and the loss curves."""
    if trainer.message:
        st.error(trainer.message)
    hist = trainer.history
    st.caption(f"iteration {trainer.step_count} · {dataset} · negatives: {neg_mode}")
    left, right = st.columns([3, 2])
    grid = trainer.model.energy_grid(BOX, 70)
    left.plotly_chart(viz.energy_map_figure(grid, trainer.data, trainer.model.negatives, BOX), key="lv-e-heat")
    if hist:
        right.plotly_chart(viz.energy_loss_figure([h["step"] for h in hist], [h["train_cd"] for h in hist],
                                                  [h["train_e_data"] for h in hist], [h["train_e_neg"] for h in hist],
                                                  title="loss E_data − E_neg (mean per tick)"), key="lv-e-loss")
    else:
        right.info("Press Start or Step to train; the loss appears here.")


def render() -> None:
    """The 2-D EBM tab (call it only while the tab is open)."""
    dataset, neg_mode, cfg, error, lr, seed = settings()
    state = st.session_state.get("lv_ebm")
    if state is None or state["key"] != (dataset, seed):
        state = {"key": (dataset, seed), **new_ebm(dataset, seed, cfg or EBM2DConfig(), lr)}
        st.session_state["lv_ebm"] = state
    if error:
        state["running"] = False
        st.error(f"Cannot train with these settings: {error}.")
        return
    state["trainer"].model.config = cfg  # sampler settings apply from the next step on
    if state["trainer"].config.lr != lr:
        state["trainer"].set_hparams(lr=lr)
    step, reset = training.train_buttons("lv-ebm", state)
    if reset:
        state.update(new_ebm(dataset, seed, cfg, lr))
    if step:
        tick(state)

    @st.fragment(run_every=TICK if state["running"] else None)
    def ebm_view():
        stt = st.session_state["lv_ebm"]
        if stt["running"] and tick(stt) is None:
            st.rerun()  # diverged: training paused, the Start button comes back
        view(stt["trainer"], dataset, neg_mode)

    ebm_view()

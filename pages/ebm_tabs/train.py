"""The EBM page's Train tab: live training with Langevin negatives, its timing, the energies and the replay buffer."""
from __future__ import annotations

import dataclasses
from typing import Callable

import streamlit as st
import torch

from genlib import models, viz
from genlib.data import MNIST
from genlib.models.ebm import EBM, EBMConfig, LangevinIteration
from pages.ebm_tabs.common import langevin_step_seconds, seconds, slots
from pages.views import chain_player, chrome, live as live_view, share, training, url

VAL = 128  # validation digits (a validation pass every VAL_EVERY iterations, spread over ticks like an iteration)
VAL_EVERY = 10
TICK_BUDGET = 0.25  # seconds of work per live tick: one iteration is spread over as many ticks as it needs


def render(state: dict, mn: MNIST, step_size: float, noise: float, pretrained: str,
           make_trainer: Callable[[EBM, float, int], object]) -> None:
    """The tab: `state` is the session's run, `step_size` and `noise` the sidebar's sampler, `pretrained` the bundled
    checkpoint's name and `make_trainer(model, lr, batch)` the page's trainer for a model."""
    head, buttons, ctrl, visual = slots()
    with ctrl:
        trainer = state["trainer"]
        c1, c2, c3 = head.columns(3)
        lr = url.bound(c1.select_slider, "Learning rate", training.LEARNING_RATES, value=1e-4, format_func=lambda v: f"{v:g}",
                              key="ebm-lr",
                              help="Adam step size (β1 = 0 as in Du & Mordatch). Large values blow the energies "
                              "up: the run then rolls back to its last good state.")
        k = url.bound(c2.slider, "Langevin steps per iteration", 5, 100, 40, 5, key="ebm-k",
                      help="K: steps of the sampler that makes each iteration's negatives; more is slower but "
                      "gives better negatives. A long iteration is spread over several page updates.")
        batch = url.bound(c3.select_slider, "Batch size", [16, 32, 64, 128], value=64, key="ebm-batch",
                                 help="Real digits and negatives per iteration.")
        trainer.set_hparams(lr=lr, batch_size=batch)
        cfg = trainer.model.config
        if (k, step_size, noise) != (cfg.steps, cfg.step_size, cfg.noise):
            trainer.model.config = dataclasses.replace(cfg, steps=k, step_size=step_size, noise=noise)
        with buttons:
            step, reset = training.run_buttons(
                state, "running", ("ebm-run", "ebm-step", "ebm-reset"), ("Start", "Reset"),
                ("Start or pause live training: each update of the page runs Langevin steps for about "
                 f"{TICK_BUDGET:g} s; an iteration's update happens once its K steps are done.",
                 "Run one whole iteration now (K Langevin steps, then the update).",
                 "Throw this run away and start from fresh random weights with these settings."))
        b1, b2 = st.columns(2)
        training.pretrained_button(state, pretrained, "Load pretrained", f"Replace this run by the bundled "
                                   f"checkpoint {pretrained}.", lambda m: make_trainer(m, lr, batch), b1)
        if reset:
            model = models.create("ebm", EBMConfig(steps=k, step_size=step_size, noise=noise), 0)
            state.update(trainer=make_trainer(model, lr, batch), running=False, source="new")
        trainer = state["trainer"]
        if trainer.split is None:  # a new run (Reset, pretrained, upload): its iterations spread over ticks
            trainer.split = LangevinIteration(trainer.model, VAL_EVERY)
        state["live"] = live = trainer.split
        val = mn.val.images[:VAL]
        if not state["running"]:
            trainer.rewind()  # paused: back to the last finished iteration, so the download is exactly the run shown
            trainer.set_hparams(lr=lr, batch_size=batch)  # the rewound state's settings -> this page's settings
        if step:  # before the download: the file is the run shown, named with its step count
            training.safe_tick(state, lambda: trainer.tick(val, budget=None, max_steps=1))
        with b2:
            training.checkpoint_download(state, mn, "ebm", "ebm-dl")

        per_step = chrome.memo("ebm-cost", (trainer.model, batch, torch.get_num_threads()),
                               lambda: langevin_step_seconds(trainer.model, batch))
        estimate = 100 * (k + 3) * per_step + (100 // VAL_EVERY) * k * per_step * VAL / batch
        measured = live.seconds_per_iteration()
        timing = (f"Measured while running: {measured:.2g} s per iteration, about {100 * measured:.0f} s per 100 "
                  "iterations." if measured else
                  f"Time: about {seconds(estimate)} s per 100 iterations on this machine (timed now: one Langevin "
                  f"step on {batch} images takes {1000 * per_step:.0f} ms; an iteration is K = {k} steps plus "
                  "the update).")
        st.caption(timing)
        if not chrome.projector():
            st.caption("Training an EBM well takes about half an hour of CPU (see checkpoints/README.md); live "
                       f"training here shows how the energies move. Every {VAL_EVERY} iterations a validation pass "
                       f"on {VAL} digits runs (its Langevin steps are spread over the updates too).")

        def draw_train(tr) -> None:
            lv = state["live"]
            st.caption(f"source: {state['source']} · step {tr.step_count} · lr {tr.config.lr:g} · "
                       f"batch {tr.config.batch_size} · K {tr.model.config.steps}")
            pace = (f" (one Langevin step takes {lv.unit_seconds:.2g} s here: about "
                    f"{(lv.total - lv.done) * lv.unit_seconds:.0f} s to go)"
                    if lv.unit_seconds and lv.unit_seconds * lv.total > 2 else "")
            if lv.phase == "train":
                st.progress(lv.done / lv.total, text=f"Iteration {tr.step_count + 1}: Langevin step {lv.done} of "
                            f"{lv.total} for the negatives; the update follows at step {lv.total}{pace}.")
            elif lv.phase == "validate":
                st.progress(lv.done / lv.total, text=f"Validation on {VAL} digits: Langevin step {lv.done} of "
                            f"{lv.total}{pace}.")
            elif state["running"]:
                st.progress(0.0, text=f"Iteration {tr.step_count + 1}: starting its Langevin chains …")
            left, right = st.columns([3, 2])
            with left:
                if tr.history:
                    fig = viz.curves(tr.history, {"train_e_data": "E(data)", "train_e_sample": "E(samples)",
                                                  "train_loss": "loss"},
                                     yaxis="energy", title="Energies and loss (training batches)")
                    live_view.chart("ebm-curves", **fig)
                elif not state["running"]:
                    st.info("Press Start or Step to train; curves appear here.")
                chrome.explain("The loss is E(data) − E(samples) + α·(E² terms): each update pushes the energy "
                               "of real digits down and that of the Langevin samples up, until samples look like "
                               "data to the model.")
            with right:
                buf = tr.model.replay
                if bool(tr.model.replay_ready):
                    idx = torch.linspace(0, len(buf) - 1, 64).long()
                    chain_player.frame(st, viz.grid((buf[idx] + 1) / 2, nrow=8),
                                       caption="64 chains from the replay buffer")
                else:
                    st.caption("The replay buffer fills with noise at the first training step.")

    with visual:
        training.live(state, lambda budget: trainer.tick(val, budget=share.cut(TICK_BUDGET, budget)), draw_train,
                      every=0.5)

"""The EBM page's Langevin chains tab: chains from noise, digits or the replay buffer, played frame by frame."""
from __future__ import annotations

import math

import streamlit as st
import torch

from genlib import samplers, viz
from genlib.data import MNIST
from pages.ebm_tabs import lessons
from pages.ebm_tabs.common import langevin_step_seconds, pictures, seconds, slots
from pages.views import chain_player, chrome, url

STARTS = ["uniform noise", "validation digits", "replay buffer"]


def render(state: dict, mn: MNIST, step_size: float, noise: float, seed: int) -> None:
    """The tab: `state` is the session's run; `step_size`, `noise` and `seed` are the sidebar's sampler settings."""
    head, buttons, ctrl, visual = slots()
    with ctrl:
        model = state["trainer"].model
        c1, c2, c3, c4 = head.columns(4)
        n = url.bound(c1.select_slider, "Chains", [4, 9, 16, 25, 36, 49, 64], value=16, key="ebm-n",
                             help="Number of images sampled in parallel.")
        start = url.bound(c2.selectbox, "Start from", STARTS, key="ebm-start",
                             help="Where the chains begin: noise shows generation, digits show the model's "
                             "modes, the replay buffer shows where training's chains are.")
        total = url.bound(c3.slider, "Total steps", 16, 512, 256, 16, key="ebm-total",
                          help="Length of the chain.")
        per_frame = url.bound(c4.slider, "Steps per frame", 1, 32, 8, key="ebm-per",
                              help="Langevin steps between two frames of the animation.")

        def new_chains() -> dict:
            g = torch.Generator().manual_seed(int(seed))
            if start == "uniform noise":
                x = model.noise(n, g)
            elif start == "validation digits":
                x = mn.val.images[torch.randperm(len(mn.val), generator=g)[:n]] * 2 - 1
            else:
                if not bool(model.replay_ready):
                    raise ValueError("this model's replay buffer is empty (it fills at the first training step); "
                                     "start from noise or digits, or train a step first")
                x = model.replay[torch.randint(0, len(model.replay), (n,), generator=g)].clone()
            chain = model.chain(x, g, step_size, noise)
            return {"chain": samplers.Recorder(chain, x, total_steps=total, energy=model.energy)}

        chains = chain_player.chain_state("ebm_chain", (n, start, total, int(seed), step_size, noise, model),
                                          new_chains)

        def advance() -> None:
            chains["chain"].advance(per_frame)

        with buttons:
            chains = chain_player.controls(chains, "ebm-chain", "chains", new_chains, advance)
        per_step = chrome.memo("ebm-chain-cost", (model, n, torch.get_num_threads()),
                               lambda: langevin_step_seconds(model, n))
        st.caption(f"Time: computing all {total} steps takes about {seconds(total * per_step)} s on this "
                   f"machine (timed now: one Langevin step on {n} images takes {1000 * per_step:.0f} ms); Play "
                   f"shows {math.ceil(total / per_frame)} frames, one per page update (a few per second).")
    if chains is not None:
        if chrome.take_autoplay(lessons.AUTOPLAY) and not chains["chain"].full:
            chains["playing"] = True

        def draw_chain(i: int) -> None:
            ch = chains["chain"]
            left, right = st.columns([2, 3])
            chain_player.frame(left, viz.grid(pictures(ch, i), nrow=math.ceil(math.sqrt(n))),
                               caption=f"step {ch.steps[i]} of {total}")
            with right:
                chrome.plot(viz.chain_traces(ch.steps, ch.energies, ch.steps[i], "Langevin step", "energy E(x)",
                                             "Energy of each chain (grey: mean)", zoom_from=min(16, total // 4)),
                            key="ebm-chain-energy")
                chrome.explain("Each step is x ← x − η·∇ₓE(x) + σ·ε: the gradient term walks the image "
                               "downhill in energy (towards digits), the noise term σ·ε keeps it a sampler of "
                               "p(x) ∝ e^(−E(x)), not an optimiser.")

        with visual:
            chain_player.player(chains, "ebm-chain", lambda: len(chains["chain"]), advance, draw_chain,
                                done=lambda: chains["chain"].full)
        with ctrl:
            chain_player.gif_download(chains["chain"], lambda ch, i: viz.grid(pictures(ch, i)),
                                      "ebm-chain.gif", "An animated GIF of the frames computed so far.")

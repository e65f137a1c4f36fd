"""The EBM page's Langevin chains tab: chains from noise, digits or the replay buffer, played as a live view
(views.live): each frame sends the chains' images and energies, the browser draws them and keeps them for the
scrubber. The chain has a length: once there, Play reads Replay."""
from __future__ import annotations

import math

import streamlit as st
import torch

from genlib import samplers, viz
from genlib.data import MNIST
from pages.ebm_tabs import lessons
from pages.ebm_tabs.common import langevin_step_seconds, pictures, seconds, slots
from pages.views import chain_player, chrome, live, url

STARTS = ["uniform noise", "validation digits", "replay buffer"]
# one frame costs a tenth of a second to a second here (16 chains, a few Langevin steps each): one frame per ask,
# shown as soon as it arrives, the next asked a quarter of a second after it (fps 0: no queue to fall behind)
FPS, BATCH, EVERY = 0, 1, 0.25
WIDTH, GAP, COLS = 940, 16, (2, 3)  # the picture's row at 1400 px wide: the images | the energies
TRACES_HEIGHT = 330  # pixels: the energy traces with their axes


def scene(n: int, total: int) -> dict:
    """The still parts of the picture for n chains of `total` steps: the image grid (square, its step under it) and
    the energy traces, zoomed on the later steps (the first ones start far higher)."""
    w1, zoom = round((WIDTH - GAP) * COLS[0] / sum(COLS)), min(16, total // 4)
    grid = {"kind": "images", "part": "x", "dtype": "u1", "title": "chains", "h": 28, "w": 28,
            "nrow": math.ceil(math.sqrt(n)), "width": w1, "height": w1 + 26}
    traces = {"kind": "traces", "part": "energy", "dtype": "f4",
              "title": f"Energy of each chain (axis fitted to steps ≥ {zoom})", "xlabel": "Langevin step",
              "ylabel": "energy E(x)", "zoom_from": zoom,
              "width": WIDTH - GAP - w1, "height": TRACES_HEIGHT}
    return {"id": f"ebm-langevin|{n}|{total}|{WIDTH}", "rows": [[grid, traces]]}


def frame(ch: samplers.Recorder, k: int, total: int) -> dict:
    """Held frame k: the chains' images (uint8), their energies and the caption."""
    return {"step": int(ch.steps[k]),
            "caption": f"step {ch.steps[k]} of {total} · left the chains' images, right the energy E(x) of each "
                       "chain (the thick line: their mean)",
            "parts": {"x": live.images(pictures(ch, k).reshape(len(ch.frames[k]), -1)),
                      "energy": live.values(ch.energies[k])}}


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

        # a lesson's request to play is taken here, before the buttons are drawn: fresh chains with the lesson's
        # settings, playing, and the button reads Pause in this same run
        chains = chain_player.chain_state("ebm_chain", (n, start, total, int(seed), step_size, noise, model),
                                          new_chains, autoplay=lessons.AUTOPLAY)

        def advance() -> None:
            chains["chain"].advance(per_frame)

        with buttons:
            chains = chain_player.controls(chains, "ebm-chain", "chains", new_chains, advance,
                                           finished=lambda s: s["chain"].full)
        per_step = chrome.memo("ebm-chain-cost", (model, n, torch.get_num_threads()),
                               lambda: langevin_step_seconds(model, n))
        st.caption(f"Time: computing all {total} steps takes about {seconds(total * per_step)} s on this "
                   f"machine (timed now: one Langevin step on {n} images takes {1000 * per_step:.0f} ms); Play "
                   f"shows {math.ceil(total / per_frame)} frames, each as soon as it is computed.")
    if chains is not None:
        ch = chains["chain"]

        def after(m: str) -> None:  # under the picture, playing or paused
            chrome.explain("Each step is x ← x − η·∇ₓE(x) + σ·ε: the gradient term walks the image "
                           "downhill in energy (towards digits), the noise term σ·ε keeps it a sampler of "
                           "p(x) ∝ e^(−E(x)), not an optimiser.")

        with visual:
            live.view(chains, "ebm-chain-live", lambda budget: advance(), finished=lambda: ch.full, fps=FPS,
                      batch=BATCH, every=EVERY, scene=lambda: scene(n, total), frames=lambda: (ch.dropped, len(ch)),
                      frame=lambda k: frame(ch, k, total), after=after)
        with ctrl:
            chain_player.gif_download(ch, lambda c, i: viz.grid(pictures(c, i)),
                                      "ebm-chain.gif", "An animated GIF of the frames computed so far.")

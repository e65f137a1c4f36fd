"""The RBM page's Gibbs chains tab: block Gibbs chains of the chosen model from noise, digits or the persistent
chains, at an inverse temperature that acts on running chains."""
from __future__ import annotations

import math

import numpy as np
import streamlit as st
import torch

from genlib import limits, samplers, viz
from genlib.data import MNIST, binarize_fixed
from pages.rbm_tabs import lessons
from pages.views import chain_player, chrome, url


FPS = 10  # frames per second while playing (the browser's flipbook): at 1 step per frame a student can follow a chain
BATCH = 10  # frames per round trip: one a second
WIDTH, GAP, COLS = 940, 16, (2, 2, 3)  # the paused view's row at 1400 px wide: its columns and Streamlit's gap
FE = ("Free energy of each chain", "Gibbs step", "free energy F(v)")  # title, x and y axis of the traces


def mean_images(ch: samplers.Recorder, i: int) -> torch.Tensor:
    """The Gibbs means p(v|h) of frame i as images [n, 1, 28, 28]: the smooth picture of the chains."""
    return ch.mean(i).reshape(-1, 1, 28, 28)


def picture(ch: samplers.Recorder, i: int, nrow: int) -> np.ndarray:
    """Frame i while playing, as one RGB image laid out as the paused view: p(v|h) | sampled v (with their
    captions) | the free energy traces up to frame i."""
    unit = (WIDTH - GAP * (len(COLS) - 1)) / sum(COLS)
    w1, w2 = round(unit * COLS[0]), round(unit * COLS[1])
    step = ch.steps[i]
    return viz.panels([viz.captioned(viz.grid(mean_images(ch, i), nrow=nrow), w1, f"p(v|h) · step {step}"),
                       viz.captioned(viz.grid(ch.frame(i).reshape(-1, 1, 28, 28), nrow=nrow), w2,
                                     f"sampled v · step {step}"),
                       viz.traces_raster(ch.steps[:i + 1], ch.energies[:i + 1], (330, WIDTH - w1 - w2 - 2 * GAP),
                                         *FE)], None, gap=GAP)


def render(mn: MNIST, chosen) -> None:
    """The tab: `chosen()` is (name, model, a sentence saying which model)."""
    name, model, said = chosen()
    if model is not None:
        st.caption(said)
        # projector mode: the chains' picture above the fold, their settings below it
        view, settings = (st.container(), st.container()) if chrome.projector() else (None, st.container())
        c1, c2, c3, c4, c5 = settings.columns([3, 3, 3, 3, 2])
        n = url.bound(c1.select_slider, "Chains", [16, 25, 36, 49, 64, 81, 100], value=36, key="rbm-n",
                             help="Number of chains run in parallel.")
        starts = ["uniform noise", "validation digits"] + (["persistent chains"] if model.config.persistent else [])
        start = url.bound(c2.selectbox, "Start from", starts, key="rbm-start",
                             help="Noise shows generation, digits show how the model holds or leaves the data, the "
                             "persistent chains are where PCD training left its negative samples.")
        per_frame = url.bound(c3.slider, "Steps per frame", 1, 50, 1, key="rbm-per-frame",
                              help="Gibbs steps between two frames.")
        beta = url.bound(c4.slider, "Inverse temperature β", 0.1, 2.0, 1.0, 0.05, key="rbm-beta",
                         help="Samples p(v,h) ∝ exp(-β E(v,h)): β < 1 flattens the distribution (more mixing), "
                         "β > 1 sharpens it. Acts on running chains.")
        seed = url.bound(c5.number_input, "Seed", 0, 10_000, 0, key="rbm-seed",
                               help="Seed of the chains' random generator: the same seed and settings give the "
                               "same chains, frame by frame.")

        def new_chains() -> dict:
            g = torch.Generator().manual_seed(int(seed))
            if start == "validation digits":
                v = binarize_fixed(mn.val.images[torch.randperm(len(mn.val), generator=g)[:n]]).reshape(n, -1)
            elif start == "persistent chains" and model.config.persistent:
                v = model.chains[torch.randint(0, len(model.chains), (n,), generator=g)].clone()
            else:
                v = torch.bernoulli(torch.full((n, 784), 0.5), generator=g)
            temperature = {"beta": beta}  # read before every Gibbs step: moving the slider acts on running chains
            gibbs = samplers.gibbs(model, v, g, beta=lambda: temperature["beta"])
            # the chain runs on; the most recent frames are kept, at most limits.MAX_FRAME_DIGITS digits in all
            return {"chain": samplers.Recorder(gibbs, v, energy=model.free_energy, store=torch.uint8, means=True,
                                               max_frames=limits.frames_for(n)), "temperature": temperature}

        def advance(stt: dict) -> None:
            stt["chain"].advance(per_frame)
            if stt["chain"].full:  # the frame limit: stop playing (Play comes back)
                stt["playing"] = False

        ckey = (n, start, int(seed), name, id(model))
        chains = chain_player.chain_state("rbm_chain", ckey, new_chains, autoplay=lessons.go("chains"))
        with settings:
            chains = chain_player.controls(chains, "rbm-chain", "chains", new_chains, lambda: advance(chains),
                                            fps=FPS)
        if chains is not None:
            chains["temperature"]["beta"] = beta
            nrow = math.ceil(math.sqrt(n))

            def explain(stt: dict) -> None:
                chrome.explain(f"Block Gibbs at β = {stt['temperature']['beta']:g}: $h \\sim p_\\beta(h|v)$, "
                               "$v \\sim p_\\beta(v|h)$. Left the means $p(v{=}1|h)$, middle the sampled $v$, right "
                               "each chain's free energy $F(v)$: low $F$ is where the model puts its mass.")

            def play(stt: dict) -> None:
                ch = stt["chain"]
                chain_player.play_batch(
                    stt, ch, lambda: advance(stt), lambda i: picture(ch, i, nrow),
                    lambda i: f"p(v|h) · step {ch.steps[i]} (left), sampled v (middle), free energy of each chain "
                    f"(right), β = {stt['temperature']['beta']:g}", "rbm-chain-flipbook", FPS,
                    f"Playing at {FPS} frames/s: pause for the interactive free energy chart and the frame slider.",
                    BATCH)
                explain(stt)

            def paused(stt: dict) -> None:
                ch = stt["chain"]
                i = chain_player.scrub("rbm-chain", len(ch))
                left, mid, right = st.columns(list(COLS))
                chain_player.frame(left, viz.grid(mean_images(ch, i), nrow=nrow),
                                   caption=f"p(v|h) · step {ch.steps[i]}")
                chain_player.frame(mid, viz.grid(ch.frame(i).reshape(-1, 1, 28, 28), nrow=nrow),
                                   caption=f"sampled v · step {ch.steps[i]}")
                with right:
                    chrome.plot(viz.chain_traces(ch.steps, ch.energies, ch.steps[i], FE[1], FE[2], FE[0]),
                                key="rbm-chain-fe")
                explain(stt)
                if ch.dropped:
                    st.caption(f"Frame {i} of the last {len(ch)} kept (steps {ch.first_step} to {ch.steps[-1]}): "
                               "the chain runs on and older frames are dropped.")

            with view or settings:
                chain_player.chain_view("rbm_chain", play, paused)
            chain_player.gif_download(chains["chain"], lambda ch, i: viz.grid(mean_images(ch, i)),
                                      "rbm-chain.gif", "An animated GIF of p(v|h) over the frames computed so far.")

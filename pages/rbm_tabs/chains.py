"""The RBM page's Gibbs chains tab: block Gibbs chains of the chosen model from noise, digits or the persistent
chains, at an inverse temperature that acts on running chains."""
from __future__ import annotations

import math

import streamlit as st
import torch

from genlib import samplers, viz
from genlib.data import MNIST, binarize_fixed
from pages.rbm_tabs import lessons
from pages.views import chain_player, chrome


def mean_images(ch: samplers.Recorder, i: int) -> torch.Tensor:
    """The Gibbs means p(v|h) of frame i as images [n, 1, 28, 28]: the smooth picture of the chains."""
    return ch.mean(i).reshape(-1, 1, 28, 28)


def render(mn: MNIST, chosen, max_frames: int) -> None:
    """The tab: `chosen()` is (name, model, a sentence saying which model), `max_frames` the longest chain kept."""
    name, model, said = chosen()
    if model is not None:
        st.caption(said)
        # projector mode: the chains' picture above the fold, their settings below it
        view, settings = (st.container(), st.container()) if chrome.projector() else (None, st.container())
        c1, c2, c3, c4, c5 = settings.columns([3, 3, 3, 3, 2])
        n = c1.select_slider("Chains", [16, 25, 36, 49, 64, 81, 100], value=36, key="rbm-n", bind="query-params",
                             help="Number of chains run in parallel.")
        starts = ["uniform noise", "validation digits"] + (["persistent chains"] if model.config.persistent else [])
        start = c2.selectbox("Start from", starts, key="rbm-start", bind="query-params",
                             help="Noise shows generation, digits show how the model holds or leaves the data, the "
                             "persistent chains are where PCD training left its negative samples.")
        per_frame = c3.slider("Steps per frame", 1, 50, 1, key="rbm-per-frame", bind="query-params",
                              help="Gibbs steps between two frames.")
        beta = c4.slider("Inverse temperature β", 0.1, 2.0, 1.0, 0.05, key="rbm-beta", bind="query-params",
                         help="Samples p(v,h) ∝ exp(-β E(v,h)): β < 1 flattens the distribution (more mixing), "
                         "β > 1 sharpens it. Acts on running chains.")
        seed = c5.number_input("Seed", 0, 10_000, 0, key="rbm-seed", bind="query-params",
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
            return {"chain": samplers.Recorder(gibbs, v, energy=model.free_energy, store=torch.uint8, means=True,
                                               max_frames=max_frames), "temperature": temperature}

        def advance() -> None:
            chains["chain"].advance(per_frame)

        ckey = (n, start, int(seed), name, id(model))
        chains = chain_player.chain_state("rbm_chain", ckey, new_chains)
        if chrome.take_autoplay(lessons.go("chains")):  # a lesson: from step 0, playing
            chains = chain_player.restart("rbm_chain", ckey, new_chains)
            chains["playing"] = chains["error"] is None
        with settings:
            chains = chain_player.controls(chains, "rbm-chain", "chains", new_chains, advance)
        if chains is not None:
            chains["temperature"]["beta"] = beta

            def draw_chain(i: int) -> None:
                ch, nrow = chains["chain"], math.ceil(math.sqrt(n))
                left, mid, right = st.columns([2, 2, 3])
                chain_player.frame(left, viz.grid(mean_images(ch, i), nrow=nrow),
                                   caption=f"p(v|h) · step {ch.steps[i]}")
                chain_player.frame(mid, viz.grid(ch.frame(i).reshape(-1, 1, 28, 28), nrow=nrow),
                                   caption=f"sampled v · step {ch.steps[i]}")
                with right:
                    chrome.plot(viz.chain_traces(ch.steps, ch.energies, ch.steps[i], "Gibbs step",
                                                 "free energy F(v)", "Free energy of each chain"),
                                key="rbm-chain-fe")
                chrome.explain(f"Block Gibbs at β = {chains['temperature']['beta']:g}: $h \\sim p_\\beta(h|v)$, "
                               "$v \\sim p_\\beta(v|h)$. Left the means $p(v{=}1|h)$, middle the sampled $v$, right "
                               "each chain's free energy $F(v)$: low $F$ is where the model puts its mass.")
                if ch.full:
                    st.caption(f"The chain holds its maximum of {max_frames} frames; Restart for a new one.")

            with view or settings:
                chain_player.player(chains, "rbm-chain", lambda: len(chains["chain"]), advance, draw_chain,
                                    done=lambda: chains["chain"].full)
            chain_player.gif_download(chains["chain"], lambda ch, i: viz.grid(mean_images(ch, i)),
                                      "rbm-chain.gif", "An animated GIF of p(v|h) over the frames computed so far.")

"""The RBM page's Gibbs chains tab: block Gibbs chains of the chosen model from noise, digits or the persistent
chains, at an inverse temperature that acts on running chains. The chains play as a live view (views.live): each
frame sends the Gibbs means p(v|h) and the sampled v as grey images and each chain's free energy; the browser draws
them side by side, at FPS while playing and at the scrubber's frame while paused."""
from __future__ import annotations

import collections
import math

import streamlit as st
import torch

from genlib import limits, samplers, viz
from genlib.data import MNIST, binarize_fixed
from pages.rbm_tabs import lessons
from pages.views import chain_player, chrome, live, url


FPS = 10  # frames per second while playing (the browser's timer): at 1 step per frame a student can follow a chain
BATCH = 10  # frames per round trip: one a second
WIDTH, GAP, COLS = 940, 16, (2, 2, 3)  # the picture's row at 1400 px wide: p(v|h) | sampled v | free energies
TRACES_HEIGHT = 330  # pixels: the free-energy traces with their axes
# projector mode: the row fits a 1280 x 720 window under the header and the Play row (and its scrubber under it)
PROJECTOR_WIDTH, PROJECTOR_TRACES_HEIGHT = 720, 226
FE = ("Free energy of each chain", "Gibbs step", "free energy F(v)")  # title, x and y axis of the traces


def mean_images(ch: samplers.Recorder, i: int) -> torch.Tensor:
    """The Gibbs means p(v|h) of frame i as images [n, 1, 28, 28]: the smooth picture of the chains."""
    return ch.mean(i).reshape(-1, 1, 28, 28)


def widths(width: int = WIDTH) -> tuple[int, int, int]:
    """The three panels' widths in pixels: COLS shares of `width`, GAP between them."""
    unit = (width - GAP * (len(COLS) - 1)) / sum(COLS)
    w1, w2 = round(unit * COLS[0]), round(unit * COLS[1])
    return w1, w2, width - w1 - w2 - GAP * (len(COLS) - 1)


def scene(n: int) -> dict:
    """The still parts of the picture for n chains: two image grids (square, their title and step under them) and
    the free-energy traces."""
    nrow = math.ceil(math.sqrt(n))
    width, traces_height = (PROJECTOR_WIDTH, PROJECTOR_TRACES_HEIGHT) if chrome.projector() else (WIDTH, TRACES_HEIGHT)
    w1, w2, w3 = widths(width)
    # the means in grey levels (a byte a pixel), the binary samples packed eight pixels to a byte
    grids = [{"kind": "images", "part": part, "dtype": dtype, "title": title, "h": 28, "w": 28, "nrow": nrow,
              "width": w, "height": w + 26}
             for part, dtype, title, w in (("mean", "u1", "p(v|h)", w1), ("v", "b1", "sampled v", w2))]
    traces = {"kind": "traces", "part": "fe", "dtype": "f4", "title": FE[0], "xlabel": FE[1], "ylabel": FE[2],
              "width": w3, "height": traces_height}
    return {"id": f"rbm-gibbs|{n}|{width}", "rows": [[*grids, traces]]}


def frame(stt: dict, k: int) -> dict:
    """Held frame k of the chains: the means and the samples as images, the free energies, the caption (with the β
    that frame was drawn at)."""
    ch = stt["chain"]
    return {"step": int(ch.steps[k]),
            "caption": f"p(v|h) · step {ch.steps[k]} (left), sampled v (middle), free energy of each chain (right), "
                       f"β = {stt['betas'][k]:g}" + (f" · the last {len(ch)} frames kept" if ch.dropped else ""),
            "parts": {"mean": live.images(ch.mean(k)), "v": live.bits(ch.frames[k]),
                      "fe": live.values(ch.energies[k])}}


def render(mn: MNIST, chosen) -> None:
    """The tab: `chosen()` is (name, model, a sentence saying which model)."""
    name, model, said = chosen()
    if model is not None:
        st.caption(said)
        # projector mode: the Play row and the chains' picture above the fold, their settings below it
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
            rec = samplers.Recorder(gibbs, v, energy=model.free_energy, store=torch.uint8, means=True,
                                    max_frames=limits.frames_for(n))
            # the β each kept frame was drawn at: betas[i] goes with the chain's frame i
            return {"chain": rec, "temperature": temperature, "betas": collections.deque([beta])}

        def advance(stt: dict) -> None:
            ch, betas = stt["chain"], stt["betas"]
            ch.advance(per_frame)
            betas.append(stt["temperature"]["beta"])
            while len(betas) > len(ch):  # the chain's window dropped its oldest frame
                betas.popleft()

        ckey = (n, start, int(seed), name, id(model))
        chains = chain_player.chain_state("rbm_chain", ckey, new_chains, autoplay=lessons.go("chains"))
        with view or settings:
            chains = chain_player.controls(chains, "rbm-chain", "chains", new_chains, lambda: advance(chains),
                                            fps=FPS)
        if chains is not None:
            chains["temperature"]["beta"] = beta

            def after(m: str) -> None:  # under the picture, playing or paused
                chrome.explain(f"Block Gibbs at β = {chains['temperature']['beta']:g}: $h \\sim p_\\beta(h|v)$, "
                               "$v \\sim p_\\beta(v|h)$. Left the means $p(v{=}1|h)$, middle the sampled $v$, right "
                               "each chain's free energy $F(v)$: low $F$ is where the model puts its mass.")

            head = (f"Playing at {FPS} frames/s: pause to scrub the frames.",
                    "Paused: scrub the frames with the slider under the picture, or Play.")
            with view or settings:
                live.view(chains, "rbm-chain-live", lambda budget: advance(chains), fps=FPS, batch=BATCH,
                          scene=lambda: scene(n), frames=lambda: (chains["chain"].dropped, len(chains["chain"])),
                          frame=lambda k: frame(chains, k),
                          head=lambda m: "" if chrome.projector() else head[m != "playing"], after=after)
            chain_player.gif_download(chains["chain"], lambda ch, i: viz.grid(mean_images(ch, i)),
                                      "rbm-chain.gif", "An animated GIF of p(v|h) over the frames computed so far.")

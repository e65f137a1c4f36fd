"""The VAE page's "Try this" lessons: each sets the page's controls (widget keys) and starts a run or loads a
checkpoint, in its callback (before the script)."""
from __future__ import annotations

from typing import Callable

import streamlit as st

from pages.views.chrome import Lesson


def lessons(fresh: Callable[[], dict], load: Callable[[str], dict | None]) -> list[Lesson]:
    """The lessons; `fresh()` is a new run's state from the sidebar's settings, `load(name)` a checkpoint's run (or
    None)."""

    def lesson_fresh() -> None:  # a lesson's callback (before the script): a new run with its settings, started
        st.session_state["vae"] = fresh() | {"running": True}

    def lesson_load(name: str, run: bool = False):
        def start() -> None:
            new = load(name)
            if new is not None:
                st.session_state["vae"] = new | {"running": run}
        return start

    return [
        Lesson("β = 4: posterior collapse", "Watch the KL bars: at β = 4 all 8 dimensions stay squeezed towards 0 "
               "nats, under about 1 nat each (q(z_j|x) ≈ prior: collapse; about 3 nats in all even after 300 steps, "
               "where β = 1 holds about 14), and the reconstructions stay blurred blobs. Then set β = 1 and Reset "
               "to compare.",
               {"vae-arch": "MLP (784-512-512)", "vae-latent": 8, "vae-lik": "bernoulli", "vae-warmup": 0,
                "vae-beta": 4.0, "vae-lr": 1e-3, "vae-tab": "Train"}, lesson_fresh),
        Lesson("Latent 2 vs 16", "The 16-D model's reconstructions (rows 2, 4) keep the strokes the 2-D model blurs: "
               "test −IWAE 95.7 nats against 162 for the 2-D conv VAE. To compare, choose vae-conv-2d under Pretrained "
               "(sidebar) and press its Load button.",
               {"vae-ckpt": "vae-mlp-bern-16", "vae-tab": "Train"}, lesson_load("vae-mlp-bern-16")),
        Lesson("Gaussian decoder: 4 of 8 collapse", "The course's Gaussian decoder (variance 1) barely rewards a "
               "sharp mean, so the KL wins: 4 of its 8 KL bars sit at 0 nats (collapsed dimensions).",
               {"vae-ckpt": "vae-mlp-gauss-8", "vae-tab": "Train"}, lesson_load("vae-mlp-gauss-8")),
        Lesson("Click the course's map", "The course figure: the conv VAE's grid over [−1, 1]². Move the mouse to "
               "decode under it, click to pin the pointer; digits change class across the map's regions.",
               {"vae-ckpt": "vae-conv-2d", "vae-tab": "Latent grid", "vae-range": "± scale in z", "vae-scale": 1.0,
                "vae-n": 15}, lesson_load("vae-conv-2d")),
        Lesson("Reparameterisation and the IWAE gap", "Draw a digit: the 16 numbered dots are z = μ + σε from "
               "q(z|x), decoded below; IWAE − ELBO is the KL from q(z|x) to the true posterior, in nats.",
               {"vae-ckpt": "vae-conv-2d", "vae-tab": "Draw", "vae-k": 16, "vae-dzoom": "zoom on q(z|x)"},
               lesson_load("vae-conv-2d")),
    ]

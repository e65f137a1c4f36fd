"""The VAE page's "Try this" lessons: each sets the page's controls (widget keys) and starts a run or loads a
checkpoint, in its callback (before the script)."""
from __future__ import annotations

from dataclasses import replace
from typing import Callable

import streamlit as st

from pages.views.chrome import Lesson


def lessons(load: Callable[[str], dict | None]) -> list[Lesson]:
    """The lessons; `load(name)` is a checkpoint's run (or None)."""

    def lesson_load(name: str, beta: float | None = None):
        """Load the bundled model `name`; with `beta`: train it on at once at that beta beside a companion run from
        the same model at its own beta (the Train tab's side by side, while this run is the one shown)."""
        def start() -> None:
            new, other = load(name), load(name) if beta is not None else None
            if new is None:
                return
            if other is not None:
                model = new["trainer"].model
                model.config = replace(model.config, beta=beta)  # (the sidebar then shows it: the model changed)
                new |= {"running": True, "compare": {"trainer": new["trainer"], "other": other["trainer"], "name": name}}
            st.session_state["vae"] = new
        return start

    return [
        # two runs from one trained start: from scratch, 30 s (about 100 steps) is still the early phase where every
        # bar is near 0 at β = 1 as at β = 4 (and 300 steps took 87 s). From vae-mlp-bern-16 (β = 1, its 16 bars at
        # 0.7 to 2.2 nats) at a learning rate of 0.01, β = 4 squeezes 3 bars under 0.05 nats by step 50, 6 by step 75,
        # 7 by 100, while β = 1 keeps all 16 (the same rate blurs both a little: hence the β = 1 run, not the bundled
        # model as it is)
        Lesson("β = 4: posterior collapse", "Side by side on the Train tab: two runs from the same bundled 16-D model "
               "with the same batches and learning rate (0.01), left at β = 1, right at β = 4. Within 30 s (under 100 "
               "steps) β = 4 squeezes 5 or more of its 16 KL bars under 0.05 nats (collapsed: q(z_j|x) ≈ the prior) "
               "while β = 1 keeps every bar above it, and the β = 4 samples of the same z blur into greyer strokes.",
               {"vae-ckpt": "vae-mlp-bern-16", "vae-lr": 1e-2, "vae-batch": 128, "vae-seed": 0, "vae-tab": "Train"},
               lesson_load("vae-mlp-bern-16", beta=4.0)),
        Lesson("Latent 2 vs 16", "The 16-D model's reconstructions (rows 2, 4) keep the strokes the 2-D model blurs: "
               "test −IWAE 95.7 nats against 162 for the 2-D conv VAE. To compare, choose vae-conv-2d under Pretrained "
               "(sidebar) and press its Load button.",
               {"vae-ckpt": "vae-mlp-bern-16", "vae-tab": "Train", "vae-lr": 1e-3}, lesson_load("vae-mlp-bern-16")),
        Lesson("Gaussian decoder: 4 of 8 collapse", "The course's Gaussian decoder (variance 1) barely rewards a "
               "sharp mean, so the KL wins: 4 of its 8 KL bars sit at 0 nats (collapsed dimensions).",
               {"vae-ckpt": "vae-mlp-gauss-8", "vae-tab": "Train", "vae-lr": 1e-3}, lesson_load("vae-mlp-gauss-8")),
        Lesson("Click the course's map", "The course figure: the conv VAE's grid over [−1, 1]². Move the mouse to "
               "decode under it, click to pin the pointer; digits change class across the map's regions.",
               {"vae-ckpt": "vae-conv-2d", "vae-tab": "Latent grid", "vae-range": "± scale in z", "vae-scale": 1.0,
                "vae-n": 15}, lesson_load("vae-conv-2d")),
        Lesson("Reparameterisation and the IWAE gap", "Draw a digit: the 16 numbered dots are z = μ + σε from "
               "q(z|x), decoded below; the gap IWAE − ELBO (nats, at least 0) is a lower bound on the KL from q(z|x) to "
               "the true posterior p(z|x).",
               {"vae-ckpt": "vae-conv-2d", "vae-tab": "Draw", "vae-k": 16, "vae-dzoom": "zoom on q(z|x)"},
               lesson_load("vae-conv-2d")),
    ]

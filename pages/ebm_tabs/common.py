"""What the EBM page's tabs share: the layout of a tab's slots, chain frames as images, a Langevin step's timing."""
from __future__ import annotations

import math
import time

import streamlit as st
import torch

from genlib import samplers
from genlib.models.ebm import EBM
from pages.views import chrome


def pictures(ch: samplers.Recorder, i: int) -> torch.Tensor:
    """Frame i of a chain as images [n, 1, 28, 28] in [0, 1] (the chains run in [-1, 1])."""
    return (ch.frame(i).reshape(-1, 1, 28, 28) + 1) / 2


def slots():
    """(head, buttons, rest, visual): containers for a tab's settings, its run buttons, the rest of its controls and
    its main visual, in this order; in projector mode the buttons and the visual come first (above the fold at
    1280 x 720) and the settings after them. The page creates the controls first in either case."""
    names = ("buttons", "visual", "head", "rest") if chrome.projector() else ("head", "buttons", "rest", "visual")
    made = {name: st.container() for name in names}
    return made["head"], made["buttons"], made["rest"], made["visual"]


def seconds(x: float) -> str:
    return f"{x:.0f}" if x >= 10 else f"{x:.1f}"


@torch.no_grad()
def langevin_step_seconds(model: EBM, n: int) -> float:
    """Seconds for one Langevin step on n images on this machine now (the best of 3 timed steps)."""
    g = torch.Generator().manual_seed(0)
    chain = model.chain(model.noise(n, g), g)
    next(chain)  # warm-up
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        next(chain)
        best = min(best, time.perf_counter() - t)
    return best

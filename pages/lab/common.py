"""What the Langevin lab's chain tabs share: the cached targets, colours, and the flipbook batch player."""
from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np
import streamlit as st

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from pages.views.flipbook import flipbook

FPS = 12  # frames per second the browser shows while the chains play (its own timer, see views.flipbook)
BATCH = 6  # frames computed per round trip while playing: the browser asks for the next batch as it plays one
MAX_FRAMES = 600
SIGMA_MAX = 10.0  # the largest noise σ a control takes: the targets live within |x| < 6, and σ = 10 already scatters
# every chain off the picture in one step (unbounded, σ = 1e300 overflowed T = σ²/(2η) and took the controls down)
COLORS = {"ULA": "#d62728", "MALA": "#1f77b4", "SGD": "#7f7f7f", "SGLD": "#2ca02c", "full-batch Langevin": "#9467bd"}


@st.cache_resource
def target_and_grids(name: str):
    """(target, fine grid for the distances, coarse grid for drawing); shared, read-only."""
    t = D.WellingTehPosterior() if name == D.WellingTehPosterior.name else D.make_target(name)
    return t, t.grid(240), t.grid(60)


@st.cache_resource
def background(name: str) -> np.ndarray:
    """The exact density of target `name` as the RGB background of the raster frames (computed once)."""
    return viz.density_image(target_and_grids(name)[0])


def ess_x1(rec: S.Recorder) -> float:
    """ESS of x1 over the second half of the recorded frames (at most 100), pooled over the live chains."""
    n = len(rec.frames)
    if n < 8:
        return float("nan")
    start = max(n // 2, n - 100)
    return S.ess(rec.trace(start)[:, :, 0])


def fmt(v, spec: str = ".3g") -> str:
    """A number for a caption or metric; "–" for None, NaN or infinity."""
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def play_batch(state: dict, names: tuple[str, ...], target_name: str, advance: Callable[[], None],
               caption: Callable[[int], str], key: str, head: str) -> None:
    """While playing: the next BATCH frames of the named chains side by side, one image per frame, as one
    flipbook batch (views.flipbook). `advance()` moves every chain one frame, `caption(i)` describes frame i.
    The interactive charts and the scrub slider come back on pause."""
    t0 = time.perf_counter()
    target, bg, ref = target_and_grids(target_name)[0], background(target_name), state[names[0]]
    first, frames, captions = len(ref.frames), [], []
    while state["playing"] and len(frames) < BATCH:
        advance()
        i = len(ref.frames) - 1
        frames.append(viz.panels([viz.raster_frame(bg, target.extent, state[n].frames, i, COLORS[n]) for n in names],
                                 list(names)))
        captions.append(caption(i))
    if not state["playing"]:  # the frame limit: show the paused view (and the Play button) at the last frame
        st.rerun()
    flipbook(frames, captions, first, str(id(ref)), key, FPS, head=(
        f"{head} Server: {1000 * (time.perf_counter() - t0) / max(len(frames), 1):.0f} ms per frame."))


def chain_view(name: str, play: Callable[[dict], None], warn: Callable[[dict], None],
               paused: Callable[[dict], None]) -> None:
    """A tab's chains view, st.session_state[name], as a fragment with no timer: while playing, the browser's
    flipbook asks for the next batch of frames (play); warnings about dead chains (warn) show either way, the
    interactive charts (paused) only on pause."""

    @st.fragment
    def view() -> None:
        state = st.session_state[name]
        if state.get("error"):
            return
        if state["playing"]:
            play(state)
        warn(state)
        if not state["playing"]:
            paused(state)

    view()

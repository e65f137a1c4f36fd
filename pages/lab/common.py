"""What the Langevin lab's chain tabs share: the cached targets, colours, metrics, and the live view of 2-D chains."""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import numpy as np
import streamlit as st

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from pages.lab import scene
from pages.views import chrome, live

FPS = 30  # frames per second the browser shows while the chains play (its own timer, see views.live)
BATCH = 15  # frames computed per ask (half a second): the browser asks for the next batch while it plays this one
FRAME_WIDTH = 940  # pixels: the width of the paused charts' row at 1400 px wide (the image shows 1:1 there, scaled
# to fit elsewhere): the panels side by side, the marginals strip under them
GAP = 16  # between two panels, and between the panels and the marginals: Streamlit's gap between columns and elements
SIGMA_MAX = 10.0  # the largest noise σ a control takes: the targets live within |x| < 6, and σ = 10 already scatters
# every chain off the picture in one step (unbounded, σ = 1e300 overflowed T = σ²/(2η) and took the controls down)
# colour-blind-safe (viz.PALETTE, Okabe & Ito): vermillion, blue, black, bluish green, reddish purple
COLORS = {"ULA": viz.PALETTE[3], "MALA": viz.PALETTE[0], "SGD": viz.PALETTE[7], "SGLD": viz.PALETTE[2],
          "full-batch Langevin": viz.PALETTE[4]}


@st.cache_resource
def target_and_grids(name: str):
    """(target, fine grid for the distances, coarse grid for drawing); shared, read-only."""
    t = D.WellingTehPosterior() if name == D.WellingTehPosterior.name else D.make_target(name)
    return t, t.grid(240), t.grid(60)


def projector_first():
    """Where a tab draws its Play/Step row and its picture: in projector mode a container above the lessons and the
    controls (the main visual above the fold at 1280 x 720), else in order (a no-op context)."""
    return st.container() if chrome.projector() else contextlib.nullcontext()


def head_caption(text: str) -> None:
    """The paused view's head line (the live view's head while playing); none in projector mode (the picture first)."""
    if not chrome.projector():
        st.caption(text)


def panel_width(n: int) -> int:
    """Width of each of n panels side by side in a FRAME_WIDTH frame."""
    return (FRAME_WIDTH - GAP * (n - 1)) // n


def ess_x1(rec: S.Recorder) -> float:
    """ESS of x1 over the second half of the recorded frames (at most 100), pooled over the live chains."""
    n = len(rec.frames)
    if n < 8:
        return float("nan")
    start = max(n // 2, n - 100)
    return S.ess(rec.trace(start)[:, :, 0])


def fmt(v, spec: str = ".3g") -> str:
    """A number for a caption or metric; "—" for None, NaN or infinity."""
    return "—" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def kl_live(samples, fine) -> tuple[float, int]:
    """(KL of the live chains' histogram to the exact density, number of live chains): dead chains (NaN rows) are
    left out; with no live chain the KL is undefined (NaN, shown as "—"), never 0."""
    s = np.asarray(samples, dtype=np.float64)
    live = int(np.isfinite(s).all(1).sum())
    return (S.kl_to_grid(s, fine) if live else float("nan")), live


def kl_text(kl: float, live: int, total: int) -> str:
    """A KL for a caption: "—" with the reason when no chain is live, the live count when some are dead."""
    if live == 0:
        return "— (no live chains)"
    return fmt(kl, ".3f") + ("" if live == total else f" ({live} of {total} chains live)")


def play(state: dict, names: tuple[str, ...], target_name: str, advance: Callable[[], None],
         caption: Callable[[int], str], key: str, head: Callable[[bool], str], titles: tuple[str, ...] | None = None,
         labels: tuple[str, str] = ("x₁", "x₂"), marginals: bool = False,
         after: Callable[[str], None] | None = None, draw: Callable[[], None] | None = None) -> None:
    """The named chains of `state` (samplers.Recorder each, recorded together) as a live view (views.live): the
    panels side by side over the exact density and, if asked, the marginals under them, played by the browser at FPS
    and scrubbed there when paused. `advance()` moves every chain one frame, `caption(k)` is held frame k's metrics
    line, `head(playing)` the line above the picture (none in projector mode), `after(mode)` what goes under it,
    `draw()` what goes above it (warnings), every run."""
    target, fine, _ = target_and_grids(target_name)
    recs = {n: state[n] for n in names}
    first = recs[names[0]]
    live.view(state, key, lambda budget: advance(), fps=FPS, batch=BATCH,
              scene=lambda: scene.scene(target, fine, names, titles or names, COLORS, FRAME_WIDTH, GAP, labels,
                                        marginals),
              frames=lambda: (first.dropped, len(first)), frame=lambda k: scene.frame(recs, k, caption(k)),
              head=lambda m: "" if chrome.projector() else head(m == "playing"), after=after, draw=draw)

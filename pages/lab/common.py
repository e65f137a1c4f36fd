"""What the Langevin lab's chain tabs share: the cached targets, colours, and the flipbook batch player."""
from __future__ import annotations

import contextlib
import math
from typing import Callable

import numpy as np
import streamlit as st

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from pages.views import chain_player, chrome
from pages.views.chain_player import BATCH

FPS = 24  # frames per second the browser shows while the chains play (its own timer, see views.flipbook)
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


@st.cache_resource
def background(name: str, title: str, labels: tuple[str, str], width: int):
    """The still part of a playing chain panel (computed once per target, title and width): the exact density of
    target `name` with the axes of the paused chart (viz.raster_axes). Returns (canvas, plot box)."""
    return viz.raster_axes(target_and_grids(name)[0], title, labels, (viz.RASTER_PANEL[0], width))


def projector_first():
    """Where a tab draws its Play/Step row and its picture: in projector mode a container above the lessons and the
    controls (the main visual above the fold at 1280 x 720), else in order (a no-op context)."""
    return st.container() if chrome.projector() else contextlib.nullcontext()


@st.cache_resource
def marginals_background(name: str, names: tuple[str, ...], labels: tuple[str, str], width: int) -> np.ndarray:
    """The still part of the playing marginals strip (axes, ticks, legend, exact marginals), drawn once: the
    strip of viz.marginals_raster with no samples (all NaN)."""
    target, fine, _ = target_and_grids(name)
    none = {n: np.full((1, 2), np.nan) for n in names}
    return viz.marginals_raster(fine, none, target.extent, COLORS, width, labels=labels)


def head_caption(text: str) -> None:
    """The paused view's head line (the flipbook's head while playing); none in projector mode (the picture first)."""
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


def frame_parts(target_name: str, names: tuple[str, ...], titles: tuple[str, ...],
                labels: tuple[str, str] = ("x₁", "x₂"), marginals: bool = False) -> dict:
    """What every frame of a batch shares, looked up once per batch (each cached lookup hashes its arguments):
    the target, the fine grid, each panel's still part and plot box, and the marginals strip's still part."""
    target, fine, _ = target_and_grids(target_name)
    w = panel_width(len(names))
    parts = {"target": target, "fine": fine, "names": names, "labels": labels,
             "panels": [background(target_name, title, labels, w) for title in titles], "marginals": None}
    if marginals:
        parts["marginals"] = marginals_background(target_name, names, labels, w * len(names) + GAP * (len(names) - 1))
    return parts


def render_frame(state: dict, parts: dict, i: int) -> np.ndarray:
    """Frame i while playing, laid out as the paused view: the chains' panels side by side with the paused charts'
    axes, titles and density, and (if parts has them) the marginals strip under them (nothing moves on Play/Pause)."""
    target, names = parts["target"], parts["names"]
    pics = [viz.raster_frame(canvas, target.extent, state[n].frames, i, COLORS[n], box)
            for n, (canvas, box) in zip(names, parts["panels"])]
    img = viz.panels(pics, None, gap=GAP)
    if parts["marginals"] is not None:
        strip = viz.marginals_raster(parts["fine"], {n: state[n].frames[i] for n in names}, target.extent, COLORS,
                                     img.shape[1], labels=parts["labels"], background=parts["marginals"])
        img = np.concatenate([img, np.full((GAP, img.shape[1], 3), 255, np.uint8), strip], 0)
    return img


def play_batch(state: dict, names: tuple[str, ...], target_name: str, advance: Callable[[], None],
               caption: Callable[[int], str], key: str, head: str, titles: tuple[str, ...] | None = None,
               labels: tuple[str, str] = ("x₁", "x₂"), marginals: bool = False) -> None:
    """While playing: the next BATCH frames of the named chains (render_frame: the paused view's layout, with axes
    and, if asked, the marginals) as one flipbook batch at FPS (chain_player.play_batch). `advance()` moves every
    chain one frame, `caption(i)` is frame i's metrics line. The interactive charts and the scrub slider come back
    on pause."""
    parts = frame_parts(target_name, names, titles or names, labels, marginals)
    chain_player.play_batch(state, state[names[0]], advance, lambda i: render_frame(state, parts, i), caption, key,
                            FPS, head, BATCH)

"""The Langevin lab's chain pictures as live-view data (views.live): the still parts once per run (each target's
exact density as an image, the axes' ranges, the exact marginals), and per frame only the chains' positions."""
from __future__ import annotations

import base64
import io

import numpy as np
import streamlit as st
from PIL import Image

from genlib import viz
from pages.views import live

PANEL_HEIGHT = 380  # pixels: one chain panel with its axes, as the paused charts were
MARGINALS_HEIGHT = 260
BOX = (56, 12, 30, 44)  # left, right, top, bottom pixels around a panel's plot area (live.js draws the axes there)


@st.cache_resource
def density_url(name: str, _target, width: int, height: int) -> str:
    """The exact density of the target `name` (`_target`, not hashed) over its extent, white to blue, as a PNG data URL `width` x `height` pixels
    (the plot area of a panel): sent to a browser once per run."""
    buf = io.BytesIO()
    Image.fromarray(viz.density_image(_target, (height, width))).save(buf, "PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def scene(target, fine, names: tuple[str, ...], titles: tuple[str, ...], colors: dict[str, str], width: int,
          gap: int, labels: tuple[str, str] = ("x₁", "x₂"), marginals: bool = False) -> dict:
    """The still parts of the picture: one "points" panel per chain set (`names`, drawn side by side in `width`
    pixels with `gap` between them) over the exact density, and (if asked) the "marginals" strip under them: the
    histograms of x₁ and x₂ of every chain set against the exact marginals of `fine` (a densities.Grid)."""
    w = (width - gap * (len(names) - 1)) // len(names)
    bw, bh = w - BOX[0] - BOX[1], PANEL_HEIGHT - BOX[2] - BOX[3]
    bg = density_url(target.name, target, bw, bh)
    extent = [float(e) for e in target.extent]
    rows = [[{"kind": "points", "part": n, "dtype": "f4", "title": t, "extent": extent, "labels": list(labels),
              "color": colors[n], "bg": bg, "trails": viz.CHAIN_TRAILS, "trail_frames": viz.TRAIL_FRAMES,
              "points": viz.CHAIN_POINTS, "width": w, "height": PANEL_HEIGHT} for n, t in zip(names, titles)]]
    if marginals:
        px, py = fine.marginals()
        rows.append([{"kind": "marginals", "of": list(names), "colors": {n: colors[n] for n in names},
                      "extent": extent, "labels": list(labels), "bins": 40, "ymax": list(viz.marginal_ranges(fine)),
                      "exact": [{"x": np.round(fine.xs, 4).tolist(), "p": np.round(px, 5).tolist()},
                                {"x": np.round(fine.ys, 4).tolist(), "p": np.round(py, 5).tolist()}],
                      "width": width, "height": MARGINALS_HEIGHT}])
    return {"id": f"{target.name}|{'|'.join(titles)}|{width}|{marginals}", "rows": rows}


def frame(recorders: dict, k: int, caption: str) -> dict:
    """Frame k of the chain sets {name: samplers.Recorder} (recorded together): their positions, the step, a caption."""
    first = next(iter(recorders.values()))
    return {"step": int(first.steps[k]), "caption": caption,
            "parts": {n: live.points(r.frames[k]) for n, r in recorders.items()}}

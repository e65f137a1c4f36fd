"""The latent map: a small browser component that draws a 2-D latent space (a decoded grid or the encoder means of
digits, with marks such as a pointer, a posterior's mean and 1-sigma ellipse, samples, a path), decodes under the
mouse with no server round trip, and reports a click as the z under it.

Hover: the server decodes a fine n x n grid once per model (the page caches it) and sends it as ONE image atlas
(a PNG data URL, cells of 28 x 28 pixels, rows with z[y] decreasing: genlib.models.vae.decode_grid); the browser
shows the cell nearest to the cursor, once per animation frame (requestAnimationFrame), with its z. The root element
counts the hover frames it drew (data-hover-frames), which the browser test and the bench read.
Click: a trigger value {"x": z_x, "y": z_y, "n": clicks so far} that reruns the script; the page's on_click callback
(it runs before the script) reads it with `clicked(key)`.
The browser side is latent_map.js and latent_map.css next to this file.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Callable

import numpy as np
import streamlit as st
from PIL import Image

from genlib import viz

# the browser side: the component's JavaScript and CSS, read once at import
_JS = Path(__file__).with_suffix(".js").read_text()
_CSS = Path(__file__).with_suffix(".css").read_text()

_component = st.components.v2.component("genlib_latent_map", js=_JS, css=_CSS, isolate_styles=False)


def png_data_url(img: np.ndarray) -> str:
    """A grey image (H, W) float in [0, 1] as a PNG data URL (lossless: the hover cells are the decodings)."""
    buf = io.BytesIO()
    Image.fromarray(viz.to_uint8(img)).save(buf, "PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def atlas(img: np.ndarray, xs, ys=None) -> dict:
    """The hover atlas: a decoded n x n grid `img` (n*28, n*28) whose cell centres sit at `xs` across and `ys` up
    (evenly spaced; ys defaults to xs; rows top to bottom with z[y] decreasing, as decode_grid composes it)."""
    x = [float(v) for v in xs]
    y = x if ys is None else [float(v) for v in ys]
    assert len(x) == len(y), "a square atlas: as many cells across as up"
    return {"src": png_data_url(img), "n": len(x), "extent": [x[0], x[-1], y[0], y[-1]]}


def background(img: np.ndarray, xs, ys) -> dict:
    """A decoded grid to draw as the map itself: cell (row j, column i) at z = (xs[i], ys[-1 - j]), each cell over the
    z rectangle between the midpoints of its neighbours (so prior-quantile axes are drawn at their true z)."""
    return {"src": png_data_url(img), "xs": [float(v) for v in xs], "ys": [float(v) for v in ys][::-1]}


def clicked(key: str) -> dict | None:
    """In an on_click callback: the click just reported, {"x": z_x, "y": z_y, "n": ...}, else None."""
    value = st.session_state.get(key)
    try:
        return value.get("click") if value is not None else None
    except AttributeError:
        return None


def latent_map(key: str, *, extent: tuple[float, float, float, float], dims: tuple[int, int], title: str,
               atlas: dict | None = None, background: dict | None = None, points: tuple | None = None,
               marks: list[dict] = (), rings: bool = True, on_click: Callable[[], None] | None = None,
               max_size: int = 560, cell_px: int = 168, projector: bool = False,
               hint: str = "") -> None:
    """Draw the map. `extent` = (x0, x1, y0, y1) in z; `points` = (codes [N, 2] array, labels [N]) drawn as dots
    coloured by digit; `marks`: dicts of type rect | line | path | cross | star | dots (see the JS); `on_click`
    (optional) makes a click report its z (read it in the callback with clicked(key)). With an atlas, the side panel
    shows the digit under the mouse; with the mouse off the map, the digit at the cross mark (the pinned point) if
    there is one, else a hint to hover in its place. `hint`: a line under it then (what a click does)."""
    pts = None
    if points is not None:
        codes, labels = np.asarray(points[0], dtype=float), np.asarray(points[1]).astype(int)
        pts = {"x": np.round(codes[:, 0], 3).tolist(), "y": np.round(codes[:, 1], 3).tolist(), "c": labels.tolist()}
    scale = 1.5 if projector else 1.0
    _component(key=key, on_click_change=on_click or (lambda: None), data={
        "extent": [float(v) for v in extent], "atlas": atlas, "background": background, "points": pts,
        "colors": viz.DIGIT_COLORS, "marks": list(marks), "rings": [1, 2, 3] if rings else None,
        "xlabel": f"z[{dims[0]}]", "ylabel": f"z[{dims[1]}]", "title": title, "clickable": on_click is not None,
        "side_title": "under the mouse (decoded in your browser)" if atlas else "", "hint": hint,
        "cell_hint": "Move the mouse over the map: the digit decoded there shows here.",
        "max_size": int(max_size * scale), "cell_px": int(cell_px * scale), "font": 16 if projector else 12})

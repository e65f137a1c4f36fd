"""Digit input: draw a digit on a canvas or upload an image; either becomes an MNIST-style digit [1, 1, 28, 28] in
[0, 1] (cropped, scaled to 20 x 20, centred by mass: genlib.data)."""
from __future__ import annotations

import numpy as np
import streamlit as st
import torch

from genlib import data as gdata

UPLOAD_HELP = ("PNG, JPEG, GIF, BMP, WebP, ...: it is converted to grey, inverted if the ink is dark, cropped, scaled "
               "to 20 × 20 and centred as MNIST digits are.")


def drawing(key: str, size: int) -> tuple[torch.Tensor | None, str | None]:
    """A black canvas (size x size pixels) to draw on in white. Returns (the digit, None) once there is ink,
    (None, a message) for a drawing that cannot be used, else (None, None). When the canvas component cannot load,
    a warning instead: the page stays usable with uploads."""
    try:
        from streamlit_drawable_canvas import st_canvas

        cv = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000", height=size, width=size,
                       drawing_mode="freedraw", return_image_data=True, key=key)
    except Exception as e:  # noqa: BLE001 - any failure of the component: say so, keep the page
        st.warning(f"The drawing canvas is not available here ({type(e).__name__}); upload an image instead.")
        return None, None
    rgba = cv.image_data if cv is not None else None
    if rgba is None or np.asarray(rgba)[..., :3].max() <= 50:  # no ink yet
        return None, None
    try:
        return gdata.canvas_to_digit(rgba), None
    except ValueError as e:
        return None, f"Could not use the drawing: {e}."


def upload(key: str, label: str = "... or upload an image (any size or format)", help: str = UPLOAD_HELP
           ) -> tuple[torch.Tensor | None, str | None]:
    """A file uploader for a picture of a digit. Returns (the digit, None), (None, a message naming the file and the
    problem) or (None, None) before an upload."""
    up = st.file_uploader(label, key=key, help=help)
    if up is None:
        return None, None
    try:
        return gdata.image_to_digit(up.getvalue()), None
    except ValueError as e:
        return None, f"Could not use the file {up.name}: {e}."

"""Digit input: draw a digit on a canvas or upload an image; either becomes an MNIST-style digit [1, 1, 28, 28] in
[0, 1] (cropped, scaled to 20 x 20, centred by mass: genlib.data)."""
from __future__ import annotations

import math
from typing import Callable

import numpy as np
import streamlit as st
import torch

from genlib import data as gdata, limits

UPLOAD_HELP = ("PNG, JPEG, GIF, BMP, WebP, ...: it is converted to grey, inverted if the ink is dark, cropped, scaled "
               "to 20 × 20 and centred as MNIST digits are.")


def drawing(key: str, size: int) -> tuple[torch.Tensor | None, str | None]:
    """A black canvas (size x size pixels) to draw on in white. Returns (the digit, None) once there is ink,
    (None, a message) for a drawing that cannot be used, else (None, None). When the canvas component cannot load,
    a warning instead: the page stays usable with uploads."""
    try:
        from streamlit_drawable_canvas import st_canvas

        # the canvas's toolbar (undo, redo, clear) floats 2.65rem above it on hover: room for it inside this
        # element, so that on hover it never covers the tab labels above
        st.html(f"<style>.st-key-{key}-box {{ padding-top: 3rem; }}</style>")
        with st.container(key=f"{key}-box"):
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


IMAGE_MB = math.ceil(limits.MAX_IMAGE_BYTES / 2**20)  # Streamlit's unit for uploads is the MiB


def upload(key: str, label: str = "... or upload an image (PNG, JPEG, ...; up to 4096 × 4096 pixels)", help: str = UPLOAD_HELP
           ) -> tuple[torch.Tensor | None, str | None]:
    """A file uploader for a picture of a digit. Returns (the digit, None), (None, a message naming the file and the
    problem) or (None, None) before an upload. The outcome is kept per uploaded file: a rerun does not decode it again."""
    up = st.file_uploader(label, key=key, max_upload_size=IMAGE_MB, help=f"{help} At most "
                          f"{limits.MAX_IMAGE_BYTES / 1e6:g} MB ({IMAGE_MB} MiB) and {limits.MAX_IMAGE_PIXELS:,} pixels (4096 × 4096).")
    if up is None:
        return None, None
    held = st.session_state.get(f"{key}-digit")
    if held is None or held[0] != up.file_id:
        held = (up.file_id, *image_digit(up.name, up.size, up.getvalue))
        st.session_state[f"{key}-digit"] = held
    return held[1], held[2]


def image_digit(name: str, size: int, read: Callable[[], bytes]) -> tuple[torch.Tensor | None, str | None]:
    """(the digit, None) or (None, a message naming the file and the problem) for an uploaded image of `size` bytes;
    read() gives its bytes and is called only within the size limit. genlib.data.image_to_digit reads the image's
    size from its header and refuses too many pixels before decoding (a decompression bomb costs nothing)."""
    if size > limits.MAX_IMAGE_BYTES:
        return None, (f"Could not use the file {name}: it has {size / 1e6:,.1f} MB, over the limit of "
                      f"{limits.MAX_IMAGE_BYTES / 1e6:g} MB for images (genlib.limits.MAX_IMAGE_BYTES).")
    try:
        return gdata.image_to_digit(read()), None
    except ValueError as e:
        return None, f"Could not use the file {name}: {e}."
    except Exception as e:  # noqa: BLE001 - whatever else the image decoder raises: a message, not a traceback
        return None, f"Could not use the file {name}: the image cannot be read ({type(e).__name__}: {str(e)[:200]})."

"""The chain player: chains kept in session state, the Play/Pause · Step · Restart row (and the space bar; Replay once
finished chains are at their end), images sent inline, and the GIF export. The chains play through views.live: the
browser keeps their frames, plays them and scrubs them."""
from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from genlib import viz
from pages.views import chrome, live, untrusted


def chain_state(name: str, key: tuple, build: Callable[[], dict], autoplay: str = "") -> dict:
    """st.session_state[name], rebuilt with build() when the settings `key` change; impossible settings (a
    ValueError from the library) are kept as {"error": message} for the page to show. `autoplay`: a lesson's flag
    (chrome.Lesson): once raised, fresh chains from build() with the lesson's settings, playing.

    Fields: name, key, playing, error, and whatever build() returns (the chains)."""
    state = st.session_state.get(name)
    if autoplay and chrome.take_autoplay(autoplay):
        state = restart(name, key, build)
        state["playing"] = state["error"] is None
    elif state is None or state["key"] != key:
        state = restart(name, key, build)
    return state


def restart(name: str, key: tuple, build: Callable[[], dict]) -> dict:
    """New chains from build() in a new dict, stored as st.session_state[name] and returned (not playing).

    A new dict, never the old one changed in place: a run that is still drawing the old chains (a fragment run that
    a click interrupts only at its next Streamlit call, or the thread that Streamlit's fast reruns leave running while
    the click's run starts) goes on with the old chains and their own frame count. Changed in place, it indexed the
    frames of the new, shorter chains (IndexError under load, several sessions clicking at once)."""
    try:
        state = {"name": name, "key": key, "playing": False, "error": None, **build()}
    except ValueError as e:
        state = {"name": name, "key": key, "playing": False, "error": str(e)}
    st.session_state[name] = state
    return state


def controls(state: dict, key: str, what: str, build: Callable[[], dict], advance: Callable[[], None],
             fps: float | None = None, finished: Callable[[dict], bool] = lambda s: False) -> dict | None:
    """The settings' error, or the Play/Pause · Step · Restart row (views.live.buttons, outside any fragment; buttons
    f"{key}-play", f"{key}-step", f"{key}-restart"). Restart replaces the chains by build()'s (see `restart`), Step
    calls advance(), and Play on finished chains (`finished(state)`) reads Replay: new chains from the same seed,
    playing. `fps`: the frame rate the browser plays at, for the help text.
    Returns the chains' state to show (a new dict after Restart), or None when there are no chains to show."""
    if state["error"]:
        untrusted.error(f"Cannot run these settings: {state['error']}.")
        return None
    play_help = (f"Run the {what}, one frame per tick." if fps is None else f"Run the {what}: the browser shows "
                 f"{fps:g} frames per second while the server computes the next ones.")
    play_help += " The space bar plays and pauses too (when no text field has the focus)."
    step, again, replay = live.buttons(
        state, "playing", (f"{key}-play", f"{key}-step", f"{key}-restart"), ("Play", "Restart"),
        (play_help, "Advance one frame (the steps per frame set above).", "Start the chains again from the same seed."),
        space=f"{key}-space", finished=finished(state))
    if again or replay:
        state = restart(state["name"], state["key"], build)
        if state["error"]:
            untrusted.error(f"Cannot run these settings: {state['error']}.")
            return None
        if replay:
            state["playing"] = True
            st.rerun()
    if step and not finished(state):
        advance()
    return state


def frame(container, img: np.ndarray, caption: str | None = None, width="stretch") -> None:
    """container.image of a grey image in [0, 1] (or uint8, grey or RGB) sent inline as a PNG data URL: use it for
    every image that a live fragment redraws.

    st.image of an array stores the file in Streamlit's media store and sends its URL; a fragment rerun that draws a
    new image at the same place replaces the session's reference, and the end of any session's run then deletes the
    old file (runtime.media_file_manager.remove_orphaned_files: media files go at once). A browser that had not yet
    loaded, or re-mounts, the previous frame asks for a file already gone: "Image source error - /media/<hash>.jpg"
    and a broken image under fast reruns (Pause, a new β, Play). A data URL travels in the message itself: nothing to
    fetch, nothing to lose. PNG: lossless for binary digits, a few kB for a grid of 100."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = viz.to_uint8(a)
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=1)  # level 1: ~3x faster than the default, about as small here
    container.image("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode(), caption=caption, width=width)


def gif_download(chain, picture: Callable[[object, int], np.ndarray], file_name: str, help: str) -> None:
    """An "Export chain as GIF" button once `chain` (a samplers.Recorder) has two frames or more; picture(chain, i) is
    frame i as a grey image in [0, 1], and the GIF is made at the click, on a server thread of its own: from this
    chain and the frames it had when the button was drawn (a Restart since then does not change what it reads)."""
    n_frames = len(chain)
    if n_frames > 1:
        st.download_button("Export chain as GIF", lambda: viz.gif_bytes([picture(chain, i) for i in range(n_frames)]),
                           file_name=file_name, mime="image/gif", on_click="ignore", icon=":material/movie:", help=help)

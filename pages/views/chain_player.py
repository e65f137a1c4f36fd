"""The chain player: chains kept in session state, the Play/Pause · Step · Restart row, a frame scrubber, and a
fragment that advances one frame per browser tick while playing (used by the RBM, EBM and Langevin pages)."""
from __future__ import annotations

from typing import Callable

import numpy as np
import streamlit as st

from genlib import viz
from pages.views.training import run_buttons


def chain_state(name: str, key: tuple, build: Callable[[], dict]) -> dict:
    """st.session_state[name], rebuilt with build() when the settings `key` change; impossible settings (a
    ValueError from the library) are kept as {"error": message} for the page to show.

    Fields: name, key, playing, error, and whatever build() returns (the chains)."""
    state = st.session_state.get(name)
    if state is None or state["key"] != key:
        state = restart(name, key, build)
    return state


def restart(name: str, key: tuple, build: Callable[[], dict]) -> dict:
    """New chains from build() in a new dict, stored as st.session_state[name] and returned (not playing).

    A new dict, never the old one changed in place: a run that is still drawing the old chains (a fragment run that
    a click interrupts only at its next Streamlit call, or the thread that Streamlit's fast reruns leave running while
    the click's run starts) goes on with the old chains and their own frame count. Changed in place, it indexed the
    frames of the new, shorter chains (IndexError under load, issue 12)."""
    try:
        state = {"name": name, "key": key, "playing": False, "error": None, **build()}
    except ValueError as e:
        state = {"name": name, "key": key, "playing": False, "error": str(e)}
    st.session_state[name] = state
    return state


def controls(state: dict, key: str, what: str, build: Callable[[], dict], advance: Callable[[], None],
             fps: float | None = None) -> dict | None:
    """The settings' error, or the Play/Pause · Step · Restart row (outside any fragment; buttons f"{key}-play",
    f"{key}-step", f"{key}-restart"). Restart replaces the chains by build()'s (see `restart`), Step calls advance().
    `fps`: the frame rate of a browser flipbook, for the help text (None: one frame per server tick).
    Returns the chains' state to show (a new dict after Restart), or None when there are no chains to show."""
    if state["error"]:
        st.error(f"Cannot run these settings: {state['error']}.")
        return None
    play_help = (f"Run the {what}, one frame per tick." if fps is None else f"Run the {what}: the browser shows "
                 f"{fps:g} frames per second while the server computes the next ones.")
    step, again = run_buttons(state, "playing", (f"{key}-play", f"{key}-step", f"{key}-restart"), ("Play", "Restart"),
                              (play_help, "Advance one frame (the steps per frame set above).",
                               "Start the chains again from the same seed."))
    if again:
        state = restart(state["name"], state["key"], build)
        if state["error"]:
            st.error(f"Cannot run these settings: {state['error']}.")
            return None
    if step:
        advance()
    return state


def scrub(key: str, n_frames: int) -> int:
    """The frame to show: a slider "Frame" over the frames so far, the newest by default (0 with one frame).
    Its key holds the newest index, so a new frame resets the slider to it."""
    last = n_frames - 1
    if last <= 0:
        return 0
    return st.slider("Frame", 0, last, last, key=f"{key}-scrub-{last}",
                     help="Scrub through the frames computed so far (pause first to look around).")


def player(state: dict, key: str, n_frames: Callable[[], int], advance: Callable[[], None],
           draw: Callable[[int], None], every: float = 0.25, done: Callable[[], bool] = lambda: False) -> None:
    """A fragment that, while state["playing"], advances one frame per browser tick (`every` seconds) and stops
    (a full rerun: the Play button turns back) when done(); then draws frame `scrub(key, n_frames())` with
    draw(index). The tick's work stays in `advance`, a plain function that tests call directly."""

    @st.fragment(run_every=every if state["playing"] else None)
    def play() -> None:
        if state["playing"]:
            advance()
            if done():
                state["playing"] = False
                st.rerun()
        draw(scrub(key, n_frames()))

    play()


def gif_download(chain, picture: Callable[[object, int], np.ndarray], file_name: str, help: str) -> None:
    """An "Export chain as GIF" button once `chain` (a samplers.Recorder) has two frames or more; picture(chain, i) is
    frame i as a grey image in [0, 1], and the GIF is made at the click, on a server thread of its own: from this
    chain and the frames it had when the button was drawn (a Restart since then does not change what it reads)."""
    n_frames = len(chain)
    if n_frames > 1:
        st.download_button("Export chain as GIF", lambda: viz.gif_bytes([picture(chain, i) for i in range(n_frames)]),
                           file_name=file_name, mime="image/gif", on_click="ignore", icon=":material/movie:", help=help)

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

    Fields: key, playing, error, and whatever build() returns (the chains)."""
    state = st.session_state.get(name)
    if state is None or state["key"] != key:
        try:
            state = {"key": key, "playing": False, "error": None, **build()}
        except ValueError as e:
            state = {"key": key, "playing": False, "error": str(e)}
        st.session_state[name] = state
    return state


def controls(state: dict, key: str, what: str, build: Callable[[], dict], advance: Callable[[], None],
             fps: float | None = None) -> bool:
    """The settings' error, or the Play/Pause · Step · Restart row (outside any fragment; buttons f"{key}-play",
    f"{key}-step", f"{key}-restart"). Restart rebuilds the chains with build(), Step calls advance(). `fps`: the
    frame rate of a browser flipbook, for the help text (None: one frame per server tick).
    Returns True when there are chains to show."""
    if state["error"]:
        st.error(f"Cannot run these settings: {state['error']}.")
        return False
    play_help = (f"Run the {what}, one frame per tick." if fps is None else f"Run the {what}: the browser shows "
                 f"{fps:g} frames per second while the server computes the next ones.")
    step, restart = run_buttons(state, "playing", (f"{key}-play", f"{key}-step", f"{key}-restart"), ("Play", "Restart"),
                                (play_help, "Advance one frame (the steps per frame set above).",
                                 "Start the chains again from the same seed."))
    if restart:
        state.update(playing=False, **build())
    if step:
        advance()
    return True


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


def gif_download(n_frames: int, picture: Callable[[int], np.ndarray], file_name: str, help: str) -> None:
    """An "Export chain as GIF" button once there are two frames or more; picture(i) is frame i as a grey image
    in [0, 1], and the GIF is made at the click."""
    if n_frames > 1:
        st.download_button("Export chain as GIF", lambda: viz.gif_bytes([picture(i) for i in range(n_frames)]),
                           file_name=file_name, mime="image/gif", on_click="ignore", icon=":material/movie:", help=help)

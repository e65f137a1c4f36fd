"""The chain player: chains kept in session state, the Play/Pause · Step · Restart row (and the space bar), a frame
scrubber, and two ways to play: a fragment that advances one frame per browser tick (`player`, views.ticker), or
batches of frames that the browser plays on its own timer (`chain_view` + `play_batch`, views.flipbook). The browser
asks only while the tab is visible and someone is there, and no faster than the process's fair share allows
(genlib.share)."""
from __future__ import annotations

import base64
import io
import time
from collections.abc import Callable

import numpy as np
import streamlit as st
from PIL import Image

from genlib import viz
from pages.views import chrome, live, setup, ticker, untrusted
from pages.views.flipbook import flipbook
from pages.views.training import run_buttons

BATCH = 12  # frames computed per round trip while a flipbook plays: the browser asks for the next batch as it plays one


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


def scrub(key: str, n_frames: int) -> int:
    """The frame to show: a slider "Frame" over the frames so far, the newest by default (0 with one frame).
    Its key holds the newest index, so a new frame resets the slider to it."""
    last = n_frames - 1
    if last <= 0:
        return 0
    return st.slider("Frame", 0, last, last, key=f"{key}-scrub-{last}",
                     help="Scrub through the frames computed so far (pause first to look around).")


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


def _rate(times: list[float]) -> float:
    """Ticks per second over the recorded tick times (the last few)."""
    return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0


def player(state: dict, key: str, n_frames: Callable[[], int], advance: Callable[[], None],
           draw: Callable[[int], None], every: float = 0.25, done: Callable[[], bool] = lambda: False) -> None:
    """A fragment that, while state["playing"], advances one frame per tick and stops (a full rerun: the Play button
    turns back) when done(); then draws frame `scrub(key, n_frames())` with draw(index). The browser asks for each
    tick (views.ticker) `every` seconds after the previous frame arrived, later when the server is shared
    (genlib.share: the wait keeps this session's busy share at its fair slice), and not at all while the tab is hidden
    or nobody interacted for a few minutes (the status line says so). The tick's work stays in `advance`, a plain
    function that tests call directly."""

    @st.fragment
    def play() -> None:
        status = st.container()  # the status line (ticker) above the frames, filled once the tick is done
        who, share = (ticker.live_id(), key), setup.fair_share()
        state["_runs"] = runs = state.get("_runs", 0) + 1
        note, delay = "", every
        if state["playing"]:
            slow = state.get("_frame_s", 0.0) if len(state.get("_times", [])) > 1 else 0.0  # not torch's warm-up
            if slow > 0.5:  # say what the server is doing while a slow frame is computed (not a frozen page)
                working = status.empty()
                working.caption(f"Computing frame {n_frames()} … (one frame takes about {slow:.1f} s on this machine)")
            t0, c0 = time.perf_counter(), time.thread_time()
            advance()
            spent, busy = time.perf_counter() - t0, time.thread_time() - c0
            state["_frame_s"] = spent if slow == 0 else 0.7 * slow + 0.3 * spent
            if slow > 0.5:
                working.empty()
            if done():
                state["playing"] = False
                share.leave(who)
                st.rerun()
            n = share.enter(who)
            delay = share.delay(spent, every, n, busy)
            times = state["_times"] = (state.get("_times", []) + [time.monotonic()])[-8:]
            rate = _rate(times)
            note = f"Playing: about {rate:.1f} frames/s" if rate else "Playing"
            if state["_frame_s"] > 0.5 and len(times) > 2:
                note += f"; one frame takes about {state['_frame_s']:.1f} s on this machine"
            if n > 1 and delay > max(every - spent, 0) + 1e-3:
                note += f". Shared mode: {n} live sessions, about {rate:.1f} frames/s each"
        else:
            share.leave(who)
            state["_times"] = []
        draw(scrub(key, n_frames()))
        with status:  # last: the browser takes this as the answer, so the next ask waits for the whole redraw
            ticker.ticker(f"{key}-ticker", state["playing"], delay, note, runs)

    play()


def play_batch(state: dict, chain, advance: Callable[[], None], picture: Callable[[int], np.ndarray],
               caption: Callable[[int], str], key: str, fps: float, head: str = "", batch: int = BATCH) -> None:
    """While state["playing"]: up to `batch` frames, each advance() then picture(i) (an RGB uint8 array) and
    caption(i) of the new frame i, sent as one flipbook batch (views.flipbook) that the browser plays at `fps` while
    it asks for the next. `chain`: what len() counts the frames of (its id names the run: new chains start over).
    advance() stops playing at the frame limit: then a full rerun brings back the paused view and the Play button."""
    t0 = time.perf_counter()
    # the number of the batch's first frame counts every frame recorded (a Recorder keeps only its last ones: len()
    # stops growing while the frames go on), so the browser never takes new frames for ones it has shown
    first, frames, captions = getattr(chain, "recorded", len(chain)), [], []
    while state["playing"] and len(frames) < batch:
        advance()
        i = len(chain) - 1
        frames.append(picture(i))
        captions.append(caption(i))
    if not state["playing"]:
        st.rerun()
    spent = time.perf_counter() - t0
    flipbook(frames, captions, first, str(id(chain)), key, fps, spent=spent, head="" if chrome.projector() else (
        f"{head} Server: {1000 * spent / max(len(frames), 1):.0f} ms per frame.").strip())


def chain_view(name: str, play: Callable[[dict], None], paused: Callable[[dict], None],
               warn: Callable[[dict], None] | None = None) -> None:
    """The chains st.session_state[name] as a fragment with no timer: while playing, play(state) (play_batch: the
    browser's flipbook asks for the next batch); on pause, paused(state) (the interactive view). Warnings (warn)
    show either way, first, so the picture starts at the same place playing and paused."""

    @st.fragment
    def view() -> None:
        state = st.session_state[name]
        if state.get("error"):
            return
        with st.container():  # always one element: the flipbook after it keeps its place (no remount)
            if warn is not None:
                warn(state)
        if state["playing"]:
            play(state)
        if not state["playing"]:
            paused(state)

    view()


def gif_download(chain, picture: Callable[[object, int], np.ndarray], file_name: str, help: str) -> None:
    """An "Export chain as GIF" button once `chain` (a samplers.Recorder) has two frames or more; picture(chain, i) is
    frame i as a grey image in [0, 1], and the GIF is made at the click, on a server thread of its own: from this
    chain and the frames it had when the button was drawn (a Restart since then does not change what it reads)."""
    n_frames = len(chain)
    if n_frames > 1:
        st.download_button("Export chain as GIF", lambda: viz.gif_bytes([picture(chain, i) for i in range(n_frames)]),
                           file_name=file_name, mime="image/gif", on_click="ignore", icon=":material/movie:", help=help)

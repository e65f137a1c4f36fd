"""The live view: every view that runs by itself (training of every kind, Gibbs chains, image Langevin chains, the
lab's samplers, SGLD and 2-D EBM) runs through `view`, one loop, and one browser component (live.js).

- The state machine: a view is playing, paused, finished, or paused by the browser because nobody is there ("idle")
  or the tab is hidden ("hidden"). `mode()` reads it from the view's state; the Play button's label (`buttons`) and
  the status line (`status`) are both drawn from it in the same run, so they cannot disagree.
- The transport: the browser asks for work (one request at a time, only while the tab is visible and someone is
  there, not before the fair-share wait); each ask reruns the view's fragment, which advances and answers.
- Frames as data: chain views send what changed (chain states as uint8 images or float32 points, per-chain values,
  a caption), and the still parts of the picture (a density's image, axis ranges) once per run in a `scene`; the
  browser keeps the frames and draws them, at `fps` while playing and at the scrubber's frame while paused, with the
  same code. Training views draw their panels on the server (st elements) and use the component as their ticker.
- Line charts (`chart`): a training view's curves are sent as data (the series) to the same component, which draws
  them on a canvas; nothing of them is drawn on the server.
- The fair share (views.share through setup.fair_share): with several live views in the server, each gets a time
  budget and a wait between asks that keep its CPU use at its slice.
"""
from __future__ import annotations

import base64
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np
import streamlit as st

from genlib import limits
from pages.views import chrome, keys as keyboard, setup

_JS = Path(__file__).with_suffix(".js").read_text()
_CSS = Path(__file__).with_suffix(".css").read_text()
_component = st.components.v2.component("genlib_live", js=_JS, css=_CSS, isolate_styles=False)
IDLE_S = float(os.environ.get("GENLIB_IDLE_S", "180"))  # no input for this long pauses live views (tests set it short)


def live_id() -> str:
    """This session's id for the fair share (views.share): a random token kept in its session state."""
    return st.session_state.setdefault("_live_id", uuid.uuid4().hex)

RESEND = 120  # frames sent again to a browser that lost them (a remount): enough to scrub back a few seconds ...
RESEND_BYTES = 1_500_000  # ... within this many bytes of frame data (a grid of 100 digit chains is 100 kB a frame)


def mode(state: dict, flag: str = "playing", finished: bool = False) -> str:
    """The view's state: "finished" (nothing more to compute), "playing", "idle" or "hidden" (wants to play, the
    browser stopped asking), or "paused"."""
    if finished:
        return "finished"
    if not state.get(flag):
        return "paused"
    return state.get("_why") or "playing"


def idle_text() -> str:
    m = IDLE_S / 60
    span = (f"{m:g} minute{'' if m == 1 else 's'}" if m >= 1 else f"{IDLE_S:g} seconds")
    return f"Paused after {span} without interaction: press Resume to go on."


def status(m: str, note: str = "", what: str = "chains") -> str:
    """The status line of mode `m`; `note` says what a playing view is doing."""
    return {"playing": note or "Playing",
            "paused": f"Paused: press Play or Step to run the {what}, or scrub the frames." if what != "training" else
            "Paused: press Start to train, or Step for one tick.",
            "finished": f"Finished: the {what} reached their last step. Replay runs them again from the same seed.",
            "idle": idle_text(),
            "hidden": "Paused: this tab was hidden. It goes on when the tab is visible again."}[m]


def buttons(state: dict, flag: str, keys: tuple[str, str, str], labels: tuple[str, str], helps: tuple[str, str, str],
            space: str | None = None, finished: bool = False) -> tuple[bool, bool, bool]:
    """The Play/Pause · Step · third button row (outside any fragment): the first button's label comes from mode():
    labels[0] when paused, "Pause" while playing, "Resume" when the browser paused it, "Replay" when finished.
    With `space` (a key) the space bar presses the first button (views.keys.space).
    Returns (Step clicked, third clicked, Replay clicked)."""
    c1, c2, c3 = st.columns(3)
    m = mode(state, flag, finished)
    pressed = False
    if space is not None:
        with c1:
            pressed = keyboard.space(space)
    label, icon = {"playing": ("Pause", "pause"), "paused": (labels[0], "play_arrow"), "idle": ("Resume", "play_arrow"),
                   "hidden": ("Resume", "play_arrow"), "finished": ("Replay", "replay")}[m]
    pressed = c1.button(label, key=keys[0], width="stretch", type="primary", icon=f":material/{icon}:",
                        help=helps[0]) or pressed
    replay = False
    if pressed:
        if m == "finished":
            replay = True
        elif m == "playing":
            state[flag] = False
        else:  # paused, idle or hidden: play (the user is here now)
            state[flag], state["_why"] = True, None
        if not replay:
            st.rerun()
    step = c2.button("Step", key=keys[1], width="stretch", icon=":material/skip_next:", help=helps[1])
    third = c3.button(labels[1], key=keys[2], width="stretch", icon=":material/restart_alt:", help=helps[2])
    return step, third, replay


def points(x) -> str:
    """Chain states [n, 2] (a tensor or array; dead chains NaN) as base64 float32 for a "points" panel."""
    return base64.b64encode(np.ascontiguousarray(np.asarray(x, dtype=np.float32)).tobytes()).decode()


def values(x) -> str:
    """Per-chain values [n] (energies) as base64 float32 for a "traces" panel."""
    return points(np.asarray(x, dtype=np.float32).reshape(-1))


def images(x) -> str:
    """Grey images [n, ...] in [0, 1] (or uint8) as base64 uint8 for an "images" panel."""
    a = np.asarray(x)
    if a.dtype != np.uint8:
        a = (np.clip(a.astype(np.float32), 0, 1) * 255 + 0.5).astype(np.uint8)
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


def bits(x) -> str:
    """Binary images [n, ...] (0/1, e.g. an RBM's sampled v) packed eight pixels to a byte, base64, for an "images"
    panel with dtype "b1": an eighth of `images` (the pixel count per image must be a multiple of 8, as 784 is)."""
    return base64.b64encode(np.packbits(np.asarray(x, dtype=np.uint8).reshape(-1) > 0).tobytes()).decode()


def _on_event(state: dict, key: str) -> None:
    """The browser's event (a callback: it runs before the fragment's body): kept for the run it started."""
    value = st.session_state.get(key)
    ev = value.get("event") if hasattr(value, "get") else None
    state["_event"] = ev.get("what") if isinstance(ev, dict) else None


def _rate(times: list[tuple[float, int]]) -> float:
    """Units (frames or steps) per second over the recorded (time, count) pairs."""
    dt = times[-1][0] - times[0][0] if len(times) > 1 else 0.0
    return (times[-1][1] - times[0][1]) / dt if dt > 0 else 0.0


def view(state: dict, key: str, advance: Callable[[float | None], object], *, flag: str = "playing",
         what: str = "chains", finished: Callable[[], bool] = lambda: False, fps: float = 0.0, batch: int = 1,
         every: float = 0.25, scene: Callable[[], dict] | None = None,
         frames: Callable[[], tuple[int, int]] | None = None, frame: Callable[[int], dict] | None = None,
         draw: Callable[[], None] | None = None, head: Callable[[str], str] | None = None,
         note: Callable[[float, float], str] | None = None, after: Callable[[str], None] | None = None,
         status_first: bool = False) -> None:
    """The live fragment of one view. While state[flag] (and the browser asks): `advance(budget)` for one frame or
    one training tick (`budget`: this view's fair slice in seconds when the server is shared, else None); False
    from it stops the run (a divergence). Up to `batch` frames per ask; with `fps` > 0 the browser plays them at that
    rate while it asks for the next, with fps = 0 it asks `every` seconds after each answer.

    Chain views give `scene()` (the still parts: {"id", "rows": [[panel, ...]]}, see live.js), `frames()` ((absolute
    index of the first frame held, frames held)) and `frame(k)` (the data of held frame k: {"step", "caption",
    "parts"}). Training views give `draw()`, their st panels, drawn every run. `head(mode)`: the line above the
    picture; `note(rate, ms per unit)`: the status line while playing; `after(mode)`: st elements under the picture
    (a paused view's metrics). `status_first`: the component (the status line) above what draw() draws, as a
    training view has it (it is still sent last: the browser's next ask waits for the whole redraw)."""

    @st.fragment
    def run() -> None:
        # one keyed box: while a slow frame or tick is computed, its panels stay as they are (live.css), not greyed
        with st.container(key=f"genlib-live-{key}"):
            ev = state.pop("_event", None)
            if ev in ("idle", "hidden") and state.get(flag) and not state.get("_why"):
                state["_why"] = ev  # the browser stopped asking: the button and the status say so (a full rerun)
                st.rerun(scope="app")
            if ev == "visible" and state.get("_why") == "hidden":
                state["_why"] = None
                st.rerun(scope="app")
            share, who = setup.fair_share(), (live_id(), key)
            m = mode(state, flag, finished())
            top = st.container() if status_first else contextlib.nullcontext()
            slow = st.empty()
            gap, spent, done = 0.0, 0.0, 0
            if m == "playing" and ev in (None, "more"):
                per = state.get("_unit_s", 0.0)
                if per > 0.5:  # say what the server is doing while a slow frame or step is computed
                    unit = "tick" if what == "training" else "frame"
                    slow.caption(f"Computing … (one {unit} takes about {per:.1f} s on this machine)")
                budget, n = share.budget(who, 1.0, every if fps <= 0 else batch / fps)
                t0, c0 = time.perf_counter(), time.thread_time()
                stop = False
                while done < batch and not stop:
                    stop = advance(budget if n > 1 else None) is False or finished()
                    done += 1
                spent, busy = time.perf_counter() - t0, min(time.thread_time() - c0, time.perf_counter() - t0)
                slow.empty()
                state["_unit_s"] = spent / done if per == 0 else 0.7 * per + 0.3 * spent / done
                if stop:
                    state[flag] = False
                    share.leave(who)
                    st.rerun(scope="app")  # the button turns back to Play (or Replay), the last frames go with it
                period = done / fps if fps > 0 else every
                gap = share.delay(spent, period, n, busy) - (period if fps > 0 else 0.0)
                count = state.get("_count", 0) + done
                state["_count"] = count
                state["_times"] = (state.get("_times", []) + [(time.monotonic(), count)])[-8:]
            elif m != "playing":
                share.leave(who)
                state["_times"] = []
            m = mode(state, flag, finished())
            rate = _rate(state.get("_times", []))
            line = note(rate, 1000 * spent / max(done, 1)) if note and m == "playing" else ""
            if m == "playing" and not line:
                line = (f"Playing: about {rate:.1f} frames/s" if rate else "Playing") + (
                    f" · server {1000 * spent / done:.1f} ms per frame" if done else "")
            n_live = share.live()
            if m == "playing" and n_live > 1 and gap > 0.001:
                line += f". Shared mode: {n_live} live views on this server"
            data = {"run": "", "mode": m, "status": status(m, line, what), "head": head(m) if head else "",
                    "seq": state.get("_seq", 0) + 1, "fps": fps, "gap_ms": int(1000 * max(gap, 0.0)),
                    "idle_ms": int(1000 * IDLE_S), "frames": [], "count": 0, "keep": limits.MAX_FRAMES}
            state["_seq"] = data["seq"]
            if draw is not None:
                draw()
            if frames is not None and frame is not None and scene is not None:
                run_id = state.setdefault("_run", f"{key}-{time.time_ns()}")
                first, held = frames()
                sent = state.get("_sent", -1) if ev != "resend" else -1
                start = max(sent + 1, first, first + held - (RESEND if sent < first else held))
                # played when they go on from the last frame sent (a new run's first batch too), else shown as stills
                data.update(run=run_id, count=held, scene_id=0, play=fps > 0 and ev != "resend" and start == sent + 1,
                            keep=held if first > 0 else limits.MAX_FRAMES)  # the browser keeps the server's window
                if sent < first:  # a browser that holds nothing of this run: the newest frames, within RESEND_BYTES
                    out, size = [], 0
                    for k in range(held - 1, start - first - 1, -1):
                        f = frame(k)
                        size += sum(len(v) for v in f["parts"].values())
                        if out and size > RESEND_BYTES:
                            break
                        out.append({"i": first + k, **f})
                    data["frames"] = out[::-1]
                else:
                    data["frames"] = [{"i": first + k, **frame(k)} for k in range(start - first, held)]
                state["_sent"] = first + held - 1
                sc = state.get("_scene")
                if sc is None or ev == "resend" or sent < first:
                    sc = state["_scene"] = scene()
                    data["scene"] = sc
                data["scene_id"] = sc["id"]
            with top:
                _component(key=key, data=data, on_event_change=lambda: _on_event(state, key))
            if after is not None:
                after(m)

    run()


def chart(key: str, series: list[dict], *, title: str = "", xlabel: str = "", ylabel: str = "", log_y: bool = False,
          height: int = 320, max_height: int | None = None, container=None) -> None:
    """A line chart sent as data (genlib.viz.Chart: `live.chart(key, **viz.curves(...))`) and drawn by the browser
    (live.js) on a canvas as wide as its container: title, axis labels, ticks, legend, log y, a hover readout of the
    nearest step. Nothing is drawn on the server. Series: {"name", "x", "y" (None for a gap), "color", "dash"
    ("solid", "dash", "dot"), "opacity", "width", "markers"}. Projector mode as chrome.plot has it: 18 px text, 16 px
    ticks, 1.3 times as tall, at most `max_height` pixels (default chrome.PROJECTOR_PLOT_HEIGHT)."""
    projector = chrome.projector()
    if projector:
        height = min(int(height * 1.3), max_height or chrome.PROJECTOR_PLOT_HEIGHT)
    data = {"chart": {"title": title, "xlabel": xlabel, "ylabel": ylabel, "log_y": bool(log_y), "height": int(height),
                      "projector": projector, "series": series}}
    with container if container is not None else contextlib.nullcontext():
        _component(key=key, data=data)

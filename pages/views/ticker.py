"""Live updates driven by the browser, for a class on one server: work only for eyes that look, one request at a time.

`ticker` replaces st.fragment(run_every=...): a small browser component inside the live fragment asks the server for
the next tick only after the previous answer arrived (no reruns pile up behind a slow tick, no greyed stale panels),
only while the tab is visible, and stops after a few minutes without pointer or key input. The page then says why it
paused and resumes with one click, or by itself when a hidden tab becomes visible again. `space` gives the space bar
to Play/Pause. `LIVENESS_JS` is the visibility and idle rule, shared with the flipbook (views.flipbook).
"""
from __future__ import annotations

import os
import uuid

import streamlit as st

IDLE_S = float(os.environ.get("GENLIB_IDLE_S", "180"))  # no input for this long pauses live views (tests set it short)

# The visibility/idle rule, pasted into each component's module: one set of listeners per page records the time of
# the last pointer or key input, shared by every live component of the page.
LIVENESS_JS = """
function liveness() {
  if (!window.__genlibLive) {
    const L = window.__genlibLive = { last: Date.now() };
    const touch = () => { L.last = Date.now(); };
    for (const ev of ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"])
      document.addEventListener(ev, touch, { capture: true, passive: true });
  }
  return window.__genlibLive;
}
// why a live view must not ask for work now: "hidden" (tab not visible), "idle" (no input for idleMs), or null
function pauseReason(idleMs) {
  if (document.visibilityState !== "visible") return "hidden";
  if (Date.now() - liveness().last > idleMs) return "idle";
  return null;
}
function pauseText(why, idleMs) {
  if (why === "hidden") return "Paused: this tab was hidden. It goes on when the tab is visible again.";
  const m = idleMs / 60000;
  const span = m >= 1 ? `${+m.toFixed(1)} minute${m === 1 ? "" : "s"}` : `${Math.round(idleMs / 1000)} seconds`;
  return `Paused after ${span} without interaction.`;
}
"""

_TICKER_JS = LIVENESS_JS + """
export default function ({ data, parentElement, setTriggerValue }) {
  let t = parentElement.ticker;
  if (!t) {
    const root = document.createElement("div");
    root.className = "genlib-ticker";
    root.dataset.asks = "0";
    root.innerHTML = '<span class="msg"></span><button type="button" class="resume" hidden>Resume</button>';
    parentElement.appendChild(root);
    t = parentElement.ticker = { root, msg: root.querySelector(".msg"), btn: root.querySelector(".resume"),
                                 timer: null, asked: 0, n: 0, seq: null, paused: null };
    t.show = () => {
      t.root.dataset.paused = t.paused || "";
      t.msg.textContent = t.paused ? pauseText(t.paused, t.data.idle_ms) : t.data.note;
      t.btn.hidden = !t.paused;
      t.root.dataset.empty = t.msg.textContent ? "0" : "1";  // nothing to say: the CSS takes the line away
    };
    t.pause = (why) => { clearTimeout(t.timer); t.timer = null; t.paused = why; t.show(); };
    t.ask = () => {  // one request at a time: the next goes only once this one's answer (new data) came back
      t.timer = null;
      const why = pauseReason(t.data.idle_ms);
      if (why) { t.pause(why); return; }
      t.asked = Date.now();
      t.root.dataset.asks = String(++t.n);
      t.set("tick", t.n);
    };
    t.resume = () => { liveness().last = Date.now(); t.paused = null; t.show(); if (t.data.active) t.ask(); };
    t.btn.onclick = t.resume;
    t.onVis = () => {
      if (!t.data.active) return;
      if (document.visibilityState !== "visible") { if (!t.paused) t.pause("hidden"); }
      else if (t.paused === "hidden") t.resume();
    };
    document.addEventListener("visibilitychange", t.onVis);
    // an answer that never came (the run was replaced by a full rerun): ask again after 20 s
    t.watchdog = setInterval(() => {
      if (t.data.active && !t.timer && !t.paused && t.asked && Date.now() - t.asked > 20000) t.ask();
    }, 1000);
  }
  t.data = data;
  t.set = setTriggerValue;
  if (data.seq !== t.seq) {  // an answer (or a full rerun): schedule the next ask after the server's delay
    t.seq = data.seq;
    t.asked = 0;
    clearTimeout(t.timer);
    t.timer = null;
    if (!data.active) t.paused = null;
    else if (!t.paused) t.timer = setTimeout(t.ask, data.delay_ms);
  }
  t.root.dataset.active = data.active ? "1" : "0";
  t.show();
  return () => {
    clearTimeout(t.timer);
    clearInterval(t.watchdog);
    document.removeEventListener("visibilitychange", t.onVis);
    parentElement.ticker = null;
  };
}
"""
_TICKER_CSS = """
.genlib-ticker { font-size: 0.875rem; color: var(--st-text-color); min-height: 1.25rem; }
[data-testid="stElementContainer"]:has(.genlib-ticker[data-empty="1"]) { display: none; }
.genlib-ticker .msg { opacity: 0.7; }
.genlib-ticker[data-paused="hidden"] .msg, .genlib-ticker[data-paused="idle"] .msg { opacity: 1; font-weight: 600; }
.genlib-ticker .resume { margin-left: 0.75rem; padding: 0.1rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid var(--st-primary-color); background: transparent; color: var(--st-text-color); font: inherit; }
"""

_ticker = st.components.v2.component("genlib_ticker", js=_TICKER_JS, css=_TICKER_CSS, isolate_styles=False)


def ticker(key: str, active: bool, delay: float, note: str = "", seq: int = 0) -> bool:
    """Ask for the next run of the calling fragment `delay` seconds after this one's answer reaches the browser,
    while `active`, the tab is visible and someone interacted within IDLE_S; `note` is the status line shown under
    the live view (replaced by the reason when paused, with a Resume button). `seq` must change every run (a run
    counter): the browser takes new data as the answer it waited for. Returns whether this run was a tick."""
    res = _ticker(key=key, data={"active": bool(active), "delay_ms": int(1000 * max(delay, 0.0)), "note": note,
                                 "seq": int(seq), "idle_ms": int(1000 * IDLE_S)},
                  on_tick_change=lambda: None)  # the browser's tick reruns the fragment: nothing else to do
    return bool(res.tick) if res is not None else False


_SPACE_JS = """
export default function ({ parentElement, setTriggerValue }) {
  if (!parentElement.querySelector(".genlib-space")) {  // an empty marker: the CSS below takes its box out of the flow
    const mark = document.createElement("span");
    mark.className = "genlib-space";
    parentElement.appendChild(mark);
  }
  parentElement.genlibSpace = setTriggerValue;
  const all = window.__genlibSpace = window.__genlibSpace || new Set();
  all.add(parentElement);
  if (!window.__genlibSpaceKey) {
    window.__genlibSpaceKey = 0;
    document.addEventListener("keydown", (e) => {
      if (e.key !== " " || e.repeat || e.ctrlKey || e.metaKey || e.altKey) return;
      const el = e.target;
      // typing, or a focused button or checkbox (the space bar clicks it already), keeps the key; a focused slider
      // (an input of type range) or tab does not
      if (el && el.closest && (el.isContentEditable || (el.tagName === "INPUT" && el.type !== "range") ||
          el.closest("textarea, select, [contenteditable], [role=textbox], [role=combobox], [role=listbox]") ||
          (el.closest("button, [role=checkbox], [role=radio], [role=switch]") && !el.closest("[role=tab]"))))
        return;
      // the first player on screen (a player in a hidden tab has no layout boxes)
      const p = [...all].find((q) => q.isConnected && q.getClientRects().length > 0);
      if (!p) return;
      e.preventDefault();
      e.stopPropagation();
      p.genlibSpace("space", ++window.__genlibSpaceKey);
    }, true);  // capture: a focused slider's own key handling must not swallow the press first
  }
  return () => { all.delete(parentElement); };
}
"""

# the listener has nothing to show: its element leaves the column's flow (no gap above the Play button) but keeps a box,
# so that a player in a hidden tab (display: none above it) can be told apart from one on screen
# (more than one line: Streamlit takes a one-line string with "[" in it for a file name pattern)
_SPACE_CSS = """
[data-testid="stElementContainer"]:has(.genlib-space) {
  position: absolute; width: 0; height: 0; overflow: hidden;
}
"""
_space = st.components.v2.component("genlib_space", js=_SPACE_JS, css=_SPACE_CSS, isolate_styles=False)


def space(key: str) -> bool:
    """A listener for the space bar (not while typing): True in the run the press started. Put it outside fragments,
    beside the Play button, so the run it starts redraws that button."""
    res = _space(key=key, on_space_change=lambda: None)
    return bool(res.space) if res is not None else False


def live_id() -> str:
    """This session's id for the fair share (genlib.share): a random token kept in its session state."""
    return st.session_state.setdefault("_live_id", uuid.uuid4().hex)

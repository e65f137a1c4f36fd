"""What the live views (views.live) share besides their loop: the idle time after which the browser stops asking,
this session's id for the fair share, and the space bar as Play/Pause."""
from __future__ import annotations

import os
import uuid

import streamlit as st

IDLE_S = float(os.environ.get("GENLIB_IDLE_S", "180"))  # no input for this long pauses live views (tests set it short)

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
    """This session's id for the fair share (views.share): a random token kept in its session state."""
    return st.session_state.setdefault("_live_id", uuid.uuid4().hex)

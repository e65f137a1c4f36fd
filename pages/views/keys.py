"""Keyboard shortcuts: one listener component with nothing to show, for the space bar (Play/Pause of a live view,
views.live) and the ← / → keys (Previous/Next of the lecture). One document-wide handler serves every listener on
the page; a press goes to the first listener on screen that asked for that key."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

_JS = """
// A focused element that keeps the key: typing anywhere; for the space bar also a focused button or checkbox (the
// space bar clicks it already; a slider or a tab does not keep it); for the arrows also a control they move.
const TYPING = "textarea, select, [contenteditable], [role=textbox], [role=combobox], [role=listbox]";
const KEEPS = {
  " ": (el) => (el.tagName === "INPUT" && el.type !== "range") ||
               (el.closest("button, [role=checkbox], [role=radio], [role=switch]") && !el.closest("[role=tab]")),
  "ArrowLeft": (el) => el.tagName === "INPUT" || el.closest("[role=slider], [role=radiogroup], [role=radio], " +
                                                             "[role=tab], [role=tablist]"),
};
KEEPS.ArrowRight = KEEPS.ArrowLeft;

export default function ({ parentElement, data, setTriggerValue }) {
  if (!parentElement.querySelector(".genlib-keys")) {  // an empty marker: the CSS below takes its box out of the flow
    const mark = document.createElement("span");
    mark.className = "genlib-keys";
    parentElement.appendChild(mark);
  }
  parentElement.genlibKeys = { keys: (data && data.keys) || [], press: setTriggerValue };
  const all = window.__genlibKeys = window.__genlibKeys || [];
  if (!all.includes(parentElement)) all.push(parentElement);
  if (!window.__genlibKeysOn) {
    window.__genlibKeysOn = true;
    let n = 0;
    document.addEventListener("keydown", (e) => {
      if (!(e.key in KEEPS) || e.repeat || e.ctrlKey || e.metaKey || e.altKey || (e.shiftKey && e.key !== " ")) return;
      const el = e.target;
      if (el && el.closest && (el.isContentEditable || el.closest(TYPING) || KEEPS[e.key](el))) return;
      // the first listener on screen (in the page's order) that wants this key; one in a hidden tab has no layout boxes
      const on = window.__genlibKeys.filter((q) => q.isConnected && q.getClientRects().length > 0 &&
                                                   q.genlibKeys.keys.includes(e.key));
      const p = on.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING) ? -1 : 1)[0];
      if (!p) return;
      e.preventDefault();
      e.stopPropagation();
      p.genlibKeys.press("press", e.key + "|" + (++n));  // a new value each press
    }, true);  // capture: a focused slider's own key handling must not swallow the press first
  }
  return () => { const i = all.indexOf(parentElement); if (i >= 0) all.splice(i, 1); };
}
"""

# the listener has nothing to show: its element leaves the column's flow (no gap above the Play button) but keeps a box,
# so that a listener in a hidden tab (display: none above it) can be told apart from one on screen
# (more than one line: Streamlit takes a one-line string with "[" in it for a file name pattern)
_CSS = """
[data-testid="stElementContainer"]:has(.genlib-keys) {
  position: absolute; width: 0; height: 0; overflow: hidden;
}
"""
_keys = st.components.v2.component("genlib_keys", js=_JS, css=_CSS, isolate_styles=False)


def _pressed(key: str) -> str | None:
    """The key name of the press that started this run of listener `key` ("ArrowRight", " "), else None."""
    value = st.session_state.get(key)
    press = value.get("press") if hasattr(value, "get") else None
    return press.rsplit("|", 1)[0] if isinstance(press, str) else None


def space(key: str) -> bool:
    """A listener for the space bar (not while typing or on a focused button): True in the run the press started.
    Put it outside fragments, beside the Play button, so the run it starts redraws that button."""
    res = _keys(key=key, data={"keys": [" "]}, on_press_change=lambda: None)
    return res is not None and bool(res.press)  # a trigger: set only in the run the press started


def arrows(key: str, move: Callable[[int], None]) -> None:
    """A listener for ← and → (not while typing or on a control the arrows move): move(-1) or move(+1) runs as the
    press's callback, before the script, so the run it starts draws the new step."""
    def on_press() -> None:
        name = _pressed(key)
        if name in ("ArrowLeft", "ArrowRight"):
            move(1 if name == "ArrowRight" else -1)

    _keys(key=key, data={"keys": ["ArrowLeft", "ArrowRight"]}, on_press_change=on_press)

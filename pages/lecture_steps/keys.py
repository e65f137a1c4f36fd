"""The ← and → keys as Previous and Next: a listener component with nothing to show (like views.ticker's space bar)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

_JS = """
export default function ({ parentElement, setTriggerValue }) {
  if (!parentElement.querySelector(".genlib-arrows")) {  // an empty marker: the CSS below takes its box out of the flow
    const mark = document.createElement("span");
    mark.className = "genlib-arrows";
    parentElement.appendChild(mark);
  }
  parentElement.genlibArrow = setTriggerValue;
  window.__genlibArrows = parentElement;  // one lecture on a page: the listener mounted last
  if (!window.__genlibArrowsOn) {
    window.__genlibArrowsOn = true;
    let n = 0;
    document.addEventListener("keydown", (e) => {
      if ((e.key !== "ArrowLeft" && e.key !== "ArrowRight") || e.ctrlKey || e.metaKey || e.altKey || e.shiftKey)
        return;
      const el = e.target;
      // typing, or a control that the arrows move (a slider, a number or text field, a select, radio buttons, tabs),
      // keeps the key
      if (el && el.closest && (el.isContentEditable || el.tagName === "INPUT" || el.tagName === "TEXTAREA" ||
          el.closest("select, [contenteditable], [role=textbox], [role=combobox], [role=listbox], [role=slider], " +
                     "[role=radiogroup], [role=radio], [role=tab], [role=tablist]")))
        return;
      const p = window.__genlibArrows;
      if (!p || !p.isConnected) return;
      e.preventDefault();
      p.genlibArrow("key", (e.key === "ArrowRight" ? "next " : "prev ") + (++n));
    }, true);
  }
  return () => { if (window.__genlibArrows === parentElement) window.__genlibArrows = null; };
}
"""

# (more than one line: Streamlit takes a one-line string with "[" in it for a file name pattern)
_CSS = """
[data-testid="stElementContainer"]:has(.genlib-arrows) {
  position: absolute; width: 0; height: 0; overflow: hidden;
}
"""
_arrows = st.components.v2.component("genlib_arrows", js=_JS, css=_CSS, isolate_styles=False)


def arrows(key: str, move: Callable[[int], None]) -> None:
    """A listener for ← and → (not while typing or on a control the arrows move): move(-1) or move(+1) runs as the
    press's callback, before the script, so the run it starts draws the new step."""
    def on_key() -> None:
        value = st.session_state.get(key)
        press = value.get("key") if hasattr(value, "get") else None
        if isinstance(press, str):
            move(1 if press.startswith("next") else -1)

    _arrows(key=key, on_key_change=on_key)

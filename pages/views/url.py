"""Widgets bound to the page's address: the one place where a value from a link becomes a widget's value.

`bound(widget, ...)` creates any Streamlit widget (or st.tabs) with `bind="query-params"`, after checking the value the
link holds for its key against the widget's own bounds, read from the same arguments the widget gets: a number must be
finite and (for a whole-number widget) whole, and is clamped into [min, max]; a choice must be one of the options; a
switch is true or false. A value that fails is dropped (or clamped) before Streamlit sees it, and a short notice says
so. Streamlit's own parsing of `inf` or `1e400` for a whole-number widget raises OverflowError and breaks the page.
"""
from __future__ import annotations

import inspect
import math
import re

import streamlit as st
from streamlit.runtime.state.session_state_proxy import get_session_state

from genlib.text import printable
from pages.views.untrusted import literal

_NUMBER = re.compile(r"[+-]?((\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE)
NUMERIC = {"number_input", "slider"}
CHOICES = {"selectbox", "radio", "select_slider", "segmented_control", "pills"}
SWITCHES = {"toggle", "checkbox"}
NOTICES = "url-notices"  # session state: the notices not shown yet
PENDING = "url-pending"  # session state: keys set by the page (a lesson) whose value the address does not hold yet


def bound(widget, *args, key: str, **kw):
    """widget(*args, key=key, bind="query-params", **kw), e.g. bound(st.slider, "Code size", 2, 64, 2, key="ae-code"),
    once the link's value for `key` is valid for this widget (see the module's docstring)."""
    spec = inspect.signature(widget).bind_partial(*args, **kw).arguments  # the widget's bounds, by parameter name
    raw = st.query_params.get_all(key)
    if raw:
        verdict = check(widget.__name__, raw[-1], spec)
        if verdict is not None:
            fixed, why = verdict
            _replace(key, fixed)
            shown = raw[-1] if len(raw[-1]) <= 40 else raw[-1][:40] + "…"
            st.session_state.setdefault(NOTICES, []).append(
                f"The link's {literal(key)} = {literal(shown)} {why}"
                + (f"; {literal(fixed)} is used instead." if fixed is not None else "; the default is used."))
        elif len(raw) > 1:  # ?k=1&k=2: one value per setting, the last one (as st.query_params reads it)
            _replace(key, raw[-1])
    if key in st.session_state and not fits(widget, st.session_state[key], spec):
        return _read_only(widget, st.session_state[key], key, spec)
    value = widget(*args, key=key, bind="query-params", **kw)
    if key in st.session_state.get(PENDING, ()):
        _write_back(key, st.session_state.get(key))  # the widget's value (st.tabs returns its tabs)
    return value


def put(settings: dict) -> None:
    """Set widgets' values from the page (a lesson's settings: widget key -> value), in its session state and, once
    each widget is drawn, in the address. Streamlit writes a value set this way into the address only for a widget
    that was already drawn in an earlier run: a widget drawn for the first time (a lazy tab's, opened by this very
    setting, or a tab opened later) would keep its value out of the link, and a link copied then opens at the
    defaults. So the keys wait in PENDING until `bound` draws them, which writes their values itself."""
    for k, v in settings.items():
        st.session_state[k] = v
    st.session_state[PENDING] = set(st.session_state.get(PENDING, ())) | set(settings)


def _write_back(key: str, value) -> None:
    """Write the value a widget drawn in this run shows into the address, as Streamlit itself writes a bound widget's
    value (its serializer and value type; a default value leaves the address), and stop waiting for it."""
    st.session_state[PENDING] = set(st.session_state[PENDING]) - {key}
    state = get_session_state()._state
    wid = state._key_id_mapper.get_id_from_key(key, None)
    meta = state._new_widget_state.widget_metadata.get(wid) if wid is not None else None
    if meta is None:
        return
    with get_session_state().query_params() as qp:
        if value == meta.deserializer(None):
            qp.remove_param(key)
        elif not qp.stored_param_matches_corrected_value(key, meta.serializer(value), meta.value_type):
            qp.set_corrected_value(key, meta.serializer(value), meta.value_type)


def fits(widget, value, spec: dict) -> bool:
    """Whether the widget called with arguments `spec` can show `value` (a setting a page wrote into its state, e.g.
    from a checkpoint's config)."""
    name = widget.__name__
    if name in NUMERIC and "options" not in spec:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return check(name, repr(value), spec) is None
    if name in CHOICES:
        return value in list(spec.get("options", ()))
    return True


def _read_only(widget, value, key: str, spec: dict):
    """A setting the widget cannot offer (a checkpoint's value outside its range, or not one of its choices): shown as
    text, disabled, with a button that hands the setting back to the widget (its default). Returns `value`."""
    label = str(spec.get("label", key))
    offers = (f"{spec.get('min_value')} to {spec.get('max_value')}" if "min_value" in spec
              else ", ".join(map(str, spec.get("options", ()))))
    dg = widget.__self__  # the container the widget would be drawn in
    dg.text_input(label, printable(value), disabled=True, key=f"{key}-readonly-{value}",
                  help=f"The value of the model in use. This control offers {offers}; the button below sets it to "
                  "its default instead.")
    if dg.button(f"Change {label}", key=f"{key}-unlock", icon=":material/edit:",
                 help="Give this setting back to its control (its default value)."):
        del st.session_state[key]
        st.rerun()
    return value


def show_notices() -> None:
    """The notices of refused link values, as toasts; called once the page has run (app.py), so that a rerun on the
    way (a page that reruns itself on its first run) does not lose them."""
    for text in st.session_state.pop(NOTICES, []):
        st.toast(text, icon=":material/link_off:")


def check(name: str, value: str, spec: dict) -> tuple[str | None, str] | None:
    """None if `value` (the link's text) is valid for the widget `name` called with arguments `spec`, else (the
    value to use instead, or None to drop it; why, as a phrase)."""
    if name in NUMERIC and "options" not in spec:
        lo, hi = spec.get("min_value"), spec.get("max_value")
        whole = all(isinstance(v, int) and not isinstance(v, bool)
                    for v in (lo, hi, spec.get("value"), spec.get("step")) if v is not None and v != "min")
        if not _NUMBER.fullmatch(value.strip()):
            return None, "is not a number"
        x = float(value)
        if not math.isfinite(x):
            return None, "is not a finite number"
        if whole and x != int(x):
            return None, "is not a whole number"
        if (lo is not None and x < lo) or (hi is not None and x > hi):
            x = min(max(x, lo if lo is not None else x), hi if hi is not None else x)
            return _fmt(x, whole), f"is outside {_fmt(lo, whole)} to {_fmt(hi, whole)}"
        return None
    if name in CHOICES or name == "tabs" or "options" in spec:
        options = spec.get("options", spec.get("tabs", ()))
        fmt = spec.get("format_func") or str
        if value not in {str(fmt(o)) for o in options}:
            return None, "is not one of the choices"
        return None
    if name in SWITCHES:
        return None if value.lower() in ("true", "false") else (None, "is not true or false")
    return None


def _fmt(x, whole: bool) -> str:
    return str(int(x)) if whole else f"{x:g}"


def _replace(key: str, value: str | None) -> None:
    """Set (or, with None, remove) the link's value of `key`, in the browser's address and where Streamlit seeds a bound
    widget from: the query string the script run started with (QueryParams._initial_query_params), which
    st.query_params does not change. This is Streamlit's own state (1.67); tests/test_hostile_app.py fails if it moves."""
    with get_session_state().query_params() as qp:
        if value is None:
            qp.remove_param(key)
            qp._initial_query_params.pop(key, None)
        else:
            qp.set_corrected_value(key, value, "string_value")
            qp._initial_query_params[key] = [value]

"""Links a teacher shares reach a whole class: no value in a link may break a page.

The test finds every widget bound to the address itself (the elements whose proto carries a query_param_key, tab
containers included) on every page of app.py's navigation and on every tab, then opens each view with bad values in
all of them at once: non-finite numbers (`inf`, `-Infinity`, `1e400`, `NaN`), numbers far out of range, a fraction for
a whole-number widget, and markdown. Each view must render without an exception; each widget must end inside its own
bounds (clamped, or dropped for the widget's default or the value the page sets); and a notice must name each
key whose value was refused, showing the value as text.
"""
from __future__ import annotations

import math
import re

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT

PAGES = re.findall(r'st\.Page\("(pages/[^"]+\.py)"', (ROOT / "app.py").read_text())
# every bad value lands on every widget over the runs (rotated: in one run each widget gets another value)
BAD = ["inf", "1e12", "-1e400", "2.5", "-1e12", "**x**", "NaN", "-Infinity", "1e400"]
RUNS = len(BAD)
NUMBER_TYPES = {"NumberInput", "Slider"}


def _children(node):
    ch = getattr(node, "children", None)
    return list(ch.values()) if isinstance(ch, dict) else list(ch or [])


def _param_key(node) -> str:
    p = getattr(node, "proto", None)
    if p is None or not hasattr(p, "DESCRIPTOR"):
        return ""
    if "query_param_key" in p.DESCRIPTOR.fields_by_name:
        return p.query_param_key
    if "tab_container" in p.DESCRIPTOR.fields_by_name and p.HasField("tab_container"):
        return p.tab_container.query_param_key
    return ""


def bound_widgets(at: AppTest) -> dict[str, object]:
    """key -> element, for every element of the page bound to the address."""
    found, todo = {}, [at._tree]
    while todo:
        node = todo.pop()
        if key := _param_key(node):
            found[key] = node
        todo += _children(node)
    return found


def is_tabs(node) -> bool:
    p = node.proto
    return "tab_container" in p.DESCRIPTOR.fields_by_name and p.HasField("tab_container")


def tab_labels(node) -> list[str]:
    return [c.label for c in _children(node)]


def open_view(page: str, params: dict[str, str]) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(page)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    return at


def oracle(el, raw: str):
    """What the widget must show for the link value `raw`: ("keep", value), ("clamp", bound) or ("drop", None)."""
    kind, p = type(el).__name__, el.proto
    if kind in NUMBER_TYPES:
        try:
            x = float(raw)
        except ValueError:
            return "drop", None
        whole = p.data_type == 0  # INT (NumberInput and Slider both number it 0)
        if not math.isfinite(x) or (whole and x != int(x)):
            return "drop", None
        lo, hi = (p.min, p.max) if kind == "Slider" else (p.min if p.has_min else -math.inf, p.max if p.has_max else math.inf)
        if x < lo or x > hi:
            return "clamp", min(max(x, lo), hi)
        return "keep", x
    if kind in ("Toggle", "Checkbox"):
        return ("keep", raw.lower() == "true") if raw.lower() in ("true", "false") else ("drop", None)
    options = tab_labels(el) if is_tabs(el) else list(p.options)
    return ("keep", raw) if raw in options else ("drop", None)


def value_of(el):
    kind = type(el).__name__
    if kind in NUMBER_TYPES:
        v = el.value
        return float(v[0] if isinstance(v, (list, tuple)) else v)
    if kind == "SelectSlider":  # its options in the proto are the formatted ones, as the link holds them
        return str(el.format_func(el.value))
    if kind in ("Selectbox", "Radio"):
        return el.proto.options[el.index] if el.index is not None else None
    if is_tabs(el):  # the open tab: the one the link names, else the first
        return next((c.label for c in _children(el) if getattr(c, "open", False)), tab_labels(el)[0])
    return el.value


def views(page: str) -> list[dict[str, str]]:
    """The page's views as link parameters: the default one, then one per other tab of each tab container."""
    at = open_view(page, {})
    assert not at.exception, at.exception
    out = [{}]
    for key, el in bound_widgets(at).items():
        if is_tabs(el):
            out += [{key: label} for label in tab_labels(el)[1:]]
    return out


@pytest.mark.parametrize("page", PAGES)
def test_bad_link_values_never_break_a_page(page):
    checked = 0
    for view in views(page):
        base = open_view(page, view)
        widgets = {k: el for k, el in bound_widgets(base).items() if k not in view}
        for r in range(RUNS):
            bad = {k: BAD[(i + r) % len(BAD)] for i, k in enumerate(sorted(widgets))}
            at = open_view(page, {**view, **bad})
            assert not at.exception, f"{page} {view} {bad}: {[e.value for e in at.exception]}"
            shown = bound_widgets(at)
            notices = " ".join(t.proto.body for t in at.toast)
            for k, raw in bad.items():
                if k not in shown:  # a widget another bad value hid (e.g. a mode switch dropped to its default)
                    continue
                verdict, want = oracle(shown[k], raw)
                got = value_of(shown[k])
                where = f"{page} {view}: {k}={raw!r} -> {got!r}"
                assert oracle(shown[k], str(got) if not isinstance(got, bool) else str(got).lower())[0] == "keep", \
                    f"{where}: outside the widget's bounds"
                if verdict == "keep":  # a valid value (the page may still replace it, e.g. by a model's setting)
                    continue
                key_md = re.sub(r"([!-/:-@\[-`{-~])", r"\\\1", k)
                assert f"The link's {key_md} = " in notices, f"{where}: no notice in {notices!r}"
                checked += 1
            assert "**x**" not in notices  # the value is shown escaped, as text
    print(f"{page}: {checked} refused values checked")
    assert checked > 0

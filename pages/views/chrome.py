"""What every page shows around its content: the title, the 'What you see' box with the math, the data set, the
projector mode, the shareable link, the "Try this" lessons, the explanation lines and the plot style."""
from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Callable

import streamlit as st

from genlib import data as gdata, viz
from pages.views import untrusted, url
from pages.views.setup import ensure_app_navigation, server_checks, torch_threads

PROJECTOR_KEY = "projector"
# Projector mode: 16 px is the smallest text readable from the back of a classroom; the root font scales every rem.
_PROJECTOR_CSS = """<style>
html { font-size: 20px; }
.stMainBlockContainer { padding-top: 3rem; max-width: 100%; }
[data-testid="stCaptionContainer"], .stCaption { font-size: 1rem !important; }
[data-testid="stExpander"] summary p { font-size: 1rem; }
.genlib-boiler { display: none; }
/* a compact header, so that the main visual and its Play row sit above the fold of a 1280 x 720 window */
.stMainBlockContainer { padding-top: 3.2rem; padding-bottom: 2rem; }
.stMainBlockContainer h1 { font-size: 1.9rem; padding: 0 0 0.2rem 0; }
.stMainBlockContainer [data-testid="stVerticalBlock"] { gap: 0.6rem; }
</style>"""


def header(title: str, what: str, equations: list[str], mn: gdata.MNIST | None = None) -> None:
    """Page title, the 'What you see' box with the math, and the data set in use."""
    ensure_app_navigation()
    torch_threads()
    server_checks()
    on = projector()
    st.title(title)
    with st.expander("What you see", expanded=False):
        st.markdown(what)
        for eq in equations:
            st.latex(eq)
    if mn is not None:
        if not on:  # boilerplate: hidden on the projector
            st.caption(f"Data: {mn.description}")
        data_notice(mn)


def sidebar_tools():
    """The sidebar's projector toggle (applying its style when on) and the place of "Copy link" (app.py, for every
    page), which is returned: app.py fills it with `copy_link` once the page has run, so that the link holds what the
    page's controls set in this run (a lesson, a click on a map), not the address the run started from."""
    with st.sidebar:
        on = url.bound(st.toggle, "Projector mode", key=PROJECTOR_KEY,
                       help="For a projected lesson: larger text, tick labels, plots and images, fewer lines of "
                       "boilerplate. Also a link flag: add ?projector=true to any page's address.")
        slot = st.empty()
    if on:
        st.html(_PROJECTOR_CSS)
    return slot


def projector() -> bool:
    """Whether this session shows the app in projector mode (the sidebar toggle or ?projector=true)."""
    return bool(st.session_state.get(PROJECTOR_KEY, False))


def current_link() -> str:
    """This view's address: the page and every control bound to the URL (the query parameters)."""
    url = st.context.url or ""
    base = url.split("?", 1)[0]
    query = urllib.parse.urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
    return base + ("?" + query if query else "")


def copy_link(slot) -> None:
    """A "Copy link" popover in `slot`: the address of this view (page, tab, model, settings and seed), to paste into
    slides. Opening it reproduces the view; the code box's copy icon copies it."""
    with slot.popover("Copy link", icon=":material/link:", width="stretch",
                    help="The address of exactly this view: page, tab, model, settings and seed."):
        st.code(current_link(), language=None, wrap_lines=True)
        st.caption("Opening this link shows the same page, tab, settings and seed (chains and grids start from that "
                   "seed).")


PROJECTOR_PLOT_HEIGHT = 330  # pixels: the tallest plot in projector mode, so that a tab's first plot fits 1280 x 720


def plot(fig, key: str | None = None, container=st, max_height: int = PROJECTOR_PLOT_HEIGHT, **kw):
    """st.plotly_chart for every figure of the app: full width, a colour-blind-safe colour cycle, and in projector
    mode 18 px text with plots 1.3 times as tall, at most `max_height` pixels (the fold of a 1280 x 720 window).
    Returns what st.plotly_chart returns (the selection event)."""
    fig.update_layout(colorway=viz.PALETTE)
    if projector():
        height = fig.layout.height or 450
        fig.update_layout(font=dict(size=18), height=min(int(height * 1.3), max_height))
        fig.update_xaxes(tickfont=dict(size=16), title_font=dict(size=18))
        fig.update_yaxes(tickfont=dict(size=16), title_font=dict(size=18))
    kw.setdefault("width", "stretch")
    return container.plotly_chart(fig, key=key, **kw)


def image_width(px: int) -> int:
    """The width to show an image at: 1.5 times larger in projector mode."""
    return int(px * 1.5) if projector() else int(px)


def explain(text: str, container=st) -> None:
    """One or two always-visible lines next to a main plot, naming the term of the lecture's equations it shows
    (the "What you see" box keeps the full math)."""
    container.markdown(f":blue-background[:material/lightbulb:] {text}")


@dataclasses.dataclass(frozen=True)
class Lesson:
    """A "Try this" preset: `settings` maps widget keys to the values to set, `start()` (optional) starts what needs
    starting, and `watch` is the one sentence on what to look at. `autoplay` (optional) names a session-state flag
    raised at the click: the page, once it has rebuilt its chains from the settings, plays them if
    `take_autoplay(flag)`."""
    title: str
    watch: str
    settings: dict = dataclasses.field(default_factory=dict)
    start: Callable[[], None] | None = None
    help: str = ""
    autoplay: str = ""


def _choose(key: str, lesson: Lesson, items: list[Lesson]) -> None:
    """on_click of a lesson button (runs before the script): set the controls, raise its autoplay flag, then start."""
    url.put(lesson.settings)  # in the address too, once each control is drawn (whichever tab is open now)
    st.session_state[f"{key}-lesson"] = lesson.title
    for flag in {x.autoplay for x in items} - {""}:  # one request pending per row: the last lesson clicked wins
        st.session_state.pop(flag, None)
    if lesson.autoplay:
        st.session_state[lesson.autoplay] = True
    if lesson.start is not None:
        lesson.start()


def take_autoplay(flag: str) -> bool:
    """Whether a lesson asked to play (its settings are already applied: `_choose`); consumes the request."""
    return bool(st.session_state.pop(flag, False))


# The "Try this" row (the container keyed KEY). Where it is wide (over 760 px: a laptop's window with the sidebar open)
# a title too long for its button wraps onto a second line instead of being cut ("Reparameterisation an...") and the
# buttons share the height of the tallest. Where it is narrower (a phone, where Streamlit stacks the columns, one
# full-width button per line: five lessons filled the screen before the page's picture; or a narrow window, where the
# titles would wrap onto many lines) the buttons stay in one compact row that scrolls sideways, as the tab bar does.
_LESSONS_CSS = """<style>
.st-key-KEY { container: genlib-lessons / inline-size; }
.st-key-KEY button p, .st-key-KEY button .stMarkdownEllipsis { white-space: normal; overflow: visible; }
.st-key-KEY [data-testid="stColumn"] :is(.stVerticalBlock, .stElementContainer, .stButton, .stButton > div,
  .stTooltipIcon, .stTooltipHoverTarget, button) { height: 100%; }
@container genlib-lessons (max-width: 760px) {
  .st-key-KEY [data-testid="stHorizontalBlock"] { flex-wrap: nowrap; overflow-x: auto; gap: 0.5rem; }
  .st-key-KEY [data-testid="stColumn"] { flex: 0 0 auto; width: auto; min-width: 0; }
  .st-key-KEY button { min-height: 2rem; padding: 0.125rem 0.75rem; }
  .st-key-KEY button p, .st-key-KEY button .stMarkdownEllipsis { white-space: nowrap; }
}
</style>"""


def lessons(key: str, items: list[Lesson]) -> Lesson | None:
    """A "Try this" row of one button per lesson; the chosen lesson's sentence stays in an info box until another is
    chosen or it is dismissed. Returns the active lesson (None when none)."""
    with st.container(key=f"{key}-lessons"):
        st.html(_LESSONS_CSS.replace("KEY", f"{key}-lessons"))
        st.markdown("**Try this:**")
        cols = st.columns(len(items))
        for i, (col, lesson) in enumerate(zip(cols, items)):
            col.button(lesson.title, key=f"{key}-lesson-{i}", width="stretch", on_click=_choose,
                       args=(key, lesson, items),
                       help=lesson.help or f"Set the controls for this experiment. {lesson.watch}")
    active = next((x for x in items if x.title == st.session_state.get(f"{key}-lesson")), None)
    if active is not None:
        box, close = st.columns([12, 1], vertical_alignment="center")
        box.info(f"**{active.title}.** {active.watch}", icon=":material/visibility:")
        if close.button("", key=f"{key}-lesson-close", icon=":material/close:", help="Dismiss this lesson's note."):
            st.session_state[f"{key}-lesson"] = None
            st.rerun()
    return active


def data_notice(mn: gdata.MNIST) -> None:
    """The data set's notice: a warning when the data folder holds no MNIST files, an error box when its files could
    not be read (the page then runs on the bundled digits)."""
    if mn.notice:
        missing = mn.notice.startswith("No MNIST files")
        (st.warning if missing else st.error)(untrusted.literal(mn.notice), icon=":material/warning:" if missing else ":material/error:")


def session(key: str, factory):
    """Guarded session-state init: build the value once per session."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


@st.cache_resource(show_spinner=False, max_entries=256)
def _per_server(name: str, key: tuple, _compute: Callable):
    return _compute()


def memo(name: str, key: tuple, compute, shared: bool = False):
    """A value kept in st.session_state[name] and computed again with compute() only when `key` changes. Put a model
    itself in the key, not its id (a rebuilt model may reuse an id): tuples compare modules by identity.
    `shared`: the value is the same for every session (of a bundled, read-only checkpoint: setup.bundled), so it is
    computed once per server and kept for each `key` of plain values (names, numbers): a class opening the tab waits
    for one computation, not thirty."""
    if shared:
        return _per_server(name, key, compute)
    held = st.session_state.get(name)
    if held is None or held[0] != key:
        st.session_state[name] = held = (key, compute())
    return held[1]

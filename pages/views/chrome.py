"""What every page shows around its content: the title, the 'What you see' box with the math, the data set."""
from __future__ import annotations

import streamlit as st

from genlib import data as gdata
from pages.views.setup import ensure_app_navigation, server_checks, torch_threads


def header(title: str, what: str, equations: list[str], mn: gdata.MNIST | None = None) -> None:
    """Page title, the 'What you see' box with the math, and the data set in use."""
    ensure_app_navigation()
    torch_threads()
    server_checks()
    st.title(title)
    with st.expander("What you see", expanded=False):
        st.markdown(what)
        for eq in equations:
            st.latex(eq)
    if mn is not None:
        st.caption(f"Data: {mn.description}")
        data_notice(mn)


def data_notice(mn: gdata.MNIST) -> None:
    """The data set's notice: a warning when the data folder holds no MNIST files, an error box when its files could
    not be read (the page then runs on the bundled digits)."""
    if mn.notice:
        missing = mn.notice.startswith("No MNIST files")
        (st.warning if missing else st.error)(mn.notice, icon=":material/warning:" if missing else ":material/error:")


def session(key: str, factory):
    """Guarded session-state init: build the value once per session."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def memo(name: str, key: tuple, compute):
    """A value kept in st.session_state[name] and computed again with compute() only when `key` changes. Put a model
    itself in the key, not its id (a rebuilt model may reuse an id): tuples compare modules by identity."""
    held = st.session_state.get(name)
    if held is None or held[0] != key:
        st.session_state[name] = held = (key, compute())
    return held[1]

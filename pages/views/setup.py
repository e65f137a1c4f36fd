"""Process-wide setup: torch threads, the data root, cached data and pretrained models, first-visit routing."""
from __future__ import annotations

import copy
import os
import sys

import streamlit as st
import torch

from genlib import checkpoints, data as gdata, models


@st.cache_resource
def torch_threads() -> int:
    """Set torch's thread count once per process (set_num_interop_threads may only be called once)."""
    n = int(os.environ.get("GENLIB_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch.get_num_threads()


def data_root() -> str | None:
    """`streamlit run app.py -- --data-dir DIR`, else $GENLIB_DATA, else ./data (genlib decides)."""
    argv = sys.argv
    for i, a in enumerate(argv):
        if a == "--data-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--data-dir="):
            return a.split("=", 1)[1]
    return None


@st.cache_resource(show_spinner="Loading MNIST ...")
def _load_data(root: str | None, download: bool = False) -> gdata.MNIST:
    return gdata.load_mnist(root, download=download)


def mnist() -> gdata.MNIST:
    """The data set in use for every page of this server (cached, read-only)."""
    return _load_data(data_root())


@st.cache_resource(show_spinner="Loading the pretrained model ...")
def pretrained(name: str) -> torch.nn.Module:
    """A bundled checkpoint by name, loaded once for every session. Read-only: copy before training."""
    return models.load(checkpoints.resolve(name))


def pretrained_copy(name: str) -> torch.nn.Module | None:
    """A private, trainable copy of a bundled checkpoint, or None with an error box."""
    try:
        return copy.deepcopy(pretrained(name))
    except checkpoints.CheckpointError as e:
        st.error(f"Could not load the pretrained model: {e}")
        return None


def ensure_app_navigation() -> None:
    """Make a first visit straight to a page URL run through app.py's st.navigation.

    Works around a Streamlit behaviour (checked in 1.67; no public API changes it): a folder named `pages/` next
    to the main script sets the private class flag `PagesManager.uses_pages_directory` at the first session of
    the process, and while it is set the script runner runs old-style (v1) multipage navigation (`_mpa_v1`:
    every pages/*.py a page) instead of app.py; only the public `st.navigation` clears it. So the first visit of
    a fresh server to /autoencoder would run the page on its own, with the wrong sidebar. A page that runs while
    the flag is set was not reached through app.py: clear the flag (as st.navigation does) and rerun, which
    routes through app.py. Once per session, so that it can never loop or swallow a later click (AppTest sets
    the flag again before every run). tests/test_layout.py fails when Streamlit changes this behaviour.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory and not st.session_state.get("_nav_fixed"):
        st.session_state["_nav_fixed"] = True
        PagesManager.uses_pages_directory = False
        st.rerun()

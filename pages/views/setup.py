"""Process-wide setup: torch threads, the data root, cached data and pretrained models, first-visit routing."""
from __future__ import annotations

import copy
import ctypes
import dataclasses
import gc
import logging
import os
import sys
import threading
import time

import streamlit as st
import torch

from genlib import checkpoints, limits, models
from genlib import data as gdata
from pages.views import untrusted
from pages.views.share import FairShare

GC_PERIOD = 20.0  # seconds between the sweeper's full collections (see gc_sweeper)


@st.cache_resource
def torch_threads() -> int:
    """Set torch's thread count once per process (set_num_interop_threads may only be called once): GENLIB_THREADS,
    else one (see app.py: sessions share the process's cores, so one request gains nothing from a second thread)."""
    n = int(os.environ.get("GENLIB_THREADS", 1))
    torch.set_num_threads(n)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    return torch.get_num_threads()


@st.cache_resource
def server_checks() -> tuple[str, ...]:
    """Once per process: log what in the server's configuration breaks this app's assumptions. Streamlit reads
    .streamlit/config.toml from the working directory, so a server started elsewhere runs with its defaults: fast
    reruns (two script threads of one session changing the same chains or trainer), 200 MB uploads and a full garbage
    collection after every run. Also starts the process's garbage-collection sweeper (gc_sweeper)."""
    gc_sweeper()
    problems = []
    if st.get_option("runner.fastReruns"):
        problems.append("runner.fastReruns is on: a click then starts a second script thread of the session while the "
                        "first runs on, and both change the same session state (errors such as IndexError under load). "
                        "Start the server from the repository root, where .streamlit/config.toml turns it off.")
    if st.get_option("server.maxUploadSize") * 2**20 > limits.MAX_UPLOAD_BYTES + 2**20:
        problems.append(f"server.maxUploadSize is {st.get_option('server.maxUploadSize')} MiB: the server accepts uploads "
                        f"far over genlib.limits.MAX_UPLOAD_BYTES (the pages still refuse them, after receiving them).")
    if st.get_option("runner.postScriptGC"):
        problems.append("runner.postScriptGC is on: Streamlit then runs a full gc.collect(2) after every script and "
                        "fragment run, which took 86 % of the server's GIL time with 10 live sessions "
                        "(bench/CLASS_PROFILE.md). Start the server from the repository root, where "
                        ".streamlit/config.toml turns it off.")
    for p in problems:
        logging.getLogger("pages.views.setup").warning(p)
    return tuple(problems)


def _sweep(period: float) -> None:
    try:  # glibc keeps freed heap pages; malloc_trim hands them back to the system (RSS falls after a class leaves)
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: collecting is all we can do
        trim = None
    while True:
        time.sleep(period)
        gc.collect()
        if trim is not None:
            trim(0)


@st.cache_resource
def gc_sweeper(period: float = GC_PERIOD) -> threading.Thread:
    """Once per process: a daemon thread that runs a full gc.collect() every `period` seconds.

    .streamlit/config.toml turns off Streamlit's gc.collect(2) after every run (runner.postScriptGC), which cost most
    of the GIL under load; Python's own generational collector still runs, and this sweep frees what it leaves in the
    oldest generation (the reference cycles of a closed session's chains, trainers and figures) within `period`
    seconds, so the server's memory comes back after a class leaves.

    First, gc.freeze(): the ~350 000 objects of the libraries imported by then (torch, plotly, pandas; app.py imports
    them all before any page runs) move to the permanent generation, which no collection scans again. Measured here:
    a full collection then takes 0.2 ms instead of 290-1060 ms on the loaded 2-core machine (63 ms on a quiet one),
    so neither this sweep nor Python's own oldest-generation collections stall every session's tick."""
    gc.collect()
    gc.freeze()
    t = threading.Thread(target=_sweep, args=(period,), name="genlib-gc-sweeper", daemon=True)
    t.start()
    return t


@st.cache_resource
def fair_share() -> FairShare:
    """The process's one fair-share budget of live ticks (views.share), shared by every session."""
    return FairShare()


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
def _load_data(root: str | None, env_root: str | None) -> gdata.MNIST:
    """The data for this server, read once. A data folder that cannot be read (a truncated or corrupt file, a broken
    deflate stream in a .gz that genlib did not catch) gives the bundled digits with a notice naming the folder and
    the problem, which every page shows in an error box; the failure is cached too, so a broken file is not read
    again at every rerun of every session. `env_root` ($GENLIB_DATA, read by genlib) only keys the cache."""
    try:
        return gdata.load_mnist(root)
    except Exception as e:  # noqa: BLE001 - any failure to read the folder: say so, serve the bundled digits
        raw = gdata.resolve_root(root) / "MNIST" / "raw"
        bundled = gdata.load_mnist(os.devnull)  # no MNIST files under /dev/null: the bundled digits
        return dataclasses.replace(bundled, notice=f"Could not read the MNIST files in {raw} ({type(e).__name__}: "
                                   f"{str(e)[:200]}). Using the {gdata.BUNDLED} instead.")


def mnist() -> gdata.MNIST:
    """The data set in use for every page of this server (cached, read-only); never raises (see _load_data)."""
    return _load_data(data_root(), os.environ.get("GENLIB_DATA"))


@st.cache_resource(show_spinner="Loading the pretrained model ...")
def pretrained(name: str) -> torch.nn.Module:
    """A bundled checkpoint by name, loaded once for every session. Read-only: copy before training."""
    return models.load(checkpoints.resolve(name))


def bundled(name: str) -> bool:
    """Whether `name` is a checkpoint of checkpoints/ (what `pretrained` loads): read-only and the same for every
    session, so what is computed from it alone can be kept once per server (chrome.memo(shared=True))."""
    path = checkpoints.resolve(name)
    return path.parent == checkpoints.CHECKPOINT_DIR and path.is_file()


def pretrained_copy(name: str) -> torch.nn.Module | None:
    """A private, trainable copy of a bundled checkpoint, or None with an error box."""
    try:
        return copy.deepcopy(pretrained(name))
    except checkpoints.CheckpointError as e:
        untrusted.error(f"Could not load the pretrained model: {e}")
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

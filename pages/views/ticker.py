"""What the live views (views.live) share besides their loop: the idle time after which the browser stops asking and
this session's id for the fair share."""
from __future__ import annotations

import os
import uuid

import streamlit as st

IDLE_S = float(os.environ.get("GENLIB_IDLE_S", "180"))  # no input for this long pauses live views (tests set it short)


def live_id() -> str:
    """This session's id for the fair share (views.share): a random token kept in its session state."""
    return st.session_state.setdefault("_live_id", uuid.uuid4().hex)

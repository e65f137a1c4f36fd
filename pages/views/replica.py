"""Behind the classroom proxy (deploy/): tell a student whose session was lost with its server process.

In a class, N replicas of the app run behind nginx (deploy/classroom.py, deploy/nginx.conf.in). When a replica dies
(an out-of-memory kill, a native crash), nginx sends its students to a live one and the launcher restarts it; the
students' browsers reconnect on their own, but into a fresh session: their runs and uploads are gone, while the page
and its settings come back from the URL's query parameters. This module says so, once, in the page.

How a replica knows: the launcher gives each replica its own address in GENLIB_REPLICA (127.0.0.1:PORT, as nginx
names it), and nginx gives the browser a cookie, genlib_upstream, naming the replica that accepted its last websocket,
i.e. the one that held its session. A session's cookies are those of its websocket handshake (st.context.cookies),
sent before that handshake's answer updates the cookie. So at the start of a session:
- no cookie: the browser's first session (or cookies refused): nothing to say;
- the cookie names this replica: a reload or a reconnect here: nothing to say;
- the cookie names another replica: the browser's previous session lived there and that replica no longer took the
  browser (nginx moves a browser only when its replica refuses connections): a notice.
Without GENLIB_REPLICA (one server, `bash run.sh app`) this does nothing.
"""
from __future__ import annotations

import os
from datetime import timedelta

import streamlit as st

COOKIE = "genlib_upstream"  # set by nginx (deploy/nginx.conf.in)
ENV = "GENLIB_REPLICA"      # set by the launcher (deploy/classroom.py)
_CHECKED = "replica-checked"
# short enough for a toast to show whole (a longer text is cut after 3 lines behind "view more")
NOTICE = "Your server stopped; this is a fresh session on another one. Your link's settings are kept."


def moved_from() -> str | None:
    """The replica that held this browser's previous session, if it is another one than this; else None."""
    own = os.environ.get(ENV, "")
    last = st.context.cookies.get(COOKIE, "")
    return last if own and last and last != own else None


@st.fragment(run_every=timedelta(hours=1))
def _rerun_after_reconnect() -> None:
    """Draws nothing; it is there for its timer. Streamlit's browser side, when its websocket connects again, asks for
    a run of the page only if a run was under way or the page has a fragment with run_every (checked with 1.67:
    App.handleConnectionStateChanged); otherwise it assumes the server kept the session and waits for the next click.
    A browser moved to another replica would then go on showing its old page, served by nobody, until that click. With
    this fragment on every page the page runs again as soon as the browser is connected: on another replica a fresh
    session draws itself (and the notice), on the same one (nginx reloaded) the session just reruns. Its own timer
    fires once an hour: nothing to pay."""


def failover_notice() -> None:
    """Once per session, at its first run: a notice if the browser was moved here from a replica that stopped. It
    stays until the student closes it (a toast that went away by itself could be missed while the page redraws).
    Every run, behind the proxy: the fragment that makes a reconnected page run again."""
    if not os.environ.get(ENV):
        return
    with st.sidebar:
        _rerun_after_reconnect()
    if st.session_state.get(_CHECKED):
        return
    st.session_state[_CHECKED] = True
    if moved_from():
        st.toast(NOTICE, icon=":material/sync_problem:", duration="infinite")

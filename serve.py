"""The server: Streamlit's own ASGI app (st.App) running app.py, plus one thing it lacks.

    streamlit run serve.py [streamlit options] [-- --data-dir DIR]

A page opened by its own address (/ebm) does not tell Streamlit's browser code where the server's root is, so it
probes the page's path first: /ebm/_stcore/health and /ebm/_stcore/host-config answer 404 (on purpose, so that the
probe moves on to /), two failed requests per page load. The browser code takes the root from
`window.__streamlit.BACKEND_BASE_URL` when the page defines it; `BackendBaseUrl` writes that into every HTML page.

The same script keeps the theme chosen in the menu (Settings: Light, Dark, System) for the whole app. Streamlit's
browser code stores that choice in localStorage under `stActiveTheme-<path>-v2`, the path being the one the page was
loaded at (frontend/lib/src/util/storageUtils.ts, read once per load), so each page of a multipage app has its own: a
choice made on / was lost on a reload at /vae after moving there in the app, and on any link to another page. The
script copies the choice to one key for the app (`genlib-theme`) when Streamlit stores it, and from there to this
page's own key before Streamlit's code reads it.
"""
from __future__ import annotations

import contextlib
import os

# One torch/OpenMP/MKL thread per server unless GENLIB_THREADS says otherwise (why: app.py). Set here, when the server
# starts, and not only in app.py: by app.py's first run torch, and MKL with it, may already be loaded, and then MKL kept
# its default of one thread per core for every new script thread (each fragment run is one): the Gibbs chains cost
# 12.5 ms of server CPU per frame instead of 4.9, most of it a second MKL thread spinning (bench/bench_live.py).
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("GENLIB_THREADS", "1"))
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import streamlit as st  # noqa: E402
from streamlit import config  # noqa: E402
from starlette.datastructures import MutableHeaders  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402


# One theme for every page (see above). Runs before Streamlit's code, which reads the key of the page's own path once.
THEME = """(() => { try {
  const ls = window.localStorage, own = "stActiveTheme-" + location.pathname + "-v2", app = "genlib-theme";
  const chosen = ls.getItem(app);
  if (chosen !== null) ls.setItem(own, chosen);
  const setItem = Storage.prototype.setItem;
  Storage.prototype.setItem = function (key, value) {
    setItem.call(this, key, value);
    if (this === ls && key === own) setItem.call(this, app, value);
  };
} catch (e) {} })();"""


class BackendBaseUrl:
    """ASGI middleware: an HTML response gets, first thing in its <head>, the script that names the server's root."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        # the page itself is a few kB: it is sent uncompressed, so that its <head> can be found
        if any(k == b"accept" and b"text/html" in v for k, v in scope["headers"]):
            scope = {**scope, "headers": [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]}
        base = config.get_option("server.baseUrlPath").strip("/")  # a server under a path prefix names that path
        root = (scope.get("root_path") or "").rstrip("/") + ("/" + base if base else "") + "/"
        script = (f'<script>window.__streamlit = {{BACKEND_BASE_URL: new URL("{root}", location.href).href}};'
                  f"{THEME}</script>").encode()
        start, parts = None, []

        async def wrapped(message):
            nonlocal start
            if message["type"] == "http.response.start":
                if not MutableHeaders(raw=message["headers"]).get("content-type", "").startswith("text/html"):
                    return await send(message)
                start = message
                return None
            if start is None:
                return await send(message)
            parts.append(message.get("body", b""))
            if message.get("more_body"):
                return None
            body = b"".join(parts).replace(b"<head>", b"<head>" + script, 1)
            headers = MutableHeaders(raw=start["headers"])
            headers["content-length"] = str(len(body))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, wrapped)


# This app declares its pages with st.navigation (app.py). Streamlit only learns that when app.py first calls it: until
# then a new server takes the `pages/` folder beside app.py for the old multipage layout, and the very first request, if
# it is a page's own link (/rbm), runs pages/rbm.py alone, without app.py (its setup, its navigation). st.navigation
# sets this flag at every call; setting it once here makes a fresh server (a restarted class replica) answer its first
# link as it answers every later one.
with contextlib.suppress(ImportError, AttributeError):
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False

app = st.App("app.py", middleware=[Middleware(BackendBaseUrl)])

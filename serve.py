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

import streamlit as st
from streamlit import config
from starlette.datastructures import MutableHeaders
from starlette.middleware import Middleware


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


app = st.App("app.py", middleware=[Middleware(BackendBaseUrl)])

"""A student's browser without the browser: a minimal Streamlit client on the app's WebSocket (bench_class.py).

In class every student's browser runs on the student's own laptop. On this 2-core machine one Chromium rendering 30
pages takes both cores (30 Home pages: 40 s of 190-200 % CPU, the server at 1-10 %: bench/CLASS_PROFILE.md), so a
bench made only of real browsers measures the load generator. `Student` speaks Streamlit 1.67's protocol instead
(protobuf BackMsg/ForwardMsg on /_stcore/stream, the messages a browser sends, recorded from Chromium) and plays the
app's live views as their browser components do (pages/views/ticker.py, pages/views/flipbook.py): the server does
every bit of work a real session costs, the client only parses messages. What it cannot see: rendering, the
browser's own timing, images actually decoding; bench_class.py keeps a few real Chromium sessions for that.
"""
from __future__ import annotations

import asyncio
import json
import re
import time
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)


def key_of(widget_id: str) -> str:
    """The user key of a widget or component id ('$$ID-<hash>-rbm-chain-ticker' -> 'rbm-chain-ticker')."""
    return widget_id.split("-", 2)[2] if widget_id.startswith("$$ID-") else widget_id


class Student:
    """One session of the app: open a page, click, move a slider, and answer live views' asks like a browser."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.ws = None
        self.widgets: dict[str, str] = {}  # user key -> widget id (latest element seen)
        self.buttons: dict[tuple, tuple[str, str]] = {}  # delta path -> (label, widget id): the buttons shown now
        self.components: dict[str, dict] = {}  # user key -> {"id", "fragment", "data"} of the latest bidi component
        self.texts: dict[tuple, str] = {}  # delta path -> markdown body (what the page says now)
        self.sliders: dict[str, object] = {}  # user key -> Slider proto
        self.finished = asyncio.Condition()
        self.runs = 0  # script runs finished (full or fragment)
        self.status = None
        self.state: dict[str, WidgetState] = {}  # widget values this student set: sent again with every run
        self.query = ""
        self.page = ""
        self.exceptions = 0
        self.fetches: list[asyncio.Task] = []  # media files asked for (images the server stored), as a browser does
        self._reader = None
        self.cookies: list[str] = []
        self.media_errors = 0

    # ---- the connection --------------------------------------------------------------------------------------------

    async def connect(self) -> None:
        # a first GET as a browser does: behind the classroom proxy it carries the replica cookie (session affinity)
        def get():
            with urllib.request.urlopen(self.url + "/", timeout=60) as r:
                return [c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or []]
        cookies = self.cookies = await asyncio.to_thread(get)
        ws_url = re.sub(r"^http", "ws", self.url) + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=120,
                                           additional_headers={"Cookie": "; ".join(cookies)} if cookies else None,
                                           ping_interval=None)
        self._reader = asyncio.create_task(self._read())

    def _get(self, path: str) -> int:
        """Fetch a media file; a file already gone (the session's next run replaced it) is counted, not raised."""
        req = urllib.request.Request(self.url + path, headers={"Cookie": "; ".join(self.cookies)})
        try:
            with urllib.request.urlopen(req, timeout=120) as r:
                return len(r.read())
        except OSError:
            self.media_errors += 1
            return 0

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()

    async def _read(self) -> None:
        async for raw in self.ws:
            if isinstance(raw, str):
                continue
            msg = ForwardMsg()
            msg.ParseFromString(raw)
            kind = msg.WhichOneof("type")
            if kind == "delta":
                self._delta(msg)
            elif kind == "script_finished":
                async with self.finished:
                    self.runs += 1
                    self.status = msg.script_finished
                    self.finished.notify_all()

    def _delta(self, msg) -> None:
        d = msg.delta
        if d.WhichOneof("type") != "new_element":
            return
        el = d.new_element
        kind = el.WhichOneof("type")
        sub = getattr(el, kind)
        path = tuple(msg.metadata.delta_path)
        if kind == "markdown":
            self.texts[path] = sub.body
        elif kind == "imgs":  # image captions ("p(v|h) · step 12", "z[0] = 0.30 ..."); a browser fetches the files
            self.texts[path] = " | ".join(i.caption for i in sub.imgs)
            for i in sub.imgs:
                if i.url.startswith("/"):
                    self.fetches.append(asyncio.create_task(asyncio.to_thread(self._get, i.url)))
        elif kind == "exception":
            self.exceptions += 1
        elif kind == "button":
            self.buttons[path] = (sub.label, sub.id)
        elif kind == "bidi_component":
            data = json.loads(sub.json) if sub.WhichOneof("data") == "json" else None
            self.components[key_of(sub.id)] = {"id": sub.id, "fragment": d.fragment_id, "data": data}
        if kind == "slider":
            self.sliders[key_of(sub.id)] = sub
        if kind != "bidi_component" and getattr(sub, "id", ""):
            self.widgets[key_of(sub.id)] = sub.id

    # ---- runs ------------------------------------------------------------------------------------------------------

    async def rerun(self, extra: list[WidgetState] = (), fragment: str = "", timeout: float = 600) -> float:
        """Send one rerun request (the widget values set so far plus `extra`) and wait until the run it starts (and any
        rerun the app asks for itself) finished. Returns the seconds it took."""
        msg = BackMsg()
        rs = msg.rerun_script
        rs.query_string = self.query
        rs.page_name = self.page
        rs.widget_states.widgets.extend([*self.state.values(), *extra])
        if fragment:
            rs.fragment_id = fragment
        ctx = rs.context_info
        ctx.timezone, ctx.locale, ctx.url, ctx.color_scheme = "UTC", "en-US", f"{self.url}/{self.page}", "light"
        t0 = time.monotonic()
        async with self.finished:
            runs = self.runs
            await self.ws.send(msg.SerializeToString())
            await asyncio.wait_for(self.finished.wait_for(lambda: self.runs > runs and self.status in DONE), timeout)
        return time.monotonic() - t0

    async def open(self, page: str, query: str = "") -> float:
        """Open a page (as a link with `query` would): seconds until its first run finished."""
        self.page, self.query = page, query
        return await self.rerun()

    async def click(self, label: str, fragment: str = "") -> float:
        """Click the button whose label matches the regular expression `label`."""
        wid = next(i for lab, i in self.buttons.values() if re.search(label, lab))
        return await self.rerun([WidgetState(id=wid, trigger_value=True)], fragment)

    def has_button(self, label: str) -> bool:
        return any(re.search(label, lab) for lab, _ in self.buttons.values())

    async def slide(self, key: str, value: float) -> float:
        """Move the slider with user key `key` to `value` (kept for later runs, and in the URL as a browser does)."""
        self.state[key] = WidgetState(id=self.widgets[key])
        self.state[key].double_array_value.data.append(value)
        q = [p for p in self.query.split("&") if p and not p.startswith(key + "=")]
        self.query = "&".join(sorted([*q, f"{key}={value:g}"]))
        return await self.rerun()

    async def event(self, key: str, name: str, value) -> float:
        """A bidi component's trigger (what its setTriggerValue(name, value) sends), rerunning its fragment."""
        c = self.components[key]
        ev = WidgetState(id=f"$$STREAMLIT_INTERNAL_KEY_{c['id']}__events",
                         json_trigger_value=json.dumps([{"event": name, "value": value}]))
        return await self.rerun([ev], c["fragment"])

    def text(self, pattern: str) -> str | None:
        """The first group of `pattern` in what the page says now (markdown bodies)."""
        for body in self.texts.values():
            if m := re.search(pattern, body):
                return m.group(1)
        return None

    # ---- live views, as their components behave in a browser -------------------------------------------------------

    async def ticker(self, key: str, until: float, on_answer=None) -> int:
        """views.ticker: ask for the next tick `delay_ms` after each answer while the view is active. Returns the number
        of ticks answered before `until` (monotonic time)."""
        n = 0
        while time.monotonic() < until:
            data = self.components.get(key, {}).get("data") or {}
            if not data.get("active"):
                return n
            await asyncio.sleep(data.get("delay_ms", 0) / 1000)
            n += 1
            await self.event(key, "tick", n)
            if on_answer is not None:
                on_answer()
        return n

    async def flipbook(self, key: str, until: float) -> int:
        """views.flipbook: show one queued frame every 1/fps s, ask for more while a batch is still queued (again
        after 3 s without an answer), not before the fair share's gap. Returns the frames shown before `until`, or
        earlier once no frame came for 6 s (the chain reached its end: the caller may restart it)."""
        shown, queue, last, run, asked, not_before, seen = 0, 0, -1, None, 0.0, 0.0, None
        pending, fresh = None, time.monotonic()
        while time.monotonic() < until:
            if not queue and time.monotonic() - fresh > 6:  # nothing new for 6 s: the chain ended (or a stall)
                break
            c = self.components.get(key)
            data = c["data"] if c else None
            if data is not None and data is not seen:  # an answer (or a full rerun): take its new frames
                seen, fresh = data, time.monotonic()
                if data["run"] != run:
                    queue, last, run = 0, -1, data["run"]
                first, frames = data["first"], len(data["frames"])
                queue += sum(1 for i in range(frames) if first + i > last)
                last = max(last, first + frames - 1)
                low, asked, not_before = frames, 0.0, time.monotonic() + data.get("gap_ms", 0) / 1000
            fps = data["fps"] if data else 12.0
            await asyncio.sleep(1 / fps)
            if queue:
                queue -= 1
                shown += 1
            now = time.monotonic()
            if data is not None and queue <= low and now - asked > 3 and now >= not_before and (
                    pending is None or pending.done()):
                asked = now
                pending = asyncio.create_task(self.event(key, "more", last))
        if pending is not None and not pending.done():
            pending.cancel()
        return shown

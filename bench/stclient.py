"""A student's browser without the browser: a minimal Streamlit client on the app's WebSocket (bench_class.py).

In class every student's browser runs on the student's own laptop. On this 2-core machine one Chromium rendering 30
pages takes both cores (30 Home pages: 40 s of 190-200 % CPU, the server at 1-10 %: bench/CLASS_PROFILE.md), so a
bench made only of real browsers measures the load generator. `Student` speaks Streamlit 1.67's protocol instead
(protobuf BackMsg/ForwardMsg on /_stcore/stream, the messages a browser sends, recorded from Chromium) and plays the
app's live views as their browser component does (pages/views/live.js: `LiveView`, `Student.live`): the server does
every bit of work a real session costs, the client only parses messages. What it cannot see: rendering, the
browser's own timing, frames actually decoded and drawn; bench_class.py keeps a few real Chromium sessions for that.
"""
from __future__ import annotations

import asyncio
import collections
import contextlib
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


class LiveView:
    """The browser side of one live view (pages/views/live.js, the genlib_live component), without the drawing: the
    one copy of its policy here. `render(data)` is the component's render with new data, `tick()` its timer.

    Each answer (a new `seq`) takes the new frames (queued to play when `play`, else shown at once; a new `run` or a
    gap in the frame numbers starts over; the oldest go past `keep`), sets the next ask's earliest time to `gap_ms`
    from now and the low-water mark `low` to half the batch, and asks "resend" when frames or the scene are missing.
    The timer runs at `fps` (every 100 ms with fps = 0), re-armed by each render as setInterval is; each tick shows
    one queued frame and, while the mode is "playing", at most `low` frames are queued, the wait is over and no ask is
    in flight (or the last went 20 s ago unanswered), sends the trigger `event` = {"what": "more", "n": n}. The
    emulated student is always there and looking: it never reports "idle" or "hidden". Frames are counted, not
    decoded."""

    def __init__(self, send):
        self._send = send  # send(value): the component's setTriggerValue("event", value)
        self.data, self.mode, self.run, self.seq, self.scene = None, None, None, None, None
        self.base, self.held, self.queue, self.low, self.n = 0, 0, collections.deque(), 1, 0
        self.asked, self.not_before, self.period, self.next_tick = 0.0, 0.0, 0.1, time.monotonic()
        self.shown = self.received = self.asks = self.answers = self.waits = self.resends = 0
        self.answer_run = 0  # Student.runs when the last answer came (its run finishes after it)

    def send(self, what: str) -> None:
        self.asked, self.n = time.monotonic(), self.n + 1
        self.asks += 1
        self._send({"what": what, "n": self.n})

    def render(self, d: dict, runs: int) -> None:
        now = time.monotonic()
        fresh = d.get("seq") != self.seq
        if d.get("run") != self.run:  # new chains or a new run: start over
            self.run, self.held, self.base, self.scene = d.get("run"), 0, 0, None
            self.queue.clear()
        if d.get("scene") and self.scene != d["scene"].get("id"):
            self.scene = d["scene"].get("id")
        for f in d.get("frames") or []:
            nxt = self.base + self.held
            if self.held and f["i"] < nxt:
                continue  # held already
            if not self.held or f["i"] > nxt:  # a gap: start again here
                self.held, self.base = 0, f["i"]
                self.queue.clear()
            self.held += 1
            self.received += 1
            if d.get("play"):
                self.queue.append(f["i"])
        over = self.held - (d.get("keep") or 1000)  # the server's window: the oldest frames go
        if over > 0:
            self.held, self.base = self.held - over, self.base + over
            while self.queue and self.queue[0] < self.base:
                self.queue.popleft()
        self.data, self.mode = d, d.get("mode")
        if fresh:  # an answer (or a full rerun): the next ask may go once the fair-share wait is over
            self.seq, self.asked, self.not_before = d.get("seq"), 0.0, now + d.get("gap_ms", 0) / 1000
            self.low = max(1, len(d.get("frames") or []) // 2)
            self.answers, self.answer_run = self.answers + 1, runs
            if d.get("mode") == "hidden":  # the emulated tab is always visible: say so, as live.js does
                self.send("visible")
            if d.get("run") and ((d.get("count", 0) > 0 and not self.held) or (d.get("scene_id") and not self.scene)):
                self.resends += 1
                self.send("resend")
        self.period = 1 / d["fps"] if d.get("fps", 0) > 0 else 0.1
        self.next_tick = now + self.period

    def tick(self, now: float) -> None:
        if self.queue:
            self.queue.popleft()
            self.shown += 1  # live.js's data-shown: what the benches count
        elif self.mode == "playing":
            self.waits += 1
        if self.mode != "playing" or len(self.queue) > self.low or now < self.not_before:
            return
        if self.asked and now - self.asked < 20:
            return
        self.send("more")


class Student:
    """One session of the app: open a page, click, move a slider, and answer live views' asks like a browser."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")
        self.ws = None
        self.widgets: dict[str, str] = {}  # user key -> widget id (latest element seen)
        self.buttons: dict[tuple, tuple[str, str]] = {}  # delta path -> (label, widget id): the buttons shown now
        self.components: dict[str, dict] = {}  # user key -> {"id", "fragment", "data"} of the latest bidi component
        self.views: dict[str, LiveView] = {}  # user key -> a live view's browser side (live())
        self.pending: list[asyncio.Task] = []  # component triggers sent and not answered yet
        self.updated = asyncio.Event()  # set whenever a bidi component's data arrives (live() wakes on it)
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
        for t in self.pending:  # asks still in flight: nobody waits for their answers any more
            t.cancel()
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
                self.updated.set()

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
        elif kind == "bidi_component":  # CCv2: a dict of plain values travels as JSON (with dataframes: "mixed")
            which = sub.WhichOneof("data")
            data = (json.loads(sub.json) if which == "json" else json.loads(sub.mixed.json) if which == "mixed"
                    else None)
            key = key_of(sub.id)
            self.components[key] = {"id": sub.id, "fragment": d.fragment_id, "data": data}
            if sub.component_name.endswith("genlib_live") and isinstance(data, dict):  # the browser renders it now
                if key not in self.views:
                    self.views[key] = LiveView(lambda value, key=key: self._trigger(key, "event", value))
                self.views[key].render(data, self.runs)
            self.updated.set()
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

    def _trigger(self, key: str, name: str, value) -> None:
        """setTriggerValue from a component's code: sent now, its rerun awaited in the background."""
        self.pending = [t for t in self.pending if not t.done()]
        self.pending.append(asyncio.create_task(self.event(key, name, value)))

    def text(self, pattern: str) -> str | None:
        """The first group of `pattern` in what the page says now (markdown bodies)."""
        for body in self.texts.values():
            if m := re.search(pattern, body):
                return m.group(1)
        return None

    # ---- live views, as their components behave in a browser -------------------------------------------------------

    async def live(self, key: str, until: float, on_answer=None) -> LiveView:
        """Play the live view (views.live) whose genlib_live component has user key `key` (e.g. "lv-s-live") as the
        browser does: its data is taken as it arrives (LiveView.render, in the message reader) and here its timer runs
        (LiveView.tick: one frame shown per 1/fps s, the asks). Returns the view's LiveView (counters `shown`,
        `received`, `asks`, `answers`, `waits`, `resends`; `mode`, `data`: the last data) at `until` (monotonic time),
        or earlier once the view stopped playing (mode "paused", "finished", "idle", "hidden") and nothing is queued:
        the caller may press Play or Replay. The view's state lives on (self.views[key]) as the component's does in
        the browser, so a later call goes on where this one stopped. `on_answer()` runs once the script run of each
        answer finished (what the page says then: self.text)."""
        v = self.views.get(key)
        if v is None:
            raise KeyError(f"no live component {key!r} on the page (components: {sorted(self.components)})")
        called = v.answers
        while True:
            self.updated.clear()
            now = time.monotonic()
            if on_answer is not None and v.answers > called and self.runs > v.answer_run:
                called = v.answers
                on_answer()
            if now >= until or (v.mode != "playing" and not v.queue):
                return v
            if now >= v.next_tick:  # setInterval: late ticks are not made up for
                v.next_tick = v.next_tick + v.period if now - v.next_tick < v.period else now + v.period
                v.tick(now)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.updated.wait(), min(v.next_tick, until) - now)

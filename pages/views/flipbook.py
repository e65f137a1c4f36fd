"""The flipbook: a small browser component that plays batches of animation frames on its own timer. It asks for more
frames only while the tab is visible and someone interacted in the last few minutes (views.ticker's rule), and no
sooner than the process's fair share allows (genlib.share)."""
from __future__ import annotations

import time

import streamlit as st

from pages.views import setup, ticker

# Streamlit calls the default export again with each new `data` on the same parentElement, and the returned
# cleanup once on unmount: the player's state (queue, timer) lives on parentElement.
_FLIPBOOK_JS = ticker.LIVENESS_JS + """
export default function ({ data, parentElement, setTriggerValue }) {
  let fb = parentElement.flipbook;
  if (!fb) {  // first call: an image, a caption and one timer that shows the next queued frame per tick
    const root = document.createElement("div");
    root.className = "flipbook";
    root.dataset.shown = root.dataset.waits = "0";
    root.innerHTML = '<div class="head"></div><div class="paused" hidden><span></span><button type="button">Resume' +
                     '</button></div><img alt="animation frame"><div class="cap"></div>';
    parentElement.appendChild(root);
    fb = parentElement.flipbook = { root, img: root.querySelector("img"), cap: root.querySelector(".cap"),
                                    queue: [], run: null, last: -1, asked: 0, paused: null, notBefore: 0,
                                    box: root.querySelector(".paused") };
    fb.pause = (why) => {  // hidden tab or nobody there: ask for nothing more, say so
      fb.paused = why;
      fb.root.dataset.paused = why || "";
      fb.box.hidden = !why;
      if (why) fb.box.querySelector("span").textContent = pauseText(why, fb.idle);
    };
    fb.box.querySelector("button").onclick = () => { liveness().last = Date.now(); fb.pause(null); };
    fb.onVis = () => { if (document.visibilityState === "visible" && fb.paused === "hidden") fb.pause(null); };
    document.addEventListener("visibilitychange", fb.onVis);
    fb.timer = setInterval(() => {
      const f = fb.queue.shift();
      if (f) {
        fb.img.src = f.src;
        fb.cap.textContent = f.caption;
        fb.root.dataset.shown = String(+fb.root.dataset.shown + 1);  // frames displayed: what the bench counts
      } else {
        fb.root.dataset.waits = String(+fb.root.dataset.waits + 1);  // ticks with no frame ready (server too slow)
      }
      // ask the server for the next batch while a batch is still queued (again after 3 s if no answer came), not
      // before the fair-share wait, and not while the tab is hidden or nobody is there
      if (fb.queue.length <= fb.low && Date.now() - fb.asked > 3000 && Date.now() >= fb.notBefore) {
        const why = pauseReason(fb.idle);
        if (why || fb.paused) { if (!fb.paused) fb.pause(why); return; }
        fb.asked = Date.now();
        fb.more("more", fb.last);
      }
    }, 1000 / data.fps);
  }
  if (data.run !== fb.run) { fb.queue = []; fb.run = data.run; fb.last = -1; }  // new chains: start over
  data.frames.forEach((src, i) => {
    if (data.first + i > fb.last) fb.queue.push({ src, caption: data.captions[i] });
  });
  fb.last = Math.max(fb.last, data.first + data.frames.length - 1);
  fb.low = data.frames.length;
  fb.asked = 0;  // an answer came: the next ask may go once the fair-share wait is over
  fb.notBefore = Date.now() + (data.gap_ms || 0);
  fb.idle = data.idle_ms;
  fb.more = setTriggerValue;
  fb.root.querySelector(".head").textContent = data.head;
  fb.img.width = data.width;
  return () => { clearInterval(fb.timer); document.removeEventListener("visibilitychange", fb.onVis); };
}
"""
_FLIPBOOK_CSS = """
.flipbook img { display: block; max-width: 100%; height: auto; }
.flipbook .head, .flipbook .cap { font-size: 0.875rem; color: var(--st-text-color); opacity: 0.6; margin: 0.25rem 0; }
.flipbook .paused { font-size: 0.875rem; font-weight: 600; color: var(--st-text-color); margin: 0.25rem 0; }
.flipbook .paused button { margin-left: 0.75rem; padding: 0.1rem 0.75rem; border-radius: 0.5rem; cursor: pointer;
  border: 1px solid var(--st-primary-color); background: transparent; color: var(--st-text-color); font: inherit; }
"""

_flipbook = st.components.v2.component("genlib_flipbook", js=_FLIPBOOK_JS, css=_FLIPBOOK_CSS, isolate_styles=False)


def jpeg_data_url(img) -> str:
    """An RGB uint8 array [H, W, 3] as a JPEG data URL: quality 90 without chroma subsampling keeps small colored
    dots crisp, and encodes about four times faster than PNG (2 ms for 730 x 360 pixels)."""
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=90, subsampling=0)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def flipbook(frames: list, captions: list[str], first: int, run, key: str, fps: float = 12.0, head: str = "",
             spent: float | None = None) -> None:
    """Play a batch of animation frames in the browser at `fps`, independent of the server's round trips.

    `frames` are RGB uint8 arrays (one image each, sent as JPEG), `captions` one text line each, `first` the number of the
    first frame of the batch (frames the browser already has are skipped), `run` an id that changes when the
    animation starts over. The browser shows one queued frame per tick and, while a batch is still queued,
    asks for the next one: that reruns the calling fragment, which should advance and call flipbook again.
    It asks only while the tab is visible and someone interacted within views.ticker.IDLE_S (else it says why it
    paused, with a Resume button). `spent`: the server seconds this batch took; with several live sessions the next
    ask then waits for this session's fair share (genlib.share) and the head line says so."""
    share, who = setup.fair_share(), (ticker.live_id(), key)
    n = share.enter(who)
    gap = 0.0
    if spent is not None and frames:
        period = len(frames) / fps  # the time the browser takes to show this batch
        # this run's CPU seconds so far: Streamlit runs each script or fragment run in a thread of its own (and the
        # thread may have served an earlier run too: never more than the batch's wall time)
        busy = min(time.thread_time(), spent)
        gap = max(share.delay(spent, period, n, busy) - period, 0.0)  # wait beyond the batch's own play time
        if n > 1 and gap > 0:
            head += (f" Shared mode: {n} live sessions, about {len(frames) / (spent + period + gap):.1f} frames/s "
                     "each.")
    _flipbook(key=key, data={"frames": [jpeg_data_url(f) for f in frames], "captions": captions, "first": int(first),
                             "run": run, "fps": fps, "head": head, "width": int(frames[0].shape[1]) if frames else 0,
                             "gap_ms": int(1000 * gap), "idle_ms": int(1000 * ticker.IDLE_S)},
              on_more_change=lambda: None)  # the browser's "more" event reruns the fragment (nothing else to do)

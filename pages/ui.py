"""Widgets and cached resources shared by the pages. The pages stay thin; the work lives in genlib."""
from __future__ import annotations

import copy
import os
import sys
import time

import streamlit as st
import torch

from genlib import checkpoints, data as gdata
from genlib.train import TrainConfig, Trainer

LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 10.0, 1e2, 1e4]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
TICK_SECONDS = 0.1  # optimizer work per live tick; the redraw comes on top, well under 300 ms in all


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
    return checkpoints.load(checkpoints.resolve(name))


def pretrained_copy(name: str) -> torch.nn.Module | None:
    """A private, trainable copy of a bundled checkpoint, or None with an error box."""
    try:
        return copy.deepcopy(pretrained(name))
    except checkpoints.CheckpointError as e:
        st.error(f"Could not load the pretrained model: {e}")
        return None


def ensure_app_navigation() -> None:
    """Make a first visit straight to a page URL run through app.py's st.navigation.

    Streamlit treats a folder named `pages/` next to the main script as old-style (v1) pages until
    `st.navigation` has run once in the process; a fresh server's first visit to /autoencoder would then run
    the page on its own, with the wrong sidebar. Clearing that flag and rerunning routes through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if not st.session_state.get("_via_app") and not st.session_state.get("_nav_fixed"):
        st.session_state["_nav_fixed"] = True  # once per session: never loop, never swallow a later click
        PagesManager.uses_pages_directory = False
        st.rerun()


def header(title: str, what: str, equations: list[str], mn: gdata.MNIST | None = None) -> None:
    """Page title, the 'What you see' box with the math, and the data set in use."""
    ensure_app_navigation()
    torch_threads()
    st.title(title)
    with st.expander("What you see", expanded=False):
        st.markdown(what)
        for eq in equations:
            st.latex(eq)
    if mn is not None:
        st.caption(f"Data: {mn.description}")
        if mn.notice:
            st.warning(mn.notice)


def session(key: str, factory):
    """Guarded session-state init: build the value once per session."""
    if key not in st.session_state:
        st.session_state[key] = factory()
    return st.session_state[key]


def new_trainer(model: torch.nn.Module, mn: gdata.MNIST, lr: float, batch_size: int, seed: int = 0, **kw) -> Trainer:
    return Trainer(model, mn.train.images, TrainConfig(lr=lr, batch_size=batch_size, seed=seed, **kw))


def live_tick(trainer: Trainer, val: torch.Tensor, budget: float = TICK_SECONDS, max_steps: int = 200) -> dict | None:
    """One tick of live training: optimizer steps for about `budget` seconds, then validation metrics.

    Plain function (no Streamlit), so tests call it directly; the page calls it from its fragment.
    """
    t0 = time.perf_counter()
    rec = trainer.run(max_steps, time_budget=budget)
    if rec is not None:
        trainer.validate(val)
        rec["tick_ms"] = 1000 * (time.perf_counter() - t0)
    return rec


def run_buttons(state: dict, flag: str, keys: tuple[str, str, str], labels: tuple[str, str], helps: tuple[str, str, str]
                ) -> tuple[bool, bool]:
    """A run/pause toggle of `state[flag]`, a single step and a reset-like button, in one row (outside any
    fragment). `labels` names the first button when paused and the third. Returns (step clicked, third clicked)."""
    c1, c2, c3 = st.columns(3)
    on = state.get(flag, False)
    if c1.button("Pause" if on else labels[0], key=keys[0], width="stretch", type="primary",
                 icon=":material/pause:" if on else ":material/play_arrow:", help=helps[0]):
        state[flag] = not on
        st.rerun()
    step = c2.button("Step", key=keys[1], width="stretch", icon=":material/skip_next:", help=helps[1])
    third = c3.button(labels[1], key=keys[2], width="stretch", icon=":material/restart_alt:", help=helps[2])
    return step, third


def train_buttons(key: str, state: dict) -> tuple[bool, bool]:
    """Start/pause toggle, single step, reset. Returns (step clicked, reset clicked)."""
    return run_buttons(state, "running", (f"{key}-run", f"{key}-step", f"{key}-reset"), ("Start", "Reset"), (
        "Start or pause live training; while running the model trains a little every tick.",
        "Run a single tick of training (as many optimizer steps as fit in a tick).",
        "Throw this run away and start from fresh random weights with the sidebar settings."))


def checkpoint_bytes(trainer: Trainer, dataset: str) -> bytes:
    """The current model and trainer state as the bytes of a .safetensors checkpoint."""
    tensors, scalars = trainer.state()
    last = trainer.history[-1] if trainer.history else {}
    return checkpoints.to_bytes(trainer.model, dataset=dataset, steps=trainer.step_count,
                                metrics={k: v for k, v in last.items() if k.startswith(("train_", "val_"))},
                                command="trained live in the app", extra_tensors=tensors,
                                extra_meta={"trainer": scalars})


def checkpoint_download(trainer: Trainer, mn: gdata.MNIST, file_name: str, key: str) -> None:
    """A download button that serializes the model at the moment of the click."""
    st.download_button("Save checkpoint", lambda: checkpoint_bytes(trainer, mn.description), file_name=file_name,
                       mime="application/octet-stream", key=key, on_click="ignore", icon=":material/download:",
                       help="Download the current model (with its optimizer state) as a .safetensors checkpoint; "
                       "`python -m genlib info FILE` reads it and `genlib.load(FILE)` loads it.")


def checkpoint_upload(kind: str, key: str) -> torch.nn.Module | None:
    """A file uploader for a .safetensors checkpoint of `kind`; returns the model, or None (an error box if bad)."""
    up = st.file_uploader(f"Open a {kind} checkpoint (.safetensors)", type=None, key=key,
                          help="A checkpoint saved from this page or written by `python -m genlib train`. "
                          "Safetensors only: loading never runs code from the file.")
    if up is None:
        return None
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "upload.safetensors"
        path.write_bytes(up.getvalue())
        try:
            return checkpoints.load(path, kind=kind)
        except checkpoints.CheckpointError as e:
            st.error(f"Could not open {up.name}: {str(e).replace(str(path) + ': ', '')}")
            return None


# ---- Flipbook: animation frames played by the browser ----------------------------------------------------------

# Streamlit calls the default export again with each new `data` on the same parentElement, and the returned
# cleanup once on unmount: the player's state (queue, timer) lives on parentElement.
_FLIPBOOK_JS = """
export default function ({ data, parentElement, setTriggerValue }) {
  let fb = parentElement.flipbook;
  if (!fb) {  // first call: an image, a caption and one timer that shows the next queued frame per tick
    const root = document.createElement("div");
    root.className = "flipbook";
    root.dataset.shown = root.dataset.waits = "0";
    root.innerHTML = '<div class="head"></div><img alt="animation frame"><div class="cap"></div>';
    parentElement.appendChild(root);
    fb = parentElement.flipbook = { root, img: root.querySelector("img"), cap: root.querySelector(".cap"),
                                    queue: [], run: null, last: -1, asked: 0 };
    fb.timer = setInterval(() => {
      const f = fb.queue.shift();
      if (f) {
        fb.img.src = f.src;
        fb.cap.textContent = f.caption;
        fb.root.dataset.shown = String(+fb.root.dataset.shown + 1);  // frames displayed: what the bench counts
      } else {
        fb.root.dataset.waits = String(+fb.root.dataset.waits + 1);  // ticks with no frame ready (server too slow)
      }
      // ask the server for the next batch while a batch is still queued (again after 3 s if no answer came)
      if (fb.queue.length <= fb.low && Date.now() - fb.asked > 3000) {
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
  fb.asked = 0;  // an answer came: the next ask may go at once
  fb.more = setTriggerValue;
  fb.root.querySelector(".head").textContent = data.head;
  fb.img.width = data.width;
  return () => clearInterval(fb.timer);
}
"""
_FLIPBOOK_CSS = """
.flipbook img { display: block; max-width: 100%; height: auto; }
.flipbook .head, .flipbook .cap { font-size: 0.875rem; color: var(--st-text-color); opacity: 0.6; margin: 0.25rem 0; }
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


def flipbook(frames: list, captions: list[str], first: int, run, key: str, fps: float = 12.0, head: str = "") -> None:
    """Play a batch of animation frames in the browser at `fps`, independent of the server's round trips.

    `frames` are RGB uint8 arrays (one image each, sent as JPEG), `captions` one text line each, `first` the number of the
    first frame of the batch (frames the browser already has are skipped), `run` an id that changes when the
    animation starts over. The browser shows one queued frame per tick and, while a batch is still queued,
    asks for the next one: that reruns the calling fragment, which should advance and call flipbook again."""
    _flipbook(key=key, data={"frames": [jpeg_data_url(f) for f in frames], "captions": captions, "first": int(first),
                             "run": run, "fps": fps, "head": head, "width": int(frames[0].shape[1]) if frames else 0},
              on_more_change=lambda: None)  # the browser's "more" event reruns the fragment (nothing else to do)

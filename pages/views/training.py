"""Training controls: hyperparameter choices, a trainer for the data in use, run/step/reset buttons, checkpoint
download and upload. The live tick itself is `Trainer.tick` (genlib/train.py)."""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import streamlit as st
import torch

from genlib import checkpoints, limits, models
from genlib import data as gdata
from genlib.train import TrainConfig, Trainer
from pages.views import live as live_view
from pages.views import setup, untrusted

LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 10.0, 1e2, 1e4]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]


def new_trainer(model: torch.nn.Module, mn: gdata.MNIST, lr: float, batch_size: int, seed: int = 0, **kw) -> Trainer:
    return Trainer(model, mn.train.images, TrainConfig(lr=lr, batch_size=batch_size, seed=seed, **kw))


def run_buttons(state: dict, flag: str, keys: tuple[str, str, str], labels: tuple[str, str], helps: tuple[str, str, str],
                space: str | None = None) -> tuple[bool, bool]:
    """A run/pause toggle of `state[flag]`, a single step and a reset-like button, in one row (outside any
    fragment), labelled from the live view's state (views.live.buttons). Returns (step clicked, third clicked)."""
    step, third, _ = live_view.buttons(state, flag, keys, labels, helps, space=space)
    return step, third


def train_buttons(key: str, state: dict) -> tuple[bool, bool]:
    """Start/pause toggle, single step, reset. Returns (step clicked, reset clicked)."""
    return run_buttons(state, "running", (f"{key}-run", f"{key}-step", f"{key}-reset"), ("Start", "Reset"), (
        "Start or pause live training; while running the model trains a little every tick.",
        "Run a single tick of training (as many optimizer steps as fit in a tick).",
        "Throw this run away and start from fresh random weights with the sidebar settings."))


def checkpoint_bytes(trainer: Trainer, dataset: str) -> bytes:
    """The run as the bytes `python -m genlib train` writes (the weight average when the run keeps one)."""
    return trainer.to_bytes(dataset=dataset, command="trained live in the app")


def checkpoint_name(stem: str, trainer: Trainer) -> str:
    """The download's file name: the model and its step count, e.g. ae-code2-step0.safetensors."""
    return f"{stem}-step{trainer.step_count}.safetensors"


def checkpoint_download(state: dict, mn: gdata.MNIST, stem: str, key: str) -> None:
    """"Save checkpoint": the model the page shows, named checkpoint_name(stem, trainer). Call it after the page has
    applied this run's Step, Reset, upload or pretrained button, so that name and model are those of the run shown.
    The file is written at the click from the trainer of this run; while training runs the model changes every tick,
    so the button waits for a pause (the name then holds the exact step count of the file)."""
    trainer, running = state["trainer"], state.get("running", False)
    st.download_button("Save checkpoint", lambda: checkpoint_bytes(trainer, mn.description),
                       file_name=checkpoint_name(stem, trainer), mime="application/octet-stream", key=key,
                       on_click="ignore", icon=":material/download:", disabled=running,
                       help=("Pause first: the file then holds exactly the model shown, with its step count in the name."
                             if running else f"Download this model after {trainer.step_count} steps (with its "
                             "optimizer state) as a .safetensors checkpoint; `python -m genlib info FILE` reads it and "
                             "`genlib.load(FILE)` loads it."))


_UPLOAD = "the file"  # how open_checkpoint names an upload to the library
UPLOAD_MB = math.ceil(limits.MAX_UPLOAD_BYTES / 2**20)  # Streamlit's unit for uploads is the MiB


def checkpoint_upload(kind: str, key: str) -> torch.nn.Module | None:
    """A file uploader for a .safetensors checkpoint of `kind`; returns the model, or None (an error box if bad).

    The size is checked before the file is read (genlib.limits.MAX_UPLOAD_BYTES; the browser and the server refuse
    larger files already, see .streamlit/config.toml), and genlib checks the file's header and config before it
    allocates anything. A file that failed is remembered, so a rerun shows its error without reading it again."""
    up = st.file_uploader(f"Open a checkpoint of kind {kind} (.safetensors)", type=None, key=key, max_upload_size=UPLOAD_MB,
                          help="A checkpoint saved from this page or written by `python -m genlib train`, at most "
                          f"{limits.MAX_UPLOAD_BYTES / 1e6:g} MB ({UPLOAD_MB} MiB). Safetensors only: loading never "
                          "runs code from the file.")
    if up is None:
        return None
    failed = st.session_state.get(f"{key}-failed")
    if failed is not None and failed[0] == up.file_id:
        problem, model = failed[1], None
    else:
        model, problem = open_checkpoint(up.name, up.size, up.getvalue, kind)
        st.session_state[f"{key}-failed"] = (up.file_id, problem) if problem else None
    if problem:
        untrusted.error(problem)
    return model


def new_upload(kind: str, key: str) -> tuple[torch.nn.Module, str] | None:
    """(the model, the file's name) when a checkpoint file was just uploaded, once per upload: the page then replaces
    its model. Uploads are told apart by Streamlit's file id, not by the model's settings, so a second file with the
    same config (or the same file again) replaces the run too."""
    model = checkpoint_upload(kind, key)
    up = st.session_state.get(key)
    if model is None or up is None or st.session_state.get(f"{key}-adopted") == up.file_id:
        return None
    st.session_state[f"{key}-adopted"] = up.file_id
    return model, up.name


def open_checkpoint(name: str, size: int, read: Callable[[], bytes], kind: str) -> tuple[torch.nn.Module | None, str | None]:
    """(the model, None) or (None, a message naming the file and the problem) for an uploaded checkpoint of `size`
    bytes; read() gives its bytes and is called only when the size is within the limit."""
    if size > limits.MAX_UPLOAD_BYTES:
        return None, (f"Could not open {name}: the file has {size / 1e6:,.1f} MB, over the limit of "
                      f"{limits.MAX_UPLOAD_BYTES / 1e6:g} MB for checkpoint uploads (genlib.limits.MAX_UPLOAD_BYTES).")
    try:  # the library's errors start with the name it is given; the file's own name is put in front here, as given
        return models.from_bytes(read(), _UPLOAD, kind=kind), None
    except (checkpoints.CheckpointError, ValueError) as e:
        return None, f"Could not open {name}: {str(e).removeprefix(_UPLOAD + ': ')}"
    except MemoryError:
        return None, f"Could not open {name}: the model it describes does not fit in this server's memory."


def safe_tick(state: dict, tick: Callable[[], dict | None]) -> dict | None:
    """tick() (a Trainer.tick of the page). A failure the library did not turn into a rollback message pauses the
    run with an error box (state["failure"], shown by `live`) instead of a traceback: the page stays usable."""
    try:
        rec = tick()
    except Exception as e:  # noqa: BLE001 - anything a tick raises: pause and say so, keep the page
        state["running"] = False
        state["failure"] = (f"Training paused: this tick failed ({type(e).__name__}: {str(e)[:300]}). Change the "
                            "settings (a smaller learning rate, fewer steps) and press Step or Start, or Reset.")
        return None
    state["failure"] = None
    return rec


def catch_up(run: Trainer, other: Trainer, advance: Callable[[int], dict | None] | None = None,
             name: str = "the run beside") -> None:
    """Two runs side by side in lockstep (a lesson's comparison): after a tick of `run`, `other` trains as many steps
    as it is behind (advance(n); default other.tick(None, budget=None, max_steps=n)), so both are always at the same
    step and differ only by what the lesson compares. A failure of `other` raises: safe_tick pauses and says so."""
    behind = run.step_count - other.step_count
    step = advance or (lambda n: other.tick(None, budget=None, max_steps=n))
    if behind > 0 and step(behind) is None:
        raise RuntimeError(f"{name} stopped: {other.message}")


def live(state: dict, tick: Callable[[float | None], dict | None], draw: Callable[[Trainer], None],
         every: float = 0.4) -> None:
    """Live training as a live view (views.live): while state["running"], tick(budget) about every `every` seconds
    (`budget`: this session's fair slice in seconds when the server is shared, None when alone: the page's own
    budget); a tick that diverged or failed (None) stops the run with a full rerun, so the Start button comes back.
    Every run draws the run's message (divergence, rollback, failure) and draw(trainer); the status line above says
    what the server is doing (the step, the tick's time, the rate, a slow step's duration, shared mode) or why the
    run is paused. The tick is a plain call (Trainer.tick) that tests make directly; pages call it through safe_tick
    for the Step button too."""

    def advance(budget: float | None) -> bool:
        tr = state["trainer"]
        before, t0 = tr.step_count, time.perf_counter()
        rec = safe_tick(state, lambda: tick(budget))
        spent = time.perf_counter() - t0
        if rec is None:
            return False
        if tr.step_count > before:  # with the tick's validation: what one step costs here
            state["_step_s"] = spent / (tr.step_count - before)
        state["_tick_s"] = spent
        state["_steps"] = (state.get("_steps", []) + [(time.monotonic(), tr.step_count)])[-8:]
        return True

    def note(_rate: float, _ms: float) -> str:
        tr, times = state["trainer"], state.get("_steps", [])
        dt = times[-1][0] - times[0][0] if len(times) > 1 else 0.0
        rate = (times[-1][1] - times[0][1]) / dt if dt > 0 else 0.0
        # (not "last tick N ms": bench/bench_class.py reads the page's own caption by that phrase)
        text = f"Training: step {tr.step_count}, this tick {1000 * state.get('_tick_s', 0.0):.0f} ms"
        if rate:
            text += f", about {rate:.0f} steps/s" if rate >= 10 else f", about {rate:.2g} steps/s"
        step_s = state.get("_step_s", 0.0)
        if step_s > max(every, 0.5) and len(times) > 2:  # not from the first tick (torch's warm-up)
            text += f"; one step takes {step_s:.1f} s on this machine"
        return text

    def panels() -> None:
        tr = state["trainer"]
        if state.get("failure"):
            untrusted.error(state["failure"])
        elif tr.message:
            untrusted.error(tr.message)
        draw(tr)

    if not state.get("running"):
        state.pop("_steps", None)
    live_view.view(state, "train-live", advance, flag="running", what="training", every=every, draw=panels,
                   note=note, status_first=True)


def pretrained_button(state: dict, name: str, label: str, help: str, make_trainer: Callable[[torch.nn.Module], Trainer],
                      container=st) -> None:
    """A button that replaces the run in `state` by a private copy of the bundled checkpoint `name`, trained on by
    make_trainer(model) (an error box if it cannot be loaded)."""
    if container.button(label, width="stretch", icon=":material/inventory_2:", help=help):
        model = setup.pretrained_copy(name)
        if model is not None:
            state.update(trainer=make_trainer(model), running=False, source=name)

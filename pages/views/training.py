"""Training controls: hyperparameter choices, a trainer for the data in use, run/step/reset buttons, checkpoint
download and upload. The live tick itself is `Trainer.tick` (genlib/train.py)."""
from __future__ import annotations

from typing import Callable

import streamlit as st
import torch

from genlib import checkpoints, data as gdata, models
from genlib.train import TrainConfig, Trainer
from pages.views import setup

LEARNING_RATES = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1.0, 10.0, 1e2, 1e4]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]


def new_trainer(model: torch.nn.Module, mn: gdata.MNIST, lr: float, batch_size: int, seed: int = 0, **kw) -> Trainer:
    return Trainer(model, mn.train.images, TrainConfig(lr=lr, batch_size=batch_size, seed=seed, **kw))


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
    """The run as the bytes `python -m genlib train` writes (the weight average when the run keeps one)."""
    return trainer.to_bytes(dataset=dataset, command="trained live in the app")


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
    try:
        return models.from_bytes(up.getvalue(), up.name, kind=kind)
    except checkpoints.CheckpointError as e:
        st.error(f"Could not open {up.name}: {str(e).removeprefix(up.name + ': ')}")
        return None


def live(state: dict, tick: Callable[[], dict | None], draw: Callable[[Trainer], None], every: float = 0.4) -> None:
    """The live-training fragment: while state["running"], tick() every `every` seconds (the browser's timer); a tick
    that diverged (None) stops the run with a full rerun, so the Start button comes back. Then the run's message
    (divergence, rollback) and draw(trainer). The tick is a plain call (Trainer.tick) that tests make directly."""

    @st.fragment(run_every=every if state["running"] else None)
    def run() -> None:
        tr = state["trainer"]
        if state["running"] and tick() is None:
            state["running"] = False
            st.rerun()  # a full rerun stops the timer; the message below shows after it
        if tr.message:
            st.error(tr.message)
        draw(tr)

    run()


def pretrained_button(state: dict, name: str, label: str, help: str, make_trainer: Callable[[torch.nn.Module], Trainer],
                      container=st) -> None:
    """A button that replaces the run in `state` by a private copy of the bundled checkpoint `name`, trained on by
    make_trainer(model) (an error box if it cannot be loaded)."""
    if container.button(label, width="stretch", icon=":material/inventory_2:", help=help):
        model = setup.pretrained_copy(name)
        if model is not None:
            state.update(trainer=make_trainer(model), running=False, source=name)

"""The EBM page's "Try this" lessons: each sets the page's controls (widget keys) and starts what needs starting."""
from __future__ import annotations

import streamlit as st

from pages.views import chrome


AUTOPLAY = "ebm-autoplay"  # raised by the chain lessons: the tab rebuilds its chains from their settings, then plays


def start_training() -> None:
    st.session_state["ebm"]["running"] = True


# the chain lessons' sampler: 64 steps, 2 a frame, 16 chains, the default step size and noise
SHORT_RUN = {"ebm-total": 64, "ebm-per": 2, "ebm-eta": 10.0, "ebm-sigma": 0.005, "ebm-n": 16}

LESSONS = [
    chrome.Lesson("Short-run chains from noise",
                  "64 Langevin steps from uniform noise: the energy (right) falls from about 24 to near 0 within ~30 "
                  "steps, yet the images are still rough strokes. Short chains reach low energy before they look like "
                  "digits.",
                  {"ebm-tab": "Langevin chains", "ebm-start": "uniform noise", **SHORT_RUN}, autoplay=AUTOPLAY),
    chrome.Lesson("Chains from the replay buffer",
                  "The same sampler from the replay buffer: these chains have already run hundreds of steps during "
                  "training, so they start as digits at low energy and only sharpen. This is why training keeps a "
                  "buffer instead of restarting from noise.",
                  {"ebm-tab": "Langevin chains", "ebm-start": "replay buffer", **SHORT_RUN}, autoplay=AUTOPLAY),
    chrome.Lesson("Energies spot rotated digits",
                  "Digits turned by 90° (orange) sit at higher energy than upright ones (blue): shifted but "
                  "overlapping, so this small EBM flags only some of them, while uniform noise lies far off the axis. "
                  "The line under the plot counts them. Draw a digit to add yours.",
                  {"ebm-tab": "Energies", "ebm-zoom": True}),
    chrome.Lesson("Train live",
                  "Each iteration runs K = 20 Langevin steps from the buffer, then one update. Watch E(data) "
                  "(blue) and E(samples) (orange): the loss pushes them apart (orange above blue: a negative loss) "
                  "and the samples chase the data back.",
                  {"ebm-tab": "Train", "ebm-k": 20}, start_training),
]

"""The SGLD tab: SGD, SGLD and full-batch Langevin on the Welling & Teh (2011) posterior, played or scrubbed."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st
import torch

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from genlib.limits import MAX_FRAMES
from pages.lab.common import COLORS, FPS, fmt, play, projector_first, target_and_grids
from pages.views import chain_player, chrome, url

WT_NAME = D.WellingTehPosterior.name
METHODS = ("SGD", "SGLD", "full-batch Langevin")
AUTOPLAY = "lv-g-autoplay"  # raised by a lesson: restart the chains and play once the settings are applied


def new_sgld(chains: int, seed: int, schedule: S.StepSchedule, batch: int) -> dict:
    """The three methods from the same start, each with its own seed. Raises ValueError for impossible settings."""
    t, _, _ = target_and_grids(WT_NAME)
    x0 = S.init_chains(chains, 2, torch.Generator().manual_seed(seed))
    out = {}
    for i, name in enumerate(METHODS):
        g = torch.Generator().manual_seed(seed + 1 + i)
        grad = t.grad if name == "full-batch Langevin" else t.minibatch_score(batch, g)
        out[name] = S.Recorder((S.sgd if name == "SGD" else S.sgld)(grad, x0, schedule, g), x0, max_frames=MAX_FRAMES)
    out["died"] = 0
    return out


def advance_sgld(state: dict, k: int) -> None:
    """k steps of every method and one frame each; stops playing at the frame limit."""
    for name in METHODS:
        state["died"] += state[name].advance(k)
    if state["SGLD"].full:
        state["playing"] = False


@st.cache_resource
def exact_mode_share() -> float:
    """The exact posterior mass of the mode θ₂ > 0 (on a fine grid: computed once)."""
    return target_and_grids(WT_NAME)[0].mode_masses()[0]


def mode_share_and_kl(rec: S.Recorder, idx: int, fine) -> tuple[float, float]:
    """Share of samples in the mode θ₂ > 0 and KL to the exact posterior, frames idx/2 to idx pooled over chains."""
    pooled = torch.stack(rec.frames[idx // 2: idx + 1]).reshape(-1, 2).numpy()
    pooled = pooled[np.isfinite(pooled).all(1)]
    if not len(pooled):
        return float("nan"), float("nan")
    return float((pooled[:, 1] > 0).mean()), S.kl_to_grid(pooled, fine)


def metrics_line(state: dict, fine, i: int) -> str:
    """Frame i's metrics line, the same while playing and paused (the live view's caption): the step size, the share
    in the mode θ₂ > 0 and the KL to the exact posterior per method ("—" when a method has no live chain)."""
    ref = state["SGLD"]
    stats = [(n, *mode_share_and_kl(state[n], i, fine)) for n in METHODS]
    return (f"step {ref.steps[i]} · frame {ref.dropped + i} (the last {MAX_FRAMES} kept) · ε = {fmt(ref.step_sizes[i], '.2e')} · "
            "share in mode θ₂ > 0 / KL to exact: " + ", ".join(f"{n} {fmt(up, '.0%')} / {fmt(kl, '.2f')}"
                                                              for n, up, kl in stats))


def head_line(target, playing: bool) -> str:
    """The line above the picture, the same while playing and paused (only its last sentence differs)."""
    x0, x1, y0, y1 = target.extent
    return (f"Posterior over θ₁ ∈ [{x0:g}, {x1:g}], θ₂ ∈ [{y0:g}, {y1:g}]; exact share in the mode θ₂ > 0: "
            f"{exact_mode_share():.0%}. Shares and KL pool the second half of the frames over all chains. " + (
                "Pause for the metrics, the step schedule, the traces and the frame slider." if playing
                else "Paused: scrub the frames with the slider under the picture, or Play."))


def play_sgld(state: dict, per_frame: int, schedule: S.StepSchedule, warn: Callable[[], None] | None = None) -> None:
    """SGD, SGLD and full-batch Langevin side by side, the metrics line as each frame's caption; paused, the metrics,
    the step schedule and the traces of the newest frame under the picture."""
    target, fine, _ = target_and_grids(WT_NAME)
    play(state, METHODS, WT_NAME, lambda: advance_sgld(state, per_frame), lambda k: metrics_line(state, fine, k),
         "lv-g-live", head=lambda playing: head_line(target, playing), labels=("θ₁", "θ₂"),
         after=lambda m: None if m == "playing" else paused_metrics(state, schedule), draw=warn)


def settings() -> tuple[float, int, float, int, int, int, int]:
    """The tab's controls: (a, b, γ, minibatch size, chains, seed, steps per frame)."""
    c1, c2, c3, c4 = st.columns(4)
    a = url.bound(c1.select_slider, "a", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0], value=0.02, key="lv-g-a",
                         help="Scale of the step schedule ε_t = a (b + t)^(−γ).")
    b = url.bound(c1.select_slider, "b", [1, 3, 10, 30, 100, 300, 1000], value=1, key="lv-g-b",
                         help="Offset of the schedule: larger b keeps the first steps smaller and flatter.")
    gamma = url.bound(c2.slider, "γ", 0.0, 1.0, 0.1, 0.05, key="lv-g-gamma",
                      help="Decay exponent. Welling & Teh use 0.55; any γ in (0.5, 1] gives Σε = ∞, Σε² < ∞. "
                      "Small γ keeps the step large enough to hop between the modes in a short demo.")
    batch = url.bound(c2.slider, "Minibatch size n", 1, 100, 10, key="lv-g-batch",
                      help="Data points per gradient estimate for SGD and SGLD (the full batch is 100).")
    chains = url.bound(c3.number_input, "Chains", 0, 500, 50, 10, key="lv-g-chains",
                             help="Chains per method, started uniformly in [-1, 1]².")
    seed = url.bound(c3.number_input, "Seed", 0, 10_000, 0, key="lv-g-seed",
                           help="Seed of starts, minibatches and noise.")
    per_frame = url.bound(c4.slider, "Steps per frame", 1, 50, 10, key="lv-g-per-frame",
                          help="Steps between two frames.")
    return a, b, gamma, batch, int(chains), int(seed), per_frame


LESSONS = [
    chrome.Lesson("SGD finds one mode, SGLD visits both",
                  "Each SGD chain (black) slides into the nearest mode and stays there; SGLD's chains (green) keep "
                  "hopping between θ₂ > 0 and θ₂ < 0, so each of them visits both modes (trace chart on pause).",
                  {"lv-g-a": 0.02, "lv-g-b": 1, "lv-g-gamma": 0.1, "lv-g-batch": 10, "lv-g-per-frame": 10},
                  autoplay=AUTOPLAY),
    chrome.Lesson("Welling & Teh's schedule: γ = 0.55",
                  "With the paper's decay the step ε_t shrinks fast (schedule chart on pause): the chains hop less and "
                  "less, and SGLD's samples approach full-batch Langevin's.",
                  {"lv-g-a": 0.05, "lv-g-b": 10, "lv-g-gamma": 0.55, "lv-g-batch": 10, "lv-g-per-frame": 10},
                  autoplay=AUTOPLAY),
    chrome.Lesson("Minibatch noise: n = 1",
                  "With one data point per gradient the minibatch noise adds to SGLD's injected noise √ε·w: its cloud "
                  "spreads wider than the posterior, and its KL stays far above full-batch Langevin's (only a "
                  "decaying step makes SGLD exact).",
                  {"lv-g-a": 0.02, "lv-g-b": 1, "lv-g-gamma": 0.1, "lv-g-batch": 1, "lv-g-per-frame": 10},
                  autoplay=AUTOPLAY),
]


def paused_metrics(state: dict, schedule: S.StepSchedule) -> None:
    """Under the paused picture: what the methods do, and the metrics, step schedule and traces of the newest
    frame."""
    target, fine, _ = target_and_grids(WT_NAME)
    ref = state["SGLD"]
    idx = len(ref.frames) - 1
    exact_up = exact_mode_share()
    chrome.explain("Each method moves $\\theta$ by $\\frac{\\epsilon_t}{2}$ times a minibatch estimate of "
                   "$\\nabla\\log p(\\theta\\mid x)$; SGLD adds the noise $\\sqrt{\\epsilon_t}\\,w_t$ and samples the "
                   "posterior, SGD (no noise) converges to a mode.")
    for col, name in zip(st.columns(3), METHODS):
        rec = state[name]
        with col:
            up, kl = mode_share_and_kl(rec, idx, fine)
            m1, m2 = st.columns(2)
            m1.metric("share in mode θ₂ > 0", fmt(up, ".0%"), help=f"Over the second half of the frames, all "
                      f"chains, at the newest frame. Exact posterior: {exact_up:.0%}.")
            m2.metric("KL to exact", fmt(kl, ".2f"),
                      help="KL(histogram ‖ exact posterior) on 24 × 24 cells, samples of the second half of "
                      "the frames pooled over chains.")
    left, right = st.columns(2)
    now = ref.steps[idx]
    chrome.plot(viz.schedule_figure(schedule, ref.steps[-1], now, COLORS["SGLD"]), key="lv-g-schedule", container=left)
    runs = {name: (state[name].steps, state[name].frames) for name in METHODS}
    chrome.plot(viz.first_chain_figure(runs, now, COLORS), key="lv-g-trace", container=right)
    st.caption(f"Posterior: {target.description}. The exact posterior (blue) is normalised on a grid.")


def render() -> None:
    """The SGLD tab (call it only while the tab is open)."""
    first = projector_first()
    chrome.lessons("lv-g", LESSONS)
    a, b, gamma, batch, chains, seed, per_frame = settings()
    build = lambda: new_sgld(chains, seed, S.StepSchedule(a, float(b), gamma), batch)  # noqa: E731
    key = (a, b, gamma, batch, chains, seed)
    state = chain_player.chain_state("lv_sgld", key, build, autoplay=AUTOPLAY)
    with first:
        state = chain_player.controls(state, "lv-g", "three samplers", build, lambda: advance_sgld(state, per_frame),
                                      fps=FPS)
    if state is None:
        return
    schedule = S.StepSchedule(a, float(b), gamma)  # valid: building the chains with it just worked

    def warn() -> None:
        dead = {n: state[n].dead for n in METHODS if state[n].dead}
        if dead:
            st.warning("Chains sent to infinity by too large a step (a) were stopped: "
                       + ", ".join(f"{n}: {d}" for n, d in dead.items()) + ". The others go on.")

    with first:
        play_sgld(state, per_frame, schedule, warn)

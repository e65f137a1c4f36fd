"""The Samplers tab: ULA and MALA from the same start on a 2-D density with an exact answer, played or scrubbed."""
from __future__ import annotations

import math
from collections.abc import Callable

import streamlit as st
import torch

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from genlib.limits import MAX_FRAMES
from pages.lab.common import (FPS, SIGMA_MAX, ess_x1, fmt, kl_live, kl_text, play, projector_first,
                               target_and_grids)
from pages.views import chain_player, chrome, url

STEP_SIZES = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
NOISE_MODES = ["σ = √(2η)  (textbook, T = 1)", "σ = √η  (course, T = ½)", "custom σ"]
AUTOPLAY = "lv-s-autoplay"  # raised by a lesson: restart the chains and play once the settings are applied


def new_samplers(target_name: str, chains: int, seed: int, eta: float, sigma: float) -> dict:
    """ULA and MALA from the same start and the same seed. Raises ValueError for impossible settings."""
    t, fine, _ = target_and_grids(target_name)
    x0 = S.init_chains(chains, 2, torch.Generator().manual_seed(seed))
    ula = S.Recorder(S.ula(t.grad, x0, eta, sigma, torch.Generator().manual_seed(seed + 1)), x0, max_frames=MAX_FRAMES)
    mala = S.Recorder(S.mala(t.log_prob, t.grad, x0, eta, torch.Generator().manual_seed(seed + 1), noise=sigma), x0,
                      max_frames=MAX_FRAMES)
    exact = t.sample(chains, torch.Generator().manual_seed(seed + 2))
    return {"ULA": ula, "MALA": mala, "kl_exact": S.kl_to_grid(exact, fine), "died": 0}


def advance_samplers(state: dict, k: int) -> None:
    """k steps of both samplers and one frame each; stops playing at the frame limit."""
    for name in ("ULA", "MALA"):
        state["died"] += state[name].advance(k)
    if state["ULA"].full:
        state["playing"] = False


def metrics_line(state: dict, fine, i: int) -> str:
    """Frame i's metrics line, the same while playing and paused (the live view's caption): the step, ULA's dead
    chains, MALA's acceptance and the KL of each to the exact density (live chains only; "—" with none live)."""
    ula, mala = state["ULA"], state["MALA"]
    kl = {name: kl_text(*kl_live(ch.frames[i], fine), len(ch.frames[i])) for name, ch in (("ULA", ula), ("MALA", mala))}
    dead = int((~torch.isfinite(ula.frames[i]).all(1)).sum())
    return (f"step {ula.steps[i]} · frame {ula.dropped + i} (the last {MAX_FRAMES} kept) · ULA dead chains {dead} · MALA acceptance "
            f"{fmt(mala.acceptance[i], '.1%')} · KL to exact: ULA {kl['ULA']}, MALA {kl['MALA']} "
            f"(noise floor {state['kl_exact']:.3f})")


def head_line(state: dict, target, playing: bool) -> str:
    """The line above the picture, the same while playing and paused (only its last sentence differs)."""
    x0, x1, y0, y1 = target.extent
    return (f"{target.name}, x₁ ∈ [{x0:g}, {x1:g}], x₂ ∈ [{y0:g}, {y1:g}]: ULA (vermillion) and MALA (blue) from the same "
            f"start; trails of {viz.CHAIN_TRAILS} chains; marginals below. ESS (x₁): ULA {fmt(ess_x1(state['ULA']), '.0f')}"
            f", MALA {fmt(ess_x1(state['MALA']), '.0f')}. " + (
                "Pause for the metrics and the frame slider." if playing else
                "Paused: scrub the frames with the slider under the picture, or Play."))


def play_samplers(state: dict, target_name: str, per_frame: int, warn: Callable[[], None] | None = None) -> None:
    """ULA and MALA side by side with the marginals under them, the metrics line as each frame's caption; paused,
    the metrics of the newest frame under the picture."""
    target, fine, _ = target_and_grids(target_name)
    play(state, ("ULA", "MALA"), target_name, lambda: advance_samplers(state, per_frame),
         lambda k: metrics_line(state, fine, k), "lv-s-live", head=lambda playing: head_line(state, target, playing),
         titles=(f"ULA on the {target.name}", f"MALA on the {target.name}"), marginals=True,
         after=lambda m: None if m == "playing" else paused_metrics(state, target_name), draw=warn)


def settings() -> tuple[str, int, int, float, float, int]:
    """The tab's controls: (target, chains, seed, step size η, noise σ, steps per frame). Each is bound to the URL."""
    c1, c2, c3, c4 = st.columns(4)
    target_name = url.bound(c1.selectbox, "Target", list(D.TARGETS), key="lv-target",
                               help="The 2-D density to sample; its exact density is drawn in blue under the chains.")
    chains = url.bound(c1.number_input, "Chains", 0, 1000, 300, 50, key="lv-chains",
                             help="Number of chains run in parallel (1 to 1000), started uniformly in [-1, 1]².")
    eta = url.bound(c2.select_slider, "Step size η", STEP_SIZES, value=0.05, key="lv-eta",
                           help="Multiplies ∇log p in each step. Large steps bias ULA and lower MALA's acceptance; "
                           "too large sends ULA chains to infinity.")
    mode = url.bound(c2.selectbox, "Noise σ", NOISE_MODES, key="lv-noise-mode",
                        help="The noise scale, set apart from the step size. σ = √(2η) samples p (T = 1); the "
                        "course's σ = √η samples p² (T = ½); choose custom for any σ.")
    custom = url.bound(c3.number_input, "Custom σ", 0.0, SIGMA_MAX, 0.3, 0.05, format="%.3f", key="lv-sigma",
                             disabled=mode != NOISE_MODES[2], help="Noise standard deviation when 'custom σ' is "
                             f"chosen, from 0 (no noise: gradient ascent) to {SIGMA_MAX:g}.")
    seed = url.bound(c3.number_input, "Seed", 0, 10_000, 0, key="lv-seed",
                           help="Seed of the starting points and of the noise; ULA and MALA share it.")
    per_frame = url.bound(c4.slider, "Steps per frame", 1, 50, 5, key="lv-per-frame",
                          help="Sampler steps between two frames.")
    sigma = math.sqrt(2 * eta) if mode == NOISE_MODES[0] else math.sqrt(eta) if mode == NOISE_MODES[1] else float(custom)
    T = S.temperature(eta, sigma) if sigma >= 0 else float("nan")
    c4.markdown(f"σ = **{sigma:.3g}**, effective temperature T = σ²/(2η) = **{T:.3g}**")
    return target_name, int(chains), int(seed), eta, sigma, per_frame


LESSONS = [
    chrome.Lesson("σ = √η samples p², not p",
                  "ULA's marginals (vermillion) come out narrower than the dotted exact p: with the course's σ = √η it samples "
                  "p² (T = ½); MALA (blue) accepts or rejects and stays on p.",
                  {"lv-target": "correlated Gaussian", "lv-eta": 0.05, "lv-noise-mode": NOISE_MODES[1],
                   "lv-per-frame": 5}, autoplay=AUTOPLAY),
    chrome.Lesson("ULA blows up at η = 0.5",
                  "Within a few frames every ULA chain leaves the picture (dead chains: 300, its KL turns to —); MALA "
                  "does not blow up: it rejects most of those moves (acceptance about 14 %), so its chains stay in the "
                  "picture, but they move so rarely that after 30 s their KL is still above the noise floor.",
                  {"lv-target": "correlated Gaussian", "lv-eta": 0.5, "lv-noise-mode": NOISE_MODES[0],
                   "lv-per-frame": 5}, autoplay=AUTOPLAY),
    chrome.Lesson("Small steps: ULA ≈ MALA",
                  "At η = 0.01 with σ = √(2η) both samplers agree with the exact marginals and MALA accepts almost "
                  "every move: ULA's bias shrinks with the step size.",
                  {"lv-target": "banana", "lv-eta": 0.01, "lv-noise-mode": NOISE_MODES[0], "lv-per-frame": 20},
                  autoplay=AUTOPLAY),
    chrome.Lesson("Large steps bias ULA even at T = 1",
                  "At η = 0.1 with the textbook σ = √(2η), ULA's cloud comes out too wide across the narrow direction "
                  "(its KL stays above the noise floor): the step itself biases it. MALA stays exact.",
                  {"lv-target": "correlated Gaussian", "lv-eta": 0.1, "lv-noise-mode": NOISE_MODES[0],
                   "lv-per-frame": 5}, autoplay=AUTOPLAY),
]


def paused_metrics(state: dict, target_name: str) -> None:
    """Under the paused picture: what the chains mean, and the metrics of the newest frame."""
    target, fine, _ = target_and_grids(target_name)
    ula, mala = state["ULA"], state["MALA"]
    idx = len(ula.frames) - 1
    if ula.full:
        st.caption("Reached the last step: Replay runs the chains again.")
    chrome.explain("The chains are the $x_k$ of $x_{k+1} = x_k + \\eta\\nabla\\log p(x_k) + \\sigma w_k$; the marginals "
                   "compare their histogram with $p$ (dotted). ULA samples $p^{1/T}$ with $T = \\sigma^2/(2\\eta)$, "
                   "biased further by large $\\eta$; MALA's accept step keeps $p$ exact.")
    samples = {"ULA": ula.frames[idx], "MALA": mala.frames[idx]}
    for col, name, ch in zip(st.columns(2), ("ULA", "MALA"), (ula, mala)):
        with col:
            m1, m2, m3 = st.columns(3)
            if name == "ULA":
                m1.metric("dead chains", f"{ula.dead}", help="Chains sent beyond |x| = 1000 or to NaN; they are stopped.")
            else:
                m1.metric("acceptance", fmt(mala.acceptance[idx], ".1%"),
                          help="Share of accepted MALA proposals so far (live chains), at the newest frame.")
            m2.metric("ESS (x₁)", fmt(ess_x1(ch), ".0f"),
                      help="Effective sample size of x₁ over the second half of the frames (at most 100), "
                      "pooled over chains (Geyer's initial positive sequence).")
            kl, live_n = kl_live(samples[name], fine)
            total = len(samples[name])
            m3.metric("KL to exact", fmt(kl, ".3f"),
                      help=f"KL(histogram ‖ exact) on 24 × 24 cells at the newest frame, over the live chains only "
                      f"(dead chains are left out). {total} exact samples score {state['kl_exact']:.3f}: that is "
                      "the noise floor. With no live chain there is nothing to compare: —.")
            if live_n == 0:
                st.caption(f"KL: — (no live chains: all {total} {name} chains were sent to infinity and stopped, "
                           "so there is no histogram to compare).")
            elif live_n < total:
                st.caption(f"KL over the {live_n} live chains of {total} (the {total - live_n} dead ones are left out); "
                           "fewer samples raise the noise floor.")
    st.caption(f"{target.name}: {target.description}. Noise floor of the KL with {len(ula.frames[0])} exact "
               f"samples: {state['kl_exact']:.3f}. Scrub the frames with the slider above the caption.")


def render() -> None:
    """The Samplers tab (call it only while the tab is open)."""
    first = projector_first()
    chrome.lessons("lv-s", LESSONS)
    target_name, chains, seed, eta, sigma, per_frame = settings()
    build = lambda: new_samplers(target_name, chains, seed, eta, sigma)  # noqa: E731
    key = (target_name, chains, seed, eta, sigma)
    state = chain_player.chain_state("lv_samplers", key, build, autoplay=AUTOPLAY)
    with first:
        state = chain_player.controls(state, "lv-s", "samplers", build, lambda: advance_samplers(state, per_frame),
                                      fps=FPS)
    if state is None:
        return

    def warn() -> None:
        ula = state["ULA"]
        if ula.dead:
            st.warning(f"{ula.dead} of {len(ula.frames[0])} ULA chains were sent to infinity by the step size "
                       f"η = {eta:g} and stopped; the other chains go on. MALA rejects such moves instead.")

    with first:
        play_samplers(state, target_name, per_frame, warn)

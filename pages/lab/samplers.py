"""The Samplers tab: ULA and MALA from the same start on a 2-D density with an exact answer, played or scrubbed."""
from __future__ import annotations

import math

import streamlit as st
import torch

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from pages.lab.common import (COLORS, FPS, MAX_FRAMES, SIGMA_MAX, chain_view, ess_x1, fmt, play_batch,
                               target_and_grids)
from pages.views import chain_player

STEP_SIZES = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
NOISE_MODES = ["σ = √(2η)  (textbook, T = 1)", "σ = √η  (course, T = ½)", "custom σ"]


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


def play_samplers(state: dict, target_name: str, per_frame: int) -> None:
    """ULA and MALA side by side; each frame's caption: the step, MALA's acceptance, the KL to the exact density."""
    target, fine, _ = target_and_grids(target_name)
    ula, mala = state["ULA"], state["MALA"]

    def caption(i: int) -> str:
        kl = {name: fmt(S.kl_to_grid(ch.frames[i], fine), ".3f") for name, ch in (("ULA", ula), ("MALA", mala))}
        return (f"step {ula.steps[i]} · frame {i} of {MAX_FRAMES - 1} at most · MALA acceptance "
                f"{fmt(mala.acceptance[i], '.1%')} · KL to exact: ULA {kl['ULA']}, MALA {kl['MALA']} "
                f"(noise floor {state['kl_exact']:.3f})")

    x0, x1, y0, y1 = target.extent
    play_batch(state, ("ULA", "MALA"), target_name, lambda: advance_samplers(state, per_frame), caption,
               "lv-s-flipbook", head=(
                   f"{target.name}, x₁ ∈ [{x0:g}, {x1:g}], x₂ ∈ [{y0:g}, {y1:g}]: ULA (red) and MALA (blue) from the "
                   f"same start; trails of {viz.CHAIN_TRAILS} chains. ESS (x₁): ULA {fmt(ess_x1(ula), '.0f')}, MALA "
                   f"{fmt(ess_x1(mala), '.0f')}. Pause for the interactive charts, the marginals and the frame slider."))


def settings() -> tuple[str, int, int, float, float, int]:
    """The tab's controls: (target, chains, seed, step size η, noise σ, steps per frame)."""
    c1, c2, c3, c4 = st.columns(4)
    target_name = c1.selectbox("Target", list(D.TARGETS), key="lv-target",
                               help="The 2-D density to sample; its exact density is drawn in blue under the chains.")
    chains = c1.number_input("Chains", 0, 1000, 300, 50, key="lv-chains",
                             help="Number of chains run in parallel (1 to 1000), started uniformly in [-1, 1]².")
    eta = c2.select_slider("Step size η", STEP_SIZES, value=0.05, key="lv-eta",
                           help="Multiplies ∇log p in each step. Large steps bias ULA and lower MALA's acceptance; "
                           "too large sends ULA chains to infinity.")
    mode = c2.selectbox("Noise σ", NOISE_MODES, key="lv-noise-mode",
                        help="The noise scale, set apart from the step size. σ = √(2η) samples p (T = 1); the "
                        "course's σ = √η samples p² (T = ½); choose custom for any σ.")
    custom = c3.number_input("Custom σ", 0.0, SIGMA_MAX, 0.3, 0.05, format="%.3f", key="lv-sigma",
                             disabled=mode != NOISE_MODES[2], help="Noise standard deviation when 'custom σ' is "
                             f"chosen, from 0 (no noise: gradient ascent) to {SIGMA_MAX:g}.")
    seed = c3.number_input("Seed", 0, 10_000, 0, key="lv-seed", help="Seed of the starting points and of the noise; "
                           "ULA and MALA share it.")
    per_frame = c4.slider("Steps per frame", 1, 50, 5, key="lv-per-frame", help="Sampler steps between two frames.")
    sigma = math.sqrt(2 * eta) if mode == NOISE_MODES[0] else math.sqrt(eta) if mode == NOISE_MODES[1] else float(custom)
    T = S.temperature(eta, sigma) if sigma >= 0 else float("nan")
    c4.markdown(f"σ = **{sigma:.3g}**, effective temperature T = σ²/(2η) = **{T:.3g}**")
    return target_name, int(chains), int(seed), eta, sigma, per_frame


def paused_view(state: dict, target_name: str) -> None:
    """The frame slider, ULA and MALA as interactive charts with their metrics, and the marginals."""
    target, fine, coarse = target_and_grids(target_name)
    ula, mala = state["ULA"], state["MALA"]
    idx = chain_player.scrub("lv-s", len(ula.frames))
    st.caption(f"step {ula.steps[idx]} · frame {idx} of {len(ula.frames) - 1}"
               + (" · reached the frame limit: Restart to run again" if ula.full else ""))
    cols = st.columns(2)
    samples = {}
    for col, name, ch in [(cols[0], "ULA", ula), (cols[1], "MALA", mala)]:
        with col:
            st.plotly_chart(viz.chain_figure(coarse, ch.frames, idx, COLORS[name], f"{name} on the {target.name}",
                                             target.extent), key=f"lv-s-fig-{name}")
            samples[name] = ch.frames[idx]
            m1, m2, m3 = st.columns(3)
            if name == "ULA":
                m1.metric("dead chains", f"{ula.dead}", help="Chains sent beyond |x| = 1000 or to NaN; they are stopped.")
            else:
                m1.metric("acceptance", fmt(mala.acceptance[idx], ".1%"),
                          help="Share of accepted MALA proposals so far (live chains).")
            m2.metric("ESS (x₁)", fmt(ess_x1(ch), ".0f"),
                      help="Effective sample size of x₁ over the second half of the frames (at most 100), "
                      "pooled over chains (Geyer's initial positive sequence).")
            m3.metric("KL to exact", fmt(S.kl_to_grid(samples[name], fine), ".3f"),
                      help=f"KL(histogram ‖ exact) on 24 × 24 cells at this frame. {len(samples[name])} exact "
                      f"samples score {state['kl_exact']:.3f}: that is the noise floor.")
    st.plotly_chart(viz.marginals_figure(fine, samples, target.extent, COLORS), key="lv-s-marg")
    st.caption(f"{target.name}: {target.description}. Noise floor of the KL with {len(ula.frames[0])} exact "
               f"samples: {state['kl_exact']:.3f}.")


def render() -> None:
    """The Samplers tab (call it only while the tab is open)."""
    target_name, chains, seed, eta, sigma, per_frame = settings()
    build = lambda: new_samplers(target_name, chains, seed, eta, sigma)  # noqa: E731
    state = chain_player.chain_state("lv_samplers", (target_name, chains, seed, eta, sigma), build)
    state = chain_player.controls(state, "lv-s", "samplers", build, lambda: advance_samplers(state, per_frame), fps=FPS)
    if state is None:
        return

    def warn(stt: dict) -> None:
        ula = stt["ULA"]
        if ula.dead:
            st.warning(f"{ula.dead} of {len(ula.frames[0])} ULA chains were sent to infinity by the step size "
                       f"η = {eta:g} and stopped; the other chains go on. MALA rejects such moves instead.")

    chain_view("lv_samplers", lambda stt: play_samplers(stt, target_name, per_frame), warn,
               lambda stt: paused_view(stt, target_name))

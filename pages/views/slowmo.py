"""Slow motion: one sampler step of one chain shown part by part, with Step forward / Step back (the lecture's views).

- `gibbs`: one block Gibbs step of an RBM, v -> p(h|v) -> h -> p(v|h) -> v' (five parts).
- `langevin`: one Langevin step on a 2-D density, x -> drift -> noise -> x' (ULA, four parts), or with MALA's
  accept test between the proposal and the new position (five parts).

The parts come from genlib.stepparts, which draws its random numbers as the chain engine does: the last part is the
sampler's next state for the same generator. Forward past the last part takes the next step from v' (x'), so the
chain goes on; back walks through the parts of the steps already taken. The chain lives in st.session_state[key],
rebuilt when its settings (URL-bound: a link reproduces the chain) change."""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from genlib import densities as D
from genlib import viz
from genlib.data import MNIST
from genlib.models.rbm import bernoulli
from genlib.stepparts import GibbsParts, LangevinParts, gibbs_parts, langevin_parts
from pages.views import chrome, url

KEEP = 100  # steps kept for stepping back; older ones are dropped
STARTS = ["a validation digit", "uniform noise"]
ETAS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
TARGETS = ["correlated Gaussian", "banana", "Gaussian mixture", "ring"]
# where a Langevin chain starts: off the mode, so that the first drift arrow is long enough to see
START_AT = {"correlated Gaussian": (2.0, 0.5), "banana": (-2.0, 0.5), "Gaussian mixture": (-1.0, -1.2), "ring": (0.4, 0.3)}

GIBBS = [  # (label, formula, what it is)
    ("v", r"v \in \{0, 1\}^{784}", "The chain's state: a binary image."),
    ("p(h|v)", r"p(h_j{=}1 \mid v) = \sigma\big(c_j + W_j \cdot v\big)",
     "Each hidden unit's chance to turn on, given v; the units are independent given v."),
    ("h", r"h_j \sim \mathrm{Bernoulli}\big(p(h_j{=}1 \mid v)\big)", "One coin per hidden unit."),
    ("p(v|h)", r"p(v_i{=}1 \mid h) = \sigma\big(b_i + W_{:,i}^\top h\big)",
     "Each pixel's chance to be on, given h: the smooth picture of the chain."),
    ("v′", r"v'_i \sim \mathrm{Bernoulli}\big(p(v_i{=}1 \mid h)\big)",
     "One coin per pixel: the chain's next state. Step forward again to go on from v′."),
]


# ---- the chain of steps, forward and back --------------------------------------------------------------------------
def _chain(key: str, settings: tuple, first: Callable[[torch.Generator], object]) -> dict:
    """st.session_state[key]: {"settings", "gen", "steps", "t" (the step shown), "part"}, rebuilt when `settings` change;
    first(gen) is the first step's parts."""
    ch = st.session_state.get(key)
    if ch is None or ch["settings"] != settings:
        gen = torch.Generator().manual_seed(int(settings[-1]))  # the seed is the last setting
        ch = st.session_state[key] = {"settings": settings, "gen": gen, "steps": [first(gen)], "t": 0, "part": 0}
    return ch


def forward(key: str, parts: int, step: Callable[[object, torch.Generator], object]) -> None:
    """on_click of Step forward: the next part, or the first part of the next step (step(last parts, gen))."""
    ch = st.session_state[key]
    if ch["part"] < parts - 1:
        ch["part"] += 1
        return
    if ch["t"] == len(ch["steps"]) - 1:
        ch["steps"].append(step(ch["steps"][-1], ch["gen"]))
        if len(ch["steps"]) > KEEP:
            ch["steps"].pop(0)
            ch["t"] -= 1
    ch["t"] += 1
    ch["part"] = 0


def back(key: str, parts: int) -> None:
    """on_click of Step back: the previous part, or the last part of the previous step."""
    ch = st.session_state[key]
    if ch["part"] > 0:
        ch["part"] -= 1
    elif ch["t"] > 0:
        ch["t"], ch["part"] = ch["t"] - 1, parts - 1


def buttons(key: str, ch: dict, parts: int, step: Callable[[object, torch.Generator], object], where: str,
            stacked: bool = False) -> None:
    """The Step back · Step forward row (or column, `stacked`) and where the chain is."""
    b1, b2, b3 = (st.container(), st.container(), st.container()) if stacked else \
        st.columns([1, 1, 2], vertical_alignment="center")
    b1.button("Step back", key=f"{key}-back", icon=":material/arrow_back:", width="stretch", on_click=back,
              args=(key, parts), disabled=ch["t"] == 0 and ch["part"] == 0,
              help="The previous part of this step (or the last part of the previous step).")
    b2.button("Step forward", key=f"{key}-fwd", icon=":material/arrow_forward:", width="stretch", type="primary",
              on_click=forward, args=(key, parts, step),
              help="The next part of this step; after the last part, the next step of the chain.")
    b3.markdown(f"**{where}, part {ch['part'] + 1} of {parts}**")


# ---- Gibbs ------------------------------------------------------------------------------------------------------------
def unit_grid(x: torch.Tensor) -> np.ndarray:
    """Hidden units [H] as a grey image: the most square rows x cols with rows * cols = H (500 -> 20 x 25), else
    a square grid padded with mid grey."""
    n = len(x)
    rows = max((r for r in range(1, int(math.isqrt(n)) + 1) if n % r == 0))
    cols = n // rows
    if cols > 2 * rows:
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
    a = np.full(rows * cols, 0.5, dtype=np.float32)
    a[:n] = x.numpy()
    return a.reshape(rows, cols)


def gibbs_start(mn: MNIST, start: str, gen: torch.Generator) -> torch.Tensor:
    """The chain's start from the generator: a validation digit with its pixels binarized (coins with the grey levels
    as probabilities), or uniform noise (coins of probability 1/2, as RBM.sample_chain starts)."""
    if start == STARTS[0]:
        i = int(torch.randint(len(mn.val), (1,), generator=gen))
        return bernoulli(mn.val.images[i].reshape(-1), gen)
    return bernoulli(torch.full((784,), 0.5), gen)


def gibbs(key: str, model, mn: MNIST, name: str = "") -> GibbsParts:
    """One Gibbs chain of `model` (a read-only RBM) in slow motion: the buttons, the five parts in a row, the part's
    formula, then the chain's start and seed (URL-bound as key-start, key-seed). Returns the parts shown."""
    top, bottom = st.container(), st.container()
    c1, c2 = bottom.columns([3, 1])
    start = url.bound(c1.radio, "Start from", STARTS, key=f"{key}-start", horizontal=True,
                      help="The chain's first state v: a validation digit (its pixels binarized) or uniform noise.")
    seed = url.bound(c2.number_input, "Seed", 0, 10_000, 0, key=f"{key}-seed",
                     help="Seed of the chain's start and of every coin it flips: the same seed, the same chain.")
    ch = _chain(key, (name, id(model), start, int(seed)), lambda g: gibbs_parts(model, gibbs_start(mn, start, g), g))
    step = lambda parts, g: gibbs_parts(model, parts.v_next, g)  # noqa: E731 - the chain goes on from v'
    p = ch["steps"][ch["t"]]
    with top:
        buttons(key, ch, len(GIBBS), step, f"Gibbs step {ch['t'] + 1}")
        images = [p.v.reshape(28, 28), unit_grid(p.p_h), unit_grid(p.h), p.p_v.reshape(28, 28),
                  p.v_next.reshape(28, 28)]
        with torch.no_grad():
            fe = model.free_energy(torch.stack([p.v, p.v_next])).tolist()
        notes = [f"F(v) = {fe[0]:.1f}", f"{int((p.p_h > 0.5).sum())} of {len(p.p_h)} above ½",
                 f"{int(p.h.sum())} of {len(p.h)} on", f"mean {float(p.p_v.mean()):.2f}", f"F(v′) = {fe[1]:.1f}"]
        for k, (col, img) in enumerate(zip(st.columns(5), images)):
            a = np.asarray(img, dtype=np.float32)
            if k > ch["part"]:  # not reached yet: a blank of the same size
                a = np.full_like(a, 0.85)
            col.image(viz.to_uint8(a, max(1, round(140 / a.shape[1]))), width="stretch",
                      caption=("▶ " if k == ch["part"] else "") + GIBBS[k][0]
                      + (f": {notes[k]}" if k <= ch["part"] else ""))
        label, formula, what = GIBBS[ch["part"]]
        st.latex(formula)
        st.caption(f"**{label}**: {what}")
    return p


# ---- Langevin ---------------------------------------------------------------------------------------------------------
@st.cache_resource
def density(name: str):
    """(a genlib.densities target, the largest log p over its extent on a 120 x 120 grid), once per server: the
    shading is p / max p, the same in every window."""
    t = D.make_target(name)
    _, _, pts = t.grid_points(120)
    with torch.no_grad():
        return t, float(t.log_prob(pts).max())


def window(target, p: LangevinParts, zoom: bool) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) shown: the target's extent, or (zoom) a box around the step's points, twice as wide as high
    (the figure's shape), so that short arrows (small eta) are seen; the same for every part of one step."""
    if not zoom:
        return tuple(target.extent)
    pts = torch.stack([p.x, p.x + p.drift, p.proposal, p.x_next])
    lo, hi = pts.min(0).values, pts.max(0).values
    c, h = (lo + hi) / 2, max(0.6, 0.7 * float((hi - lo).max()))
    return float(c[0]) - 2 * h, float(c[0]) + 2 * h, float(c[1]) - h, float(c[1]) + h


def shading(target, lp_max: float, box: tuple[float, float, float, float], n: int = 48) -> go.Heatmap:
    """p(x) / max p, white to blue, over `box` widened to twice its size each way (2n x 2n points): the equal axis
    scales widen one of the box's ranges to the figure's shape, and the shading must still cover it."""
    x0, x1, y0, y1 = box
    w, h = (x1 - x0) / 2, (y1 - y0) / 2
    xs, ys = np.linspace(x0 - w, x1 + w, 2 * n), np.linspace(y0 - h, y1 + h, 2 * n)
    gx, gy = np.meshgrid(xs, ys)
    with torch.no_grad():
        lp = target.log_prob(torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).reshape(2 * n, 2 * n).numpy()
    return go.Heatmap(x=xs, y=ys, z=np.exp(lp - lp_max), zmin=0, zmax=1, zsmooth="best", showscale=False,
                      colorscale=[[0, "#ffffff"], [1, "#3d7fbf"]], hoverinfo="skip")


def _langevin_parts(mala: bool) -> list[tuple[str, str]]:
    """(label, what it is) of each part of a ULA or MALA step."""
    parts = [("x", "The chain's position; the shading is the density p."),
             ("drift", "The drift (η/2)∇log p(x): a step uphill in log p, towards the mode."),
             ("noise", "The noise √η ξ, ξ ~ N(0, I): a random kick that keeps the chain exploring.")]
    if mala:
        return parts + [("accept?", "MALA's test: a uniform u against the acceptance probability α of the proposal y."),
                        ("x′", "The new position: y if u < α, else the chain stays at x.")]
    return parts + [("x′", "The new position x′ = x + drift + noise: ULA takes every proposal.")]


def _formula(p: LangevinParts, part: int) -> str:
    """The part's formula with this step's numbers (at most two short lines)."""
    v = lambda t: f"({float(t[0]):.2f},\\ {float(t[1]):.2f})"  # noqa: E731
    if part == 0:
        return rf"x = {v(p.x)}"
    if part == 1:
        return rf"\tfrac{{\eta}}{{2}}\nabla\log p(x) = \tfrac{{{p.eta:g}}}{{2}}\,{v(p.grad)} = {v(p.drift)}"
    if part == 2:
        return (rf"\begin{{aligned}}\sqrt{{\eta}}\,\xi &= \sqrt{{{p.eta:g}}}\,{v(p.xi)} = {v(p.noise)}\\ "
                rf"y &= x + \text{{drift}} + \text{{noise}} = {v(p.proposal)}\end{{aligned}}")
    if p.mala and part == 3:
        verdict = r"u < \alpha:\ \text{accepted}" if p.accepted else r"u \ge \alpha:\ \text{rejected}"
        return (rf"\begin{{aligned}}\alpha &= \min\Big(1, \frac{{p(y)\,q(x\mid y)}}{{p(x)\,q(y\mid x)}}\Big) = "
                rf"{p.alpha:.3f}\\ u &= {p.u:.3f},\quad {verdict}\end{{aligned}}")
    if p.mala:
        return rf"x' = {'y' if p.accepted else 'x'} = {v(p.x_next)}"
    return rf"x' = x + \tfrac{{\eta}}{{2}}\nabla\log p(x) + \sqrt{{\eta}}\,\xi = {v(p.x_next)}"


def _arrow(fig: go.Figure, a: torch.Tensor, b: torch.Tensor, color: str, text: str) -> None:
    """An arrow from a to b, named at its tip."""
    fig.add_annotation(x=float(b[0]), y=float(b[1]), ax=float(a[0]), ay=float(a[1]), xref="x", yref="y", axref="x",
                       ayref="y", showarrow=True, arrowhead=3, arrowsize=1.2, arrowwidth=3, arrowcolor=color)
    d = b - a
    right = float(d[0]) >= 0  # the name beyond the tip, on the side the arrow points to
    fig.add_annotation(x=float(b[0]), y=float(b[1]), text=text, showarrow=False, font=dict(color=color, size=15),
                       xanchor="left" if right else "right", xshift=8 if right else -8,
                       yshift=10 if float(d[1]) >= 0 else -10, bgcolor="rgba(255,255,255,0.7)")


def langevin_figure(target_name: str, steps: list[LangevinParts], t: int, part: int, zoom: bool = True
                    ) -> go.Figure:
    """The density, the chain's earlier positions, and step t's parts up to `part`: x, the drift and noise arrows,
    the proposal y, MALA's verdict, the new position; `zoom`: around the step, else the whole target."""
    tg, lp_max = density(target_name)
    p = steps[t]
    box = window(tg, p, zoom)
    fig = go.Figure(shading(tg, lp_max, box))
    trail = torch.stack([s.x for s in steps[: t + 1]]).numpy()
    fig.add_trace(go.Scatter(x=trail[:, 0], y=trail[:, 1], mode="lines+markers", name="earlier positions",
                             line=dict(color="#888888", width=1.5), marker=dict(size=5, color="#888888")))
    fig.add_trace(go.Scatter(x=[float(p.x[0])], y=[float(p.x[1])], mode="markers+text", name="x", text=["x"],
                             textposition="top left", textfont=dict(size=16),
                             marker=dict(size=11, color=viz.PALETTE[7])))
    if part >= 1:
        _arrow(fig, p.x, p.x + p.drift, viz.PALETTE[3], "drift")
    if part >= 2:
        _arrow(fig, p.x + p.drift, p.proposal, viz.PALETTE[4], "noise")
        fig.add_trace(go.Scatter(x=[float(p.proposal[0])], y=[float(p.proposal[1])], mode="markers+text", name="y",
                                 text=["y"], textposition="bottom center", textfont=dict(size=16),
                                 marker=dict(size=12, color="rgba(0,0,0,0)", line=dict(color=viz.PALETTE[4], width=3))))
    last = len(_langevin_parts(p.mala)) - 1
    if p.mala and part >= 3:
        fig.add_annotation(x=0.02, y=0.98, xref="paper", yref="paper", xanchor="left", yanchor="top", showarrow=False,
                           text=f"α = {p.alpha:.2f}, u = {p.u:.2f}: {'accepted' if p.accepted else 'rejected'}",
                           font=dict(size=15, color=viz.PALETTE[0] if p.accepted else viz.PALETTE[3]),
                           bgcolor="rgba(255,255,255,0.85)")
    if part >= last:
        fig.add_trace(go.Scatter(x=[float(p.x_next[0])], y=[float(p.x_next[1])], mode="markers+text", name="x′",
                                 text=["x′"], textposition="top right", textfont=dict(size=16),
                                 marker=dict(size=14, symbol="star", color=viz.PALETTE[0])))
    x0, x1, y0, y1 = box
    fig.update_xaxes(range=[x0, x1], title="x₁")
    fig.update_yaxes(range=[y0, y1], title="x₂", scaleanchor="x", scaleratio=1)  # equal scales: arrows at true angles
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=10, b=10), showlegend=False, plot_bgcolor="white")
    return fig


def langevin(key: str, mala: bool = False, target: str = "correlated Gaussian", eta: float = 0.1) -> LangevinParts:
    """One Langevin chain in slow motion on a 2-D density: ULA, or MALA with `mala`. Its target, step size η and seed
    are URL-bound (key-target, key-eta, key-seed), with `target` and `eta` as defaults. The figure with the part's
    formula under it, the buttons and settings beside it (one screen at 1280 x 720). Returns the parts shown."""
    fig_col, side = st.columns([2.6, 1])
    with side:
        slot = st.container()  # the buttons, above the settings they depend on
        target_name = url.bound(st.selectbox, "Density p", TARGETS, TARGETS.index(target), key=f"{key}-target",
                                help="The 2-D target (genlib.densities), drawn as the blue shading.")
        eta = url.bound(st.select_slider, "Step size η", ETAS, value=eta, key=f"{key}-eta",
                        help="x′ = x + (η/2)∇log p(x) + √η ξ: the drift grows with η, the noise with √η."
                        + (" Large η: MALA's proposals overshoot and are rejected." if mala else ""))
        seed = url.bound(st.number_input, "Seed", 0, 10_000, 0, key=f"{key}-seed",
                         help="Seed of the noise ξ (and of MALA's uniform draws u): the same seed, the same chain.")
        zoom = url.bound(st.toggle, "Zoom on the step", True, key=f"{key}-zoom",
                         help="On: the picture frames this step's points, so short arrows show. Off: the whole "
                         "density, with the chain's path so far.")
    t = density(target_name)[0]
    x0 = torch.tensor(START_AT[target_name], dtype=torch.float32)
    ch = _chain(key, (target_name, float(eta), mala, int(seed)), lambda g: langevin_parts(t, x0, eta, g, mala))
    names = _langevin_parts(mala)
    step = lambda parts, g: langevin_parts(t, parts.x_next, eta, g, mala)  # noqa: E731 - on from x'
    with slot:
        buttons(key, ch, len(names), step, f"{'MALA' if mala else 'Langevin'} step {ch['t'] + 1}", stacked=True)
    p = ch["steps"][ch["t"]]
    with fig_col:
        chrome.plot(langevin_figure(target_name, ch["steps"], ch["t"], ch["part"], zoom), key=f"{key}-fig",
                    max_height=380)
        label, what = names[ch["part"]]
        st.latex(_formula(p, ch["part"]))
        st.caption(f"**{label}**: {what}")
    return p

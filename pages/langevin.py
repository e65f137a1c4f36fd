"""Langevin & SGLD lab: ULA vs MALA on 2-D densities with exact answers, SGLD on the Welling & Teh posterior, a 2-D EBM."""
import math
import time

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from genlib import densities as D
from genlib import samplers as S
from genlib.data import TOYS, toy_data
from genlib.models.ebm2d import EBM2D, EBM2DConfig
from pages import ui

TICK = 0.1  # seconds between redraws of the EBM's training view while it runs (the browser's timer)
FPS = 12  # frames per second the browser shows while the chains play (its own timer, see ui.flipbook)
BATCH = 6  # frames computed per round trip while playing: the browser asks for the next batch as it plays one
MAX_FRAMES = 600
MAX_POINTS = 300  # chains drawn as points (all chains count in the statistics)
TRAILS = 5  # chains drawn with their trail
TRAIL_FRAMES = 40
STEP_SIZES = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0]
NOISE_MODES = ["σ = √(2η)  (textbook, T = 1)", "σ = √η  (course, T = ½)", "custom σ"]
COLORS = {"ULA": "#d62728", "MALA": "#1f77b4", "SGD": "#7f7f7f", "SGLD": "#2ca02c", "full-batch Langevin": "#9467bd"}

ui.ensure_app_navigation()
ui.header(
    "Langevin & SGLD lab",
    "Chains of samplers move over 2-D densities whose exact answer is known, so their bias shows. "
    "**Unadjusted Langevin (ULA)** follows the gradient of $\\log p$ plus Gaussian noise; its step size $\\eta$ and "
    "noise $\\sigma$ are separate settings, and they fix an effective temperature $T$: for small steps ULA samples "
    "$p^{1/T}$, and for large steps it is biased even at $T = 1$. **MALA** (Roberts & Tweedie 1996) uses the same "
    "move as a proposal and accepts or rejects it, which makes $p$ itself invariant for any $\\eta$ and $\\sigma$. "
    "**SGLD** (Welling & Teh 2011) is the Langevin step with a minibatch gradient of the log posterior and a "
    "decreasing step $\\epsilon_t$; without the noise it is plain SGD, which finds a mode instead of sampling. "
    "The **2-D EBM** learns an energy $E_\\theta$ on a toy data set with Langevin samples as negatives.",
    [r"x_{k+1} = x_k + \eta\,\nabla\log p(x_k) + \sigma\,w_k,\quad w_k\sim\mathcal N(0, I),\qquad"
     r"T = \frac{\sigma^2}{2\eta}\ \ (\sigma = \sqrt{2\eta}\Rightarrow T = 1,\ \ \sigma=\sqrt{\eta}\Rightarrow T=\tfrac12)",
     r"\text{MALA: accept } y \text{ with prob. } \min\Big(1, \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}\Big),"
     r"\quad q(y\mid x) = \mathcal N\big(y;\ x + \eta\nabla\log p(x),\ \sigma^2 I\big)",
     r"\text{SGLD: }\theta_{t+1} = \theta_t + \frac{\epsilon_t}{2}\Big(\nabla\log p(\theta_t) + \frac{N}{n}\sum_{i\in B_t}"
     r"\nabla\log p(x_i\mid\theta_t)\Big) + \sqrt{\epsilon_t}\,w_t,\qquad \epsilon_t = a\,(b + t)^{-\gamma}",
     r"\theta_1\sim\mathcal N(0, 10),\ \theta_2\sim\mathcal N(0, 1),\ "
     r"x_i\sim\tfrac12\mathcal N(\theta_1, 2) + \tfrac12\mathcal N(\theta_1+\theta_2, 2)\ \ \text{(variances)}",
     r"\text{EBM: } p_\theta(x) = e^{-E_\theta(x)}/Z_\theta,\quad \mathcal L = \overline{E_\theta(x_\mathrm{data})}"
     r" - \overline{E_\theta(x_\mathrm{neg})} + \alpha\big(\overline{E^2_\theta(x_\mathrm{data})} + "
     r"\overline{E^2_\theta(x_\mathrm{neg})}\big)"],
)
st.caption(f"Data: 2-D targets with exact densities; the Welling & Teh data set ({D.WT_N} points drawn with "
           f"θ = (0, 1), seed {D.WT_SEED}); the 2-D toy data sets of genlib.data for the EBM. No MNIST here.")


@st.cache_resource
def target_and_grids(name: str):
    """(target, fine grid for the distances, coarse grid for drawing); shared, read-only."""
    t = D.WellingTehPosterior() if name == D.WellingTehPosterior.name else D.make_target(name)
    return t, t.grid(240), t.grid(60)


def density_trace(gr) -> go.Heatmap:
    """The exact density as a light heat map (a canvas image: much cheaper to redraw every frame than contours)."""
    z = np.round(gr.density / gr.density.max(), 3)  # 3 decimals: a third of the bytes sent every frame
    return go.Heatmap(x=np.round(gr.xs, 4), y=np.round(gr.ys, 4), z=z, showscale=False, hoverinfo="skip",
                      colorscale=[[0, "#ffffff"], [0.5, "#9ecae1"], [1, "#2166ac"]])


def chain_figure(gr, frames: list[torch.Tensor], idx: int, color: str, title: str, extent,
                 labels: tuple[str, str] = ("x₁", "x₂")) -> go.Figure:
    """Exact density, the chains at frame idx (at most MAX_POINTS) and trails of the first TRAILS chains.

    Three SVG traces in all (the trails in one trace, broken by NaN gaps): cheap to build and to redraw."""
    x = frames[idx][:MAX_POINTS].numpy()
    lo = max(0, idx - TRAIL_FRAMES)
    trail = torch.stack(frames[lo:idx + 1])[:, :TRAILS].transpose(0, 1).numpy()  # [TRAILS, F, 2]
    gap = np.full((trail.shape[0], 1, 2), np.nan)
    trail = np.concatenate([trail, gap], 1).reshape(-1, 2)
    x0, x1, y0, y1 = extent
    return go.Figure(
        [density_trace(gr),
         go.Scatter(x=trail[:, 0], y=trail[:, 1], mode="lines", hoverinfo="skip", line=dict(width=1.5, color="#333"),
                    showlegend=False),
         go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                    marker=dict(size=4, color=color, opacity=0.75))],
        layout=dict(title=dict(text=title, x=0.02, y=0.98, font=dict(size=14)), height=380,
                    margin=dict(l=10, r=10, t=32, b=10), xaxis=dict(range=[x0, x1], title=labels[0]),
                    yaxis=dict(range=[y0, y1], title=labels[1], scaleanchor="x", scaleratio=1), plot_bgcolor="white"))


PIX = 360  # width of a raster frame drawn while playing


def raster_shape(extent) -> tuple[int, int]:
    """(height, width) in pixels of a raster frame: PIX wide, the height keeping x1 and x2 on the same scale."""
    x0, x1, y0, y1 = extent
    return int(round(PIX * min(max((y1 - y0) / (x1 - x0), 0.5), 1.6))), PIX


@st.cache_resource
def background(name: str) -> np.ndarray:
    """The exact density as an RGB image [H, W, 3] uint8 (white to blue), row 0 at the top (largest x2)."""
    t, _, _ = target_and_grids(name)
    x0, x1, y0, y1 = t.extent
    h, w = raster_shape(t.extent)
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    ys = y1 - (np.arange(h) + 0.5) * (y1 - y0) / h
    gx, gy = np.meshgrid(xs, ys)
    with torch.no_grad():
        lp = t.log_prob(torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).reshape(h, w).numpy()
    z = np.exp(lp - lp.max())
    a = (0.85 * z ** 0.6)[..., None]
    return np.round(255 * (1 - a) + np.array([61, 127, 191]) * a).astype(np.uint8)


def raster_frame(bg: np.ndarray, extent, frames: list[torch.Tensor], idx: int, color: str) -> np.ndarray:
    """The chain picture of `chain_figure` drawn straight into pixels with numpy (a few ms, and the browser
    only swaps an image): used while the animation plays, when a plotly redraw per frame would be too slow."""
    x0, x1, y0, y1 = extent
    img = bg.copy()
    h, w = img.shape[:2]

    def put(p: np.ndarray, rgb, r: int) -> None:
        p = p[np.isfinite(p).all(1)]
        ix = ((p[:, 0] - x0) / (x1 - x0) * w).astype(int)
        iy = ((y1 - p[:, 1]) / (y1 - y0) * h).astype(int)
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                jx, jy = ix + dx, iy + dy
                ok = (jx >= 0) & (jx < w) & (jy >= 0) & (jy < h)
                img[jy[ok], jx[ok]] = rgb

    lo = max(0, idx - TRAIL_FRAMES)
    trail = torch.stack(frames[lo:idx + 1])[:, :TRAILS].numpy()  # [F, TRAILS, 2]
    if len(trail) > 1:
        s = np.linspace(0, 1, 16)[None, :, None, None]
        seg = trail[:-1, None] + s * (trail[1:, None] - trail[:-1, None])  # points along each segment
        put(seg.reshape(-1, 2), (60, 60, 60), 0)
    put(frames[idx][:MAX_POINTS].numpy(), tuple(int(color[i:i + 2], 16) for i in (1, 3, 5)), 1)
    return img


def panels(images: list[np.ndarray], names: list[str]) -> np.ndarray:
    """Raster frames side by side (a white gap between), each named in its top left corner: one image per frame."""
    from PIL import Image, ImageDraw, ImageFont

    h = max(im.shape[0] for im in images)
    gap = np.full((h, 12, 3), 255, np.uint8)
    row = []
    for im in images:
        row += [np.pad(im, ((0, h - im.shape[0]), (0, 0), (0, 0)), constant_values=255), gap]
    out = Image.fromarray(np.concatenate(row[:-1], 1))
    draw, font, x = ImageDraw.Draw(out), ImageFont.load_default(size=14), 0
    for im, name in zip(images, names):
        draw.rectangle((x, 0, x + im.shape[1] - 1, im.shape[0] - 1), outline=(200, 200, 200))
        draw.text((x + 6, 4), name, fill=(0, 0, 0), font=font)
        x += im.shape[1] + gap.shape[1]
    return np.asarray(out)


def marginals_figure(gr, samples: dict[str, torch.Tensor], extent) -> go.Figure:
    """Histograms (as step lines) of each sampler's x1 and x2 against the exact marginal densities (two panels)."""
    px, py = gr.marginals()
    traces = []
    for j, (grid_pts, exact, lo, hi) in enumerate([(gr.xs, px, extent[0], extent[1]), (gr.ys, py, extent[2], extent[3])]):
        axes = dict(xaxis="x" if j == 0 else "x2", yaxis="y" if j == 0 else "y2")
        edges = np.linspace(lo, hi, 41)
        for name, s in samples.items():
            v = s[:, j].numpy()
            v = v[np.isfinite(v)]
            h, _ = np.histogram(v, edges)
            h = h / max(len(v), 1) / (edges[1] - edges[0])
            traces.append(go.Scatter(x=edges, y=np.append(h, h[-1]), mode="lines", name=name, showlegend=j == 0,
                                     line=dict(shape="hv", color=COLORS[name]), legendgroup=name, **axes))
        traces.append(go.Scatter(x=grid_pts, y=exact, mode="lines", line=dict(color="black", dash="dot"), name="exact",
                                 showlegend=j == 0, legendgroup="exact", **axes))
    return go.Figure(traces, layout=dict(
        height=260, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12, x=0.35),
        xaxis=dict(domain=[0, 0.47], title="x₁"), xaxis2=dict(domain=[0.53, 1], title="x₂"),
        yaxis=dict(title="density"), yaxis2=dict(anchor="x2")))


def ess_x1(chain: S.Chain) -> float:
    """ESS of x1 over the second half of the recorded frames (at most 100), pooled over the live chains."""
    n = len(chain.frames)
    if n < 8:
        return float("nan")
    start = max(n // 2, n - 100)
    return S.ess(chain.trace(start)[:, :, 0])


def fmt(v, spec=".3g"):
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def play_buttons(key: str, state: dict, what: str) -> tuple[bool, bool]:
    """Play/pause toggle, single step, restart (outside the fragment). Returns (step, restart) clicks."""
    return ui.run_buttons(state, "playing", (f"{key}-play", f"{key}-step", f"{key}-restart"), ("Play", "Restart"), (
        f"Run the {what}: the browser shows {FPS} frames per second while the server computes the next ones.",
        "Advance one frame (the steps per frame set above).", "Start the chains again from the same seed."))


def chain_controls(state: dict, key: str, what: str, build, advance) -> bool:
    """The settings' error, or the play / step / restart row (restart rebuilds the chains with `build()`, step
    calls `advance()`). True when there are chains to show."""
    if state["error"]:
        st.error(f"Cannot run these settings: {state['error']}.")
        return False
    step, restart = play_buttons(key, state, what)
    if restart:
        state.update(playing=False, **build())
    if step:
        advance()
    return True


def chain_state(name: str, key: tuple, build) -> dict:
    """st.session_state[name], rebuilt with build() when the settings `key` change; impossible settings (a
    ValueError from the library) are kept as {"error": message} for the page to show."""
    state = st.session_state.get(name)
    if state is None or state["key"] != key:
        try:
            state = {"key": key, "playing": False, "error": None, **build()}
        except ValueError as e:
            state = {"key": key, "playing": False, "error": str(e)}
        st.session_state[name] = state
    return state


def scrub(key: str, chain: S.Chain) -> int:
    """The frame to show (paused): a slider over the frames so far, the newest frame by default."""
    last = len(chain.frames) - 1
    if last == 0:
        return last
    return st.slider("Frame", 0, last, last, key=f"{key}-scrub-{last}",
                     help="Scrub through the frames computed so far (pause first to look around).")


# ---- Samplers: ULA vs MALA ---------------------------------------------------------------------------------------

def new_samplers(target_name: str, chains: int, seed: int, eta: float, sigma: float) -> dict:
    """ULA and MALA from the same start and the same seed. Raises ValueError for impossible settings."""
    t, fine, _ = target_and_grids(target_name)
    x0 = S.init_chains(chains, 2, torch.Generator().manual_seed(seed))
    ula = S.Chain(_primed(S.ula(t.grad, x0, eta, sigma, torch.Generator().manual_seed(seed + 1))), x0, MAX_FRAMES)
    mala = S.Chain(_primed(S.mala(t.log_prob, t.grad, x0, eta, torch.Generator().manual_seed(seed + 1), noise=sigma)),
                   x0, MAX_FRAMES)
    exact = t.sample(chains, torch.Generator().manual_seed(seed + 2))
    return {"ULA": ula, "MALA": mala, "kl_exact": S.kl_to_grid(exact, fine), "died": 0}


def _primed(gen):
    """Run a sampler generator's setup now (it raises ValueError for bad settings) and hand back the same stream."""
    first = next(gen)

    def it():
        yield first
        yield from gen
    return it()


def advance_samplers(state: dict, k: int) -> None:
    """k steps of both samplers and one frame each; stops playing at the frame limit."""
    for name in ("ULA", "MALA"):
        state["died"] += state[name].advance(k)
    if state["ULA"].full:
        state["playing"] = False


def play_batch(state: dict, names: tuple, target_name: str, advance, caption, key: str, head: str) -> None:
    """While playing: the next BATCH frames of the named chains side by side, one image per frame, as one
    flipbook batch (ui.flipbook). `advance()` moves every chain one frame, `caption(i)` describes frame i.
    The interactive charts and the scrub slider come back on pause."""
    t0 = time.perf_counter()
    target, bg, ref = target_and_grids(target_name)[0], background(target_name), state[names[0]]
    first, frames, captions = len(ref.frames), [], []
    while state["playing"] and len(frames) < BATCH:
        advance()
        i = len(ref.frames) - 1
        frames.append(panels([raster_frame(bg, target.extent, state[n].frames, i, COLORS[n]) for n in names],
                             list(names)))
        captions.append(caption(i))
    if not state["playing"]:  # the frame limit: show the paused view (and the Play button) at the last frame
        st.rerun()
    ui.flipbook(frames, captions, first, str(id(ref)), key, FPS, head=(
        f"{head} Server: {1000 * (time.perf_counter() - t0) / max(len(frames), 1):.0f} ms per frame."))


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
                   f"same start; trails of {TRAILS} chains. ESS (x₁): ULA {fmt(ess_x1(ula), '.0f')}, MALA "
                   f"{fmt(ess_x1(mala), '.0f')}. Pause for the interactive charts, the marginals and the frame slider."))


tab_s, tab_g, tab_e = st.tabs(["Samplers", "SGLD", "2-D EBM"], key="lv-tab", on_change="rerun")

with tab_s:
    if tab_s.open:  # lazy tabs: only the selected tab runs (and redraws while a fragment plays)
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
        custom = c3.number_input("Custom σ", value=0.3, step=0.05, format="%.3f", key="lv-sigma",
                                 disabled=mode != NOISE_MODES[2], help="Noise standard deviation when 'custom σ' is chosen.")
        seed = c3.number_input("Seed", 0, 10_000, 0, key="lv-seed", help="Seed of the starting points and of the noise; "
                               "ULA and MALA share it.")
        per_frame = c4.slider("Steps per frame", 1, 50, 5, key="lv-per-frame", help="Sampler steps between two frames.")
        sigma = math.sqrt(2 * eta) if mode == NOISE_MODES[0] else math.sqrt(eta) if mode == NOISE_MODES[1] else float(custom)
        T = S.temperature(eta, sigma) if sigma >= 0 else float("nan")
        c4.markdown(f"σ = **{sigma:.3g}**, effective temperature T = σ²/(2η) = **{T:.3g}**")

        key = (target_name, int(chains), int(seed), eta, sigma)
        build_s = lambda: new_samplers(target_name, int(chains), int(seed), eta, sigma)
        sstate = chain_state("lv_samplers", key, build_s)
        if chain_controls(sstate, "lv-s", "samplers", build_s, lambda: advance_samplers(sstate, per_frame)):

            @st.fragment  # no timer: while playing, the browser's flipbook asks for the next batch of frames
            def samplers_view():
                stt = st.session_state["lv_samplers"]
                if stt.get("error"):
                    return
                if stt["playing"]:
                    play_samplers(stt, target_name, per_frame)
                ula, mala = stt["ULA"], stt["MALA"]
                if ula.dead:
                    st.warning(f"{ula.dead} of {len(ula.frames[0])} ULA chains were sent to infinity by the step size "
                               f"η = {eta:g} and stopped; the other chains go on. MALA rejects such moves instead.")
                if stt["playing"]:
                    return
                target, fine, coarse = target_and_grids(target_name)
                idx = scrub("lv-s", ula)
                st.caption(f"step {ula.steps[idx]} · frame {idx} of {len(ula.frames) - 1}"
                           + (" · reached the frame limit: Restart to run again" if ula.full else ""))
                cols = st.columns(2)
                samples = {}
                for col, name, ch in [(cols[0], "ULA", ula), (cols[1], "MALA", mala)]:
                    with col:
                        st.plotly_chart(chain_figure(coarse, ch.frames, idx, COLORS[name], f"{name} on the {target.name}",
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
                                  f"samples score {stt['kl_exact']:.3f}: that is the noise floor.")
                st.plotly_chart(marginals_figure(fine, samples, target.extent), key="lv-s-marg")
                st.caption(f"{target.name}: {target.description}. Noise floor of the KL with {len(ula.frames[0])} exact "
                           f"samples: {stt['kl_exact']:.3f}.")

            samplers_view()


# ---- SGLD on the Welling & Teh posterior ----------------------------------------------------------------------------

WT_NAME = D.WellingTehPosterior.name
SGLD_METHODS = ("SGD", "SGLD", "full-batch Langevin")


def new_sgld(chains: int, seed: int, schedule: S.StepSchedule, batch: int) -> dict:
    t, fine, _ = target_and_grids(WT_NAME)
    x0 = S.init_chains(chains, 2, torch.Generator().manual_seed(seed))
    if not 1 <= batch <= len(t.x):
        raise ValueError(f"the minibatch size must be between 1 and {len(t.x)}, got {batch}")
    out = {}
    for i, name in enumerate(SGLD_METHODS):
        g = torch.Generator().manual_seed(seed + 1 + i)
        grad = t.grad if name == "full-batch Langevin" else (lambda th, g=g: t.minibatch_grad(th, batch, g))
        gen = (S.sgd if name == "SGD" else S.sgld)(grad, x0, schedule, g)
        out[name] = S.Chain(_primed(gen), x0, MAX_FRAMES)
    out["died"] = 0
    return out


def advance_sgld(state: dict, k: int) -> None:
    for name in SGLD_METHODS:
        state["died"] += state[name].advance(k)
    if state["SGLD"].full:
        state["playing"] = False


@st.cache_resource
def exact_mode_share() -> float:
    """The exact posterior mass of the mode θ₂ > 0 (on a fine grid: computed once)."""
    return target_and_grids(WT_NAME)[0].mode_masses()[0]


def mode_share_and_kl(ch: S.Chain, idx: int, fine) -> tuple[float, float]:
    """Share of samples in the mode θ₂ > 0 and KL to the exact posterior, frames idx/2 to idx pooled over chains."""
    pooled = torch.stack(ch.frames[idx // 2: idx + 1]).reshape(-1, 2).numpy()
    pooled = pooled[np.isfinite(pooled).all(1)]
    if not len(pooled):
        return float("nan"), float("nan")
    return float((pooled[:, 1] > 0).mean()), S.kl_to_grid(pooled, fine)


def play_sgld(state: dict, per_frame: int) -> None:
    """SGD, SGLD and full-batch Langevin side by side; each caption: the step size, the share in the mode
    θ₂ > 0 and the KL to the exact posterior per method."""
    target, fine, _ = target_and_grids(WT_NAME)
    ref = state["SGLD"]

    def caption(i: int) -> str:
        stats = [(n, *mode_share_and_kl(state[n], i, fine)) for n in SGLD_METHODS]
        return (f"step {ref.steps[i]} · frame {i} of {MAX_FRAMES - 1} at most · ε = {fmt(ref.step_sizes[i], '.2e')} · "
                "share in mode θ₂ > 0 / KL to exact: " + ", ".join(f"{n} {fmt(up, '.0%')} / {fmt(kl, '.2f')}"
                                                                  for n, up, kl in stats))

    x0, x1, y0, y1 = target.extent
    play_batch(state, SGLD_METHODS, WT_NAME,
               lambda: advance_sgld(state, per_frame), caption, "lv-g-flipbook", head=(
                   f"Posterior over θ₁ ∈ [{x0:g}, {x1:g}], θ₂ ∈ [{y0:g}, {y1:g}]; exact share in the mode θ₂ > 0: "
                   f"{exact_mode_share():.0%}. Shares and KL pool the second half of the frames over all chains. "
                   "Pause for the interactive charts, the step schedule, the traces and the frame slider."))


with tab_g:
    if tab_g.open:  # lazy tabs: only the selected tab runs (and redraws while a fragment plays)
        c1, c2, c3, c4 = st.columns(4)
        a = c1.select_slider("a", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0], value=0.02, key="lv-g-a",
                             help="Scale of the step schedule ε_t = a (b + t)^(−γ).")
        b = c1.select_slider("b", [1, 3, 10, 30, 100, 300, 1000], value=1, key="lv-g-b",
                             help="Offset of the schedule: larger b keeps the first steps smaller and flatter.")
        gamma = c2.slider("γ", 0.0, 1.0, 0.1, 0.05, key="lv-g-gamma",
                          help="Decay exponent. Welling & Teh use 0.55; any γ in (0.5, 1] gives Σε = ∞, Σε² < ∞. "
                          "Small γ keeps the step large enough to hop between the modes in a short demo.")
        batch = c2.slider("Minibatch size n", 1, 100, 10, key="lv-g-batch",
                          help="Data points per gradient estimate for SGD and SGLD (the full batch is 100).")
        g_chains = c3.number_input("Chains", 0, 500, 50, 10, key="lv-g-chains",
                                   help="Chains per method, started uniformly in [-1, 1]².")
        g_seed = c3.number_input("Seed", 0, 10_000, 0, key="lv-g-seed", help="Seed of starts, minibatches and noise.")
        g_per_frame = c4.slider("Steps per frame", 1, 50, 10, key="lv-g-per-frame", help="Steps between two frames.")

        gkey = (a, b, gamma, batch, int(g_chains), int(g_seed))
        build_g = lambda: new_sgld(int(g_chains), int(g_seed), S.StepSchedule(a, float(b), gamma), batch)
        gstate = chain_state("lv_sgld", gkey, build_g)
        if chain_controls(gstate, "lv-g", "three samplers", build_g, lambda: advance_sgld(gstate, g_per_frame)):
            schedule = S.StepSchedule(a, float(b), gamma)  # valid: building the chains with it just worked

            @st.fragment  # no timer: while playing, the browser's flipbook asks for the next batch of frames
            def sgld_view():
                stt = st.session_state["lv_sgld"]
                if stt.get("error"):
                    return
                if stt["playing"]:
                    play_sgld(stt, g_per_frame)
                dead = {n: stt[n].dead for n in SGLD_METHODS if stt[n].dead}
                if dead:
                    st.warning("Chains sent to infinity by too large a step (a) were stopped: "
                               + ", ".join(f"{n}: {d}" for n, d in dead.items()) + ". The others go on.")
                if stt["playing"]:
                    return
                target, fine, coarse = target_and_grids(WT_NAME)
                ref = stt["SGLD"]
                idx = scrub("lv-g", ref)
                st.caption(f"step {ref.steps[idx]} · frame {idx} of {len(ref.frames) - 1} · ε = "
                           f"{fmt(ref.step_sizes[idx], '.2e')}" + (" · reached the frame limit" if ref.full else ""))
                exact_up = exact_mode_share()
                cols = st.columns(3)
                for col, name in zip(cols, SGLD_METHODS):
                    ch = stt[name]
                    with col:
                        st.plotly_chart(chain_figure(coarse, ch.frames, idx, COLORS[name], name, target.extent,
                                                     ("θ₁", "θ₂")), key=f"lv-g-fig-{name}")
                        up, kl = mode_share_and_kl(ch, idx, fine)
                        m1, m2 = st.columns(2)
                        m1.metric("share in mode θ₂ > 0", fmt(up, ".0%"), help=f"Over the second half of the frames, all "
                                  f"chains. Exact posterior: {exact_up:.0%}.")
                        m2.metric("KL to exact", fmt(kl, ".2f"),
                                  help="KL(histogram ‖ exact posterior) on 24 × 24 cells, samples of the second half of "
                                  "the frames pooled over chains.")
                left, right = st.columns(2)
                with left:
                    tt = np.unique(np.r_[0, np.round(np.geomspace(1, max(ref.steps[-1], 1000), 300))])
                    fig = go.Figure(go.Scatter(x=tt, y=schedule(tt), mode="lines", line=dict(color="black")))
                    fig.add_vline(x=ref.steps[idx], line_dash="dot", line_color=COLORS["SGLD"])
                    fig.update_layout(height=300, title="step schedule ε_t = a (b + t)^(−γ)", xaxis_title="step t",
                                      yaxis=dict(type="log", title="ε_t"), margin=dict(l=10, r=10, t=40, b=10))
                    st.plotly_chart(fig, key="lv-g-schedule")
                with right:
                    traces = []
                    for name in SGLD_METHODS:
                        tr = torch.stack(stt[name].frames)[:, 0].numpy()  # chain 1 of each method [F, 2]
                        for j in range(2):
                            traces.append(go.Scatter(x=stt[name].steps, y=tr[:, j], mode="lines", name=name,
                                                     line=dict(width=1, color=COLORS[name]), showlegend=j == 0,
                                                     legendgroup=name, xaxis="x", yaxis="y" if j == 0 else "y2"))
                    now = ref.steps[idx]
                    fig = go.Figure(traces, layout=dict(
                        height=300, title="trace of chain 1 of each method", margin=dict(l=10, r=10, t=40, b=10),
                        legend=dict(orientation="h", y=1.12, x=0.4), xaxis=dict(title="step", anchor="y2"),
                        yaxis=dict(domain=[0.53, 1], title="θ₁"), yaxis2=dict(domain=[0, 0.47], title="θ₂"),
                        shapes=[dict(type="line", x0=now, x1=now, y0=0, y1=1, yref="paper", line=dict(dash="dot"))]))
                    st.plotly_chart(fig, key="lv-g-trace")
                st.caption(f"Posterior: {target.description}. The exact posterior (blue) is normalised on a grid.")

            sgld_view()


# ---- 2-D EBM --------------------------------------------------------------------------------------------------------

EBM_BOX = (-4.0, 4.0, -4.0, 4.0)


def new_ebm(dataset: str, seed: int, config: EBM2DConfig, lr: float) -> dict:
    g = torch.Generator().manual_seed(seed)
    data = toy_data(dataset, 5000, g)
    with torch.random.fork_rng(devices=[]):  # nn.Linear draws its initial weights from the global RNG: seed a fork
        torch.manual_seed(seed)
        model = EBM2D(config)
    return {"model": model, "opt": torch.optim.Adam(model.parameters(), lr=lr), "data": data, "gen": g,
            "history": [], "negatives": None, "running": False, "message": None}


def ebm_tick(state: dict, budget: float = 0.12, max_iters: int = 20, batch: int = 128) -> int:
    """Training iterations for about `budget` seconds; returns how many ran (0 after a blow-up)."""
    model, opt, data, g = state["model"], state["opt"], state["data"], state["gen"]
    t0, n = time.perf_counter(), 0
    while n < max_iters and (n == 0 or time.perf_counter() - t0 < budget):
        x = data[torch.randint(0, len(data), (batch,), generator=g)]
        out = model.loss(x, g)
        if not torch.isfinite(out["loss"]):
            state["running"] = False
            state["message"] = "The energies blew up (non-finite loss): lower the learning rate or the step size, then Reset."
            return n
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        n += 1
        state["negatives"] = out["negatives"]
        state["history"].append({"it": len(state["history"]) + 1, "cd": float(out["cd"]),
                                 "e_data": float(out["e_data"]), "e_neg": float(out["e_neg"])})
    return n


with tab_e:
    if tab_e.open:  # lazy tabs: only the selected tab runs (and redraws while a fragment plays)
        c1, c2, c3, c4 = st.columns(4)
        dataset = c1.selectbox("Data set", TOYS, key="lv-e-data", help="The 2-D toy data set the energy is fitted to.")
        neg_mode = c1.radio("Negatives", ["persistent", "short-run from noise"], key="lv-e-neg", horizontal=True,
                            help="Persistent: chains continue from a buffer of earlier negatives (5 % restarted from "
                            "noise). Short-run: fresh chains from uniform noise in [-4, 4]² every iteration.")
        k = c2.slider("Langevin steps", 5, 100, 30, 5, key="lv-e-steps", help="ULA steps per training iteration.")
        e_eta = c2.select_slider("Step size η", [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1], value=0.02, key="lv-e-eta",
                                 help="ULA step size on log p = −E.")
        e_sigma = c3.number_input("Noise σ", value=0.2, step=0.05, format="%.3f", key="lv-e-sigma",
                                  help="ULA noise; √(2η) = 0.2 at the default step gives T = 1.")
        lr = c3.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], value=1e-3, key="lv-e-lr",
                              format_func=lambda v: f"{v:g}", help="Adam step size of the energy network.")
        e_seed = c4.number_input("Seed", 0, 10_000, 0, key="lv-e-seed", help="Seed of data, weights, chains.")
        c4.markdown(f"T = σ²/(2η) = **{S.temperature(e_eta, e_sigma) if e_sigma >= 0 else float('nan'):.3g}**")

        try:
            cfg = EBM2DConfig(steps=k, step_size=e_eta, noise=float(e_sigma), persistent=neg_mode == "persistent")
            cfg_error = None
        except ValueError as e:
            cfg, cfg_error = None, str(e)
        estate = st.session_state.get("lv_ebm")
        if estate is None or estate["key"] != (dataset, int(e_seed)):
            estate = {"key": (dataset, int(e_seed)), **new_ebm(dataset, int(e_seed), cfg or EBM2DConfig(), lr)}
            st.session_state["lv_ebm"] = estate
        if cfg_error:
            estate["running"] = False
            st.error(f"Cannot train with these settings: {cfg_error}.")
        else:
            estate["model"].config = cfg
            for group in estate["opt"].param_groups:
                group["lr"] = lr
            step_e, reset_e = ui.train_buttons("lv-ebm", estate)
            if reset_e:
                estate.update(new_ebm(dataset, int(e_seed), cfg, lr))
            if step_e:
                ebm_tick(estate)

            @st.fragment(run_every=TICK if estate["running"] else None)
            def ebm_view():
                stt = st.session_state["lv_ebm"]
                if stt["running"]:
                    ebm_tick(stt)
                    if not stt["running"]:
                        st.rerun()
                if stt["message"]:
                    st.error(stt["message"])
                model, hist = stt["model"], stt["history"]
                st.caption(f"iteration {len(hist)} · {dataset} · negatives: {neg_mode}")
                left, right = st.columns([3, 2])
                with left:
                    xs, ys, e = model.energy_grid(EBM_BOX, 70)
                    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=-(e - e.min()), colorscale="Viridis", hoverinfo="skip",
                                               colorbar=dict(title="−E (shifted)")))
                    d = stt["data"][:300].numpy()
                    fig.add_trace(go.Scatter(x=d[:, 0], y=d[:, 1], mode="markers", name="data",
                                               marker=dict(size=4, color="white", line=dict(width=0.5, color="black"))))
                    if stt["negatives"] is not None:
                        n_ = stt["negatives"][:300].numpy()
                        fig.add_trace(go.Scatter(x=n_[:, 0], y=n_[:, 1], mode="markers", name="negatives",
                                                   marker=dict(size=4, color="#d62728", symbol="x")))
                    fig.update_layout(height=440, title="learned energy (heat map of −E), data and Langevin negatives",
                                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.08),
                                      xaxis=dict(range=EBM_BOX[:2], title="x₁"),
                                      yaxis=dict(range=EBM_BOX[2:], title="x₂", scaleanchor="x", scaleratio=1))
                    st.plotly_chart(fig, key="lv-e-heat")
                with right:
                    if hist:
                        its = [h["it"] for h in hist]
                        fig = go.Figure([go.Scatter(x=its, y=[h["cd"] for h in hist], name="E_data − E_neg", mode="lines"),
                                         go.Scatter(x=its, y=[h["e_data"] for h in hist], name="E(data)", mode="lines",
                                                    line=dict(width=1)),
                                         go.Scatter(x=its, y=[h["e_neg"] for h in hist], name="E(negatives)", mode="lines",
                                                    line=dict(width=1))])
                        fig.update_layout(height=440, title="loss E_data − E_neg (per iteration)", xaxis_title="iteration",
                                          margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.15))
                        st.plotly_chart(fig, key="lv-e-loss")
                    else:
                        st.info("Press Start or Step to train; the loss appears here.")

            ebm_view()

"""Tensors -> images (numpy, PNG/GIF bytes), plotly figures and line charts as data (Chart, drawn by the browser).
No Streamlit here."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

# Okabe & Ito's eight colours, told apart with every common colour-vision deficiency: blue, orange, bluish green,
# vermillion, reddish purple, sky blue, yellow, black. The app's colour cycle (pages.views.chrome.plot).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"]
# Ten colours for digit labels 0-9: Okabe-Ito without its pale yellow, plus grey and Paul Tol's wine, sand and
# indigo (digits are also named in the legend and on hover, so colour is never the only cue).
DIGIT_COLORS = PALETTE[:6] + ["#999999", "#882255", "#DDCC77", "#332288"]


def grid(images: torch.Tensor, nrow: int | None = None, pad: int = 2, pad_value: float = 1.0) -> np.ndarray:
    """[N, 1, H, W] (or [N, H*W] square) in [0, 1] -> one (rows*H, cols*W) float32 image in [0, 1]."""
    x = images.detach().cpu().float()
    if x.dim() == 2:
        side = int(math.isqrt(x.shape[1]))
        x = x.reshape(-1, 1, side, side)
    n, _, h, w = x.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, dtype=np.float32)
    arr = x[:, 0].clamp(0, 1).numpy()
    for i in range(n):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + c * (w + pad): pad + c * (w + pad) + w] = arr[i]
    return out


def to_uint8(img: np.ndarray, scale: int = 1) -> np.ndarray:
    a = (np.clip(img, 0, 1) * 255).round().astype(np.uint8)
    return a.repeat(scale, 0).repeat(scale, 1) if scale > 1 else a


def png_bytes(img: np.ndarray, scale: int = 1) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(to_uint8(img, scale)).save(buf, format="PNG")
    return buf.getvalue()


def gif_bytes(frames: list[np.ndarray], ms_per_frame: int = 80, scale: int = 2) -> bytes:
    """An animated GIF of equally sized grey frames in [0, 1]."""
    pics = [Image.fromarray(to_uint8(f, scale)) for f in frames]
    buf = io.BytesIO()
    pics[0].save(buf, format="GIF", save_all=True, append_images=pics[1:], duration=ms_per_frame, loop=0)
    return buf.getvalue()


class Chart(dict):
    """A line chart as plain data, drawn by the browser (pages.views.live.chart, live.js): {"title", "xlabel",
    "ylabel", "log_y", "height", "series": [{"name", "x", "y", "color", "dash", "opacity", "width", "markers"}]}.
    x and y are lists of plain numbers; a value that is not finite (NaN, inf) is None (JSON null: a gap in the line)."""

    def to_json(self) -> str:
        return json.dumps(self)


def _num(v) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def line(name: str, x, y, color: str, dash: str = "solid", opacity: float = 1.0, width: float = 2,
         markers: bool | None = None) -> dict:
    """One line of a Chart: steps x, values y (not finite: None). `dash`: "solid", "dash" or "dot"; `markers`
    (default: fewer than 30 points) draws a dot at each point."""
    return {"name": name, "x": [int(s) for s in x], "y": [_num(v) for v in y], "color": color, "dash": dash,
            "opacity": opacity, "width": width, "markers": len(x) < 30 if markers is None else markers}


def series(history: list[dict], key: str, name: str, color: str, dash: str = "solid", opacity: float = 1.0,
           width: float = 2, markers: bool | None = None) -> dict | None:
    """The line of record key `key` of `history` against the training step (None when no record has it)."""
    pts = [(r["step"], r[key]) for r in history if key in r]
    if not pts:
        return None
    return line(name, [s for s, _ in pts], [v for _, v in pts], color, dash, opacity, width, markers)


def curves(history: list[dict], keys: dict[str, str], title: str = "", yaxis: str = "loss",
           log_y: bool = False) -> Chart:
    """Line chart of history records against the training step; `keys` maps record key -> legend label. The lines
    take the PALETTE's colours in order (as plotly's colour cycle did), dots where a line has fewer than 30 points."""
    lines = [s for key, label in keys.items() if (s := series(history, key, label, "")) is not None]
    for i, s in enumerate(lines):
        s["color"] = PALETTE[i % len(PALETTE)]
    return Chart(title=title, xlabel="training step", ylabel=yaxis, log_y=log_y, height=320, series=lines)


def code_scatter(codes: torch.Tensor, labels: torch.Tensor, title: str = "", axis: str = "h") -> go.Figure:
    """2-D codes [N, 2] as points coloured by digit label (one trace per digit, so the legend filters)."""
    c = codes.detach().cpu().numpy()
    y = labels.cpu().numpy()
    fig = go.Figure()
    for d in range(10):
        m = y == d
        fig.add_trace(go.Scattergl(x=c[m, 0], y=c[m, 1], mode="markers", name=str(d),
                                   marker=dict(size=5, color=DIGIT_COLORS[d], opacity=0.75)))
    fig.update_layout(title=title, xaxis_title=f"{axis}[0]", yaxis_title=f"{axis}[1]", height=420,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), legend_title_text="digit")
    return fig


# ---- latent maps, filters and energies (VAE, RBM and EBM pages) ----

def latent_map(codes: torch.Tensor, labels: torch.Tensor, dims: tuple[int, int], title: str = "") -> go.Figure:
    """Encoder means in two dimensions `dims` coloured by label (traces 0-9 are the digits), with the prior's
    1, 2, 3-sigma circles."""
    fig = code_scatter(codes[:, list(dims)], labels, title=title, axis="z")
    t = np.linspace(0, 2 * np.pi, 100)
    for r in (1, 2, 3):
        fig.add_trace(go.Scatter(x=r * np.cos(t), y=r * np.sin(t), mode="lines", hoverinfo="skip",
                                 line=dict(color="grey", width=1, dash="dot"), showlegend=r == 1,
                                 name="prior 1/2/3 σ"))
    fig.update_layout(xaxis_title=f"z[{dims[0]}]", yaxis_title=f"z[{dims[1]}]")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


def selected_points(points: list[dict], labels: torch.Tensor) -> list[int]:
    """Indices into the data of the points a user selected on a code_scatter/latent_map figure (plotly's selection
    gives a trace and an index within it; traces 0-9 are the digit classes, in label order)."""
    y = labels.cpu().numpy()
    return [int(np.nonzero(y == p["curve_number"])[0][p["point_index"]]) for p in points
            if p.get("curve_number") is not None and p["curve_number"] < 10]


def mark_path(fig: go.Figure, path: torch.Tensor, dims: tuple[int, int]) -> go.Figure:
    """A path of latent points [S, D] (an interpolation) on a latent map, in dimensions `dims`."""
    fig.add_trace(go.Scatter(x=path[:, dims[0]], y=path[:, dims[1]], mode="lines+markers", name="path",
                             line=dict(color="black", width=3), marker=dict(size=7)))
    return fig


def kl_bars(kl: torch.Tensor) -> go.Figure:
    """KL(q(z_j|x) || p(z_j)) per latent dimension [D] as bars."""
    fig = go.Figure(go.Bar(x=[f"z[{i}]" for i in range(len(kl))], y=kl.numpy()))
    fig.update_layout(title="KL per latent dimension (validation)", yaxis_title="nats", height=300,
                      margin=dict(l=10, r=10, t=40, b=10))
    return fig


def filters(weight: torch.Tensor, n: int = 100) -> np.ndarray:
    """The first n rows of a weight matrix [H, 784] (an RBM's hidden units) as 28 x 28 tiles, each scaled to its
    own range."""
    w = weight.detach()[:n]
    lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
    return grid(((w - lo) / (hi - lo).clamp_min(1e-8)).reshape(-1, 1, 28, 28), pad_value=1.0)


def compare_curves(history: list[dict], keys: dict[str, str], title: str, yaxis: str,
                   previous: list[dict] | None = None, previous_label: str = "previous run") -> Chart:
    """Training curves (one PALETTE colour per key) with a faded, dashed copy of a previous run's curves of the same
    keys behind them (the RBM page keeps the run before the last Reset, to compare CD-1 with PCD)."""
    lines = []
    for i, (key, label) in enumerate(keys.items()):
        color = PALETTE[i % len(PALETTE)]
        old = series(previous or [], key, f"{label}, {previous_label}", color, "dash", 0.35, markers=False)
        new = series(history, key, label, color)
        lines += [s for s in (old, new) if s is not None]
    return Chart(title=title, xlabel="training step", ylabel=yaxis, log_y=False, height=320, series=lines)


def panels(images: list[np.ndarray], names: list[str], gap: int = 12) -> np.ndarray:
    """RGB images side by side (a white gap between), each outlined and named in its top left corner."""
    from PIL import ImageDraw, ImageFont

    h = max(im.shape[0] for im in images)
    gap = np.full((h, gap, 3), 255, np.uint8)
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


def lecture_picture(real: torch.Tensor, recon: torch.Tensor, samples: torch.Tensor, nrow: int = 4,
                    scale: int = 3) -> np.ndarray:
    """The lecture's RBM figure as one RGB image: real digits | their one-step Gibbs reconstructions | free-running
    samples, three grids side by side, each named in its corner (images [N, 1, 28, 28] in [0, 1])."""
    grids = [to_uint8(grid(x, nrow=nrow), scale) for x in (real, recon, samples)]
    rgb = [np.repeat(np.pad(g, ((24, 0), (0, 0)), constant_values=255)[..., None], 3, axis=2) for g in grids]
    return panels(rgb, ["real digits v", "reconstructions p(v|h), h ~ p(h|v)", "free-running samples"])


def energy_histogram(energies: dict[str, np.ndarray], marks: tuple[str, ...] = (), zoom: tuple[str, ...] = ()
                     ) -> go.Figure:
    """Overlaid histograms of energies per group (one Okabe-Ito colour each, dashed line at each group's median);
    the groups named in `marks` (single images) as thick vertical lines. `zoom`: the x axis spans these groups (and
    the marks), so that groups that differ by little are told apart; groups outside the span are named at the
    edge they lie beyond, with their median energy."""
    fig = go.Figure()
    span = [float(v) for k in zoom if k in energies for v in np.percentile(energies[k], [0.5, 99.5])]
    span += [float(energies[k][0]) for k in marks if k in energies]
    lo, hi = (min(span), max(span)) if span else (None, None)
    if lo is not None:
        pad = 0.06 * max(hi - lo, 1e-3)
        lo, hi = lo - pad, hi + pad
    colors = iter(PALETTE[:4] + PALETTE[5:])  # the marks take reddish purple
    outside = {"left": [], "right": []}
    for name, e in energies.items():
        if name in marks:
            continue
        color, med = next(colors), float(np.median(e))
        if lo is not None and not lo <= med <= hi:
            outside["left" if med < lo else "right"].append(f"{name}: median E = {med:.3g}")
            fig.add_trace(go.Histogram(x=[], name=f"{name} (n={len(e)}, off the axis)", marker_color=color))
            continue
        x = e if lo is None else e[(e >= lo) & (e <= hi)]
        fig.add_trace(go.Histogram(x=x, name=f"{name} (n={len(e)})", opacity=0.55, marker_color=color,
                                   histnorm="probability",  # shares: a group of 16 samples compares with 500 digits
                                   xbins=None if lo is None else dict(start=lo, end=hi, size=(hi - lo) / 60)))
        fig.add_vline(x=med, line_color=color, line_dash="dash", line_width=2)
    for name in marks:
        if name in energies:
            fig.add_vline(x=float(energies[name][0]), line_color=PALETTE[4], line_width=4,
                          annotation_text=f"{name}: E = {float(energies[name][0]):.3g}",
                          annotation_font_color=PALETTE[4])
    for side, names in outside.items():
        if names:
            fig.add_annotation(x=1 if side == "right" else 0, y=0.98, xref="paper", yref="paper", showarrow=False,
                               xanchor=side, yanchor="top", align=side,
                               text=("← " if side == "left" else "") + "<br>".join(names)
                               + (" →" if side == "right" else ""),
                               bgcolor="rgba(255,255,255,0.8)", font=dict(color="#333333"))
    fig.update_layout(barmode="overlay", height=380, xaxis_title="energy E(x) (dashed: each group's median)",
                      yaxis_title="share of the group", margin=dict(l=10, r=10, t=10, b=10),
                      legend=dict(orientation="h", y=1.15))
    if lo is not None:
        fig.update_xaxes(range=[lo, hi])
    return fig


# ---- 2-D chains (Langevin lab) ----
# Chains of 2-D samplers over a density with a known answer, and the 2-D EBM: the browser draws them (pages/views/
# live.js) over `density_image`. `frames` is a list of recorded chain states [C, 2] (rows of dead chains NaN); `gr` a
# genlib.densities.Grid of the exact density; colors are "#rrggbb".

CHAIN_POINTS = 300  # chains drawn as points (all chains count in a page's statistics)
CHAIN_TRAILS = 5  # chains drawn with their trail
TRAIL_FRAMES = 40  # frames of trail behind each of them


def density_image(target, shape: tuple[int, int]) -> np.ndarray:
    """A target's exact density (its log_prob on its extent) as an RGB image [H, W, 3] uint8, white to blue, row 0
    at the top (largest x2): the background the browser draws the chains over (pages/lab/scene.py). `shape`: (h, w)."""
    x0, x1, y0, y1 = target.extent
    h, w = shape
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    ys = y1 - (np.arange(h) + 0.5) * (y1 - y0) / h
    gx, gy = np.meshgrid(xs, ys)
    with torch.no_grad():
        lp = target.log_prob(torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).reshape(h, w).numpy()
    z = np.exp(lp - lp.max())
    a = (0.85 * z ** 0.6)[..., None]
    return np.round(255 * (1 - a) + np.array([61, 127, 191]) * a).astype(np.uint8)


def marginal_ranges(gr) -> tuple[float, float]:
    """Fixed density axes of the two marginal panels (1.8 times the exact marginal's peak: room for the sharper
    p^(1/T) of T < 1), the same while playing and paused, so frames compare."""
    px, py = gr.marginals()
    return 1.8 * float(px.max()), 1.8 * float(py.max())


def schedule_figure(schedule, last_step: int, now: int, color: str) -> go.Figure:
    """An SGLD step schedule eps_t (a function of an array of steps t) on a log scale up to max(last_step, 1000),
    with a dotted line at step `now`."""
    tt = np.unique(np.r_[0, np.round(np.geomspace(1, max(last_step, 1000), 300))])
    fig = go.Figure(go.Scatter(x=tt, y=schedule(tt), mode="lines", line=dict(color="black")))
    fig.add_vline(x=now, line_dash="dot", line_color=color)
    fig.update_layout(height=300, title="step schedule ε_t = a (b + t)^(−γ)", xaxis_title="step t",
                      yaxis=dict(type="log", title="ε_t"), margin=dict(l=10, r=10, t=40, b=10))
    return fig


def first_chain_figure(runs: dict[str, tuple[list[int], list[torch.Tensor]]], now: int, colors: dict[str, str],
                       labels: tuple[str, str] = ("θ₁", "θ₂")) -> go.Figure:
    """Trace of chain 1 of each run: `runs` maps a name to (steps, frames); two panels (the two coordinates) over
    the steps, a dotted line at step `now`."""
    traces = []
    for name, (steps, frames) in runs.items():
        tr = torch.stack(frames)[:, 0].numpy()  # chain 1 [F, 2]
        for j in range(2):
            traces.append(go.Scatter(x=steps, y=tr[:, j], mode="lines", name=name,
                                     line=dict(width=1, color=colors[name]), showlegend=j == 0,
                                     legendgroup=name, xaxis="x", yaxis="y" if j == 0 else "y2"))
    return go.Figure(traces, layout=dict(
        height=300, title="trace of chain 1 of each method", margin=dict(l=10, r=10, t=40, b=10),
        legend=dict(orientation="h", y=1.12, x=0.4), xaxis=dict(title="step", anchor="y2"),
        yaxis=dict(domain=[0.53, 1], title=labels[0]), yaxis2=dict(domain=[0, 0.47], title=labels[1]),
        shapes=[dict(type="line", x0=now, x1=now, y0=0, y1=1, yref="paper", line=dict(dash="dot"))]))


def energy_color_range(grid: tuple[np.ndarray, np.ndarray, np.ndarray], data: torch.Tensor, near: float = 0.5,
                       max_points: int = 500) -> tuple[float, float]:
    """The colour range of -E for `energy_map_figure`: from the 2 % quantile to the maximum of -E over the grid cells
    within `near` of a data point (at most max_points of them). Far corners of the box can reach energies many
    units away from the data's (no data and few negatives go there): scaled to them, the whole data region
    (modes and the valleys between them) came out as one flat colour."""
    xs, ys, e = grid
    gx, gy = np.meshgrid(xs, ys)
    d = data[:max_points].numpy().astype(np.float64)
    cells = np.stack([gx.ravel(), gy.ravel()], 1)
    dist2 = ((cells[:, None, :] - d[None, :, :]) ** 2).sum(-1).min(1)  # [cells]
    z = -e.ravel()
    region = z[dist2 < near ** 2]
    if not len(region):
        region = z
    lo, hi = float(np.quantile(region, 0.02)), float(region.max())
    return (lo, hi) if hi > lo else (lo - 1.0, hi + 1.0)


def energy_map_figure(grid: tuple[np.ndarray, np.ndarray, np.ndarray], data: torch.Tensor,
                      negatives: torch.Tensor | None, box, max_points: int = 300) -> go.Figure:
    """A 2-D EBM's energy as a heat map of -E from grid = (xs, ys, E [ny, nx]), its colours scaled to the data
    region (energy_color_range; lower -E, such as far corners, take the darkest colour), with data points and
    Langevin negatives (at most max_points each) over the box (x0, x1, y0, y1). Legend above the plot (under it,
    it covered the x axis title)."""
    xs, ys, e = grid
    top = float(e.min())
    lo, hi = energy_color_range(grid, data)
    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=-(e - top), zmin=lo + top, zmax=hi + top, colorscale="Viridis",
                               hoverinfo="skip", colorbar=dict(title=dict(text="−(E − min E)", side="right"))))
    d = data[:max_points].numpy()
    fig.add_trace(go.Scatter(x=d[:, 0], y=d[:, 1], mode="markers", name="data",
                             marker=dict(size=4, color="white", line=dict(width=0.5, color="black"))))
    if negatives is not None:
        n_ = negatives[:max_points].numpy()
        fig.add_trace(go.Scatter(x=n_[:, 0], y=n_[:, 1], mode="markers", name="Langevin negatives",
                                 marker=dict(size=5, color=PALETTE[3], symbol="x")))
    fig.update_layout(height=460, title=dict(text="learned energy: heat map of −E (colours: the data region)", y=0.98),
                      margin=dict(l=10, r=10, t=70, b=10),
                      legend=dict(orientation="h", x=0, y=1.01, xanchor="left", yanchor="bottom"),
                      xaxis=dict(range=box[:2], title="x₁"),
                      yaxis=dict(range=box[2:], title="x₂", scaleanchor="x", scaleratio=1))
    return fig


def energy_loss_figure(steps: list[int], cd: list[float], e_data: list[float], e_neg: list[float],
                       title: str = "loss E_data − E_neg (per iteration)") -> Chart:
    """Training curves of a contrastive EBM loss: E_data − E_neg and both mean energies over the iterations."""
    lines = [line(name, steps, ys, PALETTE[i], width=width, markers=False)
             for i, (name, ys, width) in enumerate((("E_data − E_neg", cd, 2), ("E(data)", e_data, 1),
                                                     ("E(negatives)", e_neg, 1)))]
    return Chart(title=title, xlabel="iteration", ylabel="energy", log_y=False, height=460, series=lines)

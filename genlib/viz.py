"""Tensors -> images (numpy, PNG/GIF bytes) and plotly figures. No Streamlit here."""
from __future__ import annotations

import io
import math

import numpy as np
import plotly.graph_objects as go
import torch
from PIL import Image

# Ten distinguishable colours for digit labels 0-9 (plotly's D3 palette).
DIGIT_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


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


def curves(history: list[dict], keys: dict[str, str], title: str = "", yaxis: str = "loss",
           log_y: bool = False) -> go.Figure:
    """Line chart of history records against the training step; `keys` maps record key -> legend label."""
    fig = go.Figure()
    for key, label in keys.items():
        pts = [(r["step"], r[key]) for r in history if key in r]
        if pts:
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers" if len(pts) < 30 else "lines", name=label))
    fig.update_layout(title=title, xaxis_title="training step", yaxis_title=yaxis, height=320,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), legend=dict(orientation="h", y=1.12))
    if log_y:
        fig.update_yaxes(type="log")
    return fig


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


def chain_traces(steps: list[int], values: list[torch.Tensor], at_step: int, xaxis: str, yaxis: str,
                 title: str) -> go.Figure:
    """One line per chain of a per-chain quantity (energy, free energy) over the steps, and a marker at `at_step`."""
    v = torch.stack(values).numpy()  # [frames, chains]
    fig = go.Figure([go.Scatter(x=steps, y=v[:, i], mode="lines", line=dict(width=1), showlegend=False)
                     for i in range(v.shape[1])])
    fig.add_vline(x=at_step, line_dash="dot")
    fig.update_layout(height=330, xaxis_title=xaxis, yaxis_title=yaxis, title=title, margin=dict(l=10, r=10, t=40, b=10))
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


def mark_region(fig: go.Figure, lo: float, hi: float, height: int = 600) -> go.Figure:
    """A dashed square [lo, hi]² on a latent map (the region of the decoded grid)."""
    fig.add_shape(type="rect", x0=lo, x1=hi, y0=lo, y1=hi, line=dict(color="black", width=1, dash="dash"))
    fig.update_layout(height=height)
    return fig


def mark_path(fig: go.Figure, path: torch.Tensor, dims: tuple[int, int]) -> go.Figure:
    """A path of latent points [S, D] (an interpolation) on a latent map, in dimensions `dims`."""
    fig.add_trace(go.Scatter(x=path[:, dims[0]], y=path[:, dims[1]], mode="lines+markers", name="path",
                             line=dict(color="black", width=3), marker=dict(size=7)))
    return fig


def mark_posterior(fig: go.Figure, ellipse: np.ndarray, mu: tuple[float, float]) -> go.Figure:
    """q(z|x) of one digit on a latent map: its 1-sigma ellipse [K, 2] and its mean."""
    fig.add_trace(go.Scatter(x=ellipse[:, 0], y=ellipse[:, 1], mode="lines", name="1 σ",
                             line=dict(color="black", width=2)))
    fig.add_trace(go.Scatter(x=[mu[0]], y=[mu[1]], mode="markers", name="μ(x)",
                             marker=dict(symbol="star", size=16, color="black")))
    return fig


def latent_grid(img: np.ndarray, lo: float, hi: float, n: int, dims: tuple[int, int],
                pointer: tuple[float, float]) -> go.Figure:
    """The n x n decoded grid `img` (from decode_grid, axis values lo ... hi) as a background placed in z coordinates,
    so the axes carry z values, with a pointer cross. Cell centres sit at the axis values: half-cell margins."""
    step = (hi - lo) / max(n - 1, 1)
    fig = go.Figure()
    fig.add_layout_image(source=Image.fromarray(to_uint8(img)), xref="x", yref="y", x=lo - step / 2, y=hi + step / 2,
                         sizex=hi - lo + step, sizey=hi - lo + step, sizing="stretch", layer="below")
    fig.add_trace(go.Scatter(x=[pointer[0]], y=[pointer[1]], mode="markers", name="pointer", hoverinfo="x+y",
                             marker=dict(symbol="cross-thin", size=18, line=dict(width=3, color="#ff4b4b"))))
    fig.update_xaxes(range=[lo - step / 2, hi + step / 2], title=f"z[{dims[0]}]", showgrid=False)
    fig.update_yaxes(range=[lo - step / 2, hi + step / 2], title=f"z[{dims[1]}]", showgrid=False,
                     scaleanchor="x", scaleratio=1)
    fig.update_layout(height=640, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
                      title=f"{n} × {n} decoded grid, z[{dims[0]}], z[{dims[1]}] ∈ [{lo:.2f}, {hi:.2f}]")
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


def energy_histogram(energies: dict[str, np.ndarray], marks: tuple[str, ...] = ()) -> go.Figure:
    """Overlaid histograms of energies per group; the groups named in `marks` (single images) as vertical lines."""
    fig = go.Figure()
    for name, e in energies.items():
        if name in marks:
            fig.add_vline(x=float(e[0]), line_color="black", line_width=3, annotation_text=name)
        else:
            fig.add_trace(go.Histogram(x=e, name=f"{name} (n={len(e)})", opacity=0.6, nbinsx=40))
    fig.update_layout(barmode="overlay", height=380, xaxis_title="energy E(x)", yaxis_title="count",
                      margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.15))
    return fig


# ---- 2-D chains (Langevin lab) ----
# Chains of 2-D samplers over a density with a known answer, and the 2-D EBM. `frames` is a list of recorded chain
# states [C, 2] (rows of dead chains NaN); `gr` a genlib.densities.Grid of the exact density on `extent`
# (x0, x1, y0, y1); colors are "#rrggbb".

CHAIN_POINTS = 300  # chains drawn as points (all chains count in a page's statistics)
CHAIN_TRAILS = 5  # chains drawn with their trail
TRAIL_FRAMES = 40  # frames of trail behind each of them
RASTER_WIDTH = 360  # width in pixels of a raster frame (drawn while an animation plays)


def density_trace(gr) -> go.Heatmap:
    """The exact density as a light heat map (a canvas image: much cheaper to redraw every frame than contours)."""
    z = np.round(gr.density / gr.density.max(), 3)  # 3 decimals: a third of the bytes sent every frame
    return go.Heatmap(x=np.round(gr.xs, 4), y=np.round(gr.ys, 4), z=z, showscale=False, hoverinfo="skip",
                      colorscale=[[0, "#ffffff"], [0.5, "#9ecae1"], [1, "#2166ac"]])


def chain_figure(gr, frames: list[torch.Tensor], idx: int, color: str, title: str, extent,
                 labels: tuple[str, str] = ("x₁", "x₂")) -> go.Figure:
    """Exact density, the chains at frame idx (at most CHAIN_POINTS) and trails of the first CHAIN_TRAILS chains.

    Three SVG traces in all (the trails in one trace, broken by NaN gaps): cheap to build and to redraw."""
    x = frames[idx][:CHAIN_POINTS].numpy()
    lo = max(0, idx - TRAIL_FRAMES)
    trail = torch.stack(frames[lo:idx + 1])[:, :CHAIN_TRAILS].transpose(0, 1).numpy()  # [TRAILS, F, 2]
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


def raster_shape(extent, width: int = RASTER_WIDTH) -> tuple[int, int]:
    """(height, width) in pixels of a raster frame: `width` wide, the height keeping x1 and x2 on the same scale."""
    x0, x1, y0, y1 = extent
    return int(round(width * min(max((y1 - y0) / (x1 - x0), 0.5), 1.6))), width


def density_image(target) -> np.ndarray:
    """A target's exact density (its log_prob on its extent) as an RGB image [H, W, 3] uint8, white to blue, row 0
    at the top (largest x2): the background of `raster_frame`."""
    x0, x1, y0, y1 = target.extent
    h, w = raster_shape(target.extent)
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    ys = y1 - (np.arange(h) + 0.5) * (y1 - y0) / h
    gx, gy = np.meshgrid(xs, ys)
    with torch.no_grad():
        lp = target.log_prob(torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).reshape(h, w).numpy()
    z = np.exp(lp - lp.max())
    a = (0.85 * z ** 0.6)[..., None]
    return np.round(255 * (1 - a) + np.array([61, 127, 191]) * a).astype(np.uint8)


def raster_frame(bg: np.ndarray, extent, frames: list[torch.Tensor], idx: int, color: str) -> np.ndarray:
    """The chain picture of `chain_figure` drawn straight into pixels with numpy over the background `bg` (a few ms,
    and the browser only swaps an image): for animations, where a plotly redraw per frame would be too slow."""
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
    trail = torch.stack(frames[lo:idx + 1])[:, :CHAIN_TRAILS].numpy()  # [F, TRAILS, 2]
    if len(trail) > 1:
        s = np.linspace(0, 1, 16)[None, :, None, None]
        seg = trail[:-1, None] + s * (trail[1:, None] - trail[:-1, None])  # points along each segment
        put(seg.reshape(-1, 2), (60, 60, 60), 0)
    put(frames[idx][:CHAIN_POINTS].numpy(), tuple(int(color[i:i + 2], 16) for i in (1, 3, 5)), 1)
    return img


def panels(images: list[np.ndarray], names: list[str]) -> np.ndarray:
    """RGB images side by side (a white gap between), each named in its top left corner: one image per frame."""
    from PIL import ImageDraw, ImageFont

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


def marginals_figure(gr, samples: dict[str, torch.Tensor], extent, colors: dict[str, str]) -> go.Figure:
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
                                     line=dict(shape="hv", color=colors[name]), legendgroup=name, **axes))
        traces.append(go.Scatter(x=grid_pts, y=exact, mode="lines", line=dict(color="black", dash="dot"), name="exact",
                                 showlegend=j == 0, legendgroup="exact", **axes))
    return go.Figure(traces, layout=dict(
        height=260, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12, x=0.35),
        xaxis=dict(domain=[0, 0.47], title="x₁"), xaxis2=dict(domain=[0.53, 1], title="x₂"),
        yaxis=dict(title="density"), yaxis2=dict(anchor="x2")))


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


def energy_map_figure(grid: tuple[np.ndarray, np.ndarray, np.ndarray], data: torch.Tensor,
                      negatives: torch.Tensor | None, box, max_points: int = 300) -> go.Figure:
    """A 2-D EBM's energy as a heat map of -E (shifted to max 0) from grid = (xs, ys, E [ny, nx]), with data points
    and Langevin negatives (at most max_points each) over the box (x0, x1, y0, y1)."""
    xs, ys, e = grid
    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=-(e - e.min()), colorscale="Viridis", hoverinfo="skip",
                               colorbar=dict(title="−E (shifted)")))
    d = data[:max_points].numpy()
    fig.add_trace(go.Scatter(x=d[:, 0], y=d[:, 1], mode="markers", name="data",
                             marker=dict(size=4, color="white", line=dict(width=0.5, color="black"))))
    if negatives is not None:
        n_ = negatives[:max_points].numpy()
        fig.add_trace(go.Scatter(x=n_[:, 0], y=n_[:, 1], mode="markers", name="negatives",
                                 marker=dict(size=4, color="#d62728", symbol="x")))
    fig.update_layout(height=440, title="learned energy (heat map of −E), data and Langevin negatives",
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.08),
                      xaxis=dict(range=box[:2], title="x₁"),
                      yaxis=dict(range=box[2:], title="x₂", scaleanchor="x", scaleratio=1))
    return fig


def energy_loss_figure(steps: list[int], cd: list[float], e_data: list[float], e_neg: list[float],
                       title: str = "loss E_data − E_neg (per iteration)") -> go.Figure:
    """Training curves of a contrastive EBM loss: E_data − E_neg and both mean energies over the iterations."""
    fig = go.Figure([go.Scatter(x=steps, y=cd, name="E_data − E_neg", mode="lines"),
                     go.Scatter(x=steps, y=e_data, name="E(data)", mode="lines", line=dict(width=1)),
                     go.Scatter(x=steps, y=e_neg, name="E(negatives)", mode="lines", line=dict(width=1))])
    fig.update_layout(height=440, title=title, xaxis_title="iteration",
                      margin=dict(l=10, r=10, t=40, b=10), legend=dict(orientation="h", y=-0.15))
    return fig

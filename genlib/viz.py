"""Tensors -> images (numpy, PNG/GIF bytes) and plotly figures. No Streamlit here."""
from __future__ import annotations

import functools
import io
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
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10),
                      legend=dict(orientation="h", y=1.12, x=1, xanchor="right"))  # right: clear of the title
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
                 title: str, zoom_from: int | None = None) -> go.Figure:
    """One line per chain of a per-chain quantity (energy, free energy) over the steps, and a marker at `at_step`.
    `zoom_from`: the y axis spans the values from that step on (plus a margin), so that the slow later change is not
    flattened by the first steps' large values (which then leave the plot at the top, said in a note)."""
    v = torch.stack(values).numpy()  # [frames, chains]
    fig = go.Figure([go.Scatter(x=steps, y=v[:, i], mode="lines" if len(steps) > 1 else "markers", line=dict(width=1),
                                showlegend=False) for i in range(v.shape[1])])
    if len(steps) > 1:
        mean = np.nanmean(v, axis=1)
        fig.add_trace(go.Scatter(x=steps, y=mean, mode="lines", name="mean over chains",
                                 line=dict(width=4, color="#808080"), showlegend=False,
                                 hovertemplate="step %{x}<br>mean %{y:.3f}<extra></extra>"))
    fig.add_vline(x=at_step, line_dash="dot")
    later = [i for i, s in enumerate(steps) if zoom_from is not None and s >= zoom_from]
    if later and len(later) < len(steps):
        lo, hi = float(np.nanmin(v[later])), float(np.nanmax(v[later]))
        top = float(np.nanmax(v))
        if np.isfinite(lo) and np.isfinite(hi) and top > hi + 2 * max(hi - lo, 1e-6):  # zooming in shows more
            pad = 0.08 * max(hi - lo, 1e-3)
            fig.update_yaxes(range=[lo - pad, hi + pad])
            fig.add_annotation(x=0, y=1, xref="paper", yref="paper", xanchor="left", yanchor="top", showarrow=False,
                               text=f"zoomed on steps ≥ {zoom_from}: the chains start higher, up to {top:.3g} ↑",
                               bgcolor="rgba(255,255,255,0.75)", font=dict(color="#333333"))
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
                   previous: list[dict] | None = None, previous_label: str = "previous run") -> go.Figure:
    """Training curves (one PALETTE colour per key) with a faded, dashed copy of a previous run's curves of the same
    keys behind them (the RBM page keeps the run before the last Reset, to compare CD-1 with PCD)."""
    fig = go.Figure()
    for i, (key, label) in enumerate(keys.items()):
        color = PALETTE[i % len(PALETTE)]
        for hist, faded in ((previous or [], True), (history, False)):
            pts = [(r["step"], r[key]) for r in hist if key in r]
            if not pts:
                continue
            xs, ys = zip(*pts)
            fig.add_trace(go.Scatter(
                x=xs, y=ys, mode="lines+markers" if len(pts) < 30 and not faded else "lines",
                name=f"{label}, {previous_label}" if faded else label, opacity=0.35 if faded else 1.0,
                line=dict(color=color, dash="dash" if faded else "solid", width=2)))
    fig.update_layout(title=title, xaxis_title="training step", yaxis_title=yaxis, height=320,
                      margin=dict(l=10, r=10, t=40 if title else 10, b=10), legend=dict(orientation="h", y=-0.25))
    return fig


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
# Chains of 2-D samplers over a density with a known answer, and the 2-D EBM. `frames` is a list of recorded chain
# states [C, 2] (rows of dead chains NaN); `gr` a genlib.densities.Grid of the exact density on `extent`
# (x0, x1, y0, y1); colors are "#rrggbb".

CHAIN_POINTS = 300  # chains drawn as points (all chains count in a page's statistics)
CHAIN_TRAILS = 5  # chains drawn with their trail
TRAIL_FRAMES = 40  # frames of trail behind each of them
RASTER_WIDTH = 360  # width in pixels of a raster frame (drawn while an animation plays)
RASTER_PANEL = (380, 480)  # (height, width) of one chain panel with its axes: the paused plotly chart is 380 px high
RASTER_MARGINS = (30, 12, 44, 56)  # top, right, bottom, left pixels around a panel's plot area (title, ticks, labels)
MARGINALS_HEIGHT = 260  # the marginals strip under the panels, as high as the paused marginals chart
_INK, _GRID = (68, 68, 68), (200, 200, 200)


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
         go.Scatter(x=trail[:, 0], y=trail[:, 1], mode="lines", hoverinfo="skip",
                    line=dict(width=1, color="rgba(60, 60, 60, 0.55)"), showlegend=False),  # as the raster frames
         go.Scatter(x=x[:, 0], y=x[:, 1], mode="markers", showlegend=False, hoverinfo="skip",
                    marker=dict(size=4, color=color, opacity=0.75))],
        layout=dict(title=dict(text=title, x=0.02, y=0.98, font=dict(size=14)), height=380,
                    margin=dict(l=10, r=10, t=32, b=10), xaxis=dict(range=[x0, x1], title=labels[0], showgrid=False),
                    yaxis=dict(range=[y0, y1], title=labels[1], scaleanchor="x", scaleratio=1, showgrid=False),
                    plot_bgcolor="white"))


def raster_shape(extent, width: int = RASTER_WIDTH) -> tuple[int, int]:
    """(height, width) in pixels of a raster frame: `width` wide, the height keeping x1 and x2 on the same scale."""
    x0, x1, y0, y1 = extent
    return int(round(width * min(max((y1 - y0) / (x1 - x0), 0.5), 1.6))), width


def density_image(target, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A target's exact density (its log_prob on its extent) as an RGB image [H, W, 3] uint8, white to blue, row 0
    at the top (largest x2): the background of `raster_frame`. `shape` (h, w): default raster_shape(extent)."""
    x0, x1, y0, y1 = target.extent
    h, w = shape or raster_shape(target.extent)
    xs = x0 + (np.arange(w) + 0.5) * (x1 - x0) / w
    ys = y1 - (np.arange(h) + 0.5) * (y1 - y0) / h
    gx, gy = np.meshgrid(xs, ys)
    with torch.no_grad():
        lp = target.log_prob(torch.tensor(np.stack([gx.ravel(), gy.ravel()], 1))).reshape(h, w).numpy()
    z = np.exp(lp - lp.max())
    a = (0.85 * z ** 0.6)[..., None]
    return np.round(255 * (1 - a) + np.array([61, 127, 191]) * a).astype(np.uint8)


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About n round tick values (steps of 1, 2 or 5 times a power of ten) inside [lo, hi]."""
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    ticks = np.arange(math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9) + 1) * step
    return np.round(ticks, 10) + 0.0  # + 0.0: no "-0"


_FONT_FILES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "DejaVuSans.ttf")  # has − and the subscripts ₁ ₂


@functools.lru_cache(maxsize=8)
def _font(size: int = 13):
    """A TrueType font with the minus sign and subscript digits (DejaVu Sans, Debian's fonts-dejavu-core or
    matplotlib's copy); Pillow's built-in font otherwise (then _text writes them in ASCII)."""
    from PIL import ImageFont

    for f in _FONT_FILES:
        try:
            return ImageFont.truetype(f, size)
        except OSError:
            continue
    try:
        import matplotlib

        return ImageFont.truetype(f"{matplotlib.get_data_path()}/fonts/ttf/DejaVuSans.ttf", size)
    except (ImportError, OSError):
        font = ImageFont.load_default(size=size)
        font.ascii_only = True
        return font


def _text(draw, xy, text: str, font, **kw) -> None:
    """draw.text, with − ₁ ₂ θ written as - 1 2 th when the font lacks them."""
    if getattr(font, "ascii_only", False):
        text = text.replace("−", "-").translate(str.maketrans("₀₁₂₃", "0123")).replace("θ", "th")
    draw.text(xy, text, font=font, **kw)


def _num(v: float) -> str:
    return f"{v:g}".replace("-", "−")


def raster_axes(target, title: str, labels: tuple[str, str] = ("x₁", "x₂"),
                size: tuple[int, int] = RASTER_PANEL) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A chain panel's still part, drawn once: the exact density of `target` in a plot area that keeps x1 and x2 on
    one scale, with a frame, ticks, tick labels, axis titles and a title, on a white canvas of `size` (h, w).
    Returns (canvas [h, w, 3] uint8, plot box (top, left, height, width)): `raster_frame` draws the chains into the
    box, so a playing frame keeps the axes of the paused chart (nothing jumps on Play or Pause)."""
    from PIL import ImageDraw

    x0, x1, y0, y1 = target.extent
    H, W = size
    mt, mr, mb, ml = RASTER_MARGINS
    ah, aw = H - mt - mb, W - ml - mr
    scale = min(ah / (y1 - y0), aw / (x1 - x0))
    ph, pw = int(round((y1 - y0) * scale)), int(round((x1 - x0) * scale))
    top, left = mt + (ah - ph) // 2, ml + (aw - pw) // 2
    canvas = np.full((H, W, 3), 255, np.uint8)
    canvas[top:top + ph, left:left + pw] = density_image(target, (ph, pw))
    img = Image.fromarray(canvas)
    d, f = ImageDraw.Draw(img), _font(13)
    d.rectangle((left - 1, top - 1, left + pw, top + ph), outline=_INK)
    for t in nice_ticks(x0, x1):
        px = left + (t - x0) / (x1 - x0) * pw
        d.line((px, top + ph, px, top + ph + 4), fill=_INK)
        _text(d, (px, top + ph + 6), _num(t), fill=_INK, font=f, anchor="mt")
    for t in nice_ticks(y0, y1):
        py = top + (y1 - t) / (y1 - y0) * ph
        d.line((left - 5, py, left - 1, py), fill=_INK)
        _text(d, (left - 8, py), _num(t), fill=_INK, font=f, anchor="rm")
    _text(d, (left + pw / 2, H - 6), labels[0], fill=(0, 0, 0), font=_font(14), anchor="mb")
    _text(d, (6, top + ph / 2), labels[1], fill=(0, 0, 0), font=_font(14), anchor="lm")
    _text(d, (left, 6), title, fill=(0, 0, 0), font=_font(15), anchor="lt")
    return np.asarray(img).copy(), (top, left, ph, pw)


def raster_frame(bg: np.ndarray, extent, frames: list[torch.Tensor], idx: int, color: str,
                 box: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """The chain picture of `chain_figure` drawn straight into pixels with numpy over the background `bg` (a few ms,
    and the browser only swaps an image): for animations, where a plotly redraw per frame would be too slow.
    `box` (top, left, height, width): the plot area inside `bg` (from `raster_axes`); default the whole image."""
    x0, x1, y0, y1 = extent
    out = bg.copy()
    top, left, h, w = box or (0, 0, *bg.shape[:2])
    img = out[top:top + h, left:left + w]  # a view: drawing into it draws into `out`

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
    return out


def panels(images: list[np.ndarray], names: list[str] | None, gap: int = 12) -> np.ndarray:
    """RGB images side by side (a white gap between), each named in its top left corner (names None: no names, no
    outline; the panels of `raster_axes` carry their titles): one image per frame."""
    from PIL import ImageDraw, ImageFont

    h = max(im.shape[0] for im in images)
    gap = np.full((h, gap, 3), 255, np.uint8)
    row = []
    for im in images:
        row += [np.pad(im, ((0, h - im.shape[0]), (0, 0), (0, 0)), constant_values=255), gap]
    if names is None:
        return np.concatenate(row[:-1], 1)
    out = Image.fromarray(np.concatenate(row[:-1], 1))
    draw, font, x = ImageDraw.Draw(out), ImageFont.load_default(size=14), 0
    for im, name in zip(images, names):
        draw.rectangle((x, 0, x + im.shape[1] - 1, im.shape[0] - 1), outline=(200, 200, 200))
        draw.text((x + 6, 4), name, fill=(0, 0, 0), font=font)
        x += im.shape[1] + gap.shape[1]
    return np.asarray(out)


def marginal_ranges(gr) -> tuple[float, float]:
    """Fixed density axes of the two marginal panels (1.8 times the exact marginal's peak: room for the sharper
    p^(1/T) of T < 1), the same while playing and paused, so frames compare."""
    px, py = gr.marginals()
    return 1.8 * float(px.max()), 1.8 * float(py.max())


def _hist(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    v = v[np.isfinite(v)]
    h, _ = np.histogram(v, edges)
    return h / max(len(v), 1) / (edges[1] - edges[0])


def marginals_raster(gr, samples: dict[str, torch.Tensor], extent, colors: dict[str, str], width: int,
                     height: int = MARGINALS_HEIGHT, labels: tuple[str, str] = ("x₁", "x₂"),
                     background: np.ndarray | None = None) -> np.ndarray:
    """`marginals_figure` drawn into pixels (RGB [height, width, 3] uint8): the x1 and x2 histograms of each sampler
    (live chains) as step lines over the exact marginals (dotted), on the fixed axes of `marginal_ranges`, with a
    legend: what a playing frame shows under the chain panels. `background`: the still part (axes, ticks, legend)
    from an earlier call with samples' names only (drawing the text is most of the cost); drawn here if None."""
    from PIL import ImageDraw

    mt, mr, mb, ml, gap = 30, 12, 40, 56, 24
    pw, ph = (width - gap - 2 * (ml + mr)) // 2, height - mt - mb
    img = Image.fromarray(background) if background is not None else Image.new("RGB", (width, height), (255,) * 3)
    d, f = ImageDraw.Draw(img), _font(13)
    px, py = gr.marginals()
    still = background is None
    if still:
        x = 8
        for name in samples:
            d.line((x, 12, x + 18, 12), fill=colors[name], width=3)
            _text(d, (x + 22, 12), name, fill=(0, 0, 0), font=f, anchor="lm")
            x += 36 + int(d.textlength(name, font=f))
        for k in range(0, 18, 6):
            d.line((x + k, 12, x + k + 3, 12), fill=(0, 0, 0), width=2)
        _text(d, (x + 22, 12), "exact", fill=(0, 0, 0), font=f, anchor="lm")
    for j, (grid_pts, exact, lo, hi, ymax) in enumerate(
            [(gr.xs, px, extent[0], extent[1], marginal_ranges(gr)[0]),
             (gr.ys, py, extent[2], extent[3], marginal_ranges(gr)[1])]):
        left = ml + j * (pw + ml + mr + gap)

        def at(v, y):
            return (left + (np.asarray(v) - lo) / (hi - lo) * pw,
                    mt + ph - np.clip(np.asarray(y) / ymax, 0, 1) * ph)

        if still:
            d.rectangle((left - 1, mt - 1, left + pw, mt + ph), outline=_INK)
            for t in nice_ticks(lo, hi):
                X = at(t, 0)[0]
                d.line((X, mt + ph, X, mt + ph + 4), fill=_INK)
                _text(d, (X, mt + ph + 6), _num(t), fill=_INK, font=f, anchor="mt")
            for t in nice_ticks(0, ymax, 3):
                Y = at(lo, t)[1]
                d.line((left - 5, Y, left - 1, Y), fill=_INK)
                _text(d, (left - 8, Y), _num(t), fill=_INK, font=f, anchor="rm")
            _text(d, (left + pw / 2, height - 4), labels[j], fill=(0, 0, 0), font=_font(14), anchor="mb")
            if j == 0:
                _text(d, (4, mt + ph / 2), "density", fill=(0, 0, 0), font=f, anchor="lm")
        edges = np.linspace(lo, hi, 41)
        for name, smp in samples.items():
            v = np.asarray(smp)[:, j]
            if not np.isfinite(v).any():  # no live chain (or the still part only): no histogram
                continue
            h = _hist(v, edges)
            xs, ys = np.repeat(edges, 2)[1:-1], np.repeat(h, 2)  # the step line
            X, Y = at(xs, ys)
            d.line(list(zip(X.tolist(), Y.tolist())), fill=colors[name], width=2)
        if still:  # the exact marginal, dotted: every other short run of segments
            X, Y = at(grid_pts, exact)
            pts = list(zip(X.tolist(), Y.tolist()))
            for a in range(0, len(pts) - 1, 4):
                d.line(pts[a:a + 3], fill=(0, 0, 0), width=2)
    return np.asarray(img)


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
            if not len(v):  # no live chain: no histogram (a flat 0 would read as a density)
                continue
            h, _ = np.histogram(v, edges)
            h = h / max(len(v), 1) / (edges[1] - edges[0])
            traces.append(go.Scatter(x=edges, y=np.append(h, h[-1]), mode="lines", name=name, showlegend=j == 0,
                                     line=dict(shape="hv", color=colors[name]), legendgroup=name, **axes))
        traces.append(go.Scatter(x=grid_pts, y=exact, mode="lines", line=dict(color="black", dash="dot"), name="exact",
                                 showlegend=j == 0, legendgroup="exact", **axes))
    return go.Figure(traces, layout=dict(
        height=260, margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.12, x=0.35),
        xaxis=dict(domain=[0, 0.47], title="x₁", range=list(extent[:2])),
        xaxis2=dict(domain=[0.53, 1], title="x₂", range=list(extent[2:])),
        yaxis=dict(title="density", range=[0, marginal_ranges(gr)[0]]),
        yaxis2=dict(anchor="x2", range=[0, marginal_ranges(gr)[1]])))


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
                       title: str = "loss E_data − E_neg (per iteration)") -> go.Figure:
    """Training curves of a contrastive EBM loss: E_data − E_neg and both mean energies over the iterations."""
    fig = go.Figure([go.Scatter(x=steps, y=cd, name="E_data − E_neg", mode="lines"),
                     go.Scatter(x=steps, y=e_data, name="E(data)", mode="lines", line=dict(width=1)),
                     go.Scatter(x=steps, y=e_neg, name="E(negatives)", mode="lines", line=dict(width=1))])
    fig.update_layout(height=460, title=dict(text=title, y=0.98), xaxis_title="iteration",
                      margin=dict(l=10, r=10, t=70, b=10),
                      legend=dict(orientation="h", x=0, y=1.01, xanchor="left", yanchor="bottom"))
    return fig


# ---- playing frames of the RBM's Gibbs chains ----

TRACES_MARGINS = (30, 12, 44, 64)  # top, right, bottom, left pixels around traces_raster's plot area
_CAPTION_INK = (128, 130, 138)  # Streamlit's caption grey on white


def _rgb(color: str) -> tuple[int, int, int]:
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


@functools.lru_cache(maxsize=8)
def _upright(text: str, size: int = 14) -> np.ndarray:
    """`text` turned to read upwards, as an ink mask [h, w] uint8 (255 = ink): a vertical axis title."""
    from PIL import ImageDraw

    f = _font(size)
    im = Image.new("L", (int(math.ceil(f.getlength(text))) + 4, size + 8), 0)
    _text(ImageDraw.Draw(im), (2, 2), text, f, fill=255)
    return np.asarray(im.rotate(90, expand=True))


def traces_raster(steps: list[int], values: list, size: tuple[int, int] = (330, 390), title: str = "",
                  xlabel: str = "", ylabel: str = "", colors: list[str] = PALETTE) -> np.ndarray:
    """`chain_traces` drawn into pixels (RGB [h, w, 3] uint8 of `size`) for an animation: one line per chain
    (values[k][c] is chain c at steps[k]; colours cycle through `colors`) and their mean in thick grey, on axes
    fitted to the data as plotly does: x over [steps[0], steps[-1]], y over the finite values' range plus 5 % on
    each side, mapped onto the plot area (`size` less TRACES_MARGINS) from its first to its last pixel."""
    from PIL import ImageDraw

    H, W = size
    mt, mr, mb, ml = TRACES_MARGINS
    ph, pw = H - mt - mb, W - ml - mr
    v = np.stack([np.asarray(x, dtype=np.float64).reshape(-1) for x in values])  # [frames, chains]
    s = np.asarray(steps, dtype=np.float64)
    x0, x1 = (s[0], s[-1]) if s[-1] > s[0] else (s[0] - 1, s[0] + 1)
    fin = v[np.isfinite(v)]
    lo, hi = (float(fin.min()), float(fin.max())) if fin.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo) if hi > lo else 1.0
    lo, hi = lo - pad, hi + pad
    X = ml + (s - x0) / (x1 - x0) * (pw - 1)
    Y = mt + (hi - v) / (hi - lo) * (ph - 1)
    img = Image.new("RGB", (W, H), (255, 255, 255))
    d, f = ImageDraw.Draw(img), _font(13)
    xt, yt = nice_ticks(x0, x1), nice_ticks(lo, hi)
    for t in xt:  # light grid lines, then the ticks and their labels
        px = ml + (t - x0) / (x1 - x0) * (pw - 1)
        d.line((px, mt, px, mt + ph - 1), fill=(235, 235, 235))
        d.line((px, mt + ph, px, mt + ph + 4), fill=_INK)
        _text(d, (px, mt + ph + 6), _num(t), fill=_INK, font=f, anchor="mt")
    for t in yt:
        py = mt + (hi - t) / (hi - lo) * (ph - 1)
        d.line((ml, py, ml + pw - 1, py), fill=(235, 235, 235))
        d.line((ml - 5, py, ml - 1, py), fill=_INK)
        _text(d, (ml - 8, py), _num(t), fill=_INK, font=f, anchor="rm")

    def line(y: np.ndarray, color, width: int) -> None:
        ok = np.isfinite(y)
        if len(y) == 1 or ok.sum() == 1:  # one point: a dot
            k = int(np.flatnonzero(ok)[0]) if ok.any() else None
            if k is not None:
                d.ellipse((X[k] - 2, y[k] - 2, X[k] + 2, y[k] + 2), fill=color)
            return
        for run in np.split(np.arange(len(y)), np.flatnonzero(np.diff(ok)) + 1):  # finite runs only
            if ok[run[0]] and len(run) > 1:
                d.line(list(zip(X[run].tolist(), y[run].tolist())), fill=color, width=width)

    for c in range(v.shape[1]):
        line(Y[:, c], _rgb(colors[c % len(colors)]), 1)
    if v.shape[0] > 1:
        ok = np.isfinite(v)
        with np.errstate(invalid="ignore"):
            mean = np.where(ok, v, 0).sum(1) / ok.sum(1)  # over the finite values; NaN where none is
        line(mt + (hi - mean) / (hi - lo) * (ph - 1), (128, 128, 128), 4)
    d.rectangle((ml - 1, mt - 1, ml + pw, mt + ph), outline=_INK)
    _text(d, (ml, 6), title, fill=(0, 0, 0), font=_font(15), anchor="lt")
    _text(d, (ml + pw / 2, H - 4), xlabel, fill=(0, 0, 0), font=_font(14), anchor="mb")
    out = np.asarray(img).copy()
    if ylabel:
        m = _upright(ylabel)[:ph]
        top = mt + (ph - m.shape[0]) // 2
        a = (m[..., None] / 255.0)
        area = out[top:top + m.shape[0], 2:2 + m.shape[1]]
        area[:] = np.round(area * (1 - a)).astype(np.uint8)  # black ink over white
    return out


def captioned(img: np.ndarray, width: int, caption: str, height: int = 24) -> np.ndarray:
    """A grey image in [0, 1] (or uint8, grey or RGB) scaled to `width` pixels wide (bilinear, as a browser scales
    st.image), with `caption` centred under it in Streamlit's caption grey: st.image(..., caption) as pixels."""
    from PIL import ImageDraw

    a = np.asarray(img)
    a = to_uint8(a) if a.dtype != np.uint8 else a
    pic = Image.fromarray(a).convert("RGB")
    pic = pic.resize((width, max(1, round(pic.height * width / pic.width))), Image.BILINEAR)
    out = Image.new("RGB", (width, pic.height + height), (255, 255, 255))
    out.paste(pic)
    _text(ImageDraw.Draw(out), (width / 2, pic.height + height / 2), caption, fill=_CAPTION_INK, font=_font(13),
          anchor="mm")
    return np.asarray(out)

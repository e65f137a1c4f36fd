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

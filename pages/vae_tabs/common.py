"""What the VAE page's tabs share: the run they show (model, trainer, data) with its encodings and hover atlases."""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import streamlit as st
import torch

from genlib import data as gdata, metrics
from genlib.models import vae as V
from pages.views import chrome, latent_map, setup, untrusted, url

ATLAS_N = 40  # the hover atlas: 40 x 40 decodings (1120 x 1120 pixels), computed once per model and map


@dataclass
class Run:
    """The page's run as its tabs see it: the data, the session's state, its trainer and model (as the page read them
    before the tabs), projector mode, and the names of the bundled checkpoints (an untouched one shares its atlas)."""
    mn: gdata.MNIST
    state: dict
    trainer: object
    model: V.VAE
    proj: bool
    bundled: Collection[str]

    @property
    def D(self) -> int:
        return self.model.config.latent

    @property
    def val(self) -> torch.Tensor:
        return self.mn.val.images

    def caption(self, tr, training_shown: bool = True) -> str:
        """The model in use; `training_shown`: whether the Train tab (where the live training runs) is open. Training
        runs only while its view is on screen, so another tab's caption says it waits there."""
        c = tr.model.config
        doing = ""
        if self.state.get("running"):
            doing = " (training)" if training_shown else " (training paused while another tab is open: it goes on " \
                "in the Train tab)"
        return untrusted.literal(  # the source and the config's strings may come from an uploaded file
            f"Current model ({self.state['source']}): {c.encoder}/{c.decoder}, latent {c.latent}, {c.likelihood}, "
            f"beta {c.beta:g}, {tr.step_count} steps{doing}.")

    @torch.no_grad()
    def encode_means(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.model.eval()
        return self.model.encode(x)

    def val_codes(self) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z|x) of the validation digits, encoded once per model state (not on every rerun)."""
        return chrome.memo("vae_val_codes", (self.model, self.trainer.step_count), lambda: self.encode_means(self.val))

    def top_dims(self) -> tuple[tuple[int, int], str]:
        """For maps of a model with more than 2 dimensions: the two dimensions with the largest KL (the most used)."""
        if self.D == 2:
            return (0, 1), ""
        mu_v, logvar_v = self.val_codes()
        t = tuple(int(i) for i in torch.argsort(metrics.gaussian_kl(mu_v, logvar_v).mean(0), descending=True)[:2])
        return t, f": the two most used dimensions z[{t[0]}], z[{t[1]}]"

    def hover_atlas(self, slot: str, extent: tuple[float, float, float, float], dims: tuple[int, int],
                    base: torch.Tensor) -> dict:
        """ATLAS_N x ATLAS_N decodings over `extent` = (x0, x1, y0, y1) in `dims` (the rest at `base`), cached per
        model: by checkpoint name for an untouched bundled model (every session shares it), else per model state."""
        ext = tuple(round(float(v), 4) for v in extent)
        key = (ext, tuple(dims), tuple(round(float(b), 4) for b in base))
        if self.state["source"] in self.bundled and self.trainer.step_count == 0:
            return pretrained_atlas(self.state["source"], *key)
        xs, ys = torch.linspace(*ext[:2], ATLAS_N), torch.linspace(*ext[2:], ATLAS_N)
        return chrome.memo(f"vae_atlas_{slot}", (self.model, self.trainer.step_count, *key),
                           lambda: latent_map.atlas(V.decode_grid(self.model, xs, ys, dims, torch.tensor(key[2])), xs,
                                                    ys))


def dim_pair(D: int, labels: tuple[str, str], keys: tuple[str, str], warning: str) -> tuple[int, int]:
    """The two latent dimensions a map shows: (0, 1) for a 2-D latent, else two selectboxes side by side (a warning
    and the next dimension for y when both name the same one)."""
    if D <= 2:
        return 0, 1
    c = st.columns(2)
    dims = (url.bound(c[0].selectbox, labels[0], range(D), 0, key=keys[0],
                           help="Latent dimension on the x axis."),
            url.bound(c[1].selectbox, labels[1], range(D), 1, key=keys[1],
                           help="Latent dimension on the y axis."))
    if dims[0] == dims[1]:
        st.warning(warning)
        dims = (dims[0], (dims[0] + 1) % D)
    return dims


@st.cache_resource(max_entries=48, show_spinner="Decoding the hover atlas ...")
def pretrained_atlas(name: str, extent: tuple[float, ...], dims: tuple[int, int], base: tuple[float, ...]) -> dict:
    """The hover atlas of an unchanged bundled checkpoint: decoded once per server for every session."""
    xs, ys = torch.linspace(*extent[:2], ATLAS_N), torch.linspace(*extent[2:], ATLAS_N)
    return latent_map.atlas(V.decode_grid(setup.pretrained(name), xs, ys, dims, torch.tensor(base)), xs, ys)


def map_extent(codes: torch.Tensor) -> float:
    """Half-width of a square map that holds 99.5 % of the codes and the prior's 3-sigma circle, in steps of 0.5."""
    r = float(torch.quantile(codes.abs().reshape(-1), 0.995)) * 1.05 if len(codes) else 3.0
    return float(np.ceil(max(r, 3.2) * 2) / 2)

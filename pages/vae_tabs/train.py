"""The VAE page's Train tab: run buttons, the loss curves, the KL of each latent dimension, reconstructions."""
from __future__ import annotations

from typing import Callable

import streamlit as st
import torch

from genlib import metrics, viz
from pages.vae_tabs.common import Run
from pages.views import chain_player, chrome, share, training


def render(run: Run, fresh: Callable[[], dict]) -> None:
    """The tab; `fresh()` is the state of a new run from the sidebar's settings (Reset)."""
    state, trainer, model, mn, val = run.state, run.trainer, run.model, run.mn, run.val
    fixed = val[torch.linspace(0, len(val) - 1, 16).long()]
    step, reset = training.train_buttons("vae", state)
    if reset:
        state.update(fresh())
        st.rerun()  # the new model's settings into the sidebar
    if step:  # one tick now, outside the fragment (a flag read inside it would be lost on a full rerun)
        training.safe_tick(state, lambda: trainer.tick(mn.val.images))

    def draw(tr) -> None:
        st.caption(run.caption(tr))  # inside the fragment: the step count stays live while training
        if not run.proj:  # projector mode: one line less, the curves above the fold
            st.caption(f"step {tr.step_count} · epoch {tr.epoch + tr.pos / len(tr.data):.2f} · lr {tr.config.lr:g} · "
                       f"batch {tr.config.batch_size} · KL weight now {tr.model.kl_weight():.2f}"
                       + (f" · last tick {tr.history[-1]['tick_ms']:.0f} ms"
                          if tr.history and "tick_ms" in tr.history[-1] else ""))
        if tr.history:
            cols = st.columns(3)
            for col, (key, name) in zip(cols, [("nelbo", "−ELBO (nats)"), ("rec", "reconstruction −log p(x|z)"),
                                                 ("kl", "KL(q(z|x) ‖ p(z))")]):
                chrome.plot(viz.curves(tr.history, {f"train_{key}": "train", f"val_{key}": "validation"},
                                       yaxis="nats per digit", title=name), key=f"vae-curve-{key}", container=col,
                           max_height=180)  # projector mode: the three curves above the fold of 1280 x 720
            chrome.explain("−ELBO = reconstruction + KL: the first term is −E_q[log p(x|z)], the second the price "
                           "of the code, KL(q(z|x) ‖ p(z)).")
        else:
            st.info("Press Start (or Step) to train, or load a pretrained model; the loss curves appear here.")
        left, right = st.columns([3, 2])
        kld = metrics.kl_per_dim(tr.model.eval(), val)
        with left:
            chrome.plot(viz.kl_bars(kld), key="vae-kl-bars")
            collapsed = int((kld < 0.05).sum())
            chrome.explain(f"Each bar is E_x KL(q(z_j|x) ‖ N(0, 1)) of one dimension: {collapsed} of {len(kld)} "
                           "are near 0 nats (collapsed: q(z_j|x) is the prior, so z_j carries nothing).")
            if tr.step_count > 0 and collapsed > len(kld) / 2:
                st.warning(f"{collapsed} of {len(kld)} latent dimensions have collapsed (KL < 0.05 nats: "
                           "q(z_j|x) equals the prior, so they carry no information). Try a smaller beta or a KL "
                           "warm-up.")
        with right:
            with torch.no_grad():
                rec = tr.model.eval()(fixed)
            # a data URL, not a /media/ file (it may be gone before the browser loads it): redrawn by every live tick
            chain_player.frame(st, viz.grid(torch.cat([fixed[:8], rec[:8], fixed[8:], rec[8:]]), nrow=8),
                               "Rows 1, 3: validation digits · rows 2, 4: reconstructions (decoder mean at z = μ)")

    training.live(state, lambda budget: state["trainer"].tick(val, budget=share.cut(0.1, budget)), draw)
    # after Step: the file is the run shown, named with its step count
    training.checkpoint_download(state, mn, f"vae-z{model.config.latent}", "vae-dl")

"""The VAE page's Train tab: run buttons, the loss curves, the KL of each latent dimension, reconstructions; and, for a
run a lesson started from a bundled model (state["compare"]), that model as bundled beside the run, side by side."""
from __future__ import annotations

from typing import Callable

import streamlit as st
import torch

from genlib import metrics, viz
from pages.vae_tabs import sample
from pages.vae_tabs.common import Run
from pages.views import chain_player, chrome, live, share, training

COLLAPSED = 0.05  # nats: a dimension whose KL is under this carries (almost) nothing, q(z_j|x) ≈ N(0, 1)
SIDE_SAMPLES = 16  # prior draws shown under each run of a side-by-side comparison (the same z for both)


def kl_panel(kld: torch.Tensor, key: str, title: str | None = None, ymax: float | None = None,
             height: int | None = None) -> None:
    """The bars of kld[j] = E_x KL(q(z_j|x) ‖ N(0, 1)) per dimension j (metrics.kl_per_dim) with the count of
    collapsed ones. `title` replaces the chart's (with a short note under it: two runs side by side), `ymax` fixes the
    axis (side by side, one scale), `height` in pixels (also in projector mode)."""
    fig = viz.kl_bars(kld)
    if title:
        fig.update_layout(title=title)
    if ymax:
        fig.update_yaxes(range=[0, ymax])
    if height:
        fig.update_layout(height=height)
    chrome.plot(fig, key=key, max_height=height or chrome.PROJECTOR_PLOT_HEIGHT)
    collapsed = int((kld < COLLAPSED).sum())
    if title:
        chrome.explain(f"{collapsed} of {len(kld)} bars under {COLLAPSED} nats (collapsed: q(z_j|x) ≈ N(0, 1)).")
    else:
        chrome.explain(f"Each bar is E_x KL(q(z_j|x) ‖ N(0, 1)) of one dimension: {collapsed} of {len(kld)} are near "
                       f"0 nats (under {COLLAPSED}: collapsed, q(z_j|x) is the prior, so z_j carries nothing).")


def comparing(state: dict, tr) -> dict | None:
    """The comparison a lesson asked for (state["compare"] = {"trainer", "other", "name"}: the run's trainer, its
    companion's, the bundled model both started from), while the run shown is the one it started (Reset, a load or an
    upload make a new trainer: the comparison ends)."""
    c = state.get("compare")
    return c if c and c.get("trainer") is tr else None


def tick(state: dict, budget: float | None, val: torch.Tensor | None) -> dict | None:
    """One tick of the run; with a companion (comparing), half the time for the run, then the companion trains the
    same number of steps with the same learning rate and batch size (the same batches and ε: the same seed), so the
    two differ only by their β. The run's record (None: it diverged)."""
    tr = state["trainer"]
    c = comparing(state, tr)
    rec = tr.tick(val, budget=share.cut(0.1, budget) / (2 if c else 1))
    if rec is not None and c:
        c["other"].set_hparams(lr=tr.config.lr, batch_size=tr.config.batch_size)
        training.catch_up(tr, c["other"], name=f"the β = {c['other'].model.config.beta:g} run beside")
    return rec


def side_by_side(run: Run, tr, c: dict) -> None:
    """The two runs from the bundled model c["name"], companion left and run right: the KL bars of each on one scale,
    and beside them the decoder means of the same prior draws z ~ N(0, I)."""
    runs = [(c["other"], "vae-kl-bars-other"), (tr, "vae-kl-bars")]
    kls = [metrics.kl_per_dim(t.model.eval(), run.val) for t, _ in runs]
    ymax = 1.1 * float(max(k.max() for k in kls))
    for col, (t, key), kld in zip(st.columns(2), runs, kls):
        beta = t.model.config.beta
        bars, pics = col.columns([3, 2], vertical_alignment="center")
        with bars:
            kl_panel(kld, key, title=f"KL per dimension, β = {beta:g} (step {t.step_count})", ymax=ymax, height=230)
        chain_player.frame(pics, sample.prior_grid(t.model, SIDE_SAMPLES, 0, nrow=4),
                           f"β = {beta:g}: decoder means E[x|z] of the same {SIDE_SAMPLES} draws z ~ N(0, I)")
    st.caption(f"Both runs started from {c['name']} (β = 1) with the same batches, ε and learning rate; only β "
               "differs.")


def curves(tr) -> None:
    """The run's three loss curves (−ELBO, reconstruction, KL) in nats per digit, train and validation."""
    if tr.history:
        cols = st.columns(3)
        for col, (key, name) in zip(cols, [("nelbo", "−ELBO (nats)"), ("rec", "reconstruction −log p(x|z)"),
                                             ("kl", "KL(q(z|x) ‖ p(z))")]):
            fig = viz.curves(tr.history, {f"train_{key}": "train", f"val_{key}": "validation"},
                             yaxis="nats per digit", title=name)
            live.chart(f"vae-curve-{key}", **fig, container=col,
                       max_height=180)  # projector mode: the three curves above the fold of 1280 x 720
        chrome.explain("−ELBO = reconstruction + KL: the first term is −E_q[log p(x|z)], the second the price "
                       "of the code, KL(q(z|x) ‖ p(z)).")
    else:
        st.info("Press Start (or Step) to train, or load a pretrained model; the loss curves appear here.")


def render(run: Run, fresh: Callable[[], dict]) -> None:
    """The tab; `fresh()` is the state of a new run from the sidebar's settings (Reset)."""
    state, trainer, model, mn, val = run.state, run.trainer, run.model, run.mn, run.val
    fixed = val[torch.linspace(0, len(val) - 1, 16).long()]
    step, reset = training.train_buttons("vae", state)
    if reset:
        state.update(fresh())
        st.rerun()  # the new model's settings into the sidebar
    if step:  # one tick now, outside the fragment (a flag read inside it would be lost on a full rerun)
        training.safe_tick(state, lambda: tick(state, None, mn.val.images))

    def draw(tr) -> None:
        st.caption(run.caption(tr))  # inside the fragment: the step count stays live while training
        if not run.proj:  # projector mode: one line less, the curves above the fold
            st.caption(f"step {tr.step_count} · epoch {tr.epoch + tr.pos / len(tr.data):.2f} · lr {tr.config.lr:g} · "
                       f"batch {tr.config.batch_size} · KL weight now {tr.model.kl_weight():.2f}"
                       + (f" · last tick {tr.history[-1]['tick_ms']:.0f} ms"
                          if tr.history and "tick_ms" in tr.history[-1] else ""))
        compare = comparing(state, tr)
        if compare:  # what the lesson compares first (above the fold of 1280 x 720), the loss curves below
            side_by_side(run, tr, compare)
            curves(tr)
            return
        curves(tr)
        left, right = st.columns([3, 2])
        with left:
            kld = metrics.kl_per_dim(tr.model.eval(), val)
            kl_panel(kld, "vae-kl-bars")
            collapsed = int((kld < COLLAPSED).sum())
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

    training.live(state, lambda budget: tick(state, budget, val), draw)
    # after Step: the file is the run shown, named with its step count
    training.checkpoint_download(state, mn, f"vae-z{model.config.latent}", "vae-dl")

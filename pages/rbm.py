"""Restricted Boltzmann machine page: train with CD-k or PCD, play Gibbs chains, estimate the likelihood with AIS."""
import dataclasses

import numpy as np
import streamlit as st
import torch

from genlib import checkpoints, viz
from genlib.data import binarize_fixed
from genlib.models.rbm import (EXACT_MAX_HIDDEN, RBM, RBMConfig, GibbsChain, ais, base_rate_biases, default_betas,
                               exact_log_z)
from pages import ui

PRETRAINED = ["rbm-500", "rbm-500-cd1", "rbm-16", "rbm-16-cd1"]
SMALL = ["rbm-16-cd1", "rbm-16"]  # small enough for the exact log Z: the AIS comparison
LIVE = "this session's model (Train tab)"
MAX_FRAMES = 200

ui.ensure_app_navigation()
mn = ui.mnist()
ui.header(
    "Restricted Boltzmann machine",
    "Binary pixels $v$ and binary hidden units $h$ interact only across the two layers, so each layer given the "
    "other is a set of independent coins: block Gibbs sampling alternates $h \\sim p(h|v)$ and $v \\sim p(v|h)$. "
    "Maximum likelihood lowers the free energy of data and raises it where the model puts mass; contrastive "
    "divergence (CD-k, Hinton 2002) estimates the second term with k Gibbs steps started at the data, persistent "
    "CD (PCD, Tieleman 2008) with chains that carry on between updates. Maximising the likelihood is minimising "
    "$\\mathrm{KL}(p_\\mathrm{data}\\,\\|\\,p_\\theta)$; its value needs $\\log Z$, exact for up to 20 hidden units and "
    "estimated by annealed importance sampling (Salakhutdinov & Murray 2008) otherwise. Pixels are binarized "
    "stochastically, afresh every epoch.",
    [r"E(v,h) = -b^\top v - c^\top h - h^\top W v,\qquad p(v,h) = e^{-E(v,h)}/Z",
     r"F(v) = -\log\sum_h e^{-E(v,h)} = -b^\top v - \sum_j \log\big(1 + e^{c_j + W_j v}\big)",
     r"p(h_j{=}1\mid v) = \sigma(c_j + W_j v),\qquad p(v_i{=}1\mid h) = \sigma(b_i + W_{:,i}^\top h)",
     r"\Delta W \propto \langle h\,v^\top\rangle_\mathrm{data} - \langle h\,v^\top\rangle_{\mathrm{CD}_k}"
     r"\;=\; -\nabla_W\big[\overline{F(v_\mathrm{data})} - \overline{F(v_k)}\big]",
     r"\log p(v) = -F(v) - \log Z"],
    mn,
)


def new_model(n_hidden: int, k: int, persistent: bool, n_chains: int = 100) -> RBM:
    torch.manual_seed(0)
    return RBM(RBMConfig(n_hidden=n_hidden, k=k, persistent=persistent, n_chains=n_chains))


def make_trainer(model: RBM, lr: float, batch: int, momentum: float, wd: float):
    return ui.new_trainer(model, mn, lr, batch, optimizer="sgd", momentum=momentum, weight_decay=wd)


state = ui.session("rbm", lambda: {"trainer": make_trainer(new_model(64, 1, False), 0.1, 64, 0.0, 0.0),
                                   "running": False, "source": "new"})


def train_tick(budget: float = 0.12) -> dict | None:
    """One tick of live training plus validation; for small models the exact validation log-likelihood."""
    tr = state["trainer"]
    rec = ui.live_tick(tr, mn.val.images[:256], budget=budget, max_steps=50)
    if rec is not None:
        with torch.no_grad():  # 256 training digits, binarized like the validation digits (fixed seed)
            rec["train_free_energy"] = float(tr.model.free_energy(binarize_fixed(mn.train.images[:256])).mean())
        if tr.model.config.n_hidden <= EXACT_MAX_HIDDEN:
            rec["val_exact_ll"] = -rec["val_free_energy"] - exact_log_z(tr.model)
    return rec


def filters_image(model: RBM, n: int = 100) -> np.ndarray:
    """The first n hidden units' weights as 28 x 28 tiles, each scaled to its own range."""
    w = model.weight.detach()[:n]
    lo, hi = w.min(1, keepdim=True).values, w.max(1, keepdim=True).values
    return viz.grid(((w - lo) / (hi - lo).clamp_min(1e-8)).reshape(-1, 1, 28, 28), pad_value=1.0)


# ---- which model the chains and the likelihood use -------------------------------------------------------------
with st.sidebar:
    st.header("Model for chains and likelihood")
    available = [n for n in PRETRAINED if checkpoints.resolve(n).exists()]
    choice = st.selectbox("Model", [LIVE] + available, key="rbm-model", index=1 if "rbm-500" in available else 0,
                          help="The model trained in the Train tab, or a bundled checkpoint (see checkpoints/README.md).")


def chosen_model() -> RBM | None:
    if choice == LIVE:
        return state["trainer"].model
    try:
        return ui.pretrained(choice)  # read-only: sampling and AIS never change it
    except checkpoints.CheckpointError as e:
        st.error(f"Could not load {choice}: {e}")
        return None


tab_train, tab_chain, tab_ll = st.tabs(["Train", "Gibbs chains", "Likelihood"])

# ---- Train -----------------------------------------------------------------------------------------------------
with tab_train:
    trainer = state["trainer"]
    cfg = trainer.model.config
    c1, c2, c3, c4 = st.columns(4)
    method = c1.radio("Method", ["CD-k", "PCD"], index=int(cfg.persistent), horizontal=True,
                      help="CD-k starts the negative chains at the data each update; PCD keeps 100 persistent chains. "
                      "Applies at Reset.")
    n_hidden = c2.select_slider("Hidden units", [8, 16, 20, 32, 64, 100, 200, 500], value=cfg.n_hidden,
                                help="Applies at Reset. Up to 20 units the exact log-likelihood is tracked every tick.")
    k = c3.slider("Gibbs steps k", 1, 25, cfg.k, help="Gibbs steps per update (CD-k or PCD-k).")
    lr = c4.select_slider("Learning rate", ui.LEARNING_RATES, value=trainer.config.lr, format_func=lambda v: f"{v:g}",
                          help="SGD step size (the course uses 0.1). Too large blows the weights up: the run then rolls "
                          "back to its last good state.")
    c5, c6, c7 = st.columns(3)
    batch = c5.select_slider("Batch size", ui.BATCH_SIZES, value=trainer.config.batch_size, help="Digits per update.")
    momentum = c6.slider("Momentum", 0.0, 0.95, float(trainer.config.momentum), 0.05, help="SGD momentum.")
    wd = c7.select_slider("Weight decay", [0.0, 1e-5, 1e-4, 3e-4, 1e-3, 1e-2], value=trainer.config.weight_decay,
                          format_func=lambda v: f"{v:g}", help="L2 penalty on the parameters (keeps the weights small).")
    trainer.set_hparams(lr=lr, batch_size=batch, momentum=momentum, weight_decay=wd)
    if k != cfg.k:
        trainer.model.config = dataclasses.replace(cfg, k=k)
    if (method == "PCD") != cfg.persistent or n_hidden != cfg.n_hidden:
        st.info(f"Press Reset to start a new {method} model with {n_hidden} hidden units.")
    step, reset = ui.train_buttons("rbm", state)
    b1, b2 = st.columns(2)
    with b1:
        ui.checkpoint_download(state["trainer"], mn, "rbm.safetensors", "rbm-dl")
    with b2:
        uploaded = ui.checkpoint_upload("rbm", "rbm-up")
    if uploaded is not None and st.session_state.get("rbm_uploaded") != uploaded.config:
        st.session_state["rbm_uploaded"] = uploaded.config
        state.update(trainer=make_trainer(uploaded, lr, batch, momentum, wd), running=False, source="uploaded file")
    if reset:
        state.update(trainer=make_trainer(new_model(n_hidden, k, method == "PCD"), lr, batch, momentum, wd),
                     running=False, source="new")
    if step:
        train_tick()

    @st.fragment(run_every=0.3 if state["running"] else None)
    def live_train():
        tr = state["trainer"]
        if state["running"]:
            if train_tick() is None:
                state["running"] = False
                st.rerun()
        if tr.message:
            st.error(tr.message)
        c = tr.model.config
        st.caption(f"source: {state['source']} · {'PCD' if c.persistent else 'CD'}-{c.k} · {c.n_hidden} hidden units · "
                   f"step {tr.step_count} · epoch {tr.epoch + tr.pos / len(mn.train):.2f} · validation on 256 digits")
        left, right = st.columns([3, 2])
        with left:
            h = tr.history
            if h:
                st.plotly_chart(viz.curves(h, {"train_recon": "train", "val_recon": "validation"},
                                           title="Reconstruction error (squared, per digit)", yaxis="error"),
                                key="rbm-recon")
                st.plotly_chart(viz.curves(h, {"train_free_energy": "train digits", "val_free_energy": "validation digits"},
                                           title="Mean free energy F(v): a growing gap warns of overfitting",
                                           yaxis="F(v)"), key="rbm-fe")
                ll_keys = {"val_pseudo_ll": "pseudo-log-likelihood (validation)"}
                if any("val_exact_ll" in r for r in h):
                    ll_keys["val_exact_ll"] = "exact log-likelihood (validation)"
                st.plotly_chart(viz.curves(h, ll_keys, title="Log-likelihood per digit (nats)", yaxis="nats"),
                                key="rbm-ll")
            else:
                st.info("Press Start or Step to train; curves appear here.")
        with right:
            st.image(filters_image(tr.model), width="stretch",
                     caption=f"weights of {min(100, c.n_hidden)} hidden units as 28 × 28 filters (each scaled to its range)")

    live_train()

# ---- Gibbs chains ------------------------------------------------------------------------------------------------
with tab_chain:
    model = chosen_model()
    if model is not None:
        c1, c2, c3, c4 = st.columns(4)
        n = c1.select_slider("Chains", [16, 25, 36, 49, 64, 81, 100], value=36, help="Number of chains run in parallel.")
        starts = ["uniform noise", "validation digits"] + (["persistent chains"] if model.config.persistent else [])
        start = c2.selectbox("Start from", starts, help="Noise shows generation, digits show how the model holds or "
                             "leaves the data, the persistent chains are where PCD training left its negative samples.")
        per_frame = c3.slider("Steps per frame", 1, 50, 1, help="Gibbs steps between two frames.")
        beta = c4.slider("Inverse temperature β", 0.1, 2.0, 1.0, 0.05,
                         help="Samples p(v,h) ∝ exp(-β E(v,h)): β < 1 flattens the distribution (more mixing), β > 1 "
                         "sharpens it.")
        seed = st.sidebar.number_input("Chain seed", 0, 10_000, 0, help="Seed of the chains' random generator.")
        key = (n, start, int(seed), choice, id(model))

        def new_chain() -> GibbsChain:
            g = torch.Generator().manual_seed(int(seed))
            if start == "uniform noise":
                v = torch.bernoulli(torch.full((n, 784), 0.5), generator=g)
            elif start == "validation digits":
                v = binarize_fixed(mn.val.images[torch.randperm(len(mn.val), generator=g)[:n]]).reshape(n, -1)
            else:
                v = model.chains[torch.randint(0, len(model.chains), (n,), generator=g)].clone()
            return GibbsChain(model, v, g)

        if st.session_state.get("rbm_chain_key") != key:
            st.session_state.update(rbm_chain=new_chain(), rbm_chain_key=key, rbm_playing=False)
        playing = st.session_state["rbm_playing"]
        step_once, restart = ui.run_buttons(st.session_state, "rbm_playing", ("rbm-play", "rbm-chain-step", "rbm-restart"),
                                            ("Play", "Restart"), ("Run the chains, one frame per tick.",
                                                                  "Advance one frame.", "Start the chains again."))
        if restart:
            st.session_state.update(rbm_chain=new_chain(), rbm_playing=False)
        if step_once and len(st.session_state["rbm_chain"]) < MAX_FRAMES:
            st.session_state["rbm_chain"].advance(per_frame, beta)

        @st.fragment(run_every=0.25 if playing else None)
        def live_chain():
            ch = st.session_state["rbm_chain"]
            if st.session_state["rbm_playing"]:
                ch.advance(per_frame, beta)
                if len(ch) >= MAX_FRAMES:
                    st.session_state["rbm_playing"] = False
                    st.rerun()
            last = len(ch) - 1
            frame = st.slider("Frame", 0, last, last, key=f"rbm-scrub-{last}",
                              help="Scrub through the frames computed so far.") if last > 0 else 0
            mean, sample = ch.frame(frame)
            nrow = int(np.ceil(np.sqrt(n)))
            left, mid, right = st.columns([2, 2, 3])
            left.image(viz.grid(mean, nrow=nrow), caption=f"p(v|h) · step {ch.steps[frame]}", width="stretch")
            mid.image(viz.grid(sample, nrow=nrow), caption=f"sampled v · step {ch.steps[frame]}", width="stretch")
            with right:
                st.plotly_chart(viz.chain_traces(ch.steps, ch.free_energies, ch.steps[frame], "Gibbs step",
                                                 "free energy F(v)", "Free energy of each chain"), key="rbm-chain-fe")
            if len(ch) >= MAX_FRAMES:
                st.caption(f"The chain holds its maximum of {MAX_FRAMES} frames; Restart for a new one.")

        live_chain()
        ch = st.session_state["rbm_chain"]
        if len(ch) > 1:
            st.download_button("Export chain as GIF",
                               lambda: viz.gif_bytes([viz.grid(ch.frame(i)[0]) for i in range(len(ch))]),
                               file_name="rbm-chain.gif", mime="image/gif", on_click="ignore", icon=":material/movie:",
                               help="An animated GIF of p(v|h) over the frames computed so far.")

# ---- Likelihood ---------------------------------------------------------------------------------------------------
with tab_ll:
    model = chosen_model()
    test = mn.test if mn.test is not None else mn.val
    st.markdown(f"The average log-likelihood of the {'MNIST test' if mn.test is not None else 'validation'} digits "
                f"(binarized once with a fixed seed), $\\overline{{\\log p(v)}} = -\\overline{{F(v)}} - \\log Z$. "
                "AIS anneals from a base-rate model (independent pixels with the data's means) to the RBM through "
                "intermediate distributions $p_\\beta$; the importance weights average to $Z$. The band is "
                "$\\log(\\hat Z \\pm 3\\,\\hat\\sigma)$.")
    if model is not None:
        c1, c2 = st.columns(2)
        runs = c1.select_slider("AIS runs", [10, 20, 50, 100, 200, 500], value=100, help="Independent annealing runs.")
        n_betas = c2.select_slider("Inverse temperatures", [100, 300, 1000, 3000, 14_500], value=14_500,
                                   help="Intermediate distributions; Salakhutdinov & Murray use 14 500.")
        v = binarize_fixed(test.images).reshape(len(test), -1)
        with torch.no_grad():
            mean_f = float(model.free_energy(v).mean())
        small = model.config.n_hidden <= EXACT_MAX_HIDDEN
        results = st.session_state.setdefault("rbm_ais", {})
        rkey = (choice, id(model), state["trainer"].step_count if choice == LIVE else 0, runs, n_betas)
        if st.button("Run AIS", key="rbm-ais", icon=":material/calculate:", type="primary",
                     help="Estimate log Z; about a minute for 500 hidden units at the default settings."):
            bar = st.progress(0.0, text="annealing ...")
            res = ais(model, base_rate_biases(binarize_fixed(mn.train.images)), n_runs=runs,
                      betas=default_betas(n_betas), generator=torch.Generator().manual_seed(0),
                      progress=lambda f: bar.progress(min(f, 1.0), text=f"annealing ... {100 * f:.0f} %"))
            bar.empty()
            results[rkey] = res
        res = results.get(rkey)
        cols = st.columns(3)
        cols[0].metric("mean free energy", f"{mean_f:.2f}")
        if res is not None:
            cols[1].metric("AIS log Z", f"{res.logz:.2f}", help=f"±3σ band [{res.logz_low:.2f}, {res.logz_high:.2f}]")
            cols[2].metric("AIS test log-likelihood", f"{-mean_f - res.logz:.2f} nats",
                           help=f"band [{-mean_f - res.logz_high:.2f}, {-mean_f - res.logz_low:.2f}]")
            st.caption(f"log Z band [{res.logz_low:.2f}, {res.logz_high:.2f}]; log-likelihood band "
                       f"[{-mean_f - res.logz_high:.2f}, {-mean_f - res.logz_low:.2f}] nats; {runs} runs, "
                       f"{n_betas} inverse temperatures, {res.seconds:.1f} s")
        if small:
            z = exact_log_z(model)
            e1, e2 = st.columns(2)
            e1.metric("exact log Z", f"{z:.3f}", help="Sum over all 2^H hidden states.")
            e2.metric("exact log-likelihood", f"{-mean_f - z:.3f} nats")
        elif res is None:
            st.info("Press Run AIS for the estimate; for models with at most 20 hidden units the exact value shows here too.")

    st.subheader("When AIS is too optimistic")
    st.markdown("AIS estimates $Z$ without bias, but $\\log\\hat Z$ is biased low (Jensen's inequality): with too few "
                "temperatures or runs it misses parts of the model's mass, underestimates $\\log Z$ and so *overstates* "
                "the log-likelihood, often with a narrow, reassuring band. Models trained with CD-1 invite this: their "
                "short negative chains never visit the far-away modes that the model keeps, so the annealing path from "
                "the data's base rate can miss them too. Below, AIS against exact enumeration for two 16-unit models "
                "(CD-1 and PCD): try 100 or 300 temperatures against 1000 or more. At this size both models are easy and "
                "AIS with 14 500 temperatures is within 0.1 nats; the 500-unit CD-1 model (`rbm-500-cd1`) is the "
                "hard case: its Gibbs chains settle about 100 nats *below* the free energy of real digits (see the "
                "Gibbs chains tab with that model), mass that an AIS run has to find to be right.")
    small = [n for n in SMALL if checkpoints.resolve(n).exists()]
    if not small:
        st.info(f"The comparison needs the bundled checkpoints {' and '.join(SMALL)}.")
    else:
        n_cmp = st.select_slider("Temperatures for the comparison", [100, 300, 1000, 3000, 14_500], value=1000,
                                 key="rbm-compare-betas", help="AIS runs: 100 in each case.")
        if st.button("Compare AIS with the exact answer", key="rbm-compare", icon=":material/compare:",
                     help="AIS against exact enumeration of all 2^16 hidden states, for a CD-1 and a PCD model."):
            rows = []
            v = binarize_fixed(test.images).reshape(len(test), -1)
            base = base_rate_biases(binarize_fixed(mn.train.images))
            bar = st.progress(0.0, text="annealing ...")
            for i, name in enumerate(small):
                m = ui.pretrained(name)
                with torch.no_grad():
                    mf = float(m.free_energy(v).mean())
                r = ais(m, base, n_runs=100, betas=default_betas(n_cmp), generator=torch.Generator().manual_seed(0),
                        progress=lambda f: bar.progress((i + f) / len(small), text=f"annealing {name} ..."))
                z = exact_log_z(m)
                rows.append({"model": f"{name} ({'PCD' if m.config.persistent else 'CD'}-{m.config.k})",
                             "temperatures": n_cmp, "AIS log-likelihood": round(-mf - r.logz, 2),
                             "AIS band (±3σ)": f"[{-mf - r.logz_high:.2f}, {-mf - r.logz_low:.2f}]",
                             "exact log-likelihood": round(-mf - z, 2), "AIS − exact": round(z - r.logz, 2)})
            bar.empty()
            st.session_state["rbm_compare"] = rows
    if st.session_state.get("rbm_compare"):
        st.dataframe(st.session_state["rbm_compare"], hide_index=True)
        st.caption("AIS − exact > 0 means AIS underestimates log Z and so overstates the log-likelihood.")

"""Restricted Boltzmann machine page: train with CD-k or PCD, play Gibbs chains, estimate the likelihood with AIS."""
import dataclasses
import math

import streamlit as st
import torch

from genlib import checkpoints, models, samplers, viz
from genlib.data import binarize_fixed
from genlib.models.rbm import EXACT_MAX_HIDDEN, RBM, RBMConfig, exact_log_z, log_likelihood
from pages.rbm_tabs import likelihood
from pages.views import chain_player, chrome, setup, training

PRETRAINED = ["rbm-500", "rbm-500-cd1", "rbm-16", "rbm-16-cd1"]
LIVE = "this session's model (Train tab)"
MAX_FRAMES = 200

mn = setup.mnist()
chrome.header(
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
    return models.create("rbm", RBMConfig(n_hidden=n_hidden, k=k, persistent=persistent, n_chains=n_chains), 0)


def make_trainer(model: RBM, lr: float, batch: int, momentum: float, wd: float):
    return training.new_trainer(model, mn, lr, batch, optimizer="sgd", momentum=momentum, weight_decay=wd)


state = chrome.session("rbm", lambda: {"trainer": make_trainer(new_model(64, 1, False), 0.1, 64, 0.0, 0.0),
                                       "running": False, "source": "new"})


def train_tick(budget: float = 0.12) -> dict | None:
    """One tick of live training plus validation; for small models the exact validation log-likelihood."""
    tr = state["trainer"]
    rec = tr.tick(mn.val.images[:256], budget=budget, max_steps=50)
    if rec is not None:
        with torch.no_grad():  # 256 training digits, binarized like the validation digits (fixed seed)
            rec["train_free_energy"] = float(tr.model.free_energy(binarize_fixed(mn.train.images[:256])).mean())
        if tr.model.config.n_hidden <= EXACT_MAX_HIDDEN:
            rec["val_exact_ll"] = log_likelihood(rec["val_free_energy"], exact_log_z(tr.model))[0]
    return rec


# ---- which model the chains and the likelihood use -------------------------------------------------------------
with st.sidebar:
    st.header("Model for chains and likelihood")
    available = [n for n in PRETRAINED if checkpoints.resolve(n).exists()]
    choice = st.selectbox("Model", [LIVE] + available, key="rbm-model", index=1 if "rbm-500" in available else 0,
                          help="The model trained in the Train tab, or a bundled checkpoint (see checkpoints/README.md).")


def mean_images(ch: samplers.Recorder, i: int) -> torch.Tensor:
    """The Gibbs means p(v|h) of frame i as images [n, 1, 28, 28]: the smooth picture of the chains."""
    return ch.mean(i).reshape(-1, 1, 28, 28)


def chosen_model() -> RBM | None:
    if choice == LIVE:
        return state["trainer"].model
    try:
        return setup.pretrained(choice)  # read-only: sampling and AIS never change it
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
    lr = c4.select_slider("Learning rate", training.LEARNING_RATES, value=trainer.config.lr, format_func=lambda v: f"{v:g}",
                          help="SGD step size (the course uses 0.1). Too large blows the weights up: the run then rolls "
                          "back to its last good state.")
    c5, c6, c7 = st.columns(3)
    batch = c5.select_slider("Batch size", training.BATCH_SIZES, value=trainer.config.batch_size, help="Digits per update.")
    momentum = c6.slider("Momentum", 0.0, 0.95, float(trainer.config.momentum), 0.05, help="SGD momentum.")
    wd = c7.select_slider("Weight decay", [0.0, 1e-5, 1e-4, 3e-4, 1e-3, 1e-2], value=trainer.config.weight_decay,
                          format_func=lambda v: f"{v:g}", help="L2 penalty on the parameters (keeps the weights small).")
    trainer.set_hparams(lr=lr, batch_size=batch, momentum=momentum, weight_decay=wd)
    if k != cfg.k:
        trainer.model.config = dataclasses.replace(cfg, k=k)
    if (method == "PCD") != cfg.persistent or n_hidden != cfg.n_hidden:
        st.info(f"Press Reset to start a new {method} model with {n_hidden} hidden units.")
    step, reset = training.train_buttons("rbm", state)
    b1, b2 = st.columns(2)
    with b2:
        uploaded = training.checkpoint_upload("rbm", "rbm-up")
    if uploaded is not None and st.session_state.get("rbm_uploaded") != uploaded.config:
        st.session_state["rbm_uploaded"] = uploaded.config
        state.update(trainer=make_trainer(uploaded, lr, batch, momentum, wd), running=False, source="uploaded file")
    if reset:
        state.update(trainer=make_trainer(new_model(n_hidden, k, method == "PCD"), lr, batch, momentum, wd),
                     running=False, source="new")
    if step:
        training.safe_tick(state, train_tick)
    with b1:  # after the upload, Reset and Step: the file is the run shown, named with its step count
        c = state["trainer"].model.config
        training.checkpoint_download(state, mn, f"rbm-{'pcd' if c.persistent else 'cd'}{c.k}-h{c.n_hidden}", "rbm-dl")

    def draw_train(tr) -> None:
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
            st.image(viz.filters(tr.model.weight), width="stretch",
                     caption=f"weights of {min(100, c.n_hidden)} hidden units as 28 × 28 filters (each scaled to its range)")

    training.live(state, train_tick, draw_train, every=0.3)

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

        def new_chains() -> dict:
            g = torch.Generator().manual_seed(int(seed))
            if start == "uniform noise":
                v = torch.bernoulli(torch.full((n, 784), 0.5), generator=g)
            elif start == "validation digits":
                v = binarize_fixed(mn.val.images[torch.randperm(len(mn.val), generator=g)[:n]]).reshape(n, -1)
            else:
                v = model.chains[torch.randint(0, len(model.chains), (n,), generator=g)].clone()
            temperature = {"beta": beta}  # read before every Gibbs step: moving the slider acts on running chains
            gibbs = samplers.gibbs(model, v, g, beta=lambda: temperature["beta"])
            return {"chain": samplers.Recorder(gibbs, v, energy=model.free_energy, store=torch.uint8, means=True,
                                               max_frames=MAX_FRAMES), "temperature": temperature}

        def advance() -> None:
            chains["chain"].advance(per_frame)

        chains = chain_player.chain_state("rbm_chain", (n, start, int(seed), choice, id(model)), new_chains)
        chains = chain_player.controls(chains, "rbm-chain", "chains", new_chains, advance)
        if chains is not None:
            chains["temperature"]["beta"] = beta

            def draw_chain(i: int) -> None:
                ch, nrow = chains["chain"], math.ceil(math.sqrt(n))
                left, mid, right = st.columns([2, 2, 3])
                left.image(viz.grid(mean_images(ch, i), nrow=nrow), width="stretch",
                           caption=f"p(v|h) · step {ch.steps[i]}")
                mid.image(viz.grid(ch.frame(i).reshape(-1, 1, 28, 28), nrow=nrow), width="stretch",
                          caption=f"sampled v · step {ch.steps[i]}")
                with right:
                    st.plotly_chart(viz.chain_traces(ch.steps, ch.energies, ch.steps[i], "Gibbs step",
                                                     "free energy F(v)", "Free energy of each chain"), key="rbm-chain-fe")
                if ch.full:
                    st.caption(f"The chain holds its maximum of {MAX_FRAMES} frames; Restart for a new one.")

            chain_player.player(chains, "rbm-chain", lambda: len(chains["chain"]), advance, draw_chain,
                                done=lambda: chains["chain"].full)
            chain_player.gif_download(chains["chain"], lambda ch, i: viz.grid(mean_images(ch, i)),
                                      "rbm-chain.gif", "An animated GIF of p(v|h) over the frames computed so far.")

# ---- Likelihood ---------------------------------------------------------------------------------------------------
with tab_ll:
    model = chosen_model()
    likelihood.render(mn, model, (choice, id(model), state["trainer"].step_count if choice == LIVE else 0))
    likelihood.ais_versus_exact(mn)

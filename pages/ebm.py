"""Energy-based model page: train with Langevin negatives, watch chains turn noise into digits, compare energies."""
import dataclasses
import math

import streamlit as st
import torch

from genlib import checkpoints, models, samplers, viz
from genlib.models.ebm import EBM, EBMConfig
from pages.views import chain_player, chrome, digit_input, setup, training

PRETRAINED = "ebm-mnist"

mn = setup.mnist()
chrome.header(
    "Energy-based model",
    "A convolutional network gives every image an energy $E_\\theta(x)$; the model is "
    "$p_\\theta(x) = e^{-E_\\theta(x)}/Z_\\theta$. Training (Du & Mordatch 2019) lowers the energy of real digits "
    "and raises the energy of samples drawn by Langevin dynamics on $E_\\theta$, started mostly from a replay "
    "buffer of earlier samples and partly (5 %) from uniform noise. Images live in $[-1, 1]^{784}$ here.",
    [r"\nabla_\theta \mathcal{L} = \mathbb{E}_{x\sim\mathrm{data}}[\nabla_\theta E_\theta(x)]"
     r" - \mathbb{E}_{x\sim p_\theta}[\nabla_\theta E_\theta(x)]",
     r"x_{k+1} = \mathrm{clip}\big(x_k - \eta\,\mathrm{clip}(\nabla_x E_\theta(x_k), \pm c) + \sigma\,\varepsilon_k,\ -1, 1\big),"
     r"\quad \varepsilon_k \sim \mathcal{N}(0, I)",
     r"\mathcal{L} = \overline{E_\theta(x_\mathrm{data})} - \overline{E_\theta(x_\mathrm{sample})}"
     r" + \alpha\,\big(\overline{E_\theta(x_\mathrm{data})^2} + \overline{E_\theta(x_\mathrm{sample})^2}\big)"],
    mn,
)


VAL = 128  # validation digits per tick


def make_trainer(model: EBM, lr: float = 1e-4, batch: int = 64):
    return training.new_trainer(model, mn, lr, batch, beta1=0.0)


def fresh_state() -> dict:
    model = setup.pretrained_copy(PRETRAINED) if checkpoints.resolve(PRETRAINED).exists() else None
    source = PRETRAINED if model is not None else "new"
    return {"trainer": make_trainer(model if model is not None else models.create("ebm", EBMConfig(), 0)),
            "running": False, "source": source}


def pictures(ch: samplers.Recorder, i: int) -> torch.Tensor:
    """Frame i of a chain as images [n, 1, 28, 28] in [0, 1] (the chains run in [-1, 1])."""
    return (ch.frame(i).reshape(-1, 1, 28, 28) + 1) / 2


state = chrome.session("ebm", fresh_state)

with st.sidebar:
    st.header("Langevin sampler")
    step_size = st.slider("Step size η", 0.5, 30.0, 10.0, 0.5,
                          help="Multiplies the clamped energy gradient in each Langevin step.")
    noise = st.select_slider("Noise σ", [0.0, 0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1], value=0.005,
                             help="Standard deviation of the Gaussian noise added in each step, set apart from the "
                             "step size (the textbook choice would tie them: σ = √(2η)).")


def tick() -> dict | None:
    return state["trainer"].tick(mn.val.images[:VAL], budget=0.25, max_steps=2)


tab_train, tab_chain, tab_energy = st.tabs(["Train", "Langevin chains", "Energies"])

# ---- Train -----------------------------------------------------------------------------------------------
with tab_train:
    trainer = state["trainer"]
    c1, c2, c3 = st.columns(3)
    lr = c1.select_slider("Learning rate", training.LEARNING_RATES, value=1e-4, format_func=lambda v: f"{v:g}",
                          help="Adam step size (β1 = 0 as in Du & Mordatch). Large values blow the energies up: "
                          "the run then rolls back to its last good state.")
    k = c2.slider("Langevin steps per iteration", 5, 100, trainer.model.config.steps, 5,
                  help="Steps of the sampler that makes the negatives; more is slower but gives better negatives.")
    batch = c3.select_slider("Batch size", [16, 32, 64, 128], value=64, help="Real digits and negatives per step.")
    trainer.set_hparams(lr=lr, batch_size=batch)
    cfg = trainer.model.config
    if (k, step_size, noise) != (cfg.steps, cfg.step_size, cfg.noise):
        trainer.model.config = dataclasses.replace(cfg, steps=k, step_size=step_size, noise=noise)
    step, reset = training.train_buttons("ebm", state)
    b1, b2 = st.columns(2)
    training.pretrained_button(state, PRETRAINED, "Load pretrained", f"Replace this run by the bundled checkpoint "
                               f"{PRETRAINED}.", lambda m: make_trainer(m, lr, batch), b1)
    if reset:
        model = models.create("ebm", EBMConfig(steps=k, step_size=step_size, noise=noise), 0)
        state.update(trainer=make_trainer(model, lr, batch), running=False, source="new")
    if step:  # before the download: the file is the run shown, named with its step count
        training.safe_tick(state, tick)
    with b2:
        training.checkpoint_download(state, mn, "ebm", "ebm-dl")
    st.caption("Training an EBM well takes about half an hour of CPU (see checkpoints/README.md); live training here "
               f"shows how the energies move. Validation uses {VAL} digits.")

    def draw_train(tr) -> None:
        st.caption(f"source: {state['source']} · step {tr.step_count} · lr {tr.config.lr:g} · batch {tr.config.batch_size}")
        left, right = st.columns([3, 2])
        with left:
            if tr.history:
                st.plotly_chart(viz.curves(tr.history, {"train_e_data": "E(data)", "train_e_sample": "E(samples)",
                                                        "train_loss": "loss", "train_reg": "E² regulariser"},
                                           yaxis="energy", title="Energies and loss (training batches)"),
                                key="ebm-curves")
            else:
                st.info("Press Start or Step to train; curves appear here.")
        with right:
            buf = tr.model.replay
            if bool(tr.model.replay_ready):
                idx = torch.linspace(0, len(buf) - 1, 64).long()
                st.image(viz.grid((buf[idx] + 1) / 2, nrow=8), caption="64 chains from the replay buffer", width="stretch")
            else:
                st.caption("The replay buffer fills with noise at the first training step.")

    training.live(state, tick, draw_train, every=0.5)

# ---- Langevin chains ---------------------------------------------------------------------------------------
with tab_chain:
    model = state["trainer"].model
    c1, c2, c3, c4 = st.columns(4)
    n = c1.select_slider("Chains", [4, 9, 16, 25, 36, 49, 64], value=16, help="Number of images sampled in parallel.")
    start = c2.selectbox("Start from", ["uniform noise", "validation digits", "replay buffer"],
                         help="Where the chains begin: noise shows generation, digits show the model's modes.")
    total = c3.slider("Total steps", 16, 512, 256, 16, help="Length of the chain.")
    per_frame = c4.slider("Steps per frame", 1, 32, 8, help="Langevin steps between two frames of the animation.")
    seed = st.sidebar.number_input("Chain seed", 0, 10_000, 0, help="Seed of the chains' random generator.")

    def new_chains() -> dict:
        g = torch.Generator().manual_seed(int(seed))
        if start == "uniform noise":
            x = model.noise(n, g)
        elif start == "validation digits":
            x = mn.val.images[torch.randperm(len(mn.val), generator=g)[:n]] * 2 - 1
        else:
            x = model.replay[torch.randint(0, len(model.replay), (n,), generator=g)].clone()
        chain = model.chain(x, g, step_size, noise)
        return {"chain": samplers.Recorder(chain, x, total_steps=total, energy=model.energy)}

    chains = chain_player.chain_state("ebm_chain", (n, start, total, int(seed), step_size, noise, id(model)), new_chains)

    def advance() -> None:
        chains["chain"].advance(per_frame)

    chains = chain_player.controls(chains, "ebm-chain", "chains", new_chains, advance)
    if chains is not None:

        def draw_chain(i: int) -> None:
            ch = chains["chain"]
            left, right = st.columns([2, 3])
            left.image(viz.grid(pictures(ch, i), nrow=math.ceil(math.sqrt(n))), width="stretch",
                       caption=f"step {ch.steps[i]} of {total}")
            with right:
                st.plotly_chart(viz.chain_traces(ch.steps, ch.energies, ch.steps[i], "Langevin step", "energy E(x)",
                                                 "Energy of each chain"), key="ebm-chain-energy")

        chain_player.player(chains, "ebm-chain", lambda: len(chains["chain"]), advance, draw_chain,
                            done=lambda: chains["chain"].full)
        chain_player.gif_download(chains["chain"], lambda ch, i: viz.grid(pictures(ch, i)),
                                  "ebm-chain.gif", "An animated GIF of the frames computed so far.")

# ---- Energies -----------------------------------------------------------------------------------------------
with tab_energy:
    model = state["trainer"].model
    st.markdown("Low energy means *typical digit* to the model. Real digits should sit low, noise and odd inputs "
                "high: the energy works as an out-of-distribution detector.")
    draw_col, up_col = st.columns(2)
    with draw_col:
        drawn, problem_d = digit_input.drawing("ebm-canvas", 196)
        st.caption("Draw a digit (white on black).")
    with up_col:
        image, problem_u = digit_input.upload("ebm-upload", "…or upload an image (PNG, JPEG, ...; up to 4096 × 4096 pixels)",
                                              "Converted to a 28 × 28 grey digit (white on black, centred) before its "
                                              "energy is computed.")

    def reference_energies() -> dict:
        """Energies of 500 real digits, 500 noise images and the 500 digits rotated: computed once per model state,
        not on every rerun."""
        g = torch.Generator().manual_seed(0)
        real = (mn.test.images if mn.test is not None else mn.val.images)[:500]
        ref = {"real digits" + (" (test)" if mn.test is not None else " (validation)"): real,
               "uniform noise": torch.rand(500, 1, 28, 28, generator=g),
               "rotated digits (90°)": torch.rot90(real, 1, (2, 3))}
        with torch.no_grad():
            return {k: model(v).numpy() for k, v in ref.items()}

    energies = dict(chrome.memo("ebm_ref_energies", (model, state["trainer"].step_count), reference_energies))
    groups = {}
    ch = (st.session_state.get("ebm_chain") or {}).get("chain")
    if ch is not None and len(ch) > 1:
        groups[f"chain samples (step {ch.steps[-1]})"] = pictures(ch, -1)
    mine = {"your drawing": drawn, "your image": image}
    groups |= {name: x for name, x in mine.items() if x is not None}
    for problem in (problem_d, problem_u):
        if problem:
            st.error(problem)
    with torch.no_grad():
        energies |= {k: model(v).numpy() for k, v in groups.items()}
    st.plotly_chart(viz.energy_histogram(energies, marks=tuple(mine)), key="ebm-hist")
    for name in mine:
        if name in groups:
            st.image(viz.grid(groups[name]), caption=f"{name} as the model sees it: E = {float(energies[name][0]):.3f}",
                     width=140)

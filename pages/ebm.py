"""Energy-based model page: train with Langevin negatives, watch chains turn noise into digits, compare energies."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from genlib import checkpoints, viz
from genlib.data import canvas_to_digit, image_to_digit
from genlib.models.ebm import EBM, EBMConfig, LangevinChain
from pages import ui

PRETRAINED = "ebm-mnist"

ui.ensure_app_navigation()
mn = ui.mnist()
ui.header(
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


def load_pretrained() -> EBM | None:
    return ui.pretrained_copy(PRETRAINED)


def fresh_state() -> dict:
    model = None
    if checkpoints.resolve(PRETRAINED).exists():
        model = load_pretrained()
    source = PRETRAINED if model is not None else "new"
    if model is None:
        torch.manual_seed(0)
        model = EBM(EBMConfig())
    return {"trainer": ui.new_trainer(model, mn, 1e-4, 64, beta1=0.0), "running": False, "source": source}


state = ui.session("ebm", fresh_state)

with st.sidebar:
    st.header("Langevin sampler")
    step_size = st.slider("Step size η", 0.5, 30.0, 10.0, 0.5,
                          help="Multiplies the clamped energy gradient in each Langevin step.")
    noise = st.select_slider("Noise σ", [0.0, 0.001, 0.003, 0.005, 0.01, 0.02, 0.05, 0.1], value=0.005,
                             help="Standard deviation of the Gaussian noise added in each step, set apart from the "
                             "step size (the textbook choice would tie them: σ = √(2η)).")

tab_train, tab_chain, tab_energy = st.tabs(["Train", "Langevin chains", "Energies"])

# ---- Train -----------------------------------------------------------------------------------------------
with tab_train:
    trainer = state["trainer"]
    c1, c2, c3 = st.columns(3)
    lr = c1.select_slider("Learning rate", ui.LEARNING_RATES, value=1e-4, format_func=lambda v: f"{v:g}",
                          help="Adam step size (β1 = 0 as in Du & Mordatch). Large values blow the energies up: "
                          "the run then rolls back to its last good state.")
    k = c2.slider("Langevin steps per iteration", 5, 100, trainer.model.config.steps, 5,
                  help="Steps of the sampler that makes the negatives; more is slower but gives better negatives.")
    batch = c3.select_slider("Batch size", [16, 32, 64, 128], value=64, help="Real digits and negatives per step.")
    trainer.set_hparams(lr=lr, batch_size=batch)
    if k != trainer.model.config.steps or step_size != trainer.model.config.step_size or noise != trainer.model.config.noise:
        trainer.model.config = EBMConfig(**{**trainer.model.config.__dict__, "steps": k, "step_size": step_size,
                                            "noise": noise})
    step, reset = ui.train_buttons("ebm", state)
    b1, b2 = st.columns(2)
    if b1.button("Load pretrained", icon=":material/inventory_2:", width="stretch",
                 help=f"Replace this run by the bundled checkpoint {PRETRAINED}."):
        model = load_pretrained()
        if model is not None:
            state.update(trainer=ui.new_trainer(model, mn, lr, batch, beta1=0.0), running=False, source=PRETRAINED)
    with b2:
        ui.checkpoint_download(state["trainer"], mn, "ebm.safetensors", "ebm-dl")
    if reset:
        torch.manual_seed(0)
        state.update(trainer=ui.new_trainer(EBM(EBMConfig(steps=k, step_size=step_size, noise=noise)), mn, lr, batch,
                                            beta1=0.0), running=False, source="new")
    st.caption("Training an EBM well takes about half an hour of CPU (see checkpoints/README.md); live training here "
               "shows how the energies move. Validation uses 128 digits.")

    @st.fragment(run_every=0.5 if state["running"] else None)
    def live_train():
        tr = state["trainer"]
        if state["running"]:
            rec = ui.live_tick(tr, mn.val.images[:128], budget=0.25, max_steps=2)
            if rec is None:
                state["running"] = False
                st.rerun()
        if tr.message:
            st.error(tr.message)
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

    if step:
        ui.live_tick(state["trainer"], mn.val.images[:128], budget=0.25, max_steps=2)
    live_train()

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

    key = (n, start, total, int(seed), step_size, noise, id(model))

    def new_chain() -> LangevinChain:
        g = torch.Generator().manual_seed(int(seed))
        if start == "uniform noise":
            x = torch.rand(n, 1, 28, 28, generator=g) * 2 - 1
        elif start == "validation digits":
            x = mn.val.images[torch.randperm(len(mn.val), generator=g)[:n]] * 2 - 1
        else:
            x = model.replay[torch.randint(0, len(model.replay), (n,), generator=g)].clone()
        return LangevinChain(model.energy, x, total, g, step_size, noise, model.config.grad_clamp)

    if st.session_state.get("ebm_chain_key") != key:
        st.session_state.update(ebm_chain=new_chain(), ebm_chain_key=key, ebm_playing=False)
    playing = st.session_state["ebm_playing"]

    step_once, restart = ui.run_buttons(st.session_state, "ebm_playing", ("ebm-chain-play", "ebm-chain-step-btn",
                                        "ebm-chain-restart"), ("Play", "Restart"),
                                        ("Run the chain, one frame per tick.", "Advance one frame.", "Start the chains again."))
    if restart:
        st.session_state.update(ebm_chain=new_chain(), ebm_playing=False)

    @st.fragment(run_every=0.25 if playing else None)
    def live_chain():
        ch = st.session_state["ebm_chain"]
        if st.session_state["ebm_playing"]:
            ch.advance(per_frame)
            if ch.done and st.session_state["ebm_playing"]:
                st.session_state["ebm_playing"] = False
                st.rerun()
        last = len(ch.frames) - 1
        frame = st.slider("Frame", 0, last, last, key=f"ebm-scrub-{last}",
                          help="Scrub through the frames computed so far.") if last > 0 else 0
        left, right = st.columns([2, 3])
        with left:
            st.image(viz.grid(ch.frames[frame], nrow=int(np.ceil(np.sqrt(n)))),
                     caption=f"step {ch.steps[frame]} of {total}", width="stretch")
        with right:
            st.plotly_chart(viz.chain_traces(ch.steps, ch.energies, ch.steps[frame], "Langevin step", "energy E(x)",
                                             "Energy of each chain"), key="ebm-chain-energy")

    if step_once:
        st.session_state["ebm_chain"].advance(per_frame)
    live_chain()
    ch = st.session_state["ebm_chain"]
    if len(ch.frames) > 1:
        st.download_button("Export chain as GIF", lambda: viz.gif_bytes([viz.grid(f) for f in ch.frames]),
                           file_name="ebm-chain.gif", mime="image/gif", on_click="ignore", icon=":material/movie:",
                           help="An animated GIF of the frames computed so far.")

# ---- Energies -----------------------------------------------------------------------------------------------
with tab_energy:
    model = state["trainer"].model
    st.markdown("Low energy means *typical digit* to the model. Real digits should sit low, noise and odd inputs "
                "high: the energy works as an out-of-distribution detector.")
    draw_col, up_col = st.columns(2)
    with draw_col:
        from streamlit_drawable_canvas import st_canvas

        canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=196, width=196,
                           drawing_mode="freedraw", key="ebm-canvas", return_image_data=True, update_streamlit=True)
        st.caption("Draw a digit (white on black).")
    with up_col:
        up = st.file_uploader("…or upload an image (any size, PNG/JPEG/...)", key="ebm-upload",
                              help="Converted to a 28 × 28 grey digit (white on black, centred) before its energy "
                              "is computed.")
    g = torch.Generator().manual_seed(0)
    groups = {}
    real = (mn.test.images if mn.test is not None else mn.val.images)[:500]
    groups["real digits" + (" (test)" if mn.test is not None else " (validation)")] = real
    groups["uniform noise"] = torch.rand(500, 1, 28, 28, generator=g)
    groups["rotated digits (90°)"] = torch.rot90(real, 1, (2, 3))
    ch = st.session_state.get("ebm_chain")
    if ch is not None and len(ch.frames) > 1:
        groups[f"chain samples (step {ch.steps[-1]})"] = ch.frames[-1]
    drawn = getattr(canvas, "image_data", None)
    if drawn is not None and drawn[..., :3].max() > 50:  # some ink on the canvas
        groups["your drawing"] = canvas_to_digit(drawn)
    if up is not None:
        try:
            groups["your image"] = image_to_digit(up.getvalue())
        except ValueError as e:
            st.error(f"{up.name}: {e}")
    with torch.no_grad():
        energies = {k: model(v).numpy() for k, v in groups.items()}
    fig = go.Figure()
    for name, e in energies.items():
        if name in ("your image", "your drawing"):
            fig.add_vline(x=float(e[0]), line_color="black", line_width=3, annotation_text=name)
        else:
            fig.add_trace(go.Histogram(x=e, name=f"{name} (n={len(e)})", opacity=0.6, nbinsx=40))
    fig.update_layout(barmode="overlay", height=380, xaxis_title="energy E(x)", yaxis_title="count",
                      margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=1.15))
    st.plotly_chart(fig, key="ebm-hist")
    for name in ("your drawing", "your image"):
        if name in groups:
            st.image(viz.grid(groups[name]), caption=f"{name} as the model sees it: E = {float(energies[name][0]):.3f}",
                     width=140)

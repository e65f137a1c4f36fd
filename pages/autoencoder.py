"""Autoencoder page: train live, watch the loss curves, reconstructions and (for a 2-D code) the code map."""
import streamlit as st
import torch

from genlib import viz
from genlib.models.autoencoder import AEConfig, Autoencoder
from pages import ui

PRETRAINED = "ae-mnist-2d"

ui.ensure_app_navigation()
mn = ui.mnist()
ui.header(
    "Autoencoder",
    "An encoder $f(x; W)$ squeezes each 28 × 28 digit into a code $h$ of a few numbers; a decoder "
    "$g(h; V)$ maps the code back to an image. Both are MLPs (784–512–256–code and back, ReLU, linear output), "
    "trained with Adam to make the reconstruction match the input. With a 2-D code you can see where "
    "each digit class lands. Curves: mean squared error per pixel on the training batches and on the "
    "validation digits.",
    [r"h = f(x; W), \qquad \hat x = g(h; V)",
     r"L(W, V) = \frac{1}{N \cdot 784} \sum_{n=1}^{N} \lVert x_n - g(f(x_n; W); V) \rVert^2"],
    mn,
)

with st.sidebar:
    st.header("Model")
    code_size = st.slider("Code size", 2, 64, 2, help="Numbers in the code h. 2 gives a code map you can plot; "
                          "larger codes reconstruct better. Changing it needs a rebuild (Reset).")
    st.header("Training")
    lr = st.select_slider("Learning rate", ui.LEARNING_RATES, value=1e-3, format_func=lambda v: f"{v:g}",
                          help="Adam step size. Takes effect at the next tick without losing the run. "
                          "Very large values diverge: the run stops and rolls back to the last good state.")
    batch = st.select_slider("Batch size", ui.BATCH_SIZES, value=128,
                             help="Digits per optimizer step; takes effect at the next tick.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, help="Seed of this run's random generator (weights and batch order).")


def fresh():
    torch.manual_seed(seed)  # weight init of a new model; the run's own Generator drives everything else
    return {"trainer": ui.new_trainer(Autoencoder(AEConfig(code_size=code_size)), mn, lr, batch, seed),
            "running": False, "source": "new"}


state = ui.session("ae", fresh)
trainer = state["trainer"]
trainer.set_hparams(lr=lr, batch_size=batch)

step, reset = ui.train_buttons("ae", state)
c1, c2 = st.columns(2)
if c1.button("Load pretrained (2-D code)", width="stretch", icon=":material/inventory_2:",
             help=f"Replace this run by the bundled checkpoint {PRETRAINED} (trained by `python -m genlib train ae "
             "--preset mnist-2d`), ready to explore or train further."):
    model = ui.pretrained_copy(PRETRAINED)
    if model is not None:
        state.update(trainer=ui.new_trainer(model, mn, lr, batch, seed), running=False, source=PRETRAINED)
with c2:
    ui.checkpoint_download(trainer, mn, f"ae-code{trainer.model.config.code_size}-step{trainer.step_count}.safetensors", "ae-dl")
with st.expander("Open a checkpoint file"):
    uploaded = ui.checkpoint_upload("ae", "ae-upload")
    if uploaded is not None and st.button("Use this checkpoint", key="ae-use-upload",
                                          help="Replace the current run by the uploaded model."):
        state.update(trainer=ui.new_trainer(uploaded, mn, lr, batch, seed), running=False, source="uploaded file")
        st.rerun()
if reset:
    state.update(fresh())
    trainer = state["trainer"]
if trainer.model.config.code_size != code_size and state["source"] == "new":
    st.info(f"The sidebar asks for a code size of {code_size}; this run has {trainer.model.config.code_size}. "
            "Press Reset to rebuild.")

val = mn.val.images
fixed = val[torch.linspace(0, len(val) - 1, 16).long()]  # 16 fixed validation digits, two per class or so


@st.fragment(run_every=0.4 if state["running"] else None)
def live():
    tr = state["trainer"]
    if state["running"] or st.session_state.pop("ae_step_once", False):
        rec = ui.live_tick(tr, val)
        if rec is None and state["running"]:
            state["running"] = False
            st.rerun()  # a full rerun stops the timer; the error below shows after it
    if tr.message:
        st.error(tr.message)
    st.caption(f"{'source: ' + state['source'] + ' · ' if state['source'] != 'new' else ''}"
               f"step {tr.step_count} · epoch {tr.epoch + tr.pos / len(tr.data):.2f} · "
               f"lr {tr.config.lr:g} · batch {tr.config.batch_size}"
               + (f" · last tick {tr.history[-1]['tick_ms']:.0f} ms" if tr.history and "tick_ms" in tr.history[-1] else ""))
    left, right = st.columns([3, 2])
    with left:
        if tr.history:
            st.plotly_chart(viz.curves(tr.history, {"train_loss": "train", "val_loss": "validation"},
                                       yaxis="MSE per pixel", title="Reconstruction error"), key="ae-curve")
        else:
            st.info("Press Start (or Step) to train; the loss curves appear here.")
    with right:
        with torch.no_grad():
            tr.model.eval()
            rec = tr.model(fixed).clamp(0, 1)
        st.image(viz.grid(torch.cat([fixed[:8], rec[:8], fixed[8:], rec[8:]]), nrow=8),
                 caption="Rows 1 and 3: validation digits · rows 2 and 4: their reconstructions",
                 width="stretch", clamp=True)
    if tr.model.config.code_size == 2:
        with torch.no_grad():
            codes = tr.model.encode(val)
        st.plotly_chart(viz.code_scatter(codes, mn.val.labels, title="Codes h of the validation digits"),
                        key="ae-codes")
    else:
        st.caption("The code map is drawn for a 2-D code; pick code size 2 and Reset to see it.")


if step:
    st.session_state["ae_step_once"] = True
live()

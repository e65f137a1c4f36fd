"""Autoencoder page: train live, watch the loss curves, reconstructions and (for a 2-D code) the code map."""
import streamlit as st
import torch

from genlib import models, viz
from genlib.models.autoencoder import AEConfig
from pages.views import chrome, setup, training

PRETRAINED = "ae-mnist-2d"

mn = setup.mnist()
chrome.header(
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
    lr = st.select_slider("Learning rate", training.LEARNING_RATES, value=1e-3, format_func=lambda v: f"{v:g}",
                          help="Adam step size. Takes effect at the next tick without losing the run. "
                          "Very large values diverge: the run stops and rolls back to the last good state.")
    batch = st.select_slider("Batch size", training.BATCH_SIZES, value=128,
                             help="Digits per optimizer step; takes effect at the next tick.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, help="Seed of this run's random generator (weights and batch order).")


def fresh():  # the seed draws the initial weights; the run's own Generator drives everything else
    model = models.create("ae", AEConfig(code_size=code_size), seed)
    return {"trainer": training.new_trainer(model, mn, lr, batch, seed), "running": False, "source": "new"}


state = chrome.session("ae", fresh)
state["trainer"].set_hparams(lr=lr, batch_size=batch)

step, reset = training.train_buttons("ae", state)
c1, c2 = st.columns(2)
training.pretrained_button(state, PRETRAINED, "Load pretrained (2-D code)", f"Replace this run by the bundled "
                           f"checkpoint {PRETRAINED} (trained by `python -m genlib train ae --preset mnist-2d`), ready "
                           "to explore or train further.", lambda m: training.new_trainer(m, mn, lr, batch, seed), c1)
with st.expander("Open a checkpoint file"):
    uploaded = training.checkpoint_upload("ae", "ae-upload")
    if uploaded is not None and st.button("Use this checkpoint", key="ae-use-upload",
                                          help="Replace the current run by the uploaded model."):
        state.update(trainer=training.new_trainer(uploaded, mn, lr, batch, seed), running=False, source="uploaded file")
        st.rerun()
if reset:
    state.update(fresh())
val = mn.val.images
if step:  # one tick now, outside the fragment (a flag read inside it would be lost on a full rerun)
    training.safe_tick(state, lambda: state["trainer"].tick(val))
trainer = state["trainer"]
with c2:  # after Reset, Step and the uploads: the file is the run shown, named with its step count
    training.checkpoint_download(state, mn, f"ae-code{trainer.model.config.code_size}", "ae-dl")
if trainer.model.config.code_size != code_size and state["source"] == "new":
    st.info(f"The sidebar asks for a code size of {code_size}; this run has {trainer.model.config.code_size}. "
            "Press Reset to rebuild.")

fixed = val[torch.linspace(0, len(val) - 1, 16).long()]  # 16 fixed validation digits, two per class or so


def draw(tr) -> None:
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
            rec = tr.model.eval()(fixed).clamp(0, 1)
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


training.live(state, lambda: state["trainer"].tick(val), draw)

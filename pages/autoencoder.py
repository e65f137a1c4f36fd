"""Autoencoder page: train live, watch the loss curves, reconstructions and (for a 2-D code) the code map."""
import streamlit as st
import torch

from genlib import models, viz
from genlib.models.autoencoder import AEConfig
from pages.views import chain_player, chrome, live, setup, share, training, url

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


def start_fresh() -> None:  # a lesson's settings are applied first (a new code size rebuilds the run), then it runs
    st.session_state["ae-autostart"] = True


def adopt(model: torch.nn.Module | None, source: str) -> None:
    """on_click (before the page runs): replace the run by `model` (pretrained or uploaded; None: nothing to adopt)
    and move the code-size slider to its code size."""
    if model is None:
        return
    ss = st.session_state
    seed = ss.get("ae-seed", 0)
    ss["ae"].update(trainer=training.new_trainer(model, mn, ss.get("ae-lr", 1e-3), ss.get("ae-batch", 128), seed),
                    running=False, source=source, built=(model.config.code_size, seed), failure=None)
    ss["ae-code"] = model.config.code_size


def adopt_pretrained() -> None:
    adopt(setup.pretrained_copy(PRETRAINED), PRETRAINED)


lesson_slot = st.container()  # the "Try this" row (drawn at the end; under the panel in projector mode)

with st.sidebar:
    st.header("Model")
    code_size = url.bound(st.slider, "Code size", 2, 64, 2, key="ae-code",
                          help="Numbers in the code h. 2 gives a code map you can plot; larger codes reconstruct "
                          "better. Changing it starts a new run with fresh weights.")
    st.header("Training")
    lr = url.bound(st.select_slider, "Learning rate", training.LEARNING_RATES, value=1e-3, format_func=lambda v: f"{v:g}",
                          key="ae-lr",
                          help="Adam step size. Takes effect at the next tick without losing the run. "
                          "Very large values diverge: the run stops and rolls back to the last good state.")
    batch = url.bound(st.select_slider, "Batch size", training.BATCH_SIZES, value=128, key="ae-batch",
                             help="Digits per optimizer step; takes effect at the next tick.")
    seed = url.bound(st.number_input, "Seed", 0, 2**31 - 1, 0, key="ae-seed",
                           help="Seed of this run's random generator (initial weights and batch order); changing it "
                           "starts a new run.")


def fresh():  # the seed draws the initial weights; the run's own Generator drives everything else
    model = models.create("ae", AEConfig(code_size=code_size), seed)
    return {"trainer": training.new_trainer(model, mn, lr, batch, seed), "running": False, "source": "new",
            "built": (code_size, seed), "failure": None}


def rebuild() -> None:
    """A new run from the sidebar's settings: fresh weights, no history, no divergence or failure message. The old
    run's validation curve stays, faded, for comparison."""
    old = state["trainer"]
    if old.history:
        state["previous"] = (f"previous run (code size {old.model.config.code_size})", old.history)
    state.update(fresh())


state = chrome.session("ae", fresh)
if state.get("built") != (code_size, seed):  # a new code size or seed: a new run (this also clears any old message)
    rebuild()
if st.session_state.pop("ae-autostart", False):
    rebuild()
    state["running"] = True
state["trainer"].set_hparams(lr=lr, batch_size=batch)

# the run buttons, then the live panel in projector mode (above the fold at 1280 x 720), then the other controls
buttons, first, second = st.container(), st.container(), st.container()
panel, controls = (first, second) if chrome.projector() else (second, first)
with buttons:
    step, reset = training.train_buttons("ae", state)
with controls:
    c1, c2 = st.columns(2)
    c1.button("Load pretrained (2-D code)", width="stretch", icon=":material/inventory_2:", on_click=adopt_pretrained,
              help=f"Replace this run by the bundled checkpoint {PRETRAINED} (trained by `python -m genlib train ae "
              "--preset mnist-2d`), ready to explore or train further.")
    with st.expander("Open a checkpoint file"):
        uploaded = training.checkpoint_upload("ae", "ae-upload")
        if uploaded is not None:
            st.button("Use this checkpoint", key="ae-use-upload", on_click=adopt, args=(uploaded, "uploaded file"),
                      help="Replace the current run by the uploaded model (the code size follows it).")
if reset:
    rebuild()
val = mn.val.images
if step:  # one tick now, outside the fragment (a flag read inside it would be lost on a full rerun)
    training.safe_tick(state, lambda: state["trainer"].tick(val))
trainer = state["trainer"]
with c2:  # after Reset, Step and the uploads: the file is the run shown, named with its step count
    training.checkpoint_download(state, mn, f"ae-code{trainer.model.config.code_size}", "ae-dl")

fixed = val[torch.linspace(0, len(val) - 1, 16).long()]  # 16 fixed validation digits, two per class or so


def layers(cfg: AEConfig) -> str:
    """The encoder's widths, e.g. 784–512–256–2 (a checkpoint may have others than the page builds)."""
    return "–".join(map(str, (784, *cfg.hidden, cfg.code_size)))


def draw(tr) -> None:
    st.caption(f"{'source: ' + state['source'] + ' · ' if state['source'] != 'new' else ''}"
               f"code size {tr.model.config.code_size} (layers {layers(tr.model.config)}) · step {tr.step_count} · "
               f"epoch {tr.epoch + tr.pos / len(tr.data):.2f} · lr {tr.config.lr:g} · batch {tr.config.batch_size}"
               + (f" · last tick {tr.history[-1]['tick_ms']:.0f} ms" if tr.history and "tick_ms" in tr.history[-1] else ""))
    left, right = st.columns([3, 2])
    with left:
        if tr.history:
            fig = viz.curves(tr.history, {"train_loss": "train", "val_loss": "validation"},
                             yaxis="MSE per pixel", title="Reconstruction error", log_y=True)
            if state.get("previous"):  # the previous run's validation error, grey and dotted
                label, old = state["previous"]
                prev = viz.series(old, "val_loss", label, "#999999", dash="dot", opacity=0.7, markers=False)
                if prev is not None:
                    fig["series"].append(prev)
            live.chart("ae-curve", **fig)  # drawn by the browser
        else:
            st.info("Press Start (or Step) to train; the loss curves appear here.")
        chrome.explain("The curves are L(W, V): the mean squared error between a digit x and its reconstruction "
                       "g(f(x)). Validation (orange) is measured on digits the run never trains on.")
    with right:
        with torch.no_grad():
            rec = tr.model.eval()(fixed).clamp(0, 1)
        chain_player.frame(st, viz.grid(torch.cat([fixed[:8], rec[:8], fixed[8:], rec[8:]]), nrow=8),
                           caption="Rows 1 and 3: validation digits · rows 2 and 4: their reconstructions")
        chrome.explain(f"Rows 2 and 4 are x̂ = g(f(x)): what survives the squeeze through a code h of "
                       f"{tr.model.config.code_size} numbers.")
    if tr.model.config.code_size == 2:
        with torch.no_grad():
            codes = tr.model.encode(val)
        chrome.plot(viz.code_scatter(codes, mn.val.labels, title="Codes h of the validation digits"), key="ae-codes")
        chrome.explain("Each point is the code h = f(x) of one validation digit, coloured by its label (which the "
                       "autoencoder never sees).")
    else:
        st.caption("The code map is drawn for a 2-D code; pick code size 2 to see it.")


with panel:
    training.live(state, lambda budget: state["trainer"].tick(val, budget=share.cut(0.1, budget)), draw)
with lesson_slot if not chrome.projector() else st.container():
    chrome.lessons("ae", [
        chrome.Lesson("Code size 2 vs 32",
                      "A 32-number code trains from scratch: by step 100 its validation error (orange) is about "
                      "0.036, below the 0.052 of a 2-D code at that step, and by step 300 about 0.02, half the 2-D "
                      "code's 0.046; the reconstructions keep strokes that a 2-D code blurs into a typical digit. The "
                      "grey dotted curve is your previous run (train one with code size 2 first to compare).",
                      {"ae-code": 32, "ae-lr": 1e-3, "ae-batch": 128}, start_fresh),
        chrome.Lesson("A learning rate that diverges",
                      "Learning rate 10 000: within two updates the loss is infinite (after the first, the codes "
                      "lie at about 10¹⁸ and the validation error is infinite). Training stops at once, the red box "
                      "says so, and the last good weights come back: the fresh ones of step 0, whose code map "
                      "stays near the origin. A new code size or seed, Reset or Load pretrained starts a new run "
                      "and clears it.",
                      {"ae-code": 2, "ae-lr": 1e4, "ae-batch": 128}, start_fresh),
        chrome.Lesson("The 2-D code map",
                      "The bundled 2-D autoencoder: each validation digit is one point h = f(x) of the map below. "
                      "Classes form clouds (1s apart, 4s and 9s overlapping): nothing in the loss asked for that, it "
                      "is what the squeeze through two numbers found.",
                      {"ae-lr": 1e-3, "ae-batch": 128}, adopt_pretrained),
    ])

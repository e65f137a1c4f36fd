"""VAE explorer: train live, the decoded latent grid, clusters, interpolation, draw-and-encode, samples.

A view: the model settings, the run and the tab bar; each tab lives in pages/vae_tabs/."""
from dataclasses import replace

import streamlit as st

from genlib import checkpoints, limits, models
from genlib.models import vae as V
from pages.vae_tabs import clusters, draw, grid, interpolate, lessons, sample, train
from pages.vae_tabs.common import Run
from pages.views import chrome, setup, training, untrusted, url

PRETRAINED = {"vae-conv-2d": "conv VAE, 2-D latent (the course's)",
              "vae-mlp-2d": "MLP VAE, 2-D latent, trained on the IWAE bound (a sharper map: test −IWAE 141.9 nats, "
                            "162.2 for the conv VAE)",
              "vae-mlp-gauss-8": "MLP VAE 784-512-512-8, Gaussian decoder (the course's)",
              "vae-mlp-bern-16": "MLP VAE, 16-D latent, Bernoulli (best log-likelihood)"}
ARCHS = {"MLP (784-512-512)": dict(encoder="mlp", decoder="mlp", hidden=(512, 512)),
         "Conv (32, 64 filters, dense 16)": dict(encoder="conv", decoder="conv", hidden=(16,))}
TABS = ["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"]
SS = st.session_state
WARMUP_MAX = limits.CONFIG_BOUNDS["warmup_steps"][1]  # any warm-up a checkpoint may hold can be shown

mn = setup.mnist()
chrome.header(
    "Variational autoencoder",
    "The encoder maps a digit $x$ to a Gaussian $q(z|x)$ over a latent code $z$; the decoder maps $z$ back to "
    "a distribution over images $p(x|z)$ (Bernoulli pixels on binarized digits, or a Gaussian with variance 1 "
    "whose mean is $\\tanh$ of the last layer). Training maximises the evidence lower bound (ELBO) with "
    "the reparameterisation $z = \\mu + \\sigma\\,\\varepsilon$; the loss shown is $-$ELBO in nats per digit, "
    "split into the reconstruction term and the KL term. $\\beta$ weighs the KL; a KL warm-up raises it "
    "from 0 over the first steps. On the Draw tab the IWAE bound $\\mathcal{L}_K$ of your digit stands beside its "
    "ELBO: their difference is (a lower bound on) $\\mathrm{KL}(q(z|x)\\,\\|\\,p(z|x))$, the price of the "
    "Gaussian $q$.",
    # one equation per line that fits the column at 1400 px (with the ELBO, the definitions were cut at "N(0, I")
    [r"\log p(x) \ \ge\ \mathcal{L}(x) = \mathbb{E}_{q(z|x)}[\log p(x|z)] - \beta\,"
     r"\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big)",
     r"q(z|x) = \mathcal{N}\big(\mu(x), \mathrm{diag}\,\sigma^2(x)\big), \qquad p(z) = \mathcal{N}(0, I)",
     r"\mathrm{KL} = \tfrac12 \sum_j \left(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\right), \qquad "
     r"z = \mu + \sigma \odot \varepsilon,\ \varepsilon \sim \mathcal{N}(0, I)",
     r"\mathcal{L}_K(x) = \mathbb{E}\Big[\log \tfrac1K \textstyle\sum_{i=1}^K \tfrac{p(x, z_i)}{q(z_i|x)}\Big]"
     r"\ \uparrow\ \log p(x), \qquad \log p(x) - \mathcal{L}_1(x) = \mathrm{KL}\big(q(z|x)\,\|\,p(z|x)\big)"],
    mn,
)


# ---- the model in use and the sidebar ----------------------------------------------------------------------------
def arch_label(cfg: V.VAEConfig) -> str | None:
    return next((k for k, a in ARCHS.items() if all(getattr(cfg, f) == v for f, v in a.items())), None)


def config() -> V.VAEConfig:
    """The sidebar's model settings (read from the session, so lesson callbacks can use it before the script). What the
    sidebar does not offer (dropout, shift, IWAE samples; an architecture not in ARCHS, shown as text) is the model's."""
    held = SS.get("vae")
    base = held["trainer"].model.config if held else V.VAEConfig()
    return replace(base, latent=int(SS.get("vae-latent", 2)), likelihood=SS.get("vae-lik", "bernoulli"),
                   beta=float(SS.get("vae-beta", 1.0)), warmup_steps=int(SS.get("vae-warmup", 0)),
                   **ARCHS.get(SS.get("vae-arch", next(iter(ARCHS))), {}))


def make_trainer(model: V.VAE):
    return training.new_trainer(model, mn, SS.get("vae-lr", 1e-3), SS.get("vae-batch", 128), int(SS.get("vae-seed", 0)))


def fresh() -> dict:  # the seed draws the initial weights; the run's own Generator drives batches and eps
    return {"trainer": make_trainer(models.create("vae", config(), int(SS.get("vae-seed", 0)))), "running": False,
            "source": "new"}


def load(name: str) -> dict | None:
    model = setup.pretrained_copy(name) if checkpoints.resolve(name).exists() else None
    return None if model is None else {"trainer": make_trainer(model), "running": False, "source": name}


def first_visit() -> dict:
    """A link's model (?vae-src=new: random weights with the link's settings; a checkpoint name: that checkpoint),
    else the course's 2-D conv VAE when it is bundled, so the grid and maps show digits at once."""
    src = st.query_params.get("vae-src", SS.get("vae-ckpt", "vae-conv-2d"))
    return fresh() if src == "new" else load(src if src in PRETRAINED else "vae-conv-2d") or fresh()


def sync_sidebar(state: dict) -> None:
    """The sidebar's model settings show the model in use. When the model changed (a checkpoint loaded or
    uploaded, a lesson, Reset), its settings are written into the widgets' state before they are drawn."""
    model = state["trainer"].model
    if state.get("synced") is model:
        return
    state["synced"] = model
    cfg = model.config
    SS["vae-arch"] = arch_label(cfg) or f"{cfg.encoder}/{cfg.decoder}, hidden {', '.join(map(str, cfg.hidden))}"
    SS["vae-latent"], SS["vae-lik"], SS["vae-warmup"], SS["vae-beta"] = cfg.latent, cfg.likelihood, \
        cfg.warmup_steps, float(cfg.beta)


proj = chrome.projector()
state = st.session_state.get("vae")
if state is not None:
    sync_sidebar(state)

with st.sidebar:
    st.header("Model")
    model_note = st.empty()
    url.bound(st.selectbox, "Architecture", list(ARCHS), key="vae-arch",
                 help="MLP: 784-512-512-latent and back (ReLU). Conv: the course's Keras VAE, two stride-2 "
                 "convolutions (32, 64 filters), a dense layer of 16, and mirrored transposed convolutions. Changing "
                 "it needs Reset.")
    url.bound(st.slider, "Latent size", 2, 64, 2, key="vae-latent",
              help="Dimensions of z. 2 gives a latent map you can see directly; more dimensions fit better. Changing "
              "it needs Reset.")
    url.bound(st.radio, "Likelihood p(x|z)", ["bernoulli", "gaussian"], horizontal=True, key="vae-lik",
             help="Bernoulli: pixels are coin flips (binarized digits, loss = binary cross-entropy). Gaussian: "
             "variance 1, mean tanh of the last layer (the course's MLP VAE). Needs Reset.")
    url.bound(st.number_input, "KL warm-up steps", 0, WARMUP_MAX, 0, step=500, key="vae-warmup",
                    help="The KL weight rises linearly from 0 to beta over this many steps, which keeps more latent "
                    "dimensions in use. Needs Reset.")
    st.header("Training")
    beta = url.bound(st.slider, "beta (KL weight)", 0.0, 4.0, 1.0, 0.1, key="vae-beta",
                     help="Weight of the KL term. 1 is the true ELBO; larger values push q(z|x) towards the prior "
                     "(smoother latent map, blurrier digits, more collapsed dimensions); smaller ones reconstruct "
                     "better. Takes effect at the next tick.")
    lr = url.bound(st.select_slider, "Learning rate", training.LEARNING_RATES, value=1e-3, format_func=lambda v: f"{v:g}",
                          key="vae-lr",
                          help="Adam step size; takes effect at the next tick. Too large diverges: the run rolls back.")
    batch = url.bound(st.select_slider, "Batch size", training.BATCH_SIZES, value=128, key="vae-batch",
                             help="Digits per optimizer step.")
    url.bound(st.number_input, "Seed", 0, 2**31 - 1, 0, key="vae-seed",
                    help="Seed of a new run's random generator (initial weights, batches, eps): Reset uses it.")
    st.header("Pretrained")
    pre = url.bound(st.selectbox, "Checkpoint", list(PRETRAINED), key="vae-ckpt",
                       help="Checkpoints made by `python -m genlib train vae --preset ...` (see checkpoints/README.md). "
                       "'Load pretrained' replaces the run by it; a link with a checkpoint opens with it loaded.")
    st.caption(PRETRAINED[pre])
    load_slot = st.container()
    uploaded = training.new_upload("vae", "vae-ckpt-upload")


LESSONS = lessons.lessons(load)
if proj:  # projector: the lessons fold away, so that the visual sits above the fold
    with st.expander("Try this: five experiments"):
        chrome.lessons("vae", LESSONS)
else:
    chrome.lessons("vae", LESSONS)

state = chrome.session("vae", first_visit)
with load_slot:
    training.pretrained_button(state, pre, f"Load pretrained {pre}", "Replace this run by the chosen bundled "
                               "checkpoint, ready to explore or to train further.", make_trainer)
if uploaded is not None:
    state.update(trainer=make_trainer(uploaded[0]), running=False, source=f"uploaded {uploaded[1]}")
if state.get("synced") is not state["trainer"].model:  # a new model: show its settings in the sidebar (next run)
    st.rerun()
trainer = state["trainer"]
trainer.set_hparams(lr=lr, batch_size=batch)
model: V.VAE = trainer.model
if model.config.beta != beta:  # beta only weighs the loss: change it live
    model.config = replace(model.config, beta=beta)
cfg = model.config
# the link names the model: a bundled checkpoint, or "new" (random weights from the link's settings and seed)
st.query_params["vae-src"] = state["source"] if state["source"] in PRETRAINED else "new"
model_note.caption(f"These show the model in use ({untrusted.literal(state['source'])}). Changing architecture, latent size, "
                   "likelihood or warm-up needs **Reset** (Train tab), which starts a new model from random weights.")
if replace(cfg, beta=beta) != config():
    st.info("The sidebar's architecture, latent size, likelihood or warm-up differ from this run's; press Reset on "
            "the Train tab to rebuild with them.")

caption_slot = st.empty()
run = Run(mn, state, trainer, model, proj, PRETRAINED)

tab_objs = url.bound(st.tabs, TABS, key="vae-tab")
tabs = dict(zip(TABS, tab_objs))
if not tabs["Train"].open and not proj:  # (boilerplate on the projector; the Train tab always shows it)
    caption_slot.caption(run.caption(trainer, training_shown=False))
for name, render in [("Train", lambda: train.render(run, fresh)), ("Latent grid", lambda: grid.render(run)),
                     ("Clusters", lambda: clusters.render(run)), ("Interpolate", lambda: interpolate.render(run)),
                     ("Draw", lambda: draw.render(run)), ("Sample", lambda: sample.render(model))]:
    if tabs[name].open:  # lazy tabs: only the open tab runs
        with tabs[name]:
            render()

"""VAE explorer: train live, the decoded latent grid, clusters, interpolation, draw-and-encode, samples."""
from dataclasses import replace

import streamlit as st
import torch

from genlib import checkpoints, metrics, models, viz
from genlib.models import vae as V
from pages.views import chrome, digit_input, setup, training

PRETRAINED = {"vae-conv-2d": "conv VAE, 2-D latent (the course's)",
              "vae-mlp-gauss-8": "MLP VAE 784-512-512-8, Gaussian decoder (the course's)",
              "vae-mlp-bern-16": "MLP VAE, 16-D latent, Bernoulli (best log-likelihood)"}
ARCHS = {"MLP (784-512-512)": dict(encoder="mlp", decoder="mlp", hidden=(512, 512)),
         "Conv (32, 64 filters, dense 16)": dict(encoder="conv", decoder="conv", hidden=(16,))}

mn = setup.mnist()
chrome.header(
    "Variational autoencoder",
    "The encoder maps a digit $x$ to a Gaussian $q(z|x)$ over a latent code $z$; the decoder maps $z$ back to "
    "a distribution over images $p(x|z)$ (Bernoulli pixels on binarized digits, or a Gaussian with variance 1 "
    "whose mean is $\\tanh$ of the last layer). Training maximises the evidence lower bound (ELBO) with "
    "the reparameterisation $z = \\mu + \\sigma\\,\\varepsilon$; the loss shown is $-$ELBO in nats per digit, "
    "split into the reconstruction term and the KL term. $\\beta$ weighs the KL; a KL warm-up raises it "
    "from 0 over the first steps.",
    [r"\log p(x) \ \ge\ \mathcal{L}(x) = \mathbb{E}_{q(z|x)}[\log p(x|z)] - \beta\,"
     r"\mathrm{KL}\big(q(z|x)\,\|\,p(z)\big), \qquad q(z|x) = \mathcal{N}(\mu(x), \mathrm{diag}\,\sigma^2(x)),"
     r"\ p(z) = \mathcal{N}(0, I)",
     r"\mathrm{KL} = \tfrac12 \sum_j \left(\mu_j^2 + \sigma_j^2 - 1 - \log \sigma_j^2\right), \qquad "
     r"z = \mu + \sigma \odot \varepsilon,\ \varepsilon \sim \mathcal{N}(0, I)",
     r"\mathcal{L}_k(x) = \mathbb{E}\Big[\log \tfrac1k \textstyle\sum_{i=1}^k \tfrac{p(x, z_i)}{q(z_i|x)}\Big]"
     r"\ \uparrow\ \log p(x) \quad \text{(IWAE bound, used as the log-likelihood estimate)}"],
    mn,
)

with st.sidebar:
    st.header("Model")
    arch = st.selectbox("Architecture", list(ARCHS), help="MLP: 784-512-512-latent and back (ReLU). Conv: the "
                        "course's Keras VAE, two stride-2 convolutions (32, 64 filters), a dense layer of 16, and "
                        "mirrored transposed convolutions. Changing it needs Reset.")
    latent = st.slider("Latent size", 2, 64, 2, help="Dimensions of z. 2 gives a latent map you can see directly; "
                       "more dimensions fit better. Changing it needs Reset.")
    lik = st.radio("Likelihood p(x|z)", ["bernoulli", "gaussian"], horizontal=True,
                   help="Bernoulli: pixels are coin flips (binarized digits, loss = binary cross-entropy). "
                   "Gaussian: variance 1, mean tanh of the last layer (the course's MLP VAE). Needs Reset.")
    warmup = st.number_input("KL warm-up steps", 0, 20000, 0, step=500, help="The KL weight rises linearly from 0 "
                             "to beta over this many steps, which keeps more latent dimensions in use. Needs Reset.")
    st.header("Training")
    beta = st.slider("beta (KL weight)", 0.0, 4.0, 1.0, 0.1, help="Weight of the KL term. 1 is the true ELBO; "
                     "larger values push q(z|x) towards the prior (smoother latent map, blurrier digits, more "
                     "collapsed dimensions); smaller ones reconstruct better. Takes effect at the next tick.")
    lr = st.select_slider("Learning rate", training.LEARNING_RATES, value=1e-3, format_func=lambda v: f"{v:g}",
                          help="Adam step size; takes effect at the next tick. Too large diverges: the run rolls back.")
    batch = st.select_slider("Batch size", training.BATCH_SIZES, value=128, help="Digits per optimizer step.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, help="Seed of this run's random generator (weights, batches, eps).")
    st.header("Pretrained")
    pre = st.selectbox("Checkpoint", list(PRETRAINED), format_func=lambda k: f"{k}: {PRETRAINED[k]}",
                       help="Checkpoints made by `python -m genlib train vae --preset ...` (see checkpoints/README.md).")


def config() -> V.VAEConfig:
    return V.VAEConfig(latent=latent, likelihood=lik, beta=beta, warmup_steps=int(warmup), **ARCHS[arch])


def make_trainer(model: V.VAE):
    return training.new_trainer(model, mn, lr, batch, seed)


def fresh():  # the seed draws the initial weights; the run's own Generator drives batches and eps
    return {"trainer": make_trainer(models.create("vae", config(), seed)), "running": False, "source": "new"}


def first_visit():
    """Open on the course's 2-D conv VAE when it is bundled, so the grid and maps show digits at once."""
    model = setup.pretrained_copy("vae-conv-2d") if checkpoints.resolve("vae-conv-2d").exists() else None
    return fresh() if model is None else {"trainer": make_trainer(model), "running": False, "source": "vae-conv-2d"}


state = chrome.session("vae", first_visit)
step, reset = training.train_buttons("vae", state)
c1, c2 = st.columns(2)
training.pretrained_button(state, pre, f"Load pretrained {pre}", "Replace this run by the chosen bundled checkpoint, "
                           "ready to explore or to train further.", make_trainer, c1)
if reset:
    state.update(fresh())
trainer = state["trainer"]
trainer.set_hparams(lr=lr, batch_size=batch)
model: V.VAE = trainer.model
if model.config.beta != beta:  # beta only weighs the loss: change it live
    model.config = replace(model.config, beta=beta)
if step:  # one tick now, outside the fragment (a flag read inside it would be lost on a full rerun)
    training.safe_tick(state, lambda: trainer.tick(mn.val.images))
with c2:  # after Reset and Step: the file is the run shown, named with its step count
    training.checkpoint_download(state, mn, f"vae-z{model.config.latent}", "vae-dl")
cfg = model.config
if state["source"] == "new" and replace(cfg, beta=beta) != config():
    st.info("The sidebar's architecture, latent size, likelihood or warm-up differ from this run's; press Reset "
            "to rebuild with them.")
st.caption(f"Current model ({state['source']}): {cfg.encoder}/{cfg.decoder}, latent {cfg.latent}, {cfg.likelihood}, "
           f"beta {cfg.beta:g}, {trainer.step_count} steps.")

val, val_labels = mn.val.images, mn.val.labels
fixed = val[torch.linspace(0, len(val) - 1, 16).long()]


@torch.no_grad()
def encode_means(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    return model.encode(x)


D = cfg.latent
# q(z|x) of the validation digits, encoded once per model state (not on every rerun): the maps, paths and KL ranking
mu_v, logvar_v = chrome.memo("vae_val_codes", (model, trainer.step_count), lambda: encode_means(val))
# for maps of a model with more than 2 dimensions: the two dimensions with the largest KL (the most used)
top2 = (0, 1) if D == 2 else tuple(int(i) for i in torch.argsort(metrics.gaussian_kl(mu_v, logvar_v).mean(0),
                                                                 descending=True)[:2])
top2_note = "" if D == 2 else f": the two most used dimensions z[{top2[0]}], z[{top2[1]}]"
tabs = st.tabs(["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"])

# ---- Train ------------------------------------------------------------------------------------------------
with tabs[0]:
    def draw(tr) -> None:
        st.caption(f"step {tr.step_count} · epoch {tr.epoch + tr.pos / len(tr.data):.2f} · lr {tr.config.lr:g} · "
                   f"batch {tr.config.batch_size} · KL weight now {tr.model.kl_weight():.2f}"
                   + (f" · last tick {tr.history[-1]['tick_ms']:.0f} ms" if tr.history and "tick_ms" in tr.history[-1] else ""))
        if tr.history:
            cols = st.columns(3)
            for col, (key, name) in zip(cols, [("nelbo", "−ELBO (nats)"), ("rec", "reconstruction −log p(x|z)"),
                                                 ("kl", "KL(q(z|x) ‖ p(z))")]):
                col.plotly_chart(viz.curves(tr.history, {f"train_{key}": "train", f"val_{key}": "validation"},
                                            yaxis="nats per digit", title=name), key=f"vae-curve-{key}")
        else:
            st.info("Press Start (or Step) to train, or load a pretrained model; the loss curves appear here.")
        left, right = st.columns([3, 2])
        kld = metrics.kl_per_dim(tr.model, val)
        with left:
            st.plotly_chart(viz.kl_bars(kld), key="vae-kl-bars")
            collapsed = int((kld < 0.05).sum())
            if tr.step_count > 0 and collapsed > len(kld) / 2:
                st.warning(f"{collapsed} of {len(kld)} latent dimensions have collapsed (KL < 0.05 nats: q(z_j|x) "
                           "equals the prior, so they carry no information). Try a smaller beta or a KL warm-up.")
        with right:
            with torch.no_grad():
                rec = tr.model.eval()(fixed)
            st.image(viz.grid(torch.cat([fixed[:8], rec[:8], fixed[8:], rec[8:]]), nrow=8), clamp=True,
                     caption="Rows 1, 3: validation digits · rows 2, 4: reconstructions (decoder mean at z = μ)",
                     width="stretch")

    training.live(state, lambda: state["trainer"].tick(val), draw)

# ---- Latent grid ------------------------------------------------------------------------------------------
with tabs[1]:
    c = st.columns(4)
    n = c[0].slider("Grid size n", 5, 40, 20, help="The grid shows n × n decoded digits.")
    mode = c[1].radio("Range", ["prior quantiles", "± scale in z"], key="vae-range",
                      help="Prior quantiles: the axes run through Φ⁻¹(q) ... Φ⁻¹(1−q), equal prior mass per cell "
                      "(the VAE paper's figure). ± scale: a plain range in z; 1 reproduces the course figure.")
    if mode == "prior quantiles":
        val_r = c[2].slider("Tail quantile q", 0.01, 0.2, 0.05, 0.01, help="Probability left out at each end.")
    else:
        val_r = c[2].slider("Scale", 0.25, 5.0, 1.0, 0.25, help="The grid spans [−scale, scale] on both axes.")
    dims = (0, 1)
    base = torch.zeros(D)
    if D > 2:
        dims = (c[3].selectbox("x: dimension", range(D), 0, key="vae-dx", help="Latent dimension on the x axis."),
                c[3].selectbox("y: dimension", range(D), 1, key="vae-dy", help="Latent dimension on the y axis."))
        if dims[0] == dims[1]:
            st.warning("Pick two different dimensions to sweep.")
            dims = (dims[0], (dims[0] + 1) % D)
        fix = st.radio("Fix the other dimensions at", ["0 (prior mean)", "the code of a validation digit"],
                       horizontal=True, help="The dimensions not swept keep these values.")
        if fix != "0 (prior mean)":
            idx = st.number_input("Validation digit #", 0, len(val) - 1, 0, help="Its encoder mean μ fixes the rest.")
            base = encode_means(val[idx:idx + 1])[0][0]
    axis = V.grid_axis(n, "quantile" if mode == "prior quantiles" else "scale", val_r)
    # decoding n^2 digits is the slow part (~0.5 s for the conv decoder at n = 30): keep the last grid, so that
    # moving the pointer only decodes one digit
    img = chrome.memo("vae_grid", (model, trainer.step_count, n, mode, val_r, dims, tuple(base.tolist())),
                      lambda: V.decode_grid(model, axis, axis, dims, base))
    lo, hi = float(axis[0]), float(axis[-1])
    pc = st.columns(2)
    hint = "Move the pointer; the digit decoded there is shown large on the right."
    px_ = pc[0].slider(f"pointer z[{dims[0]}]", -4.0, 4.0, 0.0, 0.05, key="vae-px", help=hint)
    py_ = pc[1].slider(f"pointer z[{dims[1]}]", -4.0, 4.0, 0.0, 0.05, key="vae-py", help=hint)
    left, right = st.columns([3, 1])
    with left:
        st.plotly_chart(viz.latent_grid(img, lo, hi, n, dims, (px_, py_)), key="vae-grid-fig")
    with right:
        z = base.clone()
        z[dims[0]], z[dims[1]] = px_, py_
        big = model.decode_images(z[None])[0, 0].numpy()
        st.image(viz.to_uint8(big, 8), caption=f"decoded at z[{dims[0]}] = {px_:.2f}, z[{dims[1]}] = {py_:.2f}")

# ---- Clusters ---------------------------------------------------------------------------------------------
with tabs[2]:
    splits = {"validation": mn.val} | ({"test": mn.test} if mn.test is not None else {})
    c = st.columns(3)
    split = c[0].radio("Digits", list(splits), horizontal=True, key="vae-split",
                       help="Which digits to encode (the test split only if the data folder holds it).")
    d = splits[split]
    nmax = min(len(d), 5000)
    n_pts = c[1].slider("How many", 100, nmax, min(1000, nmax), 100, help="Digits to encode (first N).")
    cdims = (0, 1) if D == 2 else (c[2].selectbox("x dim", range(D), 0, key="vae-cx"),
                                    c[2].selectbox("y dim", range(D), 1, key="vae-cy"))
    mu_c = encode_means(d.images[:n_pts])[0]
    fig = viz.latent_map(mu_c, d.labels[:n_pts], cdims, f"Encoder means μ(x) of {n_pts} {split} digits")
    viz.mark_region(fig, lo, hi)
    st.caption("Dashed square: the region of the latent grid tab. Dotted circles: the prior's 1, 2, 3 σ. "
               "Box- or lasso-select points to see those digits.")
    ev = st.plotly_chart(fig, key="vae-clusters", on_select="rerun", selection_mode=("points", "box", "lasso"))
    picked = viz.selected_points(ev.selection.points if ev and ev.selection else [], d.labels[:n_pts])
    if picked:
        st.image(viz.grid(d.images[picked[:64]], nrow=16), clamp=True,
                 caption=f"{len(picked)} selected digit(s)" + (" (first 64 shown)" if len(picked) > 64 else ""))

# ---- Interpolate ------------------------------------------------------------------------------------------
with tabs[3]:
    c = st.columns(4)
    i0 = c[0].number_input("From validation digit #", 0, len(val) - 1, 0, help="Start of the path (its μ).")
    i1 = c[1].number_input("To validation digit #", 0, len(val) - 1, len(val) - 1, help="End of the path (its μ).")
    steps = c[2].slider("Steps", 3, 20, 10, help="Decoded points along the path.")
    sph = c[3].checkbox("Spherical (slerp)", help="Interpolate along a great circle: the path keeps a norm typical of "
                        "the prior instead of cutting through the low-norm centre.")
    path = V.interpolate(mu_v[i0], mu_v[i1], steps, sph)
    strip = model.decode_images(path)
    st.image(viz.grid(torch.cat([val[i0:i0 + 1], strip, val[i1:i1 + 1]]), nrow=steps + 2), clamp=True,
             caption="left: start digit · decoded path · right: end digit", width="stretch")
    fig = viz.latent_map(mu_v, val_labels, top2, "The path on the latent map (validation means)" + top2_note)
    st.plotly_chart(viz.mark_path(fig, path, top2), key="vae-interp")

# ---- Draw -------------------------------------------------------------------------------------------------
with tabs[4]:
    left, right = st.columns([1, 2])
    with left:
        drawn = digit_input.drawing("vae-canvas", 280)
        uploaded = digit_input.upload("vae-upload")
    digit, problem = uploaded if any(v is not None for v in uploaded) else drawn  # an upload wins
    with right:
        if problem:
            st.error(problem)
        elif digit is None:
            st.info("Draw a digit on the black canvas (white ink), or upload an image.")
        else:
            mu_d, lv_d = encode_means(digit)
            recon = model.decode_images(mu_d)
            st.image(viz.to_uint8(viz.grid(torch.cat([digit, recon]), nrow=2), 5),
                     caption="the 28 × 28 input · its reconstruction")
            fig = viz.latent_map(mu_v, val_labels, top2,
                                 "q(z|x) of your digit on the latent map" + top2_note)
            viz.mark_posterior(fig, V.ellipse(mu_d[0], lv_d[0], top2),
                               (float(mu_d[0, top2[0]]), float(mu_d[0, top2[1]])))
            st.plotly_chart(fig, key="vae-draw-map")
            st.caption(f"μ = [{', '.join(f'{v:.2f}' for v in mu_d[0, :8])}{' ...' if D > 8 else ''}]")

# ---- Sample -----------------------------------------------------------------------------------------------
with tabs[5]:
    c = st.columns(2)
    s_seed = c[0].number_input("Sample seed", 0, 2**31 - 1, 0, key="vae-sseed", help="Seed of the prior draws.")
    s_n = c[1].slider("How many", 8, 128, 64, 8, key="vae-sn", help="Digits decoded from z ~ N(0, I).")
    samples = model.sample(s_n, torch.Generator().manual_seed(int(s_seed)))
    st.image(viz.grid(samples, nrow=16), clamp=True, width="stretch",
             caption=f"decoder means E[x|z] of {s_n} prior draws z ~ N(0, I), seed {s_seed}")

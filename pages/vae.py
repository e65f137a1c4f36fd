"""VAE explorer: train live, the decoded latent grid, clusters, interpolation, draw-and-encode, samples."""
from dataclasses import replace

import numpy as np
import plotly.graph_objects as go
import streamlit as st
import torch

from genlib import checkpoints, data as gdata, metrics, viz
from genlib.models import vae as V
from pages import ui

PRETRAINED = {"vae-conv-2d": "conv VAE, 2-D latent (the course's)",
              "vae-mlp-gauss-8": "MLP VAE 784-512-512-8, Gaussian decoder (the course's)",
              "vae-mlp-bern-16": "MLP VAE, 16-D latent, Bernoulli (best log-likelihood)"}
ARCHS = {"MLP (784-512-512)": dict(encoder="mlp", decoder="mlp", hidden=(512, 512)),
         "Conv (32, 64 filters, dense 16)": dict(encoder="conv", decoder="conv", hidden=(16,))}

ui.ensure_app_navigation()
mn = ui.mnist()
ui.header(
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
    lr = st.select_slider("Learning rate", ui.LEARNING_RATES, value=1e-3, format_func=lambda v: f"{v:g}",
                          help="Adam step size; takes effect at the next tick. Too large diverges: the run rolls back.")
    batch = st.select_slider("Batch size", ui.BATCH_SIZES, value=128, help="Digits per optimizer step.")
    seed = st.number_input("Seed", 0, 2**31 - 1, 0, help="Seed of this run's random generator (weights, batches, eps).")
    st.header("Pretrained")
    pre = st.selectbox("Checkpoint", list(PRETRAINED), format_func=lambda k: f"{k}: {PRETRAINED[k]}",
                       help="Checkpoints made by `python -m genlib train vae --preset ...` (see checkpoints/README.md).")


def config() -> V.VAEConfig:
    return V.VAEConfig(latent=latent, likelihood=lik, beta=beta, warmup_steps=int(warmup), **ARCHS[arch])


def fresh():
    torch.manual_seed(seed)  # weight init only; the run's own Generator drives batches and eps
    return {"trainer": ui.new_trainer(V.VAE(config()), mn, lr, batch, seed), "running": False, "source": "new"}


def first_visit():
    """Open on the course's 2-D conv VAE when it is bundled, so the grid and maps show digits at once."""
    model = ui.pretrained_copy("vae-conv-2d") if checkpoints.resolve("vae-conv-2d").exists() else None
    if model is None:
        return fresh()
    return {"trainer": ui.new_trainer(model, mn, lr, batch, seed), "running": False, "source": "vae-conv-2d"}


state = ui.session("vae", first_visit)
step, reset = ui.train_buttons("vae", state)
c1, c2 = st.columns(2)
if c1.button(f"Load pretrained {pre}", width="stretch", icon=":material/inventory_2:",
             help="Replace this run by the chosen bundled checkpoint, ready to explore or to train further."):
    model = ui.pretrained_copy(pre)
    if model is not None:
        state.update(trainer=ui.new_trainer(model, mn, lr, batch, seed), running=False, source=pre)
if reset:
    state.update(fresh())
trainer = state["trainer"]
trainer.set_hparams(lr=lr, batch_size=batch)
model: V.VAE = trainer.model
if model.config.beta != beta:  # beta only weighs the loss: change it live
    model.config = replace(model.config, beta=beta)
with c2:
    ui.checkpoint_download(trainer, mn, f"vae-z{model.config.latent}-step{trainer.step_count}.safetensors", "vae-dl")
cfg = model.config
if state["source"] == "new" and replace(cfg, beta=beta) != config():
    st.info("The sidebar's architecture, latent size, likelihood or warm-up differ from this run's; press Reset "
            "to rebuild with them.")
st.caption(f"Current model ({state['source']}): {cfg.encoder}/{cfg.decoder}, latent {cfg.latent}, {cfg.likelihood}, "
           f"beta {cfg.beta:g}, {trainer.step_count} steps.")

val, val_labels = mn.val.images, mn.val.labels
fixed = val[torch.linspace(0, len(val) - 1, 16).long()]


def latent_map(codes: torch.Tensor, labels: torch.Tensor, dims: tuple[int, int], title: str = "") -> go.Figure:
    """Encoder means in two dimensions coloured by label, with the prior's 1, 2, 3-sigma circles."""
    fig = viz.code_scatter(codes[:, list(dims)], labels, title=title, axis="z")
    t = np.linspace(0, 2 * np.pi, 100)
    for r in (1, 2, 3):
        fig.add_trace(go.Scatter(x=r * np.cos(t), y=r * np.sin(t), mode="lines", hoverinfo="skip",
                                 line=dict(color="grey", width=1, dash="dot"), showlegend=r == 1,
                                 name="prior 1/2/3 σ"))
    fig.update_layout(xaxis_title=f"z[{dims[0]}]", yaxis_title=f"z[{dims[1]}]")
    fig.update_yaxes(scaleanchor="x", scaleratio=1)
    return fig


@torch.no_grad()
def encode_means(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    return model.encode(x)


D = cfg.latent
# for maps of a model with more than 2 dimensions: the two dimensions with the largest KL (the most used)
top2 = (0, 1) if D == 2 else tuple(int(i) for i in torch.argsort(metrics.kl_per_dim(model, val), descending=True)[:2])
tabs = st.tabs(["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"])

# ---- Train ------------------------------------------------------------------------------------------------
with tabs[0]:
    @st.fragment(run_every=0.4 if state["running"] else None)
    def live():
        tr = state["trainer"]
        if state["running"]:
            rec = ui.live_tick(tr, val)
            if rec is None and state["running"]:
                state["running"] = False
                st.rerun()
        if tr.message:
            st.error(tr.message)
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
            fig = go.Figure(go.Bar(x=[f"z[{i}]" for i in range(len(kld))], y=kld.numpy()))
            fig.update_layout(title="KL per latent dimension (validation)", yaxis_title="nats", height=300,
                              margin=dict(l=10, r=10, t=40, b=10))
            st.plotly_chart(fig, key="vae-kl-bars")
            collapsed = int((kld < 0.05).sum())
            if tr.step_count > 0 and collapsed > len(kld) / 2:
                st.warning(f"{collapsed} of {len(kld)} latent dimensions have collapsed (KL < 0.05 nats: q(z_j|x) "
                           "equals the prior, so they carry no information). Try a smaller beta or a KL warm-up.")
        with right:
            with torch.no_grad():
                tr.model.eval()
                rec = tr.model(fixed)
            st.image(viz.grid(torch.cat([fixed[:8], rec[:8], fixed[8:], rec[8:]]), nrow=8), clamp=True,
                     caption="Rows 1, 3: validation digits · rows 2, 4: reconstructions (decoder mean at z = μ)",
                     width="stretch")

    if step:  # one tick now, outside the fragment (a flag read inside it would be lost on a full rerun)
        ui.live_tick(state["trainer"], val)
    live()

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
    gkey = (trainer.step_count, n, mode, val_r, dims, tuple(base.tolist()))
    cached = st.session_state.get("vae_grid")
    if cached is None or cached[0] is not model or cached[1] != gkey:  # `is`: a rebuilt model may reuse an id
        st.session_state["vae_grid"] = cached = (model, gkey, V.decode_grid(model, axis, axis, dims, base))
    img = cached[2]
    lo, hi = float(axis[0]), float(axis[-1])
    step_z = (hi - lo) / max(n - 1, 1)
    pc = st.columns(2)
    px_ = pc[0].slider(f"pointer z[{dims[0]}]", -4.0, 4.0, 0.0, 0.05, key="vae-px",
                       help="Move the pointer; the digit decoded there is shown large on the right.")
    py_ = pc[1].slider(f"pointer z[{dims[1]}]", -4.0, 4.0, 0.0, 0.05, key="vae-py",
                       help="Move the pointer; the digit decoded there is shown large on the right.")
    left, right = st.columns([3, 1])
    with left:
        # the composed grid as a background image placed in z coordinates, so the axes carry z values;
        # cell centres sit at the axis values, hence the half-cell margins
        from PIL import Image

        fig = go.Figure()
        fig.add_layout_image(source=Image.fromarray(viz.to_uint8(img)), xref="x", yref="y", x=lo - step_z / 2,
                             y=hi + step_z / 2, sizex=hi - lo + step_z, sizey=hi - lo + step_z,
                             sizing="stretch", layer="below")
        fig.add_trace(go.Scatter(x=[px_], y=[py_], mode="markers", name="pointer", hoverinfo="x+y",
                                 marker=dict(symbol="cross-thin", size=18, line=dict(width=3, color="#ff4b4b"))))
        fig.update_xaxes(range=[lo - step_z / 2, hi + step_z / 2], title=f"z[{dims[0]}]", showgrid=False)
        fig.update_yaxes(range=[lo - step_z / 2, hi + step_z / 2], title=f"z[{dims[1]}]", showgrid=False,
                         scaleanchor="x", scaleratio=1)
        fig.update_layout(height=640, margin=dict(l=10, r=10, t=30, b=10), showlegend=False,
                          title=f"{n} × {n} decoded grid, z[{dims[0]}], z[{dims[1]}] ∈ [{lo:.2f}, {hi:.2f}]")
        st.plotly_chart(fig, key="vae-grid-fig")
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
    fig = latent_map(mu_c, d.labels[:n_pts], cdims, f"Encoder means μ(x) of {n_pts} {split} digits")
    fig.add_shape(type="rect", x0=lo, x1=hi, y0=lo, y1=hi, line=dict(color="black", width=1, dash="dash"))
    fig.update_layout(height=600)
    st.caption("Dashed square: the region of the latent grid tab. Dotted circles: the prior's 1, 2, 3 σ. "
               "Box- or lasso-select points to see those digits.")
    ev = st.plotly_chart(fig, key="vae-clusters", on_select="rerun", selection_mode=("points", "box", "lasso"))
    labels_np = d.labels[:n_pts].numpy()
    picked = []
    for p in (ev.selection.points if ev and ev.selection else []):
        digit = p.get("curve_number")
        if digit is not None and digit < 10:  # traces 0-9 are the digit classes, in label order
            picked.append(int(np.nonzero(labels_np == digit)[0][p["point_index"]]))
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
    mu_v = encode_means(val)[0]
    path = V.interpolate(mu_v[i0], mu_v[i1], steps, sph)
    strip = model.decode_images(path)
    st.image(viz.grid(torch.cat([val[i0:i0 + 1], strip, val[i1:i1 + 1]]), nrow=steps + 2), clamp=True,
             caption="left: start digit · decoded path · right: end digit", width="stretch")
    pdims = top2
    fig = latent_map(mu_v, val_labels, pdims, "The path on the latent map (validation means)"
                     + ("" if D == 2 else f": the two most used dimensions z[{pdims[0]}], z[{pdims[1]}]"))
    fig.add_trace(go.Scatter(x=path[:, pdims[0]], y=path[:, pdims[1]], mode="lines+markers", name="path",
                             line=dict(color="black", width=3), marker=dict(size=7)))
    st.plotly_chart(fig, key="vae-interp")

# ---- Draw -------------------------------------------------------------------------------------------------
with tabs[4]:
    left, right = st.columns([1, 2])
    digit, problem = None, None
    with left:
        try:
            from streamlit_drawable_canvas import st_canvas

            cv = st_canvas(stroke_width=18, stroke_color="#ffffff", background_color="#000000", height=280,
                           width=280, drawing_mode="freedraw", return_image_data=True, key="vae-canvas")
            rgba = cv.image_data if cv is not None else None
        except Exception as e:  # the component could not load: keep the page usable, uploads still work
            rgba = None
            st.warning(f"The drawing canvas is not available here ({type(e).__name__}); upload an image instead.")
        up = st.file_uploader("... or upload an image (any size or format)", key="vae-upload",
                              help="PNG, JPEG, GIF, BMP, WebP, ...: it is converted to grey, inverted if the ink is "
                              "dark, cropped, scaled to 20 × 20 and centred as MNIST digits are.")
    try:
        if up is not None:
            digit = gdata.image_to_digit(up.getvalue())
        elif rgba is not None and np.asarray(rgba)[..., :3].max() > 50:
            digit = gdata.canvas_to_digit(rgba)
    except ValueError as e:
        problem = f"Could not use {'the file ' + up.name if up is not None else 'the drawing'}: {e}."
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
            ddims = top2
            fig = latent_map(encode_means(val)[0], val_labels, ddims, "q(z|x) of your digit on the latent map"
                             + ("" if D == 2 else f": the two most used dimensions z[{ddims[0]}], z[{ddims[1]}]"))
            e = V.ellipse(mu_d[0], lv_d[0], ddims)
            fig.add_trace(go.Scatter(x=e[:, 0], y=e[:, 1], mode="lines", name="1 σ", line=dict(color="black", width=2)))
            fig.add_trace(go.Scatter(x=[float(mu_d[0, ddims[0]])], y=[float(mu_d[0, ddims[1]])], mode="markers",
                                     name="μ(x)", marker=dict(symbol="star", size=16, color="black")))
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

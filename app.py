"""The app's script: the pages and their navigation. Served by `streamlit run serve.py` (optionally `-- --data-dir DIR`),
which runs this file; `streamlit run app.py` works too, with a page's first load probing two addresses that 404."""
import os

# One torch/OpenMP thread per server unless GENLIB_THREADS says otherwise: every session runs in a thread of this one
# process, and on a busy machine an intra-op parallel region waits for a second thread the OS has not scheduled
# (a 2-D EBM page: 3 training iterations in 25 s with 2 OpenMP threads under load, 59 with one). OpenMP reads this at
# torch's first import, which is below; setup.torch_threads sets torch's own count to the same number. serve.py sets
# both when the server starts (by a page link's first run torch may be loaded already); here for `streamlit run app.py`.
os.environ.setdefault("OMP_NUM_THREADS", os.environ.get("GENLIB_THREADS", "1"))
os.environ.setdefault("MKL_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

import streamlit as st  # noqa: E402

import pages.views  # noqa: F401,E402 - the libraries every page uses, imported once before any page runs (see there)

from pages.views import chrome, url  # noqa: E402

# Projector mode (?projector=true or the sidebar toggle) starts with the sidebar collapsed: the visual gets the width.
_projector = st.session_state.get(chrome.PROJECTOR_KEY, st.query_params.get(chrome.PROJECTOR_KEY) == "true")
# The tab's icon: an emoji becomes an inline SVG in the browser; a :material/...: icon would be fetched from a font
# host off this server on every page load.
st.set_page_config(page_title="Generative models explorer", page_icon="🧠", layout="wide",
                   initial_sidebar_state="collapsed" if _projector else "auto")
page = st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/lecture.py", title="Lecture", icon=":material/co_present:", url_path="lecture"),
    st.Page("pages/autoencoder.py", title="Autoencoder", icon=":material/compress:", url_path="autoencoder"),
    st.Page("pages/vae.py", title="Variational autoencoder", icon=":material/scatter_plot:", url_path="vae"),
    st.Page("pages/ebm.py", title="Energy-based model", icon=":material/landscape:", url_path="ebm"),
    st.Page("pages/rbm.py", title="Restricted Boltzmann machine", icon=":material/grid_on:", url_path="rbm"),
    st.Page("pages/langevin.py", title="Langevin & SGLD lab", icon=":material/blur_on:", url_path="langevin"),
])
link_slot = chrome.sidebar_tools()
from pages.views.replica import failover_notice; failover_notice()  # noqa: E402,E702 - a class replica died: say so
page.run()
chrome.copy_link(link_slot)  # after the page: the link holds what the page set in this run
url.show_notices()

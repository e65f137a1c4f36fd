"""Entry point: `streamlit run app.py` (optionally `-- --data-dir DIR`)."""
import streamlit as st

st.set_page_config(page_title="Generative models explorer", page_icon=":material/psychology:", layout="wide")
st.navigation([
    st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("pages/autoencoder.py", title="Autoencoder", icon=":material/compress:", url_path="autoencoder"),
]).run()

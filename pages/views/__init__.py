"""Streamlit views shared by the pages (not pages themselves): setup (threads, data, pretrained models, first-visit
routing), chrome (title and 'What you see'), training controls, digit input, the live view (live.py and its browser
component live.js) and the chain player. The pages stay thin; the work lives in genlib, the figures in genlib/viz.py.

Every page imports this package before its own code runs, and app.py imports it too: so the libraries below are fully
imported, under Python's import lock, before any session draws anything. Imported lazily instead, they raced: one
session's script thread was still inside `import pandas` (st.dataframe on Home) while another session's plotly checked
`sys.modules.get("pandas")` to validate a figure and got the half-initialized module ("partially initialized module
'pandas' has no attribute 'Series'" with sessions starting at once; tests/test_hostile_app.py reproduces it).
"""
import numpy  # noqa: F401
import pandas  # noqa: F401 - plotly looks it up in sys.modules without importing it
import PIL.Image  # noqa: F401 - plotly looks it up in sys.modules too
import plotly.graph_objects  # noqa: F401
import plotly.io  # noqa: F401
import torch  # noqa: F401

"""Streamlit views shared by the pages (not pages themselves): setup (threads, data, pretrained models, first-visit
routing), chrome (title and 'What you see'), training controls, digit input, the browser flipbook and the chain
player. The pages stay thin; the work lives in genlib, the figures in genlib/viz.py."""

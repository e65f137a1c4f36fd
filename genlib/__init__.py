"""genlib: small deep generative models (AE, VAE, RBM, EBM) and samplers for teaching; no Streamlit here."""
from .checkpoints import CheckpointError, load, save

__all__ = ["load", "save", "CheckpointError"]

"""genlib: small deep generative models (AE, VAE, RBM, EBM) and samplers for teaching; no Streamlit here."""
from .checkpoints import CheckpointError, save
from .models import create, load

__all__ = ["load", "create", "save", "CheckpointError"]

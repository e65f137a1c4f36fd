"""The tabs of the VAE page (pages/vae.py), one module each, and its "Try this" lessons."""

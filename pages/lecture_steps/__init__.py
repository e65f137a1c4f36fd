"""The lecture page's modules: the steps of the course's story (rbm.py, langevin.py, vae.py, listed in order in
steps.py)."""

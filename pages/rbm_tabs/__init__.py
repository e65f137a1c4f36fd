"""The tabs of the RBM page (pages/rbm.py) that are long enough for a module of their own."""

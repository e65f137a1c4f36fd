"""The tabs of the RBM page (pages/rbm.py), one module each, and its "Try this" lessons."""

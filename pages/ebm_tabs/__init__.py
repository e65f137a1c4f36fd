"""The tabs of the EBM page (pages/ebm.py), one module each, and its "Try this" lessons."""

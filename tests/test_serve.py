"""serve.py, the server's script, as a server process starts it: what it sets before any page runs."""
from __future__ import annotations

import os
import subprocess
import sys

from harness import ROOT

# A fresh interpreter, like a server process: serve.py is loaded first (as `streamlit run serve.py` does at start),
# then torch (the first page's import), then a new thread multiplies as a script thread of a live view does (one
# Gibbs step of 36 chains: [36, 500] x [500, 784]). It prints the process's thread count during the products and
# Streamlit's multipage flag.
PROBE = """
import os, sys, threading
sys.path.insert(0, os.getcwd())
import serve
import torch
from streamlit.runtime.pages_manager import PagesManager
torch.set_num_threads(1)  # what pages.views.setup.torch_threads does in the first script thread
seen = []
def script_thread():
    a, w = torch.rand(36, 500), torch.rand(500, 784)
    for _ in range(20):
        torch.addmm(torch.zeros(784), a, w)
    seen.append(len(os.listdir("/proc/self/task")))
t = threading.Thread(target=script_thread)
t.start(); t.join()
print(seen[0], PagesManager.uses_pages_directory)
"""


def test_a_new_script_thread_multiplies_on_its_own_thread_and_a_pages_link_runs_app_py_first():
    """A script thread's matrix products run on that thread alone (no second MKL/OpenMP thread spinning beside it: with
    one, the Gibbs chains cost 12.5 ms of server CPU per frame instead of 4.9), and the app counts as one that declares
    its pages (a fresh server's first link to /rbm runs app.py, not pages/rbm.py alone)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "GENLIB_THREADS")}
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    threads, flag = out.stdout.split()[-2:]
    assert int(threads) == 2, f"{threads} threads while a new thread multiplied: the main thread and it, nothing more"
    assert flag == "False"

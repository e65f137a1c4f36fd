"""The lecture's second part, energy-based models and Langevin sampling: the slow-motion Langevin and MALA steps
(views.slowmo), the Langevin lab's live ULA/MALA and SGLD views (pages/lab/), and the EBM page's replay buffer and
Energies tab (pages/ebm_tabs/) with the bundled EBM."""
from __future__ import annotations

import math
from types import SimpleNamespace

import streamlit as st
import torch

from genlib import samplers as S
from genlib import viz
from genlib.data import MNIST
from pages.ebm_tabs import energies as ebm_energies
from pages.lab import samplers, sgld
from pages.lab.common import FPS
from pages.views import chain_player, setup, slowmo

EBM = "ebm-mnist"
# ULA against MALA: the lab's "large steps bias ULA even at T = 1" (its step size 0.1 with sigma = sqrt(0.2) is
# x + 0.1 grad log p + sqrt(0.2) w: the update of the previous steps with eta = 0.2)
LAB_TARGET, LAB_CHAINS, LAB_SEED, LAB_STEP, LAB_PER_FRAME = "correlated Gaussian", 300, 0, 0.1, 5
# SGLD: the lab's "SGD finds one mode, SGLD visits both"
SGLD_SCHEDULE, SGLD_BATCH, SGLD_CHAINS, SGLD_PER_FRAME = S.StepSchedule(0.02, 1.0, 0.1), 10, 50, 10


def update(mn: MNIST) -> None:
    slowmo.langevin("lecture-ula", mala=False, target="correlated Gaussian", eta=0.1)


def mala(mn: MNIST) -> None:
    slowmo.langevin("lecture-mala", mala=True, target="correlated Gaussian", eta=0.1)


def lab_chains(name: str, key: tuple, prefix: str, what: str, build, advance, play) -> None:
    """A Langevin lab tab's chains with the lecture's fixed settings (`key`): kept in st.session_state[name], the
    Play · Step · Restart row (buttons prefix-play, ...), then play(state) draws the tab's live view.
    advance(state) moves every chain one frame."""
    state = chain_player.chain_state(name, key, build)
    state = chain_player.controls(state, prefix, what, build, lambda: advance(state), fps=FPS)
    if state is not None:
        play(state)


def ula_vs_mala(mn: MNIST) -> None:
    sigma = math.sqrt(2 * LAB_STEP)
    key = (LAB_TARGET, LAB_CHAINS, LAB_SEED, LAB_STEP, sigma)
    lab_chains("lecture_samplers", key, "lecture-s", "samplers", lambda: samplers.new_samplers(*key),
               lambda state: samplers.advance_samplers(state, LAB_PER_FRAME),
               lambda state: samplers.play_samplers(state, LAB_TARGET, LAB_PER_FRAME))


def sgld_posterior(mn: MNIST) -> None:
    lab_chains("lecture_sgld", (SGLD_SCHEDULE, SGLD_BATCH, SGLD_CHAINS), "lecture-g", "three samplers",
               lambda: sgld.new_sgld(SGLD_CHAINS, 0, SGLD_SCHEDULE, SGLD_BATCH),
               lambda state: sgld.advance_sgld(state, SGLD_PER_FRAME),
               lambda state: sgld.play_sgld(state, SGLD_PER_FRAME, SGLD_SCHEDULE))


def replay_buffer(mn: MNIST) -> None:
    model = setup.pretrained(EBM)
    buf = model.replay
    idx = torch.linspace(0, len(buf) - 1, 64).long()
    chain_player.frame(st, viz.grid((buf[idx] + 1) / 2, nrow=8), width=430,
                       caption=f"64 of the {len(buf)} chains in the replay buffer of {EBM}, as the EBM page's Train "
                       "tab shows them")


def odd_inputs(mn: MNIST) -> None:
    model = setup.pretrained(EBM)  # read-only: the Energies tab only computes energies
    ebm_energies.render({"trainer": SimpleNamespace(model=model, step_count=0)}, mn)

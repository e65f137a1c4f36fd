"""AppTest for the energy-based model page: each tab renders, training ticks, chains advance."""
import torch

from conftest import open_page
from genlib.models.ebm import EBM, EBMConfig, LangevinChain

PAGE = "pages/ebm.py"


def test_ebm_page_tabs_widgets_and_a_training_step():
    at = open_page(PAGE)
    assert at.title[0].value == "Energy-based model"
    assert [t.label for t in at.tabs] == ["Train", "Langevin chains", "Energies"]
    labels = {w.label for w in [*at.slider, *at.select_slider]}
    assert {"Step size η", "Noise σ", "Learning rate", "Langevin steps per iteration", "Chains", "Total steps",
            "Steps per frame"} <= labels
    next(s for s in at.slider if s.label == "Langevin steps per iteration").set_value(5).run()
    steps = at.session_state["ebm"]["trainer"].step_count
    at.button(key="ebm-step").click().run()
    assert not at.exception
    tr = at.session_state["ebm"]["trainer"]
    assert tr.step_count > steps and "train_e_data" in tr.history[-1]
    assert len(at.get("plotly_chart")) >= 2  # curves (train tab) and the energy histogram


def test_chain_step_button_advances_the_chain():
    at = open_page(PAGE)
    ch = at.session_state["ebm_chain"]
    assert ch.steps == [0]
    at.button(key="ebm-chain-step-btn").click().run()
    assert not at.exception
    assert at.session_state["ebm_chain"].steps == [0, 8]


def test_langevin_chain_records_frames_and_energies():
    torch.manual_seed(0)
    model = EBM(EBMConfig())
    g = torch.Generator().manual_seed(0)
    ch = LangevinChain(model.energy, torch.rand(4, 1, 28, 28, generator=g) * 2 - 1, 10, g, 10.0, 0.005, 0.03)
    ch.advance(4)
    ch.advance(4)
    ch.advance(4)  # only 2 left
    assert ch.steps == [0, 4, 8, 10] and ch.done and len(ch.frames) == len(ch.energies) == 4
    assert all(f.min() >= 0 and f.max() <= 1 for f in ch.frames) and ch.energies[-1].shape == (4,)
    ch.advance(4)
    assert ch.steps[-1] == 10

"""AppTest for the energy-based model page: each tab renders, training ticks, chains advance."""
from conftest import open_page

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


def test_chain_steps_restarts_and_feeds_the_energy_histogram():
    at = open_page(PAGE)
    ch = at.session_state["ebm_chain"]["chain"]
    assert ch.steps == [0]
    at.button(key="ebm-chain-step").click().run()
    at.button(key="ebm-chain-step").click().run()
    assert not at.exception
    ch = at.session_state["ebm_chain"]["chain"]
    assert ch.steps == [0, 8, 16] and len(ch.energies) == 3 and ch.energies[-1].shape == (16,)
    assert next(s for s in at.slider if s.label == "Frame").value == 2
    assert any("chain samples (step 16)" in str(c.proto) for c in at.get("plotly_chart"))
    at.button(key="ebm-chain-restart").click().run()
    assert at.session_state["ebm_chain"]["chain"].steps == [0] and not at.exception

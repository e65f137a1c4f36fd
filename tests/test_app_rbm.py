"""AppTest for the RBM page: each tab renders, a training tick runs, chains step, AIS runs and matches exact log Z."""
import pytest
import torch

from conftest import open_page
from genlib import checkpoints, models
from genlib.models.rbm import exact_log_z

PAGE = "pages/rbm.py"


def test_train_tab_widgets_and_a_training_step_with_exact_likelihood():
    at = open_page(PAGE, timeout=180)
    assert at.title[0].value == "Restricted Boltzmann machine"
    assert [t.label for t in at.tabs] == ["Train", "Gibbs chains", "Likelihood"]
    labels = {w.label for w in [*at.slider, *at.select_slider]}
    assert {"Hidden units", "Gibbs steps k", "Learning rate", "Batch size", "Momentum", "Weight decay", "Chains",
            "Steps per frame", "Inverse temperature β", "AIS runs", "Inverse temperatures"} <= labels
    # a small PCD model: Reset applies the method and the size, then a step trains and tracks the exact likelihood
    at.radio[0].set_value("PCD").run()
    next(s for s in at.select_slider if s.label == "Hidden units").set_value(16).run()
    at.button(key="rbm-reset").click().run()
    assert not at.exception
    model = at.session_state["rbm"]["trainer"].model
    assert model.config.n_hidden == 16 and model.config.persistent
    at.button(key="rbm-step").click().run()
    assert not at.exception
    tr = at.session_state["rbm"]["trainer"]
    rec = tr.history[-1]
    assert tr.step_count > 0 and {"train_recon", "train_free_energy", "val_recon", "val_free_energy", "val_pseudo_ll"} <= set(rec)
    assert rec["val_exact_ll"] == pytest.approx(-rec["val_free_energy"] - exact_log_z(tr.model), abs=1e-6)
    assert rec["val_exact_ll"] < 0
    assert len(at.get("plotly_chart")) >= 3  # reconstruction, free energy and likelihood curves


def test_blown_up_learning_rate_shows_a_message_and_keeps_the_model():
    at = open_page(PAGE, timeout=180)
    at.button(key="rbm-step").click().run()
    good = at.session_state["rbm"]["trainer"].model.weight.detach().clone()
    next(s for s in at.select_slider if s.label == "Learning rate").set_value(1e4).run()
    at.button(key="rbm-step").click().run()
    at.button(key="rbm-step").click().run()
    assert not at.exception
    assert any("diverged" in e.value for e in at.error)
    assert torch.isfinite(at.session_state["rbm"]["trainer"].model.weight).all()
    # rolled back: the weights are those before the bad tick (no step of lr 1e4 survived)
    w = at.session_state["rbm"]["trainer"].model.weight.detach()
    assert w.abs().max() < 5 and (w - good).abs().max() < 1.0


def test_gibbs_chain_steps_plays_and_scrubs():
    at = open_page(PAGE, timeout=180)
    ch = at.session_state["rbm_chain"]["chain"]
    assert ch.steps == [0]
    at.button(key="rbm-chain-step").click().run()
    at.button(key="rbm-chain-step").click().run()
    assert not at.exception
    ch = at.session_state["rbm_chain"]["chain"]
    assert ch.steps == [0, 1, 2] and len(ch.energies) == 3 and ch.frame(2).dtype == torch.float32
    scrub = next(s for s in at.slider if s.label == "Frame")
    scrub.set_value(1).run()
    assert not at.exception
    assert next(s for s in at.slider if s.label == "Frame").value == 1
    assert any(b.label == "Export chain as GIF" for b in at.get("download_button"))
    # Play: the full rerun after the click runs the player's fragment once, which advances one frame; Pause stops
    at.button(key="rbm-chain-play").click().run()
    assert at.session_state["rbm_chain"]["playing"] and at.session_state["rbm_chain"]["chain"].steps == [0, 1, 2, 3]
    at.button(key="rbm-chain-play").click().run()
    assert not at.session_state["rbm_chain"]["playing"] and not at.exception
    at.button(key="rbm-chain-restart").click().run()
    assert at.session_state["rbm_chain"]["chain"].steps == [0]


def test_the_temperature_slider_acts_on_the_running_chain():
    at = open_page(PAGE, timeout=180)
    next(s for s in at.slider if s.label == "Inverse temperature β").set_value(0.5).run()
    at.button(key="rbm-chain-step").click().run()
    assert not at.exception
    state = at.session_state["rbm_chain"]
    assert state["chain"].steps == [0, 1] and state["temperature"]["beta"] == 0.5


def test_likelihood_tab_ais_against_exact_on_a_small_model():
    at = open_page(PAGE, timeout=180)
    at.radio[0].set_value("PCD").run()
    next(s for s in at.select_slider if s.label == "Hidden units").set_value(16).run()
    at.button(key="rbm-reset").click().run()
    for _ in range(3):
        at.button(key="rbm-step").click().run()
    at.sidebar.selectbox[0].set_value("this session's model (Train tab)").run()
    next(s for s in at.select_slider if s.label == "Inverse temperatures").set_value(1000).run()
    at.button(key="rbm-ais").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert {"AIS log Z", "exact log Z", "AIS test log-likelihood", "exact log-likelihood"} <= set(metrics)
    assert float(metrics["AIS log Z"]) == pytest.approx(float(metrics["exact log Z"]), abs=0.2)


@pytest.mark.skipif(not checkpoints.resolve("rbm-16").exists(), reason="needs checkpoints/rbm-16.safetensors")
def test_pretrained_small_model_shows_the_exact_value():
    at = open_page(PAGE, timeout=180)
    at.sidebar.selectbox[0].set_value("rbm-16").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert "exact log Z" in metrics and "exact log-likelihood" in metrics
    model = models.load(checkpoints.resolve("rbm-16"))
    assert float(metrics["exact log Z"]) == pytest.approx(exact_log_z(model), abs=1e-3)


@pytest.mark.skipif(not (checkpoints.resolve("rbm-16").exists() and checkpoints.resolve("rbm-16-cd1").exists()),
                    reason="needs checkpoints/rbm-16 and rbm-16-cd1")
def test_ais_versus_exact_comparison_table():
    at = open_page(PAGE, timeout=180)
    next(s for s in at.select_slider if s.label == "Temperatures for the comparison").set_value(300).run()
    at.button(key="rbm-compare").click().run()
    assert not at.exception
    rows = at.session_state["rbm_compare"]
    assert [r["model"] for r in rows] == ["rbm-16-cd1 (CD-1)", "rbm-16 (PCD-1)"]
    from genlib.data import binarize_fixed, load_mnist

    mn = load_mnist(None)  # the page's data: no test split here, so the validation digits
    v = binarize_fixed(mn.val.images).reshape(len(mn.val), -1)
    for r, name in zip(rows, ["rbm-16-cd1", "rbm-16"]):
        m = models.load(checkpoints.resolve(name))
        with torch.no_grad():
            exact = -float(m.free_energy(v).mean()) - exact_log_z(m)
        assert r["exact log-likelihood"] == pytest.approx(exact, abs=0.01)
        assert abs(r["AIS log-likelihood"] - exact) < 5  # 300 temperatures: close, not exact
    assert len(at.dataframe) == 1

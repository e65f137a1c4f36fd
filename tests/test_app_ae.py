"""Streamlit AppTests for the home page and the Autoencoder page (no browser)."""
import torch

from conftest import button, open_page


def test_home_lists_data_checkpoints_and_threads():
    at = open_page()
    text = " ".join(m.value for m in at.markdown)
    assert "Autoencoder" in text and "bundled MNIST subset" in text and "thread(s)" in text
    df = at.dataframe[0].value
    row = df[df["name"] == "ae-mnist-2d"].iloc[0]
    assert row["kind"] == "ae" and row["size (MB)"] > 0 and "val_loss" in row["metrics"]



def test_autoencoder_page_widgets_and_training_steps():
    at = open_page("pages/autoencoder.py")
    assert at.title[0].value == "Autoencoder"
    assert at.slider[0].label == "Code size" and at.slider[0].value == 2
    labels = {s.label for s in at.select_slider}
    assert {"Learning rate", "Batch size"} <= labels
    assert {"Start", "Step", "Reset", "Load pretrained (2-D code)"} <= {b.label for b in at.button}
    assert all(w.help for w in [at.slider[0], *at.select_slider])  # every control explains itself
    tr = at.session_state["ae"]["trainer"]
    assert tr.step_count == 0
    button(at, "Step").click().run()
    assert not at.exception
    tr = at.session_state["ae"]["trainer"]
    assert tr.step_count > 0 and len(tr.history) == 1 and "val_loss" in tr.history[0]
    # change the learning rate between ticks: same run, new lr
    steps = tr.step_count
    next(s for s in at.select_slider if s.label == "Learning rate").set_value(3e-4).run()
    tr2 = at.session_state["ae"]["trainer"]
    assert tr2 is tr and tr2.config.lr == 3e-4 and tr2.step_count == steps
    button(at, "Step").click().run()
    assert at.session_state["ae"]["trainer"].step_count > steps and not at.exception


def test_autoencoder_rebuild_and_pretrained():
    at = open_page("pages/autoencoder.py")
    at.slider[0].set_value(8).run()
    assert any("Reset to rebuild" in i.value for i in at.info)
    button(at, "Reset").click().run()
    assert at.session_state["ae"]["trainer"].model.config.code_size == 8
    button(at, "Load pretrained (2-D code)").click().run()
    assert not at.exception
    st_ = at.session_state["ae"]
    assert st_["source"] == "ae-mnist-2d" and st_["trainer"].model.config.code_size == 2
    assert len(at.get("plotly_chart")) >= 1  # the 2-D code map is drawn


def test_diverging_lr_shows_an_error_and_keeps_the_model():
    at = open_page("pages/autoencoder.py")
    button(at, "Step").click().run()
    tr = at.session_state["ae"]["trainer"]
    next(s for s in at.select_slider if s.label == "Learning rate").set_value(1e4).run()
    for _ in range(6):  # a loaded machine fits fewer steps in a tick: the blow-up may take a few ticks
        before = [p.clone() for p in tr.model.parameters()]
        button(at, "Step").click().run()
        assert not at.exception
        if any("diverged" in e.value for e in at.error):
            break
    assert any("diverged" in e.value for e in at.error)
    # the tick that blew up was undone: the weights are those from before it, all finite
    assert all(torch.equal(a, b) for a, b in zip(before, tr.model.parameters()))
    assert all(torch.isfinite(p).all() for p in tr.model.parameters())


def test_live_tick_stays_within_its_budget_and_validates(mnist):
    from genlib import models
    from pages.views.training import new_trainer

    tr = new_trainer(models.create("ae"), mnist, 1e-3, 128)
    rec = tr.tick(mnist.val.images, budget=0.05)
    assert rec["step"] >= 1 and "val_loss" in rec and rec["tick_ms"] > 0

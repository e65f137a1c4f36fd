"""Streamlit AppTests for the home page and the Autoencoder page (no browser)."""
import torch

from conftest import button, open_page
from test_app_langevin import chart_lines, charts


def test_home_lists_data_checkpoints_and_threads():
    at = open_page()
    text = " ".join(m.value for m in at.markdown)
    assert "Start here" in " ".join(h.value for h in at.subheader)
    assert "bundled MNIST subset" in text and "thread(s)" in text
    links = {(link.proto.page, link.proto.label) for link in at.get("page_link")}
    for page in ("lecture", "autoencoder", "vae", "ebm", "rbm", "langevin"):  # every page is linked from the page list
        assert any(p.endswith(f"{page}.py") or p == page for p, _ in links), (page, links)
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
    [curve] = charts(at)  # drawn by the browser (views.live.chart): the trainer's history, on a log axis
    assert (curve["title"], curve["ylabel"], curve["log_y"]) == ("Reconstruction error", "MSE per pixel", True)
    assert chart_lines(curve) == {"train": [(r["step"], r["train_loss"]) for r in tr.history],
                                  "validation": [(r["step"], r["val_loss"]) for r in tr.history]}
    # change the learning rate between ticks: same run, new lr
    steps = tr.step_count
    next(s for s in at.select_slider if s.label == "Learning rate").set_value(3e-4).run()
    tr2 = at.session_state["ae"]["trainer"]
    assert tr2 is tr and tr2.config.lr == 3e-4 and tr2.step_count == steps
    button(at, "Step").click().run()
    assert at.session_state["ae"]["trainer"].step_count > steps and not at.exception


def test_autoencoder_rebuild_and_pretrained():
    at = open_page("pages/autoencoder.py")
    button(at, "Step").click().run()
    old = at.session_state["ae"]["trainer"].history
    at.slider[0].set_value(8).run()  # a new code size is a new run at once
    tr = at.session_state["ae"]["trainer"]
    assert tr.model.config.code_size == 8 and tr.step_count == 0
    button(at, "Step").click().run()  # the old run's validation error stays beside the new run's, grey and dotted
    prev = charts(at)[0]["series"][2]
    assert (prev["name"], prev["color"], prev["dash"]) == ("previous run (code size 2)", "#999999", "dot")
    assert chart_lines(charts(at)[0])["previous run (code size 2)"] == [(r["step"], r["val_loss"]) for r in old]
    button(at, "Load pretrained (2-D code)").click().run()
    assert not at.exception
    st_ = at.session_state["ae"]
    assert st_["source"] == "ae-mnist-2d" and st_["trainer"].model.config.code_size == 2
    assert at.slider[0].value == 2  # the sidebar follows the loaded model
    assert len(at.get("plotly_chart")) >= 1  # the 2-D code map is drawn


def _diverge(at):
    next(s for s in at.select_slider if s.label == "Learning rate").set_value(1e4).run()
    for _ in range(6):  # a loaded machine fits fewer steps in a tick: the blow-up may take a few ticks
        button(at, "Step").click().run()
        if any("diverged" in e.value for e in at.error):
            return
    raise AssertionError("lr 1e4 did not diverge")


def test_the_divergence_box_clears_on_any_rebuild():
    at = open_page("pages/autoencoder.py")
    _diverge(at)
    at.slider[0].set_value(8).run()  # the box once stayed after a new code size, until Reset
    assert not any("diverged" in e.value for e in at.error) and not at.exception
    assert at.session_state["ae"]["trainer"].message is None
    _diverge(at)
    at.number_input[0].set_value(3).run()  # a new seed: a new run too
    assert not any("diverged" in e.value for e in at.error)
    _diverge(at)
    button(at, "Load pretrained (2-D code)").click().run()
    assert not any("diverged" in e.value for e in at.error)


def test_autoencoder_lessons_set_the_controls():
    at = open_page("pages/autoencoder.py")
    button(at, "Step").click().run()
    at.button(key="ae-lesson-0").click().run()  # code size 32, training started, the 2-D run kept as a faded curve
    st_ = at.session_state["ae"]
    assert at.slider[0].value == 32 and st_["trainer"].model.config.code_size == 32 and st_["running"]
    assert st_["previous"][0] == "previous run (code size 2)" and not at.exception
    at.session_state["ae"]["running"] = False
    at.button(key="ae-lesson-1").click().run()  # lr 1e4: it diverges and says so
    for _ in range(5):
        if any("diverged" in e.value for e in at.error):
            break
        button(at, "Step").click().run()
    assert any("diverged" in e.value for e in at.error)
    at.button(key="ae-lesson-2").click().run()  # the pretrained 2-D map
    assert at.session_state["ae"]["source"] == "ae-mnist-2d" and at.slider[0].value == 2
    assert not any("diverged" in e.value for e in at.error) and not at.exception


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

"""AppTest for the energy-based model page: each tab renders, training ticks (an iteration spread over ticks),
chains advance and, at their last step, replay; the energies plot and its lessons."""
import base64
import json

import numpy as np

from conftest import open_page
from test_app_langevin import chart_lines, charts

PAGE = "pages/ebm.py"


def open_tab(at, name: str):
    """Only the open tab runs (lazy tabs): open `name` as a click would (the tabs' key holds the open label)."""
    at.session_state["ebm-tab"] = name
    return at.run()


def test_ebm_page_tabs_widgets_and_a_training_step():
    at = open_page(PAGE)
    assert at.title[0].value == "Energy-based model"
    assert [t.label for t in at.tabs] == ["Train", "Langevin chains", "Energies"]
    labels = {w.label for w in [*at.slider, *at.select_slider]}
    assert {"Step size η", "Noise σ", "Learning rate", "Langevin steps per iteration"} <= labels
    assert "ebm_chain" not in at.session_state  # the closed tabs did not run
    assert any("per 100 iterations on this machine" in c.value for c in at.caption)  # the time estimate
    next(s for s in at.slider if s.label == "Langevin steps per iteration").set_value(5).run()
    steps = at.session_state["ebm"]["trainer"].step_count
    at.button(key="ebm-step").click().run()
    assert not at.exception
    tr = at.session_state["ebm"]["trainer"]
    assert tr.step_count == steps + 1 and "train_e_data" in tr.history[-1]  # Step: one whole iteration
    assert tr.model.config.steps == 5
    [curves] = charts(at)  # drawn by the browser (views.live.chart): the trainer's history
    assert curves["title"] == "Energies and loss (training batches)" and curves["ylabel"] == "energy"
    assert chart_lines(curves) == {name: [(r["step"], r[k]) for r in tr.history] for name, k in (
        ("E(data)", "train_e_data"), ("E(samples)", "train_e_sample"), ("loss", "train_loss"))}


def test_a_live_tick_shorter_than_an_iteration_shows_its_progress():
    at = open_page(PAGE)
    next(s for s in at.slider if s.label == "Langevin steps per iteration").set_value(100)
    next(s for s in at.select_slider if s.label == "Batch size").set_value(128).run()
    state = at.session_state["ebm"]
    steps = state["trainer"].step_count
    state["running"] = True  # as Start does; the live fragment ticks once per run in AppTest
    at.run()
    assert not at.exception
    live = at.session_state["ebm"]["live"]
    # 100 Langevin steps on 128 images take longer than one tick (0.25 s) here: the tick returned with the
    # iteration in progress, no update made, and the panel says where it is
    assert live.phase == "train" and 0 < live.done < 100
    assert at.session_state["ebm"]["trainer"].step_count == steps
    texts = " ".join(str(p.proto) for p in at.get("progress"))
    assert f"Langevin step {live.done} of 100" in texts
    assert not any("Press Start" in i.value for i in at.info)
    # pausing rewinds to the last finished iteration: the download is the run shown
    at.session_state["ebm"]["running"] = False
    at.run()
    assert at.session_state["ebm"]["live"].phase == "idle" and not at.exception


def live_data(at) -> dict:
    """What the chains' live view (pages/views/live.py) sent to the browser in the last run."""
    views = [e for e in at.get("bidi_component") if e.proto.component_name == "genlib_live"
             and "chart" not in json.loads(e.proto.json)]  # not a line chart (views.live.chart)
    assert len(views) == 1
    return json.loads(views[0].proto.json)


def test_chain_steps_restarts_and_feeds_the_energy_histogram():
    at = open_page(PAGE)
    open_tab(at, "Langevin chains")
    labels = {w.label for w in [*at.slider, *at.select_slider]}
    assert {"Chains", "Total steps", "Steps per frame"} <= labels
    ch = at.session_state["ebm_chain"]["chain"]
    assert ch.steps == [0]
    at.button(key="ebm-chain-step").click().run()
    at.button(key="ebm-chain-step").click().run()
    assert not at.exception
    ch = at.session_state["ebm_chain"]["chain"]
    assert ch.steps == [0, 8, 16] and len(ch.energies) == 3 and ch.energies[-1].shape == (16,)
    data = live_data(at)  # the browser holds every frame for its scrubber; the newest is the chains' state
    last = data["frames"][-1]
    assert data["count"] == 3 and last["i"] == 2 and last["caption"].startswith("step 16 of 256")
    images = np.frombuffer(base64.b64decode(last["parts"]["x"]), np.uint8)
    assert np.abs(images / 255 - (ch.frame(2).numpy().ravel() + 1) / 2).max() < 0.01
    energies = np.frombuffer(base64.b64decode(last["parts"]["energy"]), np.float32)
    assert np.allclose(energies, ch.energies[2].numpy(), rtol=1e-5)
    at.button(key="ebm-chain-restart").click().run()
    assert at.session_state["ebm_chain"]["chain"].steps == [0] and not at.exception
    at.button(key="ebm-chain-step").click().run()
    open_tab(at, "Energies")
    assert not at.exception
    assert any("chain samples (step 8)" in str(c.proto) for c in at.get("plotly_chart"))
    assert any("of the rotated digits" in m.value for m in at.markdown)


def test_a_finished_chain_says_so_and_replays_from_the_same_seed():
    at = open_page(PAGE)
    at.session_state["ebm-tab"] = "Langevin chains"
    at.session_state["ebm-total"], at.session_state["ebm-per"] = 16, 8
    at.run()
    for _ in range(3):  # the third Step is past the end: nothing more to compute
        at.button(key="ebm-chain-step").click().run()
    assert not at.exception
    first = at.session_state["ebm_chain"]["chain"]
    assert first.steps == [0, 8, 16] and first.full
    data = live_data(at)
    assert data["mode"] == "finished" and data["status"].startswith("Finished: the chains reached their last step")
    assert at.button(key="ebm-chain-play").label == "Replay"
    at.button(key="ebm-chain-play").click().run()  # new chains from the same seed, playing from step 0
    assert not at.exception
    again = at.session_state["ebm_chain"]["chain"]
    assert again is not first and again.steps == [0, 8] and at.session_state["ebm_chain"]["playing"]
    assert (again.frame(1) == first.frame(1)).all()  # the same seed: the same chains
    assert at.button(key="ebm-chain-play").label == "Pause" and live_data(at)["frames"][-1]["step"] == 8


def test_lessons_set_the_controls_and_start():
    at = open_page(PAGE)
    at.button(key="ebm-lesson-0").click().run()  # short-run chains from noise: the chains tab, playing
    assert not at.exception
    assert at.session_state["ebm-tab"] == "Langevin chains"
    assert next(w for w in at.selectbox if w.label == "Start from").value == "uniform noise"
    assert next(s for s in at.slider if s.label == "Total steps").value == 64
    # playing, and the button drawn in the same run says so
    assert at.session_state["ebm_chain"]["playing"] and at.button(key="ebm-chain-play").label == "Pause"
    at.button(key="ebm-lesson-1").click().run()  # the replay buffer
    assert next(w for w in at.selectbox if w.label == "Start from").value == "replay buffer"
    assert at.session_state["ebm_chain"]["playing"] and not at.exception
    assert at.button(key="ebm-chain-play").label == "Pause" and live_data(at)["mode"] == "playing"
    at.button(key="ebm-lesson-2").click().run()  # energies
    assert at.session_state["ebm-tab"] == "Energies" and not at.exception
    assert len(at.get("plotly_chart")) == 1
    at.button(key="ebm-lesson-3").click().run()  # train live with K = 20
    assert at.session_state["ebm-tab"] == "Train" and at.session_state["ebm"]["running"]
    assert at.session_state["ebm"]["trainer"].model.config.steps == 20 and not at.exception

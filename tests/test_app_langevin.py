"""AppTest for the Langevin & SGLD lab: each tab renders, steps advance the chains / training, bad settings show
a message instead of a traceback, and exploding chains are stopped with a warning while the others go on."""
import base64
import io
import json
import math

import torch
from PIL import Image

import conftest


def open_page(tab: str | None = None):
    """conftest.open_page on the lab, then `tab` selected (the tabs are lazy: only the open one runs)."""
    at = conftest.open_page("pages/langevin.py", timeout=120)
    if tab is not None:
        at.session_state["lv-tab"] = tab
        at.run()
        assert not at.exception, at.exception
    return at


def widget(at, kind, key):
    return next(w for w in getattr(at, kind) if w.key == key)


def test_page_has_three_tabs_and_the_math():
    at = open_page()
    assert at.title[0].value == "Langevin & SGLD lab"
    assert [t.label for t in at.tabs] == ["Samplers", "SGLD", "2-D EBM"]
    assert at.expander[0].label == "What you see" and len(at.latex) >= 4
    assert not at.error
    # lazy tabs: the open tab's controls only; every control of every tab has help text
    assert at.button(key="lv-s-play") and not any(b.key.startswith("lv-g-") for b in at.button)
    for tab in ("Samplers", "SGLD", "2-D EBM"):
        at.session_state["lv-tab"] = tab
        at.run()
        assert not at.exception
        for w in [*at.slider, *at.select_slider, *at.number_input, *at.selectbox, *at.radio, *at.button]:
            assert w.help, (tab, w.label)


def test_samplers_tab_steps_ula_and_mala_from_the_same_start():
    at = open_page()
    widget(at, "number_input", "lv-chains").set_value(200).run()
    st0 = at.session_state["lv_samplers"]
    assert st0["ULA"].steps == [0] and torch.equal(st0["ULA"].frames[0], st0["MALA"].frames[0])
    for _ in range(3):
        at.button(key="lv-s-step").click().run()
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert s["ULA"].steps == [0, 5, 10, 15] and s["MALA"].steps == [0, 5, 10, 15]
    assert 0 < s["MALA"].acceptance[-1] <= 1 and s["ULA"].dead == 0
    assert any("step 15" in c.value for c in at.caption)
    metrics = {m.label: m.value for m in at.metric}
    assert "acceptance" in metrics and metrics["acceptance"].endswith("%")
    assert "ESS (x₁)" in metrics and "KL to exact" in metrics
    assert len(at.get("plotly_chart")) == 3  # ULA, MALA, marginals (the other tabs do not run)
    # the effective temperature of the textbook noise is 1, of the course's noise 1/2
    assert any("T = σ²/(2η) = **1**" in m.value for m in at.markdown)
    widget(at, "selectbox", "lv-noise-mode").set_value("σ = √η  (course, T = ½)").run()
    assert any("T = σ²/(2η) = **0.5**" in m.value for m in at.markdown)
    assert at.session_state["lv_samplers"]["ULA"].steps == [0]  # new settings, new chains


def test_samplers_tab_refuses_impossible_settings_with_a_message():
    at = open_page()
    widget(at, "number_input", "lv-chains").set_value(0).run()
    assert not at.exception
    assert any("number of chains must be at least 1" in e.value for e in at.error)
    widget(at, "number_input", "lv-chains").set_value(50).run()
    assert not at.error
    widget(at, "selectbox", "lv-noise-mode").set_value("custom σ").run()
    # σ is bounded by its control (0 to SIGMA_MAX): a value outside, as a crafted request could send, is not taken
    sigma = widget(at, "number_input", "lv-sigma")
    assert (sigma.min, sigma.max) == (0.0, 10.0) and "from 0" in sigma.help
    sigma.set_value(-0.5).run()
    assert not at.exception and widget(at, "number_input", "lv-sigma").value == 0.3
    assert at.session_state["lv_samplers"]["key"][-1] == 0.3 and not at.error


def test_a_huge_step_stops_ula_chains_with_a_warning_and_mala_goes_on():
    at = open_page()
    widget(at, "selectbox", "lv-target").set_value("correlated Gaussian").run()
    widget(at, "select_slider", "lv-eta").set_value(1.0).run()  # > 2 / 10: unstable along the narrow axis
    for _ in range(4):
        at.button(key="lv-s-step").click().run()
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert s["ULA"].dead == 300
    assert any("sent to infinity" in w.value for w in at.warning)
    assert s["MALA"].dead == 0 and bool(torch.isfinite(s["MALA"].frames[-1]).all())
    # the page keeps working: a smaller step gives live chains again
    widget(at, "select_slider", "lv-eta").set_value(0.05).run()
    at.button(key="lv-s-step").click().run()
    assert not at.exception and at.session_state["lv_samplers"]["ULA"].dead == 0
    assert not any("sent to infinity" in w.value for w in at.warning)


def test_sgld_tab_runs_sgd_sgld_and_full_batch_langevin():
    at = open_page("SGLD")
    widget(at, "number_input", "lv-g-chains").set_value(20).run()
    for _ in range(3):
        at.button(key="lv-g-step").click().run()
    assert not at.exception
    g = at.session_state["lv_sgld"]
    for name in ("SGD", "SGLD", "full-batch Langevin"):
        assert g[name].steps == [0, 10, 20, 30] and g[name].frames[-1].shape == (20, 2)
    # the first steps follow the schedule a (b + t)^-gamma with the defaults a = 0.02, b = 1, gamma = 0.1
    assert math.isclose(g["SGLD"].step_sizes[1], 0.02 * (1 + 9) ** -0.1)
    # SGD moves without noise: same start, its chains differ from SGLD's
    assert not torch.equal(g["SGD"].frames[-1], g["SGLD"].frames[-1])
    assert len(at.get("plotly_chart")) == 5  # three chain views, the schedule, the traces
    assert any("step 30" in c.value for c in at.caption)


def test_sgld_tab_refuses_a_bad_schedule_and_warns_about_exploding_chains():
    at = open_page("SGLD")
    widget(at, "number_input", "lv-g-chains").set_value(0).run()
    assert not at.exception and any("number of chains must be at least 1" in e.value for e in at.error)
    widget(at, "number_input", "lv-g-chains").set_value(10).run()
    widget(at, "select_slider", "lv-g-a").set_value(2.0).run()
    widget(at, "slider", "lv-g-gamma").set_value(0.0).run()
    for _ in range(3):
        at.button(key="lv-g-step").click().run()
    assert not at.exception
    assert any("sent to infinity" in w.value for w in at.warning)


def test_ebm_tab_trains_and_bounds_the_noise():
    at = open_page("2-D EBM")
    trainer = at.session_state["lv_ebm"]["trainer"]
    assert trainer.history == [] and trainer.model.negatives is None
    assert any("Press Start or Step" in i.value for i in at.info)
    at.button(key="lv-ebm-step").click().run()
    assert not at.exception
    trainer = at.session_state["lv_ebm"]["trainer"]
    assert trainer.step_count >= 1 and trainer.model.negatives.shape == (128, 2)
    assert "train_cd" in trainer.history[-1] and any(f"iteration {trainer.step_count}" in c.value for c in at.caption)
    assert len(at.get("plotly_chart")) == 2  # the energy map and the loss curves
    sigma = widget(at, "number_input", "lv-e-sigma")  # bounded by its control: -1 is not taken
    assert (sigma.min, sigma.max) == (0.0, 10.0)
    sigma.set_value(-1.0).run()
    assert not at.exception and widget(at, "number_input", "lv-e-sigma").value == 0.2 and not at.error


def test_ebm_tab_rolls_back_a_diverging_step_and_keeps_working():
    at = open_page("2-D EBM")
    widget(at, "select_slider", "lv-e-lr").set_value(1e4).run()
    for _ in range(2):  # the second Adam step at this rate sends the energies to infinity
        at.button(key="lv-ebm-step").click().run()
    assert not at.exception
    state = at.session_state["lv_ebm"]
    trainer = state["trainer"]
    assert any("Training diverged" in e.value and "restored the last good state" in e.value for e in at.error)
    assert not state["running"] and all(bool(p.isfinite().all()) for p in trainer.model.parameters())
    assert (trainer.history[-1]["step"] if trainer.history else 0) == trainer.step_count  # undone steps: no record
    # the page keeps working: Reset with a sensible rate starts from fresh weights, trains, and the message goes
    widget(at, "select_slider", "lv-e-lr").set_value(1e-3).run()
    at.button(key="lv-ebm-reset").click().run()
    at.button(key="lv-ebm-step").click().run()
    assert not at.exception and not at.error
    trainer = at.session_state["lv_ebm"]["trainer"]
    assert trainer.step_count >= 1 and trainer.config.lr == 1e-3 and trainer.message is None


def flipbook_data(at) -> dict | None:
    """The data of the page's flipbook (the browser-side player of the animation), or None if none is shown."""
    books = [e for e in at.get("bidi_component") if e.proto.component_name == "genlib_flipbook"]
    assert len(books) <= 1
    return json.loads(books[0].proto.json) if books else None


def test_playing_sends_a_batch_of_frames_to_the_flipbook_and_pause_brings_back_the_charts():
    at = open_page()
    at.button(key="lv-s-play").click().run()  # one run computes a batch; the browser asks for the next ones
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert s["playing"] and s["ULA"].steps == [0, 5, 10, 15, 20, 25, 30] and s["MALA"].steps == s["ULA"].steps
    data = flipbook_data(at)
    assert data["first"] == 1 and len(data["frames"]) == len(data["captions"]) == 6 and data["fps"] >= 10
    assert not at.get("plotly_chart") and not at.get("metric")  # one element per batch while playing
    assert data["captions"][-1].startswith("step 30 · frame 6 of") and "MALA acceptance" in data["captions"][-1]
    assert "KL to exact" in data["captions"][-1] and "ESS (x₁)" in data["head"] and "Pause for" in data["head"]
    # each frame is one JPEG: ULA and MALA side by side
    img = Image.open(io.BytesIO(base64.b64decode(data["frames"][0].split(",", 1)[1])))
    assert img.format == "JPEG" and img.width == data["width"] == 2 * 360 + 12
    at.button(key="lv-s-play").click().run()  # pause
    assert not at.exception and not at.session_state["lv_samplers"]["playing"]
    assert flipbook_data(at) is None and len(at.get("plotly_chart")) == 3
    assert any("step 30 · frame 6 of 6" in c.value for c in at.caption)
    assert at.slider(key="lv-s-scrub-6").value == 6


def test_playing_stops_at_the_frame_limit():
    at = open_page()
    for name in ("ULA", "MALA"):
        at.session_state["lv_samplers"][name].max_frames = 4
    at.button(key="lv-s-play").click().run()
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert not s["playing"] and len(s["ULA"].frames) == 4 and flipbook_data(at) is None
    assert any("reached the frame limit" in c.value for c in at.caption)


def test_sgld_tab_plays_three_samplers_in_one_flipbook():
    at = open_page("SGLD")
    widget(at, "number_input", "lv-g-chains").set_value(20).run()
    at.button(key="lv-g-play").click().run()
    assert not at.exception
    data = flipbook_data(at)
    assert at.session_state["lv_sgld"]["SGLD"].steps == [0, 10, 20, 30, 40, 50, 60] and len(data["frames"]) == 6
    assert data["captions"][0].startswith("step 10 · frame 1 of") and "share in mode θ₂ > 0" in data["captions"][0]
    assert not at.get("plotly_chart")
    at.button(key="lv-g-play").click().run()  # pause: charts, schedule and traces again
    assert not at.exception and flipbook_data(at) is None and len(at.get("plotly_chart")) == 5

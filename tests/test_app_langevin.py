"""AppTest for the Langevin & SGLD lab: each tab renders, steps advance the chains / training, bad settings show
a message instead of a traceback, and exploding chains are stopped with a warning while the others go on.

The Samplers and SGLD tabs play through one live view (pages/views/live.py): the browser component draws the
picture, so an AppTest reads what the server sent it (`live`: the still parts once in a scene, per frame the chains'
positions as float32 and the caption) and sends the browser's events itself (`send_event`)."""
import base64
import json
import math

import numpy as np
import torch
from streamlit.runtime.state.session_state import STREAMLIT_INTERNAL_KEY_PREFIX

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


def _live_element(at):
    views = [e for e in at.get("bidi_component") if e.proto.component_name == "genlib_live"
             and "chart" not in json.loads(e.proto.json)]  # the same component draws the line charts (live.chart)
    assert len(views) <= 1
    return views[0] if views else None


def charts(at) -> list[dict]:
    """The line charts (views.live.chart) the page sent the browser in the last run, in page order: {"title",
    "xlabel", "ylabel", "log_y", "height", "projector", "series": [{"name", "x", "y", "color", "dash", ...}]}."""
    return [d["chart"] for e in at.get("bidi_component") if e.proto.component_name == "genlib_live"
            and "chart" in (d := json.loads(e.proto.json))]


def chart_lines(chart: dict) -> dict[str, list[tuple]]:
    """A chart's series as {name: [(x, y), ...]}."""
    return {s["name"]: list(zip(s["x"], s["y"])) for s in chart["series"]}


def live(at) -> dict | None:
    """The data the page's live view (views.live) sent the browser in the last run: mode, status, head, fps, the
    scene (the still parts, once per run), the new frames [{i, step, caption, parts}], count (frames held); None if
    the page shows no live view."""
    e = _live_element(at)
    return json.loads(e.proto.json) if e is not None else None


def send_event(at, what: str):
    """Run the app as after the live view's browser side sent the event `what` ("more": the next batch, "idle",
    "hidden", "visible", "resend"), the way the browser sends it: the component's trigger value {"what", "n"}."""
    e = _live_element(at)
    states = at._tree.get_widget_states()  # the widgets' values as the next at.run() sends them
    ws = states.widgets.add()
    ws.id = f"{STREAMLIT_INTERNAL_KEY_PREFIX}_{e.proto.id}__events"  # CCv2's trigger aggregator of the component
    ws.json_trigger_value = json.dumps([{"event": "event", "value": {"what": what, "n": 1}}])
    return at._run(states)


def positions(b64: str) -> np.ndarray:
    """A "points" part of a frame: the chains' positions [n, 2] (float32, dead chains NaN)."""
    return np.frombuffer(base64.b64decode(b64), dtype=np.float32).reshape(-1, 2)


def captions(at) -> list[str]:
    return [f["caption"] for f in live(at)["frames"]]


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
    data = live(at)  # a Step sends its new frame to the browser, which shows it: the caption says its step
    assert data["mode"] == "paused" and data["count"] == 4 and [f["i"] for f in data["frames"]] == [3]
    assert data["frames"][-1]["caption"].startswith("step 15 · frame 3 ") and data["frames"][-1]["step"] == 15
    metrics = {m.label: m.value for m in at.metric}
    assert "acceptance" in metrics and metrics["acceptance"].endswith("%")
    assert "ESS (x₁)" in metrics and "KL to exact" in metrics
    assert not at.get("plotly_chart")  # the picture is the browser's: ULA, MALA and the marginals on its canvases
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
    assert len(at.get("plotly_chart")) == 2  # the schedule and the traces; the three chain panels are the browser's
    frame = live(at)["frames"][-1]
    assert frame["caption"].startswith("step 30 · frame 3 ") and set(frame["parts"]) == {"SGD", "SGLD", "full-batch Langevin"}
    assert np.array_equal(positions(frame["parts"]["SGD"]), g["SGD"].frames[-1].numpy().astype(np.float32))


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
    assert len(at.get("plotly_chart")) == 1  # the energy map; the loss curves are drawn by the browser:
    [loss] = charts(at)
    assert loss["title"] == "loss E_data − E_neg (mean per tick)" and loss["xlabel"] == "iteration"
    assert chart_lines(loss) == {name: [(r["step"], r[key]) for r in trainer.history] for name, key in (
        ("E_data − E_neg", "train_cd"), ("E(data)", "train_e_data"), ("E(negatives)", "train_e_neg"))}
    sigma = widget(at, "number_input", "lv-e-sigma")  # bounded by its control: -1 is not taken
    assert (sigma.min, sigma.max) == (0.0, 10.0)
    sigma.set_value(-1.0).run()
    assert not at.exception and widget(at, "number_input", "lv-e-sigma").value == 0.2 and not at.error


def test_ebm_tab_rolls_back_a_diverging_step_and_keeps_working():
    at = open_page("2-D EBM")
    widget(at, "select_slider", "lv-e-lr").set_value(1e4).run()
    for _ in range(10):  # an Adam step or two at this rate sends the energies to infinity (a Step is a time-budgeted
        at.button(key="lv-ebm-step").click().run()  # tick: on a busy machine it may hold fewer iterations)
        if at.error:
            break
    assert not at.exception
    state = at.session_state["lv_ebm"]
    trainer = state["trainer"]
    assert any("Training diverged" in e.value and "restored the last good state" in e.value for e in at.error), [e.value for e in at.error]
    assert not state["running"] and all(bool(p.isfinite().all()) for p in trainer.model.parameters())
    assert (trainer.history[-1]["step"] if trainer.history else 0) == trainer.step_count  # undone steps: no record
    # the page keeps working: Reset with a sensible rate starts from fresh weights, trains, and the message goes
    widget(at, "select_slider", "lv-e-lr").set_value(1e-3).run()
    at.button(key="lv-ebm-reset").click().run()
    at.button(key="lv-ebm-step").click().run()
    assert not at.exception and not at.error
    trainer = at.session_state["lv_ebm"]["trainer"]
    assert trainer.step_count >= 1 and trainer.config.lr == 1e-3 and trainer.message is None


def test_playing_sends_a_batch_of_frames_as_data_and_pause_brings_back_the_metrics():
    from pages.lab import samplers
    from pages.lab.common import BATCH, FPS, FRAME_WIDTH, GAP, target_and_grids

    at = open_page()
    scene = live(at)["scene"]  # the still parts, sent once per run: ULA and MALA side by side, the marginals under them
    (ula_panel, mala_panel), (marginals,) = scene["rows"]
    assert [p["kind"] for p in (ula_panel, mala_panel, marginals)] == ["points", "points", "marginals"]
    assert ula_panel["width"] + GAP + mala_panel["width"] <= FRAME_WIDTH == marginals["width"]
    assert ula_panel["height"] == 380 and marginals["height"] == 260 and marginals["of"] == ["ULA", "MALA"]
    assert ula_panel["bg"].startswith("data:image/png;base64,")  # the exact density, once

    at.button(key="lv-s-play").click().run()  # one run computes a batch; the browser asks for the next ones
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert s["playing"] and s["ULA"].steps == list(range(0, 5 * BATCH + 1, 5)) and s["MALA"].steps == s["ULA"].steps
    data = live(at)
    assert data["mode"] == "playing" and data["play"] and data["fps"] == FPS >= 24 and data["count"] == BATCH + 1
    assert [f["i"] for f in data["frames"]] == list(range(1, BATCH + 1))  # the new frames only, numbered
    assert "scene" not in data  # the still parts went with the first run
    assert [f["step"] for f in data["frames"]] == s["ULA"].steps[1:]
    # each frame is the chains' positions (float32), exactly the recorded ones
    for f in (data["frames"][0], data["frames"][-1]):
        for name in ("ULA", "MALA"):
            assert np.array_equal(positions(f["parts"][name]), s[name].frames[f["i"]].numpy().astype(np.float32))
    assert not at.get("plotly_chart") and not at.get("metric")  # playing: the picture only
    last = data["frames"][-1]["caption"]
    assert last.startswith(f"step {5 * BATCH} · frame {BATCH} (the last") and "MALA acceptance" in last
    assert "KL to exact" in last and "ESS (x₁)" in data["head"] and "Pause for" in data["head"]
    assert data["status"].startswith("Playing")
    send_event(at, "more")  # the browser asks for the next batch while it plays this one
    data = live(at)
    assert [f["i"] for f in data["frames"]] == list(range(BATCH + 1, 2 * BATCH + 1)) and data["play"]

    at.button(key="lv-s-play").click().run()  # pause
    assert not at.exception and not at.session_state["lv_samplers"]["playing"]
    paused = live(at)
    assert paused["mode"] == "paused" and paused["frames"] == [] and paused["count"] == 2 * BATCH + 1
    assert paused["status"].startswith("Paused: press Play or Step") and "scrub" in paused["status"]
    metrics = {m.label: m.value for m in at.metric}
    assert {"dead chains", "acceptance", "ESS (x₁)", "KL to exact"} <= set(metrics)
    # the same metrics line as the frame played (the browser keeps it for the scrubber), and the same head line
    # but for its last sentence
    fine = target_and_grids(s["key"][0])[1]
    assert samplers.metrics_line(s, fine, BATCH) == last
    assert paused["head"].split(". Paused")[0] == data["head"].split(". Pause for")[0]


def test_playing_runs_on_past_the_frame_window():
    """The chains run on past the frame window (MAX_FRAMES, here 20): the oldest frames go and the frames keep their
    numbers, so the browser, which keeps the same window (`keep`), plays the new frames after the ones it has."""
    from genlib.limits import MAX_FRAMES
    from pages.lab.common import BATCH

    at = open_page()
    for name in ("ULA", "MALA"):
        at.session_state["lv_samplers"][name].max_frames = 20
    at.button(key="lv-s-play").click().run()
    assert live(at)["keep"] == MAX_FRAMES and live(at)["count"] == BATCH + 1
    send_event(at, "more")
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert s["playing"] and len(s["ULA"].frames) == 20 and s["ULA"].dropped == 2 * BATCH + 1 - 20
    data = live(at)
    assert data["count"] == 20 and data["play"] and data["mode"] == "playing"
    assert [f["i"] for f in data["frames"]] == list(range(BATCH + 1, 2 * BATCH + 1))  # after the first batch's
    assert [f["step"] for f in data["frames"]] == s["ULA"].steps[-BATCH:]


def test_sgld_tab_plays_three_samplers_in_one_view():
    at = open_page("SGLD")
    widget(at, "number_input", "lv-g-chains").set_value(20).run()
    assert [p["title"] for p in live(at)["scene"]["rows"][0]] == ["SGD", "SGLD", "full-batch Langevin"]
    assert len(live(at)["scene"]["rows"]) == 1 and live(at)["scene"]["rows"][0][0]["labels"] == ["θ₁", "θ₂"]
    at.button(key="lv-g-play").click().run()
    assert not at.exception
    from pages.lab.common import BATCH

    data = live(at)
    assert at.session_state["lv_sgld"]["SGLD"].steps == list(range(0, 10 * BATCH + 1, 10))
    assert len(data["frames"]) == BATCH and data["mode"] == "playing"
    first = data["frames"][0]["caption"]
    assert first.startswith("step 10 · frame 1 (the last") and "share in mode θ₂ > 0" in first
    assert not at.get("plotly_chart")
    at.button(key="lv-g-play").click().run()  # pause: metrics, schedule and traces again
    assert not at.exception and live(at)["mode"] == "paused" and len(at.get("plotly_chart")) == 2
    assert any(m.label == "share in mode θ₂ > 0" for m in at.metric)


def test_idle_or_hidden_browser_pauses_with_resume_and_says_why():
    """The browser stops asking when nobody interacted for GENLIB_IDLE_S seconds ("idle") or the tab is hidden
    ("hidden") and tells the server: the Play button reads Resume and the status line says why, in the same run;
    Resume plays again; a hidden tab that is visible again goes on by itself."""
    at = open_page()
    at.button(key="lv-s-play").click().run()
    steps = at.session_state["lv_samplers"]["ULA"].steps[-1]
    send_event(at, "idle")
    assert not at.exception
    data = live(at)
    assert data["mode"] == "idle" and data["frames"] == []
    assert data["status"] == "Paused after 3 minutes without interaction: press Resume to go on."
    assert at.button(key="lv-s-play").label == "Resume"
    assert at.session_state["lv_samplers"]["ULA"].steps[-1] == steps  # nothing computed for nobody
    at.run()  # a rerun (another widget) keeps it
    assert live(at)["mode"] == "idle" and at.button(key="lv-s-play").label == "Resume"
    at.button(key="lv-s-play").click().run()  # Resume: the user is here
    assert live(at)["mode"] == "playing" and at.button(key="lv-s-play").label == "Pause"
    assert at.session_state["lv_samplers"]["ULA"].steps[-1] > steps and len(live(at)["frames"]) > 0

    send_event(at, "hidden")
    assert live(at)["mode"] == "hidden" and at.button(key="lv-s-play").label == "Resume"
    assert live(at)["status"] == "Paused: this tab was hidden. It goes on when the tab is visible again."
    steps = at.session_state["lv_samplers"]["ULA"].steps[-1]
    send_event(at, "visible")
    assert live(at)["mode"] == "playing" and at.button(key="lv-s-play").label == "Pause"
    assert at.session_state["lv_samplers"]["ULA"].steps[-1] > steps
    at.button(key="lv-s-play").click().run()  # Pause: an idle report that comes late changes nothing
    send_event(at, "idle")
    assert live(at)["mode"] == "paused" and at.button(key="lv-s-play").label == "Play"


def test_a_browser_that_lost_its_frames_gets_them_again():
    """A remounted component (a tab switched back, a reconnect) has no frames: it asks ("resend") and gets the scene
    and the last frames again, as stills (not played again)."""
    at = open_page()
    for _ in range(3):
        at.button(key="lv-s-step").click().run()
    assert "scene" not in live(at)
    send_event(at, "resend")
    data = live(at)
    assert "scene" in data and [f["i"] for f in data["frames"]] == [0, 1, 2, 3] and not data["play"]


def test_no_live_chains_shows_a_dash_and_why_never_a_perfect_kl():
    """At η = 0.5 every ULA chain dies; the KL is "—" with the reason, not 0.000."""
    at = open_page()
    widget(at, "selectbox", "lv-target").set_value("correlated Gaussian").run()
    widget(at, "select_slider", "lv-eta").set_value(0.5).run()
    for _ in range(6):
        at.button(key="lv-s-step").click().run()
    assert not at.exception
    s = at.session_state["lv_samplers"]
    assert s["ULA"].dead == 300 and s["MALA"].dead == 0
    kls = [m.value for m in at.metric if m.label == "KL to exact"]
    assert kls[0] == "—" and kls[1] != "—" and float(kls[1]) > 0  # ULA: undefined; MALA: a number
    assert any("no live chains: all 300 ULA chains were sent to infinity" in c.value for c in at.caption)
    assert "KL to exact: ULA — (no live chains), MALA 0." in captions(at)[-1]
    assert np.isnan(positions(live(at)["frames"][-1]["parts"]["ULA"])).all()  # dead chains go to the browser as NaN
    # while playing, each frame's metrics line says the same, and the warning stays above the picture
    at.button(key="lv-s-play").click().run()
    assert all("ULA — (no live chains)" in c and "ULA dead chains 300" in c for c in captions(at))
    assert any("sent to infinity" in w.value for w in at.warning)


def test_kl_counts_only_the_live_chains_and_says_how_many():
    at = open_page()
    at.button(key="lv-s-step").click().run()
    s = at.session_state["lv_samplers"]
    ula = s["ULA"].frames[-1]
    from genlib import samplers as S
    from pages.lab.common import target_and_grids

    fine = target_and_grids("correlated Gaussian")[1]
    expected = S.kl_to_grid(ula[100:], fine)  # the KL of the 200 chains left alive
    ula[:100] = float("nan")  # 100 chains dead
    at.run()
    kls = [m.value for m in at.metric if m.label == "KL to exact"]
    assert kls[0] == f"{expected:.3f}"
    assert any("KL over the 200 live chains of 300 (the 100 dead ones are left out)" in c.value for c in at.caption)
    send_event(at, "resend")  # the frames' captions are made as they are sent: ask for them again
    assert f"KL to exact: ULA {expected:.3f} (200 of 300 chains live)" in captions(at)[-1]


def test_lessons_set_their_controls_and_start():
    from pages.lab import ebm2d, samplers, sgld
    from pages.lab.common import BATCH

    at = open_page()
    for i, lesson in enumerate(samplers.LESSONS):
        at.button(key=f"lv-s-lesson-{i}").click().run()
        assert not at.exception
        for k, v in lesson.settings.items():
            assert at.session_state[k] == v, (lesson.title, k)
        s = at.session_state["lv_samplers"]
        assert s["playing"] and s["key"][0] == lesson.settings["lv-target"] and s["key"][3] == lesson.settings["lv-eta"]
        assert any(lesson.watch in i.value for i in at.info)
        data = live(at)  # playing: the new chains' first batch went to the browser, to be played from the start
        assert data["mode"] == "playing" and data["play"] and [f["i"] for f in data["frames"]] == list(range(BATCH + 1))
        at.button(key="lv-s-play").click().run()  # pause before the next lesson
    blow_up = samplers.LESSONS[1]
    assert blow_up.settings["lv-eta"] == 0.5 and "MALA does not blow up" in blow_up.watch
    at = open_page("SGLD")
    for i, lesson in enumerate(sgld.LESSONS):
        at.button(key=f"lv-g-lesson-{i}").click().run()
        assert not at.exception and at.session_state["lv_sgld"]["playing"] and live(at)["mode"] == "playing"
        assert at.session_state["lv_sgld"]["key"][:4] == tuple(lesson.settings[k] for k in
                                                               ("lv-g-a", "lv-g-b", "lv-g-gamma", "lv-g-batch"))
        at.button(key="lv-g-play").click().run()
    at = open_page("2-D EBM")
    for i, lesson in enumerate(ebm2d.LESSONS):
        at.button(key=f"lv-e-lesson-{i}").click().run()
        assert not at.exception
        state = at.session_state["lv_ebm"]
        assert state["running"] and state["key"][0] == lesson.settings["lv-e-data"]
        cfg = state["trainer"].model.config
        assert cfg.noise == lesson.settings["lv-e-sigma"] and cfg.persistent == (lesson.settings["lv-e-neg"] == "persistent")
        state["running"] = False


def test_a_link_with_parameters_reproduces_the_view():
    """The controls and the tab live in the URL; the same URL gives the same chains."""
    from streamlit.testing.v1 import AppTest

    def opened():
        a = AppTest.from_file(str(conftest.ROOT / "pages/langevin.py"), default_timeout=120)
        a.query_params.update({"lv-target": "banana", "lv-eta": "0.1", "lv-seed": "7", "lv-chains": "100"})
        a.run()
        return a

    a, b = opened(), opened()
    assert not a.exception
    assert widget(a, "selectbox", "lv-target").value == "banana" and widget(a, "select_slider", "lv-eta").value == 0.1
    assert widget(a, "number_input", "lv-seed").value == 7 and widget(a, "number_input", "lv-chains").value == 100
    for x in (a, b):
        for _ in range(2):
            x.button(key="lv-s-step").click().run()
    fa, fb = a.session_state["lv_samplers"]["ULA"].frames[-1], b.session_state["lv_samplers"]["ULA"].frames[-1]
    assert fa.shape == (100, 2) and torch.equal(fa, fb)
    assert captions(a)[-1].startswith("step 10 · frame 2 ") and captions(a) == captions(b)
    c = AppTest.from_file(str(conftest.ROOT / "pages/langevin.py"), default_timeout=120)
    c.query_params["lv-tab"] = "SGLD"
    c.run()
    assert not c.exception and c.button(key="lv-g-play")

"""AppTest for the RBM page: each tab renders, a training tick runs, chains step, AIS runs and matches exact log Z, the
chains and the likelihood use the model just trained, the likelihood names its digits, the lessons set their controls,
the previous run's curves stay after Reset, and the lecture's picture shows digits, reconstructions and samples."""

import base64
import json

import numpy as np
import pytest
import torch

from conftest import open_page
from test_app_langevin import chart_lines, charts
from genlib import checkpoints, models
from genlib.data import binarize_fixed, load_mnist
from genlib.models.rbm import exact_log_z

PAGE = "pages/rbm.py"
HAS_500 = checkpoints.resolve("rbm-500").exists()


def tab(at, name: str):
    """Open tab `name` (the tabs are lazy and bound to the URL: only the open tab runs)."""
    at.session_state["rbm-tab"] = name
    at.run()
    assert not at.exception, at.exception
    return at


def small_pcd_run(at, steps: int = 1):
    """A 16-unit PCD run (exact likelihood), trained `steps` ticks."""
    at.radio(key="rbm-method").set_value("PCD").run()
    at.select_slider(key="rbm-hidden").set_value(16).run()
    at.button(key="rbm-reset").click().run()
    for _ in range(steps):
        at.button(key="rbm-step").click().run()
    assert not at.exception
    return at


def test_train_tab_widgets_and_a_training_step_with_exact_likelihood():
    at = open_page(PAGE, timeout=180)
    assert at.title[0].value == "Restricted Boltzmann machine"
    assert [t.label for t in at.tabs] == ["Train", "Gibbs chains", "Reconstructions", "Likelihood"]
    labels = {w.label for w in [*at.slider, *at.select_slider]}
    assert {"Hidden units", "Gibbs steps k", "Learning rate", "Batch size", "Momentum", "Weight decay"} <= labels
    assert "Chains" not in labels  # only the open tab runs
    small_pcd_run(at)
    tr = at.session_state["rbm"]["trainer"]
    assert tr.model.config.n_hidden == 16 and tr.model.config.persistent
    rec = tr.history[-1]
    assert tr.step_count > 0 and {"train_recon", "train_free_energy", "val_recon", "val_free_energy", "val_pseudo_ll"} <= set(rec)
    assert rec["val_exact_ll"] == pytest.approx(-rec["val_free_energy"] - exact_log_z(tr.model), abs=1e-6)
    assert rec["val_exact_ll"] < 0
    drawn = charts(at)  # drawn by the browser (views.live.chart): what the page sent it
    assert len(drawn) == 3  # likelihood, reconstruction and free energy curves
    # the likelihood plot says what it shows: the pseudo-log-likelihood (and here the exact value, 16 units)
    titles = [c["title"] for c in drawn]
    assert titles[0] == "Pseudo-log-likelihood per digit and exact log-likelihood (nats)", titles
    assert not any(t.startswith("Log-likelihood") for t in titles)
    for chart, keys in zip(drawn, ({"pseudo-log-likelihood (validation)": "val_pseudo_ll",
                                    "exact log-likelihood (validation)": "val_exact_ll"},
                                   {"train": "train_recon", "validation": "val_recon"},
                                   {"train digits": "train_free_energy", "validation digits": "val_free_energy"})):
        assert chart_lines(chart) == {name: [(r["step"], r[k]) for r in tr.history if k in r]
                                      for name, k in keys.items()}, chart["title"]


@pytest.mark.skipif(not checkpoints.resolve("rbm-16-cd1").exists(), reason="needs checkpoints/rbm-16-cd1")
def test_cd1_and_pcd_side_by_side_train_in_lockstep_from_the_same_weights():
    """The lesson "CD-1 vs PCD (1/2)": two runs from rbm-16-cd1's weights, CD-1 and PCD; a Step trains both to the
    same step, and the log-likelihood chart holds each run's exact value at that step (computed here again)."""
    at = open_page(PAGE, timeout=180)
    at.button(key="rbm-lesson-0").click().run()
    state = at.session_state["rbm"]
    cd, pcd = state["trainer"], state["rival"]["trainer"]
    assert (cd.model.config.persistent, pcd.model.config.persistent) == (False, True)
    at.button(key="rbm-run").click().run()  # pause (the browser ticks a running view; here Step does)
    at.button(key="rbm-step").click().run()
    at.button(key="rbm-step").click().run()
    assert not at.exception, at.exception
    assert cd.step_count == pcd.step_count > 0
    # CD-1 goes on from the stalled checkpoint: its first exact value is the checkpoint's own, within a nat or two
    base = models.load(checkpoints.resolve("rbm-16-cd1"))
    with torch.no_grad():  # the checkpoint's exact log-likelihood on the page's 256 validation digits
        start = -float(base.free_energy(binarize_fixed(load_mnist().val.images[:256])).mean()) - exact_log_z(base)
    first = next(r for r in cd.history if "val_exact_ll" in r)
    assert first["step"] <= 50 and abs(first["val_exact_ll"] - start) < 2.0, (first, start)
    lines = {t["name"]: t for t in charts(at)[0]["series"]}
    assert set(lines) == {"CD-1: exact log-likelihood", "PCD-1: exact log-likelihood"}, set(lines)
    for name, run in (("CD-1", cd), ("PCD-1", pcd)):  # each line is its run's exact values, at the same steps
        line = lines[f"{name}: exact log-likelihood"]
        assert list(zip(line["x"], line["y"])) == [(r["step"], r["val_exact_ll"]) for r in run.history
                                                    if "val_exact_ll" in r]
    assert lines["CD-1: exact log-likelihood"]["x"] == lines["PCD-1: exact log-likelihood"]["x"]
    at.button(key="rbm-reset").click().run()  # Reset ends the comparison
    assert at.session_state["rbm"]["rival"] is None and not at.exception


def test_reset_keeps_the_previous_run_faded_for_comparison():
    at = open_page(PAGE, timeout=180)
    at.select_slider(key="rbm-hidden").set_value(16).run()
    at.button(key="rbm-reset").click().run()
    at.button(key="rbm-step").click().run()
    first = at.session_state["rbm"]["trainer"]
    at.radio(key="rbm-method").set_value("PCD").run()
    at.button(key="rbm-reset").click().run()
    at.button(key="rbm-step").click().run()
    assert not at.exception
    prev = at.session_state["rbm"]["previous"]
    assert prev["history"] is first.history and prev["label"].startswith("CD-1, 16 hidden units")
    series = charts(at)[0]["series"]
    faded = [t for t in series if t["opacity"] == 0.35 and t["dash"] == "dash"]
    solid = [t for t in series if t["opacity"] == 1.0 and t["dash"] == "solid"]
    assert faded and solid
    old = next(t for t in faded if t["name"].startswith("exact"))
    assert old["y"][-1] == pytest.approx(first.history[-1]["val_exact_ll"])
    at.toggle(key="rbm-show-prev").set_value(False).run()  # the comparison can be hidden
    assert not [t for t in charts(at)[0]["series"] if t["opacity"] == 0.35]


def test_blown_up_learning_rate_shows_a_message_and_keeps_the_model():
    at = open_page(PAGE, timeout=180)
    at.button(key="rbm-step").click().run()
    good = at.session_state["rbm"]["trainer"].model.weight.detach().clone()
    at.select_slider(key="rbm-lr").set_value(1e4).run()
    at.button(key="rbm-step").click().run()
    at.button(key="rbm-step").click().run()
    assert not at.exception
    assert any("diverged" in e.value for e in at.error)
    assert torch.isfinite(at.session_state["rbm"]["trainer"].model.weight).all()
    # rolled back: the weights are those before the bad tick (no step of lr 1e4 survived)
    w = at.session_state["rbm"]["trainer"].model.weight.detach()
    assert w.abs().max() < 5 and (w - good).abs().max() < 1.0


def live_data(at) -> dict:
    """What the page's live view (pages/views/live.py) sent to the browser in the last run."""
    views = [e for e in at.get("bidi_component") if e.proto.component_name == "genlib_live"
             and "chart" not in json.loads(e.proto.json)]  # not a line chart (views.live.chart)
    assert len(views) == 1
    return json.loads(views[0].proto.json)


def part(frame: dict, name: str, dtype=np.uint8) -> np.ndarray:
    """A part of a frame sent to the browser, decoded as live.js decodes it."""
    return np.frombuffer(base64.b64decode(frame["parts"][name]), dtype=dtype)


def test_gibbs_chain_steps_and_restarts():
    at = tab(open_page(PAGE, timeout=180), "Gibbs chains")
    ch = at.session_state["rbm_chain"]["chain"]
    assert ch.steps == [0] and [f["step"] for f in live_data(at)["frames"]] == [0]
    at.button(key="rbm-chain-step").click().run()
    at.button(key="rbm-chain-step").click().run()
    assert not at.exception
    ch = at.session_state["rbm_chain"]["chain"]
    assert ch.steps == [0, 1, 2] and len(ch.energies) == 3 and ch.frame(2).dtype == torch.float32
    data = live_data(at)
    assert data["mode"] == "paused" and data["count"] == 3  # every frame held for the browser's scrubber
    assert data["frames"][-1]["i"] == 2 and data["frames"][-1]["caption"].startswith("p(v|h) · step 2 ")
    assert any(b.label == "Export chain as GIF" for b in at.get("download_button"))
    at.button(key="rbm-chain-restart").click().run()
    assert at.session_state["rbm_chain"]["chain"].steps == [0]
    assert [f["step"] for f in live_data(at)["frames"]] == [0]


def play_one_batch(seed: int = 0):
    """The Gibbs tab with `seed`, Play clicked: one run computes a batch of frames for the browser to play."""
    at = tab(open_page(PAGE, timeout=180), "Gibbs chains")
    at.number_input(key="rbm-seed").set_value(seed).run()
    at.button(key="rbm-chain-play").click().run()
    assert not at.exception
    return at


def test_playing_sends_the_chains_as_data_and_beta_acts_on_the_running_chains():
    from pages.rbm_tabs.chains import BATCH, FPS, WIDTH

    at = tab(open_page(PAGE, timeout=180), "Gibbs chains")
    # the still parts, sent once: one row laid out as before, p(v|h) and v as two grids of 6 x 6 and the traces in
    # the wider third column
    (row,) = live_data(at)["scene"]["rows"]
    assert [p["kind"] for p in row] == ["images", "images", "traces"] and [p["nrow"] for p in row[:2]] == [6, 6]
    assert sum(p["width"] for p in row) + 2 * 16 == WIDTH and row[2]["width"] > row[0]["width"]
    at.button(key="rbm-chain-play").click().run()
    s = at.session_state["rbm_chain"]
    assert s["playing"] and s["chain"].steps == list(range(BATCH + 1))
    assert at.button(key="rbm-chain-play").label == "Pause"
    data = live_data(at)
    assert data["mode"] == "playing" and data["fps"] == FPS and data["head"].startswith("Playing at 10 frames/s")
    assert [f["i"] for f in data["frames"]] == list(range(1, BATCH + 1)) and data["play"]  # new frames, to be played
    last = data["frames"][-1]
    assert last["step"] == BATCH and last["caption"].startswith(f"p(v|h) · step {BATCH} ") and "β = 1" in last["caption"]
    # the frame's pictures are the chain's: the means p(v|h) in grey levels, the sampled v black or white, and the
    # free energies of the 36 chains
    ch = s["chain"]
    mean, v = part(last, "mean"), np.unpackbits(part(last, "v"))  # v: binary, eight pixels to a byte
    assert mean.shape == v.shape == (36 * 784,) and 0 < mean.mean() < 255
    assert np.abs(mean / 255 - ch.mean(BATCH).numpy().ravel()).max() < 0.01
    assert (v == ch.frame(BATCH).numpy().ravel()).all()
    assert np.allclose(part(last, "fe", np.float32), ch.energies[BATCH].numpy(), rtol=1e-5)
    assert not at.get("plotly_chart") and not [x for x in at.slider if x.label == "Frame"]  # the browser draws it all
    assert "10 frames per second" in at.button(key="rbm-chain-play").help
    # β moved while playing acts on the running chains: the next batch runs (and says) β = 0.5
    at.slider(key="rbm-beta").set_value(0.5).run()
    s = at.session_state["rbm_chain"]
    assert s["playing"] and s["temperature"]["beta"] == 0.5 and len(s["chain"]) == 2 * BATCH + 1
    caps = [f["caption"] for f in live_data(at)["frames"]]
    assert len(caps) == BATCH and all(c.endswith("β = 0.5") for c in caps)
    at.button(key="rbm-chain-play").click().run()  # pause: the browser scrubs the frames it holds
    assert not at.exception and not at.session_state["rbm_chain"]["playing"]
    data = live_data(at)
    assert data["mode"] == "paused" and data["count"] == 2 * BATCH + 1 and data["status"].startswith("Paused")
    assert at.button(key="rbm-chain-play").label == "Play"


def test_the_same_seed_plays_the_same_frames():
    a, b, c = ([f["parts"] for f in live_data(play_one_batch(seed))["frames"]] for seed in (3, 3, 4))
    assert a == b and a != c


def test_the_chain_plays_on_past_its_window_of_frames():
    """The chain has no end: past the frames kept (its window), the oldest frames go and it plays on; the frames
    keep their absolute numbers and the caption says that only the last ones are kept."""
    at = tab(open_page(PAGE, timeout=180), "Gibbs chains")
    at.session_state["rbm_chain"]["chain"].max_frames = 4
    at.button(key="rbm-chain-play").click().run()
    assert not at.exception
    s = at.session_state["rbm_chain"]
    assert s["playing"] and len(s["chain"]) == 4 and s["chain"].dropped == 7 and list(s["betas"]) == [1.0] * 4
    data = live_data(at)
    assert data["mode"] == "playing" and data["count"] == 4 and at.button(key="rbm-chain-play").label == "Pause"
    assert [(f["i"], f["step"]) for f in data["frames"]] == [(7, 7), (8, 8), (9, 9), (10, 10)]
    assert data["frames"][-1]["caption"].endswith("the last 4 frames kept")
    at.run()  # the next batch: the window moves on
    data = live_data(at)
    assert at.session_state["rbm_chain"]["chain"].steps == [17, 18, 19, 20] and data["frames"][-1]["step"] == 20


def test_the_temperature_slider_acts_on_the_running_chain():
    at = tab(open_page(PAGE, timeout=180), "Gibbs chains")
    at.slider(key="rbm-beta").set_value(0.5).run()
    at.button(key="rbm-chain-step").click().run()
    assert not at.exception
    state = at.session_state["rbm_chain"]
    assert state["chain"].steps == [0, 1] and state["temperature"]["beta"] == 0.5


@pytest.mark.skipif(not HAS_500, reason="needs checkpoints/rbm-500.safetensors")
def test_chains_and_likelihood_default_to_the_model_just_trained():
    at = tab(open_page(PAGE, timeout=180), "Gibbs chains")
    said = [c.value for c in at.caption if c.value.startswith("Model:")]
    assert said and "rbm-500" in said[0] and "nothing trained" in said[0]
    assert at.session_state["rbm_chain"]["key"][3] == "rbm-500"
    tab(at, "Train")
    at.button(key="rbm-step").click().run()  # train this session's model: it becomes the default
    trained = at.session_state["rbm"]["trainer"].model
    tab(at, "Gibbs chains")
    said = [c.value for c in at.caption if c.value.startswith("Model:")][0]
    assert "this session's model" in said and "you trained it" in said
    assert at.session_state["rbm_chain"]["key"][3:] == ("live", id(trained))
    tab(at, "Likelihood")
    said = [c.value for c in at.caption if c.value.startswith("Model:")][0]
    assert "this session's model" in said
    # a bundled checkpoint chosen in the sidebar wins over the automatic choice
    at.selectbox(key="rbm-model").set_value("rbm-500").run()
    assert [c.value for c in at.caption if c.value.startswith("Model:")][0].startswith(
        "Model: the bundled checkpoint rbm-500, ")


def test_likelihood_tab_ais_against_exact_on_a_small_model():
    at = small_pcd_run(open_page(PAGE, timeout=180), steps=3)
    tab(at, "Likelihood")
    at.select_slider(key="rbm-ais-betas").set_value(1000).run()
    assert any("Run AIS will take about" in i.value for i in at.info)  # the time estimate shows before the click
    at.button(key="rbm-ais").click().run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    # no test files in the default data folder: the digits are named as the validation digits they are
    assert {"AIS log Z", "exact log Z", "AIS log-likelihood, validation digits",
            "exact log-likelihood, validation digits"} <= set(metrics)
    assert not any("test" in m for m in metrics)
    assert float(metrics["AIS log Z"]) == pytest.approx(float(metrics["exact log Z"]), abs=0.2)
    assert any("validation digits held out" in m.value for m in at.markdown)
    assert any("standard errors of the mean weight" in m.value for m in at.markdown)  # the band explained


def test_likelihood_uses_the_mnist_test_split_when_the_data_folder_has_it(mnist_test_root, monkeypatch):
    monkeypatch.setenv("GENLIB_DATA", str(mnist_test_root))
    at = small_pcd_run(open_page(PAGE, timeout=180))
    tab(at, "Likelihood")
    metrics = {m.label: m.value for m in at.metric}
    assert "exact log-likelihood, MNIST test digits" in metrics
    assert any("10,000 MNIST test digits" in m.value for m in at.markdown)
    from genlib.data import binarize_fixed, load_mnist

    test = load_mnist(mnist_test_root).test
    m = at.session_state["rbm"]["trainer"].model
    with torch.no_grad():
        exact = -float(m.free_energy(binarize_fixed(test.images).reshape(len(test), -1)).mean()) - exact_log_z(m)
    assert float(metrics["exact log-likelihood, MNIST test digits"].split()[0]) == pytest.approx(exact, abs=2e-3)
    # never trained on the test digits: the trainer's data are the training digits
    assert len(at.session_state["rbm"]["trainer"].data) == 4500


@pytest.mark.skipif(not checkpoints.resolve("rbm-16").exists(), reason="needs checkpoints/rbm-16.safetensors")
def test_pretrained_small_model_shows_the_exact_value():
    at = tab(open_page(PAGE, timeout=180), "Likelihood")
    at.selectbox(key="rbm-model").set_value("rbm-16").run()
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert "exact log Z" in metrics and "exact log-likelihood, validation digits" in metrics
    model = models.load(checkpoints.resolve("rbm-16"))
    assert float(metrics["exact log Z"]) == pytest.approx(exact_log_z(model), abs=1e-3)
    # a bundled checkpoint's log Z (seconds: 2^16 states) is kept once per server: a second session, or the lecture,
    # finds it without summing again
    from pages.views import chrome

    kept = chrome._per_server("rbm_exact_log_z", ("rbm-16",), lambda: pytest.fail("not kept for the server"))
    assert kept == pytest.approx(exact_log_z(model), abs=1e-3)
    at2 = tab(open_page(PAGE, timeout=180), "Likelihood")
    at2.selectbox(key="rbm-model").set_value("rbm-16").run()
    assert {m.label: m.value for m in at2.metric}["exact log Z"] == metrics["exact log Z"]


@pytest.mark.skipif(not (checkpoints.resolve("rbm-16").exists() and checkpoints.resolve("rbm-16-cd1").exists()),
                    reason="needs checkpoints/rbm-16 and rbm-16-cd1")
def test_ais_versus_exact_comparison_table():
    at = tab(open_page(PAGE, timeout=180), "Likelihood")
    at.select_slider(key="rbm-compare-betas").set_value(300).run()
    assert any(c.value.startswith("About ") and "100 runs × 300 temperatures" in c.value for c in at.caption)
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


@pytest.mark.skipif(not HAS_500, reason="needs checkpoints/rbm-500.safetensors")
def test_the_lecture_picture_real_reconstructed_sampled():
    at = tab(open_page(PAGE, timeout=180), "Reconstructions")
    at.select_slider(key="rbm-pic-steps").set_value(100).run()
    assert not at.exception and len(at.get("image")) == 1
    from pages.views import chrome  # the bundled model's picture is kept once per server (chrome.memo shared)

    real, recon, samples = chrome._per_server("rbm_pic", ("rbm-500", 0, 100),
                                              lambda: pytest.fail("the tab did not make its picture"))
    m = models.load(checkpoints.resolve("rbm-500"))
    from genlib.data import binarize_fixed, load_mnist

    g = torch.Generator().manual_seed(0)
    val = load_mnist(None).val
    want = binarize_fixed(val.images[torch.randperm(len(val), generator=g)[:16]]).reshape(16, 1, 28, 28)
    assert torch.equal(real, want)
    with torch.no_grad():  # one Gibbs step v -> h -> p(v|h): the same generator, the same reconstruction
        h = torch.bernoulli(m.p_h(want.reshape(16, -1)), generator=g)
        assert torch.allclose(recon.reshape(16, -1), m.p_v(h), atol=1e-6)
    # reconstructions stay close to their digits; 100 steps from noise do not reproduce them
    assert (recon - real).abs().mean() < 0.12 and (samples - real).abs().mean() > 0.15
    assert any("one Gibbs step" in m.value for m in at.markdown)


LESSON_CHECKS = {
    0: lambda at: at.session_state["rbm"]["running"] and at.session_state["rbm"]["trainer"].model.config.n_hidden == 16
    and not at.session_state["rbm"]["trainer"].model.config.persistent
    and at.session_state["rbm"]["rival"]["trainer"].model.config.persistent,
    1: lambda at: at.session_state["rbm"]["running"] and at.session_state["rbm"]["trainer"].model.config.persistent,
    2: lambda at: at.session_state["rbm_chain"]["playing"] and at.session_state["rbm_chain"]["temperature"]["beta"] == 0.5,
    3: lambda at: at.session_state["rbm_chain"]["playing"] and at.session_state["rbm_chain"]["key"][3] == "rbm-500-cd1",
    4: lambda at: [r["temperatures"] for r in at.session_state["rbm_compare"]] == [100, 100],
}


@pytest.mark.skipif(not (HAS_500 and checkpoints.resolve("rbm-500-cd1").exists()), reason="needs the rbm-500 models")
@pytest.mark.parametrize("i", sorted(LESSON_CHECKS))
def test_each_lesson_sets_its_controls_and_starts(i):
    at = open_page(PAGE, timeout=180)
    at.button(key=f"rbm-lesson-{i}").click().run()
    assert not at.exception
    lesson_tab = at.session_state["rbm-tab"]
    widgets = {w.key: w.value for w in [*at.slider, *at.select_slider, *at.selectbox, *at.radio, *at.number_input]}
    from pages.rbm_tabs.lessons import LESSONS

    for key, value in LESSONS[i].settings.items():
        assert (lesson_tab if key == "rbm-tab" else widgets[key]) == value, key
    assert LESSON_CHECKS[i](at)
    assert any(i.value.startswith("**") for i in at.info)  # the sentence on what to watch

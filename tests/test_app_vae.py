"""AppTest for the VAE page: every tab renders, a training step runs, beta changes live, the grid pointer decodes and
stays inside the grid, the sidebar shows the loaded model, lessons set their controls, Resample draws anew."""
import json
from dataclasses import replace

import torch

from conftest import button, open_page

PAGE = "pages/vae.py"
TABS = ["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"]


def open_tab(at, name: str):
    at.session_state["vae-tab"] = name  # the tabs are bound to the URL and lazy: only the open one runs
    at.run()
    assert not at.exception, at.exception
    return at


def widget(at, key: str):
    return next(w for w in [*at.slider, *at.select_slider, *at.selectbox, *at.radio, *at.number_input] if w.key == key)


def test_vae_page_tabs_controls_and_a_training_step():
    at = open_page(PAGE)
    assert at.title[0].value == "Variational autoencoder"
    assert [t.label for t in at.tabs] == TABS
    for name in TABS:
        open_tab(at, name)
        controls = [*at.slider, *at.select_slider, *at.selectbox, *at.radio, *at.number_input, *at.checkbox]
        assert all(w.help for w in controls), [w.label for w in controls if not w.help]  # every control explains itself
    open_tab(at, "Train")
    tr = at.session_state["vae"]["trainer"]
    assert tr.step_count == 0
    button(at, "Step").click().run()
    assert not at.exception
    tr = at.session_state["vae"]["trainer"]
    assert tr.step_count > 0 and {"train_rec", "train_kl", "val_nelbo"} <= set(tr.history[-1])
    # beta weighs the KL of the same run: changing it keeps the steps taken
    steps = tr.step_count
    widget(at, "vae-beta").set_value(2.0).run()
    tr = at.session_state["vae"]["trainer"]
    assert tr.model.config.beta == 2.0 and tr.step_count == steps
    # the caption names the live step count (it is drawn inside the live fragment)
    assert any(f"{steps} steps" in c.value for c in at.caption if c.value.startswith("Current model"))


def test_sidebar_shows_the_loaded_model():
    at = open_page(PAGE)  # the first visit loads the course's conv VAE; the sidebar must show its settings
    assert at.session_state["vae"]["source"] == "vae-conv-2d"
    assert widget(at, "vae-arch").value.startswith("Conv") and widget(at, "vae-latent").value == 2
    widget(at, "vae-ckpt").set_value("vae-mlp-gauss-8").run()
    button(at, "Load pretrained vae-mlp-gauss-8").click().run()
    assert not at.exception
    model = at.session_state["vae"]["trainer"].model
    assert model.config.latent == 8 and model.config.likelihood == "gaussian"
    assert widget(at, "vae-arch").value.startswith("MLP") and widget(at, "vae-latent").value == 8
    assert widget(at, "vae-lik").value == "gaussian"
    assert not [i for i in at.info if "differ from this run" in i.value]  # the sidebar agrees with the model
    # a setting that needs a rebuild: the page says so, and Reset builds it
    widget(at, "vae-latent").set_value(4).run()
    assert [i for i in at.info if "differ from this run" in i.value]
    open_tab(at, "Train")
    button(at, "Reset").click().run()
    assert not at.exception
    assert at.session_state["vae"]["trainer"].model.config.latent == 4
    assert at.session_state["vae"]["source"] == "new"


def test_grid_pointer_decodes_the_digit_at_that_point_and_stays_inside_the_grid():
    at = open_page(PAGE)
    open_tab(at, "Latent grid")
    model = at.session_state["vae"]["trainer"].model
    widget(at, "vae-range").set_value("± scale in z").run()
    widget(at, "vae-scale").set_value(1.5).run()
    px, py = widget(at, "vae-px"), widget(at, "vae-py")
    assert (px.min, px.max) == (-1.5, 1.5) and (py.min, py.max) == (-1.5, 1.5)  # the pointer's range: the grid's span
    px.set_value(1.5).run()
    widget(at, "vae-py").set_value(-0.5).run()
    assert not at.exception
    cap = [im for im in at.get("image") if "decoded at" in str(im.proto)]
    assert cap and "z[0] = 1.50, z[1] = -0.50" in str(cap[0].proto)
    # a smaller grid pulls the pointer back inside it
    widget(at, "vae-scale").set_value(1.0).run()
    assert not at.exception and widget(at, "vae-px").value == 1.0 and widget(at, "vae-px").max == 1.0
    with torch.no_grad():  # the model the page shows decodes that point to a valid image
        img = model.decode_images(torch.tensor([[1.0, -0.5]]))
    assert img.shape == (1, 1, 28, 28) and 0 <= img.min() and img.max() <= 1


def test_a_model_with_more_dimensions_offers_the_dimensions_to_sweep():
    at = open_page(PAGE)
    widget(at, "vae-latent").set_value(4).run()
    open_tab(at, "Train")
    button(at, "Reset").click().run()
    assert not at.exception
    assert at.session_state["vae"]["trainer"].model.config.latent == 4
    open_tab(at, "Latent grid")
    labels = [s.label for s in at.selectbox]
    assert "x: dimension" in labels and "y: dimension" in labels


def test_lessons_set_their_controls_and_start():
    at = open_page(PAGE)
    button(at, "β = 4: posterior collapse").click().run()
    assert not at.exception
    st_ = at.session_state["vae"]
    cfg = st_["trainer"].model.config
    # the bundled 16-D model trained on at beta 4, beside a companion run from it at beta 1 (the Train tab's side by side)
    assert (cfg.beta, cfg.latent, st_["running"], st_["source"]) == (4.0, 16, True, "vae-mlp-bern-16")
    other = st_["compare"]["other"]
    assert st_["compare"]["trainer"] is st_["trainer"] and other.model is not st_["trainer"].model
    assert other.model.config == replace(cfg, beta=1.0)
    assert widget(at, "vae-beta").value == 4.0 and widget(at, "vae-latent").value == 16
    assert widget(at, "vae-lr").value == 1e-2 and at.session_state["vae-tab"] == "Train"
    assert not [i for i in at.info if "differ from this run" in i.value]  # the sidebar shows the run's model
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    kl_titles = [t for t in titles if t.startswith("KL per")]
    assert len(kl_titles) == 2 and "β = 1 (step" in kl_titles[0] and "β = 4 (step" in kl_titles[1], kl_titles
    assert kl_titles[0].split("(")[1] == kl_titles[1].split("(")[1]  # the companion at the run's step
    button(at, "Step").click().run()  # a step of the run: the companion takes as many, at the same learning rate
    assert not at.exception
    assert other.step_count == st_["trainer"].step_count > 0 and other.config.lr == st_["trainer"].config.lr == 1e-2
    button(at, "Reset").click().run()  # a new run: the comparison ends with the run it was made for
    assert not at.exception
    assert len([c for c in at.get("plotly_chart") if "KL per" in json.loads(c.proto.spec)["layout"]["title"]["text"]]) == 1
    button(at, "Gaussian decoder: 4 of 8 collapse").click().run()
    assert not at.exception
    assert at.session_state["vae"]["source"] == "vae-mlp-gauss-8"
    assert widget(at, "vae-lik").value == "gaussian" and widget(at, "vae-latent").value == 8
    button(at, "Click the course's map").click().run()
    assert not at.exception
    assert at.session_state["vae"]["source"] == "vae-conv-2d" and at.session_state["vae-tab"] == "Latent grid"
    assert widget(at, "vae-scale").value == 1.0 and widget(at, "vae-n").value == 15
    button(at, "Latent 2 vs 16").click().run()
    assert at.session_state["vae"]["trainer"].model.config.latent == 16
    button(at, "Reparameterisation and the IWAE gap").click().run()
    assert not at.exception and at.session_state["vae-tab"] == "Draw" and widget(at, "vae-k").value == 16


def test_resample_draws_new_samples_with_the_next_seed():
    at = open_page(PAGE)
    open_tab(at, "Sample")
    first = [im for im in at.get("image") if "prior draws" in str(im.proto)][0].proto.imgs[0].url
    button(at, "Resample").click().run()
    assert not at.exception and widget(at, "vae-sseed").value == 1
    cap = [im for im in at.get("image") if "prior draws" in str(im.proto)][0]
    assert "seed 1" in str(cap.proto) and cap.proto.imgs[0].url != first


def test_an_uploaded_checkpoint_is_used_and_the_sidebar_shows_its_settings():
    from conftest import ROOT

    at = open_page(PAGE)
    data = (ROOT / "checkpoints" / "vae-mlp-gauss-8.safetensors").read_bytes()
    at.file_uploader(key="vae-ckpt-upload").upload("mine.safetensors", data)
    at.run()
    assert not at.exception
    st_ = at.session_state["vae"]
    assert st_["source"] == "uploaded mine.safetensors" and st_["trainer"].model.config.latent == 8
    assert widget(at, "vae-latent").value == 8 and widget(at, "vae-lik").value == "gaussian"
    at.run()  # a rerun keeps the run (the file is not loaded again)
    assert at.session_state["vae"]["trainer"] is st_["trainer"]

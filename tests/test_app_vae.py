"""AppTest for the VAE page: every tab renders, a training step runs, beta changes live, the grid pointer decodes."""
import torch

from conftest import button, open_page

PAGE = "pages/vae.py"


def test_vae_page_tabs_controls_and_a_training_step():
    at = open_page(PAGE)
    assert at.title[0].value == "Variational autoencoder"
    assert [t.label for t in at.tabs] == ["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"]
    sliders = {w.label: w for w in [*at.slider, *at.select_slider]}
    assert {"Latent size", "beta (KL weight)", "Learning rate", "Batch size", "Grid size n"} <= set(sliders)
    assert all(w.help for w in sliders.values())  # every control explains itself
    tr = at.session_state["vae"]["trainer"]
    assert tr.step_count == 0
    button(at, "Step").click().run()
    assert not at.exception
    tr = at.session_state["vae"]["trainer"]
    assert tr.step_count > 0 and {"train_rec", "train_kl", "val_nelbo"} <= set(tr.history[-1])
    # beta weighs the KL of the same run: changing it keeps the steps taken
    steps = tr.step_count
    next(s for s in at.slider if s.label == "beta (KL weight)").set_value(2.0).run()
    tr = at.session_state["vae"]["trainer"]
    assert tr.model.config.beta == 2.0 and tr.step_count == steps
    assert len(at.get("plotly_chart")) >= 4  # 3 curves, KL bars, grid, clusters, path


def test_grid_pointer_decodes_the_digit_at_that_point():
    at = open_page(PAGE)
    model = at.session_state["vae"]["trainer"].model
    next(s for s in at.slider if s.key == "vae-px").set_value(1.5).run()
    next(s for s in at.slider if s.key == "vae-py").set_value(-0.5).run()
    assert not at.exception
    cap = [im for im in at.get("image") if "decoded at" in str(im.proto)]
    assert cap and "z[0] = 1.50, z[1] = -0.50" in str(cap[0].proto)
    with torch.no_grad():  # the model the page shows decodes that point to a valid image
        img = model.decode_images(torch.tensor([[1.5, -0.5]]))
    assert img.shape == (1, 1, 28, 28) and 0 <= img.min() and img.max() <= 1


def test_a_model_with_more_dimensions_offers_the_dimensions_to_sweep():
    at = open_page(PAGE)
    next(s for s in at.slider if s.label == "Latent size").set_value(4).run()
    button(at, "Reset").click().run()
    assert not at.exception
    assert at.session_state["vae"]["trainer"].model.config.latent == 4
    labels = [s.label for s in at.selectbox]
    assert "x: dimension" in labels and "y: dimension" in labels

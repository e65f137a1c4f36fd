"""The image helpers against ground truth: a grid puts each image at its cell with white gaps, an animated GIF holds
every frame with its pixels (what the chain tabs' "Export chain as GIF" and `sample --out x.gif` write), and a
density image is darkest at the density's mode and white far from it."""
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

from genlib import densities, viz


def test_grid_places_each_image_in_its_cell_with_white_gaps():
    images = torch.stack([torch.full((1, 3, 3), v / 10) for v in range(5)])  # five flat 3 x 3 images, 0.0 .. 0.4
    g = viz.grid(images, nrow=2, pad=1)
    assert g.shape == (3 * 4 + 1, 2 * 4 + 1)  # 3 rows of 2 cells: 3 pixels + a 1-pixel gap each, one more gap
    for i in range(5):
        r, c = divmod(i, 2)
        assert g[1 + 4 * r:4 + 4 * r, 1 + 4 * c:4 + 4 * c] == pytest.approx(np.full((3, 3), i / 10))
    assert (g[0] == 1).all() and (g[:, 0] == 1).all() and (g[9:, 5:] == 1).all()  # the gaps and the empty sixth cell
    flat = viz.grid(images.reshape(5, 9))  # flat rows of a square side are images too, 3 to a row by default
    assert flat.shape == (2 * 5 + 2, 3 * 5 + 2) and flat[2, 2] == 0.0 and flat[2, 7] == pytest.approx(0.1)


def test_to_uint8_clips_and_scales():
    a = viz.to_uint8(np.array([[-1.0, 0.5], [1.0, 2.0]]), scale=2)
    assert a.dtype == np.uint8 and a.shape == (4, 4)
    assert a[0, 0] == 0 and a[0, 2] == 128 and a[2, 0] == 255 and a[3, 3] == 255


def test_gif_holds_every_frame_and_its_pixels():
    frames = [np.full((4, 6), k / 3, np.float32) for k in range(4)]
    frames[2][0, 0] = 1.0
    gif = Image.open(io.BytesIO(viz.gif_bytes(frames, ms_per_frame=50, scale=2)))
    got = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(gif)]
    assert len(got) == 4 and got[0].shape == (8, 12)
    assert [int(f[7, 11]) for f in got] == [0, 85, 170, 255]
    assert (got[2][:2, :2] == 255).all() and gif.info["duration"] == 50


def test_density_image_is_darkest_at_the_mode_and_white_far_away():
    t = densities.make_target("correlated Gaussian")
    img = viz.density_image(t, (60, 80))
    assert img.shape == (60, 80, 3) and img.dtype == np.uint8
    x0, x1, y0, y1 = t.extent
    darkness = 255 * 3 - img.astype(int).sum(-1)
    r, c = np.argwhere(darkness >= darkness.max() - 2).mean(0)  # the darkest pixels, around the mode
    mode_r, mode_c = (y1 - 0) / (y1 - y0) * 60, (0 - x0) / (x1 - x0) * 80  # the target's mode is at the origin
    assert abs(r - mode_r) < 3 and abs(c - mode_c) < 3
    assert (img[0, 0] > 250).all() and (img[-1, -1] > 250).all()  # the corners: no density there


def test_training_curves_are_plain_json_series_of_the_history():
    """viz.curves / compare_curves / energy_loss_figure: the chart the browser draws (views.live.chart) as plain data:
    each record's step and value in history order, a missing key skipped, NaN and inf as null (JSON has neither),
    PALETTE's colours in order, dots under 30 points, the previous run faded and dashed in its key's colour."""
    import json
    import math

    hist = [{"step": 10 * i, "loss": 1.0 / (i + 1)} for i in range(40)]
    hist[3]["loss"], hist[4]["loss"] = math.nan, math.inf
    for r in hist[:5]:
        r["val"] = 2.0
    c = json.loads(json.dumps(viz.curves(hist, {"loss": "train", "val": "validation", "none": "absent"}, title="T",
                                         yaxis="MSE", log_y=True), allow_nan=False))
    assert (c["title"], c["xlabel"], c["ylabel"], c["log_y"]) == ("T", "training step", "MSE", True)
    train, val = c["series"]  # no series for a key no record has
    assert train["x"] == [10 * i for i in range(40)] and train["y"][3] is None and train["y"][4] is None
    assert train["y"][:3] == [1.0, 0.5, 1.0 / 3] and train["y"][-1] == 1.0 / 40
    assert val["x"] == [0, 10, 20, 30, 40] and val["y"] == [2.0] * 5
    assert (train["color"], val["color"]) == (viz.PALETTE[0], viz.PALETTE[1])
    assert (train["markers"], val["markers"]) == (False, True)  # 40 points: a line; 5: a line with dots
    old = [{"step": 5, "loss": 3.0}, {"step": 6, "loss": 2.5}]
    c = viz.compare_curves(hist[:3], {"val": "validation", "loss": "train"}, "T", "y", old, "run A")
    assert [(s["name"], s["color"], s["dash"], s["opacity"]) for s in c["series"]] == [
        ("validation", viz.PALETTE[0], "solid", 1.0), ("train, run A", viz.PALETTE[1], "dash", 0.35),
        ("train", viz.PALETTE[1], "solid", 1.0)]
    assert c["series"][1]["x"] == [5, 6] and c["series"][1]["y"] == [3.0, 2.5] and not c["series"][1]["markers"]
    e = viz.energy_loss_figure([1, 2], [0.5, math.nan], [1.0, 2.0], [0.5, 3.0], title="L")
    assert [s["name"] for s in e["series"]] == ["E_data − E_neg", "E(data)", "E(negatives)"]
    assert e["series"][0]["y"] == [0.5, None] and e["series"][2]["y"] == [0.5, 3.0] and e["title"] == "L"
    assert json.loads(e.to_json()) == e  # what the bench serializes

"""The raster parts of a playing RBM frame against ground truth: known free-energy traces land on the pixel rows and
columns that the axes put them at, in their Okabe-Ito colours, with the mean in grey; a captioned grid keeps its
width and aspect."""
import numpy as np
import torch

from genlib import viz


def rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])


def test_traces_raster_puts_known_traces_on_their_pixel_rows():
    H, W = 330, 390
    mt, mr, mb, ml = viz.TRACES_MARGINS
    ph, pw = H - mt - mb, W - ml - mr
    steps = list(range(0, 41))
    values = [torch.tensor([0.0, 10.0, 10.0 * k / 40]) for k in steps]  # flat at 0, flat at 10, a ramp 0 -> 10
    img = viz.traces_raster(steps, values, (H, W), "Free energy", "Gibbs step", "F(v)")
    assert img.shape == (H, W, 3) and img.dtype == np.uint8
    lo, hi = -0.5, 10.5  # the data's range plus 5 % each side

    def row(y: float) -> int:
        return round(mt + (hi - y) / (hi - lo) * (ph - 1))

    def col(step: float) -> int:
        return round(ml + step / 40 * (pw - 1))

    x = col(10)  # a quarter of the way: the ramp is at 2.5 there, the mean at (0 + 10 + 2.5) / 3
    column = img[mt:mt + ph, x].astype(int)

    def rows_of(color) -> np.ndarray:
        return mt + np.flatnonzero(np.abs(column - color).sum(1) < 40)

    for y, color in [(0.0, rgb(viz.PALETTE[0])), (10.0, rgb(viz.PALETTE[1])), (2.5, rgb(viz.PALETTE[2])),
                     (12.5 / 3, np.array([128, 128, 128]))]:
        found = rows_of(color)
        assert len(found) and abs(found.mean() - row(y)) <= 1.5, (y, found, row(y))
    # the ramp runs from the bottom left to the top right of the data (not at step 20: the mean covers it there)
    ramp = [mt + np.flatnonzero(np.abs(img[mt:mt + ph, col(s)].astype(int) - rgb(viz.PALETTE[2])).sum(1) < 40).mean()
            for s in (5, 30, 35)]
    assert [abs(r - row(10.0 * s / 40)) <= 2 for r, s in zip(ramp, (5, 30, 35))] == [True] * 3
    # nothing drawn right of the last step, inside the plot area; the axes' text lies outside it
    assert (img[mt + 2:mt + ph - 2, col(40) + 3:ml + pw - 1] >= 235).all()
    margin = img.copy()
    margin[mt:mt + ph, ml:ml + pw] = 255
    assert (margin.min(-1) < 120).sum() > 300


def test_traces_raster_skips_non_finite_values_and_draws_one_frame_as_dots():
    one = viz.traces_raster([0], [torch.tensor([1.0, 2.0])], (200, 300))
    assert ((one.astype(int) - rgb(viz.PALETTE[0])) ** 2).sum(-1).min() < 100  # a dot per chain
    nan = viz.traces_raster([0, 1, 2], [torch.tensor([1.0]), torch.tensor([float("nan")]), torch.tensor([3.0])],
                            (200, 300))
    assert nan.shape == (200, 300, 3)


def test_captioned_scales_to_the_width_and_writes_the_caption_under_the_picture():
    grey = np.zeros((92, 62), np.float32)  # black, 92 x 62
    out = viz.captioned(grey, 124, "p(v|h) · step 3")
    assert out.shape == (184 + 24, 124, 3)
    assert (out[:184] < 5).all() and (out[184:] < 200).any() and (out[184:] > 250).any()

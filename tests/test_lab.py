"""The Langevin lab's library parts against ground truth: the KL over live chains only (dead chains never make it
0), the 2-D EBM's colour range and mode count (eight modes within a minute of training), and what the live view's
browser draws the chains from (pages/lab/scene.py: the still parts once, each frame's positions as float32)."""
import base64
import io
import math

import numpy as np
import pytest
import torch

from genlib import densities as D
from genlib import samplers as S
from genlib import viz
from genlib.models.ebm2d import EBM2D, EBM2DConfig, eight_centres, mode_report

from conftest import ROOT


@pytest.fixture(scope="module")
def gauss():
    t = D.make_target("correlated Gaussian")
    return t, t.grid(240)


def test_kl_uses_live_chains_only_and_is_undefined_with_none(gauss):
    t, fine = gauss
    x = t.sample(400, torch.Generator().manual_seed(0))
    dead = x.clone()
    dead[::4] = float("nan")  # every fourth chain dead: the KL is that of the 300 live ones, exactly
    assert S.kl_to_grid(dead, fine) == pytest.approx(S.kl_to_grid(x[torch.isfinite(x).all(1) & (torch.arange(400) % 4 != 0)], fine))
    all_dead = torch.full((300, 2), float("nan"))
    assert math.isnan(S.kl_to_grid(all_dead, fine)) and math.isnan(S.tv_to_grid(all_dead, fine))  # not 0.000
    from pages.lab.common import kl_live, kl_text  # noqa: PLC0415

    kl, live = kl_live(dead, fine)
    assert live == 300 and kl == pytest.approx(S.kl_to_grid(dead[torch.isfinite(dead).all(1)], fine))
    assert kl_text(kl, live, 400) == f"{kl:.3f} (300 of 400 chains live)"
    kl0, live0 = kl_live(all_dead, fine)
    assert live0 == 0 and math.isnan(kl0) and kl_text(kl0, live0, 300) == "— (no live chains)"


def test_scene_draws_the_exact_density_in_the_plot_box_and_the_exact_marginals(gauss):
    """The still parts of the Samplers tab's picture: ULA and MALA side by side in the frame's width, the marginals
    under them; each panel's background is the exact density at the size of the plot box live.js draws it in
    (no rescaling), darkest at the mode; the exact marginals are densities."""
    from PIL import Image

    from pages.lab import scene
    from pages.lab.common import COLORS, FRAME_WIDTH, GAP

    t, fine = gauss
    sc = scene.scene(t, fine, ("ULA", "MALA"), ("ULA on it", "MALA on it"), COLORS, FRAME_WIDTH, GAP, marginals=True)
    (ula, mala), (marg,) = sc["rows"]
    assert ula["width"] == mala["width"] == (FRAME_WIDTH - GAP) // 2 and marg["width"] == FRAME_WIDTH
    assert (ula["title"], ula["color"], ula["dtype"], ula["extent"]) == ("ULA on it", COLORS["ULA"], "f4", list(t.extent))
    left, right, top, bottom = scene.BOX
    js = (ROOT / "pages/views/live.js").read_text()
    assert f"box = [{left}, {top}, w - {left} - {right}, h - {top} - {bottom}]" in js  # the points panel's plot box
    img = Image.open(io.BytesIO(base64.b64decode(ula["bg"].split(",", 1)[1])))
    assert img.size == (ula["width"] - left - right, ula["height"] - top - bottom)
    a = np.asarray(img.convert("L"), dtype=float)
    y, x = np.unravel_index(a.argmin(), a.shape)  # the correlated Gaussian's mode is the origin: the centre
    assert abs(y - a.shape[0] / 2) < 0.05 * a.shape[0] and abs(x - a.shape[1] / 2) < 0.05 * a.shape[1]
    assert a[0, 0] > 250 and a[-1, -1] > 250  # white far from it
    assert marg["of"] == ["ULA", "MALA"] and marg["colors"] == {"ULA": COLORS["ULA"], "MALA": COLORS["MALA"]}
    for j, ex in enumerate(marg["exact"]):
        x, p = np.array(ex["x"]), np.array(ex["p"])
        assert np.trapezoid(p, x) == pytest.approx(1.0, abs=0.02) and marg["ymax"][j] == pytest.approx(1.8 * p.max(), rel=1e-3)
    # the browser rebuilds its canvases when the id changes: another target, other titles, no marginals
    assert scene.scene(t, fine, ("ULA", "MALA"), ("ULA on it", "MALA on it"), COLORS, FRAME_WIDTH, GAP)["id"] != sc["id"]
    assert len(scene.scene(t, fine, ("ULA",), ("ULA",), COLORS, FRAME_WIDTH, GAP)["rows"]) == 1


def test_frame_sends_each_chain_set_as_float32_with_dead_chains_nan(gauss):
    t, _ = gauss
    from pages.lab import scene

    x0 = S.init_chains(50, 2, torch.Generator().manual_seed(0))
    recs = {"ULA": S.Recorder(S.ula(t.grad, x0, 1.0, math.sqrt(2.0), torch.Generator().manual_seed(1)), x0),
            "MALA": S.Recorder(S.mala(t.log_prob, t.grad, x0, 1.0, torch.Generator().manual_seed(1)), x0)}
    for _ in range(4):  # η = 1 sends ULA's chains to infinity within a few steps; MALA rejects those moves
        for r in recs.values():
            r.advance(5)
    f = scene.frame(recs, 4, "the caption")
    assert (f["step"], f["caption"], set(f["parts"])) == (20, "the caption", {"ULA", "MALA"})
    for name, r in recs.items():
        got = np.frombuffer(base64.b64decode(f["parts"][name]), dtype="<f4").reshape(-1, 2)
        assert np.array_equal(got, r.frames[4].numpy().astype(np.float32), equal_nan=True)
    assert np.isnan(np.frombuffer(base64.b64decode(f["parts"]["ULA"]), dtype="<f4")).all()  # dead: NaN, not 0
    assert np.isfinite(np.frombuffer(base64.b64decode(f["parts"]["MALA"]), dtype="<f4")).all()
    assert scene.frame(recs, 0, "")["step"] == 0


def test_energy_colours_span_the_data_region_not_the_far_corners():
    xs = ys = np.linspace(-4, 4, 81)
    gx, gy = np.meshgrid(xs, ys)
    e = (np.hypot(gx, gy) - 2.5) ** 2  # a ring of low energy at radius 2.5 ...
    e[(np.abs(gx) > 3.5) & (np.abs(gy) > 3.5)] = -30.0  # ... and deep corners, as seen in the app
    data = torch.cat([eight_centres() + 0.2 * torch.randn(8, 2, generator=torch.Generator().manual_seed(i))
                      for i in range(40)])
    lo, hi = viz.energy_color_range((xs, ys, e), data)
    assert hi == pytest.approx(-e[np.hypot(gx, gy) < 4].min(), abs=0.05)  # the ring's -E, not the corners' 30
    assert hi < 1 and lo > -2  # within the data's neighbourhood (r in 2.5 ± 0.9): -E from about -0.8 to 0
    fig = viz.energy_map_figure((xs, ys, e), data, None, (-4, 4, -4, 4))
    assert fig.data[0].zmax - fig.data[0].zmin == pytest.approx(hi - lo)
    assert fig.layout.legend.y >= 1 and fig.layout.legend.yanchor == "bottom"  # above the plot: no axis title covered


class _Mixture(EBM2D):
    """An EBM whose energy is -log of the eight-Gaussian mixture itself (the ideal fit), or a plain ring."""

    def __init__(self, ring: bool = False):
        super().__init__(EBM2DConfig())
        self.ring = ring

    def energy(self, x):
        if self.ring:
            return (x.norm(dim=1) - 2.5) ** 2 / (2 * 0.2 ** 2)
        d2 = torch.cdist(x, eight_centres()) ** 2
        return -torch.logsumexp(-d2 / (2 * 0.2 ** 2), 1)


def test_mode_report_tells_eight_modes_from_a_ring():
    good = mode_report(_Mixture())
    assert good["modes"] == 8 and good["min_barrier"] > 5 and good["off_data"] > 5 and good["covered"] == 8
    ring = mode_report(_Mixture(ring=True))
    assert abs(ring["min_barrier"]) < 0.5  # no barrier along the ring: one flat valley


def test_the_page_defaults_separate_the_eight_gaussians():
    """The 2-D EBM tab's default settings, trained through the page's own code path (new_ebm, tick) for 1200
    iterations (about 15 s at one thread on an idle core; the tab runs about 40 iterations a second live, so this
    is about half a minute in the browser): eight modes, each with a local maximum of -E at its centre, separated
    by energy barriers, and Langevin samples in all eight."""
    torch.set_num_threads(1)
    from pages.lab import ebm2d as page  # noqa: PLC0415

    state = page.new_ebm("eight_gaussians", 0, page.DEFAULT_CONFIG, page.DEFAULT_LR)
    while state["trainer"].step_count < 1200:
        assert page.tick(state, budget=10.0, max_steps=50) is not None
    r = mode_report(state["trainer"].model)
    assert r["modes"] == 8 and r["min_barrier"] > 1.0 and r["off_data"] > 0 and r["covered"] == 8, r

"""2-D targets against ground truth: normalising constants, gradients, grids, exact samples, the W&T posterior."""
import math

import numpy as np
import pytest
import torch

from genlib import densities as D


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest


@pytest.mark.parametrize("name", list(D.TARGETS))
def test_closed_form_normaliser_makes_the_grid_integrate_to_one(name):
    # log_prob - log_z is the normalised density in closed form; integrating it on the grid checks both
    t = D.make_target(name)
    xs, ys, pts = t.grid_points(400)
    mass = np.exp(t.log_prob(pts).numpy() - t.log_z).sum() * (xs[1] - xs[0]) * (ys[1] - ys[0])
    assert mass == pytest.approx(1.0, abs=3e-3), name
    gr = t.grid(120)
    assert gr.density.shape == (120, 120)
    assert gr.density.sum() * gr.cell == pytest.approx(1.0, abs=1e-9)
    px, py = gr.marginals()
    assert px.sum() * (gr.xs[1] - gr.xs[0]) == pytest.approx(1.0, abs=1e-9)


def test_gaussian_log_prob_matches_torch_distributions():
    t = D.Gaussian()
    mvn = torch.distributions.MultivariateNormal(t.mean, t.cov)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 2
    assert torch.allclose(t.log_prob(x) - t.log_z, mvn.log_prob(x), atol=1e-10)


@pytest.mark.parametrize("name", [*D.TARGETS, "Welling & Teh posterior"])
def test_closed_form_gradients_match_autograd_and_finite_differences(name):
    t = D.WellingTehPosterior() if name == "Welling & Teh posterior" else D.make_target(name)
    g = torch.Generator().manual_seed(1)
    x0, x1, y0, y1 = t.extent
    x = torch.stack([x0 + (x1 - x0) * torch.rand(40, generator=g, dtype=torch.float64),
                     y0 + (y1 - y0) * torch.rand(40, generator=g, dtype=torch.float64)], 1)
    auto = D.Target.grad(t, x)  # the base class: autograd of log_prob
    assert torch.allclose(t.grad(x), auto, rtol=1e-7, atol=1e-7)
    h = 1e-6
    fd = torch.stack([(t.log_prob(x + h * e) - t.log_prob(x - h * e)) / (2 * h)
                      for e in torch.eye(2, dtype=torch.float64)], 1)
    assert torch.allclose(t.grad(x), fd, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", list(D.TARGETS))
def test_exact_samples_follow_the_exact_marginals(name):
    from scipy import stats

    t = D.make_target(name)
    s = t.sample(4000, torch.Generator().manual_seed(2)).double().numpy()
    gr = t.grid(400)
    px, py = gr.marginals()
    for j, (grid, p) in enumerate([(gr.xs, px), (gr.ys, py)]):
        cdf = np.cumsum(p) * (grid[1] - grid[0])
        d = stats.kstest(s[:, j], lambda v: np.interp(v, grid, cdf)).statistic
        assert d < 0.035, (name, j, d)  # the 1 % critical value for n = 4000 is 0.026, plus grid error


def test_welling_teh_data_and_posterior_are_bimodal():
    t = D.WellingTehPosterior()
    assert t.x.shape == (100,) and t.seed == D.WT_SEED
    # the data are reproducible from the seed and have the mixture's mean theta1 + theta2/2 = 0.5
    assert torch.equal(t.x, D.welling_teh_data())
    assert abs(float(t.x.mean()) - 0.5) < 3 * math.sqrt(2.25 / 100)
    gr = t.grid(200)
    d = gr.density
    up = d[gr.ys > 0]
    down = d[gr.ys < 0]
    iu, id_ = np.unravel_index(up.argmax(), up.shape), np.unravel_index(down.argmax(), down.shape)
    mode_up = (gr.xs[iu[1]], gr.ys[gr.ys > 0][iu[0]])
    mode_down = (gr.xs[id_[1]], gr.ys[gr.ys < 0][id_[0]])
    assert np.hypot(mode_up[0] - 0, mode_up[1] - 1) < 0.3, mode_up
    assert np.hypot(mode_down[0] - 1, mode_down[1] + 1) < 0.3, mode_down
    # comparable heights, and a clear dip on the straight line between the modes
    assert 0.8 < up.max() / down.max() < 1.25
    s = torch.linspace(0, 1, 101, dtype=torch.float64)[:, None]
    line = torch.tensor(mode_up) * (1 - s) + torch.tensor(mode_down) * s
    lp = t.log_prob(line)
    assert float(torch.exp(lp.min() - lp.max())) < 0.7
    a, b = t.mode_masses()
    assert a + b == pytest.approx(1.0) and 0.35 < a < 0.65


def test_minibatch_gradient_is_unbiased():
    t = D.WellingTehPosterior()
    theta = torch.tensor([[0.3, 0.5]], dtype=torch.float64).repeat(20000, 1)
    est = t.minibatch_grad(theta, 5, torch.Generator().manual_seed(3))
    full = t.grad(theta[:1])[0]
    se = est.std(0) / math.sqrt(len(est))
    assert ((est.mean(0) - full).abs() < 4 * se).all(), (est.mean(0), full)
    with pytest.raises(ValueError, match="minibatch"):
        t.minibatch_grad(theta, 0, torch.Generator())


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unknown target"):
        D.make_target("nope")

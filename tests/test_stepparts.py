"""genlib.stepparts: the parts of one Gibbs step and one Langevin/MALA step against the math and against the chain
engine's next state for the same generator."""
import math

import pytest
import torch

from genlib import densities as D
from genlib import samplers as S
from genlib.models.rbm import RBM, RBMConfig
from genlib.stepparts import gibbs_parts, langevin_parts, sampler_settings


def small_rbm(seed: int = 0) -> RBM:
    m = RBM(RBMConfig(n_hidden=7, n_visible=12))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        m.weight.copy_(torch.randn(7, 12, generator=g))
        m.visible_bias.copy_(torch.randn(12, generator=g))
        m.hidden_bias.copy_(torch.randn(7, generator=g))
    return m


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_gibbs_parts_are_the_conditionals_and_the_samplers_next_state(beta):
    m = small_rbm()
    v = (torch.rand(12, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    parts = gibbs_parts(m, v, torch.Generator().manual_seed(5), beta)
    W, b, c = m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach()
    # p(h_j = 1 | v) = sigma(beta (c_j + W_j . v)),  p(v_i = 1 | h) = sigma(beta (b_i + W_:,i . h))
    assert torch.allclose(parts.p_h, torch.sigmoid(beta * (W @ v + c)), atol=1e-6)
    assert torch.allclose(parts.p_v, torch.sigmoid(beta * (W.t() @ parts.h + b)), atol=1e-6)
    assert set(parts.h.unique().tolist()) <= {0.0, 1.0} and set(parts.v_next.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(parts.v, v)
    # the chain engine, same generator: the same hidden sample's mean and the same next state
    state = next(S.gibbs(m, v[None], torch.Generator().manual_seed(5), beta))
    assert torch.equal(state.x[0], parts.v_next) and torch.equal(state.mean[0], parts.p_v)


def test_gibbs_coins_follow_their_probabilities():
    """Each h_j is a coin with P(1) = p(h_j = 1 | v): over many draws the frequencies match."""
    m = small_rbm(3)
    v = torch.ones(12)
    g = torch.Generator().manual_seed(0)
    hs = torch.stack([gibbs_parts(m, v, g).h for _ in range(4000)])
    p = torch.sigmoid(m.hidden_bias + m.weight @ v).detach()
    assert torch.allclose(hs.mean(0), p, atol=0.03)


def test_ula_parts_are_the_update_and_the_samplers_next_state():
    t = D.make_target("banana")
    x, eta = torch.tensor([1.5, -1.0]), 0.3
    parts = langevin_parts(t, x, eta, torch.Generator().manual_seed(7))
    assert torch.allclose(parts.grad, t.grad(x[None])[0])
    assert torch.allclose(parts.drift, eta / 2 * parts.grad)  # (eta/2) grad log p(x)
    assert torch.allclose(parts.noise, math.sqrt(eta) * parts.xi)  # sqrt(eta) xi
    assert torch.allclose(parts.proposal, x + parts.drift + parts.noise) and torch.equal(parts.x_next, parts.proposal)
    assert parts.alpha is None and parts.accepted
    step, noise = sampler_settings(eta)
    state = next(S.ula(t.grad, x[None], step, noise, torch.Generator().manual_seed(7)))
    assert torch.equal(state.x[0], parts.x_next)
    # temperature 1: the noise matches the step (T = sigma^2 / (2 step) = eta / eta)
    assert S.temperature(step, noise) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(6))
def test_mala_parts_are_the_metropolis_hastings_test_and_the_samplers_next_state(seed):
    t = D.make_target("correlated Gaussian")
    x, eta = torch.tensor([2.0, -1.5]), 0.8
    parts = langevin_parts(t, x, eta, torch.Generator().manual_seed(seed), mala=True)
    y = parts.proposal

    def log_q(a, b):  # log q(a | b) up to a constant: N(a; b + (eta/2) grad log p(b), eta I)
        mean = b + eta / 2 * t.grad(b[None])[0]
        return float(-((a - mean) ** 2).sum() / (2 * eta))

    log_alpha = float(t.log_prob(y[None]) - t.log_prob(x[None])) + log_q(x, y) - log_q(y, x)
    assert parts.log_alpha == pytest.approx(log_alpha, abs=1e-4)
    assert parts.alpha == pytest.approx(min(1.0, math.exp(log_alpha)), abs=1e-4)
    assert parts.accepted == (parts.u < parts.alpha)
    assert torch.equal(parts.x_next, y if parts.accepted else x)
    step, noise = sampler_settings(eta)
    state = next(S.mala(t.log_prob, t.grad, x[None], step, torch.Generator().manual_seed(seed), noise=noise))
    assert torch.equal(state.x[0], parts.x_next) and bool(state.accepted[0]) == parts.accepted


def test_mala_rejects_some_and_accepts_some():
    t = D.make_target("correlated Gaussian")
    acc = [langevin_parts(t, torch.tensor([1.0, 1.0]), 0.5, torch.Generator().manual_seed(s), mala=True).accepted
           for s in range(40)]
    assert 0 < sum(acc) < 40


def test_a_bad_step_size_is_refused():
    t = D.make_target("banana")
    for eta in (0.0, -1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError):
            langevin_parts(t, torch.zeros(2), eta, torch.Generator())

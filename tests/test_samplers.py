"""Samplers and diagnostics against ground truth: Gaussian moments, MALA invariance, SGLD on the W&T posterior,
the SGLD optimizer's update, ESS of iid and AR(1) draws, dead chains and refused settings."""
import math

import numpy as np
import pytest
import torch
from scipy import stats

from genlib import densities as D
from genlib import samplers as S


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny tensors: see conftest


def run(gen, steps):
    for st in gen:
        if st.step == steps:
            return st


def std_normal():
    return D.Gaussian(cov=((1.0, 0.0), (0.0, 1.0)))


def test_ula_small_step_recovers_mean_and_variance_of_a_standard_gaussian():
    t, g = std_normal(), torch.Generator().manual_seed(0)
    eta = 0.01
    st = run(S.ula(t.grad, S.init_chains(4000, 2, g), eta, math.sqrt(2 * eta), g), 800)
    x = st.x
    # exact stationary variance of this ULA (an AR(1) with coefficient 1 - eta) is 2 eta / (1 - (1 - eta)^2)
    assert x.mean(0).abs().max() < 4 * math.sqrt(1 / 4000)
    assert torch.allclose(x.var(0), torch.ones(2, dtype=x.dtype), atol=0.07)


def test_ula_temperature_course_noise_halves_the_variance():
    # sigma = sqrt(eta): T = 1/2, the chains sample p^2 = N(0, 1/2) in the small-step limit
    t, g = std_normal(), torch.Generator().manual_seed(1)
    eta = 0.01
    assert S.temperature(eta, math.sqrt(eta)) == pytest.approx(0.5)
    st = run(S.ula(t.grad, S.init_chains(4000, 2, g), eta, math.sqrt(eta), g), 800)
    assert torch.allclose(st.x.var(0), torch.full((2,), 0.5, dtype=st.x.dtype), atol=0.04)


def test_ula_is_biased_at_a_large_step_and_mala_is_not():
    # ULA on N(0, 1) with x <- (1 - eta) x + sqrt(2 eta) w has stationary variance 1 / (1 - eta/2): 2 at eta = 1
    t = std_normal()
    g = torch.Generator().manual_seed(2)
    x0 = t.sample(4000, g).double()
    u = run(S.ula(t.grad, x0, 1.0, math.sqrt(2.0), g), 200).x
    assert float(u.var(0).mean()) == pytest.approx(2.0, rel=0.08)
    st = run(S.mala(t.log_prob, t.grad, x0, 1.0, g), 200)
    assert float(st.x.var(0).mean()) == pytest.approx(1.0, rel=0.08)
    assert 0.05 < st.acceptance_rate < 0.95


@pytest.mark.parametrize("eta", [0.1, 0.8])
def test_mala_leaves_a_correlated_gaussian_invariant(eta):
    t = D.Gaussian()  # correlation 0.9
    g = torch.Generator().manual_seed(3)
    x0 = t.sample(3000, g).double()  # start in the stationary law
    st = run(S.mala(t.log_prob, t.grad, x0, eta, g), 30)
    x = st.x.numpy()
    # each coordinate is still N(0, 1) (Kolmogorov-Smirnov) and the correlation is still 0.9
    for j in range(2):
        assert stats.kstest(x[:, j], "norm").pvalue > 0.01
    assert np.corrcoef(x.T)[0, 1] == pytest.approx(0.9, abs=0.02)
    assert st.n_dead == 0 and 0 < st.acceptance_rate < 1
    # and the test can fail: ULA at eta = 0.1 leaves the law (stationary correlation 0.81 instead of 0.9),
    # at eta = 0.8 > 2 / 10 (10 = the largest eigenvalue of the precision) it sends every chain to infinity
    u = run(S.ula(t.grad, t.sample(3000, g).double(), eta, math.sqrt(2 * eta), g), 30)
    if eta == 0.1:
        assert np.corrcoef(u.x.numpy().T)[0, 1] < 0.85
    else:
        assert u.n_dead == 3000


def test_mala_acceptance_falls_with_the_step():
    t, g = D.Banana(), torch.Generator().manual_seed(4)
    rates = [run(S.mala(t.log_prob, t.grad, S.init_chains(500, 2, g), eta, g), 100).acceptance_rate
             for eta in (0.01, 0.1, 1.0)]
    assert rates[0] > rates[1] > rates[2] and rates[0] > 0.9


def test_sgld_on_the_welling_teh_posterior_visits_both_modes():
    t = D.WellingTehPosterior()
    g = torch.Generator().manual_seed(5)
    x0 = S.init_chains(20, 2, g)
    sched = S.StepSchedule(a=0.01, b=1.0, gamma=0.0)
    frames = []
    for st in S.sgld(lambda th: t.minibatch_grad(th, 10, g), x0, sched, g):
        frames.append(st.x.clone())
        if st.step == 3000:
            break
    tr = torch.stack(frames[500:])  # [T, C, 2]
    up = (tr[:, :, 1] > 0).double()  # the mode near (0, 1) vs the one near (1, -1)
    exact_up, _ = t.mode_masses()
    assert float(up.mean()) == pytest.approx(exact_up, abs=0.15)
    assert float(((up.mean(0) > 0.05) & (up.mean(0) < 0.95)).double().mean()) >= 0.5  # most chains switch modes
    # SGD with the same steps and minibatches settles in one mode per chain and never switches
    tr_sgd = torch.stack([st.x.clone() for st, _ in zip(S.sgd(lambda th: t.minibatch_grad(th, 10, g), x0, sched, g),
                                                       range(3000))][500:])
    up_sgd = (tr_sgd[:, :, 1] > 0).double().mean(0)
    assert bool(((up_sgd == 0) | (up_sgd == 1)).all())
    # SGD's end points sit near the modes, with less spread than SGLD's samples of the same mode
    assert (tr_sgd[-1][tr_sgd[-1][:, 1] > 0].std(0) < tr[tr[:, :, 1] > 0].std(0)).all()


def test_sgld_optimizer_matches_the_update_formula_exactly():
    g = torch.Generator().manual_seed(6)
    p = torch.nn.Parameter(torch.randn(3, 2, generator=g, dtype=torch.float64))
    q = torch.nn.Parameter(torch.randn(4, generator=g, dtype=torch.float64))
    opt = S.SGLD([p, q], a=0.1, b=2.0, gamma=0.55, generator=torch.Generator().manual_seed(7))
    ref = torch.Generator().manual_seed(7)
    for t in range(3):
        before = [p.detach().clone(), q.detach().clone()]
        opt.zero_grad()
        loss = (p ** 2).sum() + torch.sin(q).sum()
        loss.backward()
        grads = [p.grad.clone(), q.grad.clone()]
        opt.step()
        eps = 0.1 * (2.0 + t) ** -0.55
        for b, gr, now in zip(before, grads, [p, q]):
            w = torch.randn(b.shape, generator=ref, dtype=b.dtype)
            # the same numbers up to float rounding (the order of the additions may differ)
            torch.testing.assert_close(now.detach(), b - 0.5 * eps * gr + math.sqrt(eps) * w, rtol=0, atol=1e-13)
    assert opt.state[p]["step"] == 3


def test_sgld_optimizer_samples_a_gaussian_posterior():
    # U(theta) = theta^2 / 2 (posterior N(0, 1)): with a small constant step the iterates have variance ~1
    theta = torch.nn.Parameter(torch.zeros(2000, dtype=torch.float64))
    opt = S.SGLD([theta], a=0.02, b=1.0, gamma=0.0, generator=torch.Generator().manual_seed(8))
    for _ in range(600):
        opt.zero_grad()
        (0.5 * theta ** 2).sum().backward()
        opt.step()
    assert float(theta.detach().var()) == pytest.approx(1.0, abs=0.1)


def test_step_schedule():
    s = S.StepSchedule(a=0.5, b=3.0, gamma=0.55)
    assert s(0) == pytest.approx(0.5 * 3 ** -0.55) and s(10) == pytest.approx(0.5 * 13 ** -0.55)
    assert np.all(np.diff(s(np.arange(100))) < 0)
    for bad in [dict(a=0.0), dict(b=-1.0), dict(gamma=1.5)]:
        with pytest.raises(ValueError):
            S.StepSchedule(**{**dict(a=0.1, b=1.0, gamma=0.5), **bad})


def test_ess_of_iid_and_ar1_draws():
    rng = np.random.default_rng(9)
    n = 20000
    assert S.ess(rng.standard_normal(n)) == pytest.approx(n, rel=0.07)
    assert S.ess(rng.standard_normal((n // 4, 4))) == pytest.approx(n, rel=0.07)
    for rho in (0.5, 0.9):
        w = rng.standard_normal((n // 4, 4))
        x = np.zeros_like(w)
        x[0] = w[0]
        for t in range(1, len(x)):
            x[t] = rho * x[t - 1] + math.sqrt(1 - rho ** 2) * w[t]
        assert S.ess(x) == pytest.approx(n * (1 - rho) / (1 + rho), rel=0.15), rho
        ac = S.autocorrelation(x, 5)
        assert np.allclose(ac, rho ** np.arange(6), atol=0.03)


def test_kl_and_mmd_tell_exact_samples_from_wrong_ones():
    t = D.Gaussian()
    gr = t.grid(240)
    g = torch.Generator().manual_seed(10)
    exact, wrong = t.sample(20000, g), torch.randn(20000, 2, generator=g)  # wrong: no correlation
    assert S.kl_to_grid(exact, gr) < 0.03 < 0.3 < S.kl_to_grid(wrong, gr)
    assert S.tv_to_grid(exact, gr) < 0.1 < 0.3 < S.tv_to_grid(wrong, gr)
    assert abs(S.mmd2(exact[:1000], t.sample(1000, g))) < 0.005 < S.mmd2(wrong[:1000], t.sample(1000, g))


def test_exploding_step_kills_those_chains_only():
    # on the banana the curvature across x1 grows like 4 x1^2: a step of 0.2 is stable on the line x1 = 0 (which
    # a noiseless chain never leaves) and sends chains started at |x1| = 2.5 to infinity
    t = D.Banana()
    x0 = torch.tensor([[2.5, 2.0], [0.0, 1.0], [-2.5, 2.0], [0.0, -2.0], [0.0, 3.0]], dtype=torch.float64)
    states = [s for _, s in zip(range(60), S.ula(t.grad, x0, 0.2, 0.0, torch.Generator()))]
    st = states[-1]
    assert st.alive.tolist() == [False, True, False, True, True]
    assert bool(torch.isnan(st.x[~st.alive]).all()) and bool(torch.isfinite(st.x[st.alive]).all())
    assert sum(s.died for s in states) == st.n_dead
    # the live chains follow exactly the path they take without the exploding ones (no contamination)
    alone = [s for _, s in zip(range(60), S.ula(t.grad, x0[st.alive], 0.2, 0.0, torch.Generator()))][-1]
    assert torch.equal(alone.x, st.x[st.alive])


def test_exploding_gaussian_chains_die_while_mala_rejects():
    t, g = std_normal(), torch.Generator().manual_seed(13)
    x0 = S.init_chains(50, 2, g)
    st = run(S.ula(t.grad, x0, 3.0, 0.1, g), 200)  # |1 - eta| = 2 > 1: geometric blow-up
    assert st.n_dead == 50 and torch.isnan(st.x).all()
    m = run(S.mala(t.log_prob, t.grad, x0, 3.0, g), 50)
    assert m.n_dead == 0 and torch.isfinite(m.x).all() and m.acceptance_rate < 0.2


def test_impossible_settings_are_refused_with_a_clear_message():
    t, g = std_normal(), torch.Generator().manual_seed(14)
    with pytest.raises(ValueError, match="chains must be at least 1"):
        S.init_chains(0, 2, g)
    with pytest.raises(ValueError, match="chains must be at least 1"):
        S.ula(t.grad, torch.zeros(0, 2), 0.1, 0.1, g)  # checked at the call, before any step
    with pytest.raises(ValueError, match="noise scale must be zero or positive"):
        S.ula(t.grad, torch.zeros(3, 2), 0.1, -0.5, g)  # checked at the call, before any step
    with pytest.raises(ValueError, match="step size must be a positive"):
        S.mala(t.log_prob, t.grad, torch.zeros(3, 2), 0.0, g)  # checked at the call, before any step
    with pytest.raises(ValueError, match="noise scale"):
        S.mala(t.log_prob, t.grad, torch.zeros(3, 2), 0.1, g, noise=float("nan"))  # checked at the call, before any step


def test_chain_records_frames_for_scrubbing():
    t, g = std_normal(), torch.Generator().manual_seed(15)
    x0 = S.init_chains(7, 2, g)
    ch = S.Recorder(S.mala(t.log_prob, t.grad, x0, 0.2, g), x0, max_frames=4)
    for _ in range(3):
        ch.advance(3)
    assert ch.steps == [0, 3, 6, 9] and not ch.full and ch.trace().shape == (4, 7, 2)
    assert ch.acceptance[0] is None and 0 < ch.acceptance[-1] <= 1
    # the recorded frames are the chain's states: a fresh chain with the same seed passes through them
    g2 = torch.Generator().manual_seed(15)
    x0b = S.init_chains(7, 2, g2)
    chain = S.mala(t.log_prob, t.grad, x0b, 0.2, g2)
    assert torch.equal(S.run(chain, 6).x, ch.frame(2))


def test_recorder_keeps_a_window_of_the_last_frames_and_runs_on():
    """Past max_frames the chain goes on and the oldest frame is dropped, with its entry in every list: the window
    holds the last max_frames frames of the same chain recorded without a limit."""
    t = std_normal()

    def recorder(max_frames):
        g = torch.Generator().manual_seed(16)
        x0 = S.init_chains(6, 2, g)
        return S.Recorder(S.mala(t.log_prob, t.grad, x0, 0.3, g), x0, max_frames=max_frames,
                          energy=lambda x: -t.log_prob(x), means=True)

    window, whole = recorder(5), recorder(10**6)
    for _ in range(12):
        window.advance(2)
        whole.advance(2)
    assert len(window) == 5 and window.dropped == 8 and window.recorded == 13 == len(whole)
    assert window.steps == [16, 18, 20, 22, 24] == whole.steps[-5:] and window.first_step == 16
    assert not window.full  # no chain length: it never stops
    for name in ("means", "energies", "acceptance", "step_sizes"):
        assert len(getattr(window, name)) == 5
    assert window.acceptance == whole.acceptance[-5:] and window.step_sizes == whole.step_sizes[-5:]
    for i in range(5):
        assert torch.equal(window.frame(i), whole.frame(8 + i))
        assert torch.equal(window.mean(i), whole.mean(8 + i))
        assert torch.equal(window.energies[i], whole.energies[8 + i])
    assert window.trace().shape == (5, 6, 2)
    # the chain's length still ends it (`full`), however many frames were dropped
    g = torch.Generator().manual_seed(16)
    x0 = S.init_chains(6, 2, g)
    short = S.Recorder(S.ula(t.grad, x0, 0.1, 0.3, g), x0, max_frames=3, total_steps=9)
    while not short.full:
        short.advance(2)
    assert short.steps == [6, 8, 9] and short.advance(2) == 0 and short.steps[-1] == 9


def test_frames_for_keeps_the_digit_budget():
    from genlib import limits

    assert limits.frames_for(1) == limits.MAX_FRAMES
    assert limits.frames_for(64) == min(limits.MAX_FRAMES, limits.MAX_FRAME_DIGITS // 64)
    for n in (1, 16, 36, 100, 1024, 10**6):
        assert 1 <= limits.frames_for(n) <= limits.MAX_FRAMES
        assert limits.frames_for(n) * n <= max(limits.MAX_FRAME_DIGITS, n)  # one frame at least, whatever n


def test_recorder_stops_at_the_chain_length_and_records_energies():
    t, g = std_normal(), torch.Generator().manual_seed(3)
    x0 = S.init_chains(5, 2, g)
    ch = S.Recorder(S.ula(t.grad, x0, 0.1, 0.3, g), x0, total_steps=10, energy=lambda x: -t.log_prob(x))
    for _ in range(4):
        ch.advance(4)
    assert ch.steps == [0, 4, 8, 10] and ch.full  # the last advance takes only the 2 steps left
    assert len(ch.energies) == 4 and torch.allclose(ch.energies[-1], -t.log_prob(ch.frame(-1)))


def test_2d_ebm_learns_low_energy_on_the_data_with_langevin_negatives():
    from genlib.data import toy_data
    from genlib.models.ebm2d import EBM2DConfig

    g = torch.Generator().manual_seed(16)
    data = toy_data("eight_gaussians", 2000, g)
    from genlib.models import create
    from genlib.train import TrainConfig, Trainer

    model = create("ebm2d", EBM2DConfig(persistent=False, steps=20), seed=16)
    trainer = Trainer(model, data, TrainConfig(lr=1e-3, batch_size=128, seed=16))
    assert trainer.run(150) is not None, trainer.message
    assert model.negatives.shape == (128, 2) and float(model.negatives.abs().max()) <= 4.0
    with torch.no_grad():
        e_data = model.energy(data[:500]).mean()
        e_noise = model.energy((torch.rand(500, 2, generator=g) * 2 - 1) * 4).mean()
        e_centre = model.energy(0.3 * torch.randn(500, 2, generator=g)).mean()  # the empty middle of the ring of modes
    assert e_data < e_noise - 1 and e_data < e_centre - 1
    # its Langevin samples sit closer to the data than uniform noise does (MMD with a 0.5 kernel)
    samples = model.langevin(model._noise(500, g), 200, g)
    assert S.mmd2(samples, data[:500], 0.5) < 0.5 * S.mmd2(model._noise(500, g), data[:500], 0.5)
    with pytest.raises(ValueError, match="noise >= 0"):
        EBM2DConfig(noise=-0.1)

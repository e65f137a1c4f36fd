"""RBM: free energy, exact log Z, Gibbs marginals, AIS and the CD/PCD update against enumeration of tiny models."""
import json

import pytest
import torch

from harness import run_cli
from genlib import checkpoints, models
from genlib.models.rbm import (RBM, RBMConfig, ais, base_rate_biases, default_betas, exact_log_probs, exact_log_z,
                               pseudo_likelihood_exact)
from genlib.samplers import Recorder, gibbs
from genlib.train import TrainConfig, Trainer


def tiny(n_visible=6, n_hidden=4, scale=1.0, seed=0, **kw) -> RBM:
    torch.manual_seed(seed)
    m = RBM(RBMConfig(n_visible=n_visible, n_hidden=n_hidden, init_std=scale, init_seed=seed, **kw))
    with torch.no_grad():
        m.visible_bias.normal_(0, scale)
        m.hidden_bias.normal_(0, scale)
    return m


def all_states(n: int) -> torch.Tensor:
    """Every binary vector of length n, row r = bits of r (least significant first), as exact_log_probs orders them."""
    return torch.tensor([[(r >> i) & 1 for i in range(n)] for r in range(1 << n)], dtype=torch.float64)


def brute_joint(m: RBM) -> torch.Tensor:
    """-E(v, h) for every (v, h) [2^V, 2^H], in float64, straight from E = -b.v - c.h - h^T W v."""
    W, b, c = (t.detach().double() for t in (m.weight, m.visible_bias, m.hidden_bias))
    v, h = all_states(m.config.n_visible), all_states(m.config.n_hidden)
    return (v @ b)[:, None] + (h @ c)[None, :] + v @ W.t() @ h.t()


def test_free_energy_is_minus_log_sum_over_hidden_states():
    m = tiny()
    v = all_states(6).float()
    brute = -torch.logsumexp(brute_joint(m), 1)
    assert torch.allclose(m.free_energy(v).double(), brute, atol=1e-5)
    # and at inverse temperature beta: F_beta(v) = -log sum_h exp(-beta E(v, h))
    assert torch.allclose(m.free_energy(v, beta=0.3).double(), -torch.logsumexp(0.3 * brute_joint(m), 1), atol=1e-5)


@pytest.mark.parametrize("n_visible,n_hidden", [(6, 4), (5, 9)])  # sums over hidden, then over visible states
def test_exact_log_z_equals_brute_force(n_visible, n_hidden):
    m = tiny(n_visible, n_hidden, scale=1.5)
    brute = float(torch.logsumexp(brute_joint(m).flatten(), 0))
    assert exact_log_z(m) == pytest.approx(brute, abs=1e-9)
    assert exact_log_z(m, beta=0.5) == pytest.approx(float(torch.logsumexp(0.5 * brute_joint(m).flatten(), 0)), abs=1e-9)
    assert exact_log_probs(m).exp().sum().item() == pytest.approx(1.0, abs=1e-12)


def test_exact_log_z_refuses_large_models():
    with pytest.raises(ValueError, match="at most 20"):
        exact_log_z(RBM(RBMConfig(n_hidden=21)))


def _state_index(v: torch.Tensor) -> torch.Tensor:
    return (v.long() << torch.arange(v.shape[1])).sum(1)


@pytest.mark.parametrize("beta", [1.0, 0.5])
def test_gibbs_chain_marginals_match_the_exact_distribution(beta):
    m = tiny(scale=1.5, seed=3)
    g = torch.Generator().manual_seed(0)
    v = torch.bernoulli(torch.full((4000, 6), 0.5), generator=g)
    counts = torch.zeros(64)
    chain = gibbs(m, v, g, beta=beta)
    for t in range(60):
        v = next(chain).x
        if t >= 20:  # burn-in
            counts += torch.bincount(_state_index(v), minlength=64)
    empirical = counts / counts.sum()
    W, b, c = (t.detach().double() for t in (m.weight, m.visible_bias, m.hidden_bias))
    s = all_states(6)
    neg_f = beta * (s @ b) + torch.nn.functional.softplus(beta * (s @ W.t() + c)).sum(1)  # -F_beta(v)
    exact = torch.softmax(neg_f, 0)
    if beta == 1.0:
        assert torch.allclose(exact, exact_log_probs(m).exp())
    tv = 0.5 * (empirical.double() - exact).abs().sum().item()
    assert tv < 0.02, tv  # 160 000 correlated draws; a wrong conditional gives TV > 0.1
    wrong_beta = torch.softmax(neg_f / beta * (1.5 - beta), 0)  # beta 1 <-> 0.5: a chain at the wrong temperature
    assert 0.5 * (exact - wrong_beta).abs().sum() > 0.06  # ... would fail the tolerance: the test has teeth
    assert 0.5 * (exact - 1 / 64).abs().sum() > 0.1


def test_ais_matches_exact_log_z_on_a_small_model():
    m = tiny(n_visible=20, n_hidden=10, scale=0.5, seed=1)
    exact = exact_log_z(m)
    g = torch.Generator().manual_seed(0)
    idx = exact_log_probs(m).exp().float().multinomial(2000, replacement=True, generator=g)  # exact samples
    data = ((idx[:, None] >> torch.arange(20)) & 1).float()
    res = ais(m, base_rate_biases(data), n_runs=100, betas=default_betas(2000), generator=g)
    assert abs(res.logz - exact) < 0.05, (res.logz, exact)
    assert res.logz_low - 0.02 <= exact <= res.logz_high + 0.02
    assert res.logz_low < res.logz < res.logz_high


def test_ais_on_a_mnist_sized_model_with_few_hidden_units():
    # 784 visible units, 12 hidden: exact log Z sums 4096 hidden states; AIS starts from a base rate of digits
    torch.manual_seed(0)
    from genlib.data import bundled_digits

    x = torch.bernoulli(bundled_digits().images[:1000].reshape(-1, 784), generator=torch.Generator().manual_seed(0))
    m = RBM(RBMConfig(n_hidden=12, init_std=0.1))
    with torch.no_grad():
        m.visible_bias.copy_(base_rate_biases(x))
        m.hidden_bias.normal_(0, 0.5)
    res = ais(m, base_rate_biases(x), n_runs=100, betas=default_betas(1000), generator=torch.Generator().manual_seed(1))
    assert abs(res.logz - exact_log_z(m)) < 0.1


def test_default_beta_schedule():
    b = default_betas()
    assert len(b) == 14_500 and b[0] == 0 and b[-1] == 1 and (b[1:] > b[:-1]).all()
    assert int((b < 0.5).sum()) == 500 and int(((b >= 0.5) & (b < 0.9)).sum()) == 4000


def test_pseudo_likelihood_equals_the_sum_of_exact_conditionals():
    m = tiny(scale=1.2)
    s = all_states(6)
    logp = exact_log_probs(m)
    # log p(v_i | v_-i) = log p(v) - log(p(v) + p(v with bit i flipped))
    brute = torch.zeros(64, dtype=torch.float64)
    for i in range(6):
        flipped = torch.arange(64) ^ (1 << i)
        brute += logp - torch.logaddexp(logp, logp[flipped])
    assert torch.allclose(pseudo_likelihood_exact(m, s.float()).double(), brute, atol=1e-4)


def test_cd1_gradient_equals_the_hand_formula_and_the_free_energy_difference():
    m = tiny(n_visible=7, n_hidden=5, scale=0.7)
    m.initialized.fill_(True)  # skip the data-dependent init of the first step
    g = torch.Generator().manual_seed(0)
    v0 = torch.bernoulli(torch.full((9, 7), 0.4), generator=g)
    state = g.get_state()
    m.compute_grads(v0, g)
    # replay the same random numbers by hand: h0 ~ p(h|v0), v1 ~ p(v|h0)
    g.set_state(state)
    W, b, c = m.weight.detach(), m.visible_bias.detach(), m.hidden_bias.detach()
    ph0 = torch.sigmoid(v0 @ W.t() + c)
    h0 = torch.bernoulli(ph0, generator=g)
    v1 = torch.bernoulli(torch.sigmoid(h0 @ W + b), generator=g)
    ph1 = torch.sigmoid(v1 @ W.t() + c)
    dW = sum(torch.outer(ph0[n], v0[n]) - torch.outer(ph1[n], v1[n]) for n in range(9)) / 9
    assert torch.allclose(m.weight.grad, -dW, atol=1e-6)
    assert torch.allclose(m.visible_bias.grad, -(v0 - v1).mean(0), atol=1e-6)
    assert torch.allclose(m.hidden_bias.grad, -(ph0 - ph1).mean(0), atol=1e-6)
    # the course's loss: d/dtheta [mean F(v0) - mean F(v1)] with v1 held fixed is the same update
    ref = tiny(n_visible=7, n_hidden=5, scale=0.7)
    with torch.enable_grad():
        (ref.free_energy(v0).mean() - ref.free_energy(v1).mean()).backward()
    for p, q in zip(m.parameters(), ref.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6)


def test_cdk_and_pcd_run_without_autograd():
    from genlib.data import bundled_digits

    x = bundled_digits().images[:600]
    for cfg in (RBMConfig(n_hidden=32, k=3), RBMConfig(n_hidden=32, persistent=True, n_chains=50)):
        torch.manual_seed(0)
        m = RBM(cfg)
        tr = Trainer(m, x, TrainConfig(optimizer="sgd", lr=0.05, momentum=0.5, batch_size=50))
        with torch.no_grad():  # the update needs no graph at all
            tr.run(3)
        assert all(p.grad is not None and p.grad.grad_fn is None for p in m.parameters())
        assert tr.step_count == 3 and tr.message is None


def test_first_step_sets_visible_biases_and_pcd_chains_persist():
    m = RBM(RBMConfig(n_hidden=16, persistent=True, n_chains=20))
    g = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.full((50, 784), 0.2), generator=g)
    m.compute_grads(x, g)
    p = x.mean(0).clamp(0.01, 0.99)
    assert torch.allclose(m.visible_bias, torch.log(p / (1 - p)))
    assert bool(m.initialized) and "chains" in m.state_dict()
    before = m.chains.clone()
    m.compute_grads(x, g)
    assert (m.chains != before).any()  # the chains moved on and were kept
    assert "chains" not in RBM(RBMConfig(n_hidden=4)).state_dict()  # CD has no persistent state


def test_training_improves_reconstruction_and_pseudo_likelihood(mnist):
    torch.manual_seed(0)
    m = RBM(RBMConfig(n_hidden=64, persistent=True, n_chains=100))
    tr = Trainer(m, mnist.train.images[:2000], TrainConfig(optimizer="sgd", lr=0.05, momentum=0.5, batch_size=100))
    val = mnist.val.images[:300]
    tr.run(1)
    first = tr.validate(val)
    tr.run(200)
    last = tr.validate(val)
    assert last["recon"] < 0.85 * first["recon"]
    assert last["pseudo_ll"] > first["pseudo_ll"] + 20
    assert set(tr.history[-1]) >= {"train_recon", "val_recon", "val_free_energy", "val_pseudo_ll"}


def test_a_learning_rate_that_blows_the_weights_up_rolls_back(mnist):
    torch.manual_seed(0)
    m = RBM(RBMConfig(n_hidden=32))
    tr = Trainer(m, mnist.train.images[:500], TrainConfig(optimizer="sgd", lr=1e4, batch_size=50))
    before = m.weight.detach().clone()
    assert tr.run(10) is None
    assert "diverged" in tr.message and "weights blew up" in tr.message
    assert torch.equal(m.weight.detach(), before)


@pytest.mark.parametrize("bad", [dict(k=0), dict(n_chains=0), dict(n_hidden=0)])
def test_nonsense_settings_are_refused(bad):
    with pytest.raises(ValueError):
        RBMConfig(**bad)


def test_gibbs_chain_records_frames():
    m = RBM(RBMConfig(n_hidden=16))
    g = torch.Generator().manual_seed(0)
    beta = {"now": 1.0}
    v0 = torch.bernoulli(torch.full((5, 784), 0.5), generator=g)
    ch = Recorder(gibbs(m, v0, g, beta=lambda: beta["now"]), v0, energy=m.free_energy, store=torch.uint8, means=True)
    ch.advance(3)
    beta["now"] = 0.5  # read before every step: a page changes the temperature of a running chain
    ch.advance(2)
    assert ch.steps == [0, 3, 5] and len(ch.means) == len(ch.frames) == len(ch.energies) == 3
    mean, sample = ch.mean(2), ch.frame(2)
    assert set(sample.unique().tolist()) <= {0.0, 1.0} and mean.shape == sample.shape == (5, 784)
    assert 0 <= mean.min() and mean.max() <= 1 and len(ch) == 3
    assert torch.allclose(ch.energies[2], m.free_energy(sample))
    # the same steps by hand: h ~ p(h|v), v ~ p(v|h) at beta 1 three times, then at beta 0.5 twice
    g2 = torch.Generator().manual_seed(0)
    v = torch.bernoulli(torch.full((5, 784), 0.5), generator=g2)
    for b in (1.0, 1.0, 1.0, 0.5, 0.5):
        v, pv, _ = m.gibbs_step(v, g2, b)
    assert torch.equal(v, sample) and torch.allclose(pv, mean, atol=1e-3)  # means are kept as float16
    frames = m.sample_chain(4, 10, g, every=5)
    assert len(frames) == 3 and all(0 <= f.min() and f.max() <= 1 for f in frames)


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    m = RBM(RBMConfig(n_hidden=16, persistent=True, n_chains=10))
    g = torch.Generator().manual_seed(0)
    m.compute_grads(torch.bernoulli(torch.full((20, 784), 0.3), generator=g), g)
    path = checkpoints.save(tmp_path / "rbm.safetensors", m)
    back = models.load(path)
    assert isinstance(back, RBM) and back.config == m.config
    names = set(checkpoints.read(path).model_tensors())
    assert {"weight", "visible_bias", "hidden_bias"} <= names
    assert checkpoints.read(path).tensors["weight"].shape == (16, 784)
    for k, v in m.state_dict().items():
        assert torch.equal(back.state_dict()[k], v)
    with pytest.raises(checkpoints.CheckpointError, match="'rbm' checkpoint, but a 'vae'"):
        models.load(path, kind="vae")
    # a checkpoint whose config says 32 hidden units but holds 16
    ck = checkpoints.read(path)
    ck.meta["config"]["n_hidden"] = 32
    with pytest.raises(checkpoints.CheckpointError, match="shape"):
        models.build(ck)


def _cli(*args):
    # one thread: AIS is 14 500 small sequential steps, which threads only slow down on a busy 2-core machine
    return run_cli(*args, env={"OMP_NUM_THREADS": "1"}, process=True)


def test_cli_train_eval_sample_gif(tmp_path, mnist_test_root):
    out = tmp_path / "rbm.safetensors"
    p = _cli("train", "rbm", "--preset", "small", "--epochs", "1", "--set", "n_hidden=8", "--quiet", "--out", out)
    assert p.rc == 0, p.err
    p = _cli("eval", out, "--data-dir", mnist_test_root, "--limit", "300")
    assert p.rc == 0, p.err
    r = json.loads(p.out.strip().splitlines()[-1])
    assert r["kind"] == "rbm" and r["n"] == 300
    assert abs(r["ais_logz"] - r["exact_logz"]) < 0.1  # 8 hidden units: AIS against the exact answer
    assert r["test_ll"] == pytest.approx(r["exact_test_ll"], abs=0.1) and r["test_ll"] < 0
    assert r["ais_logz_low"] <= r["ais_logz"] <= r["ais_logz_high"]
    assert {"recon", "free_energy", "pseudo_ll"} <= set(r)
    gif = tmp_path / "chain.gif"
    p = _cli("sample", out, "--out", gif, "--n", "9", "--steps", "5")
    assert p.rc == 0, p.err
    assert gif.read_bytes()[:6] in (b"GIF89a", b"GIF87a")


def test_cli_refuses_k_zero_and_zero_chains(tmp_path):
    for bad in ("k=0", "n_chains=0"):
        p = _cli("train", "rbm", "--set", bad, "--out", tmp_path / "x.safetensors")
        assert p.rc != 0 and "invalid setting" in p.err and "Traceback" not in p.err


def test_pcd_negative_phase_matches_the_exact_model_expectation():
    # with many persistent chains at equilibrium (no parameter updates in between), the PCD gradient equals
    # the exact log-likelihood gradient -(E_data[p(h|v) v^T] - E_model[h v^T]), computed by enumeration
    m = tiny(n_visible=6, n_hidden=4, scale=1.0, seed=2, persistent=True, n_chains=20_000)
    g = torch.Generator().manual_seed(0)
    data = torch.bernoulli(torch.full((50, 6), 0.3), generator=g)
    m.compute_grads(data, g)  # first call: biases and chains from the data
    for _ in range(30):  # burn in the chains
        m.compute_grads(data, g)
    grads = torch.zeros(4, 6)
    for _ in range(10):
        m.compute_grads(data, g)
        grads += m.weight.grad / 10
    W, c = m.weight.detach().double(), m.hidden_bias.detach().double()
    s = all_states(6)
    p = exact_log_probs(m).exp()
    model_term = (torch.sigmoid(s @ W.t() + c) * p[:, None]).t() @ s  # E_model[p(h|v) v^T]  [4, 6]
    data_term = torch.sigmoid(data.double() @ W.t() + c).t() @ data.double() / len(data)
    exact = -(data_term - model_term)
    assert torch.allclose(grads.double(), exact, atol=0.006), (grads.double() - exact).abs().max()
    # a chain that never moved (the data as negatives) would be far off
    assert (exact - torch.zeros(4, 6, dtype=torch.float64)).abs().max() > 0.05


def test_fast_bernoulli_draws_exactly_what_torch_bernoulli_draws():
    from genlib.models.rbm import bernoulli

    p = torch.rand(37, 53, generator=torch.Generator().manual_seed(5))
    for shape_p in (p, p[:1].expand(37, -1)):
        a = torch.bernoulli(shape_p, generator=torch.Generator().manual_seed(0))
        b = bernoulli(shape_p, torch.Generator().manual_seed(0))
        assert torch.equal(a, b)


def test_hidden_input_kept_for_the_same_state_is_never_stale():
    """The kept c + W v (RBM.hidden_input outside autograd) equals a fresh product after every kind of change: a
    view of the same state, the state changed in place, the weights or biases changed in place, a new state in the
    same memory, and with autograd on."""
    m = tiny(n_visible=8, n_hidden=5, seed=3)
    fresh = lambda v: torch.addmm(m.hidden_bias.detach(), v.reshape(len(v), -1), m.weight.detach().t())  # noqa: E731
    v = torch.bernoulli(torch.full((4, 8), 0.5), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        first = m.hidden_input(v)
        assert torch.equal(first, fresh(v)) and m.hidden_input(v.view(4, 8)) is first  # kept for the same state
        v[0] = 1 - v[0]  # the state changed in place
        assert torch.equal(m.hidden_input(v), fresh(v))
        m.weight.mul_(2.0)  # an optimiser step changes the weights in place
        assert torch.equal(m.hidden_input(v), fresh(v))
        m.hidden_bias.add_(1.0)
        assert torch.equal(m.hidden_input(v), fresh(v))
        v.copy_(torch.ones(4, 8))  # other numbers in the same memory
        assert torch.equal(m.hidden_input(v), fresh(v))
        assert torch.equal(m.free_energy(v), -(v @ m.visible_bias) - torch.nn.functional.softplus(fresh(v)).sum(1))
    out = m.hidden_input(v)  # autograd on: a fresh product that carries the graph
    assert out.requires_grad and out is not m.hidden_input(v)

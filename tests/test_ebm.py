"""EBM on MNIST: Langevin against a known Gaussian, the replay buffer, the loss, and the divergence guard."""
import math

import pytest
import torch

from genlib import checkpoints, models
from genlib.models.ebm import EBM, EBMConfig, EnergyDiverged
from genlib.samplers import langevin_images, run
from genlib.quality import frechet_distance
from genlib.train import TrainConfig, Trainer


def test_langevin_on_a_quadratic_energy_samples_the_exact_gaussian():
    # E(x) = |x|^2 / (2 s^2): the update x' = (1 - eta/s^2) x + sqrt(2 eta) eps is AR(1) with stationary
    # variance 2 eta / (1 - (1 - eta/s^2)^2) = s^2 / (1 - eta / (2 s^2)), mean 0.
    s2, eta = 0.04, 0.002
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4000, 1, 28, 28, generator=g) * 2 - 1
    energy = lambda z: z.pow(2).flatten(1).sum(1) / (2 * s2)
    x = run(langevin_images(energy, x, eta, math.sqrt(2 * eta), 1e9, g), 300).x
    exact = 2 * eta / (1 - (1 - eta / s2) ** 2)
    assert abs(exact - s2 / (1 - eta / (2 * s2))) < 1e-12
    assert abs(x.mean().item()) < 3 * math.sqrt(exact / x.numel()) * 10
    assert x.var().item() == pytest.approx(exact, rel=0.01)


def test_langevin_gradient_clamp_and_pixel_range():
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(8, 1, 28, 28)
    energy = lambda z: -1000 * z.flatten(1).sum(1)  # pushes every pixel up hard
    x1 = run(langevin_images(energy, x, 10.0, 0.0, 0.03, g), 1).x
    assert torch.allclose(x1, torch.full_like(x1, 0.3))  # step 10 x clamp 0.03
    x2 = run(langevin_images(energy, x, 10.0, 0.0, 0.03, g), 10).x
    assert x2.max() == 1.0  # clamped to the pixel range


def test_replay_buffer_reinitialisation_rate_and_write_back():
    torch.manual_seed(0)
    model = EBM(EBMConfig(buffer_size=256, reinit=0.05, steps=2))
    g = torch.Generator().manual_seed(1)
    model.negatives_start(1, g)  # fills the buffer from noise
    marked = torch.full_like(model.replay, 7.0)  # a value uniform noise in [-1, 1] never takes
    model.replay.copy_(marked)
    fresh = 0
    for _ in range(200):
        x, idx = model.negatives_start(100, g)
        fresh += int((x.flatten(1)[:, 0] != 7.0).sum())
    rate = fresh / 20000
    assert rate == pytest.approx(0.05, abs=0.006)  # binomial sd ~ 0.0015
    model.train()
    before = model.replay.clone()
    model.loss(torch.rand(16, 1, 28, 28, generator=g), g)
    changed = (model.replay != before).flatten(1).any(1)
    assert 1 <= int(changed.sum()) <= 16  # the chains were written back to their slots


def test_loss_terms_match_the_definition():
    torch.manual_seed(0)
    model = EBM(EBMConfig(steps=1, alpha=0.5))
    g = torch.Generator().manual_seed(0)
    out = model.loss(torch.rand(32, 1, 28, 28, generator=g), g)
    assert out["loss"].item() == pytest.approx(
        (out["e_data"] - out["e_sample"] + 0.5 * out["reg"]).item(), rel=1e-5)
    out["loss"].backward()
    assert all(p.grad is not None for p in model.parameters())


def test_divergence_guard_rolls_back_on_exploding_energies(mnist):
    torch.manual_seed(0)
    model = EBM(EBMConfig(steps=2, buffer_size=64))
    tr = Trainer(model, mnist.train.images[:256], TrainConfig(lr=1e-4, beta1=0.0, batch_size=32))
    assert tr.run(2) is not None
    good = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model.net[-1].bias.fill_(1e6)  # forced blow-up
    with pytest.raises(EnergyDiverged):
        model.loss(mnist.train.images[:8], torch.Generator())
    model.load_state_dict(good)
    tr.set_hparams(lr=1e3)  # a learning rate that blows the energies up within a few steps
    assert tr.run(30) is None
    assert "energies exploded" in tr.message or "NaN" in tr.message or "nan" in tr.message
    for k, v in model.state_dict().items():
        assert torch.equal(v, good[k]), k


def test_checkpoint_round_trip_keeps_the_replay_buffer(tmp_path):
    torch.manual_seed(0)
    model = EBM(EBMConfig(buffer_size=32))
    model.negatives_start(4, torch.Generator().manual_seed(0))
    path = checkpoints.save(tmp_path / "ebm.safetensors", model)
    loaded = models.load(path, kind="ebm")
    assert torch.equal(loaded.replay, model.replay) and bool(loaded.replay_ready)
    x = torch.rand(3, 1, 28, 28)
    assert torch.equal(loaded(x), model.eval()(x))


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(20000, 3, generator=g, dtype=torch.float64)
    b = torch.randn(20000, 3, generator=g, dtype=torch.float64) * 2 + torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64)
    # N(0, I) vs N(m, 4I): |m|^2 + 3 * (1 + 4 - 2 * 2) = 1 + 3 = 4
    assert frechet_distance(a, b) == pytest.approx(4.0, rel=0.03)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)


def test_sample_scores_average_over_sampling_seeds(mnist):
    from genlib import quality

    model = models.load(checkpoints.resolve("ebm-mnist"), kind="ebm")
    clf = models.load(checkpoints.resolve(quality.CLASSIFIER), kind="classifier")

    def scores(seeds):
        out, samples, g = quality.sample_scores(lambda n, g: model.sample(n, g, 32), clf, mnist.val.images,
                                                mnist.train.images, n_samples=100, seeds=seeds)
        assert samples.shape == (100 * seeds, 1, 28, 28)
        return {**out, **model.eval_metrics(mnist.val.images, samples, g)}

    one, two = scores(1), scores(2)
    assert one["sample_frechet"] == one["sample_frechet_min"] == one["sample_frechet_max"]
    assert two["sample_frechet_min"] == pytest.approx(min(one["sample_frechet"], 2 * two["sample_frechet"] - one["sample_frechet"]))
    assert two["sample_frechet_min"] < two["sample_frechet_max"]  # another seed, other chains
    assert two["sample_frechet_floor"] < two["sample_frechet_min"]  # 32 steps from noise are not real digits yet
    assert two["energy_noise"] > two["energy_real"]

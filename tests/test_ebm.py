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


def _twin_trainers(mnist, **cfg):
    """Two identical runs: the same model weights, data, settings and seed. Bitwise equal results need one intra-op
    thread (the one_torch_thread fixture): with two, the CPU kernels' reductions may round differently run to run."""
    torch.manual_seed(0)
    model = EBM(EBMConfig(steps=12, buffer_size=64, **cfg))
    twin = EBM(model.config)
    twin.load_state_dict(model.state_dict())
    data = mnist.train.images[:96]
    conf = TrainConfig(lr=1e-3, beta1=0.0, batch_size=16, seed=3)
    return Trainer(model, data, conf), Trainer(twin, data, conf)


def _split(trainer: Trainer, val_every: int = 10):
    """The trainer with its EBM iterations spread over ticks (Trainer.split), and that split."""
    from genlib.models.ebm import LangevinIteration

    trainer.split = LangevinIteration(trainer.model, val_every)
    return trainer.split


def test_an_iteration_split_across_ticks_equals_the_undivided_iteration(mnist, one_torch_thread):
    whole, split = _twin_trainers(mnist)
    outs = [whole.step() for _ in range(8)]  # 8 undivided iterations (crosses an epoch boundary: 96 / 16 = 6)
    _split(split)
    ticks = 0
    while split.step_count < 8:
        rec = split.tick(None, budget=None, max_work=5)  # 12 Langevin steps per iteration: 3 ticks each
        assert rec is not None and rec["done"] <= 12
        ticks += 1
        if split.step_count < 8 and rec["steps"] == 0:
            assert rec["phase"] == "train" and 0 < rec["done"] < 12  # in the middle of an iteration's chain
    assert ticks >= 8 * 12 // 5  # the iterations were really cut into pieces
    for out, rec in zip(outs, split.history):
        for k, v in out.items():
            assert rec[f"train_{k}"] == v, k  # the same loss terms, bit for bit
    for (k, a), b in zip(whole.model.state_dict().items(), split.model.state_dict().values()):
        assert torch.equal(a, b), k  # the same weights and replay buffer
    split.rewind()  # the last tick may have begun iteration 9: back to the end of iteration 8
    assert torch.equal(whole.generator.get_state(), split.generator.get_state())
    assert (whole.step_count, whole.epoch, whole.pos) == (split.step_count, split.epoch, split.pos)


def test_split_validation_equals_trainer_validate_and_rewind_is_exact(mnist, one_torch_thread):
    whole, split = _twin_trainers(mnist)
    val = mnist.val.images[:40]
    for _ in range(2):
        whole.step()
    expected = whole.validate(val)
    it = _split(split, val_every=2)
    while "val_loss" not in (split.history[-1] if split.history else {}):
        assert split.tick(val, budget=None, max_work=7) is not None
    assert split.step_count == 2
    assert {k[4:]: v for k, v in split.history[-1].items() if k.startswith("val_")} == expected
    # rewinding in the middle of an iteration leaves the run at its last finished step; redoing it gives the same
    split.rewind()  # the tick that finished the validation may have begun iteration 3
    split.tick(val, budget=None, max_work=5)
    assert it.phase == "train" and it.done == 5 and split.pos == 3 * 16
    split.rewind()
    assert it.phase == "idle" and split.pos == 2 * 16
    assert torch.equal(whole.generator.get_state(), split.generator.get_state())
    out = whole.step()
    assert split.tick(val, budget=None, max_steps=1)["steps"] == 1
    assert split.history[-1]["train_loss"] == out["loss"]


def test_split_training_rolls_back_a_diverged_iteration(mnist, one_torch_thread):
    _, tr = _twin_trainers(mnist)
    it = _split(tr)
    assert tr.tick(None, budget=None, max_steps=1) is not None
    good = {k: v.clone() for k, v in tr.model.state_dict().items()}
    tr.tick(None, budget=None, max_work=3)  # an iteration in progress
    with torch.no_grad():
        tr.model.net[-1].bias.fill_(1e6)  # its energies explode at the optimizer step
    assert tr.tick(None, budget=None) is None
    assert "energies exploded" in tr.message and tr.step_count == 1 and it.phase == "idle"
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, good[k]), k


def test_a_split_tick_keeps_its_budget_and_the_validation_bound(mnist, one_torch_thread):
    """A tick of split iterations does at least one Langevin step and stops at its budget or its work limit; a
    validation pass takes at most 500 digits (one batch of genlib.train.evaluate)."""
    _, tr = _twin_trainers(mnist)
    it = _split(tr, val_every=1)
    rec = tr.tick(None, budget=0.0)  # a budget of 0 s: one Langevin step, no more
    assert rec["done"] == 1 and rec["steps"] == 0 and it.phase == "train"
    assert tr.tick(None, budget=None, max_work=11)["steps"] == 1 and it.phase == "idle"
    with pytest.raises(ValueError, match="at most 500 digits"):
        tr.tick(mnist.train.images[:501], budget=None, max_work=1)
    assert it.phase == "idle" and tr.tick(None, budget=None, max_work=1)["done"] == 1  # nothing half begun

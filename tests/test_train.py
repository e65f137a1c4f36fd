"""The trainer: learning happens, resume is exact, hyperparameters change mid-run, divergence rolls back."""
import pytest
import torch

from genlib import checkpoints, models
from genlib.models.autoencoder import AEConfig, Autoencoder
from genlib.train import TrainConfig, Trainer, evaluate


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.train.images[:600]


def make(digits, **kw):
    torch.manual_seed(0)
    return Trainer(Autoencoder(AEConfig(code_size=4, hidden=(64,))), digits, TrainConfig(batch_size=50, **kw))


def test_training_lowers_the_loss(digits, mnist):
    tr = make(digits, lr=3e-3)
    before = evaluate(tr.model, mnist.val.images)["loss"]
    for _ in range(5):
        assert tr.run(tr.steps_per_epoch) is not None
    after = tr.validate(mnist.val.images)["loss"]
    assert after < 0.8 * before
    assert tr.epoch == 4 and tr.step_count == 60 and len(tr.history) == 5 and "val_loss" in tr.history[-1]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_resume_is_exact(digits, tmp_path, optimizer):
    n, k = 30, 17  # k is not a multiple of the epoch length (12 steps): resume mid-epoch
    opts = dict(optimizer=optimizer, lr=1e-2 if optimizer == "sgd" else 1e-3, momentum=0.9 if optimizer == "sgd" else 0.0)
    a = make(digits, **opts)
    a.run(n)
    b = make(digits, **opts)
    b.run(k)
    b.save(tmp_path / "mid.safetensors")
    c = models.resume(tmp_path / "mid.safetensors", digits)
    c.run(n - k)
    assert c.step_count == n
    for (name, p), q in zip(a.model.state_dict().items(), c.model.state_dict().values()):
        if not name.startswith("code_"):  # the code statistics are fitted when a file is written (b's was)
            assert torch.equal(p, q), name
    fa, fc = (checkpoints.from_bytes(t.to_bytes()).tensors for t in (a, c))
    assert all(torch.equal(v, fc[name]) for name, v in fa.items())  # the files they write are the same


def test_weight_average_follows_its_recursion_and_is_what_a_checkpoint_holds(digits, tmp_path):
    d = 0.8
    tr = make(digits, lr=1e-2, ema=d)
    expected = None
    for _ in range(7):  # w_ema <- d * w_ema + (1 - d) * w after every step, starting at the first step's weights
        tr.run(1)
        w = {k: p.detach().clone() for k, p in tr.model.named_parameters()}
        expected = w if expected is None else {k: d * expected[k] + (1 - d) * w[k] for k in w}
    for k, v in expected.items():
        torch.testing.assert_close(tr.ema[k], v, rtol=1e-6, atol=1e-7)
    raw = {k: p.detach().clone() for k, p in tr.model.named_parameters()}
    tr.save(tmp_path / "ema.safetensors")
    saved = models.load(tmp_path / "ema.safetensors").state_dict()
    for k, v in expected.items():
        torch.testing.assert_close(saved[k], v, rtol=1e-6, atol=1e-7)
        assert not torch.equal(saved[k], raw[k])
        assert torch.equal(dict(tr.model.named_parameters())[k], raw[k])  # saving leaves the raw weights in place
    tr.set_hparams(ema=0.0)
    assert tr.ema is None


def test_resume_with_a_weight_average_is_exact(digits, tmp_path):
    a = make(digits, ema=0.9)
    a.run(20)
    b = make(digits, ema=0.9)
    b.run(9)
    b.save(tmp_path / "mid.safetensors")
    c = models.resume(tmp_path / "mid.safetensors", digits)
    c.run(11)
    for k, p in a.model.named_parameters():
        assert torch.equal(p, dict(c.model.named_parameters())[k]), k
        assert torch.equal(a.ema[k], c.ema[k]), k


def test_changing_lr_and_batch_size_mid_run_keeps_the_run(digits):
    tr = make(digits)
    tr.run(5)
    w = tr.model.encoder[0].weight.clone()
    tr.set_hparams(lr=1e-4, batch_size=20)
    assert tr.optimizer.param_groups[0]["lr"] == 1e-4
    x = tr.next_batch()
    assert len(x) == 20 and tr.step_count == 5
    tr.run(3)
    assert tr.step_count == 8 and not torch.equal(w, tr.model.encoder[0].weight)


def test_linear_lr_decay():
    c = TrainConfig(lr=1.0, lr_end=0.0, decay_steps=10)
    assert [c.lr_at(s) for s in (0, 5, 10, 20)] == [1.0, 0.5, 0.0, 0.0]
    assert TrainConfig(lr=0.3).lr_at(1000) == 0.3
    c = TrainConfig(lr=1.0, lr_end=0.0, decay_steps=10, decay_start=100)  # a resumed run decays from its start
    assert [c.lr_at(s) for s in (0, 100, 105, 110, 200)] == [1.0, 1.0, 0.5, 0.0, 0.0]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_learning_rate_1e4_diverges_and_restores_the_last_good_state(digits, optimizer):
    tr = make(digits, lr=1e-3, optimizer=optimizer)
    assert tr.run(6) is not None
    good = {k: v.clone() for k, v in tr.model.state_dict().items()}
    tr.set_hparams(lr=1e4)
    assert tr.run(50) is None  # the loss turns inf/NaN within a few steps
    assert "diverged" in tr.message and "restored the last good state (step 6)" in tr.message
    assert tr.step_count == 6 and len(tr.history) == 1
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, good[k]), k
    tr.set_hparams(lr=1e-3)  # the run goes on from the good state
    assert tr.run(3) is not None and tr.message is None and tr.step_count == 9


def test_divergence_rolls_back_exactly_to_the_start_of_the_failing_run(digits):
    tr = make(digits, lr=1e-3)
    tr.run(4)
    snapshot = {k: v.clone() for k, v in tr.model.state_dict().items()}
    steps = tr.step_count
    orig_loss = tr.model.loss

    calls = {"n": 0}

    def flaky(x, g):
        calls["n"] += 1
        out = orig_loss(x, g)
        return {"loss": out["loss"] * float("nan")} if calls["n"] == 3 else out

    tr.model.loss = flaky
    assert tr.run(10) is None
    assert tr.step_count == steps
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, snapshot[k]), k
    assert "near step" in tr.message


def test_invalid_settings_are_refused():
    for bad in (dict(lr=0), dict(lr=float("nan")), dict(batch_size=0), dict(optimizer="lbfgs"), dict(ema=1.0)):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    with pytest.raises(ValueError):
        AEConfig(code_size=0)


def test_generators_are_private_to_each_trainer(digits):
    torch.manual_seed(123)
    a = make(digits)
    a.run(3)
    torch.manual_seed(999)  # the global RNG must not matter
    b = make(digits)
    b.run(3)
    assert all(torch.equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))


def test_checkpoint_without_trainer_state_cannot_resume(tmp_path, digits):
    tr = make(digits)
    checkpoints.save(tmp_path / "w.safetensors", tr.model)
    with pytest.raises(checkpoints.CheckpointError, match="no trainer state"):
        models.resume(tmp_path / "w.safetensors", digits)


def test_the_page_download_equals_the_command_lines_file(tmp_path, mnist):
    """The same run (autoencoder, weight average on, 1 epoch, seed 3) written by `python -m genlib train` and by the
    app's "Save checkpoint" button holds the same tensors (the averaged weights, the code statistics fitted to them,
    the trainer state) and the same metadata but for the command and the time."""
    from genlib.data import load_mnist
    from harness import run_cli
    from pages.views.training import checkpoint_bytes

    out = tmp_path / "cli.safetensors"
    r = run_cli("train", "ae", "--set", "hidden=[32]", "--set", "ema=0.9", "--epochs", "1", "--seed", "3", "--quiet",
                "--out", out)
    assert r.rc == 0, r.err
    mn = load_mnist(None)
    model = models.create("ae", AEConfig(hidden=(32,)), seed=3)
    tr = Trainer(model, mn.train.images, TrainConfig(lr=1e-3, batch_size=128, seed=3, ema=0.9))
    tr.run(tr.steps_per_epoch)
    tr.validate(mn.val.images)
    page = checkpoints.from_bytes(checkpoint_bytes(tr, mn.description), "download.safetensors")
    file = checkpoints.read(out)
    assert set(page.tensors) == set(file.tensors) and any(k.startswith("trainer.ema.") for k in file.tensors)
    for k, v in file.tensors.items():
        assert torch.equal(page.tensors[k], v), k
    assert not torch.equal(file.tensors["code_std"], torch.ones(2))  # fitted, in both
    differ = {k for k in file.meta if page.meta.get(k) != file.meta[k]}
    assert differ <= {"command", "created", "metrics"}, differ
    assert {k: v for k, v in file.meta["metrics"].items() if k != "train_seconds"} == page.meta["metrics"]


def test_a_floating_point_error_in_validation_rolls_the_tick_back(digits):
    """The EBM page with lr 1e4: the steps went through, then validation raised EnergyDiverged (a FloatingPointError).
    tick must roll back like a diverged step, set `message` and return None, not raise."""
    from genlib.models.ebm import EnergyDiverged

    tr = make(digits, lr=1e-3)
    assert tr.tick(digits[:100], budget=10, max_steps=3) is not None
    good = {k: v.clone() for k, v in tr.model.state_dict().items()}
    steps, history, rng = tr.step_count, len(tr.history), tr.generator.get_state()
    orig_loss = tr.model.loss

    def loss(x, g=None):
        if not tr.model.training:  # validation runs in eval mode
            raise EnergyDiverged("energies exploded")
        return orig_loss(x, g)

    tr.model.loss = loss
    assert tr.tick(digits[:100], budget=10, max_steps=3) is None
    assert "diverged" in tr.message and "energies exploded" in tr.message and f"(step {steps})" in tr.message
    assert tr.step_count == steps and len(tr.history) == history and torch.equal(tr.generator.get_state(), rng)
    for k, v in tr.model.state_dict().items():
        assert torch.equal(v, good[k]), k
    tr.model.loss = orig_loss  # the run goes on
    assert tr.tick(digits[:100], budget=10, max_steps=3) is not None and tr.message is None


def test_set_hparams_checks_types_and_bounds(digits):
    tr = make(digits)
    for bad, words in ((dict(batch_size=64.5), "whole number"), (dict(batch_size=10**9), "60,000"),
                       (dict(lr=float("nan")), "finite"), (dict(lr="0.1"), "must be a number")):
        with pytest.raises(ValueError, match=words):
            tr.set_hparams(**bad)
    assert tr.config.batch_size == 50


def test_a_step_whose_validation_loss_is_infinite_rolls_back(mnist):
    """Learning rate 10 000 on the autoencoder: one step leaves weights that are finite but whose validation loss is
    infinite; the run counts that as diverged, like a training step's infinite loss, and goes back to its last good
    state (before, a tick of one step kept those weights: the AE lesson's codes at about 10^18)."""
    tr = Trainer(models.create("ae", AEConfig(code_size=2), 0), mnist.train.images, TrainConfig(lr=1e4, batch_size=128))
    before = {k: v.clone() for k, v in tr.model.state_dict().items()}
    for _ in range(2):  # and again: nothing is kept
        assert tr.tick(mnist.val.images[:500], budget=None, max_steps=1) is None
        assert tr.step_count == 0 and "in validation: validation loss = inf" in tr.message, tr.message
        assert all(torch.equal(before[k], v) for k, v in tr.model.state_dict().items())

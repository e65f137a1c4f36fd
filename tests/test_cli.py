"""The command line: train / eval / sample / info, JSON on the last stdout line, clean errors.

Every call goes through conftest.run_cli: in this process (no new interpreter and torch import per call), or a real
`python -m genlib` (process=True) where only a new process shows what is tested.
"""
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import ROOT, last_json, run_cli
from harness import assert_refused


def assert_one_line_error(rc, stdout, stderr, *words):
    assert_refused((rc, stdout, stderr), *words)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "ae.safetensors"
    rc, stdout, stderr = run_cli("train", "ae", "--epochs", "2", "--seed", "3", "--out", out,
                                 "--set", "code_size=3", "--set", "hidden=[64]", "--set", "lr=0.003")
    assert rc == 0, stderr
    return out, last_json(stdout), stderr


def test_train_writes_a_checkpoint_and_reports_json(trained):
    out, summary, stderr = trained
    assert out.exists() and summary["out"] == str(out) and summary["kind"] == "ae"
    assert summary["epochs"] == 2 and summary["steps"] == 2 * 36 and summary["dataset"] == "bundled"
    assert 0 < summary["val_loss"] < 0.2
    assert "epoch" in stderr and "100%" in stderr  # the progress bar goes to stderr


def test_info_shows_the_metadata_and_the_exact_command(trained):
    out, summary, _ = trained
    rc, stdout, _ = run_cli("info", out)
    meta = last_json(stdout)
    assert rc == 0 and meta["kind"] == "ae" and meta["config"] == {"code_size": 3, "hidden": [64]}
    assert meta["steps"] == summary["steps"] and meta["metrics"]["val_loss"] == summary["val_loss"]
    assert meta["command"].startswith("python -m genlib train ae --epochs 2 --seed 3")
    assert meta["parameters"] == (784 * 64 + 64) + (64 * 3 + 3) + (3 * 64 + 64) + (64 * 784 + 784) + 2 * 3


def test_eval_on_the_real_test_split(trained, mnist_test_root):
    out, summary, _ = trained
    rc, stdout, stderr = run_cli("eval", out, "--data-dir", mnist_test_root, "--limit", "2000")
    res = last_json(stdout)
    assert rc == 0, stderr
    assert res["split"] == "test" and res["n"] == 2000 and res["dataset"] == "MNIST test split"
    assert abs(res["loss"] - summary["val_loss"]) < 0.02  # test error close to validation error


def test_eval_without_test_files_is_a_clean_error(trained, tmp_path):
    out, _, _ = trained
    rc, stdout, stderr = run_cli("eval", out, "--data-dir", tmp_path)
    assert rc == 2 and stdout == "" and "no test split" in stderr and "Traceback" not in stderr


def test_sample_png_and_npy(trained, tmp_path):
    out, _, _ = trained
    rc, stdout, _ = run_cli("sample", out, "--n", "16", "--out", tmp_path / "s.png")
    assert rc == 0 and last_json(stdout)["shape"] == [16, 1, 28, 28]
    img = Image.open(tmp_path / "s.png")
    assert img.size == (4 * 30 + 2, 4 * 30 + 2)  # 4 x 4 grid of 28 px digits with 2 px padding
    rc, stdout, _ = run_cli("sample", out, "--n", "5", "--out", tmp_path / "s.npy")
    arr = np.load(tmp_path / "s.npy")
    assert rc == 0 and arr.shape == (5, 1, 28, 28) and arr.dtype == np.float32 and 0 <= arr.min() and arr.max() <= 1


@pytest.mark.parametrize("args, message", [
    (["info", "missing.safetensors"], "no such file"),
    (["eval", "requirements.txt"], "not a valid safetensors file"),
    (["train", "nonsense"], "unknown model kind"),
    (["train", "ae", "--preset", "nope"], "unknown preset"),
    (["train", "ae", "--set", "colour=red"], "unknown setting"),
    (["train", "ae", "--set", "code_size"], "key=value"),
    (["train", "ae", "--set", "lr=-1"], "learning rate"),
    (["train", "ae", "--epochs", "0"], "epochs"),
])
def test_user_mistakes_exit_non_zero_without_traceback(args, message):
    rc, stdout, stderr = run_cli(*args)
    assert rc == 2 and message in stderr and "Traceback" not in stderr, stderr


def test_sample_refuses_gif_for_a_model_without_a_chain(trained, tmp_path):
    out, _, _ = trained
    rc, _, stderr = run_cli("sample", out, "--out", tmp_path / "x.gif")
    assert rc == 2 and "no sampling chain" in stderr
    rc, _, stderr = run_cli("sample", out, "--out", tmp_path / "x.jpg")
    assert rc == 2 and ".png, .gif or .npy" in stderr
    assert not (tmp_path / "x.gif").exists()


def test_diverging_training_exits_non_zero_with_a_message(tmp_path):
    rc, stdout, stderr = run_cli("train", "ae", "--epochs", "1", "--set", "lr=10000", "--out", tmp_path / "d.safetensors")
    assert rc == 2 and "diverged" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "d.safetensors").exists()


def test_every_subcommand_has_help():
    for sub in ("train", "eval", "sample", "info"):
        rc, stdout, _ = run_cli(sub, "--help")
        assert rc == 0 and "usage: python -m genlib " + sub in stdout


def test_divergence_after_good_epochs_saves_the_last_good_state(tmp_path):
    # plain SGD whose learning rate climbs linearly by 100 per epoch: fine for ten epochs, then it blows up
    out = tmp_path / "late.safetensors"
    rc, stdout, stderr = run_cli("train", "ae", "--epochs", "40", "--out", out, "--quiet", "--set", 'optimizer="sgd"',
                                 "--set", "lr=0.001", "--set", "lr_end=1e7", "--set", "decay_steps=3600000",
                                 "--set", "hidden=[64]")
    assert rc == 2 and "diverged" in stderr and "Saved that state" in stderr and "Traceback" not in stderr
    import torch

    import genlib as g
    from genlib import checkpoints

    meta = checkpoints.read_meta(out)
    assert meta["steps"] > 0 and meta["steps"] % 36 == 0  # the end of the last good epoch (36 steps each)
    assert "# diverged in epoch" in meta["command"]
    assert all(torch.isfinite(p).all() for p in g.load(out).parameters())


def test_the_same_seed_gives_the_same_weights_in_a_new_process(tmp_path):
    import genlib as g

    outs = [tmp_path / f"run{i}.safetensors" for i in range(2)]
    for out in outs:  # two separate processes: nothing but --seed may decide the initial weights
        rc, _, stderr = run_cli("train", "ae", "--epochs", "1", "--seed", "5", "--out", out, "--quiet", "--weights-only",
                                "--set", "hidden=[32]", process=True)
        assert rc == 0, stderr
    a, b = (g.load(o).state_dict() for o in outs)
    assert all(a[k].equal(b[k]) for k in a)


def test_resume_continues_the_run_exactly(tmp_path):
    """2 epochs in one go equal 1 epoch, then --resume for 1 more (same device, so bit-exact)."""
    import genlib as g
    from genlib import checkpoints

    common = ["--quiet", "--seed", "2", "--set", "hidden=[32]", "--set", "code_size=2"]
    one, two, resumed = (tmp_path / f"{n}.safetensors" for n in ("one", "two", "resumed"))
    assert run_cli("train", "ae", "--epochs", "1", "--out", one, *common)[0] == 0
    assert run_cli("train", "ae", "--epochs", "2", "--out", two, *common)[0] == 0
    rc, stdout, stderr = run_cli("train", "ae", "--resume", one, "--epochs", "1", "--out", resumed, "--quiet")
    assert rc == 0, stderr
    assert last_json(stdout)["steps"] == 2 * 36
    a, b = g.load(two).state_dict(), g.load(resumed).state_dict()
    assert all(a[k].equal(b[k]) for k in a)
    origin = checkpoints.read_meta(resumed)["resumed_from"]  # the recipe stays traceable
    assert origin["steps"] == 36 and origin["command"].startswith("python -m genlib train ae --epochs 1")


def test_resume_changes_training_settings_only(tmp_path):
    from genlib import checkpoints

    out = tmp_path / "a.safetensors"
    assert run_cli("train", "ae", "--epochs", "1", "--out", out, "--quiet", "--set", "hidden=[16]")[0] == 0
    rc, stdout, stderr = run_cli("train", "ae", "--resume", out, "--epochs", "1", "--set", "lr=1e-4",
                                 "--out", tmp_path / "b.safetensors", "--quiet")
    assert rc == 0, stderr
    for args, message in [(["--set", "code_size=3"], "only training settings"),
                          (["--preset", "default"], "does not go with --resume")]:
        rc, _, stderr = run_cli("train", "ae", "--resume", out, *args, "--out", tmp_path / "c.safetensors")
        assert rc == 2 and message in stderr and "Traceback" not in stderr
    rc, _, stderr = run_cli("train", "vae", "--resume", out, "--out", tmp_path / "c.safetensors")
    assert rc == 2 and "holds a ae model" in stderr
    # a linear decay set on resume starts where the resume starts: lr, then lr_end after this run's 36 steps
    rc, _, stderr = run_cli("train", "ae", "--resume", out, "--epochs", "1", "--set", "lr_end=0",
                            "--out", tmp_path / "d.safetensors", "--quiet")
    lr0 = checkpoints.read_meta(out)["trainer"]["train_config"]["lr"]
    trainer = checkpoints.read_meta(tmp_path / "d.safetensors")["trainer"]
    assert rc == 0 and trainer["train_config"]["decay_start"] == 36 and trainer["train_config"]["decay_steps"] == 36
    assert trainer["param_groups"][0]["lr"] == pytest.approx(lr0 / 36)  # the last step's: lr0 * (1 - 35/36)
    assert not (tmp_path / "c.safetensors").exists()


def test_max_minutes_stops_after_the_running_epoch_and_saves(tmp_path):
    out = tmp_path / "t.safetensors"
    rc, stdout, stderr = run_cli("train", "ae", "--epochs", "50", "--max-minutes", "0", "--out", out, "--quiet",
                                 "--set", "hidden=[16]")
    from genlib import checkpoints

    assert rc == 0 and last_json(stdout)["epochs"] == 1 and last_json(stdout)["steps"] == 36
    assert "stopped by --max-minutes after epoch 1" in checkpoints.read_meta(out)["command"]


def test_a_missing_gpu_is_a_clean_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    rc, _, stderr = run_cli("train", "ae", "--device", "cuda", "--out", tmp_path / "g.safetensors")
    assert rc == 2 and "no CUDA GPU" in stderr and "Traceback" not in stderr


def test_sample_from_a_model_that_does_not_generate_is_a_one_line_error(tmp_path):
    rc, stdout, stderr = run_cli("sample", "mnist-classifier", "--n", "4", "--out", tmp_path / "x.png")
    assert_one_line_error(rc, stdout, stderr, "classifier")
    assert not (tmp_path / "x.png").exists()


def test_an_unknown_device_is_a_one_line_error(tmp_path):
    rc, stdout, stderr = run_cli("train", "ae", "--device", "tpu", "--epochs", "1", "--out", tmp_path / "t.safetensors")
    assert_one_line_error(rc, stdout, stderr, "tpu")
    assert not (tmp_path / "t.safetensors").exists()


def test_resume_from_a_weights_only_file_is_a_one_line_error_naming_it(tmp_path):
    weights = tmp_path / "weights.safetensors"
    rc, _, stderr = run_cli("train", "ae", "--epochs", "1", "--quiet", "--weights-only", "--set", "hidden=[16]",
                            "--out", weights)
    assert rc == 0, stderr
    rc, stdout, stderr = run_cli("train", "ae", "--resume", weights, "--epochs", "1", "--out", tmp_path / "r.safetensors")
    assert_one_line_error(rc, stdout, stderr, str(weights), "resume")
    assert not (tmp_path / "r.safetensors").exists()


def test_eval_of_a_scored_model_without_the_classifier_is_a_one_line_error(tmp_path):
    """Sample scores need the bundled classifier: a checkpoint folder without it (GENLIB_CHECKPOINT_DIR, read once at
    import: a real process) fails with a message naming it, before any sampling."""
    shutil.copy(ROOT / "checkpoints" / "ebm-mnist.safetensors", tmp_path)
    rc, stdout, stderr = run_cli("eval", "ebm-mnist", "--split", "val", "--limit", "20",
                                 env={"GENLIB_CHECKPOINT_DIR": str(tmp_path)}, process=True)
    assert_one_line_error(rc, stdout, stderr, "classifier")


def test_a_symbolic_link_loop_is_named_as_such(tmp_path):
    """`ln -s loop loop; python -m genlib info loop`: the file named, as a loop (not a bundled checkpoint 'loop' that
    does not exist)."""
    (tmp_path / "loop").symlink_to("loop")
    for args in (["info", "loop"], ["eval", "loop"], ["sample", "loop", "--out", "x.png"]):
        rc, stdout, stderr = run_cli(*args, cwd=tmp_path)
        assert_one_line_error(rc, stdout, stderr, "error: loop: cannot be read (a symbolic link loop)")
    assert [p.name for p in tmp_path.iterdir()] == ["loop"]


def test_deeply_nested_metadata_is_named_as_such(tmp_path):
    import torch
    from safetensors.torch import save_file

    path = tmp_path / "deep.safetensors"
    save_file({"w": torch.ones(3)}, str(path), metadata={"genlib": '{"format": 1, "x": ' + "[" * 990 + "]" * 990 + "}"})
    assert_one_line_error(*run_cli("info", path), str(path), "nested too deeply")

"""Hostile inputs on the command line: crafted checkpoints, out-of-bounds arguments, broken data, outputs
that would overwrite or cannot be written. Each must end in exit status 2 (or a clean run where that is the right answer),
one line on stderr and no traceback; a crafted file must cost < 100 MB of memory and well under a second, measured in
a fresh process (peak resident memory, reset just before the command runs).

Also: text from a file (names, keys, values) reaches the terminal only escaped; a checkpoint with a NaN or infinite
weight is refused, a non-finite figure is printed as null in strict JSON, non-finite samples are not written; two runs
(real processes, started together) never both write one output file.
"""
from __future__ import annotations

import gzip
import json
import math
import os
import pickle
import signal
import subprocess
import sys
import time

import pytest
import torch
from PIL import Image
from safetensors.torch import save

import genlib
from conftest import MNIST_TEST, ROOT, last_json, run_cli
from harness import assert_refused
from genlib import checkpoints, limits, metrics, models
from genlib.data import bundled_digits
from genlib.models.autoencoder import AEConfig

MAX_MB = 100  # peak memory a refused file or request may cost


# ---- crafted checkpoint files ------------------------------------------------------------------------------------

def _craft(meta: dict, tensors: dict | None = None, checksum: bool = True) -> bytes:
    """A small safetensors file with genlib metadata `meta` (format 1) and, as a careful attacker would add, a valid
    checksum."""
    tensors = tensors if tensors is not None else {"weight": torch.zeros(1)}
    meta = {"format": 1, **meta}
    if checksum:
        meta["sha256"] = checkpoints._digest(tensors)
    return save(tensors, metadata={"genlib": json.dumps(meta)})


def _mismatch() -> bytes:
    """The real rbm-16-cd1 tensors under a config that needs other shapes."""
    ckpt = checkpoints.read(checkpoints.resolve("rbm-16-cd1"))
    return _craft({**ckpt.meta, "config": {**ckpt.meta["config"], "n_hidden": 17}}, ckpt.model_tensors())


def _wrong_dtype() -> bytes:
    ckpt = checkpoints.read(checkpoints.resolve("rbm-16-cd1"))
    tensors = {**ckpt.model_tensors(), "weight": ckpt.tensors["weight"].double()}
    return _craft(ckpt.meta, tensors)


CRAFTED = {  # name -> (bytes, words of the error)
    # the smallest hostile file: 220 bytes, one tensor of one zero, a million hidden units (6 GB on the server before)
    "rbm-1e6-hidden-no-checksum": (lambda: _craft({"kind": "rbm", "config": {"n_hidden": 1_000_000}}, checksum=False),
                                   ["no checksum"]),
    "rbm-1e6-hidden": (lambda: _craft({"kind": "rbm", "config": {"n_hidden": 1_000_000}}),
                       ["n_hidden = 1,000,000", "8,192"]),
    "ae-16000x16000": (lambda: _craft({"kind": "ae", "config": {"hidden": [16000, 16000]}}), ["hidden = 16,000"]),
    # every layer within MAX_UNITS, the model too large in all (counted on the meta device)
    "ae-8000x8000": (lambda: _craft({"kind": "ae", "config": {"hidden": [8000, 8000]}}),
                     ["model's size", "16,000,000 parameters"]),
    "vae-huge-layers": (lambda: _craft({"kind": "vae", "config": {"hidden": [8192, 8192, 8192]}}),
                        ["model's size", "16,000,000 parameters"]),
    "ebm-huge-channels": (lambda: _craft({"kind": "ebm", "config": {"channels": 8192}}), ["model's size"]),
    "pickle-renamed": (lambda: pickle.dumps({"weight": list(range(100))}), ["not a valid safetensors file"]),
    "rbm-wrong-types": (lambda: _craft({"kind": "rbm", "config": {"n_hidden": "500", "persistent": "no"}}),
                        ["n_hidden must be a whole number"]),
    "rbm-config-not-its-tensors": (_mismatch, ["has shape [16", "the config needs [17"]),
    "rbm-wrong-dtype": (_wrong_dtype, ["'weight' holds torch.float64"]),
    "rbm-config-not-an-object": (lambda: _craft({"kind": "rbm", "config": [1, 2]}), ["not a JSON object"]),
}


@pytest.fixture(scope="module")
def crafted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("crafted")
    paths = {}
    for name, (make, _) in CRAFTED.items():
        paths[name] = folder / f"{name}.safetensors"
        paths[name].write_bytes(make())
    return paths


@pytest.mark.parametrize("name", CRAFTED)
@pytest.mark.parametrize("command", ["sample", "eval", "train"])
def test_a_crafted_checkpoint_is_one_line_exit_2(crafted, name, command, tmp_path):
    path = crafted[name]
    kind = name.split("-")[0] if name.split("-")[0] in ("rbm", "ae", "vae", "ebm") else "rbm"
    args = {"sample": ["sample", path, "--n", "4", "--out", tmp_path / "x.png"],
            "eval": ["eval", path, "--split", "val", "--limit", "10"],
            "train": ["train", kind, "--resume", path, "--epochs", "1", "--out", tmp_path / "r.safetensors"]}[command]
    assert_refused(run_cli(*args), str(path), *CRAFTED[name][1])
    assert not (tmp_path / "x.png").exists() and not (tmp_path / "r.safetensors").exists()


_MEASURE = r"""
import contextlib, io, json, re, sys, time
from genlib import cli, viz  # noqa: F401  everything a command imports, so that the figure is what it allocates


def status(key):
    return int(re.search(key + r":\s+(\d+)", open("/proc/self/status").read()).group(1)) / 1024  # MB


open("/proc/self/clear_refs", "w").write("5")  # resets the peak (VmHWM) to the memory in use now
rss = status("VmRSS")
out, err = io.StringIO(), io.StringIO()
t0 = time.perf_counter()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    rc = cli.main(json.loads(sys.argv[1]))
seconds = time.perf_counter() - t0
print(json.dumps({"rc": rc, "stdout": out.getvalue(), "stderr": err.getvalue(), "peak_mb": status("VmHWM") - rss,
                  "seconds": seconds}))
"""


def measure(*args) -> dict:
    """`python -m genlib *args` in a fresh process: exit status, stdout, stderr, the peak memory it added (MB) and
    seconds."""
    p = subprocess.run([sys.executable, "-c", _MEASURE, json.dumps([str(a) for a in args])], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


MEASURED = [("rbm-1e6-hidden-no-checksum", "sample"), ("rbm-1e6-hidden", "eval"), ("ae-16000x16000", "sample"),
            ("ae-8000x8000", "eval"), ("vae-huge-layers", "sample"), ("ebm-huge-channels", "eval"),
            ("pickle-renamed", "sample"), ("ae-8000x8000", "train"), ("vae-huge-layers", "train")]


@pytest.mark.parametrize("name, command", MEASURED)
def test_a_crafted_checkpoint_costs_little_memory_and_time(crafted, name, command, tmp_path):
    m = measure(*{"sample": ["sample", crafted[name], "--out", tmp_path / "x.png"],
                  "eval": ["eval", crafted[name]],
                  "train": ["train", name.split("-")[0], "--resume", crafted[name], "--out", tmp_path / "r.safetensors"],
                  }[command])
    print(f"{name} ({command}): {m['peak_mb']:.1f} MB, {m['seconds'] * 1000:.0f} ms")
    assert m["rc"] == 2 and "Traceback" not in m["stderr"] and len(m["stderr"].splitlines()) == 1, m
    assert m["peak_mb"] < MAX_MB, m
    assert m["seconds"] < 2, m  # a fraction of a second (2 s of slack for a loaded test machine)


@pytest.mark.parametrize("args", [["sample", "rbm-16", "--n", "1000000000", "--out", "{tmp}/x.png"],
                                  ["sample", "rbm-16", "--steps", "1000000000", "--out", "{tmp}/x.gif"]])
def test_huge_sample_requests_are_refused_before_allocating(args, tmp_path):
    m = measure(*(a.format(tmp=tmp_path) for a in args))
    print(f"{args[2]} {args[3]}: {m['peak_mb']:.1f} MB, {m['seconds'] * 1000:.0f} ms")
    assert m["rc"] == 2 and "over the limit" in m["stderr"] and len(m["stderr"].splitlines()) == 1, m
    assert m["peak_mb"] < MAX_MB and m["seconds"] < 2, m


# ---- text from a file never reaches the terminal as control sequences --------------------------------------------

TITLE, CLEAR, CSI = "\x1b]0;pwned\x07", "\x1b[2J", "\x9b2J"  # set the window title, clear the screen (ESC [ and C1 CSI)


def _ae_tensors(**change) -> dict:
    """The tensors of a small real autoencoder (hidden=[16]), some changed: name -> tensor."""
    tensors = {k: v.clone() for k, v in models.create("ae", AEConfig(hidden=(16,))).state_dict().items()}
    return {**tensors, **change}


HOSTILE_TEXT = {  # name -> bytes of a checkpoint whose text (or file name) holds terminal escape sequences
    "config-key": lambda: _craft({"kind": "ae", "config": {TITLE: 1, "hidden": [16]}}, _ae_tensors()),
    "tensor-name": lambda: _craft({"kind": "ae", "config": {"hidden": [16]}},
                                  _ae_tensors(**{CLEAR + CSI: torch.zeros(1)})),
    "kind": lambda: _craft({"kind": TITLE + CSI}),
    "format": lambda: _craft({"format": CLEAR, "kind": "ae"}),
    "encoder": lambda: _craft({"kind": "vae", "config": {"encoder": CLEAR + CSI}}),
    "metadata-values": lambda: _craft({"kind": "ae", "config": {"hidden": [16]}, "dataset": TITLE, "command": CLEAR,
                                       "metrics": {CSI: 1.0}}, _ae_tensors()),
    "file-name": lambda: b"not a checkpoint",  # under a hostile name (see hostile_text): each error names the file
}


@pytest.fixture(scope="module")
def hostile_text(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-text")
    paths = {}
    for name, make in HOSTILE_TEXT.items():
        paths[name] = folder / (f"{TITLE}{CSI}.safetensors" if name == "file-name" else f"{name}.safetensors")
        paths[name].write_bytes(make())
    return paths


def _terminal_controls(text: str) -> list[int]:
    """The bytes of `text` (as UTF-8, what a terminal receives) that a terminal acts on: C0 controls but newline,
    DEL, and 0x9b (C1 CSI, also the continuation byte of U+009B in UTF-8)."""
    return sorted({b for b in text.encode("utf-8", "surrogateescape") if (b < 0x20 and b != 0x0A) or b in (0x7F, 0x9B)})


@pytest.mark.parametrize("name", HOSTILE_TEXT)
@pytest.mark.parametrize("command", ["info", "eval", "sample"])
def test_escape_sequences_in_a_checkpoint_never_reach_the_terminal(hostile_text, name, command, tmp_path):
    path = hostile_text[name]
    args = {"info": ["info", path], "eval": ["eval", path, "--split", "val", "--limit", "10"],
            "sample": ["sample", path, "--n", "4", "--out", tmp_path / "x.png"]}[command]
    rc, stdout, stderr = run_cli(*args)
    assert rc in (0, 2) and "Traceback" not in stderr, stderr
    assert not _terminal_controls(stdout) and not _terminal_controls(stderr), (stdout, stderr)
    if rc == 2:
        assert len(stderr.splitlines()) == 1 and stdout == "", stderr
    else:
        last_json(stdout)  # what was printed as text is escaped JSON


# ---- non-finite weights, numbers and samples ----------------------------------------------------------------------

def _poisoned(kind: str, value: float) -> tuple[bytes, str]:
    """A small real model of `kind` saved by genlib's own writer (checkpoints.to_bytes, with its checksum), one weight
    set to `value` (NaN or inf); returns the bytes and the tensor's name."""
    config = {"ae": AEConfig(hidden=(16,)), "vae": models.KINDS["vae"].config_cls(hidden=(16,)),
              "rbm": models.KINDS["rbm"].config_cls(n_hidden=16), "ebm": models.KINDS["ebm"].config_cls(
                  channels=2, buffer_size=8)}[kind]
    model = models.create(kind, config)
    name, weight = [(k, p) for k, p in model.named_parameters() if p.dim() >= 2][-1]  # the last layer's weights
    with torch.no_grad():
        weight.view(-1)[0] = value
    return checkpoints.to_bytes(model), name


@pytest.mark.parametrize("kind, value", [("ae", math.nan), ("vae", math.nan), ("rbm", math.inf), ("ebm", -math.inf)])
@pytest.mark.parametrize("command", ["eval", "sample", "train"])
def test_a_checkpoint_with_a_non_finite_weight_is_refused_by_name(kind, value, command, tmp_path):
    data, name = _poisoned(kind, value)
    path = tmp_path / f"{kind}.safetensors"
    path.write_bytes(data)
    args = {"eval": ["eval", path, "--split", "val", "--limit", "10"],
            "sample": ["sample", path, "--n", "4", "--out", tmp_path / "x.npy"],
            "train": ["train", kind, "--resume", path, "--epochs", "1", "--out", tmp_path / "r.safetensors"]}[command]
    held = "1 NaN value(s)" if math.isnan(value) else "1 infinite value(s)"
    assert_refused(run_cli(*args), str(path), f"tensor '{name}' holds {held}", "non-finite weights")
    assert not (tmp_path / "x.npy").exists() and not (tmp_path / "r.safetensors").exists()


def _overflowing_ae() -> bytes:
    """A small autoencoder whose weights are all finite but whose numbers overflow: a code of 1e30 times a first decoder
    layer of 1e30 is +inf in every hidden unit, and a last layer of alternating +1 and -1 sums +inf - inf = NaN in
    every pixel (for encoded digits: the encoder's last bias is 1e30; for samples: the code mean is)."""
    model = models.create("ae", AEConfig(hidden=(16,)))
    with torch.no_grad():
        model.encoder[2].bias.fill_(1e30)
        model.code_mean.fill_(1e30)
        model.decoder[0].weight.fill_(1e30)
        model.decoder[2].weight.copy_(torch.tensor([1.0, -1.0]).repeat(784, 8))
    return checkpoints.to_bytes(model)


def _strict_json(line: str):
    """JSON as RFC 8259 has it: no NaN, Infinity or -Infinity."""
    def refuse(word):
        raise AssertionError(f"not strict JSON: {word} in {line}")
    return json.loads(line, parse_constant=refuse)


def test_a_non_finite_metric_is_null_in_strict_json_with_a_note(tmp_path):
    path = tmp_path / "overflow.safetensors"
    path.write_bytes(_overflowing_ae())
    rc, stdout, stderr = run_cli("eval", path, "--split", "val", "--limit", "10")
    assert rc == 0 and "Traceback" not in stderr, stderr
    result = _strict_json(stdout.strip().splitlines()[-1])
    assert result["loss"] is None and result["non_finite"] == {"loss": "nan"} and result["n"] == 10
    assert "loss" in stderr and "null" in stderr  # the note


def test_info_prints_non_finite_metadata_as_strict_json(tmp_path):
    path = tmp_path / "nan-metrics.safetensors"  # json.dumps writes NaN and Infinity unless told not to
    metrics = {"val_loss": math.nan, "best": [1.0, -math.inf]}
    path.write_bytes(_craft({"kind": "ae", "config": {"hidden": [16]}, "metrics": metrics}, _ae_tensors()))
    rc, stdout, stderr = run_cli("info", path)
    assert rc == 0, stderr
    meta = _strict_json(stdout.strip().splitlines()[-1])
    assert meta["metrics"] == {"val_loss": None, "best": [1.0, None]}
    assert meta["non_finite"] == {"metrics.val_loss": "nan", "metrics.best[1]": "-inf"}


@pytest.mark.parametrize("out", ["x.png", "x.npy"])
def test_non_finite_samples_are_refused_and_nothing_is_written(tmp_path, out):
    path = tmp_path / "overflow.safetensors"
    path.write_bytes(_overflowing_ae())
    assert_refused(run_cli("sample", path, "--n", "4", "--out", tmp_path / out), str(path), "3,136 NaN or infinite",
                   "not written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["overflow.safetensors"]


def test_an_ebm_whose_energy_diverges_is_a_one_line_error(tmp_path):
    """The bundled EBM's weights times 30: all finite, but the energies of real digits explode past max_energy."""
    model = genlib.load(checkpoints.resolve("ebm-mnist"))
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(30)
    path = checkpoints.save(tmp_path / "ebm-x30.safetensors", model)
    assert_refused(run_cli("eval", path, "--split", "val", "--limit", "10"), str(path), "diverged", "energies exploded")


# ---- memory of eval -----------------------------------------------------------------------------------------------

def test_eval_of_a_conv_vae_is_bounded_in_memory_and_keeps_its_figures(mnist_test_root):
    """The IWAE bound (k = 100) decodes 100 draws of each digit: 100 digits at once through the conv decoder took 3.5 GB
    more. The figures are those of the unbatched code (measured before the change: the same random draws)."""
    m = measure("eval", "vae-conv-2d", "--limit", "100", "--data-dir", mnist_test_root)
    print(f"eval vae-conv-2d --limit 100: {m['peak_mb']:.0f} MB, {m['seconds']:.1f} s")
    assert m["rc"] == 0, m["stderr"]
    assert m["peak_mb"] < 1000, m
    result = last_json(m["stdout"])
    before = {"loss": 162.455841, "rec": 157.266586, "kl": 5.189259, "iwae_k100": -158.062164, "active_units": 2}
    assert {k: result[k] for k in before} == pytest.approx(before, rel=1e-5)


def test_decoding_the_importance_samples_in_chunks_changes_nothing():
    """The same draws z whatever the chunk; only float noise of the decoder's batch size may differ."""
    model = genlib.load(checkpoints.resolve("vae-conv-2d"))
    x = bundled_digits().images[:7]
    whole, chunked = (metrics.iwae_log_weights(model, x, 30, torch.Generator().manual_seed(0), chunk=c)
                      for c in (10**9, 4))
    assert whole.shape == (30, 7)
    torch.testing.assert_close(chunked, whole, rtol=1e-5, atol=1e-4)


# ---- arguments out of bounds ------------------------------------------------------------------------------------

BOUNDS = [
    (["train", "ae", "--set", "batch_size=1e9", "--out", "{tmp}/t.safetensors"], ["batch_size must be a whole number"]),
    (["train", "ae", "--set", "batch_size=64.5", "--out", "{tmp}/t.safetensors"],
     ["batch_size must be a whole number", "64.5"]),
    (["train", "ae", "--set", "batch_size=100000000", "--out", "{tmp}/t.safetensors"],
     ["batch_size = 100,000,000", "60,000"]),
    (["train", "ae", "--set", "lr=nan", "--out", "{tmp}/t.safetensors"], ["lr must be a finite number", "nan"]),
    (["train", "ae", "--set", "lr=inf", "--out", "{tmp}/t.safetensors"], ["lr must be a finite number"]),
    (["train", "ae", "--set", 'lr="fast"', "--out", "{tmp}/t.safetensors"], ["lr must be a number"]),
    (["train", "ae", "--set", "hidden=[16000]", "--out", "{tmp}/t.safetensors"], ["hidden = 16,000", "8,192"]),
    (["train", "rbm", "--set", "n_hidden=8000", "--set", "n_visible=8000", "--out", "{tmp}/t.safetensors"],
     ["model's size", "parameters"]),
    (["train", "ae", "--seed", "1e23", "--out", "{tmp}/t.safetensors"], ["--seed", "invalid int value"]),
    (["train", "ae", "--seed", str(10**23), "--out", "{tmp}/t.safetensors"], ["--seed", "over the limit"]),
    (["train", "ae", "--seed", "-1", "--out", "{tmp}/t.safetensors"], ["--seed", "out of range"]),
    (["train", "ae", "--device", "meta", "--out", "{tmp}/t.safetensors"], ["meta", "cpu or cuda"]),
    (["train", "ae", "--out", "{tmp}/model.png"], ["must end in .safetensors", "model.png"]),
    (["train", "ae", "--epochs", "-1", "--out", "{tmp}/t.safetensors"], ["epochs must be a positive integer"]),
    (["eval", "ae-mnist-2d", "--limit", "-5"], ["--limit = -5", "between 1 and"]),
    (["eval", "ae-mnist-2d", "--limit", "0"], ["--limit = 0"]),
    (["sample", "rbm-16", "--n", "1000000000", "--out", "{tmp}/x.png"], ["--n = 1,000,000,000", "1,024"]),
    (["sample", "rbm-16", "--n", "0", "--out", "{tmp}/x.png"], ["--n = 0"]),
    (["sample", "rbm-16", "--steps", "-1", "--out", "{tmp}/x.gif"], ["--steps = -1"]),
    (["sample", "rbm-16", "--steps", "-1", "--out", "{tmp}/x.png"], ["--steps = -1"]),
    (["sample", "rbm-16", "--steps", "0", "--out", "{tmp}/x.gif"], ["--steps = 0"]),
    (["sample", "rbm-16", "--steps", "1000000000", "--out", "{tmp}/x.gif"], ["--steps = 1,000,000,000", "10,000"]),
    (["sample", "rbm-16", "--n", "1024", "--steps", "5000", "--out", "{tmp}/x.gif"], ["chain steps", "MAX_CHAIN_WORK"]),
    (["sample", "rbm-16", "--seed", str(2**70), "--out", "{tmp}/x.png"], ["--seed", "over the limit"]),
    (["sample", "rbm-16", "--out", "/proc/genlib-x.png"], ["cannot be written"]),
]


def _case_id(args) -> str:
    """train-ae-set-batch_size:64.5-out-t.safetensors: the arguments, for -k"""
    return "-".join((a[2:] if a.startswith("--") else a).replace("{tmp}/", "").replace("=", ":") for a in args)


@pytest.mark.parametrize("args, words", BOUNDS, ids=[_case_id(a) for a, _ in BOUNDS])
def test_out_of_bounds_arguments_are_one_line_exit_2(args, words, tmp_path):
    """(train cases name an --out in tmp_path: nothing is written there, and a run let through would not write into
    the repository)"""
    assert_refused(run_cli(*(a.format(tmp=tmp_path) for a in args)), *words)
    assert not any(tmp_path.iterdir())


def test_a_long_gif_keeps_a_bounded_number_of_frames(tmp_path):
    from PIL import Image

    rc, stdout, stderr = run_cli("sample", "rbm-16", "--n", "4", "--steps", "1000", "--out", tmp_path / "x.gif")
    assert rc == 0, stderr
    gif = Image.open(tmp_path / "x.gif")
    total_ms = 0
    for i in range(gif.n_frames):  # Pillow merges equal frames into one longer one: count the time, 80 ms a frame
        gif.seek(i)
        total_ms += gif.info["duration"]
    assert 100 <= total_ms / 80 <= limits.MAX_FRAMES + 2


# ---- resuming ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def run_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("resume") / "run.safetensors"
    rc, _, stderr = run_cli("train", "ae", "--epochs", "1", "--quiet", "--set", "hidden=[16]", "--out", out)
    assert rc == 0, stderr
    return out


@pytest.mark.parametrize("epochs", ["-1", "0"])
def test_resume_needs_positive_epochs(run_file, epochs, tmp_path):
    """(checked before the file or the data are read)"""
    assert_refused(run_cli("train", "ae", "--resume", run_file, "--epochs", epochs, "--data-dir", tmp_path / "nowhere",
                           "--out", tmp_path / "r.safetensors"), "epochs must be a positive integer")
    assert not (tmp_path / "r.safetensors").exists()


@pytest.mark.parametrize("setting, words", [("lr=nan", "lr must be a finite number"),
                                            ("batch_size=64.5", "batch_size must be a whole number"),
                                            ("code_size=3", "only training settings")])
def test_resume_settings_are_checked(run_file, setting, words, tmp_path):
    """(before any data is read: a data folder without MNIST would add a notice line)"""
    assert_refused(run_cli("train", "ae", "--resume", run_file, "--epochs", "1", "--set", setting,
                           "--data-dir", tmp_path / "nowhere", "--out", tmp_path / "r.safetensors"), words)
    assert not (tmp_path / "r.safetensors").exists()


def _retrainer(run_file, tmp_path, change) -> str:
    """A copy of the run's file with its trainer metadata changed by `change` (the checksum covers tensors only)."""
    ckpt = checkpoints.read(run_file)
    meta = json.loads(json.dumps(ckpt.meta))
    change(meta["trainer"])
    bad = tmp_path / "tampered.safetensors"
    bad.write_bytes(save(ckpt.tensors, metadata={"genlib": json.dumps(meta)}))
    return bad


@pytest.mark.parametrize("change, words", [
    pytest.param(lambda t: t.pop("train_config"), ["no training config"], id="no-train-config"),
    pytest.param(lambda t: t.update(train_config={"batch_size": 1e9}), ["batch_size must be a whole number"],
                 id="train-config-types"),
    pytest.param(lambda t: t.update(step="many"), ["'step'"], id="step-not-a-count"),
    pytest.param(lambda t: t.update(pos=10**9), ["position"], id="pos-past-the-data"),
    pytest.param(lambda t: t.update(param_groups=[]), ["trainer state does not fit"], id="optimizer-mismatch"),
])
def test_resume_from_tampered_trainer_metadata_is_one_line(run_file, tmp_path, change, words):
    bad = _retrainer(run_file, tmp_path, change)
    assert_refused(run_cli("train", "ae", "--resume", bad, "--epochs", "1", "--out", tmp_path / "r.safetensors"),
                   "cannot resume", *words)
    assert not (tmp_path / "r.safetensors").exists()


# ---- broken data folders ----------------------------------------------------------------------------------------

def _broken_gz(kind: str) -> bytes:
    good = gzip.compress(b"\0\0\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(7840))
    if kind == "deflate":  # a gzip header, then a broken deflate stream: zlib.error
        return good[:10] + bytes([0xFF] * 40)
    if kind == "truncated":  # EOFError
        return good[: len(good) // 2]
    return b"this is not gzip at all"  # gzip.BadGzipFile


def _data_root(tmp_path, broken: str, which: str):
    """A torchvision root: the `which` files ('test' or 'train') broken as `broken`, the others real or absent."""
    raw = tmp_path / "data" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    if which == "train":  # real test files next to broken training files
        for f in (MNIST_TEST / "MNIST" / "raw").iterdir():
            (raw / f.name).write_bytes(f.read_bytes())
        names = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
    else:
        names = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
    for n in names:
        (raw / n).write_bytes(_broken_gz(broken))
    return tmp_path / "data"


@pytest.mark.parametrize("broken", ["deflate", "truncated", "not-gzip"])
def test_eval_with_a_corrupt_test_file_says_corrupt(tmp_path, broken):
    root = _data_root(tmp_path, broken, "test")
    assert_refused(run_cli("eval", "ae-mnist-2d", "--data-dir", root), "no test split", "t10k-images",
                   "corrupt (not a readable gzip file")


@pytest.mark.parametrize("broken", ["deflate", "truncated"])
def test_a_corrupt_train_file_keeps_the_good_test_split(tmp_path, broken, mnist_test_root):
    root = _data_root(tmp_path, broken, "train")
    rc, stdout, stderr = run_cli("eval", "ae-mnist-2d", "--data-dir", root, "--limit", "100")
    assert rc == 0 and "Traceback" not in stderr, stderr
    assert last_json(stdout)["dataset"] == "MNIST test split"
    assert "train-images" in stderr and "corrupt" in stderr and "bundled" in stderr  # the notice says why


def test_train_on_a_corrupt_data_folder_uses_the_bundled_digits_and_says_so(tmp_path):
    root = _data_root(tmp_path, "deflate", "test")
    (root / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").write_bytes(_broken_gz("deflate"))
    (root / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").write_bytes(_broken_gz("deflate"))
    rc, stdout, stderr = run_cli("train", "ae", "--data-dir", root, "--epochs", "1", "--quiet", "--set", "hidden=[16]",
                                 "--out", tmp_path / "t.safetensors")
    assert rc == 0 and "Traceback" not in stderr, stderr
    assert last_json(stdout)["dataset"] == "bundled" and "corrupt" in stderr


# ---- nothing overwritten without asking -------------------------------------------------------------------------

def test_train_without_out_writes_a_new_file_in_the_current_folder(tmp_path):
    bundled = {p.name: p.stat().st_mtime_ns for p in (ROOT / "checkpoints").glob("*.safetensors")}
    (tmp_path / "ae-default.safetensors").write_bytes(b"someone's file")
    rc, stdout, stderr = run_cli("train", "ae", "--epochs", "1", "--quiet", "--set", "hidden=[16]", cwd=tmp_path)
    assert rc == 0, stderr
    assert last_json(stdout)["out"] == "ae-default-2.safetensors" and (tmp_path / "ae-default-2.safetensors").exists()
    assert (tmp_path / "ae-default.safetensors").read_bytes() == b"someone's file"
    assert bundled == {p.name: p.stat().st_mtime_ns for p in (ROOT / "checkpoints").glob("*.safetensors")}
    # --resume without --out: a new file too, the resumed one untouched
    before = (tmp_path / "ae-default-2.safetensors").read_bytes()
    rc, stdout, stderr = run_cli("train", "ae", "--resume", "ae-default-2.safetensors", "--epochs", "1", "--quiet",
                                 cwd=tmp_path)
    assert rc == 0, stderr
    assert last_json(stdout)["out"] == "ae-default-2-resumed.safetensors"
    assert (tmp_path / "ae-default-2.safetensors").read_bytes() == before


def test_an_existing_out_is_refused_unless_force(tmp_path):
    out = tmp_path / "mine.safetensors"
    out.write_bytes(b"keep me")
    assert_refused(run_cli("train", "ae", "--epochs", "1", "--out", out), "already exists", "--force")
    assert out.read_bytes() == b"keep me"
    rc, _, stderr = run_cli("train", "ae", "--epochs", "1", "--quiet", "--set", "hidden=[16]", "--out", out, "--force")
    assert rc == 0, stderr
    assert checkpoints.read(out).kind == "ae"


def test_resume_into_its_own_file_needs_force(run_file):
    before = run_file.read_bytes()
    assert_refused(run_cli("train", "ae", "--resume", run_file, "--epochs", "1", "--out", run_file), "already exists")
    assert run_file.read_bytes() == before


@pytest.mark.parametrize("where, words", [
    ("dir", ["is a directory"]),
    ("/proc/genlib-test.safetensors", ["cannot be written"]),
    ("parent-file", ["is a file, not a folder"]),
])
def test_an_out_that_cannot_be_written_is_refused_before_training(tmp_path, where, words):
    if where == "dir":
        out = tmp_path / "folder.safetensors"
        out.mkdir()
    elif where == "parent-file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "x.safetensors"
    else:
        out = where
    # refused before training: no progress bar on stderr, only the one line
    assert_refused(run_cli("train", "ae", "--epochs", "1", "--out", out), str(out), *words)


# ---- one output, one run ----------------------------------------------------------------------------------------

TINY = ["--epochs", "1", "--quiet", "--set", "hidden=[16]"]  # a training run of about a second


def _start(*args, cwd=ROOT) -> subprocess.Popen:
    """`python -m genlib *args` in a new process, not waited for (genlib imported from this checkout)."""
    return subprocess.Popen([sys.executable, "-m", "genlib", *map(str, args)], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})


def _finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    stdout, stderr = proc.communicate(timeout=300)
    return proc.returncode, stdout, stderr


def _wait_for(path, proc: subprocess.Popen, timeout: float = 60) -> bool:
    """Whether `path` appeared while `proc` ran (polled until it does, `proc` ends, or `timeout` seconds pass)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout and proc.poll() is None:
        if os.path.lexists(path):
            return True
        time.sleep(0.02)
    return os.path.lexists(path)


def _command(path) -> str:
    return checkpoints.read(path).meta["command"]


def test_two_runs_on_one_out_exactly_one_writes_it(tmp_path):
    out = tmp_path / "same.safetensors"
    runs = {seed: _start("train", "ae", *TINY, "--seed", seed, "--out", out) for seed in (1, 2)}
    results = {seed: _finish(p) for seed, p in runs.items()}
    winners = [seed for seed, (rc, _, _) in results.items() if rc == 0]
    assert len(winners) == 1, results
    (loser,) = set(runs) - set(winners)
    rc, stdout, stderr = results[loser]
    assert_refused((rc, stdout, stderr), str(out))
    assert "already exists" in stderr or "being written by another run" in stderr, stderr
    assert last_json(results[winners[0]][1])["out"] == str(out)
    assert f"--seed {winners[0]}" in _command(out) and genlib.load(out).kind == "ae"
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no lock, placeholder or temporary left


@pytest.mark.parametrize("resume", [False, True], ids=["new", "resume"])
def test_two_runs_without_out_write_two_files(tmp_path, resume):
    if resume:  # train --resume FILE without --out writes FILE-resumed, FILE-resumed-2, ...
        assert run_cli("train", "ae", *TINY, "--out", tmp_path / "run.safetensors")[0] == 0
        args = {f"lr={lr}": ["train", "ae", "--resume", "run.safetensors", "--epochs", "1", "--quiet", "--set",
                             f"lr={lr}"] for lr in ("0.001", "0.002")}
        names = ["run-resumed-2.safetensors", "run-resumed.safetensors"]
    else:
        args = {f"--seed {seed}": ["train", "ae", *TINY, "--seed", seed] for seed in (1, 2)}
        names = ["ae-default-2.safetensors", "ae-default.safetensors"]
    runs = {mark: _start(*a, cwd=tmp_path) for mark, a in args.items()}
    outs = {}
    for mark, p in runs.items():
        rc, stdout, stderr = _finish(p)
        assert rc == 0, stderr
        outs[mark] = last_json(stdout)["out"]
    assert sorted(outs.values()) == names
    for mark, name in outs.items():  # each run's own result, in its own file
        assert mark in _command(tmp_path / name) and genlib.load(tmp_path / name).kind == "ae"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({*names, *(["run.safetensors"] if resume else [])})


def test_a_forced_run_on_a_file_another_run_is_writing_is_refused(tmp_path):
    out = tmp_path / "model.safetensors"
    lock = tmp_path / "model.safetensors.lock"
    assert run_cli("train", "ae", *TINY, "--out", out)[0] == 0
    first = _start("train", "ae", "--epochs", "20", "--quiet", "--set", "hidden=[16]", "--seed", "1", "--out", out,
                   "--force")
    try:
        assert _wait_for(lock, first), "the first run never claimed its output"
        second = run_cli("train", "ae", *TINY, "--seed", "2", "--out", out, "--force")
        assert first.poll() is None  # the first run was still writing when the second was refused
        assert_refused(second, str(out), "being written by another run", str(lock))
    finally:
        rc, _, stderr = _finish(first)
    assert rc == 0, stderr
    assert "--seed 1" in _command(out) and not lock.exists()
    # once it has finished, --force replaces its file
    assert run_cli("train", "ae", *TINY, "--seed", "3", "--out", out, "--force")[0] == 0
    assert "--seed 3" in _command(out) and sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_a_sample_on_an_output_another_run_is_writing_is_refused(tmp_path):
    out = tmp_path / "x.png"
    first = _start("sample", "ebm-mnist", "--n", "256", "--out", out)  # a 16 x 16 grid, after 256 Langevin steps
    try:
        assert _wait_for(tmp_path / "x.png.lock", first), "the first run never claimed its output"
        second = run_cli("sample", "rbm-16", "--n", "4", "--out", out)
        assert first.poll() is None
        assert_refused(second, str(out), "being written by another run")
    finally:
        rc, _, stderr = _finish(first)
    assert rc == 0, stderr
    assert Image.open(out).size == (16 * 30 + 2, 16 * 30 + 2)  # the first run's 256 samples, not the second's 4
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


@pytest.mark.parametrize("existing", [False, True], ids=["new-file", "forced-over-a-file"])
def test_a_stopped_run_removes_its_claim_and_nothing_else(tmp_path, existing):
    out = tmp_path / "long.safetensors"
    if existing:
        out.write_bytes(b"keep me")
    run = _start("train", "ae", "--epochs", "1000", "--quiet", "--set", "hidden=[16]", "--out", out,
                 *(["--force"] if existing else []))
    try:
        claimed = _wait_for(tmp_path / "long.safetensors.lock", run)
    finally:
        run.send_signal(signal.SIGTERM)  # as `kill` or a job scheduler stops it
        rc, _, stderr = _finish(run)
    assert claimed, "the run never claimed its output"
    assert rc == 130 and "interrupted" in stderr and "Traceback" not in stderr, (rc, stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ([out.name] if existing else [])
    if existing:
        assert out.read_bytes() == b"keep me"


def test_a_failed_run_removes_its_claim(tmp_path):
    """A run that diverges before it has anything to save leaves nothing behind (not even an empty file)."""
    out = tmp_path / "sub" / "d.safetensors"  # a folder it made is removed too
    assert_refused(run_cli("train", "ae", "--epochs", "1", "--quiet", "--set", "lr=10000", "--out", out),
                   "diverged")
    assert list(tmp_path.iterdir()) == []

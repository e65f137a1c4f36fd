"""Hostile inputs on the command line (issue 12): crafted checkpoints, out-of-bounds arguments, broken data, outputs
that would overwrite or cannot be written. Each must end in exit status 2 (or a clean run where that is the right answer),
one line on stderr and no traceback; a crafted file must cost < 100 MB of memory and well under a second, measured in
a fresh process (peak resident memory, reset just before the command runs).
"""
from __future__ import annotations

import gzip
import json
import pickle
import subprocess
import sys

import pytest
import torch
from safetensors.torch import save

from conftest import MNIST_TEST, ROOT, last_json, run_cli
from harness import assert_refused
from genlib import checkpoints, limits

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
    # the file: 220 bytes, one tensor of one zero, a million hidden units (6 GB on the server before)
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
err = io.StringIO()
t0 = time.perf_counter()
with contextlib.redirect_stderr(err):
    rc = cli.main(json.loads(sys.argv[1]))
seconds = time.perf_counter() - t0
print(json.dumps({"rc": rc, "stderr": err.getvalue(), "peak_mb": status("VmHWM") - rss, "seconds": seconds}))
"""


def measure(*args) -> dict:
    """`python -m genlib *args` in a fresh process: exit status, stderr, the peak memory it added (MB) and seconds."""
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

"""Checkpoints: round trip, atomic writes, and one clear error for every kind of bad file."""
import json
import os

import pytest
import torch
from safetensors.torch import save, save_file

import genlib
from genlib import models
from genlib import checkpoints
from genlib.models.autoencoder import AEConfig, Autoencoder


@pytest.fixture
def ae_file(tmp_path):
    torch.manual_seed(0)
    model = Autoencoder(AEConfig(code_size=3, hidden=(32,)))
    path = checkpoints.save(tmp_path / "ae.safetensors", model, dataset="test", steps=7, metrics={"val_loss": 0.5},
                            command="python -m genlib train ae")
    return model, path


def test_round_trip_restores_weights_config_and_metadata(ae_file):
    model, path = ae_file
    loaded = genlib.load(path)
    assert isinstance(loaded, Autoencoder) and not loaded.training
    assert loaded.config == model.config == AEConfig(code_size=3, hidden=(32,))
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = torch.rand(4, 1, 28, 28)
    assert torch.equal(model.eval()(x), loaded(x))
    meta = checkpoints.read(path).meta
    assert meta["format"] == 1 and meta["kind"] == "ae" and meta["steps"] == 7
    assert meta["metrics"] == {"val_loss": 0.5} and meta["command"].startswith("python -m genlib")
    assert meta["config"] == {"code_size": 3, "hidden": [32]} and "created" in meta


def test_atomic_write_leaves_no_temporary_files_and_keeps_old_file_on_failure(ae_file, monkeypatch):
    model, path = ae_file
    before = path.read_bytes()

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        checkpoints.save(path, model, steps=99)
    assert path.read_bytes() == before  # old checkpoint intact
    assert [p.name for p in path.parent.iterdir()] == ["ae.safetensors"]  # no temporary left behind


def test_written_checkpoints_are_readable_by_others(ae_file):
    model, path = ae_file
    checkpoints.save(path, model, steps=1)
    assert path.stat().st_mode & 0o777 == 0o644  # not the 0600 of a raw temporary file


def _save(tensors, path, meta):
    """A safetensors file with this genlib metadata and the right checksum (as a crafted file would carry)."""
    save_file(tensors, str(path), metadata={"genlib": json.dumps({**meta, "sha256": checkpoints._digest(tensors)})})


def _expect_error(path, *words, kind=None):
    with pytest.raises(checkpoints.CheckpointError) as e:
        genlib.load(path) if kind is None else models.load(path, kind=kind)
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.safetensors", "no such file")


def test_truncated_file(ae_file, tmp_path):
    _, path = ae_file
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _expect_error(bad, "not a valid safetensors file")


def test_corrupt_tensor_bytes_fail_the_checksum(ae_file, tmp_path):
    _, path = ae_file
    raw = bytearray(path.read_bytes())
    raw[-100] ^= 0xFF  # flip bits inside the tensor data; the header stays valid
    bad = tmp_path / "corrupt.safetensors"
    bad.write_bytes(bytes(raw))
    _expect_error(bad, "corrupt")


def test_garbage_header(tmp_path):
    bad = tmp_path / "garbage.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}" + b"\0" * 64)
    _expect_error(bad, "not a valid safetensors file")


def test_non_safetensors_files(tmp_path):
    png = tmp_path / "picture.safetensors"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(300))
    _expect_error(png, "not a valid safetensors file")
    pickle_file = tmp_path / "model.pt"
    torch.save({"w": torch.ones(2)}, pickle_file)  # a pickle: must be refused, never unpickled
    _expect_error(pickle_file, "not a valid safetensors file")
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    _expect_error(empty, "not a valid safetensors file")


def test_foreign_safetensors_file_without_metadata(tmp_path):
    path = tmp_path / "foreign.safetensors"
    save_file({"weight": torch.ones(3)}, str(path))
    _expect_error(path, "not a genlib checkpoint")


def test_a_directory_is_not_a_checkpoint(tmp_path):
    folder = tmp_path / "folder.safetensors"
    folder.mkdir()
    _expect_error(folder, "not a file")


def test_another_format_version_is_refused(ae_file, tmp_path):
    _, path = ae_file
    ckpt = checkpoints.read(path)
    future = tmp_path / "future.safetensors"  # a valid file in every other way (kind, config, checksum)
    save_file(ckpt.tensors, str(future), metadata={"genlib": json.dumps({**ckpt.meta, "format": 2})})
    _expect_error(future, "checkpoint format 2", "reads format 1")


def test_genlib_metadata_that_is_json_but_not_an_object(tmp_path):
    for name, raw in (("list", "[1, 2]"), ("number", "3"), ("string", '"ae"')):
        path = tmp_path / f"{name}.safetensors"
        save_file({"w": torch.ones(3)}, str(path), metadata={"genlib": raw})
        _expect_error(path, "'genlib' metadata is not a JSON object")


def test_unknown_kind_and_wrong_kind(ae_file, tmp_path):
    _, path = ae_file
    _expect_error(path, "'ae' checkpoint", "'vae' model was expected", kind="vae")
    path2 = tmp_path / "alien.safetensors"
    _save({"w": torch.ones(3)}, path2, {"format": 1, "kind": "alien"})
    _expect_error(path2, "unknown model kind 'alien'")


def test_tensors_that_do_not_match_the_config(ae_file, tmp_path):
    model, _ = ae_file
    tensors = {k: v.clone() for k, v in model.state_dict().items()}
    meta = {"format": 1, "kind": "ae", "config": {"code_size": 5, "hidden": [32]}}  # config says 5, tensors say 3
    path = tmp_path / "mismatch.safetensors"
    _save(tensors, path, meta)
    _expect_error(path, "shape")
    meta["config"] = {"code_size": 3, "hidden": [32], "colour": "red"}
    _save(tensors, path, meta)
    _expect_error(path, "unknown setting")
    meta["config"] = {"code_size": 3, "hidden": [32]}
    _save({**tensors, "code_std": tensors["code_std"].double()}, path, meta)  # right shape, wrong dtype
    _expect_error(path, "'code_std'", "torch.float64", "needs torch.float32")
    _save({k: v for k, v in tensors.items() if k != "code_std"}, path, meta)
    _expect_error(path, "missing: code_std")


def test_a_file_without_a_checksum_is_refused(ae_file, tmp_path):
    """genlib writes a checksum into every checkpoint: a file without one (crafted or edited) is refused, before any
    tensor is read or model built."""
    _, path = ae_file
    ckpt = checkpoints.read(path)
    meta = {k: v for k, v in ckpt.meta.items() if k != "sha256"}
    bad = tmp_path / "nosum.safetensors"
    save_file(ckpt.tensors, str(bad), metadata={"genlib": json.dumps(meta)})
    _expect_error(bad, "no checksum")


def test_every_bundled_checkpoint_has_a_checksum_that_matches():
    rows = checkpoints.registry()
    assert len(rows) >= 10
    for r in rows:
        ckpt = checkpoints.read(r["path"])  # verifies the checksum from the file's bytes
        assert isinstance(ckpt.meta["sha256"], str) and ckpt.meta["sha256"] == checkpoints._digest(ckpt.tensors)


def test_header_checks_before_any_tensor_is_read(tmp_path):
    """A header whose tensor claims more bytes than the file holds, an unknown dtype, a header longer than the
    limit, and a file over the size limit: each is one clear error."""
    meta = json.dumps({"format": 1, "kind": "rbm", "config": {}, "sha256": "0"})

    def raw(header: dict, body: bytes = b"\0" * 4) -> bytes:
        h = json.dumps({**header, "__metadata__": {"genlib": meta}}).encode()
        return len(h).to_bytes(8, "little") + h + body

    cases = {
        "big": raw({"weight": {"dtype": "F32", "shape": [100000, 784], "data_offsets": [0, 4]}}),
        "dtype": raw({"weight": {"dtype": "X9", "shape": [1], "data_offsets": [0, 4]}}),
        "negative": raw({"weight": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}),
        "dtype-a-list": raw({"weight": {"dtype": ["F32"], "shape": [1], "data_offsets": [0, 4]}}),
        "long": (10**9).to_bytes(8, "little") + b"{" + b" " * 100,
    }
    for name, data in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        _expect_error(p, "not a valid safetensors file")
    huge = tmp_path / "huge.safetensors"
    with open(huge, "wb") as f:  # sparse: the size alone refuses it, nothing is read
        f.truncate(checkpoints.limits.MAX_UPLOAD_BYTES + 1)
    _expect_error(huge, "at most 50 MB")


def test_registry_lists_bundled_checkpoints_with_metadata():
    rows = {r["name"]: r for r in checkpoints.registry()}
    assert "ae-mnist-2d" in rows
    row = rows["ae-mnist-2d"]
    assert row["meta"]["kind"] == "ae" and row["size"] > 0 and "val_loss" in row["meta"]["metrics"]
    assert row["meta"]["command"].startswith("python -m genlib train ae")


def test_registry_reports_a_bad_file_instead_of_failing(tmp_path, ae_file):
    (tmp_path / "bad.safetensors").write_bytes(b"junk")
    rows = {r["name"]: r for r in checkpoints.registry(tmp_path)}
    assert "error" in rows["bad"] and rows["ae"]["meta"]["kind"] == "ae"


def test_pretrained_autoencoder_reconstructs_real_test_digits(mnist_test_root):
    from genlib.data import load_mnist

    model = genlib.load(checkpoints.resolve("ae-mnist-2d"))
    assert model.config.code_size == 2
    x = load_mnist(mnist_test_root).test.images[:1000]
    with torch.no_grad():
        mse = (model(x) - x).pow(2).mean().item()
        baseline = (x - x.mean(0)).pow(2).mean().item()  # predicting the mean digit
    assert mse < 0.75 * baseline, (mse, baseline)


def test_metadata_nested_too_deeply_says_so(tmp_path):
    """990 levels: Python's JSON reader gives up (RecursionError); 600: it reads them, but the file is refused before
    anything else walks them (the printer of `info` recurses as deeply)."""
    for depth in (990, 600):
        path = tmp_path / f"deep-{depth}.safetensors"
        save_file({"w": torch.ones(3)}, str(path),
                  metadata={"genlib": '{"format": 1, "kind": "ae", "x": ' + "[" * depth + "]" * depth + "}"})
        _expect_error(path, "'genlib' metadata is nested too deeply")
        with pytest.raises(checkpoints.CheckpointError, match="nested too deeply"):
            checkpoints.read_meta(path)


def test_a_symbolic_link_loop_is_named_as_such(tmp_path):
    loop = tmp_path / "loop.safetensors"
    os.symlink(loop.name, loop)  # ln -s loop.safetensors loop.safetensors
    msg = _expect_error(loop, "a symbolic link loop")
    assert "no such file" not in msg
    dangling = tmp_path / "dangling.safetensors"
    os.symlink("nowhere.safetensors", dangling)
    _expect_error(dangling, "no such file")


@pytest.mark.parametrize("value, held", [(float("nan"), "1 NaN value(s)"), (float("inf"), "1 infinite value(s)"),
                                         (None, "2 NaN and 1 infinite value(s)")])
def test_an_upload_with_non_finite_weights_is_refused_before_a_model_is_built(ae_file, value, held, monkeypatch):
    """The app's upload path (models.from_bytes): one line naming the tensor; no model is built (only its skeleton on
    the meta device, which holds no numbers)."""
    model, _ = ae_file
    with torch.no_grad():
        w = model.decoder[0].weight.view(-1)
        if value is None:
            w[:3] = torch.tensor([float("nan"), float("-inf"), float("nan")])
        else:
            w[5] = value
    data = checkpoints.to_bytes(model)
    built = []
    init = Autoencoder.__init__

    def recording_init(self, *args, **kw):  # the device each Autoencoder is built on
        built.append(torch.empty(0).device.type)
        init(self, *args, **kw)

    monkeypatch.setattr(Autoencoder, "__init__", recording_init)
    with pytest.raises(checkpoints.CheckpointError) as e:
        models.from_bytes(data, "upload.safetensors")
    assert str(e.value) == (f"upload.safetensors: tensor 'decoder.0.weight' holds {held}; a model with non-finite "
                            "weights is refused")
    assert built == ["meta"]


def test_escape_sequences_in_an_upload_are_escaped_in_its_error(ae_file):
    """What the app shows of a crafted upload: no control character of the file's config keys or tensor names."""
    model, _ = ae_file
    ckpt = checkpoints.from_bytes(checkpoints.to_bytes(model))
    title = "\x1b]0;pwned\x07"
    cases = [({**ckpt.tensors}, {**ckpt.meta, "config": {**ckpt.meta["config"], title: 1}}),
             ({**ckpt.tensors, "\x1b[2J\u202e": torch.zeros(1)}, ckpt.meta)]
    for tensors, meta in cases:
        data = save(tensors, metadata={"genlib": json.dumps({**meta, "sha256": checkpoints._digest(tensors)})})
        with pytest.raises(checkpoints.CheckpointError) as e:
            models.from_bytes(data, f"{title}.safetensors")
        msg = str(e.value)
        assert not any(c in msg for c in "\x1b\x07\u202e"), msg
        assert "\\x1b" in msg, msg  # shown escaped, as Python writes it

"""Data: the MNIST file format, the stratified split, binarization and the bundled fallback."""
import gzip

import numpy as np
import pytest
import torch

from genlib import data as gdata


def write_idx(path, arr: np.ndarray, gz: bool = False) -> None:
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    raw = header + arr.astype(np.uint8).tobytes()
    (gzip.open if gz else open)(path, "wb").write(raw)


def test_bundled_split_is_stratified_disjoint_and_deterministic(mnist):
    assert mnist.source == "bundled" and mnist.test is None
    assert len(mnist.train) == 4500 and len(mnist.val) == 500
    assert torch.equal(mnist.train.labels.bincount(), torch.full((10,), 450))
    assert torch.equal(mnist.val.labels.bincount(), torch.full((10,), 50))
    # disjoint: no validation image equals a training image of the same position in the bundle
    full = gdata.bundled_digits()
    tr, va = gdata.stratified_split(full.labels, 0.1)
    assert len(set(tr.tolist()) & set(va.tolist())) == 0 and len(tr) + len(va) == 5000
    tr2, va2 = gdata.stratified_split(full.labels, 0.1)
    assert torch.equal(tr, tr2) and torch.equal(va, va2)
    assert torch.equal(mnist.val.images, full.images[va])
    x = mnist.train.images
    assert x.shape[1:] == (1, 28, 28) and x.dtype == torch.float32 and 0 <= x.min() and x.max() == 1


def test_real_test_split_from_a_test_only_root(mnist_test_root):
    m = gdata.load_mnist(mnist_test_root)
    assert m.source == "bundled" and m.notice is None
    assert len(m.test) == 10000 and m.test.images.shape == (10000, 1, 28, 28)
    # the first test digits of MNIST are famous: 7 2 1 0 4 1 4 9 5 9
    assert m.test.labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.equal(m.test.labels.bincount(), torch.tensor([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]))


def test_full_mnist_root_with_train_and_test_files(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (200, 28, 28))
    labels = np.repeat(np.arange(10), 20)
    write_idx(raw / "train-images-idx3-ubyte", imgs)
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", imgs[:50], gz=True)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", labels[:50], gz=True)
    m = gdata.load_mnist(tmp_path)
    assert m.source == "mnist" and len(m.train) == 180 and len(m.val) == 20 and len(m.test) == 50
    assert torch.allclose(m.test.images[3, 0], torch.from_numpy(imgs[3] / 255.0).float())


def test_wrong_data_dir_names_expected_files_and_falls_back(tmp_path):
    m = gdata.load_mnist(tmp_path / "nowhere")
    assert m.source == "bundled" and len(m.train) == 4500
    assert "train-images-idx3-ubyte" in m.notice and "t10k-labels-idx1-ubyte" in m.notice and "bundled" in m.notice


def test_truncated_mnist_file_gives_notice_not_crash(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "train-images-idx3-ubyte", np.zeros((10, 28, 28)))
    (raw / "train-images-idx3-ubyte").write_bytes((raw / "train-images-idx3-ubyte").read_bytes()[:500])
    write_idx(raw / "train-labels-idx1-ubyte", np.zeros(10))
    m = gdata.load_mnist(tmp_path)
    assert m.source == "bundled" and "truncated" in m.notice


def test_env_var_sets_the_root(monkeypatch, tmp_path):
    monkeypatch.setenv("GENLIB_DATA", str(tmp_path))
    assert gdata.resolve_root() == tmp_path
    assert gdata.resolve_root("elsewhere") == gdata.Path("elsewhere")


def test_binarization_matches_intensities_and_fixed_draw_repeats():
    x = torch.tensor([0.0, 0.25, 0.5, 1.0]).repeat(20000, 1)
    b = gdata.binarize(x, torch.Generator().manual_seed(0))
    assert set(b.unique().tolist()) <= {0.0, 1.0}
    assert torch.allclose(b.mean(0), x[0], atol=0.015)  # P(pixel = 1) = intensity
    assert torch.equal(gdata.binarize_fixed(x), gdata.binarize_fixed(x))  # evaluation: same every time
    g = torch.Generator().manual_seed(0)
    assert not torch.equal(gdata.binarize(x, g), gdata.binarize(x, g))  # training: fresh every draw


@pytest.mark.parametrize("name", gdata.TOYS)
def test_toy_data_sets(name):
    g = torch.Generator().manual_seed(0)
    pts = gdata.toy_data(name, 4000, g)
    assert pts.shape == (4000, 2) and torch.isfinite(pts).all() and pts.abs().max() < 5
    if name == "eight_gaussians":  # eight clusters on a circle of radius 2.5
        r = pts.norm(dim=1)
        assert abs(r.mean() - 2.5) < 0.05
    if name == "rings":  # radii 1, 2, 3 in equal shares
        r = pts.norm(dim=1).round()
        assert torch.allclose(torch.stack([(r == k).float().mean() for k in (1, 2, 3)]), torch.full((3,), 1 / 3), atol=0.03)
    with pytest.raises(ValueError):
        gdata.toy_data("nope", 3, g)


# ---- hostile inputs: broken or oversized data files and images --------------------------------------------------

def _png(w: int, h: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (w, h), 0).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("w, h", [(20_000, 20_000), (9000, 9000), (5000, 4000)])
def test_an_image_with_too_many_pixels_is_refused_before_decoding(w, h):
    import time
    import tracemalloc

    from genlib import limits

    data = _png(w, h)  # a few hundred kB of PNG, up to 400 Mpx (a decompression bomb)
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(ValueError, match="pixels"):
        gdata.image_to_digit(data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 0.5 and peak < 5_000_000
    assert w * h > limits.MAX_IMAGE_PIXELS


def test_image_bytes_and_garbage_are_refused_with_a_message():
    from genlib import limits

    with pytest.raises(ValueError, match="at most 10 MB"):
        gdata.image_to_digit(b"\0" * (limits.MAX_IMAGE_BYTES + 1))
    with pytest.raises(ValueError, match="not an image"):
        gdata.image_to_digit(b"\x89PNG\r\n\x1a\n" + b"x" * 100)
    import io

    from PIL import Image

    img = Image.new("L", (3000, 2000), 255)  # a large (allowed) photo of a dark digit on white paper
    img.paste(0, (1200, 500, 1600, 1500))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    d = gdata.image_to_digit(buf.getvalue())
    assert d.shape == (1, 1, 28, 28) and d.max() > 0.5


@pytest.mark.parametrize("broken", [b"not gzip", "deflate", "truncated"])
def test_a_corrupt_gz_file_is_reported_as_corrupt_and_keeps_the_other_split(tmp_path, broken):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "t10k-images-idx3-ubyte.gz", np.zeros((10, 28, 28)), gz=True)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.arange(10) % 10, gz=True)
    good = (raw / "t10k-images-idx3-ubyte.gz").read_bytes()
    bad = {"deflate": good[:10] + b"\xff" * 40, "truncated": good[:len(good) // 2]}.get(broken, broken)
    for stem in gdata.TRAIN_FILES:
        (raw / f"{stem}.gz").write_bytes(bad)
    m = gdata.load_mnist(tmp_path)
    assert m.source == "bundled" and "corrupt" in m.notice and "train-images" in m.notice
    assert m.test is not None and len(m.test) == 10 and m.test_error is None  # the good test split is kept
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(bad)
    m = gdata.load_mnist(tmp_path)
    assert m.test is None and "corrupt" in m.test_error and "t10k-images" in m.test_error

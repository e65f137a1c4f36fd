"""The checkpoint file format only: one safetensors file per model, JSON metadata under the key `genlib` (DESIGN 4.2).

Bytes or a file <-> metadata + tensors; atomic writes; the registry of bundled files. No pickle: reading never
runs code. Every failure to read is one `CheckpointError` naming the file and the problem. Building a model from
a checkpoint (and checking its kind) is genlib.models' job: this module knows no model.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from . import limits

FORMAT = 1
# the bundled checkpoints; GENLIB_CHECKPOINT_DIR points elsewhere (tests, a server with its own set)
CHECKPOINT_DIR = Path(os.environ.get("GENLIB_CHECKPOINT_DIR") or Path(__file__).resolve().parent.parent / "checkpoints")
TRAINER_PREFIX = "trainer."  # tensors of the trainer's state (optimizer, RNG, epoch order) for exact resume


class CheckpointError(Exception):
    """A checkpoint that is missing, truncated, corrupt, foreign, of another kind or mismatched."""


# safetensors dtype -> (torch dtype, bytes per element): the dtypes a genlib checkpoint may hold
DTYPES = {"F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2),
          "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4), "I16": (torch.int16, 2),
          "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1)}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as the file's header describes it (nothing read): dtype, shape and where its bytes lie."""
    dtype: torch.dtype
    shape: tuple[int, ...]
    start: int  # offsets into the file's bytes
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class Checkpoint:
    """A checkpoint file whose header, metadata and checksum have been checked: `meta` (the genlib JSON) and `specs`
    (name -> TensorSpec, from the header) are there at once; `tensors` are read only when first asked for, so that
    genlib.models.build can check the config and the shapes before any tensor (or model) is allocated."""

    def __init__(self, path: Path | None, meta: dict, specs: dict[str, TensorSpec], data: bytes):
        self.path, self.meta, self.specs = path, meta, specs
        self._data: bytes | None = data
        self._tensors: dict[str, torch.Tensor] | None = None

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    @property
    def tensors(self) -> dict[str, torch.Tensor]:
        if self._tensors is None:
            try:
                self._tensors = _st_load(self._data)
            except Exception as e:  # the header was checked; this is a safetensors-level inconsistency
                raise CheckpointError(f"{self.path}: not a valid safetensors file ({_reason(e)})") from None
            self._data = None  # the bytes are now the tensors
        return self._tensors

    def model_specs(self) -> dict[str, TensorSpec]:
        return {k: v for k, v in self.specs.items() if not k.startswith(TRAINER_PREFIX)}

    def trainer_specs(self) -> dict[str, TensorSpec]:
        return {k[len(TRAINER_PREFIX):]: v for k, v in self.specs.items() if k.startswith(TRAINER_PREFIX)}

    def model_tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.tensors.items() if not k.startswith(TRAINER_PREFIX)}

    def trainer_tensors(self) -> dict[str, torch.Tensor]:
        return {k[len(TRAINER_PREFIX):]: v for k, v in self.tensors.items() if k.startswith(TRAINER_PREFIX)}


def _reason(e: Exception) -> str:
    return str(e).splitlines()[0][:120] if str(e) else type(e).__name__


def _digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and bytes: detects corrupted tensor data."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        h.update(f"{k}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def config_to_dict(config) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(cls, d: dict, where: str = "config"):
    """Rebuild a frozen config dataclass from its JSON, checking each setting's type and range first
    (genlib.limits.check_config: nothing is built from a config that is out of bounds); lists become tuples so
    configs compare with ==. Any problem is a CheckpointError naming `where`."""
    try:
        return limits.check_config(cls, d)
    except ValueError as e:
        raise CheckpointError(f"{where}: invalid {cls.__name__} ({e})") from None


def to_bytes(model: torch.nn.Module, *, dataset: str = "", steps: int = 0, metrics: dict | None = None,
             command: str = "", extra_tensors: dict[str, torch.Tensor] | None = None,
             extra_meta: dict | None = None) -> bytes:
    """Serialize a model (and optionally trainer state) to the bytes of a checkpoint file."""
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    for k, v in (extra_tensors or {}).items():
        tensors[TRAINER_PREFIX + k] = v.detach().cpu().contiguous().clone()
    meta = {
        "format": FORMAT,
        "kind": model.kind,
        "config": config_to_dict(model.config),
        "dataset": dataset,
        "steps": int(steps),
        "metrics": metrics or {},
        "command": command,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "sha256": _digest(tensors),
        **(extra_meta or {}),
    }
    return _st_save(tensors, metadata={"genlib": json.dumps(meta)})


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes the file private (0600); a checkpoint is meant to be shared
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save(path: str | os.PathLike, model: torch.nn.Module, **kw) -> Path:
    """Save `model` as a checkpoint at `path` (atomically). Keywords as in `to_bytes`."""
    return atomic_write(path, to_bytes(model, **kw))


def read(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint file (size, header, format, metadata, checksum) without building a model or
    allocating its tensors (see Checkpoint)."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file")
    if not p.is_file():
        raise CheckpointError(f"{p}: not a file")
    try:
        size = p.stat().st_size
        if size > limits.MAX_UPLOAD_BYTES:  # refused before reading (a /proc file says 0: the read below is bounded)
            raise CheckpointError(f"{p}: {size / 1e6:.1f} MB; checkpoints of at most {limits.MAX_UPLOAD_BYTES / 1e6:g} "
                                  "MB are read (genlib.limits.MAX_UPLOAD_BYTES)")
        with open(p, "rb") as f:  # at most one byte more than allowed, whatever the file claims to be
            data = f.read(limits.MAX_UPLOAD_BYTES + 1)
    except OSError as e:
        raise CheckpointError(f"{p}: cannot be read ({e.strerror or type(e).__name__})") from None
    return from_bytes(data, p)


def from_bytes(data: bytes, name: str | os.PathLike = "checkpoint") -> Checkpoint:
    """Check the bytes of a checkpoint file (an upload, say); `name` names it in errors. Reads the header only:
    the size (limits.MAX_UPLOAD_BYTES), a well-formed safetensors header whose tensors lie inside the file, the genlib
    metadata and its format, and the checksum, which is required: genlib writes one into every checkpoint, so a file
    without one was not written by genlib (or was edited) and is refused. Tensors are read later, on demand."""
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise CheckpointError(f"{name}: {len(data) / 1e6:.1f} MB or more; checkpoints of at most "
                              f"{limits.MAX_UPLOAD_BYTES / 1e6:g} MB are accepted (genlib.limits.MAX_UPLOAD_BYTES)")
    try:
        specs, meta_all = parse_header(data)
    except ValueError as e:
        raise CheckpointError(f"{name}: not a valid safetensors file (truncated, corrupt or another format: {e})") from None
    meta_raw = (meta_all or {}).get("genlib")
    if meta_raw is None:
        raise CheckpointError(f"{name}: a safetensors file, but not a genlib checkpoint (no 'genlib' metadata)")
    try:
        meta = json.loads(meta_raw)
    except (ValueError, TypeError, RecursionError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its 'genlib' metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{name}: checkpoint format {meta.get('format')!r}, this version reads format {FORMAT}")
    if not isinstance(meta.get("kind"), str):
        raise CheckpointError(f"{name}: its metadata names no model kind")
    if not isinstance(meta.get("sha256"), str):
        raise CheckpointError(f"{name}: no checksum ('sha256' in its metadata); genlib writes one into every "
                              "checkpoint, so this file was not written by genlib or was edited, and is not read")
    if meta["sha256"] != _digest_raw(specs, data):
        raise CheckpointError(f"{name}: corrupt (the tensor data does not match its checksum)")
    return Checkpoint(Path(name) if not isinstance(name, Path) else name, meta, specs, data)


def parse_header(data: bytes) -> tuple[dict[str, TensorSpec], dict | None]:
    """The tensors a safetensors file's header describes (name -> TensorSpec) and its __metadata__, checked against
    the file (known dtypes, shapes of whole numbers, each tensor's bytes inside the file and as many as its shape
    needs) without reading any tensor. ValueError says what is wrong."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError("header longer than the file")
    if n > limits.MAX_HEADER_BYTES:
        raise ValueError(f"a header of {n:,} bytes; at most {limits.MAX_HEADER_BYTES:,} are read")
    try:
        header = json.loads(bytes(data[8:8 + n]))
    except (ValueError, RecursionError):
        raise ValueError("the header is not JSON") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise ValueError("__metadata__ is not an object of strings")
    size = len(data) - 8 - n
    specs = {}
    for k, info in header.items():
        if not (isinstance(info, dict) and info.get("dtype") in DTYPES and isinstance(info.get("shape"), list)
                and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2):
            raise ValueError(f"tensor {k!r}: no dtype (one of {', '.join(DTYPES)}), shape and data offsets")
        shape, offsets = info["shape"], info["data_offsets"]
        if len(shape) > 8 or not all(type(d) is int and d >= 0 for d in shape) \
                or not all(type(o) is int and o >= 0 for o in offsets):
            raise ValueError(f"tensor {k!r}: a shape or offset that is not a whole number")
        dtype, itemsize = DTYPES[info["dtype"]]
        start, end = offsets
        if not start <= end <= size or end - start != math.prod(shape) * itemsize:
            raise ValueError(f"tensor {k!r}: its {list(shape)} {info['dtype']} values do not fit its bytes in the file")
        specs[k] = TensorSpec(dtype, tuple(shape), 8 + n + start, 8 + n + end)
    return specs, meta


def _digest_raw(specs: dict[str, TensorSpec], data: bytes) -> str:
    """`_digest` of the tensors a header describes, from the file's bytes (little-endian, as torch holds them here)
    without building a tensor."""
    h = hashlib.sha256()
    view = memoryview(data)
    for k in sorted(specs):
        t = specs[k]
        h.update(f"{k}|{t.dtype}|{t.shape}|".encode())
        h.update(view[t.start:t.end])
    return h.hexdigest()


def safe_meta(data: bytes) -> dict | None:
    """The safetensors header's __metadata__ of file bytes (no tensor is read)."""
    return parse_header(data)[1]


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A path as given, or the name of a bundled checkpoint (`ae-mnist-2d`)."""
    p = Path(name_or_path)
    if p.exists() or p.suffix == ".safetensors" or os.sep in str(name_or_path):
        return p
    return CHECKPOINT_DIR / f"{p}.safetensors"


def read_meta(path: str | os.PathLike) -> dict:
    """Only the metadata of a checkpoint (cheap: the tensors are not read or verified)."""
    p = Path(path)
    try:
        size = p.stat().st_size
        if size > limits.MAX_UPLOAD_BYTES:
            raise ValueError(f"{size / 1e6:.1f} MB, over the limit of {limits.MAX_UPLOAD_BYTES / 1e6:g} MB")
        with safe_open(str(p), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["genlib"])
        if not isinstance(meta, dict):
            raise ValueError("its 'genlib' metadata is not a JSON object")
    except ValueError as e:
        raise CheckpointError(f"{p}: not a readable genlib checkpoint ({e})") from None
    except Exception as e:
        raise CheckpointError(f"{p}: not a readable genlib checkpoint ({type(e).__name__})") from None
    return meta


def registry(folder: str | os.PathLike = CHECKPOINT_DIR) -> list[dict]:
    """Every checkpoint in `folder`: name, path, size in bytes, and its metadata (or the error)."""
    rows = []
    for p in sorted(Path(folder).glob("*.safetensors")):
        row = {"name": p.stem, "path": str(p), "size": p.stat().st_size}
        try:
            row["meta"] = read_meta(p)
        except CheckpointError as e:
            row["error"] = str(e)
        rows.append(row)
    return rows

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
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

FORMAT = 1
# the bundled checkpoints; GENLIB_CHECKPOINT_DIR points elsewhere (tests, a server with its own set)
CHECKPOINT_DIR = Path(os.environ.get("GENLIB_CHECKPOINT_DIR") or Path(__file__).resolve().parent.parent / "checkpoints")
TRAINER_PREFIX = "trainer."  # tensors of the trainer's state (optimizer, RNG, epoch order) for exact resume


class CheckpointError(Exception):
    """A checkpoint that is missing, truncated, corrupt, foreign, of another kind or mismatched."""


@dataclass
class Checkpoint:
    path: Path | None
    meta: dict
    tensors: dict[str, torch.Tensor]

    @property
    def kind(self) -> str:
        return self.meta["kind"]

    def model_tensors(self) -> dict[str, torch.Tensor]:
        return {k: v for k, v in self.tensors.items() if not k.startswith(TRAINER_PREFIX)}

    def trainer_tensors(self) -> dict[str, torch.Tensor]:
        return {k[len(TRAINER_PREFIX):]: v for k, v in self.tensors.items() if k.startswith(TRAINER_PREFIX)}


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
    """Rebuild a frozen config dataclass; lists become tuples so configs compare with ==."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - names
    if unknown:
        raise CheckpointError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))} for {cls.__name__}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


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
    """Read and validate a checkpoint file (format, metadata, checksum) without building a model."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file")
    if not p.is_file():
        raise CheckpointError(f"{p}: not a file")
    try:
        data = p.read_bytes()
    except OSError as e:
        raise CheckpointError(f"{p}: cannot be read ({e.strerror or type(e).__name__})") from None
    return from_bytes(data, p)


def from_bytes(data: bytes, name: str | os.PathLike = "checkpoint") -> Checkpoint:
    """Parse the bytes of a checkpoint file (an upload, say); `name` names it in errors."""
    try:
        meta_raw = (safe_meta(data) or {}).get("genlib")
        tensors = _st_load(data)
    except Exception as e:  # safetensors raises its own error types for bad headers and short files
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise CheckpointError(f"{name}: not a valid safetensors file (truncated, corrupt or another format: {reason})") from None
    if meta_raw is None:
        raise CheckpointError(f"{name}: a safetensors file, but not a genlib checkpoint (no 'genlib' metadata)")
    try:
        meta = json.loads(meta_raw)
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{name}: its 'genlib' metadata is not a JSON object")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{name}: checkpoint format {meta.get('format')!r}, this version reads format {FORMAT}")
    if "sha256" in meta and meta["sha256"] != _digest(tensors):
        raise CheckpointError(f"{name}: corrupt (the tensor data does not match its checksum)")
    return Checkpoint(Path(name) if not isinstance(name, Path) else name, meta, tensors)


def safe_meta(data: bytes) -> dict | None:
    """The safetensors header's __metadata__ of file bytes (no tensor is read)."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if n > len(data) - 8:
        raise ValueError("header longer than the file")
    header = json.loads(data[8:8 + n])
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    return header.get("__metadata__")


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
        with safe_open(str(p), framework="pt") as f:
            meta = json.loads((f.metadata() or {})["genlib"])
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

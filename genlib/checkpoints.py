"""Checkpoints: one safetensors file per model, JSON metadata under the key `genlib` (DESIGN 4.2).

No pickle: loading never runs code. Writes are atomic (temporary file, then rename). Every failure to
read a file is one `CheckpointError` naming the file and the problem.
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
from safetensors.torch import save as _st_save

FORMAT = 1
CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "checkpoints"
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


def read(path: str | os.PathLike, kind: str | None = None) -> Checkpoint:
    """Read and validate a checkpoint file without building the model."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file")
    if not p.is_file():
        raise CheckpointError(f"{p}: not a file")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta_raw = (f.metadata() or {}).get("genlib")
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as e:  # safetensors raises its own error types for bad headers and short files
        reason = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        raise CheckpointError(f"{p}: not a valid safetensors file (truncated, corrupt or another format: {reason})") from None
    if meta_raw is None:
        raise CheckpointError(f"{p}: a safetensors file, but not a genlib checkpoint (no 'genlib' metadata)")
    try:
        meta = json.loads(meta_raw)
        assert isinstance(meta, dict)
    except (ValueError, AssertionError):
        raise CheckpointError(f"{p}: its 'genlib' metadata is not a JSON object") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{p}: checkpoint format {meta.get('format')!r}, this version reads format {FORMAT}")
    from .models import KINDS

    if meta.get("kind") not in KINDS:
        raise CheckpointError(f"{p}: unknown model kind {meta.get('kind')!r} (known: {', '.join(sorted(KINDS))})")
    if kind is not None and meta["kind"] != kind:
        raise CheckpointError(f"{p}: this is a {meta['kind']!r} checkpoint, but a {kind!r} model was expected")
    if "sha256" in meta and meta["sha256"] != _digest(tensors):
        raise CheckpointError(f"{p}: corrupt (the tensor data does not match its checksum)")
    return Checkpoint(p, meta, tensors)


def build(ckpt: Checkpoint) -> torch.nn.Module:
    """The model a checkpoint describes, with its weights, in eval mode."""
    from .models import KINDS

    spec = KINDS[ckpt.kind]
    name = ckpt.path or "checkpoint"
    try:
        config = config_from_dict(spec.config_cls, ckpt.meta.get("config", {}), where=str(name))
        model = spec.model_cls(config)
    except CheckpointError:
        raise
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{name}: invalid {ckpt.kind} config ({e})") from None
    expected = model.state_dict()
    got = ckpt.model_tensors()
    missing, unexpected = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
    if missing or unexpected:
        raise CheckpointError(f"{name}: tensors do not match a {ckpt.kind} model with this config "
                              f"(missing: {', '.join(missing) or '-'}; unexpected: {', '.join(unexpected) or '-'})")
    for k, t in got.items():
        if t.shape != expected[k].shape:
            raise CheckpointError(f"{name}: tensor {k!r} has shape {list(t.shape)}, the config needs {list(expected[k].shape)}")
    model.load_state_dict(got)
    return model.eval()


def load(path: str | os.PathLike, kind: str | None = None) -> torch.nn.Module:
    """Load any genlib checkpoint as its model, in eval mode."""
    return build(read(path, kind))


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

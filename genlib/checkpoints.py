"""The checkpoint file format only: one safetensors file per model, JSON metadata under the key `genlib` (ARCHITECTURE.md, Contracts).

Bytes or a file <-> metadata + tensors; atomic writes; the registry of bundled files. No pickle: reading never
runs code. Every failure to read is one `CheckpointError` naming the file and the problem. Building a model from
a checkpoint (and checking its kind) is genlib.models' job: this module knows no model.
"""
from __future__ import annotations

import dataclasses
import datetime as _dt
import errno
import hashlib
import json
import math
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load as _st_load
from safetensors.torch import save as _st_save

from . import limits
from .text import printable

FORMAT = 1
# the bundled checkpoints; GENLIB_CHECKPOINT_DIR points elsewhere (tests, a server with its own set)
CHECKPOINT_DIR = Path(os.environ.get("GENLIB_CHECKPOINT_DIR") or Path(__file__).resolve().parent.parent / "checkpoints")
TRAINER_PREFIX = "trainer."  # tensors of the trainer's state (optimizer, RNG, epoch order) for exact resume
# lists and objects nested in the genlib metadata: each `train --resume` nests the run it came from one level deeper
# ("resumed_from"; ebm-mnist, resumed many times, has 73 levels). Python's JSON reader and printer recurse once per
# level and give up near 1000: a file nested deeper than this is refused before anything walks it.
MAX_META_DEPTH = 500


class CheckpointError(Exception):
    """A checkpoint that is missing, truncated, corrupt, foreign, of another kind or mismatched."""


def quoted(value: object) -> str:
    """An untrusted value as it is quoted in an error: repr, control and format characters escaped, shortened
    (genlib.text.printable)."""
    return printable(repr(value))


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
        """The file's tensors, read on first use; a float tensor holding NaN or inf is refused (CheckpointError)."""
        if self._tensors is None:
            try:
                tensors = _st_load(self._data)
            except Exception as e:  # the header was checked; this is a safetensors-level inconsistency
                raise CheckpointError(f"{printable(self.path)}: not a valid safetensors file ({_reason(e)})") from None
            for k, t in tensors.items():
                _check_finite(self.path, k, t)
            self._tensors, self._data = tensors, None  # the bytes are now the tensors
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
    return printable(str(e).splitlines()[0], 120) if str(e) else type(e).__name__


def _check_finite(name, key: str, t: torch.Tensor) -> None:
    """Refuse a float tensor holding NaN or +-inf: a training run never saves one (it rolls back when its loss or
    weights turn non-finite), and a model built from one computes NaN wherever it is used (black samples, NaN
    losses)."""
    if not t.is_floating_point() or bool(torch.isfinite(t).all()):
        return
    counts = ((int(torch.isnan(t).sum()), "NaN"), (int(torch.isinf(t).sum()), "infinite"))
    held = " and ".join(f"{n:,} {what}" for n, what in counts if n)
    raise CheckpointError(f"{printable(name)}: tensor {quoted(key)} holds {held} value(s); a model with non-finite "
                          "weights is refused")


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
    except ValueError as e:  # its message quotes the file's keys and values: escaped
        raise CheckpointError(f"{printable(where)}: invalid {cls.__name__} ({printable(e, 500)})") from None


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


class OutputTaken(Exception):
    """An output file another run or file holds: it exists (`busy` False), or another run is writing it (`busy` True:
    its lock file `lock` exists)."""

    def __init__(self, path: Path, lock: Path, busy: bool):
        super().__init__(f"{printable(path)}: " + (f"being written by another run ({printable(lock)} exists)" if busy
                                                   else "already exists"))
        self.path, self.lock, self.busy = path, lock, busy


def _create(path: Path, text: str = "") -> tuple[int, int]:
    """Create `path` only if no file (or link) is there, atomically (O_EXCL: of two processes trying at once, exactly
    one succeeds); returns its (device, inode). FileExistsError when the name is taken."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, text.encode())
        st = os.fstat(fd)
    finally:
        os.close(fd)
    return st.st_dev, st.st_ino


def _is(path: Path, ident: tuple[int, int] | None, empty: bool = False) -> bool:
    """Whether `path` is still the file `ident` (device, inode) made by _create (and, with `empty`, still empty)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return ident == (st.st_dev, st.st_ino) and not (empty and st.st_size)


class Reservation:
    """An output file claimed by one run for its whole length, so that two runs never write one file unawares.

    Claiming creates, each exclusively (O_EXCL), an empty placeholder at `path` (the name is then taken: another run
    is refused, or picks another name) and a lock file `path.lock` holding this process's id. With `replace`, an
    existing file may stay until the run's result replaces it; the lock still admits one run at a time. The result is
    written with atomic_write (a temporary file renamed onto `path`). `release()` (or leaving a `with` block) removes
    the lock, the placeholder if it is still this run's own empty file (the run failed or was stopped before writing),
    and the folders the claim created if they are empty. OutputTaken when the name is taken; OSError when the folder
    cannot take a file."""

    def __init__(self, path: str | os.PathLike, replace: bool = False):
        self.path = Path(path)
        self.lock = self.path.with_name(self.path.name + ".lock")
        self.placeholder: tuple[int, int] | None = None
        self._lock_id: tuple[int, int] | None = None
        self._made = [d for d in (self.path.parent, *self.path.parent.parents) if not os.path.lexists(d)]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not replace:
                self.placeholder = self._claim(self.path, busy=False)
            self._lock_id = self._claim(self.lock, busy=True, text=f"{os.getpid()}\n")
            if replace:
                try:
                    self.placeholder = _create(self.path)
                except FileExistsError:  # the finished file the run's result is to replace
                    pass
        except BaseException:
            self.release()
            raise

    def _claim(self, path: Path, busy: bool, text: str = "") -> tuple[int, int]:
        try:
            return _create(path, text)
        except FileExistsError:
            raise OutputTaken(self.path, self.lock, busy) from None

    def release(self) -> None:
        if _is(self.path, self.placeholder, empty=True):
            self.path.unlink()
        if _is(self.lock, self._lock_id):
            self.lock.unlink()
        self.placeholder = self._lock_id = None
        for d in self._made:  # deepest first; stops at the first that holds something
            try:
                d.rmdir()
            except OSError:
                break
        self._made = []

    def __enter__(self) -> "Reservation":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def save(path: str | os.PathLike, model: torch.nn.Module, **kw) -> Path:
    """Save `model` as a checkpoint at `path` (atomically). Keywords as in `to_bytes`."""
    return atomic_write(path, to_bytes(model, **kw))


def read(path: str | os.PathLike) -> Checkpoint:
    """Read and check a checkpoint file (size, header, format, metadata, checksum) without building a model or
    allocating its tensors (see Checkpoint)."""
    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise CheckpointError(f"{printable(p)}: not a file")
        if st.st_size > limits.MAX_UPLOAD_BYTES:  # refused before reading (a /proc file says 0: the read is bounded)
            raise CheckpointError(f"{printable(p)}: {st.st_size / 1e6:.1f} MB; checkpoints of at most "
                                  f"{limits.MAX_UPLOAD_BYTES / 1e6:g} MB are read (genlib.limits.MAX_UPLOAD_BYTES)")
        with open(p, "rb") as f:  # at most one byte more than allowed, whatever the file claims to be
            data = f.read(limits.MAX_UPLOAD_BYTES + 1)
    except FileNotFoundError:
        raise CheckpointError(f"{printable(p)}: no such file") from None
    except OSError as e:  # a symbolic link loop, a path through a file, no permission
        raise CheckpointError(f"{printable(p)}: cannot be read ({_os_reason(e)})") from None
    return from_bytes(data, p)


def _os_reason(e: OSError) -> str:
    return "a symbolic link loop" if e.errno == errno.ELOOP else e.strerror or type(e).__name__


def from_bytes(data: bytes, name: str | os.PathLike = "checkpoint") -> Checkpoint:
    """Check the bytes of a checkpoint file (an upload, say); `name` names it in errors. Reads the header only:
    the size (limits.MAX_UPLOAD_BYTES), a well-formed safetensors header whose tensors lie inside the file, the genlib
    metadata and its format, and the checksum, which is required: genlib writes one into every checkpoint, so a file
    without one was not written by genlib (or was edited) and is refused. Tensors are read later, on demand."""
    label = printable(name)
    if len(data) > limits.MAX_UPLOAD_BYTES:
        raise CheckpointError(f"{label}: {len(data) / 1e6:.1f} MB or more; checkpoints of at most "
                              f"{limits.MAX_UPLOAD_BYTES / 1e6:g} MB are accepted (genlib.limits.MAX_UPLOAD_BYTES)")
    try:
        specs, meta_all = parse_header(data)
    except ValueError as e:
        raise CheckpointError(f"{label}: not a valid safetensors file (truncated, corrupt or another format: "
                              f"{printable(e)})") from None
    meta_raw = (meta_all or {}).get("genlib")
    if meta_raw is None:
        raise CheckpointError(f"{label}: a safetensors file, but not a genlib checkpoint (no 'genlib' metadata)")
    meta = _meta_object(meta_raw, label)
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{label}: checkpoint format {quoted(meta.get('format'))}, this version reads format "
                              f"{FORMAT}")
    if not isinstance(meta.get("kind"), str):
        raise CheckpointError(f"{label}: its metadata names no model kind")
    if not isinstance(meta.get("sha256"), str):
        raise CheckpointError(f"{label}: no checksum ('sha256' in its metadata); genlib writes one into every "
                              "checkpoint, so this file was not written by genlib or was edited, and is not read")
    if meta["sha256"] != _digest_raw(specs, data):
        raise CheckpointError(f"{label}: corrupt (the tensor data does not match its checksum)")
    return Checkpoint(Path(name) if not isinstance(name, Path) else name, meta, specs, data)


def _meta_object(raw: str, label: str) -> dict:
    """The genlib metadata (JSON text) as a dict nested at most MAX_META_DEPTH deep, else a CheckpointError."""
    too_deep = f"{label}: its 'genlib' metadata is nested too deeply (at most {MAX_META_DEPTH} levels are read)"
    try:
        meta = json.loads(raw)
    except RecursionError:  # Python's reader gives up near 1000 levels
        raise CheckpointError(too_deep) from None
    except (ValueError, TypeError):
        meta = None
    if not isinstance(meta, dict):
        raise CheckpointError(f"{label}: its 'genlib' metadata is not a JSON object")
    if _depth(meta) > MAX_META_DEPTH:
        raise CheckpointError(too_deep)
    return meta


def _depth(value) -> int:
    """How deeply lists and objects nest in a JSON value (1 for a flat object), walked without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        v, d = todo.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            todo.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


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
    except RecursionError:
        raise ValueError("the header is nested too deeply") from None
    except ValueError:
        raise ValueError("the header is not JSON") from None
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values())):
        raise ValueError("__metadata__ is not an object of strings")
    size = len(data) - 8 - n
    specs = {}
    for k, info in header.items():
        if not (isinstance(info, dict) and isinstance(info.get("dtype"), str) and info["dtype"] in DTYPES
                and isinstance(info.get("shape"), list)
                and isinstance(info.get("data_offsets"), list) and len(info["data_offsets"]) == 2):
            raise ValueError(f"tensor {quoted(k)}: no dtype (one of {', '.join(DTYPES)}), shape and data offsets")
        shape, offsets = info["shape"], info["data_offsets"]
        if len(shape) > 8 or not all(type(d) is int and d >= 0 for d in shape) \
                or not all(type(o) is int and o >= 0 for o in offsets):
            raise ValueError(f"tensor {quoted(k)}: a shape or offset that is not a whole number")
        dtype, itemsize = DTYPES[info["dtype"]]
        start, end = offsets
        if not start <= end <= size or end - start != math.prod(shape) * itemsize:
            raise ValueError(f"tensor {quoted(k)}: its {list(shape)} {info['dtype']} values do not fit its bytes in the "
                             "file")
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
    if os.path.lexists(p) or p.suffix == ".safetensors" or os.sep in str(name_or_path):  # a link (even broken) too
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
            raw = (f.metadata() or {})["genlib"]
    except OSError as e:
        raise CheckpointError(f"{printable(p)}: not a readable genlib checkpoint ({_os_reason(e)})") from None
    except ValueError as e:
        raise CheckpointError(f"{printable(p)}: not a readable genlib checkpoint ({printable(e)})") from None
    except Exception as e:
        raise CheckpointError(f"{printable(p)}: not a readable genlib checkpoint ({type(e).__name__})") from None
    return _meta_object(raw, printable(p))


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

"""The command line: `python -m genlib train|eval|sample|info` (ARCHITECTURE.md, Contracts).

Progress goes to stderr; the last stdout line is a JSON summary, strict JSON: a metric that is NaN or infinite is
printed as null, and the key "non_finite" says which and what it was. User mistakes (a bad argument, a bad or
hostile file, a value out of the bounds of genlib.limits, a model that diverges) exit with status 2 and a one-line
message, no traceback, before any large work or allocation; every message is escaped (genlib.text.printable), so
nothing from a file or a file name reaches the terminal as a control sequence. Nothing is overwritten without
--force: `train` without --out writes a new file in the current folder. An output is claimed when a run starts
(checkpoints.Reservation): a second run on the same file is refused (or, without --out, takes the next free name),
and a run that fails or is stopped removes its claim.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from . import checkpoints, data as gdata, limits, models, quality
from .models import KINDS
from .text import printable
from .train import TRAIN_FIELDS, TrainConfig, Trainer, evaluate


class UserError(Exception):
    pass


def _parse_value(s: str):
    """A --set value: JSON (numbers, lists, true/false, "strings"), nan / inf as floats (refused later by name),
    anything else as a plain string."""
    try:
        return json.loads(s)
    except ValueError:
        pass
    if s.strip().lower() in ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "-infinity"):
        return float(s)
    return s


def _bounded(name: str, value, low, high, unit: str = ""):
    """limits.check as a UserError (the message names the bound)."""
    try:
        return limits.check(name, value, low, high, unit)
    except ValueError as e:
        raise UserError(str(e)) from None


def train_settings(kind: str, preset: str | None, sets: list[str], epochs: int | None, seed: int | None):
    """The preset's (model config, train config, epochs) with the --set overrides, --epochs and --seed applied."""
    if kind not in KINDS:
        raise UserError(f"unknown model kind {kind!r}; choose one of {', '.join(sorted(KINDS))}")
    spec = KINDS[kind]
    name = preset or spec.default_preset
    if name not in spec.presets:
        raise UserError(f"unknown preset {name!r} for {kind}; choose one of {', '.join(spec.presets)}")
    p = spec.presets[name]
    model_fields = set(spec.config_cls.__dataclass_fields__)
    model_set, train_set = {}, {}
    n_epochs = p.epochs if epochs is None else epochs
    for s in sets:
        if "=" not in s:
            raise UserError(f"--set expects key=value, got {s!r}")
        k, v = (part.strip() for part in s.split("=", 1))
        v = _parse_value(v)
        if k == "epochs":
            n_epochs = v if epochs is None else n_epochs
        elif k in model_fields:
            model_set[k] = v
        elif k in TRAIN_FIELDS:
            train_set[k] = v
        else:
            raise UserError(f"unknown setting {k}; model settings: {', '.join(sorted(model_fields))}; "
                            f"training settings: {', '.join(sorted(TRAIN_FIELDS))}")
    if seed is not None:
        train_set["seed"] = seed
    try:  # types and ranges first (limits.check_config), then what the config itself checks
        mcfg = limits.check_config(spec.config_cls, {**dataclasses.asdict(p.model), **model_set})
        tcfg = limits.check_config(TrainConfig, {**dataclasses.asdict(p.train), **train_set})
        models.check_size(kind, mcfg)  # limits.MAX_PARAMETERS, counted without allocating
    except (ValueError, TypeError) as e:
        raise UserError(f"invalid setting: {e}") from None
    _check_epochs(n_epochs)
    return mcfg, tcfg, n_epochs


def _check_epochs(n) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise UserError(f"epochs must be a positive integer, got {n!r}")
    return _bounded("epochs", n, 1, limits.MAX_EPOCHS)


def _load_data(args, notice: bool = True) -> gdata.MNIST:
    try:
        mnist = gdata.load_mnist(args.data_dir, download=getattr(args, "download", False))
    except gdata.DataError as e:
        raise UserError(str(e)) from None
    if mnist.notice and notice:
        _say("notice", mnist.notice)
    return mnist


def _data(split: gdata.Digits, kind: str):
    """What a model of `kind` trains and validates on: images, or (images, labels) for supervised models."""
    return (split.images, split.labels) if KINDS[kind].model_cls.supervised else split.images


RESUMABLE = TRAIN_FIELDS - {"optimizer", "seed"}  # training settings a resumed run may change


def _device(name: str) -> torch.device:
    """cpu or cuda[:N] (a GPU PyTorch sees); anything else (meta, tpu, mps) is a one-line error."""
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError) as e:
        raise UserError(f"--device {name!r}: {str(e).splitlines()[0]}; use cpu or cuda") from None
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"--device {name!r}: training runs on cpu or cuda only")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: PyTorch sees no CUDA GPU here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: there are only {torch.cuda.device_count()} CUDA GPU(s) here")
    return device


def _resume_open(args) -> tuple[checkpoints.Checkpoint, models.Model, dict, int]:
    """The checkpoint `args.resume` checked and its model built (before any data is loaded: a bad file costs nothing),
    the --set changes (training settings only) and the number of epochs."""
    ckpt = _open(args.resume)
    if ckpt.kind != args.kind:
        raise UserError(f"{args.resume} holds a {ckpt.kind} model, not {args.kind}")
    if args.preset:
        raise UserError("--preset does not go with --resume (the checkpoint keeps its settings); use --set")
    changes = {}
    for item in args.set or []:
        if "=" not in item:
            raise UserError(f"--set expects key=value, got {item!r}")
        k, _, v = item.partition("=")
        if k.strip() not in RESUMABLE:
            raise UserError(f"--set {k.strip()}: only training settings can change when resuming "
                            f"({', '.join(sorted(RESUMABLE))})")
        changes[k.strip()] = _parse_value(v.strip())
    try:  # each change's type and range now; set_hparams checks them again against the run's settings
        limits.check_config(TrainConfig, changes)
    except ValueError as e:
        raise UserError(f"invalid setting: {e}") from None
    epochs = _check_epochs(args.epochs) if args.epochs is not None else 10
    try:
        model = models.build(ckpt)
    except checkpoints.CheckpointError as e:
        raise UserError(f"cannot resume from {args.resume}: {e}") from None
    return ckpt, model, changes, epochs


def _resume(args, opened, mnist: gdata.MNIST, device: torch.device) -> tuple[Trainer, int, dict]:
    """A trainer continuing from the checkpoint `_resume_open` checked; --set may change training settings (lr, ...),
    not the model."""
    ckpt, model, changes, epochs = opened
    try:
        trainer = Trainer.resume(ckpt, model, _data(mnist.train, args.kind), device)
        trainer.set_hparams(**changes)
    except (ValueError, TypeError, checkpoints.CheckpointError) as e:
        raise UserError(f"cannot resume from {args.resume}: {e}") from None
    steps = ckpt.meta.get("steps")
    origin = {"file": str(ckpt.path), "steps": steps if isinstance(steps, int) else trainer.step_count,
              "command": str(ckpt.meta.get("command", "")),
              **({"resumed_from": ckpt.meta["resumed_from"]} if "resumed_from" in ckpt.meta else {})}
    return trainer, epochs, {"resumed_from": origin}


def _reserve_new(stem: str, folder: Path = Path(".")) -> checkpoints.Reservation:
    """folder/STEM.safetensors, or STEM-2, STEM-3, ... : the first name no file (and no other run) has yet, claimed."""
    for i in range(1, 10_000):
        p = folder / (f"{stem}.safetensors" if i == 1 else f"{stem}-{i}.safetensors")
        try:
            return checkpoints.Reservation(p)
        except checkpoints.OutputTaken:
            continue
        except OSError as e:
            raise UserError(f"cannot write a new file {p} ({e.strerror or type(e).__name__}); pass --out") from None
    raise UserError(f"no free file name {stem}-N.safetensors in {folder.resolve()}; pass --out")


def _reserve(out: Path, force: bool, what: str = "--out") -> checkpoints.Reservation:
    """Claim `out` for this run before any work (checkpoints.Reservation), or refuse it: a directory, a folder that
    cannot take a new file (a parent that is a file, /proc, no permission), a file that exists (unless `force`), or a
    file another run is writing (even with `force`)."""
    if out.is_dir():
        raise UserError(f"{what} {out} is a directory; give a file name")
    folder = next((f for f in (out.parent, *out.parent.parents) if f.exists()), Path("."))
    if not folder.is_dir():  # the nearest existing folder of the path (missing ones are made)
        raise UserError(f"{what} {out} cannot be written: {folder} is a file, not a folder")
    try:
        return checkpoints.Reservation(out, replace=force)
    except checkpoints.OutputTaken as e:
        if e.busy:
            raise UserError(f"{what} {out} is being written by another run; try again when it has finished (if no run "
                            f"is writing it, delete {e.lock})") from None
        raise UserError(f"{what} {out} already exists; choose another name or pass --force to overwrite it") from None
    except OSError as e:
        raise UserError(f"{what} {out} cannot be written ({e.strerror or type(e).__name__} in {folder})") from None


def cmd_train(args) -> dict:
    device = _device(args.device)
    if args.kind in KINDS and not KINDS[args.kind].model_cls.image_data:
        raise UserError(f"a {args.kind} model trains on 2-D toy points, in the app's Langevin lab; the command line "
                        "trains models of digits")
    if args.seed is not None:
        _bounded("--seed", args.seed, 0, limits.MAX_SEED)
    if args.max_minutes is not None:
        _bounded("--max-minutes", args.max_minutes, 0, None, "minutes")
    if args.checkpoint_every is not None:
        _bounded("--checkpoint-every", args.checkpoint_every, 1, None, "epochs")
    if args.out and Path(args.out).suffix != ".safetensors":
        raise UserError(f"--out must end in .safetensors (a checkpoint), got {Path(args.out).name!r}")
    if args.resume:  # the file and the settings first: a mistake there costs nothing
        if args.kind not in KINDS:
            raise UserError(f"unknown model kind {args.kind!r}; choose one of {', '.join(sorted(KINDS))}")
        if args.epochs is not None:  # positive with --resume too
            _check_epochs(args.epochs)
        prepared = _resume_open(args)
        stem = f"{Path(args.resume).stem}-resumed"
    else:
        prepared = train_settings(args.kind, args.preset, args.set or [], args.epochs, args.seed)
        stem = f"{args.kind}-{args.preset or KINDS[args.kind].default_preset}"
    # where the checkpoint goes, claimed before any work: never over an existing file without --force, never a file
    # another run is writing, and never into the bundled checkpoints/ by default (a new name in the current folder)
    with (_reserve(Path(args.out), args.force) if args.out else _reserve_new(stem)) as reservation:
        return _train(args, reservation.path, device, prepared)


def _train(args, out: Path, device: torch.device, prepared) -> dict:
    """The run of cmd_train into the claimed file `out`; `prepared` is _resume_open's result with --resume, else
    train_settings'."""
    from tqdm import tqdm

    mnist = _load_data(args)
    if args.resume:
        trainer, epochs, extra = _resume(args, prepared, mnist, device)
    else:
        mcfg, tcfg, epochs = prepared
        model = models.create(args.kind, mcfg, tcfg.seed)  # initial weights from a generator of the run's seed
        trainer = Trainer(model, _data(mnist.train, args.kind), tcfg, device)
        extra = {}
    val_data = _data(mnist.val, args.kind)
    if trainer.config.lr_end is not None and trainer.config.decay_steps == 0:  # decay over this run (or resume)
        trainer.set_hparams(decay_start=trainer.step_count, decay_steps=epochs * trainer.steps_per_epoch)
    t0 = time.time()
    command = "python -m genlib " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    bar = tqdm(range(epochs), desc=f"train {args.kind}", file=sys.stderr, unit="epoch", disable=args.quiet)
    for epoch in bar:
        if epoch and args.max_minutes is not None and time.time() - t0 > 60 * args.max_minutes:
            command += f"  # stopped by --max-minutes after epoch {epoch}"
            break
        rec = trainer.run(trainer.steps_per_epoch, validate=val_data)
        if rec is None:  # diverged (in the steps or the validation): rolled back to the start of this epoch
            if trainer.step_count == 0 or (args.resume and epoch == 0):
                raise UserError(trainer.message)
            trainer.save(out, dataset=mnist.description, command=command + f"  # diverged in epoch {epoch + 1}",
                         extra_meta=extra)
            raise UserError(f"{trainer.message} Saved that state (epoch {epoch}) to {out}.")
        bar.set_postfix(train=f"{rec['train_loss']:.4f}", val=f"{rec.get('val_loss', float('nan')):.4f}")
        if args.checkpoint_every and (epoch + 1) % args.checkpoint_every == 0 and epoch + 1 < epochs:
            trainer.save(out, dataset=mnist.description, command=command + f"  # after epoch {epoch + 1}",
                         extra_meta=extra)
    metrics = {**trainer.summary(), "train_seconds": round(time.time() - t0, 1)}
    trainer.save(out, dataset=mnist.description, metrics=metrics, command=command, extra_meta=extra,
                 weights_only=args.weights_only)
    return {"out": str(out), "kind": args.kind, "steps": trainer.step_count, "epochs": len(trainer.history),
            "dataset": mnist.source, **metrics}


def _open(path) -> checkpoints.Checkpoint:
    """A checkpoint of a known kind, by path or bundled name."""
    try:
        ckpt = checkpoints.read(checkpoints.resolve(path))
    except checkpoints.CheckpointError as e:
        raise UserError(str(e)) from None
    if ckpt.meta.get("kind") not in KINDS:
        raise UserError(f"{ckpt.path}: unknown model kind {ckpt.meta.get('kind')!r} (known: {', '.join(sorted(KINDS))})")
    return ckpt


def _build(ckpt: checkpoints.Checkpoint) -> models.Model:
    try:
        return models.build(ckpt)
    except checkpoints.CheckpointError as e:
        raise UserError(str(e)) from None


def _classifier(device) -> models.Model:
    """The bundled classifier that scores samples, or a one-line error naming the missing file."""
    path = checkpoints.resolve(quality.CLASSIFIER)
    try:
        return models.load(path, kind="classifier").to(device)
    except checkpoints.CheckpointError as e:
        raise UserError(f"sample scores need the bundled classifier: {e}") from None


@contextlib.contextmanager
def _model_runs(ckpt: checkpoints.Checkpoint, doing: str):
    """Model code whose numbers blow up (a FloatingPointError: an EBM's energies explode) as a one-line error naming
    the file: its weights are finite, but they do not make a usable model."""
    try:
        yield
    except FloatingPointError as e:
        raise UserError(f"{ckpt.path}: the model diverged during {doing} ({e}); its weights do not make a usable "
                        f"{ckpt.kind} model") from None


def cmd_eval(args) -> dict:
    if args.limit is not None:
        _bounded("--limit", args.limit, 1, limits.MAX_EVAL_DIGITS, "digits")
    ckpt = _open(args.file)
    model = _build(ckpt)
    if not model.image_data:
        raise UserError(f"a {ckpt.kind} model is evaluated in the app (2-D toy data), not on digits")
    mnist = _load_data(args, notice=False)
    split = {"train": mnist.train, "val": mnist.val, "validation": mnist.val, "test": mnist.test}[args.split]
    if split is None:  # one line: why there is no test split (the notice would say it again)
        if mnist.test_error:  # the files are there, but corrupt
            raise UserError(f"no test split: {mnist.test_error}")
        raise UserError(f"no test split: {gdata.resolve_root(args.data_dir)}/MNIST/raw holds no "
                        f"{gdata.TEST_FILES[0]}[.gz]; pass --data-dir with the MNIST test files")
    if mnist.notice:
        _say("notice", mnist.notice)
    x = split.images[:args.limit] if args.limit else split.images
    y = split.labels[:len(x)]
    t0 = time.time()
    classifier = _classifier(x.device) if model.scored else None
    with _model_runs(ckpt, "evaluation"):
        metrics = evaluate(model, (x, y) if model.supervised else x)
        samples = g = None
        if model.scored:  # sample quality from the bundled classifier, averaged over sampling seeds
            scores, samples, g = quality.sample_scores(model.sample, classifier, x, gdata.bundled_digits().images)
            metrics.update(scores)
        metrics.update(model.eval_metrics(x, samples, g))  # model-specific figures (IWAE bound, AIS, energies, ...)
    return {"file": str(ckpt.path), "kind": ckpt.kind, "split": args.split, "n": len(x),
            "dataset": split.name if split is not mnist.test else "MNIST test split",
            **{k: round(v, 6) for k, v in metrics.items()}, "seconds": round(time.time() - t0, 2)}


def cmd_sample(args) -> dict:
    from . import viz

    # the bounds first: nothing is read or allocated for a request that is refused
    _bounded("--n", args.n, 1, limits.MAX_SAMPLES, "samples")
    _bounded("--seed", args.seed, 0, limits.MAX_SEED)
    out = Path(args.out)
    if out.suffix not in (".png", ".gif", ".npy"):
        raise UserError(f"--out must end in .png, .gif or .npy, got {out.name!r}")
    _bounded("--steps", args.steps, 1 if out.suffix == ".gif" else 0, limits.MAX_CHAIN_STEPS, "steps")
    if out.suffix == ".gif" and args.n * args.steps > limits.MAX_CHAIN_WORK:
        raise UserError(f"--n {args.n} x --steps {args.steps} = {args.n * args.steps:,} chain steps, over the limit of "
                        f"{limits.MAX_CHAIN_WORK:,} (genlib.limits.MAX_CHAIN_WORK); use fewer samples or steps")
    # an existing output is replaced, as a picture is, but never by two runs at once
    with _reserve(out, force=True):
        ckpt = _open(args.file)
        model = _build(ckpt)
        if not model.can_sample:
            raise UserError(f"a {ckpt.kind} model does not generate digits, so there is nothing to sample")
        if out.suffix == ".gif" and not model.can_chain:
            raise UserError(f"a {ckpt.kind} model has no sampling chain to animate; use .png or .npy")
        g = torch.Generator().manual_seed(args.seed)
        with _model_runs(ckpt, "sampling"):
            if out.suffix == ".gif":
                # at most limits.MAX_FRAMES frames, and MAX_FRAME_DIGITS digits in all, are kept (every k-th step of a
                # long chain), whatever the length
                keep = limits.frames_for(args.n)
                frames = model.sample_chain(args.n, args.steps, g, every=math.ceil(args.steps / keep))
            else:
                frames = [model.sample(args.n, g)]
        bad = sum(int((~torch.isfinite(f)).sum()) for f in frames)
        if bad:  # a picture would show them black, an array would hold NaN: nothing is written
            raise UserError(f"{ckpt.path}: the model's samples hold {bad:,} NaN or infinite value(s); its weights do "
                            f"not make a usable {ckpt.kind} model, and {out} was not written")
        x = frames[-1]
        if out.suffix == ".gif":
            data = viz.gif_bytes([viz.grid(f) for f in frames])
        elif out.suffix == ".png":
            data = viz.png_bytes(viz.grid(x))
        else:
            import io

            buf = io.BytesIO()
            np.save(buf, x.detach().cpu().numpy().astype(np.float32))
            data = buf.getvalue()
        checkpoints.atomic_write(out, data)
    return {"out": str(out), "n": args.n, "kind": ckpt.kind, "shape": list(x.shape)}


def cmd_info(args) -> dict:
    ckpt = _open(args.file)
    meta = dict(ckpt.meta)
    meta.pop("trainer", None)
    meta["file"] = str(ckpt.path)
    meta["size_bytes"] = ckpt.path.stat().st_size
    meta["parameters"] = sum(t.numel for t in ckpt.model_specs().values())  # from the header, nothing allocated
    return meta


class _Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one line (status 2), like every other user mistake."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m genlib", description="Train, evaluate, sample and inspect genlib models.")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="train a model and write a checkpoint")
    t.add_argument("kind", help=f"model kind: {', '.join(sorted(KINDS))}")
    t.add_argument("--preset", help="named settings (see genlib/models/<kind>.py PRESETS)")
    t.add_argument("--epochs", type=int, help="passes over the training digits")
    t.add_argument("--data-dir", help="MNIST root (torchvision layout); default $GENLIB_DATA or ./data, else the bundled digits")
    t.add_argument("--download", action="store_true", help="download full MNIST into --data-dir first")
    t.add_argument("--seed", type=int, help="seed of the run's torch.Generator")
    t.add_argument("--out", help="checkpoint to write (.safetensors); default: a new file KIND-PRESET.safetensors (or "
                                 "FILE-resumed.safetensors with --resume) in the current folder, never an existing one")
    t.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a model or training setting (repeatable)")
    t.add_argument("--checkpoint-every", type=int, metavar="N", help="also write --out every N epochs (long runs)")
    t.add_argument("--weights-only", action="store_true", help="leave out the optimizer and RNG state (smaller file, no exact resume)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--device", default="cpu", help="where to train: cpu (default) or cuda; the checkpoint loads on a CPU either way")
    t.add_argument("--resume", metavar="FILE", help="continue training from a checkpoint's trainer state for --epochs more epochs")
    t.add_argument("--max-minutes", type=float, help="stop (and save) after the epoch during which this much time has passed")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on a data split")
    e.add_argument("file", help="checkpoint file or bundled checkpoint name")
    e.add_argument("--data-dir", help="MNIST root (torchvision layout)")
    e.add_argument("--split", default="test", choices=["train", "val", "validation", "test"])
    e.add_argument("--limit", type=int, help="use only the first N digits")
    e.set_defaults(func=cmd_eval)

    s = sub.add_parser("sample", help="draw samples from a checkpoint")
    s.add_argument("file", help="checkpoint file or bundled checkpoint name")
    s.add_argument("--n", type=int, default=64, help=f"number of samples (at most {limits.MAX_SAMPLES})")
    s.add_argument("--out", required=True, help="output: .png (grid), .gif (chain, for chain samplers) or .npy [N,1,28,28]")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--steps", type=int, default=100,
                   help=f"chain steps (for .gif; at most {limits.MAX_CHAIN_STEPS}, {limits.MAX_FRAMES} frames kept)")
    s.set_defaults(func=cmd_sample)

    i = sub.add_parser("info", help="print a checkpoint's metadata as JSON")
    i.add_argument("file", help="checkpoint file or bundled checkpoint name")
    i.set_defaults(func=cmd_info)
    return p


def _say(what: str, message: object) -> None:
    """One line on stderr, whatever the message holds: its whitespace collapsed, every control and format character
    escaped (a file name or a checkpoint's text can hold terminal escape sequences)."""
    print(f"{what}: {printable(' '.join(str(message).split()), 2000)}", file=sys.stderr)


def _strict(value, where: str, found: dict[str, str]):
    """`value` with each NaN or infinite float replaced by None; `found` gains {where: 'nan' | 'inf' | '-inf'} for
    each. JSON (RFC 8259) has no NaN or Infinity: Python would print them as bare words that strict readers refuse."""
    if isinstance(value, float) and not math.isfinite(value):
        found[where] = str(value)
        return None
    if isinstance(value, dict):
        return {k: _strict(v, f"{where}.{k}" if where else str(k), found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v, f"{where}[{i}]", found) for i, v in enumerate(value)]
    return value


@contextlib.contextmanager
def _stopped_by_sigterm():
    """Inside, SIGTERM (`kill`, a job scheduler) stops the command as Ctrl-C does, so that it cleans up (removes the
    claim on its output) on its way out. Signal handlers can be set in the main thread only."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        with _stopped_by_sigterm():
            result = args.func(args)
    except (UserError, checkpoints.CheckpointError, gdata.DataError) as e:
        _say("error", e)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    found: dict[str, str] = {}
    result = _strict(result, "", found)
    if found:
        _say("note", f"{', '.join(found)} not finite (NaN or infinite): printed as null; \"non_finite\" in the JSON "
                     "says what each was")
        result["non_finite"] = found
    print(json.dumps(result, allow_nan=False))
    return 0

"""One small step-wise trainer shared by every model (in the spirit of minGPT's trainer).

The trainer knows nothing about its model beyond the contract of genlib.models.base: `loss(batch, generator)`
(differentiable: the trainer backpropagates), or `compute_grads(batch, generator)` when the model declares
`manual_grads` (the RBM's CD-k fills p.grad itself; `loss` is then for validation only). A model that declares
`binary` sees a fresh stochastic binarization of every batch (so of every epoch). Data is a tensor [N, ...] or a
tuple (images, labels).

Each trainer owns its `torch.Generator`; its state, the epoch order and the optimizer state travel with a
checkpoint, so N steps in one go equal k steps, save, load, N - k steps. A non-finite loss or parameter
stops the run and restores the state from the start of that run.

A model whose iteration outlasts a tick of a live page (the EBM: K Langevin steps for its negatives, then the
optimizer step) gives the trainer a `SplitIteration`: `Trainer.tick` then spreads each iteration over as many ticks as
it needs, with the same random numbers in the same order as one undivided step.

With `ema` > 0 the trainer also keeps an exponential moving average of the weights (Polyak averaging),
    w_ema <- ema * w_ema + (1 - ema) * w      after every step,
which smooths out the step-to-step wandering of models such as EBMs. A checkpoint then holds w_ema as its
model (what sampling and the app use); the raw weights travel in the trainer state, for resuming.
"""
from __future__ import annotations

import collections
import contextlib
import copy
import dataclasses
import json
import math
import time
from dataclasses import dataclass
from typing import Callable

import torch

from . import checkpoints, limits
from .data import EVAL_SEED, binarize
from .text import printable


@dataclass(frozen=True)
class TrainConfig:
    lr: float = 1e-3
    batch_size: int = 128
    optimizer: str = "adam"  # "adam" or "sgd"
    momentum: float = 0.0  # sgd only
    weight_decay: float = 0.0
    beta1: float = 0.9  # adam's first-moment decay (0 for EBMs, as in Du & Mordatch)
    seed: int = 0
    lr_end: float | None = None  # if set: lr moves linearly from `lr` to `lr_end` over `decay_steps` steps,
    decay_steps: int = 0  # counted from step `decay_start` (where a resumed run begins its decay)
    decay_start: int = 0
    ema: float = 0.0  # decay of the weight average kept for checkpoints (0: off; 0.998 averages ~500 steps)

    def lr_at(self, step: int) -> float:
        if self.lr_end is None or self.decay_steps <= 0:
            return self.lr
        return self.lr + (self.lr_end - self.lr) * min(max(step - self.decay_start, 0) / self.decay_steps, 1.0)

    def __post_init__(self):
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"learning rate must be a positive number, got {self.lr}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be at least 1, got {self.batch_size}")
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be a decay in [0, 1), got {self.ema}")


TRAIN_FIELDS = {f for f in TrainConfig.__dataclass_fields__}


@dataclass(frozen=True)
class Preset:
    """A named recipe for `python -m genlib train KIND --preset NAME`: the model's config, the training settings and
    the number of epochs, kept apart."""

    model: object  # the model's frozen config dataclass
    train: TrainConfig = TrainConfig()
    epochs: int = 10


Data = torch.Tensor | tuple[torch.Tensor, ...]


def _count(data: Data) -> int:
    return len(data[0]) if isinstance(data, tuple) else len(data)


def _take(data: Data, idx) -> Data:
    return tuple(d[idx] for d in data) if isinstance(data, tuple) else data[idx]


def _to(data: Data, device) -> Data:
    return tuple(d.to(device) for d in data) if isinstance(data, tuple) else data.to(device)


def _binarize_first(x: Data, generator: torch.Generator) -> Data:
    if isinstance(x, tuple):
        return (binarize(x[0], generator), *x[1:])
    return binarize(x, generator)


class Diverged(FloatingPointError):
    """Training produced a non-finite loss or parameter. A model may raise any FloatingPointError from its
    loss (exploding energies, collapsed samples) to the same effect: the run rolls back."""


class SplitIteration:
    """One training iteration done in pieces over several ticks (set as `Trainer.split`; `Trainer.tick` drives it).

    A tick begins a piece of work when none is in progress: a training iteration ("train": the trainer snapshots the
    run, puts the model in train mode and calls begin(trainer, "train", val), which draws the batch), or every
    `val_every` iterations a validation pass on the tick's `val` ("validate": eval mode, begin(trainer, "validate",
    val)). It then calls advance(1) until `finished` or the tick's budget is spent, and once finished either makes the
    optimizer step on loss() (Trainer.step) or adds metrics() to the last history record as val_*. A subclass gives
    begin, advance, finished / done / total, loss, metrics and clear, and draws its random numbers in the same order
    as the model's undivided loss(batch, generator): the run cut into ticks is then the run of Trainer.step.

    The trainer also keeps the timing a page shows: `unit_seconds` (one advance(1), smoothed), `work` (computing
    seconds of the iteration in progress), `work_per_iteration` (smoothed) and `seconds_per_iteration()`."""

    def __init__(self, val_every: int = 10):
        self.val_every = val_every
        self.phase = "idle"  # "train", "validate" or "idle"
        self.since_val = 0  # optimizer steps since the last validation pass
        self.finished_at: collections.deque[float] = collections.deque(maxlen=21)  # clock at each finished iteration
        self.work = 0.0
        self.work_per_iteration: float | None = None
        self.unit_seconds: float | None = None
        self._measured: float | None = None  # the last seconds_per_iteration

    # ---- what a subclass provides
    def begin(self, trainer: "Trainer", phase: str, val: Data | None) -> None:
        raise NotImplementedError

    def advance(self, n: int) -> int:
        """Up to n more units of work (never past `total`); returns how many were done."""
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        return self.done >= self.total

    @property
    def done(self) -> int:
        raise NotImplementedError

    @property
    def total(self) -> int:
        raise NotImplementedError

    def loss(self) -> dict[str, torch.Tensor]:
        """The loss terms of the finished training iteration (differentiable: the trainer backpropagates them)."""
        raise NotImplementedError

    def metrics(self) -> dict[str, torch.Tensor]:
        """The validation metrics of the finished validation pass (called under torch.no_grad)."""
        raise NotImplementedError

    def clear(self) -> None:
        """Drop the piece in progress (the trainer restores the run itself where needed)."""
        self.phase = "idle"

    # ---- timing
    def seconds_per_iteration(self) -> float | None:
        """Wall-clock seconds per iteration over the last (up to 20) iterations made while running without a pause
        (kept after a pause; None until 3 iterations ran in a row)."""
        t = self.finished_at
        if len(t) >= 3:
            self._measured = (t[-1] - t[0]) / (len(t) - 1)
        return self._measured

    def _timed_unit(self, seconds: float) -> None:
        u = self.unit_seconds
        self.unit_seconds = seconds if u is None else 0.8 * u + 0.2 * seconds

    def _iteration_done(self, now: float) -> None:
        self.finished_at.append(now)
        self.seconds_per_iteration()  # keep the wall-clock rate for after a pause
        w = self.work_per_iteration
        self.work_per_iteration = self.work if w is None else 0.7 * w + 0.3 * self.work


class Trainer:
    def __init__(self, model: torch.nn.Module, data: Data, config: TrainConfig = TrainConfig(),
                 device: str | torch.device = "cpu", split: SplitIteration | None = None):
        # model, data and generator live on `device` ("cpu", or "cuda" for long runs on a GPU); checkpoints
        # are always written with CPU tensors, so they load anywhere
        self.device = torch.device(device)
        self.model, self.data, self.config = model.to(self.device), _to(data, self.device), config
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.optimizer = self._make_optimizer()
        self.step_count = 0
        self.epoch = 0
        self.perm = torch.randperm(_count(data), generator=self.generator, device=self.device)
        self.pos = 0
        self.history: list[dict] = []  # one record per `run` (a tick or an epoch)
        self.message: str | None = None  # set when a run diverged
        self.ema: dict[str, torch.Tensor] | None = None  # the weight average, when config.ema > 0
        self.split = split  # iterations spread over ticks (see SplitIteration), or None: whole steps
        self._split_snap = None  # the run at the start of the split iteration in progress: its rollback point

    def _make_optimizer(self) -> torch.optim.Optimizer:
        # fused=True: one kernel per step instead of several passes over the parameters (about 2x faster
        # optimizer steps on the CPU; the same update rule)
        c, params = self.config, self.model.parameters()
        if c.optimizer == "adam":
            return torch.optim.Adam(params, lr=c.lr, betas=(c.beta1, 0.999), weight_decay=c.weight_decay, fused=True)
        return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay, fused=True)

    def set_hparams(self, **changes) -> None:
        """Change learning rate, batch size, momentum or weight decay between steps; the run goes on. Each value's type
        and range is checked first (limits.check_config): a ValueError names the setting."""
        new = limits.check_config(TrainConfig, {**dataclasses.asdict(self.config), **changes})
        if new.optimizer != self.config.optimizer:
            raise ValueError("the optimizer cannot change during a run; reset instead")
        self.config = new
        if new.ema == 0:
            self.ema = None
        for g in self.optimizer.param_groups:
            g["lr"], g["weight_decay"] = new.lr, new.weight_decay
            if "momentum" in g:
                g["momentum"] = new.momentum

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(_count(self.data) / self.config.batch_size)

    def next_batch(self) -> torch.Tensor:
        """The next minibatch of a random epoch order; a new order (and epoch) when this one is used up."""
        if self.pos >= _count(self.data):
            self.perm = torch.randperm(_count(self.data), generator=self.generator, device=self.device)
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos:self.pos + self.config.batch_size]
        self.pos += len(idx)
        x = _take(self.data, idx)
        if self.model.binary:
            x = _binarize_first(x, self.generator)
        return x

    def step(self, loss: Callable[[], dict] | None = None) -> dict[str, float]:
        """One optimizer step on one minibatch; with `loss`, on the loss terms loss() computes from a batch drawn
        earlier with next_batch (an iteration spread over several ticks: SplitIteration)."""
        self.model.train()
        x = self.next_batch() if loss is None else None
        self.optimizer.zero_grad(set_to_none=True)
        for group in self.optimizer.param_groups:
            group["lr"] = self.config.lr_at(self.step_count)
        if self.model.manual_grads:
            out = self.model.compute_grads(x, self.generator)
        else:
            out = self.model.loss(x, self.generator) if loss is None else loss()
            if torch.isfinite(out["loss"]):
                out["loss"].backward()
        if not torch.isfinite(out["loss"]):
            raise Diverged(f"loss = {out['loss'].item()}")
        self.optimizer.step()
        self.step_count += 1
        if self.config.ema > 0:
            self._update_ema()
        return {k: float(v.detach()) for k, v in out.items()}

    @torch.no_grad()
    def _update_ema(self) -> None:
        params = dict(self.model.named_parameters())
        if self.ema is None:  # starts at the current weights (also when a resumed run switches it on)
            self.ema = {k: p.detach().clone() for k, p in params.items()}
        else:
            torch._foreach_lerp_(list(self.ema.values()), [params[k] for k in self.ema], 1 - self.config.ema)

    # ---- state for exact resume and roll-back ---------------------------------------------------------
    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """(tensors, json-able scalars) that fully describe the run besides the model weights."""
        opt = self.optimizer.state_dict()
        tensors = {"rng": self.generator.get_state(), "perm": self.perm.clone()}
        if self.ema is not None:  # the average, and the raw weights (a checkpoint's model holds the average)
            tensors.update({f"ema.{k}": v.clone() for k, v in self.ema.items()})
            tensors.update({f"weights.{k}": p.detach().clone() for k, p in self.model.named_parameters()})
        scalars: dict = {}
        for i, st in opt["state"].items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"optim.{i}.{k}"] = v.clone()
                else:
                    scalars.setdefault("optim_scalars", {}).setdefault(str(i), {})[k] = v
        scalars.update(step=self.step_count, epoch=self.epoch, pos=self.pos,
                       train_config=checkpoints.config_to_dict(self.config),
                       param_groups=json.loads(json.dumps(opt["param_groups"])))
        return tensors, scalars

    def load_state(self, tensors: dict[str, torch.Tensor], scalars: dict) -> None:
        self.config = checkpoints.config_from_dict(TrainConfig, scalars["train_config"])
        rng = tensors["rng"].clone()
        if len(rng) == len(self.generator.get_state()):
            self.generator.set_state(rng)
        else:  # the state of a generator of another device (CPU <-> CUDA): the run goes on, not bit-exactly
            self.generator.manual_seed(self.config.seed + scalars["step"])
        self.perm = tensors["perm"].to(self.device)
        self.step_count, self.epoch, self.pos = scalars["step"], scalars["epoch"], scalars["pos"]
        self.ema = {k[4:]: v.to(self.device).clone() for k, v in tensors.items() if k.startswith("ema.")} or None
        if self.ema is not None:  # the file's model holds the average; the run goes on from the raw weights
            self._set_params({k[8:]: v for k, v in tensors.items() if k.startswith("weights.")})
        state: dict = {}
        for k, v in tensors.items():
            if k.startswith("optim."):
                _, i, name = k.split(".", 2)
                state.setdefault(int(i), {})[name] = v.clone()
        for i, st in scalars.get("optim_scalars", {}).items():
            state.setdefault(int(i), {}).update(st)
        self.optimizer = self._make_optimizer()
        self.optimizer.load_state_dict({"state": state, "param_groups": scalars["param_groups"]})

    def _snapshot(self):
        tensors, scalars = self.state()
        return copy.deepcopy(self.model.state_dict()), tensors, copy.deepcopy(scalars)

    def _restore(self, snap) -> None:
        self.model.load_state_dict(snap[0])
        self.load_state(snap[1], snap[2])

    def _params_finite(self) -> bool:
        return all(torch.isfinite(p).all() for p in self.model.parameters())

    # ---- running ------------------------------------------------------------------------------------
    def run(self, max_steps: int, time_budget: float | None = None, *, validate: Data | None = None) -> dict | None:
        """Up to `max_steps` steps (fewer if `time_budget` seconds run out); returns the history record, with the
        validation metrics on `validate` if given.

        On divergence (a FloatingPointError from a step, or from the validation after the steps, such as an EBM's
        exploding energies) the model, optimizer and RNG return to their state at the start of this call,
        `self.message` says what happened, and None is returned.
        """
        snap = self._snapshot()
        t0 = time.perf_counter()
        sums: dict[str, float] = {}
        n = 0
        try:
            while n < max_steps:
                out = self.step()
                n += 1
                for k, v in out.items():
                    sums[k] = sums.get(k, 0.0) + v
                if time_budget is not None and time.perf_counter() - t0 > time_budget:
                    break
            if not self._params_finite():
                raise Diverged("a parameter became NaN or infinite")
        except FloatingPointError as e:
            bad_step = self.step_count + 1
            self._restore(snap)
            self.message = (f"Training diverged near step {bad_step} ({e}); restored the last good state "
                            f"(step {self.step_count}). Try a smaller learning rate.")
            return None
        self.message = None
        rec = {"step": self.step_count, "epoch": self.epoch + self.pos / max(_count(self.data), 1),
               **{f"train_{k}": v / n for k, v in sums.items()}, "seconds": time.perf_counter() - t0}
        self.history.append(rec)
        if validate is not None:
            try:
                loss = self.validate(validate).get("loss")
                if loss is not None and not math.isfinite(loss):  # as a training step's loss: a diverged model
                    raise Diverged(f"validation loss = {loss}")
            except FloatingPointError as e:  # the steps went through, but the model they left cannot be evaluated
                self.history.pop()
                bad_step = self.step_count
                self._restore(snap)
                self.message = (f"Training diverged near step {bad_step} (in validation: {e}); restored the last good "
                                f"state (step {self.step_count}). Try a smaller learning rate.")
                return None
        return rec

    def tick(self, val: Data | None, budget: float | None = 0.1, max_steps: int = 200, *,
             max_work: int | None = None) -> dict | None:
        """One tick of live training (the app's pages): work for about `budget` seconds (None: no time limit), at
        most `max_steps` optimizer steps. The budget is used as given: the caller sizes it (a page's fair share of a
        shared server). None when the run diverged: it is rolled back and `message` says so.

        Whole steps (no `split`): optimizer steps, at least one, then the validation metrics on `val` (None: none);
        returns the history record (Trainer.run's) with the tick's duration as `tick_ms`; a divergence rolls back to
        the start of the tick.

        Split iterations (`split`, see SplitIteration): at least one unit of work (a Langevin step) and at most
        `max_work`; an iteration not finished goes on at the next tick. One history record per optimizer step (every
        `split.val_every` steps a validation pass on `val` adds its val_* to the last one). Returns {"phase", "done",
        "total", "steps", "tick_ms"} (and "seconds": the computing time of the iterations it finished); a divergence
        rolls back to the start of the failed iteration (a failed validation pass: of the iteration before it, whose
        record goes)."""
        t0 = time.perf_counter()
        if self.split is not None:
            return self._tick_split(val, budget, max_steps, max_work, t0)
        rec = self.run(max_steps, time_budget=budget, validate=val)
        if rec is not None:
            rec["tick_ms"] = 1000 * (time.perf_counter() - t0)
        return rec

    def rewind(self) -> None:
        """Drop the split iteration in progress: the run returns to the start of that iteration (a paused page calls
        this, so that a checkpoint is exactly the run at a finished step; the next tick redoes the same iteration).
        Nothing to do with whole steps."""
        it = self.split
        if it is None:
            return
        if it.phase == "train":
            self._restore(self._split_snap)
        it.clear()
        it.work = 0.0
        it.finished_at.clear()

    def _tick_split(self, val: Data | None, budget: float | None, max_steps: int, max_work: int | None,
                    t0: float) -> dict | None:
        it = self.split
        taken = steps = 0
        worked = 0.0  # computing time of the iterations finished in this tick

        def enough() -> bool:  # the tick's time or its work is spent
            return (budget is not None and time.perf_counter() - t0 > budget) or \
                (max_work is not None and taken >= max_work)

        try:
            while True:
                t = time.perf_counter()
                if it.phase == "idle":
                    self._begin_split(val)
                while not it.finished:
                    ta = time.perf_counter()
                    taken += it.advance(1)
                    it._timed_unit(time.perf_counter() - ta)
                    if enough():
                        break
                if not it.finished:
                    it.work += time.perf_counter() - t
                    break
                stepped = self._finish_split()
                it.work += time.perf_counter() - t
                if stepped:
                    steps += 1
                    it._iteration_done(time.perf_counter())
                    self.history[-1]["seconds"] = it.work
                    worked += it.work
                    it.work = 0.0
                if steps >= max_steps or enough():
                    break
        except FloatingPointError as e:
            failed, bad_step = it.phase, self.step_count + (it.phase == "train")
            if failed == "validate":
                self.history.pop()
            self._restore(self._split_snap)
            it.clear()
            it.since_val, it.work = 0, 0.0
            it.finished_at.clear()
            where = " (in validation)" if failed == "validate" else ""
            self.message = (f"Training diverged near step {bad_step}{where} ({e}); restored the last good state "
                            f"(step {self.step_count}). Try a smaller learning rate.")
            return None
        self.message = None
        rec = {"phase": it.phase, "done": it.done, "total": it.total, "steps": steps,
               "tick_ms": 1000 * (time.perf_counter() - t0)}
        if steps:  # "seconds": what the finished iterations took (each spread over ticks), as in Trainer.run's record
            rec["seconds"] = worked
            self.history[-1]["tick_ms"] = rec["tick_ms"]
        return rec

    def _begin_split(self, val: Data | None) -> None:
        """The next piece of split work: a validation pass every `val_every` iterations (in eval mode, as `evaluate`),
        else a training iteration (from a snapshot of the run, in train mode, as `step`)."""
        it = self.split
        if val is not None and it.val_every > 0 and it.since_val >= it.val_every and self.history:
            self.model.eval()
            it.begin(self, "validate", val)
            it.phase = "validate"
        else:
            self._split_snap = self._snapshot()
            self.model.train()
            it.begin(self, "train", val)
            it.phase = "train"

    def _finish_split(self) -> bool:
        """The optimizer step (or the validation metrics) of the finished piece; True for an optimizer step."""
        it = self.split
        if it.phase == "train":
            out = self.step(loss=it.loss)
            if not self._params_finite():
                raise Diverged("a parameter became NaN or infinite")
            self.history.append({"step": self.step_count, "epoch": self.epoch + self.pos / max(_count(self.data), 1),
                                 **{f"train_{k}": v for k, v in out.items()}})
            it.since_val += 1
            stepped = True
        else:
            with torch.no_grad():
                out = it.metrics()
            self.model.train()
            self.history[-1].update({f"val_{k}": float(v) for k, v in out.items()})
            it.since_val = 0
            stepped = False
        it.clear()
        return stepped

    def summary(self) -> dict[str, float]:
        """The last record's training and validation metrics, rounded: what a checkpoint's metadata keeps."""
        last = self.history[-1] if self.history else {}
        return {k: round(v, 6) for k, v in last.items() if k.startswith(("train_", "val_"))}

    def validate(self, data: Data, max_n: int | None = None, batch_size: int = 500) -> dict[str, float]:
        """Validation metrics, added to the last history record with the prefix `val_`."""
        metrics = evaluate(self.model, _take(data, slice(0, max_n)) if max_n else data, batch_size)
        if self.history:
            self.history[-1].update({f"val_{k}": v for k, v in metrics.items()})
        return metrics

    def to_bytes(self, *, dataset: str = "", command: str = "", metrics: dict | None = None,
                 extra_meta: dict | None = None, weights_only: bool = False) -> bytes:
        """The checkpoint of this run as bytes: the model as it will be used (its weight average when `ema` is on, with
        the end-of-run statistics `after_training` fits to those weights, e.g. the autoencoder's code Gaussian), the
        step count, the metrics (default: `summary()`) and, unless `weights_only`, the trainer state for an exact
        resume. The one serializer of a run: the command line's file and the app's download are these bytes."""
        tensors, scalars = self.state() if not weights_only else ({}, None)
        meta = {**({"trainer": scalars} if scalars is not None else {}), **(extra_meta or {})}
        with self.averaged_weights():
            kept = {k: b.clone() for k, b in self.model.named_buffers()}  # writing a file never changes the run
            try:
                self.model.after_training(self.data[0] if isinstance(self.data, tuple) else self.data)
                return checkpoints.to_bytes(self.model, dataset=dataset, steps=self.step_count, command=command,
                                            metrics=self.summary() if metrics is None else metrics,
                                            extra_tensors=tensors, extra_meta=meta)
            finally:
                with torch.no_grad():
                    for k, b in self.model.named_buffers():
                        b.copy_(kept[k])

    def save(self, path, **kw) -> None:
        """Write `to_bytes(**kw)` to `path` atomically."""
        checkpoints.atomic_write(path, self.to_bytes(**kw))

    @contextlib.contextmanager
    def averaged_weights(self):
        """Inside: the model holds the weight average (if `ema` is on); the raw weights come back after."""
        if self.ema is None:
            yield self.model
            return
        raw = {k: p.detach().clone() for k, p in self.model.named_parameters()}
        try:
            self._set_params(self.ema)
            yield self.model
        finally:
            self._set_params(raw)

    @torch.no_grad()
    def _set_params(self, values: dict[str, torch.Tensor]) -> None:
        for k, p in self.model.named_parameters():
            p.copy_(values[k])

    @classmethod
    def resume(cls, ckpt: checkpoints.Checkpoint, model: torch.nn.Module, data: Data,
               device: str | torch.device = "cpu") -> "Trainer":
        """A trainer that continues where checkpoint `ckpt` stopped (exactly, on the same device); `model` is the
        model built from it (genlib.models.build)."""
        name = printable(ckpt.path or "checkpoint")
        scalars = ckpt.meta.get("trainer")
        if not isinstance(scalars, dict):
            raise checkpoints.CheckpointError(f"{name}: holds no trainer state to resume from "
                                              "(written with --weights-only?)")
        if not isinstance(scalars.get("train_config"), dict):
            raise checkpoints.CheckpointError(f"{name}: its trainer state has no training config ('train_config'), "
                                              "so the run cannot be resumed")
        for k in ("step", "epoch", "pos"):
            if type(scalars.get(k)) is not int or scalars[k] < 0:
                raise checkpoints.CheckpointError(f"{name}: its trainer state has no valid {k!r} (a count >= 0)")
        if not isinstance(scalars.get("param_groups"), list) or not isinstance(scalars.get("optim_scalars", {}), dict):
            raise checkpoints.CheckpointError(f"{name}: its trainer state has no valid optimizer settings")
        specs = ckpt.trainer_specs()
        n = _count(data)
        if "rng" not in specs or specs["rng"].dtype != torch.uint8 or len(specs["rng"].shape) != 1:
            raise checkpoints.CheckpointError(f"{name}: its trainer state has no generator state ('rng')")
        if "perm" not in specs or specs["perm"].dtype != torch.int64 or specs["perm"].shape != (n,):
            raise checkpoints.CheckpointError(f"{name}: its trainer state's epoch order ('perm') does not fit the "
                                              f"{n} training digits; resume with the data it was trained on")
        if scalars["pos"] > n:
            raise checkpoints.CheckpointError(f"{name}: its trainer state's position {scalars['pos']} is past the "
                                              f"{n} training digits")
        config = checkpoints.config_from_dict(TrainConfig, scalars["train_config"], where=f"{name}: trainer state")
        trainer = cls(model, data, config, device)
        try:
            trainer.load_state(ckpt.trainer_tensors(), scalars)
        except (KeyError, ValueError, TypeError, IndexError, RuntimeError) as e:
            raise checkpoints.CheckpointError(f"{name}: its trainer state does not fit this model "
                                              f"({type(e).__name__}: {printable(e, 120)})") from None
        if n and bool(((trainer.perm < 0) | (trainer.perm >= n)).any()):
            raise checkpoints.CheckpointError(f"{name}: its trainer state's epoch order ('perm') is not an order of "
                                              f"the {n} training digits")
        return trainer


@torch.no_grad()
def evaluate(model: torch.nn.Module, data: Data, batch_size: int = 500, seed: int = EVAL_SEED) -> dict[str, float]:
    """Mean of the model's loss terms over `data`, in eval mode; binary models see a fixed binarization."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(seed)
    sums: dict[str, float] = {}
    n = _count(data)
    for i in range(0, n, batch_size):
        x = _to(_take(data, slice(i, i + batch_size)), device)
        if model.binary:
            x = _binarize_first(x, g)
        for k, v in model.loss(x, g).items():
            sums[k] = sums.get(k, 0.0) + float(v) * _count(x)
    model.train(was_training)
    return {k: v / n for k, v in sums.items()}

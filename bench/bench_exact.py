"""Exact baselines of the live views' numbers: what a redesign of the views must not change.

    .venv/bin/python bench/bench_exact.py --out before.npz [--only NAME ...]
    .venv/bin/python bench/bench_exact.py --compare before.npz after.npz

Each section builds its chains or its run through the genlib API exactly as the page does (same seeds, same
generators, same order of random draws; the page modules are not imported, so the script runs on any version of the
pages), and advances it a fixed number of steps or frames (never a time budget). Everything is saved to one .npz.
`--compare A B` prints, per array, its shapes and the largest absolute difference, and exits 1 if any array differs
(exact equality expected: the same code path on the same machine gives the same bits), naming those that do.

Sections (the page each reproduces):
  samplers   Langevin lab, Samplers tab (pages/lab/samplers.py new_samplers / advance_samplers): ULA and MALA on every
             target of genlib.densities.TARGETS, 300 chains, seed 0, eta 0.05, sigma sqrt(2 eta), 5 steps per frame,
             40 frames: the frames, steps, acceptance, dead chains, and the exact samples of the KL's noise floor.
  sgld       Langevin lab, SGLD tab (pages/lab/sgld.py new_sgld / advance_sgld) with its default controls (a 0.02,
             b 1, gamma 0.1, minibatch 10, 50 chains, seed 0, 10 steps per frame), 40 frames of each method.
  gibbs      RBM page, Gibbs chains tab (pages/rbm_tabs/chains.py new_chains): each bundled RBM checkpoint, 36 chains
             from uniform noise (seed 0), beta 1.0 and 1.5, 1 Gibbs step per frame, 30 frames: the sampled v (uint8),
             the means p(v|h) (float16, as the Recorder keeps them) and the free energies.
  ebm_chains EBM page, Langevin chains tab (pages/ebm_tabs/chains.py new_chains): the bundled ebm-mnist as the page's
             run holds it, 16 chains from uniform noise (seed 0), the sidebar's defaults eta 10, sigma 0.005, 64 total
             steps, 8 per frame: the frames and the energies.
  train_*    Live training, each from seed 0 on the data the page uses, a fixed number of Trainer.run(max_steps=k)
             calls with the page's validation (no time budget): the history (every numeric field but the timings) and
             the final weights. ae: Autoencoder page; vae: VAE page with the conv 2-D architecture; rbm: RBM Train
             tab (CD-1, 64 hidden, lr 0.1, batch 64, plus the tab's train free energy); ebm2d: Langevin lab's 2-D EBM
             tab (eight Gaussians, short-run negatives, lr 1e-2); ebm: EBM Train tab (ebm-mnist, lr 1e-4, batch 64,
             K 40) through Trainer.tick with genlib.models.ebm.LangevinIteration (LiveTraining in older code) in
             ticks of at most 7 Langevin steps (an iteration split over ticks, a validation pass every 10 iterations
             as the page does), the ticks' records too.

torch runs on one thread (the app's default, GENLIB_THREADS=1): the reductions are then the same from run to run.
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

N_FRAMES_2D = 40  # Samplers and SGLD tabs
N_FRAMES_GIBBS = 30
EBM_CHAIN_TOTAL, EBM_CHAIN_PER = 64, 8
TIMING_KEYS = {"seconds", "tick_ms"}  # history fields that are wall-clock times: never compared


def _t(x) -> np.ndarray:
    """A tensor (or a list of tensors, stacked) as a numpy array of the same dtype."""
    import torch

    if isinstance(x, (list, tuple)):
        x = torch.stack(list(x))
    return x.detach().cpu().numpy()


def _opt(values) -> np.ndarray:
    """A list of optional floats (None at frame 0) as float64 with NaN for None."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def history_arrays(prefix: str, history: list[dict], out: dict) -> None:
    """Every non-timing field of a Trainer history as one float64 array over its records (NaN where a record lacks
    it), plus the list of field names."""
    keys = sorted({k for r in history for k in r} - TIMING_KEYS)
    out[f"{prefix}/history_keys"] = np.array(keys)
    for k in keys:
        out[f"{prefix}/history/{k}"] = np.array([float(r.get(k, np.nan)) for r in history], dtype=np.float64)


def weights(prefix: str, model, out: dict) -> None:
    """Every parameter and buffer of the model, as saved in its state dict."""
    for k, v in model.state_dict().items():
        out[f"{prefix}/state/{k}"] = _t(v)


# ---- the sections -----------------------------------------------------------------------------------------------

def sec_samplers(out: dict, mn) -> None:
    import torch

    from genlib import densities as D
    from genlib import samplers as S

    chains, seed, eta, per_frame = 300, 0, 0.05, 5
    sigma = math.sqrt(2 * eta)
    for name in D.TARGETS:
        # pages/lab/samplers.py new_samplers (target_and_grids: D.make_target for these names)
        t = D.make_target(name)
        x0 = S.init_chains(chains, 2, torch.Generator().manual_seed(seed))
        ula = S.Recorder(S.ula(t.grad, x0, eta, sigma, torch.Generator().manual_seed(seed + 1)), x0, max_frames=600)
        mala = S.Recorder(S.mala(t.log_prob, t.grad, x0, eta, torch.Generator().manual_seed(seed + 1), noise=sigma),
                          x0, max_frames=600)
        exact = t.sample(chains, torch.Generator().manual_seed(seed + 2))
        died = 0
        for _ in range(N_FRAMES_2D):  # advance_samplers
            for rec in (ula, mala):
                died += rec.advance(per_frame)
        p = f"samplers/{name}"
        out[f"{p}/x0"] = _t(x0)
        out[f"{p}/exact"] = _t(exact)
        for tag, rec in (("ULA", ula), ("MALA", mala)):
            out[f"{p}/{tag}/frames"] = _t(rec.frames)
            out[f"{p}/{tag}/steps"] = np.array(rec.steps)
            out[f"{p}/{tag}/acceptance"] = _opt(rec.acceptance)
            out[f"{p}/{tag}/dead"] = np.array(rec.dead)
        out[f"{p}/died"] = np.array(died)


def sec_sgld(out: dict, mn) -> None:
    import torch

    from genlib import densities as D
    from genlib import samplers as S

    a, b, gamma, batch, chains, seed, per_frame = 0.02, 1, 0.1, 10, 50, 0, 10  # the tab's default controls
    schedule = S.StepSchedule(a, float(b), gamma)
    t = D.WellingTehPosterior()
    x0 = S.init_chains(chains, 2, torch.Generator().manual_seed(seed))
    methods = ("SGD", "SGLD", "full-batch Langevin")
    recs = {}
    for i, name in enumerate(methods):  # pages/lab/sgld.py new_sgld
        g = torch.Generator().manual_seed(seed + 1 + i)
        grad = t.grad if name == "full-batch Langevin" else t.minibatch_score(batch, g)
        recs[name] = S.Recorder((S.sgd if name == "SGD" else S.sgld)(grad, x0, schedule, g), x0, max_frames=600)
    died = 0
    for _ in range(N_FRAMES_2D):  # advance_sgld
        for name in methods:
            died += recs[name].advance(per_frame)
    out["sgld/x0"] = _t(x0)
    for name, rec in recs.items():
        p = f"sgld/{name}"
        out[f"{p}/frames"] = _t(rec.frames)
        out[f"{p}/steps"] = np.array(rec.steps)
        out[f"{p}/step_sizes"] = _opt(rec.step_sizes)
        out[f"{p}/dead"] = np.array(rec.dead)
    out["sgld/died"] = np.array(died)


RBM_CHECKPOINTS = ("rbm-500", "rbm-500-cd1", "rbm-16", "rbm-16-cd1")


def sec_gibbs(out: dict, mn) -> None:
    import torch

    from genlib import checkpoints, models, samplers

    n, seed = 36, 0
    for ck in RBM_CHECKPOINTS:
        path = checkpoints.resolve(ck)
        if not path.exists():
            print(f"gibbs: {ck} not bundled, skipped")
            continue
        model = models.load(path)  # pages/views/setup.py pretrained (read-only, eval mode)
        for beta in (1.0, 1.5):
            # pages/rbm_tabs/chains.py new_chains, start "uniform noise"
            g = torch.Generator().manual_seed(int(seed))
            v = torch.bernoulli(torch.full((n, 784), 0.5), generator=g)
            temperature = {"beta": beta}
            gibbs = samplers.gibbs(model, v, g, beta=lambda: temperature["beta"])
            rec = samplers.Recorder(gibbs, v, energy=model.free_energy, store=torch.uint8, means=True, max_frames=200)
            for _ in range(N_FRAMES_GIBBS):
                rec.advance(1)
            p = f"gibbs/{ck}/beta{beta:g}"
            out[f"{p}/frames"] = _t(rec.frames)
            out[f"{p}/means"] = _t(rec.means)
            out[f"{p}/free_energy"] = _t(rec.energies)
            out[f"{p}/steps"] = np.array(rec.steps)


def ebm_page_trainer(mn):
    """pages/ebm.py fresh_state + make_trainer: a private copy of the bundled ebm-mnist in a trainer (lr 1e-4,
    batch 64, beta1 0)."""
    from genlib import checkpoints, models
    from genlib.train import TrainConfig, Trainer

    model = copy.deepcopy(models.load(checkpoints.resolve("ebm-mnist")))
    return Trainer(model, mn.train.images, TrainConfig(lr=1e-4, batch_size=64, seed=0, beta1=0.0))


def sec_ebm_chains(out: dict, mn) -> None:
    import torch

    from genlib import samplers

    model = ebm_page_trainer(mn).model
    n, seed, step_size, noise = 16, 0, 10.0, 0.005  # the tab's and the sidebar's defaults
    g = torch.Generator().manual_seed(int(seed))
    x = model.noise(n, g)  # start "uniform noise"
    chain = model.chain(x, g, step_size, noise)
    rec = samplers.Recorder(chain, x, total_steps=EBM_CHAIN_TOTAL, energy=model.energy)
    while not rec.full:
        rec.advance(EBM_CHAIN_PER)
    out["ebm_chains/frames"] = _t(rec.frames)
    out["ebm_chains/energies"] = _t(rec.energies)
    out["ebm_chains/steps"] = np.array(rec.steps)


def new_trainer(model, mn, lr, batch, seed=0, **kw):
    """pages/views/training.py new_trainer."""
    from genlib.train import TrainConfig, Trainer

    return Trainer(model, mn.train.images, TrainConfig(lr=lr, batch_size=batch, seed=seed, **kw))


def _runs(tr, runs: int, steps: int, val, after=None) -> None:
    """`runs` ticks of the page without their time budget: Trainer.run(steps, validate=val) each (Trainer.tick's
    work), then after(record) for what the page adds to a tick's record."""
    for _ in range(runs):
        rec = tr.run(steps, validate=val)
        if rec is None:
            raise RuntimeError(f"training diverged: {tr.message}")
        if after is not None:
            after(rec)


def sec_train_ae(out: dict, mn) -> None:
    from genlib import models
    from genlib.models.autoencoder import AEConfig

    tr = new_trainer(models.create("ae", AEConfig(code_size=2), 0), mn, 1e-3, 128, 0)  # pages/autoencoder.py fresh
    _runs(tr, 6, 10, mn.val.images)
    history_arrays("train_ae", tr.history, out)
    weights("train_ae", tr.model, out)


def sec_train_vae(out: dict, mn) -> None:
    from genlib import models
    from genlib.models import vae as V

    # pages/vae.py config() with the sidebar on "Conv (32, 64 filters, dense 16)", latent 2, bernoulli, beta 1, no
    # warm-up; fresh() at seed 0
    cfg = dataclasses.replace(V.VAEConfig(), latent=2, likelihood="bernoulli", beta=1.0, warmup_steps=0,
                              encoder="conv", decoder="conv", hidden=(16,))
    tr = new_trainer(models.create("vae", cfg, 0), mn, 1e-3, 128, 0)
    _runs(tr, 4, 5, mn.val.images)
    history_arrays("train_vae", tr.history, out)
    weights("train_vae", tr.model, out)


def sec_train_rbm(out: dict, mn) -> None:
    import torch

    from genlib import models
    from genlib.data import binarize_fixed
    from genlib.models.rbm import RBMConfig

    # pages/rbm_tabs/train.py trainer_from_controls with TRAIN_DEFAULTS
    model = models.create("rbm", RBMConfig(n_hidden=64, k=1, persistent=False, n_chains=100), 0)
    tr = new_trainer(model, mn, 0.1, 64, seed=0, optimizer="sgd", momentum=0.0, weight_decay=0.0)

    def after(rec):  # train_tick (64 hidden units: no exact log-likelihood)
        with torch.no_grad():
            rec["train_free_energy"] = float(tr.model.free_energy(binarize_fixed(mn.train.images[:256])).mean())

    _runs(tr, 6, 10, mn.val.images[:256], after)
    history_arrays("train_rbm", tr.history, out)
    weights("train_rbm", tr.model, out)


def sec_train_ebm2d(out: dict, mn) -> None:
    import torch

    from genlib import models
    from genlib.data import toy_data
    from genlib.models.ebm2d import EBM2DConfig
    from genlib.train import TrainConfig, Trainer

    # pages/lab/ebm2d.py new_ebm("eight_gaussians", 0, EBM2DConfig(persistent=False), 1e-2); tick: run(20) per tick
    seed = 0
    data = toy_data("eight_gaussians", 5000, torch.Generator().manual_seed(seed))
    model = models.create("ebm2d", EBM2DConfig(persistent=False), seed)
    tr = Trainer(model, data, TrainConfig(lr=1e-2, batch_size=128, seed=seed))
    for _ in range(5):
        if tr.run(20) is None:
            raise RuntimeError(f"training diverged: {tr.message}")
    history_arrays("train_ebm2d", tr.history, out)
    weights("train_ebm2d", tr.model, out)
    out["train_ebm2d/negatives"] = _t(tr.model.negatives)
    out["train_ebm2d/energy_grid"] = np.asarray(tr.model.energy_grid((-4.0, 4.0, -4.0, 4.0), 70)[2])  # the tab's map


EBM_ITERATIONS = 11  # 10 iterations, the validation pass the page runs after them, and one more
EBM_TICK_LANGEVIN = 7  # Langevin steps per tick: K = 40 spreads over 6 ticks, not a divisor of it


def sec_train_ebm(out: dict, mn) -> None:
    from genlib.models import ebm as E

    tr = ebm_page_trainer(mn)
    # pages/ebm_tabs/train.py: set_hparams(lr, batch) and the config's K, eta and sigma from the controls' defaults
    tr.set_hparams(lr=1e-4, batch_size=64)
    cfg = tr.model.config
    if (40, 10.0, 0.005) != (cfg.steps, cfg.step_size, cfg.noise):
        tr.model.config = dataclasses.replace(cfg, steps=40, step_size=10.0, noise=0.005)
    val = mn.val.images[:128]
    if hasattr(E, "LiveTraining"):  # the code before Trainer.tick drove split iterations
        live = E.LiveTraining(tr, val, 10)
        tick = lambda: live.tick(budget=None, max_langevin=EBM_TICK_LANGEVIN)  # noqa: E731
    else:  # Trainer.split: the same iterations, ticked by Trainer.tick
        tr.split = E.LangevinIteration(tr.model, 10)
        tick = lambda: tr.tick(val, budget=None, max_work=EBM_TICK_LANGEVIN)  # noqa: E731
    ticks = []
    while tr.step_count < EBM_ITERATIONS:
        rec = tick()
        if rec is None:
            raise RuntimeError(f"training diverged: {tr.message}")
        ticks.append(rec)
        if len(ticks) > 1000:
            raise RuntimeError("the EBM's live training made no progress")
    out["train_ebm/tick_phase"] = np.array([r["phase"] for r in ticks])
    for k in ("done", "total", "steps"):
        out[f"train_ebm/tick_{k}"] = np.array([r[k] for r in ticks])
    history_arrays("train_ebm", tr.history, out)
    weights("train_ebm", tr.model, out)


SECTIONS = {"samplers": sec_samplers, "sgld": sec_sgld, "gibbs": sec_gibbs, "ebm_chains": sec_ebm_chains,
            "train_ae": sec_train_ae, "train_vae": sec_train_vae, "train_rbm": sec_train_rbm,
            "train_ebm2d": sec_train_ebm2d, "train_ebm": sec_train_ebm}


def load_data():
    """The digits the pages train on: genlib.data.load_mnist as pages/views/setup.py calls it. The server runs with
    no --data-dir (./data: none), so the training and validation digits are the bundled ones; a root with only the
    MNIST test files (../shared/data/mnist-test) gives the same train / validation split."""
    from genlib import data as gdata

    return gdata.load_mnist(None)


def produce(path: str, only: list[str] | None) -> None:
    import torch

    torch.set_num_threads(1)
    mn = load_data()
    out: dict[str, np.ndarray] = {
        "data/train_sum": np.array(float(mn.train.images.double().sum())), "data/train_n": np.array(len(mn.train)),
        "data/val_sum": np.array(float(mn.val.images.double().sum())), "data/val_n": np.array(len(mn.val))}
    total = time.perf_counter()
    for name, fn in SECTIONS.items():
        if only and name not in only:
            continue
        t0, before = time.perf_counter(), len(out)
        fn(out, mn)
        print(f"{name:12s} {len(out) - before:4d} arrays  {time.perf_counter() - t0:6.1f} s", flush=True)
    np.savez_compressed(path, **out)
    print(f"wrote {len(out)} arrays to {path} in {time.perf_counter() - total:.1f} s "
          f"(torch {torch.__version__}, {torch.get_num_threads()} thread)")


# ---- compare ----------------------------------------------------------------------------------------------------

def max_abs_diff(a: np.ndarray, b: np.ndarray) -> str:
    if a.dtype.kind in "US" or b.dtype.kind in "US":
        return "0" if np.array_equal(a, b) else f"{int((a != b).sum())} strings differ"
    fa, fb = a.astype(np.float64), b.astype(np.float64)
    nan_a, nan_b = np.isnan(fa), np.isnan(fb)
    if (nan_a != nan_b).any():
        return f"NaN at {int((nan_a != nan_b).sum())} other places"
    d = np.abs(np.where(nan_a, 0.0, fa) - np.where(nan_b, 0.0, fb))
    d = np.where(np.isinf(fa) & np.isinf(fb) & (fa == fb), 0.0, d)
    return f"{float(d.max()) if d.size else 0.0:.6g}"


def compare(pa: str, pb: str) -> int:
    a, b = np.load(pa, allow_pickle=False), np.load(pb, allow_pickle=False)
    keys = sorted(set(a.files) | set(b.files))
    differ = []
    print(f"A = {pa}\nB = {pb}\n{'array':70s} {'shape A':>18s} {'shape B':>18s}  max |A - B|")
    for k in keys:
        if k not in a.files or k not in b.files:
            print(f"{k:70s} {'missing' if k not in a.files else str(a[k].shape):>18s} "
                  f"{'missing' if k not in b.files else str(b[k].shape):>18s}  only in one")
            differ.append(k)
            continue
        x, y = a[k], b[k]
        if x.shape != y.shape:
            print(f"{k:70s} {str(x.shape):>18s} {str(y.shape):>18s}  shapes differ")
            differ.append(k)
            continue
        same = np.array_equal(x, y, equal_nan=x.dtype.kind == "f" and y.dtype.kind == "f") and x.dtype == y.dtype
        note = "" if x.dtype == y.dtype else f"  (dtype {x.dtype} vs {y.dtype})"
        print(f"{k:70s} {str(x.shape):>18s} {str(y.shape):>18s}  {max_abs_diff(x, y)}{note}"
              f"{'' if same else '  DIFFERS'}")
        if not same:
            differ.append(k)
    print(f"\n{len(keys)} arrays, {len(differ)} differ" + (":" if differ else "."))
    for k in differ:
        print(f"  {k}")
    return 1 if differ else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", help="write the baseline arrays to this .npz")
    ap.add_argument("--only", nargs="+", choices=list(SECTIONS), help="only these sections")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"), help="compare two .npz files; exit 1 if any differ")
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if not args.out:
        ap.error("give --out PATH or --compare A B")
    produce(args.out, args.only)


if __name__ == "__main__":
    main()

"""The RBM page's Train tab: the run of this session (built from the tab's controls), trained live with CD-k or PCD,
its curves beside the previous run's, and its filters."""
from __future__ import annotations

import dataclasses

import streamlit as st
import torch

from genlib import checkpoints, models, viz
from genlib.data import MNIST, binarize_fixed
from genlib.models.rbm import EXACT_MAX_HIDDEN, RBM, RBMConfig, exact_log_z, log_likelihood
from pages.rbm_tabs import lessons
from pages.views import chain_player, chrome, live, setup, share, training, untrusted, url

# the Train tab's controls (widget key -> default); the run is built from them at Reset
TRAIN_DEFAULTS = {"rbm-method": "CD-k", "rbm-hidden": 64, "rbm-k": 1, "rbm-lr": 0.1, "rbm-batch": 64, "rbm-mom": 0.0,
                  "rbm-wd": 0.0, "rbm-train-seed": 0}
EXACT_EVERY = 200  # training steps between two exact log-likelihoods (a sum over 2^H states: ~0.3 s at H = 16)
# CD-1 and PCD side by side: both continue the bundled CD-1 model that has stalled (rbm-16-cd1: 710 steps of CD-1, lr
# 0.1, batch 64, exact log-likelihood -175.3), in lockstep, with an exact log-likelihood of each every PAIR_EVERY steps
PAIR_START = "rbm-16-cd1"
PAIR_EVERY = 50


def new_model(n_hidden: int, k: int, persistent: bool, seed: int = 0, n_chains: int = 100) -> RBM:
    return models.create("rbm", RBMConfig(n_hidden=n_hidden, k=k, persistent=persistent, n_chains=n_chains), seed)


def make_trainer(mn: MNIST, model: RBM, lr: float, batch: int, momentum: float, wd: float, seed: int = 0):
    return training.new_trainer(model, mn, lr, batch, seed=seed, optimizer="sgd", momentum=momentum, weight_decay=wd)


def ctl(key: str):
    """A Train control's value: the widget's, or its default before the Train tab has drawn it."""
    return st.session_state.get(key, TRAIN_DEFAULTS[key])


def trainer_from_controls(mn: MNIST):
    c = {k: ctl(k) for k in TRAIN_DEFAULTS}
    return make_trainer(mn, new_model(c["rbm-hidden"], c["rbm-k"], c["rbm-method"] == "PCD", int(c["rbm-train-seed"])),
                        c["rbm-lr"], c["rbm-batch"], c["rbm-mom"], c["rbm-wd"], int(c["rbm-train-seed"]))


def describe(model: RBM) -> str:
    c = model.config
    return f"{'PCD' if c.persistent else 'CD'}-{c.k}, {c.n_hidden} hidden units"


def replace_run(state: dict, trainer, source: str) -> None:
    """A new run in place of this one; the old run's curves are kept as the comparison."""
    old = state["trainer"]
    if old is not None and old.history:
        state["previous"] = {"label": f"{describe(old.model)}, {old.step_count} steps", "history": old.history}
    state.update(trainer=trainer, running=False, source=source, rival=None)


def train_tick(state: dict, mn: MNIST, budget: float | None = 0.12, max_steps: int = 50,
               exact_every: int = EXACT_EVERY) -> dict | None:
    """One tick of live training plus validation; for small models the exact validation log-likelihood, at the first
    tick and then every `exact_every` steps (the sum over 2^H hidden states would otherwise dominate every tick)."""
    tr = state["trainer"]
    rec = tr.tick(mn.val.images[:256], budget=budget, max_steps=max_steps)
    if rec is not None:
        with torch.no_grad():  # 256 training digits, binarized like the validation digits (fixed seed)
            rec["train_free_energy"] = float(tr.model.free_energy(binarize_fixed(mn.train.images[:256])).mean())
        last = next((r["step"] for r in reversed(tr.history[:-1]) if "val_exact_ll" in r), None)
        if tr.model.config.n_hidden <= EXACT_MAX_HIDDEN and (last is None or tr.step_count - last >= exact_every):
            rec["val_exact_ll"] = log_likelihood(rec["val_free_energy"], exact_log_z(tr.model))[0]
    return rec


def start_pair(state: dict, mn: MNIST) -> None:
    """The lesson "CD-1 vs PCD": two runs trained side by side from the same weights (PAIR_START, or fresh ones
    if that checkpoint is missing) with the Train controls' settings: this session's run continues with CD-k, the
    rival (state["rival"]) with PCD-k, its 100 persistent chains started at training digits."""
    c = {k: ctl(k) for k in TRAIN_DEFAULTS}
    seed = int(c["rbm-train-seed"])
    base = setup_copy(PAIR_START)
    runs = []
    for persistent in (False, True):
        model = new_model(base.config.n_hidden if base else c["rbm-hidden"], c["rbm-k"], persistent, seed)
        if base is not None:  # the weights and biases of the stalled CD-1 model (strict=False: PCD adds its chains)
            model.load_state_dict(base.state_dict(), strict=False)
            if persistent:  # chains at training digits, as PCD's first step would set them (its biases are kept)
                with torch.no_grad():
                    model.chains.copy_(binarize_fixed(mn.train.images[:model.config.n_chains]).flatten(1))
        runs.append(make_trainer(mn, model, c["rbm-lr"], c["rbm-batch"], c["rbm-mom"], c["rbm-wd"], seed))
    replace_run(state, runs[0], f"{PAIR_START} continued" if base is not None else "new")
    state.update(rival={"trainer": runs[1]}, running=True)


def setup_copy(name: str) -> RBM | None:
    """A private copy of the bundled checkpoint `name`, None if it is not there."""
    if not checkpoints.resolve(name).exists():
        return None
    return setup.pretrained_copy(name)


def pair_tick(state: dict, mn: MNIST, budget: float | None) -> dict | None:
    """One tick of the side-by-side runs: this session's run for half the budget, then the rival for as many steps,
    so that both are always at the same step and their exact log-likelihoods are taken at the same steps."""
    rec = train_tick(state, mn, None if budget is None else budget / 2, exact_every=PAIR_EVERY)
    rival = state["rival"]
    if rec is not None:
        training.catch_up(state["trainer"], rival["trainer"],
                          lambda n: train_tick(rival, mn, None, max_steps=n, exact_every=PAIR_EVERY))
    return rec


def pair_history(runs: dict[str, list[dict]], keys: dict[str, str]) -> tuple[list[dict], dict[str, str]]:
    """The histories of runs named {name: history} as one history whose keys are "name key", labelled
    "name: label": compare_curves then draws each run's curve in its own colour, solid (not as a faded previous)."""
    merged = [{"step": r["step"], f"{name} {k}": r[k]} for name, hist in runs.items() for r in hist for k in keys
              if k in r]
    return merged, {f"{name} {k}": f"{name}: {label}" for name in runs for k, label in keys.items()}


def render(state: dict, mn: MNIST) -> None:
    """The tab: `state` is the session's run {"trainer", "running", "source", "previous"}."""

    def tick(budget: float | None = None) -> dict | None:
        if state.get("rival"):
            return pair_tick(state, mn, share.cut(0.12, budget))
        return train_tick(state, mn, share.cut(0.12, budget))

    view = st.container() if chrome.projector() else None  # projector mode: the curves above the controls
    c1, c2, c3, c4 = st.columns(4)
    method = url.bound(c1.radio, "Method", ["CD-k", "PCD"], horizontal=True, key="rbm-method",
                      help="CD-k starts the negative chains at the data each update; PCD keeps 100 persistent "
                      "chains. Applies at Reset.")
    n_hidden = url.bound(c2.select_slider, "Hidden units", [8, 16, 20, 32, 64, 100, 200, 500], key="rbm-hidden",
                                value=TRAIN_DEFAULTS["rbm-hidden"],
                                help="Applies at Reset. Up to 20 units the exact log-likelihood is tracked every "
                                "tick.")
    k = url.bound(c3.slider, "Gibbs steps k", 1, 25, TRAIN_DEFAULTS["rbm-k"], key="rbm-k",
                  help="Gibbs steps per update (CD-k or PCD-k).")
    lr = url.bound(c4.select_slider, "Learning rate", training.LEARNING_RATES, value=TRAIN_DEFAULTS["rbm-lr"], key="rbm-lr",
                          format_func=lambda v: f"{v:g}",
                          help="SGD step size (the course uses 0.1). Too large blows the weights up: the run then "
                          "rolls back to its last good state.")
    c5, c6, c7, c8 = st.columns(4)
    batch = url.bound(c5.select_slider, "Batch size", training.BATCH_SIZES, value=TRAIN_DEFAULTS["rbm-batch"], key="rbm-batch",
                             help="Digits per update.")
    momentum = url.bound(c6.slider, "Momentum", 0.0, 0.95, TRAIN_DEFAULTS["rbm-mom"], 0.05, key="rbm-mom",
                         help="SGD momentum.")
    wd = url.bound(c7.select_slider, "Weight decay", [0.0, 1e-5, 1e-4, 3e-4, 1e-3, 1e-2], value=TRAIN_DEFAULTS["rbm-wd"],
                          key="rbm-wd", format_func=lambda v: f"{v:g}",
                          help="L2 penalty on the parameters (keeps the weights small).")
    url.bound(c8.number_input, "Seed", 0, 10_000, TRAIN_DEFAULTS["rbm-train-seed"], key="rbm-train-seed",
                    help="Seed of the initial weights and of the order of the "
                    "training digits. Applies at Reset: the same seed and settings train the same run.")
    trainer = state["trainer"]
    cfg = trainer.model.config
    for tr in [trainer] + ([state["rival"]["trainer"]] if state.get("rival") else []):  # a pair: both alike
        tr.set_hparams(lr=lr, batch_size=batch, momentum=momentum, weight_decay=wd)
        if k != tr.model.config.k:
            tr.model.config = dataclasses.replace(tr.model.config, k=k)
    # a lesson starts its run before the buttons are drawn (so that they read Pause)
    if chrome.take_autoplay(lessons.go("train")):  # a lesson: a new run with its settings, started
        replace_run(state, trainer_from_controls(mn), "new")
        state["running"] = True
    if chrome.take_autoplay(lessons.go("pair")):  # the lesson CD-1 vs PCD: two runs side by side, started
        start_pair(state, mn)
    with view if view is not None else st.container():  # projector mode: Start above the curves, above the fold
        step, reset = training.train_buttons("rbm", state)
    cfg = state["trainer"].model.config
    if (method == "PCD") != cfg.persistent or n_hidden != cfg.n_hidden:
        st.info(f"Press Reset to start a new {method} model with {n_hidden} hidden units.")
    b1, b2 = st.columns(2)
    with b2:
        uploaded = training.new_upload("rbm", "rbm-up")
    if uploaded is not None:
        replace_run(state, make_trainer(mn, uploaded[0], lr, batch, momentum, wd), f"uploaded {uploaded[1]}")
    if reset:
        replace_run(state, trainer_from_controls(mn), "new")
    if step:
        training.safe_tick(state, tick)
    with b1:  # after the upload, Reset and Step: the file is the run shown, named with its step count
        c = state["trainer"].model.config
        training.checkpoint_download(state, mn, f"rbm-{'pcd' if c.persistent else 'cd'}{c.k}-h{c.n_hidden}",
                                     "rbm-dl")
    prev = state["previous"]
    show_prev = prev is not None and not state.get("rival") and st.toggle(
        f"Show the previous run faded ({prev['label']})", value=True, key="rbm-show-prev",
        help="After Reset the curves of the run before stay, faded and dashed, so that two runs (CD-1 and PCD, two "
        "learning rates) can be compared.")

    def draw_pair(tr) -> None:
        """CD-1 and PCD side by side: each chart holds both runs' curves, the filters of both beside them."""
        rival = state["rival"]["trainer"]
        runs = {describe(tr.model).split(",")[0]: tr.history, describe(rival.model).split(",")[0]: rival.history}
        st.caption(f"Side by side from the same weights ({untrusted.literal(state['source'])}): "
                   f"{' and '.join(runs)}, {tr.model.config.n_hidden} hidden units · step {tr.step_count} · "
                   f"validation on 256 digits · Reset ends the comparison")
        left, right = st.columns([3, 2])
        with left:
            if not tr.history:
                st.info("Press Start or Step to train both runs; curves appear here.")
                return
            h, keys = pair_history(runs, {"val_exact_ll": "exact log-likelihood"})
            live.chart("rbm-ll", **viz.compare_curves(h, keys, f"Exact log-likelihood per digit (validation, nats): "
                                                      f"{' against '.join(runs)}", "nats per digit"), max_height=230)
            chrome.explain(f"$\\log p(v) = -F(v) - \\log Z$ with $Z$ summed exactly over the $2^{{"
                           f"{tr.model.config.n_hidden}}}$ hidden states, a point every {PAIR_EVERY} steps of each "
                           "run: the true score of both.")
            h, keys = pair_history(runs, {"val_recon": "validation"})
            live.chart("rbm-recon", **viz.compare_curves(h, keys, "Reconstruction error (squared, per digit)", "error"))
        for col, name, run in zip(right.columns(2), runs, (tr, rival)):
                chain_player.frame(col, viz.filters(run.model.weight),
                                   caption=f"{name}: weights of {min(100, run.model.config.n_hidden)} hidden units "
                                   "as 28 × 28 filters")

    def draw_train(tr) -> None:
        if state.get("rival"):
            draw_pair(tr)
            return
        c = tr.model.config
        st.caption(f"source: {untrusted.literal(state['source'])} · {describe(tr.model)} · step {tr.step_count} · epoch "
                   f"{tr.epoch + tr.pos / len(mn.train):.2f} · validation on 256 digits")
        old = prev["history"] if show_prev else None
        old_label = "previous run" if show_prev else ""
        left, right = st.columns([3, 2])
        with left:
            h = tr.history
            if h:
                exact = any("val_exact_ll" in r for r in h) or bool(old and any("val_exact_ll" in r for r in old))
                ll_keys = {"val_pseudo_ll": "pseudo-log-likelihood (validation)"}
                if exact:
                    ll_keys["val_exact_ll"] = "exact log-likelihood (validation)"
                live.chart("rbm-ll", **viz.compare_curves(
                    h, ll_keys, "Pseudo-log-likelihood per digit" + (" and exact log-likelihood" if exact else "")
                    + " (nats)", "nats per digit", old, old_label),
                    max_height=230)  # projector mode: the first curve above the fold of 1280 x 720
                chrome.explain("Pseudo-log-likelihood $\\sum_i \\log p(v_i\\mid v_{-i})$ (one random pixel per "
                               "digit, times 784): it needs no $Z$ and is not $\\log p(v)$. "
                               + ("The exact $\\log p(v) = -F(v) - \\log Z$ (16-20 hidden units: $Z$ summed "
                                  "exactly) is the true score." if exact else
                                  "The true $\\log p(v)$ needs $\\log Z$: see the Likelihood tab (AIS), or train "
                                  "at most 20 hidden units for the exact value here."))
                live.chart("rbm-recon", **viz.compare_curves(h, {"train_recon": "train", "val_recon": "validation"},
                                                             "Reconstruction error (squared, per digit)", "error", old,
                                                             old_label))
                live.chart("rbm-fe", **viz.compare_curves(
                    h, {"train_free_energy": "train digits", "val_free_energy": "validation digits"},
                    "Mean free energy F(v): a growing gap warns of overfitting", "F(v)", old, old_label))
            else:
                st.info("Press Start or Step to train; curves appear here.")
        with right:
            chain_player.frame(st, viz.filters(tr.model.weight),
                               caption=f"weights of {min(100, c.n_hidden)} hidden units as 28 × 28 filters (each "
                               "scaled to its range)")
            chrome.explain("Each tile is one row $W_j$: hidden unit $j$ turns on, $p(h_j{=}1|v) = \\sigma(c_j + "
                           "W_j v)$, for digits that match its bright pixels.")

    with view if view is not None else st.container():
        training.live(state, tick, draw_train, every=0.3)

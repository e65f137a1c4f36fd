"""The RBM page's Likelihood tab: AIS estimates of log Z and of the test log-likelihood, checked against the exact value
for small models, and where AIS goes wrong (Salakhutdinov & Murray 2008)."""
from __future__ import annotations

from typing import Callable

import streamlit as st
import torch

from genlib import checkpoints, data as gdata, limits
from genlib.data import binarize_fixed
from genlib.models.rbm import (EXACT_MAX_HIDDEN, RBM, AISResult, ais, ais_seconds, base_rate_biases, default_betas,
                               exact_log_z, log_likelihood)
from pages.views import chrome, setup, untrusted, url

SMALL = ["rbm-16-cd1", "rbm-16"]  # small enough for the exact log Z: the AIS comparison


def bundled_exact(mn: gdata.MNIST, name: str) -> tuple[float, float]:
    """(exact log Z, mean free energy of the evaluation digits) of a small bundled RBM, computed once per server (the
    tab's own figures for that checkpoint: the same cache)."""
    model = setup.pretrained(name)
    return (chrome.memo("rbm_exact_log_z", (name,), lambda: exact_log_z(model), shared=True),
            chrome.memo("rbm_mean_f", (name,), lambda: mean_free_energy(mn, model), shared=True))


def eval_split(mn: gdata.MNIST):
    """The digits the likelihood is measured on: the test split, or the validation digits without one."""
    return mn.test if mn.test is not None else mn.val


def split_name(mn: gdata.MNIST) -> str:
    """The evaluation digits, named truthfully: "MNIST test" when the data folder holds the test split (genlib.data
    loaded it), else "validation" (held out from the training digits; never trained on either way)."""
    return "MNIST test" if mn.test is not None else "validation"


def mean_free_energy(mn: gdata.MNIST, model: RBM) -> float:
    """Mean free energy of the evaluation digits, binarized once (fixed seed)."""
    test = eval_split(mn)
    with torch.no_grad():
        return float(model.free_energy(binarize_fixed(test.images).reshape(len(test), -1)).mean())


def run_ais(mn: gdata.MNIST, model: RBM, runs: int, n_betas: int, progress: Callable[[float], None]) -> AISResult:
    """AIS from the base rate of the training digits (independent pixels with the data's means), seed 0."""
    return ais(model, base_rate_biases(binarize_fixed(mn.train.images)), n_runs=runs, betas=default_betas(n_betas),
               generator=torch.Generator().manual_seed(0), progress=progress)


def ais_problem(runs: int, n_betas: int) -> str | None:
    """Why AIS with these settings is refused (the work bound of genlib.limits), or None."""
    try:
        limits.check("AIS runs × inverse temperatures", runs * n_betas, 1, limits.MAX_AIS_WORK)
    except ValueError as e:
        return f"{e}: choose fewer runs or fewer temperatures."
    return None


def fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def render(mn: gdata.MNIST, model: RBM | None, model_key: tuple | None) -> None:
    """The tab: `model` is the chosen model (None: nothing to estimate), `model_key` identifies it and its training
    state, so that an AIS result is shown only for the model it was computed for."""
    split, n_eval = split_name(mn), len(eval_split(mn))
    where = ("the data folder's MNIST test split" if mn.test is not None else
             "no test split in the data folder (start the app with `-- --data-dir DIR` holding "
             "`MNIST/raw/t10k-*-ubyte`), so the validation digits held out from training")
    st.markdown(f"The average log-likelihood of the {n_eval:,} {split} digits ({where}; binarized once with a fixed "
                "seed), $\\overline{\\log p(v)} = -\\overline{F(v)} - \\log Z$. AIS anneals from a base-rate model "
                "(independent pixels with the data's means) to the RBM through intermediate distributions $p_\\beta$; "
                "the mean of the $R$ runs' importance weights $w_r$ estimates $Z$.")
    chrome.explain("The band is the estimator's spread: $\\log(\\hat Z \\pm 3\\,\\hat\\sigma/\\sqrt{R})$, three "
                   "standard errors of the mean weight over the $R$ runs, carried to $\\log p$. It shows how much the "
                   "runs disagree, not whether all of them missed the same mass (see *When AIS is too optimistic*).")
    if model is None:
        return
    c1, c2 = st.columns(2)
    runs = url.bound(c1.select_slider, "AIS runs", [10, 20, 50, 100, 200, 500], value=100, key="rbm-ais-runs",
                            help="Independent annealing runs. "
                            f"Runs × temperatures may be at most {limits.MAX_AIS_WORK:,} (genlib.limits.MAX_AIS_WORK).")
    n_betas = url.bound(c2.select_slider, "Inverse temperatures", [100, 300, 1000, 3000, 14_500], value=14_500,
                               key="rbm-ais-betas",
                               help="Intermediate distributions; Salakhutdinov & Murray use 14 500. Runs × temperatures "
                               f"may be at most {limits.MAX_AIS_WORK:,}.")
    shared = setup.bundled(model_key[0])  # a bundled checkpoint: its numbers are computed once per server
    mkey = model_key[:1] if shared else (model_key, model)
    mean_f = chrome.memo("rbm_mean_f", mkey, lambda: mean_free_energy(mn, model), shared=shared)
    small = model.config.n_hidden <= EXACT_MAX_HIDDEN
    results = st.session_state.setdefault("rbm_ais", {})
    rkey = (model_key, runs, n_betas)
    problem = ais_problem(runs, n_betas)
    if problem:
        untrusted.error(problem)
    else:  # a few ms of AIS, once per model and settings
        secs = chrome.memo("rbm_ais_eta", rkey, lambda: ais_seconds(model, runs, n_betas))
        st.info(f"Run AIS will take about {fmt_seconds(secs)} on this machine: {runs} runs × {n_betas:,} "
                f"temperatures with {model.config.n_hidden} hidden units. A progress bar shows while it runs; any "
                "click stops it.", icon=":material/timer:")
    if st.button("Run AIS", key="rbm-ais", icon=":material/calculate:", type="primary", disabled=bool(problem),
                 help="Estimate log Z with these settings (the estimated time is shown above)."):
        bar, stop = st.progress(0.0, text="annealing ..."), st.empty()
        stop.button("Stop", key="rbm-ais-stop", icon=":material/stop:", help="Stop the estimate: a click interrupts it "
                    "at its next progress update (the result is dropped).")
        res = run_ais(mn, model, runs, n_betas,
                      lambda f: bar.progress(min(f, 1.0), text=f"annealing ... {100 * f:.0f} %"))
        bar.empty()
        stop.empty()
        results[rkey] = res
    res = results.get(rkey)
    cols = st.columns(3)
    cols[0].metric(f"mean free energy, {split} digits", f"{mean_f:.2f}")
    if res is not None:
        ll, low, high = log_likelihood(mean_f, res)
        cols[1].metric("AIS log Z", f"{res.logz:.2f}", help=f"±3σ band [{res.logz_low:.2f}, {res.logz_high:.2f}]")
        cols[2].metric(f"AIS log-likelihood, {split} digits", f"{ll:.2f} nats",
                       help=f"Band [{low:.2f}, {high:.2f}] nats: log Z ± 3 standard errors of the mean AIS weight.")
        st.caption(f"log Z band [{res.logz_low:.2f}, {res.logz_high:.2f}]; log-likelihood band [{low:.2f}, {high:.2f}] "
                   f"nats per digit ({split} digits); ±3 standard errors of the mean weight over {runs} runs, "
                   f"{n_betas:,} inverse temperatures, {res.seconds:.1f} s")
    if small:
        z = chrome.memo("rbm_exact_log_z", mkey, lambda: exact_log_z(model), shared=shared)  # seconds: 2^H states
        e1, e2 = st.columns(2)
        e1.metric("exact log Z", f"{z:.3f}", help="Sum over all 2^H hidden states.")
        e2.metric(f"exact log-likelihood, {split} digits", f"{log_likelihood(mean_f, z)[0]:.3f} nats")
    elif res is None:
        st.info("Press Run AIS for the estimate; for models with at most 20 hidden units the exact value shows here "
                "too.")


def ais_versus_exact(mn: gdata.MNIST, run_now: bool = False) -> None:
    """AIS against exact enumeration for the two small bundled models (`run_now`: as if the button was clicked)."""
    st.subheader("When AIS is too optimistic")
    st.markdown("AIS estimates $Z$ without bias, but $\\log\\hat Z$ is biased low (Jensen's inequality): with too few "
                "temperatures or runs it misses parts of the model's mass, underestimates $\\log Z$ and so *overstates* "
                "the log-likelihood, often with a narrow, reassuring band. Models trained with CD-1 invite this: their "
                "short negative chains never visit the far-away modes that the model keeps, so the annealing path from "
                "the data's base rate can miss them too. Below, AIS against exact enumeration for two 16-unit models "
                "(CD-1 and PCD): try 100 or 300 temperatures against 1000 or more. At this size both models are easy and "
                "AIS with 14 500 temperatures is within 0.1 nats; the 500-unit CD-1 model (`rbm-500-cd1`) is the "
                "hard case: its Gibbs chains settle about 100 nats *below* the free energy of real digits (see the "
                "Gibbs chains tab with that model), mass that an AIS run has to find to be right.")
    small = [n for n in SMALL if checkpoints.resolve(n).exists()]
    if not small:
        st.info(f"The comparison needs the bundled checkpoints {' and '.join(SMALL)}.")
    else:
        n_cmp = url.bound(st.select_slider, "Temperatures for the comparison", [100, 300, 1000, 3000, 14_500], value=1000,
                                 key="rbm-compare-betas", help="AIS runs: 100 in each case.")
        models_ = [setup.pretrained(name) for name in small]
        secs = sum(chrome.memo(f"rbm_cmp_eta_{name}", (m, n_cmp), lambda m=m: ais_seconds(m, 100, n_cmp))
                   for name, m in zip(small, models_))
        st.caption(f"About {fmt_seconds(secs)} on this machine: 100 runs × {n_cmp:,} temperatures for each model; "
                   f"{split_name(mn)} digits.")
        if st.button("Compare AIS with the exact answer", key="rbm-compare", icon=":material/compare:",
                     help="AIS against exact enumeration of all 2^16 hidden states, for a CD-1 and a PCD model.") \
                or run_now:
            rows = []
            bar = st.progress(0.0, text="annealing ...")
            for i, name in enumerate(small):
                m = setup.pretrained(name)
                z, mf = bundled_exact(mn, name)
                r = run_ais(mn, m, 100, n_cmp, lambda f: bar.progress((i + f) / len(small), text=f"annealing {name} ..."))
                ll, low, high = log_likelihood(mf, r)
                rows.append({"model": f"{name} ({'PCD' if m.config.persistent else 'CD'}-{m.config.k})",
                             "temperatures": n_cmp, "AIS log-likelihood": round(ll, 2),
                             "AIS band (±3 s.e.)": f"[{low:.2f}, {high:.2f}]",
                             "exact log-likelihood": round(log_likelihood(mf, z)[0], 2),
                             "AIS − exact": round(z - r.logz, 2)})
            bar.empty()
            st.session_state["rbm_compare"] = rows
    if st.session_state.get("rbm_compare"):
        st.dataframe(st.session_state["rbm_compare"], hide_index=True)
        st.caption(f"Per digit, on the {split_name(mn)} digits. AIS − exact > 0 means AIS underestimates log Z and so "
                   "overstates the log-likelihood; the band is ±3 standard errors of the mean weight over the 100 runs.")

"""Restricted Boltzmann machine page: train with CD-k or PCD, play Gibbs chains, the lecture's picture of digits,
reconstructions and samples, and the likelihood from AIS.

A view: the session's run, the sidebar's model choice and the tab bar; each tab lives in pages/rbm_tabs/."""
import streamlit as st

from genlib import checkpoints
from genlib.models.rbm import RBM
from pages.rbm_tabs import chains, lessons, likelihood, reconstructions, train
from pages.rbm_tabs.train import describe
from pages.views import chrome, setup, untrusted, url

PRETRAINED = ["rbm-500", "rbm-500-cd1", "rbm-16", "rbm-16-cd1"]
AUTO, LIVE = "auto", "live"  # the sidebar's model choices besides the checkpoints
TABS = ["Train", "Gibbs chains", "Reconstructions", "Likelihood"]

mn = setup.mnist()
chrome.header(
    "Restricted Boltzmann machine",
    "Binary pixels $v$ and binary hidden units $h$ interact only across the two layers, so each layer given the "
    "other is a set of independent coins: block Gibbs sampling alternates $h \\sim p(h|v)$ and $v \\sim p(v|h)$. "
    "Maximum likelihood lowers the free energy of data and raises it where the model puts mass; contrastive "
    "divergence (CD-k, Hinton 2002) estimates the second term with k Gibbs steps started at the data, persistent "
    "CD (PCD, Tieleman 2008) with chains that carry on between updates. Maximising the likelihood is minimising "
    "$\\mathrm{KL}(p_\\mathrm{data}\\,\\|\\,p_\\theta)$; its value needs $\\log Z$, exact for up to 20 hidden units and "
    "estimated by annealed importance sampling (Salakhutdinov & Murray 2008) otherwise. Pixels are binarized "
    "stochastically, afresh every epoch. At inverse temperature $\\beta$ the chains sample "
    "$p_\\beta(v,h) \\propto e^{-\\beta E(v,h)}$.",
    [r"E(v,h) = -b^\top v - c^\top h - h^\top W v,\qquad p(v,h) = e^{-E(v,h)}/Z",
     r"F(v) = -\log\sum_h e^{-E(v,h)} = -b^\top v - \sum_j \log\big(1 + e^{c_j + W_j v}\big)",
     r"p(h_j{=}1\mid v) = \sigma(c_j + W_j v),\qquad p(v_i{=}1\mid h) = \sigma(b_i + W_{:,i}^\top h)",
     r"\Delta W \propto \langle h\,v^\top\rangle_\mathrm{data} - \langle h\,v^\top\rangle_{\mathrm{CD}_k}"
     r"\;=\; -\nabla_W\big[\overline{F(v_\mathrm{data})} - \overline{F(v_k)}\big]",
     r"\log p(v) = -F(v) - \log Z,\qquad \mathrm{PL}(v) = \textstyle\sum_i \log p(v_i \mid v_{-i})"],
    mn,
)


# the run of this session: built from the Train controls when first needed; `previous` is the run before the last
# Reset (its curves stay, faded, to compare two runs)
state = chrome.session("rbm", lambda: {"trainer": None, "running": False, "source": "new", "previous": None,
                                      "rival": None})
if state["trainer"] is None:
    state["trainer"] = train.trainer_from_controls(mn)


# ---- which model the chains, the picture and the likelihood use -----------------------------------------------
available = [n for n in PRETRAINED if checkpoints.resolve(n).exists()]
DEFAULT_PRETRAINED = "rbm-500" if "rbm-500" in available else None
with st.sidebar:
    st.header("Model for chains and likelihood")
    choice = url.bound(st.selectbox,
        "Model", [AUTO, LIVE] + available, key="rbm-model",
        format_func=lambda o: {AUTO: "trained here, else " + (DEFAULT_PRETRAINED or "a new one"),
                               LIVE: "this session's model (Train tab)"}.get(o, o),
        help="Automatic: the model trained in the Train tab once it has trained (or a checkpoint you opened there), "
        f"else the bundled {DEFAULT_PRETRAINED or 'checkpoint'}. Or pick one: the Train tab's model, or a bundled "
        "checkpoint (see checkpoints/README.md).")


def trained_here() -> bool:
    """Whether this session's run is a model of its own: trained some steps, or opened from a file."""
    return state["trainer"].step_count > 0 or state["source"] != "new"


def chosen() -> tuple[str, RBM | None, str]:
    """(name, model, a sentence saying which model this is) for the sidebar's choice; the model is None (with an error
    box) if a checkpoint cannot be loaded."""
    said = chosen_long()
    if said[1] is not None and chrome.projector():  # one short line on the projector
        return said[0], said[1], f"Model: {'this session' if said[0] == LIVE else said[0]} ({describe(said[1])})."
    return said


def chosen_long() -> tuple[str, RBM | None, str]:
    name = choice
    if choice == AUTO:
        name = LIVE if trained_here() or DEFAULT_PRETRAINED is None else DEFAULT_PRETRAINED
    if name == LIVE:
        tr = state["trainer"]
        why = " (chosen automatically: you trained it)" if choice == AUTO else ""
        return LIVE, tr.model, (f"Model: this session's model from the Train tab{why}, {describe(tr.model)}, "
                                f"{tr.step_count} training steps ({untrusted.literal(state['source'])}).")
    try:
        model = setup.pretrained(name)  # read-only: sampling and AIS never change it
    except checkpoints.CheckpointError as e:
        untrusted.error(f"Could not load {name}: {e}")
        return name, None, ""
    why = " (automatic: nothing trained in the Train tab yet)" if choice == AUTO else ""
    return name, model, f"Model: the bundled checkpoint {name}{why}, {describe(model)}. Change it in the sidebar."


def model_key(name: str, model: RBM) -> tuple:
    """What identifies a model's state: the model object and, for this session's run, its step count."""
    return (name, id(model), state["trainer"].step_count if name == LIVE else 0)


if chrome.projector():  # the visual first: the lessons fold away (open while one is active)
    with st.expander("Try this", expanded=bool(st.session_state.get("rbm-lesson")), icon=":material/school:"):
        lesson = chrome.lessons("rbm", lessons.LESSONS)
else:
    lesson = chrome.lessons("rbm", lessons.LESSONS)

tab_train, tab_chain, tab_pic, tab_ll = url.bound(st.tabs, TABS, key="rbm-tab")
if tab_train.open:
    with tab_train:
        train.render(state, mn)
if tab_chain.open:
    with tab_chain:
        chains.render(mn, chosen)
if tab_pic.open:
    with tab_pic:
        reconstructions.render(mn, chosen, model_key)
if tab_ll.open:
    with tab_ll:
        name, model, said = chosen()
        if model is not None:
            st.caption(said)
        likelihood.render(mn, model, model_key(name, model) if model is not None else None)
        likelihood.ais_versus_exact(mn, run_now=chrome.take_autoplay(lessons.go("compare")))

"""AppTest for the lecture page: every step renders with its title and equation, Previous / Next move the step in the
address, a link opens a step (and a bad one is refused), and the slow-motion parts are the math and the samplers'
next state."""
import math

import torch
from streamlit.testing.v1 import AppTest

from conftest import ROOT, button, open_page
from genlib import densities as D
from genlib import samplers as S
from pages.lecture_steps.steps import STEPS

PAGE = "pages/lecture.py"
N = len(STEPS)


def show(at, n: int):
    at.session_state["lecture-step"] = n
    at.run()
    assert not at.exception, (n, at.exception)
    return at


def title(at) -> str:
    return at.title[0].value


def test_the_lecture_tells_the_story_in_at_least_14_steps():
    assert N >= 14
    parts = [s.part for s in STEPS]
    assert parts == sorted(parts, key=lambda p: ["I ", "II ", "III "].index(p.split("·")[0]))  # in the course's order
    for s in STEPS:
        sentences = [x for x in s.text.replace("e.g.", "eg").split(". ") if x.strip()]
        assert 1 <= len(sentences) <= 4 and s.equation and s.shows, s.title


def test_every_step_renders_with_its_title_equation_and_view():
    at = open_page(PAGE, timeout=300)
    for n, s in enumerate(STEPS, 1):
        show(at, n)
        assert title(at) == s.title
        assert at.latex[0].value.strip("$\n") == s.equation
        assert not at.error, (n, [e.value for e in at.error])
        assert at.query_params.get("lecture-step") in (None, str(n)) and int(at.number_input(key="lecture-step").value) == n
        controls = [*at.slider, *at.select_slider, *at.selectbox, *at.radio, *at.number_input, *at.checkbox]
        assert all(w.help for w in controls), (n, [w.label for w in controls if not w.help])


def test_next_and_previous_move_the_step_in_the_address():
    at = open_page(PAGE)
    assert title(at) == STEPS[0].title
    assert button(at, "Previous").disabled
    button(at, "Next").click().run()
    assert title(at) == STEPS[1].title and at.query_params["lecture-step"] == "2"
    button(at, "Next").click().run()
    assert title(at) == STEPS[2].title and at.query_params["lecture-step"] == "3"
    button(at, "Previous").click().run()
    assert title(at) == STEPS[1].title and at.query_params["lecture-step"] == "2"
    show(at, N)
    assert button(at, "Next").disabled and title(at) == STEPS[-1].title
    # the contents jump to any step
    next(b for b in at.button if b.key == "lecture-goto-5").click().run()
    assert title(at) == STEPS[4].title and at.query_params["lecture-step"] == "5"


def open_link(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.switch_page(PAGE)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_link_opens_the_lecture_at_its_step_and_bad_steps_are_refused():
    at = open_link({"lecture-step": "12"})
    assert title(at) == STEPS[11].title
    at = open_link({"lecture-step": "999"})  # clamped to the last step, with a notice
    assert title(at) == STEPS[-1].title and any("lecture\\-step" in t.proto.body for t in at.toast)
    at = open_link({"lecture-step": "**x**"})  # not a number: the first step
    assert title(at) == STEPS[0].title


def step_of(title_: str) -> int:
    return next(i for i, s in enumerate(STEPS, 1) if s.title == title_)


def forward(at, times: int):
    for _ in range(times):
        button(at, "Step forward").click().run()
        assert not at.exception, at.exception
    return at


def test_slow_motion_gibbs_parts_are_the_conditionals_and_the_samplers_next_state():
    from pages.views import setup, slowmo

    at = show(open_page(PAGE), step_of("Gibbs sampling, in slow motion"))
    assert len(at.get("image")) == 5 and button(at, "Step back").disabled  # the five parts, four still blank
    forward(at, 4)  # the five parts: v, p(h|v), h, p(v|h), v'
    ch = at.session_state["lecture-gibbs"]
    assert (ch["t"], ch["part"]) == (0, 4)
    p = ch["steps"][0]
    model = setup.pretrained("rbm-500")
    W, b, c = model.weight.detach(), model.visible_bias.detach(), model.hidden_bias.detach()
    assert torch.allclose(p.p_h, torch.sigmoid(W @ p.v + c), atol=1e-5)  # p(h_j=1|v) = sigma(c_j + W_j.v)
    assert torch.allclose(p.p_v, torch.sigmoid(W.t() @ p.h + b), atol=1e-5)  # p(v_i=1|h) = sigma(b_i + W_:,i.h)
    # v' is the chain engine's next state for the same generator (seed 0: the start, then the step's coins)
    g = torch.Generator().manual_seed(0)
    v0 = slowmo.gibbs_start(setup.mnist(), slowmo.STARTS[0], g)
    assert torch.equal(v0, p.v)
    state = next(S.gibbs(model, v0[None], g))
    assert torch.equal(state.x[0], p.v_next) and torch.equal(state.mean[0], p.p_v)
    # past the last part: the next step starts from v'; back returns to the last part of the first step
    forward(at, 1)
    ch = at.session_state["lecture-gibbs"]
    assert (ch["t"], ch["part"]) == (1, 0) and torch.equal(ch["steps"][1].v, p.v_next)
    nxt = next(S.gibbs(model, p.v_next[None], g))  # the same generator goes on: the chain's second step
    assert torch.equal(ch["steps"][1].v_next, nxt.x[0])
    button(at, "Step back").click().run()
    ch = at.session_state["lecture-gibbs"]
    assert (ch["t"], ch["part"]) == (0, 4)
    captions = [i.caption for im in at.get("image") for i in im.proto.imgs]
    assert captions[0].startswith("v: F(v) =") and captions[-1].startswith("▶ v′: F(v′) =")
    # a new seed: a new chain from its first part
    at.number_input(key="lecture-gibbs-seed").set_value(3).run()
    ch = at.session_state["lecture-gibbs"]
    assert (ch["t"], ch["part"]) == (0, 0) and ch["settings"][-1] == 3


def test_slow_motion_langevin_parts_are_the_update_and_the_samplers_next_state():
    from pages.views import slowmo

    at = show(open_page(PAGE), step_of("The Langevin update, in slow motion"))
    forward(at, 3)  # x, drift, noise, x'
    ch = at.session_state["lecture-ula"]
    assert ch["part"] == 3
    p = ch["steps"][0]
    t = D.make_target("correlated Gaussian")
    eta = 0.1
    x0 = torch.tensor(slowmo.START_AT["correlated Gaussian"])
    assert torch.equal(p.x, x0) and p.eta == eta
    assert torch.allclose(p.drift, eta / 2 * t.grad(x0[None])[0])  # (eta/2) grad log p(x)
    assert torch.allclose(p.noise, math.sqrt(eta) * p.xi)
    state = next(S.ula(t.grad, x0[None], eta / 2, math.sqrt(eta), torch.Generator().manual_seed(0)))
    assert torch.equal(state.x[0], p.x_next)
    assert "x′" in " ".join(c.value for c in at.caption)
    # the picture frames the step (zoom, the default), or the whole density
    x0, x1, y0, y1 = figure_ranges(at)
    for pt in (p.x, p.x + p.drift, p.proposal):
        assert x0 <= float(pt[0]) <= x1 and y0 <= float(pt[1]) <= y1
    assert x1 - x0 < 4
    at.toggle(key="lecture-ula-zoom").set_value(False).run()
    assert figure_ranges(at) == list(t.extent)
    assert at.session_state["lecture-ula"]["part"] == 3  # the same chain, still at its last part


def figure_ranges(at) -> list[float]:
    import json

    layout = json.loads(at.get("plotly_chart")[0].proto.spec)["layout"]
    return [*layout["xaxis"]["range"], *layout["yaxis"]["range"]]


def test_slow_motion_mala_shows_the_accept_test_and_matches_the_sampler():
    from pages.views import slowmo

    at = show(open_page(PAGE), step_of("One MALA step, in slow motion"))
    at.select_slider(key="lecture-mala-eta").set_value(0.5).run()  # large steps: some proposals are rejected
    t = D.make_target("correlated Gaussian")
    x = torch.tensor(slowmo.START_AT["correlated Gaussian"])
    g = torch.Generator().manual_seed(0)
    mala = S.mala(t.log_prob, t.grad, x[None], 0.25, g, noise=math.sqrt(0.5))
    verdicts = []
    for k in range(6):  # six MALA steps, five parts each
        forward(at, 3)
        ch = at.session_state["lecture-mala"]
        p = ch["steps"][ch["t"]]
        assert ch["part"] == 3 and p.mala and 0 <= p.alpha <= 1 and p.accepted == (p.u < p.alpha)
        assert ("accepted" if p.accepted else "rejected") in " ".join(x.value for x in at.latex)
        state = next(mala)
        assert torch.equal(state.x[0], p.x_next), k
        verdicts.append(p.accepted)
        forward(at, 2)  # x', then the next step's x
    assert True in verdicts and False in verdicts

"""Lecture mode: the course's story one step per screen, in order, from Boltzmann machines through energy-based models
and Langevin sampling to autoencoders and VAEs. Each step is a title, one equation, a few sentences and one view of
the app (pages/lecture_steps/). Previous / Next and the ← / → keys move through the steps; the step is in the URL
(?lecture-step=N), so a link opens the lecture at that step.

Laid out for a projector at 1280 × 720: the title with the buttons, the equation, then the text beside the view."""
import streamlit as st

from pages.lecture_steps.steps import STEPS
from pages.views import chrome, keys, setup, url

STEP_KEY = "lecture-step"  # the step, 1 to len(STEPS), bound to the URL
N = len(STEPS)

setup.ensure_app_navigation()
setup.torch_threads()
setup.server_checks()
mn = setup.mnist()

# one screen per step: less padding above the title, a smaller title, the text column's lines short
st.html("""<style>
.stMainBlockContainer { padding-top: 3.4rem; padding-bottom: 2rem; }
.st-key-lecture-head h1 { font-size: 1.8rem; padding: 0; }
.st-key-lecture-text p { margin-bottom: 0.5rem; }
</style>""")


def go(n: int) -> None:
    """on_click: show step n (clamped to 1..N)."""
    st.session_state[STEP_KEY] = min(max(int(n), 1), N)


def move(by: int) -> None:
    go(int(st.session_state.get(STEP_KEY, 1)) + by)


keys.arrows("lecture-keys", move)
head, prev_col, next_col, num_col = st.columns([5.6, 1.45, 1.05, 0.75], vertical_alignment="bottom")
with num_col:
    n = url.bound(st.number_input, "Step", 1, N, 1, key=STEP_KEY, label_visibility="collapsed",
                  help=f"The step shown, 1 to {N}; it is in the address (?{STEP_KEY}=N), so a link opens the lecture "
                  "here. The ← and → keys move too.")
step = STEPS[int(n) - 1]
prev_col.button("Previous", key="lecture-prev", icon=":material/arrow_back:", width="stretch", on_click=move, args=(-1,),
                disabled=n <= 1, help="The previous step (← key).")
next_col.button("Next", key="lecture-next", icon=":material/arrow_forward:", width="stretch", type="primary",
                on_click=move, args=(1,), disabled=n >= N, help="The next step (→ key).")
with head.container(key="lecture-head"):
    st.caption(f"Lecture · Part {step.part} · step {n} of {N}")
    st.title(step.title, anchor=False)
st.latex(step.equation)

text, view = st.columns([1, 2.8], gap="medium")
with text.container(key="lecture-text"):
    st.markdown(step.text)
    st.caption(f"Shown: {step.shows}.")
    with st.popover("All steps", icon=":material/list:", width="stretch",
                    help="Jump to any step of the lecture."):
        part = None
        for i, s in enumerate(STEPS, 1):
            if s.part != part:
                part = s.part
                st.markdown(f"**{part}**")
            st.button(f"{i}. {s.title}", key=f"lecture-goto-{i}", on_click=go, args=(i,), type="tertiary",
                      disabled=i == n)
    with st.expander("What you see"):
        st.markdown("The course in order, one step per screen: a title, the step's equation, a few sentences and "
                    "one view of the app, the same as on its page. **Previous** / **Next** or the ← / → keys move "
                    f"through the {N} steps; the address holds the step, so a link opens the lecture there. "
                    "Projector mode (sidebar) gives larger text.")
        st.latex(r"\text{RBM: } F(v) = -b^\top v - \textstyle\sum_j \log(1 + e^{c_j + W_j v})\qquad"
                 r"\text{Langevin: } x' = x + \tfrac{\eta}{2}\nabla\log p(x) + \sqrt\eta\,\xi")
        st.latex(r"\text{VAE: } \mathcal L(x) = \mathbb E_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,p(z))")
        chrome.data_notice(mn)
        st.caption(f"Data: {mn.description}")
with view:
    step.view(mn)

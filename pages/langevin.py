"""Langevin & SGLD lab: ULA vs MALA on 2-D densities with exact answers, SGLD on the Welling & Teh posterior, a 2-D EBM.

A view: the header and the tab bar; each tab lives in pages/lab/ and its figures in genlib/viz.py."""
import streamlit as st

from genlib import densities as D
from pages.lab import ebm2d, samplers, sgld
from pages.views import chrome, url

chrome.header(
    "Langevin & SGLD lab",
    "Chains of samplers move over 2-D densities whose exact answer is known, so their bias shows. "
    "**Unadjusted Langevin (ULA)** follows the gradient of $\\log p$ plus Gaussian noise; its step size $\\eta$ and "
    "noise $\\sigma$ are separate settings, and they fix an effective temperature $T$: for small steps ULA samples "
    "$p^{1/T}$, and for large steps it is biased even at $T = 1$. **MALA** (Roberts & Tweedie 1996) uses the same "
    "move as a proposal and accepts or rejects it, which makes $p$ itself invariant for any $\\eta$ and $\\sigma$. "
    "**SGLD** (Welling & Teh 2011) is the Langevin step with a minibatch gradient of the log posterior and a "
    "decreasing step $\\epsilon_t$; without the noise it is plain SGD, which finds a mode instead of sampling. "
    "The **2-D EBM** learns an energy $E_\\theta$ on a toy data set with Langevin samples as negatives.",
    [r"x_{k+1} = x_k + \eta\,\nabla\log p(x_k) + \sigma\,w_k,\quad w_k\sim\mathcal N(0, I),\qquad"
     r"T = \frac{\sigma^2}{2\eta}\ \ (\sigma = \sqrt{2\eta}\Rightarrow T = 1,\ \ \sigma=\sqrt{\eta}\Rightarrow T=\tfrac12)",
     r"\text{MALA: accept } y \text{ with prob. } \min\Big(1, \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}\Big),"
     r"\quad q(y\mid x) = \mathcal N\big(y;\ x + \eta\nabla\log p(x),\ \sigma^2 I\big)",
     r"\text{SGLD: }\theta_{t+1} = \theta_t + \frac{\epsilon_t}{2}\Big(\nabla\log p(\theta_t) + \frac{N}{n}\sum_{i\in B_t}"
     r"\nabla\log p(x_i\mid\theta_t)\Big) + \sqrt{\epsilon_t}\,w_t,\qquad \epsilon_t = a\,(b + t)^{-\gamma}",
     r"\theta_1\sim\mathcal N(0, 10),\ \theta_2\sim\mathcal N(0, 1),\ "
     r"x_i\sim\tfrac12\mathcal N(\theta_1, 2) + \tfrac12\mathcal N(\theta_1+\theta_2, 2)\ \ \text{(variances)}",
     r"\text{EBM: } p_\theta(x) = e^{-E_\theta(x)}/Z_\theta,\quad \mathcal L = \overline{E_\theta(x_\mathrm{data})}"
     r" - \overline{E_\theta(x_\mathrm{neg})} + \alpha\big(\overline{E^2_\theta(x_\mathrm{data})} + "
     r"\overline{E^2_\theta(x_\mathrm{neg})}\big)"],
)
if not chrome.projector():  # boilerplate: hidden on the projector
    st.caption(f"Data: 2-D targets with exact densities; the Welling & Teh data set ({D.WT_N} points drawn with "
               f"θ = (0, 1), seed {D.WT_SEED}); the 2-D toy data sets of genlib.data for the EBM. No MNIST here.")

tabs = url.bound(st.tabs, ["Samplers", "SGLD", "2-D EBM"], key="lv-tab", on_change="rerun")
for tab, lab in zip(tabs, (samplers, sgld, ebm2d)):
    with tab:
        if tab.open:  # lazy tabs: only the selected tab runs (and redraws while a fragment plays)
            lab.render()

"""The lecture's steps in order: the course's story from Boltzmann machines through energy-based models and Langevin
sampling to autoencoders and VAEs. Each step is a title, one equation, a few sentences and one view of the app."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from genlib.data import MNIST
from pages.lecture_steps import langevin, rbm, vae

RBM_PART = "I · Boltzmann machines"
EBM_PART = "II · Energy-based models and Langevin sampling"
VAE_PART = "III · Autoencoders, then VAEs"


@dataclass(frozen=True)
class Step:
    part: str
    title: str
    equation: str  # LaTeX, for st.latex
    text: str  # two to four sentences (markdown)
    view: Callable[[MNIST], None]  # draws the step's view
    shows: str  # which view of the app it is (the page and tab it comes from)


STEPS = [
    Step(RBM_PART, "Energy and free energy",
         r"E(v,h) = -b^\top v - c^\top h - h^\top W v,\qquad "
         r"F(v) = -\log\sum_h e^{-E(v,h)} = -b^\top v - \sum_j \log\big(1 + e^{c_j + W_j v}\big)",
         "An RBM gives each pair of binary pixels $v$ and hidden units $h$ an energy, and $p(v) \\propto e^{-F(v)}$: "
         "summing out $h$ leaves the free energy. Low $F$ means likely. The trained RBM gives real digits a low "
         "free energy, rotated digits a higher one and noise the highest.",
         rbm.energy, "free energies of rbm-500 in the Energies tab's histogram (genlib.viz.energy_histogram)"),
    Step(RBM_PART, "Contrastive divergence, CD-k",
         r"\Delta W \propto \langle h\,v^\top\rangle_\mathrm{data} - \langle h\,v^\top\rangle_{k}"
         r"\;=\; -\nabla_W\big[\overline{F(v_\mathrm{data})} - \overline{F(v_k)}\big]",
         "The likelihood's gradient lowers the free energy of the data and raises it where the model puts its mass. "
         "CD-k (Hinton 2002) estimates the second term with $k$ Gibbs steps started at the data. Each hidden unit "
         "learns a filter $W_j$: a stroke it looks for.",
         rbm.cd_k, "the RBM page's Train tab filters, for the bundled CD-1 model rbm-500-cd1"),
    Step(RBM_PART, "Gibbs sampling, in slow motion",
         r"h \sim p(h\mid v) = \prod_j \sigma(c_j + W_j v)^{h_j}\,(1-\sigma(\cdot))^{1-h_j},\qquad v' \sim p(v\mid h)",
         "Given $v$ the hidden units are independent coins, and given $h$ so are the pixels: block Gibbs sampling "
         "flips all of one layer at once. Step through one step part by part; after $v'$ the chain goes on from "
         "it.",
         rbm.gibbs, "slow motion of one Gibbs step of rbm-500 (views.slowmo)"),
    Step(RBM_PART, "Digits, reconstructions, samples",
         r"v \;\to\; h \sim p(h\mid v) \;\to\; p(v\mid h)",
         "Left, real digits; middle, their reconstructions after one Gibbs step, what CD-1 trains on; right, "
         "free-running chains after 1000 steps from noise: what the model generates.",
         rbm.picture, "the RBM page's Reconstructions tab picture (genlib.viz.lecture_picture) of rbm-500"),
    Step(RBM_PART, "PCD against CD-1",
         r"\text{CD-1: } v_k \text{ starts at the data}\qquad \text{PCD: } v_k \text{ continues last update's chains}",
         "CD-1's negative chains never run long, so the model keeps modes far from the data that they never "
         "visit. Persistent CD (Tieleman 2008) keeps its chains running between updates and finds them. Run from "
         "noise, the CD-1 model falls into blotches whose free energy lies far below that of digits.",
         rbm.pcd_vs_cd1, "the Reconstructions tab's samples of rbm-500 (PCD) and rbm-500-cd1"),
    Step(RBM_PART, "The likelihood by AIS",
         r"\log p(v) = -F(v) - \log Z,\qquad \hat Z = Z_0\,\frac1R\sum_r \prod_k \frac{p^*_{\beta_{k+1}}(v_k^{(r)})}"
         r"{p^*_{\beta_k}(v_k^{(r)})}",
         "$\\log p(v)$ needs $\\log Z$, a sum over all states. Annealed importance sampling (Salakhutdinov & Murray "
         "2008) walks from a model with a known $Z_0$ to the RBM through $p_\\beta$. With 16 hidden units the exact "
         "sum is possible: compare it with AIS.",
         rbm.ais, "the RBM page's Likelihood tab estimate (its run_ais) against the exact value, rbm-16"),
    Step(EBM_PART, "The Langevin update, in slow motion",
         r"x' = x + \tfrac{\eta}{2}\,\nabla\log p(x) + \sqrt{\eta}\,\xi,\qquad \xi\sim\mathcal N(0, I)",
         "Langevin dynamics samples $p$ knowing only $\\nabla\\log p$: a drift uphill plus a random kick. For "
         "small $\\eta$ the chain's law approaches $p$. Step through one update: position, drift, noise, new "
         "position.",
         langevin.update, "slow motion of one ULA step on a 2-D density (views.slowmo)"),
    Step(EBM_PART, "ULA against MALA",
         r"\text{MALA: accept } y \text{ with prob. } \min\Big(1, \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}\Big),"
         r"\quad q(y\mid x) = \mathcal N\big(y;\ x + \tfrac{\eta}{2}\nabla\log p(x),\ \eta I\big)",
         "The unadjusted update (ULA) is biased for every $\\eta > 0$; MALA (Roberts & Tweedie 1996) uses it as "
         "a proposal and accepts or rejects it, which makes $p$ exact. Here $\\eta = 0.2$ on a correlated Gaussian: "
         "press Play and compare the clouds and marginals.",
         langevin.ula_vs_mala, "the Langevin lab's Samplers tab (live), correlated Gaussian"),
    Step(EBM_PART, "One MALA step, in slow motion",
         r"\alpha = \min\Big(1, \frac{p(y)\,q(x\mid y)}{p(x)\,q(y\mid x)}\Big),\qquad x' = "
         r"\begin{cases} y & u < \alpha \\ x & \text{otherwise}\end{cases},\quad u\sim U[0,1)",
         "The same drift and noise make a proposal $y$; a uniform draw $u$ against $\\alpha$ decides. Raise $\\eta$: "
         "proposals overshoot into low density and get rejected.",
         langevin.mala, "slow motion of one MALA step (views.slowmo)"),
    Step(EBM_PART, "SGLD on the Welling & Teh posterior",
         r"\theta_{t+1} = \theta_t + \frac{\epsilon_t}{2}\Big(\nabla\log p(\theta_t) + \frac{N}{n}\sum_{i\in B_t}"
         r"\nabla\log p(x_i\mid\theta_t)\Big) + \sqrt{\epsilon_t}\,w_t",
         "SGLD (Welling & Teh 2011) is the Langevin step with a minibatch gradient and a decreasing step "
         "$\\epsilon_t$. Without the noise it is SGD, which settles in one mode; SGLD visits both modes of the "
         "posterior. Press Play.",
         langevin.sgld_posterior, "the Langevin lab's SGLD tab (live)"),
    Step(EBM_PART, "The MNIST EBM and its replay buffer",
         r"\nabla_\theta\mathcal L = \mathbb E_\mathrm{data}[\nabla_\theta E_\theta(x)] - "
         r"\mathbb E_{p_\theta}[\nabla_\theta E_\theta(x)],\qquad p_\theta(x) = e^{-E_\theta(x)}/Z_\theta",
         "A CNN gives each image an energy. Training lowers the energy of real digits and raises that of Langevin "
         "samples (Du & Mordatch 2019), whose chains start from a replay buffer of earlier samples, 5 % from "
         "noise. The buffer holds what the model generates.",
         langevin.replay_buffer, "the EBM page's Train tab replay buffer of ebm-mnist"),
    Step(EBM_PART, "Energies of odd inputs",
         r"p_\theta(x) \propto e^{-E_\theta(x)}:\quad \text{high } E_\theta(x) \Rightarrow \text{unlikely } x",
         "The energy scores any input: rotated digits and noise get higher energies than real digits, so a high "
         "energy flags an input unlike the training data. Draw a digit to see its energy.",
         langevin.odd_inputs, "the EBM page's Energies tab with ebm-mnist"),
    Step(VAE_PART, "Autoencoders",
         r"\hat x = g\big(f(x)\big),\qquad \min_{f,g}\ \overline{\lVert x - g(f(x))\rVert^2}",
         "An encoder squeezes a digit into a code $h = f(x)$ of two numbers, a decoder rebuilds it. The codes "
         "sort the digits by class without ever seeing a label, but nothing says what lies between them: an "
         "autoencoder cannot generate.",
         vae.autoencoder, "the autoencoder page's code map of ae-mnist-2d"),
    Step(VAE_PART, "The ELBO: reconstruction − KL",
         r"\log p(x) \ \ge\ \mathcal L(x) = \mathbb E_{q(z|x)}[\log p(x\mid z)] - "
         r"\mathrm{KL}\big(q(z\mid x)\,\|\,p(z)\big)",
         "A VAE's encoder gives a Gaussian $q(z|x)$, its decoder $p(x|z)$. The ELBO trades reconstruction "
         "against the price of the code, its KL to the prior $\\mathcal N(0, I)$; it bounds $\\log p(x)$ from "
         "below.",
         vae.elbo, "the VAE page's Train tab reconstructions of vae-mlp-bern-16, with its ELBO terms"),
    Step(VAE_PART, "The Gaussian KL",
         r"\mathrm{KL}\big(\mathcal N(\mu, \sigma^2)\,\|\,\mathcal N(0, 1)\big) = "
         r"\tfrac12\big(\mu^2 + \sigma^2 - 1 - \log\sigma^2\big)",
         "With a Gaussian $q$ and prior the KL has a closed form, per dimension. A dimension whose KL is near 0 "
         "has collapsed to the prior: it carries nothing.",
         vae.gaussian_kl, "the VAE page's Train tab KL bars of vae-mlp-bern-16"),
    Step(VAE_PART, "The reparameterisation trick",
         r"z = \mu(x) + \sigma(x)\odot\varepsilon,\qquad \varepsilon\sim\mathcal N(0, I)",
         "Sampling $z$ this way moves the randomness into $\\varepsilon$, so the ELBO's gradient flows through "
         "$\\mu$ and $\\sigma$. Draw a digit: its $q(z|x)$, samples $z$ and their decodings show.",
         vae.reparameterisation, "the VAE page's Draw tab with vae-conv-2d"),
    Step(VAE_PART, "The 2-D latent map",
         r"z \in \mathbb R^2 \ \mapsto\ \mathbb E[x\mid z]",
         "Every cell is the decoder's digit at one $z$ of a grid: the map $p(x|z)$ draws over the latent plane. "
         "Hover to decode under the mouse.",
         vae.latent_map, "the VAE page's Latent grid tab with vae-conv-2d"),
    Step(VAE_PART, "Where the labels land",
         r"\mu(x) \text{ of real digits},\qquad p(z) = \mathcal N(0, I)",
         "The encoder means of real digits, coloured by label: one region per digit, inside the prior's circles. "
         "The labels were never used in training.",
         vae.label_clusters, "the VAE page's Clusters tab with vae-conv-2d"),
    Step(VAE_PART, "Interpolation",
         r"z_t = (1 - t)\,\mu(x_0) + t\,\mu(x_1),\qquad t \in [0, 1]",
         "Walk in a straight line between the codes of two digits and decode each point: the digit morphs. A path "
         "through an empty region of the map decodes to blends.",
         vae.interpolation, "the VAE page's Interpolate tab with vae-conv-2d"),
]

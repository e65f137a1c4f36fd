"""VAE and its metrics against ground truth: torch.distributions, quadrature of log p(x), the IWAE theorem."""
import io
import math

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import last_json, run_cli
from genlib import models
from genlib import checkpoints, metrics
from genlib.data import binarize_fixed, canvas_to_digit, image_to_digit
from genlib.models import KINDS
from genlib.models.vae import (VAE, VAEConfig, decode_grid, ellipse, grid_axis, grid_latents,
                               interpolate, random_shift)
from genlib.train import TrainConfig, Trainer

D = torch.distributions


def small(**kw) -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(**{"latent": 4, "hidden": (32,), **kw})).eval()


def test_gaussian_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(50, 6, generator=g) * 2, torch.randn(50, 6, generator=g)
    want = D.kl_divergence(D.Normal(mu, (0.5 * logvar).exp()), D.Normal(0.0, 1.0))
    torch.testing.assert_close(metrics.gaussian_kl(mu, logvar), want, rtol=1e-5, atol=1e-6)
    z = torch.randn(50, 6, generator=g)
    torch.testing.assert_close(metrics.log_normal_diag(z, mu, logvar),
                               D.Normal(mu, (0.5 * logvar).exp()).log_prob(z).sum(-1), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(metrics.log_std_normal(z), D.Normal(0.0, 1.0).log_prob(z).sum(-1))


def test_likelihoods_match_torch_distributions():
    g = torch.Generator().manual_seed(1)
    logits, x = torch.randn(5, 784, generator=g) * 3, torch.bernoulli(torch.full((5, 784), 0.3), generator=g)
    torch.testing.assert_close(metrics.bernoulli_log_px(logits, x), D.Bernoulli(logits=logits).log_prob(x).sum(-1))
    mean, xg = torch.rand(5, 784, generator=g), torch.rand(5, 784, generator=g)
    torch.testing.assert_close(metrics.gaussian_log_px(mean, xg), D.Normal(mean, 1.0).log_prob(xg).sum(-1))


@pytest.mark.parametrize("kw", [dict(), dict(likelihood="gaussian"), dict(encoder="conv", decoder="conv", hidden=(16,)),
                                dict(latent=64, decoder="conv")])
def test_shapes_and_loss_terms(kw):
    m = small(**kw)
    x = torch.rand(3, 1, 28, 28)
    mu, logvar = m.encode(x)
    assert mu.shape == logvar.shape == (3, m.config.latent)
    assert m.encode(x.reshape(3, 784))[0].allclose(mu)
    out = m.decode(mu)
    assert out.shape == (3, 1, 28, 28)
    if m.config.likelihood == "gaussian":
        assert out.abs().max() <= 1 and not m.binary  # tanh mean
    else:
        assert m.binary
    terms = m.loss(x, torch.Generator().manual_seed(0))
    assert set(terms) == {"loss", "rec", "kl", "nelbo"}
    torch.testing.assert_close(terms["kl"], metrics.gaussian_kl(mu, logvar).sum(-1).mean())
    torch.testing.assert_close(terms["loss"], terms["rec"] + terms["kl"])  # beta 1, eval: the negative ELBO
    s = m.sample(5, torch.Generator().manual_seed(0))
    assert s.shape == (5, 1, 28, 28) and 0 <= s.min() and s.max() <= 1


def test_beta_and_warmup_weight_the_kl_and_the_step_count_is_a_buffer():
    m = small(beta=2.0, warmup_steps=10).train()
    x = torch.rand(8, 1, 28, 28).bernoulli(generator=torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(0)
    t0 = m.loss(x, g)
    assert m.steps.item() == 1
    torch.testing.assert_close(t0["loss"], t0["rec"])  # step 0: KL weight 0
    m.steps.fill_(5)
    assert m.kl_weight() == pytest.approx(1.0)  # beta * 5 / 10
    m.steps.fill_(50)
    t = m.loss(x, torch.Generator().manual_seed(0))
    torch.testing.assert_close(t["loss"], t["rec"] + 2.0 * t["kl"])
    assert "steps" in m.state_dict()
    m.eval()
    assert m.kl_weight() == 2.0


def test_iwae_k1_equals_elbo_in_expectation():
    """log w with one sample = log p(x|z) + log p(z) - log q(z|x); its mean is E log p(x|z) - KL (closed form)."""
    m = small(latent=3)
    x = binarize_fixed(torch.rand(4, 1, 28, 28) * 0.5)
    g = torch.Generator().manual_seed(2)
    lw = torch.cat([metrics.iwae_log_weights(m, x, 500, g) for _ in range(8)])  # [4000, 4] single-sample bounds
    mu, logvar = m.encode(x)
    z = metrics.reparameterize(mu, logvar, g, 4000)
    elbo = (m.log_px(x.reshape(1, 4, 784).expand(4000, -1, -1).reshape(-1, 784),
                     m.decode(z.reshape(-1, 3))).reshape(4000, 4).mean(0) - metrics.gaussian_kl(mu, logvar).sum(-1))
    diff = lw.mean(0) - elbo
    se = lw.std(0) / math.sqrt(len(lw))
    assert (diff.abs() < 5 * se + 0.05).all(), (diff, se)
    # and iwae_bound with k = 1 is exactly the single-sample estimate of the same draw
    b1 = metrics.iwae_bound(m, x, 1, torch.Generator().manual_seed(3))
    torch.testing.assert_close(b1, metrics.iwae_log_weights(m, x, 1, torch.Generator().manual_seed(3))[0])


def test_iwae_rises_with_k_towards_the_exact_log_likelihood():
    """Ground truth for a 2-D latent: log p(x) by quadrature over z on a fine grid; L_1 < L_10 < L_200 <= log p(x)."""
    m = small(latent=2)
    x = binarize_fixed(torch.rand(6, 1, 28, 28) * 0.4)
    with torch.no_grad():
        zs = torch.linspace(-7, 7, 281)
        zz = torch.cartesian_prod(zs, zs)  # [Q, 2]
        dz2 = (zs[1] - zs[0]) ** 2
        logits = m.decode(zz).reshape(len(zz), 784)
        log_joint = metrics.bernoulli_log_px(logits[:, None], x.reshape(1, 6, 784)) + metrics.log_std_normal(zz)[:, None]
        exact = torch.logsumexp(log_joint, 0) + math.log(dz2)
    g = torch.Generator().manual_seed(0)
    l1, l10, l200 = (torch.stack([metrics.iwae_bound(m, x, k, g) for _ in range(20)]).mean(0) for k in (1, 10, 200))
    assert l1.mean() < l10.mean() < l200.mean() <= exact.mean() + 0.05, (l1, l10, l200, exact)
    assert (l200 <= exact + 0.5).all() and (l1 < exact).all()


def test_iwae_training_objective_is_the_bound():
    m = small(iw_k=5).train()
    x = binarize_fixed(torch.rand(6, 1, 28, 28))
    out = m.loss(x, torch.Generator().manual_seed(4))
    want = -(torch.logsumexp(metrics.iwae_log_weights(m, x, 5, torch.Generator().manual_seed(4)), 0) - math.log(5)).mean()
    torch.testing.assert_close(out["loss"], want)


def test_random_shift_is_a_translation():
    x = torch.zeros(50, 1, 28, 28)
    x[:, 0, 10:18, 12:16] = torch.rand(50, 8, 4)
    y = random_shift(x, 2, torch.Generator().manual_seed(0))
    torch.testing.assert_close(y.sum((1, 2, 3)), x.sum((1, 2, 3)))  # interior ink: nothing falls off
    for i in range(50):
        ok = any(torch.equal(y[i], torch.roll(x[i], (dy, dx), (1, 2))) for dy in range(-2, 3) for dx in range(-2, 3))
        assert ok
    assert not torch.equal(y, x)


def test_checkpoint_round_trip_and_registry(tmp_path, mnist):
    m = small(latent=3, warmup_steps=100, shift=1, dropout=0.1)
    tr = Trainer(m, mnist.train.images[:256], TrainConfig(batch_size=64))
    tr.run(3)
    path = tmp_path / "v.safetensors"
    checkpoints.save(path, m, steps=tr.step_count)
    m2 = models.load(path)
    assert isinstance(m2, VAE) and m2.config == m.config and m2.steps.item() == 3 and not m2.training
    m.eval()
    x = mnist.val.images[:5]
    torch.testing.assert_close(m2.encode(x), m.encode(x))
    assert "vae" in KINDS and {"conv-2d", "mlp-gauss-8", "mlp-bern-16"} <= set(KINDS["vae"].presets)


def test_rollback_restores_the_warmup_counter(mnist):
    m = small(warmup_steps=100)
    tr = Trainer(m, mnist.train.images[:256], TrainConfig(batch_size=64))
    tr.run(2)
    tr.set_hparams(lr=1e12)
    assert tr.run(20) is None and tr.message
    assert m.steps.item() == 2 == tr.step_count


def test_cli_train_and_eval_report_elbo_terms_and_iwae(tmp_path, mnist_test_root):
    out = tmp_path / "v.safetensors"
    rc, _, err = run_cli("train", "vae", "--epochs", "1", "--set", "hidden=[32]", "--set", "latent=3", "--quiet",
                         "--weights-only", "--out", out)
    assert rc == 0, err
    ckpt = checkpoints.read(out)
    assert ckpt.meta["kind"] == "vae" and "val_nelbo" in ckpt.meta["metrics"]
    rc, stdout, err = run_cli("eval", out, "--data-dir", mnist_test_root, "--limit", "40")
    assert rc == 0, err
    res = last_json(stdout)
    assert res["n"] == 40 and res["nelbo"] == pytest.approx(res["rec"] + res["kl"], abs=1e-3)
    assert res["nll_iwae_k100"] < res["nelbo"] and res["iwae_k100"] == -res["nll_iwae_k100"]


def test_grid_helpers():
    q = grid_axis(5, "quantile", 0.05)
    torch.testing.assert_close(q, D.Normal(0.0, 1.0).icdf(torch.tensor([0.05, 0.275, 0.5, 0.725, 0.95])))
    torch.testing.assert_close(grid_axis(3, "scale", 1.0), torch.tensor([-1.0, 0.0, 1.0]))
    xs, ys = torch.tensor([-1.0, 0.0, 1.0]), torch.tensor([-2.0, 2.0])
    z = grid_latents(xs, ys, (2, 0), torch.full((4,), 7.0), 4)
    assert z.shape == (6, 4)
    assert z[0].tolist() == [2.0, 7.0, -1.0, 7.0]  # top-left: smallest x, largest y
    assert z[-1].tolist() == [-2.0, 7.0, 1.0, 7.0]
    m = small(latent=2)
    img = decode_grid(m, xs, ys)
    assert img.shape == (56, 84) and img.dtype == np.float32 and 0 <= img.min() and img.max() <= 1
    # the cell at row r, col c is the decoded image of that grid point
    cell = m.decode_images(torch.tensor([[1.0, -2.0]]))[0, 0].numpy()
    np.testing.assert_allclose(img[28:, 56:], cell, atol=1e-6)


def test_interpolate_and_ellipse():
    z0, z1 = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    lin = interpolate(z0, z1, 5)
    torch.testing.assert_close(lin[0], z0)
    torch.testing.assert_close(lin[-1], z1)
    torch.testing.assert_close(lin[2], torch.tensor([1.5, 1.5]))
    sl = interpolate(z0, z1, 5, spherical=True)
    torch.testing.assert_close(sl.norm(dim=1), torch.full((5,), 3.0))
    torch.testing.assert_close(sl[-1], z1, atol=1e-5, rtol=0)
    e = ellipse(torch.tensor([1.0, -1.0]), torch.log(torch.tensor([4.0, 0.25])))
    np.testing.assert_allclose(((e[:, 0] - 1) / 2) ** 2 + ((e[:, 1] + 1) / 0.5) ** 2, 1.0, atol=1e-5)


def _png(arr: np.ndarray, mode: str, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode).save(buf, format=fmt)
    return buf.getvalue()


def test_preprocessing_of_odd_uploads():
    big = np.full((900, 600), 255, np.uint8)
    big[200:700, 280:320] = 0  # a dark vertical stroke on white paper, large, off-centre
    d = image_to_digit(_png(big, "L", "JPEG"))
    assert d.shape == (1, 1, 28, 28) and d.max() > 0.8 and d[0, 0, 0].max() < 0.05  # inverted, ink in the middle
    ys, xs = np.nonzero(d[0, 0].numpy() > 0.5)
    assert ys.max() - ys.min() >= 17 and abs(xs.mean() - 13.5) < 1.5
    rgba = np.zeros((50, 40, 4), np.uint8)
    rgba[10:40, 18:22] = (0, 0, 0, 255)  # black ink on a transparent background
    assert image_to_digit(_png(rgba, "RGBA")).max() > 0.8
    assert image_to_digit(_png(np.array([[0, 255]], np.uint8), "L", "GIF")).shape == (1, 1, 28, 28)  # tiny GIF
    for bad in (b"", b"hello, not an image", b"%PDF-1.4 ...", _png(np.full((30, 30), 255, np.uint8), "L")):
        with pytest.raises(ValueError):
            image_to_digit(bad)
    canvas = np.zeros((280, 280, 4), np.uint8)
    with pytest.raises(ValueError, match="empty"):
        canvas_to_digit(canvas)
    canvas[60:220, 130:150] = (255, 255, 255, 255)
    c = canvas_to_digit(canvas)
    assert c.shape == (1, 1, 28, 28) and c.max() > 0.8 and c[0, 0, :, :3].max() < 0.05


# ---- the IWAE estimate of log p(x) against an exact answer (linear-Gaussian model) -------------------------------

class LinearGaussian:
    """A linear-Gaussian latent model, where log p(x) and p(z|x) are exact: p(z) = N(0, I), p(x|z) = N(Wz + b, s^2 I)
    so p(x) = N(b, W W^T + s^2 I) and p(z|x) = N(S W^T (x - b) / s^2, S), S = (I + W^T W / s^2)^-1. W has
    orthogonal columns, so the posterior is diagonal and a diagonal q(z|x) can equal it exactly.
    `shift`, `scale` spoil q(z|x) = N(m + shift, scale^2 S) on purpose."""

    def __init__(self, shift: float = 0.0, scale: float = 1.0, d: int = 6, latent: int = 2, s: float = 0.5):
        g = torch.Generator().manual_seed(3)
        q, _ = torch.linalg.qr(torch.randn(d, latent, generator=g, dtype=torch.float64))
        self.W = q * torch.tensor([2.0, 0.7], dtype=torch.float64)  # orthogonal columns of lengths 2 and 0.7
        self.b = torch.randn(d, generator=g, dtype=torch.float64)
        self.s2, self.shift, self.scale = s * s, shift, scale
        self.S = torch.linalg.inv(torch.eye(latent, dtype=torch.float64) + self.W.T @ self.W / self.s2)

    def posterior(self, x):
        return (x - self.b) @ self.W @ self.S / self.s2, self.S  # mean [N, L], covariance [L, L]

    def log_px_exact(self, x):
        cov = self.W @ self.W.T + self.s2 * torch.eye(len(self.b), dtype=torch.float64)
        return D.MultivariateNormal(self.b, cov).log_prob(x)

    def encode(self, x):
        m, S = self.posterior(x)
        return m + self.shift, torch.log(self.scale ** 2 * torch.diagonal(S)).expand_as(m)

    def decode(self, z):
        return z @ self.W.T + self.b

    def log_px(self, x, mean):
        return metrics.gaussian_log_px(mean, x, self.s2)


def test_iwae_equals_log_px_when_q_is_the_exact_posterior():
    from genlib.models.vae import log_likelihood_estimates

    m = LinearGaussian()
    x = m.decode(torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64))
    for i in range(4):
        est = log_likelihood_estimates(m, x[i:i + 1], 16, torch.Generator().manual_seed(i))
        exact = float(m.log_px_exact(x[i]))
        # every importance weight equals p(x): ELBO = IWAE = log p(x), the gap (KL to the posterior) is 0
        assert est["elbo"] == pytest.approx(exact, abs=1e-9) and est["iwae"] == pytest.approx(exact, abs=1e-9)
        assert est["gap"] == pytest.approx(0, abs=1e-9) and est["ess"] == pytest.approx(16)


def test_iwae_rises_to_log_px_and_elbo_is_log_px_minus_the_kl_to_the_posterior():
    from genlib.models.vae import log_likelihood_estimates

    m = LinearGaussian(shift=0.3, scale=1.5)  # a poor q(z|x): shifted by 0.3 and 1.5 times too wide
    x = m.decode(torch.tensor([[0.3, -1.2]], dtype=torch.float64)) + 0.2
    exact = float(m.log_px_exact(x[0]))
    mq, lvq = m.encode(x)
    mp, Sp = m.posterior(x)
    kl = float(D.kl_divergence(D.MultivariateNormal(mq[0], torch.diag(lvq[0].exp())), D.MultivariateNormal(mp[0], Sp)))
    assert kl > 0.5  # the bounds below are not trivially tight
    means = {}
    for k in (1, 10, 100, 5000):
        runs = [log_likelihood_estimates(m, x, k, torch.Generator().manual_seed(r)) for r in range(200 if k < 5000 else 4)]
        assert all(r["iwae"] >= r["elbo"] - 1e-12 for r in runs)  # Jensen, for the very same samples
        means[k] = float(np.mean([r["iwae"] for r in runs]))
        elbo = float(np.mean([r["elbo"] for r in runs]))
        # the ELBO estimates log p(x) - KL(q(z|x) || p(z|x)) (the gap the page shows), whatever k
        assert elbo == pytest.approx(exact - kl, abs=4 * 2.5 / math.sqrt(len(runs) * k))
    assert means[1] < means[10] < means[100] < means[5000] <= exact + 0.02  # monotone in k (Burda et al., Thm 1)
    assert exact - means[5000] < 0.05 and exact - means[1] > 0.5  # IWAE -> log p(x) as k grows


def test_posterior_samples_are_mu_plus_sigma_eps():
    from genlib.models.vae import posterior_samples

    model = small()
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    mu, logvar, z = posterior_samples(model, x, 2000, torch.Generator().manual_seed(1))
    want_mu, want_lv = model.encode(x)
    torch.testing.assert_close(mu, want_mu[0]) and torch.testing.assert_close(logvar, want_lv[0])
    assert z.shape == (2000, 4)
    torch.testing.assert_close(z.mean(0), mu, atol=4 * float(logvar.exp().sqrt().max()) / math.sqrt(2000), rtol=0)
    torch.testing.assert_close(z.std(0), (0.5 * logvar).exp(), rtol=0.08, atol=0)
    _, _, z2 = posterior_samples(model, x, 2000, torch.Generator().manual_seed(1))
    assert torch.equal(z, z2)  # the page's sample seed reproduces the same eps

"""Sample-quality scores from our own MNIST classifier: Frechet distance (Heusel et al. 2017), confidence, class entropy."""
from __future__ import annotations

import math

import torch

CLASSIFIER = "mnist-classifier"  # the bundled checkpoint whose features the scores use


def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """||mu_a - mu_b||^2 + Tr(C_a + C_b - 2 (C_a C_b)^{1/2}) between Gaussians fitted to feature sets [N, d].

    Tr (C_a C_b)^{1/2} = sum of sqrt(eigenvalues of C_a^{1/2} C_b C_a^{1/2}), a symmetric PSD matrix,
    computed with eigh in float64 (no complex sqrtm needed).
    """
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    ca, cb = torch.cov(a.T), torch.cov(b.T)
    w, v = torch.linalg.eigh(ca)
    sqrt_ca = (v * w.clamp_min(0).sqrt()) @ v.T
    m = sqrt_ca @ cb @ sqrt_ca
    tr_sqrt = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0).sqrt().sum()
    return float((mu_a - mu_b).pow(2).sum() + ca.trace() + cb.trace() - 2 * tr_sqrt)


@torch.no_grad()
def scores(classifier: torch.nn.Module, samples: torch.Tensor, reference: torch.Tensor,
           floor_set: torch.Tensor | None = None) -> dict[str, float]:
    """Scores of `samples` [N,1,28,28] in [0,1] against real `reference` digits.

    frechet: Frechet distance of classifier features; frechet_floor: the same for `floor_set` (real digits
    of another split, as many as the samples), the best a perfect generator could expect;
    confident: share of samples whose top class has probability >= 0.9;
    class_entropy_bits: entropy of the histogram of predicted classes (log2 10 = 3.32 when balanced).
    """
    classifier.eval()
    fs, fr = classifier.features(samples), classifier.features(reference)
    probs = classifier.head(fs).softmax(1)
    hist = torch.bincount(probs.argmax(1), minlength=10).double() / len(samples)
    entropy = -float(sum(p * math.log2(p) for p in hist.tolist() if p > 0))
    out = {"frechet": frechet_distance(fs, fr), "confident": float((probs.max(1).values >= 0.9).double().mean()),
           "class_entropy_bits": entropy}
    if floor_set is not None:
        out["frechet_floor"] = frechet_distance(classifier.features(floor_set), fr)
    return out

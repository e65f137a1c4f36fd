"""Sample-quality scores from our own MNIST classifier: Frechet distance (Heusel et al. 2017), confidence, class entropy.

`sample_scores` is what `python -m genlib eval` reports for a model that declares `scored` (the EBM); the classifier
is the bundled checkpoint `mnist-classifier`, passed in by the caller (this module reads no file).
"""
from __future__ import annotations

import math
from typing import Callable

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


@torch.no_grad()
def sample_scores(sample: Callable[[int, torch.Generator], torch.Tensor], classifier: torch.nn.Module,
                  reference: torch.Tensor, real: torch.Tensor, n_samples: int = 500, seeds: int = 4
                  ) -> tuple[dict[str, float], torch.Tensor, torch.Generator]:
    """Scores of `sample(n, generator)` against the `reference` digits, averaged over sampling seeds 0 .. seeds-1.

    One set of 500 samples gives a Frechet distance that swings by about +-10 with the seed, so each score is the
    mean over `seeds` sets, with the Frechet distance's min and max. The floor compares as many `real` digits (another
    split; a fresh draw per seed) with the same reference. Returns (scores, all samples, the generator of the last
    seed after its draws: the caller may draw more from it).
    """
    dev = reference.device
    runs, samples = [], []
    for seed in range(seeds):
        g = torch.Generator(device=dev).manual_seed(seed)
        samples.append(sample(n_samples, g))
        floor = real[torch.randperm(len(real), generator=g, device=dev)[:n_samples]]
        runs.append(scores(classifier, samples[-1], reference, floor))
    out = {f"sample_{k}": sum(r[k] for r in runs) / seeds for k in runs[0]}
    fds = [r["frechet"] for r in runs]
    out.update(sample_frechet_min=min(fds), sample_frechet_max=max(fds), sample_seeds=seeds, n_samples=n_samples)
    return out, torch.cat(samples), g

"""The hot paths the genlib redesign (one chain engine, one trainer) touched, on one torch thread, in the checkout
given as argv[1]: Gibbs steps, the chain player's recording, the CD-1 update, EBM Langevin steps, ULA on 1000 chains,
autoencoder trainer steps. Prints one JSON line. Compare two checkouts by alternating them, e.g. with the pre-redesign
commit 6543e71:

    git worktree add /tmp/before 6543e71
    for i in 1 2 3 4 5; do for d in /tmp/before .; do .venv/bin/python bench/bench_hotpaths.py $d; done; done

and take the median per side (the machine's other load moves both alike). Works on both APIs (the old GibbsChain /
langevin, the new samplers.Recorder / gibbs)."""
import json
import sys
import time

sys.path.insert(0, sys.argv[1])
import torch  # noqa: E402

from genlib import densities as D, samplers as S  # noqa: E402
from genlib.data import load_mnist  # noqa: E402
from genlib.models.autoencoder import AEConfig, Autoencoder  # noqa: E402
from genlib.models.ebm import EBM, EBMConfig  # noqa: E402
from genlib.models.rbm import RBM, RBMConfig  # noqa: E402
from genlib.train import TrainConfig, Trainer  # noqa: E402

NEW = hasattr(S, "Recorder")  # the redesigned chain engine


def median_time(f, n=5) -> float:
    f()  # warm-up
    ts = []
    for _ in range(n):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return sorted(ts)[len(ts) // 2]


def main() -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    rbm = RBM(RBMConfig(n_hidden=500))
    v = torch.bernoulli(torch.full((100, 784), 0.5), generator=g)
    if NEW:
        def gibbs():
            S.run(S.gibbs(rbm, v, g), 50)

        def player():
            rec = S.Recorder(S.gibbs(rbm, v, g), v, energy=rbm.free_energy, store=torch.uint8, means=True)
            for _ in range(50):
                rec.advance(1)
    else:
        from genlib.models.rbm import GibbsChain, gibbs as old_gibbs

        def gibbs():
            for _ in old_gibbs(rbm, v, 50, g):
                pass

        def player():
            rec = GibbsChain(rbm, v, g)
            for _ in range(50):
                rec.advance(1)
    x = torch.bernoulli(torch.full((100, 784), 0.3), generator=g)
    ebm = EBM(EBMConfig()).eval()
    xe = torch.rand(128, 1, 28, 28, generator=g) * 2 - 1
    if NEW:
        def langevin():
            S.run(ebm.chain(xe, g), 10)
    else:
        from genlib.models.ebm import langevin as old_langevin

        def langevin():
            for _ in old_langevin(ebm.energy, xe, 10, g, 10.0, 0.005, 0.03):
                pass
    t = D.make_target("banana")
    x0 = S.init_chains(1000, 2, g)

    def ula():
        chain = S.ula(t.grad, x0, 0.05, 0.3, g)
        for _ in range(200):
            next(chain)
    tr = Trainer(Autoencoder(AEConfig()), load_mnist().train.images, TrainConfig())
    out = {"gibbs steps/s": 50 / median_time(gibbs),
           "Gibbs chain player frames/s (1 step per frame)": 50 / median_time(player),
           "CD-1 update ms": 1000 * median_time(lambda: rbm.compute_grads(x, g), 20),
           "EBM Langevin steps/s (128 images)": 10 / median_time(langevin, 3),
           "ULA 1000 chains x 200 steps, s": median_time(ula),
           "AE trainer steps/s": 20 / median_time(lambda: tr.run(20), 3)}
    print(json.dumps({k: round(val, 3) for k, val in out.items()}))


if __name__ == "__main__":
    main()

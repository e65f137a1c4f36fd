"""The model contract and registry: every kind round-trips through a checkpoint, resumes exactly, draws its initial
weights from its own generator; typed presets; no import cycle in genlib."""
import ast
import dataclasses

import pytest
import torch

from conftest import ROOT
from genlib import checkpoints, models
from genlib.data import toy_data
from genlib.models import KINDS
from genlib.models.base import Model
from genlib.train import Preset, TrainConfig, Trainer

# a small config of every kind, so that each test runs in a second or two
SMALL = {
    "ae": dict(code_size=2, hidden=(32,)),
    "vae": dict(latent=2, hidden=(32,), dropout=0.1, shift=1),  # dropout and shifts draw from the run's generator
    "rbm": dict(n_hidden=8, persistent=True, n_chains=10),  # with persistent chains, which a resume must carry
    "ebm": dict(channels=4, steps=3, buffer_size=64),  # with its replay buffer
    "ebm2d": dict(hidden=8, steps=3, buffer_size=64),
    "classifier": dict(features=8),
}


def test_every_kind_has_a_small_config_here():
    assert set(SMALL) == set(KINDS)


def small(kind: str, seed: int = 0) -> Model:
    return models.create(kind, KINDS[kind].config_cls(**SMALL[kind]), seed)


def data_for(kind: str, mnist):
    if kind == "ebm2d":
        return toy_data("eight_gaussians", 200, torch.Generator().manual_seed(0))
    x, y = mnist.train.images[:96], mnist.train.labels[:96]
    return (x, y) if KINDS[kind].model_cls.supervised else x


def trainer(kind: str, mnist, **cfg) -> Trainer:
    return Trainer(small(kind), data_for(kind, mnist), TrainConfig(lr=1e-3, batch_size=32, **cfg))


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_checkpoint_round_trip_of_every_kind(kind, mnist, tmp_path, one_torch_thread):
    tr = trainer(kind, mnist)
    assert tr.run(4) is not None, tr.message  # buffers (replay, persistent chains, ...) are filled by training
    tr.save(tmp_path / "m.safetensors")
    back = models.load(tmp_path / "m.safetensors", kind=kind)
    assert type(back) is type(tr.model) and back.config == tr.model.config and not back.training
    want = checkpoints.read(tmp_path / "m.safetensors").model_tensors()
    assert set(back.state_dict()) == set(want) == set(tr.model.state_dict())
    for k, v in back.state_dict().items():
        assert torch.equal(v, want[k]), k
    live = dict(tr.model.named_parameters())
    for k, v in back.named_parameters():  # the weights are the run's (no weight average here)
        assert torch.equal(v, live[k]), k
    # the same from bytes (the app's uploads), and a wrong kind is refused by the registry
    again = models.from_bytes((tmp_path / "m.safetensors").read_bytes(), "upload.safetensors", kind=kind)
    assert all(torch.equal(v, want[k]) for k, v in again.state_dict().items())
    other = "ae" if kind != "ae" else "vae"
    with pytest.raises(checkpoints.CheckpointError, match=f"'{kind}' checkpoint, but a '{other}'"):
        models.load(tmp_path / "m.safetensors", kind=other)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_resume_is_exact_for_every_kind(kind, mnist, tmp_path, one_torch_thread):
    n, k = 7, 4  # 96 digits in batches of 32: the resume starts mid-epoch
    a = trainer(kind, mnist, ema=0.5)
    assert a.run(n) is not None, a.message
    b = trainer(kind, mnist, ema=0.5)
    assert b.run(k) is not None, b.message
    b.save(tmp_path / "mid.safetensors")
    c = models.resume(tmp_path / "mid.safetensors", data_for(kind, mnist))
    assert c.run(n - k) is not None, c.message
    assert c.step_count == n
    # the files both runs write: the averaged weights, buffers (replay buffer, persistent chains, the VAE's step
    # count), the raw weights, optimizer and generator state
    fa, fc = (checkpoints.from_bytes(t.to_bytes()).tensors for t in (a, c))
    assert set(fa) == set(fc) and any(k.startswith("trainer.ema.") for k in fa)
    for name, v in fa.items():
        assert torch.equal(v, fc[name]), name


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_create_draws_the_initial_weights_from_its_own_generator(kind):
    cfg = KINDS[kind].config_cls(**SMALL[kind])
    torch.manual_seed(1)
    a = models.create(kind, cfg, seed=5)
    torch.manual_seed(2)  # the global RNG does not matter
    b = models.create(kind, cfg, seed=5)
    c = models.create(kind, cfg, seed=6)
    params = lambda m: [p for _, p in sorted(m.named_parameters())]
    assert all(torch.equal(p, q) for p, q in zip(params(a), params(b)))
    assert not all(torch.equal(p, q) for p, q in zip(params(a), params(c)))
    before = torch.random.get_rng_state()
    models.create(kind, cfg, seed=5)  # not even PyTorch's own layer initialisation draws from the global RNG
    assert torch.equal(torch.random.get_rng_state(), before)


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"rbm"}))
def test_create_gives_the_weights_of_the_old_global_seed_init(kind):
    """create(kind, cfg, s) draws the numbers `torch.manual_seed(s); Cls(cfg)` drew: runs recorded in
    checkpoints/README.md stay reproducible."""
    cfg = KINDS[kind].config_cls(**SMALL[kind])
    torch.manual_seed(11)
    old = KINDS[kind].model_cls(cfg)
    new = models.create(kind, cfg, seed=11)
    for (name, p), q in zip(old.state_dict().items(), new.state_dict().values()):
        assert torch.equal(p, q), name


def test_presets_are_typed_and_distinct():
    for kind, spec in KINDS.items():
        assert spec.default_preset in spec.presets, kind
        for name, p in spec.presets.items():
            assert isinstance(p, Preset) and isinstance(p.model, spec.config_cls) and isinstance(p.train, TrainConfig)
            assert isinstance(p.epochs, int) and p.epochs >= 1, (kind, name)
        values = list(spec.presets.values())
        assert len(values) == len(set(values)), f"{kind}: two presets are identical"


def test_capabilities_are_declared_not_probed():
    for kind, spec in KINDS.items():
        cls = spec.model_cls
        assert issubclass(cls, Model) and cls.kind == kind
        if cls.can_sample:
            assert callable(getattr(cls, "sample", None)), kind
        if cls.can_chain:
            assert callable(getattr(cls, "sample_chain", None)), kind
        if cls.manual_grads:
            assert callable(getattr(cls, "compute_grads", None)), kind
    for path in (ROOT / "genlib").rglob("*.py"):  # the trainer and the command line read the declarations
        assert "hasattr(" not in path.read_text(), path


def _genlib_imports() -> dict[str, set[str]]:
    """module -> the genlib modules it imports (anywhere in the file, also inside functions)."""
    files = {p: "genlib." + ".".join(p.relative_to(ROOT / "genlib").with_suffix("").parts)
             for p in (ROOT / "genlib").rglob("*.py")}
    names = {m.removesuffix(".__init__") for m in files.values()}
    graph = {}
    for path, mod in files.items():
        mod = mod.removesuffix(".__init__")
        package = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("genlib")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parts = parts[:len(parts) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                if not base.startswith("genlib"):
                    continue
                for a in node.names:  # `from . import x`: the module x when there is one, else the package
                    deps.add(f"{base}.{a.name}" if f"{base}.{a.name}" in names else base)
        graph[mod] = deps - {mod}
    return graph


def test_no_import_cycle_in_genlib():
    graph = _genlib_imports()
    assert graph["genlib.limits"] == set(), "the bounds are a leaf: they import no genlib module"
    assert graph["genlib.text"] == set(), "escaping untrusted text is a leaf: it imports no genlib module"
    assert graph["genlib.checkpoints"] <= {"genlib.limits", "genlib.text"}, \
        "the file format imports no other genlib module but the bounds and the escaping of untrusted text"
    state: dict[str, int] = {}

    def visit(m, path):
        state[m] = 1
        for d in sorted(graph.get(m, ())):
            if state.get(d) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path[path.index(d):] + [d]))
            if d not in state:
                visit(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])


def test_config_dataclasses_are_frozen_and_comparable():
    for kind, spec in KINDS.items():
        a, b = spec.config_cls(**SMALL[kind]), spec.config_cls(**SMALL[kind])
        assert a == b and dataclasses.is_dataclass(a)
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(a, next(iter(SMALL[kind])), 1)


# ---- one generator per session (sessions share one process) -----------------------------------------------------

PARALLEL_ROUNDS = 12
PARALLEL_THREADS = 8


def test_models_created_in_parallel_threads_with_equal_seeds_are_equal():
    """Streamlit runs every session in a thread of one process: 8 threads create models at the same moment (seeds
    0 and 1, four threads each, every kind in turn) while another thread reseeds and draws from the global generator
    without pause. Equal seeds must give equal weights in every round."""
    import threading

    kinds = sorted(KINDS)
    want = {(k, s): models.create(k, KINDS[k].config_cls(**SMALL[k]), s).state_dict() for k in kinds for s in (0, 1)}
    stop = threading.Event()

    def noise():  # another session using the global generator the whole time
        i = 0
        while not stop.is_set():
            torch.manual_seed(i)
            torch.rand(1000)
            i += 1

    results, errors = {}, []
    noisy = threading.Thread(target=noise)
    noisy.start()
    try:
        for r in range(PARALLEL_ROUNDS):
            kind = kinds[r % len(kinds)]
            barrier = threading.Barrier(PARALLEL_THREADS)

            def session(t, kind=kind, barrier=barrier, r=r):
                try:
                    barrier.wait()
                    results[r, t] = (kind, t % 2, models.create(kind, KINDS[kind].config_cls(**SMALL[kind]), t % 2))
                except Exception as e:  # noqa: BLE001 - reported below
                    errors.append(e)

            threads = [threading.Thread(target=session, args=(t,)) for t in range(PARALLEL_THREADS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        stop.set()
        noisy.join()
    assert not errors, errors
    assert len(results) == PARALLEL_ROUNDS * PARALLEL_THREADS
    differ = [(r, t) for (r, t), (kind, seed, m) in results.items()
              if any(not torch.equal(v, want[kind, seed][k]) for k, v in m.state_dict().items())]
    assert not differ, f"{len(differ)} of {len(results)} models differ from their seed's: {differ}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_genlib_path_draws_from_the_global_generator(kind, mnist, tmp_path, one_torch_thread):
    """Create, train, validate, save, load, sample and evaluate a model of every kind: the global torch generator is
    never drawn from (its state is the same at the end)."""
    torch.manual_seed(7)
    before = torch.random.get_rng_state()
    tr = trainer(kind, mnist)
    assert tr.run(3) is not None, tr.message
    tr.validate(data_for(kind, mnist))
    tr.save(tmp_path / "m.safetensors")
    m = models.load(tmp_path / "m.safetensors")
    m.train()
    m.loss(data_for(kind, mnist)[:8] if not isinstance(data_for(kind, mnist), tuple)
           else tuple(d[:8] for d in data_for(kind, mnist)))  # no generator given: a fixed one, not the global
    m.eval()
    g = torch.Generator().manual_seed(0)
    if m.can_sample:
        m.sample(2, g)
    if m.can_chain:
        m.sample_chain(2, 3, g)
    assert torch.equal(torch.random.get_rng_state(), before)


def test_a_config_over_the_size_limit_is_refused_before_allocating():
    import tracemalloc

    from genlib import limits

    tracemalloc.start()
    with pytest.raises(ValueError, match="16,000,000 parameters"):
        models.create("ae", KINDS["ae"].config_cls(hidden=(8000, 8000)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 5_000_000
    n = sum(t.numel() for t in models.create("ebm").state_dict().values())  # the largest bundled kind fits
    assert n < limits.MAX_PARAMETERS
    shapes = models.expected_tensors("rbm", KINDS["rbm"].config_cls(n_hidden=7))
    assert shapes["weight"] == (torch.float32, (7, 784))


def test_ais_time_estimate_is_quick_and_of_the_right_size():
    import time

    from genlib.models import rbm

    m = models.load(checkpoints.resolve("rbm-16-cd1"))
    t0 = time.perf_counter()
    est = rbm.ais_seconds(m, n_runs=100, n_betas=14_500)
    assert time.perf_counter() - t0 < 2 and est > 0
    assert rbm.ais_seconds(m, n_runs=100, n_betas=1) == 0  # no temperature step, no work
    with pytest.raises(ValueError, match="over the limit"):  # runs x temperatures is bounded (limits.MAX_AIS_WORK)
        rbm.ais(m, torch.zeros(784), n_runs=1000, betas=rbm.default_betas(14_500))


def test_dropout_without_a_generator_does_not_use_the_global_one():
    """A model run in training mode outside `loss` (no generator handed to its Dropout layers) still draws its masks
    from a generator of its own."""
    from genlib.models.base import Dropout

    d = Dropout(0.5).train()
    torch.manual_seed(3)
    before = torch.random.get_rng_state()
    a = d(torch.ones(1000))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert 300 < int((a == 0).sum()) < 700 and torch.equal(Dropout(0.5).train()(torch.ones(1000)), a)  # seed 0

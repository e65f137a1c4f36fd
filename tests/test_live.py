"""Live views of a class in one server process: the fair share of compute between live sessions (pages/views/share.py,
with real threads as Streamlit's script threads are), Trainer.tick within the budget it is given, the process's garbage
collection settings, and the shared pretrained models that no training or sampling path of the pages ever changes."""
import threading
import time
import tomllib

import pytest
import torch
from harness import ROOT

from genlib import checkpoints, samplers
from genlib.models import rbm as R
from genlib.models import vae as V
from genlib.models.autoencoder import AEConfig, Autoencoder
from genlib.train import TrainConfig, Trainer
from pages.views import share
from pages.views.share import FairShare


def test_the_slice_shrinks_with_live_sessions_and_comes_back_when_they_leave():
    fs = FairShare(total=0.7, window=0.5, cpu=None)
    assert fs.live() == 0 and fs.slice() == pytest.approx(0.7)
    stop, seen = threading.Event(), []

    def session(who):  # a live view: ticks every 50 ms until stopped
        while not stop.is_set():
            seen.append(fs.enter(who))
            time.sleep(0.05)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.4)
    assert fs.live() == 4 and max(seen) == 4
    assert fs.slice() == pytest.approx(0.7 / 4)
    budget, n = fs.budget("me", own=1.0, period=0.4)  # a fifth session: a fifth of 0.7 of its 0.4 s period
    assert n == 5 and budget == pytest.approx(0.7 / 5 * 0.4)
    assert fs.budget("me", own=0.01, period=0.4)[0] == pytest.approx(0.01)  # never more than its own budget
    fs.leave("me")
    assert fs.live() == 4
    stop.set()
    for t in threads:
        t.join()
    time.sleep(0.6)  # past the window: closed or paused sessions no longer count
    assert fs.live() == 0 and fs.slice() == pytest.approx(0.7)
    assert fs.budget("me", own=1.0, period=0.4)[0] == pytest.approx(0.7 * 0.4)


def test_the_wait_keeps_each_sessions_busy_share_at_its_slice():
    fs = FairShare(total=0.7, cpu=None)
    assert fs.delay(0.05, 0.25, n=1) == pytest.approx(0.20)  # alone: the rest of the period
    d = fs.delay(0.2, 0.25, n=10)  # ten sessions, a 0.2 s tick: wait until 0.2 / (0.2 + d) = 0.07
    assert 0.2 / (0.2 + d) == pytest.approx(0.07)
    assert fs.delay(0.2, 0.25, n=20) > d  # more sessions: slower, evenly


@pytest.fixture(scope="module")
def digits(mnist):
    return mnist.train.images[:1000]


def tiny_trainer(digits, seed=0):
    return Trainer(Autoencoder(AEConfig(code_size=2, hidden=(32,))), digits, TrainConfig(batch_size=20, seed=seed))


def test_trainer_tick_keeps_within_the_budget_it_is_given(digits, one_torch_thread):
    tr = tiny_trainer(digits)
    val = digits[:50]
    tr.tick(val, budget=0.05)  # warm up
    before = tr.step_count
    tr.tick(val, budget=share.cut(1.0, 0.0), max_steps=100)  # a slice of 0 s: one step always runs, and no more
    assert tr.step_count == before + 1
    before = tr.step_count
    tr.tick(val, budget=share.cut(0.2, None), max_steps=20)  # alone: the tick's own budget
    assert tr.step_count - before > 1
    assert share.cut(0.3, None) == 0.3 and share.cut(0.3, 0.1) == 0.1 and share.cut(0.3, 1.0) == 0.3


def test_the_library_schedules_nothing():
    """The fair share is the app's: genlib has no share module and no per-thread cap on a tick's budget."""
    import importlib.util

    import genlib
    from genlib import train

    assert importlib.util.find_spec("genlib.share") is None
    assert not hasattr(genlib, "share") and not hasattr(train, "share")
    assert not hasattr(FairShare, "limiting")


def test_two_live_sessions_in_one_process_both_advance(digits, one_torch_thread):
    """Two sessions' live training ticks, each in its own thread (as Streamlit runs sessions), through the same fair
    share as pages/views/training.live: both train, each saw the other live, and each tick kept its slice."""
    fs = FairShare(total=0.7, cpu=None)
    val = digits[:50]
    trainers = [tiny_trainer(digits, seed) for seed in (0, 1)]
    seen = {0: [], 1: []}
    errors = []

    def session(i: int) -> None:
        try:
            end = time.monotonic() + 3.0
            while time.monotonic() < end:
                cap, n = fs.budget(("session", i), own=1.0, period=0.4)
                t0 = time.perf_counter()
                rec = trainers[i].tick(val, budget=share.cut(0.1, cap if n > 1 else None))
                spent = time.perf_counter() - t0
                seen[i].append((n, cap, rec["seconds"]))
                time.sleep(fs.delay(spent, 0.4, n))
            fs.leave(("session", i))
        except Exception as e:  # noqa: BLE001 - reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=session, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, tr in enumerate(trainers):
        assert tr.step_count >= 2, f"session {i} did not advance"
        assert any(n == 2 for n, _, _ in seen[i]), f"session {i} never saw the other one live"
    assert fs.live() == 0


def test_garbage_collection_after_every_run_is_off_and_a_sweeper_runs():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False
    from pages.views import setup

    t = setup.gc_sweeper()
    assert t.is_alive() and t.daemon and setup.gc_sweeper() is t  # once per process


def _tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Every tensor a model holds: parameters, buffers and plain tensor attributes (an RBM's persistent chains, an
    EBM's replay buffer), cloned."""
    out = {f"state.{k}": v.detach().clone() for k, v in model.state_dict(keep_vars=True).items()}
    for m_name, m in model.named_modules():
        for k, v in vars(m).items():
            if torch.is_tensor(v):
                out[f"attr.{m_name}.{k}"] = v.detach().clone()
    return out


def _assert_same(before: dict, model: torch.nn.Module, name: str) -> None:
    after = _tensors(model)
    assert after.keys() == before.keys(), name
    for k, v in before.items():
        assert torch.equal(after[k], v), f"{name}: {k} changed"


def test_shared_pretrained_models_are_never_mutated(mnist, one_torch_thread):
    """The cached models every session shares (setup.pretrained) stay bit-identical through what the pages do with
    them: chains and AIS on the model itself, training on setup.pretrained_copy."""
    from pages.views import setup

    names = [n for n in ("rbm-16", "vae-mlp-bern-16", "ae-mnist-2d", "ebm-mnist") if checkpoints.resolve(n).exists()]
    if not names:
        pytest.skip("no bundled checkpoints")
    val = mnist.val.images[:64]
    for name in names:
        shared = setup.pretrained(name)
        assert setup.pretrained(name) is shared  # one object for every session
        before = _tensors(shared)
        g = torch.Generator().manual_seed(0)
        if isinstance(shared, R.RBM):  # the Gibbs chains tab and the likelihood tab sample the shared model
            v0 = shared.chains[:8].clone() if getattr(shared, "chains", None) is not None else torch.bernoulli(
                torch.full((8, 784), 0.5), generator=g)
            rec = samplers.Recorder(samplers.gibbs(shared, v0, g, beta=lambda: 0.5), v0,
                                    energy=shared.free_energy, store=torch.uint8, means=True, max_frames=20)
            rec.advance(5)
            R.ais(shared, R.base_rate_biases(val.reshape(len(val), -1)), n_runs=4, betas=torch.linspace(0, 1, 20),
                  generator=g)
        elif isinstance(shared, V.VAE):  # the latent grid decodes with the shared model
            V.decode_grid(shared, torch.linspace(-2, 2, 5), torch.linspace(-2, 2, 5))
            shared.encode(val)
        elif hasattr(shared, "chain"):  # the EBM's chains
            x = shared.noise(4, g)
            ch = shared.chain(x, g)
            for _ in range(3):
                next(ch)
        # a page that trains copies first (setup.pretrained_copy); train the copy a few steps
        copy = setup.pretrained_copy(name)
        assert copy is not shared
        tr = Trainer(copy, mnist.train.images[:200], TrainConfig(batch_size=20, lr=1e-2))
        tr.run(3)
        _assert_same(before, shared, name)


def _slow_live_app():
    """A page with live training and a live chain view whose every step takes 0.6 s (a slow machine)."""
    import time

    import numpy as np
    import streamlit as st
    import torch

    from genlib.models.autoencoder import AEConfig, Autoencoder
    from genlib.train import TrainConfig, Trainer
    from pages.views import chain_player, live, training

    if "tr" not in st.session_state:
        data = torch.rand(200, 1, 28, 28)
        st.session_state.tr = {"trainer": Trainer(Autoencoder(AEConfig(code_size=2, hidden=(16,))), data,
                                                  TrainConfig(batch_size=20)), "running": True, "val": data[:20]}
    state = st.session_state.tr

    def tick(budget):
        time.sleep(0.6)
        return state["trainer"].tick(state["val"], budget=0.0, max_steps=1)

    training.live(state, tick, lambda tr: st.caption(f"model at step {tr.step_count}"))
    chains = chain_player.chain_state("slow", (1,), lambda: {"frames": [np.zeros((4, 4))]})
    chains["playing"] = True

    def advance(budget):
        time.sleep(0.6)
        chains["frames"].append(np.ones((4, 4)))

    live.view(chains, "slow", advance)


def test_slow_steps_say_what_the_server_is_doing_without_an_error():
    """With steps slower than the refresh interval the live views keep working and their status
    lines say how long one step takes (the "Computing ..." line shows while the step runs)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_slow_live_app, default_timeout=60)
    for _ in range(4):  # each full run runs both live fragments once: one tick each
        at.run()
        assert not at.exception, at.exception
    assert at.session_state.tr["trainer"].step_count == 4
    assert len(at.session_state["slow"]["frames"]) == 5
    assert at.session_state.tr["_step_s"] > 0.5 and at.session_state["slow"]["_unit_s"] > 0.5


def test_the_share_limits_only_while_the_process_is_busy():
    """Work-conserving: with the core idle nobody waits for a slice (the page just runs at its own pace); once the
    process uses `total` of a core, the slices apply. The process's clock and CPU time are given (a loaded test
    machine must not decide the outcome)."""
    now, cpu = [100.0], [5.0]
    fs = FairShare(total=0.5, busy_at=0.5, machine=None, clock=lambda: now[0], cpu=lambda: cpu[0])
    now[0] += 1.1  # a second with the process idle
    assert not fs.busy()
    assert fs.delay(0.2, 0.25, n=10) == pytest.approx(0.05)  # only the rest of the period
    assert fs.budget("me", own=1.0, period=0.4)[0] == 1.0
    now[0] += 1.2
    cpu[0] += 1.2  # one core busy in this process
    assert fs.busy()
    assert fs.delay(0.2, 0.25, n=10) > 1.0  # 0.2 / (0.2 + d) = 0.05
    assert fs.budget("me", own=1.0, period=0.4)[0] == pytest.approx(0.5 * 0.4)  # alone: its slice of a busy core


def test_the_share_limits_once_the_machine_is_busy_even_with_this_process_calm():
    """Replicas share the machine's cores: when the machine is busy (busy_at of all its cores over the last second),
    the slices apply even though this process alone used little; with the machine calm they do not."""
    now, machine = [0.0], [(0.0, 0.0)]
    fs = FairShare(total=0.7, clock=lambda: now[0], cpu=lambda: 0.1 * now[0], machine=lambda: machine[0])
    now[0], machine[0] = 1.0, (0.5, 2.0)  # 2 cores, a quarter busy; this process at 0.1 core
    assert not fs.busy()
    assert fs.budget("a", own=1.0, period=0.4)[0] == 1.0
    now[0], machine[0] = 2.0, (2.4, 4.0)  # 95 % of both cores over the last second
    assert fs.busy()
    assert fs.budget("a", own=1.0, period=0.4)[0] == pytest.approx(0.7 * 0.4)
    now[0], machine[0] = 2.5, (2.9, 5.0)  # measured at most once a second: still the last second's verdict
    assert fs.busy()
    now[0], machine[0] = 3.5, (3.0, 7.0)  # calm again
    assert not fs.busy()

"""Hostile inputs to the app, whose server a class shares: crafted checkpoint uploads, oversized files,
decompression-bomb images, a diverging EBM, an absurd noise scale, a data folder with a broken .gz, the start-up import
race and the Restart race.

Each case asserts the error box (or the bound that refuses the input), that no exception or traceback reaches the page,
that the page keeps working afterwards, and for the crafted files a peak memory increase under 100 MB. The command-line
side is in tests/test_hostile_cli.py and tests/test_cli.py, and the library's checks in tests/test_checkpoints.py and
tests/test_data.py.
"""
from __future__ import annotations

import ast
import contextlib
import gzip
import io
import json
import math
import re
import struct
import subprocess
import sys
import time
import tomllib
import zlib

import pytest
import torch
from PIL import Image

from conftest import ROOT, button, open_page, shown_text
from genlib import checkpoints, limits, models

MB = 1e6


# ---- helpers ---------------------------------------------------------------------------------------------------

def _status_kb(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", open("/proc/self/status").read(), re.M).group(1))


@contextlib.contextmanager
def peak_rss_growth():
    """Yields a dict whose "mb" is, after the block, how far this process's peak resident memory rose above its memory
    at the start of the block (Linux: the peak is reset through /proc/self/clear_refs). Torch allocates outside
    Python's allocator, so tracemalloc would not see a model built from a crafted config: the peak RSS does."""
    out = {}
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM, the peak resident set size, to the current one
    start = _status_kb("VmRSS")
    yield out
    out["mb"] = (_status_kb("VmHWM") - start) / 1024


def crafted_checkpoint(kind: str, config: dict, signed: bool) -> bytes:
    """A tiny checkpoint whose metadata asks for a huge model: one tensor of one zero and `config`. signed: with the
    checksum genlib writes (as anyone can compute it), so that the config itself has to be refused."""
    tensors = {"weight": torch.zeros(1)}
    meta = {"format": 1, "kind": kind, "config": config}
    if signed:
        meta["sha256"] = checkpoints._digest(tensors)
    from safetensors.torch import save

    return save(tensors, metadata={"genlib": json.dumps(meta)})


def png_1bit(width: int, height: int) -> bytes:
    """A black 1-bit PNG of width x height pixels, written row by row: a 20 000 x 20 000 "decompression bomb" is
    about 60 kB on disk and would decode to 400 MB (Pillow keeps one byte per pixel) and 1.6 GB of float32."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))

    row = b"\0" * (1 + (width + 7) // 8)  # filter byte + packed bits
    z, parts, rows = zlib.compressobj(9), [], 1000
    for start in range(0, height, rows):
        parts.append(z.compress(row * min(rows, height - start)))
    parts.append(z.flush())
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def a_digit_png() -> bytes:
    """A small picture of a "1": a white bar on black."""
    img = Image.new("L", (60, 60), 0)
    img.paste(255, (27, 8, 33, 52))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def errors(at) -> list[str]:
    """The error boxes' text as the reader sees it (untrusted text is sent as escaped markdown)."""
    return [shown_text(e.value) for e in at.error]


def assert_clean(at) -> None:
    """No exception element, and no traceback text anywhere in the page."""
    assert not at.exception, at.exception
    text = " ".join(str(e.proto) for e in [*at.error, *at.markdown, *at.caption, *at.warning])
    assert "Traceback (most recent call last)" not in text


# ---- checkpoint uploads -------------------------------------------------------------------------------------------

CRAFTED = [  # (page, uploader key, kind, config)
    ("pages/rbm.py", "rbm-up", "rbm", {"n_hidden": 1_000_000}),  # a 220-byte file asking for 3 GB of weights
    ("pages/autoencoder.py", "ae-upload", "ae", {"hidden": [16_000, 16_000]}),
]


@pytest.mark.parametrize("signed", [False, True], ids=["no-checksum", "with-checksum"])
@pytest.mark.parametrize("page,key,kind,config", CRAFTED, ids=[c[2] for c in CRAFTED])
def test_a_crafted_checkpoint_upload_gives_an_error_box_quickly_and_no_memory_growth(page, key, kind, config, signed,
                                                                                   monkeypatch):
    data = crafted_checkpoint(kind, config, signed)
    assert len(data) < 300
    at = open_page(page, timeout=240)
    at.run()  # warm: the page's own work is done once before the measurement
    parse = []  # the time genlib takes to refuse the file, measured at the call the page makes
    real = models.from_bytes

    def timed(*a, **k):
        t0 = time.perf_counter()
        try:
            return real(*a, **k)
        finally:
            parse.append(time.perf_counter() - t0)

    monkeypatch.setattr(models, "from_bytes", timed)
    with peak_rss_growth() as mem:
        at.file_uploader(key=key).upload("evil.safetensors", data)
        at.run()
    assert_clean(at)
    msg = [e for e in errors(at) if "evil.safetensors" in e]
    assert msg, errors(at)
    # the message names the problem: the missing checksum, or the bound the config breaks
    assert ("checksum" in msg[0]) if not signed else ("over the limit" in msg[0] and "8,192" in msg[0]), msg[0]
    assert parse and parse[0] < 1.0, parse
    assert mem["mb"] < 100, f"the page's memory grew by {mem['mb']:.0f} MB"
    # the page keeps working: a training step on the session's own model
    before = at.session_state[kind]["trainer"].step_count
    at.button(key=f"{kind}-step").click().run()
    assert_clean(at)
    assert at.session_state[kind]["trainer"].step_count > before


def test_an_oversized_upload_is_refused_by_the_server_and_by_the_page_before_it_is_read(monkeypatch):
    """A 150 MB upload: the browser and the server refuse anything over server.maxUploadSize (MiB), set to
    genlib.limits.MAX_UPLOAD_BYTES; a file over the limit that reaches the page anyway is refused unread."""
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    mib = cfg["server"]["maxUploadSize"]
    assert (mib - 1) * 2**20 < limits.MAX_UPLOAD_BYTES <= mib * 2**20 < 150 * MB
    at = open_page("pages/autoencoder.py")
    up = at.file_uploader(key="ae-upload")
    assert up.proto.max_upload_size_mb == mib and "50 MB" in up.help
    calls = []
    monkeypatch.setattr(models, "from_bytes", lambda *a, **k: calls.append(a))
    up.upload("big.safetensors", bytes(limits.MAX_UPLOAD_BYTES + 1))
    at.run()
    assert_clean(at)
    assert any("big.safetensors" in e and "over the limit of 50 MB" in e for e in errors(at)), errors(at)
    assert calls == []  # never parsed
    button(at, "Step").click().run()
    assert_clean(at)
    assert at.session_state["ae"]["trainer"].step_count > 0


# ---- image uploads --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("page,key", [("pages/vae.py", "vae-upload"), ("pages/ebm.py", "ebm-upload")],
                         ids=["vae-draw", "ebm-energies"])
def test_image_bombs_give_an_error_box_naming_the_bound(page, key):
    at = open_page(page, timeout=240)
    at.session_state[key.split("-")[0] + "-tab"] = "Draw" if page.endswith("vae.py") else "Energies"  # lazy tabs
    at.run()
    up = at.file_uploader(key=key)
    assert up.proto.max_upload_size_mb == math.ceil(limits.MAX_IMAGE_BYTES / 2**20)
    for w, h in [(20_000, 20_000), (9_000, 9_000)]:
        data = png_1bit(w, h)
        assert len(data) < 1 * MB
        with peak_rss_growth() as mem:
            at.file_uploader(key=key).upload(f"bomb-{w}.png", data)
            at.run()
        assert_clean(at)
        msg = [e for e in errors(at) if f"bomb-{w}.png" in e]
        assert msg and f"at most {limits.MAX_IMAGE_PIXELS:,} pixels" in msg[0], errors(at)  # the bound, named
        assert mem["mb"] < 100, f"{w} x {h}: the page's memory grew by {mem['mb']:.0f} MB"
    # too many bytes: refused before decoding
    at.file_uploader(key=key).upload("huge.png", bytes(limits.MAX_IMAGE_BYTES + 1))
    at.run()
    assert_clean(at)
    assert any("huge.png" in e and "over the limit of 10 MB" in e for e in errors(at)), errors(at)
    # the page keeps working: a real digit is used
    at.file_uploader(key=key).upload("one.png", a_digit_png())
    at.run()
    assert_clean(at)
    assert not errors(at)
    shown = " ".join(str(i.proto) for i in at.get("image"))
    assert ("28 × 28 input" if page.endswith("vae.py") else "your image as the model sees it") in shown


# ---- a diverging EBM ------------------------------------------------------------------------------------------------

def test_ebm_training_that_diverges_in_validation_shows_an_error_box_and_the_page_works_on():
    """EBM -> Train with lr 1e4, 100 Langevin steps, batch 128, then Step: the energies explode (in the validation
    after the step); the step is undone, an error box says so, and the page goes on."""
    at = open_page("pages/ebm.py", timeout=300)
    next(s for s in at.select_slider if s.label == "Learning rate").set_value(1e4).run()
    next(s for s in at.slider if s.label == "Langevin steps per iteration").set_value(100).run()
    next(s for s in at.select_slider if s.label == "Batch size").set_value(128).run()
    tr = at.session_state["ebm"]["trainer"]
    # Step = one whole iteration; the validation pass comes every few iterations (LiveTraining), so Step until the
    # divergence shows: the run is rolled back to its last good state, never left with exploded weights
    for _ in range(12):
        steps = tr.step_count
        at.button(key="ebm-step").click().run()
        assert_clean(at)
        if any("diverged" in e for e in errors(at)):
            break
    assert any("diverged" in e for e in errors(at)), errors(at)
    assert tr.step_count <= steps and all(torch.isfinite(p).all() for p in tr.model.parameters())
    # the page keeps working: the chains tab steps with the restored model
    at.session_state["ebm-tab"] = "Langevin chains"
    at.run()
    at.button(key="ebm-chain-step").click().run()
    assert_clean(at)
    assert at.session_state["ebm_chain"]["chain"].steps[-1] > 0


# ---- an absurd noise scale in the Langevin lab ---------------------------------------------------------------------

def test_a_custom_sigma_of_1e300_is_refused_by_its_bound_and_the_controls_stay():
    at = open_page("pages/langevin.py", timeout=120)
    next(w for w in at.selectbox if w.key == "lv-noise-mode").set_value("custom σ").run()
    next(w for w in at.number_input if w.key == "lv-sigma").set_value(1e300).run()
    assert_clean(at)
    sigma = next(w for w in at.number_input if w.key == "lv-sigma")
    assert sigma.value == 0.3  # not taken
    assert sigma.max == 10.0 and "to 10" in sigma.help  # the bound, named in the help (the browser says it too)
    assert at.button(key="lv-s-play") and at.button(key="lv-s-step")  # the controls stay
    at.button(key="lv-s-step").click().run()
    assert_clean(at)
    assert at.session_state["lv_samplers"]["ULA"].steps == [0, 5]
    # the largest σ allowed gives finite numbers
    next(w for w in at.number_input if w.key == "lv-sigma").set_value(10.0).run()
    assert_clean(at)
    assert any("T = σ²/(2η) = **1e+03**" in m.value for m in at.markdown)


# ---- a data folder with a broken .gz --------------------------------------------------------------------------------

def _idx(array: bytes, dims: tuple[int, ...]) -> bytes:
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + array


@pytest.fixture(scope="module")
def broken_gz_root(tmp_path_factory):
    """An MNIST root whose training images are a .gz with a broken deflate stream (a valid gzip header, then
    garbage in the compressed blocks), beside valid training labels."""
    root = tmp_path_factory.mktemp("broken-gz")
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    good = gzip.compress(_idx(bytes(range(256)) * (100 * 784 // 256 + 1), (100, 28, 28))[:16 + 100 * 784])
    broken = bytearray(good)
    broken[20:60] = b"\xff" * 40  # inside the deflate stream
    (raw / "train-images-idx3-ubyte.gz").write_bytes(bytes(broken))
    (raw / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(bytes(100), (100,))))
    with pytest.raises(zlib.error):  # the file is really broken: gzip itself refuses it
        gzip.decompress(bytes(broken))
    return root


@pytest.mark.parametrize("page", [None, "pages/autoencoder.py", "pages/vae.py", "pages/ebm.py", "pages/rbm.py"],
                         ids=["home", "ae", "vae", "ebm", "rbm"])
def test_a_broken_gz_in_the_data_folder_gives_an_error_box_and_the_bundled_digits(page, broken_gz_root, monkeypatch):
    monkeypatch.setenv("GENLIB_DATA", str(broken_gz_root))
    at = open_page(page, timeout=240)
    assert_clean(at)
    msg = [e for e in errors(at) if "train-images-idx3-ubyte.gz" in e]
    assert msg and "bundled MNIST subset" in msg[0], errors(at)
    assert not any("train-images" in w.value for w in at.warning)  # an error box, not a warning
    # the page runs on the bundled digits
    assert any("bundled MNIST subset" in t for t in [*(c.value for c in at.caption), *(m.value for m in at.markdown)])


# ---- the start-up race: several sessions import the pages at once ----------------------------------------------------

RACE = r'''
import ast, sys, threading, traceback
ROOT = sys.argv[1]
sys.path.insert(0, ROOT)
import numpy, plotly.graph_objects, plotly.io, streamlit, torch  # what a server has imported before any session
from genlib import viz
assert "pandas" not in sys.modules


def imports(path):
    """The top-level import statements of a script of the app."""
    tree = ast.parse(open(f"{ROOT}/{path}").read())
    return compile(ast.Module([n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))], []), path, "exec")


barrier, home_done, errors = threading.Barrier(2), threading.Event(), []


def session(page, draw):
    """One session's script thread: app.py's imports, the page's imports, then (draw) the page's plotly figures,
    serialized as st.plotly_chart does, until the other session is past its imports."""
    barrier.wait()
    try:
        for code in (imports("app.py"), imports(page)):
            exec(code, {"__name__": "__page__"})
        n = 0
        while draw and (n < 3 or not home_done.is_set()):
            codes = torch.randn(50, 2, generator=torch.Generator().manual_seed(n))
            plotly.io.to_json(viz.code_scatter(codes, torch.arange(50) % 10))
            n += 1
    except Exception:
        errors.append(traceback.format_exc())
    finally:
        if not draw:
            home_done.set()


threads = [threading.Thread(target=session, args=a) for a in (("pages/home.py", False), ("pages/autoencoder.py", True))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ERRORS", len(errors))
print("\n".join(errors))
'''


def test_sessions_opening_a_fresh_server_at_once_do_not_see_a_half_imported_pandas():
    """The cause of "partially initialized module 'pandas'": plotly validates a figure's arrays by looking pandas up
    in sys.modules without importing it, and gets the half-initialized module while another session's script thread
    is still inside `import pandas` (Home's first line; st.dataframe). In a fresh interpreter, Home's imports and a
    plotting page's imports plus figures start at the same moment; without the imports in pages/views/__init__.py
    (which every page and app.py import first) this fails every time."""
    for _ in range(2):
        p = subprocess.run([sys.executable, "-c", RACE, str(ROOT)], capture_output=True, text=True, timeout=300,
                           cwd=ROOT)
        assert p.returncode == 0, p.stderr[-3000:]
        assert "ERRORS 0" in p.stdout, p.stdout[-3000:]


# ---- Pause/Restart while the lab's chains play ------------------------------------------------------------------------

def test_the_server_runs_one_script_thread_per_session(monkeypatch):
    """Streamlit's fast reruns (its default) start a second script thread of a session at a click while the first
    runs on to its next Streamlit call: both then change the same chains or trainer (the IndexError under load, and
    two ticks of one trainer at once). The app's config turns them off, and a server started without it says so."""
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["runner"]["fastReruns"] is False
    import streamlit as st

    from pages.views import setup

    defaults = {"runner.fastReruns": True, "server.maxUploadSize": 200,  # Streamlit's, without the config
                "runner.postScriptGC": True}
    monkeypatch.setattr(st, "get_option", defaults.__getitem__)
    setup.server_checks.clear()
    try:
        problems = setup.server_checks()
    finally:
        setup.server_checks.clear()
    assert len(problems) == 3 and "runner.fastReruns is on" in problems[0] and "200 MiB" in problems[1]
    assert "runner.postScriptGC is on" in problems[2]


@pytest.mark.parametrize("tab", ["samplers", "sgld"])
def test_restart_while_a_batch_of_frames_is_drawn_does_not_index_the_new_chains(tab, monkeypatch):
    """The IndexError under load: a run computing a batch of frames (the live view's fragment run, which a click
    interrupts only at its next Streamlit call, or the thread Streamlit's fast reruns leave running) while the
    click's run restarts the chains. Called here in that racing order: two frames computed, Restart, the batch goes
    on. Restart used to replace the chains inside the same dict, and the running batch then indexed frame 4 of the
    new, one-frame chains."""
    import streamlit as st

    from pages.lab import common, samplers, sgld
    from pages.views import chain_player, live

    monkeypatch.setattr(st, "session_state", {})  # one session's state, without a Streamlit runtime
    monkeypatch.setattr(st, "fragment", lambda f: f)  # (a fragment does not run without one)
    books = []  # the frames each answer to the browser carried
    monkeypatch.setattr(live, "_component", lambda key, data, **k: books.append(len(data["frames"])))
    if tab == "samplers":
        mod, name, ref, key = samplers, "lv_samplers", "ULA", "lv-s"
        build = lambda: samplers.new_samplers("correlated Gaussian", 40, 0, 0.05, math.sqrt(0.1))  # noqa: E731
        advance_name, play = "advance_samplers", lambda s: samplers.play_samplers(s, "correlated Gaussian", 5)
    else:
        from genlib import samplers as S

        mod, name, ref, key = sgld, "lv_sgld", "SGLD", "lv-g"
        build = lambda: sgld.new_sgld(20, 0, S.StepSchedule(0.02, 1.0, 0.1), 10)  # noqa: E731
        advance_name, play = "advance_sgld", lambda s: sgld.play_sgld(s, 10, S.StepSchedule(0.02, 1.0, 0.1))
    advance = getattr(mod, advance_name)
    state = chain_player.chain_state(name, ("settings",), build)
    for _ in range(3):  # the chains have played a while
        advance(state, 5)
    state["playing"] = True

    calls = []

    def advance_then_restart(s, k):
        advance(s, k)
        calls.append(k)
        if len(calls) == 2:  # the click's run: the Restart button of chain_player.controls
            monkeypatch.setattr(live, "buttons", lambda *a, **kw: (False, True, False))
            chain_player.controls(st.session_state[name], key, "chains", build, lambda: None)

    monkeypatch.setattr(mod, advance_name, advance_then_restart)
    play(state)  # the playing run, which started before the click
    # the playing run finished its batch on the chains it started with and sent it (with the frames before it: a
    # browser new to this run gets the frames held); the page now holds the new chains
    assert books == [4 + common.BATCH]
    lengths = {len(state[n].frames) for n in state if hasattr(state[n], "frames")}
    assert lengths == {4 + common.BATCH}
    new = st.session_state[name]
    assert new is not state and not new["playing"] and len(new[ref].frames) == 1


# ---- bounded inputs, AIS estimate, own generators, the download after Reset ----------------------------------------

def test_ais_runs_times_temperatures_are_bounded_and_estimated_before_they_start():
    at = open_page("pages/rbm.py", timeout=240)
    at.session_state["rbm-tab"] = "Likelihood"
    at.sidebar.selectbox(key="rbm-model").set_value("live").run()  # this session's model (Train tab)
    next(s for s in at.select_slider if s.label == "AIS runs").set_value(500).run()
    next(s for s in at.select_slider if s.label == "Inverse temperatures").set_value(14_500).run()
    assert_clean(at)
    assert any("7,250,000 is over the limit" in e and f"{limits.MAX_AIS_WORK:,}" in e for e in errors(at)), errors(at)
    assert at.button(key="rbm-ais").disabled
    next(s for s in at.select_slider if s.label == "AIS runs").set_value(100).run()
    next(s for s in at.select_slider if s.label == "Inverse temperatures").set_value(300).run()
    assert_clean(at)
    assert not errors(at)
    assert any(i.value.startswith("Run AIS will take about") for i in at.info)  # the estimate, before the click
    at.button(key="rbm-ais").click().run()
    assert_clean(at)
    assert "AIS log Z" in {m.label for m in at.metric}


def _click(*keys):
    return lambda at: [at.button(key=k).click().run() for k in keys]


PAGES = {  # page -> its tabs' key, (tab, interactions that draw random numbers in it): every one must use the session's
    # own generators. Lazy tabs: a tab's widgets exist only while it is open, so each tab is opened in turn.
    "pages/autoencoder.py": (None, [(None, _click("ae-reset", "ae-step"))]),
    "pages/vae.py": ("vae-tab", [("Train", _click("vae-reset", "vae-step"))]),
    "pages/ebm.py": ("ebm-tab", [("Langevin chains", _click("ebm-chain-step"))]),
    "pages/rbm.py": ("rbm-tab", [("Train", _click("rbm-reset", "rbm-step")), ("Gibbs chains", _click("rbm-chain-step"))]),
    "pages/langevin.py": ("lv-tab", [("Samplers", _click("lv-s-step")), ("SGLD", _click("lv-g-step")),
                                     ("2-D EBM", _click("lv-ebm-step"))]),
}


def test_pages_never_touch_the_global_torch_generator_and_bound_every_number_input():
    """Sessions share one process: a page that seeded or drew from torch's global generator would make one student's
    Reset change another's model (6 sessions resetting together got 2-6 different models). Every page, with
    its Reset, Step and chain steps, leaves the global generator exactly as it was; and every number input of every
    tab has a minimum and a maximum."""
    before = torch.get_rng_state()
    for page, (key, acts) in PAGES.items():
        at = open_page(page, timeout=240)
        acts = dict(acts)
        for tab in (_tabs(page) if key is not None else [None]):
            if key is not None:
                at.session_state[key] = tab
                at.run()
                assert_clean(at)
            if tab in acts:
                acts[tab](at)
                assert_clean(at)
            for w in at.number_input:
                assert w.min is not None and w.max is not None, (page, tab, w.label)
            for label, largest, bound in BOUNDED.get((page, tab), []):
                assert largest(at) <= bound, (page, label, largest(at), bound)
    assert torch.equal(torch.get_rng_state(), before), "a page drew from or seeded torch's global generator"


def _slider_max(label):
    return lambda at: next(s for s in at.slider if s.label == label).max


def _options_max(label):
    return lambda at: max(float(o) for o in next(s for s in at.select_slider if s.label == label).options)


def _rbm_digits_kept(at) -> int:
    """Digits the RBM chains keep over their frames at the largest chain count: the chain runs on and keeps a window
    of limits.frames_for(chains) frames (pages/rbm_tabs/chains.py)."""
    n = int(_options_max("Chains")(at))
    return n * limits.frames_for(n)


def _tabs(page: str) -> list[str]:
    """The tab labels of a page: its TABS = [...] line (the Langevin lab's are written in its url.bound(st.tabs, ...) call)."""
    src = (ROOT / page).read_text()
    m = re.search(r"^TABS = (\[.*\])", src, re.M) or re.search(r"st\.tabs, (\[.*?\])", src)
    return ast.literal_eval(m.group(1))

BOUNDED = {  # (page, tab) -> (what, its largest setting, the genlib.limits bound it must keep)
    ("pages/vae.py", "Sample"): [("prior samples", lambda at: next(s for s in at.slider if s.key == "vae-sn").max,
                                  limits.MAX_SAMPLES)],
    ("pages/ebm.py", "Langevin chains"): [("chains", _options_max("Chains"), limits.MAX_SAMPLES),
                                          ("chain steps", _slider_max("Total steps"), limits.MAX_CHAIN_STEPS)],
    ("pages/rbm.py", "Gibbs chains"): [("chains", _options_max("Chains"), limits.MAX_SAMPLES),
                                       ("digits kept over the frames", _rbm_digits_kept, limits.MAX_FRAME_DIGITS)],
    ("pages/rbm.py", "Likelihood"): [("AIS runs x temperatures", lambda at: 100 * 14_500, limits.MAX_AIS_WORK)],
}


@pytest.fixture
def deferred_downloads(monkeypatch):
    """file id -> (callable, file name) of every download button with data made at the click."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    seen, real = {}, MediaFileManager.add_deferred

    def spy(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        fid = real(self, data_callable, mimetype, coordinates, file_name, **kw)
        seen[fid] = (data_callable, file_name)
        return fid

    monkeypatch.setattr(MediaFileManager, "add_deferred", spy)
    return seen


def saved(at, downloads) -> tuple[str, checkpoints.Checkpoint]:
    """(file name, checkpoint) of the page's "Save checkpoint" button, as a click would download it."""
    dl = next(b for b in at.get("download_button") if b.proto.label == "Save checkpoint")
    make, name = downloads[dl.proto.deferred_file_id]
    return name, checkpoints.from_bytes(make(), name)


@pytest.mark.parametrize("page,kind", [("pages/autoencoder.py", "ae"), ("pages/vae.py", "vae"),
                                       ("pages/ebm.py", "ebm"), ("pages/rbm.py", "rbm")])
def test_save_checkpoint_holds_the_model_shown_with_its_step_count_right_after_reset(page, kind, deferred_downloads):
    at = open_page(page, timeout=240)
    at.button(key=f"{kind}-step").click().run()
    assert_clean(at)
    tr = at.session_state[kind]["trainer"]
    name, ck = saved(at, deferred_downloads)
    assert tr.step_count > 0 and name.endswith(f"-step{tr.step_count}.safetensors") and ck.meta["steps"] == tr.step_count
    at.button(key=f"{kind}-reset").click().run()
    assert_clean(at)
    tr = at.session_state[kind]["trainer"]
    name, ck = saved(at, deferred_downloads)
    assert tr.step_count == 0 and name.startswith(f"{kind}-") and name.endswith("-step0.safetensors"), name
    assert ck.meta["steps"] == 0
    weights = dict(models.build(ck).named_parameters())  # (buffers such as the AE's code statistics are fitted
    assert all(torch.equal(p, weights[k]) for k, p in tr.model.named_parameters())  # to the weights at the save)
    if kind == "ae":
        assert name == "ae-code2-step0.safetensors"


# ---- checkpoints genlib accepts, shown whatever their settings; new uploads; untrusted names ------------------------

def genlib_checkpoint(kind: str, **config) -> bytes:
    """A checkpoint as genlib's own writer makes it, of a model of `kind` with these settings."""
    return checkpoints.to_bytes(models.create(kind, models.KINDS[kind].config_cls(**config), seed=0))


def upload(at, key: str, name: str, data: bytes):
    at.file_uploader(key=key).upload(name, data)
    at.run()
    assert_clean(at)
    return at


def read_only(at, key: str) -> str | None:
    """The text of the disabled box a page shows for a setting its control cannot offer (pages/views/url.py)."""
    boxes = [t for t in at.text_input if t.key and t.key.startswith(f"{key}-readonly")]
    return boxes[0].value if boxes else None


@pytest.mark.parametrize("code,hidden", [(100, (16,)), (1, (16,))])
def test_an_autoencoder_with_a_code_size_the_slider_does_not_offer_is_used_and_shown_read_only(code, hidden):
    at = upload(open_page("pages/autoencoder.py"), "ae-upload", "odd.safetensors",
                genlib_checkpoint("ae", code_size=code, hidden=hidden))
    button(at, "Use this checkpoint").click().run()
    assert_clean(at)
    model = at.session_state["ae"]["trainer"].model
    assert (model.config.code_size, model.config.hidden) == (code, hidden)
    assert read_only(at, "ae-code") == str(code)  # the slider offers 2 to 64: the model's value as text instead
    assert any(f"code size {code} (layers 784–16–{code})" in c.value for c in at.caption)
    button(at, "Step").click().run()  # the page works on with the file's model
    assert_clean(at)
    assert at.session_state["ae"]["trainer"].step_count > 0 and at.session_state["ae"]["trainer"].model is model
    button(at, "Change Code size").click().run()  # the control comes back, with a new run of its default size
    assert_clean(at)
    assert read_only(at, "ae-code") is None and at.slider(key="ae-code").value == 2
    assert at.session_state["ae"]["trainer"].model.config.code_size == 2


def test_a_vae_with_a_large_beta_and_warm_up_is_shown_and_keeps_its_settings():
    at = open_page("pages/vae.py", timeout=240)
    upload(at, "vae-ckpt-upload", "beta10.safetensors",
           genlib_checkpoint("vae", latent=2, hidden=(32,), beta=10.0, warmup_steps=50_000))
    at.run()
    assert_clean(at)
    model = at.session_state["vae"]["trainer"].model
    assert model.config.beta == 10.0 and model.config.warmup_steps == 50_000  # not clamped to what a slider offers
    assert read_only(at, "vae-beta") == "10.0"
    assert at.number_input(key="vae-warmup").value == 50_000  # in range: limits.CONFIG_BOUNDS["warmup_steps"]
    assert not any("differ from this run" in i.value for i in at.info)  # the sidebar shows this very model


def test_every_new_upload_replaces_the_model_even_with_the_same_settings():
    """Two different files whose configs are equal: the second one is used (pages compare uploads, not configs)."""
    first = genlib_checkpoint("rbm", n_hidden=16)
    second = checkpoints.to_bytes(models.create("rbm", models.KINDS["rbm"].config_cls(n_hidden=16), seed=1))
    at = upload(open_page("pages/rbm.py", timeout=240), "rbm-up", "first.safetensors", first)
    w1 = at.session_state["rbm"]["trainer"].model.weight.detach().clone()
    assert torch.equal(w1, models.from_bytes(first).weight)
    upload(at, "rbm-up", "second.safetensors", second)
    w2 = at.session_state["rbm"]["trainer"].model.weight.detach()
    assert torch.equal(w2, models.from_bytes(second).weight) and not torch.equal(w1, w2)
    assert at.session_state["rbm"]["source"] == "uploaded second.safetensors"


MARKDOWN_NAME = "**bold** [x](http://127.0.0.1:9/a) ![t](http://127.0.0.1:9/track.png) $x$ :red[y]"


def test_names_and_metadata_from_a_file_are_shown_as_text_not_markdown():
    """The file's name and its metadata (here an unknown kind) in an error box, and a name in the VAE's caption: the
    markdown Streamlit receives escapes every punctuation character, so the reader sees exactly the text."""
    evil = json.dumps({"format": 1, "kind": "![k](http://127.0.0.1:9/kind.png)", "config": {},
                       "sha256": checkpoints._digest({"weight": torch.zeros(1)})})
    from safetensors.torch import save

    at = upload(open_page("pages/rbm.py", timeout=240), "rbm-up", MARKDOWN_NAME + ".safetensors",
                save({"weight": torch.zeros(1)}, metadata={"genlib": evil}))
    body = next(e.value for e in at.error if "Could not open" in shown_text(e.value))
    assert shown_text(body).startswith(f"Could not open {MARKDOWN_NAME}.safetensors: ")
    assert "![k](http://127.0.0.1:9/kind.png)" in shown_text(body)
    assert not re.search(r"(?<!\\)[*\[\]()!$:]", body)  # no markdown character left unescaped

    at = open_page("pages/vae.py", timeout=240)
    upload(at, "vae-ckpt-upload", MARKDOWN_NAME + ".safetensors", genlib_checkpoint("vae", latent=2, hidden=(32,)))
    at.run()
    note = next(c.value for c in at.caption if "These show the model in use" in c.value)
    assert f"(uploaded {MARKDOWN_NAME}.safetensors)" in shown_text(note)
    assert "**bold**" not in note and "![t]" not in note


def test_a_file_name_with_a_double_slash_is_named_once_as_given():
    """The library normalises a path (a//b -> a/b) in the errors it finds after reading the header (here the config's
    bound): the page names the upload as the browser gave it, once."""
    at = upload(open_page("pages/rbm.py", timeout=240), "rbm-up", "a//b.safetensors",
                crafted_checkpoint("rbm", {"n_hidden": 1_000_000}, signed=True))
    msg = next(e for e in errors(at) if "Could not open" in e)
    assert msg.startswith("Could not open a//b.safetensors: ") and msg.count("b.safetensors") == 1, msg


def test_a_checkpoint_with_a_nan_weight_is_refused_on_the_page_naming_the_tensor():
    """A well-formed file (genlib's own writer) with one NaN weight: the VAE page refuses it with the tensor's name and
    keeps its model (before, it was used: the Clusters tab then showed a JavaScript error, Start blamed the learning
    rate)."""
    model = models.create("vae", models.KINDS["vae"].config_cls(latent=2, hidden=(32,)), seed=0)
    name, weight = next(iter(model.named_parameters()))
    with torch.no_grad():
        weight.view(-1)[0] = float("nan")
    at = open_page("pages/vae.py", timeout=240)
    before = at.session_state["vae"]["trainer"].model
    upload(at, "vae-ckpt-upload", "nan.safetensors", checkpoints.to_bytes(model))
    assert any(f"Could not open nan.safetensors: tensor '{name}' holds 1 NaN value" in e for e in errors(at)), errors(at)
    assert at.session_state["vae"]["trainer"].model is before

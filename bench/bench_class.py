"""A class on one server: N live browser sessions at once, the server's cost and the browsers' apart.

    .venv/bin/python bench/bench_class.py [--sessions 5 10 20 30] [--seconds 60] [--url URL [--server-pid PID]]
        [--profile [--gil]] [--env KEY=VALUE ...] [--cooldown 60] [--replicas N] [--virtual [--browsers K]]
        [--no-warmup] [--one-core]

Per N: a fresh `streamlit run app.py` on loopback (or --url, a server already running, e.g. replicas behind a
proxy), one Chromium with N browser contexts playing a class's mix of live views scaled to N (of 30: 9 Langevin lab playing,
8 RBM Gibbs chains playing, 8 VAE latent-grid pointer moves, 5 Autoencoder training live), each for --seconds
once its page is open; then every context closes. Bounded in count and time, stops by itself. Prints one table
row per N; nothing is asserted. --profile runs the venv's py-spy (`pip install py-spy`, not in requirements.txt)
against the server (record + dump) into test-artifacts/ and prints where its time goes. Results: bench/CLASS_PROFILE.md.
--replicas N: per N sessions, the replicated set-up instead (deploy/classroom.py: N replicas of the app behind nginx
on loopback, fresh per row), measured through the proxy; server CPU and RSS are those of the replicas and nginx
summed; --profile then profiles replica 0.
--virtual: the students' browsers emulated at the protocol level (bench/stclient.py), as if each ran on the student's
own laptop, except --browsers K real Chromium sessions (default 4, one of each kind) measuring what a student sees:
on this 2-core machine one Chromium rendering 30 pages takes both cores by itself.
Before the load, a warm-up opens each page once per replica (twice) and waits 60 s: "idle" RSS is that of a server
that has served its pages, the figure memory should come back to 60 s (--cooldown) after the sessions close.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import itertools
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_live import PROFILE, counter_js
from bench.stclient import Student
from deploy.classroom import MALLOC_ARENA_MAX, Classroom
from tools.served import (
    _SETTLED,
    _WATCH,
    IDLE,
    free_port,
    launch_chromium,
    start_server,
    stop_server,
)

MIX = (("langevin", 9), ("gibbs", 8), ("vae", 8), ("ae", 5))  # a class of 30 students
TICK = os.sysconf("SC_CLK_TCK")
ART = ROOT / "test-artifacts"


def scaled_mix(n: int) -> list[str]:
    """The kinds of n sessions in a class's proportions (largest remainders), interleaved so each kind starts early."""
    exact = [(kind, n * k / 30) for kind, k in MIX]
    counts = {kind: int(x) for kind, x in exact}
    for kind, x in sorted(exact, key=lambda e: e[1] - int(e[1]), reverse=True)[:n - sum(counts.values())]:
        counts[kind] += 1
    queues = {kind: [kind] * c for kind, c in counts.items()}
    out = []
    while any(queues.values()):
        out += [q.pop() for q in queues.values() if q]
    return out


# ---- CPU and memory from /proc (no psutil in the venv) ------------------------------------------------------------

def _stat(pid: int) -> tuple[int, float, str] | None:
    """(parent pid, CPU seconds, command name) of a process, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK, raw[raw.find("(") + 1:raw.rfind(")")]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat: others' load shows here too."""
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK, sum(v) / TICK


def rss_mb(pid: int) -> float:
    try:
        return int(re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text()).group(1)) / 1024
    except (OSError, AttributeError):
        return float("nan")


class Sampler:
    """Every second: CPU % of the server's process tree, and of this process tree without the server (Playwright's
    driver and Chromium; this Python; py-spy with --profile), and the server's RSS."""

    def __init__(self, server_pid: int | list[int] | None):
        # one server, or (--replicas) every process of the set-up, replicas and nginx: CPU and RSS summed over them
        self.server_pids = set(server_pid if isinstance(server_pid, list) else [server_pid] if server_pid else [])
        self.prev, self.rows = {}, []

    def rss(self) -> float:
        return sum(rss_mb(p) for p in self.server_pids) if self.server_pids else float("nan")

    def tree_cpu(self) -> dict[int, tuple[float, bool]]:
        stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := _stat(int(p)))}
        side, todo = {}, [(os.getpid(), False)]
        while todo:  # this process's descendants, each marked as in the server's subtree or not
            pid, server = todo.pop()
            server = server or pid in self.server_pids
            side[pid] = (stats[pid][1], server, stats[pid][2]) if pid in stats else (0.0, server, "")
            todo += [(c, server) for c, s in stats.items() if s[0] == pid]
        for spid in [q for q in self.server_pids if q not in side and q in stats]:  # --url with --server-pid
            side[spid] = (stats[spid][1], True, stats[spid][2])
        return side

    async def run(self) -> None:
        t_prev, m_prev = time.monotonic(), machine_busy()
        self.prev = self.tree_cpu()
        while True:
            await asyncio.sleep(1.0)
            now, t = self.tree_cpu(), time.monotonic()
            used = collections.Counter()
            for pid, (cpu, server, name) in now.items():
                key = ("server" if server else "self" if pid == os.getpid() else "pyspy" if name == "py-spy" else
                       "browser")
                used[key] += cpu - self.prev.get(pid, (0.0,))[0]
            dt, self.prev, t_prev, m = t - t_prev, now, t, machine_busy()
            used["machine"], m_prev = (m[0] - m_prev[0]) * dt / max(m[1] - m_prev[1], 1e-9) * os.cpu_count(), m
            self.rows.append({k: 100 * used[k] / dt for k in ("server", "browser", "self", "pyspy", "machine")}
                             | {"rss": self.rss(), "t": t})


# ---- the sessions -------------------------------------------------------------------------------------------------

async def wait_idle(page, timeout=600_000):
    """harness.wait_idle for Playwright's async API."""
    await page.evaluate(_WATCH, True)
    await page.wait_for_function(_SETTLED, arg=[IDLE, 250], timeout=timeout, polling=100)


def body_number(pattern: str) -> str:
    return f"() => {{ const m = document.body.innerText.match(/{pattern}/); return m ? +m[1] : -1; }}"


# the live views' component keys (views.live)
LIVE = {"langevin": "lv-s-live", "gibbs": "rbm-chain-live", "ae": "train-live"}
# frames shown by a chain view's player: data-shown of its .genlib-live, bench_live's counter
SHOWN = {kind: counter_js("shown", LIVE[kind]) for kind in ("langevin", "gibbs")}
AE_STEP, AE_TICK = body_number(r"step ([0-9]+) ·"), body_number(r"last tick ([0-9]+) ms")
# count every change of the Autoencoder's step counter in the browser (ticks come faster than we poll)
AE_WATCH = """() => { window.__ticks = []; let last = null; setInterval(() => {
  const m = document.body.innerText.match(/step ([0-9]+) ·/);
  if (m && m[1] !== last) { last = m[1]; window.__ticks.push(performance.now()); } }, 50); }"""
VAE_Z0 = r"() => { const m = document.body.innerText.match(/z\[0\] = (-?[0-9.]+)/); return m ? m[1] : null; }"


async def play(kind: str, page, url: str, seconds: float, r: dict) -> None:
    t0 = time.monotonic()
    path = {"langevin": "/langevin", "gibbs": "/rbm", "vae": "/vae", "ae": "/autoencoder"}[kind]
    await page.goto(url + path, timeout=600_000)
    await wait_idle(page)
    r["open_s"] = time.monotonic() - t0
    play_btn = page.locator("button:visible").filter(has_text=re.compile("Play$")).first
    replay_btn = page.locator("button:visible").filter(has_text=re.compile("Replay$")).first
    if kind == "gibbs":
        await page.get_by_role("tab", name="Gibbs chains", exact=True).click()
        await page.wait_for_function(f"() => ({SHOWN[kind]})() >= 0", timeout=120_000)  # its player is there
    if kind in ("langevin", "gibbs"):
        await play_btn.click()
    if kind == "ae":
        await page.get_by_role("button", name=re.compile("Start")).click()
        await page.evaluate(AE_WATCH)
    if kind == "vae":
        await page.get_by_role("tab", name="Latent grid", exact=True).click()
        await page.wait_for_function(VAE_Z0, timeout=120_000)
        thumb = page.locator("[data-testid='stSlider']").filter(has_text="pointer z[0]").locator("input[type='range']")
        await thumb.focus()
    counter = {"langevin": SHOWN["langevin"], "gibbs": SHOWN["gibbs"], "ae": AE_STEP}.get(kind)
    start, c0, end = time.monotonic(), await page.evaluate(counter) if counter else 0, time.monotonic() + seconds
    r["t_play"], r["t_end"] = start, end
    r["lat"], r["tick_ms"], moves = [], [], 0
    shown, last = 0, c0
    while time.monotonic() < end:
        if kind == "vae":  # one pointer step, timed until the decoded caption shows the new z[0]; then 1 s of looking
            before = await page.evaluate(VAE_Z0)
            key = "ArrowRight" if (moves // 20) % 2 == 0 else "ArrowLeft"
            t = time.monotonic()
            await page.keyboard.press(key)
            try:  # the slider's step: any new value of z[0] in the caption is the answer
                await page.wait_for_function(f"() => ({VAE_Z0})() !== '{before}'",
                                             timeout=max(1000, 1000 * (end - t) + 30_000))
                r["lat"].append(time.monotonic() - t)
            except Exception:  # noqa: BLE001 - a move never answered counts as lost, not as a latency
                r["lost"] = r.get("lost", 0) + 1
                break
            moves += 1
            await asyncio.sleep(1.0)
        else:
            await asyncio.sleep(1.0)
            if kind == "ae" and (ms := await page.evaluate(AE_TICK)) >= 0:
                r["tick_ms"].append(ms)
            if kind in ("langevin", "gibbs"):
                # a chain that reached its last frame stops (Replay, or the old code's Play button, is back): a
                # student replays it (or restarts it); count frames across that, never a negative difference
                v = await page.evaluate(counter)
                moved = v != last
                shown, last = shown + (v - last if v >= last else max(v, 0)), v
                if not moved and (await replay_btn.is_visible() or await play_btn.is_visible()):
                    try:
                        if await replay_btn.is_visible():
                            await replay_btn.click(timeout=5_000)
                        else:
                            await page.locator("button:visible").filter(has_text=re.compile("Restart$")).first.click(
                                timeout=5_000)
                            await play_btn.click(timeout=5_000)
                        r["restarts"] = r.get("restarts", 0) + 1
                    except Exception:  # noqa: BLE001 - a busy page: try again next second
                        pass
    elapsed = time.monotonic() - start
    if counter and kind in ("langevin", "gibbs"):
        v = await page.evaluate(counter)
        r["rate"] = (shown + (v - last if v >= last else max(v, 0))) / elapsed
    elif counter:
        r["rate"] = (await page.evaluate(counter) - c0) / elapsed
    if kind == "ae":
        ticks = await page.evaluate("() => window.__ticks")
        r["ae_gap"] = [(b - a) / 1000 for a, b in itertools.pairwise(ticks)]
    r["exceptions"] = await page.locator("[data-testid='stException']").count()
    # a live view that paused itself (hidden tab, no input: views.live) measured nothing: count it as an error
    paused = await page.evaluate("() => [...document.querySelectorAll('.genlib-live')].map(e => e.dataset.mode)"
                                 ".filter(m => m === 'idle' || m === 'hidden')")
    if paused:
        r["error"] = f"the live view paused itself ({', '.join(paused)}) during the measurement"


async def virtual(kind: str, url: str, seconds: float, r: dict) -> None:
    """`play` for a session whose browser is emulated at the protocol level (bench/stclient.py): the same actions and
    the same figures, read from the messages instead of the rendered page."""
    s = Student(url)
    try:
        t0 = time.monotonic()
        await s.connect()
        await s.open(*{"langevin": ("langevin",), "gibbs": ("rbm", "rbm-tab=Gibbs+chains"),
                       "vae": ("vae", "vae-tab=Latent+grid"), "ae": ("autoencoder",)}[kind])
        r["open_s"] = time.monotonic() - t0
        start = r["t_play"] = time.monotonic()
        end = r["t_end"] = start + seconds
        if kind in ("langevin", "gibbs"):  # the chains play; at their end a student replays them
            await s.click("Play$")
            while time.monotonic() < end:
                await s.live(LIVE[kind], end)
                if time.monotonic() < end:  # it stopped at its last frame: Replay (or Restart, Play)
                    if s.has_button("Replay$"):
                        await s.click("Replay$")
                    else:
                        await s.click("Restart$")
                        await s.click("Play$")
                    r["restarts"] = r.get("restarts", 0) + 1
            shown = s.views[LIVE[kind]].shown
            r["rate"] = shown / (time.monotonic() - start)
        elif kind == "ae":
            await s.click("Start")
            step, c0, times, r["tick_ms"] = s.text, s.text(r"step ([0-9]+) ·"), [], []

            def answer():  # each answer: the server's tick time, and when the step counter moved
                if (ms := step(r"last tick ([0-9]+) ms")) is not None:
                    r["tick_ms"].append(float(ms))
                times.append((time.monotonic(), step(r"step ([0-9]+) ·")))
            await s.live(LIVE["ae"], end, on_answer=answer)
            moved = [t for (t, v), (_, u) in itertools.pairwise([(start, c0), *times]) if v != u]
            r["ae_gap"] = [b - a for a, b in itertools.pairwise(moved)]
            r["rate"] = (int(step(r"step ([0-9]+) ·") or 0) - int(c0 or 0)) / (time.monotonic() - start)
        elif kind == "vae":
            r["lat"], x, lo, hi = [], 0.0, s.sliders["vae-px"].min, s.sliders["vae-px"].max
            moves = 0
            while time.monotonic() < end:
                x = round(x + (0.01 if (moves // 20) % 2 == 0 else -0.01), 2)
                r["lat"].append(await s.slide("vae-px", min(max(x, lo), hi)))
                if s.text(r"z\[0\] = (-?[0-9.]+)") != f"{x:.2f}":
                    r["lost"] = r.get("lost", 0) + 1
                moves += 1
                await asyncio.sleep(1.0)
        r["exceptions"] = s.exceptions
    except Exception as e:  # noqa: BLE001 - a session that breaks is counted and named, the others go on
        r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120] if str(e) else ''}"
    finally:
        await s.close()


async def session(browser, kind, url, seconds, r):
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(180_000)  # a loaded server answers a click in minutes, not never
    try:
        await play(kind, await ctx.new_page(), url, seconds, r)
    except Exception as e:  # noqa: BLE001 - a session that breaks is counted and named, the others go on
        r["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
    finally:
        await ctx.close()


# ---- one N --------------------------------------------------------------------------------------------------------

def med(xs, f=statistics.median):
    return f(xs) if xs else float("nan")


async def load(p, n, args, url, pid, sampler, kinds, results) -> tuple[float, float]:
    """N sessions against url while sampling; py-spy on pid with --profile. Returns (wall seconds, RSS after)."""
    sampling = asyncio.create_task(sampler.run())
    n_real = min(args.browsers, n) if args.virtual else n  # real Chromium sessions: the first of the interleaved mix
    browser = await launch_chromium(p) if n_real else None
    spies, spy = [], Path(sys.executable).parent / "py-spy"
    t0 = time.monotonic()
    for i, r in enumerate(results):
        r["client"] = "browser" if i < n_real else "virtual"
    tasks = [asyncio.create_task(session(browser, k, url, args.seconds, r) if r["client"] == "browser" else
                                 virtual(k, url, args.seconds, r)) for k, r in zip(kinds, results)]
    if args.profile and pid:  # steady state: once every page is open, for half the play time
        ART.mkdir(exist_ok=True)
        while not all("open_s" in r or "error" in r for r in results) and not all(t.done() for t in tasks):
            await asyncio.sleep(0.5)
        record = ["record", "--pid", str(pid), "--rate", "50", "--format", "raw", "--nonblocking",
                  *(["--gil"] if args.gil else []), "--duration", str(max(5, int(args.seconds / 2))),
                  "-o", str(ART / f"class-profile-n{n}.txt")]
        spies.append(await asyncio.create_subprocess_exec(spy, *record, stdout=subprocess.DEVNULL,
                                                          stderr=subprocess.STDOUT))
        await asyncio.sleep(2)
        dump = await asyncio.create_subprocess_exec(spy, "dump", "--nonblocking", "--pid", str(pid),
                                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        (ART / f"class-dump-n{n}.txt").write_bytes((await asyncio.wait_for(dump.communicate(), 60))[0])
    _, late = await asyncio.wait(tasks, timeout=args.seconds + 900)  # bounded: 15 min to open at most
    for t, r in zip(tasks, results):
        if t in late:
            t.cancel()
            r.setdefault("error", "not done within the time bound")
    wall = time.monotonic() - t0
    if browser is not None:
        await browser.close()
    for s in spies:
        await asyncio.wait_for(s.wait(), 120)
    await asyncio.sleep(args.cooldown)  # sessions closed: does the server give its memory back?
    after_rss = sampler.rss()
    sampling.cancel()
    return wall, after_rss


async def warm_up(url: str, visits: int, sampler: Sampler) -> float:
    """Before the class, as a teacher trying the app: one short session of each kind (5 s: open the page, play, move,
    train), `visits` times (every replica serves its pages once), then close and wait until the server dropped
    those sessions and swept (server.disconnectedSessionTTL 30 s + the 20 s gc sweep). Returns the RSS then: the
    idle figure of a server that has served its pages, the one memory should come back to after the class."""
    for _ in range(visits):
        await asyncio.gather(*(virtual(kind, url, 5, {"kind": kind}) for kind, _ in MIX))
    await asyncio.sleep(WARM_WAIT)
    return sampler.rss()


WARM_WAIT = 60  # seconds


async def run_n(p, n: int, args) -> dict:
    env = {"MALLOC_ARENA_MAX": MALLOC_ARENA_MAX, **dict(e.split("=", 1) for e in args.env)}  # as run.sh starts it
    classroom = Classroom(args.replicas, port=free_port(), listen="127.0.0.1", env=env).start() if args.replicas else None
    proc, url = ((None, args.url) if args.url else (None, classroom.url) if classroom else start_server(env=env))
    pids = classroom.pids if classroom else [proc.pid] if proc else [args.server_pid] if args.server_pid else []
    pid = pids[0] if pids else None  # the one py-spy profiles (replica 0 with --replicas)
    if args.one_core and proc:  # every thread of the server, and those it starts later, on core 0: a 1-CPU replica
        subprocess.run(["taskset", "-a", "-p", "-c", "0", str(proc.pid)], check=True, capture_output=True)
    sampler, kinds = Sampler(pids), scaled_mix(n)
    idle_rss = await warm_up(url, 2 * len(pids), sampler) if args.warmup else sampler.rss()
    results = [{"kind": k} for k in kinds]
    try:
        wall, after_rss = await load(p, n, args, url, pid, sampler, kinds, results)
    finally:  # the server stops whatever happened to the sessions
        log = ""
        if proc:
            proc.log.seek(0)
            log = proc.log.read().decode(errors="replace")
            stop_server(proc)
        if classroom:
            classroom.stop()
            log = "".join(classroom.replica_log(i) for i in range(classroom.n))
    # CPU figures over the steady state: every session open and playing (not the opening, not the cooldown)
    lo = max((r["t_play"] for r in results if "t_play" in r), default=0)
    hi = min((r["t_end"] for r in results if "t_end" in r), default=float("inf"))
    rows = [r for r in sampler.rows if lo <= r["t"] <= hi] or sampler.rows
    by = collections.defaultdict(list)
    for r in results:
        by[r["kind"]].append(r)
    tb_kinds = collections.Counter(re.findall(r"^(\w+(?:Error|Exception)):", log, re.MULTILINE))
    return {
        "n": n, "wall": wall, "mix": {k: len(v) for k, v in by.items()}, "results": results,
        "open": [r["open_s"] for r in results if "open_s" in r],
        "langevin": [r["rate"] for r in by["langevin"] if "rate" in r],
        "gibbs": [r["rate"] for r in by["gibbs"] if "rate" in r],
        "vae": [x for r in by["vae"] for x in r.get("lat", [])],
        "ae_ms": [x for r in by["ae"] for x in r.get("tick_ms", [])],
        "ae_gap": [x for r in by["ae"] for x in r.get("ae_gap", [])],
        "cpu": [r["server"] for r in rows], "rss": [r["rss"] for r in sampler.rows], "idle_rss": idle_rss, "after_rss": after_rss,
        "browser": [r["browser"] for r in rows], "self": [r["self"] for r in rows], "machine": [r["machine"] for r in rows],
        "pyspy": [r["pyspy"] for r in rows],
        "tracebacks": log.count("Traceback (most recent call last)"), "tb_kinds": dict(tb_kinds),
        "errors": [f"{r['kind']}: {r['error']}" for r in results if "error" in r],
        "lost": sum(r.get("lost", 0) for r in results), "page_exc": sum(r.get("exceptions", 0) for r in results),
    }


# where the server's time goes: each sampled stack goes to the first category that matches it (inclusive); the chain
# views' own categories (the chains' computation, the frames' data) and Streamlit's are bench_live's
CATEGORIES = (
    ("idle (waiting on a lock, a socket, a queue)",  # PollingPathWatcher: a time.sleep py-spy takes for work
     (r"(Condition\.wait|select|Queue\.get|Event\.wait|_worker) \([^;]*$|PollingPathWatcher\._schedule")),
    ("gc.collect after every script run (runner.postScriptGC)", r"_on_script_finished"),
    ("imports", r"importlib\._bootstrap"),
    *PROFILE[:2],
    ("plotly: figure building + JSON (st.plotly_chart)", r"plotly|plotly_chart"),
    ("images: PIL / numpy / JPEG-PNG encoding (st.image, viz)", r"PIL/|image_to_url|marshall_images|png_bytes|viz\.py"),
    ("torch / model work (training, the latent map, the rest of genlib)", r"torch/|genlib/"),
    *PROFILE[2:],
)


def summarise_profile(path: Path, top: int = 15, cpu: float = float("nan"), fps: float = float("nan")) -> None:
    """Shares of py-spy's collapsed stacks: by category (CATEGORIES) and by leaf function, idle stacks apart; with
    `cpu` (the server's mean CPU, in cores) and `fps` (chain frames shown per second by all sessions), each category's
    CPU ms per chain frame (the whole server's time, whatever it served, per frame: a class's cost per frame)."""
    cats, own, total = collections.Counter(), collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        c = int(count)
        cat = next((name for name, pat in CATEGORIES if re.search(pat, stack)), "other (asyncio, tornado loop, ...)")
        cats[cat] += c
        if not cat.startswith("idle"):
            total += c
            own[stack.split(";")[-1]] += c
    idle = cats.pop(CATEGORIES[0][0], 0)
    print(f"\nprofile {path.name}: {total} busy samples at 50 Hz (+ {idle} idle ones left out); shares of busy samples")
    per = 1000 * cpu / fps if fps > 0 else float("nan")
    print(f"  by category (server CPU {cpu:.2f} cores, chains {fps:.1f} frames/s in all: {per:.1f} ms per frame):",
          *(f"\n    {100 * c / total:5.1f} %  {c / total * per:6.1f} ms/frame  {f}" for f, c in cats.most_common()))
    print("  own time, top functions:", *(f"\n    {100 * c / total:5.1f} %  {f}" for f, c in own.most_common(top)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, nargs="+", default=[5, 10, 20, 30])
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--url", help="a server already running (e.g. replicas behind a proxy); no server is started")
    ap.add_argument("--server-pid", type=int, help="with --url: a server process to sample (CPU, RSS, py-spy)")
    ap.add_argument("--cooldown", type=float, default=60, help="seconds after the sessions close to read RSS again")
    ap.add_argument("--one-core", action="store_true",
                    help="pin the server to one core (taskset): what one replica with 1 CPU holds (deploy/k8s.yaml)")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the warm-up (each page opened once, then 60 s idle): the idle RSS is then the bare "
                    "server's, before it imported torch")
    ap.add_argument("--profile", action="store_true", help="py-spy record + dump of the server into test-artifacts/")
    ap.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE",
                    help="extra environment of the server started, e.g. STREAMLIT_RUNNER_POST_SCRIPT_GC=false")
    ap.add_argument("--gil", action="store_true", help="with --profile: only the thread holding the GIL is sampled")
    ap.add_argument("--virtual", action="store_true",
                    help="emulate the students' browsers at the protocol level (bench/stclient.py: no rendering, the "
                    "load generator's CPU stays small), except --browsers real Chromium sessions")
    ap.add_argument("--browsers", type=int, default=4, metavar="K",
                    help="with --virtual: this many of the N sessions are real Chromium ones (the first of the mix: "
                    "one of each kind with K = 4)")
    ap.add_argument("--replicas", type=int, metavar="N",
                    help="per row, N replicas of the app behind nginx (deploy/classroom.py) instead of one server")
    args = ap.parse_args()
    if args.replicas is not None and (args.url or args.replicas < 1):
        ap.error("--replicas N (N >= 1) starts its own set-up: not with --url")
    from playwright.async_api import async_playwright

    async def all_n():
        async with async_playwright() as p:
            return [await run_n(p, n, args) for n in args.sessions]

    load = os.getloadavg()
    out = asyncio.run(all_n())
    if args.url:
        server = args.url
    elif args.replicas:
        server = f"{args.replicas} replicas behind nginx, fresh per N (CPU, RSS: replicas + nginx summed)"
    else:
        server = "fresh streamlit run app.py per N" + (", pinned to one core" if args.one_core else "")
    clients = f"virtual students (bench/stclient.py), {args.browsers} real Chromium" if args.virtual else "Chromium"
    print(f"machine: {os.cpu_count()} CPU cores, load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"{args.seconds:.0f} s per session; server {server}; clients: {clients} {' '.join(args.env)}")
    print(f"{'N':>3} {'open s max/med':>15} {'Lgv f/s':>8} {'Gibbs f/s':>9} {'VAE s med/max':>14} "
          f"{'AE tick ms':>10} {'AE gap s':>8} {'srv CPU%':>8} {'RSS MB idle/max/after':>20} {'tb':>3} "
          f"{'load CPU% brw/py':>16} {'wall s':>6}")
    for o in out:
        print(f"{o['n']:>3} {med(o['open'], max):7.1f}/{med(o['open']):<7.1f} {med(o['langevin']):8.2f} "
              f"{med(o['gibbs']):9.2f} {med(o['vae']):6.2f}/{med(o['vae'], max):<7.2f} {med(o['ae_ms']):10.0f} "
              f"{med(o['ae_gap']):8.2f} {med(o['cpu'], statistics.fmean):8.0f} "
              f"{o['idle_rss']:6.0f}/{med(o['rss'], max):6.0f}/{o['after_rss']:<6.0f} {o['tracebacks']:>3} "
              f"{med(o['browser'], statistics.fmean):8.0f}/{med(o['self'], statistics.fmean):<7.0f} {o['wall']:6.0f}")
    for o in out:
        print(f"N={o['n']}: server CPU % max {med(o['cpu'], max):.0f}; machine busy (all processes, of "
              f"{100 * os.cpu_count()} %) mean {med(o['machine'], statistics.fmean):.0f}; mix {o['mix']}; VAE moves timed {len(o['vae'])}, lost {o['lost']}; "
              f"page exceptions {o['page_exc']}; server tracebacks {o['tb_kinds'] or 0}; "
              f"session errors {o['errors'] or 'none'}")
    for o in out:  # the real browsers apart from the emulated ones (--virtual)
        for client in sorted({r["client"] for r in o["results"]}):
            rs = [r for r in o["results"] if r["client"] == client]
            rate = {k: [r["rate"] for r in rs if r["kind"] == k and "rate" in r] for k in ("langevin", "gibbs")}
            opened, lat = [r["open_s"] for r in rs if "open_s" in r], [x for r in rs for x in r.get("lat", [])]
            gaps = [x for r in rs for x in r.get("ae_gap", [])]
            print(f"N={o['n']} {client} sessions ({len(rs)}): open s median {med(opened):.1f} max {med(opened, max):.1f}"
                  f"; Langevin f/s {med(rate['langevin']):.2f} (min {med(rate['langevin'], min):.2f}); Gibbs f/s "
                  f"{med(rate['gibbs']):.2f} (min {med(rate['gibbs'], min):.2f}); VAE s median {med(lat):.2f} max "
                  f"{med(lat, max):.2f}; AE gap s median {med(gaps):.2f} max {med(gaps, max):.2f}; restarts "
                  f"{sum(r.get('restarts', 0) for r in rs)}")
    if args.profile:
        for o in out:
            if (path := ART / f"class-profile-n{o['n']}.txt").exists():
                summarise_profile(path, cpu=med(o["cpu"], statistics.fmean) / 100, fps=sum(o["langevin"] + o["gibbs"]))
                print(f"  the load generator meanwhile: py-spy {med(o['pyspy'], statistics.fmean):.0f} % of a core, "
                      f"browsers {med(o['browser'], statistics.fmean):.0f} %, this Python "
                      f"{med(o['self'], statistics.fmean):.0f} %")


if __name__ == "__main__":
    main()

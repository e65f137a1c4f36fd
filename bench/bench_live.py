"""Per-frame cost of the live chain views with one real browser: frames per second the browser shows, and the
server's CPU seconds per frame shown.

    .venv/bin/python bench/bench_live.py [--views langevin rbm] [--seconds 20] [--repeat 1] [--profile]

Per view and repeat: a fresh server (`streamlit run serve.py`, tools/served.py), one headless Chromium (Playwright,
/usr/bin/chromium) in a fresh context at 1400 x 900, the view opened with its default settings, a few seconds paused
(the server's idle CPU), then Play for --seconds:
  langevin  /langevin, tab "Samplers" (300 chains, ULA + MALA, 5 steps per frame), Play
  rbm       /rbm, tab "Gibbs chains" (rbm-500, 36 chains, 1 Gibbs step per frame), Play
The browser's frame counter is read every 0.5 s (`shown_js`: the `data-shown` attribute of the view's player: an
element with class "genlib-live", or the flipbook's ".flipbook"); a counter that falls back (the player re-mounted)
counts from 0 again. Only playing time is measured, from the third frame shown on: a chain that reached its last
frame (the Play button back: the RBM's 200 frames at 10 frames/s end within 20 s) closes the window's segment, is
restarted and played on, as a student would, and the window goes on in a new segment (the restarts are counted; the
restart's own cost is left out). Server CPU is utime + stime of the server's process tree from /proc/<pid>/stat
over the same segments, divided by the frames the browser showed in them. The load generator's CPU
(Chromium's processes; Playwright's driver and this script apart) is reported separately: on a 2-core machine
Chromium competes with the server for the cores, so read both, and the load average printed with them.
Nothing is asserted.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tools.served import launch_chromium, start_server, stop_server, wait_idle  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
VIEWPORT = {"width": 1400, "height": 900}
# the element whose data-shown attribute counts the frames the browser displayed: the live view's player
# (views.live: class "genlib-live", in the element container of its key) or the flipbook of the old code
COUNTER_SELECTORS = (".genlib-live[data-shown]", ".flipbook[data-shown]")


def counter_js(attr: str = "shown", key: str = "", selectors: tuple[str, ...] = COUNTER_SELECTORS) -> str:
    """A JS function giving the view's player's counter data-<attr> (data-shown: frames shown), -1 when there is
    none. With `key`, the player inside the element container of that component key first (".st-key-<key>"), else
    the first element matching a selector, in the document or else in any open shadow root. Change this (and only
    this) when the views' DOM changes."""
    sels = ([f".st-key-{key} {s}" for s in selectors] if key else []) + list(selectors)  # no quotes in them
    first = " || ".join(f"root.querySelector('{s}')" for s in sels)
    return ("() => { const find = (root) => { const e = " + first + "; if (e) return e;"
            " for (const h of root.querySelectorAll('*')) if (h.shadowRoot) { const f = find(h.shadowRoot);"
            " if (f) return f; } return null; };"
            f" const e = find(document); return e && e.dataset.{attr} !== undefined ? +e.dataset.{attr} : -1; }}")


def shown_js(key: str = "") -> str:
    return counter_js("shown", key)


# the page's own per-frame figure: the live view's status line ("server 17.4 ms per frame") or the old flipbook's
# head ("Server: 20 ms per frame"); -1 when absent
SERVER_MS_JS = ("() => { const m = document.body.innerText.match(/[Ss]erver:? ([0-9.]+) ms per frame/);"
                " return m ? +m[1] : -1; }")


# ---- CPU from /proc ----------------------------------------------------------------------------------------------

def _procs() -> dict[int, tuple[int, float, str]]:
    """pid -> (parent pid, CPU seconds utime + stime, command name) of every process."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            raw = Path(f"/proc/{p}/stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1: raw.rindex(")")]
        f = raw.rsplit(")", 1)[1].split()
        out[int(p)] = (int(f[1]), (int(f[11]) + int(f[12])) / TICK, name)
    return out


def _tree(procs, root: int) -> set[int]:
    kids, todo, seen = {}, [root], set()
    for pid, (ppid, _, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo += kids.get(pid, [])
    return seen & set(procs)


class Cpu:
    """CPU seconds so far of the server's process tree, of Chromium's processes and of the rest of this script's tree
    (Playwright's driver, this Python). Processes that exited in between are lost (counted only while alive)."""

    def __init__(self, server_pid: int):
        self.server_pid = server_pid

    def read(self) -> dict[str, float]:
        procs = _procs()
        server = _tree(procs, self.server_pid)
        mine = _tree(procs, os.getpid()) - server
        out = {"server": 0.0, "chromium": 0.0, "driver": 0.0, "pyspy": 0.0}  # py-spy: while it runs (--profile)
        for pid in server:
            out["server"] += procs[pid][1]
        for pid in mine:
            name = procs[pid][2].lower()
            out["chromium" if "chrom" in name else "pyspy" if "py-spy" in name else "driver"] += procs[pid][1]
        out["t"] = time.monotonic()
        return out


def machine_busy() -> tuple[float, float]:
    v = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK, sum(v) / TICK


# ---- the views ---------------------------------------------------------------------------------------------------

def button(page, label: str):
    return page.locator("button:visible").filter(has_text=re.compile(f"{label}$")).first


def open_langevin(page, url: str) -> None:
    page.goto(url + "/langevin", timeout=120_000)
    wait_idle(page, timeout=120_000)
    page.get_by_role("tab", name="Samplers", exact=True).click()
    wait_idle(page, timeout=120_000)


def open_rbm(page, url: str) -> None:
    page.goto(url + "/rbm", timeout=120_000)
    wait_idle(page, timeout=120_000)
    page.get_by_role("tab", name="Gibbs chains", exact=True).click()
    wait_idle(page, timeout=120_000)


# view -> (what, how to open it, the live component's key: views.live)
VIEWS = {"langevin": ("Langevin lab, Samplers tab, 300 chains (ULA + MALA, 5 steps/frame)", open_langevin, "lv-s-live"),
         "rbm": ("RBM, Gibbs chains tab (rbm-500, 36 chains, 1 step/frame)", open_rbm, "rbm-chain-live")}

# --profile: where the server's busy samples go, first match in the stack (py-spy's raw format: "a;b;c N"), inclusive
PROFILE = (
    # py-spy names a function by its qualified name ("Recorder.advance", "render.<locals>.advance") and its file by the
    # last two parts ("genlib/samplers.py"); training's own advance (views/training.py) is not a chain's
    ("chain computation (the sampler's advance: ULA/MALA steps, Gibbs steps)",
     r"[;.]advance(_samplers|_sgld)? \((?!views/training\.py)"),
    ("frame data (caption metrics, encoding the frame for the browser)",
     r"[;.](frame|metrics_line|points|images|values|bits|mean_images|scene) \(|/scene\.py:"),
    ("Streamlit messages: protobuf, forward queue, websocket", r"protobuf|forward_msg|_enqueue|websocket|tornado"),
    ("Streamlit script run: page code, widgets, elements", r"scriptrunner|exec_code"),
)
IDLE_STACK = r"(Condition\.wait|select|Queue\.get|Event\.wait|_worker|sleep) \([^;]*$|PollingPathWatcher"


def profile_shares(path: Path) -> tuple[dict[str, float], int]:
    """({category: share of the busy samples}, busy samples) of a py-spy raw profile; idle stacks left out."""
    cats, total = collections.Counter(), 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit() or re.search(IDLE_STACK, stack):
            continue
        total += int(count)
        cats[next((name for name, pat in PROFILE if re.search(pat, stack)), "other (asyncio loop, gc, ...)")] += int(count)
    return {k: c / total for k, c in cats.most_common()} if total else {}, total


def measure(view: str, seconds: float, idle_s: float, profile: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    what, open_view, key = VIEWS[view]
    proc, url = start_server(env={"MALLOC_ARENA_MAX": "2"}, timeout=120)
    r = {"view": view, "what": what}
    try:
        cpu = Cpu(proc.pid)
        with sync_playwright() as p:
            browser = launch_chromium(p)
            ctx = browser.new_context(viewport=VIEWPORT)
            ctx.set_default_timeout(120_000)
            page = ctx.new_page()
            t_open = time.monotonic()
            open_view(page, url)
            r["open_s"] = time.monotonic() - t_open
            # idle: the view open and paused
            a = cpu.read()
            page.wait_for_timeout(int(idle_s * 1000))
            b = cpu.read()
            r["idle_server_pct"] = 100 * (b["server"] - a["server"]) / (b["t"] - a["t"])
            shown, waits_js, asks_js = shown_js(key), counter_js("waits", key), counter_js("asks", key)
            button(page, "Play").click()
            # the measuring window: playing time only, in segments; a chain that reached its last frame (Replay, or
            # the old code's Play button, is back) closes its segment, is replayed (or restarted) and played on, and a
            # new segment opens once it shows frames again (the restart's own cost is left out, and counted in
            # `restarts`)
            load0, m0 = os.getloadavg()[0], machine_busy()
            frames, restarts, server_ms = 0, 0, []
            total = {"t": 0.0, "server": 0.0, "chromium": 0.0, "driver": 0.0, "waits": 0, "asks": 0}
            spy, prof = None, ROOT / "test-artifacts" / f"live-profile-{view}.txt"  # git-ignored: stays here
            prof.parent.mkdir(exist_ok=True)

            def add(c0: dict, c1: dict) -> None:
                for k in total:
                    total[k] += c1[k] - c0[k]

            def read() -> dict:  # CPU so far, and the live view's stutter and requests (-1: not a live view)
                return cpu.read() | {"waits": page.evaluate(waits_js), "asks": page.evaluate(asks_js)}

            def stopped() -> bool:  # the chain's last frame: Replay (views.live) or Play (the old code) is back
                return button(page, "Replay").is_visible() or button(page, "Play").is_visible()

            while total["t"] < seconds:
                page.wait_for_function(f"() => ({shown})() >= 3", timeout=120_000, polling=100)
                if profile and spy is None:  # the server's stacks over the (first) segment, at most --seconds
                    spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
                                            str(proc.pid), "--rate", "100", "--format", "raw", "--nonblocking",
                                            "--duration", str(int(seconds)), "-o", str(prof)],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
                c0, last = read(), page.evaluate(shown)
                while total["t"] + time.monotonic() - c0["t"] < seconds:
                    page.wait_for_timeout(500)
                    v = page.evaluate(shown)
                    frames += v - last if v >= last else max(v, 0)  # a re-mounted player counts from 0 again
                    last = v
                    if (ms := page.evaluate(SERVER_MS_JS)) >= 0:
                        server_ms.append(ms)
                    if stopped():
                        break
                v = page.evaluate(shown)
                frames += v - last if v >= last else max(v, 0)
                c1 = read()
                if min(c0["waits"], c1["waits"]) < 0 or c1["waits"] < c0["waits"]:  # not live, or re-mounted
                    c1["waits"], c1["asks"] = c0["waits"], c0["asks"]
                add(c0, c1)
                if total["t"] < seconds:  # replay (or restart) the chain and play on, as a student would
                    if button(page, "Replay").is_visible():
                        button(page, "Replay").click()
                    else:
                        button(page, "Restart").click()
                        wait_idle(page, timeout=120_000)
                        button(page, "Play").click()
                    restarts += 1
            r["pyspy_s"] = 0.0
            if spy is not None:  # py-spy's own CPU from its exit (wait4's rusage), its profile
                _, _, use = os.wait4(spy.pid, 0)
                spy.returncode = 0
                r["pyspy_s"] = use.ru_utime + use.ru_stime
                r["profile"], r["profile_samples"] = profile_shares(prof) if prof.exists() else ({}, 0)
            m1 = machine_busy()
            dt = total["t"]
            r.update(frames=frames, seconds=dt, fps=frames / dt, restarts=restarts,
                     server_s=total["server"], chromium_s=total["chromium"], driver_s=total["driver"],
                     waits=total["waits"], asks=total["asks"],
                     server_ms_page=statistics.median(server_ms) if server_ms else float("nan"),
                     load=(load0, os.getloadavg()[0]),
                     machine_pct=100 * (m1[0] - m0[0]) / max(m1[1] - m0[1], 1e-9) * os.cpu_count())
            r["server_ms_per_frame"] = 1000 * r["server_s"] / frames if frames else float("nan")
            r["chromium_ms_per_frame"] = 1000 * r["chromium_s"] / frames if frames else float("nan")
            r["exceptions"] = page.locator("[data-testid='stException']").count()
            if button(page, "Pause").is_visible():
                button(page, "Pause").click(timeout=30_000)
            ctx.close()
            browser.close()
    finally:
        proc.log.seek(0)
        r["tracebacks"] = proc.log.read().decode(errors="replace").count("Traceback (most recent call last)")
        stop_server(proc)
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--views", nargs="+", choices=list(VIEWS), default=list(VIEWS))
    ap.add_argument("--seconds", type=float, default=20.0, help="playing time measured per view")
    ap.add_argument("--idle", type=float, default=5.0, help="seconds paused before Play (the server's idle CPU)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--profile", action="store_true",
                    help="py-spy the server over the window: the chain's computation apart from the rest")
    args = ap.parse_args()
    la = os.getloadavg()
    print(f"machine: {os.cpu_count()} CPU cores, load average before {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}; "
          f"code: {ROOT}; one fresh server and one Chromium per row, {args.seconds:g} s playing, viewport "
          f"{VIEWPORT['width']}x{VIEWPORT['height']}", flush=True)
    rows = []
    for i in range(args.repeat):
        for view in args.views:
            r = measure(view, args.seconds, args.idle, args.profile)
            rows.append(r)
            print(f"[{view} #{i + 1}] {r['frames']} frames in {r['seconds']:.1f} s = {r['fps']:.2f} frames/s shown; "
                  f"server {r['server_s']:.2f} CPU s = {r['server_ms_per_frame']:.1f} ms/frame "
                  f"({100 * r['server_s'] / r['seconds']:.0f} % of a core; idle before Play "
                  f"{r['idle_server_pct']:.1f} %); page's own 'Server: ms per frame' median "
                  f"{r['server_ms_page']:.0f}; Chromium {r['chromium_s']:.2f} CPU s = "
                  f"{r['chromium_ms_per_frame']:.1f} ms/frame ({100 * r['chromium_s'] / r['seconds']:.0f} %); "
                  f"driver+bench {r['driver_s']:.2f} s; machine busy {r['machine_pct']:.0f} % of "
                  f"{100 * os.cpu_count()} %; load {r['load'][0]:.2f}->{r['load'][1]:.2f}; restarts {r['restarts']}; "
                  f"page exceptions {r['exceptions']}; server tracebacks {r['tracebacks']}; open {r['open_s']:.1f} s; "
                  f"browser waits (ticks with no frame queued) {r['waits']}, asks {r['asks']}"
                  + (f"; py-spy {r['pyspy_s']:.2f} CPU s" if args.profile else ""), flush=True)
            if r.get("profile"):
                print(f"  server profile ({r['profile_samples']} busy samples at 100 Hz; ms per frame = share x "
                      f"{r['server_ms_per_frame']:.1f}):")
                for name, share in r["profile"].items():
                    print(f"    {100 * share:5.1f} %  {share * r['server_ms_per_frame']:5.1f} ms/frame  {name}")
    print("\n| view | frames/s shown | server ms CPU per frame | of which chain computation ms | server CPU % | "
          "Chromium ms CPU per frame | Chromium CPU % | driver+bench CPU s | restarts | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        comp = next((share for name, share in r.get("profile", {}).items() if name.startswith("chain")), None)
        print(f"| {r['what']} | {r['fps']:.2f} | {r['server_ms_per_frame']:.1f} | "
              f"{'-' if comp is None else format(comp * r['server_ms_per_frame'], '.1f')} | "
              f"{100 * r['server_s'] / r['seconds']:.0f} | {r['chromium_ms_per_frame']:.1f} | "
              f"{100 * r['chromium_s'] / r['seconds']:.0f} | {r['driver_s']:.2f} | {r['restarts']} | "
              f"{r['load'][0]:.2f}-{r['load'][1]:.2f} |")
    if args.repeat > 1:
        for view in args.views:
            rs = [r for r in rows if r["view"] == view]
            print(f"{view}: median of {len(rs)}: {statistics.median(r['fps'] for r in rs):.2f} frames/s, "
                  f"{statistics.median(r['server_ms_per_frame'] for r in rs):.1f} server ms/frame, "
                  f"{statistics.median(r['chromium_ms_per_frame'] for r in rs):.1f} Chromium ms/frame")


if __name__ == "__main__":
    main()

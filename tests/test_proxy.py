"""The replicated set-up (deploy/): real replicas behind Debian's nginx, driven by a real Chromium.

Affinity: two browser sessions, one per replica; each steps the Autoencoder, downloads its checkpoint (a /media/ file
the session's replica made), uploads a checkpoint through the proxy (XSRF cookie + header, the upload reaching the
replica that holds the session) and keeps its session across reruns and across a dropped websocket (an nginx reload
closes every websocket; the browser reconnects). nginx's access log names the replica of every request: all of one
browser's requests, websocket included, went to one replica.

A dead replica (SIGKILL, as an out-of-memory kill does it), either of the two, under a live session: its student's
page comes back by itself in a fresh session on the other replica, with the notice and the link's settings, and
answers a click (the wait is printed); the other replica's student notices nothing; the launcher has the dead replica
answering again within REPLICA_BACK_S, and the moved student stays where its session now is. The launcher's command
line: a killed replica and a killed nginx master come back, and Ctrl-C stops everything, exit status 0.
Skipped only when nginx is missing outside CI (`bash run.sh test` installs it); with CI=true a missing nginx fails.
"""
from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from harness import ROOT, free_port, wait_idle, wait_rendered

from deploy.classroom import Classroom, nginx_binary

COOKIE = "genlib_replica"  # the affinity cookie nginx sets (deploy/nginx.conf.in)
CHECKPOINT = ROOT / "checkpoints" / "ae-mnist-2d.safetensors"
STEP = re.compile(r"step (\d+) ·")  # the Autoencoder's caption: "[source: ... · ]step N · epoch ..."
LOG_LINE = re.compile(r'"(\w+) (\S+) [^"]*" (\d{3}) .* route=(\S+) upstream=(\S+)$')
# every change of the app's websocket state, recorded in the page (Streamlit's data-test-connection-state)
WATCH_CONNECTION = """() => { const app = document.querySelector("[data-testid='stApp']");
  window.__conn = [app.dataset.testConnectionState];
  new MutationObserver(() => window.__conn.push(app.dataset.testConnectionState))
    .observe(app, {attributes: true, attributeFilter: ['data-test-connection-state']}); }"""
RECONNECTED = """() => window.__conn.some(s => s !== 'CONNECTED')
  && document.querySelector("[data-testid='stApp']").dataset.testConnectionState === 'CONNECTED'"""


def need_nginx() -> None:
    if nginx_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but nginx is missing; the proxy test must run (apt-get install -y nginx)")
        pytest.skip("nginx not installed (apt-get install -y nginx; `bash run.sh test` installs it when it may)")


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    need_nginx()
    c = Classroom(2, port=free_port(), listen="127.0.0.1", run_dir=tmp_path_factory.mktemp("classroom"))
    c.start()
    yield c
    c.stop()


def upstream_of(c: Classroom, route: str | None) -> str:
    """The replica nginx sends a browser with this affinity cookie to (the last address of its X-Upstream header:
    the one that answered)."""
    req = urllib.request.Request(c.url + "/_stcore/health", headers={"Cookie": f"{COOKIE}={route}"} if route else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Upstream"].split(", ")[-1]


def step_count(page) -> int:
    return int(STEP.search(page.locator("[data-testid='stMain']").inner_text()).group(1))


def images_ok(page) -> None:
    """Every image the last run sent is drawn (one from /media/ that reached another replica would be a 404)."""
    wait_rendered(page)
    sizes = page.evaluate("() => [...document.querySelectorAll('[data-testid=stMain] img')].map(i => i.naturalWidth)")
    assert sizes and all(sizes), f"broken images: {sizes}"


STEP_ABOVE = """([pattern, n]) => { const m = document.querySelector("[data-testid='stMain']").innerText
  .match(new RegExp(pattern)); return m !== null && +m[1] > n; }"""


def step_all(pages) -> list[int]:
    """Click Step in every browser at once (each on its own replica), wait until each run has drawn a higher step
    count and its images; returns the new counts."""
    before = [step_count(page) for page in pages]
    for page in pages:
        page.get_by_role("button", name=re.compile(r"Step$")).click()
    for page, n in zip(pages, before):
        page.wait_for_function(STEP_ABOVE, arg=[STEP.pattern, n], timeout=60_000)
        wait_idle(page)
        images_ok(page)
    return [step_count(page) for page in pages]


def test_two_replicas_behind_nginx_keep_each_browser_on_its_replica(classroom, browser):
    c = classroom
    assert set(c.upstreams) == {upstream_of(c, f"probe-{i}") for i in range(16)}  # both replicas take browsers
    with urllib.request.urlopen(c.url + "/", timeout=30) as r:  # the page, through the proxy, with a new cookie
        assert r.status == 200 and "<html" in r.read().decode().lower()
        assert any(h.startswith(f"{COOKIE}=") for h in r.headers.get_all("Set-Cookie"))

    # browser A: the cookie nginx gave it; browser B: a cookie that nginx maps to the other replica. Both browsers
    # act at once from here on: one replica each, on two cores
    contexts, pages, routes = [], [], []
    for i in range(2):
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        ctx.set_default_timeout(60_000)
        if i == 1:
            other = next(f"probe-{k}" for k in range(64) if upstream_of(c, f"probe-{k}") != upstream_of(c, routes[0]))
            ctx.add_cookies([{"name": COOKIE, "value": other, "url": c.url}])
        page = ctx.new_page()
        page.goto(c.url + "/autoencoder", wait_until="commit")  # the response's Set-Cookie is in the context now
        routes.append(next(k["value"] for k in ctx.cookies() if k["name"] == COOKIE))
        contexts.append(ctx)
        pages.append(page)
    replica = [upstream_of(c, r) for r in routes]
    assert sorted(replica) == sorted(c.upstreams), (routes, replica)

    try:
        for page in pages:
            wait_idle(page, timeout=120_000)
        # reruns: each Step is a rerun of the same session, its trainer advancing, its images drawn
        counts = [[step_count(page) for page in pages], step_all(pages), step_all(pages)]
        assert all(a < b for x, y in itertools.pairwise(counts) for a, b in zip(x, y)), counts
        # a download: the session's replica writes the file into its media store, the browser then fetches /media/
        for page in pages:
            with page.expect_download(timeout=60_000) as dl:
                page.get_by_role("button", name=re.compile(r"Save checkpoint$")).click()
            data = Path(dl.value.path()).read_bytes()
            assert len(data) > 1000 and data[8:9] == b"{", data[:64]  # safetensors: 8-byte header length, JSON
        # uploads through the proxy: the XSRF cookie and header pass, and the file reaches the session's replica
        for page in pages:
            page.get_by_text("Open a checkpoint file").click()
            page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(CHECKPOINT))
        for page in pages:
            page.get_by_role("button", name="Use this checkpoint").click()
        for page in pages:
            page.wait_for_selector("text=source: uploaded file", timeout=60_000)
            wait_idle(page)

        # a dropped websocket (reload: nginx closes them after worker_shutdown_timeout, 5 s): each browser
        # reconnects to its replica and finds its session (a fresh session on another replica would show a new run)
        before = [step_count(page) for page in pages]
        for page in pages:
            page.evaluate(WATCH_CONNECTION)
        c.reload_proxy()
        for page in pages:
            page.wait_for_function(RECONNECTED, timeout=30_000, polling=100)
        after = step_all(pages)  # the uploaded model's count, one tick on (a fresh session would start at 0)
        assert all(a > b for a, b in zip(after, before)), (before, after)
        for page in pages:
            assert "source: uploaded file" in page.locator("[data-testid='stMain']").inner_text()
    finally:
        for ctx in contexts:
            ctx.close()

    # nginx's log: every request of a browser, its websocket(s) included, went to that browser's replica
    log = c.run_dir / "access.log"
    deadline = time.monotonic() + 15
    while True:  # a websocket is logged when it closes: the two dropped by the reload and the two closed just now
        seen = [m.groups() for line in log.read_text().splitlines() if (m := LOG_LINE.search(line))]
        streams = [s for s in seen if s[1] == "/_stcore/stream" and s[3] in routes]
        if len(streams) >= 4 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for route, up in zip(routes, replica):
        mine = [s for s in seen if s[3] == route]
        assert {s[4] for s in mine} == {up}, [s for s in mine if s[4] != up][:5]
        paths = [s[1] for s in mine]
        assert paths.count("/_stcore/stream") >= 2, paths  # the first websocket and the one after the reload
        assert any(p.startswith("/media/") for p in paths) and any("/_stcore/upload_file/" in p for p in paths)
        # (the client also probes /autoencoder/_stcore/health: a 404 it expects, as without a proxy)
        session = [s for s in mine if s[1].startswith(("/media/", "/_stcore/upload_file/", "/_stcore/stream"))]
        assert all(s[2] in ("101", "200", "204") for s in session), [s for s in session if s[2] not in "101 200 204"]
    assert "Traceback" not in c.replica_log(0) + c.replica_log(1)


# ---- a replica dies under a live session --------------------------------------------------------------------------

SESSION_COOKIE = "genlib_upstream"  # the replica that holds the browser's session (set by the websocket's 101)
REPLICA_BACK_S = 60   # from the kill until the launcher's new replica answers its health check (measured: 2-5 s)
STUDENT_BACK_S = 60   # from the kill until the moved student's page has rerun on another replica (measured: 1-2 s)
SEED = 7              # a setting from the link (?ae-seed=7): a fresh session must find it again
NOTICE = "fresh session"  # words of the notice (pages/views/replica.NOTICE) a moved student sees in a toast
NOTICE_SHOWN = ("() => [...document.querySelectorAll('[data-testid=stToast]')]"
                f".some(t => t.innerText.includes({NOTICE!r}))")
STAYED_CONNECTED = "() => window.__conn.every(s => s === 'CONNECTED')"


def replica_healthy(address: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{address}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def cookie(ctx, name: str) -> str | None:
    return next((k["value"] for k in ctx.cookies() if k["name"] == name), None)


def notice_shown(page) -> bool:
    return page.evaluate(NOTICE_SHOWN)


def student_on(browser, c: Classroom, address: str):
    """A browser context and page on the Autoencoder with ?ae-seed=SEED, whose affinity cookie nginx maps to the
    replica at `address`; returns (context, page, its affinity cookie)."""
    route = next(f"probe-{k}" for k in range(64) if upstream_of(c, f"probe-{k}") == address)
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(60_000)
    ctx.add_cookies([{"name": COOKIE, "value": route, "url": c.url}])
    page = ctx.new_page()
    page.goto(f"{c.url}/autoencoder?ae-seed={SEED}")
    return ctx, page, route


def seed_kept(page) -> bool:
    """The Seed field shows the link's value (right after a reload it may show the default for a moment, with or
    without a proxy: waited for, up to 10 s)."""
    field = page.locator("[data-testid='stSidebar'] [data-testid='stNumberInput']").filter(has_text="Seed")
    deadline = time.monotonic() + 10
    while field.locator("input").input_value() != str(SEED):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return f"ae-seed={SEED}" in page.url


@pytest.mark.parametrize("victim", [0, 1])
def test_a_killed_replica_is_restarted_and_its_students_go_on_on_another(classroom, browser, victim):
    c = classroom
    deadline = time.monotonic() + REPLICA_BACK_S  # a replica killed by the run before this one is back
    while not all(map(replica_healthy, c.upstreams)) and time.monotonic() < deadline:
        time.sleep(0.5)
    killed, other = c.upstreams[victim], c.upstreams[1 - victim]
    contexts = []
    try:
        ctx_m, moved, route_m = student_on(browser, c, killed)     # the student whose replica will die
        ctx_s, stays, _ = student_on(browser, c, other)            # a student of the other replica
        contexts += [ctx_m, ctx_s]
        for page in (moved, stays):
            wait_idle(page, timeout=120_000)
        before = step_all([moved, stays])
        # the websocket's handshake answer named each session's replica; no notice on a first visit
        assert [cookie(ctx_m, SESSION_COOKIE), cookie(ctx_s, SESSION_COOKIE)] == [killed, other]
        assert not notice_shown(moved) and not notice_shown(stays)
        for page in (moved, stays):
            page.evaluate(WATCH_CONNECTION)

        old_pid = c.replicas[victim].pid
        back = []  # the time from the kill until a new process on the killed replica's port answers its health check

        def watch():
            while time.monotonic() - t0 < REPLICA_BACK_S:
                if c.replicas[victim].pid != old_pid and replica_healthy(killed):
                    back.append(time.monotonic() - t0)
                    return
                time.sleep(0.05)

        watcher = threading.Thread(target=watch, daemon=True)
        t0 = time.monotonic()
        os.kill(old_pid, signal.SIGKILL)
        watcher.start()

        # the moved student's page reconnects by itself, through nginx, to the live replica: a fresh session that
        # says why, with the link's settings, and that answers a click
        moved.wait_for_function(NOTICE_SHOWN, timeout=STUDENT_BACK_S * 1000, polling=100)
        wait_idle(moved)
        t_page = time.monotonic() - t0
        fresh = step_count(moved)
        assert fresh < before[0], (before, fresh)  # a new run (step 0), not the dead replica's
        assert seed_kept(moved), moved.url
        assert moved.locator("[data-testid='stToastViewButton']").count() == 0  # the notice shows whole
        [after_click] = step_all([moved])
        t_click = time.monotonic() - t0
        assert after_click > fresh
        assert cookie(ctx_m, SESSION_COOKIE) == other  # the new session's replica, from its websocket's answer

        # the other replica's student: never disconnected, same session (its count goes on), no notice
        [stays_now] = step_all([stays])
        assert stays_now > before[1] and stays.evaluate(STAYED_CONNECTED), stays.evaluate("() => window.__conn")
        assert not notice_shown(stays)

        # the launcher restarts the dead replica on its port
        watcher.join()
        assert back, f"replica {victim} not back within {REPLICA_BACK_S} s: {c.dead()}"
        t_back = back[0]
        print(f"\nkilled replica {victim} ({killed}): the student's page back in a fresh session {t_page:.1f} s "
              f"after the kill, answering a click {t_click:.1f} s after; the replica answering again {t_back:.1f} s "
              "after", flush=True)

        # once nginx tries it again (fail_timeout), the restarted replica takes new browsers of its hash share
        while upstream_of(c, route_m) != killed:
            assert time.monotonic() - t0 < REPLICA_BACK_S + 15, "nginx does not send browsers to the restarted replica"
            time.sleep(0.5)
        # while the moved student stays with its session (the cookie, not the hash, routes it): its count goes on
        # and its images (/media/ of its replica) load
        [again] = step_all([moved])
        assert again > after_click and cookie(ctx_m, SESSION_COOKIE) == other
        # a reload there is a new session on the same replica: no notice
        moved.reload()
        wait_idle(moved)
        assert not notice_shown(moved) and cookie(ctx_m, SESSION_COOKIE) == other
        assert seed_kept(moved), moved.url
    finally:
        for ctx in contexts:
            ctx.close()
    assert c.restarts()[f"replica {victim}"] >= 1
    log = c.replica_log(0) + c.replica_log(1)
    assert "Traceback" not in log, log[-3000:]


def _children(pid: int, named: str = "") -> list[int]:
    """The child processes of `pid` (of any of its threads) whose command line holds `named`."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return [c for c in found if named.encode() in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def _until(what, bound: float, why: str):
    deadline = time.monotonic() + bound
    while not (got := what()):
        assert time.monotonic() < deadline, why
        time.sleep(0.2)
    return got


def test_the_launcher_restarts_a_killed_replica_and_nginx_and_ctrl_c_stops_all(tmp_path):
    need_nginx()
    port, run = free_port(), tmp_path / "run"
    err = open(tmp_path / "launcher.err", "w")  # noqa: SIM115 - closed below
    launcher = subprocess.Popen([sys.executable, str(ROOT / "deploy" / "classroom.py"), "1", "--port", str(port),
                                 "--listen", "127.0.0.1", "--run-dir", str(run)], cwd=ROOT, stdout=err, stderr=err)
    url = f"http://127.0.0.1:{port}"
    stderr = lambda: (tmp_path / "launcher.err").read_text()  # noqa: E731
    try:
        _until(lambda: "the class opens" in stderr() or launcher.poll() is not None, 180, "no start")
        assert launcher.poll() is None, stderr()
        [replica] = _children(launcher.pid, "streamlit")
        master = int((run / "nginx.pid").read_text())
        workers = _children(master)
        assert workers and _healthy_url(url)

        os.kill(replica, signal.SIGKILL)  # a replica: started again, the launcher goes on
        time.sleep(0.5)  # the old code's launcher took this to give up, 0.5 s at most
        _until(lambda: launcher.poll() is not None or [p for p in _children(launcher.pid, "streamlit") if p != replica],
               REPLICA_BACK_S, "replica not restarted")
        assert launcher.poll() is None, stderr()
        [new_replica] = _children(launcher.pid, "streamlit")
        assert int((run / "replica-0.pid").read_text()) == new_replica
        _until(lambda: _healthy_url(url), REPLICA_BACK_S, "the class does not answer after the replica's restart")

        os.kill(master, signal.SIGKILL)  # nginx's master: its orphaned worker is stopped, a new nginx serves
        _until(lambda: (run / "nginx.pid").exists() and int((run / "nginx.pid").read_text() or 0) not in (0, master)
               and _healthy_url(url), 30, "nginx not restarted")
        _until(lambda: not any(map(_alive, workers)), 15, f"nginx's old workers {workers} still run")
        new_master = int((run / "nginx.pid").read_text())
        new_workers = _children(new_master)
        assert launcher.poll() is None and _alive(new_replica), stderr()
        _until(lambda: stderr().count("is back") >= 2, 10, "the launcher did not see both processes back")

        launcher.send_signal(signal.SIGINT)  # Ctrl-C: everything stops, exit status 0
        assert launcher.wait(30) == 0, stderr()
        for pid in (new_replica, new_master, *new_workers):
            assert not _alive(pid), (pid, stderr())
        out = stderr()
        assert "replica 0 (127.0.0.1:" in out and "nginx (127.0.0.1:" in out and ">> stopped" in out, out
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
        err.close()


def _healthy_url(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False

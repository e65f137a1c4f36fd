"""The replicated set-up (issue 13, deploy/): two real replicas behind Debian's nginx, driven by a real Chromium.

Two browser sessions, one per replica; each steps the Autoencoder, downloads its checkpoint (a /media/ file the
session's replica made), uploads a checkpoint through the proxy (XSRF cookie + header, the upload reaching the
replica that holds the session) and keeps its session across reruns and across a dropped websocket (an nginx
reload closes every websocket; the browser reconnects). nginx's access log names the replica of every request: all
of one browser's requests, websocket included, went to one replica.
Skipped only when nginx is missing outside CI (`bash run.sh test` installs it); with CI=true a missing nginx fails.
"""
from __future__ import annotations

import itertools
import os
import re
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


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    if nginx_binary() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true but nginx is missing; the proxy test must run (apt-get install -y nginx)")
        pytest.skip("nginx not installed (apt-get install -y nginx; `bash run.sh test` installs it when it may)")
    c = Classroom(2, port=free_port(), listen="127.0.0.1", run_dir=tmp_path_factory.mktemp("classroom"))
    c.start()
    yield c
    c.stop()


def upstream_of(c: Classroom, route: str | None) -> str:
    """The replica nginx sends a browser with this affinity cookie to (its X-Upstream header)."""
    req = urllib.request.Request(c.url + "/_stcore/health", headers={"Cookie": f"{COOKIE}={route}"} if route else {})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Upstream"]


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

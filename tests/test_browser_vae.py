"""End to end in a real Chromium, as a class uses it: the VAE page's tabs, a link that reproduces the latent-grid view,
the latent map that decodes under the mouse in the browser (>= 30 frames/s, no server round trip) and on a click (on
the server), the Draw tab's samples from q(z|x) with the ELBO and IWAE, the canvas toolbar clear of the tab labels, the
sidebar showing the loaded model, and Resample."""
import re

from conftest import assert_no_exception, open_tab, shot, wait_idle, wait_rendered
from harness import draw_one

TABS = ["Train", "Latent grid", "Clusters", "Interpolate", "Draw", "Sample"]
POINTER = re.compile(r"decoded at z\[0\] = (-?[0-9.]+), z\[1\] = (-?[0-9.]+)")


def pointer_caption(page, prefix: str = "decoded at") -> str:
    cap = page.locator("[data-testid='stImage']").filter(has_text=prefix).first
    cap.wait_for(timeout=30_000)
    return cap.inner_text()


def slider_value(page, label: str) -> str:
    return page.locator("[data-testid='stSlider']").filter(has_text=label).locator("input[type='range']").input_value()


def selectbox_value(page, label: str) -> str:
    box = page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text=label)
    return box.evaluate("e => [...e.querySelectorAll('input')].map(i => i.value).join(' ') + ' ' + e.textContent")


def map_canvas(page, key: str):
    canvas = page.locator(f".st-key-{key} canvas.map")
    canvas.wait_for(timeout=30_000)
    return canvas


def hover_frame_rate(page, canvas, seconds: float = 2.0) -> tuple[float, float, int]:
    """Move the mouse over the map for `seconds` in small steps; returns (hover frames drawn per second by the
    component, requestAnimationFrame callbacks per second of the page meanwhile, server runs started)."""
    box = canvas.bounding_box()
    page.evaluate("""() => { window.__raf = 0; window.__runs = 0; const tick = () => { window.__raf++;
        window.__rafId = requestAnimationFrame(tick); }; window.__rafId = requestAnimationFrame(tick);
        const app = document.querySelector("[data-testid='stApp']");
        window.__obs = new MutationObserver(() => { if (app.dataset.testScriptState === 'running') window.__runs++; });
        window.__obs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }""")
    root = canvas.locator("xpath=ancestor::div[contains(@class,'latentmap')]")
    f0 = int(root.get_attribute("data-hover-frames"))
    t0 = page.evaluate("() => performance.now()")
    import math
    import time
    i, start = 0, time.time()
    while time.time() - start < seconds:  # a Lissajous path over the inner 80 % of the map
        t = i / 40
        page.mouse.move(box["x"] + box["width"] * (0.5 + 0.35 * math.sin(t)),
                        box["y"] + box["height"] * (0.45 + 0.3 * math.sin(1.7 * t)))
        i += 1
    t1 = page.evaluate("() => performance.now()")
    raf, runs = page.evaluate("() => { cancelAnimationFrame(window.__rafId); window.__obs.disconnect(); "
                              "return [window.__raf, window.__runs]; }")
    f1 = int(root.get_attribute("data-hover-frames"))
    ms = t1 - t0
    return (f1 - f0) * 1000 / ms, raf * 1000 / ms, runs


def test_vae_tabs_render_and_a_link_reproduces_the_latent_grid(app_server, page):
    page.goto(app_server + "/vae")
    wait_idle(page)
    assert "Variational autoencoder" in page.locator("h1").first.inner_text()
    for name in TABS:
        open_tab(page, name)  # only the open tab's panel is in the page: an error in it shows once it is drawn
        wait_idle(page)
        assert_no_exception(page)
    # a link with settings reproduces the view: the tab, the grid and the pointer's decoded digit
    page.goto(app_server + "/vae?vae-tab=Latent+grid&vae-range=%C2%B1+scale+in+z&vae-scale=1.5&vae-n=12"
              "&vae-px=0.7&vae-py=-0.4")
    wait_idle(page)
    assert page.get_by_role("tab", name="Latent grid", selected=True).count() == 1
    assert POINTER.search(pointer_caption(page)).groups() == ("0.70", "-0.40")
    assert float(slider_value(page, "Grid size n")) == 12 and float(slider_value(page, "Scale")) == 1.5
    # the pointer's range is the grid's span (±1.5 here), so the cross stays inside the map
    thumb = page.locator("[data-testid='stSlider']").filter(has_text="pointer z[0]").locator("input[type='range']")
    assert float(thumb.get_attribute("max")) == 1.5 and float(thumb.get_attribute("min")) == -1.5
    def digit_bytes() -> bytes:
        img = page.locator("[data-testid='stImage']").filter(has_text="decoded at").locator("img")
        img.wait_for(timeout=30_000)
        wait_rendered(page)
        src = img.get_attribute("src")
        if src.startswith("data:"):
            return src.encode()
        return page.request.get(src if src.startswith("http") else app_server + "/" + src.lstrip("./")).body()

    first = digit_bytes()
    page.goto(page.url)  # the same link again, in a new session: the same decoded digit, byte for byte
    wait_idle(page)
    assert digit_bytes() == first
    assert_no_exception(page)


def test_latent_map_hovers_in_the_browser_and_a_click_decodes_that_point(app_server, page):
    page.goto(app_server + "/vae?vae-tab=Latent+grid")
    wait_idle(page)
    canvas = map_canvas(page, "vae-grid-map")
    page.wait_for_function("() => document.querySelector('.st-key-vae-grid-map canvas.map').width > 0")
    fps, raf, runs = hover_frame_rate(page, canvas)
    print(f"hover: {fps:.1f} decoded frames/s, page requestAnimationFrame {raf:.1f}/s, server runs {runs}")
    assert fps >= 30 and runs == 0, (fps, raf, runs)  # decoded in the browser: no server round trip
    side = page.locator(".st-key-vae-grid-map .latentmap .z").inner_text()
    assert re.match(r"z\[0\] = -?[0-9.]+, z\[1\] = -?[0-9.]+", side), side
    # a click: the hover line names the z under the mouse; the server decodes that exact point
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3)
    page.wait_for_timeout(100)
    want = re.search(r"z\[0\] = (-?[0-9.]+), z\[1\] = (-?[0-9.]+)",
                     page.locator(".st-key-vae-grid-map .latentmap .z").inner_text()).groups()
    before = pointer_caption(page)
    page.mouse.click(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.3)
    page.wait_for_function("(b) => [...document.querySelectorAll(\"[data-testid='stImage']\")].some(e => "
                           "/decoded at/.test(e.innerText) && e.innerText !== b)", arg=before, timeout=30_000)
    wait_idle(page)
    got = POINTER.search(pointer_caption(page)).groups()
    assert [abs(float(a) - float(b)) <= 0.011 for a, b in zip(got, want)] == [True, True], (got, want)
    assert abs(float(slider_value(page, "pointer z[0]")) - float(got[0])) < 1e-6
    assert_no_exception(page)
    shot(page, "vae-latent-grid-clicked")
    # the cluster map: a click decodes there too
    open_tab(page, "Clusters")
    wait_idle(page)
    canvas = map_canvas(page, "vae-cluster-map")
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.4)
    page.locator("[data-testid='stImage']").filter(has_text="clicked: decoded at").wait_for(timeout=30_000)
    assert_no_exception(page)


def test_draw_tab_shows_samples_of_q_and_the_iwae_gap_and_the_toolbar_clears_the_tabs(app_server, page):
    page.goto(app_server + "/vae?vae-tab=Draw&vae-k=6")
    wait_idle(page)
    canvas = page.locator(".st-key-vae-canvas-box canvas").last
    canvas.wait_for(timeout=30_000)
    draw_one(page, canvas)
    page.get_by_text("IWAE L_K").wait_for(timeout=60_000)
    wait_idle(page)
    # the canvas toolbar (shown while the mouse is over the canvas) stays below the tab labels, never over them
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2 + 20)
    page.wait_for_timeout(400)
    tabs_bottom = page.get_by_role("tablist").bounding_box()
    bar = page.evaluate("""() => { for (const h of document.querySelectorAll('*')) { const r = h.shadowRoot;
        const t = r && r.querySelector('.dc-toolbar'); if (t) { const b = t.getBoundingClientRect();
        return {top: b.top + window.scrollY, bottom: b.bottom + window.scrollY}; } } return null; }""")
    scroll = page.evaluate("window.scrollY")
    assert bar is not None and bar["top"] >= tabs_bottom["y"] + tabs_bottom["height"] + scroll - 1, (bar, tabs_bottom)
    metrics = {m.locator("label").inner_text().split("\n")[0]:
               float(m.locator("[data-testid='stMetricValue']").inner_text())
               for m in page.locator("[data-testid='stMetric']").all()}
    elbo, iwae, gap = metrics["ELBO (nats)"], metrics["IWAE L_K, K = 1000"], metrics["gap IWAE − ELBO"]
    assert iwae >= elbo and abs((iwae - elbo) - gap) < 0.11, metrics
    assert page.get_by_text(re.compile(r"decodings of samples 1 \.\.\. 6")).count() == 1
    # the map of q(z|x) decodes on a click too
    canvas = map_canvas(page, "vae-draw-map")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.4)
    page.locator("[data-testid='stImage']").filter(has_text="clicked: decoded at").wait_for(timeout=30_000)
    wait_idle(page)
    assert_no_exception(page)
    shot(page, "vae-draw")


def test_sidebar_shows_the_loaded_model_and_resample_draws_anew(app_server, page):
    page.goto(app_server + "/vae?vae-tab=Sample")
    wait_idle(page)
    # the first visit loads the course's conv VAE: the sidebar says so, not the defaults
    assert "Conv" in selectbox_value(page, "Architecture")
    page.get_by_role("button", name="Resample").click()
    page.get_by_text(re.compile(r"prior draws z ~ N\(0, I\), seed 1$")).wait_for(timeout=30_000)
    wait_idle(page)
    assert "vae-sseed=1" in page.url  # the link shows these very samples
    # a link with another checkpoint opens with it loaded: the sidebar's settings follow it
    page.goto(app_server + "/vae?vae-tab=Sample&vae-ckpt=vae-mlp-bern-16")
    page.get_by_text(re.compile(r"Current model \(vae-mlp-bern-16\): mlp/mlp, latent 16")).wait_for(timeout=60_000)
    wait_idle(page)
    assert "vae-mlp-bern-16" in selectbox_value(page, "Checkpoint")
    assert float(slider_value(page, "Latent size")) == 16
    assert "MLP" in selectbox_value(page, "Architecture")
    assert "vae-src=vae-mlp-bern-16" in page.url
    assert_no_exception(page)

"""End to end in Chromium: hostile inputs (crafted files, bombs, absurd values) give a message the user sees, never an
exception, and the page works on. The AppTest versions, with the memory and race checks, are in
tests/test_hostile_app.py."""
import re
import time

from conftest import ROOT, assert_no_exception, shot, wait_idle
from test_hostile_app import crafted_checkpoint, png_1bit


def visible_button(page, name):
    return page.locator("button:visible").filter(has_text=re.compile(f"{name}$")).first


def test_a_crafted_checkpoint_and_a_150_mb_file_are_refused_with_a_message(app_server, page, tmp_path):
    evil = tmp_path / "evil.safetensors"
    evil.write_bytes(crafted_checkpoint("rbm", {"n_hidden": 1_000_000}, signed=True))
    page.goto(app_server + "/rbm")
    wait_idle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(evil))
    box = page.locator("[data-testid='stAlertContentError']").filter(has_text="Could not open evil.safetensors")
    box.wait_for(timeout=60_000)
    assert "over the limit" in box.inner_text() and "8,192" in box.inner_text()
    wait_idle(page)
    assert_no_exception(page)
    shot(page, "hostile-crafted-rbm")
    visible_button(page, "Step").click()
    page.wait_for_selector("text=/step [1-9][0-9]* · epoch/", timeout=60_000)
    assert_no_exception(page)

    huge = tmp_path / "huge.safetensors"
    with open(huge, "wb") as f:
        f.truncate(150_000_000)  # sparse: no 150 MB written to disk
    page.goto(app_server + "/autoencoder")
    wait_idle(page)
    page.get_by_text("Open a checkpoint file").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(huge))
    page.wait_for_selector("[data-testid='stFileChipIconError']", timeout=30_000)  # the browser refuses it
    assert "MB or smaller" in page.locator("[data-testid='stFileUploader']").first.inner_text()
    wait_idle(page)
    assert_no_exception(page)


def test_a_decompression_bomb_and_an_absurd_sigma_give_messages_and_the_page_works_on(app_server, page, tmp_path):
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_1bit(20_000, 20_000))
    page.goto(app_server + "/vae")
    wait_idle(page)
    page.get_by_role("tab", name="Draw", exact=True).click()
    panel = page.get_by_role("tabpanel", name="Draw", exact=True)
    panel.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(bomb))
    box = page.locator("[data-testid='stAlertContentError']").filter(has_text="Could not use the file bomb.png")
    box.wait_for(timeout=60_000)
    assert "16,777,216 pixels" in box.inner_text()
    wait_idle(page)
    assert_no_exception(page)

    page.goto(app_server + "/langevin")
    wait_idle(page)
    page.locator("[data-testid='stSelectbox']").filter(has_text="Noise σ").first.click()
    page.get_by_role("option", name="custom σ").click()
    wait_idle(page)
    sigma = page.get_by_role("spinbutton", name="Custom σ")
    sigma.fill("1e300")
    sigma.press("Enter")
    # the field refuses the value and says why; the chains keep σ = 0.3 and the controls stay
    field = page.locator("[data-testid='stNumberInput']").filter(has_text="Custom σ")
    field.locator("[data-testid='stTooltipErrorHoverTarget']").wait_for(timeout=10_000)
    assert "outside the allowed range" in field.inner_text()
    wait_idle(page)
    assert "σ = 0.3," in page.locator("body").inner_text()
    visible_button(page, "Step").click()
    page.wait_for_selector("text=/step [0-9]+ · frame 1 \\(/", timeout=30_000)
    assert_no_exception(page)


# ---- links, untrusted names, requests off the machine ---------------------------------------------------------------

def page_paths() -> list[str]:
    """The address of every page of app.py's navigation ("/" for the default one)."""
    src = (ROOT / "app.py").read_text()
    return ["/"] + ["/" + p for p in re.findall(r'url_path="([^"]+)"', src)]


COLD_LINKS = ["/autoencoder?ae-seed=inf", "/vae?vae-warmup=-inf", "/rbm?rbm-tab=Gibbs+chains&rbm-seed=inf",
              "/langevin?lv-chains=inf", "/ebm?ebm-seed=1e400", "/?projector=Infinity"]


def test_a_link_with_a_non_finite_number_opens_the_page_with_a_notice(app_server, page):
    for link in COLD_LINKS:
        page.goto(app_server + link)
        wait_idle(page)
        assert_no_exception(page)
        key, value = link.split("?")[1].split("&")[-1].split("=")
        toast = page.locator("[data-testid='stToast']").filter(has_text=f"The link's {key} = {value}")
        toast.first.wait_for(timeout=15_000)
        assert f"{key}={value}" not in page.url  # the address no longer holds the refused value


class Beacon:
    """A loopback HTTP server that counts the requests it gets: an image that markdown would embed would call it."""

    def __init__(self):
        import http.server
        import threading

        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_file_name_and_metadata_in_markdown_are_shown_as_text_and_fetch_nothing(app_server, page):
    from genlib import checkpoints, models

    beacon = Beacon()
    name = f"**bold** [x](http://127.0.0.1:{beacon.port}/link) ![t](http://127.0.0.1:{beacon.port}/track.png)"
    kind = f"![k](http://127.0.0.1:{beacon.port}/kind.png)"
    evil = crafted_checkpoint(kind, {}, signed=True)
    page.goto(app_server + "/rbm")
    wait_idle(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        {"name": name + ".safetensors", "mimeType": "application/octet-stream", "buffer": evil})
    box = page.locator("[data-testid='stAlertContentError']").filter(has_text="Could not open")
    box.wait_for(timeout=60_000)
    assert f"Could not open {name}.safetensors:" in box.inner_text().replace("\u2060", "")  # joiners: no autolinks
    assert f"unknown model kind '{kind}'" in box.inner_text().replace("\u2060", "")
    assert box.locator("strong, a, img").count() == 0, box.inner_html()

    vae = checkpoints.to_bytes(models.create("vae", models.KINDS["vae"].config_cls(latent=2, hidden=(32,)), seed=0))
    page.goto(app_server + "/vae")
    wait_idle(page)
    page.locator("[data-testid='stSidebar'] [data-testid='stFileUploaderDropzoneInput']").first.set_input_files(
        {"name": name + ".safetensors", "mimeType": "application/octet-stream", "buffer": vae})
    note = page.locator("[data-testid='stSidebar'] [data-testid='stCaptionContainer']").filter(
        has_text="These show the model in use")
    note.filter(has_text="(uploaded **bold** [x](http").wait_for(timeout=60_000)
    assert f"(uploaded {name}.safetensors)" in note.first.inner_text().replace("\u2060", "")
    assert note.first.locator("strong, a, img").count() == 1  # only the page's own **Reset**
    wait_idle(page)
    assert_no_exception(page)
    time.sleep(1)
    assert beacon.hits == [], beacon.hits


def test_pages_opened_by_their_address_ask_no_other_host_and_get_no_error(app_server, page):
    """Every page opened cold by its address: every request goes to the app's own server (the tab's icon is an
    emoji drawn inline; a :material: icon was fetched from a font host) and none answers 4xx or 5xx (a page's own
    address made Streamlit probe /PAGE/_stcore/health and host-config first, two 404s per load; serve.py names the
    server's root)."""
    requests, failed = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: failed.append((r.status, r.url)) if r.status >= 400 else None)
    for path in page_paths():
        page.goto(app_server + path)
        wait_idle(page)
        assert_no_exception(page)
    foreign = [u for u in requests if not u.startswith(app_server + "/") and not u.startswith(("data:", "blob:"))]
    assert foreign == [] and failed == [], (foreign[:5], failed[:5])
    assert len(requests) > 20

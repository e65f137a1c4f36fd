"""Each VAE lesson says what is on screen within 30 s of its click, in a fresh browser session: the figure its sentence
names is read from the page (plotly charts' data, images decoded from their PNG, metrics) and checked against the
sentence, which must state it. Before (4201991), "β = 4: posterior collapse" trained a new 8-D model from scratch: in
30 s (about 100 steps) every KL bar is near 0 at any β (the early phase of training), there was no β = 1 run to
compare with, and the samples were on another tab; now two runs from the bundled 16-D model, the same but for β (1
and 4), stand side by side. "Reparameterisation and the IWAE gap" called the gap the KL to the true posterior: it is a
lower bound on it."""
import base64
import io
import re
import time

import numpy as np
from PIL import Image

from conftest import assert_no_exception, wait_idle
from test_browser_lesson_truths import WAIT_S, caption_count, click_lesson, goto, note, plot, until

CELL, PAD = 28, 2  # viz.grid's layout: 28 x 28 digits, 2 px apart


def image(page, caption: str) -> np.ndarray:
    """The grey image (in [0, 1]) of the first st.image whose caption holds `caption`: decoded from its data URL (a
    live view's frame, PNG) or fetched from the server's media store."""
    img = page.locator("[data-testid='stImage']").filter(has_text=caption).locator("img").first
    img.wait_for(timeout=30_000)
    src = img.get_attribute("src")
    if src.startswith("data:"):
        raw = base64.b64decode(src.split(",", 1)[1])
    else:
        raw = page.request.get(src).body()
    return np.asarray(Image.open(io.BytesIO(raw)).convert("L"), np.float32) / 255


def cells(grid: np.ndarray) -> np.ndarray:
    """The digits of a viz.grid image, [n, 28, 28] (the white padding left out)."""
    rows, cols = (grid.shape[0] - PAD) // (CELL + PAD), (grid.shape[1] - PAD) // (CELL + PAD)
    assert (rows * (CELL + PAD) + PAD, cols * (CELL + PAD) + PAD) == grid.shape, grid.shape
    return np.stack([grid[PAD + r * (CELL + PAD):PAD + r * (CELL + PAD) + CELL,
                          PAD + c * (CELL + PAD):PAD + c * (CELL + PAD) + CELL] for r in range(rows) for c in range(cols)])


def grey_share(digits: np.ndarray) -> float:
    """How blurred the strokes are: of the inked pixels (> 0.2), the share that is grey (under 0.8), not black-on-white
    sharp. Decoder means of a sharp model are near 0 or 1; a blurred one spreads grey around its strokes."""
    ink = digits > 0.2
    return float((ink & (digits < 0.8)).sum() / max(1, ink.sum()))


def test_vae_beta_4_side_by_side_collapses_bars_and_blurs_samples_within_30_s(app_server, page):
    """Two runs from the bundled 16-D model, side by side, differing only by β: within 30 s (under 100 steps) 5 or
    more of the β = 4 run's 16 KL bars are under 0.05 nats while no β = 1 bar is, and the β = 4 samples (the same z)
    are greyer than the β = 1 ones, as the note says."""
    goto(page, app_server + "/vae")
    clicked = click_lesson(page, "β = 4: posterior collapse")
    text = note(page, "posterior collapse")
    assert "5 or more of its 16 KL bars under 0.05 nats" in text and "β = 1 keeps every bar above it" in text, text
    assert "blur" in text, text

    def bars(beta: str) -> list[float]:
        fig = plot(page, f"KL per dimension, β = {beta} (")
        return fig["data"][0]["y"] if fig else []

    def collapsed(beta: str) -> int:
        return sum(v < 0.05 for v in bars(beta))

    def step() -> int:
        return caption_count(page, r"step (\d+) · epoch")

    until(clicked, lambda: collapsed("4") >= 5)
    # a machine loaded beyond WAIT_S's stretch (4 times) may not have made the steps of 30 s on a quiet one (about 60
    # to 90 here): the claim is then checked at step 60 (5 bars under 0.05 from step 41 on: the run is seeded)
    while collapsed("4") < 5 and step() < 60 and time.monotonic() - clicked < 3 * WAIT_S:
        time.sleep(1)
    seconds = time.monotonic() - clicked
    n = step()
    b1, b4 = bars("1"), bars("4")
    assert len(b1) == len(b4) == 16, (b1, b4)
    print(f"{seconds:.0f} s after the click (WAIT_S {WAIT_S:.0f}), step {n}: β = 4 bars under 0.05: "
          f"{collapsed('4')} of 16, KL sum {sum(b4):.1f}; β = 1: {collapsed('1')}, KL sum {sum(b1):.1f}, min {min(b1):.2f}")
    assert sum(v < 0.05 for v in b4) >= 5, (n, b4)  # β = 4: 5 or more collapsed
    assert min(b1) >= 0.05, (n, b1)  # β = 1: none
    # the samples: decoder means of the same prior draws, greyer (blurred) at β = 4
    grey1 = grey_share(cells(image(page, "β = 1: decoder means")))
    grey4 = grey_share(cells(image(page, "β = 4: decoder means")))
    print(f"grey share of the ink: β = 4 {grey4:.3f}, β = 1 {grey1:.3f}")
    assert grey4 > grey1 + 0.03, (grey1, grey4)
    assert_no_exception(page)


def recon_error(grid: np.ndarray) -> float:
    """The Train tab's reconstructions picture (rows 1, 3: digits; rows 2, 4: their reconstructions): the mean absolute
    pixel difference between each digit and its reconstruction."""
    d = cells(grid).reshape(4, 8, CELL, CELL)
    return float((np.abs(d[1] - d[0]).mean() + np.abs(d[3] - d[2]).mean()) / 2)


def readme_iwae(name: str) -> float:
    """The test −IWAE of a bundled checkpoint as checkpoints/README.md states it (its test row's −IWAE column)."""
    from conftest import ROOT

    text = (ROOT / "checkpoints" / "README.md").read_text()
    section = text.split(f"### `{name}.safetensors`", 1)[1].split("\n### ", 1)[0]
    row = next(line for line in section.splitlines() if line.startswith("| test"))
    return float(row.split("|")[5].strip(" *"))


def test_vae_latent_2_vs_16_reconstructions_are_sharper_with_16_dimensions(app_server, page):
    """The 16-D model's reconstructions (rows 2, 4) are closer to the digits than the 2-D conv VAE's once it is loaded
    as the note says (about 0.04 against 0.12 mean absolute pixel error), and the note's −IWAE figures are the
    checkpoints' (README)."""
    goto(page, app_server + "/vae")
    click_lesson(page, "Latent 2 vs 16")
    text = note(page, "Latent 2 vs 16")
    page.get_by_text("Current model (vae-mlp-bern-16)").first.wait_for(timeout=60_000)
    wait_idle(page)
    err16 = recon_error(image(page, "rows 2, 4: reconstructions"))
    assert f"{readme_iwae('vae-mlp-bern-16'):.1f} nats" in text and f"against {readme_iwae('vae-conv-2d'):.0f}" in text
    assert "choose vae-conv-2d under Pretrained" in text, text
    page.locator("[data-testid='stSidebar'] [data-testid='stSelectbox']").filter(has_text="Checkpoint").click()
    page.keyboard.type("vae-conv-2d")
    page.keyboard.press("Enter")
    wait_idle(page)
    page.locator("button:visible").filter(has_text=re.compile("Load pretrained vae-conv-2d$")).first.click()
    page.get_by_text("Current model (vae-conv-2d)").first.wait_for(timeout=60_000)
    wait_idle(page)
    err2 = recon_error(image(page, "rows 2, 4: reconstructions"))
    print(f"reconstruction error: 16-D {err16:.3f}, 2-D {err2:.3f}")
    assert err16 < 0.6 * err2, (err16, err2)  # the strokes kept: well under the 2-D model's error
    assert_no_exception(page)


def test_vae_gaussian_decoder_shows_4_of_8_bars_at_0_nats(app_server, page):
    """vae-mlp-gauss-8: exactly 4 of the 8 KL bars are at 0 nats (under 0.05), the other 4 carry over 0.5 nats each,
    and the caption under the bars counts the same 4."""
    goto(page, app_server + "/vae")
    clicked = click_lesson(page, "Gaussian decoder: 4 of 8 collapse")
    text = note(page, "Gaussian decoder")
    assert "4 of its 8 KL bars sit at 0 nats" in text, text
    page.get_by_text("Current model (vae-mlp-gauss-8)").first.wait_for(timeout=60_000)
    fig = until(clicked, lambda: (lambda f: f if f and len(f["data"][0]["y"]) == 8 else None)(
        plot(page, "KL per latent dimension")))
    assert fig is not None
    kl = fig["data"][0]["y"]
    assert sum(v < 0.05 for v in kl) == 4 and sorted(kl)[4] > 0.5, kl
    assert "4 of 8 are near 0 nats" in page.locator("body").inner_text()
    assert_no_exception(page)


def nearest_label(digit: np.ndarray, mnist) -> int:
    """The label of the validation digit nearest to `digit` (28 x 28 in [0, 1]): a 1-nearest-neighbour classifier."""
    x = mnist.val.images.reshape(len(mnist.val.images), -1).numpy()
    return int(mnist.val.labels[int(((x - digit.reshape(1, -1)) ** 2).sum(1).argmin())])


def test_vae_course_map_decodes_under_the_mouse_pins_on_a_click_and_changes_class(app_server, page, mnist):
    """The course's map: a 15 x 15 grid over [−1, 1]² (the pointer's range); hovering shows the digit under the mouse,
    a click pins it (decoded at the clicked z), and the digits decoded near the four corners and at the centre fall in at
    least 3 classes (by a nearest-neighbour classifier on the validation digits; measured: 9, 1, 4, 8, 8)."""
    goto(page, app_server + "/vae")
    click_lesson(page, "Click the course's map")
    text = note(page, "Click the course's map")
    assert "[−1, 1]²" in text and "click to pin" in text and "change class" in text, text
    canvas = page.locator(".st-key-vae-grid-map canvas.map")
    canvas.wait_for(timeout=60_000)
    wait_idle(page)
    assert canvas.get_attribute("aria-label") == "15 × 15 decoded grid", canvas.get_attribute("aria-label")
    thumb = page.locator("[data-testid='stSlider']").filter(has_text="pointer z[0]").locator("input[type='range']")
    assert (float(thumb.get_attribute("min")), float(thumb.get_attribute("max"))) == (-1.0, 1.0)
    root = page.locator(".st-key-vae-grid-map .latentmap")
    box = canvas.bounding_box()
    labels = []
    for fx, fy in [(0.25, 0.2), (0.85, 0.2), (0.55, 0.5), (0.25, 0.8), (0.85, 0.8)]:  # inside the axes
        x, y = box["x"] + box["width"] * fx, box["y"] + box["height"] * fy
        page.mouse.move(x - 5, y - 5)
        page.mouse.move(x, y, steps=5)  # the side panel shows the digit under the mouse
        page.wait_for_function("() => document.querySelector('.st-key-vae-grid-map .latentmap').dataset.cell === "
                               "'hover'", timeout=10_000)
        before = page.locator("[data-testid='stImage']").filter(has_text="decoded at").first.inner_text()
        page.mouse.click(x, y)
        page.wait_for_function("(b) => [...document.querySelectorAll(\"[data-testid='stImage']\")].some(e => "
                               "/decoded at/.test(e.innerText) && e.innerText !== b)", arg=before, timeout=60_000)
        wait_idle(page)
        big = image(page, "decoded at")
        k = big.shape[0] // CELL  # the digit is shown enlarged k times: back to 28 x 28
        labels.append(nearest_label(big.reshape(CELL, k, CELL, k).mean((1, 3)), mnist))
    page.mouse.move(box["x"] + box["width"] + 200, box["y"])  # away: the side panel shows the pinned point
    page.wait_for_timeout(300)
    assert root.get_attribute("data-cell") == "pinned", root.get_attribute("data-cell")
    print("classes at the corners and the centre:", labels)
    assert len(set(labels)) >= 3, labels
    assert_no_exception(page)


def metric(page, label: str) -> float:
    box = page.locator("[data-testid='stMetric']").filter(has_text=label).first
    return float(box.locator("[data-testid='stMetricValue']").inner_text().replace("−", "-"))


def test_vae_reparameterisation_lesson_shows_16_samples_and_a_nonnegative_gap(app_server, page):
    """Draw a digit: the row below the map decodes the 16 samples z = μ + σε (numbered 1 ... 16: 18 digits with the
    input and its reconstruction), and IWAE − ELBO is shown as the gap (IWAE minus ELBO, at least 0), which the note
    calls a lower bound on KL(q(z|x) ‖ p(z|x)) (before: "is the KL", an equality the page itself does not claim)."""
    from harness import draw_one

    goto(page, app_server + "/vae")
    click_lesson(page, "Reparameterisation and the IWAE gap")
    text = note(page, "Reparameterisation and the IWAE gap")
    assert "16 numbered dots" in text and "lower bound" in text, text
    canvas = page.locator(".st-key-vae-canvas-box canvas").last
    canvas.wait_for(timeout=60_000)
    draw_one(page, canvas)
    page.get_by_text("IWAE L_K").first.wait_for(timeout=60_000)
    wait_idle(page)
    row = image(page, "the decodings of samples")
    assert "samples 1 ... 16 (the numbered dots)" in page.locator("[data-testid='stImage']").filter(
        has_text="the decodings of samples").first.inner_text()
    assert len(cells(row)) == 18  # the input, its reconstruction, 16 samples
    elbo, iwae, gap = metric(page, "ELBO (nats)"), metric(page, "IWAE L_K"), metric(page, "gap IWAE − ELBO")
    print(f"ELBO {elbo}, IWAE {iwae}, gap {gap}")
    assert gap >= 0 and abs((iwae - elbo) - gap) <= 0.11, (elbo, iwae, gap)  # (each shown to 0.1)
    assert_no_exception(page)

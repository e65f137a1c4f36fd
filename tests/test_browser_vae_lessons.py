"""Each VAE lesson says what is on screen within 30 s of its click, in a fresh browser session: the figure its sentence
names is read from the page (plotly charts' data, images decoded from their PNG, metrics) and checked against the
sentence, which must state it. Before (4201991), "β = 4: posterior collapse" trained a new 8-D model from scratch: in
30 s (about 100 steps) every KL bar is near 0 at any β (the early phase of training), there was no β = 1 run to
compare with, and the samples were on another tab; now the bundled 16-D model (β = 1) stands beside itself trained on
with β = 4."""
import base64
import io
import re
import time

import numpy as np
from PIL import Image

from conftest import assert_no_exception, open_tab, wait_idle
from test_browser_lesson_truths import WAIT_S, caption_count, click_lesson, goto, note, plot, until

CELL, PAD = 28, 2  # viz.grid's layout: 28 x 28 digits, 2 px apart


def image(page, caption: str) -> np.ndarray:
    """The grey image (in [0, 1]) of the first st.image whose caption holds `caption`, decoded from its data URL."""
    img = page.locator("[data-testid='stImage']").filter(has_text=caption).locator("img").first
    img.wait_for(timeout=30_000)
    src = img.get_attribute("src")
    assert src.startswith("data:image/png;base64,"), src[:40]
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("L"), np.float32) / 255


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
        fig = plot(page, f"KL per latent dimension: β = {beta},")
        return fig["data"][0]["y"] if fig else []

    def collapsed(beta: str) -> int:
        return sum(v < 0.05 for v in bars(beta))

    until(clicked, lambda: collapsed("4") >= 5)
    seconds = time.monotonic() - clicked
    n = caption_count(page, r"trained on \(step (\d+)\)")
    b1, b4 = bars("1"), bars("4")
    assert len(b1) == len(b4) == 16, (b1, b4)
    print(f"{seconds:.0f} s after the click (WAIT_S {WAIT_S:.0f}), step {n}: β = 4 bars under 0.05: "
          f"{collapsed('4')} of 16, KL sum {sum(b4):.1f}; β = 1: {collapsed('1')}, KL sum {sum(b1):.1f}, min {min(b1):.2f}")
    assert sum(v < 0.05 for v in b4) >= 5, (n, b4)  # β = 4: 5 or more collapsed
    assert min(b1) >= 0.05, (n, b1)  # β = 1: none
    # the samples: decoder means of the same prior draws, greyer (blurred) at β = 4
    grey1 = grey_share(cells(image(page, "β = 1, vae-mlp-bern-16 trained on")))
    grey4 = grey_share(cells(image(page, "β = 4, vae-mlp-bern-16 trained on")))
    print(f"grey share of the ink: β = 4 {grey4:.3f}, β = 1 {grey1:.3f}")
    assert grey4 > grey1 + 0.03, (grey1, grey4)
    assert_no_exception(page)

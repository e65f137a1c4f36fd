"""End to end in Chromium: hostile inputs (issue 12) give a message the user sees, never an exception, and the page
works on. The AppTest versions, with the memory and race checks, are in tests/test_hostile_app.py."""
import re

from conftest import assert_no_exception, shot, wait_idle
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
    page.wait_for_selector("text=/step [0-9]+ · frame 1 of/", timeout=30_000)
    assert_no_exception(page)

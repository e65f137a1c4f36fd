"""Live training as a newcomer meets it, in a real Chromium and a fresh session each: what the page says about a run
must be what the run does."""
import re
import time

from conftest import assert_no_exception, open_tab, wait_idle


def step_count(text: str) -> int:
    m = re.search(r"(\d+) steps", text)
    assert m, text
    return int(m.group(1))


def test_vae_training_in_another_tab_is_said_to_wait(app_server, page):
    """Training runs in the Train tab's live view only. Started there, then with the Latent grid tab open, the model
    caption must not say "(training)" while the step count stands still: it says training waits for the Train tab,
    and back on the Train tab the steps go on."""
    page.goto(app_server + "/vae")
    wait_idle(page)
    page.get_by_role("button", name=re.compile("Start$")).click()
    page.get_by_role("button", name=re.compile("Pause$")).first.wait_for(timeout=60_000)
    time.sleep(3)
    open_tab(page, "Latent grid")
    wait_idle(page)
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="Current model").first
    first = caption.inner_text()
    time.sleep(4)
    later = caption.inner_text()
    assert step_count(first) == step_count(later), (first, later)  # nothing trains here ...
    assert "(training)" not in later, later  # ... so the page must not say it does
    assert "paused while another tab is open" in later, later
    open_tab(page, "Train")
    caption = page.locator("[data-testid='stCaptionContainer']").filter(has_text="Current model").first
    deadline = time.time() + 30
    while time.time() < deadline and step_count(caption.inner_text()) <= step_count(later):
        time.sleep(0.5)
    assert step_count(caption.inner_text()) > step_count(later), caption.inner_text()
    assert_no_exception(page)

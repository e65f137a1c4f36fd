"""The 2-D EBM's comparing lessons in a fresh browser session: each starts two runs side by side, and the sentence's
numbers are read from the two heat maps it names (the plotly charts' data: the grid of −(E − min E), the data points,
the Langevin negatives) within 30 s of the click (WAIT_S: stretched by the load of this shared machine). Before
(b6cdcde) each lesson trained one run, with nothing beside it to compare with, and its sentence told what happens much
later ("the gaps between the modes open later": at 150 iterations neither run's ring had a gap; "crowd the centres":
no more negatives near the centres than at T = 1)."""
import math
import re

from conftest import assert_no_exception, wait_idle
from test_browser_lesson_truths import PLOTS, caption_count, click_lesson, note, open_ebm2d, until


def maps(page) -> list[tuple[str, dict]]:
    """The heat maps on the page: [(title, {"z", "x", "y", "data": [(x, y)], "neg": [(x, y)]})]."""
    out = []
    for p in page.evaluate(PLOTS):
        heat = next((t for t in p["data"] if t["z"]), None)
        if heat is None:
            continue
        pts = {t["name"]: list(zip(t["x"], t["y"])) for t in p["data"] if not t["z"]}
        out.append((p["title"], {"z": heat["z"], "x": heat["x"], "y": heat["y"], "data": pts.get("data", []),
                                 "neg": pts.get("Langevin negatives", [])}))
    return out


def the_map(found: list[tuple[str, dict]], part: str) -> dict:
    return next(m for title, m in found if part in title)


def on_ring(m: dict) -> float:
    """The share of the map's negatives within 0.5 of the eight Gaussians' ring (radius 2.5)."""
    return sum(abs(math.hypot(x, y) - 2.5) < 0.5 for x, y in m["neg"]) / len(m["neg"])


def bright_share(m: dict) -> float:
    """The share of the map where E lies within 1 of the data's mean energy or below: z = −(E − min E) over 1 less
    than its mean at the data points (each read at its nearest grid point)."""
    xs, ys, z = m["x"], m["y"], m["z"]

    def at(x: float, y: float) -> float:
        i = min(range(len(ys)), key=lambda k: abs(ys[k] - y))
        j = min(range(len(xs)), key=lambda k: abs(xs[k] - x))
        return z[i][j]

    level = sum(at(x, y) for x, y in m["data"]) / len(m["data"]) - 1.0
    cells = [v for row in z for v in row]
    return sum(v > level for v in cells) / len(cells)


def two_maps_at(page, clicked: float, dataset: str, iterations: int, at_least: int | None = None
                ) -> list[tuple[str, dict]]:
    """The two maps once the runs are at `iterations` (or WAIT_S is over: then at `at_least`, if given), paused."""
    def count() -> int:
        return caption_count(page, rf"iteration (\d+) · {dataset}")

    until(clicked, lambda: count() >= iterations)
    # paused, the view stops redrawing: the two maps then stand still to be read (while it plays, a map being
    # redrawn may show twice for a moment)
    page.get_by_role("button", name=re.compile("Pause$")).first.click()
    wait_idle(page, timeout=120_000)
    found = maps(page)
    assert len(found) == 2 and count() >= (at_least or iterations), ([t for t, _ in found], count())
    return found


def test_persistent_negatives_gather_on_the_ring_fresh_ones_do_not(app_server, page):
    """Persistent (left) against short-run from noise (right), 10 Langevin steps: after 50 iterations about 80 % of
    the persistent negatives lie within 0.5 of the ring, about 60 % of the fresh ones."""
    open_ebm2d(page, app_server)
    clicked = click_lesson(page, "Persistent negatives (replay buffer)")
    text = note(page, "Persistent negatives")
    assert "about 80 % of the persistent negatives" in text and "about 60 % of the fresh ones" in text, text
    found = two_maps_at(page, clicked, "eight_gaussians", 50)
    persistent, fresh = on_ring(the_map(found, "persistent")), on_ring(the_map(found, "from noise"))
    assert persistent > 0.75 and fresh < 0.75 and persistent - fresh > 0.1, (persistent, fresh)
    assert_no_exception(page)


def test_cold_sampler_makes_the_bright_area_wider_than_at_t_1(app_server, page):
    """T = ¼ (left) against T = 1 (right): the area within 1 of the data's mean energy covers about 35 % of the map
    against 25 % after 25 iterations, 33 % against 21 % after 50 (measured, seeds 0-2: 31-42 % against 22-33 % at 25,
    33-35 % against 21 % at 50); checked at 50 if the run got there within WAIT_S, else at 25 (a busy machine)."""
    open_ebm2d(page, app_server)
    clicked = click_lesson(page, "A cold sampler (T = ¼)")
    text = note(page, "A cold sampler")
    assert "about 35 % of the map against 25 % at T = 1 after 25 iterations, 33 % against 21 % after 50" in text, text
    found = two_maps_at(page, clicked, "eight_gaussians", 50, at_least=25)
    cold, warm = bright_share(the_map(found, "T = 0.25")), bright_share(the_map(found, "T = 1"))
    n = caption_count(page, r"iteration (\d+) · eight_gaussians")
    if n >= 50:  # about 33 % against 21 %
        # (read a few iterations past 50 when the pause came late: CI read 26 % against 18 % at 61)
        assert 0.22 < cold < 0.41 and 0.15 < warm < 0.27 and cold > 1.3 * warm, (n, cold, warm)
    else:  # about 35 % against 25 %
        assert 0.28 < cold < 0.46 and 0.18 < warm < 0.36 and cold > 1.15 * warm, (n, cold, warm)
    assert_no_exception(page)

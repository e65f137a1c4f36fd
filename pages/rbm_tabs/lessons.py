"""The RBM page's "Try this" lessons: each sets the page's controls (widget keys) and starts what needs starting,
through an autoplay flag (`go(what)`) that the open tab consumes with chrome.take_autoplay once its controls are drawn
with the lesson's settings."""
from __future__ import annotations

from pages.views.chrome import Lesson


def go(what: str) -> str:
    """The autoplay flag asking the tab `what` ("train", "pair": CD-1 and PCD side by side, "chains", "compare") to
    start."""
    return f"rbm-go-{what}"


def lesson(title: str, watch: str, settings: dict, what: str) -> Lesson:
    return Lesson(title, watch, settings, autoplay=go(what))


# 16 hidden units: the exact log-likelihood is tracked every tick, the true score to compare two runs by
SMALL_RUN = {"rbm-tab": "Train", "rbm-hidden": 16, "rbm-k": 1, "rbm-lr": 0.1, "rbm-batch": 64, "rbm-mom": 0.0,
             "rbm-wd": 0.0, "rbm-train-seed": 0}
CHAINS = {"rbm-tab": "Gibbs chains", "rbm-per-frame": 10, "rbm-n": 36, "rbm-seed": 0}

LESSONS = [
    lesson("CD-1 vs PCD (1/2)", "Side by side from the same weights: rbm-16-cd1 (16 hidden units), where CD-1 "
           "has stalled at an exact log-likelihood of −175 nats. Trained on in lockstep, CD-1 stays near −175; PCD "
           "dips for a few steps, then climbs past it: 4 to 10 nats above CD-1 from about step 100 (within 30 s). "
           "Then take step 2.",
           {**SMALL_RUN, "rbm-method": "CD-k"}, "pair"),
    lesson("CD-1 vs PCD (2/2)", "PCD from fresh weights this time, alone (after step 1, the CD-1 run stays faded "
           "behind it, flat near −175): PCD's exact log-likelihood (a point every 200 steps) climbs past CD-1's "
           "−175: about −172 nats at step 400 (about 30 s), −164 at step 800, still rising.",
           {**SMALL_RUN, "rbm-method": "PCD"}, "train"),
    lesson("β < 1 and β > 1", "At β = 0.5 the digits melt into noise: free energy (right) about +180, from −270. "
           "Now move β to 1.5: the chains freeze on crisp shapes at about −280, about 90 % of the pixels of p(v|h) "
           "under 0.1 or over 0.9 (none at β = 0.5).",
           {**CHAINS, "rbm-model": "rbm-500", "rbm-start": "validation digits", "rbm-beta": 0.5}, "chains"),
    lesson("CD-1 from noise", "CD-1 never ran its chains for long: from noise they fall into blotches whose "
           "free energy (right) sinks within seconds to about −300 (some chains −370), far below the −265 of "
           "real digits under this model (Likelihood tab: mean free energy, validation digits).",
           {**CHAINS, "rbm-model": "rbm-500-cd1", "rbm-start": "uniform noise", "rbm-beta": 1.0}, "chains"),
    lesson("AIS, 100 steps", "With 100 temperatures AIS misses mass and overstates the likelihood "
           "(AIS − exact > 0, 1 to 3 nats) and its band is no guide: about 50 nats wide, almost all of it above "
           "the estimate; set 14 500 and compare again.",
           {"rbm-tab": "Likelihood", "rbm-compare-betas": 100}, "compare"),
]

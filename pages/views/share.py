"""A process-wide fair share of compute for live views of a class on one server: many live sessions slow down evenly
instead of the server freezing.

A class runs every session in one Python process, so all live ticks share about one core (the GIL). Each live view
calls `FairShare.budget` before its tick: with n sessions live (ticked within `window` seconds) a tick may use at most
`total / n` of each second, so its time budget is min(its own budget, total / n * period), and `FairShare.delay` tells
the browser how long to wait before asking for the next tick so that a session's busy share stays near total / n
even when one step alone takes longer than its slice. Thread-safe: every session's script thread calls it.

Scheduling is the app's business: the library's ticks (genlib.train.Trainer.tick) use exactly the budget they are
given, and a live view passes them its slice.
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

TOTAL = 0.7  # core-seconds per second shared by all live ticks: the rest of the one GIL core stays for page runs,
# Streamlit's messages and the event loop (measured: bench/CLASS_PROFILE.md)
BUSY = 0.9  # the share limits only once the process used this much of a core (about all that one GIL allows) or the
# machine this share of all its cores: before that, a slice would make sessions wait while a core idles
WINDOW = 3.0  # a session that has not ticked for this many seconds (paused, hidden tab, closed) no longer counts
MIN_BUDGET = 0.02  # a tick always gets this much (one optimizer step at least runs anyway: Trainer.run)


def cut(own: float, fair: float | None) -> float:
    """A tick's budget: the view's `own` seconds, or its fair slice `fair` when that is smaller (None: the view is
    alone on the server, its own budget)."""
    return own if fair is None else min(own, fair)


def machine_cpu() -> tuple[float, float] | None:
    """(busy, total) CPU seconds of the whole machine so far, over all its cores (Linux /proc/stat); None elsewhere.
    Other replicas' and other programs' load shows here, not in this process's own CPU time."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / tick, sum(v) / tick  # minus idle and iowait


class FairShare:
    """The live ticks of one process. `who` names one live view of one session (any hashable)."""

    def __init__(self, total: float = TOTAL, window: float = WINDOW, clock: Callable[[], float] = time.monotonic,
                 cpu: Callable[[], float] | None = time.process_time,
                 machine: Callable[[], tuple[float, float] | None] | None = machine_cpu, busy_at: float = BUSY):
        """`cpu`: this process's CPU seconds so far; `machine`: the machine's (busy, total) CPU seconds so far. The
        share limits only while the process is busy (over the last second it used `busy_at` of a core, about what one
        GIL allows) or the machine is (`busy_at` of all its cores: replicas and other programs share them). A slice that
        made sessions wait while cores idled would only slow everyone down (measured: 30 sessions, server at 12 % CPU,
        chains at 0.2 frames/s; 2 replicas, machine 80 % busy, Gibbs chains at 3.8 frames/s). cpu=None: always busy."""
        if not total > 0 or not window > 0:
            raise ValueError(f"total and window must be positive, got {total}, {window}")
        self.total, self.window, self.clock, self.cpu, self.machine = total, window, clock, cpu, machine
        self.busy_at = busy_at
        self._seen: dict = {}  # who -> clock time of its last tick
        self._lock = threading.Lock()
        self._mark = (clock(), cpu() if cpu else 0.0, (machine() if machine else None) or (0.0, 0.0))
        self._busy = False

    def busy(self) -> bool:
        """Whether the process used `busy_at` of a core, or the machine `busy_at` of its cores, over the last second
        (measured at most once a second)."""
        if self.cpu is None:
            return True
        with self._lock:
            now = self.clock()
            t0, c0, m0 = self._mark
            if now - t0 >= 1.0:
                c, m = self.cpu(), (self.machine() if self.machine else None) or (0.0, 0.0)
                machine_use = (m[0] - m0[0]) / (m[1] - m0[1]) if m[1] > m0[1] else 0.0
                self._busy = (c - c0) / (now - t0) >= self.busy_at or machine_use >= self.busy_at
                self._mark = (now, c, m)
            return self._busy

    def _prune(self, now: float) -> None:
        for k in [k for k, t in self._seen.items() if now - t > self.window]:
            del self._seen[k]

    def enter(self, who) -> int:
        """Mark `who` live now; the number of live views, itself included."""
        with self._lock:
            now = self.clock()
            self._seen[who] = now
            self._prune(now)
            return len(self._seen)

    def leave(self, who) -> None:
        """`who` stops ticking (paused): it no longer counts, at once rather than after `window`."""
        with self._lock:
            self._seen.pop(who, None)

    def live(self) -> int:
        with self._lock:
            self._prune(self.clock())
            return len(self._seen)

    def slice(self, n: int | None = None) -> float:
        """Each live view's share of a second: total / n."""
        return self.total / max(n if n is not None else self.live(), 1)

    def budget(self, who, own: float, period: float) -> tuple[float, int]:
        """(the time budget of `who`'s tick now, the number of live views): min(own, total / n * period), at least
        MIN_BUDGET; `period` is the view's nominal seconds between ticks. Marks `who` live."""
        n = self.enter(who)
        if not self.busy():
            return own, n
        return max(min(own, self.slice(n) * period), min(own, MIN_BUDGET)), n

    def delay(self, spent: float, period: float, n: int | None = None, busy: float | None = None) -> float:
        """Seconds to wait, after a tick that took `spent` seconds (wall clock), before the next: the rest of the
        nominal `period`, or longer when the tick used more than its slice: busy / (spent + delay) <= total / n, with
        `busy` the tick's own CPU seconds (time.thread_time; default `spent`). CPU time, not wall time: on a machine
        loaded by other processes a tick waits for a core, and that wait is nobody's share of this server."""
        busy = spent if busy is None else busy
        if not self.busy():
            return max(period - spent, 0.0)
        return max(period - spent, busy / self.slice(n) - spent, 0.0)

"""How often live views redraw: once a second while few watch, slower as more do, within a server budget.

Every live redraw of a page (a Streamlit fragment rerun) costs the app server a fixed slice of CPU, mostly in
Streamlit itself (starting the run, the session message, serialising and sending the elements): 27 ms for a lone
watcher on the 2-core machine of docs/benchmarks_watchers.md, 13 ms each when many watch one job (its figures are
built once for all). Thirty students each redrawn once a second would take 0.4-0.8 cores. So the server counts
the sessions that are watching something live and spaces each one's redraws so that all of them together stay
within `budget_cores` (EXPLORER_LIVE_BUDGET_CORES, default 0.3): one second while up to ten sessions watch, three
seconds for thirty.
"""
from __future__ import annotations

import math
import os
import threading
import time

REDRAW_CPU_S = 0.03  # server CPU seconds of one live redraw, rounded up from a lone watcher's 27 ms (bench_watchers)
DEFAULT_BUDGET_CORES = 0.3  # server cores all sessions' live redraws may take together
MAX_INTERVAL_S = 10.0  # the slowest a live view redraws, however many watch
FORGET_AFTER_S = 30.0  # a session that has not redrawn for this long has stopped watching


def budget_cores(env: dict | None = None) -> float:
    """EXPLORER_LIVE_BUDGET_CORES, or the default when unset or not a positive number."""
    raw = (env if env is not None else os.environ).get("EXPLORER_LIVE_BUDGET_CORES", "")
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_BUDGET_CORES
    return value if value > 0 and math.isfinite(value) else DEFAULT_BUDGET_CORES


def live_interval(watchers: int, budget: float = DEFAULT_BUDGET_CORES, base_s: float = 1.0,
                  redraw_cpu_s: float = REDRAW_CPU_S) -> float:
    """Seconds between one session's redraws when `watchers` sessions redraw live together.

    At least base_s; long enough that watchers * redraw_cpu_s / interval <= budget; rounded up to half a second
    (so small changes in the count do not change it) and at most MAX_INTERVAL_S.
    """
    need = max(0, watchers) * redraw_cpu_s / budget
    return min(MAX_INTERVAL_S, max(base_s, math.ceil(need * 2) / 2))


class LiveWatchers:
    """The sessions of one server that watch something live: session id -> when it last redrew."""

    def __init__(self, forget_after_s: float = FORGET_AFTER_S):
        self._seen: dict = {}
        self._lock = threading.Lock()
        self.forget_after_s = forget_after_s

    def seen(self, session: str, now: float | None = None) -> int:
        """Note that this session redrew now; returns how many sessions are watching."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._seen[session] = now
            for key in [k for k, t in self._seen.items() if now - t > self.forget_after_s]:
                del self._seen[key]
            return len(self._seen)

    def gone(self, session: str) -> None:
        """This session stopped watching (its job ended, it left the page)."""
        with self._lock:
            self._seen.pop(session, None)

    def count(self) -> int:
        with self._lock:
            return len(self._seen)

    def interval(self, session: str, budget: float = DEFAULT_BUDGET_CORES, base_s: float = 1.0,
                 now: float | None = None) -> float:
        """seen() and live_interval() in one call."""
        return live_interval(self.seen(session, now), budget, base_s)

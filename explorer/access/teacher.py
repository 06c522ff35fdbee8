"""The teacher's password: a constant-time check behind an exponential back-off, per session and server-wide.

Size budget: ~80 lines.
"""
from __future__ import annotations

import hmac
import math
import threading
import time
from collections.abc import Callable

from ..i18n import _

# The back-off's caps (docs/security.md, "the teacher password").
TEACHER_BACKOFF_FREE = 3  # wrong passwords before waits start
TEACHER_BACKOFF_BASE_S = 1.0  # first wait; doubles with each further wrong password
TEACHER_BACKOFF_MAX_S = 300.0  # longest wait


def check_teacher(password: str | None, expected: str | None) -> bool:
    """True when a teacher password is configured and this one matches it (constant-time)."""
    return bool(expected) and bool(password) and hmac.compare_digest(str(password), str(expected))


def refusal_sentence(wait_s: float) -> str:
    """The sentence after a refused password: the wait rounded up to a whole second (never "0 s"), in seconds up to
    90, then in minutes; no wait, no "try again in"."""
    if not wait_s > 0:
        return _("That password is not the teacher's.")
    seconds = math.ceil(wait_s)
    when = _("{n} s").format(n=seconds) if seconds <= 90 else _("{n} min").format(n=math.ceil(seconds / 60))
    return _("That password is not the teacher's; try again in {wait}.").format(wait=when)


class TeacherGate:
    """check_teacher behind an exponential back-off, per session and for the whole server.

    After `free` wrong passwords in a row, each further try waits base, 2*base, 4*base ... up to most
    seconds; a try during the wait is refused unread. The server-wide count (every session together, so a
    new session or a cleared cookie starts nothing afresh) gets `free` times as many tries before it waits.
    A right password clears its session's count and the server's.
    """

    _SERVER = "\0server"

    def __init__(self, free: int = TEACHER_BACKOFF_FREE, base_s: float = TEACHER_BACKOFF_BASE_S,
                 most_s: float = TEACHER_BACKOFF_MAX_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.free, self.base_s, self.most_s, self.clock = free, base_s, most_s, clock
        self._failures: dict[str, tuple[int, float]] = {}  # key -> (wrong tries in a row, time of the last)
        self._lock = threading.Lock()

    def wait_s(self, session: str) -> float:
        """Seconds before this session may try again (0: now)."""
        with self._lock:
            return max(self._wait(session, self.free), self._wait(self._SERVER, self.free * self.free))

    def attempt(self, password: str | None, expected: str | None, session: str) -> tuple[bool, float]:
        """(True, 0) for the teacher's password; (False, seconds to wait before the next try) otherwise."""
        wait = self.wait_s(session)
        if wait > 0:
            return False, wait
        if check_teacher(password, expected):
            with self._lock:
                self._failures.pop(session, None)
                self._failures.pop(self._SERVER, None)
            return True, 0.0
        now = self.clock()
        with self._lock:
            if len(self._failures) > 10_000:  # a flood of sessions: forget all but the server count
                self._failures = {self._SERVER: self._failures.get(self._SERVER, (0, now))}
            for key in (session, self._SERVER):
                self._failures[key] = (self._failures.get(key, (0, now))[0] + 1, now)
            return False, max(self._wait(session, self.free), self._wait(self._SERVER, self.free * self.free))

    def _wait(self, key: str, free: int) -> float:
        count, last = self._failures.get(key, (0, 0.0))
        if count < free:
            return 0.0
        delay = min(self.most_s, self.base_s * 2 ** min(count - free, 30))
        return max(0.0, last + delay - self.clock())

"""Holds on the queue: who may keep queued jobs waiting and have running ones stopped. The job manager asks its hold
before every dispatch; the one the app uses is a paused class's (explorer.classroom.pause.ClassHold).

Size budget: ~50 lines.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from ..store.records import Experiment

log = logging.getLogger(__name__)


class Hold(Protocol):
    """Asked by the job manager while it pumps the queue."""

    def held(self, queued: Sequence[Experiment]) -> set[str]:
        """Ids of queued jobs that must not start now (they keep their place in line)."""
        ...

    def stopping(self, running: Sequence[Experiment]) -> set[str]:
        """Ids of running jobs to ask to stop."""
        ...


def ask_hold(hold: Hold | None, question: str, jobs: Sequence[Experiment]) -> set[str]:
    """The hold's answer to `question` ("held" or "stopping") about these jobs.

    Nothing is held when there is no hold, no job, or the hold cannot answer now: a damaged classroom table must not
    stop every other job on the server (logged).
    """
    if hold is None or not jobs:
        return set()
    try:
        return set(hold.held(jobs) if question == "held" else hold.stopping(jobs))
    except Exception:  # noqa: BLE001 - see the docstring
        log.exception("The job manager could not ask which jobs are held; none are held this round.")
        return set()

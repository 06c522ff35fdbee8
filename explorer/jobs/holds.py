"""Holds on the queue: who may keep queued jobs waiting and have running ones stopped. The job manager asks its hold
on every round before it dispatches (`not_held`); the app's is a paused class's (explorer.classroom.pause.ClassHold).

Size budget: ~70 lines.
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from ..store.records import Experiment

if TYPE_CHECKING:
    from ..store.runstore import RunStore

log = logging.getLogger(__name__)


class Hold(Protocol):
    """Asked by the job manager while it pumps the queue."""

    def held(self, queued: Sequence[Experiment]) -> set[str]:
        """Ids of queued jobs that must not start now (they keep their place in line)."""
        ...

    def stopping(self, running: Sequence[Experiment]) -> set[str]:
        """Ids of running jobs to ask to stop (each once: a hold remembers what it already asked)."""
        ...


class _Manager(Protocol):  # what not_held needs of explorer.jobs.manager.JobManager
    hold: Hold | None

    def stop(self, exp_id: str, owner: str | None, teacher: bool = False) -> None: ...


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


def not_held(manager: _Manager, running: Sequence[Experiment], queued: Sequence[Experiment]) -> list[Experiment]:
    """One round of the manager's hold: ask the running jobs it names to stop (as the teacher would), and return the
    queued jobs that may start, in their order."""
    for exp_id in ask_hold(manager.hold, "stopping", running):
        manager.stop(exp_id, None, teacher=True)  # its class was paused with "stop running jobs"
    held = ask_hold(manager.hold, "held", queued)
    return [exp for exp in queued if exp.id not in held]


def class_hold(store: RunStore) -> Hold:
    """The hold of the job manager the app builds (JobManager.from_env): a paused class's, on the store's tables."""
    from ..classroom.classes import Classroom
    from ..classroom.pause import ClassHold
    return ClassHold(Classroom(store))

"""Pause the class: while a class is paused its members start no job, their queued jobs wait, and (if the teacher
chose so when pausing) their running jobs are stopped; resuming lets the held jobs start.

The rule lives here and in the job manager's dispatch (explorer.jobs.manager asks ClassHold before it starts a
queued job), so a page that forgot to disable a button still starts nothing: the job is queued and held. Whose jobs
are held: every job of an owner who is a member of a paused open class (a student's jobs inside a class are the
class's). One indexed query per question, whatever the class's size.
Size budget: ~120 lines.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..i18n import N_
from . import tables as t

if TYPE_CHECKING:
    from ..store.records import Experiment
    from .classes import Classroom

# Shown translated where they are shown (`_(PAUSED_SENTENCE)`): marked here for the catalogue.
PAUSED_SENTENCE = N_("Your teacher has paused the class, so new runs wait until the class goes on.")
HELD_SENTENCE = N_("Your teacher has paused the class: this job waits in the queue and starts when the class goes "
                   "on.")


@dataclass(frozen=True)
class Pause:
    """A paused class: since when, and whether its running jobs are stopped (else they may finish)."""

    class_id: str
    paused: float
    stop_running: bool


def pause(room: Classroom, class_id: str, stop_running: bool = False) -> Pause:
    """Pause a class (pausing again only changes the choice for running jobs). Returns the Pause."""
    p = t.class_pauses.c
    now = time.time()

    def write(conn: sa.Connection) -> Pause:
        old = conn.execute(sa.select(p.paused).where(p.class_id == class_id)).first()
        if old is None:
            conn.execute(t.class_pauses.insert().values(class_id=class_id, paused=now, stop_running=stop_running))
            return Pause(class_id, now, stop_running)
        conn.execute(t.class_pauses.update().where(p.class_id == class_id).values(stop_running=stop_running))
        return Pause(class_id, float(old[0]), stop_running)
    return room.tx(write)


def resume(room: Classroom, class_id: str) -> None:
    """The class goes on: its members may start jobs again, and the job manager starts the held ones."""
    room.tx(lambda c: c.execute(t.class_pauses.delete().where(t.class_pauses.c.class_id == class_id)))


def paused(room: Classroom, class_id: str) -> Pause | None:
    """The class's pause, or None while it runs (one query by primary key)."""
    p = t.class_pauses.c
    row = room.q(lambda c: c.execute(sa.select(p.paused, p.stop_running).where(p.class_id == class_id)).first())
    return None if row is None else Pause(class_id, float(row[0]), bool(row[1]))


def held_owners(room: Classroom, owners: Iterable[str]) -> dict[str, bool]:
    """{owner: stop_running} for those owners who are members of a paused open class (one indexed query)."""
    wanted = sorted({o for o in owners if o})
    if not wanted:
        return {}
    m, p, k = t.class_members.c, t.class_pauses.c, t.classes.c
    rows = room.q(lambda c: c.execute(
        sa.select(m.owner, p.stop_running).join(t.class_pauses, p.class_id == m.class_id)
        .join(t.classes, k.id == m.class_id).where(m.owner.in_(wanted) & k.closed.is_(None))).all())
    out: dict[str, bool] = {}
    for owner, stop in rows:
        out[owner] = out.get(owner, False) or bool(stop)
    return out


def held_class_jobs(room: Classroom, exp_ids: Iterable[str]) -> dict[str, bool]:
    """{experiment id: stop_running} for those jobs started inside a paused open class (one indexed query): a student
    who left the class after starting one does not take it out of the pause."""
    wanted = sorted(set(exp_ids))
    if not wanted:
        return {}
    j, p, k = t.class_jobs.c, t.class_pauses.c, t.classes.c
    rows = room.q(lambda c: c.execute(
        sa.select(j.exp_id, p.stop_running).join(t.class_pauses, p.class_id == j.class_id)
        .join(t.classes, k.id == j.class_id).where(j.exp_id.in_(wanted) & k.closed.is_(None))).all())
    return {exp_id: bool(stop) for exp_id, stop in rows}


class ClassHold:
    """What the job manager asks before it dispatches: which queued jobs wait, which running ones to stop."""

    def __init__(self, room: Classroom) -> None:
        self.room = room
        self._stopped: set[str] = set()  # running jobs already asked to stop (each is asked once)

    def _paused(self, jobs: Sequence[Experiment]) -> dict[str, bool]:
        """{job id: stop_running} for the jobs a pause holds: their owner's class, or the class they were started in
        (two queries)."""
        owners = held_owners(self.room, (e.owner or "" for e in jobs))
        found = {e.id: owners[e.owner] for e in jobs if e.owner in owners}
        for exp_id, stop in held_class_jobs(self.room, (e.id for e in jobs)).items():
            found[exp_id] = found.get(exp_id, False) or stop
        return found

    def held(self, queued: Sequence[Experiment]) -> set[str]:
        """Ids of the queued jobs of a paused class: they stay queued."""
        return set(self._paused(queued))

    def stopping(self, running: Sequence[Experiment]) -> set[str]:
        """Ids of the running jobs of a class paused with "stop running jobs", each returned once."""
        new = {exp_id for exp_id, stop in self._paused(running).items() if stop} - self._stopped
        self._stopped |= new
        return new


"""Follow the class: what a member's pages watch about once a second (the lesson the teacher put the class on, and
whether the class is paused), read in ONE indexed query, and what a page does when it changes.

Size budget: ~80 lines.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import tables as t

if TYPE_CHECKING:
    from .classes import Classroom


@dataclass(frozen=True)
class ClassState:
    """What a member follows: their class, its lesson (None: everyone walks alone), and its pause."""

    class_id: str
    lesson: str | None
    paused: bool
    stop_running: bool = False


def class_state(room: Classroom, owner: str) -> ClassState | None:
    """The state of the newest open class this owner is a member of, or None for a lone user: one query on the
    members' owner index, joined to the class (primary key) and its pause (primary key)."""
    m, k, p = t.class_members.c, t.classes.c, t.class_pauses.c
    row = room.q(lambda c: c.execute(
        sa.select(k.id, k.lesson, p.paused, p.stop_running)
        .select_from(t.class_members.join(t.classes, k.id == m.class_id)
                     .outerjoin(t.class_pauses, p.class_id == k.id))
        .where((m.owner == owner) & k.closed.is_(None)).order_by(m.joined.desc()).limit(1)).first())
    if row is None:
        return None
    return ClassState(row[0], row[1], row[2] is not None, bool(row[3]))


@dataclass(frozen=True)
class Move:
    """What a member's page does when the class state changed: go to the lesson, offer it, or rerun once."""

    lesson: str | None = None  # the lesson the class moved to, when it moved
    go: bool = False  # take the member there now (False: offer one click, their run is mid-way)
    rerun: bool = False  # the pause changed: the page runs again, so its start buttons follow


def next_move(seen: ClassState | None, now: ClassState | None, on_lessons: bool, busy: bool) -> Move | None:
    """What to do after `seen` became `now` (None: no change worth a move).

    Args:
        on_lessons: the member is on the Lessons page already (it shows the class's lesson; a rerun is enough).
        busy: a run of theirs is mid-way on the page they look at: offer one click instead of taking them.
    """
    if now is None or seen is None or seen == now:
        return None  # nothing changed, or the first look (a member who opens a page is not moved off it)
    paused_changed = seen.paused != now.paused
    moved = now.lesson is not None and (seen.lesson != now.lesson or seen.class_id != now.class_id)
    if moved and not on_lessons:
        return Move(lesson=now.lesson, go=not busy, rerun=paused_changed)
    if paused_changed or (on_lessons and (seen.lesson, seen.class_id) != (now.lesson, now.class_id)):
        return Move(rerun=True)
    return None

"""One class per press of "Create the class": a second press (a double click, a click while the page was still
running) gives back the class the first one made instead of a twin with another code.

Size budget: ~40 lines.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING

import sqlalchemy as sa

from . import tables as t
from .classes import clean_name
from .records import ClassInfo

if TYPE_CHECKING:
    from .classes import Classroom

CREATE_AGAIN_S = 10.0  # a class of the same name by the same teacher made this recently is the same press


def create_once(room: Classroom, teacher: str, name: str = "", now: float | None = None) -> tuple[ClassInfo, bool]:
    """(the class, whether it is new): an open class this teacher made with this name in the last CREATE_AGAIN_S
    seconds is returned as it is; otherwise a new one is made (explorer.classroom.Classroom.create)."""
    now = time.time() if now is None else now
    k = t.classes.c
    recent = room.q(lambda c: c.execute(
        sa.select(k.id).where((k.teacher == teacher) & (k.name == clean_name(name, "My class")) &
                              (k.created > now - CREATE_AGAIN_S) & k.closed.is_(None))
        .order_by(k.created.desc()).limit(1)).scalar())
    found = room.get(recent) if recent is not None else None
    return (found, False) if found is not None else (room.create(teacher, name), True)

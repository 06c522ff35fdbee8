"""A class's language: the teacher sets it on the Class page; its students and the class screen read the app in it
unless they choose a language themselves (pages.lang). One row per class that has one (class_languages); clearing
the choice deletes the row, and each reader's own language (the browser's) applies again.
Size budget: ~40 lines.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from .. import i18n
from . import tables as t

if TYPE_CHECKING:
    from .classes import Classroom


def set_language(room: Classroom, class_id: str, code: str | None) -> None:
    """Set the class's language (a code `explorer.i18n` offers), or clear it with None. Raises ValueError with one
    sentence for a language the app does not have."""
    if code is not None and (code == i18n.PSEUDO or not i18n.offered(code)):
        raise ValueError(i18n._("This app has no catalogue for that language, so the class keeps its language."))
    c = t.class_languages.c

    def write(conn: sa.Connection) -> None:
        conn.execute(t.class_languages.delete().where(c.class_id == class_id))
        if code is not None:
            conn.execute(t.class_languages.insert().values(class_id=class_id, language=code))
    room.tx(write)


def language(room: Classroom, class_id: str) -> str | None:
    """The class's language, or None when the teacher set none (one query by primary key). A code whose catalogue
    has since been removed reads as None."""
    c = t.class_languages.c
    code = room.q(lambda conn: conn.execute(sa.select(c.language).where(c.class_id == class_id)).scalar())
    return code if code and i18n.offered(code) else None

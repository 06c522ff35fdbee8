"""LMS courses launched over LTI 1.3: each course's class, the one-time tickets that hand a launch to the app, the
course's roster from the LMS (who has not joined yet), and the LTI library's short-lived values (nonces, state).

A course is keyed by (issuer, deployment id, context id): the same course always reaches the same class, on every
replica (the key is a row, not a process's memory). A launch never gives the browser its owner id: it gets a random
ticket, valid for TICKET_LIFETIME_S and once, of which only the sha256 is stored; the Streamlit session redeems it.
Functions take the Classroom first, as explorer.classroom.questions does.
Size budget: ~250 lines.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..access.policy import Role
from ..i18n import N_, _
from . import staff
from . import tables as t
from .classes import clean_name, name_refusal
from .records import ClassError, ClassInfo

if TYPE_CHECKING:
    from .classes import Classroom

TICKET_LIFETIME_S = 60  # seconds from a launch to the app redeeming its ticket: one redirect, with room for a slow page
TEACHER, TA, MEMBER = "teacher", "ta", "member"  # what a launch makes someone in the course's class (LMS roles)
ROLES = (TEACHER, TA, MEMBER)
_TICKET_CHARS = 43  # secrets.token_urlsafe(32)
# Shown translated (ClassError(_(EXPIRED)) where raised): marked here for the catalogue.
EXPIRED = N_("This sign-in from your course has expired or was already used; open ResNet Explorer again from your "
             "course.")
NO_CLASS_YET = N_("Your teacher has not opened ResNet Explorer in this course yet; open it again once they have.")


@dataclass(frozen=True)
class Ticket:
    """A redeemed launch: who (owner id), in which class, as what (TEACHER, TA or MEMBER), with which name and
    lesson."""

    owner: str
    class_id: str
    role: str
    name: str
    lesson: str | None = None


@dataclass(frozen=True)
class RosterEntry:
    """One person of a course as the LMS lists them (names and roles service), by their owner id in the app."""

    owner: str
    name: str
    role: str


def course_key(issuer: str, deployment: str, context: str) -> str:
    """The id of a course: sha256 of its issuer, deployment id and context id (each may be up to 255 characters)."""
    return hashlib.sha256("\n".join((issuer, deployment, context)).encode()).hexdigest()


def course_class(room: Classroom, issuer: str, deployment: str, context: str, *, client_id: str, title: str,
                 teacher: str | None, memberships_url: str | None = None) -> ClassInfo:
    """The class of an LMS course, created on its first instructor launch and reused afterwards.

    Args:
        teacher: the launching instructor's owner id (the new class's teacher), or None for a learner's launch, which
            never creates a class: a learner before any instructor hears NO_CLASS_YET (ClassError).
        memberships_url: the course's roster service from this launch, kept for the roster sync.
    """
    key, c = course_key(issuer, deployment, context), t.lti_courses.c
    found = room.q(lambda conn: conn.execute(sa.select(c.class_id).where(c.id == key)).first())
    info = room.get(found.class_id) if found is not None else None
    if info is not None:
        if memberships_url:
            room.tx(lambda conn: conn.execute(t.lti_courses.update().where(c.id == key)
                                              .values(memberships_url=memberships_url)))
        return info
    if teacher is None:
        raise ClassError(_(NO_CLASS_YET))
    info = room.create(teacher, title or "LMS course")
    row = dict(id=key, class_id=info.id, issuer=issuer, deployment=deployment, context=context, client_id=client_id,
               memberships_url=memberships_url, created=time.time())

    def write(conn: sa.Connection) -> None:
        conn.execute(t.lti_courses.delete().where(c.id == key))  # a course whose class was deleted starts again
        conn.execute(t.lti_courses.insert().values(**row))
    if found is None:
        try:
            room.tx(lambda conn: conn.execute(t.lti_courses.insert().values(**row)))
        except sa.exc.IntegrityError:  # another instructor's first launch won: use its class, drop ours
            room.delete(info.id)
            return course_class(room, issuer, deployment, context, client_id=client_id, title=title, teacher=None,
                                memberships_url=memberships_url)
    else:
        room.tx(write)
    return info


def course_of(room: Classroom, class_id: str) -> dict[str, Any] | None:
    """The LMS course a class was made for ({issuer, deployment, context, client_id, memberships_url, synced}), or
    None for a class made on the Class page (one indexed query)."""
    c = t.lti_courses.c
    row = room.q(lambda conn: conn.execute(sa.select(t.lti_courses).where(c.class_id == class_id)).first())
    return dict(row._mapping) if row is not None else None


# ----------------------------------------------------------------------------- tickets
def _digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


def issue_ticket(room: Classroom, owner: str, class_id: str, role: str, name: str,
                 lesson: str | None = None) -> str:
    """A fresh one-time ticket for this launch (random, 43 characters); only its sha256 is stored."""
    if role not in ROLES:
        raise ValueError(f"A launch makes a teacher, a TA or a member, not {role!r}.")
    ticket, now = secrets.token_urlsafe(32), time.time()
    row = dict(digest=_digest(ticket), owner=owner, class_id=class_id, role=role, name=clean_name(name, "")[:40],
               lesson=lesson, expires=now + TICKET_LIFETIME_S)

    def write(conn: sa.Connection) -> None:
        conn.execute(t.lti_tickets.delete().where(t.lti_tickets.c.expires < now - 3600))  # old ones, used or not
        conn.execute(t.lti_tickets.insert().values(**row))
    room.tx(write)
    return ticket


def redeem_ticket(room: Classroom, ticket: object) -> Ticket:
    """The launch a ticket stands for, marked used in the same transaction (so it works once, on any replica).

    Raises ClassError(EXPIRED) for anything else: unknown, malformed, used or older than TICKET_LIFETIME_S.
    """
    if not isinstance(ticket, str) or len(ticket) != _TICKET_CHARS:
        raise ClassError(_(EXPIRED))
    digest, now, k = _digest(ticket), time.time(), t.lti_tickets.c

    def take(conn: sa.Connection) -> Any:
        taken = conn.execute(t.lti_tickets.update().where((k.digest == digest) & k.used.is_(None) & (k.expires >= now))
                             .values(used=now))
        if taken.rowcount != 1:
            return None
        return conn.execute(sa.select(t.lti_tickets).where(k.digest == digest)).first()
    row = room.tx(take)
    if row is None:
        raise ClassError(_(EXPIRED))
    r = row._mapping
    return Ticket(owner=r["owner"], class_id=r["class_id"], role=r["role"], name=r["name"], lesson=r["lesson"])


def enroll(room: Classroom, class_id: str, owner: str, role: str, name: str) -> None:
    """Give a launched person their place in the course's class: an instructor who did not create it becomes its
    co-teacher, a TA its TA (explorer.classroom.staff), a learner a member under the LMS's name (or "Student N" when
    that name is one the class keeps: a role word, another member's). Raises ClassError (one sentence) when the
    class is gone, or closed to a new learner."""
    info = room.get(class_id)
    if info is None:
        raise ClassError(_("The class of this course has been deleted; ask your teacher to open the tool again."))
    if role in (TEACHER, TA):
        if owner != info.teacher:
            staff.add_staff(room, class_id, owner, Role.CO_TEACHER if role == TEACHER else Role.TA,
                            name=f"{clean_name(name, 'LMS')[:40]} (from the LMS)")
        return
    taken = [m.name for m in room.members(info.id) if m.owner != owner]
    typed = clean_name(name, "")
    room.join(info.code, owner, typed if typed and name_refusal(typed, taken) is None else "")


# ----------------------------------------------------------------------------- the course's roster (NRPS)
def sync_roster(room: Classroom, class_id: str, entries: Iterable[RosterEntry]) -> int:
    """Replace the class's roster from the LMS with `entries` (one transaction); returns how many there are."""
    now = time.time()
    rows = {e.owner: dict(class_id=class_id, owner=e.owner, name=clean_name(e.name, "")[:40] or "(no name)",
                          role=e.role if e.role in ROLES else MEMBER, synced=now) for e in entries}

    def write(conn: sa.Connection) -> None:
        conn.execute(t.lti_roster.delete().where(t.lti_roster.c.class_id == class_id))
        if rows:
            conn.execute(t.lti_roster.insert(), list(rows.values()))
        conn.execute(t.lti_courses.update().where(t.lti_courses.c.class_id == class_id).values(synced=now))
    room.tx(write)
    return len(rows)


def not_joined(room: Classroom, class_id: str) -> list[RosterEntry]:
    """The course's learners (as the LMS's roster last said) who are not members of its class yet, by name (one
    query)."""
    r, m = t.lti_roster.c, t.class_members.c
    rows = room.q(lambda conn: conn.execute(
        sa.select(r.owner, r.name, r.role).select_from(t.lti_roster.outerjoin(
            t.class_members, (m.class_id == r.class_id) & (m.owner == r.owner)))
        .where((r.class_id == class_id) & (r.role == MEMBER) & m.owner.is_(None)).order_by(r.name)).all())
    return [RosterEntry(owner=row.owner, name=row.name, role=row.role) for row in rows]


# ----------------------------------------------------------------------------- the LTI library's values
def put_value(room: Classroom, key: str, value: object, lifetime_s: float) -> None:
    """Keep a JSON value under `key` for `lifetime_s` seconds (replacing one there); expired values are dropped."""
    now, v = time.time(), t.lti_launch_values.c
    row = dict(key=key[:200], value=json.dumps(value), expires=now + lifetime_s)

    def write(conn: sa.Connection) -> None:
        conn.execute(t.lti_launch_values.delete().where((v.key == row["key"]) | (v.expires < now)))
        conn.execute(t.lti_launch_values.insert().values(**row))
    room.tx(write)


def get_value(room: Classroom, key: str) -> Any:
    """The value kept under `key`, or None when there is none or it expired."""
    v = t.lti_launch_values.c
    row = room.q(lambda conn: conn.execute(sa.select(v.value).where((v.key == key[:200]) & (v.expires >= time.time())))
                 .first())
    return json.loads(row.value) if row is not None else None


def take_value(room: Classroom, key: str) -> bool:
    """Remove the value under `key`: True once, for the caller that removed it while it was valid (a nonce is used
    once: a second launch with the same id_token finds nothing)."""
    v = t.lti_launch_values.c
    gone = room.tx(lambda conn: conn.execute(t.lti_launch_values.delete().where(
        (v.key == key[:200]) & (v.expires >= time.time()))).rowcount)
    return gone == 1


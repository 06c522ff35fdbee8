"""A class's staff: its teacher (who created it), the co-teachers and teaching assistants they add, and invite links.

The teacher adds a co-teacher or a TA by e-mail (deployments with a school sign-in: the role waits under the e-mail's
key until that person signs in with a verified e-mail) or gives them a single-use invite link that expires (password
deployments: whoever opens it first gets the role, on their owner id). Only the token's sha256 is stored. What each
role may do is explorer.access.policy's; this module only says who holds which role, in a fixed number of indexed
queries (`staff_classes` runs on every page run that asks the policy: one query).
Size budget: ~200 lines.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..access.policy import STAFF_ROLES, Role
from ..i18n import _
from . import tables as t
from .records import ClassError, ClassInfo

if TYPE_CHECKING:
    from .classes import Classroom

INVITE_TTL_S = 7 * 24 * 3600  # an invite link's default life: a week
INVITE_MAX_TTL_S = 30 * 24 * 3600  # the longest a teacher may ask for
MAX_EMAIL = 254  # characters of an address (RFC 5321's path limit)
MAX_STAFF = 50  # co-teachers and TAs of one class: a staff list stays a list
_EMAIL_RE = re.compile(r"^[^@\s<>\"'`;,()\[\]\\]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
EMAIL_KEY_PREFIX = "m-"  # staff keys of people added by e-mail: never an owner id (cookies: hex; signed in: "u-")


@dataclass(frozen=True)
class StaffMember:
    """One of a class's staff: their key (an owner id, or email_key of an address), role, and what names them."""

    class_id: str
    owner: str
    role: Role
    name: str  # the e-mail they were added by, or "Invite link (<date>)"
    added_by: str | None
    added: float

    @property
    def by_email(self) -> bool:
        return self.owner.startswith(EMAIL_KEY_PREFIX)


def clean_email(text: object) -> str | None:
    """An e-mail address as typed (spaces trimmed, lower case), or None when it cannot be one."""
    if not isinstance(text, str) or len(text) > MAX_EMAIL:
        return None
    email = text.strip().lower()
    return email if _EMAIL_RE.match(email) and ".." not in email else None


def email_key(email: str) -> str:
    """The staff key of an e-mail address (34 characters; the address itself is kept beside it, as the name)."""
    return EMAIL_KEY_PREFIX + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:32]


def _keys(owner: str | None, email: str | None) -> list[str]:
    clean = clean_email(email) if email else None
    return [k for k in (owner, email_key(clean) if clean else None) if k]


def _role(value: object) -> Role:
    role = Role(value)
    if role not in STAFF_ROLES:
        raise ClassError(_("A class's teacher can add co-teachers and teaching assistants only."))
    return role


def add_staff(room: Classroom, class_id: str, owner: str, role: Role | str, by: str | None = None,
              name: str = "") -> StaffMember:
    """Give `owner` (an owner id, or email_key(...)) the role `role` (co-teacher or TA) in the class; adding
    someone again changes their role. The class's own teacher cannot be added. Raises ClassError (one sentence)."""
    info = room.get(class_id)
    if info is None:
        raise ClassError(_("That class no longer exists."))
    if owner == info.teacher:
        raise ClassError(_("That person is already the class's teacher."))
    member = StaffMember(class_id, owner, _role(role), (name or "Invite link")[:MAX_EMAIL], by, time.time())
    room.tx(lambda conn: _put(conn, member))
    return member


def _put(conn: sa.Connection, member: StaffMember) -> None:
    """Write one staff row inside a transaction: a new one, or the role of one already there."""
    s = t.class_staff.c
    where = (s.class_id == member.class_id) & (s.owner == member.owner)
    if conn.execute(sa.select(s.owner).where(where)).first():
        conn.execute(t.class_staff.update().where(where).values(role=member.role.value))
        return
    if conn.execute(sa.select(sa.func.count()).where(s.class_id == member.class_id)).scalar_one() >= MAX_STAFF:
        raise ClassError(_("A class has at most {n} co-teachers and TAs; remove one first.").format(n=MAX_STAFF))
    conn.execute(t.class_staff.insert().values(class_id=member.class_id, owner=member.owner, role=member.role.value,
                                               name=member.name, added_by=member.added_by, added=member.added))


def add_staff_by_email(room: Classroom, class_id: str, email: object, role: Role | str,
                       by: str | None = None) -> StaffMember:
    """Give the person who signs in with this (verified) e-mail the role in the class. Raises ClassError."""
    clean = clean_email(email)
    if clean is None:
        raise ClassError(_("That is not an e-mail address; type it as name@school.edu."))
    return add_staff(room, class_id, email_key(clean), role, by, name=clean)


def remove_staff(room: Classroom, class_id: str, owner: str) -> None:
    """Take a co-teacher's or TA's role away (their own jobs and answers stay)."""
    s = t.class_staff.c
    room.tx(lambda c: c.execute(t.class_staff.delete().where((s.class_id == class_id) & (s.owner == owner))))


def class_staff(room: Classroom, class_id: str) -> list[StaffMember]:
    """The class's co-teachers and TAs, in the order they were added (one query)."""
    s = t.class_staff.c
    rows = room.q(lambda c: c.execute(sa.select(t.class_staff).where(s.class_id == class_id)
                                      .order_by(s.added)).all())
    return [StaffMember(r.class_id, r.owner, Role(r.role), r.name, r.added_by, float(r.added)) for r in rows]


def class_role(room: Classroom, class_id: str, owner: str | None, email: str | None = None) -> Role | None:
    """The role `owner` (signed in with `email`, if any) holds in the class: CLASS_TEACHER for its creator, else
    CO_TEACHER or TA, else None. Two indexed queries at most."""
    return staff_classes(room, owner, email).get(class_id)


def staff_classes(room: Classroom, owner: str | None, email: str | None = None,
                  created: bool = True) -> dict[str, Role]:
    """{class id: role} for every class `owner` (or their verified `email`) helps run, open or closed: the classes
    they created (CLASS_TEACHER; left out when not `created`: SignInRules.creator_counts) and those they were added
    to. Two indexed queries on one read connection, whatever the store."""
    keys = _keys(owner, email)
    if not keys:
        return {}
    s, k = t.class_staff.c, t.classes.c

    def read(conn: sa.Connection) -> list[tuple[str, str]]:
        rows = [(r.class_id, r.role) for r in conn.execute(sa.select(s.class_id, s.role).where(s.owner.in_(keys)))]
        if owner and created:
            rows += [(i, Role.CLASS_TEACHER.value) for i in conn.execute(sa.select(k.id).where(k.teacher == owner))
                     .scalars()]
        return rows
    out: dict[str, Role] = {}
    for class_id, role in room.q(read):
        held = Role(role)
        if class_id not in out or _rank(held) < _rank(out[class_id]):  # the strongest role wins
            out[class_id] = held
    return out


def _rank(role: Role) -> int:
    return (Role.CLASS_TEACHER, Role.CO_TEACHER, Role.TA).index(role)


def job_classes(room: Classroom, exp_id: str) -> frozenset[str]:
    """The classes a job was started in (its student's class): a class role counts toward it there only."""
    j = t.class_jobs.c
    return frozenset(room.q(lambda c: c.execute(sa.select(j.class_id).where(j.exp_id == exp_id)).scalars().all()))


# ------------------------------------------------------------------ invite links
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invite(room: Classroom, class_id: str, role: Role | str, by: str | None = None,
                  ttl_s: float = INVITE_TTL_S) -> str:
    """A fresh single-use invite token for a co-teacher or TA of the class, valid `ttl_s` seconds (at most 30 days).

    Returns the token (for the link `?staff=TOKEN`): shown once; only its sha256 is stored.
    """
    chosen = _role(role)
    if room.get(class_id) is None:
        raise ClassError(_("That class no longer exists."))
    token, now = secrets.token_urlsafe(24), time.time()
    life = min(max(60.0, float(ttl_s)), INVITE_MAX_TTL_S)
    room.tx(lambda c: c.execute(t.class_invites.insert().values(
        token_hash=_token_hash(token), class_id=class_id, role=chosen.value, created_by=by, created=now,
        expires=now + life)))
    return token


def clean_token(text: object) -> str | None:
    """An invite token as linked (url-safe base64, 16-64 characters), or None."""
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", text.strip()):
        return None
    return text.strip()


def peek_invite(room: Classroom, token: object) -> tuple[ClassInfo, Role]:
    """What an invite link would give (its class and role), without spending it. Raises ClassError like
    redeem_invite for an unknown, used or expired link."""
    clean = clean_token(token)
    if clean is None:
        raise ClassError(_("That invite link is not one this server made; ask the class's teacher for a new one."))
    return room.q(lambda conn: _usable(conn, clean, time.time()))[:2]


def _usable(conn: sa.Connection, token: str, now: float) -> tuple[ClassInfo, Role, str]:
    """(class, role, token hash) of an unspent, unexpired invite token, or ClassError with its sentence."""
    i = t.class_invites.c
    row = conn.execute(sa.select(t.class_invites).where(i.token_hash == _token_hash(token))).first()
    if row is None:
        raise ClassError(_("That invite link is not one this server made; ask the class's teacher for a new one."))
    if row.used is not None:
        raise ClassError(_("That invite link has been used already; ask the class's teacher for a new one."))
    if row.expires <= now:
        raise ClassError(_("That invite link has expired; ask the class's teacher for a new one."))
    found = conn.execute(sa.select(t.classes).where(t.classes.c.id == row.class_id)).first()
    if found is None:
        raise ClassError(_("That class no longer exists."))
    return _class_info(found), Role(row.role), row.token_hash


def redeem_invite(room: Classroom, token: object, owner: str) -> tuple[ClassInfo, Role]:
    """Use an invite link: its role in its class goes to `owner`, and the link is spent (single use, in one
    transaction). Raises ClassError with one sentence for an unknown, used or expired link."""
    clean = clean_token(token)
    if clean is None:
        raise ClassError(_("That invite link is not one this server made; ask the class's teacher for a new one."))
    i = t.class_invites.c
    now = time.time()

    def write(conn: sa.Connection) -> tuple[ClassInfo, Role]:
        info, role, token_hash = _usable(conn, clean, now)
        spent = conn.execute(t.class_invites.update().where((i.token_hash == token_hash) & i.used.is_(None))
                             .values(used=now, used_by=owner))
        if spent.rowcount != 1:  # another tab spent it at the same moment
            raise ClassError(_("That invite link has been used already; ask the class's teacher for a new one."))
        if owner != info.teacher:  # the teacher opening their own link keeps their role (and spends it)
            _put(conn, StaffMember(info.id, owner, role, f"Invite link ({time.strftime('%Y-%m-%d')})", "invite", now))
        return info, role
    return room.tx(write)


def _class_info(row: sa.Row) -> ClassInfo:
    r = row._mapping
    return ClassInfo(id=r["id"], code=r["code"], name=r["name"], teacher=r["teacher"], created=float(r["created"]),
                     closed=r["closed"], lesson=r["lesson"])


def pending_invites(room: Classroom, class_id: str) -> int:
    """How many of the class's invite links are still unused and unexpired (one query)."""
    i = t.class_invites.c
    return int(room.q(lambda c: c.execute(sa.select(sa.func.count()).where(
        (i.class_id == class_id) & i.used.is_(None) & (i.expires > time.time()))).scalar_one()))


def revoke_invites(room: Classroom, class_id: str) -> None:
    """Spend every unused invite link of the class at once (a link sent to the wrong person)."""
    i = t.class_invites.c
    room.tx(lambda c: c.execute(t.class_invites.update().where((i.class_id == class_id) & i.used.is_(None))
                                .values(used=time.time(), used_by="revoked")))

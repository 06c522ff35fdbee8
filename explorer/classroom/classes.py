"""Classes in the run database: create and close them, join by code, the teacher's roster, the class's runs.

A class link grants membership, never rights: the owner cookie stays the student's identity and only teacher
mode stops or deletes others' jobs (explorer.access.policy). Every read the teacher's live view makes is a
fixed number of indexed queries, whatever the number of students (docs/benchmarks.md, "Classroom").
Size budget: ~250 lines.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import secrets
import time
import unicodedata
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from ..i18n import _
from ..store import db
from ..store.runstore import RunStore
from ..training.experiments import ExperimentSpec
from . import tables as t
from .records import ClassError, ClassInfo, Member, RosterRow

T = TypeVar("T")
if TYPE_CHECKING:
    from ..store.db import Row

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a projector
CODE_LENGTH = 6
MAX_NAME = 40  # characters of a class or display name: fits a roster row and a projector
_CODE_RE = re.compile(rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$")
# Names no student may take, compared after folding (name_skeleton): the teacher's role, and the names the class
# itself gives ("Student 7"), so that nobody can pass for the teacher or for another student on a projector.
RESERVED_NAME_PARTS = ("teacher", "instructor", "admin", "moderator", "professor")
_GIVEN_NAME = re.compile(r"student\d*")  # "Student 3", the name of a member who gave none (join)
# Letters that look like Latin ones in most fonts (Cyrillic and Greek, both cases), folded onto them. A short table
# written for names, not Unicode's full confusables list: enough that "Теаcher" or "Ѕtudent 1" is seen for what it is.
_LOOK_ALIKES = str.maketrans({
    "а": "a", "А": "a", "в": "b", "В": "b", "е": "e", "Е": "e", "ё": "e", "Ё": "e", "һ": "h", "Н": "h",
    "і": "i", "І": "i", "ї": "i", "ј": "j", "Ј": "j", "к": "k", "К": "k", "м": "m", "М": "m", "о": "o",
    "О": "o", "р": "p", "Р": "p", "с": "c", "С": "c", "ѕ": "s", "Ѕ": "s", "т": "t", "Т": "t", "у": "y",
    "У": "y", "х": "x", "Х": "x", "ԁ": "d", "ԛ": "q", "ԝ": "w", "Ԝ": "w", "г": "r", "п": "n", "ь": "b",
    "α": "a", "Α": "a", "β": "b", "Β": "b", "ε": "e", "Ε": "e", "Ζ": "z", "η": "n", "Η": "h", "ι": "i",
    "Ι": "i", "κ": "k", "Κ": "k", "Μ": "m", "ν": "v", "Ν": "n", "ο": "o", "Ο": "o", "ρ": "p", "Ρ": "p",
    "τ": "t", "Τ": "t", "υ": "u", "Υ": "y", "χ": "x", "Χ": "x", "ω": "w", "ѡ": "w",
})


def clean_code(text: object) -> str | None:
    """A class code as typed or linked (case and spaces forgiven), or None when it cannot be one."""
    if not isinstance(text, str) or len(text) > 40:
        return None
    code = re.sub(r"[\s-]", "", text).upper()
    return code if _CODE_RE.match(code) else None


def clean_name(text: object, fallback: str) -> str:
    """A display name: letters, digits, spaces and - ' . _ only (nothing a page could render as markup or a link),
    at most 40 characters, or the fallback ("Student 7") when nothing is left."""
    name = "".join(ch for ch in str(text or "")[:200] if ch.isalnum() or ch in " -'._")
    return " ".join(name.split())[:MAX_NAME] or fallback


def name_skeleton(text: object) -> str:
    """What a name looks like, for comparing names: compatibility forms unified (NFKC: full-width letters, ligatures,
    superscript digits), accents dropped, Cyrillic and Greek look-alikes folded onto Latin letters, case folded,
    and only letters and digits kept ("Т е а с h е r" and "teacher" have one skeleton)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", str(text)))
    bare = "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_LOOK_ALIKES).casefold()
    return "".join(ch for ch in bare.translate(_LOOK_ALIKES) if ch.isalnum())


def _reads_as_role(name: str, skeleton: str) -> bool:
    """Whether a name reads as a role word: the whole name or one of its words begins or ends with one ("Teacher",
    "Mr Teacher", "TeacherAnn", "T e a c h e r"), while a word that only holds one inside ("Badminton") is fine."""
    words = [name_skeleton(word) for word in re.split(r"[\s\-'._]+", str(name))] + [skeleton]
    return any(word.startswith(part) or word.endswith(part) for word in words if word for part in RESERVED_NAME_PARTS)


def name_refusal(name: str, taken: Iterable[str] = ()) -> str | None:
    """The one sentence refusing a display name, or None when it may be used.

    Refused: names that read as the teacher's role (a word that begins or ends with one of RESERVED_NAME_PARTS),
    the names the class gives ("Student 3"), and a name that looks like one another member already has (`taken`).
    """
    skeleton = name_skeleton(name)
    if _reads_as_role(name, skeleton) or _GIVEN_NAME.fullmatch(skeleton):
        return _("That name is kept for the teacher or given by the class; choose your own name.")
    if skeleton and skeleton in {name_skeleton(other) for other in taken}:
        return _("Someone in the class already has a name that looks like that one; choose another.")
    return None


def student_seed(class_id: str, owner: str) -> int:
    """Each student's own seed in a class: deterministic per (class, student), so a rerun attaches to their job."""
    return int(hashlib.sha256(f"{class_id}:{owner}".encode()).hexdigest()[:8], 16) % 1_000_000


def member_id(class_id: str, owner: str) -> str:
    """A member's short stable id in a class, for pages (widget keys, which the browser sees): the owner id is a
    right to stop and delete jobs, so it never goes into a page."""
    return hashlib.sha256(f"member:{class_id}:{owner}".encode()).hexdigest()[:12]


def seeded_spec(spec: ExperimentSpec, class_id: str, owner: str) -> ExperimentSpec:
    """The spec with the student's own seed (an ExperimentSpec): identical requests of two students differ."""
    return dataclasses.replace(spec, train=dataclasses.replace(spec.train, seed=student_seed(class_id, owner)))


def _info(row: Row) -> ClassInfo:
    r = row._mapping
    return ClassInfo(id=r["id"], code=r["code"], name=r["name"], teacher=r["teacher"], created=float(r["created"]),
                     closed=r["closed"], lesson=r["lesson"])


class Classroom:
    """The classroom's reads and writes on the run store's database (its own small engines, the same URL)."""

    def __init__(self, store: RunStore) -> None:
        self.store = store
        self._read, self._write = db.make_engines(store.url)
        try:
            db.retrying(lambda: t.ensure_tables(self._write))
        except sa.exc.IntegrityError:  # another process created them at the same moment
            db.retrying(lambda: t.ensure_tables(self._write))

    @property
    def reader(self) -> sa.Engine:
        """The read engine (benchmarks and tests count its queries)."""
        return self._read

    def close_engines(self) -> None:
        self._read.dispose()
        self._write.dispose()

    def tx(self, fn: Callable[[sa.Connection], T]) -> T:
        """fn(connection) in one write transaction, retried while the database is busy."""
        return db.run_in(self._write, fn)

    def q(self, fn: Callable[[sa.Connection], T]) -> T:
        """fn(connection) on a read connection (one consistent snapshot), retried while the database is busy."""
        return db.run_in(self._read, fn)

    # ------------------------------------------------------------------ classes
    def create(self, teacher: str, name: str = "") -> ClassInfo:
        """A new open class with a fresh short code (the teacher's owner id is kept, for their view)."""
        for _try in range(20):
            info = ClassInfo(id=secrets.token_hex(8), code="".join(secrets.choice(CODE_ALPHABET)
                                                                   for _i in range(CODE_LENGTH)),
                             name=clean_name(name, "My class"), teacher=teacher, created=time.time())
            row = dataclasses.asdict(info)
            try:
                self.tx(lambda c: c.execute(t.classes.insert().values(**row)))  # noqa: B023 - run before the next
                return info
            except sa.exc.IntegrityError:  # the code is taken: draw another
                continue
        raise ClassError(_("No free class code was found; try again."))

    def get(self, class_id: str) -> ClassInfo | None:
        row = self.q(lambda c: c.execute(sa.select(t.classes).where(t.classes.c.id == class_id)).first())
        return _info(row) if row is not None else None

    def find(self, typed: object) -> ClassInfo | None:
        """The class with this code (typed or linked), or None."""
        code = clean_code(typed)
        if code is None:
            return None
        row = self.q(lambda c: c.execute(sa.select(t.classes).where(t.classes.c.code == code)).first())
        return _info(row) if row is not None else None

    def teacher_classes(self, teacher: str | None = None, include_closed: bool = False) -> list[ClassInfo]:
        """Classes, newest first: every class (teacher mode sees all), or one teacher's."""
        query = sa.select(t.classes).order_by(t.classes.c.created.desc())
        if teacher is not None:
            query = query.where(t.classes.c.teacher == teacher)
        if not include_closed:
            query = query.where(t.classes.c.closed.is_(None))
        return [_info(r) for r in self.q(lambda c: c.execute(query).all())]

    def close(self, class_id: str) -> None:
        """Close a class: its link then refuses joins with one sentence (members and runs are kept)."""
        self.tx(lambda c: c.execute(t.classes.update().where(t.classes.c.id == class_id)
                                    .values(closed=time.time())))

    def reopen(self, class_id: str) -> None:
        """Open a closed class again: its link takes new members."""
        self.tx(lambda c: c.execute(t.classes.update().where(t.classes.c.id == class_id).values(closed=None)))

    def set_lesson(self, class_id: str, lesson: str | None) -> None:
        """Put the class on a lesson ("follow me"), or None to let everyone walk alone."""
        self.tx(lambda c: c.execute(t.classes.update().where(t.classes.c.id == class_id).values(lesson=lesson)))

    # ------------------------------------------------------------------ members
    def join(self, code: object, owner: str, name: str = "") -> tuple[ClassInfo, Member]:
        """Join a class by its code; a member who joins again only changes their name.

        Returns (ClassInfo, Member). Raises ClassError (one sentence) for an unknown or closed class, or a name that
        passes for the teacher, for a name the class gives, or for another member's (name_refusal).
        """
        info = self.find(code)
        if info is None:
            raise ClassError(_("There is no class with that code; check it with your teacher."))
        if not info.is_open:
            raise ClassError(_("This class has been closed by its teacher, so it takes no new members."))
        m = t.class_members.c

        def write(conn: sa.Connection) -> Member:
            old = conn.execute(sa.select(t.class_members).where((m.class_id == info.id) & (m.owner == owner))).first()
            typed = clean_name(name, "")
            if typed:
                others = conn.execute(sa.select(m.name).where((m.class_id == info.id) & (m.owner != owner))).scalars()
                refusal = name_refusal(typed, others)
                if refusal is not None:
                    raise ClassError(refusal)
            if old is not None:
                chosen = clean_name(name, old._mapping["name"])
                conn.execute(t.class_members.update().where((m.class_id == info.id) & (m.owner == owner))
                             .values(name=chosen))
                return Member(info.id, owner, chosen, old._mapping["joined"])
            count = conn.execute(sa.select(sa.func.count()).where(m.class_id == info.id)).scalar_one()
            member = Member(info.id, owner, clean_name(name, f"Student {count + 1}"), time.time())
            conn.execute(t.class_members.insert().values(**dataclasses.asdict(member)))
            return member
        return info, self.tx(write)

    def membership(self, owner: str) -> tuple[ClassInfo, Member] | None:
        """(ClassInfo, Member) of the newest open class this owner belongs to, or None (one query)."""
        m, k = t.class_members.c, t.classes.c
        row = self.q(lambda c: c.execute(
            sa.select(t.classes, m.name.label("member_name"), m.joined)
            .join(t.class_members, m.class_id == k.id)
            .where((m.owner == owner) & k.closed.is_(None)).order_by(m.joined.desc()).limit(1)).first())
        if row is None:
            return None
        info = _info(row)
        return info, Member(info.id, owner, row._mapping["member_name"], row._mapping["joined"])

    def leave(self, class_id: str, owner: str) -> None:
        """Leave a class: the membership goes, so the student is a lone user again. Their runs and answers stay with
        the class's records (a tally counts members only; joining again counts them again)."""
        m = t.class_members.c
        self.tx(lambda c: c.execute(t.class_members.delete().where((m.class_id == class_id) & (m.owner == owner))))

    def delete(self, class_id: str) -> None:
        """Delete a class with its members, questions, answers, own lessons and records of its jobs (one transaction).

        The students' experiments themselves are never touched: they stay in the run store, with their owners.
        """
        q = t.class_questions.c

        def write(conn: sa.Connection) -> None:
            asked = sa.select(q.id).where(q.class_id == class_id)
            conn.execute(t.class_answers.delete().where(t.class_answers.c.question_id.in_(asked)))
            for table in t.TABLES:  # every table of the class's own rows (the screen, snapshots, ...), then the class
                if table is not t.classes and "class_id" in table.c:
                    conn.execute(table.delete().where(table.c.class_id == class_id))
            conn.execute(t.classes.delete().where(t.classes.c.id == class_id))
        self.tx(write)

    def members(self, class_id: str) -> list[Member]:
        m = t.class_members.c
        rows = self.q(lambda c: c.execute(sa.select(t.class_members).where(m.class_id == class_id)
                                          .order_by(m.joined)).all())
        return [Member(**r._mapping) for r in rows]

    # ------------------------------------------------------------------ jobs
    def record_job(self, class_id: str, owner: str, exp_id: str, seed: int | None) -> None:
        """Remember that this experiment was started inside the class (again: nothing changes)."""
        j = t.class_jobs.c

        def write(conn: sa.Connection) -> None:
            if conn.execute(sa.select(j.exp_id).where((j.class_id == class_id) & (j.exp_id == exp_id))).first():
                return
            conn.execute(t.class_jobs.insert().values(class_id=class_id, exp_id=exp_id, owner=owner, seed=seed,
                                                      created=time.time()))
        self.tx(write)

    def member_spec(self, spec: ExperimentSpec, owner: str) -> tuple[ExperimentSpec, str | None]:
        """The experiment as this owner starts it, and the id of their class (None: a lone user, spec unchanged).

        Inside a class the spec gets the student's own seed (seeded_spec), so the class's Figure 6 has one run per
        student instead of one shared job; record the started job with record_member_job. One query.
        """
        mine = self.membership(owner)
        if mine is None:
            return spec, None
        return seeded_spec(spec, mine[0].id, owner), mine[0].id

    def record_member_job(self, class_id: str, owner: str, exp_id: str) -> None:
        """Record a job a member started (after member_spec) as the class's, with the member's seed."""
        self.record_job(class_id, owner, exp_id, student_seed(class_id, owner))

    def is_class_job(self, class_id: str, exp_id: str) -> bool:
        j = t.class_jobs.c
        return self.q(lambda c: c.execute(sa.select(j.exp_id).where((j.class_id == class_id) &
                                                                    (j.exp_id == exp_id))).first()) is not None

    def roster(self, class_id: str) -> list[RosterRow]:
        """Every member with their newest class job, its progress and its runs' final errors: three queries."""
        j, e, r = t.class_jobs.c, db.experiments.c, db.runs.c

        def read(conn: sa.Connection) -> tuple[list[Row], list[Row], dict[str, Row], list[Row]]:
            members = conn.execute(sa.select(t.class_members).where(t.class_members.c.class_id == class_id)
                                   .order_by(t.class_members.c.joined)).all()
            jobs = conn.execute(sa.select(j.owner, j.exp_id, j.seed, e.status, e.progress)
                                .join(db.experiments, e.id == j.exp_id).where(j.class_id == class_id)
                                .order_by(j.created)).all()
            newest = {row.owner: row for row in jobs}
            runs = conn.execute(sa.select(r.exp_id, r.name, r.final).where(
                r.exp_id.in_([row.exp_id for row in newest.values()])).order_by(r.exp_id, r.position)).all() \
                if newest else []
            return list(members), list(jobs), newest, list(runs)
        members, jobs, newest, runs = self.q(read)
        finals: dict[str, list[tuple[str, float | None, float | None]]] = {}
        for row in runs:
            final = _json(row.final) or {}
            finals.setdefault(row.exp_id, []).append((row.name, _num(final.get("train_error")),
                                                      _num(final.get("test_error"))))
        counts: dict[str, int] = {}
        for row in jobs:
            counts[row.owner] = counts.get(row.owner, 0) + 1
        out = []
        for mem in members:
            job = newest.get(mem.owner)
            if job is None:
                out.append(RosterRow(owner=mem.owner, name=mem.name, member=member_id(class_id, mem.owner)))
                continue
            progress = _json(job.progress) or {}
            total = _num(progress.get("total_steps"))
            fraction = min(1.0, (_num(progress.get("step")) or 0) / total) if total else None
            out.append(RosterRow(owner=mem.owner, name=mem.name, member=member_id(class_id, mem.owner),
                                 exp_id=job.exp_id, status=job.status,
                                 fraction=fraction if job.status == "running" else None, seed=job.seed,
                                 finals=tuple(finals.get(job.exp_id, ())), jobs=counts[mem.owner]))
        return out

    def finished_jobs(self, class_id: str, spec_kind: str = "sweep") -> tuple[str, ...]:
        """Ids of the class's completed experiments of one kind, sorted (one query): the class chart's version."""
        j, e = t.class_jobs.c, db.experiments.c
        return tuple(sorted(row.exp_id for row in self.q(lambda c: c.execute(
            sa.select(j.exp_id).join(db.experiments, e.id == j.exp_id)
            .where((j.class_id == class_id) & (e.status == "completed") & (e.spec_kind == spec_kind))).all())))

    def epoch_curves(self, class_id: str, spec_kind: str = "sweep",
                     ids: Iterable[str] | None = None) -> dict[str, list[list[dict[str, Any]]]]:
        """The class's finished runs of one experiment kind, as {run name: [[epoch record, ...] per student run]}.

        Only completed experiments count (a stopped or running one would pull the median); two queries (one when
        `ids`, from finished_jobs, is given). Pages cache the result by those ids: it changes only when a job ends.
        """
        mt = db.metrics.c
        wanted = list(ids) if ids is not None else list(self.finished_jobs(class_id, spec_kind))

        def read(conn: sa.Connection) -> list[Row]:
            if not wanted:
                return []
            return list(conn.execute(sa.select(mt.exp_id, mt.run_id, mt.record).where(
                mt.exp_id.in_(wanted) & (mt.type == "epoch")).order_by(mt.exp_id, mt.run_id, mt.seq)).all())
        curves: dict[str, dict[str, list[dict[str, Any]]]] = {}
        for row in self.q(read):
            rec = _json(row.record)
            if isinstance(rec, dict):
                curves.setdefault(str(rec.get("run") or row.run_id), {}).setdefault(row.exp_id, []).append(rec)
        return {name: list(by_exp.values()) for name, by_exp in curves.items()}

    def experiment_specs(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """{experiment id: its spec} for these experiments (one query): the class's charts pool only like with like
        (explorer.training.experiments.like_with_like)."""
        e, wanted = db.experiments.c, list(ids)
        rows = self.q(lambda c: c.execute(sa.select(e.id, e.spec).where(e.id.in_(wanted))).all()) if wanted else []
        return {row.id: spec for row in rows if isinstance(spec := _json(row.spec), dict)}


def _json(text: str | None) -> Any:  # whatever JSON the column holds; callers check its shape
    try:
        return json.loads(text) if text else None
    except (TypeError, ValueError):
        return None


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None

"""Predict, then observe: a teacher's question gates each student's curves until they answer or it is revealed.

Answers are kept with the class (one row per student and question, so the tally counts each student once;
answering again changes the answer). The tally is one grouped query. A lesson's prediction is kept the same way,
as the class's implicit question for that lesson (lesson_question), and the teacher's tally of every lesson is one
grouped query too (lesson_tallies). Which views a question hides, from whom, is decided once in
explorer.classroom.gating (every page asks it).
Size budget: ~200 lines.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..i18n import _, count, ngettext
from . import tables as t
from .records import ClassError, Question, Tally

if TYPE_CHECKING:
    from ..store.db import Row
    from ..training.recipes import TrainConfig
    from .classes import Classroom
    from .lessons import Lesson

MAX_PROMPT = 400  # characters of a question the teacher asks
MAX_CHOICES = 6  # answers offered: a tally chart stays readable on a projector
MAX_CHOICE = 80  # characters of one answer
GATED_KINDS = ("sweep", "twin", "compare")  # the experiment kinds a question may gate (sweep: Figure 6)
LESSON_PREFIX = "lesson:"  # a lesson's implicit question: its `experiment` is "lesson:<key>", which gates nothing


def figure6_question(train: TrainConfig) -> str:
    """The teacher's default question for Figure 6, with the class's own recipe length (epochs or steps)."""
    length = ngettext("{n} step", "{n} steps", train.steps).format(n=count(train.steps)) if train.steps else \
        ngettext("{n} epoch", "{n} epochs", train.epochs).format(n=count(train.epochs))
    return _("Which ends with the higher training error after {length}: plain-20 or plain-56?").format(
        length=length)  # plain text: no markup


def question_from_row(row: Row) -> Question:
    """A class_questions row as a Question (a damaged choices list reads as none: a number answer)."""
    r = row._mapping
    try:
        choices = tuple(str(c) for c in json.loads(r["choices"] or "[]"))
    except (TypeError, ValueError):
        choices = ()
    return Question(id=r["id"], class_id=r["class_id"], experiment=r["experiment"], prompt=r["prompt"],
                    choices=choices, opened=float(r["opened"]), revealed=r["revealed"])


def open_question(room: Classroom, class_id: str, prompt: str, choices: Iterable[object] = (),
                  experiment: str = "sweep") -> Question:
    """Ask the class a question tied to an experiment kind; no choices means a number answer.

    Raises ClassError (one sentence) for an empty prompt, an unknown kind, or too many or too long choices.
    """
    prompt = "".join(ch for ch in str(prompt or "") if ch.isprintable()).strip()
    kept = [c.strip() for c in choices if isinstance(c, str) and c.strip()]
    if not prompt or len(prompt) > MAX_PROMPT:
        raise ClassError(_("A question needs a prompt of 1 to {most} characters.").format(most=MAX_PROMPT))
    if experiment not in GATED_KINDS:
        raise ClassError(_("A question is tied to one of {kinds}; got {kind}.").format(
            kinds=", ".join(GATED_KINDS), kind=repr(experiment[:40])))
    if len(kept) > MAX_CHOICES or any(len(c) > MAX_CHOICE for c in kept) or len(set(kept)) != len(kept):
        raise ClassError(_("Give at most {n} different choices of at most {most} characters.").format(
            n=MAX_CHOICES, most=MAX_CHOICE))
    q = Question(id=secrets.token_hex(8), class_id=class_id, experiment=experiment, prompt=prompt,
                 choices=tuple(kept), opened=time.time())
    room.tx(lambda c: c.execute(t.class_questions.insert().values(
        id=q.id, class_id=class_id, experiment=experiment, prompt=prompt, choices=json.dumps(kept),
        opened=q.opened)))
    return q


def class_questions(room: Classroom, class_id: str) -> list[Question]:
    """The class's questions, newest first (the lessons' implicit prediction questions are not among them)."""
    qc = t.class_questions.c
    return [question_from_row(r) for r in room.q(lambda c: c.execute(
        sa.select(t.class_questions).where((qc.class_id == class_id) & ~qc.experiment.startswith(LESSON_PREFIX))
        .order_by(qc.opened.desc())).all())]


def answer(room: Classroom, question: Question, owner: str, value: object) -> str:
    """Record (or change) a student's answer; returns it as kept. ClassError for an answer that is not allowed."""
    if question.is_number:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or len(str(value)) > 40:
            raise ClassError(_("Answer with a number, such as 12 or 3.5."))
        kept = f"{number:g}"
    else:
        kept = str(value)
        if kept not in question.choices:
            raise ClassError(_("Pick one of the question's choices."))
    a = t.class_answers.c

    def write(conn: sa.Connection) -> None:
        where = (a.question_id == question.id) & (a.owner == owner)
        if conn.execute(sa.select(a.owner).where(where)).first() is None:
            conn.execute(t.class_answers.insert().values(question_id=question.id, owner=owner, answer=kept,
                                                         answered=time.time()))
        else:
            conn.execute(t.class_answers.update().where(where).values(answer=kept, answered=time.time()))
    room.tx(write)
    return kept


def my_answer(room: Classroom, question_id: str, owner: str) -> str | None:
    a = t.class_answers.c
    row = room.q(lambda c: c.execute(sa.select(a.answer).where((a.question_id == question_id) &
                                                               (a.owner == owner))).first())
    return row[0] if row is not None else None


def tally(room: Classroom, question: Question) -> Tally:
    """Counts per answer (choices in their order first) and how many members the class has: two queries.

    Only the answers of the class's members count: a student who left is no longer in the tally.
    """
    a, m = t.class_answers.c, t.class_members.c

    def read(conn: sa.Connection) -> tuple[list[Row], int]:
        rows = conn.execute(sa.select(a.answer, sa.func.count()).select_from(t.class_answers.join(
            t.class_members, (m.owner == a.owner) & (m.class_id == question.class_id)))
            .where(a.question_id == question.id).group_by(a.answer)).all()
        members = conn.execute(sa.select(sa.func.count()).where(m.class_id == question.class_id)).scalar_one()
        return list(rows), int(members)
    rows, members = room.q(read)
    found = {r[0]: int(r[1]) for r in rows}
    order = list(question.choices) + sorted((k for k in found if k not in question.choices),
                                            key=lambda s: (float(s) if _is_number(s) else math.inf, s))
    counts = tuple((k, found.get(k, 0)) for k in order)
    return Tally(counts=counts, answered=sum(found.values()), members=int(members))


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def reveal(room: Classroom, question_id: str) -> None:
    """Show the tally to everyone and every student's curves, answered or not."""
    qc = t.class_questions.c
    room.tx(lambda c: c.execute(t.class_questions.update().where(qc.id == question_id).values(revealed=time.time())))


def pending_question(room: Classroom, class_id: str, owner: str, experiment: str) -> Question | None:
    """The newest unrevealed question on this experiment kind that this student has not answered (one query)."""
    qc, a = t.class_questions.c, t.class_answers.c
    answered = sa.exists().where((a.question_id == qc.id) & (a.owner == owner))
    row = room.q(lambda c: c.execute(
        sa.select(t.class_questions).where((qc.class_id == class_id) & (qc.experiment == experiment) &
                                           qc.revealed.is_(None) & ~answered)
        .order_by(qc.opened.desc()).limit(1)).first())
    return question_from_row(row) if row is not None else None


def latest_question(room: Classroom, class_id: str, experiment: str) -> Question | None:
    """The newest question on this experiment kind (to show its tally beside the curves once revealed)."""
    qc = t.class_questions.c
    row = room.q(lambda c: c.execute(sa.select(t.class_questions).where(
        (qc.class_id == class_id) & (qc.experiment == experiment)).order_by(qc.opened.desc()).limit(1)).first())
    return question_from_row(row) if row is not None else None


# ----------------------------------------------------------------------------- a lesson's prediction
def lesson_question_id(class_id: str, lesson_key: str) -> str:
    """The id of a class's implicit question for one lesson's prediction (the same on every server and reload)."""
    return "L" + hashlib.sha256(f"{class_id}:{lesson_key}".encode()).hexdigest()[:31]


def lesson_question(room: Classroom, class_id: str, lesson: Lesson) -> Question:
    """The class's implicit question for a lesson's prediction (an explorer.classroom.lessons.Lesson), made on first
    use: one per class and lesson. Its kind, "lesson:<key>", gates no curves and it is not among class_questions."""
    qid, qc = lesson_question_id(class_id, lesson.key), t.class_questions.c

    def write(conn: sa.Connection) -> None:
        if conn.execute(sa.select(qc.id).where(qc.id == qid)).first() is None:
            conn.execute(t.class_questions.insert().values(
                id=qid, class_id=class_id, experiment=(LESSON_PREFIX + lesson.key)[:32], prompt=lesson.predict[:400],
                choices=json.dumps(list(lesson.choices)), opened=time.time()))
    with contextlib.suppress(sa.exc.IntegrityError):  # another session made it at the same moment
        room.tx(write)
    row = room.q(lambda c: c.execute(sa.select(t.class_questions).where(qc.id == qid)).one())
    return question_from_row(row)


def lesson_tallies(room: Classroom, class_id: str, lessons: Iterable[Lesson]) -> dict[str, Tally]:
    """{lesson key: Tally} of the class's predictions for each lesson (members only, each once): two queries,
    whatever the number of students or lessons."""
    qc, a, m = t.class_questions.c, t.class_answers.c, t.class_members.c

    def read(conn: sa.Connection) -> tuple[list[Row], int]:
        rows = conn.execute(sa.select(qc.experiment, a.answer, sa.func.count()).select_from(
            t.class_questions.join(t.class_answers, a.question_id == qc.id).join(
                t.class_members, (m.owner == a.owner) & (m.class_id == qc.class_id)))
            .where((qc.class_id == class_id) & qc.experiment.startswith(LESSON_PREFIX))
            .group_by(qc.experiment, a.answer)).all()
        members = conn.execute(sa.select(sa.func.count()).where(m.class_id == class_id)).scalar_one()
        return list(rows), int(members)
    rows, members = room.q(read)
    found: dict[str, dict[str, int]] = {}
    for kind, said, n in rows:
        found.setdefault(kind[len(LESSON_PREFIX):], {})[said] = int(n)
    out: dict[str, Tally] = {}
    for lesson in lessons:
        counts = found.get(lesson.key, {})
        out[lesson.key] = Tally(counts=tuple((c, counts.get(c, 0)) for c in lesson.choices),
                                answered=sum(counts.get(c, 0) for c in lesson.choices), members=members)
    return out

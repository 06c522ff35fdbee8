"""A debrief to keep: what the class predicted, what its runs showed, its lessons, gathered once at the end.

`gather` reads the class's records (a fixed number of queries, plus two per question for its tally) into a
`Debrief`; explorer.figures.debrief turns it into one self-contained HTML page, and `csv_text` into a CSV of every
student's predictions and outcomes. Students appear only under their pseudonyms (explorer.classroom.pseudonyms):
the file leaves the app, so no display name and no owner id goes into it. Every cell of the CSV that a spreadsheet
would read as a formula (= + - @, a tab or a carriage return first) is neutralised with a leading apostrophe.
Size budget: ~200 lines.
"""
from __future__ import annotations

import csv
import io
import json
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from ..i18n import _
from ..store import db
from ..training.experiments import like_with_like
from . import tables as t
from .authoring import class_lessons, gate_id
from .lessons import LESSONS
from .pseudonyms import pseudonyms
from .questions import GATED_KINDS, LESSON_PREFIX, question_from_row, tally
from .records import ClassError, ClassInfo, Question, Tally

if TYPE_CHECKING:
    from .classes import Classroom

# The spec kind of each built-in lesson's one experiment (its prediction is answered by runs of that kind).
LESSON_KINDS = {"degradation": "sweep", "fix": "twin", "shortcuts": "compare", "placement": "compare", "why": "twin"}
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Asked:
    """One question the class was asked, with its tally and each member's answer (by owner)."""

    question: Question
    where: str  # where it was asked: "on the Class page", "in lesson 1. The ...", "in your lesson <title>"
    kind: str | None  # the experiment kind whose runs answer it (sweep, twin, compare), None when none does
    tally: Tally
    answers: dict[str, str] = field(default_factory=dict)  # owner -> answer, members only


@dataclass(frozen=True)
class Outcome:
    """The class's finished runs of one experiment kind, one pool (the largest: same dataset, recipe and nets)."""

    kind: str
    pool: str  # the pool's label
    dataset: str
    epochs: int | None  # the recipe's epochs: a run that reached them finished
    curves: dict[str, list[list[dict[str, Any]]]]  # {run name: [[epoch record, ...] per student run]}
    others: int = 0  # finished experiments of that kind left out (another dataset or recipe)


@dataclass(frozen=True)
class Debrief:
    """Everything the debrief shows, read at one moment."""

    info: ClassInfo
    made: float
    names: dict[str, str]  # owner -> pseudonym, every member
    asked: tuple[Asked, ...]
    outcomes: dict[str, Outcome]  # kind -> the class's runs of that kind
    finals: dict[str, dict[str, tuple[tuple[str, float | None, float | None], ...]]]  # owner -> kind -> runs
    lessons: tuple[tuple[str, str], ...]  # (title, what it asks and runs), built-in ones first


def gather(room: Classroom, class_id: str) -> Debrief:
    """The class's debrief as it stands now (ClassError for an unknown class)."""
    info = room.get(class_id)
    if info is None:
        raise ClassError(_("There is no such class any longer."))
    names = pseudonyms(room.members(class_id))
    own = class_lessons(room, class_id)
    asked = tuple(_asked(room, class_id, names, own))
    followed = {a.question.experiment[len(LESSON_PREFIX):] for a in asked
                if a.question.experiment.startswith(LESSON_PREFIX)} | {info.lesson}
    lessons = tuple((x.title, f"{x.predict} {x.experiment}") for x in LESSONS if x.key in followed)
    lessons += tuple((f"{x.title} (your own lesson)", f"{x.prompt} {x.setup.words}.") for x in own)
    return Debrief(info=info, made=time.time(), names=names, asked=asked, outcomes=_outcomes(room, class_id),
                   finals=_finals(room, class_id), lessons=lessons)


def _asked(room: Classroom, class_id: str, names: dict[str, str], own: list) -> list[Asked]:
    """The class's questions, oldest first: every one asked on the Class page or through a teacher-made lesson,
    and each built-in lesson's prediction that someone made."""
    qc, a = t.class_questions.c, t.class_answers.c
    rows = room.q(lambda c: c.execute(sa.select(t.class_questions).where(qc.class_id == class_id)
                                      .order_by(qc.opened)).all())
    said = room.q(lambda c: c.execute(sa.select(a.question_id, a.owner, a.answer).join(
        t.class_questions, qc.id == a.question_id).where(qc.class_id == class_id)).all())
    answers: dict[str, dict[str, str]] = {}
    for qid, owner, answer in said:
        if owner in names:  # members only, as the tallies count
            answers.setdefault(qid, {})[owner] = answer
    titles = {x.key: x.title for x in LESSONS}
    own_titles = {gate_id(class_id, x.id): x.title for x in own}
    out = []
    for row in rows:
        q = question_from_row(row)
        if q.experiment.startswith(LESSON_PREFIX):
            key = q.experiment[len(LESSON_PREFIX):]
            if not answers.get(q.id):
                continue
            where = _("in lesson {title}").format(title=_(titles[key]) if key in titles else key)
            kind = LESSON_KINDS.get(key)
        else:
            where = (_("in your lesson “{title}”").format(title=own_titles[q.id]) if q.id in own_titles else
                     _("in a lesson of yours since deleted") if q.id.startswith("T") else _("on the Class page"))
            kind = q.experiment if q.experiment in GATED_KINDS else None
        out.append(Asked(q, where, kind, tally(room, q), answers.get(q.id, {})))
    return out


def _outcomes(room: Classroom, class_id: str) -> dict[str, Outcome]:
    out = {}
    for kind in GATED_KINDS:
        pools = like_with_like(room.experiment_specs(room.finished_jobs(class_id, kind)))
        if pools:
            curves = room.epoch_curves(class_id, kind, ids=pools[0].ids)
            out[kind] = Outcome(kind, pools[0].label, pools[0].dataset, pools[0].epochs, curves,
                                sum(len(g.ids) for g in pools[1:]))
    return out


def _finals(room: Classroom, class_id: str) -> dict[str, dict[str, tuple[tuple[str, float | None, float | None],
                                                                        ...]]]:
    """owner -> kind -> each run's (name, final training error, final test error) of their newest finished job of
    that kind in the class (one query)."""
    j, e, r = t.class_jobs.c, db.experiments.c, db.runs.c
    rows = room.q(lambda c: c.execute(
        sa.select(j.owner, e.spec_kind, j.exp_id, r.name, r.final).join(db.experiments, e.id == j.exp_id)
        .join(db.runs, r.exp_id == j.exp_id).where((j.class_id == class_id) & (e.status == "completed"))
        .order_by(j.created, j.exp_id, r.position)).all())
    newest: dict[tuple[str, str], str] = {}
    runs: dict[str, list[tuple[str, float | None, float | None]]] = {}
    for owner, kind, exp_id, name, final in rows:
        newest[(owner, kind)] = exp_id
        values = _json_dict(final)
        runs.setdefault(exp_id, []).append((name, _num(values.get("train_error")), _num(values.get("test_error"))))
    out: dict[str, dict[str, tuple[tuple[str, float | None, float | None], ...]]] = {}
    for (owner, kind), exp_id in newest.items():
        out.setdefault(owner, {})[kind] = tuple(runs[exp_id])
    return out


def _json_dict(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else None
    except (TypeError, ValueError):
        value = None
    return value if isinstance(value, dict) else {}


def _num(x: object) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


# ----------------------------------------------------------------------------- the CSV
CSV_COLUMNS = ("student", "question", "asked", "prediction", "experiment", "their runs' final training error",
               "their runs' final test error")


def safe_cell(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: one that starts like a formula (= + - @, tab, carriage return) gets
    a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _errors(runs: tuple[tuple[str, float | None, float | None], ...], i: int) -> str:
    return "; ".join(f"{run[0]} {run[i]:.1%}" for run in runs if run[i] is not None)


def csv_text(debrief: Debrief) -> str:
    """One row per student and question (students by pseudonym, in joining order): their prediction, and the final
    errors of their own newest finished run of the kind that answers it."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for owner, name in debrief.names.items():  # joining order (pseudonyms)
        for asked in debrief.asked:
            runs = debrief.finals.get(owner, {}).get(asked.kind or "", ())
            writer.writerow([safe_cell(v) for v in (name, asked.question.prompt, asked.where,
                                                    asked.answers.get(owner, ""), asked.kind or "",
                                                    _errors(runs, 1), _errors(runs, 2))])
    return out.getvalue()

"""Needs attention: the teacher's roster flags a student, each flag with the rule it follows written out, so the
teacher can read why. The rules and their thresholds live here; pages only draw.

    diverged      a run of the student's newest job diverged (its loss became NaN or infinite)
    failed        the newest job failed or was interrupted (its own sentence says why)
    waiting       the newest job has waited in the queue longer than WAIT_S (why: the class is paused, or the jobs
                  ahead of it and how many the server runs at once)
    idle          joined, and no job queued or running, nothing started or finished for IDLE_S
    contradicted  the newest finished job contradicts the student's own prediction (a lesson's or a class question
                  whose choices name the job's runs and whose prompt says higher or lower error)

Read in one snapshot of four statements, whatever the class's size (docs/benchmarks.md, "Classroom").
Size budget: ~200 lines.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..i18n import N_, _, ngettext, pct
from ..store import db
from . import tables as t
from .questions import LESSON_PREFIX

if TYPE_CHECKING:
    from .classes import Classroom
    from .records import RosterRow

WAIT_S = 60.0  # a queued job waiting longer than this is flagged
IDLE_S = 300.0  # a student with nothing queued or running, and no start or end for this long, is idle
SAME_WITHIN = 0.02  # errors within 2 points count as "about the same" (a prediction is judged beyond it only)
KINDS = ("diverged", "failed", "waiting", "contradicted", "idle")  # most urgent first: the roster sorts by it
LABELS = {"diverged": N_("diverged"), "failed": N_("failed"), "waiting": N_("waiting"),
          "contradicted": N_("contradicted"), "idle": N_("idle")}  # each kind in a word, as the roster shows it
_RULE_TEXT = {  # each rule in words, translated where shown (`rule_words`); its numbers from the constants above
    "diverged": N_("a run of the newest job diverged (its loss became NaN or infinite)"),
    "failed": N_("the newest job failed or was interrupted"),
    "waiting": N_("the newest job has waited in the queue more than {seconds} s"),
    "contradicted": N_("the newest finished job contradicts the student's own prediction by more than {points} "
                       "points"),
    "idle": N_("nothing queued or running, and nothing started or finished for {minutes} min"),
}
_RULE_NUMBERS = {"seconds": f"{WAIT_S:.0f}", "points": f"{SAME_WITHIN * 100:.0f}", "minutes": f"{IDLE_S / 60:.0f}"}


def rule_words(kind: str) -> str:
    """The rule of a kind of flag in words, in the reader's language."""
    return _(_RULE_TEXT[kind]).format(**_RULE_NUMBERS)


def label(kind: str) -> str:
    """A kind of flag in a word, in the reader's language ("diverged")."""
    return _(LABELS[kind])


RULES = {kind: text.format(**_RULE_NUMBERS) for kind, text in _RULE_TEXT.items()}  # in English
# A lesson's prediction, judged on training error: which run ends with the higher (or lower) error.
LESSON_OUTCOMES = {"degradation": ("train_error", "higher"), "fix": ("train_error", "lower")}
ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class Flag:
    """One reason a student needs attention: its kind (KINDS) and one sentence with the rule and their case."""

    kind: str
    text: str


@dataclass(frozen=True)
class QueueView:
    """The server's queue as the job manager sees it: queued job ids (first to run first) and jobs at once."""

    queued: tuple[str, ...] = ()
    slots: int = 1
    paused: bool = False  # this class is paused (its jobs are held)


@dataclass(frozen=True)
class _Facts:
    joined: dict = field(default_factory=dict)  # owner -> joined
    jobs: dict = field(default_factory=dict)  # exp id -> (status, created, started, finished, message)
    diverged: dict = field(default_factory=dict)  # exp id -> [run names]
    answers: dict = field(default_factory=dict)  # owner -> [(question kind, prompt, choices, answer)]


def _read(room: Classroom, class_id: str, exp_ids: list[str]) -> _Facts:
    """Everything the rules read beyond the roster: four statements on one read connection."""
    m, e, r = t.class_members.c, db.experiments.c, db.runs.c
    a, q = t.class_answers.c, t.class_questions.c

    def read(conn: sa.Connection) -> _Facts:
        joined = dict(conn.execute(sa.select(m.owner, m.joined).where(m.class_id == class_id)).all())
        jobs: dict[str, tuple] = {}
        diverged: dict[str, list[str]] = {}
        if exp_ids:
            for row in conn.execute(sa.select(e.id, e.status, e.created, e.started, e.finished, e.message)
                                    .where(e.id.in_(exp_ids))):
                jobs[row[0]] = tuple(row[1:])
            for exp_id, name in conn.execute(sa.select(r.exp_id, r.name).where(
                    r.exp_id.in_(exp_ids) & (r.status == "diverged")).order_by(r.exp_id, r.position)):
                diverged.setdefault(exp_id, []).append(name)
        answers: dict[str, list] = {}
        for owner, said, kind, prompt, choices in conn.execute(
                sa.select(a.owner, a.answer, q.experiment, q.prompt, q.choices)
                .join(t.class_questions, q.id == a.question_id).where(q.class_id == class_id)
                .order_by(q.opened)):
            answers.setdefault(owner, []).append((kind, prompt, _choices(choices), said))
        return _Facts(joined, jobs, diverged, answers)
    return room.q(read)


def _choices(text: str | None) -> tuple[str, ...]:
    try:
        return tuple(str(c) for c in json.loads(text or "[]"))
    except (TypeError, ValueError):
        return ()


def attention(room: Classroom, class_id: str, rows: Sequence[RosterRow], queue: QueueView,
              now: float | None = None) -> dict[str, tuple[Flag, ...]]:
    """{owner: flags, most urgent first} for the roster's rows (explorer.classroom.Classroom.roster).

    Args:
        queue: the server's queue now (the job manager's queue() and slots()), for why a job waits.
        now: the time the rules compare with (time.time() when None).
    """
    now = time.time() if now is None else now
    facts = _read(room, class_id, [row.exp_id for row in rows if row.exp_id])
    out: dict[str, tuple[Flag, ...]] = {}
    for row in rows:
        flags = _flags(row, facts, queue, now)
        if flags:
            out[row.owner] = tuple(sorted(flags, key=lambda f: KINDS.index(f.kind)))
    return out


def _flags(row: RosterRow, facts: _Facts, queue: QueueView, now: float) -> list[Flag]:
    job = facts.jobs.get(row.exp_id or "")
    flags = []
    if job is None:
        since = facts.joined.get(row.owner, now)
        if now - since > IDLE_S:
            flags.append(Flag("idle", _("Idle: joined {ago} ago and started no job ({rule}).").format(
                ago=_ago(now - since), rule=rule_words("idle"))))
        return flags
    status, created, started, finished, message = job
    if row.exp_id in facts.diverged:
        names = ", ".join(facts.diverged[row.exp_id])
        flags.append(Flag("diverged", _("Diverged: {runs} ({rule}).").format(runs=names, rule=rule_words("diverged"))))
    if status in ("failed", "interrupted"):
        why = (message or _("no reason was recorded.")).rstrip(".").rstrip("。")
        text = _("Failed: {why} ({rule}).") if status == "failed" else _("Interrupted: {why} ({rule}).")
        flags.append(Flag("failed", text.format(why=why, rule=rule_words("failed"))))
    if status == "queued" and now - created > WAIT_S:
        flags.append(Flag("waiting", _("Waiting {ago}: {why} ({rule}).").format(
            ago=_ago(now - created), why=_why_waiting(row.exp_id or "", queue), rule=rule_words("waiting"))))
    last = max(x for x in (facts.joined.get(row.owner, 0.0), created, started or 0.0, finished or 0.0))
    if status not in ACTIVE and now - last > IDLE_S:
        flags.append(Flag("idle", _("Idle: nothing for {ago} ({rule}).").format(ago=_ago(now - last),
                                                                               rule=rule_words("idle"))))
    if status == "completed":
        flags += _contradictions(row, facts.answers.get(row.owner, ()))
    return flags


def _why_waiting(exp_id: str, queue: QueueView) -> str:
    if queue.paused:
        return _("the class is paused, so its jobs are held until you go on")
    ahead = queue.queued.index(exp_id) if exp_id in queue.queued else 0
    return ngettext("queued behind {n} job, and the server runs {slots} at once",
                    "queued behind {n} jobs, and the server runs {slots} at once", ahead).format(
        n=ahead, slots=queue.slots)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return _("{seconds} s").format(seconds=f"{seconds:.0f}")
    return _("{minutes} min").format(minutes=f"{seconds / 60:.0f}")


# What a question's prompt asks, in each language the app ships (a teacher asks in the class's language): the
# words for a higher or a lower error, and for the test set (else it is the training error).
PROMPT_WORDS = {"higher": ("higher", "mayor", "más alto", "más alta", "更高", "较高", "最高"),
                "lower": ("lower", "menor", "más bajo", "más baja", "更低", "较低", "最低"),
                "test": ("test", "prueba", "测试")}


def _outcome(kind: str, prompt: str) -> tuple[str, str] | None:
    """(error measured, "higher" or "lower") that a question asks about, or None when no rule can judge it."""
    if kind.startswith(LESSON_PREFIX):
        return LESSON_OUTCOMES.get(kind[len(LESSON_PREFIX):])
    words = prompt.lower()
    says = {key: any(w in words for w in found) for key, found in PROMPT_WORDS.items()}
    direction = "higher" if says["higher"] else "lower" if says["lower"] else None
    if direction is None:
        return None
    return ("test_error" if says["test"] else "train_error"), direction


def _contradicts(direction: str, metric: str) -> str:
    return {
        ("higher", "train_error"): _("Contradicts their prediction: they said {said} for the higher training error; "
                                     "their run ended {ended} ({rule})."),
        ("lower", "train_error"): _("Contradicts their prediction: they said {said} for the lower training error; "
                                    "their run ended {ended} ({rule})."),
        ("higher", "test_error"): _("Contradicts their prediction: they said {said} for the higher test error; "
                                    "their run ended {ended} ({rule})."),
        ("lower", "test_error"): _("Contradicts their prediction: they said {said} for the lower test error; "
                                   "their run ended {ended} ({rule})."),
    }[(direction, metric)]


def _contradictions(row: RosterRow, answers: Sequence[tuple]) -> list[Flag]:
    """Predictions that the student's newest finished job contradicts, judged on its runs' final errors."""
    finals = {name.lower(): (train, test) for name, train, test in row.finals}
    out = []
    for kind, prompt, choices, said in answers:
        rule = _outcome(kind, prompt)
        named = [c for c in choices if c.lower() in finals]
        if rule is None or len(named) < 2:
            continue
        metric, direction = rule
        errors = {c: finals[c.lower()][0 if metric == "train_error" else 1] for c in named}
        if any(v is None for v in errors.values()):
            continue
        best = (max if direction == "higher" else min)(errors, key=lambda c: errors[c])
        spread = max(errors.values()) - min(errors.values())
        if said in errors:
            wrong = said != best and abs(errors[best] - errors[said]) > SAME_WITHIN
        else:  # "about the same"
            wrong = spread > SAME_WITHIN
        if wrong:
            ended = ", ".join(f"{c} {pct(v * 100)}" for c, v in errors.items())
            flags_text = _contradicts(direction, metric).format(said=_(str(said)) if said else "", ended=ended,
                                                                  rule=rule_words("contradicted"))
            out.append(Flag("contradicted", flags_text))
    return out

"""Predict, then observe, on every view: which experiments' outcomes a viewer may not see yet.

An open class question on an experiment kind (sweep for Figure 6, twin, compare) hides the outcome of experiments of
that kind until the teacher reveals it: their final errors, curves, metrics CSV, weights, Inspect, Why it works,
Explain and the take-home script. The rule, decided here once and asked by every page:

- The teacher (explorer.access.policy's Action.SKIP_PREDICTION) always sees.
- A question counts while its class is open and it is not revealed; a closed class gates nothing (its members are no
  longer in it, as explorer.classroom.Classroom.membership says).
- It hides an experiment of its kind from a viewer who has not answered it when the viewer is a member of its class
  (whoever started the experiment: a classmate's run, an old one or the shipped twin would give the answer away), or
  when the experiment's owner is a member (so a student who left the class, or anyone else on the server, does not
  see the class's results before the teacher reveals them either; they cannot answer, so they wait for the reveal).
- A student who has answered sees every experiment of that kind, classmates' included, before the reveal: the same as
  the Train page, which shows the curves as soon as the student answered. Their prediction is in and the answer form
  is not offered again, so looking cannot change it; the reveal adds the class's tally.

Two queries per page run (`viewer_gating`); each experiment is then a lookup (`Gating.gate`).
Size budget: ~120 lines.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..access.policy import POLICY, Action, Actor, Policy
from ..i18n import N_, _
from . import tables as t
from .questions import GATED_KINDS, question_from_row
from .records import Question

if TYPE_CHECKING:
    from .classes import Classroom

KIND_WORDS = {"sweep": N_("depth-sweep (Figure 6)"), "twin": N_("twin"), "compare": N_("comparison")}


@dataclass(frozen=True)
class Gate:
    """One open question that hides experiments of its kind from this viewer.

    answerable: the viewer is in the question's class, so answering it shows the results (else only the reveal does).
    owners: the class's members (whose experiments it hides from a viewer outside the class); empty when answerable,
    since then it hides every experiment of its kind.
    """

    question: Question
    answerable: bool
    owners: frozenset[str] = frozenset()

    @property
    def title(self) -> str:
        """The words in bold before the sentence."""
        return _("Predict first.") if self.answerable else _("Hidden for now.")

    @property
    def short(self) -> str:
        """What a table shows instead of a hidden number."""
        return _("hidden until you predict") if self.answerable else _("hidden until the reveal")

    @property
    def sentence(self) -> str:
        """Why the results are hidden and what to do, in one sentence."""
        kind = _(KIND_WORDS[self.question.experiment]) if self.question.experiment in KIND_WORDS \
            else self.question.experiment
        if self.answerable:
            return _("Your teacher asked your class a question about {kind} experiments, so their results stay "
                     "hidden until you answer it here (or the teacher reveals the answers).").format(kind=kind)
        return _("A class is predicting how {kind} experiments end, so their results are shown once its teacher "
                 "reveals the answers.").format(kind=kind)

    def hides(self, kind: str, owner: str | None) -> bool:
        """True for an experiment of this spec kind started by `owner` (None: nobody's) that this gate hides."""
        return kind == self.question.experiment and (self.answerable or (owner is not None and owner in self.owners))


@dataclass(frozen=True)
class Gating:
    """One viewer's open gates, read once per page run; asking about an experiment is then a lookup."""

    gates: tuple[Gate, ...] = ()

    def gate(self, kind: str, owner: str | None) -> Gate | None:
        """The gate hiding an experiment of this spec kind started by `owner`, or None when the viewer may see it.
        A question the viewer can answer comes first (its sentence says what to do), newest first."""
        return next((g for g in self.gates if g.hides(kind, owner)), None)

    def pending(self, kind: str) -> Question | None:
        """The newest open question on this kind the viewer can answer (the one the answer form asks)."""
        return next((g.question for g in self.gates if g.answerable and g.question.experiment == kind), None)

    def hidden_ids(self, experiments: list) -> set[str]:
        """Ids of those store.records.Experiment records whose outcome this viewer may not see yet."""
        return {e.id for e in experiments if self.gate(e.spec_kind, e.owner) is not None}


def viewer_gating(room: Classroom, viewer: Actor, policy: Policy = POLICY) -> Gating:
    """The open questions that hide results from `viewer` (two queries; none for a teacher; a class's TA and
    co-teachers see past its own questions).

    Returns:
        Gating with the gates the viewer can answer first, each group newest first.
    """
    if policy.allows(viewer, Action.SKIP_PREDICTION):
        return Gating()
    qc, k, a, m = t.class_questions.c, t.classes.c, t.class_answers.c, t.class_members.c
    owner = viewer.owner or ""
    answered = sa.exists().where((a.question_id == qc.id) & (a.owner == owner))
    member = sa.exists().where((m.class_id == qc.class_id) & (m.owner == owner))

    def read(conn: sa.Connection) -> tuple[list, dict[str, set[str]]]:
        rows = conn.execute(sa.select(t.class_questions, member.label("is_member")).join(
            t.classes, k.id == qc.class_id).where(
            k.closed.is_(None) & qc.revealed.is_(None) & qc.experiment.in_(GATED_KINDS) & ~answered)
            .order_by(qc.opened.desc())).all()
        outside = {r._mapping["class_id"] for r in rows if not r._mapping["is_member"]}
        owners: dict[str, set[str]] = {}
        if outside:
            for class_id, who in conn.execute(sa.select(m.class_id, m.owner).where(m.class_id.in_(outside))):
                owners.setdefault(class_id, set()).add(who)
        return list(rows), owners
    rows, owners = room.q(read)
    rows = [r for r in rows if not policy.allows(viewer, Action.SKIP_PREDICTION, class_id=r._mapping["class_id"])]
    gates = [Gate(question_from_row(r), bool(r._mapping["is_member"]),
                  frozenset() if r._mapping["is_member"] else frozenset(owners.get(r._mapping["class_id"], ())))
             for r in rows]
    return Gating(tuple(sorted(gates, key=lambda g: not g.answerable)))  # stable: newest first within each group

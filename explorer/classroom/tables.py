"""The classroom's tables, on the run store's `metadata` (new tables only: the run store's own are untouched).

    classes           id, code (short, unique), name, teacher (owner id), created, closed, lesson
    class_members     class_id + owner (the owner cookie stays the identity), display name, joined
    class_jobs        class_id + exp_id, owner, seed: which experiments were started inside the class
    class_questions   id, class_id, experiment (the spec kind it gates, or "lesson:<key>" for a lesson's prediction,
                      which gates nothing), prompt, choices (JSON), opened, revealed
    class_answers     question_id + owner (so each student counts once), answer, answered
    class_pauses      class_id (one row while the class is paused), paused, stop_running (the teacher's choice for
                      jobs already running); resuming deletes the row (explorer.classroom.pause)

Size budget: ~80 lines.
"""
from __future__ import annotations

import sqlalchemy as sa

from ..store.db import metadata

classes = sa.Table(
    "classes", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("code", sa.String(12), nullable=False, unique=True),
    sa.Column("name", sa.String(80), nullable=False),
    sa.Column("teacher", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("closed", sa.Float),
    sa.Column("lesson", sa.String(40)),  # the lesson the teacher put the class on ("follow me"), or None
)

class_members = sa.Table(
    "class_members", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("joined", sa.Float, nullable=False),
    sa.Index("ix_class_members_owner", "owner", "joined"),
)

class_jobs = sa.Table(
    "class_jobs", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("exp_id", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("seed", sa.Integer),
    sa.Column("created", sa.Float, nullable=False),
    sa.Index("ix_class_jobs_class_created", "class_id", "created"),
)

class_questions = sa.Table(
    "class_questions", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("experiment", sa.String(32), nullable=False),  # the spec kind it gates: sweep (Figure 6), twin, ...
    sa.Column("prompt", sa.String(400), nullable=False),
    sa.Column("choices", sa.Text, nullable=False, default="[]"),  # JSON list; [] for a number answer
    sa.Column("opened", sa.Float, nullable=False),
    sa.Column("revealed", sa.Float),
    sa.Index("ix_class_questions_class_opened", "class_id", "opened"),
)

class_answers = sa.Table(
    "class_answers", metadata,
    sa.Column("question_id", sa.String(32), sa.ForeignKey("class_questions.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("answer", sa.String(80), nullable=False),
    sa.Column("answered", sa.Float, nullable=False),
)

class_pauses = sa.Table(
    "class_pauses", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paused", sa.Float, nullable=False),
    sa.Column("stop_running", sa.Boolean, nullable=False, default=False),
)

TABLES = (classes, class_members, class_jobs, class_questions, class_answers, class_pauses)


def ensure_tables(writer: sa.Engine) -> None:
    """Create the classroom's tables if they are missing (the run store's own tables are left alone)."""
    with writer.begin() as conn:
        metadata.create_all(conn, tables=list(TABLES), checkfirst=True)

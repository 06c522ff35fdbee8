"""The classroom's tables, on the run store's `metadata` (new tables only: the run store's own are untouched).

    classes           id, code (short, unique), name, teacher (owner id), created, closed, lesson
    class_members     class_id + owner (the owner cookie stays the identity), display name, joined
    class_jobs        class_id + exp_id, owner, seed: which experiments were started inside the class
    class_questions   id, class_id, experiment (the spec kind it gates, or "lesson:<key>" for a lesson's prediction,
                      which gates nothing), prompt, choices (JSON), opened, revealed
    class_answers     question_id + owner (so each student counts once), answer, answered
    class_lessons     id, class_id, a teacher-made lesson (explorer.classroom.authoring): title, prompt, choices (JSON),
                      experiment (a key of authoring.EXPERIMENTS), lock and hide (control names), epochs, created
    class_staff       class_id + owner (an owner id, or email_key(e-mail) for someone added by e-mail before they sign
                      in), role (co_teacher, ta), name (the e-mail, or who the invite link was for), added_by, added
    class_invites     token_hash (sha256 of the invite link's token: the token itself is never stored), class_id,
                      role, created_by, created, expires, used, used_by: single-use staff invite links
    lti_courses       an LMS course launched over LTI 1.3 (issuer + deployment + context id) -> its class, the
                      course's title and its roster service (NRPS) URL
    lti_tickets       one-time hand-offs from an LTI launch to a Streamlit session: sha256 of the ticket, who, which
                      class, which role, which lesson, expiry, used
    lti_roster        the course's members as the LMS's roster service (NRPS) listed them, for "not joined yet"
    lti_launch_values the LTI library's short-lived values (nonces, state), shared by every replica; a nonce is
                      taken once (a replayed id_token is refused)
    class_screens     class_id: what the class screen shows (kind, payload JSON), names on or off, a version the
                      screen polls (one primary-key read), updated
    class_snapshots   id, class_id, created, layout (side or overlay), items (JSON: ordered exp id + run id pairs)
    class_pauses      class_id (one row while the class is paused), paused, stop_running (the teacher's choice for
                      jobs already running); resuming deletes the row (explorer.classroom.pause)
    class_languages   class_id: the language the teacher set for the class (explorer.classroom.language); no row is
                      each reader's own language

Size budget: ~140 lines.
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

class_lessons = sa.Table(
    "class_lessons", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("title", sa.String(80), nullable=False),
    sa.Column("prompt", sa.String(400), nullable=False),
    sa.Column("choices", sa.Text, nullable=False, default="[]"),  # JSON list; [] for a number answer
    sa.Column("experiment", sa.String(32), nullable=False),
    sa.Column("lock", sa.String(200), nullable=False, default=""),  # control names, comma-separated
    sa.Column("hide", sa.String(200), nullable=False, default=""),
    sa.Column("epochs", sa.Integer),  # the recipe's length its link sets, or None: the dataset's recipe
    sa.Column("created", sa.Float, nullable=False),
    sa.Index("ix_class_lessons_class_created", "class_id", "created"),
)

class_staff = sa.Table(
    "class_staff", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("name", sa.String(254), nullable=False),
    sa.Column("added_by", sa.String(64)),
    sa.Column("added", sa.Float, nullable=False),
    sa.Index("ix_class_staff_owner", "owner"),
)

class_invites = sa.Table(
    "class_invites", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(64)),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("used", sa.Float),
    sa.Column("used_by", sa.String(64)),
    sa.Index("ix_class_invites_class", "class_id", "created"),
)

# The classes a teacher created, read on every run of a page that asks the policy (explorer.classroom.staff): an index
# on an existing table, created by ensure_tables where it is missing (no column changes).
classes_by_teacher = sa.Index("ix_classes_teacher", classes.c.teacher)

lti_courses = sa.Table(
    "lti_courses", metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # sha256 of (issuer, deployment, context id): the key
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("issuer", sa.String(400), nullable=False),
    sa.Column("deployment", sa.String(255), nullable=False),
    sa.Column("context", sa.String(255), nullable=False),
    sa.Column("client_id", sa.String(255), nullable=False),
    sa.Column("memberships_url", sa.String(1000)),  # the roster service (NRPS) of the newest launch, or None
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("synced", sa.Float),  # the last roster sync
    sa.Index("ix_lti_courses_class", "class_id"),
)

lti_tickets = sa.Table(
    "lti_tickets", metadata,
    sa.Column("digest", sa.String(64), primary_key=True),  # sha256 of the ticket: the ticket itself is never kept
    sa.Column("owner", sa.String(64), nullable=False),
    sa.Column("class_id", sa.String(32), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # "teacher" or "member"
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("lesson", sa.String(40)),
    sa.Column("expires", sa.Float, nullable=False),
    sa.Column("used", sa.Float),
    sa.Index("ix_lti_tickets_expires", "expires"),
)

lti_roster = sa.Table(
    "lti_roster", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("owner", sa.String(64), primary_key=True),  # owner_for(issuer, the LMS's user id)
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # "teacher" or "member"
    sa.Column("synced", sa.Float, nullable=False),
)

lti_launch_values = sa.Table(
    "lti_launch_values", metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),  # JSON
    sa.Column("expires", sa.Float, nullable=False),
    sa.Index("ix_lti_launch_values_expires", "expires"),
)

class_screens = sa.Table(
    "class_screens", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),  # explorer.classroom.screen.KINDS
    sa.Column("payload", sa.Text, nullable=False, default="{}"),  # JSON: the pushed question, snapshot or lesson
    sa.Column("names", sa.Boolean, nullable=False, default=False),  # students' own names instead of pseudonyms
    sa.Column("version", sa.Integer, nullable=False),  # grows on every push: the screen redraws when it changes
    sa.Column("updated", sa.Float, nullable=False),
)

class_snapshots = sa.Table(
    "class_snapshots", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("layout", sa.String(16), nullable=False),  # "side" (one panel each) or "overlay" (one panel)
    sa.Column("items", sa.Text, nullable=False),  # JSON: [[exp id, run id], ...] in the teacher's order
    sa.Index("ix_class_snapshots_class_created", "class_id", "created"),
)

class_pauses = sa.Table(
    "class_pauses", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paused", sa.Float, nullable=False),
    sa.Column("stop_running", sa.Boolean, nullable=False, default=False),
)

class_languages = sa.Table(
    "class_languages", metadata,
    sa.Column("class_id", sa.String(32), sa.ForeignKey("classes.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("language", sa.String(16), nullable=False),  # a code explorer.i18n offers: "es", "zh_Hans"
)


TABLES = (classes, class_members, class_jobs, class_questions, class_answers, class_lessons, class_staff, class_invites,
          lti_courses, lti_tickets, lti_roster, lti_launch_values, class_screens, class_snapshots,
          class_pauses, class_languages)


def ensure_tables(writer: sa.Engine) -> None:
    """Create the classroom's tables if they are missing (the run store's own tables are left alone)."""
    with writer.begin() as conn:
        metadata.create_all(conn, tables=list(TABLES), checkfirst=True)
        classes_by_teacher.create(conn, checkfirst=True)
